/**
 * Evidence of a recovery action: the process tree (ppid links) with each process's RSS, state,
 * command line and start time; the cgroup's stats (memory.stat excerpt, usage/limit, pids, PSI
 * totals, cpu); the node's memory; the sample window that triggered the rule.
 *
 * Capture is fast and bounded: synchronous reads of /proc and cgroup files, at most
 * `maxProcesses` processes, no child process. The caller snapshots before the kill and writes
 * the record (JSON, `writeEvidence`: temp file + fsync + rename) AFTER the kill, so the evidence
 * never delays it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JobTree } from './job-tree.ts';
import type { Finding, PsiTotals, Sample } from './model.ts';
import { readKeyed, readNumber, readText } from '../lib/kernel-files.ts';

export interface ProcessEvidence {
  pid: number;
  ppid: number;
  uid: number | null;
  comm: string;
  /** R, S, D, T, Z… (/proc/<pid>/stat field 3). */
  state: string;
  rssBytes: number;
  threads: number;
  /** Arguments joined by spaces, cut at `maxCmdlineBytes`; '' for kernel threads. */
  cmdline: string;
  /** Field 22 of /proc/<pid>/stat, clock ticks after boot. */
  startTicks: number;
  /** Wall-clock start time (btime + startTicks / ticks per second); null when btime is unknown. */
  startedAt: string | null;
}

export interface PsiEvidence extends PsiTotals {
  someAvg10: number;
  fullAvg10: number | null;
}

export interface CgroupEvidence {
  jobId: number;
  dirs: string[];
  memory: {
    usageBytes: number | null;
    limitBytes: number | null;
    peakBytes: number | null;
    /** v1 memory.failcnt / v2 memory.events max. */
    limitHits: number | null;
    oomKills: number | null;
    /** Selected memory.stat lines (v1: the hierarchical total_* ones). */
    stat: Record<string, number>;
  };
  pids: { current: number | null; max: number | null; eventsMax: number | null };
  psi: { memory: PsiEvidence | null; io: PsiEvidence | null; cpu: PsiEvidence | null };
  cpu: { usageUsec: number | null; quotaCpus: number | null; throttledPeriods: number | null; throttledUsec: number | null };
  frozen: boolean | null;
}

export type EvidenceTarget = { kind: 'job'; jobId: number; user?: string | null } | { kind: 'process'; pid: number; user?: string | null };

export interface EvidenceRecord {
  version: 1;
  /** Wall clock of the capture (the caller's clock, ISO). */
  capturedAt: string;
  /** How long the capture took, ms (monotonic). */
  captureMs: number;
  target: EvidenceTarget;
  finding: Finding | null;
  /** The one-line victim explanation, when a victim was chosen. */
  explanation: string | null;
  /** Processes, roots first then children (breadth-first by ppid); at most maxProcesses. */
  processes: ProcessEvidence[];
  /** Processes found in the cgroup (or the tree), including those left out. */
  processesTotal: number;
  truncated: boolean;
  cgroup: CgroupEvidence | null;
  node: { memTotalBytes: number | null; memAvailableBytes: number | null; loadavg: string | null };
  /** The sample window that triggered the rule, as passed in. */
  window: Sample[];
  /** What was done and how long it took; the caller fills it in after the action. */
  action: Record<string, unknown> | null;
}

export interface CaptureOptions {
  /** Wall clock (ms since the epoch) of the capture. */
  nowMs: number;
  window?: Sample[];
  finding?: Finding | null;
  explanation?: string | null;
  /** Default 200. */
  maxProcesses?: number;
  /** Default 1024. */
  maxCmdlineBytes?: number;
  /** Default 4096. */
  pageSize?: number;
  /** sysconf(_SC_CLK_TCK); default 100. */
  ticksPerSecond?: number;
  /** Default '/proc'. */
  procRoot?: string;
}

// ------------------------------------------------------------------------------ small reads

const cmdBuffer = Buffer.alloc(64 * 1024);


