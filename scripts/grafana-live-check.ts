/**
 * Runs every query of the shipped Grafana dashboards against live data: a real `keisan server`
 * and `keisan agent` on loopback, scraped by a real Prometheus (Debian's) with the shipped rules;
 * the agent's nvidia-smi is a stand-in that prints the recorded H200 output of
 * src/batch/fixtures/gpu-h200x2 (or $KEISAN_GPU_FIXTURES), and one small batch job runs (sleep)
 * so the job panels have a job; one process check fails (a daemon that is not running), so the
 * "checks not ok" table and the shipped CheckCritical rule have something to show. Prints each
 * panel that returned nothing and exits 1 when one that should have data did not.
 *
 *   node --import tsx scripts/grafana-live-check.ts        # needs root (the job runs as a user)
 *
 * Everything it starts is stopped and its directory removed at the end, also after a failure.
 * The unit test (src/monitor/deploy.test.ts) checks syntax and metric names; this checks that
 * the label names and selectors match what Keisan really exposes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { KEISAN_BIN, REPO_ROOT as REPO } from '../src/cli/testing.ts';
import { freePort } from '../src/lib/net.ts';
import { DAEMON_ENV_DROP, daemonEnv, operatorCredentials, pollUntil, sleep, spawnKeisan, stopChild, tempDir, waitForHealth } from '../src/monitor/testing-lab.ts';
import { initTestDataDir } from '../src/server/testing.ts';
import { GRAFANA_DIR } from './grafana-dashboards.ts';

const FIXTURES = process.env.KEISAN_GPU_FIXTURES ?? path.resolve(REPO, 'src/batch/fixtures/gpu-h200x2');

/** Panels that list what is wrong with storage: empty here (the one failing check is a process check). */
const EMPTY_WHEN_HEALTHY = new Set(['Storage checks not ok']);

/** Polls every 500 ms until `probe` is true (its errors count as false), at most `ms`. */
async function until(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  await pollUntil(what, async () => ((await probe()) ? true : undefined), { timeoutMs: ms, pollMs: 500, ignoreErrors: true });
}

interface Panel {
  title: string;
  targets?: Array<{ refId: string; expr: string }>;
}

