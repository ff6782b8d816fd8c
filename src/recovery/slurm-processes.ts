/**
 * SLURM jobs without job cgroups (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none): a
 * job is the process tree under its `slurmstepd: [<id>.<step>]` processes, as proctrack/linuxproc
 * itself sees it. What the watchdog can do there:
 * - memory = the sum of the processes' RSS (no page cache, no refaults, no PSI per job);
 * - the limit = what the job asked for, from its environment (SLURM_MEM_PER_NODE, or
 *   SLURM_MEM_PER_CPU × SLURM_CPUS_ON_NODE), so memory-limit acts before SLURM's OverMemoryKill
 *   (which polls at JobAcctGatherFrequency); owner and CPUs from SLURM_JOB_UID / SLURM_CPUS_ON_NODE;
 * - kill = SIGSTOP the whole tree until no new process shows up (stopped processes cannot fork),
 *   then SIGKILL it; freeze = SIGSTOP, thaw = SIGCONT; slurmstepd is never signalled;
 * - no throttle (no cpu controller), no kernel OOM counter, no pids limit.
 * A process that leaves the tree (double fork and setsid to init) is lost to the watchdog, as it
 * is to proctrack/linuxproc. The process table is scanned when jobs are listed (every rescan,
 * ~4 Hz); a tick reads /proc/<pid>/stat of the job's known processes only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FreezeResult, KillOptions, KillResult } from './actions.ts';
import type { JobActions, JobDirs, JobTree, JobView, ProcessUsage } from './job-tree.ts';
import { parsePasswd, parseProcStat, type JobInfo } from './sampler.ts';
import { stepdOf } from './slurm-jobs.ts';

/** What a SLURM job's environment says it asked for (the batch script's /proc/<pid>/environ, NUL-separated). */
export function slurmEnvironOf(environ: string): { memBytes: number | null; cpus: number | null; uid: number | null; user: string | null } {
  const env = new Map<string, string>();
  for (const entry of environ.split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0 && entry.startsWith('SLURM_')) env.set(entry.slice(0, at), entry.slice(at + 1));
  }
  const num = (key: string): number | null => {
    const v = env.get(key);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  };
  const cpus = num('SLURM_CPUS_ON_NODE');
  const perNode = num('SLURM_MEM_PER_NODE');
  const perCpu = num('SLURM_MEM_PER_CPU');
  const memMiB = perNode ?? (perCpu !== null && cpus !== null ? perCpu * cpus : null);
  return { memBytes: memMiB === null || memMiB === 0 ? null : memMiB * 1024 * 1024, cpus, uid: num('SLURM_JOB_UID'), user: env.get('SLURM_JOB_USER') ?? null };
}

interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
}

