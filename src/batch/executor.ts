import type { JobState, NodeResources } from './model.ts';

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

/**
 * An executor that schedules as well as runs (SLURM): Keisan hands it each pending job as soon
 * as the job may be handed over, and follows what it does with it — starts, ends, requeues, and
 * why a job still waits. Keisan's own scheduler does not run beside it.
 */
export interface ClusterSubmission {
  jobId: number;
  user: { name: string; uid: number; gid: number };
  name: string;
  script: string;
  args: string[];
  cwd: string;
  /** Where it was submitted from (SLURM_SUBMIT_DIR). */
  submitDir: string;
  /** The job's own variables (the submitter's and Keisan's KEISAN_*); the cluster adds its own. */
  env: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
  appendOutput: boolean;
  queue: string;
  /** The SLURM account: the job's subgroup. */
  account: string;
  cpus: number;
  ntasks: number;
  cpusPerTask: number;
  memBytes: number;
  gpus: number;
  gpuType: string | null;
  timeLimitMs: number;
  /** Not before this time (epoch ms); null: now. */
  beginAt: number | null;
  held: boolean;
  /** Dependencies on jobs the cluster knows, by the cluster's ids. */
  dependencies: Array<{ externalId: string; type: 'ok' | 'any' | 'notok' }>;
}

/** What the cluster did with a job since it was last asked. */
export interface ClusterJobChange {
  jobId: number;
  externalId: string;
  state: 'pending' | 'running';
  node: string | null;
  startedAt: number | null;
}

/** A job's end as the cluster reports it: also when and where it started (a short job may start and end between two looks). */
export interface ClusterJobEnd extends JobEnd {
  externalId: string;
  startedAt: number | null;
  node: string | null;
}

/** Why a job still waits, as the cluster says it. */
export interface ClusterPendingReason {
  externalId: string;
  code: string;
  words: string;
  /** The cluster's estimate of its start (epoch ms), when it has one. */
  estimatedStart: number | null;
  /** 1-based place among the pending jobs of its partition. */
  position: number;
}

export interface ClusterExecutor {
  readonly kind: 'cluster';
  /** The engine's name for messages: "SLURM". */
  readonly system: string;
  /** Jobs handed over at once (sbatch processes in flight). */
  readonly submitConcurrency: number;
  capabilities(): ExecutorCapabilities;
  /** Asks the cluster whether it would take this job, submitting nothing; a refusal rejects with a KeisanError (INVALID_INPUT) in plain words. */
  check(job: ClusterSubmission): Promise<void>;
  /** Hands a job to the cluster; resolves to the cluster's id for it. Bad requests reject with a KeisanError (INVALID_INPUT). */
  submit(job: ClusterSubmission): Promise<string>;
  cancel(externalIds: string[]): Promise<void>;
  hold(externalId: string): Promise<void>;
  release(externalId: string): Promise<void>;
  /** Puts a running job back in the cluster's queue (it runs again later under the same ids). */
  requeue(externalId: string): Promise<void>;
  /** Starts following these jobs (at start-up; submit follows its own). */
  follow(jobs: Array<{ jobId: number; externalId: string; state?: 'pending' | 'running'; startedAt?: number | null; node?: string | null; timeLimitMs?: number; memBytes?: number }>): void;
  /** Jobs the cluster has for these Keisan ids although Keisan never stored their cluster ids (a crash between submit and commit). */
  findSubmitted(jobIds: number[]): Promise<Map<number, string>>;
  onChange(listener: (change: ClusterJobChange) => void): void;
  onEnded(listener: (end: ClusterJobEnd) => void): void;
  /** The cluster has no record at all of a job it was given and never started (its controller restarted from older saved state): Keisan hands it over again. */
  onVanished(listener: (job: { jobId: number; externalId: string }) => void): void;
  pendingReason(jobId: number): ClusterPendingReason | undefined;
  /** The cluster's nodes as the overview shows them. */
  nodes(): Promise<NodeResources[]>;
  close(): Promise<void>;
}

export function isClusterExecutor(executor: JobExecutor | ClusterExecutor): executor is ClusterExecutor {
  return (executor as ClusterExecutor).kind === 'cluster';
}
