import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// Migrations are forward-only and never edited once landed: add a new file instead.
// They receive Kysely<unknown> on purpose: they describe the schema of their own time.
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('workgroups')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('name', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('gid', 'integer', (c) => c.notNull().unique())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('subgroups')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('workgroup_id', 'integer', (c) => c.notNull().references('workgroups.id'))
    // Subgroups are Unix groups: their names are unique across the facility.
    .addColumn('name', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('gid', 'integer', (c) => c.notNull().unique())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('subgroups_workgroup').on('subgroups').column('workgroup_id').execute();

  await db.schema
    .createTable('users')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('name', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('full_name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('email', 'text')
    .addColumn('uid', 'integer', (c) => c.notNull().unique())
    .addColumn('primary_subgroup_id', 'integer', (c) => c.notNull().references('subgroups.id'))
    .addColumn('home', 'text', (c) => c.notNull())
    .addColumn('shell', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('is_operator', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lock_reason', 'text')
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('users_primary_subgroup').on('users').column('primary_subgroup_id').execute();

  for (const [table, column, parent] of [
    ['memberships', 'subgroup_id', 'subgroups.id'],
    ['subgroup_admins', 'subgroup_id', 'subgroups.id'],
    ['workgroup_admins', 'workgroup_id', 'workgroups.id'],
  ] as const) {
    await db.schema
      .createTable(table)
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn(column, 'integer', (c) => c.notNull().references(parent).onDelete('cascade'))
      .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${table}_pk`, ['user_id', column])
      .execute();
    await db.schema.createIndex(`${table}_${column}`).on(table).column(column).execute();
  }

  await db.schema
    .createTable('tickets')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('issued_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('renew_until', 'varchar(30)', (c) => c.notNull())
    .addColumn('revoked_at', 'varchar(30)')
    .addColumn('address', 'text')
    .addColumn('last_used_at', 'varchar(30)')
    .execute();
  await db.schema.createIndex('tickets_user').on('tickets').column('user_id').execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('at', 'varchar(30)', (c) => c.notNull())
    .addColumn('actor', 'varchar(64)', (c) => c.notNull())
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('target_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('address', 'text')
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
  await db.schema.createIndex('audit_log_actor').on('audit_log').columns(['actor', 'at']).execute();
  await db.schema.createIndex('audit_log_target').on('audit_log').columns(['target', 'at']).execute();

  await db.schema
    .createTable('daemons')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('version', 'varchar(64)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('registered_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('last_heartbeat_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('stopped_at', 'varchar(30)')
    .addColumn('info', 'text', (c) => c.notNull())
    .addUniqueConstraint('daemons_kind_host', ['kind', 'host'])
    .execute();
}
