/**
 * Keisan's batch system and a real single-node SLURM, side by side on this machine, in one run.
 *
 *   npm run bench:slurm                      # everything (about 10–15 minutes); table on stdout, progress on stderr
 *   npm run bench:slurm -- --quick           # small numbers, to try the harness (not results)
 *   npm run bench:slurm -- --no-slurm        # Keisan only (or --no-keisan: SLURM only)
 *   npm run -s bench:slurm -- --json         # one JSON document on stdout instead of the table
 *
 * Options [defaults]: --samples=N [50] latency samples per system (and per SLURM configuration);
 * --jobs=N [2000] Keisan end-to-end jobs; --slurm-jobs=N [400] SLURM end-to-end jobs (SLURM
 * starts about 2 jobs/s here, so 2000 would take ~17 minutes; its rate is steady, so 400 measure
 * the same rate); --submit-jobs=N [1000] held jobs per submission series; --array=N [10000]
 * tasks of the array; --slurm-pending=N [10000] pending SLURM jobs for sdiag and slurmctld's RSS;
 * --sdiag-wait=S [60] seconds of scheduling cycles sampled with them; --runs=N [21] timed
 * scheduler passes; --concurrency=N [16] requests or sbatch processes in flight for the
 * submission rates; --wait-idle=S [0] on a shared machine, wait up to S seconds before each
 * series for other work to drop below 15 % of all cores (every series records how busy the
 * machine was just before it: "busy before" in the details).
 *
 * Needs root (cgroups for Keisan's jobs, SLURM's daemons). Runs on this machine only, one system
 * at a time, never both at once:
 *
 * 0. SLURM is installed from Debian when missing (`apt-get install slurm-wlm munge slurmrestd`,
 *    with a policy-rc.d so that no packaged service starts) before anything is measured.
 * 1. Keisan's pure scheduler (shared with bench/scheduler.ts, bench/scheduler-workload.ts), in a
 *    child process: one full fair-share pass over 100 000 pending jobs of 50 users; heap for
 *    1 000 000 pending.
 * 2. Keisan as production runs it: `keisan server` (bin/keisan.js) on a fresh data directory
 *    (SQLite file, WAL, synchronous=FULL) with the real LocalExecutor in per-job cgroups, driven
 *    over HTTP like a user: the operator logs in and creates the user `bench`, who logs in and
 *    submits with its bearer ticket (`POST /api/jobs`). Its node has this machine's CPUs.
 * 3. SLURM as notes/batch.md §10 sets it up, in a private temp directory: its own munge key and
 *    socket, private ports, one node `CPUs=2` (this machine), `select/cons_tres` + `CR_Core`. First
 *    as shipped (SchedulerParameters unset) for the latency, then HTC-tuned
 *    (`batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000`, SlurmctldDebug=error)
 *    for everything else. Jobs are submitted as root with `sbatch --parsable` (one process per
 *    job for the latency; `xargs -P N sbatch` for the rates, as from a shell), or through
 *    slurmrestd (rest_auth/local on a Unix socket).
 *
 * 4. Keisan on SLURM (the third column): a second `keisan server` with `batch.executor: slurm`
 *    pointed at the same private cluster (HTC-tuned; Keisan's queues mapped to its partition
 *    `debug`), its user `bench` with uid 65534 (nobody, which SLURM's controller can resolve).
 *    Measured like the others, right after SLURM's own end-to-end series: idle submit→running
 *    (POST /api/jobs → the job's first command) and trivial-job throughput; the overhead Keisan
 *    adds on top of SLURM is printed beside plain SLURM (issue 8's goal: ≤ 10 % latency, no
 *    throughput loss). `--no-keisan` or `--no-slurm` leaves it out.
 *
 * Fairness. Both systems run the same `#!/bin/sh` scripts (1 CPU, 64 MiB, 20 minutes; default
 * output file `slurm-%j.out` in the submit directory, on the same file system). Latency: the time
 * is taken just before submitting, and the job itself writes `date +%s.%N` to a file as its first
 * command, so polling adds nothing; one job at a time, after both systems report no job pending
 * or running, after a random pause (SLURM: 1–2 s, so that samples do not lock onto its 1 s
 * timer). End to end: every job creates a marker file (a shell builtin), and the end is the last
 * marker's mtime; the systems' own end (Keisan: the last `endedAt`; SLURM: the first empty
 * squeue, polled every second) is printed too. Polls are cheap (a file read every 2–100 ms;
 * squeue every 0.2–1 s). Submissions for the rate and array parts are held and cancelled afterwards.
 *
 * Everything started is stopped and every temp directory removed at the end, on errors and on
 * Ctrl-C (SIGINT/SIGTERM); every wait has a timeout.
 *
 * Environment: KEISAN_BENCH_SERVER_ARGS, extra node options for the Keisan server (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its time goes).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CgroupTree, detectCgroupLayout } from '../src/batch/executors/local/cgroups.ts';
import type { Job } from '../src/batch/store.ts';
import { defaultQueues } from '../src/batch/queues.ts';
import type { SubmitResult } from '../src/batch/submission-input.ts';
import { initTestDataDir } from '../src/server/testing.ts';
import { SCHEDULER_GOALS, gc, measureFullPass, measureMillionPending, median, type MillionPendingResult } from './scheduler-workload.ts';
import { freePort } from '../src/lib/net.ts';

const BENCH_FILE = fileURLToPath(import.meta.url);
const REPO_ROOT = path.resolve(path.dirname(BENCH_FILE), '..');
const KEISAN_BIN = path.join(REPO_ROOT, 'bin', 'keisan.js');

/** notes/batch.md §8 (G2, G4–G7) and the brief of this benchmark. */
const GOALS = { latencyP50Ms: 20, latencyP99Ms: 100, endToEndPerSecond: 200, submitPerSecond: 3000, arrayMs: 500, slurmLatencyOverheadPct: 10, ...SCHEDULER_GOALS };

// ---------------------------------------------------------------------------- options

interface Options {
  samples: number;
  keisanJobs: number;
  slurmJobs: number;
  submitJobs: number;
  arrayTasks: number;
  slurmPending: number;
  sdiagWaitS: number;
  runs: number;
  concurrency: number;
  keisan: boolean;
  slurm: boolean;
  json: boolean;
  million: boolean;
  /** Measure the pure scheduler pass (`--no-scheduler` skips it). */
  scheduler: boolean;
  /** Seconds to wait at most, before each series, for other work on the machine to calm down (0: do not wait). */
  waitIdleS: number;
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const number = (name: string, fallback: number, quickValue: number): number => {
    const arg = argv.find((a) => a.startsWith(`--${name}=`));
    if (arg === undefined) return quick ? quickValue : fallback;
    const value = Number(arg.slice(name.length + 3));
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a whole number of at least 1, not '${arg}'`);
    return value;
  };
  const known = /^--(quick|no-slurm|no-keisan|json|no-million|no-scheduler|(samples|jobs|slurm-jobs|submit-jobs|array|slurm-pending|sdiag-wait|runs|concurrency|wait-idle)=.*)$/;
  const unknown = argv.filter((a) => !known.test(a));
  if (unknown.length) throw new Error(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(' ')} (see the comment at the top of bench/batch-vs-slurm.ts)`);
  return {
    samples: number('samples', 50, 8),
    keisanJobs: number('jobs', 2000, 200),
    slurmJobs: number('slurm-jobs', 400, 30),
    submitJobs: number('submit-jobs', 1000, 200),
    arrayTasks: number('array', 10_000, 1000),
    slurmPending: number('slurm-pending', 10_000, 500),
    sdiagWaitS: number('sdiag-wait', 60, 10),
    runs: number('runs', 21, 5),
    concurrency: number('concurrency', 16, 16),
    keisan: !argv.includes('--no-keisan'),
    slurm: !argv.includes('--no-slurm'),
    json: argv.includes('--json'),
    million: !argv.includes('--no-million') && !quick,
    scheduler: !argv.includes('--no-scheduler'),
    waitIdleS: argv.some((a) => a.startsWith('--wait-idle=')) ? number('wait-idle', 0, 0) : 0,
  };
}

// ---------------------------------------------------------------------------- small helpers

