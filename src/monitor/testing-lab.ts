/**
 * The monitoring lab, shared by the tests and benchmarks that drive a real `keisan server` and
 * `keisan agent` and break things for their checks to find (src/monitor/e2e.test.ts,
 * src/monitor/checks/duplicate-ip.test.ts, bench/agent-detection.ts, bench/alerts-e2e.ts,
 * scripts/grafana-live-check.ts):
 *
 *   - daemons: `keisan server` / `keisan agent` with a cleaned environment, their output kept in
 *     a bounded buffer for diagnostics; waiting for /api/health; logging in as the operator;
 *   - a small tmpfs mount (for filesystem checks), with a file that fills it;
 *   - two network namespaces joined by a veth pair, A holding an IPv4 address and B able to take
 *     it too (a duplicate-IP conflict);
 *   - an "essential process" (`sleep` under a recognisable argv[0]) to kill and restart.
 *
 * Every set-up returns a handle whose `cleanup()` undoes it and may be called more than once
 * (from `finally`, `after` and a signal handler alike). Nothing here is product code.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe } from 'node:test';
import { KEISAN_BIN } from '../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../server/facility.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs a command (20 s at most) and returns its stdout; throws with its output when it fails, unless `allowFail`. */
export function sh(command: string, args: string[], allowFail = false): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  if (!allowFail && result.status !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${result.status}: ${(result.stderr || result.stdout || String(result.error ?? '')).trim()}`);
  return result.stdout ?? '';
}

/** Whether `tool ARGS` can be started at all (it is installed). */
export function have(tool: string, ...args: string[]): boolean {
  return spawnSync(tool, args, { stdio: 'ignore', timeout: 10_000 }).error === undefined;
}

/** Why a lab of network namespaces cannot be built here (undefined: it can): `notRoot` when not root, else iproute2 or arping missing. */
export function netnsSkipReason(notRoot: string): string | undefined {
  if (process.getuid?.() !== 0) return notRoot;
  if (!have('ip', '-V')) return 'iproute2 (ip) is not installed';
  if (!have('arping', '-V')) return 'arping (iputils-arping) is not installed';
  return undefined;
}

/** A suite that needs root and tools: skipped with `skipReason`, failed instead with KEISAN_REQUIRE_SERVICES=1. */
export function describeWithServices(title: string, skipReason: string | undefined, suite: () => void): void {
  if (skipReason && process.env.KEISAN_REQUIRE_SERVICES === '1') {
    describe(title, () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${skipReason}`);
    });
    return;
  }
  describe(title, { skip: skipReason }, suite);
}

/** Polls `probe` every `pollMs` until it gives a value (not undefined); throws `WHAT: not within N s` plus `context()` after `timeoutMs`. */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs: number; pollMs?: number; context?: () => string; ignoreErrors?: boolean },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = options.ignoreErrors ? await Promise.resolve().then(probe).catch(() => undefined) : await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const context = options.context?.() ?? '';
      throw new Error(`${what}: not within ${options.timeoutMs / 1000} s${context ? `\n${context}` : ''}`);
    }
    await sleep(options.pollMs ?? 200);
  }
}

/** Something a lab set up: `cleanup()` undoes it; `cleanupNow()`, where there is one, does so at once and synchronously (for signal handlers). */
export interface Cleanup {
  cleanup(): void | Promise<void>;
  cleanupNow?(): void;
}

/**
 * What a lab has set up, undone in reverse order: `await lab.cleanup()` from `finally`/`after`,
 * `lab.cleanupNow()` (synchronous: processes SIGKILLed, mounts unmounted lazily) from a signal
 * handler. Each thing is undone once, whichever comes first; a failing undo does not stop the rest.
 */
export class Lab {
  private readonly stack: Array<{ handle: Cleanup; done: boolean }> = [];

