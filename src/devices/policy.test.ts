import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import {
  authorizeDevice,
  decideActivity,
  decideBreak,
  decideRelease,
  decideReserve,
  deviceStatus,
  formatUtc,
  holdEnd,
  type DeviceRules,
  type Outcome,
  type Reservation,
} from './policy.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = new Date('2026-03-02T08:00:00.000Z');
const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs);

const IDLE_20M: DeviceRules = { idleReleaseMs: 20 * MIN, maxHoldMs: null };
const MAX_8H: DeviceRules = { idleReleaseMs: 20 * MIN, maxHoldMs: 8 * HOUR };

/** The outcome's value, failing the test with the refusal's message when it was refused. */
function accepted<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) assert.fail(`refused: ${outcome.code} ${outcome.message}`);
  return outcome;
}

function refused<T>(outcome: Outcome<T>, code: 'CONFLICT' | 'INVALID_INPUT' | 'FORBIDDEN'): string {
  if (outcome.ok) assert.fail('expected a refusal');
  assert.equal(outcome.code, code, outcome.message);
  return outcome.message;
}

/** alice reserves tape0 at T0 (optionally for `forMs`), under `rules`. */
function reservedByAlice(rules: DeviceRules, forMs: number | null = null): Reservation {
  return accepted(decideReserve('tape0', null, rules, 'alice', forMs, T0)).reservation;
}

describe('holdEnd and deviceStatus', () => {
  it('a reservation without --for lasts the idle release time: reserved, then free exactly then', () => {
    const r = reservedByAlice(IDLE_20M);
    assert.deepEqual(r, {
      holder: 'alice',
      reservedAt: T0,
      reservedUntil: at(20 * MIN),
      lastActivityAt: null,
      endedAt: null,
      endReason: null,
      endedBy: null,
      endNote: null,
    });
    assert.deepEqual(holdEnd(r, IDLE_20M), { at: at(20 * MIN), cause: 'idle', latest: null });
    assert.equal(deviceStatus(r, IDLE_20M, at(20 * MIN - 1)).state, 'reserved');
    const free = deviceStatus(r, IDLE_20M, at(20 * MIN));
    assert.deepEqual(free, { state: 'free', last: r, endedAt: at(20 * MIN), how: 'idle' });
    assert.deepEqual(deviceStatus(null, IDLE_20M, T0), { state: 'free', last: null, endedAt: null, how: 'never' });
  });

  it('--for 2h holds it 2 hours; activity keeps it 20 minutes past the last report; in use only while activity is recent', () => {
    const r = reservedByAlice(IDLE_20M, 2 * HOUR);
    assert.deepEqual(holdEnd(r, IDLE_20M), { at: at(2 * HOUR), cause: 'requested', latest: null });
    const active = accepted(decideActivity('tape0', r, IDLE_20M, { kind: 'user', user: 'alice' }, at(30 * MIN))).reservation;
    assert.ok(active);
    const early = deviceStatus(active, IDLE_20M, at(40 * MIN));
    assert.equal(early.state, 'in-use');
    // 20 minutes after the last activity it is no longer "in use", but still held for the 2 hours asked.
    assert.equal(deviceStatus(active, IDLE_20M, at(50 * MIN)).state, 'reserved');
    const late = accepted(decideActivity('tape0', active, IDLE_20M, { kind: 'user', user: 'alice' }, at(HOUR + 55 * MIN))).reservation;
    assert.ok(late);
    assert.deepEqual(holdEnd(late, IDLE_20M), { at: at(2 * HOUR + 15 * MIN), cause: 'idle', latest: null });
    assert.equal(deviceStatus(late, IDLE_20M, at(2 * HOUR + 14 * MIN)).state, 'in-use');
    assert.equal(deviceStatus(late, IDLE_20M, at(2 * HOUR + 15 * MIN)).state, 'free');
  });

  it('the maximum hold time ends a reservation whatever the activity', () => {
    let r = reservedByAlice(MAX_8H, 4 * HOUR);
    for (let t = 10 * MIN; t < 8 * HOUR; t += 10 * MIN) {
      r = accepted(decideActivity('tape0', r, MAX_8H, { kind: 'user', user: 'alice' }, at(t))).reservation ?? assert.fail('no reservation');
    }
    assert.deepEqual(holdEnd(r, MAX_8H), { at: at(8 * HOUR), cause: 'max-hold', latest: at(8 * HOUR) });
    assert.equal(deviceStatus(r, MAX_8H, at(8 * HOUR - 1)).state, 'in-use');
    assert.deepEqual(deviceStatus(r, MAX_8H, at(8 * HOUR)), { state: 'free', last: r, endedAt: at(8 * HOUR), how: 'max-hold' });
  });

  it('a released or broken reservation is free at once', () => {
    const r = reservedByAlice(IDLE_20M, 2 * HOUR);
    const released = accepted(decideRelease('tape0', r, IDLE_20M, 'alice', at(5 * MIN))).reservation;
    assert.deepEqual(deviceStatus(released, IDLE_20M, at(5 * MIN)), { state: 'free', last: released, endedAt: at(5 * MIN), how: 'released' });
    const broken = accepted(decideBreak('tape0', r, IDLE_20M, 'olga', '  needed for the restore ', at(6 * MIN))).reservation;
    assert.deepEqual(broken, { ...r, endedAt: at(6 * MIN), endReason: 'broken', endedBy: 'olga', endNote: 'needed for the restore' });
    assert.equal(deviceStatus(broken, IDLE_20M, at(6 * MIN)).state, 'free');
  });
});

