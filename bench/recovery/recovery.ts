/**
 * bench/recovery: the recovery watchdog (`keisan watchdog`, the real process) against the kernel's
 * OOM killer and earlyoom 1.7, side by side on this machine (notes/recovery.md §9–§11, issue 6).
 *
 *   npm run bench:recovery             the full suite (prints how long it will take)
 *   npm run bench:recovery -- --smoke  S1 at one rate and S4 at pids.max 128, 3 runs each,
 *                                      Keisan and the kernel only; exits 1 if Keisan did not act
 *                                      or anything but the culprit was killed
 *   … -- --only S1,S4 --runs 5          a subset
 *
 * Everything runs under a private bench parent cgroup `keisan-bench-<pid>` (memory ≤ 6 GiB, pids
 * capped, in every hierarchy incl. the cgroup2 side mount) standing for "the node"; each trial's
 * jobs are `job-<n>` under it with a memory limit and a pids.max; injectors are small C programs
 * (kbinj.c, compiled here) started inside the job cgroups before they fork, under `timeout` and
 * RLIMIT_CPU; the harness writes cgroup.kill at T_max, on exit and on SIGINT/SIGTERM, waits for
 * populated 0 between trials and removes every bench cgroup at the end. See README.md.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CgroupTree, detectCgroupLayout, type JobCgroup } from '../../src/batch/executors/local/cgroups.ts';
import { writeJsonAtomic, type SpecRecord } from '../../src/batch/executors/local/state.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const SECRET = 'bench-recovery-secret';
const PARENT_MEM = 3 * GiB;
const PARENT_PIDS = 4096;
const AVOID = () => `^(${readText('/proc/1/comm').trim() || 'init'}|node|slurm.*|munged|sshd|bash|sh|postgres.*|swift.*|memcached|prometheus.*)$`;
const INJECTOR_COMM = 'kbinj';

// ------------------------------------------------------------------------------- small helpers

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
function readNum(file: string | null): number | null {
  if (!file) return null;
  const t = readText(file).trim();
  if (t === '') return null;
  const n = Number(t.split(/\s+/)[0]);
  return Number.isFinite(n) ? n : null;
}
function keyed(file: string | null, key: string): number | null {
  if (!file) return null;
  const m = new RegExp(`^${key} (\\d+)`, 'm').exec(readText(file));
  return m ? Number(m[1]) : null;
}
function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readText('/proc/meminfo'));
  return m ? Number(m[1]) * 1024 : 0;
}
function globalOomKills(): number {
  return keyed('/proc/vmstat', 'oom_kill') ?? 0;
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();
/** Wall clock ms (another process's Date.now()) → this process's monotonic performance.now(). */
const monoOfWall = (wallMs: number) => wallMs - performance.timeOrigin;

function quantile(values: number[], q: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}
function sd(values: number[]): number | null {
  if (values.length < 2) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
}
const fmtMs = (v: number | null) => (v === null ? '—' : Math.abs(v) >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);

// ------------------------------------------------------------------------------- options

const argv = process.argv.slice(2);
const SMOKE = argv.includes('--smoke');
const onlyArg = argv[argv.indexOf('--only') + 1];
const ONLY = argv.includes('--only') && onlyArg ? new Set(onlyArg.split(',')) : null;
const runsArg = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : null;
const RUNS = runsArg && runsArg > 0 ? runsArg : SMOKE ? 3 : 10;
/** Runs of a cell where nothing is expected to act (capped at T_max, counted as "never"). */
const RUNS_NEVER = SMOKE ? 3 : Math.min(RUNS, 3);

// ------------------------------------------------------------------------------- the bench environment

interface Env {
  tree: CgroupTree;
  tmp: string;
  injector: string;
  wsFile: string;
  streamFile: string;
  probeIn: Probe;
  probeOut: Probe;
  receiver: Receiver;
  nextJob: number;
  children: Set<ChildProcess>;
}

let ENV: Env | null = null;

function jobFiles(tree: CgroupTree, id: number) {
  const d = tree.jobDirs(id);
  const at = (h: typeof d.memory, f: string) => (h ? path.join(d.dir(h), f) : null);
  return {
    memUsage: at(d.memory, d.memory?.version === 2 ? 'memory.current' : 'memory.usage_in_bytes'),
    memLimit: at(d.memory, d.memory?.version === 2 ? 'memory.max' : 'memory.limit_in_bytes'),
    oom: at(d.memory, d.memory?.version === 2 ? 'memory.events' : 'memory.oom_control'),
    pidsCurrent: at(d.pids, 'pids.current'),
    pidsMax: at(d.pids, 'pids.max'),
    cpuacct: d.cpuacct ? at(d.cpuacct, 'cpuacct.usage') : null,
    cpuStat: at(d.v2, 'cpu.stat'),
    events: at(d.v2, 'cgroup.events'),
    procs: at(d.v2 ?? d.memory, 'cgroup.procs'),
  };
}
type JobFiles = ReturnType<typeof jobFiles>;

function parentFiles(tree: CgroupTree) {
  const dirs = tree.parentDirs();
  const mem = dirs.find((d) => fs.existsSync(path.join(d, 'memory.usage_in_bytes')) || fs.existsSync(path.join(d, 'memory.current')));
  const v2 = dirs.find((d) => fs.existsSync(path.join(d, 'cgroup.kill')));
  return {
    memUsage: mem ? (fs.existsSync(path.join(mem, 'memory.usage_in_bytes')) ? path.join(mem, 'memory.usage_in_bytes') : path.join(mem, 'memory.current')) : null,
    memLimit: mem ? (fs.existsSync(path.join(mem, 'memory.limit_in_bytes')) ? path.join(mem, 'memory.limit_in_bytes') : path.join(mem, 'memory.max')) : null,
    kill: v2 ? path.join(v2, 'cgroup.kill') : null,
  };
}

function removeProbeDirs(tree: CgroupTree): void {
  for (const d of tree.parentDirs()) {
    const probe = path.join(d, 'probe');
    for (let i = 0; i < 100 && fs.existsSync(probe); i++) {
      try {
        fs.rmdirSync(probe);
      } catch {
        spawnSync('sleep', ['0.02']);
      }
    }
  }
}

