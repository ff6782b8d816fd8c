import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  GpuDevice,
  JobState,
  NodeResources,
  PendingExplanation,
  Queue,
  RunningSchedJob,
  SchedJob,
  SchedulerPolicy,
  SchedulerState,
  UsageSnapshot,
} from './model.ts';
import { defaultQueues } from './queues.ts';
import { ESTIMATE_DEPTH, schedule } from './scheduler.ts';

const GIB = 1024 ** 3;
const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = Date.parse('2026-03-02T09:00:00Z');

let nextId = 1000;

interface JobSpec extends Partial<Omit<SchedJob, 'request'>> {
  cpus?: number;
  memGiB?: number;
  gpus?: number;
  gpuType?: string | null;
}

function job(spec: JobSpec = {}): SchedJob {
  const { cpus = 1, memGiB = 1, gpus = 0, gpuType = null, ...rest } = spec;
  const id = rest.id ?? nextId++;
  return {
    id,
    user: 'alice',
    subgroup: 'ana',
    workgroup: 'phys',
    queue: 'q',
    request: { cpus, memBytes: memGiB * GIB, gpus, gpuType },
    timeLimitMs: HOUR,
    submittedAt: NOW - 10 * MIN + id,
    eligibleAt: null,
    held: false,
    dependencies: [],
    arrayJobId: null,
    arrayMaxRunning: null,
    ...rest,
  };
}

function running(spec: JobSpec & { node?: string; startedAt?: number; gpuIndices?: number[] } = {}): RunningSchedJob {
  const { node = 'n1', startedAt = NOW - 10 * MIN, gpuIndices = [], ...rest } = spec;
  return { ...job(rest), node, startedAt, gpuIndices };
}

function gpus(count: number, type = 'h200'): GpuDevice[] {
  return Array.from({ length: count }, (_, index) => ({ index, uuid: `GPU-${index}`, type, memBytes: 141 * GIB }));
}

function node(name: string, cpus: number, memGiB = 64, devices: GpuDevice[] = [], accepting = true): NodeResources {
  return { name, cpus, memBytes: memGiB * GIB, gpus: devices, accepting };
}

function queue(over: Partial<Queue> = {}): Queue {
  return {
    ...defaultQueues()[1]!,
    name: 'q',
    priority: 50,
    wallTimeLimitMs: 7 * 24 * HOUR,
    maxCpus: 1024,
    maxGpus: 64,
    maxMemBytes: 1024 * GIB,
    maxRunningPerUser: null,
    maxRunningPerSubgroup: null,
    maxRunningPerHost: null,
    ...over,
  };
}

function policy(queues: Queue[] = [queue()], over: Partial<SchedulerPolicy> = {}): SchedulerPolicy {
  return {
    queues: new Map(queues.map((q) => [q.name, q])),
    subgroupShares: new Map(),
    usageWeights: { cpu: 1, memGiB: 0, gpu: 0 },
    decayHalfLifeMs: 24 * HOUR,
    backfill: true,
    ...over,
  };
}

function emptyUsage(): UsageSnapshot {
  return { byUser: new Map(), bySubgroup: new Map() };
}

function state(pending: SchedJob[], run: RunningSchedJob[] = [], finished = new Map<number, JobState>(), usage = emptyUsage()): SchedulerState {
  return { pending, running: run, finished, usage };
}

function explanationOf(result: { pending: PendingExplanation[] }, id: number): PendingExplanation {
  const e = result.pending.find((p) => p.jobId === id);
  assert.ok(e, `job ${id} has an explanation`);
  return e;
}

const started = (result: { start: { jobId: number }[] }) => result.start.map((s) => s.jobId);

