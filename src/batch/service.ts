import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { FastifyBaseLogger } from 'fastify';
import { SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { writeAudit } from '../accounts/audit.ts';
import { conflict, forbidden, invalidInput, KeisanError, notFound } from '../lib/errors.ts';
import { formatDuration, formatSize } from '../lib/units.ts';
import type { UserMail } from '../monitor/service.ts';
import { isClusterExecutor, type ClusterExecutor, type ClusterJobChange, type ClusterJobEnd, type ClusterSubmission, type JobEnd, type JobExecutor } from './executor.ts';
import {
  FINAL_STATES,
  type JobState,
  type NodeResources,
  type PendingExplanation,
  type Queue,
  type RunningSchedJob,
  type SchedJob,
  type ScheduleResult,
  type SchedulerPolicy,
  type SchedulerState,
  type UsageSnapshot,
} from './model.ts';
import type { QueueBook } from './queue-book.ts';
import * as store from './store.ts';
import { expandOutputPattern, formatArrayIndices, jobEnvironment } from './arrays.ts';
import { slurmUsageRows } from './executors/slurm/accounting.ts';
import { slurmReasonWords } from './executors/slurm/why.ts';
import { jobReport } from './job-mail.ts';
import { prepareSubmission, type LaunchContext } from './submission.ts';
import type { SubmissionPreview, SubmitInput, SubmitResult } from './submission-input.ts';
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
  /** This machine's executor (Keisan schedules), or a cluster's (SLURM schedules; Keisan hands jobs over and follows them). */
  executor: JobExecutor | ClusterExecutor;
  /** The machine's resources as the scheduler may hand them out. */
  node: () => NodeResources;
  queues: QueueBook;
  schedule: (state: SchedulerState, nodes: NodeResources[], policy: SchedulerPolicy, now: number) => ScheduleResult;
  logger: FastifyBaseLogger;
  /** E-mail for the notices a job asks for (--mail); absent or null: in-app notices only. */
  mail?: UserMail | null;
  /** HA (src/server/ha/): false once this server lost its election lock; then no pass starts or hands over a job. */
  mayStart?: () => boolean;
  /** HA: asks PostgreSQL whether this server still holds the lock, right before a pass starts or hands over jobs. */
  confirmStart?: () => Promise<boolean>;
}

const ARRAY_INSERT_CHUNK = 500;
/** At most this many changes in one grouped transaction (a 10 000-task array counts as one). */
const WRITE_GROUP_MAX = 1000;
/** Passes shorter than this are not paced; a paced pass waits at most PACE_MAX_MS. */
const PACE_FROM_MS = 2;
const PACE_MAX_MS = 250;
/** After the cluster did not answer, jobs are handed over again this much later. */
const CLUSTER_RETRY_MS = 5_000;
/** Stands for the node in an output path until SLURM fills it in (%N). */
const NODE_PLACEHOLDER = '\u0000node\u0000';
/** Ids per `where id in (…)` of a bulk update. */
const UPDATE_CHUNK = 500;

/** A change waiting for the next grouped transaction (group commit). */
interface PendingWrite {
  work: (tx: Kysely<Database>) => Promise<unknown>;
  settle: (value: unknown) => void;
  fail: (error: unknown) => void;
}

/** What `cancelMany` was asked to cancel: jobs by id (an array's id: the whole array, as scancel does), an array, or a user's jobs. */
export interface CancelRequest {
  ids?: number[];
  arrayId?: number;
  user?: string;
}

export interface CancelResult {
  /** Jobs cancelled (pending ones at once; running ones are being killed and end as cancelled). */
  cancelled: number[];
  /** Named jobs that had already ended, with their state. */
  skipped: Array<{ id: number; state: string }>;
}

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

/** The ends a recovery kill looks like from the executor's side. */
const RECOVERY_OVERRIDES: ReadonlySet<JobState> = new Set(['failed', 'node-fail', 'out-of-memory']);

export class BatchService {
  private readonly active = new Map<number, Job>();
  private readonly finished = new Map<number, JobState>();
  /** Jobs the recovery watchdog killed whose end has not arrived yet: job id → the reason to record. */
  private readonly recoveryKills = new Map<number, string>();
  private explanations = new Map<number, PendingExplanation>();
  private usage: UsageSnapshot = { byUser: new Map(), bySubgroup: new Map() };
  private usageAt = 0;
  private scheduling = false;
  private again = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Changes waiting for the next grouped transaction, and whether one is being written. */
  private writes: PendingWrite[] = [];
  /** The scheduler's projections of the active jobs, by job object. */
  private projections = new WeakMap<Job, SchedJob>();
  /** How long the last scheduling pass took, and when it ended (performance.now()), for pacing. */
  private lastPassMs = 0;
  private lastPassEnd = 0;
  private writing = false;
  /** Jobs marked running whose start is in progress: a cancel waits for it, then kills. */
  private readonly launches = new Map<number, Promise<void>>();
  /** Why no job is started now (power loss, …); null: jobs start as the scheduler decides. */
  private pausedBecause: string | null = null;
  /** Running jobs being stopped to run again later: job id → the reason the owner reads, and who waits for it. */
  private readonly requeues = new Map<number, { reason: string; settle: () => void }>();

  /** The cluster executor when SLURM schedules; null when Keisan does (local executor). */
  private readonly cluster: ClusterExecutor | null;
  /** Jobs whose handing over to the cluster failed for a passing reason (controller down): not retried before this time. */
  private clusterRetryAt = 0;
  /** Why a pending job is not handed over to the cluster yet (dependency in flight, array limit, controller down). */
  private readonly notHandedOver = new Map<number, PendingExplanation>();

  constructor(private readonly o: BatchServiceOptions) {
    const onEnd = (end: JobEnd) => void this.ended(end).catch((error: unknown) => o.logger.error({ err: error, job: end.jobId }, 'recording the end of a job failed'));
    if (isClusterExecutor(o.executor)) {
      this.cluster = o.executor;
      o.executor.onEnded((end) => void this.clusterEnded(end).catch((error: unknown) => o.logger.error({ err: error, job: end.jobId }, 'recording the end of a job failed')));
      o.executor.onVanished((lost) => void this.clusterLost(lost).catch((error: unknown) => o.logger.error({ err: error, job: lost.jobId }, 'batch: a job the cluster lost could not be queued again')));
      o.executor.onChange((change) => void this.clusterChanged(change).catch((error: unknown) => o.logger.error({ err: error, job: change.jobId }, 'batch: recording what the cluster did with a job failed')));
    } else {
      this.cluster = null;
      o.executor.onEnded(onEnd);
    }
  }

  /** The local executor; the paths that use it never run with a cluster executor. */
  private get local(): JobExecutor {
    if (isClusterExecutor(this.o.executor)) throw new KeisanError('INTERNAL', 'the local executor was asked for while jobs run through a cluster');
    return this.o.executor;
  }

  /** The engine that runs jobs, for messages and the API: 'local' or the cluster's name. */
  get executorName(): string {
    return this.cluster ? this.cluster.system : 'local';
  }

  private now(): number {
    return this.o.clock.now().getTime();
  }

  // ------------------------------------------------------------------ group commit

  /**
   * Runs `work` in the next grouped transaction: every change queued in the same tick, or while
   * a transaction is being written, shares one transaction and one commit (one fsync). Resolves
   * after that commit; if the transaction fails, every change in it fails (nothing of it is
   * stored) with an error that says so. Changes are written in the order they were queued.
   */
  private write<T>(work: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
    return new Promise<T>((settle, fail) => {
      this.writes.push({ work, settle: settle as (value: unknown) => void, fail });
      if (!this.writing) void this.writeGroups();
    });
  }

