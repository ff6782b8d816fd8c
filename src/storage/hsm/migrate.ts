import { createReadStream } from 'node:fs';
import { KeisanError } from '../../lib/errors.ts';
import * as ns from '../store.ts';
import type { ArchiveLocation, ArchiveWriteItem } from '../tiers/archive.ts';
import { classBook, planMigration, planPurge, classOf, type MigrationFile, type PurgeCandidate } from './decisions.ts';
import { PolicyResolver, type HsmContext } from './context.ts';
import * as store from './store.ts';

/** What one migration run did. */
export interface MigrationReport {
  batches: number;
  files: number;
  bytes: number;
  copiesWritten: number;
  failed: Array<{ fileId: number; copy: number; error: string }>;
  /** Dirty files still inside their migration delay, and when the first becomes due. */
  waiting: number;
  nextDueAt: string | null;
}

/** Files that failed to migrate are retried after a pause that grows with each failure. */
const RETRY_BASE_MS = 60_000;
const RETRY_MAX_MS = 3_600_000;

export class Migrator {
  private readonly failures = new Map<string, { count: number; retryAt: number }>();

  constructor(private readonly ctx: HsmContext) {}

  /**
   * One migration run: plan (pure) over the dirty files with a disk copy, then write each batch
   * through the archive backend. A copy is recorded in the same transaction that re-reads the
   * file: only if the file still has the generation that was copied (else the new entry is
   * recorded obsolete, so cleanup removes it from its volume). The file stops being dirty once
   * every copy its class asks for exists. Nothing is recorded before the backend returned a
   * durable, verified location: after a crash the run simply starts again.
   */
  async run(options: { ignoreDelay?: boolean; onlyFileIds?: ReadonlySet<number> } = {}): Promise<MigrationReport> {
    // One run at a time (the background lane and `migrate --now`): two would copy a file twice.
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await this.runOnce(options);
    } finally {
      release();
    }
  }

  private tail: Promise<void> = Promise.resolve();

  private async runOnce(options: { ignoreDelay?: boolean; onlyFileIds?: ReadonlySet<number> }): Promise<MigrationReport> {
    const { db, clock, book } = this.ctx;
    const now = clock.now();
    const resolver = new PolicyResolver(this.ctx);
    const rows = new Map<number, ns.EntryRow>();
    const files: MigrationFile[] = [];
    let afterId = 0;
    for (let page = 0; page < 10_000; page++) {
      const batch = await ns.findFiles(db, { diskState: ['complete'], dirty: true, afterId, limit: 1000 });
      if (batch.length === 0) break;
      afterId = batch.at(-1)!.id;
      const copies = await ns.currentCopies(db, batch.map((r) => r.id));
      for (const row of batch) {
        if (options.onlyFileIds && !options.onlyFileIds.has(row.id)) continue;
        if (!row.sha256) continue;
        const policy = await resolver.of(row);
        rows.set(row.id, { ...row, family: policy.family, class_of_service: policy.cos });
        files.push({
          id: row.id,
          size: row.size,
          family: policy.family,
          cos: policy.cos,
          dirty: true,
          modifiedAt: options.ignoreDelay ? new Date(0) : new Date(row.modified_at),
          copiesPresent: copies.filter((c) => c.file_id === row.id && c.generation === row.generation).map((c) => c.copy_no),
        });
      }
    }
    const plan = planMigration(files, book.classes(), now);
    const report: MigrationReport = { batches: 0, files: 0, bytes: 0, copiesWritten: 0, failed: [], waiting: plan.waiting, nextDueAt: plan.nextDueAt?.toISOString() ?? null };
    if (plan.batches.length === 0) return report;

    const runId = await store.startRun(db, 'migrate', now);
    const migratedFiles = new Set<number>();
    try {
      for (const batch of plan.batches) {
        const items: ArchiveWriteItem[] = [];
        for (const id of batch.fileIds) {
          const key = `${id}/${batch.copy}`;
          const failure = this.failures.get(key);
          if (failure && failure.retryAt > clock.now().getTime()) continue;
          const row = rows.get(id)!;
          const file = this.ctx.disk.filePath(row.id, row.generation);
          items.push({ fileId: row.id, size: row.size, sha256: row.sha256!, open: () => createReadStream(file, { highWaterMark: 1024 * 1024 }) });
        }
        if (items.length === 0) continue;
        report.batches++;
        const changedFamilies = new Set<string | null>();
        // The batch goes to one family's volume in one drive session; each file is written and
        // then recorded at once, so a crash leaves at most the one entry being written unrecorded.
        for (const item of items) {
          let results: Array<{ fileId: number; location?: ArchiveLocation; error?: string }>;
          try {
            results = await this.ctx.archive.write(batch.family, batch.copy, [item]);
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            this.ctx.logger.error({ family: batch.family, copy: batch.copy, fileId: item.fileId, error: message }, 'hsm: migration write failed');
            results = [{ fileId: item.fileId, error: message }];
          }
          for (const result of results) {
            const row = rows.get(result.fileId)!;
            if (!result.location) {
              const key = `${result.fileId}/${batch.copy}`;
              const previous = this.failures.get(key)?.count ?? 0;
              this.failures.set(key, { count: previous + 1, retryAt: clock.now().getTime() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** previous) });
              report.failed.push({ fileId: result.fileId, copy: batch.copy, error: result.error ?? 'unknown error' });
              this.ctx.logger.error({ fileId: result.fileId, copy: batch.copy, error: result.error }, 'hsm: a file could not be migrated (retried later)');
              continue;
            }
            this.failures.delete(`${result.fileId}/${batch.copy}`);
            const location = result.location;
            const recorded = await db.transaction().execute(async (tx) => {
              const at = clock.now();
              const current = await ns.byId(tx, row.id);
              const stillCurrent = current !== undefined && current.generation === row.generation && current.kind === ns.FILE;
              await ns.insertCopy(tx, row.id, row.generation, batch.copy, location, at, !stillCurrent);
              if (!stillCurrent) return null;
              const family = await this.ctx.quotas.archived(tx, row.id, row.generation, batch.family, row.size, at);
              const present = new Set(
                (await tx.selectFrom('fs_copies').select('copy_no').where('file_id', '=', row.id).where('generation', '=', row.generation).where('obsolete_at', 'is', null).execute()).map((c) => c.copy_no),
              );
              const wanted = classOf(book.classes(), row.class_of_service).copies;
              let complete = true;
              for (let c = 1; c <= wanted; c++) if (!present.has(c)) complete = false;
              if (complete) {
                await tx
                  .updateTable('fs_entries')
                  .set({ dirty: 0, migrated_at: at.toISOString() })
                  .where('id', '=', row.id)
                  .where('generation', '=', row.generation)
                  .execute();
              }
              return { family };
            });
            if (recorded) {
              changedFamilies.add(recorded.family);
              report.copiesWritten++;
              report.bytes += row.size;
              migratedFiles.add(row.id);
            }
          }
        }
        await this.ctx.quotas.refresh(changedFamilies);
      }
      report.files = migratedFiles.size;
      await store.endRun(db, runId, 'done', report.files, report.bytes, { ...report }, clock.now());
    } catch (error) {
      await store.endRun(db, runId, 'failed', migratedFiles.size, report.bytes, { error: error instanceof Error ? error.message : String(error) }, clock.now()).catch(() => undefined);
      throw error;
    }
    if (report.copiesWritten > 0) this.ctx.logger.info({ files: report.files, copies: report.copiesWritten, bytes: report.bytes, failed: report.failed.length }, 'hsm: migration run done');
    return report;
  }
}

