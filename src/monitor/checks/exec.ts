import { spawn } from 'node:child_process';

export interface CommandResult {
  /** null when the command could not be started (missing tool, permission) or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why it did not run to its end: "ip is not installed", "timed out after 5 s"… */
  failure?: string;
  timedOut: boolean;
}

export interface ExecOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Output beyond this is dropped (default 1 MiB each). */
  maxBytes?: number;
}

export type CommandRunner = (command: string, args: readonly string[], options?: ExecOptions) => Promise<CommandResult>;

/**
 * Runs a command without a shell, bounded in time and output. Never throws: a tool that is not
 * installed or may not be run comes back as `failure`, so checks turn it into `unknown` with the
 * reason.
 */
export const runCommand: CommandRunner = (command, args, options = {}) =>
  new Promise((resolve) => {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const maxBytes = options.maxBytes ?? 1024 * 1024;
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const finish = (result: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    } catch (error) {
      resolve({ code: null, stdout: '', stderr: '', failure: `${command} could not be started: ${String(error)}`, timedOut: false });
      return;
    }
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const onAbort = () => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < maxBytes) stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < maxBytes) stderr += chunk;
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      const failure =
        error.code === 'ENOENT' ? `${command} is not installed (not found on PATH)` : error.code === 'EACCES' ? `${command} may not be run (permission denied)` : `${command}: ${error.message}`;
      finish({ code: null, stdout, stderr, failure, timedOut: false });
    });
    child.on('close', (code) => {
      finish({
        code,
        stdout,
        stderr,
        timedOut,
        ...(timedOut ? { failure: `${command} did not finish within ${(timeoutMs / 1000).toFixed(1)} s` } : {}),
      });
    });
  });

/** Runs every command inside a network namespace (`ip netns exec NS …`): for tests and for agents that watch a namespace. */
export function inNetns(runner: CommandRunner, netns: string | undefined): CommandRunner {
  if (!netns) return runner;
  return (command, args, options) => runner('ip', ['netns', 'exec', netns, command, ...args], options);
}
