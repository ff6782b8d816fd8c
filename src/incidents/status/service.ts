import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Actor } from '../../accounts/model.ts';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { forbidden, KeisanError } from '../../lib/errors.ts';
import type { HostHealth } from '../../ops/inventory/model.ts';
import type { GroupDef } from '../../ops/inventory/redundancy.ts';
import type { IncidentSummary, ServiceImpact, Source, Status } from '../model.ts';
import { sinceOf } from '../service.ts';
import * as incidentStore from '../store.ts';
import {
  STATE_LABELS,
  UPTIME_RULE,
  type ComponentDef,
  type ComponentStatus,
  type Explanation,
  type History,
  type MaintenanceSource,
  type MaintenanceWindowView,
  type PublicIncident,
  type PublicMaintenance,
  type PublicUpdate,
  type StatusPage,
} from './model.ts';
import { componentsOf, type StatusSettings } from './settings.ts';
import { decideComponentState, IMPACT_STATE, keepRecorded, maintenanceTouches, overallOf, transitionsToRecord, worstOf, type AlertInput, type CheckInput, type ComponentDecision, type OpenIncidentInput, type RecordedState } from './state.ts';
import * as store from './store.ts';
import { DAY_MS, periodsFromTransitions, uptimeOf, type UptimeIncident } from './uptime.ts';
import type { Interval } from '../report.ts';

/** What the status page reads of the other rooms (wired in buildApp; tests pass their own). */
export interface StatusSignals {
  /** The inventory's hosts (with their health and the services they provide) and redundancy groups. */
  inventory(): Promise<{ hosts: { name: string; health: HostHealth; services: string[] }[]; groups: (GroupDef & { service: string | null })[] }>;
  /** Firing alerts. */
  firingAlerts(): Promise<AlertInput[]>;
  /** The latest check results of every host the monitor knows. */
  checks(): CheckInput[];
}

/** No inventory, no alerts, no checks: only incidents and maintenance drive the page. */
export const noSignals: StatusSignals = { inventory: async () => ({ hosts: [], groups: [] }), firingAlerts: async () => [], checks: () => [] };

export interface StatusServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  settings: StatusSettings;
  facility: string;
  signals: StatusSignals;
  /** The maintenance room's published schedule; default none. */
  maintenance?: MaintenanceSource;
  logger?: FastifyBaseLogger;
}

/** The page and what the feeds add: every public incident of the 90 days, newest first. */
export interface StatusView {
  page: StatusPage;
  feedIncidents: PublicIncident[];
}

export const UPTIME_DAYS = 90;
const FEED_LIMIT = 50;
const RETAIN_MS = (UPTIME_DAYS + 10) * DAY_MS;
const HOOK_AUTHORS: Record<string, string> = {
  'keisan:alerts': "Detected automatically by Keisan's monitoring.",
  'keisan:recovery': "Detected automatically by Keisan's recovery watchdog.",
  'keisan:power': "Detected automatically by Keisan's UPS monitoring.",
};
/** What Keisan itself wrote (the hooks' actors are keisan:NAME). */
const hookText = (author: string): string | undefined => HOOK_AUTHORS[author] ?? (author.startsWith('keisan:') ? 'Detected automatically by Keisan.' : undefined);
/** Timeline kinds users read; edits, checklist ticks, postmortem notes and hook reports stay private. */
const PUBLIC_KINDS = new Set(['opened', 'update', 'status', 'resolved', 'reopened']);

interface Evaluation {
  now: Date;
  /** Sources that could not be read this time: the last recorded check states stood in, nothing was recorded. */
  unavailable: string[];
  components: ComponentDef[];
  hostsOf: Map<string, string[]>;
  decisions: Map<string, ComponentDecision>;
  active: MaintenanceWindowView[];
}

/**
 * The public status page: evaluates each component's state (pure decideComponentState over the
 * open incidents, the inventory's health and groups, firing alerts, checks and maintenance in
 * progress), records the changes (status_transitions) on each request and every
 * status.evaluateEvery, and builds the page with 90-day uptime. Evaluations run one at a time.
 */
export class StatusService {
  private readonly components: ComponentDef[];
  private last: Map<string, RecordedState> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private lastPrune = 0;

  constructor(private readonly o: StatusServiceOptions) {
    this.components = componentsOf(o.settings);
  }

  /** The maintenance room's schedule, when it is built after this service (buildApp). */
  useMaintenance(source: MaintenanceSource): void {
    this.o.maintenance = source;
  }

  get title(): string {
    return this.o.settings.title ?? `${this.o.facility} status`;
  }

