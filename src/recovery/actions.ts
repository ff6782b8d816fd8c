/**
 * What the recovery watchdog does to a job or a process: freeze/thaw, kill the whole job
 * atomically, SIGSTOP/SIGCONT, renice, throttle.
 *
 * Job cgroups come from the batch executor's CgroupTree/JobCgroup (src/batch/executors/local/
 * cgroups.ts; open the tree with parentMemBytes: null and parentPidsMax: null so the watchdog
 * never changes limits). The hot path forks nothing and opens nothing: `JobHandleBook.ensure()`
 * opens a job's cgroup.kill, cgroup.freeze and cgroup.events (v2 side) and freezer.state /
 * cgroup.procs (v1) when the job is first seen, and the kill writes to those fds.
 *
 * Completion is judged by the cgroup becoming empty — `cgroup.events: populated 0` where there
 * is a v2 side (pure v2, or the hybrid side hierarchy), which ignores zombies; otherwise the v1
 * cgroup.procs being empty — with a bounded wait. Times come from the monotonic clock
 * (performance.now()).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sleepSync } from '../batch/executors/local/cgroups.ts';
import type { JobTree, JobView } from './job-tree.ts';

export type KillPath = 'cgroup.kill' | 'v1-freeze-and-kill' | 'v2-freeze-and-kill' | 'signal-walk';

/** A job's cgroup files, opened once when the job is first seen. */
export interface JobHandles {
  jobId: number;
  job: JobView;
  /** The job's v2 dir (pure v2, or the hybrid side hierarchy); null without one. */
  v2Dir: string | null;
  freezerDir: string | null;
  /** cpu controller dir and its version (v1 cpu, or v2 with the cpu controller enabled). */
  cpu: { dir: string; version: 1 | 2 } | null;
  killFd: number | null;
  freezeFd: number | null;
  eventsFd: number | null;
  freezerStateFd: number | null;
  /** v1 cgroup.procs (freezer, else memory/pids): the pids to signal, and emptiness without a v2 side. */
  v1ProcsFd: number | null;
}

function openOrNull(file: string, flags: number): number | null {
  try {
    return fs.openSync(file, flags);
  } catch {
    return null;
  }
}

/** Opens a job's handles (whatever exists; the rest stays null). */
export function openJobHandles(tree: JobTree, jobId: number): JobHandles {
  const d = tree.jobDirs(jobId);
  const job = tree.job(jobId);
  const v2Dir = d.v2 ? d.dir(d.v2) : null;
  const freezerDir = d.freezer ? d.dir(d.freezer) : null;
  const v1ProcsHierarchy = d.freezer ?? (d.memory?.version === 1 ? d.memory : undefined) ?? (d.pids?.version === 1 ? d.pids : undefined);
  const { O_RDONLY, O_WRONLY, O_RDWR } = fs.constants;
  return {
    jobId,
    job,
    v2Dir,
    freezerDir,
    cpu: d.cpu ? { dir: d.dir(d.cpu), version: d.cpu.version } : null,
    killFd: v2Dir ? openOrNull(path.join(v2Dir, 'cgroup.kill'), O_WRONLY) : null,
    freezeFd: v2Dir ? openOrNull(path.join(v2Dir, 'cgroup.freeze'), O_RDWR) : null,
    eventsFd: v2Dir ? openOrNull(path.join(v2Dir, 'cgroup.events'), O_RDONLY) : null,
    freezerStateFd: freezerDir ? openOrNull(path.join(freezerDir, 'freezer.state'), O_RDWR) : null,
    v1ProcsFd: v1ProcsHierarchy ? openOrNull(path.join(d.dir(v1ProcsHierarchy), 'cgroup.procs'), O_RDONLY) : null,
  };
}

export function closeJobHandles(h: JobHandles): void {
  for (const key of ['killFd', 'freezeFd', 'eventsFd', 'freezerStateFd', 'v1ProcsFd'] as const) {
    const fd = h[key];
    if (fd === null) continue;
    try {
      fs.closeSync(fd);
    } catch {
      // closed already
    }
    h[key] = null;
  }
}

