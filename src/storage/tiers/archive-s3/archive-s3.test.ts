import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { collect, describeArchiveConformance, item } from '../archive-conformance.ts';
import { S3Archive, type S3ArchiveOptions } from './index.ts';

/**
 * Runs against a real S3 store: OpenStack Swift with s3api, which scripts/run-tests.js starts
 * (scripts/throwaway-swift.js) when the Debian packages are installed (npm run deps).
 */
const endpoint = process.env.KEISAN_TEST_S3_URL;
const required = process.env.KEISAN_REQUIRE_SERVICES === '1';
const SKIP = endpoint
  ? undefined
  : 'OpenStack Swift not available: install it (npm run deps) so npm test starts one, or set KEISAN_TEST_S3_URL (+ _ACCESS_KEY, _SECRET_KEY, _REGION)';

function options(overrides: Partial<S3ArchiveOptions> = {}): S3ArchiveOptions {
  return {
    endpoint: endpoint ?? 'http://127.0.0.1:1',
    region: process.env.KEISAN_TEST_S3_REGION ?? 'us-east-1',
    bucket: `keisan-test-${randomBytes(5).toString('hex')}`,
    accessKeyId: process.env.KEISAN_TEST_S3_ACCESS_KEY ?? 'test:tester',
    secretAccessKey: process.env.KEISAN_TEST_S3_SECRET_KEY ?? 'testing',
    ...overrides,
  };
}

/** Deletes every object and the bucket (one by one: Swift wants Content-MD5 on DeleteObjects). */
async function dropBucket(archive: S3Archive): Promise<void> {
  const s3 = archive.s3;
  for (let page = 0; page < 1000; page++) {
    const list = await s3.send(new ListObjectsV2Command({ Bucket: archive.bucket }));
    for (const object of list.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: archive.bucket, Key: object.Key! }));
    if (!list.IsTruncated) break;
  }
  await s3.send(new DeleteBucketCommand({ Bucket: archive.bucket }));
  await archive.close();
}

if (!endpoint && required) {
  describe('archive-s3', () => {
    it('needs OpenStack Swift', () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${SKIP}`);
    });
  });
}

describeArchiveConformance('archive-s3 (OpenStack Swift s3api)', async () => {
  const opts = options({ prefix: 'keisan/' });
  let backend = new S3Archive(opts);
  await backend.open();
  const first = backend;
  return {
    backend,
    async corrupt(location) {
      // Overwrite the object with one byte changed, keeping its metadata: only the bytes lie.
      const s3 = backend.s3;
      const got = await s3.send(new GetObjectCommand({ Bucket: opts.bucket, Key: location.entry }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x01;
      await s3.send(new PutObjectCommand({ Bucket: opts.bucket, Key: location.entry, Body: bytes, Metadata: got.Metadata }));
    },
    async reopen() {
      await backend.close();
      backend = new S3Archive(opts);
      await backend.open();
      return backend;
    },
    async dispose() {
      if (backend !== first) await first.close();
      await dropBucket(backend);
    },
  };
}, SKIP);

describe('archive-s3: object store specifics', { skip: SKIP }, () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('reads the secret from a file; a missing file or a wrong secret is a clear error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keisan-s3-'));
    dirs.push(dir);
    const file = path.join(dir, 's3-secret');
    writeFileSync(file, `${process.env.KEISAN_TEST_S3_SECRET_KEY ?? 'testing'}\n`, { mode: 0o600 });
    const archive = new S3Archive(options({ secretAccessKey: undefined, secretKeyFile: file }));
    await archive.open();
    await dropBucket(archive);
    await assert.rejects(new S3Archive(options({ secretAccessKey: undefined, secretKeyFile: path.join(dir, 'none') })).open(), /cannot read the S3 secret key file/);
    await assert.rejects(new S3Archive(options({ secretAccessKey: 'wrong' })).open(), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /HTTP 403.*check accessKeyId/.test(e.message));
    await assert.rejects(new S3Archive(options({ endpoint: 'http://127.0.0.1:9' })).open(), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /127\.0\.0\.1:9/.test(e.message));
  });

  it('uploads large files in parts, with either checksum mode, and reads ranges across parts', async () => {
    for (const checksums of ['when_required', 'when_supported'] as const) {
      const archive = new S3Archive(options({ partSize: 5 * 1024 * 1024, checksums }));
      await archive.open();
      try {
        const bytes = randomBytes(12 * 1024 * 1024 + 3);
        const [r] = await archive.write('s3.multi', 1, [item(1, bytes)]);
        assert.equal(r!.error, undefined, checksums);
        assert.ok((await collect(await archive.read(r!.location!))).equals(bytes));
        const range = { start: 5 * 1024 * 1024 - 10, end: 10 * 1024 * 1024 + 10 };
        assert.ok((await collect(await archive.read(r!.location!, range))).equals(bytes.subarray(range.start, range.end)));
        const [v] = await archive.volumes();
        assert.deepEqual([v!.name, v!.capacityBytes, v!.liveBytes, v!.holesBytes, v!.liveEntries], ['s3.multi/1', null, bytes.length, 0, 1]);
      } finally {
        await dropBucket(archive);
      }
    }
  });

  it('limits transfers to its concurrency, shown as drives; a third request waits for a slot', async () => {
    const archive = new S3Archive(options({ concurrency: 2 }));
    await archive.open();
    try {
      const results = await archive.write('s3.slots', 1, [1, 2, 3].map((id) => item(id, randomBytes(1000))));
      const [a, b] = [await archive.read(results[0]!.location!), await archive.read(results[1]!.location!)];
      assert.deepEqual(archive.drives().map((d) => [d.name, d.state, d.volume]), [['s3-1', 'reading', 's3.slots/1'], ['s3-2', 'reading', 's3.slots/1']]);
      let thirdDone = false;
      const third = archive.read(results[2]!.location!).then((s) => {
        thirdDone = true;
        return s;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(thirdDone, false);
      await collect(a);
      await collect(await third);
      await collect(b);
      assert.ok(archive.drives().every((d) => d.state === 'idle'));
    } finally {
      await dropBucket(archive);
    }
  });
});
