import type { JobState } from './model.ts';

/**
 * What the batch service needs from whatever runs jobs: the local executor (cgroups on this
 * machine) now, SLURM later. Jobs run detached from every Keisan process; the executor keeps
 * enough on disk to say, after any restart, which jobs still run and how the others ended.
 */
export interface LaunchSpec {
  jobId: number;
  user: { name: string; uid: number; gid: number };
  /** The job script's text; the executor writes it to a file it runs. */
  script: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
  /** Append to the output files instead of truncating them (LSF `-o`). */
  appendOutput?: boolean;
  cpus: number;
  memBytes: number;
  gpuIndices: number[];
  timeLimitMs: number;
  /** CPU seconds of all the job's processes together (the queue's CPU-time limit); null: none. */
  cpuTimeLimitMs?: number | null;
  nice: number;
}

export type EndState = Extract<JobState, 'completed' | 'failed' | 'cancelled' | 'timeout' | 'out-of-memory' | 'node-fail' | 'killed-by-recovery'>;

export interface JobEnd {
  jobId: number;
  state: EndState;
  exitCode: number | null;
  signal: string | null;
  endedAt: number;
  cpuSeconds: number | null;
  maxRssBytes: number | null;
  /** Plain words for the owner: "used 1.2 GiB of its 1 GiB memory limit", "ran past its 1h limit". */
  reason: string | null;
}

export interface ExecutorCapabilities {
  cgroups: 'v1' | 'v2' | 'none';
  /** What is enforced (memory, cpu, pids, devices…) and what is not, in words for the log. */
  enforced: string[];
  notEnforced: string[];
  runsAsUsers: boolean;
}

export interface JobExecutor {
  capabilities(): ExecutorCapabilities;
  start(spec: LaunchSpec): Promise<{ startedAt: number }>;
  kill(jobId: number, reason: 'cancelled' | 'timeout'): Promise<void>;
  onEnded(listener: (end: JobEnd) => void): void;
  /** Sends a signal to the job's processes (e.g. SIGUSR1 to checkpoint); resolves to how many got it. */
  signal?(jobId: number, signal: NodeJS.Signals): Promise<number>;
  /**
   * Drops the records of an ended job (after its end is stored), so that the same job id may
   * start again (a requeue); false for a job still running or unknown.
   */
  forget?(jobId: number): boolean;
  /** What a job was launched with (its GPUs, when it started), for jobs adopted after a restart; null when unknown. */
  launchDetails?(jobId: number): { gpuIndices: number[]; startedAt: number | null } | null;
  /** After a restart: which of these jobs still run, and how the others ended. */
  reattach(jobIds: number[]): Promise<{ running: number[]; ended: JobEnd[] }>;
  close(): Promise<void>;
}
