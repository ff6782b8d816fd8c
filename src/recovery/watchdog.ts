import { writeFileSync } from 'node:fs';
import { constants, hostname, setPriority } from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { CgroupTree, detectCgroupLayout } from '../batch/executors/local/cgroups.ts';
import { defaultSettings, type Settings } from '../lib/config.ts';
import { untilSignal } from '../lib/process.ts';
import { DaemonLink } from '../ops/daemon-client.ts';
import type { JobTree } from './job-tree.ts';
import { localJobRecords } from './job-records.ts';
import { RecoveryLoop } from './loop.ts';
import { EventReporter } from './reporter.ts';
import { RULES } from './model.ts';
import type { JobInfo } from './sampler.ts';
import { findSlurmRoot } from './slurm-jobs.ts';
import { openSlurmJobs } from './slurm-node.ts';
import { resolveRecoverySettings } from './settings.ts';

export interface WatchdogOptions {
  serverUrl: string;
  nodeSecret: string;
  /** keisan.yaml's settings (default: the defaults) and the data directory (evidence goes under it). */
  settings?: Settings;
  dataDir?: string;
}

export interface RecoveryStart {
  loop: RecoveryLoop | null;
  reporter: EventReporter | null;
  /** One line: what is watched and in which mode, or why nothing is. */
  summary: string;
}

/**
 * Opens the jobs' cgroup parent (settings.batch.cgroupParent) without changing any limit and
 * starts the detection-and-action loop on it. On a SLURM node (batch.executor: slurm) it watches
 * SLURM's job cgroups instead (slurm-jobs.ts). Without root or cgroups, or with recovery
 * disabled, no loop runs (the watchdog still heartbeats) and the summary says why.
 */
export function startRecovery(options: WatchdogOptions, logger: Logger): RecoveryStart {
  const settings = options.settings ?? defaultSettings();
  const recovery = resolveRecoverySettings(settings.recovery, options.dataDir ?? process.cwd());
  const parent = settings.batch.cgroupParent;
  const layout = detectCgroupLayout();
  const slurmRoot = findSlurmRoot(layout);
  // Only keisan.yaml decides: a host may run a local Keisan and a slurmd side by side (these test machines do), and
  // which jobs the watchdog may kill must not depend on whether some slurmd made its cgroups yet.
  const slurm = settings.batch.executor === 'slurm';
  if (!recovery.enabled) return { loop: null, reporter: null, summary: 'recovery is disabled (recovery.enabled: false): no detection, no actions' };
  if (process.platform !== 'linux') return { loop: null, reporter: null, summary: 'recovery needs Linux cgroups: no detection, no actions' };
  if (process.getuid?.() !== 0) return { loop: null, reporter: null, summary: `recovery needs root to read and act on the job cgroups under '${parent}' (running as uid ${process.getuid?.()}): no detection, no actions` };
  let tree: JobTree;
  let jobInfo: (jobId: number) => JobInfo | undefined;
  let watched: string;
  try {
    if (slurm) {
      // A SLURM node: SLURM's job cgroups (owners and limits from the cgroups themselves), or its process trees under proctrack/linuxproc.
      const jobs = openSlurmJobs({ conf: settings.batch.slurm.conf, layout });
      tree = jobs.tree;
      jobInfo = jobs.jobInfo;
      watched = jobs.description;
    } else {
      const local = CgroupTree.open({ root: parent, parentMemBytes: null, parentPidsMax: null });
      tree = local;
      // The local executor's records (what each job asked for, its owner): where `keisan server` keeps them.
      jobInfo = localJobRecords({ jobsDir: path.join(options.dataDir ?? process.cwd(), 'jobs', 'jobs') });
      watched = `the jobs under cgroup '${parent}' (${local.mode}${local.mode === 'v1' && local.layout.unified ? ' + cgroup2 side' : ''})${slurmRoot !== null ? ` — not SLURM's job cgroups '${slurmRoot}' found here (batch.executor: slurm in this node's keisan.yaml watches those instead)` : ''}`;
    }
  } catch (error) {
    return { loop: null, reporter: null, summary: `recovery cannot use the job cgroups ${slurm ? 'of SLURM' : `under '${parent}'`}: ${error instanceof Error ? error.message : String(error)}: no detection, no actions` };
  }
  const reporter = new EventReporter({ serverUrl: options.serverUrl, nodeSecret: options.nodeSecret, logger, maxQueued: recovery.eventQueue });
  const loop = new RecoveryLoop({ tree, settings: recovery, host: hostname(), reporter, logger, jobInfo });
  loop.start();
  const modes = RULES.filter((r) => r !== 'kernel-oom' && (r !== 'login-cpu-hog' || recovery.loginHost)).map((r) => `${r} ${recovery.modeOf(r)}${recovery.modeOf(r) === 'automatic' ? ` (${recovery.actionFor(r, r === 'login-cpu-hog' ? 'warn' : 'act')}${r === 'login-cpu-hog' ? '→renice→stop' : ''})` : ''}`);
  const summary = `recovery watches ${watched} at ${recovery.sampleHz} Hz${recovery.loginHost ? ' and the login host\'s processes at 1 Hz' : ''}; rules: ${modes.join(', ')}; evidence in ${recovery.evidenceDir}`;
  return { loop, reporter, summary };
}

