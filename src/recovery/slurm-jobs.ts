/**
 * SLURM's job cgroups, as the watchdog sees them on a SLURM node (issue 8). SLURM 22.05 makes them
 * with task/cgroup and proctrack/cgroup (its src/plugins/cgroup/v1 and v2):
 *
 * - cgroup v1: `<controller mount>/<prefix>/uid_<uid>/job_<id>/step_<step>[/task_<n>]`, prefix
 *   `slurm` (CgroupPrepend; `slurm_<node>` with several slurmd on one host), in the memory,
 *   cpuset, devices and freezer hierarchies (cpuacct with jobacct_gather/cgroup). The job level
 *   holds the limits (memory.limit_in_bytes, cpuset.cpus); the processes sit in the step and task
 *   leaves, slurmstepd with them in the freezer's step cgroup. Nothing in the cgroup2 side hierarchy.
 * - cgroup v2: `<mount>/system.slice/slurmstepd.scope/job_<id>/step_<step>/{slurm,user/task_<n>}`
 *   (`<node>_slurmstepd.scope` with several slurmd); slurmstepd in `step_*\/slurm`, the job's
 *   processes under `step_*\/user`. The job level holds memory.max and cpuset.cpus; memory.current,
 *   pids.current, cpu.stat and the PSI files there cover every step.
 *
 * slurmstepd must survive whatever the watchdog does (SLURM then ends the job and records why):
 * kill and freeze act on the job's processes only — v2 `step_*\/user` cgroups (cgroup.kill,
 * cgroup.freeze), v1 every pid of the job's cgroups but slurmstepd's (after freezing the job's
 * freezer, which holds slurmstepd too for that moment).
 *
 * The job's owner is the uid_<uid> directory (v1) or its processes' owner (v2); what it asked for
 * is its cgroup's own limits: memory limit and cpuset — no server round trip.
 *
 * The parsers are pure and tested on their own; the class reads and writes the cgroup files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { detectCgroupLayout, sleepSync, type CgroupLayout } from '../batch/executors/local/cgroups.ts';
import { delay, killAll, type FreezeResult, type KillOptions, type KillResult } from './actions.ts';
import type { ControllerHierarchy, JobActions, JobDirs, JobTree, JobView } from './job-tree.ts';
import { parsePasswd, type JobInfo } from './sampler.ts';

// ------------------------------------------------------------------------------- pure parsers

/** `job_<id>` → id; anything else → null. */
export function slurmJobIdOf(dirName: string): number | null {
  const m = /^job_(\d+)$/.exec(dirName);
  return m ? Number(m[1]) : null;
}

/** `uid_<uid>` → uid; anything else → null. */
export function slurmUidOf(dirName: string): number | null {
  const m = /^uid_(\d+)$/.exec(dirName);
  return m ? Number(m[1]) : null;
}

/** A cpuset list (`0-3,8,10-11`) → how many CPUs; null when empty or not a list. */
export function cpuCount(list: string): number | null {
  const t = list.trim();
  if (t === '') return null;
  let n = 0;
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) return null;
    n += to - from + 1;
  }
  return n;
}

/**
 * The job and step of a slurmstepd from its command line (`slurmstepd: [123.batch]`,
 * `slurmstepd: [123.0]`, `slurmstepd: [123.extern]`); null for anything else.
 */
export function stepdOf(cmdline: string): { jobId: number; step: string } | null {
  const m = /^slurmstepd: \[(\d+)\.([A-Za-z0-9_]+)\]/.exec(cmdline.replace(/\0/g, ' ').trim());
  return m ? { jobId: Number(m[1]), step: m[2]! } : null;
}

/**
 * The v1 cpuset hierarchy's mount point from /proc/self/mountinfo text (the executor's layout does
 * not track cpuset: Keisan's own jobs do not use it, SLURM's ConstrainCores does); null without one.
 */
export function cpusetMountOf(mountinfo: string): string | null {
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 6 || fields[sep + 1] !== 'cgroup') continue;
    if ((fields[sep + 3] ?? '').split(',').includes('cpuset')) return (fields[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  }
  return null;
}