  /** Evaluate every status.evaluateEvery (and prune old records daily) until stop(). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.evaluate().catch((error: unknown) => this.o.logger?.warn({ err: error }, 'status: evaluation failed'));
    }, this.o.settings.evaluateEvery);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.queue.catch(() => undefined);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async safely<T>(what: string, read: () => Promise<T> | T, fallback: T, failed?: string[]): Promise<T> {
    try {
      return await read();
    } catch (error) {
      this.o.logger?.warn({ err: error }, `status: could not read ${what}; the page goes on without it`);
      failed?.push(what);
      return fallback;
    }
  }

  private allowed(source: Source): boolean {
    return this.o.settings.incidentSources.includes(source);
  }

  /** Computes every component's state now and records the changes. */
  evaluate(): Promise<Evaluation> {
    return this.serial(async () => {
      const now = this.o.clock.now();
      const unavailable: string[] = [];
      const [inventory, alerts, checks, active, open] = await Promise.all([
        this.safely('the inventory', () => this.o.signals.inventory(), { hosts: [], groups: [] }, unavailable),
        this.safely('the firing alerts', () => this.o.signals.firingAlerts(), [], unavailable),
        this.safely('the checks', () => this.o.signals.checks(), [], unavailable),
        this.safely('the maintenance in progress', () => this.o.maintenance?.active(now) ?? [], [], unavailable),
        incidentStore.listIncidents(this.o.db, { open: true }),
      ]);
      const incidents: OpenIncidentInput[] = open
        .map(incidentStore.toSummary)
        .filter((i) => this.allowed(i.source))
        .map((i) => ({ id: i.id, title: i.title, startedAt: new Date(i.startedAt), services: i.services }));
      const recorded = unavailable.length > 0 ? await this.lastRecorded() : new Map<string, RecordedState>();
      const health = new Map(inventory.hosts.map((h) => [h.name, h.health]));
      const hostsOf = new Map<string, string[]>();
      const decisions = new Map<string, ComponentDecision>();
      for (const component of this.components) {
        const groups = inventory.groups.filter((g) => g.service !== null && component.services.includes(g.service));
        const hosts = [...new Set([...component.hosts, ...inventory.hosts.filter((h) => h.services.some((s) => component.services.includes(s))).map((h) => h.name), ...groups.flatMap((g) => g.members)])].sort();
        hostsOf.set(component.name, hosts);
        const decided = decideComponentState({ component, incidents, hosts, groups, health, alerts, checks, maintenance: active }, now);
        decisions.set(component.name, keepRecorded(decided, recorded.get(component.name)?.checksState, unavailable));
      }
      // A state computed without one of its sources is shown but not recorded: the history keeps what was known.
      if (unavailable.length === 0) await this.record(decisions, now);
      return { now, components: this.components, hostsOf, decisions, active, unavailable };
    });
  }

  /** Writes the changes; a failure is logged (the page is still answered) and retried at the next evaluation. */
  private async lastRecorded(): Promise<Map<string, RecordedState>> {
    this.last ??= new Map([...(await store.latestPerComponent(this.o.db))].map(([name, t]) => [name, { state: t.state, checksState: t.checksState }]));
    return this.last;
  }

  private async record(decisions: ReadonlyMap<string, ComponentDecision>, now: Date): Promise<void> {
    try {
      const last = await this.lastRecorded();
      const rows = transitionsToRecord(last, this.components.map((c) => ({ component: c.name, decision: decisions.get(c.name)! })), now);
      if (rows.length > 0) {
        await store.insertTransitions(this.o.db, rows);
        for (const row of rows) last.set(row.component, { state: row.state, checksState: row.checksState });
      }
      if (now.getTime() - this.lastPrune > DAY_MS) {
        this.lastPrune = now.getTime();
        await store.pruneBefore(this.o.db, new Date(now.getTime() - RETAIN_MS));
      }
    } catch (error) {
      this.o.logger?.warn({ err: error }, 'status: could not record the state changes; trying again at the next evaluation');
    }
  }

  /** Operators: why each component is in its state (names hosts and alerts; not public). */
  async explain(actor: Actor): Promise<Explanation> {
    if (!actor.isOperator) throw forbidden('only an operator may see why the components are in their states (everyone may read /status)');
    const e = await this.evaluate();
    return {
      generatedAt: e.now.toISOString(),
      unavailable: e.unavailable,
      components: e.components.map((c) => {
        const d = e.decisions.get(c.name)!;
        return { name: c.name, state: d.state, checksState: d.checksState, services: c.services, hosts: e.hostsOf.get(c.name) ?? [], signals: d.signals.map((s) => ({ source: s.source, state: s.state, reason: s.reason })), maintenance: d.maintenance };
      }),
    };
  }

