import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SYSTEM_ACTOR } from '../../../accounts/model.ts';
import { openDatabase, type Db } from '../../../db/connection.ts';
import { migrateToLatest } from '../../../db/migrate.ts';
import { parseSettings, type Settings } from '../../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../../server/app.ts';
import { localNode } from '../../node.ts';
import type { Job } from '../../store.ts';
import { LocalExecutor } from '../local/executor.ts';
import { SlurmExecutor } from './executor.ts';
import { parseSqueue, SQUEUE_FORMAT } from './parse.ts';
import { slurmTestSkip, startTestSlurm, type TestSlurm } from './testing.ts';

/**
 * Keisan's batch system on a real SLURM cluster (slurmctld + slurmd of this machine, started by
 * startTestSlurm): users submit through Keisan's API as they would with the local executor, and
 * SLURM runs the jobs. Jobs run as `nobody` (uid 65534), which exists on every Debian machine.
 */
const skip = (() => {
  const reason = slurmTestSkip();
  if (reason && process.env.KEISAN_REQUIRE_SERVICES === '1') throw new Error(`KEISAN_REQUIRE_SERVICES=1 but the SLURM tests cannot run: ${reason}`);
  return reason;
})();

const NOBODY = 65534;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Keisan {
  app: KeisanApp;
  executor: SlurmExecutor | LocalExecutor;
  ticket: string;
  close(): Promise<void>;
}

