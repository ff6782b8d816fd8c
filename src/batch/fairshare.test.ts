import { seededRandom } from '../lib/random.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decayMultiplier, decayUsage, expectedCharge, fairShareFactor, fairShareNumbers, FairShareLane, usageRate } from './fairshare.ts';
import type { JobState, NodeResources, Queue, RunningSchedJob, SchedJob, SchedulerPolicy, UsageSnapshot } from './model.ts';
import { defaultQueues } from './queues.ts';
import { schedule } from './scheduler.ts';

const GIB = 1024 ** 3;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${actual} ≉ ${expected}`);

describe('decayUsage', () => {
  const usage: UsageSnapshot = { byUser: new Map([['a', 1000], ['b', 10]]), bySubgroup: new Map([['s', 1010]]) };

  it('halves past usage every half-life', () => {
    const once = decayUsage(usage, HOUR, HOUR);
    close(once.byUser.get('a')!, 500);
    close(once.bySubgroup.get('s')!, 505);
    const twice = decayUsage(usage, 2 * HOUR, HOUR);
    close(twice.byUser.get('a')!, 250);
    close(decayUsage(usage, 30 * MIN, HOUR).byUser.get('a')!, 1000 / Math.SQRT2);
  });

  it('composes: decaying by x then y equals decaying by x + y', () => {
    const stepwise = decayUsage(decayUsage(usage, 17 * MIN, 3 * HOUR), 71 * MIN, 3 * HOUR);
    const direct = decayUsage(usage, 88 * MIN, 3 * HOUR);
    close(stepwise.byUser.get('a')!, direct.byUser.get('a')!);
    close(stepwise.bySubgroup.get('s')!, direct.bySubgroup.get('s')!);
  });

  it('is pure, keeps usage for no elapsed time, and forgets what decays to nothing', () => {
    const same = decayUsage(usage, 0, HOUR);
    assert.deepEqual(same, usage);
    assert.notEqual(same.byUser, usage.byUser);
    assert.equal(usage.byUser.get('a'), 1000, 'input untouched');
    const old = decayUsage(usage, 60 * HOUR, HOUR);
    assert.equal(old.byUser.has('b'), false);
    assert.equal(decayMultiplier(HOUR, Infinity), 1);
    assert.equal(decayMultiplier(HOUR, 0), 0);
    assert.equal(decayMultiplier(-5, HOUR), 1);
  });
});

describe('fair-share arithmetic', () => {
  it('factor: 1 without usage, 0.5 at exactly the share, falling above it, always in (0, 1]', () => {
    assert.equal(fairShareFactor(0, 0.25), 1);
    close(fairShareFactor(0.25, 0.25), 0.5);
    close(fairShareFactor(0.5, 0.25), 0.25);
    assert.ok(fairShareFactor(0.1, 0.25) > fairShareFactor(0.2, 0.25));
    const extreme = fairShareFactor(1, 1e-9);
    assert.ok(extreme > 0 && extreme <= 1);
    assert.ok(fairShareFactor(0.5, 0) > 0);
  });

  it('usage rate and expected charge in resource-seconds', () => {
    const rate = usageRate({ cpus: 4, memBytes: 8 * GIB, gpus: 1, gpuType: null }, { cpu: 1, memGiB: 0.5, gpu: 10 });
    assert.equal(rate, 4 + 4 + 10);
    assert.equal(expectedCharge(2, 1000 + HOUR, 1000, DAY), 2 * 3600, 'the rest of its time limit, in resource-seconds');
    assert.equal(expectedCharge(2, 1000 + 5 * DAY, 1000, DAY), 2 * 86_400, 'at most one horizon');
    assert.equal(expectedCharge(2, 500, 1000, DAY), 0, 'past its end');
  });

  it('numbers for explanations: fractions of shares and of usage', () => {
    const n = fairShareNumbers({ mode: 'subgroup-then-user', shares: 2, totalShares: 5, users: 3, subgroupUsage: 610, userUsage: 305, totalUsage: 1000, totalUserUsage: 1000 });
    close(n.subgroupShare, 0.4);
    close(n.subgroupUsage, 0.61);
    close(n.userUsage, 0.5);
    close(n.factor, 2 ** (-0.61 / 0.4) * 2 ** (-0.5 * 3));
    const u = fairShareNumbers({ mode: 'user', shares: 2, totalShares: 5, users: 4, subgroupUsage: 610, userUsage: 100, totalUsage: 1000, totalUserUsage: 400 });
    close(u.subgroupShare, 0.25);
    close(u.userUsage, 0.25);
    close(u.factor, 0.5);
  });
});

describe('FairShareLane', () => {
  // The job at position p was submitted at time p, with id 100 + p: [at, id] pairs, stride 2.
  const keys = Array.from({ length: 12 }, (_, p) => [p, 100 + p]).flat();
  const give = (lane: FairShareLane, user: string, subgroup: string, start: number, end: number) => {
    lane.setJobs(lane.userFor(user, subgroup), start, end);
    for (let p = start; p < end; p++) lane.setSubgroup(p, subgroup);
  };
  const drain = (lane: FairShareLane, charge: (p: number) => number) => {
    const out: number[] = [];
    for (let p = lane.peek(); p >= 0; p = lane.peek()) {
      out.push(p);
      lane.advance(charge(p));
    }
    return out;
  };

  it('interleaves subgroups by usage per share, users by usage, each user oldest first', () => {
    const lane = new FairShareLane(keys, 2, 'subgroup-then-user', new Map([['s1', 2]]));
    // s1: users a (0-3) and b (4-5); s2: user c (6-9).
    give(lane, 'a', 's1', 0, 4);
    give(lane, 'b', 's1', 4, 6);
    give(lane, 'c', 's2', 6, 10);
    lane.begin(() => 0, () => 0);
    // s1 gets two picks per s2 pick; inside s1, a and b alternate.
    assert.deepEqual(drain(lane, () => 1), [0, 6, 4, 1, 7, 5, 2, 8, 3, 9]);
  });

  it('starts from the given usage: the user who used less goes first', () => {
    const lane = new FairShareLane(keys, 2, 'subgroup-then-user', new Map());
    give(lane, 'heavy', 's1', 0, 1);
    give(lane, 'light', 's1', 1, 2);
    lane.begin((u) => (u === 'heavy' ? 100 : 0), () => 0);
    assert.deepEqual(drain(lane, () => 0), [1, 0]);
  });

  it('breaks ties by submit time, then id', () => {
    // Same submit time for positions 0 and 1 (ids 100 and 101): the lower id first.
    const tied = [5, 101, 5, 100, 1, 102];
    const lane = new FairShareLane(tied, 2, 'subgroup-then-user', new Map());
    give(lane, 'x', 's1', 0, 1);
    give(lane, 'y', 's2', 1, 2);
    give(lane, 'z', 's3', 2, 3);
    lane.begin(() => 0, () => 0);
    assert.deepEqual(drain(lane, () => 0), [2, 1, 0]);
  });

  it("per-user mode ignores subgroups and reports what it charged by the jobs' subgroups", () => {
    const lane = new FairShareLane(keys, 2, 'user', new Map());
    give(lane, 'a', 's1', 0, 2);
    give(lane, 'b', 's2', 2, 3);
    give(lane, 'c', 's2', 3, 4);
    lane.begin(() => 0, () => 0);
    assert.deepEqual(drain(lane, () => 5), [0, 2, 3, 1]);
    const charged = new Map<string, number>();
    lane.charges(() => undefined, (s, c) => charged.set(s, c));
    assert.deepEqual([...charged].sort(), [['s1', 10], ['s2', 10]]);
  });
});

// ---------------------------------------------------------------------------- a simulated day

const prng = seededRandom;

describe('fair share under flooding: a simulated day', () => {
  it('A floods 10 000 jobs; B, C, D, E keep submitting: deliveries match the shares within ±5 %, and B starts at the next completion', () => {
    const T0 = Date.parse('2026-03-02T00:00:00Z');
    // A one-hour half-life: within one simulated day, A's head start (alone for the first
    // minutes) is forgotten, so what is measured is the entitlement. With a longer memory A
    // rightly pays back its head start later in the day, which a one-day window would see as bias.
    const HALF_LIFE = HOUR;
    const queue: Queue = { ...defaultQueues()[2]!, name: 'q', maxRunningPerUser: null, maxRunningPerSubgroup: null, maxRunningPerHost: null };
    const policy: SchedulerPolicy = {
      queues: new Map([['q', queue]]),
      subgroupShares: new Map([['s1', 2], ['s2', 1], ['s3', 1]]),
      usageWeights: { cpu: 1, memGiB: 0, gpu: 0 },
      decayHalfLifeMs: HALF_LIFE,
      backfill: true,
    };
    const nodes: NodeResources[] = [{ name: 'n1', cpus: 16, memBytes: 128 * GIB, gpus: [], accepting: true }];
    // s1 (share 2): A floods, B; s2 (share 1): C with 2-CPU jobs; s3 (share 1): D and E.
    const people = {
      A: { subgroup: 's1', cpus: 1 },
      B: { subgroup: 's1', cpus: 1 },
      C: { subgroup: 's2', cpus: 2 },
      D: { subgroup: 's3', cpus: 1 },
      E: { subgroup: 's3', cpus: 1 },
    } as const;
    type Person = keyof typeof people;
    const B_ARRIVES = T0 + 5 * MIN;
    const OTHERS_ARRIVE = T0 + 40 * MIN;
    const WINDOW_START = OTHERS_ARRIVE; // everyone has demand from here on
    const END = T0 + DAY;

    const rnd = prng(2026);
    let nextId = 1;
    const duration = new Map<number, number>();
    const submit = (who: Person, at: number): SchedJob => {
      const id = nextId++;
      duration.set(id, Math.round((30 + rnd() * 60) * MIN)); // 30 to 90 minutes, limit 2 h
      return {
        id, user: who, subgroup: people[who].subgroup, workgroup: 'w', queue: 'q',
        request: { cpus: people[who].cpus, memBytes: GIB, gpus: 0, gpuType: null },
        timeLimitMs: 2 * HOUR, submittedAt: at, eligibleAt: null, held: false, dependencies: [], arrayJobId: null, arrayMaxRunning: null,
      };
    };

    let pending: SchedJob[] = Array.from({ length: 10_000 }, () => submit('A', T0));
    let running: (RunningSchedJob & { endsAt: number })[] = [];
    const finished = new Map<number, JobState>();
    let usage: UsageSnapshot = { byUser: new Map(), bySubgroup: new Map() };
    const delivered = new Map<string, number>();
    const active = new Set<Person>(['A']);
    let bFirstSubmit: number | null = null;
    let bFirstStart: number | null = null;
    let firstCompletionAfterB: number | null = null;
    let passes = 0;
    let now = T0;

    const advanceUsage = (to: number) => {
      // Decay, then add what running jobs used meanwhile (its decayed integral).
      const dt = to - now;
      if (dt <= 0) return;
      usage = decayUsage(usage, dt, HALF_LIFE);
      const weight = (HALF_LIFE / Math.LN2) * (1 - decayMultiplier(dt, HALF_LIFE)) / 1000;
      for (const job of running) {
        const used = usageRate(job.request, policy.usageWeights) * weight;
        usage.byUser.set(job.user, (usage.byUser.get(job.user) ?? 0) + used);
        usage.bySubgroup.set(job.subgroup, (usage.bySubgroup.get(job.subgroup) ?? 0) + used);
      }
    };

    for (;;) {
      if (now === B_ARRIVES) active.add('B');
      if (now === OTHERS_ARRIVE) for (const p of ['C', 'D', 'E'] as const) active.add(p);
      for (const p of active) {
        if (p === 'A') continue;
        if (pending.filter((j) => j.user === p).length < 5) {
          for (let k = 0; k < 10; k++) pending.push(submit(p, now));
          if (p === 'B' && bFirstSubmit === null) bFirstSubmit = now;
        }
      }

      const result = schedule({ pending, running, finished, usage }, nodes, policy, now);
      passes++;
      assert.deepEqual(result.kill, []);
      if (now === B_ARRIVES) {
        const firstB = result.pending.find((e) => pending.find((j) => j.id === e.jobId)?.user === 'B');
        assert.equal(firstB?.position, 1, "B's first job is first in line the moment it is submitted");
      }
      if (result.start.length > 0) {
        const startedIds = new Set(result.start.map((s) => s.jobId));
        for (const job of pending) {
          if (!startedIds.has(job.id)) continue;
          const endsAt = now + duration.get(job.id)!;
          running.push({ ...job, node: 'n1', startedAt: now, gpuIndices: [], endsAt });
          const from = Math.max(now, WINDOW_START);
          const to = Math.min(endsAt, END);
          if (to > from) delivered.set(job.user, (delivered.get(job.user) ?? 0) + (job.request.cpus * (to - from)) / 1000);
          if (job.user === 'B' && bFirstStart === null) bFirstStart = now;
        }
        pending = pending.filter((j) => !startedIds.has(j.id));
      }

      // On to the next event: a job's end or an arrival.
      const nextEnd = running.reduce((m, j) => Math.min(m, j.endsAt), Infinity);
      const next = Math.min(nextEnd, ...[B_ARRIVES, OTHERS_ARRIVE].filter((t) => t > now), END);
      advanceUsage(next);
      now = next;
      if (now >= END) break;
      const done = running.filter((j) => j.endsAt <= now);
      if (done.length > 0) {
        for (const j of done) finished.set(j.id, 'completed');
        running = running.filter((j) => j.endsAt > now);
        if (bFirstSubmit !== null && firstCompletionAfterB === null) firstCompletionAfterB = now;
      }
    }

    assert.ok(passes > 300, `the day had ${passes} scheduling passes`);
    assert.ok(pending.filter((j) => j.user === 'A').length > 8000, 'A still has a backlog at the end of the day');
    assert.equal(bFirstStart, firstCompletionAfterB, "B's first job starts at the first completion after B submits");

    const total = [...delivered.values()].reduce((a, b) => a + b, 0);
    const bySubgroup = new Map<string, number>();
    for (const [user, rs] of delivered) bySubgroup.set(people[user as Person].subgroup, (bySubgroup.get(people[user as Person].subgroup) ?? 0) + rs);
    const expectSubgroup = { s1: 0.5, s2: 0.25, s3: 0.25 };
    for (const [subgroup, share] of Object.entries(expectSubgroup)) {
      const got = bySubgroup.get(subgroup)! / total;
      assert.ok(Math.abs(got / share - 1) <= 0.05, `subgroup ${subgroup} got ${(got * 100).toFixed(2)} % of the day, entitled to ${share * 100} %`);
    }
    for (const [a, b, subgroup] of [['A', 'B', 's1'], ['D', 'E', 's3']] as const) {
      for (const user of [a, b]) {
        const got = delivered.get(user)! / bySubgroup.get(subgroup)!;
        assert.ok(Math.abs(got / 0.5 - 1) <= 0.05, `${user} got ${(got * 100).toFixed(2)} % of subgroup ${subgroup}, entitled to 50 %`);
      }
    }
  });
});
