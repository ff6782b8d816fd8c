import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// The mail outbox: every e-mail is written here first and sent by the server's sender loop, so
// none is lost while the SMTP server is down. Queued: next_attempt_at set; sent: sent_at set;
// given up: neither (last_error says why).
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('mail_outbox')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('to_address', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'varchar(30)')
    .addColumn('sent_at', 'varchar(30)')
    .addColumn('last_error', 'text')
    .addColumn('message_id', 'text')
    .execute();
  await db.schema.createIndex('mail_outbox_due').on('mail_outbox').column('next_attempt_at').execute();
}
