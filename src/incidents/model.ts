import { z } from 'zod';
import { noNul } from '../accounts/model.ts';

/**
 * Incidents (issue 7): what went wrong, how bad, which services it touched and how, when it
 * started, was noticed and ended, why, what was done (the timeline and the response checklist)
 * and what prevents it next time (the postmortem). Times in the API are ISO-8601 UTC strings.
 */

export const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4', 'SEV5'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const STATUSES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export type Status = (typeof STATUSES)[number];

/**
 * The impact of an incident on one service, worst first:
 * - all-unavailable: nobody can use the service (counts as unavailability);
 * - partial-outage: the service is down for part of its users or part of its function, e.g. one
 *   file system of two, half the nodes (counts as unavailability in full: the report is
 *   conservative rather than guessing a fraction);
 * - some-jobs-aborted: the service runs, but some users' work was lost (not unavailability; it
 *   counts as service impact);
 * - degraded: slow or unreliable, but usable (service impact, not unavailability);
 * - none: named for the record, not affected (neither).
 */
export const IMPACTS = ['all-unavailable', 'partial-outage', 'some-jobs-aborted', 'degraded', 'none'] as const;
export type Impact = (typeof IMPACTS)[number];
/** The impacts that count against a service's availability in the outage report. */
export const UNAVAILABLE_IMPACTS: ReadonlySet<Impact> = new Set(['all-unavailable', 'partial-outage']);
/** What `--service NAME` without `=IMPACT` means. */
export const DEFAULT_IMPACT: Impact = 'degraded';

export const CAUSES = ['human-error', 'software-defect', 'hardware', 'capacity', 'network', 'external', 'unknown'] as const;
export type Cause = (typeof CAUSES)[number];

/** The response checklist every incident carries, in this order; ITEM on the command line is the number or the key. */
export const CHECKLIST = [
  { key: 'policy', text: 'decide the handling policy' },
  { key: 'isolate', text: 'isolate the cause' },
  { key: 'contact', text: 'contact the right people' },
  { key: 'confirm-fix', text: 'confirm the fix' },
  { key: 'tell-affected', text: 'tell those affected' },
  { key: 'root-cause', text: 'find the root cause with experts' },
  { key: 'prevent', text: 'update documents and prevent recurrence' },
] as const;
export type ChecklistKey = (typeof CHECKLIST)[number]['key'];
export const CHECKLIST_KEYS = CHECKLIST.map((c) => c.key) as unknown as readonly [ChecklistKey, ...ChecklistKey[]];

export const SOURCES = ['manual', 'recovery', 'alert', 'power'] as const;
export type Source = (typeof SOURCES)[number];

export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,31}$/;
export const SERVICE_NAME_RULE = 'a service name starts with a lower-case letter, then a-z, 0-9, _ . and -, at most 32 characters (e.g. batch, login, storage-home)';

const timestamp = z.string().describe('ISO-8601 UTC time');

export const serviceImpactSchema = z.object({ service: z.string(), impact: z.enum(IMPACTS) });
export type ServiceImpact = z.infer<typeof serviceImpactSchema>;

export const checklistEntrySchema = z.object({
  item: z.number().int().describe('1 to 7, in the checklist order'),
  key: z.enum(CHECKLIST_KEYS),
  text: z.string(),
  done: z.boolean(),
  by: z.string().nullable().describe('who ticked (or unticked) it last'),
  at: timestamp.nullable(),
});
export type ChecklistEntry = z.infer<typeof checklistEntrySchema>;

export const postmortemActionSchema = z.object({
  action: z.string(),
  owner: z.string(),
  due: z.string().describe('YYYY-MM-DD'),
  done: z.boolean(),
});
export const postmortemSchema = z.object({
  whatHappened: z.string(),
  causes: z.string(),
  prevention: z.string(),
  actions: z.array(postmortemActionSchema),
  updatedBy: z.string(),
  updatedAt: timestamp,
});
export type Postmortem = z.infer<typeof postmortemSchema>;

export const UPDATE_KINDS = ['opened', 'update', 'status', 'resolved', 'reopened', 'edited', 'checklist', 'postmortem', 'source'] as const;
export type UpdateKind = (typeof UPDATE_KINDS)[number];

