import { spawn } from 'node:child_process';
import type pino from 'pino';
import type { AgentResult, AgentWork } from './model.ts';
import { serverSet } from '../../server/ha/follow.ts';

export interface ShellOutcome {
  /** null when the command could not be started or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  failure?: string;
}

export type ShellRunner = (command: string, options: { timeoutMs: number; maxBytes: number }) => Promise<ShellOutcome>;

const cut = (text: string, limit: number, truncated: boolean) => (truncated ? `${text}\n[output cut at ${limit} bytes]` : text);

/**
 * `sh -c COMMAND` in its own process group, so that a timeout kills the whole pipeline and not
 * only the shell (a `sleep` child would otherwise hold the output open); each stream keeps at most
 * `maxBytes`, marked when cut. Never throws.
 */
export const runShell: ShellRunner = (command, { timeoutMs, maxBytes }) =>
  new Promise((resolve) => {
    const out = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), cutOut: false, cutErr: false };
    let timedOut = false;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, LC_ALL: 'C' } });
    } catch (error) {
      resolve({ code: null, stdout: '', stderr: '', timedOut: false, failure: `sh could not be started: ${String(error)}` });
      return;
    }
    const keep = (which: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const have = out[which];
      if (have.length >= maxBytes) {
        if (which === 'stdout') out.cutOut = true;
        else out.cutErr = true;
        return;
      }
      const room = maxBytes - have.length;
      if (chunk.length > room) {
        if (which === 'stdout') out.cutOut = true;
        else out.cutErr = true;
      }
      out[which] = Buffer.concat([have, chunk.subarray(0, room)]);
    };
    child.stdout!.on('data', keep('stdout'));
    child.stderr!.on('data', keep('stderr'));
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    let settled = false;
    child.on('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code: null, stdout: out.stdout.toString('utf8'), stderr: out.stderr.toString('utf8'), timedOut: false, failure: `sh: ${error.message}` });
    });
    child.on('close', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        code: timedOut ? null : code,
        stdout: cut(out.stdout.toString('utf8'), maxBytes, out.cutOut),
        stderr: cut(out.stderr.toString('utf8'), maxBytes, out.cutErr),
        timedOut,
        ...(timedOut ? { failure: `killed after ${(timeoutMs / 1000).toFixed(1)} s (maintenance.commandTimeout)` } : {}),
      });
    });
  });

/**
 * The agent's side of maintenance plans: it asks the server for the command steps queued for its
 * host (GET /api/ops/maint/agent-work, with the node secret), runs each with `sh -c` under the
 * step's timeout with bounded output, and posts the result (POST /api/ops/maint/agent-work/:id);
 * the server compares it with the step's expected result. The server hands a step out only after
 * the operator confirmed the host name and the redundancy guard allowed it. One step at a time;
 * never throws because the server is away (it asks again at the next poll).
 */
export interface MaintenanceRunnerOptions {
  serverUrl: string;
  nodeSecret: string;
  /** The agent's host name (the inventory names the same host). */
  host: string;
  logger: pino.Logger;
  /** How often to ask for work (default 10 s). */
  pollMs?: number;
  /** How commands run (default: `sh -c COMMAND` in its own process group, runShell). */
  exec?: ShellRunner;
}

export class MaintenanceRunner {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private busy: Promise<void> = Promise.resolve();
  private readonly exec: ShellRunner;
  /** Steps run since start (tests read it). */
  ran = 0;
  lastError: string | null = null;

  constructor(private readonly o: MaintenanceRunnerOptions) {
    this.exec = o.exec ?? runShell;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.busy;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.busy = this.pollOnce()
        .then(() => undefined)
        .finally(() => this.schedule(this.o.pollMs ?? 10_000));
    }, delayMs);
    this.timer.unref?.();
  }

  private headers(): Record<string, string> {
    return { authorization: `Node ${this.o.nodeSecret}`, accept: 'application/json' };
  }

  /** Asks for work once and runs what comes, one step after the other; returns how many ran. */
  async pollOnce(): Promise<number> {
    let work: AgentWork[];
    try {
      const url = new URL('/api/ops/maint/agent-work', this.o.serverUrl);
      url.searchParams.set('host', this.o.host.toLowerCase());
      const response = await serverSet(this.o.serverUrl).fetch(url.pathname + url.search, { headers: this.headers(), signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
      work = JSON.parse(text) as AgentWork[];
      this.lastError = null;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (reason !== this.lastError) this.o.logger.warn({ reason }, 'cannot fetch maintenance work from the keisan server; will ask again');
      this.lastError = reason;
      return 0;
    }
    let ran = 0;
    for (const item of work) {
      await this.runOne(item);
      ran++;
    }
    return ran;
  }

  private async runOne(work: AgentWork): Promise<void> {
    this.o.logger.info({ plan: work.planId, step: work.step, run: work.id, command: work.command }, 'running a maintenance step');
    const started = Date.now();
    const outcome = await this.exec(work.command, { timeoutMs: work.timeoutMs, maxBytes: work.maxOutputBytes });
    const result: AgentResult = {
      host: this.o.host.toLowerCase(),
      exitCode: outcome.code,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      timedOut: outcome.timedOut,
      ...(outcome.failure !== undefined ? { failure: outcome.failure.slice(0, 2000) } : {}),
      durationMs: Date.now() - started,
    };
    this.ran++;
    // The result must reach the server: a few tries, then the server's overdue rule halts the plan.
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const response = await serverSet(this.o.serverUrl).fetch(`/api/ops/maint/agent-work/${work.id}`, {
          method: 'POST',
          headers: { ...this.headers(), 'content-type': 'application/json' },
          body: JSON.stringify(result),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await response.text();
        if (response.ok || (response.status >= 400 && response.status < 500)) {
          if (!response.ok) this.o.logger.warn({ run: work.id, status: response.status, body: text.slice(0, 300) }, 'the server refused the maintenance step result');
          else this.o.logger.info({ plan: work.planId, step: work.step, exitCode: result.exitCode }, 'maintenance step result sent');
          return;
        }
        throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
      } catch (error) {
        this.o.logger.warn({ run: work.id, attempt, reason: error instanceof Error ? error.message : String(error) }, 'cannot send a maintenance step result; retrying');
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
      }
    }
  }
}
