/**
 * A private, real SLURM cluster for tests (the SLURM executor, `keisan admin slurm sync`, the
 * accounting import) and benchmarks: munged with its own key and socket, slurmctld and one slurmd
 * (this host) on free loopback ports, and with accounting a slurmdbd on its own database of a
 * MariaDB (KEISAN_TEST_MARIADB_URL, which scripts/run-tests.js provides; else a private one). All
 * state lives in one temporary directory. Recipe: /work/shared/notes/batch.md §10, plus
 * cgroups, accounting and Keisan's queues as partitions.
 *
 * Several clusters may run at once (test files run two at a time): each has its own directory,
 * munge socket, ports, ClusterName, database and a distinct FirstJobId. The last matters with
 * cgroups: every slurmd on this host puts its jobs under /sys/fs/cgroup/<controller>/slurm_<host>/
 * uid_<uid>/job_<id>, so two clusters with the same job id would share a cgroup.
 *
 * Memory is a consumable resource (CR_Core_Memory, DefMemPerCPU) and enforced: with cgroups
 * (task/cgroup, ConstrainRAMSpace) a job past --mem ends OUT_OF_MEMORY; without cgroups
 * (proctrack/linuxproc) jobacct_gather/linux's OverMemoryKill polls every second and kills it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SlurmSettings } from '../../../lib/config.ts';
import { freePort } from '../../../lib/net.ts';
import { processRunning as alive } from '../../../lib/process.ts';
import { defaultQueues } from '../../queues.ts';
import { slurmRunner, type SlurmRunner } from './run.ts';

export interface TestSlurmPartition {
  name: string;
  /** SLURM's MaxTime: minutes, `HH:MM:SS`, `D-HH:MM:SS` or `INFINITE` (the default). */
  maxTime?: string;
  default?: boolean;
}

export interface TestSlurmOptions {
  /** slurmdbd + MariaDB (sacct, sacctmgr, fair share, AccountingStorageEnforce). Default: when MariaDB and slurmdbd are installed. */
  accounting?: boolean;
  /**
   * proctrack/cgroup + task/cgroup (memory enforced by the kernel). Default: when this host has
   * a cgroup hierarchy SLURM can use, falling back to proctrack/linuxproc + OverMemoryKill when
   * slurmd cannot start with it. `true` fails instead of falling back; `false` never tries.
   */
  cgroups?: boolean;
  /** Default: Keisan's default queues (express, short (Default), middle, large, huge) with their wall-time limits. */
  partitions?: TestSlurmPartition[];
  /** The node's CPUs (default: this machine's). More than the machine has is allowed (SlurmdParameters=config_overrides). */
  cpus?: number;
  /** The node's RealMemory in MiB (default: 80 % of this machine's memory). */
  memMiB?: number;
}