  private async writeGroups(): Promise<void> {
    this.writing = true;
    try {
      while (this.writes.length > 0) {
        // Let the rest of this tick (other requests, the scheduling pass just asked for) join.
        await new Promise((resolve) => setImmediate(resolve));
        const group = this.writes.splice(0, WRITE_GROUP_MAX);
        let results: unknown[];
        try {
          results = await this.o.db.transaction().execute(async (tx) => {
            const out: unknown[] = [];
            for (const op of group) out.push(await op.work(tx));
            return out;
          });
        } catch (error) {
          const cause = error instanceof Error ? error.message : String(error);
          this.o.logger.error({ err: error, changes: group.length }, 'batch: a grouped transaction failed; none of its changes were stored');
          const failure =
            error instanceof KeisanError
              ? error
              : new KeisanError(
                  'UNAVAILABLE',
                  `the database could not store this change${group.length > 1 ? ` (written together with ${group.length - 1} other${group.length > 2 ? 's' : ''}, all refused)` : ''}: ${cause}. Nothing of it was stored: try again`,
                );
          for (const op of group) op.fail(failure);
          continue;
        }
        group.forEach((op, i) => op.settle(results[i]));
      }
    } finally {
      this.writing = false;
    }
  }

  /** Waits until every change queued so far is committed (or failed). For tests and shutdown. */
  async flushed(): Promise<void> {
    await this.write(async () => undefined).catch(() => undefined);
  }

  // ------------------------------------------------------------------ start-up and reconcile

  /** Loads pending and running jobs and re-attaches to the running ones. */
  async start(): Promise<void> {
    await this.o.queues.load();
    const rows = await store.jobsInStates(this.o.db, ['pending', 'running']);
    for (const row of rows) this.active.set(row.id, store.toJob(row));
    if (this.cluster) return this.startWithCluster(this.cluster);
    const running = [...this.active.values()].filter((j) => j.state === 'running').map((j) => j.id);
    const pendingIds = [...this.active.values()].filter((j) => j.state === 'pending').map((j) => j.id);
    // Pending jobs too: one started just before a crash may not have been recorded as running yet.
    const report = await this.local.reattach([...running, ...pendingIds]);
    const isPending = new Set(pendingIds);
    const adopted = report.running.filter((id) => isPending.has(id));
    if (adopted.length) {
      const at = new Date(this.now()).toISOString();
      const node = this.o.node().name;
      await Promise.all(
        adopted.map((id) => {
          // The executor recorded what it launched: the job keeps its GPUs and its real start time.
          const details = this.local.launchDetails?.(id) ?? null;
          const gpuIndices = details?.gpuIndices ?? [];
          const startedAt = details?.startedAt != null ? new Date(details.startedAt).toISOString() : at;
          const started = this.runningCopy(this.active.get(id)!, node, gpuIndices, startedAt);
          this.active.set(id, started);
          return this.write((tx) =>
            tx
              .updateTable('jobs')
              .set({ state: 'running', started_at: startedAt, node, gpu_indices: JSON.stringify(gpuIndices), output: started.output, error: started.error, transitions: JSON.stringify(started.transitions) })
              .where('id', '=', id)
              .execute(),
          );
        }),
      );
      this.o.logger.warn({ jobs: adopted }, 'batch: jobs started just before the restart were found running and adopted');
    }
    const stillRunning = report.running.filter((id) => !isPending.has(id));
    const ended = report.ended;
    // Recorded together: one transaction for all the ends found (group commit).
    await Promise.all(ended.map((end) => this.ended(end)));
    const lost = running.filter((id) => !stillRunning.includes(id) && !ended.some((e) => e.jobId === id));
    await Promise.all(
      lost.map((id) =>
        this.ended({ jobId: id, state: 'node-fail', exitCode: null, signal: null, endedAt: this.now(), cpuSeconds: null, maxRssBytes: null, reason: 'the job was running but is gone and left no exit status' }),
      ),
    );
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
    await this.flushed();
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
    const run = () => {
      this.scheduled = false;
      void this.runSchedule().catch((error: unknown) => this.o.logger.error({ err: error }, 'batch: scheduling pass failed'));
    };
    // Paced: after a pass that took d ms, the next starts d ms after it at the earliest, so that
    // passes over a long queue take at most half of the thread (submissions and ends go on
    // meanwhile, and the next pass sees all of them). Short passes follow at once.
    const wait = this.lastPassMs >= PACE_FROM_MS ? this.lastPassEnd + this.lastPassMs - performance.now() : 0;
    if (wait >= 1) setTimeout(run, Math.min(wait, PACE_MAX_MS)).unref();
    else setImmediate(run);
  }

  /** The scheduler's view of a job, computed once per job object (jobs are replaced, never changed). */
  private schedOf(job: Job): SchedJob {
    let projected = this.projections.get(job);
    if (!projected) {
      projected = job.state === 'running' ? store.toRunningSchedJob(job) : store.toSchedJob(job);
      this.projections.set(job, projected);
    }
    return projected;
  }

  private async runSchedule(): Promise<void> {
    if (this.closed || this.o.mayStart?.() === false) return;
    this.scheduling = true;
    if (this.cluster) {
      try {
        if ((await this.o.confirmStart?.()) !== false) await this.handOver(this.cluster);
      } finally {
        this.scheduling = false;
        if (this.again) {
          this.again = false;
          this.requestSchedule();
        }
      }
      return;
    }
    try {
      const now = this.now();
      const started = performance.now();
      const pending: SchedJob[] = [];
      const running: RunningSchedJob[] = [];
      for (const job of this.active.values()) {
        if (job.state === 'pending') pending.push(this.schedOf(job));
        else if (job.state === 'running') running.push(this.schedOf(job) as RunningSchedJob);
      }
      const result = this.o.schedule({ pending, running, finished: this.finished, usage: this.usage }, [this.o.node()], this.o.queues.policy(), now);
      this.explanations = new Map(result.pending.map((e) => [e.jobId, e]));
      this.lastPassMs = performance.now() - started;
      this.lastPassEnd = performance.now();
      // HA: a server that cannot confirm its election lock now starts nothing (asked only when there is something to start).
      const confirmed = result.start.length === 0 || (await this.o.confirmStart?.()) !== false;
      if (this.pausedBecause === null && confirmed) await this.launchAll(result.start);
      const cancels: Promise<void>[] = [];
      for (const kill of result.kill) {
        if (kill.reason === 'timeout') await this.local.kill(kill.jobId, 'timeout');
        else cancels.push(this.finishPending(kill.jobId, 'cancelled', 'a job it depends on ended in a way that can never satisfy the dependency'));
      }
      await Promise.all(cancels);
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
      if (job.state === 'pending' && job.eligibleAt) next = Math.min(next, this.schedOf(job).eligibleAt!);
      if (job.state === 'running' && job.startedAt) next = Math.min(next, (this.schedOf(job) as RunningSchedJob).startedAt + job.timeLimitMs);
    }
    if (!Number.isFinite(next)) return;
    const delay = Math.max(0, Math.min(next - now + 5, 2_147_000_000));
    this.timer = setTimeout(() => this.requestSchedule(), delay);
    this.timer.unref();
  }

