import type { GroupDef } from '../../ops/inventory/redundancy.ts';
import { groupStatus, sameHost } from '../../ops/inventory/redundancy.ts';
import type { HostHealth } from '../../ops/inventory/model.ts';
import type { Impact, ServiceImpact } from '../model.ts';
import { SEVERITY_RANK, type ComponentDef, type ComponentState, type FailureState, type MaintenanceWindowView } from './model.ts';

/**
 * The pure decisions of the status page: a component's state from its signals (clock passed in),
 * and which state changes to record. See docs/architecture.md, "The status page".
 *
 * Precedence: the worst signal wins (major outage > partial outage > degraded > operational),
 * except that a component touched by maintenance in progress shows "under maintenance" when
 * nothing is worse than degraded; a partial or major outage during maintenance still shows.
 */

/**
 * What an incident's impact on a service means for the component. Exactly the impacts that
 * count as unavailability in the outage report (UNAVAILABLE_IMPACTS) are outages here, so the
 * page's uptime and the report's availability agree: some-jobs-aborted (the service runs, some
 * work was lost) is degraded, not an outage. A Record over Impact: a new impact does not compile
 * until it is mapped (state.test.ts checks every value too).
 */
export const IMPACT_STATE: Record<Impact, FailureState> = {
  'all-unavailable': 'major-outage',
  'partial-outage': 'partial-outage',
  'some-jobs-aborted': 'degraded',
  degraded: 'degraded',
  none: 'operational',
};

export function worstOf(states: Iterable<FailureState>): FailureState {
  let worst: FailureState = 'operational';
  for (const state of states) if (SEVERITY_RANK[state] > SEVERITY_RANK[worst]) worst = state;
  return worst;
}

export type SignalSource = 'incident' | 'group' | 'host' | 'alert' | 'check' | 'recorded';

export interface Signal {
  source: SignalSource;
  state: FailureState;
  /** For operators (names hosts); never served publicly. */
  reason: string;
  incidentId?: number;
}

export interface OpenIncidentInput {
  id: number;
  title: string;
  startedAt: Date;
  services: readonly ServiceImpact[];
}

export interface AlertInput {
  alertname: string;
  severity: string;
  summary: string;
  labels: Readonly<Record<string, string>>;
  silenced: boolean;
}

export interface CheckInput {
  host: string;
  check: string;
  type: string;
  status: 'ok' | 'warning' | 'critical' | 'unknown';
  summary: string;
}

export interface StateInputs {
  component: ComponentDef;
  /** Open incidents (of the sources the page shows); those not touching the component are ignored. */
  incidents: readonly OpenIncidentInput[];
  /** The hosts providing the component: its own and its services' in the inventory. */
  hosts: readonly string[];
  /** Redundancy groups backing its services. */
  groups: readonly GroupDef[];
  /** Health per host; a host missing is of unknown health. */
  health: ReadonlyMap<string, HostHealth>;
  /** Firing alerts (all of them: those labelled with the component's services or name count). */
  alerts: readonly AlertInput[];
  /** The latest check results of the component's hosts (or of every host when it names none). */
  checks: readonly CheckInput[];
  /** Maintenance in progress (running or halted); those touching the component count. */
  maintenance: readonly MaintenanceWindowView[];
}

export interface ComponentDecision {
  state: ComponentState;
  /** The state from checks, hosts, groups and alerts alone: recorded for uptime (incidents have their own periods). */
  checksState: FailureState;
  signals: Signal[];
  incidents: number[];
  maintenance: number[];
}

/** Does a maintenance window touch the component: one of its services, or one of its hosts? */
export function maintenanceTouches(window: Pick<MaintenanceWindowView, 'services' | 'hosts'>, component: Pick<ComponentDef, 'services'>, hosts: readonly string[]): boolean {
  return window.services.some((s) => component.services.includes(s)) || window.hosts.some((h) => hosts.some((c) => sameHost(c, h)));
}

const alertState = (alert: AlertInput): FailureState | null => {
  const asked = alert.labels.status_state;
  if (asked === 'major-outage' || asked === 'partial-outage' || asked === 'degraded') return asked;
  if (alert.severity === 'critical') return 'partial-outage';
  if (alert.severity === 'warning') return 'degraded';
  return null;
};

