/**
 * The batch system's vocabulary, shared by the directive parser, the scheduler, the executors,
 * the store and the service. Times are epoch milliseconds inside the batch room (the scheduler
 * does arithmetic on them); sizes are bytes; durations are milliseconds.
 */

export const JOB_STATES = [
  'pending',
  'running',
  'completed',
  'failed',
  'cancelled',
  'timeout',
  'out-of-memory',
  'node-fail',
  'preempted',
  'killed-by-recovery',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const FINAL_STATES: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled', 'timeout', 'out-of-memory', 'node-fail', 'preempted', 'killed-by-recovery']);

/** How a dependency on another job is satisfied (SLURM's afterok / afterany / afternotok). */
export type DependencyType = 'ok' | 'any' | 'notok';
export interface Dependency {
  jobId: number;
  type: DependencyType;
}

export interface MailEvents {
  begin: boolean;
  end: boolean;
  fail: boolean;
}

/** What a job asks for. */
export interface ResourceRequest {
  cpus: number;
  memBytes: number;
  gpus: number;
  /** A GPU model the job insists on (e.g. "h200"); null = any. */
  gpuType: string | null;
}

/**
 * A batch queue (SLURM partition, LSF queue). The facility's default set follows the reference
 * design: express, short, middle, large, huge, by time limit.
 */
export interface Queue {
  name: string;
  /** null: a facility-wide queue; otherwise the workgroup that owns it. */
  workgroup: string | null;
  description: string;
  /** Higher runs first: a tier above fair share (SLURM PriorityTier, LSF PRIORITY). */
  priority: number;
  /** OS nice value of the job's processes (LSF NICE). */
  nice: number;
  wallTimeLimitMs: number;
  /** CPU time limit summed over the job's CPUs; null = none. */
  cpuTimeLimitMs: number | null;
  defaultTimeMs: number;
  defaultMemBytes: number;
  maxMemBytes: number;
  maxCpus: number;
  maxGpus: number;
  /** null = unlimited. */
  maxRunningPerUser: number | null;
  maxRunningPerSubgroup: number | null;
  maxRunningPerHost: number | null;
  /** Who may submit: empty lists = everyone. */
  allowedWorkgroups: string[];
  allowedSubgroups: string[];
  /** Fair share between subgroups then users (default), or between users only. */
  fairShare: 'subgroup-then-user' | 'user';
  enabled: boolean;
}

/** A compute node as the scheduler sees it. */
export interface NodeResources {
  name: string;
  cpus: number;
  memBytes: number;
  gpus: GpuDevice[];
  /** A node that is down or draining takes no new jobs. */
  accepting: boolean;
}

export interface GpuDevice {
  index: number;
  uuid: string;
  /** Normalised model name, lower case without vendor: "h200", "a100-sxm4-80gb". */
  type: string;
  memBytes: number;
}

/** A job as the scheduler sees it (a projection of the stored job). */
export interface SchedJob {
  id: number;
  user: string;
  subgroup: string;
  workgroup: string;
  queue: string;
  request: ResourceRequest;
  timeLimitMs: number;
  submittedAt: number;
  /** Not before this time (SLURM --begin); null = now. */
  eligibleAt: number | null;
  held: boolean;
  dependencies: Dependency[];
  /** For array tasks: the array's id and the most tasks of it that may run at once (`%10`). */
  arrayJobId: number | null;
  arrayMaxRunning: number | null;
}

export interface RunningSchedJob extends SchedJob {
  node: string;
  startedAt: number;
  gpuIndices: number[];
}

/** Decayed past usage, the fair-share input. Units: resource-seconds (see fair share weights). */
export interface UsageSnapshot {
  byUser: Map<string, number>;
  bySubgroup: Map<string, number>;
}

export interface SchedulerPolicy {
  queues: Map<string, Queue>;
  /** Shares per subgroup (default 1 for any not listed); users share equally inside a subgroup. */
  subgroupShares: Map<string, number>;
  /** Weights turning a running job into usage per second: cpus·cpu + GiB·mem + gpus·gpu. */
  usageWeights: { cpu: number; memGiB: number; gpu: number };
  /** Half-life of past usage. */
  decayHalfLifeMs: number;
  /** Whether lower-priority jobs may start in gaps before the next reserved start. */
  backfill: boolean;
}

export interface SchedulerState {
  pending: SchedJob[];
  running: RunningSchedJob[];
  /** Final state of jobs that dependencies may name (absent = unknown job → dependency never met). */
  finished: Map<number, JobState>;
  usage: UsageSnapshot;
}

export interface StartDecision {
  jobId: number;
  node: string;
  gpuIndices: number[];
}

export interface KillDecision {
  jobId: number;
  reason: 'timeout' | 'dependency-never-satisfied';
}

/** Why a job is still pending, in machine form; `explainPending` turns it into words. */
export type PendingReason =
  | { kind: 'held' }
  | { kind: 'begin-time'; eligibleAt: number }
  | { kind: 'dependency'; waitingFor: number[] }
  | { kind: 'dependency-never-satisfied'; jobId: number; state: JobState | 'unknown' }
  | { kind: 'queue-disabled'; queue: string }
  | { kind: 'limit'; limit: 'user' | 'subgroup' | 'host' | 'array'; max: number; running: number }
  | { kind: 'resources'; needs: ResourceRequest; freeBest: { node: string; cpus: number; memBytes: number; gpus: number } | null }
  | { kind: 'priority'; position: number; ahead: number }
  | { kind: 'reserved'; forJob: number; until: number }
  /** A cluster (SLURM) schedules the job: its reason code and the code in words; externalId null while Keisan has not handed it over yet. */
  | { kind: 'cluster'; system: string; externalId: string | null; code: string; words: string };

export interface PendingExplanation {
  jobId: number;
  reason: PendingReason;
  /** 1-based position among the queue's pending jobs in priority order. */
  position: number;
  /** The fair-share numbers behind its priority. */
  fairShare: {
    subgroupShare: number;
    subgroupUsage: number;
    userUsage: number;
    factor: number;
    /** Optional detail for `keisan why`: the subgroup's configured shares, their total over the subgroups competing now, and how many users share the subgroup. */
    shares?: number;
    totalShares?: number;
    users?: number;
  };
  /** Roughly when it may start (epoch ms), when the scheduler could tell. */
  estimatedStart: number | null;
  /** Optional: the running job whose end is expected to let it start. */
  afterJob?: number | null;
  /** Optional: why there is no estimatedStart. */
  noEstimate?: 'blocked' | 'no-time-limit' | 'never-fits' | 'too-far' | null;
}

export interface ScheduleResult {
  start: StartDecision[];
  kill: KillDecision[];
  pending: PendingExplanation[];
}
