import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import type { ArchiveBackend } from '../tiers/archive.ts';
import { packContainers } from './migrate.ts';
import { hsmWorld, sha256, type HsmWorld } from './testing.ts';

const KIB = 1024;
const MIB = 1024 * KIB;
const HEADER = 128; // archive-dir's entry header
const containerClass = (copies: number) => ({
  classes: [{ name: 'default', migrationDelay: '1h', copies, purgeHigh: 80, purgeLow: 40, staging: 'sync', aggregateBelow: '256K', containerSize: '1M' }],
});

describe('packContainers', () => {
  const cos = { name: 'default', aggregateBelowBytes: 100, containerSizeBytes: 250 };
  it('packs small files up to the container size, leaves large ones and lone ones as plain entries', () => {
    const items = [60, 500, 70, 80, 90, 100, 10].map((size, i) => ({ fileId: i + 1, size }));
    const { singles, containers } = packContainers(items, () => cos);
    assert.deepEqual(containers.map((c) => c.map((i) => i.fileId)), [[1, 3, 4], [5, 7]]);
    assert.deepEqual(singles.map((i) => i.fileId).sort(), [2, 6], '500 and 100 are not below 100');
    assert.deepEqual(packContainers(items, () => ({ ...cos, aggregateBelowBytes: 0 })).containers, [], '0 = off');
    assert.deepEqual(packContainers([{ fileId: 1, size: 5 }], () => cos), { singles: [{ fileId: 1, size: 5 }], containers: [] }, 'a container of one is a plain entry');
    assert.deepEqual(packContainers(items, () => cos, 150).containers.map((c) => c.map((i) => i.fileId)), [[1, 3], [5, 7]], 'the volume limit caps containers');
  });
});

