import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { ManualClock } from '../lib/clock.ts';
import { parseSettings } from '../lib/config.ts';
import { HTTP_STATUS_BY_CODE, isErrorCode, type ErrorCode } from '../lib/errors.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';

const PASSWORD = 'correct horse battery';
const NODE_SECRET = 'node-secret-for-device-tests';
const MIN = 60_000;
const START = '2026-03-02T08:00:00.000Z';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Asserts status, the `{ error: { code, message } }` body, the code and the message; returns the body's error. */
function expectError(response: LightMyRequestResponse, status: number, code: ErrorCode, message?: RegExp): { code: string; message: string; details?: unknown } {
  assert.equal(response.statusCode, status, `expected ${status} ${code}, got ${response.statusCode}: ${response.body}`);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body: unknown = JSON.parse(response.body);
  assert.ok(isRecord(body) && isRecord(body.error), response.body);
  const { error } = body;
  assert.ok(isErrorCode(error.code) && typeof error.message === 'string', response.body);
  assert.equal(error.code, code, error.message);
  assert.equal(HTTP_STATUS_BY_CODE[error.code], status);
  assert.ok(!/\n\s+at /.test(error.message), 'a stack trace leaked');
  if (message) assert.match(error.message, message);
  return { code: error.code, message: error.message, details: error.details };
}

interface DeviceJson {
  name: string;
  state: string;
  holder: string | null;
  freeAt: string | null;
  lastActivityAt: string | null;
}

function deviceOf(response: LightMyRequestResponse, status = 200): DeviceJson {
  assert.equal(response.statusCode, status, response.body);
  const body: unknown = JSON.parse(response.body);
  assert.ok(isRecord(body) && typeof body.name === 'string' && typeof body.state === 'string', response.body);
  return body as unknown as DeviceJson;
}

