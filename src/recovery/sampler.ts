/**
 * The watchdog's sampler: reads the node and every job cgroup at 10–20 Hz, cheaply.
 *
 * Every file is opened once and re-read with `fs.readSync` at position 0 into a small fixed
 * buffer (recovery notes §5, option A): no open/close per tick, no child process, no
 * directory walk except the periodic re-listing of the parent cgroup that picks up new jobs.
 * A removed cgroup answers ENODEV (or ENOENT): its files are closed and the job dropped.
 *
 * Layouts (through the JobTree — CgroupTree, or SLURM's — which knows where each controller lives):
 * - v1 / hybrid: memory.usage_in_bytes, memory.limit_in_bytes, memory.stat (memory);
 *   pids.current, pids.max, pids.events (pids); cpuacct.usage (cpuacct); and, on the cgroup2
 *   side hierarchy, memory.pressure, io.pressure, cpu.pressure (PSI of v1-charged stalls too).
 * - pure v2: memory.current, memory.max, memory.stat, *.pressure, pids.*, cpu.stat usage_usec.
 *
 * The parsers below are pure (text in, numbers out) and tested on fixtures; the class only
 * does the reads. Limits and the cpu quota change rarely: they are re-read on re-listing ticks.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JobTree, ProcessUsage } from './job-tree.ts';
import type { JobSample, NodeSample, ParentSample, ProcessSample, PsiTotals, Sample } from './model.ts';

// ------------------------------------------------------------------------------- pure parsers

/** The value of `key` in `key value` lines (memory.stat, cpu.stat, pids.events, meminfo-like), or null. */
export function keyedValue(text: string, key: string): number | null {
  let at = text.startsWith(`${key} `) ? 0 : -1;
  if (at < 0) {
    const i = text.indexOf(`\n${key} `);
    if (i < 0) return null;
    at = i + 1;
  }
  const start = at + key.length + 1;
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  const value = Number(text.slice(start, end).trim());
  return Number.isFinite(value) ? value : null;
}

/** v1 reports "no limit" as a huge page-aligned number (9223372036854771712); v2 as 'max'. */
const UNLIMITED_FROM = 2 ** 60;

/** A single-number file: memory.current, pids.current, cpuacct.usage… ('max' and v1's sentinel → null). */
export function parseNumber(text: string): number | null {
  const t = text.trim();
  if (t === '' || t === 'max') return null;
  const n = Number(t);
  if (!Number.isFinite(n) || n >= UNLIMITED_FROM) return null;
  return n;
}

/** A PSI file (`some avg10=… total=N` / `full …`): the total= counters in µs. */
export function parsePsi(text: string): PsiTotals | null {
  // Read 10–20 times a second per file: indexOf, not split and a regex per line.
  const total = (kind: 'some' | 'full'): number | null => {
    const line = text.startsWith(`${kind} `) ? 0 : text.indexOf(`\n${kind} `) + 1;
    if (line === 0 && !text.startsWith(`${kind} `)) return null;
    const lineEnd = text.indexOf('\n', line);
    const at = text.indexOf('total=', line);
    if (at < 0 || (lineEnd >= 0 && at > lineEnd)) return null;
    const value = Number.parseInt(text.slice(at + 6, lineEnd < 0 ? undefined : lineEnd), 10);
    return Number.isFinite(value) ? value : null;
  };
  const some = total('some');
  return some === null ? null : { someUs: some, fullUs: total('full') };
}

/** /proc/meminfo: MemTotal and MemAvailable in bytes. */
export function parseMeminfo(text: string): { memTotalBytes: number; memAvailableBytes: number } | null {
  const total = /^MemTotal:\s+(\d+) kB/m.exec(text)?.[1];
  const available = /^MemAvailable:\s+(\d+) kB/m.exec(text)?.[1];
  if (total === undefined || available === undefined) return null;
  return { memTotalBytes: Number(total) * 1024, memAvailableBytes: Number(available) * 1024 };
}

