import { Migrator } from 'kysely';
import { KeisanError } from '../lib/errors.ts';
import type { Db } from './connection.ts';
import { KeisanMigrationProvider } from './migrations/index.ts';

export interface MigrationReport {
  applied: string[];
  current: string | undefined;
}

/** Brings the database to the latest schema. Runs on every start; a no-op when up to date. */
export async function migrateToLatest(db: Db): Promise<MigrationReport> {
  const migrator = new Migrator({
    db: db.kysely,
    provider: new KeisanMigrationProvider(db.dialect),
    migrationTableName: 'keisan_migrations',
    migrationLockTableName: 'keisan_migrations_lock',
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  const failed = results.find((r) => r.status === 'Error');
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error ?? 'unknown error');
    throw new KeisanError(
      'UNAVAILABLE',
      `database migration ${failed?.migrationName ?? ''} failed on ${db.dialect} (${db.location}): ${reason}. ` +
        'Nothing of that migration was kept; fix the cause and start again.',
    );
  }
  const all = await migrator.getMigrations();
  return {
    applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName),
    current: all.filter((m) => m.executedAt).at(-1)?.name,
  };
}
