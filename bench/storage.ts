/**
 * Storage benchmark (notes/storage.md §7, goals G1, G2, G3, G6, G9): every Keisan figure beside
 * its raw baseline measured in the same run on the same machine and filesystem, with the ratio.
 *
 *   npm run bench:storage                     # everything (a few minutes); table on stdout, progress on stderr
 *   npm run bench:storage -- --quick          # small sizes, to try the harness (not results)
 *   npm run -s bench:storage -- --json        # one JSON document on stdout instead of the tables
 *   npm run bench:storage -- --only=hsm,ttfb,namespace,mixed   # some parts only
 *   npm run bench:storage -- --check          # also exit 2 when a goal is missed
 *
 * Options [defaults]: --file-mb=N [256] size of each migrated/staged file (MiB; 2 files);
 * --mixed-mb=N [256] size of each file of the mixed readers/writers benchmark (MiB);
 * --procs=2,4 [2,4] readers (and as many writers) per mixed run; --ttfb-samples=N [20];
 * --no-postgres (namespace on SQLite only); --creates=N [20000] --stats=N [200000] (namespace).
 *
 * The parts:
 *
 * 1. hsm (G1, G2) — the real HSM in this process (StorageService + HsmService + the archive-dir
 *    backend with zero mount/locate delays and no rate limit, but its real write and read path:
 *    1 MiB writes, SHA-256 of every byte, fdatasync, journal record fsynced; SQLite file
 *    database with the server's settings; disk tier with fsync on). Two files of --file-mb MiB:
 *    - migration = `migrateNow` (plan, read the disk copy, write + hash + sync the archive entry,
 *      record the copy) ÷ wall time; twice: copy 1, then copy 2 of the same files (the class
 *      changed to 2 copies, the files marked dirty); the median of the two;
 *    - staging = `stager.stageFile` + its end (archive read verified by the backend, write to the
 *      disk tier, fsync, disk copy made complete) for both files after a purge; twice, median;
 *    - async read = the same stage driven by a reader (`openRead` of an archive-only file,
 *      stream consumed to its end, which comes only after the stage is verified), compared with
 *      the staging rate.
 *    Raw baseline: a Node stream copy (createReadStream 1 MiB → createWriteStream) + fsync of the
 *    same bytes (the disk-tier files for migration, the copy-1 volume file for staging) to the
 *    same filesystem, twice before and twice after each Keisan run; the median is used. Every
 *    timed step, raw or Keisan, starts after a sync(1) and a 2 s pause (see syncAll: this VM's
 *    balloon hands freed pages back to the host, and a write that can reuse pages freed a moment
 *    before runs much faster than one faulting in fresh pages).
 *    Every source was just written, so every read — Keisan's and raw — comes from the page cache.
 * 2. ttfb (G3) — time to first byte of reads of archive-only files (stage on open, async) with
 *    the archive-dir's LTO-9 delays × timeScale 0.02 (mount 320 ms; locate ∝ distance, 65 s
 *    average, here 8–150 ms), no rate limit, one volume per sample (a file family each) and as
 *    many drives as volumes, the volumes unmounted (a fresh library) so that every read mounts
 *    and locates. The backend does not report its delays, so the benchmark passes the archive a
 *    `sleep` that records every delay the drives take (mount, locate, unmount, rate pacing — none
 *    here); per sample, overhead = TTFB − the delays recorded before the first byte, and the
 *    recorded delays are printed (each sample must start with exactly one mount of the model's
 *    `mountMs`, then the locates). Also the TTFB of files on the disk tier (service level here,
 *    over HTTP in part 4). Measured at the service level: `openRead` → first chunk.
 * 3. namespace (G6) — bench/storage-namespace.ts (`measureNamespace`): creates and stats per
 *    second at the service level beside raw writeFileSync/statSync.
 * 4. mixed (G9, the reference design's own benchmark scaled to this box) — N reader and N writer
 *    processes at once, 64 KiB records, one --mixed-mb MiB file each: per-process read and write
 *    MB/s, aggregate MB/s, client CPU % (process.cpuUsage of each client ÷ its wall time), and the
 *    server's CPU. Keisan: a real `keisan server` (bin/keisan.js) in a temporary data directory,
 *    driven over HTTP with a user's bearer ticket: readers GET /api/fs/content of files on the
 *    disk tier; writers POST /api/fs/uploads, PUT 8 MiB chunks (as `keisan fs put` does) written
 *    as 64 KiB records, then commit (the server hashes, fsyncs and renames). No client-side
 *    SHA-256 (optional in the API). Migration is held back (class delay 24 h) so only the client
 *    path is measured. Raw: the same processes with readSync/writeSync of 64 KiB records on plain
 *    files in the same filesystem, fsync at the end of each written file. Reads come from the
 *    page cache in both (no drop_caches on a shared machine). Reference figures (notes §4) are
 *    printed beside: 31.6 MB/s read + 14.8 MB/s write per process × 10, 464 MB/s aggregate,
 *    client CPU 16 %.
 *
 * Environment: KEISAN_BENCH_SERVER_ARGS, extra node options for the keisan server of part 4
 * (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`); KEISAN_BENCH_HRTIME=1 adds the monotonic clock
 * (µs, as in CPU profiles) to the progress lines.
 *
 * Everything runs in one temporary directory (removed at the end, also on errors and Ctrl-C);
 * every process started is stopped. Peak disk use ≈ 4 × --file-mb (part 1) and 4 × N × --mixed-mb
 * (part 4) MiB.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { open as openFile, rm, stat, unlink } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { SYSTEM_ACTOR, type Actor } from '../src/accounts/model.ts';
import { AccountsService } from '../src/accounts/service.ts';
import { CgroupTree, detectCgroupLayout } from '../src/batch/executors/local/cgroups.ts';
import { openDatabase, type Db } from '../src/db/connection.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { systemClock } from '../src/lib/clock.ts';
import { parseSettings, type Settings } from '../src/lib/config.ts';
import { initTestDataDir } from '../src/server/testing.ts';
import type { HsmLogger } from '../src/storage/hsm/context.ts';
import { HsmService } from '../src/storage/hsm/service.ts';
import { openStorage } from '../src/storage/runtime.ts';
import type { StorageService } from '../src/storage/service.ts';
import { DirArchive, LTO9_DELAYS, ZERO_TIMING, type TapeTiming } from '../src/storage/tiers/archive-dir/index.ts';
import { mountMs } from '../src/storage/tiers/archive-dir/timing.ts';
import { bestOf, measureNamespace, NAMESPACE_GOALS, type NamespaceResult } from './storage-namespace.ts';

const BENCH_FILE = fileURLToPath(import.meta.url);
const REPO_ROOT = path.resolve(path.dirname(BENCH_FILE), '..');
const KEISAN_BIN = path.join(REPO_ROOT, 'bin', 'keisan.js');
const MiB = 1024 * 1024;
const MB = 1e6;
const RECORD = 64 * 1024;
const PUT_CHUNK = 8 * MiB;

/** notes/storage.md §7. */
const GOALS = {
  /** G1: migration ≥ 85 % of raw copy + fsync (files ≥ 256 MB). */
  migrationRatio: 0.85,
  /** G2: staging, as G1. */
  stagingRatio: 0.85,
  /** G3: byte 0 within mount + locate + 50 ms (p99); reader at ≥ 95 % of the staging rate; on-disk ≤ 5 ms p99. */
  ttfbOverheadP99Ms: 50,
  readerVsStaging: 0.95,
  ttfbDiskP99Ms: 5,
  /** G6 */
  ...NAMESPACE_GOALS,
  /** G9: aggregate ≥ 70 % of the raw mixed baseline; HSM (server) CPU ≤ 1 core. */
  mixedAggregateRatio: 0.7,
  serverCores: 1,
};
const REFERENCE = { readMBps: 31.6, writeMBps: 14.8, processes: 10, aggregateMBps: 464, clientCpuPct: 16 };

