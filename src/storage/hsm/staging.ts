import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { conflict, KeisanError, notFound } from '../../lib/errors.ts';
import type { StageTarget } from '../model.ts';
import * as ns from '../store.ts';
import { isArchiveChecksumError, type ArchiveProgress } from '../tiers/archive.ts';
import type { HsmContext } from './context.ts';
import { classOf, orderStageRequests, type DriveModel, type StagePending } from './decisions.ts';
import type { StageFileState } from './model.ts';
import * as store from './store.ts';

/**
 * Staging: bringing archive-only files back to the disk tier.
 *
 * One `ActiveStage` per file at a time, whoever asks (a read, a bulk request, several of each):
 * they all join it. It reads the copies in turn (the preferred volume first, then by copy
 * number) into the file's generation on the disk tier; the disk copy becomes `complete` only
 * after the whole entry arrived, the backend raised no error and the SHA-256 equals the one
 * recorded at ingest (a whole entry: checked by the backend as it streams, against the copy's
 * SHA-256, which is the file's; a container member, a range read: hashed here as it goes). A
 * damaged copy is recorded in `hsm_copy_problems`, logged, marked obsolete (cleanup removes it
 * from its volume) and the file is marked dirty, so migration writes that copy anew from the
 * good disk copy.
 *
 * Async readers follow the stage: they get bytes as soon as they are on disk. If the copy being
 * read turns out damaged after a reader already got bytes, that reader's stream fails (the bytes
 * it got cannot be taken back) saying to read again; a reader that has not got bytes yet simply
 * continues with the next copy.
 */

export type StageEvent = { kind: 'mounting' | 'positioning' | 'transferring' | 'done'; volume: string; bytes?: number };

export class ActiveStage {
  /** Bytes of the current attempt written to the disk file (readable by followers). */
  written = 0;
  /** Grows each time the stage starts over from another copy. */
  attempt = 0;
  state: 'running' | 'done' | 'failed' = 'running';
  error: Error | null = null;
  /** The disk file exists for the current attempt. */
  fileReady = false;
  volume: string | null = null;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  private waiters: Array<() => void> = [];
  readonly listeners = new Set<(event: StageEvent) => void>();

  constructor(
    readonly fileId: number,
    readonly generation: number,
    readonly size: number,
    readonly path: string,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // A stage nobody awaits must not become an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Resolves at the next change (bytes, a new attempt, the end). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  emit(event: StageEvent): void {
    for (const l of this.listeners) l(event);
  }

  finish(error: Error | null): void {
    if (error) {
      this.state = 'failed';
      this.error = error;
      this.rejectDone(error);
    } else {
      this.state = 'done';
      this.written = this.size;
      this.resolveDone();
    }
    this.notify();
  }
}

/** Bytes a follower reads at a time (and its stream's high water mark). */
const CHUNK = 1024 * 1024;

