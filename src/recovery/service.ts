import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { writeAudit } from '../accounts/audit.ts';
import { SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import { authorize } from '../accounts/policy.ts';
import type { AccountsService } from '../accounts/service.ts';
import { addNotification } from '../batch/store.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { invalidInput, notFound } from '../lib/errors.ts';
import { parseDuration } from '../lib/units.ts';
import type { UserMail } from '../monitor/service.ts';
import { ACTED_ON, type EventQuery, type RecoveryEvent } from './events-model.ts';
import type { RecoveryEventInput } from './model.ts';
import * as store from './store.ts';

/** The incidents room (a later issue) plugs in here: called for every event the watchdog acted on. */
export type RecoveryActionListener = (event: RecoveryEvent) => Promise<void> | void;

export interface RecoveryServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  accounts: AccountsService;
  /** null when keisan.yaml has no mail section: owners are told in-app only. */
  mail: UserMail | null;
  logger: FastifyBaseLogger;
  facility: string;
}

/** The audit log's actor for what a node's watchdog did (its `actor` column holds 64 characters). */
export function watchdogActor(host: string): Actor {
  return { ...SYSTEM_ACTOR, name: `watchdog@${host}`.slice(0, 64) };
}

/** Did the watchdog end or hold someone's work (the owner is told, the incident hook is called)? */
export function actedOn(event: Pick<RecoveryEvent, 'action' | 'outcome'>): boolean {
  return ACTED_ON.has(event.action) && event.outcome === 'done';
}

const PAST: Record<string, string> = { kill: 'killed', stop: 'stopped', throttle: 'throttled', freeze: 'froze', renice: 'reniced' };

/** What the owner reads: the numbers, what was done and when, where the evidence is, how to see it. */
export function ownerMessage(event: RecoveryEvent, facility: string): { subject: string; text: string } {
  const what = event.jobId !== null ? `job ${event.jobId}` : `process ${event.pid ?? '?'}`;
  const verb = PAST[event.action] ?? event.action;
  const subject = `[${facility}] the recovery watchdog ${verb} your ${what} on ${event.host}`;
  const metrics = Object.entries(event.metrics)
    .map(([key, value]) => `  ${key} = ${Number.isInteger(value) ? value : value.toPrecision(4)}`)
    .join('\n');
  const t = event.timings;
  const lines = [
    `The recovery watchdog of ${event.host} ${verb} your ${what} at ${event.at}.`,
    '',
    `Rule:        ${event.rule} (${event.severity})`,
    `Why:         ${event.explanation}`,
    `Why this one: ${event.victimExplanation}`,
    `Done:        ${event.action}${t && t.writeToEmptyMs !== null ? ` — its processes were gone ${Math.round(t.writeToEmptyMs)} ms later` : ''}`,
    ...(metrics ? ['Numbers:', metrics] : []),
    event.evidencePath
      ? `Evidence:    the process tree, memory and cgroup numbers at that moment are kept on ${event.host} in ${event.evidencePath} (ask an operator).`
      : 'Evidence:    none was kept for this event.',
    '',
    `See it with: keisan recovery event ${event.id}   (all your events: keisan recovery events)`,
  ];
  return { subject, text: lines.join('\n') };
}