describe('Keisan on a real SLURM cluster', { skip: skip ?? false, timeout: 300_000 }, () => {
  let cluster: TestSlurm;
  let dataDir: string;
  let db: Db;
  let keisan: Keisan;
  let settings: Settings;

  /** Keisan's server on the test database, with the SLURM executor (the same instance across restarts, as one data directory gives). */
  async function startKeisan(first: boolean): Promise<Keisan> {
    const executor = new SlurmExecutor({ settings: settings.batch.slurm, instance: `test${cluster.firstJobId}`, logger: quietLogger });
    await executor.open();
    const app = await buildApp({ settings, db, nodeSecret: 'secret', jobs: { executor, node: localNode(settings, []) } });
    if (first) {
      const { accounts } = app.keisan;
      await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
      await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
      await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: NOBODY, password: 'alice password' });
    }
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'alice', password: 'alice password' } });
    const ticket = (login.json() as { ticket: string }).ticket;
    return { app, executor, ticket, close: async () => void (await app.close()) };
  }

  before(async () => {
    cluster = await startTestSlurm({ accounting: false, cpus: 4 });
    dataDir = fs.mkdtempSync(path.join(cluster.work, 'keisan-'));
    fs.chmodSync(dataDir, 0o777);
    settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } }, batch: { executor: 'slurm', slurm: { ...cluster.settings, pollEvery: '200ms' } } }, 'test');
    db = openDatabase(`sqlite:${path.join(dataDir, 'keisan.sqlite')}`, { dataDir });
    await migrateToLatest(db);
    keisan = await startKeisan(true);
  });
  after(async () => {
    await keisan?.close();
    await db?.close();
    await cluster?.stop();
  });

  const submit = async (script: string, extra: Record<string, unknown> = {}) => {
    const response = await keisan.app.inject({
      method: 'POST',
      url: '/api/jobs',
      headers: { authorization: `Bearer ${keisan.ticket}` },
      payload: { script, submitDir: dataDir, args: [], environment: { PATH: '/usr/bin:/bin', LAB_VARIABLE: 'from the submitter' }, ...extra },
    });
    return response;
  };
  const submitted = async (script: string, extra: Record<string, unknown> = {}): Promise<number[]> => {
    const response = await submit(script, extra);
    assert.equal(response.statusCode, 201, response.body);
    return (response.json() as { jobs: number[] }).jobs;
  };
  const job = async (id: number): Promise<Job> => (await keisan.app.inject({ method: 'GET', url: `/api/jobs/${id}`, headers: { authorization: `Bearer ${keisan.ticket}` } })).json() as Job;
  const ended = async (ids: number[], ms = 60_000): Promise<Job[]> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const jobs = await Promise.all(ids.map(job));
      if (jobs.every((j) => !['pending', 'running'].includes(j.state))) return jobs;
      if (Date.now() > deadline) throw new Error(`jobs did not end within ${ms} ms: ${jobs.map((j) => `${j.id} ${j.state}`).join(', ')}`);
      await sleep(200);
    }
  };
  const until = async (what: string, check: () => Promise<boolean>, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };
  const inSlurm = async (): Promise<ReturnType<typeof parseSqueue>> => parseSqueue((await cluster.run('squeue', ['-a', '-t', 'all', '--noheader', '-o', SQUEUE_FORMAT])).stdout);

  it('runs a submitted script on the SLURM node as its owner, with its directives, and records how it ended', async () => {
    const [id] = await submitted('#!/bin/sh\n#SBATCH --job-name=hello\n#SBATCH --cpus-per-task=2\n#SBATCH --mem=200M\n#SBATCH -o hello-%j.out\necho "uid=$(id -u) job=$SLURM_JOB_ID keisan=$KEISAN_JOB_ID cpus=$SLURM_CPUS_PER_TASK var=$LAB_VARIABLE"\nexit 3\n');
    const [done] = await ended([id!]);
    assert.equal(done!.state, 'failed');
    assert.equal(done!.exitCode, 3);
    assert.equal(done!.node, cluster.nodeName);
    assert.match(done!.externalId ?? '', /^\d+$/);
    assert.ok(done!.startedAt && done!.endedAt);
    assert.equal(done!.output, path.join(dataDir, `hello-${id}.out`), 'the output path names Keisan\'s job id');
    assert.equal(fs.readFileSync(done!.output, 'utf8').trim(), `uid=${NOBODY} job=${done!.externalId} keisan=${id} cpus=2 var=from the submitter`);
    const row = (await inSlurm()).find((r) => r.id === done!.externalId);
    assert.equal(row?.user, 'nobody', 'SLURM ran it as its owner');
  });

  it('runs an array task by task with at most %N at once, and dependencies through SLURM (afterok met, afterok never met → cancelled)', async () => {
    const tasks = await submitted('#!/bin/sh\n#SBATCH --array=1-4%2\n#SBATCH -o task-%a.out\necho "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT"; sleep 1\n');
    assert.equal(tasks.length, 4);
    // At most two tasks are in SLURM at any time.
    let most = 0;
    const watch = (async () => {
      for (let i = 0; i < 60; i++) {
        const jobs = await Promise.all(tasks.map(job));
        most = Math.max(most, jobs.filter((j) => j.externalId !== null && ['pending', 'running'].includes(j.state)).length);
        if (jobs.every((j) => j.state === 'completed')) return;
        await sleep(100);
      }
    })();
    const [first] = await submitted('#!/bin/sh\nexit 0\n');
    const [afterOk] = await submitted(`#!/bin/sh\n#SBATCH --dependency=afterok:${first}\necho ran after ${first}\n`);
    const [failing] = await submitted('#!/bin/sh\nexit 1\n');
    const [never] = await submitted(`#!/bin/sh\n#SBATCH --dependency=afterok:${failing}\necho must not run\n`);
    const jobs = await ended([...tasks, first!, afterOk!, failing!, never!]);
    await watch;
    assert.deepEqual(jobs.slice(0, 4).map((j) => j.state), ['completed', 'completed', 'completed', 'completed']);
    assert.ok(most <= 2, `at most 2 tasks were handed to SLURM at once (saw ${most})`);
    assert.deepEqual([1, 2, 3, 4].map((t) => fs.readFileSync(path.join(dataDir, `task-${t}.out`), 'utf8').trim()), ['task 1 of 4', 'task 2 of 4', 'task 3 of 4', 'task 4 of 4']);
    const [, , , , , ok, , cancelled] = jobs;
    assert.equal(ok!.state, 'completed');
    assert.ok(Date.parse(ok!.startedAt!) >= Date.parse(jobs[4]!.endedAt!) - 1000, 'the dependent job started after its dependency ended');
    assert.equal(cancelled!.state, 'cancelled');
  });

  it('says why a job waits in plain words, holds and releases it in SLURM, and cancels pending and running jobs', async () => {
    const [blocker] = await submitted('#!/bin/sh\n#SBATCH -n 4\nsleep 30\n');
    await until('the blocker runs', async () => (await job(blocker!)).state === 'running');
    const [waiting] = await submitted('#!/bin/sh\n#SBATCH -n 4\necho later\n');
    await until('SLURM has the waiting job', async () => (await job(waiting!)).externalId !== null);
    await sleep(600);
    const why = (await keisan.app.inject({ method: 'GET', url: `/api/jobs/${waiting}/why`, headers: { authorization: `Bearer ${keisan.ticket}` } })).json() as { text: string };
    assert.match(why.text, /waits in SLURM \(its job \d+\): (it is next in line, waiting for enough CPUs|jobs with a higher priority|SLURM has not looked)/);
    const hold = await keisan.app.inject({ method: 'POST', url: `/api/jobs/${waiting}/hold`, headers: { authorization: `Bearer ${keisan.ticket}` } });
    assert.equal(hold.statusCode, 200, hold.body);
    const externalWaiting = (await job(waiting!)).externalId!;
    await until('SLURM shows the hold', async () => /JobHeld/.test((await inSlurm()).find((r) => r.id === externalWaiting)?.reason ?? ''));
    const held = (await keisan.app.inject({ method: 'GET', url: `/api/jobs/${waiting}/why`, headers: { authorization: `Bearer ${keisan.ticket}` } })).json() as { text: string };
    assert.match(held.text, /it is held: it will not start until it is released \(SLURM reason: JobHeldUser\)/);
    const release = await keisan.app.inject({ method: 'POST', url: `/api/jobs/${waiting}/release`, headers: { authorization: `Bearer ${keisan.ticket}` } });
    assert.equal(release.statusCode, 200, release.body);
    const cancel = await keisan.app.inject({ method: 'POST', url: '/api/jobs/cancel', headers: { authorization: `Bearer ${keisan.ticket}` }, payload: { ids: [blocker, waiting] } });
    assert.equal(cancel.statusCode, 200, cancel.body);
    const [a, b] = await ended([blocker!, waiting!]);
    assert.equal(a!.state, 'cancelled');
    assert.equal(b!.state, 'cancelled');
    await until('SLURM dropped both', async () => {
      const rows = await inSlurm();
      return [a!.externalId, b!.externalId].every((x) => /CANCELLED/.test(rows.find((r) => r.id === x)?.state ?? 'CANCELLED'));
    });
  });

  it('ends a job past its time limit as timeout and one past its memory as out-of-memory', async () => {
    const [slow] = await submitted('#!/bin/sh\n#SBATCH --time=1\nsleep 600\n', {});
    const [hungry] = await submitted('#!/bin/sh\n#SBATCH --mem=64M\n# 400 MiB held by one process, more than the 64 MiB asked for\nexec python3 -c "import time; b = bytearray(400 * 1024 * 1024); time.sleep(60)"\n');
    const [oom] = await ended([hungry!], 90_000);
    assert.ok(['out-of-memory', 'cancelled', 'failed'].includes(oom!.state), `the over-memory job ended (${oom!.state}: ${oom!.reason})`);
    assert.equal(oom!.state, 'out-of-memory', `SLURM's memory enforcement (${cluster.cgroups === 'none' ? 'OverMemoryKill' : 'task/cgroup'}) ends it as out-of-memory: ${oom!.reason}`);
    // SLURM checks time limits every 30 s (and a minute is the least --time): give it two minutes.
    const [timedOut] = await ended([slow!], 150_000);
    assert.equal(timedOut!.state, 'timeout');
    assert.match(timedOut!.reason ?? '', /time limit of 1m/);
  });

  it('refuses at submit, in plain words and storing nothing, what SLURM cannot run: GPUs on a GPU-less node, more memory than its nodes have', async () => {
    const before = (await keisan.app.inject({ method: 'GET', url: '/api/jobs', headers: { authorization: `Bearer ${keisan.ticket}` } })).json() as Job[];
    const gpu = await submit('#!/bin/sh\n#SBATCH --gres=gpu:1\nnvidia-smi\n');
    assert.equal(gpu.statusCode, 400);
    assert.match((gpu.json() as { error: { message: string } }).error.message, /no node of the SLURM cluster in partition short has 1 GPU/);
    // Within what queue short allows (64 GiB), more than the node has.
    const memory = await submit('#!/bin/sh\n#SBATCH --mem=60G\ntrue\n');
    assert.equal(memory.statusCode, 400);
    assert.match((memory.json() as { error: { message: string } }).error.message, /no node of partition short has (1 CPU and )?60 GiB of memory for one job: ask for less/);
    const after = (await keisan.app.inject({ method: 'GET', url: '/api/jobs', headers: { authorization: `Bearer ${keisan.ticket}` } })).json() as Job[];
    assert.equal(after.length, before.length, 'nothing was stored');
  });

  it('loses nothing when Keisan restarts while jobs run, nor when it crashed between handing a job over and storing its SLURM id', async () => {
    const [running] = await submitted('#!/bin/sh\nsleep 4\necho done\n');
    await until('it runs', async () => (await job(running!)).state === 'running');
    const [pending] = await submitted('#!/bin/sh\n#SBATCH --begin=now+3\necho later\n');
    await until('it is handed over', async () => (await job(pending!)).externalId !== null);
    const handedOver = (await job(pending!)).externalId;
    await keisan.close();
    // As if Keisan had crashed right after sbatch answered: SLURM has the job, Keisan no id for it.
    await db.kysely.updateTable('jobs').set({ external_id: null }).where('id', '=', pending!).execute();
    await sleep(1000);
    keisan = await startKeisan(false);
    const [a, b] = await ended([running!, pending!]);
    assert.equal(a!.state, 'completed');
    assert.equal(b!.state, 'completed');
    assert.equal(b!.externalId, handedOver, 'the job SLURM already had was adopted, not handed over again');
    const copies = (await inSlurm()).filter((r) => r.comment?.endsWith(`:${pending}`));
    assert.equal(copies.length, 1, 'SLURM ran it once');
  });

  it('loses nothing when slurmctld stops and starts again while jobs run and wait', async () => {
    const [running] = await submitted('#!/bin/sh\nsleep 6\necho survived\n');
    await until('it runs', async () => (await job(running!)).state === 'running');
    const [waiting] = await submitted('#!/bin/sh\n#SBATCH --begin=now+4\necho later\n');
    await until('it is handed over', async () => (await job(waiting!)).externalId !== null);
    await cluster.restartController('SIGTERM');
    const [a, b] = await ended([running!, waiting!], 90_000);
    assert.equal(a!.state, 'completed', a!.reason ?? '');
    assert.equal(b!.state, 'completed', b!.reason ?? '');
    assert.equal(fs.readFileSync(a!.output, 'utf8').trim(), 'survived');
    assert.equal(a!.transitions.filter((t) => t.state === 'running').length, 1, 'the running job ran once, without a requeue');
  });

  it('hands a job over again when a killed slurmctld comes back from state saved before it had the job', async () => {
    const [settled] = await submitted('#!/bin/sh\nsleep 6\necho settled\n');
    await until('it runs', async () => (await job(settled!)).state === 'running');
    // slurmctld saves its state a moment after a change: wait for a save that has the job running.
    await cluster.stateSaved(Date.parse((await job(settled!)).startedAt!) + 1000);
    const [fresh] = await submitted('#!/bin/sh\n#SBATCH --begin=now+3\necho fresh\n');
    await until('it is handed over', async () => (await job(fresh!)).externalId !== null);
    const first = (await job(fresh!)).externalId;
    await cluster.restartController('SIGKILL');
    const [a, b] = await ended([settled!, fresh!], 90_000);
    assert.equal(a!.state, 'completed', a!.reason ?? '');
    assert.equal(b!.state, 'completed', b!.reason ?? '');
    assert.equal(fs.readFileSync(b!.output, 'utf8').trim(), 'fresh');
    // Whether SLURM kept the fresh job (saved in time) or lost it (Keisan handed it over again), it ran once.
    const copies = (await inSlurm()).filter((r) => r.comment?.endsWith(`:${fresh}`) && r.state === 'COMPLETED');
    assert.equal(copies.length, 1, `one run of job ${fresh} (first SLURM id ${first}, last ${b!.externalId})`);
  });
});

