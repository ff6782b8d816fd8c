import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { FastifyBaseLogger } from 'fastify';
import { SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { conflict, forbidden, invalidInput, KeisanError, notFound } from '../lib/errors.ts';
import { formatDuration, formatSize } from '../lib/units.ts';
import type { UserMail } from '../monitor/service.ts';
import type { JobEnd, JobExecutor } from './executor.ts';
import {
  FINAL_STATES,
  type JobState,
  type NodeResources,
  type PendingExplanation,
  type Queue,
  type ScheduleResult,
  type SchedulerPolicy,
  type SchedulerState,
  type UsageSnapshot,
} from './model.ts';
import type { QueueBook } from './queue-book.ts';
import * as store from './store.ts';
import { expandOutputPattern, jobEnvironment } from './arrays.ts';
import { jobReport } from './job-mail.ts';
import { prepareSubmission, type LaunchContext } from './submission.ts';
import type { SubmitInput, SubmitResult } from './submission-input.ts';
import type { Job, Transition } from './store.ts';

/**
 * The batch service: the one place for batch rules. Pending and running jobs are held in
 * memory (the database is the durable copy); scheduling runs on events — submit, end, cancel,
 * release, queue change — coalesced into one pass, plus a timer for the next time-based event.
 */
export interface BatchServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  accounts: AccountsService;
  executor: JobExecutor;
  /** The machine's resources as the scheduler may hand them out. */
  node: () => NodeResources;
  queues: QueueBook;
  schedule: (state: SchedulerState, nodes: NodeResources[], policy: SchedulerPolicy, now: number) => ScheduleResult;
  logger: FastifyBaseLogger;
  /** E-mail for the notices a job asks for (--mail); absent or null: in-app notices only. */
  mail?: UserMail | null;
}

const ARRAY_INSERT_CHUNK = 500;

export interface UsageRow {
  key: string;
  jobs: number;
  /** Jobs that did not complete successfully. */
  failed: number;
  wallHours: number;
  /** Cores allocated × wall time. */
  coreHours: number;
  /** CPU time actually used. */
  cpuHours: number;
  gpuHours: number;
}

export interface JobFilter {
  user?: string;
  all?: boolean;
  states?: JobState[];
  queue?: string;
  limit?: number;
}

