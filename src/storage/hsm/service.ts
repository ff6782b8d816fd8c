import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { auditedRefusal, writeAudit } from '../../accounts/audit.ts';
import type { Actor } from '../../accounts/model.ts';
import type { AccountsService } from '../../accounts/service.ts';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Settings } from '../../lib/config.ts';
import { invalidInput, notFound } from '../../lib/errors.ts';
import type { UserMail } from '../../monitor/service.ts';
import type { StorageService } from '../service.ts';
import type { ArchiveBackend, DriveInfo } from '../tiers/archive.ts';
import { HsmPolicyBook } from './book.ts';
import type { HsmContext, HsmLogger } from './context.ts';
import { holesPct } from './decisions.ts';
import { cleanupObsolete, Migrator, runPurge, type MigrationReport, type PurgeReport } from './migrate.ts';
import type { ClassView, FamilyView, RepackJobView, StageFileState, StageRequestView } from './model.ts';
import { QuotaKeeper } from './quotas.ts';
import { containerSummary, Repacker, volumesWithContainers, type HsmVolume } from './repack.ts';
import { Stager } from './staging.ts';
import * as store from './store.ts';

export interface HsmServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  settings: Settings;
  accounts: AccountsService;
  storage: StorageService;
  archive: ArchiveBackend;
  mail: UserMail | null;
  logger: HsmLogger;
  /** How often the engine looks at the disk tier and the dirty files without an event (default 30 s). */
  checkIntervalMs?: number;
  /** How long bulk-staged files stay pinned on disk (default 1 h). */
  stagePinMs?: number;
}

/** Work of one kind, never twice at once; a kick while it runs makes it run once more. */
class Lane {
  private running: Promise<void> | null = null;
  private again = false;
  closed = false;
  constructor(
    private readonly name: string,
    private readonly work: () => Promise<boolean | void>,
    private readonly logger: HsmLogger,
  ) {}

  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      for (let round = 0; round < 10_000 && !this.closed; round++) {
        this.again = false;
        let more: boolean | void = false;
        try {
          more = await this.work();
        } catch (error) {
          this.logger.error({ lane: this.name, error: error instanceof Error ? error.message : String(error) }, `hsm: ${this.name} failed (tried again later)`);
        }
        if (!this.again && !more) break;
      }
    })().finally(() => {
      this.running = null;
    });
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /** Waits until the lane is idle (bounded). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.running && Date.now() < until) await Promise.race([this.running, new Promise((r) => setTimeout(r, 50))]);
  }
}

function requireOperator(actor: Actor): string | null {
  return actor.isOperator ? null : 'only an operator may run HSM operations';
}

/**
 * The hierarchical storage manager in the server: classes of service and families (the book),
 * quotas, and the background work — migration, cleanup of obsolete copies, purge, staging
 * (reads and bulk requests), repack. Work is event-driven (a kick after a commit, a new stage
 * request, disk pressure, a stage that ended) plus a timer (the next migration due, and a
 * periodic check); each kind runs in its own lane, never twice at once. All work in progress is
 * in the database, so `start` after kill -9 resumes it.
 */
export class HsmService {
  readonly book: HsmPolicyBook;
  readonly quotas: QuotaKeeper;
  private readonly ctx: HsmContext;
  private readonly migrator: Migrator;
  readonly stager: Stager;
  private readonly repacker: Repacker;
  private readonly lanes: { migrate: Lane; purge: Lane; stage: Lane; repack: Lane };
  private timer: NodeJS.Timeout | undefined;
  private nextMigrationAt: number | null = null;
  private readonly checkIntervalMs: number;
  private lastMigration: MigrationReport | null = null;
  private lastPurge: PurgeReport | null = null;
  private started = false;
  private unsubscribePressure: (() => void) | null = null;
  private pressured = false;