  /**
   * Starts the jobs one scheduling pass chose, then records them as running — all of them in
   * ONE transaction (group commit), written while the jobs already run. Crash-safety: the
   * executor's own record of a start is made before the job runs, and at start-up `start()` asks
   * the executor about pending jobs too, so a job started just before a crash (its row still
   * pending) is found and adopted, never started a second time (the executor also refuses to
   * start a job id twice).
   */
  private async launchAll(decisions: Array<{ jobId: number; node: string; gpuIndices: number[] }>): Promise<void> {
    if (decisions.length === 0) return;
    const rows = await this.o.db.selectFrom('jobs').select(['id', 'uid', 'gid', 'script', 'env']).where('id', 'in', decisions.map((d) => d.jobId)).execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    const chosen: Array<{ before: Job; started: Job; row: (typeof rows)[number] }> = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    for (const { jobId, node, gpuIndices } of decisions) {
      const job = this.active.get(jobId);
      const row = byId.get(jobId);
      if (!job || job.state !== 'pending' || !row || this.launches.has(jobId)) continue;
      const started = this.runningCopy(job, node, gpuIndices, new Date(this.now()).toISOString());
      // In memory at once (the scheduler must not choose it again); a cancel meanwhile waits for the start.
      this.active.set(jobId, started);
      this.launches.set(jobId, gate);
      chosen.push({ before: job, started, row });
    }
    const stored: Promise<void>[] = [];
    try {
      for (const { before, started, row } of chosen) {
        if (!(await this.launch(started, row))) continue;
        // Queued right after the start: the job's end (queued later) is written after it.
        stored.push(
          this.write((tx) =>
            tx
              .updateTable('jobs')
              .set({ state: 'running', started_at: started.startedAt, node: started.node, gpu_indices: JSON.stringify(started.gpuIndices), output: started.output, error: started.error, transitions: JSON.stringify(started.transitions) })
              .where('id', '=', started.id)
              .where('state', '=', 'pending')
              .execute(),
          ).then(
            () => undefined,
            (failure: unknown) => {
              // It runs; the row says pending until its end is written (or a restart adopts it).
              this.o.logger.error({ job: before.id, err: failure }, 'batch: a started job could not be recorded as running');
            },
          ),
        );
      }
      await Promise.all(stored);
    } finally {
      for (const { started } of chosen) if (this.launches.get(started.id) === gate) this.launches.delete(started.id);
      release();
    }
  }

  /** The job as it runs: node, GPUs, output paths expanded, the `running` transition. */
  private runningCopy(job: Job, node: string, gpuIndices: number[], at: string): Job {
    const names = { jobId: job.id, jobName: job.name, user: job.user, arrayJobId: job.arrayJobId, arrayTaskId: job.arrayTaskId, node };
    const output = path.resolve(job.chdir, expandOutputPattern(job.output, names));
    const error = path.resolve(job.chdir, expandOutputPattern(job.error, names));
    return { ...job, state: 'running', startedAt: at, node, gpuIndices, output, error, transitions: [...job.transitions, { state: 'running', at }] };
  }