export interface TestSlurm {
  /** The cluster's directory (removed by stop()). */
  dir: string;
  /** Its slurm.conf (SLURM_CONF). */
  conf: string;
  /** A directory every user may write (job output: sbatch's default output lands in the submitter's current directory). */
  work: string;
  clusterName: string;
  /** Job ids of this cluster start here. */
  firstJobId: number;
  /** Ready for the SLURM executor. */
  settings: SlurmSettings;
  /** slurmRunner(settings). */
  run: SlurmRunner;
  /** The one node: this host's short name, with the CPUs and RealMemory configured. */
  nodeName: string;
  cpus: number;
  memMiB: number;
  /** slurmdbd + MariaDB are running: sacct and sacctmgr work, associations, limits and QOS are enforced. */
  accounting: boolean;
  /** Which cgroup plugin proctrack/task use; 'none': proctrack/linuxproc, memory enforced by OverMemoryKill. */
  cgroups: 'v1' | 'v2' | 'none';
  /**
   * Stops slurmctld (with this signal; default SIGTERM) and starts it again on its saved state
   * (never -c); resolves when it answers. SLURM writes its job state a moment (up to ~4 s here)
   * after a change, so a SIGKILL loses what changed since: a job submitted since is gone after the
   * restart (squeue: "Invalid job id specified"; sacct keeps it PENDING; its batch step is killed
   * as an orphan, and its id is handed out again), and a job that started since is killed and
   * started again. Await stateSaved() first where a test needs the job's current state kept.
   */
  restartController(how?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Resolves once slurmctld has written its job state (state/job_state) after `sinceMs` (default: now); 30 s at most. */
  stateSaved(sinceMs?: number): Promise<void>;
  /** Cancels what is left, stops every daemon it started, removes its database and directory. Idempotent. */
  stop(): Promise<void>;
}

const SBIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SLURM_PROGRAMS = ['slurmctld', 'slurmd', 'munged', 'sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo'];
const ACCOUNTING_PROGRAMS = ['slurmdbd', 'sacct', 'sacctmgr'];
/** SLURM's MaxJobId default is 0x03ff0000; every cluster gets its own block of job ids below it. */
const JOB_ID_BLOCK = 20_000;
const JOB_ID_BLOCKS = Math.floor((0x03ff0000 - 1_000_000) / JOB_ID_BLOCK);

function onPath(program: string): boolean {
  return SBIN_PATH.split(':').some((dir) => fs.existsSync(path.join(dir, program)));
}

/** Why SLURM tests cannot run here (not installed, not root), or undefined when they can. */
export function slurmTestSkip(): string | undefined {
  if (process.platform !== 'linux') return 'SLURM tests need Linux';
  const missing = SLURM_PROGRAMS.filter((p) => !onPath(p));
  if (missing.length) return `SLURM is not installed (${missing.join(', ')} missing): npm run deps installs slurm-wlm and munge`;
  if (process.getuid?.() !== 0) return "SLURM's daemons (slurmd, munged as the munge user) need root: run the SLURM tests as root";
  return undefined;
}

/** Why a cluster with accounting cannot start here, or undefined when it can. */
export function slurmAccountingSkip(): string | undefined {
  const base = slurmTestSkip();
  if (base) return base;
  const missing = ACCOUNTING_PROGRAMS.filter((p) => !onPath(p));
  if (missing.length) return `SLURM accounting is not installed (${missing.join(', ')} missing): npm run deps installs slurmdbd`;
  if (!process.env.KEISAN_TEST_MARIADB_URL && !['mariadbd', 'mariadb-install-db', 'mariadb'].every(onPath)) {
    return 'MariaDB is not installed (slurmdbd stores accounting in it): npm run deps installs mariadb-server, or set KEISAN_TEST_MARIADB_URL';
  }
  return undefined;
}

/** Which cgroup hierarchy SLURM's cgroup plugins would find here. */
export function hostCgroups(): 'v1' | 'v2' | 'none' {
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const controllers = fs.readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/);
    return controllers.includes('memory') ? 'v2' : 'none';
  }
  const v1 = ['memory', 'freezer', 'cpuset'].every((c) => fs.existsSync(path.join('/sys/fs/cgroup', c, 'tasks')));
  return v1 ? 'v1' : 'none';
}

// ---------------------------------------------------------------------------- processes

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

