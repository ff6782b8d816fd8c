import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliEnv, expectCode, KEISAN_BIN, REPO_ROOT, runKeisan } from '../cli/testing.ts';
import { freePort } from '../lib/net.ts';
import { OPERATOR_PASSWORD_FILE } from '../server/facility.ts';
import { initTestDataDir } from '../server/testing.ts';
import type { AlertView } from './alerts/model.ts';
import { SMTP_SKIP_REASON, TestSmtpServer, type DeliveredMessage } from './testing-smtp.ts';

/**
 * Issue 5's "Done means", automated: a real `keisan server` and a real `keisan agent` (separate
 * processes, as an operator runs them), mail to a real SMTP server on loopback, and three things
 * broken and repaired in turn — a small tmpfs filled past 80 %, an essential process killed, an
 * IP conflict between two network namespaces. Each must raise an alert that says what and where
 * (`keisan alerts --json`), send mail saying so to the operator address, and resolve (with a
 * resolved mail) once repaired. bench/alerts-e2e.ts measures the same scenario's latencies.
 *
 * Needs root (mount, ip netns), iproute2, arping and the test SMTP server (aiosmtpd): skipped with
 * the reason otherwise, failed with KEISAN_REQUIRE_SERVICES=1.
 */

const have = (tool: string, ...args: string[]) => spawnSync(tool, args, { stdio: 'ignore', timeout: 10_000 }).error === undefined;
const SKIP_REASON =
  process.getuid?.() !== 0
    ? 'the alerts end-to-end test mounts a tmpfs and creates network namespaces: it needs root'
    : !have('ip', '-V')
      ? 'iproute2 (ip) is not installed'
      : !have('arping', '-V')
        ? 'arping (iputils-arping) is not installed'
        : !have('mount', '--version')
          ? 'mount is not installed'
          : SMTP_SKIP_REASON;

/** Skipped with the reason when something is missing; failed instead with KEISAN_REQUIRE_SERVICES=1. */
function describeWithServices(title: string, suite: () => void): void {
  if (SKIP_REASON && process.env.KEISAN_REQUIRE_SERVICES === '1') {
    describe(title, () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${SKIP_REASON}`);
    });
    return;
  }
  describe(title, { skip: SKIP_REASON }, suite);
}

/** Every wait polls; none waits longer than this (the checks run every 2 s, rules every 1 s). */
const WAIT_MS = 30_000;
const POLL_MS = 200;

function sh(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${(result.stderr || result.stdout || String(result.error)).trim()}`);
  return result.stdout;
}
const quietly = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 });

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS / 1000} s\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