const lab = tempDir('keisan-grafana-live-');
const dir = lab.path;
const children: ChildProcess[] = [];
let failures = 0;
try {
  chmodSync(dir, 0o755);
  const [port, metricsPort, promPort] = [await freePort(), await freePort(), await freePort()];
  const dataDir = path.join(dir, 'data');
  // One check that fails (a daemon that is not running), so the "checks not ok" panels and the
  // shipped CheckCritical rule have something to show.
  initTestDataDir(dataDir, {
    monitor: {
      interval: '2s',
      checks: { interval: '2s', roles: { all: [] }, extra: [{ type: 'process', name: 'live-check-missing', params: { name: 'a daemon that is not running', comm: 'keisan-nosuch' } }] },
    },
  });

  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  if (!existsSync(path.join(FIXTURES, 'query-gpu-busy.csv'))) throw new Error(`no recorded nvidia-smi output in ${FIXTURES}: set KEISAN_GPU_FIXTURES`);
  writeFileSync(
    path.join(bin, 'nvidia-smi'),
    `#!/bin/sh\nF='${FIXTURES}'\ncase "$*" in\n  *--query-compute-apps*) cat "$F/query-apps-busy.csv" ;;\n  *--query-gpu*noheader*) tail -n +2 "$F/query-gpu-busy.csv" ;;\n  *--query-gpu*) cat "$F/query-gpu-busy.csv" ;;\n  *) cat "$F/nvidia-smi-busy.txt" ;;\nesac\n`,
    { mode: 0o755 },
  );
  const env = daemonEnv(port, { set: { PATH: `${bin}:${process.env.PATH}` }, drop: [...DAEMON_ENV_DROP, 'KEISAN_HOME'] });
  const base = `http://127.0.0.1:${port}`;

  const server = spawnKeisan(['server', '--data', dataDir], { env });
  children.push(server.child);
  await waitForHealth(base, { timeoutMs: 60_000, pollMs: 500, child: server.child });
  children.push(spawnKeisan(['agent', '--data', dataDir, '--metrics-port', String(metricsPort), '--interval', '2s'], { env }).child);

  // The shipped config's jobs and rules, with static targets and a 2 s scrape.
  const config = {
    global: { scrape_interval: '2s', evaluation_interval: '2s' },
    rule_files: [path.join(REPO, 'deploy/prometheus/rules/keisan.rules.yml')],
    scrape_configs: [
      { job_name: 'keisan-agent', honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${metricsPort}`], labels: { host: 'live-check' } }] },
      { job_name: 'keisan-server', honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${port}`] }] },
    ],
  };
  writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
  children.push(
    spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' }),
  );

  // One job, so the job panels have something: a minute of sleep, as the operator.
  const home = path.join(dir, 'home');
  const jobDir = path.join(dir, 'job');
  mkdirSync(home);
  mkdirSync(jobDir, { mode: 0o777 });
  chmodSync(jobDir, 0o777);
  writeFileSync(path.join(jobDir, 'job.sh'), '#!/bin/sh\nsleep 60\n', { mode: 0o755 });
  const cli = { env: { ...env, KEISAN_HOME: home, KEISAN_SERVER: base }, encoding: 'utf8' as const, cwd: jobDir, timeout: 30_000 };
  const { user, password } = operatorCredentials(dataDir);
  execFileSync(process.execPath, [KEISAN_BIN, 'login', '--password-stdin', user], { ...cli, input: password });
  const submitted = execFileSync(process.execPath, [KEISAN_BIN, 'submit', '-m', '64M', '-t', '5m', path.join(jobDir, 'job.sh')], cli);
  const jobId = /job (\d+)/.exec(submitted)?.[1];

  const query = async (expr: string) => {
    const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data!.result.length;
  };
  for (const name of ['keisan_gpu_utilization_ratio', 'keisan_jobs', 'keisan_job_pids']) {
    try {
      await until(`Prometheus has ${name}`, 60_000, async () => (await query(name)) > 0);
    } catch (error) {
      const jobs = execFileSync(process.execPath, [KEISAN_BIN, 'jobs', '--all'], cli);
      throw new Error(`${String(error)}\n${jobs}`);
    }
  }
  await sleep(15_000); // enough points for rate() over the 10 s window below

  for (const file of ['keisan-nodes.json', 'keisan-gpus.json', 'keisan-jobs.json', 'keisan-storage.json']) {
    const dashboard = JSON.parse(readFileSync(path.join(GRAFANA_DIR, file), 'utf8')) as { panels: Panel[] };
    let panels = 0;
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        const expr = target.expr.replace(/\$__rate_interval/g, '10s').replace(/\$\{?[a-z_]+\}?/g, '.*');
        const n = await query(expr);
        panels++;
        if (n > 0) continue;
        if (EMPTY_WHEN_HEALTHY.has(panel.title)) {
          console.log(`${file}: "${panel.title}" ${target.refId}: empty (nothing is wrong)`);
        } else {
          console.log(`${file}: "${panel.title}" ${target.refId}: NO DATA — ${target.expr}`);
          failures++;
        }
      }
    }
    console.log(`${file}: ${panels} queries run`);
  }
  // The shipped rules on what the agent exposes: the failing check fires CheckCritical, with the host.
  await until('CheckCritical firing in Prometheus for live-check-missing', 30_000, async () => (await query('ALERTS{alertname="CheckCritical", alertstate="firing", check="live-check-missing", host="live-check"}')) === 1);
  console.log('CheckCritical fires in Prometheus for the failing check');
  if (jobId) execFileSync(process.execPath, [KEISAN_BIN, 'cancel', jobId], cli);
} finally {
  for (const child of children.reverse()) await stopChild(child);
  lab.cleanup();
}
console.log(failures === 0 ? 'every panel that should have data has data' : `${failures} queries returned no data`);
process.exit(failures === 0 ? 0 : 1);
