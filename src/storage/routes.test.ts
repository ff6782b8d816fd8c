import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { parseSettings } from '../lib/config.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { parseRangeHeader } from './routes.ts';

/**
 * The storage API end to end over real HTTP (bodies stream, so no inject()): streamed put and
 * get of tens of MB with range reads, an upload resumed after its connection broke, two writers
 * racing for one path, a full disk tier, and bad input answered with 4xx and a message.
 */
const MIB = 1024 * 1024;
const PASSWORD = 'correct horse battery';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Server {
  app: KeisanApp;
  url: string;
  tickets: Record<string, string>;
}

async function startApp(db: Db, dataDir: string, storage: Record<string, unknown>, createAccounts: boolean): Promise<Server> {
  const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } }, storage }, 'test');
  const app = await buildApp({ settings, db, nodeSecret: 'secret', dataDir });
  if (createAccounts) {
    const s = app.keisan.accounts;
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'ops' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'ops', name: 'staff' });
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-cv' });
    for (const [name, subgroup] of [['alice', 'lab-ml'], ['bob', 'lab-ml'], ['carol', 'lab-cv']]) await s.createUser(SYSTEM_ACTOR, { name: name!, primarySubgroup: subgroup!, password: PASSWORD });
    await s.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'staff', password: PASSWORD, operator: true });
  }
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const tickets: Record<string, string> = {};
  for (const name of ['alice', 'bob', 'carol', 'olga']) {
    const response = await fetch(`${address}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: name, password: PASSWORD }) });
    tickets[name] = ((await response.json()) as { ticket: string }).ticket;
  }
  return { app, url: address, tickets };
}

describeEachDatabase('storage API over HTTP', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let server: Server;
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-storage-api-'));

  before(async () => {
    db = await database.open();
    server = await startApp(db, path.join(scratch, 'data'), { disk: { fsync: false } }, true);
  });
  after(async () => {
    await server?.app.close();
    await db?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  const call = async (who: string | null, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${server.url}${route}`, {
      method,
      headers: { ...(who ? { authorization: `Bearer ${server.tickets[who]}` } : {}), ...(body !== undefined && !(body instanceof Buffer) ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: body instanceof Buffer ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, json: json as Record<string, unknown> & { error?: { code: string; message: string } }, headers: response.headers, text };
  };
  const q = (p: string) => encodeURIComponent(p);
  const expectError = (r: Awaited<ReturnType<typeof call>>, status: number, code: string, message?: RegExp) => {
    assert.equal(r.status, status, r.text);
    assert.equal(r.json?.error?.code, code, r.text);
    assert.ok(!/\n\s+at /.test(r.json!.error!.message), 'a stack trace leaked');
    if (message) assert.match(r.json!.error!.message, message);
  };

  /** put as the CLI does: create, 8 MiB chunks, commit with the SHA-256. */
  async function put(who: string, filePath: string, bytes: Buffer, chunk = 8 * MIB) {
    const created = await call(who, 'POST', '/api/fs/uploads', { path: filePath, size: bytes.length });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id as string;
    for (let offset = 0; offset < bytes.length; offset += chunk) {
      const sent = await call(who, 'PUT', `/api/fs/uploads/${id}?offset=${offset}`, bytes.subarray(offset, offset + chunk), { 'content-type': 'application/octet-stream' });
      assert.equal(sent.status, 200, sent.text);
      assert.equal(sent.json.received, Math.min(bytes.length, offset + chunk));
    }
    return call(who, 'POST', `/api/fs/uploads/${id}/commit`, { sha256: sha(bytes) });
  }

  it('streams a 40 MB put in 8 MiB chunks (above server.bodyLimit) and gets it back whole and in ranges', async () => {
    const bytes = randomBytes(40 * 1000 * 1000);
    const committed = await put('alice', '/lab/lab-ml/big.bin', bytes);
    assert.equal(committed.status, 200, committed.text);
    assert.deepEqual([committed.json.size, committed.json.sha256, committed.json.generation], [bytes.length, sha(bytes), 1]);

    const whole = await fetch(`${server.url}/api/fs/content?path=${q('/lab/lab-ml/big.bin')}`, { headers: { authorization: `Bearer ${server.tickets.bob}` } });
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-length'), String(bytes.length));
    assert.equal(whole.headers.get('x-keisan-sha256'), sha(bytes));
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    const hash = createHash('sha256');
    let received = 0;
    for await (const chunk of whole.body!) {
      hash.update(chunk);
      received += chunk.length;
    }
    assert.deepEqual([received, hash.digest('hex')], [bytes.length, sha(bytes)]);

    for (const [range, start, end] of [
      ['bytes=0-1023', 0, 1023],
      ['bytes=39999000-', 39_999_000, bytes.length - 1],
      ['bytes=-500', bytes.length - 500, bytes.length - 1],
      ['bytes=1000-99999999', 1000, bytes.length - 1],
    ] as const) {
      const r = await fetch(`${server.url}/api/fs/content?path=${q('/lab/lab-ml/big.bin')}`, { headers: { authorization: `Bearer ${server.tickets.alice}`, range } });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${bytes.length}`);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), bytes.subarray(start, end + 1), range);
    }
    const past = await call('alice', 'GET', `/api/fs/content?path=${q('/lab/lab-ml/big.bin')}`, undefined, { range: `bytes=${bytes.length}-` });
    expectError(past, 416, 'RANGE_NOT_SATISFIABLE', /has 40000000 bytes: the range asked for starts past its end/);
    assert.equal(past.headers.get('content-range'), `bytes */${bytes.length}`);
    expectError(await call('alice', 'GET', `/api/fs/content?path=${q('/lab/lab-ml/big.bin')}`, undefined, { range: 'bytes=0-1,5-9' }), 400, 'INVALID_INPUT', /only one byte range per request/);
    expectError(await call('alice', 'GET', `/api/fs/content?path=${q('/lab/lab-ml/big.bin')}`, undefined, { range: 'lines=1-2' }), 400, 'INVALID_INPUT', /is not understood: write bytes=START-END/);
    // carol (another subgroup) is refused, saying why.
    expectError(await call('carol', 'GET', `/api/fs/content?path=${q('/lab/lab-ml/big.bin')}`), 403, 'FORBIDDEN', /you may not traverse \/lab\/lab-ml/);
  });

  it('resumes an upload after its connection broke mid-chunk, from the offset the server reports', async () => {
    const bytes = randomBytes(20 * MIB);
    const created = await call('alice', 'POST', '/api/fs/uploads', { path: '/lab/lab-ml/resumed.bin', size: bytes.length, tag: 'host:/data/resumed.bin' });
    const id = created.json.id as string;
    assert.equal((await call('alice', 'PUT', `/api/fs/uploads/${id}?offset=0`, bytes.subarray(0, 8 * MIB), { 'content-type': 'application/octet-stream' })).status, 200);
    // The next 8 MiB chunk: the client dies after 3 MiB.
    await new Promise<void>((resolve) => {
      const request = http.request(`${server.url}/api/fs/uploads/${id}?offset=${8 * MIB}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${server.tickets.alice}`, 'content-type': 'application/octet-stream', 'content-length': String(8 * MIB) },
      });
      request.on('error', () => resolve());
      request.write(bytes.subarray(8 * MIB, 11 * MIB), () => setTimeout(() => {
        request.destroy();
        resolve();
      }, 200));
    });
    let status = await call('alice', 'GET', `/api/fs/uploads/${id}`);
    for (let i = 0; i < 50 && status.json.received === 8 * MIB; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await call('alice', 'GET', `/api/fs/uploads/${id}`);
    }
    const at = status.json.received as number;
    assert.ok(at > 8 * MIB && at <= 11 * MIB, `received ${at}`);
    const listed = await call('alice', 'GET', `/api/fs/uploads?path=${q('/lab/lab-ml/resumed.bin')}`);
    assert.deepEqual((listed.json as unknown as { id: string; tag: string }[]).map((u) => [u.id, u.tag]), [[id, 'host:/data/resumed.bin']]);
    // Sending from the wrong place is refused with where it stands.
    const wrong = await call('alice', 'PUT', `/api/fs/uploads/${id}?offset=${8 * MIB}`, bytes.subarray(8 * MIB, 9 * MIB), { 'content-type': 'application/octet-stream' });
    expectError(wrong, 409, 'CONFLICT', new RegExp(`stands at byte ${at} of ${bytes.length}, not ${8 * MIB}`));
    assert.equal((wrong.json.error as unknown as { details: { received: number } }).details.received, at);
    for (let offset = at; offset < bytes.length; offset += 8 * MIB) {
      const sent = await call('alice', 'PUT', `/api/fs/uploads/${id}?offset=${offset}`, bytes.subarray(offset, offset + 8 * MIB), { 'content-type': 'application/octet-stream' });
      assert.equal(sent.status, 200, sent.text);
    }
    const done = await call('alice', 'POST', `/api/fs/uploads/${id}/commit`, { sha256: sha(bytes) });
    assert.equal(done.status, 200, done.text);
    const back = await fetch(`${server.url}/api/fs/content?path=${q('/lab/lab-ml/resumed.bin')}`, { headers: { authorization: `Bearer ${server.tickets.alice}` } });
    assert.equal(sha(Buffer.from(await back.arrayBuffer())), sha(bytes));
  });

  it('two writers race for one path: one commit wins, the other gets 409 saying someone else wrote it first', async () => {
    const [a, b] = [Buffer.alloc(3 * MIB, 'a'), Buffer.alloc(2 * MIB, 'b')];
    const [ra, rb] = await Promise.all([put('alice', '/lab/lab-ml/race.bin', a, MIB), put('bob', '/lab/lab-ml/race.bin', b, MIB)]);
    const statuses = [ra.status, rb.status].sort();
    assert.deepEqual(statuses, [200, 409], `${ra.text} ${rb.text}`);
    const loser = ra.status === 409 ? ra : rb;
    expectError(loser, 409, 'CONFLICT', /someone else wrote \/lab\/lab-ml\/race\.bin first \(generation \d+ by (alice|bob) at .*\): your upload was not applied/);
    const winner = ra.status === 200 ? a : b;
    const stat = await call('alice', 'GET', `/api/fs/entries?path=${q('/lab/lab-ml/race.bin')}`);
    assert.equal(stat.json.sha256, sha(winner));
  });

  it('refuses bad input with 4xx and a message: paths, uploads, ACLs, tickets', async () => {
    const created = await call('alice', 'POST', '/api/fs/uploads', { path: '/lab/lab-ml/small', size: 5 });
    const id = created.json.id as string;
    const cases: [Awaited<ReturnType<typeof call>>, number, string, RegExp][] = [
      [await call('alice', 'GET', `/api/fs/entries?path=${q('/lab/../../etc/passwd')}`), 400, 'INVALID_INPUT', /'\.\.' \(part 3\) would climb above the root/],
      [await call('alice', 'GET', '/api/fs/entries?path=%2Flab%2Fa%00b'), 400, 'INVALID_INPUT', /contains a NUL character/],
      [await call('alice', 'POST', '/api/fs/directories', { path: `/lab/lab-ml/${'n'.repeat(256)}` }), 400, 'INVALID_INPUT', /is 256 bytes long: names have at most 255 bytes/],
      [await call('alice', 'POST', '/api/fs/directories', {}), 400, 'INVALID_INPUT', /path/],
      [await call('alice', 'POST', '/api/fs/directories', { path: '/lab/lab-ml/x', mode: 755 }), 400, 'INVALID_INPUT', /mode/],
      [await call('alice', 'GET', '/api/fs/entries'), 400, 'INVALID_INPUT', /path/],
      [await call('alice', 'DELETE', `/api/fs/entries?path=${q('/')}`), 400, 'INVALID_INPUT', /the root \/ cannot be removed/],
      [await call('alice', 'DELETE', `/api/fs/entries?path=${q('/lab/lab-ml/x')}&recursive=maybe`), 400, 'INVALID_INPUT', /recursive: use true or false/],
      [await call('alice', 'POST', '/api/fs/uploads', { path: '/lab/lab-ml/neg', size: -1 }), 400, 'INVALID_INPUT', /size must not be negative/],
      [await call('alice', 'POST', '/api/fs/uploads', { path: '/lab/lab-ml/neg', size: 1.5 }), 400, 'INVALID_INPUT', /whole number of bytes/],
      [await call('alice', 'POST', '/api/fs/uploads', { path: '/lab/lab-ml', size: 1 }), 409, 'CONFLICT', /is a directory/],
      [await call('alice', 'PUT', `/api/fs/uploads/${id}?offset=3`, Buffer.from('xx'), { 'content-type': 'application/octet-stream' }), 409, 'CONFLICT', /stands at byte 0 of 5, not 3/],
      [await call('alice', 'PUT', `/api/fs/uploads/${id}?offset=0`, Buffer.from('toolong'), { 'content-type': 'application/octet-stream' }), 400, 'INVALID_INPUT', /goes past the end/],
      [await call('alice', 'PUT', `/api/fs/uploads/${id}?offset=0`, Buffer.from('ab'), { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /./],
      [await call('alice', 'POST', `/api/fs/uploads/${id}/commit`, { sha256: 'xyz' }), 400, 'INVALID_INPUT', /sha256 must be 64 hexadecimal digits/],
      [await call('alice', 'POST', `/api/fs/uploads/${id}/commit`, {}), 409, 'CONFLICT', /incomplete: 0 of 5 bytes arrived/],
      [await call('bob', 'PUT', `/api/fs/uploads/${id}?offset=0`, Buffer.from('ab'), { 'content-type': 'application/octet-stream' }), 403, 'FORBIDDEN', /belongs to alice/],
      [await call('alice', 'GET', '/api/fs/uploads/up_nonexistent00000'), 404, 'NOT_FOUND', /upload 'up_nonexistent00000' does not exist/],
      [await call('alice', 'PUT', '/api/fs/acl', { path: '/lab/lab-ml', acl: 'user::rwx,group::r-x,other::rq' }), 400, 'INVALID_INPUT', /entry 3 \('other::rq'\): 'q' is not a permission/],
      [await call('bob', 'PUT', '/api/fs/acl', { path: '/lab/lab-ml', add: 'user:bob:rwxcid' }), 403, 'FORBIDDEN', /needs control \(c\)/],
      [await call(null, 'GET', `/api/fs/entries?path=${q('/')}`), 401, 'NOT_AUTHENTICATED', /ticket/],
    ];
    for (const [response, status, code, message] of cases) expectError(response, status, code, message);
    // After all that, the upload still works from byte 0 (the overflowing chunk kept nothing past the end).
    const state = await call('alice', 'GET', `/api/fs/uploads/${id}`);
    const from = state.json.received as number;
    assert.equal((await call('alice', 'PUT', `/api/fs/uploads/${id}?offset=${from}`, Buffer.from('hello').subarray(from), { 'content-type': 'application/octet-stream' })).status, 200);
    assert.equal((await call('alice', 'POST', `/api/fs/uploads/${id}/commit`)).status, 200);
    const text = await fetch(`${server.url}/api/fs/content?path=${q('/lab/lab-ml/small')}`, { headers: { authorization: `Bearer ${server.tickets.alice}` } });
    assert.equal(await text.text(), 'hello');
  });

  it('namespace calls: mkdir, list, mv, du, acl, rm; the OpenAPI document lists them', async () => {
    assert.equal((await call('alice', 'POST', '/api/fs/directories', { path: 'proj/a', parents: true })).status, 201);
    await put('alice', 'proj/a/f', Buffer.from('0123456789'));
    const listing = await call('alice', 'GET', `/api/fs/children?path=${q('proj')}`);
    assert.deepEqual((listing.json.entries as { name: string; type: string }[]).map((e) => [e.name, e.type]), [['a', 'directory']]);
    const moved = await call('alice', 'POST', '/api/fs/moves', { from: 'proj/a/f', to: 'proj' });
    assert.equal(moved.json.path, '/lab/lab-ml/proj/f');
    const du = await call('alice', 'GET', `/api/fs/usage?path=${q('proj')}`);
    assert.deepEqual([du.json.files, du.json.directories, du.json.bytes], [1, 2, 10]);
    const acl = await call('alice', 'PUT', '/api/fs/acl', { path: 'proj', add: 'user:carol:r-x' });
    assert.equal(acl.json.acl, 'user::rwxcid,user:carol:r-x---,group::r-x---,other::------');
    const notEmpty = await call('alice', 'DELETE', `/api/fs/entries?path=${q('proj')}`);
    expectError(notEmpty, 409, 'CONFLICT', /is not empty \(2 entries\)/);
    const removed = await call('alice', 'DELETE', `/api/fs/entries?path=${q('proj')}&recursive=true`);
    assert.deepEqual([removed.json.files, removed.json.directories, removed.json.bytes], [1, 2, 10]);
    const openapi = (await call(null, 'GET', '/api/openapi.json')).json as { paths: Record<string, unknown> };
    for (const p of ['/api/fs/entries', '/api/fs/children', '/api/fs/content', '/api/fs/uploads', '/api/fs/uploads/{id}', '/api/fs/uploads/{id}/commit', '/api/fs/acl', '/api/fs/moves', '/api/fs/usage', '/api/fs/directories']) {
      assert.ok(openapi.paths[p], `${p} missing from the OpenAPI document`);
    }
  });

  it('HEAD gives the headers only; a download the client abandons drops its read lease', async () => {
    const bytes = randomBytes(8 * MIB);
    assert.equal((await put('alice', '/lab/lab-ml/lease.bin', bytes)).status, 200);
    const head = await fetch(`${server.url}/api/fs/content?path=${q('/lab/lab-ml/lease.bin')}`, { method: 'HEAD', headers: { authorization: `Bearer ${server.tickets.alice}` } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(bytes.length));
    assert.equal(head.headers.get('x-keisan-sha256'), sha(bytes));
    const leases = () => db.kysely.selectFrom('fs_leases').select('id').execute().then((rows) => rows.length);
    // A client that reads a little, then goes away (closes its connection).
    let request: http.ClientRequest | undefined;
    await new Promise<void>((resolve, reject) => {
      request = http.get(`${server.url}/api/fs/content?path=${q('/lab/lab-ml/lease.bin')}`, { headers: { authorization: `Bearer ${server.tickets.alice}` } }, (response) => response.once('data', () => resolve()));
      request.on('error', reject);
    });
    assert.equal(await leases(), 1, 'the reader holds a lease');
    request!.destroy();
    for (let i = 0; i < 100 && (await leases()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await leases(), 0, 'the lease went with the abandoned download');
  });

  it('a full disk tier answers 507 and keeps nothing (storage.disk.capacity)', async () => {
    const small = await startApp(db, path.join(scratch, 'small'), { disk: { fsync: false, capacity: '1M' } }, false);
    try {
      const pressure: number[] = [];
      small.app.keisan.storage.onDiskPressure((event) => pressure.push(event.neededBytes));
      const call2 = (route: string, body: unknown) =>
        fetch(`${small.url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${small.tickets.alice}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const refused = await call2('/api/fs/uploads', { path: '/lab/lab-ml/too-big', size: 2 * MIB });
      assert.equal(refused.status, 507);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'INSUFFICIENT_STORAGE');
      assert.match(body.error.message, /^the disk tier is full: \/lab\/lab-ml\/too-big needs 2\.0 MiB and .* of its 1\.0 MiB are free/);
      assert.deepEqual(pressure, [2 * MIB]);
      const stat = await fetch(`${small.url}/api/fs/entries?path=${q('/lab/lab-ml/too-big')}`, { headers: { authorization: `Bearer ${small.tickets.alice}` } });
      assert.equal(stat.status, 404);
    } finally {
      await small.app.close();
    }
  });
});

it('parseRangeHeader: the three forms, and clear refusals', () => {
  assert.deepEqual(parseRangeHeader('bytes=0-99'), { start: 0, end: 99 });
  assert.deepEqual(parseRangeHeader('bytes=100-'), { start: 100 });
  assert.deepEqual(parseRangeHeader('bytes=-5'), { suffix: 5 });
  assert.equal(parseRangeHeader(undefined), null);
  assert.throws(() => parseRangeHeader('bytes=9-1'), /the end comes before the start/);
  assert.throws(() => parseRangeHeader('bytes=-'), /not understood/);
});
