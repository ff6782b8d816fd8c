import { z } from 'zod';

/** keisan.yaml `monitor.checks`: owned by src/monitor/checks/. */
export const checksSettings = z.object({}).strict();
export type ChecksSettings = z.output<typeof checksSettings>;
