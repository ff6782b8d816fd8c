import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { readAudit } from '../../accounts/audit.ts';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { ManualClock } from '../../lib/clock.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import type { Runbook, RunbookGap } from '../runbooks/model.ts';
import type { AgentWork, Plan, PlanInput, PlanSummary, StepRun } from './model.ts';
import { responseError, responseJson } from '../../server/testing.ts';

/** Maintenance plans and runbooks through the API of a real app (inventory, monitor hub, audit log), on both databases. */

const PASSWORD = 'correct horse battery';
const START = new Date('2026-11-23T08:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(START.getTime() + ms).toISOString();

const INVENTORY = {
  hosts: [{ name: 'mgmt1', roles: ['management'] }, { name: 'mgmt2', roles: ['management'] }, { name: 'auth1', roles: ['auth'] }, { name: 'auth2', roles: ['auth'] }, { name: 'auth3', roles: ['auth'] }, { name: 'login1', roles: ['login'] }],
  services: [
    { name: 'management', critical: true, hosts: ['mgmt1', 'mgmt2'] },
    { name: 'authentication', critical: true, hosts: ['auth1', 'auth2', 'auth3'] },
    { name: 'login', critical: false, hosts: ['login1'] },
  ],
  groups: [
    { name: 'management', members: ['mgmt1', 'mgmt2'], minHealthy: 1, service: 'management' },
    { name: 'authentication', members: ['auth1', 'auth2', 'auth3'], minHealthy: 2, service: 'authentication' },
  ],
};

const json = responseJson;
const error = responseError;

const plan = (overrides: Partial<PlanInput> = {}): PlanInput => ({
  title: 'Kernel update on mgmt1',
  risk: 'medium',
  window: { start: at(HOUR), end: at(DAY) },
  targets: ['mgmt1'],
  runbook: 'management-recovery',
  steps: [
    { kind: 'manual', host: 'mgmt1', instruction: 'Stop slurmctld on mgmt1 and check mgmt2 took over', expect: 'squeue answers from mgmt2' },
    { kind: 'command', host: 'mgmt1', command: 'echo maintenance-ok', expect: { exitCode: 0, contains: 'maintenance-ok' }, rollback: 'systemctl start slurmctld' },
  ],
  ...overrides,
});

describeEachDatabase('maintenance plans and runbooks', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let clock: ManualClock;
  const tickets: Record<string, string> = {};

  const send = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, who?: string, payload?: unknown) =>
    app.inject({ method, url, headers: who ? { authorization: `Bearer ${tickets[who]}` } : {}, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  const agent = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    app.inject({ method, url, headers: { authorization: 'Node node-secret' }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  /** Every host's agent reports now, except those named. */
  const healthyExcept = (...down: string[]) => {
    for (const host of INVENTORY.hosts.map((h) => h.name).filter((h) => !down.includes(h))) app.keisan.monitor.ingest({ host, at: clock.now().toISOString(), samples: [], checks: [] }, clock.now().getTime());
  };
  const create = async (input: PlanInput, who = 'olga') => json<Plan>(await send('POST', '/api/ops/maint/plans', who, input), 201);
  const approved = async (input: PlanInput, approvers = ['vera']) => {
    const p = await create(input);
    json<Plan>(await send('POST', `/api/ops/maint/plans/${p.id}/submit`, 'olga'), 200);
    let last = p;
    for (const who of approvers) last = json<Plan>(await send('POST', `/api/ops/maint/plans/${p.id}/approve`, who, { comment: 'looks right' }), 200);
    assert.equal(last.state, 'approved');
    return last;
  };
  const audit = (action: string) => readAudit(db.kysely, { action, limit: 50 });
  const login = async () => {
    for (const name of ['olga', 'vera', 'petr', 'ulla']) tickets[name] = json<{ ticket: string }>(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: name, password: PASSWORD } }), 200).ticket;
  };
  /** The clock moves to START + ms; tickets are renewed (they last hours) and the hosts report, except those named. */
  const moveTo = async (ms: number, ...down: string[]) => {
    clock.set(at(ms));
    await login();
    healthyExcept(...down);
  };

  before(async () => {
    db = await database.open();
    clock = new ManualClock(START);
    const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } }, inventory: INVENTORY, maintenance: { approvalExpiryDays: 7, pickupTimeout: '5m' } }, 'test');
    app = await buildApp({ settings, db, nodeSecret: 'node-secret', clock });
    const s = app.keisan.accounts;
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'admin' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'admin', name: 'staff' });
    for (const name of ['olga', 'vera', 'petr']) await s.createUser(SYSTEM_ACTOR, { name, primarySubgroup: 'staff', password: PASSWORD, operator: true });
    await s.createUser(SYSTEM_ACTOR, { name: 'ulla', primarySubgroup: 'staff', password: PASSWORD });
    await login();
    healthyExcept();
  });

  after(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('runbooks: add for an inventory service, record tests; --gaps lists critical services without a recently tested one', async () => {
    error(await send('POST', '/api/ops/runbooks', 'olga', { name: 'x', service: 'nfs', body: 'do it' }), 400, /service nfs is not in the inventory/);
    error(await send('POST', '/api/ops/runbooks', 'olga', { name: 'x', service: 'login' }), 400, /needs its procedure: body .* or location/);
    error(await send('POST', '/api/ops/runbooks', 'ulla', { name: 'x', service: 'login', body: 'b' }), 403, /only an operator/);
    let gaps = json<{ days: number; gaps: RunbookGap[] }>(await send('GET', '/api/ops/runbooks/gaps', 'olga'), 200);
    assert.equal(gaps.days, 365);
    assert.deepEqual(gaps.gaps.map((g) => [g.service, g.reason]), [
      ['authentication', 'no runbook'],
      ['management', 'no runbook'],
    ]);
    const added = json<Runbook>(await send('POST', '/api/ops/runbooks', 'olga', { name: 'management-recovery', service: 'management', body: '1. Boot mgmt2 from its last snapshot…', location: 'https://wiki.example.org/mgmt' }), 201);
    assert.equal(added.lastTestedAt, null);
    json<Runbook>(await send('POST', '/api/ops/runbooks', 'olga', { name: 'auth-recovery', service: 'authentication', location: '/srv/runbooks/auth.md', testedAt: at(-400 * DAY) }), 201);
    gaps = json(await send('GET', '/api/ops/runbooks/gaps', 'olga'), 200);
    assert.deepEqual(gaps.gaps.map((g) => [g.service, g.reason]), [
      ['authentication', `runbook last tested ${at(-400 * DAY).slice(0, 10)} (auth-recovery), more than 365 days ago`],
      ['management', 'runbook management-recovery never tested'],
    ]);
    const tested = json<Runbook>(await send('POST', '/api/ops/runbooks/management-recovery/tested', 'vera', {}), 200);
    assert.equal(tested.testedBy, 'vera');
    assert.equal(tested.lastTestedAt, START.toISOString());
    gaps = json(await send('GET', '/api/ops/runbooks/gaps?days=500', 'olga'), 200);
    assert.deepEqual(gaps.gaps, []);
    error(await send('POST', '/api/ops/runbooks/management-recovery/tested', 'olga', { at: at(2 * DAY) }), 400, /in the future/);
    error(await send('POST', '/api/ops/runbooks', 'olga', { name: 'management-recovery', service: 'management', body: 'again' }), 409, /already exists/);
    error(await send('GET', '/api/ops/runbooks/none', 'olga'), 404, /runbook 'none' does not exist/);
    assert.equal((await audit('runbook.tested')).length, 1);
  });

  it('bad plans are refused with what to fix: unknown targets and runbook, steps off the targets, unknown fields, non-operators', async () => {
    error(await send('POST', '/api/ops/maint/plans', 'olga', { ...plan(), risk: 'extreme' }), 400, /risk must be one of low, medium, high/);
    error(await send('POST', '/api/ops/maint/plans', 'olga', { ...plan(), colour: 'red' }), 400, /colour/);
    error(await send('POST', '/api/ops/maint/plans', 'olga', { ...plan(), window: { start: 'tomorrow', end: at(DAY) } }), 400, /window.start must be an ISO-8601 time/);
    error(await send('POST', '/api/ops/maint/plans', 'olga', plan({ targets: ['mgmt9'], steps: [{ kind: 'command', host: 'mgmt9', command: 'true' }] })), 400, /target mgmt9 is not in the inventory/);
    error(await send('POST', '/api/ops/maint/plans', 'olga', plan({ runbook: 'nothing-here' })), 400, /runbook nothing-here does not exist: add it first/);
    error(await send('POST', '/api/ops/maint/plans', 'olga', plan({ steps: [{ kind: 'command', host: 'login1', command: 'true' }] })), 400, /host login1 is not one of the plan's targets/);
    error(await send('POST', '/api/ops/maint/plans', 'olga', plan({ window: { start: at(DAY), end: at(HOUR) } })), 400, /window.end .* must be after window.start/);
    error(await send('POST', '/api/ops/maint/plans', 'ulla', plan()), 403, /only an operator/);
    error(await app.inject({ method: 'POST', url: '/api/ops/maint/plans', headers: { authorization: `Bearer ${tickets.olga}`, 'content-type': 'application/json' }, payload: '{"title": ' }), 400, /not valid JSON/);
    error(await send('GET', '/api/ops/maint/plans/abc', 'olga'), 400, /plan id must be a number/);
    error(await send('GET', '/api/ops/maint/plans/9999', 'olga'), 404, /maintenance plan '9999' does not exist/);
  });

  it('a plan that takes down both management servers is refused (create and edit), and the refusal is audited', async () => {
    const both = plan({
      title: 'Patch both management servers',
      targets: ['mgmt1', 'mgmt2'],
      steps: [
        { kind: 'command', host: 'mgmt1', command: 'reboot' },
        { kind: 'command', host: 'mgmt2', command: 'reboot' },
      ],
    });
    error(await send('POST', '/api/ops/maint/plans', 'olga', both), 400, /would leave group management with 0 of 2 healthy \(minimum 1\).*may not take down mgmt1 and mgmt2 together/);
    const denied = await audit('maint.create');
    assert.ok(denied.some((e) => e.outcome === 'denied' && /group management/.test(String(e.detail.reason))));
    // A read-only look at mgmt2 (takesDown: false) beside work on mgmt1 is fine.
    const readOnly = await create(plan({ targets: ['mgmt1', 'mgmt2'], steps: [{ kind: 'command', host: 'mgmt2', command: 'systemctl is-active slurmctld', takesDown: false }, { kind: 'command', host: 'mgmt1', command: 'reboot' }] }));
    assert.equal(readOnly.state, 'draft');
    error(await send('PATCH', `/api/ops/maint/plans/${readOnly.id}`, 'olga', { steps: both.steps }), 400, /may not take down mgmt1 and mgmt2 together/);
    // Two of three authentication servers at once leaves 1 of minimum 2.
    error(await send('POST', '/api/ops/maint/plans', 'olga', plan({ runbook: 'auth-recovery', targets: ['auth1', 'auth2'], steps: [{ kind: 'command', host: 'auth1', command: 'reboot' }, { kind: 'command', host: 'auth2', command: 'reboot' }] })), 400, /group authentication with 1 of 3 healthy \(minimum 2\)/);
    json(await send('POST', `/api/ops/maint/plans/${readOnly.id}/cancel`, 'olga', { reason: 'test plan' }), 200);
  });

  it('approval: never by the author, one other operator for medium risk, two distinct others for high risk; only submitted plans', async () => {
    const p = await create(plan());
    assert.equal(p.state, 'draft');
    assert.equal(p.author, 'olga');
    error(await send('POST', `/api/ops/maint/plans/${p.id}/approve`, 'vera'), 409, /draft: its author submits it first/);
    json<Plan>(await send('POST', `/api/ops/maint/plans/${p.id}/submit`, 'olga'), 200);
    error(await send('POST', `/api/ops/maint/plans/${p.id}/approve`, 'olga'), 403, /you are its author: a plan is approved by another operator/);
    error(await send('POST', `/api/ops/maint/plans/${p.id}/approve`, 'ulla'), 403, /only an operator/);
    assert.ok((await audit('maint.approve')).some((e) => e.actor === 'olga' && e.outcome === 'denied'));
    const ok = json<Plan>(await send('POST', `/api/ops/maint/plans/${p.id}/approve`, 'vera', { comment: 'checked the rollback' }), 200);
    assert.equal(ok.state, 'approved');
    assert.deepEqual(ok.approvalList.map((a) => [a.approver, a.valid, a.hash === ok.hash]), [['vera', true, true]]);
    assert.equal(ok.approvalList[0]!.expiresAt, at(DAY), 'never after the window end');

    const high = await create(plan({ title: 'Firmware on auth1', risk: 'high', runbook: 'auth-recovery', targets: ['auth1'], steps: [{ kind: 'command', host: 'auth1', command: 'fwupdmgr update -y' }] }));
    json(await send('POST', `/api/ops/maint/plans/${high.id}/submit`, 'olga'), 200);
    let h = json<Plan>(await send('POST', `/api/ops/maint/plans/${high.id}/approve`, 'vera'), 200);
    assert.equal(h.state, 'pending-approval');
    assert.equal(h.approvals, 1);
    assert.equal(h.approvalsNeeded, 2);
    error(await send('POST', `/api/ops/maint/plans/${high.id}/approve`, 'vera'), 409, /already approved .* needs another operator/);
    h = json<Plan>(await send('POST', `/api/ops/maint/plans/${high.id}/approve`, 'petr'), 200);
    assert.equal(h.state, 'approved');
    assert.equal(h.approvals, 2);
    json(await send('POST', `/api/ops/maint/plans/${high.id}/cancel`, 'olga'), 200);
    json(await send('POST', `/api/ops/maint/plans/${p.id}/cancel`, 'olga'), 200);
  });

  it('any edit after approval voids it: the plan is a draft again, the old approval binds the old hash; the editor may not approve', async () => {
    const p = await approved(plan());
    const edited = json<Plan>(await send('PATCH', `/api/ops/maint/plans/${p.id}`, 'petr', { steps: [...plan().steps, { kind: 'command', host: 'mgmt1', command: 'uptime', takesDown: false }] }), 200);
    assert.equal(edited.state, 'draft');
    assert.notEqual(edited.hash, p.hash);
    assert.equal(edited.revision, 2);
    assert.deepEqual(edited.editors, ['olga', 'petr']);
    assert.deepEqual(edited.approvalList.map((a) => [a.approver, a.valid]), [['vera', false]]);
    assert.match(edited.approvalList[0]!.voidReason ?? '', /edited by petr/);
    assert.equal(edited.approvals, 0);
    error(await send('POST', `/api/ops/maint/plans/${p.id}/start`, 'olga'), 409, /only an approved plan can be run/);
    json(await send('POST', `/api/ops/maint/plans/${p.id}/submit`, 'olga'), 200);
    error(await send('POST', `/api/ops/maint/plans/${p.id}/approve`, 'petr'), 403, /one of its editors/);
    assert.equal(json<Plan>(await send('POST', `/api/ops/maint/plans/${p.id}/approve`, 'vera'), 200).state, 'approved');
    // Title-only edits change no hash but still need approval again: an approval is for the plan as it was.
    const retitled = json<Plan>(await send('PATCH', `/api/ops/maint/plans/${p.id}`, 'olga', { title: 'Kernel 6.12 on mgmt1' }), 200);
    assert.equal(retitled.state, 'draft');
    assert.equal(retitled.approvals, 0);
    const edits = await audit('maint.edit');
    assert.ok(edits.some((e) => e.actor === 'petr' && e.detail.approvalsVoided === 1));
    json(await send('POST', `/api/ops/maint/plans/${p.id}/cancel`, 'olga'), 200);
  });

  it('approvals expire after the setting (7 days): an approved plan falls back to pending-approval', async () => {
    const p = await approved(plan({ window: { start: at(10 * DAY), end: at(12 * DAY) } }));
    assert.equal(p.approvalList[0]!.expiresAt, at(7 * DAY));
    await moveTo(7 * DAY - 60_000);
    assert.equal(json<Plan>(await send('GET', `/api/ops/maint/plans/${p.id}`, 'olga'), 200).state, 'approved');
    await moveTo(7 * DAY);
    const expired = json<Plan>(await send('GET', `/api/ops/maint/plans/${p.id}`, 'olga'), 200);
    assert.equal(expired.state, 'pending-approval');
    assert.equal(expired.approvalList[0]!.voidReason, 'expired');
    assert.ok((await audit('maint.approval.expired')).some((e) => e.target === String(p.id)));
    await moveTo(0);
    json(await send('POST', `/api/ops/maint/plans/${p.id}/cancel`, 'olga'), 200);
  });

  it('running: only in the window; the wrong host name is refused and audited; manual then agent-run command steps; completed', async () => {
    const p = await approved(plan());
    error(await send('POST', `/api/ops/maint/plans/${p.id}/start`, 'olga'), 409, /window opens at/);
    await moveTo(2 * HOUR);
    const running = json<Plan>(await send('POST', `/api/ops/maint/plans/${p.id}/start`, 'olga'), 200);
    assert.equal(running.state, 'running');
    assert.equal(running.startedAt, at(2 * HOUR));
    const active = await app.keisan.maintenance.active(clock.now());
    assert.deepEqual(active.map((v) => [v.id, v.state, v.services, v.hosts]), [[p.id, 'running', ['management'], ['mgmt1']]]);

    error(await send('POST', `/api/ops/maint/plans/${p.id}/steps/1`, 'olga', { confirmHost: 'mgmt2', result: 'ok' }), 400, /'mgmt2' is not step 1's target: type mgmt1 exactly/);
    const wrong = await audit('maint.step.confirm');
    assert.ok(wrong.some((e) => e.outcome === 'denied' && e.detail.typed === 'mgmt2'));
    error(await send('POST', `/api/ops/maint/plans/${p.id}/steps/2`, 'olga', { confirmHost: 'mgmt1' }), 409, /step 1 is/);
    error(await send('POST', `/api/ops/maint/plans/${p.id}/steps/1`, 'olga', { confirmHost: 'mgmt1' }), 400, /manual step: say what you observed/);
    const manual = json<{ run: StepRun; plan: PlanSummary }>(await send('POST', `/api/ops/maint/plans/${p.id}/steps/1`, 'olga', { confirmHost: 'MGMT1', result: 'ok', note: 'squeue answers' }), 200);
    assert.equal(manual.run.state, 'passed');
    assert.equal(manual.plan.nextStep, 2);

    error(await send('POST', `/api/ops/maint/plans/${p.id}/steps/2`, 'olga', { confirmHost: 'mgmt1', result: 'ok' }), 400, /command step: the agent/);
    const queued = json<{ run: StepRun; plan: PlanSummary }>(await send('POST', `/api/ops/maint/plans/${p.id}/steps/2`, 'olga', { confirmHost: 'mgmt1' }), 200);
    assert.equal(queued.run.state, 'queued');
    error(await send('POST', `/api/ops/maint/plans/${p.id}/steps/2`, 'olga', { confirmHost: 'mgmt1' }), 409, /already with the agent on mgmt1/);
    // Agents authenticate with the node secret; another host gets nothing.
    assert.equal((await app.inject({ method: 'GET', url: '/api/ops/maint/agent-work?host=mgmt1' })).statusCode, 401);
    assert.deepEqual(json<AgentWork[]>(await agent('GET', '/api/ops/maint/agent-work?host=mgmt2'), 200), []);
    const work = json<AgentWork[]>(await agent('GET', '/api/ops/maint/agent-work?host=mgmt1.hpc.example.org'), 200);
    assert.deepEqual(work.map((w) => [w.id, w.planId, w.step, w.command, w.maxOutputBytes]), [[queued.run.id, p.id, 2, 'echo maintenance-ok', 65536]]);
    assert.deepEqual(json<AgentWork[]>(await agent('GET', '/api/ops/maint/agent-work?host=mgmt1'), 200), [], 'handed out once');
    error(await agent('POST', `/api/ops/maint/agent-work/${queued.run.id}`, { host: 'mgmt2', exitCode: 0, stdout: 'x', stderr: '', timedOut: false, durationMs: 3 }), 403, /is for mgmt1, not mgmt2/);
    const result = json<StepRun>(await agent('POST', `/api/ops/maint/agent-work/${queued.run.id}`, { host: 'mgmt1', exitCode: 0, stdout: 'maintenance-ok\n', stderr: '', timedOut: false, durationMs: 3 }), 200);
    assert.equal(result.state, 'passed');
    assert.match(result.verdict ?? '', /output contains "maintenance-ok"/);
    const done = json<Plan>(await send('GET', `/api/ops/maint/plans/${p.id}`, 'olga'), 200);
    assert.equal(done.state, 'completed');
    assert.equal(done.finishedAt, at(2 * HOUR));
    assert.deepEqual(done.runs.map((r) => [r.step, r.kind, r.state, r.operator]), [[1, 'manual', 'passed', 'olga'], [2, 'command', 'passed', 'olga']]);
    assert.equal(done.runs[1]!.output, 'maintenance-ok\n');
    assert.deepEqual((await app.keisan.maintenance.active(clock.now())).map((v) => v.id), [], 'finishing restores the components');
    const history = await app.keisan.maintenance.history(new Date(at(0)), new Date(at(DAY)));
    assert.ok(history.some((v) => v.id === p.id && v.finishedAt === at(2 * HOUR)));
    assert.ok((await audit('maint.complete')).some((e) => e.target === String(p.id) && e.actor === 'agent:mgmt1'));
  });

  it("a step whose result differs halts the plan; it needs approving again and runs on from the halted step", async () => {
    await moveTo(3 * HOUR);
    const p = await approved(plan({ steps: [{ kind: 'command', host: 'mgmt1', command: 'systemctl is-active slurmctld', expect: { exitCode: 0, contains: 'inactive' } }, { kind: 'manual', host: 'mgmt1', instruction: 'check', expect: 'fine' }] }));
    json(await send('POST', `/api/ops/maint/plans/${p.id}/start`, 'olga'), 200);
    const queued = json<{ run: StepRun }>(await send('POST', `/api/ops/maint/plans/${p.id}/steps/1`, 'olga', { confirmHost: 'mgmt1' }), 200);
    json<AgentWork[]>(await agent('GET', '/api/ops/maint/agent-work?host=mgmt1'), 200);
    const failed = json<StepRun>(await agent('POST', `/api/ops/maint/agent-work/${queued.run.id}`, { host: 'mgmt1', exitCode: 0, stdout: 'active\n', stderr: '', timedOut: false, durationMs: 5 }), 200);
    assert.equal(failed.state, 'failed');
    let halted = json<Plan>(await send('GET', `/api/ops/maint/plans/${p.id}`, 'olga'), 200);
    assert.equal(halted.state, 'halted');
    assert.match(halted.haltReason ?? '', /step 1 on mgmt1: the output does not contain "inactive"/);
    assert.deepEqual(halted.approvalList.map((a) => a.valid), [false]);
    assert.deepEqual((await app.keisan.maintenance.active(clock.now())).map((v) => [v.id, v.state]), [[p.id, 'halted']]);
    error(await send('POST', `/api/ops/maint/plans/${p.id}/start`, 'olga'), 409, /needs approving again/);
    error(await send('POST', `/api/ops/maint/plans/${p.id}/steps/1`, 'olga', { confirmHost: 'mgmt1' }), 409, /halted/);
    // The operator fixes the step: an edit of a plan that started keeps it halted (still under maintenance); approved again, it runs on from step 1.
    const fixed = json<Plan>(await send('PATCH', `/api/ops/maint/plans/${p.id}`, 'olga', { steps: [{ kind: 'command', host: 'mgmt1', command: 'systemctl is-active slurmctld', expect: { exitCode: 0, matches: '^(in)?active$' } }, { kind: 'manual', host: 'mgmt1', instruction: 'check', expect: 'fine' }] }), 200);
    assert.equal(fixed.state, 'halted');
    assert.deepEqual((await app.keisan.maintenance.scheduled(clock.now())).map((v) => v.id).includes(p.id), false, 'a plan under way is not on the schedule');
    halted = json<Plan>(await send('POST', `/api/ops/maint/plans/${p.id}/approve`, 'vera'), 200);
    assert.equal(halted.state, 'approved');
    assert.equal(halted.nextStep, 1);
    assert.deepEqual((await app.keisan.maintenance.active(clock.now())).map((v) => [v.id, v.state]), [[p.id, 'approved']], 'approved again, waiting to run on: still under maintenance');
    json(await send('POST', `/api/ops/maint/plans/${p.id}/start`, 'olga'), 200);
    assert.ok((await audit('maint.resume')).some((e) => e.target === String(p.id)));
    const again = json<{ run: StepRun }>(await send('POST', `/api/ops/maint/plans/${p.id}/steps/1`, 'olga', { confirmHost: 'mgmt1' }), 200);
    json(await agent('GET', '/api/ops/maint/agent-work?host=mgmt1'), 200);
    assert.equal(json<StepRun>(await agent('POST', `/api/ops/maint/agent-work/${again.run.id}`, { host: 'mgmt1', exitCode: 0, stdout: 'active\n', stderr: '', timedOut: false, durationMs: 5 }), 200).state, 'passed');
    // A manual step reported failed halts too.
    const manual = json<{ run: StepRun; plan: PlanSummary }>(await send('POST', `/api/ops/maint/plans/${p.id}/steps/2`, 'olga', { confirmHost: 'mgmt1', result: 'failed', note: 'fans loud' }), 200);
    assert.equal(manual.plan.state, 'halted');
    // Approved again without an edit (the halt voided the approvals; the content is unchanged), it finishes.
    json(await send('POST', `/api/ops/maint/plans/${p.id}/approve`, 'petr'), 200);
    json(await send('POST', `/api/ops/maint/plans/${p.id}/start`, 'olga'), 200);
    assert.equal(json<{ plan: PlanSummary }>(await send('POST', `/api/ops/maint/plans/${p.id}/steps/2`, 'olga', { confirmHost: 'mgmt1', result: 'ok' }), 200).plan.state, 'completed');
  });

  it('a command step the agent never picks up fails after the pickup timeout and halts the plan', async () => {
    await moveTo(4 * HOUR);
    const p = await approved(plan({ steps: [{ kind: 'command', host: 'mgmt1', command: 'true' }] }));
    json(await send('POST', `/api/ops/maint/plans/${p.id}/start`, 'olga'), 200);
    const queued = json<{ run: StepRun }>(await send('POST', `/api/ops/maint/plans/${p.id}/steps/1`, 'olga', { confirmHost: 'mgmt1' }), 200);
    clock.advance(5 * 60_000 + 1000);
    const seen = json<{ run: StepRun; plan: PlanSummary }>(await send('GET', `/api/ops/maint/plans/${p.id}/runs/${queued.run.id}`, 'olga'), 200);
    assert.equal(seen.run.state, 'failed');
    assert.match(seen.run.verdict ?? '', /did not pick the step up within 300 s/);
    assert.equal(seen.plan.state, 'halted');
    json(await send('POST', `/api/ops/maint/plans/${p.id}/cancel`, 'olga'), 200);
  });

  it("the redundancy guard: a step is refused while its partner is unhealthy, or when its group would drop below the minimum", async () => {
    await moveTo(5 * HOUR, 'mgmt2', 'auth2');
    const p = await approved(plan({ steps: [{ kind: 'command', host: 'mgmt1', command: 'reboot' }] }));
    json(await send('POST', `/api/ops/maint/plans/${p.id}/start`, 'olga'), 200);
    error(await send('POST', `/api/ops/maint/plans/${p.id}/steps/1`, 'olga', { confirmHost: 'mgmt1' }), 409, /refused by the redundancy guard: .*mgmt1's partner in group management, mgmt2, is (down|of unknown health)/);
    const refused = await audit('maint.step.guard');
    assert.ok(refused.some((e) => e.outcome === 'denied' && e.target === String(p.id)));
    // Nothing was queued: the plan is still running at step 1.
    const still = json<Plan>(await send('GET', `/api/ops/maint/plans/${p.id}`, 'olga'), 200);
    assert.deepEqual([still.state, still.nextStep, still.runs.length], ['running', 1, 0]);
    // Once mgmt2 reports again, the step goes.
    healthyExcept('auth2');
    assert.equal(json<{ run: StepRun }>(await send('POST', `/api/ops/maint/plans/${p.id}/steps/1`, 'olga', { confirmHost: 'mgmt1' }), 200).run.state, 'queued');
    json(await send('POST', `/api/ops/maint/plans/${p.id}/cancel`, 'olga'), 200);

    const auth = await approved(plan({ runbook: 'auth-recovery', targets: ['auth1'], steps: [{ kind: 'command', host: 'auth1', command: 'reboot' }] }));
    json(await send('POST', `/api/ops/maint/plans/${auth.id}/start`, 'olga'), 200);
    error(await send('POST', `/api/ops/maint/plans/${auth.id}/steps/1`, 'olga', { confirmHost: 'auth1' }), 409, /would leave group authentication with 1 of 3 healthy \(minimum 2\)/);
    json(await send('POST', `/api/ops/maint/plans/${auth.id}/cancel`, 'olga'), 200);
  });

  it('the status page source: scheduled (approved and pending, window not over), listing filters', async () => {
    await moveTo(6 * HOUR);
    const later = await approved(plan({ title: 'Next week', window: { start: at(6 * DAY), end: at(6 * DAY + 4 * HOUR) } }));
    const pending = await create(plan({ title: 'Login reboot', runbook: 'management-recovery', targets: ['login1'], steps: [{ kind: 'command', host: 'login1', command: 'reboot' }] }));
    json(await send('POST', `/api/ops/maint/plans/${pending.id}/submit`, 'olga'), 200);
    const scheduled = await app.keisan.maintenance.scheduled(clock.now());
    assert.deepEqual(scheduled.map((v) => [v.id, v.state, v.services]), [[pending.id, 'pending-approval', ['login']], [later.id, 'approved', ['management']]]);
    assert.deepEqual((await app.keisan.maintenance.scheduled(new Date(at(7 * DAY)))).map((v) => v.id), [], 'windows over are not scheduled');
    const list = json<PlanSummary[]>(await send('GET', '/api/ops/maint/plans?state=approved,pending-approval', 'olga'), 200);
    assert.deepEqual(list.map((s) => s.id).sort(), [later.id, pending.id].sort());
    error(await send('GET', '/api/ops/maint/plans?state=bogus', 'olga'), 400, /state must be one or more of/);
    error(await send('GET', '/api/ops/maint/plans', 'ulla'), 403, /only an operator/);
  });
});
