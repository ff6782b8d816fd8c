import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, it } from 'node:test';
import pg from 'pg';
import { openDatabase, type Db } from './connection.ts';
import { migrateToLatest } from './migrate.ts';
import { LATEST_MIGRATION, MIGRATION_NAMES } from './migrations/index.ts';
import type { Database } from './schema.ts';
import { describeEachDatabase, type TestDatabase } from './testing.ts';

/** The tables of schema.ts, spelled out; the type check below fails when schema.ts gains one. */
const TABLES = ['workgroups', 'subgroups', 'users', 'memberships', 'workgroup_admins', 'subgroup_admins', 'tickets', 'audit_log', 'daemons', 'queues', 'jobs', 'notifications', 'devices', 'fs_entries', 'fs_copies', 'fs_uploads', 'fs_leases', 'storage_library_writers', 'storage_area_usage', 'mail_outbox', 'hsm_classes', 'hsm_families', 'hsm_family_usage', 'hsm_archived', 'hsm_copy_problems', 'hsm_stage_requests', 'hsm_stage_files', 'hsm_repack_jobs', 'hsm_runs', 'alerts', 'alert_silences', 'alert_notifications', 'recovery_events', 'recovery_decisions', 'recovery_decision_links', 'incidents', 'incident_updates', 'inventory_hosts', 'inventory_services', 'inventory_groups', 'maint_plans', 'maint_approvals', 'maint_step_runs', 'runbooks', 'status_transitions', 'slurm_usage', 'ldap_passwords', 'login_host_drains', 'ha_servers'] as const satisfies readonly (keyof Database)[];
type Missing = Exclude<keyof Database, (typeof TABLES)[number]>;
const everyTableListed: [Missing] extends [never] ? true : false = true;

/**
 * The columns schema.ts declares for each table, read from its source, so that a column added
 * to an interface without a migration (or the reverse) fails here on both engines.
 */
function declaredColumns(): Map<string, string[]> {
  const source = readFileSync(new URL('./schema.ts', import.meta.url), 'utf8');
  const interfaces = new Map<string, string[]>();
  for (const match of source.matchAll(/export interface (\w+) \{([^}]*)\}/g)) {
    const columns = [...match[2]!.matchAll(/^\s*(\w+)\s*:/gm)].map((m) => m[1]!);
    interfaces.set(match[1]!, columns);
  }
  const database = /export interface Database \{([^}]*)\}/.exec(source);
  assert.ok(database, 'schema.ts has no Database interface');
  const tables = new Map<string, string[]>();
  for (const [, table, type] of database[1]!.matchAll(/^\s*(\w+)\s*:\s*(\w+);/gm)) {
    const columns = interfaces.get(type!);
    assert.ok(columns, `schema.ts: no interface ${type} for table ${table}`);
    tables.set(table!, columns);
  }
  return tables;
}

