import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { TEST_DATABASES } from '../db/testing.ts';
import { parseSettings } from '../lib/config.ts';
import { freePort } from '../lib/net.ts';
import { buildApp } from '../server/app.ts';
import { GRAFANA_DIR, renderDashboards } from '../../scripts/grafana-dashboards.ts';

/**
 * What Keisan ships for sites that run Prometheus and Grafana (deploy/): the scrape config and
 * the alert rules pass promtool (Debian's prometheus package), the rules' unit tests pass, the
 * rules stay equivalent to Keisan's built-in defaults, a real Prometheus labels scraped agents as
 * the rules expect, and the Grafana dashboards are valid and use only metrics that exist.
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PROM_DIR = path.join(REPO, 'deploy/prometheus');
const CONFIG = path.join(PROM_DIR, 'prometheus.yml');
const RULES = path.join(PROM_DIR, 'rules/keisan.rules.yml');
const RULE_TESTS = path.join(PROM_DIR, 'rules/keisan.rules.test.yml');

function findTool(name: string): string | undefined {
  for (const candidate of [`/usr/bin/${name}`, name]) {
    const probe = spawnSync(candidate, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const promtool = findTool('promtool');
const prometheus = findTool('prometheus');
const PROMTOOL_SKIP = promtool ? undefined : 'promtool is not installed (npm run deps installs the Debian package prometheus)';
const PROMETHEUS_SKIP = prometheus ? undefined : 'prometheus is not installed (npm run deps installs the Debian package prometheus)';

/** A suite that needs a tool: skipped without it, failed with KEISAN_REQUIRE_SERVICES=1 (as describeWithSmtp). */
function describeWith(skipReason: string | undefined, title: string, suite: () => void): void {
  if (skipReason && process.env.KEISAN_REQUIRE_SERVICES === '1') {
    describe(title, () => {
      it('has what it needs', () => {
        throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${skipReason}`);
      });
    });
    return;
  }
  describe(title, { skip: skipReason }, suite);
}

function run(tool: string, args: string[], cwd = REPO): SpawnSyncReturns<string> {
  return spawnSync(tool, args, { cwd, encoding: 'utf8', timeout: 60_000 });
}

function expectOk(result: SpawnSyncReturns<string>): string {
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, `exit ${result.status}:\n${output}`);
  return output;
}

interface PromRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function shippedRules(): PromRule[] {
  const doc = parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ name: string; rules: PromRule[] }> };
  return doc.groups.flatMap((group) => group.rules);
}

/** A Prometheus duration ("1h30m", "5m", "0s") in milliseconds. */
export function promDurationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  assert.equal(parts.map((p) => p[0]).join(''), text, `'${text}' is not a Prometheus duration`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

// ---------------------------------------------------------------------------- metric names

/**
 * The metric names src/monitor/README.md documents under "Metric names", with its shorthand
 * expanded: `node_memory_{MemTotal,MemAvailable}_bytes`, `node_filesystem_files{,_free}`,
 * `node_load1|5|15`; a trailing `{cpu,mode}` or `{job="agent"}` lists labels, not names.
 */
export function documentedMetricNames(readme: string): Set<string> {
  const section = readme.split(/^## /m).find((part) => part.startsWith('Metric names'));
  assert.ok(section, 'src/monitor/README.md has a "## Metric names" section');
  const names = new Set<string>();
  for (const [, token] of section.matchAll(/`([^`]+)`/g)) {
    let text = token!.trim();
    if (!/^[a-zA-Z_]/.test(text)) continue; // a label list of its own: `{device,fstype,mountpoint}`
    // A trailing label group: every item a label name, optionally with a value, after a whole
    // name (`keisan_job_{a,b}` ends in names, `node_filesystem_files{,_free}` too).
    const trailing = /\{([^{}]*)\}$/.exec(text);
    if (
      trailing &&
      /[a-zA-Z0-9}]$/.test(text.slice(0, trailing.index)) &&
      trailing[1]!.split(',').every((item) => /^[a-z][a-zA-Z0-9_]*(=.*)?$/.test(item.trim()))
    ) {
      text = text.slice(0, trailing.index);
    }
    const alternatives = text.split('|');
    const expandedBars = [alternatives[0]!];
    const stem = alternatives[0]!.replace(/\d+$/, '');
    for (const alt of alternatives.slice(1)) expandedBars.push(/^\d+$/.test(alt) ? stem + alt : alt);
    for (const name of expandedBars.flatMap(expandBraces)) {
      if (/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) names.add(name);
    }
  }
  return names;
}

function expandBraces(text: string): string[] {
  const match = /\{([^{}]*)\}/.exec(text);
  if (!match) return [text];
  const head = text.slice(0, match.index);
  const tail = text.slice(match.index + match[0].length);
  return match[1]!.split(',').flatMap((item) => expandBraces(head + item.trim() + tail));
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/** The metric names a PromQL expression selects (function names, labels and keywords left out). */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (match[2]) continue; // a function call
    if (PROMQL_WORDS.has(match[1]!.toLowerCase())) continue;
    names.push(match[1]!);
  }
  return names;
}

/** Grafana's variables, replaced so the expression is plain PromQL promtool can parse. */
function withoutGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?[a-zA-Z_]+\}?/g, '.*');
}

interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  panels: Array<{
    id: number;
    type: string;
    title: string;
    gridPos: { h: number; w: number; x: number; y: number };
    datasource?: { type: string; uid: string };
    targets?: Array<{ expr: string; refId: string; datasource?: { uid: string } }>;
  }>;
  templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string }> };
}

function shippedDashboards(): Map<string, Dashboard> {
  const files = readdirSync(GRAFANA_DIR).filter((file) => file.endsWith('.json'));
  return new Map(files.map((file) => [file, JSON.parse(readFileSync(path.join(GRAFANA_DIR, file), 'utf8')) as Dashboard]));
}

/** Every PromQL expression of a dashboard: panel targets and the selectors in label_values(...) variables. */
function dashboardExpressions(dashboard: Dashboard): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) out.push({ where: `${dashboard.uid} panel "${panel.title}" ${target.refId}`, expr: target.expr });
  }
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const query = variable.definition ?? '';
    const selector = /^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(query);
    assert.ok(selector, `${dashboard.uid} variable ${variable.name}: expected label_values(selector, label), got ${query}`);
    out.push({ where: `${dashboard.uid} variable $${variable.name}`, expr: selector[1]! });
  }
  return out;
}

/** The metric names a real Keisan server's GET /metrics exposes (an app on an in-memory SQLite database). */
async function serverMetricNames(): Promise<string[]> {
  const db = await TEST_DATABASES[0]!.open();
  try {
    const app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: 'secret' });
    try {
      const response = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 200, `GET /metrics: ${response.statusCode} ${response.body.slice(0, 200)}`);
      return [...response.body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    } finally {
      await app.close();
    }
  } finally {
    await db.dispose();
  }
}

// ---------------------------------------------------------------------------- Keisan's defaults

interface KeisanRule {
  name: string;
  severity: string;
  forMs: number;
  expr: string;
}

/**
 * Keisan's built-in alert rules, from src/monitor/alerts/default-rules.ts: whatever it exports
 * that is a list of rules with a name, a severity and a `for` (a duration string or milliseconds).
 */
async function keisanDefaultRules(): Promise<KeisanRule[] | undefined> {
  const file = fileURLToPath(new URL('./alerts/default-rules.ts', import.meta.url));
  if (!existsSync(file)) return undefined;
  const module = (await import(file)) as Record<string, unknown>;
  for (const value of Object.values(module)) {
    const list = typeof value === 'function' && value.length === 0 ? (value as () => unknown)() : value;
    if (!Array.isArray(list) || list.length === 0) continue;
    const rules = list.map((rule: Record<string, unknown>) => ({
      name: (rule.name ?? rule.alert) as unknown,
      severity: (rule.severity ?? (rule.labels as Record<string, unknown> | undefined)?.severity) as unknown,
      for: rule.forMs ?? rule.for ?? rule.forSeconds,
      forSeconds: rule.forSeconds,
      expr: typeof rule.expr === 'string' ? rule.expr : '',
    }));
    if (!rules.every((rule) => typeof rule.name === 'string' && typeof rule.severity === 'string')) continue;
    return rules.map((rule) => ({
      name: rule.name as string,
      severity: rule.severity as string,
      expr: rule.expr,
      forMs:
        typeof rule.forSeconds === 'number'
          ? rule.forSeconds * 1000
          : typeof rule.for === 'number'
            ? rule.for
            : typeof rule.for === 'string'
              ? promDurationMs(rule.for)
              : 0,
    }));
  }
  throw new Error(`${file} exports no list of rules with name, severity and for`);
}

// ---------------------------------------------------------------------------- the tests

