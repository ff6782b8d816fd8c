/**
 * Shared types of the recovery watchdog (src/recovery/): what the sampler reads, what the
 * detectors find. The detection side (sampler.ts, detectors.ts) owns the types in the first
 * part; the action side (victim.ts, actions.ts, evidence.ts) adds its own below.
 *
 * Units: bytes, microseconds for PSI totals and CPU usage (as the kernel counts them),
 * milliseconds for wall-clock times (`atMs`, windows). A value the kernel does not offer on this
 * machine (no PSI on a v1-only host, no pids controller…) is null, never 0.
 */

import { z } from 'zod';

// ------------------------------------------------------------------------- samples (detection)

/** PSI `total=` counters of one pressure file, in µs of stall since boot (or since the cgroup was made). */
export interface PsiTotals {
  someUs: number;
  /** null for cpu pressure on kernels that have no `full` line there. */
  fullUs: number | null;
}

/** One job's cgroup(s), read at one tick. */
export interface JobSample {
  jobId: number;
  /** The job's owner and uid, when the caller knows them (from the job record); null otherwise. */
  user: string | null;
  uid: number | null;
  /** The job's cgroup directory in every hierarchy read (v1 controllers and the v2 side, or the one v2 dir). */
  cgroupDirs: string[];
  /** v2 memory.current / v1 memory.usage_in_bytes. */
  memBytes: number | null;
  /** v2 memory.max / v1 memory.limit_in_bytes; null when unlimited ('max' or the v1 huge sentinel). */
  memLimitBytes: number | null;
  /** What the job asked for (job record), when given. */
  requestedMemBytes: number | null;
  requestedCpus: number | null;
  /** memory.stat workingset_refault_file (v1: total_workingset_refault_file, else workingset_refault_file), in pages. */
  refaultFile: number | null;
  /**
   * memory.stat workingset_activate_file (v1: total_…): the refaults the kernel judged recent, i.e. of
   * the working set — thrash. A streaming job's refaults of long-evicted pages do not count here.
   */
  activateFile?: number | null;
  /** memory.stat anon (v2) / total_rss (v1) in bytes, when present: the part reclaim cannot drop without swap. */
  anonBytes: number | null;
  /** PSI of the job's v2 cgroup (pure v2, or the hybrid side hierarchy); null where absent. */
  psiMemory: PsiTotals | null;
  psiIo: PsiTotals | null;
  psiCpu: PsiTotals | null;
  pidsCurrent: number | null;
  /** null when 'max' (unlimited) or no pids controller. */
  pidsMax: number | null;
  /** pids.events `max`: how many forks failed at pids.max. */
  pidsEventsMax: number | null;
  /** CPU time used, µs (v2 cpu.stat usage_usec; v1 cpuacct.usage / 1000). */
  cpuUsageUsec: number | null;
  /** CPUs the job may use (its allocation: requested cpus, or the cpu quota); null when unknown. */
  cpusAllocated: number | null;
  /** Processes of the job the kernel's OOM killer killed (v2 memory.events / v1 memory.oom_control `oom_kill`); absent in older recordings. */
  oomKills?: number | null;
}

/** The node, read at one tick. */
export interface NodeSample {
  memTotalBytes: number;
  memAvailableBytes: number;
  /** /proc/pressure/*; null when PSI is off (`psi=0`) or unsupported. */
  psiMemory: PsiTotals | null;
  psiIo: PsiTotals | null;
  psiCpu: PsiTotals | null;
  /** /proc/loadavg field 4: runnable threads / all threads. */
  runningThreads: number;
  totalThreads: number;
  /** The jobs' parent cgroup, where the sampler reads it (absent in recorded samples from before it did). */
  parent?: ParentSample | null;
}

/**
 * The jobs' parent cgroup (capped below the node's memory by the batch room): all jobs together.
 * `availableBytes` is what they may still use before the parent's limit: limit − usage + the
 * parent's inactive page cache (reclaimable, like MemAvailable counts it); null without a limit.
 */
export interface ParentSample {
  memBytes: number | null;
  memLimitBytes: number | null;
  availableBytes: number | null;
  pidsCurrent: number | null;
}

/** One tick: the node and every job cgroup found under the parent. */
export interface Sample {
  /** Monotonic-ish wall time in ms of the read (the caller's clock). */
  atMs: number;
  node: NodeSample;
  jobs: JobSample[];
}

/** A process on a login host (the login CPU-hog rule). Read from /proc/<pid>/stat and status. */
export interface ProcessSample {
  pid: number;
  uid: number;
  user: string | null;
  comm: string;
  /** utime + stime, in clock ticks (`cpuTicksPerSecond` says how many per second). */
  cpuTicks: number;
  rssBytes: number;
  /** Field 22 of /proc/<pid>/stat: start time after boot, in clock ticks. */
  startTicks: number;
}

/** The login host's processes at one tick. */
export interface ProcessTick {
  atMs: number;
  /** sysconf(_SC_CLK_TCK), usually 100. */
  cpuTicksPerSecond: number;
  processes: ProcessSample[];
}

// ------------------------------------------------------------------------- findings (detection)

/** `kernel-oom` is not a detector: the watchdog reports the kernel's OOM kills in a job (memory.events oom_kill) that it did not prevent. */
export const RULES = ['memory-limit', 'memory-thrash', 'node-memory', 'pids-explosion', 'cpu-hog', 'login-cpu-hog', 'kernel-oom'] as const;
export type Rule = (typeof RULES)[number];

/** warn < act; the login rule escalates warn → renice → stop (the caller acts). */
export type Severity = 'warn' | 'renice' | 'stop' | 'act';

