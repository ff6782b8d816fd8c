import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { conflict, invalidInput, KeisanError, notFound } from '../../lib/errors.ts';
import * as ns from '../store.ts';
import { isArchiveChecksumError, type VolumeInfo } from '../tiers/archive.ts';
import type { HsmContext } from './context.ts';
import { selectRepack } from './decisions.ts';
import * as store from './store.ts';

/**
 * Repack: the live entries of a volume are copied to fresh volumes of the same family and copy
 * number, each verified (the read checks the entry's SHA-256, the write checks it again), then
 * the copy's row is pointed at its new place in one compare-and-set update (only if it still
 * points at the old volume). When no live copy is left the volume is retired and its space
 * freed. Jobs are rows: progress, pause and resume survive restarts; after kill -9 a job goes
 * on from the first copy still on the old volume (a copy written but not yet relocated is
 * simply written again: the first one stays an unreferenced entry on the new volume).
 */
export class Repacker {
  private paused = new Set<number>();

  constructor(private readonly ctx: HsmContext) {}

  private get tempDir(): string {
    return path.join(this.ctx.disk.root, 'hsm-repack');
  }

  /** Creates repack jobs: one named volume, or every volume with at least `holesPct` holes. */
  async create(by: string, target: { volume?: string; holesPct?: number }): Promise<store.RepackRow[]> {
    const { ctx } = this;
    const volumes = await ctx.archive.volumes();
    const open = await store.readRepacks(ctx.db, { openOnly: true });
    const busy = new Set(open.map((j) => j.volume));
    let chosen: VolumeInfo[];
    if (target.volume !== undefined) {
      const v = volumes.find((x) => x.name === target.volume);
      if (!v) throw notFound('volume', target.volume);
      if (busy.has(v.name)) throw conflict(`volume ${v.name} is being repacked already: see keisan hsm repack-status`);
      if (v.state === 'retired') throw conflict(`volume ${v.name} is retired already`);
      if (v.state === 'filling' || v.state === 'empty') throw conflict(`volume ${v.name} is still being filled (${v.state}): repack full or read-only volumes`);
      chosen = [v];
    } else {
      const pct = target.holesPct ?? 50;
      if (!(pct >= 0 && pct <= 100)) throw invalidInput(`--holes must be a percentage from 0 to 100, not ${pct}`);
      const picked = new Set(selectRepack(volumes.map((v) => ({ ...v })), pct, busy).map((v) => v.name));
      chosen = volumes.filter((v) => picked.has(v.name));
    }
    const jobs: store.RepackRow[] = [];
    for (const v of chosen) {
      const live = await ns.copiesOnVolume(ctx.db, v.name, false);
      jobs.push(await store.insertRepack(ctx.db, v.name, by, { files: live.length, bytes: live.reduce((s, c) => s + c.length, 0) }, ctx.clock.now()));
    }
    return jobs;
  }

  async pause(id?: number): Promise<store.RepackRow[]> {
    const jobs = (await store.readRepacks(this.ctx.db, { openOnly: true })).filter((j) => id === undefined || j.id === id);
    if (id !== undefined && jobs.length === 0) throw notFound('repack job', id);
    for (const j of jobs) {
      if (j.state === 'paused') continue;
      this.paused.add(j.id);
      await store.updateRepack(this.ctx.db, j.id, { state: 'paused' }, this.ctx.clock.now());
    }
    return store.readRepacks(this.ctx.db, {});
  }

  async resume(id?: number): Promise<store.RepackRow[]> {
    const jobs = (await store.readRepacks(this.ctx.db, { openOnly: true })).filter((j) => (id === undefined || j.id === id) && j.state === 'paused');
    if (id !== undefined && jobs.length === 0) throw conflict(`repack job ${id} is not paused`);
    for (const j of jobs) {
      this.paused.delete(j.id);
      await store.updateRepack(this.ctx.db, j.id, { state: 'queued' }, this.ctx.clock.now());
    }
    return store.readRepacks(this.ctx.db, {});
  }

  /** Runs the open jobs one after the other; returns whether one is still queued. */
  async process(): Promise<boolean> {
    const jobs = (await store.readRepacks(this.ctx.db, { openOnly: true })).filter((j) => j.state !== 'paused');
    for (const job of jobs) {
      await this.runJob(job);
    }
    return false;
  }

  private async isPaused(id: number): Promise<boolean> {
    if (this.paused.has(id)) return true;
    const row = (await store.readRepacks(this.ctx.db, { id }))[0];
    return !row || row.state === 'paused';
  }

