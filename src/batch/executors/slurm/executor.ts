/**
 * The SLURM executor (batch.executor: slurm): Keisan hands each job to SLURM with sbatch, as the
 * job's owner, and follows it with squeue (every batch.slurm.pollEvery), its end with scontrol and
 * sacct. SLURM schedules; Keisan keeps its rules, its records, `why`, notices and accounting.
 *
 * Never losing a job: every job carries the comment `keisan:<instance>:<keisan id>`, so a job
 * submitted just before a crash (its SLURM id not yet stored) is found again by `findSubmitted`;
 * while slurmctld cannot be reached nothing is concluded (polls are skipped, not read as ends);
 * a job SLURM no longer lists is looked up in scontrol and sacct before it is called lost.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SlurmSettings } from '../../../lib/config.ts';
import { invalidInput, KeisanError } from '../../../lib/errors.ts';
import { formatDuration, formatSize } from '../../../lib/units.ts';
import type { ClusterExecutor, ClusterJobChange, ClusterJobEnd, ClusterPendingReason, ClusterSubmission, EndState, ExecutorCapabilities } from '../../executor.ts';
import type { NodeResources } from '../../model.ts';
import {
  jobComment,
  jobIdFromComment,
  keisanState,
  parseExitCode,
  parseEpoch,
  parseSacct,
  parseScontrolJob,
  parseSinfo,
  parseSqueue,
  SACCT_FORMAT,
  signalName,
  SINFO_FORMAT,
  SQUEUE_FORMAT,
  type SacctJob,
  type SqueueRow,
} from './parse.ts';
import { SlurmCommandError, slurmRunner, type SlurmRunner } from './run.ts';
import { slurmReasonWords } from './why.ts';

export interface SlurmLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface SlurmExecutorOptions {
  settings: SlurmSettings;
  /** Tells this Keisan's jobs from others' in the cluster (the comment keisan:<instance>:<id>). */
  instance: string;
  logger: SlurmLogger;
  run?: SlurmRunner;
  now?: () => number;
}

/** What `scontrol show config` says about the cluster, read once at start. */
export interface SlurmClusterConfig {
  clusterName: string;
  accounting: boolean;
  enforce: string;
  proctrack: string;
  taskPlugin: string;
  jobAcctGather: string;
  overMemoryKill: boolean;
  version: string;
}

interface Followed {
  jobId: number;
  externalId: string;
  state: 'pending' | 'running';
  node: string | null;
  startedAt: number | null;
  /** Polls since the job was last seen in squeue, or since it was seen ended while sacct had no final record yet. */
  missingPolls: number;
  endSeen: { row: SqueueRow | null; since: number } | null;
  /** The time limit it was submitted with, for the words of a timeout. */
  timeLimitMs: number | null;
  memBytes: number | null;
}

/** How long an ended job's CPU time and peak memory are waited for in sacct (slurmdbd records an end a moment after slurmctld). */
const SACCT_WAIT_MS = 5_000;
/** A followed job that neither squeue, scontrol nor sacct lists for this many polls is lost. */
const LOST_AFTER_POLLS = 3;

export class SlurmExecutor implements ClusterExecutor {
  readonly kind = 'cluster' as const;
  readonly system = 'SLURM';
  private readonly run: SlurmRunner;
  private readonly now: () => number;
  private readonly followed = new Map<string, Followed>();
  private readonly byJob = new Map<number, string>();
  private readonly reasons = new Map<number, ClusterPendingReason>();
  private readonly changeListeners: Array<(change: ClusterJobChange) => void> = [];
  private readonly endListeners: Array<(end: ClusterJobEnd) => void> = [];
  private readonly vanishedListeners: Array<(job: { jobId: number; externalId: string }) => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | null = null;
  private closed = false;
  private unreachableSince: number | null = null;
  private config: SlurmClusterConfig | null = null;

  get submitConcurrency(): number {
    return this.o.settings.submitConcurrency;
  }

  constructor(private readonly o: SlurmExecutorOptions) {
    this.run = o.run ?? slurmRunner(o.settings);
    this.now = o.now ?? Date.now;
  }

