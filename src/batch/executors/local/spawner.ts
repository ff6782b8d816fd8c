/**
 * Spawns job shims from a small helper process. `fork()` copies the page tables of the process
 * that forks: from the daemon (~190 MiB resident, more with a large queue) one spawn cost ~5–7
 * ms of CPU and latency here, ~15 ms at 450 MiB; from a bare Node process (~40 MiB) ~1.8 ms.
 * Spawning in the daemon would also block its thread while the kernel copies the process and
 * until the child has exec'd; the helper does that waiting instead, and the daemon's thread only
 * sends a message.
 *
 * One helper per daemon, shared by every executor, started when the first executor opens (and
 * again at the next spawn if it ever dies), unref'd while no spawn is pending (it never keeps the daemon alive), and gone when
 * the daemon goes (it exits when its IPC channel closes). The shims are the helper's children:
 * it reports their exits at once. If the helper dies, the shims it started keep running (detached,
 * re-parented to PID 1): their ends are found by polling the job records, as after a restart.
 *
 * The helper's code is plain JavaScript, run without the daemon's loaders (`-e`, no execArgv).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface SpawnRequest {
  file: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** File created (exclusively, mode 0644) for the child's stderr. */
  stderrPath: string;
}

export interface SpawnCallbacks {
  spawned(pid: number): void;
  error(message: string): void;
  exit(code: number | null, signal: string | null): void;
}

type HelperReply =
  | { token: number; type: 'spawned'; pid: number }
  | { token: number; type: 'error'; message: string }
  | { token: number; type: 'exit'; code: number | null; signal: string | null };

const HELPER_SOURCE = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
process.on('disconnect', () => process.exit(0));
process.on('message', (m) => {
  let fd;
  let child;
  try {
    fd = fs.openSync(m.stderrPath, 'wx', 0o644);
    child = spawn(m.file, m.argv, { detached: true, stdio: ['ignore', 'ignore', fd], env: m.env, cwd: m.cwd });
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    process.send({ token: m.token, type: 'error', message: String((e && e.message) || e) });
    return;
  }
  const close = () => { if (fd !== undefined) { fs.closeSync(fd); fd = undefined; } };
  child.once('spawn', () => { close(); process.send({ token: m.token, type: 'spawned', pid: child.pid }); });
  child.once('error', (e) => { close(); process.send({ token: m.token, type: 'error', message: String(e.message) }); });
  child.once('exit', (code, signal) => process.send({ token: m.token, type: 'exit', code, signal }));
});
`;

class Spawner {
  private helper: ChildProcess | null = null;
  private readonly pending = new Map<number, SpawnCallbacks>();
  /** Requests not yet answered with 'spawned' or 'error': while there are any, the helper keeps the process alive. */
  private readonly starting = new Set<number>();
  private next = 1;

  private ensureHelper(): ChildProcess {
    if (this.helper) return this.helper;
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const helper = spawn(process.execPath, ['--max-old-space-size=64', '-e', HELPER_SOURCE], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env, serialization: 'json' });
    helper.on('message', (reply: HelperReply) => this.onReply(reply));
    const gone = (why: string) => {
      if (this.helper !== helper) return;
      this.helper = null;
      this.failAll(why);
    };
    helper.on('error', (error) => gone(`the spawner process failed: ${error.message}`));
    helper.on('exit', (code, signal) => gone(`the spawner process exited (${signal ?? `status ${code}`})`));
    helper.unref();
    helper.channel?.unref();
    this.helper = helper;
    return helper;
  }

  private settle(token: number): void {
    if (this.starting.delete(token) && this.starting.size === 0) this.helper?.channel?.unref();
  }

  private onReply(reply: HelperReply): void {
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

  /** Starts the helper now (an executor does when it opens), so that no job's start waits for it. */
  prepare(): void {
    this.ensureHelper();
  }

  /** Starts a child; returns a function that stops reporting to these callbacks. */
  spawn(request: SpawnRequest, callbacks: SpawnCallbacks): () => void {
    const token = this.next++;
    this.pending.set(token, callbacks);
    const helper = this.ensureHelper();
    if (this.starting.size === 0) helper.channel?.ref();
    this.starting.add(token);
    helper.send({ token, ...request }, (error) => {
      if (!error) return;
      this.settle(token);
      if (this.pending.delete(token)) callbacks.error(`the spawner process is unreachable: ${error.message}`);
    });
    return () => {
      this.pending.delete(token);
    };
  }
}

export const spawner = new Spawner();
