import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import { expectCode, runKeisan } from '../../cli/testing.ts';
import { openDatabase, type Db } from '../../db/connection.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import type { CheckResult } from '../model.ts';
import { createCheckRunner } from './runner.ts';
import type { AgentChecks } from './resolve.ts';
import type { HostCheckResult } from './routes.ts';
import { seedOperator } from '../../server/testing.ts';

/** The checks API (agent list, latest results) and `keisan checks`, against a real listening server. */
describe('health checks API and keisan checks', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-checks-api-'));
  const home = path.join(scratch, 'home');
  const userHome = path.join(scratch, 'user-home');
  let db: Db;
  let app: KeisanApp;
  let url: string;
  const node = { authorization: 'Node node-secret' };

  before(async () => {
    const settings = parseSettings(
      {
        accounts: { passwordHash: { cost: 1024 } },
        monitor: { checks: { extra: [{ type: 'http', name: 'portal', roles: ['login'], params: { url: 'http://127.0.0.1:9/' } }] } },
      },
      'test',
    );
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    app = await buildApp({ settings, db, nodeSecret: 'node-secret' });
    await seedOperator(app.keisan.accounts);
    await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'ulla', primarySubgroup: 'staff', password: 'ulla password' });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    expectCode(await runKeisan(home, ['login', 'olga', '--password-stdin', '--server', url], 'olga password\n'), 0);
    expectCode(await runKeisan(userHome, ['login', 'ulla', '--password-stdin', '--server', url], 'ulla password\n'), 0);
  });
  after(async () => {
    await app?.close();
    await db?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const result = (check: string, status: CheckResult['status'], summary: string, at = new Date().toISOString()): CheckResult => ({
    check,
    type: check.split(':')[0]!,
    target: check.split(':').slice(1).join(':'),
    status,
    summary,
    value: null,
    details: { pids: [42] },
    at,
    durationMs: 3,
  });

  it('GET /api/monitor/agent-checks needs the node secret and resolves the list for the host and roles', async () => {
    const refused = await app.inject({ method: 'GET', url: '/api/monitor/agent-checks?host=login1&roles=login' });
    assert.equal(refused.statusCode, 401);
    const login = await app.inject({ method: 'GET', url: '/api/monitor/agent-checks?host=login1&roles=login', headers: node });
    assert.equal(login.statusCode, 200);
    const body = login.json() as AgentChecks;
    assert.equal(body.host, 'login1');
    const ids = body.checks.map((c) => c.id);
    assert.ok(ids.includes('process:sshd') && ids.includes('portal') && ids.includes('duplicate-ip:ipv4'), ids.join(' '));
    const compute = (await app.inject({ method: 'GET', url: '/api/monitor/agent-checks?host=node7&roles=compute', headers: node })).json() as AgentChecks;
    assert.ok(!compute.checks.some((c) => c.id === 'portal' || c.id === 'process:sshd'));
    const bad = await app.inject({ method: 'GET', url: '/api/monitor/agent-checks?host=node7&roles=Compute!', headers: node });
    assert.equal(bad.statusCode, 400);
    assert.match((bad.json() as { error: { message: string } }).error.message, /'Compute!' is not a role name/);
  });

  it('the runner fetches its list from the real server and its results reach GET /api/monitor/checks through the report route', async () => {
    const results: CheckResult[] = [];
    const runner = createCheckRunner({ host: 'login1', serverUrl: url, nodeSecret: 'node-secret', roles: ['login'], logger: pino({ level: 'silent' }), onResult: (r) => results.push(r) });
    runner.start();
    try {
      for (let i = 0; i < 150 && !results.some((r) => r.check === 'portal'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await runner.stop();
    }
    const portal = results.find((r) => r.check === 'portal');
    assert.ok(portal, `the portal check ran: ${results.map((r) => r.check).join(' ')}`);
    assert.equal(portal.status, 'critical');
    assert.match(portal.summary, /http:\/\/127\.0\.0\.1:9\/ failed from login1: connection refused/);
    const report = await app.inject({ method: 'POST', url: '/api/monitor/report', headers: node, payload: { host: 'login1', at: new Date().toISOString(), checks: [portal] } });
    assert.equal(report.statusCode, 200);
  });

  it('GET /api/monitor/checks: every logged-in user reads results with their host; details for operators only; status filters', async () => {
    const at = new Date(Date.now() - 90_000).toISOString();
    const ingest = async (host: string, checks: CheckResult[]) => {
      const response = await app.inject({ method: 'POST', url: '/api/monitor/report', headers: node, payload: { host, at: new Date().toISOString(), checks } });
      assert.equal(response.statusCode, 200, response.body);
    };
    await ingest('node7', [
      result('process:slurmd', 'critical', 'slurmd is not running on node7 (no process named slurmd)', at),
      result('filesystem:/scratch', 'warning', '/scratch on node7 is 84.0 % full (84 of 100 GiB), above the warning threshold of 80 %', at),
      result('raid:md', 'ok', 'no software RAID on node7', at),
    ]);
    const login = async (user: string) => ((await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: `${user} password` } })).json() as { ticket: string }).ticket;
    const get = async (ticket: string, query: string) => app.inject({ method: 'GET', url: `/api/monitor/checks${query}`, headers: { authorization: `Bearer ${ticket}` } });
    const olga = await login('olga');
    const ulla = await login('ulla');
    const all = (await get(olga, '')).json() as HostCheckResult[];
    assert.deepEqual([...new Set(all.map((r) => r.host))], ['login1', 'node7']);
    assert.deepEqual((all.find((r) => r.check === 'process:slurmd')!.details as { pids: number[] }).pids, [42]);
    const failing = (await get(ulla, '?host=node7&status=failing')).json() as HostCheckResult[];
    assert.deepEqual(failing.map((r) => [r.host, r.check, r.status]), [['node7', 'filesystem:/scratch', 'warning'], ['node7', 'process:slurmd', 'critical']]);
    assert.deepEqual(failing[0]!.details, {}, 'no details for a plain user');
    const critical = (await get(ulla, '?status=critical')).json() as HostCheckResult[];
    assert.deepEqual(critical.map((r) => r.check).sort(), ['portal', 'process:slurmd']);
    const bad = await get(ulla, '?status=broken');
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /'broken' is not a check status/);
    assert.equal((await app.inject({ method: 'GET', url: '/api/monitor/checks' })).statusCode, 401);
  });

  it('keisan checks prints a table (host, check, status, summary, age); --failing, --host and --json', async () => {
    const table = expectCode(await runKeisan(home, ['checks', '--host', 'node7']), 0);
    assert.match(table.stdout, /^HOST +CHECK +STATUS +SUMMARY +AGE/m);
    // Worst first within a host.
    assert.match(table.stdout, /node7 +process:slurmd +critical +slurmd is not running on node7 \(no process named slurmd\) +\d+s\n(.|\n)*node7 +filesystem:\/scratch +warning(.|\n)*node7 +raid:md +ok/);
    const failing = expectCode(await runKeisan(userHome, ['checks', '--failing']), 0);
    assert.doesNotMatch(failing.stdout, /raid:md/);
    assert.match(failing.stdout, /login1 +portal +critical/);
    const json = JSON.parse(expectCode(await runKeisan(home, ['checks', '--json', '--failing', '--host', 'node7']), 0).stdout) as HostCheckResult[];
    assert.deepEqual(json.map((r) => r.check), ['process:slurmd', 'filesystem:/scratch']);
    const none = expectCode(await runKeisan(home, ['checks', '--host', 'nowhere']), 0);
    assert.match(none.stdout, /no check results yet/);
    const bad = await runKeisan(home, ['checks', '--status', 'meh']);
    expectCode(bad, 2);
    assert.match(bad.stderr, /'meh' is not a check status/);
  });
});
