/** Helpers for the local executor's tests: root checks, private cgroup roots, bounded waits. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { detectCgroupLayout } from './cgroups.ts';
import type { LocalExecutor, LocalJobEnd } from './executor.ts';
import type { LaunchSpec } from '../../executor.ts';

/**
 * Why real-cgroup tests cannot run here (false: they can). With KEISAN_REQUIRE_SERVICES=1 a
 * reason is an error instead of a skip.
 */
export function cgroupSkipReason(): string | false {
  let reason: string | false = false;
  if (process.getuid?.() !== 0) reason = 'needs root to create cgroups';
  else if (detectCgroupLayout().kind === 'none') reason = 'no cgroup hierarchy is mounted';
  if (reason && process.env.KEISAN_REQUIRE_SERVICES === '1') {
    throw new Error(`KEISAN_REQUIRE_SERVICES=1 but the real-cgroup tests cannot run: ${reason}`);
  }
  return reason;
}

/** A private parent cgroup name, so tests never touch a real `keisan` tree or each other. */
export function testCgroupRoot(): string {
  return `keisan-test-${randomBytes(4).toString('hex')}`;
}

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Polls `check` every 10 ms until it returns a value other than undefined/false; rejects after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Collects every end an executor reports; `end(id)` waits (bounded) for one job's. */
export class EndCollector {
  readonly ends = new Map<number, LocalJobEnd>();
  readonly seenAt = new Map<number, number>();
  constructor(executor: LocalExecutor) {
    executor.onEnded((end) => {
      this.ends.set(end.jobId, end);
      this.seenAt.set(end.jobId, Date.now());
    });
  }
  end(jobId: number, ms = 15_000): Promise<LocalJobEnd> {
    return waitFor(`the end of job ${jobId}`, () => this.ends.get(jobId), ms);
  }
}

export function spec(jobId: number, script: string, outDir: string, overrides: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    jobId,
    user: { name: 'root', uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    script: `#!/bin/sh\n${script}\n`,
    args: [],
    cwd: outDir,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', KEISAN_JOB_ID: String(jobId) },
    stdoutPath: path.join(outDir, `${jobId}.out`),
    stderrPath: path.join(outDir, `${jobId}.out`),
    cpus: 1,
    memBytes: 64 * 1024 * 1024,
    gpuIndices: [],
    timeLimitMs: 30_000,
    nice: 0,
    ...overrides,
  };
}