/** A database with nothing in it: the test databases of testing.ts come migrated already. */
async function openEmpty(database: TestDatabase): Promise<Db & { dispose(): Promise<void> }> {
  if (database.dialect === 'sqlite') {
    const db = openDatabase('sqlite::memory:');
    return { ...db, dispose: () => db.close() };
  }
  const adminUrl = process.env.KEISAN_TEST_POSTGRES_URL;
  assert.ok(adminUrl, 'KEISAN_TEST_POSTGRES_URL is not set');
  const name = `keisan_migrate_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = openDatabase(url.toString());
  return {
    ...db,
    async dispose() {
      await db.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function tableNames(db: Db): Promise<string[]> {
  return (await db.kysely.introspection.getTables()).map((t) => t.name).sort();
}

describeEachDatabase('migrations', (database) => {
  let db: (Db & { dispose(): Promise<void> }) | undefined;
  afterEach(async () => {
    await db?.dispose();
    db = undefined;
  });

  it('schema.ts and the list of tables agree', () => {
    assert.equal(everyTableListed, true);
    assert.deepEqual([...declaredColumns().keys()].sort(), [...TABLES].sort());
  });

  it('empty → latest creates every table of schema.ts with every declared column', async () => {
    db = await openEmpty(database);
    assert.deepEqual(await tableNames(db), [], 'the database should start empty');
    const report = await migrateToLatest(db);
    assert.deepEqual(report, { applied: [...MIGRATION_NAMES], current: LATEST_MIGRATION });

    const tables = await db.kysely.introspection.getTables();
    const byName = new Map(tables.map((t) => [t.name, t.columns.map((c) => c.name).sort()]));
    for (const [table, columns] of declaredColumns()) {
      assert.ok(byName.has(table), `table ${table} was not created`);
      assert.deepEqual(byName.get(table), [...columns].sort(), `columns of ${table}`);
    }
    // Nothing but the schema's tables and the migrator's own bookkeeping.
    const all = (await db.kysely.introspection.getTables({ withInternalKyselyTables: true })).map((t) => t.name).sort();
    assert.deepEqual(all, [...TABLES, 'keisan_migrations', 'keisan_migrations_lock'].sort());
  });

  it('running migrateToLatest again is a no-op', async () => {
    db = await openEmpty(database);
    await migrateToLatest(db);
    const before = await tableNames(db);
    const again = await migrateToLatest(db);
    assert.deepEqual(again, { applied: [], current: LATEST_MIGRATION });
    assert.deepEqual(await tableNames(db), before);
    assert.deepEqual(await migrateToLatest(db), { applied: [], current: LATEST_MIGRATION });
  });

  it('the migrated schema enforces what the service relies on: unique names, ids and tokens, foreign keys', async () => {
    db = await openEmpty(database);
    await migrateToLatest(db);
    const k = db.kysely;
    const at = '2026-03-02T08:00:00.000Z';
    await k.insertInto('workgroups').values({ name: 'physics', description: '', gid: 5000, created_at: at, updated_at: at }).execute();
    await assert.rejects(k.insertInto('workgroups').values({ name: 'physics', description: '', gid: 5001, created_at: at, updated_at: at }).execute());
    await assert.rejects(k.insertInto('workgroups').values({ name: 'chem', description: '', gid: 5000, created_at: at, updated_at: at }).execute());
    const physics = await k.selectFrom('workgroups').select('id').where('name', '=', 'physics').executeTakeFirstOrThrow();
    await assert.rejects(k.insertInto('subgroups').values({ workgroup_id: 999_999, name: 'orphan', description: '', gid: 5002, created_at: at, updated_at: at }).execute(), 'a subgroup of no workgroup');
    await k.insertInto('subgroups').values({ workgroup_id: physics.id, name: 'optics', description: '', gid: 5003, created_at: at, updated_at: at }).execute();
    const optics = await k.selectFrom('subgroups').select('id').where('name', '=', 'optics').executeTakeFirstOrThrow();
    const user = {
      full_name: '',
      email: null,
      primary_subgroup_id: optics.id,
      home: '/home/x',
      shell: '/bin/sh',
      password_hash: null,
      is_operator: 0,
      locked: 0,
      lock_reason: null,
      created_at: at,
      updated_at: at,
    };
    await k.insertInto('users').values({ ...user, name: 'alice', uid: 10000 }).execute();
    await assert.rejects(k.insertInto('users').values({ ...user, name: 'alice', uid: 10001 }).execute(), 'duplicate user name');
    await assert.rejects(k.insertInto('users').values({ ...user, name: 'bob', uid: 10000 }).execute(), 'duplicate uid');
    await assert.rejects(k.insertInto('users').values({ ...user, name: 'bob', uid: 10001, primary_subgroup_id: 999_999 }).execute(), 'a user of no subgroup');
    const alice = await k.selectFrom('users').select('id').where('name', '=', 'alice').executeTakeFirstOrThrow();
    const ticket = { user_id: alice.id, kind: 'login', issued_at: at, expires_at: at, renew_until: at, revoked_at: null, address: null, last_used_at: null };
    await k.insertInto('tickets').values({ ...ticket, token_hash: 'a'.repeat(64) }).execute();
    await assert.rejects(k.insertInto('tickets').values({ ...ticket, token_hash: 'a'.repeat(64) }).execute(), 'duplicate token hash');
    await k.insertInto('memberships').values({ user_id: alice.id, subgroup_id: optics.id, created_at: at }).execute();
    await assert.rejects(k.insertInto('memberships').values({ user_id: alice.id, subgroup_id: optics.id, created_at: at }).execute(), 'duplicate membership');
    // Deleting a user takes their memberships and tickets along.
    await k.deleteFrom('users').where('id', '=', alice.id).execute();
    assert.equal((await k.selectFrom('memberships').selectAll().execute()).length, 0);
    assert.equal((await k.selectFrom('tickets').selectAll().execute()).length, 0);
  });
});
