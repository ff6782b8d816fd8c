import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../../lib/net.ts';

/**
 * A private Network UPS Tools 2.8 on loopback for tests: upsd plus the dummy-ups driver on a
 * UPS named `dummy` whose state the test sets (/work/shared/notes/recipes.md §2, without upsmon:
 * Keisan's power monitor is the client). Everything lives in a temporary directory; `stop()`
 * ends every process it started, and an exit hook does it too if a test dies first.
 */

/** Debian's /usr/sbin/upsd is a wrapper that exits when nut.conf says MODE=none: use the real ones. */
const UPSD = '/lib/nut/upsd';
const DRIVER = '/lib/nut/dummy-ups';
const tool = (name: string) => ['/usr/bin', '/usr/sbin', '/sbin', '/bin'].map((d) => path.join(d, name)).find((p) => existsSync(p));
const UPSDRVCTL = tool('upsdrvctl');
const UPSRW = tool('upsrw');

export const NUT_SKIP_REASON: string | undefined =
  !existsSync(UPSD) || !existsSync(DRIVER) || !UPSDRVCTL || !UPSRW ? 'Network UPS Tools is not installed (npm run deps installs the Debian packages nut-server and nut-client)' : undefined;

/** A suite that needs NUT: skipped without it, failed with KEISAN_REQUIRE_SERVICES=1. */
export function describeWithNut(title: string, suite: () => void): void {
  if (NUT_SKIP_REASON && process.env.KEISAN_REQUIRE_SERVICES === '1') {
    describe(title, () => {
      it('has what it needs', () => {
        throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${NUT_SKIP_REASON}`);
      });
    });
    return;
  }
  describe(title, { skip: NUT_SKIP_REASON }, suite);
}

export interface TestNut {
  dir: string;
  port: number;
  ups: 'dummy';
  /** `dummy@127.0.0.1:PORT` as keisan.yaml's power.ups takes it. */
  address: string;
  monitor: { user: string; password: string };
  /** Sets ups.status through upsd (upsrw, instant) and waits until upsd reports it. */
  setStatus(flags: string): Promise<void>;
  /** Stops the driver: upsd then answers ERR DATA-STALE (or DRIVER-NOT-CONNECTED). */
  stopDriver(): Promise<void>;
  /** Starts the driver again (after stopDriver), with the status in ups.dev (OL unless changed). */
  startDriver(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<TestNut>();
process.once('exit', () => {
  for (const nut of live) for (const pid of pidsOf(nut.dir)) killQuietly(pid, 'SIGKILL');
});

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The driver's pid (written by upsdrvctl) and upsd's (written by the test). */
function pidsOf(dir: string): number[] {
  const pids: number[] = [];
  for (const file of ['upsd.fg.pid', 'dummy-ups-dummy.pid']) {
    try {
      const pid = Number(readFileSync(path.join(dir, 'state', file), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) pids.push(pid);
    } catch {
      // not started
    }
  }
  return pids;
}

async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`NUT test server: ${what} within ${timeoutMs} ms`);
}

/** GET VAR over a fresh connection (no NutClient: the helper must not depend on the code under test). */
async function readStatus(port: number): Promise<string | null> {
  const { Socket } = await import('node:net');
  return new Promise((resolve) => {
    const socket = new Socket();
    let data = '';
    const done = (value: string | null) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(1000, () => done(null));
    socket.on('error', () => done(null));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const line = data.split('\n')[0];
      if (data.includes('\n')) done(/^VAR dummy ups\.status "(.*)"$/.exec(line ?? '')?.[1] ?? null);
    });
    socket.connect(port, '127.0.0.1', () => socket.write('GET VAR dummy ups.status\n'));
  });
}

export async function startTestNut(initial = 'OL'): Promise<TestNut> {
  if (NUT_SKIP_REASON) throw new Error(NUT_SKIP_REASON);
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-nut-'));
  const port = await freePort();
  const runAs = userInfo().username;
  const env = { ...process.env, NUT_CONFPATH: path.join(dir, 'etc'), NUT_STATEPATH: path.join(dir, 'state'), NUT_ALTPIDPATH: path.join(dir, 'state') };
  for (const sub of ['etc', 'state', 'log']) mkdirSync(path.join(dir, sub));
  const file = (name: string, text: string) => writeFileSync(path.join(dir, 'etc', name), text, { mode: 0o600 });
  file('ups.dev', `ups.status: ${initial}\nbattery.charge: 100\nbattery.runtime: 1800\n`);
  file('ups.conf', `[dummy]\n  driver = dummy-ups\n  port = ${path.join(dir, 'etc', 'ups.dev')}\n  mode = dummy-once\n  pollinterval = 1\n  desc = "Keisan test UPS"\n`);
  file('upsd.conf', `LISTEN 127.0.0.1 ${port}\n`);
  file('upsd.users', '[monuser]\n  password = monpass\n  upsmon primary\n[admin]\n  password = adminpass\n  actions = SET\n');
  chmodSync(path.join(dir, 'state'), 0o700);

  const nut: TestNut = {
    dir,
    port,
    ups: 'dummy',
    address: `dummy@127.0.0.1:${port}`,
    monitor: { user: 'monuser', password: 'monpass' },
    async setStatus(flags: string) {
      const set = spawnSync(UPSRW!, ['-s', `ups.status=${flags}`, '-u', 'admin', '-p', 'adminpass', `dummy@127.0.0.1:${port}`], { env, encoding: 'utf8', timeout: 10_000 });
      if (set.status !== 0) throw new Error(`upsrw failed (${set.status}): ${set.stderr}${set.stdout}`);
      await until(`ups.status ${flags} did not show`, 5000, async () => (await readStatus(port)) === flags);
    },
    async stopDriver() {
      const pid = pidsOf(dir)[1];
      if (pid === undefined) return;
      killQuietly(pid, 'SIGTERM');
      await until('the driver did not stop', 5000, () => !alive(pid));
    },
    async startDriver() {
      const driver = spawnSync(UPSDRVCTL!, ['-u', runAs, 'start', 'dummy'], { env, encoding: 'utf8', timeout: 30_000 });
      if (driver.status !== 0) throw new Error(`upsdrvctl start dummy failed (${driver.status}): ${driver.stderr}${driver.stdout}`);
      await until('upsd did not see the driver again', 15_000, async () => (await readStatus(port)) !== null);
    },
    async stop() {
      const pids = pidsOf(dir);
      for (const pid of pids) killQuietly(pid, 'SIGTERM');
      try {
        await until('NUT did not stop', 5000, () => pids.every((pid) => !alive(pid)));
      } catch {
        for (const pid of pids) killQuietly(pid, 'SIGKILL');
      }
      live.delete(nut);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(nut);
  try {
    const driver = spawnSync(UPSDRVCTL!, ['-u', runAs, 'start', 'dummy'], { env, encoding: 'utf8', timeout: 30_000 });
    if (driver.status !== 0) throw new Error(`upsdrvctl start dummy failed (${driver.status}): ${driver.stderr}${driver.stdout}`);
    const upsd = spawn(UPSD, ['-u', runAs, '-F'], { env, stdio: ['ignore', 'ignore', 'ignore'] });
    writeFileSync(path.join(dir, 'state', 'upsd.fg.pid'), `${upsd.pid}\n`);
    upsd.unref();
    await until('upsd did not answer', 15_000, async () => (await readStatus(port)) === initial);
  } catch (error) {
    await nut.stop();
    throw error;
  }
  return nut;
}
