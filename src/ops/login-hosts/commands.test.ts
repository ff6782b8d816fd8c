import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import { expectCode, REPO_ROOT, runKeisan, type Run } from '../../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../../server/facility.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { initTestDataDir } from '../../server/testing.ts';

/**
 * The real CLI (keisan login-host, login-hosts, login-check, admin workgroup set --login-networks)
 * and the real deploy/ssh/keisan-login-proxy against a real server whose keisan.yaml has two
 * login hosts and a workgroup with login networks.
 */

const PROXY = path.join(REPO_ROOT, 'deploy/ssh/keisan-login-proxy');
const HAS_NC = spawnSync('sh', ['-c', 'command -v nc'], { encoding: 'utf8' }).status === 0;
const REQUIRED = process.env.KEISAN_REQUIRE_SERVICES === '1';

/** Runs the proxy script as ssh would (ProxyCommand keisan-login-proxy %r %p), stdin piped through. */
function runProxy(args: string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [PROXY, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

describe('keisan login-host, login-hosts, login-check and keisan-login-proxy, end to end', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-login-hosts-cli-'));
  const data = path.join(scratch, 'data');
  const home = path.join(scratch, 'op');
  const fakeNc = path.join(scratch, 'fake-nc');
  let server: RunningServer;
  let sshd: Server;
  let sshdPort = 0;
  const keisan = (args: string[]) => runKeisan(home, args);
  const report = (host: string, load1: number) =>
    server.app.keisan.monitor.ingest(
      {
        host,
        at: new Date().toISOString(),
        samples: [
          { name: 'node_time_seconds', labels: {}, value: Date.now() / 1000 },
          { name: 'node_load1', labels: {}, value: load1 },
          { name: 'node_cpu_seconds_total', labels: { cpu: '0', mode: 'idle' }, value: 1 },
          { name: 'node_cpu_seconds_total', labels: { cpu: '1', mode: 'idle' }, value: 1 },
        ],
        checks: [],
      },
      Date.now(),
    );

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    // A stand-in for login1's sshd on loopback: it greets like sshd and echoes what it gets.
    sshd = createServer((socket) => {
      socket.write('SSH-2.0-stand-in\r\n');
      socket.setEncoding('utf8').on('data', (line: string) => socket.end(line));
    });
    await new Promise<void>((resolve) => sshd.listen(0, '127.0.0.1', resolve));
    sshdPort = (sshd.address() as AddressInfo).port;
    initTestDataDir(data, {
      inventory: {
        hosts: [
          { name: 'login1', roles: ['login'], addresses: ['127.0.0.1'] },
          { name: 'login2', roles: ['login'], addresses: ['2001:db8::22'] },
        ],
      },
      workgroups: [
        { name: 'central', subgroups: [{ name: 'staff' }] },
        { name: 'lab', loginNetworks: ['10.1.0.0/16'], subgroups: [{ name: 'lab-a' }] },
      ],
    });
    server = await startServer({ dataDir: data, port: 0 });
    await server.app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-a', password: 'alice password' });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    expectCode(await runKeisan(home, ['login', name, '--password-stdin', '--server', server.url], password), 0);
    writeFileSync(fakeNc, '#!/bin/sh\necho "nc $*"\n');
    chmodSync(fakeNc, 0o755);
  });

  after(async () => {
    await server?.close();
    await new Promise<void>((resolve) => (sshd ? sshd.close(() => resolve()) : resolve()));
    rmSync(scratch, { recursive: true, force: true });
  });

  it('keisan.yaml login networks show on the workgroup; operators change them with --login-networks (checked)', async () => {
    assert.match(expectCode(await keisan(['admin', 'workgroup', 'show', 'lab']), 0).stdout, /^login networks\s+10\.1\.0\.0\/16$/m);
    const set = expectCode(await keisan(['admin', 'workgroup', 'set', 'lab', '--login-networks', '10.1.0.0/16,2001:db8::/32']), 0);
    assert.match(set.stdout, /^login networks\s+10\.1\.0\.0\/16, 2001:db8::\/32$/m);
    const bad = expectCode(await keisan(['admin', 'workgroup', 'set', 'lab', '--login-networks', '10.1.2.3/16']), 2);
    assert.match(bad.stderr, /did you mean 10\.1\.0\.0\/16\?/);
    assert.match(expectCode(await keisan(['admin', 'workgroup', 'show', 'central']), 0).stdout, /^login networks\s+anywhere$/m);
  });

  it('keisan login-check: exit 1 with the reason outside the networks, 0 inside; PAM_USER/PAM_RHOST; --fail-open', async () => {
    const outside = expectCode(await keisan(['login-check', '--user', 'alice', '--from', '192.0.2.7', '--host', 'login1', '--data', data, '--server', server.url]), 1);
    assert.match(outside.stderr, /login refused: alice from 192\.0\.2\.7/);
    assert.match(outside.stdout, /^refused: alice may not log in from 192\.0\.2\.7: it is not in any network alice's workgroups allow \(workgroup lab: 10\.1\.0\.0\/16, 2001:db8::\/32\)/);
    const inside = expectCode(await keisan(['login-check', '--user', 'alice', '--from', '2001:db8::7', '--data', data, '--server', server.url]), 0);
    assert.match(inside.stdout, /^allowed: 2001:db8::7 is in workgroup lab's login network 2001:db8::\/32/);
    process.env.PAM_USER = 'alice';
    process.env.PAM_RHOST = '10.1.4.4';
    try {
      assert.match(expectCode(await keisan(['login-check', '--data', data, '--server', server.url]), 0).stdout, /^allowed: 10\.1\.4\.4 is in workgroup lab's login network 10\.1\.0\.0\/16/);
    } finally {
      delete process.env.PAM_USER;
      delete process.env.PAM_RHOST;
    }
    const down = expectCode(await keisan(['login-check', '--user', 'alice', '--from', '192.0.2.7', '--data', data, '--server', 'http://127.0.0.1:9']), 1);
    assert.match(down.stderr, /cannot reach the Keisan server at http:\/\/127\.0\.0\.1:9/);
    const open = expectCode(await keisan(['login-check', '--user', 'alice', '--from', '192.0.2.7', '--data', data, '--server', 'http://127.0.0.1:9', '--fail-open']), 0);
    assert.match(open.stderr, /allowing the login \(--fail-open\)/);
  });

  it('keisan login-host: 503 while no login host reports; then one host, -q its address, and the pool', async () => {
    const none = expectCode(await keisan(['login-host']), 1);
    assert.match(none.stderr, /no login host can take users now: login1 is health unknown.*login2 is health unknown/);
    report('login1', 0);
    report('login2', 2);
    const one = expectCode(await keisan(['login-host', '--user', 'alice']), 0);
    assert.match(one.stdout, /^host\s+login[12]$/m);
    assert.match(one.stdout, /^why\s+round robin weighted by load over 2 login hosts/m);
    assert.match(one.stdout, /^HOST\s+ADDRESS\s+STATE\s+WEIGHT\s+WHY/m);
    const chosen = /^host\s+(login[12])$/m.exec(one.stdout)![1]!;
    const quiet = expectCode(await keisan(['login-host', '--user', 'alice', '-q']), 0);
    assert.equal(quiet.stdout, chosen === 'login1' ? '127.0.0.1\n' : '2001:db8::22\n', 'alice stays on her host');
    const pool = expectCode(await keisan(['login-hosts']), 0);
    assert.match(pool.stdout, /^login1\s+127\.0\.0\.1\s+in-pool\s+1\.00\s+healthy/m);
    assert.match(pool.stdout, /^login2\s+2001:db8::22\s+in-pool\s+0\.50\s+healthy/m);
  });

  it('keisan-login-proxy asks the endpoint and hands the address to nc (fake nc: its arguments)', async () => {
    expectCode(await keisan(['login-hosts', 'drain', 'login1', '--reason', 'test: only login2']), 0);
    try {
      const run = await runProxy(['bob', '22'], { KEISAN_SERVER: server.url, KEISAN_LOGIN_NC: fakeNc });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'nc 2001:db8::22 22\n');
      expectCode(await keisan(['login-hosts', 'drain', 'login2', '--reason', 'test: none left']), 0);
      const none = await runProxy(['bob', '22'], { KEISAN_SERVER: server.url, KEISAN_LOGIN_NC: fakeNc });
      assert.equal(none.code, 1);
      assert.equal(none.stdout, '');
      assert.match(none.stderr, /^keisan-login-proxy: no login host from http:\/\/127\.0\.0\.1:\d+: no login host can take users now \(2 in the pool, none available\)/);
    } finally {
      await keisan(['login-hosts', 'undrain', 'login2']);
    }
  });

  it('keisan-login-proxy connects through the real nc to the chosen host (a stand-in sshd on loopback)', { skip: !HAS_NC && !REQUIRED ? 'nc is not installed (npm run deps installs netcat-openbsd)' : false }, async () => {
    assert.ok(HAS_NC, 'nc is not installed and KEISAN_REQUIRE_SERVICES=1: install netcat-openbsd (npm run deps)');
    expectCode(await keisan(['login-hosts', 'undrain', 'login1']), 0);
    expectCode(await keisan(['login-hosts', 'drain', 'login2', '--reason', 'test: only login1']), 0);
    try {
      const run = await runProxy(['bob', String(sshdPort)], { KEISAN_SERVER: server.url }, 'hello through the proxy\n');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'SSH-2.0-stand-in\r\nhello through the proxy\n');
    } finally {
      await keisan(['login-hosts', 'undrain', 'login2']);
    }
  });
});
