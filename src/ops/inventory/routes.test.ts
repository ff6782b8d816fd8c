import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { readAudit } from '../../accounts/audit.ts';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { ManualClock } from '../../lib/clock.ts';
import { parseSettings } from '../../lib/config.ts';
import type { CheckResult } from '../../monitor/model.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import type { Group, Host, Service, TakeDownCheck } from './model.ts';
import { responseError, responseJson } from '../../server/testing.ts';

/** The inventory API on a real app (monitor hub, alerts, audit log) over both databases. */

const PASSWORD = 'correct horse battery';
const START = '2026-11-23T08:00:00.000Z';

const INVENTORY = {
  hosts: [
    { name: 'mgmt1', roles: ['management'], addresses: ['10.0.0.11'], macs: { eno1: '52:54:00:00:00:11' } },
    { name: 'mgmt2', roles: ['management'], addresses: ['10.0.0.12'], macs: { eno1: '52:54:00:00:00:12' } },
    { name: 'auth1', roles: ['auth'] },
    { name: 'auth2', roles: ['auth'] },
    { name: 'auth3', roles: ['auth'] },
  ],
  services: [
    { name: 'management', critical: true, hosts: ['mgmt1', 'mgmt2'] },
    { name: 'authentication', critical: true, hosts: ['auth1', 'auth2', 'auth3'] },
  ],
  groups: [
    { name: 'management', members: ['mgmt1', 'mgmt2'], minHealthy: 1, service: 'management' },
    { name: 'authentication', members: ['auth1', 'auth2', 'auth3'], minHealthy: 2, service: 'authentication' },
  ],
};

const json = responseJson;
const error = responseError;