  /** Registers `handle` and returns it. */
  add<T extends Cleanup>(handle: T): T {
    this.stack.push({ handle, done: false });
    return handle;
  }

  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const item of [...this.stack].reverse()) {
      if (item.done) continue;
      item.done = true;
      try {
        await item.handle.cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  cleanupNow(): void {
    for (const item of [...this.stack].reverse()) {
      if (item.done) continue;
      item.done = true;
      try {
        if (item.handle.cleanupNow) item.handle.cleanupNow();
        else void item.handle.cleanup();
      } catch {
        // go on: leave behind nothing that can still be removed
      }
    }
  }
}

/** A temporary directory, removed with everything in it by `cleanup()`. */
export interface TempDir extends Cleanup {
  path: string;
  cleanup(): void;
}

export function tempDir(prefix: string): TempDir {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { path: dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopChild(child: ChildProcess | undefined, graceMs = 5000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The last `limit` lines the daemons printed, each prefixed with the daemon's name. */
export class LogBuffer {
  readonly lines: string[] = [];
  constructor(readonly limit: number) {}

  add(name: string, chunk: Buffer | string): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean).map((line) => `${name}: ${line}`));
    this.lines.splice(0, Math.max(0, this.lines.length - this.limit));
  }

  /** The last `n` lines, joined. */
  tail(n = this.limit): string {
    return this.lines.slice(-n).join('\n');
  }
}

/** Keys that would point a daemon at the caller's own server, database or data directory. */
export const DAEMON_ENV_DROP = ['KEISAN_SERVER', 'KEISAN_DATABASE_URL', 'KEISAN_DATA', 'NODE_TEST_CONTEXT'] as const;

/** The environment for lab daemons: `from` (default process.env) with `set`, the port and log level warn, without `drop`. */
export function daemonEnv(port: number, options: { from?: NodeJS.ProcessEnv; set?: NodeJS.ProcessEnv; drop?: readonly string[] } = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...(options.from ?? process.env), ...options.set, KEISAN_PORT: String(port), KEISAN_LOG_LEVEL: 'warn' };
  for (const key of options.drop ?? DAEMON_ENV_DROP) delete env[key];
  return env;
}

export interface Daemon extends Cleanup {
  child: ChildProcess;
  /** Graceful stop (SIGTERM, SIGKILL after 5 s); resolves once it has exited. */
  cleanup(): Promise<void>;
  /** SIGKILL now (for signal handlers). */
  cleanupNow(): void;
}

/**
 * Starts `keisan ARGS` (args[0]: server, agent …) with `env`. With `logs`, its output goes there,
 * prefixed with args[0]; without, it is discarded.
 */
export function spawnKeisan(args: string[], options: { env: NodeJS.ProcessEnv; logs?: LogBuffer; cwd?: string }): Daemon {
  const child = spawn(process.execPath, [KEISAN_BIN, ...args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: options.env,
    stdio: options.logs ? ['ignore', 'pipe', 'pipe'] : 'ignore',
  });
  if (options.logs) {
    const logs = options.logs;
    const keep = (chunk: Buffer) => logs.add(args[0] ?? 'keisan', chunk);
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }
  return { child, cleanup: () => stopChild(child), cleanupNow: () => void child.kill('SIGKILL') };
}

