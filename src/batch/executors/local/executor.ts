/**
 * The local executor: runs batch jobs on this machine, each detached from every Keisan process
 * and in its own cgroups, so that no daemon crash or restart loses a running job.
 *
 * Start: the executor creates the job's cgroups (limits written), writes its records and the
 * script, and spawns the job shim (`job-shim.sh`, a /bin/sh script) in a new session, from a
 * small helper process so that starting never blocks this thread and never forks the daemon
 * (spawner.ts). The shim
 * moves itself out of the daemon's cgroups, records `started`, then runs the job as a child:
 * that child joins the job's cgroups before any user code runs, drops to the user's uid/gid
 * with setpriv (when the executor is root), opens the output files as the user and execs the
 * script. When the job ends, the shim records its exit status in `exit` — also when no Keisan
 * process is alive any more — and exits.
 *
 * Completion: the shim is this process's child (detached, unref'd), so its exit is known at
 * once. After a restart, re-attached jobs are watched with inotify on their directory, and
 * polled (default every 200 ms) as a fallback. Finishing a job kills what it left behind, reads
 * the cgroup's accounting, writes `outcome.json`, removes the cgroups and tells the listeners.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { conflict, invalidInput, KeisanError } from '../../../lib/errors.ts';
import { formatDuration, formatSize } from '../../../lib/units.ts';
import type { EndState, ExecutorCapabilities, JobEnd, JobExecutor, LaunchSpec } from '../../executor.ts';
import { CgroupError, CgroupTree, type CgroupStats, type CgroupTreeOptions, type CgroupUsage, type KillMethod } from './cgroups.ts';
import { spawner } from './spawner.ts';
import {
  type KillReason,
  type SpecRecord,
  processIsAlive,
  processStartTime,
  readExit,
  readKill,
  readLaunch,
  readSpec,
  readStarted,
  sessionMembers,
  writeFileAtomic,
  writeJsonAtomic,
  writeKill,
} from './state.ts';

export type { EndState, ExecutorCapabilities, JobEnd, JobExecutor, LaunchSpec } from '../../executor.ts';
export type { KillReason } from './state.ts';

export interface LocalExecutorOptions {
  /** Where job records live (one directory per job). Created when missing. */
  stateDir: string;
  /** Cgroup settings; false runs without cgroups (limits not enforced, see capabilities()). */
  cgroups?: CgroupTreeOptions | false;
  /** pids.max of every job's cgroup. Default 4096. */
  pidsMax?: number;
  /**
   * Without a memory cgroup: cap each process's address space (RLIMIT_AS) at the job's memory.
   * Per process, and it breaks programs that reserve large address ranges (JVMs, CUDA): off by default.
   */
  addressSpaceFallback?: boolean;
  /** Output files: 'truncate' (SLURM's default) or 'append'. */
  openMode?: 'truncate' | 'append';
  /** How often re-attached jobs are checked for their end. Default 200 ms. */
  pollIntervalMs?: number;
  /** A job whose shim has not recorded `started` this long after launch never started. Default 10 s. */
  launchGraceMs?: number;
  /** How long a finished job's records are kept (reattach() reports them meanwhile). Default 7 days. */
  retainFinishedMs?: number;
  /** How long finishing a job waits for its leftover processes to die. Default 5 s. */
  killWaitMs?: number;
  /**
   * The machine's NVIDIA GPUs with their /dev/nvidiaN minor numbers: where the v1 devices
   * controller exists, each job is denied the GPUs it was not given.
   */
  gpuDevices?: Array<{ index: number; minor: number | null }>;
  /**
   * Start the RCU grace period that a job's first cgroup move waits for when the job's start
   * begins, so that it passes while the start is prepared (CgroupTree.primeMigration). Default true.
   */
  primeCgroupMigration?: boolean;
}

/** The character-device major of /dev/nvidia0, /dev/nvidia1… (fixed by the NVIDIA driver). */
const NVIDIA_MAJOR = 195;

/** How a job ended, with everything the executor measured. */
export interface LocalJobEnd extends JobEnd {
  startedAt: number | null;
  wallMs: number | null;
  /** Peak memory of the job's cgroup (RSS and page cache); the same number as maxRssBytes. */
  peakMemBytes: number | null;
  memLimitBytes: number | null;
  /** Processes of the job that the OOM killer killed (null: not known on this machine). */
  oomKills: number | null;
  /** Why the job's command never ran, when it did not. */
  launchError: string | null;
  ranUserCode: boolean;
}

export interface LocalCapabilities extends ExecutorCapabilities {
  cgroupRoot: string | null;
  kill: KillMethod | 'session';
  oomDetection: 'memory.events' | 'memory.oom_control' | 'exit-status' | 'none';
  parentMemBytes: number | null;
  parentPidsMax: number | null;
  /** Why cgroups are not used, when they are not. */
  cgroupProblem: string | null;
  warnings: string[];
}

export interface StartedLocalJob {
  startedAt: number;
  /** The shim's pid (the job's supervisor; the job's own processes are its descendants). */
  pid: number;
  /** The job's cgroup directories (empty without cgroups). */
  cgroups: string[];
}

export interface ReattachAllReport {
  /** Jobs still running (including ones whose shim has not yet recorded its start). */
  running: number[];
  /** Jobs that ended (while we were away, or earlier and not yet cleaned up). */
  ended: LocalJobEnd[];
}