/** A stream of `range` of a file, following an active stage as its bytes reach the disk file. */
export function followStage(stage: ActiveStage, filePath: string, range: { start: number; end: number }): Readable {
  let position = range.start;
  let attemptSeen = -1;
  let delivered = false;
  let handle: FileHandle | null = null;
  let busy = false;

  const closeHandle = async () => {
    const h = handle;
    handle = null;
    await h?.close().catch(() => undefined);
  };

  const readable = new Readable({
    highWaterMark: CHUNK,
    read() {
      void pump();
    },
    destroy(error, callback) {
      void closeHandle().then(() => callback(error));
    },
  });

  async function pump(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      for (let spins = 0; spins < 10_000_000; spins++) {
        if (readable.destroyed) return;
        if (position > range.end) {
          // The end only once the whole file is verified and committed: a damaged copy found at
          // the last byte fails the stream instead of ending it.
          if (stage.state === 'running') {
            await stage.changed();
            continue;
          }
          if (stage.state === 'failed') {
            readable.destroy(stage.error ?? new KeisanError('UNAVAILABLE', 'staging failed'));
            return;
          }
          readable.push(null);
          return;
        }
        if (stage.state === 'failed') {
          readable.destroy(stage.error ?? new KeisanError('UNAVAILABLE', 'staging failed'));
          return;
        }
        if (stage.attempt !== attemptSeen) {
          if (delivered) {
            readable.destroy(
              new KeisanError('UNAVAILABLE', `${stage.path}: the archive copy being staged turned out damaged after part of it was sent; it is being staged from another copy — read the file again`),
            );
            return;
          }
          if (!stage.fileReady && stage.state === 'running') {
            await stage.changed();
            continue;
          }
          attemptSeen = stage.attempt;
          await closeHandle();
          handle = await open(filePath, 'r');
        }
        // The last byte is held back until the stage is verified, so no reader has the whole file from a damaged copy.
        const available = stage.state === 'done' ? stage.size : Math.min(stage.written, stage.size - 1);
        if (position < available) {
          const want = Math.min(CHUNK, available - position, range.end + 1 - position);
          // A buffer of its own for each read, handed to the reader as is (no copy).
          const buffer = Buffer.allocUnsafe(want);
          const { bytesRead } = await handle!.read(buffer, 0, want, position);
          if (bytesRead === 0) {
            await stage.changed();
            continue;
          }
          position += bytesRead;
          delivered = true;
          if (!readable.push(bytesRead === want ? buffer : buffer.subarray(0, bytesRead))) return;
          continue;
        }
        if (stage.state === 'done') {
          // The file is complete but shorter than asked: end where it ends.
          readable.push(null);
          return;
        }
        await stage.changed();
      }
    } catch (error) {
      readable.destroy(error instanceof Error ? error : new Error(String(error)));
    } finally {
      busy = false;
    }
  }
  readable.on('close', () => void closeHandle());
  return readable;
}

export interface StagingOptions {
  /** How long a bulk-staged file stays pinned on disk (not purged). */
  pinMs: number;
}

/** The drive model for estimates: the archive-dir library's timing when there is one. */
export function driveModelOf(ctx: HsmContext): DriveModel {
  const drives = ctx.archive.drives();
  const mounted = drives.map((d) => d.volume).filter((v): v is string => v !== null);
  const library = (ctx.archive as { library?: { timing?: { delays: { mount: number; unmount: number; locate: number; rewind: number }; timeScale: number; rateMBps: number } } }).library;
  if (library?.timing) {
    const t = library.timing;
    return {
      drives: Math.max(1, drives.length),
      mountMs: t.delays.mount * t.timeScale,
      locateMs: t.delays.locate * t.timeScale,
      unmountMs: (t.delays.unmount + t.delays.rewind) * t.timeScale,
      bytesPerSecond: t.rateMBps > 0 ? t.rateMBps * 1e6 : 400e6,
      mounted,
    };
  }
  return { drives: Math.max(1, drives.length || 4), mountMs: 0, locateMs: 0, unmountMs: 0, bytesPerSecond: 100e6, mounted };
}

export class Stager {
  private readonly active = new Map<number, ActiveStage>();
  /** Set by the engine: called when a stage ended (purge may be due; queue may move). */
  onStageEnd: () => void = () => undefined;

  constructor(
    private readonly ctx: HsmContext,
    private readonly options: StagingOptions,
  ) {}

  activeCount(): number {
    return this.active.size;
  }

  /** Starts the stage of a file, or joins the one running. */
  async stageFile(fileId: number, options: { preferVolume?: string; path?: string; listener?: (e: StageEvent) => void } = {}): Promise<ActiveStage> {
    const running = this.active.get(fileId);
    if (running) {
      if (options.listener) running.listeners.add(options.listener);
      return running;
    }
    const row = await ns.byId(this.ctx.db, fileId);
    if (!row || row.kind !== ns.FILE || row.generation === 0) throw notFound('file', options.path ?? `#${fileId}`);
    const again = this.active.get(fileId);
    if (again) {
      if (options.listener) again.listeners.add(options.listener);
      return again;
    }
    const stage = new ActiveStage(fileId, row.generation, row.size, options.path ?? `file #${fileId}`);
    if (options.listener) stage.listeners.add(options.listener);
    this.active.set(fileId, stage);
    void this.run(stage, row, options.preferVolume).finally(() => {
      if (this.active.get(fileId) === stage) this.active.delete(fileId);
      this.onStageEnd();
    });
    return stage;
  }