/** Kills everything in the bench parent (cgroup.kill of the parent, else each job's kill). Synchronous: for exit handlers. */
function killBenchSync(env: Env): void {
  const pf = parentFiles(env.tree);
  try {
    if (pf.kill) fs.writeFileSync(pf.kill, '1');
  } catch {
    // fall through to the jobs
  }
  for (const id of env.tree.jobIds()) {
    try {
      env.tree.job(id).kill();
    } catch {
      // gone
    }
  }
  for (const c of env.children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

function exitCleanup(): void {
  if (!ENV) return;
  killBenchSync(ENV);
  removeProbeDirs(ENV.tree);
  try {
    ENV.tree.destroy(5000);
  } catch {
    // reported by the caller's check
  }
  try {
    fs.rmSync(ENV.tmp, { recursive: true, force: true });
  } catch {
    // best effort
  }
  ENV = null;
}

process.on('exit', exitCleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\nbench/recovery: ${sig}: killing every bench process and removing the bench cgroups`);
    exitCleanup();
    process.exit(130);
  });
}

/** Starts argv inside the given cgroup.procs files (the shell writes its own pid into each, then execs), fenced by `timeout` and RLIMIT_CPU. */
function startIn(procsFiles: string[], cmd: string[], opts: { timeoutS: number; cpuS?: number; stdin?: boolean }): ChildProcess {
  const script = 'for f in $KB_PROCS; do echo $$ > "$f" || exit 97; done; ulimit -t "$KB_CPU"; exec timeout -s KILL "$KB_TIMEOUT" "$@"';
  const child = spawn('sh', ['-c', script, 'sh', ...cmd], {
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', KB_PROCS: procsFiles.join(' '), KB_CPU: String(opts.cpuS ?? 60), KB_TIMEOUT: String(opts.timeoutS) },
  });
  child.on('error', () => {});
  ENV?.children.add(child);
  child.on('exit', () => ENV?.children.delete(child));
  return child;
}

function onLines(stream: NodeJS.ReadableStream | null, fn: (line: string, at: number) => void): void {
  if (!stream) return;
  let buf = '';
  stream.on('data', (chunk: Buffer) => {
    const at = now();
    buf += chunk.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      fn(buf.slice(0, i), at);
      buf = buf.slice(i + 1);
    }
  });
}

// ------------------------------------------------------------------------------- probes

const PROBE_JS = `const http=require('http');const s=http.createServer((q,r)=>r.end('ok'));s.listen(0,'127.0.0.1',()=>console.log(s.address().port));setTimeout(()=>process.exit(0),3600e3).unref();`;

interface Probe {
  name: string;
  port: number;
  child: ChildProcess;
  samples: { at: number; ms: number | null }[];
}

async function startProbe(name: string, procsFiles: string[] | null): Promise<Probe> {
  const child = procsFiles ? startIn(procsFiles, ['node', '-e', PROBE_JS], { timeoutS: 3600, cpuS: 600 }) : spawn('node', ['-e', PROBE_JS], { stdio: ['ignore', 'pipe', 'pipe'] });
  ENV?.children.add(child);
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`probe ${name} did not start`)), 10_000);
    onLines(child.stdout, (line) => {
      clearTimeout(t);
      resolve(Number(line));
    });
  });
  return { name, port, child, samples: [] };
}

const agent = new http.Agent({ keepAlive: false });
function pollOnce(p: Probe): void {
  const start = now();
  let done = false;
  const finish = (ms: number | null) => {
    if (done) return;
    done = true;
    p.samples.push({ at: start, ms });
  };
  const req = http.get({ host: '127.0.0.1', port: p.port, path: '/', agent, timeout: 1000 }, (res) => {
    res.resume();
    res.on('end', () => finish(now() - start));
  });
  req.on('timeout', () => {
    req.destroy();
    finish(null);
  });
  req.on('error', () => finish(null));
}

// ------------------------------------------------------------------------------- the events receiver (the watchdog's server)

interface ReceivedEvent {
  rule: string;
  jobId: number | null;
  action: string;
  outcome: string;
  mode: string;
  at: string;
  explanation: string;
  victimExplanation: string;
  timings: { decisionToWriteMs: number; writeMs: number | null; writeToEmptyMs: number | null } | null;
  receivedAt: number;
}
interface Receiver {
  url: string;
  events: ReceivedEvent[];
  server: http.Server;
}

async function startReceiver(): Promise<Receiver> {
  const events: ReceivedEvent[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      if (req.headers.authorization !== `Node ${SECRET}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"bad node secret"}');
        return;
      }
      if (req.method === 'POST' && req.url === '/api/recovery/events') {
        try {
          events.push({ ...(JSON.parse(text) as Omit<ReceivedEvent, 'receivedAt'>), receivedAt: now() });
        } catch {
          res.writeHead(400).end('{}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: events.length }));
        return;
      }
      // the watchdog's daemon link: register and heartbeats (a real server asks for one every 15 s)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 1, heartbeatIntervalSeconds: 15 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, events, server };
}

// ------------------------------------------------------------------------------- agents

interface Watchdog {
  child: ChildProcess;
  /** Its --data directory (the local executor's job records live under jobs/jobs/<id>). */
  dataDir: string;
  log: string[];
  stop: () => Promise<void>;
}

/** The real `keisan watchdog` process on the bench parent, with a throwaway data directory. */
async function startWatchdog(env: Env, recoveryYaml: string): Promise<Watchdog> {
  const data = fs.mkdtempSync(path.join(env.tmp, 'keisan-data-'));
  fs.writeFileSync(path.join(data, 'keisan.yaml'), `batch:\n  cgroupParent: ${env.tree.root}\nrecovery:\n${recoveryYaml}`);
  const child = spawn(process.execPath, [path.join(REPO, 'bin/keisan.js'), 'watchdog', '--data', data, '--server', env.receiver.url], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KEISAN_NODE_SECRET: SECRET, KEISAN_DATA: data, KEISAN_LOG_LEVEL: 'info' },
  });
  env.children.add(child);
  const log: string[] = [];
  let ready = false;
  onLines(child.stdout, (line) => {
    log.push(line);
    if (line.includes('recovery watches')) ready = true;
  });
  onLines(child.stderr, (line) => log.push(line));
  const deadline = now() + 20_000;
  while (!ready) {
    if (child.exitCode !== null || now() > deadline) throw new Error(`keisan watchdog did not start:\n${log.slice(-10).join('\n')}`);
    await sleep(20);
  }
  return {
    child,
    dataDir: data,
    log,
    stop: async () => {
      child.kill('SIGTERM');
      const until = now() + 5000;
      while (child.exitCode === null && child.signalCode === null && now() < until) await sleep(20);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      env.children.delete(child);
    },
  };
}

const RECOVERY_DEFAULT = '  mode: automatic\n';
const recoveryMatched = (floorBytes: number) => `  mode: automatic\n  detectors:\n    nodeMemory:\n      floorBytes: ${Math.round(floorBytes)}\n      floorRatio: 0\n`;

interface EarlyoomRun {
  child: ChildProcess;
  kills: { at: number; pid: number; name: string; signal: string }[];
  lines: string[];
  stop: () => Promise<void>;
}

/** earlyoom 1.7 in the foreground (never the service), -r 0, always --avoid the system and --prefer the injector. */
async function startEarlyoom(env: Env, memArgs: string[]): Promise<EarlyoomRun> {
  const child = spawn('/usr/bin/earlyoom', [...memArgs, '-r', '0', '--avoid', AVOID(), '--prefer', `^${INJECTOR_COMM}$`], { stdio: ['ignore', 'pipe', 'pipe'] });
  env.children.add(child);
  const kills: EarlyoomRun['kills'] = [];
  const lines: string[] = [];
  let started = false;
  const handle = (line: string, at: number) => {
    lines.push(line);
    if (/SIGKILL when/.test(line)) started = true;
    const m = /sending (SIG\w+) to process (\d+) uid \d+ "([^"]*)"/.exec(line);
    if (m) kills.push({ at, pid: Number(m[2]), name: m[3]!, signal: m[1]! });
  };
  onLines(child.stdout, handle);
  onLines(child.stderr, handle);
  const deadline = now() + 5000;
  while (!started && child.exitCode === null && now() < deadline) await sleep(10);
  if (child.exitCode !== null) throw new Error(`earlyoom exited: ${lines.join('\n')}`);
  return {
    child,
    kills,
    lines,
    stop: async () => {
      child.kill('SIGTERM');
      const until = now() + 3000;
      while (child.exitCode === null && child.signalCode === null && now() < until) await sleep(10);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      env.children.delete(child);
    },
  };
}

// ------------------------------------------------------------------------------- trials

type AgentName = 'kernel' | 'earlyoom' | 'earlyoom-matched' | 'keisan' | 'keisan-matched';
type Role = 'culprit' | 'innocent' | 'control' | 'hog';

interface JobSpec {
  role: Role;
  memBytes: number;
  cpus: number;
  pidsMax: number;
  cmd: (env: Env) => string[];
  /** Wait for this line prefix before starting the next job / the fault. */
  readyLine?: string;
  /** The injector waits for a line on stdin before its fault phase (kbinj mem … -1). */
  gated?: boolean;
  /**
   * What the job record says it asked for, when less than its cgroup allows (`cpus`): written as
   * the local executor's record (spec.json) in the watchdog's data directory before the job starts,
   * as on a site whose cgroups let jobs burst above their request.
   */
  requestedCpus?: number;
}

