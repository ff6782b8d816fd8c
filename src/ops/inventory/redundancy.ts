import { formatDuration } from '../../lib/units.ts';
import type { GroupState, HealthState, HostHealth, TakeDownCheck } from './model.ts';

/**
 * Pure decisions of the inventory: a host's health from what the monitoring room knows, a
 * redundancy group's state, and the redundancy guard that refuses to take hosts down when a
 * group would be left below its minimum or a pair's partner is unhealthy. The clock is passed in.
 */

/** The monitor hub's view of a host (MonitorHub.hosts): up while its agent keeps reporting. */
export interface MonitorView {
  up: boolean;
  lastReportAt: string;
}

/** A check result as the hub keeps it (the latest per check). */
export interface CheckView {
  check: string;
  status: 'ok' | 'warning' | 'critical' | 'unknown';
  summary: string;
}

/** A firing alert of the host (AlertsService.list 'firing', labels.host = the host). */
export interface AlertView {
  alertname: string;
  severity: string;
  summary: string;
  silenced: boolean;
}

export interface HealthInputs {
  host: string;
  /** undefined: the hub has had no report from the host's agent since the server started. */
  monitor: MonitorView | undefined;
  checks: readonly CheckView[];
  alerts: readonly AlertView[];
}

/** The rule the hub uses (3 report intervals) decides `up`; HostDown is the alert that fires on it. */
const HOST_DOWN = 'HostDown';

const more = (n: number) => (n > 0 ? ` (and ${n} more)` : '');

/**
 * healthy: the agent reports and no critical alert fires for the host and none of its checks is
 * critical; degraded: reporting, but a critical alert or check says something is wrong; down: the
 * agent stopped reporting (what fires HostDown); unknown: never heard of since the server started.
 * Warnings do not count: they do not take a host out of service.
 */
export function hostHealth(inputs: HealthInputs, now: Date): HostHealth {
  const critical = inputs.alerts.filter((a) => a.severity === 'critical');
  const hostDown = critical.find((a) => a.alertname === HOST_DOWN);
  if (inputs.monitor === undefined) {
    if (hostDown) return { state: 'down', reason: `alert ${HOST_DOWN} is firing: ${hostDown.summary}` };
    return { state: 'unknown', reason: `no report from the Keisan agent on ${inputs.host} since the server started: is an agent running there?` };
  }
  const silence = Math.max(0, now.getTime() - new Date(inputs.monitor.lastReportAt).getTime());
  if (!inputs.monitor.up) {
    return { state: 'down', reason: `its agent has not reported for ${formatDuration(silence)} (last report ${inputs.monitor.lastReportAt})` };
  }
  if (hostDown) return { state: 'down', reason: `alert ${HOST_DOWN} is firing: ${hostDown.summary}` };
  if (critical.length > 0) {
    const first = critical[0]!;
    return { state: 'degraded', reason: `critical alert ${first.alertname}${first.silenced ? ' (silenced)' : ''}: ${first.summary}${more(critical.length - 1)}` };
  }
  const failing = inputs.checks.filter((c) => c.status === 'critical');
  if (failing.length > 0) {
    const first = failing[0]!;
    return { state: 'degraded', reason: `check ${first.check} is critical: ${first.summary}${more(failing.length - 1)}` };
  }
  return { state: 'healthy', reason: `agent reporting (last report ${formatDuration(silence)} ago); no critical alert or check` };
}

/**
 * The monitor knows hosts by the name their agent reports (the machine's host name), the
 * inventory by the name an operator wrote: equal ignoring case, or equal short names when one of
 * them is not qualified (login1 and login1.hpc.example.org).
 */
export function sameHost(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y) return true;
  if (x.includes('.') && y.includes('.')) return false;
  return x.split('.')[0] === y.split('.')[0];
}

export interface GroupDef {
  name: string;
  members: readonly string[];
  minHealthy: number;
}

export type HealthOf = (host: string) => HostHealth;

const NOT_KNOWN = (host: string): HostHealth => ({ state: 'unknown', reason: `no health is known for ${host}` });

/** A map of host → health (a host missing from it is of unknown health), or a function. */
function healthLookup(health: HealthOf | ReadonlyMap<string, HostHealth>): HealthOf {
  return typeof health === 'function' ? health : (host) => health.get(host) ?? NOT_KNOWN(host);
}

const stateWord: Record<HealthState, string> = { healthy: 'healthy', degraded: 'degraded', down: 'down', unknown: 'of unknown health' };

