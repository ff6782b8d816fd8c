/**
 * Runs SLURM's own commands (sbatch, squeue, sacct, sacctmgr, scontrol, scancel, sinfo) for the
 * SLURM executor, `keisan admin slurm sync` and the accounting import: always with the cluster's
 * SLURM_CONF, times as epoch seconds (SLURM_TIME_FORMAT=%s, so no time zone is involved), and a
 * timeout. A command that cannot run or fails becomes a SlurmCommandError that says which
 * command, how it ended and what it printed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { SlurmSettings } from '../../../lib/config.ts';

export const SLURM_COMMANDS = ['sbatch', 'squeue', 'sacct', 'sacctmgr', 'scontrol', 'scancel', 'sinfo', 'sshare', 'sprio'] as const;
export type SlurmCommand = (typeof SLURM_COMMANDS)[number];

export interface SlurmRunOptions {
  /** Text written to the command's standard input (sbatch reads the script from it). */
  input?: string;
  /** Run as this user (sbatch on behalf of a job's owner); the server runs as root for this. */
  uid?: number;
  gid?: number;
  /** The command's environment besides SLURM_CONF and SLURM_TIME_FORMAT (default: none of the server's). */
  env?: Record<string, string>;
  /** `env` is a job's own environment (sbatch exports it into the job): only SLURM_CONF is added to it. */
  jobEnvironment?: boolean;
  /** The command's working directory (sbatch: the job's submit directory, which SLURM_SUBMIT_DIR reports). */
  cwd?: string;
  /** Default 30 s: slurmctld answers in milliseconds, or retries for a while when it is down. */
  timeoutMs?: number;
}

export interface SlurmRunResult {
  stdout: string;
  stderr: string;
}

export class SlurmCommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    message: string,
  ) {
    super(message);
    this.name = 'SlurmCommandError';
  }

  /** slurmctld could not be reached (down, restarting): worth trying again later, never a job's end. */
  get controllerUnreachable(): boolean {
    return /Unable to contact slurm controller|Connection refused|Socket timed out|slurm_load_jobs error: Unable|Zero Bytes were transmitted|Communication connection failure|timed out/i.test(this.stderr + this.message);
  }
}

export type SlurmRunner = (command: SlurmCommand, args: string[], options?: SlurmRunOptions) => Promise<SlurmRunResult>;

/** The environment every SLURM command gets. */
export function slurmEnvironment(settings: Pick<SlurmSettings, 'conf'>, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...extra, SLURM_TIME_FORMAT: '%s', TZ: 'UTC' };
  if (settings.conf) env.SLURM_CONF = settings.conf;
  return env;
}

/** A runner for the cluster named in the settings. */
export function slurmRunner(settings: Pick<SlurmSettings, 'conf' | 'binDir'>): SlurmRunner {
  return (command, args, options = {}) =>
    new Promise((resolve, reject) => {
      const file = settings.binDir ? path.join(settings.binDir, command) : command;
      const shown = `${command} ${args.join(' ')}`.slice(0, 300);
      const child = spawn(file, args, {
        env: options.jobEnvironment ? { ...options.env, ...(settings.conf ? { SLURM_CONF: settings.conf } : {}) } : slurmEnvironment(settings, options.env),
        stdio: ['pipe', 'pipe', 'pipe'],
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
        ...(options.uid !== undefined ? { uid: options.uid } : {}),
        ...(options.gid !== undefined ? { gid: options.gid } : {}),
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
      child.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const hint = error.code === 'ENOENT' ? ` (SLURM's client commands are not installed${settings.binDir ? ` in ${settings.binDir}` : ' on PATH'}: install slurm-client, or set batch.slurm.binDir)` : '';
        reject(new SlurmCommandError(command, null, '', `could not run ${shown}: ${error.message}${hint}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        if (code === 0) return resolve({ stdout, stderr });
        const how = signal === 'SIGKILL' ? `did not answer within ${Math.round((options.timeoutMs ?? 30_000) / 1000)} s` : `exited with ${code ?? signal}`;
        reject(new SlurmCommandError(command, code, stderr, `${shown} ${how}: ${stderr.trim().split('\n').slice(-3).join(' / ') || stdout.trim().slice(0, 300) || 'no message'}`));
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    });
}
