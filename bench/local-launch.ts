/**
 * The local executor's launch path, idle, one job at a time: start() called → start() resolved
 * (shim spawned) → the shim's `started` record (mtime, ±4 ms) → the job's first command runs
 * (`date +%s.%N`, as in bench/batch-vs-slurm.ts). Real cgroups (a private test root), a job user
 * other than root (nobody) as the server runs them, and root (no user switch) for comparison.
 *
 *   node --import tsx bench/local-launch.ts [--samples=N] [--pause-ms=MIN,MAX] [--user=nobody|root|both] [--prime=0|1]
 *
 * Needs root. Removes its cgroups and temp directories at the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CgroupTree } from '../src/batch/executors/local/cgroups.ts';
import { LocalExecutor } from '../src/batch/executors/local/executor.ts';
import { EndCollector, spec, tempDir, testCgroupRoot } from '../src/batch/executors/local/testing.ts';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const samples = Number(arg('samples', '40'));
const [pauseMin, pauseMax] = arg('pause-ms', '300,600').split(',').map(Number) as [number, number];
const users = arg('user', 'both') === 'both' ? ['nobody', 'root'] : [arg('user', 'both')];
const prime = arg('prime', '1') !== '0';

const wallMs = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

const root = testCgroupRoot();
const stateDir = tempDir('keisan-launch-state');
const outDir = tempDir('keisan-launch-out');
fs.chmodSync(outDir, 0o777);
const cgroups = { root, parentMemBytes: 1024 ** 3, parentPidsMax: 256 };
const ex = new LocalExecutor({ stateDir, cgroups, pidsMax: 64, pollIntervalMs: 50, primeCgroupMigration: prime });
const ends = new EndCollector(ex);
let id = 1;
try {
  console.log(`# prime ${prime}; load before: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
  for (const user of users) {
    const resolved: number[] = [];
    const started: number[] = [];
    const first: number[] = [];
    for (let i = 0; i < samples; i++) {
      await sleep(pauseMin + Math.random() * (pauseMax - pauseMin));
      const jobId = id++;
      const file = path.join(outDir, `${jobId}.t`);
      const s = spec(jobId, `date +%s.%N > ${file}`, outDir, user === 'nobody' ? { user: { name: 'nobody', uid: 65534, gid: 65534 } } : {});
      const t0 = wallMs();
      await ex.start(s);
      resolved.push(wallMs() - t0);
      const end = await ends.end(jobId);
      if (end.state !== 'completed') throw new Error(`job ${jobId}: ${end.state} ${end.reason}`);
      first.push(Number(fs.readFileSync(file, 'utf8').trim()) * 1000 - t0);
      started.push((end.startedAt ?? NaN) - t0);
    }
    const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} p99 ${pct(xs, 99).toFixed(1)} ms`;
    console.log(`${user}: start() resolved ${f(resolved)}; started record ${f(started)}; first command ${f(first)} (min ${Math.min(...first).toFixed(1)}, max ${Math.max(...first).toFixed(1)})`);
  }
  console.log(`# load after: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
} finally {
  await ex.close();
  CgroupTree.open({ ...cgroups, parentMemBytes: null, parentPidsMax: null }).destroy();
  fs.rmSync(stateDir, { recursive: true, force: true });
  fs.rmSync(outDir, { recursive: true, force: true });
}