// ============================================================================ options

interface Options {
  json: boolean;
  check: boolean;
  quick: boolean;
  parts: Set<string>;
  fileMiB: number;
  mixedMiB: number;
  procs: number[];
  ttfbSamples: number;
  postgres: boolean;
  creates: number;
  stats: number;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = argv.includes('--quick');
  const number = (name: string, fallback: number) => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}=${v}: give a positive number`);
    return n;
  };
  const only = value('only');
  const parts = new Set(only ? only.split(',') : ['hsm', 'ttfb', 'namespace', 'mixed']);
  for (const p of parts) if (!['hsm', 'ttfb', 'namespace', 'mixed'].includes(p)) throw new Error(`--only: unknown part '${p}' (hsm, ttfb, namespace, mixed)`);
  return {
    json: argv.includes('--json'),
    check: argv.includes('--check'),
    quick,
    parts,
    fileMiB: number('file-mb', quick ? 32 : 256),
    mixedMiB: number('mixed-mb', quick ? 32 : 256),
    procs: (value('procs') ?? (quick ? '2' : '2,4')).split(',').map(Number),
    ttfbSamples: number('ttfb-samples', quick ? 5 : 20),
    postgres: !argv.includes('--no-postgres') && !quick,
    creates: number('creates', quick ? 2000 : 20_000),
    stats: number('stats', quick ? 20_000 : 200_000),
  };
}

const log = (text: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}${process.env.KEISAN_BENCH_HRTIME ? ` ${process.hrtime.bigint() / 1000n}` : ''}] ${text}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const now = () => performance.timeOrigin + performance.now();

function percentile(values: number[], p: number): number {
  // Nearest rank: with 20 samples p99 is the largest.
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

// ============================================================================ cleanup

const cleanups: Array<{ what: string; run: () => Promise<void> | void }> = [];
const children = new Set<ChildProcess>();

async function runCleanups(): Promise<void> {
  while (cleanups.length) {
    const c = cleanups.pop()!;
    try {
      await c.run();
    } catch (error) {
      log(`cleanup of ${c.what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

// ============================================================================ raw baselines

/**
 * Before every timed step, raw or Keisan: writes back every dirty page of the machine (sync(1)),
 * so that no step pays for another's writeback, then pauses 2 s. The pause is for this VM's
 * memory balloon, which reports free pages back to the host after about a second: a step that
 * writes right after another freed its page cache reuses those pages and runs up to 2-3 times
 * faster than one that has to fault in fresh ones. After the pause every step starts alike.
 */
async function syncAll(): Promise<void> {
  spawnSync('sync', [], { stdio: 'ignore', timeout: 120_000 });
  await sleep(2000);
}

/**
 * Node stream copy (1 MiB chunks) + fsync of each source to `dir`; returns bytes per second. The
 * copies are removed afterwards. `times` copies, each after a sync(1).
 */
async function rawCopies(sources: string[], dir: string, times: number): Promise<number[]> {
  const rates: number[] = [];
  for (let i = 0; i < times; i++) {
    await syncAll();
    rates.push(await rawCopy(sources, dir));
  }
  return rates;
}

async function rawCopy(sources: string[], dir: string): Promise<number> {
  let bytes = 0;
  const targets: string[] = [];
  const started = performance.now();
  for (const [i, source] of sources.entries()) {
    const target = path.join(dir, `raw-copy-${i}`);
    targets.push(target);
    await pipeline(fs.createReadStream(source, { highWaterMark: MiB }), fs.createWriteStream(target));
    const fh = await openFile(target, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    bytes += (await stat(target)).size;
  }
  const seconds = (performance.now() - started) / 1000;
  for (const t of targets) await unlink(t);
  return bytes / seconds;
}

// ============================================================================ the in-process HSM

interface Rig {
  settings: Settings;
  db: Db;
  storage: StorageService;
  archive: DirArchive;
  hsm: HsmService;
  alice: Actor;
  oper: Actor;
  dataDir: string;
  problems: string[];
  put(path: string, bytes: number, block: Buffer): Promise<number>;
  /** Closes the HSM and the archive and opens them again with other archive options (a fresh library: every drive empty). */
  reopenArchive(options: { timing: TapeTiming; drives: number; volumeCapacity: number; sleep?: (ms: number) => Promise<void> }): Promise<void>;
  close(): Promise<void>;
}

async function hsmRig(dataDir: string, families: Array<{ name: string; tree: string }>): Promise<Rig> {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = openDatabase('sqlite:', { dataDir });
  await migrateToLatest(db);
  const settings = parseSettings(
    {
      accounts: { passwordHash: { cost: 1024 } },
      storage: {
        disk: { fsync: true },
        // Migration only when asked (migrateNow); purge only when asked.
        classes: [{ name: 'default', migrationDelay: '24h', copies: 1, purgeHigh: 99, purgeLow: 98 }],
        families,
      },
    },
    'bench',
  );
  const accounts = new AccountsService(db.kysely, settings, systemClock);
  await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'phys' });
  await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'phys', name: 'ana' });
  await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'ana', password: 'alice password' });
  await accounts.createUser(SYSTEM_ACTOR, { name: 'oper', primarySubgroup: 'ana', password: 'oper password', operator: true });
  const actorOf = async (name: string) => {
    const row = await db.kysely.selectFrom('users').select('id').where('name', '=', name).executeTakeFirstOrThrow();
    return accounts.actorFor(row.id, '127.0.0.1');
  };
  const problems: string[] = [];
  const logger: HsmLogger = {
    info: () => undefined,
    warn: (obj, msg) => problems.push(`warn: ${msg} ${JSON.stringify(obj)}`),
    error: (obj, msg) => problems.push(`error: ${msg} ${JSON.stringify(obj)}`),
  };
  const opened = await openStorage({ settings, dataDir, db: db.kysely, ...(db.sqlite ? { sqlite: db.sqlite } : {}), clock: systemClock, accounts });
  const storage = opened.service;
  await storage.start({ sweepOrphans: false });
  const archivePath = path.join(dataDir, 'archive');
  const makeHsm = (archive: DirArchive) => new HsmService({ db: db.kysely, clock: systemClock, settings, accounts, storage, archive, mail: null, logger, checkIntervalMs: 3_600_000 });
  let archive = new DirArchive({ path: archivePath, volumeCapacity: 4 * 1024 * MiB, drives: 2, timing: ZERO_TIMING });
  await archive.open();
  let hsm = makeHsm(archive);
  await hsm.start();
  const alice = await actorOf('alice');
  const rig: Rig = {
    settings,
    db,
    storage,
    archive,
    hsm,
    alice,
    oper: await actorOf('oper'),
    dataDir,
    problems,
    async put(filePath, bytes, block) {
      const upload = await storage.createUpload(alice, { path: filePath, size: bytes });
      async function* body(): AsyncGenerator<Buffer> {
        for (let at = 0; at < bytes; at += MiB) {
          const n = Math.min(MiB, bytes - at);
          const offset = at % block.length;
          yield offset + n <= block.length ? block.subarray(offset, offset + n) : Buffer.concat([block.subarray(offset), block.subarray(0, n - (block.length - offset))]);
        }
      }
      await storage.writeChunk(alice, upload.id, 0, body());
      const entry = await storage.commitUpload(alice, upload.id, {});
      return (await storage.fileAt(entry.path))!.id;
    },
    async reopenArchive(options) {
      await rig.hsm.close();
      await rig.archive.close();
      archive = new DirArchive({ path: archivePath, ...options });
      await archive.open();
      rig.archive = archive;
      hsm = makeHsm(archive);
      rig.hsm = hsm;
      await hsm.start();
    },
    async close() {
      await rig.hsm.close();
      await rig.archive.close();
      await opened.close();
      await db.close();
    },
  };
  return rig;
}

