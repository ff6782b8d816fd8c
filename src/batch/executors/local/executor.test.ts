/**
 * The local executor against real cgroups (v1 here; the v2 code path runs on the cgroup2 side
 * hierarchy). Safety: every test tree has a private parent cgroup capped at 1 GiB and 256
 * processes, every job has a 64 MiB memory limit and pids.max 64, every wait is bounded, and
 * after() kills and removes everything it made, also when a test failed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CgroupTree, detectCgroupLayout, type CgroupLayout, type CgroupTreeOptions } from './cgroups.ts';
import { LocalExecutor, type LocalExecutorOptions } from './executor.ts';
import { processStartTime, readStarted } from './state.ts';
import { cgroupSkipReason, EndCollector, spec, tempDir, testCgroupRoot, waitFor } from './testing.ts';

const skip = cgroupSkipReason();
const MiB = 1024 * 1024;
const NODE = process.execPath;

/** One executor on a private cgroup root and state dir, torn down whatever happens. */
class Harness {
  readonly root = testCgroupRoot();
  readonly stateDir = tempDir('keisan-exec-state');
  readonly outDir = tempDir('keisan-exec-out');
  readonly executors: LocalExecutor[] = [];
  readonly cgroupOptions: CgroupTreeOptions | false;

  constructor(cgroups: Omit<CgroupTreeOptions, 'root'> | false = {}) {
    this.cgroupOptions = cgroups === false ? false : { parentMemBytes: 1024 * MiB, parentPidsMax: 256, ...cgroups, root: this.root };
    fs.chmodSync(this.outDir, 0o777);
  }

  executor(options: Partial<LocalExecutorOptions> = {}): { ex: LocalExecutor; ends: EndCollector } {
    const ex = new LocalExecutor({ stateDir: this.stateDir, cgroups: this.cgroupOptions, pidsMax: 64, pollIntervalMs: 50, ...options });
    this.executors.push(ex);
    return { ex, ends: new EndCollector(ex) };
  }

  jobDir(jobId: number): string {
    return path.join(this.stateDir, 'jobs', String(jobId));
  }

  out(jobId: number): string {
    const file = path.join(this.outDir, `${jobId}.out`);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  }

  async teardown(): Promise<void> {
    for (const ex of this.executors) await ex.close();
    if (this.cgroupOptions !== false) {
      const left = CgroupTree.open({ ...this.cgroupOptions, parentMemBytes: null, parentPidsMax: null }).destroy();
      assert.deepEqual(left, [], 'every test cgroup removed');
    } else {
      // No cgroups: kill what is left of each job's session.
      for (const name of fs.existsSync(path.join(this.stateDir, 'jobs')) ? fs.readdirSync(path.join(this.stateDir, 'jobs')) : []) {
        const started = readStarted(path.join(this.stateDir, 'jobs', name));
        if (started && processStartTime(started.pid) === started.starttime) process.kill(started.pid, 'SIGKILL');
      }
    }
    fs.rmSync(this.stateDir, { recursive: true, force: true });
    fs.rmSync(this.outDir, { recursive: true, force: true });
  }
}

function devicesSkip(): string | false {
  if (skip) return skip;
  return detectCgroupLayout().v1.devices ? false : 'no v1 devices controller (cgroup v2 device control needs eBPF, not used)';
}