  /** The incidents users may see (of the sources shown, touching a component), with their public updates. */
  private async publicIncidents(summaries: readonly IncidentSummary[]): Promise<PublicIncident[]> {
    const touches = (services: readonly ServiceImpact[], c: ComponentDef) => services.filter((s) => c.services.includes(s.service) && s.impact !== 'none');
    const shown = summaries.filter((i) => this.allowed(i.source) && this.components.some((c) => touches(i.services, c).length > 0));
    const updates = await store.updatesOf(this.o.db, shown.map((i) => i.id));
    return shown.map((i) => {
      const components = this.components
        .map((c) => ({ c, impacts: touches(i.services, c) }))
        .filter(({ impacts }) => impacts.length > 0)
        .map(({ c, impacts }) => ({ name: c.name, displayName: c.displayName, state: worstOf(impacts.map((s) => IMPACT_STATE[s.impact])) }));
      const timeline = publicUpdates(updates.get(i.id) ?? []);
      return {
        id: i.id,
        title: i.title,
        status: i.status,
        impact: worstOf(components.map((c) => c.state)),
        components,
        startedAt: i.startedAt,
        endedAt: i.endedAt,
        updatedAt: timeline[0]?.at ?? i.startedAt,
        updates: timeline,
      };
    });
  }

  /** One incident as the public sees it (the feeds link here); an incident not shown publicly is not found, as if it did not exist. */
  async incident(id: number): Promise<PublicIncident> {
    const row = await incidentStore.findIncident(this.o.db, id);
    const [found] = row ? await this.publicIncidents([incidentStore.toSummary(row)]) : [];
    if (!found) throw new KeisanError('NOT_FOUND', `incident ${id} is not on the status page`);
    return found;
  }

  /** Operators: the recorded state changes since `since` (7d by default), newest first, at most 1000. */
  async history(actor: Actor, query: { since?: string; component?: string } = {}): Promise<History> {
    if (!actor.isOperator) throw forbidden('only an operator may read the recorded state changes (everyone may read /status)');
    const now = this.o.clock.now();
    const from = sinceOf(query.since ?? '7d', now);
    if (query.component !== undefined && !this.components.some((c) => c.name === query.component)) {
      throw new KeisanError('NOT_FOUND', `component '${query.component}' is not on the status page: name one of ${this.components.map((c) => c.name).join(', ')}`);
    }
    const rows = (await store.transitionsSince(this.o.db, from)).filter((t) => t.at >= from && (query.component === undefined || t.component === query.component));
    return rows
      .reverse()
      .slice(0, 1000)
      .map((t) => ({ component: t.component, at: t.at.toISOString(), state: t.state, checksState: t.checksState, reason: t.reason }));
  }

  /**
   * The page as everyone reads it (and the feeds' incidents). Requests that arrive while one is
   * being built share it: a crowd reloading the page during an outage costs one build at a time.
   */
  view(): Promise<StatusView> {
    if (this.building) return this.building;
    const built = this.build().finally(() => {
      if (this.building === built) this.building = null;
    });
    this.building = built;
    return built;
  }
  private building: Promise<StatusView> | null = null;

  private async build(): Promise<StatusView> {
    const e = await this.evaluate();
    const { now } = e;
    const windowStart = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS - (UPTIME_DAYS - 1) * DAY_MS);
    const [rows, transitions, firsts, scheduled, ran] = await Promise.all([
      incidentStore.listIncidents(this.o.db, { activeSince: windowStart }),
      store.transitionsSince(this.o.db, windowStart),
      store.firstRecords(this.o.db),
      this.safely('the maintenance schedule', () => this.o.maintenance?.scheduled(now) ?? [], []),
      this.safely('the maintenance history', () => this.o.maintenance?.history(windowStart, now) ?? [], []),
    ]);
    const summaries = rows.map(incidentStore.toSummary).filter((i) => this.allowed(i.source));

