import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { conflict, invalidInput, KeisanError, notFound } from '../../lib/errors.ts';
import * as ns from '../store.ts';
import { isArchiveChecksumError, type VolumeInfo } from '../tiers/archive.ts';
import type { HsmContext } from './context.ts';
import { selectRepack } from './decisions.ts';
import { removeEntryOf } from './migrate.ts';
import * as store from './store.ts';

/** A volume as the HSM sees it: the backend's figures, with container members counted. */
export type HsmVolume = VolumeInfo & { containers: number; containerMembers: number };

/**
 * The archive's volumes with what only the catalogue knows about containers: how many container
 * entries with live members each holds, and how many live members. A removed member is a hole
 * inside its container: its bytes move from `liveBytes` to `holesBytes` (the backend still
 * counts the whole container live), so `--holes` repack selection sees them.
 */
export async function volumesWithContainers(ctx: HsmContext): Promise<HsmVolume[]> {
  const rows = await ctx.db
    .selectFrom('fs_copies')
    .select((eb) => ['volume', 'entry', eb.fn.max('container_length').as('container'), eb.fn.sum<number | string>('length').as('live'), eb.fn.countAll<number>().as('members')])
    .where('container_offset', 'is not', null)
    .where('obsolete_at', 'is', null)
    .groupBy(['volume', 'entry'])
    .execute();
  const byVolume = new Map<string, { containers: number; members: number; dead: number }>();
  for (const r of rows) {
    const v = byVolume.get(r.volume) ?? { containers: 0, members: 0, dead: 0 };
    v.containers++;
    v.members += Number(r.members);
    v.dead += Math.max(0, Number(r.container ?? 0) - Number(r.live ?? 0));
    byVolume.set(r.volume, v);
  }
  return (await ctx.archive.volumes()).map((v) => {
    const c = byVolume.get(v.name);
    if (!c) return { ...v, containers: 0, containerMembers: 0 };
    return { ...v, liveBytes: Math.max(0, v.liveBytes - c.dead), holesBytes: v.holesBytes + c.dead, containers: c.containers, containerMembers: c.members };
  });
}

