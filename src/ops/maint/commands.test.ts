import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { readAudit } from '../../accounts/audit.ts';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import { cliEnv, expectCode, runKeisan } from '../../cli/testing.ts';
import { loadFacilityFile, parseSettings, parseYaml } from '../../lib/config.ts';
import { startAgent, type Agent } from '../../monitor/agent.ts';
import { LogBuffer, spawnKeisan, type Daemon } from '../../monitor/testing-lab.ts';
import { DEFAULT_FACILITY_FILE, NODE_SECRET_FILE, OPERATOR_PASSWORD_FILE } from '../../server/facility.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { initTestDataDir } from '../../server/testing.ts';
import type { Plan, PlanSummary } from './model.ts';

/**
 * Issue 7's maintenance "Done means", as an operator does it: the real `keisan maint …` and
 * `keisan ops runbook(s) …` against a real server, with a real `keisan agent` process for mgmt1
 * (its maintenance runner runs the command steps with sh -c and posts the output) and an
 * in-process agent for its partner mgmt2 (no health checks, so it stays healthy until stopped).
 */

const INVENTORY = {
  hosts: [{ name: 'mgmt1', roles: ['management'] }, { name: 'mgmt2', roles: ['management'] }, { name: 'auth1' }, { name: 'auth2' }, { name: 'auth3' }],
  services: [
    { name: 'management', critical: true, hosts: ['mgmt1', 'mgmt2'] },
    { name: 'authentication', critical: true, hosts: ['auth1', 'auth2', 'auth3'] },
  ],
  groups: [{ name: 'management', members: ['mgmt1', 'mgmt2'], minHealthy: 1, service: 'management' }],
};

const noChecks = () => ({ start() {}, stop: async () => {} });

