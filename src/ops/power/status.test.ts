import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeStatus, parseUpsStatus } from './status.ts';

describe('parseUpsStatus', () => {
  it('reads the flags NUT reports', () => {
    const online = parseUpsStatus('OL CHRG');
    assert.deepEqual(online.flags, ['OL', 'CHRG']);
    assert.equal(online.onLine, true);
    assert.equal(online.onBattery, false);
    assert.equal(online.lowBattery, false);

    const battery = parseUpsStatus('OB DISCHRG');
    assert.equal(battery.onBattery, true);
    assert.equal(battery.onLine, false);
    assert.equal(battery.lowBattery, false);

    const low = parseUpsStatus('OB LB');
    assert.equal(low.onBattery && low.lowBattery, true);

    const forced = parseUpsStatus('FSD OB LB');
    assert.equal(forced.forcedShutdown, true);
    assert.equal(parseUpsStatus('OL RB').replaceBattery, true);
  });

  it('tolerates case, extra spaces and repeats; keeps unknown flags without acting on them', () => {
    const s = parseUpsStatus('  ob   dischrg  OB  ECO ');
    assert.deepEqual(s.flags, ['OB', 'DISCHRG', 'ECO']);
    assert.deepEqual(s.unknown, ['ECO']);
    assert.equal(s.onBattery, true);
    assert.match(describeStatus(s), /on battery, battery discharging, ECO \(unknown flag\)/);
  });

  it('an empty status is neither on line nor on battery', () => {
    const s = parseUpsStatus('');
    assert.deepEqual(s.flags, []);
    assert.equal(s.onLine || s.onBattery, false);
    assert.equal(describeStatus(s), 'no status flags');
  });
});