  /** Hands one job to the executor; false (and the job ended as failed) when it could not start. */
  private async launch(job: Job, row: { uid: number; gid: number; script: string; env: string }): Promise<boolean> {
    const jobId = job.id;
    const node = job.node ?? 'local';
    const { gpuIndices, output, error } = job;
    const queue = this.o.queues.policy().queues.get(job.queue);
    const context = JSON.parse(row.env) as LaunchContext;
    const env = {
      ...context.base,
      ...keisanJobEnvironment(job, row, context, node, gpuIndices),
    };
    try {
      await this.local.start({
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
      if (job.mail.begin) {
        void this.notify(job, 'job-began', `Job ${jobId} (${job.name}) started`, true).catch((failure: unknown) => this.o.logger.error({ err: failure, job: jobId }, 'batch: the start notice could not be stored'));
      }
      return true;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.o.logger.error({ job: jobId, err: error }, 'batch: job could not be started');
      await this.ended({ jobId, state: 'failed', exitCode: null, signal: null, endedAt: this.now(), cpuSeconds: null, maxRssBytes: null, reason: `could not start: ${message}` });
      return false;
    }
  }

  /**
   * Records how a job ended: state, exit status, accounting; notifies; schedules again. The
   * memory is updated at once (the CPUs are free for the next start); the row is written in the
   * next grouped transaction. Until it commits the executor's own records are the truth: after a
   * crash `reattach()` reports the end again.
   */
  private async ended(reported: JobEnd): Promise<void> {
    const requeue = this.requeues.get(reported.jobId);
    if (!requeue) return this.recordEnd(reported);
    this.requeues.delete(reported.jobId);
    try {
      if (!(await this.backToPending(reported, requeue.reason))) await this.recordEnd(reported);
    } finally {
      requeue.settle();
    }
  }

  private async recordEnd(reported: JobEnd): Promise<void> {
    if (this.finished.has(reported.jobId)) return;
    const end = this.withRecoveryKill(reported);
    let job = this.active.get(end.jobId);
    if (!job) {
      const row = await store.findJob(this.o.db, end.jobId);
      if (!row || FINAL_STATES.has(row.state as JobState) || this.finished.has(end.jobId)) return;
      job = store.toJob(row);
    }
    const endedAt = new Date(end.endedAt).toISOString();
    const transitions: Job['transitions'] = [...job.transitions, { state: end.state, at: endedAt }];
    const gpuSeconds = job.startedAt ? (job.gpuIndices.length * Math.max(0, end.endedAt - Date.parse(job.startedAt))) / 1000 : null;
    const finalJob: Job = { ...job, state: end.state, endedAt, exitCode: end.exitCode, exitSignal: end.signal, reason: end.reason, cpuSeconds: end.cpuSeconds, maxRssBytes: end.maxRssBytes, gpuSeconds, transitions };
    this.active.delete(end.jobId);
    this.finished.set(end.jobId, end.state);
    if (job.startedAt) this.chargeUsage(job, Math.max(0, end.endedAt - Date.parse(job.startedAt)));
    this.requestSchedule();
    // The start is written too: a job that ends at once may have its end queued before its `running` record.
    const start = job.startedAt ? { started_at: job.startedAt, node: job.node, gpu_indices: JSON.stringify(job.gpuIndices), output: job.output, error: job.error } : {};
    const stored = this.write((tx) =>
      tx
        .updateTable('jobs')
        .set({ ...start, state: end.state, ended_at: endedAt, exit_code: end.exitCode, exit_signal: end.signal, reason: end.reason, cpu_seconds: end.cpuSeconds, max_rss_bytes: end.maxRssBytes, gpu_seconds: gpuSeconds, transitions: JSON.stringify(transitions) })
        .where('id', '=', end.jobId)
        .execute(),
    );
    const bad = end.state !== 'completed';
    const notice =
      end.state === 'timeout' || end.state === 'out-of-memory' || (bad && job.mail.fail) || (!bad && job.mail.end) || (bad && job.mail.end)
        ? this.notify(finalJob, `job-${end.state}`, `Job ${job.id} (${job.name}) ${describeEnd(finalJob)}`, bad ? job.mail.fail || job.mail.end : job.mail.end)
        : undefined;
    await stored;
    await notice;
  }

  /** A job the watchdog killed dies of SIGKILL (failed), or is seen gone (node-fail) or out of memory: the watchdog's word wins. */
  private withRecoveryKill(end: JobEnd): JobEnd {
    const reason = this.recoveryKills.get(end.jobId);
    if (reason === undefined) return end;
    this.recoveryKills.delete(end.jobId);
    return RECOVERY_OVERRIDES.has(end.state) ? { ...end, state: 'killed-by-recovery', reason } : end;
  }

  /**
   * The recovery watchdog of a node killed this job. The watchdog's report and the executor's
   * report of the job's end race each other: whichever comes first, the job ends as
   * `killed-by-recovery` with the watchdog's reason. A job that had already completed, was
   * cancelled or ran out of time keeps that state.
   */
  async recordRecoveryKill(jobId: number, reason: string): Promise<void> {
    if (this.active.has(jobId)) {
      this.recoveryKills.set(jobId, reason);
      return;
    }
    // Ended already (perhaps only in memory so far): rewrite the stored end after the grouped write of it.
    await this.write(async (tx) => {
      const row = await store.findJob(tx, jobId);
      if (!row) return;
      if (!FINAL_STATES.has(row.state as JobState)) {
        this.recoveryKills.set(jobId, reason);
        return;
      }
      if (!RECOVERY_OVERRIDES.has(row.state as JobState)) return;
      const job = store.toJob(row);
      const transitions = job.transitions.map((t, i) => (i === job.transitions.length - 1 && t.state === job.state ? { ...t, state: 'killed-by-recovery' as const } : t));
      await tx.updateTable('jobs').set({ state: 'killed-by-recovery', reason, transitions: JSON.stringify(transitions) }).where('id', '=', jobId).execute();
      if (this.finished.has(jobId)) this.finished.set(jobId, 'killed-by-recovery');
    });
  }

  // ------------------------------------------------------------------ a cluster schedules (SLURM)

  /**
   * Start-up with a cluster executor: jobs handed over before the restart are followed again;
   * pending jobs with no stored cluster id are looked up by their comment (handed over just before
   * a crash) so that none is handed over twice. While the cluster cannot be asked, those jobs
   * wait (handOver asks again) rather than risk a second copy.
   */
  private async startWithCluster(cluster: ClusterExecutor): Promise<void> {
    for (const job of this.active.values()) if (!job.externalId) this.unverified.add(job.id);
    await this.verifyUnhanded(cluster).catch((error: unknown) =>
      this.o.logger.warn({ err: error instanceof Error ? error.message : String(error), jobs: this.unverified.size }, `batch: ${cluster.system} could not be asked which jobs it already has; they are handed over once it answers`),
    );
    cluster.follow(
      [...this.active.values()]
        .filter((j) => j.externalId !== null)
        .map((j) => ({ jobId: j.id, externalId: j.externalId!, state: j.state === 'running' ? ('running' as const) : ('pending' as const), startedAt: j.startedAt ? Date.parse(j.startedAt) : null, node: j.node, timeLimitMs: j.timeLimitMs, memBytes: j.memBytes })),
    );
    await this.loadDependencyStates();
    const handed = [...this.active.values()].filter((j) => j.externalId !== null).length;
    this.o.logger.info({ followed: handed, notHandedOver: this.active.size - handed, system: cluster.system }, `batch: jobs run through ${cluster.system}; following the ones handed over`);
    this.requestSchedule();
  }

  /** Pending jobs not known to be handed over yet: whether the cluster has them after all. */
  private readonly unverified = new Set<number>();

  private async verifyUnhanded(cluster: ClusterExecutor): Promise<void> {
    if (this.unverified.size === 0) return;
    const found = await cluster.findSubmitted([...this.unverified]);
    const lost: number[] = [];
    for (const id of this.unverified) {
      const job = this.active.get(id);
      const externalId = found.get(id);
      if (job && externalId) {
        this.active.set(id, { ...job, externalId });
        cluster.follow([{ jobId: id, externalId, state: job.state === 'running' ? 'running' : 'pending', startedAt: job.startedAt ? Date.parse(job.startedAt) : null, node: job.node, timeLimitMs: job.timeLimitMs, memBytes: job.memBytes }]);
        await this.write((tx) => tx.updateTable('jobs').set({ external_id: externalId }).where('id', '=', id).execute());
      } else if (job?.state === 'running') lost.push(id);
    }
    this.unverified.clear();
    if (found.size) this.o.logger.warn({ jobs: [...found.keys()] }, `batch: jobs handed to ${cluster.system} just before the restart were found there and are followed`);
    await Promise.all(
      lost.map((id) => this.ended({ jobId: id, state: 'node-fail', exitCode: null, signal: null, endedAt: this.now(), cpuSeconds: null, maxRssBytes: null, reason: `the job was recorded as running but ${cluster.system} has no job for it` })),
    );
  }

  /**
   * Hands every pending job that may go to the cluster: in id order, dependencies first (a job
   * whose dependency is still being handed over waits for the next pass), at most `%N` tasks of an
   * array at a time, a job whose dependency can never be met cancelled as the local scheduler does.
   */
  private async handOver(cluster: ClusterExecutor): Promise<void> {
    if (this.pausedBecause !== null) return;
    const now = this.now();
    if (now < this.clusterRetryAt) return;
    try {
      await this.verifyUnhanded(cluster);
    } catch (error) {
      this.retryHandOverLater(`${cluster.system} could not be asked which jobs it has: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const handedPerArray = new Map<number, number>();
    for (const job of this.active.values()) if (job.externalId !== null && job.arrayJobId !== null) handedPerArray.set(job.arrayJobId, (handedPerArray.get(job.arrayJobId) ?? 0) + 1);
    const ready: Array<{ job: Job; dependencies: ClusterSubmission['dependencies'] }> = [];
    const never: Array<{ id: number; reason: string }> = [];
    this.notHandedOver.clear();
    const waiting = (job: Job, code: string, words: string) =>
      this.notHandedOver.set(job.id, { jobId: job.id, reason: { kind: 'cluster', system: cluster.system, externalId: null, code, words }, position: 1, fairShare: { subgroupShare: 0, subgroupUsage: 0, userUsage: 0, factor: 1 }, estimatedStart: null });
    const candidates = [...this.active.values()].filter((j) => j.state === 'pending' && j.externalId === null && !this.launches.has(j.id)).sort((a, b) => a.id - b.id);
    for (const job of candidates) {
      const dependencies: ClusterSubmission['dependencies'] = [];
      let blockedBy: number | null = null;
      let unmet: string | null = null;
      for (const d of job.dependencies) {
        const other = this.active.get(d.jobId);
        if (other) {
          if (other.externalId !== null) dependencies.push({ externalId: other.externalId, type: d.type });
          else blockedBy = d.jobId;
          continue;
        }
        const state = this.finished.get(d.jobId);
        const satisfied = state !== undefined && (d.type === 'any' || (d.type === 'ok') === (state === 'completed'));
        if (!satisfied) unmet = `job ${d.jobId} ${state === undefined ? 'is not known' : `ended as ${state}`}, which can never satisfy the dependency`;
      }
      if (unmet) {
        never.push({ id: job.id, reason: `a job it depends on ended in a way that can never satisfy the dependency (${unmet})` });
        continue;
      }
      if (blockedBy !== null) {
        waiting(job, 'DependencyNotHandedOver', `job ${blockedBy}, which it depends on, is handed over first`);
        continue;
      }
      if (job.arrayJobId !== null && job.arrayMaxRunning !== null) {
        const handed = handedPerArray.get(job.arrayJobId) ?? 0;
        if (handed >= job.arrayMaxRunning) {
          waiting(job, 'ArrayTaskLimit', `array ${job.arrayJobId} already has ${handed} tasks in ${cluster.system}, its limit of ${job.arrayMaxRunning} at once (%${job.arrayMaxRunning}); this task follows when one ends`);
          continue;
        }
        handedPerArray.set(job.arrayJobId, handed + 1);
      }
      ready.push({ job, dependencies });
    }
    await Promise.all(never.map((n) => this.finishPending(n.id, 'cancelled', n.reason)));
    let unavailable: string | null = null;
    const queue = [...ready];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next && unavailable === null; next = queue.shift()) {
        try {
          await this.handOverOne(cluster, next.job, next.dependencies);
        } catch (error) {
          if (error instanceof KeisanError && error.code === 'UNAVAILABLE') unavailable = error.message;
          else this.o.logger.error({ err: error, job: next.job.id }, `batch: job could not be handed to ${cluster.system}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, cluster.submitConcurrency) }, worker));
    if (unavailable !== null) {
      for (const job of queue) waiting(job.job, 'ControllerUnreachable', `${cluster.system} does not answer; it is handed over when it does`);
      this.retryHandOverLater(unavailable);
    } else if (ready.length > 0 && this.notHandedOver.size > 0) this.requestSchedule();
  }