describeEachDatabase('HSM containers', (database) => {
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

  const idOf = async (name: string) => (await db.kysely.selectFrom('fs_entries').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;

  async function putMany(world: HsmWorld, n: number, prefix: string): Promise<Map<string, Buffer>> {
    const files = new Map<string, Buffer>();
    for (let i = 0; i < n; i++) {
      const b = randomBytes(1 + ((i * 7919) % (16 * KIB)));
      const p = `/phys/ana/${prefix}${i}`;
      files.set(p, b);
      await world.put(world.alice, p, b);
    }
    return files;
  }

  it('200 small files go into a handful of containers per copy and read back exactly after purge; a damaged member is served from the other copy', async () => {
    w = await hsmWorld(db, { storage: containerClass(2), volumeCapacity: 8 * MIB });
    const files = await putMany(w, 200, 'f');
    // migrationDelay 1h: nothing migrates in the background; `migrate --now` takes every dirty file
    const report = await w.hsm.migrateNow(w.operator);
    assert.deepEqual(report.failed, []);
    assert.equal(report.files, 200);
    assert.equal(report.copiesWritten, 400);
    assert.equal((await db.kysely.selectFrom('fs_copies').selectAll().where('obsolete_at', 'is', null).execute()).length, 400);
    assert.equal((await db.kysely.selectFrom('fs_entries').selectAll().where('kind', '=', 'file').where('dirty', '=', 1).execute()).length, 0);
    const volumes = await w.hsm.volumes(w.operator);
    const entries = volumes.reduce((s, v) => s + v.liveEntries, 0);
    const containers = volumes.reduce((s, v) => s + v.containers, 0);
    assert.ok(entries <= 10, `${entries} archive entries for 400 copies`);
    assert.equal(containers, entries, 'every entry is a container');
    assert.equal(volumes.reduce((s, v) => s + v.containerMembers, 0), 400);
    const status = await w.hsm.status(w.operator);
    assert.equal(status.containers.members, 400);
    assert.equal(status.containers.entries, entries);
    const bytes = [...files.values()].reduce((s, b) => s + b.length, 0);
    assert.equal(status.containers.bytes, 2 * bytes);
    const usage = (await w.hsm.listFamilies()).find((f) => f.name === 'phys.ana')!;
    assert.equal(usage.usageBytes, bytes, 'family usage counts the members\' bytes, once per file');

    const purged = await w.hsm.purgeNow(w.operator, { toPct: 0 });
    assert.equal(purged.purgedFiles, 200);
    const started = Date.now();
    for (const [p, b] of files) assert.equal(sha256(await w.read(w.alice, p)), sha256(b), p);
    const readMs = Date.now() - started;
    process.stdout.write(`[${database.dialect}] ${entries} entries for 400 copies of 200 files; read back 200 members after purge in ${readMs} ms\n`);

    // Flip a byte inside one member of a copy-1 container on the volume file.
    await w.hsm.purgeNow(w.operator, { toPct: 0 });
    const victim = '/phys/ana/f77';
    const fileId = await idOf('f77');
    const rows = await db.kysely.selectFrom('fs_copies').selectAll().where('file_id', '=', fileId).orderBy('copy_no').execute();
    assert.equal(rows.length, 2);
    const c1 = rows[0]!;
    assert.notEqual(c1.container_offset, null);
    const vol = await open(path.join(w.dir, 'archive', `${c1.volume}.vol`), 'r+');
    const at = c1.position + HEADER + c1.container_offset! + Math.floor(c1.length / 2);
    const b = Buffer.alloc(1);
    await vol.read(b, 0, 1, at);
    assert.equal(b[0], files.get(victim)![Math.floor(c1.length / 2)], 'the member is where the catalogue says');
    b[0] = b[0]! ^ 0xff;
    await vol.write(b, 0, 1, at);
    await vol.close();
    assert.equal(sha256(await w.read(w.alice, victim)), sha256(files.get(victim)!), 'served from copy 2');
    const damaged = (await w.hsm.status(w.operator)).damagedCopies;
    assert.deepEqual(damaged.map((d) => [d.fileId, d.copy]), [[fileId, 1]]);
    // the other members of that container are fine
    const neighbours = await db.kysely.selectFrom('fs_copies').select('file_id').where('volume', '=', c1.volume).where('entry', '=', c1.entry).where('obsolete_at', 'is', null).execute();
    assert.ok(neighbours.length > 10);
    for (const n of neighbours.slice(0, 10)) {
      const p = `/phys/ana/${(await db.kysely.selectFrom('fs_entries').select('name').where('id', '=', n.file_id).executeTakeFirstOrThrow()).name}`;
      assert.equal(sha256(await w.read(w.alice, p)), sha256(files.get(p)!), p);
    }
    // the damaged member is rewritten (a plain entry: it is alone); the container entry stays for its other members
    await w.hsm.migrateNow(w.operator);
    const after = await db.kysely.selectFrom('fs_copies').selectAll().where('file_id', '=', fileId).orderBy('copy_no').execute();
    assert.deepEqual(after.map((c) => [c.copy_no, c.obsolete_at]), [[1, null], [2, null]]);
    assert.notEqual(after[0]!.entry + after[0]!.volume, c1.entry + c1.volume);
    assert.ok((await w.hsm.volumes(w.operator)).some((v) => v.name === c1.volume && v.containers > 0));
  });

  it('one copy: a damaged member fails the read with a clear error; the rest of the container reads', async () => {
    w = await hsmWorld(db, { storage: containerClass(1), volumeCapacity: 8 * MIB });
    const files = await putMany(w, 20, 'g');
    await w.hsm.migrateNow(w.operator);
    await w.hsm.purgeNow(w.operator, { toPct: 0 });
    const fileId = await idOf('g5');
    const c = (await db.kysely.selectFrom('fs_copies').selectAll().where('file_id', '=', fileId).execute())[0]!;
    assert.notEqual(c.container_offset, null);
    const vol = await open(path.join(w.dir, 'archive', `${c.volume}.vol`), 'r+');
    await vol.write(Buffer.from([0x42 ^ files.get('/phys/ana/g5')![0]!]), 0, 1, c.position + HEADER + c.container_offset!);
    await vol.close();
    await assert.rejects(w.read(w.alice, '/phys/ana/g5'), /could not be staged|damaged|SHA-256/);
    for (const n of [4, 6]) assert.equal(sha256(await w.read(w.alice, `/phys/ana/g${n}`)), sha256(files.get(`/phys/ana/g${n}`)!));
  });

  it('deleting members leaves holes inside the container; repack rebuilds it from the live members, verified, and retires the volume', async () => {
    w = await hsmWorld(db, { storage: containerClass(1), volumeCapacity: 4 * MIB });
    const files = await putMany(w, 120, 'h');
    await w.hsm.migrateNow(w.operator);
    // a large file that does not fit ends the volume (full)
    await w.put(w.alice, '/phys/ana/big', randomBytes(3.5 * MIB));
    await w.hsm.migrateNow(w.operator);
    const before = await w.hsm.volumes(w.operator);
    const full = before.find((v) => v.state === 'full' && v.containers > 0);
    assert.ok(full, JSON.stringify(before));
    for (let i = 0; i < 120; i += 2) {
      await w.storage.remove(w.alice, `/phys/ana/h${i}`);
      files.delete(`/phys/ana/h${i}`);
    }
    await w.hsm.migrateNow(w.operator); // cleanup of the removed members' rows
    const holed = (await w.hsm.volumes(w.operator)).find((v) => v.name === full.name)!;
    assert.equal(holed.containerMembers, 60);
    assert.ok(holed.holesPct >= 30, `holes inside containers count: ${holed.holesPct}%`);
    assert.equal(holed.liveEntries, full.liveEntries, 'the container entries stay while a member lives');
    await w.hsm.purgeNow(w.operator, { toPct: 0 });

    const [job] = await w.hsm.repack(w.operator, { volume: full.name });
    assert.ok(job);
    assert.equal(job.filesTotal, 60);
    await w.hsm.repackIdle();
    const done = (await w.hsm.repackStatus(w.operator))[0]!;
    assert.equal(done.state, 'done', `${done.error ?? ''} ${JSON.stringify(w.logs.filter((l) => l.level !== 'info'))}`);
    assert.equal(done.filesDone, 60);
    const after = await w.hsm.volumes(w.operator);
    assert.equal(after.find((v) => v.name === full.name)?.state, 'retired');
    const rebuilt = after.filter((v) => v.state !== 'retired' && v.containers > 0);
    assert.equal(rebuilt.reduce((s, v) => s + v.containerMembers, 0), 60);
    assert.ok(rebuilt.every((v) => v.holesBytes === 0), 'rebuilt containers hold only live members');
    for (const [p, b] of files) assert.equal(sha256(await w.read(w.alice, p)), sha256(b), p);
  });

  it('a container whose write did not complete is never recorded; the next run writes it', async () => {
    w = await hsmWorld(db, { storage: containerClass(1), volumeCapacity: 8 * MIB });
    const files = await putMany(w, 30, 'k');
    const archive = w.archive as ArchiveBackend;
    const realWrite = archive.write.bind(archive);
    archive.write = async (family, copy, items, progress) => {
      // the backend dies half-way through the container's bytes
      const stream = items[0]!.open();
      let seen = 0;
      for await (const piece of stream) {
        seen += (piece as Buffer).length;
        if (seen > items[0]!.size / 2) break;
      }
      void family;
      void copy;
      void progress;
      throw new Error('drive failure in the middle of the container');
    };
    const failed = await w.hsm.migrateNow(w.operator);
    assert.equal(failed.copiesWritten, 0);
    assert.equal(failed.failed.length, 30);
    assert.equal((await db.kysely.selectFrom('fs_copies').selectAll().execute()).length, 0, 'nothing recorded');
    for (const p of files.keys()) assert.equal((await w.storage.stat(w.alice, p)).dirty, true);
    archive.write = realWrite;
    await w.restart(); // as after a crash: the run starts again
    const again = await w.hsm.migrateNow(w.operator);
    assert.equal(again.copiesWritten, 30);
    await w.hsm.purgeNow(w.operator, { toPct: 0 });
    for (const [p, b] of files) assert.equal(sha256(await w.read(w.alice, p)), sha256(b), p);
  });
});