async function waitGone(pid: number | undefined, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Ends a process: `first` (SIGTERM), then SIGKILL if it is still there after `graceMs`. */
async function ensureGone(pid: number | undefined, graceMs: number, first: NodeJS.Signals | null = 'SIGTERM'): Promise<void> {
  if (!alive(pid)) return;
  if (first) signal(pid, first);
  if (await waitGone(pid, graceMs)) return;
  signal(pid, 'SIGKILL');
  await waitGone(pid, 5_000);
}

function idOf(name: string): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`there is no '${name}' user (it comes with the Debian package: npm run deps)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function tailOf(file: string, lines = 15): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return text ? `\n--- last lines of ${file}:\n${text.split('\n').slice(-lines).join('\n')}` : `\n(${file} is empty)`;
  } catch {
    return `\n(no ${file})`;
  }
}

/** slurmstepd processes of jobs in [first, first + JOB_ID_BLOCK): what scontrol shutdown leaves running. */
function stepdPids(firstJobId: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const m = /^slurmstepd: \[(\d+)[.\]]/.exec(cmdline);
    if (m && Number(m[1]) >= firstJobId && Number(m[1]) < firstJobId + JOB_ID_BLOCK) pids.push(Number(entry));
  }
  return pids;
}

/** The job cgroups SLURM made on this host, as job ids (any cluster). */
function jobCgroupIds(): number[] {
  const ids: number[] = [];
  for (const controller of ['memory', 'freezer', 'cpuset', '']) {
    const base = path.join('/sys/fs/cgroup', controller);
    let tops: string[];
    try {
      tops = fs.readdirSync(base).filter((d) => d.startsWith('slurm'));
    } catch {
      continue;
    }
    for (const top of tops) {
      for (const uid of safeReaddir(path.join(base, top)).filter((d) => d.startsWith('uid_'))) {
        for (const job of safeReaddir(path.join(base, top, uid))) {
          const m = /^job_(\d+)$/.exec(job);
          if (m) ids.push(Number(m[1]));
        }
      }
    }
  }
  return ids;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The job cgroup directories of this cluster's job ids, in every controller. */
function jobCgroupDirs(firstJobId: number): string[] {
  const dirs: string[] = [];
  for (const controller of ['memory', 'freezer', 'cpuset', 'cpu', 'cpuacct', 'devices', 'pids', '']) {
    const base = path.join('/sys/fs/cgroup', controller);
    for (const top of safeReaddir(base).filter((d) => d.startsWith('slurm'))) {
      for (const uid of safeReaddir(path.join(base, top)).filter((d) => d.startsWith('uid_'))) {
        for (const job of safeReaddir(path.join(base, top, uid))) {
          const m = /^job_(\d+)$/.exec(job);
          if (m && Number(m[1]) >= firstJobId && Number(m[1]) < firstJobId + JOB_ID_BLOCK) dirs.push(path.join(base, top, uid, job));
        }
      }
    }
  }
  return dirs;
}

/** Processes still in this cluster's job cgroups (a job's processes outlive a SIGKILLed slurmstepd). */
function jobProcesses(firstJobId: number): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    try {
      for (const line of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line.trim()) pids.add(Number(line));
    } catch {
      // gone
    }
    for (const child of safeReaddir(dir)) {
      const full = path.join(dir, child);
      if (fs.statSync(full, { throwIfNoEntry: false })?.isDirectory()) walk(full);
    }
  };
  for (const dir of jobCgroupDirs(firstJobId)) walk(dir);
  return [...pids];
}

/** Removes, deepest first, the (empty) job cgroups of this cluster's job ids that SLURM left behind after kills. */
function removeJobCgroups(firstJobId: number): void {
  const rmTree = (dir: string) => {
    for (const child of safeReaddir(dir)) {
      const full = path.join(dir, child);
      if (fs.statSync(full, { throwIfNoEntry: false })?.isDirectory()) rmTree(full);
    }
    try {
      fs.rmdirSync(dir);
    } catch {
      // busy or gone: leave it
    }
  };
  for (const dir of jobCgroupDirs(firstJobId)) rmTree(dir);
}

const takenBlocks = new Set<number>();

/** A block of job ids that no cluster of this process uses and no job cgroup on this host is in. */
function pickFirstJobId(): number {
  const inUse = jobCgroupIds();
  for (let attempt = 0; attempt < 100; attempt++) {
    const block = randomInt(0, JOB_ID_BLOCKS);
    const first = 1_000_000 + block * JOB_ID_BLOCK;
    if (takenBlocks.has(block) || inUse.some((id) => id >= first && id < first + JOB_ID_BLOCK)) continue;
    takenBlocks.add(block);
    return first;
  }
  throw new Error('could not find a free block of SLURM job ids (100 tries)');
}

// ---------------------------------------------------------------------------- clean-up on exit

interface LiveCluster {
  dir: string;
  firstJobId: number;
  pids: () => Array<number | undefined>;
}
const live = new Set<LiveCluster>();
let exitHookInstalled = false;

function killLiveClusters(): void {
  for (const cluster of live) {
    for (const pid of [...cluster.pids(), ...stepdPids(cluster.firstJobId), ...jobProcesses(cluster.firstJobId)]) signal(pid, 'SIGKILL');
    fs.rmSync(cluster.dir, { recursive: true, force: true });
  }
  // Exiting: no event loop to wait on. A second at most for the killed jobs to leave their cgroups.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < 1000 && [...live].some((c) => jobProcesses(c.firstJobId).length > 0); waited += 50) Atomics.wait(pause, 0, 0, 50);
  for (const cluster of live) removeJobCgroups(cluster.firstJobId);
  live.clear();
}

/** The daemons run in their own process groups: end them when this process exits or is told to stop. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', killLiveClusters);
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killLiveClusters();
      process.removeListener(name, onSignal);
      // Nobody else handles it: die of it as if this listener had never been there.
      if (process.listenerCount(name) === 0) process.kill(process.pid, name);
    };
    process.on(name, onSignal);
  }
}

// ---------------------------------------------------------------------------- configuration

function minutes(ms: number | null): string {
  return ms === null ? 'INFINITE' : String(Math.max(1, Math.ceil(ms / 60_000)));
}

function defaultPartitions(): TestSlurmPartition[] {
  return defaultQueues().map((q) => ({ name: q.name, maxTime: minutes(q.wallTimeLimitMs), default: q.name === 'short' }));
}

function checkOptions(o: TestSlurmOptions): void {
  if (o.cpus !== undefined && (!Number.isInteger(o.cpus) || o.cpus < 1)) throw new Error(`startTestSlurm: cpus must be a whole number of at least 1, not ${o.cpus}`);
  if (o.memMiB !== undefined && (!Number.isInteger(o.memMiB) || o.memMiB < 256)) throw new Error(`startTestSlurm: memMiB must be a whole number of at least 256, not ${o.memMiB}`);
  for (const p of o.partitions ?? []) {
    if (!/^[A-Za-z0-9_-]+$/.test(p.name)) throw new Error(`startTestSlurm: '${p.name}' is not a SLURM partition name (letters, digits, _ -)`);
    if (p.maxTime !== undefined && !/^(INFINITE|UNLIMITED|\d+(-\d+)?(:\d+){0,2})$/i.test(p.maxTime)) throw new Error(`startTestSlurm: partition ${p.name}: MaxTime '${p.maxTime}' is not a SLURM time`);
  }
  if (o.partitions && o.partitions.length === 0) throw new Error('startTestSlurm: partitions is empty (leave it out for Keisan\'s default queues)');
}

interface Layout {
  dir: string;
  conf: string;
  clusterName: string;
  nodeName: string;
  firstJobId: number;
  cpus: number;
  memMiB: number;
  ports: { ctld: number; slurmd: number; dbd: number };
  mungeSocket: string;
  partitions: TestSlurmPartition[];
  accounting: boolean;
  cgroups: 'v1' | 'v2' | 'none';
}

function slurmConf(l: Layout): string {
  const d = l.dir;
  const defaultName = l.partitions.find((p) => p.default)?.name ?? l.partitions[0]!.name;
  const lines = [
    `ClusterName=${l.clusterName}`,
    `SlurmctldHost=${l.nodeName}(127.0.0.1)`,
    `SlurmctldPort=${l.ports.ctld}`,
    `SlurmdPort=${l.ports.slurmd}`,
    'SlurmUser=slurm',
    'SlurmdUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${l.mungeSocket}`,
    `StateSaveLocation=${d}/state`,
    `SlurmdSpoolDir=${d}/spool`,
    `SlurmctldPidFile=${d}/slurmctld.pid`,
    `SlurmdPidFile=${d}/slurmd.pid`,
    `SlurmctldLogFile=${d}/log/slurmctld.log`,
    `SlurmdLogFile=${d}/log/slurmd.log`,
    'SlurmctldDebug=info',
    'SlurmdDebug=info',
    // The node's CPUs and memory are what the test asks for, not what slurmd counts.
    'SlurmdParameters=config_overrides',
    ...(l.cgroups === 'none'
      ? ['ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'JobAcctGatherParams=OverMemoryKill']
      : ['ProctrackType=proctrack/cgroup', 'TaskPlugin=task/cgroup']),
    'JobAcctGatherType=jobacct_gather/linux',
    'JobAcctGatherFrequency=1',
    ...(l.accounting
      ? [
          'AccountingStorageType=accounting_storage/slurmdbd',
          'AccountingStorageHost=127.0.0.1',
          `AccountingStoragePort=${l.ports.dbd}`,
          // The munge socket for slurmdbd connections (unset: the system's /run/munge socket).
          `AccountingStoragePass=${l.mungeSocket}`,
          'AccountingStorageEnforce=associations,limits,qos',
          'PriorityWeightFairshare=10000',
        ]
      : ['AccountingStorageType=accounting_storage/none']),
    'JobCompType=jobcomp/none',
    'SchedulerType=sched/backfill',
    'SchedulerParameters=batch_sched_delay=0,sched_min_interval=0',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core_Memory',
    'DefMemPerCPU=512',
    'GresTypes=gpu',
    `FirstJobId=${l.firstJobId}`,
    `MaxJobId=${l.firstJobId + JOB_ID_BLOCK - 1}`,
    'MaxJobCount=10000',
    'MaxArraySize=10001',
    'MinJobAge=300',
    'KillWait=5',
    'MailProg=/bin/true',
    'PriorityType=priority/multifactor',
    'MpiDefault=none',
    'SwitchType=switch/none',
    'ReturnToService=2',
    `NodeName=${l.nodeName} NodeAddr=127.0.0.1 CPUs=${l.cpus} Sockets=1 CoresPerSocket=${l.cpus} ThreadsPerCore=1 RealMemory=${l.memMiB} State=UNKNOWN`,
    ...l.partitions.map((p) => `PartitionName=${p.name} Nodes=ALL MaxTime=${p.maxTime ?? 'INFINITE'} Default=${p.name === defaultName ? 'YES' : 'NO'} State=UP`),
    '',
  ];
  return lines.join('\n');
}

