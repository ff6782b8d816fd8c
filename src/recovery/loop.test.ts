/**
 * The recovery loop on REAL cgroups under a private test parent (keisan-test-<pid>, capped at
 * 512 MiB and 512 pids, removed afterwards), reporting to a small fake HTTP server. Fences
 * (notes/recovery.md §11): every job has a memory limit and a pids.max; the leaker is a bounded
 * allocator (≤ 160 MiB at ~20 MiB/s, under `timeout 30`) in a 64 MiB limit; the fork storm forks
 * only sleepers inside pids.max 64 under `timeout 30`; `after` kills and removes every test cgroup.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, afterEach, before, describe, it } from 'node:test';
import { CgroupTree, type JobCgroup } from '../batch/executors/local/cgroups.ts';
import { RecoveryLoop } from './loop.ts';
import { recoveryEventInputSchema, type RecoveryEventInput, type Sample } from './model.ts';
import { EventReporter } from './reporter.ts';
import { recoverySettings, resolveRecoverySettings, type RecoverySettings } from './settings.ts';
import { spawn } from 'node:child_process';
import { alive, describeOnRealCgroups, killQuietly, startInJob, testParent, waitUntil } from './testing.ts';
import { closeJobHandles, jobFrozen, openJobHandles, processState } from './actions.ts';
import type { ServerDecision } from './ask.ts';

const MiB = 1024 ** 2;
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

/** A fake server of POST /api/recovery/events: checks the secret and the body, 200 { id }. */
async function fakeServer(port = 0): Promise<{ url: string; port: number; bodies: RecoveryEventInput[]; invalid: unknown[]; close: () => Promise<void> }> {
  const bodies: RecoveryEventInput[] = [];
  const invalid: unknown[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/api/recovery/events' || req.headers.authorization !== 'Node s3cret') {
        res.writeHead(401).end('{}');
        return;
      }
      const parsed = recoveryEventInputSchema.safeParse(JSON.parse(text));
      if (!parsed.success) {
        invalid.push(JSON.parse(text));
        res.writeHead(400).end(JSON.stringify({ error: parsed.error.message }));
        return;
      }
      bodies.push(parsed.data);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: bodies.length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    bodies,
    invalid,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function event(overrides: Partial<RecoveryEventInput> = {}): RecoveryEventInput {
  return {
    host: 'n1',
    at: new Date().toISOString(),
    rule: 'memory-limit',
    severity: 'act',
    jobId: 7,
    pid: null,
    user: 'alice',
    mode: 'automatic',
    action: 'kill',
    outcome: 'done',
    explanation: 'job 7 (alice): memory 63 of 64 MiB',
    victimExplanation: 'job 7 of alice',
    metrics: { memBytes: 1 },
    timings: { decisionToWriteMs: 1, writeMs: 0.1, writeToEmptyMs: 3 },
    evidencePath: null,
    error: null,
    ...overrides,
  };
}

describe('recovery settings', () => {
  it('defaults: enabled, automatic for job rules, observe for the login rule, 10 Hz, kill/throttle/warn', () => {
    const r = resolveRecoverySettings(recoverySettings.parse({}), '/data');
    assert.equal(r.enabled, true);
    assert.equal(r.sampleHz, 10);
    assert.equal(r.modeOf('memory-limit'), 'automatic');
    assert.equal(r.modeOf('login-cpu-hog'), 'observe');
    assert.equal(r.actionFor('pids-explosion', 'act'), 'kill');
    assert.equal(r.actionFor('cpu-hog', 'act'), 'throttle');
    assert.deepEqual(['warn', 'renice', 'stop'].map((s) => r.actionFor('login-cpu-hog', s)), ['warn', 'renice', 'stop']);
    assert.equal(r.evidenceDir, '/data/recovery/evidence');
    assert.equal(r.victim.cooldownTimeoutMs, 10_000);
  });

  it('per-rule overrides, thresholds, protections and cooldown', () => {
    const r = resolveRecoverySettings(
      recoverySettings.parse({ mode: 'observe', rules: { 'memory-thrash': { mode: 'automatic', action: 'freeze' } }, detectors: { pids: { minPids: 16 } }, protect: { comm: ['myd'] }, cooldown: '30s', evidenceDir: '/var/ev' }),
      '/data',
    );
    assert.equal(r.modeOf('memory-limit'), 'observe');
    assert.equal(r.modeOf('memory-thrash'), 'automatic');
    assert.equal(r.actionFor('memory-thrash', 'act'), 'freeze');
    assert.equal(r.detectors.pids.minPids, 16);
    assert.equal(r.detectors.pids.growthPerSec, 200);
    assert.ok(r.victim.protect.comm.includes('myd') && r.victim.protect.comm.includes('sshd'));
    assert.equal(r.victim.cooldownTimeoutMs, 30_000);
    assert.equal(r.evidenceDir, '/var/ev');
  });

  it('refuses unknown keys, rules, modes and actions', () => {
    for (const bad of [{ modes: 'observe' }, { mode: 'auto' }, { rules: { 'memory-leak': { mode: 'observe' } } }, { rules: { 'cpu-hog': { action: 'explode' } } }, { detectors: { pids: { maxPids: 1 } } }, { sampleHz: 0 }]) {
      assert.equal(recoverySettings.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});

describe('recovery event reporter', () => {
  it('posts events in order with the node secret; the fake server checks them against RecoveryEventInput', async () => {
    const server = await fakeServer();
    try {
      const reporter = new EventReporter({ serverUrl: server.url, nodeSecret: 's3cret', backoffMs: 20 });
      reporter.report(event({ jobId: 1 }));
      reporter.report(event({ jobId: 2, mode: 'observe', action: 'kill', outcome: 'observed', timings: null }));
      await waitUntil('two events to arrive', () => server.bodies.length === 2, 5000);
      assert.deepEqual(server.bodies.map((b) => b.jobId), [1, 2]);
      assert.deepEqual(server.invalid, []);
      reporter.stop();
    } finally {
      await server.close();
    }
  });

  it('queues while the server is down and delivers once it is back; the queue is bounded', async () => {
    const probe = await fakeServer();
    const port = probe.port;
    await probe.close();
    const reporter = new EventReporter({ serverUrl: `http://127.0.0.1:${port}`, nodeSecret: 's3cret', backoffMs: 20, maxBackoffMs: 50, maxQueued: 3 });
    const started = performance.now();
    for (let i = 1; i <= 5; i++) reporter.report(event({ jobId: i }));
    assert.ok(performance.now() - started < 50, 'report() does not wait for the network');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(reporter.pending, 3);
    assert.equal(reporter.dropped, 2);
    const server = await fakeServer(port);
    try {
      await waitUntil('the queued events to arrive', () => server.bodies.length === 3, 5000);
      assert.deepEqual(server.bodies.map((b) => b.jobId), [3, 4, 5]);
      assert.equal(reporter.pending, 0);
    } finally {
      reporter.stop();
      await server.close();
    }
  });

  it('drops an event the server refuses (4xx) instead of retrying it for ever', async () => {
    const server = await fakeServer();
    try {
      const reporter = new EventReporter({ serverUrl: server.url, nodeSecret: 'wrong', backoffMs: 20 });
      reporter.report(event());
      await waitUntil('the refusal', () => reporter.refused === 1, 5000);
      assert.equal(reporter.pending, 0);
      reporter.stop();
    } finally {
      await server.close();
    }
  });
});

describeOnRealCgroups('the recovery loop on real cgroups', () => {
  let tree: CgroupTree;
  let server: Awaited<ReturnType<typeof fakeServer>>;
  let evidenceDir: string;
  let loop: RecoveryLoop | null = null;
  let reporter: EventReporter | null = null;
  let nextJob = 200;
  const jobs: JobCgroup[] = [];

  before(async () => {
    tree = CgroupTree.open({ root: testParent(), parentMemBytes: 512 * MiB, parentPidsMax: 512 });
    server = await fakeServer();
    evidenceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-recovery-loop-'));
  });

  afterEach(async () => {
    await loop?.stop();
    loop = null;
    reporter?.stop();
    reporter = null;
    for (const job of jobs.splice(0)) {
      try {
        job.kill();
      } catch {
        // gone
      }
    }
  });

  after(async () => {
    await server?.close();
    if (tree) assert.deepEqual(tree.destroy(10_000), []);
    if (evidenceDir) fs.rmSync(evidenceDir, { recursive: true, force: true });
  });

  /** Requested CPUs (default 1) and memory (default 64 MiB) per job: the job record's facts the loop is given. */
  const requested = new Map<number, number>();
  const requestedMem = new Map<number, number>();

  function startLoop(input: Partial<Record<keyof RecoverySettings, unknown>> = {}, decisions?: (keys: string[]) => Promise<ServerDecision[]>): RecoveryLoop {
    const settings = resolveRecoverySettings(recoverySettings.parse({ detectors: { pids: { minPids: 16 } }, evidenceDir, ...input }), '/nonexistent');
    reporter = new EventReporter({ serverUrl: server.url, nodeSecret: 's3cret', backoffMs: 50 });
    loop = new RecoveryLoop({ tree, settings, host: 'test-node', reporter, logger: quiet, jobInfo: (id) => ({ user: 'alice', uid: 1000, requestedMemBytes: requestedMem.get(id) ?? 64 * MiB, requestedCpus: requested.get(id) ?? 1 }), ...(decisions ? { decisions } : {}) });
    loop.start();
    return loop;
  }

  function job(limits: { memBytes: number; pidsMax: number; cpus?: number }): JobCgroup {
    const j = tree.createJob(nextJob++, { cpus: 1, ...limits });
    jobs.push(j);
    return j;
  }

  function oomKills(j: JobCgroup): number | null {
    try {
      return j.oomKills();
    } catch {
      return null;
    }
  }


  // A bounded leak: 1 MiB touched buffers every 50 ms (~20 MiB/s) up to 160 MiB, then it idles; timeout 30 s.
  // The job's PATH is /usr/bin:/bin: name this very node (on the GPU machines it lives elsewhere).
  const LEAK = `timeout 30 ${process.execPath} -e 'const a=[];const t=setInterval(()=>{if(a.length<160)a.push(Buffer.alloc(1048576,1));},50);setTimeout(()=>clearInterval(t),25000)'`;

  it('automatic: kills a job leaking into its 64 MiB limit, spares an innocent sibling, reports and keeps evidence', async () => {
    const sibling = job({ memBytes: 64 * MiB, pidsMax: 16 });
    startInJob(sibling, 'sleep 60 & sleep 60 & wait');
    await waitUntil('the sibling to start', () => sibling.pids().length === 3);
    const siblingPids = sibling.pids();
    const l = startLoop();
    const leaker = job({ memBytes: 64 * MiB, pidsMax: 16 });
    const startedAt = performance.now();
    startInJob(leaker, LEAK);
    // What the loop saw of the leaker (its ring keeps only ~10 s): to tell a slow detector from a sampler that missed the job.
    const watched = new Map<number, Sample>();
    const collector = setInterval(() => {
      for (const s of l.recentSamples()) watched.set(s.atMs, s);
    }, 200);
    await waitUntil('the loop to act on the leaking job', () => l.events.some((e) => e.jobId === leaker.jobId && e.outcome !== 'observed'), 20_000).finally(() => clearInterval(collector)).catch((error: Error) => {
      const seen = [...watched.values()]
        .map((s) => ({ s, j: s.jobs.find((x) => x.jobId === leaker.jobId) }))
        .filter((x) => x.j)
        .slice(0, 60)
        .map(({ s, j }) => `${(s.atMs % 100_000) / 1000}s mem=${j!.memBytes} anon=${j!.anonBytes} limit=${j!.memLimitBytes} pids=${j!.pidsCurrent}`);
      throw new Error(`${error.message}; ticks ${l.ticks}, tick errors ${l.tickErrors}, kernel OOM kills ${oomKills(leaker)}, events ${JSON.stringify(l.events.map((x) => [x.jobId, x.rule, x.outcome, x.explanation]))}; the leaker as sampled:\n${seen.join('\n') || '(never sampled)'}`);
    });
    const e = l.events.find((x) => x.jobId === leaker.jobId && x.outcome !== 'observed')!;
    await waitUntil('the leaking job to be empty', () => !leaker.populated(), 5000);
    const oom = oomKills(leaker);
    console.log(
      `leak in 64 MiB: ${e.rule} ${e.action} ${e.outcome} ${((e.decidedAtPerfMs - startedAt) / 1000).toFixed(2)} s after the start; decision→write ${e.timings?.decisionToWriteMs} ms, write ${e.timings?.writeMs} ms, write→empty ${e.timings?.writeToEmptyMs} ms; kernel OOM kills before: ${oom}; ${e.explanation}`,
    );
    assert.ok(['memory-limit', 'memory-thrash'].includes(e.rule), e.rule);
    assert.equal(e.action, 'kill');
    assert.equal(e.outcome, 'done', e.error ?? '');
    assert.equal(e.mode, 'automatic');
    assert.match(e.explanation, new RegExp(`job ${leaker.jobId}`));
    assert.ok(e.evidencePath && fs.existsSync(e.evidencePath), 'evidence written');
    const evidence = JSON.parse(fs.readFileSync(e.evidencePath, 'utf8')) as { processes: unknown[]; action: { empty: boolean } | null };
    assert.ok(evidence.processes.length >= 1, 'evidence captured the processes before the kill');
    assert.equal(evidence.action?.empty, true);
    for (const pid of siblingPids) assert.ok(alive(pid), `sibling process ${pid} survives`);
    assert.ok(!l.events.some((x) => x.jobId === sibling.jobId), 'nothing reported about the sibling');
    await waitUntil('the event at the server', () => server.bodies.some((b) => b.jobId === leaker.jobId && b.action === 'kill'), 5000);
    assert.deepEqual(server.invalid, []);
    // reported once, not every tick
    assert.equal(server.bodies.filter((b) => b.jobId === leaker.jobId && b.outcome === 'done').length, 1);
  });

  it("automatic: the jobs' parent filling up — kills the job that is filling it, not the one that filled just before", async () => {
    // The test parent is capped at 512 MiB: floor max(64 MiB, 5 %) = 64 MiB. The innocent fills 150 MiB at once and
    // holds it; the culprit starts as soon as it has, fills 100 MiB at once, then leaks ~20 MiB/s up to 300 MiB.
    const innocent = job({ memBytes: 512 * MiB, pidsMax: 16 });
    const culprit = job({ memBytes: 512 * MiB, pidsMax: 16 });
    requestedMem.set(innocent.jobId, 256 * MiB);
    requestedMem.set(culprit.jobId, 256 * MiB);
    const l = startLoop();
    startInJob(innocent, `timeout 40 ${process.execPath} -e 'const a=[];for(let i=0;i<150;i++)a.push(Buffer.alloc(1048576,1));setInterval(()=>a.length,1000)'`);
    await waitUntil('the innocent job to fill 150 MiB', () => (innocent.usage().memBytes ?? 0) >= 150 * MiB, 10_000);
    const innocentPids = innocent.pids();
    startInJob(culprit, `timeout 40 ${process.execPath} -e 'const a=[];for(let i=0;i<100;i++)a.push(Buffer.alloc(1048576,1));setInterval(()=>{if(a.length<300)a.push(Buffer.alloc(1048576,1));},50)'`);
    await waitUntil('the loop to act on the culprit', () => l.events.some((e) => e.rule === 'node-memory' && e.outcome !== 'observed') || (oomKills(culprit) ?? 0) > 0, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; events ${JSON.stringify(l.events.map((x) => [x.jobId, x.rule, x.outcome, x.explanation, x.victimExplanation]))}`);
    });
    const acted = l.events.filter((e) => e.rule === 'node-memory' && e.outcome !== 'observed');
    assert.equal(oomKills(culprit) ?? 0, 0, "the watchdog acted before the kernel's OOM killer");
    assert.equal(acted.length, 1, JSON.stringify(acted.map((e) => [e.jobId, e.explanation])));
    const e = acted[0]!;
    assert.equal(e.jobId, culprit.jobId, `${e.explanation}; ${e.victimExplanation}`);
    assert.equal(e.action, 'kill');
    assert.equal(e.outcome, 'done', e.error ?? '');
    assert.match(e.explanation, /^jobs' cgroup: \d+ MiB left of its 512 MiB limit/);
    await waitUntil('the culprit to be empty', () => !culprit.populated(), 5000);
    for (const pid of innocentPids) assert.ok(alive(pid), `innocent process ${pid} survives`);
    assert.ok(!l.events.some((x) => x.jobId === innocent.jobId && x.outcome !== 'observed'), 'nothing done to the innocent');
  });

  it("observe: the kernel's OOM kill of a leaking job is reported as a kernel-oom event", async () => {
    const l = startLoop({ mode: 'observe' });
    const leaker = job({ memBytes: 64 * MiB, pidsMax: 16 });
    startInJob(leaker, LEAK);
    await waitUntil('the kernel to kill the leaker', () => (oomKills(leaker) ?? 0) > 0 && !leaker.populated(), 20_000);
    await waitUntil('a kernel-oom event', () => l.events.some((e) => e.rule === 'kernel-oom' && e.jobId === leaker.jobId), 5000);
    const e = l.events.find((x) => x.rule === 'kernel-oom' && x.jobId === leaker.jobId)!;
    assert.equal(e.action, 'none');
    assert.equal(e.outcome, 'observed');
    assert.match(e.explanation, new RegExp(`the kernel's OOM killer killed \\d+ process(es)? of job ${leaker.jobId} \\(alice\\) at its 64 MiB limit`));
    assert.ok((e.metrics.oomKills ?? 0) >= 1);
    assert.equal(l.events.filter((x) => x.rule === 'kernel-oom' && x.jobId === leaker.jobId).length, 1, 'reported once');
    await waitUntil('the event at the server', () => server.bodies.some((b) => b.jobId === leaker.jobId && b.rule === 'kernel-oom'), 5000);
    assert.deepEqual(server.invalid, []);
  });

  it('automatic: a fork storm at pids.max 64 is killed and its cgroup empties', async () => {
    const l = startLoop();
    const storm = job({ memBytes: 128 * MiB, pidsMax: 64 });
    const startedAt = performance.now();
    startInJob(storm, `timeout 30 sh -c 'while :; do sleep 30 & done'`);
    await waitUntil('the loop to act on the storm', () => l.events.some((e) => e.jobId === storm.jobId && e.outcome !== 'observed'), 10_000);
    const e = l.events.find((x) => x.jobId === storm.jobId && x.outcome !== 'observed')!;
    console.log(`fork storm at pids.max 64: ${e.rule} ${e.outcome} ${((e.decidedAtPerfMs - startedAt) / 1000).toFixed(2)} s after the start; decision→write ${e.timings?.decisionToWriteMs} ms, write→empty ${e.timings?.writeToEmptyMs} ms; ${e.explanation}`);
    assert.equal(e.rule, 'pids-explosion');
    assert.equal(e.action, 'kill');
    assert.equal(e.outcome, 'done', e.error ?? '');
    assert.equal(storm.populated(), false);
    await waitUntil('the event at the server', () => server.bodies.some((b) => b.jobId === storm.jobId && b.rule === 'pids-explosion'), 5000);
  });

  it('automatic: a job using more CPU than it asked for is throttled to its request', async () => {
    // The job asked for 0.2 CPUs; its quota (1 CPU) lets a bounded spinner (timeout 8 s) use ~5 times that.
    const l = startLoop({ detectors: { cpuHog: { sustainMs: 1000 } } });
    const hog = job({ memBytes: 64 * MiB, pidsMax: 8, cpus: 1 });
    requested.set(hog.jobId, 0.2);
    startInJob(hog, `timeout 8 sh -c 'while :; do :; done'`);
    await waitUntil('the loop to throttle the hog', () => l.events.some((e) => e.jobId === hog.jobId && e.outcome !== 'observed'), 8000);
    const e = l.events.find((x) => x.jobId === hog.jobId && x.outcome !== 'observed')!;
    assert.equal(e.rule, 'cpu-hog');
    assert.equal(e.action, 'throttle');
    assert.equal(e.outcome, 'done', e.error ?? '');
    const dirs = tree.jobDirs(hog.jobId);
    const cpu = dirs.cpu!;
    const quota = cpu.version === 2 ? fs.readFileSync(path.join(dirs.dir(cpu), 'cpu.max'), 'utf8').trim() : fs.readFileSync(path.join(dirs.dir(cpu), 'cpu.cfs_quota_us'), 'utf8').trim();
    const period = cpu.version === 2 ? Number(quota.split(' ')[1]) : Number(fs.readFileSync(path.join(dirs.dir(cpu), 'cpu.cfs_period_us'), 'utf8').trim());
    assert.equal(Number(quota.split(' ')[0]) / period, 0.2, `quota now ${quota}`);
    assert.ok(hog.populated(), 'a throttled job keeps running');
  });

  for (const mode of ['observe', 'automatic'] as const) {
    it(`login host, ${mode}: a user's spinning process is warned, reniced, then stopped${mode === 'observe' ? ' (reported only)' : ''}`, async () => {
      // A bounded spinner (timeout 10 s) as nobody, outside any job; thresholds shrunk to seconds.
      // Other users' processes present now are protected, so nothing but the spinner can be acted on.
      const others = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map((n) => { try { return fs.statSync(`/proc/${n}`).uid; } catch { return 0; } }).filter((uid) => uid >= 1000 && uid !== 65534);
      const l = startLoop({
        loginHost: true,
        rules: mode === 'automatic' ? { 'login-cpu-hog': { mode: 'automatic' } } : {},
        protect: { uids: [...new Set(others)] },
        detectors: { login: { cpuRatio: 0.5, stepMs: 500, warnAfterMs: 1000, reniceAfterMs: 2000, stopAfterMs: 3000 } },
      });
      const child = spawn('timeout', ['10', 'sh', '-c', 'while :; do :; done'], { uid: 65534, gid: 65534, stdio: 'ignore', detached: true });
      child.on('error', () => {});
      const timeoutPid = child.pid!;
      let spinner = 0;
      try {
        await waitUntil('the spinner to start', () => {
          const kids = fs.readFileSync(`/proc/${timeoutPid}/task/${timeoutPid}/children`, 'utf8').trim();
          spinner = Number(kids.split(' ')[0]) || 0;
          return spinner > 0;
        }, 3000);
        await waitUntil('the stop finding', () => l.events.some((e) => e.pid === spinner && e.severity === 'stop'), 9000);
        const mine = l.events.filter((e) => e.pid === spinner && e.rule === 'login-cpu-hog');
        assert.deepEqual(mine.map((e) => e.action), ['warn', 'renice', 'stop']);
        assert.ok(mine.every((e) => e.jobId === null && e.user === 'nobody' && e.mode === mode));
        if (mode === 'observe') {
          assert.ok(mine.every((e) => e.outcome === 'observed'));
          assert.notEqual(processState(spinner), 'T', 'not stopped in observe mode');
        } else {
          assert.ok(mine.every((e) => e.outcome === 'done'), JSON.stringify(mine.map((e) => e.error)));
          assert.equal(processState(spinner), 'T', 'stopped');
          assert.ok(mine[2]!.evidencePath && fs.existsSync(mine[2]!.evidencePath));
        }
        assert.ok(!l.events.some((e) => e.pid !== null && e.pid !== spinner), 'no other process reported');
      } finally {
        killQuietly(spinner);
        killQuietly(timeoutPid);
      }
    });
  }

  it('automatic: a job holding a protected process is never acted on; the finding is reported with the reason', async () => {
    const storm = job({ memBytes: 128 * MiB, pidsMax: 64 });
    startInJob(storm, 'exec sleep 30');
    await waitUntil('the protected sleeper to start', () => storm.pids().length === 1 && fs.readFileSync(`/proc/${storm.pids()[0]}/comm`, 'utf8').trim() === 'sleep');
    const [protectedPid] = storm.pids();
    const l = startLoop({ protect: { pids: [protectedPid] } });
    startInJob(storm, `timeout 30 sh -c 'while :; do sleep 30 & done'`);
    await waitUntil('the storm to be reported', () => l.events.some((e) => e.jobId === storm.jobId), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const mine = l.events.filter((e) => e.jobId === storm.jobId);
    assert.ok(mine.every((e) => e.action === 'none' && e.outcome === 'observed'), JSON.stringify(mine));
    assert.match(mine[0]!.victimExplanation, new RegExp(`protected pid ${protectedPid}`));
    assert.ok(alive(protectedPid!), 'the protected process survives');
    assert.ok(storm.populated());
  });

  it('observe: reports the storm and acts on nothing', async () => {
    const l = startLoop({ mode: 'observe' });
    const storm = job({ memBytes: 128 * MiB, pidsMax: 64 });
    startInJob(storm, `timeout 30 sh -c 'while :; do sleep 30 & done'`);
    await waitUntil('the loop to report the storm', () => l.events.some((e) => e.jobId === storm.jobId), 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    const mine = l.events.filter((x) => x.jobId === storm.jobId);
    assert.ok(mine.every((x) => x.outcome === 'observed' && x.mode === 'observe' && x.timings === null), JSON.stringify(mine));
    assert.equal(mine.filter((x) => x.rule === 'pids-explosion').length, 1, 'reported once, not every tick');
    assert.equal(mine[0]!.action, 'kill', 'says what automatic mode would have done');
    assert.ok(storm.populated(), 'the storm still runs');
    assert.ok(storm.pids().length >= 50);
    await waitUntil('the observed event at the server', () => server.bodies.some((b) => b.jobId === storm.jobId && b.outcome === 'observed'), 5000);
  });

  // Ask mode: a fork storm (sleepers only, pids.max 64, timeout 30) is frozen; the decision comes from an injected source.
  const frozenNow = (j: JobCgroup) => {
    const h = openJobHandles(tree, j.jobId);
    try {
      return jobFrozen(h);
    } finally {
      closeJobHandles(h);
    }
  };
  for (const verdict of ['approved', 'denied', 'timed-out'] as const) {
    it(`ask: a storm is frozen and reported pending; ${verdict} → ${verdict === 'denied' ? 'thawed and left alone' : 'killed'}`, async () => {
      const decided: ServerDecision[] = [];
      const asked: string[][] = [];
      const l = startLoop({ mode: 'ask', ask: { timeout: verdict === 'timed-out' ? '1500ms' : '5m', pollEvery: '100ms' } }, async (keys) => {
        asked.push(keys);
        // timed-out: the server is down the whole time; the node falls back on its own clock.
        if (verdict === 'timed-out') throw new Error('connect ECONNREFUSED');
        return decided.filter((d) => keys.includes(d.key));
      });
      const storm = job({ memBytes: 128 * MiB, pidsMax: 64 });
      startInJob(storm, `timeout 30 sh -c 'while :; do sleep 30 & done'`);
      await waitUntil('the pending event', () => l.events.some((e) => e.jobId === storm.jobId && e.outcome === 'pending'), 10_000);
      const p = l.events.find((e) => e.jobId === storm.jobId && e.outcome === 'pending')!;
      assert.equal(p.mode, 'ask');
      assert.equal(p.action, 'kill', 'the proposed action');
      assert.ok(p.ask && p.ask.decision === null && p.ask.proposed === 'kill');
      assert.ok(p.evidencePath && fs.existsSync(p.evidencePath), 'evidence kept at the freeze');
      assert.ok(frozenNow(storm), 'frozen while an operator decides');
      assert.ok(storm.populated());
      await waitUntil('the loop to ask for decisions', () => asked.some((k) => k.includes(p.ask!.key)), 3000);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(frozenNow(storm) && storm.populated(), 'still frozen: nothing decided');
      if (verdict !== 'timed-out') decided.push({ key: p.ask.key, decision: verdict, by: 'olga', at: new Date().toISOString(), reason: null });
      await waitUntil('the follow-up', () => l.events.some((e) => e.ask?.key === p.ask!.key && e.ask.decision !== null && e.outcome !== 'pending'), 5000);
      const f = l.events.find((e) => e.ask?.key === p.ask!.key && e.ask.decision !== null)!;
      assert.equal(f.ask!.decision, verdict);
      assert.equal(f.outcome, 'done', f.error ?? '');
      if (verdict === 'denied') {
        assert.equal(f.action, 'thaw');
        assert.equal(f.ask!.decidedBy, 'olga');
        assert.ok(!frozenNow(storm) && storm.populated(), 'thawed, running');
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(l.events.filter((e) => e.jobId === storm.jobId && e.outcome === 'pending').length, 1, 'not frozen again');
        assert.ok(!frozenNow(storm));
      } else {
        assert.equal(f.action, 'kill');
        assert.equal(f.ask!.decidedBy, verdict === 'approved' ? 'olga' : 'timeout');
        await waitUntil('the storm to be empty', () => !storm.populated(), 5000);
      }
      await waitUntil('both events at the server', () => server.bodies.filter((b) => b.ask?.key === p.ask!.key).length === 2, 5000);
      assert.deepEqual(server.invalid, []);
      assert.deepEqual(l.pendingKeys(), []);
    });
  }

  it('ask: a job that ends while pending closes the pending event', async () => {
    const l = startLoop({ mode: 'ask', ask: { pollEvery: '100ms' } }, async () => []);
    const storm = job({ memBytes: 128 * MiB, pidsMax: 64 });
    startInJob(storm, `timeout 30 sh -c 'while :; do sleep 30 & done'`);
    await waitUntil('the pending event', () => l.events.some((e) => e.jobId === storm.jobId && e.outcome === 'pending'), 10_000);
    const p = l.events.find((e) => e.jobId === storm.jobId && e.outcome === 'pending')!;
    storm.kill(); // the job ends on its own (scancel, walltime): its cgroup goes
    await waitUntil('the closing event', () => l.events.some((e) => e.ask?.key === p.ask!.key && e.ask.decision === 'ended'), 5000);
    const f = l.events.find((e) => e.ask?.key === p.ask!.key && e.ask.decision === 'ended')!;
    assert.equal(f.action, 'none');
    assert.deepEqual(l.pendingKeys(), []);
  });
});
