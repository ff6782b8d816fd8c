import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { parseSettings } from '../lib/config.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { LocalExecutor } from './executors/local/executor.ts';
import type { NodeResources } from './model.ts';
import type { SubmissionPreview } from './submission-input.ts';

/** POST /api/jobs/preview: the web UI's "directives as parsed" before a submit; nothing is stored. */

const NODE: NodeResources = { name: 'node1', cpus: 4, memBytes: 8 * 1024 ** 3, gpus: [], accepting: true };

describeEachDatabase('batch: previewing a submission', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let ticket: string;

  beforeEach(async () => {
    db = await database.open();
    const executor = new LocalExecutor({ stateDir: '/nonexistent-keisan-preview-state', cgroups: false });
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: 'secret', jobs: { executor, node: NODE } });
    await app.keisan.accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
    await app.keisan.accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
    await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: 65534, password: 'alice password' });
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'alice', password: 'alice password' } });
    ticket = (login.json() as { ticket: string }).ticket;
  });
  afterEach(async () => {
    await app.close();
    await db.dispose();
  });

  const preview = (script: string, options: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url: '/api/jobs/preview', headers: { authorization: `Bearer ${ticket}` }, payload: { script, submitDir: '/home/alice', options } });

  it('answers the parsed directives and the chosen queue, and stores nothing', async () => {
    const response = await preview('#!/bin/sh\n#SBATCH -J hello\n#SBATCH -n 2\n#SBATCH --mem=100M\n#SBATCH -t 10:00\n#SBATCH --array=1-9:2%2\n#SBATCH -o out-%A_%a.txt\necho hi\n');
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as SubmissionPreview;
    assert.equal(body.name, 'hello');
    assert.equal(body.cpus, 2);
    assert.equal(body.ntasks, 2);
    assert.equal(body.memBytes, 100 * 1024 ** 2);
    assert.equal(body.timeLimitMs, 10 * 60_000);
    assert.equal(body.arrayTasks, 5);
    assert.equal(body.arrayIndices, '1-9:2');
    assert.equal(body.arrayMaxRunning, 2);
    assert.equal(body.output, 'out-%A_%a.txt');
    assert.equal(body.chdir, '/home/alice');
    assert.equal(body.workgroup, 'lab');
    assert.equal(body.subgroup, 'lab-ml');
    assert.ok(body.queue.length > 0);
    assert.deepEqual(body.warnings, []);
    const jobs = await app.inject({ method: 'GET', url: '/api/jobs', headers: { authorization: `Bearer ${ticket}` } });
    assert.deepEqual(jobs.json(), [], 'a preview stores no job');
  });

  it('gives the same 400 a submit would, in plain words, and warns about what it will not do', async () => {
    const tooBig = await preview('#!/bin/sh\n#SBATCH -n 64\ntrue\n');
    assert.equal(tooBig.statusCode, 400);
    assert.match((tooBig.json() as { error: { message: string } }).error.message, /64 CPUs but the largest node has 4/);

    const noQueue = await preview('#!/bin/sh\ntrue\n', { queue: 'nosuch' });
    assert.equal(noQueue.statusCode, 400);
    assert.match((noQueue.json() as { error: { message: string } }).error.message, /there is no queue 'nosuch'/);

    const unknown = await preview('#!/bin/sh\n#SBATCH --frobnicate=3\ntrue\n');
    assert.equal(unknown.statusCode, 400);
    assert.match((unknown.json() as { error: { message: string } }).error.message, /line 2: unknown #SBATCH option --frobnicate/);

    const ignored = await preview('#!/bin/sh\n#SBATCH --mail-type=REQUEUE\ntrue\n');
    assert.equal(ignored.statusCode, 200, ignored.body);
    assert.match((ignored.json() as SubmissionPreview).warnings.join('\n'), /mail type REQUEUE is not sent/);
  });

  it('needs a ticket', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/jobs/preview', payload: { script: 'true', submitDir: '/tmp' } });
    assert.equal(response.statusCode, 401);
  });
});
