/**
 * Batch queues: the facility's default set, the input schema for `keisan admin queue add|set`
 * and `keisan.yaml`, coherence checks, who may use a queue, and the choice of a queue for a job
 * that names none.
 *
 * The default set follows the reference design (an LSF centre in the style of KEK's KEKCC):
 * queues by time limit, shorter queues with higher priority and no nice, longer ones niced and
 * with fewer running jobs per user, so a long job never stands in the way of a quick one.
 *
 * | queue   | wall | CPU time | default time | prio | nice | mem default / max | cpus | gpus | running per user / subgroup / host |
 * |---------|------|----------|--------------|------|------|-------------------|------|------|------------------------------------|
 * | express | 10m  | 40m      | 10m          | 100  | 0    | 2 GiB / 16 GiB    | 4    | 1    | 2 / 8 / 4                          |
 * | short   | 1h   | 8h       | 30m          | 80   | 0    | 4 GiB / 64 GiB    | 16   | 2    | 200 / 1000 / —                     |
 * | middle  | 6h   | 48h      | 3h           | 60   | 5    | 4 GiB / 128 GiB   | 32   | 4    | 100 / 500 / —                      |
 * | large   | 24h  | 8d       | 12h          | 40   | 10   | 4 GiB / 256 GiB   | 32   | 8    | 50 / 200 / —                       |
 * | huge    | 7d   | 28d      | 3d           | 20   | 15   | 8 GiB / 512 GiB   | 64   | 8    | 10 / 40 / 4                        |
 *
 * CPU time is summed over a job's CPUs (LSF CPULIMIT): on average 8 busy CPUs over the whole
 * wall time (4 in express), so a wide job gets its full wall time only when it does not keep
 * every CPU busy. All queues are facility-wide, open to every workgroup, fair share between
 * subgroups then users, enabled. Express is for quick tests: few running jobs per user and per
 * host, so it never fills a node.
 */
import { z } from 'zod';
import { unixName } from '../accounts/model.ts';
import { invalidInput } from '../lib/errors.ts';
import { formatDuration, formatSize, parseDuration, parseSize } from '../lib/units.ts';
import type { Queue } from './model.ts';

export const QUEUE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const GIB = 1024 ** 3;

function facilityQueue(q: Omit<Queue, 'workgroup' | 'allowedWorkgroups' | 'allowedSubgroups' | 'fairShare' | 'enabled'>): Queue {
  return { ...q, workgroup: null, allowedWorkgroups: [], allowedSubgroups: [], fairShare: 'subgroup-then-user', enabled: true };
}

/** The facility's default queues (a fresh copy each call; see the table above). */
export function defaultQueues(): Queue[] {
  return [
    facilityQueue({
      name: 'express', description: 'quick tests: 10 minutes at most, runs first',
      priority: 100, nice: 0, wallTimeLimitMs: 10 * MIN, cpuTimeLimitMs: 40 * MIN, defaultTimeMs: 10 * MIN,
      defaultMemBytes: 2 * GIB, maxMemBytes: 16 * GIB, maxCpus: 4, maxGpus: 1,
      maxRunningPerUser: 2, maxRunningPerSubgroup: 8, maxRunningPerHost: 4,
    }),
    facilityQueue({
      name: 'short', description: 'jobs up to 1 hour',
      priority: 80, nice: 0, wallTimeLimitMs: HOUR, cpuTimeLimitMs: 8 * HOUR, defaultTimeMs: 30 * MIN,
      defaultMemBytes: 4 * GIB, maxMemBytes: 64 * GIB, maxCpus: 16, maxGpus: 2,
      maxRunningPerUser: 200, maxRunningPerSubgroup: 1000, maxRunningPerHost: null,
    }),
    facilityQueue({
      name: 'middle', description: 'jobs up to 6 hours',
      priority: 60, nice: 5, wallTimeLimitMs: 6 * HOUR, cpuTimeLimitMs: 48 * HOUR, defaultTimeMs: 3 * HOUR,
      defaultMemBytes: 4 * GIB, maxMemBytes: 128 * GIB, maxCpus: 32, maxGpus: 4,
      maxRunningPerUser: 100, maxRunningPerSubgroup: 500, maxRunningPerHost: null,
    }),
    facilityQueue({
      name: 'large', description: 'jobs up to 24 hours',
      priority: 40, nice: 10, wallTimeLimitMs: DAY, cpuTimeLimitMs: 8 * DAY, defaultTimeMs: 12 * HOUR,
      defaultMemBytes: 4 * GIB, maxMemBytes: 256 * GIB, maxCpus: 32, maxGpus: 8,
      maxRunningPerUser: 50, maxRunningPerSubgroup: 200, maxRunningPerHost: null,
    }),
    facilityQueue({
      name: 'huge', description: 'jobs up to 7 days',
      priority: 20, nice: 15, wallTimeLimitMs: 7 * DAY, cpuTimeLimitMs: 28 * DAY, defaultTimeMs: 3 * DAY,
      defaultMemBytes: 8 * GIB, maxMemBytes: 512 * GIB, maxCpus: 64, maxGpus: 8,
      maxRunningPerUser: 10, maxRunningPerSubgroup: 40, maxRunningPerHost: 4,
    }),
  ];
}