async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

/** Purges every purgeable disk copy (retrying briefly while leases of finished reads expire). */
async function purgeAll(rig: Rig, expected: number): Promise<void> {
  await rig.hsm.settle();
  let purged = 0;
  for (let i = 0; i < 50 && purged < expected; i++) {
    purged += (await rig.hsm.purgeNow(rig.oper, { toPct: 0 })).purgedFiles;
    if (purged < expected) await sleep(100);
  }
  if (purged < expected) throw new Error(`purge freed ${purged} of ${expected} files`);
}

interface HsmResult {
  fileBytes: number;
  files: number;
  /** keisanMBps: the median of the runs; ratio: to the median of the raw copies. */
  migration: { keisanMBps: number; runsMBps: number[]; rawMBps: number[]; ratio: number };
  staging: { keisanMBps: number; runsMBps: number[]; rawMBps: number[]; ratio: number };
  asyncRead: { keisanMBps: number; runsMBps: number[]; vsStaging: number };
  diskTtfb: { samples: number[]; p50: number; p99: number };
  problems: string[];
}

async function hsmPart(o: Options, scratch: string): Promise<HsmResult> {
  const dir = path.join(scratch, 'hsm');
  const rawDir = path.join(scratch, 'hsm-raw');
  fs.mkdirSync(rawDir, { recursive: true });
  const rig = await hsmRig(dir, []);
  cleanups.push({ what: 'the in-process HSM (part hsm)', run: () => rig.close() });
  try {
    const size = o.fileMiB * MiB;
    const block = randomBytes(16 * MiB);
    const files = ['/phys/ana/big/f1.dat', '/phys/ana/big/f2.dat'];
    await rig.storage.mkdir(rig.alice, { path: '/phys/ana/big', parents: true });
    log(`hsm: writing ${files.length} files of ${o.fileMiB} MiB to the disk tier…`);
    const ids: number[] = [];
    for (const f of files) ids.push(await rig.put(f, size, block));
    await rig.hsm.settle();
    const total = size * files.length;
    const diskFiles = await Promise.all(ids.map(async (id) => rig.storage.disk.filePath(id, (await rig.storage.fileAt(files[ids.indexOf(id)]!))!.generation)));

    // ---- G1 migration, measured twice: copy 1, then (the class asking for 2 copies) copy 2 of the same files.
    log('hsm: raw copy + fsync of the disk-tier files (before, twice)…');
    const migRaw = await rawCopies(diskFiles, rawDir, 2);
    const migRuns: number[] = [];
    for (const copy of [1, 2]) {
      if (copy === 2) {
        await rig.hsm.book.changeClass(rig.oper, 'default', { copies: 2 });
        for (const id of ids) await rig.storage.markDirty(id, (await rig.storage.fileById(id))!.generation);
      }
      log(`hsm: migration of copy ${copy} (migrateNow)…`);
      await syncAll();
      const t = performance.now();
      const report = await rig.hsm.migrateNow(rig.oper);
      const seconds = (performance.now() - t) / 1000;
      if (report.bytes !== total || report.failed.length) throw new Error(`migration wrote ${report.bytes} of ${total} bytes, ${report.failed.length} failed: ${JSON.stringify(report.failed)}`);
      migRuns.push(total / seconds / MB);
      log(`hsm: raw copy + fsync (after, twice)…`);
      migRaw.push(...(await rawCopies(diskFiles, rawDir, 2)));
    }

    // ---- G2 staging (the engine's stage, no reader), measured twice; raw: the copy-1 volume.
    const copyOne = [...new Set((await rig.storage.copiesOf(ids)).filter((c) => c.copyNo === 1).map((c) => c.volume))];
    const volumes = copyOne.map((v) => path.join(dir, 'archive', `${v}.vol`));
    log('hsm: raw copy + fsync of the archive volume (before, twice)…');
    const stageRaw = await rawCopies(volumes, rawDir, 2);
    const stageRuns: number[] = [];
    for (let run = 0; run < 2; run++) {
      await purgeAll(rig, files.length);
      log('hsm: staging (stager.stageFile, both files)…');
      await syncAll();
      const t = performance.now();
      for (const id of ids) {
        const stage = await rig.hsm.stager.stageFile(id);
        await stage.done;
      }
      stageRuns.push(total / ((performance.now() - t) / 1000) / MB);
      log('hsm: raw copy + fsync of the archive volume (after, twice)…');
      stageRaw.push(...(await rawCopies(volumes, rawDir, 2)));
    }
    const migMBps = median(migRuns);
    const stageMBps = median(stageRuns);

    // ---- G3 reader following an async stage, twice
    const readRuns: number[] = [];
    for (let run = 0; run < 2; run++) {
      await purgeAll(rig, files.length);
      log('hsm: async read of archive-only files (openRead, consumed to the end)…');
      await syncAll();
      const t = performance.now();
      for (const f of files) {
        const opened = await rig.storage.openRead(rig.alice, f);
        const got = await drain(opened.stream);
        if (got !== size) throw new Error(`async read of ${f} gave ${got} of ${size} bytes`);
      }
      readRuns.push(total / ((performance.now() - t) / 1000) / MB);
    }
    const readMBps = median(readRuns);

    // ---- G3 on-disk TTFB
    await rig.hsm.settle();
    const diskSamples: number[] = [];
    for (let i = 0; i < o.ttfbSamples; i++) {
      const started = performance.now();
      const opened = await rig.storage.openRead(rig.alice, files[i % files.length]!);
      await new Promise<void>((resolve, reject) => {
        opened.stream.once('data', () => resolve());
        opened.stream.once('error', reject);
      });
      diskSamples.push(performance.now() - started);
      opened.stream.destroy();
      await sleep(20);
    }
    const migRawMean = median(migRaw) / MB;
    const stageRawMean = median(stageRaw) / MB;
    return {
      fileBytes: size,
      files: files.length,
      migration: { keisanMBps: migMBps, runsMBps: migRuns, rawMBps: migRaw.map((r) => r / MB), ratio: migMBps / migRawMean },
      staging: { keisanMBps: stageMBps, runsMBps: stageRuns, rawMBps: stageRaw.map((r) => r / MB), ratio: stageMBps / stageRawMean },
      asyncRead: { keisanMBps: readMBps, runsMBps: readRuns, vsStaging: readMBps / stageMBps },
      diskTtfb: { samples: diskSamples, p50: percentile(diskSamples, 50), p99: percentile(diskSamples, 99) },
      problems: [...rig.problems],
    };
  } finally {
    cleanups.pop();
    await rig.close();
    await rm(dir, { recursive: true, force: true });
    await rm(rawDir, { recursive: true, force: true });
  }
}

