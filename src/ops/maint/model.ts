import { createHash } from 'node:crypto';
import { z } from 'zod';
import { noNul } from '../../accounts/model.ts';
import { hostName } from '../inventory/model.ts';
import { runbookName } from '../runbooks/model.ts';

/**
 * Maintenance plans (issue 7, change management): what will be done to which hosts, in which
 * window, step by step with the expected result and the way back, approved by other operators
 * for exactly that content, then run one step at a time behind the redundancy guard. This module
 * holds the schemas and the pure rules (state machine, content hash, approvals, step verdicts).
 */

export const RISKS = ['low', 'medium', 'high'] as const;
export type Risk = (typeof RISKS)[number];

export const STATES = ['draft', 'pending-approval', 'approved', 'running', 'halted', 'completed', 'cancelled'] as const;
export type PlanState = (typeof STATES)[number];

export const RUN_STATES = ['queued', 'running', 'passed', 'failed', 'cancelled'] as const;
export type RunState = (typeof RUN_STATES)[number];

const timestamp = z.string().describe('ISO-8601 UTC time');

// ---- steps ----

const rollback = noNul('rollback').max(5000, 'rollback is longer than 5000 characters').describe('how to undo the step');
const takesDown = z
  .boolean({ error: 'takesDown must be true or false' })
  .default(true)
  .describe('the step takes its host out of service (default true); false for read-only steps such as status checks');

export const commandExpectSchema = z
  .object({
    exitCode: z.number({ error: 'expect.exitCode must be a whole number' }).int('expect.exitCode must be a whole number').min(0).max(255).default(0),
    contains: noNul('expect.contains').min(1).max(2000).optional().describe('a text the output (stdout and stderr) must contain'),
    matches: noNul('expect.matches')
      .min(1)
      .max(2000)
      .refine((text) => regexProblem(text) === null, { error: (issue) => `expect.matches: ${regexProblem(String(issue.input))}` })
      .optional()
      .describe('a regular expression (JavaScript syntax) the output must match'),
  })
  .strict();

export const commandStepSchema = z
  .object({
    kind: z.literal('command'),
    host: hostName.describe('one of the plan targets'),
    command: noNul('command')
      .max(4000, 'command is longer than 4000 characters')
      .refine((s) => s.trim() !== '', 'command must not be empty: the shell command line the agent runs with sh -c'),
    expect: commandExpectSchema.default({ exitCode: 0 }),
    rollback: rollback.default(''),
    takesDown,
  })
  .strict();

export const manualStepSchema = z
  .object({
    kind: z.literal('manual'),
    host: hostName.describe('one of the plan targets'),
    instruction: noNul('instruction')
      .max(5000, 'instruction is longer than 5000 characters')
      .refine((s) => s.trim() !== '', 'instruction must not be empty: say what the operator does'),
    expect: noNul('expect')
      .max(2000, 'expect is longer than 2000 characters')
      .refine((s) => s.trim() !== '', 'a manual step needs expect: the observation the operator confirms'),
    rollback: rollback.default(''),
    takesDown,
  })
  .strict();

export const stepSchema = z.discriminatedUnion('kind', [commandStepSchema, manualStepSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? "each step needs kind: 'command' (a shell command the agent runs) or 'manual' (an instruction the operator confirms)" : undefined),
});
export type Step = z.output<typeof stepSchema>;
export type StepInput = z.input<typeof stepSchema>;

// ---- plans ----

const timeInput = (what: string) => z.iso.datetime({ offset: true, error: `${what} must be an ISO-8601 time such as 2026-11-24T08:00:00Z` });

export const windowSchema = z.object({ start: timestamp, end: timestamp });
export const windowInput = z.object({ start: timeInput('window.start'), end: timeInput('window.end') }).strict();

export const title = noNul('title')
  .max(200, 'title is longer than 200 characters')
  .refine((s) => s.trim() !== '', 'title must not be empty: say in a few words what the maintenance does');

const riskInput = z.enum(RISKS, { error: `risk must be one of ${RISKS.join(', ')}` });

export const planInput = z
  .object({
    title,
    risk: riskInput,
    window: windowInput,
    targets: z.array(hostName).min(1, 'a plan needs at least one target host').max(100, 'at most 100 targets'),
    steps: z.array(stepSchema).min(1, 'a plan needs at least one step').max(200, 'at most 200 steps'),
    runbook: runbookName.describe('the recovery runbook the plan relies on (keisan ops runbook add)'),
  })
  .strict();