describeEachDatabase('device routes', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let clock: ManualClock;
  const tickets: Record<string, string> = {};

  const send = (method: Method, url: string, who?: string, payload?: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method,
      url,
      headers: { ...(who ? { authorization: `Bearer ${tickets[who]}` } : {}), ...headers },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });

  before(async () => {
    db = await database.open();
    clock = new ManualClock(START);
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: NODE_SECRET, clock });
    const s = app.keisan.accounts;
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'admin' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'admin', name: 'staff' });
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'physics' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'physics', name: 'optics' });
    await s.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'staff', password: PASSWORD, operator: true });
    for (const name of ['walter', 'alice', 'bob']) await s.createUser(SYSTEM_ACTOR, { name, primarySubgroup: 'optics', password: PASSWORD });
    await s.setWorkgroupAdmin(SYSTEM_ACTOR, 'physics', 'walter', true);
    for (const name of ['olga', 'walter', 'alice', 'bob']) {
      const response = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: name, password: PASSWORD } });
      const body: unknown = JSON.parse(response.body);
      assert.ok(isRecord(body) && typeof body.ticket === 'string', response.body);
      tickets[name] = body.ticket;
    }
  });

  after(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('only operators add, change, break and remove devices; a workgroup admin or user gets 403', async () => {
    for (const who of ['walter', 'alice']) {
      expectError(await send('POST', '/api/devices', who, { name: 'tape9' }), 403, 'FORBIDDEN', /only an operator may add devices/);
    }
    const created = deviceOf(await send('POST', '/api/devices', 'olga', { name: 'tape0', kind: 'tape-drive', description: 'LTO-9, rack B4', maxHold: '8h' }), 201);
    assert.deepEqual([created.name, created.state], ['tape0', 'free']);
    deviceOf(await send('POST', '/api/devices', 'olga', { name: 'scope1', kind: 'instrument', idleRelease: '30m' }), 201);
    for (const who of ['walter', 'alice']) {
      expectError(await send('PATCH', '/api/devices/tape0', who, { description: 'x' }), 403, 'FORBIDDEN', /only an operator may change devices/);
      expectError(await send('DELETE', '/api/devices/scope1', who), 403, 'FORBIDDEN', /only an operator may remove devices/);
      expectError(await send('POST', '/api/devices/tape0/break', who, { reason: 'mine' }), 403, 'FORBIDDEN', /only an operator may break/);
    }
    const patched = await send('PATCH', '/api/devices/scope1', 'olga', { description: 'confocal microscope', maxHold: null });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual(JSON.parse(await send('DELETE', '/api/devices/scope1', 'olga').then((r) => r.body)), { ok: true });
    const list: unknown = JSON.parse((await send('GET', '/api/devices', 'alice')).body);
    assert.ok(Array.isArray(list));
    assert.deepEqual(list.map((d: unknown) => (isRecord(d) ? d.name : null)), ['tape0']);
  });

  it('alice reserves; bob gets 409 naming alice and when it frees up; everyone sees who holds it', async () => {
    const mine = deviceOf(await send('POST', '/api/devices/tape0/reserve', 'alice', { for: '1h' }));
    assert.deepEqual([mine.state, mine.holder, mine.freeAt], ['reserved', 'alice', '2026-03-02T09:00:00.000Z']);
    const refusal = expectError(
      await send('POST', '/api/devices/tape0/reserve', 'bob'),
      409,
      'CONFLICT',
      /^device 'tape0' is reserved by alice until 2026-03-02 09:00 UTC \(the time they asked for; later if they stay active, 2026-03-02 16:00 UTC at the latest\): others may reserve it from then on, or earlier if alice releases it$/,
    );
    assert.deepEqual(refusal.details, { holder: 'alice', state: 'reserved', freeAt: '2026-03-02T09:00:00.000Z' });
    expectError(await send('POST', '/api/devices/tape0/release', 'bob'), 409, 'CONFLICT', /reserved by alice, not by you: only the holder releases it/);
    const seen = deviceOf(await send('GET', '/api/devices/tape0', 'bob'));
    assert.deepEqual([seen.state, seen.holder], ['reserved', 'alice']);
    // No body at all is a plain reservation (renewal here).
    deviceOf(await app.inject({ method: 'POST', url: '/api/devices/tape0/reserve', headers: { authorization: `Bearer ${tickets.alice}` } }));
  });

  it("activity: the holder's ticket or an agent's node secret keeps it in use; anything else is refused", async () => {
    clock.advance(50 * MIN);
    const byAlice = deviceOf(await send('POST', '/api/devices/tape0/activity', 'alice', {}));
    assert.deepEqual([byAlice.state, byAlice.lastActivityAt, byAlice.freeAt], ['in-use', '2026-03-02T08:50:00.000Z', '2026-03-02T09:10:00.000Z']);
    clock.advance(5 * MIN);
    const byAgent = deviceOf(await app.inject({ method: 'POST', url: '/api/devices/tape0/activity', headers: { authorization: `Node ${NODE_SECRET}` }, payload: { user: 'alice' } }));
    assert.equal(byAgent.freeAt, '2026-03-02T09:15:00.000Z');
    deviceOf(await app.inject({ method: 'POST', url: '/api/devices/tape0/activity', headers: { authorization: `Node ${NODE_SECRET}` } }));
    expectError(await app.inject({ method: 'POST', url: '/api/devices/tape0/activity', headers: { authorization: `Node ${NODE_SECRET}` }, payload: { user: 'bob' } }), 409, 'CONFLICT', /reserved by alice, but activity of bob/);
    expectError(await send('POST', '/api/devices/tape0/activity', 'bob', {}), 409, 'CONFLICT', /^device 'tape0' is in use by alice until 2026-03-02 09:15 UTC/);
    expectError(await send('POST', '/api/devices/tape0/activity', 'bob', { user: 'alice' }), 403, 'FORBIDDEN', /only your own activity/);
    expectError(await app.inject({ method: 'POST', url: '/api/devices/tape0/activity', headers: { authorization: 'Node wrong' } }), 401, 'NOT_AUTHENTICATED', /node secret/);
    expectError(await app.inject({ method: 'POST', url: '/api/devices/tape0/activity', payload: { nonsense: true } }), 401, 'NOT_AUTHENTICATED', /needs a ticket/);
    expectError(await app.inject({ method: 'POST', url: '/api/devices/tape0/activity', headers: { authorization: 'Bearer kst_forged' } }), 401, 'NOT_AUTHENTICATED', /not known/);
  });

  it('an operator breaks the reservation with a reason; it is in the audit log; the holder is told', async () => {
    expectError(await send('POST', '/api/devices/tape0/break', 'olga', {}), 400, 'INVALID_INPUT', /reason/);
    expectError(await send('POST', '/api/devices/tape0/break', 'olga', { reason: '   ' }), 400, 'INVALID_INPUT', /give a reason/);
    expectError(await send('DELETE', '/api/devices/tape0', 'olga'), 409, 'CONFLICT', /reserved by alice .*break the reservation first/);
    const broken = deviceOf(await send('POST', '/api/devices/tape0/break', 'olga', { reason: 'drive needed for the restore' }));
    assert.deepEqual([broken.state, broken.holder], ['free', null]);
    expectError(await send('POST', '/api/devices/tape0/release', 'alice'), 409, 'CONFLICT', /^your reservation of 'tape0' was broken by olga at 2026-03-02 08:55 UTC: drive needed for the restore$/);
    const auditResponse = await send('GET', '/api/audit?action=device.', 'olga');
    assert.equal(auditResponse.statusCode, 200, auditResponse.body);
    const entries: unknown = JSON.parse(auditResponse.body);
    assert.ok(Array.isArray(entries));
    const summary = entries.map((e: unknown) => (isRecord(e) ? `${String(e.actor)} ${String(e.action)} ${String(e.target)} ${String(e.outcome)}` : '')).reverse();
    assert.deepEqual(summary, [
      'walter device.create tape9 denied',
      'alice device.create tape9 denied',
      'olga device.create tape0 ok',
      'olga device.create scope1 ok',
      'walter device.update tape0 denied',
      'walter device.delete scope1 denied',
      'walter device.break tape0 denied',
      'alice device.update tape0 denied',
      'alice device.delete scope1 denied',
      'alice device.break tape0 denied',
      'olga device.update scope1 ok',
      'olga device.delete scope1 ok',
      'alice device.reserve tape0 ok',
      'alice device.renew tape0 ok',
      'olga device.break tape0 ok',
    ]);
    const last = entries[0];
    assert.ok(isRecord(last) && isRecord(last.detail));
    assert.deepEqual(last.detail, { holder: 'alice', since: START, reason: 'drive needed for the restore' });
    // Now bob may have it, and release it.
    assert.equal(deviceOf(await send('POST', '/api/devices/tape0/reserve', 'bob', {})).holder, 'bob');
    assert.equal(deviceOf(await send('POST', '/api/devices/tape0/release', 'bob')).state, 'free');
  });

  it('bad input is a 400 with {error:{code,message}} naming the problem; unknown devices 404; no ticket 401', async () => {
    const cases: [Method, string, unknown, RegExp][] = [
      ['POST', '/api/devices', { name: 'Bad Name' }, /device name is not valid/],
      ['POST', '/api/devices', { name: 'a'.repeat(33) }, /longer than 32 characters/],
      ['POST', '/api/devices', { name: 'ok1', kind: 'Tape Drive' }, /kind is one lower-case word/],
      ['POST', '/api/devices', { name: 'ok1', colour: 'red' }, /colour/],
      ['POST', '/api/devices', { name: 'ok1', idleRelease: 'whenever' }, /idleRelease: 'whenever' is not a duration/],
      ['POST', '/api/devices', { name: 'ok1', idleRelease: true }, /idleRelease/],
      ['POST', '/api/devices', { name: 'ok1', description: 'a\u0000b' }, /NUL/],
      ['POST', '/api/devices/tape0/reserve', { for: 'soon' }, /for: 'soon' is not a duration/],
      ['POST', '/api/devices/tape0/reserve', { for: '45d' }, /at most 30d/],
      ['POST', '/api/devices/tape0/reserve', { until: 'tomorrow' }, /until/],
      ['POST', '/api/devices/tape0/break', { reason: 'x'.repeat(501) }, /longer than 500/],
      ['POST', '/api/devices/tape0/break', { reason: 'a\u0000' }, /NUL/],
      ['PATCH', '/api/devices/tape0', { maxHold: '0s' }, /maxHold must be at least 1m/],
      ['GET', '/api/devices/Bad%20Name', undefined, /device name is not valid/],
    ];
    for (const [method, url, payload, message] of cases) {
      expectError(await send(method, url, 'olga', payload), 400, 'INVALID_INPUT', message);
    }
    expectError(await send('POST', '/api/devices/tape0/reserve', 'alice', '{"for":', { 'content-type': 'application/json' }), 400, 'INVALID_INPUT', /not valid JSON/);
    expectError(await send('GET', '/api/devices/nope', 'alice'), 404, 'NOT_FOUND', /device 'nope' does not exist/);
    expectError(await send('POST', '/api/devices/nope/reserve', 'alice', {}), 404, 'NOT_FOUND');
    for (const [method, url] of [
      ['GET', '/api/devices'],
      ['POST', '/api/devices/tape0/reserve'],
      ['POST', '/api/devices/tape0/release'],
      ['POST', '/api/devices/tape0/break'],
    ] as const) {
      expectError(await send(method, url), 401, 'NOT_AUTHENTICATED', /needs a ticket/);
    }
    assert.equal(deviceOf(await send('GET', '/api/devices/tape0', 'alice')).state, 'free', 'nothing above changed the device');
  });

  it('the OpenAPI document lists the device routes; activity accepts a ticket or the node secret', async () => {
    const document: unknown = JSON.parse((await send('GET', '/api/openapi.json')).body);
    assert.ok(isRecord(document) && isRecord(document.paths));
    const routes = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/api/devices'))
      .flatMap(([path, item]) => (isRecord(item) ? Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`) : []))
      .sort();
    assert.deepEqual(routes, [
      'DELETE /api/devices/{name}',
      'GET /api/devices',
      'GET /api/devices/{name}',
      'PATCH /api/devices/{name}',
      'POST /api/devices',
      'POST /api/devices/{name}/activity',
      'POST /api/devices/{name}/break',
      'POST /api/devices/{name}/release',
      'POST /api/devices/{name}/reserve',
    ]);
    const activity = document.paths['/api/devices/{name}/activity'];
    assert.ok(isRecord(activity) && isRecord(activity.post));
    assert.deepEqual(activity.post.security, [{ ticket: [] }, { node: [] }]);
  });
});
