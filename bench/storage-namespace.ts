/**
 * Namespace benchmark (notes/storage.md goal G6): creates and stats per second at the service
 * level (StorageService.mkdir / .stat with every ACL check, as an API request does them, minus
 * HTTP), side by side with the raw filesystem baseline measured in the same run (writeFileSync
 * of 1-byte files without fsync, statSync).
 *
 *   node --import tsx bench/storage-namespace.ts            # table on stdout
 *   node --import tsx bench/storage-namespace.ts --json     # one JSON document
 *   node --import tsx bench/storage-namespace.ts --check    # exit 2 when a goal is missed
 *
 * `bench/storage.ts` (npm run bench:storage) imports `measureNamespace` for its table.
 *
 * Environment: KEISAN_BENCH_CREATES (default 20000), KEISAN_BENCH_STATS (default 200000),
 * KEISAN_BENCH_CONCURRENCY (requests in flight, default 16), KEISAN_TEST_POSTGRES_URL (also
 * PostgreSQL; without it a throwaway cluster is started when PostgreSQL is installed).
 * SQLite runs on a file with the server's settings (WAL, synchronous=FULL).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { SYSTEM_ACTOR } from '../src/accounts/model.ts';
import { AccountsService } from '../src/accounts/service.ts';
import { openDatabase, type Db } from '../src/db/connection.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { systemClock } from '../src/lib/clock.ts';
import { parseSettings } from '../src/lib/config.ts';
import { StorageService } from '../src/storage/service.ts';
import { DiskTier } from '../src/storage/tiers/disk.ts';

export const NAMESPACE_GOALS = { createsPerSecond: 10_000, statsPerSecond: 100_000 };

export interface NamespaceOptions {
  /** Directory creations per series (default 20000). */
  creates?: number;
  /** Stats per series (default 200000). */
  stats?: number;
  /** Requests in flight for the concurrent series (default 16). */
  concurrency?: number;
  /** Also PostgreSQL (KEISAN_TEST_POSTGRES_URL, or a throwaway cluster when installed); default true. */
  postgres?: boolean;
  /** Progress lines (default: stderr). */
  log?: (text: string) => void;
}

export interface NamespaceResult {
  /** The raw filesystem in the same run: writeFileSync of 1-byte files (no fsync) and statSync, per second. */
  baseline: { creates: number; stats: number };
  goals: typeof NAMESPACE_GOALS;
  concurrency: number;
  rows: NamespaceRow[];
  /** Databases whose best figures miss a goal. */
  missed: string[];
}

const stderrLog = (text: string) => process.stderr.write(`${text}\n`);

function baseline(dir: string): { creates: number; stats: number } {
  const n = 20_000;
  let t = performance.now();
  for (let i = 0; i < n; i++) writeFileSync(path.join(dir, `f${i}`), 'x');
  const creates = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < n * 5; i++) statSync(path.join(dir, `f${i % n}`));
  const stats = (n * 5) / ((performance.now() - t) / 1000);
  return { creates, stats };
}

/** Runs `work(i)` for i < total with `concurrency` in flight; returns operations per second. */
async function rate(total: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await work(next++);
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

export interface NamespaceRow {
  database: string;
  createsSequential: number;
  createsConcurrent: number;
  statsSequential: number;
  statsConcurrent: number;
}

async function measure(db: Db, label: string, o: Required<Omit<NamespaceOptions, 'postgres'>>): Promise<NamespaceRow> {
  const { creates: CREATES, stats: STATS, concurrency: CONCURRENCY, log } = o;
  await migrateToLatest(db);
  const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'bench');
  const accounts = new AccountsService(db.kysely, settings, systemClock);
  await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
  await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
  await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', password: 'a long enough password' });
  const row = await db.kysely.selectFrom('users').select('id').where('name', '=', 'alice').executeTakeFirstOrThrow();
  const alice = await accounts.actorFor(row.id, '127.0.0.1');
  const diskDir = mkdtempSync(path.join(tmpdir(), 'keisan-bench-disk-'));
  const storage = new StorageService({ db: db.kysely, ...(db.sqlite ? { sqlite: db.sqlite } : {}), clock: systemClock, accounts, disk: new DiskTier({ root: diskDir, capacityBytes: null, fsync: true }), operatorName: 'admin', uploadExpiryMs: 86_400_000 });
  await storage.start({ sweepOrphans: false });
  try {
    await storage.mkdir(alice, { path: '/lab/lab-ml/seq' });
    await storage.mkdir(alice, { path: '/lab/lab-ml/par' });
    log(`${label}: ${CREATES} creates, one at a time…`);
    const createsSequential = await rate(CREATES, 1, (i) => storage.mkdir(alice, { path: `/lab/lab-ml/seq/d${i}` }));
    log(`${label}: ${CREATES} creates, ${CONCURRENCY} in flight…`);
    const createsConcurrent = await rate(CREATES, CONCURRENCY, (i) => storage.mkdir(alice, { path: `/lab/lab-ml/par/d${i}` }));
    log(`${label}: ${STATS} stats, one at a time…`);
    const statsSequential = await rate(STATS, 1, (i) => storage.stat(alice, `/lab/lab-ml/seq/d${(i * 7919) % CREATES}`));
    log(`${label}: ${STATS} stats, ${CONCURRENCY} in flight…`);
    const statsConcurrent = await rate(STATS, CONCURRENCY, (i) => storage.stat(alice, `/lab/lab-ml/par/d${(i * 7919) % CREATES}`));
    return { database: label, createsSequential, createsConcurrent, statsSequential, statsConcurrent };
  } finally {
    await storage.close();
    rmSync(diskDir, { recursive: true, force: true });
  }
}

