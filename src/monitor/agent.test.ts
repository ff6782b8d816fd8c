import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import { spawn } from 'node:child_process';
import { cliEnv, expectCode, KEISAN_BIN, REPO_ROOT, runKeisan } from '../cli/testing.ts';
import { openDatabase, type Db } from '../db/connection.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { loadFacilityFile, type Settings } from '../lib/config.ts';
import { freePort } from '../lib/net.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { initTestDataDir } from '../server/testing.ts';
import { nextReportDelayMs, reportHostName, startAgent, type Agent } from './agent.ts';
import type { CheckRunnerOptions } from './checks/runner.ts';
import type { CheckResult } from './model.ts';

const quiet = pino({ level: 'silent' });

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Prometheus text format: `name{labels} value` lines, parsed enough to look samples up. */
function parsePrometheusText(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}

function fakeChecks(results: CheckResult[]) {
  return (options: CheckRunnerOptions) => ({
    start() {
      setTimeout(() => {
        for (const result of results) options.onResult(result);
      }, 100).unref();
    },
    async stop() {},
  });
}

describe('the agent against a real server', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-agent-'));
  const data = path.join(scratch, 'data');
  const home = path.join(scratch, 'home');
  let settings: Settings;
  let db: Db;
  let app: KeisanApp;
  let url: string;
  let agent: Agent | undefined;

  before(async () => {
    initTestDataDir(data);
    settings = loadFacilityFile(data).settings;
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    app = await buildApp({ settings, db, nodeSecret: 'node-secret' });
    await app.keisan.accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'physics' });
    await app.keisan.accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'physics', name: 'lab' });
    await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'rita', primarySubgroup: 'lab', password: 'rita password' });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    expectCode(await runKeisan(home, ['login', 'rita', '--password-stdin', '--server', url], 'rita password\n'), 0);
  });
  after(async () => {
    await agent?.stop();
    await app?.close();
    await db?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('pushes samples every interval and check results within a second; serves /metrics; keisan nodes and keisan metrics show the node', async () => {
    const check: CheckResult = {
      check: 'filesystem:/',
      type: 'filesystem',
      target: '/',
      status: 'warning',
      summary: '/ is 91 % full on node-a',
      value: 91,
      details: {},
      at: new Date().toISOString(),
      durationMs: 1,
    };
    const started = Date.now();
    agent = await startAgent({
      serverUrl: url,
      nodeSecret: 'node-secret',
      host: 'node-a',
      settings,
      intervalMs: 300,
      metricsPort: 0,
      metricsListen: '127.0.0.1',
      logger: quiet,
      createChecks: fakeChecks([check]),
    });
    const hub = app.keisan.monitor;
    const seen = await until('the check result', () => hub.check('node-a', 'filesystem:/'));
    assert.equal(seen.status, 'warning');
    assert.ok(Date.now() - started < 5_000);
    // Two sample sets: the busy ratio needs two reads, the PSI rate two points.
    await until('two sample reports', () => {
      const clock = hub.reader.select('node_time_seconds', [{ name: 'host', op: '=', value: 'node-a' }], 0, Date.now() + 1000)[0];
      return clock && clock.points.length >= 2;
    });
    const busy = hub.reader.select('keisan_node_cpu_busy_ratio', [{ name: 'cpu', op: '=', value: 'all' }], 0, Date.now() + 1000);
    assert.equal(busy.length, 1);
    assert.equal(busy[0]!.labels.host, 'node-a');
    // The daemon registration goes on beside the reports.
    await until('the agent registered as a daemon', async () => (await app.keisan.daemons.list()).some((d) => d.kind === 'agent' && d.host === 'node-a'));

    // The agent's own /metrics, as Prometheus scrapes it.
    assert.ok(agent.metrics, 'the agent serves /metrics');
    const scrape = await fetch(agent.metrics.url);
    assert.equal(scrape.status, 200);
    assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await scrape.text();
    assert.match(text, /^# TYPE node_cpu_seconds_total counter$/m);
    const samples = parsePrometheusText(text);
    const has = (name: string, labels: Record<string, string> = {}) => samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    assert.ok(has('node_cpu_seconds_total', { cpu: '0', mode: 'idle' }));
    assert.ok(has('keisan_node_cpu_busy_ratio', { cpu: 'all' }));
    assert.ok(has('node_load1'));
    assert.ok(has('node_memory_MemAvailable_bytes'));
    assert.ok(has('node_filesystem_avail_bytes', { mountpoint: '/' }));
    assert.ok(samples.find((s) => s.name === 'node_filesystem_avail_bytes')!.labels.fstype);
    assert.ok(has('node_network_receive_bytes_total', { device: 'lo' }));
    assert.ok(has('node_time_seconds'));
    // Check results too, so Prometheus rules (CheckCritical…) see them from the agent scrape.
    assert.equal(samples.find((s) => s.name === 'keisan_check_status' && s.labels.check === 'filesystem:/' && s.labels.type === 'filesystem' && s.labels.target === '/')?.value, 1);
    assert.equal(samples.find((s) => s.name === 'keisan_check_value' && s.labels.check === 'filesystem:/')?.value, 91);
    assert.equal((await fetch(agent.metrics.url.replace('/metrics', '/nothing'))).status, 404);

    // Any logged-in user sees the nodes and their numbers.
    const [table, json, metrics, metricsJson] = await Promise.all([
      runKeisan(home, ['nodes']),
      runKeisan(home, ['nodes', '--json']),
      runKeisan(home, ['metrics', 'node-a', '--since', '10m', '--metric', 'node_load1', 'keisan_node_cpu_busy_ratio', 'node_network_receive_bytes_total']),
      runKeisan(home, ['metrics', 'node-a', '--metric', 'node_memory_MemTotal_bytes', '--json']),
    ]);
    assert.match(expectCode(table, 0).stdout, /^NODE +STATE +LAST REPORT +CPUS +CPU BUSY/m);
    assert.match(table.stdout, /^node-a +up +/m);
    const nodes = JSON.parse(expectCode(json, 0).stdout) as Array<{ host: string; up: boolean; cpus: number; memTotalBytes: number; cpuBusy: number }>;
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]!.host, 'node-a');
    assert.equal(nodes[0]!.up, true);
    assert.ok(nodes[0]!.cpus >= 1 && nodes[0]!.memTotalBytes > 0 && nodes[0]!.cpuBusy >= 0);
    expectCode(metrics, 0);
    assert.match(metrics.stdout, /^node-a: \d+ series from /m);
    assert.match(metrics.stdout, /^SERIES +OF +LATEST +MIN +MAX +AVG +POINTS$/m);
    assert.match(metrics.stdout, /^node_load1 +value +[\d.]+ /m);
    assert.match(metrics.stdout, /^keisan_node_cpu_busy_ratio\{cpu="all"\} +value +[\d.]+%/m);
    assert.match(metrics.stdout, /^node_network_receive_bytes_total\{device="lo"\} +rate +/m);
    const series = JSON.parse(expectCode(metricsJson, 0).stdout) as { series: Array<{ name: string; labels: Record<string, string>; points: Array<[number, number]> }> };
    assert.equal(series.series.length, 1);
    assert.equal(series.series[0]!.name, 'node_memory_MemTotal_bytes');
    assert.deepEqual(series.series[0]!.labels, {});
    assert.ok(series.series[0]!.points.length >= 2);

    // Mistakes are told, not 500s.
    const [unknown, badSince] = await Promise.all([runKeisan(home, ['metrics', 'node-zz']), runKeisan(home, ['metrics', 'node-a', '--since', 'yesterday'])]);
    assert.match(expectCode(unknown, 1).stderr, /no node 'node-zz' reports to this server: known nodes are node-a/);
    assert.match(expectCode(badSince, 2).stderr, /since 'yesterday' is not a duration: write e\.g\. 15m, 1h or 6h/);

    // Not without logging in.
    assert.equal((await app.inject({ method: 'GET', url: '/api/monitor/nodes' })).statusCode, 401);

    // The server's own /metrics: public, its process and the facility's numbers.
    const server = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(server.statusCode, 200);
    const serverSamples = parsePrometheusText(server.body);
    assert.ok(serverSamples.some((s) => s.name === 'keisan_server_process_cpu_user_seconds_total'));
    assert.ok(serverSamples.some((s) => s.name === 'keisan_server_nodejs_heap_size_used_bytes'));
    assert.deepEqual(serverSamples.find((s) => s.name === 'keisan_nodes' && s.labels.state === 'up')?.value, 1);
    assert.deepEqual(serverSamples.find((s) => s.name === 'keisan_jobs' && s.labels.state === 'pending')?.value, 0);
  });

  it('`keisan agent` as its own process: reports under --host at --interval, stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [KEISAN_BIN, 'agent', '--server', url, '--host', 'node-c', '--interval', '500ms', '--metrics-port', 'off', '--roles', 'compute'], {
      cwd: REPO_ROOT,
      env: { ...cliEnv(home), KEISAN_NODE_SECRET: 'node-secret', KEISAN_DATA: path.join(scratch, 'no-data-here'), KEISAN_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const hub = app.keisan.monitor;
      await until('reports from node-c', () => {
        const clock = hub.reader.select('node_time_seconds', [{ name: 'host', op: '=', value: 'node-c' }], 0, Date.now() + 1000)[0];
        return clock && clock.points.length >= 3;
      }, 30_000).catch((error: Error) => {
        throw new Error(`${error.message}; the agent said:\n${output}`);
      });
      child.kill('SIGTERM');
      assert.equal(await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 8000))]), 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('the agent while the server is down', () => {
  it('keeps trying with backoff, keeps check results, and reports once a server answers', async () => {
    const port = await freePort();
    const serverUrl = `http://127.0.0.1:${port}`;
    const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-agent-down-'));
    const check: CheckResult = { check: 'process:sshd', type: 'process', target: 'sshd', status: 'critical', summary: 'sshd is not running', value: null, details: {}, at: new Date().toISOString(), durationMs: 0 };
    initTestDataDir(scratch);
    const settings = loadFacilityFile(scratch).settings;
    const agent = await startAgent({ serverUrl, nodeSecret: 's3', host: 'node-b', settings, intervalMs: 400, metricsPort: false, logger: quiet, daemonLink: false, createChecks: fakeChecks([check]) });
    let db: Db | undefined;
    let app: KeisanApp | undefined;
    try {
      assert.equal(await agent.reportNow(), false);
      assert.ok(agent.lastError, 'the failure is kept for the log');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(agent.reportsSent, 0);
      db = openDatabase('sqlite::memory:');
      await migrateToLatest(db);
      app = await buildApp({ settings, db, nodeSecret: 's3' });
      await app.listen({ host: '127.0.0.1', port });
      const hub = app.keisan.monitor;
      await until('a report after the server came up', () => hub.hosts(Date.now()).some((h) => h.host === 'node-b'), 10_000);
      // The result that finished while the server was down arrives with the next report.
      await until('the held check result', () => hub.check('node-b', 'process:sshd'), 10_000);
      // The server takes the report in before the agent reads the answer: wait for the agent's side too.
      await until('the agent counting its sent report', () => agent.reportsSent >= 1 && agent.lastError === null, 10_000);
    } finally {
      await agent.stop();
      await app?.close();
      await db?.close();
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('backs off 1, 2, 4 … seconds, never longer than the interval', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 20].map((f) => nextReportDelayMs(f, 15_000)), [15_000, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000, 15_000]);
    assert.equal(nextReportDelayMs(3, 2000), 2000);
  });

  it('turns any host name into one the report accepts', () => {
    assert.equal(reportHostName('node_7.cluster'), 'node-7.cluster');
    assert.equal(reportHostName('-x'), 'x');
    assert.equal(reportHostName('___'), 'localhost');
  });
});
