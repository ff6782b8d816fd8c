import type pino from 'pino';
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { CheckResult } from '../model.ts';
import { errorText, humanMs, type CheckContext, type CheckOutcome, type CheckType } from './check-type.ts';
import { runCommand, type CommandRunner } from './exec.ts';
import { checkTypeOf } from './registry.ts';
import { agentChecksSchema, type AgentChecks, type ResolvedCheck } from './resolve.ts';
import { serverSet } from '../../server/ha/follow.ts';

export interface CheckRunnerOptions {
  host: string;
  serverUrl: string;
  nodeSecret: string;
  /** The node's roles (login, compute, storage, server…): they pick the essential processes and default checks. */
  roles: readonly string[];
  logger: pino.Logger;
  /** Called with every finished check; the agent pushes changed results to the server at once. */
  onResult: (result: CheckResult) => void;
  /** Optional: a fixed check list instead of fetching it from the server (tests, benchmarks). */
  checks?: AgentChecks;
  /** Optional: the clock checks decide with (default: the system clock). */
  clock?: Clock;
  /** Optional: how commands are run (default: spawn with a timeout). */
  exec?: CommandRunner;
  /** Optional: retry the first fetch of the check list this often while the server does not answer (default 15 s). */
  retryMs?: number;
}

export interface CheckRunner {
  start(): void;
  stop(): Promise<void>;
}

interface Entry {
  check: ResolvedCheck;
  key: string;
  type: CheckType | undefined;
  state: Map<string, unknown>;
  timer: NodeJS.Timeout | null;
  running: Promise<void> | null;
  /** A run past its timeout that has not ended yet: the check does not run again until it has. */
  hung: Promise<unknown> | null;
  controller: AbortController | null;
  runs: number;
}

/** Turns a check's outcomes into results: `<id>` for one outcome, `<name or type>:<target>` per target. */
export function toResults(check: ResolvedCheck, type: CheckType | undefined, params: unknown, outcomes: CheckOutcome[], at: Date, durationMs: number): CheckResult[] {
  let defaultTarget = check.id.includes(':') ? check.id.slice(check.id.indexOf(':') + 1) : check.id;
  if (type) {
    try {
      defaultTarget = type.target(params as never);
    } catch {
      // params did not parse: keep the id's tail
    }
  }
  return outcomes.map((outcome) => {
    const target = outcome.target ?? defaultTarget;
    return {
      check: outcome.target !== undefined ? `${check.name ?? check.type}:${outcome.target}` : check.id,
      type: check.type,
      target: target.slice(0, 1024),
      status: outcome.status,
      summary: outcome.summary.slice(0, 2000),
      value: outcome.value === undefined || outcome.value === null || !Number.isFinite(outcome.value) ? null : outcome.value,
      details: outcome.details ?? {},
      at: at.toISOString(),
      durationMs: Math.max(0, Math.round(durationMs)),
    };
  });
}

/**
 * Runs a node's health checks: each on its own interval, with a timeout, never two runs of one
 * check at once, at most `concurrency` checks together. The list comes from the server
 * (GET /api/monitor/agent-checks) at start and every `refresh`; while the server is down the last
 * list keeps running. A check that throws or times out is reported `unknown` with the reason.
 */
export class LocalCheckRunner implements CheckRunner {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly exec: CommandRunner;
  private concurrency = 4;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private refreshTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private started = false;
  /** When the check list was last fetched (ms), and the last fetch error. */
  lastFetchAt: number | null = null;
  lastFetchError: string | null = null;