describe('keisan maint and keisan ops runbook(s), end to end with real agents', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-maint-cli-'));
  const data = path.join(scratch, 'data');
  const olga = path.join(scratch, 'olga');
  const vera = path.join(scratch, 'vera');
  let server: RunningServer;
  let partner: Agent | undefined;
  let mgmt1: Daemon | undefined;
  const logs = new LogBuffer(40);
  const file = (name: string, text: string) => {
    const full = path.join(scratch, name);
    writeFileSync(full, text);
    return full;
  };
  const now = () => new Date();
  const iso = (offsetMs: number) => new Date(now().getTime() + offsetMs).toISOString();
  const planYaml = (steps: string, extra = '') => `title: Kernel update on mgmt1
risk: medium
window: { start: ${iso(-60_000)}, end: ${iso(7_200_000)} }
targets: [mgmt1]
runbook: management-recovery
${extra}steps:
${steps}`;
  const create = async (yaml: string) => {
    const run = expectCode(await runKeisan(olga, ['maint', 'create', '--file', file(`plan-${Math.random().toString(36).slice(2)}.yaml`, yaml), '--json']), 0);
    return JSON.parse(run.stdout) as Plan;
  };
  const approve = async (id: number) => {
    expectCode(await runKeisan(olga, ['maint', 'submit', String(id)]), 0);
    expectCode(await runKeisan(vera, ['maint', 'approve', String(id), '--comment', 'rollback checked']), 0);
  };

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data, { inventory: INVENTORY, maintenance: { agentPollInterval: 0.3 }, monitor: { interval: 1 } });
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    await server.app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'vera', primarySubgroup: (await server.app.keisan.accounts.getUser(SYSTEM_ACTOR, name)).primarySubgroup, operator: true, password: 'vera password 123' });
    expectCode(await runKeisan(olga, ['login', name, '--password-stdin', '--server', server.url], password), 0);
    expectCode(await runKeisan(vera, ['login', 'vera', '--password-stdin', '--server', server.url], 'vera password 123'), 0);
    const nodeSecret = readFileSync(path.join(data, NODE_SECRET_FILE), 'utf8').trim();
    const settings = loadFacilityFile(data).settings;
    partner = await startAgent({ serverUrl: server.url, nodeSecret, host: 'mgmt2', settings, intervalMs: 500, metricsPort: false, daemonLink: false, logger: pino({ level: 'warn' }), createChecks: noChecks });
    mgmt1 = spawnKeisan(['agent', '--data', data, '--server', server.url, '--host', 'mgmt1', '--interval', '0.5', '--metrics-port', 'off'], { env: { ...cliEnv(olga), KEISAN_LOG_LEVEL: 'warn' }, logs });
    // Both agents have reported: the management pair is healthy.
    for (let i = 0; i < 300 && server.app.keisan.monitor.hosts(Date.now()).filter((h) => h.up).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.app.keisan.monitor.hosts(Date.now()).filter((h) => h.up).length, 2, `both agents report\n${logs.tail()}`);
  });

  after(async () => {
    await mgmt1?.cleanup();
    await partner?.stop();
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("the facility file template's commented maintenance: section is valid keisan.yaml, with the defaults", () => {
    const start = DEFAULT_FACILITY_FILE.indexOf('# maintenance:\n');
    assert.ok(start >= 0, 'the template shows a maintenance: section');
    const block = DEFAULT_FACILITY_FILE.slice(start).split('\n\n')[0]!.split('\n').map((line) => line.replace(/^# /, '')).join('\n');
    const settings = parseSettings(parseYaml(block, 'keisan.yaml'), 'keisan.yaml');
    assert.deepEqual(settings.maintenance, parseSettings({}, 'defaults').maintenance);
  });

  it('runbooks: --gaps lists critical services without a tested runbook (exit 1); add, tested, show', async () => {
    const gaps = expectCode(await runKeisan(olga, ['ops', 'runbooks', '--gaps']), 1);
    assert.match(gaps.stdout, /authentication\s+no runbook/);
    assert.match(gaps.stdout, /management\s+no runbook/);
    assert.match(gaps.stderr, /2 critical services without a runbook tested within 365 days/);
    const procedure = file('mgmt.md', '# Management recovery\n1. Promote mgmt2: scontrol takeover\n');
    expectCode(await runKeisan(olga, ['ops', 'runbook', 'add', 'management-recovery', '--service', 'management', '--file', procedure]), 0);
    expectCode(await runKeisan(olga, ['ops', 'runbook', 'tested', 'management-recovery', '--note', 'drill']), 0);
    const show = expectCode(await runKeisan(olga, ['ops', 'runbook', 'show', 'management-recovery']), 0);
    assert.match(show.stdout, /Promote mgmt2/);
    const list = expectCode(await runKeisan(olga, ['ops', 'runbooks']), 0);
    assert.match(list.stdout, /management-recovery\s+management\s+\d{4}-\d{2}-\d{2}/);
    const after = expectCode(await runKeisan(olga, ['ops', 'runbooks', '--gaps', '--json']), 1);
    assert.deepEqual((JSON.parse(after.stdout) as { gaps: { service: string }[] }).gaps.map((g) => g.service), ['authentication']);
    assert.match(expectCode(await runKeisan(olga, ['ops', 'runbook', 'add', 'x', '--service', 'nfs', '--body', 'y']), 2).stderr, /service nfs is not in the inventory/);
  });

  it('bad input exits 2 with what to fix; both management servers in one plan are refused', async () => {
    assert.match(expectCode(await runKeisan(olga, ['maint', 'create', '--file', path.join(scratch, 'missing.yaml')]), 2).stderr, /--file .*missing\.yaml: ENOENT/);
    assert.match(expectCode(await runKeisan(olga, ['maint', 'create', '--file', file('bad.yaml', 'title: [unclosed')]), 2).stderr, /bad\.yaml/);
    const extreme = planYaml('  - { kind: command, host: mgmt1, command: "true" }').replace('risk: medium', 'risk: extreme');
    assert.match(expectCode(await runKeisan(olga, ['maint', 'create', '--file', file('extreme.yaml', extreme)]), 2).stderr, /risk must be one of low, medium, high/);
    const both = planYaml('  - { kind: command, host: mgmt1, command: reboot }\n  - { kind: command, host: mgmt2, command: reboot }').replace('targets: [mgmt1]', 'targets: [mgmt1, mgmt2]');
    const refused = expectCode(await runKeisan(olga, ['maint', 'create', '--file', file('both.yaml', both)]), 2);
    assert.match(refused.stderr, /would leave group management with 0 of 2 healthy \(minimum 1\)/);
    assert.match(refused.stderr, /may not take down mgmt1 and mgmt2 together/);
    assert.match(expectCode(await runKeisan(olga, ['maint', 'show', 'seven']), 2).stderr, /'seven' is not a plan id/);
    assert.match(expectCode(await runKeisan(olga, ['maint', 'run', '1', '--result', 'ok']), 2).stderr, /--result goes with --confirm-host/);
  });

  it('approve your own plan: refused; another operator approves; the wrong host name is refused; the agent runs the command and the plan completes', async () => {
    const plan = await create(
      planYaml(`  - kind: manual
    host: mgmt1
    instruction: Fail slurmctld over to mgmt2
    expect: scontrol ping shows mgmt2 primary
  - kind: command
    host: mgmt1
    command: echo maintenance-ok; uname -s
    expect: { exitCode: 0, contains: maintenance-ok }
    rollback: nothing to undo
`),
    );
    assert.equal(plan.state, 'draft');
    expectCode(await runKeisan(olga, ['maint', 'submit', String(plan.id)]), 0);
    assert.match(expectCode(await runKeisan(olga, ['maint', 'approve', String(plan.id)]), 1).stderr, /you are its author/);
    assert.match(expectCode(await runKeisan(vera, ['maint', 'approve', String(plan.id)]), 0).stdout, new RegExp(`Plan ${plan.id} is approved`));

    const wrong = expectCode(await runKeisan(olga, ['maint', 'run', String(plan.id), '--confirm-host', 'mgmt2', '--result', 'ok']), 2);
    assert.match(wrong.stderr, /'mgmt2' is not step 1's target: type mgmt1 exactly/);
    const audit = await readAudit(server.db.kysely, { action: 'maint.step.confirm', outcome: 'denied' });
    assert.ok(audit.some((e) => e.target === String(plan.id) && e.detail.typed === 'mgmt2'));

    // The rest interactively: the host name and the observation for step 1, the host name for step 2.
    const run = expectCode(await runKeisan(olga, ['maint', 'run', String(plan.id)], 'mgmt1\nok\nmgmt1\n'), 0);
    assert.match(run.stdout, /Step 1 of 2 on mgmt1 \(manual, takes it down\)/);
    assert.match(run.stdout, /PASSED: .* observed the expected result/);
    assert.match(run.stdout, /Step 2 of 2 on mgmt1 \(command/);
    assert.match(run.stdout, /--- output of step 2 on mgmt1 \(exit code 0\)\nmaintenance-ok\nLinux\n---/);
    assert.match(run.stdout, /Plan \d+ completed/);
    const list = expectCode(await runKeisan(olga, ['maint', 'list', '--json']), 0);
    assert.equal((JSON.parse(list.stdout) as PlanSummary[]).find((p) => p.id === plan.id)?.state, 'completed');
    const steps = expectCode(await runKeisan(olga, ['maint', 'steps', String(plan.id)]), 0);
    assert.match(steps.stdout, /maintenance-ok/);
  });

  it("a command step's check fails on the host: the plan halts and needs approving again", async () => {
    const plan = await create(planYaml('  - { kind: command, host: mgmt1, command: "echo still-active; exit 3", expect: { exitCode: 0 } }\n'));
    await approve(plan.id);
    const run = expectCode(await runKeisan(olga, ['maint', 'run', String(plan.id), '--confirm-host', 'mgmt1']), 1);
    assert.match(run.stdout, /exit code 3\)\nstill-active\n---/);
    assert.match(run.stdout, /FAILED: exit code 3, expected 0/);
    assert.match(run.stderr, /HALTED: step 1 on mgmt1: exit code 3, expected 0\. .*needs approving again/);
    const show = expectCode(await runKeisan(olga, ['maint', 'show', String(plan.id)]), 0);
    assert.match(show.stdout, /state\s+halted/);
    assert.match(show.stdout, /no: the plan halted at step 1/);
    assert.match(expectCode(await runKeisan(olga, ['maint', 'run', String(plan.id)]), 1).stderr, /halted .* needs approving again/);
    expectCode(await runKeisan(olga, ['maint', 'cancel', String(plan.id), '--reason', 'test']), 0);
  });

  it('the redundancy guard refuses a step while the partner is down', async () => {
    const plan = await create(planYaml('  - { kind: command, host: mgmt1, command: "true" }\n'));
    await approve(plan.id);
    // mgmt2's agent stops: after three of its intervals it is down.
    await partner!.stop();
    server.app.keisan.monitor.tick(Date.now());
    for (let i = 0; i < 100 && server.app.keisan.monitor.hosts(Date.now()).find((h) => h.host === 'mgmt2')?.up; i++) await new Promise((r) => setTimeout(r, 100));
    const refused = expectCode(await runKeisan(olga, ['maint', 'run', String(plan.id), '--confirm-host', 'mgmt1']), 1);
    assert.match(refused.stderr, /refused by the redundancy guard: .*mgmt1's partner in group management, mgmt2, is down/);
  });
});
