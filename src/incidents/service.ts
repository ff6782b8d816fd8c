import { canonicalTimeZone, instantOf } from '../lib/time-zone.ts';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { auditedRefusal, writeAudit, type AuditRecord } from '../accounts/audit.ts';
import { SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import { isUniqueViolation } from '../db/errors.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { describeIssues } from '../lib/config.ts';
import { conflict, invalidInput, notFound } from '../lib/errors.ts';
import { parseDuration } from '../lib/units.ts';
import {
  CHECKLIST,
  checklistIndex,
  mergeServices,
  openInput,
  postmortemInput,
  timesProblem,
  transitionAllowed,
  updateInput,
  type Incident,
  type IncidentSummary,
  type OpenInput,
  type PostmortemInput,
  type ResolveInput,
  type ServiceImpact,
  type Severity,
  type Status,
  type UpdateInput,
  type UpdateKind,
} from './model.ts';
import { outageReport, type OutageReport } from './report.ts';
import * as store from './store.ts';

type Tx = Kysely<Database>;

/** What a hook (recovery, alerts) reports: opens an incident, or adds to the open one of the same key. */
export interface SourceReport {
  source: 'recovery' | 'alert' | 'power';
  /** recovery:HOST:JOB, or the alert's fingerprint: one open incident per key. */
  key: string;
  title: string;
  severity: Severity;
  services: ServiceImpact[];
  message: string;
  at: Date;
}

export interface IncidentServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  /** Services the report always shows (keisan.yaml incidents.services). */
  services: readonly string[];
  /** The report's time zone when a request names none (keisan.yaml incidents.timeZone; default UTC). */
  timeZone?: string;
  logger?: FastifyBaseLogger;
}

/** The audit log's actor for what a hook did: `keisan:recovery`, `keisan:alerts`, `keisan:power`. */
export function hookActor(source: SourceReport['source']): Actor {
  return { ...SYSTEM_ACTOR, name: source === 'alert' ? 'keisan:alerts' : source === 'power' ? 'keisan:power' : 'keisan:recovery' };
}

const time = (field: string, text: string): Date => {
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw invalidInput(`${field}: '${text}' is not a time: write e.g. 2026-11-03T22:40:00Z`);
  return at;
};

/** A report's window bound: a date (midnight in the report's time zone) or an ISO time with its zone. */
export function reportBound(field: 'from' | 'to', text: string, timeZone = 'UTC'): Date {
  const trimmed = text.trim();
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(trimmed);
  let date = new Date(NaN);
  if (day) {
    const [year, month, dayOfMonth] = day.slice(1).map(Number) as [number, number, number];
    const valid = new Date(Date.UTC(year, month - 1, dayOfMonth)).getUTCDate() === dayOfMonth;
    if (valid) date = instantOf({ year, month, day: dayOfMonth, hour: 0, minute: 0 }, timeZone);
  } else if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed)) date = new Date(trimmed);
  if (Number.isNaN(date.getTime())) throw invalidInput(`${field}: '${text}' is not a date or time: write a date such as 2026-11-01 (midnight ${timeZone}) or a time with its zone such as 2026-11-01T00:00:00Z`);
  return date;
}

/** A time zone a caller named: its canonical IANA name, or INVALID_INPUT saying what to write. */
export function reportTimeZone(text: string): string {
  const zone = canonicalTimeZone(text.trim());
  if (zone === null) throw invalidInput(`time zone '${text}' is unknown: write an IANA name such as Asia/Tokyo, Europe/Berlin or UTC`);
  return zone;
}