interface Scenario {
  id: string;
  cell: string;
  title: string;
  jobs: JobSpec[];
  onset: 'progress' | 'pids' | 'spin' | 'none';
  tMaxMs: number;
  /** Sampling period of the harness (ms). */
  sampleMs: number;
  /** earlyoom -M and Keisan's node floor from MemAvailable at "parent full" (+256 MiB), computed per trial. */
  matched?: boolean;
  /** Nobody should act: the control (false-positive) cell. */
  control?: boolean;
}

interface Sample {
  t: number;
  jobs: Record<string, { mem: number | null; pids: number | null; cpu: number | null; populated: boolean; oomKills: number }>;
  parentMem: number | null;
  memAvailable: number;
}

interface Trial {
  scenario: string;
  cell: string;
  agent: AgentName;
  run: number;
  /** When the fault began: the leak's gate opened, the bomb or the spinners started. */
  faultAt: number;
  onsetAt: number | null;
  onsetHow: string;
  actor: string | null;
  actAt: number | null;
  emptyAt: number | null;
  /** Keisan's own timings of its action (decision → write → empty), ms. */
  keisanDetectToEmptyMs: number | null;
  /** The rules of Keisan's actions in this trial. */
  rules: string[];
  wrongVictims: string[];
  falsePositives: number;
  never: boolean;
  probeIn: (number | null)[];
  probeOut: (number | null)[];
  samples: Sample[];
  probeSeries: { t: number; inMs: number | null; outMs: number | null }[];
  notes: string[];
}

/** Fault → onset (ms) of the trials of each cell where the onset was seen. */
const ONSETS = new Map<string, number[]>();

async function waitEmpty(files: JobFiles, ms: number): Promise<boolean> {
  const deadline = now() + ms;
  while (now() < deadline) {
    if (keyed(files.events, 'populated') === 0 || (!files.events && (readNum(files.pidsCurrent) ?? 0) === 0)) return true;
    await sleep(5);
  }
  return false;
}