  constructor(private readonly options: CheckRunnerOptions) {
    this.clock = options.clock ?? systemClock;
    this.exec = options.exec ?? runCommand;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.options.checks) this.apply(this.options.checks);
    else void this.refresh();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const running: Promise<void>[] = [];
    for (const entry of this.entries.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.controller?.abort();
      if (entry.running) running.push(entry.running);
    }
    for (const release of this.waiting.splice(0)) release();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(running), new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
  }

  /** The checks running now (ids). */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Replaces the check list: new checks start, removed ones stop, unchanged ones keep their state (trends, log offsets). */
  apply(list: AgentChecks): void {
    this.concurrency = list.concurrency;
    const next = new Map(list.checks.map((check) => [check.id, check]));
    for (const [id, entry] of this.entries) {
      const replacement = next.get(id);
      if (!replacement || JSON.stringify(replacement) !== entry.key) {
        if (entry.timer) clearTimeout(entry.timer);
        entry.controller?.abort();
        this.entries.delete(id);
      }
    }
    let index = 0;
    for (const check of list.checks) {
      if (this.entries.has(check.id)) continue;
      const entry: Entry = { check, key: JSON.stringify(check), type: checkTypeOf(check.type), state: new Map(), timer: null, running: null, hung: null, controller: null, runs: 0 };
      this.entries.set(check.id, entry);
      // Spread the first runs over a second or two so a node's checks do not all start at once.
      this.schedule(entry, Math.min(2_000, index++ * 100));
    }
  }

  private schedule(entry: Entry, delayMs: number): void {
    if (this.stopped || this.entries.get(entry.check.id) !== entry) return;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (entry.running || entry.hung) {
        // Still busy (a hung run past its timeout): never overlap, try again an interval later.
        this.schedule(entry, entry.check.intervalMs);
        return;
      }
      const started = Date.now();
      entry.running = this.runEntry(entry).finally(() => {
        entry.running = null;
        this.schedule(entry, Math.max(0, entry.check.intervalMs - (Date.now() - started)));
      });
    }, delayMs);
    entry.timer.unref();
  }

  private async acquire(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  private async runEntry(entry: Entry): Promise<void> {
    await this.acquire();
    if (this.stopped) {
      this.release();
      return;
    }
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        this.release();
      }
    };
    try {
      const results = await this.runCheck(entry, release);
      if (this.stopped || this.entries.get(entry.check.id) !== entry) return;
      for (const result of results) {
        try {
          this.options.onResult(result);
        } catch (error) {
          this.options.logger.warn({ err: error, check: result.check }, 'the check result could not be handed on');
        }
      }
    } finally {
      release();
    }
  }

  /** One run of one check, always resolving to results (unknown with the reason when it cannot tell). */
  async runCheck(entry: Entry, onTimeout: () => void = () => {}): Promise<CheckResult[]> {
    const { check, type } = entry;
    const at = this.clock.now();
    const started = performance.now();
    const host = this.options.host;
    const fail = (summary: string) => toResults(check, type, undefined, [{ status: 'unknown', summary, value: null }], at, performance.now() - started);
    if (!type) return fail(`this agent does not know the check type '${check.type}' (check ${check.id} on ${host}): update the agent`);
    const parsed = type.params.safeParse(check.params);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return fail(`check ${check.id} on ${host} has bad params: ${issue.path.join('.') || 'params'}: ${issue.message}`);
    }
    const controller = new AbortController();
    entry.controller = controller;
    entry.runs++;
    const context: CheckContext = {
      host,
      now: () => this.clock.now().getTime(),
      exec: this.exec,
      state: entry.state,
      signal: controller.signal,
      serverUrl: this.options.serverUrl,
    };
    // A check's own timeout (an HTTP or SSH wait, ping's per-reply wait × count) gets to speak first: its
    // answer ("no answer within 10 s", critical) says more than the runner's "did not finish" (unknown).
    const own = parsed.data as { timeout?: unknown; count?: unknown };
    const ownMs = typeof own.timeout === 'number' ? own.timeout * (typeof own.count === 'number' ? own.count : 1) + 2_000 : 0;
    const limitMs = Math.max(check.timeoutMs, ownMs);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), limitMs);
    });
    const run = (async () => type.run(parsed.data, context))().catch((error: unknown) => ({ crashed: errorText(error) }));
    try {
      const outcome = await Promise.race([run, timedOut]);
      if (outcome === 'timeout') {
        controller.abort();
        entry.hung = run.finally(() => (entry.hung = null));
        onTimeout();
        return fail(`check ${check.id} on ${host} did not finish within ${humanMs(limitMs)}`);
      }
      if ('crashed' in outcome) return fail(`check ${check.id} on ${host} failed to run: ${outcome.crashed}`);
      const outcomes = Array.isArray(outcome) ? outcome : [outcome];
      return toResults(check, type, parsed.data, outcomes, at, performance.now() - started);
    } finally {
      clearTimeout(timer);
      if (entry.controller === controller) entry.controller = null;
    }
  }

  /** Runs every check once now, in order, and returns the results (the CLI's `--once`, tests). */
  async runAllOnce(): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    for (const entry of this.entries.values()) results.push(...(await this.runCheck(entry)));
    return results;
  }

  private async refresh(): Promise<void> {
    if (this.stopped) return;
    let next = this.options.retryMs ?? 15_000;
    try {
      const list = await this.fetchList();
      this.apply(list);
      this.lastFetchAt = Date.now();
      this.lastFetchError = null;
      next = list.refreshMs;
    } catch (error) {
      this.lastFetchError = errorText(error);
      if (this.lastFetchAt !== null) next = Math.max(next, 60_000);
      this.options.logger.warn(
        { err: this.lastFetchError },
        this.lastFetchAt === null ? 'cannot fetch the health-check list from the server yet; retrying' : 'cannot refresh the health-check list; the last one keeps running',
      );
    }
    if (this.stopped) return;
    this.refreshTimer = setTimeout(() => void this.refresh(), next);
    this.refreshTimer.unref();
  }

  private async fetchList(): Promise<AgentChecks> {
    const url = new URL('/api/monitor/agent-checks', this.options.serverUrl);
    url.searchParams.set('host', this.options.host);
    url.searchParams.set('roles', this.options.roles.join(','));
    const response = await serverSet(this.options.serverUrl).fetch(url.pathname + url.search, { headers: { authorization: `Node ${this.options.nodeSecret}` }, signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`the server answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    return agentChecksSchema.parse(await response.json());
  }
}

export function createCheckRunner(options: CheckRunnerOptions): LocalCheckRunner {
  return new LocalCheckRunner(options);
}
