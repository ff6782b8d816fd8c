import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A throwaway OpenLDAP server for tests: Debian's slapd with its own slapd.conf (the core, cosine,
 * nis and inetorgperson schemas from /etc/ldap/schema), a private mdb database in a temporary
 * directory, listening on a free loopback port; the base entry is loaded with slapadd before start.
 * `stop()` kills it and removes the directory. Nothing of the machine's own LDAP setup is touched.
 */
export interface TestSlapd {
  url: string;
  port: number;
  baseDn: string;
  adminDn: string;
  adminPassword: string;
  /** A file holding adminPassword (for keisan.yaml's bindPasswordFile). */
  adminPasswordFile: string;
  dir: string;
  /** Stops slapd (the data stay) — the directory is down until `start()`. */
  halt(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const SLAPD = '/usr/sbin/slapd';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';

/** Why the LDAP tests cannot run here, or undefined when they can. */
export function slapdSkip(): string | undefined {
  if (!existsSync(SLAPD)) return 'slapd not installed: npm run deps (Debian slapd, ldap-utils)';
  if (!existsSync('/usr/bin/ldapsearch')) return 'ldap-utils not installed: npm run deps';
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode} before listening`);
    const ok = spawnSync('/usr/bin/ldapsearch', ['-x', '-H', `ldap://127.0.0.1:${port}/`, '-s', 'base', '-b', '', '-LLL', 'namingContexts'], { timeout: 2000 });
    if (ok.status === 0) return;
    await sleep(100);
  }
  throw new Error(`slapd did not answer on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export async function startTestSlapd(options: { baseDn?: string } = {}): Promise<TestSlapd> {
  const baseDn = options.baseDn ?? 'dc=keisan,dc=test';
  const dc = /^dc=([^,]+)/.exec(baseDn)?.[1] ?? 'keisan';
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-slapd-'));
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  const adminDn = `cn=admin,${baseDn}`;
  const adminPassword = 'test-admin-secret';
  const adminPasswordFile = path.join(dir, 'admin.secret');
  writeFileSync(adminPasswordFile, `${adminPassword}\n`, { mode: 0o600 });
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      ...['core', 'cosine', 'nis', 'inetorgperson'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
      `pidfile ${dir}/slapd.pid`,
      `argsfile ${dir}/slapd.args`,
      `modulepath ${MODULE_DIR}`,
      'moduleload back_mdb',
      'database mdb',
      'maxsize 104857600',
      `suffix "${baseDn}"`,
      `rootdn "${adminDn}"`,
      `rootpw ${adminPassword}`,
      `directory ${dataDir}`,
      'index objectClass eq',
      'index uid,memberUid eq',
      // Passwords: a user may bind with its own; nobody else but the rootdn reads them.
      'access to attrs=userPassword by self =xw by anonymous auth by * none',
      'access to * by * read',
      '',
    ].join('\n'),
  );
  const ldif = `dn: ${baseDn}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: Keisan test\ndc: ${dc}\n`;
  const added = spawnSync(SLAPD.replace('slapd', 'slapadd'), ['-f', conf], { input: ldif });
  if (added.status !== 0) throw new Error(`slapadd failed: ${added.stderr.toString()}`);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    // -d 0: stay in the foreground (so the test owns the process), log nothing.
    const started = spawn(SLAPD, ['-f', conf, '-h', `${url}/`, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child = started;
    try {
      await waitForPort(port, started, 15_000);
    } catch (error) {
      started.kill('SIGKILL');
      throw new Error(`${error instanceof Error ? error.message : String(error)}: ${stderr}`);
    }
  };
  const halt = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
  };
  await start();
  return {
    url,
    port,
    baseDn,
    adminDn,
    adminPassword,
    adminPasswordFile,
    dir,
    halt,
    start,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
