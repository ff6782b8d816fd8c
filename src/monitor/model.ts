import { z } from 'zod';

/**
 * What agents send and the server keeps. Metric names follow node_exporter where one exists
 * (node_load1, node_memory_MemAvailable_bytes…) so Prometheus rules and Grafana dashboards written
 * for node_exporter work on Keisan's data too; Keisan's own series start with `keisan_`.
 */

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a label name: letters, digits and _, not starting with a digit');
export const metricName = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a metric name: letters, digits, _ and :, not starting with a digit');

export const sampleSchema = z
  .object({
    name: metricName,
    labels: z.record(labelName, z.string().max(1024)).default({}),
    value: z.number(),
  })
  .strict();
export type Sample = z.infer<typeof sampleSchema>;

export const CHECK_STATUSES = ['ok', 'warning', 'critical', 'unknown'] as const;
export const checkStatusSchema = z.enum(CHECK_STATUSES);
export type CheckStatus = z.infer<typeof checkStatusSchema>;
/** The value of `keisan_check_status`: alert rules compare it (`>= 2` is critical or worse). */
export const CHECK_STATUS_VALUE: Record<CheckStatus, number> = { ok: 0, warning: 1, critical: 2, unknown: 3 };

export const checkResultSchema = z
  .object({
    /** Unique per host: the type and its target, e.g. `filesystem:/data`, `process:sshd`. */
    check: z.string().min(1).max(300),
    type: z.string().regex(/^[a-z][a-z0-9-]*$/),
    target: z.string().max(1024),
    status: checkStatusSchema,
    /** One line that says what and where: "/data is 91.2 % full (9.1 of 10 GiB) on node7". */
    summary: z.string().max(2000),
    /** The measured number the status was decided on, if any (percent, seconds, days…). */
    value: z.number().nullable().default(null),
    details: z.record(z.string(), z.unknown()).default({}),
    at: z.iso.datetime(),
    /** How long the check took, in milliseconds. */
    durationMs: z.number().min(0).default(0),
  })
  .strict();
export type CheckResult = z.infer<typeof checkResultSchema>;

/** POST /api/monitor/report: what an agent pushes every interval (samples) and when checks finish. */
export const agentReportSchema = z
  .object({
    host: z.string().min(1).max(255).regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'host must be a host name'),
    at: z.iso.datetime(),
    samples: z.array(sampleSchema).max(100_000).default([]),
    checks: z.array(checkResultSchema).max(10_000).default([]),
  })
  .strict();
export type AgentReport = z.infer<typeof agentReportSchema>;

export interface SeriesPoint {
  /** Milliseconds since the epoch. */
  t: number;
  v: number;
}

/** One time series: its name, labels (always with `host` for agent data) and points, oldest first. */
export interface Series {
  name: string;
  labels: Record<string, string>;
  points: SeriesPoint[];
}

export type LabelMatchOp = '=' | '!=' | '=~' | '!~';
export interface LabelMatcher {
  name: string;
  op: LabelMatchOp;
  value: string;
}

/** What the alert engine, the CLI and the web UI read recent history through. */
export interface SeriesReader {
  select(name: string, matchers: readonly LabelMatcher[], fromMs: number, toMs: number): Series[];
  /** Every metric name held now, sorted. */
  names(): string[];
}
