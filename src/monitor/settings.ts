import { z } from 'zod';
import { parseDuration } from '../lib/units.ts';
import { duration } from '../lib/zod-units.ts';
import { alertsSettings } from './alerts/settings.ts';
import { checksSettings } from './checks/settings.ts';
import { metricsSettings } from './metrics/settings.ts';

/** keisan.yaml `monitor:`: how often agents sample and report, how much history the server keeps. */
export const monitorSettings = z
  .object({
    /** Agents sample metrics and report every this long (node_exporter's usual scrape interval). */
    interval: duration.default(parseDuration('15s')),
    /** The server keeps this much recent history in memory for the CLI, the web UI and alert rules. */
    history: duration.default(parseDuration('6h')),
    /** At most this many series in that history (new series beyond it are dropped and counted). */
    maxSeries: z.number().int().min(100).default(500_000),
    metrics: metricsSettings.default(() => metricsSettings.parse({})),
    checks: checksSettings.default(() => checksSettings.parse({})),
    alerts: alertsSettings.default(() => alertsSettings.parse({})),
  })
  .strict();
export type MonitorSettings = z.output<typeof monitorSettings>;
