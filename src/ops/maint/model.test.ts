import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  approvalExpiry,
  approvalsNeeded,
  approvalValid,
  canonicalJson,
  commandVerdict,
  contentHash,
  hostConfirmed,
  hostsTakenDown,
  overdueReason,
  planInput,
  specProblems,
  STATES,
  transition,
  validApprovers,
  type PlanEvent,
  type PlanSpec,
  type PlanState,
} from './model.ts';

const spec = (): PlanSpec =>
  planInput.parse({
    title: 'Kernel update on mgmt1',
    risk: 'medium',
    window: { start: '2026-11-24T08:00:00Z', end: '2026-11-24T12:00:00Z' },
    targets: ['mgmt1'],
    runbook: 'management-recovery',
    steps: [
      { kind: 'manual', host: 'mgmt1', instruction: 'drain slurmctld', expect: 'no jobs starting' },
      { kind: 'command', host: 'mgmt1', command: 'apt-get -y upgrade linux-image-amd64', expect: { contains: 'linux-image' }, rollback: 'boot the previous kernel' },
    ],
  });

describe('maintenance plan state machine', () => {
  const path = (from: PlanState, events: PlanEvent[]): PlanState => {
    let state = from;
    for (const event of events) {
      const t = transition(state, event);
      assert.ok(t.ok, `${state} --${event.type}--> refused: ${t.ok ? '' : t.reason}`);
      state = t.to;
    }
    return state;
  };

  it('draft → pending-approval → approved → running → completed', () => {
    assert.equal(path('draft', [{ type: 'submit' }, { type: 'approve', enough: true }, { type: 'start' }, { type: 'step-passed', last: false }, { type: 'step-passed', last: true }]), 'completed');
  });

  it('one approval of two keeps a high-risk plan pending; the second approves it', () => {
    assert.equal(path('pending-approval', [{ type: 'approve', enough: false }]), 'pending-approval');
    assert.equal(path('pending-approval', [{ type: 'approve', enough: false }, { type: 'approve', enough: true }]), 'approved');
  });

  it('a step that fails halts; a halted plan needs approving again, then runs on', () => {
    assert.equal(path('running', [{ type: 'step-failed' }]), 'halted');
    const start = transition('halted', { type: 'start' });
    assert.equal(start.ok, false);
    assert.match(start.ok ? '' : start.reason, /approving again/);
    assert.equal(path('halted', [{ type: 'approve', enough: true }, { type: 'start' }, { type: 'step-passed', last: true }]), 'completed');
  });

  it('edits send a plan back to draft (not while running); expiry sends approved back to pending-approval', () => {
    for (const from of ['pending-approval', 'approved', 'draft'] as const) assert.equal(path(from, [{ type: 'edit' }]), 'draft');
    // A plan that already ran steps stays halted: its hosts are part-way through the work.
    for (const from of ['approved', 'halted'] as const) {
      assert.equal(path(from, [{ type: 'edit', started: true }]), 'halted');
      assert.equal(path(from, [{ type: 'reject', started: true }]), 'halted');
    }
    assert.equal(path('approved', [{ type: 'expire', started: true }]), 'halted');
    assert.equal(transition('running', { type: 'edit' }).ok, false);
    assert.equal(path('approved', [{ type: 'expire' }]), 'pending-approval');
    assert.equal(transition('pending-approval', { type: 'expire' }).ok, false);
    assert.equal(path('approved', [{ type: 'reject' }]), 'draft');
  });

  it('only an approved plan starts; a draft cannot be approved; completed and cancelled are final', () => {
    for (const from of ['draft', 'pending-approval', 'running', 'halted'] as const) assert.equal(transition(from, { type: 'start' }).ok, false, from);
    assert.equal(transition('draft', { type: 'approve', enough: true }).ok, false);
    for (const from of ['completed', 'cancelled'] as const) {
      for (const type of ['edit', 'submit', 'reject', 'cancel', 'start'] as const) assert.equal(transition(from, { type } as PlanEvent).ok, false, `${from} ${type}`);
    }
    for (const from of STATES.filter((s) => s !== 'completed' && s !== 'cancelled')) assert.equal(path(from, [{ type: 'cancel' }]), 'cancelled');
  });

  it('step events only while running', () => {
    for (const from of ['draft', 'approved', 'halted'] as const) {
      assert.equal(transition(from, { type: 'step-passed', last: false }).ok, false);
      assert.equal(transition(from, { type: 'step-failed' }).ok, false);
    }
  });
});

