import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import type { ComponentState, FailureState } from './model.ts';
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
});
