import type { Kysely, Selectable } from 'kysely';
import type { AlertNotificationTable, AlertSilenceTable, AlertTable, Database } from '../../db/schema.ts';
import type { AlertSource, AlertState, Matcher, NotificationChannel, NotificationEntry, Severity, Silence } from './model.ts';
import { silenceState, type Alert } from './state.ts';

type Db = Kysely<Database>;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const ms = (text: string | null) => (text === null ? null : new Date(text).getTime());

// --------------------------------------------------------------------------------- alerts

function alertRow(alert: Alert) {
  return {
    fingerprint: alert.fingerprint,
    source: alert.source,
    rule: alert.rule,
    labels: JSON.stringify(alert.labels),
    severity: alert.severity,
    state: alert.state,
    value: alert.value === null || !Number.isFinite(alert.value) ? null : alert.value,
    summary: alert.summary,
    description: alert.description,
    started_at: iso(alert.startedAt)!,
    fired_at: iso(alert.firedAt),
    resolved_at: iso(alert.resolvedAt),
    last_eval_at: iso(alert.lastEvalAt)!,
    notified: alert.notified,
    notified_at: iso(alert.notifiedAt),
  };
}

export function toAlert(row: Selectable<AlertTable>): Alert {
  return {
    id: Number(row.id),
    fingerprint: row.fingerprint,
    source: row.source as AlertSource,
    rule: row.rule,
    labels: JSON.parse(row.labels) as Record<string, string>,
    severity: row.severity as Severity,
    state: row.state as AlertState,
    value: row.value === null ? null : Number(row.value),
    summary: row.summary,
    description: row.description,
    startedAt: ms(row.started_at)!,
    firedAt: ms(row.fired_at),
    resolvedAt: ms(row.resolved_at),
    lastEvalAt: ms(row.last_eval_at)!,
    notified: row.notified as Alert['notified'],
    notifiedAt: ms(row.notified_at),
  };
}

/** Inserts a new alert or updates its row; returns the row id. */
export async function saveAlert(db: Db, alert: Alert): Promise<number> {
  if (alert.id !== null) {
    await db.updateTable('alerts').set(alertRow(alert)).where('id', '=', alert.id).execute();
    return alert.id;
  }
  const row = await db.insertInto('alerts').values(alertRow(alert)).returning('id').executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function deleteAlert(db: Db, id: number): Promise<void> {
  await db.deleteFrom('alerts').where('id', '=', id).execute();
}

/** Pending and firing alerts, and resolved ones whose resolution was not yet notified (restored after a restart). */
export async function activeAlerts(db: Db): Promise<Alert[]> {
  const rows = await db
    .selectFrom('alerts')
    .selectAll()
    .where((eb) => eb.or([eb('state', 'in', ['pending', 'firing']), eb.and([eb('state', '=', 'resolved'), eb('notified', '=', 'firing')])]))
    .orderBy('id')
    .execute();
  return rows.map(toAlert);
}

/** Resolved alerts, newest first. */
export async function resolvedAlerts(db: Db, limit: number): Promise<Alert[]> {
  const rows = await db.selectFrom('alerts').selectAll().where('state', '=', 'resolved').orderBy('resolved_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toAlert);
}

// --------------------------------------------------------------------------------- silences

export function toSilence(row: Selectable<AlertSilenceTable>, nowMs: number): Silence {
  return {
    id: Number(row.id),
    matchers: JSON.parse(row.matchers) as Matcher[],
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    createdBy: row.created_by,
    comment: row.comment,
    createdAt: row.created_at,
    removedBy: row.removed_by,
    state: silenceState({ startsAt: ms(row.starts_at)!, endsAt: ms(row.ends_at)! }, nowMs),
  };
}

export async function insertSilence(db: Db, silence: { matchers: Matcher[]; startsAt: Date; endsAt: Date; createdBy: string; comment: string }, now: Date): Promise<number> {
  const row = await db
    .insertInto('alert_silences')
    .values({
      matchers: JSON.stringify(silence.matchers),
      starts_at: silence.startsAt.toISOString(),
      ends_at: silence.endsAt.toISOString(),
      created_by: silence.createdBy,
      comment: silence.comment,
      created_at: now.toISOString(),
      removed_by: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function findSilence(db: Db, id: number): Promise<Selectable<AlertSilenceTable> | undefined> {
  return db.selectFrom('alert_silences').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Ends a silence now (kept for the record, as Alertmanager expires rather than deletes). */
export async function expireSilence(db: Db, id: number, by: string, now: Date): Promise<void> {
  await db.updateTable('alert_silences').set({ ends_at: now.toISOString(), removed_by: by }).where('id', '=', id).execute();
}

/** Silences not yet expired (all: expired ones too), newest first. */
export async function listSilences(db: Db, now: Date, all: boolean, limit = 1000): Promise<Selectable<AlertSilenceTable>[]> {
  let query = db.selectFrom('alert_silences').selectAll();
  if (!all) query = query.where('ends_at', '>', now.toISOString());
  return query.orderBy('id', 'desc').limit(limit).execute();
}

// --------------------------------------------------------------------------------- notifications log

export interface NotificationRecord {
  channel: NotificationChannel;
  target: string;
  status: 'queued' | 'sent' | 'failed';
  attempts: number;
  error: string | null;
  groupKey: string;
  subject: string;
  firing: number;
  resolved: number;
  fingerprints: string[];
  deliveredAt: Date | null;
}

export async function logNotification(db: Db, record: NotificationRecord, now: Date): Promise<number> {
  const row = await db
    .insertInto('alert_notifications')
    .values({
      at: now.toISOString(),
      channel: record.channel,
      target: record.target,
      status: record.status,
      attempts: record.attempts,
      error: record.error,
      group_key: record.groupKey,
      subject: record.subject,
      firing: record.firing,
      resolved: record.resolved,
      fingerprints: JSON.stringify(record.fingerprints),
      delivered_at: record.deliveredAt?.toISOString() ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function updateNotification(db: Db, id: number, change: { status: 'sent' | 'failed' | 'queued'; attempts: number; error: string | null; deliveredAt: Date | null }): Promise<void> {
  await db
    .updateTable('alert_notifications')
    .set({ status: change.status, attempts: change.attempts, error: change.error, delivered_at: change.deliveredAt?.toISOString() ?? null })
    .where('id', '=', id)
    .execute();
}

export function toNotification(row: Selectable<AlertNotificationTable>): NotificationEntry {
  return {
    id: Number(row.id),
    at: row.at,
    channel: row.channel as NotificationChannel,
    target: row.target,
    status: row.status as NotificationEntry['status'],
    attempts: Number(row.attempts),
    error: row.error,
    groupKey: row.group_key,
    subject: row.subject,
    firing: Number(row.firing),
    resolved: Number(row.resolved),
    deliveredAt: row.delivered_at,
  };
}

export async function listNotifications(db: Db, limit: number): Promise<NotificationEntry[]> {
  return (await db.selectFrom('alert_notifications').selectAll().orderBy('id', 'desc').limit(limit).execute()).map(toNotification);
}

/** Operators who may be notified: their names and e-mail addresses (unlocked accounts). */
export async function operators(db: Db): Promise<{ name: string; email: string | null }[]> {
  return db.selectFrom('users').select(['name', 'email']).where('is_operator', '=', 1).where('locked', '=', 0).orderBy('name').execute();
}