describe('content hash and approvals', () => {
  it('the hash covers targets, steps, window and risk, not the title; key order and target order do not matter', () => {
    const a = spec();
    const base = contentHash(a);
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(contentHash({ ...a, title: 'another title' } as PlanSpec), base);
    assert.equal(contentHash({ ...a, window: { start: '2026-11-24T09:00:00+01:00', end: '2026-11-24T13:00:00+01:00' } }), base, 'the same instants');
    assert.notEqual(contentHash({ ...a, risk: 'high' }), base);
    assert.notEqual(contentHash({ ...a, window: { ...a.window, end: '2026-11-24T12:00:01Z' } }), base);
    assert.notEqual(contentHash({ ...a, targets: ['mgmt1', 'mgmt2'] }), base);
    const steps = structuredClone(a.steps);
    const second = steps[1]!;
    assert.equal(second.kind, 'command');
    if (second.kind === 'command') second.command = 'apt-get -y upgrade';
    assert.notEqual(contentHash({ ...a, steps }), base, 'a changed command changes the hash');
    assert.notEqual(contentHash({ ...a, steps: [...a.steps].reverse() }), base, 'step order matters');
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  });

  it('one other operator approves; two distinct others for high risk', () => {
    assert.equal(approvalsNeeded('low'), 1);
    assert.equal(approvalsNeeded('medium'), 1);
    assert.equal(approvalsNeeded('high'), 2);
  });

  it('an approval counts only for the hash it bound, until it expires, not voided, and never by an editor', () => {
    const now = new Date('2026-11-20T10:00:00Z');
    const approval = { approver: 'vera', hash: 'h1', approvedAt: now, expiresAt: new Date('2026-11-24T12:00:00Z'), voidedAt: null };
    assert.equal(approvalValid(approval, 'h1', ['olga'], now), true);
    assert.equal(approvalValid(approval, 'h2', ['olga'], now), false, 'the plan changed');
    assert.equal(approvalValid(approval, 'h1', ['olga', 'vera'], now), false, 'vera edited the plan');
    assert.equal(approvalValid({ ...approval, voidedAt: now }, 'h1', ['olga'], now), false);
    assert.equal(approvalValid(approval, 'h1', ['olga'], new Date('2026-11-24T12:00:00Z')), false, 'expired');
    assert.deepEqual(validApprovers([approval, { ...approval }, { ...approval, approver: 'olga' }], 'h1', ['olga'], now), ['vera'], 'distinct, the author not counted');
  });

  it('approvals expire after the setting, and never after the window end', () => {
    const at = new Date('2026-11-01T00:00:00Z');
    assert.equal(approvalExpiry(at, 7, new Date('2026-12-01T00:00:00Z')).toISOString(), '2026-11-08T00:00:00.000Z');
    assert.equal(approvalExpiry(at, 7, new Date('2026-11-03T06:00:00Z')).toISOString(), '2026-11-03T06:00:00.000Z');
  });
});