function cgroupConf(version: 'v1' | 'v2'): string {
  const swap = version === 'v1' ? fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') : true;
  return [
    `CgroupPlugin=cgroup/${version}`,
    // No systemd on these machines: slurmd makes its cgroups itself.
    ...(version === 'v2' ? ['IgnoreSystemd=yes'] : []),
    'ConstrainRAMSpace=yes',
    // Swap would let a job run past --mem instead of ending OUT_OF_MEMORY.
    ...(swap ? ['ConstrainSwapSpace=yes', 'AllowedSwapSpace=0'] : []),
    '',
  ].join('\n');
}

interface Database {
  host: string;
  port: number;
  user: string;
  password: string;
  name: string;
  stop(): Promise<void>;
}

async function openDatabase(clusterName: string): Promise<Database> {
  let url = process.env.KEISAN_TEST_MARIADB_URL;
  let privateServer: { stop(): Promise<void> } | undefined;
  if (!url) {
    const { startThrowawayMariadb } = await import('../../../../scripts/throwaway-mariadb.js');
    const server = await startThrowawayMariadb();
    privateServer = server;
    url = server.url;
  }
  const parsed = new URL(url);
  if (!/^(mysql|mariadb):$/.test(parsed.protocol)) throw new Error(`KEISAN_TEST_MARIADB_URL is not a mysql:// URL: ${url.replace(/:[^:@/]*@/, ':…@')}`);
  const db = {
    host: parsed.hostname,
    port: Number(parsed.port || 3306),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    name: `slurm_${clusterName}`,
  };
  return {
    ...db,
    async stop() {
      if (privateServer) return privateServer.stop();
      // A shared server: drop this cluster's database only.
      spawnSync('mariadb', ['--no-defaults', '-h', db.host, '-P', String(db.port), '-u', db.user, '-e', `DROP DATABASE IF EXISTS \`${db.name}\``], {
        env: { PATH: SBIN_PATH, MYSQL_PWD: db.password },
        timeout: 30_000,
      });
    },
  };
}

