import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { MailError, type MailMessage, type Mailer } from './mail.ts';
import * as store from './store.ts';

export const FIRST_RETRY_MS = 30_000;
export const MAX_RETRY_MS = 3_600_000;
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;
/** How long a claimed message waits before another attempt if its sender vanished mid-send. */
const CLAIM_LEASE_MS = 10 * 60_000;
const BATCH = 50;

/**
 * When to try a message again after its `attempts`-th failed attempt: 30 s, doubling up to 1 h;
 * null — give up — when the failure is permanent or the message is 24 h old.
 */
export function nextAttempt(attempts: number, createdAt: Date, now: Date, permanent: boolean): Date | null {
  if (permanent) return null;
  if (now.getTime() - createdAt.getTime() >= GIVE_UP_AFTER_MS) return null;
  const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1));
  return new Date(now.getTime() + delay);
}

export interface DeliveryReport {
  sent: number;
  retrying: number;
  gaveUp: number;
}

export interface OutboxOptions {
  db: Kysely<Database>;
  clock: Clock;
  mailer: Mailer;
  logger: FastifyBaseLogger;
}

/**
 * The durable outbox and its sender. `enqueue` writes the message to the database; once
 * `start`ed, the sender wakes on every enqueue and at the next retry time — no polling loop.
 * Passes never overlap, so `deliverDue` may also be called directly (tests, with a manual clock).
 */
export class MailOutbox {
  private started = false;
  private closed = false;
  private woken = false;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<DeliveryReport> = Promise.resolve({ sent: 0, retrying: 0, gaveUp: 0 });

  constructor(private readonly o: OutboxOptions) {}

  /** Queues a message; the sender takes it at once when running. */
  async enqueue(message: MailMessage): Promise<number> {
    const id = await store.insertMail(this.o.db, message, this.o.clock.now());
    this.wake();
    return id;
  }

  /** Starts the sender: what was queued before a restart goes out now. */
  start(): void {
    this.started = true;
    this.wake();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass.catch(() => undefined);
    this.o.mailer.close();
  }

  /** Asks for a pass soon; many wake-ups before it runs make one pass. */
  wake(): void {
    if (!this.started || this.closed || this.woken) return;
    this.woken = true;
    setImmediate(() => {
      this.woken = false;
      void this.deliverDue()
        .then(() => this.armTimer())
        .catch((error: unknown) => this.o.logger.error({ err: error }, 'mail: sender pass failed'));
    });
  }

  /** Attempts every message due now, one after another; resolves with what happened. */
  deliverDue(): Promise<DeliveryReport> {
    const next = this.pass.catch(() => undefined).then(() => this.runPass());
    this.pass = next;
    return next;
  }

  private async runPass(): Promise<DeliveryReport> {
    const report: DeliveryReport = { sent: 0, retrying: 0, gaveUp: 0 };
    for (;;) {
      if (this.closed) return report;
      const due = await store.dueMail(this.o.db, this.o.clock.now(), BATCH);
      if (due.length === 0) return report;
      for (const row of due) {
        if (this.closed) return report;
        const outcome = await this.attempt(row);
        if (outcome) report[outcome]++;
      }
    }
  }

  private async attempt(row: store.OutboxRow): Promise<keyof DeliveryReport | undefined> {
    const { db, clock, mailer, logger } = this.o;
    if (!(await store.claimMail(db, row, new Date(clock.now().getTime() + CLAIM_LEASE_MS)))) return undefined;
    const attempts = row.attempts + 1;
    try {
      const sent = await mailer.send({ to: row.to_address, subject: row.subject, text: row.body });
      await store.markSent(db, row.id, attempts, sent.messageId, clock.now());
      logger.info({ mail: row.id, to: row.to_address, messageId: sent.messageId, response: sent.response }, 'mail: sent');
      return 'sent';
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const permanent = error instanceof MailError && error.permanent;
      const next = nextAttempt(attempts, new Date(row.created_at), clock.now(), permanent);
      await store.markFailed(db, row.id, attempts, message, next);
      if (next) logger.warn({ mail: row.id, to: row.to_address, attempts, retryAt: next.toISOString(), error: message }, 'mail: not sent, will retry');
      else logger.error({ mail: row.id, to: row.to_address, attempts, error: message }, 'mail: given up');
      return next ? 'retrying' : 'gaveUp';
    }
  }

  /** Sleeps until the earliest retry. */
  private async armTimer(): Promise<void> {
    if (this.closed) return;
    const next = await store.nextAttemptAt(this.o.db);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!next || this.closed) return;
    const delay = Math.max(0, Math.min(next.getTime() - this.o.clock.now().getTime() + 5, 2_147_000_000));
    this.timer = setTimeout(() => this.wake(), delay);
    this.timer.unref();
  }

  async list(states: readonly store.OutboxState[], limit: number): Promise<store.OutboxEntry[]> {
    return (await store.listMail(this.o.db, states, limit)).map(store.toEntry);
  }
}