  /** Reads the cluster's configuration (and so checks that slurmctld answers) and starts following. */
  async open(): Promise<SlurmClusterConfig> {
    this.config = await this.readConfig();
    this.schedulePoll();
    return this.config;
  }

  private async readConfig(): Promise<SlurmClusterConfig> {
    const { stdout } = await this.run('scontrol', ['show', 'config']);
    const value = (key: string): string => new RegExp(`^${key}\\s*=\\s*(.*)$`, 'm').exec(stdout)?.[1]?.trim() ?? '';
    const storage = value('AccountingStorageType');
    return {
      clusterName: value('ClusterName'),
      accounting: storage !== '' && storage !== 'accounting_storage/none',
      enforce: value('AccountingStorageEnforce'),
      proctrack: value('ProctrackType'),
      taskPlugin: value('TaskPlugin'),
      jobAcctGather: value('JobAcctGatherType'),
      overMemoryKill: /OverMemoryKill/i.test(value('JobAcctGatherParams')),
      version: value('SLURM_VERSION'),
    };
  }

  get clusterConfig(): SlurmClusterConfig | null {
    return this.config;
  }

  capabilities(): ExecutorCapabilities {
    const c = this.config;
    const enforced = ['wall time (SLURM --time)', 'CPUs and GPUs (SLURM allocation)'];
    const notEnforced: string[] = [];
    if (c && (c.taskPlugin.includes('cgroup') || c.overMemoryKill)) enforced.push(`memory (${c.taskPlugin.includes('cgroup') ? 'task/cgroup' : 'jobacct_gather OverMemoryKill'})`);
    else notEnforced.push('memory: SLURM runs without task/cgroup and without OverMemoryKill, so --mem only reserves');
    if (c && !c.accounting) notEnforced.push('accounts and QOS limits: SLURM has no accounting storage (slurmdbd), so keisan admin slurm sync cannot apply them and jobs carry no CPU time');
    // The nodes' cgroups are SLURM's (their version is the nodes', not known here): Keisan makes none.
    if (c?.proctrack.includes('cgroup')) enforced.push("each job in SLURM's own cgroups (proctrack/cgroup)");
    return { cgroups: 'none', enforced, notEnforced, runsAsUsers: true };
  }

  onChange(listener: (change: ClusterJobChange) => void): void {
    this.changeListeners.push(listener);
  }

  onEnded(listener: (end: ClusterJobEnd) => void): void {
    this.endListeners.push(listener);
  }

  onVanished(listener: (job: { jobId: number; externalId: string }) => void): void {
    this.vanishedListeners.push(listener);
  }

  pendingReason(jobId: number): ClusterPendingReason | undefined {
    return this.reasons.get(jobId);
  }

  follow(jobs: Array<{ jobId: number; externalId: string; state?: 'pending' | 'running'; startedAt?: number | null; node?: string | null; timeLimitMs?: number; memBytes?: number }>): void {
    for (const job of jobs) {
      this.followed.set(job.externalId, {
        jobId: job.jobId,
        externalId: job.externalId,
        state: job.state ?? 'pending',
        node: job.node ?? null,
        startedAt: job.startedAt ?? null,
        missingPolls: 0,
        endSeen: null,
        timeLimitMs: job.timeLimitMs ?? null,
        memBytes: job.memBytes ?? null,
      });
      this.byJob.set(job.jobId, job.externalId);
    }
  }

  // ------------------------------------------------------------------ submitting

