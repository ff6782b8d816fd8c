import { z } from 'zod';
import { STEP_KEYS } from './plan.ts';

/** What GET /api/ops/power and GET /api/ops/power/plan answer (times ISO-8601 UTC, durations ms). */

const timestamp = z.string().describe('ISO-8601 UTC time');

export const planStepSchema = z.object({
  step: z.number().int(),
  key: z.enum(STEP_KEYS),
  title: z.string(),
  detail: z.string(),
  skip: z.boolean(),
});

export const planSchema = z.object({
  ups: z.string(),
  steps: z.array(planStepSchema),
  text: z.string().describe('the plan as numbered lines'),
});
export type PlanView = z.infer<typeof planSchema>;

export const stepOutcomeSchema = z.object({
  step: z.number().int(),
  key: z.enum(STEP_KEYS),
  title: z.string(),
  ok: z.boolean(),
  message: z.string(),
  startedAt: timestamp,
  endedAt: timestamp,
});

export const powerStatusSchema = z.object({
  configured: z.boolean().describe('keisan.yaml has a power: section'),
  enabled: z.boolean(),
  ups: z.string().nullable().describe('NAME@HOST:PORT'),
  reachable: z.boolean().nullable().describe('null before the first poll'),
  flags: z.array(z.string()).describe('ups.status, e.g. ["OB", "DISCHRG"]'),
  statusText: z.string().nullable(),
  battery: z.object({ charge: z.number().nullable(), runtimeSeconds: z.number().nullable() }),
  polledAt: timestamp.nullable(),
  lastError: z.object({ at: timestamp, message: z.string() }).nullable(),
  phase: z.enum(['online', 'on-battery', 'shutting-down']),
  onBatterySince: timestamp.nullable(),
  onBatteryMs: z.number().nullable(),
  gracePeriodMs: z.number().nullable(),
  pollIntervalMs: z.number().nullable(),
  shutdownDueAt: timestamp.nullable().describe('when the plan starts if the UPS stays on battery'),
  next: z.string().describe('what will happen, and when, in words'),
  incidentId: z.number().int().nullable(),
  dispatchPaused: z.string().nullable().describe('why the batch scheduler starts no job (null: it does)'),
  shutdown: z
    .object({
      startedAt: timestamp,
      reason: z.string(),
      done: z.boolean(),
      steps: z.array(stepOutcomeSchema),
    })
    .nullable(),
});
export type PowerStatusView = z.infer<typeof powerStatusSchema>;