export type PlanInput = z.input<typeof planInput>;
export type PlanSpec = z.output<typeof planInput>;

/** An edit: the fields given replace the old ones whole. */
export const planPatch = planInput.partial().strict();
export type PlanPatch = z.input<typeof planPatch>;

export const approvalSchema = z.object({
  approver: z.string(),
  approvedAt: timestamp,
  expiresAt: timestamp,
  comment: z.string(),
  hash: z.string(),
  valid: z.boolean().describe('binds the current content, not expired, not voided'),
  voidReason: z.string().nullable(),
});
export type Approval = z.infer<typeof approvalSchema>;

export const stepRunSchema = z.object({
  id: z.number().int(),
  planId: z.number().int(),
  step: z.number().int().describe('1-based step number'),
  host: z.string(),
  kind: z.enum(['manual', 'command']),
  command: z.string().nullable(),
  state: z.enum(RUN_STATES),
  operator: z.string(),
  queuedAt: timestamp,
  claimedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
  exitCode: z.number().int().nullable(),
  timedOut: z.boolean(),
  output: z.string(),
  verdict: z.string().nullable(),
});
export type StepRun = z.infer<typeof stepRunSchema>;

export const planSummarySchema = z.object({
  id: z.number().int(),
  title: z.string(),
  risk: z.enum(RISKS),
  state: z.enum(STATES),
  window: windowSchema,
  targets: z.array(z.string()),
  runbook: z.string(),
  author: z.string(),
  steps: z.number().int(),
  nextStep: z.number().int().describe('1-based number of the next step to run; steps + 1 when all are done'),
  approvals: z.number().int().describe('valid approvals now'),
  approvalsNeeded: z.number().int(),
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
  updatedAt: timestamp,
});
export type PlanSummary = z.infer<typeof planSummarySchema>;

export const planSchema = planSummarySchema.extend({
  stepList: z.array(stepSchema),
  hash: z.string().describe('sha256 of the canonical JSON of targets, steps, window and risk: what an approval binds'),
  revision: z.number().int(),
  editors: z.array(z.string()),
  haltReason: z.string().nullable(),
  approvalList: z.array(approvalSchema),
  runs: z.array(stepRunSchema),
  createdAt: timestamp,
});
export type Plan = z.infer<typeof planSchema>;

export const approveInput = z.object({ comment: noNul('comment').max(2000).default('') }).strict();
export const rejectInput = z.object({ reason: noNul('reason').min(1, 'say why the plan is rejected (reason)').max(2000) }).strict();
export const cancelInput = z.object({ reason: noNul('reason').max(2000).default('') }).strict();
export const executeInput = z
  .object({
    confirmHost: z.string({ error: "confirmHost is required: type the step's target host name" }).max(253),
    result: z.enum(['ok', 'failed'], { error: 'result must be ok or failed' }).optional().describe('manual steps: what the operator observed'),
    note: noNul('note').max(2000).optional(),
  })
  .strict();
export type ExecuteInput = z.input<typeof executeInput>;

export const agentWorkSchema = z.object({
  id: z.number().int(),
  planId: z.number().int(),
  step: z.number().int(),
  command: z.string(),
  timeoutMs: z.number().int(),
  maxOutputBytes: z.number().int(),
});
export type AgentWork = z.infer<typeof agentWorkSchema>;

export const agentResultInput = z
  .object({
    host: hostName,
    exitCode: z.number().int().nullable().describe('null when the command could not run or was killed'),
    stdout: z.string().max(2 * 1024 * 1024),
    stderr: z.string().max(2 * 1024 * 1024),
    timedOut: z.boolean(),
    failure: z.string().max(2000).optional(),
    durationMs: z.number().int().min(0),
  })
  .strict();
export type AgentResult = z.infer<typeof agentResultInput>;

// ---- pure rules ----

