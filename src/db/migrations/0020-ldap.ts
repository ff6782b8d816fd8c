import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * One identity through LDAP (src/accounts/ldap): Keisan keeps passwords as scrypt, which slapd
 * cannot check, so when a password is set while accounts.ldap.mode is publish, an LDAP-usable
 * hash of it ({SSHA}) is kept here too, one row per user, and published as userPassword.
 * Never the password itself. Rows go with their user (deleteUser removes them).
 */
export async function up(db: Kysely<unknown>, _context: MigrationContext): Promise<void> {
  await db.schema
    .createTable('ldap_passwords')
    .addColumn('user_id', 'integer', (c) => c.primaryKey())
    .addColumn('hash', 'varchar(200)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .execute();
}