function slurmdbdConf(l: Layout, db: Database): string {
  return [
    'AuthType=auth/munge',
    `AuthInfo=socket=${l.mungeSocket}`,
    'DbdHost=localhost',
    'DbdAddr=127.0.0.1',
    `DbdPort=${l.ports.dbd}`,
    'SlurmUser=slurm',
    'DebugLevel=info',
    `LogFile=${l.dir}/log/slurmdbd.log`,
    `PidFile=${l.dir}/slurmdbd.pid`,
    'StorageType=accounting_storage/mysql',
    `StorageHost=${db.host}`,
    `StoragePort=${db.port}`,
    `StorageUser=${db.user}`,
    `StoragePass=${db.password}`,
    `StorageLoc=${db.name}`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------- the cluster

/** Starts a private SLURM cluster (see the top of this file); throws, with the daemons' log, when it cannot. */
export async function startTestSlurm(options: TestSlurmOptions = {}): Promise<TestSlurm> {
  const skip = slurmTestSkip();
  if (skip) throw new Error(`startTestSlurm: ${skip}`);
  checkOptions(options);
  const accountingSkip = slurmAccountingSkip();
  if (options.accounting && accountingSkip) throw new Error(`startTestSlurm: accounting asked for, but ${accountingSkip}`);
  const accounting = options.accounting ?? accountingSkip === undefined;
  const found = hostCgroups();
  if (options.cgroups === true && found === 'none') throw new Error('startTestSlurm: cgroups asked for, but this host has no cgroup hierarchy with the memory controller SLURM could use');
  const wanted = options.cgroups === false ? 'none' : found;
  try {
    return await boot(options, accounting, wanted);
  } catch (error) {
    if (wanted === 'none' || options.cgroups === true) throw error;
    // slurmd could not use this host's cgroups (a container without delegation, say): without them.
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    process.emitWarning(`startTestSlurm: with cgroup/${wanted} the cluster did not start (${reason}); starting it with proctrack/linuxproc`);
    return boot(options, accounting, 'none');
  }
}

async function boot(options: TestSlurmOptions, accounting: boolean, cgroups: 'v1' | 'v2' | 'none'): Promise<TestSlurm> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-'));
  // Every parent of SLURM's and munge's files must not be writable by others; jobs of other users need to reach work/.
  fs.chmodSync(dir, 0o755);
  const slurmUser = idOf('slurm');
  const mungeUser = idOf('munge');
  for (const sub of ['state', 'spool', 'log', 'munge', 'work']) fs.mkdirSync(path.join(dir, sub));
  for (const sub of ['state', 'log']) fs.chownSync(path.join(dir, sub), slurmUser.uid, slurmUser.gid);
  fs.chmodSync(path.join(dir, 'log'), 0o775);
  // munged refuses a socket directory that others cannot search.
  fs.chmodSync(path.join(dir, 'munge'), 0o755);
  fs.chownSync(path.join(dir, 'munge'), mungeUser.uid, mungeUser.gid);
  fs.chmodSync(path.join(dir, 'work'), 0o1777);

  const layout: Layout = {
    dir,
    conf: path.join(dir, 'slurm.conf'),
    clusterName: `kt${randomBytes(4).toString('hex')}`,
    nodeName: os.hostname().split('.')[0] || 'localhost',
    firstJobId: pickFirstJobId(),
    cpus: options.cpus ?? os.availableParallelism(),
    memMiB: options.memMiB ?? Math.floor((os.totalmem() / 1024 ** 2) * 0.8),
    ports: { ctld: await freePort(), slurmd: await freePort(), dbd: await freePort() },
    mungeSocket: path.join(dir, 'munge', 'munge.sock'),
    partitions: options.partitions ?? defaultPartitions(),
    accounting,
    cgroups,
  };
  const settings: SlurmSettings = { conf: layout.conf, pollEvery: 200, partitions: {}, rootAccount: 'keisan', submitConcurrency: 8 };
  const run = slurmRunner(settings);
  const env = { PATH: SBIN_PATH, SLURM_CONF: layout.conf };
  const log = (name: string) => path.join(dir, 'log', name);

  const pids: { munged?: number; dbd?: number; ctld?: number; slurmd?: number } = {};
  let database: Database | undefined;
  const entry: LiveCluster = { dir, firstJobId: layout.firstJobId, pids: () => [pids.ctld, pids.slurmd, pids.dbd, pids.munged] };
  installExitHook();
  live.add(entry);

  const daemon = (program: string, args: string[], out: string): number => {
    const fd = fs.openSync(log(out), 'a');
    // Own process group: a Ctrl-C meant for the tests must not take the daemons down before stop() runs.
    const child = spawn(program, args, { env, cwd: dir, stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${program}${tailOf(log(out))}`);
    return child.pid;
  };

  /** Polls `probe` until it returns true; throws with what it waited for and the logs' tails. */
  const waitUntil = async (what: string, timeoutMs: number, probe: () => Promise<boolean>, logs: string[], watch: Array<[string, number | undefined]>) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const [name, pid] of watch) {
        if (!alive(pid)) throw new Error(`${name} exited while waiting for ${what}${logs.map((l) => tailOf(log(l))).join('')}`);
      }
      if (await probe().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${logs.map((l) => tailOf(log(l))).join('')}`);
      await sleep(200);
    }
  };
  const answers = async (command: Parameters<SlurmRunner>[0], args: string[], test: (out: string) => boolean = () => true) => test((await run(command, args, { timeoutMs: 10_000 })).stdout);

  const startController = async () => {
    // -i: go on past a damaged state file (a SIGKILL mid-write); never -c, which would discard every job.
    pids.ctld = daemon('slurmctld', ['-D', '-i'], 'slurmctld.out');
    await waitUntil('slurmctld to answer scontrol ping', 60_000, () => answers('scontrol', ['ping'], (out) => /is UP/.test(out)), ['slurmctld.out', 'slurmctld.log'], [['slurmctld', pids.ctld]]);
  };

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopCluster());
  const stopCluster = async () => {
    try {
      if (alive(pids.ctld)) {
        try {
          const ids = (await run('squeue', ['-h', '-o', '%A'], { timeoutMs: 10_000 })).stdout.split('\n').filter((l) => l.trim());
          if (ids.length) await run('scancel', ids, { timeoutMs: 20_000 });
          const deadline = Date.now() + 20_000;
          while (Date.now() < deadline && (await run('squeue', ['-h', '-o', '%A'], { timeoutMs: 10_000 })).stdout.trim()) await sleep(200);
        } catch {
          // stopped anyway below
        }
        await run('scontrol', ['shutdown'], { timeoutMs: 10_000 }).catch(() => undefined);
      }
      await Promise.all([ensureGone(pids.ctld, 15_000, null), ensureGone(pids.slurmd, 15_000, null)]);
      await Promise.all([ensureGone(pids.ctld, 5_000), ensureGone(pids.slurmd, 5_000)]);
      for (const pid of [...stepdPids(layout.firstJobId), ...jobProcesses(layout.firstJobId)]) signal(pid, 'SIGKILL');
      for (let waited = 0; waited < 2000 && jobProcesses(layout.firstJobId).length > 0; waited += 50) await sleep(50);
      await ensureGone(pids.dbd, 15_000);
      await ensureGone(pids.munged, 10_000);
      await database?.stop();
      removeJobCgroups(layout.firstJobId);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      live.delete(entry);
    }
  };

  try {
    const key = path.join(dir, 'munge', 'munge.key');
    fs.writeFileSync(key, randomBytes(128), { mode: 0o400 });
    fs.chownSync(key, mungeUser.uid, mungeUser.gid);
    // munged forks into the background and writes its pid file.
    const munged = spawnSync(
      'runuser',
      ['-u', 'munge', '--', 'munged', `--socket=${layout.mungeSocket}`, `--key-file=${key}`, `--pid-file=${dir}/munge/pid`, `--log-file=${dir}/munge/log`, `--seed-file=${dir}/munge/seed`, '--num-threads=4'],
      { env, encoding: 'utf8', timeout: 20_000 },
    );
    if (munged.status !== 0) throw new Error(`munged did not start: ${(munged.stderr || munged.stdout).trim()}${tailOf(path.join(dir, 'munge', 'log'))}`);
    const mungePid = Number(fs.readFileSync(path.join(dir, 'munge', 'pid'), 'utf8').trim());
    pids.munged = Number.isInteger(mungePid) && mungePid > 0 ? mungePid : undefined;

    if (cgroups !== 'none') fs.writeFileSync(path.join(dir, 'cgroup.conf'), cgroupConf(cgroups));
    fs.writeFileSync(layout.conf, slurmConf(layout));

    if (accounting) {
      database = await openDatabase(layout.clusterName);
      const dbdConf = path.join(dir, 'slurmdbd.conf');
      // slurmdbd refuses a configuration with a password that others can read.
      fs.writeFileSync(dbdConf, slurmdbdConf(layout, database), { mode: 0o600 });
      fs.chownSync(dbdConf, slurmUser.uid, slurmUser.gid);
      pids.dbd = daemon('slurmdbd', ['-D'], 'slurmdbd.out');
      await waitUntil('slurmdbd to answer sacctmgr', 60_000, () => answers('sacctmgr', ['-n', '-P', 'show', 'cluster', 'format=cluster']), ['slurmdbd.out', 'slurmdbd.log'], [['slurmdbd', pids.dbd]]);
      await run('sacctmgr', ['-i', 'add', 'cluster', layout.clusterName], { timeoutMs: 30_000 });
    }

    await startController();
    pids.slurmd = daemon('slurmd', ['-D'], 'slurmd.out');
    await waitUntil(
      `node ${layout.nodeName} to be idle`,
      60_000,
      () => answers('sinfo', ['-h', '-N', '-o', '%T'], (out) => out.trim().split('\n').every((s) => s === 'idle')),
      ['slurmd.out', 'slurmd.log', 'slurmctld.log'],
      [['slurmctld', pids.ctld], ['slurmd', pids.slurmd]],
    );
    if (accounting) {
      // slurmctld has registered with slurmdbd (sacct answers from then on).
      await waitUntil(
        'slurmctld to register with slurmdbd',
        60_000,
        () => answers('sacctmgr', ['-n', '-P', 'show', 'cluster', layout.clusterName, 'format=ControlHost'], (out) => out.trim() !== ''),
        ['slurmctld.log', 'slurmdbd.log'],
        [['slurmctld', pids.ctld], ['slurmdbd', pids.dbd]],
      );
      await run('sacct', ['-n', '-X', '-a'], { timeoutMs: 10_000 });
    }
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }

  return {
    dir,
    conf: layout.conf,
    work: path.join(dir, 'work'),
    clusterName: layout.clusterName,
    firstJobId: layout.firstJobId,
    settings,
    run,
    nodeName: layout.nodeName,
    cpus: layout.cpus,
    memMiB: layout.memMiB,
    accounting,
    cgroups,
    async restartController(how = 'SIGTERM') {
      if (stopping) throw new Error('restartController: the cluster is stopped');
      signal(pids.ctld, how);
      if (!(await waitGone(pids.ctld, 30_000))) throw new Error(`restartController: slurmctld (pid ${pids.ctld}) did not exit within 30 s of ${how}${tailOf(log('slurmctld.log'))}`);
      // Its script helper (slurmscriptd) follows it out; the pid file's lock goes with them.
      await startController();
      await waitUntil('sinfo to answer after the restart', 30_000, () => answers('sinfo', ['-h', '-N', '-o', '%T']), ['slurmctld.log'], [['slurmctld', pids.ctld]]);
    },
    async stateSaved(sinceMs = Date.now()) {
      const file = path.join(dir, 'state', 'job_state');
      const deadline = Date.now() + 30_000;
      for (;;) {
        const mtime = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
        if (mtime > sinceMs) return;
        if (Date.now() > deadline) throw new Error(`slurmctld did not save its job state within 30 s${tailOf(log('slurmctld.log'))}`);
        await sleep(100);
      }
    },
    stop,
  };
}
