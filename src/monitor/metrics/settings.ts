import { z } from 'zod';

/**
 * keisan.yaml `monitor.metrics`: owned by src/monitor/metrics/. Where each agent serves its
 * Prometheus endpoint (`GET /metrics`), like node_exporter's :9100.
 */
export const metricsSettings = z
  .object({
    /** The address the agent's /metrics listens on ('0.0.0.0': every interface, for Prometheus on another host). */
    listen: z.string().min(1).default('0.0.0.0'),
    /** The agent's /metrics port; `false` serves no /metrics (the agent still reports to the server). */
    port: z.union([z.number().int().min(1).max(65535), z.literal(false)]).default(9810),
    /** Sample GPUs with nvidia-smi when it is installed (a machine without it simply has no GPU series). */
    gpus: z.boolean().default(true),
  })
  .strict();
export type MetricsSettings = z.output<typeof metricsSettings>;
