import { existsSync } from 'node:fs';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import pino from 'pino';
import { defaultSettings, FACILITY_FILE, loadFacilityFile, type Settings } from '../lib/config.ts';
import { untilSignal } from '../lib/process.ts';
import { parseDuration } from '../lib/units.ts';
import { KEISAN_VERSION } from '../lib/version.ts';
import { DaemonLink } from '../ops/daemon-client.ts';
import { MaintenanceRunner } from '../ops/maint/agent-runner.ts';
import { createCheckRunner, type CheckRunner, type CheckRunnerOptions } from './checks/runner.ts';
import { CHECK_STATUS_VALUE, type AgentReport, type CheckResult, type Sample } from './model.ts';
import { NodeCollector } from './metrics/collector.ts';
import { samplesRegistry } from './metrics/exposition.ts';
import { startMetricsEndpoint, type MetricsEndpoint } from './metrics/http.ts';
import type { MetricsSettings } from './metrics/settings.ts';
import { serverSet } from '../server/ha/follow.ts';

export interface AgentOptions {
  serverUrl: string;
  nodeSecret: string;
  /** The data directory: its keisan.yaml (if any) gives monitor.metrics and batch.cgroupParent. */
  dataDir?: string;
  /** Instead of the data directory's keisan.yaml (tests). */
  settings?: Settings;
  /** Default: this machine's host name. */
  host?: string;
  /** The node's roles (login, compute, storage, server…) for the health checks. Default: compute. */
  roles?: readonly string[];
  /** Report every this long, whatever the server says (tests); default: the server's monitor.interval. */
  intervalMs?: number;
  /** Override monitor.metrics.port (false: no /metrics; 0: any free port, for tests). */
  metricsPort?: number | false;
  metricsListen?: string;
  logger?: pino.Logger;
  /** Register and heartbeat as a daemon (default true; tests of the reporting leave it out). */
  daemonLink?: boolean;
  /** Where procfs is (tests). */
  proc?: string;
  /** The health-check runner (default: checks/runner.ts createCheckRunner; tests pass their own). */
  createChecks?: (options: CheckRunnerOptions) => CheckRunner;
  /** Run the command steps of maintenance plans queued for this host (default true). */
  maintenance?: boolean;
}

/** A host name as the report schema wants it (letters, digits, dots and dashes). */
export function reportHostName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return cleaned === '' ? 'localhost' : cleaned.slice(0, 255);
}

/** Pure: the delay before the next report after `failures` failed tries in a row. */
export function nextReportDelayMs(failures: number, intervalMs: number): number {
  if (failures === 0) return intervalMs;
  return Math.min(1000 * 2 ** Math.min(failures - 1, 5), intervalMs);
}

/** How long finished check results wait to be pushed together (at most a second, per the contract). */
const CHECK_BATCH_MS = 500;

/**
 * The node agent: samples metrics every interval and pushes them with the health-check results
 * to the server (POST /api/monitor/report); serves the same metrics at /metrics for
 * Prometheus; keeps the daemon registration (heartbeats). Never throws because the server is
 * down: reports are retried with backoff, check results wait for the next report.
 */
export class Agent {
  readonly host: string;
  metrics: MetricsEndpoint | null = null;
  private readonly logger: pino.Logger;
  private readonly collector: NodeCollector;
  private readonly checks: CheckRunner;
  private readonly link: DaemonLink | null;
  /** Runs the maintenance plans' command steps for this host (src/ops/maint/agent-runner.ts). */
  readonly maintenance: MaintenanceRunner | null;
  private readonly pendingChecks = new Map<string, CheckResult>();
  /** The latest result of every check, for /metrics (Prometheus rules read keisan_check_status from the agents). */
  private readonly latestChecks = new Map<string, CheckResult>();
  private intervalMs: number;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Posts go one at a time, in order. */
  private sending: Promise<unknown> = Promise.resolve();
  /** Reports that reached the server (tests and the log read it). */
  reportsSent = 0;
  lastError: string | null = null;

