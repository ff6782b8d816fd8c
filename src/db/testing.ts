import { randomBytes } from 'node:crypto';
import { describe } from 'node:test';
import pg from 'pg';
import { openDatabase, type Db, type DialectName } from './connection.ts';
import { migrateToLatest } from './migrate.ts';

/**
 * Test databases. SQLite is always there; PostgreSQL is used when KEISAN_TEST_POSTGRES_URL
 * names a server we may create databases on (scripts/run-tests.js starts a throwaway cluster
 * when PostgreSQL is installed). With KEISAN_REQUIRE_SERVICES=1 a missing PostgreSQL fails.
 */
export interface TestDatabase {
  dialect: DialectName;
  /** A fresh, migrated database; closed and dropped by `dispose`. */
  open(): Promise<Db & { dispose(): Promise<void> }>;
}

const postgresAdminUrl = process.env.KEISAN_TEST_POSTGRES_URL;
const servicesRequired = process.env.KEISAN_REQUIRE_SERVICES === '1';

export const POSTGRES_SKIP_REASON = postgresAdminUrl
  ? undefined
  : 'PostgreSQL not available: set KEISAN_TEST_POSTGRES_URL or install PostgreSQL (npm run deps) so npm test starts one';

const sqliteTestDatabase: TestDatabase = {
  dialect: 'sqlite',
  async open() {
    const db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    return { ...db, dispose: () => db.close() };
  },
};

const postgresTestDatabase: TestDatabase = {
  dialect: 'postgres',
  async open() {
    if (!postgresAdminUrl) throw new Error(POSTGRES_SKIP_REASON);
    const name = `keisan_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: postgresAdminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    const url = new URL(postgresAdminUrl);
    url.pathname = `/${name}`;
    const db = openDatabase(url.toString());
    await migrateToLatest(db);
    return {
      ...db,
      async dispose() {
        await db.close();
        const cleanup = new pg.Client({ connectionString: postgresAdminUrl });
        await cleanup.connect();
        try {
          await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await cleanup.end();
        }
      },
    };
  },
};

export const TEST_DATABASES: TestDatabase[] = [sqliteTestDatabase, postgresTestDatabase];

/**
 * Runs a suite once per database engine, like Backstage's `describe.each(databases)`.
 * PostgreSQL is skipped, with the reason printed, when it is not available and not required.
 */
export function describeEachDatabase(title: string, suite: (database: TestDatabase) => void): void {
  for (const database of TEST_DATABASES) {
    const unavailable = database.dialect === 'postgres' ? POSTGRES_SKIP_REASON : undefined;
    if (unavailable && servicesRequired) {
      describe(`${title} [${database.dialect}]`, () => {
        throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${unavailable}`);
      });
      continue;
    }
    describe(`${title} [${database.dialect}]`, { skip: unavailable }, () => suite(database));
  }
}
