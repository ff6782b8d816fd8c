import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeisanError } from '../lib/errors.ts';
import type { Queue } from './model.ts';
import { chooseQueue, defaultQueues, queueAllows, queueChangeInput, queueFromInput, queueInput, queueProblems, queueRefusal, validateQueue } from './queues.ts';

const GIB = 1024 ** 3;
const MIN = 60_000;
const HOUR = 60 * MIN;

const invalid = (pattern: RegExp) => (e: unknown) => e instanceof KeisanError && e.code === 'INVALID_INPUT' && pattern.test(e.message);
const who = { workgroup: 'belle', subgroup: 'b-ana' };

describe('defaultQueues', () => {
  it('is the reference set by time limit, shorter queues first in priority, all coherent', () => {
    const queues = defaultQueues();
    assert.deepEqual(queues.map((q) => q.name), ['express', 'short', 'middle', 'large', 'huge']);
    assert.deepEqual(queues.map((q) => q.wallTimeLimitMs), [10 * MIN, HOUR, 6 * HOUR, 24 * HOUR, 7 * 24 * HOUR]);
    for (let k = 1; k < queues.length; k++) {
      assert.ok(queues[k]!.priority < queues[k - 1]!.priority, 'a longer queue has a lower priority');
      assert.ok(queues[k]!.nice >= queues[k - 1]!.nice, 'and is niced at least as much');
    }
    for (const q of queues) {
      assert.deepEqual(queueProblems(q), [], q.name);
      assert.ok(q.cpuTimeLimitMs !== null && q.cpuTimeLimitMs >= q.wallTimeLimitMs);
      assert.equal(q.enabled, true);
    }
  });

  it('returns fresh copies', () => {
    const a = defaultQueues();
    a[0]!.allowedSubgroups.push('x');
    assert.deepEqual(defaultQueues()[0]!.allowedSubgroups, []);
  });
});

describe('queueInput', () => {
  it('takes durations and sizes in the forms users write', () => {
    const parsed = queueInput.parse({ name: 'gpu-long', wallTime: '2-00:00:00', cpuTime: '96h', defaultTime: 3600, defaultMem: '4G', maxMem: '65536M' });
    assert.equal(parsed.wallTime, 48 * HOUR);
    assert.equal(parsed.cpuTime, 96 * HOUR);
    assert.equal(parsed.defaultTime, HOUR);
    assert.equal(parsed.defaultMem, 4 * GIB);
    assert.equal(parsed.maxMem, 64 * GIB);
  });

  it('refuses bad names, bad durations and unknown fields, naming them', () => {
    for (const name of ['Short', '1q', '', 'a'.repeat(33), 'has space']) {
      const r = queueInput.safeParse({ name });
      assert.equal(r.success, false, name);
    }
    const badTime = queueInput.safeParse({ name: 'q', wallTime: 'soon' });
    assert.ok(!badTime.success && /not a duration/.test(badTime.error.issues[0]!.message));
    const badSize = queueInput.safeParse({ name: 'q', maxMem: 'lots' });
    assert.ok(!badSize.success && /not a size/.test(badSize.error.issues[0]!.message));
    const unknown = queueInput.safeParse({ name: 'q', maxJobs: 3 });
    assert.ok(!unknown.success && JSON.stringify(unknown.error.issues).includes('maxJobs'));
    const nice = queueInput.safeParse({ name: 'q', nice: -5 });
    assert.ok(!nice.success && /never raise/.test(nice.error.issues[0]!.message));
    assert.equal(queueChangeInput.safeParse({ name: 'x' }).success, false, 'a change cannot rename');
  });
});

describe('queueFromInput and validateQueue', () => {
  it('a new queue starts from the short settings, lowering defaults to fit new maxima', () => {
    const q = queueFromInput(queueInput.parse({ name: 'tiny', wallTime: '5m', maxMem: '1G' }));
    assert.equal(q.wallTimeLimitMs, 5 * MIN);
    assert.equal(q.defaultTimeMs, 5 * MIN, 'the template default (30m) lowered to the limit');
    assert.equal(q.defaultMemBytes, GIB);
    assert.equal(q.priority, defaultQueues()[1]!.priority);
  });

  it('a change keeps what it does not mention', () => {
    const huge = defaultQueues()[4]!;
    const changed = queueFromInput({ ...queueChangeInput.parse({ maxRunningPerUser: 20, enabled: false }), name: 'huge' }, huge);
    assert.equal(changed.maxRunningPerUser, 20);
    assert.equal(changed.enabled, false);
    assert.equal(changed.wallTimeLimitMs, huge.wallTimeLimitMs);
    assert.equal(queueFromInput({ ...queueChangeInput.parse({ cpuTime: null }), name: 'huge' }, huge).cpuTimeLimitMs, null);
  });

  it('refuses incoherent queues with every problem said plainly', () => {
    const base = defaultQueues()[1]!;
    assert.throws(() => validateQueue({ ...base, defaultMemBytes: 128 * GIB }), invalid(/default memory 128 GiB is more than the maximum 64 GiB/));
    assert.throws(() => validateQueue({ ...base, defaultTimeMs: 2 * HOUR }), invalid(/default time 2h is longer than the wall-time limit 1h/));
    assert.throws(() => validateQueue({ ...base, maxRunningPerUser: 10, maxRunningPerSubgroup: 5 }), invalid(/below maxRunningPerUser/));
    assert.throws(() => validateQueue({ ...base, maxRunningPerHost: 0 }), invalid(/maxRunningPerHost 0 must be a whole number of at least 1/));
    assert.throws(() => validateQueue({ ...base, workgroup: 'belle', allowedWorkgroups: ['atlas'] }), invalid(/belongs to workgroup 'belle' and cannot be opened to other workgroups \(atlas\)/));
    const many = queueProblems({ ...base, maxCpus: 0, wallTimeLimitMs: 0 });
    assert.ok(many.length >= 2);
    assert.throws(() => queueFromInput(queueInput.parse({ name: 'x', defaultTime: '2h', wallTime: '1h' })), invalid(/default time/));
  });
});

