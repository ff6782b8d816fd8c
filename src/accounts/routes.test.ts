import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { ManualClock } from '../lib/clock.ts';
import { parseSettings } from '../lib/config.ts';
import { HTTP_STATUS_BY_CODE, isErrorCode, type ErrorCode } from '../lib/errors.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { SYSTEM_ACTOR } from './model.ts';

const PASSWORD = 'correct horse battery';
const HOUR = 3_600_000;
const ROLES = ['operator', 'wgadmin', 'sgadmin', 'user'] as const;
type Role = (typeof ROLES)[number];
const ROLE_USER: Record<Role, string> = { operator: 'olga', wgadmin: 'walter', sgadmin: 'sam', user: 'alice' };
const SUFFIX: Record<Role, string> = { operator: 'op', wgadmin: 'wg', sgadmin: 'sg', user: 'us' };

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Asserts the `{ error: { code, message } }` shape, a code that fits the status, and returns it. */
function errorOf(response: LightMyRequestResponse): { code: ErrorCode; message: string } {
  assert.match(String(response.headers['content-type']), /^application\/json/, `${response.statusCode}: ${response.body}`);
  const body: unknown = JSON.parse(response.body);
  assert.ok(isRecord(body) && isRecord(body.error), `not an error body: ${response.body}`);
  const { code, message } = body.error;
  assert.ok(isErrorCode(code), `unknown error code in ${response.body}`);
  assert.equal(typeof message, 'string');
  if (typeof message !== 'string') throw new Error('unreachable');
  assert.ok(message.length > 0, 'empty error message');
  assert.ok(!/\n\s+at /.test(message), `a stack trace leaked: ${message}`);
  assert.equal(HTTP_STATUS_BY_CODE[code], response.statusCode, `code ${code} with status ${response.statusCode}`);
  return { code, message };
}

function expectError(response: LightMyRequestResponse, status: number, code?: ErrorCode, message?: RegExp): string {
  assert.equal(response.statusCode, status, `expected ${status}${code ? ` ${code}` : ''}, got ${response.statusCode}: ${response.body}`);
  const error = errorOf(response);
  if (code) assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
  return error.message;
}

function jsonOf(response: LightMyRequestResponse): unknown {
  return JSON.parse(response.body);
}

function namesOf(value: unknown): string[] {
  assert.ok(Array.isArray(value), 'expected an array');
  return value.map((item: unknown) => {
    assert.ok(isRecord(item) && typeof item.name === 'string');
    return item.name;
  });
}

interface RouteCase {
  method: Method;
  /** The route as registered (Fastify syntax). */
  route: string;
  request(role: Role): { url: string; payload?: Record<string, unknown> };
  expect: Record<Role, number>;
  /** Further checks of a successful response. */
  check?(role: Role, body: unknown): void;
}

const all = (status: number): Record<Role, number> => ({ operator: status, wgadmin: status, sgadmin: status, user: status });
const only = (ok: number, ...roles: Role[]): Record<Role, number> =>
  Object.fromEntries(ROLES.map((r) => [r, roles.includes(r) ? ok : 403])) as Record<Role, number>;