/** Live container entries, their live members and the members' bytes, over the whole archive. */
export async function containerSummary(db: HsmContext['db']): Promise<{ entries: number; members: number; bytes: number }> {
  const rows = await db
    .selectFrom('fs_copies')
    .select((eb) => ['volume', 'entry', eb.fn.sum<number | string>('length').as('bytes'), eb.fn.countAll<number>().as('members')])
    .where('container_offset', 'is not', null)
    .where('obsolete_at', 'is', null)
    .groupBy(['volume', 'entry'])
    .execute();
  return { entries: rows.length, members: rows.reduce((s, r) => s + Number(r.members), 0), bytes: rows.reduce((s, r) => s + Number(r.bytes ?? 0), 0) };
}

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
    const volumes = await volumesWithContainers(ctx);
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
    if (this.paused.has(job.id)) return;
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
      if (await this.isPaused(job.id)) {
        // A pause that raced with the start above may have been overwritten by 'running': say it again.
        if (this.paused.has(job.id)) await store.updateRepack(ctx.db, job.id, { state: 'paused' }, now());
        return;
      }
      const live = (await ns.copiesOnVolume(ctx.db, job.volume, false)).filter((c) => !problems.some((p) => p.startsWith(`#${c.id}:`)));
      const next = live[0];
      if (!next) break;
      // A container's live members move together (the container is rebuilt from them).
      const group = next.container_offset === null ? [next] : live.filter((c) => c.container_offset !== null && c.entry === next.entry && c.backend === next.backend);
      try {
        if (next.container_offset === null) await this.moveCopy(next, volume);
        else await this.moveContainer(group, volume);
        filesDone += group.length;
        bytesDone += group.reduce((sum, c) => sum + c.length, 0);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        for (const c of group) problems.push(`#${c.id}: ${message}`);
        ctx.logger.error({ volume: job.volume, copy: next.id, fileId: next.file_id, members: group.length, error: message }, 'hsm: repack could not move a copy');
        if (error instanceof MemberChecksumError) {
          const bad = error.copy;
          await ctx.db
            .insertInto('hsm_copy_problems')
            .values({ file_id: bad.file_id, generation: bad.generation, copy_no: bad.copy_no, volume: bad.volume, entry: bad.entry, problem: message, detected_at: now().toISOString(), repaired_at: null })
            .execute();
        } else if (isArchiveChecksumError(error)) {
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
      await removeEntryOf(ctx, c);
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

  /**
   * Rebuilds a container from its live members: each member is read (a range read of the old
   * container) and verified against its OWN SHA-256, the members are written back to back as a
   * new container entry (its SHA-256 verified by the backend), then every member still pointing
   * at the old container is pointed at its place in the new one, in one transaction; the old
   * places are listed as obsolete copies (the old container becomes a hole with its last row).
   * Holes inside the old container (removed members) are not copied: repack reclaims them.
   */
  private async moveContainer(members: ns.CopyRow[], volume: VolumeInfo): Promise<void> {
    const { ctx } = this;
    const temp = path.join(this.tempDir, `container-${members[0]!.id}.tmp`);
    const placed: Array<{ copy: ns.CopyRow; offset: number }> = [];
    try {
      const handle = await open(temp, 'w', 0o600);
      const whole = createHash('sha256');
      let written = 0;
      try {
        for (const copy of [...members].sort((a, b) => (a.container_offset ?? 0) - (b.container_offset ?? 0))) {
          const source = await ctx.archive.read(ns.locationOf(copy), ns.rangeOf(copy));
          const hash = createHash('sha256');
          const offset = written;
          for await (const piece of source) {
            const chunk = piece as Buffer;
            let done = 0;
            while (done < chunk.length) done += (await handle.write(chunk, done, chunk.length - done, written + done)).bytesWritten;
            hash.update(chunk);
            whole.update(chunk);
            written += chunk.length;
          }
          const actual = hash.digest('hex');
          if (actual !== copy.sha256 || written - offset !== copy.length) {
            throw new MemberChecksumError(copy, `container member copy ${copy.id} (file ${copy.file_id}) read back with SHA-256 ${actual} (${written - offset} bytes), expected ${copy.sha256} (${copy.length} bytes)`);
          }
          placed.push({ copy, offset });
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const sha256 = whole.digest('hex');
      const [result] = await ctx.archive.write(volume.family, volume.copy, [{ fileId: members[0]!.file_id, size: written, sha256, open: () => createReadStream(temp, { highWaterMark: 1024 * 1024 }) }]);
      if (!result?.location) throw new KeisanError('INTERNAL', `writing a container of ${members.length} files to a fresh volume failed: ${result?.error ?? 'no location'}`);
      if (result.location.volume === members[0]!.volume) throw new KeisanError('INTERNAL', `the archive wrote the container back onto ${members[0]!.volume}, the volume being repacked`);
      const location = result.location;
      const moved = await ctx.db.transaction().execute(async (tx) => {
        const at = ctx.clock.now();
        let n = 0;
        for (const { copy, offset } of placed) {
          const updated = await tx
            .updateTable('fs_copies')
            .set({
              backend: location.backend, volume: location.volume, entry: location.entry, position: location.position,
              container_offset: offset, container_length: location.length, container_sha256: location.sha256, verified_at: at.toISOString(),
            })
            .where('id', '=', copy.id)
            .where('volume', '=', copy.volume)
            .where('entry', '=', copy.entry)
            .where('obsolete_at', 'is', null)
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) !== 1) continue;
          await ns.insertCopy(tx, copy.file_id, copy.generation, copy.copy_no, { ...ns.locationOf(copy), length: copy.length, sha256: copy.sha256 }, at, true, ns.containerPartOf(copy));
          n++;
        }
        return n;
      });
      // Every member went meanwhile: the new container is not needed. (Some gone: their bytes
      // are holes inside the new container.)
      if (moved === 0) await ctx.archive.remove(location).catch(() => undefined);
    } finally {
      await rm(temp, { force: true });
    }
  }
}

/** A container member read back during repack does not match its own SHA-256. */
class MemberChecksumError extends KeisanError {
  constructor(readonly copy: ns.CopyRow, message: string) {
    super('INTERNAL', message);
  }
}
