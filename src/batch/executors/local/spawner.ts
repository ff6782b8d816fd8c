/**
 * Spawns job shims from a worker thread. `child_process.spawn` blocks its thread while the
 * kernel copies the process and until the child has exec'd (a few ms for a daemon-sized
 * process, more under load): done on the main thread it caps the jobs a daemon can start per
 * second. The worker does that waiting instead; the main thread only posts a message.
 *
 * One worker per process, shared by every executor, unref'd (it never keeps the process
 * alive) and never terminated, so it keeps reaping the shims it started. No extra process:
 * the shim is still a direct child of this process, so its exit is known at once.
 *
 * The worker's code is plain JavaScript (a worker does not inherit a loader registered with
 * tsx's API).
 */
import { Worker } from 'node:worker_threads';

export interface SpawnRequest {
  file: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** File descriptor (of this process) for the child's stderr; the caller closes it after 'spawned' or 'error'. */
  stderrFd: number;
}

export interface SpawnCallbacks {
  spawned(pid: number): void;
  error(message: string): void;
  exit(code: number | null, signal: string | null): void;
}

type WorkerReply =
  | { token: number; type: 'spawned'; pid: number }
  | { token: number; type: 'error'; message: string }
  | { token: number; type: 'exit'; code: number | null; signal: string | null };

// Dynamic imports: valid whether the eval'd code is taken as CommonJS or as a module.
const WORKER_SOURCE = `
Promise.all([import('node:worker_threads'), import('node:child_process')]).then(([{ parentPort }, { spawn }]) => {
  parentPort.on('message', (m) => {
    let child;
    try {
      child = spawn(m.file, m.argv, { detached: true, stdio: ['ignore', 'ignore', m.stderrFd], env: m.env, cwd: m.cwd });
    } catch (e) {
      parentPort.postMessage({ token: m.token, type: 'error', message: String((e && e.message) || e) });
      return;
    }
    child.once('spawn', () => parentPort.postMessage({ token: m.token, type: 'spawned', pid: child.pid }));
    child.once('error', (e) => parentPort.postMessage({ token: m.token, type: 'error', message: String(e.message) }));
    child.once('exit', (code, signal) => parentPort.postMessage({ token: m.token, type: 'exit', code, signal }));
    child.unref();
  });
});
`;

/** One worker thread and the requests it serves. */
class SpawnerThread {
  private worker: Worker | null = null;
  readonly pending = new Map<number, SpawnCallbacks>();
  /** Requests not yet answered with 'spawned' or 'error': while there are any, the worker keeps the process alive. */
  private readonly starting = new Set<number>();

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], stdout: false, stderr: false });
    worker.on('message', (reply: WorkerReply) => this.onReply(reply));
    worker.on('error', (error) => this.failAll(`the spawner thread failed: ${error.message}`));
    worker.on('exit', () => {
      this.worker = null;
      this.failAll('the spawner thread exited');
    });
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private settle(token: number): void {
    if (this.starting.delete(token) && this.starting.size === 0) this.worker?.unref();
  }

  private onReply(reply: WorkerReply): void {
    if (reply.type !== 'exit') this.settle(reply.token);
    const callbacks = this.pending.get(reply.token);
    if (!callbacks) return;
    if (reply.type === 'spawned') callbacks.spawned(reply.pid);
    else if (reply.type === 'error') {
      this.pending.delete(reply.token);
      callbacks.error(reply.message);
    } else {
      this.pending.delete(reply.token);
      callbacks.exit(reply.code, reply.signal);
    }
  }

  private failAll(message: string): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    this.starting.clear();
    // Children already started are no longer watched: their callers find their ends by polling.
    for (const callbacks of all) callbacks.error(message);
  }

  post(token: number, request: SpawnRequest, callbacks: SpawnCallbacks): void {
    this.pending.set(token, callbacks);
    const worker = this.ensureWorker();
    if (this.starting.size === 0) worker.ref();
    this.starting.add(token);
    worker.postMessage({ token, ...request });
  }
}

/**
 * A few threads: a spawn mostly waits (for the kernel to copy the process and for the child to
 * exec), so several overlap well even on two cores. Each request goes to the least busy one.
 */
class Spawner {
  private readonly threads: SpawnerThread[];
  private next = 1;

  constructor(size: number) {
    this.threads = Array.from({ length: size }, () => new SpawnerThread());
  }

  /** Starts a child; returns a function that stops reporting to these callbacks. */
  spawn(request: SpawnRequest, callbacks: SpawnCallbacks): () => void {
    const token = this.next++;
    let thread = this.threads[0]!;
    for (const t of this.threads) if (t.pending.size < thread.pending.size) thread = t;
    thread.post(token, request, callbacks);
    return () => {
      thread.pending.delete(token);
    };
  }
}

export const spawner = new Spawner(3);