  constructor(private readonly o: HsmServiceOptions) {
    this.book = new HsmPolicyBook(o.db, o.settings, o.clock);
    this.quotas = new QuotaKeeper(o.db, o.clock, this.book, o.accounts, o.mail, o.logger);
    this.ctx = { db: o.db, clock: o.clock, book: this.book, archive: o.archive, disk: o.storage.disk, quotas: this.quotas, namespace: o.storage, logger: o.logger };
    this.migrator = new Migrator(this.ctx);
    this.stager = new Stager(this.ctx, { pinMs: o.stagePinMs ?? 3_600_000 });
    this.repacker = new Repacker(this.ctx);
    this.checkIntervalMs = o.checkIntervalMs ?? 30_000;
    this.lanes = {
      migrate: new Lane('migration', async () => {
        this.lastMigration = await this.oneMigrationAtATime(async () => {
          await cleanupObsolete(this.ctx);
          const report = await this.migrator.run();
          await cleanupObsolete(this.ctx);
          return report;
        });
        this.nextMigrationAt = this.lastMigration.nextDueAt ? Date.parse(this.lastMigration.nextDueAt) : null;
        this.arm();
        if (this.lastMigration.copiesWritten > 0) this.lanes.purge.kick();
      }, o.logger),
      purge: new Lane('purge', async () => {
        // A write refused for lack of space purges down to the low water marks at once, even
        // below the high ones.
        const force = this.pressured;
        this.pressured = false;
        const report = await runPurge(this.ctx, { force });
        if (report.triggered) this.lastPurge = report;
      }, o.logger),
      stage: new Lane('staging', () => this.stager.processQueue(), o.logger),
      repack: new Lane('repack', () => this.repacker.process(), o.logger),
    };
    this.stager.onStageEnd = () => this.lanes.purge.kick();
  }

  /** Loads the book and the quotas, forgets what a crash cut short, plugs into the namespace, starts the work. */
  async start(): Promise<void> {
    const now = this.o.clock.now();
    await this.book.load();
    await this.quotas.load();
    await this.quotas.refreshAll();
    const interrupted = await store.interruptRuns(this.o.db, now);
    const requeued = await store.requeueInFlight(this.o.db, now);
    // Repack jobs that were running go on from where the database says they are.
    let repacks = 0;
    for (const job of await store.readRepacks(this.o.db, { openOnly: true })) {
      if (job.state !== 'running') continue;
      await store.updateRepack(this.o.db, job.id, { state: 'queued' }, now);
      repacks++;
    }
    if (interrupted || requeued || repacks) this.o.logger.info({ interruptedRuns: interrupted, requeuedStages: requeued, resumedRepacks: repacks }, 'hsm: resuming work a restart interrupted');
    const recovered = (this.o.archive as { recovered?: Array<{ volume: string; droppedBytes: number }> }).recovered ?? [];
    if (recovered.length) this.o.logger.warn({ recovered }, 'hsm: the archive dropped half-written entries a crash left on its volumes (never recorded, never read)');

    this.book.onChange(() => {
      void this.quotas.refreshAll().catch(() => undefined);
      this.lanes.migrate.kick();
    });
    // Files' class and family follow their path through the book (so operators' changes apply
    // to files already there): workgroup and subgroup directories carry neither.
    this.o.storage.setAreaPolicy(() => ({ classOfService: null, family: null }));
    this.o.storage.setStager(this.stager);
    // The guard sees every write just before it commits: a migration pass follows soon after
    // (debounced), so files of classes with short delays migrate without waiting for the timer.
    this.o.storage.setWriteGuard(async (intent) => {
      await this.quotas.guard(intent);
      this.soon();
    });
    this.unsubscribePressure = this.o.storage.onDiskPressure(() => {
      this.pressured = true;
      this.lanes.purge.kick();
    });
    this.started = true;
    for (const lane of Object.values(this.lanes)) lane.kick();
    this.arm();
  }

  async close(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.soonTimer = undefined;
    this.unsubscribePressure?.();
    this.o.storage.setStager(null);
    this.o.storage.setWriteGuard(null);
    for (const lane of Object.values(this.lanes)) lane.closed = true;
    await Promise.all(Object.values(this.lanes).map((l) => l.idle(30_000)));
  }

