/**
 * What SLURM's commands print, read into plain values, and SLURM's states in Keisan's words.
 * Pure: the executor runs the commands (with SLURM_TIME_FORMAT=%s, so times are epoch seconds).
 */
import type { EndState } from '../../executor.ts';

/** The squeue columns the executor asks for, in order (`squeue --noheader -o SQUEUE_FORMAT`). */
export const SQUEUE_FIELDS = ['id', 'state', 'reason', 'nodes', 'start', 'end', 'comment', 'user'] as const;
export const SQUEUE_FORMAT = '%i|%T|%r|%N|%S|%e|%k|%u';
/** The sacct columns, in order (`sacct -n -P --format=SACCT_FORMAT`). */
export const SACCT_FORMAT = 'JobIDRaw,State,ExitCode,Start,End,NodeList,TotalCPU,MaxRSS,Comment';

export interface SqueueRow {
  /** SLURM's job id as squeue prints it ("500001", "500001_3" for an array task). */
  id: string;
  state: string;
  reason: string;
  nodes: string | null;
  /** Epoch ms; for a pending job, SLURM's expected start (backfill's estimate) or null. */
  start: number | null;
  end: number | null;
  comment: string | null;
  user: string;
}

const nullable = (text: string): string | null => (text === '' || text === '(null)' || text === 'N/A' || text === 'None' || text === 'Unknown' ? null : text);

/** An epoch-seconds field (SLURM_TIME_FORMAT=%s) in ms; null for N/A, Unknown, None, 0. */
export function parseEpoch(text: string): number | null {
  const value = nullable(text.trim());
  if (value === null || !/^\d+$/.test(value)) return null;
  const seconds = Number(value);
  return seconds > 0 ? seconds * 1000 : null;
}

export function parseSqueue(text: string): SqueueRow[] {
  const rows: SqueueRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const cells = line.split('|');
    // A comment could hold '|': everything between the fixed columns belongs to it.
    if (cells.length < SQUEUE_FIELDS.length) continue;
    const user = cells.pop()!;
    const [id, state, reason, nodes, start, end, ...comment] = cells;
    rows.push({ id: id!.trim(), state: state!.trim(), reason: reason!.trim(), nodes: nullable(nodes!.trim()), start: parseEpoch(start!), end: parseEpoch(end!), comment: nullable(comment.join('|')), user: user.trim() });
  }
  return rows;
}

export interface SacctJob {
  id: string;
  state: string;
  exitCode: number | null;
  signal: number | null;
  start: number | null;
  end: number | null;
  nodes: string | null;
  /** CPU time of all the job's steps (the job line's TotalCPU sums them). */
  cpuSeconds: number | null;
  /** The largest MaxRSS of its steps. */
  maxRssBytes: number | null;
  comment: string | null;
}

/** `[DD-[HH:]]MM:SS[.mmm]` (sacct's TotalCPU, Elapsed) in seconds; null when empty. */
export function parseSlurmDuration(text: string): number | null {
  const value = text.trim();
  if (!value || value === 'INVALID') return null;
  const match = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(value);
  if (!match) return null;
  const [, days, hours, minutes, seconds] = match;
  return Number(days ?? 0) * 86400 + Number(hours ?? 0) * 3600 + Number(minutes) * 60 + Number(seconds);
}

/** sacct's sizes: "1234K", "12.5M", "0" (KiB when no unit, as sacct prints MaxRSS). */
export function parseSlurmSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)([KMGTP]?)$/i.exec(text.trim());
  if (!match) return null;
  const power = { '': 1, K: 1, M: 2, G: 3, T: 4, P: 5 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T' | 'P'];
  return Math.round(Number(match[1]) * 1024 ** power);
}

/** "3:0" → exit 3, no signal; "0:9" → signal 9. */
export function parseExitCode(text: string): { exitCode: number | null; signal: number | null } {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  if (!match) return { exitCode: null, signal: null };
  const signal = Number(match[2]);
  return { exitCode: Number(match[1]), signal: signal === 0 ? null : signal };
}

