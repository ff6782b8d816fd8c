import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { SYSTEM_ACTOR, UNIX_NAME_PATTERN } from '../accounts/model.ts';
import { AccountsService } from '../accounts/service.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { ManualClock } from '../lib/clock.ts';
import { parseSettings, type Settings } from '../lib/config.ts';
import { HTTP_STATUS_BY_CODE, isErrorCode } from '../lib/errors.ts';
import { buildApp, type KeisanApp } from './app.ts';

/**
 * A fuzz test of the account routes: random and hostile requests, with and without tickets.
 * The server must never answer 5xx, every refusal must carry `{ error: { code, message } }`,
 * and the database must be consistent afterwards.
 *
 * Reproduce a failure with KEISAN_FUZZ_SEED=<the seed printed> node scripts/run-tests.js fuzz
 * (KEISAN_FUZZ_REQUESTS changes the number of requests per database, 1500 by default).
 */
const SEED = process.env.KEISAN_FUZZ_SEED ? Number(process.env.KEISAN_FUZZ_SEED) >>> 0 : randomInt(2 ** 32 - 1);
const REQUESTS = Number(process.env.KEISAN_FUZZ_REQUESTS ?? 1500);
console.log(`# fuzz seed ${SEED} (set KEISAN_FUZZ_SEED=${SEED} to replay), ${REQUESTS} requests per database`);

const PASSWORD = 'correct horse battery';
/** An operator the fuzzer never names: whatever it does to the others, this one must still log in. */
const RESERVED_OPERATOR = 'zz-reserved-operator';

/** mulberry32: a tiny seeded PRNG, good enough to pick requests reproducibly. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Fuzz {
  constructor(private readonly next: () => number) {}
  float(): number {
    return this.next();
  }
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------- what requests are made of

const ROUTES: { method: string; path: string }[] = [
  { method: 'POST', path: '/api/auth/login' },
  { method: 'POST', path: '/api/auth/renew' },
  { method: 'POST', path: '/api/auth/logout' },
  { method: 'GET', path: '/api/auth/whoami' },
  { method: 'POST', path: '/api/auth/password' },
  { method: 'GET', path: '/api/workgroups' },
  { method: 'POST', path: '/api/workgroups' },
  { method: 'GET', path: '/api/workgroups/:name' },
  { method: 'PATCH', path: '/api/workgroups/:name' },
  { method: 'DELETE', path: '/api/workgroups/:name' },
  { method: 'PUT', path: '/api/workgroups/:name/admins/:user' },
  { method: 'DELETE', path: '/api/workgroups/:name/admins/:user' },
  { method: 'GET', path: '/api/subgroups' },
  { method: 'POST', path: '/api/subgroups' },
  { method: 'GET', path: '/api/subgroups/:name' },
  { method: 'PATCH', path: '/api/subgroups/:name' },
  { method: 'DELETE', path: '/api/subgroups/:name' },
  { method: 'PUT', path: '/api/subgroups/:name/members/:user' },
  { method: 'DELETE', path: '/api/subgroups/:name/members/:user' },
  { method: 'PUT', path: '/api/subgroups/:name/admins/:user' },
  { method: 'DELETE', path: '/api/subgroups/:name/admins/:user' },
  { method: 'GET', path: '/api/users' },
  { method: 'POST', path: '/api/users' },
  { method: 'GET', path: '/api/users/:name' },
  { method: 'PATCH', path: '/api/users/:name' },
  { method: 'DELETE', path: '/api/users/:name' },
  { method: 'GET', path: '/api/audit' },
  { method: 'POST', path: '/api/facility/apply' },
  { method: 'GET', path: '/api/facility/export' },
];

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'SEARCH', 'PROPFIND'] as const;

const REAL_NAMES = ['alice', 'bob', 'walter', 'olga', 'optics', 'lasers', 'physics', 'chem', 'organic', 'staff', 'admin', 'fz-a', 'fz-b'];

const HOSTILE_STRINGS = [
  '',
  ' ',
  '../',
  '../../etc/passwd',
  '..',
  '.',
  '\u0000',
  'a\u0000b',
  'ünïcödé',
  '日本語',
  '🦄🦄',
  '\u202e\u202d',
  '\ud800',
  'a'.repeat(32),
  'a'.repeat(33),
  'A',
  'Bad Name',
  '1abc',
  'a:b',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '-1',
  'NaN',
  'Infinity',
  '1e309',
  'null',
  'undefined',
  'true',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  "'; DROP TABLE users; --",
  '%s%s%n',
  '${jndi:ldap://x}',
  '\r\nX-Injected: 1',
];

/** Percent-encodes; a lone surrogate (which encodeURIComponent refuses) becomes its raw UTF-8 escape. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
}

/** Path parameters, some deliberately not valid percent-encoding or far too long. */
function pathParam(f: Fuzz): string {
  const r = f.float();
  if (r < 0.45) return f.pick(REAL_NAMES);
  if (r < 0.8) return encode(f.pick(HOSTILE_STRINGS)) || 'x';
  return f.pick(['%00', '%', '%zz', '%2e%2e', '..%2F..%2F', '%C0%AF', '%ED%A0%80', '%FF', 'a%2Fb', 'x'.repeat(f.int(90, 300)), '%F0%9F%A6%84', '-', '_', 'a.b']);
}

