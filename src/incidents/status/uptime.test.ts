import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Impact } from '../model.ts';
import { intersect, periodsFromTransitions, subtract, uptimeOf, type UptimeInputs } from './uptime.ts';

const H = 3_600_000;
const at = (iso: string) => new Date(iso).getTime();
const NOW = new Date('2026-12-05T12:00:00Z');
const incident = (id: number, impact: Impact, start: string, end: string | null, service = 'batch') => ({ id, startedAt: new Date(start), endedAt: end === null ? null : new Date(end), services: [{ service, impact }] });
const run = (over: Partial<UptimeInputs>) => uptimeOf({ services: ['batch'], incidents: [], checkPeriods: [], maintenance: [], dataStart: new Date('2026-11-01T00:00:00Z'), days: 90, now: NOW, ...over });
const day = (u: ReturnType<typeof run>, date: string) => {
  const found = u.daily.find((d) => d.date === date);
  assert.ok(found, date);
  return found;
};

describe('status page: 90-day uptime', () => {
  it('interval helpers: intersection and difference of sorted disjoint intervals', () => {
    assert.deepEqual(intersect([[0, 10], [20, 30]], [[5, 25]]), [[5, 10], [20, 25]]);
    assert.deepEqual(subtract([[0, 10], [20, 30]], [[5, 25]]), [[0, 5], [25, 30]]);
    assert.deepEqual(subtract([[0, 10]], [[0, 10]]), []);
    assert.deepEqual(subtract([[0, 10]], [[2, 3], [5, 6]]), [[0, 2], [3, 5], [6, 10]]);
  });

  it('90 UTC days, oldest first, the last is today so far; days before the first record have no data (not 100 %)', () => {
    const u = run({ dataStart: new Date('2026-12-04T18:00:00Z') });
    assert.equal(u.daily.length, 90);
    assert.equal(u.daily[0]!.date, '2026-09-07');
    assert.equal(u.daily.at(-1)!.date, '2026-12-05');
    assert.equal(day(u, '2026-12-03').state, 'no-data');
    assert.equal(day(u, '2026-12-03').uptime, null);
    assert.equal(day(u, '2026-12-04').observedMs, 6 * H, 'observed from the first record');
    assert.equal(day(u, '2026-12-05').observedMs, 12 * H, 'today up to now');
    assert.equal(u.fraction, 1);
    assert.equal(run({ dataStart: null }).fraction, null, 'no record at all: no data');
    assert.ok(run({ dataStart: null }).daily.every((d) => d.state === 'no-data'));
  });

  it('an outage crossing midnight counts on both days; overlapping incidents count once; degraded does not lower uptime', () => {
    const u = run({
      incidents: [
        incident(1, 'all-unavailable', '2026-11-03T22:00:00Z', '2026-11-04T02:00:00Z'),
        // overlaps the first by an hour
        incident(2, 'partial-outage', '2026-11-04T01:00:00Z', '2026-11-04T03:00:00Z'),
        incident(3, 'degraded', '2026-11-10T09:00:00Z', '2026-11-10T12:00:00Z'),
        incident(4, 'some-jobs-aborted', '2026-11-11T09:00:00Z', '2026-11-11T10:00:00Z'),
        incident(5, 'all-unavailable', '2026-11-12T09:00:00Z', '2026-11-12T10:00:00Z', 'login'),
        incident(6, 'none', '2026-11-13T09:00:00Z', '2026-11-13T10:00:00Z'),
      ],
    });
    const nov3 = day(u, '2026-11-03');
    assert.deepEqual([nov3.state, nov3.majorMs, nov3.downMs, nov3.uptime], ['major-outage', 2 * H, 2 * H, 1 - 2 / 24]);
    const nov4 = day(u, '2026-11-04');
    // major 00:00–02:00, partial 02:00–03:00 (its 01:00–02:00 is inside the major outage)
    assert.deepEqual([nov4.state, nov4.majorMs, nov4.partialMs, nov4.downMs], ['major-outage', 2 * H, 1 * H, 3 * H]);
    assert.equal(nov4.uptime, 1 - 3 / 24);
    const nov10 = day(u, '2026-11-10');
    assert.deepEqual([nov10.state, nov10.degradedMs, nov10.uptime], ['degraded', 3 * H, 1]);
    assert.equal(day(u, '2026-11-11').state, 'degraded', 'some-jobs-aborted is degraded');
    assert.equal(day(u, '2026-11-12').state, 'operational', 'another service');
    assert.equal(day(u, '2026-11-13').state, 'operational', 'impact none');
    assert.equal(u.downMs, 5 * H);
    const observed = 34 * 24 * H + 12 * H; // 2026-11-01 → 2026-12-05 12:00
    assert.equal(u.fraction, 1 - (5 * H) / observed);
  });

  it('an open incident runs to now; a check-driven outage runs to the next record', () => {
    const u = run({
      incidents: [incident(1, 'partial-outage', '2026-12-05T10:00:00Z', null)],
      checkPeriods: periodsFromTransitions(
        [
          { at: new Date('2026-11-20T23:00:00Z'), checksState: 'major-outage' },
          { at: new Date('2026-11-21T01:30:00Z'), checksState: 'degraded' },
          { at: new Date('2026-11-21T02:00:00Z'), checksState: 'operational' },
        ],
        NOW,
      ),
    });
    assert.deepEqual([day(u, '2026-12-05').partialMs, day(u, '2026-12-05').uptime], [2 * H, 1 - 2 / 12]);
    assert.equal(day(u, '2026-11-20').majorMs, 1 * H);
    assert.deepEqual([day(u, '2026-11-21').majorMs, day(u, '2026-11-21').degradedMs], [1.5 * H, 0.5 * H]);
  });

  it('maintenance is left out of uptime and shown apart; a day all in maintenance has no uptime figure', () => {
    const u = run({
      incidents: [incident(1, 'all-unavailable', '2026-11-15T08:00:00Z', '2026-11-15T12:00:00Z')],
      maintenance: [
        [at('2026-11-15T09:00:00Z'), at('2026-11-15T11:00:00Z')],
        [at('2026-11-16T00:00:00Z'), at('2026-11-17T00:00:00Z')],
      ],
    });
    const nov15 = day(u, '2026-11-15');
    assert.deepEqual([nov15.maintenanceMs, nov15.majorMs, nov15.downMs], [2 * H, 2 * H, 2 * H]);
    assert.equal(nov15.uptime, 1 - 2 / 22);
    const nov16 = day(u, '2026-11-16');
    assert.deepEqual([nov16.state, nov16.uptime, nov16.maintenanceMs], ['under-maintenance', null, 24 * H]);
  });
});