/** /proc/loadavg field 4: `running/total` threads. */
export function parseLoadavg(text: string): { runningThreads: number; totalThreads: number } | null {
  const m = /^\S+ \S+ \S+ (\d+)\/(\d+) /.exec(text);
  return m ? { runningThreads: Number(m[1]), totalThreads: Number(m[2]) } : null;
}

/** v2 cpu.max (`quota period` or `max period`) → CPUs; null when unlimited. */
export function parseCpuMax(text: string): number | null {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return null;
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? q / p : null;
}

/** v1 cpu.cfs_quota_us and cpu.cfs_period_us → CPUs; null when unlimited (-1). */
export function parseCfsQuota(quotaText: string, periodText: string): number | null {
  const q = Number(quotaText.trim());
  const p = Number(periodText.trim());
  return q > 0 && p > 0 ? q / p : null;
}

/** The refault counter of memory.stat: v1 hierarchical `total_workingset_refault_file`, else `workingset_refault_file` (older: `workingset_refault`). */
export function refaultFileOf(stat: string, version: 1 | 2): number | null {
  if (version === 1) {
    const total = keyedValue(stat, 'total_workingset_refault_file') ?? keyedValue(stat, 'total_workingset_refault');
    if (total !== null) return total;
  }
  return keyedValue(stat, 'workingset_refault_file') ?? keyedValue(stat, 'workingset_refault');
}

/** Recent (working-set) file refaults: v1 `total_workingset_activate_file`, else `workingset_activate_file` (older: `workingset_activate`). */
export function activateFileOf(stat: string, version: 1 | 2): number | null {
  if (version === 1) {
    const total = keyedValue(stat, 'total_workingset_activate_file') ?? keyedValue(stat, 'total_workingset_activate');
    if (total !== null) return total;
  }
  return keyedValue(stat, 'workingset_activate_file') ?? keyedValue(stat, 'workingset_activate');
}

/** Anonymous memory in memory.stat: v2 `anon`, v1 `total_rss` (else `rss`). */
export function anonOf(stat: string, version: 1 | 2): number | null {
  return version === 2 ? keyedValue(stat, 'anon') : (keyedValue(stat, 'total_rss') ?? keyedValue(stat, 'rss'));
}

/**
 * /proc/<pid>/stat → comm, utime+stime (ticks), start time (ticks), rss (pages). The comm is in
 * parentheses and may itself contain spaces and parentheses: split after the LAST ')'.
 */
export function parseProcStat(text: string): { pid: number; comm: string; cpuTicks: number; startTicks: number; rssPages: number } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // Fields after comm start at field 3 (state); utime is field 14, stime 15, starttime 22, rss 24.
  const rest = text.slice(close + 2).trim().split(' ');
  const field = (n: number) => Number(rest[n - 3]);
  const utime = field(14);
  const stime = field(15);
  const start = field(22);
  const rss = field(24);
  if (![pid, utime, stime, start, rss].every(Number.isFinite)) return null;
  return { pid, comm, cpuTicks: utime + stime, startTicks: start, rssPages: rss };
}

/** /etc/passwd text → uid → name. */
export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && uid !== undefined && /^\d+$/.test(uid) && !out.has(Number(uid))) out.set(Number(uid), name);
  }
  return out;
}

// ------------------------------------------------------------------------------- pre-opened files

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** The cgroup (or the file) is gone: close and forget. */
function isGone(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'ENODEV' || code === 'ENOENT' || code === 'ESTALE';
}

/**
 * One pseudo file, opened once, re-read from position 0 into a fixed buffer. `read()` returns
 * the text, null when it could not be read this time, and throws a GoneError when the file's
 * cgroup was removed (the caller drops the job).
 */
export class PreOpened {
  private fd: number | null;
  private readonly buf: Buffer;

