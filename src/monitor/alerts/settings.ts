import { z } from 'zod';
import { email } from '../../accounts/model.ts';
import { parseDuration } from '../../lib/units.ts';
import { duration } from '../../lib/zod-units.ts';
import { DEFAULT_INHIBIT, DEFAULT_RULES } from './default-rules.ts';
import { ExprError, parseExpr } from './expr.ts';
import { MATCHER, SEVERITIES } from './model.ts';
import { templateProblem } from './template.ts';

/** keisan.yaml `monitor.alerts`: owned by src/monitor/alerts/. */

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a label name: letters, digits and _, not starting with a digit');
const ruleName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a rule name: letters, digits and _, e.g. DiskAlmostFull').max(100);

/** One entry of `rules`: a new rule, a change to a default (by name: only the fields given), or `disabled: true`. */
const ruleSetting = z
  .object({
    name: ruleName,
    expr: z.string().min(1).max(10_000).optional(),
    for: z.union([z.string(), z.number()]).optional(),
    /** Evaluate this rule only this often (default: every evaluationInterval). */
    interval: z.union([z.string(), z.number()]).optional(),
    severity: z.enum(SEVERITIES).optional(),
    labels: z.record(labelName, z.string().max(1000)).optional(),
    summary: z.string().max(2000).optional(),
    description: z.string().max(10_000).optional(),
    disabled: z.boolean().default(false),
  })
  .strict();
export type RuleSetting = z.output<typeof ruleSetting>;

/** `label=value`, `label!=value`, `label=~regex`, `label!~regex` (the value may be quoted). */
const matcherText = z.string().superRefine((text, ctx) => {
  const problem = matcherProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export function matcherProblem(text: string): string | null {
  const match = MATCHER.exec(text);
  if (!match) return `'${text}' is not a matcher: write label=value, label!=value, label=~regex or label!~regex`;
  if (match[2] === '=~' || match[2] === '!~') {
    try {
      new RegExp(`^(?:${unquote(match[3]!)})$`);
    } catch (error) {
      return `'${text}': bad regular expression (${error instanceof Error ? error.message : String(error)})`;
    }
  }
  return null;
}

export function unquote(value: string): string {
  return /^".*"$|^'.*'$/.test(value) ? value.slice(1, -1) : value;
}

const inhibitRule = z
  .object({
    /** Matchers an alert must meet to inhibit others… */
    source: z.array(matcherText).min(1),
    /** …matchers the inhibited alerts meet (none: every alert)… */
    target: z.array(matcherText).default([]),
    /** …and labels both must have equal (e.g. host). */
    equal: z.array(labelName).default([]),
  })
  .strict();
export type InhibitRule = z.output<typeof inhibitRule>;

const webhook = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    /** json: Alertmanager's webhook payload (version 4); slack: `{text, blocks}` for Slack, Mattermost, Rocket.Chat. */
    format: z.enum(['json', 'slack']).default('json'),
    minSeverity: z.enum(SEVERITIES).default('warning'),
    /** Extra headers, e.g. Authorization for the receiver. */
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict();
export type WebhookSetting = z.output<typeof webhook>;

export const alertsSettings = z
  .object({
    /** Rules are evaluated this often (the server's own clock). */
    evaluationInterval: duration.default(parseDuration('5s')),
    /** An instant selector takes a series' latest point within this long (PromQL's lookback). */
    lookback: duration.default(parseDuration('5m')),
    /**
     * After a server restart the in-memory history is empty: restored alerts whose series have
     * not come back are held this long before they count as resolved (no resolve-and-refire).
     */
    restoreGrace: duration.default(parseDuration('1m')),
    rules: z.array(ruleSetting).default([]),
    inhibit: z.array(inhibitRule).default(() => DEFAULT_INHIBIT.map((rule) => ({ ...rule, target: [...rule.target], source: [...rule.source], equal: [...rule.equal] }))),
    group: z
      .object({
        /** One notification per distinct value of these labels. */
        by: z.array(labelName).default(['alertname', 'host']),
        /** A new group waits this long for more alerts before its first notification. */
        wait: duration.default(parseDuration('10s')),
        /** Changes to a group (new or resolved alerts) are sent at most this often. */
        interval: duration.default(parseDuration('1m')),
        /** A group still firing is sent again after this long. */
        repeat: duration.default(parseDuration('4h')),
      })
      .strict()
      .default(() => ({ by: ['alertname', 'host'], wait: 10_000, interval: 60_000, repeat: 4 * 3_600_000 })),
    notify: z
      .object({
        /** Addresses that get every notification (through the mail outbox: mail: must be set). */
        email: z.array(email).default([]),
        /** Operators get them too: by e-mail (when their account has an address) and in-app. */
        operators: z.boolean().default(true),
        /** Alerts below this severity send no e-mail and no in-app notice. */
        minSeverity: z.enum(SEVERITIES).default('warning'),
        webhooks: z.array(webhook).default([]),
        /** Each webhook POST gives up after this long… */
        webhookTimeout: duration.default(parseDuration('10s')),
        /** …and is tried this many times in all (waiting 1 s, 5 s, 30 s… between). */
        webhookAttempts: z.number().int().min(1).max(10).default(4),
      })
      .strict()
      .default(() => ({ email: [], operators: true, minSeverity: 'warning' as const, webhooks: [], webhookTimeout: 10_000, webhookAttempts: 4 })),
    /** Bearer token Alertmanager sends to POST /api/monitor/alertmanager (the node secret works too). */
    alertmanagerToken: z.string().min(16, 'at least 16 characters').optional(),
  })
  .strict()
  .superRefine((settings, ctx) => {
    const seen = new Set<string>();
    settings.rules.forEach((rule, index) => {
      const at = (field: string) => ['rules', index, field];
      if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', path: at('name'), message: `rule '${rule.name}' is given twice` });
      seen.add(rule.name);
      const isDefault = DEFAULT_RULES.some((d) => d.name === rule.name);
      if (!isDefault && !rule.disabled) {
        if (rule.expr === undefined) ctx.addIssue({ code: 'custom', path: at('expr'), message: `rule '${rule.name}' is not a default rule, so it needs an expr` });
        if (rule.severity === undefined) ctx.addIssue({ code: 'custom', path: at('severity'), message: `rule '${rule.name}' needs a severity: ${SEVERITIES.join(', ')}` });
      }
      if (rule.expr !== undefined) {
        const problem = exprProblem(rule.expr);
        if (problem) ctx.addIssue({ code: 'custom', path: at('expr'), message: `rule '${rule.name}': ${problem}` });
      }
      for (const field of ['for', 'interval'] as const) {
        const value = rule[field];
        if (value === undefined) continue;
        try {
          parseDuration(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', path: at(field), message: `rule '${rule.name}': ${error instanceof Error ? error.message : String(error)}` });
        }
      }
      for (const field of ['summary', 'description'] as const) {
        const template = rule[field];
        const problem = template === undefined ? null : templateProblem(template);
        if (problem) ctx.addIssue({ code: 'custom', path: at(field), message: `rule '${rule.name}': ${problem}` });
      }
    });
  });
export type AlertsSettings = z.output<typeof alertsSettings>;

/** Why an expression is refused (with its position), or null. */
export function exprProblem(expr: string): string | null {
  try {
    parseExpr(expr);
    return null;
  } catch (error) {
    if (error instanceof ExprError) return error.message;
    throw error;
  }
}
