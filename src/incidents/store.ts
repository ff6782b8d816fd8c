import type { Kysely, Selectable } from 'kysely';
import type { Database, IncidentTable, IncidentUpdateTable } from '../db/schema.ts';
import {
  CHECKLIST,
  type Cause,
  type ChecklistEntry,
  type Incident,
  type IncidentSummary,
  type Postmortem,
  type ServiceImpact,
  type Severity,
  type Source,
  type Status,
  type TimelineEntry,
  type UpdateKind,
} from './model.ts';

/** Database access for incidents. No rules here: the service decides, the store reads and writes. */
export type Tx = Kysely<Database>;
export type IncidentRow = Selectable<IncidentTable>;
export type UpdateRow = Selectable<IncidentUpdateTable>;

export interface StoredChecklistEntry {
  done: boolean;
  by: string | null;
  at: string | null;
}

export interface NewIncident {
  title: string;
  severity: Severity;
  status: Status;
  cause: Cause;
  services: ServiceImpact[];
  startedAt: Date;
  detectedAt: Date;
  source: Source;
  sourceKey: string | null;
  openedBy: string;
}

export function emptyChecklist(): StoredChecklistEntry[] {
  return CHECKLIST.map(() => ({ done: false, by: null, at: null }));
}

export async function insertIncident(db: Tx, incident: NewIncident, at: Date): Promise<number> {
  const row = await db
    .insertInto('incidents')
    .values({
      title: incident.title,
      severity: incident.severity,
      status: incident.status,
      cause: incident.cause,
      services: JSON.stringify(incident.services),
      started_at: incident.startedAt.toISOString(),
      detected_at: incident.detectedAt.toISOString(),
      ended_at: null,
      source: incident.source,
      source_key: incident.sourceKey,
      open_key: incident.sourceKey,
      opened_by: incident.openedBy,
      checklist: JSON.stringify(emptyChecklist()),
      postmortem: null,
      created_at: at.toISOString(),
      updated_at: at.toISOString(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function findIncident(db: Tx, id: number): Promise<IncidentRow | undefined> {
  return db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findOpenBySourceKey(db: Tx, key: string): Promise<IncidentRow | undefined> {
  return db.selectFrom('incidents').selectAll().where('open_key', '=', key).executeTakeFirst();
}

/** The most recent incident opened from `key`, open or not. */
export async function findLatestBySourceKey(db: Tx, key: string): Promise<IncidentRow | undefined> {
  return db.selectFrom('incidents').selectAll().where('source_key', '=', key).orderBy('id', 'desc').limit(1).executeTakeFirst();
}

export interface ListFilter {
  open?: boolean;
  /** Incidents still open or ended at or after this. */
  activeSince?: Date;
  /** Incidents that started before this. */
  startedBefore?: Date;
}

export async function listIncidents(db: Tx, filter: ListFilter = {}): Promise<IncidentRow[]> {
  let query = db.selectFrom('incidents').selectAll();
  if (filter.open) query = query.where('status', '!=', 'resolved');
  if (filter.activeSince) {
    const since = filter.activeSince.toISOString();
    query = query.where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>=', since)]));
  }
  if (filter.startedBefore) query = query.where('started_at', '<', filter.startedBefore.toISOString());
  return query.orderBy('started_at', 'desc').orderBy('id', 'desc').execute();
}

export type IncidentChanges = Partial<{
  title: string;
  severity: Severity;
  status: Status;
  cause: Cause;
  services: ServiceImpact[];
  startedAt: Date;
  detectedAt: Date;
  endedAt: Date | null;
  openKey: string | null;
  checklist: StoredChecklistEntry[];
  postmortem: Postmortem;
}>;

export async function updateIncident(db: Tx, id: number, changes: IncidentChanges, at: Date): Promise<void> {
  const iso = (d: Date | null) => (d === null ? null : d.toISOString());
  await db
    .updateTable('incidents')
    .set({
      ...(changes.title !== undefined ? { title: changes.title } : {}),
      ...(changes.severity !== undefined ? { severity: changes.severity } : {}),
      ...(changes.status !== undefined ? { status: changes.status } : {}),
      ...(changes.cause !== undefined ? { cause: changes.cause } : {}),
      ...(changes.services !== undefined ? { services: JSON.stringify(changes.services) } : {}),
      ...(changes.startedAt !== undefined ? { started_at: changes.startedAt.toISOString() } : {}),
      ...(changes.detectedAt !== undefined ? { detected_at: changes.detectedAt.toISOString() } : {}),
      ...(changes.endedAt !== undefined ? { ended_at: iso(changes.endedAt) } : {}),
      ...(changes.openKey !== undefined ? { open_key: changes.openKey } : {}),
      ...(changes.checklist !== undefined ? { checklist: JSON.stringify(changes.checklist) } : {}),
      ...(changes.postmortem !== undefined ? { postmortem: JSON.stringify(changes.postmortem) } : {}),
      updated_at: at.toISOString(),
    })
    .where('id', '=', id)
    .execute();
}

export async function addUpdate(db: Tx, incidentId: number, entry: { at: Date; by: string; kind: UpdateKind; status: Status | null; text: string }): Promise<void> {
  await db
    .insertInto('incident_updates')
    .values({ incident_id: incidentId, at: entry.at.toISOString(), author: entry.by.slice(0, 64), kind: entry.kind, status: entry.status, text: entry.text })
    .execute();
}

export async function timelineOf(db: Tx, incidentId: number): Promise<UpdateRow[]> {
  return db.selectFrom('incident_updates').selectAll().where('incident_id', '=', incidentId).orderBy('id').execute();
}

export function servicesOf(row: IncidentRow): ServiceImpact[] {
  return JSON.parse(row.services) as ServiceImpact[];
}

export function checklistOf(row: IncidentRow): StoredChecklistEntry[] {
  const stored = JSON.parse(row.checklist) as StoredChecklistEntry[];
  return CHECKLIST.map((_, i) => stored[i] ?? { done: false, by: null, at: null });
}

export function toSummary(row: IncidentRow): IncidentSummary {
  return {
    id: Number(row.id),
    title: row.title,
    severity: row.severity as Severity,
    status: row.status as Status,
    cause: row.cause as Cause,
    services: servicesOf(row),
    startedAt: row.started_at,
    detectedAt: row.detected_at,
    endedAt: row.ended_at,
    source: row.source as Source,
    sourceKey: row.source_key,
    openedBy: row.opened_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toIncident(row: IncidentRow, updates: UpdateRow[]): Incident {
  const checklist: ChecklistEntry[] = checklistOf(row).map((entry, i) => ({ item: i + 1, key: CHECKLIST[i]!.key, text: CHECKLIST[i]!.text, ...entry }));
  const timeline: TimelineEntry[] = updates.map((u) => ({ at: u.at, by: u.author, kind: u.kind as UpdateKind, status: u.status as Status | null, text: u.text }));
  return { ...toSummary(row), checklist, timeline, postmortem: row.postmortem === null ? null : (JSON.parse(row.postmortem) as Postmortem) };
}