describe('decideReserve', () => {
  it('someone else is refused with 409 naming the holder and when it frees up', () => {
    const r = reservedByAlice(IDLE_20M);
    const message = refused(decideReserve('tape0', r, IDLE_20M, 'bob', null, at(5 * MIN)), 'CONFLICT');
    assert.equal(
      message,
      "device 'tape0' is reserved by alice until 2026-03-02 08:20 UTC (20m after their last activity; later if they stay active): " +
        'others may reserve it from then on, or earlier if alice releases it',
    );
    const outcome = decideReserve('tape0', r, IDLE_20M, 'bob', null, at(5 * MIN));
    assert.ok(!outcome.ok);
    assert.deepEqual(outcome.details, { holder: 'alice', state: 'reserved', freeAt: '2026-03-02T08:20:00.000Z' });
  });

  it('the refusal says "in use", the time asked for, and the maximum where they apply', () => {
    const r = reservedByAlice(MAX_8H, 2 * HOUR);
    const active = accepted(decideActivity('tape0', r, MAX_8H, { kind: 'agent', user: null }, at(10 * MIN))).reservation;
    assert.equal(
      refused(decideReserve('tape0', active, MAX_8H, 'bob', null, at(15 * MIN)), 'CONFLICT'),
      "device 'tape0' is in use by alice until 2026-03-02 10:00 UTC (the time they asked for; later if they stay active, 2026-03-02 16:00 UTC at the latest): " +
        'others may reserve it from then on, or earlier if alice releases it',
    );
    const long = reservedByAlice(MAX_8H, 8 * HOUR);
    assert.match(refused(decideReserve('tape0', long, MAX_8H, 'bob', null, at(HOUR)), 'CONFLICT'), /until 2026-03-02 16:00 UTC \(its maximum hold time of 8h\)/);
  });

  it('after the reservation lapses, anyone may reserve it — the old holder too', () => {
    const r = reservedByAlice(IDLE_20M);
    const bob = accepted(decideReserve('tape0', r, IDLE_20M, 'bob', HOUR, at(20 * MIN)));
    assert.equal(bob.kind, 'new');
    assert.deepEqual([bob.reservation.holder, bob.reservation.reservedAt, bob.reservation.reservedUntil], ['bob', at(20 * MIN), at(80 * MIN)]);
    assert.equal(accepted(decideReserve('tape0', r, IDLE_20M, 'alice', null, at(21 * MIN))).kind, 'new');
    const released = accepted(decideRelease('tape0', r, IDLE_20M, 'alice', at(MIN))).reservation;
    assert.equal(accepted(decideReserve('tape0', released, IDLE_20M, 'bob', null, at(MIN))).reservation.holder, 'bob');
  });

  it('the holder renews: the use keeps its start, the time asked for grows and never shrinks', () => {
    const r = reservedByAlice(MAX_8H, 2 * HOUR);
    const longer = accepted(decideReserve('tape0', r, MAX_8H, 'alice', 3 * HOUR, at(HOUR)));
    assert.equal(longer.kind, 'renew');
    assert.deepEqual([longer.reservation.reservedAt, longer.reservation.reservedUntil], [T0, at(4 * HOUR)]);
    const shorter = accepted(decideReserve('tape0', longer.reservation, MAX_8H, 'alice', 30 * MIN, at(2 * HOUR)));
    assert.deepEqual(shorter.reservation.reservedUntil, at(4 * HOUR), 'a shorter renewal does not cut what was asked');
    const plain = accepted(decideReserve('tape0', reservedByAlice(MAX_8H), MAX_8H, 'alice', null, at(15 * MIN)));
    assert.deepEqual(plain.reservation.reservedUntil, at(35 * MIN), 'renewing without --for: another idle release time');
  });

  it('renewing past the maximum is refused with the latest possible time; a plain renewal stops at it', () => {
    const r = reservedByAlice(MAX_8H, 2 * HOUR);
    assert.equal(
      refused(decideReserve('tape0', r, MAX_8H, 'alice', 7 * HOUR + 30 * MIN, at(HOUR)), 'CONFLICT'),
      "you may hold 'tape0' until 2026-03-02 16:00 UTC at the latest (its maximum hold time of 8h, counted from 2026-03-02 08:00 UTC): ask for 7h or less",
    );
    const full = accepted(decideReserve('tape0', r, MAX_8H, 'alice', 7 * HOUR, at(HOUR))).reservation;
    assert.deepEqual(full.reservedUntil, at(8 * HOUR));
    assert.deepEqual(accepted(decideReserve('tape0', full, MAX_8H, 'alice', null, at(7 * HOUR + 50 * MIN))).reservation.reservedUntil, at(8 * HOUR));
  });

  it('asking for more than the maximum (or 30 days without one) is bad input; the default is cut to the maximum', () => {
    assert.equal(refused(decideReserve('tape0', null, MAX_8H, 'alice', 9 * HOUR, T0), 'INVALID_INPUT'), "device 'tape0' may be held at most 8h at a time: ask for 8h or less");
    assert.equal(refused(decideReserve('tape0', null, IDLE_20M, 'alice', 31 * 24 * HOUR, T0), 'INVALID_INPUT'), 'a reservation is at most 30d: ask for 30d or less');
    const tiny: DeviceRules = { idleReleaseMs: 20 * MIN, maxHoldMs: 10 * MIN };
    assert.deepEqual(accepted(decideReserve('tape0', null, tiny, 'alice', null, T0)).reservation.reservedUntil, at(10 * MIN));
  });

  it('after holding it for the maximum, the holder waits one idle release time; others may reserve at once', () => {
    const r = reservedByAlice(MAX_8H, 8 * HOUR);
    assert.equal(
      refused(decideReserve('tape0', r, MAX_8H, 'alice', null, at(8 * HOUR + 5 * MIN)), 'CONFLICT'),
      "you held 'tape0' for its maximum hold time of 8h until 2026-03-02 16:00 UTC; others have the first chance until 2026-03-02 16:20 UTC: reserve it again then if it is still free",
    );
    assert.equal(accepted(decideReserve('tape0', r, MAX_8H, 'bob', null, at(8 * HOUR + 5 * MIN))).reservation.holder, 'bob');
    assert.equal(accepted(decideReserve('tape0', r, MAX_8H, 'alice', null, at(8 * HOUR + 20 * MIN))).kind, 'new');
  });
});