  /** sbatch's arguments for a job (the script comes on stdin, or from a file when it has arguments). */
  sbatchArgs(job: ClusterSubmission): string[] {
    const partition = this.o.settings.partitions[job.queue] ?? job.queue;
    const args = [
      '--parsable',
      '--ignore-pbs',
      '--export=ALL',
      `--comment=${jobComment(this.o.instance, job.jobId)}`,
      `--job-name=${job.name}`,
      `--partition=${partition}`,
      `--qos=${job.queue}`,
      `--account=${job.account}`,
      '--nodes=1',
      `--ntasks=${job.ntasks}`,
      `--cpus-per-task=${job.cpusPerTask}`,
      `--mem=${Math.max(1, Math.ceil(job.memBytes / 1024 ** 2))}M`,
      `--time=${Math.max(1, Math.ceil(job.timeLimitMs / 60_000))}`,
      `--chdir=${job.cwd}`,
      `--output=${job.stdoutPath}`,
      `--error=${job.stderrPath}`,
      '--kill-on-invalid-dep=yes',
    ];
    if (job.appendOutput) args.push('--open-mode=append');
    if (job.gpus > 0) args.push(`--gres=gpu:${job.gpuType ? `${job.gpuType}:` : ''}${job.gpus}`);
    if (job.held) args.push('--hold');
    if (job.beginAt !== null && job.beginAt > this.now()) args.push(`--begin=now+${Math.ceil((job.beginAt - this.now()) / 1000)}`);
    if (job.dependencies.length) {
      const byType = new Map<string, string[]>();
      for (const d of job.dependencies) {
        const kind = d.type === 'ok' ? 'afterok' : d.type === 'notok' ? 'afternotok' : 'afterany';
        byType.set(kind, [...(byType.get(kind) ?? []), d.externalId]);
      }
      args.push(`--dependency=${[...byType].map(([kind, ids]) => `${kind}:${ids.join(':')}`).join(',')}`);
    }
    return args;
  }

  async check(job: ClusterSubmission): Promise<void> {
    // What may only be judged once the job is handed over (its dependencies, hold, begin time) is left out.
    const args = ['--test-only', ...this.sbatchArgs({ ...job, dependencies: [], held: false, beginAt: null }).filter((a) => a !== '--parsable')];
    const asOwner = process.getuid?.() === 0 && job.user.uid !== 0 ? { uid: job.user.uid, gid: job.user.gid } : {};
    try {
      await this.run('sbatch', args, { input: sbatchScript(job.script), env: job.env, jobEnvironment: true, cwd: submitCwd(job.submitDir), ...asOwner });
    } catch (error) {
      if (error instanceof SlurmCommandError) throw submitError(error, job, this.o.settings.partitions[job.queue] ?? job.queue);
      throw error;
    }
  }

  async submit(job: ClusterSubmission): Promise<string> {
    const args = this.sbatchArgs(job);
    const script = sbatchScript(job.script);
    let scriptDir: string | null = null;
    try {
      if (job.args.length) {
        // sbatch takes the script's arguments only after a script file: one the owner may read.
        scriptDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-sbatch-'));
        fs.chmodSync(scriptDir, 0o711);
        const file = path.join(scriptDir, 'script');
        fs.writeFileSync(file, script, { mode: 0o600 });
        if (process.getuid?.() === 0) fs.chownSync(file, job.user.uid, job.user.gid);
        args.push(file, ...job.args);
      }
      const asOwner = process.getuid?.() === 0 && job.user.uid !== 0 ? { uid: job.user.uid, gid: job.user.gid } : {};
      const { stdout } = await this.run('sbatch', args, { input: job.args.length ? '' : script, env: job.env, jobEnvironment: true, cwd: submitCwd(job.submitDir), ...asOwner });
      const externalId = stdout.trim().split(';')[0]!;
      if (!/^\d+$/.test(externalId)) throw new KeisanError('UNAVAILABLE', `sbatch answered '${stdout.trim().slice(0, 200)}' instead of a job id`);
      this.follow([{ jobId: job.jobId, externalId, timeLimitMs: job.timeLimitMs, memBytes: job.memBytes }]);
      return externalId;
    } catch (error) {
      if (error instanceof SlurmCommandError) throw submitError(error, job, this.o.settings.partitions[job.queue] ?? job.queue);
      throw error;
    } finally {
      if (scriptDir) fs.rmSync(scriptDir, { recursive: true, force: true });
    }
  }

  async cancel(externalIds: string[]): Promise<void> {
    for (let i = 0; i < externalIds.length; i += 500) await this.control('scancel', externalIds.slice(i, i + 500));
  }