/** What a queue created with only a name gets (the 'short' queue's settings). */
const TEMPLATE: Queue = { ...defaultQueues()[1]!, name: 'template', description: '' };

// ---------------------------------------------------------------------------- input

function parsed<T>(parse: (value: string | number) => T) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });
}
const duration = parsed(parseDuration);
const size = parsed(parseSize);
const runningLimit = z.number().int('a running-job limit must be a whole number').min(1, 'a running-job limit must be at least 1 (use null for no limit)').nullable();

/**
 * A queue as an operator (or `keisan.yaml`) writes it. Every field but the name is optional:
 * missing ones come from the queue being changed, or for a new queue from the 'short' queue's
 * settings. Durations take every form of lib/units (`10m`, `48:00:00`, `2-00:00:00`, seconds);
 * sizes too (`4G`, `4096M`). Unknown fields are refused by name.
 */
export const queueInput = z
  .object({
    name: z.string().regex(QUEUE_NAME_PATTERN, 'a queue name starts with a lower-case letter, then a-z, 0-9, _ or -, at most 32 characters'),
    workgroup: unixName('workgroup name').nullable().optional(),
    description: z.string().max(200, 'a description is at most 200 characters').optional(),
    priority: z.number().int('priority must be a whole number').min(0).max(1000, 'priority must be 0 to 1000').optional(),
    nice: z.number().int('nice must be a whole number').min(0, 'nice must be 0 to 19: a queue may lower its jobs\' CPU priority, never raise it').max(19, 'nice must be 0 to 19').optional(),
    wallTime: duration.optional(),
    cpuTime: duration.nullable().optional(),
    defaultTime: duration.optional(),
    defaultMem: size.optional(),
    maxMem: size.optional(),
    maxCpus: z.number().int('maxCpus must be a whole number').min(1, 'maxCpus must be at least 1').optional(),
    maxGpus: z.number().int('maxGpus must be a whole number').min(0, 'maxGpus must be 0 or more').optional(),
    maxRunningPerUser: runningLimit.optional(),
    maxRunningPerSubgroup: runningLimit.optional(),
    maxRunningPerHost: runningLimit.optional(),
    allowedWorkgroups: z.array(unixName('workgroup name')).optional(),
    allowedSubgroups: z.array(unixName('subgroup name')).optional(),
    fairShare: z.enum(['subgroup-then-user', 'user']).optional(),
    enabled: z.boolean().optional(),
  })
  .strict();
export type QueueInput = z.output<typeof queueInput>;

/** A change to an existing queue (`keisan admin queue set NAME …`): any field but the name. */
export const queueChangeInput = queueInput.omit({ name: true });
export type QueueChangeInput = z.output<typeof queueChangeInput>;

/**
 * Builds the queue an input describes, on top of `base` (the queue being changed; a new queue
 * starts from the 'short' settings), and validates it. A default time or memory left out is
 * lowered to the new maximum when the base's would exceed it.
 */