  private async runJob(job: store.RepackRow): Promise<void> {
    const { ctx } = this;
    const now = () => ctx.clock.now();
    await store.updateRepack(ctx.db, job.id, { state: 'running' }, now());
    const volume = (await ctx.archive.volumes()).find((v) => v.name === job.volume);
    if (!volume) {
      await store.updateRepack(ctx.db, job.id, { state: 'failed', error: `volume ${job.volume} is not in the archive any more` }, now());
      return;
    }
    await mkdir(this.tempDir, { recursive: true, mode: 0o700 });
    let filesDone = job.filesDone;
    let bytesDone = job.bytesDone;
    const problems: string[] = [];
    for (let round = 0; round < 1_000_000; round++) {
      if (await this.isPaused(job.id)) return;
      const live = (await ns.copiesOnVolume(ctx.db, job.volume, false)).filter((c) => !problems.some((p) => p.startsWith(`#${c.id}:`)));
      const next = live[0];
      if (!next) break;
      try {
        await this.moveCopy(next, volume);
        filesDone++;
        bytesDone += next.length;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        problems.push(`#${next.id}: ${message}`);
        ctx.logger.error({ volume: job.volume, copy: next.id, fileId: next.file_id, error: message }, 'hsm: repack could not move a copy');
        if (isArchiveChecksumError(error)) {
          await ctx.db.transaction().execute(async (tx) => {
            await tx
              .insertInto('hsm_copy_problems')
              .values({ file_id: next.file_id, generation: next.generation, copy_no: next.copy_no, volume: next.volume, entry: next.entry, problem: message, detected_at: now().toISOString(), repaired_at: null })
              .execute();
          });
        }
      }
      await store.updateRepack(ctx.db, job.id, { filesDone, bytesDone }, now());
    }
    if (problems.length > 0) {
      await store.updateRepack(ctx.db, job.id, { state: 'failed', error: `${problems.length} cop${problems.length === 1 ? 'y' : 'ies'} could not be moved, so the volume stays: ${problems.slice(0, 3).join('; ')}` }, now());
      return;
    }
    // Obsolete copies still on the volume (old places of moved copies, removed files): made holes, forgotten.
    const families = new Set<string | null>();
    for (const c of await ns.copiesOnVolume(ctx.db, job.volume, true)) {
      try {
        await ctx.archive.remove(ns.locationOf(c));
      } catch (error) {
        if (!(error instanceof KeisanError && error.code === 'NOT_FOUND')) throw error;
      }
      const family = await ctx.db.transaction().execute(async (tx) => {
        await ns.deleteCopy(tx, c.id);
        return ctx.quotas.released(tx, c.file_id, c.generation, now());
      });
      families.add(family);
    }
    await ctx.quotas.refresh(families);
    try {
      await ctx.archive.retire(job.volume);
    } catch (error) {
      // E.g. an entry written in the instant before a crash and never recorded: the volume stays.
      await store.updateRepack(ctx.db, job.id, { state: 'failed', filesDone, bytesDone, error: `every recorded copy was moved, but the volume could not be retired: ${error instanceof Error ? error.message : String(error)}` }, now());
      return;
    }
    await store.updateRepack(ctx.db, job.id, { state: 'done', filesDone, bytesDone }, now());
    ctx.logger.info({ volume: job.volume, files: filesDone, bytes: bytesDone }, 'hsm: repack done; volume retired');
  }

  /** Reads one copy (verified), writes it to the family's volumes, verifies, relocates atomically. */
  private async moveCopy(copy: ns.CopyRow, volume: VolumeInfo): Promise<void> {
    const { ctx } = this;
    const temp = path.join(this.tempDir, `${copy.id}.tmp`);
    try {
      const source = await ctx.archive.read(ns.locationOf(copy));
      const handle = await open(temp, 'w', 0o600);
      const hash = createHash('sha256');
      let written = 0;
      try {
        for await (const piece of source) {
          const chunk = piece as Buffer;
          let done = 0;
          while (done < chunk.length) done += (await handle.write(chunk, done, chunk.length - done, written + done)).bytesWritten;
          hash.update(chunk);
          written += chunk.length;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const actual = hash.digest('hex');
      if (actual !== copy.sha256 || written !== copy.length) {
        throw new KeisanError('INTERNAL', `copy ${copy.id} read back with SHA-256 ${actual} (${written} bytes), expected ${copy.sha256} (${copy.length} bytes)`);
      }
      const [result] = await ctx.archive.write(volume.family, volume.copy, [{ fileId: copy.file_id, size: written, sha256: copy.sha256, open: () => createReadStream(temp, { highWaterMark: 1024 * 1024 }) }]);
      if (!result?.location) throw new KeisanError('INTERNAL', `writing copy ${copy.id} to a fresh volume failed: ${result?.error ?? 'no location'}`);
      if (result.location.volume === copy.volume) throw new KeisanError('INTERNAL', `the archive wrote copy ${copy.id} back onto ${copy.volume}, the volume being repacked`);
      if (result.location.sha256 !== copy.sha256) throw new KeisanError('INTERNAL', `copy ${copy.id} was written with SHA-256 ${result.location.sha256}, expected ${copy.sha256}`);
      const location = result.location;
      // One transaction: the copy points at its new place, and its old entry is listed as an
      // obsolete copy, so it becomes a hole (cleanup, or the end of this job) even after a crash.
      const moved = await ctx.db.transaction().execute(async (tx) => {
        const at = ctx.clock.now();
        const updated = await tx
          .updateTable('fs_copies')
          .set({ backend: location.backend, volume: location.volume, entry: location.entry, position: location.position, length: location.length, sha256: location.sha256, verified_at: at.toISOString() })
          .where('id', '=', copy.id)
          .where('volume', '=', copy.volume)
          .where('entry', '=', copy.entry)
          .where('obsolete_at', 'is', null)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) !== 1) return false;
        await ns.insertCopy(tx, copy.file_id, copy.generation, copy.copy_no, ns.locationOf(copy), at, true);
        return true;
      });
      if (!moved) {
        // The copy went (file removed) or moved meanwhile: the new entry is not needed.
        await ctx.archive.remove(location).catch(() => undefined);
      }
    } finally {
      await rm(temp, { force: true });
    }
  }
}
