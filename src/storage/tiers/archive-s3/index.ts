import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
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
import { checkCopy, checkFamily, checkRange, checkWriteItem, FAMILY_NAME } from '../archive-common.ts';

/**
 * `archive-s3`: the archive tier on an S3-compatible object store (tested against OpenStack
 * Swift with s3api). One bucket per backend; a "volume" is the key prefix of one family's copy,
 * `<prefix><family>/<copy>/`; an entry is one object `<prefix><family>/<copy>/<fileId>.<random>`
 * whose metadata holds the SHA-256 (`x-amz-meta-sha256`) and the file id. "Drives" are a limit on
 * concurrent transfers. Objects are deleted outright: no holes; retire has nothing to free.
 */
export interface S3ArchiveOptions {
  /** Shown in locations; default 'archive-s3'. */
  name?: string;
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  /** The secret itself (tests), or… */
  secretAccessKey?: string;
  /** …a file holding it (settings: never the secret in keisan.yaml). */
  secretKeyFile?: string;
  /** Key prefix of everything this backend writes, e.g. `keisan/`. */
  prefix?: string;
  /** Transfers at once (shown as drives); default 4. */
  concurrency?: number;
  /** When the SDK adds request checksums: 'when_required' suits most non-AWS stores. */
  checksums?: 'when_required' | 'when_supported';
  /** Multipart part size (bytes, ≥ 5 MiB); default 16 MiB. Memory per transfer ≤ 4 parts. */
  partSize?: number;
}

const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
const QUEUE_SIZE = 4;

interface Slot {
  name: string;
  state: DriveInfo['state'];
  volume: string | null;
  activity: string | null;
  since: number;
  busy: boolean;
}

type Sdk = typeof S3Sdk;

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function errorName(error: unknown): string {
  return (error as { name?: string; Code?: string })?.name ?? '';
}

export class S3Archive implements ArchiveBackend {
  readonly kind = 'archive-s3' as const;
  readonly name: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly slots: Slot[];
  private readonly waiting: Array<(slot: Slot | null) => void> = [];
  private readonly partSize: number;
  private sdk: Sdk | undefined;
  private client: S3Client | undefined;
  private closed = false;

  constructor(private readonly options: S3ArchiveOptions) {
    this.name = options.name ?? 'archive-s3';
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    if (this.prefix && !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/.test(this.prefix)) {
      throw invalidInput(`S3 key prefix '${this.prefix}' must be names separated by '/' and end with '/', e.g. keisan/`);
    }
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw invalidInput(`S3 concurrency must be a whole number ≥ 1, not ${concurrency}`);
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (this.partSize < 5 * 1024 * 1024) throw invalidInput('S3 multipart part size must be at least 5 MiB');
    const at = Date.now();
    this.slots = Array.from({ length: concurrency }, (_, i) => ({ name: `s3-${i + 1}`, state: 'idle' as const, volume: null, activity: null, since: at, busy: false }));
  }

  /** The raw client (tests use it to damage objects behind the backend's back). */
  get s3(): S3Client {
    if (!this.client) throw new KeisanError('UNAVAILABLE', 'the archive is not open: open() it first');
    return this.client;
  }

  async open(): Promise<void> {
    if (this.client) return;
    // Loaded here, not at import: the SDK costs ~100 ms and most installations use archive-dir.
    // The SDK version is pinned on purpose (later ones need Node 22): no warning about it in every log.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.sdk = await import('@aws-sdk/client-s3');
    let secretAccessKey = this.options.secretAccessKey;
    if (secretAccessKey === undefined) {
      if (!this.options.secretKeyFile) throw invalidInput('the S3 archive needs secretKeyFile: a file holding the secret access key');
      try {
        secretAccessKey = (await readFile(this.options.secretKeyFile, 'utf8')).trim();
      } catch (error) {
        throw invalidInput(`cannot read the S3 secret key file ${this.options.secretKeyFile}: ${(error as Error).message}`);
      }
      if (!secretAccessKey) throw invalidInput(`the S3 secret key file ${this.options.secretKeyFile} is empty`);
    }
    const mode = this.options.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
    const client = new this.sdk.S3Client({
      endpoint: this.options.endpoint,
      region: this.options.region,
      forcePathStyle: true,
      credentials: { accessKeyId: this.options.accessKeyId, secretAccessKey },
      requestChecksumCalculation: mode,
      responseChecksumValidation: mode,
    });
    try {
      await client.send(new this.sdk.HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      if (statusOf(error) === 404) {
        try {
          await client.send(new this.sdk.CreateBucketCommand({ Bucket: this.bucket }));
        } catch (createError) {
          client.destroy();
          throw this.unavailable(`cannot create bucket ${this.bucket}`, createError);
        }
      } else {
        client.destroy();
        throw this.unavailable(`cannot reach bucket ${this.bucket}`, error);
      }
    }
    this.client = client;
    this.closed = false;
  }

  private unavailable(what: string, error: unknown): KeisanError {
    const status = statusOf(error);
    const detail = status ? `HTTP ${status} ${errorName(error)}` : (error as Error).message;
    const hint = status === 403 ? ': check accessKeyId and the secret key file' : ': check storage.archive.endpoint and that the store is running';
    return new KeisanError('UNAVAILABLE', `S3 archive at ${this.options.endpoint}: ${what} (${detail})${hint}`);
  }

  private volumeOf(family: string, copy: number): string {
    return `${family}/${copy}`;
  }

  /** Reserves a transfer slot (a "drive"), waiting first come, first served. */
  private async acquire(state: 'reading' | 'writing', volume: string, activity: string): Promise<() => void> {
    if (this.closed || !this.client) throw new KeisanError('UNAVAILABLE', 'the archive is not open: open() it first');
    const free = this.waiting.length === 0 ? this.slots.find((s) => !s.busy) : undefined;
    const slot = free ?? (await new Promise<Slot | null>((resolve) => this.waiting.push(resolve)));
    if (!slot) throw new KeisanError('UNAVAILABLE', 'the archive closed before a transfer slot was free');
    Object.assign(slot, { busy: true, state, volume, activity, since: Date.now() });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      Object.assign(slot, { busy: false, state: 'idle', volume: null, activity: null, since: Date.now() });
      const next = this.waiting.shift();
      if (next) {
        slot.busy = true; // handed over directly: no later arrival can take it first
        next(slot);
      }
    };
  }

