import { createHash } from 'node:crypto';
import { mkdir, open as openFile, readdir, readFile, rm, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { conflict, invalidInput, KeisanError, notFound } from '../../../lib/errors.ts';
import {
  ArchiveChecksumError,
  type ArchiveBackend,
  type ArchiveLocation,
  type ArchiveProgress,
  type ArchiveWriteItem,
  type DriveInfo,
  type VolumeInfo,
} from '../archive.ts';
import { checkCopy, checkFamily, checkRange, checkWriteItem, KeyedMutex } from '../archive-common.ts';
import { TapeLibrary, type DriveLease } from './drives.ts';
import { DEFAULT_TIMING, type TapeTiming } from './timing.ts';
import {
  decodeHeader,
  encodeHeader,
  fileSize,
  footprint,
  HEADER_BYTES,
  loadJournal,
  Volume,
  VOLUME_NAME,
  volumeName,
  type Entry,
} from './volume.ts';

export { DEFAULT_TIMING, LTO9_DELAYS, ZERO_TIMING, type TapeDelays, type TapeTiming } from './timing.ts';

/**
 * `archive-dir`: the embedded archive tier, a directory of append-only volumes that behaves like
 * a tape library (see README.md beside this file for the format and the crash rules).
 */
export interface DirArchiveOptions {
  /** The library's directory (created if missing). */
  path: string;
  /** Shown in locations; default 'archive-dir'. */
  name?: string;
  /** Fixed capacity of every volume, bytes (entry headers included). */
  volumeCapacity: number;
  drives: number;
  timing?: TapeTiming;
  /** Notes about recovery after a crash (dropped tails, damaged volumes). */
  log?: (message: string) => void;
  /** Replaces setTimeout-based sleeping (tests). */
  sleep?: (ms: number) => Promise<void>;
}

const CHUNK = 1024 * 1024;
const LOCK_FILE = 'LOCK';

async function writeFully(fh: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) done += (await fh.write(buffer, done, buffer.length - done, position + done)).bytesWritten;
}

