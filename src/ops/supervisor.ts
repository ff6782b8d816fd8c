import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The supervisor behind `keisan up`: runs each daemon as a separate process, restarts one that
 * crashes (with backoff), writes each one's log to a file, and stops them all cleanly.
 */

/** Pure: how long to wait before restarting a child that exited, given its recent start times. */
export function restartDelayMs(recentStarts: number[], now: number, policy = { baseMs: 1000, maxMs: 30_000, stableMs: 60_000 }): number {
  // Starts within the last `stableMs` count as one crash loop; a child that ran longer is forgiven.
  const inLoop = recentStarts.filter((t) => now - t < policy.stableMs).length;
  return Math.min(policy.baseMs * 2 ** Math.max(inLoop - 1, 0), policy.maxMs);
}

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export type SupervisorEvent =
  | { type: 'started'; name: string; pid: number }
  | { type: 'exited'; name: string; code: number | null; signal: NodeJS.Signals | null; restartInMs: number | null }
  | { type: 'line'; name: string; stream: 'stdout' | 'stderr'; line: string };

interface Supervised {
  spec: ChildSpec;
  child: ChildProcess | undefined;
  starts: number[];
  restartTimer: NodeJS.Timeout | undefined;
  log: WriteStream;
}

export class Supervisor {
  private readonly children = new Map<string, Supervised>();
  private stopping = false;

  constructor(
    private readonly logDir: string,
    private readonly onEvent: (event: SupervisorEvent) => void,
  ) {}

  start(spec: ChildSpec): void {
    const log = createWriteStream(path.join(this.logDir, `${spec.name}.log`), { flags: 'a', mode: 0o600 });
    const entry: Supervised = { spec, child: undefined, starts: [], restartTimer: undefined, log };
    this.children.set(spec.name, entry);
    this.launch(entry);
  }

  pidOf(name: string): number | undefined {
    return this.children.get(name)?.child?.pid;
  }

  private launch(entry: Supervised): void {
    if (this.stopping) return;
    const now = Date.now();
    entry.starts = [...entry.starts.filter((t) => now - t < 300_000), now];
    // detached: a Ctrl-C in the terminal reaches only the supervisor, which then stops the
    // children in order instead of all of them dying at once.
    const child = spawn(entry.spec.command, entry.spec.args, {
      env: entry.spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    entry.child = child;
    if (child.pid) this.onEvent({ type: 'started', name: entry.spec.name, pid: child.pid });
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = child[stream];
      if (!source) continue;
      source.pipe(entry.log, { end: false });
      createInterface({ input: source }).on('line', (line) => this.onEvent({ type: 'line', name: entry.spec.name, stream, line }));
    }
    child.on('error', (error) => {
      this.onEvent({ type: 'line', name: entry.spec.name, stream: 'stderr', line: `cannot start: ${error.message}` });
    });
    child.on('exit', (code, signal) => {
      entry.child = undefined;
      if (this.stopping) {
        this.onEvent({ type: 'exited', name: entry.spec.name, code, signal, restartInMs: null });
        return;
      }
      const delay = restartDelayMs(entry.starts, Date.now());
      this.onEvent({ type: 'exited', name: entry.spec.name, code, signal, restartInMs: delay });
      entry.restartTimer = setTimeout(() => this.launch(entry), delay);
    });
  }

  /** Stops the children in the given order (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(order: string[], graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const entry of this.children.values()) if (entry.restartTimer) clearTimeout(entry.restartTimer);
    for (const name of order) {
      const entry = this.children.get(name);
      const child = entry?.child;
      if (!entry || !child || child.exitCode !== null) continue;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    await Promise.all([...this.children.values()].map((entry) => new Promise<void>((resolve) => entry.log.end(() => resolve()))));
  }
}