  private async badCopies(fileId: number, generation: number): Promise<Set<number>> {
    const rows = await this.ctx.db
      .selectFrom('hsm_copy_problems')
      .select('copy_no')
      .where('file_id', '=', fileId)
      .where('generation', '=', generation)
      .where('repaired_at', 'is', null)
      .execute();
    return new Set(rows.map((r) => r.copy_no));
  }

  private async run(stage: ActiveStage, row: ns.EntryRow, preferVolume: string | undefined): Promise<void> {
    const { ctx } = this;
    if (row.disk_state === 'complete') {
      stage.fileReady = true;
      stage.finish(null);
      return;
    }
    const bad = await this.badCopies(row.id, row.generation);
    const copies = (await ns.currentCopies(ctx.db, [row.id]))
      .filter((c) => c.generation === row.generation && !bad.has(c.copy_no))
      .sort((a, b) => Number(b.volume === preferVolume) - Number(a.volume === preferVolume) || a.copy_no - b.copy_no);
    if (copies.length === 0) {
      stage.finish(new KeisanError('UNAVAILABLE', `${stage.path} is not on the disk tier and has no readable archive copy${bad.size ? ` (${bad.size} damaged)` : ''}: tell an operator`));
      return;
    }
    let handle: FileHandle;
    try {
      ({ handle } = await ctx.namespace.beginStaging(row.id, row.generation));
    } catch (error) {
      const now = await ns.byId(ctx.db, row.id);
      if (now?.disk_state === 'complete' && now.generation === row.generation) {
        stage.fileReady = true;
        stage.finish(null);
      } else {
        stage.finish(error instanceof Error ? error : new Error(String(error)));
      }
      return;
    }
    const damaged: Array<{ copy: ns.CopyRow; problem: string }> = [];
    const errors: string[] = [];
    try {
      for (const copy of copies) {
        stage.attempt++;
        stage.written = 0;
        stage.volume = copy.volume;
        try {
          if (stage.attempt > 1) await handle.truncate(0);
          stage.fileReady = true;
          stage.notify();
          const progress: ArchiveProgress = (event) => {
            if (event.kind === 'mounting' || event.kind === 'positioning') stage.emit({ kind: event.kind, volume: event.volume });
          };
          // A container member is a range read of the container's entry: the backend cannot check
          // the entry's SHA-256 on a range, so the member's own SHA-256 is checked below.
          const range = ns.rangeOf(copy);
          const stream = await ctx.archive.read(ns.locationOf(copy), range, progress);
          // A whole entry is verified by the backend while it streams (ArchiveBackend.read: the
          // stream fails with an ArchiveChecksumError when the bytes differ from the entry's
          // SHA-256, which is the copy's): hashing it again here would double the CPU of a stage.
          const hash = range === undefined && copy.sha256 === row.sha256 ? null : createHash('sha256');
          let transferring = false;
          for await (const piece of stream) {
            const chunk = piece as Buffer;
            if (!transferring) {
              transferring = true;
              stage.emit({ kind: 'transferring', volume: copy.volume, bytes: 0 });
            }
            const at = stage.written;
            const writing = (async () => {
              let done = 0;
              while (done < chunk.length) done += (await handle.write(chunk, done, chunk.length - done, at + done)).bytesWritten;
            })();
            // Hashed while the write is in flight (thread pool).
            hash?.update(chunk);
            await writing;
            stage.written += chunk.length;
            stage.emit({ kind: 'transferring', volume: copy.volume, bytes: stage.written });
            stage.notify();
          }
          const actual = hash ? hash.digest('hex') : copy.sha256;
          if (stage.written !== row.size || actual !== row.sha256) {
            throw new StageChecksumError(`copy ${copy.copy_no} on ${copy.volume} gave ${stage.written} bytes with SHA-256 ${actual}; the file has ${row.size} bytes with SHA-256 ${row.sha256}`);
          }
          await handle.sync();
          await handle.close().catch(() => undefined);
          // The namespace checks the checksum again, syncs, and makes the disk copy complete.
          await ctx.namespace.finishStaging(row.id, row.generation, actual);
          await this.repairLater(row, damaged);
          stage.emit({ kind: 'done', volume: copy.volume, bytes: row.size });
          stage.finish(null);
          ctx.logger.info({ fileId: row.id, volume: copy.volume, copy: copy.copy_no, bytes: row.size }, 'hsm: staged');
          return;
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          if (isArchiveChecksumError(error) || error instanceof StageChecksumError) {
            damaged.push({ copy, problem: message });
            ctx.logger.error({ fileId: row.id, volume: copy.volume, entry: copy.entry, copy: copy.copy_no, problem: message }, 'hsm: DAMAGED archive copy found while staging; trying another copy');
          } else {
            ctx.logger.warn({ fileId: row.id, volume: copy.volume, copy: copy.copy_no, error: message }, 'hsm: staging from this copy failed; trying another copy');
          }
          errors.push(`copy ${copy.copy_no} on ${copy.volume}: ${message}`);
        }
      }
    } finally {
      await handle.close().catch(() => undefined);
    }
    await ctx.namespace.abortStaging(row.id, row.generation).catch(() => undefined);
    await this.repairLater(row, damaged);
    stage.finish(new KeisanError('UNAVAILABLE', `${stage.path} could not be staged from any of its ${copies.length} archive cop${copies.length === 1 ? 'y' : 'ies'} (${errors.join('; ')}): tell an operator`));
  }

