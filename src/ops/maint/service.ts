import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { writeAudit, type AuditRecord } from '../../accounts/audit.ts';
import { SYSTEM_ACTOR, type Actor } from '../../accounts/model.ts';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { describeIssues } from '../../lib/config.ts';
import { conflict, forbidden, invalidInput, notFound, type KeisanError } from '../../lib/errors.ts';
import { checkTakeDown, sameHost } from '../inventory/redundancy.ts';
import type { InventoryService } from '../inventory/service.ts';
import type { RunbookService } from '../runbooks/service.ts';
import {
  approvalExpiry,
  approvalsNeeded,
  approvalValid,
  approveInput,
  cancelInput,
  commandVerdict,
  contentHash,
  executeInput,
  hostConfirmed,
  hostsTakenDown,
  overdueReason,
  planInput,
  planPatch,
  rejectInput,
  specProblems,
  transition,
  validApprovers,
  type AgentResult,
  type AgentWork,
  type Plan,
  type PlanEvent,
  type PlanSpec,
  type PlanState,
  type PlanSummary,
  type StepRun,
} from './model.ts';
import type { MaintenanceSettings } from './settings.ts';
import type { MaintenanceSource, MaintenanceWindowView } from './source.ts';
import * as store from './store.ts';

type Tx = Kysely<Database>;

export interface MaintenanceServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  inventory: InventoryService;
  runbooks: RunbookService;
  settings: MaintenanceSettings;
  logger?: FastifyBaseLogger;
}

/** Bodies arrive validated by the routes; direct callers get the same checks. */
function parsed<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (!result.success) throw invalidInput(`${what}: ${describeIssues(result.error)}`);
  return result.data;
}

/** The audit actor of what an agent reports. */
const agentActor = (host: string): Actor => ({ ...SYSTEM_ACTOR, name: `agent:${host}`.slice(0, 64) });

