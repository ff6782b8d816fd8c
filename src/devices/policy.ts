import type { Actor } from '../accounts/model.ts';
import { formatDuration } from '../lib/units.ts';
import { MAX_RESERVE_FOR_MS, type DeviceState, type FreeAtCause } from './model.ts';

/**
 * The rules of device reservations, as pure functions of the stored reservation, the device's
 * settings and the time (passed in, so tests need no sleeping). The service reads, asks these
 * functions, and writes what they return.
 *
 * A reservation begins when a user reserves a free device ("use began"). It lasts until the
 * later of the time the holder asked for (`reserve --for`, by default the idle release time)
 * and the idle release time after the holder's last reported activity — but never beyond the
 * device's maximum hold time after it began. Until then nobody else may reserve the device;
 * the holder may renew (reserve again) within the maximum, release it, and an operator may
 * break it. A holder whose reservation ended at the maximum may reserve the device again only
 * after one idle release time, so that others get the first chance.
 */
export interface DeviceRules {
  idleReleaseMs: number;
  /** null: no maximum. */
  maxHoldMs: number | null;
}

export type EndReason = 'released' | 'broken';

/** A device's current (or last) reservation as stored. */
export interface Reservation {
  holder: string;
  /** When the use began; renewals do not move it. */
  reservedAt: Date;
  /** The time the holder asked for. */
  reservedUntil: Date;
  /** The last activity reported; null when none was. */
  lastActivityAt: Date | null;
  /** Set when released or broken (a reservation that lapsed has none: its end is computed). */
  endedAt: Date | null;
  endReason: EndReason | null;
  endedBy: string | null;
  /** The reason given when it was broken. */
  endNote: string | null;
}

export interface HoldEnd {
  /** When the device becomes reservable by others if nothing changes. */
  at: Date;
  cause: FreeAtCause;
  /** The maximum hold time's end; null without a maximum. */
  latest: Date | null;
}

export type DeviceStatus =
  | { state: 'free'; last: Reservation | null; endedAt: Date | null; how: 'never' | EndReason | FreeAtCause }
  | { state: Exclude<DeviceState, 'free'>; reservation: Reservation; end: HoldEnd };

const ms = (d: Date) => d.getTime();

/** When an open reservation ends if nothing changes, and why then. */
export function holdEnd(reservation: Reservation, rules: DeviceRules): HoldEnd {
  const activeAt = Math.max(ms(reservation.reservedAt), reservation.lastActivityAt ? ms(reservation.lastActivityAt) : 0);
  const idleEnd = activeAt + rules.idleReleaseMs;
  const asked = ms(reservation.reservedUntil);
  const soft = Math.max(asked, idleEnd);
  const latest = rules.maxHoldMs === null ? null : ms(reservation.reservedAt) + rules.maxHoldMs;
  if (latest !== null && latest <= soft) return { at: new Date(latest), cause: 'max-hold', latest: new Date(latest) };
  return { at: new Date(soft), cause: asked > idleEnd ? 'requested' : 'idle', latest: latest === null ? null : new Date(latest) };
}

/** free, reserved (held, no recent activity) or in use (activity within the idle release time). */
export function deviceStatus(reservation: Reservation | null, rules: DeviceRules, now: Date): DeviceStatus {
  if (!reservation) return { state: 'free', last: null, endedAt: null, how: 'never' };
  if (reservation.endedAt) return { state: 'free', last: reservation, endedAt: reservation.endedAt, how: reservation.endReason ?? 'released' };
  const end = holdEnd(reservation, rules);
  if (ms(now) >= ms(end.at)) return { state: 'free', last: reservation, endedAt: end.at, how: end.cause };
  const active = reservation.lastActivityAt !== null && ms(now) < ms(reservation.lastActivityAt) + rules.idleReleaseMs;
  return { state: active ? 'in-use' : 'reserved', reservation, end };
}

// ---------------------------------------------------------------------------------- decisions

export interface Refusal {
  ok: false;
  code: 'CONFLICT' | 'INVALID_INPUT' | 'FORBIDDEN';
  message: string;
  details?: Record<string, unknown>;
}
export type Outcome<T> = ({ ok: true } & T) | Refusal;

const refuse = (code: Refusal['code'], message: string, details?: Record<string, unknown>): Refusal => ({ ok: false, code, message, ...(details ? { details } : {}) });

