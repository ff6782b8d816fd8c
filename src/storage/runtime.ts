import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { AccountsService } from '../accounts/service.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import type { Settings } from '../lib/config.ts';
import { parseDuration } from '../lib/units.ts';
import { StorageService, type StorageServiceOptions } from './service.ts';
import { DiskTier } from './tiers/disk.ts';

export const DEFAULT_DISK_DIR = path.join('storage', 'disk');

/** Where the disk tier lives: storage.disk.path (relative: in the data directory), else DATA/storage/disk. */
export function diskTierPath(settings: Settings, dataDir: string): string {
  return path.resolve(dataDir, settings.storage?.disk?.path ?? DEFAULT_DISK_DIR);
}

/**
 * The storage service for a server: the disk tier in the data directory, or — without one
 * (tests of other rooms) — in a temporary directory removed on close. Call `service.start()`
 * once the server is ready.
 */
export async function openStorage(options: {
  settings: Settings;
  dataDir?: string;
  db: Kysely<Database>;
  /** SQLite: the better-sqlite3 handle for fast lookups (Db.sqlite). */
  sqlite?: StorageServiceOptions['sqlite'];
  clock: Clock;
  accounts: AccountsService;
  logger?: StorageServiceOptions['logger'];
}): Promise<{ service: StorageService; close(): Promise<void> }> {
  const { settings } = options;
  const temporary = options.dataDir === undefined ? await mkdtemp(path.join(tmpdir(), 'keisan-storage-')) : null;
  const root = temporary ?? diskTierPath(settings, options.dataDir!);
  const disk = new DiskTier({ root, capacityBytes: settings.storage?.disk?.capacity ?? null, fsync: settings.storage?.disk?.fsync ?? true });
  const service = new StorageService({
    db: options.db,
    ...(options.sqlite ? { sqlite: options.sqlite } : {}),
    clock: options.clock,
    accounts: options.accounts,
    disk,
    operatorName: settings.accounts.operatorName,
    uploadExpiryMs: settings.storage?.uploads?.expireAfter ?? parseDuration('24h'),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return {
    service,
    async close() {
      await service.close();
      if (temporary) await rm(temporary, { recursive: true, force: true });
    },
  };
}
