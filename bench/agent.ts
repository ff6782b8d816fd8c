/**
 * The Keisan agent's footprint next to Debian's prometheus-node-exporter, measured at the same
 * time on the same machine: a real `keisan server` (separate process, the agent reports to it)
 * and a real `keisan agent` (its default metrics, default health checks for its role, reports
 * every monitor.interval = 15 s) beside `prometheus-node-exporter` (default collectors), both
 * scraped every 15 s like Prometheus does.
 *
 * A second agent reports to a second server whose monitor.checks gives it no automatic checks
 * (agents take their check list from their server): the metrics part's cost on its own.
 *
 * Measured over the window (after a warm-up, so the start-up — tsx compiling the sources — is
 * not counted):
 *   - CPU: utime + stime (+ cutime + cstime: children it waited for, e.g. check commands) from
 *     /proc/PID/stat, as a share of one core; the agent's whole process tree (a tsx child if any).
 *   - RSS: VmRSS from /proc/PID/status, sampled every second, mean and peak; the tree summed.
 *   - per scrape: series and bytes of /metrics.
 * Goals (issue 5): the agent ≤ 1 % of a core and ≤ 100 MiB.
 *
 *   npm run bench:agent                           # 60 s, table on stdout
 *   npm run bench:agent -- --duration=120s --write  # and a dated section in bench/RESULTS.md
 *   npm run bench:agent -- --write --detection      # and the detection times (bench/agent-detection.ts; needs root)
 *   npm run bench:agent -- --detection --detection-interval=15s --detection-repeat=3
 *   npm run bench:agent -- --agent-node-flags=--max-semi-space-size=1   # the agents with Node.js flags
 *
 * Everything it starts is stopped in `finally`, also after a failure or Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/lib/net.ts';
import { formatDuration, parseDuration } from '../src/lib/units.ts';
import { initTestDataDir } from '../src/server/testing.ts';
import { detectionMarkdown, detectionTable, measureDetection } from './agent-detection.ts';

const BENCH_FILE = fileURLToPath(import.meta.url);
const KEISAN_BIN = fileURLToPath(new URL('../bin/keisan.js', import.meta.url));
const RESULTS = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const TICKS = 100; // USER_HZ
const MiB = 1024 * 1024;

export const GOALS = { cpuPercent: 1, rssMiB: 100 };
const AGENT = 'keisan agent (default health checks)';
const EXPORTER = 'prometheus-node-exporter';

export interface FootprintRow {
  target: string;
  /** Share of one core over the window, in percent. */
  cpuPercent: number;
  rssMeanMiB: number;
  rssMaxMiB: number;
  /** Series and bytes of the last scrape of its /metrics. */
  series: number;
  bytes: number;
  scrapes: number;
  scrapeMs: number;
  processes: number;
}

export interface FootprintResult {
  at: string;
  machine: string;
  commit: string;
  durationMs: number;
  scrapeEveryMs: number;
  rows: FootprintRow[];
  /** Node.js flags the agents ran with. */
  agentNodeFlags: string[];
  /** Other work on the machine during the window, % of one core (from /proc/stat less the two targets). */
  otherCpuPercent: number;
}

export interface FootprintOptions {
  durationMs?: number;
  warmupMs?: number;
  scrapeEveryMs?: number;
  log?: (line: string) => void;
  /** Node.js flags for both agents' processes, e.g. --max-semi-space-size=1 (what a service unit could pass). */
  agentNodeFlags?: string[];
}

// ------------------------------------------------------------------------------ /proc readers

/** utime + stime + cutime + cstime of a process, in ticks; null when it is gone. */
function cpuTicks(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (field 3): utime is field 14 → index 11.
    return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  } catch {
    return null;
  }
}

function rssBytes(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The process and all its descendants now. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0 && out.length < 1000) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

function machineCpuTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // busy = all but idle and iowait
  return f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
}

/** One line describing the machine, as the other sections of RESULTS.md do. */
export function machine(): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  const vm = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo) ? 'VM' : 'machine';
  const memKb = /^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? '?';
  return `${os.cpus().length}-core ${vm} (${model}), ${Number(memKb).toLocaleString('en')} kB RAM, Linux ${os.release()}, Node ${process.version}`;
}