  /**
   * Damaged copies: recorded, made obsolete (cleanup removes them from their volumes) and, when
   * the disk copy is good again, the file made dirty so migration writes them anew.
   */
  private async repairLater(row: ns.EntryRow, damaged: Array<{ copy: ns.CopyRow; problem: string }>): Promise<void> {
    if (damaged.length === 0) return;
    const now = this.ctx.clock.now().toISOString();
    await this.ctx.db.transaction().execute(async (tx) => {
      for (const { copy, problem } of damaged) {
        await tx
          .insertInto('hsm_copy_problems')
          .values({ file_id: copy.file_id, generation: copy.generation, copy_no: copy.copy_no, volume: copy.volume, entry: copy.entry, problem, detected_at: now, repaired_at: null })
          .execute();
        await tx.updateTable('fs_copies').set({ obsolete_at: now }).where('id', '=', copy.id).execute();
      }
      const current = await ns.byId(tx, row.id);
      if (current && current.generation === row.generation && current.disk_state === 'complete') {
        await tx.updateTable('fs_entries').set({ dirty: 1 }).where('id', '=', row.id).where('generation', '=', row.generation).execute();
      }
    });
  }

  /**
   * The namespace's Stager: a read of a file that is not on the disk tier. `async` classes stream
   * as bytes arrive; `sync` waits for the whole file; `none` refuses and says how to prestage.
   */
  stage = async (target: StageTarget): Promise<Readable> => {
    const cos = classOf(this.ctx.book.classes(), target.file.classOfService ?? this.ctx.book.classForPath(target.path).name);
    if (cos.staging === 'none') {
      throw conflict(`${target.path} is only in the archive and class '${cos.name}' does not stage on read: prestage it with 'keisan fs stage ${target.path} --wait', then read it`);
    }
    const stage = await this.stageFile(target.file.id, { path: target.path });
    if (cos.staging === 'sync') {
      await stage.done;
      return this.ctx.disk.openRead(target.file.id, stage.generation, target.range.start, target.range.end);
    }
    return followStage(stage, this.ctx.disk.filePath(target.file.id, stage.generation), target.range);
  };

  // ---------------------------------------------------------------- bulk requests

