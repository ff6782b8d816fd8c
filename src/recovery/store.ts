import type { Kysely, Selectable } from 'kysely';
import type { Database, RecoveryDecisionLinkTable, RecoveryDecisionTable, RecoveryEventTable } from '../db/schema.ts';
import type { PendingDecision, RecoveryEvent } from './events-model.ts';
import type { AskFields, EventAction, EventOutcome, RecoveryEventInput, RecoveryMode, RecoveryTimings, Rule } from './model.ts';

/** Database access for recovery events. No rules here: the service decides who sees what. */
export type Tx = Kysely<Database>;
export type RecoveryEventRow = Selectable<RecoveryEventTable>;
export type RecoveryDecisionRow = Selectable<RecoveryDecisionTable>;

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
      ask: input.ask ? JSON.stringify(input.ask) : null,
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

/** The Keisan job that SLURM runs under this job id (jobs.external_id), or undefined when Keisan did not submit it. */
export async function jobOfSlurmId(db: Tx, slurmJobId: number): Promise<number | undefined> {
  const row = await db.selectFrom('jobs').select('id').where('external_id', '=', String(slurmJobId)).orderBy('id', 'desc').executeTakeFirst();
  return row === undefined ? undefined : Number(row.id);
}

export function toEvent(row: RecoveryEventRow): RecoveryEvent {
  const metrics = JSON.parse(row.metrics) as Record<string, number>;
  return {
    id: Number(row.id),
    host: row.host,
    at: row.at,
    rule: row.rule as Rule,
    severity: row.severity,
    jobId: row.job_id,
    // SLURM's job id is kept among the event's numbers (no column of its own).
    slurmJobId: typeof metrics.slurmJobId === 'number' ? metrics.slurmJobId : null,
    pid: row.pid,
    user: row.user_name,
    mode: row.mode as RecoveryMode,
    action: row.action as EventAction,
    outcome: row.outcome as EventOutcome,
    explanation: row.explanation,
    victimExplanation: row.victim_explanation,
    metrics,
    timings: row.timings === null ? null : (JSON.parse(row.timings) as RecoveryTimings),
    evidencePath: row.evidence_path,
    error: row.error,
    receivedAt: row.received_at,
    ask: row.ask ? (JSON.parse(row.ask) as AskFields) : null,
  };
}

// ------------------------------------------------------------------------------ ask mode

export async function insertDecision(db: Tx, eventId: number, input: RecoveryEventInput, ask: AskFields, owner: string | null): Promise<void> {
  await db
    .insertInto('recovery_decisions')
    .values({
      key: ask.key,
      event_id: eventId,
      host: input.host,
      job_id: input.jobId,
      pid: input.pid,
      user_name: owner ?? input.user,
      rule: input.rule,
      proposed: ask.proposed,
      frozen_at: new Date(input.at).toISOString(),
      deadline: new Date(ask.deadline).toISOString(),
      state: 'pending',
      decided_by: null,
      decided_at: null,
      reason: null,
    })
    .execute();
}

export async function findDecisionByEvent(db: Tx, eventId: number): Promise<RecoveryDecisionRow | undefined> {
  return db.selectFrom('recovery_decisions').selectAll().where('event_id', '=', eventId).executeTakeFirst();
}

export async function findDecisionByKey(db: Tx, key: string): Promise<RecoveryDecisionRow | undefined> {
  return db.selectFrom('recovery_decisions').selectAll().where('key', '=', key).executeTakeFirst();
}

/** Closes a pending decision; false when it was no longer pending (someone else decided first). */
export async function closeDecision(db: Tx, id: number, state: string, by: string, at: Date, reason: string | null): Promise<boolean> {
  const r = await db
    .updateTable('recovery_decisions')
    .set({ state, decided_by: by.slice(0, 255), decided_at: at.toISOString(), reason })
    .where('id', '=', id)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Still pending (the node's deadline not passed), oldest first. */
export async function listPending(db: Tx, now: Date): Promise<Array<RecoveryDecisionRow & { explanation: string; metrics: string }>> {
  return db
    .selectFrom('recovery_decisions as d')
    .innerJoin('recovery_events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select(['e.explanation', 'e.metrics'])
    .where('d.state', '=', 'pending')
    .where('d.deadline', '>', now.toISOString())
    .orderBy('d.frozen_at', 'asc')
    .orderBy('d.id', 'asc')
    .execute();
}

/** The operators' decisions on these keys of one host (the node polls). */
export async function decidedFor(db: Tx, host: string, keys: string[]): Promise<RecoveryDecisionRow[]> {
  if (!keys.length) return [];
  return db.selectFrom('recovery_decisions').selectAll().where('host', '=', host).where('key', 'in', keys).where('state', 'in', ['approved', 'denied']).execute();
}

/** A decision as the API shows it; `metrics` (its event's numbers, where joined) gives SLURM's job id. */
export function toPending(row: RecoveryDecisionRow & { explanation?: string; metrics?: string }): PendingDecision {
  const slurmJobId = row.metrics ? (JSON.parse(row.metrics) as Record<string, number>).slurmJobId : undefined;
  return {
    id: Number(row.event_id),
    key: row.key,
    host: row.host,
    jobId: row.job_id,
    slurmJobId: typeof slurmJobId === 'number' ? slurmJobId : null,
    pid: row.pid,
    user: row.user_name,
    rule: row.rule as Rule,
    proposed: row.proposed as EventAction,
    frozenAt: row.frozen_at,
    deadline: row.deadline,
    state: row.state as PendingDecision['state'],
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    reason: row.reason,
    explanation: row.explanation ?? '',
  };
}

/** Every operator with an account (the in-app notice and e-mail of a pending decision). */
export async function operators(db: Tx): Promise<Array<{ name: string; email: string | null }>> {
  return db.selectFrom('users').select(['name', 'email']).where('is_operator', '=', 1).execute();
}

// ------------------------------------------------------------------------------ decision links

export type RecoveryDecisionLinkRow = Selectable<RecoveryDecisionLinkTable>;

export async function insertLink(db: Tx, decisionId: number, tokenHash: string, operator: string, address: string, expiresAt: string): Promise<void> {
  await db.insertInto('recovery_decision_links').values({ decision_id: decisionId, token_hash: tokenHash, operator, address: address.slice(0, 512), expires_at: expiresAt, used_at: null }).execute();
}

export async function findLink(db: Tx, tokenHash: string): Promise<RecoveryDecisionLinkRow | undefined> {
  return db.selectFrom('recovery_decision_links').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

/** Marks a link used; false when it was used already. */
export async function useLink(db: Tx, id: number, at: Date): Promise<boolean> {
  const r = await db.updateTable('recovery_decision_links').set({ used_at: at.toISOString() }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function findDecisionById(db: Tx, id: number): Promise<RecoveryDecisionRow | undefined> {
  return db.selectFrom('recovery_decisions').selectAll().where('id', '=', id).executeTakeFirst();
}
