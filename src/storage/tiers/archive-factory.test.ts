import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseSettings } from '../../lib/config.ts';
import { DirArchive } from './archive-dir/index.ts';
import { S3Archive } from './archive-s3/index.ts';
import { createArchiveBackend } from './archive-factory.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'keisan-archive-settings-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const archiveOf = (raw: unknown) => parseSettings({ storage: { archive: raw } }, 'keisan.yaml').storage?.archive;

describe('storage.archive settings and the backend factory', () => {
  it('defaults to archive-dir under DATA/storage/archive with LTO-9 delays scaled by 0.01', async () => {
    const backend = createArchiveBackend(undefined, dataDir);
    assert.ok(backend instanceof DirArchive);
    assert.equal(backend.root, path.join(dataDir, 'storage', 'archive'));
    assert.equal(backend.capacity, 18 * 1024 ** 3);
    assert.equal(backend.drives().length, 2);
    assert.deepEqual(backend.library.timing, {
      delays: { mount: 16_000, unmount: 56_000, locate: 65_000, rewind: 62_000, calibration: 2_400_000 },
      timeScale: 0.01, rateMBps: 400, calibrateFirstMount: false,
    });
    await backend.open();
    assert.deepEqual(await backend.volumes(), []);
    await backend.close();
    assert.deepEqual(archiveOf({}), archiveOf({ kind: 'dir' }), 'kind defaults to dir');
  });

  it('reads the dir settings: sizes, durations, relative path in the data directory', () => {
    const settings = archiveOf({ kind: 'dir', path: 'tapes', volumeCapacity: '64M', drives: 3, timeScale: 0, delays: { mount: '2s', locate: 90 }, rateMBps: 0 });
    const backend = createArchiveBackend(settings, dataDir) as DirArchive;
    assert.equal(backend.root, path.join(dataDir, 'tapes'));
    assert.equal(backend.capacity, 64 * 1024 ** 2);
    assert.equal(backend.drives().length, 3);
    assert.deepEqual(backend.library.timing.delays, { mount: 2000, unmount: 56_000, locate: 90_000, rewind: 62_000, calibration: 2_400_000 });
  });

  it('reads the s3 settings; the secret comes from a file, never from keisan.yaml', () => {
    const settings = archiveOf({ kind: 's3', endpoint: 'http://127.0.0.1:8080', bucket: 'keisan-archive', accessKeyId: 'test:tester', secretKeyFile: 's3-secret', prefix: 'site/' });
    assert.deepEqual(settings, {
      kind: 's3', endpoint: 'http://127.0.0.1:8080', region: 'us-east-1', bucket: 'keisan-archive', accessKeyId: 'test:tester',
      secretKeyFile: 's3-secret', prefix: 'site/', concurrency: 4, checksums: 'when_required',
    });
    const backend = createArchiveBackend(settings, dataDir);
    assert.ok(backend instanceof S3Archive);
    assert.deepEqual([backend.bucket, backend.prefix, backend.drives().length], ['keisan-archive', 'site/', 4]);
    assert.throws(() => archiveOf({ kind: 's3', endpoint: 'http://h', bucket: 'b-1', accessKeyId: 'k', secretKeyFile: 'f', secretAccessKey: 'x' }), /a secret never goes in keisan.yaml/);
  });

  it('says what is wrong with bad settings', () => {
    assert.throws(() => archiveOf({ kind: 'tape' }), /storage\.archive\.kind: must be dir .* or s3/);
    assert.throws(() => archiveOf({ kind: 'dir', drives: 0 }), /storage\.archive\.drives: at least 1 drive/);
    assert.throws(() => archiveOf({ kind: 'dir', volumeCapacity: 'lots' }), /storage\.archive\.volumeCapacity: 'lots' is not a size/);
    assert.throws(() => archiveOf({ kind: 'dir', delays: { mount: 'soon' } }), /storage\.archive\.delays\.mount: 'soon' is not a duration/);
    assert.throws(() => archiveOf({ kind: 'dir', endpoint: 'http://x' }), /unknown field 'endpoint'/);
    assert.throws(() => archiveOf({ kind: 's3', endpoint: 'http://h', bucket: 'Bad_Bucket', accessKeyId: 'k', secretKeyFile: 'f' }), /bucket: an S3 bucket name/);
    assert.throws(() => archiveOf({ kind: 's3', endpoint: 'http://h', bucket: 'b-1', accessKeyId: 'k' }), /storage\.archive\.secretKeyFile: missing: a file \(mode 0600\) holding the secret/);
  });
});

describe('the facility file template', () => {
  it("shows a storage.archive example that is valid once uncommented", async () => {
    const { DEFAULT_FACILITY_FILE } = await import('../../server/facility.ts');
    const { parseYaml } = await import('../../lib/config.ts');
    const start = DEFAULT_FACILITY_FILE.indexOf('# storage:\n');
    assert.ok(start >= 0, 'the template shows a storage: section');
    const block = DEFAULT_FACILITY_FILE.slice(start).split('\n\n')[0]!;
    const text = block.split('\n').map((line) => line.replace(/^# /, '')).join('\n');
    assert.deepEqual(parseSettings(parseYaml(text, 'keisan.yaml'), 'keisan.yaml').storage?.archive, archiveOf({ kind: 'dir' }));
    const s3 = block.split('\n').filter((line) => line.startsWith('#   #')).map((line) => line.replace(/^# {3}# ?/, '').replace(/#.*$/, '')).join('\n');
    assert.equal(archiveOf((parseYaml(s3, 'keisan.yaml') as { archive: unknown }).archive)?.kind, 's3');
  });
});