/** "2026-03-02 08:20 UTC" (seconds only when not zero): unambiguous wherever the user is. */
export function formatUtc(at: Date): string {
  const iso = at.toISOString();
  const seconds = iso.slice(17, 19);
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}${seconds === '00' ? '' : `:${seconds}`} UTC`;
}

function whyThen(end: HoldEnd, rules: DeviceRules): string {
  const why =
    end.cause === 'max-hold'
      ? `its maximum hold time of ${formatDuration(rules.maxHoldMs ?? 0)}`
      : end.cause === 'requested'
        ? 'the time they asked for'
        : `${formatDuration(rules.idleReleaseMs)} after their last activity`;
  if (end.cause === 'max-hold') return why;
  return `${why}; later if they stay active${end.latest ? `, ${formatUtc(end.latest)} at the latest` : ''}`;
}

function heldByOther(device: string, status: Extract<DeviceStatus, { reservation: Reservation }>, rules: DeviceRules): Refusal {
  const { holder } = status.reservation;
  const verb = status.state === 'in-use' ? 'in use by' : 'reserved by';
  return refuse(
    'CONFLICT',
    `device '${device}' is ${verb} ${holder} until ${formatUtc(status.end.at)} (${whyThen(status.end, rules)}): ` +
      `others may reserve it from then on, or earlier if ${holder} releases it`,
    { holder, state: status.state, freeAt: status.end.at.toISOString() },
  );
}

/** Why the user holds nothing on a free device, in their terms. */
function notHeld(device: string, status: Extract<DeviceStatus, { state: 'free' }>, user: string, rules: DeviceRules, what: string): Refusal {
  const last = status.last;
  if (last && last.holder === user && status.endedAt) {
    const when = formatUtc(status.endedAt);
    switch (status.how) {
      case 'broken':
        return refuse('CONFLICT', `your reservation of '${device}' was broken by ${last.endedBy ?? 'an operator'} at ${when}: ${last.endNote ?? 'no reason given'}`);
      case 'released':
        return refuse('CONFLICT', `you released '${device}' at ${when}: reserve it again first (keisan reserve ${device})`);
      case 'max-hold':
        return refuse('CONFLICT', `your reservation of '${device}' ended at ${when}, its maximum hold time of ${formatDuration(rules.maxHoldMs ?? 0)}`);
      default:
        return refuse(
          'CONFLICT',
          `your reservation of '${device}' already ended at ${when} (${status.how === 'idle' ? `${formatDuration(rules.idleReleaseMs)} without activity` : 'the time you asked for, without activity since'}): reserve it again first (keisan reserve ${device})`,
        );
    }
  }
  return refuse('CONFLICT', `device '${device}' is not reserved${what}: reserve it first (keisan reserve ${device})`);
}

const isHeld = (status: DeviceStatus): status is Extract<DeviceStatus, { reservation: Reservation }> => status.state !== 'free';

/**
 * Reserve, or renew one's own reservation. `forMs` null means "the idle release time". A renewal
 * keeps the time the use began and never shortens what was asked before.
 */
export function decideReserve(
  device: string,
  current: Reservation | null,
  rules: DeviceRules,
  user: string,
  forMs: number | null,
  now: Date,
): Outcome<{ kind: 'new' | 'renew'; reservation: Reservation }> {
  const status = deviceStatus(current, rules, now);
  if (isHeld(status)) {
    const held = status.reservation;
    if (held.holder !== user) return heldByOther(device, status, rules);
    const latest = status.end.latest;
    const wanted = ms(now) + (forMs ?? rules.idleReleaseMs);
    if (forMs !== null && latest !== null && wanted > ms(latest)) {
      return refuse(
        'CONFLICT',
        `you may hold '${device}' until ${formatUtc(latest)} at the latest (its maximum hold time of ${formatDuration(rules.maxHoldMs ?? 0)}, ` +
          `counted from ${formatUtc(held.reservedAt)}): ask for ${formatDuration(Math.max(0, ms(latest) - ms(now)))} or less`,
        { latestFreeAt: latest.toISOString() },
      );
    }
    const until = Math.max(ms(held.reservedUntil), latest === null ? wanted : Math.min(wanted, ms(latest)));
    return { ok: true, kind: 'renew', reservation: { ...held, reservedUntil: new Date(until) } };
  }

  const limit = rules.maxHoldMs ?? MAX_RESERVE_FOR_MS;
  if (forMs !== null && forMs > limit) {
    return refuse(
      'INVALID_INPUT',
      rules.maxHoldMs !== null
        ? `device '${device}' may be held at most ${formatDuration(limit)} at a time: ask for ${formatDuration(limit)} or less`
        : `a reservation is at most ${formatDuration(limit)}: ask for ${formatDuration(limit)} or less`,
    );
  }
  const last = status.last;
  if (status.how === 'max-hold' && last?.holder === user && status.endedAt && ms(now) < ms(status.endedAt) + rules.idleReleaseMs) {
    const again = new Date(ms(status.endedAt) + rules.idleReleaseMs);
    return refuse(
      'CONFLICT',
      `you held '${device}' for its maximum hold time of ${formatDuration(rules.maxHoldMs ?? 0)} until ${formatUtc(status.endedAt)}; ` +
        `others have the first chance until ${formatUtc(again)}: reserve it again then if it is still free`,
      { freeAt: again.toISOString() },
    );
  }
  const capped = rules.maxHoldMs === null ? Infinity : ms(now) + rules.maxHoldMs;
  const reservation: Reservation = {
    holder: user,
    reservedAt: now,
    reservedUntil: new Date(Math.min(ms(now) + (forMs ?? rules.idleReleaseMs), capped)),
    lastActivityAt: null,
    endedAt: null,
    endReason: null,
    endedBy: null,
    endNote: null,
  };
  return { ok: true, kind: 'new', reservation };
}

/** The holder gives the device back. */
export function decideRelease(device: string, current: Reservation | null, rules: DeviceRules, user: string, now: Date): Outcome<{ reservation: Reservation }> {
  const status = deviceStatus(current, rules, now);
  if (!isHeld(status)) return notHeld(device, status, user, rules, '');
  const held = status.reservation;
  if (held.holder !== user) {
    return refuse(
      'CONFLICT',
      `device '${device}' is reserved by ${held.holder}, not by you: only the holder releases it (operators break reservations: keisan admin device break ${device} --reason …)`,
      { holder: held.holder, freeAt: status.end.at.toISOString() },
    );
  }
  return { ok: true, reservation: { ...held, endedAt: now, endReason: 'released', endedBy: user, endNote: null } };
}

export type ActivityReporter = { kind: 'user'; user: string } | { kind: 'agent'; user: string | null };

/**
 * Activity on a device keeps its reservation alive. The holder's own tools may report it; an
 * agent reports what it sees on its node (with the user when it knows who). Activity does not
 * reserve a free device, and no-one keeps someone else's reservation alive.
 */
export function decideActivity(
  device: string,
  current: Reservation | null,
  rules: DeviceRules,
  reporter: ActivityReporter,
  now: Date,
): Outcome<{ reservation: Reservation | null; changed: boolean }> {
  const status = deviceStatus(current, rules, now);
  if (!isHeld(status)) {
    if (reporter.kind === 'user') return notHeld(device, status, reporter.user, rules, ' by you');
    return { ok: true, reservation: current, changed: false };
  }
  const held = status.reservation;
  if (reporter.user !== null && reporter.user !== held.holder) {
    return reporter.kind === 'user'
      ? heldByOther(device, status, rules)
      : refuse('CONFLICT', `device '${device}' is reserved by ${held.holder}, but activity of ${reporter.user} was reported`, { holder: held.holder });
  }
  return { ok: true, reservation: { ...held, lastActivityAt: now }, changed: true };
}

/** An operator ends someone's reservation; the reason is kept and shown to the holder. */
export function decideBreak(device: string, current: Reservation | null, rules: DeviceRules, by: string, reason: string, now: Date): Outcome<{ reservation: Reservation }> {
  const status = deviceStatus(current, rules, now);
  if (!isHeld(status)) {
    const since = status.endedAt ? ` (free since ${formatUtc(status.endedAt)})` : '';
    return refuse('CONFLICT', `device '${device}' is not reserved${since}: there is nothing to break`);
  }
  return { ok: true, reservation: { ...status.reservation, endedAt: now, endReason: 'broken', endedBy: by, endNote: reason.trim() } };
}

// ---------------------------------------------------------------------------------- who may

export type DeviceAction = 'device.create' | 'device.update' | 'device.delete' | 'device.break';

export type Decision = { allowed: true } | { allowed: false; reason: string };

const VERBS: Record<DeviceAction, string> = {
  'device.create': 'add devices',
  'device.update': 'change devices',
  'device.delete': 'remove devices',
  'device.break': "break someone's reservation",
};

/** Devices are administered by operators; reserving, renewing and releasing is for everyone. */
export function authorizeDevice(actor: Actor, action: DeviceAction): Decision {
  return actor.isOperator ? { allowed: true } : { allowed: false, reason: `only an operator may ${VERBS[action]}` };
}