describe('queueAllows', () => {
  const open = defaultQueues()[1]!;
  it('open queues take everyone; lists take members of any listed workgroup or subgroup', () => {
    assert.equal(queueAllows(open, who), true);
    assert.equal(queueAllows({ ...open, allowedWorkgroups: ['atlas'] }, who), false);
    assert.equal(queueAllows({ ...open, allowedWorkgroups: ['atlas'], allowedSubgroups: ['b-ana'] }, who), true);
    assert.equal(queueAllows({ ...open, allowedSubgroups: ['b-sim'] }, who), false);
  });
  it("a workgroup's own queue takes only its members", () => {
    assert.equal(queueAllows({ ...open, workgroup: 'belle' }, who), true);
    assert.equal(queueAllows({ ...open, workgroup: 'atlas' }, who), false);
  });
});

describe('chooseQueue', () => {
  const queues = defaultQueues();
  const pick = (request: { cpus?: number; gpus?: number; memBytes?: number | null; timeMs?: number | null }, qs: Queue[] = queues) =>
    chooseQueue(qs, { cpus: 1, gpus: 0, memBytes: null, timeMs: null, ...request }, who).name;

  it('takes the smallest time limit the job fits', () => {
    assert.equal(pick({ timeMs: 5 * MIN }), 'express');
    assert.equal(pick({ timeMs: 50 * MIN }), 'short');
    assert.equal(pick({ timeMs: 2 * HOUR }), 'middle');
    assert.equal(pick({ timeMs: 30 * HOUR }), 'huge');
  });

  it('a job without a time goes to the smallest queue of at least an hour, not express', () => {
    assert.equal(pick({}), 'short');
    assert.equal(pick({}, queues.filter((q) => q.wallTimeLimitMs < HOUR)), 'express', 'unless that is all there is');
  });

  it('also by CPUs, GPUs and memory, skipping disabled queues and queues the user may not use', () => {
    assert.equal(pick({ timeMs: 5 * MIN, cpus: 8 }), 'short');
    assert.equal(pick({ timeMs: 5 * MIN, gpus: 4 }), 'middle');
    assert.equal(pick({ timeMs: 5 * MIN, memBytes: 100 * GIB }), 'middle');
    const closed = queues.map((q) => (q.name === 'short' ? { ...q, enabled: false } : q));
    assert.equal(pick({ timeMs: 50 * MIN }, closed), 'middle');
    const private_ = queues.map((q) => (q.name === 'middle' ? { ...q, allowedSubgroups: ['b-sim'] } : q));
    assert.equal(pick({ timeMs: 2 * HOUR }, private_), 'large');
  });

  it('when nothing fits, says why each queue refused', () => {
    assert.throws(() => pick({ timeMs: 30 * 24 * HOUR }), invalid(/no queue can take this job: .*queue 'huge' allows at most 7d \(asked 30d\)/));
    assert.throws(() => pick({ gpus: 64 }), invalid(/allows at most 8 GPUs per job \(asked 64\)/));
    assert.throws(() => chooseQueue([], { cpus: 1, gpus: 0, memBytes: null, timeMs: null }, who), invalid(/there are no queues/));
  });

  it('queueRefusal explains one queue', () => {
    assert.equal(queueRefusal(queues[0]!, { cpus: 1, gpus: 0, memBytes: null, timeMs: MIN }, who), null);
    assert.match(queueRefusal({ ...queues[0]!, workgroup: 'atlas' }, { cpus: 1, gpus: 0, memBytes: null, timeMs: MIN }, who)!, /belongs to workgroup 'atlas'/);
    assert.match(queueRefusal(queues[0]!, { cpus: 1, gpus: 0, memBytes: 32 * GIB, timeMs: MIN }, who)!, /at most 16 GiB of memory \(asked 32 GiB\)/);
  });
});
