import { email, SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import { authorize } from '../accounts/policy.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { Clock } from '../lib/clock.ts';
import type { Settings } from '../lib/config.ts';
import { conflict, forbidden, KeisanError } from '../lib/errors.ts';
import type { Mailer } from './mail.ts';
import type { MailOutbox } from './outbox.ts';
import type { OutboxEntry, OutboxState } from './store.ts';

/** Where a notice's e-mail went, or why none was queued. */
export type UserMailResult = { queued: true; to: string; id: number } | { queued: false; reason: string };

/** What other rooms use to e-mail a user (batch: job began, ended). */
export interface UserMail {
  /** Queues `message` to `address`, or else to the user's account address. */
  toUser(user: string, address: string | null, message: { subject: string; text: string }): Promise<UserMailResult>;
}

export interface MailTestResult {
  to: string;
  from: string;
  server: string;
  messageId: string;
  response: string;
}

export interface MailServiceOptions {
  settings: Settings;
  clock: Clock;
  accounts: AccountsService;
  /** Both null when keisan.yaml has no mail section. */
  mailer: Mailer | null;
  outbox: MailOutbox | null;
}

const NOT_CONFIGURED = 'mail is not configured: add a mail: section (from, smtp: host, port…) to keisan.yaml and restart the server';

/** Outgoing mail: the outbox for notices, and the operator's test and outbox listing. */
export class MailService implements UserMail {
  constructor(private readonly o: MailServiceOptions) {}

  get configured(): boolean {
    return this.o.outbox !== null;
  }

  start(): void {
    this.o.outbox?.start();
  }

  async close(): Promise<void> {
    await this.o.outbox?.close();
  }

  async toUser(user: string, address: string | null, message: { subject: string; text: string }): Promise<UserMailResult> {
    if (!this.o.outbox) return { queued: false, reason: 'the facility sends no e-mail' };
    let to = address;
    if (!to) {
      const account = await this.o.accounts.getUser(SYSTEM_ACTOR, user).catch(() => undefined);
      to = account?.email ?? null;
      if (!to) return { queued: false, reason: `${user} has no e-mail address: set one with 'keisan admin user set ${user} --email ADDRESS' or submit with --mail-user ADDRESS` };
    }
    if (!email.safeParse(to).success) return { queued: false, reason: `'${to}' is not an e-mail address (check --mail-user)` };
    const id = await this.o.outbox.enqueue({ to, subject: message.subject, text: `${message.text}\n-- \n${this.o.settings.facility.name}\n` });
    return { queued: true, to, id };
  }

  private async require(actor: Actor, what: string): Promise<void> {
    const decision = authorize(actor, { kind: 'mail.admin' });
    if (!decision.allowed) {
      await this.o.accounts.record({ actor, action: what, targetType: 'mail', target: 'smtp', outcome: 'denied' });
      throw forbidden(decision.reason);
    }
  }

  /** Sends one message now, past the outbox, and returns the SMTP server's answer. */
  async test(actor: Actor, to: string): Promise<MailTestResult> {
    await this.require(actor, 'mail.test');
    const { mailer } = this.o;
    const mail = this.o.settings.mail;
    if (!mailer || !mail) throw conflict(NOT_CONFIGURED);
    const facility = this.o.settings.facility.name;
    try {
      const sent = await mailer.send({
        to,
        subject: `${facility}: test message`,
        text:
          `This is a test message from ${facility}, sent by ${actor.name} with 'keisan admin mail test'\n` +
          `at ${this.o.clock.now().toISOString()} through ${mailer.server}.\n\n` +
          `If you can read it, job notices (keisan submit --mail) reach their owners.\n`,
      });
      await this.o.accounts.record({ actor, action: 'mail.test', targetType: 'mail', target: to, outcome: 'ok', detail: { response: sent.response } });
      return { to, from: mail.from, server: mailer.server, messageId: sent.messageId, response: sent.response };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.o.accounts.record({ actor, action: 'mail.test', targetType: 'mail', target: to, outcome: 'failed', detail: { error: message } });
      throw new KeisanError('UNAVAILABLE', `the test message to ${to} was not sent: ${message}`);
    }
  }

  async outbox(actor: Actor, states: readonly OutboxState[], limit: number): Promise<OutboxEntry[]> {
    await this.require(actor, 'mail.outbox');
    if (!this.o.outbox) throw conflict(NOT_CONFIGURED);
    return this.o.outbox.list(states, limit);
  }
}
