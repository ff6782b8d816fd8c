import type { Kysely } from 'kysely';
import { auditedChange, auditedRefusal } from '../../accounts/audit.ts';
import type { Actor } from '../../accounts/model.ts';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { conflict, invalidInput, KeisanError, notFound } from '../../lib/errors.ts';
import { formatDuration } from '../../lib/units.ts';
import type { Host } from '../inventory/model.ts';
import { sameHost } from '../inventory/redundancy.ts';
import { assessPool, chooseLoginHost, emptyPoolState, LOGIN_ROLE, pruneSticky, STICKY_FOR_MS, type Assessed, type Candidate, type Drain, type LoginHostAnswer, type PoolState } from './model.ts';
import * as store from './store.ts';

/** What the login pool reads of the other rooms (wired in buildApp). */
export interface LoginPoolSources {
  /** Every inventory host with its health now (InventoryService.listHosts as the system). */
  hosts(): Promise<Host[]>;
  /** Hosts under a maintenance plan in progress (MaintenanceService.active), with a line saying which plan. */
  maintenance(now: Date): Promise<{ hosts: string[]; text: string }[]>;
  /** The latest 1-minute load and CPU count the host's agent sent (MonitorHub + summarizeNode). */
  load(host: string, nowMs: number): { load1: number | null; cpus: number | null };
}

/** Anonymous callers of GET /api/login-host: requests per address per minute. */
export const ANONYMOUS_PER_MINUTE = 60;

/** A fixed one-minute window per address, in memory (a restart forgets). */
export class AnonymousLimiter {
  private readonly windows = new Map<string, { startMs: number; count: number }>();

  constructor(private readonly perMinute = ANONYMOUS_PER_MINUTE) {}

  /** Counts one request; throws RATE_LIMITED past the limit, with the seconds to wait. */
  take(address: string, now: Date): void {
    const nowMs = now.getTime();
    if (this.windows.size > 10_000) for (const [key, w] of this.windows) if (nowMs - w.startMs >= 60_000) this.windows.delete(key);
    const window = this.windows.get(address);
    if (!window || nowMs - window.startMs >= 60_000) {
      this.windows.set(address, { startMs: nowMs, count: 1 });
      return;
    }
    window.count += 1;
    if (window.count > this.perMinute) {
      const waitMs = 60_000 - (nowMs - window.startMs);
      throw new KeisanError(
        'RATE_LIMITED',
        `more than ${this.perMinute} login-host requests a minute from ${address} without a ticket or the node secret: try again in ${formatDuration(Math.max(waitMs, 1000))}`,
        { retryAfterSeconds: Math.ceil(waitMs / 1000) },
      );
    }
  }
}

/**
 * The login pool: the inventory's hosts with the `login` role, their health, maintenance (plans
 * in progress and hosts drained by hand) and load; `choose` hands out one host per request and
 * remembers each user's host (in memory: a restarted server spreads users afresh).
 */
export class LoginHostService {
  private state: PoolState = emptyPoolState();
  readonly anonymous = new AnonymousLimiter();

  constructor(
    private readonly o: {
      db: Kysely<Database>;
      clock: Clock;
      sources: LoginPoolSources;
      stickyForMs?: number;
    },
  ) {}

  private now(): Date {
    return this.o.clock.now();
  }

  private async candidates(now: Date): Promise<Candidate[]> {
    const [hosts, plans, drains] = await Promise.all([this.o.sources.hosts(), this.o.sources.maintenance(now), store.listDrains(this.o.db)]);
    return hosts
      .filter((h) => h.roles.includes(LOGIN_ROLE))
      .map((h) => {
        const drain = drains.find((d) => d.host === h.name);
        const plan = plans.find((p) => p.hosts.some((t) => sameHost(t, h.name)));
        const maintenance = drain ? `drained by ${drain.drainedBy} at ${drain.drainedAt}: ${drain.reason}` : plan ? plan.text : null;
        return { host: h.name, address: h.addresses[0] ?? h.name, health: h.health, maintenance, ...this.o.sources.load(h.name, now.getTime()) };
      });
  }

