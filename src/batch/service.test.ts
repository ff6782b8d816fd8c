import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
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

/**
 * The batch system end to end through the API: real job processes (the local executor without
 * cgroups — the executor's own tests cover cgroups), a node with two GPUs as the scheduler sees
 * them, SLURM and LSF scripts, arrays, dependencies, holds, GPU sharing, impossible requests.
 */
const GIB = 1024 ** 3;
const NODE: NodeResources = {
  name: 'node1',
  cpus: 4,
  memBytes: 8 * GIB,
  gpus: [
    { index: 0, uuid: 'GPU-a', type: 'h200', memBytes: 140 * GIB },
    { index: 1, uuid: 'GPU-b', type: 'h200', memBytes: 140 * GIB },
  ],
  accepting: true,
};
// Jobs run as a real system user: `nobody` exists everywhere.
const NOBODY_UID = 65534;

const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-batch-test-'));
chmodSync(scratch, 0o777);
after(() => rmSync(scratch, { recursive: true, force: true }));

describeEachDatabase('batch through the API', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let ticket: string;
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
    await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: NOBODY_UID, password: 'alice password' });
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'alice', password: 'alice password' } });
    ticket = (login.json() as { ticket: string }).ticket;
  });
  afterEach(async () => {
    await app.close();
    await db.dispose();
  });

  const api = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${ticket}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
    return { status: response.statusCode, body: response.json() as unknown };
  };
  const submit = (script: string, options: Record<string, unknown> = {}, args: string[] = []) =>
    api('POST', '/api/jobs', { script, args, submitDir: work, environment: { PATH: '/usr/bin:/bin', FROM_SUBMITTER: 'yes' }, options });
  const job = async (id: number) => (await api('GET', `/api/jobs/${id}`)).body as Job;
  async function until(id: number, states: string[], ms = 20_000): Promise<Job> {
    const deadline = Date.now() + ms;
    for (;;) {
      const current = await job(id);
      if (states.includes(current.state)) return current;
      if (Date.now() > deadline) throw new Error(`job ${id} is ${current.state}, not ${states.join('/')}, after ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const output = async (id: number) => ((await api('GET', `/api/jobs/${id}/output`)).body as { text: string }).text;

  it('runs a SLURM script with its directives, environment and output file', async () => {
    const script = [
      '#!/bin/sh',
      '#SBATCH --job-name=hello',
      '#SBATCH --cpus-per-task=2',
      '#SBATCH --mem=200M',
      '#SBATCH -t 5',
      '#SBATCH --output=hello-%j.out',
      'echo "id=$SLURM_JOB_ID name=$SLURM_JOB_NAME cpus=$SLURM_CPUS_PER_TASK lsb=$LSB_JOBID gpus=[$CUDA_VISIBLE_DEVICES] from=$FROM_SUBMITTER args=$*"',
      'id -u',
    ].join('\n');
    const submitted = await submit(script, {}, ['one', 'two']);
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const { jobs, queue } = submitted.body as { jobs: number[]; queue: string };
    assert.equal(queue, 'express', 'a 5-minute job goes to the smallest queue that fits');
    const done = await until(jobs[0]!, ['completed', 'failed']);
    assert.equal(done.state, 'completed', done.reason ?? '');
    assert.equal(done.exitCode, 0);
    assert.equal(done.output, path.join(work, `hello-${jobs[0]}.out`));
    assert.deepEqual(done.transitions.map((t) => t.state), ['pending', 'running', 'completed']);
    const text = await output(jobs[0]!);
    assert.match(text, new RegExp(`id=${jobs[0]} name=hello cpus=2 lsb=${jobs[0]} gpus=\\[\\] from=yes args=one two`));
    assert.match(text, new RegExp(`^${NOBODY_UID}$`, 'm'), 'the job runs as its owner');
  });

  it('runs an LSF array script: one job per task, each with its index', async () => {
    const script = ['#!/bin/sh', '#BSUB -J "sim[1-3]"', '#BSUB -n 1', '#BSUB -W 0:05', '#BSUB -o sim-%J_%I.out', 'echo "task $LSB_JOBINDEX of $SLURM_ARRAY_JOB_ID"'].join('\n');
    const submitted = await submit(script);
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const { jobs, arrayJobId } = submitted.body as { jobs: number[]; arrayJobId: number };
    assert.equal(jobs.length, 3);
    assert.equal(arrayJobId, jobs[0]);
    for (const [i, id] of jobs.entries()) {
      const done = await until(id, ['completed', 'failed']);
      assert.equal(done.state, 'completed', done.reason ?? '');
      assert.equal(done.arrayTaskId, i + 1);
      assert.equal(done.output, path.join(work, `sim-${arrayJobId}_${i + 1}.out`));
      assert.equal((await output(id)).trim(), `task ${i + 1} of ${arrayJobId}`);
    }
  });

  it('gives each of two GPUs to one job; a third waits, and why says so', async () => {
    const script = '#!/bin/sh\n#SBATCH --gres=gpu:1\n#SBATCH -t 5\necho "gpu=$CUDA_VISIBLE_DEVICES"\nsleep 1.5\n';
    const ids: number[] = [];
    // In 'short': express would stop the third at its 2-jobs-per-user limit before the GPUs do.
    for (let i = 0; i < 3; i++) ids.push(((await submit(script, { queue: 'short' })).body as { jobs: number[] }).jobs[0]!);
    const first = await until(ids[0]!, ['running']);
    const second = await until(ids[1]!, ['running']);
    assert.notDeepEqual(first.gpuIndices, second.gpuIndices);
    assert.equal((await job(ids[2]!)).state, 'pending');
    const why = (await api('GET', `/api/jobs/${ids[2]}/why`)).body as { text: string };
    assert.match(why.text, /GPU/i);
    const ended = await Promise.all(ids.map((id) => until(id, ['completed', 'failed'])));
    assert.ok(ended.every((j) => j.state === 'completed'));
    const seen = await Promise.all(ids.map(async (id) => (await output(id)).trim()));
    for (const [i, line] of seen.entries()) assert.equal(line, `gpu=${ended[i]!.gpuIndices.join(',')}`);
  });

  it('refuses impossible requests at submit, with the reason', async () => {
    const gpus = await submit('#!/bin/sh\ntrue\n', { gpus: '3' });
    assert.equal(gpus.status, 400);
    assert.match(JSON.stringify(gpus.body), /3 GPUs.*has 2 GPUs/);
    const memory = await submit('#!/bin/sh\n#SBATCH --mem=1T\ntrue\n');
    assert.equal(memory.status, 400);
    const broken = await submit('#!/bin/sh\n#SBATCH --nodes=4\ntrue\n');
    assert.equal(broken.status, 400);
    assert.match(JSON.stringify(broken.body), /line 2/);
    const queue = await submit('#!/bin/sh\ntrue\n', { queue: 'nope' });
    assert.equal(queue.status, 400);
    assert.match(JSON.stringify(queue.body), /no queue 'nope'/);
    assert.equal(((await api('GET', '/api/jobs')).body as Job[]).length, 0, 'nothing was stored');
  });

  it('honours dependencies and holds; cancels', async () => {
    const a = ((await submit('#!/bin/sh\nsleep 0.5\nexit 3\n', { time: '5' })).body as { jobs: number[] }).jobs[0]!;
    const b = ((await submit('#!/bin/sh\necho b\n', { time: '5', after: [`${a}:ok`] })).body as { jobs: number[] }).jobs[0]!;
    const c = ((await submit('#!/bin/sh\necho c\n', { time: '5', after: [`${a}:notok`], hold: true })).body as { jobs: number[] }).jobs[0]!;
    assert.equal((await until(a, ['failed'])).exitCode, 3);
    const cancelledB = await until(b, ['cancelled']);
    assert.match(cancelledB.reason ?? '', /never/);
    assert.equal((await job(c)).state, 'pending');
    assert.equal((await api('POST', `/api/jobs/${c}/release`)).status, 200);
    assert.equal((await until(c, ['completed'])).state, 'completed');
    const long = ((await submit('#!/bin/sh\nsleep 30\n', { time: '5' })).body as { jobs: number[] }).jobs[0]!;
    await until(long, ['running']);
    assert.equal((await api('POST', `/api/jobs/${long}/cancel`)).status, 200);
    assert.equal((await until(long, ['cancelled'])).state, 'cancelled');
  });

  it('accounts ended jobs per user, subgroup and workgroup', async () => {
    const ok = ((await submit('#!/bin/sh\nsleep 0.3\n', { time: '5', cpus: '2' })).body as { jobs: number[] }).jobs[0]!;
    const bad = ((await submit('#!/bin/sh\nexit 1\n', { time: '5' })).body as { jobs: number[] }).jobs[0]!;
    await until(ok, ['completed']);
    await until(bad, ['failed']);
    for (const by of ['user', 'subgroup', 'workgroup'] as const) {
      const rows = (await api('GET', `/api/usage?by=${by}&from=1h`)).body as { key: string; jobs: number; failed: number; coreHours: number; wallHours: number }[];
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.equal(rows[0]!.key, { user: 'alice', subgroup: 'lab-ml', workgroup: 'lab' }[by]);
      assert.equal(rows[0]!.jobs, 2);
      assert.equal(rows[0]!.failed, 1);
      assert.ok(rows[0]!.coreHours >= (2 * 0.3) / 3600, 'two cores for at least 0.3 s');
      assert.ok(rows[0]!.coreHours > rows[0]!.wallHours);
    }
    const empty = (await api('GET', '/api/usage?from=2000-01-01T00:00:00Z&to=2000-02-01T00:00:00Z')).body as unknown[];
    assert.deepEqual(empty, []);
    assert.equal((await api('GET', '/api/usage?from=1h&to=2h')).status, 400, 'from after to');
  });

  it('stops a job at its time limit and tells its owner', async () => {
    const id = ((await submit('#!/bin/sh\n#SBATCH --time=0:02\nsleep 30\n')).body as { jobs: number[] }).jobs[0]!;
    const done = await until(id, ['timeout', 'completed', 'failed'], 30_000);
    assert.equal(done.state, 'timeout');
    const notes = (await api('GET', '/api/notifications')).body as { title: string }[];
    assert.ok(notes.some((n) => n.title.includes(`Job ${id}`) && /time limit/.test(n.title)), JSON.stringify(notes));
  });
});