/** Every account route but login and logout (tested on their own), with the status each role gets. */
const CASES: RouteCase[] = [
  { method: 'POST', route: '/api/auth/renew', request: () => ({ url: '/api/auth/renew' }), expect: all(200) },
  {
    method: 'GET',
    route: '/api/auth/whoami',
    request: () => ({ url: '/api/auth/whoami' }),
    expect: all(200),
    check: (role, body) => assert.ok(isRecord(body) && isRecord(body.user) && body.user.name === ROLE_USER[role]),
  },
  { method: 'POST', route: '/api/auth/password', request: () => ({ url: '/api/auth/password', payload: { current: PASSWORD, new: PASSWORD } }), expect: all(200) },

  { method: 'GET', route: '/api/workgroups', request: () => ({ url: '/api/workgroups' }), expect: all(200), check: (_r, body) => assert.ok(namesOf(body).includes('physics')) },
  {
    method: 'POST',
    route: '/api/workgroups',
    request: (r) => ({ url: '/api/workgroups', payload: { name: `new-wg-${SUFFIX[r]}`, description: 'made by a test' } }),
    expect: only(201, 'operator'),
    check: (_r, body) => assert.ok(isRecord(body) && body.name === 'new-wg-op' && typeof body.gid === 'number'),
  },
  { method: 'GET', route: '/api/workgroups/:name', request: () => ({ url: '/api/workgroups/physics' }), expect: all(200) },
  { method: 'PATCH', route: '/api/workgroups/:name', request: () => ({ url: '/api/workgroups/physics', payload: { description: 'Physics' } }), expect: only(200, 'operator', 'wgadmin') },
  { method: 'DELETE', route: '/api/workgroups/:name', request: (r) => ({ url: `/api/workgroups/wg-del-${SUFFIX[r]}` }), expect: only(200, 'operator') },
  { method: 'PUT', route: '/api/workgroups/:name/admins/:user', request: () => ({ url: '/api/workgroups/physics/admins/carol' }), expect: only(200, 'operator') },
  { method: 'DELETE', route: '/api/workgroups/:name/admins/:user', request: (r) => ({ url: `/api/workgroups/chem/admins/wa-${SUFFIX[r]}` }), expect: only(200, 'operator') },

  { method: 'GET', route: '/api/subgroups', request: () => ({ url: '/api/subgroups?workgroup=physics' }), expect: all(200), check: (_r, body) => assert.ok(namesOf(body).includes('optics') && !namesOf(body).includes('organic')) },
  {
    method: 'POST',
    route: '/api/subgroups',
    request: (r) => ({ url: '/api/subgroups', payload: { workgroup: 'physics', name: `new-sg-${SUFFIX[r]}` } }),
    expect: only(201, 'operator', 'wgadmin'),
  },
  {
    method: 'GET',
    route: '/api/subgroups/:name',
    request: () => ({ url: '/api/subgroups/optics' }),
    expect: all(200),
    check: (role, body) => {
      assert.ok(isRecord(body) && Array.isArray(body.primaryMembers));
      // Members are shown in full to the subgroup's admins only; a user sees only themselves.
      if (role === 'user') assert.deepEqual(body.primaryMembers, ['alice']);
      else assert.ok(body.primaryMembers.includes('u-edit'), role);
    },
  },
  { method: 'PATCH', route: '/api/subgroups/:name', request: () => ({ url: '/api/subgroups/optics', payload: { description: 'Optics lab' } }), expect: only(200, 'operator', 'wgadmin') },
  { method: 'DELETE', route: '/api/subgroups/:name', request: (r) => ({ url: `/api/subgroups/sg-del-${SUFFIX[r]}` }), expect: only(200, 'operator', 'wgadmin') },
  { method: 'PUT', route: '/api/subgroups/:name/members/:user', request: (r) => ({ url: `/api/subgroups/optics/members/m-${SUFFIX[r]}` }), expect: only(200, 'operator', 'wgadmin', 'sgadmin') },
  { method: 'DELETE', route: '/api/subgroups/:name/members/:user', request: (r) => ({ url: `/api/subgroups/optics/members/x-${SUFFIX[r]}` }), expect: only(200, 'operator', 'wgadmin', 'sgadmin') },
  { method: 'PUT', route: '/api/subgroups/:name/admins/:user', request: () => ({ url: '/api/subgroups/optics/admins/carol' }), expect: only(200, 'operator', 'wgadmin') },
  { method: 'DELETE', route: '/api/subgroups/:name/admins/:user', request: (r) => ({ url: `/api/subgroups/optics/admins/sa-${SUFFIX[r]}` }), expect: only(200, 'operator', 'wgadmin') },

  {
    method: 'GET',
    route: '/api/users',
    request: () => ({ url: '/api/users' }),
    expect: all(200),
    check: (role, body) => {
      const names = namesOf(body);
      if (role === 'user') assert.deepEqual(names, ['alice']);
      if (role === 'sgadmin') assert.ok(names.includes('u-edit') && !names.includes('bob') && !names.includes('olga'));
      if (role === 'operator') assert.ok(names.includes('bob') && names.includes('olga'));
    },
  },
  {
    method: 'POST',
    route: '/api/users',
    request: (r) => ({ url: '/api/users', payload: { name: `new-u-${SUFFIX[r]}`, primarySubgroup: 'optics', password: PASSWORD } }),
    expect: only(201, 'operator', 'wgadmin', 'sgadmin'),
    check: (_r, body) => assert.ok(isRecord(body) && isRecord(body.user) && body.initialPassword === undefined),
  },
  { method: 'GET', route: '/api/users/:name', request: () => ({ url: '/api/users/u-edit' }), expect: only(200, 'operator', 'wgadmin', 'sgadmin') },
  { method: 'PATCH', route: '/api/users/:name', request: () => ({ url: '/api/users/u-edit', payload: { fullName: 'Edited' } }), expect: only(200, 'operator', 'wgadmin', 'sgadmin') },
  { method: 'DELETE', route: '/api/users/:name', request: (r) => ({ url: `/api/users/u-del-${SUFFIX[r]}` }), expect: only(200, 'operator', 'wgadmin') },

  { method: 'GET', route: '/api/audit', request: () => ({ url: '/api/audit?limit=5&since=1d&action=user.' }), expect: only(200, 'operator') },
  {
    method: 'POST',
    route: '/api/facility/apply',
    request: () => ({ url: '/api/facility/apply', payload: { document: { workgroups: [{ name: 'physics' }] }, dryRun: true } }),
    expect: only(200, 'operator'),
    check: (_r, body) => assert.ok(isRecord(body) && body.dryRun === true && Array.isArray(body.changes)),
  },
  { method: 'GET', route: '/api/facility/export', request: () => ({ url: '/api/facility/export' }), expect: only(200, 'operator') },
];