/** JSON with object keys sorted at every level: the same content always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What an approval binds: sha256 over the canonical JSON of targets (sorted), steps, window and risk. */
export function contentHash(spec: Pick<PlanSpec, 'targets' | 'steps' | 'window' | 'risk'>): string {
  const content = {
    risk: spec.risk,
    window: { start: new Date(spec.window.start).toISOString(), end: new Date(spec.window.end).toISOString() },
    targets: [...spec.targets].sort(),
    steps: spec.steps,
  };
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** One other operator approves; two distinct others for high risk. */
export function approvalsNeeded(risk: Risk): number {
  return risk === 'high' ? 2 : 1;
}

export interface ApprovalRecord {
  approver: string;
  hash: string;
  approvedAt: Date;
  expiresAt: Date;
  voidedAt: Date | null;
}

/** When an approval given at `at` expires: after `days`, and never after the window's end. */
export function approvalExpiry(at: Date, days: number, windowEnd: Date): Date {
  const byAge = new Date(at.getTime() + days * 86_400_000);
  return byAge < windowEnd ? byAge : windowEnd;
}

/** Whether one approval still counts: it binds `hash`, is not voided, has not expired, and is not by one of the plan's editors. */
export function approvalValid(approval: ApprovalRecord, hash: string, editors: readonly string[], now: Date): boolean {
  return approval.voidedAt === null && approval.hash === hash && approval.expiresAt > now && !editors.includes(approval.approver);
}

/** The distinct approvers whose approvals count now. */
export function validApprovers(approvals: readonly ApprovalRecord[], hash: string, editors: readonly string[], now: Date): string[] {
  return [...new Set(approvals.filter((a) => approvalValid(a, hash, editors, now)).map((a) => a.approver))].sort();
}

/** `started`: the plan has run steps already (it stays halted rather than going back to draft or pending). */
export type PlanEvent =
  | { type: 'edit'; started?: boolean }
  | { type: 'submit' }
  | { type: 'approve'; enough: boolean }
  | { type: 'reject'; started?: boolean }
  | { type: 'expire'; started?: boolean }
  | { type: 'start' }
  | { type: 'step-passed'; last: boolean }
  | { type: 'step-failed' }
  | { type: 'cancel' };

export type Transition = { ok: true; to: PlanState; reason: string } | { ok: false; reason: string };

const refuse = (reason: string): Transition => ({ ok: false, reason });
const go = (to: PlanState, reason: string): Transition => ({ ok: true, to, reason });

/**
 * The plan's state machine:
 * draft → (submit) pending-approval → (enough approvals) approved → (start) running → (last step
 * passed) completed. A step whose result differs halts the plan (running → halted, approvals
 * voided); a halted plan needs approving again (halted → approved) and then runs on from the
 * halted step. An edit sends a plan not yet started back to draft, a rejection too, and expired
 * approvals send it back to pending-approval; a plan that has started (its hosts are part-way
 * through the work) goes to halted instead, so that it stays under maintenance and needs approving
 * again. A running plan is not edited. Any plan not finished may be cancelled. completed and
 * cancelled are final.
 */
export function transition(from: PlanState, event: PlanEvent): Transition {
  if (from === 'completed' || from === 'cancelled') return refuse(`the plan is ${from}: nothing more can happen to it`);
  switch (event.type) {
    case 'edit':
      if (from === 'running') return refuse('the plan is running: cancel it, or let a step halt it, before editing (a running plan may not change under the operator)');
      if (event.started) return go('halted', 'edited after it started: approvals void; it needs approving again to run on');
      return go('draft', from === 'draft' ? 'edited' : `edited while ${from}: back to draft, approvals void; submit it again`);
    case 'submit':
      if (from === 'draft') return go('pending-approval', 'submitted for approval');
      if (from === 'halted') return go('halted', 'already waiting for re-approval after the halt');
      return refuse(`the plan is ${from}: only a draft can be submitted`);
    case 'approve':
      if (from === 'pending-approval' || from === 'halted') return go(event.enough ? 'approved' : from, event.enough ? 'approved' : 'approval recorded; more needed');
      if (from === 'approved') return go('approved', 'approval recorded');
      return refuse(from === 'draft' ? 'the plan is a draft: its author submits it first (keisan maint submit)' : `the plan is ${from}: there is nothing to approve`);
    case 'reject':
      if (from === 'pending-approval' || from === 'approved' || from === 'halted') return event.started ? go('halted', 'rejected after it started: it stays halted') : go('draft', 'rejected: back to draft');
      return refuse(`the plan is ${from}: only a plan waiting for approval or approved can be rejected`);
    case 'expire':
      if (from === 'approved') return go(event.started ? 'halted' : 'pending-approval', 'its approvals expired: it needs approving again');
      return refuse(`the plan is ${from}: only approvals of an approved plan expire it`);
    case 'start':
      if (from === 'approved') return go('running', 'started');
      if (from === 'halted') return refuse('the plan halted: it needs approving again before it runs on (keisan maint approve)');
      return refuse(`the plan is ${from}: only an approved plan can be run`);
    case 'step-passed':
      if (from !== 'running') return refuse(`the plan is ${from}, not running`);
      return go(event.last ? 'completed' : 'running', event.last ? 'every step done' : 'step done');
    case 'step-failed':
      if (from !== 'running') return refuse(`the plan is ${from}, not running`);
      return go('halted', 'a step did not give its expected result: halted, approvals void');
    case 'cancel':
      return go('cancelled', 'cancelled');
  }
}

/** null when `pattern` is a usable regular expression, else why not. */
export function regexProblem(pattern: string): string | null {
  try {
    new RegExp(pattern);
    return null;
  } catch (error) {
    return `'${pattern}' is not a regular expression: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export interface CommandOutcome {
  exitCode: number | null;
  output: string;
  timedOut: boolean;
  failure?: string | undefined;
}

/** Did a command step give what it expected? The reason says what differed (or what matched). */
export function commandVerdict(expect: z.output<typeof commandExpectSchema>, outcome: CommandOutcome): { passed: boolean; reason: string } {
  if (outcome.timedOut) return { passed: false, reason: `the command did not finish in time${outcome.failure ? ` (${outcome.failure})` : ''}` };
  if (outcome.exitCode === null) return { passed: false, reason: `the command did not run to its end${outcome.failure ? `: ${outcome.failure}` : ''}` };
  if (outcome.exitCode !== expect.exitCode) return { passed: false, reason: `exit code ${outcome.exitCode}, expected ${expect.exitCode}` };
  if (expect.contains !== undefined && !outcome.output.includes(expect.contains)) return { passed: false, reason: `the output does not contain ${JSON.stringify(expect.contains)}` };
  if (expect.matches !== undefined && !new RegExp(expect.matches, 'm').test(outcome.output)) return { passed: false, reason: `the output does not match /${expect.matches}/` };
  return { passed: true, reason: `exit code ${outcome.exitCode} as expected${expect.contains !== undefined ? `, output contains ${JSON.stringify(expect.contains)}` : ''}${expect.matches !== undefined ? `, output matches /${expect.matches}/` : ''}` };
}

/** Problems of a plan's content that need no database: steps on hosts that are not targets, a window backwards. */
export function specProblems(spec: PlanSpec): string[] {
  const problems: string[] = [];
  const start = new Date(spec.window.start);
  const end = new Date(spec.window.end);
  if (end <= start) problems.push(`window.end (${end.toISOString()}) must be after window.start (${start.toISOString()})`);
  if (end.getTime() - start.getTime() > 30 * 86_400_000) problems.push('the window is longer than 30 days: plan a shorter one');
  const targets = new Set(spec.targets);
  if (targets.size !== spec.targets.length) problems.push('a target is listed twice');
  spec.steps.forEach((step, i) => {
    if (!targets.has(step.host)) problems.push(`step ${i + 1}: host ${step.host} is not one of the plan's targets (${spec.targets.join(', ')})`);
  });
  const unused = spec.targets.filter((t) => !spec.steps.some((s) => s.host === t));
  if (unused.length > 0) problems.push(`target ${unused.join(', ')} has no step: remove it from targets or add its steps`);
  return problems;
}

