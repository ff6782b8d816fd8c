import { z } from 'zod';
import { STATUSES } from '../model.ts';

/**
 * The public status page (issue 7): components, their states, current and recently resolved
 * incidents with their public updates, maintenance, and 90-day uptime. Everything here is what
 * the public routes answer: no operator names, no private notes, no host names, no postmortems.
 * Times are ISO-8601 UTC strings.
 */

/** The states of a component, best first; `under-maintenance` is shown only when nothing worse than degraded (state.ts). */
export const COMPONENT_STATES = ['operational', 'degraded', 'partial-outage', 'major-outage', 'under-maintenance'] as const;
export type ComponentState = (typeof COMPONENT_STATES)[number];
/** The states a signal (an incident's impact, a group, a host, an alert, a check) can put a component in. */
export const FAILURE_STATES = ['operational', 'degraded', 'partial-outage', 'major-outage'] as const;
export type FailureState = (typeof FAILURE_STATES)[number];

/** How bad, for "the worst wins": maintenance sits apart (see decideComponentState). */
export const SEVERITY_RANK: Record<FailureState, number> = { operational: 0, degraded: 1, 'partial-outage': 2, 'major-outage': 3 };

export const STATE_LABELS: Record<ComponentState, string> = {
  operational: 'Operational',
  degraded: 'Degraded performance',
  'partial-outage': 'Partial outage',
  'major-outage': 'Major outage',
  'under-maintenance': 'Under maintenance',
};

/**
 * Maintenance as the maintenance room publishes it (src/ops/maint/source.ts): `active` are the
 * plans running or halted — their components are under maintenance.
 */
export type { MaintenanceSource, MaintenanceWindowView } from '../../ops/maint/source.ts';

/** A component of the page: what users see, and the services, hosts and checks that drive it. */
export interface ComponentDef {
  name: string;
  displayName: string;
  description: string;
  /** Incident and inventory service names. */
  services: string[];
  /** Hosts whose health drives it besides the hosts of its services in the inventory. */
  hosts: string[];
  /** Checks (a check name such as `process:sshd`, or a check type such as `filesystem`) whose critical or warning results drive it. */
  checks: string[];
}

const timestamp = z.string().describe('ISO-8601 UTC time');

export const publicUpdateSchema = z.object({
  at: timestamp,
  status: z.enum(STATUSES).describe("the incident's status after this update"),
  text: z.string(),
});
export type PublicUpdate = z.infer<typeof publicUpdateSchema>;

export const publicIncidentSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  status: z.enum(STATUSES),
  impact: z.enum(FAILURE_STATES).describe('the worst state it puts a component in'),
  components: z.array(z.object({ name: z.string(), displayName: z.string(), state: z.enum(FAILURE_STATES) })),
  startedAt: timestamp,
  endedAt: timestamp.nullable(),
  updatedAt: timestamp.describe('the latest public update'),
  updates: z.array(publicUpdateSchema).describe('newest first'),
});
export type PublicIncident = z.infer<typeof publicIncidentSchema>;

export const publicMaintenanceSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  state: z.string().describe("the plan's state in the maintenance room (scheduled, running, halted, …)"),
  inProgress: z.boolean(),
  windowStart: timestamp,
  windowEnd: timestamp,
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
  components: z.array(z.object({ name: z.string(), displayName: z.string() })),
});
export type PublicMaintenance = z.infer<typeof publicMaintenanceSchema>;

export const uptimeDaySchema = z.object({
  date: z.string().describe('YYYY-MM-DD (UTC)'),
  state: z.enum([...COMPONENT_STATES, 'no-data']).describe('the worst state of the day; no-data before the first record'),
  uptime: z.number().nullable().describe('0..1 over the day without maintenance; null: no data, or maintenance all the time observed'),
  observedMs: z.number().int(),
  downMs: z.number().int().describe('partial or major outage, outside maintenance'),
  majorMs: z.number().int(),
  partialMs: z.number().int(),
  degradedMs: z.number().int().describe('degraded, outside outages and maintenance (does not lower uptime)'),
  maintenanceMs: z.number().int(),
});
export type UptimeDay = z.infer<typeof uptimeDaySchema>;

export const componentStatusSchema = z.object({
  name: z.string(),
  displayName: z.string(),
  description: z.string(),
  state: z.enum(COMPONENT_STATES),
  label: z.string(),
  since: timestamp.nullable().describe('when it entered this state, as recorded'),
  incidents: z.array(z.number().int()).describe('ids of the current incidents that touch it'),
  maintenance: z.array(z.number().int()).describe('ids of the maintenance in progress on it'),
  uptime: z.object({
    days: z.number().int(),
    fraction: z.number().nullable().describe('over the days with data, maintenance excluded; null: no data yet'),
    downMs: z.number().int(),
    maintenanceMs: z.number().int(),
    daily: z.array(uptimeDaySchema).describe('oldest first; the last is today (so far)'),
  }),
});
export type ComponentStatus = z.infer<typeof componentStatusSchema>;

export const statusPageSchema = z.object({
  title: z.string(),
  generatedAt: timestamp,
  timeZone: z.literal('UTC'),
  overall: z.object({ state: z.enum(COMPONENT_STATES), text: z.string() }),
  components: z.array(componentStatusSchema),
  incidents: z.object({
    current: z.array(publicIncidentSchema),
    recent: z.array(publicIncidentSchema).describe('resolved within the last recentDays'),
    recentDays: z.number().int(),
  }),
  maintenance: z.object({ inProgress: z.array(publicMaintenanceSchema), scheduled: z.array(publicMaintenanceSchema) }),
  uptimeRule: z.string(),
});
export type StatusPage = z.infer<typeof statusPageSchema>;

/** GET /api/status/explain (operators): why each component is in its state, with host names and details. */
export const explainSchema = z.object({
  generatedAt: timestamp,
  unavailable: z.array(z.string()).describe('sources that could not be read this time: the states were decided without them and not recorded'),
  components: z.array(
    z.object({
      name: z.string(),
      state: z.enum(COMPONENT_STATES),
      checksState: z.enum(FAILURE_STATES),
      services: z.array(z.string()),
      hosts: z.array(z.string()),
      signals: z.array(z.object({ source: z.string(), state: z.enum(FAILURE_STATES), reason: z.string() })),
      maintenance: z.array(z.number().int()),
    }),
  ),
});
export type Explanation = z.infer<typeof explainSchema>;

/** GET /api/status/history (operators): the recorded state changes, newest first. */
export const historySchema = z.array(
  z.object({
    component: z.string(),
    at: timestamp,
    state: z.enum(COMPONENT_STATES),
    checksState: z.enum(FAILURE_STATES).describe('from checks, hosts, groups and alerts alone'),
    reason: z.string(),
  }),
);
export type History = z.infer<typeof historySchema>;

export const historyQuery = z
  .object({
    since: z.string().min(1).max(64).optional().describe('a duration back from now (7d, the default) or an ISO time'),
    component: z.string().min(1).max(32).optional(),
  })
  .strict();

export const UPTIME_RULE =
  'Uptime per UTC day = 1 − (time in partial or major outage) / (time observed − time under maintenance). ' +
  'Partial outage counts in full, as in the outage report; degraded does not lower uptime; maintenance in progress is left out and shown apart. ' +
  'Outages come from incidents (all-unavailable: major, partial-outage: partial) and from the recorded states of checks, hosts and alerts. ' +
  'Days before the first record show no data.';
