/**
 * Alerts end to end, as an operator would see them (issue 5, "Done means"): a real
 * `keisan server` and `keisan agent` on loopback, mail to a real SMTP server on loopback
 * (src/monitor/testing-smtp.ts), and three things broken and repaired in turn:
 *
 *   - an essential process stopped (a process check on a process this script spawns, then kills);
 *   - a filesystem filled past 90 % (a 4 MiB tmpfs; the filesystem check's default critical);
 *   - an IP conflict: two network namespaces on a veth pair, the second given the first's address.
 *
 * For each: time from breaking it to the alert firing (`GET /api/monitor/alerts`), to its mail
 * arriving at the SMTP server, and from the repair to the alert resolved and the resolved mail.
 * Needs root (mount, ip netns). Everything it creates is removed in `finally`.
 *
 *   node --import tsx bench/alerts-e2e.ts [--interval=15s]
 */
import path from 'node:path';
import { freePort } from '../src/lib/net.ts';
import { formatDuration, parseDuration } from '../src/lib/units.ts';
import type { AlertView } from '../src/monitor/alerts/model.ts';
import { createDuplicateIpLab, daemonEnv, Lab, LogBuffer, loginOperator, mountTmpfs, sleep, spawnKeisan, startEssentialProcess, tempDir, waitForHealth } from '../src/monitor/testing-lab.ts';
import { TestSmtpServer, type DeliveredMessage } from '../src/monitor/testing-smtp.ts';
import { initTestDataDir } from '../src/server/testing.ts';

/** The two namespaces; the address is from TEST-NET-2 (RFC 5737): never routed, only inside them. */
const NETNS = { nsA: 'kalert-a', nsB: 'kalert-b', vethA: 'kalert-va', vethB: 'kalert-vb', address: '198.51.100.78' };
const ESSENTIAL = 'keisan-alerts-essential';
const OPS = 'ops@example.org';

interface Row {
  what: string;
  alert: string;
  summary: string;
  firingMs: number;
  mailMs: number;
  resolvedMs: number;
  resolvedMailMs: number;
}

