import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SlurmCommandError } from './run.ts';
import { slurmAccountingSkip, slurmTestSkip, startTestSlurm, type TestSlurm } from './testing.ts';

/**
 * The private SLURM cluster the SLURM executor's tests run on: real daemons (munged, slurmdbd on
 * MariaDB, slurmctld, slurmd), so these tests check that the cluster behaves as those tests
 * assume. Skipped without SLURM, MariaDB or root; failed instead with KEISAN_REQUIRE_SERVICES=1.
 */
const SKIP = slurmAccountingSkip();
const required = process.env.KEISAN_REQUIRE_SERVICES === '1';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

if (SKIP && required) {
  describe('test SLURM cluster', () => {
    it('has what it needs', () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${SKIP}`);
    });
  });
}

async function sbatch(slurm: TestSlurm, args: string[]): Promise<number> {
  const { stdout } = await slurm.run('sbatch', ['--parsable', `--chdir=${slurm.work}`, '--output=%j.out', ...args]);
  const id = Number(stdout.trim().split(';')[0]);
  assert.ok(Number.isInteger(id) && id >= slurm.firstJobId, `sbatch printed '${stdout.trim()}', not a job id of this cluster`);
  return id;
}

/** The job's State in sacct once it is one of `states` (polled; sacct follows slurmctld by a moment). */
async function sacctState(slurm: TestSlurm, id: number, states: RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const { stdout } = await slurm.run('sacct', ['-n', '-P', '-X', '-j', String(id), '-o', 'State']);
    last = stdout.trim();
    if (states.test(last)) return last;
    if (Date.now() > deadline) throw new Error(`job ${id}: sacct says '${last}' after ${timeoutMs / 1000} s, waited for ${states}`);
    await sleep(250);
  }
}

/** What sacct and the job's output say about it: for assertion messages. */
async function about(slurm: TestSlurm, id: number): Promise<string> {
  const row = await slurm.run('sacct', ['-n', '-P', '-j', String(id), '-o', 'JobID,State,ExitCode,Reason,NodeList']).catch((error: Error) => ({ stdout: error.message }));
  let output = '';
  try {
    output = fs.readFileSync(path.join(slurm.work, `${id}.out`), 'utf8').slice(-500);
  } catch {
    output = '(no output file)';
  }
  return `job ${id} (cgroups: ${slurm.cgroups}): ${row.stdout.trim()} / output: ${output}`;
}

async function squeueState(slurm: TestSlurm, id: number): Promise<string> {
  return (await slurm.run('squeue', ['-h', '-j', String(id), '-o', '%T'])).stdout.trim();
}

describe('test SLURM cluster', { skip: SKIP, timeout: 300_000 }, () => {
  let slurm: TestSlurm;
  before(async () => {
    slurm = await startTestSlurm({ accounting: true });
  });
  after(async () => {
    await slurm?.stop();
  });

  it('is a private cluster with accounting, Keisan\'s queues as partitions, and memory as a consumable resource', async () => {
    assert.equal(slurm.accounting, true);
    assert.ok(fs.readFileSync(slurm.conf, 'utf8').includes(`FirstJobId=${slurm.firstJobId}`));
    const partitions = (await slurm.run('sinfo', ['-h', '-o', '%P %l'])).stdout.trim().split('\n');
    assert.deepEqual(partitions, ['express 10:00', 'short* 1:00:00', 'middle 6:00:00', 'large 1-00:00:00', 'huge 7-00:00:00']);
    const node = (await slurm.run('scontrol', ['show', 'node', slurm.nodeName])).stdout;
    assert.match(node, new RegExp(`CPUTot=${slurm.cpus}\\b`));
    assert.match(node, new RegExp(`RealMemory=${slurm.memMiB}\\b`));
    const config = (await slurm.run('scontrol', ['show', 'config'])).stdout;
    assert.match(config, /SelectTypeParameters\s*=\s*CR_CORE_MEMORY/);
    assert.match(config, /AccountingStorageEnforce\s*=\s*associations,limits,qos/);
    const clusters = (await slurm.run('sacctmgr', ['-n', '-P', 'show', 'cluster', 'format=cluster'])).stdout;
    assert.ok(clusters.split('\n').includes(slurm.clusterName), clusters);
  });

  it('runs a job submitted as root, and sacct sees it complete', async () => {
    const id = await sbatch(slurm, ['--partition=short', '--wrap', 'echo hello from $SLURM_JOB_ID']);
    assert.equal(await sacctState(slurm, id, /^COMPLETED$/), 'COMPLETED');
    assert.equal(fs.readFileSync(path.join(slurm.work, `${id}.out`), 'utf8').trim(), `hello from ${id}`);
    // A job that ends within a second of its start has no Partition in sacct for a few seconds.
    let row: string[] = [];
    const deadline = Date.now() + 30_000;
    while (!row[0] && Date.now() < deadline) {
      if (row.length) await sleep(250);
      row = (await slurm.run('sacct', ['-n', '-P', '-X', '-j', String(id), '-o', 'Partition,ExitCode,Start,End'])).stdout.trim().split('|');
    }
    const [partition, exitCode, start, end] = row;
    assert.equal(partition, 'short');
    assert.equal(exitCode, '0:0');
    assert.ok(Number(end) >= Number(start) && Number(start) > 1e9, `epoch times (SLURM_TIME_FORMAT=%s): ${row.join('|')}`);
  });

  it('enforces --mem: a job that allocates past it ends OUT_OF_MEMORY', async () => {
    // tail keeps the whole (newline-free) input as its last line: ~400 MiB against a 64 MiB limit.
    const id = await sbatch(slurm, ['--mem=64M', '--wrap', 'head -c 400M /dev/zero | tail > /dev/null']);
    const state = await sacctState(slurm, id, /^(OUT_OF_MEMORY|FAILED|CANCELLED.*|COMPLETED)$/);
    assert.equal(state, 'OUT_OF_MEMORY', await about(slurm, id));
  });

  it('refuses --gres=gpu:1 at submission: the node has no GPUs', async () => {
    await assert.rejects(sbatch(slurm, ['--gres=gpu:1', '--wrap', 'true']), (error: unknown) => {
      assert.ok(error instanceof SlurmCommandError);
      assert.match(error.stderr, /Requested node configuration is not available/);
      assert.equal(error.controllerUnreachable, false);
      return true;
    });
  });

  it('keeps a running job through a SIGKILL of slurmctld and its restart', async () => {
    const id = await sbatch(slurm, ['--wrap', 'sleep 6; echo survived']);
    const deadline = Date.now() + 30_000;
    while ((await squeueState(slurm, id)) !== 'RUNNING') {
      assert.ok(Date.now() < deadline, `job ${id} did not start within 30 s`);
      await sleep(100);
    }
    // Its start is in slurmctld's saved state: else SLURM would run it again from the start (see restartController).
    await slurm.stateSaved(Date.now());
    await slurm.restartController('SIGKILL');
    assert.match((await slurm.run('scontrol', ['ping'])).stdout, /is UP/);
    assert.equal(await sacctState(slurm, id, /^(COMPLETED|FAILED|CANCELLED.*|NODE_FAIL|OUT_OF_MEMORY)$/, 90_000), 'COMPLETED');
    assert.equal(fs.readFileSync(path.join(slurm.work, `${id}.out`), 'utf8').trim(), 'survived');
  });

  it('restarts slurmctld on SIGTERM too, keeping its jobs', async () => {
    const id = await sbatch(slurm, ['--hold', '--wrap', 'true']);
    await slurm.restartController();
    assert.equal(await squeueState(slurm, id), 'PENDING');
    await slurm.run('scancel', [String(id)]);
  });

  it('runs beside a second cluster (own job ids, both with cgroups), and stop() removes everything', async () => {
    const other = await startTestSlurm({ accounting: false, cpus: 1, memMiB: 1024, partitions: [{ name: 'debug', default: true }] });
    try {
      assert.notEqual(other.firstJobId, slurm.firstJobId);
      assert.equal(other.cgroups, slurm.cgroups);
      assert.deepEqual((await other.run('sinfo', ['-h', '-o', '%P'])).stdout.trim().split('\n'), ['debug*']);
      const [a, b] = await Promise.all([
        sbatch(slurm, ['--mem=64M', '--wrap', 'head -c 400M /dev/zero | tail > /dev/null']),
        sbatch(other, ['--mem=64M', '--wrap', 'head -c 400M /dev/zero | tail > /dev/null']),
      ]);
      const [c, d] = await Promise.all([sbatch(slurm, ['--wrap', 'sleep 1']), sbatch(other, ['--wrap', 'sleep 1'])]);
      assert.equal(await sacctState(slurm, a, /^(OUT_OF_MEMORY|FAILED|COMPLETED)$/), 'OUT_OF_MEMORY', await about(slurm, a));
      assert.equal(await sacctState(slurm, c, /^(COMPLETED|FAILED)$/), 'COMPLETED', await about(slurm, c));
      // No accounting on the other one: scontrol tells how its jobs ended (MinJobAge=300 keeps them).
      for (const [id, want] of [[b, 'OUT_OF_MEMORY'], [d, 'COMPLETED']] as const) {
        const deadline = Date.now() + 60_000;
        let state = '';
        while (!/^(OUT_OF_MEMORY|COMPLETED|FAILED)$/.test(state)) {
          assert.ok(Date.now() < deadline, `job ${id} on the second cluster: ${state}`);
          await sleep(250);
          state = /JobState=(\S+)/.exec((await other.run('scontrol', ['show', 'job', String(id)])).stdout)?.[1] ?? '';
        }
        assert.equal(state, want);
      }
      const sleeper = await sbatch(other, ['--wrap', 'sleep 300']);
      while ((await squeueState(other, sleeper)) !== 'RUNNING') await sleep(100);
    } finally {
      await other.stop();
      await other.stop();
    }
    assert.equal(fs.existsSync(other.dir), false);
    const leftovers = fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(other.conf) || fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(other.dir);
        } catch {
          return false;
        }
      });
    assert.deepEqual(leftovers, [], 'no process of the stopped cluster is left');
    // The first cluster is untouched.
    assert.equal(await sacctState(slurm, await sbatch(slurm, ['--wrap', 'true']), /^(COMPLETED|FAILED)$/), 'COMPLETED');
  });
});

describe('test SLURM cluster without cgroups', { skip: slurmTestSkip(), timeout: 120_000 }, () => {
  it('uses proctrack/linuxproc, where OverMemoryKill kills a job that stays past --mem (measured: FAILED, signal 9)', async () => {
    const slurm = await startTestSlurm({ accounting: false, cgroups: false, partitions: [{ name: 'debug', default: true }] });
    try {
      assert.equal(slurm.cgroups, 'none');
      assert.match(fs.readFileSync(slurm.conf, 'utf8'), /^ProctrackType=proctrack\/linuxproc$/m);
      // jobacct_gather/linux reads the job's RSS once a second: the job must hold the memory that long.
      const id = await sbatch(slurm, ['--mem=64M', '--wrap', 'python3 -c "import time; a = bytearray(400 * 1024 * 1024); time.sleep(5)"']);
      const deadline = Date.now() + 60_000;
      let job = '';
      while (!/JobState=(COMPLETED|FAILED|CANCELLED|OUT_OF_MEMORY)/.test(job)) {
        assert.ok(Date.now() < deadline, job);
        await sleep(250);
        job = (await slurm.run('scontrol', ['show', 'job', String(id)])).stdout;
      }
      assert.match(job, /JobState=FAILED/);
      assert.match(job, /ExitCode=0:9/);
      assert.match(fs.readFileSync(path.join(slurm.work, `${id}.out`), 'utf8'), /exceeded memory limit/);
    } finally {
      await slurm.stop();
    }
  });
});
