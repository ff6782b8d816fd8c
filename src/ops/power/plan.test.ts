import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describePlan, runPlan, shutdownPlan, STEP_KEYS, type PlanInput } from './plan.ts';
import { powerSettings } from './settings.ts';

const settings = powerSettings.parse({ ups: 'dummy@127.0.0.1', jobs: { queues: { huge: 'checkpoint', express: 'kill' } } });
const input = (over: Partial<PlanInput> = {}): PlanInput => ({
  settings,
  running: [
    { id: 12, name: 'sim', user: 'alice', queue: 'huge' },
    { id: 7, name: 'train', user: 'bob', queue: 'short' },
    { id: 9, name: 'quick', user: 'carol', queue: 'express' },
  ],
  daemons: { by: 'server', agents: [101], watchdogs: [102] },
  ...over,
});

describe('shutdownPlan', () => {
  it('orders the steps: stop starting jobs, jobs per queue policy, storage, daemons, host', () => {
    const plan = shutdownPlan(input());
    assert.deepEqual(plan.steps.map((s) => s.key), [...STEP_KEYS]);
    assert.deepEqual(plan.steps.map((s) => s.step), [1, 2, 3, 4, 5]);
    assert.deepEqual(plan.jobs.map((j) => [j.id, j.policy]), [[7, 'requeue'], [9, 'kill'], [12, 'checkpoint']]);
    assert.match(plan.steps[1]!.detail, /job 12 \(sim, alice, queue huge\): SIGUSR1, up to 30s to checkpoint and end, then requeued/);
    assert.match(plan.steps[1]!.detail, /job 9 .*: cancelled/);
    assert.match(plan.steps[3]!.detail, /agents on this host \(pid 101\) get SIGTERM, then the server's own services stop .*, then watchdogs \(pid 102\) last/);
    assert.match(plan.steps[4]!.detail, /`systemctl poweroff`/);
    assert.equal(plan.steps[4]!.skip, false);
    assert.match(describePlan(plan), /^1\. stop starting jobs: /);
  });

  it('with keisan up: the supervisor stops agent, server, watchdog and a finisher runs the command after it', () => {
    const plan = shutdownPlan(input({ daemons: { by: 'supervisor', pid: 4242 }, running: [] }));
    assert.match(plan.steps[1]!.detail, /no job is running/);
    assert.match(plan.steps[3]!.detail, /keisan up \(pid 4242\) .* stops the agent, then the server, then the watchdog/);
    assert.match(plan.steps[4]!.detail, /detached waiter once keisan up has stopped/);
  });

  it('shutdownHost false: the last step is skipped', () => {
    const plan = shutdownPlan(input({ settings: { ...settings, shutdownHost: false } }));
    assert.equal(plan.steps[4]!.skip, true);
    assert.match(describePlan(plan), /5\. shut the host down \(skipped\)/);
  });
});

describe('runPlan', () => {
  it('runs every step in order; a failing step is recorded and the plan goes on; skipped steps are not run', async () => {
    const plan = shutdownPlan(input({ settings: { ...settings, shutdownHost: false } }));
    const ran: string[] = [];
    const recorded: string[] = [];
    let t = 0;
    const outcomes = await runPlan(
      plan,
      async (step) => {
        ran.push(step.key);
        if (step.key === 'close-storage') throw new Error('the disk tier is gone');
        return `${step.key} done`;
      },
      async (o) => {
        recorded.push(`${o.step.key} ${o.ok ? 'ok' : 'failed'}: ${o.message}`);
        if (o.step.key === 'stop-jobs') throw new Error('the database is gone');
      },
      () => ++t,
    );
    assert.deepEqual(ran, ['stop-dispatch', 'stop-jobs', 'close-storage', 'stop-daemons']);
    assert.deepEqual(recorded, [
      'stop-dispatch ok: stop-dispatch done',
      'stop-jobs ok: stop-jobs done',
      'close-storage failed: the disk tier is gone',
      'stop-daemons ok: stop-daemons done',
      'shutdown-host ok: skipped: skipped (power.shutdownHost is false): the host stays up with Keisan stopped',
    ]);
    assert.deepEqual(outcomes.map((o) => o.ok), [true, true, false, true, true]);
  });
});