describe('local executor with cgroups', { skip }, () => {
  let h: Harness;
  let ex: LocalExecutor;
  let ends: EndCollector;

  before(() => {
    h = new Harness();
    ({ ex, ends } = h.executor());
  });
  after(() => h.teardown());

  it('says what it enforces', () => {
    const caps = ex.capabilities();
    assert.equal(caps.cgroups, detectCgroupLayout().kind);
    assert.equal(caps.cgroupRoot, h.root);
    assert.equal(caps.parentMemBytes, 1024 * MiB);
    assert.ok(caps.enforced.some((e) => e.startsWith('memory limit per job')));
    assert.ok(caps.enforced.some((e) => e.startsWith('time limits')));
    assert.equal(caps.runsAsUsers, true);
  });

  it('runs a job in its own cgroups with the limits written, before any user code', async () => {
    const s = spec(1, 'cat /proc/self/cgroup; sleep 0.5', h.outDir, { cpus: 0.5, memBytes: 48 * MiB });
    const started = await ex.start(s);
    assert.ok(started.cgroups.length > 0);
    const running = await waitFor('the job in its cgroup', () => {
      const u = ex.usage(1);
      return u !== null && u.pids >= 1 && u;
    });
    assert.ok(running.memBytes !== null && running.memBytes > 0);
    const tree = CgroupTree.open({ root: h.root, parentMemBytes: null, parentPidsMax: null });
    const stats = tree.job(1).stats();
    assert.equal(stats.memLimitBytes, 48 * MiB);
    if (tree.mode === 'v1') {
      const cpu = path.join(tree.layout.v1.cpu!, h.root, 'job-1');
      const period = Number(fs.readFileSync(path.join(cpu, 'cpu.cfs_period_us'), 'utf8'));
      assert.equal(Number(fs.readFileSync(path.join(cpu, 'cpu.cfs_quota_us'), 'utf8')), period / 2);
      assert.equal(fs.readFileSync(path.join(tree.layout.v1.pids!, h.root, 'job-1', 'pids.max'), 'utf8').trim(), '64');
    }
    const end = await ends.end(1);
    assert.equal(end.state, 'completed');
    const cgroupLines = h.out(1).trim().split('\n');
    for (const c of ['memory', 'pids', 'cpu', 'freezer']) {
      if (tree.layout.v1[c as 'memory']) assert.ok(cgroupLines.some((l) => l.includes(`${c}`) && l.endsWith(`/${h.root}/job-1`)), `in the ${c} cgroup: ${cgroupLines.join(' | ')}`);
    }
    if (tree.layout.unified) assert.ok(cgroupLines.includes(`0::/${h.root}/job-1`));
    assert.equal(fs.existsSync(started.cgroups[0]!), false, 'the cgroup is removed at the end');
    assert.equal(end.memLimitBytes, 48 * MiB);
    assert.ok(end.wallMs !== null && end.wallMs >= 400, `wall time ${end.wallMs}`);
    assert.ok(end.cpuSeconds !== null && end.peakMemBytes !== null && end.peakMemBytes > 0);
  });

  it('reports exit codes 0 and 3 and death by a signal', async () => {
    await ex.start(spec(2, 'exit 0', h.outDir));
    await ex.start(spec(3, 'echo before; exit 3', h.outDir));
    await ex.start(spec(4, 'kill -TERM $$', h.outDir));
    const [e2, e3, e4] = await Promise.all([ends.end(2), ends.end(3), ends.end(4)]);
    assert.deepEqual([e2.state, e2.exitCode, e2.signal], ['completed', 0, null]);
    assert.deepEqual([e3.state, e3.exitCode, e3.reason], ['failed', 3, 'exit code 3']);
    assert.deepEqual([e4.state, e4.exitCode, e4.signal], ['failed', 143, 'SIGTERM']);
    assert.equal(h.out(3), 'before\n');
  });

  it('passes exactly the given environment, the working directory, and separate output and error files', async () => {
    const work = tempDir('keisan-exec-cwd');
    try {
      const s = spec(5, 'echo "foo=$FOO cwd=$(pwd) home=${HOME-unset}"; echo oops >&2; echo "args: $*"', h.outDir, {
        cwd: work,
        env: { PATH: '/usr/bin:/bin', FOO: 'bar baz' },
        stderrPath: path.join(h.outDir, '5.err'),
        args: ['one', 'two words'],
      });
      await ex.start(s);
      const end = await ends.end(5);
      assert.equal(end.state, 'completed');
      assert.equal(h.out(5), `foo=bar baz cwd=${work} home=unset\nargs: one two words\n`);
      assert.equal(fs.readFileSync(path.join(h.outDir, '5.err'), 'utf8'), 'oops\n');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('runs as the job user (uid, gid, groups, queue nice), who opens the output files and cannot forge records', async () => {
    const s = spec(6, `id -u; id -g; cut -d' ' -f19 /proc/$$/stat; { echo rc=0 > ${h.jobDir(6)}/exit; } 2>/dev/null || echo denied; exit 5`, h.outDir, {
      user: { name: 'nobody', uid: 65534, gid: 65534 },
      nice: 5,
    });
    await ex.start(s);
    const end = await ends.end(6);
    assert.deepEqual([end.state, end.exitCode], ['failed', 5]);
    assert.equal(h.out(6), '65534\n65534\n5\ndenied\n');
    assert.equal(fs.statSync(path.join(h.outDir, '6.out')).uid, 65534);
  });

  it("gives a job user exactly the job's environment, also with names /bin/sh cannot export", async () => {
    const nobody = { name: 'nobody', uid: 65534, gid: 65534 };
    const listing = '/usr/bin/env | grep -v -e ^PWD= -e ^OLDPWD= | sort';
    const plain = { PATH: '/usr/bin:/bin', FOO: 'bar  baz', EMPTY: '', QUOTE: `it's "x" $HOME \\` };
    const odd = { ...plain, 'dotted.name': 'd', 'with-dash': 'w' };
    await ex.start(spec(15, listing, h.outDir, { user: nobody, env: plain }));
    await ex.start(spec(16, listing, h.outDir, { user: nobody, env: odd }));
    assert.equal((await ends.end(15)).state, 'completed');
    assert.equal((await ends.end(16)).state, 'completed');
    const expected = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}=${v}`).sort().join('\n') + '\n';
    assert.equal(h.out(15), expected(plain));
    // Through `env -i`; dash itself drops names that are not shell variables before the script runs.
    const shellNames = h.out(16).split('\n').filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l));
    assert.equal(shellNames.join('\n') + '\n', expected(plain));
  });

  it("runs a user's script from a descriptor when the user cannot reach the state directory", async () => {
    const priv = tempDir('keisan-exec-private');
    fs.chmodSync(priv, 0o700);
    try {
      const other = new LocalExecutor({ stateDir: path.join(priv, 'state'), cgroups: h.cgroupOptions, pidsMax: 64, pollIntervalMs: 50 });
      h.executors.push(other);
      const otherEnds = new EndCollector(other);
      await other.start(spec(60, 'echo "0=$0"; id -u', h.outDir, { user: { name: 'nobody', uid: 65534, gid: 65534 }, args: ['x'] }));
      const end = await otherEnds.end(60);
      assert.equal(end.state, 'completed', end.reason ?? '');
      assert.equal(h.out(60), '0=/dev/fd/4\n65534\n');
      await other.close();
    } finally {
      fs.rmSync(priv, { recursive: true, force: true });
    }
  });

  it('fails a job whose output file its user may not write, without running it', async () => {
    const closed = tempDir('keisan-exec-closed');
    fs.chmodSync(closed, 0o700);
    try {
      await ex.start(spec(7, 'echo ran', h.outDir, { user: { name: 'nobody', uid: 65534, gid: 65534 }, stdoutPath: path.join(closed, 'x.out'), stderrPath: path.join(closed, 'x.out') }));
      const end = await ends.end(7);
      assert.equal(end.state, 'failed');
      assert.equal(end.ranUserCode, false);
      assert.equal(end.exitCode, null);
      assert.match(end.reason ?? '', /cannot open the output file .*x\.out/);
      assert.equal(fs.existsSync(path.join(closed, 'x.out')), false);
    } finally {
      fs.rmSync(closed, { recursive: true, force: true });
    }
  });

  it('ends a job that exceeds its memory as out-of-memory, with the numbers', async () => {
    // Tries to touch 300 MiB under a 64 MiB limit: the kernel kills it inside the job's cgroup.
    const hog = `${NODE} -e "const a=[]; for (let i = 0; i < 30; i++) a.push(Buffer.alloc(10 * 1024 * 1024, 1))"`;
    await ex.start(spec(8, hog, h.outDir, { memBytes: 64 * MiB, timeLimitMs: 20_000 }));
    const end = await ends.end(8, 20_000);
    assert.equal(end.state, 'out-of-memory', end.reason ?? '');
    assert.equal(end.memLimitBytes, 64 * MiB);
    assert.ok(end.peakMemBytes !== null && end.peakMemBytes >= 60 * MiB && end.peakMemBytes <= 64 * MiB, `peak ${end.peakMemBytes}`);
    assert.ok((end.oomKills ?? 1) >= 1);
    assert.match(end.reason ?? '', /out of memory: .* 64 MiB memory limit \(peak/);
  });

  it('ends a job past its time limit as timeout, and kills every process it forked', async () => {
    const pidFile = path.join(h.outDir, '9.child');
    await ex.start(spec(9, `sleep 60 & echo $! > ${pidFile}; sleep 60`, h.outDir, { timeLimitMs: 1000 }));
    const child = Number(await waitFor('the forked child', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim()));
    const end = await ends.end(9, 10_000);
    assert.equal(end.state, 'timeout');
    assert.ok(end.wallMs !== null && end.wallMs >= 900 && end.wallMs < 5000, `wall ${end.wallMs}`);
    assert.match(end.reason ?? '', /time limit of 1s/);
    await waitFor('the forked child to be gone', () => processStartTime(child) === null, 5000);
  });

  it("ends a job past its queue's CPU-time limit as timeout, summing all its processes, and leaves sleepers alone", async () => {
    // Two busy processes (capped at the job's 1 CPU): together they pass 1 s of CPU well before 10 s of wall time.
    await ex.start(spec(40, 'spin() { while :; do :; done; }; spin & spin', h.outDir, { cpuTimeLimitMs: 1000, timeLimitMs: 20_000 }));
    await ex.start(spec(41, 'sleep 1.5', h.outDir, { cpuTimeLimitMs: 1000, timeLimitMs: 20_000 }));
    const end = await ends.end(40, 15_000);
    assert.equal(end.state, 'timeout', end.reason ?? '');
    assert.match(end.reason ?? '', /CPU-time limit of 1s \(its processes used \d/);
    assert.ok(end.cpuSeconds !== null && end.cpuSeconds >= 1, `cpu ${end.cpuSeconds}`);
    assert.ok(end.wallMs !== null && end.wallMs < 10_000, `wall ${end.wallMs}`);
    assert.equal((await ends.end(41, 10_000)).state, 'completed', 'a job that waits uses no CPU time');
  });

  it('fences GPUs with the v1 devices cgroup: a job opens its own /dev/nvidiaN, not the others\'', { skip: devicesSkip() }, async () => {
    // Device nodes of the NVIDIA major without a driver: opening an allowed one fails with ENXIO
    // ("No such device or address"), a denied one with EPERM ("Operation not permitted").
    const devDir = path.join(h.outDir, 'dev');
    fs.mkdirSync(devDir, { mode: 0o755 });
    for (const minor of [0, 1, 2]) execFileSync('mknod', ['-m', '0666', path.join(devDir, `nvidia${minor}`), 'c', '195', String(minor)]);
    // Index and minor differ on purpose (nvidia-smi's order is not the /dev order).
    const { ex: fenced, ends: fencedEnds } = h.executor({ gpuDevices: [{ index: 0, minor: 2 }, { index: 1, minor: 0 }, { index: 2, minor: 1 }] });
    assert.ok(fenced.capabilities().enforced.some((e) => e.startsWith('GPUs fenced per job')));
    const probe = [0, 1, 2].map((m) => `if (exec 3<${devDir}/nvidia${m}) 2>/dev/null; then echo "nvidia${m} open"; else (exec 3<${devDir}/nvidia${m}) 2>&1 | grep -q 'not permitted' && echo "nvidia${m} denied" || echo "nvidia${m} allowed"; fi`).join('\n');
    await fenced.start(spec(50, probe, h.outDir, { gpuIndices: [1] }));
    assert.equal((await fencedEnds.end(50, 10_000)).state, 'completed');
    assert.deepEqual(h.out(50).trim().split('\n').sort(), ['nvidia0 allowed', 'nvidia1 denied', 'nvidia2 denied']);
    await fenced.close();
  });

  it('cancels a running job', async () => {
    await ex.start(spec(10, 'echo started; sleep 60', h.outDir));
    await waitFor('the job to run', () => h.out(10) === 'started\n');
    await ex.kill(10, 'cancelled');
    const end = await ends.end(10);
    assert.equal(end.state, 'cancelled');
    assert.equal(end.ranUserCode, true);
  });

  it('cancelled before it runs: the command never runs', async () => {
    const marker = path.join(h.outDir, '11.ran');
    const p = ex.start(spec(11, `touch ${marker}`, h.outDir));
    // The kill record lands while the shim may still be starting: either way nothing runs.
    await p;
    await ex.kill(11, 'cancelled');
    const end = await ends.end(11);
    assert.equal(end.state, end.ranUserCode ? end.state : 'cancelled');
    if (!end.ranUserCode) assert.equal(fs.existsSync(marker), false);
  });

  it('caps the processes of a job at pids.max', async () => {
    await ex.start(spec(12, 'i=0; while [ $i -lt 100 ]; do sleep 20 & i=$((i+1)); done; echo all forked', h.outDir, { timeLimitMs: 20_000 }));
    const end = await ends.end(12, 20_000);
    assert.equal(end.state, 'failed');
    assert.doesNotMatch(h.out(12), /all forked/);
    assert.match(h.out(12), /fork/i);
  });

  it('never starts the same job twice', async () => {
    await ex.start(spec(13, 'exit 0', h.outDir));
    await assert.rejects(ex.start(spec(13, 'exit 0', h.outDir)), { code: 'CONFLICT' });
    await ends.end(13);
    await assert.rejects(ex.start(spec(13, 'exit 0', h.outDir)), /already started/);
  });

  it('refuses bad input with the reason', async () => {
    await assert.rejects(ex.start(spec(0, 'exit 0', h.outDir)), { code: 'INVALID_INPUT' });
    await assert.rejects(ex.start(spec(14, 'exit 0', h.outDir, { cwd: 'relative' })), /absolute/);
    await assert.rejects(ex.start(spec(14, 'exit 0', h.outDir, { env: { 'A=B': 'x' } })), /environment variable/);
    assert.equal(fs.existsSync(h.jobDir(14)), false, 'a refused job leaves no record');
  });

  it('measures start and completion latency (idle, one at a time) and throughput (200 jobs)', async () => {
    const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
    const detectMs = (ids: number[]) => ids.map((id) => ends.seenAt.get(id)! - ends.ends.get(id)!.endedAt);

    // Idle: submit → running (start() resolved: the shim runs) and exit record → end event.
    const idle: number[] = [];
    const idleIds: number[] = [];
    for (let id = 500; id < 540; id++) {
      const t = performance.now();
      await ex.start(spec(id, 'exit 0', h.outDir));
      idle.push(performance.now() - t);
      idleIds.push(id);
      await ends.end(id);
    }
    // Throughput: 200 trivial jobs, 16 in flight.
    const n = 200;
    const busy: number[] = [];
    const first = 1000;
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const id = first + next++;
        const t = performance.now();
        await ex.start(spec(id, 'exit 0', h.outDir));
        busy.push(performance.now() - t);
        await ends.end(id, 30_000);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const total = (performance.now() - t0) / 1000;
    const busyIds = Array.from({ length: n }, (_, i) => first + i);
    for (const id of [...idleIds, ...busyIds]) assert.equal(ends.ends.get(id)?.state, 'completed');
    const line =
      `idle: start p50 ${pct(idle, 0.5).toFixed(1)} ms p99 ${pct(idle, 0.99).toFixed(1)} ms, exit→event p50 ${pct(detectMs(idleIds), 0.5)} ms p99 ${pct(detectMs(idleIds), 0.99)} ms; ` +
      `16 in flight: start p50 ${pct(busy, 0.5).toFixed(1)} ms, exit→event p50 ${pct(detectMs(busyIds), 0.5)} ms; ${(n / total).toFixed(0)} jobs/s end to end ` +
      `(exit times are file mtimes: ±4 ms)`;
    console.log(`# local executor: ${line}`);
    assert.ok(pct(idle, 0.5) < 100, line);
  });
});

describe('local executor: re-attaching after a restart or a crash', { skip }, () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(() => h.teardown());

  it('a new executor finds running jobs and accounts for finished ones with their real exit codes', async () => {
    const { ex: first } = h.executor();
    await first.start(spec(20, 'sleep 1.5; exit 4', h.outDir));
    await first.start(spec(21, 'exit 6', h.outDir));
    await first.start(spec(22, 'sleep 60', h.outDir, { timeLimitMs: 2500 }));
    await first.close(); // the daemon goes away; its jobs do not
    await waitFor('job 21 to end', () => fs.existsSync(path.join(h.jobDir(21), 'exit')));

    const { ex: second, ends } = h.executor();
    const report = await second.reattach([20, 21, 22, 23]);
    assert.deepEqual(report.running.sort(), [20, 22]);
    assert.deepEqual(
      report.ended.map((e) => [e.jobId, e.state, e.exitCode]),
      [[21, 'failed', 6]],
    );
    const e20 = await ends.end(20, 10_000);
    assert.deepEqual([e20.state, e20.exitCode], ['failed', 4]);
    const e22 = await ends.end(22, 10_000);
    assert.equal(e22.state, 'timeout', 'the time limit is re-armed from the real start');
    assert.ok(e22.wallMs !== null && e22.wallMs >= 2400 && e22.wallMs < 6000, `wall ${e22.wallMs}`);
    // Asked again (the service crashed before storing them): the same ends, from the records.
    const again = await second.reattach([20, 21, 22]);
    assert.deepEqual(again.running, []);
    assert.deepEqual(again.ended.map((e) => e.jobId).sort(), [20, 21, 22]);
    await second.close();
  });

  it('jobs outlive a kill -9 of the process that launched them', async () => {
    const launcher = `
      import { LocalExecutor } from ${JSON.stringify(path.resolve('src/batch/executors/local/executor.ts'))};
      const ex = new LocalExecutor({ stateDir: ${JSON.stringify(h.stateDir)}, cgroups: ${JSON.stringify(h.cgroupOptions)}, pidsMax: 64 });
      const s = ${JSON.stringify(spec(30, 'sleep 2; exit 7', h.outDir))};
      const started = await ex.start(s);
      console.log('started ' + started.pid);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(NODE, ['--import', 'tsx', '--input-type=module', '-e', launcher], { stdio: ['ignore', 'pipe', 'inherit'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const shimPid = Number(await waitFor('the launcher to start job 30', () => /started (\d+)/.exec(output)?.[1], 15_000));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      assert.ok(processStartTime(shimPid) !== null, 'the job shim survived its launcher');

      const { ex, ends } = h.executor();
      const report = await ex.reattach([30]);
      assert.deepEqual(report.running, [30]);
      const end = await ends.end(30, 10_000);
      assert.deepEqual([end.state, end.exitCode], ['failed', 7]);
      await ex.close();
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });

  it('a launch that never recorded its start ends as node-fail and can never run later', async () => {
    const dir = h.jobDir(40);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify({ jobId: 40, uid: 0, gid: 0, cpus: 1, memBytes: 64 * MiB, timeLimitMs: null, createdAt: Date.now() - 60_000, cgroups: [] }));
    const { ex } = h.executor();
    const report = await ex.reattach([40]);
    assert.deepEqual(report.running, []);
    assert.equal(report.ended[0]?.state, 'node-fail');
    assert.equal(report.ended[0]?.ranUserCode, false);
    assert.ok(fs.existsSync(path.join(dir, 'kill')), 'a late shim finds the kill record and does not run the job');
    assert.equal(ex.forget(40), true);
    assert.equal(fs.existsSync(dir), false);
    await ex.close();
  });

  it('tells what a job was launched with (its GPUs, its start) for jobs adopted after a restart', async () => {
    const { ex, ends } = h.executor();
    await ex.start(spec(70, 'sleep 0.3', h.outDir, { gpuIndices: [1, 3] }));
    const details = await waitFor('the start record', () => {
      const d = ex.launchDetails(70);
      return d?.startedAt != null ? d : undefined;
    });
    assert.deepEqual(details.gpuIndices, [1, 3]);
    assert.equal(ex.launchDetails(71), null, 'unknown job');
    await ends.end(70, 10_000);
    await ex.close();
  });

  it('a second live executor on the same state directory is refused', async () => {
    const { ex } = h.executor();
    assert.ok(ex.capabilities());
    const other = spawn(NODE, ['--import', 'tsx', '--input-type=module', '-e', `
      import { LocalExecutor } from ${JSON.stringify(path.resolve('src/batch/executors/local/executor.ts'))};
      try { new LocalExecutor({ stateDir: ${JSON.stringify(h.stateDir)}, cgroups: false }); console.log('opened'); }
      catch (e) { console.log('refused: ' + e.message); }
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    other.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => other.once('exit', resolve));
    assert.equal(code, 0);
    assert.match(output, /refused: another Keisan executor/);
  });
});