export function queueFromInput(input: QueueInput | (QueueChangeInput & { name?: string }), base?: Queue): Queue {
  const from = base ?? { ...TEMPLATE, name: input.name ?? 'template' };
  const wallTimeLimitMs = input.wallTime ?? from.wallTimeLimitMs;
  const maxMemBytes = input.maxMem ?? from.maxMemBytes;
  const queue: Queue = {
    name: input.name ?? from.name,
    workgroup: input.workgroup === undefined ? from.workgroup : input.workgroup,
    description: input.description ?? from.description,
    priority: input.priority ?? from.priority,
    nice: input.nice ?? from.nice,
    wallTimeLimitMs,
    cpuTimeLimitMs: input.cpuTime === undefined ? from.cpuTimeLimitMs : input.cpuTime,
    defaultTimeMs: input.defaultTime ?? Math.min(from.defaultTimeMs, wallTimeLimitMs),
    defaultMemBytes: input.defaultMem ?? Math.min(from.defaultMemBytes, maxMemBytes),
    maxMemBytes,
    maxCpus: input.maxCpus ?? from.maxCpus,
    maxGpus: input.maxGpus ?? from.maxGpus,
    maxRunningPerUser: input.maxRunningPerUser === undefined ? from.maxRunningPerUser : input.maxRunningPerUser,
    maxRunningPerSubgroup: input.maxRunningPerSubgroup === undefined ? from.maxRunningPerSubgroup : input.maxRunningPerSubgroup,
    maxRunningPerHost: input.maxRunningPerHost === undefined ? from.maxRunningPerHost : input.maxRunningPerHost,
    allowedWorkgroups: [...(input.allowedWorkgroups ?? from.allowedWorkgroups)],
    allowedSubgroups: [...(input.allowedSubgroups ?? from.allowedSubgroups)],
    fairShare: input.fairShare ?? from.fairShare,
    enabled: input.enabled ?? from.enabled,
  };
  validateQueue(queue);
  return queue;
}

// ---------------------------------------------------------------------------- coherence

/** Everything incoherent about a queue, each as a sentence saying what to change; empty = fine. */
export function queueProblems(queue: Queue): string[] {
  const problems: string[] = [];
  const q = `queue '${queue.name}'`;
  const positiveInt = (value: number) => Number.isInteger(value) && value >= 1;
  if (!QUEUE_NAME_PATTERN.test(queue.name)) problems.push(`'${queue.name}' is not a queue name: start with a lower-case letter, then use a-z, 0-9, _ or -, at most 32 characters`);
  if (!Number.isInteger(queue.priority) || queue.priority < 0 || queue.priority > 1000) problems.push(`${q}: priority ${queue.priority} must be a whole number from 0 to 1000`);
  if (!Number.isInteger(queue.nice) || queue.nice < 0 || queue.nice > 19) problems.push(`${q}: nice ${queue.nice} must be a whole number from 0 to 19`);
  if (!(queue.wallTimeLimitMs > 0) || !Number.isFinite(queue.wallTimeLimitMs)) problems.push(`${q}: the wall-time limit must be more than 0 (e.g. 1h)`);
  if (queue.cpuTimeLimitMs !== null && !(queue.cpuTimeLimitMs > 0)) problems.push(`${q}: the CPU-time limit must be more than 0, or none`);
  if (!(queue.defaultTimeMs > 0)) problems.push(`${q}: the default time must be more than 0`);
  else if (queue.defaultTimeMs > queue.wallTimeLimitMs) {
    problems.push(`${q}: the default time ${formatDuration(queue.defaultTimeMs)} is longer than the wall-time limit ${formatDuration(queue.wallTimeLimitMs)}: lower the default time or raise the limit`);
  }
  if (!(queue.maxMemBytes > 0)) problems.push(`${q}: the memory maximum must be more than 0 (e.g. 64G)`);
  if (!(queue.defaultMemBytes > 0)) problems.push(`${q}: the default memory must be more than 0 (e.g. 4G)`);
  else if (queue.defaultMemBytes > queue.maxMemBytes) {
    problems.push(`${q}: the default memory ${formatSize(queue.defaultMemBytes)} is more than the maximum ${formatSize(queue.maxMemBytes)}: lower the default or raise the maximum`);
  }
  if (!positiveInt(queue.maxCpus)) problems.push(`${q}: maxCpus ${queue.maxCpus} must be a whole number of at least 1`);
  if (!Number.isInteger(queue.maxGpus) || queue.maxGpus < 0) problems.push(`${q}: maxGpus ${queue.maxGpus} must be a whole number of 0 or more`);
  for (const key of ['maxRunningPerUser', 'maxRunningPerSubgroup', 'maxRunningPerHost'] as const) {
    const value = queue[key];
    if (value !== null && !positiveInt(value)) problems.push(`${q}: ${key} ${value} must be a whole number of at least 1, or none`);
  }
  if (queue.maxRunningPerUser !== null && queue.maxRunningPerSubgroup !== null && queue.maxRunningPerSubgroup < queue.maxRunningPerUser) {
    problems.push(
      `${q}: maxRunningPerSubgroup ${queue.maxRunningPerSubgroup} is below maxRunningPerUser ${queue.maxRunningPerUser}, so no user could reach their own limit: raise the subgroup limit or lower the user limit`,
    );
  }
  if (queue.workgroup !== null && queue.allowedWorkgroups.some((w) => w !== queue.workgroup)) {
    problems.push(`${q} belongs to workgroup '${queue.workgroup}' and cannot be opened to other workgroups (${queue.allowedWorkgroups.filter((w) => w !== queue.workgroup).join(', ')})`);
  }
  if (queue.fairShare !== 'subgroup-then-user' && queue.fairShare !== 'user') problems.push(`${q}: fairShare must be 'subgroup-then-user' or 'user'`);
  return problems;
}

