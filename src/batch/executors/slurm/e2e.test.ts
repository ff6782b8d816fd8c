import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, runKeisan } from '../../../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../../../server/facility.ts';
import { startServer, type RunningServer } from '../../../server/main.ts';
import { initTestDataDir } from '../../../server/testing.ts';
import type { Job } from '../../store.ts';
import { slurmAccountingSkip, startTestSlurm, type TestSlurm } from './testing.ts';

/**
 * As a centre operator would: `batch.executor: slurm` in keisan.yaml, `keisan server`, accounts
 * made in Keisan, `keisan admin slurm sync --apply`, and a user who submits the same script as
 * before with the CLI; the job runs on the SLURM node, `keisan jobs`, `why` and `usage` work. The
 * cluster has accounting (slurmdbd), so SLURM enforces the associations sync made and sacct gives
 * the CPU time. The user is `nobody` (uid 65534): SLURM knows users by the name of their uid.
 */
const skip = (() => {
  const reason = slurmAccountingSkip();
  if (reason && process.env.KEISAN_REQUIRE_SERVICES === '1') throw new Error(`KEISAN_REQUIRE_SERVICES=1 but the SLURM end-to-end test cannot run: ${reason}`);
  return reason;
})();

describe('keisan on SLURM, end to end through the CLI', { skip: skip ?? false, timeout: 300_000 }, () => {
  let cluster: TestSlurm;
  let server: RunningServer;
  let scratch: string;
  let home: { operator: string; user: string };
  let work: string;

  before(async () => {
    cluster = await startTestSlurm({ accounting: true, cpus: 2 });
    scratch = fs.mkdtempSync(path.join(cluster.work, 'e2e-'));
    fs.chmodSync(scratch, 0o777);
    work = path.join(scratch, 'work');
    fs.mkdirSync(work, { mode: 0o777 });
    fs.chmodSync(work, 0o777);
    home = { operator: path.join(scratch, 'op'), user: path.join(scratch, 'user') };
    const data = path.join(scratch, 'data');
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data, { batch: { executor: 'slurm', slurm: { conf: cluster.conf, pollEvery: '200ms' } } });
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = fs.readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    expectCode(await runKeisan(home.operator, ['login', name, '--password-stdin', '--server', server.url], password), 0);
  });
  after(async () => {
    await server?.close();
    await cluster?.stop();
  });

  const operator = (...args: string[]) => runKeisan(home.operator, args);
  const user = (...args: string[]) => runKeisan(home.user, args);

  it('syncs Keisan\'s accounts into SLURM, runs a user\'s script there, and answers jobs, why and usage', async () => {
    expectCode(await operator('admin', 'workgroup', 'add', 'lab'), 0);
    expectCode(await operator('admin', 'subgroup', 'add', 'lab-ml', '--workgroup', 'lab'), 0);
    expectCode(await runKeisan(home.operator, ['admin', 'user', 'add', 'nobody', '--subgroup', 'lab-ml', '--uid', '65534', '--password-stdin'], 'nobody password'), 0);

    // Before sync SLURM does not know the account: the submission is refused, in words, and nothing is stored.
    const script = path.join(work, 'job.sh');
    fs.writeFileSync(script, `#!/bin/sh\n#SBATCH --job-name=e2e\n#SBATCH --chdir=${work}\n#SBATCH -o e2e-%j.out\n#SBATCH --mem=100M\nhead -c 300000000 /dev/zero | md5sum >/dev/null\necho "ran on $(hostname -s) as $(id -un)"\n`, { mode: 0o644 });
    expectCode(await runKeisan(home.user, ['login', 'nobody', '--password-stdin', '--server', server.url], 'nobody password'), 0);
    const refused = expectCode(await user('submit', script), 2);
    assert.match(refused.stderr, /subgroup lab-ml has no SLURM account for nobody: an operator runs keisan admin slurm sync/);

    const preview = expectCode(await operator('admin', 'slurm', 'sync'), 0).stdout;
    assert.match(preview, /lab-ml/);
    expectCode(await operator('admin', 'slurm', 'sync', '--apply'), 0);
    const again = expectCode(await operator('admin', 'slurm', 'sync', '--json'), 0).stdout;
    assert.deepEqual((JSON.parse(again) as { changes: unknown[] }).changes, [], 'a second sync has nothing to change');

    const submitted = expectCode(await user('submit', '--wait', script), 0);
    const id = Number(/job (\d+)/i.exec(submitted.stdout + submitted.stderr)?.[1]);
    assert.ok(id > 0, submitted.stdout);
    const job = JSON.parse(expectCode(await user('job', String(id), '--json'), 0).stdout) as Job;
    assert.equal(job.state, 'completed');
    assert.equal(job.node, cluster.nodeName);
    assert.match(job.externalId ?? '', /^\d+$/);
    assert.equal(fs.readFileSync(path.join(work, `e2e-${id}.out`), 'utf8').trim(), `ran on ${cluster.nodeName} as nobody`);
    assert.ok((job.cpuSeconds ?? 0) > 0, `sacct's CPU time is recorded (${job.cpuSeconds})`);

    const list = expectCode(await user('jobs', '--state', 'completed'), 0).stdout;
    assert.match(list, /SLURM ID/);
    assert.match(list, new RegExp(`${id}\\s+${job.externalId}`));

    const [heldId] = /\d+/.exec(expectCode(await user('submit', '--hold', script), 0).stdout) ?? [];
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const why = expectCode(await user('why', heldId!), 0).stdout;
    assert.match(why, /waits in SLURM \(its job \d+\): it is held: it will not start until it is released/);
    expectCode(await user('cancel', heldId!), 0);

    const usage = JSON.parse(expectCode(await user('usage', '--json'), 0).stdout) as Array<{ key: string; jobs: number; cpuHours: number }>;
    const mine = usage.find((u) => u.key === 'nobody');
    assert.ok(mine && mine.jobs >= 1 && mine.cpuHours > 0, JSON.stringify(usage));
  });
});
