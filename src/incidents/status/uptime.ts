import type { ServiceImpact } from '../model.ts';
import { incidentPeriods, lengthOf, unionOf, type Interval } from '../report.ts';
import { type ComponentState, type FailureState, type UptimeDay } from './model.ts';
import { IMPACT_STATE, worstOf } from './state.ts';

/**
 * 90-day uptime per component: pure, the clock passed in. Intervals are half-open [start, end)
 * in ms, days are UTC days. See UPTIME_RULE in model.ts for the rule as users read it.
 *
 * - Incidents: each incident's period as the outage report takes it (report.ts
 *   `incidentPeriods`: an open one runs to now) in the state its worst impact on the
 *   component's services gives (IMPACT_STATE).
 * - Checks: the recorded checks-state periods (status_transitions), each running to the next
 *   record of the component, the last one to now.
 * - At each instant the worst state counts: major, then partial (not major), then degraded (not
 *   an outage). Maintenance in progress is taken out of all three and of the time observed.
 * - A day is observed from the component's first record (or the day's start) to the day's end
 *   (or now); a day not observed at all has no data.
 */

export const DAY_MS = 86_400_000;

export interface UptimeIncident {
  id: number;
  startedAt: Date;
  endedAt: Date | null;
  services: readonly ServiceImpact[];
}

export interface StatePeriod {
  state: FailureState;
  start: number;
  end: number;
}

export interface UptimeInputs {
  services: readonly string[];
  incidents: readonly UptimeIncident[];
  checkPeriods: readonly StatePeriod[];
  /** Maintenance in progress on the component: [startedAt, finishedAt or now). */
  maintenance: readonly Interval[];
  /** The component's first record; null: none yet (every day has no data). */
  dataStart: Date | null;
  days: number;
  now: Date;
}

export interface Uptime {
  days: number;
  fraction: number | null;
  downMs: number;
  maintenanceMs: number;
  daily: UptimeDay[];
}

/** Sorted disjoint a ∩ sorted disjoint b. */
export function intersect(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const start = Math.max(a[i]![0], b[j]![0]);
    const end = Math.min(a[i]![1], b[j]![1]);
    if (end > start) out.push([start, end]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

/** Sorted disjoint a minus sorted disjoint b. */
export function subtract(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [s, e] of a) {
    let start = s;
    for (const [bs, be] of b) {
      if (be <= start) continue;
      if (bs >= e) break;
      if (bs > start) out.push([start, bs]);
      start = Math.max(start, be);
      if (start >= e) break;
    }
    if (start < e) out.push([start, e]);
  }
  return out;
}

/** Recorded transitions (oldest first) → periods of their checks-state, the last running to now. */
export function periodsFromTransitions(transitions: readonly { at: Date; checksState: FailureState }[], now: Date): StatePeriod[] {
  const sorted = [...transitions].sort((a, b) => a.at.getTime() - b.at.getTime());
  return sorted
    .map((t, i) => ({ state: t.checksState, start: t.at.getTime(), end: Math.max(t.at.getTime(), i + 1 < sorted.length ? sorted[i + 1]!.at.getTime() : now.getTime()) }))
    .filter((p) => p.end > p.start);
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function uptimeOf(inputs: UptimeInputs): Uptime {
  const nowMs = inputs.now.getTime();
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const from = today - (inputs.days - 1) * DAY_MS;

  const byState: Record<Exclude<FailureState, 'operational'>, Interval[]> = { 'major-outage': [], 'partial-outage': [], degraded: [] };
  const incidents = incidentPeriods(
    inputs.incidents.map((i) => ({ ...i })),
    { from: new Date(from), to: inputs.now, now: inputs.now },
  );
  for (const { incident, startedAt, endedAt } of incidents) {
    const state = worstOf(incident.services.filter((s) => inputs.services.includes(s.service)).map((s) => IMPACT_STATE[s.impact]));
    if (state !== 'operational') byState[state].push([startedAt, Math.min(endedAt, nowMs)]);
  }
  for (const p of inputs.checkPeriods) if (p.state !== 'operational') byState[p.state].push([p.start, Math.min(p.end, nowMs)]);

  const maintenance = unionOf(inputs.maintenance);
  const major = subtract(unionOf(byState['major-outage']), maintenance);
  const partial = subtract(subtract(unionOf(byState['partial-outage']), unionOf(byState['major-outage'])), maintenance);
  const degraded = subtract(subtract(unionOf(byState.degraded), unionOf([...byState['major-outage'], ...byState['partial-outage']])), maintenance);

  const dataStart = inputs.dataStart?.getTime() ?? null;
  const daily: UptimeDay[] = [];
  for (let day = from; day <= today; day += DAY_MS) {
    const start = dataStart === null ? Infinity : Math.max(day, dataStart);
    const end = Math.min(day + DAY_MS, nowMs);
    if (!(end > start)) {
      daily.push({ date: isoDate(day), state: 'no-data', uptime: null, observedMs: 0, downMs: 0, majorMs: 0, partialMs: 0, degradedMs: 0, maintenanceMs: 0 });
      continue;
    }
    const observed: Interval[] = [[start, end]];
    const majorMs = lengthOf(intersect(major, observed));
    const partialMs = lengthOf(intersect(partial, observed));
    const degradedMs = lengthOf(intersect(degraded, observed));
    const maintenanceMs = lengthOf(intersect(maintenance, observed));
    const observedMs = end - start;
    const countable = observedMs - maintenanceMs;
    const downMs = majorMs + partialMs;
    const state: ComponentState = majorMs > 0 ? 'major-outage' : partialMs > 0 ? 'partial-outage' : degradedMs > 0 ? 'degraded' : maintenanceMs > 0 ? 'under-maintenance' : 'operational';
    daily.push({ date: isoDate(day), state, uptime: countable > 0 ? 1 - downMs / countable : null, observedMs, downMs, majorMs, partialMs, degradedMs, maintenanceMs });
  }
  const observedMs = daily.reduce((sum, d) => sum + d.observedMs, 0);
  const maintenanceMs = daily.reduce((sum, d) => sum + d.maintenanceMs, 0);
  const downMs = daily.reduce((sum, d) => sum + d.downMs, 0);
  const countable = observedMs - maintenanceMs;
  return { days: inputs.days, fraction: countable > 0 ? 1 - downMs / countable : null, downMs, maintenanceMs, daily };
}