function randomString(f: Fuzz): string {
  const r = f.float();
  if (r < 0.3) return f.pick(HOSTILE_STRINGS);
  if (r < 0.45) return f.pick(REAL_NAMES);
  if (r < 0.5) return 'x'.repeat(f.int(1000, 200_000));
  if (r < 0.55) return '\u0000'.repeat(f.int(1, 5000));
  let out = '';
  const length = f.int(0, 40);
  for (let i = 0; i < length; i++) {
    const kind = f.float();
    out += kind < 0.6 ? String.fromCharCode(f.int(32, 126)) : kind < 0.8 ? String.fromCharCode(f.int(0, 31)) : String.fromCodePoint(f.int(0x80, 0x10ffff));
  }
  return out;
}

function randomNumber(f: Fuzz): number {
  return f.pick([0, -1, -0, 1, 999, 1000, 5000, 10_000, 65_535, 2 ** 31 - 1, 2 ** 31, 2 ** 53 + 1, -(2 ** 53), 1.5, 1e308, Number.MIN_VALUE, f.int(-1e9, 1e9)]);
}

function randomValue(f: Fuzz, depth = 0): unknown {
  const r = f.float();
  if (depth > 4 || r < 0.35) return randomString(f);
  if (r < 0.5) return randomNumber(f);
  if (r < 0.58) return f.chance(0.5);
  if (r < 0.63) return null;
  if (r < 0.8) return Array.from({ length: f.int(0, 5) }, () => randomValue(f, depth + 1));
  return randomObject(f, depth + 1);
}

const KEYS = [
  'name',
  'description',
  'gid',
  'uid',
  'workgroup',
  'primarySubgroup',
  'fullName',
  'email',
  'home',
  'shell',
  'password',
  'subgroups',
  'operator',
  'locked',
  'lockReason',
  'user',
  'current',
  'new',
  'document',
  'dryRun',
  'workgroups',
  'users',
  'admins',
  'passwordHash',
  '__proto__',
  'constructor',
  'prototype',
  'isOperator',
  '',
  '日本',
];