/** The same executor on other kill paths: v1 freezer, v1 walk, and the v2 code on the cgroup2 side hierarchy. */
const layout = detectCgroupLayout();
const variants: { name: string; layout: CgroupLayout }[] = [];
if (layout.kind === 'v1') {
  variants.push({ name: 'v1 without the cgroup2 side (freezer)', layout: { ...layout, unified: null } });
  const { freezer: _f, ...noFreezer } = layout.v1;
  variants.push({ name: 'v1 without freezer or cgroup2 (signal walk)', layout: { kind: 'v1', v1: noFreezer, unified: null } });
  if (layout.unified) variants.push({ name: 'v2 code path on the cgroup2 mount', layout: { kind: 'v2', v1: {}, unified: layout.unified } });
}

for (const variant of variants) {
  describe(`local executor, ${variant.name}`, { skip }, () => {
    let h: Harness;
    let ex: LocalExecutor;
    let ends: EndCollector;
    before(() => {
      h = new Harness({ layout: variant.layout });
      ({ ex, ends } = h.executor());
    });
    after(() => h.teardown());

    it('runs jobs, kills a timed-out job with its children, and accounts cpu', async () => {
      await ex.start(spec(1, 'exit 3', h.outDir));
      const pidFile = path.join(h.outDir, '2.child');
      await ex.start(spec(2, `sleep 60 & echo $! > ${pidFile}; sleep 60`, h.outDir, { timeLimitMs: 800 }));
      const e1 = await ends.end(1);
      assert.deepEqual([e1.state, e1.exitCode], ['failed', 3]);
      const child = Number(await waitFor('the forked child', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim()));
      const e2 = await ends.end(2);
      assert.equal(e2.state, 'timeout');
      assert.ok(e2.cpuSeconds !== null);
      await waitFor('the forked child to be gone', () => processStartTime(child) === null, 5000);
      const caps = ex.capabilities();
      assert.equal(caps.kill, variant.layout.unified ? 'cgroup.kill' : variant.layout.v1.freezer ? 'freeze-and-signal' : 'signal-walk');
    });
  });
}