// ============================================================================ TTFB of stages

interface TtfbSample {
  file: string;
  position: number;
  ttfbMs: number;
  /** Sum of the drive delays the archive slept before the first byte (mount, locate, unmount). */
  driveDelayMs: number;
  /** Each delay the drives took before the first byte, in order (ms). */
  sleeps: number[];
  overheadMs: number;
}

interface TtfbResult {
  timeScale: number;
  volumeCapacity: number;
  samples: TtfbSample[];
  delay: { min: number; max: number };
  overhead: { p50: number; p99: number; max: number };
  ttfb: { p50: number; p99: number };
  /** The timing model's mount into an empty drive (ms): each sample's first recorded delay should be exactly this. */
  mountMs: number;
  /** Samples whose first recorded delay is not one mount (should be none). */
  unexpected: number;
  problems: string[];
}

async function ttfbPart(o: Options, scratch: string): Promise<TtfbResult> {
  const dir = path.join(scratch, 'ttfb');
  const n = o.ttfbSamples;
  const name = (i: number) => `t${String(i + 1).padStart(2, '0')}`;
  const families = Array.from({ length: n }, (_, i) => ({ name: `ttfb-${name(i)}`, tree: `/phys/ana/ttfb/${name(i)}` }));
  const rig = await hsmRig(dir, families);
  cleanups.push({ what: 'the in-process HSM (part ttfb)', run: () => rig.close() });
  try {
    const volumeCapacity = 64 * MiB;
    const timing: TapeTiming = { delays: LTO9_DELAYS, timeScale: 0.02, rateMBps: 0, calibrateFirstMount: false };
    // Volumes of 64 MiB (locate is proportional to the distance over a third of the capacity).
    await rig.reopenArchive({ timing: ZERO_TIMING, drives: 2, volumeCapacity });
    const block = randomBytes(4 * MiB);
    const targets: Array<{ path: string; id: number }> = [];
    log(`ttfb: ${n} families, each a volume holding a filler then the 4 MiB file read…`);
    for (let i = 0; i < n; i++) {
      const tree = `/phys/ana/ttfb/${name(i)}`;
      await rig.storage.mkdir(rig.alice, { path: tree, parents: true });
      // Fillers of 128 KiB × (i+1) put the file read at different distances from the start.
      await rig.put(`${tree}/filler`, 128 * 1024 * (i + 1), block);
      targets.push({ path: `${tree}/data`, id: await rig.put(`${tree}/data`, 4 * MiB, block) });
    }
    const report = await rig.hsm.migrateNow(rig.oper);
    if (report.files !== 2 * n) throw new Error(`ttfb: migration wrote ${report.files} of ${2 * n} files: ${JSON.stringify(report.failed)}`);
    await purgeAll(rig, 2 * n);

    // A fresh library with the delays on: every drive empty, one drive per volume.
    let recording = false;
    let sleeps: number[] = [];
    const recordingSleep = (ms: number) => {
      if (recording && ms > 0) sleeps.push(ms);
      return ms > 0 ? sleep(ms) : Promise.resolve();
    };
    await rig.reopenArchive({ timing, drives: n + 1, volumeCapacity, sleep: recordingSleep });
    const copies = await rig.storage.copiesOf(targets.map((x) => x.id));
    const samples: TtfbSample[] = [];
    log(`ttfb: ${n} reads of archive-only files (mount ${mountMs(timing, false)} ms + locate each)…`);
    for (const target of targets) {
      await rig.hsm.settle();
      await sleep(50);
      const copy = copies.find((c) => c.fileId === target.id);
      if (!copy) throw new Error(`ttfb: no archive copy of ${target.path}`);
      sleeps = [];
      recording = true;
      const started = performance.now();
      const opened = await rig.storage.openRead(rig.alice, target.path);
      await new Promise<void>((resolve, reject) => {
        opened.stream.once('data', () => resolve());
        opened.stream.once('error', reject);
      });
      const ttfbMs = performance.now() - started;
      recording = false;
      const recorded = [...sleeps];
      const driveDelayMs = recorded.reduce((a, b) => a + b, 0);
      opened.stream.destroy();
      samples.push({ file: target.path, position: copy.position, ttfbMs, driveDelayMs, sleeps: recorded, overheadMs: ttfbMs - driveDelayMs });
    }
    await rig.hsm.settle();
    const overheads = samples.map((s) => s.overheadMs);
    return {
      timeScale: timing.timeScale,
      volumeCapacity,
      samples,
      delay: { min: Math.min(...samples.map((s) => s.driveDelayMs)), max: Math.max(...samples.map((s) => s.driveDelayMs)) },
      overhead: { p50: percentile(overheads, 50), p99: percentile(overheads, 99), max: Math.max(...overheads) },
      ttfb: { p50: percentile(samples.map((s) => s.ttfbMs), 50), p99: percentile(samples.map((s) => s.ttfbMs), 99) },
      mountMs: mountMs(timing, false),
      unexpected: samples.filter((s) => s.sleeps[0] !== mountMs(timing, false)).length,
      problems: [...rig.problems],
    };
  } finally {
    cleanups.pop();
    await rig.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ============================================================================ mixed readers and writers

/** What a client child is asked to do (JSON on its command line). */
interface ChildSpec {
  mode: 'keisan' | 'raw';
  role: 'read' | 'write';
  /** raw: a file path; keisan: a path in the namespace. */
  target: string;
  bytes: number;
  url?: string;
  ticket?: string;
}

interface ChildResult {
  role: 'read' | 'write';
  bytes: number;
  start: number;
  end: number;
  cpuUs: number;
}

/** An HTTP request with a small body, answered with JSON. */
function httpJson<T>(agent: http.Agent, url: string, ticket: string, method: string, body?: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const request = http.request(url, { method, agent, headers: { authorization: `Bearer ${ticket}`, ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((response.statusCode ?? 0) >= 300) reject(new Error(`${method} ${url}: HTTP ${response.statusCode} ${text.slice(0, 300)}`));
        else resolve(JSON.parse(text) as T);
      });
      response.on('error', reject);
    });
    request.setTimeout(300_000, () => request.destroy(new Error(`${method} ${url}: no answer in 300 s`)));
    request.on('error', reject);
    request.end(payload);
  });
}