  /** A new job's dependencies as SLURM dependencies, when every one is in SLURM or already met; null otherwise. */
  private clusterDependencies(dependencies: Job['dependencies']): ClusterSubmission['dependencies'] | null {
    const out: ClusterSubmission['dependencies'] = [];
    for (const d of dependencies) {
      const other = this.active.get(d.jobId);
      if (other) {
        if (other.externalId === null) return null;
        out.push({ externalId: other.externalId, type: d.type });
        continue;
      }
      const state = this.finished.get(d.jobId);
      if (state === undefined || !(d.type === 'any' || (d.type === 'ok') === (state === 'completed'))) return null;
    }
    return out;
  }

  private retryHandOverLater(why: string): void {
    this.clusterRetryAt = this.now() + CLUSTER_RETRY_MS;
    this.o.logger.warn({ retryInMs: CLUSTER_RETRY_MS }, `batch: handing jobs over waits: ${why}`);
    setTimeout(() => this.requestSchedule(), CLUSTER_RETRY_MS).unref();
  }

  /**
   * Hands one job over and stores its SLURM id. A refusal ends the job as failed, or — 'refuse',
   * while its submission is answered — removes it again and rethrows, so nothing stays stored.
   */
  private async handOverOne(cluster: ClusterExecutor, job: Job, dependencies: ClusterSubmission['dependencies'], onRefusal: 'fail' | 'refuse' = 'fail'): Promise<void> {
    let release!: () => void;
    this.launches.set(job.id, new Promise<void>((resolve) => (release = resolve)));
    try {
      const row = await this.o.db.selectFrom('jobs').select(['uid', 'gid', 'script', 'env']).where('id', '=', job.id).executeTakeFirst();
      if (!row) return;
      const submission = this.clusterSubmission(job, { uid: row.uid, gid: row.gid, script: row.script, context: JSON.parse(row.env) as LaunchContext }, dependencies);
      let externalId: string;
      try {
        externalId = await cluster.submit(submission);
      } catch (error) {
        if (!(error instanceof KeisanError) || error.code !== 'INVALID_INPUT') throw error;
        if (onRefusal === 'refuse') {
          this.active.delete(job.id);
          await this.write((tx) => tx.deleteFrom('jobs').where('id', '=', job.id).execute());
          throw error;
        }
        await this.ended({ jobId: job.id, state: 'failed', exitCode: null, signal: null, endedAt: this.now(), cpuSeconds: null, maxRssBytes: null, reason: `${cluster.system} refused it: ${error.message}` });
        return;
      }
      const current = this.active.get(job.id);
      if (current) this.active.set(job.id, { ...current, externalId });
      await this.write((tx) => tx.updateTable('jobs').set({ external_id: externalId }).where('id', '=', job.id).execute());
    } finally {
      this.launches.delete(job.id);
      release();
    }
  }

  /** What the cluster is handed for a job: its request, its environment (the submitter's and Keisan's), its output paths. */
  private clusterSubmission(
    job: Pick<Job, 'id' | 'name' | 'user' | 'queue' | 'subgroup' | 'chdir' | 'output' | 'error' | 'arrayJobId' | 'arrayTaskId' | 'cpus' | 'memBytes' | 'gpus' | 'gpuType' | 'timeLimitMs' | 'eligibleAt' | 'held' | 'args' | 'submitDir'>,
    row: { uid: number; gid: number; script: string; context: LaunchContext },
    dependencies: ClusterSubmission['dependencies'],
  ): ClusterSubmission {
    const { context } = row;
    // Keisan's %j is its own job id; %N (the node) is left for SLURM to fill in.
    const names = { jobId: job.id, jobName: job.name, user: job.user, arrayJobId: job.arrayJobId, arrayTaskId: job.arrayTaskId, node: NODE_PLACEHOLDER };
    const slurmPath = (pattern: string) => path.resolve(job.chdir, expandOutputPattern(pattern, names)).replace(/%/g, '%%').replaceAll(NODE_PLACEHOLDER, '%N');
    const keisan = keisanJobEnvironment(job, row, context, '', []);
    const env: Record<string, string> = { ...context.base };
    for (const [key, value] of Object.entries(keisan)) {
      // SLURM sets its own SLURM_* (and the GPUs it gives); a Keisan array's tasks are single SLURM jobs, so their array variables come from Keisan.
      const own = key.startsWith('KEISAN_') && key !== 'KEISAN_NODE' && key !== 'KEISAN_GPUS';
      if (own || key.startsWith('SLURM_ARRAY_') || key.startsWith('LSB_JOBINDEX')) env[key] = value;
    }
    env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
    return {
      jobId: job.id,
      user: { name: job.user, uid: row.uid, gid: row.gid },
      name: job.name,
      script: row.script,
      args: job.args,
      cwd: job.chdir,
      submitDir: job.submitDir,
      env,
      stdoutPath: job.output === '/dev/null' ? '/dev/null' : slurmPath(job.output),
      stderrPath: job.error === '/dev/null' ? '/dev/null' : slurmPath(job.error),
      appendOutput: context.outputMode === 'append',
      queue: job.queue,
      account: job.subgroup,
      cpus: job.cpus,
      ntasks: context.ntasks,
      cpusPerTask: context.cpusPerTask,
      memBytes: job.memBytes,
      gpus: job.gpus,
      gpuType: job.gpuType,
      timeLimitMs: job.timeLimitMs,
      beginAt: job.eligibleAt ? Date.parse(job.eligibleAt) : null,
      held: job.held,
      dependencies,
    };
  }

  /** The cluster started a job (pending → running) or queued a running one again (a requeue). */
  private async clusterChanged(change: ClusterJobChange): Promise<void> {
    const job = this.active.get(change.jobId);
    if (!job) return;
    if (change.state === 'running' && job.state === 'pending') {
      const started = this.runningCopy(job, change.node ?? 'unknown', [], new Date(change.startedAt ?? this.now()).toISOString());
      this.active.set(job.id, started);
      await this.write((tx) =>
        tx
          .updateTable('jobs')
          .set({ state: 'running', started_at: started.startedAt, node: started.node, gpu_indices: '[]', output: started.output, error: started.error, transitions: JSON.stringify(started.transitions) })
          .where('id', '=', job.id)
          .where('state', '=', 'pending')
          .execute(),
      );
      if (job.mail.begin) await this.notify(started, 'job-began', `Job ${job.id} (${job.name}) started`, true);
    } else if (change.state === 'pending' && job.state === 'running') {
      const requeue = this.requeues.get(job.id);
      this.requeues.delete(job.id);
      try {
        await this.backToPending({ jobId: job.id, state: 'cancelled', exitCode: null, signal: null, endedAt: this.now(), cpuSeconds: null, maxRssBytes: null, reason: null }, requeue?.reason ?? `${this.cluster?.system ?? 'the cluster'} queued it again (requeue)`);
      } finally {
        requeue?.settle();
      }
    }
  }

  /** The cluster lost a job it had not started: it is handed over again (it never ran). */
  private async clusterLost(lost: { jobId: number; externalId: string }): Promise<void> {
    const job = this.active.get(lost.jobId);
    if (!job || job.state !== 'pending' || job.externalId !== lost.externalId) return;
    this.active.set(job.id, { ...job, externalId: null });
    await this.write((tx) => tx.updateTable('jobs').set({ external_id: null }).where('id', '=', job.id).where('external_id', '=', lost.externalId).execute());
    this.requestSchedule();
  }

