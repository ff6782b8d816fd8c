import { readFileSync } from 'node:fs';
import type pino from 'pino';

/** Keeps a daemon alive until SIGINT/SIGTERM, then runs `cleanup` (at most 3 s) and exits 0. */
export function untilSignal(logger: pino.Logger, cleanup: () => Promise<void>): Promise<void> {
  return new Promise(() => {
    const keepAlive = setInterval(() => undefined, 1 << 30);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      clearInterval(keepAlive);
      const force = setTimeout(() => process.exit(0), 3000);
      force.unref();
      void cleanup().finally(() => process.exit(0));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

/** Whether a process with this pid exists (signal 0 probes without sending anything). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a process with this pid is running: it exists and is not a zombie (exited, not yet reaped). */
export function processRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}
