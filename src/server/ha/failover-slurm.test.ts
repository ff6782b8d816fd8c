import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { ApiClient } from '../../cli/client.ts';
import { expectCode, runKeisan } from '../../cli/testing.ts';
import { slurmTestSkip, startTestSlurm, type TestSlurm } from '../../batch/executors/slurm/testing.ts';
import { createHaLab, killHard, sleep, spawnServer, stopProcess, type HaLab } from './testing.ts';

const adminUrl = process.env.KEISAN_TEST_POSTGRES_URL;
const skip = (() => {
  const reason = slurmTestSkip() ?? (adminUrl ? undefined : 'PostgreSQL not available: set KEISAN_TEST_POSTGRES_URL or install PostgreSQL (npm run deps)');
  if (reason && process.env.KEISAN_REQUIRE_SERVICES === '1') throw new Error(`KEISAN_REQUIRE_SERVICES=1 but the HA test on SLURM cannot run: ${reason}`);
  return reason;
})();

interface Job {
  id: number;
  state: string;
  exitCode: number | null;
  externalId: string | null;
}

/** SLURM knows users by the name of their uid: the jobs' owner is `nobody`. */
const NOBODY = 65534;

/**
 * HA with `batch.executor: slurm`: the jobs Keisan handed to SLURM before the active server was
 * killed are followed by the one that takes over (by their stored SLURM ids, or by their comment
 * when the kill came between sbatch and storing the id): each ends with its real state, none is
 * handed over twice.
 */
describe('HA on SLURM: kill -9 the active server while SLURM runs the jobs', { skip: skip ?? false, timeout: 240_000 }, () => {
  let cluster: TestSlurm | undefined;
  let lab: HaLab | undefined;
  const children: ChildProcess[] = [];
  after(async () => {
    await Promise.all(children.map((c) => stopProcess(c)));
    await lab?.dispose();
    if (lab) rmSync(lab.dir, { recursive: true, force: true });
    await cluster?.stop();
  });

  it('the new active server follows the jobs in SLURM; each runs once and ends completed', async () => {
    cluster = await startTestSlurm({ accounting: false, cpus: 2 });
    lab = await createHaLab(adminUrl!, { batch: { executor: 'slurm', slurm: { conf: cluster.conf, pollEvery: '200ms' } }, storage: { disk: { fsync: false } } });
    const data = path.join(lab.dir, 'data');
    const [urlA, urlB] = lab.servers;
    const a = spawnServer(data, lab.ports[0]);
    children.push(a.child);
    await a.waitFor('keisan server listening', 60_000);
    const b = spawnServer(data, lab.ports[1]);
    children.push(b.child);
    await b.waitFor('keisan server standing by', 60_000);

    const [operator = '', password = ''] = readFileSync(path.join(data, 'operator-password'), 'utf8').split('\n');
    const home = path.join(lab.dir, 'cli-home');
    expectCode(await runKeisan(home, ['login', operator, '--password-stdin', '--server', `${urlA},${urlB}`], password), 0);
    expectCode(await runKeisan(home, ['admin', 'user', 'add', 'nobody', '--subgroup', 'staff', '--uid', String(NOBODY), '--password-stdin'], 'nobody password'), 0);
    const { ticket } = await new ApiClient(urlA, undefined, [urlA, urlB]).request<{ ticket: string }>('POST', '/api/auth/login', { user: 'nobody', password: 'nobody password' });
    const client = new ApiClient(urlA, ticket, [urlA, urlB]);

    const work = path.join(lab.dir, 'work');
    mkdirSync(path.join(work, 'runs'), { recursive: true });
    chmodSync(work, 0o777);
    chmodSync(path.join(work, 'runs'), 0o777);
    const submit = async (i: number) =>
      (await client.request<{ jobs: number[] }>('POST', '/api/jobs', { script: `#!/bin/sh\necho "$SLURM_JOB_ID" >> ${work}/runs/job${i}\nsleep 5\n`, submitDir: work, environment: { PATH: '/usr/bin:/bin' }, options: { cpus: 1, mem: '64M', time: '10m', name: `ha${i}` } })).jobs[0]!;
    // Three jobs on two CPUs: two run in SLURM, one waits there.
    const ids = [await submit(0), await submit(1), await submit(2)];
    const mine = async () => (await client.request<Job[]>('GET', '/api/jobs')).filter((j) => ids.includes(j.id));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const jobs = await mine();
      if (jobs.filter((j) => j.state === 'running').length >= 2 && jobs.every((j) => j.externalId)) break;
      assert.ok(Date.now() < deadline, `the jobs did not reach SLURM: ${JSON.stringify(jobs)}\n${a.output().slice(-3000)}`);
      await sleep(200);
    }
    // A fourth, submitted just before the kill: it may be in SLURM or not yet when A dies.
    ids.push(await submit(3));

    const killedAt = Date.now();
    await killHard(a.child);
    await client.request('GET', '/api/auth/whoami');
    const failoverMs = Date.now() - killedAt;
    console.log(`# failover on SLURM: ${failoverMs} ms`);
    assert.equal(client.answeredBy, urlB);
    assert.ok(failoverMs <= 5_000, `failover took ${failoverMs} ms`);

    const endDeadline = Date.now() + 90_000;
    let jobs = await mine();
    while (jobs.length < ids.length || jobs.some((j) => j.state === 'pending' || j.state === 'running')) {
      assert.ok(Date.now() < endDeadline, `the jobs did not end: ${JSON.stringify(jobs)}\n${b.output().slice(-3000)}`);
      await sleep(300);
      jobs = await mine();
    }
    assert.deepEqual(jobs.map((j) => [j.id, j.state, j.exitCode]).sort(), ids.map((id) => [id, 'completed', 0]).sort(), b.output().slice(-3000));
    assert.equal(new Set(jobs.map((j) => j.externalId)).size, ids.length, 'every job has its own SLURM id');
    const runs = readdirSync(path.join(work, 'runs')).sort();
    assert.deepEqual(runs, ['job0', 'job1', 'job2', 'job3']);
    for (const [i, file] of runs.entries()) {
      const lines = readFileSync(path.join(work, 'runs', file), 'utf8').trim().split('\n');
      assert.deepEqual(lines, [jobs.find((j) => j.id === ids[i])!.externalId], `job ${ids[i]} ran ${lines.length} times in SLURM`);
    }
  });
});
