import { z } from 'zod';

/** keisan.yaml `monitor.metrics`: owned by src/monitor/metrics/. */
export const metricsSettings = z.object({}).strict();
export type MetricsSettings = z.output<typeof metricsSettings>;