  constructor(
    private readonly options: AgentOptions,
    private readonly settings: Settings,
  ) {
    this.logger = options.logger ?? pino({ name: 'keisan-agent', level: process.env.KEISAN_LOG_LEVEL ?? 'info' });
    this.host = reportHostName(options.host ?? hostname());
    this.intervalMs = options.intervalMs ?? settings.monitor.interval;
    this.collector = new NodeCollector({
      logger: this.logger,
      ...(options.proc ? { proc: options.proc } : {}),
      jobs: { parent: settings.batch.cgroupParent, ...(settings.batch.executor === 'slurm' ? { slurm: { ...(settings.batch.slurm.conf ? { conf: settings.batch.slurm.conf } : {}) } } : {}) },
      gpus: settings.monitor.metrics.gpus ? {} : false,
    });
    this.checks = (options.createChecks ?? createCheckRunner)({
      host: this.host,
      serverUrl: options.serverUrl,
      nodeSecret: options.nodeSecret,
      roles: options.roles ?? ['compute'],
      logger: this.logger,
      onResult: (result) => this.checkFinished(result),
    });
    this.maintenance =
      options.maintenance === false
        ? null
        : new MaintenanceRunner({ serverUrl: options.serverUrl, nodeSecret: options.nodeSecret, host: this.host, logger: this.logger, pollMs: settings.maintenance.agentPollInterval });
    this.link =
      options.daemonLink === false
        ? null
        : new DaemonLink({
            kind: 'agent',
            serverUrl: options.serverUrl,
            nodeSecret: options.nodeSecret,
            logger: this.logger,
            host: this.host,
            info: () => ({
              cpus: cpus().length,
              memoryBytes: totalmem(),
              load1: Math.round(loadavg()[0]! * 100) / 100,
              metricsPort: this.metrics?.port ?? null,
            }),
          });
  }

