import { open as openFile, readFile, stat, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

/**
 * One volume of the directory archive: `VOLnnnnnn.vol` holds the entries back to back (a header,
 * then the file's bytes); `VOLnnnnnn.idx` is the volume's append-only journal, one JSON record a
 * line (label, entry, remove, full, calibrated, retired). The journal is the truth: an entry
 * exists once its record is in the journal and fsynced, which happens only after its bytes are
 * fsynced. Bytes after the last journalled entry are a half-written tail from a crash.
 */

export const HEADER_BYTES = 128;
const MAGIC = Buffer.from('KSNARCV1', 'ascii');
export const VOLUME_NAME = /^VOL\d{6}$/;

export function volumeName(n: number): string {
  return `VOL${String(n).padStart(6, '0')}`;
}

export interface EntryHeader {
  entryId: number;
  fileId: number;
  length: number;
  /** SHA-256 the bytes must have (hex). */
  sha256: string;
  writtenAt: number;
}

/**
 * Header layout (128 bytes, big-endian): magic "KSNARCV1" (8), entry id (8), file id (8),
 * length (8), written-at ms (8), SHA-256 (32), reserved zeros (52), CRC-32 of bytes 0..123 (4).
 */
export function encodeHeader(header: EntryHeader): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(b, 0);
  b.writeBigUInt64BE(BigInt(header.entryId), 8);
  b.writeBigUInt64BE(BigInt(header.fileId), 16);
  b.writeBigUInt64BE(BigInt(header.length), 24);
  b.writeBigUInt64BE(BigInt(header.writtenAt), 32);
  Buffer.from(header.sha256, 'hex').copy(b, 40);
  b.writeUInt32BE(crc32(b.subarray(0, HEADER_BYTES - 4)), HEADER_BYTES - 4);
  return b;
}

/** Decodes a header; null when the magic or the CRC is wrong (damaged or not a header). */
export function decodeHeader(b: Buffer): EntryHeader | null {
  if (b.length < HEADER_BYTES || !b.subarray(0, 8).equals(MAGIC)) return null;
  if (b.readUInt32BE(HEADER_BYTES - 4) !== crc32(b.subarray(0, HEADER_BYTES - 4))) return null;
  return {
    entryId: Number(b.readBigUInt64BE(8)),
    fileId: Number(b.readBigUInt64BE(16)),
    length: Number(b.readBigUInt64BE(24)),
    writtenAt: Number(b.readBigUInt64BE(32)),
    sha256: b.subarray(40, 72).toString('hex'),
  };
}

export type JournalRecord =
  | { t: 'label'; volume: string; family: string; copy: number; capacity: number; created: string; format: 1 }
  | { t: 'entry'; id: number; pos: number; len: number; sha256: string; fileId: number; at: string }
  | { t: 'remove'; id: number; at: string }
  | { t: 'full'; at: string }
  | { t: 'calibrated'; at: string }
  | { t: 'retired'; at: string };

export interface Entry {
  id: number;
  pos: number;
  len: number;
  sha256: string;
  fileId: number;
  removed: boolean;
}

export const footprint = (len: number) => HEADER_BYTES + len;

/** In-memory state of one volume, rebuilt from its journal on open. */
export class Volume {
  readonly entries = new Map<number, Entry>();
  /** Where the next entry starts: the end of the last journalled entry. */
  appendAt = 0;
  nextId = 1;
  liveBytes = 0;
  liveEntries = 0;
  holesBytes = 0;
  full = false;
  retired = false;
  calibrated = false;
  /** Set when the volume cannot be trusted for writing (damage, I/O error); reads still tried. */
  problem: string | undefined;
  /** The drive it is in (or being mounted into / unmounted from). */
  drive: string | null = null;
  handle: FileHandle | null = null;
  /** Bytes of whole records in the journal: the next record is written there. */
  journalSize = 0;
  private journal: FileHandle | null = null;
  private journalQueue: Promise<unknown> = Promise.resolve();
  private journalBroken: string | undefined;

  constructor(
    readonly name: string,
    readonly family: string,
    readonly copy: number,
    readonly capacity: number,
    readonly dataPath: string,
    readonly journalPath: string,
  ) {}

  get state(): 'empty' | 'filling' | 'full' | 'readonly' | 'retired' {
    if (this.retired) return 'retired';
    if (this.problem) return 'readonly';
    if (this.full) return 'full';
    return this.appendAt === 0 ? 'empty' : 'filling';
  }

