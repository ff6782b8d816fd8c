import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, it } from 'node:test';
import { readAudit } from '../accounts/audit.ts';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { KeisanError, type ErrorCode } from '../lib/errors.ts';
import type { DiskPressure, StageTarget } from './model.ts';
import { StorageService } from './service.ts';
import { DiskFullError, DiskTier } from './tiers/disk.ts';
import { putBytes, readAll, storageFixture, type StorageFixture } from './testing.ts';

async function rejects(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<KeisanError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof KeisanError, `not a KeisanError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describeEachDatabase('storage service', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let f: StorageFixture;
  let storage: StorageService;

  beforeEach(async () => {
    db = await database.open();
    f = await storageFixture(db);
    storage = f.storage;
  });
  afterEach(async () => {
    await f.dispose();
    await db.dispose();
  });

  it('creates /<workgroup> and /<workgroup>/<subgroup> on first use, owned by the operator account, with the documented ACLs', async () => {
    const { alice, carol, dave } = f.actors;
    const area = await storage.stat(alice, '/lab/lab-ml');
    assert.deepEqual([area.type, area.owner, area.group, area.family, area.permissions], ['directory', 'admin', 'lab-ml', 'lab.lab-ml', 'rwx-id']);
    const acl = await storage.getAcl(alice, '/lab/lab-ml');
    assert.equal(acl.acl, 'user::rwxcid,group::rwx-id,other::------');
    assert.equal((await storage.stat(alice, '/lab')).permissions, 'r-x---');
    // A relative path starts in the user's own subgroup directory.
    assert.equal((await storage.stat(alice, '.')).path, '/lab/lab-ml');
    // carol (lab-cv) passes through /lab but not into lab-ml; dave (phys) not even into /lab.
    await rejects(storage.list(carol, '/lab/lab-ml'), 'FORBIDDEN', /you may not list \/lab\/lab-ml: that needs read \(r\)/);
    await rejects(storage.stat(dave, '/lab/lab-ml'), 'FORBIDDEN', /you may not traverse \/lab: that needs execute\/traverse \(x\)/);
    await rejects(storage.stat(alice, '/lab/nope'), 'NOT_FOUND', /path '\/lab\/nope' does not exist/);
    await rejects(storage.stat(alice, '/lab/phys-ana'), 'NOT_FOUND');
    const root = await storage.list(dave, '/');
    assert.deepEqual(root.entries.map((e) => e.name), ['lab', 'ops', 'phys']);
    const audit = await readAudit(db.kysely, { action: 'fs.area.create' });
    assert.ok(audit.some((e) => e.target === 'lab-ml'));
  });

  it('mkdir, put, stat, list, get: owner and group are the creator\'s, initial ACLs are inherited, SHA-256 is computed while writing', async () => {
    const { alice, bob, carol } = f.actors;
    const dir = await storage.mkdir(alice, { path: '/lab/lab-ml/run1' });
    assert.deepEqual([dir.owner, dir.group, dir.permissions], ['alice', 'lab-ml', 'rwxcid']);
    assert.equal((await storage.getAcl(alice, '/lab/lab-ml/run1')).acl, 'user::rwxcid,group::r-x---,other::------');
    const bytes = Buffer.from('hello, archive\n'.repeat(1000));
    const file = await putBytes(storage, alice, 'run1/data.txt', bytes, { chunk: 4000 });
    assert.deepEqual([file.path, file.size, file.sha256, file.generation, file.owner, file.group, file.disk, file.locality, file.dirty], [
      '/lab/lab-ml/run1/data.txt', bytes.length, sha(bytes), 1, 'alice', 'lab-ml', 'complete', 'disk', true,
    ]);
    assert.equal((await storage.getAcl(alice, file.path)).acl, 'user::rw-c--,group::r-----,other::------');
    const opened = await storage.openRead(bob, file.path);
    assert.deepEqual(await readAll(opened.stream), bytes);
    const part = await storage.openRead(bob, file.path, { start: 7, end: 13 });
    assert.equal((await readAll(part.stream)).toString(), 'archive');
    assert.deepEqual([part.start, part.end, part.partial], [7, 13, true]);
    const tail = await storage.openRead(bob, file.path, { suffix: 8 });
    assert.equal((await readAll(tail.stream)).toString(), ' archive\n'.slice(1));
    await rejects(storage.openRead(bob, file.path, { start: bytes.length }), 'RANGE_NOT_SATISFIABLE', /has 15000 bytes/);
    // bob may read (group r) but not write; carol cannot even traverse.
    await rejects(storage.createUpload(bob, { path: file.path, size: 1 }), 'FORBIDDEN', /you may not write .*needs write \(w\)/);
    await rejects(storage.openRead(carol, file.path), 'FORBIDDEN', /traverse \/lab\/lab-ml/);
    // bob may not create in alice's run1 (no i for the group) but may in the subgroup directory.
    await rejects(storage.mkdir(bob, { path: '/lab/lab-ml/run1/mine' }), 'FORBIDDEN', /you may not create entries in \/lab\/lab-ml\/run1: that needs insert \(i\)/);
    await storage.mkdir(bob, { path: '/lab/lab-ml/bobs' });
    const listing = await storage.list(bob, '/lab/lab-ml');
    assert.deepEqual(listing.entries.map((e) => [e.name, e.type, e.owner]), [['bobs', 'directory', 'bob'], ['run1', 'directory', 'alice']]);
    await rejects(storage.mkdir(alice, { path: '/lab/lab-ml/run1' }), 'CONFLICT', /exists already/);
    const deep = await storage.mkdir(alice, { path: '/lab/lab-ml/a/b/c', parents: true });
    assert.equal(deep.path, '/lab/lab-ml/a/b/c');
    assert.equal((await storage.mkdir(alice, { path: '/lab/lab-ml/a/b', parents: true })).path, '/lab/lab-ml/a/b');
    await rejects(storage.mkdir(alice, { path: '/lab/lab-ml/run1/data.txt/x', parents: true }), 'CONFLICT', /is a file, not a directory/);
    await rejects(storage.openRead(alice, '/lab/lab-ml/run1'), 'INVALID_INPUT', /is a directory/);
    // Listing pages by name.
    for (const n of ['p1', 'p2', 'p3']) await storage.mkdir(alice, { path: `/lab/lab-ml/a/${n}` });
    const page = await storage.list(alice, '/lab/lab-ml/a', { limit: 2 });
    assert.deepEqual([page.entries.map((e) => e.name), page.next], [['b', 'p1'], 'p1']);
    const rest = await storage.list(alice, '/lab/lab-ml/a', { after: 'p1', limit: 2 });
    assert.deepEqual([rest.entries.map((e) => e.name), rest.next], [['p2', 'p3'], null]);
  });

  it('creations that arrive together are written together: each name is created once, duplicates get 409, mkdir -p tolerates the race', async () => {
    const { alice, bob } = f.actors;
    const names = Array.from({ length: 40 }, (_, i) => `/lab/lab-ml/g/d${i % 30}`);
    await storage.mkdir(alice, { path: '/lab/lab-ml/g' });
    await storage.setAcl(alice, { path: '/lab/lab-ml/g', add: 'group::rwx-id' });
    const results = await Promise.allSettled(names.map((p, i) => storage.mkdir(i % 2 ? alice : bob, { path: p })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok, 30);
    assert.equal(refused.length, 10);
    for (const r of refused) assert.match(String((r.reason as Error).message), /exists already \(a directory\); use mkdir -p/);
    assert.equal((await storage.list(alice, '/lab/lab-ml/g')).entries.length, 30);
    const deep = await Promise.all(Array.from({ length: 8 }, () => storage.mkdir(alice, { path: '/lab/lab-ml/g/x/y/z', parents: true })));
    assert.ok(deep.every((e) => e.path === '/lab/lab-ml/g/x/y/z'));
    // A creation whose directory is removed meanwhile fails cleanly.
    await storage.mkdir(alice, { path: '/lab/lab-ml/g/gone' });
    const racing = storage.mkdir(alice, { path: '/lab/lab-ml/g/gone/child' });
    await storage.remove(alice, '/lab/lab-ml/g/gone', { recursive: true }).catch(() => undefined);
    await racing.then(
      () => undefined,
      (error: unknown) => assert.ok(error instanceof KeisanError && ['CONFLICT', 'NOT_FOUND'].includes(error.code), String(error)),
    );
  });

  it('ACLs: set, add and remove entries; initial ACLs; named users and groups must exist; changes audited; others need c', async () => {
    const { alice, bob, carol } = f.actors;
    await storage.mkdir(alice, { path: '/lab/lab-ml/shared' });
    await rejects(storage.setAcl(bob, { path: '/lab/lab-ml/shared', add: 'user:bob:rwxcid' }), 'FORBIDDEN', /needs control \(c\), which its owner \(alice\) has/);
    await rejects(storage.setAcl(alice, { path: '/lab/lab-ml/shared', add: 'user:nobody:r' }), 'INVALID_INPUT', /user 'nobody' does not exist/);
    await rejects(storage.setAcl(alice, { path: '/lab/lab-ml/shared', add: 'group:nogroup:r' }), 'INVALID_INPUT', /group 'nogroup' is neither a subgroup nor a workgroup/);
    await rejects(storage.setAcl(alice, { path: '/lab/lab-ml/shared', acl: 'user::rwx,group::r' }), 'INVALID_INPUT', /'other::' is missing/);
    const set = await storage.setAcl(alice, { path: '/lab/lab-ml/shared', add: 'group:lab-ml:rwx-id,user:carol:r-x' });
    assert.equal(set.acl, 'user::rwxcid,user:carol:r-x---,group::r-x---,group:lab-ml:rwx-id,other::------');
    // Now bob may create in it; carol still cannot reach it (no x on /lab/lab-ml).
    await storage.mkdir(bob, { path: '/lab/lab-ml/shared/b' });
    await rejects(storage.list(carol, '/lab/lab-ml/shared'), 'FORBIDDEN', /traverse \/lab\/lab-ml/);
    // Initial ACLs: new files in `shared` are group-writable.
    await storage.setAcl(alice, { path: '/lab/lab-ml/shared', which: 'initial-file', acl: 'user::rw-c--,group::rw----,other::------' });
    const created = await putBytes(storage, bob, '/lab/lab-ml/shared/notes', Buffer.from('x'));
    assert.equal((await storage.getAcl(bob, created.path)).acl, 'user::rw-c--,group::rw----,other::------');
    await putBytes(storage, alice, '/lab/lab-ml/shared/notes', Buffer.from('y'));
    await rejects(storage.setAcl(alice, { path: created.path, which: 'initial-dir', acl: 'user::rwx,group::,other::' }), 'INVALID_INPUT', /only directories have initial ACLs/);
    const removed = await storage.setAcl(alice, { path: '/lab/lab-ml/shared', remove: 'user:carol' });
    assert.equal(removed.acl, 'user::rwxcid,group::r-x---,group:lab-ml:rwx-id,other::------');
    const reset = await storage.setAcl(alice, { path: '/lab/lab-ml/shared', which: 'initial-file', acl: null });
    assert.equal(reset.initialFile, null);
    // The owner keeps control even with an ACL that gives the owner nothing.
    await storage.setAcl(alice, { path: '/lab/lab-ml/shared', acl: 'user::------,group::------,other::------' });
    assert.equal((await storage.getAcl(alice, '/lab/lab-ml/shared')).permissions, '---c--');
    const audit = await readAudit(db.kysely, { action: 'fs.acl.set' });
    assert.ok(audit.length >= 5);
    assert.ok(audit.some((e) => e.outcome === 'denied' && e.actor === 'bob'));
    const ok = audit.find((e) => e.outcome === 'ok' && e.detail.which === 'object' && e.detail.after === 'user::------,group::------,other::------');
    assert.ok(ok && typeof ok.detail.before === 'string');
  });

  it('operators pass every check; what they change against the ACL is audited as an override', async () => {
    const { alice, olga } = f.actors;
    await storage.mkdir(alice, { path: '/lab/lab-ml/private' });
    await storage.setAcl(alice, { path: '/lab/lab-ml/private', acl: 'user::rwxcid,group::------,other::------' });
    await putBytes(storage, alice, '/lab/lab-ml/private/secret', Buffer.from('s'));
    const read = await storage.openRead(olga, '/lab/lab-ml/private/secret');
    assert.equal((await readAll(read.stream)).toString(), 's');
    assert.equal((await readAudit(db.kysely, { action: 'fs.override' })).length, 0, 'reads are not audited');
    await storage.mkdir(olga, { path: '/lab/lab-ml/private/ops' });
    await storage.setAcl(olga, { path: '/lab/lab-ml/private', add: 'user:olga:r-x' });
    const overrides = await readAudit(db.kysely, { action: 'fs.override' });
    assert.deepEqual(overrides.map((e) => [e.target, e.detail.operation]), [['/lab/lab-ml/private', 'acl set object'], ['/lab/lab-ml/private/ops', 'mkdir']].reverse().reverse());
    assert.ok(overrides.some((e) => (e.detail.overrode as string[]).some((o) => /^i on \/lab\/lab-ml\/private$/.test(o))));
    const acl = (await readAudit(db.kysely, { action: 'fs.acl.set', actor: 'olga' }))[0]!;
    assert.equal(acl.detail.override, true);
    // The system account (keisan itself) is an operator too.
    assert.equal((await storage.stat(SYSTEM_ACTOR, '/lab/lab-ml/private/secret')).size, 1);
  });

  it('rm needs d on the directory, rm -r also r, x and d all the way down; mv moves into directories and never replaces', async () => {
    const { alice, bob } = f.actors;
    await storage.mkdir(alice, { path: '/lab/lab-ml/t/u/v', parents: true });
    await putBytes(storage, alice, '/lab/lab-ml/t/u/v/f', Buffer.alloc(1000, 1));
    await putBytes(storage, alice, '/lab/lab-ml/t/g', Buffer.alloc(10, 2));
    await rejects(storage.remove(alice, '/lab/lab-ml/t'), 'CONFLICT', /is not empty \(2 entries\): remove them first, or use rm -r/);
    // bob has d on /lab/lab-ml but not inside alice's directories.
    await rejects(storage.remove(bob, '/lab/lab-ml/t', { recursive: true }), 'FORBIDDEN', /you may not empty \/lab\/lab-ml\/t: that needs write|you may not empty \/lab\/lab-ml\/t: that needs delete/);
    assert.equal((await storage.stat(alice, '/lab/lab-ml/t/u/v/f')).size, 1000, 'nothing was removed');
    await storage.move(alice, { from: '/lab/lab-ml/t/g', to: '/lab/lab-ml/t/u' });
    assert.equal((await storage.stat(alice, '/lab/lab-ml/t/u/g')).size, 10);
    await storage.move(alice, { from: '/lab/lab-ml/t/u', to: '/lab/lab-ml/moved' });
    await rejects(storage.stat(alice, '/lab/lab-ml/t/u/v/f'), 'NOT_FOUND');
    assert.equal((await storage.stat(alice, '/lab/lab-ml/moved/v/f')).size, 1000);
    await rejects(storage.move(alice, { from: '/lab/lab-ml/moved', to: '/lab/lab-ml/moved/v/inside' }), 'INVALID_INPUT', /cannot move \/lab\/lab-ml\/moved into itself/);
    await putBytes(storage, alice, '/lab/lab-ml/other', Buffer.from('o'));
    await rejects(storage.move(alice, { from: '/lab/lab-ml/other', to: '/lab/lab-ml/moved/g' }), 'CONFLICT', /exists already: remove it first \(mv never replaces\)/);
    const diskFile = path.join(f.dir, (readdirSync(f.dir).find((d) => /^[0-9a-f]{2}$/.test(d) && readdirSync(path.join(f.dir, d)).length > 0))!);
    assert.ok(existsSync(diskFile));
    const usage = await storage.usage(alice, '/lab/lab-ml');
    assert.deepEqual([usage.files, usage.bytes], [3, 1011]);
    const removed = await storage.remove(alice, '/lab/lab-ml/moved', { recursive: true });
    assert.deepEqual([removed.files, removed.directories, removed.bytes], [2, 2, 1010]);
    await rejects(storage.stat(alice, '/lab/lab-ml/moved'), 'NOT_FOUND');
    assert.equal(f.disk.usedBytes, 1);
    await rejects(storage.remove(alice, '/'), 'INVALID_INPUT', /root/);
    // du skips what the caller may not list.
    await storage.mkdir(alice, { path: '/lab/lab-ml/closed' });
    await putBytes(storage, alice, '/lab/lab-ml/closed/x', Buffer.alloc(5));
    await storage.setAcl(alice, { path: '/lab/lab-ml/closed', acl: 'user::rwxcid,group::------,other::------' });
    const seen = await storage.usage(bob, '/lab/lab-ml');
    assert.deepEqual([seen.files, seen.bytes, seen.unreadable], [1, 1, ['/lab/lab-ml/closed']]);
  });

  it('concurrent writers to one path: exactly one wins, the other gets 409 naming who wrote first; nothing half-written is visible', async () => {
    const { alice, bob } = f.actors;
    const a = await storage.createUpload(alice, { path: '/lab/lab-ml/race', size: 4 });
    const b = await storage.createUpload(bob, { path: '/lab/lab-ml/race', size: 4 });
    await rejects(storage.stat(alice, '/lab/lab-ml/race'), 'NOT_FOUND');
    assert.deepEqual((await storage.list(alice, '/lab/lab-ml')).entries.map((e) => e.name), []);
    await storage.writeChunk(alice, a.id, 0, [Buffer.from('AAAA')]);
    await storage.writeChunk(bob, b.id, 0, [Buffer.from('BBBB')]);
    const results = await Promise.allSettled([storage.commitUpload(alice, a.id), storage.commitUpload(bob, b.id)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.ok(lost[0]!.reason instanceof KeisanError && lost[0]!.reason.code === 'CONFLICT');
    assert.match(lost[0]!.reason.message, /someone else wrote \/lab\/lab-ml\/race first \(generation \d+ by (alice|bob) at /);
    const winner = (won[0] as PromiseFulfilledResult<{ owner: string }>).value;
    const content = (await readAll((await storage.openRead(alice, '/lab/lab-ml/race')).stream)).toString();
    assert.ok(content === 'AAAA' || content === 'BBBB');
    assert.equal(winner.owner, 'alice', 'the file belongs to whoever created it first');
    // A second generation, and an upload started before it, loses.
    const stale = await storage.createUpload(alice, { path: '/lab/lab-ml/race', size: 1 });
    await putBytes(storage, alice, '/lab/lab-ml/race', Buffer.from('new'));
    await storage.writeChunk(alice, stale.id, 0, [Buffer.from('z')]);
    await rejects(storage.commitUpload(alice, stale.id), 'CONFLICT', /someone else wrote .* first/);
    const now = await storage.stat(alice, '/lab/lab-ml/race');
    assert.equal(now.size, 3);
    // Only the current generation is on disk; the disk accounting agrees.
    assert.equal(f.disk.usedBytes, 3);
    assert.equal(f.disk.reservedBytes, 0);
    await rejects(storage.createUpload(alice, { path: '/lab/lab-ml/race', size: 1, overwrite: false }), 'CONFLICT', /exists already \(generation \d+, 3 B\): it was not replaced/);
  });

  it('uploads resume at the server offset, after a broken chunk and after a restart; wrong offsets, too many bytes and bad checksums are refused', async () => {
    const { alice, bob } = f.actors;
    const bytes = Buffer.alloc(300_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
    const upload = await storage.createUpload(alice, { path: '/lab/lab-ml/big', size: bytes.length, tag: 'laptop:/data/big' });
    await storage.writeChunk(alice, upload.id, 0, [bytes.subarray(0, 100_000)]);
    // A chunk whose connection breaks after 50 000 bytes keeps them.
    async function* broken() {
      yield bytes.subarray(100_000, 150_000);
      throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    }
    await assert.rejects(storage.writeChunk(alice, upload.id, 100_000, broken()), /aborted/);
    assert.equal((await storage.getUpload(alice, upload.id)).received, 150_000);
    await rejects(storage.writeChunk(alice, upload.id, 100_000, [bytes.subarray(100_000)]), 'CONFLICT', /stands at byte 150000 of 300000, not 100000/);
    await rejects(storage.writeChunk(bob, upload.id, 150_000, []), 'FORBIDDEN', /belongs to alice/);
    await rejects(storage.commitUpload(alice, upload.id), 'CONFLICT', /incomplete: 150000 of 300000 bytes arrived/);
    // A restart: a new service over the same database and disk tier has no hash in memory.
    await storage.close();
    storage = new StorageService({ db: db.kysely, ...(db.sqlite ? { sqlite: db.sqlite } : {}), clock: f.clock, accounts: f.accounts, disk: f.disk, operatorName: 'admin', uploadExpiryMs: 24 * 3_600_000 });
    f.storage = storage;
    await storage.start({ sweepOrphans: false });
    const mine = await storage.listUploads(alice, '/lab/lab-ml/big');
    assert.deepEqual(mine.map((u) => [u.id, u.received, u.tag]), [[upload.id, 150_000, 'laptop:/data/big']]);
    await rejects(storage.writeChunk(alice, upload.id, 150_000, [bytes.subarray(150_000), Buffer.from('extra')]), 'INVALID_INPUT', /goes past the end: bytes up to 300000 were kept/);
    await rejects(storage.commitUpload(alice, upload.id, { sha256: '0'.repeat(64) }), 'CONFLICT', /have SHA-256 [0-9a-f]{64}, not 0{64}.*put the file again/);
    await rejects(storage.getUpload(alice, upload.id), 'NOT_FOUND');
    // The same again, committed with the right checksum.
    const again = await storage.createUpload(alice, { path: '/lab/lab-ml/big', size: bytes.length });
    await storage.writeChunk(alice, again.id, 0, [bytes]);
    const file = await storage.commitUpload(alice, again.id, { sha256: sha(bytes) });
    assert.equal(file.sha256, sha(bytes));
    assert.deepEqual(await readAll((await storage.openRead(alice, '/lab/lab-ml/big')).stream), bytes);
    // An empty file needs no chunk at all.
    const empty = await storage.createUpload(alice, { path: '/lab/lab-ml/empty', size: 0 });
    assert.equal((await storage.commitUpload(alice, empty.id)).sha256, sha(Buffer.alloc(0)));
    assert.equal((await readAll((await storage.openRead(alice, '/lab/lab-ml/empty')).stream)).length, 0);
  });

  it('abandoned uploads expire: their bytes, session and invisible entry go', async () => {
    const { alice } = f.actors;
    const upload = await storage.createUpload(alice, { path: '/lab/lab-ml/left', size: 10 });
    await storage.writeChunk(alice, upload.id, 0, [Buffer.from('01234')]);
    assert.equal(f.disk.reservedBytes, 10);
    f.clock.advance(25 * 3_600_000);
    await storage.sweep();
    await rejects(storage.getUpload(alice, upload.id), 'NOT_FOUND');
    assert.equal(f.disk.reservedBytes, 0);
    assert.deepEqual(readdirSync(path.join(f.dir, 'uploads')), []);
    const rows = await db.kysely.selectFrom('fs_entries').select('name').where('name', '=', 'left').execute();
    assert.equal(rows.length, 0);
    // A new upload to the name works.
    await putBytes(storage, alice, '/lab/lab-ml/left', Buffer.from('again'));
  });

  it('the HSM interface: copies, migrated, purge only when safe, pins, leases, archive-only reads through the stager', async () => {
    const { alice } = f.actors;
    const bytes = Buffer.from('archived bytes');
    const file = await putBytes(storage, alice, '/lab/lab-ml/arch', bytes);
    const record = (await storage.findFiles({ dirty: true, diskState: ['complete'], limit: 10 }))[0]!;
    assert.deepEqual([record.size, record.family, record.generation, await storage.pathById(record.id)], [bytes.length, 'lab.lab-ml', 1, file.path]);
    assert.deepEqual((await storage.fileAt(file.path))?.id, record.id);
    assert.deepEqual(await storage.purgeDiskCopy(record.id, 1), { purged: false, reason: 'dirty' });
    const location = { backend: 'archive-dir', volume: 'V0001', entry: 'e1', position: 0, length: bytes.length, sha256: sha(bytes) };
    assert.deepEqual((await storage.recordCopy(record.id, 1, 1, location)).current, true);
    assert.equal(await storage.markMigrated(record.id, 1), true);
    assert.equal((await storage.stat(alice, file.path)).locality, 'disk+archive');
    assert.equal((await storage.copiesOf([record.id])).length, 1);
    // Pinned, then open: kept.
    await storage.pin(record.id, new Date(f.clock.now().getTime() + 60_000));
    assert.deepEqual(await storage.purgeDiskCopy(record.id, 1), { purged: false, reason: 'pinned' });
    f.clock.advance(120_000);
    const reading = await storage.openRead(alice, file.path);
    assert.deepEqual(await storage.purgeDiskCopy(record.id, 1), { purged: false, reason: 'open' });
    assert.deepEqual([...(await storage.openFiles([record.id]))], [record.id]);
    await readAll(reading.stream);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(await storage.purgeDiskCopy(record.id, 1), { purged: true, bytes: bytes.length });
    assert.equal((await storage.stat(alice, file.path)).locality, 'archive');
    assert.equal(f.disk.usedBytes, 0);
    // Archive-only without a stager: 409 saying so.
    await rejects(storage.openRead(alice, file.path), 'CONFLICT', /archive-only: .*staging is not configured/);
    // With a stager: it stages through beginStaging/finishStaging and streams the range asked for.
    const asked: StageTarget[] = [];
    storage.setStager({
      async stage(target) {
        asked.push(target);
        const { handle } = await storage.beginStaging(target.file.id, target.file.generation);
        await handle.write(bytes, 0, bytes.length, 0);
        await handle.close();
        await storage.finishStaging(target.file.id, target.file.generation, sha(bytes));
        return Readable.from([bytes.subarray(target.range.start, target.range.end + 1)]);
      },
    });
    const staged = await storage.openRead(alice, file.path, { start: 0, end: 7 });
    assert.equal((await readAll(staged.stream)).toString(), 'archived');
    assert.deepEqual(asked.map((t) => [t.path, t.range, t.user]), [[file.path, { start: 0, end: 7 }, 'alice']]);
    assert.equal((await storage.stat(alice, file.path)).disk, 'complete');
    assert.equal(f.disk.usedBytes, bytes.length);
    // Overwriting makes the old copies obsolete for the HSM to remove.
    await putBytes(storage, alice, file.path, Buffer.from('v2'));
    const obsolete = await storage.obsoleteCopies();
    assert.deepEqual(obsolete.map((c) => [c.fileId, c.generation, c.volume]), [[record.id, 1, 'V0001']]);
    assert.equal((await storage.recordCopy(record.id, 1, 1, location)).current, false, 'a copy of an old generation is recorded obsolete');
    await storage.forgetCopy(obsolete[0]!.id);
    assert.equal(await storage.markMigrated(record.id, 1), false);
  });

  it('the filesystem fills up during a chunk (ENOSPC): 507, the upload and its bytes go, the HSM hears; a file removed during its upload is not resurrected', async () => {
    const { alice } = f.actors;
    class FillingDisk extends DiskTier {
      override async writeUpload(...args: Parameters<DiskTier['writeUpload']>) {
        const result = await super.writeUpload(...args);
        return { written: result.written, error: new DiskFullError('enospc') };
      }
    }
    const filling = new FillingDisk({ root: path.join(f.dir, 'filling'), capacityBytes: null, fsync: false });
    await storage.close();
    storage = new StorageService({ db: db.kysely, ...(db.sqlite ? { sqlite: db.sqlite } : {}), clock: f.clock, accounts: f.accounts, disk: filling, operatorName: 'admin', uploadExpiryMs: 3_600_000 });
    f.storage = storage;
    await storage.start({ sweepOrphans: false });
    const events: DiskPressure[] = [];
    storage.onDiskPressure((event) => events.push(event));
    const upload = await storage.createUpload(alice, { path: '/lab/lab-ml/enospc', size: 100 });
    await rejects(storage.writeChunk(alice, upload.id, 0, [Buffer.alloc(40)]), 'INSUFFICIENT_STORAGE', /the disk tier is full: its filesystem has no space left \(ENOSPC\) while writing \/lab\/lab-ml\/enospc\. The partial upload was removed/);
    assert.deepEqual(events.map((e) => [e.reason, e.path]), [['enospc', '/lab/lab-ml/enospc']]);
    await rejects(storage.getUpload(alice, upload.id), 'NOT_FOUND');
    assert.deepEqual(readdirSync(path.join(f.dir, 'filling', 'uploads')), []);
    assert.equal(filling.reservedBytes, 0);
    await rejects(storage.stat(alice, '/lab/lab-ml/enospc'), 'NOT_FOUND');
    // An upload whose directory is removed before the commit: nothing appears.
    await storage.close();
    storage = new StorageService({ db: db.kysely, ...(db.sqlite ? { sqlite: db.sqlite } : {}), clock: f.clock, accounts: f.accounts, disk: f.disk, operatorName: 'admin', uploadExpiryMs: 3_600_000 });
    f.storage = storage;
    await storage.start({ sweepOrphans: false });
    await storage.mkdir(alice, { path: '/lab/lab-ml/tmp' });
    const doomed = await storage.createUpload(alice, { path: '/lab/lab-ml/tmp/f', size: 3 });
    await storage.writeChunk(alice, doomed.id, 0, [Buffer.from('abc')]);
    await storage.remove(alice, '/lab/lab-ml/tmp', { recursive: true });
    await rejects(storage.commitUpload(alice, doomed.id), 'NOT_FOUND', /upload .* does not exist/);
    await rejects(storage.stat(alice, '/lab/lab-ml/tmp/f'), 'NOT_FOUND');
    assert.equal(f.disk.reservedBytes, 0);
  });

  it('the disk tier is full: 507 before any byte is sent, the HSM hears about it, nothing is left behind', async () => {
    // The same namespace, served from a disk tier of 1000 bytes.
    const small = new DiskTier({ root: path.join(f.dir, 'small'), capacityBytes: 1000, fsync: false });
    await storage.close();
    storage = new StorageService({ db: db.kysely, ...(db.sqlite ? { sqlite: db.sqlite } : {}), clock: f.clock, accounts: f.accounts, disk: small, operatorName: 'admin', uploadExpiryMs: 3_600_000 });
    f.storage = storage;
    await storage.start({ sweepOrphans: false });
    const { alice } = f.actors;
    const events: DiskPressure[] = [];
    storage.onDiskPressure((event) => events.push(event));
    await putBytes(storage, alice, '/lab/lab-ml/a', Buffer.alloc(600));
    const refused = await rejects(storage.createUpload(alice, { path: '/lab/lab-ml/b', size: 500 }), 'INSUFFICIENT_STORAGE', /the disk tier is full: \/lab\/lab-ml\/b needs 500 B and 400 B of its 1000 B are free/);
    assert.deepEqual(refused.details, { neededBytes: 500, freeBytes: 400 });
    assert.deepEqual(events.map((e) => [e.reason, e.neededBytes, e.usedBytes, e.capacityBytes, e.path]), [['capacity', 500, 600, 1000, '/lab/lab-ml/b']]);
    await rejects(storage.stat(alice, '/lab/lab-ml/b'), 'NOT_FOUND');
    assert.deepEqual(readdirSync(path.join(f.dir, 'small', 'uploads')), []);
    // Uploads in progress hold their bytes: two of 300 cannot both start in 400.
    const first = await storage.createUpload(alice, { path: '/lab/lab-ml/c', size: 300 });
    await rejects(storage.createUpload(alice, { path: '/lab/lab-ml/d', size: 300 }), 'INSUFFICIENT_STORAGE');
    await storage.cancelUpload(alice, first.id);
    await putBytes(storage, alice, '/lab/lab-ml/d', Buffer.alloc(300));
  });
});