async function runTrial(env: Env, sc: Scenario, agentName: AgentName, run: number, watchdog: { current: Watchdog | null }): Promise<Trial> {
  const trial: Trial = {
    scenario: sc.id,
    cell: sc.cell,
    agent: agentName,
    run,
    faultAt: 0,
    onsetAt: null,
    onsetHow: '',
    actor: null,
    actAt: null,
    emptyAt: null,
    keisanDetectToEmptyMs: null,
    rules: [],
    wrongVictims: [],
    falsePositives: 0,
    never: false,
    probeIn: [],
    probeOut: [],
    samples: [],
    probeSeries: [],
    notes: [],
  };
  // Baseline: the machine is calm (MemAvailable not far below where the bench started).
  const jobs: { spec: JobSpec; id: number; cg: JobCgroup; files: JobFiles; child: ChildProcess | null; pids: Set<number>; progress: { at: number; v: number }[]; lines: { at: number; line: string }[]; gateAt: number | null; startedAt: number }[] = [];
  for (const spec of sc.jobs) {
    const id = env.nextJob++;
    if (spec.requestedCpus !== undefined && watchdog.current) {
      // Before the cgroup exists, so the watchdog never sees the job without its record.
      const dir = path.join(watchdog.current.dataDir, 'jobs', 'jobs', String(id));
      fs.mkdirSync(dir, { recursive: true });
      const record: SpecRecord = { jobId: id, uid: 0, gid: 0, cpus: spec.requestedCpus, memBytes: spec.memBytes, timeLimitMs: null, createdAt: Date.now(), cgroups: [] };
      writeJsonAtomic(path.join(dir, 'spec.json'), record);
    }
    const cg = env.tree.createJob(id, { memBytes: spec.memBytes, cpus: spec.cpus, pidsMax: spec.pidsMax });
    jobs.push({ spec, id, cg, files: jobFiles(env.tree, id), child: null, pids: new Set(), progress: [], lines: [], gateAt: null, startedAt: 0 });
  }
  const culprit = jobs.find((j) => j.spec.role === 'culprit') ?? jobs.find((j) => j.spec.role === 'hog') ?? jobs.find((j) => j.spec.role === 'control')!;
  const pf = parentFiles(env.tree);
  const oomBefore = globalOomKills();
  let eo: EarlyoomRun | null = null;
  const eventsBefore = env.receiver.events.length;
  const startedAt = now();
  let sampler: NodeJS.Timeout | null = null;
  let prober: NodeJS.Timeout | null = null;
  const lastCpu = new Map<number, { t: number; ns: number }>();
  const sampleOnce = () => {
    const t = now();
    const s: Sample = { t, jobs: {}, parentMem: readNum(pf.memUsage), memAvailable: memAvailable() };
    for (const j of jobs) {
      let ns = readNum(j.files.cpuacct);
      if (ns === null) {
        const us = keyed(j.files.cpuStat, 'usage_usec');
        ns = us === null ? null : us * 1000;
      }
      let cpu: number | null = null;
      const prev = lastCpu.get(j.id);
      if (ns !== null && prev) cpu = (ns - prev.ns) / 1e6 / (t - prev.t);
      if (ns !== null) lastCpu.set(j.id, { t, ns });
      const populated = keyed(j.files.events, 'populated') !== 0;
      s.jobs[j.spec.role] = { mem: readNum(j.files.memUsage), pids: readNum(j.files.pidsCurrent), cpu, populated, oomKills: keyed(j.files.oom, 'oom_kill') ?? 0 };
      if (j.spec.role !== 'hog' && sc.onset !== 'pids') for (const p of readText(j.files.procs ?? '').split('\n')) if (p) j.pids.add(Number(p));
    }
    trial.samples.push(s);
    return s;
  };
  try {
    if (agentName === 'earlyoom') eo = await startEarlyoom(env, []);
    // Start the jobs in order; each waits for its ready line.
    for (const j of jobs) {
      const child = startIn(j.cg.procsFiles(), j.spec.cmd(env), { timeoutS: Math.ceil(sc.tMaxMs / 1000) + 30, cpuS: 60, stdin: j.spec.gated });
      j.child = child;
      j.startedAt = now();
      onLines(child.stdout, (line, at) => {
        j.lines.push({ at, line });
        const m = /^P ([\d.]+)/.exec(line);
        if (m) j.progress.push({ at, v: Number(m[1]) });
      });
      onLines(child.stderr, (line) => trial.notes.push(`${j.spec.role}: ${line}`));
      if (j.spec.readyLine) {
        const deadline = now() + 20_000;
        while (!j.lines.some((l) => l.line.startsWith(j.spec.readyLine!))) {
          if (now() > deadline || child.exitCode !== null) throw new Error(`${sc.id} ${j.spec.role} never printed ${j.spec.readyLine}: ${trial.notes.slice(-3).join('; ')}`);
          await sleep(5);
        }
      }
    }
    // Agents that start per trial (thresholds matched to this trial's "parent full").
    if (sc.matched && (agentName === 'earlyoom-matched' || agentName === 'keisan-matched')) {
      const parentUsage = readNum(pf.memUsage) ?? 0;
      const headroom = PARENT_MEM - parentUsage;
      // notes §10: TERM at MemAvailable at onset + 256 MiB on a 20 GiB node; scaled to this 3 GiB parent: + 64 MiB.
      const full = memAvailable() - headroom;
      const floor = full + 64 * MiB;
      trial.notes.push(`matched MemAvailable threshold ${Math.round(floor / MiB)} MiB (MemAvailable now ${Math.round(memAvailable() / MiB)} MiB, parent headroom ${Math.round(headroom / MiB)} MiB)`);
      if (agentName === 'earlyoom-matched') eo = await startEarlyoom(env, ['-M', `${Math.round(floor / 1024)},${Math.round(full / 1024)}`]);
      else {
        await watchdog.current?.stop();
        watchdog.current = await startWatchdog(env, recoveryMatched(floor));
      }
    }
    // Monitor.
    sampler = setInterval(sampleOnce, sc.sampleMs);
    prober = setInterval(() => {
      pollOnce(env.probeIn);
      pollOnce(env.probeOut);
    }, 100);
    // Baseline progress (≥ 800 ms of it), then open the gate: the fault begins.
    const gated = jobs.filter((j) => j.spec.gated);
    if (gated.length) {
      await sleep(800);
      for (const j of gated) {
        j.gateAt = now();
        j.child?.stdin?.write('go\n');
      }
    }
    const faultAt = gated[0]?.gateAt ?? culprit.startedAt;
    trial.faultAt = faultAt;
    const baseline = (() => {
      const before = culprit.progress.filter((p) => p.at < faultAt && p.at > startedAt);
      return quantile(before.slice(2).map((p) => p.v), 0.5);
    })();
    // Run until the culprit is empty (+500 ms to see further kills) or T_max.
    const tEnd = faultAt + sc.tMaxMs;
    let emptySeen: number | null = null;
    let onsetUsage: number | null = null;
    while (now() < tEnd) {
      await sleep(Math.min(10, sc.sampleMs));
      const last = trial.samples.at(-1);
      if (!last) continue;
      const c = last.jobs[culprit.spec.role];
      // Onset.
      if (trial.onsetAt === null) {
        if (sc.onset === 'progress') {
          // Two reports in a row under half the baseline (one slow 100 ms report is noise from the machine's other work).
          const low = (i: number) => culprit.progress[i] !== undefined && culprit.progress[i]!.at > faultAt && culprit.progress[i]!.v < 0.5 * baseline!;
          const idx = baseline !== null && baseline > 0 ? culprit.progress.findIndex((_, i) => low(i) && low(i + 1)) : -1;
          const drop = idx >= 0 ? culprit.progress[idx] : undefined;
          if (drop) {
            trial.onsetAt = drop.at;
            trial.onsetHow = `progress ${drop.v} < 50 % of ${Math.round(baseline!)}`;
          } else if (onsetUsage === null) {
            const lim = culprit.spec.role === 'control' ? culprit.spec.memBytes : sc.matched || sc.id === 'S3' || sc.id === 'S6' ? PARENT_MEM : culprit.spec.memBytes;
            const usage = lim === PARENT_MEM ? last.parentMem : c?.mem;
            if (usage !== null && usage !== undefined && usage >= 0.99 * lim) onsetUsage = last.t;
          }
        } else if (sc.onset === 'pids') {
          if (c && c.pids !== null && c.pids >= culprit.spec.pidsMax) {
            trial.onsetAt = last.t;
            trial.onsetHow = 'pids.current = pids.max';
          }
        } else if (sc.onset === 'spin') {
          const s = culprit.lines.find((l) => l.line === 'S');
          if (s) {
            trial.onsetAt = s.at;
            trial.onsetHow = 'spinners started';
          }
        }
      }
      if (c && !c.populated && emptySeen === null) emptySeen = last.t;
      if (emptySeen !== null && now() - emptySeen > 500) break;
    }
    if (trial.onsetAt === null && onsetUsage !== null) {
      trial.onsetAt = onsetUsage;
      trial.onsetHow = 'usage ≥ limit − 1 %';
    }
    // An agent that acts before the stall leaves no onset to see: use the cell's onset as seen in
    // the kernel-only runs of the cell (fault → onset median), marked "predicted".
    const cellKey = `${sc.id}|${sc.cell}`;
    if (trial.onsetAt !== null && agentName === 'kernel') ONSETS.set(cellKey, [...(ONSETS.get(cellKey) ?? []), trial.onsetAt - faultAt]);
    else if (trial.onsetAt === null && sc.onset !== 'none' && ONSETS.get(cellKey)?.length) {
      trial.onsetAt = faultAt + quantile(ONSETS.get(cellKey)!, 0.5)!;
      trial.onsetHow = 'predicted';
    }
    // Who acted, and when: the kernel (oom_kill counters), earlyoom (its "sending SIG…" line), Keisan (its events).
    const actions: { actor: string; at: number; victim: string }[] = [];
    const byRole = new Map(jobs.map((j) => [j.spec.role, j]));
    for (const j of jobs) {
      const firstKill = trial.samples.find((s) => (s.jobs[j.spec.role]?.oomKills ?? 0) > 0);
      if (firstKill) actions.push({ actor: 'kernel', at: firstKill.t, victim: j.spec.role });
    }
    const benchKernelKills = jobs.reduce((a, j) => a + (trial.samples.at(-1)?.jobs[j.spec.role]?.oomKills ?? 0), 0);
    const outsideKernel = globalOomKills() - oomBefore - benchKernelKills;
    if (outsideKernel > 0) trial.wrongVictims.push(`${outsideKernel} kernel OOM kill(s) outside the bench`);
    for (const k of eo?.kills ?? []) {
      const j = jobs.find((x) => x.pids.has(k.pid));
      actions.push({ actor: 'earlyoom', at: k.at, victim: j ? j.spec.role : `outside:${k.pid}:${k.name}` });
    }
    for (const e of env.receiver.events.slice(eventsBefore)) {
      const j = jobs.find((x) => x.id === e.jobId);
      if (!j) continue;
      if (e.outcome === 'observed' || e.action === 'none' || e.action === 'warn') continue;
      const at = monoOfWall(Date.parse(e.at) + (e.timings?.decisionToWriteMs ?? 0));
      actions.push({ actor: 'keisan', at, victim: j.spec.role });
      trial.rules.push(`${e.rule} ${e.action}`);
      if (j === culprit && e.timings && e.timings.writeToEmptyMs !== null) trial.keisanDetectToEmptyMs = e.timings.decisionToWriteMs + (e.timings.writeMs ?? 0) + e.timings.writeToEmptyMs;
      trial.notes.push(`keisan ${e.rule} ${e.action} ${e.outcome}: ${e.explanation}`);
    }
    actions.sort((a, b) => a.at - b.at);
    for (const a of actions) {
      const rightVictim = a.victim === culprit.spec.role && !sc.control;
      if (!rightVictim) {
        if (sc.control) trial.falsePositives++;
        trial.wrongVictims.push(`${a.actor} → ${a.victim}`);
      }
    }
    // The first action, on whichever victim (a wrong one is counted above).
    const first = actions[0];
    if (first) {
      trial.actor = first.actor;
      trial.actAt = first.at;
    }
    // Innocent processes gone before the end without a recorded action: killed by someone (count once).
    const innocent = byRole.get('innocent');
    if (innocent) {
      const gone = trial.samples.find((s) => s.jobs.innocent && !s.jobs.innocent.populated);
      if (gone && !actions.some((a) => a.victim === 'innocent')) trial.wrongVictims.push('innocent job emptied (unattributed)');
    }
    trial.emptyAt = emptySeen;
    trial.never = first === undefined;
    for (const a of actions) trial.notes.push(`${a.actor} acted on ${a.victim} at +${Math.round(a.at - (trial.onsetAt ?? faultAt))} ms`);
  } finally {
    if (sampler) clearInterval(sampler);
    if (prober) clearInterval(prober);
    await sleep(150);
    // Probe latencies during the incident: from the fault (or the onset, if earlier) to the end.
    const from = Math.min(trial.onsetAt ?? Infinity, trial.faultAt || startedAt);
    const inS = env.probeIn.samples.filter((p) => p.at >= from);
    const outS = env.probeOut.samples.filter((p) => p.at >= from);
    trial.probeIn = inS.map((p) => p.ms);
    trial.probeOut = outS.map((p) => p.ms);
    for (const p of env.probeIn.samples.filter((x) => x.at >= startedAt)) trial.probeSeries.push({ t: p.at, inMs: p.ms, outMs: null });
    for (const p of env.probeOut.samples.filter((x) => x.at >= startedAt)) trial.probeSeries.push({ t: p.at, inMs: null, outMs: p.ms });
    env.probeIn.samples.length = 0;
    env.probeOut.samples.length = 0;
    if (eo) await eo.stop();
    // Fence: kill whatever is left of the trial's jobs, wait for populated 0 and pids.current 0, remove the cgroups.
    for (const j of jobs) {
      try {
        j.cg.kill();
      } catch {
        // gone
      }
    }
    for (const j of jobs) {
      if (!(await waitEmpty(j.files, 10_000))) trial.notes.push(`job-${j.id} not empty 10 s after cgroup.kill`);
      const deadline = now() + 10_000;
      while ((readNum(j.files.pidsCurrent) ?? 0) > 0 && now() < deadline) await sleep(20);
      const rmDeadline = now() + 5000;
      while (!j.cg.remove() && now() < rmDeadline) await sleep(20);
      if (j.cg.exists()) trial.notes.push(`LEFT job-${j.id}`);
    }
  }
  const left = trial.notes.filter((n) => n.startsWith('LEFT '));
  if (left.length) throw new Error(`bench/recovery: ${left.join(', ')} could not be removed (processes left?): aborting (safety rule 8)`);
  return trial;
}

