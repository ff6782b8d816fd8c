/**
 * Detection times of Keisan's health checks, measured end to end on loopback: a real
 * `keisan server` and `keisan agent` (separate processes, as `keisan up` starts them) with a
 * short check interval; the bench breaks something and times how long until the server shows
 * the check critical.
 *
 *   - a stopped essential process: a process check on a process the bench spawns, then kills;
 *   - a filled filesystem: a filesystem check on a small tmpfs (4 MiB) the bench fills past 90 %
 *     (the check's defaults: warning above 80 %, critical above 90 %);
 *   - a duplicate IP address: two network namespaces joined by a veth pair; the agent's
 *     duplicate-ip check probes namespace A's address, then the bench gives namespace B the same
 *     address.
 *
 * Goals (issue 5): ≤ 2 × the check interval for the first two, ≤ 60 s for the duplicate IP.
 *
 * The time is taken from the server's own record: the first `keisan_check_status` point ≥ 2
 * (critical or worse) the server stamped after the bench broke the thing, minus when it broke it
 * (same machine, same clock). Needs root (mount, ip netns); without it the rows say so.
 *
 *   node --import tsx bench/agent-detection.ts              # table on stdout, progress on stderr
 *   node --import tsx bench/agent-detection.ts --interval=5s --repeat=3 --json
 *
 * Each thing is broken and repaired `repeat` times at random points of the check cycle; the goal
 * applies to the slowest round. The time the server took to show the check ok again after the
 * repair is reported too (alerts must clear when fixed).
 *
 * bench/agent.ts (footprint) calls measureDetection() and writes both to bench/RESULTS.md.
 * Everything it creates (processes, the tmpfs mount, the namespaces, the data directory) is
 * removed in `finally`, also after a failure or Ctrl-C.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/lib/net.ts';
import { formatDuration, parseDuration } from '../src/lib/units.ts';
import { reportHostName } from '../src/monitor/agent.ts';
import { createDuplicateIpLab, daemonEnv, Lab, LogBuffer, loginOperator, mountTmpfs, sleep, spawnKeisan, startEssentialProcess, tempDir, waitForHealth } from '../src/monitor/testing-lab.ts';
import { initTestDataDir } from '../src/server/testing.ts';

const BENCH_FILE = fileURLToPath(import.meta.url);

export interface DetectionRow {
  /** What was broken. */
  what: string;
  /** The check (its configured name) that had to go critical. */
  check: string;
  goalMs: number;
  goal: string;
  /** Milliseconds from breaking it to the server's first critical point, the slowest round; null when not measured. */
  measuredMs: number | null;
  medianMs: number | null;
  /** Every round's detection time. */
  samplesMs: number[];
  /** Every round's time from the repair to the server's first ok point. */
  clearedMs: number[];
  /** measured (slowest) / goal (≤ 1 meets the goal). */
  ratio: number | null;
  /** The summary the check gave, or why it was not measured. */
  note: string;
}

export interface DetectionResult {
  at: string;
  machine: string;
  intervalMs: number;
  rows: DetectionRow[];
  /** Whether the agent's /metrics carried keisan_check_status (what Prometheus's CheckCritical reads). */
  agentExposesCheckStatus?: boolean;
}

export interface DetectionOptions {
  /** The check interval and the agent's report interval (default 5 s). */
  intervalMs?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Give up on one scenario after this long (default: max(90 s, 6 × interval)). */
  scenarioTimeoutMs?: number;
  /** Break and repair each thing this many times, at random points of the check cycle (default 3). */
  repeat?: number;
}

/** The two namespaces; the address is from TEST-NET-2 (RFC 5737): never routed, only inside them. */
const NETNS = { nsA: 'kbench-dup-a', nsB: 'kbench-dup-b', vethA: 'kbench-a', vethB: 'kbench-b', address: '198.51.100.77' };
const ESSENTIAL_ARGV0 = 'keisan-bench-essential';
const TMPFS_BYTES = 4 * 1024 * 1024;