describe('deploy/: helpers of this test', () => {
  it('expands the README shorthand into metric names', () => {
    const names = documentedMetricNames(
      '## Metric names\n`node_load1|5|15`, `keisan_job_{cpu_seconds_total,pids}{job,user}`, `node_memory_{MemTotal,SwapFree}_bytes`, `node_filesystem_files{,_free}`, `node_disk_io_time_seconds_total` `{device}`, `keisan_gpu_{power_watts,processes}{gpu,uuid,name}`, `up{job="agent"}`.\n## Next\n`not_this`',
    );
    assert.deepEqual(
      [...names].sort(),
      ['keisan_gpu_power_watts', 'keisan_gpu_processes', 'keisan_job_cpu_seconds_total', 'keisan_job_pids', 'node_disk_io_time_seconds_total', 'node_filesystem_files', 'node_filesystem_files_free', 'node_load1', 'node_load15', 'node_load5', 'node_memory_MemTotal_bytes', 'node_memory_SwapFree_bytes', 'up'],
    );
  });

  it('finds the metric names in PromQL, not its functions, labels or keywords', () => {
    assert.deepEqual(
      metricNamesIn('sum by (host, mode) (rate(node_cpu_seconds_total{mode!="idle", host=~"$host"}[$__rate_interval])) / on (host) group_left () count by (host) (x_total{a="b c"}) and y == 0 or vector(1e9)'),
      ['node_cpu_seconds_total', 'x_total', 'y'],
    );
  });

  it('reads Prometheus durations', () => {
    assert.equal(promDurationMs('1h30m'), 5_400_000);
    assert.equal(promDurationMs('0s'), 0);
    assert.throws(() => promDurationMs('5 minutes'));
  });
});

