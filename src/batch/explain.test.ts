import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainPending } from './explain.ts';
import type { PendingExplanation, PendingReason, Queue, SchedJob } from './model.ts';
import { defaultQueues } from './queues.ts';

const GIB = 1024 ** 3;
const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = Date.parse('2026-03-02T12:00:00Z');

const queue: Queue = defaultQueues().find((q) => q.name === 'short')!;

const job: SchedJob = {
  id: 123,
  user: 'alice',
  subgroup: 'b-ana',
  workgroup: 'belle',
  queue: 'short',
  request: { cpus: 4, memBytes: 16 * GIB, gpus: 0, gpuType: null },
  timeLimitMs: 2 * HOUR,
  submittedAt: NOW - HOUR,
  eligibleAt: null,
  held: false,
  dependencies: [],
  arrayJobId: null,
  arrayMaxRunning: null,
};

function explanation(reason: PendingReason, over: Partial<PendingExplanation> = {}): PendingExplanation {
  return {
    jobId: job.id,
    reason,
    position: 3,
    fairShare: { subgroupShare: 0.4, subgroupUsage: 0.61, userUsage: 0.3, factor: 0.42, shares: 2, totalShares: 5, users: 3 },
    estimatedStart: null,
    noEstimate: 'blocked',
    ...over,
  };
}

const say = (reason: PendingReason, over: Partial<PendingExplanation> = {}, j: SchedJob = job, q: Queue | null = queue) =>
  explainPending(explanation(reason, over), j, q, NOW);

