/**
 * Ticket lifetimes, as in Kerberos: a login ticket is valid for `lifetime` (10 h), and may be
 * renewed — each renewal giving another `lifetime` — until `renewUntil` (4 weeks after login).
 * Pure functions over times, with `now` passed in.
 */
export interface TicketTimes {
  issuedAt: Date;
  expiresAt: Date;
  renewUntil: Date;
  revokedAt: Date | null;
}

export interface TicketPolicy {
  lifetimeMs: number;
  renewableForMs: number;
}

export function issueTimes(now: Date, policy: TicketPolicy): TicketTimes {
  const renewUntil = new Date(now.getTime() + Math.max(policy.renewableForMs, policy.lifetimeMs));
  return {
    issuedAt: now,
    expiresAt: new Date(Math.min(now.getTime() + policy.lifetimeMs, renewUntil.getTime())),
    renewUntil,
    revokedAt: null,
  };
}

export type TicketState = 'valid' | 'expired' | 'revoked';

export function ticketState(ticket: TicketTimes, now: Date): TicketState {
  if (ticket.revokedAt) return 'revoked';
  return now.getTime() < ticket.expiresAt.getTime() ? 'valid' : 'expired';
}

export type RenewDecision =
  | { ok: true; expiresAt: Date }
  | { ok: false; reason: 'revoked' | 'expired' | 'past-renew-limit' };

/**
 * A ticket can be renewed while it is still valid and before its renewal limit; the new
 * expiry never passes the renewal limit. An expired ticket cannot be renewed (as in Kerberos).
 */
export function renewDecision(ticket: TicketTimes, now: Date, policy: TicketPolicy): RenewDecision {
  const state = ticketState(ticket, now);
  if (state !== 'valid') return { ok: false, reason: state };
  if (now.getTime() >= ticket.renewUntil.getTime()) return { ok: false, reason: 'past-renew-limit' };
  const expiresAt = new Date(Math.min(now.getTime() + policy.lifetimeMs, ticket.renewUntil.getTime()));
  return { ok: true, expiresAt };
}
