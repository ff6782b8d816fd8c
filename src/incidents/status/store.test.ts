import assert from 'node:assert/strict';
import { afterEach, beforeEach, it, mock } from 'node:test';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { ManualClock } from '../../lib/clock.ts';
import { IncidentService } from '../service.ts';
import type { ComponentState, FailureState } from './model.ts';
import { noSignals, StatusService } from './service.ts';
import { statusSettings } from './settings.ts';
import * as store from './store.ts';

/** status_transitions on both engines: the latest row per component, the rows of a window with the one before it, first records, pruning. */
describeEachDatabase('status transitions store', (database) => {
  let db: Db & { dispose(): Promise<void> };
  beforeEach(async () => {
    db = await database.open();
  });
  afterEach(async () => {
    await db.dispose();
  });

  const row = (component: string, at: string, state: ComponentState, checksState: FailureState = 'operational') => ({ component, at: new Date(at), state, checksState, reason: `${component} ${state}` });
  const show = (rows: store.Transition[]) => rows.map((t) => `${t.component} ${t.at.toISOString().slice(0, 16)} ${t.state}/${t.checksState}`);

  it('writes rows and reads them back per component and per window', async () => {
    assert.deepEqual(await store.latestPerComponent(db.kysely), new Map());
    await store.insertTransitions(db.kysely, [row('batch', '2026-09-01T00:00:00Z', 'operational'), row('login', '2026-09-01T00:00:00Z', 'operational')]);
    await store.insertTransitions(db.kysely, [row('batch', '2026-10-01T10:00:00Z', 'major-outage', 'major-outage')]);
    await store.insertTransitions(db.kysely, [row('batch', '2026-11-01T10:00:00Z', 'degraded', 'degraded'), row('login', '2026-11-02T10:00:00Z', 'under-maintenance')]);
    await store.insertTransitions(db.kysely, []);

    const latest = await store.latestPerComponent(db.kysely);
    assert.deepEqual([...latest.values()].map((t) => `${t.component} ${t.state}`).sort(), ['batch degraded', 'login under-maintenance']);
    assert.equal(latest.get('batch')!.reason, 'batch degraded');

    assert.deepEqual(show(await store.transitionsSince(db.kysely, new Date('2026-10-15T00:00:00Z'))), [
      'login 2026-09-01T00:00 operational/operational',
      'batch 2026-10-01T10:00 major-outage/major-outage',
      'batch 2026-11-01T10:00 degraded/degraded',
      'login 2026-11-02T10:00 under-maintenance/operational',
    ]);
    const firsts = await store.firstRecords(db.kysely);
    assert.equal(firsts.get('batch')!.toISOString(), '2026-09-01T00:00:00.000Z');

    // Pruning keeps the last row before the cutoff of each component.
    assert.equal(await store.pruneBefore(db.kysely, new Date('2026-10-15T00:00:00Z')), 1);
    assert.deepEqual(show(await store.transitionsSince(db.kysely, new Date('2020-01-01T00:00:00Z'))), [
      'login 2026-09-01T00:00 operational/operational',
      'batch 2026-10-01T10:00 major-outage/major-outage',
      'batch 2026-11-01T10:00 degraded/degraded',
      'login 2026-11-02T10:00 under-maintenance/operational',
    ]);
    assert.equal((await store.firstRecords(db.kysely)).get('batch')!.toISOString(), '2026-10-01T10:00:00.000Z');
  });

  it('status.incidentSources: incidents of other sources neither show nor drive a state; the newest first (ties: the later id)', async () => {
    const clock = new ManualClock('2026-12-05T08:00:00Z');
    const incidents = new IncidentService({ db: db.kysely, clock, services: [] });
    await incidents.open(SYSTEM_ACTOR, { title: 'Web portal down', severity: 'SEV2', services: [{ service: 'web', impact: 'all-unavailable' }] });
    await incidents.openFromSource({ source: 'power', key: 'power:ups1', title: 'On battery', severity: 'SEV3', services: [{ service: 'batch', impact: 'degraded' }], message: 'ups1 on battery', at: clock.now() });
    const manualOnly = new StatusService({ db: db.kysely, clock, settings: statusSettings.parse({ incidentSources: ['manual'], evaluateEvery: '5s' }), facility: 'Testlab', signals: noSignals });
    const page = (await manualOnly.view()).page;
    assert.deepEqual(page.incidents.current.map((i) => i.title), ['Web portal down']);
    assert.deepEqual(page.components.filter((c) => c.state !== 'operational').map((c) => [c.name, c.state]), [['web', 'major-outage']]);

    const all = new StatusService({ db: db.kysely, clock, settings: statusSettings.parse({}), facility: 'Testlab', signals: noSignals });
    const both = (await all.view()).page;
    assert.deepEqual(both.incidents.current.map((i) => [i.title, i.updates.map((u) => u.text)]), [
      ['On battery', ["Detected automatically by Keisan's UPS monitoring."]],
      ['Web portal down', ['opened: Web portal down']],
    ]);
    assert.equal(both.components.find((c) => c.name === 'batch')!.state, 'degraded');
    await manualOnly.stop();
    await all.stop();
  });

  it('the timer evaluates every status.evaluateEvery without any request, and stops with the server', async () => {
    const clock = new ManualClock('2026-12-05T08:00:00Z');
    let calls = 0;
    const signals = { ...noSignals, firingAlerts: async () => (calls++, []) };
    const status = new StatusService({ db: db.kysely, clock, settings: statusSettings.parse({ evaluateEvery: '30s' }), facility: 'Testlab', signals });
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      status.start();
      mock.timers.tick(29_000);
      assert.equal(calls, 0);
      mock.timers.tick(1_000);
      await status.stop();
      assert.equal(calls, 1, 'one evaluation after 30 s');
      assert.deepEqual([...(await store.latestPerComponent(db.kysely)).keys()].sort(), ['authentication', 'batch', 'login', 'storage-archive', 'storage-home', 'web']);
      mock.timers.tick(60_000);
      assert.equal(calls, 1, 'stopped');
    } finally {
      mock.timers.reset();
    }
  });

  it('a signal source that fails: the page is still built with the last recorded check state standing in, nothing is recorded, operators are told', async () => {
    const clock = new ManualClock('2026-12-05T08:00:00Z');
    let broken = false;
    const signals = {
      ...noSignals,
      inventory: async () => {
        if (broken) throw new Error('inventory table locked');
        return { hosts: [{ name: 'web1', health: { state: 'down' as const, reason: 'agent silent' }, services: ['web'] }], groups: [] };
      },
    };
    const status = new StatusService({ db: db.kysely, clock, settings: statusSettings.parse({}), facility: 'Testlab', signals });
    assert.equal((await status.view()).page.components.find((c) => c.name === 'web')!.state, 'major-outage');
    broken = true;
    clock.advance(60_000);
    const page = (await status.view()).page;
    assert.equal(page.components.find((c) => c.name === 'web')!.state, 'major-outage', 'the last recorded state stands in for the inventory');
    assert.equal(page.components.find((c) => c.name === 'login')!.state, 'operational');
    const why = await status.explain(SYSTEM_ACTOR);
    assert.deepEqual(why.unavailable, ['the inventory']);
    assert.deepEqual(why.components.find((c) => c.name === 'web')!.signals.map((s) => [s.source, s.reason]), [['recorded', 'as last recorded (major-outage): the inventory could not be read']]);
    broken = false;
    clock.advance(60_000);
    await status.view();
    assert.deepEqual((await store.transitionsSince(db.kysely, new Date(0))).filter((t) => t.component === 'web').map((t) => t.state), ['major-outage'], 'nothing recorded meanwhile');
    await status.stop();
  });
});