export interface GroupStatus {
  healthy: number;
  total: number;
  state: GroupState;
  reason: string;
}

/**
 * BROKEN: fewer healthy members than the minimum; AT-RISK: the minimum holds, but a member is
 * unhealthy or there is no spare (losing one more breaks it); OK: every member healthy with a spare.
 * Only `healthy` members count: degraded, down and unknown ones are not relied on.
 */
export function groupStatus(group: GroupDef, healthOfHosts: HealthOf | ReadonlyMap<string, HostHealth>): GroupStatus {
  const health = healthLookup(healthOfHosts);
  const unhealthy = group.members.filter((m) => health(m).state !== 'healthy');
  const healthy = group.members.length - unhealthy.length;
  const total = group.members.length;
  const which = unhealthy.map((m) => `${m} is ${stateWord[health(m).state]}`).join(', ');
  const counted = `${healthy} of ${total} healthy (minimum ${group.minHealthy})`;
  if (healthy < group.minHealthy) return { healthy, total, state: 'BROKEN', reason: `${counted}: ${which}` };
  if (unhealthy.length > 0) return { healthy, total, state: 'AT-RISK', reason: `${counted}: ${which}` };
  if (healthy === group.minHealthy) return { healthy, total, state: 'AT-RISK', reason: `${counted}: no spare, losing any member breaks it` };
  return { healthy, total, state: 'OK', reason: counted };
}

const and = (items: readonly string[]) => (items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`);

function describe(host: string, h: HostHealth): string {
  if (h.state === 'down') return `${host} is already down (${h.reason})`;
  if (h.state === 'degraded') return `${host} is degraded (${h.reason})`;
  return `${host}'s health is unknown (${h.reason})`;
}

/**
 * The redundancy guard. For each group a target belongs to:
 * - below-minimum: the members left healthy (not targets, and healthy now) would be fewer than
 *   the group's minimum — members already unhealthy do not count;
 * - partner-unhealthy: in a pair (a group of two), the other member is not healthy — acting on a
 *   host while its partner is unhealthy is refused even before counting. (With a minimum of at
 *   least 1 the count refuses it too; both are reported, the planner shows either.)
 * Targets not in any group are allowed; targets not in the inventory are listed in unknownTargets.
 */
export function checkTakeDown(
  groups: readonly GroupDef[],
  healthOfHosts: HealthOf | ReadonlyMap<string, HostHealth>,
  targets: readonly string[],
  known: (host: string) => boolean = () => true,
): TakeDownCheck {
  const health = healthLookup(healthOfHosts);
  const wanted = [...new Set(targets.map((t) => t.toLowerCase()))];
  const targetSet = new Set(wanted);
  const refusals: TakeDownCheck['refusals'] = [];
  const impacts: TakeDownCheck['groups'] = [];
  for (const group of groups) {
    const hit = group.members.filter((m) => targetSet.has(m));
    if (hit.length === 0) continue;
    const total = group.members.length;
    const healthyNow = group.members.filter((m) => health(m).state === 'healthy').length;
    const left = group.members.filter((m) => !targetSet.has(m));
    const healthyAfter = left.filter((m) => health(m).state === 'healthy').length;
    impacts.push({ group: group.name, targets: hit, total, minHealthy: group.minHealthy, healthyNow, healthyAfter });
    if (healthyAfter < group.minHealthy) {
      const why = [
        ...(hit.length > 1 ? [`${and(hit)} are all targets`] : []),
        ...left.filter((m) => health(m).state !== 'healthy').map((m) => describe(m, health(m))),
      ];
      refusals.push({
        group: group.name,
        kind: 'below-minimum',
        hosts: hit,
        reason: `taking down ${and(hit)} would leave group ${group.name} with ${healthyAfter} of ${total} healthy (minimum ${group.minHealthy})${why.length > 0 ? `: ${why.join('; ')}` : ''}`,
      });
    }
    if (total === 2 && hit.length === 1) {
      const target = hit[0]!;
      const partner = left[0]!;
      const h = health(partner);
      if (h.state !== 'healthy') {
        refusals.push({
          group: group.name,
          kind: 'partner-unhealthy',
          hosts: [target],
          reason: `${target}'s partner in group ${group.name}, ${partner}, is ${stateWord[h.state]} (${h.reason}): act on ${target} only once ${partner} is healthy again`,
        });
      }
    }
  }
  return { allowed: refusals.length === 0, targets: wanted, unknownTargets: wanted.filter((t) => !known(t)), refusals, groups: impacts };
}