  private constructor(
    readonly file: string,
    fd: number,
    size: number,
  ) {
    this.fd = fd;
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Opens `file` read-only; null when it does not exist or cannot be opened. */
  static open(file: string, size = 256): PreOpened | null {
    try {
      return new PreOpened(file, fs.openSync(file, 'r'), size);
    } catch {
      return null;
    }
  }

  read(): string | null {
    if (this.fd === null) throw new GoneError(this.file);
    let n: number;
    try {
      n = fs.readSync(this.fd, this.buf, 0, this.buf.length, 0);
    } catch (error) {
      if (isGone(error)) {
        this.close();
        throw new GoneError(this.file);
      }
      return null;
    }
    return this.buf.toString('latin1', 0, n);
  }

  close(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = null;
  }
}

export class GoneError extends Error {
  constructor(file: string) {
    super(`${file} is gone`);
    this.name = 'GoneError';
  }
}

function readWith<T>(f: PreOpened | null, parse: (text: string) => T | null): T | null {
  if (!f) return null;
  const text = f.read();
  return text === null ? null : parse(text);
}

// ------------------------------------------------------------------------------- node

export interface NodeFiles {
  meminfo?: string;
  pressureDir?: string;
  loadavg?: string;
}

/** The node's files, pre-opened. */
export class NodeReader {
  private readonly meminfo: PreOpened | null;
  private readonly loadavg: PreOpened | null;
  private readonly psi: { memory: PreOpened | null; io: PreOpened | null; cpu: PreOpened | null };

  constructor(files: NodeFiles = {}) {
    // MemTotal, MemFree and MemAvailable are the first three lines: 256 bytes hold them.
    this.meminfo = PreOpened.open(files.meminfo ?? '/proc/meminfo', 256);
    this.loadavg = PreOpened.open(files.loadavg ?? '/proc/loadavg', 128);
    const dir = files.pressureDir ?? '/proc/pressure';
    this.psi = { memory: PreOpened.open(path.join(dir, 'memory')), io: PreOpened.open(path.join(dir, 'io')), cpu: PreOpened.open(path.join(dir, 'cpu')) };
    if (!this.meminfo) throw new Error(`cannot open ${files.meminfo ?? '/proc/meminfo'}`);
  }

  read(): NodeSample {
    const mem = readWith(this.meminfo, parseMeminfo);
    const load = readWith(this.loadavg, parseLoadavg);
    return {
      memTotalBytes: mem?.memTotalBytes ?? 0,
      memAvailableBytes: mem?.memAvailableBytes ?? 0,
      psiMemory: readWith(this.psi.memory, parsePsi),
      psiIo: readWith(this.psi.io, parsePsi),
      psiCpu: readWith(this.psi.cpu, parsePsi),
      runningThreads: load?.runningThreads ?? 0,
      totalThreads: load?.totalThreads ?? 0,
    };
  }

  close(): void {
    for (const f of [this.meminfo, this.loadavg, this.psi.memory, this.psi.io, this.psi.cpu]) f?.close();
  }
}

/** The parent's page cache that reclaim takes first: v2 `inactive_file`, v1 hierarchical `total_inactive_file`. */
export function inactiveFileOf(stat: string, version: 1 | 2): number | null {
  return version === 1 ? (keyedValue(stat, 'total_inactive_file') ?? keyedValue(stat, 'inactive_file')) : keyedValue(stat, 'inactive_file');
}

/**
 * The jobs' parent cgroup: usage and pids of all jobs together (the sampler compares them with the
 * jobs it read to decide whether idle jobs must be read now), its inactive page cache (what is
 * available under its limit), and its limit on slow ticks.
 */
/** The parent's usage share from which its memory.stat is read (see ParentReader.read). */
const PARENT_STAT_FROM_RATIO = 0.5;

export class ParentReader {
  private readonly memVersion: 1 | 2;
  private readonly usage: PreOpened | null;
  private readonly limit: PreOpened | null;
  private readonly stat: PreOpened | null;
  private readonly pids: PreOpened | null;
  private limitBytes: number | null = null;

