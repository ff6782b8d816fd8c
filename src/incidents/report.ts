import { dateIn, formatWallTime } from '../lib/time-zone.ts';
import { CAUSES, UNAVAILABLE_IMPACTS, type Cause, type ServiceImpact, type Severity, type Status } from './model.ts';

/**
 * The outage report's arithmetic: pure, the clock passed in. Every period is a half-open
 * interval [start, end) in milliseconds; times are shown on the clock of the report's time zone,
 * UTC unless one is asked for (render.ts), and a row 'spans dates' by that zone's midnights.
 *
 * - Rows: the incidents whose period meets the report's window [from, to), numbered by start.
 *   Each is clipped to the window at both ends (the clipping is kept, to be shown). A still-open
 *   incident ends at the window's end or now, whichever is earlier, and is marked ongoing.
 * - Service-impact time: the UNION of the periods of the incidents that affected at least one
 *   service (impact other than `none`), so overlapping incidents are counted once; the same per
 *   service.
 * - Availability of a service: 1 − (union of its periods with an impact that counts as
 *   unavailability: all-unavailable, partial-outage) / the period's length, where the period is
 *   the window up to now when the window reaches into the future.
 * - Causes: per cause category, the number of incidents and the union of their periods.
 */

export interface ReportIncident {
  id: number;
  title: string;
  severity: Severity;
  status: Status;
  cause: Cause;
  services: readonly ServiceImpact[];
  startedAt: Date;
  endedAt: Date | null;
}

export interface ReportInput {
  incidents: readonly ReportIncident[];
  from: Date;
  to: Date;
  now: Date;
  /** Services to report availability for even when no incident touched them (keisan.yaml incidents.services). */
  services?: readonly string[];
  /** The IANA zone whose clock and midnights the report shows (default UTC). */
  timeZone?: string;
}

export interface ReportRow {
  number: number;
  id: number;
  title: string;
  severity: Severity;
  status: Status;
  cause: Cause;
  services: ServiceImpact[];
  /** The period within the window. */
  start: Date;
  end: Date;
  /** The incident's own period (end null while open). */
  startedAt: Date;
  endedAt: Date | null;
  /** It began before the window: the row starts at the window's start. */
  clippedStart: boolean;
  /** It ended (or is still open) after the window: the row ends at the window's end. */
  clippedEnd: boolean;
  /** Not resolved yet: the row ends at the window's end or now. */
  ongoing: boolean;
  /** The row's start and end fall on different days (in the report's time zone). */
  spansDates: boolean;
  durationMs: number;
  /** At least one service was affected (impact other than none): the row counts in the totals. */
  counts: boolean;
}

export interface ServiceLine {
  service: string;
  incidents: number;
  /** Union of the periods with any impact on it. */
  impactMs: number;
  /** Union of the periods with an impact that counts as unavailability. */
  unavailableMs: number;
  /** 1 − unavailableMs / periodMs. */
  availability: number;
}

export interface CauseLine {
  cause: Cause;
  incidents: number;
  /** Union of the periods of its incidents. */
  timeMs: number;
}

export interface OutageReport {
  from: Date;
  to: Date;
  /** Where the period ends for availability: the window's end, or now when that is earlier. */
  periodEnd: Date;
  periodMs: number;
  generatedAt: Date;
  /** The IANA zone of the times shown (the numbers are instants, the same in every zone). */
  timeZone: string;
  rows: ReportRow[];
  totals: {
    /** Rows that count (affected a service). */
    incidents: number;
    /** Their durations added up, overlaps counted twice. */
    sumOfRowsMs: number;
    /** The union: the total service-impact time. */
    impactMs: number;
    /** sumOfRowsMs − impactMs: time counted twice in the sum. */
    overlapMs: number;
  };
  services: ServiceLine[];
  causes: CauseLine[];
}

export type Interval = readonly [number, number];

/** Merges intervals into disjoint sorted ones (touching ones join). */
export function unionOf(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged;
}

export function lengthOf(intervals: readonly Interval[]): number {
  return unionOf(intervals).reduce((sum, [s, e]) => sum + (e - s), 0);
}

const dayOf = (ms: number, timeZone: string): number | string => (timeZone === 'UTC' ? Math.floor(ms / 86_400_000) : dateIn(ms, timeZone));

/** An incident's period as the report counts it: its own times in ms, an open one ending at min(to, now). */
export interface IncidentPeriod<T> {
  incident: T;
  startedAt: number;
  endedAt: number;
  ongoing: boolean;
}

/**
 * The incidents whose period meets [from, to) (overlaps it, or an instant inside it), sorted by
 * start: a still-open incident ends at the window's end or now, whichever is earlier. Not clipped
 * to the window (callers clip). The status page's uptime uses it too (src/incidents/status/uptime.ts).
 */
export function incidentPeriods<T extends { id: number; startedAt: Date; endedAt: Date | null }>(incidents: readonly T[], window: { from: Date; to: Date; now: Date }): IncidentPeriod<T>[] {
  const from = window.from.getTime();
  const to = window.to.getTime();
  const now = window.now.getTime();
  return incidents
    .map((incident) => {
      const startedAt = incident.startedAt.getTime();
      const ongoing = incident.endedAt === null;
      const endedAt = ongoing ? Math.max(startedAt, Math.min(to, now)) : incident.endedAt!.getTime();
      return { incident, startedAt, endedAt, ongoing };
    })
    .filter(({ startedAt, endedAt }) => (endedAt > startedAt ? startedAt < to && endedAt > from : startedAt >= from && startedAt < to))
    .sort((a, b) => a.startedAt - b.startedAt || a.incident.id - b.incident.id);
}

