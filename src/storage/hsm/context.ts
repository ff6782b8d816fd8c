import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import type { StorageService } from '../service.ts';
import * as ns from '../store.ts';
import type { ArchiveBackend } from '../tiers/archive.ts';
import type { DiskTier } from '../tiers/disk.ts';
import type { HsmPolicyBook } from './book.ts';
import type { QuotaKeeper } from './quotas.ts';

export interface HsmLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the HSM uses of the namespace service: disk accounting, purge, pins and staging go through it. */
export type NamespaceSide = Pick<StorageService, 'diskUsage' | 'purgeDiskCopy' | 'beginStaging' | 'finishStaging' | 'abortStaging' | 'pin' | 'fileAt' | 'pathById'>;

/** Everything the HSM's parts share. */
export interface HsmContext {
  db: Kysely<Database>;
  clock: Clock;
  book: HsmPolicyBook;
  archive: ArchiveBackend;
  disk: DiskTier;
  quotas: QuotaKeeper;
  namespace: NamespaceSide;
  logger: HsmLogger;
}

/**
 * The family and class of a file: its own columns when set, else from its path. Directory paths
 * are cached per parent for one pass.
 */
export class PolicyResolver {
  private readonly dirs = new Map<number, string>();
  constructor(private readonly ctx: Pick<HsmContext, 'db' | 'book'>) {}

  async pathOf(row: { id: number; parent_id: number | null; name: string }): Promise<string> {
    if (row.parent_id === null) return '/';
    let dir = this.dirs.get(row.parent_id);
    if (dir === undefined) {
      const names = (await ns.namesTo(this.ctx.db, row.parent_id)) ?? [];
      dir = names.length ? `/${names.join('/')}` : '';
      this.dirs.set(row.parent_id, dir);
    }
    return `${dir}/${row.name}`;
  }

  async of(row: { id: number; parent_id: number | null; name: string; family: string | null; class_of_service: string | null }): Promise<{ family: string; cos: string; path: string | null }> {
    if (row.family !== null && row.class_of_service !== null) return { family: row.family, cos: row.class_of_service, path: null };
    const path = await this.pathOf(row);
    return {
      family: row.family ?? this.ctx.book.familyForPath(path).name,
      cos: row.class_of_service ?? this.ctx.book.classForPath(path).name,
      path,
    };
  }
}