export const timelineEntrySchema = z.object({
  at: timestamp,
  by: z.string(),
  kind: z.enum(UPDATE_KINDS),
  status: z.enum(STATUSES).nullable().describe('the status set by this update, if it changed'),
  text: z.string(),
});
export type TimelineEntry = z.infer<typeof timelineEntrySchema>;

export const incidentSummarySchema = z.object({
  id: z.number().int(),
  title: z.string(),
  severity: z.enum(SEVERITIES),
  status: z.enum(STATUSES),
  cause: z.enum(CAUSES),
  services: z.array(serviceImpactSchema),
  startedAt: timestamp,
  detectedAt: timestamp,
  endedAt: timestamp.nullable().describe('set on resolve; null while open'),
  source: z.enum(SOURCES),
  sourceKey: z.string().nullable().describe('recovery:HOST:JOB, an alert fingerprint or power:UPS, for incidents opened by a hook'),
  openedBy: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type IncidentSummary = z.infer<typeof incidentSummarySchema>;

export const incidentSchema = incidentSummarySchema.extend({
  checklist: z.array(checklistEntrySchema),
  timeline: z.array(timelineEntrySchema),
  postmortem: postmortemSchema.nullable(),
});
export type Incident = z.infer<typeof incidentSchema>;

// ---- request bodies: strict, so unknown fields are refused with their names ----

export const title = noNul('title')
  .max(200, 'title is longer than 200 characters')
  .refine((s) => s.trim() !== '', 'title must not be empty: say in a few words what is wrong');
export const message = noNul('message').max(5000, 'message is longer than 5000 characters');
export const serviceName = z
  .string({ error: 'service must be a string' })
  .regex(SERVICE_NAME_PATTERN, `service name is not valid: ${SERVICE_NAME_RULE}`);
export const serviceImpactInput = z
  .object({
    service: serviceName,
    impact: z.enum(IMPACTS, { error: `impact must be one of ${IMPACTS.join(', ')}` }).default(DEFAULT_IMPACT),
  })
  .strict();
const timeInput = (what: string) => z.iso.datetime({ offset: true, error: `${what} must be an ISO-8601 time such as 2026-11-03T22:40:00Z` });
const severityInput = z.enum(SEVERITIES, { error: `severity must be one of ${SEVERITIES.join(', ')} (SEV1 is the worst)` });
const causeInput = z.enum(CAUSES, { error: `cause must be one of ${CAUSES.join(', ')}` });

export const openInput = z
  .object({
    title,
    severity: severityInput,
    services: z.array(serviceImpactInput).max(50, 'at most 50 services').default([]),
    cause: causeInput.default('unknown'),
    startedAt: timeInput('startedAt').optional().describe('default: now'),
    detectedAt: timeInput('detectedAt').optional().describe('default: startedAt'),
    message: message.optional().describe('the first timeline entry'),
  })
  .strict();
export type OpenInput = z.input<typeof openInput>;

export const updateInput = z
  .object({
    status: z.enum(STATUSES, { error: `status must be one of ${STATUSES.join(', ')}` }).optional().describe('resolved → investigating reopens it'),
    message: message.optional(),
    title: title.optional(),
    severity: severityInput.optional(),
    services: z.array(serviceImpactInput).max(50, 'at most 50 services').optional().describe('sets the impact of the services named; the others keep theirs'),
    cause: causeInput.optional(),
    startedAt: timeInput('startedAt').optional(),
    detectedAt: timeInput('detectedAt').optional(),
    endedAt: timeInput('endedAt').optional().describe('only for a resolved incident'),
  })
  .strict();
export type UpdateInput = z.input<typeof updateInput>;

export const resolveInput = z
  .object({
    at: timeInput('at').optional().describe('when it ended; default now'),
    message: message.optional(),
  })
  .strict();
export type ResolveInput = z.infer<typeof resolveInput>;

export const checkInput = z.object({ done: z.boolean({ error: 'done must be true or false' }).default(true) }).strict();

const dueDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'due must be a date YYYY-MM-DD');
export const postmortemInput = z
  .object({
    whatHappened: noNul('whatHappened').max(50_000).default(''),
    causes: noNul('causes').max(50_000).default(''),
    prevention: noNul('prevention').max(50_000).default(''),
    actions: z
      .array(
        z
          .object({
            action: noNul('action').min(1, 'each action needs its text (action:)').max(2000),
            owner: noNul('owner').min(1, 'each action needs an owner (owner:)').max(64),
            due: dueDate,
            done: z.boolean().default(false),
          })
          .strict(),
      )
      .max(100)
      .default([]),
  })
  .strict();
export type PostmortemInput = z.input<typeof postmortemInput>;

export const listQuery = z
  .object({
    open: z.enum(['true', 'false', '1', '0']).optional().describe('only incidents not yet resolved'),
    since: z.string().min(1).max(64).optional().describe('incidents active at or after this: a duration back from now (7d) or an ISO time'),
  })
  .strict();

export const REPORT_FORMATS = ['json', 'md', 'html', 'pdf'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const reportQuery = z
  .object({
    from: z.string({ error: 'from is required: an ISO time or date, e.g. 2026-11-01' }).min(1, 'from is required'),
    to: z.string({ error: 'to is required: an ISO time or date, e.g. 2026-12-01 (exclusive)' }).min(1, 'to is required'),
    format: z.enum(REPORT_FORMATS, { error: `format must be one of ${REPORT_FORMATS.join(', ')}` }).default('json'),
    tz: z.string().min(1).max(64).optional(),
  })
  .strict();

// ---- pure rules ----

/**
 * Which status changes are allowed. Among the open statuses any move is (the fix did not hold:
 * monitoring → identified; the cause was wrong: identified → investigating); any open status may
 * be resolved; a resolved incident may only be reopened (→ investigating), which is audited as
 * incident.reopen. Setting the same status is no change.
 */
export function transitionAllowed(from: Status, to: Status): { ok: true; reopen: boolean } | { ok: false; reason: string } {
  if (from === to) return { ok: false, reason: `the incident is already ${to}` };
  if (from === 'resolved') {
    if (to === 'investigating') return { ok: true, reopen: true };
    return { ok: false, reason: `a resolved incident can only be reopened (status investigating), not set to ${to}` };
  }
  return { ok: true, reopen: false };
}

export interface IncidentTimes {
  startedAt: Date;
  detectedAt: Date;
  endedAt: Date | null;
}

/** start ≤ detected, start ≤ end, and nothing in the future; null when fine, else the message. */
export function timesProblem(times: IncidentTimes, now: Date): string | null {
  const iso = (d: Date) => d.toISOString();
  if (times.detectedAt < times.startedAt) return `detectedAt (${iso(times.detectedAt)}) is before startedAt (${iso(times.startedAt)}): an incident is detected at or after it starts`;
  if (times.endedAt !== null && times.endedAt < times.startedAt) return `endedAt (${iso(times.endedAt)}) is before startedAt (${iso(times.startedAt)}): give an end at or after the start`;
  const future = (d: Date) => d.getTime() > now.getTime() + 60_000;
  if (future(times.startedAt)) return `startedAt (${iso(times.startedAt)}) is in the future`;
  if (future(times.detectedAt)) return `detectedAt (${iso(times.detectedAt)}) is in the future`;
  if (times.endedAt !== null && future(times.endedAt)) return `endedAt (${iso(times.endedAt)}) is in the future`;
  return null;
}

/** Sets the impacts of the services named; the others keep theirs. Order: as first named. */
export function mergeServices(current: readonly ServiceImpact[], changes: readonly ServiceImpact[]): ServiceImpact[] {
  const merged = current.map((s) => ({ ...s }));
  for (const change of changes) {
    const existing = merged.find((s) => s.service === change.service);
    if (existing) existing.impact = change.impact;
    else merged.push({ ...change });
  }
  return merged;
}

/** ITEM as typed: 1–7 or a key (policy, isolate, …); null when neither. */
export function checklistIndex(item: string): number | null {
  if (/^[1-7]$/.test(item)) return Number(item) - 1;
  const index = CHECKLIST.findIndex((c) => c.key === item);
  return index >= 0 ? index : null;
}

/** "all-unavailable" from "batch=all-unavailable", for the CLI; throws a message naming the problem. */
export function parseServiceArg(text: string): { service: string; impact: Impact } {
  const [name, impact, ...rest] = text.split('=');
  if (rest.length > 0 || !name) throw new Error(`--service ${text}: write NAME or NAME=IMPACT, e.g. batch=all-unavailable`);
  if (impact === undefined) return { service: name, impact: DEFAULT_IMPACT };
  if (!(IMPACTS as readonly string[]).includes(impact)) throw new Error(`--service ${text}: impact must be one of ${IMPACTS.join(', ')}`);
  return { service: name, impact: impact as Impact };
}
