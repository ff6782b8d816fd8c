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
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/lib/net.ts';
import { formatDuration, parseDuration } from '../src/lib/units.ts';
import type { AlertView } from '../src/monitor/alerts/model.ts';
import { TestSmtpServer, type DeliveredMessage } from '../src/monitor/testing-smtp.ts';
import { OPERATOR_PASSWORD_FILE } from '../src/server/facility.ts';
import { initTestDataDir } from '../src/server/testing.ts';

const KEISAN_BIN = fileURLToPath(new URL('../bin/keisan.js', import.meta.url));
const NS_A = 'kalert-a';
const NS_B = 'kalert-b';
const VETH_A = 'kalert-va';
const VETH_B = 'kalert-vb';
/** TEST-NET-2 (RFC 5737): never routed, only inside the two namespaces. */
const ADDRESS = '198.51.100.78';
const ESSENTIAL = 'keisan-alerts-essential';
const OPS = 'ops@example.org';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
function sh(command: string, args: string[], allowFail = false): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  if (!allowFail && result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}
function tearDownNamespaces(): void {
  sh('ip', ['netns', 'del', NS_A], true);
  sh('ip', ['netns', 'del', NS_B], true);
  sh('ip', ['link', 'del', VETH_A], true);
}
function setUpNamespaces(): void {
  tearDownNamespaces();
  sh('ip', ['netns', 'add', NS_A]);
  sh('ip', ['netns', 'add', NS_B]);
  sh('ip', ['link', 'add', VETH_A, 'type', 'veth', 'peer', 'name', VETH_B]);
  sh('ip', ['link', 'set', VETH_A, 'netns', NS_A]);
  sh('ip', ['link', 'set', VETH_B, 'netns', NS_B]);
  for (const [ns, dev] of [[NS_A, VETH_A], [NS_B, VETH_B]] as const) {
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  }
  sh('ip', ['-n', NS_A, 'addr', 'add', `${ADDRESS}/24`, 'dev', VETH_A]);
}
async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

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

  const dir = mkdtempSync(path.join(os.tmpdir(), 'keisan-alerts-e2e-'));
  const mnt = path.join(dir, 'tmpfs');
  let mounted = false;
  let server: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  let essential: ChildProcess | undefined;
  let smtp: TestSmtpServer | undefined;
  const logs: string[] = [];
  const rows: Row[] = [];
  try {
    mkdirSync(mnt);
    sh('mount', ['-t', 'tmpfs', '-o', 'size=4194304,mode=0700', 'keisan-alerts', mnt]);
    mounted = true;
    setUpNamespaces();
    smtp = await TestSmtpServer.start();
    const port = await freePort();
    const dataDir = path.join(dir, 'data');
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
            { type: 'duplicate-ip', name: 'dupip', params: { netns: NS_A, interfaces: [VETH_A], watchNeighbours: false } },
          ],
        },
        alerts: { notify: { email: [OPS], operators: false } },
      },
    });
    const env: NodeJS.ProcessEnv = { ...process.env, KEISAN_PORT: String(port), KEISAN_LOG_LEVEL: 'warn' };
    for (const key of ['KEISAN_SERVER', 'KEISAN_DATABASE_URL', 'KEISAN_DATA', 'NODE_TEST_CONTEXT']) delete env[key];
    const daemon = (name: string) => {
      const child = spawn(process.execPath, [KEISAN_BIN, name, '--data', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (chunk: Buffer) => {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean).map((line) => `${name}: ${line}`));
        logs.splice(0, Math.max(0, logs.length - 100));
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      return child;
    };
    const base = `http://127.0.0.1:${port}`;
    server = daemon('server');
    for (let i = 0; ; i++) {
      if (i > 300) throw new Error('the server did not start');
      if (await fetch(`${base}/api/health`).then((r) => r.ok, () => false)) break;
      await sleep(200);
    }
    const [user, password] = readFileSync(path.join(dataDir, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    const { ticket } = (await (await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) })).json()) as { ticket: string };
    const alerts = async (state: string) =>
      (await (await fetch(`${base}/api/monitor/alerts?state=${state}`, { headers: { authorization: `Bearer ${ticket}` } })).json()) as AlertView[];
    const waitAlert = async (check: string, state: 'firing' | 'resolved', since: number): Promise<AlertView> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = (await alerts(state === 'firing' ? 'firing' : 'resolved')).find(
          (a) => (a.labels.check ?? '').startsWith(check) && (state === 'firing' || Date.parse(a.resolvedAt ?? '') >= since),
        );
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no ${state} alert for check ${check} within ${formatDuration(timeoutMs)}\n${logs.slice(-15).join('\n')}`);
        await sleep(200);
      }
    };
    const waitMail = (match: (m: DeliveredMessage) => boolean) => smtp!.waitFor((m) => m.rcptTo.includes(OPS) && match(m), timeoutMs);

    const spawnEssential = () => spawn('bash', ['-c', `exec -a ${ESSENTIAL} sleep 3600`], { stdio: 'ignore' });
    essential = spawnEssential();
    agent = daemon('agent');
    const fill = path.join(mnt, 'fill');
    const scenarios = [
      { what: 'essential process stopped', check: 'essential', break: () => void essential?.kill('SIGKILL'), repair: () => void (essential = spawnEssential()) },
      {
        what: 'filesystem filled past 90 %',
        check: 'scratch',
        break: () => {
          const size = statfsSync(mnt);
          writeFileSync(fill, Buffer.alloc(Math.floor(size.blocks * size.bsize * 0.95), 1));
        },
        repair: () => rmSync(fill, { force: true }),
      },
      { what: 'IP address conflict (second netns)', check: 'dupip', break: () => void sh('ip', ['-n', NS_B, 'addr', 'add', `${ADDRESS}/24`, 'dev', VETH_B]), repair: () => void sh('ip', ['-n', NS_B, 'addr', 'del', `${ADDRESS}/24`, 'dev', VETH_B]) },
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
    essential?.kill('SIGKILL');
    await stopChild(agent);
    await stopChild(server);
    await smtp?.stop();
    if (mounted) sh('umount', [mnt], true);
    tearDownNamespaces();
    rmSync(dir, { recursive: true, force: true });
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
