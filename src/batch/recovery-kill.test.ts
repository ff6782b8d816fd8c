import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, it } from 'node:test';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { parseSettings } from '../lib/config.ts';
import { killInput } from '../recovery/events-testing.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { LocalExecutor } from './executors/local/executor.ts';
import type { NodeResources } from './model.ts';
import type { Job } from './store.ts';

/**
 * A job the recovery watchdog killed ends as `killed-by-recovery` with the watchdog's reason,
 * whichever arrives first: the watchdog's event or the executor's report of the job's end. Real
 * job processes (the local executor without cgroups); the "watchdog" is a SIGKILL plus its event.
 */
const GIB = 1024 ** 3;
const NODE: NodeResources = { name: 'node1', cpus: 2, memBytes: 4 * GIB, gpus: [], accepting: true };
const NOBODY_UID = 65534;
const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-recovery-kill-'));
chmodSync(scratch, 0o777);
after(() => rmSync(scratch, { recursive: true, force: true }));

describeEachDatabase('a job killed by the recovery watchdog', (database) => {
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
    app = await buildApp({ settings, db, nodeSecret: 'node-secret', jobs: { executor, node: NODE } });
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

  const job = async (id: number): Promise<Job> => (await app.inject({ method: 'GET', url: `/api/jobs/${id}`, headers: { authorization: `Bearer ${ticket}` } })).json() as Job;
  async function until(id: number, states: string[], ms = 20_000): Promise<Job> {
    const deadline = Date.now() + ms;
    for (;;) {
      const current = await job(id);
      if (states.includes(current.state)) return current;
      if (Date.now() > deadline) throw new Error(`job ${id} is ${current.state}, not ${states.join('/')}, after ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  /** A running job that wrote its shell's pid to a file: the watchdog's victim. */
  const runningJob = async (script = 'echo $$ > "$1"; exec sleep 60', seen = ['running']): Promise<{ id: number; pid: number }> => {
    const pidFile = path.join(work, `pid-${Math.random().toString(36).slice(2)}`);
    const submitted = await app.inject({
      method: 'POST',
      url: '/api/jobs',
      headers: { authorization: `Bearer ${ticket}` },
      payload: { script: `#!/bin/sh\n#SBATCH -t 5\n${script}\n`, args: [pidFile], submitDir: work, environment: { PATH: '/usr/bin:/bin' }, options: {} },
    });
    assert.equal(submitted.statusCode, 201, submitted.body);
    const id = (submitted.json() as { jobs: number[] }).jobs[0]!;
    await until(id, seen);
    const deadline = Date.now() + 10_000;
    while (!existsSync(pidFile) || !readFileSync(pidFile, 'utf8').trim()) {
      if (Date.now() > deadline) throw new Error(`job ${id} never wrote its pid`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { id, pid: Number(readFileSync(pidFile, 'utf8').trim()) };
  };
  const report = async (jobId: number) => {
    const response = await app.inject({ method: 'POST', url: '/api/recovery/events', headers: { authorization: 'Node node-secret' }, payload: killInput({ jobId, explanation: `job ${jobId} (alice): memory 0.99 of 1.00 GiB, +180 MiB/s` }) });
    assert.equal(response.statusCode, 200, response.body);
    return (response.json() as { id: number }).id;
  };

  it('the event first, then the end: the job ends as killed-by-recovery with the reason', async () => {
    const { id, pid } = await runningJob();
    const eventId = await report(id);
    assert.equal((await job(id)).state, 'running', 'still running until its end is seen');
    process.kill(pid, 'SIGKILL');
    const ended = await until(id, ['killed-by-recovery', 'failed']);
    assert.equal(ended.state, 'killed-by-recovery');
    assert.match(ended.reason ?? '', new RegExp(`killed by the recovery watchdog on node1 \\(memory-limit\\): job ${id} \\(alice\\): memory 0\\.99 of 1\\.00 GiB.*keisan recovery event ${eventId}`));
    assert.deepEqual(ended.transitions.map((t) => t.state), ['pending', 'running', 'killed-by-recovery']);
  });

  it('the end first, then the event: the stored end is rewritten, its transition too', async () => {
    const { id, pid } = await runningJob();
    process.kill(pid, 'SIGKILL');
    const failed = await until(id, ['failed']);
    assert.match(failed.reason ?? '', /SIGKILL/);
    await report(id);
    const ended = await job(id);
    assert.equal(ended.state, 'killed-by-recovery');
    assert.match(ended.reason ?? '', /killed by the recovery watchdog on node1/);
    assert.deepEqual(ended.transitions.map((t) => t.state), ['pending', 'running', 'killed-by-recovery']);
    const listed = await app.inject({ method: 'GET', url: '/api/jobs?state=killed-by-recovery', headers: { authorization: `Bearer ${ticket}` } });
    assert.equal(listed.statusCode, 200, listed.body);
    assert.deepEqual((listed.json() as Job[]).map((j) => j.id), [id], 'the state is one `keisan jobs --state` filters on');
  });

  it('a job that completed on its own keeps its state whatever a late event says', async () => {
    const { id } = await runningJob('echo $$ > "$1"; exit 0', ['running', 'completed']);
    await until(id, ['completed']);
    await report(id);
    const after = await job(id);
    assert.equal(after.state, 'completed');
    assert.equal(after.reason, 'exit code 0');
  });
});