const and = (items: readonly string[]) => (items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`);

/**
 * Combined output as stored and shown: stdout, then stderr under a marker. The agent keeps at
 * most `limit` bytes of each stream (and says where it cut); the server bounds the whole again in
 * case an agent did not.
 */
export function combinedOutput(stdout: string, stderr: string, limit: number): string {
  const text = stderr.trim() === '' ? stdout : `${stdout}${stdout.endsWith('\n') || stdout === '' ? '' : '\n'}[stderr]\n${stderr}`;
  const bound = 2 * limit + 256;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= bound) return text;
  return `${bytes.subarray(0, bound).toString('utf8')}\n[output cut at ${bound} bytes]`;
}

/**
 * Maintenance plans: operators write, submit, approve (others than the authors, for the exact
 * content), run and cancel them. Every change is one transaction with its audit entry; refusals
 * are audited. Changes run one at a time in this server, so an agent's result and an operator's
 * step can never interleave. Expired approvals and overdue agent work are settled lazily, on the
 * next read or change of the plan, with the clock passed in.
 */
export class MaintenanceService implements MaintenanceSource {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: MaintenanceServiceOptions) {}

  private now(): Date {
    return this.o.clock.now();
  }

  /** One change at a time, each in its own transaction. */
  private serial<T>(work: (tx: Tx, now: Date) => Promise<T>): Promise<T> {
    const run = () => this.o.db.transaction().execute((tx) => work(tx, this.now()));
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async audit(tx: Tx, record: Omit<AuditRecord, 'targetType' | 'outcome'> & { outcome?: AuditRecord['outcome'] }, now: Date): Promise<void> {
    await writeAudit(tx, { targetType: 'maint-plan', outcome: 'ok', ...record }, now);
  }

  /** Records a refusal (outcome denied, outside the refused change's transaction) and returns the error to throw. */
  private async refused(actor: Actor, action: string, target: string, error: KeisanError, detail: Record<string, unknown> = {}): Promise<KeisanError> {
    await writeAudit(this.o.db, { actor, action, targetType: 'maint-plan', target, outcome: 'denied', detail: { reason: error.message, ...detail } }, this.now());
    return error;
  }

  private async requireOperator(actor: Actor, action: string, target: string): Promise<void> {
    if (actor.isOperator) return;
    throw await this.refused(actor, action, target, forbidden('only an operator may read or change maintenance plans'));
  }

  private async plan(db: Tx, id: number): Promise<store.StoredPlan> {
    const plan = await store.findPlan(db, id);
    if (!plan) throw notFound('maintenance plan', id);
    return plan;
  }

  private static move(plan: store.StoredPlan, event: PlanEvent): PlanState {
    const decision = transition(plan.state, event);
    if (!decision.ok) throw conflict(`plan ${plan.id}: ${decision.reason}`);
    return decision.to;
  }

  // ---------------------------------------------------------------- lazy settling

  /**
   * Brings a plan up to date with the clock: an approved plan whose approvals no longer suffice
   * (expired) falls back to pending-approval; a command step the agent did not pick up, or did
   * not answer, in time fails and halts the plan. Returns the plan as it is now.
   */
  private async settle(tx: Tx, plan: store.StoredPlan, now: Date): Promise<store.StoredPlan> {
    if (plan.state === 'approved') {
      const approvals = (await store.approvalsOf(tx, plan.id)).map(store.toApprovalRecord);
      if (validApprovers(approvals, plan.hash, plan.editors, now).length < approvalsNeeded(plan.spec.risk)) {
        const to = MaintenanceService.move(plan, { type: 'expire', started: plan.startedAt !== null });
        await store.updatePlan(tx, plan.id, { state: to }, now);
        await this.audit(tx, { actor: SYSTEM_ACTOR, action: 'maint.approval.expired', target: String(plan.id), detail: { state: to } }, now);
        return this.plan(tx, plan.id);
      }
    }
    if (plan.state === 'running') {
      for (const run of await store.openRuns(tx, { planId: plan.id })) {
        const reason = overdueReason(
          { state: run.state as 'queued' | 'running', queuedAt: new Date(run.queued_at), claimedAt: run.claimed_at === null ? null : new Date(run.claimed_at), host: run.host },
          { pickupMs: this.o.settings.pickupTimeout, commandMs: this.o.settings.commandTimeout },
          now,
        );
        if (reason === null) continue;
        await store.updateRun(tx, Number(run.id), { state: 'failed', finishedAt: now, verdict: reason });
        await this.halt(tx, plan, Number(run.step_index), reason, SYSTEM_ACTOR, now);
        return this.plan(tx, plan.id);
      }
    }
    return plan;
  }

  private async halt(tx: Tx, plan: store.StoredPlan, stepIndex: number, reason: string, actor: Actor, now: Date): Promise<void> {
    const to = MaintenanceService.move(plan, { type: 'step-failed' });
    const haltReason = `step ${stepIndex + 1} on ${plan.spec.steps[stepIndex]?.host ?? '?'}: ${reason}`;
    await store.updatePlan(tx, plan.id, { state: to, haltReason }, now);
    const voided = await store.voidApprovals(tx, plan.id, `the plan halted at step ${stepIndex + 1}`, now);
    await this.audit(tx, { actor, action: 'maint.halt', target: String(plan.id), detail: { step: stepIndex + 1, reason, approvalsVoided: voided } }, now);
    this.o.logger?.warn({ plan: plan.id, step: stepIndex + 1, reason }, 'maintenance plan halted');
  }

  // ---------------------------------------------------------------- views

  private async summary(tx: Tx, plan: store.StoredPlan, now: Date): Promise<PlanSummary> {
    const approvals = (await store.approvalsOf(tx, plan.id)).map(store.toApprovalRecord);
    return {
      id: plan.id,
      title: plan.spec.title,
      risk: plan.spec.risk,
      state: plan.state,
      window: { start: plan.spec.window.start, end: plan.spec.window.end },
      targets: plan.spec.targets,
      runbook: plan.spec.runbook,
      author: plan.author,
      steps: plan.spec.steps.length,
      nextStep: plan.nextStep + 1,
      approvals: validApprovers(approvals, plan.hash, plan.editors, now).length,
      approvalsNeeded: approvalsNeeded(plan.spec.risk),
      startedAt: plan.startedAt,
      finishedAt: plan.finishedAt,
      updatedAt: plan.updatedAt,
    };
  }

  private async full(tx: Tx, id: number, now: Date): Promise<Plan> {
    const plan = await this.plan(tx, id);
    const approvalRows = await store.approvalsOf(tx, id);
    return {
      ...(await this.summary(tx, plan, now)),
      stepList: plan.spec.steps,
      hash: plan.hash,
      revision: plan.revision,
      editors: plan.editors,
      haltReason: plan.haltReason,
      approvalList: approvalRows.map((row) => {
        const record = store.toApprovalRecord(row);
        return {
          approver: row.approver,
          approvedAt: row.approved_at,
          expiresAt: row.expires_at,
          comment: row.comment,
          hash: row.content_hash,
          valid: approvalValid(record, plan.hash, plan.editors, now),
          voidReason: row.void_reason ?? (record.hash !== plan.hash ? 'the plan changed since' : record.expiresAt <= now ? 'expired' : null),
        };
      }),
      runs: (await store.runsOf(tx, id)).map(store.toStepRun),
      createdAt: plan.createdAt,
    };
  }

  // ---------------------------------------------------------------- reading

  async list(actor: Actor, filter: { states?: readonly PlanState[] } = {}): Promise<PlanSummary[]> {
    await this.requireOperator(actor, 'maint.list', '*');
    return this.serial(async (tx, now) => {
      const plans = await store.listPlans(tx, filter);
      const out: PlanSummary[] = [];
      for (const plan of plans) out.push(await this.summary(tx, await this.settle(tx, plan, now), now));
      return filter.states ? out.filter((p) => filter.states!.includes(p.state)) : out;
    });
  }

  async get(actor: Actor, id: number): Promise<Plan> {
    await this.requireOperator(actor, 'maint.show', String(id));
    return this.serial(async (tx, now) => {
      await this.settle(tx, await this.plan(tx, id), now);
      return this.full(tx, id, now);
    });
  }

  async getRun(actor: Actor, planId: number, runId: number): Promise<{ run: StepRun; plan: PlanSummary }> {
    await this.requireOperator(actor, 'maint.show', String(planId));
    return this.serial(async (tx, now) => {
      const plan = await this.settle(tx, await this.plan(tx, planId), now);
      const run = await store.findRun(tx, runId);
      if (!run || Number(run.plan_id) !== planId) throw notFound(`step run of plan ${planId}`, runId);
      return { run: store.toStepRun(run), plan: await this.summary(tx, plan, now) };
    });
  }

  // ---------------------------------------------------------------- content checks

  /**
   * What makes a plan's content unacceptable against the inventory and the runbooks now: targets
   * not in the inventory, a runbook that does not exist, and hosts taken down together that would
   * leave a redundancy group below its minimum even with every other member healthy (both
   * management servers in one plan).
   */
  private async contentProblems(actor: Actor, spec: PlanSpec): Promise<string[]> {
    const problems = specProblems(spec);
    const hosts = await this.o.inventory.listHosts(actor);
    const known = new Set(hosts.map((h) => h.name));
    const unknown = spec.targets.filter((t) => !known.has(t));
    if (unknown.length > 0) problems.push(`target ${and(unknown)} ${unknown.length > 1 ? 'are' : 'is'} not in the inventory: name hosts exactly as keisan ops hosts lists them`);
    if (!(await this.o.runbooks.find(spec.runbook))) problems.push(`runbook ${spec.runbook} does not exist: add it first (keisan ops runbook add ${spec.runbook} --service SERVICE --file FILE)`);
    const groups = await this.o.inventory.listGroups(actor);
    const together = checkTakeDown(groups, () => ({ state: 'healthy', reason: 'assumed healthy for the plan check' }), hostsTakenDown(spec.steps));
    for (const refusal of together.refusals.filter((r) => r.kind === 'below-minimum')) {
      problems.push(`${refusal.reason} (even with every other member healthy): a plan may not take down ${and(refusal.hosts)} together — split it into plans that leave group ${refusal.group} its minimum`);
    }
    return problems;
  }

  // ---------------------------------------------------------------- changes

  async create(actor: Actor, raw: unknown): Promise<Plan> {
    const spec = parsed(planInput, raw, 'plan');
    await this.requireOperator(actor, 'maint.create', spec.title.slice(0, 100));
    const problems = await this.contentProblems(actor, spec);
    if (problems.length > 0) throw await this.refused(actor, 'maint.create', spec.title.slice(0, 100), invalidInput(`plan refused: ${problems.join('; ')}`, { problems }));
    return this.serial(async (tx, now) => {
      const id = await store.insertPlan(tx, spec, actor.name, contentHash(spec), now);
      await this.audit(tx, { actor, action: 'maint.create', target: String(id), detail: { title: spec.title, risk: spec.risk, targets: spec.targets, steps: spec.steps.length, hash: contentHash(spec) } }, now);
      return this.full(tx, id, now);
    });
  }

  /** Replaces the fields given; any edit voids the approvals and sends the plan back to draft. */
  async edit(actor: Actor, id: number, raw: unknown): Promise<Plan> {
    const patch = parsed(planPatch, raw, 'plan');
    await this.requireOperator(actor, 'maint.edit', String(id));
    if (Object.values(patch).every((v) => v === undefined)) throw invalidInput('nothing to change: give title, risk, window, targets, steps or runbook');
    const current = await this.plan(this.o.db, id);
    const spec: PlanSpec = { ...current.spec, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
    const problems = await this.contentProblems(actor, spec);
    if (problems.length > 0) throw await this.refused(actor, 'maint.edit', String(id), invalidInput(`edit refused: ${problems.join('; ')}`, { problems }));
    return this.serial(async (tx, now) => {
      const plan = await this.plan(tx, id);
      const to = MaintenanceService.move(plan, { type: 'edit', started: plan.startedAt !== null });
      const hash = contentHash(spec);
      const editors = plan.editors.includes(actor.name) ? plan.editors : [...plan.editors, actor.name];
      const voided = await store.voidApprovals(tx, id, `edited by ${actor.name} (revision ${plan.revision + 1})`, now);
      // A halted plan keeps its progress: the steps done stay done, it runs on from the halted one.
      const nextStep = Math.min(plan.nextStep, spec.steps.length);
      await store.updatePlan(tx, id, { spec, hash, editors, state: to, revision: plan.revision + 1, nextStep }, now);
      await this.audit(tx, { actor, action: 'maint.edit', target: String(id), detail: { fields: Object.keys(patch).filter((k) => patch[k as keyof typeof patch] !== undefined), from: plan.state, to, hashBefore: plan.hash, hash, approvalsVoided: voided } }, now);
      return this.full(tx, id, now);
    });
  }

  async submit(actor: Actor, id: number): Promise<Plan> {
    await this.requireOperator(actor, 'maint.submit', String(id));
    const current = await this.plan(this.o.db, id);
    const problems = await this.contentProblems(actor, current.spec);
    if (new Date(current.spec.window.end) <= this.now()) problems.push(`its window ended at ${current.spec.window.end}: edit the window first`);
    if (problems.length > 0) throw await this.refused(actor, 'maint.submit', String(id), conflict(`plan ${id} refused: ${problems.join('; ')}`), { problems });
    return this.serial(async (tx, now) => {
      const plan = await this.plan(tx, id);
      if (plan.hash !== current.hash) throw conflict(`plan ${id} changed while it was being submitted: look at it again and submit`);
      const to = MaintenanceService.move(plan, { type: 'submit' });
      await store.updatePlan(tx, id, { state: to }, now);
      await this.audit(tx, { actor, action: 'maint.submit', target: String(id), detail: { hash: plan.hash } }, now);
      return this.full(tx, id, now);
    });
  }

  /**
   * An approval of the plan's current content by an operator who neither wrote nor edited it.
   * Enough distinct approvals (one; two for high risk) make it approved; a halted plan approved
   * again runs on from its halted step.
   */
  async approve(actor: Actor, id: number, raw: unknown = {}): Promise<Plan> {
    const input = parsed(approveInput, raw ?? {}, 'approval');
    await this.requireOperator(actor, 'maint.approve', String(id));
    const current = await this.plan(this.o.db, id);
    if (current.editors.includes(actor.name)) {
      const who = current.author === actor.name ? 'its author' : 'one of its editors';
      throw await this.refused(actor, 'maint.approve', String(id), forbidden(`you are ${who}: a plan is approved by another operator (${approvalsNeeded(current.spec.risk) > 1 ? 'two others for high risk' : 'one other'})`));
    }
    return this.serial(async (tx, now) => {
      const plan = await this.settle(tx, await this.plan(tx, id), now);
      const rows = await store.approvalsOf(tx, id);
      const approvals = rows.map(store.toApprovalRecord);
      if (validApprovers(approvals, plan.hash, plan.editors, now).includes(actor.name)) throw conflict(`you already approved plan ${id} as it is now; ${approvalsNeeded(plan.spec.risk) > 1 ? 'a high-risk plan needs another operator too' : 'nothing more is needed from you'}`);
      if (new Date(plan.spec.window.end) <= now) throw conflict(`plan ${id}'s window ended at ${plan.spec.window.end}: an approval would expire at once; edit the window first`);
      const expiresAt = approvalExpiry(now, this.o.settings.approvalExpiryDays, new Date(plan.spec.window.end));
      const after = [...approvals, { approver: actor.name, hash: plan.hash, approvedAt: now, expiresAt, voidedAt: null }];
      const count = validApprovers(after, plan.hash, plan.editors, now).length;
      const to = MaintenanceService.move(plan, { type: 'approve', enough: count >= approvalsNeeded(plan.spec.risk) });
      await store.insertApproval(tx, id, { approver: actor.name, hash: plan.hash, comment: input.comment, at: now, expiresAt });
      await store.updatePlan(tx, id, { state: to, ...(to === 'approved' ? { haltReason: null } : {}) }, now);
      await this.audit(tx, { actor, action: 'maint.approve', target: String(id), detail: { hash: plan.hash, expiresAt: expiresAt.toISOString(), approvals: count, needed: approvalsNeeded(plan.spec.risk), state: to } }, now);
      return this.full(tx, id, now);
    });
  }

  async reject(actor: Actor, id: number, raw: unknown): Promise<Plan> {
    const input = parsed(rejectInput, raw, 'rejection');
    await this.requireOperator(actor, 'maint.reject', String(id));
    return this.serial(async (tx, now) => {
      const plan = await this.plan(tx, id);
      const to = MaintenanceService.move(plan, { type: 'reject', started: plan.startedAt !== null });
      const voided = await store.voidApprovals(tx, id, `rejected by ${actor.name}: ${input.reason}`, now);
      await store.updatePlan(tx, id, { state: to }, now);
      await this.audit(tx, { actor, action: 'maint.reject', target: String(id), detail: { reason: input.reason, approvalsVoided: voided } }, now);
      return this.full(tx, id, now);
    });
  }

  async cancel(actor: Actor, id: number, raw: unknown = {}): Promise<Plan> {
    const input = parsed(cancelInput, raw ?? {}, 'cancel');
    await this.requireOperator(actor, 'maint.cancel', String(id));
    return this.serial(async (tx, now) => {
      const plan = await this.plan(tx, id);
      const to = MaintenanceService.move(plan, { type: 'cancel' });
      const open = await store.openRuns(tx, { planId: id });
      for (const run of open) await store.updateRun(tx, Number(run.id), { state: 'cancelled', finishedAt: now, verdict: `the plan was cancelled by ${actor.name}${run.state === 'running' ? ' while the agent ran the command (its result will be recorded, not acted on)' : ''}` });
      await store.updatePlan(tx, id, { state: to, ...(plan.startedAt !== null ? { finishedAt: now } : {}) }, now);
      await this.audit(tx, { actor, action: 'maint.cancel', target: String(id), detail: { reason: input.reason, from: plan.state, runsCancelled: open.length } }, now);
      return this.full(tx, id, now);
    });
  }

  /** approved → running, inside the window. */
  async start(actor: Actor, id: number): Promise<Plan> {
    await this.requireOperator(actor, 'maint.start', String(id));
    return this.serial(async (tx, now) => {
      const plan = await this.settle(tx, await this.plan(tx, id), now);
      const to = MaintenanceService.move(plan, { type: 'start' });
      const start = new Date(plan.spec.window.start);
      const end = new Date(plan.spec.window.end);
      if (now < start) throw conflict(`plan ${id}'s window opens at ${start.toISOString()}: it cannot start before (now ${now.toISOString()})`);
      if (now >= end) throw conflict(`plan ${id}'s window closed at ${end.toISOString()}: edit the window (it then needs approving again) or cancel the plan`);
      await store.updatePlan(tx, id, { state: to, haltReason: null, ...(plan.startedAt === null ? { startedAt: now } : {}) }, now);
      await this.audit(tx, { actor, action: plan.startedAt !== null ? 'maint.resume' : 'maint.start', target: String(id), detail: { fromStep: plan.nextStep + 1, hash: plan.hash } }, now);
      return this.full(tx, id, now);
    });
  }

  /**
   * Runs step `number` (1-based) of a running plan: it must be the next one; the operator must
   * have typed its host's name; the redundancy guard must allow acting on the host now. A manual
   * step is settled by the operator's result; a command step is queued for the agent on the host
   * (the caller then follows the run until the agent's result settles it).
   */
  async execute(actor: Actor, id: number, number: number, raw: unknown): Promise<{ run: StepRun; plan: PlanSummary }> {
    const input = parsed(executeInput, raw, 'step');
    await this.requireOperator(actor, 'maint.step', String(id));
    const target = String(id);
    const plan = await this.serial(async (tx, now) => this.settle(tx, await this.plan(tx, id), now));
    if (plan.state !== 'running') throw conflict(`plan ${id} is ${plan.state}${plan.state === 'approved' ? ': start it first (keisan maint run starts it)' : plan.state === 'halted' ? `: ${plan.haltReason ?? ''} — it needs approving again` : ''}`);
    if (number !== plan.nextStep + 1) throw conflict(`step ${number} is not the next one of plan ${id}: step ${plan.nextStep + 1} is`);
    const step = plan.spec.steps[plan.nextStep]!;
    if (!hostConfirmed(input.confirmHost, step.host)) {
      throw await this.refused(actor, 'maint.step.confirm', target, invalidInput(`host name '${input.confirmHost}' is not step ${number}'s target: type ${step.host} exactly to act on it; nothing was done`), { step: number, typed: input.confirmHost, host: step.host });
    }
    if (step.kind === 'manual' && input.result === undefined) throw invalidInput(`step ${number} is a manual step: say what you observed with result ok or failed (expected: ${step.expect})`);
    if (step.kind === 'command' && input.result !== undefined) throw invalidInput(`step ${number} is a command step: the agent on ${step.host} runs it and its output decides; give no result`);
    const now = this.now();
    if (now >= new Date(plan.spec.window.end)) {
      throw await this.refused(actor, 'maint.step.window', target, conflict(`plan ${id}'s window closed at ${plan.spec.window.end}: no further step may start; cancel the plan or halt and re-plan`), { step: number });
    }
    const guard = await this.o.inventory.checkTakeDown(actor, [step.host]);
    const refusals = guard.refusals.filter((r) => step.takesDown || r.kind === 'partner-unhealthy');
    if (refusals.length > 0) {
      throw await this.refused(actor, 'maint.step.guard', target, conflict(`step ${number} refused by the redundancy guard: ${refusals.map((r) => r.reason).join('; ')}`), { step: number, host: step.host, refusals });
    }
    return this.serial(async (tx, at) => {
      const fresh = await this.plan(tx, id);
      if (fresh.state !== 'running' || fresh.nextStep !== plan.nextStep || fresh.hash !== plan.hash) throw conflict(`plan ${id} changed meanwhile (now ${fresh.state}, next step ${fresh.nextStep + 1}): look at it again`);
      if ((await store.openRuns(tx, { planId: id })).length > 0) throw conflict(`step ${number} of plan ${id} is already with the agent on ${step.host}: wait for its result (keisan maint steps ${id})`);
      if (step.kind === 'command') {
        const runId = await store.insertRun(tx, { planId: id, stepIndex: plan.nextStep, host: step.host, kind: 'command', command: step.command, state: 'queued', operator: actor.name, at });
        await this.audit(tx, { actor, action: 'maint.step.queue', target, detail: { step: number, host: step.host, command: step.command, run: runId } }, at);
        return { run: store.toStepRun((await store.findRun(tx, runId))!), plan: await this.summary(tx, fresh, at) };
      }
      const passed = input.result === 'ok';
      const verdict = `${actor.name} observed ${passed ? 'the expected result' : 'a different result'}${input.note ? `: ${input.note}` : ''} (expected: ${step.expect})`;
      const runId = await store.insertRun(tx, { planId: id, stepIndex: plan.nextStep, host: step.host, kind: 'manual', command: null, state: passed ? 'passed' : 'failed', operator: actor.name, at });
      await store.updateRun(tx, runId, { finishedAt: at, verdict, output: input.note ?? '' });
      await this.audit(tx, { actor, action: 'maint.step.confirm', target, detail: { step: number, host: step.host, result: input.result, note: input.note ?? '' } }, at);
      await this.settleStep(tx, fresh, plan.nextStep, passed, verdict, actor, at);
      return { run: store.toStepRun((await store.findRun(tx, runId))!), plan: await this.summary(tx, await this.plan(tx, id), at) };
    });
  }

  private async settleStep(tx: Tx, plan: store.StoredPlan, stepIndex: number, passed: boolean, verdict: string, actor: Actor, now: Date): Promise<void> {
    if (!passed) {
      await this.halt(tx, plan, stepIndex, verdict, actor, now);
      return;
    }
    const last = stepIndex + 1 >= plan.spec.steps.length;
    const to = MaintenanceService.move(plan, { type: 'step-passed', last });
    await store.updatePlan(tx, plan.id, { state: to, nextStep: stepIndex + 1, ...(last ? { finishedAt: now } : {}) }, now);
    await this.audit(tx, { actor, action: last ? 'maint.complete' : 'maint.step.pass', target: String(plan.id), detail: { step: stepIndex + 1, verdict } }, now);
  }

  // ---------------------------------------------------------------- the agent's side

  /** The queued command steps for `host` (the agent's host name), claimed: they are now running. */
  async agentWork(host: string): Promise<AgentWork[]> {
    return this.serial(async (tx, now) => {
      const open = (await store.openRuns(tx)).filter((run) => run.state === 'queued' && sameHost(run.host, host));
      const work: AgentWork[] = [];
      for (const run of open) {
        const plan = await this.settle(tx, await this.plan(tx, Number(run.plan_id)), now);
        if (plan.state !== 'running') continue;
        const current = await store.findRun(tx, Number(run.id));
        if (current?.state !== 'queued') continue;
        await store.updateRun(tx, Number(run.id), { state: 'running', claimedAt: now });
        await this.audit(tx, { actor: agentActor(host), action: 'maint.step.claim', target: String(plan.id), detail: { step: Number(run.step_index) + 1, run: Number(run.id) } }, now);
        work.push({ id: Number(run.id), planId: plan.id, step: Number(run.step_index) + 1, command: run.command ?? '', timeoutMs: this.o.settings.commandTimeout, maxOutputBytes: this.o.settings.outputLimitBytes });
      }
      return work;
    });
  }

  /** The agent's result of a command step: compared with the step's expectation; a difference halts the plan. */
  async agentResult(runId: number, result: AgentResult): Promise<StepRun> {
    return this.serial(async (tx, now) => {
      const run = await store.findRun(tx, runId);
      if (!run) throw notFound('step run', runId);
      if (!sameHost(run.host, result.host)) throw forbidden(`step run ${runId} is for ${run.host}, not ${result.host}`);
      if (run.state === 'passed' || run.state === 'failed') throw conflict(`step run ${runId} already has its result (${run.state})`);
      const output = combinedOutput(result.stdout, result.stderr, this.o.settings.outputLimitBytes);
      const plan = await this.plan(tx, Number(run.plan_id));
      const step = plan.spec.steps[Number(run.step_index)];
      const actor = agentActor(result.host);
      if (run.state === 'cancelled' || plan.state !== 'running' || plan.nextStep !== Number(run.step_index) || step?.kind !== 'command') {
        await store.updateRun(tx, runId, { finishedAt: now, exitCode: result.exitCode, timedOut: result.timedOut, output, verdict: `${run.verdict ?? 'not acted on'} (the agent's result came after the plan moved on: exit code ${result.exitCode ?? 'none'})` });
        await this.audit(tx, { actor, action: 'maint.step.result', target: String(plan.id), detail: { run: runId, exitCode: result.exitCode, ignored: true } }, now);
        return store.toStepRun((await store.findRun(tx, runId))!);
      }
      const verdict = commandVerdict(step.expect, { exitCode: result.exitCode, output, timedOut: result.timedOut, failure: result.failure });
      await store.updateRun(tx, runId, { state: verdict.passed ? 'passed' : 'failed', finishedAt: now, exitCode: result.exitCode, timedOut: result.timedOut, output, verdict: verdict.reason, ...(run.claimed_at === null ? { claimedAt: now } : {}) });
      await this.audit(tx, { actor, action: 'maint.step.result', target: String(plan.id), detail: { run: runId, step: Number(run.step_index) + 1, exitCode: result.exitCode, timedOut: result.timedOut, passed: verdict.passed, verdict: verdict.reason, durationMs: result.durationMs } }, now);
      await this.settleStep(tx, plan, Number(run.step_index), verdict.passed, verdict.reason, actor, now);
      return store.toStepRun((await store.findRun(tx, runId))!);
    });
  }

  // ---------------------------------------------------------------- the status page's view

  private async views(plans: store.StoredPlan[]): Promise<MaintenanceWindowView[]> {
    const services = await this.o.inventory.listServices(SYSTEM_ACTOR);
    return plans.map((plan) => ({
      id: plan.id,
      title: plan.spec.title,
      state: plan.state,
      risk: plan.spec.risk,
      windowStart: plan.spec.window.start,
      windowEnd: plan.spec.window.end,
      services: services.filter((s) => s.hosts.some((h) => plan.spec.targets.includes(h))).map((s) => s.name).sort(),
      hosts: [...plan.spec.targets],
      startedAt: plan.startedAt,
      finishedAt: plan.finishedAt,
    }));
  }

  private async settledPlans(states: readonly PlanState[]): Promise<store.StoredPlan[]> {
    return this.serial(async (tx, now) => {
      const out: store.StoredPlan[] = [];
      for (const plan of await store.listPlans(tx, { states })) out.push(await this.settle(tx, plan, now));
      return out.filter((p) => states.includes(p.state));
    });
  }

  /** Approved and pending-approval plans not yet started whose window ends after `now`, soonest first. */
  async scheduled(now: Date): Promise<MaintenanceWindowView[]> {
    const plans = (await this.settledPlans(['approved', 'pending-approval'])).filter((p) => p.startedAt === null && new Date(p.spec.window.end) > now);
    return this.views(plans.sort((a, b) => (a.spec.window.start < b.spec.window.start ? -1 : a.spec.window.start > b.spec.window.start ? 1 : a.id - b.id)));
  }

  /**
   * Plans under way: running or halted — and an approved one that already ran steps (approved
   * again after a halt, waiting to run on). Their components are under maintenance.
   */
  async active(_now: Date): Promise<MaintenanceWindowView[]> {
    const plans = (await this.settledPlans(['running', 'halted', 'approved'])).filter((p) => p.state !== 'approved' || (p.startedAt !== null && p.finishedAt === null));
    return this.views(plans.sort((a, b) => a.id - b.id));
  }

  /** Plans that ran in [from, to): started before `to`, not finished before `from`. */
  async history(from: Date, to: Date): Promise<MaintenanceWindowView[]> {
    return this.views(await store.plansRunIn(this.o.db, from, to));
  }
}