async function main(): Promise<void> {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const intervalMs = parseDuration(arg('interval') ?? '15s');
  const interval = formatDuration(intervalMs);
  const timeoutMs = Math.max(120_000, 8 * intervalMs);
  if (process.getuid?.() !== 0) throw new Error('needs root (a tmpfs mount and network namespaces)');

  const lab = new Lab();
  const dir = lab.add(tempDir('keisan-alerts-e2e-'));
  const logs = new LogBuffer(100);
  const rows: Row[] = [];
  try {
    const tmpfs = lab.add(mountTmpfs(path.join(dir.path, 'tmpfs'), { size: 4194304, source: 'keisan-alerts' }));
    const mnt = tmpfs.path;
    const dup = lab.add(createDuplicateIpLab({ ...NETNS, loopbackUp: true, replace: true }));
    const smtp = await TestSmtpServer.start();
    lab.add({ cleanup: () => smtp.stop() });
    const port = await freePort();
    const dataDir = path.join(dir.path, 'data');
    initTestDataDir(dataDir, {
      mail: { from: 'Keisan <keisan@example.org>', smtp: { host: '127.0.0.1', port: smtp.port } },
      monitor: {
        interval,
        metrics: { listen: '127.0.0.1', port: await freePort(), gpus: false },
        checks: {
          interval,
          roles: { all: [] },
          extra: [
            { type: 'process', name: 'essential', params: { name: 'essential daemon', pattern: `^${ESSENTIAL}( |$)` } },
            { type: 'filesystem', name: 'scratch', params: { mounts: [mnt] } },
            { type: 'duplicate-ip', name: 'dupip', params: { netns: NETNS.nsA, interfaces: [NETNS.vethA], watchNeighbours: false } },
          ],
        },
        alerts: { notify: { email: [OPS], operators: false } },
      },
    });
    const env = daemonEnv(port);
    const base = `http://127.0.0.1:${port}`;
    const server = lab.add(spawnKeisan(['server', '--data', dataDir], { env, logs }));
    await waitForHealth(base, { timeoutMs: 60_000, child: server.child });
    const { ticket } = await loginOperator(base, dataDir);
    const alerts = async (state: string) =>
      (await (await fetch(`${base}/api/monitor/alerts?state=${state}`, { headers: { authorization: `Bearer ${ticket}` } })).json()) as AlertView[];
    const waitAlert = async (check: string, state: 'firing' | 'resolved', since: number): Promise<AlertView> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = (await alerts(state === 'firing' ? 'firing' : 'resolved')).find(
          (a) => (a.labels.check ?? '').startsWith(check) && (state === 'firing' || Date.parse(a.resolvedAt ?? '') >= since),
        );
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no ${state} alert for check ${check} within ${formatDuration(timeoutMs)}\n${logs.tail(15)}`);
        await sleep(200);
      }
    };
    const waitMail = (match: (m: DeliveredMessage) => boolean) => smtp.waitFor((m) => m.rcptTo.includes(OPS) && match(m), timeoutMs);

    const essential = lab.add(startEssentialProcess(ESSENTIAL));
    lab.add(spawnKeisan(['agent', '--data', dataDir], { env, logs }));
    const scenarios = [
      { what: 'essential process stopped', check: 'essential', break: () => essential.kill(), repair: () => essential.restart() },
      { what: 'filesystem filled past 90 %', check: 'scratch', break: () => tmpfs.fill(0.95), repair: () => tmpfs.unfill() },
      { what: 'IP address conflict (second netns)', check: 'dupip', break: () => dup.conflict(), repair: () => dup.resolve() },
    ];
    // Let every check report ok first (no alert at all).
    await sleep(3 * intervalMs);
    const early = await alerts('active');
    if (early.length > 0) throw new Error(`alerts before anything was broken: ${early.map((a) => `${a.alertname} ${a.summary}`).join('; ')}`);
    for (const scenario of scenarios) {
      const brokeAt = Date.now();
      scenario.break();
      const firing = await waitAlert(scenario.check, 'firing', brokeAt);
      const firingMs = Date.now() - brokeAt;
      const mail = await waitMail((m) => m.subject.includes('[FIRING') && m.text.includes(firing.summary));
      const mailMs = Date.now() - brokeAt;
      process.stderr.write(`[alerts] ${scenario.what}: ${firing.alertname} firing after ${firingMs} ms, mail "${mail.subject}" after ${mailMs} ms\n`);
      const repairedAt = Date.now();
      scenario.repair();
      await waitAlert(scenario.check, 'resolved', repairedAt);
      const resolvedMs = Date.now() - repairedAt;
      await waitMail((m) => m.subject.includes('[RESOLVED') && m.text.includes(firing.summary));
      const resolvedMailMs = Date.now() - repairedAt;
      process.stderr.write(`[alerts] ${scenario.what}: resolved after ${resolvedMs} ms, resolved mail after ${resolvedMailMs} ms\n`);
      rows.push({ what: scenario.what, alert: `${firing.alertname} (${firing.severity})`, summary: firing.summary, firingMs, mailMs, resolvedMs, resolvedMailMs });
      await sleep(Math.round(Math.random() * intervalMs));
    }
  } finally {
    await lab.cleanup();
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`Alerts end to end (check and report interval ${interval}, group_wait 10 s, evaluation every 5 s; ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC):\n`);
  console.log('| what was broken | alert | firing after | mail after | resolved after repair | resolved mail after | summary |');
  console.log('|---|---|---:|---:|---:|---:|---|');
  for (const r of rows) console.log(`| ${r.what} | ${r.alert} | ${s(r.firingMs)} | ${s(r.mailMs)} | ${s(r.resolvedMs)} | ${s(r.resolvedMailMs)} | ${r.summary.replace(/\|/g, '\\|')} |`);
}

await main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