  /** A job ended in the cluster; one that started and ended between two looks gets its start first. */
  private async clusterEnded(end: ClusterJobEnd): Promise<void> {
    const job = this.active.get(end.jobId);
    if (job && job.state === 'pending' && end.startedAt !== null) {
      this.active.set(job.id, this.runningCopy(job, end.node ?? 'unknown', [], new Date(end.startedAt).toISOString()));
    }
    await this.recordEnd(end);
  }

  // ------------------------------------------------------------------ pausing and requeueing (power loss)

  /**
   * Stops starting jobs: scheduling passes go on (pending jobs are still explained, time limits
   * still enforced) but start nothing until `resumeDispatch`. Running jobs are not touched.
   * Not stored: a restarted server dispatches again.
   */
  pauseDispatch(reason: string): void {
    this.pausedBecause = reason;
    this.o.logger.warn({ reason }, 'batch: dispatching paused: no job starts until it is resumed');
  }

  resumeDispatch(): void {
    if (this.pausedBecause === null) return;
    this.pausedBecause = null;
    this.o.logger.info('batch: dispatching resumed');
    this.requestSchedule();
  }

  /** Why dispatching is paused; null when it is not. */
  get dispatchPaused(): string | null {
    return this.pausedBecause;
  }

  /** The jobs running now (as far as this server knows), oldest first. */
  runningJobs(): Array<Pick<Job, 'id' | 'name' | 'user' | 'queue' | 'startedAt'>> {
    return [...this.active.values()]
      .filter((j) => j.state === 'running')
      .sort((a, b) => a.id - b.id)
      .map((j) => ({ id: j.id, name: j.name, user: j.user, queue: j.queue, startedAt: j.startedAt }));
  }

