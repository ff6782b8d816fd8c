import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { cliEnv, KEISAN_BIN, REPO_ROOT } from '../../cli/testing.ts';
import { freePort } from '../../lib/net.ts';
import { initTestDataDir } from '../testing.ts';

/**
 * For the HA test and bench/failover.ts: a fresh PostgreSQL database, one data directory shared
 * by two `keisan server` processes on loopback ports (as a shared filesystem would be across two
 * hosts), and helpers to run, kill and wait for them.
 */
export interface HaLab {
  dir: string;
  databaseUrl: string;
  servers: [string, string];
  ports: [number, number];
  dispose(): Promise<void>;
}

/** A fresh database on the PostgreSQL of KEISAN_TEST_POSTGRES_URL (dropped by dispose) and a data directory for two servers. */
export async function createHaLab(adminUrl: string, extra: Record<string, unknown> = {}): Promise<HaLab> {
  const name = `keisan_ha_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const ports: [number, number] = [await freePort(), await freePort()];
  const servers: [string, string] = [`http://127.0.0.1:${ports[0]}`, `http://127.0.0.1:${ports[1]}`];
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-ha-'));
  // Jobs run as the submitting user when the server is root: the directory must be reachable.
  chmodSync(dir, 0o755);
  initTestDataDir(path.join(dir, 'data'), { database: { url: url.toString() }, ha: { servers, pollEvery: '250ms' }, ...extra });
  return {
    dir,
    databaseUrl: url.toString(),
    servers,
    ports,
    async dispose() {
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Resolves when a line containing `text` has appeared in the output after `from` characters. */
  waitFor(text: string, timeoutMs: number, from?: number): Promise<void>;
}

/** `keisan server --data DIR --port PORT` (an HA server: it stands by or takes over). */
export function spawnServer(dataDir: string, port: number, env: NodeJS.ProcessEnv = {}): ServerProcess {
  const child = spawn(process.execPath, [KEISAN_BIN, 'server', '--data', dataDir, '--port', String(port)], {
    cwd: REPO_ROOT,
    env: { ...cliEnv(path.join(dataDir, '..', 'server-home')), KEISAN_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async waitFor(text, timeoutMs, from = 0) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (output.indexOf(text, from) >= 0) return;
        if (child.exitCode !== null || child.signalCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`keisan server on port ${port} did not log '${text}' within ${timeoutMs} ms:\n${output.slice(-4000)}`);
    },
  };
}

/** kill -9, resolved once the process is gone (and reaped). */
export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** SIGTERM (SIGKILL after 10 s), resolved once the process is gone. */
export function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
