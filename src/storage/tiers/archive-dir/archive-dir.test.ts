import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isArchiveChecksumError, type ArchiveLocation } from '../archive.ts';
import { collect, describeArchiveConformance, item, sha256 } from '../archive-conformance.ts';
import { DirArchive, type DirArchiveOptions } from './index.ts';
import { locateMs, mountMs, rewindMs, unmountMs, ZERO_TIMING, type TapeTiming } from './timing.ts';
import { HEADER_BYTES } from './volume.ts';

const MiB = 1024 * 1024;
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-archive-dir-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function openArchive(options: Partial<DirArchiveOptions> = {}): Promise<DirArchive> {
  const archive = new DirArchive({ path: options.path ?? tempDir(), volumeCapacity: 64 * MiB, drives: 2, timing: ZERO_TIMING, ...options });
  await archive.open();
  return archive;
}

/** Flips one bit of a file at `offset`. */
function flipByte(file: string, offset: number): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] = b[0]! ^ 0x01;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

describeArchiveConformance('archive-dir (zero delays)', async () => {
  const dir = tempDir();
  let backend = await openArchive({ path: dir });
  return {
    backend,
    async corrupt(location) {
      flipByte(path.join(dir, `${location.volume}.vol`), location.position + HEADER_BYTES + Math.floor(location.length / 2));
    },
    async reopen() {
      await backend.close();
      backend = await openArchive({ path: dir });
      return backend;
    },
    dispose: () => backend.close(),
  };
});

describe('archive-dir: tape timing model', () => {
  const timing: TapeTiming = { delays: { mount: 16_000, unmount: 56_000, locate: 65_000, rewind: 62_000, calibration: 2_400_000 }, timeScale: 0.01, rateMBps: 400, calibrateFirstMount: true };

  it('scales LTO-9 delays by the one time-scale factor', () => {
    assert.equal(mountMs(timing, false), 160);
    assert.equal(mountMs(timing, true), 160 + 24_000, 'calibration on the first mount');
    assert.equal(mountMs({ ...timing, calibrateFirstMount: false }, true), 160);
    assert.equal(mountMs({ ...timing, timeScale: 0 }, true), 0);
  });

  it('locates in proportion to the distance, averaging the configured locate time', () => {
    const capacity = 3_000_000;
    assert.equal(locateMs(timing, 0, 1_000_000, capacity), 650, 'a third of the volume = the average distance');
    assert.equal(locateMs(timing, 2_000_000, 1_000_000, capacity), 650, 'backwards too');
    assert.equal(locateMs(timing, 5, 5, capacity), 0);
    // Monte-Carlo check of the mean over uniform start and target.
    let sum = 0;
    let seed = 42;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * capacity;
    for (let i = 0; i < 20_000; i++) sum += locateMs(timing, rand(), rand(), capacity);
    assert.ok(Math.abs(sum / 20_000 - 650) < 20, `mean locate ${sum / 20_000} ms`);
  });

  it('rewinds in proportion to the head position; unmount = rewind + unload', () => {
    assert.equal(rewindMs(timing, 500_000, 1_000_000), 620);
    assert.equal(rewindMs(timing, 0, 1_000_000), 0);
    assert.equal(unmountMs(timing, 1_000_000, 1_000_000), 1240 + 560);
  });
});

