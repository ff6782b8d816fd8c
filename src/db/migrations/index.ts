import type { ColumnBuilderCallback, ColumnDataType, Kysely, Migration, MigrationProvider } from 'kysely';
import type { DialectName } from '../connection.ts';
import * as accounts from './0001-accounts.ts';
import * as devices from './0002-devices.ts';
import * as batch from './0003-batch.ts';
import * as mail from './0004-mail.ts';
import * as storage from './0005-storage.ts';
import * as storageAreas from './0006-storage-areas.ts';
import * as hsm from './0007-hsm.ts';
import * as hsmContainers from './0009-hsm-containers.ts';
import * as alerts from './0010-alerts.ts';
import * as recovery from './0011-recovery.ts';
import * as recoveryDecisions from './0012-recovery-decisions.ts';
import * as jobStateWidth from './0013-job-state-width.ts';
import * as incidents from './0014-incidents.ts';
import * as inventory from './0015-inventory.ts';
import * as maintenance from './0016-maintenance.ts';
import * as status from './0017-status.ts';
import * as jobExternalId from './0018-job-external-id.ts';
import * as slurmUsage from './0019-slurm-usage.ts';
import * as ldap from './0020-ldap.ts';
import * as loginHosts from './0021-login-hosts.ts';
import * as haServers from './0022-ha-servers.ts';

/** Dialect-specific pieces a portable migration needs. */
export interface MigrationContext {
  dialect: DialectName;
  /** An auto-incrementing integer primary key. */
  idColumn: { type: ColumnDataType; build: ColumnBuilderCallback };
}

interface KeisanMigration {
  up(db: Kysely<unknown>, context: MigrationContext): Promise<void>;
}

/** Every migration in order; names sort in the order they must run. */
const MIGRATIONS: Record<string, KeisanMigration> = {
  '0001-accounts': accounts,
  '0002-devices': devices,
  '0003-batch': batch,
  '0004-mail': mail,
  '0005-storage': storage,
  '0006-storage-areas': storageAreas,
  '0007-hsm': hsm,
  '0009-hsm-containers': hsmContainers,
  '0010-alerts': alerts,
  '0011-recovery': recovery,
  '0012-recovery-decisions': recoveryDecisions,
  '0013-job-state-width': jobStateWidth,
  '0014-incidents': incidents,
  '0015-inventory': inventory,
  '0016-maintenance': maintenance,
  '0017-status': status,
  '0018-job-external-id': jobExternalId,
  '0019-slurm-usage': slurmUsage,
  '0020-ldap': ldap,
  '0021-login-hosts': loginHosts,
  '0022-ha-servers': haServers,
};

export class KeisanMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: DialectName) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const context: MigrationContext = {
      dialect: this.dialect,
      idColumn:
        this.dialect === 'postgres'
          ? { type: 'serial', build: (c) => c.primaryKey() }
          : { type: 'integer', build: (c) => c.primaryKey().autoIncrement() },
    };
    return Object.fromEntries(
      Object.entries(MIGRATIONS).map(([name, migration]) => [
        name,
        { up: (db: Kysely<unknown>) => migration.up(db, context) },
      ]),
    );
  }
}

export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS);
export const LATEST_MIGRATION = MIGRATION_NAMES.at(-1)!;