describeWith(PROMTOOL_SKIP, 'deploy/prometheus with promtool', () => {
  it('the scrape config passes promtool check config', () => {
    const output = expectOk(run(promtool!, ['check', 'config', CONFIG]));
    assert.match(output, /SUCCESS: 1 rule files found/);
  });

  it('the alert rules pass promtool check rules', () => {
    const output = expectOk(run(promtool!, ['check', 'rules', RULES]));
    assert.match(output, new RegExp(`SUCCESS: ${shippedRules().length} rules found`));
  });

  it('promtool rejects a broken rule with where it broke (the check above can fail)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keisan-promtool-'));
    try {
      const broken = path.join(dir, 'broken.yml');
      writeFileSync(broken, stringify({ groups: [{ name: 'x', rules: [{ alert: 'Broken', expr: 'rate(node_load1[5m] > 1' }] }] }));
      const result = run(promtool!, ['check', 'rules', broken]);
      assert.notEqual(result.status, 0);
      assert.match(`${result.stdout}${result.stderr}`, /Broken|parse error/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every alert fires in the rule unit tests (promtool test rules)', () => {
    const output = expectOk(run(promtool!, ['test', 'rules', path.basename(RULE_TESTS)], path.dirname(RULE_TESTS)));
    assert.match(output, /SUCCESS/);
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
    const fired = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    for (const rule of shippedRules()) assert.ok(fired.has(rule.alert!), `keisan.rules.test.yml has no test in which ${rule.alert} fires`);
  });

  it('every alert says where and how bad: host in its summary, a severity, and a `for`', () => {
    for (const rule of shippedRules()) {
      assert.ok(rule.alert, 'only alerting rules are shipped');
      assert.match(rule.labels?.severity ?? '', /^(critical|warning|info)$/, `${rule.alert}: severity`);
      assert.match(rule.annotations?.summary ?? '', /\$labels\.host/, `${rule.alert}: the summary names the host`);
      assert.ok(rule.for !== undefined, `${rule.alert}: a for (0s for at once)`);
      promDurationMs(rule.for);
      if (/node_filesystem_/.test(rule.expr)) assert.match(rule.expr, /node_filesystem_readonly\{[^}]*\} == 0/, `${rule.alert}: read-only filesystems are left out`);
    }
  });

  it("every Grafana panel's expression parses (as a recording rule through promtool)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keisan-promtool-'));
    try {
      const expressions = [...shippedDashboards().values()].flatMap(dashboardExpressions);
      assert.ok(expressions.length > 40, `only ${expressions.length} expressions found`);
      const file = path.join(dir, 'dashboards.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboards', rules: expressions.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: withoutGrafanaVariables(e.expr), labels: { where: e.where } })) }] }));
      expectOk(run(promtool!, ['check', 'rules', file]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("deploy/prometheus alert rules match Keisan's defaults", () => {
  it('every default Keisan rule has a Prometheus rule of the same name, severity and for', async (t) => {
    const defaults = await keisanDefaultRules();
    if (!defaults) {
      t.skip('src/monitor/alerts/default-rules.ts does not exist yet');
      return;
    }
    const shipped = new Map(shippedRules().map((rule) => [rule.alert!, rule]));
    const problems: string[] = [];
    for (const rule of defaults) {
      const prom = shipped.get(rule.name);
      if (!prom) {
        problems.push(`${rule.name}: no Prometheus rule of that name in deploy/prometheus/rules/keisan.rules.yml`);
        continue;
      }
      if (prom.labels?.severity !== rule.severity) problems.push(`${rule.name}: severity ${prom.labels?.severity} in Prometheus, ${rule.severity} in Keisan`);
      const promFor = promDurationMs(prom.for ?? '0s');
      if (promFor !== rule.forMs) problems.push(`${rule.name}: for ${prom.for} in Prometheus, ${rule.forMs / 1000} s in Keisan`);
      // The same series: every metric Keisan's expression reads, the Prometheus one reads too.
      const promMetrics = new Set(metricNamesIn(prom.expr));
      for (const name of metricNamesIn(rule.expr)) if (!promMetrics.has(name)) problems.push(`${rule.name}: Keisan's expression reads ${name}, the Prometheus one does not`);
    }
    const keisanNames = new Set(defaults.map((rule) => rule.name));
    for (const name of shipped.keys()) if (!keisanNames.has(name)) problems.push(`${name}: in Prometheus but not among Keisan's defaults`);
    assert.deepEqual(problems, []);
  });
});

describe('deploy/grafana dashboards', () => {
  const dashboards = shippedDashboards();

  it('are what scripts/grafana-dashboards.ts builds (edit that, then run it)', () => {
    const built = renderDashboards();
    assert.deepEqual([...dashboards.keys()].sort(), Object.keys(built).sort());
    for (const [file, text] of Object.entries(built)) assert.equal(readFileSync(path.join(GRAFANA_DIR, file), 'utf8'), text, `${file} differs: run node --import tsx scripts/grafana-dashboards.ts`);
  });

  it('cover nodes, GPUs, jobs and storage tiers, each importable with a Prometheus datasource input', () => {
    assert.deepEqual([...dashboards.values()].map((d) => d.uid).sort(), ['keisan-gpus', 'keisan-jobs', 'keisan-nodes', 'keisan-storage']);
    for (const [file, dashboard] of dashboards) {
      assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `${file}: schemaVersion ${dashboard.schemaVersion}`);
      assert.deepEqual(dashboard.__inputs.map((input) => [input.name, input.type, input.pluginId]), [['DS_PROMETHEUS', 'datasource', 'prometheus']]);
      const ids = dashboard.panels.map((panel) => panel.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: panel ids are unique`);
      for (const panel of dashboard.panels) {
        assert.ok(panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24, `${file} "${panel.title}": fits the 24-column grid`);
        if (panel.type === 'row') continue;
        assert.ok((panel.targets ?? []).length > 0, `${file} "${panel.title}": has a query`);
        assert.equal(panel.datasource?.uid, '${DS_PROMETHEUS}', `${file} "${panel.title}": uses the datasource input`);
        for (const target of panel.targets ?? []) assert.equal(target.datasource?.uid, '${DS_PROMETHEUS}');
      }
    }
  });

  it("use only metrics Keisan documents (src/monitor/README.md), the server's /metrics exposes, or up", async () => {
    const known = documentedMetricNames(readFileSync(path.join(REPO, 'src/monitor/README.md'), 'utf8'));
    assert.ok(known.has('node_filesystem_files_free') && known.has('node_load15') && known.has('keisan_check_status'), 'the README parsed');
    for (const name of await serverMetricNames()) known.add(name);
    assert.ok(known.has('keisan_server_process_resident_memory_bytes'), "the server's /metrics answered with its process metrics");
    known.add('up');
    const unknown: string[] = [];
    for (const dashboard of dashboards.values()) {
      for (const { where, expr } of dashboardExpressions(dashboard)) {
        const names = metricNamesIn(expr);
        assert.ok(names.length > 0 || /vector\(/.test(expr), `${where}: no metric in ${expr}`);
        for (const name of names) if (!known.has(name)) unknown.push(`${where}: ${name}`);
      }
    }
    assert.deepEqual(unknown, []);
  });
});

describeWith(PROMETHEUS_SKIP, 'deploy/prometheus/prometheus.yml in a real Prometheus', () => {
  let dir: string;
  let agent: Server;
  let promPort: number;
  let child: ReturnType<typeof spawn> | undefined;
  let log = '';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'keisan-prometheus-'));
    // A stand-in agent: the label `job` on keisan_job_* is the batch job id, as the real agent writes it.
    agent = createServer((request, response) => {
      if (request.url !== '/metrics') return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      response.end(
        '# TYPE node_load1 gauge\nnode_load1 0.5\n# TYPE keisan_job_pids gauge\nkeisan_job_pids{job="42",user="alice"} 3\n' +
          '# TYPE keisan_check_status gauge\nkeisan_check_status{check="process:sshd",type="process",target="sshd"} 2\n',
      );
    });
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    const agentPort = (agent.address() as AddressInfo).port;
    promPort = await freePort();
    // The shipped config, with this test's targets and a 1 s scrape interval.
    const config = parse(readFileSync(CONFIG, 'utf8')) as { global: Record<string, unknown>; rule_files: string[] };
    config.global.scrape_interval = '1s';
    config.global.evaluation_interval = '1s';
    config.rule_files = [RULES];
    writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
    mkdirSync(path.join(dir, 'targets'));
    writeFileSync(
      path.join(dir, 'targets/agents.yml'),
      stringify([
        { targets: [`127.0.0.1:${agentPort}`], labels: { role: 'compute' } },
        { targets: [`localhost:${agentPort}`], labels: { host: 'store1' } },
      ]),
    );
    writeFileSync(path.join(dir, 'targets/server.yml'), stringify([{ targets: ['127.0.0.2'] }]));
    child = spawn(prometheus!, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--storage.tsdb.retention.time=1h'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise((resolve) => agent.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  async function query(promql: string): Promise<Array<{ metric: Record<string, string> }>> {
    const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as { status: string; data: { result: Array<{ metric: Record<string, string> }> } };
    assert.equal(body.status, 'success');
    return body.data.result;
  }

  async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline || (child && child.exitCode !== null)) throw new Error(`${what} within 30 s; Prometheus said:\n${log.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('labels each agent with host = its name without the port, or the host the targets file gives', async () => {
    const series = await eventually('two node_load1 series', async () => {
      const result = await query('node_load1');
      return result.length === 2 ? result : undefined;
    });
    const byHost = Object.fromEntries(series.map((s) => [s.metric.host, s.metric]));
    assert.deepEqual(Object.keys(byHost).sort(), ['127.0.0.1', 'store1']);
    assert.equal(byHost['127.0.0.1']!.job, 'keisan-agent');
    assert.equal(byHost['127.0.0.1']!.role, 'compute');
    assert.match(byHost.store1!.instance!, /^localhost:\d+$/);
  });

  it("keeps the agent's own labels (job = the batch job id on keisan_job_*)", async () => {
    const series = await eventually('keisan_job_pids', async () => {
      const result = await query('keisan_job_pids');
      return result.length === 2 ? result : undefined;
    });
    for (const s of series) {
      assert.equal(s.metric.job, '42');
      assert.equal(s.metric.user, 'alice');
    }
  });

  it('fires the shipped rules on what it scrapes: CheckCritical names the check and the host', async () => {
    const alerts = await eventually('CheckCritical firing', async () => {
      const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/alerts`, { signal: AbortSignal.timeout(2000) });
      const body = (await response.json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string; annotations: Record<string, string> }> } };
      const firing = body.data.alerts.filter((a) => a.labels.alertname === 'CheckCritical' && a.state === 'firing');
      return firing.length === 2 ? firing : undefined;
    });
    const byHost = Object.fromEntries(alerts.map((a) => [a.labels.host, a]));
    assert.deepEqual(Object.keys(byHost).sort(), ['127.0.0.1', 'store1']);
    assert.equal(byHost.store1!.labels.severity, 'critical');
    assert.equal(byHost.store1!.labels.check, 'process:sshd');
    assert.equal(byHost.store1!.annotations.summary, 'Check process:sshd on store1 is critical');
  });

  it('gives a server target listed without a port the port 8470, and HostDown sees up == 0 per host', async () => {
    const server = await eventually('the server target', async () => {
      const result = await query('up{job="keisan-server"}');
      return result.length === 1 ? result : undefined;
    });
    assert.equal(server[0]!.metric.instance, '127.0.0.2:8470');
    const up = await query('up{job="keisan-agent"} == 1');
    assert.deepEqual(up.map((s) => s.metric.host).sort(), ['127.0.0.1', 'store1']);
  });
});
