import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../lib/clock.ts';
import type { Finding, JobSample, Sample } from './model.ts';
import {
  chooseVictim,
  defaultVictimConfig,
  jobCandidatesFromWindow,
  newHistory,
  forgetAction,
  noteAction,
  noteRecovered,
  processProtection,
  pruneHistory,
  type Candidate,
  type JobCandidate,
  type ProcessCandidate,
} from './victim.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const SELF = 4242;
const config = defaultVictimConfig({ selfPid: SELF });

function job(jobId: number, user: string, memBytes: number, requestedMemBytes: number, growth = 0, extra: Partial<JobCandidate> = {}): JobCandidate {
  return {
    kind: 'job',
    jobId,
    user,
    uid: 1000 + jobId,
    memBytes,
    memLimitBytes: null,
    requestedMemBytes,
    memGrowthBytesPerSec: growth,
    pidsCurrent: 3,
    pidsMax: 4096,
    pidsGrowthPerSec: 0,
    cpusUsed: 1,
    requestedCpus: 1,
    ...extra,
  };
}

function proc(pid: number, comm: string, rssBytes: number, extra: Partial<ProcessCandidate> = {}): ProcessCandidate {
  return { kind: 'process', pid, uid: 1000, user: 'carol', comm, cmdline: `/usr/bin/${comm} --run`, rssBytes, rssGrowthBytesPerSec: 0, cpusUsed: 0.1, jobId: null, ...extra };
}

function finding(rule: Finding['rule'], extra: Partial<Finding> = {}): Finding {
  return { rule, severity: 'act', jobId: null, pid: null, user: null, explanation: 'test', window: { fromMs: 0, toMs: 1000 }, metrics: {}, ...extra };
}

function chosen(result: ReturnType<typeof chooseVictim>): Candidate {
  if (result.victim === null) assert.fail(`no victim: ${result.reason}`);
  return result.victim;
}

