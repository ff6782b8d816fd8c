import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { readAudit } from '../../accounts/audit.ts';
import { SYSTEM_ACTOR, type Workgroup } from '../../accounts/model.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { ManualClock } from '../../lib/clock.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import { responseError, responseJson } from '../../server/testing.ts';
import type { Assessed, Drain, LoginHostAnswer } from './model.ts';

/** The login pool and the login networks through the real app (hub, inventory, accounts, audit log) on both databases. */

const PASSWORD = 'correct horse battery';
const START = '2026-11-23T08:00:00.000Z';
const NODE_SECRET = 'node-secret-of-the-test';

const INVENTORY = {
  hosts: [
    { name: 'login1', roles: ['login'], addresses: ['10.0.0.21'] },
    { name: 'login2', roles: ['login'], addresses: ['10.0.0.22', '2001:db8::22'] },
    { name: 'login3', roles: ['login'] },
    { name: 'mgmt1', roles: ['management'], addresses: ['10.0.0.11'] },
  ],
  services: [{ name: 'login', hosts: ['login1', 'login2', 'login3'] }],
};

const json = responseJson;
/** The error message of a refusal with this status (the message is checked where it matters). */
const error = (response: Parameters<typeof responseError>[0], status: number) => responseError(response, status, /./);

