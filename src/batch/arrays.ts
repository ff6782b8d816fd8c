import { invalidInput } from '../lib/errors.ts';

/**
 * Job arrays, output file names and the environment a job sees — pure functions, no I/O.
 *
 * Array specs follow SLURM (`--array`) and LSF (`-J "name[…]"`), which share one syntax:
 * `0-15`, `1,3,5`, `1-9:2` (step), `0-7,20-30:5`, with an optional `%N` throttle at the end
 * (at most N tasks of the array run at once).
 *
 * Output patterns follow sbatch's filename patterns (`%j %x %a %A %u %N %%`, zero padding
 * `%4a`, a backslash anywhere turns expansion off), plus LSF's `%I` (array index). LSF's own
 * `%J` means the array's job id; the directive parser rewrites an LSF `%J` into `%A` when it
 * reads a `#BSUB` line, so one expander serves both dialects (here `%J` is SLURM's: the job's
 * own id).
 */

/** Most tasks one array may hold (SLURM's MaxArraySize ceiling is far above its 1001 default). */
export const MAX_ARRAY_TASKS = 100_000;
/** Largest array index (SLURM's hard ceiling, MaxArraySize 4 000 001). */
export const MAX_ARRAY_INDEX = 4_000_000;

export interface ArraySpec {
  /** Task indices, ascending, without duplicates; never empty. */
  indices: number[];
  /** Most tasks of the array running at once (`%N`); null = no throttle. */
  maxRunning: number | null;
  /** The spec in canonical form (ranges compacted, throttle appended), e.g. `1-100%10`. */
  text: string;
}

const ARRAY_FORMS = 'write e.g. 0-15, 1,3,5, 1-99:2 or 1-100%10 (at most 10 running at once)';

/** Parses `1-100%10`, `0-15`, `1,3,5`, `1-9:2`, `0-7,20-30:5%4`. Throws INVALID_INPUT with the accepted forms. */
export function parseArraySpec(text: string): ArraySpec {
  const raw = text.trim();
  const bad = (why: string) => invalidInput(`array '${text}': ${why}; ${ARRAY_FORMS}`);
  if (raw === '') throw bad('empty');
  let body = raw;
  let maxRunning: number | null = null;
  const percent = raw.indexOf('%');
  if (percent >= 0) {
    body = raw.slice(0, percent);
    const throttle = raw.slice(percent + 1);
    if (!/^\d+$/.test(throttle)) throw bad(`the throttle after '%' must be a whole number`);
    maxRunning = Number(throttle);
    if (maxRunning < 1) throw bad(`%0 would never run a task: the throttle must be at least 1`);
  }
  if (body === '') throw bad('no indices before %');

  const seen = new Set<number>();
  // Work is bounded by the sum of the ranges' sizes; overlapping ranges may not blow it up.
  let work = 0;
  for (const part of body.split(',')) {
    const item = part.trim();
    const match = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(item);
    if (!match) throw bad(item === '' ? 'an empty item between commas' : `'${item}' is not an index or a range`);
    const start = Number(match[1]);
    const end = match[2] === undefined ? start : Number(match[2]);
    const step = match[3] === undefined ? 1 : Number(match[3]);
    if (start > MAX_ARRAY_INDEX || end > MAX_ARRAY_INDEX) throw bad(`indices go from 0 to ${MAX_ARRAY_INDEX}`);
    if (end < start) throw bad(`the range ${item} ends before it starts`);
    if (step < 1) throw bad(`the step in ${item} must be at least 1`);
    const count = Math.floor((end - start) / step) + 1;
    work += count;
    if (count > MAX_ARRAY_TASKS || work > 10 * MAX_ARRAY_TASKS) throw bad(`more than ${MAX_ARRAY_TASKS} tasks`);
    for (let i = start; i <= end; i += step) seen.add(i);
    if (seen.size > MAX_ARRAY_TASKS) throw bad(`more than ${MAX_ARRAY_TASKS} tasks`);
  }
  const indices = [...seen].sort((a, b) => a - b);
  return { indices, maxRunning, text: formatArrayIndices(indices) + (maxRunning === null ? '' : `%${maxRunning}`) };
}