export interface Protections {
  /** The nice value the watchdog runs at, and whether raising its priority worked. */
  priority: { wanted: number; got: boolean; reason?: string };
  /** Whether the kernel's OOM killer was told to spare the watchdog. */
  oomScoreAdj: { wanted: number; got: boolean; reason?: string };
}

/**
 * Raises the watchdog's own priority and lowers its OOM score where permitted. Both need
 * privileges (CAP_SYS_NICE, CAP_SYS_RESOURCE) that a container's root may lack: the result
 * says what could not be had, so the operator knows how protected the recoverer is.
 */
export function protectSelf(): Protections {
  const protections: Protections = { priority: { wanted: -10, got: false }, oomScoreAdj: { wanted: -1000, got: false } };
  try {
    setPriority(0, constants.priority.PRIORITY_HIGH);
    protections.priority.got = true;
  } catch (error) {
    protections.priority.reason = error instanceof Error ? error.message : String(error);
  }
  try {
    writeFileSync('/proc/self/oom_score_adj', String(protections.oomScoreAdj.wanted));
    protections.oomScoreAdj.got = true;
  } catch (error) {
    protections.oomScoreAdj.reason = `${error instanceof Error ? error.message : String(error)} (lowering it needs CAP_SYS_RESOURCE)`;
  }
  return protections;
}

/**
 * `keisan watchdog`: one per node, a small process of its own, started before the others.
 * It protects itself, reports a heartbeat and runs the recovery loop (startRecovery).
 */
export async function runWatchdogProcess(options: WatchdogOptions): Promise<void> {
  const logger = pino({ name: 'keisan-watchdog', level: process.env.KEISAN_LOG_LEVEL ?? 'info' });
  const protections = protectSelf();
  const missing = [
    ...(protections.priority.got ? [] : [`higher CPU priority (${protections.priority.reason})`]),
    ...(protections.oomScoreAdj.got ? [] : [`OOM-killer protection (${protections.oomScoreAdj.reason})`]),
  ];
  if (missing.length) logger.warn(`keisan watchdog runs without ${missing.join(' and ')}`);
  const recovery = startRecovery(options, logger);
  if (recovery.loop) logger.info(recovery.summary);
  else logger.warn(recovery.summary);
  const link = new DaemonLink({
    kind: 'watchdog',
    serverUrl: options.serverUrl,
    nodeSecret: options.nodeSecret,
    logger,
    info: () => ({
      priorityRaised: protections.priority.got,
      oomProtected: protections.oomScoreAdj.got,
      recovery: recovery.loop !== null,
      recoveryTicks: recovery.loop?.ticks ?? 0,
      recoveryEventsQueued: recovery.reporter?.pending ?? 0,
    }),
  });
  link.start();
  logger.info({ pid: process.pid, server: options.serverUrl }, 'keisan watchdog started');
  await untilSignal(logger, async () => {
    await recovery.loop?.stop();
    if (recovery.reporter?.pending) logger.warn(`${recovery.reporter.pending} recovery events not delivered to the server`);
    recovery.reporter?.stop();
    await link.stop();
  });
}
