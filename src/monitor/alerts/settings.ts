import { z } from 'zod';

/** keisan.yaml `monitor.alerts`: owned by src/monitor/alerts/. */
export const alertsSettings = z.object({}).strict();
export type AlertsSettings = z.output<typeof alertsSettings>;
