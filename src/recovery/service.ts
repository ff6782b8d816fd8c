import { createHash, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { auditedRefusal, writeAudit } from '../accounts/audit.ts';
import { SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import { authorize } from '../accounts/policy.ts';
import type { AccountsService } from '../accounts/service.ts';
import { addNotification } from '../batch/store.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { conflict, invalidInput, notFound } from '../lib/errors.ts';
import { parseDuration } from '../lib/units.ts';
import { postJson } from '../monitor/alerts/notify.ts';
import type { UserMail } from '../monitor/service.ts';
import type { ServerDecision } from './ask.ts';
import { ACTED_ON, victimName, type EventQuery, type PendingDecision, type RecoveryEvent } from './events-model.ts';
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
  const what = victimName(event);
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

/** What the operators read when a node asks: who, what, the numbers, the deadline and the commands. */
export function pendingMessage(event: RecoveryEvent, facility: string, link: string | null = null): { subject: string; text: string } {
  const what = victimName(event);
  const ask = event.ask;
  const subject = `[${facility}] recovery: ${what}${event.user ? ` of ${event.user}` : ''} on ${event.host} is frozen — approve or deny by ${ask?.deadline ?? '?'}`;
  const metrics = Object.entries(event.metrics)
    .map(([key, value]) => `  ${key} = ${Number.isInteger(value) ? value : value.toPrecision(4)}`)
    .join('\n');
  const lines = [
    `The recovery watchdog of ${event.host} froze ${what}${event.user ? ` of ${event.user}` : ''} at ${event.at} and asks an operator what to do.`,
    '',
    `Rule:        ${event.rule} (${event.severity})`,
    `Why:         ${event.explanation}`,
    `Why this one: ${event.victimExplanation}`,
    `Proposed:    ${ask?.proposed ?? event.action}`,
    `Deadline:    ${ask?.deadline ?? '?'} — then the node does the configured fallback on its own`,
    ...(metrics ? ['Numbers:', metrics] : []),
    '',
    `Approve: keisan recovery approve ${event.id}`,
    `Deny:    keisan recovery deny ${event.id} --reason TEXT   (the job is thawed and left alone)`,
    `All waiting: keisan recovery pending`,
    ...(link ? ['', `Or decide in a browser (one use, until the deadline; no login): ${link}`] : []),
  ];
  return { subject, text: lines.join('\n') };
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
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
  /** Ask mode: the public URL for decision links and the webhooks to tell (registerRecoveryRoutes sets them from keisan.yaml). */
  private ask: { publicUrl: string | null; webhooks: Array<{ url: string; format: 'json' | 'slack' }> } = { publicUrl: null, webhooks: [] };

  constructor(private readonly o: RecoveryServiceOptions) {}

  configureAsk(ask: { publicUrl: string | null; webhooks: Array<{ url: string; format: 'json' | 'slack' }> }): void {
    this.ask = ask;
  }

  /** A new one-use link for one recipient; null when no public URL is known. */
  private async newLink(decisionId: number, operator: string, address: string, expiresAt: string): Promise<string | null> {
    if (!this.ask.publicUrl) return null;
    const token = randomBytes(32).toString('base64url');
    await store.insertLink(this.o.db, decisionId, tokenHash(token), operator, address, expiresAt);
    return `${this.ask.publicUrl}/recovery/decide/${token}`;
  }

  /** Registers a hook on acted-on events and kernel OOM kills (the batch room, the incidents room). */
  onAction(listener: RecoveryActionListener): void {
    this.listeners.push(listener);
  }

  /** Stores a watchdog's event (already checked against the node secret) and tells who must know. */
  async record(reported: RecoveryEventInput): Promise<{ id: number; event: RecoveryEvent }> {
    const now = this.o.clock.now();
    const input = await this.withKeisanJob(reported);
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
            targetType: input.jobId !== null || reported.slurmJobId != null ? 'job' : 'process',
            target: input.jobId !== null ? String(input.jobId) : reported.slurmJobId != null ? `slurm:${reported.slurmJobId}` : `${input.host}:${input.pid ?? '?'}`,
            outcome: input.outcome === 'done' ? 'ok' : 'failed',
            detail: { event: id, rule: input.rule, user: saved.user, explanation: input.explanation, ...(input.error ? { error: input.error } : {}) },
          },
          now,
        );
      }
      return saved;
    });
    if (actedOn(event)) await this.afterAction(event, now);
    // The kernel killed in a job before the watchdog acted: no owner notice from here (the batch room sees the job fail), but an incident.
    else if (event.rule === 'kernel-oom') await this.tellListeners(event);
    if (input.ask) await this.askFollowUp(input, event, owner, now);
    return { id: event.id, event };
  }

  /**
   * A SLURM node's event names SLURM's job id: the Keisan job run under it (jobs.external_id) becomes
   * the event's job, so it is handled as a local job's would be; a job Keisan did not submit stays
   * "SLURM job N" with no Keisan job. SLURM's id is kept in the event's numbers as slurmJobId.
   */
  private async withKeisanJob(input: RecoveryEventInput): Promise<RecoveryEventInput> {
    const slurmJobId = input.slurmJobId ?? null;
    if (slurmJobId === null) return input;
    const jobId = (await store.jobOfSlurmId(this.o.db, slurmJobId)) ?? null;
    const { slurmJobId: _kept, ...rest } = input;
    return { ...rest, jobId, metrics: { ...input.metrics, slurmJobId } };
  }

  // ---------------------------------------------------------------------------- ask mode

  /** A pending event opens a decision and tells the operators; a follow-up closes it (timed-out, ended) if still open. */
  private async askFollowUp(input: RecoveryEventInput, event: RecoveryEvent, owner: string | null, now: Date): Promise<void> {
    const ask = input.ask!;
    if (input.outcome === 'pending') {
      if (await store.findDecisionByKey(this.o.db, ask.key)) return; // a re-sent report
      await store.insertDecision(this.o.db, event.id, input, ask, owner);
      const row = (await store.findDecisionByKey(this.o.db, ask.key))!;
      await this.tellOperators(event, Number(row.id), row.deadline, now);
      await this.tellOwner(event, row.deadline, now);
      return;
    }
    const row = await store.findDecisionByKey(this.o.db, ask.key);
    if (row && row.state === 'pending' && ask.decision && ask.decision !== 'approved' && ask.decision !== 'denied') {
      await store.closeDecision(this.o.db, Number(row.id), ask.decision, ask.decidedBy ?? ask.decision, ask.decidedAt ? new Date(ask.decidedAt) : now, null);
    }
  }

  /**
   * In-app notice to every operator, e-mail where mail is configured, and the webhooks of
   * recovery.notify: what is frozen, until when, the commands, and a one-use decision link each.
   */
  private async tellOperators(event: RecoveryEvent, decisionId: number, deadline: string, now: Date): Promise<void> {
    for (const op of await store.operators(this.o.db)) {
      const address = op.email ?? `in-app notice of ${op.name}`;
      const link = await this.newLink(decisionId, op.name, address, deadline);
      const message = pendingMessage(event, this.o.facility, link);
      let mailNote = '';
      if (this.o.mail) {
        const sent = await this.o.mail.toUser(op.name, op.email, message).catch((error: unknown) => ({ queued: false as const, reason: error instanceof Error ? error.message : String(error) }));
        if (!sent.queued) mailNote = ` — no e-mail sent: ${sent.reason}`;
      }
      await addNotification(this.o.db, op.name, 'recovery', message.subject.replace(/^\[[^\]]*\] /, ''), `${event.explanation}${mailNote} · keisan recovery approve ${event.id} | keisan recovery deny ${event.id}`, now);
    }
    for (const hook of this.ask.webhooks) {
      const link = await this.newLink(decisionId, 'webhook', `webhook ${new URL(hook.url).host}`, deadline);
      const message = pendingMessage(event, this.o.facility, link);
      const body =
        hook.format === 'slack'
          ? { text: message.subject, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: message.text.slice(0, 3000) } }] }
          : { kind: 'recovery.pending', facility: this.o.facility, event, deadline, approve: `keisan recovery approve ${event.id}`, deny: `keisan recovery deny ${event.id}`, link, subject: message.subject, text: message.text };
      await postJson(hook.url, body, {}, 5000).catch((error: unknown) => this.o.logger.warn({ err: error, url: hook.url, event: event.id }, 'recovery: a pending-decision webhook failed'));
    }
  }

  /** The owner hears that the job is held frozen (not ended) while an operator decides. */
  private async tellOwner(event: RecoveryEvent, deadline: string, now: Date): Promise<void> {
    if (event.user === null) return;
    const account = await this.o.accounts.getUser(SYSTEM_ACTOR, event.user).catch(() => undefined);
    if (!account) return;
    const what = victimName(event);
    const subject = `[${this.o.facility}] your ${what} on ${event.host} is held frozen while an operator decides`;
    const text = [
      `The recovery watchdog of ${event.host} froze your ${what} at ${event.at} (paused, not ended) and asked an operator what to do.`,
      '',
      `Why:      ${event.explanation}`,
      `Proposed: ${event.ask?.proposed ?? event.action}`,
      `Until:    ${deadline} at the latest; you will be told what was decided.`,
      '',
      `See it with: keisan recovery event ${event.id}`,
    ].join('\n');
    let mailNote = '';
    if (this.o.mail) {
      const sent = await this.o.mail.toUser(event.user, null, { subject, text }).catch((error: unknown) => ({ queued: false as const, reason: error instanceof Error ? error.message : String(error) }));
      if (!sent.queued) mailNote = ` — no e-mail sent: ${sent.reason}`;
    }
    await addNotification(this.o.db, event.user, 'recovery', subject.replace(/^\[[^\]]*\] /, ''), `${event.explanation}${mailNote} · keisan recovery event ${event.id}`, now);
  }

  /** Victims frozen while an operator decides (operators only). */
  async pending(actor: Actor): Promise<PendingDecision[]> {
    if (!this.seesAll(actor)) throw await auditedRefusal(this.o.db, { actor, action: 'recovery.pending', targetType: 'recovery', target: 'pending' }, 'only an operator may see the recovery decisions waiting for an operator', this.o.clock.now());
    return (await store.listPending(this.o.db, this.o.clock.now())).map(store.toPending);
  }

  /**
   * An operator approves (the node performs the proposed action) or denies (the node thaws the
   * victim and leaves it alone). Once only, and only before the node's deadline: else 409.
   */
  async decide(actor: Actor, eventId: number, verdict: 'approve' | 'deny', reason: string | null): Promise<PendingDecision> {
    const now = this.o.clock.now();
    if (!this.seesAll(actor)) throw await auditedRefusal(this.o.db, { actor, action: `recovery.${verdict}`, targetType: 'recovery-event', target: String(eventId) }, `only an operator may ${verdict} what the recovery watchdog proposed; ask an operator (keisan recovery pending lists what waits)`, now);
    const row = await store.findDecisionByEvent(this.o.db, eventId);
    if (!row) throw notFound('pending recovery decision', eventId);
    return this.close(actor, row, verdict, reason, 'login', null, now);
  }

  /** What a decision link shows (GET never decides): the pending decision and its event; 409 when used, expired or decided. */
  async linkView(token: string): Promise<{ decision: PendingDecision; event: RecoveryEvent }> {
    const { row } = await this.linkRow(token);
    const event = store.toEvent((await store.findEvent(this.o.db, Number(row.event_id)))!);
    return { decision: store.toPending({ ...row, explanation: event.explanation, metrics: JSON.stringify(event.metrics) }), event };
  }

  /** A decision through a one-use link (no login): recorded as "<operator> via e-mail link", with the address. */
  async decideByLink(token: string, verdict: 'approve' | 'deny'): Promise<PendingDecision> {
    const now = this.o.clock.now();
    const { link, row } = await this.linkRow(token);
    if (!(await store.useLink(this.o.db, Number(link.id), now))) throw conflict('this decision link was used already; nothing changed (keisan recovery pending shows what still waits)');
    const actor: Actor = { ...SYSTEM_ACTOR, name: link.operator.slice(0, 64) };
    return this.close(actor, row, verdict, null, 'e-mail link', link.address, now);
  }

  private async linkRow(token: string): Promise<{ link: store.RecoveryDecisionLinkRow; row: store.RecoveryDecisionRow }> {
    const link = /^[A-Za-z0-9_-]{43}$/.test(token) ? await store.findLink(this.o.db, tokenHash(token)) : undefined;
    if (!link) throw notFound('decision link', 'given');
    if (link.used_at !== null) throw conflict(`this decision link was used at ${link.used_at}; nothing changed`);
    const row = (await store.findDecisionById(this.o.db, Number(link.decision_id)))!;
    this.refuseClosed(row, this.o.clock.now());
    return { link, row };
  }

  private refuseClosed(row: store.RecoveryDecisionRow, now: Date): void {
    const eventId = Number(row.event_id);
    if (row.state !== 'pending') throw conflict(`recovery event ${eventId} was already decided: ${row.state} by ${row.decided_by ?? '?'} at ${row.decided_at ?? '?'}; nothing changed`);
    if (now.getTime() >= Date.parse(row.deadline)) throw conflict(`recovery event ${eventId} timed out at ${row.deadline}: the node fell back on its own (see keisan recovery events --job ${row.job_id ?? ''}); nothing changed`);
  }

  private async close(actor: Actor, row: store.RecoveryDecisionRow, verdict: 'approve' | 'deny', reason: string | null, via: 'login' | 'e-mail link', address: string | null, now: Date): Promise<PendingDecision> {
    const eventId = Number(row.event_id);
    const action = `recovery.${verdict}`;
    this.refuseClosed(row, now);
    const state = verdict === 'approve' ? 'approved' : 'denied';
    const by = via === 'login' ? actor.name : `operator ${actor.name} via e-mail link`;
    await this.o.db.transaction().execute(async (tx) => {
      if (!(await store.closeDecision(tx, Number(row.id), state, by, now, reason))) throw conflict(`recovery event ${eventId} was decided by someone else a moment ago; nothing changed`);
      await writeAudit(
        tx,
        { actor, action, targetType: row.job_id !== null ? 'job' : 'process', target: row.job_id !== null ? String(row.job_id) : `${row.host}:${row.pid ?? '?'}`, outcome: 'ok', detail: { event: eventId, key: row.key, proposed: row.proposed, via, ...(address ? { address } : {}), ...(reason ? { reason } : {}) } },
        now,
      );
    });
    const event = await store.findEvent(this.o.db, eventId);
    return store.toPending({ ...(await store.findDecisionByEvent(this.o.db, eventId))!, ...(event ? { metrics: event.metrics } : {}) });
  }

  /** What the node polls: the operators' decisions on its pending keys. */
  async decisionsFor(host: string, keys: string[]): Promise<ServerDecision[]> {
    const rows = await store.decidedFor(this.o.db, host, keys);
    return rows.map((r) => ({ key: r.key, decision: r.state as 'approved' | 'denied', by: r.decided_by ?? '?', at: r.decided_at ?? new Date(0).toISOString(), reason: r.reason }));
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
    await this.tellListeners(event);
  }

  private async tellListeners(event: RecoveryEvent): Promise<void> {
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
    const event = store.toEvent(row);
    // A pending event shows how it was decided since (the decision row of its key).
    if (event.ask && event.ask.decision === null) {
      const d = await store.findDecisionByKey(this.o.db, event.ask.key);
      if (d && d.state !== 'pending') event.ask = { ...event.ask, decision: d.state as NonNullable<typeof event.ask.decision>, decidedBy: d.decided_by, decidedAt: d.decided_at, reason: d.reason };
    }
    return event;
  }
}
