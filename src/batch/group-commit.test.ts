import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, it } from 'node:test';
import { sql } from 'kysely';
import { readAudit } from '../accounts/audit.ts';
import { SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { parseSettings } from '../lib/config.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { LocalExecutor } from './executors/local/executor.ts';
import type { NodeResources } from './model.ts';
import { toJob, type Job } from './store.ts';

/**
 * Group commit and bulk cancel through the API: submissions that arrive together share one
 * transaction and are all acknowledged after it; a failed transaction fails every request in it
 * and stores nothing; arrays are built in memory exactly as they are stored; one request cancels
 * an array or a user's jobs, with one audit entry, and only for those allowed to.
 */
const NODE: NodeResources = { name: 'node1', cpus: 4, memBytes: 8 * 1024 ** 3, gpus: [], accepting: true };
const NOBODY_UID = 65534;
const actor = (name: string, isOperator = false): Actor => ({ ...SYSTEM_ACTOR, kind: 'user', userId: name.length, name, isOperator, address: '192.0.2.7' });

const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-group-commit-test-'));
chmodSync(scratch, 0o777);
after(() => rmSync(scratch, { recursive: true, force: true }));

describeEachDatabase('batch: group commit and bulk cancel', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let tickets: Record<string, string>;
  let work: string;

  beforeEach(async () => {
    db = await database.open();
    work = mkdtempSync(path.join(scratch, 'work-'));
    chmodSync(work, 0o777);
    const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test');
    const executor = new LocalExecutor({ stateDir: path.join(work, 'state'), cgroups: false });
    app = await buildApp({ settings, db, nodeSecret: 'secret', jobs: { executor, node: NODE } });
    const { accounts } = app.keisan;
    await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
    await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
    await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'other' });
    await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'other', name: 'other-x' });
    await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: NOBODY_UID, password: 'alice password' });
    await accounts.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'other-x', password: 'bob password' });
    tickets = {};
    for (const name of ['alice', 'bob']) {
      const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: name, password: `${name} password` } });
      tickets[name] = (login.json() as { ticket: string }).ticket;
    }
  });
  afterEach(async () => {
    await app.close();
    await db.dispose();
  });

  const api = async (method: 'GET' | 'POST', url: string, payload?: unknown, as = 'alice') => {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${tickets[as]}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
    return { status: response.statusCode, body: response.json() as unknown };
  };
  const submit = (options: Record<string, unknown> = {}, as = 'alice', script = '#!/bin/sh\ntrue\n') =>
    api('POST', '/api/jobs', { script, args: [], submitDir: work, environment: { PATH: '/usr/bin:/bin' }, options: { time: '5', ...options } }, as);
  const storedJobs = async () => (await db.kysely.selectFrom('jobs').selectAll().orderBy('id').execute()).map(toJob);

  it('a job whose end is reported before its start is confirmed keeps its start in the record (and in the accounting)', async () => {
    await app.close();
    // The executor tells of the end before start() returns: the end's write is queued before the `running` one.
    class EndsBeforeStartReturns extends LocalExecutor {
      private readonly endedIds = new Set<number>();
      constructor() {
        super({ stateDir: path.join(work, 'state-fast'), cgroups: false });
        this.onEnded((end) => this.endedIds.add(end.jobId));
      }
      override async start(spec: Parameters<LocalExecutor['start']>[0]) {
        const started = await super.start(spec);
        for (let i = 0; i < 1000 && !this.endedIds.has(spec.jobId); i++) await new Promise((resolve) => setTimeout(resolve, 5));
        return started;
      }
    }
    const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test');
    app = await buildApp({ settings, db, nodeSecret: 'secret', jobs: { executor: new EndsBeforeStartReturns(), node: NODE } });
    const id = ((await submit({}, 'alice', '#!/bin/sh\nexit 3\n')).body as { jobs: number[] }).jobs[0]!;
    const deadline = Date.now() + 20_000;
    let job: Job | undefined;
    while ((job = (await storedJobs()).find((j) => j.id === id))!.state !== 'failed') {
      assert.ok(Date.now() < deadline, `the job ends (${job!.state})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(job!.exitCode, 3);
    assert.ok(job!.startedAt !== null && job!.node === NODE.name, 'the start is recorded with the end');
    const usage = (await api('GET', '/api/usage?by=user&from=1h')).body as { key: string; jobs: number }[];
    assert.deepEqual(usage.map((u) => [u.key, u.jobs]), [['alice', 1]]);
  });

  it('stores concurrent submissions with distinct ids and acknowledges every one after its commit', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => submit({ hold: true, name: `c${i}` })));
    assert.deepEqual(answers.map((a) => a.status), Array(40).fill(201));
    const ids = answers.map((a) => (a.body as { jobs: number[] }).jobs[0]!);
    assert.equal(new Set(ids).size, 40, 'distinct ids');
    const stored = await storedJobs();
    assert.deepEqual(stored.map((j) => j.id).sort((a, b) => a - b), [...ids].sort((a, b) => a - b), 'every acknowledged job is stored');
    for (const [i, id] of ids.entries()) assert.equal(stored.find((j) => j.id === id)!.name, `c${i}`, 'each answer names its own job');
  });

  it('fails every submission of a group whose transaction fails, with a clear error, and stores none of them', async () => {
    // A statement that fails inside the grouped transaction (as a full disk or a lost connection would).
    if (db.dialect === 'sqlite') {
      await sql`create trigger boom before insert on jobs when new.name = 'boom' begin select raise(abort, 'disk on fire'); end`.execute(db.kysely);
    } else {
      await sql`create function boom() returns trigger language plpgsql as $$ begin if new.name = 'boom' then raise exception 'disk on fire'; end if; return new; end $$`.execute(db.kysely);
      await sql`create trigger boom before insert on jobs for each row execute function boom()`.execute(db.kysely);
    }
    const answers = await Promise.all([...['a', 'b', 'boom', 'c', 'd'].map((name) => submit({ hold: true, name }))]);
    const failed = answers.filter((a) => a.status !== 201);
    const boom = answers[2]!;
    assert.equal(boom.status, 503);
    assert.match(JSON.stringify(boom.body), /could not store this change.*disk on fire.*Nothing of it was stored: try again/);
    for (const a of failed) assert.equal(a.status, 503);
    if (db.dialect === 'sqlite') {
      // Everything of one tick is one group here: all five fail together.
      assert.equal(failed.length, 5, JSON.stringify(answers));
      assert.match(JSON.stringify(boom.body), /written together with 4 others, all refused/);
    }
    const stored = await storedJobs();
    assert.equal(stored.length, answers.length - failed.length, 'exactly the acknowledged jobs are stored');
    assert.ok(!stored.some((j) => j.name === 'boom'));
    // The service goes on: the next submission is stored.
    assert.equal((await submit({ hold: true, name: 'after' })).status, 201);
  });

  it('builds array tasks in memory exactly as they are stored, and runs them with their index and output names', async () => {
    const held = (await submit({ hold: true, array: '3-9:2%2', name: 'arr' })).body as { jobs: number[]; arrayJobId: number };
    assert.equal(held.jobs.length, 4);
    const listed = ((await api('GET', '/api/jobs?state=pending')).body as Job[]).sort((a, b) => a.id - b.id);
    const stored = (await storedJobs()).filter((j) => held.jobs.includes(j.id));
    assert.deepEqual(listed, stored, 'the in-memory jobs are the stored ones');
    assert.deepEqual(stored.map((j) => [j.arrayJobId, j.arrayTaskId, j.arrayMaxRunning]), [3, 5, 7, 9].map((t) => [held.arrayJobId, t, 2]));

    const script = '#!/bin/sh\necho "$SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT $SLURM_JOB_ID"\n';
    const ran = (await submit({ array: '1-3', output: 'out-%A_%a.txt' }, 'alice', script)).body as { jobs: number[]; arrayJobId: number };
    const deadline = Date.now() + 20_000;
    let jobs: Job[] = [];
    while (Date.now() < deadline) {
      jobs = (await api('GET', '/api/jobs?state=completed,failed')).body as Job[];
      if (ran.jobs.every((id) => jobs.some((j) => j.id === id))) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const [i, id] of ran.jobs.entries()) {
      const job = jobs.find((j) => j.id === id)!;
      assert.equal(job.state, 'completed', JSON.stringify(job));
      assert.equal(job.output, path.join(work, `out-${ran.arrayJobId}_${i + 1}.txt`));
      assert.equal(readFileSync(job.output, 'utf8').trim(), `${ran.arrayJobId} ${i + 1} 3 ${id}`);
    }
  });

  it('cancels a whole array in one request (by arrayId or by its id) with one audit entry', async () => {
    const array = (await submit({ hold: true, array: '1-50' })).body as { jobs: number[]; arrayJobId: number };
    const other = ((await submit({ hold: true })).body as { jobs: number[] }).jobs[0]!;
    const result = await api('POST', '/api/jobs/cancel', { arrayId: array.arrayJobId });
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.deepEqual(result.body, { cancelled: array.jobs, skipped: [] });
    const stored = await storedJobs();
    for (const id of array.jobs) {
      const job = stored.find((j) => j.id === id)!;
      assert.equal(job.state, 'cancelled');
      assert.equal(job.reason, 'cancelled by alice');
      assert.deepEqual(job.transitions.map((t) => t.state), ['pending', 'held', 'cancelled']);
    }
    assert.equal(stored.find((j) => j.id === other)!.state, 'pending', 'other jobs are untouched');
    const audit = await readAudit(db.kysely, { action: 'job.cancel' });
    assert.equal(audit.length, 1, 'one entry for the request');
    assert.equal(audit[0]!.target, `array:${array.arrayJobId}`);
    assert.deepEqual(audit[0]!.detail, { count: 50, ids: `${array.jobs[0]}-${array.jobs.at(-1)}`, pending: 50, running: 0 });

    // Again: nothing left to cancel; the head is reported as already ended.
    const again = await api('POST', '/api/jobs/cancel', { ids: [array.arrayJobId] });
    assert.deepEqual(again.body, { cancelled: [], skipped: [{ id: array.arrayJobId, state: 'cancelled' }] });
    // An array's id in ids names the whole array (as scancel does).
    const second = (await submit({ hold: true, array: '1-5' })).body as { jobs: number[]; arrayJobId: number };
    assert.deepEqual(((await api('POST', '/api/jobs/cancel', { ids: [second.arrayJobId] })).body as { cancelled: number[] }).cancelled, second.jobs);
    assert.equal((await api('POST', '/api/jobs/cancel', { arrayId: other })).status, 400, 'not an array');
    assert.equal((await api('POST', '/api/jobs/cancel', { ids: [999_999] })).status, 404);
    assert.equal((await api('POST', '/api/jobs/cancel', {})).status, 400, 'say what to cancel');
    assert.equal((await api('POST', '/api/jobs/cancel', { ids: [other], user: 'alice' })).status, 400, 'one kind at a time');
  });

  it('adopts at start-up a job that was started but not yet recorded as running (a crash in between): it is never started twice', async () => {
    const ledger = path.join(work, 'ledger');
    writeFileSync(ledger, '');
    chmodSync(ledger, 0o666);
    const script = `#!/bin/sh\necho "$SLURM_JOB_ID" >> ${ledger}\nsleep 30\n`;
    const id = ((await submit({}, 'alice', script)).body as { jobs: number[] }).jobs[0]!;
    const deadline = Date.now() + 20_000;
    while (!readFileSync(ledger, 'utf8').includes(String(id))) {
      assert.ok(Date.now() < deadline, 'the job runs');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // As if the server died between the executor's start and the grouped commit: the row is pending.
    const beforeCrash = Date.now();
    await app.close();
    await db.kysely.updateTable('jobs').set({ state: 'pending', started_at: null, transitions: JSON.stringify([{ state: 'pending', at: new Date().toISOString() }]) }).where('id', '=', id).execute();
    const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test');
    app = await buildApp({ settings, db, nodeSecret: 'secret', jobs: { executor: new LocalExecutor({ stateDir: path.join(work, 'state'), cgroups: false }), node: NODE } });
    const alice = actor('alice');
    const adopted = await app.keisan.batch.getJob(alice, id);
    assert.equal(adopted.state, 'running', 'found running and recorded so');
    assert.ok(adopted.startedAt !== null && Date.parse(adopted.startedAt) <= beforeCrash, 'with its real start time, from the executor');
    assert.equal((await storedJobs()).find((j) => j.id === id)!.state, 'running');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(readFileSync(ledger, 'utf8').trim().split('\n').length, 1, 'not started a second time');
    await app.keisan.batch.cancelMany(alice, { ids: [id] });
    const endDeadline = Date.now() + 20_000;
    while ((await app.keisan.batch.getJob(alice, id)).state !== 'cancelled') {
      assert.ok(Date.now() < endDeadline, 'the adopted job is cancelled');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it("cancels a user's jobs: their own, or anyone's for an operator; never another user's", async () => {
    const mine = await Promise.all([1, 2, 3].map(() => submit({ hold: true })));
    const ids = mine.map((a) => (a.body as { jobs: number[] }).jobs[0]!);
    const running = ((await submit({}, 'alice', '#!/bin/sh\nsleep 30\n')).body as { jobs: number[] }).jobs[0]!;
    const bobs = ((await submit({ hold: true }, 'bob')).body as { jobs: number[] }).jobs[0]!;
    const deadline = Date.now() + 20_000;
    while (((await api('GET', `/api/jobs/${running}`)).body as Job).state !== 'running') {
      assert.ok(Date.now() < deadline, 'the sleeping job starts');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    assert.equal((await api('POST', '/api/jobs/cancel', { user: 'alice' }, 'bob')).status, 403);
    assert.equal((await api('POST', '/api/jobs/cancel', { ids: [bobs, ids[0]!] }, 'bob')).status, 403, 'one foreign job refuses the whole request');
    assert.equal((await storedJobs()).filter((j) => j.state === 'cancelled').length, 0, 'nothing was cancelled');

    const byAlice = await api('POST', '/api/jobs/cancel', { user: 'alice' });
    assert.deepEqual(byAlice.body, { cancelled: [...ids, running].sort((a, b) => a - b), skipped: [] });
    const endDeadline = Date.now() + 20_000;
    while (((await api('GET', `/api/jobs/${running}`)).body as Job).state !== 'cancelled') {
      assert.ok(Date.now() < endDeadline, 'the running job is killed and ends as cancelled');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal((await storedJobs()).find((j) => j.id === bobs)!.state, 'pending', "bob's job is untouched");

    const olga = actor('olga', true);
    assert.deepEqual(await app.keisan.batch.cancelMany(olga, { user: 'bob' }), { cancelled: [bobs], skipped: [] });
    const audit = await readAudit(db.kysely, { action: 'job.cancel' });
    assert.deepEqual(audit.map((a) => [a.actor, a.target, a.detail.count]), [['olga', 'user:bob', undefined], ['alice', 'user:alice', 4]]);
  });
});