  async hold(externalId: string): Promise<void> {
    // uhold: a hold the job's owner may release (JobHeldUser). A plain `hold` from root is an
    // administrator's hold (JobHeldAdmin) that only an operator may release in SLURM itself.
    await this.control('scontrol', ['uhold', externalId]);
  }

  async release(externalId: string): Promise<void> {
    await this.control('scontrol', ['release', externalId]);
  }

  async requeue(externalId: string): Promise<void> {
    await this.control('scontrol', ['requeue', externalId]);
  }

  private async control(command: 'scancel' | 'scontrol', args: string[]): Promise<void> {
    try {
      await this.run(command, args);
    } catch (error) {
      if (error instanceof SlurmCommandError) {
        if (error.controllerUnreachable) throw new KeisanError('UNAVAILABLE', `SLURM's controller does not answer (${command} ${args.join(' ')}): try again in a moment`);
        throw new KeisanError('CONFLICT', `SLURM refused ${command} ${args.join(' ')}: ${error.stderr.trim() || error.message}`);
      }
      throw error;
    }
  }

  async findSubmitted(jobIds: number[]): Promise<Map<number, string>> {
    const wanted = new Set(jobIds);
    const found = new Map<number, string>();
    if (wanted.size === 0) return found;
    const { stdout } = await this.run('squeue', ['-a', '-t', 'all', '--noheader', '-o', SQUEUE_FORMAT]);
    for (const row of parseSqueue(stdout)) {
      const id = jobIdFromComment(row.comment, this.o.instance);
      if (id !== null && wanted.has(id)) found.set(id, row.id);
    }
    if (this.config?.accounting) {
      // Ended and purged from slurmctld's memory already: sacct still has it.
      try {
        const since = new Date(this.now() - 7 * 86_400_000).toISOString().slice(0, 19);
        const { stdout: text } = await this.run('sacct', ['-a', '-X', '-n', '-P', `--starttime=${since}`, `--format=${SACCT_FORMAT}`]);
        for (const job of parseSacct(text)) {
          const id = jobIdFromComment(job.comment, this.o.instance);
          if (id !== null && wanted.has(id) && !found.has(id)) found.set(id, job.id);
        }
      } catch (error) {
        this.o.logger.warn({ err: error }, 'slurm: sacct could not be asked about jobs submitted before the restart');
      }
    }
    return found;
  }

  async nodes(): Promise<NodeResources[]> {
    const { stdout } = await this.run('sinfo', ['-N', '-h', '-o', SINFO_FORMAT]);
    return parseSinfo(stdout).map((n) => ({
      name: n.name,
      cpus: n.cpus,
      memBytes: n.memBytes,
      gpus: Array.from({ length: n.gpus }, (_, index) => ({ index, uuid: '', type: 'gpu', memBytes: 0 })),
      accepting: !/down|drain|fail|maint|unknown|not_responding|\*/i.test(n.state),
    }));
  }

  // ------------------------------------------------------------------ following