  constructor(dirs: { memory?: { dir: string; version: 1 | 2 }; pids?: string }) {
    const m = dirs.memory;
    this.memVersion = m?.version ?? 2;
    this.usage = m ? PreOpened.open(path.join(m.dir, m.version === 2 ? 'memory.current' : 'memory.usage_in_bytes')) : null;
    this.limit = m ? PreOpened.open(path.join(m.dir, m.version === 2 ? 'memory.max' : 'memory.limit_in_bytes')) : null;
    this.stat = m ? PreOpened.open(path.join(m.dir, 'memory.stat'), 8192) : null;
    this.pids = dirs.pids ? PreOpened.open(path.join(dirs.pids, 'pids.current')) : null;
    this.readSlow();
  }

  readSlow(): void {
    try {
      this.limitBytes = readWith(this.limit, parseNumber);
    } catch (error) {
      if (!(error instanceof GoneError)) throw error;
      this.limitBytes = null;
    }
  }

  /**
   * With a limit, what is still available: limit − usage, plus the inactive page cache (memory.stat)
   * once usage passes half the limit. Below that, more than half is free whatever the cache, far
   * from any floor, and the parent's hierarchical memory.stat — the costliest read of an idle tick
   * (the kernel sums it over every job) — is skipped.
   */
  read(): ParentSample | null {
    try {
      const memBytes = readWith(this.usage, parseNumber);
      const limit = this.limitBytes;
      let availableBytes: number | null = null;
      if (memBytes !== null && limit !== null) {
        const inactive = memBytes >= PARENT_STAT_FROM_RATIO * limit ? readWith(this.stat, (t) => inactiveFileOf(t, this.memVersion)) : null;
        availableBytes = Math.max(0, limit - memBytes) + (inactive ?? 0);
      }
      return { memBytes, memLimitBytes: limit, availableBytes, pidsCurrent: readWith(this.pids, parseNumber) };
    } catch (error) {
      if (error instanceof GoneError) return null;
      throw error;
    }
  }

  close(): void {
    for (const f of [this.usage, this.limit, this.stat, this.pids]) f?.close();
  }
}

// ------------------------------------------------------------------------------- jobs

/** What the job record says (the caller looks it up in the jobs table or the executor's state). */
export interface JobInfo {
  user: string | null;
  uid: number | null;
  requestedMemBytes: number | null;
  requestedCpus: number | null;
}

interface JobFiles {
  memVersion: 1 | 2 | null;
  memUsage: PreOpened | null;
  memLimit: PreOpened | null;
  memStat: PreOpened | null;
  /** v2 memory.events / v1 memory.oom_control (`oom_kill`). */
  memEvents: PreOpened | null;
  pidsCurrent: PreOpened | null;
  pidsMax: PreOpened | null;
  pidsEvents: PreOpened | null;
  /** v1 cpuacct.usage (ns) or v2 cpu.stat (usage_usec). */
  cpuacct: PreOpened | null;
  cpuStat: PreOpened | null;
  psiMemory: PreOpened | null;
  psiIo: PreOpened | null;
  psiCpu: PreOpened | null;
  /** v1 cpu.cfs_quota_us + cpu.cfs_period_us, or v2 cpu.max: read on slow ticks. */
  cpuQuota: { quota: PreOpened | null; period: PreOpened | null; max: PreOpened | null };
}

class JobReader {
  readonly dirs: string[];
  private readonly f: JobFiles;
  private memLimit: number | null = null;
  private pidsMax: number | null = null;
  private quotaCpus: number | null = null;
  /** The last full read (tiered sampling): when, and its memory and pids. */
  lastReadMs = -Infinity;
  lastMemBytes: number | null = null;
  lastPids: number | null = null;
  /** Read every tick until then: near a limit, or changing. */
  hotUntilMs = -Infinity;
  lastSlowMs = -Infinity;

  /** A job without cgroups (proctrack/linuxproc): its numbers come from its processes. */
  private readonly processUsage: ((jobId: number) => ProcessUsage | null) | null;