// ------------------------------------------------------------------------------- scenarios

function memCmd(wsMiB: number, prefillMiB: number, rate: number, capMiB: number, gated: boolean) {
  return (env: Env) => [env.injector, 'mem', env.wsFile, String(wsMiB), String(prefillMiB), String(rate), String(capMiB), gated ? '-1' : '0'];
}

function scenarios(): Scenario[] {
  const s1 = (rate: number): Scenario => ({
    id: 'S1',
    cell: `leak ${rate} MiB/s`,
    title: `S1 leak into a 512 MiB job limit (ws 128 MiB, anon 240 MiB + ${rate} MiB/s)`,
    jobs: [{ role: 'culprit', memBytes: 512 * MiB, cpus: 1, pidsMax: 64, cmd: memCmd(128, 240, rate, 2048, true), readyLine: 'R', gated: true }],
    onset: 'progress',
    tMaxMs: 25_000,
    sampleMs: 50,
  });
  const s3 = (matched: boolean, hog: boolean): Scenario => ({
    id: hog ? 'S6' : 'S3',
    cell: hog ? 'node exhaustion + 8 spinners' : 'node exhaustion',
    title: `${hog ? 'S6' : 'S3'} node exhaustion in the 3 GiB bench parent: culprit (ws 128 MiB, anon 1 000 MiB + 100 MiB/s, no job limit) beside an innocent 1 600 MiB job${hog ? ', plus 8 spinners in a 1-CPU job' : ''}`,
    jobs: [
      { role: 'innocent', memBytes: PARENT_MEM, cpus: 1, pidsMax: 64, cmd: memCmd(0, 1600, 0, 1600, false), readyLine: 'R' },
      ...(hog ? [{ role: 'hog' as const, memBytes: 256 * MiB, cpus: 1, pidsMax: 64, cmd: (env: Env) => [env.injector, 'spin', '8'], readyLine: 'S' }] : []),
      { role: 'culprit', memBytes: PARENT_MEM, cpus: 1, pidsMax: 64, cmd: memCmd(128, 1000, 100, 3072, true), readyLine: 'R', gated: true },
    ],
    onset: 'progress',
    tMaxMs: 20_000,
    sampleMs: 50,
    matched,
  });
  // Roles: in S6 the culprit is the memory culprit (the hog is another job).
  const s4 = (pidsMax: number): Scenario => ({
    id: 'S4',
    cell: `fork bomb pids.max ${pidsMax}`,
    title: `S4 fork bomb at pids.max ${pidsMax}`,
    jobs: [{ role: 'culprit', memBytes: 512 * MiB, cpus: 1, pidsMax, cmd: (env) => [env.injector, 'bomb'] }],
    onset: 'pids',
    tMaxMs: 4000,
    sampleMs: 20,
  });
  const s5 = (n: number): Scenario => ({
    id: 'S5',
    cell: `${n} spinners`,
    title: `S5 CPU hog: ${n} spinners (${n / os.cpus().length}× ncpu) in a job that asked for 1 CPU, its cgroup capped at 1.5`,
    // The record says 1 CPU; the cgroup lets it burst to 1.5 (a quota all the same: safety rule 6), so
    // the hog really uses more than it asked for; cpu-hog needs 10 s of that (its default sustain).
    jobs: [{ role: 'hog', memBytes: 256 * MiB, cpus: 1.5, requestedCpus: 1, pidsMax: 64, cmd: (env) => [env.injector, 'spin', String(n)] }],
    onset: 'spin',
    tMaxMs: 14_000,
    sampleMs: 100,
  });
  return [
    s1(100),
    s1(20),
    {
      id: 'S2',
      cell: 'steady thrash',
      title: 'S2 steady thrash in a 512 MiB job limit (ws 320 MiB, anon steady at 352 MiB = limit − ws/2)',
      jobs: [{ role: 'culprit', memBytes: 512 * MiB, cpus: 1, pidsMax: 64, cmd: memCmd(320, 96, 200, 352, true), readyLine: 'R', gated: true }],
      onset: 'progress',
      tMaxMs: 8000,
      sampleMs: 50,
    },
    {
      id: 'S2',
      cell: 'control: streaming',
      title: 'S2 control: a healthy job streaming a 1 GiB file through its 512 MiB limit',
      jobs: [{ role: 'control', memBytes: 512 * MiB, cpus: 1, pidsMax: 64, cmd: (env) => [env.injector, 'stream', env.streamFile] }],
      onset: 'none',
      tMaxMs: 10_000,
      sampleMs: 100,
      control: true,
    },
    s3(false, false),
    s3(true, false),
    s4(128),
    s4(512),
    s4(1024),
    s5(2 * os.cpus().length),
    s5(4 * os.cpus().length),
    s3(true, true),
  ];
}

interface Cell {
  sc: Scenario;
  agent: AgentName;
  runs: number;
  estS: number;
}

