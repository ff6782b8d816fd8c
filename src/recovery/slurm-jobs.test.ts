/**
 * The watchdog on SLURM's job cgroups. Pure parsers first; then REAL cgroups laid out as SLURM
 * 22.05 lays them out (task/cgroup + proctrack/cgroup), under a private test root that stands for
 * SLURM's `slurm` (v1) or `system.slice/slurmstepd.scope` (v2, in the cgroup2 hierarchy — the side
 * hierarchy on a hybrid host, where it has no controllers: kill, freeze and the layout are tested
 * there, memory on v1). A stand-in slurmstepd (a copy of sleep named slurmstepd) sits in the step's
 * cgroup as SLURM's does and must survive. Fences (notes/recovery.md §11): the leaker is bounded
 * (≤ 160 MiB at ~20 MiB/s under `timeout 30`) in a 64 MiB limit; `after` kills and removes all.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { detectCgroupLayout } from '../batch/executors/local/cgroups.ts';
import { asSlurmEvent, RecoveryLoop, type LoopEvent } from './loop.ts';
import { recoveryEventInputSchema, type RecoveryEventInput } from './model.ts';
import { EventReporter } from './reporter.ts';
import { recoverySettings, resolveRecoverySettings } from './settings.ts';
import { SlurmCgroupTree, cpuCount, cpusetMountOf, findSlurmRoot, slurmJobIdOf, slurmJobLimits, slurmJobRecords, slurmUidOf, stepdOf } from './slurm-jobs.ts';
import { alive, describeOnRealCgroups, killQuietly, testParent, waitUntil } from './testing.ts';

const MiB = 1024 ** 2;
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

describe('SLURM cgroup names (pure)', () => {
  it('job_<id>, uid_<uid>, cpuset lists, slurmstepd command lines', () => {
    assert.equal(slurmJobIdOf('job_4711'), 4711);
    for (const other of ['job_', 'job-4711', 'job_47a', 'step_batch', 'uid_1000']) assert.equal(slurmJobIdOf(other), null, other);
    assert.equal(slurmUidOf('uid_1000'), 1000);
    assert.equal(slurmUidOf('job_1000'), null);
    assert.equal(cpuCount('0-3,8,10-11\n'), 7);
    assert.equal(cpuCount('5'), 1);
    for (const bad of ['', '\n', '3-1', 'a', '0-3,']) assert.equal(cpuCount(bad), null, JSON.stringify(bad));
    assert.deepEqual(stepdOf('slurmstepd: [4711.batch]\0'), { jobId: 4711, step: 'batch' });
    assert.deepEqual(stepdOf('slurmstepd: [4711.0]'), { jobId: 4711, step: '0' });
    assert.deepEqual(stepdOf('slurmstepd: [4711.extern]'), { jobId: 4711, step: 'extern' });
    assert.equal(stepdOf('/usr/sbin/slurmd -D'), null);
    const mountinfo = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
      '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    assert.equal(cpusetMountOf(mountinfo), '/sys/fs/cgroup/cpuset');
    assert.equal(cpusetMountOf('41 31 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw'), null);
  });

  it("a SLURM node's event carries SLURM's id as slurmJobId (jobId null) and its texts say 'SLURM job N'", () => {
    const raw: LoopEvent = {
      host: 'n1', at: '2026-11-23T08:00:00.000Z', rule: 'memory-limit', severity: 'act', mode: 'automatic', jobId: 4711, pid: null, user: 'alice', action: 'kill', outcome: 'done',
      explanation: 'job 4711 (alice): memory 63 of 64 MiB; not job 47110', victimExplanation: 'job 4711 is the only one', metrics: {}, timings: null, evidencePath: null, error: null, decidedAtPerfMs: 0,
    };
    const e = asSlurmEvent(raw);
    assert.deepEqual([e.jobId, e.slurmJobId], [null, 4711]);
    assert.equal(e.explanation, 'SLURM job 4711 (alice): memory 63 of 64 MiB; not job 47110');
    assert.equal(e.victimExplanation, 'SLURM job 4711 is the only one');
    assert.equal(asSlurmEvent(e).explanation, e.explanation, 'idempotent');
    assert.ok(recoveryEventInputSchema.safeParse((({ decidedAtPerfMs: _d, ...body }) => body)(e)).success);
  });
});

/** A fake server of POST /api/recovery/events. */
async function fakeServer(): Promise<{ url: string; bodies: RecoveryEventInput[]; close: () => Promise<void> }> {
  const bodies: RecoveryEventInput[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const parsed = recoveryEventInputSchema.safeParse(JSON.parse(text));
      if (!parsed.success) {
        res.writeHead(400).end('{}');
        return;
      }
      bodies.push(parsed.data);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: bodies.length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Starts `sh -c work` after writing its pid into every cgroup.procs given (so all it forks is there). */
function startIn(procsFiles: string[], work: string, argv0 = 'sh'): number {
  const script = 'for f in "$@"; do echo $$ > "$f" || exit 97; done; exec sh -c "$KEISAN_TEST_WORK"';
  const child = spawn(argv0 === 'sh' ? 'sh' : argv0, argv0 === 'sh' ? ['-c', script, 'sh', ...procsFiles] : [], { detached: true, stdio: 'ignore', env: { PATH: '/usr/bin:/bin', KEISAN_TEST_WORK: work } });
  child.on('error', () => {});
  child.unref();
  if (child.pid === undefined) throw new Error('could not start sh');
  return child.pid;
}

/** A stand-in slurmstepd: a copy of sleep whose comm is `slurmstepd`, moved into the cgroups given. */
function startStepd(binDir: string, procsFiles: string[]): number {
  const bin = path.join(binDir, 'slurmstepd');
  if (!fs.existsSync(bin)) fs.copyFileSync('/bin/sleep', bin);
  fs.chmodSync(bin, 0o755);
  const child = spawn(bin, ['120'], { detached: true, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
  if (child.pid === undefined) throw new Error('could not start the stand-in slurmstepd');
  for (const f of procsFiles) fs.writeFileSync(f, String(child.pid));
  return child.pid;
}

/** SIGKILLs every process in a cgroup directory tree. */
function killAllIn(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const line of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) killQuietly(Number(line));
  for (const name of fs.readdirSync(dir)) {
    const sub = path.join(dir, name);
    if (fs.statSync(sub).isDirectory()) killAllIn(sub);
  }
}

/** Removes a cgroup directory tree bottom-up, killing what is left in it first. */
function removeCgroupTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  killAllIn(dir);
  for (const name of fs.readdirSync(dir)) {
    const sub = path.join(dir, name);
    if (fs.statSync(sub).isDirectory()) removeCgroupTree(sub);
  }
  for (let i = 0; i < 200; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  fs.rmdirSync(dir);
}

const layout = detectCgroupLayout();
const v1Skip = layout.kind !== 'v1' || !layout.v1.memory || !layout.v1.freezer ? 'needs the v1 memory and freezer hierarchies (SLURM v1 layout)' : undefined;

describeOnRealCgroups("SLURM's cgroup v1 layout (task/cgroup + proctrack/cgroup) on real cgroups", () => {
  const base = `${testParent()}-slurm1`;
  const root = `${base}/slurm`;
  const uid = 1000;
  const jobId = 4711;
  const controllers = ['memory', 'freezer', 'cpuset', 'cpuacct'] as const;
  const cpusetMount = cpusetMountOf(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  const mountOf = (c: (typeof controllers)[number]) => (c === 'cpuset' ? cpusetMount : layout.v1[c]) ?? null;
  const mounts = controllers.flatMap((c) => (mountOf(c) ? [[c, mountOf(c)!] as const] : []));
  const started: number[] = [];
  let binDir = '';
  let server: Awaited<ReturnType<typeof fakeServer>> | null = null;
  let loop: RecoveryLoop | null = null;
  let reporter: EventReporter | null = null;

  /** The job's directory in a controller and its step_batch (and memory's task_0), as slurmstepd makes them. */
  const jobDir = (mount: string) => path.join(mount, root, `uid_${uid}`, `job_${jobId}`);
  const stepDir = (c: string, mount: string) => path.join(jobDir(mount), 'step_batch', ...(c === 'memory' || c === 'cpuacct' ? ['task_0'] : []));

  before(async () => {
    if (v1Skip) return;
    binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-stepd-'));
    for (const [c, mount] of mounts) {
      const levels = [path.join(mount, base), path.join(mount, root), path.join(mount, root, `uid_${uid}`), jobDir(mount), path.join(jobDir(mount), 'step_batch'), stepDir(c, mount)];
      for (const dir of levels) {
        if (!fs.existsSync(dir)) fs.mkdirSync(dir);
        if (c === 'cpuset') {
          // A v1 cpuset takes processes only with CPUs and memory nodes of its own; SLURM writes the job's.
          fs.writeFileSync(path.join(dir, 'cpuset.mems'), fs.readFileSync(path.join(mount, 'cpuset.mems'), 'utf8').trim() || '0');
          fs.writeFileSync(path.join(dir, 'cpuset.cpus'), dir === path.join(mount, base) || dir === path.join(mount, root) || dir.endsWith(`uid_${uid}`) ? fs.readFileSync(path.join(mount, 'cpuset.cpus'), 'utf8').trim() : '0');
        }
        if (c === 'memory' && dir === path.join(mount, base)) fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(512 * MiB));
      }
      if (c === 'memory') fs.writeFileSync(path.join(jobDir(mount), 'memory.limit_in_bytes'), String(64 * MiB));
    }
    server = await fakeServer();
  });

  afterEach(async () => {
    await loop?.stop();
    loop = null;
    reporter?.stop();
    reporter = null;
  });

  after(async () => {
    for (const pid of started) killQuietly(pid);
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const [, mount] of mounts) {
      const frozen = path.join(mount, base);
      if (fs.existsSync(frozen)) removeCgroupTree(frozen);
    }
    await server?.close();
    if (binDir) fs.rmSync(binDir, { recursive: true, force: true });
  });

  it('finds the job, its owner from uid_<uid>, its memory limit and cpuset, and its processes but slurmstepd', { skip: v1Skip }, () => {
    const tree = SlurmCgroupTree.open({ layout, root });
    const stepd = startStepd(binDir, mounts.map(([c, m]) => path.join(c === 'memory' || c === 'cpuacct' ? path.join(jobDir(m), 'step_batch') : stepDir(c, m), 'cgroup.procs')));
    started.push(stepd);
    assert.deepEqual(tree.jobIds(), [jobId]);
    assert.equal(tree.uidOf(jobId), uid);
    assert.deepEqual(slurmJobLimits(tree, jobId), { memBytes: 64 * MiB, cpus: 1 });
    const info = slurmJobRecords(tree, { readPasswd: () => 'alice:x:1000:1000::/home/alice:/bin/sh\n' })(jobId);
    assert.deepEqual(info, { uid, user: 'alice', requestedMemBytes: 64 * MiB, requestedCpus: 1 });
    const d = tree.jobDirs(jobId);
    assert.ok(d.memory && d.freezer, 'memory and freezer dirs');
    assert.equal(d.dir(d.memory), jobDir(layout.v1.memory!));
    assert.equal(d.v2, undefined, 'SLURM v1 makes nothing in the cgroup2 side hierarchy');
    assert.deepEqual(tree.job(jobId).pids(), [], 'slurmstepd is not one of the job processes');
    assert.equal(tree.job(jobId).populated(), false);
    assert.ok(alive(stepd));
    assert.deepEqual(tree.parentControllerDirs().memory, { dir: path.join(layout.v1.memory!, root), version: 1 });
  });

  it("automatic: kills a SLURM job leaking into its 64 MiB limit, reports SLURM's id, and slurmstepd lives on", { skip: v1Skip }, async () => {
    const tree = SlurmCgroupTree.open({ layout, root });
    const stepd = started.find((pid) => alive(pid)) ?? startStepd(binDir, mounts.map(([c, m]) => path.join(c === 'memory' || c === 'cpuacct' ? path.join(jobDir(m), 'step_batch') : stepDir(c, m), 'cgroup.procs')));
    if (!started.includes(stepd)) started.push(stepd);
    const evidenceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-evidence-'));
    try {
      const settings = resolveRecoverySettings(recoverySettings.parse({ detectors: { pids: { minPids: 16 } }, evidenceDir }), '/nonexistent');
      reporter = new EventReporter({ serverUrl: server!.url, nodeSecret: 's3cret', backoffMs: 50 });
      loop = new RecoveryLoop({ tree, settings, host: 'slurm-node', reporter, logger: quiet, jobInfo: slurmJobRecords(tree, { readPasswd: () => 'alice:x:1000:1000::/home/alice:/bin/sh\n' }) });
      loop.start();
      const LEAK = `timeout 30 ${process.execPath} -e 'const a=[];const t=setInterval(()=>{if(a.length<160)a.push(Buffer.alloc(1048576,1));},50);setTimeout(()=>clearInterval(t),25000)'`;
      const leaker = startIn(mounts.map(([c, m]) => path.join(stepDir(c, m), 'cgroup.procs')), LEAK);
      started.push(leaker);
      const l = loop;
      await waitUntil('the loop to act on the SLURM job', () => l.events.some((e) => e.slurmJobId === jobId && e.outcome !== 'observed'), 20_000).catch((error: Error) => {
        throw new Error(`${error.message}; ticks ${l.ticks}, tick errors ${l.tickErrors}, events ${JSON.stringify(l.events.map((x) => [x.slurmJobId, x.rule, x.outcome, x.explanation, x.error]))}`);
      });
      const e = l.events.find((x) => x.slurmJobId === jobId && x.outcome !== 'observed')!;
      assert.ok(['memory-limit', 'memory-thrash'].includes(e.rule), e.rule);
      assert.deepEqual([e.action, e.outcome, e.jobId, e.user], ['kill', 'done', null, 'alice'], e.error ?? '');
      assert.match(e.explanation, new RegExp(`SLURM job ${jobId}\\b`));
      await waitUntil('the leaker to be gone', () => !alive(leaker), 5000);
      assert.deepEqual(tree.job(jobId).pids(), []);
      assert.ok(alive(stepd), 'slurmstepd survives the kill (SLURM then ends the job itself)');
      assert.equal(fs.readFileSync(path.join(jobDir(layout.v1.freezer!), 'freezer.state'), 'utf8').trim(), 'THAWED', 'the job is thawed after the kill');
      assert.ok(e.evidencePath && fs.existsSync(e.evidencePath), 'evidence written');
      await waitUntil('the event at the server', () => server!.bodies.some((b) => b.slurmJobId === jobId && b.action === 'kill'), 5000);
      const body = server!.bodies.find((b) => b.slurmJobId === jobId && b.action === 'kill')!;
      assert.equal(body.jobId, null);
      console.log(`SLURM v1 leak in 64 MiB: ${e.rule} ${e.action} ${e.outcome}; decision→write ${e.timings?.decisionToWriteMs} ms, write→empty ${e.timings?.writeToEmptyMs} ms; ${e.explanation}`);
    } finally {
      fs.rmSync(evidenceDir, { recursive: true, force: true });
    }
  });

  it("observe: the kernel's OOM kill in the job's task cgroup (v1 counts it there, not at the job's limit) is reported as kernel-oom with SLURM's id", { skip: v1Skip }, async () => {
    const tree = SlurmCgroupTree.open({ layout, root });
    const evidenceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-evidence-'));
    try {
      const settings = resolveRecoverySettings(recoverySettings.parse({ mode: 'observe', detectors: { pids: { minPids: 16 } }, evidenceDir }), '/nonexistent');
      loop = new RecoveryLoop({ tree, settings, host: 'slurm-node', reporter: null, logger: quiet, jobInfo: slurmJobRecords(tree, { readPasswd: () => '' }) });
      loop.start();
      const l = loop;
      await waitUntil('the loop to follow the job', () => l.recentSamples().some((x) => x.jobs.some((j) => j.jobId === jobId)), 5000);
      const LEAK = `timeout 30 ${process.execPath} -e 'const a=[];const t=setInterval(()=>{if(a.length<160)a.push(Buffer.alloc(1048576,1));},50);setTimeout(()=>clearInterval(t),25000)'`;
      const leaker = startIn(mounts.map(([c, m]) => path.join(stepDir(c, m), 'cgroup.procs')), LEAK);
      started.push(leaker);
      await waitUntil('a kernel-oom event', () => l.events.some((e) => e.slurmJobId === jobId && e.rule === 'kernel-oom'), 20_000).catch((error: Error) => {
        throw new Error(`${error.message}; job oom_kill ${fs.readFileSync(path.join(jobDir(layout.v1.memory!), 'memory.oom_control'), 'utf8').replace(/\n/g, ' ')}; events ${JSON.stringify(l.events.map((x) => [x.slurmJobId, x.rule, x.outcome]))}`);
      });
      const e = l.events.find((x) => x.slurmJobId === jobId && x.rule === 'kernel-oom')!;
      assert.deepEqual([e.action, e.outcome, e.jobId], ['none', 'observed', null]);
      assert.match(e.explanation, new RegExp(`SLURM job ${jobId}\\b`));
      assert.match(fs.readFileSync(path.join(jobDir(layout.v1.memory!), 'memory.oom_control'), 'utf8'), /^oom_kill 0$/m, 'the job level counts none: the kill is counted in task_0');
    } finally {
      fs.rmSync(evidenceDir, { recursive: true, force: true });
    }
  });
});

const v2Skip = !layout.unified || !fs.existsSync(path.join(layout.unified, 'cgroup.procs')) ? 'needs a cgroup2 hierarchy' : undefined;

describeOnRealCgroups("SLURM's cgroup v2 layout (system.slice/slurmstepd.scope/job_<id>/step_*/{slurm,user}) on real cgroups", () => {
  const base = `${testParent()}-slurm2`;
  const root = `${base}/system.slice/slurmstepd.scope`;
  const jobId = 4712;
  const mount = layout.unified ?? '/nonexistent';
  const v2Layout = { kind: 'v2' as const, v1: {}, unified: mount };
  const jobDir = path.join(mount, root, `job_${jobId}`);
  const started: number[] = [];
  let binDir = '';

  before(() => {
    if (v2Skip) return;
    binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-stepd-'));
    for (const dir of [path.join(jobDir, 'step_batch', 'slurm'), path.join(jobDir, 'step_batch', 'user', 'task_0'), path.join(jobDir, 'step_extern', 'slurm'), path.join(jobDir, 'step_extern', 'user', 'task_special')]) fs.mkdirSync(dir, { recursive: true });
  });

  after(async () => {
    for (const pid of started) killQuietly(pid);
    await new Promise((resolve) => setTimeout(resolve, 100));
    removeCgroupTree(path.join(mount, base));
    if (binDir) fs.rmSync(binDir, { recursive: true, force: true });
  });

  it('finds the job and its user processes (not slurmstepd in step_*/slurm); freeze and thaw the user cgroups; kill through their cgroup.kill; slurmstepd lives on', { skip: v2Skip }, async () => {
    const tree = SlurmCgroupTree.open({ layout: v2Layout, root });
    assert.equal(tree.mode, 'v2');
    const stepd = startStepd(binDir, [path.join(jobDir, 'step_batch', 'slurm', 'cgroup.procs')]);
    started.push(stepd);
    const task = startIn([path.join(jobDir, 'step_batch', 'user', 'task_0', 'cgroup.procs')], 'sleep 60 & sleep 60 & wait');
    const extern = startIn([path.join(jobDir, 'step_extern', 'user', 'task_special', 'cgroup.procs')], 'sleep 60');
    started.push(task, extern);
    assert.deepEqual(tree.jobIds(), [jobId]);
    await waitUntil('the task, its two sleeps and the extern sleep', () => tree.job(jobId).pids().length >= 4 && tree.job(jobId).pids().includes(extern));
    assert.ok(!tree.job(jobId).pids().includes(stepd));
    assert.equal(tree.uidOf(jobId), null, "root's processes name no owner (a real job's are the user's)");
    const d = tree.jobDirs(jobId);
    assert.equal(d.v2 && d.dir(d.v2), jobDir);

    const frozen = await tree.freeze(jobId, { timeoutMs: 2000 });
    assert.equal(frozen.done, true);
    assert.match(fs.readFileSync(path.join(jobDir, 'step_batch', 'user', 'cgroup.events'), 'utf8'), /^frozen 1/m);
    assert.match(fs.readFileSync(path.join(jobDir, 'step_batch', 'slurm', 'cgroup.events'), 'utf8'), /^frozen 0/m, 'slurmstepd is not frozen');
    tree.thaw(jobId);
    assert.match(fs.readFileSync(path.join(jobDir, 'step_batch', 'user', 'cgroup.events'), 'utf8'), /^frozen 0/m);

    const killed = await tree.kill(jobId, { timeoutMs: 5000 });
    assert.deepEqual([killed.path, killed.empty], ['cgroup.kill', true]);
    assert.equal(tree.job(jobId).populated(), false);
    assert.ok(!alive(task) && !alive(extern));
    assert.ok(alive(stepd), 'slurmstepd survives');
  });

  it('finds the stepd scope by its name', { skip: v2Skip }, () => {
    assert.equal(findSlurmRoot({ kind: 'v2', v1: {}, unified: path.join(mount, base) }), 'system.slice/slurmstepd.scope');
  });
});

const pureV2 = layout.kind === 'v2' && layout.unified !== null && (fs.readFileSync(path.join(layout.unified, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory'));
const pureV2Skip = pureV2 ? undefined : 'needs a pure cgroup v2 host with the memory controller (SLURM cgroup/v2 with ConstrainRAMSpace)';

describeOnRealCgroups("SLURM's cgroup v2 layout with controllers (pure v2 host)", () => {
  const base = `${testParent()}-slurm2c`;
  const root = `${base}/system.slice/slurmstepd.scope`;
  const jobId = 4714;
  const mount = layout.unified ?? '/nonexistent';
  const jobDir = path.join(mount, root, `job_${jobId}`);
  const started: number[] = [];
  let binDir = '';
  let loop: RecoveryLoop | null = null;

  before(() => {
    if (pureV2Skip) return;
    binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-stepd-'));
    const wanted = fs.readFileSync(path.join(mount, 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter((c) => ['memory', 'pids', 'cpu', 'cpuset'].includes(c));
    // As slurmd does: controllers enabled from the scope down to each step; processes only in the leaves.
    let dir = mount;
    for (const part of [...root.split('/'), `job_${jobId}`, 'step_batch']) {
      dir = path.join(dir, part);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
    }
    for (const leaf of ['slurm', 'user']) fs.mkdirSync(path.join(jobDir, 'step_batch', leaf));
    fs.writeFileSync(path.join(jobDir, 'step_batch', 'user', 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
    fs.mkdirSync(path.join(jobDir, 'step_batch', 'user', 'task_0'));
    fs.writeFileSync(path.join(jobDir, 'memory.max'), String(64 * MiB));
    if (fs.existsSync(path.join(jobDir, 'memory.swap.max'))) fs.writeFileSync(path.join(jobDir, 'memory.swap.max'), '0');
    if (wanted.includes('cpuset')) fs.writeFileSync(path.join(jobDir, 'cpuset.cpus'), '0');
  });

  after(async () => {
    await loop?.stop();
    for (const pid of started) killQuietly(pid);
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!pureV2Skip) removeCgroupTree(path.join(mount, base));
    if (binDir) fs.rmSync(binDir, { recursive: true, force: true });
  });

  it("reads the job's memory.current/max, kills a leak through step_*/user cgroup.kill before the kernel does, and slurmstepd lives on", { skip: pureV2Skip }, async () => {
    const tree = SlurmCgroupTree.open({ layout, root });
    const stepd = startStepd(binDir, [path.join(jobDir, 'step_batch', 'slurm', 'cgroup.procs')]);
    started.push(stepd);
    const limits = slurmJobLimits(tree, jobId);
    assert.equal(limits.memBytes, 64 * MiB);
    const d = tree.jobDirs(jobId);
    assert.ok(d.memory && d.memory.version === 2, JSON.stringify(d));
    const evidenceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-evidence-'));
    try {
      const settings = resolveRecoverySettings(recoverySettings.parse({ detectors: { pids: { minPids: 16 } }, evidenceDir }), '/nonexistent');
      loop = new RecoveryLoop({ tree, settings, host: 'slurm-node', reporter: null, logger: quiet, jobInfo: slurmJobRecords(tree, { readPasswd: () => '' }) });
      loop.start();
      const LEAK = `timeout 30 ${process.execPath} -e 'const a=[];const t=setInterval(()=>{if(a.length<160)a.push(Buffer.alloc(1048576,1));},50);setTimeout(()=>clearInterval(t),25000)'`;
      const leaker = startIn([path.join(jobDir, 'step_batch', 'user', 'task_0', 'cgroup.procs')], LEAK);
      started.push(leaker);
      const l = loop;
      await waitUntil('the loop to act on the SLURM job', () => l.events.some((e) => e.slurmJobId === jobId && e.outcome !== 'observed'), 20_000).catch((error: Error) => {
        throw new Error(`${error.message}; ticks ${l.ticks}, tick errors ${l.tickErrors}; last sample ${JSON.stringify(l.recentSamples().at(-1)?.jobs)}; events ${JSON.stringify(l.events.map((x) => [x.slurmJobId, x.rule, x.outcome, x.explanation, x.error]))}`);
      });
      const e = l.events.find((x) => x.slurmJobId === jobId && x.outcome !== 'observed')!;
      console.log(`SLURM v2 leak in 64 MiB: ${e.rule} ${e.action} ${e.outcome}; decision→write ${e.timings?.decisionToWriteMs} ms, write→empty ${e.timings?.writeToEmptyMs} ms; ${e.explanation}; requested cpus ${limits.cpus}`);
      assert.deepEqual([e.action, e.outcome, e.jobId], ['kill', 'done', null], e.error ?? '');
      assert.ok(['memory-limit', 'memory-thrash'].includes(e.rule), e.rule);
      await waitUntil('the leaker to be gone', () => !alive(leaker), 5000);
      assert.ok(alive(stepd), 'slurmstepd survives');
      assert.match(fs.readFileSync(path.join(jobDir, 'memory.events'), 'utf8'), /^oom_kill 0$/m, 'the kernel did not kill first');
    } finally {
      fs.rmSync(evidenceDir, { recursive: true, force: true });
    }
  });
});