describe('explainPending', () => {
  it('held: says so and how to release it', () => {
    const text = say({ kind: 'held' });
    assert.match(text, /Job 123 is held/);
    assert.match(text, /keisan release 123/);
  });

  it('begin time: when, and in how long', () => {
    const text = say({ kind: 'begin-time', eligibleAt: NOW + 90 * MIN });
    assert.match(text, /may not start before 2026-03-02 13:30 UTC \(in 1h30m\)/);
  });

  it('dependencies: which jobs, and what each must do', () => {
    const j = { ...job, dependencies: [{ jobId: 7, type: 'ok' as const }, { jobId: 8, type: 'any' as const }] };
    const text = say({ kind: 'dependency', waitingFor: [7, 8] }, {}, j);
    assert.match(text, /waits for job 7 to complete successfully and job 8 to end/);
  });

  it('a dependency that can never be met: which job, how it ended, and that the job will be cancelled', () => {
    const j = { ...job, dependencies: [{ jobId: 7, type: 'ok' as const }] };
    const text = say({ kind: 'dependency-never-satisfied', jobId: 7, state: 'failed' }, {}, j);
    assert.match(text, /can never start: it waits for job 7 to complete successfully, but job 7 ended as failed\. It will be cancelled\./);
    const unknown = say({ kind: 'dependency-never-satisfied', jobId: 9, state: 'unknown' }, {}, { ...job, dependencies: [{ jobId: 9, type: 'any' }] });
    assert.match(unknown, /job 9 is not known/);
  });

  it('queue disabled, or gone', () => {
    assert.match(say({ kind: 'queue-disabled', queue: 'short' }), /Queue short is disabled/);
    assert.match(say({ kind: 'queue-disabled', queue: 'old' }, {}, { ...job, queue: 'old' }, null), /queue old, which does not exist/);
  });

  it('each running limit names the limit and the numbers', () => {
    assert.match(say({ kind: 'limit', limit: 'user', max: 10, running: 10 }), /You already run 10 jobs in queue short, its limit per user \(10\)/);
    assert.match(say({ kind: 'limit', limit: 'subgroup', max: 50, running: 50 }), /Your subgroup b-ana already runs 50 jobs in queue short, its limit per subgroup \(50\)/);
    assert.match(say({ kind: 'limit', limit: 'host', max: 4, running: 4 }), /Every node that has room already runs 4 jobs of queue short, its limit per host/);
    assert.match(say({ kind: 'limit', limit: 'array', max: 10, running: 10 }, {}, { ...job, arrayJobId: 100, arrayMaxRunning: 10 }), /Array 100 already runs 10 tasks, its limit of 10 at once \(%10\)/);
  });

  it('resources: what it needs and the most that is free', () => {
    const text = say(
      { kind: 'resources', needs: { cpus: 4, memBytes: 16 * GIB, gpus: 2, gpuType: 'h200' }, freeBest: { node: 'gpu1', cpus: 2, memBytes: 8 * GIB, gpus: 1 } },
      { estimatedStart: NOW + 2 * HOUR + 10 * MIN, afterJob: 99, noEstimate: null },
    );
    assert.match(text, /needs 4 CPUs, 16 GiB of memory and 2 h200 GPUs; the most free on any node now is 2 CPUs, 8\.0 GiB and 1 GPU of type h200 on gpu1/);
    assert.match(text, /may start in about 2h10m \(around 2026-03-02 14:10 UTC\), when job 99 ends/);
  });

  it('resources no node can hold: says to ask for less, and gives no estimate sentence', () => {
    const text = say(
      { kind: 'resources', needs: { cpus: 512, memBytes: GIB, gpus: 0, gpuType: null }, freeBest: { node: 'n1', cpus: 8, memBytes: 64 * GIB, gpus: 0 } },
      { noEstimate: 'never-fits' },
    );
    assert.match(text, /no node is that big/);
    assert.doesNotMatch(text, /No estimate/);
    assert.match(say({ kind: 'resources', needs: job.request, freeBest: null }), /no node takes jobs now/);
  });

  it('priority: its place in line and how many are ahead', () => {
    const text = say({ kind: 'priority', position: 3, ahead: 2 }, { estimatedStart: NOW + 30 * MIN, afterJob: 120, noEstimate: null });
    assert.match(text, /waits for its turn: 2 jobs ahead of it in line/);
    assert.match(text, /It is number 3 in line in queue short\./);
    assert.match(text, /may start in about 30m .*, when job 120 ends/);
  });

  it('reserved: for which job, until when', () => {
    const text = say({ kind: 'reserved', forJob: 77, until: NOW + 45 * MIN });
    assert.match(text, /kept for job 77, which is due to start at 2026-03-02 12:45 UTC \(in 45m\)/);
    assert.match(text, /its time limit \(here 2h\)/);
  });

  it('fair share in words: the subgroup\'s share, its usage, the user\'s part and the factor', () => {
    const text = say({ kind: 'priority', position: 3, ahead: 2 });
    assert.match(text, /Your subgroup b-ana has share 2 of 5 \(40 %\) and used 61 % of recent usage; you used 30 % of your subgroup's \(3 users share it equally\); your factor 0\.42/);
    const perUser = explainPending(
      explanation({ kind: 'priority', position: 1, ahead: 0 }, { fairShare: { subgroupShare: 0.25, subgroupUsage: 0.1, userUsage: 0.1, factor: 0.76, users: 4 } }),
      job,
      { ...queue, fairShare: 'user' },
      NOW,
    );
    assert.match(perUser, /is between users: 4 users share it equally \(25 % each\) and you used 10 % of recent usage; your factor 0\.76/);
  });

  it('estimates: soon, none because of jobs without a time limit, none because too deep', () => {
    assert.match(say({ kind: 'priority', position: 1, ahead: 0 }, { estimatedStart: NOW + 20_000, noEstimate: null }), /It may start shortly/);
    assert.match(say({ kind: 'priority', position: 1, ahead: 0 }, { noEstimate: 'no-time-limit' }), /No estimate: the jobs ahead have no time limit\./);
    assert.match(say({ kind: 'priority', position: 9000, ahead: 8999 }, { noEstimate: 'too-far' }), /No estimate: too many jobs are ahead/);
    assert.match(say({ kind: 'limit', limit: 'user', max: 1, running: 1 }), /No estimate until what holds it back clears/);
  });
});