  async write(
    family: string,
    copy: number,
    items: ArchiveWriteItem[],
    progress?: ArchiveProgress,
  ): Promise<Array<{ fileId: number; location?: ArchiveLocation; error?: string }>> {
    checkFamily(family);
    checkCopy(copy);
    const volume = this.volumeOf(family, copy);
    const activity = `migration of ${items.length} file${items.length === 1 ? '' : 's'} (family ${family}, copy ${copy})`;
    return Promise.all(items.map(async (item) => {
      const bad = checkWriteItem(item);
      if (bad) return { fileId: item.fileId, error: bad };
      const release = await this.acquire('writing', volume, activity);
      try {
        const location = await this.upload(volume, item, progress);
        progress?.({ kind: 'done', volume, fileId: item.fileId, bytes: item.size });
        return { fileId: item.fileId, location };
      } catch (error) {
        return { fileId: item.fileId, error: (error as Error).message };
      } finally {
        release();
      }
    }));
  }

  private async upload(volume: string, item: ArchiveWriteItem, progress?: ArchiveProgress): Promise<ArchiveLocation> {
    const sdk = this.sdk!;
    const { Upload } = await import('@aws-sdk/lib-storage');
    const key = `${this.prefix}${volume}/${item.fileId}.${randomBytes(6).toString('hex')}`;
    const hash = createHash('sha256');
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > item.size) {
          callback(new Error(`file ${item.fileId} has more bytes than its size (${item.size}): not archived`));
          return;
        }
        hash.update(chunk);
        progress?.({ kind: 'transferring', volume, fileId: item.fileId, bytes });
        callback(null, chunk);
      },
    });
    const source = item.open();
    source.on('error', (error) => counter.destroy(error));
    source.pipe(counter);
    progress?.({ kind: 'transferring', volume, fileId: item.fileId, bytes: 0 });
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: counter, Metadata: { sha256: item.sha256, 'file-id': String(item.fileId) } },
      partSize: this.partSize,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      source.destroy();
      // A stream error surfaces as itself; an HTTP error says what the store answered.
      throw statusOf(error) ? this.unavailable(`upload of file ${item.fileId} failed`, error) : error;
    }
    const sha256 = hash.digest('hex');
    const problem = bytes !== item.size
      ? `file ${item.fileId} ended after ${bytes} of its ${item.size} bytes: not archived`
      : sha256 !== item.sha256
        ? `file ${item.fileId}: the bytes read for archiving have SHA-256 ${sha256}, not the ${item.sha256} recorded at ingest: not archived`
        : null;
    if (problem) {
      await this.s3.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
      throw new Error(problem);
    }
    return { backend: this.name, volume, entry: key, position: 0, length: item.size, sha256 };
  }

  private check(location: ArchiveLocation): void {
    if (location.backend !== this.name) throw invalidInput(`location belongs to archive backend '${location.backend}', not '${this.name}'`);
    if (!location.entry.startsWith(`${this.prefix}${location.volume}/`)) {
      throw invalidInput(`archive location ${location.entry} is not an object of volume ${location.volume}`);
    }
  }

  async read(location: ArchiveLocation, range?: { start: number; end: number }, progress?: ArchiveProgress): Promise<Readable> {
    this.check(location);
    const sdk = this.sdk!;
    const { start, end } = checkRange(range, location.length);
    const whole = start === 0 && end === location.length;
    const release = await this.acquire('reading', location.volume, `read of ${location.entry}`);
    let body: Readable;
    try {
      const head = start === end
        ? await this.s3.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: location.entry }))
        : undefined;
      const response = head ?? await this.s3.send(new sdk.GetObjectCommand({
        Bucket: this.bucket,
        Key: location.entry,
        ...(whole ? {} : { Range: `bytes=${start}-${end - 1}` }),
      }));
      const recorded = response.Metadata?.sha256;
      if (recorded !== undefined && recorded !== location.sha256) {
        (response as { Body?: Readable }).Body?.destroy?.();
        throw conflict(`archive location ${location.entry} records SHA-256 ${recorded}, not ${location.sha256}: the catalogue is stale`);
      }
      if (head) {
        release();
        return Readable.from([], { objectMode: false });
      }
      body = (response as { Body?: Readable }).Body ?? Readable.from([]);
      if (whole && response.ContentLength !== undefined && response.ContentLength !== location.length) {
        body.destroy();
        throw new ArchiveChecksumError(location, null, `the object is ${response.ContentLength} bytes, not ${location.length}`);
      }
    } catch (error) {
      release();
      if (errorName(error) === 'NoSuchKey' || errorName(error) === 'NotFound' || statusOf(error) === 404) {
        throw notFound(`object of archive volume ${location.volume}`, location.entry);
      }
      if (error instanceof KeisanError) throw error;
      throw this.unavailable(`read of ${location.entry} failed`, error);
    }
    async function* stream(): AsyncGenerator<Buffer> {
      try {
        progress?.({ kind: 'transferring', volume: location.volume, bytes: 0 });
        const hash = whole ? createHash('sha256') : null;
        let done = 0;
        for await (const chunk of body as AsyncIterable<Buffer>) {
          hash?.update(chunk);
          done += chunk.length;
          progress?.({ kind: 'transferring', volume: location.volume, bytes: done });
          yield chunk;
        }
        if (done !== end - start) throw new ArchiveChecksumError(location, null, `${done} bytes arrived, expected ${end - start}`);
        if (hash) {
          const actual = hash.digest('hex');
          if (actual !== location.sha256) throw new ArchiveChecksumError(location, actual);
        }
        progress?.({ kind: 'done', volume: location.volume, bytes: done });
      } finally {
        body.destroy();
        release();
      }
    }
    return Readable.from(stream(), { objectMode: false });
  }

  async remove(location: ArchiveLocation): Promise<void> {
    this.check(location);
    try {
      await this.s3.send(new this.sdk!.DeleteObjectCommand({ Bucket: this.bucket, Key: location.entry }));
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw this.unavailable(`delete of ${location.entry} failed`, error);
    }
  }

  /** Every object under the prefix, summarised per family and copy: a full listing (one request per 1000 objects). */
  async volumes(): Promise<VolumeInfo[]> {
    const sdk = this.sdk!;
    const byVolume = new Map<string, VolumeInfo>();
    let token: string | undefined;
    for (let page = 0; page < 1_000_000; page++) {
      let response;
      try {
        response = await this.s3.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token }));
      } catch (error) {
        throw this.unavailable('listing the bucket failed', error);
      }
      for (const object of response.Contents ?? []) {
        const parts = (object.Key ?? '').slice(this.prefix.length).split('/');
        if (parts.length !== 3 || !FAMILY_NAME.test(parts[0]!) || !/^\d+$/.test(parts[1]!)) continue; // not ours
        const name = `${parts[0]}/${parts[1]}`;
        let v = byVolume.get(name);
        if (!v) {
          v = { name, family: parts[0]!, copy: Number(parts[1]), capacityBytes: null, usedBytes: 0, liveBytes: 0, liveEntries: 0, holesBytes: 0, state: 'filling', mountedIn: null };
          byVolume.set(name, v);
        }
        v.usedBytes += object.Size ?? 0;
        v.liveBytes += object.Size ?? 0;
        v.liveEntries++;
      }
      if (!response.IsTruncated || !response.NextContinuationToken) break;
      token = response.NextContinuationToken;
    }
    for (const slot of this.slots) {
      const v = slot.volume ? byVolume.get(slot.volume) : undefined;
      if (v && slot.busy) v.mountedIn = slot.name;
    }
    return [...byVolume.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  drives(): DriveInfo[] {
    return this.slots.map((s) => ({ name: s.name, state: s.state, volume: s.volume, activity: s.activity, since: s.since }));
  }

  /** Nothing to free on an object store; refused while the prefix still holds objects. */
  async retire(volume: string): Promise<void> {
    const v = (await this.volumes()).find((x) => x.name === volume);
    if (v && v.liveEntries > 0) {
      throw conflict(`volume ${volume} still holds ${v.liveEntries} live object${v.liveEntries === 1 ? '' : 's'} (${v.liveBytes} bytes): repack moves them first`);
    }
  }

  async close(): Promise<void> {
    if (!this.client) return;
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake(null);
    const until = Date.now() + 30_000;
    while (this.slots.some((s) => s.busy) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    this.client.destroy();
    this.client = undefined;
  }
}