describe('schedule: resources', () => {
  it('starts what fits and explains the rest as waiting for resources, with an estimate', () => {
    const a = job({ cpus: 2 });
    const b = job({ cpus: 2 });
    const c = job({ cpus: 2 });
    const result = schedule(state([a, b, c]), [node('n1', 4)], policy(), NOW);
    assert.deepEqual(started(result), [a.id, b.id]);
    assert.equal(result.pending.length, 1);
    const e = explanationOf(result, c.id);
    assert.equal(e.reason.kind, 'resources');
    assert.ok(e.reason.kind === 'resources' && e.reason.freeBest !== null && e.reason.freeBest.cpus === 0);
    assert.equal(e.estimatedStart, NOW + HOUR, 'when the first started job reaches its time limit');
    assert.equal(e.afterJob, a.id);
    assert.equal(e.position, 1, 'the started jobs left the line');
  });

  it('counts memory as well as CPUs, and what running jobs hold', () => {
    const r = running({ cpus: 1, memGiB: 40 });
    const big = job({ cpus: 1, memGiB: 30 });
    const small = job({ cpus: 1, memGiB: 20 });
    const result = schedule(state([big, small], [r]), [node('n1', 8, 64)], policy(), NOW);
    assert.deepEqual(started(result), [small.id]);
    assert.equal(explanationOf(result, big.id).reason.kind, 'resources');
  });

  it('assigns GPUs exclusively: three 1-GPU jobs on a 2-GPU node → two start on different devices, one waits', () => {
    const jobs = [job({ gpus: 1 }), job({ gpus: 1 }), job({ gpus: 1 })];
    const result = schedule(state(jobs), [node('gpu1', 16, 128, gpus(2))], policy(), NOW);
    assert.equal(result.start.length, 2);
    const devices = result.start.flatMap((s) => s.gpuIndices).sort();
    assert.deepEqual(devices, [0, 1]);
    assert.deepEqual(result.start[0]!.gpuIndices.length, 1);
    assert.equal(explanationOf(result, jobs[2]!.id).reason.kind, 'resources');
  });

  it('never hands out a GPU a running job holds', () => {
    const r = running({ gpus: 1, gpuIndices: [0], node: 'gpu1' });
    const j = job({ gpus: 1 });
    const result = schedule(state([j], [r]), [node('gpu1', 16, 128, gpus(2))], policy(), NOW);
    assert.deepEqual(result.start, [{ jobId: j.id, node: 'gpu1', gpuIndices: [1] }]);
  });

  it('matches the GPU type, and a request no node can hold does not block others', () => {
    const devices: GpuDevice[] = [
      { index: 0, uuid: 'a', type: 'a100', memBytes: 80 * GIB },
      { index: 1, uuid: 'b', type: 'h200', memBytes: 141 * GIB },
    ];
    const wantsH200 = job({ gpus: 1, gpuType: 'h200' });
    const wantsV100 = job({ gpus: 1, gpuType: 'v100' });
    const anyGpu = job({ gpus: 1 });
    const result = schedule(state([wantsV100, wantsH200, anyGpu]), [node('gpu1', 16, 128, devices)], policy(), NOW);
    assert.deepEqual(result.start, [
      { jobId: wantsH200.id, node: 'gpu1', gpuIndices: [1] },
      { jobId: anyGpu.id, node: 'gpu1', gpuIndices: [0] },
    ]);
    const e = explanationOf(result, wantsV100.id);
    assert.equal(e.reason.kind, 'resources');
    assert.equal(e.noEstimate, 'never-fits');
    assert.equal(e.estimatedStart, null);
  });

  it('uses nodes in name order and skips nodes that take no jobs', () => {
    const nodes = [node('n2', 2), node('n1', 1), node('n0', 8, 64, [], false)];
    const jobs = [job({ cpus: 1 }), job({ cpus: 1 }), job({ cpus: 1 }), job({ cpus: 1 })];
    const result = schedule(state(jobs), nodes, policy(), NOW);
    assert.deepEqual(result.start.map((s) => s.node), ['n1', 'n2', 'n2']);
    assert.equal(explanationOf(result, jobs[3]!.id).reason.kind, 'resources');
  });

  it('with no node taking jobs, says so (freeBest null)', () => {
    const j = job();
    const result = schedule(state([j]), [node('n1', 4, 64, [], false)], policy(), NOW);
    const e = explanationOf(result, j.id);
    assert.ok(e.reason.kind === 'resources' && e.reason.freeBest === null);
  });
});

