/**
 * The scheduler benchmark's workload and measurements, shared by `bench/scheduler.ts` (the pure
 * scheduler alone) and `bench/batch-vs-slurm.ts` (side by side with a live SLURM): 100 000
 * pending jobs of 50 users in 10 subgroups on one 64-CPU node with a few dozen running jobs,
 * and the heap held by 1 000 000 pending SchedJobs.
 *
 * Importing this module runs nothing.
 */
import { seededRandom } from '../src/lib/random.ts';
import { performance } from 'node:perf_hooks';
import type { NodeResources, RunningSchedJob, SchedJob, SchedulerPolicy, SchedulerState } from '../src/batch/model.ts';
import { defaultQueues } from '../src/batch/queues.ts';
import { schedule } from '../src/batch/scheduler.ts';

/** notes/batch.md G4 (one pass, decisions/s) and G7 (memory for 1 000 000 pending). */
export const SCHEDULER_GOALS = { passMs: 50, decisionsPerSecond: 20_000, millionPendingBytes: 2 * 1024 ** 3 };

const GIB = 1024 ** 3;
const HOUR = 3_600_000;
/** The scheduler's clock in every pass (the state is built relative to it). */
export const NOW = Date.parse('2026-03-02T09:00:00Z');

const prng = seededRandom;

const USERS = Array.from({ length: 50 }, (_, i) => ({ user: `user${String(i).padStart(2, '0')}`, subgroup: `sg${i % 10}`, workgroup: `wg${i % 5}` }));
const QUEUE_MIX = ['short', 'short', 'short', 'middle', 'middle', 'large', 'express', 'huge'];

/** A fresh copy of a string, as rows read from a database give (no sharing between jobs). */
const fresh = (s: string) => (' ' + s).slice(1);

/**
 * Pending jobs as a store would hand them over: every job its own request object, its own
 * dependencies array and its own copies of the user, subgroup, workgroup and queue names (no
 * interning, the pessimistic case for memory and for the pass).
 */
export function pendingJobs(count: number, seed: number, firstId: number): SchedJob[] {
  const rnd = prng(seed);
  const jobs: SchedJob[] = new Array(count);
  for (let i = 0; i < count; i++) {
    // Users submit in bursts: a flooding user gives long runs of consecutive jobs.
    const who = USERS[Math.floor((i / count) * 400 + rnd() * 3) % USERS.length]!;
    const id = firstId + i;
    const r = rnd();
    const cpus = [1, 2, 4, 8][Math.floor(rnd() * rnd() * 4)]!;
    jobs[i] = {
      id,
      user: fresh(who.user),
      subgroup: fresh(who.subgroup),
      workgroup: fresh(who.workgroup),
      queue: fresh(QUEUE_MIX[Math.floor(rnd() * QUEUE_MIX.length)]!),
      request: r < 0.02 ? { cpus: 4, memBytes: 16 * GIB, gpus: 1, gpuType: fresh('h100') } : { cpus, memBytes: cpus * 2 * GIB, gpus: 0, gpuType: null },
      timeLimitMs: Math.ceil(rnd() * 6) * HOUR,
      submittedAt: NOW - (count - i) * 500,
      eligibleAt: r > 0.995 ? NOW + HOUR : null,
      held: r > 0.99 && r <= 0.995,
      dependencies: r > 0.985 && r <= 0.99 && i > 0 ? [{ jobId: id - 1, type: 'ok' }] : [],
      arrayJobId: r > 0.9 && r <= 0.95 ? firstId + (i - (i % 100)) : null,
      arrayMaxRunning: r > 0.9 && r <= 0.95 ? 5 : null,
    };
  }
  return jobs;
}

