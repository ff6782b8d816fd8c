import path from 'node:path';
import type { User } from '../accounts/model.ts';
import { invalidInput } from '../lib/errors.ts';
import { formatSize } from '../lib/units.ts';
import { outputPatterns, summarizeArray, type ArraySummary } from './arrays.ts';
import { mergeSubmitOptions, parseCommandLineOptions, parseScriptDirectives, resolveBeginAt, type DirectiveWarning, type OpenMode } from './directives.ts';
import type { Dependency, MailEvents, NodeResources, Queue } from './model.ts';
import { chooseQueue, queueRefusal } from './queues.ts';
import type { SubmitInput } from './submission-input.ts';

/**
 * Turns a submission — script text, command-line options, the submitter's environment — into
 * the jobs to store: directives parsed, options laid over them, the queue chosen and checked,
 * defaults filled in from the queue, and impossible requests refused with the reason. Pure.
 */

/** What a job needs at launch besides its columns (kept as JSON in `jobs.env`). */
export interface LaunchContext {
  /** The job's own variables: the submitter's exported environment plus --env / --export values. */
  base: Record<string, string>;
  ntasks: number;
  cpusPerTask: number;
  outputMode: OpenMode;
  errorMode: OpenMode;
  submitHost: string;
  array: { summary: ArraySummary; maxRunning: number | null } | null;
}

export interface PreparedJob {
  name: string;
  queue: string;
  subgroup: string;
  workgroup: string;
  cpus: number;
  memBytes: number;
  gpus: number;
  gpuType: string | null;
  timeLimitMs: number;
  eligibleAt: number | null;
  held: boolean;
  dependencies: Dependency[];
  chdir: string;
  /** Patterns (`%j`…), expanded when the job starts. */
  output: string;
  error: string;
  mail: MailEvents;
  mailUser: string | null;
  context: LaunchContext;
  /** Array task indices; empty for a plain job. */
  arrayIndices: number[];
  arrayMaxRunning: number | null;
}

export interface PreparedSubmission {
  job: PreparedJob;
  warnings: string[];
}

export interface SubmissionContext {
  user: User;
  queues: readonly Queue[];
  /** The largest node, to refuse what can never run; null: a cluster (SLURM) checks the job itself. */
  node: NodeResources | null;
  now: number;
  submitHost: string;
}

const warningText = (w: DirectiveWarning) => (w.line ? `line ${w.line}: ${w.message}` : w.message);

export function prepareSubmission(input: SubmitInput & { environment?: Record<string, string> }, ctx: SubmissionContext): PreparedSubmission {
  const directives = parseScriptDirectives(input.script);
  const { overrides, warnings: optionWarnings } = parseCommandLineOptions({
    ...input.options,
    ...(input.env && Object.keys(input.env).length ? { env: Object.entries(input.env).map(([k, v]) => `${k}=${v}`) } : {}),
  });
  const options = mergeSubmitOptions(directives, overrides, optionWarnings);
  const { user } = ctx;

  // The subgroup the job is accounted to: -A/--account names one of the user's subgroups.
  let subgroup = user.primarySubgroup;
  if (options.account !== undefined && options.account !== user.primarySubgroup) {
    if (!user.subgroups.includes(options.account)) {
      throw invalidInput(`account '${options.account}' is not one of your subgroups (${[user.primarySubgroup, ...user.subgroups].join(', ')})`);
    }
    subgroup = options.account;
  }
  const who = { workgroup: user.workgroup, subgroup };

  const requested = { cpus: options.cpus, gpus: options.gpus, memBytes: options.memBytes ?? null, timeMs: options.timeLimitMs ?? null };
  let queue: Queue;
  if (options.queue !== undefined) {
    const named = ctx.queues.find((q) => q.name === options.queue);
    if (!named) throw invalidInput(`there is no queue '${options.queue}': the queues are ${ctx.queues.map((q) => q.name).join(', ')}`);
    if (!named.enabled) throw invalidInput(`queue '${named.name}' is closed to new jobs: choose another (keisan queues)`);
    const refusal = queueRefusal(named, requested, who);
    if (refusal) throw invalidInput(`${refusal}: choose another queue or ask for less`);
    queue = named;
  } else {
    queue = chooseQueue(ctx.queues.filter((q) => q.enabled), requested, who);
  }

  const memBytes = options.memBytes === undefined ? queue.defaultMemBytes : options.memBytes === null ? queue.maxMemBytes : options.memBytes;
  const timeLimitMs = options.timeLimitMs === undefined ? queue.defaultTimeMs : options.timeLimitMs === null ? queue.wallTimeLimitMs : options.timeLimitMs;

  // Impossible here, whatever the queue allows: refuse at submit, not pend forever.
  const { node } = ctx;
  if (node && options.cpus > node.cpus) throw invalidInput(`the job asks for ${options.cpus} CPUs but the largest node has ${node.cpus}`);
  if (node && memBytes > node.memBytes) throw invalidInput(`the job asks for ${formatSize(memBytes)} of memory but the largest node offers ${formatSize(node.memBytes)} to jobs`);
  if (node && options.gpus > 0) {
    const usable = options.gpuType ? node.gpus.filter((g) => g.type === options.gpuType) : node.gpus;
    if (usable.length < options.gpus) {
      const have = node.gpus.length === 0 ? 'no GPUs' : `${node.gpus.length} GPU${node.gpus.length > 1 ? 's' : ''} (${[...new Set(node.gpus.map((g) => g.type))].join(', ')})`;
      throw invalidInput(`the job asks for ${options.gpus} GPU${options.gpus > 1 ? 's' : ''}${options.gpuType ? ` of type ${options.gpuType}` : ''} but this facility has ${have}`);
    }
  }

  const chdir = options.chdir ? path.resolve(input.submitDir, options.chdir) : input.submitDir;
  const patterns = outputPatterns({ output: options.output, error: options.error, isArray: options.array !== undefined });
  const environment = input.environment ?? {};
  const base: Record<string, string> = {};
  if (options.env.inherit === 'all') Object.assign(base, environment);
  else for (const name of options.env.names) if (environment[name] !== undefined) base[name] = environment[name];
  Object.assign(base, options.env.set);

  const name = options.name ?? (input.scriptPath ? path.basename(input.scriptPath) : 'stdin');
  const warnings = options.warnings.map(warningText);
  return {
    warnings,
    job: {
      name,
      queue: queue.name,
      subgroup,
      workgroup: user.workgroup,
      cpus: options.cpus,
      memBytes,
      gpus: options.gpus,
      gpuType: options.gpuType,
      timeLimitMs,
      eligibleAt: options.beginAt ? resolveBeginAt(options.beginAt, ctx.now) : null,
      held: options.hold,
      dependencies: options.dependencies,
      chdir,
      output: patterns.stdout,
      error: patterns.stderr,
      mail: options.mail,
      mailUser: options.mailUser ?? user.email,
      context: {
        base,
        ntasks: options.ntasks,
        cpusPerTask: options.cpusPerTask,
        outputMode: options.outputMode,
        errorMode: options.errorMode,
        submitHost: ctx.submitHost,
        array: options.array ? { summary: summarizeArray(options.array), maxRunning: options.array.maxRunning } : null,
      },
      arrayIndices: options.array?.indices ?? [],
      arrayMaxRunning: options.array?.maxRunning ?? null,
    },
  };
}
