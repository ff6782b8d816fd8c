import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issueTimes, renewDecision, ticketState, type TicketPolicy, type TicketTimes } from './tickets.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const policy: TicketPolicy = { lifetimeMs: 10 * HOUR, renewableForMs: 28 * DAY };

const at = (iso: string) => new Date(iso);
const plus = (date: Date, ms: number) => new Date(date.getTime() + ms);

const LOGIN = at('2026-03-02T08:00:00.000Z');

describe('ticket lifetimes', () => {
  it('a login ticket is valid for 10 hours and renewable for 4 weeks', () => {
    const ticket = issueTimes(LOGIN, policy);
    assert.deepEqual(ticket, {
      issuedAt: LOGIN,
      expiresAt: at('2026-03-02T18:00:00.000Z'),
      renewUntil: at('2026-03-30T08:00:00.000Z'),
      revokedAt: null,
    });
  });

  it('is valid until the last millisecond before it expires, then expired', () => {
    const ticket = issueTimes(LOGIN, policy);
    assert.equal(ticketState(ticket, LOGIN), 'valid');
    assert.equal(ticketState(ticket, at('2026-03-02T17:59:59.999Z')), 'valid');
    assert.equal(ticketState(ticket, at('2026-03-02T18:00:00.000Z')), 'expired');
    assert.equal(ticketState(ticket, at('2026-03-03T08:00:00.000Z')), 'expired');
  });

  it('revoked beats valid and expired', () => {
    const ticket: TicketTimes = { ...issueTimes(LOGIN, policy), revokedAt: at('2026-03-02T09:00:00.000Z') };
    assert.equal(ticketState(ticket, at('2026-03-02T09:30:00.000Z')), 'revoked');
    assert.equal(ticketState(ticket, at('2026-03-05T00:00:00.000Z')), 'revoked');
  });

  it('renewal gives another lifetime from now', () => {
    const ticket = issueTimes(LOGIN, policy);
    assert.deepEqual(renewDecision(ticket, at('2026-03-02T17:00:00.000Z'), policy), { ok: true, expiresAt: at('2026-03-03T03:00:00.000Z') });
    // Renewing right after login changes nothing but is allowed.
    assert.deepEqual(renewDecision(ticket, LOGIN, policy), { ok: true, expiresAt: at('2026-03-02T18:00:00.000Z') });
  });

  it('renewing every 9 hours keeps a ticket alive exactly until renewUntil, never past it', () => {
    let ticket = issueTimes(LOGIN, policy);
    let now = LOGIN;
    let renewals = 0;
    for (;;) {
      now = plus(now, 9 * HOUR);
      const decision = renewDecision(ticket, now, policy);
      if (!decision.ok) break;
      assert.ok(decision.expiresAt.getTime() <= ticket.renewUntil.getTime(), `renewal ${renewals} passes renewUntil`);
      assert.equal(decision.expiresAt.getTime(), Math.min(now.getTime() + 10 * HOUR, ticket.renewUntil.getTime()));
      ticket = { ...ticket, expiresAt: decision.expiresAt };
      renewals++;
      assert.ok(renewals < 100, 'renewal never stops');
    }
    // 28 days = 672 h: renewals at 9 h, 18 h, …, 666 h (74 of them); the last one is capped.
    assert.equal(renewals, 74);
    assert.deepEqual(ticket.expiresAt, at('2026-03-30T08:00:00.000Z'));
    assert.deepEqual(ticket.expiresAt, ticket.renewUntil);
    // The loop stopped at 675 h: after expiry (which is at renewUntil), so 'expired'.
    assert.deepEqual(renewDecision(ticket, now, policy), { ok: false, reason: 'expired' });
  });

  it('the last renewal before the limit is capped at renewUntil', () => {
    const ticket: TicketTimes = { ...issueTimes(LOGIN, policy), expiresAt: at('2026-03-30T05:00:00.000Z') };
    assert.deepEqual(renewDecision(ticket, at('2026-03-30T04:00:00.000Z'), policy), { ok: true, expiresAt: at('2026-03-30T08:00:00.000Z') });
    assert.deepEqual(renewDecision(ticket, at('2026-03-30T04:59:59.999Z'), policy), { ok: true, expiresAt: at('2026-03-30T08:00:00.000Z') });
  });

  it('refuses to renew an expired ticket', () => {
    const ticket = issueTimes(LOGIN, policy);
    assert.deepEqual(renewDecision(ticket, at('2026-03-02T18:00:00.000Z'), policy), { ok: false, reason: 'expired' });
    assert.deepEqual(renewDecision(ticket, at('2026-03-10T00:00:00.000Z'), policy), { ok: false, reason: 'expired' });
  });

  it('refuses to renew a revoked ticket, even one still within its lifetime', () => {
    const ticket: TicketTimes = { ...issueTimes(LOGIN, policy), revokedAt: at('2026-03-02T08:30:00.000Z') };
    assert.deepEqual(renewDecision(ticket, at('2026-03-02T09:00:00.000Z'), policy), { ok: false, reason: 'revoked' });
  });

  it('refuses to renew at and after renewUntil, even if the ticket has not yet expired', () => {
    // Only a ticket from a longer-lived policy could still be valid here; the limit holds anyway.
    const ticket: TicketTimes = { ...issueTimes(LOGIN, policy), expiresAt: at('2026-03-31T00:00:00.000Z') };
    assert.deepEqual(renewDecision(ticket, at('2026-03-30T07:59:59.999Z'), policy), { ok: true, expiresAt: at('2026-03-30T08:00:00.000Z') });
    assert.deepEqual(renewDecision(ticket, at('2026-03-30T08:00:00.000Z'), policy), { ok: false, reason: 'past-renew-limit' });
    assert.deepEqual(renewDecision(ticket, at('2026-03-30T12:00:00.000Z'), policy), { ok: false, reason: 'past-renew-limit' });
  });

  it('a renewal period shorter than the lifetime still gives the full lifetime once, not renewable', () => {
    const short: TicketPolicy = { lifetimeMs: 10 * HOUR, renewableForMs: HOUR };
    const ticket = issueTimes(LOGIN, short);
    assert.deepEqual(ticket.expiresAt, at('2026-03-02T18:00:00.000Z'));
    assert.deepEqual(ticket.renewUntil, ticket.expiresAt);
    assert.deepEqual(renewDecision(ticket, at('2026-03-02T17:00:00.000Z'), short), { ok: true, expiresAt: at('2026-03-02T18:00:00.000Z') });
  });
});