/** --since: a duration back from now (7d) or an ISO time. */
export function sinceOf(text: string, now: Date): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const at = new Date(text);
    if (Number.isNaN(at.getTime())) throw invalidInput(`since: '${text}' is not a time: write e.g. 2026-11-01T00:00:00Z or a duration like 7d`);
    return at;
  }
  try {
    return new Date(now.getTime() - parseDuration(text));
  } catch (error) {
    throw invalidInput(`since: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Input from a caller other than the routes (which validate first): bad input is INVALID_INPUT naming the field. */
function parsed<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw);
  if (!result.success) throw invalidInput(describeIssues(result.error));
  return result.data;
}

const MAX_REPORT_MS = 3660 * 86_400_000;

/**
 * Incidents: operators open, update, resolve, reopen and edit them, tick the checklist and write
 * the postmortem; anyone logged in reads them (they are the affected users). Every change is
 * written with its timeline entry and its audit entry in one transaction; refusals are audited.
 * The recovery and alert hooks come in through `openFromSource` and `noteFromSource`.
 */
export class IncidentService {
  constructor(private readonly o: IncidentServiceOptions) {}

  private now(): Date {
    return this.o.clock.now();
  }

  private async requireOperator(actor: Actor, action: string, target: string, what: string): Promise<void> {
    if (actor.isOperator) return;
    throw await auditedRefusal(this.o.db, { actor, action, targetType: 'incident', target }, `only an operator may ${what}`, this.now());
  }

  /** The work, its timeline entry and its audit entry in one transaction. */
  private async change<T>(record: Omit<AuditRecord, 'outcome' | 'target'>, work: (tx: Tx, now: Date) => Promise<{ id: number; result: T; action?: string }>): Promise<T> {
    const run = async (tx: Tx) => {
      const now = this.now();
      const { id, result, action } = await work(tx, now);
      await writeAudit(tx, { ...record, action: action ?? record.action, target: String(id), outcome: 'ok' }, now);
      return result;
    };
    return this.o.db.isTransaction ? run(this.o.db) : this.o.db.transaction().execute(run);
  }

  private async row(db: Tx, id: number): Promise<store.IncidentRow> {
    const row = await store.findIncident(db, id);
    if (!row) throw notFound('incident', id);
    return row;
  }

  private async full(db: Tx, id: number): Promise<Incident> {
    const row = await this.row(db, id);
    return store.toIncident(row, await store.timelineOf(db, id));
  }

  // ---------------------------------------------------------------- reading (anyone logged in)

  async list(_actor: Actor, query: { open?: boolean; since?: string } = {}): Promise<IncidentSummary[]> {
    const filter: store.ListFilter = {};
    if (query.open) filter.open = true;
    if (query.since !== undefined) filter.activeSince = sinceOf(query.since, this.now());
    return (await store.listIncidents(this.o.db, filter)).map(store.toSummary);
  }

  async get(_actor: Actor, id: number): Promise<Incident> {
    return this.full(this.o.db, id);
  }

  /** The outage report for [from, to): see report.ts. */
  async report(_actor: Actor, fromText: string, toText: string, timeZoneText?: string): Promise<OutageReport> {
    const timeZone = reportTimeZone(timeZoneText ?? this.o.timeZone ?? 'UTC');
    const from = reportBound('from', fromText, timeZone);
    const to = reportBound('to', toText, timeZone);
    const now = this.now();
    if (to <= from) throw invalidInput(`to (${to.toISOString()}) must be after from (${from.toISOString()}): the report covers from ≤ t < to`);
    if (to.getTime() - from.getTime() > MAX_REPORT_MS) throw invalidInput('the report window is longer than 10 years: give a shorter --from/--to');
    if (from >= now) throw invalidInput(`from (${from.toISOString()}) is in the future: nothing to report yet`);
    const rows = await store.listIncidents(this.o.db, { activeSince: from, startedBefore: to });
    return outageReport({
      from,
      to,
      now,
      services: this.o.services,
      timeZone,
      incidents: rows.map((row) => {
        const s = store.toSummary(row);
        return { id: s.id, title: s.title, severity: s.severity, status: s.status, cause: s.cause, services: s.services, startedAt: new Date(s.startedAt), endedAt: s.endedAt === null ? null : new Date(s.endedAt) };
      }),
    });
  }

  // ---------------------------------------------------------------- changes (operators)

  async open(actor: Actor, raw: OpenInput): Promise<Incident> {
    const input = parsed(openInput, raw);
    await this.requireOperator(actor, 'incident.open', input.title.slice(0, 100), 'open an incident');
    const now = this.now();
    const startedAt = input.startedAt !== undefined ? time('startedAt', input.startedAt) : now;
    const detectedAt = input.detectedAt !== undefined ? time('detectedAt', input.detectedAt) : input.startedAt !== undefined ? startedAt : now;
    const problem = timesProblem({ startedAt, detectedAt, endedAt: null }, now);
    if (problem) throw invalidInput(problem);
    const services = mergeServices([], input.services);
    return this.change({ actor, action: 'incident.open', targetType: 'incident', detail: { title: input.title, severity: input.severity, services, cause: input.cause } }, async (tx, at) => {
      const id = await store.insertIncident(tx, { title: input.title.trim(), severity: input.severity, status: 'investigating', cause: input.cause, services, startedAt, detectedAt, source: 'manual', sourceKey: null, openedBy: actor.name }, at);
      await store.addUpdate(tx, id, { at, by: actor.name, kind: 'opened', status: 'investigating', text: input.message?.trim() || `opened: ${input.title.trim()}` });
      return { id, result: await this.full(tx, id) };
    });
  }

  /**
   * Status, message, title, severity, services (the ones named), cause and times. resolved →
   * investigating reopens (audited as incident.reopen); → resolved is a resolve (endedAt or now).
   */
  async update(actor: Actor, id: number, raw: UpdateInput): Promise<Incident> {
    const input = parsed(updateInput, raw);
    await this.requireOperator(actor, 'incident.update', String(id), 'update an incident');
    const fields = Object.entries(input).filter(([, v]) => v !== undefined);
    if (fields.length === 0) throw invalidInput('nothing to change: give a status, message, title, severity, services, cause, startedAt, detectedAt or endedAt');
    let action = 'incident.update';
    return this.change({ actor, action: 'incident.update', targetType: 'incident', detail: { ...input } }, async (tx, now) => {
      const row = await this.row(tx, id);
      const current = store.toSummary(row);
      const changes: store.IncidentChanges = {};
      const said: string[] = [];
      let kind: UpdateKind = 'update';
      let status: Status | null = null;

      if (input.status !== undefined && input.status !== current.status) {
        const decision = transitionAllowed(current.status, input.status);
        if (!decision.ok) throw conflict(`incident ${id}: ${decision.reason}`);
        changes.status = input.status;
        status = input.status;
        if (decision.reopen) {
          kind = 'reopened';
          action = 'incident.reopen';
          changes.endedAt = null;
          if (row.source_key !== null && !(await store.findOpenBySourceKey(tx, row.source_key))) changes.openKey = row.source_key;
          said.push(`reopened (it had ended ${current.endedAt})`);
        } else if (input.status === 'resolved') {
          kind = 'resolved';
          action = 'incident.resolve';
          changes.endedAt = input.endedAt !== undefined ? time('endedAt', input.endedAt) : now;
          changes.openKey = null;
          said.push('resolved');
        } else {
          kind = 'status';
          said.push(`status ${current.status} → ${input.status}`);
        }
      }
      if (input.title !== undefined && input.title.trim() !== current.title) {
        changes.title = input.title.trim();
        said.push(`title was "${current.title}"`);
      }
      if (input.severity !== undefined && input.severity !== current.severity) {
        changes.severity = input.severity;
        said.push(`severity ${current.severity} → ${input.severity}`);
      }
      if (input.cause !== undefined && input.cause !== current.cause) {
        changes.cause = input.cause;
        said.push(`cause ${current.cause} → ${input.cause}`);
      }
      if (input.services !== undefined) {
        const merged = mergeServices(current.services, input.services);
        const moved = merged.filter((s) => current.services.find((c) => c.service === s.service)?.impact !== s.impact);
        if (moved.length > 0) {
          changes.services = merged;
          said.push(`services: ${moved.map((s) => `${s.service} ${current.services.find((c) => c.service === s.service)?.impact ?? 'not affected'} → ${s.impact}`).join(', ')}`);
        }
      }
      const startedAt = input.startedAt !== undefined ? time('startedAt', input.startedAt) : new Date(current.startedAt);
      const detectedAt = input.detectedAt !== undefined ? time('detectedAt', input.detectedAt) : new Date(current.detectedAt);
      const finalStatus = changes.status ?? current.status;
      let endedAt: Date | null = changes.endedAt !== undefined ? changes.endedAt : current.endedAt === null ? null : new Date(current.endedAt);
      if (input.endedAt !== undefined && changes.endedAt === undefined) {
        if (finalStatus !== 'resolved') throw invalidInput(`endedAt: incident ${id} is ${finalStatus}; an end time is set when it is resolved (keisan incident resolve ${id} --at TIME)`);
        endedAt = time('endedAt', input.endedAt);
      }
      const problem = timesProblem({ startedAt, detectedAt, endedAt }, now);
      if (problem) throw invalidInput(problem);
      if (startedAt.toISOString() !== current.startedAt) {
        changes.startedAt = startedAt;
        said.push(`started ${current.startedAt} → ${startedAt.toISOString()}`);
      }
      if (detectedAt.toISOString() !== current.detectedAt) {
        changes.detectedAt = detectedAt;
        said.push(`detected ${current.detectedAt} → ${detectedAt.toISOString()}`);
      }
      if (finalStatus === 'resolved' && (endedAt?.toISOString() ?? null) !== current.endedAt) {
        changes.endedAt = endedAt;
        if (kind !== 'resolved') said.push(`ended ${current.endedAt ?? '-'} → ${endedAt?.toISOString() ?? '-'}`);
      }
      const message = input.message?.trim() ?? '';
      if (said.length === 0 && message === '') throw conflict(`incident ${id}: nothing changed (the values given are the current ones)`);
      if (kind === 'update' && said.length > 0) kind = 'edited';
      await store.updateIncident(tx, id, changes, now);
      await store.addUpdate(tx, id, { at: now, by: actor.name, kind, status, text: [message, said.length > 0 ? `(${said.join('; ')})` : ''].filter(Boolean).join(' ') });
      return { id, result: await this.full(tx, id), action };
    });
  }

  async resolve(actor: Actor, id: number, input: ResolveInput = {}): Promise<Incident> {
    await this.requireOperator(actor, 'incident.resolve', String(id), 'resolve an incident');
    const current = store.toSummary(await this.row(this.o.db, id));
    if (current.status === 'resolved') throw conflict(`incident ${id} was already resolved at ${current.endedAt}; to change the end time: keisan incident update ${id} --ended TIME`);
    return this.update(actor, id, { status: 'resolved', ...(input.at !== undefined ? { endedAt: input.at } : {}), ...(input.message !== undefined ? { message: input.message } : {}) });
  }

  /** Ticks (or unticks) a checklist item: 1–7 or its key. */
  async check(actor: Actor, id: number, item: string, done: boolean): Promise<Incident> {
    await this.requireOperator(actor, 'incident.check', String(id), 'tick the checklist of an incident');
    const index = checklistIndex(item);
    if (index === null) throw invalidInput(`checklist item '${item}' does not exist: give 1 to 7 or one of ${CHECKLIST.map((c) => c.key).join(', ')}`);
    const entry = CHECKLIST[index]!;
    return this.change({ actor, action: 'incident.check', targetType: 'incident', detail: { item: index + 1, key: entry.key, done } }, async (tx, now) => {
      const row = await this.row(tx, id);
      const checklist = store.checklistOf(row);
      if (checklist[index]!.done === done) throw conflict(`incident ${id}: item ${index + 1} (${entry.text}) is already ${done ? 'ticked' : 'unticked'}${checklist[index]!.by ? ` (by ${checklist[index]!.by} at ${checklist[index]!.at})` : ''}`);
      checklist[index] = { done, by: actor.name, at: now.toISOString() };
      await store.updateIncident(tx, id, { checklist }, now);
      await store.addUpdate(tx, id, { at: now, by: actor.name, kind: 'checklist', status: null, text: `${done ? 'done' : 'not done'}: ${index + 1}. ${entry.text}` });
      return { id, result: await this.full(tx, id) };
    });
  }

  async setPostmortem(actor: Actor, id: number, raw: PostmortemInput): Promise<Incident> {
    const input = parsed(postmortemInput, raw);
    await this.requireOperator(actor, 'incident.postmortem', String(id), 'write the postmortem of an incident');
    for (const [i, a] of input.actions.entries()) {
      const due = new Date(`${a.due}T00:00:00Z`);
      if (Number.isNaN(due.getTime()) || due.toISOString().slice(0, 10) !== a.due) throw invalidInput(`actions[${i}].due: '${a.due}' is not a date: write YYYY-MM-DD`);
    }
    return this.change({ actor, action: 'incident.postmortem', targetType: 'incident', detail: { actions: input.actions.length } }, async (tx, now) => {
      const row = await this.row(tx, id);
      await store.updateIncident(tx, id, { postmortem: { ...input, updatedBy: actor.name, updatedAt: now.toISOString() } }, now);
      await store.addUpdate(tx, id, { at: now, by: actor.name, kind: 'postmortem', status: null, text: `postmortem ${row.postmortem === null ? 'written' : 'updated'} (${input.actions.length} action${input.actions.length === 1 ? '' : 's'}, ${input.actions.filter((a) => !a.done).length} open)` });
      return { id, result: await this.full(tx, id) };
    });
  }

  // ---------------------------------------------------------------- hooks

  /**
   * Opens an incident for a hook's report, or — when one with the same key is still open — adds
   * the report to its timeline instead (no duplicates; a race between two reports of the same key
   * is settled by the unique open key). Audited as the hook (keisan:recovery, keisan:alerts).
   */
  async openFromSource(report: SourceReport): Promise<{ incident: Incident; opened: boolean }> {
    const actor = hookActor(report.source);
    const attempt = () =>
      this.o.db.transaction().execute(async (tx) => {
        const now = this.now();
        const open = await store.findOpenBySourceKey(tx, report.key);
        if (open) {
          const id = Number(open.id);
          await store.updateIncident(tx, id, {}, now);
          await store.addUpdate(tx, id, { at: report.at, by: actor.name, kind: 'source', status: null, text: report.message });
          await writeAudit(tx, { actor, action: 'incident.note', targetType: 'incident', target: String(id), outcome: 'ok', detail: { key: report.key } }, now);
          return { incident: await this.full(tx, id), opened: false };
        }
        const startedAt = report.at.getTime() > now.getTime() ? now : report.at;
        const services = mergeServices([], report.services);
        const id = await store.insertIncident(tx, { title: report.title.slice(0, 200), severity: report.severity, status: 'investigating', cause: 'unknown', services, startedAt, detectedAt: startedAt, source: report.source, sourceKey: report.key, openedBy: actor.name }, now);
        await store.addUpdate(tx, id, { at: startedAt, by: actor.name, kind: 'opened', status: 'investigating', text: report.message });
        await writeAudit(tx, { actor, action: 'incident.open', targetType: 'incident', target: String(id), outcome: 'ok', detail: { key: report.key, severity: report.severity, services } }, now);
        return { incident: await this.full(tx, id), opened: true };
      });
    try {
      return await attempt();
    } catch (error) {
      // Another report of the same key opened it a moment ago: add to that one.
      if (isUniqueViolation(error)) return attempt();
      throw error;
    }
  }

  /** Adds a hook's note (e.g. "alert resolved") to the latest incident of that key; null when there is none. Never changes its status. */
  async noteFromSource(source: SourceReport['source'], key: string, message: string, at: Date | null): Promise<Incident | null> {
    const actor = hookActor(source);
    return this.o.db.transaction().execute(async (tx) => {
      const row = (await store.findOpenBySourceKey(tx, key)) ?? (await store.findLatestBySourceKey(tx, key));
      if (!row) return null;
      const id = Number(row.id);
      const now = this.now();
      await store.updateIncident(tx, id, {}, now);
      await store.addUpdate(tx, id, { at: at ?? now, by: actor.name, kind: 'source', status: null, text: message });
      await writeAudit(tx, { actor, action: 'incident.note', targetType: 'incident', target: String(id), outcome: 'ok', detail: { key } }, now);
      return this.full(tx, id);
    });
  }
}
