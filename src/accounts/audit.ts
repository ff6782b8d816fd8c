import type { Kysely } from 'kysely';
import { isUniqueViolation } from '../db/errors.ts';
import type { Database } from '../db/schema.ts';
import { conflict, forbidden, type KeisanError } from '../lib/errors.ts';
import type { Actor } from './model.ts';

/**
 * The audit log: every administrative action — who, when, what, target, outcome, from where.
 * Written in the same transaction as the change it records, so neither exists without the other;
 * refusals are recorded too (outcome `denied`).
 */
export type AuditOutcome = 'ok' | 'denied' | 'failed';

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  targetType: string;
  target: string;
  outcome: AuditOutcome;
  detail: Record<string, unknown>;
  address: string | null;
}

export interface AuditRecord {
  actor: Actor;
  action: string;
  targetType: string;
  target: string;
  outcome: AuditOutcome;
  detail?: Record<string, unknown>;
}

export interface AuditFilter {
  actor?: string;
  target?: string;
  action?: string;
  outcome?: AuditOutcome;
  since?: Date;
  until?: Date;
  limit?: number;
  /** Entries with an id below this (for paging backwards). */
  before?: number;
}

export async function writeAudit(db: Kysely<Database>, record: AuditRecord, now: Date): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      at: now.toISOString(),
      actor: record.actor.name,
      action: record.action,
      target_type: record.targetType,
      target: record.target,
      outcome: record.outcome,
      detail: JSON.stringify(record.detail ?? {}),
      address: record.actor.address,
    })
    .execute();
}

export async function readAudit(db: Kysely<Database>, filter: AuditFilter): Promise<AuditEntry[]> {
  let query = db.selectFrom('audit_log').selectAll();
  if (filter.actor) query = query.where('actor', '=', filter.actor);
  if (filter.target) query = query.where('target', '=', filter.target);
  if (filter.action) {
    query = filter.action.endsWith('.')
      ? query.where('action', 'like', `${filter.action.replace(/[%_]/g, '')}%`)
      : query.where('action', '=', filter.action);
  }
  if (filter.outcome) query = query.where('outcome', '=', filter.outcome);
  if (filter.since) query = query.where('at', '>=', filter.since.toISOString());
  if (filter.until) query = query.where('at', '<', filter.until.toISOString());
  if (filter.before) query = query.where('id', '<', filter.before);
  const rows = await query.orderBy('id', 'desc').limit(filter.limit ?? 100).execute();
  return rows.map((row) => ({
    id: Number(row.id),
    at: row.at,
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    target: row.target,
    outcome: row.outcome as AuditOutcome,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    address: row.address,
  }));
}

/**
 * A change and its audit entry in one transaction (or in the enclosing one); a unique-key race
 * lost to a concurrent writer becomes CONFLICT with `raceMessage`. Every room's service uses it.
 */
export async function auditedChange<T>(
  db: Kysely<Database>,
  record: Omit<AuditRecord, 'outcome'>,
  now: () => Date,
  work: (tx: Kysely<Database>) => Promise<T>,
  raceMessage: string,
): Promise<T> {
  const run = async (tx: Kysely<Database>) => {
    const result = await work(tx);
    await writeAudit(tx, { ...record, outcome: 'ok' }, now());
    return result;
  };
  try {
    return await (db.isTransaction ? run(db) : db.transaction().execute(run));
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(raceMessage);
    throw error;
  }
}

/** Records a refused action (outcome `denied`, with the reason) and returns the FORBIDDEN error to throw. */
export async function auditedRefusal(db: Kysely<Database>, record: Omit<AuditRecord, 'outcome' | 'detail'>, reason: string, now: Date): Promise<KeisanError> {
  await writeAudit(db, { ...record, outcome: 'denied', detail: { reason } }, now);
  return forbidden(reason);
}