  async start(): Promise<void> {
    const metrics: MetricsSettings = this.settings.monitor.metrics;
    const port = this.options.metricsPort !== undefined ? this.options.metricsPort : metrics.port;
    if (port !== false) {
      const listen = this.options.metricsListen ?? metrics.listen;
      // A scrape within a few seconds of a report reuses its collection.
      const registry = samplesRegistry(async () => [...(await this.collector.latest(5_000)), ...this.checkSamples()]);
      try {
        this.metrics = await startMetricsEndpoint(registry, listen, port);
        this.logger.info({ url: this.metrics.url, listen }, 'serving Prometheus metrics');
      } catch (error) {
        // Another agent (or node_exporter) on the port must not stop the reports.
        this.logger.warn({ listen, port, reason: error instanceof Error ? error.message : String(error) }, 'cannot serve /metrics; reporting to the server only');
      }
    }
    this.link?.start();
    this.checks.start();
    this.maintenance?.start();
    // The first collection only primes the CPU counters; the first report follows a second later with busy ratios.
    await this.collector.collect().catch(() => undefined);
    this.schedule(1000);
    this.logger.info({ pid: process.pid, host: this.host, server: this.options.serverUrl, version: KEISAN_VERSION }, 'keisan agent started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.checkTimer);
    await Promise.allSettled([this.checks.stop(), this.link?.stop(), this.metrics?.close(), this.maintenance?.stop()]);
    // Results of the last moments still go out, if the server is there (bounded by the post timeout).
    if (this.pendingChecks.size > 0) await this.enqueue(false).catch(() => undefined);
  }

  /** Collects and reports now (tests; the timer calls it every interval). */
  async reportNow(): Promise<boolean> {
    return this.enqueue(true);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    await this.enqueue(true);
    this.schedule(nextReportDelayMs(this.failures, this.intervalMs));
  }

  /** keisan_check_status and keisan_check_value of the latest results, as the server derives them too. */
  checkSamples(): Sample[] {
    const out: Sample[] = [];
    for (const r of this.latestChecks.values()) {
      const labels = { check: r.check, type: r.type, target: r.target };
      out.push({ name: 'keisan_check_status', labels, value: CHECK_STATUS_VALUE[r.status] });
      if (r.value !== null) out.push({ name: 'keisan_check_value', labels, value: r.value });
    }
    return out;
  }

  private checkFinished(result: CheckResult): void {
    this.latestChecks.set(result.check, result);
    this.pendingChecks.set(result.check, result);
    if (this.checkTimer || this.stopped) return;
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      void this.enqueue(false);
    }, CHECK_BATCH_MS);
    this.checkTimer.unref?.();
  }

  private enqueue(withSamples: boolean): Promise<boolean> {
    const next = this.sending.then(() => this.send(withSamples));
    this.sending = next.catch(() => undefined);
    return next;
  }

  private async send(withSamples: boolean): Promise<boolean> {
    const checks = [...this.pendingChecks.values()];
    if (!withSamples && checks.length === 0) return true;
    let samples: AgentReport['samples'] = [];
    if (withSamples) samples = await this.collector.collect();
    const report: AgentReport = { host: this.host, at: new Date().toISOString(), samples, checks };
    try {
      const response = await serverSet(this.options.serverUrl).fetch('/api/monitor/report', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Node ${this.options.nodeSecret}` },
        body: JSON.stringify(report),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
      const reply = JSON.parse(text) as { intervalSeconds?: number };
      if (this.options.intervalMs === undefined && typeof reply.intervalSeconds === 'number' && reply.intervalSeconds >= 1) {
        this.intervalMs = reply.intervalSeconds * 1000;
      }
      // Drop the results sent, unless a newer one of the same check arrived meanwhile.
      for (const sent of checks) if (this.pendingChecks.get(sent.check) === sent) this.pendingChecks.delete(sent.check);
      if (this.failures > 0) this.logger.info({ server: this.options.serverUrl, after: this.failures }, 'reporting to the keisan server again');
      this.failures = 0;
      this.lastError = null;
      this.reportsSent++;
      return true;
    } catch (error) {
      this.failures++;
      this.lastError = error instanceof Error ? error.message : String(error);
      // The first failure and then every tenth: a long outage must not flood the log.
      if (this.failures === 1 || this.failures % 10 === 0) {
        this.logger.warn({ server: this.options.serverUrl, failures: this.failures, reason: this.lastError }, 'cannot report to the keisan server; will retry');
      }
      return false;
    }
  }
}

/** The settings an agent runs with: the data directory's keisan.yaml when there is one, else the defaults. */
export function agentSettings(dataDir: string | undefined): Settings {
  if (dataDir && existsSync(path.join(dataDir, FACILITY_FILE))) return loadFacilityFile(dataDir).settings;
  return defaultSettings();
}

/** Starts an agent; the caller stops it. */
export async function startAgent(options: AgentOptions): Promise<Agent> {
  const agent = new Agent(options, options.settings ?? agentSettings(options.dataDir));
  await agent.start();
  return agent;
}

/**
 * A small young generation: the agent allocates little and keeps less, and V8's default lets
 * the young generation grow to 32 MiB during start-up and stay there (bench/RESULTS.md, "Agent
 * footprint": −16 MiB RSS, no measurable CPU cost). Left alone when Node.js was given a size.
 */
export function shrinkYoungGeneration(): boolean {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((flag) => /semi[-_]space/.test(flag));
  if (given) return false;
  v8.setFlagsFromString('--max-semi-space-size=1');
  return true;
}

/** `keisan agent`: one per node; runs until SIGINT/SIGTERM. */
export async function runAgentProcess(options: AgentOptions): Promise<void> {
  shrinkYoungGeneration();
  const logger = options.logger ?? pino({ name: 'keisan-agent', level: process.env.KEISAN_LOG_LEVEL ?? 'info' });
  // KEISAN_AGENT_INTERVAL (e.g. 2s) overrides the server's interval: for tests and benches.
  const envInterval = process.env.KEISAN_AGENT_INTERVAL;
  const intervalMs = options.intervalMs ?? (envInterval ? Math.max(100, parseDuration(envInterval)) : undefined);
  const agent = await startAgent({ ...options, logger, ...(intervalMs !== undefined ? { intervalMs } : {}) });
  await untilSignal(logger, () => agent.stop());
}
