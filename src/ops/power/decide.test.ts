import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, INITIAL_POWER_STATE, shutdownDueAt, type PowerAction, type PowerState, type Sample } from './decide.ts';
import { parseUpsStatus } from './status.ts';

const GRACE = 180_000;
const T0 = Date.parse('2026-11-23T10:00:00Z');
const ups = (flags: string): Sample => ({ ok: true, status: parseUpsStatus(flags) });
const lost = (error = 'ERR DATA-STALE'): Sample => ({ ok: false, error });

/** Feeds samples at the given offsets (ms after T0); returns every action with its offset, and the last state. */
function run(samples: Array<[number, Sample]>, start: PowerState = INITIAL_POWER_STATE): { actions: Array<PowerAction & { t: number }>; state: PowerState } {
  let state = start;
  const actions: Array<PowerAction & { t: number }> = [];
  for (const [t, sample] of samples) {
    const result = decide(state, sample, T0 + t, { gracePeriodMs: GRACE });
    state = result.state;
    actions.push(...result.actions.map((a) => ({ ...a, t })));
  }
  return { actions, state };
}
const kinds = (actions: Array<{ kind: string; t: number }>) => actions.map((a) => `${a.t / 1000}s ${a.kind}`);

describe('decide', () => {
  it('on line: nothing happens', () => {
    const { actions, state } = run([[0, ups('OL')], [5000, ups('OL CHRG')]]);
    assert.deepEqual(actions, []);
    assert.equal(state.phase, 'online');
  });

  it('on battery past the grace period: power-lost at once, start-shutdown once the grace has passed, and only once', () => {
    const samples: Array<[number, Sample]> = [[0, ups('OL')], [5000, ups('OB DISCHRG')]];
    for (let t = 10_000; t <= 300_000; t += 5000) samples.push([t, ups('OB DISCHRG')]);
    const { actions, state } = run(samples);
    assert.deepEqual(kinds(actions), ['5s power-lost', '185s start-shutdown']);
    const start = actions[1] as Extract<PowerAction, { kind: 'start-shutdown' }>;
    assert.equal(start.reason, 'grace-period');
    assert.equal(start.onBatteryMs, GRACE);
    assert.equal(state.phase, 'shutting-down');
  });

  it('back on line before the grace ends: power-restored with the time on battery, no shutdown', () => {
    const { actions, state } = run([[0, ups('OB')], [60_000, ups('OB')], [90_000, ups('OL CHRG')], [400_000, ups('OL')]]);
    assert.deepEqual(kinds(actions), ['0s power-lost', '90s power-restored']);
    assert.equal((actions[1] as Extract<PowerAction, { kind: 'power-restored' }>).onBatteryMs, 90_000);
    assert.equal(state.phase, 'online');
    assert.equal(state.onBatterySince, null);
  });

  it('low battery starts the shutdown at once, even on the first sample on battery', () => {
    const { actions } = run([[0, ups('OL')], [5000, ups('OB LB')], [10_000, ups('OB LB')]]);
    assert.deepEqual(kinds(actions), ['5s power-lost', '5s start-shutdown']);
    assert.equal((actions[1] as Extract<PowerAction, { kind: 'start-shutdown' }>).reason, 'low-battery');
  });

  it('LB while on battery for a while: at once', () => {
    const { actions } = run([[0, ups('OB')], [30_000, ups('OB DISCHRG LB')]]);
    assert.deepEqual(kinds(actions), ['0s power-lost', '30s start-shutdown']);
  });

  it('FSD starts the shutdown at once, on line or on battery', () => {
    const online = run([[0, ups('OL')], [5000, ups('FSD OL')]]);
    assert.deepEqual(kinds(online.actions), ['5s start-shutdown']);
    assert.equal((online.actions[0] as Extract<PowerAction, { kind: 'start-shutdown' }>).reason, 'forced-shutdown');
    const battery = run([[0, ups('OB')], [5000, ups('FSD OB LB')]]);
    assert.deepEqual(kinds(battery.actions), ['0s power-lost', '5s start-shutdown']);
  });

  it('flapping: each return to line cancels; the grace clock starts again at the next OB', () => {
    const { actions } = run([
      [0, ups('OB')],
      [150_000, ups('OL')],
      [155_000, ups('OB')],
      [300_000, ups('OB')], // 145 s into the second outage: not yet
      [330_000, ups('OL')],
      [335_000, ups('OB')],
      [514_000, ups('OB')], // 179 s
      [515_000, ups('OB')], // 180 s: now
      [520_000, ups('OL')],
      [525_000, ups('OB LB')],
    ]);
    assert.deepEqual(kinds(actions), ['0s power-lost', '150s power-restored', '155s power-lost', '330s power-restored', '335s power-lost', '515s start-shutdown', '520s restored-during-shutdown']);
  });

  it('the UPS unreachable while on line: reported once, no shutdown; reachable again is reported', () => {
    const { actions, state } = run([[0, ups('OL')], [5000, lost()], [10_000, lost('connection refused')], [600_000, lost()], [605_000, ups('OL')]]);
    assert.deepEqual(kinds(actions), ['5s ups-unreachable', '605s ups-reachable']);
    assert.equal(state.phase, 'online');
    assert.equal(state.lastError?.message, 'ERR DATA-STALE');
  });

  it('the UPS unreachable while on battery: the grace clock goes on and the shutdown still starts', () => {
    const { actions } = run([[0, ups('OB')], [60_000, lost()], [120_000, lost()], [180_000, lost()], [240_000, lost()]]);
    assert.deepEqual(kinds(actions), ['0s power-lost', '60s ups-unreachable', '180s start-shutdown']);
  });

  it('shutdownDueAt: on battery since + grace; null on line or once started', () => {
    const onBattery = run([[0, ups('OB')]]).state;
    assert.equal(shutdownDueAt(onBattery, { gracePeriodMs: GRACE }), T0 + GRACE);
    assert.equal(shutdownDueAt(INITIAL_POWER_STATE, { gracePeriodMs: GRACE }), null);
    assert.equal(shutdownDueAt(run([[0, ups('OB LB')]]).state, { gracePeriodMs: GRACE }), null);
  });

  it('is pure: the state passed in is not changed', () => {
    const before = run([[0, ups('OB')]]).state;
    const copy = structuredClone(before);
    decide(before, ups('OL'), T0 + 1000, { gracePeriodMs: GRACE });
    assert.deepEqual(before, copy);
  });
});
