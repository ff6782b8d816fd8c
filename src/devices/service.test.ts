import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import { readAudit, type AuditEntry } from '../accounts/audit.ts';
import { SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { ManualClock } from '../lib/clock.ts';
import { KeisanError, type ErrorCode } from '../lib/errors.ts';
import { DevicesService } from './service.ts';
import * as store from './store.ts';

const MIN = 60_000;
const START = '2026-03-02T08:00:00.000Z';
const iso = (offsetMs: number) => new Date(Date.parse(START) + offsetMs).toISOString();

const actor = (name: string, isOperator = false): Actor => ({ ...SYSTEM_ACTOR, kind: 'user', userId: name.length, name, isOperator, address: '192.0.2.7' });
const OLGA = actor('olga', true);
const ALICE = actor('alice');
const BOB = actor('bob');

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<KeisanError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof KeisanError, `expected a KeisanError ${code}, got ${caught === undefined ? 'success' : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

describeEachDatabase('DevicesService', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let clock: ManualClock;
  let devices: DevicesService;
  const audit = (action?: string): Promise<AuditEntry[]> => readAudit(db.kysely, { ...(action ? { action } : {}), limit: 1000 });

  beforeEach(async () => {
    db = await database.open();
    clock = new ManualClock(START);
    devices = new DevicesService(db.kysely, clock);
    await devices.create(OLGA, { name: 'tape0', kind: 'tape-drive', description: 'LTO-9 in rack B4', maxHold: '8h' });
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('an operator adds, lists, changes and removes devices; defaults are 20 minutes idle release and no maximum', async () => {
    const gpu = await devices.create(OLGA, { name: 'gpu-viz' });
    assert.deepEqual(gpu, {
      name: 'gpu-viz',
      kind: 'device',
      description: '',
      idleReleaseSeconds: 1200,
      maxHoldSeconds: null,
      state: 'free',
      holder: null,
      reservedAt: null,
      reservedUntil: null,
      lastActivityAt: null,
      freeAt: null,
      freeAtCause: null,
      latestFreeAt: null,
      createdAt: START,
      updatedAt: START,
    });
    assert.deepEqual((await devices.list(ALICE)).map((d) => [d.name, d.kind, d.idleReleaseSeconds, d.maxHoldSeconds]), [
      ['gpu-viz', 'device', 1200, null],
      ['tape0', 'tape-drive', 1200, 28_800],
    ]);
    clock.advance(MIN);
    const changed = await devices.update(OLGA, 'gpu-viz', { kind: 'gpu', idleRelease: '30m', maxHold: 3600 });
    assert.deepEqual([changed.kind, changed.idleReleaseSeconds, changed.maxHoldSeconds, changed.updatedAt, changed.createdAt], ['gpu', 1800, 3600, iso(MIN), START]);
    assert.equal((await devices.update(OLGA, 'gpu-viz', { maxHold: null })).maxHoldSeconds, null);
    await devices.remove(OLGA, 'gpu-viz');
    await rejectsWith(devices.get(ALICE, 'gpu-viz'), 'NOT_FOUND', /device 'gpu-viz' does not exist/);
    assert.deepEqual((await audit('device.')).map((e) => [e.actor, e.action, e.target, e.outcome]).reverse(), [
      ['olga', 'device.create', 'tape0', 'ok'],
      ['olga', 'device.create', 'gpu-viz', 'ok'],
      ['olga', 'device.update', 'gpu-viz', 'ok'],
      ['olga', 'device.update', 'gpu-viz', 'ok'],
      ['olga', 'device.delete', 'gpu-viz', 'ok'],
    ]);
  });

  it('refuses duplicates, bad durations and unknown devices; users may not administer (and that is audited)', async () => {
    await rejectsWith(devices.create(OLGA, { name: 'tape0' }), 'CONFLICT', /device 'tape0' already exists/);
    await rejectsWith(devices.create(OLGA, { name: 'x1', idleRelease: '30s' }), 'INVALID_INPUT', /^idleRelease must be at least 1m, not 30s$/);
    await rejectsWith(devices.create(OLGA, { name: 'x1', idleRelease: '8d' }), 'INVALID_INPUT', /^idleRelease must be at most 7d, not 8d$/);
    await rejectsWith(devices.create(OLGA, { name: 'x1', maxHold: 'soon' }), 'INVALID_INPUT', /^maxHold: 'soon' is not a duration/);
    await rejectsWith(devices.update(OLGA, 'nope', { kind: 'gpu' }), 'NOT_FOUND', /device 'nope' does not exist/);
    await rejectsWith(devices.create(ALICE, { name: 'mine' }), 'FORBIDDEN', /^only an operator may add devices$/);
    await rejectsWith(devices.update(ALICE, 'tape0', { description: 'mine now' }), 'FORBIDDEN', /only an operator may change devices/);
    await rejectsWith(devices.remove(ALICE, 'tape0'), 'FORBIDDEN', /only an operator may remove devices/);
    assert.equal((await devices.list(ALICE)).length, 1);
    const denied = await readAudit(db.kysely, { outcome: 'denied' });
    assert.deepEqual(denied.map((e) => [e.actor, e.action, e.target, e.address]).reverse(), [
      ['alice', 'device.create', 'mine', '192.0.2.7'],
      ['alice', 'device.update', 'tape0', '192.0.2.7'],
      ['alice', 'device.delete', 'tape0', '192.0.2.7'],
    ]);
  });

  it('alice reserves; bob is refused naming alice and when it frees up; after 20 idle minutes bob gets it', async () => {
    const mine = await devices.reserve(ALICE, 'tape0');
    assert.deepEqual([mine.state, mine.holder, mine.reservedAt, mine.freeAt, mine.freeAtCause, mine.latestFreeAt], ['reserved', 'alice', START, iso(20 * MIN), 'idle', iso(8 * 60 * MIN)]);
    clock.advance(5 * MIN);
    const refusal = await rejectsWith(devices.reserve(BOB, 'tape0', { for: '1h' }), 'CONFLICT', /^device 'tape0' is reserved by alice until 2026-03-02 08:20 UTC \(20m after their last activity; later if they stay active, 2026-03-02 16:00 UTC at the latest\)/);
    assert.deepEqual(refusal.details, { holder: 'alice', state: 'reserved', freeAt: iso(20 * MIN) });
    clock.advance(15 * MIN);
    assert.equal((await devices.get(BOB, 'tape0')).state, 'free');
    const bobs = await devices.reserve(BOB, 'tape0', { for: '1h' });
    assert.deepEqual([bobs.holder, bobs.reservedAt, bobs.freeAt, bobs.freeAtCause], ['bob', iso(20 * MIN), iso(80 * MIN), 'requested']);
    const entries = await audit('device.reserve');
    assert.deepEqual(entries.map((e) => [e.actor, e.detail]).reverse(), [
      ['alice', { until: iso(20 * MIN) }],
      ['bob', { until: iso(80 * MIN), for: '1h' }],
    ]);
  });

  it('activity keeps it; the holder renews within the maximum; the holder releases', async () => {
    await devices.reserve(ALICE, 'tape0', { for: '1h' });
    clock.advance(50 * MIN);
    const active = await devices.reportActivity({ kind: 'user', actor: ALICE }, 'tape0');
    assert.deepEqual([active.state, active.lastActivityAt, active.freeAt, active.freeAtCause], ['in-use', iso(50 * MIN), iso(70 * MIN), 'idle']);
    clock.advance(15 * MIN);
    const byAgent = await devices.reportActivity({ kind: 'agent' }, 'tape0', { user: 'alice' });
    assert.deepEqual([byAgent.lastActivityAt, byAgent.freeAt], [iso(65 * MIN), iso(85 * MIN)]);
    await rejectsWith(devices.reportActivity({ kind: 'agent' }, 'tape0', { user: 'bob' }), 'CONFLICT', /reserved by alice, but activity of bob was reported/);
    await rejectsWith(devices.reportActivity({ kind: 'user', actor: BOB }, 'tape0'), 'CONFLICT', /^device 'tape0' is in use by alice until/);
    await rejectsWith(devices.reportActivity({ kind: 'user', actor: BOB }, 'tape0', { user: 'alice' }), 'FORBIDDEN', /only your own activity/);

    const renewed = await devices.reserve(ALICE, 'tape0', { for: '3h' });
    assert.deepEqual([renewed.reservedAt, renewed.reservedUntil, renewed.freeAt], [START, iso(245 * MIN), iso(245 * MIN)]);
    await rejectsWith(devices.reserve(ALICE, 'tape0', { for: '8h' }), 'CONFLICT', /you may hold 'tape0' until 2026-03-02 16:00 UTC at the latest .*ask for 6h55m or less/);
    await rejectsWith(devices.reserve(ALICE, 'tape0', { for: '10s' }), 'INVALID_INPUT', /^for must be at least 1m, not 10s$/);

    const released = await devices.release(ALICE, 'tape0');
    assert.deepEqual([released.state, released.holder], ['free', null]);
    await rejectsWith(devices.release(ALICE, 'tape0'), 'CONFLICT', /you released 'tape0' at 2026-03-02 09:05 UTC/);
    assert.deepEqual((await audit('device.')).map((e) => e.action).reverse(), ['device.create', 'device.reserve', 'device.renew', 'device.release']);
  });

  it('an operator breaks a reservation with a reason (audited); the holder is told who and why; users may not', async () => {
    await devices.reserve(ALICE, 'tape0', { for: '2h' });
    clock.advance(10 * MIN);
    await rejectsWith(devices.breakReservation(BOB, 'tape0', 'I want it'), 'FORBIDDEN', /only an operator may break someone's reservation/);
    await rejectsWith(devices.remove(OLGA, 'tape0'), 'CONFLICT', /reserved by alice until .*break the reservation first \(keisan admin device break tape0 --reason …\)/);
    const broken = await devices.breakReservation(OLGA, 'tape0', 'drive needed for the restore');
    assert.deepEqual([broken.state, broken.holder], ['free', null]);
    await rejectsWith(devices.release(ALICE, 'tape0'), 'CONFLICT', /^your reservation of 'tape0' was broken by olga at 2026-03-02 08:10 UTC: drive needed for the restore$/);
    await rejectsWith(devices.reportActivity({ kind: 'user', actor: ALICE }, 'tape0'), 'CONFLICT', /was broken by olga/);
    await rejectsWith(devices.breakReservation(OLGA, 'tape0', 'again'), 'CONFLICT', /is not reserved .*nothing to break/);
    const [entry] = await audit('device.break');
    assert.ok(entry);
    assert.deepEqual([entry.actor, entry.target, entry.outcome, entry.detail], ['olga', 'tape0', 'ok', { holder: 'alice', since: START, reason: 'drive needed for the restore' }]);
    const [denied] = await readAudit(db.kysely, { action: 'device.break', outcome: 'denied' });
    assert.deepEqual([denied?.actor, denied?.detail], ['bob', { reason: "only an operator may break someone's reservation" }]);
    assert.equal((await devices.reserve(BOB, 'tape0')).holder, 'bob');
    await devices.breakReservation(OLGA, 'tape0', 'maintenance');
    await devices.remove(OLGA, 'tape0');
  });

  it('users racing for a free device: exactly one wins, the others get a conflict', async () => {
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'].map((name) => actor(name));
    const results = await Promise.allSettled(users.map((u) => devices.reserve(u, 'tape0')));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1, JSON.stringify(results));
    for (const r of results) {
      if (r.status === 'rejected') {
        assert.ok(r.reason instanceof KeisanError && r.reason.code === 'CONFLICT', String(r.reason));
        assert.match(r.reason.message, /is reserved by u\d|changed at the same time by someone else; try again/);
      }
    }
    const holder = (await devices.get(OLGA, 'tape0')).holder;
    assert.equal(won[0]?.status === 'fulfilled' ? won[0].value.holder : undefined, holder);
    assert.equal((await audit('device.reserve')).length, 1);
  });

  it('the store writes a reservation only over the version it read', async () => {
    const row = await store.findDevice(db.kysely, 'tape0');
    assert.ok(row);
    await devices.reserve(ALICE, 'tape0');
    const stale = { holder: 'bob', reservedAt: new Date(START), reservedUntil: new Date(iso(MIN)), lastActivityAt: null, endedAt: null, endReason: null, endedBy: null, endNote: null };
    assert.equal(await store.writeReservation(db.kysely, row, stale), false);
    assert.equal((await devices.get(OLGA, 'tape0')).holder, 'alice');
    const fresh = await store.findDevice(db.kysely, 'tape0');
    assert.ok(fresh);
    assert.equal(fresh.version, row.version + 1);
    assert.deepEqual(store.reservationOf(fresh)?.reservedUntil, new Date(iso(20 * MIN)));
  });
});