/**
 * Compacts ascending indices into SLURM's syntax: runs of step 1 become `a-b`, longer runs of a
 * constant step become `a-b:s`, the rest stay single (`[0,1,2,3,7,9,11,13]` → `0-3,7-13:2`).
 */
export function formatArrayIndices(indices: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < indices.length) {
    const start = indices[i]!;
    if (i + 1 >= indices.length) {
      parts.push(String(start));
      break;
    }
    const step = indices[i + 1]! - start;
    let j = i + 1;
    while (j + 1 < indices.length && indices[j + 1]! - indices[j]! === step) j++;
    const runLength = j - i + 1;
    if (step === 1 || runLength >= 3) {
      parts.push(step === 1 ? `${start}-${indices[j]}` : `${start}-${indices[j]}:${step}`);
      i = j + 1;
    } else {
      parts.push(String(start));
      i++;
    }
  }
  return parts.join(',');
}

/** What SLURM_ARRAY_TASK_COUNT/MIN/MAX/STEP say about an array, computed once per array. */
export interface ArraySummary {
  count: number;
  min: number;
  max: number;
  /** The constant distance between consecutive indices; null when they are not evenly spaced. */
  step: number | null;
}

export function summarizeArray(spec: Pick<ArraySpec, 'indices'>): ArraySummary {
  const { indices } = spec;
  if (indices.length === 0) throw invalidInput('an array needs at least one index');
  const min = indices[0]!;
  const max = indices[indices.length - 1]!;
  let step: number | null = indices.length === 1 ? 1 : indices[1]! - min;
  for (let i = 2; step !== null && i < indices.length; i++) {
    if (indices[i]! - indices[i - 1]! !== step) step = null;
  }
  return { count: indices.length, min, max, step };
}

// ---------------------------------------------------------------------------------------------
// Output file names

export interface OutputPatternContext {
  /** The job's own id (for an array task: the task's id). */
  jobId: number;
  /** The job's name (`%x`). */
  jobName: string;
  /** The owner's login name (`%u`). */
  user: string;
  /** For an array task: the array's id (`%A`) and the task's index (`%a`, `%I`). */
  arrayJobId?: number | null;
  arrayTaskId?: number | null;
  /** The node the job runs on (`%N`); defaults to "localhost". */
  node?: string;
}

/** The default stdout pattern: sbatch's `slurm-%j.out`, `slurm-%A_%a.out` for arrays. */
export function defaultOutputPattern(isArray: boolean): string {
  return isArray ? 'slurm-%A_%a.out' : 'slurm-%j.out';
}

/**
 * Where a job's stdout and stderr go, as patterns. Without `--output`, stdout goes to the SLURM
 * default name in the working directory — for `#BSUB`-only scripts too: LSF would mail the
 * output, Keisan keeps it on disk under the one name users already know. Without `--error`,
 * stderr goes to the same file as stdout (both SLURM and LSF do this).
 */
export function outputPatterns(options: { output?: string | undefined; error?: string | undefined; isArray: boolean }): {
  stdout: string;
  stderr: string;
} {
  const stdout = options.output ?? defaultOutputPattern(options.isArray);
  return { stdout, stderr: options.error ?? stdout };
}

/**
 * Expands sbatch filename patterns: `%j` job id, `%J` job id (job.step in SLURM; a batch script
 * is no step), `%x` job name, `%u` user, `%A` array job id (the job id when not an array),
 * `%a` and `%I` array index (0 when not an array), `%N` node, `%n` node index (0), `%t` task
 * id (0), `%s` step ("batch"), `%%` a percent sign. A number between `%` and the letter pads
 * numbers with zeros (`%4a` → `0007`). A pattern holding a backslash is not expanded; the
 * backslashes are dropped (sbatch's rule). Unknown `%` sequences stay as written.
 */