describeEachDatabase('login host routes', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let clock: ManualClock;
  const tickets: Record<string, string> = {};

  const get = (url: string, headers: Record<string, string> = {}, remoteAddress = '192.0.2.50') => app.inject({ method: 'GET', url, headers, remoteAddress });
  const as = (who: string) => ({ authorization: `Bearer ${tickets[who]}` });
  const send = (method: 'PUT' | 'DELETE' | 'PATCH', url: string, who: string, payload?: Record<string, unknown>) =>
    app.inject({ method, url, headers: as(who), ...(payload ? { payload } : {}) });

  /** An agent's report now: its load and CPU count as the collector sends them. */
  const report = (host: string, load1: number, cpus: number) =>
    app.keisan.monitor.ingest(
      {
        host,
        at: clock.now().toISOString(),
        samples: [
          { name: 'node_time_seconds', labels: {}, value: clock.now().getTime() / 1000 },
          { name: 'node_load1', labels: {}, value: load1 },
          ...Array.from({ length: cpus }, (_, cpu) => ({ name: 'node_cpu_seconds_total', labels: { cpu: String(cpu), mode: 'idle' }, value: 1000 })),
        ],
        checks: [],
      },
      clock.now().getTime(),
    );

  before(async () => {
    db = await database.open();
    clock = new ManualClock(START);
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } }, inventory: INVENTORY }, 'test'), db, nodeSecret: NODE_SECRET, clock });
    const s = app.keisan.accounts;
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'central' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'central', name: 'staff' });
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-a' });
    await s.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'staff', password: PASSWORD, operator: true });
    await s.createUser(SYSTEM_ACTOR, { name: 'vera', primarySubgroup: 'staff', password: PASSWORD, operator: true });
    await s.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-a', password: PASSWORD });
    await s.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'lab-a', password: PASSWORD });
    await s.setWorkgroupAdmin(SYSTEM_ACTOR, 'lab', 'bob', true);
    for (const name of ['olga', 'vera', 'alice', 'bob']) tickets[name] = json<{ ticket: string }>(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: name, password: PASSWORD } }), 200).ticket;
  });

  after(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('no login host has reported: 503 naming every login host and why (anonymous callers get no details)', async () => {
    const detailed = error(await get('/api/login-host', as('olga')), 503);
    assert.match(detailed, /^no login host can take users now: login1 is health unknown: no report from the Keisan agent on login1.*; login2 is health unknown.*; login3 is health unknown/);
    assert.doesNotMatch(detailed, /mgmt1/);
    const anonymous = error(await get('/api/login-host'), 503);
    assert.equal(anonymous, 'no login host can take users now (3 in the pool, none available): try again later or ask an operator');
  });

  it('spreads anonymous callers by load (format=text is just the address); a user keeps their host', async () => {
    report('login1', 0, 4); // idle: weight 1
    report('login2', 4, 4); // one task per core: weight 0.5
    const text = await get('/api/login-host?format=text');
    assert.equal(text.statusCode, 200);
    assert.match(String(text.headers['content-type']), /^text\/plain/);
    assert.match(text.body, /^10\.0\.0\.2[12]\n$/);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 29; i += 1) {
      const answer = json<LoginHostAnswer>(await get('/api/login-host'), 200);
      assert.equal(answer.hosts, undefined, 'anonymous callers do not see the pool');
      counts[answer.host] = (counts[answer.host] ?? 0) + 1;
    }
    counts[text.body.trim() === '10.0.0.21' ? 'login1' : 'login2']! += 1;
    assert.deepEqual(counts, { login1: 20, login2: 10 });

    const first = json<LoginHostAnswer>(await get('/api/login-host', as('alice')), 200);
    assert.equal(first.user, 'alice');
    assert.deepEqual(
      first.hosts!.map((h) => [h.host, h.state]),
      [
        ['login1', 'in-pool'],
        ['login2', 'in-pool'],
        ['login3', 'out'],
      ],
    );
    assert.match(first.hosts![0]!.reason, /healthy; load 0\.00 on 4 CPUs \(weight 1\.00\)/);
    for (let i = 0; i < 5; i += 1) assert.equal(json<LoginHostAnswer>(await get('/api/login-host', as('alice')), 200).host, first.host);
    const again = json<LoginHostAnswer>(await get('/api/login-host', as('alice')), 200);
    assert.match(again.why, /alice was sent to login[12] before and it is still in the pool/);
  });

  it('a host that stops reporting is skipped and its users move; the node secret gets details too, a wrong one 401', async () => {
    const before = json<LoginHostAnswer>(await get('/api/login-host?user=carol', { authorization: `Node ${NODE_SECRET}` }), 200);
    assert.ok(before.hosts);
    // Only the other host keeps reporting past the hub's stale limit.
    const silent = before.host;
    const alive = silent === 'login1' ? 'login2' : 'login1';
    clock.advance(10 * 60_000);
    report(alive, 1, 4);
    for (let i = 0; i < 10; i += 1) {
      const answer = json<LoginHostAnswer>(await get('/api/login-host?user=carol', { authorization: `Node ${NODE_SECRET}` }), 200);
      assert.equal(answer.host, alive);
      assert.match(answer.hosts!.find((h) => h.host === silent)!.reason, /^down: its agent has not reported for 10m/);
    }
    error(await get('/api/login-host', { authorization: 'Node wrong' }), 401);
    error(await get('/api/login-host', { authorization: 'Bearer kst_not-a-ticket' }), 401);
  });

  it('drain and undrain (operators, audited): with every host out, 503 says why each is out', async () => {
    const pool = json<{ hosts: Assessed[] }>(await get('/api/login-hosts', as('olga')), 200);
    const up = pool.hosts.find((h) => h.state === 'in-pool')!.host;
    error(await get('/api/login-hosts', as('alice')), 403);
    error(await send('PUT', `/api/login-hosts/${up}/drain`, 'alice', { reason: 'mine' }), 403);
    error(await send('PUT', '/api/login-hosts/mgmt1/drain', 'olga', { reason: 'x' }), 400);
    error(await send('PUT', '/api/login-hosts/nosuch/drain', 'olga', { reason: 'x' }), 404);
    error(await send('PUT', `/api/login-hosts/${up}/drain`, 'olga', {}), 400);
    const drain = json<Drain>(await send('PUT', `/api/login-hosts/${up}/drain`, 'olga', { reason: 'kernel update' }), 200);
    assert.deepEqual([drain.host, drain.drainedBy, drain.reason], [up, 'olga', 'kernel update']);
    error(await send('PUT', `/api/login-hosts/${up}/drain`, 'olga', { reason: 'again' }), 409);
    const none = error(await get('/api/login-host', as('olga')), 503);
    assert.match(none, new RegExp(`${up} is in maintenance: drained by olga at .*: kernel update`));
    assert.match(none, /is down: its agent has not reported/);
    json(await send('DELETE', `/api/login-hosts/${up}/drain`, 'olga'), 200);
    error(await send('DELETE', `/api/login-hosts/${up}/drain`, 'olga'), 409);
    assert.equal(json<LoginHostAnswer>(await get('/api/login-host', as('olga')), 200).host, up);
    const audit = await readAudit(db.kysely, { action: 'login-host.' });
    assert.deepEqual(
      audit.map((e) => [e.action, e.actor, e.outcome]).sort(),
      [
        ['login-host.drain', 'alice', 'denied'],
        ['login-host.drain', 'olga', 'ok'],
        ['login-host.undrain', 'olga', 'ok'],
      ],
    );
  });

  it('a host under a maintenance plan in progress is out of the pool until the plan ends', async () => {
    report('login1', 0, 4);
    report('login2', 0, 4);
    const send2 = (method: 'POST', url: string, who: string, payload: Record<string, unknown> = {}) => app.inject({ method, url, headers: as(who), payload });
    json(await send2('POST', '/api/ops/runbooks', 'olga', { name: 'login-recovery', service: 'login', body: 'reboot it' }), 201);
    const now = clock.now().getTime();
    const plan = json<{ id: number }>(
      await send2('POST', '/api/ops/maint/plans', 'olga', {
        title: 'Kernel update on login2',
        risk: 'low',
        window: { start: new Date(now + 60_000).toISOString(), end: new Date(now + 86_400_000).toISOString() },
        targets: ['login2'],
        runbook: 'login-recovery',
        steps: [
          { kind: 'manual', host: 'login2', instruction: 'Reboot login2', expect: 'it comes back' },
          { kind: 'manual', host: 'login2', instruction: 'Check logins', expect: 'ssh works' },
        ],
      }),
      201,
    );
    json(await send2('POST', `/api/ops/maint/plans/${plan.id}/submit`, 'olga'), 200);
    json(await send2('POST', `/api/ops/maint/plans/${plan.id}/approve`, 'vera', { comment: 'fine' }), 200);
    clock.advance(2 * 60_000);
    report('login1', 0, 4);
    report('login2', 0, 4);
    json(await send2('POST', `/api/ops/maint/plans/${plan.id}/start`, 'olga'), 200);
    for (let i = 0; i < 4; i += 1) {
      const answer = json<LoginHostAnswer>(await get(`/api/login-host?user=u${i}`, as('olga')), 200);
      assert.equal(answer.host, 'login1');
      assert.equal(answer.hosts!.find((h) => h.host === 'login2')!.reason, `in maintenance: maintenance plan ${plan.id} 'Kernel update on login2' is running`);
    }
    json(await send2('POST', `/api/ops/maint/plans/${plan.id}/steps/1`, 'olga', { confirmHost: 'login2', result: 'ok' }), 200);
    json(await send2('POST', `/api/ops/maint/plans/${plan.id}/steps/2`, 'olga', { confirmHost: 'login2', result: 'ok' }), 200);
    const hosts = new Set<string>();
    for (let i = 0; i < 4; i += 1) hosts.add(json<LoginHostAnswer>(await get(`/api/login-host?user=v${i}`, as('olga')), 200).host);
    assert.deepEqual([...hosts].sort(), ['login1', 'login2'], 'the plan completed: login2 is back');
  });

  it('anonymous callers are limited per address', async () => {
    for (let i = 0; i < 60; i += 1) assert.equal((await get('/api/login-host', {}, '198.51.100.9')).statusCode, 200);
    const limited = await get('/api/login-host', {}, '198.51.100.9');
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await get('/api/login-host', as('alice'), '198.51.100.9')).statusCode, 200, 'a ticket is not limited');
  });

  it('login networks: operators set them (IPv4 and IPv6, checked); workgroup admins may not', async () => {
    const bad = error(await send('PATCH', '/api/workgroups/lab', 'olga', { loginNetworks: ['10.1.2.3/16'] }), 400);
    assert.match(bad, /did you mean 10\.1\.0\.0\/16\?/);
    error(await send('PATCH', '/api/workgroups/lab', 'bob', { loginNetworks: [] }), 403);
    const lab = json<Workgroup>(await send('PATCH', '/api/workgroups/lab', 'olga', { loginNetworks: ['10.1.0.0/16', '2001:DB8::/32'] }), 200);
    assert.deepEqual(lab.loginNetworks, ['10.1.0.0/16', '2001:db8::/32']);
    assert.deepEqual(json<Workgroup>(await get('/api/workgroups/central', as('olga')), 200).loginNetworks, []);
  });

  it('keisan login from outside every network of the workgroup is refused with a clear message and audited; inside (IPv4, IPv6, mapped) it works', async () => {
    const login = (user: string, remoteAddress: string) => app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: PASSWORD }, remoteAddress });
    assert.equal((await login('alice', '10.1.2.3')).statusCode, 200);
    assert.equal((await login('alice', '2001:db8:7::1')).statusCode, 200);
    assert.equal((await login('alice', '::ffff:10.1.200.1')).statusCode, 200);
    const refused = error(await login('alice', '192.0.2.7'), 403);
    assert.equal(
      refused,
      "alice may not log in from 192.0.2.7: it is not in any network alice's workgroups allow (workgroup lab: 10.1.0.0/16, 2001:db8::/32); log in from one of those networks, or ask bob (workgroup admin) or an operator to add yours",
    );
    error(await login('alice', '2001:db9::1'), 403);
    // The wrong password from outside still says only "wrong password": nothing about networks.
    const wrong = error(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'alice', password: 'not the password' }, remoteAddress: '192.0.2.7' }), 401);
    assert.doesNotMatch(wrong, /network/);
    // olga's workgroup (central) is not restricted.
    assert.equal((await login('olga', '192.0.2.7')).statusCode, 200);
    // Restricted, an operator still gets in from the server's own host (and only from there).
    json(await send('PATCH', '/api/workgroups/central', 'olga', { loginNetworks: ['10.9.0.0/16'] }), 200);
    error(await login('olga', '192.0.2.7'), 403);
    assert.equal((await login('olga', '127.0.0.1')).statusCode, 200);
    assert.equal((await login('olga', '::1')).statusCode, 200);
    json(await send('PATCH', '/api/workgroups/central', 'olga', { loginNetworks: [] }), 200);
    const denied = (await readAudit(db.kysely, { action: 'auth.login', outcome: 'denied' })).filter((e) => e.target === 'alice');
    assert.equal((await readAudit(db.kysely, { action: 'auth.login', outcome: 'denied', target: 'olga' })).length, 1);
    assert.equal(denied.length, 2);
    assert.deepEqual(
      denied.map((e) => e.detail.address).sort(),
      ['192.0.2.7', '2001:db9::1'],
    );
    assert.match(String(denied[0]!.detail.reason), /may not log in from/);
  });

  it('login-check for pam_exec (node secret): refused outside, allowed inside, unknown users allowed, refusals audited', async () => {
    const check = (query: string, secret = NODE_SECRET) => app.inject({ method: 'GET', url: `/api/auth/login-check?${query}`, headers: { authorization: `Node ${secret}` } });
    const outside = json<{ allowed: boolean; reason: string }>(await check('user=alice&from=192.0.2.7&host=login1'), 200);
    assert.equal(outside.allowed, false);
    assert.match(outside.reason, /alice may not log in from 192\.0\.2\.7/);
    assert.equal(json<{ allowed: boolean }>(await check('user=alice&from=2001:db8::9'), 200).allowed, true);
    const root = json<{ allowed: boolean; reason: string }>(await check('user=root&from=192.0.2.7'), 200);
    assert.deepEqual(root, { allowed: true, reason: 'root is not a Keisan user: Keisan does not restrict where it logs in from', network: null });
    error(await check('user=alice&from=10.1.2.3', 'wrong'), 401);
    error(await app.inject({ method: 'GET', url: '/api/auth/login-check?user=alice&from=10.1.2.3', headers: as('olga') }), 401);
    const audit = await readAudit(db.kysely, { action: 'auth.login-check' });
    assert.equal(audit.length, 1);
    assert.deepEqual([audit[0]!.target, audit[0]!.outcome, audit[0]!.detail.address, audit[0]!.detail.host], ['alice', 'denied', '192.0.2.7', 'login1']);
  });
});