function plan(): Cell[] {
  const all = scenarios();
  const cells: Cell[] = [];
  const add = (sc: Scenario, agent: AgentName, runs: number, estS: number) => {
    if (ONLY && !ONLY.has(sc.id)) return;
    cells.push({ sc, agent, runs, estS });
  };
  if (SMOKE) {
    const s1 = all.find((s) => s.id === 'S1' && s.cell === 'leak 100 MiB/s')!;
    const s4 = all.find((s) => s.id === 'S4' && s.cell.endsWith(' 128'))!;
    for (const sc of [s1, s4]) for (const a of ['kernel', 'keisan'] as const) cells.push({ sc, agent: a, runs: RUNS, estS: sc.id === 'S1' ? 6 : 7 });
    return cells;
  }
  for (const sc of all) {
    if (sc.id === 'S1') {
      const slow = sc.cell.includes(' 20 ');
      add(sc, 'kernel', RUNS, slow ? 18 : 6);
      add(sc, 'earlyoom', RUNS_NEVER, slow ? 18 : 6);
      add(sc, 'keisan', RUNS, slow ? 10 : 4);
    } else if (sc.id === 'S2' && !sc.control) {
      add(sc, 'kernel', RUNS_NEVER, 11);
      add(sc, 'earlyoom', RUNS_NEVER, 11);
      add(sc, 'keisan', RUNS, 5);
    } else if (sc.id === 'S2') {
      add(sc, 'keisan', Math.max(3, Math.round(RUNS / 2)), 13);
    } else if (sc.id === 'S3' && !sc.matched) {
      add(sc, 'kernel', RUNS, 12);
      add(sc, 'earlyoom', RUNS_NEVER, 12);
      // With default settings Keisan watches the capped parent (node-memory rule), so it is expected to act.
      add(sc, 'keisan', RUNS, 6);
    } else if (sc.id === 'S3') {
      add(sc, 'earlyoom-matched', RUNS, 10);
      add(sc, 'keisan-matched', RUNS, 13);
    } else if (sc.id === 'S4') {
      add(sc, 'kernel', RUNS_NEVER, 6);
      add(sc, 'earlyoom', RUNS_NEVER, 6);
      add(sc, 'keisan', RUNS, 3);
    } else if (sc.id === 'S5') {
      add(sc, 'kernel', RUNS_NEVER, 16);
      add(sc, 'earlyoom', RUNS_NEVER, 16);
      add(sc, 'keisan', RUNS, 14);
    } else if (sc.id === 'S6') {
      add(sc, 'kernel', RUNS, 14);
      add(sc, 'earlyoom-matched', RUNS, 12);
      add(sc, 'keisan-matched', RUNS, 14);
    }
  }
  return cells;
}

// ------------------------------------------------------------------------------- footprint

async function footprint(env: Env): Promise<{ cpuPct: number; rssMiB: number; jobs: number; seconds: number }> {
  const ids: number[] = [];
  for (let i = 0; i < 50; i++) {
    const id = env.nextJob++;
    env.tree.createJob(id, { memBytes: 64 * MiB, cpus: 1, pidsMax: 16 });
    ids.push(id);
  }
  const wd = await startWatchdog(env, RECOVERY_DEFAULT);
  try {
    await sleep(3000);
    const pid = wd.child.pid!;
    const ticks = () => {
      const st = readText(`/proc/${pid}/stat`);
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      return Number(f[11]) + Number(f[12]);
    };
    const seconds = SMOKE ? 10 : 60;
    const t0 = now();
    const c0 = ticks();
    await sleep(seconds * 1000);
    const c1 = ticks();
    const dt = (now() - t0) / 1000;
    const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readText(`/proc/${pid}/status`))?.[1] ?? 0);
    return { cpuPct: ((c1 - c0) / hz / dt) * 100, rssMiB: rss / 1024, jobs: ids.length, seconds };
  } finally {
    await wd.stop();
    for (const id of ids) env.tree.job(id).remove();
  }
}

// ------------------------------------------------------------------------------- report

interface CellResult {
  scenario: string;
  cell: string;
  title: string;
  agent: AgentName;
  runs: number;
  acted: Record<string, number>;
  never: number;
  onsetToAct: { p50: number | null; p95: number | null; sd: number | null; n: number };
  faultToAct: { p50: number | null; p95: number | null; sd: number | null; n: number };
  predictedOnsets: number;
  onsetToEmpty: { p50: number | null; p95: number | null; sd: number | null; n: number };
  keisanDetectToEmpty: { p50: number | null; p95: number | null; n: number };
  wrongVictims: number;
  wrongDetail: string[];
  keisanRules: Record<string, number>;
  falsePositives: number;
  probeIn: { p99: number | null; max: number | null; timeouts: number };
  probeOut: { p99: number | null; max: number | null; timeouts: number };
}

function summarise(cell: Cell, trials: Trial[]): CellResult {
  const act = trials.filter((t) => t.actAt !== null && t.onsetAt !== null).map((t) => t.actAt! - t.onsetAt!);
  const fault = trials.filter((t) => t.actAt !== null).map((t) => t.actAt! - t.faultAt);
  const empty = trials.filter((t) => t.emptyAt !== null && t.onsetAt !== null && t.actor !== null).map((t) => t.emptyAt! - t.onsetAt!);
  const det = trials.flatMap((t) => (t.keisanDetectToEmptyMs === null ? [] : [t.keisanDetectToEmptyMs]));
  const acted: Record<string, number> = {};
  for (const t of trials) if (t.actor) acted[t.actor] = (acted[t.actor] ?? 0) + 1;
  const probe = (key: 'probeIn' | 'probeOut') => {
    const all = trials.flatMap((t) => t[key]);
    const ok = all.filter((x): x is number => x !== null);
    return { p99: quantile(ok, 0.99), max: ok.length ? Math.max(...ok) : null, timeouts: all.length - ok.length };
  };
  return {
    scenario: cell.sc.id,
    cell: cell.sc.cell,
    title: cell.sc.title,
    agent: cell.agent,
    runs: trials.length,
    acted,
    never: trials.filter((t) => t.never).length,
    onsetToAct: { p50: quantile(act, 0.5), p95: quantile(act, 0.95), sd: sd(act), n: act.length },
    faultToAct: { p50: quantile(fault, 0.5), p95: quantile(fault, 0.95), sd: sd(fault), n: fault.length },
    predictedOnsets: trials.filter((t) => t.onsetHow === 'predicted').length,
    onsetToEmpty: { p50: quantile(empty, 0.5), p95: quantile(empty, 0.95), sd: sd(empty), n: empty.length },
    keisanDetectToEmpty: { p50: quantile(det, 0.5), p95: quantile(det, 0.95), n: det.length },
    wrongVictims: trials.reduce((a, t) => a + t.wrongVictims.length, 0),
    wrongDetail: [...new Set(trials.flatMap((t) => t.wrongVictims))],
    keisanRules: trials.flatMap((t) => t.rules).reduce<Record<string, number>>((a, r) => ({ ...a, [r]: (a[r] ?? 0) + 1 }), {}),
    falsePositives: trials.reduce((a, t) => a + t.falsePositives, 0),
    probeIn: probe('probeIn'),
    probeOut: probe('probeOut'),
  };
}