/** The hosts the plan takes out of service at some point: targets of steps with takesDown. */
export function hostsTakenDown(steps: readonly Step[]): string[] {
  return [...new Set(steps.filter((s) => s.takesDown).map((s) => s.host))];
}

/** Whether the operator typed the step's host: exact name, ignoring case and surrounding spaces. */
export function hostConfirmed(typed: string, host: string): boolean {
  return typed.trim().toLowerCase() === host.toLowerCase();
}

/** A command step queued this long without the agent picking it up, or running past its timeout plus a minute, has failed. */
export function overdueReason(run: { state: RunState; queuedAt: Date; claimedAt: Date | null; host: string }, limits: { pickupMs: number; commandMs: number }, now: Date): string | null {
  if (run.state === 'queued' && now.getTime() - run.queuedAt.getTime() > limits.pickupMs) {
    return `the agent on ${run.host} did not pick the step up within ${Math.round(limits.pickupMs / 1000)} s: is keisan agent running there, with this host name?`;
  }
  if (run.state === 'running' && run.claimedAt !== null && now.getTime() - run.claimedAt.getTime() > limits.commandMs + 60_000) {
    return `the agent on ${run.host} took the step but sent no result within ${Math.round(limits.commandMs / 1000) + 60} s`;
  }
  return null;
}