/** Where --since starts: a duration back from now (1h) or an ISO time. */
export function sinceOf(text: string, now: Date): Date {
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const at = new Date(text);
    if (Number.isNaN(at.getTime())) throw invalidInput(`since: '${text}' is not a time: write e.g. 2026-11-23T08:00:00Z or a duration like 1h`);
    return at;
  }
  try {
    return new Date(now.getTime() - parseDuration(text));
  } catch (error) {
    throw invalidInput(`since: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Recovery events: what the nodes' watchdogs report (stored once, never changed), who may see
 * which (operators all; a user those about their own jobs and processes), and what follows an
 * action on someone's work — the owner's in-app notice and e-mail, the audit entry as the
 * watchdog of that host, and the incident hook.
 */
export class RecoveryService {
  private readonly listeners: RecoveryActionListener[] = [];

  constructor(private readonly o: RecoveryServiceOptions) {}

  /** Registers the incident hook (the incidents room); by default only a log line is written. */
  onAction(listener: RecoveryActionListener): void {
    this.listeners.push(listener);
  }

  /** Stores a watchdog's event (already checked against the node secret) and tells who must know. */
  async record(input: RecoveryEventInput): Promise<{ id: number; event: RecoveryEvent }> {
    const now = this.o.clock.now();
    const owner = input.jobId !== null ? ((await store.jobOwner(this.o.db, input.jobId)) ?? null) : null;
    const changed = input.outcome !== 'observed' && input.action !== 'none' && input.action !== 'warn';
    const event = await this.o.db.transaction().execute(async (tx) => {
      const id = await store.insertEvent(tx, input, owner, now);
      const saved = store.toEvent((await store.findEvent(tx, id))!);
      if (changed) {
        await writeAudit(
          tx,
          {
            actor: watchdogActor(input.host),
            action: `recovery.${input.action}`,
            targetType: input.jobId !== null ? 'job' : 'process',
            target: input.jobId !== null ? String(input.jobId) : `${input.host}:${input.pid ?? '?'}`,
            outcome: input.outcome === 'done' ? 'ok' : 'failed',
            detail: { event: id, rule: input.rule, user: saved.user, explanation: input.explanation, ...(input.error ? { error: input.error } : {}) },
          },
          now,
        );
      }
      return saved;
    });
    if (actedOn(event)) await this.afterAction(event, now);
    return { id: event.id, event };
  }

  private async afterAction(event: RecoveryEvent, now: Date): Promise<void> {
    const user = event.user;
    if (user !== null) {
      const account = await this.o.accounts.getUser(SYSTEM_ACTOR, user).catch(() => undefined);
      if (account) {
        const message = ownerMessage(event, this.o.facility);
        let mailNote = '';
        if (this.o.mail) {
          const sent = await this.o.mail.toUser(user, null, message).catch((error: unknown) => ({ queued: false as const, reason: error instanceof Error ? error.message : String(error) }));
          if (!sent.queued) mailNote = ` — no e-mail sent: ${sent.reason}`;
        }
        const title = message.subject.replace(/^\[[^\]]*\] /, '');
        await addNotification(this.o.db, user, 'recovery', title, `${event.explanation}${mailNote} · keisan recovery event ${event.id}`, now);
      } else {
        this.o.logger.warn({ event: event.id, user }, 'recovery: the owner of an acted-on event has no account here; nobody was notified');
      }
    }
    this.o.logger.info({ event: event.id, host: event.host, rule: event.rule, action: event.action, job: event.jobId, pid: event.pid, user }, 'recovery: the watchdog acted (incident hook)');
    for (const listener of this.listeners) {
      try {
        await listener(event);
      } catch (error) {
        this.o.logger.error({ err: error, event: event.id }, 'recovery: the incident hook failed');
      }
    }
  }

  private seesAll(actor: Actor): boolean {
    return authorize(actor, { kind: 'recovery.read-all' }).allowed;
  }

  /** Events newest first: operators see all, a user those about their own jobs and processes. */
  async list(actor: Actor, query: EventQuery): Promise<RecoveryEvent[]> {
    const rows = await store.listEvents(this.o.db, {
      ...(query.since !== undefined ? { since: sinceOf(query.since, this.o.clock.now()) } : {}),
      ...(query.host !== undefined ? { host: query.host } : {}),
      ...(query.job !== undefined ? { jobId: query.job } : {}),
      ...(this.seesAll(actor) ? {} : { user: actor.name }),
      limit: query.limit,
    });
    return rows.map(store.toEvent);
  }

  /** One event, with the same visibility (another user's event is 404, as if it did not exist). */
  async get(actor: Actor, id: number): Promise<RecoveryEvent> {
    const row = await store.findEvent(this.o.db, id);
    if (!row || (!this.seesAll(actor) && row.user_name !== actor.name)) throw notFound('recovery event', id);
    return store.toEvent(row);
  }
}
