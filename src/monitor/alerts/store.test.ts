import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import type { Alert } from './state.ts';
import * as store from './store.ts';

describeEachDatabase('alerts store', (database) => {
  let db: Db & { dispose(): Promise<void> };
  beforeEach(async () => {
    db = await database.open();
  });
  afterEach(async () => {
    await db.dispose();
  });

  const alert = (fingerprint: string, over: Partial<Alert> = {}): Alert => ({
    id: null,
    fingerprint,
    source: 'rule',
    rule: 'CheckCritical',
    labels: { alertname: 'CheckCritical', host: 'node1', check: fingerprint, severity: 'critical' },
    severity: 'critical',
    state: 'firing',
    value: 2,
    summary: `${fingerprint} on node1`,
    description: 'd',
    startedAt: Date.parse('2026-11-23T08:00:00Z'),
    firedAt: Date.parse('2026-11-23T08:00:00Z'),
    resolvedAt: null,
    lastEvalAt: Date.parse('2026-11-23T08:00:05Z'),
    notified: null,
    notifiedAt: null,
    ...over,
  });

  it('stores alerts and gives back the ones to restore: active, and resolved ones whose resolution was not told', async () => {
    const firing = alert('a', { value: 1.5e300 });
    firing.id = await store.saveAlert(db.kysely, firing);
    assert.deepEqual((await store.activeAlerts(db.kysely))[0], firing, 'a round trip keeps every field');
    await store.saveAlert(db.kysely, alert('b', { state: 'pending', firedAt: null, value: Infinity }));
    await store.saveAlert(db.kysely, alert('c', { state: 'resolved', resolvedAt: Date.parse('2026-11-23T08:01:00Z'), notified: 'firing', notifiedAt: Date.parse('2026-11-23T08:00:10Z') }));
    await store.saveAlert(db.kysely, alert('d', { state: 'resolved', resolvedAt: Date.parse('2026-11-23T08:02:00Z'), notified: 'resolved' }));
    await store.saveAlert(db.kysely, alert('e', { state: 'resolved', resolvedAt: Date.parse('2026-11-23T08:03:00Z') }));
    const restored = await store.activeAlerts(db.kysely);
    assert.deepEqual(restored.map((a) => [a.fingerprint, a.state, a.value]), [['a', 'firing', 1.5e300], ['b', 'pending', null], ['c', 'resolved', 2]]);
    assert.deepEqual((await store.resolvedAlerts(db.kysely, 2)).map((a) => a.fingerprint), ['e', 'd'], 'newest first, limited');

    await store.saveAlert(db.kysely, { ...firing, state: 'resolved', resolvedAt: Date.parse('2026-11-23T08:04:00Z') });
    assert.deepEqual((await store.activeAlerts(db.kysely)).map((a) => a.fingerprint), ['b', 'c']);
    await store.deleteAlert(db.kysely, restored[1]!.id!);
    assert.deepEqual((await store.activeAlerts(db.kysely)).map((a) => a.fingerprint), ['c']);
  });

  it('keeps silences with their author, expires them, and logs notifications', async () => {
    const now = new Date('2026-11-23T08:00:00Z');
    const id = await store.insertSilence(db.kysely, { matchers: [{ name: 'host', op: '=', value: 'node1' }], startsAt: now, endsAt: new Date('2026-11-23T10:00:00Z'), createdBy: 'olga', comment: 'disk swap' }, now);
    const listed = await store.listSilences(db.kysely, now, false);
    assert.deepEqual(listed.map((row) => store.toSilence(row, now.getTime())), [
      { id, matchers: [{ name: 'host', op: '=', value: 'node1' }], startsAt: '2026-11-23T08:00:00.000Z', endsAt: '2026-11-23T10:00:00.000Z', createdBy: 'olga', comment: 'disk swap', createdAt: '2026-11-23T08:00:00.000Z', removedBy: null, state: 'active' },
    ]);
    assert.deepEqual(await store.listSilences(db.kysely, new Date('2026-11-23T10:00:00Z'), false), [], 'over at its end');
    await store.expireSilence(db.kysely, id, 'piet', new Date('2026-11-23T09:00:00Z'));
    const all = (await store.listSilences(db.kysely, new Date('2026-11-23T09:00:00Z'), true)).map((row) => store.toSilence(row, Date.parse('2026-11-23T09:00:00Z')));
    assert.deepEqual(all.map((s) => [s.state, s.endsAt, s.removedBy]), [['expired', '2026-11-23T09:00:00.000Z', 'piet']]);

    const entry = await store.logNotification(db.kysely, { channel: 'webhook', target: 'http://x/hook', status: 'queued', attempts: 0, error: null, groupKey: 'alertname="X"', subject: 's', firing: 2, resolved: 0, fingerprints: ['a', 'b'], deliveredAt: null }, now);
    await store.updateNotification(db.kysely, entry, { status: 'sent', attempts: 2, error: null, deliveredAt: new Date('2026-11-23T08:00:02Z') });
    assert.deepEqual(await store.listNotifications(db.kysely, 10), [
      { id: entry, at: '2026-11-23T08:00:00.000Z', channel: 'webhook', target: 'http://x/hook', status: 'sent', attempts: 2, error: null, groupKey: 'alertname="X"', subject: 's', firing: 2, resolved: 0, deliveredAt: '2026-11-23T08:00:02.000Z' },
    ]);
  });
});
