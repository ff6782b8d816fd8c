#!/usr/bin/env node
// A throwaway MariaDB for tests (slurmdbd's database in src/batch/executors/slurm/testing.ts):
// private data directory (mariadb-install-db), private socket, a free 127.0.0.1 port, a user
// `keisan` with a random password allowed everything (each test cluster creates its own
// database), durability off, gone when stopped.
//
//   node scripts/throwaway-mariadb.js                 prints the URL, runs until Ctrl-C
//   node scripts/throwaway-mariadb.js -- CMD ARGS…    runs CMD with KEISAN_TEST_MARIADB_URL set, then stops
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SBIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8', env: { PATH: SBIN_PATH } }).status === 0;
}

/** True when the Debian package mariadb-server (npm run deps) is installed. */
export function mariadbInstalled() {
  return ['mariadbd', 'mariadb-install-db', 'mariadb'].every(onPath);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function tail(file) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '(no log)';
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs SQL through the server's socket as root (unix-socket authentication). */
function sqlAsRoot(socket, sql) {
  return spawnSync('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '--batch', '-e', sql], { encoding: 'utf8', env: { PATH: SBIN_PATH }, timeout: 30_000 });
}

/**
 * Starts a private mariadbd and waits until it accepts the test user over TCP. Returns its URL
 * (`mysql://keisan:PASSWORD@127.0.0.1:PORT`), version, and stop().
 */
export async function startThrowawayMariadb({ timeoutMs = 60_000 } = {}) {
  if (!mariadbInstalled()) throw new Error('MariaDB is not installed (npm run deps installs mariadb-server)');
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-mariadb-'));
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'sock');
  const log = path.join(dir, 'error.log');
  const isRoot = process.getuid?.() === 0;
  // mariadbd refuses to run as root: as root it runs as the 'mysql' system user.
  const user = isRoot ? 'mysql' : spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
  if (isRoot) {
    const uid = Number(spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'mysql'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const stopFiles = () => rmSync(dir, { recursive: true, force: true });
  const install = spawnSync(
    'mariadb-install-db',
    ['--no-defaults', `--user=${user}`, `--datadir=${data}`, '--skip-test-db', '--auth-root-authentication-method=socket', '--skip-name-resolve'],
    { encoding: 'utf8', env: { PATH: SBIN_PATH }, timeout: timeoutMs },
  );
  if (install.status !== 0) {
    stopFiles();
    throw new Error(`mariadb-install-db failed: ${(install.stderr || install.stdout).trim().slice(-1000)}`);
  }
  const port = await freePort();
  const out = openSync(path.join(dir, 'mariadbd.out'), 'a');
  const child = spawn(
    'mariadbd',
    [
      '--no-defaults', `--user=${user}`, `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1',
      `--pid-file=${path.join(dir, 'mariadbd.pid')}`, `--log-error=${log}`, '--skip-name-resolve', '--skip-log-bin',
      // A test database: small, and fast rather than durable. slurmdbd asks for a longer lock wait.
      '--innodb-buffer-pool-size=64M', '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0', '--innodb-lock-wait-timeout=900',
      '--max-connections=300',
    ],
    // Its own process group: a Ctrl-C meant for the tests must not stop it before they clean up.
    { detached: true, stdio: ['ignore', out, out], env: { PATH: SBIN_PATH } },
  );
  closeSync(out);
  child.unref();
  const pid = child.pid;
  const password = randomBytes(12).toString('hex');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (pid !== undefined && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (alive(pid) && Date.now() < deadline) await sleep(50);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    stopFiles();
  };
  const killNow = () => {
    if (!stopped && pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
  };
  process.once('exit', killNow);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || (pid !== undefined && !alive(pid))) throw new Error(`mariadbd exited before answering: ${tail(log)}`);
      if (existsSync(socket) && sqlAsRoot(socket, 'SELECT 1').status === 0) break;
      if (Date.now() > deadline) throw new Error(`mariadbd did not answer on ${socket} within ${Math.round(timeoutMs / 1000)} s: ${tail(log)}`);
      await sleep(100);
    }
    const grant = sqlAsRoot(
      socket,
      `CREATE USER 'keisan'@'127.0.0.1' IDENTIFIED BY '${password}'; GRANT ALL PRIVILEGES ON *.* TO 'keisan'@'127.0.0.1' WITH GRANT OPTION;`,
    );
    if (grant.status !== 0) throw new Error(`creating the test user failed: ${grant.stderr.trim()}`);
  } catch (error) {
    await stop();
    throw error;
  }
  const version = /\d+\.\d+\.\d+/.exec(spawnSync('mariadbd', ['--version'], { encoding: 'utf8', env: { PATH: SBIN_PATH } }).stdout)?.[0] ?? 'unknown';
  return {
    url: `mysql://keisan:${password}@127.0.0.1:${port}`,
    version,
    async stop() {
      process.removeListener('exit', killNow);
      await stop();
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await startThrowawayMariadb();
  const dashdash = process.argv.indexOf('--');
  if (dashdash >= 0 && process.argv.length > dashdash + 1) {
    const [command, ...args] = process.argv.slice(dashdash + 1);
    const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, KEISAN_TEST_MARIADB_URL: server.url } });
    const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
    await server.stop();
    process.exit(code);
  }
  console.log(`KEISAN_TEST_MARIADB_URL=${server.url}`);
  console.log(`# MariaDB ${server.version}; Ctrl-C stops it`);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      void server.stop().then(() => process.exit(0));
    });
  }
  setInterval(() => undefined, 1 << 30); // mariadbd is unref'd: keep this process until a signal
}