/** The scheduler's input: `count` pending jobs, one 64-CPU node with 4 GPUs nearly full, usage of 50 users. */
export function buildState(count: number): { state: SchedulerState; nodes: NodeResources[]; policy: SchedulerPolicy } {
  const rnd = prng(7);
  const node: NodeResources = {
    name: 'node01',
    cpus: 64,
    memBytes: 256 * GIB,
    gpus: [0, 1, 2, 3].map((index) => ({ index, uuid: `GPU-${index}`, type: 'h100', memBytes: 80 * GIB })),
    accepting: true,
  };
  const running: RunningSchedJob[] = [];
  let cpus = 0;
  for (let i = 0; cpus < 62; i++) {
    const who = USERS[(i * 7) % USERS.length]!;
    const c = 1 + (i % 3);
    cpus += c;
    running.push({
      id: 1 + i,
      user: who.user,
      subgroup: who.subgroup,
      workgroup: who.workgroup,
      queue: 'short',
      request: { cpus: c, memBytes: c * 2 * GIB, gpus: i < 2 ? 1 : 0, gpuType: null },
      timeLimitMs: HOUR,
      submittedAt: NOW - 2 * HOUR,
      eligibleAt: null,
      held: false,
      dependencies: [],
      arrayJobId: null,
      arrayMaxRunning: null,
      node: 'node01',
      startedAt: NOW - Math.floor(rnd() * HOUR),
      gpuIndices: i < 2 ? [i] : [],
    });
  }
  const usage = { byUser: new Map<string, number>(), bySubgroup: new Map<string, number>() };
  for (const who of USERS) {
    const used = rnd() * 1e6;
    usage.byUser.set(who.user, used);
    usage.bySubgroup.set(who.subgroup, (usage.bySubgroup.get(who.subgroup) ?? 0) + used);
  }
  const policy: SchedulerPolicy = {
    queues: new Map(defaultQueues().map((q) => [q.name, q])),
    subgroupShares: new Map(Array.from({ length: 10 }, (_, i) => [`sg${i}`, 1 + (i % 3)])),
    usageWeights: { cpu: 1, memGiB: 0.25, gpu: 10 },
    decayHalfLifeMs: 7 * 24 * HOUR,
    backfill: true,
  };
  return { state: { pending: pendingJobs(count, 42, 1000), running, finished: new Map(), usage }, nodes: [node], policy };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The garbage collector, when node runs with --expose-gc. */
export const gc = (globalThis as { gc?: () => void }).gc;

export interface PassTiming {
  /** Wall time of each pass, ms. */
  wall: number[];
  /** CPU time of this process (all threads, the collector's too) during each pass, ms. */
  cpu: number[];
  /** Starts + kills + pending explanations of the last pass. */
  decisions: number;
  starts: number;
  /** Pending reasons of the last pass, by kind. */
  reasons: Map<string, number>;
}

/** Times `runs` passes; with `afterFullGc`, each right after a full garbage collection. */
export function timePasses(state: SchedulerState, nodes: NodeResources[], policy: SchedulerPolicy, runs: number, afterFullGc: boolean): PassTiming {
  const timing: PassTiming = { wall: [], cpu: [], decisions: 0, starts: 0, reasons: new Map() };
  for (let i = 0; i < runs; i++) {
    if (afterFullGc) gc?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const result = schedule(state, nodes, policy, NOW);
    timing.wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    timing.cpu.push((c.user + c.system) / 1000);
    timing.decisions = result.start.length + result.kill.length + result.pending.length;
    timing.starts = result.start.length;
    timing.reasons = new Map();
    for (const p of result.pending) timing.reasons.set(p.reason.kind, (timing.reasons.get(p.reason.kind) ?? 0) + 1);
  }
  return timing;
}

export interface FullPassResult {
  pending: number;
  running: number;
  runs: number;
  /** Passes back to back, as a busy server runs them (the goal is judged on this one). */
  steady: PassTiming;
  /** Each pass after a forced full GC (the worst case); null without --expose-gc. */
  afterGc: PassTiming | null;
}

/** One full pass over `pending` jobs (5 warm-up passes, then `runs` timed ones, back to back and after a full GC). */
export function measureFullPass(pending: number, runs: number): FullPassResult {
  const { state, nodes, policy } = buildState(pending);
  for (let i = 0; i < 5; i++) schedule(state, nodes, policy, NOW);
  const steady = timePasses(state, nodes, policy, runs, false);
  const afterGc = gc === undefined ? null : timePasses(state, nodes, policy, runs, true);
  return { pending, running: state.running.length, runs, steady, afterGc };
}

export interface MillionPendingResult {
  jobs: number;
  /** Heap held by the pending SchedJobs (after full collections before and after building them). */
  heapBytes: number;
  /** One pass over them, ms (no goal, for scale). */
  passMs: number;
  explanations: number;
  /** The process's resident set after that pass. */
  rssBytes: number;
}

/** The heap held by `count` pending jobs, and one pass over them; null without --expose-gc. */
export function measureMillionPending(count = 1_000_000): MillionPendingResult | null {
  if (gc === undefined) return null;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const jobs = pendingJobs(count, 99, 10_000_000);
  gc();
  gc();
  const heapBytes = process.memoryUsage().heapUsed - before;
  const { state, nodes, policy } = buildState(0);
  const big = { ...state, pending: jobs };
  schedule(big, nodes, policy, NOW);
  const t0 = performance.now();
  const result = schedule(big, nodes, policy, NOW);
  const passMs = performance.now() - t0;
  return { jobs: jobs.length, heapBytes, passMs, explanations: result.pending.length, rssBytes: process.memoryUsage().rss };
}