function machine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.versions.node}`;
}

interface StatusPoint {
  check: string;
  t: number;
  v: number;
}

/** The server's view, through its API: keisan_check_status points of this host's checks whose name starts with `prefix`. */
class ServerView {
  constructor(
    private readonly base: string,
    private readonly ticket: string,
    readonly host: string,
  ) {}

  async points(prefix: string): Promise<StatusPoint[]> {
    const url = `${this.base}/api/monitor/nodes/${encodeURIComponent(this.host)}/metrics?names=keisan_check_status&since=5m`;
    const response = await fetch(url, { headers: { authorization: `Bearer ${this.ticket}` }, signal: AbortSignal.timeout(5000) });
    if (response.status === 404) return []; // the agent has not reported yet
    if (response.status !== 200) throw new Error(`GET ${url}: HTTP ${response.status} ${(await response.text()).slice(0, 300)}`);
    const body = (await response.json()) as { series: Array<{ labels: Record<string, string>; points: Array<[number, number]> }> };
    return body.series
      .filter((s) => (s.labels.check ?? '') === prefix || (s.labels.check ?? '').startsWith(`${prefix}:`))
      .flatMap((s) => s.points.map(([t, v]) => ({ check: s.labels.check!, t, v })));
  }

  /** The first point of the check with `t >= fromMs` whose value passes `test`, waiting up to `timeoutMs`. */
  async waitFor(prefix: string, fromMs: number, test: (v: number) => boolean, timeoutMs: number): Promise<StatusPoint> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = (await this.points(prefix)).filter((p) => p.t >= fromMs && test(p.v)).sort((a, b) => a.t - b.t)[0];
      if (hit) return hit;
      if (Date.now() > deadline) {
        const seen = (await this.points(prefix)).slice(-6);
        throw new Error(`check ${prefix}: no matching status within ${formatDuration(timeoutMs)} (last points: ${JSON.stringify(seen)})`);
      }
      await sleep(200);
    }
  }

  /** The latest summary of a check (for the table's note), through the checks API when there is one. */
  async summary(prefix: string): Promise<string> {
    for (const url of [`${this.base}/api/monitor/checks?host=${encodeURIComponent(this.host)}`, `${this.base}/api/monitor/nodes/${encodeURIComponent(this.host)}/checks`]) {
      try {
        const response = await fetch(url, { headers: { authorization: `Bearer ${this.ticket}` }, signal: AbortSignal.timeout(5000) });
        if (response.status !== 200) continue;
        const body = (await response.json()) as unknown;
        const list = (Array.isArray(body) ? body : ((body as { checks?: unknown[] }).checks ?? [])) as Array<{ check?: string; summary?: string; status?: string }>;
        const hit = list.find((c) => c.check === prefix || c.check?.startsWith(`${prefix}:`));
        if (hit?.summary) return `${hit.status}: ${hit.summary}`;
      } catch {
        // no such route (yet)
      }
    }
    return '';
  }
}

interface Scenario {
  what: string;
  check: string;
  goal: { ms: number; text: string };
  break(): void;
  repair(): void;
}

/** A row: the goal applies to the slowest of the rounds. */
function row(what: string, check: string, goalMs: number, goal: string, detected: number[] | null, note: string, cleared: number[] = []): DetectionRow {
  const sorted = detected ? [...detected].sort((a, b) => a - b) : [];
  const measuredMs = sorted.length > 0 ? sorted.at(-1)! : null;
  const medianMs = sorted.length > 0 ? sorted[Math.floor((sorted.length - 1) / 2)]! : null;
  return { what, check, goalMs, goal, measuredMs, medianMs, samplesMs: detected ?? [], clearedMs: cleared, ratio: measuredMs === null ? null : measuredMs / goalMs, note };
}

/**
 * Starts a server and an agent on loopback with three bench checks, breaks each thing in turn
 * and returns how long the server took to show it critical.
 */
export async function measureDetection(options: DetectionOptions = {}): Promise<DetectionResult> {
  const intervalMs = options.intervalMs ?? 5000;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const scenarioTimeoutMs = options.scenarioTimeoutMs ?? Math.max(90_000, 6 * intervalMs);
  const repeat = options.repeat ?? 3;
  const interval = formatDuration(intervalMs).replace(/\s+/g, '');
  const result: DetectionResult = { at: new Date().toISOString(), machine: machine(), intervalMs, rows: [] };
  const processGoal = { ms: 2 * intervalMs, text: `≤ 2 × interval (${formatDuration(2 * intervalMs)})` };
  const dupGoal = { ms: 60_000, text: '≤ 60 s' };

  const root = process.getuid?.() === 0;
  if (!root) {
    const why = 'not measured: needs root (tmpfs mount, ip netns)';
    result.rows.push(row('essential process stopped', 'bench-essential', processGoal.ms, processGoal.text, null, why));
    result.rows.push(row('tmpfs filled past 90 %', 'bench-tmpfs', processGoal.ms, processGoal.text, null, why));
    result.rows.push(row('duplicate IP in a second netns', 'bench-dupip', dupGoal.ms, dupGoal.text, null, why));
    return result;
  }

  const lab = new Lab();
  const dir = lab.add(tempDir('keisan-bench-detect-'));
  const logs = new LogBuffer(200);
  // Ctrl-C or a kill: leave no mount, namespace or process behind.
  const interrupted = (signal: NodeJS.Signals) => {
    log(`[detect] ${signal}: cleaning up`);
    lab.cleanupNow();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const tmpfs = lab.add(mountTmpfs(path.join(dir.path, 'tmpfs'), { size: TMPFS_BYTES, source: 'keisan-bench' }));
    const mnt = tmpfs.path;
    const dup = lab.add(createDuplicateIpLab({ ...NETNS, loopbackUp: true, replace: true }));

    const port = await freePort();
    const metricsPort = await freePort();
    const dataDir = path.join(dir.path, 'data');
    initTestDataDir(dataDir, {
      monitor: {
        interval,
        metrics: { listen: '127.0.0.1', port: metricsPort, gpus: false },
        checks: {
          interval,
          // Only the bench's own checks: the automatic ones (every mount, the host's real
          // interfaces) would add load and noise.
          roles: { all: [] },
          extra: [
            { type: 'process', name: 'bench-essential', interval, params: { name: 'bench essential process', pattern: `^${ESSENTIAL_ARGV0}( |$)` } },
            { type: 'filesystem', name: 'bench-tmpfs', interval, params: { mounts: [mnt] } },
            { type: 'duplicate-ip', name: 'bench-dupip', interval, params: { netns: NETNS.nsA, interfaces: [NETNS.vethA], watchNeighbours: false } },
          ],
        },
      },
    });
    const env = daemonEnv(port);
    const base = `http://127.0.0.1:${port}`;
    log(`[detect] server on ${base}, check and report interval ${interval}`);
    const server = lab.add(spawnKeisan(['server', '--data', dataDir], { env, logs }));
    await waitForHealth(base, { timeoutMs: 60_000, child: server.child });
    const { ticket } = await loginOperator(base, dataDir);
    const view = new ServerView(base, ticket, reportHostName(os.hostname()));

    const essential = lab.add(startEssentialProcess(ESSENTIAL_ARGV0));
    lab.add(spawnKeisan(['agent', '--data', dataDir], { env, logs }));
    const scenarios: Scenario[] = [
      {
        what: 'essential process stopped',
        check: 'bench-essential',
        goal: processGoal,
        break: () => essential.kill(),
        repair: () => essential.restart(),
      },
      {
        what: 'tmpfs filled past 90 %',
        check: 'bench-tmpfs',
        goal: processGoal,
        break: () => tmpfs.fill(0.95),
        repair: () => tmpfs.unfill(),
      },
      {
        what: 'duplicate IP in a second netns',
        check: 'bench-dupip',
        goal: dupGoal,
        break: () => dup.conflict(),
        repair: () => dup.resolve(),
      },
    ];
    const started = Date.now();
    log(`[detect] waiting for the three checks to report ok…`);
    for (const scenario of scenarios) {
      try {
        await view.waitFor(scenario.check, started, (v) => v === 0, scenarioTimeoutMs);
      } catch (error) {
        throw new Error(`${String(error)}\n${(await view.summary(scenario.check)) || '(no summary)'}\nlast daemon lines:\n${logs.tail(20)}`);
      }
    }
    // What Prometheus would see (deploy/prometheus): the check results on the agent's own /metrics.
    try {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      result.agentExposesCheckStatus = /^keisan_check_status\{/m.test(text);
    } catch {
      result.agentExposesCheckStatus = false;
    }
    for (const scenario of scenarios) {
      const detected: number[] = [];
      const cleared: number[] = [];
      let note = '';
      for (let round = 0; round < repeat; round++) {
        const brokeAt = Date.now();
        scenario.break();
        const hit = await view.waitFor(scenario.check, brokeAt, (v) => v >= 2, scenarioTimeoutMs);
        detected.push(hit.t - brokeAt);
        if (!note) note = await view.summary(scenario.check);
        const repairedAt = Date.now();
        scenario.repair();
        const ok = await view.waitFor(scenario.check, repairedAt, (v) => v === 0, scenarioTimeoutMs);
        cleared.push(ok.t - repairedAt);
        log(`[detect] ${scenario.what}: critical after ${hit.t - brokeAt} ms, ok again ${ok.t - repairedAt} ms after the repair`);
        // Break the next round at another point of the check's cycle.
        await sleep(Math.round(Math.random() * intervalMs));
      }
      result.rows.push(row(scenario.what, scenario.check, scenario.goal.ms, scenario.goal.text, detected, note, cleared));
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`[detect] failed: ${message}`);
    const done = new Set(result.rows.map((r) => r.check));
    const why = `not measured: ${message.split('\n')[0]}`;
    if (!done.has('bench-essential')) result.rows.push(row('essential process stopped', 'bench-essential', processGoal.ms, processGoal.text, null, why));
    if (!done.has('bench-tmpfs')) result.rows.push(row('tmpfs filled past 90 %', 'bench-tmpfs', processGoal.ms, processGoal.text, null, why));
    if (!done.has('bench-dupip')) result.rows.push(row('duplicate IP in a second netns', 'bench-dupip', dupGoal.ms, dupGoal.text, null, why));
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    await lab.cleanup();
  }
  return result;
}