/** Uploads `bytes` bytes of `record` repeated to `target` as `keisan fs put` does: 8 MiB chunks, then commit. */
async function keisanPut(agent: http.Agent, base: string, ticket: string, target: string, bytes: number, record: Buffer): Promise<void> {
  const upload = await httpJson<{ id: string }>(agent, `${base}/api/fs/uploads`, ticket, 'POST', { path: target, size: bytes });
  for (let offset = 0; offset < bytes; offset += PUT_CHUNK) {
    const length = Math.min(PUT_CHUNK, bytes - offset);
    await new Promise<void>((resolve, reject) => {
      const request = http.request(
        `${base}/api/fs/uploads/${upload.id}?offset=${offset}`,
        { method: 'PUT', agent, headers: { authorization: `Bearer ${ticket}`, 'content-type': 'application/octet-stream', 'content-length': String(length) } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (c: Buffer) => chunks.push(c));
          response.on('end', () => ((response.statusCode ?? 0) === 200 ? resolve() : reject(new Error(`PUT chunk at ${offset}: HTTP ${response.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`))));
        },
      );
      request.setTimeout(300_000, () => request.destroy(new Error('PUT chunk: no answer in 300 s')));
      request.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < length) {
          const n = Math.min(record.length, length - sent);
          sent += n;
          if (!request.write(n === record.length ? record : record.subarray(0, n))) {
            request.once('drain', pump);
            return;
          }
        }
        request.end();
      };
      pump();
    });
  }
  await httpJson(agent, `${base}/api/fs/uploads/${upload.id}/commit`, ticket, 'POST', {});
}

function keisanGet(agent: http.Agent, base: string, ticket: string, target: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const request = http.get(`${base}/api/fs/content?path=${encodeURIComponent(target)}`, { agent, headers: { authorization: `Bearer ${ticket}` } }, (response) => {
      let bytes = 0;
      response.on('data', (c: Buffer) => (bytes += c.length));
      response.on('end', () => ((response.statusCode ?? 0) === 200 ? resolve(bytes) : reject(new Error(`GET ${target}: HTTP ${response.statusCode}`))));
      response.on('error', reject);
    });
    request.setTimeout(300_000, () => request.destroy(new Error(`GET ${target}: no answer in 300 s`)));
    request.on('error', reject);
  });
}

/** A client process: says `ready`, waits for `go` on stdin, does its transfer, prints the result. */
async function childMain(spec: ChildSpec): Promise<void> {
  const record = randomBytes(RECORD);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const lines = createInterface({ input: process.stdin });
  const go = new Promise<void>((resolve) => lines.on('line', (l) => l.trim() === 'go' && resolve()));
  process.stdout.write('ready\n');
  await go;
  const cpu0 = process.cpuUsage();
  const start = now();
  let bytes = 0;
  if (spec.mode === 'raw') {
    if (spec.role === 'read') {
      const fd = fs.openSync(spec.target, 'r');
      const buffer = Buffer.allocUnsafe(RECORD);
      for (;;) {
        const n = fs.readSync(fd, buffer, 0, RECORD, null);
        if (n === 0) break;
        bytes += n;
      }
      fs.closeSync(fd);
    } else {
      const fd = fs.openSync(spec.target, 'w');
      while (bytes < spec.bytes) bytes += fs.writeSync(fd, record, 0, Math.min(RECORD, spec.bytes - bytes));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
  } else if (spec.role === 'read') {
    bytes = await keisanGet(agent, spec.url!, spec.ticket!, spec.target);
  } else {
    await keisanPut(agent, spec.url!, spec.ticket!, spec.target, spec.bytes, record);
    bytes = spec.bytes;
  }
  const end = now();
  const cpu = process.cpuUsage(cpu0);
  if (bytes !== spec.bytes) throw new Error(`${spec.role} of ${spec.target}: ${bytes} of ${spec.bytes} bytes`);
  const result: ChildResult = { role: spec.role, bytes, start, end, cpuUs: cpu.user + cpu.system };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  agent.destroy();
  lines.close();
}

/** Waits (bounded) for a child to exit; true when it did. */
async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  let timer: NodeJS.Timeout | undefined;
  const exited = await Promise.race([
    new Promise<boolean>((resolve) => child.once('exit', () => resolve(true))),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return exited;
}

/** Starts the clients, waits until every one is ready, says go to all, collects their results. */
async function runClients(specs: ChildSpec[]): Promise<ChildResult[]> {
  const started = specs.map((spec) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BENCH_FILE, '--child', JSON.stringify(spec)], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<void>((resolve, reject) => {
      lines.once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`client said '${l}'`))));
      child.once('exit', (code) => reject(new Error(`client exited (${code}) before it was ready: ${stderr.slice(-1000)}`)));
    });
    const result = new Promise<ChildResult>((resolve, reject) => {
      lines.on('line', (l) => {
        if (l.startsWith('{')) resolve(JSON.parse(l) as ChildResult);
      });
      child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`client ${spec.role} ${spec.target} exited (${code}): ${stderr.slice(-1500)}`))));
    });
    result.catch(() => undefined);
    return { child, ready, result };
  });
  const timeout = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms)))]);
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    await timeout(Promise.all(started.map((s) => s.ready)), 60_000, 'clients ready');
    for (const s of started) s.child.stdin!.write('go\n');
    return await timeout(Promise.all(started.map((s) => s.result)), 600_000, 'clients done');
  } finally {
    for (const s of started) {
      s.child.stdin!.end();
      if (!(await waitExit(s.child, 5000))) s.child.kill('SIGKILL');
      children.delete(s.child);
    }
  }
}