/** Keeps the handles of the jobs the watchdog sees; `sync()` opens new ones and closes those of jobs gone. */
export class JobHandleBook {
  private readonly handles = new Map<number, JobHandles>();
  constructor(private readonly tree: JobTree) {}

  ensure(jobId: number): JobHandles {
    let h = this.handles.get(jobId);
    if (!h) {
      h = openJobHandles(this.tree, jobId);
      this.handles.set(jobId, h);
    }
    return h;
  }

  get(jobId: number): JobHandles | undefined {
    return this.handles.get(jobId);
  }

  /** Opens handles for every job id given and closes the others'. */
  sync(jobIds: Iterable<number>): void {
    const keep = new Set(jobIds);
    for (const [id, h] of this.handles) {
      if (!keep.has(id)) {
        closeJobHandles(h);
        this.handles.delete(id);
      }
    }
    for (const id of keep) this.ensure(id);
  }

  close(jobId: number): void {
    const h = this.handles.get(jobId);
    if (h) closeJobHandles(h);
    this.handles.delete(jobId);
  }

  closeAll(): void {
    for (const id of [...this.handles.keys()]) this.close(id);
  }

  get size(): number {
    return this.handles.size;
  }
}

// ------------------------------------------------------------------------------ small fd I/O

const readBuffer = Buffer.alloc(4096);
const ONE = Buffer.from('1');
const ZERO = Buffer.from('0');
const FROZEN = Buffer.from('FROZEN');
const THAWED = Buffer.from('THAWED');

/** pread at 0 into a preallocated buffer; null when the cgroup has gone. */
function preadText(fd: number): string | null {
  try {
    const n = fs.readSync(fd, readBuffer, 0, readBuffer.length, 0);
    return readBuffer.toString('latin1', 0, n);
  } catch {
    return null;
  }
}

