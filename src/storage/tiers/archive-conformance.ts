import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isArchiveChecksumError, type ArchiveBackend, type ArchiveLocation, type ArchiveWriteItem } from './archive.ts';

/**
 * The behaviour every archive backend shares, run against each of them (archive-dir with zero
 * delays, archive-s3 against a real Swift). Backend-specific behaviour is tested beside each.
 */
export interface ConformanceSetup {
  backend: ArchiveBackend;
  /** Damages the stored bytes of a location behind the backend's back (one byte changed). */
  corrupt(location: ArchiveLocation): Promise<void>;
  /** Closes the backend and opens a new instance over the same store. */
  reopen(): Promise<ArchiveBackend>;
  dispose(): Promise<void>;
}

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export function item(fileId: number, bytes: Buffer, overrides: Partial<ArchiveWriteItem> = {}): ArchiveWriteItem {
  return { fileId, size: bytes.length, sha256: sha256(bytes), open: () => Readable.from(chunks(bytes, 64 * 1024)), ...overrides };
}

function* chunks(bytes: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export function describeArchiveConformance(title: string, setup: () => Promise<ConformanceSetup>, skip?: string): void {
  describe(`archive backend conformance: ${title}`, { skip }, () => {
    let ctx: ConformanceSetup;
    let backend: ArchiveBackend;
    const small = randomBytes(1000);
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const empty = Buffer.alloc(0);
    let locations: ArchiveLocation[] = [];

    before(async () => {
      ctx = await setup();
      backend = ctx.backend;
      const results = await backend.write('conf.a', 1, [item(1, small), item(2, big), item(3, empty)]);
      assert.deepEqual(results.map((r) => [r.fileId, r.error]), [[1, undefined], [2, undefined], [3, undefined]]);
      locations = results.map((r) => r.location!);
    });
    after(async () => {
      await ctx?.dispose();
    });

    it('returns a location per file with the length and SHA-256 written', () => {
      assert.deepEqual(locations.map((l) => [l.backend, l.length, l.sha256]), [
        [backend.name, small.length, sha256(small)],
        [backend.name, big.length, sha256(big)],
        [backend.name, 0, sha256(empty)],
      ]);
      assert.equal(new Set(locations.map((l) => `${l.volume}/${l.entry}`)).size, 3, 'each entry has its own address');
    });

    it('reads every file back byte for byte', async () => {
      assert.ok((await collect(await backend.read(locations[0]!))).equals(small));
      assert.ok((await collect(await backend.read(locations[1]!))).equals(big));
      assert.equal((await collect(await backend.read(locations[2]!))).length, 0);
    });

    it('reads byte ranges (start inclusive, end exclusive) from inside an entry', async () => {
      const loc = locations[1]!;
      for (const [start, end] of [[0, 10], [100, 2 * 1024 * 1024 + 5], [big.length - 1, big.length], [4096, 4096], [0, big.length]] as const) {
        const got = await collect(await backend.read(loc, { start, end }));
        assert.ok(got.equals(big.subarray(start, end)), `range ${start}-${end}`);
      }
      await assert.rejects(backend.read(loc, { start: 10, end: big.length + 1 }), /not inside the entry/);
      await assert.rejects(backend.read(loc, { start: 10, end: 5 }), /not inside the entry/);
    });

    it('refuses an item whose bytes do not match its SHA-256 or size, and writes the others', async () => {
      const good = randomBytes(2000);
      const wrongSum = item(11, randomBytes(500), { sha256: sha256(Buffer.from('something else')) });
      const short = item(12, randomBytes(700), { size: 900 });
      const long = item(13, randomBytes(700), { size: 300 });
      const before = await backend.volumes();
      const results = await backend.write('conf.a', 1, [wrongSum, item(14, good), short, long]);
      assert.match(results[0]!.error ?? '', /SHA-256/);
      assert.match(results[2]!.error ?? '', /700 of its 900|ended after/);
      assert.match(results[3]!.error ?? '', /more bytes than its size/);
      assert.equal(results[1]!.error, undefined);
      assert.ok((await collect(await backend.read(results[1]!.location!))).equals(good));
      const entries = (vols: typeof before) => vols.filter((v) => v.family === 'conf.a').reduce((n, v) => n + v.liveEntries, 0);
      assert.equal(entries(await backend.volumes()), entries(before) + 1, 'only the good item became an entry');
    });

    it('refuses a bad family name, copy number or item', async () => {
      await assert.rejects(backend.write('../etc', 1, []), /not a file family name/);
      await assert.rejects(backend.write('conf.a', 0, []), /copy number/);
      const [bad] = await backend.write('conf.a', 1, [{ ...item(15, small), sha256: 'XYZ' }]);
      assert.match(bad!.error ?? '', /not a SHA-256/);
    });

    it('keeps families and copies on separate volumes', async () => {
      const bytes = randomBytes(4096);
      const [c1] = await backend.write('conf.b', 1, [item(21, bytes)]);
      const [c2] = await backend.write('conf.b', 2, [item(21, bytes)]);
      const [other] = await backend.write('conf.c', 1, [item(22, bytes)]);
      const names = [c1!.location!.volume, c2!.location!.volume, other!.location!.volume];
      assert.equal(new Set(names).size, 3, `volumes ${names.join(', ')}`);
      const vols = await backend.volumes();
      const of = (name: string) => vols.find((v) => v.name === name)!;
      assert.deepEqual([of(names[0]!).family, of(names[0]!).copy], ['conf.b', 1]);
      assert.deepEqual([of(names[1]!).family, of(names[1]!).copy], ['conf.b', 2]);
      assert.deepEqual([of(names[2]!).family, of(names[2]!).copy], ['conf.c', 1]);
      const copy1 = new Set(vols.filter((v) => v.family === 'conf.b' && v.copy === 1).map((v) => v.name));
      assert.ok(vols.filter((v) => v.family === 'conf.b' && v.copy === 2).every((v) => !copy1.has(v.name)), 'copies on disjoint volumes');
      assert.ok((await collect(await backend.read(c2!.location!))).equals(bytes));
    });

    it('summarises volumes: entries and bytes, used = live + holes', async () => {
      const bytes = [randomBytes(10_000), randomBytes(20_000)];
      const results = await backend.write('conf.v', 1, bytes.map((b, i) => item(31 + i, b)));
      const vols = (await backend.volumes()).filter((v) => v.family === 'conf.v');
      assert.equal(vols.reduce((n, v) => n + v.liveEntries, 0), 2);
      const live = vols.reduce((n, v) => n + v.liveBytes, 0);
      assert.ok(live >= 30_000 && live < 30_000 + 2 * 4096, `live bytes ${live} ≈ the files' 30 000 (+ headers)`);
      for (const v of vols) {
        assert.equal(v.usedBytes, v.liveBytes + v.holesBytes);
        assert.ok(['empty', 'filling', 'full'].includes(v.state));
      }
      assert.ok(results.every((r) => r.location));
    });

    it('removes an entry: gone from the summary, unreadable, removing again is harmless', async () => {
      const bytes = randomBytes(5000);
      const [r] = await backend.write('conf.r', 1, [item(41, bytes)]);
      const loc = r!.location!;
      const before = (await backend.volumes()).find((v) => v.name === loc.volume)!;
      await backend.remove(loc);
      await backend.remove(loc);
      const afterRemove = (await backend.volumes()).find((v) => v.name === loc.volume);
      assert.equal(afterRemove?.liveEntries ?? 0, before.liveEntries - 1);
      await assert.rejects(async () => collect(await backend.read(loc)), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
    });

    it('refuses to read with a stale location (checksum differs from what was written)', async () => {
      const stale = { ...locations[0]!, sha256: sha256(Buffer.from('not it')) };
      await assert.rejects(async () => collect(await backend.read(stale)), (e: Error & { code?: string }) => e.code === 'CONFLICT' || isArchiveChecksumError(e));
    });

    it('refuses to retire a volume that still holds live entries', async () => {
      await assert.rejects(backend.retire(locations[0]!.volume), (e: Error & { code?: string }) => e.code === 'CONFLICT' && /live/.test(e.message));
    });

    it('detects a damaged byte when reading the whole entry: the stream ends with a checksum error', async () => {
      const bytes = randomBytes(256 * 1024);
      const [r] = await backend.write('conf.x', 1, [item(51, bytes)]);
      const loc = r!.location!;
      await ctx.corrupt(loc);
      await assert.rejects(async () => collect(await backend.read(loc)), (e: unknown) => isArchiveChecksumError(e));
      // The intact neighbours still read.
      assert.ok((await collect(await backend.read(locations[0]!))).equals(small));
    });

    it('lists drives, all free when nothing runs', () => {
      const drives = backend.drives();
      assert.ok(drives.length >= 1);
      assert.ok(drives.every((d) => d.state === 'idle' || d.state === 'empty'), JSON.stringify(drives));
    });

    it('finds everything again after a restart', async () => {
      backend = await ctx.reopen();
      assert.ok((await collect(await backend.read(locations[1]!))).equals(big));
      assert.ok((await collect(await backend.read(locations[0]!, { start: 10, end: 20 }))).equals(small.subarray(10, 20)));
      const [r] = await backend.write('conf.a', 1, [item(61, small)]);
      assert.ok((await collect(await backend.read(r!.location!))).equals(small));
    });
  });
}
