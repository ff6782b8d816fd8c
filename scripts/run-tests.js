#!/usr/bin/env node
// Runs every *.test.ts under src/ (and bench/, scripts/) with node:test through tsx.
// When PostgreSQL is installed and KEISAN_TEST_POSTGRES_URL is not set, starts a throwaway
// cluster on a private port and socket directory for the run, and removes it afterwards.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPostgresBin, startThrowawayPostgres } from './throwaway-postgres.js';

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

let files = ['src', 'bench', 'scripts'].filter((d) => existsSync(path.join(root, d))).flatMap((d) => findTests(path.join(root, d)));
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

// Two test files at a time: this suite is sized for a 2-core machine.
const concurrency = Number(process.env.KEISAN_TEST_CONCURRENCY ?? 2);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { cwd: root, env, stdio: 'inherit' },
);
const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
if (postgres) await postgres.stop();
process.exit(code);
