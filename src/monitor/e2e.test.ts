import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { cliEnv, expectCode, REPO_ROOT, runKeisan } from '../cli/testing.ts';
import { freePort } from '../lib/net.ts';
import { initTestDataDir } from '../server/testing.ts';
import type { AlertView } from './alerts/model.ts';
import { createDuplicateIpLab, daemonEnv, describeWithServices, have, Lab, LogBuffer, loginOperator, mountTmpfs, netnsSkipReason, pollUntil, spawnKeisan, startEssentialProcess, tempDir, waitForHealth, type DuplicateIpLab, type EssentialProcess, type Tmpfs } from './testing-lab.ts';
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

const SKIP_REASON =
  netnsSkipReason('the alerts end-to-end test mounts a tmpfs and creates network namespaces: it needs root') ?? (!have('mount', '--version') ? 'mount is not installed' : SMTP_SKIP_REASON);

/** Every wait polls; none waits longer than this (the checks run every 2 s, rules every 1 s). */
const WAIT_MS = 30_000;
const POLL_MS = 200;

/** Polls until `probe` gives a value, at most WAIT_MS; the error ends with `context()`. */
const until = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, context: () => string = () => '') =>
  pollUntil(what, probe, { timeoutMs: WAIT_MS, pollMs: POLL_MS, context });

describeWithServices('alerts end to end: keisan server + keisan agent + SMTP, three faults broken and repaired', SKIP_REASON, () => {
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

  const lab = new Lab();
  const dir = lab.add(tempDir('keisan-e2e-alerts-'));
  const home = path.join(dir.path, 'home');
  const dataDir = path.join(dir.path, 'data');
  const mnt = path.join(dir.path, 'scratch');
  let tmpfs: Tmpfs | undefined;
  let netns: DuplicateIpLab | undefined;
  let smtp: TestSmtpServer | undefined;
  let essential: EssentialProcess | undefined;
  let base = '';
  let ticket = '';
  const logs = new LogBuffer(40);

  const api = async <T>(url: string): Promise<T> => {
    const response = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${ticket}` } });
    assert.equal(response.status, 200, `GET ${url}: ${response.status} ${await response.clone().text()}`);
    return (await response.json()) as T;
  };
  const alerts = (state: 'active' | 'all') => api<AlertView[]>(`/api/monitor/alerts?state=${state}&host=${HOST}`);
  const diagnostics = () => `last server/agent output:\n${logs.tail()}\nmail delivered: ${JSON.stringify(smtp?.messages().map((m) => m.subject))}`;

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
    tmpfs = lab.add(mountTmpfs(mnt, { size: '4m', source: `keisan-e2e-${tag}` }));

    // Two namespaces on a veth pair, exactly as checks/duplicate-ip.test.ts: A holds the address; B
    // (an Intel MAC) takes it too when the conflict is created.
    netns = lab.add(createDuplicateIpLab({ nsA, nsB, vethA, vethB, address, otherMac }));

    const mailServer = await TestSmtpServer.start();
    smtp = mailServer;
    lab.add({ cleanup: () => mailServer.stop() });
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
    const env = daemonEnv(port, { from: cliEnv(home) });
    base = `http://127.0.0.1:${port}`;
    const server = lab.add(spawnKeisan(['server', '--data', dataDir], { env, logs, cwd: REPO_ROOT }));
    await waitForHealth(base, { timeoutMs: WAIT_MS, pollMs: POLL_MS, child: server.child, context: diagnostics });
    // Throws unless the login answers 200 with a ticket.
    const login = await loginOperator(base, dataDir);
    ticket = login.ticket;
    expectCode(await runKeisan(home, ['login', login.user, '--password-stdin', '--server', base], `${login.password}\n`), 0);

    essential = lab.add(startEssentialProcess(ESSENTIAL));
    lab.add(spawnKeisan(['agent', '--data', dataDir, '--server', base, '--host', HOST, '--interval', '2s', '--metrics-port', 'off'], { env, logs, cwd: REPO_ROOT }));
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
    await lab.cleanup();
  });

  it('a filesystem filled past 80 %: an alert naming the mount and the host, mail; removing the file resolves it', async () => {
    tmpfs!.fill(0.85);
    const firing = await firingAlert('scratch');
    assert.equal(firing.alertname, 'CheckWarning');
    assert.equal(firing.severity, 'warning');
    assert.equal(firing.labels.host, HOST);
    assert.equal(firing.labels.type, 'filesystem');
    assert.match(firing.summary, new RegExp(`^${mnt} on ${HOST} is .*, above the warning threshold of 80 %$`));
    await cliShows(firing);
    await expectFiringMail(firing);

    tmpfs!.unfill();
    const resolved = await resolvedAlert(firing);
    assert.equal(resolved.labels.check, firing.labels.check);
    await expectResolvedMail(firing);
  });

  it('an essential process killed: CheckCritical naming it and the host, mail; restarting it resolves it', async () => {
    essential!.kill();
    const firing = await firingAlert('essential');
    assert.equal(firing.alertname, 'CheckCritical');
    assert.equal(firing.severity, 'critical');
    assert.equal(firing.labels.host, HOST);
    assert.equal(firing.labels.type, 'process');
    assert.match(firing.summary, new RegExp(`^essential daemon is not running on ${HOST} \\(`));
    await cliShows(firing);
    await expectFiringMail(firing);

    essential!.restart();
    await resolvedAlert(firing);
    await expectResolvedMail(firing);
  });

  it('an IP conflict with another namespace: CheckCritical naming the other MAC and its vendor, mail; removing it resolves it', async () => {
    netns!.conflict();
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
      netns!.resolve();
    }
    await resolvedAlert(firing);
    await expectResolvedMail(firing);
  });
});
