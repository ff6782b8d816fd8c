import path from 'node:path';
import { defaultArchiveSettings, type StorageArchiveSettings } from '../../lib/config.ts';
import type { ArchiveBackend } from './archive.ts';
import { DirArchive } from './archive-dir/index.ts';
import { S3Archive } from './archive-s3/index.ts';

/** Where the archive-dir volumes are by default: DATA/storage/archive. */
export const DEFAULT_ARCHIVE_DIR = path.join('storage', 'archive');

/**
 * The archive backend `storage.archive` in keisan.yaml describes (archive-dir by default),
 * not yet opened. Relative paths (the volume directory, the S3 secret key file) are in the
 * data directory.
 */
export function createArchiveBackend(settings: StorageArchiveSettings | undefined, dataDir: string): ArchiveBackend {
  const archive = settings ?? defaultArchiveSettings();
  if (archive.kind === 's3') {
    return new S3Archive({
      endpoint: archive.endpoint,
      region: archive.region,
      bucket: archive.bucket,
      accessKeyId: archive.accessKeyId,
      secretKeyFile: path.resolve(dataDir, archive.secretKeyFile),
      ...(archive.prefix ? { prefix: archive.prefix } : {}),
      concurrency: archive.concurrency,
      checksums: archive.checksums,
    });
  }
  return new DirArchive({
    path: path.resolve(dataDir, archive.path ?? DEFAULT_ARCHIVE_DIR),
    volumeCapacity: archive.volumeCapacity,
    drives: archive.drives,
    timing: {
      delays: archive.delays,
      timeScale: archive.timeScale,
      rateMBps: archive.rateMBps,
      calibrateFirstMount: archive.calibrateFirstMount,
    },
  });
}
