import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, statfs, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';

/**
 * The disk tier: a directory (a local disk, or a shared filesystem mounted at that path) that
 * holds each file's bytes under its namespace id and generation —
 * `ROOT/<2 hex digits of id>/<id>.<generation>` — and uploads in progress under
 * `ROOT/uploads/<upload id>`. Nothing here is named after a user's path. A generation's file is
 * written once: an upload is fsynced and renamed into place before the database makes it
 * visible, so a crash leaves either the old generation or a complete new one (plus, at worst,
 * an orphan the sweep removes). Readers open the file before streaming; removing a generation
 * while it is read is safe (the open descriptor keeps the bytes).
 *
 * Byte accounting (`usedBytes`, `reservedBytes`) is kept by the storage service, which knows the
 * sizes from the database; this class only checks them against `capacityBytes`.
 */
export interface DiskTierOptions {
  root: string;
  /** storage.disk.capacity in bytes; null: only the filesystem limits it. */
  capacityBytes: number | null;
  /** fsync files and directories before they count as written (default true). */
  fsync: boolean;
}

export class DiskFullError extends Error {
  constructor(readonly reason: 'capacity' | 'enospc') {
    super(reason === 'enospc' ? 'the disk tier filesystem is full (ENOSPC)' : 'the disk tier is at its configured capacity');
  }
}

const UPLOAD_ID = /^[A-Za-z0-9_-]{8,64}$/;
const DATA_NAME = /^(\d+)\.(\d+)$/;

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

export class DiskTier {
  readonly root: string;
  readonly capacityBytes: number | null;
  private readonly fsync: boolean;
  usedBytes = 0;
  reservedBytes = 0;

  constructor(options: DiskTierOptions) {
    this.root = path.resolve(options.root);
    this.capacityBytes = options.capacityBytes;
    this.fsync = options.fsync;
  }

  async open(): Promise<void> {
    await mkdir(path.join(this.root, 'uploads'), { recursive: true, mode: 0o700 });
  }

  // ---------------------------------------------------------------- names

  filePath(id: number, generation: number): string {
    return path.join(this.root, (id % 256).toString(16).padStart(2, '0'), `${id}.${generation}`);
  }

  uploadPath(uploadId: string): string {
    // Upload ids are made by the server; refuse anything else rather than build a path from it.
    if (!UPLOAD_ID.test(uploadId)) throw new Error(`not an upload id: ${JSON.stringify(uploadId)}`);
    return path.join(this.root, 'uploads', uploadId);
  }

  // ---------------------------------------------------------------- capacity

  /** Whether `bytes` more fit under the configured capacity (the filesystem may still say ENOSPC). */
  fits(bytes: number): boolean {
    return this.capacityBytes === null || this.usedBytes + this.reservedBytes + bytes <= this.capacityBytes;
  }