// ------------------------------------------------------------------------------ the bench

async function scrape(url: string): Promise<{ series: number; bytes: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
  return { series, bytes: Buffer.byteLength(text), ms: performance.now() - started };
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, child: ChildProcess, logs: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode}); its last lines:\n${logs.slice(-10).join('\n')}`);
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what}: not ready within ${timeoutMs / 1000} s; last lines:\n${logs.slice(-10).join('\n')}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureFootprint(options: FootprintOptions = {}): Promise<FootprintResult> {
  const durationMs = options.durationMs ?? 60_000;
  const warmupMs = options.warmupMs ?? 15_000;
  const scrapeEveryMs = options.scrapeEveryMs ?? 15_000;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!existsSync(NODE_EXPORTER)) throw new Error(`${NODE_EXPORTER} is not installed (apt-get install prometheus-node-exporter)`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'keisan-bench-agent-'));
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const cleanUpNow = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const interrupted = (signal: NodeJS.Signals) => {
    log(`[footprint] ${signal}: stopping what the bench started`);
    cleanUpNow();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const [port, barePort, agentPort, bareAgentPort, exporterPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const dataDir = path.join(dir, 'data');
    initTestDataDir(dataDir, { monitor: { metrics: { listen: '127.0.0.1', port: agentPort } } });
    // A second agent with no automatic health checks — what the metrics part costs on its own. Agents
    // get their check list from their server, so it reports to a second server with that setting.
    const bareDir = path.join(dir, 'bare');
    initTestDataDir(bareDir, { monitor: { metrics: { listen: '127.0.0.1', port: bareAgentPort }, checks: { roles: { all: [], compute: [] } } } });
    const env: NodeJS.ProcessEnv = { ...process.env, KEISAN_PORT: String(port), KEISAN_LOG_LEVEL: 'warn' };
    for (const key of ['KEISAN_SERVER', 'KEISAN_DATABASE_URL', 'KEISAN_DATA', 'NODE_TEST_CONTEXT', 'KEISAN_AGENT_INTERVAL']) delete env[key];
    const start = (name: string, file: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
      const child = spawn(file, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (chunk: Buffer) => {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean).map((line) => `${name}: ${line}`));
        logs.splice(0, Math.max(0, logs.length - 200));
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      children.push(child);
      return child;
    };

    const base = `http://127.0.0.1:${port}`;
    const server = start('server', process.execPath, [KEISAN_BIN, 'server', '--data', dataDir]);
    await waitFor('the server', async () => (await fetch(`${base}/api/health`)).ok, 60_000, server, logs);
    const flags = options.agentNodeFlags ?? [];
    const agent = start('agent', process.execPath, [...flags, KEISAN_BIN, 'agent', '--data', dataDir]);
    const bareServer = start('server-bare', process.execPath, [KEISAN_BIN, 'server', '--data', bareDir], { KEISAN_PORT: String(barePort) });
    await waitFor('the second server', async () => (await fetch(`http://127.0.0.1:${barePort}/api/health`)).ok, 60_000, bareServer, logs);
    const bare = start('agent-bare', process.execPath, [...flags, KEISAN_BIN, 'agent', '--data', bareDir], { KEISAN_PORT: String(barePort) });
    const exporter = start('node-exporter', NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${exporterPort}`]);
    const targets = [
      { name: AGENT, child: agent, url: `http://127.0.0.1:${agentPort}/metrics` },
      { name: 'keisan agent, metrics only (no health checks)', child: bare, url: `http://127.0.0.1:${bareAgentPort}/metrics` },
      { name: EXPORTER, child: exporter, url: `http://127.0.0.1:${exporterPort}/metrics` },
    ];
    for (const t of targets) await waitFor(t.name, async () => (await fetch(t.url)).ok, 60_000, t.child, logs);
    log(`[footprint] agent and node_exporter up; warming up ${formatDuration(warmupMs)}, then measuring ${formatDuration(durationMs)}, scraping both every ${formatDuration(scrapeEveryMs)}`);
    await sleep(warmupMs);

    const trees = () => targets.map((t) => processTree(t.child.pid!));
    const ticksOf = (pids: number[]) => pids.reduce((sum, pid) => sum + (cpuTicks(pid) ?? 0), 0);
    const beforeTrees = trees();
    const before = beforeTrees.map(ticksOf);
    const machineBefore = machineCpuTicks();
    const startedAt = performance.now();
    const rss = targets.map(() => ({ sum: 0, n: 0, max: 0, processes: 0 }));
    const last = targets.map(() => ({ series: 0, bytes: 0, scrapes: 0, ms: 0 }));
    let nextScrape = 0;
    while (performance.now() - startedAt < durationMs) {
      const elapsed = performance.now() - startedAt;
      if (elapsed >= nextScrape) {
        nextScrape += scrapeEveryMs;
        const results = await Promise.all(targets.map((t) => scrape(t.url)));
        results.forEach((r, i) => {
          last[i] = { series: r.series, bytes: r.bytes, scrapes: last[i]!.scrapes + 1, ms: last[i]!.ms + r.ms };
        });
      }
      trees().forEach((pids, i) => {
        const bytes = pids.reduce((sum, pid) => sum + rssBytes(pid), 0);
        rss[i]!.sum += bytes;
        rss[i]!.n++;
        rss[i]!.max = Math.max(rss[i]!.max, bytes);
        rss[i]!.processes = Math.max(rss[i]!.processes, pids.length);
      });
      await sleep(1000);
    }
    const seconds = (performance.now() - startedAt) / 1000;
    // Ticks of processes that ended meanwhile are in their parent's cutime once waited for.
    const after = trees().map(ticksOf);
    const machineAfter = machineCpuTicks();
    const used = after.map((a, i) => Math.max(0, a - before[i]!));
    const rows: FootprintRow[] = targets.map((t, i) => ({
      target: t.name,
      cpuPercent: (used[i]! / TICKS / seconds) * 100,
      rssMeanMiB: rss[i]!.sum / Math.max(1, rss[i]!.n) / MiB,
      rssMaxMiB: rss[i]!.max / MiB,
      series: last[i]!.series,
      bytes: last[i]!.bytes,
      scrapes: last[i]!.scrapes,
      scrapeMs: last[i]!.ms / Math.max(1, last[i]!.scrapes),
      processes: rss[i]!.processes,
    }));
    const otherCpuPercent = Math.max(0, ((machineAfter - machineBefore - used.reduce((a, b) => a + b, 0)) / TICKS / seconds) * 100);
    return { at: new Date().toISOString(), machine: machine(), commit: gitCommit(), durationMs, scrapeEveryMs, rows, otherCpuPercent, agentNodeFlags: flags };
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    for (const child of children.reverse()) {
      if (child.exitCode !== null) continue;
      child.kill('SIGTERM');
      await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(5000)]);
    }
    cleanUpNow();
  }
}