  /**
   * Stops a running job so that it runs again later under the same id: it goes back to pending
   * (its transitions show running → pending, `reason` says why) and starts again when the
   * scheduler chooses it (not while dispatching is paused). With `signal`, the job first gets that
   * signal (to write a checkpoint) and up to `waitMs` to end by itself; then it is killed. However
   * it ends — even exit 0 after its checkpoint — it was asked to stop, so it runs again. Resolves
   * when the job is pending again ('requeued'), or 'not-running', or 'no-end' when the executor
   * has not reported the end a minute after the kill.
   */
  async requeue(jobId: number, options: { reason: string; signal?: NodeJS.Signals; waitMs?: number }): Promise<'requeued' | 'not-running' | 'no-end'> {
    const job = this.active.get(jobId);
    if (!job || job.state !== 'running') return 'not-running';
    await this.launches.get(jobId);
    const ended = new Promise<void>((settle) => this.requeues.set(jobId, { reason: options.reason, settle }));
    // Waits for the end, at most `ms`: true when it came. The timer holds the process open (the
    // executor learns of ends through unref'd watchers) and is cleared as soon as the end comes.
    const endedWithin = async (ms: number): Promise<boolean> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
      try {
        return await Promise.race([ended.then(() => true as const), timeout]);
      } finally {
        clearTimeout(timer);
      }
    };
    if (this.cluster) {
      // SLURM stops it (SIGTERM, then SIGKILL after its KillWait) and queues it again; the next look sees it pending.
      if (!job.externalId) return 'not-running';
      try {
        await this.cluster.requeue(job.externalId);
      } catch (error) {
        this.requeues.delete(jobId);
        throw error;
      }
      if (!(await endedWithin(60_000))) return 'no-end';
      return this.active.get(jobId)?.state === 'pending' ? 'requeued' : 'not-running';
    }
    if (options.signal && this.local.signal) {
      const sent = await this.local.signal(jobId, options.signal);
      this.o.logger.info({ job: jobId, signal: options.signal, processes: sent }, 'batch: checkpoint signal sent before requeueing');
      await endedWithin(options.waitMs ?? 30_000);
    }
    if (this.active.get(jobId)?.state === 'running') await this.local.kill(jobId, 'cancelled');
    if (!(await endedWithin(60_000))) return 'no-end';
    return this.active.get(jobId)?.state === 'pending' ? 'requeued' : 'not-running';
  }

  /** A job `requeue` stopped: back to pending (true); false when it is not running here (its end is recorded as usual). */
  private async backToPending(end: JobEnd, reason: string): Promise<boolean> {
    const job = this.active.get(end.jobId);
    if (!job || job.state !== 'running') return false;
    const at = new Date(end.endedAt).toISOString();
    if (job.startedAt) this.chargeUsage(job, Math.max(0, end.endedAt - Date.parse(job.startedAt)));
    const transitions: Job['transitions'] = [...job.transitions, { state: 'pending', at }];
    const pending: Job = { ...job, state: 'pending', startedAt: null, node: null, gpuIndices: [], exitCode: null, exitSignal: null, reason, transitions };
    this.active.set(job.id, pending);
    // The executor keeps a record per job id and never starts an id twice: it sets this run's aside.
    if (!this.cluster) this.local.forget?.(job.id);
    await this.write((tx) =>
      tx.updateTable('jobs').set({ state: 'pending', started_at: null, node: null, gpu_indices: '[]', reason, transitions: JSON.stringify(transitions) }).where('id', '=', job.id).execute(),
    );
    this.o.logger.warn({ job: job.id, reason }, 'batch: running job requeued');
    this.requestSchedule();
    return true;
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
    const transitions: Job['transitions'] = [...job.transitions, { state, at }];
    this.active.delete(jobId);
    this.finished.set(jobId, state);
    try {
      await this.write((tx) => tx.updateTable('jobs').set({ state, ended_at: at, reason, transitions: JSON.stringify(transitions) }).where('id', '=', jobId).execute());
    } catch (error) {
      // Not stored: the job is pending again, as the database says.
      if (!this.active.has(jobId) && this.finished.get(jobId) === state) {
        this.active.set(jobId, job);
        this.finished.delete(jobId);
      }
      throw error;
    }
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
    const now = this.o.clock.now();
    await this.write((tx) => store.addNotification(tx, job.user, kind, title, body, now));
  }

  // ------------------------------------------------------------------ submitting

  /**
   * What a submission would become, without storing anything: the same parsing and checks as
   * `submit` (directives, options, queue choice, what can never run here), for the web UI's
   * preview. A refusal is the same 400 the submit would give.
   */
  async previewSubmission(actor: Actor, input: SubmitInput): Promise<SubmissionPreview> {
    const user = await this.o.accounts.getUser(SYSTEM_ACTOR, actor.name);
    const policy = this.o.queues.policy();
    const { job, warnings } = prepareSubmission(input, { user, queues: [...policy.queues.values()], node: this.cluster ? null : this.o.node(), now: this.now(), submitHost: actor.address ?? 'unknown' });
    return {
      name: job.name,
      queue: job.queue,
      workgroup: job.workgroup,
      subgroup: job.subgroup,
      cpus: job.cpus,
      ntasks: job.context.ntasks,
      cpusPerTask: job.context.cpusPerTask,
      memBytes: job.memBytes,
      gpus: job.gpus,
      gpuType: job.gpuType,
      timeLimitMs: job.timeLimitMs,
      eligibleAt: job.eligibleAt === null ? null : new Date(job.eligibleAt).toISOString(),
      held: job.held,
      dependencies: job.dependencies,
      chdir: job.chdir,
      output: job.output,
      error: job.error,
      mail: job.mail,
      mailUser: job.mailUser,
      arrayTasks: job.arrayIndices.length,
      arrayIndices: job.arrayIndices.length ? formatArrayIndices(job.arrayIndices) : null,
      arrayMaxRunning: job.arrayMaxRunning,
      warnings,
    };
  }

  /** Stores a submission (one job, or one per array task) and asks for a scheduling pass. */
  async submit(actor: Actor, input: SubmitInput): Promise<SubmitResult> {
    const user = await this.o.accounts.getUser(SYSTEM_ACTOR, actor.name);
    const policy = this.o.queues.policy();
    const { job, warnings } = prepareSubmission(input, { user, queues: [...policy.queues.values()], node: this.cluster ? null : this.o.node(), now: this.now(), submitHost: actor.address ?? 'unknown' });
    const missing = await this.missingDependencies(job.dependencies.map((d) => d.jobId));
    if (missing.length) throw invalidInput(`the job depends on job${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which do${missing.length > 1 ? '' : 'es'} not exist`);
    // With a cluster, a plain job whose dependencies SLURM already has is handed over within this
    // request (one sbatch; a refusal removes it again). Others are checked with sbatch --test-only
    // first: either way a refusal comes now, in plain words, and nothing stays stored.
    const direct = this.cluster && this.pausedBecause === null && job.arrayIndices.length === 0 ? this.clusterDependencies(job.dependencies) : null;
    if (this.cluster && !direct) {
      const first = { id: 0, name: job.name, user: user.name, queue: job.queue, subgroup: job.subgroup, chdir: job.chdir, output: '/dev/null', error: '/dev/null', arrayJobId: null, arrayTaskId: job.arrayIndices[0] ?? null, cpus: job.cpus, memBytes: job.memBytes, gpus: job.gpus, gpuType: job.gpuType, timeLimitMs: job.timeLimitMs, eligibleAt: null, held: false, args: input.args, submitDir: input.submitDir } as const;
      await this.cluster.check(this.clusterSubmission(first, { uid: user.uid, gid: user.gid, script: input.script, context: job.context }, []));
    }

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
    const { arrayIndices, arrayMaxRunning } = job;
    // Written in the next grouped transaction with the other submissions of this tick; the
    // answer (201) comes after that commit.
    const ids = await this.write(async (tx) => {
      if (arrayIndices.length === 0) {
        const row = await tx.insertInto('jobs').values({ ...base, array_job_id: null, array_task_id: null, array_max_running: null }).returning('id').executeTakeFirstOrThrow();
        return [row.id];
      }
      const [firstIndex, ...rest] = arrayIndices;
      const first = await tx
        .insertInto('jobs')
        .values({ ...base, array_job_id: null, array_task_id: firstIndex!, array_max_running: arrayMaxRunning })
        .returning('id')
        .executeTakeFirstOrThrow();
      await tx.updateTable('jobs').set({ array_job_id: first.id }).where('id', '=', first.id).execute();
      const all = [first.id];
      // Many rows per statement: a 10 000-task array is a few statements, not 10 000.
      for (let i = 0; i < rest.length; i += ARRAY_INSERT_CHUNK) {
        const rows = rest.slice(i, i + ARRAY_INSERT_CHUNK).map((index) => ({ ...base, array_job_id: first.id, array_task_id: index, array_max_running: arrayMaxRunning }));
        const inserted = await tx.insertInto('jobs').values(rows).returning('id').execute();
        for (const row of inserted) all.push(row.id);
      }
      return all;
    });
    // The in-memory jobs from the values just stored (no reading back): one template, per-task fields.
    const template = store.toJob({ ...base, id: ids[0]!, array_job_id: null, array_task_id: null, array_max_running: null, started_at: null, ended_at: null, node: null, gpu_indices: null, exit_code: null, exit_signal: null, reason: null, cpu_seconds: null, max_rss_bytes: null, gpu_seconds: null, external_id: null });
    if (arrayIndices.length === 0) this.active.set(ids[0]!, template);
    else ids.forEach((id, i) => this.active.set(id, { ...template, id, arrayJobId: ids[0]!, arrayTaskId: arrayIndices[i]!, arrayMaxRunning }));
    if (this.cluster && direct) {
      try {
        await this.handOverOne(this.cluster, template, direct, 'refuse');
      } catch (error) {
        if (!(error instanceof KeisanError) || error.code !== 'UNAVAILABLE') throw error;
        // Kept: handed over when SLURM answers again.
        warnings.push(`${this.cluster.system} does not answer now: the job waits in Keisan and is handed over when it does`);
        this.retryHandOverLater(error.message);
      }
    }
    this.requestSchedule();
    return { jobs: ids, arrayJobId: arrayIndices.length ? ids[0]! : null, queue: job.queue, warnings };
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
    return this.current(job);
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
      if (await this.mayManage(actor, job)) jobs.push(this.current(job));
    }
    return jobs;
  }

  /**
   * The freshest copy of a stored job: in memory while pending or running. A job that ended shows
   * its end once that is committed (until then the stored row), so what a reader sees is durable.
   */
  private current(job: Job): Job {
    const active = this.active.get(job.id);
    return active && active.state === job.state ? active : job;
  }

  /** Cancels one job (`POST /api/jobs/ID/cancel`): CONFLICT if it already ended. */
  async cancel(actor: Actor, id: number): Promise<Job> {
    const job = await this.getJob(actor, id);
    if (FINAL_STATES.has(job.state as JobState)) throw conflict(`job ${id} already ended (${job.state}): nothing to cancel`);
    await this.cancelJobs(actor, [job], { action: 'job.cancel', targetType: 'job', target: String(id) });
    return this.getJob(actor, id);
  }

  /**
   * Cancels many jobs in one request (`POST /api/jobs/cancel`): jobs by id — an array's id
   * cancels the whole array, as scancel does —, every task of an array, or every pending and
   * running job of a user. Users cancel their own jobs; operators and group admins those of
   * their groups; one job the actor may not cancel refuses the whole request. The pending ones
   * end in one transaction with ONE audit entry (count and ids); the running ones are killed and
   * end as cancelled; one scheduling pass follows.
   */
  async cancelMany(actor: Actor, request: CancelRequest): Promise<CancelResult> {
    const asked = [request.ids !== undefined && request.ids.length > 0, request.arrayId !== undefined, request.user !== undefined].filter(Boolean).length;
    if (asked !== 1) throw invalidInput('name what to cancel: ids (job ids; an array\'s id cancels the whole array), arrayId, or user — exactly one of them');
    const targets = new Map<number, Job>();
    const skipped: CancelResult['skipped'] = [];
    const active = [...this.active.values()];
    let target: string;
    if (request.user !== undefined) {
      const name = request.user;
      target = `user:${name}`;
      for (const job of active) if (job.user === name) targets.set(job.id, job);
      if (targets.size === 0 && name !== actor.name) await this.o.accounts.getUser(SYSTEM_ACTOR, name);
    } else {
      const ids = request.arrayId !== undefined ? [request.arrayId] : [...new Set(request.ids)];
      target = request.arrayId !== undefined ? `array:${request.arrayId}` : ids.length === 1 ? String(ids[0]) : `jobs:${idRanges(ids)}`;
      const arrays = new Set<number>();
      const rows = ids.length ? await this.o.db.selectFrom('jobs').selectAll().where('id', 'in', ids).execute() : [];
      const byId = new Map(rows.map((r) => [r.id, this.current(store.toJob(r))]));
      for (const id of ids) {
        const job = byId.get(id);
        if (!job) throw notFound('job', id);
        // An array's own id (its first task) names the whole array.
        if (job.arrayJobId === id) arrays.add(id);
        else if (request.arrayId !== undefined) throw invalidInput(`job ${id} is not an array: cancel it by its id (ids)`);
        if (FINAL_STATES.has(job.state as JobState)) skipped.push({ id, state: job.state });
        else targets.set(id, job);
      }
      if (arrays.size) for (const job of active) if (job.arrayJobId !== null && arrays.has(job.arrayJobId)) targets.set(job.id, job);
      // The array head was checked above; a finished head must not hide the array's other tasks.
      for (const id of arrays) {
        const index = skipped.findIndex((s) => s.id === id);
        if (index >= 0 && [...targets.values()].some((j) => j.arrayJobId === id)) skipped.splice(index, 1);
      }
    }
    // Permission per owner and group (the same for all jobs of one owner and subgroup).
    const checked = new Map<string, boolean>();
    for (const job of targets.values()) {
      const key = `${job.user}\0${job.subgroup}\0${job.workgroup}`;
      let may = checked.get(key);
      if (may === undefined) checked.set(key, (may = await this.mayManage(actor, job)));
      if (!may) throw forbidden(`job ${job.id} belongs to ${job.user}: you may cancel only your own jobs and those of groups you administer`);
    }
    if (request.user !== undefined && targets.size === 0 && request.user !== actor.name && !actor.isOperator) {
      // Nothing to cancel, but say so only to those who could have cancelled them.
      const probe = await this.o.accounts.getUser(SYSTEM_ACTOR, request.user);
      if (!(await this.mayManage(actor, { user: probe.name, subgroup: probe.primarySubgroup, workgroup: probe.workgroup } as Job))) {
        throw forbidden(`${request.user}'s jobs are not yours: you may cancel only your own jobs and those of groups you administer`);
      }
    }
    const jobs = [...targets.values()].sort((a, b) => a.id - b.id);
    if (jobs.length) await this.cancelJobs(actor, jobs, { action: 'job.cancel', targetType: jobs.length === 1 && request.ids ? 'job' : 'jobs', target });
    return { cancelled: jobs.map((j) => j.id), skipped };
  }

  /**
   * Ends pending jobs as cancelled in one transaction with one audit entry, then kills the
   * running ones (their end is recorded when they are gone) and asks for one scheduling pass.
   */
  private async cancelJobs(actor: Actor, jobs: Job[], audit: { action: string; targetType: string; target: string }): Promise<void> {
    // Jobs being started right now: wait for the start, then they are killed like running ones.
    await Promise.all(jobs.map((j) => this.launches.get(j.id)).filter((p) => p !== undefined));
    const at = new Date(this.now()).toISOString();
    const reason = `cancelled by ${actor.name}`;
    const pending: Array<{ before: Job; transitions: string }> = [];
    const running: number[] = [];
    for (const j of jobs) {
      const job = this.active.get(j.id);
      if (!job) continue;
      if (job.state === 'pending') {
        const transitions: Job['transitions'] = [...job.transitions, { state: 'cancelled', at }];
        pending.push({ before: job, transitions: JSON.stringify(transitions) });
      } else running.push(job.id);
    }
    for (const { before } of pending) {
      this.active.delete(before.id);
      this.finished.set(before.id, 'cancelled');
    }
    const ids = jobs.map((j) => j.id);
    const now = this.o.clock.now();
    try {
      await this.write(async (tx) => {
        // Rows with the same history are updated together: an array is a few statements.
        const byTransitions = new Map<string, number[]>();
        for (const p of pending) byTransitions.set(p.transitions, [...(byTransitions.get(p.transitions) ?? []), p.before.id]);
        for (const [transitions, group] of byTransitions) {
          for (let i = 0; i < group.length; i += UPDATE_CHUNK) {
            await tx.updateTable('jobs').set({ state: 'cancelled', ended_at: at, reason, transitions }).where('id', 'in', group.slice(i, i + UPDATE_CHUNK)).execute();
          }
        }
        const detail = ids.length === 1 ? {} : { count: ids.length, ids: idRanges(ids), pending: pending.length, running: running.length };
        await writeAudit(tx, { actor, action: audit.action, targetType: audit.targetType, target: audit.target, outcome: 'ok', detail }, now);
      });
    } catch (error) {
      // Nothing was stored: the jobs are pending again, as the database says.
      for (const { before } of pending) {
        if (!this.active.has(before.id) && this.finished.get(before.id) === 'cancelled') {
          this.active.set(before.id, before);
          this.finished.delete(before.id);
        }
      }
      throw error;
    }
    if (this.cluster) {
      // Handed over already: SLURM drops the pending ones and stops the running ones (their end comes with the next look).
      const externalIds = [...pending.map((p) => p.before.externalId), ...running.map((id) => this.active.get(id)?.externalId ?? null)].filter((id): id is string => id !== null);
      if (externalIds.length) await this.cluster.cancel(externalIds);
    } else {
      for (const id of running) await this.local.kill(id, 'cancelled');
    }
    this.requestSchedule();
  }

  async setHeld(actor: Actor, id: number, held: boolean): Promise<Job> {
    // Being handed over to the cluster right now: after that, it is held there.
    await this.launches.get(id);
    const job = await this.getJob(actor, id);
    if (job.state !== 'pending') throw conflict(`job ${id} is ${job.state}: only pending jobs can be ${held ? 'held' : 'released'}`);
    if (job.held === held) return job;
    if (this.cluster && job.externalId) {
      if (held) await this.cluster.hold(job.externalId);
      else await this.cluster.release(job.externalId);
    }
    const at = new Date(this.now()).toISOString();
    const transitions = JSON.stringify([...job.transitions, { state: held ? 'held' : 'released', at }]);
    await this.write((tx) => tx.updateTable('jobs').set({ held: held ? 1 : 0, transitions }).where('id', '=', id).execute());
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
    // Jobs run on the SLURM cluster outside Keisan (plain sbatch), imported from sacct (keisan admin slurm import-usage).
    const foreign = await slurmUsageRows(this.o.db, from, to);
    // An account Keisan does not know is reported under its SLURM account name.
    rows.push(...foreign.map((r) => ({ ...r, subgroup: r.subgroup ?? r.account, workgroup: r.workgroup ?? r.account })));
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

  /** The scheduler's last word on a pending job (with a cluster: the cluster's reason, or why Keisan has not handed it over). */
  explanation(id: number): PendingExplanation | undefined {
    if (!this.cluster) return this.explanations.get(id);
    const waiting = this.notHandedOver.get(id);
    if (waiting) return waiting;
    const said = this.cluster.pendingReason(id);
    if (!said) return undefined;
    // A hold or release just made is Keisan's to tell until the cluster's next look shows it.
    const held = this.active.get(id)?.held;
    const code = held && !said.code.startsWith('JobHeld') ? 'JobHeldUser' : !held && said.code.startsWith('JobHeld') ? 'None' : said.code;
    return {
      jobId: id,
      reason: { kind: 'cluster', system: this.cluster.system, externalId: said.externalId, code, words: code === said.code ? said.words : slurmReasonWords(code) },
      position: said.position,
      fairShare: { subgroupShare: 0, subgroupUsage: 0, userUsage: 0, factor: 1 },
      estimatedStart: said.estimatedStart,
    };
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
    case 'killed-by-recovery':
      return 'was killed by the recovery watchdog';
    default:
      return job.state;
  }
}

/** The SLURM/LSF/KEISAN variables of a job on `node` with those GPUs (jobEnvironment from the stored job). */
function keisanJobEnvironment(
  job: Pick<Job, 'id' | 'name' | 'user' | 'queue' | 'subgroup' | 'cpus' | 'memBytes' | 'timeLimitMs' | 'submitDir' | 'arrayJobId' | 'arrayTaskId'>,
  row: { uid: number; gid: number },
  context: LaunchContext,
  node: string,
  gpuIndices: number[],
): Record<string, string> {
  return jobEnvironment({
    jobId: job.id,
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
    array: context.array && job.arrayJobId !== null && job.arrayTaskId !== null ? { arrayJobId: job.arrayJobId, taskId: job.arrayTaskId, summary: context.array.summary, maxRunning: context.array.maxRunning } : null,
  });
}

/** Ids as ranges, for audit entries: 5-10004,10010. */
export function idRanges(ids: number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
