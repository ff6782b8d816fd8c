import { CHECK_STATUS_VALUE, type AgentReport, type CheckResult, type SeriesReader } from './model.ts';
import { SeriesStore, type SeriesStoreLimits } from './series.ts';

export interface HostState {
  host: string;
  /** When the last report from the host's agent arrived (server clock), ISO. */
  lastReportAt: string;
  /** The agent's own timestamp of that report, ISO: the difference shows clock skew. */
  lastReportAgentAt: string;
  /** Up while reports keep coming: down after `staleAfterMs` without one. */
  up: boolean;
}

export interface MonitorHubOptions extends SeriesStoreLimits {
  /** A host is down once no report arrived for this long (default: 3 × the agents' interval). */
  staleAfterMs: number;
}

export type ReportListener = (host: string, report: AgentReport, receivedAtMs: number) => void;

/**
 * The server's view of every node: recent metric history, the latest result of every health
 * check, and whether each agent still reports. Check results also become the series
 * `keisan_check_status{host,check,type,target}` (0 ok, 1 warning, 2 critical, 3 unknown) so
 * alert rules treat checks and metrics alike; `up{host,job="agent"}` is 1 while reports come.
 */
export class MonitorHub {
  readonly series: SeriesStore;
  private readonly checks = new Map<string, Map<string, CheckResult>>();
  private readonly hostsSeen = new Map<string, { receivedAtMs: number; agentAt: string }>();
  private readonly listeners: ReportListener[] = [];

  constructor(private readonly options: MonitorHubOptions) {
    this.series = new SeriesStore(options);
  }

  get reader(): SeriesReader {
    return this.series;
  }

  onReport(listener: ReportListener): void {
    this.listeners.push(listener);
  }

  ingest(report: AgentReport, receivedAtMs: number): void {
    const host = report.host;
    // Samples are stamped with the server's clock: alert windows and `--since` then agree across
    // nodes whose clocks drift (the time-drift check reports the drift itself).
    this.series.append(report.samples, receivedAtMs, { host });
    if (report.checks.length > 0) {
      let latest = this.checks.get(host);
      if (!latest) {
        latest = new Map();
        this.checks.set(host, latest);
      }
      for (const result of report.checks) latest.set(result.check, result);
      this.series.append(
        report.checks.map((result) => ({
          name: 'keisan_check_status',
          labels: { check: result.check, type: result.type, target: result.target },
          value: CHECK_STATUS_VALUE[result.status],
        })),
        receivedAtMs,
        { host },
      );
      this.series.append(
        report.checks
          .filter((result) => result.value !== null)
          .map((result) => ({ name: 'keisan_check_value', labels: { check: result.check, type: result.type, target: result.target }, value: result.value! })),
        receivedAtMs,
        { host },
      );
    }
    this.hostsSeen.set(host, { receivedAtMs, agentAt: report.at });
    this.series.append([{ name: 'up', labels: { job: 'agent' }, value: 1 }], receivedAtMs, { host });
    for (const listener of this.listeners) listener(host, report, receivedAtMs);
  }

  /** Called every few seconds: drops old history and marks silent hosts down (`up` = 0). */
  tick(nowMs: number): void {
    this.series.trim(nowMs);
    for (const [host, seen] of this.hostsSeen) {
      if (nowMs - seen.receivedAtMs > this.options.staleAfterMs) {
        this.series.append([{ name: 'up', labels: { job: 'agent' }, value: 0 }], nowMs, { host });
      }
    }
  }

  hosts(nowMs: number): HostState[] {
    return [...this.hostsSeen.entries()]
      .map(([host, seen]) => ({
        host,
        lastReportAt: new Date(seen.receivedAtMs).toISOString(),
        lastReportAgentAt: seen.agentAt,
        up: nowMs - seen.receivedAtMs <= this.options.staleAfterMs,
      }))
      .sort((a, b) => a.host.localeCompare(b.host));
  }

  /** The latest result of every check, of one host or of all. */
  latestChecks(host?: string): CheckResult[] {
    const hosts = host === undefined ? [...this.checks.keys()].sort() : [host];
    return hosts.flatMap((name) => [...(this.checks.get(name)?.values() ?? [])].sort((a, b) => a.check.localeCompare(b.check)));
  }

  /** The latest result of one check on one host (alert summaries quote it). */
  check(host: string, check: string): CheckResult | undefined {
    return this.checks.get(host)?.get(check);
  }

  forgetHost(host: string): void {
    this.checks.delete(host);
    this.hostsSeen.delete(host);
    this.series.forgetHost(host);
  }
}