describe('decideRelease', () => {
  it('the holder releases; someone else is told only the holder may, and how operators break it', () => {
    const r = reservedByAlice(IDLE_20M);
    assert.deepEqual(accepted(decideRelease('tape0', r, IDLE_20M, 'alice', at(MIN))).reservation, { ...r, endedAt: at(MIN), endReason: 'released', endedBy: 'alice', endNote: null });
    assert.equal(
      refused(decideRelease('tape0', r, IDLE_20M, 'bob', at(MIN)), 'CONFLICT'),
      "device 'tape0' is reserved by alice, not by you: only the holder releases it (operators break reservations: keisan admin device break tape0 --reason …)",
    );
  });

  it('a device that is free says why, in the former holder\'s terms', () => {
    const r = reservedByAlice(MAX_8H);
    assert.equal(refused(decideRelease('tape0', null, MAX_8H, 'alice', T0), 'CONFLICT'), "device 'tape0' is not reserved: reserve it first (keisan reserve tape0)");
    assert.equal(
      refused(decideRelease('tape0', r, MAX_8H, 'alice', at(HOUR)), 'CONFLICT'),
      "your reservation of 'tape0' already ended at 2026-03-02 08:20 UTC (20m without activity): reserve it again first (keisan reserve tape0)",
    );
    assert.equal(refused(decideRelease('tape0', r, MAX_8H, 'bob', at(HOUR)), 'CONFLICT'), "device 'tape0' is not reserved: reserve it first (keisan reserve tape0)");
    const broken = accepted(decideBreak('tape0', r, MAX_8H, 'olga', 'drive needed for a restore', at(5 * MIN))).reservation;
    assert.equal(refused(decideRelease('tape0', broken, MAX_8H, 'alice', at(6 * MIN)), 'CONFLICT'), "your reservation of 'tape0' was broken by olga at 2026-03-02 08:05 UTC: drive needed for a restore");
    const released = accepted(decideRelease('tape0', r, MAX_8H, 'alice', at(MIN))).reservation;
    assert.equal(refused(decideRelease('tape0', released, MAX_8H, 'alice', at(2 * MIN)), 'CONFLICT'), "you released 'tape0' at 2026-03-02 08:01 UTC: reserve it again first (keisan reserve tape0)");
    const maxed = reservedByAlice(MAX_8H, 8 * HOUR);
    assert.equal(refused(decideRelease('tape0', maxed, MAX_8H, 'alice', at(9 * HOUR)), 'CONFLICT'), "your reservation of 'tape0' ended at 2026-03-02 16:00 UTC, its maximum hold time of 8h");
  });
});

