import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { killInput } from './events-testing.ts';
import * as store from './store.ts';

describeEachDatabase('recovery events store', (database) => {
  let db: Db & { dispose(): Promise<void> };
  beforeEach(async () => {
    db = await database.open();
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('keeps every field of an event through a round trip, the job owner winning over what the watchdog said', async () => {
    const received = new Date('2026-11-23T08:00:01.000Z');
    const id = await store.insertEvent(db.kysely, killInput({ user: 'mallory' }), 'alice', received);
    const event = store.toEvent((await store.findEvent(db.kysely, id))!);
    const { user: _said, ...rest } = killInput();
    assert.deepEqual(event, { id, ...rest, slurmJobId: null, user: 'alice', receivedAt: received.toISOString(), ask: null });
    // SLURM's job id rides in the numbers (the service puts it there) and comes back as slurmJobId.
    const slurm = await store.insertEvent(db.kysely, killInput({ jobId: null, metrics: { memBytes: 1, slurmJobId: 4711 } }), null, received);
    assert.equal(store.toEvent((await store.findEvent(db.kysely, slurm))!).slurmJobId, 4711);
    const observed = await store.insertEvent(db.kysely, killInput({ jobId: null, pid: 4242, action: 'none', outcome: 'observed', timings: null, evidencePath: null, metrics: {} }), null, received);
    const plain = store.toEvent((await store.findEvent(db.kysely, observed))!);
    assert.deepEqual([plain.user, plain.timings, plain.evidencePath, plain.metrics, plain.pid], ['alice', null, null, {}, 4242]);
    assert.equal(await store.findEvent(db.kysely, 9999), undefined);
  });

  it('filters by time, host, job and user, newest first, within the limit', async () => {
    const at = (minute: number) => `2026-11-23T08:${String(minute).padStart(2, '0')}:00.000Z`;
    const now = new Date(at(59));
    const a = await store.insertEvent(db.kysely, killInput({ at: at(1), jobId: 1 }), 'alice', now);
    const b = await store.insertEvent(db.kysely, killInput({ at: at(2), jobId: 2, host: 'node2' }), 'bob', now);
    const c = await store.insertEvent(db.kysely, killInput({ at: at(3), jobId: 1 }), 'alice', now);
    const ids = async (filter: Partial<store.EventFilter>) => (await store.listEvents(db.kysely, { limit: 100, ...filter })).map((r) => Number(r.id));
    assert.deepEqual(await ids({}), [c, b, a]);
    assert.deepEqual(await ids({ since: new Date(at(2)) }), [c, b]);
    assert.deepEqual(await ids({ host: 'node2' }), [b]);
    assert.deepEqual(await ids({ jobId: 1 }), [c, a]);
    assert.deepEqual(await ids({ user: 'bob' }), [b]);
    assert.deepEqual(await ids({ limit: 1 }), [c]);
  });

  it("finds a job's owner from the jobs table", async () => {
    assert.equal(await store.jobOwner(db.kysely, 12345), undefined);
  });
});