describeEachDatabase('inventory routes', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let clock: ManualClock;
  const tickets: Record<string, string> = {};

  const send = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, who?: string, payload?: unknown) =>
    app.inject({ method, url, headers: who ? { authorization: `Bearer ${tickets[who]}` } : {}, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

  /** An agent's report reaching the hub now, with these check results. */
  const report = (host: string, checks: Partial<CheckResult>[] = []) =>
    app.keisan.monitor.ingest(
      {
        host,
        at: clock.now().toISOString(),
        samples: [],
        checks: checks.map((c) => ({ check: 'process:slapd', type: 'process', target: 'slapd', status: 'ok', summary: '', value: null, details: {}, at: clock.now().toISOString(), durationMs: 1, ...c })),
      },
      clock.now().getTime(),
    );

  before(async () => {
    db = await database.open();
    clock = new ManualClock(START);
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } }, inventory: INVENTORY }, 'test'), db, nodeSecret: 'node-secret', clock });
    const s = app.keisan.accounts;
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'admin' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'admin', name: 'staff' });
    await s.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'staff', password: PASSWORD, operator: true });
    await s.createUser(SYSTEM_ACTOR, { name: 'ulla', primarySubgroup: 'staff', password: PASSWORD });
    for (const name of ['olga', 'ulla']) tickets[name] = json<{ ticket: string }>(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: name, password: PASSWORD } }), 200).ticket;
  });

  after(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('keisan.yaml entries are listed with source config; only operators read the inventory', async () => {
    const hosts = json<Host[]>(await send('GET', '/api/ops/hosts', 'olga'), 200);
    assert.deepEqual(hosts.map((h) => [h.name, h.source, h.health.state]), [
      ['auth1', 'config', 'unknown'],
      ['auth2', 'config', 'unknown'],
      ['auth3', 'config', 'unknown'],
      ['mgmt1', 'config', 'unknown'],
      ['mgmt2', 'config', 'unknown'],
    ]);
    assert.deepEqual([hosts[3]!.services, hosts[3]!.groups, hosts[3]!.macs], [['management'], ['management'], { eno1: '52:54:00:00:00:11' }]);
    error(await send('GET', '/api/ops/hosts', 'ulla'), 403, /^only an operator may read the inventory$/);
    error(await send('POST', '/api/ops/check-takedown', 'ulla', { hosts: ['mgmt1'] }), 403, /only an operator/);
    assert.equal((await send('GET', '/api/ops/groups')).statusCode, 401);
    // Nothing reports yet: unknown health is not relied on, so every group is BROKEN.
    const groups = json<Group[]>(await send('GET', '/api/ops/groups', 'olga'), 200);
    assert.deepEqual(groups.map((g) => [g.name, g.healthy, g.total, g.state]), [
      ['authentication', 0, 3, 'BROKEN'],
      ['management', 0, 2, 'BROKEN'],
    ]);
  });

  it('health follows the monitor: reporting hosts are healthy, a silent one goes down, a critical check degrades', async () => {
    for (const host of ['mgmt1', 'mgmt2', 'auth1', 'auth2', 'auth3']) report(host);
    let groups = json<Group[]>(await send('GET', '/api/ops/groups', 'olga'), 200);
    assert.deepEqual(groups.map((g) => [g.name, g.healthy, g.state]), [
      ['authentication', 3, 'OK'],
      ['management', 2, 'OK'],
    ]);
    assert.equal(json<TakeDownCheck>(await send('POST', '/api/ops/check-takedown', 'olga', { hosts: ['mgmt1'] }), 200).allowed, true);

    // mgmt2 stops reporting; the others go on, and slapd dies on auth3.
    clock.advance(60_000);
    for (const host of ['mgmt1', 'auth1', 'auth2']) report(host);
    report('auth3', [{ status: 'critical', summary: 'slapd is not running on auth3' }]);
    const mgmt2 = json<Host>(await send('GET', '/api/ops/hosts/mgmt2', 'olga'), 200);
    assert.deepEqual(mgmt2.health, { state: 'down', reason: 'its agent has not reported for 1m (last report 2026-11-23T08:00:00.000Z)' });
    groups = json<Group[]>(await send('GET', '/api/ops/groups', 'olga'), 200);
    assert.deepEqual(groups.map((g) => [g.name, g.healthy, g.total, g.state]), [
      ['authentication', 2, 3, 'AT-RISK'],
      ['management', 1, 2, 'AT-RISK'],
    ]);
    const auth = json<Group>(await send('GET', '/api/ops/groups/authentication', 'olga'), 200);
    assert.deepEqual(auth.memberHealth.find((m) => m.host === 'auth3'), { host: 'auth3', state: 'degraded', reason: 'check process:slapd is critical: slapd is not running on auth3' });

    // The alert engine's CheckCritical alert says the same once evaluated.
    await app.keisan.alerts.evaluateNow();
    assert.match(json<Host>(await send('GET', '/api/ops/hosts/auth3', 'olga'), 200).health.reason, /^critical alert CheckCritical: slapd is not running on auth3/);
  });

  it('check-takedown refuses the last healthy management server and the second authentication server', async () => {
    const mgmt = json<TakeDownCheck>(await send('POST', '/api/ops/check-takedown', 'olga', { hosts: ['MGMT1'] }), 200);
    assert.equal(mgmt.allowed, false);
    assert.deepEqual(mgmt.refusals.map((r) => r.kind), ['below-minimum', 'partner-unhealthy']);
    assert.equal(mgmt.refusals[0]!.reason, 'taking down mgmt1 would leave group management with 0 of 2 healthy (minimum 1): mgmt2 is already down (its agent has not reported for 1m (last report 2026-11-23T08:00:00.000Z))');
    const auth = json<TakeDownCheck>(await send('POST', '/api/ops/check-takedown', 'olga', { hosts: ['auth1', 'node99'] }), 200);
    assert.equal(auth.allowed, false);
    assert.deepEqual(auth.unknownTargets, ['node99']);
    assert.match(auth.refusals[0]!.reason, /^taking down auth1 would leave group authentication with 1 of 3 healthy \(minimum 2\): auth3 is degraded/);
    // Taking down the host that is already down is fine.
    assert.equal(json<TakeDownCheck>(await send('POST', '/api/ops/check-takedown', 'olga', { hosts: ['mgmt2'] }), 200).allowed, true);
    error(await send('POST', '/api/ops/check-takedown', 'olga', { hosts: [] }), 400, /name at least one host/);
    error(await send('POST', '/api/ops/check-takedown', 'olga', { hosts: ['bad_name'] }), 400, /host name is not valid/);
  });

  it('operators add hosts, services and groups through the API (source api, audited); keisan.yaml entries are read-only (409, audited)', async () => {
    const login1 = json<Host>(await send('POST', '/api/ops/hosts', 'olga', { name: 'login1', roles: ['login'], addresses: ['10.0.1.1', '2001:DB8::1'], macs: { eth0: '52-54-00-00-01-01' } }), 201);
    assert.deepEqual([login1.source, login1.createdBy, login1.addresses, login1.macs], ['api', 'olga', ['10.0.1.1', '2001:db8::1'], { eth0: '52:54:00:00:01:01' }]);
    json<Host>(await send('POST', '/api/ops/hosts', 'olga', { name: 'login2', roles: ['login'] }), 201);
    const service = json<Service>(await send('POST', '/api/ops/services', 'olga', { name: 'login', critical: true, hosts: ['login1', 'login2'] }), 201);
    assert.deepEqual([service.source, service.hosts], ['api', ['login1', 'login2']]);
    const group = json<Group>(await send('POST', '/api/ops/groups', 'olga', { name: 'login', members: ['login1', 'login2'], minHealthy: 1, service: 'login' }), 201);
    assert.deepEqual([group.source, group.healthy, group.state], ['api', 0, 'BROKEN']);
    // An API group may use keisan.yaml hosts.
    json<Group>(await send('POST', '/api/ops/groups', 'olga', { name: 'mixed', members: ['login1', 'mgmt1'], minHealthy: 1 }), 201);

    const patched = json<Host>(await send('PATCH', '/api/ops/hosts/login2', 'olga', { addresses: ['10.0.1.2'], notes: 'rack B4' }), 200);
    assert.deepEqual([patched.addresses, patched.roles, patched.notes], [['10.0.1.2'], ['login'], 'rack B4']);
    json<Group>(await send('PATCH', '/api/ops/groups/mixed', 'olga', { members: ['login1', 'login2'] }), 200);

    error(await send('PATCH', '/api/ops/hosts/mgmt1', 'olga', { notes: 'x' }), 409, /^host mgmt1 is defined in keisan\.yaml \(inventory\.hosts\): entries from keisan\.yaml are read-only through the API — change it in keisan\.yaml and restart the server$/);
    error(await send('DELETE', '/api/ops/groups/management', 'olga'), 409, /^group management is defined in keisan\.yaml \(inventory\.groups\)/);
    error(await send('POST', '/api/ops/services', 'olga', { name: 'management' }), 409, /^service management already exists \(defined in keisan\.yaml\)/);
    error(await send('POST', '/api/ops/hosts', 'ulla', { name: 'mine' }), 403, /^only an operator may change the inventory$/);

    const audit = await readAudit(db.kysely, { action: 'inventory.', limit: 50 });
    const rows = audit.map((e) => [e.action, e.target, e.outcome, e.actor]).reverse();
    assert.deepEqual(rows, [
      ['inventory.host.add', 'login1', 'ok', 'olga'],
      ['inventory.host.add', 'login2', 'ok', 'olga'],
      ['inventory.service.add', 'login', 'ok', 'olga'],
      ['inventory.group.add', 'login', 'ok', 'olga'],
      ['inventory.group.add', 'mixed', 'ok', 'olga'],
      ['inventory.host.set', 'login2', 'ok', 'olga'],
      ['inventory.group.set', 'mixed', 'ok', 'olga'],
      ['inventory.host.set', 'mgmt1', 'denied', 'olga'],
      ['inventory.group.rm', 'management', 'denied', 'olga'],
      ['inventory.host.add', 'mine', 'denied', 'ulla'],
    ]);
    assert.deepEqual(audit.find((e) => e.action === 'inventory.host.add' && e.target === 'login1')?.detail.macs, { eth0: '52:54:00:00:01:01' });
  });

  it('bad input is refused with 4xx naming the field, and nothing is half-written', async () => {
    error(await send('POST', '/api/ops/hosts', 'olga', { name: 'login3', macs: { eth0: 'nope' } }), 400, /macs\.eth0.*'nope' is not a MAC address/);
    error(await send('POST', '/api/ops/hosts', 'olga', { name: 'login3', addresses: ['10.0.0.1/24'] }), 400, /is not an IPv4 or IPv6 address \(write it without a \/prefix\)/);
    error(await send('POST', '/api/ops/hosts', 'olga', { name: 'login3', addresses: ['10.0.0.11'] }), 400, /^host login3: address 10\.0\.0\.11 is already host mgmt1's$/);
    error(await send('POST', '/api/ops/hosts', 'olga', { name: 'login3', macs: { eth0: '52:54:00:00:00:11' } }), 400, /MAC 52:54:00:00:00:11 \(eth0\) is already host mgmt1's/);
    error(await send('POST', '/api/ops/hosts', 'olga', { name: 'login3', colour: 'red' }), 400, /colour/);
    error(await send('POST', '/api/ops/groups', 'olga', { name: 'g', members: ['login1', 'login9'], minHealthy: 1 }), 400, /^group g: member login9 is not in the inventory's hosts$/);
    error(await send('POST', '/api/ops/groups', 'olga', { name: 'g', members: ['login1'], minHealthy: 2 }), 400, /^group g: minHealthy is 2 but it has 1 member\(s\)$/);
    error(await send('POST', '/api/ops/groups', 'olga', { name: 'g', members: ['login1'], minHealthy: 0 }), 400, /minHealthy must be at least 1/);
    error(await send('POST', '/api/ops/groups', 'olga', { name: 'g', members: ['login1'], minHealthy: 1, service: 'nosuch' }), 400, /service nosuch is not in the inventory's services/);
    error(await send('PATCH', '/api/ops/groups/login', 'olga', { minHealthy: 3 }), 400, /minHealthy is 3 but it has 2 member/);
    error(await send('POST', '/api/ops/hosts', 'olga', { name: 'login1' }), 409, /^host login1 already exists/);
    error(await send('GET', '/api/ops/hosts/nosuch', 'olga'), 404, /^host 'nosuch' does not exist$/);
    error(await send('DELETE', '/api/ops/hosts/login1', 'olga'), 409, /^host login1 is still named by service login, group login, group mixed: change or remove those first$/);
    error(await send('DELETE', '/api/ops/services/login', 'olga'), 409, /^service login is still named by group login/);
    const names = json<Host[]>(await send('GET', '/api/ops/hosts', 'olga'), 200).map((h) => h.name);
    assert.ok(!names.includes('login3') && !names.includes('g'));
    assert.equal(json<Group>(await send('GET', '/api/ops/groups/login', 'olga'), 200).minHealthy, 1);
  });

  it('concurrent changes are serialised: a group naming a host being removed never keeps a member that is gone', async () => {
    for (let round = 0; round < 5; round++) {
      json<Host>(await send('POST', '/api/ops/hosts', 'olga', { name: 'spare1' }), 201);
      const [group, removal] = await Promise.all([
        send('POST', '/api/ops/groups', 'olga', { name: 'spares', members: ['spare1'], minHealthy: 1 }),
        send('DELETE', '/api/ops/hosts/spare1', 'olga'),
      ]);
      // Exactly one of them wins, whichever came first.
      assert.deepEqual([group.statusCode, removal.statusCode].sort(), group.statusCode === 201 ? [201, 409] : [200, 400], `${group.body} ${removal.body}`);
      const hosts = new Set(json<Host[]>(await send('GET', '/api/ops/hosts', 'olga'), 200).map((h) => h.name));
      for (const g of json<Group[]>(await send('GET', '/api/ops/groups', 'olga'), 200)) for (const m of g.members) assert.ok(hosts.has(m), `group ${g.name} names ${m}, which is gone`);
      if (group.statusCode === 201) assert.equal((await send('DELETE', '/api/ops/groups/spares', 'olga')).statusCode, 200);
      if (removal.statusCode !== 200) assert.equal((await send('DELETE', '/api/ops/hosts/spare1', 'olga')).statusCode, 200);
    }
  });

  it('keisan.yaml dropping a host an API group names: shown as not in the inventory, and unrelated changes still work', async () => {
    json<Group>(await send('POST', '/api/ops/groups', 'olga', { name: 'edge', members: ['auth1'], minHealthy: 1 }), 201);
    const without = { hosts: INVENTORY.hosts.filter((h) => h.name !== 'auth1'), services: [INVENTORY.services[0]!], groups: [INVENTORY.groups[0]!] };
    const second = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } }, inventory: without }, 'test'), db, nodeSecret: 'node-secret', clock });
    try {
      const as = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
        second.inject({ method, url, headers: { authorization: `Bearer ${tickets.olga}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
      const edge = json<Group>(await as('GET', '/api/ops/groups/edge'), 200);
      assert.deepEqual([edge.state, edge.memberHealth], ['BROKEN', [{ host: 'auth1', state: 'unknown', reason: 'auth1 is not in the inventory' }]]);
      json<Host>(await as('POST', '/api/ops/hosts', { name: 'edge1' }), 201);
      // The problem was there before: it does not block a change that brings no new one.
      assert.equal(json<Group>(await as('PATCH', '/api/ops/groups/edge', { notes: 'still naming auth1' }), 200).notes, 'still naming auth1');
      error(await as('POST', '/api/ops/groups', { name: 'edge2', members: ['auth1'], minHealthy: 1 }), 400, /^group edge2: member auth1 is not in the inventory's hosts$/);
      json<Group>(await as('PATCH', '/api/ops/groups/edge', { members: ['edge1'] }), 200);
      assert.deepEqual(json(await as('DELETE', '/api/ops/groups/edge'), 200), { ok: true });
      assert.deepEqual(json(await as('DELETE', '/api/ops/hosts/edge1'), 200), { ok: true });
    } finally {
      await second.close();
    }
  });

  it('removes in order: groups, then services, then hosts', async () => {
    for (const url of ['/api/ops/groups/mixed', '/api/ops/groups/login', '/api/ops/services/login', '/api/ops/hosts/login1', '/api/ops/hosts/login2']) {
      assert.deepEqual(json(await send('DELETE', url, 'olga'), 200), { ok: true });
    }
    assert.deepEqual(json<Host[]>(await send('GET', '/api/ops/hosts', 'olga'), 200).map((h) => h.source), ['config', 'config', 'config', 'config', 'config']);
  });
});