/** slurm.conf's ProctrackType (`proctrack/cgroup`, `proctrack/linuxproc`, …), the last one set; null when not set. */
export function proctrackOf(slurmConf: string): string | null {
  let found: string | null = null;
  for (const line of slurmConf.split('\n')) {
    const m = /^\s*ProctrackType\s*=\s*(\S+)/i.exec(line.replace(/#.*$/, ''));
    if (m) found = m[1]!;
  }
  return found;
}

/** Which SLURM cgroup layout to look for: v1 whenever the v1 memory controller is mounted (as SLURM's autodetection does). */
export function slurmLayoutKind(layout: CgroupLayout): 'v1' | 'v2' | null {
  return layout.kind === 'v1' ? 'v1' : layout.kind === 'v2' ? 'v2' : null;
}

// ------------------------------------------------------------------------------- small I/O

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function isDir(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function isStepd(pid: number): boolean {
  return readText(`/proc/${pid}/comm`)?.trim() === 'slurmstepd';
}

/** The pids in `dir`'s cgroup.procs and those of every cgroup below it (bounded depth). */
function pidsBelow(dir: string, skip: (name: string) => boolean = () => false, depth = 0): number[] {
  const out: number[] = [];
  const text = readText(path.join(dir, 'cgroup.procs'));
  if (text) for (const line of text.split('\n')) if (line !== '') out.push(Number(line));
  if (depth >= 6) return out;
  for (const name of listDir(dir)) {
    if (skip(name)) continue;
    const sub = path.join(dir, name);
    if (isDir(sub)) out.push(...pidsBelow(sub, skip, depth + 1));
  }
  return out;
}

// ------------------------------------------------------------------------------- the tree

export interface SlurmCgroupOptions {
  /** Default: detectCgroupLayout(). */
  layout?: CgroupLayout;
  /**
   * v1: the SLURM cgroup below each controller's mount (CgroupPrepend), default: `slurm`, or the one
   * `slurm_<node>` there is. v2: the stepd scope below the cgroup2 mount, default:
   * `system.slice/slurmstepd.scope`, or the one `system.slice/<node>_slurmstepd.scope` there is.
   */
  root?: string;
  /** v1: where the cpuset hierarchy is mounted (default: from /proc/self/mountinfo); null: none. */
  cpusetMount?: string | null;
  /** Only the jobs this accepts (default: all): a host running several SLURM clusters (tests) shares `slurm_<host>`. */
  only?: (jobId: number) => boolean;
}

function detectCpusetMount(): string | null {
  try {
    return cpusetMountOf(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return null;
  }
}

const V1_JOB_CONTROLLERS = ['memory', 'freezer', 'cpuacct', 'cpu', 'cpuset', 'pids', 'devices'] as const;

/** Finds the SLURM cgroup root on this host (see SlurmCgroupOptions.root); null when there is none yet. */
export function findSlurmRoot(layout: CgroupLayout): string | null {
  if (layout.kind === 'v1') {
    const mount = layout.v1.memory ?? layout.v1.freezer;
    if (!mount) return null;
    const names = listDir(mount).filter((n) => n === 'slurm' || n.startsWith('slurm_'));
    return names.includes('slurm') ? 'slurm' : (names[0] ?? null);
  }
  if (layout.kind === 'v2' && layout.unified) {
    const slice = path.join(layout.unified, 'system.slice');
    const names = listDir(slice).filter((n) => n === 'slurmstepd.scope' || n.endsWith('_slurmstepd.scope'));
    const name = names.includes('slurmstepd.scope') ? 'slurmstepd.scope' : names[0];
    return name ? `system.slice/${name}` : null;
  }
  return null;
}

/**
 * SLURM's job cgroups on this node, read-only except for the actions: the watchdog never creates,
 * removes or limits anything here.
 */
export class SlurmCgroupTree implements JobTree, JobActions {
  readonly mode: 'v1' | 'v2';
  readonly jobIdKind = 'slurm' as const;
  readonly actions: JobActions = this;
  /** v1 counts an OOM kill in the victim's memory cgroup (a step or task below the job), not the job's where the limit is. */
  readonly oomKillsNested: boolean;
  readonly root: string;
  readonly layout: CgroupLayout;
  private readonly hierarchies: Partial<Record<(typeof V1_JOB_CONTROLLERS)[number] | 'v2', ControllerHierarchy>> = {};
  /** v1: each job's uid directory, from the last listing. */
  private readonly uidOfJob = new Map<number, number>();
  private readonly only: (jobId: number) => boolean;

  private constructor(options: SlurmCgroupOptions) {
    this.only = options.only ?? (() => true);
    this.layout = options.layout ?? detectCgroupLayout();
    const kind = slurmLayoutKind(this.layout);
    if (kind === null) throw new Error('no cgroup hierarchy is mounted (neither v1 memory nor cgroup2): SLURM jobs cannot be watched');
    this.mode = kind;
    this.oomKillsNested = kind === 'v1';
    this.root = options.root ?? findSlurmRoot(this.layout) ?? (kind === 'v1' ? 'slurm' : 'system.slice/slurmstepd.scope');
    if (this.root.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new Error(`SLURM cgroup root '${this.root}' is not a relative path of plain names`);
    if (kind === 'v1') {
      const byMount = new Map<string, ControllerHierarchy>();
      const cpuset = options.cpusetMount === undefined ? detectCpusetMount() : options.cpusetMount;
      for (const c of V1_JOB_CONTROLLERS) {
        const mount = c === 'cpuset' ? (cpuset ?? undefined) : this.layout.v1[c];
        if (!mount) continue;
        let h = byMount.get(mount);
        if (!h) {
          h = { version: 1, mount, controllers: [] };
          byMount.set(mount, h);
        }
        h.controllers.push(c);
        this.hierarchies[c] = h;
      }
    } else {
      this.hierarchies.v2 = { version: 2, mount: this.layout.unified!, controllers: [] };
    }
  }

  static open(options: SlurmCgroupOptions = {}): SlurmCgroupTree {
    return new SlurmCgroupTree(options);
  }

  /** The SLURM cgroup in a hierarchy: v1 `<mount>/slurm`, v2 `<mount>/system.slice/slurmstepd.scope`. */
  rootDir(h: ControllerHierarchy): string {
    return path.join(h.mount, this.root);
  }

  /**
   * Where jobs are listed: v2 the scope; v1 the memory hierarchy where SLURM made its cgroup there
   * (ConstrainRAMSpace), else the freezer's (proctrack/cgroup), else the cpuset's.
   */
  private listingHierarchy(): ControllerHierarchy | undefined {
    if (this.mode === 'v2') return this.hierarchies.v2;
    const candidates = [this.hierarchies.memory, this.hierarchies.freezer, this.hierarchies.cpuset].filter((h): h is ControllerHierarchy => h !== undefined);
    return candidates.find((h) => isDir(this.rootDir(h))) ?? candidates[0];
  }

  jobIds(): number[] {
    const h = this.listingHierarchy();
    if (!h) return [];
    const root = this.rootDir(h);
    const ids: number[] = [];
    if (this.mode === 'v2') {
      for (const name of listDir(root)) {
        const id = slurmJobIdOf(name);
        if (id !== null && this.only(id)) ids.push(id);
      }
      return ids;
    }
    const seen = new Map<number, number>();
    for (const uidName of listDir(root)) {
      const uid = slurmUidOf(uidName);
      if (uid === null) continue;
      for (const name of listDir(path.join(root, uidName))) {
        const id = slurmJobIdOf(name);
        if (id !== null && this.only(id)) seen.set(id, uid);
      }
    }
    this.uidOfJob.clear();
    for (const [id, uid] of seen) {
      this.uidOfJob.set(id, uid);
      ids.push(id);
    }
    return ids;
  }

  /** The job's owner: its uid_<uid> directory (v1), or the owner of its first process that is not root (v2). */
  uidOf(jobId: number): number | null {
    if (this.mode === 'v1') {
      if (!this.uidOfJob.has(jobId)) this.jobIds();
      return this.uidOfJob.get(jobId) ?? null;
    }
    for (const pid of this.job(jobId).pids()) {
      try {
        const uid = fs.statSync(`/proc/${pid}`).uid;
        if (uid !== 0) return uid;
      } catch {
        // gone
      }
    }
    return null;
  }

  /** The job's directory in a hierarchy (v1 below uid_<uid>); null when the job's owner is unknown. */
  private jobDir(h: ControllerHierarchy, jobId: number): string | null {
    if (this.mode === 'v2') return path.join(this.rootDir(h), `job_${jobId}`);
    const uid = this.uidOfJob.get(jobId) ?? (this.jobIds(), this.uidOfJob.get(jobId));
    return uid === undefined ? null : path.join(this.rootDir(h), `uid_${uid}`, `job_${jobId}`);
  }

  jobDirs(jobId: number): JobDirs {
    const dirOf = new Map<ControllerHierarchy, string>();
    const present = (h: ControllerHierarchy | undefined): ControllerHierarchy | undefined => {
      if (!h) return undefined;
      const dir = this.jobDir(h, jobId);
      if (dir === null || !isDir(dir)) return undefined;
      dirOf.set(h, dir);
      return h;
    };
    const dir = (h: ControllerHierarchy): string => dirOf.get(h) ?? this.jobDir(h, jobId) ?? path.join(this.rootDir(h), `job_${jobId}`);
    if (this.mode === 'v2') {
      const base = this.hierarchies.v2!;
      const jobDir = this.jobDir(base, jobId)!;
      // The controllers this job's cgroup has (SLURM enables what the scope offers).
      const controllers = (readText(path.join(jobDir, 'cgroup.controllers')) ?? '').trim().split(/\s+/).filter(Boolean);
      const v2: ControllerHierarchy = { ...base, controllers };
      if (!isDir(jobDir)) return { all: [], dir };
      dirOf.set(v2, jobDir);
      return {
        all: [jobDir],
        v2,
        ...(controllers.includes('memory') ? { memory: v2 } : {}),
        ...(controllers.includes('pids') ? { pids: v2 } : {}),
        ...(controllers.includes('cpu') ? { cpu: v2 } : {}),
        dir,
      };
    }
    const hs = this.hierarchies;
    const memory = present(hs.memory);
    const pids = present(hs.pids);
    const cpu = present(hs.cpu);
    const cpuacct = present(hs.cpuacct);
    const freezer = present(hs.freezer);
    const devices = present(hs.devices);
    present(hs.cpuset);
    return {
      all: [...new Set(dirOf.values())],
      ...(memory ? { memory } : {}),
      ...(pids ? { pids } : {}),
      ...(cpu ? { cpu } : {}),
      ...(cpuacct ? { cpuacct } : {}),
      ...(freezer ? { freezer } : {}),
      ...(devices ? { devices } : {}),
      dir,
    };
  }

  job(jobId: number): JobView {
    return {
      jobId,
      pids: () => this.jobPids(jobId),
      populated: () => this.jobPids(jobId).length > 0,
      oomKills: () => this.oomKills(jobId),
    };
  }

  /**
   * The job's processes, slurmstepd left out: v2 those under each step's `user` cgroup, v1 every
   * pid in the job's cgroups (freezer, else memory, else cpuacct/cpuset) and below.
   */
  jobPids(jobId: number): number[] {
    if (this.mode === 'v2') {
      const dir = this.jobDir(this.hierarchies.v2!, jobId)!;
      return pidsBelow(dir, (name) => name === 'slurm').filter((pid) => !isStepd(pid));
    }
    const h = [this.hierarchies.freezer, this.hierarchies.memory, this.hierarchies.cpuacct, this.hierarchies.cpuset].find((x) => x && isDir(this.jobDir(x, jobId) ?? ''));
    if (!h) return [];
    return [...new Set(pidsBelow(this.jobDir(h, jobId)!))].filter((pid) => !isStepd(pid));
  }

  /** Kernel OOM kills in the job: v2 memory.events (hierarchical); v1 memory.oom_control summed over its cgroups (v1 counts where the victim was). */
  oomKills(jobId: number): number | null {
    const mem = this.mode === 'v2' ? this.hierarchies.v2! : this.hierarchies.memory;
    if (!mem) return null;
    const dir = this.jobDir(mem, jobId);
    if (dir === null) return null;
    const count = (d: string, file: string): number | null => {
      const m = /^oom_kill (\d+)/m.exec(readText(path.join(d, file)) ?? '');
      return m ? Number(m[1]) : null;
    };
    if (this.mode === 'v2') return count(dir, 'memory.events');
    let total: number | null = null;
    const walk = (d: string, depth: number) => {
      const n = count(d, 'memory.oom_control');
      if (n !== null) total = (total ?? 0) + n;
      if (depth < 4) for (const name of listDir(d)) if (isDir(path.join(d, name))) walk(path.join(d, name), depth + 1);
    };
    walk(dir, 0);
    return total;
  }

  parentControllerDirs(): { memory?: { dir: string; version: 1 | 2 }; pids?: string } {
    if (this.mode === 'v2') {
      const h = this.hierarchies.v2!;
      const dir = this.rootDir(h);
      const controllers = (readText(path.join(dir, 'cgroup.controllers')) ?? '').split(/\s+/);
      return { ...(controllers.includes('memory') ? { memory: { dir, version: 2 as const } } : {}), ...(controllers.includes('pids') ? { pids: dir } : {}) };
    }
    const mem = this.hierarchies.memory;
    const pids = this.hierarchies.pids;
    return {
      ...(mem && isDir(this.rootDir(mem)) ? { memory: { dir: this.rootDir(mem), version: 1 as const } } : {}),
      ...(pids && isDir(this.rootDir(pids)) ? { pids: this.rootDir(pids) } : {}),
    };
  }

  /** v2: the `user` cgroup of every step of the job (where its processes are). */
  private userDirs(jobId: number): string[] {
    const dir = this.jobDir(this.hierarchies.v2!, jobId)!;
    return listDir(dir)
      .filter((n) => n.startsWith('step_'))
      .map((n) => path.join(dir, n, 'user'))
      .filter(isDir);
  }

  /** v1: the job's cpuset cgroup (task/cgroup with ConstrainCores); null without one. */
  cpusetDir(jobId: number): string | null {
    const h = this.hierarchies.cpuset;
    const dir = h ? this.jobDir(h, jobId) : null;
    return dir && isDir(dir) ? dir : null;
  }

  private v1FreezerState(jobId: number): string | null {
    const h = this.hierarchies.freezer;
    const dir = h ? this.jobDir(h, jobId) : null;
    return dir ? path.join(dir, 'freezer.state') : null;
  }

  // ----------------------------------------------------------------------------- actions

  /**
   * Kills the job's processes, never slurmstepd: v2 cgroup.kill in each step's `user` cgroup; v1
   * freeze the job's freezer, SIGKILL every pid but slurmstepd's, thaw. Waits (bounded) until none
   * is left; slurmstepd then sees its tasks killed and SLURM ends the job.
   */
  async kill(jobId: number, options: KillOptions): Promise<KillResult> {
    const decidedAt = options.decidedAtMs ?? performance.now();
    const timeoutMs = options.timeoutMs ?? 5000;
    const signalled = new Set<number>();
    let signalsSent = 0;
    let writeMs: number | null = null;
    let writeToFrozenMs: number | null = null;
    let route: KillResult['path'] = 'signal-walk';
    const writtenAt = performance.now();
    if (this.mode === 'v2') {
      const files = this.userDirs(jobId)
        .map((d) => path.join(d, 'cgroup.kill'))
        .filter((f) => fs.existsSync(f));
      if (files.length) {
        route = 'cgroup.kill';
        for (const f of files) {
          try {
            fs.writeFileSync(f, '1');
          } catch {
            // the step ended meanwhile
          }
        }
        writeMs = performance.now() - writtenAt;
      } else signalsSent += killAll(this.jobPids(jobId), signalled);
    } else {
      const state = this.v1FreezerState(jobId);
      if (state && fs.existsSync(state)) {
        route = 'v1-freeze-and-kill';
        try {
          fs.writeFileSync(state, 'FROZEN');
          writeMs = performance.now() - writtenAt;
          const frozenBy = writtenAt + 500;
          while (readText(state)?.trim() !== 'FROZEN' && performance.now() < frozenBy) sleepSync(1);
          writeToFrozenMs = performance.now() - writtenAt;
          signalsSent += killAll(this.jobPids(jobId), signalled);
        } finally {
          try {
            fs.writeFileSync(state, 'THAWED');
          } catch {
            // the job's cgroup went away
          }
        }
      } else signalsSent += killAll(this.jobPids(jobId), signalled);
    }
    const deadline = writtenAt + timeoutMs;
    let left = this.jobPids(jobId);
    while (left.length > 0 && performance.now() < deadline) {
      if (route !== 'cgroup.kill') signalsSent += killAll(left, signalled);
      await delay(options.pollMs ?? 2);
      left = this.jobPids(jobId);
    }
    return {
      jobId,
      path: route,
      empty: left.length === 0,
      judgedBy: 'cgroup.procs',
      decisionToWriteMs: writtenAt - decidedAt,
      writeMs,
      writeToFrozenMs,
      writeToEmptyMs: left.length === 0 ? performance.now() - writtenAt : null,
      signalsSent,
    };
  }

  /** Freezes the job's processes: v2 each step's `user` cgroup; v1 the job's freezer (slurmstepd included, until thawed). */
  async freeze(jobId: number, options: { timeoutMs: number }): Promise<FreezeResult> {
    const writtenAt = performance.now();
    let frozen: () => boolean;
    let via: FreezeResult['via'];
    if (this.mode === 'v2') {
      const dirs = this.userDirs(jobId);
      if (!dirs.length) throw new Error(`SLURM job ${jobId} has no step cgroup to freeze`);
      for (const d of dirs) fs.writeFileSync(path.join(d, 'cgroup.freeze'), '1');
      frozen = () => dirs.every((d) => /^frozen 1/m.test(readText(path.join(d, 'cgroup.events')) ?? ''));
      via = 'cgroup.freeze';
    } else {
      const state = this.v1FreezerState(jobId);
      if (!state || !fs.existsSync(state)) throw new Error(`SLURM job ${jobId} has no freezer cgroup (proctrack/cgroup makes one)`);
      fs.writeFileSync(state, 'FROZEN');
      frozen = () => readText(state)?.trim() === 'FROZEN';
      via = 'freezer.state';
    }
    let done = frozen();
    while (!done && performance.now() < writtenAt + options.timeoutMs) {
      await delay(2);
      done = frozen();
    }
    return { jobId, via, done, writeToDoneMs: done ? performance.now() - writtenAt : null };
  }

  thaw(jobId: number): void {
    if (this.mode === 'v2') {
      for (const d of this.userDirs(jobId)) fs.writeFileSync(path.join(d, 'cgroup.freeze'), '0');
      return;
    }
    const state = this.v1FreezerState(jobId);
    if (state && fs.existsSync(state)) fs.writeFileSync(state, 'THAWED');
  }
}

// ------------------------------------------------------------------------------- what a job asked for

/**
 * `jobInfo(jobId)` for the sampler from SLURM's own cgroups: the owner (uid directory or process
 * owner, named from /etc/passwd), the memory limit SLURM set (its --mem) and the CPUs of its cpuset.
 * Read once per job (SLURM sets both when the job starts); a job not fully set up yet is looked at
 * again on a later tick.
 */
export function slurmJobRecords(tree: SlurmCgroupTree, options: { readPasswd?: () => string } = {}): (jobId: number) => JobInfo | undefined {
  const readPasswd = options.readPasswd ?? (() => fs.readFileSync('/etc/passwd', 'utf8'));
  const cache = new Map<number, JobInfo>();
  let users: Map<number, string> | null = null;
  const userOf = (uid: number): string | null => {
    if (!users || !users.has(uid)) {
      try {
        users = parsePasswd(readPasswd());
      } catch {
        users = new Map();
      }
    }
    return users.get(uid) ?? null;
  };
  return (jobId) => {
    const hit = cache.get(jobId);
    if (hit) return hit;
    const uid = tree.uidOf(jobId);
    const limits = slurmJobLimits(tree, jobId);
    const info: JobInfo = { uid, user: uid === null ? null : userOf(uid), requestedMemBytes: limits.memBytes, requestedCpus: limits.cpus };
    if (cache.size >= 10_000) cache.clear();
    if (uid !== null) cache.set(jobId, info);
    return info;
  };
}

/** The job cgroup's own limits: memory (v1 memory.limit_in_bytes, v2 memory.max) and the CPUs of its cpuset. */
export function slurmJobLimits(tree: SlurmCgroupTree, jobId: number): { memBytes: number | null; cpus: number | null } {
  const d = tree.jobDirs(jobId);
  let memBytes: number | null = null;
  if (d.memory) {
    const text = readText(path.join(d.dir(d.memory), d.memory.version === 2 ? 'memory.max' : 'memory.limit_in_bytes'))?.trim();
    const n = text === undefined || text === 'max' ? NaN : Number(text);
    memBytes = Number.isFinite(n) && n < 2 ** 60 ? n : null;
  }
  let cpus: number | null = null;
  const cpusetDir = tree.mode === 'v2' ? (d.v2 ? d.dir(d.v2) : null) : tree.cpusetDir(jobId);
  // Only what SLURM wrote (ConstrainCores): v2's cpuset.cpus.effective would be the whole node's otherwise.
  if (cpusetDir) cpus = cpuCount(readText(path.join(cpusetDir, 'cpuset.cpus')) ?? '');
  return { memBytes, cpus };
}