describe('decideActivity', () => {
  it("the holder's and the agent's reports refresh it; nobody keeps someone else's reservation alive", () => {
    const r = reservedByAlice(IDLE_20M);
    const byAgent = accepted(decideActivity('tape0', r, IDLE_20M, { kind: 'agent', user: 'alice' }, at(10 * MIN)));
    assert.equal(byAgent.changed, true);
    assert.deepEqual(byAgent.reservation?.lastActivityAt, at(10 * MIN));
    assert.match(refused(decideActivity('tape0', r, IDLE_20M, { kind: 'user', user: 'bob' }, at(10 * MIN)), 'CONFLICT'), /^device 'tape0' is reserved by alice until 2026-03-02 08:20 UTC/);
    assert.equal(refused(decideActivity('tape0', r, IDLE_20M, { kind: 'agent', user: 'bob' }, at(10 * MIN)), 'CONFLICT'), "device 'tape0' is reserved by alice, but activity of bob was reported");
  });

  it('activity does not reserve a free device: agents are told nothing changed, users to reserve first', () => {
    assert.deepEqual(decideActivity('tape0', null, IDLE_20M, { kind: 'agent', user: 'bob' }, T0), { ok: true, reservation: null, changed: false });
    const lapsed = reservedByAlice(IDLE_20M);
    assert.deepEqual(decideActivity('tape0', lapsed, IDLE_20M, { kind: 'agent', user: null }, at(HOUR)), { ok: true, reservation: lapsed, changed: false });
    assert.equal(refused(decideActivity('tape0', null, IDLE_20M, { kind: 'user', user: 'bob' }, T0), 'CONFLICT'), "device 'tape0' is not reserved by you: reserve it first (keisan reserve tape0)");
    assert.match(refused(decideActivity('tape0', lapsed, IDLE_20M, { kind: 'user', user: 'alice' }, at(HOUR)), 'CONFLICT'), /^your reservation of 'tape0' already ended at 2026-03-02 08:20 UTC/);
  });
});

describe('decideBreak and who may administer devices', () => {
  it('breaking a free device is a conflict that says since when it is free', () => {
    assert.equal(refused(decideBreak('tape0', null, IDLE_20M, 'olga', 'x', T0), 'CONFLICT'), "device 'tape0' is not reserved: there is nothing to break");
    assert.equal(
      refused(decideBreak('tape0', reservedByAlice(IDLE_20M), IDLE_20M, 'olga', 'x', at(HOUR)), 'CONFLICT'),
      "device 'tape0' is not reserved (free since 2026-03-02 08:20 UTC): there is nothing to break",
    );
  });

  it('operators administer and break; everyone else is told only an operator may', () => {
    const user: Actor = { ...SYSTEM_ACTOR, kind: 'user', userId: 7, name: 'alice', isOperator: false, workgroupAdminOf: [1], subgroupAdminOf: [2] };
    const operator: Actor = { ...user, name: 'olga', isOperator: true };
    for (const action of ['device.create', 'device.update', 'device.delete', 'device.break'] as const) {
      assert.deepEqual(authorizeDevice(operator, action), { allowed: true });
      const decision = authorizeDevice(user, action);
      assert.ok(!decision.allowed && /^only an operator may /.test(decision.reason), action);
    }
    assert.deepEqual(authorizeDevice(user, 'device.break'), { allowed: false, reason: "only an operator may break someone's reservation" });
  });

  it('formatUtc shows minutes, and seconds only when there are some', () => {
    assert.equal(formatUtc(T0), '2026-03-02 08:00 UTC');
    assert.equal(formatUtc(at(90_500)), '2026-03-02 08:01:30 UTC');
  });
});