describe('archive-dir: the tape library', () => {
  it('honours mount, locate, unmount and calibration delays (model, recorded sleeps)', async () => {
    const sleeps: number[] = [];
    const timing: TapeTiming = { delays: { mount: 10_000, unmount: 20_000, locate: 30_000, rewind: 40_000, calibration: 50_000 }, timeScale: 0.01, rateMBps: 0, calibrateFirstMount: true };
    const capacity = 3 * (HEADER_BYTES + MiB);
    const archive = await openArchive({ volumeCapacity: capacity, drives: 1, timing, sleep: async (ms) => void sleeps.push(ms) });
    const bytes = [randomBytes(MiB), randomBytes(MiB)];
    const results = await archive.write('t.delay', 1, bytes.map((b, i) => item(i + 1, b)));
    // First mount of a new volume: load + calibration; writing starts at 0 (no locate).
    assert.deepEqual(sleeps, [100 + 500]);
    sleeps.length = 0;
    // Reading the first entry: the head is at the end of the second → locate back 2 entries.
    await collect(await archive.read(results[0]!.location!));
    const back = locateMs(timing, 2 * (HEADER_BYTES + MiB), 0, capacity);
    assert.deepEqual(sleeps, [back]);
    assert.ok(Math.abs(back - 600) < 1, `two thirds of the volume = twice the average locate (300 ms): ${back}`);
    sleeps.length = 0;
    // Sequential: the second entry starts where the first ended — no locate.
    await collect(await archive.read(results[1]!.location!));
    assert.deepEqual(sleeps, []);
    // Another volume in the only drive: rewind + unload, then load (no calibration: new volume is calibrated on its first mount).
    const [other] = await archive.write('t.other', 1, [item(9, randomBytes(1000))]);
    const head = 2 * (HEADER_BYTES + MiB);
    assert.deepEqual(sleeps, [rewindMs(timing, head, capacity) + 200, 100 + 500]);
    sleeps.length = 0;
    // Back to the first volume: already calibrated, so a plain load.
    await collect(await archive.read(results[1]!.location!));
    assert.equal(sleeps[1], 100, `plain mount of a calibrated volume: ${sleeps.join(', ')}`);
    assert.ok(other?.location);
    assert.deepEqual(archive.library.counters, { mounts: 3, unmounts: 2, locates: 2 });
    await archive.close();
  });

  it('takes real time for mount + locate with a time scale (tolerant bounds) and honours the rate', async () => {
    // Scaled: mount 100 ms; locate across a third of the volume 100 ms; 2 MB at 10 MB/s ≥ 200 ms.
    const timing: TapeTiming = { delays: { mount: 10_000, unmount: 0, locate: 10_000, rewind: 0, calibration: 0 }, timeScale: 0.01, rateMBps: 0, calibrateFirstMount: false };
    const capacity = 3 * (HEADER_BYTES + MiB);
    const dir = tempDir();
    let archive = await openArchive({ path: dir, volumeCapacity: capacity, drives: 1, timing: ZERO_TIMING });
    const written = await archive.write('t.real', 1, [item(1, randomBytes(MiB)), item(2, randomBytes(MiB))]);
    await archive.close();
    archive = await openArchive({ path: dir, volumeCapacity: capacity, drives: 1, timing });
    let t0 = performance.now();
    await collect(await archive.read(written[1]!.location!, { start: 0, end: 10 }));
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 190 && elapsed < 1500, `mount + locate took ${elapsed.toFixed(0)} ms, expected ≈ 200`);
    await archive.close();

    archive = await openArchive({ path: dir, volumeCapacity: capacity, drives: 1, timing: { ...ZERO_TIMING, rateMBps: 10 } });
    t0 = performance.now();
    const both = await Promise.all(written.map(async (w) => collect(await archive.read(w.location!))));
    const rated = performance.now() - t0;
    assert.equal(both[0]!.length + both[1]!.length, 2 * MiB);
    assert.ok(rated >= 200 && rated < 3000, `2 MiB at 10 MB/s took ${rated.toFixed(0)} ms, expected ≥ 210`);
    await archive.close();
  });

  it('serves 3 requests for 3 volumes on 2 drives: the third waits for a drive, then takes the least recently used', async () => {
    const archive = await openArchive({ drives: 2 });
    const locs: ArchiveLocation[] = [];
    for (const family of ['t.d1', 't.d2', 't.d3']) locs.push((await archive.write(family, 1, [item(1, randomBytes(1000))]))[0]!.location!);
    // Empty the drives so that every read mounts.
    const fresh = await openArchive({ path: archive.root, drives: 2 });
    await archive.close();
    const first = await fresh.read(locs[0]!);
    const second = await fresh.read(locs[1]!);
    let thirdDone = false;
    const third = fresh.read(locs[2]!).then((s) => {
      thirdDone = true;
      return s;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(thirdDone, false, 'the third request waits');
    assert.equal(fresh.library.waiting, 1);
    const busy = fresh.drives();
    assert.deepEqual(busy.map((d) => [d.volume, d.state]), [[locs[0]!.volume, 'reading'], [locs[1]!.volume, 'reading']]);
    assert.match(busy[0]!.activity ?? '', /read of file 1/);
    assert.equal((await fresh.volumes()).find((v) => v.name === locs[0]!.volume)?.mountedIn, 'drive1');
    await collect(second); // drive2 frees first
    const stream = await third;
    assert.deepEqual(fresh.drives().map((d) => d.volume), [locs[0]!.volume, locs[2]!.volume], 'drive2 unmounted its volume for the third');
    await collect(stream);
    await collect(first);
    assert.deepEqual(fresh.library.counters.unmounts, 1);
    assert.ok(fresh.drives().every((d) => d.state === 'idle'));
    await fresh.close();
  });

  it('a request for a volume already in a drive uses that drive without mounting again', async () => {
    const archive = await openArchive({ drives: 2 });
    const [a, b] = await archive.write('t.same', 1, [item(1, randomBytes(1000)), item(2, randomBytes(1000))]);
    const mounts = archive.library.counters.mounts;
    await Promise.all([a, b].map(async (r) => collect(await archive.read(r!.location!))));
    assert.equal(archive.library.counters.mounts, mounts);
    assert.equal(archive.drives().filter((d) => d.volume !== null).length, 1);
    await archive.close();
  });

  it('fills a volume, then continues on the next one; a file larger than a volume is refused', async () => {
    const capacity = 3 * (HEADER_BYTES + MiB) + 100;
    const archive = await openArchive({ volumeCapacity: capacity });
    const files = Array.from({ length: 4 }, () => randomBytes(MiB));
    const results = await archive.write('t.fill', 1, [...files.map((b, i) => item(i + 1, b)), item(9, randomBytes(3 * MiB + 1000))]);
    assert.deepEqual(results.slice(0, 4).map((r) => r.location?.volume), ['VOL000001', 'VOL000001', 'VOL000001', 'VOL000002']);
    assert.match(results[4]!.error ?? '', /larger than an archive volume/);
    const vols = await archive.volumes();
    assert.deepEqual(vols.map((v) => [v.name, v.state, v.liveEntries, v.usedBytes]), [
      ['VOL000001', 'full', 3, 3 * (HEADER_BYTES + MiB)],
      ['VOL000002', 'filling', 1, HEADER_BYTES + MiB],
    ]);
    assert.equal(statSync(path.join(archive.root, 'VOL000001.vol')).size, 3 * (HEADER_BYTES + MiB));
    for (const [i, r] of results.slice(0, 4).entries()) assert.ok((await collect(await archive.read(r.location!))).equals(files[i]!));
    await archive.close();
  });

  it('leaves holes after removals: bytes stay, the volume reports them', async () => {
    const archive = await openArchive();
    const results = await archive.write('t.holes', 1, [item(1, randomBytes(5000)), item(2, randomBytes(7000)), item(3, randomBytes(9000))]);
    const file = path.join(archive.root, 'VOL000001.vol');
    const size = statSync(file).size;
    await archive.remove(results[1]!.location!);
    const [v] = await archive.volumes();
    assert.deepEqual([v!.liveEntries, v!.holesBytes, v!.liveBytes, v!.usedBytes], [2, HEADER_BYTES + 7000, 2 * HEADER_BYTES + 14_000, size]);
    assert.equal(statSync(file).size, size, 'bytes stay until repack');
    // New entries go after everything, never into a hole.
    const [next] = await archive.write('t.holes', 1, [item(4, randomBytes(10))]);
    assert.equal(next!.location!.position, size);
    await archive.close();
    const again = await openArchive({ path: archive.root });
    assert.equal((await again.volumes())[0]!.holesBytes, HEADER_BYTES + 7000, 'holes survive a restart');
    await again.close();
  });

  it('retires a volume once repack emptied it: its space is freed and it is never written again', async () => {
    const capacity = 2 * (HEADER_BYTES + 1000);
    const archive = await openArchive({ volumeCapacity: capacity });
    const results = await archive.write('t.retire', 1, [item(1, randomBytes(1000)), item(2, randomBytes(1000)), item(3, randomBytes(1000))]);
    assert.deepEqual(results.map((r) => r.location!.volume), ['VOL000001', 'VOL000001', 'VOL000002']);
    await assert.rejects(archive.retire('VOL000001'), /2 live entries/);
    for (const r of results.slice(0, 2)) await archive.remove(r.location!);
    await archive.retire('VOL000001');
    await archive.retire('VOL000001'); // again: nothing to do
    assert.equal(existsSync(path.join(archive.root, 'VOL000001.vol')), false);
    const v1 = (await archive.volumes())[0]!;
    assert.deepEqual([v1.state, v1.usedBytes, v1.holesBytes, v1.mountedIn], ['retired', 0, 0, null]);
    assert.ok(archive.drives().every((d) => d.volume !== 'VOL000001'), 'unmounted');
    await assert.rejects(archive.read(results[0]!.location!), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
    await archive.close();
    const again = await openArchive({ path: archive.root, volumeCapacity: capacity });
    assert.equal((await again.volumes())[0]!.state, 'retired');
    const [more] = await again.write('t.retire', 1, [item(4, randomBytes(10))]);
    assert.equal(more!.location!.volume, 'VOL000002');
    await assert.rejects(again.retire('VOL000009'), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
    await again.close();
  });

  it('detects a damaged entry header before streaming', async () => {
    const archive = await openArchive();
    const [r] = await archive.write('t.hdr', 1, [item(1, randomBytes(2000))]);
    flipByte(path.join(archive.root, 'VOL000001.vol'), r!.location!.position + 20);
    await assert.rejects(archive.read(r!.location!), (e: unknown) => isArchiveChecksumError(e) && /header/.test((e as Error).message));
    assert.ok(archive.drives().every((d) => d.state !== 'reading'), 'the drive is released');
    await archive.close();
  });

  it('refuses a directory another live process holds', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'LOCK'), '1\n'); // PID 1 is always alive
    await assert.rejects(openArchive({ path: dir }), /in use by process 1/);
  });
});