  /**
   * One login host for `user` (null: anonymous). `detailed` callers (a ticket or the node secret)
   * get every host and why it is in or out, in the answer and in the 503's message.
   */
  async choose(user: string | null, detailed: boolean): Promise<LoginHostAnswer> {
    const now = this.now();
    const candidates = await this.candidates(now);
    // No await from here on: reading and replacing the state cannot interleave with another request.
    const choice = chooseLoginHost(candidates, this.state, user, now, this.o.stickyForMs ?? STICKY_FOR_MS);
    if (!choice.ok) {
      const message = detailed ? choice.message : `no login host can take users now (${choice.hosts.length} in the pool, none available): try again later or ask an operator`;
      throw new KeisanError('UNAVAILABLE', message, detailed ? { hosts: choice.hosts } : undefined);
    }
    this.state = { credit: choice.state.credit, sticky: choice.state.sticky.size > 1000 ? pruneSticky(choice.state.sticky, now, this.o.stickyForMs) : choice.state.sticky };
    return { host: choice.host, address: choice.address, why: choice.why, user, ...(detailed ? { hosts: choice.hosts } : {}) };
  }

  /** Every login host and why it is in or out of the pool now (operators). */
  async pool(actor: Actor): Promise<{ hosts: Assessed[]; drains: Drain[] }> {
    this.requireOperatorToRead(actor);
    return { hosts: assessPool(await this.candidates(this.now())), drains: await store.listDrains(this.o.db) };
  }

  private requireOperatorToRead(actor: Actor): void {
    if (!actor.isOperator) throw new KeisanError('FORBIDDEN', 'only an operator may read the login pool');
  }

  private async loginHost(name: string): Promise<Host> {
    const host = (await this.o.sources.hosts()).find((h) => h.name === name.toLowerCase());
    if (!host) throw notFound('host', name);
    if (!host.roles.includes(LOGIN_ROLE)) throw invalidInput(`host ${host.name} does not have the '${LOGIN_ROLE}' role (roles: ${host.roles.join(', ') || 'none'}): it is not in the login pool`);
    return host;
  }

  /** Takes a login host out of the pool until `undrain` (operators; audited). Users on it stay; new ones go elsewhere. */
  async drain(actor: Actor, name: string, reason: string): Promise<Drain> {
    if (!actor.isOperator) throw await auditedRefusal(this.o.db, { actor, action: 'login-host.drain', targetType: 'host', target: name }, 'only an operator may take a login host out of the pool', this.now());
    const host = await this.loginHost(name);
    const drain: Drain = { host: host.name, reason, drainedBy: actor.name, drainedAt: this.now().toISOString() };
    return auditedChange(this.o.db, { actor, action: 'login-host.drain', targetType: 'host', target: host.name, detail: { reason } }, () => this.now(), async (tx) => {
      const existing = await store.findDrain(tx, host.name);
      if (existing) throw conflict(`${host.name} is already out of the pool (drained by ${existing.drainedBy} at ${existing.drainedAt}: ${existing.reason})`);
      await store.insertDrain(tx, drain);
      return drain;
    }, `${host.name} was drained at the same time by someone else`);
  }

  /** Puts a drained login host back into the pool (operators; audited). */
  async undrain(actor: Actor, name: string): Promise<void> {
    if (!actor.isOperator) throw await auditedRefusal(this.o.db, { actor, action: 'login-host.undrain', targetType: 'host', target: name }, 'only an operator may put a login host back into the pool', this.now());
    const host = name.toLowerCase();
    await auditedChange(this.o.db, { actor, action: 'login-host.undrain', targetType: 'host', target: host }, () => this.now(), async (tx) => {
      if (!(await store.findDrain(tx, host))) throw conflict(`${host} is not drained: nothing to undo`);
      await store.deleteDrain(tx, host);
    }, `${host} was changed at the same time by someone else`);
  }
}