  async filesystemFree(): Promise<number | null> {
    try {
      const s = await statfs(this.root);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  }

  // ---------------------------------------------------------------- uploads

  async createUpload(uploadId: string): Promise<void> {
    const handle = await open(this.uploadPath(uploadId), 'wx', 0o600);
    await handle.close();
  }

  /**
   * Writes `source` at `offset` of an upload's file, feeding each written piece to `hash`;
   * stops with an error past `limit` bytes in all. Returns the bytes written before the source
   * ended or failed (`error` set when it failed: a client that went away, a full disk…).
   */
  async writeUpload(uploadId: string, offset: number, source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, limit: number, hash: Hash): Promise<{ written: number; error?: unknown }> {
    let handle: FileHandle | undefined;
    let written = 0;
    // Pieces from the network (often 64 KiB) are gathered and written 1 MiB at a time.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      let at = offset + written;
      let buffers = pending;
      let left = pendingBytes;
      while (left > 0) {
        const { bytesWritten } = await handle!.writev(buffers, at);
        at += bytesWritten;
        left -= bytesWritten;
        if (left > 0) buffers = [Buffer.concat(buffers).subarray(bytesWritten)];
      }
      for (const buffer of pending) hash.update(buffer);
      written += pendingBytes;
      pending = [];
      pendingBytes = 0;
    };
    try {
      handle = await open(this.uploadPath(uploadId), 'r+');
      try {
        for await (const piece of source) {
          const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
          if (offset + written + pendingBytes + chunk.length > limit) throw new UploadOverflow(limit);
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= 1024 * 1024) await flush();
        }
      } finally {
        // What arrived before the source ended or failed is kept.
        await flush();
      }
      return { written };
    } catch (error) {
      return { written, error: isErrno(error, 'ENOSPC') || isErrno(error, 'EDQUOT') ? new DiskFullError('enospc') : error };
    } finally {
      await handle?.close();
    }
  }

  /** Cuts an upload's file back to `length` bytes (what the database says was received). */
  async truncateUpload(uploadId: string, length: number): Promise<void> {
    await truncate(this.uploadPath(uploadId), length);
  }

  /** The SHA-256 state of an upload's first `length` bytes (after a restart, or a failed chunk). */
  async hashUpload(uploadId: string, length: number): Promise<Hash> {
    const hash = createHash('sha256');
    if (length === 0) return hash;
    for await (const chunk of createReadStream(this.uploadPath(uploadId), { start: 0, end: length - 1, highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
    return hash;
  }

  /** fsyncs an upload and renames it to its generation's place. */
  async promoteUpload(uploadId: string, id: number, generation: number): Promise<void> {
    const from = this.uploadPath(uploadId);
    const to = this.filePath(id, generation);
    if (this.fsync) await this.syncFile(from);
    await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
    await rename(from, to);
    if (this.fsync) await this.syncFile(path.dirname(to));
  }

  async removeUpload(uploadId: string): Promise<void> {
    await rm(this.uploadPath(uploadId), { force: true });
  }

  async uploadIds(): Promise<string[]> {
    return (await readdir(path.join(this.root, 'uploads'))).filter((name) => UPLOAD_ID.test(name));
  }

  // ---------------------------------------------------------------- generations

  /**
   * Opens a generation for reading `start`…`end` (inclusive). The descriptor is open when this
   * returns: ENOENT here means the generation is gone (overwritten or purged meanwhile).
   */
  async openRead(id: number, generation: number, start: number, end: number): Promise<Readable> {
    const handle = await open(this.filePath(id, generation), 'r');
    if (end < start) {
      // An empty range (an empty file): nothing to stream.
      await handle.close();
      return Readable.from([]);
    }
    return createReadStream('', { fd: handle, start, end, highWaterMark: 256 * 1024 });
  }

  /** Opens (creating or truncating) a generation's file for a stage from the archive. */
  async openStaging(id: number, generation: number): Promise<{ path: string; handle: FileHandle }> {
    const to = this.filePath(id, generation);
    await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
    return { path: to, handle: await open(to, 'w', 0o600) };
  }

  async syncGeneration(id: number, generation: number): Promise<void> {
    if (!this.fsync) return;
    await this.syncFile(this.filePath(id, generation));
    await this.syncFile(path.dirname(this.filePath(id, generation)));
  }

  async remove(id: number, generation: number): Promise<void> {
    await rm(this.filePath(id, generation), { force: true });
  }

  /** Every generation file present: `[id, generation]` (for the orphan sweep). */
  async *generations(): AsyncGenerator<[number, number]> {
    for (const dir of await readdir(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(dir)) continue;
      for (const name of await readdir(path.join(this.root, dir))) {
        const match = DATA_NAME.exec(name);
        if (match) yield [Number(match[1]), Number(match[2])];
      }
    }
  }

  private async syncFile(file: string): Promise<void> {
    const handle = await open(file, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

export class UploadOverflow extends Error {
  constructor(readonly limit: number) {
    super(`more bytes than the upload's declared size of ${limit}`);
  }
}