  constructor(
    tree: JobTree,
    readonly jobId: number,
  ) {
    this.processUsage = tree.processUsage ? (id) => tree.processUsage!(id) : null;
    const d = tree.jobDirs(jobId);
    this.dirs = d.all;
    const at = (h: Parameters<typeof d.dir>[0] | undefined, file: string, size = 128): PreOpened | null => (h ? PreOpened.open(path.join(d.dir(h), file), size) : null);
    const mem = d.memory;
    const memVersion = mem ? mem.version : null;
    const v2 = d.v2;
    this.f = {
      memVersion,
      memUsage: at(mem, memVersion === 2 ? 'memory.current' : 'memory.usage_in_bytes'),
      memLimit: at(mem, memVersion === 2 ? 'memory.max' : 'memory.limit_in_bytes'),
      // v1 memory.stat is ~1.5 KiB with hierarchical totals; v2 ~1.2 KiB.
      memStat: at(mem, 'memory.stat', 8192),
      memEvents: at(mem, memVersion === 2 ? 'memory.events' : 'memory.oom_control', 512),
      pidsCurrent: at(d.pids, 'pids.current'),
      pidsMax: at(d.pids, 'pids.max'),
      pidsEvents: at(d.pids, 'pids.events'),
      cpuacct: at(d.cpuacct, 'cpuacct.usage'),
      cpuStat: d.cpuacct ? null : at(v2, 'cpu.stat', 1024),
      psiMemory: at(v2, 'memory.pressure'),
      psiIo: at(v2, 'io.pressure'),
      psiCpu: at(v2, 'cpu.pressure'),
      cpuQuota:
        d.cpu?.version === 2
          ? { quota: null, period: null, max: at(d.cpu, 'cpu.max') }
          : { quota: at(d.cpu, 'cpu.cfs_quota_us'), period: at(d.cpu, 'cpu.cfs_period_us'), max: null },
    };
    this.readSlow();
  }

  /** Whether the last read put this job near a limit or showed it changing (then it is read every tick for a while). */
  noteRead(sample: JobSample, nowMs: number, t: Tiering): void {
    const dtSec = Number.isFinite(this.lastReadMs) ? Math.max(0.001, (nowMs - this.lastReadMs) / 1000) : null;
    const mem = sample.memBytes;
    const pids = sample.pidsCurrent;
    const nearMemLimit = mem !== null && sample.memLimitBytes !== null && mem >= t.hotFromRatio * sample.memLimitBytes;
    const nearPidsMax = pids !== null && sample.pidsMax !== null && pids >= t.hotFromRatio * sample.pidsMax;
    const memMoving = dtSec !== null && mem !== null && this.lastMemBytes !== null && Math.abs(mem - this.lastMemBytes) / dtSec >= t.hotBytesPerSec;
    const pidsMoving = pids !== null && this.lastPids !== null && pids !== this.lastPids;
    if (nearMemLimit || nearPidsMax || memMoving || pidsMoving) this.hotUntilMs = nowMs + t.hotForMs;
    this.lastReadMs = nowMs;
    this.lastMemBytes = mem;
    this.lastPids = pids;
  }

  /** Files that change rarely: limits and the cpu quota. Throws GoneError when the cgroup went away. */
  readSlow(): void {
    this.memLimit = readWith(this.f.memLimit, parseNumber);
    this.pidsMax = readWith(this.f.pidsMax, parseNumber);
    const q = this.f.cpuQuota;
    if (q.max) this.quotaCpus = readWith(q.max, parseCpuMax);
    else if (q.quota && q.period) {
      const quota = q.quota.read();
      const period = q.period.read();
      this.quotaCpus = quota !== null && period !== null ? parseCfsQuota(quota, period) : null;
    }
  }