function randomObject(f: Fuzz, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const count = f.int(0, 6);
  for (let i = 0; i < count; i++) {
    // defineProperty, so '__proto__' becomes an own key and reaches the wire.
    Object.defineProperty(out, f.chance(0.8) ? f.pick(KEYS) : randomString(f).slice(0, 50), { value: randomValue(f, depth), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A body that is valid or nearly valid for the route, so that requests get past validation. */
function plausibleBody(f: Fuzz, path: string): Record<string, unknown> {
  const name = f.chance(0.7) ? `fz-${f.pick(['a', 'b', 'c', 'd'])}${f.int(0, 9)}` : randomString(f);
  const sub = f.pick(['optics', 'lasers', 'organic', 'staff', 'fz-a', 'nowhere']);
  const bodies: Record<string, () => Record<string, unknown>> = {
    '/api/auth/login': () => ({ user: f.pick(REAL_NAMES), password: f.chance(0.5) ? PASSWORD : randomString(f) }),
    '/api/auth/password': () => ({ current: f.chance(0.5) ? PASSWORD : randomString(f), new: f.chance(0.5) ? PASSWORD : randomString(f) }),
    '/api/workgroups': () => ({ name, ...(f.chance(0.3) ? { description: randomString(f) } : {}), ...(f.chance(0.2) ? { gid: randomNumber(f) } : {}) }),
    '/api/workgroups/:name': () => ({ description: randomString(f) }),
    '/api/subgroups': () => ({ workgroup: f.pick(['physics', 'chem', 'admin', 'fz-a', 'nope']), name, ...(f.chance(0.2) ? { gid: randomNumber(f) } : {}) }),
    '/api/subgroups/:name': () => ({ description: randomString(f) }),
    '/api/users': () => ({
      name,
      primarySubgroup: sub,
      ...(f.chance(0.3) ? { password: PASSWORD } : {}),
      ...(f.chance(0.2) ? { subgroups: [f.pick(['optics', 'lasers', 'organic'])] } : {}),
      ...(f.chance(0.2) ? { uid: randomNumber(f) } : {}),
      ...(f.chance(0.2) ? { fullName: randomString(f) } : {}),
      ...(f.chance(0.1) ? { operator: f.chance(0.5) } : {}),
    }),
    '/api/users/:name': () =>
      f.pick([
        { fullName: randomString(f) },
        { email: f.chance(0.5) ? 'x@example.org' : randomString(f) },
        { primarySubgroup: sub },
        { locked: f.chance(0.5), ...(f.chance(0.5) ? { lockReason: randomString(f) } : {}) },
        { lockReason: randomString(f) },
        { shell: f.pick(['/bin/sh', 'bash', '/bin/zsh']) },
        { operator: f.chance(0.5) },
        { password: 'another password' },
      ]),
    '/api/facility/apply': () => ({
      dryRun: f.chance(0.5),
      document: f.chance(0.5)
        ? {
            workgroups: [{ name: `fz-${f.pick(['a', 'b', 'w'])}`, subgroups: [{ name: `fz-s${f.int(0, 3)}` }] }],
            users: [{ name: `fz-u${f.int(0, 3)}`, primarySubgroup: f.pick(['fz-s0', 'optics', 'nowhere']) }],
          }
        : randomObject(f),
    }),
  };
  const make = bodies[path];
  const body = make ? make() : randomObject(f);
  // Mutate: a hostile value for one field, an unknown field, or a dropped field.
  const keys = Object.keys(body);
  if (keys.length > 0 && f.chance(0.3)) body[f.pick(keys)] = randomValue(f);
  if (f.chance(0.1)) body[f.pick(KEYS)] = randomValue(f);
  if (keys.length > 0 && f.chance(0.1)) delete body[f.pick(keys)];
  return body;
}

/** The raw bytes of a body: JSON of many shapes, or text that is not JSON at all. */
function rawBody(f: Fuzz, path: string): string | undefined {
  const r = f.float();
  if (r < 0.1) return undefined;
  if (r < 0.55) return JSON.stringify(plausibleBody(f, path));
  if (r < 0.7) return JSON.stringify(randomValue(f));
  if (r < 0.75) return JSON.stringify(randomObject(f));
  const depth = f.int(100, 100_000);
  return f.pick([
    () => '['.repeat(depth) + ']'.repeat(depth),
    () => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
    () => '{"__proto__":{"isOperator":true},"name":"fz-p"}',
    () => '{"constructor":{"prototype":{"isOperator":true}},"name":"fz-p"}',
    () => `{"name":"fz-q","__proto__":${'{"__proto__":'.repeat(50)}1${'}'.repeat(50)}}`,
    () => '{"name":"' + 'x'.repeat(f.int(100_000, 200_000)) + '"}',
    () => '{"document":{"server":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}}',
    () => JSON.stringify({ user: 'olga', password: 'p'.repeat(f.int(1000, 200_000)) }),
    () => '{"gid":1e309,"uid":-1e309,"name":"fz-n"}',
    () => '{"name":"fz-dup","name":"Bad Name"}',
    () => '{"name": NaN}',
    () => '{',
    () => '',
    () => 'null',
    () => '"just a string"',
    () => '123',
    () => 'undefined',
    () => '\u0000\u0001\u0002',
    () => '\ufeff{"name":"fz-bom"}',
    () => 'x'.repeat(1_100_000), // over the body limit
  ])();
}

function contentType(f: Fuzz): string | undefined {
  const r = f.float();
  if (r < 0.7) return 'application/json';
  return f.pick([
    undefined,
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'application/json; charset=utf-16',
    'application/JSON',
    'application/json; charset=latin1',
    'application/xml',
    'application/vnd.api+json',
    '*/*',
    'garbage',
    '',
  ]);
}

function queryString(f: Fuzz): string {
  if (f.chance(0.6)) return '';
  const pairs = Array.from({ length: f.int(1, 4) }, () => {
    const key = f.pick(['workgroup', 'subgroup', 'limit', 'before', 'since', 'until', 'actor', 'action', 'outcome', 'target', 'passwordHashes', '__proto__', 'x', 'workgroup[]', 'limit[0]']);
    const value = f.pick(['physics', 'optics', '5', '-1', '0', 'NaN', '1e309', '99999999999999999999', '24h', '7d', '2026-13-45', 'true', 'ok', 'denied', 'user.', '%00', '%', encode(randomString(f).slice(0, 200))]);
    return `${key}=${value}`;
  });
  return `?${pairs.join('&')}`;
}

// ---------------------------------------------------------------- the test

describeEachDatabase('fuzzing the account routes', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let clock: ManualClock;
  let settings: Settings;
  const tickets: Record<'operator' | 'admin' | 'user', string | undefined> = { operator: undefined, admin: undefined, user: undefined };
  const ticketOwners = { operator: 'olga', admin: 'walter', user: 'alice' } as const;

  /**
   * A fresh ticket, without going through the app's login limiter (the fuzzer may have tripped
   * it). If the fuzzer locked the owner or gave them another password, that is undone first, so
   * that the rest of the run still reaches past authentication.
   */
  async function refresh(role: keyof typeof tickets): Promise<void> {
    const side = new AccountsService(db.kysely, settings, clock);
    const name = ticketOwners[role];
    try {
      tickets[role] = (await side.login(name, PASSWORD, '10.255.255.1')).ticket;
      return;
    } catch {
      // repaired below
    }
    try {
      if ((await side.listUsers(SYSTEM_ACTOR)).some((u) => u.name === name)) {
        await side.updateUser(SYSTEM_ACTOR, name, { password: PASSWORD, locked: false });
      } else {
        // Deleted by the fuzzer: back, in the one subgroup the fuzzer cannot remove.
        await side.createUser(SYSTEM_ACTOR, { name, primarySubgroup: 'staff', password: PASSWORD });
      }
      tickets[role] = (await side.login(name, PASSWORD, '10.255.255.1')).ticket;
    } catch {
      tickets[role] = undefined;
    }
  }

  before(async () => {
    db = await database.open();
    clock = new ManualClock('2026-03-02T08:00:00Z');
    settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test');
    app = await buildApp({ settings, db, nodeSecret: 'fuzz-node-secret', clock });
    const s = app.keisan.accounts;
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'admin' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'admin', name: 'staff' });
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'physics' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'physics', name: 'optics' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'physics', name: 'lasers' });
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'chem' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'chem', name: 'organic' });
    await s.createUser(SYSTEM_ACTOR, { name: RESERVED_OPERATOR, primarySubgroup: 'staff', password: PASSWORD, operator: true });
    await s.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'staff', password: PASSWORD, operator: true });
    for (const name of ['walter', 'alice']) await s.createUser(SYSTEM_ACTOR, { name, primarySubgroup: 'optics', password: PASSWORD });
    await s.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'organic', password: PASSWORD, subgroups: ['lasers'] });
    await s.setWorkgroupAdmin(SYSTEM_ACTOR, 'physics', 'walter', true);
    for (const role of Object.keys(tickets) as (keyof typeof tickets)[]) await refresh(role);
  });

  after(async () => {
    await app?.close();
    await db?.dispose();
  });

  it(`${REQUESTS} random and hostile requests: never a 5xx, always the error shape`, { timeout: 120_000 }, async () => {
    const f = new Fuzz(mulberry32(SEED ^ (database.dialect === 'postgres' ? 0x5eed : 0)));
    const statuses = new Map<number, number>();
    const started = Date.now();
    for (let i = 0; i < REQUESTS; i++) {
      const route = f.pick(ROUTES);
      const method = f.chance(0.85) ? route.method : f.pick(METHODS);
      let path = route.path.replace(/:(\w+)/g, () => pathParam(f));
      if (f.chance(0.03)) path = f.pick(['/api/nope', '/api', '/', '/api/users/alice/extra', '/API/USERS', '/api//users', '/api/users/']);
      const url = path + queryString(f);
      const body = ['GET', 'HEAD'].includes(method) && f.chance(0.8) ? undefined : rawBody(f, route.path);
      const type = body === undefined && f.chance(0.8) ? undefined : contentType(f);
      const r = f.float();
      const role = r < 0.4 ? 'operator' : r < 0.55 ? 'admin' : r < 0.75 ? 'user' : undefined;
      const ticket = role ? tickets[role] : undefined;
      const authorization =
        ticket && f.chance(0.95)
          ? `${f.pick(['Bearer', 'bearer', 'BEARER'])} ${ticket}`
          : f.pick([undefined, undefined, 'Bearer', 'Bearer ', 'Bearer kst_forged', `Bearer ${'k'.repeat(f.int(100, 20_000))}`, 'Basic b2xnYTpwYXNz', 'Node fuzz-node-secret', `Bearer ${ticket ?? 'x'} extra`, 'Bearer \u00e9']);
      const headers: Record<string, string> = {};
      if (authorization !== undefined) headers.authorization = authorization;
      if (type !== undefined) headers['content-type'] = type;
      const label = `#${i} ${method} ${url.slice(0, 200)} [${role ?? 'no ticket'}] body ${body === undefined ? '-' : JSON.stringify(body.slice(0, 200))}${body && body.length > 200 ? `… (${body.length} chars)` : ''} type ${type ?? '-'} (seed ${SEED})`;

      let response: LightMyRequestResponse;
      try {
        response = await app.inject({
          method: method as 'GET',
          url,
          headers,
          remoteAddress: `10.0.${f.int(0, 3)}.${f.int(1, 254)}`,
          ...(body === undefined ? {} : { payload: body }),
        });
      } catch (error) {
        assert.fail(`${label}: the request itself failed: ${String(error)}`);
      }
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      assert.ok(response.statusCode < 500, `${label}: ${response.statusCode} ${response.body.slice(0, 500)}`);
      if (method !== 'HEAD') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(response.body);
        } catch {
          assert.fail(`${label}: the answer is not JSON: ${response.statusCode} ${response.body.slice(0, 300)}`);
        }
        if (response.statusCode >= 400) {
          assert.ok(isRecord(parsed) && isRecord(parsed.error), `${label}: no error body: ${response.body.slice(0, 300)}`);
          const { code, message } = parsed.error;
          assert.ok(isErrorCode(code), `${label}: bad code in ${response.body.slice(0, 300)}`);
          assert.equal(HTTP_STATUS_BY_CODE[code], response.statusCode, `${label}: ${code} with ${response.statusCode}`);
          assert.ok(typeof message === 'string' && message.length > 0, `${label}: no message`);
          assert.ok(!/\n\s+at /.test(message), `${label}: a stack trace leaked`);
        }
      }
      // Tickets the fuzzer logged out, or whose owner it locked or re-passworded, are replaced.
      if (role && response.statusCode === 401 && ticket && authorization?.endsWith(ticket)) await refresh(role);
      if (role && route.path === '/api/auth/logout' && response.statusCode === 200) await refresh(role);
    }
    const summary = [...statuses.entries()].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ');
    console.log(`# ${database.dialect}: ${REQUESTS} requests in ${Date.now() - started} ms: ${summary}`);
    // The fuzzer reached past the front door: successes, refusals of every kind.
    const seen = (predicate: (status: number) => boolean) => [...statuses.keys()].some(predicate);
    assert.ok(seen((s) => s >= 200 && s < 300), `no request succeeded: ${summary}`);
    for (const status of [400, 401, 404]) assert.ok(statuses.has(status), `never a ${status}: ${summary}`);
  });

  it('afterwards the database is consistent and the operator can still log in', async () => {
    const k = db.kysely;
    const ids = async (table: 'workgroups' | 'subgroups' | 'users') => new Set((await k.selectFrom(table).select('id').execute()).map((r) => Number(r.id)));
    const workgroupIds = await ids('workgroups');
    const subgroupIds = await ids('subgroups');
    const userIds = await ids('users');

    const users = await k.selectFrom('users').selectAll().execute();
    const subgroups = await k.selectFrom('subgroups').selectAll().execute();
    const workgroups = await k.selectFrom('workgroups').selectAll().execute();
    for (const user of users) {
      assert.ok(subgroupIds.has(Number(user.primary_subgroup_id)), `user ${user.name}: primary subgroup ${user.primary_subgroup_id} does not exist`);
      assert.match(user.name, UNIX_NAME_PATTERN);
      assert.ok(user.uid >= 1000, `user ${user.name}: uid ${user.uid}`);
      assert.ok(!/[:\n\r\0]/.test(user.full_name), `user ${user.name}: GECOS-breaking full name`);
      assert.ok(user.locked === 0 || user.locked === 1);
      assert.ok(user.is_operator === 0 || user.is_operator === 1);
    }
    for (const subgroup of subgroups) {
      assert.ok(workgroupIds.has(Number(subgroup.workgroup_id)), `subgroup ${subgroup.name}: workgroup missing`);
      assert.match(subgroup.name, UNIX_NAME_PATTERN);
    }
    for (const workgroup of workgroups) assert.match(workgroup.name, UNIX_NAME_PATTERN);
    const groupNames = [...workgroups.map((w) => w.name), ...subgroups.map((s) => s.name)];
    assert.equal(new Set(groupNames).size, groupNames.length, 'a workgroup and a subgroup share a name');
    const gids = [...workgroups.map((w) => w.gid), ...subgroups.map((s) => s.gid)];
    assert.equal(new Set(gids).size, gids.length, 'two groups share a gid');
    assert.ok(gids.every((gid) => gid >= 1000));

    const primaryOf = new Map(users.map((u) => [Number(u.id), Number(u.primary_subgroup_id)]));
    for (const m of await k.selectFrom('memberships').selectAll().execute()) {
      assert.ok(userIds.has(Number(m.user_id)) && subgroupIds.has(Number(m.subgroup_id)), 'dangling membership');
      assert.notEqual(primaryOf.get(Number(m.user_id)), Number(m.subgroup_id), 'an extra membership of the primary subgroup');
    }
    for (const a of await k.selectFrom('subgroup_admins').selectAll().execute()) assert.ok(userIds.has(Number(a.user_id)) && subgroupIds.has(Number(a.subgroup_id)), 'dangling subgroup admin');
    for (const a of await k.selectFrom('workgroup_admins').selectAll().execute()) assert.ok(userIds.has(Number(a.user_id)) && workgroupIds.has(Number(a.workgroup_id)), 'dangling workgroup admin');
    for (const t of await k.selectFrom('tickets').selectAll().execute()) assert.ok(userIds.has(Number(t.user_id)), 'a ticket of a deleted user');
    assert.ok(users.some((u) => u.is_operator === 1 && u.locked === 0), 'no unlocked operator left');
    for (const entry of await k.selectFrom('audit_log').selectAll().execute()) {
      assert.ok(['ok', 'denied', 'failed'].includes(entry.outcome), `audit outcome ${entry.outcome}`);
      assert.ok(isRecord(JSON.parse(entry.detail)), 'audit detail is not an object');
    }

    // The facility still works: the reserved operator logs in (after the address limits have
    // passed) and sees everything, and the export is a fixpoint of apply.
    clock.advance(16 * 60_000);
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: RESERVED_OPERATOR, password: PASSWORD } });
    assert.equal(login.statusCode, 200, login.body);
    const body: unknown = JSON.parse(login.body);
    assert.ok(isRecord(body) && typeof body.ticket === 'string');
    const headers = { authorization: `Bearer ${body.ticket}` };
    const listed: unknown = JSON.parse((await app.inject({ method: 'GET', url: '/api/users', headers })).body);
    assert.ok(Array.isArray(listed));
    assert.equal(listed.length, users.length);
    const exported = await app.inject({ method: 'GET', url: '/api/facility/export', headers });
    assert.equal(exported.statusCode, 200, exported.body);
    const plan = await app.inject({ method: 'POST', url: '/api/facility/apply', headers, payload: { document: JSON.parse(exported.body) as Record<string, unknown>, dryRun: true } });
    assert.equal(plan.statusCode, 200, plan.body);
    const planned: unknown = JSON.parse(plan.body);
    assert.ok(isRecord(planned));
    assert.deepEqual(planned.changes, []);
  });
});
