/**
 * Which of SLURM's jobs a SLURM node has and how to see them — shared by the watchdog and the
 * agent's per-job metrics: slurm.conf's ProctrackType decides between the job cgroups
 * (proctrack/cgroup; SlurmCgroupTree) and process trees (proctrack/linuxproc or pgid;
 * SlurmProcessTree). slurm.conf is `batch.slurm.conf`, else SLURM_CONF, else /etc/slurm/slurm.conf;
 * when it cannot be read, cgroups are assumed.
 */
import fs from 'node:fs';
import type { CgroupLayout } from '../batch/executors/local/cgroups.ts';
import type { JobInfo } from './sampler.ts';
import { SlurmCgroupTree, findSlurmRoot, proctrackOf, slurmJobRecords } from './slurm-jobs.ts';
import { SlurmProcessTree, slurmProcessRecords } from './slurm-processes.ts';

/** slurm.conf's ProctrackType; null when unreadable or unset. */
export function slurmProctrack(conf: string | undefined): string | null {
  try {
    return proctrackOf(fs.readFileSync(conf ?? process.env.SLURM_CONF ?? '/etc/slurm/slurm.conf', 'utf8'));
  } catch {
    return null;
  }
}

export interface SlurmNodeJobs {
  tree: SlurmCgroupTree | SlurmProcessTree;
  jobInfo: (jobId: number) => JobInfo | undefined;
  /** For the start line: what is watched and how. */
  description: string;
}

/** Opens SLURM's jobs on this node the way its ProctrackType keeps them. Throws when there is no cgroup hierarchy at all and cgroups are assumed. */
export function openSlurmJobs(options: { conf?: string; layout: CgroupLayout }): SlurmNodeJobs {
  const proctrack = slurmProctrack(options.conf);
  if (proctrack === 'proctrack/linuxproc' || proctrack === 'proctrack/pgid') {
    const tree = new SlurmProcessTree();
    return { tree, jobInfo: slurmProcessRecords(tree), description: `SLURM's jobs as process trees under their slurmstepd (${proctrack}: no job cgroups; memory is their RSS against what each asked for; no throttle, no PSI)` };
  }
  const tree = SlurmCgroupTree.open({ layout: options.layout });
  const found = findSlurmRoot(options.layout) !== null;
  return {
    tree,
    jobInfo: slurmJobRecords(tree),
    description: `SLURM's job cgroups '${tree.root}' (${tree.mode}${found ? '' : ', none there yet: found when slurmd makes them'}${proctrack === null ? "; slurm.conf's ProctrackType unread, cgroups assumed" : ''})`,
  };
}
