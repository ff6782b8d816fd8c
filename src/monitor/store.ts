import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import type { Database, MailOutboxTable } from '../db/schema.ts';
import type { MailMessage } from './mail.ts';

/** Database access for the mail outbox. No rules here: outbox.ts decides. */
type Tx = Kysely<Database>;
export type OutboxRow = Selectable<MailOutboxTable>;

export const OUTBOX_STATES = ['queued', 'sent', 'failed'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/** An outbox entry as the API shows it (without the body). */
export const outboxEntrySchema = z.object({
  id: z.number().int(),
  state: z.enum(OUTBOX_STATES),
  createdAt: z.string(),
  to: z.string(),
  subject: z.string(),
  attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  sentAt: z.string().nullable(),
  lastError: z.string().nullable(),
  messageId: z.string().nullable(),
});
export type OutboxEntry = z.infer<typeof outboxEntrySchema>;

export function stateOf(row: Pick<OutboxRow, 'sent_at' | 'next_attempt_at'>): OutboxState {
  return row.sent_at !== null ? 'sent' : row.next_attempt_at !== null ? 'queued' : 'failed';
}

export function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    state: stateOf(row),
    createdAt: row.created_at,
    to: row.to_address,
    subject: row.subject,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    sentAt: row.sent_at,
    lastError: row.last_error,
    messageId: row.message_id,
  };
}

export async function insertMail(db: Tx, message: MailMessage, now: Date): Promise<number> {
  const at = now.toISOString();
  const row = await db
    .insertInto('mail_outbox')
    .values({ created_at: at, to_address: message.to, subject: message.subject, body: message.text, attempts: 0, next_attempt_at: at, sent_at: null, last_error: null, message_id: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function dueMail(db: Tx, now: Date, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom('mail_outbox')
    .selectAll()
    .where('sent_at', 'is', null)
    .where('next_attempt_at', 'is not', null)
    .where('next_attempt_at', '<=', now.toISOString())
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * Takes a due message for one attempt by moving its next attempt to `leaseUntil`; false when
 * another sender took it first. A sender that dies mid-attempt leaves it to be retried then.
 */
export async function claimMail(db: Tx, row: Pick<OutboxRow, 'id' | 'next_attempt_at'>, leaseUntil: Date): Promise<boolean> {
  if (row.next_attempt_at === null) return false;
  const result = await db
    .updateTable('mail_outbox')
    .set({ next_attempt_at: leaseUntil.toISOString() })
    .where('id', '=', row.id)
    .where('sent_at', 'is', null)
    .where('next_attempt_at', '=', row.next_attempt_at)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function markSent(db: Tx, id: number, attempts: number, messageId: string, now: Date): Promise<void> {
  await db.updateTable('mail_outbox').set({ sent_at: now.toISOString(), attempts, next_attempt_at: null, last_error: null, message_id: messageId }).where('id', '=', id).execute();
}

/** Records a failed attempt; `next` null gives the message up. */
export async function markFailed(db: Tx, id: number, attempts: number, error: string, next: Date | null): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ attempts, last_error: error, next_attempt_at: next === null ? null : next.toISOString() })
    .where('id', '=', id)
    .execute();
}

/** The earliest next attempt of any queued message. */
export async function nextAttemptAt(db: Tx): Promise<Date | null> {
  const row = await db
    .selectFrom('mail_outbox')
    .select((eb) => eb.fn.min('next_attempt_at').as('next'))
    .where('sent_at', 'is', null)
    .where('next_attempt_at', 'is not', null)
    .executeTakeFirst();
  return row?.next ? new Date(row.next) : null;
}

export async function listMail(db: Tx, states: readonly OutboxState[], limit: number): Promise<OutboxRow[]> {
  let query = db.selectFrom('mail_outbox').selectAll();
  query = query.where((eb) =>
    eb.or(
      states.map((state) =>
        state === 'sent'
          ? eb('sent_at', 'is not', null)
          : state === 'queued'
            ? eb.and([eb('sent_at', 'is', null), eb('next_attempt_at', 'is not', null)])
            : eb.and([eb('sent_at', 'is', null), eb('next_attempt_at', 'is', null)]),
      ),
    ),
  );
  return query.orderBy('id', 'desc').limit(limit).execute();
}