describe('schedule: limits', () => {
  it('per user, counting running jobs of the same queue only', () => {
    const q = queue({ maxRunningPerUser: 2 });
    const other = queue({ name: 'other', maxRunningPerUser: null });
    const r1 = running({ queue: 'q' });
    const r2 = running({ queue: 'other' });
    const a = job();
    const b = job();
    const result = schedule(state([a, b], [r1, r2]), [node('n1', 16)], policy([q, other]), NOW);
    assert.deepEqual(started(result), [a.id]);
    assert.deepEqual(explanationOf(result, b.id).reason, { kind: 'limit', limit: 'user', max: 2, running: 2 });
  });

  it('per subgroup, across its users', () => {
    const q = queue({ maxRunningPerSubgroup: 2 });
    const jobs = [job({ user: 'u1' }), job({ user: 'u2' }), job({ user: 'u3' })];
    const result = schedule(state(jobs), [node('n1', 16)], policy([q]), NOW);
    assert.equal(result.start.length, 2);
    const waiting = result.pending[0]!;
    assert.deepEqual(waiting.reason, { kind: 'limit', limit: 'subgroup', max: 2, running: 2 });
  });

  it('per host: another node may still take the job', () => {
    const q = queue({ maxRunningPerHost: 1 });
    const jobs = [job(), job(), job()];
    const result = schedule(state(jobs), [node('n1', 16), node('n2', 16)], policy([q]), NOW);
    assert.deepEqual(result.start.map((s) => s.node), ['n1', 'n2']);
    assert.deepEqual(explanationOf(result, jobs[2]!.id).reason, { kind: 'limit', limit: 'host', max: 1, running: 1 });
  });

  it('array throttle (%2): at most two tasks at once, running ones included', () => {
    const array = 500;
    const r = running({ arrayJobId: array, arrayMaxRunning: 2 });
    const tasks = [1, 2, 3].map(() => job({ arrayJobId: array, arrayMaxRunning: 2 }));
    const loose = job();
    const result = schedule(state([...tasks, loose], [r]), [node('n1', 16)], policy(), NOW);
    assert.deepEqual(started(result), [tasks[0]!.id, loose.id]);
    for (const t of tasks.slice(1)) assert.deepEqual(explanationOf(result, t.id).reason, { kind: 'limit', limit: 'array', max: 2, running: 2 });
  });
});

describe('schedule: dependencies, holds, begin times, queues', () => {
  const cases: { type: 'ok' | 'any' | 'notok'; state: JobState; runs: boolean }[] = [
    { type: 'ok', state: 'completed', runs: true },
    { type: 'ok', state: 'failed', runs: false },
    { type: 'any', state: 'failed', runs: true },
    { type: 'any', state: 'cancelled', runs: true },
    { type: 'notok', state: 'failed', runs: true },
    { type: 'notok', state: 'timeout', runs: true },
    { type: 'notok', state: 'completed', runs: false },
  ];
  for (const c of cases) {
    it(`after${c.type} on a job that ended ${c.state}: ${c.runs ? 'starts' : 'never satisfied → killed'}`, () => {
      const j = job({ dependencies: [{ jobId: 7, type: c.type }] });
      const result = schedule(state([j], [], new Map([[7, c.state]])), [node('n1', 4)], policy(), NOW);
      if (c.runs) {
        assert.deepEqual(started(result), [j.id]);
        assert.deepEqual(result.kill, []);
      } else {
        assert.deepEqual(result.start, []);
        assert.deepEqual(result.kill, [{ jobId: j.id, reason: 'dependency-never-satisfied' }]);
        assert.deepEqual(explanationOf(result, j.id).reason, { kind: 'dependency-never-satisfied', jobId: 7, state: c.state });
      }
    });
  }

  it('waits for jobs still pending or running; an unknown job can never satisfy it', () => {
    const r = running({ id: 1 });
    const p = job({ id: 2, held: true });
    const waitsRunning = job({ dependencies: [{ jobId: 1, type: 'ok' }] });
    const waitsBoth = job({ dependencies: [{ jobId: 1, type: 'any' }, { jobId: 2, type: 'ok' }] });
    const unknown = job({ dependencies: [{ jobId: 99_999, type: 'any' }] });
    const result = schedule(state([p, waitsRunning, waitsBoth, unknown], [r]), [node('n1', 16)], policy(), NOW);
    assert.deepEqual(result.start, []);
    assert.deepEqual(explanationOf(result, waitsRunning.id).reason, { kind: 'dependency', waitingFor: [1] });
    assert.deepEqual(explanationOf(result, waitsBoth.id).reason, { kind: 'dependency', waitingFor: [1, 2] });
    assert.deepEqual(explanationOf(result, unknown.id).reason, { kind: 'dependency-never-satisfied', jobId: 99_999, state: 'unknown' });
    assert.deepEqual(result.kill, [{ jobId: unknown.id, reason: 'dependency-never-satisfied' }]);
  });

  it('a held job and one before its begin time do not start; one whose begin time passed does', () => {
    const held = job({ held: true });
    const later = job({ eligibleAt: NOW + HOUR });
    const due = job({ eligibleAt: NOW - 1 });
    const result = schedule(state([held, later, due]), [node('n1', 16)], policy(), NOW);
    assert.deepEqual(started(result), [due.id]);
    assert.deepEqual(explanationOf(result, held.id).reason, { kind: 'held' });
    assert.deepEqual(explanationOf(result, later.id).reason, { kind: 'begin-time', eligibleAt: NOW + HOUR });
    assert.equal(explanationOf(result, later.id).estimatedStart, null);
  });

  it('a disabled or unknown queue starts nothing', () => {
    const off = queue({ name: 'off', enabled: false });
    const a = job({ queue: 'off' });
    const b = job({ queue: 'gone' });
    const c = job({ queue: 'q' });
    const result = schedule(state([a, b, c]), [node('n1', 16)], policy([queue(), off]), NOW);
    assert.deepEqual(started(result), [c.id]);
    assert.deepEqual(explanationOf(result, a.id).reason, { kind: 'queue-disabled', queue: 'off' });
    assert.deepEqual(explanationOf(result, b.id).reason, { kind: 'queue-disabled', queue: 'gone' });
  });
});