  private schedulePoll(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .catch((error: unknown) => this.o.logger.error({ err: error }, 'slurm: following jobs failed this time'))
        .finally(() => {
          this.polling = null;
          this.schedulePoll();
        });
    }, this.o.settings.pollEvery);
    this.timer.unref();
  }

  /** One look at the cluster: starts, requeues, pending reasons, ends. Exposed for tests. */
  async poll(): Promise<void> {
    if (this.followed.size === 0) return;
    let rows: SqueueRow[];
    try {
      rows = parseSqueue((await this.run('squeue', ['-a', '-t', 'all', '--noheader', '-o', SQUEUE_FORMAT])).stdout);
    } catch (error) {
      if (error instanceof SlurmCommandError && error.controllerUnreachable) {
        if (this.unreachableSince === null) {
          this.unreachableSince = this.now();
          this.o.logger.warn({ err: error.message }, "slurm: SLURM's controller does not answer; following resumes when it does (no job is concluded meanwhile)");
        }
        return;
      }
      throw error;
    }
    if (this.unreachableSince !== null) {
      this.o.logger.info({ downFor: formatDuration(this.now() - this.unreachableSince) }, "slurm: SLURM's controller answers again");
      this.unreachableSince = null;
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    const positions = pendingPositions(rows);
    const toConclude: Followed[] = [];
    for (const job of this.followed.values()) {
      // A killed slurmctld may hand a lost job's id out again: only a row with this job's comment is this job.
      const listed = byId.get(job.externalId) ?? null;
      const row = listed && jobIdFromComment(listed.comment, this.o.instance) === job.jobId ? listed : null;
      if (!row) {
        job.missingPolls++;
        toConclude.push(job);
        continue;
      }
      job.missingPolls = 0;
      const state = keisanState(row.state);
      if (state === 'pending') {
        this.reasons.set(job.jobId, { externalId: job.externalId, code: row.reason, words: slurmReasonWords(row.reason), estimatedStart: row.start !== null && row.start > this.now() ? row.start : null, position: positions.get(row.id) ?? 1 });
        if (job.state === 'running') {
          job.state = 'pending';
          job.node = null;
          job.startedAt = null;
          this.emitChange(job);
        }
      } else if (state === 'running') {
        this.reasons.delete(job.jobId);
        if (job.state !== 'running') {
          job.state = 'running';
          job.node = row.nodes;
          job.startedAt = row.start ?? this.now();
          this.emitChange(job);
        }
      } else {
        this.reasons.delete(job.jobId);
        job.endSeen ??= { row, since: this.now() };
        job.endSeen.row = row;
        toConclude.push(job);
      }
    }
    if (toConclude.length) await this.conclude(toConclude);
  }

  private emitChange(job: Followed): void {
    const change: ClusterJobChange = { jobId: job.jobId, externalId: job.externalId, state: job.state, node: job.node, startedAt: job.startedAt };
    for (const listener of this.changeListeners) listener(change);
  }

  /** Jobs squeue shows ended, or no longer shows: their end from scontrol and sacct. */
  private async conclude(jobs: Followed[]): Promise<void> {
    const accounted = new Map<string, SacctJob>();
    if (this.config?.accounting) {
      try {
        const { stdout } = await this.run('sacct', ['-n', '-P', '-j', jobs.map((j) => j.externalId).join(','), `--format=${SACCT_FORMAT}`]);
        const ours = new Map(jobs.map((j) => [j.externalId, j.jobId]));
        // slurmdbd keeps comments only with AccountingStoreFlags=job_comment: a record without one is taken as this job's.
        for (const job of parseSacct(stdout)) if (job.comment === null || jobIdFromComment(job.comment, this.o.instance) === ours.get(job.id)) accounted.set(job.id, job);
      } catch (error) {
        this.o.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'slurm: sacct did not answer; ends are taken from scontrol');
      }
    }
    for (const job of jobs) {
      const record = accounted.get(job.externalId);
      const finalInSacct = record && !['pending', 'running'].includes(keisanState(record.state));
      if (job.endSeen && this.config?.accounting && !finalInSacct && this.now() - job.endSeen.since < SACCT_WAIT_MS) continue;
      let end: (ClusterJobEnd) | null = null;
      if (finalInSacct) end = this.endFromSacct(job, record);
      else {
        const shown = await this.scontrolOwnJob(job);
        if (shown && !['pending', 'running'].includes(keisanState(shown.JobState ?? ''))) end = this.endFromScontrol(job, shown);
        else if (shown) {
          // squeue missed it for a moment (a restarting controller); scontrol still has it running or pending.
          job.missingPolls = 0;
          continue;
        } else if (job.endSeen?.row) end = this.endFromSqueue(job, job.endSeen.row);
        else if (job.missingPolls >= LOST_AFTER_POLLS && job.state === 'pending') {
          // Never started, and SLURM has no trace of it (slurmctld came back from state saved before the job was): it never ran, so it may go again.
          this.forget(job);
          this.o.logger.warn({ job: job.jobId, slurmJob: job.externalId }, 'slurm: SLURM lost a job it had not started yet (its controller restarted from older saved state); Keisan hands it over again');
          for (const listener of this.vanishedListeners) listener({ jobId: job.jobId, externalId: job.externalId });
          continue;
        } else if (job.missingPolls >= LOST_AFTER_POLLS) {
          end = { jobId: job.jobId, externalId: job.externalId, state: 'node-fail', exitCode: null, signal: null, endedAt: this.now(), startedAt: job.startedAt, node: job.node, cpuSeconds: null, maxRssBytes: null, reason: `SLURM no longer knows job ${job.externalId} and kept no record of how it ended` };
        }
      }
      if (!end) continue;
      this.forget(job);
      for (const listener of this.endListeners) listener(end);
    }
  }

  private forget(job: Followed): void {
    this.followed.delete(job.externalId);
    this.byJob.delete(job.jobId);
    this.reasons.delete(job.jobId);
  }

  private async scontrolJob(externalId: string): Promise<Record<string, string> | null> {
    try {
      const { stdout } = await this.run('scontrol', ['show', 'job', '-o', externalId]);
      const fields = parseScontrolJob(stdout);
      return fields.JobId ? fields : null;
    } catch (error) {
      if (error instanceof SlurmCommandError && /Invalid job id/i.test(error.stderr)) return null;
      throw error;
    }
  }

  /** scontrol's record of this job, or null when SLURM has none (or another job now has its id). */
  private async scontrolOwnJob(job: Followed): Promise<Record<string, string> | null> {
    const fields = await this.scontrolJob(job.externalId);
    return fields && jobIdFromComment(fields.Comment ?? null, this.o.instance) === job.jobId ? fields : null;
  }

  private endFromSacct(job: Followed, record: SacctJob): ClusterJobEnd {
    const state = keisanState(record.state) as EndState;
    return {
      jobId: job.jobId,
      externalId: job.externalId,
      state,
      exitCode: record.signal !== null ? null : record.exitCode,
      signal: signalName(record.signal),
      endedAt: record.end ?? this.now(),
      startedAt: record.start ?? job.startedAt,
      node: record.nodes ?? job.node,
      cpuSeconds: record.cpuSeconds,
      maxRssBytes: record.maxRssBytes,
      reason: endReason(state, record.state, job, null),
    };
  }

  private endFromScontrol(job: Followed, fields: Record<string, string>): ClusterJobEnd {
    const state = keisanState(fields.JobState ?? '') as EndState;
    const { exitCode, signal } = parseExitCode(fields.ExitCode ?? '');
    return {
      jobId: job.jobId,
      externalId: job.externalId,
      state,
      exitCode: signal !== null ? null : exitCode,
      signal: signalName(signal),
      endedAt: parseEpoch(fields.EndTime ?? '') ?? this.now(),
      startedAt: parseEpoch(fields.StartTime ?? '') ?? job.startedAt,
      node: (fields.NodeList && fields.NodeList !== '(null)' ? fields.NodeList : null) ?? job.node,
      cpuSeconds: null,
      maxRssBytes: null,
      reason: endReason(state, fields.JobState ?? '', job, fields.Reason ?? null),
    };
  }

  private endFromSqueue(job: Followed, row: SqueueRow): ClusterJobEnd {
    const state = keisanState(row.state) as EndState;
    return { jobId: job.jobId, externalId: job.externalId, state, exitCode: null, signal: null, endedAt: row.end ?? this.now(), startedAt: row.start ?? job.startedAt, node: row.nodes ?? job.node, cpuSeconds: null, maxRssBytes: null, reason: endReason(state, row.state, job, row.reason) };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }
}

