import { z } from 'zod';
import { DECISIONS, EVENT_ACTIONS, EVENT_OUTCOMES, RECOVERY_MODES, RULES, askFieldsSchema, recoveryTimingsSchema } from './model.ts';

/**
 * The server's view of recovery events (GET /api/recovery/events, keisan recovery events): what
 * the watchdog reported (model.ts recoveryEventInputSchema), with its id and when it arrived.
 */
export const recoveryEventSchema = z.object({
  id: z.number().int(),
  host: z.string(),
  at: z.string().describe('ISO-8601 UTC time of the decision on the node'),
  rule: z.enum(RULES),
  severity: z.string(),
  jobId: z.number().int().nullable().describe('the Keisan job (for a SLURM job: the one whose SLURM id it is; null when Keisan did not submit it)'),
  slurmJobId: z.number().int().nullable().optional().describe("SLURM's job id, when the watchdog of a SLURM node reported it"),
  pid: z.number().int().nullable(),
  user: z.string().nullable().describe("the job's owner (from the job record when the job is known)"),
  mode: z.enum(RECOVERY_MODES),
  action: z.enum(EVENT_ACTIONS),
  outcome: z.enum(EVENT_OUTCOMES),
  explanation: z.string(),
  victimExplanation: z.string(),
  metrics: z.record(z.string(), z.number()),
  timings: recoveryTimingsSchema.nullable(),
  evidencePath: z.string().nullable().describe('the evidence file on that host'),
  error: z.string().nullable(),
  receivedAt: z.string(),
  ask: askFieldsSchema.nullable().describe('ask mode: the key linking the pending event and its follow-up, the deadline and the decision'),
});
export type RecoveryEvent = z.infer<typeof recoveryEventSchema>;

export const eventQuerySchema = z
  .object({
    since: z.string().optional().describe('a duration back from now (1h, 2d) or an ISO time'),
    host: z.string().min(1).optional(),
    job: z.coerce.number().int().positive().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type EventQuery = z.infer<typeof eventQuerySchema>;

/** How an event names its victim: `job 12`, `job 12 (SLURM job 4711)`, `SLURM job 4711` (not Keisan's), or `process 99`. */
export function victimName(event: Pick<RecoveryEvent, 'jobId' | 'slurmJobId' | 'pid'>): string {
  const slurm = event.slurmJobId ?? null;
  if (event.jobId !== null) return `job ${event.jobId}${slurm !== null ? ` (SLURM job ${slurm})` : ''}`;
  if (slurm !== null) return `SLURM job ${slurm}`;
  return `process ${event.pid ?? '?'}`;
}

/** The actions that end or hold a user's work: the owner is told, the audit log and the incident hook see them. */
export const ACTED_ON: ReadonlySet<string> = new Set(['kill', 'stop', 'throttle']);

/** A victim frozen while an operator decides (GET /api/recovery/pending). */
export const pendingDecisionSchema = z.object({
  id: z.number().int().describe('the pending event: keisan recovery approve|deny ID'),
  key: z.string(),
  host: z.string(),
  jobId: z.number().int().nullable(),
  slurmJobId: z.number().int().nullable().optional().describe("SLURM's job id, for a SLURM node's job"),
  pid: z.number().int().nullable(),
  user: z.string().nullable(),
  rule: z.enum(RULES),
  proposed: z.enum(EVENT_ACTIONS),
  frozenAt: z.string(),
  deadline: z.string(),
  state: z.enum(['pending', ...DECISIONS]),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  reason: z.string().nullable(),
  explanation: z.string(),
});
export type PendingDecision = z.infer<typeof pendingDecisionSchema>;

export const denyBodySchema = z.object({ reason: z.string().max(1000).optional() }).strict();