describe('local executor without cgroups (single-user fallback)', () => {
  let h: Harness;
  let ex: LocalExecutor;
  let ends: EndCollector;
  before(() => {
    h = new Harness(false);
    ({ ex, ends } = h.executor());
  });
  after(() => h.teardown());

  it('says that limits are not enforced', () => {
    const caps = ex.capabilities();
    assert.equal(caps.cgroups, 'none');
    assert.equal(caps.kill, 'session');
    assert.ok(caps.notEnforced.some((n) => /memory, cpu and process-count limits are not enforced/.test(n)));
  });

  it('runs a job and reports its exit code and cpu time', async () => {
    await ex.start(spec(1, 'echo hi; exit 2', h.outDir));
    const end = await ends.end(1);
    assert.deepEqual([end.state, end.exitCode], ['failed', 2]);
    assert.equal(h.out(1), 'hi\n');
    assert.equal(end.peakMemBytes, null);
  });

  it('caps each process at the job memory with RLIMIT_AS when asked to', async () => {
    const { ex: capped, ends: cappedEnds } = h.executor({ addressSpaceFallback: true });
    assert.ok(capped.capabilities().enforced.some((e) => /RLIMIT_AS/.test(e)));
    await capped.start(spec(3, 'ulimit -v', h.outDir, { memBytes: 64 * MiB }));
    const end = await cappedEnds.end(3);
    assert.equal(end.state, 'completed');
    assert.equal(h.out(3), `${64 * 1024}\n`);
    await capped.close();
  });

  it('kills the whole job session at the time limit', async () => {
    const pidFile = path.join(h.outDir, '2.child');
    await ex.start(spec(2, `sleep 60 & echo $! > ${pidFile}; sleep 60`, h.outDir, { timeLimitMs: 800 }));
    const child = Number(await waitFor('the forked child', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim()));
    const end = await ends.end(2);
    assert.equal(end.state, 'timeout');
    await waitFor('the forked child to be gone', () => processStartTime(child) === null, 5000);
  });
});

