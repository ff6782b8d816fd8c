#!/usr/bin/env node
// A throwaway OpenStack Swift with s3api for tests and benchmarks (the archive-s3 tier's real
// test server): single node on loopback, 1-replica rings, storage in a private temp folder,
// tempauth user test:tester / testing (S3 access key `test:tester`, secret `testing`), free
// ports, gone when stopped. Recipe: /work/shared/notes/recipes.md §1 (Debian swift 2.30.1).
//
//   node scripts/throwaway-swift.js                 prints the environment, runs until Ctrl-C
//   node scripts/throwaway-swift.js -- CMD ARGS…    runs CMD with KEISAN_TEST_S3_* set, then stops
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SWIFT_ACCESS_KEY = 'test:tester';
export const SWIFT_SECRET_KEY = 'testing';
export const SWIFT_REGION = 'us-east-1';

const SERVERS = ['account', 'container', 'object', 'proxy'];

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}

/** True when the Debian packages (npm run deps) are installed. */
export function swiftInstalled() {
  return ['swift-proxy-server', 'swift-object-server', 'swift-container-server', 'swift-account-server', 'memcached', 'python3']
    .every(onPath);
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

async function waitHealthy(url, child, name, log, deadline) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`swift ${name} exited (${child.exitCode ?? child.signalCode}) before answering; see ${log}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`swift ${name} did not answer ${url} in time; see ${log}`);
}

// Rings for the three storage servers in one Python process (nine swift-ring-builder calls
// cost ~3 s; this ~0.5 s). Prints Swift's version.
const RING_SCRIPT = `
import sys
from swift import __version__
from swift.common.ring import RingBuilder
d = sys.argv[1]
for name, port in zip(('account', 'container', 'object'), sys.argv[2:5]):
    b = RingBuilder(6, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port), 'device': 'd1', 'weight': 1})
    b.rebalance()
    b.get_ring().save('%s/%s.ring.gz' % (d, name))