describeWithServices('alerts end to end: keisan server + keisan agent + SMTP, three faults broken and repaired', () => {
  // Unique names: parallel runs and leftovers of a killed run do not collide.
  const tag = `${process.pid % 10_000}${randomInt(100, 999)}`;
  const HOST = `e2e-node-${tag}`;
  const OPS = 'ops@example.org';
  const ESSENTIAL = `keisan-e2e-essential-${tag}`;
  const nsA = `keisan-e2ea-${tag}`;
  const nsB = `keisan-e2eb-${tag}`;
  const vethA = `kea${tag}`;
  const vethB = `keb${tag}`;
  const address = `10.${randomInt(100, 250)}.${randomInt(1, 250)}.7`;
  // Intel's OUI (00:1B:21 in ieee-data): the alert names the other side's vendor.
  const otherMac = '00:1b:21:aa:bb:cc';

  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-e2e-alerts-'));
  const home = path.join(dir, 'home');
  const dataDir = path.join(dir, 'data');
  const mnt = path.join(dir, 'scratch');
  const fill = path.join(mnt, 'fill');
  let mounted = false;
  let netns = false;
  let smtp: TestSmtpServer | undefined;
  let server: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  let essential: ChildProcess | undefined;
  let base = '';
  let ticket = '';
  const logs: string[] = [];

  const daemon = (args: string[], env: NodeJS.ProcessEnv) => {
    const child = spawn(process.execPath, [KEISAN_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean).map((line) => `${args[0]}: ${line}`));
      logs.splice(0, Math.max(0, logs.length - 40));
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return child;
  };
  const spawnEssential = () => spawn('bash', ['-c', `exec -a ${ESSENTIAL} sleep 3600`], { stdio: 'ignore' });

  const api = async <T>(url: string): Promise<T> => {
    const response = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${ticket}` } });
    assert.equal(response.status, 200, `GET ${url}: ${response.status} ${await response.clone().text()}`);
    return (await response.json()) as T;
  };
  const alerts = (state: 'active' | 'all') => api<AlertView[]>(`/api/monitor/alerts?state=${state}&host=${HOST}`);
  const diagnostics = () => `last server/agent output:\n${logs.join('\n')}\nmail delivered: ${JSON.stringify(smtp?.messages().map((m) => m.subject))}`;

  /** Polls the API until an alert about `check` (its check label starts with it) fires. */
  const firingAlert = (check: string) =>
    until(`a firing alert for check ${check}`, async () => (await alerts('active')).find((a) => a.state === 'firing' && (a.labels.check ?? '').startsWith(check)), diagnostics);
  /** Polls the API until that very alert (same stored row) is resolved. */
  const resolvedAlert = (firing: AlertView) =>
    until(`alert ${firing.alertname} '${firing.summary}' resolved`, async () => (await alerts('all')).find((a) => a.id === firing.id && a.state === 'resolved'), diagnostics);
  const mail = (what: string, match: (m: DeliveredMessage) => boolean) =>
    until(`a mail to ${OPS}: ${what}`, () => smtp!.messages().find((m) => m.rcptTo.includes(OPS) && match(m)), diagnostics);

  /** The operator's view: `keisan alerts --json --host HOST` shows the alert firing with that summary. */
  const cliShows = async (firing: AlertView) => {
    const listed = JSON.parse(expectCode(await runKeisan(home, ['alerts', '--json', '--host', HOST]), 0).stdout) as AlertView[];
    const row = listed.find((a) => a.fingerprint === firing.fingerprint);
    assert.ok(row, `keisan alerts --json lists ${firing.alertname} '${firing.summary}'; it listed ${JSON.stringify(listed.map((a) => [a.alertname, a.summary]))}`);
    assert.equal(row.state, 'firing');
    assert.equal(row.summary, firing.summary);
    assert.equal(row.labels.host, HOST);
  };

  /** The firing mail says what (the summary, the rule and severity) and where (the host). */
  const expectFiringMail = async (firing: AlertView) => {
    const message = await mail(`[FIRING] ${firing.summary}`, (m) => /\[FIRING:\d+\]/.test(m.subject) && m.text.includes(`* ${firing.summary}\n`));
    assert.deepEqual(message.rcptTo, [OPS]);
    assert.match(message.subject, new RegExp(`\\[FIRING:\\d+\\] .*${HOST.replace(/[.-]/g, '\\$&')}`));
    assert.ok(message.text.includes(`  alert:    ${firing.alertname} (${firing.severity}) on ${HOST}\n`), message.text);
    assert.ok(message.text.includes(`check=${firing.labels.check}`), message.text);
    assert.ok(message.text.includes('  silence:  keisan silence add --match alertname='), message.text);
    return message;
  };
  const expectResolvedMail = async (firing: AlertView) => {
    const message = await mail(`[RESOLVED] ${firing.summary}`, (m) => /\[RESOLVED:\d+\]/.test(m.subject) && m.text.includes(`* ${firing.summary}\n`));
    assert.deepEqual(message.rcptTo, [OPS]);
    assert.match(message.text, /^1 resolved:$/m);
    assert.ok(message.text.includes(`  alert:    ${firing.alertname} (${firing.severity}) on ${HOST}\n`), message.text);
    return message;
  };

  before(async () => {
    mkdirSync(mnt);
    sh('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', `keisan-e2e-${tag}`, mnt]);
    mounted = true;

    // Two namespaces on a veth pair, exactly as checks/duplicate-ip.test.ts: A holds the address; B
    // (an Intel MAC) takes it too when the conflict is created.
    netns = true;
    sh('ip', ['netns', 'add', nsA]);
    sh('ip', ['netns', 'add', nsB]);
    sh('ip', ['link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB]);
    sh('ip', ['link', 'set', vethA, 'netns', nsA]);
    sh('ip', ['link', 'set', vethB, 'netns', nsB]);
    sh('ip', ['-n', nsB, 'link', 'set', 'dev', vethB, 'address', otherMac]);
    sh('ip', ['-n', nsA, 'addr', 'add', `${address}/24`, 'dev', vethA]);
    sh('ip', ['-n', nsA, 'link', 'set', vethA, 'up']);
    sh('ip', ['-n', nsB, 'link', 'set', vethB, 'up']);

    smtp = await TestSmtpServer.start();
    const port = await freePort();
    initTestDataDir(dataDir, {
      mail: { from: 'Keisan <keisan@example.org>', smtp: { host: '127.0.0.1', port: smtp.port } },
      monitor: {
        interval: '2s',
        metrics: { gpus: false },
        checks: {
          interval: '2s',
          // Only the three checks of this test: the machine's own state plays no part.
          roles: { all: [] },
          extra: [
            { type: 'filesystem', name: 'scratch', params: { mounts: [mnt] } },
            { type: 'process', name: 'essential', params: { name: 'essential daemon', pattern: `^${ESSENTIAL}( |$)` } },
            // arping -D waits up to 3 s for an answer: 5 s to run in, every 5 s.
            { type: 'duplicate-ip', name: 'dupip', interval: '5s', timeout: '5s', params: { netns: nsA, interfaces: [vethA], watchNeighbours: false } },
          ],
        },
        alerts: {
          evaluationInterval: '1s',
          group: { wait: '1s', interval: '2s' },
          // The disks of the machine running the test must not inhibit the tmpfs check's alert.
          rules: [{ name: 'FilesystemAlmostFull', disabled: true }],
          notify: { email: [OPS], operators: false },
        },
      },
    });
    const env: NodeJS.ProcessEnv = { ...cliEnv(home), KEISAN_PORT: String(port), KEISAN_LOG_LEVEL: 'warn' };
    base = `http://127.0.0.1:${port}`;
    server = daemon(['server', '--data', dataDir], env);
    await until('the server answering /api/health', () => (server!.exitCode !== null ? Promise.reject(new Error(`the server exited\n${diagnostics()}`)) : fetch(`${base}/api/health`).then((r) => (r.ok ? true : undefined), () => undefined)), diagnostics);
    const [user, password] = readFileSync(path.join(dataDir, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
    assert.equal(login.status, 200);
    ticket = ((await login.json()) as { ticket: string }).ticket;
    expectCode(await runKeisan(home, ['login', user!, '--password-stdin', '--server', base], `${password}\n`), 0);

    essential = spawnEssential();
    agent = daemon(['agent', '--data', dataDir, '--server', base, '--host', HOST, '--interval', '2s', '--metrics-port', 'off'], env);
    // Before anything is broken: every check of the node reports ok, and no alert is about them.
    const checks = await until(
      'the three checks reporting ok',
      async () => {
        const results = await api<{ check: string; status: string; summary: string }[]>(`/api/monitor/checks?host=${HOST}`);
        const ok = (prefix: string) => results.some((r) => r.check.startsWith(prefix) && r.status === 'ok');
        return ok('scratch') && ok('essential') && ok('dupip') ? results : undefined;
      },
      diagnostics,
    );
    assert.deepEqual(checks.filter((c) => c.status !== 'ok').map((c) => `${c.check}: ${c.summary}`), []);
    assert.deepEqual((await alerts('active')).map((a) => `${a.alertname}: ${a.summary}`), []);
  });

  after(async () => {
    essential?.kill('SIGKILL');
    await stopChild(agent);
    await stopChild(server);
    await smtp?.stop();
    if (mounted) quietly('umount', [mnt]);
    if (netns) {
      quietly('ip', ['netns', 'del', nsA]);
      quietly('ip', ['netns', 'del', nsB]);
      quietly('ip', ['link', 'del', vethA]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a filesystem filled past 80 %: an alert naming the mount and the host, mail; removing the file resolves it', async () => {
    const size = statfsSync(mnt);
    writeFileSync(fill, Buffer.alloc(Math.floor(size.blocks * size.bsize * 0.85), 1));
    const firing = await firingAlert('scratch');
    assert.equal(firing.alertname, 'CheckWarning');
    assert.equal(firing.severity, 'warning');
    assert.equal(firing.labels.host, HOST);
    assert.equal(firing.labels.type, 'filesystem');
    assert.match(firing.summary, new RegExp(`^${mnt} on ${HOST} is .*, above the warning threshold of 80 %$`));
    await cliShows(firing);
    await expectFiringMail(firing);

    rmSync(fill);
    const resolved = await resolvedAlert(firing);
    assert.equal(resolved.labels.check, firing.labels.check);
    await expectResolvedMail(firing);
  });

  it('an essential process killed: CheckCritical naming it and the host, mail; restarting it resolves it', async () => {
    essential!.kill('SIGKILL');
    const firing = await firingAlert('essential');
    assert.equal(firing.alertname, 'CheckCritical');
    assert.equal(firing.severity, 'critical');
    assert.equal(firing.labels.host, HOST);
    assert.equal(firing.labels.type, 'process');
    assert.match(firing.summary, new RegExp(`^essential daemon is not running on ${HOST} \\(`));
    await cliShows(firing);
    await expectFiringMail(firing);

    essential = spawnEssential();
    await resolvedAlert(firing);
    await expectResolvedMail(firing);
  });

  it('an IP conflict with another namespace: CheckCritical naming the other MAC and its vendor, mail; removing it resolves it', async () => {
    sh('ip', ['-n', nsB, 'addr', 'add', `${address}/24`, 'dev', vethB]);
    let firing: AlertView;
    try {
      firing = await firingAlert('dupip');
      assert.equal(firing.alertname, 'CheckCritical');
      assert.equal(firing.severity, 'critical');
      assert.equal(firing.labels.host, HOST);
      assert.equal(firing.labels.type, 'duplicate-ip');
      assert.match(firing.summary, new RegExp(`^${address.replace(/\./g, '\\.')} on ${vethA} of ${HOST} is also answered by ${otherMac} \\(Intel Corporate\\), ours is `));
      await cliShows(firing);
      await expectFiringMail(firing);
    } finally {
      sh('ip', ['-n', nsB, 'addr', 'del', `${address}/24`, 'dev', vethB]);
    }
    await resolvedAlert(firing);
    await expectResolvedMail(firing);
  });
});
