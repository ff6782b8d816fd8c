import { z } from 'zod';
import { duration } from '../../lib/zod-units.ts';

/**
 * keisan.yaml `maintenance:` (optional). Approvals expire after `approvalExpiryDays` (and never
 * outlive the plan's window); the agent gives a command step `commandTimeout` to finish and keeps
 * at most `outputLimitBytes` of its output; a queued command step the agent has not picked up
 * within `pickupTimeout` fails (and halts the plan); `runbookTestedWithinDays` is how recent a
 * runbook's test must be for `keisan ops runbooks --gaps`.
 */
export const maintenanceSettings = z
  .object({
    approvalExpiryDays: z.number().int().min(1, 'approvalExpiryDays must be at least 1').max(365, 'approvalExpiryDays must be at most 365').default(7),
    commandTimeout: duration.default(600_000),
    pickupTimeout: duration.default(300_000),
    outputLimitBytes: z.number().int().min(1024).max(1024 * 1024).default(64 * 1024),
    /** How often the agent asks for work (GET /api/ops/maint/agent-work). */
    agentPollInterval: duration.default(10_000),
    runbookTestedWithinDays: z.number().int().min(1).max(3650).default(365),
  })
  .strict();
export type MaintenanceSettings = z.output<typeof maintenanceSettings>;