print(__version__)
`;

/**
 * Starts memcached, the account/container/object servers and the proxy (s3api + tempauth), and
 * waits for their health checks. Returns the endpoint, the credentials and stop().
 */
export async function startThrowawaySwift({ timeoutMs = 60_000 } = {}) {
  if (!swiftInstalled()) throw new Error('OpenStack Swift is not installed (npm run deps installs it)');
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'keisan-swift-')));
  const children = [];
  // Each daemon runs in its own process group (a Swift server is a parent and a worker):
  // stop() signals the whole group and waits until none of it is left.
  const alive = (child) => {
    try {
      process.kill(-child.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const stop = async () => {
    for (const child of children) if (alive(child)) process.kill(-child.pid, 'SIGTERM');
    const until = Date.now() + 10_000;
    for (const child of children) {
      while (alive(child) && Date.now() < until) await sleep(50);
      if (alive(child)) process.kill(-child.pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const user = userInfo().username;
    const ports = { proxy: await freePort(), account: await freePort(), container: await freePort(), object: await freePort(), memcached: await freePort() };
    mkdirSync(path.join(dir, 'srv', 'd1'), { recursive: true });
    mkdirSync(path.join(dir, 'log'));
    writeFileSync(path.join(dir, 'swift.conf'), [
      '[swift-hash]', 'swift_hash_path_prefix = keisan-test', 'swift_hash_path_suffix = keisan-test', '',
      '[storage-policy:0]', 'name = Policy-0', 'default = yes', '',
    ].join('\n'));
    for (const name of ['account', 'container', 'object']) {
      writeFileSync(path.join(dir, `${name}-server.conf`), [
        '[DEFAULT]', 'bind_ip = 127.0.0.1', `bind_port = ${ports[name]}`, 'workers = 1', `user = ${user}`,
        `swift_dir = ${dir}`, `devices = ${dir}/srv`, 'mount_check = false', '',
        '[pipeline:main]', `pipeline = healthcheck ${name}-server`, '',
        `[app:${name}-server]`, `use = egg:swift#${name}`, '',
        '[filter:healthcheck]', 'use = egg:swift#healthcheck', '',
      ].join('\n'));
    }
    const filters = ['catch_errors', 'gatekeeper', 'healthcheck', 'listing_formats', 'copy', 'slo', 'dlo', 'versioned_writes'];
    writeFileSync(path.join(dir, 'proxy-server.conf'), [
      '[DEFAULT]', 'bind_ip = 127.0.0.1', `bind_port = ${ports.proxy}`, 'workers = 1', `user = ${user}`, `swift_dir = ${dir}`, '',
      '[pipeline:main]',
      'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server',
      '',
      '[app:proxy-server]', 'use = egg:swift#proxy', 'account_autocreate = true', '',
      '[filter:s3api]', 'use = egg:swift#s3api', `location = ${SWIFT_REGION}`, '',
      '[filter:tempauth]', 'use = egg:swift#tempauth', 'user_test_tester = testing .admin', '',
      '[filter:cache]', 'use = egg:swift#memcache', `memcache_servers = 127.0.0.1:${ports.memcached}`, '',
      '[filter:proxy-logging]', 'use = egg:swift#proxy_logging', '',
      ...filters.flatMap((f) => [`[filter:${f}]`, `use = egg:swift#${f}`, '']),
    ].join('\n'));
    // The Debian python3 (the one Swift's scripts name), not a pyenv or venv one first on PATH.
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const rings = spawnSync(python, ['-c', RING_SCRIPT, dir, String(ports.account), String(ports.container), String(ports.object)], { encoding: 'utf8' });
    if (rings.status !== 0) throw new Error(`building the Swift rings failed: ${rings.stderr || rings.stdout}`);
    const version = rings.stdout.trim().split('\n').pop() || 'unknown';

    const launch = (name, command, args) => {
      const log = path.join(dir, 'log', `${name}.log`);
      const fd = openSync(log, 'a');
      const child = spawn(command, args, { stdio: ['ignore', fd, fd], detached: true });
      closeSync(fd);
      children.push(child);
      return { child, log };
    };
    const memcachedArgs = ['-l', '127.0.0.1', '-p', String(ports.memcached), '-U', '0'];
    if (process.getuid?.() === 0) memcachedArgs.push('-u', 'nobody');
    launch('memcached', 'memcached', memcachedArgs);
    const started = SERVERS.map((name) => ({ name, ...launch(name, `swift-${name}-server`, [path.join(dir, `${name}-server.conf`), '-v']) }));
    const deadline = Date.now() + timeoutMs;
    for (const { name, child, log } of started) {
      await waitHealthy(`http://127.0.0.1:${ports[name]}/healthcheck`, child, name, log, deadline);
    }
    return {
      endpoint: `http://127.0.0.1:${ports.proxy}`,
      region: SWIFT_REGION,
      accessKeyId: SWIFT_ACCESS_KEY,
      secretAccessKey: SWIFT_SECRET_KEY,
      version,
      dir,
      /** The environment the tests read. */
      env: {
        KEISAN_TEST_S3_URL: `http://127.0.0.1:${ports.proxy}`,
        KEISAN_TEST_S3_REGION: SWIFT_REGION,
        KEISAN_TEST_S3_ACCESS_KEY: SWIFT_ACCESS_KEY,
        KEISAN_TEST_S3_SECRET_KEY: SWIFT_SECRET_KEY,
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function main() {
  const t0 = Date.now();
  const swift = await startThrowawaySwift();
  let stopping = false;
  const finish = async (code) => {
    if (stopping) return;
    stopping = true;
    await swift.stop();
    process.exit(code);
  };
  const separator = process.argv.indexOf('--');
  const command = separator >= 0 ? process.argv.slice(separator + 1) : [];
  console.error(`# Swift ${swift.version} with s3api at ${swift.endpoint} (ready in ${Date.now() - t0} ms)`);
  if (command.length === 0) {
    for (const [key, value] of Object.entries(swift.env)) console.log(`export ${key}='${value}'`);
    console.error('# Ctrl-C stops it and removes its files');
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void finish(0));
    return;
  }
  const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env: { ...process.env, ...swift.env } });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => void finish(code ?? (signal ? 1 : 0)));
}

if (process.argv[1] && existsSync(process.argv[1]) && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