/** Reads exactly buffer.length bytes at position; returns how many were there (fewer at end of file). */
async function readFully(fh: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await fh.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await openFile(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class DirArchive implements ArchiveBackend {
  readonly kind = 'archive-dir' as const;
  readonly name: string;
  readonly root: string;
  readonly capacity: number;
  readonly library: TapeLibrary;
  /** What open() repaired after a crash: half-written tails dropped from volumes. */
  readonly recovered: Array<{ volume: string; droppedBytes: number }> = [];
  private readonly vols = new Map<string, Volume>();
  private readonly writers = new KeyedMutex();
  private nextVolume = 1;
  private opened = false;
  private readonly log: (message: string) => void;

  constructor(options: DirArchiveOptions) {
    if (!Number.isInteger(options.drives) || options.drives < 1) throw invalidInput(`archive drives must be a whole number ≥ 1, not ${options.drives}`);
    if (!Number.isSafeInteger(options.volumeCapacity) || options.volumeCapacity <= HEADER_BYTES) {
      throw invalidInput(`archive volumeCapacity must be more than ${HEADER_BYTES} bytes, not ${options.volumeCapacity}`);
    }
    this.name = options.name ?? 'archive-dir';
    this.root = path.resolve(options.path);
    this.capacity = options.volumeCapacity;
    this.log = options.log ?? (() => undefined);
    this.library = new TapeLibrary(options.drives, options.timing ?? DEFAULT_TIMING, {
      mounted: async (volume, first) => {
        if (first) await volume.record({ t: 'calibrated', at: new Date().toISOString() });
      },
      unmounted: (volume) => volume.closeData(),
    }, options.sleep);
  }

  async open(): Promise<void> {
    if (this.opened) return;
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await this.takeLock();
    const names = await readdir(this.root);
    for (const file of names.filter((n) => n.endsWith('.idx')).sort()) {
      const name = file.slice(0, -4);
      if (!VOLUME_NAME.test(name)) continue;
      await this.loadVolume(name);
      this.nextVolume = Math.max(this.nextVolume, Number(name.slice(3)) + 1);
    }
    for (const file of names.filter((n) => n.endsWith('.vol'))) {
      const name = file.slice(0, -4);
      if (VOLUME_NAME.test(name) && !this.vols.has(name)) {
        // Created before its journal could be written (a crash while labelling): nothing in it is trusted.
        this.log(`archive-dir: ${file} has no journal; removing it`);
        await unlink(path.join(this.root, file));
        this.nextVolume = Math.max(this.nextVolume, Number(name.slice(3)) + 1);
      }
    }
    this.opened = true;
  }

  private async takeLock(): Promise<void> {
    const lock = path.join(this.root, LOCK_FILE);
    try {
      const pid = Number((await readFile(lock, 'utf8')).trim());
      if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) {
        throw conflict(`the archive directory ${this.root} is in use by process ${pid}: only one Keisan server may open it`);
      }
    } catch (error) {
      if (error instanceof KeisanError) throw error;
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await writeFile(lock, `${process.pid}\n`, { mode: 0o600 });
  }

  private async loadVolume(name: string): Promise<void> {
    const journalPath = path.join(this.root, `${name}.idx`);
    const dataPath = path.join(this.root, `${name}.vol`);
    const journal = await loadJournal(journalPath);
    const label = journal.records[0];
    if (!label || label.t !== 'label' || label.volume !== name) {
      this.log(`archive-dir: ${name}.idx has no label; ignoring the volume`);
      return;
    }
    const volume = new Volume(name, label.family, label.copy, label.capacity, dataPath, journalPath);
    for (const record of journal.records.slice(1)) {
      try {
        volume.apply(record);
      } catch (error) {
        volume.problem = `its journal is inconsistent: ${(error as Error).message}`;
        break;
      }
    }
    if (journal.damage) volume.problem = journal.damage;
    if (journal.validBytes < journal.totalBytes && !journal.damage) {
      // A torn last journal write: the record never counted.
      await truncate(journalPath, journal.validBytes);
      this.log(`archive-dir: ${name}: dropped ${journal.totalBytes - journal.validBytes} bytes of a torn journal record`);
    }
    volume.journalSize = journal.validBytes;
    const size = await fileSize(dataPath);
    if (volume.retired) {
      if (size !== null) await unlink(dataPath); // retired, but the crash came before its space was freed
    } else if (size === null) {
      if (volume.appendAt === 0) await writeFile(dataPath, '', { flag: 'wx' });
      else volume.problem = `its data file ${dataPath} is missing`;
    } else if (size > volume.appendAt) {
      // A half-written entry (bytes without a journal record): never reported, cut off.
      const fh = await openFile(dataPath, 'r+');
      try {
        await fh.truncate(volume.appendAt);
        await fh.sync();
      } finally {
        await fh.close();
      }
      this.recovered.push({ volume: name, droppedBytes: size - volume.appendAt });
      this.log(`archive-dir: ${name}: dropped a half-written tail of ${size - volume.appendAt} bytes after the last entry`);
    } else if (size < volume.appendAt) {
      volume.problem = `its data file is ${size} bytes, shorter than its journal says (${volume.appendAt})`;
    }
    if (volume.problem) this.log(`archive-dir: ${name} is read-only: ${volume.problem}`);
    this.vols.set(name, volume);
  }

  private ensureOpen(): void {
    if (!this.opened) throw new KeisanError('UNAVAILABLE', 'the archive is not open: open() it first');
  }

  /** The volume the family's copy is being written to, if any. */
  private currentVolume(family: string, copy: number): Volume | undefined {
    for (const v of this.vols.values()) {
      if (v.family === family && v.copy === copy && (v.state === 'empty' || v.state === 'filling')) return v;
    }
    return undefined;
  }

  private async createVolume(family: string, copy: number): Promise<Volume> {
    const name = volumeName(this.nextVolume++);
    const journalPath = path.join(this.root, `${name}.idx`);
    const dataPath = path.join(this.root, `${name}.vol`);
    const volume = new Volume(name, family, copy, this.capacity, dataPath, journalPath);
    const label = { t: 'label' as const, volume: name, family, copy, capacity: this.capacity, created: new Date().toISOString(), format: 1 as const };
    const line = `${JSON.stringify(label)}\n`;
    const journal = await openFile(journalPath, 'wx', 0o600);
    try {
      await journal.write(line);
      await journal.sync();
    } finally {
      await journal.close();
    }
    volume.journalSize = Buffer.byteLength(line);
    await (await openFile(dataPath, 'wx', 0o600)).close();
    await syncDir(this.root);
    this.vols.set(name, volume);
    return volume;
  }

  async write(
    family: string,
    copy: number,
    items: ArchiveWriteItem[],
    progress?: ArchiveProgress,
  ): Promise<Array<{ fileId: number; location?: ArchiveLocation; error?: string }>> {
    this.ensureOpen();
    checkFamily(family);
    checkCopy(copy);
    return this.writers.run(`${family}\u0000${copy}`, async () => {
      const results: Array<{ fileId: number; location?: ArchiveLocation; error?: string }> = [];
      const activity = `migration of ${items.length} file${items.length === 1 ? '' : 's'} (family ${family}, copy ${copy})`;
      let lease: DriveLease | null = null;
      try {
        for (const item of items) {
          const bad = checkWriteItem(item);
          if (bad) {
            results.push({ fileId: item.fileId, error: bad });
            continue;
          }
          if (footprint(item.size) > this.capacity) {
            results.push({ fileId: item.fileId, error: `file ${item.fileId} (${item.size} bytes) is larger than an archive volume (${this.capacity - HEADER_BYTES} bytes of data): raise storage.archive.volumeCapacity` });
            continue;
          }
          // A volume of this family and copy with room for the item, mounted.
          for (let attempt = 0; ; attempt++) {
            if (attempt > 1000) throw new Error('no writable volume found after 1000 attempts');
            if (lease) {
              const v = lease.volume;
              if ((v.state === 'empty' || v.state === 'filling') && v.appendAt + footprint(item.size) <= v.capacity) break;
              if (v.state === 'filling') await v.record({ t: 'full', at: new Date().toISOString() }); // like the end of a tape
              lease.release();
              lease = null;
            }
            const volume = this.currentVolume(family, copy) ?? (await this.createVolume(family, copy));
            lease = await this.library.acquire(volume, activity, progress);
          }
          try {
            const location = await this.writeEntry(lease, item, progress);
            results.push({ fileId: item.fileId, location });
            progress?.({ kind: 'done', volume: location.volume, fileId: item.fileId, bytes: item.size });
          } catch (error) {
            results.push({ fileId: item.fileId, error: (error as Error).message });
          }
        }
      } finally {
        lease?.release();
      }
      return results;
    });
  }

  private async writeEntry(lease: DriveLease, item: ArchiveWriteItem, progress?: ArchiveProgress): Promise<ArchiveLocation> {
    const volume = lease.volume;
    const fh = await volume.dataHandle();
    const pos = volume.appendAt;
    const id = volume.nextId;
    await lease.position(pos, item.fileId);
    lease.transferring('writing');
    progress?.({ kind: 'transferring', volume: volume.name, fileId: item.fileId, bytes: 0 });
    let source: Readable | undefined;
    let writing: () => Promise<void> = () => Promise.resolve();
    try {
      await writeFully(fh, encodeHeader({ entryId: id, fileId: item.fileId, length: item.size, sha256: item.sha256, writtenAt: Date.now() }), pos);
      const hash = createHash('sha256');
      const started = performance.now();
      // One write in flight while the next chunk is read and hashed (SHA-256 runs on this thread,
      // the write in the thread pool): the hash costs about as much as the I/O.
      let queued = 0;
      let written = 0;
      let inflight: Promise<void> = Promise.resolve();
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes === 0) return;
        const buffer = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        const at = pos + HEADER_BYTES + queued;
        queued += buffer.length;
        await inflight;
        inflight = (async () => {
          await writeFully(fh, buffer, at);
          written += buffer.length;
          lease.head = at + buffer.length;
          await lease.pace(started, written);
          progress?.({ kind: 'transferring', volume: volume.name, fileId: item.fileId, bytes: written });
        })();
        // A failed write is reported where it is awaited (the next flush, the end, or the repair below).
        inflight.catch(() => undefined);
      };
      writing = () => inflight;
      source = item.open();
      for await (const chunk of source as AsyncIterable<Buffer | string>) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (queued + pendingBytes + bytes.length > item.size) throw new Error(`file ${item.fileId} has more bytes than its size (${item.size}): not archived`);
        hash.update(bytes);
        pending.push(bytes);
        pendingBytes += bytes.length;
        if (pendingBytes >= CHUNK) await flush();
      }
      await flush();
      await inflight;
      if (written !== item.size) throw new Error(`file ${item.fileId} ended after ${written} of its ${item.size} bytes: not archived`);
      const sha256 = hash.digest('hex');
      if (sha256 !== item.sha256) {
        throw new Error(`file ${item.fileId}: the bytes read for archiving have SHA-256 ${sha256}, not the ${item.sha256} recorded at ingest: not archived`);
      }
      await fh.datasync();
      await volume.record({ t: 'entry', id, pos, len: item.size, sha256, fileId: item.fileId, at: new Date().toISOString() });
      return { backend: this.name, volume: volume.name, entry: String(id), position: pos, length: item.size, sha256 };
    } catch (error) {
      source?.destroy();
      try {
        // Cut the half-written entry off again: the volume ends where it ended before (once the
        // write in flight, if any, has landed).
        await writing().catch(() => undefined);
        await fh.truncate(pos);
        await fh.datasync();
        lease.head = pos;
      } catch (repair) {
        volume.problem = `a failed write at byte ${pos} could not be cut off: ${(repair as Error).message}`;
      }
      throw error;
    }
  }

  /** The volume and entry of a location, checked against the journal. */
  private find(location: ArchiveLocation): { volume: Volume; entry: Entry } {
    if (location.backend !== this.name) throw invalidInput(`location belongs to archive backend '${location.backend}', not '${this.name}'`);
    const volume = this.vols.get(location.volume);
    if (!volume) throw notFound('archive volume', location.volume);
    const entry = /^\d+$/.test(location.entry) ? volume.entries.get(Number(location.entry)) : undefined;
    if (!entry || volume.retired) throw notFound(`entry on archive volume ${location.volume}`, location.entry);
    if (entry.pos !== location.position || entry.len !== location.length || entry.sha256 !== location.sha256) {
      throw conflict(`archive location ${location.volume}/${location.entry} does not match the volume's journal (position ${entry.pos}, length ${entry.len}): the catalogue is stale`);
    }
    return { volume, entry };
  }

  async read(location: ArchiveLocation, range?: { start: number; end: number }, progress?: ArchiveProgress): Promise<Readable> {
    this.ensureOpen();
    const { volume, entry } = this.find(location);
    if (entry.removed) throw notFound(`entry on archive volume ${location.volume} (removed)`, location.entry);
    const { start, end } = checkRange(range, entry.len);
    const whole = start === 0 && end === entry.len;
    const lease = await this.library.acquire(volume, `read of file ${entry.fileId}`, progress);
    let fh: FileHandle;
    try {
      fh = await volume.dataHandle();
      await lease.position(entry.pos, entry.fileId);
      lease.transferring('reading');
      const headerBytes = Buffer.alloc(HEADER_BYTES);
      const got = await readFully(fh, headerBytes, entry.pos);
      lease.head = entry.pos + got;
      const header = decodeHeader(headerBytes);
      if (!header || header.entryId !== entry.id || header.fileId !== entry.fileId || header.length !== entry.len || header.sha256 !== entry.sha256) {
        throw new ArchiveChecksumError(location, null, `the entry's header at byte ${entry.pos} of ${volume.name} is ${header ? 'for another entry' : 'unreadable'}`);
      }
    } catch (error) {
      lease.release();
      throw error;
    }
    async function* stream(): AsyncGenerator<Buffer> {
      let next: Promise<{ buffer: Buffer; got: number }> | null = null;
      try {
        let at = entry.pos + HEADER_BYTES + start;
        const stop = entry.pos + HEADER_BYTES + end;
        await lease.position(at, entry.fileId);
        lease.transferring('reading');
        progress?.({ kind: 'transferring', volume: volume.name, fileId: entry.fileId, bytes: 0 });
        const hash = whole ? createHash('sha256') : null;
        const started = performance.now();
        let done = 0;
        // The next chunk is read (thread pool) while this one is hashed and taken by the reader.
        const readAt = (from: number) => {
          const buffer = Buffer.allocUnsafe(Math.min(CHUNK, stop - from));
          const read = readFully(fh, buffer, from).then((got) => ({ buffer, got }));
          read.catch(() => undefined);
          return read;
        };
        next = at < stop ? readAt(at) : null;
        while (at < stop && next) {
          const { buffer, got } = await next;
          if (got < buffer.length) {
            throw new ArchiveChecksumError(location, null, `${volume.name} ends at byte ${at + got}, inside the entry`);
          }
          next = at + got < stop ? readAt(at + got) : null;
          hash?.update(buffer);
          at += got;
          done += got;
          lease.head = at;
          await lease.pace(started, done);
          progress?.({ kind: 'transferring', volume: volume.name, fileId: entry.fileId, bytes: done });
          yield buffer;
        }
        if (hash) {
          const actual = hash.digest('hex');
          if (actual !== entry.sha256) throw new ArchiveChecksumError(location, actual);
        }
        progress?.({ kind: 'done', volume: volume.name, fileId: entry.fileId, bytes: done });
      } finally {
        // A reader that stopped early leaves no read in flight on the drive it gives back.
        await next?.catch(() => undefined);
        lease.release();
      }
    }
    return Readable.from(stream(), { objectMode: false, highWaterMark: CHUNK });
  }

  async remove(location: ArchiveLocation): Promise<void> {
    this.ensureOpen();
    const { volume, entry } = this.find(location);
    if (entry.removed) return;
    await volume.record({ t: 'remove', id: entry.id, at: new Date().toISOString() });
  }

  async volumes(): Promise<VolumeInfo[]> {
    this.ensureOpen();
    return [...this.vols.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((v) => ({
        name: v.name,
        family: v.family,
        copy: v.copy,
        capacityBytes: v.capacity,
        usedBytes: v.retired ? 0 : v.appendAt,
        liveBytes: v.liveBytes,
        liveEntries: v.liveEntries,
        holesBytes: v.retired ? 0 : v.holesBytes,
        state: v.state,
        mountedIn: v.drive,
        ...(v.problem ? { problem: v.problem } : {}),
      }));
  }

  drives(): DriveInfo[] {
    return this.library.drives();
  }

  async retire(name: string): Promise<void> {
    this.ensureOpen();
    const volume = this.vols.get(name);
    if (!volume) throw notFound('archive volume', name);
    await this.writers.run(`${volume.family}\u0000${volume.copy}`, async () => {
      if (volume.retired) return;
      if (volume.liveEntries > 0) {
        throw conflict(`volume ${name} still holds ${volume.liveEntries} live entr${volume.liveEntries === 1 ? 'y' : 'ies'} (${volume.liveBytes} bytes): repack moves them to other volumes first`);
      }
      await volume.record({ t: 'retired', at: new Date().toISOString() });
      if (volume.drive !== null) {
        const lease = await this.library.acquire(volume, `retire of ${name}`);
        try {
          await lease.unmount();
        } finally {
          lease.release();
        }
      }
      await volume.closeFiles();
      await rm(volume.dataPath, { force: true });
      await syncDir(this.root);
    });
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    await this.library.close();
    await Promise.allSettled([...this.vols.values()].map((v) => v.closeFiles()));
    await rm(path.join(this.root, LOCK_FILE), { force: true });
  }
}
