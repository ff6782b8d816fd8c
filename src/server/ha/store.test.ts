import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { HaStore } from './store.ts';

describeEachDatabase('ha_servers', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let store: HaStore;
  before(async () => {
    db = await database.open();
    store = new HaStore(db.kysely, db.dialect);
  });
  after(async () => db?.dispose());

  const t0 = new Date('2026-11-23T10:00:00Z');
  const at = (s: number) => new Date(t0.getTime() + s * 1000);

  it('registers standbys, raises the epoch on every takeover, marks the previous active stopped, and audits it', async () => {
    await store.register({ url: 'http://a:8470', host: 'a', pid: 11 }, t0);
    await store.register({ url: 'http://b:8470', host: 'b', pid: 22 }, t0);
    assert.deepEqual((await store.list()).map((s) => [s.url, s.role, s.epoch]), [['http://a:8470', 'standby', 0], ['http://b:8470', 'standby', 0]]);

    assert.deepEqual(await store.takeOver('http://a:8470', at(1)), { epoch: 1, previous: null });
    assert.deepEqual(await store.takeOver('http://b:8470', at(5)), { epoch: 2, previous: 'http://a:8470' });
    const rows = await store.list();
    assert.deepEqual(rows.map((s) => [s.url, s.role, s.epoch, s.activeSince]), [['http://a:8470', 'stopped', 1, null], ['http://b:8470', 'active', 2, at(5).toISOString()]]);

    // The old one comes back: a standby again, its last epoch kept.
    await store.register({ url: 'http://a:8470', host: 'a', pid: 33 }, at(9));
    await store.heartbeat('http://b:8470', at(10));
    const again = await store.list();
    assert.deepEqual(again.map((s) => [s.url, s.role, s.epoch, s.pid]), [['http://a:8470', 'standby', 1, 33], ['http://b:8470', 'active', 2, 22]]);
    assert.equal(again[1]!.heartbeatAt, at(10).toISOString());

    await store.stepDown('http://b:8470', 'stopped');
    assert.equal((await store.list())[1]!.role, 'stopped');

    const audit = await db.kysely.selectFrom('audit_log').select(['action', 'target', 'detail']).where('action', '=', 'ha.takeover').orderBy('id').execute();
    assert.deepEqual(audit.map((a) => [a.target, JSON.parse(a.detail)]), [['http://a:8470', { epoch: 1, previous: null }], ['http://b:8470', { epoch: 2, previous: 'http://a:8470' }]]);
  });
});