  /**
   * One tick's numbers. Throws GoneError when the cgroup went away. memory.stat (the costliest
   * read) is skipped for a job below `statFromRatio` of its memory limit: no memory rule looks
   * at refaults or anonymous growth that far from the limit, and those fields are null then.
   * `light` (an idle job's once-a-second read under tiered sampling): usage, pids, CPU and the OOM
   * counter only — its pressure and refused forks matter only near a limit, where it is read in full.
   */
  read(info: JobInfo | undefined, statFromRatio: number, light = false): JobSample {
    if (this.processUsage) return this.readProcesses(info);
    const f = this.f;
    const memBytes = readWith(f.memUsage, parseNumber);
    const farFromLimit = memBytes !== null && this.memLimit !== null && memBytes < statFromRatio * this.memLimit;
    const stat = farFromLimit ? null : (f.memStat?.read() ?? null);
    const version = f.memVersion ?? 2;
    let cpuUsageUsec: number | null = null;
    if (f.cpuacct) {
      const ns = readWith(f.cpuacct, parseNumber);
      cpuUsageUsec = ns === null ? null : ns / 1000;
    } else if (f.cpuStat) {
      cpuUsageUsec = readWith(f.cpuStat, (t) => keyedValue(t, 'usage_usec'));
    }
    return {
      jobId: this.jobId,
      user: info?.user ?? null,
      uid: info?.uid ?? null,
      cgroupDirs: this.dirs,
      memBytes,
      memLimitBytes: this.memLimit,
      requestedMemBytes: info?.requestedMemBytes ?? null,
      requestedCpus: info?.requestedCpus ?? null,
      refaultFile: stat === null ? null : refaultFileOf(stat, version),
      activateFile: stat === null ? null : activateFileOf(stat, version),
      anonBytes: stat === null ? null : anonOf(stat, version),
      psiMemory: light ? null : readWith(f.psiMemory, parsePsi),
      psiIo: light ? null : readWith(f.psiIo, parsePsi),
      psiCpu: light ? null : readWith(f.psiCpu, parsePsi),
      pidsCurrent: readWith(f.pidsCurrent, parseNumber),
      pidsMax: this.pidsMax,
      pidsEventsMax: light ? null : readWith(f.pidsEvents, (t) => keyedValue(t, 'max')),
      cpuUsageUsec,
      cpusAllocated: info?.requestedCpus ?? this.quotaCpus,
      oomKills: readWith(f.memEvents, (t) => keyedValue(t, 'oom_kill')),
    };
  }

  /** A job without cgroups: RSS (taken as anonymous memory), processes and CPU time of its process tree; what it asked for as its limit. */
  private readProcesses(info: JobInfo | undefined): JobSample {
    const u = this.processUsage!(this.jobId);
    if (u === null) throw new GoneError(`job ${this.jobId}'s processes`);
    return {
      jobId: this.jobId,
      user: info?.user ?? null,
      uid: info?.uid ?? null,
      cgroupDirs: [],
      memBytes: u.memBytes,
      memLimitBytes: u.memLimitBytes,
      requestedMemBytes: info?.requestedMemBytes ?? null,
      requestedCpus: info?.requestedCpus ?? null,
      refaultFile: null,
      activateFile: null,
      anonBytes: u.memBytes,
      psiMemory: null,
      psiIo: null,
      psiCpu: null,
      pidsCurrent: u.pids,
      pidsMax: null,
      pidsEventsMax: null,
      cpuUsageUsec: u.cpuUsageUsec,
      cpusAllocated: info?.requestedCpus ?? null,
      oomKills: null,
    };
  }

