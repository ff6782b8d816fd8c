import type { Readable } from 'node:stream';
import { KeisanError } from '../../lib/errors.ts';

/**
 * The archive tier, as the hierarchical store sees it. Two implementations:
 * `archive-dir` (the embedded default: append-only volumes in a directory that behave like a
 * tape library — fixed capacity, a few drives, mount/locate/rewind delays, holes left by
 * deletions) and `archive-s3` (an S3-compatible object store).
 *
 * The backend owns the bytes and its own crash safety: `write` returns a location only after the
 * bytes are durable (fsync / a completed PUT); a half-written entry found after a crash is never
 * reported as a location and its space is not trusted. The catalogue of *which file is where*
 * lives in the database (storage room); the backend knows volumes and entries, not paths.
 */

/** Where one archive copy of a file lives. `position` orders reads on a volume (byte offset on a volume; 0 for objects). */
export interface ArchiveLocation {
  backend: string;
  volume: string;
  /** Entry id on the volume (archive-dir) or object key (archive-s3). */
  entry: string;
  position: number;
  length: number;
  /** SHA-256 (hex) of the bytes as written, computed while writing. */
  sha256: string;
}

export interface ArchiveWriteItem {
  /** The namespace file id (kept in the entry's header, for audits and repair). */
  fileId: number;
  size: number;
  /** The checksum recorded at ingest; `write` verifies the bytes it wrote against it. */
  sha256: string;
  open(): Readable;
}

export interface VolumeInfo {
  name: string;
  family: string;
  /** Copy number (1, 2…): copies of one family go to disjoint volumes. */
  copy: number;
  /** Fixed capacity of the volume; null where there is none (an object store's prefix). */
  capacityBytes: number | null;
  /** Bytes written (live + holes), entry headers included. */
  usedBytes: number;
  /** Bytes of live entries (headers included on archive-dir; object sizes on archive-s3). */
  liveBytes: number;
  liveEntries: number;
  /** Bytes of removed entries (and dropped ranges) that only repack + retire give back. */
  holesBytes: number;
  state: 'empty' | 'filling' | 'full' | 'readonly' | 'retired';
  mountedIn: string | null;
  /** Why a volume is read-only or damaged, in words (absent when healthy). */
  problem?: string;
}

export interface DriveInfo {
  name: string;
  state: 'empty' | 'mounting' | 'idle' | 'positioning' | 'reading' | 'writing' | 'unmounting';
  volume: string | null;
  /** What the drive is doing for whom, in words ("stage of 12 files", "migration of family b-ana"). */
  activity: string | null;
  since: number;
}

export interface ArchiveProgress {
  (event: { kind: 'mounting' | 'positioning' | 'transferring' | 'done'; volume: string; fileId?: number; bytes?: number }): void;
}

export interface ArchiveBackend {
  readonly name: string;
  readonly kind: 'archive-dir' | 'archive-s3';
  /** Opens or creates the backend's state; after a crash, drops half-written entries. */
  open(): Promise<void>;
  /**
   * Writes files of one family sequentially onto the family's volumes for that copy (one mount,
   * a new volume when one fills). Each location is returned once its bytes are durable and
   * verified against `sha256`; a mismatch fails that item and is reported, the others go on.
   */
  write(
    family: string,
    copy: number,
    items: ArchiveWriteItem[],
    progress?: ArchiveProgress,
  ): Promise<Array<{ fileId: number; location?: ArchiveLocation; error?: string }>>;
  /**
   * Reads one entry (or a byte range of it, `start` inclusive, `end` exclusive, like
   * Buffer.subarray): mounts and positions as needed, then streams. Callers that read several
   * entries of one volume pass them in `position` order to avoid rewinds.
   *
   * Integrity: a read of the WHOLE entry hashes the bytes as they stream and, when the SHA-256
   * differs from the one written, the stream ends with an `ArchiveChecksumError` (test with
   * `isArchiveChecksumError`) instead of ending normally. Bytes already delivered must then be
   * discarded: commit staged bytes only after the stream ended without error. A range read
   * cannot check the entry's checksum (only the entry's header on archive-dir).
   *
   * The backend holds a drive until the stream ends or is destroyed: consume it or destroy it.
   */
  read(location: ArchiveLocation, range?: { start: number; end: number }, progress?: ArchiveProgress): Promise<Readable>;
  /** Forgets an entry: on volumes it becomes a hole (bytes stay until repack); objects are deleted. */
  remove(location: ArchiveLocation): Promise<void>;
  volumes(): Promise<VolumeInfo[]>;
  drives(): DriveInfo[];
  /** Marks a volume retired after repack moved its live entries elsewhere; its space is freed. */
  retire(volume: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The bytes read back do not match the SHA-256 recorded when they were written (or the entry's
 * header is damaged): this copy is bad. The HSM reads another copy, and reports the volume.
 */
export class ArchiveChecksumError extends KeisanError {
  /** `actual`: the SHA-256 of what was read; `damage`: what else is wrong, in words (a bad header, a short volume). */
  constructor(location: Pick<ArchiveLocation, 'backend' | 'volume' | 'entry' | 'sha256'>, actual: string | null, damage?: string) {
    const what = damage ?? `the bytes read back have SHA-256 ${actual}, expected ${location.sha256}`;
    super(
      'INTERNAL',
      `archive copy ${location.backend}:${location.volume}/${location.entry} is damaged: ${what}; read another copy and verify the volume`,
      { reason: 'checksum-mismatch', backend: location.backend, volume: location.volume, entry: location.entry, expected: location.sha256, actual },
    );
    this.name = 'ArchiveChecksumError';
  }
}

export function isArchiveChecksumError(error: unknown): error is ArchiveChecksumError {
  return error instanceof KeisanError && error.details?.reason === 'checksum-mismatch';
}