export interface Finding {
  rule: Rule;
  severity: Severity;
  jobId: number | null;
  pid: number | null;
  user: string | null;
  /** One line with the numbers and the window, e.g. "job 42 (alice): memory 1.98 of 2.00 GiB, +180 MiB/s over 1.0 s, refaults 12 k pages/s". */
  explanation: string;
  window: { fromMs: number; toMs: number };
  /** The numbers that triggered the rule (rates per second, bytes, ratios). */
  metrics: Record<string, number>;
  /** Node-level findings: the jobs whose usage grows, fastest first (the victim choice is victim.ts's). */
  candidates?: number[];
}

// ------------------------------------------------------------------------- actions (action helper)

/** What the watchdog can do to a victim (actions.ts). */
export const ACTIONS = ['kill', 'freeze', 'thaw', 'throttle', 'stop', 'continue', 'renice'] as const;
export type ActionKind = (typeof ACTIONS)[number];

/**
 * One action taken, as the events store is to keep it: victim.ts chose the target and wrote the
 * explanation, actions.ts acted and timed it, evidence.ts wrote the evidence file.
 */
export interface ActionOutcome {
  action: ActionKind;
  rule: Rule;
  target: { kind: 'job'; jobId: number } | { kind: 'process'; pid: number };
  user: string | null;
  /** victim.ts's one line with the numbers. */
  explanation: string;
  /** Monotonic, ms: decision → the write (kill/freeze/signal). */
  decisionToWriteMs: number | null;
  /** Monotonic, ms: write → cgroup empty (kill) / frozen (freeze) / state reached (stop, continue); null when not reached. */
  writeToDoneMs: number | null;
  done: boolean;
  evidencePath: string | null;
}

// ------------------------------------------------------------------------- events (watchdog → server)

/** observe: report only; automatic: act; ask: freeze the victim and wait for an operator's decision (or the timeout). */
export const RECOVERY_MODES = ['observe', 'automatic', 'ask'] as const;
export type RecoveryMode = (typeof RECOVERY_MODES)[number];

/** What the watchdog did (or would do) about a finding; 'warn' tells the user, 'none' only observes. */
/** 'thaw' follows a denied ask (the frozen job or stopped process goes on). */
export const EVENT_ACTIONS = ['kill', 'freeze', 'throttle', 'stop', 'renice', 'warn', 'none', 'thaw'] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/** pending: ask mode froze the victim and waits for an operator; the decision follows as another event with the same key. */
export const EVENT_OUTCOMES = ['observed', 'done', 'failed', 'pending'] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number];

/** How a pending (ask mode) event ended: an operator approved or denied, the node's deadline passed, or the job ended on its own. */
export const DECISIONS = ['approved', 'denied', 'timed-out', 'ended'] as const;
export type Decision = (typeof DECISIONS)[number];

/** The ask-mode fields of an event: the pending event and its follow-up share `key`. */
export const askFieldsSchema = z
  .object({
    /** Node-made uuid linking the pending event and its follow-up. */
    key: z.uuid(),
    /** ISO time after which the node falls back (its own clock). */
    deadline: z.iso.datetime(),
    /** The action proposed to the operator (the rule's configured action). */
    proposed: z.enum(['kill', 'freeze', 'throttle', 'stop', 'renice', 'warn', 'none']),
    /** null on the pending event; on the follow-up how it ended, by whom (operator name, 'timeout', 'job ended') and when. */
    decision: z.enum(DECISIONS).nullable(),
    decidedBy: z.string().max(255).nullable(),
    decidedAt: z.iso.datetime().nullable(),
    reason: z.string().max(1000).nullable(),
  })
  .strict();
export type AskFields = z.infer<typeof askFieldsSchema>;

/** Monotonic ms of one action: decision → the write, the write itself, write → cgroup empty. */
export const recoveryTimingsSchema = z
  .object({
    decisionToWriteMs: z.number().nonnegative().nullable(),
    writeMs: z.number().nonnegative().nullable(),
    writeToEmptyMs: z.number().nonnegative().nullable(),
  })
  .strict();
export type RecoveryTimings = z.infer<typeof recoveryTimingsSchema>;

/**
 * One recovery event as the watchdog reports it: POST /api/recovery/events (Authorization: Node
 * <secret>) → 200 { id }. In observe mode `action` is what automatic mode would have done and
 * `outcome` is 'observed'; timings are null where nothing was written.
 */
export const recoveryEventInputSchema = z
  .object({
    host: z.string().min(1).max(255),
    /** ISO 8601 time of the decision. */
    at: z.iso.datetime(),
    rule: z.enum(RULES),
    severity: z.enum(['warn', 'renice', 'stop', 'act']),
    jobId: z.number().int().positive().nullable(),
    /** On a SLURM node: SLURM's job id (jobId is then null; the server maps it to the Keisan job whose external id it is). */
    slurmJobId: z.number().int().positive().nullable().optional(),
    pid: z.number().int().positive().nullable(),
    user: z.string().max(255).nullable(),
    mode: z.enum(RECOVERY_MODES),
    action: z.enum(EVENT_ACTIONS),
    outcome: z.enum(EVENT_OUTCOMES),
    /** The finding's one line (detectors.ts). */
    explanation: z.string().max(4000),
    /** Why this victim (victim.ts). */
    victimExplanation: z.string().max(4000),
    metrics: z.record(z.string(), z.number()),
    timings: recoveryTimingsSchema.nullable(),
    evidencePath: z.string().max(4096).nullable(),
    error: z.string().max(4000).nullable(),
    /** Only in ask mode: the pending event and its follow-up. */
    ask: askFieldsSchema.nullable().optional(),
  })
  .strict();
export type RecoveryEventInput = z.infer<typeof recoveryEventInputSchema>;