describe('schedule: timeouts', () => {
  it('kills running jobs past their time limit, and only those', () => {
    const over = running({ startedAt: NOW - 2 * HOUR, timeLimitMs: HOUR });
    const exactly = running({ startedAt: NOW - HOUR, timeLimitMs: HOUR });
    const within = running({ startedAt: NOW - 10 * MIN, timeLimitMs: HOUR });
    const result = schedule(state([], [within, over, exactly]), [node('n1', 16)], policy(), NOW);
    assert.deepEqual(result.kill, [
      { jobId: over.id, reason: 'timeout' },
      { jobId: exactly.id, reason: 'timeout' },
    ].sort((a, b) => a.jobId - b.jobId));
  });

  it('does not hand out a timed-out job\'s resources before it is gone', () => {
    const over = running({ cpus: 4, startedAt: NOW - 2 * HOUR, timeLimitMs: HOUR });
    const j = job({ cpus: 4 });
    const result = schedule(state([j], [over]), [node('n1', 4)], policy(), NOW);
    assert.deepEqual(result.start, []);
    assert.equal(explanationOf(result, j.id).estimatedStart, NOW, 'expected as soon as the kill lands');
  });
});

describe('schedule: order', () => {
  it('a higher-priority queue goes first whatever the age or fair share', () => {
    const express = queue({ name: 'express', priority: 100 });
    const old = job({ queue: 'q', submittedAt: NOW - 5 * HOUR, user: 'bob', subgroup: 'b' });
    const fresh = job({ queue: 'express', submittedAt: NOW - MIN });
    const usage: UsageSnapshot = { byUser: new Map([['alice', 1e9]]), bySubgroup: new Map([['ana', 1e9]]) };
    const result = schedule(state([old, fresh], [], new Map(), usage), [node('n1', 1)], policy([queue(), express]), NOW);
    assert.deepEqual(started(result), [fresh.id]);
    assert.deepEqual(explanationOf(result, old.id).reason.kind, 'resources');
  });

  it('lower usage first, then age; within one pass a flooding user does not take the free slots back to back', () => {
    const flood = Array.from({ length: 100 }, (_, i) => job({ user: 'flood', subgroup: 's1', submittedAt: NOW - 2 * HOUR + i }));
    const b = Array.from({ length: 10 }, (_, i) => job({ user: 'b', subgroup: 's2', submittedAt: NOW - HOUR + i }));
    const c = Array.from({ length: 10 }, (_, i) => job({ user: 'c', subgroup: 's3', submittedAt: NOW - HOUR + 100 + i }));
    const result = schedule(state([...flood, ...b, ...c]), [node('n1', 9)], policy(), NOW);
    const byUser = new Map<number, string>([...flood, ...b, ...c].map((j) => [j.id, j.user]));
    const order = result.start.map((s) => byUser.get(s.jobId));
    assert.deepEqual(order, ['flood', 'b', 'c', 'flood', 'b', 'c', 'flood', 'b', 'c']);
  });

  it("a per-user fair-share queue ignores subgroups and their shares", () => {
    const jobs = ['a', 'b', 'c'].flatMap((user) => Array.from({ length: 10 }, () => job({ user, subgroup: user === 'c' ? 's2' : 's1' })));
    const shares = new Map([['s1', 10]]);
    const count = (result: { start: { jobId: number }[] }) => {
      const byUser = new Map<string, number>();
      for (const s of result.start) {
        const user = jobs.find((j) => j.id === s.jobId)!.user;
        byUser.set(user, (byUser.get(user) ?? 0) + 1);
      }
      return Object.fromEntries([...byUser].sort());
    };
    const perUser = schedule(state(jobs), [node('n1', 6)], policy([queue({ fairShare: 'user' })], { subgroupShares: shares }), NOW);
    assert.deepEqual(count(perUser), { a: 2, b: 2, c: 2 });
    assert.equal(perUser.pending[0]!.fairShare.users, 3);
    const bySubgroup = schedule(state(jobs), [node('n1', 6)], policy([queue()], { subgroupShares: shares }), NOW);
    assert.deepEqual(count(bySubgroup), { a: 3, b: 2, c: 1 }, 'by subgroup, s2 gets one start and s1, with ten times its shares, the other five');
  });

  it('positions count each queue in priority order; the first waiting job is first in line, the next ones say how many are ahead', () => {
    const jobs = Array.from({ length: 5 }, () => job({ cpus: 2 }));
    const result = schedule(state(jobs), [node('n1', 2)], policy(), NOW);
    assert.deepEqual(started(result), [jobs[0]!.id]);
    assert.deepEqual(result.pending.map((p) => p.position), [1, 2, 3, 4]);
    assert.equal(result.pending[0]!.reason.kind, 'resources');
    assert.deepEqual(result.pending[2]!.reason, { kind: 'priority', position: 3, ahead: 2 });
    // Estimates follow one another: each waits for the one before to reach its time limit.
    assert.deepEqual(result.pending.map((p) => p.estimatedStart), [1, 2, 3, 4].map((k) => NOW + k * HOUR));
    assert.deepEqual(result.pending.map((p) => p.afterJob), jobs.slice(0, 4).map((j) => j.id));
  });

  it('is deterministic: the same state in any order gives the same decisions', () => {
    const users = ['u1', 'u2', 'u3', 'u4'];
    const pending = Array.from({ length: 60 }, (_, i) =>
      job({ user: users[i % 4]!, subgroup: `s${i % 2}`, cpus: 1 + (i % 3), gpus: i % 7 === 0 ? 1 : 0, submittedAt: NOW - HOUR + (i % 5) * 1000 }),
    );
    const run = [running({ cpus: 3, user: 'u1', subgroup: 's0' }), running({ cpus: 2, user: 'u3', subgroup: 's1', gpus: 1, gpuIndices: [1], node: 'n2' })];
    const nodes = [node('n1', 8), node('n2', 8, 64, gpus(2))];
    const p = policy([queue({ maxRunningPerUser: 3 })], { subgroupShares: new Map([['s0', 2]]) });
    const first = schedule(state(pending, run), nodes, p, NOW);
    const reversed = schedule(state([...pending].reverse(), [...run].reverse()), [...nodes].reverse(), p, NOW);
    assert.deepEqual(reversed, first);
    assert.ok(first.start.length > 0 && first.pending.length > 0);
  });

  it('jobs deeper than ESTIMATE_DEPTH in line get no estimate, saying why', () => {
    const jobs = Array.from({ length: ESTIMATE_DEPTH + 5 }, () => job({ cpus: 4 }));
    const result = schedule(state(jobs, [running({ cpus: 2 })]), [node('n1', 4)], policy(), NOW);
    const last = result.pending[result.pending.length - 1]!;
    assert.equal(last.estimatedStart, null);
    assert.equal(last.noEstimate, 'too-far');
    assert.notEqual(result.pending[0]!.estimatedStart, null);
  });
});

