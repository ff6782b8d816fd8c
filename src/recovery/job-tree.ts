/**
 * What the watchdog needs of a node's job cgroups, whoever made them: the local executor's
 * CgroupTree (`<parent>/job-<id>`) or SLURM's (slurm-jobs.ts, `slurm/uid_<uid>/job_<id>` on v1,
 * `system.slice/slurmstepd.scope/job_<id>` on v2). The sampler, the evidence and the actions only
 * use this; CgroupTree satisfies it as it is.
 */
import type { FreezeResult, KillOptions, KillResult } from './actions.ts';

/** One mounted hierarchy: its version, mount point and the controllers used in it. */
export interface ControllerHierarchy {
  version: 1 | 2;
  mount: string;
  controllers: string[];
}

/** A job's directory in each hierarchy, and which hierarchy holds each kind of file. */
export interface JobDirs {
  all: string[];
  memory?: ControllerHierarchy;
  pids?: ControllerHierarchy;
  cpu?: ControllerHierarchy;
  cpuacct?: ControllerHierarchy;
  freezer?: ControllerHierarchy;
  devices?: ControllerHierarchy;
  v2?: ControllerHierarchy;
  dir: (h: ControllerHierarchy) => string;
}

/** A job's processes and its kernel OOM-kill counter. */
export interface JobView {
  readonly jobId: number;
  /** The job's processes (those the watchdog may act on). */
  pids(): number[];
  /** Whether any of those processes is left. */
  populated(): boolean;
  oomKills(): number | null;
}

/**
 * Kill, freeze and thaw where the job's cgroup also holds what must survive (SLURM's slurmstepd):
 * a tree that has them is used instead of the whole-cgroup actions of actions.ts.
 */
export interface JobActions {
  kill(jobId: number, options: KillOptions): Promise<KillResult>;
  freeze(jobId: number, options: { timeoutMs: number }): Promise<FreezeResult>;
  thaw(jobId: number): void;
}

/** A job without cgroups (SLURM's proctrack/linuxproc): its numbers summed over its processes. */
export interface ProcessUsage {
  /** RSS of its processes. */
  memBytes: number;
  /** What it asked for, standing in for a limit; null when unknown. */
  memLimitBytes: number | null;
  pids: number;
  cpuUsageUsec: number;
}

export interface JobTree {
  /** 'processes': no job cgroups; jobs are process trees (processUsage gives their numbers). */
  readonly mode: 'v1' | 'v2' | 'processes';
  /** Whose job ids these are: Keisan's (the local executor) or SLURM's. */
  readonly jobIdKind?: 'keisan' | 'slurm';
  readonly actions?: JobActions;
  /** The kernel counts OOM kills in the job's child cgroups, not at the job level (SLURM on cgroup v1): read them through job(id).oomKills(). */
  readonly oomKillsNested?: boolean;
  jobIds(): number[];
  jobDirs(jobId: number): JobDirs;
  job(jobId: number): JobView;
  /** The directories holding all jobs' totals (memory usage and limit, pids), where there are any. */
  parentControllerDirs(): { memory?: { dir: string; version: 1 | 2 }; pids?: string };
  /** Only where jobs have no cgroup: the job's numbers from its processes; null when it is gone. */
  processUsage?(jobId: number): ProcessUsage | null;
}
