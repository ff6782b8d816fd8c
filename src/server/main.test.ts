import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initTestDataDir } from './testing.ts';

const BIN = fileURLToPath(new URL('../../bin/keisan.js', import.meta.url));
const required = process.env.KEISAN_REQUIRE_SERVICES === '1';
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

function dataDir(extra: Record<string, unknown> = {}): string {
  return initTestDataDir(mkdtempSync(path.join(tmpdir(), 'keisan-server-test-')), extra);
}

interface Started {
  child: ChildProcess;
  output: () => string;
  url: string;
}

/** Runs `keisan server` as a real process and waits for its "listening" line. */
async function startServerProcess(dir: string): Promise<Started> {
  const child = spawn(process.execPath, [BIN, 'server', '--data', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const line = output.split('\n').find((l) => l.includes('keisan server listening'));
    if (line) return { child, output: () => output, url: (JSON.parse(line) as { url: string }).url };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`keisan server did not start:\n${output}`);
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

describe('keisan server process', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('migrates, creates the first operator with its password only in a 0600 file, and stops cleanly on SIGTERM', async () => {
    const dir = dataDir();
    dirs.push(dir);
    const server = await startServerProcess(dir);
    const passwordFile = path.join(dir, 'operator-password');
    assert.equal(statSync(passwordFile).mode & 0o777, 0o600);
    const [name, password] = readFileSync(passwordFile, 'utf8').trim().split('\n');
    assert.equal(name, 'admin');
    assert.ok(password && password.length >= 20);
    assert.ok(!server.output().includes(password), 'the operator password must never appear in the log');
    const login = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: name, password }) });
    assert.equal(login.status, 200);
    assert.equal(await stop(server.child), 0);
    assert.ok(!server.output().includes(password));

    // A second start keeps the operator and does not write a new password.
    const again = await startServerProcess(dir);
    assert.equal(readFileSync(passwordFile, 'utf8').trim().split('\n')[1], password);
    assert.equal(await stop(again.child), 0);
  });

  it('refuses a facility file with an unknown field, naming it', () => {
    const dir = dataDir({ sever: { port: 1 } });
    dirs.push(dir);
    const result = spawnSync(process.execPath, [BIN, 'server', '--data', dir, '--port', '0'], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /unknown field 'sever'/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace for a configuration mistake');
  });

  it('serves HTTPS when given a certificate and key, and the CLI trusts it through NODE_EXTRA_CA_CERTS', { skip: !hasOpenssl && !required ? 'openssl is not installed (npm run deps)' : false }, async () => {
    const dir = dataDir({ server: { host: '127.0.0.1', port: 8470, tls: { cert: 'tls/cert.pem', key: 'tls/key.pem' } } });
    dirs.push(dir);
    const tls = path.join(dir, 'tls');
    const made = spawnSync('sh', ['-c', `mkdir -p ${tls} && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout ${tls}/key.pem -out ${tls}/cert.pem`], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const server = await startServerProcess(dir);
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const password = readFileSync(path.join(dir, 'operator-password'), 'utf8').trim().split('\n')[1]!;
      const home = mkdtempSync(path.join(tmpdir(), 'keisan-home-'));
      dirs.push(home);
      const env = { ...process.env, KEISAN_HOME: home, NODE_EXTRA_CA_CERTS: path.join(tls, 'cert.pem') };
      const login = spawnSync(process.execPath, [BIN, 'login', 'admin', '--password-stdin', '--server', server.url], { input: password, env, encoding: 'utf8' });
      assert.equal(login.status, 0, login.stderr);
      const whoami = spawnSync(process.execPath, [BIN, 'whoami', '--json'], { env, encoding: 'utf8' });
      assert.equal(whoami.status, 0, whoami.stderr);
      assert.equal((JSON.parse(whoami.stdout) as { server: string }).server, server.url);

      // Without trusting the certificate the CLI refuses and says it cannot reach the server.
      const untrusted = spawnSync(process.execPath, [BIN, 'whoami', '--server', server.url], { env: { ...env, NODE_EXTRA_CA_CERTS: '' }, encoding: 'utf8' });
      assert.equal(untrusted.status, 1);
      assert.match(untrusted.stderr, /cannot reach the Keisan server/);
    } finally {
      await stop(server.child);
    }
  });
});