    const publicIncidents = await this.publicIncidents(summaries);
    const current = publicIncidents.filter((i) => i.status !== 'resolved').sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id - a.id);
    const recentFrom = now.getTime() - this.o.settings.recentDays * DAY_MS;
    const recent = publicIncidents.filter((i) => i.status === 'resolved' && i.endedAt !== null && new Date(i.endedAt).getTime() >= recentFrom).sort((a, b) => b.endedAt!.localeCompare(a.endedAt!) || b.id - a.id);

    const startOf = new Map(summaries.map((i) => [i.id, new Date(i.startedAt).toISOString()]));
    const uptimeIncidents: UptimeIncident[] = summaries.map((i) => ({ id: i.id, startedAt: new Date(i.startedAt), endedAt: i.endedAt === null ? null : new Date(i.endedAt), services: i.services }));
    const components: ComponentStatus[] = e.components.map((c) => {
      const d = e.decisions.get(c.name)!;
      const own = transitions.filter((t) => t.component === c.name);
      let since: string | null = null;
      for (let k = own.length - 1; k >= 0 && own[k]!.state === d.state; k--) since = own[k]!.at.toISOString();
      // An incident's own start is authoritative (it may be entered after the fact): the state holds since the earliest one driving it.
      for (const signal of d.signals) {
        const startedAt = signal.source === 'incident' && signal.state === d.state ? startOf.get(signal.incidentId!) : undefined;
        if (startedAt !== undefined && (since === null || startedAt < since)) since = startedAt;
      }
      const hosts = e.hostsOf.get(c.name) ?? [];
      const maintained: Interval[] = ran
        .filter((m) => m.startedAt !== null && maintenanceTouches(m, c, hosts))
        .map((m) => [new Date(m.startedAt!).getTime(), m.finishedAt === null ? now.getTime() : new Date(m.finishedAt).getTime()] as const);
      const uptime = uptimeOf({ services: c.services, incidents: uptimeIncidents, checkPeriods: periodsFromTransitions(own, now), maintenance: maintained, dataStart: firsts.get(c.name) ?? null, days: UPTIME_DAYS, now });
      return {
        name: c.name,
        displayName: c.displayName,
        description: c.description,
        state: d.state,
        label: STATE_LABELS[d.state],
        since,
        incidents: d.incidents,
        maintenance: d.maintenance,
        uptime,
      };
    });

    const maintenanceView = (m: MaintenanceWindowView, inProgress: boolean): PublicMaintenance => ({
      id: m.id,
      title: m.title,
      state: m.state,
      inProgress,
      windowStart: m.windowStart,
      windowEnd: m.windowEnd,
      startedAt: m.startedAt,
      finishedAt: m.finishedAt,
      components: e.components.filter((c) => maintenanceTouches(m, c, e.hostsOf.get(c.name) ?? [])).map((c) => ({ name: c.name, displayName: c.displayName })),
    });
    const activeIds = new Set(e.active.map((m) => m.id));
    const page: StatusPage = {
      title: this.title,
      generatedAt: now.toISOString(),
      timeZone: 'UTC',
      overall: overallOf(components),
      components,
      incidents: { current, recent, recentDays: this.o.settings.recentDays },
      maintenance: {
        inProgress: e.active.map((m) => maintenanceView(m, true)).sort((a, b) => a.windowStart.localeCompare(b.windowStart)),
        scheduled: scheduled.filter((m) => !activeIds.has(m.id)).map((m) => maintenanceView(m, false)).sort((a, b) => a.windowStart.localeCompare(b.windowStart)),
      },
      uptimeRule: UPTIME_RULE,
    };
    const feedIncidents = [...publicIncidents].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id - a.id).slice(0, FEED_LIMIT);
    return { page, feedIncidents };
  }
}

/**
 * The timeline entries users may read, newest first, each with the incident's status after it:
 * opened, update, status, resolved and reopened entries; what a hook wrote is replaced by a
 * plain "detected automatically" line (it may name hosts, jobs and their owners).
 */
export function publicUpdates(entries: readonly { at: string; kind: string; status: string | null; text: string; author: string }[]): PublicUpdate[] {
  let status: Status = 'investigating';
  const out: PublicUpdate[] = [];
  for (const entry of entries) {
    if (entry.status !== null) status = entry.status as Status;
    if (!PUBLIC_KINDS.has(entry.kind)) continue;
    const hook = hookText(entry.author);
    if (hook !== undefined && entry.kind !== 'opened') continue;
    out.push({ at: entry.at, status, text: hook ?? publicText(entry.text, entry.kind, status) });
  }
  return out.reverse();
}

/** The clauses IncidentService.update appends in parentheses ("(status investigating → identified; cause unknown → hardware)"). */
const GENERATED_CLAUSE = [/^status [a-z]+ → [a-z]+$/, /^resolved$/, /^reopened \(it had ended [^)]*\)$/, /^title was ".*"$/s, /^severity SEV\d → SEV\d$/, /^cause [a-z-]+ → [a-z-]+$/, /^services: .*$/, /^(started|detected|ended) \S+ → \S+$/];
const STATUS_SENTENCE: Record<Status, string> = {
  investigating: 'We are investigating.',
  identified: 'The cause has been identified.',
  monitoring: 'A fix is in place; we are monitoring.',
  resolved: 'This incident has been resolved.',
};

/**
 * An update as users read it: the operator's message without the bookkeeping the incident
 * service appends (old → new values, which may name internal categories); an update that was
 * only bookkeeping says what the status now is.
 */
export function publicText(text: string, kind: string, status: Status): string {
  const match = /^(.*?)\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)$/s.exec(text);
  if (match && match[2]!.split('; ').every((clause) => GENERATED_CLAUSE.some((re) => re.test(clause)))) {
    const message = match[1]!.trim();
    if (message !== '') return message;
    return kind === 'reopened' ? 'The incident has been reopened; we are investigating.' : STATUS_SENTENCE[status];
  }
  return text;
}

