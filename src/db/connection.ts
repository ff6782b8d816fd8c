import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase as SqliteDialectDatabase } from 'kysely';
import pg from 'pg';
import { invalidInput } from '../lib/errors.ts';
import type { Database } from './schema.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: DialectName;
  /** Where the data lives, without credentials: a file path or host/database. */
  location: string;
  /**
   * SQLite only: the better-sqlite3 handle, for the few hot statements that cannot afford
   * Kysely's per-query cost (the storage namespace's lookups, and its grouped creations, which
   * run inside a Kysely transaction on this same connection).
   */
  sqlite?: SqliteDatabase.Database;
  close(): Promise<void>;
}

/**
 * Opens the database named by `url`: `postgres://…` / `postgresql://…` for PostgreSQL,
 * `sqlite:PATH` or a bare path for a SQLite file, `sqlite::memory:` for tests.
 */
export function openDatabase(url: string, options: { dataDir?: string } = {}): Db {
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url);
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (file === '') {
    if (!options.dataDir) throw invalidInput('a sqlite: database URL without a path needs a data directory');
    return openSqlite(path.join(options.dataDir, 'keisan.db'));
  }
  return openSqlite(file);
}

function openSqlite(file: string): Db {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // WAL + synchronous=FULL: a committed transaction survives a crash or power loss.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    kysely,
    dialect: 'sqlite',
    sqlite,
    location: file === ':memory:' ? 'memory' : path.resolve(file),
    close: () => kysely.destroy(),
  };
}

/**
 * Kysely prepares every query anew; compiling the SQL is a fifth of a simple read's cost. The
 * same SQL text always gives the same statement, so keep them (bounded: queries with IN lists
 * of varying length make new texts).
 */
const STATEMENT_CACHE_SIZE = 1000;
function withStatementCache(sqlite: SqliteDatabase.Database): SqliteDialectDatabase {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

function openPostgres(url: string): Db {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle client that loses its connection must not crash the server; the next query reconnects.
  pool.on('error', () => undefined);
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const parsed = new URL(url);
  return {
    kysely,
    dialect: 'postgres',
    location: `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}${parsed.pathname}`,
    close: () => kysely.destroy(),
  };
}