function readBounded(file: string, max: number): string | null {
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, 'r');
    const n = fs.readSync(fd, cmdBuffer, 0, Math.min(max, cmdBuffer.length), 0);
    return cmdBuffer.toString('utf8', 0, n);
  } catch {
    return null;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

let bootTimeMs: number | null | undefined;
function btimeMs(procRoot: string): number | null {
  if (bootTimeMs === undefined) {
    const m = /^btime (\d+)/m.exec(readText(path.join(procRoot, 'stat'), 'latin1') ?? '');
    bootTimeMs = m ? Number(m[1]) * 1000 : null;
  }
  return bootTimeMs;
}

/** Parses /proc/<pid>/stat text (the comm may hold spaces and parentheses). */
export function parseStat(text: string): { comm: string; state: string; ppid: number; threads: number; startTicks: number; rssPages: number } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field n is f[n - 3]
  return {
    comm: text.slice(open + 1, close),
    state: f[0] ?? '?',
    ppid: Number(f[1]),
    threads: Number(f[17]),
    startTicks: Number(f[19]),
    rssPages: Number(f[21]),
  };
}

function processEvidence(pid: number, o: Required<Omit<CaptureOptions, 'window' | 'finding' | 'explanation' | 'nowMs'>>): ProcessEvidence | null {
  const dir = path.join(o.procRoot, String(pid));
  const stat = readText(path.join(dir, 'stat'), 'latin1');
  const parsed = stat ? parseStat(stat) : null;
  if (!parsed) return null;
  let uid: number | null = null;
  try {
    uid = fs.statSync(dir).uid;
  } catch {
    // gone meanwhile
  }
  const raw = readBounded(path.join(dir, 'cmdline'), o.maxCmdlineBytes) ?? '';
  const boot = btimeMs(o.procRoot);
  return {
    pid,
    ppid: parsed.ppid,
    uid,
    comm: parsed.comm,
    state: parsed.state,
    rssBytes: parsed.rssPages * o.pageSize,
    threads: parsed.threads,
    cmdline: raw.replace(/\0+$/, '').replace(/\0/g, ' '),
    startTicks: parsed.startTicks,
    startedAt: boot === null ? null : new Date(boot + (parsed.startTicks / o.ticksPerSecond) * 1000).toISOString(),
  };
}

/** Children of a process (/proc/<pid>/task/<tid>/children, every thread); [] where the kernel lacks it. */
function childrenOf(pid: number, procRoot: string): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = fs.readdirSync(path.join(procRoot, String(pid), 'task'));
  } catch {
    return out;
  }
  for (const tid of tids) {
    const text = readText(path.join(procRoot, String(pid), 'task', tid, 'children'));
    for (const c of (text ?? '').trim().split(' ')) if (c !== '') out.push(Number(c));
  }
  return out;
}

/** Orders processes breadth-first from the roots (processes whose parent is not in the set). */
function treeOrder(processes: ProcessEvidence[]): ProcessEvidence[] {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  const children = new Map<number, ProcessEvidence[]>();
  const roots: ProcessEvidence[] = [];
  for (const p of processes) {
    if (byPid.has(p.ppid) && p.ppid !== p.pid) {
      const list = children.get(p.ppid) ?? [];
      list.push(p);
      children.set(p.ppid, list);
    } else roots.push(p);
  }
  const out: ProcessEvidence[] = [];
  const queue = roots.sort((a, b) => a.pid - b.pid);
  const seen = new Set<number>();
  while (queue.length) {
    const p = queue.shift()!;
    if (seen.has(p.pid)) continue;
    seen.add(p.pid);
    out.push(p);
    queue.push(...(children.get(p.pid) ?? []).sort((a, b) => a.pid - b.pid));
  }
  return out;
}

// ------------------------------------------------------------------------------ cgroup stats

const MEMORY_STAT_KEYS_V1 = [
  'total_rss', 'total_cache', 'total_shmem', 'total_mapped_file', 'total_rss_huge', 'total_active_anon', 'total_inactive_anon', 'total_active_file',
  'total_inactive_file', 'total_pgmajfault', 'total_workingset_refault_file', 'total_workingset_refault_anon', 'total_workingset_activate_file', 'total_dirty', 'total_writeback',
];
const MEMORY_STAT_KEYS_V2 = [
  'anon', 'file', 'shmem', 'file_mapped', 'kernel', 'sock', 'active_anon', 'inactive_anon', 'active_file', 'inactive_file', 'pgmajfault',
  'workingset_refault_file', 'workingset_refault_anon', 'workingset_activate_file', 'file_dirty', 'file_writeback',
];