describe('victim policy', () => {
  it('chooses the job over its request, not the larger innocent job, and says so with the numbers', () => {
    const culprit = job(42, 'alice', 3.1 * GiB, 2 * GiB, 200 * MiB);
    const innocent = job(17, 'bob', 5 * GiB, 8 * GiB);
    const result = chooseVictim(finding('node-memory'), [innocent, culprit], config, 0);
    assert.equal(chosen(result).kind === 'job' && (chosen(result) as JobCandidate).jobId, 42);
    assert.ok(result.victim !== null);
    const text = result.explanation;
    assert.equal(text, 'job 42 of alice: 3.1 GiB against a 2 GiB request (155 %), +200 MiB/s; the larger job 17 of bob (5 GiB) is within its 8 GiB request');
    assert.ok(!text.includes('\n'), 'one line');
  });

  it('among jobs over their request, the one furthest over wins', () => {
    const a = job(1, 'a', 3 * GiB, 2 * GiB); // 150 %
    const b = job(2, 'b', 1.9 * GiB, 1 * GiB); // 190 %
    assert.equal((chosen(chooseVictim(finding('node-memory'), [a, b], config, 0)) as JobCandidate).jobId, 2);
  });

  it('growth breaks ties among jobs within their request, before size', () => {
    const big = job(1, 'a', 6 * GiB, 8 * GiB, 0);
    const growing = job(2, 'b', 1 * GiB, 4 * GiB, 50 * MiB);
    const faster = job(3, 'c', 1 * GiB, 4 * GiB, 120 * MiB);
    const result = chooseVictim(finding('node-memory'), [big, growing, faster], config, 0);
    assert.equal((chosen(result) as JobCandidate).jobId, 3);
    assert.match(result.victim ? result.explanation : '', /\+120 MiB\/s/);
  });

  it('falls back to the largest, then deterministically to the youngest job', () => {
    const a = job(5, 'a', 2 * GiB, 4 * GiB);
    const b = job(9, 'b', 3 * GiB, 4 * GiB);
    assert.equal((chosen(chooseVictim(finding('node-memory'), [a, b], config, 0)) as JobCandidate).jobId, 9);
    const c = job(4, 'c', 2 * GiB, 4 * GiB);
    const d = job(8, 'd', 2 * GiB, 4 * GiB);
    assert.equal((chosen(chooseVictim(finding('node-memory'), [c, d], config, 0)) as JobCandidate).jobId, 8);
    assert.equal((chosen(chooseVictim(finding('node-memory'), [d, c], config, 0)) as JobCandidate).jobId, 8);
  });

  it('never chooses a protected process, even the largest; says why when nothing is left', () => {
    const postgres = proc(700, 'postgres', 10 * GiB, { uid: 105, cmdline: 'postgres: checkpointer' });
    const slurmd = proc(800, 'slurmd', 9 * GiB, { uid: 0 });
    const server = proc(900, 'node', 8 * GiB, { uid: 0, cmdline: 'node /opt/keisan/bin/keisan.js server --port 8080' });
    const rootShell = proc(950, 'bash', 7 * GiB, { uid: 0, cmdline: '-bash' });
    const init = proc(1, 'init', 7 * GiB, { uid: 0, cmdline: '/sbin/init' });
    const stray = proc(1234, 'python3', 1 * GiB, { user: 'bob' });
    const result = chooseVictim(finding('node-memory'), [postgres, slurmd, server, rootShell, init, stray], config, 0);
    assert.equal((chosen(result) as ProcessCandidate).pid, 1234);
    assert.match(result.victim ? result.explanation : '', /^process 1234 \(python3\) of bob: 1 GiB RSS, in no job, \+0 B\/s$/);
    const none = chooseVictim(finding('node-memory'), [postgres, slurmd, server, rootShell, init], config, 0);
    assert.equal(none.victim, null);
    assert.match(none.victim === null ? none.reason : '', /postgres.*protected pattern 'postgres'.*slurm\*.*keisan\* server.*shell of root.*pid 1 is protected/);
    // a user's shell is not protected
    assert.equal(processProtection({ pid: 2000, uid: 1000, comm: 'bash', cmdline: '-bash' }, config), null);
    assert.match(processProtection({ pid: 3, uid: 0, comm: 'kworker/0:1', cmdline: '' }, config) ?? '', /pid|kernel/);
  });

  it("never chooses the watchdog's own pid, nor a job cgroup that holds it", () => {
    const self = proc(SELF, 'node', 20 * GiB, { cmdline: 'node something-else', uid: 1000 });
    const other = proc(5555, 'leaky', 1 * GiB);
    assert.equal((chosen(chooseVictim(finding('node-memory'), [self, other], config, 0)) as ProcessCandidate).pid, 5555);
    const direct = chooseVictim(finding('login-cpu-hog', { pid: SELF }), [self], config, 0);
    assert.equal(direct.victim, null);
    assert.match(direct.victim === null ? direct.reason : '', /watchdog itself/);
    const holding = job(3, 'x', 9 * GiB, 1 * GiB, 0, { pids: [77, SELF] });
    const plain = job(4, 'y', 2 * GiB, 1 * GiB);
    assert.equal((chosen(chooseVictim(finding('node-memory'), [holding, plain], config, 0)) as JobCandidate).jobId, 4);
  });

  it('prefers a job over a stray process when a job is the cause', () => {
    const stray = proc(1234, 'python3', 6 * GiB);
    const leaking = job(11, 'dan', 2 * GiB, 4 * GiB, 300 * MiB);
    assert.equal(chosen(chooseVictim(finding('node-memory'), [stray, leaking], config, 0)).kind, 'job');
    // no job is a cause: the largest stray process goes
    const quiet = job(12, 'eve', 1 * GiB, 4 * GiB);
    assert.equal(chosen(chooseVictim(finding('node-memory'), [stray, quiet], config, 0)).kind, 'process');
  });

  it('acts on the job a job-scoped finding names, and refuses when it is gone', () => {
    const a = job(1, 'a', 1.9 * GiB, 2 * GiB, 80 * MiB, { memLimitBytes: 2 * GiB });
    const b = job(2, 'b', 9 * GiB, 2 * GiB);
    assert.equal((chosen(chooseVictim(finding('memory-limit', { jobId: 1 }), [a, b], config, 0)) as JobCandidate).jobId, 1);
    const gone = chooseVictim(finding('memory-limit', { jobId: 7 }), [a, b], config, 0);
    assert.equal(gone.victim, null);
  });

  it('explains a fork bomb against pids.max and a CPU hog against its request', () => {
    const bomb = job(5, 'mallory', 0, 1 * GiB, 0, { pidsCurrent: 128, pidsMax: 128, pidsGrowthPerSec: 400 });
    const calm = job(6, 'bob', 0, 1 * GiB, 0, { pidsCurrent: 300, pidsMax: 4096 });
    const r = chooseVictim(finding('pids-explosion'), [calm, bomb], config, 0);
    assert.equal((chosen(r) as JobCandidate).jobId, 5);
    assert.match(r.victim ? r.explanation : '', /^job 5 of mallory: 128 processes against its pids\.max of 128 \(100 %\), \+400 processes\/s; the larger job 6 of bob \(300 processes\) is within its pids\.max of 4096$/);
    const hog = job(7, 'h', 0, GiB, 0, { cpusUsed: 3.8, requestedCpus: 1 });
    const fair = job(8, 'f', 0, GiB, 0, { cpusUsed: 4, requestedCpus: 8 });
    const c = chooseVictim(finding('cpu-hog'), [fair, hog], config, 0);
    assert.equal((chosen(c) as JobCandidate).jobId, 7);
    assert.match(c.victim ? c.explanation : '', /^job 7 of h: 3\.8 CPUs against a request of 1 CPU \(380 %\); the larger job 8 of f \(4 CPUs\) is within its request of 8 CPUs$/);
  });

  it('cools down: no second victim for the same finding until the first is confirmed, or the timeout', () => {
    const clock = new ManualClock(0);
    const history = newHistory();
    const first = job(1, 'a', 6 * GiB, 2 * GiB, 100 * MiB);
    const second = job(2, 'b', 3 * GiB, 2 * GiB);
    const f = finding('node-memory');
    const r1 = chooseVictim(f, [first, second], config, clock.now().getTime(), history);
    assert.equal((chosen(r1) as JobCandidate).jobId, 1);
    noteAction(history, f, r1.victim!, clock.now().getTime());
    clock.advance(1000);
    // job 1 is still being freed; the node finding persists: no second victim
    const r2 = chooseVictim(f, [second], config, clock.now().getTime(), history);
    assert.equal(r2.victim, null);
    assert.match(r2.victim === null ? r2.reason : '', /cooling down: job 1 of a was acted on 1\.0 s ago.*9\.0 s/);
    // a job-scoped finding about another job is not blocked
    assert.ok(chooseVictim(finding('memory-limit', { jobId: 2 }), [second], config, clock.now().getTime(), history).victim);
    // confirmed empty and freed: a new victim may be chosen at once
    noteRecovered(history, 'job:1', clock.now().getTime());
    assert.equal((chosen(chooseVictim(f, [second], config, clock.now().getTime(), history)) as JobCandidate).jobId, 2);
    // or after the timeout, unconfirmed
    const h2 = newHistory();
    noteAction(h2, f, first, 0);
    assert.equal(chooseVictim(f, [second], config, 9_999, h2).victim, null);
    assert.ok(chooseVictim(f, [second], config, 10_000, h2).victim);
    pruneHistory(h2, config, 10_000);
    assert.equal(h2.actions.length, 0);
    // a failed action frees nothing: forgetting it lets the next try go ahead at once
    const h3 = newHistory();
    noteAction(h3, f, first, 0);
    assert.equal(chooseVictim(f, [first, second], config, 1000, h3).victim, null);
    forgetAction(h3, 'job:1');
    assert.equal((chosen(chooseVictim(f, [first, second], config, 1000, h3)) as JobCandidate).jobId, 1);
  });

  it('builds job candidates with growth and CPU from a sample window', () => {
    const js = (jobId: number, memBytes: number, pids: number, cpuUs: number): JobSample => ({
      jobId, user: 'u', uid: 1, cgroupDirs: [], memBytes, memLimitBytes: 2 * GiB, requestedMemBytes: GiB, requestedCpus: 1,
      refaultFile: 0, anonBytes: null, psiMemory: null, psiIo: null, psiCpu: null, pidsCurrent: pids, pidsMax: 128, pidsEventsMax: 0,
      cpuUsageUsec: cpuUs, cpusAllocated: 1,
    });
    const node = { memTotalBytes: 24 * GiB, memAvailableBytes: 10 * GiB, psiMemory: null, psiIo: null, psiCpu: null, runningThreads: 1, totalThreads: 100 };
    const window: Sample[] = [
      { atMs: 1000, node, jobs: [js(1, 1 * GiB, 4, 0)] },
      { atMs: 3000, node, jobs: [js(1, 1 * GiB + 400 * MiB, 104, 3_000_000)] },
    ];
    const [c] = jobCandidatesFromWindow(window, 1000, 3000);
    assert.equal(c!.memGrowthBytesPerSec, 200 * MiB);
    assert.equal(c!.pidsGrowthPerSec, 50);
    assert.equal(c!.cpusUsed, 1.5);
  });

  it('measures a job that started inside the window from nothing, and an idle job from its last read before the window', () => {
    const js = (jobId: number, memBytes: number): JobSample => ({
      jobId, user: 'u', uid: 1, cgroupDirs: [], memBytes, memLimitBytes: null, requestedMemBytes: 3 * GiB, requestedCpus: 1,
      refaultFile: 0, anonBytes: null, psiMemory: null, psiIo: null, psiCpu: null, pidsCurrent: 1, pidsMax: 64, pidsEventsMax: 0,
      cpuUsageUsec: 0, cpusAllocated: 1,
    });
    const node = { memTotalBytes: 24 * GiB, memAvailableBytes: 10 * GiB, psiMemory: null, psiIo: null, psiCpu: null, runningThreads: 1, totalThreads: 100 };
    // Job 1 finished filling 1.6 GiB at t=1.2 s; job 2 appears at t=1.5 s and fills 1.4 GiB/s; job 3 is idle, read once a second (tiered sampling).
    const history: Sample[] = [];
    for (let t = 0; t <= 2300; t += 100) {
      const jobs = [js(1, Math.min(t, 1200) * (1600 / 1200) * MiB)];
      if (t >= 1500) jobs.push(js(2, ((t - 1400) / 1000) * 1400 * MiB));
      if (t % 1000 === 0) jobs.push(js(3, 500 * MiB));
      history.push({ atMs: t, node, jobs });
    }
    const candidates = jobCandidatesFromWindow(history, 1300, 2300, new Set([1, 2, 3]));
    const byId = new Map(candidates.map((c) => [c.jobId, c]));
    assert.deepEqual([...byId.keys()].sort(), [1, 2, 3], 'the idle job is a candidate though the last tick did not read it');
    assert.equal(byId.get(1)!.memGrowthBytesPerSec, 0);
    assert.ok(Math.abs(byId.get(2)!.memGrowthBytesPerSec - 1260 * MiB) < MiB, `job 2 from nothing at 1.3 s: ${byId.get(2)!.memGrowthBytesPerSec / MiB} MiB/s`);
    assert.equal(byId.get(3)!.memGrowthBytesPerSec, 0);
    assert.equal(byId.get(3)!.memBytes, 500 * MiB);
    const choice = chooseVictim(
      { rule: 'node-memory', severity: 'act', jobId: null, pid: null, user: null, explanation: '', window: { fromMs: 1300, toMs: 2300 }, metrics: {}, candidates: [] },
      candidates,
      config,
      2300,
    );
    assert.equal((chosen(choice) as JobCandidate).jobId, 2, 'the job filling now, not the one that finished filling before it started');
  });
});
