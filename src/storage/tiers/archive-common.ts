import { invalidInput } from '../../lib/errors.ts';
import type { ArchiveWriteItem } from './archive.ts';

/** Checks shared by the archive backends. */

/** Family names become volume labels and S3 key prefixes: `central.staff`, `b-ana`. */
export const FAMILY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
export const MAX_COPIES = 16;

export function checkFamily(family: string): void {
  if (!FAMILY_NAME.test(family)) {
    throw invalidInput(`'${family}' is not a file family name for the archive: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 200`);
  }
}

export function checkCopy(copy: number): void {
  if (!Number.isInteger(copy) || copy < 1 || copy > MAX_COPIES) throw invalidInput(`archive copy number must be 1 to ${MAX_COPIES}, not ${copy}`);
}

/** Why an item cannot be written, or null. */
export function checkWriteItem(item: ArchiveWriteItem): string | null {
  if (!Number.isSafeInteger(item.fileId) || item.fileId < 0) return `file id ${item.fileId} is not a whole number ≥ 0`;
  if (!Number.isSafeInteger(item.size) || item.size < 0) return `file ${item.fileId}: size ${item.size} is not a whole number of bytes ≥ 0`;
  if (!/^[0-9a-f]{64}$/.test(item.sha256)) return `file ${item.fileId}: '${item.sha256}' is not a SHA-256 in lower-case hex`;
  return null;
}

/** A byte range of an entry: `start` inclusive, `end` exclusive; the whole entry when absent. */
export function checkRange(range: { start: number; end: number } | undefined, length: number): { start: number; end: number } {
  if (!range) return { start: 0, end: length };
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > length) {
    throw invalidInput(`byte range ${start}–${end} is not inside the entry's ${length} bytes (start inclusive, end exclusive)`);
  }
  return { start, end };
}

/** Runs functions one at a time per key. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** Runs at most `limit` functions at once; the others wait first come, first served. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {}

  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }

  get queued(): number {
    return this.waiting.length;
  }
}