/** The same scripts on Keisan's local executor and on SLURM: what each job saw must agree. */
describe('the same scripts on the local executor and on SLURM', { skip: skip ?? false, timeout: 180_000 }, () => {
  const SEEN = ['SLURM_CPUS_PER_TASK', 'SLURM_NTASKS', 'SLURM_CPUS_ON_NODE', 'SLURM_MEM_PER_NODE', 'SLURM_JOB_NAME', 'SLURM_JOB_PARTITION', 'SLURM_SUBMIT_DIR', 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_COUNT', 'KEISAN_CPUS', 'KEISAN_MEM_BYTES', 'KEISAN_QUEUE', 'LAB_VARIABLE'];
  const report = `echo "uid=$(id -u)"; echo "pwd=$(pwd)"; ${SEEN.map((v) => `echo "${v}=\${${v}:-}"`).join('; ')}`;
  const SCRIPTS: Record<string, string> = {
    slurm: `#!/bin/sh\n#SBATCH --job-name=compat\n#SBATCH --ntasks=2\n#SBATCH --cpus-per-task=1\n#SBATCH --mem=300M\n#SBATCH --time=5\n#SBATCH -o seen-%x.out\n${report}\n`,
    lsf: `#!/bin/sh\n#BSUB -J compat-lsf\n#BSUB -n 1\n#BSUB -M 200MB\n#BSUB -W 0:05\n#BSUB -o seen-%J.lsf.out\n${report}\n`,
    array: `#!/bin/sh\n#SBATCH --array=3-4\n#SBATCH -o seen-array-%a.out\n${report}\n`,
  };
  let cluster: TestSlurm;

  before(async () => {
    cluster = await startTestSlurm({ accounting: false, cpus: 4 });
  });
  after(async () => cluster?.stop());

  async function runAll(kind: 'local' | 'slurm'): Promise<Map<string, Record<string, string>>> {
    const dataDir = fs.mkdtempSync(path.join(cluster.work, `${kind}-`));
    fs.chmodSync(dataDir, 0o777);
    const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } }, batch: { executor: kind, slurm: { ...cluster.settings, pollEvery: '200ms' } } }, 'test');
    const db = openDatabase(`sqlite:${path.join(dataDir, 'keisan.sqlite')}`, { dataDir });
    await migrateToLatest(db);
    const executor =
      kind === 'slurm' ? new SlurmExecutor({ settings: settings.batch.slurm, instance: `compat${cluster.firstJobId}`, logger: quietLogger }) : new LocalExecutor({ stateDir: path.join(dataDir, 'state'), cgroups: false });
    if (executor instanceof SlurmExecutor) await executor.open();
    const node = { ...localNode(settings, []), name: cluster.nodeName, cpus: 4 };
    const app = await buildApp({ settings, db, nodeSecret: 'secret', jobs: { executor, node } });
    try {
      const { accounts } = app.keisan;
      await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
      await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
      await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: NOBODY, password: 'alice password' });
      const ticket = ((await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'alice', password: 'alice password' } })).json() as { ticket: string }).ticket;
      const headers = { authorization: `Bearer ${ticket}` };
      const ids: Array<[string, number]> = [];
      for (const [name, script] of Object.entries(SCRIPTS)) {
        const response = await app.inject({ method: 'POST', url: '/api/jobs', headers, payload: { script, submitDir: dataDir, args: [], environment: { PATH: '/usr/bin:/bin', LAB_VARIABLE: 'kept' } } });
        assert.equal(response.statusCode, 201, `${kind} ${name}: ${response.body}`);
        (response.json() as { jobs: number[] }).jobs.forEach((id, i) => ids.push([`${name}${i ? `#${i}` : ''}`, id]));
      }
      const seen = new Map<string, Record<string, string>>();
      const deadline = Date.now() + 60_000;
      for (const [name, id] of ids) {
        let job: Job;
        for (;;) {
          job = (await app.inject({ method: 'GET', url: `/api/jobs/${id}`, headers })).json() as Job;
          if (!['pending', 'running'].includes(job.state)) break;
          if (Date.now() > deadline) throw new Error(`${kind}: job ${id} (${name}) did not end`);
          await sleep(100);
        }
        assert.equal(job.state, 'completed', `${kind} ${name}: ${job.reason}`);
        const text = fs.readFileSync(job.output, 'utf8');
        const values = Object.fromEntries(text.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
        // Paths differ by data directory only.
        for (const key of Object.keys(values)) values[key] = values[key]!.replace(dataDir, '<submit dir>');
        seen.set(name, values);
      }
      return seen;
    } finally {
      await app.close();
      await db.close();
    }
  }

  it('gives each job the same user, directory, CPUs, memory, names and variables on both', async () => {
    const local = await runAll('local');
    const slurm = await runAll('slurm');
    assert.deepEqual([...slurm.keys()], [...local.keys()]);
    for (const [name, values] of local) {
      assert.deepEqual(slurm.get(name), values, `what job '${name}' saw differs between the local executor and SLURM`);
    }
    assert.equal(local.get('slurm')!.SLURM_CPUS_ON_NODE, '2');
    assert.equal(local.get('slurm')!.SLURM_MEM_PER_NODE, '300');
    assert.equal(local.get('array#1')!.SLURM_ARRAY_TASK_ID, '4');
  });
});

const quietLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
