import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { KeisanError } from '../../lib/errors.ts';
import * as ns from '../store.ts';
import type { ArchiveLocation, ArchiveWriteItem } from '../tiers/archive.ts';
import { classBook, planMigration, planPurge, classOf, type MigrationFile, type PurgeCandidate } from './decisions.ts';
import type { ClassOfService } from './model.ts';
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
        // Small files are packed into containers (one archive entry each); the others are
        // written one entry at a time. Each entry is recorded as soon as the backend returned it
        // durable, so a crash leaves at most the one entry being written unrecorded.
        const { singles, containers } = packContainers(items, (id) => classOf(book.classes(), rows.get(id)!.class_of_service), this.containerLimit());
        const fail = (fileId: number, error: string) => {
          const key = `${fileId}/${batch.copy}`;
          const previous = this.failures.get(key)?.count ?? 0;
          this.failures.set(key, { count: previous + 1, retryAt: clock.now().getTime() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** previous) });
          report.failed.push({ fileId, copy: batch.copy, error });
          this.ctx.logger.error({ fileId, copy: batch.copy, error }, 'hsm: a file could not be migrated (retried later)');
        };
        const recorded = (row: ns.EntryRow, family: string | null | undefined) => {
          this.failures.delete(`${row.id}/${batch.copy}`);
          if (family === undefined) return;
          changedFamilies.add(family);
          report.copiesWritten++;
          report.bytes += row.size;
          migratedFiles.add(row.id);
        };
        for (const members of containers) {
          const written = await this.writeContainer(batch.family, batch.copy, members);
          for (const f of written.failed) fail(f.fileId, f.error);
          if (!written.location) continue;
          const location = written.location;
          // Every member in one transaction: a container is recorded whole or not at all.
          const families = await db.transaction().execute(async (tx) => {
            const out: Array<string | null | undefined> = [];
            for (const m of written.members) {
              const row = rows.get(m.fileId)!;
              out.push(await this.recordIn(tx, row, batch.copy, batch.family, { ...location, length: row.size, sha256: row.sha256! }, { offset: m.offset, containerLength: location.length, containerSha256: location.sha256 }));
            }
            return out;
          });
          written.members.forEach((m, i) => recorded(rows.get(m.fileId)!, families[i]));
        }
        for (const item of singles) {
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
              fail(result.fileId, result.error ?? 'unknown error');
              continue;
            }
            const location = result.location;
            const family = await db.transaction().execute((tx) => this.recordIn(tx, row, batch.copy, batch.family, location, null));
            recorded(row, family);
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

  /**
   * Records one archive copy in `tx`: only if the file still has the generation that was copied
   * (else the copy is recorded obsolete, so cleanup removes it); the file stops being dirty once
   * every copy its class asks for exists. Returns the family whose usage changed, or undefined
   * when the file had changed.
   */
  private async recordIn(tx: ns.Tx, row: ns.EntryRow, copy: number, batchFamily: string, location: ArchiveLocation, member: ns.ContainerPart | null): Promise<string | null | undefined> {
    const at = this.ctx.clock.now();
    const current = await ns.byId(tx, row.id);
    const stillCurrent = current !== undefined && current.generation === row.generation && current.kind === ns.FILE;
    await ns.insertCopy(tx, row.id, row.generation, copy, location, at, !stillCurrent, member);
    if (!stillCurrent) return undefined;
    const family = await this.ctx.quotas.archived(tx, row.id, row.generation, batchFamily, row.size, at);
    const present = new Set(
      (await tx.selectFrom('fs_copies').select('copy_no').where('file_id', '=', row.id).where('generation', '=', row.generation).where('obsolete_at', 'is', null).execute()).map((c) => c.copy_no),
    );
    const wanted = classOf(this.ctx.book.classes(), row.class_of_service).copies;
    let complete = true;
    for (let c = 1; c <= wanted; c++) if (!present.has(c)) complete = false;
    if (complete) {
      await tx.updateTable('fs_entries').set({ dirty: 0, migrated_at: at.toISOString() }).where('id', '=', row.id).where('generation', '=', row.generation).execute();
    }
    return family;
  }

  /** The largest container: the class's size, but at most a quarter of a volume where volumes have a fixed capacity. */
  private containerLimit(): number {
    const capacity = (this.ctx.archive as { capacity?: unknown }).capacity;
    return typeof capacity === 'number' && capacity > 0 ? Math.floor(capacity / 4) : Number.MAX_SAFE_INTEGER;
  }

  /**
   * Writes one container: a first pass hashes every member's disk bytes (a member whose bytes do
   * not match its ingest SHA-256 is left out and reported), then the members are streamed back
   * to back as ONE archive entry whose SHA-256 the backend verifies. Nothing is recorded here.
   */
  private async writeContainer(
    family: string,
    copy: number,
    items: ArchiveWriteItem[],
  ): Promise<{ location?: ArchiveLocation; members: Array<{ fileId: number; offset: number }>; failed: Array<{ fileId: number; error: string }> }> {
    const failed: Array<{ fileId: number; error: string }> = [];
    const good: ArchiveWriteItem[] = [];
    let whole = createHash('sha256');
    for (const item of items) {
      // The container's hash so far, kept to go back to when this member is left out.
      const before = whole.copy();
      try {
        const memberHash = createHash('sha256');
        let bytes = 0;
        for await (const piece of item.open()) {
          const chunk = piece as Buffer;
          memberHash.update(chunk);
          whole.update(chunk);
          bytes += chunk.length;
        }
        const actual = memberHash.digest('hex');
        if (actual !== item.sha256 || bytes !== item.size) {
          whole = before;
          failed.push({ fileId: item.fileId, error: `the disk copy has ${bytes} bytes with SHA-256 ${actual}, the file was written with ${item.size} bytes and SHA-256 ${item.sha256}` });
          continue;
        }
        good.push(item);
      } catch (error) {
        whole = before;
        failed.push({ fileId: item.fileId, error: error instanceof Error ? error.message : String(error) });
      }
    }
    const members: Array<{ fileId: number; offset: number }> = [];
    let size = 0;
    for (const item of good) {
      members.push({ fileId: item.fileId, offset: size });
      size += item.size;
    }
    if (good.length === 0) return { members: [], failed };
    const sha256 = whole.digest('hex');
    const container: ArchiveWriteItem = { fileId: good[0]!.fileId, size, sha256, open: () => Readable.from(concatenate(good)) };
    let result: { location?: ArchiveLocation; error?: string } | undefined;
    try {
      [result] = await this.ctx.archive.write(family, copy, [container]);
    } catch (error) {
      result = { error: error instanceof Error ? error.message : String(error) };
    }
    if (!result?.location) {
      const error = `the container of ${good.length} files could not be written: ${result?.error ?? 'no location'}`;
      this.ctx.logger.error({ family, copy, files: good.length, bytes: size, error }, 'hsm: container write failed');
      return { members: [], failed: [...failed, ...good.map((g) => ({ fileId: g.fileId, error }))] };
    }
    return { location: result.location, members, failed };
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
      await removeEntryOf(ctx, row);
    } catch (error) {
      ctx.logger.warn({ volume: row.volume, entry: row.entry, error: error instanceof Error ? error.message : String(error) }, 'hsm: could not remove an obsolete archive copy (retried later)');
      continue;
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

/**
 * Removes the archive entry of a copy that is about to be forgotten, unless other copy rows still
 * share it (the other members of a container: the member's bytes stay a hole inside the
 * container until its last member goes, or repack rebuilds it). The entry goes before the row,
 * so a crash in between only repeats the remove (an entry already gone is fine).
 */
export async function removeEntryOf(ctx: HsmContext, row: ns.CopyRow): Promise<void> {
  if (row.container_offset !== null && (await ns.othersInEntry(ctx.db, row)) > 0) return;
  try {
    await ctx.archive.remove(ns.locationOf(row));
  } catch (error) {
    if (!(error instanceof KeisanError && error.code === 'NOT_FOUND')) throw error;
  }
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

/** The members' bytes back to back. */
async function* concatenate(items: readonly ArchiveWriteItem[]): AsyncGenerator<Buffer> {
  for (const item of items) {
    for await (const piece of item.open()) yield piece as Buffer;
  }
}

/**
 * Which files of a batch go into containers (pure): files smaller than their class's
 * `aggregateBelowBytes`, in batch order, packed into containers of at most the class's
 * `containerSizeBytes` (and `limit`); a container that would hold one file is written as a plain
 * entry. Files of different classes are not mixed.
 */
export function packContainers<T extends { fileId: number; size: number }>(
  items: readonly T[],
  classOfFile: (fileId: number) => Pick<ClassOfService, 'name' | 'aggregateBelowBytes' | 'containerSizeBytes'>,
  limit: number = Number.MAX_SAFE_INTEGER,
): { singles: T[]; containers: T[][] } {
  const singles: T[] = [];
  const containers: T[][] = [];
  const open = new Map<string, { items: T[]; bytes: number }>();
  const close = (name: string) => {
    const c = open.get(name);
    if (!c) return;
    open.delete(name);
    if (c.items.length === 1) singles.push(c.items[0]!);
    else containers.push(c.items);
  };
  for (const item of items) {
    const cos = classOfFile(item.fileId);
    const max = Math.min(cos.containerSizeBytes, limit);
    if (cos.aggregateBelowBytes <= 0 || item.size >= cos.aggregateBelowBytes || item.size >= max) {
      singles.push(item);
      continue;
    }
    const current = open.get(cos.name);
    if (current && current.bytes + item.size > max) close(cos.name);
    const c = open.get(cos.name) ?? { items: [], bytes: 0 };
    c.items.push(item);
    c.bytes += item.size;
    open.set(cos.name, c);
  }
  for (const name of [...open.keys()]) close(name);
  return { singles, containers };
}