function pwrite(fd: number, data: Buffer): void {
  fs.writeSync(fd, data, 0, data.length, 0);
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function gone(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'ENOENT' || code === 'ENODEV';
}

function eventsField(h: JobHandles, key: 'populated' | 'frozen'): number | null {
  if (h.eventsFd === null) return null;
  const text = preadText(h.eventsFd);
  if (text === null) return key === 'populated' ? 0 : null;
  const m = new RegExp(`^${key} (\\d)`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

function v1Pids(h: JobHandles): number[] {
  if (h.v1ProcsFd === null) return h.job.pids();
  const out: number[] = [];
  // cgroup.procs may be longer than the buffer: read it whole (still no open()).
  let text = '';
  let pos = 0;
  try {
    for (let i = 0; i < 1024; i++) {
      const n = fs.readSync(h.v1ProcsFd, readBuffer, 0, readBuffer.length, pos);
      if (n === 0) break;
      text += readBuffer.toString('latin1', 0, n);
      pos += n;
    }
  } catch {
    return [];
  }
  for (const line of text.split('\n')) if (line !== '') out.push(Number(line));
  return out;
}

/** Whether the job's cgroup still holds a process, and how that was judged. */
export function jobPopulated(h: JobHandles): { populated: boolean; judgedBy: 'cgroup.events' | 'cgroup.procs' } {
  const populated = eventsField(h, 'populated');
  if (populated !== null) return { populated: populated !== 0, judgedBy: 'cgroup.events' };
  if (h.v1ProcsFd !== null) {
    const text = preadText(h.v1ProcsFd);
    return { populated: text !== null && text.trim() !== '', judgedBy: 'cgroup.procs' };
  }
  return { populated: h.job.populated(), judgedBy: 'cgroup.procs' };
}

/** SIGKILLs every pid given (never 1 or the watchdog); with `already`, only those not signalled yet. */
export function killAll(pids: number[], already?: Set<number>): number {
  let sent = 0;
  for (const pid of pids) {
    if (pid <= 1 || pid === process.pid || already?.has(pid)) continue;
    already?.add(pid);
    try {
      process.kill(pid, 'SIGKILL');
      sent++;
    } catch {
      // gone already
    }
  }
  return sent;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ------------------------------------------------------------------------------ kill

export interface KillOptions {
  /** performance.now() when the decision was taken (default: when killJob is called). */
  decidedAtMs?: number;
  /** Bounded wait for the cgroup to empty (default 5 s). */
  timeoutMs?: number;
  /** Force a path (tests, benchmarks); default: cgroup.kill where present, else freeze-and-kill. */
  path?: KillPath;
  /** Poll interval while waiting (default 1 ms). */
  pollMs?: number;
}

export interface KillResult {
  jobId: number;
  path: KillPath;
  /** Empty within the bounded wait. */
  empty: boolean;
  judgedBy: 'cgroup.events' | 'cgroup.procs';
  /** decision → the kill (or freeze) write, ms. */
  decisionToWriteMs: number;
  /** How long the kill (or freeze) write itself took, ms (the kernel signals every task inside cgroup.kill's write); null for a walk. */
  writeMs: number | null;
  /** freeze-and-kill: write → frozen, ms; null otherwise. */
  writeToFrozenMs: number | null;
  /** write → empty, ms; null when it did not empty within the wait. */
  writeToEmptyMs: number | null;
  /** SIGKILLs sent by pid (0 for cgroup.kill). */
  signalsSent: number;
}

function choosePath(h: JobHandles): KillPath {
  if (h.killFd !== null) return 'cgroup.kill';
  if (h.freezeFd !== null) return 'v2-freeze-and-kill';
  if (h.freezerStateFd !== null) return 'v1-freeze-and-kill';
  return 'signal-walk';
}

function frozen(h: JobHandles, via: 'v1' | 'v2'): boolean {
  if (via === 'v2') return eventsField(h, 'frozen') === 1;
  const text = h.freezerStateFd === null ? null : preadText(h.freezerStateFd);
  return text === null || text.trim() === 'FROZEN';
}

/**
 * Kills every process of the job at once and waits (bounded) for its cgroup to empty.
 * cgroup.kill where present (v2, or the hybrid v2 side); else freeze (v2 cgroup.freeze or the v1
 * freezer), SIGKILL every pid, thaw; else a walk of cgroup.procs. The write happens before the
 * first await, so the caller's event loop cannot delay it.
 */
export async function killJob(h: JobHandles, options: KillOptions = {}): Promise<KillResult> {
  const decidedAt = options.decidedAtMs ?? performance.now();
  const timeoutMs = options.timeoutMs ?? 5000;
  const pollMs = options.pollMs ?? 1;
  const route = options.path ?? choosePath(h);
  let signalsSent = 0;
  const signalled = new Set<number>();
  let writeToFrozenMs: number | null = null;
  let writtenAt = performance.now();
  let writeMs: number | null = null;
  if (route === 'cgroup.kill') {
    if (h.killFd === null) throw new Error(`job ${h.jobId} has no cgroup.kill (no v2 side, or a kernel before 5.14)`);
    writtenAt = performance.now();
    try {
      pwrite(h.killFd, ONE);
    } catch (error) {
      if (!gone(error)) throw error;
    }
    writeMs = performance.now() - writtenAt;
  } else if (route === 'v1-freeze-and-kill' || route === 'v2-freeze-and-kill') {
    const via = route === 'v1-freeze-and-kill' ? 'v1' : 'v2';
    const fd = via === 'v1' ? h.freezerStateFd : h.freezeFd;
    if (fd === null) throw new Error(`job ${h.jobId} has no ${via === 'v1' ? 'v1 freezer' : 'cgroup.freeze'}`);
    writtenAt = performance.now();
    try {
      pwrite(fd, via === 'v1' ? FROZEN : ONE);
      writeMs = performance.now() - writtenAt;
      // Frozen tasks cannot fork: one walk reaches them all. Bounded: 500 ms.
      const deadline = writtenAt + 500;
      while (!frozen(h, via) && performance.now() < deadline) sleepSync(1);
      writeToFrozenMs = performance.now() - writtenAt;
      signalsSent += killAll(via === 'v1' ? v1Pids(h) : h.job.pids(), signalled);
      pwrite(fd, via === 'v1' ? THAWED : ZERO);
    } catch (error) {
      if (!gone(error)) throw error;
    }
  } else {
    writtenAt = performance.now();
    signalsSent += killAll(h.v1ProcsFd !== null ? v1Pids(h) : h.job.pids(), signalled);
  }
  const deadline = writtenAt + timeoutMs;
  let state = jobPopulated(h);
  while (state.populated && performance.now() < deadline) {
    // Processes that were not frozen in time (or a walk that raced a fork): signal the new ones.
    if (route !== 'cgroup.kill') signalsSent += killAll(h.v1ProcsFd !== null ? v1Pids(h) : h.job.pids(), signalled);
    await delay(pollMs);
    state = jobPopulated(h);
  }
  const doneAt = performance.now();
  return {
    jobId: h.jobId,
    path: route,
    empty: !state.populated,
    judgedBy: state.judgedBy,
    decisionToWriteMs: writtenAt - decidedAt,
    writeMs,
    writeToFrozenMs,
    writeToEmptyMs: state.populated ? null : doneAt - writtenAt,
    signalsSent,
  };
}

// ------------------------------------------------------------------------------ freeze / thaw

export interface FreezeResult {
  jobId: number;
  /** SIGSTOP: a job without cgroups (its processes stopped one by one). */
  via: 'cgroup.freeze' | 'freezer.state' | 'SIGSTOP';
  /** Frozen within the bounded wait. */
  done: boolean;
  writeToDoneMs: number | null;
}

/** Freezes the job (v2 cgroup.freeze where present, else the v1 freezer) and waits, bounded, for it to be frozen. */
export async function freezeJob(h: JobHandles, options: { timeoutMs?: number; pollMs?: number; via?: 'v1' | 'v2' } = {}): Promise<FreezeResult> {
  const via = options.via ?? (h.freezeFd !== null ? 'v2' : h.freezerStateFd !== null ? 'v1' : null);
  if ((via === 'v2' && h.freezeFd === null) || (via === 'v1' && h.freezerStateFd === null)) throw new Error(`job ${h.jobId} has no ${via === 'v2' ? 'cgroup.freeze' : 'v1 freezer cgroup'}`);
  if (via === null) throw new Error(`job ${h.jobId} has neither cgroup.freeze nor a v1 freezer cgroup`);
  const writtenAt = performance.now();
  pwrite(via === 'v2' ? h.freezeFd! : h.freezerStateFd!, via === 'v2' ? ONE : FROZEN);
  const deadline = writtenAt + (options.timeoutMs ?? 2000);
  let done = frozen(h, via);
  while (!done && performance.now() < deadline) {
    await delay(options.pollMs ?? 1);
    done = frozen(h, via);
  }
  return { jobId: h.jobId, via: via === 'v2' ? 'cgroup.freeze' : 'freezer.state', done, writeToDoneMs: done ? performance.now() - writtenAt : null };
}

/** Thaws the job in every freezer it has (v2 cgroup.freeze and the v1 freezer). */
export function thawJob(h: JobHandles): void {
  for (const [fd, value] of [
    [h.freezeFd, ZERO],
    [h.freezerStateFd, THAWED],
  ] as const) {
    if (fd === null) continue;
    try {
      pwrite(fd, value);
    } catch (error) {
      if (!gone(error)) throw error;
    }
  }
}

/** Whether the job is frozen now (either freezer). */
export function jobFrozen(h: JobHandles): boolean {
  return (h.freezeFd !== null && frozen(h, 'v2')) || (h.freezerStateFd !== null && preadText(h.freezerStateFd)?.trim() === 'FROZEN');
}

// ------------------------------------------------------------------------------ throttle

export interface ThrottleResult {
  jobId: number;
  file: string;
  previous: string;
  written: string;
}

/**
 * Caps the job's CPU at `cpus` (v1 cpu.cfs_quota_us, v2 cpu.max); null lifts the cap
 * (`-1` / `max`). Not a hot path: plain file writes.
 */
export function throttleJob(h: JobHandles, cpus: number | null): ThrottleResult {
  if (!h.cpu) throw new Error(`job ${h.jobId} has no cpu controller to throttle it with`);
  if (cpus !== null && !(cpus > 0)) throw new Error(`a CPU cap must be above 0 (got ${cpus})`);
  if (h.cpu.version === 2) {
    const file = path.join(h.cpu.dir, 'cpu.max');
    const previous = fs.readFileSync(file, 'utf8').trim();
    const period = Number(previous.split(' ')[1]) || 100_000;
    const written = cpus === null ? `max ${period}` : `${Math.max(1000, Math.round(cpus * period))} ${period}`;
    fs.writeFileSync(file, written);
    return { jobId: h.jobId, file, previous, written };
  }
  const file = path.join(h.cpu.dir, 'cpu.cfs_quota_us');
  const previous = fs.readFileSync(file, 'utf8').trim();
  const period = Number(fs.readFileSync(path.join(h.cpu.dir, 'cpu.cfs_period_us'), 'utf8').trim()) || 100_000;
  const written = cpus === null ? '-1' : String(Math.max(1000, Math.round(cpus * period)));
  fs.writeFileSync(file, written);
  return { jobId: h.jobId, file, previous, written };
}

// ------------------------------------------------------------------------------ processes

/** Refuses pids the watchdog must never signal: 0, 1, negative (process groups), itself. */
function checkPid(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`refusing to signal pid ${pid}`);
  if (pid === process.pid) throw new Error('refusing to signal the watchdog itself');
}

/** The state letter of /proc/<pid>/stat (R, S, D, T, t, Z…); null when the process is gone. */
export function processState(pid: number): string | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) || null;
  } catch {
    return null;
  }
}