/** CPU seconds of a process so far (/proc/PID/stat utime + stime). */
function processCpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineTimes(): { busy: number; total: number } {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

interface MixedRun {
  mode: 'keisan' | 'raw';
  n: number;
  readMBps: number[];
  writeMBps: number[];
  aggregateMBps: number;
  seconds: number;
  /** Mean client CPU per process, % of one core over its own transfer. */
  clientCpuPct: number;
  /** Sum of the clients' CPU over the run's wall time, in cores. */
  clientCores: number;
  /** Keisan: the server's CPU over the run, in cores. */
  serverCores: number | null;
  /** Busy cores of the whole machine minus server and clients (others' work, kernel threads). */
  otherCores: number;
}

function summarise(mode: 'keisan' | 'raw', n: number, results: ChildResult[], serverSeconds: number | null, machine: { busy: number; total: number }): MixedRun {
  const rate = (r: ChildResult) => r.bytes / ((r.end - r.start) / 1000) / MB;
  const first = Math.min(...results.map((r) => r.start));
  const last = Math.max(...results.map((r) => r.end));
  const seconds = (last - first) / 1000;
  const clientCpuSeconds = results.reduce((a, r) => a + r.cpuUs / 1e6, 0);
  const busyCores = (machine.busy / machine.total) * os.cpus().length;
  const clientCores = clientCpuSeconds / seconds;
  const serverCores = serverSeconds === null ? null : serverSeconds / seconds;
  return {
    mode,
    n,
    readMBps: results.filter((r) => r.role === 'read').map(rate),
    writeMBps: results.filter((r) => r.role === 'write').map(rate),
    aggregateMBps: results.reduce((a, r) => a + r.bytes, 0) / seconds / MB,
    seconds,
    clientCpuPct: mean(results.map((r) => (r.cpuUs / 1e3 / (r.end - r.start)) * 100)),
    clientCores,
    serverCores,
    otherCores: Math.max(0, busyCores - clientCores - (serverCores ?? 0)),
  };
}

async function measured(run: () => Promise<ChildResult[]>, serverPid: number | null): Promise<{ results: ChildResult[]; serverSeconds: number | null; machine: { busy: number; total: number } }> {
  const m0 = machineTimes();
  const s0 = serverPid ? processCpuSeconds(serverPid) : 0;
  const results = await run();
  const s1 = serverPid ? processCpuSeconds(serverPid) : 0;
  const m1 = machineTimes();
  return { results, serverSeconds: serverPid ? s1 - s0 : null, machine: { busy: m1.busy - m0.busy, total: m1.total - m0.total } };
}

interface KeisanServer {
  url: string;
  pid: number;
  ticket: string;
  agent: http.Agent;
  stop(): Promise<void>;
}

async function startKeisan(dir: string): Promise<KeisanServer> {
  const data = path.join(dir, 'data');
  const cgroupParent = `keisan-bench-storage-${process.pid}`;
  initTestDataDir(data, {
    batch: { cgroupParent },
    storage: { classes: [{ name: 'default', migrationDelay: '24h', copies: 1, purgeHigh: 99, purgeLow: 98 }] },
  });
  const logFile = path.join(dir, 'server.log');
  const fd = fs.openSync(logFile, 'a');
  // KEISAN_BENCH_SERVER_ARGS: extra node options for the server, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof.
  const nodeArgs = (process.env.KEISAN_BENCH_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, KEISAN_BIN, 'server', '--data', data, '--port', '0'], { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  children.add(child);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 15_000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5000);
      }
    }
    children.delete(child);
    if (process.getuid?.() === 0 && detectCgroupLayout().kind !== 'none') {
      try {
        const left = CgroupTree.open({ root: cgroupParent, parentMemBytes: null, parentPidsMax: null }).destroy();
        if (left.length) log(`mixed: could not remove cgroups ${left.join(', ')}`);
      } catch (error) {
        log(`mixed: cgroup cleanup: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  cleanups.push({ what: 'keisan server', run: stop });
  let url = '';
  for (let i = 0; i < 600 && !url; i++) {
    if (child.exitCode !== null) throw new Error(`keisan server exited (${child.exitCode}):\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    const line = fs.readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('keisan server listening'));
    if (line) url = (JSON.parse(line) as { url: string }).url;
    else await sleep(100);
  }
  if (!url) throw new Error(`keisan server did not listen within 60 s:\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const login = async (user: string, password: string) => {
    const response = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
    if (!response.ok) throw new Error(`login ${user}: HTTP ${response.status} ${await response.text()}`);
    return ((await response.json()) as { ticket: string }).ticket;
  };
  const operatorPassword = fs.readFileSync(path.join(data, 'operator-password'), 'utf8').split('\n')[1]!.trim();
  const adminTicket = await login('admin', operatorPassword);
  const password = `bench-${randomBytes(12).toString('hex')}`;
  await httpJson(agent, `${url}/api/users`, adminTicket, 'POST', { name: 'bench', primarySubgroup: 'staff', fullName: 'Benchmark User', password });
  const ticket = await login('bench', password);
  return { url, pid: child.pid!, ticket, agent, stop };
}

interface MixedResult {
  fileBytes: number;
  runs: Array<{ n: number; keisan: MixedRun; raw: MixedRun }>;
  httpDiskTtfb: { p50: number; p99: number };
}

async function mixedPart(o: Options, scratch: string): Promise<MixedResult> {
  const dir = path.join(scratch, 'mixed');
  const rawDir = path.join(scratch, 'mixed-raw');
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(rawDir, { recursive: true });
  const size = o.mixedMiB * MiB;
  const maxN = Math.max(...o.procs);
  const server = await startKeisan(dir);
  try {
    const { url, ticket, agent } = server;
    const base = '/central/staff/bench';
    await httpJson(agent, `${url}/api/fs/directories`, ticket, 'POST', { path: base, parents: true });
    log(`mixed: server at ${url}; writing ${maxN} files of ${o.mixedMiB} MiB to read (Keisan and raw)…`);
    const record = randomBytes(RECORD);
    for (let i = 0; i < maxN; i++) {
      await keisanPut(agent, url, ticket, `${base}/read-${i}`, size, record);
      const fd = fs.openSync(path.join(rawDir, `read-${i}`), 'w');
      for (let at = 0; at < size; at += RECORD) fs.writeSync(fd, record, 0, Math.min(RECORD, size - at));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    // On-disk TTFB over HTTP (G3's ≤ 5 ms p99 for a file on the disk tier), a client in this process.
    const httpTtfb: number[] = [];
    for (let i = 0; i < o.ttfbSamples; i++) {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        const request = http.get(`${url}/api/fs/content?path=${encodeURIComponent(`${base}/read-0`)}`, { headers: { authorization: `Bearer ${ticket}` } }, (response) => {
          response.once('data', () => {
            httpTtfb.push(performance.now() - started);
            request.destroy();
            resolve();
          });
          response.once('error', reject);
        });
        request.on('error', (error) => (httpTtfb.length > i ? resolve() : reject(error)));
      });
      await sleep(20);
    }
    const runs: MixedResult['runs'] = [];
    for (const n of o.procs) {
      log(`mixed: raw, ${n} readers + ${n} writers…`);
      const rawSpecs: ChildSpec[] = [
        ...Array.from({ length: n }, (_, i): ChildSpec => ({ mode: 'raw', role: 'read', target: path.join(rawDir, `read-${i}`), bytes: size })),
        ...Array.from({ length: n }, (_, i): ChildSpec => ({ mode: 'raw', role: 'write', target: path.join(rawDir, `write-${n}-${i}`), bytes: size })),
      ];
      const raw = await measured(() => runClients(rawSpecs), null);
      for (let i = 0; i < n; i++) await rm(path.join(rawDir, `write-${n}-${i}`), { force: true });
      await sleep(2000);
      log(`mixed: keisan, ${n} readers + ${n} writers…`);
      const keisanSpecs: ChildSpec[] = [
        ...Array.from({ length: n }, (_, i): ChildSpec => ({ mode: 'keisan', role: 'read', target: `${base}/read-${i}`, bytes: size, url, ticket })),
        ...Array.from({ length: n }, (_, i): ChildSpec => ({ mode: 'keisan', role: 'write', target: `${base}/write-${n}-${i}`, bytes: size, url, ticket })),
      ];
      const keisan = await measured(() => runClients(keisanSpecs), server.pid);
      for (let i = 0; i < n; i++) await httpJson(agent, `${url}/api/fs/entries?path=${encodeURIComponent(`${base}/write-${n}-${i}`)}`, ticket, 'DELETE');
      runs.push({ n, raw: summarise('raw', n, raw.results, null, raw.machine), keisan: summarise('keisan', n, keisan.results, keisan.serverSeconds, keisan.machine) });
      await sleep(2000);
    }
    return { fileBytes: size, runs, httpDiskTtfb: { p50: percentile(httpTtfb, 50), p99: percentile(httpTtfb, 99) } };
  } finally {
    cleanups.pop();
    server.agent.destroy();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(rawDir, { recursive: true, force: true });
  }
}

// ============================================================================ report

interface Report {
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memTotalKiB: number; node: string; loadBefore: string; loadAfter: string; commit: string; dirtySrc: boolean };
  options: Omit<Options, 'parts'> & { parts: string[] };
  hsm?: HsmResult;
  ttfb?: TtfbResult;
  namespace?: NamespaceResult;
  mixed?: MixedResult;
  rows: Row[];
  missed: string[];
}

interface Row {
  measure: string;
  keisan: string;
  raw: string;
  ratio: string;
  goal: string;
  met: boolean | null;
}

const f1 = (n: number) => n.toFixed(1);
const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f2 = (n: number) => n.toFixed(2);
const k = (n: number) => `${(n / 1000).toFixed(1)}k/s`;

function rowsOf(r: Report): Row[] {
  const rows: Row[] = [];
  if (r.hsm) {
    const h = r.hsm;
    const size = `${h.files} × ${f0(h.fileBytes / MiB)} MiB`;
    rows.push({ measure: `G1 migration, ${size} (MB/s; runs, raw copies → medians)`, keisan: `${h.migration.runsMBps.map(f0).join(' / ')} → ${f0(h.migration.keisanMBps)}`, raw: `${h.migration.rawMBps.map(f0).join(' / ')} → ${f0(median(h.migration.rawMBps))}`, ratio: f2(h.migration.ratio), goal: `≥ ${GOALS.migrationRatio}`, met: h.migration.ratio >= GOALS.migrationRatio });
    rows.push({ measure: `G2 staging, ${size} (MB/s; runs, raw copies → medians)`, keisan: `${h.staging.runsMBps.map(f0).join(' / ')} → ${f0(h.staging.keisanMBps)}`, raw: `${h.staging.rawMBps.map(f0).join(' / ')} → ${f0(median(h.staging.rawMBps))}`, ratio: f2(h.staging.ratio), goal: `≥ ${GOALS.stagingRatio}`, met: h.staging.ratio >= GOALS.stagingRatio });
    rows.push({ measure: `G3 reader following an async stage (MB/s; runs → median)`, keisan: `${h.asyncRead.runsMBps.map(f0).join(' / ')} → ${f0(h.asyncRead.keisanMBps)}`, raw: `stage ${f0(h.staging.keisanMBps)}`, ratio: f2(h.asyncRead.vsStaging), goal: `≥ ${GOALS.readerVsStaging} of staging`, met: h.asyncRead.vsStaging >= GOALS.readerVsStaging });
    rows.push({ measure: 'G3 TTFB, file on disk, service level (ms p50 / p99)', keisan: `${f1(h.diskTtfb.p50)} / ${f1(h.diskTtfb.p99)}`, raw: '-', ratio: '-', goal: `p99 ≤ ${GOALS.ttfbDiskP99Ms}`, met: h.diskTtfb.p99 <= GOALS.ttfbDiskP99Ms });
  }
  if (r.mixed) {
    const m = r.mixed;
    rows.push({ measure: 'G3 TTFB, file on disk, over HTTP (ms p50 / p99)', keisan: `${f1(m.httpDiskTtfb.p50)} / ${f1(m.httpDiskTtfb.p99)}`, raw: '-', ratio: '-', goal: `p99 ≤ ${GOALS.ttfbDiskP99Ms}`, met: m.httpDiskTtfb.p99 <= GOALS.ttfbDiskP99Ms });
  }
  if (r.ttfb) {
    const t = r.ttfb;
    rows.push({
      measure: `G3 TTFB of a stage minus drive delay (ms p50 / p99; delay ${f0(t.delay.min)}–${f0(t.delay.max)} ms)`,
      keisan: `${f1(t.overhead.p50)} / ${f1(t.overhead.p99)}`,
      raw: `TTFB ${f0(t.ttfb.p50)} / ${f0(t.ttfb.p99)}`,
      ratio: '-',
      goal: `p99 ≤ ${GOALS.ttfbOverheadP99Ms}`,
      met: t.overhead.p99 <= GOALS.ttfbOverheadP99Ms,
    });
  }
  if (r.namespace) {
    const ns = r.namespace;
    for (const row of ns.rows) {
      const best = bestOf(row);
      rows.push({ measure: `G6 creates, ${row.database} (1 / ${ns.concurrency} in flight)`, keisan: `${k(row.createsSequential)} / ${k(row.createsConcurrent)}`, raw: k(ns.baseline.creates), ratio: f2(best.creates / ns.baseline.creates), goal: `≥ ${k(GOALS.createsPerSecond)}`, met: best.creates >= GOALS.createsPerSecond });
      rows.push({ measure: `G6 stats, ${row.database} (1 / ${ns.concurrency} in flight)`, keisan: `${k(row.statsSequential)} / ${k(row.statsConcurrent)}`, raw: k(ns.baseline.stats), ratio: f2(best.stats / ns.baseline.stats), goal: `≥ ${k(GOALS.statsPerSecond)}`, met: best.stats >= GOALS.statsPerSecond });
    }
  }
  if (r.mixed) {
    for (const { n, keisan, raw } of r.mixed.runs) {
      rows.push({ measure: `G9 ${n}+${n} procs: aggregate MB/s`, keisan: f0(keisan.aggregateMBps), raw: f0(raw.aggregateMBps), ratio: f2(keisan.aggregateMBps / raw.aggregateMBps), goal: `≥ ${GOALS.mixedAggregateRatio}`, met: keisan.aggregateMBps / raw.aggregateMBps >= GOALS.mixedAggregateRatio });
      rows.push({ measure: `G9 ${n}+${n} procs: read MB/s per process (mean)`, keisan: f1(mean(keisan.readMBps)), raw: f1(mean(raw.readMBps)), ratio: f2(mean(keisan.readMBps) / mean(raw.readMBps)), goal: `ref. ${REFERENCE.readMBps}`, met: null });
      rows.push({ measure: `G9 ${n}+${n} procs: write MB/s per process (mean)`, keisan: f1(mean(keisan.writeMBps)), raw: f1(mean(raw.writeMBps)), ratio: f2(mean(keisan.writeMBps) / mean(raw.writeMBps)), goal: `ref. ${REFERENCE.writeMBps}`, met: null });
      rows.push({ measure: `G9 ${n}+${n} procs: client CPU % per process (mean)`, keisan: f0(keisan.clientCpuPct), raw: f0(raw.clientCpuPct), ratio: f2(keisan.clientCpuPct / raw.clientCpuPct), goal: `ref. ${REFERENCE.clientCpuPct} %`, met: null });
      rows.push({ measure: `G9 ${n}+${n} procs: server CPU (cores)`, keisan: f2(keisan.serverCores ?? 0), raw: '-', ratio: '-', goal: `≤ ${GOALS.serverCores}`, met: (keisan.serverCores ?? 0) <= GOALS.serverCores });
    }
  }
  return rows;
}

function table(header: string[], rows: string[][], alignLeft = new Set([0])): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (alignLeft.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (alignLeft.has(i) ? `${'-'.repeat(w + 1)}-` : `-${'-'.repeat(w)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function printReport(r: Report): void {
  const out: string[] = [];
  const m = r.machine;
  out.push(`Storage benchmark, ${r.startedAt}: ${m.cpus} CPUs (${m.cpuModel}), ${f0(m.memTotalKiB)} kB RAM, Node ${m.node}, commit ${m.commit}${m.dirtySrc ? ' (uncommitted changes in src/)' : ''}; load before ${m.loadBefore}, after ${m.loadAfter}`);
  out.push('');
  out.push(table(['measure', 'Keisan', 'raw (same run)', 'ratio', 'goal', 'met?'], r.rows.map((x) => [x.measure, x.keisan, x.raw, x.ratio, x.goal, x.met === null ? '-' : x.met ? 'yes' : 'NO'])));
  if (r.mixed) {
    out.push('');
    out.push(`G9 details (64 KiB records, one ${f0(r.mixed.fileBytes / MiB)} MiB file per process; reference design: ${REFERENCE.readMBps} MB/s read + ${REFERENCE.writeMBps} MB/s write per process × ${REFERENCE.processes} each, ${REFERENCE.aggregateMBps} MB/s aggregate, client CPU ${REFERENCE.clientCpuPct} %):`);
    out.push('');
    const rows: string[][] = [];
    for (const { n, keisan, raw } of r.mixed.runs) {
      for (const run of [raw, keisan]) {
        rows.push([
          `${run.mode} ${n}+${n}`,
          `${f1(mean(run.readMBps))} (${f1(Math.min(...run.readMBps))}–${f1(Math.max(...run.readMBps))})`,
          `${f1(mean(run.writeMBps))} (${f1(Math.min(...run.writeMBps))}–${f1(Math.max(...run.writeMBps))})`,
          f0(run.aggregateMBps),
          f1(run.seconds),
          f0(run.clientCpuPct),
          f2(run.clientCores),
          run.serverCores === null ? '-' : f2(run.serverCores),
          f2(run.otherCores),
        ]);
      }
    }
    rows.push(['reference design 10+10', `${REFERENCE.readMBps}`, `${REFERENCE.writeMBps}`, `${REFERENCE.aggregateMBps}`, '-', `${REFERENCE.clientCpuPct}`, '-', '-', '-']);
    out.push(table(['run', 'read MB/s per proc (min–max)', 'write MB/s per proc (min–max)', 'aggregate MB/s', 'seconds', 'client CPU %/proc', 'client cores', 'server cores', 'other cores'], rows));
  }
  if (r.ttfb) {
    out.push('');
    out.push(`G3 stage TTFB samples (timeScale ${r.ttfb.timeScale}, volumes of ${f0(r.ttfb.volumeCapacity / MiB)} MiB): TTFB ms = drive delays the archive slept (mount + locates) + overhead; ${r.ttfb.unexpected} sample(s) did not start with exactly one ${r.ttfb.mountMs} ms mount:`);
    out.push(r.ttfb.samples.map((s) => `${f0(s.ttfbMs)} = (${s.sleeps.map(f1).join(' + ')}) + ${f1(s.overheadMs)}`).join('; '));
  }
  const problems = [...(r.hsm?.problems ?? []), ...(r.ttfb?.problems ?? [])];
  if (problems.length) {
    out.push('');
    out.push(`HSM warnings/errors during the run: ${problems.slice(0, 10).join(' | ')}`);
  }
  if (r.missed.length) {
    out.push('');
    out.push(`Missed: ${r.missed.join('; ')}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

function machineInfo(): Report['machine'] {
  const meminfo = fs.readFileSync('/proc/meminfo', 'utf8');
  const commit = spawnSync('git', ['rev-parse', '--short=7', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim() !== '';
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    memTotalKiB: Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0),
    node: process.version,
    loadBefore: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    loadAfter: '',
    commit,
    dirtySrc: dirty,
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-bench-storage-'));
  cleanups.unshift({ what: 'the scratch directory', run: () => fs.rmSync(scratch, { recursive: true, force: true }) });
  let interrupted = false;
  const onSignal = (signal: string) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping and cleaning up…`);
    void runCleanups().then(() => process.exit(130));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const report: Report = { startedAt: new Date().toISOString(), machine: machineInfo(), options: { ...o, parts: [...o.parts] }, rows: [], missed: [] };
  const free = fs.statfsSync(scratch);
  log(`scratch ${scratch}: ${f0((free.bavail * free.bsize) / 1024 ** 3)} GiB free; load ${report.machine.loadBefore}`);
  try {
    if (o.parts.has('hsm')) report.hsm = await hsmPart(o, scratch);
    if (o.parts.has('ttfb')) report.ttfb = await ttfbPart(o, scratch);
    if (o.parts.has('namespace')) report.namespace = await measureNamespace({ creates: o.creates, stats: o.stats, postgres: o.postgres, log: (t) => log(`namespace: ${t}`) });
    if (o.parts.has('mixed')) report.mixed = await mixedPart(o, scratch);
  } finally {
    await runCleanups();
  }
  report.machine.loadAfter = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  report.rows = rowsOf(report);
  report.missed = report.rows.filter((x) => x.met === false).map((x) => x.measure);
  if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printReport(report);
  if (o.check && report.missed.length) process.exitCode = 2;
}

const childArg = process.argv.indexOf('--child');
if (childArg >= 0) {
  await childMain(JSON.parse(process.argv[childArg + 1]!) as ChildSpec);
} else {
  await main();
}
