import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import type { Database, JobTable } from '../db/schema.ts';
import type { Dependency, JobState, MailEvents, Queue, RunningSchedJob, SchedJob } from './model.ts';

/** Database access for the batch room. No rules here: the service decides. */
type Tx = Kysely<Database>;
export type JobRow = Selectable<JobTable>;

export interface Transition {
  state: JobState | 'held' | 'released';
  at: string;
}

/** A job as the API shows it. */
export const jobSchema = z.object({
  id: z.number().int(),
  arrayJobId: z.number().int().nullable(),
  arrayTaskId: z.number().int().nullable(),
  /** At most this many tasks of the array run at once (`%N`). */
  arrayMaxRunning: z.number().int().nullable(),
  name: z.string(),
  user: z.string(),
  subgroup: z.string(),
  workgroup: z.string(),
  queue: z.string(),
  state: z.string(),
  held: z.boolean(),
  cpus: z.number().int(),
  memBytes: z.number(),
  gpus: z.number().int(),
  gpuType: z.string().nullable(),
  timeLimitMs: z.number(),
  args: z.array(z.string()),
  dependencies: z.array(z.object({ jobId: z.number().int(), type: z.enum(['ok', 'any', 'notok']) })),
  submitDir: z.string(),
  chdir: z.string(),
  output: z.string(),
  error: z.string(),
  mail: z.object({ begin: z.boolean(), end: z.boolean(), fail: z.boolean() }),
  mailUser: z.string().nullable(),
  submittedAt: z.string(),
  eligibleAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  node: z.string().nullable(),
  gpuIndices: z.array(z.number().int()),
  exitCode: z.number().int().nullable(),
  exitSignal: z.string().nullable(),
  reason: z.string().nullable(),
  cpuSeconds: z.number().nullable(),
  maxRssBytes: z.number().nullable(),
  gpuSeconds: z.number().nullable(),
  transitions: z.array(z.object({ state: z.string(), at: z.string() })),
  /** SLURM's job id when the job runs through SLURM (batch.executor: slurm); null otherwise. */
  externalId: z.string().nullable(),
});
export type Job = z.infer<typeof jobSchema>;

const parse = <T>(text: string | null, fallback: T): T => (text ? (JSON.parse(text) as T) : fallback);

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    arrayJobId: row.array_job_id,
    arrayTaskId: row.array_task_id,
    arrayMaxRunning: row.array_max_running,
    name: row.name,
    user: row.user_name,
    subgroup: row.subgroup,
    workgroup: row.workgroup,
    queue: row.queue,
    state: row.state,
    held: row.held === 1,
    cpus: row.cpus,
    memBytes: Number(row.mem_bytes),
    gpus: row.gpus,
    gpuType: row.gpu_type,
    timeLimitMs: Number(row.time_limit_ms),
    args: parse<string[]>(row.args, []),
    dependencies: parse<Dependency[]>(row.dependencies, []),
    submitDir: row.submit_dir,
    chdir: row.chdir,
    output: row.output,
    error: row.error,
    mail: parse<MailEvents>(row.mail, { begin: false, end: false, fail: false }),
    mailUser: row.mail_user,
    submittedAt: row.submitted_at,
    eligibleAt: row.eligible_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    node: row.node,
    gpuIndices: parse<number[]>(row.gpu_indices, []),
    exitCode: row.exit_code,
    exitSignal: row.exit_signal,
    reason: row.reason,
    cpuSeconds: row.cpu_seconds === null ? null : Number(row.cpu_seconds),
    maxRssBytes: row.max_rss_bytes === null ? null : Number(row.max_rss_bytes),
    gpuSeconds: row.gpu_seconds === null ? null : Number(row.gpu_seconds),
    transitions: parse<Transition[]>(row.transitions, []),
    externalId: row.external_id ?? null,
  };
}

/** The scheduler's projection of a stored job. */
export function toSchedJob(job: Job): SchedJob {
  return {
    id: job.id,
    user: job.user,
    subgroup: job.subgroup,
    workgroup: job.workgroup,
    queue: job.queue,
    request: { cpus: job.cpus, memBytes: job.memBytes, gpus: job.gpus, gpuType: job.gpuType },
    timeLimitMs: job.timeLimitMs,
    submittedAt: Date.parse(job.submittedAt),
    eligibleAt: job.eligibleAt ? Date.parse(job.eligibleAt) : null,
    held: job.held,
    dependencies: job.dependencies,
    arrayJobId: job.arrayJobId,
    arrayMaxRunning: job.arrayMaxRunning,
  };
}

export function toRunningSchedJob(job: Job): RunningSchedJob {
  return {
    ...toSchedJob(job),
    node: job.node ?? 'local',
    startedAt: job.startedAt ? Date.parse(job.startedAt) : Date.now(),
    gpuIndices: job.gpuIndices,
  };
}

export async function jobsInStates(db: Tx, states: JobState[]): Promise<JobRow[]> {
  return db.selectFrom('jobs').selectAll().where('state', 'in', states).orderBy('id').execute();
}

export async function findJob(db: Tx, id: number): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function readQueues(db: Tx): Promise<Queue[]> {
  const rows = await db.selectFrom('queues').select(['spec']).orderBy('name').execute();
  return rows.map((row) => JSON.parse(row.spec) as Queue);
}

export async function writeQueue(db: Tx, queue: Queue, now: Date): Promise<void> {
  const at = now.toISOString();
  const spec = JSON.stringify(queue);
  await db
    .insertInto('queues')
    .values({ name: queue.name, workgroup: queue.workgroup, spec, created_at: at, updated_at: at })
    .onConflict((oc) => oc.column('name').doUpdateSet({ workgroup: queue.workgroup, spec, updated_at: at }))
    .execute();
}

export async function deleteQueue(db: Tx, name: string): Promise<void> {
  await db.deleteFrom('queues').where('name', '=', name).execute();
}

export async function appendTransition(db: Tx, id: number, transitions: Transition[], transition: Transition): Promise<string> {
  const next = JSON.stringify([...transitions, transition]);
  await db.updateTable('jobs').set({ transitions: next }).where('id', '=', id).execute();
  return next;
}

export interface NotificationRow {
  id: number;
  at: string;
  kind: string;
  title: string;
  body: string;
  readAt: string | null;
}

export async function addNotification(db: Tx, user: string, kind: string, title: string, body: string, now: Date): Promise<void> {
  await db.insertInto('notifications').values({ user_name: user, at: now.toISOString(), kind, title, body, read_at: null }).execute();
}

export async function readNotifications(db: Tx, user: string, unreadOnly: boolean, limit: number): Promise<NotificationRow[]> {
  let query = db.selectFrom('notifications').selectAll().where('user_name', '=', user);
  if (unreadOnly) query = query.where('read_at', 'is', null);
  const rows = await query.orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({ id: r.id, at: r.at, kind: r.kind, title: r.title, body: r.body, readAt: r.read_at }));
}

export async function markNotificationsRead(db: Tx, user: string, ids: number[] | 'all', now: Date): Promise<number> {
  let query = db.updateTable('notifications').set({ read_at: now.toISOString() }).where('user_name', '=', user).where('read_at', 'is', null);
  if (ids !== 'all') query = query.where('id', 'in', ids.length ? ids : [-1]);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