/** Throws INVALID_INPUT naming every incoherence of the queue. */
export function validateQueue(queue: Queue): void {
  const problems = queueProblems(queue);
  if (problems.length > 0) throw invalidInput(problems.join('; '), { problems });
}

// ---------------------------------------------------------------------------- access and choice

export interface QueueUser {
  workgroup: string;
  subgroup: string;
}

/**
 * Whether a member of this workgroup and subgroup may use the queue: a workgroup's own queue
 * only its members; then, when allowedWorkgroups or allowedSubgroups name anyone, only members
 * of a named workgroup or a named subgroup (either suffices); empty lists = everyone.
 */
export function queueAllows(queue: Queue, who: QueueUser): boolean {
  if (queue.workgroup !== null && queue.workgroup !== who.workgroup) return false;
  if (queue.allowedWorkgroups.length === 0 && queue.allowedSubgroups.length === 0) return true;
  return queue.allowedWorkgroups.includes(who.workgroup) || queue.allowedSubgroups.includes(who.subgroup);
}

/** What a job asks of a queue; null = not given (the queue's default applies). */
export interface QueueRequest {
  cpus: number;
  gpus: number;
  memBytes: number | null;
  timeMs: number | null;
}

/** Why the queue cannot take this job, in words; null when it can. */
export function queueRefusal(queue: Queue, request: QueueRequest, who: QueueUser): string | null {
  const q = `queue '${queue.name}'`;
  if (!queueAllows(queue, who)) {
    return queue.workgroup !== null && queue.workgroup !== who.workgroup
      ? `${q} belongs to workgroup '${queue.workgroup}'`
      : `${q} is open only to ${[...queue.allowedWorkgroups.map((w) => `workgroup ${w}`), ...queue.allowedSubgroups.map((s) => `subgroup ${s}`)].join(', ')}`;
  }
  if (request.timeMs !== null && request.timeMs > queue.wallTimeLimitMs) return `${q} allows at most ${formatDuration(queue.wallTimeLimitMs)} (asked ${formatDuration(request.timeMs)})`;
  if (request.cpus > queue.maxCpus) return `${q} allows at most ${queue.maxCpus} CPUs per job (asked ${request.cpus})`;
  if (request.gpus > queue.maxGpus) return `${q} allows at most ${queue.maxGpus} GPUs per job (asked ${request.gpus})`;
  if (request.memBytes !== null && request.memBytes > queue.maxMemBytes) return `${q} allows at most ${formatSize(queue.maxMemBytes)} of memory (asked ${formatSize(request.memBytes)})`;
  return null;
}

/** A job without a time of its own is not put in a queue shorter than this (express stays opt-in). */
export const UNTIMED_MIN_WALL_MS = HOUR;

/**
 * The queue for a job that names none, like LSF's default queue list: among the enabled queues
 * this user may use and whose limits the job fits, the one with the smallest wall-time limit
 * (ties: higher priority, then name). A job that gives no time goes to the smallest such queue
 * of at least one hour — so it does not land in express with a 10-minute limit it never asked
 * for — or, when there is none, the smallest that fits. Throws INVALID_INPUT listing why each
 * queue refused when none fits.
 */
export function chooseQueue(queues: readonly Queue[], request: QueueRequest, who: QueueUser): Queue {
  const ordered = [...queues].sort((a, b) => a.wallTimeLimitMs - b.wallTimeLimitMs || b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const refusals: string[] = [];
  const fitting: Queue[] = [];
  for (const queue of ordered) {
    const refusal = queue.enabled ? queueRefusal(queue, request, who) : `queue '${queue.name}' is disabled`;
    if (refusal === null) fitting.push(queue);
    else refusals.push(refusal);
  }
  const chosen = request.timeMs === null ? (fitting.find((q) => q.wallTimeLimitMs >= UNTIMED_MIN_WALL_MS) ?? fitting[0]) : fitting[0];
  if (chosen === undefined) {
    throw invalidInput(refusals.length > 0 ? `no queue can take this job: ${refusals.join('; ')}` : 'no queue can take this job: there are no queues');
  }
  return chosen;
}
