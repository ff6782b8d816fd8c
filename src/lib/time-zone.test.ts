import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalTimeZone, dateIn, formatWallTime, instantOf, zoneOffsetMs } from './time-zone.ts';

describe('time zones', () => {
  it('knows IANA zones and refuses anything else', () => {
    assert.equal(canonicalTimeZone('Asia/Tokyo'), 'Asia/Tokyo');
    assert.equal(canonicalTimeZone('UTC'), 'UTC');
    assert.equal(canonicalTimeZone('asia/tokyo'), 'Asia/Tokyo');
    for (const bad of ['Mars/Olympus', '', 'Asia/Tokyo; rm -rf /', '../../etc/passwd']) assert.equal(canonicalTimeZone(bad), null, bad);
  });

  it('shows an instant on the zone clock, and finds the instant of a wall time', () => {
    const at = new Date('2026-11-03T22:40:00Z');
    assert.equal(formatWallTime(at, 'UTC'), '2026-11-03 22:40');
    assert.equal(formatWallTime(at, 'Asia/Tokyo'), '2026-11-04 07:40');
    assert.equal(dateIn(at.getTime(), 'Asia/Tokyo'), '2026-11-04');
    assert.equal(zoneOffsetMs(at.getTime(), 'Asia/Tokyo'), 9 * 3_600_000);
    assert.equal(instantOf({ year: 2026, month: 11, day: 1, hour: 0, minute: 0 }, 'Asia/Tokyo').toISOString(), '2026-10-31T15:00:00.000Z');
    assert.equal(instantOf({ year: 2026, month: 11, day: 1, hour: 0, minute: 0 }, 'UTC').toISOString(), '2026-11-01T00:00:00.000Z');
  });

  it('handles summer time: a repeated hour is the earlier instant, a skipped one moves forward', () => {
    // Berlin 2026: clocks go back at 03:00 CEST on 25 October (02:30 happens twice), forward at 02:00 CET on 29 March.
    assert.equal(instantOf({ year: 2026, month: 10, day: 25, hour: 2, minute: 30 }, 'Europe/Berlin').toISOString(), '2026-10-25T00:30:00.000Z');
    assert.equal(instantOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Berlin').toISOString(), '2026-03-29T01:30:00.000Z');
    assert.equal(formatWallTime(new Date('2026-03-29T01:30:00Z'), 'Europe/Berlin'), '2026-03-29 03:30');
    assert.equal(instantOf({ year: 2026, month: 11, day: 1, hour: 0, minute: 0 }, 'Europe/Berlin').toISOString(), '2026-10-31T23:00:00.000Z');
  });
});
