import { z } from 'zod';

/** Alerts, rules, silences and notifications: what the API returns and accepts. */

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export const severitySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof severitySchema>;
/** Higher is worse. */
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export const ALERT_STATES = ['pending', 'firing', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export const ALERT_SOURCES = ['rule', 'alertmanager'] as const;
export type AlertSource = (typeof ALERT_SOURCES)[number];

const timestamp = z.string().describe('ISO-8601 UTC time');

/** A rule as in effect: the defaults merged with keisan.yaml `monitor.alerts.rules`. */
export interface AlertRule {
  name: string;
  expr: string;
  /** Milliseconds the condition must hold before the alert fires. */
  forMs: number;
  severity: Severity;
  labels: Record<string, string>;
  summary: string;
  description: string;
  /** Where it comes from: a shipped default, keisan.yaml, or a default changed in keisan.yaml. */
  origin: 'default' | 'settings' | 'default, changed in settings';
}

export const ruleSchema = z.object({
  name: z.string(),
  expr: z.string(),
  for: z.string().describe('as written, e.g. 0s, 15m'),
  forSeconds: z.number(),
  intervalSeconds: z.number().nullable().describe('evaluated this often; null: every evaluationInterval'),
  severity: severitySchema,
  labels: z.record(z.string(), z.string()),
  summary: z.string(),
  description: z.string(),
  origin: z.string(),
  health: z.object({
    lastEvalAt: timestamp.nullable(),
    lastError: z.string().nullable(),
    active: z.number().int().describe('pending and firing alerts of this rule now'),
  }),
});
export type RuleView = z.infer<typeof ruleSchema>;

export const alertSchema = z.object({
  id: z.number().int().nullable().describe('the stored row; null for a pending alert not yet stored'),
  fingerprint: z.string().describe('the rule name and the sorted labels, hashed: one alert per fingerprint'),
  source: z.enum(ALERT_SOURCES),
  alertname: z.string(),
  labels: z.record(z.string(), z.string()),
  severity: severitySchema,
  state: z.enum(ALERT_STATES),
  value: z.number().nullable(),
  summary: z.string(),
  description: z.string(),
  startedAt: timestamp.describe('when the condition was first seen (pending from then)'),
  firedAt: timestamp.nullable(),
  resolvedAt: timestamp.nullable(),
  lastEvalAt: timestamp,
  silencedBy: z.array(z.number().int()).describe('ids of the active silences that mute it'),
  inhibitedBy: z.array(z.string()).describe('alerts (alertname on host) that inhibit it'),
  notified: z.enum(['firing', 'resolved']).nullable().describe('what the last notification about it said'),
});
export type AlertView = z.infer<typeof alertSchema>;

export const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/;
export const matcherSchema = z.object({ name: z.string(), op: z.enum(['=', '!=', '=~', '!~']), value: z.string() });
export type Matcher = z.infer<typeof matcherSchema>;

export const silenceSchema = z.object({
  id: z.number().int(),
  matchers: z.array(matcherSchema),
  startsAt: timestamp,
  endsAt: timestamp,
  createdBy: z.string(),
  comment: z.string(),
  createdAt: timestamp,
  removedBy: z.string().nullable(),
  state: z.enum(['active', 'pending', 'expired']),
});
export type Silence = z.infer<typeof silenceSchema>;

export const silenceInput = z
  .object({
    matchers: z.array(z.string().min(1).max(1000)).min(1).max(50).describe('label=value, label!=value, label=~regex or label!~regex'),
    for: z.union([z.string(), z.number()]).optional().describe('how long from the start, e.g. 2h (default 2h)'),
    startsAt: z.iso.datetime().optional(),
    endsAt: z.iso.datetime().optional().describe('instead of for'),
    comment: z.string().trim().min(1, 'say why: a comment is required').max(2000),
  })
  .strict();
export type SilenceInput = z.infer<typeof silenceInput>;

export const NOTIFICATION_CHANNELS = ['email', 'webhook', 'in-app'] as const;
export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];
export const notificationSchema = z.object({
  id: z.number().int(),
  at: timestamp,
  channel: z.enum(NOTIFICATION_CHANNELS),
  target: z.string(),
  status: z.enum(['queued', 'sent', 'failed']),
  attempts: z.number().int(),
  error: z.string().nullable(),
  groupKey: z.string(),
  subject: z.string(),
  firing: z.number().int(),
  resolved: z.number().int(),
  deliveredAt: timestamp.nullable(),
});
export type NotificationEntry = z.infer<typeof notificationSchema>;

/** Alertmanager's webhook payload, version 4 (what `webhook_configs` POSTs). */
export const alertmanagerPayload = z.object({
  version: z.string().optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  groupKey: z.string().optional(),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: z.record(z.string(), z.string()),
        annotations: z.record(z.string(), z.string()).default({}),
        startsAt: z.string(),
        endsAt: z.string().optional(),
        fingerprint: z.string().max(200).optional(),
        generatorURL: z.string().optional(),
      }),
    )
    .max(10_000),
});
export type AlertmanagerPayload = z.infer<typeof alertmanagerPayload>;