const log = (message: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/**
 * Wall-clock time (CLOCK_REALTIME, comparable with `date +%s.%N` and file mtimes) in ms with
 * sub-millisecond resolution: performance.now() plus an offset taken at the edge of a Date.now()
 * tick. `calibrate()` takes it again (before each measurement), since the realtime clock of a VM
 * may be stepped or slewed away from the monotonic one that performance.now() follows.
 */
let realtimeOffset = 0;
function calibrate(): void {
  const start = Date.now();
  let now = start;
  while (now === start) now = Date.now();
  realtimeOffset = now - performance.now();
}
calibrate();
const wallMs = () => realtimeOffset + performance.now();
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Polls `probe` every `intervalMs` until it returns something other than undefined; throws after `timeoutMs`. */
async function waitFor<T>(what: string, timeoutMs: number, intervalMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Runs `task(0..count-1)` with at most `concurrency` at once; the first failure stops the rest. */
async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed) {
      const i = next++;
      if (i >= count) return;
      try {
        results[i] = await task(i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program (no shell) with a timeout (SIGKILL), feeding `input` on stdin. */
function run(command: string, args: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { env: o.env ?? process.env, cwd: o.cwd ?? REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${error.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

async function runOk(command: string, args: string[], o: Parameters<typeof run>[2] = {}): Promise<string> {
  const result = await run(command, args, o);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${String(result.code)}): ${(result.stderr || result.stdout).trim().slice(0, 500)}`);
  return result.stdout;
}

/** /proc/stat: busy and total jiffies of all cores. */
function cpuTimes(): { busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

/** Own CPU time (user + system, not children) of a process, seconds; null when it is gone. */
function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

/** Resident set of a process, bytes; null when it is gone. */
function processRss(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const line = fs
      .readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU use over a measured series: the whole machine, the system's daemons, this process (the client). */
interface CpuUse {
  /** Busy share of all cores in the 2 s before the series, with the system measured idle: other work on the box. */
  busyBeforePct: number;
  seconds: number;
  machineBusyPct: number;
  daemonCpuS: number | null;
  clientCpuS: number;
}

function cpuMeter(daemonPids: () => Array<number | undefined>): () => CpuUse {
  const busyBeforePct = lastBusyBefore;
  const t0 = wallMs();
  const m0 = cpuTimes();
  const sumDaemons = () => daemonPids().reduce<number | null>((sum, pid) => {
    const s = processCpuSeconds(pid);
    return s === null ? sum : (sum ?? 0) + s;
  }, null);
  const d0 = sumDaemons();
  const c0 = process.cpuUsage();
  return () => {
    const m1 = cpuTimes();
    const d1 = sumDaemons();
    const c = process.cpuUsage(c0);
    return {
      busyBeforePct,
      seconds: (wallMs() - t0) / 1000,
      machineBusyPct: (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total),
      daemonCpuS: d0 === null || d1 === null ? null : d1 - d0,
      clientCpuS: (c.user + c.system) / 1e6,
    };
  };
}

async function machineBusyOver(ms: number): Promise<number> {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  return (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total);
}

/** Other work above this share of all cores, before a series, is reported as a disturbance. */
const BUSY_PCT = 15;
let lastBusyBefore = Number.NaN;
let waitIdleS = 0;

/**
 * Measures how busy the machine is (2 s) before a series; with --wait-idle, waits up to that
 * long for it to drop to BUSY_PCT. The figure goes into the series' CPU record.
 */
async function beforeSeries(label: string): Promise<void> {
  const deadline = Date.now() + waitIdleS * 1000;
  let said = false;
  for (;;) {
    lastBusyBefore = await machineBusyOver(2000);
    if (lastBusyBefore <= BUSY_PCT) return;
    if (Date.now() >= deadline) {
      log(`${label}: WARNING: the machine is ${fmt(lastBusyBefore)}% busy with other work before this series`);
      return;
    }
    if (!said) log(`${label}: the machine is ${fmt(lastBusyBefore)}% busy with other work; waiting up to ${waitIdleS} s for it to calm down …`);
    said = true;
  }
}

function idOf(name: string, file: '/etc/passwd' | '/etc/group'): number {
  const line = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no '${name}' in ${file} (is the Debian package installed?)`);
  return Number(line.split(':')[2]);
}


function mkdirOpen(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o777);
  return dir;
}

// ---------------------------------------------------------------------------- clean-up

const cleanups: Array<{ what: string; run: () => Promise<void> | void }> = [];
/** Child processes to SIGKILL if this process exits without having cleaned up. */
const lastResort = new Set<ChildProcess>();

function onCleanup(what: string, runIt: () => Promise<void> | void): () => void {
  const entry = { what, run: runIt };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

async function cleanUp(): Promise<void> {
  while (cleanups.length) {
    const entry = cleanups.pop()!;
    try {
      await entry.run();
    } catch (error) {
      log(`clean-up (${entry.what}) failed: ${errorText(error)}`);
    }
  }
}

/** Waits for a child to exit; SIGTERM after `termAfterMs`, SIGKILL 10 s later. */
async function stopChild(child: ChildProcess | undefined, termAfterMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const term = setTimeout(() => child.kill('SIGTERM'), termAfterMs);
  const kill = setTimeout(() => child.kill('SIGKILL'), termAfterMs + 10_000);
  await exited;
  clearTimeout(term);
  clearTimeout(kill);
  lastResort.delete(child);
}

// ---------------------------------------------------------------------------- job scripts

/** The same directives for both systems: 1 CPU, 64 MiB, 20 minutes (Keisan puts it in the queue `short`). */
const DIRECTIVES = '#SBATCH --time=20 --mem=64M --cpus-per-task=1';
const latencyScript = (file: string) => `#!/bin/sh\n${DIRECTIVES}\ndate +%s.%N > ${file}\n`;
const markerScript = (dir: string) => `#!/bin/sh\n${DIRECTIVES}\n: > ${dir}/$SLURM_JOB_ID\n`;
const TRIVIAL_SCRIPT = `#!/bin/sh\n${DIRECTIVES}\ntrue\n`;
const SLEEP_SCRIPT = `#!/bin/sh\n#SBATCH --time=60 --mem=64M --cpus-per-task=1\nsleep 3000\n`;
const JOB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The environment both systems' jobs get (sbatch exports its own, small, environment; Keisan is sent the same). */
const JOB_ENV = { PATH: JOB_PATH, LANG: 'C.UTF-8' };

// ---------------------------------------------------------------------------- Keisan

/** The uid of Keisan's user `bench` when its jobs go through SLURM: SLURM's controller must resolve it (nobody). */
const NOBODY_UID = 65534;

class Keisan {
  /** With a slurm.conf: `batch.executor: slurm` on that cluster (every Keisan queue → its partition `debug`); else the local executor. */
  constructor(readonly slurmConf?: string) {}

  readonly scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-vs-slurm-k-'));
  readonly data = path.join(this.scratch, 'data');
  readonly work = path.join(this.scratch, 'work');
  readonly cgroupParent = `keisan-bench-${randomBytes(4).toString('hex')}`;
  child: ChildProcess | undefined;
  url = '';
  private ticket = '';

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(slurmConf?: string): Promise<Keisan> {
    const k = new Keisan(slurmConf);
    onCleanup('keisan server', () => k.stop());
    await k.boot();
    return k;
  }

  private async boot(): Promise<void> {
    fs.chmodSync(this.scratch, 0o755);
    const slurm = this.slurmConf
      ? { executor: 'slurm', slurm: { conf: this.slurmConf, pollEvery: '200ms', partitions: Object.fromEntries(defaultQueues().map((q) => [q.name, 'debug'])) } }
      : {};
    initTestDataDir(this.data, { batch: { cgroupParent: this.cgroupParent, ...slurm } });
    mkdirOpen(this.work);
    const logFile = path.join(this.scratch, 'server.log');
    const fd = fs.openSync(logFile, 'a');
    // KEISAN_BENCH_SERVER_ARGS: extra node options for the server, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof.
    const nodeArgs = (process.env.KEISAN_BENCH_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean);
    this.child = spawn(process.execPath, [...nodeArgs, KEISAN_BIN, 'server', '--data', this.data, '--port', '0'], { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    lastResort.add(this.child);
    const child = this.child;
    const line = await waitFor('keisan server to listen', 60_000, 100, () => {
      if (child.exitCode !== null) throw new Error(`keisan server exited (${child.exitCode}):\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      return fs
        .readFileSync(logFile, 'utf8')
        .split('\n')
        .find((l) => l.includes('keisan server listening'));
    });
    this.url = (JSON.parse(line) as { url: string }).url;
    const executor = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('"cgroups"'));
    if (executor) {
      const info = JSON.parse(executor) as { cgroups?: unknown; cpus?: unknown };
      log(`keisan: server at ${this.url} (pid ${String(child.pid)}), executor cgroups ${JSON.stringify(info.cgroups)}, ${String(info.cpus)} CPUs`);
    }
    const operatorPassword = fs.readFileSync(path.join(this.data, 'operator-password'), 'utf8').split('\n')[1]!.trim();
    this.ticket = await this.login('admin', operatorPassword);
    const password = `bench-${randomBytes(12).toString('hex')}`;
    await this.api('POST', '/api/users', { name: 'bench', primarySubgroup: 'staff', fullName: 'Benchmark User', password, ...(this.slurmConf ? { uid: NOBODY_UID } : {}) });
    this.ticket = await this.login('bench', password);
  }

  private async login(user: string, password: string): Promise<string> {
    const { ticket } = await this.api<{ ticket: string }>('POST', '/api/auth/login', { user, password });
    return ticket;
  }

  async api<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.url}${route}`, {
      method,
      headers: { ...(this.ticket ? { authorization: `Bearer ${this.ticket}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`keisan ${method} ${route}: HTTP ${response.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }

  submit(script: string, options: { hold?: boolean; array?: string } = {}): Promise<SubmitResult> {
    return this.api<SubmitResult>('POST', '/api/jobs', { script, args: [], submitDir: this.work, environment: JOB_ENV, options });
  }

  /** Jobs of the user `bench` that are pending or running (at most `limit`). */
  active(limit = 1): Promise<Job[]> {
    return this.api<Job[]>('GET', `/api/jobs?state=pending,running&limit=${limit}`);
  }

  async idle(): Promise<void> {
    await waitFor('keisan to have no pending or running job', 60_000, 20, async () => ((await this.active()).length === 0 ? true : undefined));
  }

  async stop(): Promise<void> {
    if (this.child) {
      this.child.kill('SIGTERM');
      await stopChild(this.child, 15_000);
    }
    // The server made the jobs' parent cgroup: leave nothing behind (kills what might still run in it).
    if (process.getuid?.() === 0 && detectCgroupLayout().kind !== 'none') {
      const left = CgroupTree.open({ root: this.cgroupParent, parentMemBytes: null, parentPidsMax: null }).destroy();
      if (left.length) log(`keisan: could not remove cgroups ${left.join(', ')}`);
    }
    fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------- SLURM

interface Sdiag {
  main: { lastUs: number; maxUs: number; meanUs: number; totalCycles: number; meanDepth: number; cyclesPerMinute: number; lastQueueLength: number };
  backfill: { totalCycles: number; lastUs: number; maxUs: number; meanUs: number; lastDepth: number; depthMean: number; lastQueueLength: number };
}

function parseSdiag(text: string): Sdiag {
  const [mainPart = '', rest = ''] = text.split('Backfilling stats');
  const backfillPart = rest.split('Latency for')[0] ?? '';
  const num = (part: string, label: string) => {
    const m = new RegExp(`^\\s*${label}:\\s*(\\d+)`, 'm').exec(part);
    return m ? Number(m[1]) : Number.NaN;
  };
  const main = mainPart.split('Main schedule statistics')[1] ?? '';
  return {
    main: {
      lastUs: num(main, 'Last cycle'),
      maxUs: num(main, 'Max cycle'),
      meanUs: num(main, 'Mean cycle'),
      totalCycles: num(main, 'Total cycles'),
      meanDepth: num(main, 'Mean depth cycle'),
      cyclesPerMinute: num(main, 'Cycles per minute'),
      lastQueueLength: num(main, 'Last queue length'),
    },
    backfill: {
      totalCycles: num(backfillPart, 'Total cycles'),
      lastUs: num(backfillPart, 'Last cycle'),
      maxUs: num(backfillPart, 'Max cycle'),
      meanUs: num(backfillPart, 'Mean cycle'),
      lastDepth: num(backfillPart, 'Last depth cycle'),
      depthMean: num(backfillPart, 'Depth Mean'),
      lastQueueLength: num(backfillPart, 'Last queue length'),
    },
  };
}

const TUNED = 'batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000';

class Slurm {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-vs-slurm-s-'));
  readonly work = path.join(this.dir, 'work');
  readonly conf = path.join(this.dir, 'slurm.conf');
  readonly mungeSocket = path.join(this.dir, 'munge', 'munge.sock');
  readonly restSocket = path.join(this.dir, 'rest.sock');
  readonly node = os.hostname().split('.')[0] || 'localhost';
  readonly env: NodeJS.ProcessEnv;
  ctld: ChildProcess | undefined;
  slurmd: ChildProcess | undefined;
  rest: ChildProcess | undefined;
  restPlugin = '';
  private restAgent: http.Agent | undefined;
  private mungedPid: number | undefined;

  private constructor() {
    this.env = { PATH: JOB_PATH, LANG: 'C.UTF-8', HOME: '/root', SLURM_CONF: this.conf };
  }

  /** `slurm-wlm 22.05.8` etc., installing the Debian packages first when they are missing. */
  static async ensureInstalled(): Promise<string> {
    const have = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore', env: { PATH: JOB_PATH } }).status === 0;
    if (!['slurmctld', 'slurmd', 'sbatch', 'munged'].every(have)) {
      if (process.getuid?.() !== 0) throw new Error('SLURM is not installed: run as root (the benchmark installs slurm-wlm and munge from Debian), or apt-get install slurm-wlm munge');
      log('slurm: installing slurm-wlm, munge, slurmrestd from Debian (apt-get) …');
      const policy = '/usr/sbin/policy-rc.d';
      const ours = !fs.existsSync(policy);
      // Keeps Debian from starting the packaged munge/slurmctld/slurmd services: the benchmark runs its own.
      if (ours) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
      try {
        const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
        const install = (packages: string[]) => run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', '--no-install-recommends', ...packages], { env, timeoutMs: 900_000 });
        let result = await install(['slurm-wlm', 'munge', 'slurmrestd']);
        if (result.code !== 0) {
          await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-qq'], { env, timeoutMs: 300_000 });
          result = await install(['slurm-wlm', 'munge', 'slurmrestd']);
          if (result.code !== 0) result = await install(['slurm-wlm', 'munge']);
        }
        if (result.code !== 0) throw new Error(`apt-get install slurm-wlm munge failed: ${result.stderr.slice(-1000)}`);
      } finally {
        if (ours) fs.rmSync(policy, { force: true });
      }
    }
    const version = (await runOk('slurmctld', ['-V'], { env: { PATH: JOB_PATH } })).trim();
    const deb = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'slurmctld'], { encoding: 'utf8' });
    return deb.status === 0 && deb.stdout.trim() ? `${version} (Debian ${deb.stdout.trim()})` : version;
  }

  static async start(): Promise<Slurm> {
    const s = new Slurm();
    onCleanup('slurm daemons', () => s.stop());
    await s.boot();
    return s;
  }

  private async boot(): Promise<void> {
    const B = this.dir;
    fs.chmodSync(B, 0o755);
    for (const d of ['state', 'spool', 'log', 'munge', 'work']) fs.mkdirSync(path.join(B, d));
    // munged needs o+x on its socket's directory; slurmctld runs as SlurmUser=slurm.
    fs.chmodSync(path.join(B, 'munge'), 0o755);
    const slurmUid = idOf('slurm', '/etc/passwd');
    const slurmGid = idOf('slurm', '/etc/group');
    const mungeUid = idOf('munge', '/etc/passwd');
    const mungeGid = idOf('munge', '/etc/group');
    for (const d of ['state', 'log']) fs.chownSync(path.join(B, d), slurmUid, slurmGid);
    fs.chownSync(path.join(B, 'munge'), mungeUid, mungeGid);
    const key = path.join(B, 'munge', 'munge.key');
    fs.writeFileSync(key, randomBytes(128), { mode: 0o600 });
    fs.chownSync(key, mungeUid, mungeGid);
    await runOk(
      'runuser',
      ['-u', 'munge', '--', 'munged', `--socket=${this.mungeSocket}`, `--key-file=${key}`, `--pid-file=${B}/munge/pid`, `--log-file=${B}/munge/log`, `--seed-file=${B}/munge/seed`, '--num-threads=10'],
      { env: this.env, timeoutMs: 15_000 },
    );
    this.mungedPid = Number(await waitFor('munged to write its pid', 10_000, 50, () => (fs.existsSync(`${B}/munge/pid`) ? fs.readFileSync(`${B}/munge/pid`, 'utf8').trim() || undefined : undefined)));

    const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
    const memMiB = Math.floor((os.totalmem() / 1024 ** 2) * 0.85);
    fs.writeFileSync(
      this.conf,
      [
        'ClusterName=bench',
        `SlurmctldHost=${this.node}(127.0.0.1)`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${slurmdPort}`,
        'SlurmUser=slurm',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${this.mungeSocket}`,
        `StateSaveLocation=${B}/state`,
        `SlurmdSpoolDir=${B}/spool`,
        `SlurmctldPidFile=${B}/slurmctld.pid`,
        `SlurmdPidFile=${B}/slurmd.pid`,
        `SlurmctldLogFile=${B}/log/slurmctld.log`,
        `SlurmdLogFile=${B}/log/slurmd.log`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'JobCompType=jobcomp/none',
        'SchedulerType=sched/backfill',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core',
        'PriorityType=priority/basic',
        'MpiDefault=none',
        'SwitchType=switch/none',
        'ReturnToService=2',
        'MaxJobCount=200000',
        'MaxArraySize=100001',
        'MinJobAge=10',
        `NodeName=${this.node} CPUs=${os.availableParallelism()} Sockets=1 CoresPerSocket=${os.availableParallelism()} ThreadsPerCore=1 RealMemory=${memMiB} State=UNKNOWN`,
        'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
        '',
      ].join('\n'),
    );
    const spawnDaemon = (program: string, args: string[], logName: string) => {
      const fd = fs.openSync(path.join(B, 'log', logName), 'a');
      const child = spawn(program, args, { env: this.env, cwd: B, stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      lastResort.add(child);
      return child;
    };
    this.ctld = spawnDaemon('slurmctld', ['-D', '-i'], 'ctld.out');
    this.slurmd = spawnDaemon('slurmd', ['-D'], 'slurmd.out');
    await waitFor('the SLURM node to be idle', 60_000, 500, async () => {
      for (const [name, child] of [['slurmctld', this.ctld], ['slurmd', this.slurmd]] as const) {
        if (child?.exitCode !== null) throw new Error(`${name} exited: ${this.tail(name === 'slurmctld' ? 'ctld.out' : 'slurmd.out')}`);
      }
      const state = await run('sinfo', ['-h', '-N', '-o', '%T'], { env: this.env, timeoutMs: 10_000 });
      return state.code === 0 && state.stdout.trim() === 'idle' ? true : undefined;
    });
    log(`slurm: slurmctld (pid ${String(this.ctld.pid)}) and slurmd on ports ${ctldPort}/${slurmdPort}, node ${this.node} idle; state in ${B}`);
  }

  private tail(logName: string): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'log', logName), 'utf8').slice(-1500);
    } catch {
      return '(no log)';
    }
  }

  get daemonPids(): Array<number | undefined> {
    return [this.ctld?.pid, this.slurmd?.pid];
  }

  cmd(program: string, args: string[], timeoutMs = 60_000): Promise<string> {
    return runOk(program, args, { env: this.env, cwd: this.work, timeoutMs });
  }

  /** `sbatch --parsable ARGS` with the script on stdin; the job id. */
  async sbatch(args: string[], script: string): Promise<number> {
    const out = await runOk('sbatch', ['--parsable', ...args], { env: this.env, cwd: this.work, input: script, timeoutMs: 120_000 });
    const id = Number(out.trim().split(';')[0]);
    if (!Number.isInteger(id)) throw new Error(`sbatch printed '${out.trim()}', not a job id`);
    return id;
  }

  /**
   * `n` submissions of one script, `concurrency` sbatch processes at a time, through xargs, as
   * one submits from a shell (and as notes/batch.md measured): the job ids. Forking sbatch from
   * this Node process instead would add Node's own fork cost to SLURM's numbers.
   */
  async sbatchMany(n: number, concurrency: number, args: string[], script: string): Promise<number[]> {
    const file = path.join(this.dir, 'scripts', `${randomBytes(6).toString('hex')}.sh`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, script, { mode: 0o755 });
    const input = Array.from({ length: n }, (_, i) => `${i + 1}\n`).join('');
    const result = await run('xargs', ['-P', String(concurrency), '-I{}', 'sbatch', '--parsable', ...args, file], { env: this.env, cwd: this.work, input, timeoutMs: 120_000 + n * 200 });
    const ids = result.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => Number(l.split(';')[0]));
    if (result.code !== 0 || ids.length !== n || ids.some((id) => !Number.isInteger(id))) {
      throw new Error(`xargs sbatch: ${ids.length} of ${n} submitted (exit ${String(result.code)}): ${result.stderr.trim().slice(-500)}`);
    }
    return ids;
  }

  async queueLength(states?: string): Promise<number> {
    const out = await this.cmd('squeue', ['-h', '-o', '%i', ...(states ? ['-t', states] : [])]);
    return out.split('\n').filter((l) => l.trim()).length;
  }

  async idle(timeoutMs = 60_000, intervalMs = 200): Promise<void> {
    await waitFor('SLURM to have no pending, running or completing job', timeoutMs, intervalMs, async () => ((await this.queueLength()) === 0 ? true : undefined));
  }

  /** As shipped (SchedulerParameters unset, SlurmctldDebug info), or HTC-tuned. */
  async configure(tuned: boolean): Promise<void> {
    const text = fs.readFileSync(this.conf, 'utf8').replace(/^SchedulerParameters=.*\n/m, '');
    fs.writeFileSync(this.conf, tuned ? `${text}SchedulerParameters=${TUNED}\n` : text);
    await this.cmd('scontrol', ['reconfigure']);
    await this.cmd('scontrol', ['setdebug', tuned ? 'error' : 'info']);
    const shown = await this.cmd('scontrol', ['show', 'config']);
    const line = shown.split('\n').find((l) => l.startsWith('SchedulerParameters'));
    log(`slurm: ${tuned ? 'HTC-tuned' : 'as shipped'}: ${line?.replace(/\s+/g, ' ').trim() ?? 'SchedulerParameters (null)'}`);
  }

  ctldRss(): number | null {
    return processRss(this.ctld?.pid);
  }

  async sdiag(): Promise<Sdiag> {
    return parseSdiag(await this.cmd('sdiag', []));
  }

  /** Starts slurmrestd on a Unix socket (rest_auth/local); false (and why) when it cannot. */
  async startRest(): Promise<string | null> {
    const have = spawnSync('sh', ['-c', 'command -v slurmrestd'], { stdio: 'ignore', env: { PATH: JOB_PATH } }).status === 0;
    if (!have) return 'slurmrestd is not installed';
    const list = await run('slurmrestd', ['-s', 'list'], { env: { ...this.env, SLURMRESTD_SECURITY: 'disable_user_check' }, timeoutMs: 15_000 });
    const plugins = [...`${list.stdout}\n${list.stderr}`.matchAll(/openapi\/(v\d+\.\d+\.\d+)/g)].map((m) => m[1]!).sort();
    const plugin = plugins.at(-1);
    if (!plugin) return `slurmrestd lists no openapi/v* plugin: ${list.stderr.trim().slice(0, 300)}`;
    this.restPlugin = plugin;
    const fd = fs.openSync(path.join(this.dir, 'log', 'rest.out'), 'a');
    // Root may run slurmrestd only with this switch; rest_auth/local takes the caller's uid from the socket.
    this.rest = spawn('slurmrestd', ['-a', 'rest_auth/local', '-s', plugin, `unix:${this.restSocket}`], {
      env: { ...this.env, SLURMRESTD_SECURITY: 'disable_user_check' },
      cwd: this.dir,
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    lastResort.add(this.rest);
    this.restAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    try {
      await waitFor('slurmrestd to answer', 20_000, 100, async () => {
        if (this.rest?.exitCode !== null) throw new Error(`slurmrestd exited: ${this.tail('rest.out')}`);
        if (!fs.existsSync(this.restSocket)) return undefined;
        const ping = await this.restRequest('GET', `/slurm/${plugin}/ping`).catch(() => undefined);
        return ping?.status === 200 ? true : undefined;
      });
    } catch (error) {
      return errorText(error);
    }
    return null;
  }

  restRequest(method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          socketPath: this.restSocket,
          path: route,
          method,
          ...(this.restAgent ? { agent: this.restAgent } : {}),
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
          timeout: 60_000,
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8').on('data', (d: string) => (text += d));
          response.on('end', () => {
            try {
              resolve({ status: response.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : null });
            } catch {
              reject(new Error(`slurmrestd ${route}: HTTP ${String(response.statusCode)}, not JSON: ${text.slice(0, 300)}`));
            }
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`slurmrestd ${route}: no answer in 60 s`)));
      request.on('error', reject);
      request.end(payload);
    });
  }

  /** A held job through slurmrestd, with the options the #SBATCH line gives sbatch. */
  async restSubmitHeld(script: string): Promise<number> {
    const { status, json } = await this.restRequest('POST', `/slurm/${this.restPlugin}/job/submit`, {
      script,
      job: { name: 'held', current_working_directory: this.work, environment: JOB_ENV, hold: true, cpus_per_task: 1, time_limit: 20, memory_per_node: 64 },
    });
    const answer = json as { job_id?: unknown; errors?: Array<{ error_code?: number; error?: string }> } | null;
    // 2042 "Job is in held state, pending scheduler release" is how 22.05 acknowledges a held job.
    const errors = (answer?.errors ?? []).filter((e) => e.error_code !== 2042);
    if (status !== 200 || typeof answer?.job_id !== 'number' || errors.length) throw new Error(`slurmrestd submit: HTTP ${status} ${JSON.stringify(json).slice(0, 400)}`);
    return answer.job_id;
  }

  async cancelAll(): Promise<number> {
    const t0 = performance.now();
    await this.cmd('scancel', ['--user=root'], 300_000);
    return performance.now() - t0;
  }

  async stop(): Promise<void> {
    this.restAgent?.destroy();
    if (this.rest) {
      this.rest.kill('SIGTERM');
      await stopChild(this.rest, 5_000);
    }
    if (this.ctld && this.ctld.exitCode === null) {
      try {
        await this.cmd('scancel', ['--user=root'], 60_000);
        await this.idle(60_000, 500);
      } catch (error) {
        log(`slurm: cancelling what was left failed: ${errorText(error)}`);
      }
      await run('scontrol', ['shutdown'], { env: this.env, timeoutMs: 20_000 }).catch(() => undefined);
    }
    await Promise.all([stopChild(this.ctld, 20_000), stopChild(this.slurmd, 20_000)]);
    if (this.mungedPid !== undefined) {
      const stopped = await run('munged', ['--stop', `--socket=${this.mungeSocket}`], { env: this.env, timeoutMs: 15_000 }).catch(() => undefined);
      if (stopped?.code !== 0) {
        try {
          process.kill(this.mungedPid, 'SIGTERM');
        } catch {
          // gone already
        }
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------- measurements

interface LatencySeries {
  system: string;
  samples: number;
  /** Submit → the job's first command, ms. */
  startMs: number[];
  /** Submit → acknowledgement (HTTP response; sbatch exit), ms. */
  ackMs: number[];
  p50: number;
  p99: number;
  min: number;
  max: number;
  ackP50: number;
  ackP99: number;
  cpu: CpuUse;
}

async function latencySeries(
  system: string,
  o: { samples: number; dir: string; pauseMs: [number, number]; pollMs: number; idle: () => Promise<void>; submit: (script: string) => Promise<unknown>; daemonPids: () => Array<number | undefined> },
): Promise<LatencySeries> {
  const startMs: number[] = [];
  const ackMs: number[] = [];
  await o.idle();
  await beforeSeries(system);
  const meter = cpuMeter(o.daemonPids);
  for (let i = 0; i < o.samples; i++) {
    await o.idle();
    await sleep(o.pauseMs[0] + Math.random() * (o.pauseMs[1] - o.pauseMs[0]));
    const file = path.join(o.dir, `${i}`);
    calibrate();
    const t0 = wallMs();
    await o.submit(latencyScript(file));
    ackMs.push(wallMs() - t0);
    const text = await waitFor(`${system}: latency job ${i} to start`, 60_000, o.pollMs, () => {
      try {
        const t = fs.readFileSync(file, 'utf8');
        return t.endsWith('\n') ? t : undefined;
      } catch {
        return undefined;
      }
    });
    startMs.push(Number(text.trim()) * 1000 - t0);
  }
  const cpu = meter();
  const result = {
    system,
    samples: o.samples,
    startMs,
    ackMs,
    p50: percentile(startMs, 50),
    p99: percentile(startMs, 99),
    min: Math.min(...startMs),
    max: Math.max(...startMs),
    ackP50: percentile(ackMs, 50),
    ackP99: percentile(ackMs, 99),
    cpu,
  };
  log(`${system}: submit→running p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms (min ${result.min.toFixed(1)}, max ${result.max.toFixed(1)}); ack p50 ${result.ackP50.toFixed(1)} ms`);
  return result;
}

interface EndToEnd {
  system: string;
  jobs: number;
  concurrency: number;
  /** Submitting them all, s. */
  submitS: number;
  /** First submit → the last job's marker file (its mtime), s. */
  lastMarkerS: number;
  /** First submit → the system's own record of the last end, s (SLURM: first empty squeue, 1 s polls). */
  systemEndS: number;
  perSecond: number;
  completed: number | null;
  cpu: CpuUse;
}

async function endToEnd(
  system: string,
  o: {
    jobs: number;
    concurrency: number;
    dir: string;
    msPerJobTimeout: number;
    /** Submits all `jobs` of `script`, `concurrency` at a time. */
    submitAll: (script: string) => Promise<unknown>;
    systemEnd: () => Promise<{ at: number; completed: number | null }>;
    daemonPids: () => Array<number | undefined>;
  },
): Promise<EndToEnd> {
  mkdirOpen(o.dir);
  await beforeSeries(`${system} end to end`);
  const meter = cpuMeter(o.daemonPids);
  calibrate();
  const t0 = wallMs();
  const script = markerScript(o.dir);
  await o.submitAll(script);
  const submitS = (wallMs() - t0) / 1000;
  log(`${system}: ${o.jobs} jobs submitted in ${submitS.toFixed(2)} s; waiting for them to run`);
  let lastReport = Date.now();
  await waitFor(`${system}: all ${o.jobs} jobs to run`, 60_000 + o.jobs * o.msPerJobTimeout, 100, () => {
    const done = fs.readdirSync(o.dir).length;
    if (Date.now() - lastReport > 15_000) {
      lastReport = Date.now();
      log(`${system}: ${done}/${o.jobs} ran (${(done / ((wallMs() - t0) / 1000)).toFixed(1)} jobs/s so far)`);
    }
    return done >= o.jobs ? true : undefined;
  });
  let lastMarker = 0;
  for (const name of fs.readdirSync(o.dir)) lastMarker = Math.max(lastMarker, fs.statSync(path.join(o.dir, name)).mtimeMs);
  const end = await o.systemEnd();
  const cpu = meter();
  const lastMarkerS = (lastMarker - t0) / 1000;
  const result = { system, jobs: o.jobs, concurrency: o.concurrency, submitS, lastMarkerS, systemEndS: (end.at - t0) / 1000, perSecond: o.jobs / lastMarkerS, completed: end.completed, cpu };
  log(`${system}: ${o.jobs} jobs end to end in ${lastMarkerS.toFixed(2)} s = ${result.perSecond.toFixed(1)} jobs/s (system's own end at ${result.systemEndS.toFixed(2)} s)`);
  return result;
}

interface Rate {
  system: string;
  how: string;
  jobs: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  cpu: CpuUse;
}

/** Times `task(0..jobs-1)`, `concurrency` at a time. */
function rate(system: string, how: string, jobs: number, concurrency: number, daemonPids: () => Array<number | undefined>, task: (i: number) => Promise<unknown>): Promise<Rate> {
  return rateOf(system, how, jobs, concurrency, daemonPids, () => pool(jobs, concurrency, task));
}

/** Times `all()`, which does `jobs` things `concurrency` at a time. */
async function rateOf(system: string, how: string, jobs: number, concurrency: number, daemonPids: () => Array<number | undefined>, all: () => Promise<unknown>): Promise<Rate> {
  await beforeSeries(`${system}: ${how}`);
  const meter = cpuMeter(daemonPids);
  const t0 = performance.now();
  await all();
  const seconds = (performance.now() - t0) / 1000;
  const result = { system, how, jobs, concurrency, seconds, perSecond: jobs / seconds, cpu: meter() };
  log(`${system}: ${how}: ${jobs} in ${seconds.toFixed(2)} s = ${Math.round(result.perSecond)}/s (${concurrency} in flight)`);
  return result;
}

// ---------------------------------------------------------------------------- Keisan's pure scheduler

/** One full pass and the 1 000 000-job heap, as the child process reports them. */
interface SchedulerSummary {
  pass: { pending: number; running: number; runs: number; wallMs: number[]; cpuMs: number[]; decisions: number; starts: number; reasons: Record<string, number>; afterGcWallMs: number[] | null };
  million: MillionPendingResult | null;
  gcExposed: boolean;
}

/** `--scheduler-child`: measures in this (fresh) process and prints a SchedulerSummary. */
function schedulerChild(argv: string[]): void {
  const runs = Number(argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 21);
  const full = measureFullPass(100_000, runs);
  const summary: SchedulerSummary = {
    pass: {
      pending: full.pending,
      running: full.running,
      runs: full.runs,
      wallMs: full.steady.wall,
      cpuMs: full.steady.cpu,
      decisions: full.steady.decisions,
      starts: full.steady.starts,
      reasons: Object.fromEntries(full.steady.reasons),
      afterGcWallMs: full.afterGc?.wall ?? null,
    },
    million: argv.includes('--no-million') ? null : measureMillionPending(),
    gcExposed: gc !== undefined,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

/**
 * The pure scheduler's numbers, measured in a child process (node --expose-gc): the 1 000 000
 * jobs leave this process's heap and RSS as they were, so that forking sbatch from here later
 * costs what it costs from a small process.
 */
async function measureScheduler(o: Options): Promise<SchedulerSummary> {
  const result = await run(process.execPath, ['--expose-gc', '--import', 'tsx', BENCH_FILE, '--scheduler-child', `--runs=${o.runs}`, ...(o.million ? [] : ['--no-million'])], { timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`the scheduler measurement failed (exit ${String(result.code)}): ${result.stderr.slice(-1500)}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as SchedulerSummary;
}

// ---------------------------------------------------------------------------- the two sides

interface KeisanResults {
  latency: LatencySeries;
  endToEnd: EndToEnd;
  submitSequential: Rate;
  submitParallel: Rate;
  cancelHeld: Rate;
  arrayMs: number;
  arrayTasks: number;
  cancelArray: Rate | null;
  rssIdle: number | null;
  rssWithArray: number | null;
  /** Where an idle submit's time goes, medians in ms from the pre-submit time (file mtimes: ±4 ms). */
  latencyBreakdown: { stored: number; decided: number; shimStarted: number; jobRan: number };
  /** One job's cycle on one CPU in the end-to-end run, medians in ms (file mtimes: ±4 ms). */
  cycleBreakdown: { decisionToSpawn: number; spawnToShimStarted: number; shimStartedToExit: number; exitToFinished: number; finishedToNextDecision: number };
}

const medianOf = (values: number[]) => {
  const finite = values.filter(Number.isFinite);
  return finite.length ? median(finite) : Number.NaN;
};

/** The executor's record `name` of a job: its mtime (ms), NaN when missing. */
function recordTime(k: Keisan, id: number, name: string): number {
  try {
    return fs.statSync(path.join(k.data, 'jobs', 'jobs', String(id), name)).mtimeMs;
  } catch {
    return Number.NaN;
  }
}

/** Waits for Keisan to be idle; the end-to-end jobs `ids` as listed, when the last ended, how many completed. */
async function keisanJobsEnded(k: Keisan, system: string, ids: ReadonlySet<number>, limit: number): Promise<{ jobs: Job[]; at: number; completed: number }> {
  await k.idle();
  const jobs = (await k.api<Job[]>('GET', `/api/jobs?limit=${limit}`)).filter((j) => ids.has(j.id));
  if (jobs.length !== ids.size || jobs.some((j) => j.endedAt === null)) throw new Error(`${system}: ${jobs.length} of ${ids.size} end-to-end jobs listed, not all ended`);
  const at = Math.max(...jobs.map((j) => Date.parse(j.endedAt!)));
  return { jobs, at, completed: jobs.filter((j) => j.state === 'completed').length };
}

const runningAt = (job: Job) => Date.parse(job.transitions.find((t) => t.state === 'running')?.at ?? job.startedAt ?? '');

async function runKeisan(o: Options): Promise<KeisanResults> {
  log('keisan: starting `keisan server` on a fresh data directory …');
  const k = await Keisan.start();
  try {
    const pids = () => [k.pid];
    const rssIdle = processRss(k.pid);
    const submitted: Array<{ id: number; t0: number }> = [];
    const latency = await latencySeries('keisan', {
      samples: o.samples,
      dir: mkdirOpen(path.join(k.work, 'latency')),
      pauseMs: [100, 300],
      pollMs: 2,
      idle: () => k.idle(),
      submit: async (script) => {
        const t0 = wallMs();
        const result = await k.submit(script);
        submitted.push({ id: result.jobs[0]!, t0 });
      },
      daemonPids: pids,
    });
    await k.idle();
    // Where the time went, from the job's own record (stored, start decided) and the executor's files.
    const stages = { stored: [] as number[], decided: [] as number[], shimStarted: [] as number[] };
    for (const { id, t0 } of submitted) {
      const job = await k.api<Job>('GET', `/api/jobs/${id}`);
      stages.stored.push(Date.parse(job.submittedAt) - t0);
      stages.decided.push(runningAt(job) - t0);
      stages.shimStarted.push(recordTime(k, id, 'started') - t0);
    }
    const latencyBreakdown = { stored: medianOf(stages.stored), decided: medianOf(stages.decided), shimStarted: medianOf(stages.shimStarted), jobRan: medianOf(latency.startMs) };

    const e2eIds = new Set<number>();
    let e2eJobs: Job[] = [];
    const e2e = await endToEnd('keisan', {
      jobs: o.keisanJobs,
      concurrency: 8,
      dir: path.join(k.work, 'done'),
      msPerJobTimeout: 200,
      submitAll: (script) =>
        pool(o.keisanJobs, 8, async () => {
          for (const id of (await k.submit(script)).jobs) e2eIds.add(id);
        }),
      daemonPids: pids,
      systemEnd: async () => {
        const end = await keisanJobsEnded(k, 'keisan', e2eIds, o.keisanJobs + o.samples + 10);
        e2eJobs = end.jobs;
        return end;
      },
    });

    // One job's cycle on a CPU: start decided → shim spawned (spec.json) → shim started → job's exit
    // record → finished (outcome.json) → the next start decision after that.
    const cycles = e2eJobs.map((j) => ({ decided: runningAt(j), spec: recordTime(k, j.id, 'spec.json'), started: recordTime(k, j.id, 'started'), exit: recordTime(k, j.id, 'exit'), outcome: recordTime(k, j.id, 'outcome.json') }));
    const decisions = cycles.map((c) => c.decided).sort((a, b) => a - b);
    const nextDecision = (after: number) => decisions.find((d) => d >= after) ?? Number.NaN;
    const cycleBreakdown = {
      decisionToSpawn: medianOf(cycles.map((c) => c.spec - c.decided)),
      spawnToShimStarted: medianOf(cycles.map((c) => c.started - c.spec)),
      shimStartedToExit: medianOf(cycles.map((c) => c.exit - c.started)),
      exitToFinished: medianOf(cycles.map((c) => c.outcome - c.exit)),
      finishedToNextDecision: medianOf(cycles.map((c) => nextDecision(c.outcome) - c.outcome)),
    };

    const held: number[] = [];
    const submitHeld = async () => {
      const r = await k.submit(TRIVIAL_SCRIPT, { hold: true });
      held.push(...r.jobs);
    };
    const submitSequential = await rate('keisan', 'POST /api/jobs, held, 1 client', o.submitJobs, 1, pids, submitHeld);
    const submitParallel = await rate('keisan', 'POST /api/jobs, held, parallel', o.submitJobs, o.concurrency, pids, submitHeld);
    const cancelHeld = await rate('keisan', 'POST /api/jobs/ID/cancel', held.length, 8, pids, (i) => k.api('POST', `/api/jobs/${held[i]}/cancel`));

    const t0 = performance.now();
    const array = await k.submit(TRIVIAL_SCRIPT, { hold: true, array: `1-${o.arrayTasks}` });
    const arrayMs = performance.now() - t0;
    if (array.jobs.length !== o.arrayTasks) throw new Error(`keisan: the array made ${array.jobs.length} jobs, not ${o.arrayTasks}`);
    log(`keisan: array of ${o.arrayTasks} (held) acknowledged in ${arrayMs.toFixed(0)} ms`);
    await sleep(1000);
    const rssWithArray = processRss(k.pid);
    let cancelArray: Rate | null = null;
    try {
      // One request for the whole array (POST /api/jobs/cancel, as `keisan cancel ARRAYID`), like scancel ID.
      cancelArray = await rateOf('keisan', `cancel the array's ${o.arrayTasks} tasks, one request`, array.jobs.length, 1, pids, async () => {
        const result = await k.api<{ cancelled: number[] }>('POST', '/api/jobs/cancel', { arrayId: array.arrayJobId });
        if (result.cancelled.length !== array.jobs.length) throw new Error(`keisan: ${result.cancelled.length} of ${array.jobs.length} array tasks cancelled`);
      });
    } catch (error) {
      log(`keisan: cancelling the array failed: ${errorText(error)}`);
    }
    return { latency, endToEnd: e2e, submitSequential, submitParallel, cancelHeld, arrayMs, arrayTasks: o.arrayTasks, cancelArray, rssIdle, rssWithArray, latencyBreakdown, cycleBreakdown };
  } finally {
    log('keisan: stopping the server');
    await k.stop();
  }
}

interface KeisanOnSlurmResults {
  latency: LatencySeries;
  endToEnd: EndToEnd;
  rssIdle: number | null;
}

/**
 * Keisan with the SLURM executor on the cluster `s` (HTC-tuned, idle): the same latency and
 * end-to-end series as plain SLURM's, submitted over Keisan's API. Its server is stopped after.
 */
async function runKeisanOnSlurm(o: Options, s: Slurm): Promise<KeisanOnSlurmResults> {
  const system = 'keisan on slurm';
  log(`${system}: starting \`keisan server\` with batch.executor: slurm on the same cluster …`);
  const k = await Keisan.start(s.conf);
  try {
    const pids = () => [k.pid, ...s.daemonPids];
    const rssIdle = processRss(k.pid);
    const idle = async () => {
      await k.idle();
      await s.idle();
    };
    const latency = await latencySeries(system, {
      samples: o.samples,
      dir: mkdirOpen(path.join(k.work, 'latency')),
      // As for SLURM: 1–2 s apart, so that samples do not lock onto slurmctld's 1 s timer.
      pauseMs: [1000, 2000],
      pollMs: 10,
      idle,
      submit: (script) => k.submit(script),
      daemonPids: pids,
    });
    await idle();
    const ids = new Set<number>();
    const e2e = await endToEnd(system, {
      jobs: o.slurmJobs,
      concurrency: 8,
      dir: path.join(k.work, 'done'),
      msPerJobTimeout: 2000,
      submitAll: (script) =>
        pool(o.slurmJobs, 8, async () => {
          for (const id of (await k.submit(script)).jobs) ids.add(id);
        }),
      daemonPids: pids,
      systemEnd: async () => keisanJobsEnded(k, system, ids, o.slurmJobs + o.samples + 10),
    });
    return { latency, endToEnd: e2e, rssIdle };
  } finally {
    log(`${system}: stopping the server`);
    await k.stop();
  }
}

interface SlurmResults {
  version: string;
  /** Keisan with batch.executor: slurm on the same cluster (null: not run; the reason in keisanOnSlurmError). */
  keisanOnSlurm: KeisanOnSlurmResults | null;
  keisanOnSlurmError: string | null;
  latencyShipped: LatencySeries;
  latencyTuned: LatencySeries;
  endToEnd: EndToEnd;
  submitSequential: Rate;
  submitParallel: Rate;
  submitRest: Rate | null;
  restNote: string | null;
  cancelHeldMs: number;
  cancelHeldJobs: number;
  arrayMs: number;
  arrayTasks: number;
  cancelArrayMs: number;
  pending: { jobs: number; submit: Rate; sdiag: Sdiag; waitedS: number; rssFresh: number | null; rssWithPending: number | null; rssBefore: number | null; queued: number };
}

async function runSlurm(o: Options, version: string, withKeisan: boolean): Promise<SlurmResults> {
  log('slurm: starting munged, slurmctld and slurmd in a private directory …');
  const s = await Slurm.start();
  try {
    const pids = () => s.daemonPids;
    const rssFresh = s.ctldRss();
    const latencyDir = (name: string) => mkdirOpen(path.join(s.work, name));
    const submitLatency = (script: string) => s.sbatch([], script);
    await s.configure(false);
    const latencyShipped = await latencySeries('slurm as shipped', {
      samples: o.samples,
      dir: latencyDir('latency-shipped'),
      pauseMs: [1000, 2000],
      pollMs: 10,
      idle: () => s.idle(),
      submit: submitLatency,
      daemonPids: pids,
    });
    await s.configure(true);
    const latencyTuned = await latencySeries('slurm HTC-tuned', {
      samples: o.samples,
      dir: latencyDir('latency-tuned'),
      pauseMs: [1000, 2000],
      pollMs: 10,
      idle: () => s.idle(),
      submit: submitLatency,
      daemonPids: pids,
    });
    await s.idle();

    const e2e = await endToEnd('slurm', {
      jobs: o.slurmJobs,
      concurrency: 8,
      dir: path.join(s.work, 'done'),
      msPerJobTimeout: 2000,
      submitAll: (script) => s.sbatchMany(o.slurmJobs, 8, [], script),
      daemonPids: pids,
      systemEnd: async () => {
        await s.idle(120_000, 1000);
        return { at: wallMs(), completed: null };
      },
    });

    // The third column, while the cluster is HTC-tuned and idle, as for SLURM's own series above.
    let keisanOnSlurm: KeisanOnSlurmResults | null = null;
    let keisanOnSlurmError: string | null = withKeisan ? null : 'left out (--no-keisan)';
    if (withKeisan) {
      try {
        keisanOnSlurm = await runKeisanOnSlurm(o, s);
      } catch (error) {
        keisanOnSlurmError = errorText(error);
        log(`keisan on slurm: not measured: ${keisanOnSlurmError}`);
      }
      // Its jobs run as nobody: cancel every user's (scancel needs a filter; the one partition is one).
      await s.cmd('scancel', ['--partition=debug']).catch((error: unknown) => log(`slurm: scancel --partition=debug: ${errorText(error)}`));
      await s.idle(120_000, 500);
    }

    const submitSequential = await rateOf('slurm', 'sbatch --hold, 1 at a time (xargs -P 1)', o.submitJobs, 1, pids, () => s.sbatchMany(o.submitJobs, 1, ['--hold'], TRIVIAL_SCRIPT));
    const submitParallel = await rateOf('slurm', `sbatch --hold, xargs -P ${o.concurrency}`, o.submitJobs, o.concurrency, pids, () => s.sbatchMany(o.submitJobs, o.concurrency, ['--hold'], TRIVIAL_SCRIPT));
    const restNote = await s.startRest();
    let submitRest: Rate | null = null;
    if (restNote === null) {
      submitRest = await rate('slurm', `slurmrestd ${s.restPlugin} POST job/submit, held, parallel`, o.submitJobs, o.concurrency, pids, () => s.restSubmitHeld(TRIVIAL_SCRIPT));
    } else {
      log(`slurm: slurmrestd not measured: ${restNote}`);
    }
    const cancelHeldJobs = await s.queueLength();
    const cancelHeldMs = await s.cancelAll();
    log(`slurm: scancel of ${cancelHeldJobs} held jobs took ${cancelHeldMs.toFixed(0)} ms`);
    await s.idle(120_000, 500);

    const t0 = performance.now();
    const arrayId = await s.sbatch(['--hold', `--array=1-${o.arrayTasks}`], TRIVIAL_SCRIPT);
    const arrayMs = performance.now() - t0;
    log(`slurm: array of ${o.arrayTasks} (held) acknowledged in ${arrayMs.toFixed(0)} ms`);
    const c0 = performance.now();
    await s.cmd('scancel', [String(arrayId)]);
    const cancelArrayMs = performance.now() - c0;
    await s.idle(120_000, 500);

    // Scheduling with many pending jobs: both CPUs busy with two long jobs, then N trivial jobs
    // (one record each, not an array) pend behind them; sdiag covers the cycles from the first submit.
    log(`slurm: ${o.slurmPending} pending jobs behind 2 running ones, for sdiag and slurmctld's RSS …`);
    const rssBefore = s.ctldRss();
    for (let i = 0; i < os.availableParallelism(); i++) await s.sbatch([], SLEEP_SCRIPT);
    await waitFor('the two long SLURM jobs to run', 30_000, 500, async () => ((await s.queueLength('R')) >= os.availableParallelism() ? true : undefined));
    await s.cmd('sdiag', ['--reset']);
    const sdiagFrom = performance.now();
    const submit = await rateOf('slurm', `sbatch (pending behind busy CPUs), xargs -P ${o.concurrency}`, o.slurmPending, o.concurrency, pids, () => s.sbatchMany(o.slurmPending, o.concurrency, [], TRIVIAL_SCRIPT));
    log(`slurm: sampling scheduling cycles for ${o.sdiagWaitS} s …`);
    await sleep(o.sdiagWaitS * 1000);
    const sdiag = await s.sdiag();
    const waitedS = (performance.now() - sdiagFrom) / 1000;
    const rssWithPending = s.ctldRss();
    const queued = await s.queueLength('PD');
    log(
      `slurm: main cycle mean ${(sdiag.main.meanUs / 1000).toFixed(1)} ms (max ${(sdiag.main.maxUs / 1000).toFixed(1)}) at mean depth ${sdiag.main.meanDepth}; ` +
        `backfill mean ${(sdiag.backfill.meanUs / 1000).toFixed(1)} ms at depth ${sdiag.backfill.depthMean}; slurmctld RSS ${((rssWithPending ?? 0) / 2 ** 20).toFixed(0)} MiB with ${queued} pending`,
    );
    await s.cancelAll();
    await s.idle(300_000, 1000);
    return {
      version,
      keisanOnSlurm,
      keisanOnSlurmError,
      latencyShipped,
      latencyTuned,
      endToEnd: e2e,
      submitSequential,
      submitParallel,
      submitRest,
      restNote,
      cancelHeldMs,
      cancelHeldJobs,
      arrayMs,
      arrayTasks: o.arrayTasks,
      cancelArrayMs,
      pending: { jobs: o.slurmPending, submit, sdiag, waitedS, rssFresh, rssWithPending, rssBefore, queued },
    };
  } finally {
    log('slurm: stopping every daemon and removing its directory');
    await s.stop();
  }
}

// ---------------------------------------------------------------------------- report

interface Environment {
  date: string;
  nproc: number;
  memTotalKiB: number;
  swapTotalKiB: number;
  os: string;
  kernel: string;
  cpuModel: string;
  node: string;
  slurm: string | null;
  munge: string | null;
  commit: string | null;
  srcDirty: boolean;
  busyBeforePct: number;
}

function environment(slurm: string | null, busyBeforePct: number): Environment {
  const meminfo = fs.readFileSync('/proc/meminfo', 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? Number.NaN);
  const osRelease = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
    } catch {
      return 'unknown';
    }
  })();
  const cpuModel =
    fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'))
      ?.split(':')[1]
      ?.trim() ?? 'unknown';
  const munge = spawnSync('munged', ['-V'], { encoding: 'utf8', env: { PATH: JOB_PATH } });
  const commit = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    memTotalKiB: kib('MemTotal'),
    swapTotalKiB: kib('SwapTotal'),
    os: osRelease,
    kernel: os.release(),
    cpuModel,
    node: process.version,
    slurm,
    munge: munge.status === 0 ? `${munge.stdout}${munge.stderr}`.trim().split('\n')[0] ?? null : null,
    commit: commit.status === 0 ? commit.stdout.trim() : null,
    srcDirty: dirty.status === 0 && dirty.stdout.trim() !== '',
    busyBeforePct,
  };
}

const fmt = (n: number | null | undefined, digits = 0) =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '—' : n < 10 ? `${fmt(n, 2)} ms` : n < 100 ? `${fmt(n, 1)} ms` : `${fmt(n)} ms`);
const mib = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? '—' : `${fmt(bytes / 2 ** 20)} MiB`);
const perS = (n: number | null | undefined) => (n === null || n === undefined ? '—' : `${fmt(n, n < 10 ? 2 : 0)}/s`);

interface Row {
  measure: string;
  keisan: string;
  slurm: string;
  /** Keisan with batch.executor: slurm on the same cluster (absent: not measured for this row). */
  keisanOnSlurm?: string;
  /** How many times better Keisan is (> 1: Keisan better); null when not comparable. */
  ratio: number | null;
  goal: string;
}

/** `better` says which way is good: lower (times) or higher (rates). */
function ratio(keisan: number | null | undefined, slurm: number | null | undefined, better: 'lower' | 'higher'): number | null {
  if (keisan === null || keisan === undefined || slurm === null || slurm === undefined || !(keisan > 0) || !(slurm > 0)) return null;
  return better === 'lower' ? slurm / keisan : keisan / slurm;
}

/** `value` against `base` as a signed percentage (+12.3 %). */
const overheadPct = (value: number, base: number) => (Number.isFinite(value) && base > 0 ? `${value >= base ? '+' : '−'}${fmt(Math.abs((value / base - 1) * 100), 1)} %` : '—');

const verdict = (ok: boolean | null) => (ok === null ? '' : ok ? ' PASS' : ' FAIL');

function rows(k: KeisanResults | null, s: SlurmResults | null, sched: SchedulerSummary | null): Row[] {
  const pass = sched?.pass ?? null;
  const million = sched?.million ?? null;
  const out: Row[] = [];
  const kl = k?.latency;
  const kos = s?.keisanOnSlurm ?? null;
  const passMs = pass ? median(pass.wallMs) : null;
  out.push(
    { measure: `1. submit→running p50, idle (${kl?.samples ?? '—'} samples; SLURM as shipped)`, keisan: ms(kl?.p50), slurm: ms(s?.latencyShipped.p50), ratio: ratio(kl?.p50, s?.latencyShipped.p50, 'lower'), goal: `≤ ${GOALS.latencyP50Ms} ms${verdict(kl ? kl.p50 <= GOALS.latencyP50Ms : null)}` },
    { measure: '   submit→running p99 (SLURM as shipped)', keisan: ms(kl?.p99), slurm: ms(s?.latencyShipped.p99), ratio: ratio(kl?.p99, s?.latencyShipped.p99, 'lower'), goal: `≤ ${GOALS.latencyP99Ms} ms${verdict(kl ? kl.p99 <= GOALS.latencyP99Ms : null)}` },
    { measure: '   submit→running p50 (SLURM HTC-tuned)', keisan: ms(kl?.p50), slurm: ms(s?.latencyTuned.p50), keisanOnSlurm: ms(kos?.latency.p50), ratio: ratio(kl?.p50, s?.latencyTuned.p50, 'lower'), goal: '' },
    { measure: '   submit→running p99 (SLURM HTC-tuned)', keisan: ms(kl?.p99), slurm: ms(s?.latencyTuned.p99), keisanOnSlurm: ms(kos?.latency.p99), ratio: ratio(kl?.p99, s?.latencyTuned.p99, 'lower'), goal: '' },
    { measure: '   submit acknowledged p50 (HTTP POST; sbatch process)', keisan: ms(kl?.ackP50), slurm: ms(s?.latencyTuned.ackP50), ratio: ratio(kl?.ackP50, s?.latencyTuned.ackP50, 'lower'), goal: '' },
    {
      measure: `2. end to end, trivial 1-CPU jobs on ${os.availableParallelism()} CPUs (Keisan ${k?.endToEnd.jobs ?? '—'} jobs, SLURM ${s?.endToEnd.jobs ?? '—'}, HTC-tuned)`,
      keisan: perS(k?.endToEnd.perSecond),
      slurm: perS(s?.endToEnd.perSecond),
      keisanOnSlurm: perS(kos?.endToEnd.perSecond),
      ratio: ratio(k?.endToEnd.perSecond, s?.endToEnd.perSecond, 'higher'),
      goal: `≥ ${GOALS.endToEndPerSecond}/s${verdict(k ? k.endToEnd.perSecond >= GOALS.endToEndPerSecond : null)}`,
    },
    {
      measure: `   Keisan on SLURM: latency added to plain SLURM (HTC-tuned), p50 / p99 (${kos?.latency.samples ?? '—'} samples each)`,
      keisan: '',
      slurm: '',
      keisanOnSlurm: kos && s ? `${overheadPct(kos.latency.p50, s.latencyTuned.p50)} / ${overheadPct(kos.latency.p99, s.latencyTuned.p99)}` : (s?.keisanOnSlurmError ?? '—').slice(0, 60),
      ratio: null,
      goal: `≤ ${GOALS.slurmLatencyOverheadPct} %${verdict(kos && s ? (kos.latency.p50 / s.latencyTuned.p50 - 1) * 100 <= GOALS.slurmLatencyOverheadPct : null)}`,
    },
    {
      measure: `   Keisan on SLURM: end-to-end throughput vs plain SLURM (${kos?.endToEnd.jobs ?? '—'} jobs each)`,
      keisan: '',
      slurm: '',
      keisanOnSlurm: kos && s ? overheadPct(kos.endToEnd.perSecond, s.endToEnd.perSecond) : '—',
      ratio: null,
      goal: `no loss${verdict(kos && s ? kos.endToEnd.perSecond >= s.endToEnd.perSecond : null)}`,
    },
    {
      measure: `3. submissions accepted, 1 client, one at a time (HTTP; sbatch), ${k?.submitSequential.jobs ?? s?.submitSequential.jobs ?? '—'} held`,
      keisan: perS(k?.submitSequential.perSecond),
      slurm: perS(s?.submitSequential.perSecond),
      ratio: ratio(k?.submitSequential.perSecond, s?.submitSequential.perSecond, 'higher'),
      goal: '',
    },
    {
      measure: `   submissions accepted, ${k?.submitParallel.concurrency ?? s?.submitParallel.concurrency ?? '—'} in flight (HTTP; sbatch processes)`,
      keisan: perS(k?.submitParallel.perSecond),
      slurm: perS(s?.submitParallel.perSecond),
      ratio: ratio(k?.submitParallel.perSecond, s?.submitParallel.perSecond, 'higher'),
      goal: `≥ ${fmt(GOALS.submitPerSecond)}/s${verdict(k ? k.submitParallel.perSecond >= GOALS.submitPerSecond : null)}`,
    },
    {
      measure: `   submissions accepted through the REST API, ${k?.submitParallel.concurrency ?? '—'} in flight (HTTP; slurmrestd)`,
      keisan: perS(k?.submitParallel.perSecond),
      slurm: s?.submitRest ? perS(s.submitRest.perSecond) : `not measured${s?.restNote ? ` (${s.restNote.slice(0, 60)})` : ''}`,
      ratio: ratio(k?.submitParallel.perSecond, s?.submitRest?.perSecond, 'higher'),
      goal: '',
    },
    {
      measure: `   array of ${fmt(k?.arrayTasks ?? s?.arrayTasks)} tasks, held: submit → acknowledged`,
      keisan: ms(k?.arrayMs),
      slurm: ms(s?.arrayMs),
      ratio: ratio(k?.arrayMs, s?.arrayMs, 'lower'),
      goal: `≤ ${GOALS.arrayMs} ms${verdict(k ? k.arrayMs <= GOALS.arrayMs : null)}`,
    },
    {
      measure: `   held jobs cancelled per second (Keisan: ${fmt(k?.cancelHeld.jobs)}, one request each, 8 in flight; SLURM: ${fmt(s?.cancelHeldJobs)}, one scancel)`,
      keisan: perS(k?.cancelHeld.perSecond),
      slurm: perS(s && s.cancelHeldMs > 0 ? s.cancelHeldJobs / (s.cancelHeldMs / 1000) : null),
      ratio: ratio(k?.cancelHeld.perSecond, s && s.cancelHeldMs > 0 ? s.cancelHeldJobs / (s.cancelHeldMs / 1000) : null, 'higher'),
      goal: '',
    },
    {
      measure: `   cancel the ${fmt(k?.arrayTasks ?? s?.arrayTasks)}-task array (Keisan: POST /api/jobs/cancel {arrayId}; SLURM: scancel ID)`,
      keisan: k?.cancelArray ? ms(k.cancelArray.seconds * 1000) : k ? 'failed' : '—',
      slurm: ms(s?.cancelArrayMs),
      ratio: ratio(k?.cancelArray ? k.cancelArray.seconds * 1000 : null, s?.cancelArrayMs, 'lower'),
      goal: '',
    },
  );
  const sd = s?.pending.sdiag;
  const slurmDecisions = sd && sd.main.meanUs > 0 ? sd.main.meanDepth / (sd.main.meanUs / 1e6) : null;
  out.push(
    {
      measure: `4. one scheduling pass (Keisan: full fair-share pass, ${fmt(pass?.pending)} pending, pure; SLURM: sdiag main cycle, mean, ${fmt(s?.pending.jobs)} pending — different scale)`,
      keisan: ms(passMs),
      slurm: sd ? `${ms(sd.main.meanUs / 1000)} (max ${ms(sd.main.maxUs / 1000)}) at depth ${fmt(sd.main.meanDepth)}` : '—',
      ratio: null,
      goal: `≤ ${GOALS.passMs} ms${verdict(passMs === null ? null : passMs <= GOALS.passMs)}`,
    },
    {
      measure: '   SLURM backfill cycle, mean (max), at its depth',
      keisan: '(in the pass above)',
      slurm: sd ? `${ms(sd.backfill.meanUs / 1000)} (max ${ms(sd.backfill.maxUs / 1000)}) at depth ${fmt(sd.backfill.depthMean)}` : '—',
      ratio: null,
      goal: '',
    },
    {
      measure: '   pending jobs examined per second of scheduling',
      keisan: pass && passMs ? perS(pass.decisions / (passMs / 1000)) : '—',
      slurm: perS(slurmDecisions),
      ratio: ratio(pass && passMs ? pass.decisions / (passMs / 1000) : null, slurmDecisions, 'higher'),
      goal: `≥ ${fmt(GOALS.decisionsPerSecond)}/s${verdict(pass && passMs ? pass.decisions / (passMs / 1000) >= GOALS.decisionsPerSecond : null)}`,
    },
    {
      measure: `   daemon RSS with ${fmt(k?.arrayTasks)} / ${fmt(s?.pending.queued)} pending (Keisan server, held array; slurmctld, single jobs)`,
      keisan: mib(k?.rssWithArray),
      slurm: mib(s?.pending.rssWithPending),
      ratio: ratio(k?.rssWithArray, s?.pending.rssWithPending, 'lower'),
      goal: '',
    },
    {
      measure: '   daemon RSS idle, right after start (Keisan server; slurmctld)',
      keisan: mib(k?.rssIdle),
      slurm: mib(s?.pending.rssFresh),
      ratio: ratio(k?.rssIdle, s?.pending.rssFresh, 'lower'),
      goal: '',
    },
    {
      measure: `   memory for 1 000 000 pending (Keisan: scheduler heap, measured; SLURM: (RSS with pending − before) × 10⁶/N, extrapolated)`,
      keisan: million ? mib(million.heapBytes) : 'not measured',
      slurm: s && s.pending.rssWithPending !== null && s.pending.rssBefore !== null && s.pending.queued > 0 ? `${mib(((s.pending.rssWithPending - s.pending.rssBefore) / s.pending.queued) * 1e6)} (MaxJobCount needed)` : '—',
      ratio: null,
      goal: `≤ 2 GB${verdict(million ? million.heapBytes <= GOALS.millionPendingBytes : null)}`,
    },
  );
  return out;
}

function table(header: string[], body: string[][], left: ReadonlySet<number>): string {
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (left.has(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (left.has(c) ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

function cpuText(c: CpuUse, daemon: string): string {
  return `${fmt(c.seconds, 1)} s, busy before ${fmt(c.busyBeforePct)}%, machine ${fmt(c.machineBusyPct)}% busy, ${daemon} ${c.daemonCpuS === null ? '—' : `${fmt(c.daemonCpuS, 2)} s`} CPU, client ${fmt(c.clientCpuS, 2)} s CPU`;
}

function report(env: Environment, o: Options, k: KeisanResults | null, s: SlurmResults | null, sched: SchedulerSummary | null): string {
  const pass = sched?.pass ?? null;
  const million = sched?.million ?? null;
  const lines: string[] = [];
  lines.push(
    '',
    `Keisan batch vs SLURM, ${env.date}: ${env.nproc} CPUs (${env.cpuModel}), ${fmt(env.memTotalKiB)} kB RAM, swap ${fmt(env.swapTotalKiB)} kB, ${env.os}, Linux ${env.kernel}, Node ${env.node}`,
    `SLURM: ${env.slurm ?? 'not run'}; munge: ${env.munge ?? '—'}; commit ${env.commit ?? '?'}${env.srcDirty ? ' with uncommitted changes in src/' : ''}; machine busy before the run: ${fmt(env.busyBeforePct)}%`,
    '"× Keisan" = how many times better Keisan is (> 1: Keisan faster / smaller); — = not comparable or not measured. "Keisan on SLURM": Keisan with batch.executor: slurm on the same SLURM cluster (HTC-tuned).',
    '',
  );
  const body = rows(k, s, sched).map((r) => [r.measure, r.keisan, r.slurm, r.keisanOnSlurm ?? '—', r.ratio === null ? '—' : `${fmt(r.ratio, r.ratio >= 10 ? 0 : r.ratio >= 1 ? 1 : r.ratio >= 0.1 ? 2 : r.ratio >= 0.01 ? 3 : 4)}×`, r.goal]);
  lines.push(table(['measure', 'Keisan', 'SLURM', 'Keisan on SLURM', '× Keisan', 'Keisan goal'], body, new Set([0, 5])), '');
  lines.push('Details:');
  if (k) {
    lines.push(
      `- keisan latency: min ${ms(k.latency.min)}, max ${ms(k.latency.max)}, ack p99 ${ms(k.latency.ackP99)}; ${cpuText(k.latency.cpu, 'server')}`,
      `- keisan latency, where it goes (medians after the pre-submit time; file mtimes ±4 ms): stored (submittedAt) ${ms(k.latencyBreakdown.stored)}, start decided ${ms(k.latencyBreakdown.decided)}, ` +
        `shim's \`started\` record ${ms(k.latencyBreakdown.shimStarted)}, job's first command ${ms(k.latencyBreakdown.jobRan)}`,
      `- keisan end to end, one job's cycle on a CPU (medians; file mtimes ±4 ms): start decided → spec.json written, just before the spawn ${ms(k.cycleBreakdown.decisionToSpawn)} → shim started ${ms(k.cycleBreakdown.spawnToShimStarted)} → ` +
        `job's exit record ${ms(k.cycleBreakdown.shimStartedToExit)} → finished (outcome.json) ${ms(k.cycleBreakdown.exitToFinished)} → next start decided ${ms(k.cycleBreakdown.finishedToNextDecision)}`,
      `- keisan end to end: ${k.endToEnd.jobs} jobs submitted in ${fmt(k.endToEnd.submitS, 2)} s (8 in flight), last marker at ${fmt(k.endToEnd.lastMarkerS, 2)} s, last endedAt at ${fmt(k.endToEnd.systemEndS, 2)} s, ${k.endToEnd.completed ?? '?'} completed; ${cpuText(k.endToEnd.cpu, 'server')}`,
      `- keisan submit: 1 client ${fmt(k.submitSequential.seconds, 2)} s (${cpuText(k.submitSequential.cpu, 'server')}); ${k.submitParallel.concurrency} in flight ${fmt(k.submitParallel.seconds, 2)} s (${cpuText(k.submitParallel.cpu, 'server')}); cancel ${k.cancelHeld.jobs}: ${perS(k.cancelHeld.perSecond)}` +
        (k.cancelArray ? `; cancel array tasks: ${perS(k.cancelArray.perSecond)} (${cpuText(k.cancelArray.cpu, 'server')})` : ''),
    );
  }
  if (pass) {
    lines.push(
      `- keisan scheduler pass (${pass.pending} pending, ${pass.running} running, 64-CPU node, ${pass.runs} runs, child process): median ${ms(median(pass.wallMs))} (min ${ms(Math.min(...pass.wallMs))}, max ${ms(Math.max(...pass.wallMs))}), CPU median ${ms(median(pass.cpuMs))}` +
        (pass.afterGcWallMs ? `; after a full GC: median ${ms(median(pass.afterGcWallMs))}` : '') +
        `; reasons: ${Object.entries(pass.reasons).map(([kind, n]) => `${kind} ${n}`).join(', ')}`,
    );
  }
  if (million) lines.push(`- keisan 1 000 000 pending: heap ${mib(million.heapBytes)} (${fmt(million.heapBytes / million.jobs)} B/job), one pass ${ms(million.passMs)}, process RSS ${mib(million.rssBytes)}`);
  else if (o.million) lines.push('- keisan 1 000 000 pending: not measured (the child runs node --expose-gc; see its error above)');
  const kos = s?.keisanOnSlurm;
  if (kos) {
    lines.push(
      `- keisan on slurm latency: min ${ms(kos.latency.min)}, max ${ms(kos.latency.max)}, ack p50 ${ms(kos.latency.ackP50)} / p99 ${ms(kos.latency.ackP99)}; ${cpuText(kos.latency.cpu, 'server+slurmctld+slurmd')}; server RSS idle ${mib(kos.rssIdle)}`,
      `- keisan on slurm end to end: ${kos.endToEnd.jobs} jobs submitted in ${fmt(kos.endToEnd.submitS, 2)} s (8 in flight), last marker at ${fmt(kos.endToEnd.lastMarkerS, 2)} s, last endedAt at ${fmt(kos.endToEnd.systemEndS, 2)} s, ${kos.endToEnd.completed ?? '?'} completed; ${cpuText(kos.endToEnd.cpu, 'server+slurmctld+slurmd')}`,
    );
  } else if (s?.keisanOnSlurmError) {
    lines.push(`- keisan on slurm: not measured: ${s.keisanOnSlurmError}`);
  }
  if (s) {
    lines.push(
      `- slurm latency as shipped: min ${ms(s.latencyShipped.min)}, max ${ms(s.latencyShipped.max)}, sbatch ack p50 ${ms(s.latencyShipped.ackP50)} / p99 ${ms(s.latencyShipped.ackP99)}; ${cpuText(s.latencyShipped.cpu, 'slurmctld+slurmd')}`,
      `- slurm latency HTC-tuned: min ${ms(s.latencyTuned.min)}, max ${ms(s.latencyTuned.max)}; ${cpuText(s.latencyTuned.cpu, 'slurmctld+slurmd')}`,
      `- slurm end to end: ${s.endToEnd.jobs} jobs submitted in ${fmt(s.endToEnd.submitS, 2)} s (8 sbatch at a time), last marker at ${fmt(s.endToEnd.lastMarkerS, 2)} s, squeue empty at ${fmt(s.endToEnd.systemEndS, 2)} s; ${cpuText(s.endToEnd.cpu, 'slurmctld+slurmd')}`,
      `- slurm submit: 1 at a time ${fmt(s.submitSequential.seconds, 2)} s; ${s.submitParallel.concurrency} parallel ${fmt(s.submitParallel.seconds, 2)} s (${cpuText(s.submitParallel.cpu, 'slurmctld+slurmd')})` +
        (s.submitRest ? `; slurmrestd ${fmt(s.submitRest.seconds, 2)} s (${cpuText(s.submitRest.cpu, 'slurmctld+slurmd')})` : `; slurmrestd: ${s.restNote ?? ''}`),
      `- slurm pending: ${s.pending.jobs} submitted in ${fmt(s.pending.submit.seconds, 1)} s (${perS(s.pending.submit.perSecond)}), ${s.pending.queued} pending after ${fmt(s.pending.waitedS)} s; sdiag main: ${s.pending.sdiag.main.totalCycles} cycles, last ${ms(s.pending.sdiag.main.lastUs / 1000)}, ` +
        `${s.pending.sdiag.main.cyclesPerMinute}/min, last queue length ${s.pending.sdiag.main.lastQueueLength}; backfill: ${s.pending.sdiag.backfill.totalCycles} cycles, last ${ms(s.pending.sdiag.backfill.lastUs / 1000)} at depth ${s.pending.sdiag.backfill.lastDepth}; ` +
        `slurmctld RSS fresh ${mib(s.pending.rssFresh)}, before ${mib(s.pending.rssBefore)}, with pending ${mib(s.pending.rssWithPending)}`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------- main

async function main(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  waitIdleS = o.waitIdleS;
  if (process.getuid?.() !== 0) throw new Error('run as root: Keisan runs jobs in cgroups and SLURM needs its daemons (munge, slurmctld, slurmd)');
  let slurmVersion: string | null = null;
  if (o.slurm) slurmVersion = await Slurm.ensureInstalled();
  const busyBeforePct = await machineBusyOver(2000);
  log(`machine busy before the run: ${fmt(busyBeforePct)}% of all cores${busyBeforePct > 10 ? ' — WARNING: not idle, other work competes with the systems measured' : ''}`);
  const env = environment(slurmVersion, busyBeforePct);

  let sched: SchedulerSummary | null = null;
  if (o.keisan && o.scheduler) {
    await beforeSeries('keisan scheduler');
    log(`keisan: scheduler pass over 100 000 pending (${o.runs} runs)${o.million ? ' and the heap of 1 000 000 pending' : ''}, in a child process …`);
    sched = await measureScheduler(o);
    log(`keisan: pass median ${median(sched.pass.wallMs).toFixed(1)} ms${sched.million ? `; 1 000 000 pending hold ${(sched.million.heapBytes / 2 ** 20).toFixed(0)} MiB of heap` : ''}`);
  }
  const keisan = o.keisan ? await runKeisan(o) : null;
  const slurm = o.slurm && slurmVersion ? await runSlurm(o, slurmVersion, o.keisan) : null;

  if (o.json) process.stdout.write(`${JSON.stringify({ environment: env, options: o, goals: GOALS, keisan, slurm, scheduler: sched, rows: rows(keisan, slurm, sched) }, null, 2)}\n`);
  else process.stdout.write(report(env, o, keisan, slurm, sched));
  return 0;
}

if (process.argv.includes('--scheduler-child')) {
  schedulerChild(process.argv.slice(2));
  process.exit(0);
}

process.on('exit', () => {
  for (const child of lastResort) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping everything this benchmark started (again to exit at once) …`);
    void cleanUp().finally(() => process.exit(130));
  });
}

let code: number;
try {
  code = await main(process.argv.slice(2));
} catch (error) {
  log(`bench:slurm failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  code = 1;
}
await cleanUp();
process.exit(code);