describe('schedule: backfill', () => {
  // Node of 4 CPUs; a running job holds 2 until NOW+2h; 'big' needs all 4 (reserved for NOW+2h).
  const setup = () => {
    const r = running({ id: 1, cpus: 2, startedAt: NOW - HOUR, timeLimitMs: 3 * HOUR, user: 'ops', subgroup: 'ops' });
    const big = job({ id: 10, cpus: 4, timeLimitMs: 4 * HOUR, submittedAt: NOW - 3 * HOUR });
    const short = job({ id: 11, cpus: 1, timeLimitMs: HOUR, submittedAt: NOW - 2 * HOUR, user: 'bob', subgroup: 'b' });
    const long = job({ id: 12, cpus: 1, timeLimitMs: 3 * HOUR, submittedAt: NOW - 2 * HOUR, user: 'carol', subgroup: 'c' });
    return { r, big, short, long };
  };

  it('starts a short job in the gap but never one that would delay the reserved job', () => {
    const { r, big, short, long } = setup();
    const result = schedule(state([big, short, long], [r]), [node('n1', 4)], policy(), NOW);
    assert.deepEqual(started(result), [short.id]);
    const e = explanationOf(result, big.id);
    assert.equal(e.reason.kind, 'resources');
    assert.equal(e.estimatedStart, NOW + 2 * HOUR);
    assert.equal(e.afterJob, r.id);
    assert.deepEqual(explanationOf(result, long.id).reason, { kind: 'reserved', forJob: big.id, until: NOW + 2 * HOUR });
  });

  it('the reservation time is the same with or without the backfilled job, and stays so in the next pass', () => {
    const { r, big, short, long } = setup();
    const alone = schedule(state([big], [r]), [node('n1', 4)], policy(), NOW);
    const withGap = schedule(state([big, short, long], [r]), [node('n1', 4)], policy(), NOW);
    const noBackfill = schedule(state([big, short, long], [r]), [node('n1', 4)], policy(undefined, { backfill: false }), NOW);
    const t = explanationOf(alone, big.id).estimatedStart;
    assert.equal(t, NOW + 2 * HOUR);
    assert.equal(explanationOf(withGap, big.id).estimatedStart, t);
    assert.equal(explanationOf(noBackfill, big.id).estimatedStart, t);
    // Next pass, 30 minutes on, with the short job running: still the same time.
    const shortRunning: RunningSchedJob = { ...short, node: 'n1', startedAt: NOW, gpuIndices: [] };
    const later = schedule(state([big, long], [r, shortRunning]), [node('n1', 4)], policy(), NOW + 30 * MIN);
    assert.equal(explanationOf(later, big.id).estimatedStart, t);
    assert.deepEqual(started(later), []);
    // At the reserved time, the running jobs are gone and the reserved job starts first.
    const atT = schedule(state([big, long]), [node('n1', 4)], policy(), NOW + 2 * HOUR);
    assert.deepEqual(started(atT), [big.id]);
  });

  it('without backfill nothing lower starts while the first job waits', () => {
    const { r, big, short, long } = setup();
    const result = schedule(state([big, short, long], [r]), [node('n1', 4)], policy(undefined, { backfill: false }), NOW);
    assert.deepEqual(result.start, []);
    assert.deepEqual(explanationOf(result, short.id).reason, { kind: 'priority', position: 2, ahead: 1 });
  });

  it('a longer job may use what the reserved job leaves over', () => {
    const r = running({ id: 1, cpus: 6, startedAt: NOW, timeLimitMs: 2 * HOUR, user: 'ops', subgroup: 'ops' });
    const big = job({ id: 10, cpus: 4, submittedAt: NOW - 3 * HOUR });
    const long = job({ id: 12, cpus: 2, timeLimitMs: 5 * HOUR, user: 'carol', subgroup: 'c' });
    const tooLong = job({ id: 13, cpus: 2, timeLimitMs: 5 * HOUR, user: 'dave', subgroup: 'd' });
    const result = schedule(state([big, long, tooLong], [r]), [node('n1', 8)], policy(), NOW);
    // At NOW+2h, 8 CPUs are free; big takes 4, so 4 are left over: 'long' takes 2 of them now,
    // but the node has only 2 CPUs free now, so 'tooLong' waits.
    assert.deepEqual(started(result), [long.id]);
    assert.equal(explanationOf(result, big.id).estimatedStart, NOW + 2 * HOUR);
    assert.equal(explanationOf(result, tooLong.id).reason.kind, 'priority');
  });

  it('keeps the reserved GPUs free for the reserved job', () => {
    const r = running({ id: 1, gpus: 1, gpuIndices: [0], node: 'gpu1', startedAt: NOW, timeLimitMs: HOUR, user: 'ops', subgroup: 'ops' });
    const both = job({ id: 10, gpus: 2, submittedAt: NOW - HOUR });
    const oneLong = job({ id: 11, gpus: 1, timeLimitMs: 3 * HOUR, user: 'bob', subgroup: 'b' });
    const oneShort = job({ id: 12, gpus: 1, timeLimitMs: 30 * MIN, user: 'carol', subgroup: 'c' });
    const result = schedule(state([both, oneLong, oneShort], [r]), [node('gpu1', 16, 128, gpus(2))], policy(), NOW);
    assert.deepEqual(result.start, [{ jobId: oneShort.id, node: 'gpu1', gpuIndices: [1] }]);
    assert.deepEqual(explanationOf(result, oneLong.id).reason, { kind: 'reserved', forJob: both.id, until: NOW + HOUR });
    assert.equal(explanationOf(result, both.id).estimatedStart, NOW + HOUR);
  });

  it('jobs on another node never touch the reservation', () => {
    const r = running({ id: 1, cpus: 4, node: 'n1', startedAt: NOW, timeLimitMs: HOUR });
    const r2 = running({ id: 2, cpus: 3, node: 'n2', startedAt: NOW, timeLimitMs: 5 * HOUR });
    const big = job({ id: 10, cpus: 4, submittedAt: NOW - HOUR });
    const long = job({ id: 11, cpus: 1, timeLimitMs: 10 * HOUR, user: 'bob', subgroup: 'b' });
    const result = schedule(state([big, long], [r, r2]), [node('n1', 4), node('n2', 4)], policy(), NOW);
    assert.deepEqual(result.start, [{ jobId: long.id, node: 'n2', gpuIndices: [] }]);
    assert.equal(explanationOf(result, big.id).estimatedStart, NOW + HOUR);
  });

  it('when running jobs have no time limit, there is no estimate and their node is protected', () => {
    const r = running({ id: 1, cpus: 3, timeLimitMs: 0, user: 'ops', subgroup: 'ops' });
    const big = job({ id: 10, cpus: 4, submittedAt: NOW - HOUR });
    const small = job({ id: 11, cpus: 1, user: 'bob', subgroup: 'b' });
    const result = schedule(state([big, small], [r]), [node('n1', 4)], policy(), NOW);
    assert.deepEqual(result.start, []);
    const e = explanationOf(result, big.id);
    assert.equal(e.estimatedStart, null);
    assert.equal(e.noEstimate, 'no-time-limit');
    assert.equal(explanationOf(result, small.id).noEstimate, 'no-time-limit');
  });
});