export function expandOutputPattern(pattern: string, ctx: OutputPatternContext): string {
  if (pattern.includes('\\')) return pattern.replaceAll('\\', '');
  const isArray = ctx.arrayJobId != null && ctx.arrayTaskId != null;
  const numbers: Record<string, number> = {
    j: ctx.jobId,
    J: ctx.jobId,
    A: isArray ? ctx.arrayJobId! : ctx.jobId,
    a: isArray ? ctx.arrayTaskId! : 0,
    I: isArray ? ctx.arrayTaskId! : 0,
    n: 0,
    t: 0,
  };
  return pattern.replace(/%(\d{0,2})([a-zA-Z%])/g, (whole, width: string, letter: string) => {
    if (letter === '%') return width === '' ? '%' : whole;
    const pad = width === '' ? 0 : Math.min(Number(width), 10);
    const number = numbers[letter];
    if (number !== undefined) return String(number).padStart(pad, '0');
    switch (letter) {
      case 'x':
        return ctx.jobName;
      case 'u':
        return ctx.user;
      case 'N':
        return ctx.node ?? 'localhost';
      case 's':
        return 'batch';
      default:
        return whole;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The environment of a running job

export interface JobEnvironmentContext {
  jobId: number;
  name: string;
  user: string;
  uid?: number;
  gid?: number;
  queue: string;
  /** The subgroup the job is accounted to (SLURM's account). */
  account: string | null;
  /** CPUs of the job; ntasks × cpusPerTask when both are given. */
  cpus: number;
  /** SLURM tasks and CPUs per task as asked; default 1 task of `cpus` CPUs. */
  ntasks?: number;
  cpusPerTask?: number;
  memBytes: number;
  /** Time limit in ms; null = none. */
  timeLimitMs?: number | null;
  /** Where `keisan submit` ran, and on which host. */
  submitDir: string;
  submitHost: string;
  /** The node the job runs on. */
  node: string;
  /** Physical indices of the GPUs given to the job (empty: none). */
  gpuIndices: readonly number[];
  /**
   * How CUDA_VISIBLE_DEVICES numbers the GPUs: 'physical' (default) lists the node's indices;
   * 'relative' lists 0..n-1, for an executor whose device fencing makes CUDA renumber the GPUs
   * the job may open. SLURM_JOB_GPUS always lists the physical indices.
   */
  cudaNumbering?: 'physical' | 'relative';
  /** For an array task: its array's id, its own index and the array's shape. */
  array?: { arrayJobId: number; taskId: number; summary: ArraySummary; maxRunning?: number | null } | null;
}

/**
 * The SLURM- and LSF-compatible variables a job gets, plus Keisan's own. Scripts written for
 * either system find the names they read. Decisions:
 * - `CUDA_VISIBLE_DEVICES` is always set: the assigned GPUs, or the empty string for a job
 *   with none, which hides every GPU (what SLURM's ConstrainDevices achieves) so a CPU job
 *   cannot wander onto a GPU someone else was given.
 * - For an array task, `SLURM_JOB_ID` is the task's own id, `SLURM_ARRAY_JOB_ID` the array's;
 *   `LSB_JOBID` is the array's id (LSF numbers elements `id[index]`), `LSB_JOBINDEX` the index,
 *   `LSB_JOBNAME` `name[index]`. Outside arrays `LSB_JOBINDEX` is 0, as in LSF.
 * - `SLURM_MEM_PER_NODE` is in MB, rounded up.
 */
export function jobEnvironment(ctx: JobEnvironmentContext): Record<string, string> {
  const ntasks = ctx.ntasks ?? 1;
  const cpusPerTask = ctx.cpusPerTask ?? Math.max(1, Math.floor(ctx.cpus / ntasks));
  const memMb = Math.ceil(ctx.memBytes / 1024 ** 2);
  const gpuList = ctx.gpuIndices.join(',');
  const cudaList = ctx.cudaNumbering === 'relative' ? ctx.gpuIndices.map((_, i) => i).join(',') : gpuList;
  const array = ctx.array ?? null;
  const id = String(ctx.jobId);

  const env: Record<string, string> = {
    // SLURM
    SLURM_JOB_ID: id,
    SLURM_JOBID: id,
    SLURM_JOB_NAME: ctx.name,
    SLURM_JOB_USER: ctx.user,
    SLURM_JOB_PARTITION: ctx.queue,
    SLURM_CPUS_PER_TASK: String(cpusPerTask),
    SLURM_NTASKS: String(ntasks),
    SLURM_NPROCS: String(ntasks),
    SLURM_CPUS_ON_NODE: String(ctx.cpus),
    SLURM_JOB_CPUS_PER_NODE: String(ctx.cpus),
    SLURM_TASKS_PER_NODE: String(ntasks),
    SLURM_MEM_PER_NODE: String(memMb),
    SLURM_SUBMIT_DIR: ctx.submitDir,
    SLURM_SUBMIT_HOST: ctx.submitHost,
    SLURM_JOB_NODELIST: ctx.node,
    SLURM_NODELIST: ctx.node,
    SLURMD_NODENAME: ctx.node,
    SLURM_JOB_NUM_NODES: '1',
    SLURM_NNODES: '1',
    SLURM_NODEID: '0',
    SLURM_PROCID: '0',
    SLURM_LOCALID: '0',
    // LSF
    LSB_JOBID: String(array ? array.arrayJobId : ctx.jobId),
    LSB_JOBINDEX: String(array ? array.taskId : 0),
    LSB_JOBNAME: array ? `${ctx.name}[${array.taskId}]` : ctx.name,
    LSB_QUEUE: ctx.queue,
    LSB_DJOB_NUMPROC: String(ctx.cpus),
    LSB_MAX_NUM_PROCESSORS: String(ctx.cpus),
    LSB_HOSTS: Array.from({ length: Math.min(ctx.cpus, 4096) }, () => ctx.node).join(' '),
    LSB_MCPU_HOSTS: `${ctx.node} ${ctx.cpus}`,
    LSB_SUB_HOST: ctx.submitHost,
    LSB_SUBCWD: ctx.submitDir,
    // Keisan
    KEISAN_JOB_ID: id,
    KEISAN_JOB_NAME: ctx.name,
    KEISAN_QUEUE: ctx.queue,
    KEISAN_CPUS: String(ctx.cpus),
    KEISAN_MEM_BYTES: String(ctx.memBytes),
    KEISAN_GPUS: gpuList,
    KEISAN_SUBMIT_DIR: ctx.submitDir,
    KEISAN_NODE: ctx.node,
    // GPUs: an empty list hides every GPU from a job that was given none.
    CUDA_VISIBLE_DEVICES: cudaList,
  };
  if (ctx.account) {
    env.SLURM_JOB_ACCOUNT = ctx.account;
    env.KEISAN_ACCOUNT = ctx.account;
  }
  if (ctx.uid !== undefined) env.SLURM_JOB_UID = String(ctx.uid);
  if (ctx.gid !== undefined) env.SLURM_JOB_GID = String(ctx.gid);
  if (ctx.timeLimitMs != null) env.KEISAN_TIME_LIMIT_SECONDS = String(Math.round(ctx.timeLimitMs / 1000));
  if (ctx.gpuIndices.length > 0) {
    env.SLURM_JOB_GPUS = gpuList;
    env.SLURM_GPUS_ON_NODE = String(ctx.gpuIndices.length);
    env.GPU_DEVICE_ORDINAL = cudaList;
  }
  if (array) {
    const { summary } = array;
    env.SLURM_ARRAY_JOB_ID = String(array.arrayJobId);
    env.SLURM_ARRAY_TASK_ID = String(array.taskId);
    env.SLURM_ARRAY_TASK_COUNT = String(summary.count);
    env.SLURM_ARRAY_TASK_MIN = String(summary.min);
    env.SLURM_ARRAY_TASK_MAX = String(summary.max);
    if (summary.step !== null) env.SLURM_ARRAY_TASK_STEP = String(summary.step);
    env.LSB_JOBINDEX_END = String(summary.max);
    if (summary.step !== null) env.LSB_JOBINDEX_STEP = String(summary.step);
    env.KEISAN_ARRAY_JOB_ID = String(array.arrayJobId);
    env.KEISAN_ARRAY_TASK_ID = String(array.taskId);
    env.KEISAN_ARRAY_TASK_COUNT = String(summary.count);
    if (array.maxRunning != null) env.KEISAN_ARRAY_MAX_RUNNING = String(array.maxRunning);
  }
  return env;
}