  /** Applies one journal record to the in-memory state. */
  apply(record: JournalRecord): void {
    switch (record.t) {
      case 'label':
        break;
      case 'entry': {
        if (record.pos !== this.appendAt) throw new Error(`entry ${record.id} starts at ${record.pos}, expected ${this.appendAt}`);
        this.entries.set(record.id, { id: record.id, pos: record.pos, len: record.len, sha256: record.sha256, fileId: record.fileId, removed: false });
        this.appendAt = record.pos + footprint(record.len);
        this.nextId = Math.max(this.nextId, record.id + 1);
        this.liveBytes += footprint(record.len);
        this.liveEntries++;
        break;
      }
      case 'remove': {
        const entry = this.entries.get(record.id);
        if (!entry || entry.removed) break;
        entry.removed = true;
        this.liveBytes -= footprint(entry.len);
        this.liveEntries--;
        this.holesBytes += footprint(entry.len);
        break;
      }
      case 'full':
        this.full = true;
        break;
      case 'calibrated':
        this.calibrated = true;
        break;
      case 'retired':
        this.retired = true;
        break;
    }
  }

  /**
   * Appends a record to the journal and makes it durable, then applies it. Records of one volume
   * are written one after the other; a failed write is cut off again so the journal never holds
   * a partial record before a later one.
   */
  record(record: JournalRecord): Promise<void> {
    const run = this.journalQueue.then(async () => {
      if (this.journalBroken) throw new Error(`the journal of ${this.name} could not be repaired after a failed write: ${this.journalBroken}`);
      const line = Buffer.from(`${JSON.stringify(record)}\n`);
      try {
        this.journal ??= await openFile(this.journalPath, 'r+');
        let done = 0;
        while (done < line.length) done += (await this.journal.write(line, done, line.length - done, this.journalSize + done)).bytesWritten;
        await this.journal.sync();
      } catch (error) {
        try {
          await this.journal?.truncate(this.journalSize);
          await this.journal?.sync();
        } catch (repair) {
          this.journalBroken = (repair as Error).message;
          this.problem ??= `its journal could not be written: ${(error as Error).message}`;
        }
        throw error;
      }
      this.journalSize += line.length;
      this.apply(record);
    });
    this.journalQueue = run.catch(() => undefined);
    return run;
  }

  async dataHandle(): Promise<FileHandle> {
    this.handle ??= await openFile(this.dataPath, 'r+');
    return this.handle;
  }

  /** Closes the data file (on unmount); the journal stays open for removals. */
  async closeData(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }

  async closeFiles(): Promise<void> {
    const handles = [this.handle, this.journal];
    this.handle = null;
    this.journal = null;
    await Promise.allSettled(handles.map((h) => h?.close()));
  }
}

function isRecord(value: unknown): value is JournalRecord {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  switch (r.t) {
    case 'label':
      return typeof r.volume === 'string' && typeof r.family === 'string' && Number.isInteger(r.copy) && Number.isInteger(r.capacity);
    case 'entry':
      return Number.isInteger(r.id) && Number.isInteger(r.pos) && Number.isInteger(r.len) && typeof r.sha256 === 'string' && Number.isInteger(r.fileId);
    case 'remove':
      return Number.isInteger(r.id);
    case 'full':
    case 'calibrated':
    case 'retired':
      return true;
    default:
      return false;
  }
}

export interface LoadedJournal {
  records: JournalRecord[];
  /** Bytes of the journal that hold whole, valid records; anything after is a torn last write. */
  validBytes: number;
  totalBytes: number;
  /** A damaged record before the end (not a torn tail): the volume cannot be trusted. */
  damage?: string;
}

/** Reads a journal, stopping at the first line that is incomplete or does not parse. */
export async function loadJournal(file: string): Promise<LoadedJournal> {
  const data = await readFile(file);
  const records: JournalRecord[] = [];
  let offset = 0;
  while (offset < data.length) {
    const newline = data.indexOf(0x0a, offset);
    if (newline < 0) break; // torn last write
    const line = data.subarray(offset, newline).toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    if (!isRecord(parsed)) {
      // A torn last write leaves a partial or zero-filled line at the end; a bad line followed
      // by good records means the journal itself is damaged.
      const later = data.subarray(newline + 1).toString('utf8').split('\n').slice(0, -1);
      const goodAfter = later.some((l) => {
        try {
          return isRecord(JSON.parse(l));
        } catch {
          return false;
        }
      });
      return { records, validBytes: offset, totalBytes: data.length, ...(goodAfter ? { damage: `journal line at byte ${offset} does not parse` } : {}) };
    }
    records.push(parsed);
    offset = newline + 1;
  }
  return { records, validBytes: offset, totalBytes: data.length };
}

export async function fileSize(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