const ACCOUNT_TAGS = new Set(['auth', 'workgroups', 'subgroups', 'users', 'audit', 'facility']);

describeEachDatabase('account routes', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let clock: ManualClock;
  const tickets = {} as Record<Role | 'expired' | 'locked', string>;

  const send = (method: Method, url: string, ticket?: string, payload?: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method,
      url,
      headers: { ...(ticket ? { authorization: `Bearer ${ticket}` } : {}), ...headers },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });

  async function login(user: string, password = PASSWORD, remoteAddress?: string): Promise<LightMyRequestResponse> {
    return app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password }, ...(remoteAddress ? { remoteAddress } : {}) });
  }

  async function ticketOf(user: string): Promise<string> {
    const response = await login(user);
    assert.equal(response.statusCode, 200, response.body);
    const body = jsonOf(response);
    assert.ok(isRecord(body) && typeof body.ticket === 'string');
    return body.ticket;
  }

  before(async () => {
    db = await database.open();
    clock = new ManualClock('2026-03-02T08:00:00Z');
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: 'node-secret-for-tests', clock });
    const s = app.keisan.accounts;
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'admin' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'admin', name: 'staff' });
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'physics' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'physics', name: 'optics' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'physics', name: 'lasers' });
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'chem' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'chem', name: 'organic' });
    const user = (name: string, primarySubgroup: string, extra: { operator?: boolean; subgroups?: string[] } = {}) =>
      s.createUser(SYSTEM_ACTOR, { name, primarySubgroup, password: PASSWORD, ...extra });
    await user('olga', 'staff', { operator: true });
    for (const name of ['walter', 'sam', 'alice', 'u-edit', 'eve', 'lena', 'rita']) await user(name, 'optics');
    await user('bob', 'organic');
    await user('carol', 'lasers');
    await s.setWorkgroupAdmin(SYSTEM_ACTOR, 'physics', 'walter', true);
    await s.setSubgroupAdmin(SYSTEM_ACTOR, 'optics', 'sam', true);
    for (const suffix of Object.values(SUFFIX)) {
      await s.createWorkgroup(SYSTEM_ACTOR, { name: `wg-del-${suffix}` });
      await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'physics', name: `sg-del-${suffix}` });
      await user(`u-del-${suffix}`, 'optics');
      await user(`wa-${suffix}`, 'organic');
      await s.setWorkgroupAdmin(SYSTEM_ACTOR, 'chem', `wa-${suffix}`, true);
      await user(`m-${suffix}`, 'lasers');
      await user(`x-${suffix}`, 'lasers', { subgroups: ['optics'] });
      await user(`sa-${suffix}`, 'lasers');
      await s.setSubgroupAdmin(SYSTEM_ACTOR, 'optics', `sa-${suffix}`, true);
    }
    // eve's ticket is from 11 hours ago: expired.
    tickets.expired = await ticketOf('eve');
    clock.advance(11 * HOUR);
    for (const role of ROLES) tickets[role] = await ticketOf(ROLE_USER[role]);
    // lena's account was locked behind her ticket's back (the service revokes tickets when it
    // locks; this checks the ticket check does not rely on that alone).
    tickets.locked = await ticketOf('lena');
    await db.kysely.updateTable('users').set({ locked: 1, lock_reason: 'under investigation' }).where('name', '=', 'lena').execute();
  });

  after(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('the cases cover every account route in the API', async () => {
    const document = jsonOf(await send('GET', '/api/openapi.json'));
    assert.ok(isRecord(document) && isRecord(document.paths));
    const registered: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      assert.ok(isRecord(item));
      for (const [method, operation] of Object.entries(item)) {
        if (!isRecord(operation) || !Array.isArray(operation.tags) || !operation.tags.some((t) => ACCOUNT_TAGS.has(String(t)))) continue;
        registered.push(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
      }
    }
    const covered = new Set([...CASES.map((c) => `${c.method} ${c.route}`), 'POST /api/auth/login', 'POST /api/auth/logout']);
    assert.deepEqual(registered.filter((r) => !covered.has(r)), [], 'routes without a case');
    assert.deepEqual([...covered].filter((c) => !registered.includes(c)), [], 'cases without a route');
    assert.equal(registered.length, 29);
  });

  for (const routeCase of CASES) {
    const name = `${routeCase.method} ${routeCase.route}`;
    it(`${name}: ${ROLES.map((r) => `${r} ${routeCase.expect[r]}`).join(', ')}`, async () => {
      for (const role of ROLES) {
        const { url, payload } = routeCase.request(role);
        const response = await send(routeCase.method, url, tickets[role], payload);
        const expected = routeCase.expect[role];
        if (expected >= 400) {
          expectError(response, expected, expected === 403 ? 'FORBIDDEN' : undefined);
          continue;
        }
        assert.equal(response.statusCode, expected, `${name} as ${role}: ${response.body}`);
        routeCase.check?.(role, jsonOf(response));
      }
    });

    it(`${name}: no ticket 401, expired ticket 401 TICKET_EXPIRED, locked account 403 ACCOUNT_LOCKED`, async () => {
      const { url, payload } = routeCase.request('operator');
      expectError(await send(routeCase.method, url, undefined, payload), 401, 'NOT_AUTHENTICATED', /needs a ticket/);
      expectError(await send(routeCase.method, url, 'kst_forged', payload), 401, 'NOT_AUTHENTICATED', /not known/);
      expectError(await send(routeCase.method, url, undefined, payload, { authorization: 'Basic b2xnYTpwdw==' }), 401, 'NOT_AUTHENTICATED');
      const expired = await send(routeCase.method, url, tickets.expired, payload);
      expectError(expired, 401, 'TICKET_EXPIRED', /expired at .*keisan login/);
      assert.equal(expired.headers['www-authenticate'], 'Bearer realm="keisan"');
      expectError(await send(routeCase.method, url, tickets.locked, payload), 403, 'ACCOUNT_LOCKED', /under investigation/);
    });
  }

  describe('login and logout', () => {
    it('POST /api/auth/login: every role logs in; wrong password 401; locked 403', async () => {
      for (const role of ROLES) {
        const response = await login(ROLE_USER[role]);
        assert.equal(response.statusCode, 200, response.body);
        const body = jsonOf(response);
        assert.ok(isRecord(body) && typeof body.ticket === 'string' && isRecord(body.user) && isRecord(body.ticketInfo));
        assert.equal(body.user.name, ROLE_USER[role]);
        // The clock stands 11 hours after the fixture's start: tickets last 10 more hours.
        assert.equal(body.ticketInfo.expiresAt, '2026-03-03T05:00:00.000Z');
      }
      const wrong = await login('alice', 'not the password', '198.51.100.1');
      expectError(wrong, 401, 'BAD_CREDENTIALS', /wrong user name or password/);
      expectError(await login('no-such-user', PASSWORD, '198.51.100.1'), 401, 'BAD_CREDENTIALS', /wrong user name or password/);
      expectError(await login('lena'), 403, 'ACCOUNT_LOCKED', /account 'lena' is locked/);
      // Login needs no ticket, and ignores a bad one.
      const withBadTicket = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { authorization: 'Bearer kst_junk' }, payload: { user: 'bob', password: PASSWORD } });
      assert.equal(withBadTicket.statusCode, 200);
      expectError(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'bob' } }), 400, 'INVALID_INPUT', /password/);
      expectError(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'bob', password: PASSWORD, otp: '123' } }), 400, 'INVALID_INPUT', /otp/);
    });

    it('POST /api/auth/login: 5 failures → 429 with Retry-After', async () => {
      for (let i = 0; i < 5; i++) expectError(await login('rita', `wrong ${i}`, '203.0.113.7'), 401, 'BAD_CREDENTIALS');
      const limited = await login('rita', PASSWORD, '203.0.113.8');
      expectError(limited, 429, 'RATE_LIMITED', /too many failed logins for 'rita'/);
      assert.equal(limited.headers['retry-after'], '900');
      assert.ok(isRecord(jsonOf(limited)));
    });

    it('POST /api/auth/logout: revokes that ticket only, for every role', async () => {
      for (const role of ROLES) {
        const second = await ticketOf(ROLE_USER[role]);
        const response = await send('POST', '/api/auth/logout', second);
        assert.equal(response.statusCode, 200, response.body);
        assert.deepEqual(jsonOf(response), { ok: true });
        expectError(await send('GET', '/api/auth/whoami', second), 401, 'NOT_AUTHENTICATED', /revoked/);
        assert.equal((await send('GET', '/api/auth/whoami', tickets[role])).statusCode, 200);
      }
      expectError(await send('POST', '/api/auth/logout'), 401, 'NOT_AUTHENTICATED');
      expectError(await send('POST', '/api/auth/logout', tickets.expired), 401, 'TICKET_EXPIRED');
      expectError(await send('POST', '/api/auth/logout', tickets.locked), 403, 'ACCOUNT_LOCKED');
    });

    it('locking a user through the API ends their sessions; unlocking lets them back', async () => {
      const victim = await ticketOf('carol');
      const locked = await send('PATCH', '/api/users/carol', tickets.operator, { locked: true, lockReason: 'holiday' });
      assert.equal(locked.statusCode, 200, locked.body);
      expectError(await send('GET', '/api/auth/whoami', victim), 403, 'ACCOUNT_LOCKED', /holiday/);
      expectError(await login('carol'), 403, 'ACCOUNT_LOCKED', /holiday/);
      assert.equal((await send('PATCH', '/api/users/carol', tickets.operator, { locked: false })).statusCode, 200);
      // The lock ended the old session for good: unlocking does not bring it back.
      expectError(await send('GET', '/api/auth/whoami', victim), 401, 'NOT_AUTHENTICATED', /revoked/);
      assert.equal((await login('carol')).statusCode, 200);
    });
  });

  describe('bad input', () => {
    it('malformed JSON → 400 INVALID_INPUT', async () => {
      for (const payload of ['{"name": ', '{name: "x"}', "{'name':'x'}", '[1,2', 'nul']) {
        const response = await app.inject({
          method: 'POST',
          url: '/api/workgroups',
          headers: { authorization: `Bearer ${tickets.operator}`, 'content-type': 'application/json' },
          payload,
        });
        expectError(response, 400, 'INVALID_INPUT', /not valid JSON|invalid body/);
      }
      const empty = await app.inject({ method: 'POST', url: '/api/workgroups', headers: { authorization: `Bearer ${tickets.operator}`, 'content-type': 'application/json' }, payload: '' });
      expectError(empty, 400, 'INVALID_INPUT');
      const login = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"user":' });
      expectError(login, 400, 'INVALID_INPUT', /not valid JSON/);
    });

    it('a body that is not JSON → 415 (or 400 for text), prototype pollution → 400, a JSON array instead of an object → 400', async () => {
      const headers = { authorization: `Bearer ${tickets.operator}` };
      for (const type of ['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'image/png']) {
        expectError(await app.inject({ method: 'POST', url: '/api/workgroups', headers: { ...headers, 'content-type': type }, payload: 'name=x' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/json/);
      }
      // Plain text is parsed as a string, which is not the object the route wants.
      expectError(await app.inject({ method: 'POST', url: '/api/workgroups', headers: { ...headers, 'content-type': 'text/plain' }, payload: '{"name":"px"}' }), 400, 'INVALID_INPUT', /expected object/);
      expectError(await app.inject({ method: 'POST', url: '/api/workgroups', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"name":"px","__proto__":{"isOperator":true}}' }), 400, 'INVALID_INPUT');
      expectError(await app.inject({ method: 'POST', url: '/api/workgroups', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"name":"px","constructor":{"prototype":{"x":1}}}' }), 400, 'INVALID_INPUT');
      expectError(await send('POST', '/api/workgroups', tickets.operator, [{ name: 'px' }]), 400, 'INVALID_INPUT');
      expectError(await send('GET', '/api/workgroups/px', tickets.operator), 404, 'NOT_FOUND', /workgroup 'px' does not exist/);
    });

    it('malformed URLs and a lying Content-Length → 400 with the API\'s error body', async () => {
      for (const url of ['/api/users/%', '/api/users/%zz', '/api/users/%C0%AF', '/api/subgroups/optics/members/%ED%A0%80']) {
        expectError(await send('GET', url, tickets.operator), 400, 'INVALID_INPUT', /invalid %-escape/);
        expectError(await send('GET', url), 400, 'INVALID_INPUT', /invalid %-escape/);
      }
      // Path segments over Fastify's maxParamLength (100) are refused before routing.
      expectError(await send('GET', `/api/users/${'a'.repeat(101)}`, tickets.operator), 400, 'INVALID_INPUT', /too long/);
      expectError(await send('DELETE', `/api/workgroups/${'a'.repeat(5000)}`, tickets.operator), 400, 'INVALID_INPUT', /too long/);
      const lying = await app.inject({
        method: 'POST',
        url: '/api/workgroups',
        headers: { authorization: `Bearer ${tickets.operator}`, 'content-type': 'application/json', 'content-length': '3' },
        payload: '{"name":"liar"}',
      });
      expectError(lying, 400, 'INVALID_INPUT', /Content-Length/);
    });

    it('NUL characters and out-of-range numbers are bad input, not server errors (PostgreSQL cannot store them)', async () => {
      const bodies: [Method, string, Record<string, unknown>][] = [
        ['POST', '/api/workgroups', { name: 'nul-wg', description: 'a\u0000b' }],
        ['PATCH', '/api/workgroups/physics', { description: 'a\u0000' }],
        ['POST', '/api/subgroups', { workgroup: 'physics', name: 'nul-sg', description: '\u0000' }],
        ['PATCH', '/api/subgroups/optics', { description: '\u0000' }],
        ['PATCH', '/api/users/u-edit', { locked: true, lockReason: 'x\u0000y' }],
        ['POST', '/api/users', { name: 'nul-u', primarySubgroup: 'optics', home: '/home/a\u0000b' }],
        ['POST', '/api/users', { name: 'nul-u', primarySubgroup: 'optics', shell: '/bin/sh\u0000' }],
        ['PATCH', '/api/users/u-edit', { home: '/home/\u0000' }],
        ['POST', '/api/auth/login', { user: 'ali\u0000ce', password: PASSWORD }],
        ['POST', '/api/facility/apply', { document: { workgroups: [{ name: 'nul-wg', description: '\u0000' }] }, dryRun: true }],
      ];
      for (const [method, url, payload] of bodies) {
        expectError(await send(method, url, tickets.operator, payload), 400, 'INVALID_INPUT', /NUL/);
      }
      for (const query of ['actor=%00', 'target=a%00b', 'action=user.%00', 'until=99999999999999999999', 'since=99999999999999999999', 'before=99999999999999999999', 'before=2147483648']) {
        expectError(await send('GET', `/api/audit?${query}`, tickets.operator), 400, 'INVALID_INPUT');
      }
      assert.equal((await send('GET', '/api/audit?before=2147483647&since=52w&limit=1', tickets.operator)).statusCode, 200);
      const unchanged = jsonOf(await send('GET', '/api/users/u-edit', tickets.operator));
      assert.ok(isRecord(unchanged) && unchanged.locked === false);
    });

    it('unknown fields → 400 naming the field', async () => {
      const cases: [Method, string, Record<string, unknown>][] = [
        ['POST', '/api/workgroups', { name: 'geo', colour: 'red' }],
        ['PATCH', '/api/workgroups/physics', { colour: 'red' }],
        ['POST', '/api/subgroups', { workgroup: 'physics', name: 'geo', colour: 'red' }],
        ['PATCH', '/api/subgroups/optics', { colour: 'red' }],
        ['POST', '/api/users', { name: 'geo', primarySubgroup: 'optics', colour: 'red' }],
        ['PATCH', '/api/users/alice', { colour: 'red' }],
        ['POST', '/api/auth/password', { current: PASSWORD, new: PASSWORD, colour: 'red' }],
        ['POST', '/api/facility/apply', { document: {}, colour: 'red' }],
      ];
      for (const [method, url, payload] of cases) {
        expectError(await send(method, url, tickets.operator, payload), 400, 'INVALID_INPUT', /colour/);
      }
      expectError(await send('GET', '/api/users?colour=red', tickets.operator), 400, 'INVALID_INPUT', /colour/);
      expectError(await send('GET', '/api/audit?colour=red', tickets.operator), 400, 'INVALID_INPUT', /colour/);
      // A declared user with an unknown field is named too.
      const apply = await send('POST', '/api/facility/apply', tickets.operator, { document: { users: [{ name: 'geo', primarySubgroup: 'optics', colour: 'red' }] }, dryRun: true });
      expectError(apply, 400, 'INVALID_INPUT', /users\.0: unknown field 'colour'/);
      // Nothing was created along the way.
      expectError(await send('GET', '/api/workgroups/geo', tickets.operator), 404, 'NOT_FOUND');
    });

    it('names: 32 characters are fine, 33 are refused; invalid Unix names are refused, in bodies and paths', async () => {
      const max = `a${'b'.repeat(31)}`;
      const tooLong = `${max}c`;
      const bodies = (name: string): [string, Record<string, unknown>][] => [
        ['/api/workgroups', { name }],
        ['/api/subgroups', { workgroup: 'physics', name }],
        ['/api/users', { name, primarySubgroup: 'optics', password: PASSWORD }],
        ['/api/subgroups', { workgroup: name, name: 'fine' }],
        ['/api/users', { name: 'fine', primarySubgroup: name }],
      ];
      for (const bad of [tooLong, 'Bad Name', '1abc', 'a:b', '', 'ümlaut', 'a/b', '-dash']) {
        for (const [url, payload] of bodies(bad)) {
          const message = expectError(await send('POST', url, tickets.operator, payload), 400, 'INVALID_INPUT');
          assert.match(message, bad === tooLong ? /longer than 32 characters/ : /not a valid Unix name|must not be empty/, `${url} ${JSON.stringify(payload)}`);
        }
        if (bad === '') continue;
        for (const path of ['workgroups', 'subgroups', 'users']) {
          expectError(await send('GET', `/api/${path}/${encodeURIComponent(bad)}`, tickets.operator), 400, 'INVALID_INPUT');
        }
        expectError(await send('PUT', `/api/subgroups/optics/members/${encodeURIComponent(bad)}`, tickets.operator), 400, 'INVALID_INPUT');
      }
      expectError(await send('POST', '/api/workgroups', tickets.operator, { name: 42 }), 400, 'INVALID_INPUT', /must be a string/);
      // The longest valid name works end to end.
      assert.equal((await send('POST', '/api/workgroups', tickets.operator, { name: max })).statusCode, 201);
      assert.equal((await send('POST', '/api/subgroups', tickets.operator, { workgroup: max, name: `${max.slice(0, 31)}x` })).statusCode, 201);
      const user = await send('POST', '/api/users', tickets.operator, { name: `${max.slice(0, 31)}u`, primarySubgroup: `${max.slice(0, 31)}x` });
      assert.equal(user.statusCode, 201, user.body);
      assert.equal((await send('GET', `/api/users/${max.slice(0, 31)}u`, tickets.operator)).statusCode, 200);
    });

    it('other field rules: short passwords, GECOS breakers, bad shells, low ids', async () => {
      const bad: Record<string, unknown>[] = [
        { name: 'geo', primarySubgroup: 'optics', password: 'short' },
        { name: 'geo', primarySubgroup: 'optics', fullName: 'a:b' },
        { name: 'geo', primarySubgroup: 'optics', fullName: 'line\nbreak' },
        { name: 'geo', primarySubgroup: 'optics', shell: 'bash' },
        { name: 'geo', primarySubgroup: 'optics', home: '/home/with space' },
        { name: 'geo', primarySubgroup: 'optics', email: 'not-an-email' },
        { name: 'geo', primarySubgroup: 'optics', uid: 999 },
        { name: 'geo', primarySubgroup: 'optics', uid: 12.5 },
        { name: 'geo', primarySubgroup: 'optics', uid: '12000' },
        { name: 'geo', primarySubgroup: 'optics', operator: 'yes' },
      ];
      for (const payload of bad) expectError(await send('POST', '/api/users', tickets.operator, payload), 400, 'INVALID_INPUT');
      expectError(await send('GET', '/api/audit?since=yesterday', tickets.operator), 400, 'INVALID_INPUT', /since/);
      expectError(await send('GET', '/api/audit?limit=0', tickets.operator), 400, 'INVALID_INPUT');
      expectError(await send('GET', '/api/audit?outcome=maybe', tickets.operator), 400, 'INVALID_INPUT');
      expectError(await send('GET', '/api/users/geo', tickets.operator), 404, 'NOT_FOUND');
    });

    it('a duplicate user → 409 CONFLICT; an unknown subgroup → 404', async () => {
      expectError(await send('POST', '/api/users', tickets.operator, { name: 'bob', primarySubgroup: 'optics' }), 409, 'CONFLICT', /user 'bob' already exists/);
      expectError(await send('POST', '/api/workgroups', tickets.operator, { name: 'optics' }), 409, 'CONFLICT', /share one Unix group namespace/);
      expectError(await send('POST', '/api/users', tickets.operator, { name: 'newbie', primarySubgroup: 'nowhere' }), 404, 'NOT_FOUND', /subgroup 'nowhere'/);
      expectError(await send('DELETE', '/api/workgroups/physics', tickets.operator), 409, 'CONFLICT', /still has subgroups/);
      expectError(await send('DELETE', '/api/subgroups/optics', tickets.operator), 409, 'CONFLICT', /primary subgroup of/);
    });
  });

  describe('scope', () => {
    it('a workgroup admin acting outside their workgroup → 403', async () => {
      const walter = tickets.wgadmin;
      const refused: [Method, string, Record<string, unknown>?][] = [
        ['PATCH', '/api/workgroups/chem', { description: 'mine now' }],
        ['POST', '/api/subgroups', { workgroup: 'chem', name: 'walters' }],
        ['PATCH', '/api/subgroups/organic', { description: 'mine now' }],
        ['DELETE', '/api/subgroups/organic'],
        ['PUT', '/api/subgroups/organic/members/alice'],
        ['PUT', '/api/subgroups/organic/admins/walter'],
        ['POST', '/api/users', { name: 'walters', primarySubgroup: 'organic' }],
        ['GET', '/api/users/bob'],
        ['PATCH', '/api/users/bob', { fullName: 'B' }],
        ['PATCH', '/api/users/alice', { primarySubgroup: 'organic' }],
        ['DELETE', '/api/users/bob'],
        ['PATCH', '/api/users/olga', { fullName: 'O' }],
        ['PUT', '/api/workgroups/physics/admins/alice'],
        ['POST', '/api/workgroups', { name: 'walters' }],
        ['POST', '/api/users', { name: 'walters', primarySubgroup: 'optics', uid: 33333 }],
        ['PATCH', '/api/users/alice', { operator: true }],
      ];
      for (const [method, url, payload] of refused) {
        expectError(await send(method, url, walter, payload), 403, 'FORBIDDEN');
      }
      // The refusals are in the audit log.
      const audit = jsonOf(await send('GET', '/api/audit?actor=walter&outcome=denied&limit=100', tickets.operator));
      assert.ok(Array.isArray(audit));
      assert.ok(audit.length >= refused.length, `only ${audit.length} refusals logged`);
      // Nothing was changed.
      const bob = jsonOf(await send('GET', '/api/users/bob', tickets.operator));
      assert.ok(isRecord(bob) && bob.fullName === '');
    });

    it('a subgroup admin may change users of their subgroup, but not their login or the subgroup itself', async () => {
      assert.equal((await send('PATCH', '/api/users/u-edit', tickets.sgadmin, { email: 'u@example.org' })).statusCode, 200);
      expectError(await send('PATCH', '/api/users/u-edit', tickets.sgadmin, { shell: '/bin/zsh' }), 403, 'FORBIDDEN', /home or shell/);
      assert.equal((await send('PATCH', '/api/users/u-edit', tickets.wgadmin, { shell: '/bin/zsh' })).statusCode, 200);
      // A user may change their own profile but not lock themselves.
      assert.equal((await send('PATCH', '/api/users/alice', tickets.user, { fullName: 'Alice' })).statusCode, 200);
      expectError(await send('PATCH', '/api/users/alice', tickets.user, { locked: true }), 403, 'FORBIDDEN', /your own account/);
      expectError(await send('DELETE', '/api/users/olga', tickets.operator), 403, 'FORBIDDEN', /your own account/);
    });
  });

  describe('server routes', () => {
    it('GET /api/health needs no ticket', async () => {
      const response = await send('GET', '/api/health');
      assert.equal(response.statusCode, 200);
      const body = jsonOf(response);
      assert.ok(isRecord(body));
      assert.equal(body.status, 'ok');
      assert.equal(body.database, database.dialect);
      assert.equal(body.time, clock.now().toISOString());
      // ...and ignores a bad one.
      assert.equal((await send('GET', '/api/health', 'kst_junk')).statusCode, 200);
    });

    it('GET /api/openapi.json is an OpenAPI 3 document with the account paths', async () => {
      const response = await send('GET', '/api/openapi.json');
      assert.equal(response.statusCode, 200);
      const document = jsonOf(response);
      assert.ok(isRecord(document));
      assert.match(String(document.openapi), /^3\.\d+\.\d+$/);
      assert.ok(isRecord(document.info) && typeof document.info.title === 'string' && typeof document.info.version === 'string');
      assert.ok(isRecord(document.components) && isRecord(document.components.securitySchemes) && isRecord(document.components.securitySchemes.ticket));
      assert.ok(isRecord(document.paths));
      const operationIds = new Set<string>();
      for (const [path, item] of Object.entries(document.paths)) {
        assert.match(path, /^\/api\//);
        assert.ok(isRecord(item), path);
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        for (const [method, operation] of Object.entries(item)) {
          assert.ok(['get', 'post', 'put', 'patch', 'delete', 'head', 'options'].includes(method), `${path}: ${method}`);
          assert.ok(isRecord(operation) && isRecord(operation.responses), `${method} ${path} has no responses`);
          for (const status of Object.keys(operation.responses)) assert.match(status, /^([1-5]\d\d|default)$/, `${method} ${path}`);
          const parameters = Array.isArray(operation.parameters) ? operation.parameters : [];
          for (const name of templated) {
            const declared = parameters.find((p: unknown) => isRecord(p) && p.in === 'path' && p.name === name);
            assert.ok(isRecord(declared) && declared.required === true, `${method} ${path}: path parameter ${name} not declared as required`);
          }
          if (typeof operation.operationId === 'string') {
            assert.ok(!operationIds.has(operation.operationId), `duplicate operationId ${operation.operationId}`);
            operationIds.add(operation.operationId);
          }
        }
      }
      const paths = document.paths;
      for (const path of [
        '/api/auth/login',
        '/api/auth/renew',
        '/api/auth/logout',
        '/api/auth/whoami',
        '/api/auth/password',
        '/api/workgroups',
        '/api/workgroups/{name}',
        '/api/workgroups/{name}/admins/{user}',
        '/api/subgroups',
        '/api/subgroups/{name}',
        '/api/subgroups/{name}/members/{user}',
        '/api/subgroups/{name}/admins/{user}',
        '/api/users',
        '/api/users/{name}',
        '/api/audit',
        '/api/facility/apply',
        '/api/facility/export',
      ]) {
        assert.ok(isRecord(paths[path]), `missing path ${path}`);
      }
      const login = paths['/api/auth/login'];
      assert.ok(isRecord(login) && isRecord(login.post) && Array.isArray(login.post.security) && login.post.security.length === 0, 'login must be marked as needing no ticket');
      const createUser = paths['/api/users'];
      assert.ok(isRecord(createUser) && isRecord(createUser.post) && isRecord(createUser.post.requestBody), 'POST /api/users documents its body');
      // Every $ref points at something in the document.
      const text = response.body;
      for (const match of text.matchAll(/"\$ref":"#\/([^"]+)"/g)) {
        let node: unknown = document;
        for (const part of match[1]!.split('/')) node = isRecord(node) ? node[part] : undefined;
        assert.ok(node !== undefined, `dangling $ref ${match[1]}`);
      }
      assert.ok(!('/api/openapi.json' in paths), 'the document itself is hidden');
    });

    it('an unknown route → 404 JSON, with or without a ticket', async () => {
      expectError(await send('GET', '/api/nope'), 404, 'NOT_FOUND', /no route GET \/api\/nope/);
      expectError(await send('GET', '/api/nope?x=1', tickets.operator), 404, 'NOT_FOUND', /no route GET \/api\/nope: /);
      expectError(await send('GET', '/nope'), 404, 'NOT_FOUND');
      expectError(await send('PATCH', '/api/audit', tickets.operator), 404, 'NOT_FOUND');
      expectError(await send('POST', '/api/users/alice/extra', tickets.operator, {}), 404, 'NOT_FOUND');
    });
  });
});
