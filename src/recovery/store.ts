import type { Kysely, Selectable } from 'kysely';
import type { Database, RecoveryEventTable } from '../db/schema.ts';
import type { RecoveryEvent } from './events-model.ts';
import type { EventAction, EventOutcome, RecoveryEventInput, RecoveryMode, RecoveryTimings, Rule } from './model.ts';

/** Database access for recovery events. No rules here: the service decides who sees what. */
export type Tx = Kysely<Database>;
export type RecoveryEventRow = Selectable<RecoveryEventTable>;

export interface EventFilter {
  since?: Date;
  host?: string;
  jobId?: number;
  /** Only events about this user's jobs and processes (a user who is not an operator). */
  user?: string;
  limit: number;
}

/** Writes one event; `owner` is the job's owner when the job is known (it wins over what the watchdog said). */
export async function insertEvent(db: Tx, input: RecoveryEventInput, owner: string | null, receivedAt: Date): Promise<number> {
  const row = await db
    .insertInto('recovery_events')
    .values({
      host: input.host,
      at: new Date(input.at).toISOString(),
      rule: input.rule,
      severity: input.severity,
      job_id: input.jobId,
      pid: input.pid,
      user_name: owner ?? input.user,
      mode: input.mode,
      action: input.action,
      outcome: input.outcome,
      explanation: input.explanation,
      victim_explanation: input.victimExplanation,
      metrics: JSON.stringify(input.metrics),
      timings: input.timings === null ? null : JSON.stringify(input.timings),
      evidence_path: input.evidencePath,
      error: input.error,
      received_at: receivedAt.toISOString(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function findEvent(db: Tx, id: number): Promise<RecoveryEventRow | undefined> {
  return db.selectFrom('recovery_events').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Events matching `filter`, newest first. */
export async function listEvents(db: Tx, filter: EventFilter): Promise<RecoveryEventRow[]> {
  let query = db.selectFrom('recovery_events').selectAll();
  if (filter.since) query = query.where('at', '>=', filter.since.toISOString());
  if (filter.host !== undefined) query = query.where('host', '=', filter.host);
  if (filter.jobId !== undefined) query = query.where('job_id', '=', filter.jobId);
  if (filter.user !== undefined) query = query.where('user_name', '=', filter.user);
  return query.orderBy('at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
}

/** The owner of a job, or undefined when there is no such job. */
export async function jobOwner(db: Tx, jobId: number): Promise<string | undefined> {
  const row = await db.selectFrom('jobs').select('user_name').where('id', '=', jobId).executeTakeFirst();
  return row?.user_name;
}

export function toEvent(row: RecoveryEventRow): RecoveryEvent {
  return {
    id: Number(row.id),
    host: row.host,
    at: row.at,
    rule: row.rule as Rule,
    severity: row.severity,
    jobId: row.job_id,
    pid: row.pid,
    user: row.user_name,
    mode: row.mode as RecoveryMode,
    action: row.action as EventAction,
    outcome: row.outcome as EventOutcome,
    explanation: row.explanation,
    victimExplanation: row.victim_explanation,
    metrics: JSON.parse(row.metrics) as Record<string, number>,
    timings: row.timings === null ? null : (JSON.parse(row.timings) as RecoveryTimings),
    evidencePath: row.evidence_path,
    error: row.error,
    receivedAt: row.received_at,
  };
}