  /**
   * One pass over the bulk stage queue: merged per file, ordered by volume and position (pure
   * `orderStageRequests`), queue positions and estimates written for every waiting file, then the
   * first visits (one per drive) staged in position order. Returns true when files remain.
   */
  async processQueue(): Promise<boolean> {
    const { ctx } = this;
    const now = ctx.clock.now();
    const open = await store.readOpenStageFiles(ctx.db);
    if (open.length === 0) {
      await store.settleStageRequests(ctx.db, now);
      return false;
    }
    const byFile = new Map<number, store.StageFileRow[]>();
    for (const f of open) {
      if (f.fileId === null) continue;
      const list = byFile.get(f.fileId) ?? [];
      list.push(f);
      byFile.set(f.fileId, list);
    }
    const ids = [...byFile.keys()];
    const copies = await ns.currentCopies(ctx.db, ids);
    const pending: StagePending[] = [];
    const pinUntil = new Date(now.getTime() + this.options.pinMs).toISOString();
    for (const id of ids) {
      const row = await ns.byId(ctx.db, id);
      if (!row || row.kind !== ns.FILE || row.generation === 0) {
        await store.updateStageFile(ctx.db, id, { state: 'FAILED', error: 'the file was removed before it could be staged' }, now);
        continue;
      }
      if (row.disk_state === 'complete') {
        await this.markOnDisk(id, row.size, pinUntil);
        continue;
      }
      const bad = await this.badCopies(id, row.generation);
      const rows = byFile.get(id)!;
      for (const r of rows) {
        pending.push({
          requestId: r.requestId,
          fileId: id,
          size: row.size,
          requestedAt: new Date(r.updatedAt),
          locations: copies.filter((c) => c.file_id === id && c.generation === row.generation && !bad.has(c.copy_no)).map((c) => ({ copy: c.copy_no, volume: c.volume, position: c.position + (c.container_offset ?? 0) })),
        });
      }
    }
    const order = orderStageRequests(pending, driveModelOf(ctx));
    for (const u of order.unservable) {
      await store.updateStageFile(ctx.db, u.fileId, { state: 'FAILED', error: 'no readable archive copy: tell an operator' }, now);
    }
    for (const visit of order.visits) {
      for (const f of visit.files) {
        await store.updateStageFile(ctx.db, f.fileId, { queuePosition: f.queuePosition, etaAt: new Date(now.getTime() + f.etaMs).toISOString(), volume: visit.volume, copyNo: f.copy }, now);
      }
    }
    await store.settleStageRequests(ctx.db, now);
    if (order.visits.length === 0) return false;

    const driveCount = Math.max(1, ctx.archive.drives().length);
    const visits = order.visits.slice(0, driveCount);
    await Promise.all(visits.map((visit) => this.stageVisit(visit.volume, visit.files.map((f) => f.fileId))));
    await store.settleStageRequests(ctx.db, ctx.clock.now());
    return true;
  }

  private async markOnDisk(fileId: number, size: number, pinUntil: string): Promise<void> {
    const now = this.ctx.clock.now();
    await this.ctx.db.transaction().execute(async (tx) => {
      await store.updateStageFile(tx, fileId, { state: 'ON_DISK', bytesDone: size, queuePosition: null, etaAt: null, pinUntil }, now);
      await tx
        .updateTable('fs_entries')
        .set({ pinned_until: pinUntil })
        .where('id', '=', fileId)
        .where((eb) => eb.or([eb('pinned_until', 'is', null), eb('pinned_until', '<', pinUntil)]))
        .execute();
    });
  }

  private async stageVisit(volume: string, fileIds: number[]): Promise<void> {
    const { ctx } = this;
    for (const fileId of fileIds) {
      let lastWrite = 0;
      let lastState: StageFileState = 'QUEUED';
      const listener = (event: StageEvent) => {
        const state: StageFileState = event.kind === 'mounting' ? 'MOUNTING' : event.kind === 'positioning' ? 'POSITIONING' : event.kind === 'transferring' ? 'TRANSFERRING' : lastState;
        const t = Date.now();
        if (state === lastState && t - lastWrite < 500) return;
        lastState = state;
        lastWrite = t;
        void store.updateStageFile(ctx.db, fileId, { state, bytesDone: event.bytes ?? 0, volume: event.volume, queuePosition: null }, ctx.clock.now()).catch(() => undefined);
      };
      try {
        const stage = await this.stageFile(fileId, { preferVolume: volume, listener });
        await stage.done;
        stage.listeners.delete(listener);
        const row = await ns.byId(ctx.db, fileId);
        await this.markOnDisk(fileId, row?.size ?? stage.size, new Date(ctx.clock.now().getTime() + this.options.pinMs).toISOString());
      } catch (error) {
        await store.updateStageFile(ctx.db, fileId, { state: 'FAILED', error: error instanceof Error ? error.message : String(error), queuePosition: null, etaAt: null }, ctx.clock.now());
      }
    }
  }
}

class StageChecksumError extends Error {}