/** sacct lines of jobs and their steps (500001, 500001.batch, 500001.extern) folded into one per job. */
export function parseSacct(text: string): SacctJob[] {
  const jobs = new Map<string, SacctJob>();
  const steps: Array<{ job: string; cpuSeconds: number | null; maxRss: number | null }> = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [rawId, state, exit, start, end, nodes, totalCpu, maxRss, ...comment] = line.split('|');
    if (rawId === undefined || state === undefined) continue;
    const id = rawId.trim();
    const dot = id.indexOf('.');
    if (dot >= 0) {
      steps.push({ job: id.slice(0, dot), cpuSeconds: parseSlurmDuration(totalCpu ?? ''), maxRss: parseSlurmSize(maxRss ?? '') });
      continue;
    }
    const { exitCode, signal } = parseExitCode(exit ?? '');
    jobs.set(id, {
      id,
      state: state.trim(),
      exitCode,
      signal,
      start: parseEpoch(start ?? ''),
      end: parseEpoch(end ?? ''),
      nodes: nullable((nodes ?? '').trim()),
      cpuSeconds: parseSlurmDuration(totalCpu ?? ''),
      maxRssBytes: null,
      comment: nullable(comment.join('|')),
    });
  }
  for (const step of steps) {
    const job = jobs.get(step.job);
    if (!job) continue;
    if (step.maxRss !== null) job.maxRssBytes = Math.max(job.maxRssBytes ?? 0, step.maxRss);
  }
  return [...jobs.values()];
}

/** `scontrol show job -o ID`: one line of Key=Value pairs (values may hold spaces only in a few keys we do not read). */
export function parseScontrolJob(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of text.matchAll(/(?:^|\s)([A-Za-z][A-Za-z0-9/:_]*)=(\S*)/g)) fields[match[1]!] = match[2]!;
  return fields;
}

export type FollowedState = 'pending' | 'running' | EndState | 'preempted';

/** SLURM's job state (with any "by 0" suffix or "+" flag) in Keisan's words. */
export function keisanState(slurmState: string): FollowedState {
  const base = slurmState.trim().split(/\s+/)[0]!.replace(/\+$/, '').toUpperCase();
  switch (base) {
    case 'PENDING':
    case 'REQUEUED':
    case 'REQUEUE_HOLD':
    case 'REQUEUE_FED':
    case 'RESV_DEL_HOLD':
    case 'SPECIAL_EXIT':
      return 'pending';
    case 'COMPLETED':
      return 'completed';
    case 'FAILED':
    case 'BOOT_FAIL':
      return base === 'BOOT_FAIL' ? 'node-fail' : 'failed';
    case 'CANCELLED':
    case 'REVOKED':
      return 'cancelled';
    case 'TIMEOUT':
    case 'DEADLINE':
      return 'timeout';
    case 'OUT_OF_MEMORY':
      return 'out-of-memory';
    case 'NODE_FAIL':
      return 'node-fail';
    case 'PREEMPTED':
      return 'preempted';
    default:
      // RUNNING, CONFIGURING, COMPLETING, SUSPENDED, STOPPED, SIGNALING, STAGE_OUT, RESIZING
      return 'running';
  }
}

/** The comment Keisan puts on every job it submits: whose instance, which Keisan job. */
export function jobComment(instance: string, jobId: number): string {
  return `keisan:${instance}:${jobId}`;
}

/** The Keisan job id in a comment of this instance; null for anything else. */
export function jobIdFromComment(comment: string | null, instance: string): number | null {
  if (!comment) return null;
  const match = /^keisan:([^:]+):(\d+)$/.exec(comment.trim());
  return match && match[1] === instance ? Number(match[2]) : null;
}

/** Signal numbers as names for a job's end ("killed by SIGKILL"). */
export function signalName(signal: number | null): string | null {
  if (signal === null) return null;
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ' };
  return names[signal] ?? `signal ${signal}`;
}

/** sinfo -N -h -o '%N|%c|%m|%G|%T': a node per line. */
export interface SinfoNode {
  name: string;
  cpus: number;
  memBytes: number;
  gpus: number;
  state: string;
}
export const SINFO_FORMAT = '%N|%c|%m|%G|%T';

export function parseSinfo(text: string): SinfoNode[] {
  const nodes = new Map<string, SinfoNode>();
  for (const line of text.split('\n')) {
    const [name, cpus, mem, gres, state] = line.split('|').map((c) => c.trim());
    if (!name || cpus === undefined) continue;
    let gpus = 0;
    for (const part of (gres ?? '').split(',')) {
      const match = /^gpu(?::[^:(]+)?:(\d+)/.exec(part);
      if (match) gpus += Number(match[1]);
    }
    // A node in several partitions is listed once per partition.
    nodes.set(name, { name, cpus: Number(cpus), memBytes: Number(mem) * 1024 * 1024, gpus, state: state ?? 'unknown' });
  }
  return [...nodes.values()];
}