  close(): void {
    const f = this.f;
    for (const x of [f.memUsage, f.memLimit, f.memStat, f.memEvents, f.pidsCurrent, f.pidsMax, f.pidsEvents, f.cpuacct, f.cpuStat, f.psiMemory, f.psiIo, f.psiCpu, f.cpuQuota.quota, f.cpuQuota.period, f.cpuQuota.max]) x?.close();
  }
}

/**
 * Tiered sampling (what keeps the watchdog idle at 50 idle jobs): a job near one of its limits, or
 * whose memory or process count moved at its last read, is read every tick for `hotForMs`; the
 * others every `idleEveryMs` (staggered). Every tick the parent's usage and pids are read (two
 * reads): when they moved more than the jobs read this tick explain (`wakeBytes`, `wakePids`), or
 * under node pressure, every job is read in the same tick — so a job that starts leaking or forking
 * is seen at once, not a second later.
 */
export interface Tiering {
  idleEveryMs: number;
  hotFromRatio: number;
  hotBytesPerSec: number;
  hotForMs: number;
  wakeBytes: number;
  wakePids: number;
}

export const DEFAULT_TIERING: Tiering = { idleEveryMs: 1000, hotFromRatio: 0.5, hotBytesPerSec: 1024 ** 2, hotForMs: 2000, wakeBytes: 2 * 1024 ** 2, wakePids: 2 };

export interface SamplerOptions {
  /** The job tree, opened with parentMemBytes: null and parentPidsMax: null (the watchdog never changes limits). */
  tree: JobTree;
  /** The job record's facts (owner, request); default: none known. */
  jobInfo?: (jobId: number) => JobInfo | undefined;
  /** How often the parent is re-listed for new jobs and limits re-read, in ms (default 250). */
  rescanMs?: number;
  node?: NodeFiles;
  /** Read memory.stat only for jobs at or above this share of their memory limit (default 0.5; 0 = always). */
  statFromRatio?: number;
  /** Tiered sampling (see Tiering); default: none, every job every tick. */
  tiering?: Tiering;
  /** Node-level pressure: every job is read every tick while this holds (the node-memory rule compares all jobs' growth). */
  pressured?: (node: NodeSample) => boolean;
  /** How often limits and quotas are re-read (default 2000 ms; new jobs are found every rescanMs). */
  slowEveryMs?: number;
}

/**
 * Reads one Sample per `tick(nowMs)`. Not thread-safe; one per watchdog. `close()` releases
 * every descriptor.
 */
export class Sampler {
  private readonly tree: JobTree;
  private readonly nodeReader: NodeReader;
  private readonly parentReader: ParentReader | null;
  private readonly jobs = new Map<number, JobReader>();
  private readonly jobInfo: (jobId: number) => JobInfo | undefined;
  private readonly rescanMs: number;
  private readonly slowEveryMs: number;
  private readonly statFromRatio: number;
  private readonly tiering: Tiering | null;
  private readonly pressured: (node: NodeSample) => boolean;
  private lastRescanMs = -Infinity;
  private lastSlowMs = -Infinity;
  private lastParent: ParentSample | null = null;
  /** Reads of job cgroups (ticks × jobs read), and ticks that read every job: for status and the footprint bench. */
  jobReads = 0;
  fullTicks = 0;

  constructor(options: SamplerOptions) {
    this.tree = options.tree;
    this.jobInfo = options.jobInfo ?? (() => undefined);
    this.rescanMs = options.rescanMs ?? 250;
    this.slowEveryMs = options.slowEveryMs ?? 2000;
    this.statFromRatio = options.statFromRatio ?? 0.5;
    this.tiering = options.tiering ?? null;
    this.pressured = options.pressured ?? (() => false);
    this.nodeReader = new NodeReader(options.node);
    this.parentReader = new ParentReader(options.tree.parentControllerDirs());
  }

  /** Job ids currently followed. */
  jobIds(): number[] {
    return [...this.jobs.keys()];
  }

  /** Whether a job is followed, without copying the list. */
  readonly followed: Pick<ReadonlySet<number>, 'has'> = { has: (jobId: number) => this.jobs.has(jobId) };

  /** Re-lists the parent: opens new jobs, drops vanished ones; re-reads limits when `slow`. */
  rescan(slow = true): void {
    const ids = new Set(this.tree.jobIds());
    for (const [id, reader] of this.jobs) {
      if (!ids.has(id)) this.drop(id, reader);
    }
    if (slow) this.parentReader?.readSlow();
    for (const id of ids) {
      const known = this.jobs.get(id);
      try {
        if (known) {
          if (slow) known.readSlow();
        } else this.jobs.set(id, new JobReader(this.tree, id));
      } catch (error) {
        if (!(error instanceof GoneError)) throw error;
        if (known) this.drop(id, known);
      }
    }
  }

  private drop(id: number, reader: JobReader): void {
    reader.close();
    this.jobs.delete(id);
  }