const checkMatches = (wanted: readonly string[], check: CheckInput) => wanted.some((w) => w === check.check || (!w.includes(':') && w === check.type));

/**
 * One component's state now. Signals:
 * - incidents open (started by now) with an impact on one of its services (IMPACT_STATE);
 * - redundancy groups backing its services (groupStatus; a member of unknown health — no agent
 *   report yet — gets the benefit of the doubt): below the minimum → major outage; minimum held
 *   with a member unhealthy → degraded;
 * - its hosts in no such group: all down → major outage, some down → partial outage, some
 *   degraded (a critical alert or check on it) → degraded. Hosts under maintenance in progress
 *   are expected to be down: their health, checks and alerts are left out;
 * - firing alerts, not silenced, labelled service=<one of its services> or component=<its name>:
 *   critical → partial outage, warning → degraded (a label status_state=major-outage|
 *   partial-outage|degraded says otherwise);
 * - its checks (by name or type) on its hosts: critical → partial outage, warning → degraded.
 */
export function decideComponentState(inputs: StateInputs, now: Date): ComponentDecision {
  const { component } = inputs;
  const signals: Signal[] = [];
  const nowMs = now.getTime();

  const maintenance = inputs.maintenance.filter((m) => m.finishedAt === null && (m.startedAt === null || new Date(m.startedAt).getTime() <= nowMs) && maintenanceTouches(m, component, inputs.hosts));
  // A window naming hosts covers those hosts only (other hosts of the service still count); one naming only services covers all of the component's.
  const underMaintenance = (host: string) => maintenance.some((m) => (m.hosts.length > 0 ? m.hosts.some((h) => sameHost(h, host)) : m.services.some((s) => component.services.includes(s))));

  const incidentIds: number[] = [];
  for (const incident of inputs.incidents) {
    if (incident.startedAt.getTime() > nowMs) continue;
    const touching = incident.services.filter((s) => component.services.includes(s.service) && s.impact !== 'none');
    if (touching.length === 0) continue;
    const state = worstOf(touching.map((s) => IMPACT_STATE[s.impact]));
    incidentIds.push(incident.id);
    signals.push({ source: 'incident', state, incidentId: incident.id, reason: `incident #${incident.id} "${incident.title}": ${touching.map((s) => `${s.service} ${s.impact}`).join(', ')}` });
  }

  const healthOf = (host: string): HostHealth => inputs.health.get(host) ?? { state: 'unknown', reason: `no health is known for ${host}` };
  const grouped = new Set<string>();
  for (const group of inputs.groups) {
    group.members.forEach((m) => grouped.add(m));
    const benefitOfDoubt = (host: string): HostHealth => {
      const h = healthOf(host);
      return h.state === 'unknown' ? { state: 'healthy', reason: h.reason } : h;
    };
    const status = groupStatus(group, benefitOfDoubt);
    if (status.state === 'BROKEN') signals.push({ source: 'group', state: 'major-outage', reason: `group ${group.name} is below its minimum: ${status.reason}` });
    else if (status.healthy < status.total) signals.push({ source: 'group', state: 'degraded', reason: `group ${group.name} has an unhealthy member: ${status.reason}` });
  }

  const loose = inputs.hosts.filter((h) => !grouped.has(h) && !underMaintenance(h));
  const down = loose.filter((h) => healthOf(h).state === 'down');
  const degraded = loose.filter((h) => healthOf(h).state === 'degraded');
  if (down.length > 0) {
    const all = down.length === loose.length;
    signals.push({ source: 'host', state: all ? 'major-outage' : 'partial-outage', reason: `${down.length} of ${loose.length} host(s) down: ${down.map((h) => `${h} (${healthOf(h).reason})`).join('; ')}` });
  }
  if (degraded.length > 0) signals.push({ source: 'host', state: 'degraded', reason: `host(s) degraded: ${degraded.map((h) => `${h} (${healthOf(h).reason})`).join('; ')}` });

  for (const alert of inputs.alerts) {
    if (alert.silenced) continue;
    const labelled = (alert.labels.service !== undefined && component.services.includes(alert.labels.service)) || alert.labels.component === component.name;
    if (!labelled) continue;
    if (alert.labels.host !== undefined && underMaintenance(alert.labels.host)) continue;
    const state = alertState(alert);
    if (state) signals.push({ source: 'alert', state, reason: `alert ${alert.alertname} (${alert.severity}) is firing: ${alert.summary}` });
  }

  if (component.checks.length > 0) {
    for (const check of inputs.checks) {
      if (!checkMatches(component.checks, check)) continue;
      if (inputs.hosts.length > 0 && !inputs.hosts.some((h) => sameHost(h, check.host))) continue;
      if (underMaintenance(check.host)) continue;
      if (check.status === 'critical') signals.push({ source: 'check', state: 'partial-outage', reason: `check ${check.check} on ${check.host} is critical: ${check.summary}` });
      else if (check.status === 'warning') signals.push({ source: 'check', state: 'degraded', reason: `check ${check.check} on ${check.host} is warning: ${check.summary}` });
    }
  }

  return settle(signals, incidentIds, maintenance.map((m) => m.id));
}