/** Parses a PSI file (`some avg10=… total=…` / `full …`). */
export function parsePsi(text: string | null): PsiEvidence | null {
  if (!text) return null;
  const line = (kind: string) => new RegExp(`^${kind} avg10=([\\d.]+) avg60=[\\d.]+ avg300=[\\d.]+ total=(\\d+)`, 'm').exec(text);
  const some = line('some');
  if (!some) return null;
  const full = line('full');
  return { someUs: Number(some[2]), fullUs: full ? Number(full[2]) : null, someAvg10: Number(some[1]), fullAvg10: full ? Number(full[1]) : null };
}

function cgroupEvidence(tree: JobTree, jobId: number): CgroupEvidence {
  const d = tree.jobDirs(jobId);
  const memDir = d.memory ? d.dir(d.memory) : null;
  const v2Dir = d.v2 ? d.dir(d.v2) : null;
  const pidsDir = d.pids ? d.dir(d.pids) : null;
  const cpuDir = d.cpu ? d.dir(d.cpu) : null;
  const memory: CgroupEvidence['memory'] = { usageBytes: null, limitBytes: null, peakBytes: null, limitHits: null, oomKills: null, stat: {} };
  if (memDir && d.memory) {
    const v2 = d.memory.version === 2;
    memory.usageBytes = readNumber(path.join(memDir, v2 ? 'memory.current' : 'memory.usage_in_bytes'));
    memory.limitBytes = readNumber(path.join(memDir, v2 ? 'memory.max' : 'memory.limit_in_bytes'));
    if (memory.limitBytes !== null && memory.limitBytes >= 2 ** 62) memory.limitBytes = null;
    memory.peakBytes = readNumber(path.join(memDir, v2 ? 'memory.peak' : 'memory.max_usage_in_bytes'));
    if (v2) {
      const events = readKeyed(path.join(memDir, 'memory.events'));
      memory.limitHits = events.get('max') ?? null;
      memory.oomKills = events.get('oom_kill') ?? null;
    } else {
      memory.limitHits = readNumber(path.join(memDir, 'memory.failcnt'));
      memory.oomKills = readKeyed(path.join(memDir, 'memory.oom_control')).get('oom_kill') ?? null;
    }
    const stat = readKeyed(path.join(memDir, 'memory.stat'));
    for (const key of v2 ? MEMORY_STAT_KEYS_V2 : MEMORY_STAT_KEYS_V1) {
      const value = stat.get(key);
      if (value !== undefined) memory.stat[key] = value;
    }
  }
  const pids = {
    current: pidsDir ? readNumber(path.join(pidsDir, 'pids.current')) : null,
    max: pidsDir ? readNumber(path.join(pidsDir, 'pids.max')) : null,
    eventsMax: pidsDir ? (readKeyed(path.join(pidsDir, 'pids.events')).get('max') ?? null) : null,
  };
  const psi = {
    memory: v2Dir ? parsePsi(readText(path.join(v2Dir, 'memory.pressure'))) : null,
    io: v2Dir ? parsePsi(readText(path.join(v2Dir, 'io.pressure'))) : null,
    cpu: v2Dir ? parsePsi(readText(path.join(v2Dir, 'cpu.pressure'))) : null,
  };
  const cpu: CgroupEvidence['cpu'] = { usageUsec: null, quotaCpus: null, throttledPeriods: null, throttledUsec: null };
  const acct = d.cpuacct ? readNumber(path.join(d.dir(d.cpuacct), 'cpuacct.usage')) : null;
  const v2Stat = v2Dir ? readKeyed(path.join(v2Dir, 'cpu.stat')) : new Map<string, number>();
  cpu.usageUsec = acct !== null ? Math.round(acct / 1000) : (v2Stat.get('usage_usec') ?? null);
  if (cpuDir && d.cpu) {
    if (d.cpu.version === 2) {
      const [quota, period] = (readText(path.join(cpuDir, 'cpu.max')) ?? '').trim().split(' ');
      cpu.quotaCpus = quota && quota !== 'max' && period ? Number(quota) / Number(period) : null;
      const s = readKeyed(path.join(cpuDir, 'cpu.stat'));
      cpu.throttledPeriods = s.get('nr_throttled') ?? null;
      cpu.throttledUsec = s.get('throttled_usec') ?? null;
    } else {
      const quota = readNumber(path.join(cpuDir, 'cpu.cfs_quota_us'));
      const period = readNumber(path.join(cpuDir, 'cpu.cfs_period_us'));
      cpu.quotaCpus = quota !== null && quota > 0 && period ? quota / period : null;
      const s = readKeyed(path.join(cpuDir, 'cpu.stat'));
      cpu.throttledPeriods = s.get('nr_throttled') ?? null;
      const ns = s.get('throttled_time');
      cpu.throttledUsec = ns === undefined ? null : Math.round(ns / 1000);
    }
  }
  let frozen: boolean | null = null;
  if (v2Dir) {
    const f = readKeyed(path.join(v2Dir, 'cgroup.events')).get('frozen');
    if (f !== undefined) frozen = f === 1;
  }
  if (d.freezer) {
    const state = readText(path.join(d.dir(d.freezer), 'freezer.state'))?.trim();
    if (state) frozen = (frozen ?? false) || state === 'FROZEN';
  }
  return { jobId, dirs: d.all, memory, pids, psi, cpu, frozen };
}

