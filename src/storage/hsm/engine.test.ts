import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, it } from 'node:test';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { KeisanError } from '../../lib/errors.ts';
import { ZERO_TIMING } from '../tiers/archive-dir/index.ts';
import { hsmWorld, sha256, type HsmWorld } from './testing.ts';

const MIB = 1024 * 1024;
const zeroDelay = { classes: [{ name: 'default', migrationDelay: 0, copies: 1, purgeHigh: 80, purgeLow: 40 }] };

describeEachDatabase('HSM engine', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let w: HsmWorld | null = null;
  beforeEach(async () => {
    db = await database.open();
  });
  afterEach(async () => {
    await w?.close();
    w = null;
    await db.dispose();
  });

  const entry = (world: HsmWorld, p: string) => world.storage.stat(world.alice, p);

  it('put → migrate → purge → read back (stages), checksum equal; state visible throughout', async () => {
    w = await hsmWorld(db, { storage: zeroDelay });
    const bytes = randomBytes(3 * MIB + 17);
    await w.put(w.alice, '/phys/ana/run1.dat', bytes);
    assert.equal((await entry(w, '/phys/ana/run1.dat')).locality, 'disk');

    const migrated = await w.hsm.migrateNow(w.operator);
    assert.equal(migrated.files, 1);
    assert.equal(migrated.bytes, bytes.length);
    let e = await entry(w, '/phys/ana/run1.dat');
    assert.equal(e.locality, 'disk+archive');
    assert.equal(e.dirty, false);
    const volumes = await w.hsm.volumes(w.operator);
    assert.equal(volumes.length, 1);
    assert.equal(volumes[0]!.family, 'phys.ana', 'the subgroup tree goes to its own family');

    const purged = await w.hsm.purgeNow(w.operator, { toPct: 0 });
    assert.equal(purged.purgedFiles, 1);
    assert.equal(purged.freedBytes, bytes.length);
    e = await entry(w, '/phys/ana/run1.dat');
    assert.equal(e.locality, 'archive');
    assert.equal((await w.storage.diskUsage()).usedBytes, 0);

    const back = await w.read(w.alice, '/phys/ana/run1.dat');
    assert.equal(back.length, bytes.length);
    assert.equal(sha256(back), sha256(bytes));
    await w.hsm.settle();
    assert.equal((await entry(w, '/phys/ana/run1.dat')).locality, 'disk+archive', 'staged back to disk, still archived');
    const status = await w.hsm.status(w.operator);
    assert.equal(status.files.migratedOnDisk.files, 1);
    assert.ok(status.recentRuns.some((r) => r.kind === 'migrate' && r.state === 'done'));
  });

  it('a declared family tree gets its own volumes; a class for the workgroup sets the copies', async () => {
    w = await hsmWorld(db, {
      storage: {
        classes: [{ name: 'default', migrationDelay: 0 }, { name: 'physics', migrationDelay: 0, copies: 2, workgroups: ['phys'] }],
        families: [{ name: 'ana-raw', tree: '/phys/ana/raw' }],
      },
    });
    await w.storage.mkdir(w.alice, { path: '/phys/ana/raw' });
    await w.put(w.alice, '/phys/ana/raw/r1', randomBytes(1000));
    await w.put(w.alice, '/phys/ana/other', randomBytes(1000));
    const report = await w.hsm.migrateNow(w.operator);
    assert.equal(report.copiesWritten, 4);
    const volumes = await w.hsm.volumes(w.operator);
    assert.deepEqual(volumes.map((v) => `${v.family}/${v.copy}`).sort(), ['ana-raw/1', 'ana-raw/2', 'phys.ana/1', 'phys.ana/2']);
  });

  it('purge frees the disk tier from the high water mark down to the low one, oldest first, never a dirty file', async () => {
    // capacity 10 MiB, high 80 %, low 40 %
    w = await hsmWorld(db, { storage: zeroDelay, capacity: 10 * MIB });
    const files = ['a', 'b', 'c', 'd'];
    for (const f of files) await w.put(w.alice, `/phys/ana/${f}`, randomBytes(2 * MIB));
    await w.hsm.migrateNow(w.operator);
    // Every file archived before 'a' is read: a file migrated after the read would be younger than it.
    const world = w;
    const lanes = (world.hsm as unknown as { lanes: { migrate: { idle(): Promise<void> } } }).lanes;
    for (let pass = 0; pass < 5; pass++) {
      await lanes.migrate.idle();
      const localities = await Promise.all(files.map(async (f) => (await entry(world, `/phys/ana/${f}`)).locality));
      if (localities.every((l) => l === 'disk+archive')) break;
      await w.hsm.migrateNow(w.operator);
    }
    for (const f of files) assert.equal((await entry(w, `/phys/ana/${f}`)).locality, 'disk+archive', `${f} is archived before the purge test starts`);
    // read 'a' so that it is the most recently used one
    await w.read(w.alice, '/phys/ana/a');
    await new Promise((r) => setTimeout(r, 5));
    // a dirty file, not migrated: must stay
    await w.put(w.alice, '/phys/ana/new', randomBytes(1 * MIB));
    assert.equal((await w.storage.diskUsage()).usedBytes, 9 * MIB);
    const report = await (w.hsm as unknown as { lanes: { purge: { kick(): void; idle(): Promise<void> } } }).lanes.purge;
    report.kick();
    await report.idle();
    const status = await w.hsm.status(w.operator);
    assert.ok(status.lastPurge, 'purge ran by itself above the high water mark');
    assert.equal(status.lastPurge.purgedFiles, 3, '9 MiB → 3 MiB ≤ 4 MiB');
    assert.equal((await entry(w, '/phys/ana/a')).locality, 'disk+archive', 'the most recently read file stays');
    assert.equal((await entry(w, '/phys/ana/new')).locality, 'disk', 'the dirty file stays');
    for (const f of ['b', 'c', 'd']) assert.equal((await entry(w, `/phys/ana/${f}`)).locality, 'archive');
  });

  it('disk tier full: the writer gets a clear error, purge runs at once, the write then fits; nothing is lost', async () => {
    w = await hsmWorld(db, { storage: zeroDelay, capacity: 4 * MIB });
    const a = randomBytes(3 * MIB);
    await w.put(w.alice, '/phys/ana/a', a);
    await w.hsm.migrateNow(w.operator);
    const b = randomBytes(2 * MIB);
    await assert.rejects(w.put(w.alice, '/phys/ana/b', b), (error: unknown) => {
      assert.ok(error instanceof KeisanError);
      assert.equal(error.httpStatus, 507);
      assert.match(error.message, /the disk tier is full: \/phys\/ana\/b needs 2\.0 MiB/);
      return true;
    });
    await w.hsm.settle();
    assert.equal((await entry(w, '/phys/ana/a')).locality, 'archive', 'purged below the high water mark because a write needed room');
    await w.put(w.alice, '/phys/ana/b', b);
    assert.equal(sha256(await w.read(w.alice, '/phys/ana/b')), sha256(b));
    await w.storage.remove(w.alice, '/phys/ana/b');
    assert.equal(sha256(await w.read(w.alice, '/phys/ana/a')), sha256(a));
  });

  it('async staging: the first bytes reach the reader well before the whole file is staged', async () => {
    // 4 MiB at 3 MB/s ≈ 1.4 s of transfer
    w = await hsmWorld(db, { storage: zeroDelay, timing: { ...ZERO_TIMING, rateMBps: 3 } });
    const bytes = randomBytes(4 * MIB);
    await w.put(w.alice, '/phys/ana/big', bytes);
    await w.hsm.migrateNow(w.operator);
    await w.hsm.purgeNow(w.operator, { toPct: 0 });
    const started = performance.now();
    const opened = await w.storage.openRead(w.alice, '/phys/ana/big');
    let firstByteMs = -1;
    const chunks: Buffer[] = [];
    for await (const chunk of opened.stream) {
      if (firstByteMs < 0) firstByteMs = performance.now() - started;
      chunks.push(chunk as Buffer);
    }
    const totalMs = performance.now() - started;
    const back = Buffer.concat(chunks);
    assert.equal(sha256(back), sha256(bytes));
    assert.ok(totalMs > 1000, `the stage took ${totalMs} ms`);
    assert.ok(firstByteMs < totalMs / 3, `first byte after ${firstByteMs.toFixed(0)} ms of ${totalMs.toFixed(0)} ms`);
  });

  it('a second reader during a stage joins it (one stage), and both get the same bytes', async () => {
    w = await hsmWorld(db, { storage: zeroDelay, timing: { ...ZERO_TIMING, rateMBps: 8 } });
    const bytes = randomBytes(2 * MIB);
    await w.put(w.alice, '/phys/ana/shared', bytes);
    await w.hsm.migrateNow(w.operator);
    await w.hsm.purgeNow(w.operator, { toPct: 0 });
    const [one, two] = await Promise.all([w.read(w.alice, '/phys/ana/shared'), w.read(w.bob, '/phys/ana/shared')]);
    assert.equal(sha256(one), sha256(bytes));
    assert.equal(sha256(two), sha256(bytes));
    assert.equal(w.logs.filter((l) => l.msg === 'hsm: staged').length, 1, `merged into one stage: ${JSON.stringify(w.logs)}`);
  });

  it('a damaged copy is detected, reported, and the file is served from the other copy; the bad copy is rewritten', async () => {
    w = await hsmWorld(db, { storage: { classes: [{ name: 'default', migrationDelay: 0, copies: 2, purgeHigh: 80, purgeLow: 40, staging: 'sync' }] } });
    const bytes = randomBytes(1 * MIB);
    await w.put(w.alice, '/phys/ana/precious', bytes);
    const m = await w.hsm.migrateNow(w.operator);
    assert.equal(m.copiesWritten, 2);
    await w.hsm.purgeNow(w.operator, { toPct: 0 });
    // flip one byte in copy 1's entry on its volume
    const copies = await db.kysely.selectFrom('fs_copies').selectAll().orderBy('copy_no').execute();
    assert.equal(copies.length, 2);
    assert.notEqual(copies[0]!.volume, copies[1]!.volume, 'copies on disjoint volumes');
    const vol = await open(path.join(w.dir, 'archive', `${copies[0]!.volume}.vol`), 'r+');
    const at = copies[0]!.position + 128 + 1000;
    const b = Buffer.alloc(1);
    await vol.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await vol.write(b, 0, 1, at);
    await vol.close();

    const back = await w.read(w.alice, '/phys/ana/precious');
    assert.equal(sha256(back), sha256(bytes), 'served from copy 2');
    const status = await w.hsm.status(w.operator);
    assert.equal(status.damagedCopies.length, 1);
    assert.equal(status.damagedCopies[0]!.copy, 1);
    assert.ok(w.logs.some((l) => l.level === 'error' && /DAMAGED/.test(l.msg)), 'reported in the log');
    // the file is dirty again: migration writes copy 1 anew, and cleanup removes the bad entry
    assert.equal((await entry(w, '/phys/ana/precious')).dirty, true);
    await w.hsm.migrateNow(w.operator);
    const after = await db.kysely.selectFrom('fs_copies').selectAll().orderBy('copy_no').execute();
    assert.deepEqual(after.map((c) => [c.copy_no, c.obsolete_at]), [[1, null], [2, null]]);
    assert.notEqual(after[0]!.entry + after[0]!.volume, copies[0]!.entry + copies[0]!.volume, 'copy 1 is a new entry');
    assert.equal((await entry(w, '/phys/ana/precious')).dirty, false);
  });

  it('family quota: warns the subgroup admins above the warning level, then refuses writes with a message saying what to do', async () => {
    w = await hsmWorld(db, { storage: { ...zeroDelay, families: [{ name: 'phys.ana', tree: '/phys/ana', quotaWarn: '1M', quotaLimit: '2M' }] } });
    await w.put(w.alice, '/phys/ana/one', randomBytes(900 * 1024));
    await w.hsm.migrateNow(w.operator);
    assert.equal((await w.hsm.listFamilies()).find((f) => f.name === 'phys.ana')?.quotaState, 'ok');
    await w.put(w.alice, '/phys/ana/two', randomBytes(600 * 1024));
    await w.hsm.migrateNow(w.operator);
    const fam = (await w.hsm.listFamilies()).find((f) => f.name === 'phys.ana')!;
    assert.equal(fam.quotaState, 'warn');
    assert.equal(fam.usageBytes, 1500 * 1024);
    const notices = await db.kysely.selectFrom('notifications').selectAll().where('user_name', '=', 'bob').execute();
    assert.equal(notices.length, 1);
    assert.match(notices[0]!.body, /phys\.ana.*above its warning level of 1\.0 MiB/);
    // still writable
    await w.put(w.alice, '/phys/ana/three', randomBytes(600 * 1024));
    await w.hsm.migrateNow(w.operator);
    assert.equal((await w.hsm.listFamilies()).find((f) => f.name === 'phys.ana')?.quotaState, 'refuse');
    await assert.rejects(w.put(w.alice, '/phys/ana/four', randomBytes(10)), (error: unknown) => {
      assert.ok(error instanceof KeisanError);
      assert.equal(error.code, 'FORBIDDEN');
      assert.match(error.message, /phys\.ana.*2\.0 MiB.*refused.*ask the admins of subgroup ana \(bob\)/);
      return true;
    });
    // deleting brings it back under the limit (usage follows deletions, no rescan)
    await w.storage.remove(w.alice, '/phys/ana/three');
    await w.hsm.migrateNow(w.operator); // runs the cleanup of obsolete copies
    const back = (await w.hsm.listFamilies()).find((f) => f.name === 'phys.ana')!;
    assert.equal(back.usageBytes, 1500 * 1024);
    assert.equal(back.quotaState, 'warn');
    await w.put(w.alice, '/phys/ana/four', randomBytes(10));
  });

  it('bulk stage of files on two volumes: merged with a second request, ordered by volume and position, exactly 2 mounts', async () => {
    // volumes of 3 MiB hold two 1 MiB files each (headers included)
    w = await hsmWorld(db, { storage: zeroDelay, volumeCapacity: 2 * MIB + 1024 });
    const names = ['f1', 'f2', 'f3', 'f4'];
    const data = new Map<string, Buffer>();
    for (const n of names) {
      data.set(n, randomBytes(MIB - 512));
      await w.put(w.alice, `/phys/ana/${n}`, data.get(n)!);
    }
    await w.hsm.migrateNow(w.operator);
    const volumes = await w.hsm.volumes(w.operator);
    assert.equal(volumes.filter((v) => v.liveEntries > 0).length, 2);
    await w.hsm.purgeNow(w.operator, { toPct: 0 });
    // an unmounted start: the volume last written is still in the drive
    await w.archive.library.close();
    await w.restart();
    const mountsBefore = w.archive.library.counters.mounts;
    // interleaved volumes in the request, and a second request naming two of the same files
    const r1 = await w.hsm.createStageRequest(w.alice, ['/phys/ana/f4', '/phys/ana/f1', '/phys/ana/f3', '/phys/ana/f2']);
    const r2 = await w.hsm.createStageRequest(w.bob, ['/phys/ana/f2', '/phys/ana/f3']);
    assert.match(r1.id, /^stg-/);
    await w.hsm.settle();
    const s1 = await w.hsm.stageStatus(w.alice, r1.id);
    const s2 = await w.hsm.stageStatus(w.bob, r2.id);
    assert.equal(s1.state, 'COMPLETED');
    assert.equal(s2.state, 'COMPLETED');
    assert.deepEqual(s1.files.map((f) => f.state), ['ON_DISK', 'ON_DISK', 'ON_DISK', 'ON_DISK']);
    assert.equal(w.archive.library.counters.mounts - mountsBefore, 2, 'each volume mounted once');
    assert.equal(w.logs.filter((l) => l.msg === 'hsm: staged').length, 4, 'four stages for six asks');
    for (const n of names) assert.equal(sha256(await w.read(w.alice, `/phys/ana/${n}`)), sha256(data.get(n)!));
    // pinned: a purge leaves them
    const purge = await w.hsm.purgeNow(w.operator, { toPct: 0 });
    assert.equal(purge.purgedFiles, 0);
    // Pinned; a read that has just finished may still hold its lease for a moment, which keeps the file too.
    assert.equal((purge.kept.pinned ?? 0) + (purge.kept.open ?? 0), 4);
    assert.ok((purge.kept.pinned ?? 0) >= 1);
    // others may not see a request
    await assert.rejects(w.hsm.stageStatus(w.bob, r1.id), /does not exist/);
    // a path that is not readable refuses the whole request
    await assert.rejects(w.hsm.createStageRequest(w.alice, ['/phys/ana/f1', '/phys/ana/nope']), /nothing was staged.*nope/);
  });

  it('repack moves live files to a fresh volume, verifies them, retires the old one, and resumes after a restart', async () => {
    w = await hsmWorld(db, { storage: zeroDelay, volumeCapacity: 3 * MIB });
    const keep = new Map<string, Buffer>();
    for (const n of ['k1', 'k2', 'd1', 'd2', 'k3']) {
      const b = randomBytes(700 * 1024);
      keep.set(n, b);
      await w.put(w.alice, `/phys/ana/${n}`, b);
    }
    await w.hsm.migrateNow(w.operator);
    await w.storage.remove(w.alice, '/phys/ana/d1');
    await w.storage.remove(w.alice, '/phys/ana/d2');
    await w.hsm.migrateNow(w.operator); // cleanup: holes on the volume
    const before = await w.hsm.volumes(w.operator);
    const full = before.find((v) => v.state === 'full');
    assert.ok(full, JSON.stringify(before));
    assert.ok(full.holesPct >= 30, `holes ${full.holesPct}%`);
    await w.hsm.purgeNow(w.operator, { toPct: 0 });

    const [job] = await w.hsm.repack(w.operator, { holesPct: 30 });
    assert.ok(job);
    assert.equal(job.volume, full.name);
    // pause right away, restart the HSM (as after a crash), resume
    await w.hsm.repackPause(w.operator);
    await w.hsm.repackIdle();
    await w.restart();
    const paused = await w.hsm.repackStatus(w.operator);
    assert.equal(paused[0]!.state, 'paused');
    await w.hsm.repackResume(w.operator);
    await w.hsm.repackIdle();
    const done = (await w.hsm.repackStatus(w.operator))[0]!;
    assert.equal(done.state, 'done', `${done.error ?? ''} ${JSON.stringify(w.logs.filter((l) => l.level !== 'info'))}`);
    assert.equal(done.filesDone, done.filesTotal);
    const after = await w.hsm.volumes(w.operator);
    assert.equal(after.find((v) => v.name === full.name)?.state, 'retired');
    const copies = await db.kysely.selectFrom('fs_copies').selectAll().execute();
    assert.ok(copies.every((c) => c.volume !== full.name), 'no copy points at the retired volume');
    for (const n of ['k1', 'k2', 'k3']) assert.equal(sha256(await w.read(w.alice, `/phys/ana/${n}`)), sha256(keep.get(n)!), n);
  });
});