/** Waits until BASE/api/health answers 2xx; fails early when `child` exits, or after `timeoutMs`. */
export async function waitForHealth(base: string, options: { timeoutMs: number; pollMs?: number; child?: ChildProcess; context?: () => string }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const context = () => (options.context ? `\n${options.context()}` : '');
  while (Date.now() < deadline) {
    if (options.child && options.child.exitCode !== null) throw new Error(`the server exited (${options.child.exitCode}) before it answered${context()}`);
    try {
      const response = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(options.pollMs ?? 200);
  }
  throw new Error(`the server did not answer ${base}/api/health within ${options.timeoutMs / 1000} s${context()}`);
}

/** The operator's name and password, as `keisan init` wrote them to the data directory. */
export function operatorCredentials(dataDir: string): { user: string; password: string } {
  const [user, password] = readFileSync(path.join(dataDir, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
  if (!user || password === undefined) throw new Error(`no operator name and password in ${path.join(dataDir, OPERATOR_PASSWORD_FILE)}`);
  return { user, password };
}

/** Logs in as the operator through the API; throws unless the server answers 200 with a ticket. */
export async function loginOperator(base: string, dataDir: string): Promise<{ user: string; password: string; ticket: string }> {
  const { user, password } = operatorCredentials(dataDir);
  const response = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json().catch(() => ({}))) as { ticket?: string };
  if (response.status !== 200 || !body.ticket) throw new Error(`login as ${user} failed: HTTP ${response.status}`);
  return { user, password, ticket: body.ticket };
}

export interface Tmpfs extends Cleanup {
  /** The mount point. */
  path: string;
  /** Writes a file of `fraction` of the filesystem's size (0.95: past the filesystem check's critical 90 %). */
  fill(fraction: number): void;
  /** Removes that file. */
  unfill(): void;
  /** Unmounts; the mount point itself stays. */
  cleanup(): void;
  /** Unmounts lazily (umount -l), for signal handlers. */
  cleanupNow(): void;
}

/** Creates the directory `mnt` and mounts a tmpfs of `size` (bytes, or mount's `4m`) there, mode 0700, named `source`. Needs root. */
export function mountTmpfs(mnt: string, options: { size: number | string; source: string }): Tmpfs {
  mkdirSync(mnt);
  sh('mount', ['-t', 'tmpfs', '-o', `size=${options.size},mode=0700`, options.source, mnt]);
  let mounted = true;
  const file = path.join(mnt, 'fill');
  const unmount = (lazy: boolean) => {
    if (!mounted) return;
    mounted = false;
    sh('umount', lazy ? ['-l', mnt] : [mnt], true);
  };
  return {
    path: mnt,
    fill: (fraction) => {
      const size = statfsSync(mnt);
      writeFileSync(file, Buffer.alloc(Math.floor(size.blocks * size.bsize * fraction), 1));
    },
    unfill: () => rmSync(file, { force: true }),
    cleanup: () => unmount(false),
    cleanupNow: () => unmount(true),
  };
}

export interface NetnsPairNames {
  nsA: string;
  nsB: string;
  vethA: string;
  vethB: string;
}

export interface DuplicateIpLab extends NetnsPairNames, Cleanup {
  /** The IPv4 address namespace A holds on vethA (a /24). */
  address: string;
  /** vethA's MAC (ours, as the duplicate-ip check run in A sees it). */
  ourMac(): string;
  /** Namespace B takes the address too: the conflict. */
  conflict(): void;
  /** Namespace B gives it up again (`allowFail`: do not throw when it does not hold it). */
  resolve(allowFail?: boolean): void;
  /** Deletes both namespaces (and with them the veth pair). */
  cleanup(): void;
}

/** Deletes the namespaces and the veth pair by name, whatever of them exists. */
export function removeNetnsPair(names: NetnsPairNames): void {
  // Deleting a namespace deletes the veth end in it, and with it the peer.
  sh('ip', ['netns', 'del', names.nsA], true);
  sh('ip', ['netns', 'del', names.nsB], true);
  sh('ip', ['link', 'del', names.vethA], true);
}

/**
 * Two network namespaces joined by a veth pair, vethA in A holding `address`/24, vethB in B
 * (with MAC `otherMac` when given) ready to take it too. `replace`: remove leftovers of the same
 * names first; `loopbackUp`: bring lo up in both. Needs root and iproute2; removes whatever it
 * made when a step fails.
 */
export function createDuplicateIpLab(options: NetnsPairNames & { address: string; otherMac?: string; loopbackUp?: boolean; replace?: boolean }): DuplicateIpLab {
  const { nsA, nsB, vethA, vethB, address } = options;
  const names = { nsA, nsB, vethA, vethB };
  if (options.replace) removeNetnsPair(names);
  try {
    sh('ip', ['netns', 'add', nsA]);
    sh('ip', ['netns', 'add', nsB]);
    sh('ip', ['link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB]);
    sh('ip', ['link', 'set', vethA, 'netns', nsA]);
    sh('ip', ['link', 'set', vethB, 'netns', nsB]);
    if (options.otherMac) sh('ip', ['-n', nsB, 'link', 'set', 'dev', vethB, 'address', options.otherMac]);
    if (options.loopbackUp) for (const ns of [nsA, nsB]) sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', nsA, 'addr', 'add', `${address}/24`, 'dev', vethA]);
    sh('ip', ['-n', nsA, 'link', 'set', vethA, 'up']);
    sh('ip', ['-n', nsB, 'link', 'set', vethB, 'up']);
  } catch (error) {
    removeNetnsPair(names);
    throw error;
  }
  let present = true;
  return {
    ...names,
    address,
    ourMac: () => (JSON.parse(sh('ip', ['-n', nsA, '-j', 'link', 'show', vethA])) as { address: string }[])[0]!.address,
    conflict: () => void sh('ip', ['-n', nsB, 'addr', 'add', `${address}/24`, 'dev', vethB]),
    resolve: (allowFail = false) => void sh('ip', ['-n', nsB, 'addr', 'del', `${address}/24`, 'dev', vethB], allowFail),
    cleanup: () => {
      if (!present) return;
      present = false;
      removeNetnsPair(names);
    },
  };
}

export interface EssentialProcess extends Cleanup {
  /** Its argv[0]. */
  name: string;
  /** A process check's `pattern` that matches it (and nothing else). */
  pattern: string;
  readonly child: ChildProcess;
  /** SIGKILL: the essential process stops. */
  kill(): void;
  /** Starts it again (a new process). */
  restart(): void;
  /** Kills it for good. */
  cleanup(): void;
}

/** An "essential process": `sleep 3600` running as `name` (exec -a), for a process check to watch. */
export function startEssentialProcess(name: string): EssentialProcess {
  const start = () => spawn('bash', ['-c', `exec -a ${name} sleep 3600`], { stdio: 'ignore' });
  let child = start();
  let done = false;
  return {
    name,
    pattern: `^${name}( |$)`,
    get child() {
      return child;
    },
    kill: () => void child.kill('SIGKILL'),
    restart: () => {
      if (!done) child = start();
    },
    cleanup: () => {
      done = true;
      child.kill('SIGKILL');
    },
  };
}
