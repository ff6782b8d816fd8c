#!/usr/bin/env node
// Runs every *.test.ts under src/ (and bench/, scripts/, web/) with node:test through tsx.
// When PostgreSQL is installed and KEISAN_TEST_POSTGRES_URL is not set, starts a throwaway
// cluster on a private port and socket directory for the run, and removes it afterwards.
// Likewise OpenStack Swift with s3api (the S3 archive tier's test server) when it is installed
// and KEISAN_TEST_S3_URL is not set, and MariaDB (slurmdbd's database for the SLURM test
// clusters, src/batch/executors/slurm/testing.ts) when it and SLURM are installed and
// KEISAN_TEST_MARIADB_URL is not set.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mariadbInstalled, startThrowawayMariadb } from './throwaway-mariadb.js';
import { findPostgresBin, startThrowawayPostgres } from './throwaway-postgres.js';
import { startThrowawaySwift, swiftInstalled } from './throwaway-swift.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(full));
    else if (/\.test\.ts$/.test(entry.name)) out.push(full);
  }
  return out;
}

let files = ['src', 'bench', 'scripts', 'web'].filter((d) => existsSync(path.join(root, d))).flatMap((d) => findTests(path.join(root, d)));
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
files.sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const env = { ...process.env };
let postgres;
if (!env.KEISAN_TEST_POSTGRES_URL) {
  if (findPostgresBin()) {
    postgres = await startThrowawayPostgres();
    env.KEISAN_TEST_POSTGRES_URL = postgres.url;
    console.log(`# PostgreSQL ${postgres.version} started for this run at ${postgres.url}`);
  } else if (env.KEISAN_REQUIRE_SERVICES === '1') {
    console.error('KEISAN_REQUIRE_SERVICES=1 but PostgreSQL is not installed: run npm run deps');
    process.exit(1);
  } else {
    console.log('# PostgreSQL is not installed: store tests run on SQLite only (npm run deps installs PostgreSQL)');
  }
}

let swift;
let mariadb;
const stopServices = async () => {
  await Promise.allSettled([postgres?.stop(), swift?.stop(), mariadb?.stop()]);
};
if (!env.KEISAN_TEST_S3_URL) {
  if (swiftInstalled()) {
    try {
      swift = await startThrowawaySwift();
    } catch (error) {
      await stopServices();
      throw error;
    }
    Object.assign(env, swift.env);
    console.log(`# Swift ${swift.version} with s3api started for this run at ${swift.endpoint}`);
  } else if (env.KEISAN_REQUIRE_SERVICES === '1') {
    console.error('KEISAN_REQUIRE_SERVICES=1 but OpenStack Swift is not installed: run npm run deps');
    await stopServices();
    process.exit(1);
  } else {
    console.log('# OpenStack Swift is not installed: archive-s3 tests are skipped (npm run deps installs it)');
  }
}

// SLURM's test clusters with accounting each get a database of this one MariaDB (without it,
// each would start a MariaDB of its own).
const slurmAccountingInstalled = ['slurmctld', 'slurmd', 'slurmdbd', 'munged', 'sbatch', 'sacct', 'sacctmgr'].every((p) =>
  ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(path.join(d, p))),
);
if (!env.KEISAN_TEST_MARIADB_URL) {
  if (mariadbInstalled() && slurmAccountingInstalled) {
    try {
      mariadb = await startThrowawayMariadb();
    } catch (error) {
      await stopServices();
      throw error;
    }
    env.KEISAN_TEST_MARIADB_URL = mariadb.url;
    console.log(`# MariaDB ${mariadb.version} started for this run (slurmdbd of the SLURM test clusters) at 127.0.0.1:${new URL(mariadb.url).port}`);
  } else if (env.KEISAN_REQUIRE_SERVICES === '1') {
    console.error('KEISAN_REQUIRE_SERVICES=1 but SLURM with accounting (slurm-wlm, slurmdbd, munge) or MariaDB (mariadb-server) is not installed: run npm run deps');
    await stopServices();
    process.exit(1);
  } else {
    console.log('# SLURM with accounting or MariaDB is not installed: SLURM accounting tests are skipped (npm run deps installs slurm-wlm, slurmdbd, munge, mariadb-server)');
  }
}

// Two test files at a time: this suite is sized for a 2-core machine.
const concurrency = Number(process.env.KEISAN_TEST_CONCURRENCY ?? 2);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { cwd: root, env, stdio: 'inherit' },
);
// Ctrl-C reaches the tests (same process group); the services run in their own groups.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await stopServices();
process.exit(code);
