/**
 * SLURM's pending reasons (squeue's %r, scontrol's Reason=) in plain words for `keisan why`.
 * The codes are those of SLURM 22.05's job_reason_string(); a code not listed here is shown as
 * SLURM says it, with a pointer to squeue's documentation.
 */

const WORDS: Record<string, string> = {
  None: 'SLURM has not looked at it yet; it is considered at the next scheduling pass',
  Priority: 'jobs with a higher priority (fair share, age, partition) are ahead of it',
  Resources: 'it is next in line, waiting for enough CPUs, memory or GPUs to become free',
  Dependency: 'it waits for the jobs it depends on',
  DependencyNeverSatisfied: 'a job it depends on ended in a way that can never satisfy the dependency: it will never start; cancel it',
  BeginTime: 'it may not start before the begin time it was submitted with',
  JobHeldUser: 'it is held: it will not start until it is released',
  JobHeldAdmin: 'an operator holds it: it will not start until an operator releases it',
  PartitionDown: 'its partition is down: none of its jobs start until an operator brings it up',
  PartitionInactive: 'its partition is inactive: none of its jobs start until an operator activates it',
  PartitionNodeLimit: 'it asks for more nodes than its partition allows',
  PartitionTimeLimit: 'its time limit is longer than its partition allows: it cannot start as it is (ask for less time or use a longer queue)',
  PartitionConfig: "it asks for something its partition's configuration cannot give",
  ReqNodeNotAvail: 'a node it needs is not available (down, drained or reserved)',
  NodeDown: 'a node it needs is down',
  BadConstraints: 'no node matches what it asks for: it cannot start as it is',
  Reservation: 'it waits for its advance reservation to start',
  InvalidAccount: 'its account is not valid in SLURM: ask an operator to run keisan admin slurm sync',
  InvalidQOS: 'its QOS is not valid for its account: ask an operator to run keisan admin slurm sync',
  QOSNotAllowed: 'its account may not use this QOS',
  QOSJobLimit: "its QOS's job limit is reached",
  QOSResourceLimit: "its QOS's resource limit is reached",
  QOSUsageThreshold: "its QOS's usage threshold is reached",
  QOSMaxJobsPerUserLimit: 'you already run as many jobs as its queue allows per user; it may start when one of them ends',
  QOSMaxJobsPerAccountLimit: 'your subgroup already runs as many jobs as its queue allows per subgroup; it may start when one of them ends',
  QOSMaxSubmitJobPerUserLimit: 'you have as many jobs in its queue as it allows per user',
  QOSMaxCpuPerUserLimit: 'your running jobs already use the most CPUs its queue allows per user',
  QOSMaxMemoryPerUser: 'your running jobs already use the most memory its queue allows per user',
  QOSMaxGRESPerUser: 'your running jobs already use the most GPUs its queue allows per user',
  QOSMaxWallDurationPerJobLimit: 'its time limit is longer than its queue allows',
  QOSGrpCpuLimit: 'its queue already uses all the CPUs it may use at once',
  QOSGrpMemLimit: 'its queue already uses all the memory it may use at once',
  QOSGrpJobsLimit: 'its queue already runs as many jobs as it may at once',
  AssocGrpJobsLimit: 'your group already runs as many jobs as it may at once',
  AssocGrpCpuLimit: 'your group already uses all the CPUs it may use at once',
  AssocGrpMemLimit: 'your group already uses all the memory it may use at once',
  AssocGrpGRES: 'your group already uses all the GPUs it may use at once',
  AssocMaxJobsLimit: 'you already run as many jobs as your account allows',
  AssocMaxWallDurationPerJobLimit: 'its time limit is longer than your account allows',
  AssocGrpCPUMinutesLimit: "your group's CPU-minutes budget is spent",
  JobLaunchFailure: 'SLURM could not launch it (often: its output directory is not writable on the node)',
  launch_failed_requeued_held: 'its launch failed and SLURM held it: fix the cause, then release it',
  NonZeroExitCode: 'it ended with a non-zero exit status',
  TimeLimit: 'it ran past its time limit',
  Cleaning: 'it is being cleaned up after an earlier run before it can run again',
  Prolog: 'its prolog is running',
  NodeNotReady: 'its node is booting or not ready yet',
  OutOfMemory: 'it ran out of memory',
  SystemFailure: 'a SLURM or node failure',
  FrontEndDown: 'no front-end node is available',
  Licenses: 'it waits for licenses',
  MaxRequeueLimit: 'it was requeued too many times and is held',
  ReqNodeNotAvail_UnavailableNodes: 'a node it needs is not available',
};

/** Plain words for a SLURM reason code ("Priority", "QOSMaxJobsPerUserLimit", "ReqNodeNotAvail, UnavailableNodes:n1"). */
export function slurmReasonWords(code: string): string {
  const trimmed = code.trim();
  const head = trimmed.split(/[,:(\s]/)[0] ?? trimmed;
  const known = WORDS[trimmed] ?? WORDS[head];
  if (known) return known;
  // Newer limits follow a pattern: QOS/Assoc, Grp/Max, the resource, Limit/PerUser.
  const limit = /^(QOS|Assoc)(Grp|Max)(\w+?)(PerUser|PerAccount|PerJob|PerNode)?(Limit|RunMinutes|Minutes)?$/.exec(head);
  if (limit) {
    const who = limit[1] === 'QOS' ? "its queue's" : "your account's";
    return `${who} ${limit[2] === 'Grp' ? 'group' : 'per-job or per-user'} limit on ${limit[3]!.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} is reached (SLURM reason ${head})`;
  }
  return `SLURM gives the reason '${trimmed}' (see squeue(1), JOB REASON CODES)`;
}