function gitCommit(): string {
  try {
    const head = readFileSync(path.join(path.dirname(BENCH_FILE), '..', '.git', 'HEAD'), 'utf8').trim();
    const ref = /^ref: (.*)$/.exec(head)?.[1];
    const sha = ref ? readFileSync(path.join(path.dirname(BENCH_FILE), '..', '.git', ref), 'utf8').trim() : head;
    return sha.slice(0, 7);
  } catch {
    return 'unknown';
  }
}

// ------------------------------------------------------------------------------ output

const fixed = (n: number, digits: number) => n.toFixed(digits);

function goalText(row: FootprintRow): string {
  if (row.target === EXPORTER) return '-';
  const cpu = row.cpuPercent <= GOALS.cpuPercent ? 'PASS' : 'FAIL';
  const rss = row.rssMaxMiB <= GOALS.rssMiB ? 'PASS' : 'FAIL';
  return `${cpu} cpu ≤ ${GOALS.cpuPercent} %, ${rss} rss ≤ ${GOALS.rssMiB} MiB`;
}

function cells(result: FootprintResult): string[][] {
  const exporter = result.rows.find((r) => r.target === EXPORTER)!;
  return result.rows.map((r) => [
    r.target,
    `${fixed(r.cpuPercent, 2)} %`,
    `${fixed(r.rssMeanMiB, 1)} / ${fixed(r.rssMaxMiB, 1)}`,
    String(r.processes),
    String(r.series),
    `${fixed(r.bytes / 1024, 1)} KiB`,
    `${fixed(r.scrapeMs, 1)} ms`,
    r === exporter ? '1.00 / 1.00' : `${fixed(r.cpuPercent / Math.max(exporter.cpuPercent, 1e-9), 2)} / ${fixed(r.rssMaxMiB / exporter.rssMaxMiB, 2)}`,
    goalText(r),
  ]);
}