export function outageReport(input: ReportInput): OutageReport {
  const from = input.from.getTime();
  const to = input.to.getTime();
  const now = input.now.getTime();
  if (!(to > from)) throw new Error('the report window must end after it starts');
  const periodEnd = Math.max(from, Math.min(to, now));
  const timeZone = input.timeZone ?? 'UTC';

  const candidates = incidentPeriods(input.incidents, input);

  const rows: ReportRow[] = candidates.map(({ incident, startedAt, endedAt, ongoing }, i) => {
    const start = Math.max(startedAt, from);
    const end = Math.min(endedAt, to);
    return {
      number: i + 1,
      id: incident.id,
      title: incident.title,
      severity: incident.severity,
      status: incident.status,
      cause: incident.cause,
      services: incident.services.map((s) => ({ ...s })),
      start: new Date(start),
      end: new Date(end),
      startedAt: incident.startedAt,
      endedAt: incident.endedAt,
      clippedStart: startedAt < from,
      clippedEnd: ongoing ? (to <= now) : endedAt > to,
      ongoing,
      spansDates: end > start && dayOf(start, timeZone) !== dayOf(end - 1, timeZone),
      durationMs: end - start,
      counts: incident.services.some((s) => s.impact !== 'none'),
    };
  });

  const counted = rows.filter((r) => r.counts);
  const period = (r: ReportRow): Interval => [r.start.getTime(), r.end.getTime()];
  const sumOfRowsMs = counted.reduce((sum, r) => sum + r.durationMs, 0);
  const impactMs = lengthOf(counted.map(period));

  const names = [...new Set([...(input.services ?? []), ...rows.flatMap((r) => r.services.map((s) => s.service))])].sort();
  const periodMs = periodEnd - from;
  const services: ServiceLine[] = names.map((service) => {
    const touching = rows.filter((r) => r.services.some((s) => s.service === service && s.impact !== 'none'));
    const unavailable = touching.filter((r) => r.services.some((s) => s.service === service && UNAVAILABLE_IMPACTS.has(s.impact)));
    // Availability is over the elapsed period: clip to it (a row never reaches past now anyway).
    const elapsed = (r: ReportRow): Interval => [r.start.getTime(), Math.min(r.end.getTime(), periodEnd)];
    const unavailableMs = lengthOf(unavailable.map(elapsed));
    return {
      service,
      incidents: touching.length,
      impactMs: lengthOf(touching.map(period)),
      unavailableMs,
      availability: periodMs > 0 ? 1 - unavailableMs / periodMs : 1,
    };
  });

  const causes: CauseLine[] = CAUSES.map((cause) => {
    const of = rows.filter((r) => r.cause === cause);
    return { cause, incidents: of.length, timeMs: lengthOf(of.map(period)) };
  }).filter((c) => c.incidents > 0);

  return {
    from: input.from,
    to: input.to,
    periodEnd: new Date(periodEnd),
    periodMs,
    generatedAt: input.now,
    timeZone,
    rows,
    totals: { incidents: counted.length, sumOfRowsMs, impactMs, overlapMs: sumOfRowsMs - impactMs },
    services,
    causes,
  };
}

/** "3 h 25 min", "2 d 4 h", "45 min", "< 1 min", "0 min": rounded to the minute. */
export function formatSpan(ms: number): string {
  if (ms <= 0) return '0 min';
  if (ms < 60_000) return '< 1 min';
  let minutes = Math.round(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  minutes -= days * 1440;
  const hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  const parts: string[] = [];
  if (days) parts.push(`${days} d`);
  if (hours) parts.push(`${hours} h`);
  if (minutes) parts.push(`${minutes} min`);
  return parts.join(' ');
}

/** 0.99652… → "99.653 %". */
export function formatAvailability(fraction: number): string {
  return `${(Math.round(fraction * 100_000) / 1000).toFixed(3)} %`;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** "2026-11-03 22:40" in UTC. */
export function formatUtc(date: Date): string {
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}`;
}

/** "2026-11-03 22:40" on the clock of the zone (UTC by default). */
export function formatTime(date: Date, timeZone = 'UTC'): string {
  return timeZone === 'UTC' ? formatUtc(date) : formatWallTime(date, timeZone);
}

/** A row's period as printed: "2026-11-03 22:40 – 2026-11-04 01:10", "2026-11-10 09:00 – 12:00". */
export function periodText(row: Pick<ReportRow, 'start' | 'end'>, timeZone = 'UTC'): string {
  const start = formatTime(row.start, timeZone);
  const end = formatTime(row.end, timeZone);
  return start.slice(0, 10) === end.slice(0, 10) ? `${start} – ${end.slice(11)}` : `${start} – ${end}`;
}

/** What the clipping and openness of a row were: "began 2026-10-31 22:00; ongoing". */
export function clippingText(row: ReportRow, timeZone = 'UTC'): string {
  const notes: string[] = [];
  if (row.clippedStart) notes.push(`began ${formatTime(row.startedAt, timeZone)}, before the report`);
  if (row.ongoing) notes.push(row.clippedEnd ? 'ongoing, continues after the report' : 'ongoing');
  else if (row.clippedEnd && row.endedAt) notes.push(`ended ${formatTime(row.endedAt, timeZone)}, after the report`);
  return notes.join('; ');
}

/** "batch: all-unavailable, login: degraded" or "no service impact". */
export function impactText(services: readonly ServiceImpact[]): string {
  const affected = services.filter((s) => s.impact !== 'none');
  return affected.length === 0 ? 'no service impact' : affected.map((s) => `${s.service}: ${s.impact}`).join(', ');
}