async function postgresUrl(log: (text: string) => void): Promise<{ url: string; stop(): Promise<void> } | null> {
  if (process.env.KEISAN_TEST_POSTGRES_URL) return { url: process.env.KEISAN_TEST_POSTGRES_URL, stop: async () => undefined };
  try {
    const script = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'throwaway-postgres.js')).href;
    const { startThrowawayPostgres } = (await import(script)) as { startThrowawayPostgres(): Promise<{ url: string; stop(): Promise<void> }> };
    return await startThrowawayPostgres();
  } catch (error) {
    log(`PostgreSQL skipped: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

/** The best of the sequential and concurrent series, per database. */
export const bestOf = (r: NamespaceRow) => ({ creates: Math.max(r.createsSequential, r.createsConcurrent), stats: Math.max(r.statsSequential, r.statsConcurrent) });

/**
 * Creates and stats per second at the service level on SQLite (a file, the server's settings) and
 * PostgreSQL, beside the raw filesystem measured first in the same run.
 */
export async function measureNamespace(options: NamespaceOptions = {}): Promise<NamespaceResult> {
  const o = {
    creates: options.creates ?? 20_000,
    stats: options.stats ?? 200_000,
    concurrency: options.concurrency ?? 16,
    log: options.log ?? stderrLog,
  };
  const { log } = o;
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-bench-ns-'));
  const rows: NamespaceRow[] = [];
  let raw: { creates: number; stats: number };
  try {
    log('baseline: raw filesystem creates and stats…');
    raw = baseline(mkdtempSync(path.join(scratch, 'raw-')));
    const sqlite = openDatabase(`sqlite:${path.join(scratch, 'keisan.db')}`);
    try {
      rows.push(await measure(sqlite, 'sqlite (file)', o));
    } finally {
      await sqlite.close();
    }
    const server = options.postgres === false ? null : await postgresUrl(log);
    if (server) {
      const name = `keisan_bench_${process.pid}`;
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      const db = openDatabase(url.toString());
      try {
        rows.push(await measure(db, 'postgres', o));
      } finally {
        await db.close();
        const cleanup = new pg.Client({ connectionString: server.url });
        await cleanup.connect();
        await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await cleanup.end();
        await server.stop();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const missed = rows.filter((r) => bestOf(r).creates < NAMESPACE_GOALS.createsPerSecond || bestOf(r).stats < NAMESPACE_GOALS.statsPerSecond).map((r) => r.database);
  return { baseline: raw, goals: NAMESPACE_GOALS, concurrency: o.concurrency, rows, missed };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const check = process.argv.includes('--check');
  const result = await measureNamespace({
    creates: Number(process.env.KEISAN_BENCH_CREATES ?? 20_000),
    stats: Number(process.env.KEISAN_BENCH_STATS ?? 200_000),
    concurrency: Number(process.env.KEISAN_BENCH_CONCURRENCY ?? 16),
  });
  const { baseline: raw, rows, concurrency: CONCURRENCY } = result;
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const k = (n: number) => `${(n / 1000).toFixed(1)}k/s`;
    const ratio = (n: number, base: number) => `${((n / base) * 100).toFixed(0)} %`;
    process.stdout.write(`baseline (raw filesystem): creates ${k(raw.creates)}, stats ${k(raw.stats)}\n`);
    process.stdout.write(`goals: creates >= ${k(NAMESPACE_GOALS.createsPerSecond)}, stats >= ${k(NAMESPACE_GOALS.statsPerSecond)} (service level)\n\n`);
    process.stdout.write('database        creates 1 / ' + String(CONCURRENCY).padEnd(3) + '        stats 1 / ' + String(CONCURRENCY).padEnd(3) + '        of raw (best)\n');
    for (const r of rows) {
      process.stdout.write(
        `${r.database.padEnd(16)}${k(r.createsSequential).padStart(8)} ${k(r.createsConcurrent).padStart(9)}    ${k(r.statsSequential).padStart(9)} ${k(r.statsConcurrent).padStart(9)}    creates ${ratio(bestOf(r).creates, raw.creates)}, stats ${ratio(bestOf(r).stats, raw.stats)}\n`,
      );
    }
  }
  if (check && result.missed.length) process.exit(2);
}

// Run as a script (not when bench/storage.ts imports it).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();
