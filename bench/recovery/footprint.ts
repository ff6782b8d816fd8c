/**
 * The watchdog's idle footprint: the real `keisan watchdog` process (as `keisan up` starts it)
 * following N idle job cgroups under a private parent (keisan-bench-<pid>, 3 GiB, 4096 pids) at
 * its default 10 Hz, no server reachable. Prints its CPU share of one core (utime+stime over the
 * window, from /proc/<pid>/stat) and its RSS at the end. `--jobs N` (50), `--seconds S` (60).
 * Runs as root on cgroups v1 (hybrid) or v2. The same measure is part of `npm run bench:recovery`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CgroupTree } from '../../src/batch/executors/local/cgroups.ts';

const MiB = 1024 ** 2;
const argv = process.argv.slice(2);
const arg = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const JOBS = arg('--jobs', 50);
const SECONDS = arg('--seconds', 60);
const REPO = path.resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const root = `keisan-bench-${process.pid}`;
const tree = CgroupTree.open({ root, parentMemBytes: 3 * 1024 * MiB, parentPidsMax: 4096 });
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-footprint-'));
try {
  for (let i = 1; i <= JOBS; i++) tree.createJob(i, { memBytes: 64 * MiB, cpus: 1, pidsMax: 16 });
  fs.writeFileSync(path.join(data, 'keisan.yaml'), `batch:\n  cgroupParent: ${root}\nrecovery:\n  mode: automatic\n`);
  const child = spawn(process.execPath, [path.join(REPO, 'bin/keisan.js'), 'watchdog', '--data', data, '--server', 'http://127.0.0.1:9'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, KEISAN_NODE_SECRET: 'x'.repeat(32), KEISAN_LOG_LEVEL: 'error' },
  });
  try {
    await sleep(4000);
    const ticks = () => {
      const st = fs.readFileSync(`/proc/${child.pid}/stat`, 'latin1');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      return Number(f[11]) + Number(f[12]);
    };
    const c0 = ticks();
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const c1 = ticks();
    const dt = (performance.now() - t0) / 1000;
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'latin1'))?.[1] ?? 0);
    console.log(`watchdog idle footprint (${tree.mode}${tree.layout.unified && tree.mode === 'v1' ? ' + cgroup2 side' : ''}, ${os.cpus().length} cpus, ${os.release()}): ${(((c1 - c0) / 100 / dt) * 100).toFixed(2)} % of a core over ${SECONDS} s with ${JOBS} idle job cgroups, RSS ${Math.round(rssKiB / 1024)} MiB`);
  } finally {
    child.kill('SIGTERM');
    await sleep(1500);
  }
} finally {
  tree.destroy();
  fs.rmSync(data, { recursive: true, force: true });
}