export interface SignalResult {
  pid: number;
  /** The process reached the wanted state (stopped / running again) within the bounded wait; false when it is gone. */
  done: boolean;
  state: string | null;
}

async function signalAndWait(pid: number, signal: 'SIGSTOP' | 'SIGCONT', reached: (s: string) => boolean, timeoutMs: number): Promise<SignalResult> {
  checkPid(pid);
  try {
    process.kill(pid, signal);
  } catch {
    return { pid, done: false, state: null };
  }
  const deadline = performance.now() + timeoutMs;
  let state = processState(pid);
  while (state !== null && !reached(state) && performance.now() < deadline) {
    await delay(1);
    state = processState(pid);
  }
  return { pid, done: state !== null && reached(state), state };
}

/** SIGSTOP a process outside any job; waits (bounded) until it shows state T. */
export function stopProcess(pid: number, options: { timeoutMs?: number } = {}): Promise<SignalResult> {
  return signalAndWait(pid, 'SIGSTOP', (s) => s === 'T', options.timeoutMs ?? 1000);
}

/** SIGCONT a stopped process; waits (bounded) until it no longer shows state T. */
export function continueProcess(pid: number, options: { timeoutMs?: number } = {}): Promise<SignalResult> {
  return signalAndWait(pid, 'SIGCONT', (s) => s !== 'T', options.timeoutMs ?? 1000);
}

export interface ReniceResult {
  pid: number;
  /** The nice value of the main thread before. */
  previous: number;
  nice: number;
  /** Threads reniced (setpriority acts per thread on Linux, so every one of /proc/<pid>/task). */
  threads: number;
}

/** Renices every thread of a process (no fork: os.setPriority per thread id). */
export function reniceProcess(pid: number, nice: number): ReniceResult {
  checkPid(pid);
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new Error(`nice must be an integer from -20 to 19 (got ${nice})`);
  const previous = os.getPriority(pid);
  let tids: number[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    tids = [pid];
  }
  let threads = 0;
  for (const tid of tids) {
    try {
      os.setPriority(tid, nice);
      threads++;
    } catch (error) {
      if (tid === pid) throw error;
    }
  }
  return { pid, previous, nice, threads };
}