/** Not root: the executor must say that it runs without cgroups, and still run jobs as itself. */
function nonRootSkip(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to become another user for this test';
  for (let d = process.cwd(); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o005) !== 0o005) return `the repository (${d}) is not readable by other users`;
    if (d === path.dirname(d)) break;
  }
  return false;
}

describe('local executor started by a user who is not root', { skip: nonRootSkip() }, () => {
  it('degrades to no cgroups, says what is not enforced, and runs jobs as that user', async () => {
    const dir = tempDir('keisan-exec-nonroot');
    fs.chmodSync(dir, 0o777);
    try {
      const script = `
        import { LocalExecutor } from ${JSON.stringify(path.resolve('src/batch/executors/local/executor.ts'))};
        const keep = setInterval(() => {}, 1000);
        const ex = new LocalExecutor({ stateDir: ${JSON.stringify(path.join(dir, 'state'))}, cgroups: { root: ${JSON.stringify(testCgroupRoot())} } });
        const caps = ex.capabilities();
        ex.onEnded((e) => {
          console.log(JSON.stringify({ caps, end: e }));
          void ex.close().then(() => clearInterval(keep));
        });
        await ex.start(${JSON.stringify(spec(1, 'id -u; exit 4', dir, { user: { name: 'root', uid: 0, gid: 0 } }))});
      `;
      const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', NODE, '--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
      });
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise((resolve) => child.once('exit', resolve));
      clearTimeout(killer);
      assert.equal(code, 0, output);
      const { caps, end } = JSON.parse(output) as { caps: { cgroups: string; runsAsUsers: boolean; notEnforced: string[] }; end: { state: string; exitCode: number } };
      assert.equal(caps.cgroups, 'none');
      assert.equal(caps.runsAsUsers, false);
      assert.ok(caps.notEnforced.some((n) => /needs root/.test(n) && /not enforced/.test(n)), caps.notEnforced.join(' | '));
      assert.ok(caps.notEnforced.some((n) => /single-user mode/.test(n)));
      assert.deepEqual([end.state, end.exitCode], ['failed', 4]);
      assert.equal(fs.readFileSync(path.join(dir, '1.out'), 'utf8'), '65534\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