export class BatchService {
  private readonly active = new Map<number, Job>();
  private readonly finished = new Map<number, JobState>();
  private explanations = new Map<number, PendingExplanation>();
  private usage: UsageSnapshot = { byUser: new Map(), bySubgroup: new Map() };
  private usageAt = 0;
  private scheduling = false;
  private again = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: BatchServiceOptions) {
    o.executor.onEnded((end) => void this.ended(end).catch((error: unknown) => o.logger.error({ err: error, job: end.jobId }, 'recording the end of a job failed')));
  }

  private now(): number {
    return this.o.clock.now().getTime();
  }

  // ------------------------------------------------------------------ start-up and reconcile

  /** Loads pending and running jobs and re-attaches to the running ones. */
  async start(): Promise<void> {
    await this.o.queues.load();
    const rows = await store.jobsInStates(this.o.db, ['pending', 'running']);
    for (const row of rows) this.active.set(row.id, store.toJob(row));
    const running = [...this.active.values()].filter((j) => j.state === 'running').map((j) => j.id);
    const { running: stillRunning, ended } = await this.o.executor.reattach(running);
    for (const end of ended) await this.ended(end);
    const lost = running.filter((id) => !stillRunning.includes(id) && !ended.some((e) => e.jobId === id));
    for (const id of lost) {
      await this.ended({ jobId: id, state: 'node-fail', exitCode: null, signal: null, endedAt: this.now(), cpuSeconds: null, maxRssBytes: null, reason: 'the job was running but is gone and left no exit status' });
    }
    await this.loadDependencyStates();
    this.o.logger.info({ pending: [...this.active.values()].filter((j) => j.state === 'pending').length, running: stillRunning.length, endedWhileDown: ended.length, lost: lost.length }, 'batch: jobs re-attached');
    this.requestSchedule();
  }

  private async loadDependencyStates(): Promise<void> {
    const wanted = new Set<number>();
    for (const job of this.active.values()) for (const d of job.dependencies) if (!this.active.has(d.jobId)) wanted.add(d.jobId);
    if (wanted.size === 0) return;
    const rows = await this.o.db.selectFrom('jobs').select(['id', 'state']).where('id', 'in', [...wanted]).execute();
    for (const row of rows) this.finished.set(row.id, row.state as JobState);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  // ------------------------------------------------------------------ scheduling loop

  /** Asks for a scheduling pass soon; many requests in one tick make one pass. */
  requestSchedule(): void {
    if (this.closed) return;
    if (this.scheduling) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.runSchedule().catch((error: unknown) => this.o.logger.error({ err: error }, 'batch: scheduling pass failed'));
    });
  }

  private async runSchedule(): Promise<void> {
    if (this.closed) return;
    this.scheduling = true;
    try {
      const now = this.now();
      const jobs = [...this.active.values()];
      const pending = jobs.filter((j) => j.state === 'pending').map(store.toSchedJob);
      const running = jobs.filter((j) => j.state === 'running').map(store.toRunningSchedJob);
      const result = this.o.schedule({ pending, running, finished: this.finished, usage: this.usage }, [this.o.node()], this.o.queues.policy(), now);
      this.explanations = new Map(result.pending.map((e) => [e.jobId, e]));
      for (const decision of result.start) await this.launch(decision.jobId, decision.node, decision.gpuIndices);
      for (const kill of result.kill) {
        if (kill.reason === 'timeout') await this.o.executor.kill(kill.jobId, 'timeout');
        else await this.finishPending(kill.jobId, 'cancelled', 'a job it depends on ended in a way that can never satisfy the dependency');
      }
      this.armTimer(now);
    } finally {
      this.scheduling = false;
      if (this.again) {
        this.again = false;
        this.requestSchedule();
      }
    }
  }

  /** Wakes up for the next time-based event: a begin time or a time limit. */
  private armTimer(now: number): void {
    if (this.timer) clearTimeout(this.timer);
    let next = Number.POSITIVE_INFINITY;
    for (const job of this.active.values()) {
      if (job.state === 'pending' && job.eligibleAt) next = Math.min(next, Date.parse(job.eligibleAt));
      if (job.state === 'running' && job.startedAt) next = Math.min(next, Date.parse(job.startedAt) + job.timeLimitMs);
    }
    if (!Number.isFinite(next)) return;
    const delay = Math.max(0, Math.min(next - now + 5, 2_147_000_000));
    this.timer = setTimeout(() => this.requestSchedule(), delay);
    this.timer.unref();
  }

  private async launch(jobId: number, node: string, gpuIndices: number[]): Promise<void> {
    const job = this.active.get(jobId);
    if (!job || job.state !== 'pending') return;
    const queue = this.o.queues.policy().queues.get(job.queue);
    const row = await store.findJob(this.o.db, jobId);
    if (!row) return;
    const at = new Date(this.now()).toISOString();
    const context = JSON.parse(row.env) as LaunchContext;
    const names = { jobId, jobName: job.name, user: job.user, arrayJobId: job.arrayJobId, arrayTaskId: job.arrayTaskId, node };
    const output = path.resolve(job.chdir, expandOutputPattern(job.output, names));
    const error = path.resolve(job.chdir, expandOutputPattern(job.error, names));
    const env = {
      ...context.base,
      ...jobEnvironment({
        jobId,
        name: job.name,
        user: job.user,
        uid: row.uid,
        gid: row.gid,
        queue: job.queue,
        account: job.subgroup,
        cpus: job.cpus,
        ntasks: context.ntasks,
        cpusPerTask: context.cpusPerTask,
        memBytes: job.memBytes,
        timeLimitMs: job.timeLimitMs,
        submitDir: job.submitDir,
        submitHost: context.submitHost,
        node,
        gpuIndices,
        array:
          context.array && job.arrayJobId !== null && job.arrayTaskId !== null
            ? { arrayJobId: job.arrayJobId, taskId: job.arrayTaskId, summary: context.array.summary, maxRunning: context.array.maxRunning }
            : null,
      }),
    };
    const transitions = JSON.stringify([...job.transitions, { state: 'running', at }]);
    await this.o.db
      .updateTable('jobs')
      .set({ state: 'running', started_at: at, node, gpu_indices: JSON.stringify(gpuIndices), output, error, transitions })
      .where('id', '=', jobId)
      .execute();
    const started: Job = { ...job, state: 'running', startedAt: at, node, gpuIndices, output, error, transitions: JSON.parse(transitions) as Transition[] };
    this.active.set(jobId, started);
    try {
      await this.o.executor.start({
        jobId,
        user: { name: job.user, uid: row.uid, gid: row.gid },
        script: row.script,
        args: job.args,
        cwd: job.chdir,
        env,
        stdoutPath: output,
        stderrPath: error,
        appendOutput: context.outputMode === 'append',
        cpus: job.cpus,
        memBytes: job.memBytes,
        gpuIndices,
        timeLimitMs: job.timeLimitMs,
        cpuTimeLimitMs: queue?.cpuTimeLimitMs ?? null,
        nice: queue?.nice ?? 0,
      });
      if (job.mail.begin) await this.notify(started, 'job-began', `Job ${jobId} (${job.name}) started`, true);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.o.logger.error({ job: jobId, err: error }, 'batch: job could not be started');
      await this.ended({ jobId, state: 'failed', exitCode: null, signal: null, endedAt: this.now(), cpuSeconds: null, maxRssBytes: null, reason: `could not start: ${message}` });
    }
  }

  /** Records how a job ended: state, exit status, accounting; notifies; schedules again. */
  private async ended(end: JobEnd): Promise<void> {
    const row = await store.findJob(this.o.db, end.jobId);
    if (!row || FINAL_STATES.has(row.state as JobState)) return;
    const job = store.toJob(row);
    const endedAt = new Date(end.endedAt).toISOString();
    const transitions = JSON.stringify([...job.transitions, { state: end.state, at: endedAt }]);
    const gpuSeconds = job.startedAt ? (job.gpuIndices.length * Math.max(0, end.endedAt - Date.parse(job.startedAt))) / 1000 : null;
    await this.o.db
      .updateTable('jobs')
      .set({ state: end.state, ended_at: endedAt, exit_code: end.exitCode, exit_signal: end.signal, reason: end.reason, cpu_seconds: end.cpuSeconds, max_rss_bytes: end.maxRssBytes, gpu_seconds: gpuSeconds, transitions })
      .where('id', '=', end.jobId)
      .execute();
    this.active.delete(end.jobId);
    this.finished.set(end.jobId, end.state);
    if (job.startedAt) this.chargeUsage(job, Math.max(0, end.endedAt - Date.parse(job.startedAt)));
    const finalJob: Job = { ...job, state: end.state, endedAt, exitCode: end.exitCode, exitSignal: end.signal, reason: end.reason, cpuSeconds: end.cpuSeconds, maxRssBytes: end.maxRssBytes, gpuSeconds };
    const bad = end.state !== 'completed';
    if (end.state === 'timeout' || end.state === 'out-of-memory' || (bad && job.mail.fail) || (!bad && job.mail.end) || (bad && job.mail.end)) {
      await this.notify(finalJob, `job-${end.state}`, `Job ${job.id} (${job.name}) ${describeEnd(finalJob)}`, bad ? job.mail.fail || job.mail.end : job.mail.end);
    }
    this.requestSchedule();
  }

  private chargeUsage(job: Job, wallMs: number): void {
    const weights = this.o.queues.policy().usageWeights;
    const amount = (wallMs / 1000) * (job.cpus * weights.cpu + (job.memBytes / 1024 ** 3) * weights.memGiB + job.gpus * weights.gpu);
    this.decayUsage();
    this.usage.byUser.set(job.user, (this.usage.byUser.get(job.user) ?? 0) + amount);
    this.usage.bySubgroup.set(job.subgroup, (this.usage.bySubgroup.get(job.subgroup) ?? 0) + amount);
  }

  private decayUsage(): void {
    const now = this.now();
    if (this.usageAt === 0) this.usageAt = now;
    const factor = 0.5 ** ((now - this.usageAt) / this.o.queues.policy().decayHalfLifeMs);
    if (factor < 1) {
      for (const map of [this.usage.byUser, this.usage.bySubgroup]) for (const [key, value] of map) map.set(key, value * factor);
    }
    this.usageAt = now;
  }

  private async finishPending(jobId: number, state: JobState, reason: string): Promise<void> {
    const job = this.active.get(jobId);
    if (!job || job.state !== 'pending') return;
    const at = new Date(this.now()).toISOString();
    const transitions = JSON.stringify([...job.transitions, { state, at }]);
    await this.o.db.updateTable('jobs').set({ state, ended_at: at, reason, transitions }).where('id', '=', jobId).execute();
    this.active.delete(jobId);
    this.finished.set(jobId, state);
  }

  /** An in-app notice with the job's numbers; an e-mail too when the job asked and the facility sends mail. */
  private async notify(job: Job, kind: string, title: string, mail: boolean): Promise<void> {
    const report = jobReport(job, title);
    let body = report.summary;
    if (mail && this.o.mail) {
      try {
        const result = await this.o.mail.toUser(job.user, job.mailUser, { subject: title, text: report.text });
        if (!result.queued) body += ` — no e-mail sent: ${result.reason}`;
      } catch (error) {
        this.o.logger.error({ err: error, job: job.id }, 'batch: the job\'s e-mail could not be queued');
        body += ' — the e-mail could not be queued (see the server log)';
      }
    }
    await store.addNotification(this.o.db, job.user, kind, title, body, this.o.clock.now());
  }

  // ------------------------------------------------------------------ submitting

  /** Stores a submission (one job, or one per array task) and asks for a scheduling pass. */
  async submit(actor: Actor, input: SubmitInput): Promise<SubmitResult> {
    const user = await this.o.accounts.getUser(SYSTEM_ACTOR, actor.name);
    const policy = this.o.queues.policy();
    const { job, warnings } = prepareSubmission(input, { user, queues: [...policy.queues.values()], node: this.o.node(), now: this.now(), submitHost: actor.address ?? 'unknown' });
    const missing = await this.missingDependencies(job.dependencies.map((d) => d.jobId));
    if (missing.length) throw invalidInput(`the job depends on job${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which do${missing.length > 1 ? '' : 'es'} not exist`);

    const at = new Date(this.now()).toISOString();
    const base = {
      user_name: user.name,
      uid: user.uid,
      gid: user.gid,
      subgroup: job.subgroup,
      workgroup: job.workgroup,
      queue: job.queue,
      name: job.name,
      state: 'pending',
      held: job.held ? 1 : 0,
      script: input.script,
      args: JSON.stringify(input.args),
      cpus: job.cpus,
      mem_bytes: job.memBytes,
      gpus: job.gpus,
      gpu_type: job.gpuType,
      time_limit_ms: job.timeLimitMs,
      eligible_at: job.eligibleAt === null ? null : new Date(job.eligibleAt).toISOString(),
      dependencies: JSON.stringify(job.dependencies),
      submit_dir: input.submitDir,
      chdir: job.chdir,
      output: job.output,
      error: job.error,
      env: JSON.stringify(job.context),
      mail: JSON.stringify(job.mail),
      mail_user: job.mailUser,
      submitted_at: at,
      transitions: JSON.stringify([{ state: 'pending', at }, ...(job.held ? [{ state: 'held', at }] : [])]),
    };
    const ids = await this.o.db.transaction().execute(async (tx) => {
      if (job.arrayIndices.length === 0) {
        const row = await tx.insertInto('jobs').values({ ...base, array_job_id: null, array_task_id: null, array_max_running: null }).returning('id').executeTakeFirstOrThrow();
        return [row.id];
      }
      const [firstIndex, ...rest] = job.arrayIndices;
      const first = await tx
        .insertInto('jobs')
        .values({ ...base, array_job_id: null, array_task_id: firstIndex!, array_max_running: job.arrayMaxRunning })
        .returning('id')
        .executeTakeFirstOrThrow();
      await tx.updateTable('jobs').set({ array_job_id: first.id }).where('id', '=', first.id).execute();
      const all = [first.id];
      // Many rows per statement: a 10 000-task array is a few statements, not 10 000.
      for (let i = 0; i < rest.length; i += ARRAY_INSERT_CHUNK) {
        const rows = rest.slice(i, i + ARRAY_INSERT_CHUNK).map((index) => ({ ...base, array_job_id: first.id, array_task_id: index, array_max_running: job.arrayMaxRunning }));
        const inserted = await tx.insertInto('jobs').values(rows).returning('id').execute();
        for (const row of inserted) all.push(row.id);
      }
      return all;
    });
    const rows = await this.o.db.selectFrom('jobs').selectAll().where('id', '>=', ids[0]!).where('id', '<=', ids.at(-1)!).execute();
    for (const row of rows) this.active.set(row.id, store.toJob(row));
    this.requestSchedule();
    return { jobs: ids, arrayJobId: job.arrayIndices.length ? ids[0]! : null, queue: job.queue, warnings };
  }

  private async missingDependencies(ids: number[]): Promise<number[]> {
    if (ids.length === 0) return [];
    const found = await this.o.db.selectFrom('jobs').select(['id', 'state']).where('id', 'in', ids).execute();
    for (const row of found) if (FINAL_STATES.has(row.state as JobState)) this.finished.set(row.id, row.state as JobState);
    const known = new Set(found.map((r) => r.id));
    return ids.filter((id) => !known.has(id));
  }

  // ------------------------------------------------------------------ reading and acting on jobs

  /** Whether `actor` may see or act on `job`: its owner, operators, and admins of its groups. */
  private async mayManage(actor: Actor, job: Job): Promise<boolean> {
    if (actor.isOperator || actor.name === job.user) return true;
    const user = await this.o.accounts.getUser(SYSTEM_ACTOR, actor.name).catch(() => undefined);
    if (!user) return false;
    return user.roles.some(
      (role) => (role.role === 'workgroup-admin' && role.workgroup === job.workgroup) || (role.role === 'subgroup-admin' && role.subgroup === job.subgroup),
    );
  }

  async getJob(actor: Actor, id: number): Promise<Job> {
    const row = await store.findJob(this.o.db, id);
    if (!row) throw notFound('job', id);
    const job = store.toJob(row);
    if (!(await this.mayManage(actor, job))) throw forbidden(`job ${id} belongs to ${job.user}: you may see only your own jobs and those of groups you administer`);
    return this.active.get(id) ?? job;
  }

  async listJobs(actor: Actor, filter: JobFilter): Promise<Job[]> {
    let query = this.o.db.selectFrom('jobs').selectAll();
    if (filter.all) {
      if (!actor.isOperator && actor.workgroupAdminOf.length === 0 && actor.subgroupAdminOf.length === 0) {
        throw forbidden('--all is for operators and group admins: without it you see your own jobs');
      }
    }
    const user = filter.user ?? (filter.all ? undefined : actor.name);
    if (user) query = query.where('user_name', '=', user);
    if (filter.states?.length) query = query.where('state', 'in', filter.states);
    if (filter.queue) query = query.where('queue', '=', filter.queue);
    const rows = await query.orderBy('id', 'desc').limit(filter.limit ?? 1000).execute();
    const jobs: Job[] = [];
    for (const row of rows) {
      const job = store.toJob(row);
      if (await this.mayManage(actor, job)) jobs.push(this.active.get(job.id) ?? job);
    }
    return jobs;
  }

  async cancel(actor: Actor, id: number): Promise<Job> {
    const job = await this.getJob(actor, id);
    if (FINAL_STATES.has(job.state as JobState)) throw conflict(`job ${id} already ended (${job.state}): nothing to cancel`);
    if (job.state === 'pending') await this.finishPending(id, 'cancelled', `cancelled by ${actor.name}`);
    else await this.o.executor.kill(id, 'cancelled');
    await this.o.accounts.record({ actor, action: 'job.cancel', targetType: 'job', target: String(id), outcome: 'ok' });
    this.requestSchedule();
    return this.getJob(actor, id);
  }

  async setHeld(actor: Actor, id: number, held: boolean): Promise<Job> {
    const job = await this.getJob(actor, id);
    if (job.state !== 'pending') throw conflict(`job ${id} is ${job.state}: only pending jobs can be ${held ? 'held' : 'released'}`);
    if (job.held === held) return job;
    const at = new Date(this.now()).toISOString();
    const transitions = JSON.stringify([...job.transitions, { state: held ? 'held' : 'released', at }]);
    await this.o.db.updateTable('jobs').set({ held: held ? 1 : 0, transitions }).where('id', '=', id).execute();
    this.active.set(id, { ...job, held, transitions: JSON.parse(transitions) as Transition[] });
    this.requestSchedule();
    return this.active.get(id)!;
  }

  /**
   * Accounting over jobs that ended in [from, to): per user, subgroup or workgroup — jobs,
   * CPU-hours used, core-hours allocated, GPU-hours, wall time. Users see their own; group admins
   * their groups; operators everyone.
   */
  async accounting(actor: Actor, by: 'user' | 'subgroup' | 'workgroup', from: Date, to: Date): Promise<UsageRow[]> {
    if (from.getTime() >= to.getTime()) throw invalidInput('--from must be before --to');
    const rows = await this.o.db
      .selectFrom('jobs')
      .select(['user_name', 'subgroup', 'workgroup', 'cpus', 'gpus', 'started_at', 'ended_at', 'cpu_seconds', 'gpu_seconds', 'state'])
      .where('ended_at', '>=', from.toISOString())
      .where('ended_at', '<', to.toISOString())
      .where('started_at', 'is not', null)
      .execute();
    const me = actor.isOperator ? undefined : await this.o.accounts.getUser(SYSTEM_ACTOR, actor.name);
    const visible = (row: (typeof rows)[number]) =>
      !me ||
      row.user_name === me.name ||
      me.roles.some((r) => (r.role === 'workgroup-admin' && r.workgroup === row.workgroup) || (r.role === 'subgroup-admin' && r.subgroup === row.subgroup));
    const totals = new Map<string, UsageRow>();
    for (const row of rows) {
      if (!visible(row)) continue;
      const key = by === 'user' ? row.user_name : by === 'subgroup' ? row.subgroup : row.workgroup;
      const wallSeconds = Math.max(0, (Date.parse(row.ended_at!) - Date.parse(row.started_at!)) / 1000);
      const entry = totals.get(key) ?? { key, jobs: 0, failed: 0, wallHours: 0, coreHours: 0, cpuHours: 0, gpuHours: 0 };
      entry.jobs++;
      if (row.state !== 'completed') entry.failed++;
      entry.wallHours += wallSeconds / 3600;
      entry.coreHours += (wallSeconds * row.cpus) / 3600;
      entry.cpuHours += Number(row.cpu_seconds ?? 0) / 3600;
      entry.gpuHours += Number(row.gpu_seconds ?? 0) / 3600;
      totals.set(key, entry);
    }
    return [...totals.values()].sort((a, b) => b.coreHours - a.coreHours || a.key.localeCompare(b.key));
  }

  async notifications(actor: Actor, unreadOnly: boolean, limit: number): Promise<store.NotificationRow[]> {
    return store.readNotifications(this.o.db, actor.name, unreadOnly, limit);
  }

  async markRead(actor: Actor, ids: number[] | 'all'): Promise<number> {
    return store.markNotificationsRead(this.o.db, actor.name, ids, this.o.clock.now());
  }

  /** The scheduler's last word on a pending job. */
  explanation(id: number): PendingExplanation | undefined {
    return this.explanations.get(id);
  }

  queueOf(name: string): Queue | undefined {
    return this.o.queues.get(name);
  }

  listQueues(): Queue[] {
    return this.o.queues.list();
  }

  async addQueue(actor: Actor, input: unknown): Promise<Queue> {
    const queue = await this.o.queues.add(actor, input);
    this.requestSchedule();
    return queue;
  }

  async changeQueue(actor: Actor, name: string, input: unknown): Promise<Queue> {
    const queue = await this.o.queues.change(actor, name, input);
    this.requestSchedule();
    return queue;
  }

  async removeQueue(actor: Actor, name: string): Promise<void> {
    const active = [...this.active.values()].filter((j) => j.queue === name).length;
    await this.o.queues.remove(actor, name, active);
  }

  /** Reads a job's output or error file from `offset` (for `keisan out --follow`). */
  async output(actor: Actor, id: number, which: 'output' | 'error', offset: number, maxBytes = 1 << 20): Promise<{ path: string; offset: number; text: string; size: number; done: boolean }> {
    const job = await this.getJob(actor, id);
    const path = which === 'output' ? job.output : job.error;
    const done = FINAL_STATES.has(job.state as JobState);
    let size = 0;
    try {
      size = (await stat(path)).size;
    } catch {
      if (job.state === 'pending') return { path, offset: 0, text: '', size: 0, done };
      if (done) throw new KeisanError('NOT_FOUND', `job ${id}'s ${which} file ${path} does not exist (moved or deleted?)`);
      return { path, offset: 0, text: '', size: 0, done };
    }
    if (offset > size) throw invalidInput(`offset ${offset} is past the end of ${path} (${size} bytes)`);
    const buffer = await readFile(path);
    const slice = buffer.subarray(offset, Math.min(size, offset + maxBytes));
    return { path, offset: offset + slice.length, text: slice.toString('utf8'), size, done };
  }
}

export function describeEnd(job: Pick<Job, 'state' | 'exitCode' | 'exitSignal' | 'timeLimitMs' | 'memBytes' | 'reason'>): string {
  switch (job.state) {
    case 'completed':
      return 'completed';
    case 'failed':
      return job.exitSignal ? `failed (killed by ${job.exitSignal})` : `failed with exit code ${job.exitCode ?? '?'}`;
    case 'timeout':
      if (job.reason?.includes('CPU-time limit')) return 'used more CPU time than its queue allows and was stopped';
      return `ran past its time limit of ${formatDuration(job.timeLimitMs)} and was stopped`;
    case 'out-of-memory':
      return `ran out of its ${formatSize(job.memBytes)} memory and was stopped`;
    case 'cancelled':
      return 'was cancelled';
    case 'node-fail':
      return 'was lost with its node';
    default:
      return job.state;
  }
}
