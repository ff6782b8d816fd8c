import type { Actor, User } from './model.ts';
import type { UserScope } from './policy.ts';
import type { UserRow } from './store.ts';
import type { TicketTimes } from './tickets.ts';

/**
 * What authenticating a request and reading a user need, kept in memory: the server is the only
 * writer of accounts, so every change through the service clears it (`invalidate`), and a read
 * that raced with a change is not kept (the generation it started under no longer holds).
 * Time-dependent checks (expiry) are made on every request, never cached.
 */
export interface CachedTicket {
  ticketId: number;
  times: TicketTimes;
  user: UserRow;
  /** The actor without a client address (that is per request). */
  actor: Actor;
}

export interface CachedUser {
  row: UserRow;
  scope: UserScope;
  user: User;
}

const MAX_ENTRIES = 20_000;

export class AccountsCache {
  private current = 0;
  private readonly tickets = new Map<string, CachedTicket>();
  private readonly users = new Map<string, CachedUser>();

  get generation(): number {
    return this.current;
  }

  invalidate(): void {
    this.current++;
    this.tickets.clear();
    this.users.clear();
  }

  ticket(tokenHash: string): CachedTicket | undefined {
    return this.tickets.get(tokenHash);
  }

  /** Keeps a ticket read under `generation`, unless something changed since. */
  keepTicket(tokenHash: string, entry: CachedTicket, generation: number): void {
    if (generation !== this.current) return;
    if (this.tickets.size >= MAX_ENTRIES) this.tickets.clear();
    this.tickets.set(tokenHash, entry);
  }

  forgetTicket(tokenHash: string): void {
    this.tickets.delete(tokenHash);
  }

  user(name: string): CachedUser | undefined {
    return this.users.get(name);
  }

  keepUser(name: string, entry: CachedUser, generation: number): void {
    if (generation !== this.current) return;
    if (this.users.size >= MAX_ENTRIES) this.users.clear();
    this.users.set(name, entry);
  }
}