interface Tracked {
  jobId: number;
  dir: string;
  /** The shim; null while not yet known (re-attached and still launching). */
  pid: number | null;
  starttime: string | null;
  startedAt: number;
  timeLimitMs: number | null;
  cpuTimeLimitMs: number | null;
  /** When the job's CPU time was last compared with its limit. */
  lastCpuCheck: number;
  /** Stops the spawner's reports for this job's shim; null when its exit is found by polling. */
  unwatch: (() => void) | null;
  /** Re-attached jobs: inotify on the job's directory, for their `exit` record. */
  watcher: fs.FSWatcher | null;
  deadline: NodeJS.Timeout | null;
  /** Re-attached jobs still launching: since when we wait for `started`. */
  launchingSince: number | null;
  lastLiveCheck: number;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SHIM_SOURCE = fileURLToPath(new URL('./job-shim.sh', import.meta.url));
const MAX_TIMER_MS = 2_000_000_000;
/** How often a job's CPU time is compared with its CPU-time limit. */
const CPU_CHECK_MS = 1000;

function findProgram(name: string): string | null {
  for (const dir of DEFAULT_PATH.split(':')) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  return null;
}

/** Whether users other than the owner may traverse every directory down to `dir`. */
function searchableByOthers(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      if ((fs.statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (d === path.dirname(d)) return true;
  }
}

/** Variables /bin/sh treats specially (dash, bash): set through `env -i`, never by `export`. */
const SHELL_SPECIAL = new Set(['IFS', 'OPTIND', 'OPTARG', 'LINENO', 'PPID', 'PWD', 'OLDPWD', 'PS1', 'PS2', 'PS4', 'ENV', 'MAILCHECK', 'SHELLOPTS', 'BASHOPTS', 'BASH_ENV', 'UID', 'EUID', 'GROUPS', 'RANDOM', 'SECONDS']);

/** Whether the job's /bin/sh can `export NAME=value` exactly as `env -i` would set it. */
function shellCanExport(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !SHELL_SPECIAL.has(name);
}

function signalName(n: number): string | null {
  for (const [name, value] of Object.entries(osConstants.signals)) if (value === n) return name;
  return null;
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class LocalExecutor implements JobExecutor {
  readonly stateDir: string;
  private readonly jobsDir: string;
  private readonly shimPath: string;
  private readonly tree: CgroupTree | null;
  private readonly cgroupProblem: string | null;
  private readonly isRoot: boolean;
  private readonly scriptsReachable: boolean;
  private readonly setpriv: string | null;
  private readonly nice: string | null;
  private readonly env: string | null;
  private readonly tracked = new Map<number, Tracked>();
  private readonly finishing = new Map<number, Promise<LocalJobEnd | null>>();
  private readonly pendingRemoval = new Set<number>();
  private readonly listeners = new Set<(end: LocalJobEnd) => void>();
  private readonly poller: NodeJS.Timeout;
  private lastGc = 0;
  private readonly primeMigrations: boolean;
  private closed = false;
  private readonly lockFile: string;
  private readonly lockText: string;

  constructor(private readonly o: LocalExecutorOptions) {
    this.stateDir = path.resolve(o.stateDir);
    this.jobsDir = path.join(this.stateDir, 'jobs');
    this.isRoot = process.getuid?.() === 0;
    fs.mkdirSync(this.stateDir, { recursive: true });
    // Searchable, not listable: a job user may reach its own script under jobs/<id>/ …
    fs.mkdirSync(this.jobsDir, { recursive: true, mode: 0o711 });
    fs.chmodSync(this.jobsDir, 0o711);
    // … when every directory above is searchable too; otherwise the job runs it as /dev/fd/4.
    this.scriptsReachable = searchableByOthers(this.jobsDir);

    this.lockFile = path.join(this.stateDir, 'executor.lock');
    this.lockText = `${process.pid} ${processStartTime(process.pid) ?? '?'}\n`;
    this.lock();

    // Run a private copy of the shim: an upgrade of the package must not change running shims.
    const bin = path.join(this.stateDir, 'bin');
    fs.mkdirSync(bin, { recursive: true, mode: 0o755 });
    this.shimPath = path.join(bin, 'job-shim.sh');
    const source = fs.readFileSync(SHIM_SOURCE, 'utf8');
    let current: string | null = null;
    try {
      current = fs.readFileSync(this.shimPath, 'utf8');
    } catch {
      // first start
    }
    if (current !== source) writeFileAtomic(this.shimPath, source, 0o755);

    let tree: CgroupTree | null = null;
    let problem: string | null = null;
    if (o.cgroups === false) problem = 'cgroups turned off in the configuration';
    else {
      try {
        tree = CgroupTree.open(o.cgroups ?? {});
      } catch (error) {
        problem = error instanceof CgroupError ? error.message : `cgroups unusable: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    this.tree = tree;
    this.cgroupProblem = problem;
    this.primeMigrations = o.primeCgroupMigration ?? true;
    this.setpriv = findProgram('setpriv');
    this.nice = findProgram('nice');
    this.env = findProgram('env');

    spawner.prepare();
    this.poller = setInterval(() => this.poll(), o.pollIntervalMs ?? 200);
    this.poller.unref();
  }

  // ---------------------------------------------------------------------------- lock

  private lock(): void {
    try {
      fs.writeFileSync(this.lockFile, this.lockText, { flag: 'wx' });
      return;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
    const [pidText, starttime] = fs.readFileSync(this.lockFile, 'utf8').trim().split(' ');
    const pid = Number(pidText);
    if (pid !== process.pid && starttime && processIsAlive(pid, starttime)) {
      throw conflict(`another Keisan executor (pid ${pid}) is using the state directory ${this.stateDir}: stop it first`);
    }
    writeFileAtomic(this.lockFile, this.lockText);
  }

  private unlock(): void {
    try {
      if (fs.readFileSync(this.lockFile, 'utf8') === this.lockText) fs.rmSync(this.lockFile);
    } catch {
      // gone
    }
  }

  // ---------------------------------------------------------------------------- capabilities

  capabilities(): LocalCapabilities {
    const enforced: string[] = [];
    const notEnforced: string[] = [];
    const t = this.tree;
    const f = t?.features;
    if (t && f) {
      const where = `cgroup ${t.mode} under ${t.root}`;
      if (f.memory) enforced.push(`memory limit per job (${where}${f.swapLimit ? ', no swap' : ''})`);
      else notEnforced.push('memory limits: the memory controller is not available');
      if (f.memory && !f.swapLimit) notEnforced.push('swap is not limited (no memsw / memory.swap.max)');
      if (f.cpu) enforced.push('cpu limit per job (quota = requested cpus)');
      else notEnforced.push('cpu limits: the cpu controller is not available');
      if (f.pids) enforced.push(`process count per job (pids.max ${this.o.pidsMax ?? 4096})`);
      else notEnforced.push('process count limits: the pids controller is not available');
      if (t.parentMemBytes !== null) enforced.push(`all jobs together below ${formatSize(t.parentMemBytes)} of memory`);
      else notEnforced.push('no cap on the memory of all jobs together');
      enforced.push(`time limits (kill of the whole cgroup by ${f.kill})`);
      if (!f.oomKillCounter) notEnforced.push('out-of-memory is inferred from SIGKILL and memory.failcnt (no oom_kill counter)');
      if (f.cpuAccounting) enforced.push('CPU-time limits per job (all its processes together, checked every second)');
      else notEnforced.push('cpu time of a job is that of the processes its script waited for, and CPU-time limits are not enforced');
    } else {
      notEnforced.push(`no cgroups (${this.cgroupProblem ?? 'unknown reason'}): memory, cpu and process-count limits are not enforced, and the total of all jobs is not capped`);
      if (this.o.addressSpaceFallback) enforced.push('memory: each process of a job is capped at the job memory by RLIMIT_AS (per process, not per job)');
      enforced.push('time limits (kill of the job session; processes that call setsid() escape)');
      notEnforced.push('peak memory is not measured; cpu time is that of the processes the script waited for; CPU-time limits are not enforced');
    }
    const gpus = this.o.gpuDevices ?? [];
    if (gpus.length > 0) {
      if (this.gpuFencing()) enforced.push("GPUs fenced per job: the devices cgroup denies the /dev/nvidiaN of GPUs the job was not given");
      else if (t?.mode === 'v2') notEnforced.push('GPUs are assigned through CUDA_VISIBLE_DEVICES only: cgroup v2 device control needs an eBPF program, which Keisan does not load');
      else if (gpus.some((g) => g.minor === null)) notEnforced.push('GPUs are assigned through CUDA_VISIBLE_DEVICES only: the minor numbers of the GPUs are unknown (nvidia-smi -q)');
      else notEnforced.push('GPUs are assigned through CUDA_VISIBLE_DEVICES only: no v1 devices controller');
    }
    const runsAsUsers = this.isRoot && this.setpriv !== null && this.env !== null;
    if (!this.isRoot) notEnforced.push(`single-user mode: not root, every job runs as uid ${process.getuid?.() ?? '?'}`);
    else if (!runsAsUsers) notEnforced.push('setpriv (util-linux) is missing: jobs of other users cannot start');
    if (!this.nice) notEnforced.push('nice is missing: queue nice values are not applied');
    return {
      cgroups: t ? t.mode : 'none',
      enforced,
      notEnforced,
      runsAsUsers,
      cgroupRoot: t ? t.root : null,
      kill: f ? f.kill : 'session',
      oomDetection: f ? (f.oomKillCounter ? (t.mode === 'v2' ? 'memory.events' : 'memory.oom_control') : 'exit-status') : 'none',
      parentMemBytes: t?.parentMemBytes ?? null,
      parentPidsMax: t?.parentPidsMax ?? null,
      cgroupProblem: this.cgroupProblem,
      warnings: t ? [...t.warnings] : [],
    };
  }

  /** Whether jobs are denied other jobs' GPUs (v1 devices controller and every GPU's minor known). */
  private gpuFencing(): boolean {
    const gpus = this.o.gpuDevices ?? [];
    return this.tree?.features.devices === true && gpus.length > 0 && gpus.every((g) => g.minor !== null);
  }

  private readonly knownUids = new Map<number, { known: boolean; at: number }>();

  /** Whether NSS (passwd, LDAP…) resolves this uid; remembered for a minute. */
  private systemKnowsUid(uid: number): boolean {
    const cached = this.knownUids.get(uid);
    if (cached && Date.now() - cached.at < 60_000) return cached.known;
    const known = spawnSync('getent', ['passwd', String(uid)], { stdio: 'ignore', timeout: 5000 }).status === 0;
    this.knownUids.set(uid, { known, at: Date.now() });
    return known;
  }

  // ---------------------------------------------------------------------------- start

  private jobDir(jobId: number): string {
    return path.join(this.jobsDir, String(jobId));
  }

  private validate(spec: LaunchSpec): void {
    const bad = (message: string) => invalidInput(`job ${spec.jobId}: ${message}`);
    if (!Number.isSafeInteger(spec.jobId) || spec.jobId <= 0) throw invalidInput(`job id ${spec.jobId} is not a positive integer`);
    if (!(spec.cpus > 0)) throw bad(`cpus must be positive (got ${spec.cpus})`);
    if (!(spec.memBytes >= 4096)) throw bad(`memory must be at least 4 KiB (got ${spec.memBytes})`);
    if (!path.isAbsolute(spec.cwd)) throw bad(`the working directory must be an absolute path (got ${spec.cwd})`);
    for (const [key, value] of Object.entries(spec.env)) {
      if (key === '' || key.includes('=') || key.includes('\0') || value.includes('\0')) throw bad(`environment variable ${JSON.stringify(key)} is not valid`);
    }
    for (const text of [spec.script, spec.stdoutPath, spec.stderrPath, spec.cwd, ...spec.args]) {
      if (text.includes('\0')) throw bad('arguments, paths and the script may not contain NUL bytes');
    }
    if (!Number.isInteger(spec.nice) || spec.nice < -20 || spec.nice > 19) throw bad(`nice must be an integer from -20 to 19 (got ${spec.nice})`);
  }

  /** Starts a job; refuses a job id that was ever started here (its record exists), so no job runs twice. */
  async start(spec: LaunchSpec): Promise<StartedLocalJob> {
    if (this.closed) throw new KeisanError('UNAVAILABLE', 'the local executor is closed');
    this.validate(spec);
    if (this.primeMigrations) this.tree?.primeMigration();
    const dir = this.jobDir(spec.jobId);
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') throw conflict(`job ${spec.jobId} was already started on this node (record ${dir}): a job never runs twice`);
      throw error;
    }
    let cgroups: string[] = [];
    try {
      fs.chmodSync(dir, 0o711);
      const ownUid = process.getuid?.() ?? 0;
      const switchUser = this.isRoot && spec.user.uid !== ownUid;
      if (switchUser && (!this.setpriv || !this.env)) {
        throw new KeisanError('UNAVAILABLE', `cannot run job ${spec.jobId} as ${spec.user.name}: setpriv and env (util-linux, coreutils) are needed to switch users`);
      }
      const uid = this.isRoot ? spec.user.uid : ownUid;
      const gid = this.isRoot ? spec.user.gid : (process.getgid?.() ?? 0);

      const script = path.join(dir, 'script');
      const fd = fs.openSync(script, 'wx', 0o700);
      try {
        fs.writeSync(fd, spec.script);
        if (this.isRoot && (uid !== ownUid || gid !== (process.getgid?.() ?? 0))) fs.fchownSync(fd, uid, gid);
      } finally {
        fs.closeSync(fd);
      }

      const deniedDevices = this.gpuFencing()
        ? (this.o.gpuDevices ?? []).filter((g) => g.minor !== null && !spec.gpuIndices.includes(g.index)).map((g) => `c ${NVIDIA_MAJOR}:${g.minor} rwm`)
        : [];
      const limits = { memBytes: spec.memBytes, cpus: spec.cpus, pidsMax: this.o.pidsMax ?? 4096, deniedDevices };
      const jobCgroup = this.tree ? this.tree.createJob(spec.jobId, limits) : null;
      cgroups = jobCgroup ? jobCgroup.dirs() : [];
      const record: SpecRecord = {
        jobId: spec.jobId,
        uid,
        gid,
        cpus: spec.cpus,
        memBytes: spec.memBytes,
        timeLimitMs: spec.timeLimitMs > 0 ? spec.timeLimitMs : null,
        cpuTimeLimitMs: spec.cpuTimeLimitMs && spec.cpuTimeLimitMs > 0 ? spec.cpuTimeLimitMs : null,
        gpuIndices: spec.gpuIndices,
        createdAt: Date.now(),
        cgroups,
      };
      // Written once, before the shim exists: no temp file needed (a torn one reads as missing).
      fs.writeFileSync(path.join(dir, 'spec.json'), `${JSON.stringify(record)}\n`, { flag: 'wx', mode: 0o600 });

      // A user who cannot reach the script by its path runs it from a descriptor the shim opens as root.
      const byFd = switchUser && !this.scriptsReachable;
      const command = [byFd ? '/dev/fd/4' : script, ...spec.args];
      const niceWords = spec.nice !== 0 && this.nice ? [this.nice, '-n', String(spec.nice), '--'] : [];
      let prefix: string[] = [];
      let envWords: string[] = [];
      let tail: string[];
      let env: Record<string, string>;
      if (switchUser) {
        // setpriv (and env) run as root: give them a clean environment (no LD_PRELOAD from the job).
        // A user the system knows gets their groups; a Keisan-only account (no passwd entry yet:
        // see the LDAP publishing of accounts) runs with its primary group alone.
        const groups = this.systemKnowsUid(uid) ? ['--init-groups'] : [`--groups=${gid}`];
        const words = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
        prefix = [...niceWords, this.setpriv!, `--reuid=${uid}`, `--regid=${gid}`, ...groups, '--'];
        // The user's /bin/sh exports the job's environment itself (one exec fewer than `env -i`),
        // unless a name is not a plain shell variable: then `env -i` sets it exactly.
        if (Object.keys(spec.env).every(shellCanExport)) envWords = words;
        else prefix.push(this.env!, '-i', '--', ...words);
        tail = command;
        env = { PATH: DEFAULT_PATH };
      } else {
        tail = [...niceWords, ...command];
        env = spec.env;
      }
      const asKb = !jobCgroup?.dirs().length && this.o.addressSpaceFallback ? Math.ceil(spec.memBytes / 1024) : 0;
      const stdout = path.resolve(spec.cwd, spec.stdoutPath);
      const stderr = path.resolve(spec.cwd, spec.stderrPath || spec.stdoutPath);
      const argv = [
        this.shimPath,
        'run',
        dir,
        this.tree ? this.tree.shimProcsFiles().join(':') : '',
        jobCgroup ? jobCgroup.procsFiles().join(':') : '',
        String(asKb),
        byFd ? script : '',
        String(prefix.length),
        '--',
        ...prefix,
        stdout,
        stderr === stdout ? '' : stderr,
        this.o.openMode ?? 'truncate',
        spec.cwd,
        String(envWords.length),
        ...envWords,
        ...tail,
      ];

      const tracked: Tracked = {
        jobId: spec.jobId,
        dir,
        pid: null,
        starttime: null,
        startedAt: Date.now(),
        timeLimitMs: record.timeLimitMs,
        cpuTimeLimitMs: record.cpuTimeLimitMs ?? null,
        lastCpuCheck: Date.now(),
        unwatch: null,
        watcher: null,
        deadline: null,
        launchingSince: null,
        lastLiveCheck: Date.now(),
      };
      // The shim's stderr is the job's `launch` record (see job-shim.sh).
      const pid = await new Promise<number>((resolve, reject) => {
          let spawned = false;
          tracked.unwatch = spawner.spawn(
            { file: '/bin/sh', argv, env, cwd: dir, stderrPath: path.join(dir, 'launch') },
            {
              spawned: (p) => {
                spawned = true;
                resolve(p);
              },
              error: (message) => {
                if (!spawned) reject(new Error(message));
                else tracked.unwatch = null; // no longer watched: poll() finds its end
              },
              exit: () => {
                tracked.unwatch = null;
                if (!this.closed) void this.finish(spec.jobId);
              },
            },
          );
        });
      tracked.pid = pid;
      tracked.startedAt = Date.now();
      this.tracked.set(spec.jobId, tracked);
      this.armDeadline(tracked);
      return { startedAt: tracked.startedAt, pid, cgroups };
    } catch (error) {
      // Nothing ran: leave no trace, so the job may be started again.
      if (this.tree) this.tree.job(spec.jobId).remove();
      fs.rmSync(dir, { recursive: true, force: true });
      if (error instanceof KeisanError) throw error;
      throw new KeisanError('UNAVAILABLE', `job ${spec.jobId} could not be started: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private armDeadline(t: Tracked): void {
    if (t.deadline) clearTimeout(t.deadline);
    t.deadline = null;
    if (t.timeLimitMs === null) return;
    const due = t.startedAt + t.timeLimitMs;
    const wait = due - Date.now();
    t.deadline = setTimeout(
      () => {
        t.deadline = null;
        if (this.closed || !this.tracked.has(t.jobId)) return;
        if (Date.now() < due) this.armDeadline(t);
        else void this.kill(t.jobId, 'timeout');
      },
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
    t.deadline.unref();
  }

  // ---------------------------------------------------------------------------- kill

  /**
   * Stops a job: records why (the first reason stands), then kills all its processes. The end
   * is reported through onEnded once the shim has recorded it. Unknown or ended jobs: no-op.
   */
  async kill(jobId: number, reason: KillReason, detail: string | null = null): Promise<void> {
    const dir = this.jobDir(jobId);
    if (!fs.existsSync(dir) || readExit(dir) || fs.existsSync(path.join(dir, 'outcome.json'))) return;
    const t = this.tracked.get(jobId);
    const limit = t?.timeLimitMs ?? readSpec(dir)?.timeLimitMs ?? null;
    writeKill(dir, { reason, detail: detail ?? (reason === 'timeout' && limit !== null ? `time limit of ${formatDuration(limit)}` : null), at: Date.now() });
    this.killProcesses(jobId, dir);
  }

  /**
   * Sends `signal` to every process of a running job (its cgroup's, or its session's without
   * cgroups; never the shim), e.g. SIGUSR1 asking it to checkpoint. Resolves to how many got it.
   */
  async signal(jobId: number, signal: NodeJS.Signals): Promise<number> {
    const dir = this.jobDir(jobId);
    if (!this.tracked.has(jobId) || readExit(dir)) return 0;
    const started = readStarted(dir);
    let pids: number[] = [];
    if (this.tree) {
      const cg = this.tree.job(jobId);
      for (const file of cg.exists() ? cg.procsFiles() : []) {
        try {
          pids.push(...fs.readFileSync(file, 'utf8').split('\n').filter((l) => /^\d+$/.test(l)).map(Number));
        } catch {
          // that hierarchy has gone
        }
      }
    } else if (started) {
      pids = sessionMembers(started.pid);
    }
    let sent = 0;
    for (const pid of new Set(pids)) {
      if (pid === started?.pid) continue;
      try {
        process.kill(pid, signal);
        sent++;
      } catch {
        // gone meanwhile
      }
    }
    return sent;
  }

  private killProcesses(jobId: number, dir: string): void {
    if (this.tree) {
      const cg = this.tree.job(jobId);
      if (cg.exists()) cg.kill();
      return;
    }
    const started = readStarted(dir);
    if (!started) return;
    for (let round = 0; round < 20; round++) {
      const members = sessionMembers(started.pid).filter((pid) => pid !== started.pid);
      if (members.length === 0) break;
      for (const pid of members) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }

  // ---------------------------------------------------------------------------- events

  onEnded(listener: (end: LocalJobEnd) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(end: LocalJobEnd): void {
    for (const listener of this.listeners) {
      try {
        listener(end);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** Jobs this executor is watching. */
  runningJobs(): number[] {
    return [...this.tracked.keys()];
  }

  /** Live usage of a running job (memory now, cpu so far, process count); null without cgroups. */
  usage(jobId: number): CgroupUsage | null {
    if (!this.tree || !this.tracked.has(jobId)) return null;
    const cg = this.tree.job(jobId);
    return cg.exists() ? cg.usage() : null;
  }

  /** The job's cgroup directories (for the watchdog: which processes belong to which job). */
  cgroupDirs(jobId: number): string[] {
    return this.tree ? this.tree.job(jobId).dirs() : [];
  }

  // ---------------------------------------------------------------------------- finishing

  /** Accounts for a job whose shim has exited (or vanished); idempotent. */
  private finish(jobId: number): Promise<LocalJobEnd | null> {
    let p = this.finishing.get(jobId);
    if (!p) {
      p = this.doFinish(jobId).finally(() => this.finishing.delete(jobId));
      this.finishing.set(jobId, p);
    }
    return p;
  }

  private async doFinish(jobId: number): Promise<LocalJobEnd | null> {
    const dir = this.jobDir(jobId);
    const done = this.readOutcome(jobId);
    if (done) {
      this.untrack(jobId);
      return done;
    }
    if (!fs.existsSync(dir)) {
      this.untrack(jobId);
      return null;
    }
    const started = readStarted(dir);
    let stats: CgroupStats | null = null;
    const cg = this.tree?.job(jobId);
    if (cg?.exists()) {
      // Whatever the script left running in the background ends with it.
      if (cg.populated()) {
        cg.kill();
        const deadline = Date.now() + (this.o.killWaitMs ?? 5000);
        while (cg.populated() && Date.now() < deadline) {
          await sleep(5);
          if (cg.populated()) cg.kill();
        }
      }
      stats = cg.stats();
    } else if (!this.tree && started) {
      this.killProcesses(jobId, dir);
    }
    const end = this.account(jobId, dir, started, stats);
    writeJsonAtomic(path.join(dir, 'outcome.json'), end);
    if (cg && !cg.remove()) this.pendingRemoval.add(jobId);
    this.untrack(jobId);
    if (!this.closed) this.emit(end);
    return end;
  }

  private untrack(jobId: number): void {
    const t = this.tracked.get(jobId);
    if (t?.deadline) clearTimeout(t.deadline);
    t?.watcher?.close();
    this.tracked.delete(jobId);
  }

  /** A job this process did not start: learn of its end from its `exit` record (poll() is the fallback). */
  private watchExit(t: Tracked): void {
    try {
      const watcher = fs.watch(t.dir, (_event, name) => {
        if (name === 'exit' && !this.closed && readExit(t.dir)) void this.finish(t.jobId);
      });
      watcher.on('error', () => {
        watcher.close();
        t.watcher = null;
      });
      watcher.unref();
      t.watcher = watcher;
    } catch {
      // inotify exhausted: polling still finds the end
    }
  }

  private readOutcome(jobId: number): LocalJobEnd | null {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.jobDir(jobId), 'outcome.json'), 'utf8')) as LocalJobEnd;
    } catch {
      return null;
    }
  }

  /** Turns the records and the cgroup's numbers into the job's end. */
  private account(jobId: number, dir: string, started: ReturnType<typeof readStarted>, stats: CgroupStats | null): LocalJobEnd {
    const exit = readExit(dir);
    const kill = readKill(dir);
    const launchLines = readLaunch(dir)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    const launch = launchLines.filter((l) => l !== 'exec').join('; ');
    const spec = readSpec(dir);
    const endedAt = Math.round(exit?.at ?? Date.now());
    const startedAt = started ? Math.round(started.at) : null;
    const ranUserCode = launchLines.includes('exec');
    const rc = exit?.rc ?? null;
    const signalNumber = rc !== null && rc > 128 && rc <= 128 + 64 ? rc - 128 : null;
    const signal = signalNumber !== null ? signalName(signalNumber) : null;
    const oomKills = stats?.oomKills ?? null;
    const memLimit = stats?.memLimitBytes ?? spec?.memBytes ?? null;
    const peak = stats?.peakMemBytes ?? null;
    const cpuSeconds = stats?.cpuSeconds ?? exit?.childCpuSeconds ?? null;

    let state: EndState;
    let reason: string;
    let launchError: string | null = null;
    const killedBy = (k: NonNullable<typeof kill>): [EndState, string] => {
      if (k.reason === 'timeout') return ['timeout', `ran past its ${k.detail ?? 'time limit'}; all its processes were killed`];
      if (k.reason === 'cancelled') return ['cancelled', `cancelled${k.detail ? ` (${k.detail})` : ''}; all its processes were killed`];
      return ['node-fail', k.detail ?? 'stopped by the node'];
    };
    if (!exit) {
      if (kill) [state, reason] = killedBy(kill);
      else if (!started) {
        state = 'failed';
        reason = `could not start: the job shim ended before the job began${launch ? `: ${launch}` : ''}`;
        launchError = reason;
      } else {
        state = 'node-fail';
        reason = `the job's supervisor (pid ${started.pid}) ended without recording the job's exit status; the job's remaining processes were killed`;
      }
    } else if (!ranUserCode) {
      if (kill) [state, reason] = killedBy(kill);
      else {
        state = 'failed';
        launchError = launch || `the job's first process ended with status ${rc ?? '?'} before running the script`;
        reason = `could not start: ${launchError}`;
      }
    } else if (kill) {
      [state, reason] = killedBy(kill);
    } else if (rc !== 0 && ((oomKills !== null && oomKills > 0) || (oomKills === null && rc === 137 && (stats?.memLimitHits ?? 0) > 0))) {
      state = 'out-of-memory';
      const what = oomKills ? `the kernel killed ${oomKills} of its processes` : 'it was killed';
      const limitText = memLimit !== null ? `its ${formatSize(memLimit)} memory limit` : 'its memory limit';
      reason = `out of memory: ${what} at ${limitText}${peak !== null ? ` (peak ${formatSize(peak)})` : ''}`;
    } else if (rc === 0) {
      state = 'completed';
      reason = oomKills ? `exit code 0 (the kernel killed ${oomKills} of its processes for memory)` : 'exit code 0';
    } else {
      state = 'failed';
      reason = signal ? `killed by ${signal} (exit status ${rc})` : `exit code ${rc}`;
    }
    return {
      jobId,
      state,
      exitCode: ranUserCode ? rc : null,
      signal: ranUserCode ? signal : null,
      endedAt,
      cpuSeconds: cpuSeconds === null ? null : Math.round(cpuSeconds * 1000) / 1000,
      maxRssBytes: peak,
      reason,
      startedAt,
      wallMs: startedAt !== null ? Math.max(0, endedAt - startedAt) : null,
      peakMemBytes: peak,
      memLimitBytes: memLimit,
      oomKills,
      launchError,
      ranUserCode,
    };
  }

  // ---------------------------------------------------------------------------- polling

  private poll(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const t of this.tracked.values()) {
      if (t.cpuTimeLimitMs !== null && t.launchingSince === null && now - t.lastCpuCheck >= CPU_CHECK_MS && !this.finishing.has(t.jobId)) {
        t.lastCpuCheck = now;
        this.checkCpuTime(t);
      }
      if (t.unwatch || this.finishing.has(t.jobId)) continue;
      if (readExit(t.dir)) {
        void this.finish(t.jobId);
        continue;
      }
      if (t.launchingSince !== null) {
        const started = readStarted(t.dir);
        if (started) {
          t.pid = started.pid;
          t.starttime = started.starttime;
          t.startedAt = started.at;
          t.launchingSince = null;
          this.armDeadline(t);
        } else if (now - t.launchingSince > (this.o.launchGraceMs ?? 10_000)) {
          void this.abandonLaunch(t.jobId);
        }
        continue;
      }
      if (t.starttime === null && t.pid !== null) t.starttime = readStarted(t.dir)?.starttime ?? null;
      if (now - t.lastLiveCheck >= 1000 && t.pid !== null && t.starttime !== null) {
        t.lastLiveCheck = now;
        if (!processIsAlive(t.pid, t.starttime)) void this.finish(t.jobId);
      }
    }
    for (const jobId of this.pendingRemoval) {
      if (!this.tree || this.tree.job(jobId).remove()) this.pendingRemoval.delete(jobId);
    }
    if (now - this.lastGc > 60_000) {
      this.lastGc = now;
      this.collectGarbage(now);
    }
  }

  /** Kills a job whose processes together used more CPU time than its queue allows (LSF CPULIMIT, per job). */
  private checkCpuTime(t: Tracked): void {
    if (!this.tree || t.cpuTimeLimitMs === null) return;
    const cg = this.tree.job(t.jobId);
    if (!cg.exists()) return;
    const used = cg.usage().cpuSeconds;
    if (used === null || used * 1000 < t.cpuTimeLimitMs) return;
    void this.kill(t.jobId, 'timeout', `CPU-time limit of ${formatDuration(t.cpuTimeLimitMs)} (its processes used ${formatDuration(Math.round(used * 1000))} of CPU)`);
  }

  /** A job whose shim never recorded `started`: make sure it never will run, then account for it. */
  private async abandonLaunch(jobId: number): Promise<void> {
    const dir = this.jobDir(jobId);
    writeKill(dir, { reason: 'node-fail', detail: 'the job never started (its launch was interrupted)', at: Date.now() });
    // The shim checks for `kill` after writing `started`: if `started` is there now, the job may run.
    if (readStarted(dir)) {
      this.killProcesses(jobId, dir);
      const t = this.tracked.get(jobId);
      const started = readStarted(dir)!;
      if (t) {
        t.pid = started.pid;
        t.starttime = started.starttime;
        t.startedAt = started.at;
        t.launchingSince = null;
      }
      return;
    }
    await this.finish(jobId);
  }

  private collectGarbage(now: number): void {
    const keep = this.o.retainFinishedMs ?? 7 * 86_400_000;
    let names: string[];
    try {
      names = fs.readdirSync(this.jobsDir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!/^\d+$/.test(name) || this.tracked.has(Number(name))) continue;
      const outcome = path.join(this.jobsDir, name, 'outcome.json');
      try {
        if (now - fs.statSync(outcome).mtimeMs > keep) fs.rmSync(path.join(this.jobsDir, name), { recursive: true, force: true });
      } catch {
        // not finished
      }
    }
  }

  /** The GPUs a job was launched with and when its shim recorded the start (JobExecutor). */
  launchDetails(jobId: number): { gpuIndices: number[]; startedAt: number | null } | null {
    const dir = this.jobDir(jobId);
    const spec = readSpec(dir);
    if (!spec) return null;
    const started = readStarted(dir);
    return { gpuIndices: spec.gpuIndices ?? [], startedAt: started ? Math.round(started.at) : null };
  }

  /** Drops a finished job's records (after the caller has stored its end). Running jobs are kept. */
  forget(jobId: number): boolean {
    if (this.tracked.has(jobId)) return false;
    const dir = this.jobDir(jobId);
    if (!fs.existsSync(path.join(dir, 'outcome.json'))) return false;
    fs.rmSync(dir, { recursive: true, force: true });
    return true;
  }

  // ---------------------------------------------------------------------------- reattach

  /** After a restart: which of these jobs still run, and how the others ended (JobExecutor). */
  async reattach(jobIds: number[]): Promise<{ running: number[]; ended: LocalJobEnd[] }> {
    const all = await this.reattachAll();
    const wanted = new Set(jobIds);
    return { running: all.running.filter((id) => wanted.has(id)), ended: all.ended.filter((e) => wanted.has(e.jobId)) };
  }

  /**
   * Scans every job record: running jobs (shim alive, same start time, so not a reused pid) are
   * watched again with their time limits re-armed from their real start; jobs that ended are
   * accounted with their real exit status; jobs whose shim vanished without an exit record end
   * as node-fail.
   */
  async reattachAll(): Promise<ReattachAllReport> {
    const running: number[] = [];
    const ended: LocalJobEnd[] = [];
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.jobsDir);
    } catch {
      // no jobs yet
    }
    const now = Date.now();
    for (const name of names) {
      if (!/^\d+$/.test(name)) continue;
      const jobId = Number(name);
      const dir = this.jobDir(jobId);
      if (this.tracked.has(jobId) && !this.finishing.has(jobId)) {
        running.push(jobId);
        continue;
      }
      const outcome = this.readOutcome(jobId);
      if (outcome) {
        ended.push(outcome);
        continue;
      }
      if (readExit(dir)) {
        const end = await this.finish(jobId);
        if (end) ended.push(end);
        continue;
      }
      const spec = readSpec(dir);
      const started = readStarted(dir);
      if (started) {
        if (processIsAlive(started.pid, started.starttime)) {
          const t: Tracked = {
            jobId,
            dir,
            pid: started.pid,
            starttime: started.starttime,
            startedAt: started.at,
            timeLimitMs: spec?.timeLimitMs ?? null,
            cpuTimeLimitMs: spec?.cpuTimeLimitMs ?? null,
            lastCpuCheck: now,
            unwatch: null,
            watcher: null,
            deadline: null,
            launchingSince: null,
            lastLiveCheck: now,
          };
          this.tracked.set(jobId, t);
          this.armDeadline(t);
          this.watchExit(t);
          running.push(jobId);
          continue;
        }
        // The shim may have written `exit` and gone between our two looks.
        const end = await this.finish(jobId);
        if (end) ended.push(end);
        continue;
      }
      // No `started`: the launch was under way when we went down, or the shim never got going.
      const since = spec?.createdAt ?? (fs.statSync(dir).mtimeMs || now);
      const t: Tracked = {
        jobId,
        dir,
        pid: null,
        starttime: null,
        startedAt: since,
        timeLimitMs: spec?.timeLimitMs ?? null,
        cpuTimeLimitMs: spec?.cpuTimeLimitMs ?? null,
        lastCpuCheck: now,
        unwatch: null,
        watcher: null,
        deadline: null,
        launchingSince: since,
        lastLiveCheck: now,
      };
      this.tracked.set(jobId, t);
      this.watchExit(t);
      if (now - since > (this.o.launchGraceMs ?? 10_000)) {
        await this.abandonLaunch(jobId);
        const end = this.readOutcome(jobId);
        if (end) ended.push(end);
        else running.push(jobId);
      } else {
        running.push(jobId);
      }
    }
    return { running, ended };
  }

  // ---------------------------------------------------------------------------- close

  /** Stops watching; running jobs keep running (a later executor re-attaches to them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poller);
    for (const t of this.tracked.values()) {
      if (t.deadline) clearTimeout(t.deadline);
      t.unwatch?.();
      t.watcher?.close();
    }
    await Promise.allSettled([...this.finishing.values()]);
    this.tracked.clear();
    this.unlock();
  }
}
