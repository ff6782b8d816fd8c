import type { Kysely, Selectable } from 'kysely';
import type { Database, MaintApprovalTable, MaintPlanTable, MaintStepRunTable } from '../../db/schema.ts';
import type { ApprovalRecord, PlanSpec, PlanState, Risk, RunState, Step, StepRun } from './model.ts';

/** Database access for maintenance plans. No rules here: the service decides, the store reads and writes. */
export type Tx = Kysely<Database>;
export type PlanRow = Selectable<MaintPlanTable>;
export type ApprovalRow = Selectable<MaintApprovalTable>;
export type RunRow = Selectable<MaintStepRunTable>;

export interface StoredPlan {
  id: number;
  spec: PlanSpec;
  author: string;
  editors: string[];
  state: PlanState;
  hash: string;
  revision: number;
  nextStep: number;
  haltReason: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export function toStoredPlan(row: PlanRow): StoredPlan {
  return {
    id: Number(row.id),
    spec: {
      title: row.title,
      risk: row.risk as Risk,
      window: { start: row.window_start, end: row.window_end },
      targets: JSON.parse(row.targets) as string[],
      steps: JSON.parse(row.steps) as Step[],
      runbook: row.runbook,
    },
    author: row.author,
    editors: JSON.parse(row.editors) as string[],
    state: row.state as PlanState,
    hash: row.content_hash,
    revision: Number(row.revision),
    nextStep: Number(row.next_step),
    haltReason: row.halt_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

const iso = (text: string) => new Date(text).toISOString();

/** A plan's content as its columns (what an edit replaces). */
function specColumns(spec: PlanSpec) {
  return {
    title: spec.title.trim(),
    risk: spec.risk,
    window_start: iso(spec.window.start),
    window_end: iso(spec.window.end),
    targets: JSON.stringify(spec.targets),
    steps: JSON.stringify(spec.steps),
    runbook: spec.runbook,
  };
}

export async function insertPlan(db: Tx, spec: PlanSpec, author: string, hash: string, at: Date): Promise<number> {
  const row = await db
    .insertInto('maint_plans')
    .values({
      ...specColumns(spec),
      author,
      editors: JSON.stringify([author]),
      state: 'draft',
      content_hash: hash,
      revision: 1,
      next_step: 0,
      halt_reason: null,
      created_at: at.toISOString(),
      updated_at: at.toISOString(),
      started_at: null,
      finished_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function findPlan(db: Tx, id: number): Promise<StoredPlan | undefined> {
  const row = await db.selectFrom('maint_plans').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toStoredPlan(row) : undefined;
}

export async function listPlans(db: Tx, filter: { states?: readonly PlanState[] } = {}): Promise<StoredPlan[]> {
  let query = db.selectFrom('maint_plans').selectAll();
  if (filter.states) query = query.where('state', 'in', [...filter.states]);
  return (await query.orderBy('window_start', 'desc').orderBy('id', 'desc').execute()).map(toStoredPlan);
}

/** Plans that ran (started) in [from, to): started before `to` and not finished before `from`. */
export async function plansRunIn(db: Tx, from: Date, to: Date): Promise<StoredPlan[]> {
  const rows = await db
    .selectFrom('maint_plans')
    .selectAll()
    .where('started_at', 'is not', null)
    .where('started_at', '<', to.toISOString())
    .where((eb) => eb.or([eb('finished_at', 'is', null), eb('finished_at', '>=', from.toISOString())]))
    .orderBy('started_at')
    .execute();
  return rows.map(toStoredPlan);
}

export type PlanChanges = Partial<{
  spec: PlanSpec;
  editors: string[];
  state: PlanState;
  hash: string;
  revision: number;
  nextStep: number;
  haltReason: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}>;

export async function updatePlan(db: Tx, id: number, changes: PlanChanges, at: Date): Promise<void> {
  const spec = changes.spec;
  await db
    .updateTable('maint_plans')
    .set({
      ...(spec ? specColumns(spec) : {}),
      ...(changes.editors !== undefined ? { editors: JSON.stringify(changes.editors) } : {}),
      ...(changes.state !== undefined ? { state: changes.state } : {}),
      ...(changes.hash !== undefined ? { content_hash: changes.hash } : {}),
      ...(changes.revision !== undefined ? { revision: changes.revision } : {}),
      ...(changes.nextStep !== undefined ? { next_step: changes.nextStep } : {}),
      ...(changes.haltReason !== undefined ? { halt_reason: changes.haltReason } : {}),
      ...(changes.startedAt !== undefined ? { started_at: changes.startedAt.toISOString() } : {}),
      ...(changes.finishedAt !== undefined ? { finished_at: changes.finishedAt === null ? null : changes.finishedAt.toISOString() } : {}),
      updated_at: at.toISOString(),
    })
    .where('id', '=', id)
    .execute();
}

// ---- approvals

export async function insertApproval(db: Tx, planId: number, approval: { approver: string; hash: string; comment: string; at: Date; expiresAt: Date }): Promise<void> {
  await db
    .insertInto('maint_approvals')
    .values({
      plan_id: planId,
      approver: approval.approver,
      content_hash: approval.hash,
      comment: approval.comment,
      approved_at: approval.at.toISOString(),
      expires_at: approval.expiresAt.toISOString(),
      voided_at: null,
      void_reason: null,
    })
    .execute();
}

export async function approvalsOf(db: Tx, planId: number): Promise<ApprovalRow[]> {
  return db.selectFrom('maint_approvals').selectAll().where('plan_id', '=', planId).orderBy('id').execute();
}

export async function voidApprovals(db: Tx, planId: number, reason: string, at: Date): Promise<number> {
  const result = await db
    .updateTable('maint_approvals')
    .set({ voided_at: at.toISOString(), void_reason: reason })
    .where('plan_id', '=', planId)
    .where('voided_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export function toApprovalRecord(row: ApprovalRow): ApprovalRecord {
  return { approver: row.approver, hash: row.content_hash, approvedAt: new Date(row.approved_at), expiresAt: new Date(row.expires_at), voidedAt: row.voided_at === null ? null : new Date(row.voided_at) };
}

// ---- step runs

export async function insertRun(db: Tx, run: { planId: number; stepIndex: number; host: string; kind: 'manual' | 'command'; command: string | null; state: RunState; operator: string; at: Date }): Promise<number> {
  const row = await db
    .insertInto('maint_step_runs')
    .values({
      plan_id: run.planId,
      step_index: run.stepIndex,
      host: run.host,
      kind: run.kind,
      command: run.command,
      state: run.state,
      operator: run.operator,
      queued_at: run.at.toISOString(),
      claimed_at: null,
      finished_at: null,
      exit_code: null,
      timed_out: 0,
      output: '',
      verdict: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function findRun(db: Tx, id: number): Promise<RunRow | undefined> {
  return db.selectFrom('maint_step_runs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function runsOf(db: Tx, planId: number): Promise<RunRow[]> {
  return db.selectFrom('maint_step_runs').selectAll().where('plan_id', '=', planId).orderBy('id').execute();
}

/** Runs not finished: queued or running. */
export async function openRuns(db: Tx, filter: { planId?: number; host?: string } = {}): Promise<RunRow[]> {
  let query = db.selectFrom('maint_step_runs').selectAll().where('state', 'in', ['queued', 'running']);
  if (filter.planId !== undefined) query = query.where('plan_id', '=', filter.planId);
  if (filter.host !== undefined) query = query.where('host', '=', filter.host);
  return query.orderBy('id').execute();
}

export async function updateRun(
  db: Tx,
  id: number,
  changes: Partial<{ state: RunState; claimedAt: Date; finishedAt: Date; exitCode: number | null; timedOut: boolean; output: string; verdict: string }>,
): Promise<void> {
  await db
    .updateTable('maint_step_runs')
    .set({
      ...(changes.state !== undefined ? { state: changes.state } : {}),
      ...(changes.claimedAt !== undefined ? { claimed_at: changes.claimedAt.toISOString() } : {}),
      ...(changes.finishedAt !== undefined ? { finished_at: changes.finishedAt.toISOString() } : {}),
      ...(changes.exitCode !== undefined ? { exit_code: changes.exitCode } : {}),
      ...(changes.timedOut !== undefined ? { timed_out: changes.timedOut ? 1 : 0 } : {}),
      ...(changes.output !== undefined ? { output: changes.output } : {}),
      ...(changes.verdict !== undefined ? { verdict: changes.verdict } : {}),
    })
    .where('id', '=', id)
    .execute();
}

export function toStepRun(row: RunRow): StepRun {
  return {
    id: Number(row.id),
    planId: Number(row.plan_id),
    step: Number(row.step_index) + 1,
    host: row.host,
    kind: row.kind as 'manual' | 'command',
    command: row.command,
    state: row.state as RunState,
    operator: row.operator,
    queuedAt: row.queued_at,
    claimedAt: row.claimed_at,
    finishedAt: row.finished_at,
    exitCode: row.exit_code === null ? null : Number(row.exit_code),
    timedOut: Number(row.timed_out) === 1,
    output: row.output,
    verdict: row.verdict,
  };
}