function table(results: CellResult[]): string {
  const lines: string[] = [];
  const byScenario = new Map<string, CellResult[]>();
  for (const r of results) {
    const k = `${r.scenario} ${r.cell}`;
    byScenario.set(k, [...(byScenario.get(k) ?? []), r]);
  }
  for (const [key, rows] of byScenario) {
    lines.push(`\n### ${key}: ${rows[0]!.title}\n`);
    lines.push('| agent | runs | acted first (Keisan: rule) | never | fault→act p50 / SD | onset→act p50 / p95 / SD | onset→empty p50 / p95 / SD | Keisan detect→empty p50 | wrong victims | probe in p99 / max / timeouts | probe out p99 / max / timeouts | ratio p50 vs Keisan |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
    const keisan = rows.find((r) => r.agent.startsWith('keisan') && r.acted.keisan);
    for (const r of rows) {
      const ratio = keisan && r !== keisan && r.faultToAct.p50 !== null && keisan.faultToAct.p50 !== null && keisan.faultToAct.p50 > 0 ? `${(r.faultToAct.p50 / keisan.faultToAct.p50).toFixed(1)}× (fault→act)` : r === keisan ? '1×' : r.never === r.runs && keisan ? '∞ (never)' : '—';
      lines.push(
        `| ${r.agent} | ${r.runs} | ${Object.entries(r.acted).map(([a, n]) => `${a} ${n}`).join(', ') || '—'}${Object.keys(r.keisanRules).length ? ` (${Object.entries(r.keisanRules).map(([k, n]) => `${k} ${n}`).join(', ')})` : ''} | ${r.never} | ${fmtMs(r.faultToAct.p50)} / ${fmtMs(r.faultToAct.sd)} | ${fmtMs(r.onsetToAct.p50)} / ${fmtMs(r.onsetToAct.p95)} / ${fmtMs(r.onsetToAct.sd)}${r.predictedOnsets ? ` (${r.predictedOnsets} onsets predicted)` : ''} | ${fmtMs(r.onsetToEmpty.p50)} / ${fmtMs(r.onsetToEmpty.p95)} / ${fmtMs(r.onsetToEmpty.sd)} | ${r.keisanDetectToEmpty.n ? fmtMs(r.keisanDetectToEmpty.p50) : '—'} | ${r.wrongVictims}${r.wrongDetail.length ? ` (${r.wrongDetail.slice(0, 3).join('; ')})` : ''}${r.falsePositives ? `, ${r.falsePositives} false positive(s)` : ''} | ${fmtMs(r.probeIn.p99)} / ${fmtMs(r.probeIn.max)} / ${r.probeIn.timeouts} | ${fmtMs(r.probeOut.p99)} / ${fmtMs(r.probeOut.max)} / ${r.probeOut.timeouts} | ${ratio} |`,
      );
    }
  }
  return lines.join('\n');
}

/** One PNG per scenario: the culprit's (and innocent's) memory / pids / cpu, the probe latencies and the action marks, one trial per agent. */
function plot(scenarioId: string, title: string, trials: Trial[], outDir: string, tmp: string): string | null {
  const pick = new Map<string, Trial>();
  for (const t of trials) if (t.scenario === scenarioId && !pick.has(`${t.agent}|${t.cell}`) && (t.run === 1 || !pick.has(`${t.agent}|${t.cell}`))) pick.set(`${t.agent}|${t.cell}`, t);
  if (!pick.size) return null;
  const metric = scenarioId === 'S4' ? 'pids' : scenarioId === 'S5' ? 'cpu' : 'mem';
  const scale = metric === 'mem' ? 1 / MiB : 1;
  const ylabel = metric === 'mem' ? 'memory (MiB)' : metric === 'pids' ? 'pids.current' : 'CPUs used';
  const plots: string[] = [];
  const lat: string[] = [];
  const marks: string[] = [];
  let i = 0;
  for (const [key, t] of pick) {
    i++;
    const t0 = t.onsetAt ?? t.samples[0]?.t ?? 0;
    const file = path.join(tmp, `${scenarioId}-${i}.dat`);
    const role = t.samples.some((s) => s.jobs.culprit) ? 'culprit' : t.samples.some((s) => s.jobs.hog) ? 'hog' : 'control';
    fs.writeFileSync(file, t.samples.map((s) => `${((s.t - t0) / 1000).toFixed(3)} ${(s.jobs[role]?.[metric] ?? NaN) * scale} ${(s.jobs.innocent?.mem ?? NaN) / MiB}`).join('\n') + '\n');
    const pfile = path.join(tmp, `${scenarioId}-${i}.probe`);
    fs.writeFileSync(pfile, t.probeSeries.filter((p) => p.inMs !== null).map((p) => `${((p.t - t0) / 1000).toFixed(3)} ${p.inMs!.toFixed(2)}`).join('\n') + '\n');
    const [agentLabel, cellLabel] = key.split('|');
    const label = new Set([...pick.values()].map((x) => x.cell)).size > 1 ? `${agentLabel} ${cellLabel}` : agentLabel!;
    plots.push(`'${file}' using 1:2 with lines lw 2 lc ${i} title '${label} ${role}'`);
    if (t.samples.some((s) => s.jobs.innocent)) plots.push(`'${file}' using 1:3 with lines dt 2 lc ${i} title '${label} innocent'`);
    lat.push(`'${pfile}' using 1:2 with lines lc ${i} title '${label}'`);
    if (t.actAt !== null) marks.push(`set arrow from ${((t.actAt - t0) / 1000).toFixed(3)}, graph 0 to ${((t.actAt - t0) / 1000).toFixed(3)}, graph 1 nohead lc ${i} dt 3`);
  }
  const png = path.join(outDir, `${scenarioId.toLowerCase()}.png`);
  const script = [
    `set terminal png size 900,560 font ',9'`,
    `set output '${png}'`,
    `set multiplot layout 2,1 title '${title.replace(/'/g, '')}'`,
    `set xlabel 's from onset (dotted: first action)'`,
    `set ylabel '${ylabel}'`,
    `set key outside right`,
    `set xrange ${scenarioId === 'S4' ? '[-0.3:1]' : scenarioId === 'S5' ? '[-1:14]' : '[-5:15]'}`,
    ...marks,
    `plot ${plots.join(', ')}`,
    `unset arrow`,
    ...marks,
    `set ylabel 'probe in bench (ms)'`,
    `set logscale y`,
    `plot ${lat.join(', ')}`,
    `unset multiplot`,
  ].join('\n');
  const r = spawnSync('gnuplot', [], { input: script, encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`gnuplot failed for ${scenarioId}: ${r.stderr}`);
    return null;
  }
  return png;
}

// ------------------------------------------------------------------------------- main

function skipReason(): string | null {
  if (process.platform !== 'linux') return 'cgroups need Linux';
  if (process.getuid?.() !== 0) return 'needs root to create cgroups';
  const layout = detectCgroupLayout();
  if (layout.kind === 'none') return 'no cgroup hierarchy is mounted';
  if (!layout.unified) return 'needs a cgroup2 hierarchy (pure v2 or the hybrid side mount) for cgroup.kill and populated';
  return null;
}

async function main(): Promise<number> {
  const reason = skipReason();
  if (reason) {
    if (process.env.KEISAN_REQUIRE_SERVICES === '1') {
      console.error(`bench/recovery: KEISAN_REQUIRE_SERVICES=1 but it cannot run: ${reason}`);
      return 1;
    }
    console.log(`bench/recovery: SKIPPED (${reason}); cgroups are not writable here`);
    return 0;
  }
  const cells = plan();
  const needsEarlyoom = cells.some((c) => c.agent.startsWith('earlyoom'));
  if (needsEarlyoom && !fs.existsSync('/usr/bin/earlyoom')) throw new Error('earlyoom is not installed (npm run deps)');
  const estS = cells.reduce((a, c) => a + c.runs * c.estS, 0) + (SMOKE ? 20 : 75) + 10;
  console.log(`bench/recovery${SMOKE ? ' --smoke' : ''}: ${cells.length} cells, ${cells.reduce((a, c) => a + c.runs, 0)} trials; this takes about ${Math.ceil(estS / 60)} min (${estS} s)`);
  if (argv.includes('--plan')) {
    for (const c of cells) console.log(`  ${c.sc.id} ${c.sc.cell} · ${c.agent} × ${c.runs} (~${c.runs * c.estS} s)`);
    return 0;
  }
  const tmp = fs.mkdtempSync('/var/tmp/keisan-bench-recovery-');
  const injector = path.join(tmp, INJECTOR_COMM);
  execFileSync('gcc', ['-O2', '-pthread', '-o', injector, path.join(HERE, 'kbinj.c')]);
  const wsFile = path.join(tmp, 'ws.bin');
  const streamFile = path.join(tmp, 'stream.bin');
  const chunk = Buffer.alloc(MiB);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
  const fill = (file: string, mib: number) => {
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < mib; i++) fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  };
  fill(wsFile, 320);
  if (cells.some((c) => c.sc.control)) fill(streamFile, 1024);
  const root = `keisan-bench-${process.pid}`;
  const tree = CgroupTree.open({ root, parentMemBytes: PARENT_MEM, parentPidsMax: PARENT_PIDS });
  const receiver = await startReceiver();
  ENV = { tree, tmp, injector, wsFile, streamFile, probeIn: null as unknown as Probe, probeOut: null as unknown as Probe, receiver, nextJob: 1, children: new Set() };
  const env = ENV;
  // The probe inside the bench parent lives in a leaf `probe` beside the jobs (not a job: no agent may act on it).
  const probeDirs = tree.parentDirs().map((d) => path.join(d, 'probe'));
  for (const d of probeDirs) fs.mkdirSync(d, { recursive: true });
  env.probeIn = await startProbe('in', probeDirs.map((d) => path.join(d, 'cgroup.procs')));
  env.probeOut = await startProbe('out', null);
  console.log(`bench parent ${root}: memory ${PARENT_MEM / GiB} GiB, pids.max ${PARENT_PIDS} (${tree.mode}${tree.layout.unified ? ' + cgroup2 side' : ''}); earlyoom --avoid '${AVOID()}' --prefer '^${INJECTOR_COMM}$'`);
  const trials: Trial[] = [];
  const results: CellResult[] = [];
  let foot: Awaited<ReturnType<typeof footprint>> | null = null;
  const started = now();
  const watchdog: { current: Watchdog | null } = { current: null };
  try {
    for (const cell of cells) {
      const usesDefaultWatchdog = cell.agent === 'keisan';
      if (usesDefaultWatchdog && !watchdog.current) watchdog.current = await startWatchdog(env, RECOVERY_DEFAULT);
      if (!cell.agent.startsWith('keisan') && watchdog.current) {
        await watchdog.current.stop();
        watchdog.current = null;
      }
      if (cell.agent === 'keisan' && watchdog.current && watchdog.current.log.some((l) => l.includes('floorBytes'))) {
        await watchdog.current.stop();
        watchdog.current = await startWatchdog(env, RECOVERY_DEFAULT);
      }
      const cellTrials: Trial[] = [];
      for (let run = 1; run <= cell.runs; run++) {
        if (cell.agent === 'keisan-matched' && !cell.sc.matched) throw new Error('keisan-matched needs a matched scenario');
        if (cell.agent === 'keisan' && !watchdog.current) watchdog.current = await startWatchdog(env, RECOVERY_DEFAULT);
        // Calm between trials: memory PSI and MemAvailable back.
        await sleep(300);
        const t = await runTrial(env, cell.sc, cell.agent, run, watchdog);
        if (watchdog.current && (watchdog.current.child.exitCode !== null || watchdog.current.child.signalCode !== null)) throw new Error(`keisan watchdog exited during ${cell.sc.id}: ${watchdog.current.log.slice(-5).join('\n')}`);
        // The matched watchdog's floor belongs to its trial (as earlyoom-matched's does): left running, it
        // would judge the next trial's set-up against this one's thresholds.
        if (cell.agent === 'keisan-matched' && watchdog.current) {
          await watchdog.current.stop();
          watchdog.current = null;
        }
        cellTrials.push(t);
        trials.push(t);
        const dt = t.actAt !== null && t.onsetAt !== null ? `${Math.round(t.actAt - t.onsetAt)} ms after onset` : t.actAt !== null ? 'with no onset' : 'never';
        const fa = t.actAt !== null ? `, ${Math.round(t.actAt - t.faultAt)} ms after the fault` : '';
        console.log(`  ${cell.sc.id} ${cell.sc.cell} · ${cell.agent} · run ${run}: onset ${t.onsetHow || 'none'}${t.onsetAt !== null ? ` (+${Math.round(t.onsetAt - t.faultAt)} ms)` : ''}; ${t.actor ?? 'nobody'} acted ${dt}${fa}${t.emptyAt !== null && t.onsetAt !== null ? `, empty +${Math.round(t.emptyAt - t.onsetAt)} ms` : ''}${t.keisanDetectToEmptyMs !== null ? ` (Keisan ${t.rules.join(', ')}; detect→empty ${t.keisanDetectToEmptyMs.toFixed(0)} ms)` : ''}${t.wrongVictims.length ? `; WRONG: ${t.wrongVictims.join(', ')}` : ''}`);
      }
      if (cell.agent === 'keisan-matched' && watchdog.current) {
        await watchdog.current.stop();
        watchdog.current = null;
      }
      results.push(summarise(cell, cellTrials));
    }
    if (watchdog.current) {
      await watchdog.current.stop();
      watchdog.current = null;
    }
    if ((!SMOKE && !argv.includes('--no-footprint')) || argv.includes('--footprint')) {
      foot = await footprint(env);
      console.log(`watchdog idle footprint: ${foot.cpuPct.toFixed(2)} % of a core over ${foot.seconds} s with ${foot.jobs} idle job cgroups, RSS ${foot.rssMiB.toFixed(0)} MiB`);
    }
  } finally {
    if (watchdog.current) await watchdog.current.stop();
    killBenchSync(env);
    env.probeIn.child.kill('SIGKILL');
    env.probeOut.child.kill('SIGKILL');
    receiver.server.closeAllConnections();
    receiver.server.close();
    await sleep(300);
    removeProbeDirs(tree);
    const left = tree.destroy(10_000);
    if (left.length) console.error(`bench/recovery: could not remove ${left.join(', ')}`);
    const eo = spawnSync('pgrep', ['-x', 'earlyoom'], { encoding: 'utf8' });
    if (eo.stdout.trim()) console.error(`bench/recovery: WARNING an earlyoom process is still running: ${eo.stdout.trim()}`);
  }
  const text = table(results);
  console.log(text);
  const elapsed = (now() - started) / 1000;
  console.log(`\n${trials.length} trials in ${elapsed.toFixed(0)} s`);
  if (!SMOKE) {
    const plotDir = path.join(HERE, 'plots');
    fs.mkdirSync(plotDir, { recursive: true });
    const titles = new Map(results.map((r) => [r.scenario, r.title]));
    for (const id of [...new Set(results.map((r) => r.scenario))]) {
      const png = plot(id, (titles.get(id) ?? id).slice(0, 110), trials, plotDir, tmp);
      if (png) console.log(`plot: ${path.relative(REPO, png)} (${Math.round(fs.statSync(png).size / 1024)} KB)`);
    }
    const out = path.join(HERE, `results-${new Date().toISOString().slice(0, 10)}.json`);
    fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), kernel: os.release(), cpus: os.cpus().length, memTotalGiB: os.totalmem() / GiB, footprint: foot, results, trials: trials.map(({ samples: _s, probeSeries: _p, probeIn: _i, probeOut: _o, ...t }) => t) }, null, 1));
    console.log(`results: ${path.relative(REPO, out)}`);
    fs.writeFileSync(path.join(HERE, 'last-table.md'), text + '\n');
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  if (SMOKE) {
    const keisanCells = results.filter((r) => r.agent === 'keisan');
    const failures: string[] = [];
    for (const r of keisanCells) {
      if ((r.acted.keisan ?? 0) < r.runs) failures.push(`${r.scenario} ${r.cell}: Keisan acted first in ${r.acted.keisan ?? 0} of ${r.runs} runs`);
      if (r.wrongVictims > 0) failures.push(`${r.scenario} ${r.cell}: wrong victims ${r.wrongDetail.join('; ')}`);
    }
    if (failures.length) {
      console.error(`bench/recovery --smoke FAILED:\n  ${failures.join('\n  ')}`);
      return 1;
    }
    console.log('bench/recovery --smoke: Keisan acted on the culprit in every run, no wrong victim');
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    exitCleanup();
    process.exit(1);
  },
);