function nodeEvidence(procRoot: string): EvidenceRecord['node'] {
  const meminfo = readText(path.join(procRoot, 'meminfo')) ?? '';
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(meminfo);
    return m ? Number(m[1]) * 1024 : null;
  };
  return { memTotalBytes: kb('MemTotal'), memAvailableBytes: kb('MemAvailable'), loadavg: readText(path.join(procRoot, 'loadavg'))?.trim() ?? null };
}

// ------------------------------------------------------------------------------ capture

/**
 * Snapshots what is cheap to read about a job (its cgroup's processes and stats; `tree` is the
 * CgroupTree the watchdog opened) or a process (it and its descendants). Synchronous, bounded
 * by `maxProcesses`; forks nothing.
 */
export function captureEvidence(tree: JobTree | null, target: EvidenceTarget, options: CaptureOptions): EvidenceRecord {
  const started = performance.now();
  const o = {
    maxProcesses: options.maxProcesses ?? 200,
    maxCmdlineBytes: options.maxCmdlineBytes ?? 1024,
    pageSize: options.pageSize ?? 4096,
    ticksPerSecond: options.ticksPerSecond ?? 100,
    procRoot: options.procRoot ?? '/proc',
  };
  let pids: number[] = [];
  let total = 0;
  let cgroup: CgroupEvidence | null = null;
  if (target.kind === 'job') {
    if (!tree) throw new Error('evidence of a job needs the cgroup tree');
    const all = tree.job(target.jobId).pids();
    total = all.length;
    pids = all.slice(0, o.maxProcesses);
  } else {
    // the process and its descendants, breadth-first, bounded
    const queue = [target.pid];
    const seen = new Set<number>();
    while (queue.length && pids.length < o.maxProcesses) {
      const pid = queue.shift()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      pids.push(pid);
      queue.push(...childrenOf(pid, o.procRoot));
    }
    total = pids.length + queue.filter((p) => !seen.has(p)).length;
  }
  const processes: ProcessEvidence[] = [];
  for (const pid of pids) {
    const p = processEvidence(pid, o);
    if (p) processes.push(p);
  }
  if (target.kind === 'job' && tree) cgroup = cgroupEvidence(tree, target.jobId);
  const node = nodeEvidence(o.procRoot);
  return {
    version: 1,
    capturedAt: new Date(options.nowMs).toISOString(),
    captureMs: performance.now() - started,
    target,
    finding: options.finding ?? null,
    explanation: options.explanation ?? null,
    processes: treeOrder(processes),
    processesTotal: total,
    truncated: total > pids.length,
    cgroup,
    node,
    window: options.window ?? [],
    action: null,
  };
}

function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]+/g, '-');
}

/**
 * Writes the record as JSON into `dir` atomically (a temp file, fsync, rename, fsync of the
 * directory) and returns its path: `<capturedAt>-job-<id>|pid-<pid>[-<rule>].json`.
 */
export function writeEvidence(dir: string, record: EvidenceRecord): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
  const who = record.target.kind === 'job' ? `job-${record.target.jobId}` : `pid-${record.target.pid}`;
  const name = safeName(`${record.capturedAt.replace(/[:.]/g, '')}-${who}${record.finding ? `-${record.finding.rule}` : ''}`);
  let file = path.join(dir, `${name}.json`);
  for (let i = 1; fs.existsSync(file) && i < 100; i++) file = path.join(dir, `${name}-${i}.json`);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(temp, 'wx', 0o640);
  try {
    fs.writeSync(fd, `${JSON.stringify(record, null, 1)}\n`);
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  fs.renameSync(temp, file);
  try {
    const dirFd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  } catch {
    // a directory fsync is best effort
  }
  return file;
}