/** /proc/<pid>/stat → ppid (field 4), besides what parseProcStat gives. */
function ppidOf(stat: string): number | null {
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isFinite(ppid) ? ppid : null;
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  if (pid <= 1 || pid === process.pid) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

const PAGE_SIZE = 4096;

export interface SlurmProcessOptions {
  procRoot?: string;
  /** Only the jobs this accepts (several clusters on one host: tests). */
  only?: (jobId: number) => boolean;
}

/** SLURM jobs as process trees under their slurmstepd (proctrack/linuxproc). */
export class SlurmProcessTree implements JobTree, JobActions {
  readonly mode = 'processes' as const;
  readonly jobIdKind = 'slurm' as const;
  readonly actions: JobActions = this;
  private readonly procRoot: string;
  private readonly only: (jobId: number) => boolean;
  /** From the last scan: each job's processes (slurmstepd left out) and its slurmstepd pids. */
  private jobs = new Map<number, { pids: number[]; stepds: number[] }>();
  private readonly facts = new Map<number, ReturnType<typeof slurmEnvironOf>>();

  constructor(options: SlurmProcessOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.only = options.only ?? (() => true);
  }

  /** Reads the process table: every slurmstepd's job and the processes below it. */
  scan(): void {
    const entries: ProcEntry[] = [];
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.procRoot);
    } catch {
      names = [];
    }
    for (const name of names) {
      if (!/^\d+$/.test(name)) continue;
      const stat = readText(path.join(this.procRoot, name, 'stat'));
      const parsed = stat ? parseProcStat(stat) : null;
      const ppid = stat ? ppidOf(stat) : null;
      if (parsed && ppid !== null) entries.push({ pid: parsed.pid, ppid, comm: parsed.comm });
    }
    const children = new Map<number, number[]>();
    for (const e of entries) children.set(e.ppid, [...(children.get(e.ppid) ?? []), e.pid]);
    const jobs = new Map<number, { pids: number[]; stepds: number[] }>();
    for (const e of entries) {
      if (e.comm !== 'slurmstepd') continue;
      const step = stepdOf(readText(path.join(this.procRoot, String(e.pid), 'cmdline')) ?? '');
      if (!step || !this.only(step.jobId)) continue;
      const job = jobs.get(step.jobId) ?? { pids: [], stepds: [] };
      job.stepds.push(e.pid);
      const stack = [...(children.get(e.pid) ?? [])];
      for (let pid = stack.pop(); pid !== undefined; pid = stack.pop()) {
        if (job.pids.length >= 100_000) break;
        job.pids.push(pid);
        stack.push(...(children.get(pid) ?? []));
      }
      jobs.set(step.jobId, job);
    }
    // A stepd below another job's stepd (never, but) would count twice: its own job wins.
    const stepds = new Set([...jobs.values()].flatMap((j) => j.stepds));
    for (const job of jobs.values()) job.pids = job.pids.filter((pid) => !stepds.has(pid));
    this.jobs = jobs;
    for (const id of this.facts.keys()) if (!jobs.has(id)) this.facts.delete(id);
  }

  jobIds(): number[] {
    this.scan();
    return [...this.jobs.keys()];
  }

  jobDirs(): JobDirs {
    return { all: [], dir: () => '' };
  }

  job(jobId: number): JobView {
    return {
      jobId,
      pids: () => {
        this.scan();
        return this.jobs.get(jobId)?.pids ?? [];
      },
      populated: () => {
        this.scan();
        return (this.jobs.get(jobId)?.pids.length ?? 0) > 0;
      },
      oomKills: () => null,
    };
  }

  parentControllerDirs(): Record<string, never> {
    return {};
  }

  /** What the job's environment says (read once per job from its first process that shows one). */
  jobFacts(jobId: number): ReturnType<typeof slurmEnvironOf> {
    const known = this.facts.get(jobId);
    if (known) return known;
    for (const pid of this.jobs.get(jobId)?.pids ?? []) {
      const environ = readText(path.join(this.procRoot, String(pid), 'environ'));
      if (!environ || !environ.includes('SLURM_JOB_ID=')) continue;
      const facts = slurmEnvironOf(environ);
      this.facts.set(jobId, facts);
      return facts;
    }
    return { memBytes: null, cpus: null, uid: null, user: null };
  }

  /** One tick's numbers of a job: RSS and CPU time summed over its processes of the last scan; null when it is gone. */
  processUsage(jobId: number): ProcessUsage | null {
    const job = this.jobs.get(jobId);
    if (!job) return null;
    let rss = 0;
    let ticks = 0;
    let alive = 0;
    for (const pid of job.pids) {
      const stat = readText(path.join(this.procRoot, String(pid), 'stat'));
      const parsed = stat ? parseProcStat(stat) : null;
      if (!parsed) continue;
      alive++;
      rss += parsed.rssPages * PAGE_SIZE;
      ticks += parsed.cpuTicks;
    }
    if (alive === 0 && !job.stepds.some(running)) return null;
    return { memBytes: rss, memLimitBytes: this.jobFacts(jobId).memBytes, pids: alive, cpuUsageUsec: (ticks * 1_000_000) / 100 };
  }

  /** SIGSTOPs the job's tree until a scan finds no process not stopped yet; returns every pid stopped. */
  private stopTree(jobId: number): Set<number> {
    const stopped = new Set<number>();
    for (let round = 0; round < 50; round++) {
      this.scan();
      const fresh = (this.jobs.get(jobId)?.pids ?? []).filter((pid) => !stopped.has(pid));
      if (fresh.length === 0) break;
      for (const pid of fresh) if (signal(pid, 'SIGSTOP')) stopped.add(pid);
    }
    return stopped;
  }

  async kill(jobId: number, options: KillOptions): Promise<KillResult> {
    const decidedAt = options.decidedAtMs ?? performance.now();
    const writtenAt = performance.now();
    const stopped = this.stopTree(jobId);
    let signalsSent = 0;
    for (const pid of stopped) if (signal(pid, 'SIGKILL')) signalsSent++;
    const writeMs = performance.now() - writtenAt;
    const deadline = writtenAt + (options.timeoutMs ?? 5000);
    let left = [...stopped].filter(running);
    while (left.length > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 2));
      left = left.filter(running);
    }
    // Anything that appeared meanwhile (a fork racing the first SIGSTOP) goes too.
    this.scan();
    for (const pid of this.jobs.get(jobId)?.pids ?? []) if (signal(pid, 'SIGKILL')) signalsSent++;
    const empty = left.length === 0 && (this.jobs.get(jobId)?.pids ?? []).filter(running).length === 0;
    return { jobId, path: 'signal-walk', empty, judgedBy: 'cgroup.procs', decisionToWriteMs: writtenAt - decidedAt, writeMs, writeToFrozenMs: null, writeToEmptyMs: empty ? performance.now() - writtenAt : null, signalsSent };
  }

  async freeze(jobId: number): Promise<FreezeResult> {
    const writtenAt = performance.now();
    const stopped = this.stopTree(jobId);
    const isStopped = (pid: number) => {
      const stat = readText(path.join(this.procRoot, String(pid), 'stat'));
      return !stat || /^[TtZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
    };
    const deadline = writtenAt + 2000;
    let done = [...stopped].every(isStopped);
    while (!done && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      done = [...stopped].every(isStopped);
    }
    return { jobId, via: 'SIGSTOP', done, writeToDoneMs: done ? performance.now() - writtenAt : null };
  }

  thaw(jobId: number): void {
    this.scan();
    for (const pid of this.jobs.get(jobId)?.pids ?? []) signal(pid, 'SIGCONT');
  }
}

/** `jobInfo(jobId)` for the sampler from the job's environment: owner (named from /etc/passwd where SLURM_JOB_USER is absent), memory and CPUs asked for. */
export function slurmProcessRecords(tree: SlurmProcessTree, options: { readPasswd?: () => string } = {}): (jobId: number) => JobInfo | undefined {
  const readPasswd = options.readPasswd ?? (() => fs.readFileSync('/etc/passwd', 'utf8'));
  const cache = new Map<number, JobInfo>();
  return (jobId) => {
    const hit = cache.get(jobId);
    if (hit) return hit;
    const facts = tree.jobFacts(jobId);
    let user = facts.user;
    if (user === null && facts.uid !== null) {
      try {
        user = parsePasswd(readPasswd()).get(facts.uid) ?? null;
      } catch {
        user = null;
      }
    }
    const info: JobInfo = { user, uid: facts.uid, requestedMemBytes: facts.memBytes, requestedCpus: facts.cpus };
    if (cache.size >= 10_000) cache.clear();
    // Cached once the environment was read (its uid known); looked at again on a later tick before that.
    if (facts.uid !== null) cache.set(jobId, info);
    return info;
  };
}