/** The worst signal, or under maintenance when a plan is in progress and nothing is worse than degraded. */
function settle(signals: Signal[], incidents: number[], maintenance: number[]): ComponentDecision {
  const worst = worstOf(signals.map((s) => s.state));
  const checksState = worstOf(signals.filter((s) => s.source !== 'incident').map((s) => s.state));
  const state: ComponentState = maintenance.length > 0 && SEVERITY_RANK[worst] <= SEVERITY_RANK.degraded ? 'under-maintenance' : worst;
  return { state, checksState, signals, incidents, maintenance };
}

/**
 * When a source (the inventory, the alerts…) could not be read, the check-driven state last
 * recorded stands in for it: a failing read neither hides an outage nor invents a recovery.
 */
export function keepRecorded(decision: ComponentDecision, recorded: FailureState | undefined, unavailable: readonly string[]): ComponentDecision {
  if (unavailable.length === 0 || recorded === undefined || recorded === 'operational') return decision;
  const kept: Signal = { source: 'recorded', state: recorded, reason: `as last recorded (${recorded}): ${unavailable.join(', ')} could not be read` };
  return settle([...decision.signals, kept], decision.incidents, decision.maintenance);
}

/** The page's overall line: the worst component state, naming the components in it. */
export function overallOf(components: readonly { displayName: string; state: ComponentState }[]): { state: ComponentState; text: string } {
  const failing = components.filter((c) => c.state !== 'operational' && c.state !== 'under-maintenance');
  if (failing.length === 0) {
    const maintained = components.filter((c) => c.state === 'under-maintenance');
    if (maintained.length > 0) return { state: 'under-maintenance', text: `Maintenance in progress: ${maintained.map((c) => c.displayName).join(', ')}` };
    return { state: 'operational', text: 'All systems operational' };
  }
  const worst = worstOf(failing.map((c) => c.state as FailureState));
  const names = failing.filter((c) => c.state === worst).map((c) => c.displayName).join(', ');
  const text = worst === 'major-outage' ? `Major outage: ${names}` : worst === 'partial-outage' ? `Partial outage: ${names}` : `Degraded performance: ${names}`;
  return { state: worst, text };
}

/** A component's recorded state (the latest row of status_transitions). */
export interface RecordedState {
  state: ComponentState;
  checksState: FailureState;
}

export interface NewTransition {
  component: string;
  at: Date;
  state: ComponentState;
  checksState: FailureState;
  reason: string;
}

/**
 * What to record: a row for each component whose state or checks-state differs from the last
 * recorded one, or that has none yet (its history starts there).
 */
export function transitionsToRecord(last: ReadonlyMap<string, RecordedState>, current: readonly { component: string; decision: ComponentDecision }[], now: Date): NewTransition[] {
  const rows: NewTransition[] = [];
  for (const { component, decision } of current) {
    const before = last.get(component);
    if (before && before.state === decision.state && before.checksState === decision.checksState) continue;
    const reason = decision.signals.map((s) => s.reason).join('; ').slice(0, 2000) || 'no signal: operational';
    rows.push({ component, at: now, state: decision.state, checksState: decision.checksState, reason });
  }
  return rows;
}
