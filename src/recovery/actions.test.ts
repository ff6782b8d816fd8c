/**
 * The recovery actions on REAL cgroups of this machine, under a private test parent
 * (keisan-test-<pid>, capped at 1 GiB and 2 048 pids) that is removed afterwards. Fences
 * (notes/recovery.md §11): every job has a memory limit and a pids.max; sleepers sleep at most
 * 60 s; spinners count to a bound under a 0.3-CPU quota; the fork bomb forks only sleepers inside
 * pids.max 128; `after` kills and removes every test cgroup.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, it } from 'node:test';
import { CgroupTree, type JobCgroup } from '../batch/executors/local/cgroups.ts';
import {
  JobHandleBook,
  continueProcess,
  freezeJob,
  jobFrozen,
  jobPopulated,
  killJob,
  openJobHandles,
  closeJobHandles,
  processState,
  reniceProcess,
  stopProcess,
  thawJob,
  throttleJob,
  type KillPath,
} from './actions.ts';
import { alive, cpuTicks, describeOnRealCgroups, killQuietly, median, startInJob, startStray, testParent, waitUntil } from './testing.ts';

const MiB = 1024 ** 2;
const SLEEPERS = Number(process.env.KEISAN_RECOVERY_TEST_SLEEPERS ?? 200);
const TRIALS = Number(process.env.KEISAN_RECOVERY_TEST_TRIALS ?? 5);
const BOMB_PIDS_MAX = Number(process.env.KEISAN_RECOVERY_TEST_BOMB_PIDS_MAX ?? 128);

describeOnRealCgroups('recovery actions on real cgroups', () => {
  let tree: CgroupTree;
  let book: JobHandleBook;
  let sibling: JobCgroup;
  let siblingPids: number[] = [];
  const strays: number[] = [];
  let nextJob = 100;

  function pidsCurrent(job: JobCgroup): number {
    const dir = tree.layout.v1.pids ? path.join(tree.layout.v1.pids, tree.root, `job-${job.jobId}`) : tree.layout.unified ? path.join(tree.layout.unified, tree.root, `job-${job.jobId}`) : null;
    if (!dir) return job.pids().length;
    try {
      return Number(fs.readFileSync(path.join(dir, 'pids.current'), 'utf8').trim());
    } catch {
      return job.pids().length;
    }
  }

  /** Removes a job's cgroups once its zombies are reaped (bounded). */
  async function removeJob(job: JobCgroup): Promise<void> {
    await waitUntil(`job ${job.jobId}'s pids.current to reach 0`, () => pidsCurrent(job) === 0, 10_000);
    await waitUntil(`job ${job.jobId}'s cgroups to be removed`, () => job.remove(), 5_000);
  }

  before(async () => {
    tree = CgroupTree.open({ root: testParent(), parentMemBytes: 1024 * MiB, parentPidsMax: 2048 });
    book = new JobHandleBook(tree);
    sibling = tree.createJob(99, { memBytes: 64 * MiB, cpus: 1, pidsMax: 16 });
    startInJob(sibling, 'sleep 60 & sleep 60 & sleep 60 & wait');
    await waitUntil('the sibling job to start', () => sibling.pids().length === 4);
    siblingPids = sibling.pids();
    strays.push(startStray('sleep', ['60']));
  });

  after(() => {
    book?.closeAll();
    for (const pid of strays) killQuietly(pid);
    if (tree) assert.deepEqual(tree.destroy(10_000), []);
  });

  function assertNothingElseTouched(): void {
    for (const pid of siblingPids) assert.ok(alive(pid), `sibling process ${pid} survives`);
    assert.ok(jobPopulated(openJobHandlesOnce(sibling.jobId)).populated, 'the sibling job is still populated');
    assert.ok(alive(strays[0]!), 'the process outside the test jobs survives');
  }

  function openJobHandlesOnce(jobId: number) {
    return book.ensure(jobId);
  }

  async function killTrials(label: string, work: string, pidsMax: number, ready: (job: JobCgroup) => boolean, route: KillPath, trials: number, t: { diagnostic: (s: string) => void }) {
    const empties: number[] = [];
    const writes: number[] = [];
    for (let i = 0; i < trials; i++) {
      const job = tree.createJob(nextJob++, { memBytes: 256 * MiB, cpus: 1, pidsMax });
      try {
        startInJob(job, work);
        await waitUntil(`${label} to be ready`, () => ready(job), 20_000);
        const before = pidsCurrent(job);
        const h = openJobHandles(tree, job.jobId);
        const decided = performance.now();
        const result = await killJob(h, { decidedAtMs: decided, timeoutMs: 5000, path: route });
        closeJobHandles(h);
        assert.equal(result.empty, true, `${label}: the cgroup empties (${JSON.stringify(result)})`);
        assert.equal(result.path, route);
        assert.equal(result.judgedBy, tree.layout.unified ? 'cgroup.events' : 'cgroup.procs');
        assert.deepEqual(job.pids(), []);
        empties.push(result.writeToEmptyMs!);
        writes.push(result.decisionToWriteMs);
        t.diagnostic(`${label} trial ${i + 1}: ${before} processes, decision→write ${result.decisionToWriteMs.toFixed(2)} ms, the write ${result.writeMs?.toFixed(2) ?? '—'} ms, write→frozen ${result.writeToFrozenMs?.toFixed(1) ?? '—'} ms, write→empty ${result.writeToEmptyMs!.toFixed(1)} ms, ${result.signalsSent} SIGKILLs`);
        assertNothingElseTouched();
      } finally {
        job.kill();
        await removeJob(job);
      }
    }
    const line = `${label} via ${route}: write→empty median ${median(empties).toFixed(1)} ms, max ${Math.max(...empties).toFixed(1)} ms over ${trials} trials; decision→write median ${median(writes).toFixed(2)} ms`;
    t.diagnostic(line);
    console.log(`# ${line}`);
    return empties;
  }

  it(`kills a job of ${SLEEPERS} sleeping processes with cgroup.kill; the sibling job and a stray process survive (notes §7: 40.8 ms median at 1 000)`, async (t) => {
    if (!tree.features.kill.startsWith('cgroup.kill')) return t.skip('no cgroup.kill on this kernel');
    const work = `i=0; while [ $i -lt ${SLEEPERS} ]; do sleep 60 & i=$((i+1)); done; wait`;
    await killTrials(`${SLEEPERS} sleepers`, work, SLEEPERS + 64, (job) => job.pids().length >= SLEEPERS + 1, 'cgroup.kill', TRIALS, t);
  });

  it(`kills a job of ${SLEEPERS} sleeping processes through the v1 freezer (freeze, SIGKILL every pid, thaw)`, async (t) => {
    if (!tree.layout.v1.freezer) return t.skip('no v1 freezer here');
    const work = `i=0; while [ $i -lt ${SLEEPERS} ]; do sleep 60 & i=$((i+1)); done; wait`;
    await killTrials(`${SLEEPERS} sleepers`, work, SLEEPERS + 64, (job) => job.pids().length >= SLEEPERS + 1, 'v1-freeze-and-kill', Math.min(TRIALS, 3), t);
  });

  it(`kills a bounded fork bomb at pids.max ${BOMB_PIDS_MAX} with cgroup.kill (notes §7: 55.2 ms median at 1 000)`, async (t) => {
    if (!tree.features.kill.startsWith('cgroup.kill')) return t.skip('no cgroup.kill on this kernel');
    // Forks sleepers until pids.max refuses; the shell keeps trying (or dies: the sleepers stay).
    const work = 'while :; do sleep 30 & done';
    await killTrials(`fork bomb at pids.max ${BOMB_PIDS_MAX}`, work, BOMB_PIDS_MAX, (job) => pidsCurrent(job) >= BOMB_PIDS_MAX - 8, 'cgroup.kill', TRIALS, t);
  });

  it(`kills a bounded fork bomb at pids.max ${BOMB_PIDS_MAX} through the v1 freezer`, async (t) => {
    if (!tree.layout.v1.freezer) return t.skip('no v1 freezer here');
    await killTrials(`fork bomb at pids.max ${BOMB_PIDS_MAX}`, 'while :; do sleep 30 & done', BOMB_PIDS_MAX, (job) => pidsCurrent(job) >= BOMB_PIDS_MAX - 8, 'v1-freeze-and-kill', Math.min(TRIALS, 3), t);
  });

  it(`kills sleepers and a fork bomb through the v2 freezer (cgroup.freeze, SIGKILL every pid, thaw)`, async (t) => {
    if (!tree.layout.unified) return t.skip('no cgroup2 hierarchy here');
    const work = `i=0; while [ $i -lt ${SLEEPERS} ]; do sleep 60 & i=$((i+1)); done; wait`;
    await killTrials(`${SLEEPERS} sleepers`, work, SLEEPERS + 64, (job) => job.pids().length >= SLEEPERS + 1, 'v2-freeze-and-kill', Math.min(TRIALS, 3), t);
    await killTrials(`fork bomb at pids.max ${BOMB_PIDS_MAX}`, 'while :; do sleep 30 & done', BOMB_PIDS_MAX, (job) => pidsCurrent(job) >= BOMB_PIDS_MAX - 8, 'v2-freeze-and-kill', Math.min(TRIALS, 3), t);
  });

  it('freezes and thaws a spinning job (v2 cgroup.freeze and the v1 freezer): no CPU while frozen', async (t) => {
    const job = tree.createJob(nextJob++, { memBytes: 64 * MiB, cpus: 0.3, pidsMax: 8 });
    try {
      const spinner = startInJob(job, 'i=0; while [ $i -lt 20000000 ]; do i=$((i+1)); done');
      await waitUntil('the spinner to run', () => (cpuTicks(spinner) ?? 0) > 2, 10_000);
      const h = book.ensure(job.jobId);
      const vias: Array<'v1' | 'v2'> = [];
      if (h.freezeFd !== null) vias.push('v2');
      if (h.freezerStateFd !== null) vias.push('v1');
      assert.ok(vias.length > 0, 'some freezer');
      for (const via of vias) {
        const frozen = await freezeJob(h, { via });
        assert.equal(frozen.done, true, `frozen via ${via}`);
        assert.ok(jobFrozen(h));
        const state = processState(spinner);
        assert.notEqual(state, 'R', `a frozen process is not running (state ${state})`);
        const ticks = cpuTicks(spinner)!;
        await new Promise((resolve) => setTimeout(resolve, 400));
        assert.equal(cpuTicks(spinner), ticks, `no CPU time while frozen via ${via}`);
        thawJob(h);
        assert.equal(jobFrozen(h), false);
        await waitUntil(`the spinner to run again after thawing via ${via}`, () => (cpuTicks(spinner) ?? 0) > ticks, 3000);
        t.diagnostic(`freeze via ${frozen.via}: frozen after ${frozen.writeToDoneMs!.toFixed(1)} ms, state ${state} while frozen`);
      }
      assertNothingElseTouched();
    } finally {
      book.close(job.jobId);
      job.kill();
      await removeJob(job);
    }
  });

  it('throttles a job: writes the cpu quota and lifts it', () => {
    const job = tree.createJob(nextJob++, { memBytes: 64 * MiB, cpus: 1, pidsMax: 8 });
    try {
      const h = openJobHandles(tree, job.jobId);
      const capped = throttleJob(h, 0.25);
      if (h.cpu!.version === 1) {
        const period = Number(fs.readFileSync(path.join(h.cpu!.dir, 'cpu.cfs_period_us'), 'utf8'));
        assert.equal(capped.file, path.join(h.cpu!.dir, 'cpu.cfs_quota_us'));
        assert.equal(capped.previous, String(period));
        assert.equal(fs.readFileSync(capped.file, 'utf8').trim(), String(period / 4));
        assert.equal(throttleJob(h, null).written, '-1');
        assert.equal(fs.readFileSync(capped.file, 'utf8').trim(), '-1');
      } else {
        assert.match(fs.readFileSync(capped.file, 'utf8').trim(), /^25000 100000$/);
        throttleJob(h, null);
        assert.match(fs.readFileSync(capped.file, 'utf8').trim(), /^max 100000$/);
      }
      assert.throws(() => throttleJob(h, 0), /above 0/);
      closeJobHandles(h);
    } finally {
      job.remove();
    }
  });

  it('stops and continues a process outside any job (SIGSTOP/SIGCONT), and renices every thread', async () => {
    const pid = startStray('sleep', ['60']);
    strays.push(pid);
    await waitUntil('sleep to start', () => processState(pid) === 'S', 5000);
    const stopped = await stopProcess(pid);
    assert.deepEqual(stopped, { pid, done: true, state: 'T' });
    const resumed = await continueProcess(pid);
    assert.equal(resumed.done, true);
    await waitUntil('sleep to sleep again', () => processState(pid) === 'S', 5000);
    const reniced = reniceProcess(pid, 10);
    assert.equal(reniced.threads, 1);
    assert.equal(os.getPriority(pid), 10);
    await assert.rejects(stopProcess(1), /refusing/);
    await assert.rejects(stopProcess(process.pid), /watchdog itself/);
    assert.throws(() => reniceProcess(pid, 40), /-20 to 19/);
  });

  it('keeps handles for the jobs it sees and closes those of jobs gone', () => {
    const own = new JobHandleBook(tree);
    own.sync([sibling.jobId]);
    assert.equal(own.size, 1);
    const h = own.get(sibling.jobId)!;
    if (tree.layout.unified) {
      assert.notEqual(h.killFd, null);
      assert.notEqual(h.eventsFd, null);
    }
    own.sync([]);
    assert.equal(own.size, 0);
    assert.equal(h.killFd, null, 'closed');
    own.closeAll();
  });
});