describe('plan content and step verdicts', () => {
  it('steps must act on targets; every target has a step; windows run forwards', () => {
    assert.deepEqual(specProblems(spec()), []);
    const bad = { ...spec(), targets: ['mgmt1', 'mgmt2'], window: { start: '2026-11-24T12:00:00Z', end: '2026-11-24T08:00:00Z' } };
    bad.steps = [...bad.steps, { kind: 'manual', host: 'login1', instruction: 'x', expect: 'y', rollback: '', takesDown: true }];
    const problems = specProblems(bad).join('\n');
    assert.match(problems, /window\.end .* must be after window\.start/);
    assert.match(problems, /step 3: host login1 is not one of the plan's targets/);
    assert.match(problems, /target mgmt2 has no step/);
  });

  it('takesDown defaults to true; read-only steps say false', () => {
    const s = planInput.parse({ ...spec(), steps: [{ kind: 'command', host: 'mgmt1', command: 'uptime' }, { kind: 'command', host: 'mgmt1', command: 'systemctl status slurmctld', takesDown: false }] });
    assert.deepEqual(s.steps.map((x) => x.takesDown), [true, false]);
    assert.deepEqual(s.steps[0]!.kind === 'command' ? s.steps[0]!.expect : null, { exitCode: 0 });
    assert.deepEqual(hostsTakenDown(s.steps), ['mgmt1']);
    assert.deepEqual(hostsTakenDown([s.steps[1]!]), []);
  });

  it('bad input names the field and what to write', () => {
    const result = planInput.safeParse({ ...spec(), risk: 'extreme', steps: [{ kind: 'reboot', host: 'mgmt1' }], extra: 1 });
    assert.equal(result.success, false);
    const text = JSON.stringify(result.error?.issues);
    assert.match(text, /risk must be one of low, medium, high/);
    assert.match(text, /kind: 'command'/);
    assert.match(text, /extra/);
    const regex = planInput.safeParse({ ...spec(), steps: [{ kind: 'command', host: 'mgmt1', command: 'true', expect: { matches: '(' } }] });
    assert.match(JSON.stringify(regex.error?.issues), /is not a regular expression/);
  });

  it('a command step passes only with the expected exit code and output', () => {
    const ok = { exitCode: 0, output: 'maintenance-ok\n', timedOut: false };
    assert.equal(commandVerdict({ exitCode: 0 }, ok).passed, true);
    assert.equal(commandVerdict({ exitCode: 0, contains: 'maintenance-ok' }, ok).passed, true);
    assert.equal(commandVerdict({ exitCode: 0, matches: '^maintenance-(ok|done)$' }, ok).passed, true);
    assert.match(commandVerdict({ exitCode: 0 }, { ...ok, exitCode: 3 }).reason, /exit code 3, expected 0/);
    assert.match(commandVerdict({ exitCode: 0, contains: 'active (running)' }, ok).reason, /does not contain "active \(running\)"/);
    assert.match(commandVerdict({ exitCode: 0, matches: '^done$' }, ok).reason, /does not match/);
    assert.equal(commandVerdict({ exitCode: 0 }, { ...ok, timedOut: true }).passed, false);
    assert.match(commandVerdict({ exitCode: 0 }, { exitCode: null, output: '', timedOut: false, failure: 'sh is not installed' }).reason, /sh is not installed/);
  });

  it('the typed host name must be the step host (case and spaces aside)', () => {
    assert.equal(hostConfirmed(' MGMT1 ', 'mgmt1'), true);
    assert.equal(hostConfirmed('mgmt2', 'mgmt1'), false);
    assert.equal(hostConfirmed('mgmt', 'mgmt1'), false);
    assert.equal(hostConfirmed('', 'mgmt1'), false);
  });

  it('agent work not picked up, or not answered, in time is overdue', () => {
    const queuedAt = new Date('2026-11-24T08:00:00Z');
    const limits = { pickupMs: 300_000, commandMs: 600_000 };
    assert.equal(overdueReason({ state: 'queued', queuedAt, claimedAt: null, host: 'mgmt1' }, limits, new Date('2026-11-24T08:05:00Z')), null);
    assert.match(overdueReason({ state: 'queued', queuedAt, claimedAt: null, host: 'mgmt1' }, limits, new Date('2026-11-24T08:05:01Z')) ?? '', /did not pick the step up/);
    assert.equal(overdueReason({ state: 'running', queuedAt, claimedAt: queuedAt, host: 'mgmt1' }, limits, new Date('2026-11-24T08:11:00Z')), null);
    assert.match(overdueReason({ state: 'running', queuedAt, claimedAt: queuedAt, host: 'mgmt1' }, limits, new Date('2026-11-24T08:11:01Z')) ?? '', /sent no result/);
  });
});