describe('schedule: fair-share numbers in explanations', () => {
  it('reports shares, usage fractions and a factor in (0, 1]', () => {
    const usage: UsageSnapshot = {
      byUser: new Map([['alice', 600], ['bob', 400]]),
      bySubgroup: new Map([['ana', 600], ['bio', 400]]),
    };
    const a = job({ cpus: 8 });
    const b = job({ cpus: 8, user: 'bob', subgroup: 'bio' });
    const result = schedule(state([a, b], [], new Map(), usage), [node('n1', 4)], policy(undefined, { subgroupShares: new Map([['ana', 2], ['bio', 3]]) }), NOW);
    const ea = explanationOf(result, a.id);
    assert.equal(ea.fairShare.shares, 2);
    assert.equal(ea.fairShare.totalShares, 5);
    assert.equal(ea.fairShare.subgroupShare, 0.4);
    assert.equal(ea.fairShare.subgroupUsage, 0.6);
    assert.equal(ea.fairShare.userUsage, 1);
    assert.ok(ea.fairShare.factor > 0 && ea.fairShare.factor <= 1);
    const eb = explanationOf(result, b.id);
    assert.ok(eb.fairShare.factor > ea.fairShare.factor, 'the subgroup further below its share has the higher factor');
    assert.equal(result.pending[0]!.jobId, b.id, 'and comes first');
  });
});