/** The script as sbatch gets it: a shebang (sbatch requires one), and the user's #SBATCH lines turned into comments. */
export function sbatchScript(script: string): string {
  // Keisan already read the directives (and expanded arrays into tasks): sbatch must not apply them again.
  const body = script.replace(/^([ \t]*)#SBATCH/gm, '$1##SBATCH');
  return body.startsWith('#!') ? body : `#!/bin/sh\n${body}`;
}

/** sbatch runs in the submit directory (SLURM_SUBMIT_DIR), or in / when this host cannot see it. */
function submitCwd(dir: string): string {
  return fs.existsSync(dir) ? dir : '/';
}

/** 1-based places of pending jobs within their partition, in squeue's order (partition, then priority). */
function pendingPositions(rows: SqueueRow[]): Map<string, number> {
  const positions = new Map<string, number>();
  let place = 0;
  for (const row of rows) {
    if (keisanState(row.state) !== 'pending') continue;
    positions.set(row.id, ++place);
  }
  return positions;
}

function endReason(state: EndState | 'preempted', slurmState: string, job: Followed, slurmReason: string | null): string | null {
  switch (state) {
    case 'timeout':
      return job.timeLimitMs ? `ran past its time limit of ${formatDuration(job.timeLimitMs)} (SLURM ${slurmState})` : `ran past its time limit (SLURM ${slurmState})`;
    case 'out-of-memory':
      return job.memBytes ? `used more than its ${formatSize(job.memBytes)} memory limit (SLURM ${slurmState})` : `ran out of memory (SLURM ${slurmState})`;
    case 'cancelled':
      return `cancelled in SLURM (${slurmState.toLowerCase()})`;
    case 'node-fail':
      return `its node failed (SLURM ${slurmState})`;
    case 'failed':
      return slurmReason && slurmReason !== 'None' && slurmReason !== 'NonZeroExitCode' ? `${slurmReasonWords(slurmReason)} (SLURM ${slurmReason})` : null;
    default:
      return null;
  }
}

/** sbatch's refusal in words a user can act on (INVALID_INPUT), or UNAVAILABLE when SLURM does not answer. */
function submitError(error: SlurmCommandError, job: ClusterSubmission, partition: string): KeisanError {
  const said = error.stderr.replace(/sbatch: error: /g, '').trim().split('\n').filter(Boolean);
  const text = said.join(' / ') || error.message;
  if (error.controllerUnreachable) return new KeisanError('UNAVAILABLE', `SLURM's controller does not answer, so job ${job.jobId} stays pending in Keisan and is handed over when it does (${text})`);
  if (/Requested node configuration is not available|Invalid generic resource|gres/i.test(text) && job.gpus > 0) {
    return invalidInput(`no node of the SLURM cluster in partition ${partition} has ${job.gpus} ${job.gpuType ?? ''} GPU${job.gpus > 1 ? 's' : ''} to give: ask for no GPUs, or for a queue whose nodes have them (SLURM said: ${text})`.replace('  ', ' '));
  }
  if (/Memory specification can not be satisfied/i.test(text)) return invalidInput(`no node of partition ${partition} has ${formatSize(job.memBytes)} of memory for one job: ask for less (SLURM said: ${text})`);
  if (/Requested node configuration is not available/i.test(text)) return invalidInput(`no node of partition ${partition} has ${job.cpus} CPU${job.cpus === 1 ? '' : 's'} and ${formatSize(job.memBytes)} of memory for one job: ask for less (SLURM said: ${text})`);
  if (/invalid partition/i.test(text)) return invalidInput(`queue ${job.queue} has no SLURM partition '${partition}': an operator adds it to slurm.conf (keisan admin slurm sync prints the line) or maps the queue in batch.slurm.partitions (SLURM said: ${text})`);
  if (/Invalid account/i.test(text)) return invalidInput(`subgroup ${job.account} has no SLURM account for ${job.user.name}: an operator runs keisan admin slurm sync (SLURM said: ${text})`);
  if (/Invalid qos/i.test(text)) return invalidInput(`queue ${job.queue} has no SLURM QOS your account may use: an operator runs keisan admin slurm sync (SLURM said: ${text})`);
  if (/time limit/i.test(text)) return invalidInput(`the time limit ${formatDuration(job.timeLimitMs)} is more than partition ${partition} allows (SLURM said: ${text})`);
  if (/Invalid user id|uid/i.test(text)) return invalidInput(`SLURM does not know ${job.user.name} (uid ${job.user.uid}) on its controller: the user must exist there (an LDAP or passwd entry) (SLURM said: ${text})`);
  return invalidInput(`SLURM refused job ${job.jobId}: ${text}`);
}