  tick(nowMs: number): Sample {
    if (nowMs - this.lastRescanMs >= this.rescanMs) {
      const slow = nowMs - this.lastSlowMs >= this.slowEveryMs;
      this.rescan(slow);
      this.lastRescanMs = nowMs;
      if (slow) this.lastSlowMs = nowMs;
    }
    const t = this.tiering;
    const parent = this.parentReader?.read() ?? null;
    const node: NodeSample = { ...this.nodeReader.read(), parent };
    const jobs: JobSample[] = [];
    const readJob = (id: number, reader: JobReader, light = false): JobSample | null => {
      try {
        const sample = reader.read(this.jobInfo(id), this.statFromRatio, light);
        if (t) reader.noteRead(sample, nowMs, t);
        jobs.push(sample);
        this.jobReads++;
        return sample;
      } catch (error) {
        if (!(error instanceof GoneError)) throw error;
        this.drop(id, reader);
        return null;
      }
    };
    if (!t || this.pressured(node)) {
      for (const [id, reader] of this.jobs) readJob(id, reader);
      this.fullTicks++;
    } else {
      // Hot jobs and idle jobs whose turn it is; what they moved since their last read explains the parent's move.
      let explainedBytes = 0;
      let explainedPids = 0;
      let skipped = 0;
      for (const [id, reader] of this.jobs) {
        // Never sooner than idleEveryMs: a read a tick early would leave a 1 s window reaching back two reads.
        const due = nowMs < reader.hotUntilMs || nowMs - reader.lastReadMs >= t.idleEveryMs;
        if (!due) {
          skipped++;
          continue;
        }
        const before = { mem: reader.lastMemBytes, pids: reader.lastPids };
        const sample = readJob(id, reader, nowMs >= reader.hotUntilMs);
        if (sample?.memBytes != null && before.mem !== null) explainedBytes += sample.memBytes - before.mem;
        if (sample?.pidsCurrent != null && before.pids !== null) explainedPids += sample.pidsCurrent - before.pids;
      }
      const last = this.lastParent;
      const unexplainedBytes = last && parent?.memBytes != null && last.memBytes !== null ? Math.abs(parent.memBytes - last.memBytes - explainedBytes) : 0;
      const unexplainedPids = last && parent?.pidsCurrent != null && last.pidsCurrent !== null ? Math.abs(parent.pidsCurrent - last.pidsCurrent - explainedPids) : 0;
      if (skipped > 0 && (unexplainedBytes >= t.wakeBytes || unexplainedPids >= t.wakePids)) {
        // The ones not read yet this tick (a read stamps lastReadMs with nowMs).
        for (const [id, reader] of this.jobs) if (reader.lastReadMs !== nowMs) readJob(id, reader);
        this.fullTicks++;
      }
    }
    if (parent) this.lastParent = parent;
    return { atMs: nowMs, node, jobs };
  }

  close(): void {
    for (const [id, reader] of this.jobs) this.drop(id, reader);
    this.nodeReader.close();
    this.parentReader?.close();
  }
}

// ------------------------------------------------------------------------------- login host

/**
 * The processes of a login host: /proc/<pid>/stat and the owner of /proc/<pid>. This one does
 * open and close per process (processes come and go), so run it at ~1 Hz, not at the memory
 * sampler's rate. `minUid` skips system accounts (default 1000).
 */
export function readProcesses(options: { procRoot?: string; minUid?: number; users?: Map<number, string>; pageSize?: number } = {}): ProcessSample[] {
  const root = options.procRoot ?? '/proc';
  const minUid = options.minUid ?? 1000;
  const pageSize = options.pageSize ?? 4096;
  const out: ProcessSample[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const dir = path.join(root, name);
      const uid = fs.statSync(dir).uid;
      if (uid < minUid) continue;
      const stat = parseProcStat(fs.readFileSync(path.join(dir, 'stat'), 'latin1'));
      if (!stat) continue;
      out.push({ pid: stat.pid, uid, user: options.users?.get(uid) ?? null, comm: stat.comm, cpuTicks: stat.cpuTicks, rssBytes: stat.rssPages * pageSize, startTicks: stat.startTicks });
    } catch {
      // gone between readdir and read
    }
  }
  return out;
}