/**
 * Removes obsolete archive copies (of overwritten or deleted files) from their volumes, then
 * forgets them, uncounting the family's usage when a generation's last copy goes. Removing an
 * entry that is already gone (a crash after the remove, before the row went) is fine.
 */
export async function cleanupObsolete(ctx: HsmContext, limit = 1000): Promise<number> {
  const rows = await ns.obsoleteCopyRows(ctx.db, limit);
  const families = new Set<string | null>();
  let removed = 0;
  for (const row of rows) {
    try {
      await ctx.archive.remove(ns.locationOf(row));
    } catch (error) {
      if (!(error instanceof KeisanError && error.code === 'NOT_FOUND')) {
        ctx.logger.warn({ volume: row.volume, entry: row.entry, error: error instanceof Error ? error.message : String(error) }, 'hsm: could not remove an obsolete archive copy (retried later)');
        continue;
      }
    }
    const family = await ctx.db.transaction().execute(async (tx) => {
      await ns.deleteCopy(tx, row.id);
      return ctx.quotas.released(tx, row.file_id, row.generation, ctx.clock.now());
    });
    families.add(family);
    removed++;
  }
  await ctx.quotas.refresh(families);
  return removed;
}

export interface PurgeReport {
  triggered: boolean;
  usageBefore: number;
  usageAfter: number;
  capacity: number | null;
  highBytes: number;
  lowBytes: number;
  purgedFiles: number;
  freedBytes: number;
  reachedLow: boolean;
  ranOut: boolean;
  kept: Record<string, number>;
  /** Files the plan chose but that had changed by the time their turn came (re-checked in the transaction). */
  skippedUnsafe: number;
}