  /** The timer: the next migration due, or the periodic check, whichever is first. */
  private arm(): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    const now = this.o.clock.now().getTime();
    const due = this.nextMigrationAt !== null ? Math.max(0, this.nextMigrationAt - now) + 10 : this.checkIntervalMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lanes.migrate.kick();
      this.lanes.purge.kick();
      this.lanes.stage.kick();
      this.arm();
    }, Math.min(due, this.checkIntervalMs));
    this.timer.unref();
  }

  private soonTimer: NodeJS.Timeout | undefined;
  /** Kicks migration once, a moment from now (after the commit the guard saw). */
  private soon(): void {
    if (this.soonTimer || !this.started) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      this.lanes.migrate.kick();
    }, 500);
    this.soonTimer.unref();
  }

  /** A file was committed or removed: migration may have work. */
  kick(): void {
    this.lanes.migrate.kick();
  }

  /** Waits until every lane is idle (tests, and `--now` answers). */
  async settle(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (let i = 0; i < 100 && Date.now() < until; i++) {
      await Promise.all(Object.values(this.lanes).map((l) => l.idle(Math.max(1, until - Date.now()))));
      if (!Object.values(this.lanes).some((l) => l.busy) && this.stager.activeCount() === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // ================================================================ operators

  private async operator(actor: Actor, action: string, target: string): Promise<void> {
    const reason = requireOperator(actor);
    if (reason) throw await auditedRefusal(this.o.db, { actor, action, targetType: 'hsm', target }, reason, this.o.clock.now());
  }

  private async audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
    await writeAudit(this.o.db, { actor, action, targetType: 'hsm', target, outcome: 'ok', detail }, this.o.clock.now());
  }

  async status(actor: Actor): Promise<HsmStatus> {
    await this.operator(actor, 'hsm.status', 'status');
    const db = this.o.db;
    const usage = await this.o.storage.diskUsage();
    const count = async (where: (q: ReturnType<typeof base>) => ReturnType<typeof base>) => Number((await where(base()).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
    const base = () => db.selectFrom('fs_entries').where('kind', '=', 'file').where('generation', '>', 0);
    const sum = async (diskStates: string[], dirty?: number) => {
      let q = base().where('disk_state', 'in', diskStates);
      if (dirty !== undefined) q = q.where('dirty', '=', dirty);
      const row = await q.select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number | string | null>('size').as('bytes')]).executeTakeFirst();
      return { files: Number(row?.n ?? 0), bytes: Number(row?.bytes ?? 0) };
    };
    const stageStates = await db.selectFrom('hsm_stage_files').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).where('state', 'in', ['QUEUED', 'MOUNTING', 'POSITIONING', 'TRANSFERRING']).groupBy('state').execute();
    const problems = await db.selectFrom('hsm_copy_problems').selectAll().orderBy('id', 'desc').limit(20).execute();
    const capacity = usage.capacityBytes ?? (usage.filesystemFreeBytes !== null ? usage.usedBytes + usage.filesystemFreeBytes : null);
    const classes = this.book.listClasses();
    const highPct = Math.min(...classes.map((c) => c.purgeHighPct));
    return {
      disk: {
        usedBytes: usage.usedBytes,
        reservedBytes: usage.reservedBytes,
        capacityBytes: capacity,
        usedPct: capacity ? Math.round((usage.usedBytes / capacity) * 1000) / 10 : null,
        highWaterPct: highPct,
        lowWaterPct: Math.min(...classes.map((c) => c.purgeLowPct)),
      },
      files: {
        dirty: await sum(['complete'], 1),
        migratedOnDisk: await sum(['complete'], 0),
        archiveOnly: await sum(['none']),
        staging: await sum(['staging']),
        total: await count((q) => q),
      },
      stageQueue: Object.fromEntries(stageStates.map((r) => [r.state, Number(r.n)])),
      activeStages: this.stager.activeCount(),
      repack: (await store.readRepacks(db, { openOnly: true })).map(repackView),
      lastMigration: this.lastMigration,
      lastPurge: this.lastPurge,
      nextMigrationAt: this.nextMigrationAt ? new Date(this.nextMigrationAt).toISOString() : null,
      recentRuns: (await store.recentRuns(db, 10)).map((r) => ({ id: r.id, kind: r.kind, state: r.state, files: r.files, bytes: r.bytes, startedAt: r.startedAt, endedAt: r.endedAt })),
      damagedCopies: problems.map((p) => ({ fileId: p.file_id, generation: p.generation, copy: p.copy_no, volume: p.volume, problem: p.problem, detectedAt: p.detected_at, repairedAt: p.repaired_at })),
      lanes: Object.fromEntries(Object.entries(this.lanes).map(([k, l]) => [k, l.busy ? 'running' : 'idle'])),
      containers: await containerSummary(db),
    };
  }

  async volumes(actor: Actor): Promise<Array<HsmVolume & { holesPct: number }>> {
    await this.operator(actor, 'hsm.volumes', 'volumes');
    return (await volumesWithContainers(this.ctx)).map((v) => ({ ...v, holesPct: Math.round(holesPct(v) * 10) / 10 }));
  }

  async drives(actor: Actor): Promise<DriveInfo[]> {
    await this.operator(actor, 'hsm.drives', 'drives');
    return this.o.archive.drives();
  }

  /** `keisan hsm migrate --now`: every dirty file, whatever its delay; waits for the run. */
  /**
   * Migration passes one after another: a pass the write guard kicks while `migrateNow` runs would
   * otherwise pick the same dirty files, write them a second time and stamp them migrated later.
   */
  private migrationTurn: Promise<unknown> = Promise.resolve();
  private oneMigrationAtATime<T>(work: () => Promise<T>): Promise<T> {
    const run = this.migrationTurn.then(work, work);
    this.migrationTurn = run.catch(() => undefined);
    return run;
  }

  async migrateNow(actor: Actor): Promise<MigrationReport> {
    await this.operator(actor, 'hsm.migrate', 'migrate');
    await this.lanes.migrate.idle();
    const report = await this.oneMigrationAtATime(async () => {
      await cleanupObsolete(this.ctx);
      const ran = await this.migrator.run({ ignoreDelay: true });
      await cleanupObsolete(this.ctx);
      return ran;
    });
    this.lastMigration = report;
    await this.audit(actor, 'hsm.migrate', 'migrate', { files: report.files, bytes: report.bytes, failed: report.failed.length });
    return report;
  }

  /**
   * `keisan hsm purge --now [--to PCT]`: purges now, even below the high water mark, down to each
   * class's low water mark — or down to PCT % of the disk tier (0: every purgeable file).
   */
  async purgeNow(actor: Actor, options: { toPct?: number } = {}): Promise<PurgeReport> {
    await this.operator(actor, 'hsm.purge', 'purge');
    if (options.toPct !== undefined && !(options.toPct >= 0 && options.toPct <= 100)) throw invalidInput(`--to must be a percentage from 0 to 100, not ${options.toPct}`);
    await this.lanes.purge.idle();
    const report = await runPurge(this.ctx, { force: true, ...(options.toPct !== undefined ? { toPct: options.toPct } : {}) });
    this.lastPurge = report;
    await this.audit(actor, 'hsm.purge', 'purge', { files: report.purgedFiles, bytes: report.freedBytes });
    return report;
  }

  async repack(actor: Actor, target: { volume?: string; holesPct?: number }): Promise<RepackJobView[]> {
    await this.operator(actor, 'hsm.repack', target.volume ?? `holes>=${target.holesPct ?? 50}%`);
    const jobs = await this.repacker.create(actor.name, target);
    await this.audit(actor, 'hsm.repack', target.volume ?? `holes>=${target.holesPct ?? 50}%`, { jobs: jobs.map((j) => j.volume) });
    this.lanes.repack.kick();
    return jobs.map(repackView);
  }

  async repackStatus(actor: Actor, all = false): Promise<RepackJobView[]> {
    await this.operator(actor, 'hsm.repack-status', 'repack');
    return (await store.readRepacks(this.o.db, all ? {} : {})).filter((j) => all || j.state !== 'done' || Date.parse(j.updatedAt) > this.o.clock.now().getTime() - 86_400_000).map(repackView);
  }

  async repackPause(actor: Actor, id?: number): Promise<RepackJobView[]> {
    await this.operator(actor, 'hsm.repack-pause', String(id ?? 'all'));
    const jobs = await this.repacker.pause(id);
    await this.audit(actor, 'hsm.repack-pause', String(id ?? 'all'));
    return jobs.map(repackView);
  }

  async repackResume(actor: Actor, id?: number): Promise<RepackJobView[]> {
    await this.operator(actor, 'hsm.repack-resume', String(id ?? 'all'));
    const jobs = await this.repacker.resume(id);
    await this.audit(actor, 'hsm.repack-resume', String(id ?? 'all'));
    this.lanes.repack.kick();
    return jobs.map(repackView);
  }

  /** Waits for the repack lane (tests). */
  async repackIdle(): Promise<void> {
    await this.lanes.repack.idle(120_000);
  }

  // ================================================================ classes and families

  listClasses(): ClassView[] {
    return this.book.listClasses().map((c) => ({
      name: c.name,
      migrationDelaySeconds: c.migrationDelayMs / 1000,
      copies: c.copies,
      purgeHighPct: c.purgeHighPct,
      purgeLowPct: c.purgeLowPct,
      staging: c.staging,
      workgroups: c.workgroups,
      aggregateBelowBytes: c.aggregateBelowBytes,
      containerSizeBytes: c.containerSizeBytes,
    }));
  }

  async listFamilies(): Promise<FamilyView[]> {
    const usage = this.quotas.allUsage();
    const names = new Set([...this.book.listFamilies().map((f) => f.name), ...usage.keys()]);
    const out: FamilyView[] = [];
    for (const name of [...names].sort()) {
      const f = this.book.family(name);
      const u = usage.get(name) ?? { bytes: 0, files: 0, state: 'ok' as const };
      out.push({ name, tree: f?.tree ?? '?', quotaWarnBytes: f?.quotaWarnBytes ?? null, quotaLimitBytes: f?.quotaLimitBytes ?? null, usageBytes: u.bytes, usageFiles: u.files, quotaState: u.state });
    }
    return out;
  }

  // ================================================================ stage requests (users)

  /**
   * A bulk stage request: every path must name a file the caller may read (else the request is
   * refused, naming the paths). Files already on disk are ON_DISK at once (and pinned); the
   * others are queued, merged with other requests for the same file.
   */
  async createStageRequest(actor: Actor, paths: readonly string[]): Promise<StageRequestView> {
    if (paths.length === 0) throw invalidInput('name at least one file to stage');
    if (paths.length > 100_000) throw invalidInput(`at most 100000 files per stage request, not ${paths.length}: split the list`);
    const files: Array<{ path: string; fileId: number | null; size: number; state: StageFileState; error: string | null }> = [];
    const refused: string[] = [];
    for (const p of paths) {
      let entry;
      try {
        entry = await this.o.storage.stat(actor, p);
      } catch (error) {
        refused.push(`${p}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (entry.type !== 'file') {
        refused.push(`${p}: a directory (name the files, or list them in a file for --from-file)`);
        continue;
      }
      if (entry.permissions[0] !== 'r') {
        refused.push(`${p}: you may not read it`);
        continue;
      }
      const record = await this.o.storage.fileAt(entry.path);
      if (!record) {
        refused.push(`${p}: not found`);
        continue;
      }
      files.push({ path: entry.path, fileId: record.id, size: record.size, state: record.diskState === 'complete' ? 'ON_DISK' : 'QUEUED', error: null });
    }
    if (refused.length) {
      throw invalidInput(`nothing was staged: ${refused.length} of ${paths.length} path(s) cannot be staged — ${refused.slice(0, 10).join('; ')}${refused.length > 10 ? '; …' : ''}`);
    }
    const id = `stg-${randomBytes(8).toString('hex')}`;
    const now = this.o.clock.now();
    await this.o.db.transaction().execute(async (tx) => {
      await store.insertStageRequest(tx, { id, owner: actor.name, files }, now);
      const pinUntil = new Date(now.getTime() + (this.o.stagePinMs ?? 3_600_000)).toISOString();
      for (const f of files) {
        if (f.state !== 'ON_DISK' || f.fileId === null) continue;
        await tx.updateTable('hsm_stage_files').set({ pin_until: pinUntil }).where('request_id', '=', id).where('file_id', '=', f.fileId).execute();
        await tx.updateTable('fs_entries').set({ pinned_until: pinUntil }).where('id', '=', f.fileId).where((eb) => eb.or([eb('pinned_until', 'is', null), eb('pinned_until', '<', pinUntil)])).execute();
      }
    });
    await store.settleStageRequests(this.o.db, now);
    this.lanes.stage.kick();
    return this.stageStatus(actor, id);
  }

  /**
   * Releases a request's pins (WLCG "release"): its staged files may be purged again unless
   * another request still pins them. Waiting files of the request are not staged any more.
   */
  async releaseStageRequest(actor: Actor, id: string): Promise<StageRequestView> {
    const request = await store.readStageRequest(this.o.db, id);
    if (!request || (request.owner !== actor.name && !actor.isOperator)) throw notFound('stage request', id);
    const now = this.o.clock.now();
    await this.o.db.transaction().execute(async (tx) => {
      const rows = await tx.selectFrom('hsm_stage_files').select(['file_id', 'state']).where('request_id', '=', id).execute();
      await tx.updateTable('hsm_stage_files').set({ pin_until: null, updated_at: now.toISOString() }).where('request_id', '=', id).where('state', '=', 'ON_DISK').execute();
      await tx
        .updateTable('hsm_stage_files')
        .set({ state: 'FAILED', error: 'released before it was staged', queue_position: null, eta_at: null, updated_at: now.toISOString() })
        .where('request_id', '=', id)
        .where('state', '=', 'QUEUED')
        .execute();
      for (const fileId of new Set(rows.map((r) => r.file_id).filter((f): f is number => f !== null))) {
        const other = await tx
          .selectFrom('hsm_stage_files')
          .select((eb) => eb.fn.max<string | null>('pin_until').as('until'))
          .where('file_id', '=', fileId)
          .where('state', '=', 'ON_DISK')
          .where('pin_until', '>', now.toISOString())
          .executeTakeFirst();
        await tx.updateTable('fs_entries').set({ pinned_until: other?.until ?? null }).where('id', '=', fileId).execute();
      }
    });
    await store.settleStageRequests(this.o.db, now);
    return this.stageStatus(actor, id);
  }

  async stageStatus(actor: Actor, id: string): Promise<StageRequestView> {
    const request = await store.readStageRequest(this.o.db, id);
    if (!request || (request.owner !== actor.name && !actor.isOperator)) throw notFound('stage request', id);
    const files = await store.readStageFiles(this.o.db, id);
    const now = this.o.clock.now().getTime();
    const summary: Record<string, number> = {};
    for (const f of files) summary[f.state] = (summary[f.state] ?? 0) + 1;
    return {
      id: request.id,
      owner: request.owner,
      createdAt: request.createdAt,
      completedAt: request.completedAt,
      state: request.state as StageRequestView['state'],
      summary,
      files: files.map((f) => ({
        path: f.path,
        fileId: f.fileId,
        state: f.state,
        size: f.size,
        bytesDone: f.state === 'ON_DISK' ? f.size : f.bytesDone,
        volume: f.volume,
        queuePosition: f.state === 'QUEUED' ? f.queuePosition : null,
        estimatedSeconds: f.etaAt && f.state !== 'ON_DISK' && f.state !== 'FAILED' ? Math.max(0, Math.round((Date.parse(f.etaAt) - now) / 1000)) : null,
        error: f.error,
      })),
    };
  }
}

function repackView(j: store.RepackRow): RepackJobView {
  return { id: j.id, volume: j.volume, state: j.state as RepackJobView['state'], filesTotal: j.filesTotal, filesDone: j.filesDone, bytesTotal: j.bytesTotal, bytesDone: j.bytesDone, error: j.error, createdBy: j.createdBy, createdAt: j.createdAt, updatedAt: j.updatedAt };
}

export interface HsmStatus {
  disk: { usedBytes: number; reservedBytes: number; capacityBytes: number | null; usedPct: number | null; highWaterPct: number; lowWaterPct: number };
  files: Record<'dirty' | 'migratedOnDisk' | 'archiveOnly' | 'staging', { files: number; bytes: number }> & { total: number };
  stageQueue: Record<string, number>;
  activeStages: number;
  repack: RepackJobView[];
  lastMigration: MigrationReport | null;
  lastPurge: PurgeReport | null;
  nextMigrationAt: string | null;
  recentRuns: Array<{ id: number; kind: string; state: string; files: number; bytes: number; startedAt: string; endedAt: string | null }>;
  damagedCopies: Array<{ fileId: number; generation: number; copy: number; volume: string; problem: string; detectedAt: string; repairedAt: string | null }>;
  lanes: Record<string, string>;
  /** Small files aggregated into containers: live container entries and their live members. */
  containers: { entries: number; members: number; bytes: number };
}
