/**
 * Helpers for the recovery room's real-cgroup tests: why they cannot run here, a private test
 * parent (`keisan-test-<pid>`, never the real `keisan`), and workloads started inside a job's
 * cgroups with layered fences (pids.max, memory limit, cpu quota, bounded sleeps, timeouts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe } from 'node:test';
import { detectCgroupLayout, type JobCgroup } from '../batch/executors/local/cgroups.ts';

function reason(): string | undefined {
  if (process.platform !== 'linux') return 'cgroups need Linux';
  if (process.getuid?.() !== 0) return 'needs root to create cgroups';
  const layout = detectCgroupLayout();
  if (layout.kind === 'none') return 'no cgroup hierarchy is mounted';
  if (layout.kind === 'v1' && !layout.v1.freezer && !layout.unified) return 'neither a v1 freezer nor a cgroup2 hierarchy is mounted';
  return undefined;
}

export const RECOVERY_CGROUP_SKIP_REASON = reason();

/** A suite of real-cgroup tests: skipped with the reason, or failed with KEISAN_REQUIRE_SERVICES=1. */
export function describeOnRealCgroups(title: string, suite: () => void): void {
  if (RECOVERY_CGROUP_SKIP_REASON && process.env.KEISAN_REQUIRE_SERVICES === '1') {
    describe(title, () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but the real-cgroup recovery tests cannot run: ${RECOVERY_CGROUP_SKIP_REASON}`);
    });
    return;
  }
  describe(title, { skip: RECOVERY_CGROUP_SKIP_REASON }, suite);
}

/** The test parent cgroup of this process. */
export function testParent(): string {
  return `keisan-test-${process.pid}`;
}

/**
 * Starts `sh -c work` inside every cgroup of the job (the shell writes its own pid into each
 * cgroup.procs before it execs the work, so everything it forks is in the job). Returns the
 * shell's pid.
 */
export function startInJob(job: Pick<JobCgroup, 'procsFiles'>, work: string): number {
  const script = 'for f in "$@"; do echo $$ > "$f" || exit 97; done; exec sh -c "$KEISAN_TEST_WORK"';
  const child = spawn('sh', ['-c', script, 'sh', ...job.procsFiles()], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: '/usr/bin:/bin', KEISAN_TEST_WORK: work },
  });
  child.on('error', () => {});
  child.unref();
  if (child.pid === undefined) throw new Error('could not start sh');
  return child.pid;
}

/** Starts a plain process outside any test job (a "stray" process). */
export function startStray(command: string, args: string[]): number {
  const child = spawn(command, args, { detached: true, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return child.pid;
}

/** Polls until `check` is true; throws after `ms`. */
export async function waitUntil(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether the process runs (a zombie does not). */
export { processRunning as alive } from '../lib/process.ts';

/** utime + stime of a process in clock ticks; null when it is gone. */
export function cpuTicks(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
