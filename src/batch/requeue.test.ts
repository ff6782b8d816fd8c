import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, it } from 'node:test';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { parseSettings } from '../lib/config.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { LocalExecutor } from './executors/local/executor.ts';
import type { NodeResources } from './model.ts';
import type { Job } from './store.ts';

/** pauseDispatch / requeue / resumeDispatch (what the power room's shutdown plan uses), with real jobs. */

const NODE: NodeResources = { name: 'node1', cpus: 2, memBytes: 4 * 1024 ** 3, gpus: [], accepting: true };
const NOBODY_UID = 65534;
const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-requeue-test-'));
chmodSync(scratch, 0o777);
after(() => rmSync(scratch, { recursive: true, force: true }));

describeEachDatabase('batch: pausing dispatch and requeueing running jobs', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let executor: LocalExecutor;
  let work: string;
  let ticket: string;

  beforeEach(async () => {
    db = await database.open();
    work = mkdtempSync(path.join(scratch, 'work-'));
    chmodSync(work, 0o777);
    executor = new LocalExecutor({ stateDir: path.join(work, 'state'), cgroups: false });
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: 'secret', jobs: { executor, node: NODE } });
    await app.keisan.accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
    await app.keisan.accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
    await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: NOBODY_UID, password: 'alice password' });
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'alice', password: 'alice password' } });
    ticket = (login.json() as { ticket: string }).ticket;
  });
  afterEach(async () => {
    for (const id of executor.runningJobs()) await executor.kill(id, 'cancelled');
    await app.close();
    await db.dispose();
  });

  const submit = async (script: string) => {
    const response = await app.inject({ method: 'POST', url: '/api/jobs', headers: { authorization: `Bearer ${ticket}` }, payload: { script, args: [], submitDir: work, environment: { PATH: '/usr/bin:/bin' }, options: { queue: 'short' } } });
    assert.equal(response.statusCode, 201, response.body);
    return (response.json() as { jobs: number[] }).jobs[0]!;
  };
  const job = async (id: number) => (await app.inject({ method: 'GET', url: `/api/jobs/${id}`, headers: { authorization: `Bearer ${ticket}` } })).json() as Job;
  async function until(id: number, state: string, ms = 20_000): Promise<Job> {
    const deadline = Date.now() + ms;
    for (;;) {
      const current = await job(id);
      if (current.state === state) return current;
      if (Date.now() > deadline) throw new Error(`job ${id} is ${current.state}, not ${state}, after ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('a requeued job goes back to pending under its id, nothing starts while paused, and it runs again once resumed', async () => {
    const batch = app.keisan.batch;
    // Runs once for 300 s; the second run (after the requeue) finishes at once.
    const script = `#!/bin/sh\n#SBATCH --mem=50M\necho run >> ${work}/runs\n[ "$(wc -l < ${work}/runs)" -ge 2 ] && exit 0\nsleep 300\n`;
    const id = await submit(script);
    await until(id, 'running');
    assert.deepEqual(batch.runningJobs().map((j) => j.id), [id]);

    batch.pauseDispatch('test: power loss');
    assert.equal(batch.dispatchPaused, 'test: power loss');
    assert.equal(await batch.requeue(id, { reason: 'requeued: test' }), 'requeued');
    const pending = await job(id);
    assert.equal(pending.state, 'pending');
    assert.equal(pending.reason, 'requeued: test');
    assert.equal(pending.startedAt, null);
    assert.deepEqual(pending.transitions.map((t) => t.state), ['pending', 'running', 'pending']);
    assert.equal(await batch.requeue(id, { reason: 'again' }), 'not-running');

    const other = await submit('#!/bin/sh\n#SBATCH --mem=50M\ntrue\n');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal((await job(id)).state, 'pending');
    assert.equal((await job(other)).state, 'pending');

    batch.resumeDispatch();
    assert.equal(batch.dispatchPaused, null);
    const completed = await until(id, 'completed');
    assert.deepEqual(completed.transitions.map((t) => t.state), ['pending', 'running', 'pending', 'running', 'completed']);
    assert.equal(readFileSync(path.join(work, 'runs'), 'utf8'), 'run\nrun\n');
    await until(other, 'completed');
  });

  it('with a signal: the job gets it and may end by itself (here exit 0 after its checkpoint) — it is requeued all the same', async () => {
    const batch = app.keisan.batch;
    const id = await submit(`#!/bin/sh\n#SBATCH --mem=50M\ntrap 'echo saved > ${work}/ckpt; exit 0' USR1\ntouch ${work}/trapped\nwhile :; do sleep 0.1; done\n`);
    await until(id, 'running');
    // 'running' comes with the launch; the signal must wait until the script has set its trap.
    const deadline = Date.now() + 20_000;
    while (!existsSync(path.join(work, 'trapped')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(existsSync(path.join(work, 'trapped')), 'the job never set its trap');
    batch.pauseDispatch('test');
    const started = Date.now();
    assert.equal(await batch.requeue(id, { reason: 'checkpointed', signal: 'SIGUSR1', waitMs: 10_000 }), 'requeued');
    assert.ok(Date.now() - started < 5000, 'the job ended by itself, well before waitMs');
    assert.equal(readFileSync(path.join(work, 'ckpt'), 'utf8'), 'saved\n');
    assert.equal((await job(id)).state, 'pending');
  });
});