describe('archive-dir: crash safety', () => {
  it('drops bytes written without a journal record and a torn journal line; the next write starts cleanly', async () => {
    const archive = await openArchive();
    const keep = randomBytes(50_000);
    const [r] = await archive.write('t.crash', 1, [item(1, keep)]);
    await archive.close();
    const vol = path.join(archive.root, 'VOL000001.vol');
    const end = statSync(vol).size;
    // A crash mid-write: a header and half the data on the volume, and a torn journal record.
    appendFileSync(vol, randomBytes(HEADER_BYTES + 30_000));
    appendFileSync(path.join(archive.root, 'VOL000001.idx'), '{"t":"entry","id":2,"pos":');
    const again = await openArchive({ path: archive.root });
    assert.deepEqual(again.recovered, [{ volume: 'VOL000001', droppedBytes: HEADER_BYTES + 30_000 }]);
    assert.equal(statSync(vol).size, end);
    const [v] = await again.volumes();
    assert.deepEqual([v!.liveEntries, v!.usedBytes, v!.holesBytes], [1, end, 0]);
    const next = randomBytes(1234);
    const [n] = await again.write('t.crash', 1, [item(2, next)]);
    assert.deepEqual([n!.location!.position, n!.location!.entry], [end, '2']);
    assert.ok((await collect(await again.read(r!.location!))).equals(keep));
    assert.ok((await collect(await again.read(n!.location!))).equals(next));
    await again.close();
    const third = await openArchive({ path: archive.root });
    assert.deepEqual(third.recovered, []);
    assert.equal(readFileSync(path.join(archive.root, 'VOL000001.idx'), 'utf8').trim().split('\n').length, 1 + 1 + 1 + 1, 'label, calibrated, two entries');
    await third.close();
  });

  it('survives kill -9 of a process in the middle of writing: committed entries stay, the half-written one is gone', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./crash-child.ts', import.meta.url)), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      const deadline = Date.now() + 30_000;
      const vol = path.join(dir, 'VOL000001.vol');
      // Wait until the first entry is committed and the second has put bytes on the volume.
      while (Date.now() < deadline) {
        const committed = /committed (\{.*\})/.exec(out);
        if (committed && existsSync(vol)) {
          const first = JSON.parse(committed[1]!) as { position: number; length: number };
          if (statSync(vol).size > first.position + HEADER_BYTES + first.length + HEADER_BYTES + 2 * MiB) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(Date.now() < deadline, `the child did not start writing: ${out}`);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const committed = JSON.parse(/committed (\{.*\})/.exec(out)![1]!) as ArchiveLocation;
    const archive = await openArchive({ path: dir });
    assert.equal(archive.recovered.length, 1);
    assert.ok(archive.recovered[0]!.droppedBytes > 2 * MiB);
    const [v] = await archive.volumes();
    assert.deepEqual([v!.liveEntries, v!.usedBytes], [1, HEADER_BYTES + committed.length]);
    const back = await collect(await archive.read(committed));
    assert.equal(sha256(back), committed.sha256);
    const [next] = await archive.write('t.kill', 1, [item(3, randomBytes(100))]);
    assert.equal(next!.location!.position, HEADER_BYTES + committed.length);
    await archive.close();
  });
});