const HEADER = ['target', 'CPU (% of a core)', 'RSS MiB mean / peak', 'procs', 'series/scrape', 'bytes/scrape', 'scrape time', 'x node_exporter cpu / rss', 'goals'];

export function footprintTable(result: FootprintResult): string {
  const rows = cells(result);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ');
  return [
    `${result.agentNodeFlags.length ? `agents with node ${result.agentNodeFlags.join(' ')}; ` : ''}${formatDuration(result.durationMs)} measured, scraped every ${formatDuration(result.scrapeEveryMs)}; other work on the machine meanwhile: ${fixed(result.otherCpuPercent, 1)} % of a core`,
    format(HEADER),
    format(widths.map((w) => '-'.repeat(w))),
    ...rows.map(format),
  ].join('\n');
}

export function footprintMarkdown(result: FootprintResult): string {
  const rows = cells(result);
  return [
    `Footprint${result.agentNodeFlags.length ? ` (agents started as \`node ${result.agentNodeFlags.join(' ')} bin/keisan.js agent\`)` : ''} (${formatDuration(result.durationMs)} measured after a 15 s warm-up, all three running at the same time, each scraped every ${formatDuration(result.scrapeEveryMs)}; each agent reported to its own local \`keisan server\` every 15 s — the first with the default health checks, the second with no automatic checks (\`monitor.checks.roles: { all: [], compute: [] }\`); other work on the machine during the window: ${fixed(result.otherCpuPercent, 1)} % of a core):`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i === 0 || i === HEADER.length - 1 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/**
 * The dated RESULTS.md section. `extra` is where more measurements of the agent go (the detection
 * times of bench/agent-detection.ts): it follows the marker line.
 */
export function resultsSection(result: FootprintResult, extra: string[] = []): string {
  return [
    '',
    `## ${result.at.slice(0, 16)}Z — Agent footprint, 2-core VM, commit ${result.commit}`,
    '',
    `Machine: ${result.machine}. Debian's \`prometheus-node-exporter\` ${exporterVersion()} with its default collectors.`,
    '',
    'Command: `npm run bench:agent -- --write` (bench/agent.ts).',
    '',
    footprintMarkdown(result),
    '',
    '<!-- agent detection times (bench/agent-detection.ts measureDetection) -->',
    ...extra.flatMap((text) => ['', text]),
    '',
  ].join('\n');
}

function exporterVersion(): string {
  try {
    const out = spawnSyncText(NODE_EXPORTER, ['--version']);
    return /version (\S+)/.exec(out)?.[1] ?? '';
  } catch {
    return '';
  }
}

function spawnSyncText(file: string, args: string[]): string {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout}${r.stderr}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === BENCH_FILE) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const durationMs = arg('duration') ? parseDuration(arg('duration')!) : 60_000;
  const agentNodeFlags = arg('agent-node-flags')?.split(/\s+/).filter(Boolean) ?? [];
  const result = await measureFootprint({ durationMs, agentNodeFlags });
  console.log(footprintTable(result));
  const extra: string[] = [];
  if (process.argv.includes('--detection')) {
    // The detection times of the health checks (bench/agent-detection.ts): after the footprint
    // window, so its server, agent and namespaces do not load the machine being measured.
    const intervalMs = arg('detection-interval') ? parseDuration(arg('detection-interval')!) : 5000;
    const repeat = arg('detection-repeat') ? Number(arg('detection-repeat')) : 3;
    const detection = await measureDetection({ intervalMs, repeat });
    console.log('');
    console.log(detectionTable(detection));
    extra.push(detectionMarkdown(detection));
  }
  if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  if (process.argv.includes('--write')) {
    appendFileSync(RESULTS, resultsSection(result, extra));
    console.log(`\nwritten to ${RESULTS}`);
  }
  process.exit(0);
}