/**
 * Water-mark purge: plan over every file with a complete disk copy (pure `planPurge`), then drop
 * each chosen disk copy through the namespace's `purgeDiskCopy`, which checks again in one
 * transaction that it is still that generation, complete, not dirty, not pinned, not open and
 * not being staged; the bytes are unlinked after the commit (a crash between leaves an orphan
 * file the namespace's sweep removes, never a row pointing at missing bytes).
 */
export async function runPurge(ctx: HsmContext, options: { force?: boolean; toPct?: number } = {}): Promise<PurgeReport> {
  const { db, clock, book } = ctx;
  const now = clock.now();
  const usage = await ctx.namespace.diskUsage();
  let capacity = usage.capacityBytes;
  if (capacity === null && usage.filesystemFreeBytes !== null) capacity = usage.usedBytes + usage.filesystemFreeBytes;
  const empty: PurgeReport = {
    triggered: false, usageBefore: usage.usedBytes, usageAfter: usage.usedBytes, capacity, highBytes: 0, lowBytes: 0,
    purgedFiles: 0, freedBytes: 0, reachedLow: true, ranOut: false, kept: {}, skippedUnsafe: 0,
  };
  if (capacity === null || capacity <= 0) return empty;

  const resolver = new PolicyResolver(ctx);
  const leased = new Set(
    (await db.selectFrom('fs_leases').select('file_id').distinct().where('expires_at', '>', now.toISOString()).execute()).map((r) => r.file_id),
  );
  const candidates: PurgeCandidate[] = [];
  const generations = new Map<number, { generation: number; size: number }>();
  let afterId = 0;
  for (let page = 0; page < 100_000; page++) {
    const rows = await db
      .selectFrom('fs_entries')
      .select(['id', 'parent_id', 'name', 'size', 'generation', 'dirty', 'disk_state', 'pinned_until', 'accessed_at', 'migrated_at', 'class_of_service', 'family'])
      .where('kind', '=', ns.FILE)
      .where('generation', '>', 0)
      .where('disk_state', 'in', ['complete', 'staging'])
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(5000)
      .execute();
    if (rows.length === 0) break;
    afterId = rows.at(-1)!.id;
    for (const r of rows) {
      const cos = r.class_of_service ?? (await resolver.of(r)).cos;
      generations.set(r.id, { generation: r.generation, size: r.size });
      candidates.push({
        id: r.id,
        size: r.size,
        cos,
        migrated: r.dirty === 0 && r.migrated_at !== null,
        open: leased.has(r.id),
        pinned: r.pinned_until !== null && r.pinned_until > now.toISOString(),
        staging: r.disk_state === 'staging',
        lastAccessAt: new Date(r.accessed_at),
        migratedAt: r.migrated_at ? new Date(r.migrated_at) : null,
      });
    }
  }
  // `--to PCT`: every class purges down to PCT (0: every purgeable file) instead of its low mark.
  const classes = options.toPct === undefined ? book.classes() : classBook([...book.classes().values()].map((c) => ({ ...c, purgeLowPct: options.toPct!, purgeHighPct: Math.max(options.toPct!, c.purgeHighPct) })));
  const plan = planPurge(usage.usedBytes, capacity, classes, candidates, now, { force: options.force ?? options.toPct !== undefined });
  const report: PurgeReport = {
    ...empty,
    triggered: plan.triggered,
    highBytes: plan.highBytes,
    lowBytes: plan.lowBytes,
    reachedLow: plan.reachedLow,
    ranOut: plan.ranOut,
    kept: { ...plan.kept },
  };
  if (plan.purge.length === 0) {
    if (plan.triggered && plan.ranOut && !options.force && options.toPct === undefined) ctx.logger.warn({ usage: usage.usedBytes, capacity, kept: plan.kept }, 'hsm: disk tier above its high water mark and nothing more may be purged');
    return report;
  }
  const runId = await store.startRun(db, 'purge', now);
  for (const id of plan.purge) {
    const expected = generations.get(id)!;
    // The namespace checks again, in one transaction, that the file is still safe to purge.
    const result = await ctx.namespace.purgeDiskCopy(id, expected.generation);
    if (!result.purged) {
      report.skippedUnsafe++;
      continue;
    }
    report.purgedFiles++;
    report.freedBytes += result.bytes;
  }
  report.usageAfter = usage.usedBytes - report.freedBytes;
  await store.endRun(db, runId, 'done', report.purgedFiles, report.freedBytes, { ...report }, clock.now());
  ctx.logger.info({ files: report.purgedFiles, freed: report.freedBytes, usageAfter: report.usageAfter, capacity, ranOut: report.ranOut }, 'hsm: purge run done');
  return report;
}