function seconds(ms: number | null): string {
  return ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`;
}

/** A plain-text table with the goals and ratios. */
export function detectionTable(result: DetectionResult): string {
  const header = ['what was broken', 'detected (median)', 'slowest', 'goal', 'ratio', 'met', 'cleared (slowest)'];
  const lines = result.rows.map((r) => [
    r.what,
    seconds(r.medianMs),
    seconds(r.measuredMs),
    r.goal,
    r.ratio === null ? '—' : r.ratio.toFixed(2),
    r.ratio === null ? '—' : r.ratio <= 1 ? 'yes' : 'NO',
    r.clearedMs.length ? seconds(Math.max(...r.clearedMs)) : '—',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const rounds = Math.max(0, ...result.rows.map((r) => r.samplesMs.length));
  return [`check interval ${formatDuration(result.intervalMs)}, ${rounds} rounds each; ratio = slowest / goal`, format(header), format(widths.map((w) => '-'.repeat(w))), ...lines.map(format)].join('\n');
}

/** The same as Markdown, with the checks' summaries, for bench/RESULTS.md. */
export function detectionMarkdown(result: DetectionResult): string {
  const lines = [
    `Detection times (check and report interval ${formatDuration(result.intervalMs)}; server and agent on loopback; ${result.at.slice(0, 16).replace('T', ' ')} UTC; ${result.machine}):`,
    '',
    '| what was broken | detected, each round | slowest | goal | ratio | cleared after repair | what the server showed |',
    '|---|---|---:|---|---:|---|---|',
    ...result.rows.map(
      (r) =>
        `| ${r.what} | ${r.samplesMs.map((ms) => seconds(ms)).join(', ') || '—'} | ${seconds(r.measuredMs)} | ${r.goal} | ${r.ratio === null ? '—' : r.ratio.toFixed(2)} | ${r.clearedMs.map((ms) => seconds(ms)).join(', ') || '—'} | ${r.note.replace(/\|/g, '\\|') || '—'} |`,
    ),
  ];
  if (result.agentExposesCheckStatus !== undefined) {
    lines.push(
      '',
      result.agentExposesCheckStatus
        ? "The agent's `/metrics` carried `keisan_check_status`, so Prometheus's CheckCritical and CheckWarning (deploy/prometheus) see the same check results."
        : "The agent's `/metrics` did not carry `keisan_check_status`: Prometheus's CheckCritical and CheckWarning (deploy/prometheus) cannot see these check results from agent scrapes.",
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === BENCH_FILE) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const intervalMs = arg('interval') ? parseDuration(arg('interval')!) : 5000;
  const repeat = arg('repeat') ? Number(arg('repeat')) : 3;
  const result = await measureDetection({ intervalMs, repeat });
  if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(detectionTable(result));
    console.log('');
    console.log(detectionMarkdown(result));
  }
  process.exit(result.rows.every((r) => r.measuredMs !== null) ? 0 : 1);
}
