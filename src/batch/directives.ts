import { invalidInput, KeisanError } from '../lib/errors.ts';
import { parseDuration, parseSize } from '../lib/units.ts';
import { type ArraySpec, parseArraySpec } from './arrays.ts';
import type { Dependency, DependencyType, MailEvents } from './model.ts';

/**
 * Job-script directives (`#SBATCH`, `#BSUB`) and `keisan submit` options — pure parsing, no I/O.
 *
 * Reading a script (as sbatch does): directives are read from the top of the script until the
 * first line whose first non-blank character is not `#` (the first command); blank lines,
 * comments and the `#!` line do not stop the scan. A directive starts in column 1 with exactly
 * `#SBATCH` (or the old `#SLURM`) or `#BSUB`, then whitespace; `# SBATCH`, `#sbatch` and an
 * indented `#SBATCH` are comments (a warning says so), `##SBATCH` is a silently disabled
 * directive. Arguments split at blanks; single and double quotes group, a backslash escapes the
 * next character, an unquoted `#` ends the line (a trailing comment), as in sbatch.
 *
 * Units and forms (documented decisions):
 * - SLURM memory (`--mem`, `--mem-per-cpu`, `--mem-per-gpu`): a bare number is MEGABYTES, as in
 *   SLURM; suffixes K/M/G/T (and the KB/GiB forms of lib/units). `--mem=0` (SLURM: all of the
 *   node's memory) becomes memBytes null = the most the queue allows.
 * - LSF memory (`-M`, `rusage[mem=…]`): a bare number is MEGABYTES (the common site setting
 *   LSF_UNIT_FOR_LIMITS=MB; LSF's built-in default is KB); suffixes KB/MB/GB/TB. `-M` and
 *   `rusage[mem]` both given: the larger wins (a warning says so when they differ).
 * - SLURM time (`-t`): a bare number is MINUTES; `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`,
 *   `D-HH:MM:SS`; `UNLIMITED`, `INFINITE`, `-1` and `0` (SLURM: no limit) mean no limit of
 *   the job's own = null (the queue's maximum applies). Keisan also takes lib/units forms (`90m`).
 * - LSF time (`-W`): `[HH:]MM` (a bare number is minutes); a `/host` normalisation is dropped.
 * - Dependencies: SLURM `afterok/afterany/afternotok` map one to one; `after` (start of the other
 *   job) has no equivalent and becomes `afterany` (after its end) with a warning — the job never
 *   starts too early, only later. LSF `done()`→ok, `ended()`→any, `exit()`→notok, `started()`→any
 *   (warning), a bare job id → ok (LSF's rule). `?`/`||` (any-of), `singleton`, `aftercorr`,
 *   array elements and job names are refused: their meaning cannot be kept.
 * - One node: `-N`/`--nodes` above 1, `--ntasks-per-node` smaller than `--ntasks`, LSF
 *   `span[ptile=…]` smaller than `-n` are errors; CPUs = ntasks × cpus-per-task on one node.
 * - Within one dialect a later directive replaces an earlier one (sbatch's rule; a warning says
 *   so); `--mail-type` accumulates (sbatch ORs it). A script with both `#SBATCH` and `#BSUB`:
 *   resources (cpus, memory, GPUs, time, array, dependencies, begin, exclusive, hold) must agree
 *   or it is an error naming both lines; names (queue, job name, output, mail, …) may differ —
 *   `#SBATCH` wins, with a warning — so portable scripts keep working. `dialect` is then 'slurm'.
 * - Harmless options we do not use (`--constraint`, `--hint`, `--qos`, LSF `-P`, …) are warnings
 *   naming the line; options whose meaning we cannot keep (`--uid`, `--wrap`, burst buffers,
 *   interactive LSF jobs, pre-exec commands, …) and unknown options are errors naming the line.
 */

export type Dialect = 'slurm' | 'lsf' | 'none';
export type OpenMode = 'append' | 'truncate';

export interface DirectiveWarning {
  /** 1-based line of the script (0: not tied to a line, e.g. a command-line option). */
  line: number;
  message: string;
}

/** What a job's environment starts from (sbatch `--export`, LSF `-env`, `keisan submit --env`). */
export interface EnvExport {
  /** 'all': the submitter's environment (sbatch's default); 'none': only `names` and `set`. */
  inherit: 'all' | 'none';
  /** Variables copied from the submitter's environment. */
  names: string[];
  /** Variables given a value. */
  set: Record<string, string>;
}

/**
 * When a job may start, as written; `resolveBeginAt` turns it into epoch ms in the server's local
 * time zone (as SLURM and LSF read these forms).
 */
export type BeginSpec =
  /** `now`, `now+1hour`, `today`: this long after submission. */
  | { kind: 'relative'; offsetMs: number }
  /** `16:00`, `4pm`, `noon`, `midnight`, `teatime`: the next such time (today, or tomorrow if past); `tomorrow` fixes the day. */
  | { kind: 'clock'; hour: number; minute: number; second: number; tomorrow: boolean }
  /** `2030-01-31T08:00`, `0131`, `01/31/30`, LSF `1:31:8:00`: a date; a missing year or month is the next one that is not past. */
  | { kind: 'date'; year: number | null; month: number | null; day: number; hour: number; minute: number; second: number };

/** Submit options read from a script (every field optional: only what the script says). */
export interface DirectiveFields {
  queue?: string;
  /** Total CPUs (SLURM ntasks × cpus-per-task, or cpus-per-gpu × GPUs; LSF -n). */
  cpus?: number;
  ntasks?: number;
  cpusPerTask?: number;
  cpusPerGpu?: number;
  /** Total memory; derived from the per-CPU or per-GPU amount when one was used. null: the most the queue allows (`--mem=0`). */
  memBytes?: number | null;
  memPerCpuBytes?: number;
  memPerGpuBytes?: number;
  gpus?: number;
  /** A GPU model ("h200", "a100-sxm4-80gb"); null: any. */
  gpuType?: string | null;
  /** null: no limit of the job's own (UNLIMITED): the queue's maximum applies. */
  timeLimitMs?: number | null;
  name?: string;
  /** Output patterns in sbatch syntax (LSF's %J/%I already rewritten to %A/%a). */
  output?: string;
  error?: string;
  outputMode?: OpenMode;
  errorMode?: OpenMode;
  chdir?: string;
  array?: ArraySpec;
  dependencies?: Dependency[];
  mail?: MailEvents;
  mailUser?: string;
  beginAt?: BeginSpec;
  exclusive?: boolean;
  hold?: boolean;
  /** SLURM -A / LSF -G: the subgroup to account the job to. */
  account?: string;
  env?: EnvExport;
}

export type DirectiveField = keyof DirectiveFields;

export interface ParsedDirectives extends DirectiveFields {
  dialect: Dialect;
  /** The `#!` line's interpreter and arguments; null when the script has none. */
  shebang: string | null;
  /** The line each field was read from (the last one, when several made it). */
  lines: { [K in DirectiveField]?: number };
  warnings: DirectiveWarning[];
}

// ---------------------------------------------------------------------------------------------
// Value parsers (each throws INVALID_INPUT naming the accepted forms; callers add the line)

const SLURM_TIME_FORMS = 'write minutes (90), MM:SS (30:00), HH:MM:SS (48:00:00), D-HH (1-12), D-HH:MM, D-HH:MM:SS (2-00:00:00), 90m, 2h, or UNLIMITED';

/** SLURM `--time`: a bare number is minutes; null = no limit (UNLIMITED, INFINITE, -1, 0). */
export function parseSlurmTime(text: string): number | null {
  const value = text.trim();
  if (/^(unlimited|infinite|-1)$/i.test(value)) return null;
  if (/^\d+$/.test(value)) {
    const minutes = Number(value);
    return minutes === 0 ? null : minutes * 60_000;
  }
  if (/^[\d:-]+$/.test(value) || /^\d+(\.\d+)?\s*[a-zA-Z]+(\s*\d+(\.\d+)?\s*[a-zA-Z]+)*$/.test(value)) {
    try {
      const ms = parseDuration(value);
      return ms === 0 ? null : ms;
    } catch {
      // fall through to the message below, which names SLURM's forms
    }
  }
  throw invalidInput(`'${text}' is not a time limit: ${SLURM_TIME_FORMS}`);
}

/** LSF `-W [hour:]minute[/host_name]`: a bare number is minutes. */
export function parseLsfTime(text: string): number {
  const value = text.trim().replace(/\/.*$/, '');
  const match = /^(?:(\d+):)?(\d+)$/.exec(value);
  if (!match || (match[1] !== undefined && Number(match[2]) >= 60)) {
    throw invalidInput(`'${text}' is not an LSF run limit: write [hours:]minutes, e.g. 90 or 4:00`);
  }
  return ((match[1] === undefined ? 0 : Number(match[1])) * 60 + Number(match[2])) * 60_000;
}

/** A memory size where a bare number is megabytes (SLURM's and, by Keisan's choice, LSF's rule). */
export function parseMegabytesDefault(text: string): number {
  const value = text.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1024 ** 2);
  try {
    return parseSize(value);
  } catch {
    throw invalidInput(`'${text}' is not a memory size: write megabytes (4000) or a size with a unit (4000M, 4G, 4GB, 1T)`);
  }
}

/** SLURM `--mem`: bare MB; `0` = all the node's memory → null. */
export function parseSlurmMemory(text: string): number | null {
  const bytes = parseMegabytesDefault(text);
  return bytes === 0 ? null : bytes;
}

/** LSF `-M`: bare MB (LSF_UNIT_FOR_LIMITS=MB), suffixes KB/MB/GB/TB; a trailing `!` (hard limit) is accepted. */
export function parseLsfMemory(text: string): number {
  const bytes = parseMegabytesDefault(text.trim().replace(/!$/, ''));
  if (bytes === 0) throw invalidInput(`'${text}' is no memory at all: write e.g. 4096 (MB) or 4GB`);
  return bytes;
}

/** Normalises a GPU model name the way GPU discovery does: lower case, '-' for '_', no vendor prefix. */
export function normalizeGpuType(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/[_\s]+/g, '-')
    .replace(/^(nvidia|tesla)-?/, '')
    .replace(/^(nvidia|tesla)-?/, '');
}

export interface GpuRequest {
  gpus: number;
  gpuType: string | null;
}

const GPU_FORMS = 'write a count (2), a model and a count (h200:2) or a model alone (h200, one GPU)';

/** `2`, `h200:2`, `h200` (one), `gpu:h200:2` — the forms of `--gpus`, `-G` and `keisan submit --gpus`. */
export function parseGpuRequest(text: string): GpuRequest {
  const parts = text.trim().split(':');
  if (parts.length === 3 && parts[0]!.toLowerCase() === 'gpu') parts.shift();
  const bad = () => invalidInput(`'${text}' is not a GPU request: ${GPU_FORMS}`);
  if (parts.length === 1) {
    const only = parts[0]!;
    if (/^\d+$/.test(only)) return { gpus: checkCount(Number(only), 'GPUs', 0), gpuType: null };
    if (/^[A-Za-z][\w.-]*$/.test(only)) return { gpus: 1, gpuType: normalizeGpuType(only) };
    throw bad();
  }
  if (parts.length === 2 && /^[A-Za-z][\w.-]*$/.test(parts[0]!) && /^\d+$/.test(parts[1]!)) {
    return { gpus: checkCount(Number(parts[1]), 'GPUs', 0), gpuType: normalizeGpuType(parts[0]!) };
  }
  throw bad();
}

/** SLURM `--gres=gpu[:type][:count][,…]`; only the gpu resource exists here. */
export function parseGres(text: string): GpuRequest {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 1 && items[0]!.toLowerCase() === 'none') return { gpus: 0, gpuType: null };
  let result: GpuRequest | null = null;
  for (const item of items) {
    const parts = item.split(':');
    const name = parts[0]!.toLowerCase();
    if (name !== 'gpu') {
      throw invalidInput(
        `generic resource '${parts[0]}' does not exist here: only gpu is a countable resource (--gres=gpu:2 or --gres=gpu:h200:2)`,
      );
    }
    if (result) throw invalidInput(`'${text}' names gpu twice: write one --gres=gpu[:type]:count`);
    if (parts.length === 1) result = { gpus: 1, gpuType: null };
    else if (parts.length === 2 && /^\d+$/.test(parts[1]!)) result = { gpus: checkCount(Number(parts[1]), 'GPUs', 0), gpuType: null };
    else if (parts.length === 2 && /^[A-Za-z][\w.-]*$/.test(parts[1]!)) result = { gpus: 1, gpuType: normalizeGpuType(parts[1]!) };
    else if (parts.length === 3 && /^[A-Za-z][\w.-]*$/.test(parts[1]!) && /^\d+$/.test(parts[2]!)) {
      result = { gpus: checkCount(Number(parts[2]), 'GPUs', 0), gpuType: normalizeGpuType(parts[1]!) };
    } else throw invalidInput(`'${text}' is not a GPU request: write gpu, gpu:2 or gpu:h200:2`);
  }
  if (!result) throw invalidInput(`'${text}' is empty: write gpu:2 or gpu:h200:2`);
  return result;
}

function checkCount(value: number, what: string, min = 1, max = 1_000_000): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidInput(`${value} ${what} is out of range: write a whole number from ${min} to ${max}`);
  }
  return value;
}

function parseCount(text: string, what: string, min = 1): number {
  const value = text.trim();
  if (!/^\d+$/.test(value)) throw invalidInput(`'${text}' is not a number of ${what}: write a whole number, e.g. 4`);
  return checkCount(Number(value), what, min);
}

type Warn = (message: string) => void;

const JOB_ID = /^\d+$/;

function jobIdOf(text: string, form: string): number {
  const id = text.trim();
  if (/^\d+_(\d+|\*)$/.test(id) || /^\d+\[\d+\]$/.test(id)) {
    throw invalidInput(`${form}: a dependency on one array task (${id}) is not supported: name the task's own job id, or the whole array's id`);
  }
  if (!JOB_ID.test(id)) throw invalidInput(`${form}: '${id}' is not a job id: name jobs by number (keisan jobs shows them)`);
  const value = Number(id);
  if (!Number.isSafeInteger(value) || value < 1) throw invalidInput(`${form}: '${id}' is not a job id`);
  return value;
}

function addDependency(list: Dependency[], dep: Dependency): void {
  if (!list.some((d) => d.jobId === dep.jobId && d.type === dep.type)) list.push(dep);
}

const SLURM_DEPENDENCY_FORMS = 'write afterok:ID[:ID…], afterany:ID, afternotok:ID, joined with commas (all must hold)';

/** SLURM `--dependency`: `afterok:1:2,afterany:3`, `afternotok:4`, `after:5` (→ any, with a warning). */
export function parseSlurmDependency(text: string, warn: Warn): Dependency[] {
  const value = text.trim();
  if (value === '') throw invalidInput(`an empty dependency: ${SLURM_DEPENDENCY_FORMS}`);
  if (value.includes('?')) {
    throw invalidInput(`'${value}': '?' (any one of the dependencies) is not supported: use ',' (all of them) or submit the job later`);
  }
  const out: Dependency[] = [];
  for (const item of value.split(',')) {
    const parts = item.trim().split(':');
    const kind = parts[0]!.toLowerCase();
    if (kind === 'singleton') throw invalidInput(`'singleton' (one job of this name at a time) is not supported: use --after with the job's id`);
    if (kind === 'aftercorr' || kind === 'afterburstbuffer' || kind === 'expand') {
      throw invalidInput(`dependency type '${kind}' is not supported: ${SLURM_DEPENDENCY_FORMS}`);
    }
    const types: Record<string, DependencyType> = { after: 'any', afterany: 'any', afterok: 'ok', afternotok: 'notok' };
    const type = types[kind];
    if (type === undefined || parts.length < 2) throw invalidInput(`'${item}' is not a dependency: ${SLURM_DEPENDENCY_FORMS}`);
    for (const idText of parts.slice(1)) {
      if (/\+/.test(idText)) throw invalidInput(`'${item}': a delay after the dependency (+minutes) is not supported: use --begin`);
      const jobId = jobIdOf(idText, item);
      if (kind === 'after') warn(`'after:${jobId}' (after job ${jobId} starts) becomes afterany: this job waits until job ${jobId} ends`);
      addDependency(out, { jobId, type });
    }
  }
  return out;
}

/** LSF `-w`: `done(1) && ended(2)`, `exit(3)`, `started(4)` (→ any, warning), a bare id (→ done). */
export function parseLsfDependency(text: string, warn: Warn): Dependency[] {
  const value = text.trim();
  const forms = 'write done(ID), ended(ID), exit(ID) or a job id, joined with &&';
  if (value === '') throw invalidInput(`an empty dependency: ${forms}`);
  if (value.includes('||')) throw invalidInput(`'${value}': '||' (any one of the conditions) is not supported: ${forms}`);
  if (value.includes('!')) throw invalidInput(`'${value}': '!' (negation) is not supported: ${forms}`);
  const out: Dependency[] = [];
  for (let term of value.split('&&')) {
    term = term.trim();
    while (term.startsWith('(') && term.endsWith(')') && !/^\([^()]*\)\s*\S/.test(term)) term = term.slice(1, -1).trim();
    if (JOB_ID.test(term) || /^\d+\[\d+\]$/.test(term) || /^"\d+"$/.test(term)) {
      addDependency(out, { jobId: jobIdOf(term.replaceAll('"', ''), value), type: 'ok' });
      continue;
    }
    const match = /^(\w+)\s*\(\s*([^,()]*?)\s*(?:,\s*([^()]*))?\)$/.exec(term);
    if (!match) throw invalidInput(`'${term}' is not a dependency condition: ${forms}`);
    const cond = match[1]!.toLowerCase();
    const types: Record<string, DependencyType> = { done: 'ok', ended: 'any', exit: 'notok', started: 'any' };
    const type = types[cond];
    if (type === undefined) throw invalidInput(`condition '${cond}' is not supported: ${forms}`);
    if (match[3] !== undefined) {
      throw invalidInput(`'${term}': an exit-code condition is not supported: use exit(ID) (any failure) or done(ID)`);
    }
    const jobId = jobIdOf(match[2]!.replaceAll('"', ''), term);
    if (cond === 'started') warn(`'started(${jobId})' becomes ended(${jobId}): this job waits until job ${jobId} ends`);
    addDependency(out, { jobId, type });
  }
  return out;
}

/** The `--after` option of `keisan submit`: `12`, `12:ok`, `12:any`, `12:notok`, comma lists; SLURM forms (`afterok:12`) too. A bare id means ok. */
export function parseAfterOption(text: string, warn: Warn = () => {}): Dependency[] {
  const value = text.trim();
  if (/^after/i.test(value)) return parseSlurmDependency(value, warn);
  const out: Dependency[] = [];
  for (const item of value.split(',')) {
    const match = /^\s*(\d+)\s*(?::\s*(ok|any|notok|fail|failed))?\s*$/i.exec(item);
    if (!match) throw invalidInput(`'${item.trim()}' is not a dependency: write JOB, JOB:ok (after it succeeds, the default), JOB:any (after it ends) or JOB:notok (after it fails)`);
    const word = (match[2] ?? 'ok').toLowerCase();
    const type: DependencyType = word === 'any' ? 'any' : word === 'ok' ? 'ok' : 'notok';
    addDependency(out, { jobId: jobIdOf(match[1]!, item.trim()), type });
  }
  return out;
}

/** SLURM `--mail-type` (BEGIN, END, FAIL, ALL, NONE, comma list); the other SLURM events are warnings. */
export function parseMailTypes(text: string, warn: Warn, base: MailEvents = { begin: false, end: false, fail: false }): MailEvents {
  const mail = { ...base };
  for (const raw of text.split(',')) {
    const word = raw.trim().toUpperCase();
    if (word === 'BEGIN') mail.begin = true;
    else if (word === 'END') mail.end = true;
    else if (word === 'FAIL') mail.fail = true;
    else if (word === 'ALL') Object.assign(mail, { begin: true, end: true, fail: true });
    else if (word === 'NONE') Object.assign(mail, { begin: false, end: false, fail: false });
    else if (/^(REQUEUE|INVALID_DEPEND|STAGE_OUT|TIME_LIMIT(_\d+)?|ARRAY_TASKS)$/.test(word)) {
      warn(`mail type ${word} is not sent: Keisan mails at BEGIN, END and FAIL`);
    } else throw invalidInput(`'${raw.trim()}' is not a mail type: write BEGIN, END, FAIL, ALL or NONE (comma-separated)`);
  }
  return mail;
}

/** `keisan submit --mail`: bare → END,FAIL; `begin,end`, `all`, `none`; an address → END,FAIL to that address. */
export function parseMailOption(value: string | boolean): { mail: MailEvents; mailUser?: string } {
  if (value === true) return { mail: { begin: false, end: true, fail: true } };
  if (value === false) return { mail: { begin: false, end: false, fail: false } };
  if (value.includes('@')) return { mail: { begin: false, end: true, fail: true }, mailUser: value.trim() };
  return { mail: parseMailTypes(value, () => {}) };
}

const NAMED_TIMES: Record<string, [number, number]> = {
  midnight: [0, 0],
  noon: [12, 0],
  elevenses: [11, 0],
  fika: [15, 0],
  teatime: [16, 0],
};

const BEGIN_FORMS = 'write now+1hour, 16:00, 4pm, midnight, noon, tomorrow, 2030-01-31, 2030-01-31T08:00 or MM/DD[/YY]';

/** SLURM `--begin`. */
export function parseBeginTime(text: string): BeginSpec {
  const value = text.trim().toLowerCase();
  const bad = () => invalidInput(`'${text}' is not a begin time: ${BEGIN_FORMS}`);
  if (value === 'now' || value === 'today') return { kind: 'relative', offsetMs: 0 };
  const rel = /^now\s*\+\s*(.+)$/.exec(value);
  if (rel) {
    try {
      return { kind: 'relative', offsetMs: parseDuration(rel[1]!) };
    } catch {
      throw bad();
    }
  }
  if (value === 'tomorrow') return { kind: 'clock', hour: 0, minute: 0, second: 0, tomorrow: true };
  const named = NAMED_TIMES[value];
  if (named) return { kind: 'clock', hour: named[0], minute: named[1], second: 0, tomorrow: false };
  const clock = /^(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(am|pm)?$/.exec(value);
  if (clock && (clock[2] !== undefined || clock[4] !== undefined)) {
    let hour = Number(clock[1]);
    const minute = Number(clock[2] ?? 0);
    const second = Number(clock[3] ?? 0);
    if (clock[4] !== undefined) {
      if (hour < 1 || hour > 12) throw bad();
      hour = (hour % 12) + (clock[4] === 'pm' ? 12 : 0);
    }
    if (hour > 23 || minute > 59 || second > 59) throw bad();
    return { kind: 'clock', hour, minute, second, tomorrow: false };
  }
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:t(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(value);
  if (iso) return checkedDate(Number(iso[1]), Number(iso[2]), Number(iso[3]), Number(iso[4] ?? 0), Number(iso[5] ?? 0), Number(iso[6] ?? 0), bad);
  const md = /^(\d{2})([/.]?)(\d{2})(?:\2(\d{2}))?$/.exec(value);
  if (md && (md[2] !== '' || value.length === 4 || value.length === 6)) {
    const year = md[4] === undefined ? null : 2000 + Number(md[4]);
    return checkedDate(year, Number(md[1]), Number(md[3]), 0, 0, 0, bad);
  }
  throw bad();
}

/** LSF `-b [[[year:]month:]day:]hour:minute`. */
export function parseLsfBeginTime(text: string): BeginSpec {
  const bad = () => invalidInput(`'${text}' is not an LSF begin time: write [[[year:]month:]day:]hour:minute, e.g. 18:30 or 31:8:00`);
  const parts = text.trim().split(':');
  if (parts.length < 2 || parts.length > 5 || parts.some((p) => !/^\d+$/.test(p))) throw bad();
  const n = parts.map(Number);
  const [minute, hour] = [n[n.length - 1]!, n[n.length - 2]!];
  if (parts.length === 2) {
    if (hour > 23 || minute > 59) throw bad();
    return { kind: 'clock', hour, minute, second: 0, tomorrow: false };
  }
  const day = n[n.length - 3]!;
  const month = parts.length >= 4 ? n[n.length - 4]! : null;
  const year = parts.length === 5 ? n[0]! : null;
  return checkedDate(year, month, day, hour, minute, 0, bad);
}

function checkedDate(
  year: number | null,
  month: number | null,
  day: number,
  hour: number,
  minute: number,
  second: number,
  bad: () => KeisanError,
): BeginSpec {
  if ((month !== null && (month < 1 || month > 12)) || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) throw bad();
  if (year !== null && month !== null) {
    const probe = new Date(year, month - 1, day);
    if (probe.getMonth() !== month - 1) throw bad();
  }
  return { kind: 'date', year, month, day, hour, minute, second };
}

/** Turns a BeginSpec into epoch ms, reading clock times in the local time zone of this process. */
export function resolveBeginAt(spec: BeginSpec, now: number): number {
  const today = new Date(now);
  switch (spec.kind) {
    case 'relative':
      return now + spec.offsetMs;
    case 'clock': {
      const at = new Date(today.getFullYear(), today.getMonth(), today.getDate() + (spec.tomorrow ? 1 : 0), spec.hour, spec.minute, spec.second);
      if (!spec.tomorrow && at.getTime() <= now) at.setDate(at.getDate() + 1);
      return at.getTime();
    }
    case 'date': {
      const year = spec.year ?? today.getFullYear();
      const month = spec.month === null ? today.getMonth() : spec.month - 1;
      let at = new Date(year, month, spec.day, spec.hour, spec.minute, spec.second);
      if (at.getTime() < now) {
        if (spec.month === null) at = new Date(year, month + 1, spec.day, spec.hour, spec.minute, spec.second);
        else if (spec.year === null) at = new Date(year + 1, month, spec.day, spec.hour, spec.minute, spec.second);
      }
      return at.getTime();
    }
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** SLURM `--export`: `ALL` (default), `NONE`, `[ALL,]VAR[,VAR=value…]` (a list without ALL exports only those). */
export function parseSlurmExport(text: string): EnvExport {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const out: EnvExport = { inherit: 'none', names: [], set: {} };
  const forms = 'write ALL, NONE, or [ALL,]VAR[,VAR=value…]';
  if (items.length === 0) throw invalidInput(`an empty --export: ${forms}`);
  for (const item of items) {
    const upper = item.toUpperCase();
    if (upper === 'ALL') out.inherit = 'all';
    else if (upper === 'NONE' || upper === 'NIL') out.inherit = out.inherit === 'all' ? 'all' : 'none';
    else addEnvItem(out, item, forms);
  }
  return out;
}

/** LSF `-env`: `all`, `none`, `all, VAR=value`, `VAR1, VAR2=value`; `~VAR` (remove) is a warning. */
export function parseLsfEnv(text: string, warn: Warn): EnvExport {
  const out: EnvExport = { inherit: 'none', names: [], set: {} };
  const forms = 'write all, none, or [all,] VAR[=value], …';
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (item.toLowerCase() === 'all') out.inherit = 'all';
    else if (item.toLowerCase() === 'none') continue;
    else if (item.startsWith('~')) warn(`'${item}': removing a variable is not supported; it is passed as usual`);
    else addEnvItem(out, item, forms);
  }
  return out;
}

function addEnvItem(out: EnvExport, item: string, forms: string): void {
  const eq = item.indexOf('=');
  const name = eq < 0 ? item : item.slice(0, eq);
  if (!ENV_NAME.test(name)) throw invalidInput(`'${name}' is not an environment variable name: ${forms}`);
  if (eq < 0) {
    if (!out.names.includes(name)) out.names.push(name);
  } else out.set[name] = item.slice(eq + 1);
}

/** `keisan submit --env KEY=VAL` (repeatable); `--env KEY` copies KEY from the submitter's environment. */
export function parseEnvOption(values: readonly string[]): { names: string[]; set: Record<string, string> } {
  const out: EnvExport = { inherit: 'all', names: [], set: {} };
  for (const value of values) addEnvItem(out, value, 'write KEY=value (or KEY to copy it from your environment)');
  return { names: out.names, set: out.set };
}

// ---------------------------------------------------------------------------------------------
// Script scanning

interface DirectiveLine {
  line: number;
  dialect: 'slurm' | 'lsf';
  /** The magic word as written (#SBATCH, #SLURM, #BSUB). */
  magic: string;
  args: string[];
}

function lineError(line: number, message: string): KeisanError {
  return invalidInput(line > 0 ? `line ${line}: ${message}` : message, line > 0 ? { line } : undefined);
}

/** Splits a directive's text into arguments as sbatch does (quotes, backslash, `#` comment). */
export function splitDirectiveArguments(text: string, line = 0): string[] {
  const args: string[] = [];
  let current = '';
  let inArg = false;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote !== null) {
      if (ch === quote) quote = null;
      else current += ch;
      continue;
    }
    if (ch === '\\') {
      const next = text[i + 1];
      if (next !== undefined) {
        current += next;
        inArg = true;
        i++;
      }
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      inArg = true;
      continue;
    }
    if (ch === '#') break;
    if (/\s/.test(ch)) {
      if (inArg) args.push(current);
      current = '';
      inArg = false;
      continue;
    }
    current += ch;
    inArg = true;
  }
  if (quote !== null) throw lineError(line, `unmatched ${quote} quote: close it or escape it with a backslash`);
  if (inArg) args.push(current);
  return args;
}

const MAX_LATE_WARNINGS = 10;

/**
 * Reads the `#SBATCH` and `#BSUB` directives at the top of a job script. Pure: the caller gives
 * the text (any size; only the header is parsed, the rest is scanned once for misplaced
 * directives). Throws INVALID_INPUT naming the line for malformed, contradictory or unsupported
 * directives; returns warnings for harmless ones.
 */
export function parseScriptDirectives(text: string): ParsedDirectives {
  const warnings: DirectiveWarning[] = [];
  if (text.trim() === '') throw invalidInput('the script is empty: write the commands to run, starting with a #! line such as #!/bin/bash');
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const line = countLines(text, nul);
    throw lineError(line, 'the script holds a NUL byte: it is not a text file (was a binary file given instead of the script?)');
  }
  let body = text;
  if (body.startsWith('\uFEFF')) {
    body = body.slice(1);
    warnings.push({ line: 1, message: 'the script starts with a byte-order mark: it was ignored, but bash may not see the #! line; save the file without BOM' });
  }
  if (body.includes('\r\n')) {
    warnings.push({
      line: 1,
      message: 'the script has Windows (CRLF) line endings: directives were read, but bash will see a stray \\r on every line; convert it with dos2unix',
    });
  }

  const directives: DirectiveLine[] = [];
  let shebang: string | null = null;
  let pos = 0;
  let lineNo = 0;
  let firstCommandLine = 0;
  while (pos <= body.length) {
    const end = body.indexOf('\n', pos);
    const stop = end < 0 ? body.length : end;
    let line = body.slice(pos, stop);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    lineNo++;
    pos = stop + 1;
    if (lineNo === 1 && line.startsWith('#!')) {
      shebang = line.slice(2).trim();
      continue;
    }
    const trimmed = line.trimStart();
    if (trimmed === '') {
      if (end < 0) break;
      continue;
    }
    if (!trimmed.startsWith('#')) {
      firstCommandLine = lineNo;
      break;
    }
    const magic = /^#(SBATCH|SLURM|BSUB)(?=\s|$)/.exec(line);
    if (magic) {
      const dialect = magic[1] === 'BSUB' ? 'lsf' : 'slurm';
      if (magic[1] === 'SLURM') warnings.push({ line: lineNo, message: '#SLURM is the old spelling: write #SBATCH' });
      const args = splitDirectiveArguments(line.slice(magic[0].length), lineNo);
      if (args.length === 0) warnings.push({ line: lineNo, message: `${magic[0]} without options: nothing to read` });
      else directives.push({ line: lineNo, dialect, magic: magic[0], args });
    } else {
      const lookalike = lookalikeDirective(line);
      if (lookalike) warnings.push({ line: lineNo, message: lookalike });
    }
    if (end < 0) break;
  }
  if (shebang === null) {
    warnings.push({ line: 1, message: "the script has no '#!' line (sbatch refuses such scripts): start it with e.g. #!/bin/bash" });
  }
  if (firstCommandLine > 0) warnLateDirectives(body, pos, firstCommandLine, warnings);

  const slurmLines = directives.filter((d) => d.dialect === 'slurm');
  const lsfLines = directives.filter((d) => d.dialect === 'lsf');
  const slurm = slurmLines.length > 0 ? resolveSlurm(slurmLines, warnings) : null;
  const lsf = lsfLines.length > 0 ? resolveLsf(lsfLines, warnings) : null;
  const dialect: Dialect = slurm ? 'slurm' : lsf ? 'lsf' : 'none';
  const combined = combineDialects(slurm, lsf, warnings);

  const result: ParsedDirectives = { dialect, shebang, lines: {}, warnings };
  for (const key of Object.keys(combined) as DirectiveField[]) copyField(result, combined, key);
  warnings.sort((a, b) => a.line - b.line);
  return result;
}

function copyField<K extends DirectiveField>(target: ParsedDirectives, source: Resolved, key: K): void {
  const slot = source[key];
  if (slot) {
    (target as DirectiveFields)[key] = slot.value as DirectiveFields[K];
    target.lines[key] = slot.line;
  }
}

function countLines(text: string, upTo: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < upTo; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function lookalikeDirective(line: string): string | null {
  const spaced = /^\s*#\s+(SBATCH|BSUB)\b/i.exec(line);
  if (spaced) return `'${line.trim()}' is a comment, not a directive: write #${spaced[1]!.toUpperCase()} with no space to make it one`;
  const indented = /^\s+#(SBATCH|BSUB)\b/i.exec(line);
  if (indented) return `'${line.trim()}' is a comment, not a directive: directives start in the first column`;
  const cased = /^#(sbatch|bsub)\b/i.exec(line);
  if (cased && cased[1] !== cased[1]!.toUpperCase()) return `'${line.trim()}' is a comment, not a directive: write #${cased[1]!.toUpperCase()} in capitals`;
  const glued = /^#(SBATCH|BSUB)\S/.exec(line);
  if (glued) return `'${line.trim()}' is not read as a directive: put a space after #${glued[1]}`;
  if (/^#PBS\b/.test(line)) return '#PBS directives are not read: write them as #SBATCH (or #BSUB) directives';
  return null;
}

function warnLateDirectives(body: string, from: number, firstCommandLine: number, warnings: DirectiveWarning[]): void {
  const pattern = /^#(SBATCH|BSUB)(?=\s|$)/gm;
  pattern.lastIndex = from;
  let lineNo = firstCommandLine + 1;
  let counted = from;
  let late = 0;
  for (let match = pattern.exec(body); match; match = pattern.exec(body)) {
    lineNo += countNewlines(body, counted, match.index);
    counted = match.index;
    late++;
    if (late <= MAX_LATE_WARNINGS) {
      warnings.push({
        line: lineNo,
        message: `#${match[1]} after the first command (line ${firstCommandLine}) is ignored, as sbatch and bsub ignore it: move it above line ${firstCommandLine}`,
      });
    }
  }
  if (late > MAX_LATE_WARNINGS) {
    warnings.push({ line: lineNo, message: `${late - MAX_LATE_WARNINGS} more directives after the first command were ignored` });
  }
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Per-dialect option tables

interface Slot<T> {
  value: T;
  line: number;
  /** The option as the user wrote it (e.g. "--mem", "-c", "#BSUB -n"). */
  option: string;
}
type Slots<F> = { [K in keyof F]?: Slot<F[K]> };

interface Source {
  line: number;
  option: string;
  warnings: DirectiveWarning[];
}

function put<F, K extends keyof F>(slots: Slots<F>, key: K, value: F[K], at: Source): void {
  const previous = slots[key];
  if (previous && JSON.stringify(previous.value) !== JSON.stringify(value)) {
    at.warnings.push({
      line: at.line,
      message: `${at.option} replaces ${previous.option} of line ${previous.line} (the later directive wins, as in sbatch)`,
    });
  }
  slots[key] = { value, line: at.line, option: at.option };
}

type ArgKind = 'required' | 'optional' | 'none';

interface OptionDef<F> {
  names: string[];
  arg: ArgKind;
  apply: (slots: Slots<F>, value: string | undefined, at: Source) => void;
}

function ignored<F>(names: string[], arg: ArgKind, why: string): OptionDef<F> {
  return {
    names,
    arg,
    apply: (_slots, _value, at) => at.warnings.push({ line: at.line, message: `${at.option} is ignored: ${why}` }),
  };
}

function refused<F>(names: string[], arg: ArgKind, why: string): OptionDef<F> {
  return {
    names,
    arg,
    apply: (_slots, _value, at) => {
      throw lineError(at.line, `${at.option} is not supported: ${why}`);
    },
  };
}

/** Runs a value parser, turning its error into one that names the line and the option. */
function valueOf<T>(at: Source, value: string | undefined, parse: (value: string, warn: Warn) => T): T {
  const text = value ?? '';
  try {
    return parse(text, (message) => at.warnings.push({ line: at.line, message: `${at.option}: ${message}` }));
  } catch (error) {
    if (error instanceof KeisanError) throw lineError(at.line, `${at.option} ${text}: ${error.message}`);
    throw error;
  }
}

interface Gpu {
  count: number;
  type: string | null;
}

interface SlurmFields {
  partition: string;
  ntasks: number;
  cpusPerTask: number;
  cpusPerGpu: number;
  ntasksPerNode: number;
  nodes: { min: number; max: number };
  mem: number | null;
  memPerCpu: number;
  memPerGpu: number;
  gres: Gpu;
  gpus: Gpu;
  gpusPerTask: Gpu;
  time: number | null;
  name: string;
  output: string;
  error: string;
  openMode: OpenMode;
  array: ArraySpec;
  dependencies: Dependency[];
  mail: MailEvents;
  mailUser: string;
  chdir: string;
  begin: BeginSpec;
  exclusive: boolean;
  export: EnvExport;
  account: string;
  hold: boolean;
}

type SD = OptionDef<SlurmFields>;

function slurmSet<K extends keyof SlurmFields>(key: K, parse: (value: string, warn: Warn) => SlurmFields[K]): SD['apply'] {
  return (slots, value, at) => put(slots, key, valueOf(at, value, parse), at);
}

const nonEmpty = (what: string) => (value: string) => {
  if (value.trim() === '') throw invalidInput(`an empty ${what}`);
  return value;
};

const gpuOf = (request: GpuRequest): Gpu => ({ count: request.gpus, type: request.gpuType });

function slurmOutput(value: string): string {
  if (value.trim() === '') throw invalidInput('an empty file name');
  return value.toLowerCase() === 'none' ? '/dev/null' : value;
}

function parseNodes(value: string): { min: number; max: number } {
  const match = /^(\d+)(?:-(\d+))?$/.exec(value.trim());
  if (!match) throw invalidInput(`'${value}' is not a node count: write 1 (Keisan runs a job on one node)`);
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  if (min < 1 || max < min) throw invalidInput(`'${value}' is not a node count: write 1`);
  return { min, max };
}

const SLURM_OPTIONS: SD[] = [
  { names: ['--partition', '-p'], arg: 'required', apply: slurmSet('partition', (v, warn) => {
    const names = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (names.length === 0) throw invalidInput('an empty queue name');
    if (names.length > 1) warn(`several partitions given: the job goes to the first, '${names[0]}'`);
    return names[0]!;
  }) },
  { names: ['--cpus-per-task', '-c'], arg: 'required', apply: slurmSet('cpusPerTask', (v) => parseCount(v, 'CPUs per task')) },
  { names: ['--cpus-per-gpu'], arg: 'required', apply: slurmSet('cpusPerGpu', (v) => parseCount(v, 'CPUs per GPU')) },
  { names: ['--ntasks', '-n'], arg: 'required', apply: slurmSet('ntasks', (v) => parseCount(v, 'tasks')) },
  { names: ['--ntasks-per-node'], arg: 'required', apply: slurmSet('ntasksPerNode', (v) => parseCount(v, 'tasks per node')) },
  { names: ['--nodes', '-N'], arg: 'required', apply: slurmSet('nodes', parseNodes) },
  { names: ['--mem'], arg: 'required', apply: slurmSet('mem', parseSlurmMemory) },
  { names: ['--mem-per-cpu'], arg: 'required', apply: slurmSet('memPerCpu', (v) => positiveMemory(v)) },
  { names: ['--mem-per-gpu'], arg: 'required', apply: slurmSet('memPerGpu', (v) => positiveMemory(v)) },
  { names: ['--gres'], arg: 'required', apply: slurmSet('gres', (v) => gpuOf(parseGres(v))) },
  { names: ['--gpus', '-G', '--gpus-per-node'], arg: 'required', apply: slurmSet('gpus', (v) => gpuOf(parseGpuRequest(v))) },
  { names: ['--gpus-per-task'], arg: 'required', apply: slurmSet('gpusPerTask', (v) => gpuOf(parseGpuRequest(v))) },
  { names: ['--time', '-t'], arg: 'required', apply: slurmSet('time', parseSlurmTime) },
  { names: ['--job-name', '-J'], arg: 'required', apply: slurmSet('name', nonEmpty('job name')) },
  { names: ['--output', '-o'], arg: 'required', apply: slurmSet('output', slurmOutput) },
  { names: ['--error', '-e'], arg: 'required', apply: slurmSet('error', slurmOutput) },
  { names: ['--open-mode'], arg: 'required', apply: slurmSet('openMode', (v) => {
    const mode = v.trim().toLowerCase();
    if (mode === 'append' || mode === 'truncate') return mode;
    throw invalidInput(`'${v}' is not an open mode: write append or truncate`);
  }) },
  { names: ['--array', '-a'], arg: 'required', apply: slurmSet('array', (v) => parseArraySpec(v)) },
  { names: ['--dependency', '-d'], arg: 'required', apply: slurmSet('dependencies', parseSlurmDependency) },
  { names: ['--mail-type'], arg: 'required', apply: (slots, value, at) => {
    const mail = valueOf(at, value, (v, warn) => parseMailTypes(v, warn, slots.mail?.value));
    slots.mail = { value: mail, line: at.line, option: at.option };
  } },
  { names: ['--mail-user'], arg: 'required', apply: slurmSet('mailUser', nonEmpty('mail address')) },
  { names: ['--chdir', '-D', '--workdir'], arg: 'required', apply: slurmSet('chdir', nonEmpty('directory')) },
  { names: ['--begin', '-b'], arg: 'required', apply: slurmSet('begin', parseBeginTime) },
  { names: ['--exclusive'], arg: 'optional', apply: (slots, value, at) => {
    if (value !== undefined && !/^(user|mcs)$/i.test(value)) {
      throw lineError(at.line, `${at.option}=${value}: write --exclusive (the whole node), --exclusive=user or --exclusive=mcs`);
    }
    if (value !== undefined) at.warnings.push({ line: at.line, message: `${at.option}=${value} is treated as --exclusive: the node is not shared with other jobs` });
    put(slots, 'exclusive', true, at);
  } },
  { names: ['--export'], arg: 'required', apply: slurmSet('export', parseSlurmExport) },
  { names: ['--account', '-A'], arg: 'required', apply: slurmSet('account', nonEmpty('account')) },
  { names: ['--hold', '-H'], arg: 'none', apply: (slots, _value, at) => put(slots, 'hold', true, at) },
  // Harmless: accepted, with a warning.
  ignored(['--qos', '-q'], 'required', 'there are no QOS levels: a queue carries the priority and limits'),
  ignored(['--constraint', '-C'], 'required', 'node features are not matched: the job runs on this node'),
  ignored(['--cluster-constraint'], 'required', 'there is one cluster'),
  ignored(['--clusters', '-M'], 'required', 'there is one cluster'),
  ignored(['--hint'], 'required', 'CPU placement hints are not applied'),
  ignored(['--distribution', '-m'], 'required', 'task distribution does not apply on one node'),
  ignored(['--mem-bind'], 'required', 'memory binding is not applied'),
  ignored(['--cpu-bind'], 'required', 'CPU binding is not applied'),
  ignored(['--gpu-bind'], 'required', 'GPU binding is not applied'),
  ignored(['--gpu-freq'], 'required', 'GPU frequencies are not set'),
  ignored(['--cpu-freq'], 'required', 'CPU frequencies are not set'),
  ignored(['--comment'], 'required', 'comments are not stored'),
  ignored(['--wckey'], 'required', 'workload keys are not used'),
  ignored(['--mcs-label'], 'required', 'MCS labels are not used'),
  ignored(['--profile'], 'required', 'profiling is not collected'),
  ignored(['--acctg-freq'], 'required', 'accounting is sampled at its own rate'),
  ignored(['--requeue'], 'none', 'jobs are not requeued'),
  ignored(['--no-requeue'], 'none', 'jobs are never requeued'),
  ignored(['--nice'], 'optional', "a queue's priority and fair share order jobs"),
  ignored(['--priority'], 'required', "a queue's priority and fair share order jobs"),
  ignored(['--reservation'], 'required', 'there are no advance reservations of nodes'),
  ignored(['--licenses', '-L'], 'required', 'licenses are not counted'),
  ignored(['--threads-per-core'], 'required', 'CPUs are counted as the node reports them'),
  ignored(['--cores-per-socket'], 'required', 'CPUs are counted as the node reports them'),
  ignored(['--sockets-per-node'], 'required', 'CPUs are counted as the node reports them'),
  ignored(['--extra-node-info', '-B'], 'required', 'CPUs are counted as the node reports them'),
  ignored(['--ntasks-per-core'], 'required', 'tasks are not bound to cores'),
  ignored(['--ntasks-per-socket'], 'required', 'tasks are not bound to sockets'),
  ignored(['--mincpus'], 'required', 'ask for CPUs with -c or -n'),
  ignored(['--tmp'], 'required', 'local scratch space is not reserved'),
  ignored(['--signal'], 'required', 'no warning signal is sent before the time limit'),
  ignored(['--time-min'], 'required', 'the job gets its full --time'),
  ignored(['--deadline'], 'required', 'jobs are not cancelled for missing a deadline'),
  ignored(['--nodelist', '-w'], 'required', 'the job runs on this node'),
  ignored(['--exclude', '-x'], 'required', 'the job runs on this node'),
  ignored(['--switches'], 'required', 'there is one node'),
  ignored(['--contiguous'], 'none', 'there is one node'),
  ignored(['--spread-job'], 'none', 'there is one node'),
  ignored(['--use-min-nodes'], 'none', 'there is one node'),
  ignored(['--oversubscribe', '-s'], 'none', 'CPUs are given to one job at a time'),
  ignored(['--overcommit', '-O'], 'none', 'CPUs are given to one job at a time'),
  ignored(['--no-kill', '-k'], 'optional', 'there is one node'),
  ignored(['--kill-on-invalid-dep'], 'required', 'a job whose dependency can never be met is always cancelled'),
  ignored(['--get-user-env'], 'optional', 'the environment is the one of the submission (see --export)'),
  ignored(['--propagate'], 'optional', "resource limits come from the job's request"),
  ignored(['--umask'], 'required', "files are created with the job's usual umask"),
  ignored(['--gres-flags'], 'required', 'GPUs are always given whole'),
  ignored(['--network'], 'required', 'there is no interconnect to configure'),
  ignored(['--power'], 'required', 'power options are not used'),
  ignored(['--reboot'], 'none', 'nodes are not rebooted for jobs'),
  ignored(['--delay-boot'], 'required', 'nodes are not rebooted for jobs'),
  ignored(['--core-spec', '-S'], 'required', 'core specialisation is not applied'),
  ignored(['--thread-spec'], 'required', 'core specialisation is not applied'),
  ignored(['--parsable'], 'none', 'it changes only what sbatch prints'),
  ignored(['--quiet', '-Q'], 'none', 'it changes only what sbatch prints'),
  ignored(['--verbose', '-v'], 'none', 'it changes only what sbatch prints'),
  ignored(['--wait', '-W'], 'none', 'use keisan submit --wait on the command line'),
  ignored(['--immediate', '-I'], 'optional', 'sbatch ignores it too'),
  ignored(['--ignore-pbs'], 'none', '#PBS directives are never read'),
  ignored(['--batch'], 'required', 'node features are not matched'),
  // Meaning we cannot keep: refused.
  refused(['--uid'], 'required', 'a job runs as the user who submits it'),
  refused(['--gid'], 'required', 'a job runs with the group of the user who submits it'),
  refused(['--wrap'], 'required', 'it belongs on the command line, not in a script'),
  refused(['--test-only'], 'none', 'a job in a script is always submitted'),
  refused(['--input', '-i'], 'required', "a batch job's standard input is empty: read the file in the script (command < file)"),
  refused(['--export-file'], 'required', 'write the variables with --export or keisan submit --env'),
  refused(['--bb'], 'required', 'there are no burst buffers'),
  refused(['--bbf'], 'required', 'there are no burst buffers'),
  refused(['--container'], 'required', 'OCI containers are not run by the batch system: call the runtime in the script'),
  refused(['--container-id'], 'required', 'OCI containers are not run by the batch system'),
  refused(['--jobid'], 'required', 'Keisan numbers the jobs'),
  refused(['--tres-per-task'], 'required', 'write --cpus-per-task and --gpus-per-task'),
  refused(['--ntasks-per-gpu'], 'required', 'write --ntasks and --gpus'),
  refused(['--gpus-per-socket'], 'required', 'write --gpus'),
  refused(['--x11'], 'optional', 'batch jobs have no display'),
  refused(['--help', '-h'], 'none', 'not a job option'),
  refused(['--usage'], 'none', 'not a job option'),
  refused(['--version', '-V'], 'none', 'not a job option'),
];

function positiveMemory(value: string): number {
  const bytes = parseMegabytesDefault(value);
  if (bytes === 0) throw invalidInput(`'${value}' is no memory at all: write e.g. 4G`);
  return bytes;
}

interface LsfFields {
  queue: string;
  slots: number;
  time: number;
  memLimit: number;
  rusageMem: number;
  rusageGpus: number;
  ptile: number;
  spanHosts: number;
  gpu: Gpu;
  name: string;
  array: ArraySpec;
  output: string;
  outputMode: OpenMode;
  error: string;
  errorMode: OpenMode;
  mailBegin: boolean;
  mailEnd: boolean;
  mailUser: string;
  chdir: string;
  dependencies: Dependency[];
  exclusive: boolean;
  begin: BeginSpec;
  hold: boolean;
  env: EnvExport;
  account: string;
}

type LD = OptionDef<LsfFields>;

function lsfSet<K extends keyof LsfFields>(key: K, parse: (value: string, warn: Warn) => LsfFields[K]): LD['apply'] {
  return (slots, value, at) => put(slots, key, valueOf(at, value, parse), at);
}

function lsfFlag(key: 'mailBegin' | 'mailEnd' | 'exclusive' | 'hold'): LD['apply'] {
  return (slots, _value, at) => put(slots, key, true, at);
}

function lsfOutput(outputKey: 'output' | 'error', modeKey: 'outputMode' | 'errorMode', mode: OpenMode): LD['apply'] {
  return (slots, value, at) => {
    const file = valueOf(at, value, nonEmpty('file name'));
    put(slots, outputKey, file, at);
    put(slots, modeKey, mode, at);
  };
}

function parseLsfSlots(value: string, warn: Warn): number {
  const match = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(value);
  if (!match) throw invalidInput(`'${value}' is not a number of slots: write N or min,max (e.g. 8 or 4,8)`);
  const min = checkCount(Number(match[1]), 'slots');
  if (match[2] !== undefined) {
    const max = checkCount(Number(match[2]), 'slots');
    if (max < min) throw invalidInput(`'${value}': the maximum is below the minimum`);
    if (max !== min) warn(`a range of slots: the job asks for the minimum, ${min}`);
  }
  return min;
}

/** LSF `-gpu`: `-` (default: one GPU) or `num=N[:mode=…][:gmodel=…]…`. */
function parseLsfGpu(value: string, warn: Warn): Gpu {
  const text = value.trim();
  if (text === '-' || text === '') return { count: 1, type: null };
  const gpu: Gpu = { count: 1, type: null };
  for (const part of text.split(':')) {
    const match = /^\s*(\w+)\s*=\s*(.*?)\s*$/.exec(part);
    if (!match) throw invalidInput(`'${part}' is not a GPU requirement: write num=2, num=2:mode=exclusive_process or -`);
    const [key, val] = [match[1]!.toLowerCase(), match[2]!];
    if (key === 'num') {
      if (!/^\d+$/.test(val)) throw invalidInput(`num=${val}: write a whole number of GPUs, e.g. num=2`);
      gpu.count = checkCount(Number(val), 'GPUs', 0);
    } else if (key === 'gmodel') gpu.type = normalizeGpuType(val.replace(/[-#].*$/, ''));
    else if (key === 'mode') {
      if (val.toLowerCase() === 'shared') warn('mode=shared: GPUs are given to one job at a time (exclusive)');
      else if (val.toLowerCase() !== 'exclusive_process') throw invalidInput(`mode=${val}: write mode=shared or mode=exclusive_process`);
    } else if (key === 'j_exclusive') {
      if (val.toLowerCase() === 'no') warn('j_exclusive=no: GPUs are given to one job at a time');
    } else warn(`${key}=${val} is ignored: Keisan counts whole GPUs (num) of a model (gmodel)`);
  }
  return gpu;
}

interface LsfResources {
  memMb?: number;
  gpus?: number;
  ptile?: number;
  hosts?: number;
}

/** LSF `-R`: `rusage[mem=4096]` (MB), `span[hosts=1]`, `span[ptile=8]`; select/order/same/cu/affinity are warnings. */
function parseLsfResources(value: string, warn: Warn): LsfResources {
  const out: LsfResources = {};
  const sectionPattern = /(\w+)\s*\[([^\]]*)\]/g;
  const outside = value.replace(sectionPattern, ' ').trim();
  if (outside !== '') warn(`'${outside}' (a host selection) is ignored: the job runs on this node`);
  for (const section of value.matchAll(sectionPattern)) {
    const name = section[1]!.toLowerCase();
    const content = section[2]!.trim();
    if (name === 'rusage') {
      if (content.includes('||')) throw invalidInput(`rusage[${content}]: alternative reservations (||) are not supported: keep one`);
      for (const item of content.split(/[:,]/)) {
        const match = /^\s*(\w+)\s*=\s*([^\s]+)\s*$/.exec(item);
        if (!match) {
          if (item.trim() !== '') throw invalidInput(`rusage[${content}]: '${item.trim()}' is not name=value: write rusage[mem=4096]`);
          continue;
        }
        const key = match[1]!.toLowerCase();
        if (key === 'mem') out.memMb = parseLsfMemory(match[2]!);
        else if (key === 'ngpus_physical' || key === 'ngpus' || key === 'ngpus_shared' || key === 'ngpus_excl_p') {
          if (!/^\d+$/.test(match[2]!)) throw invalidInput(`rusage ${key}=${match[2]}: write a whole number`);
          out.gpus = Number(match[2]);
        } else warn(`rusage ${key}=${match[2]} is ignored: only mem and GPUs are reserved`);
      }
    } else if (name === 'span') {
      for (const item of content.split(/[:,\s]+/).filter((s) => s !== '')) {
        const match = /^(\w+)=(-?\d+)$/.exec(item);
        if (!match) throw invalidInput(`span[${content}]: write span[hosts=1] or span[ptile=N]`);
        const key = match[1]!.toLowerCase();
        const n = Number(match[2]);
        if (key === 'hosts') out.hosts = n;
        else if (key === 'ptile') out.ptile = n;
        else warn(`span ${key}=${n} is ignored`);
      }
    } else warn(`${name}[${content}] is ignored: the job runs on this node`);
  }
  return out;
}

function parseLsfName(value: string): { name?: string; array?: ArraySpec } {
  const text = value.trim();
  const match = /^(.*?)\[([^\]]*)\](%\d+)?$/.exec(text);
  if (!match) {
    if (text === '') throw invalidInput('an empty job name');
    if (/[[\]]/.test(text)) throw invalidInput(`'${text}' is neither a name nor an array: write name or "name[1-100]%10"`);
    return { name: text };
  }
  const array = parseArraySpec(match[2]! + (match[3] ?? ''));
  return match[1] === '' ? { array } : { name: match[1]!, array };
}

const LSF_OPTIONS: LD[] = [
  { names: ['-q'], arg: 'required', apply: lsfSet('queue', (v, warn) => {
    const names = v.split(/\s+/).filter((s) => s !== '');
    if (names.length === 0) throw invalidInput('an empty queue name');
    if (names.length > 1) warn(`several queues given: the job goes to the first, '${names[0]}'`);
    return names[0]!;
  }) },
  { names: ['-n'], arg: 'required', apply: lsfSet('slots', parseLsfSlots) },
  { names: ['-W'], arg: 'required', apply: lsfSet('time', (v) => parseLsfTime(v)) },
  { names: ['-M'], arg: 'required', apply: lsfSet('memLimit', (v) => parseLsfMemory(v)) },
  { names: ['-R'], arg: 'required', apply: (slots, value, at) => {
    const res = valueOf(at, value, parseLsfResources);
    if (res.memMb !== undefined) put(slots, 'rusageMem', res.memMb, at);
    if (res.gpus !== undefined) put(slots, 'rusageGpus', res.gpus, at);
    if (res.ptile !== undefined) put(slots, 'ptile', res.ptile, at);
    if (res.hosts !== undefined) put(slots, 'spanHosts', res.hosts, at);
  } },
  { names: ['-gpu'], arg: 'required', apply: lsfSet('gpu', parseLsfGpu) },
  { names: ['-J'], arg: 'required', apply: (slots, value, at) => {
    const parsed = valueOf(at, value, parseLsfName);
    if (parsed.name !== undefined) put(slots, 'name', parsed.name, at);
    if (parsed.array !== undefined) put(slots, 'array', parsed.array, at);
  } },
  { names: ['-o'], arg: 'required', apply: lsfOutput('output', 'outputMode', 'append') },
  { names: ['-oo'], arg: 'required', apply: lsfOutput('output', 'outputMode', 'truncate') },
  { names: ['-e'], arg: 'required', apply: lsfOutput('error', 'errorMode', 'append') },
  { names: ['-eo'], arg: 'required', apply: lsfOutput('error', 'errorMode', 'truncate') },
  { names: ['-N'], arg: 'none', apply: lsfFlag('mailEnd') },
  { names: ['-B'], arg: 'none', apply: lsfFlag('mailBegin') },
  { names: ['-u'], arg: 'required', apply: lsfSet('mailUser', nonEmpty('mail address')) },
  { names: ['-cwd'], arg: 'required', apply: lsfSet('chdir', nonEmpty('directory')) },
  { names: ['-w'], arg: 'required', apply: lsfSet('dependencies', parseLsfDependency) },
  { names: ['-x'], arg: 'none', apply: lsfFlag('exclusive') },
  { names: ['-b'], arg: 'required', apply: lsfSet('begin', (v) => parseLsfBeginTime(v)) },
  { names: ['-H'], arg: 'none', apply: lsfFlag('hold') },
  { names: ['-env'], arg: 'required', apply: lsfSet('env', parseLsfEnv) },
  { names: ['-G'], arg: 'required', apply: lsfSet('account', nonEmpty('user group')) },
  ignored(['-P'], 'required', 'projects are not used: the job is accounted to your subgroup (-G chooses another)'),
  ignored(['-We'], 'required', 'estimated run times are not used: -W is the limit'),
  ignored(['-c'], 'required', "the queue's CPU time limit applies"),
  ignored(['-m'], 'required', 'the job runs on this node'),
  ignored(['-sp'], 'required', "a queue's priority and fair share order jobs"),
  ignored(['-app'], 'required', 'application profiles are not used'),
  ignored(['-r'], 'none', 'jobs are not rerun'),
  ignored(['-rn'], 'none', 'jobs are never rerun'),
  ignored(['-rnc'], 'required', 'jobs are not rerun'),
  ignored(['-Q'], 'required', 'jobs are not requeued'),
  ignored(['-t'], 'required', 'jobs end at their -W run limit, not at a termination time'),
  ignored(['-Jd'], 'required', 'descriptions are not stored'),
  ignored(['-g'], 'required', 'job groups are not used'),
  ignored(['-sla'], 'required', 'service classes are not used'),
  ignored(['-ext', '-extsched'], 'required', 'external scheduler options are not used'),
  ignored(['-k'], 'required', 'jobs are not checkpointed'),
  ignored(['-s'], 'required', 'no warning signal is sent'),
  ignored(['-a'], 'required', 'esub programs are not run'),
  ignored(['-U'], 'required', 'there are no advance reservations'),
  ignored(['-L'], 'required', 'the script runs with its #! interpreter'),
  ignored(['-Lp'], 'required', 'license projects are not used'),
  ignored(['-outdir'], 'required', 'write the directory into -o'),
  ignored(['-ul'], 'none', 'limits come from the job request'),
  ignored(['-hl'], 'none', 'limits come from the job request'),
  ignored(['-Zs'], 'none', 'the script is read at submission anyway'),
  ignored(['-K'], 'none', 'use keisan submit --wait on the command line'),
  ignored(['-S'], 'required', 'per-process limits are not set'),
  ignored(['-F'], 'required', 'per-process limits are not set'),
  ignored(['-D'], 'required', 'per-process limits are not set'),
  ignored(['-C'], 'required', 'per-process limits are not set'),
  ignored(['-v'], 'required', 'swap is limited with memory'),
  ignored(['-p'], 'required', 'the process limit is the queue’s'),
  ignored(['-T'], 'required', 'the thread limit is the queue’s'),
  refused(['-I', '-Ip', '-Is', '-IS', '-ISp', '-ISs', '-IX'], 'none', 'interactive jobs are not batch jobs: run the command in a terminal'),
  refused(['-E', '-Ep'], 'required', 'pre- and post-execution commands are not run: put them in the script'),
  refused(['-f'], 'required', 'files are not copied to and from the job: the job reads and writes your directories'),
  refused(['-i', '-is'], 'required', "a batch job's standard input is empty: read the file in the script (command < file)"),
  refused(['-XF'], 'none', 'batch jobs have no display'),
  refused(['-pack', '-json', '-yaml', '-jsdl', '-jsdl_strict'], 'required', 'write the options as #BSUB lines'),
  refused(['-data', '-datagrp', '-stage'], 'required', 'data staging is done with keisan stage'),
];

interface Lookup<F> {
  byName: Map<string, OptionDef<F>>;
  longNames: string[];
}

function lookupOf<F>(defs: OptionDef<F>[]): Lookup<F> {
  const byName = new Map<string, OptionDef<F>>();
  for (const def of defs) for (const name of def.names) byName.set(name, def);
  return { byName, longNames: [...byName.keys()] };
}

const SLURM_LOOKUP = lookupOf(SLURM_OPTIONS);
const LSF_LOOKUP = lookupOf(LSF_OPTIONS);

function suggestion(name: string, names: string[]): string {
  if (name.length <= 3) return '';
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of names) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best !== null && bestDistance <= Math.max(3, Math.floor(name.length / 3)) ? `; did you mean ${best}?` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** getopt_long's rules: `--opt=value`, `--opt value`, unique prefixes; `-c4`, `-c 4`; flags may be grouped (`-Hv`). */
function parseSlurmArgs(directive: DirectiveLine, slots: Slots<SlurmFields>, warnings: DirectiveWarning[]): void {
  const { args, line } = directive;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const written = eq < 0 ? arg : arg.slice(0, eq);
      let def = SLURM_LOOKUP.byName.get(written);
      let name = written;
      if (!def) {
        const matches = SLURM_LOOKUP.longNames.filter((n) => n.startsWith(written));
        const distinct = new Set(matches.map((n) => SLURM_LOOKUP.byName.get(n)));
        if (distinct.size === 1) {
          name = matches[0]!;
          def = SLURM_LOOKUP.byName.get(name);
        } else if (distinct.size > 1) {
          throw lineError(line, `${written} is ambiguous: it could be ${matches.join(', ')}`);
        }
      }
      if (!def) {
        throw lineError(line, `unknown #SBATCH option ${written}${suggestion(written, SLURM_LOOKUP.longNames.filter((n) => n.startsWith('--')))}`);
      }
      let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
      if (def.arg === 'none' && value !== undefined) throw lineError(line, `${written} takes no value (found '${value}')`);
      if (def.arg === 'required' && value === undefined) {
        value = args[++i];
        if (value === undefined) throw lineError(line, `${written} needs a value`);
      }
      def.apply(slots, value, { line, option: written, warnings });
    } else if (arg.startsWith('-') && arg.length > 1 && !arg.startsWith('--')) {
      let rest = arg.slice(1);
      while (rest !== '') {
        const option = `-${rest[0]}`;
        const def = SLURM_LOOKUP.byName.get(option);
        if (!def) throw lineError(line, `unknown #SBATCH option ${option}${suggestion(option, SLURM_LOOKUP.longNames.filter((n) => !n.startsWith('--')))}`);
        rest = rest.slice(1);
        if (def.arg === 'none' || (def.arg === 'optional' && rest === '')) {
          def.apply(slots, undefined, { line, option, warnings });
          continue;
        }
        let value: string | undefined = rest.startsWith('=') ? rest.slice(1) : rest;
        rest = '';
        if (value === '') {
          value = args[++i];
          if (value === undefined) throw lineError(line, `${option} needs a value`);
        }
        def.apply(slots, value, { line, option, warnings });
      }
    } else if (/^(packjob|hetjob)$/i.test(arg)) {
      throw lineError(line, `heterogeneous jobs (${arg}) are not supported: submit the components as separate jobs with --after`);
    } else {
      throw lineError(line, `'${arg}' is not an option: #SBATCH lines hold options such as --mem=4G or -c 4`);
    }
  }
}

/** bsub's rules: single-dash options, multi-letter names (-oo, -cwd, -gpu), values as the next word; `-n8` for one-letter options. */
function parseLsfArgs(directive: DirectiveLine, slots: Slots<LsfFields>, warnings: DirectiveWarning[]): void {
  const { args, line } = directive;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      throw lineError(line, `'${arg}' is not an option: #BSUB lines hold options such as -n 8 or -W 4:00 (quote values with spaces)`);
    }
    let def = LSF_LOOKUP.byName.get(arg);
    let option = arg;
    let value: string | undefined;
    // `-n8`, `-qshort`: a one-letter option with its value attached — unless the word begins
    // with a longer option's name (`-gpuz` is a misspelt -gpu, not -g with "puz").
    const longerPrefix = LSF_LOOKUP.longNames.some((n) => n.length > 2 && arg.startsWith(n));
    if (!def && arg.length > 2 && !longerPrefix) {
      const short = LSF_LOOKUP.byName.get(arg.slice(0, 2));
      if (short && short.arg === 'required') {
        def = short;
        option = arg.slice(0, 2);
        value = arg.slice(2);
      }
    }
    if (!def) throw lineError(line, `unknown #BSUB option ${arg}${suggestion(arg, LSF_LOOKUP.longNames)}`);
    if (def.arg === 'required' && value === undefined) {
      value = args[++i];
      if (value === undefined) throw lineError(line, `${option} needs a value`);
    }
    def.apply(slots, value, { line, option: `#BSUB ${option}`, warnings });
  }
}

// ---------------------------------------------------------------------------------------------
// Resolution

type Resolved = { [K in DirectiveField]?: Slot<Exclude<DirectiveFields[K], undefined>> };

function setResolved<K extends DirectiveField>(out: Resolved, key: K, value: Exclude<DirectiveFields[K], undefined>, from: { line: number; option: string }): void {
  (out as { [P in K]?: Slot<Exclude<DirectiveFields[K], undefined>> })[key] = { value, line: from.line, option: from.option };
}

function later(...slots: (Slot<unknown> | undefined)[]): { line: number; option: string } {
  let best: Slot<unknown> | undefined;
  for (const slot of slots) if (slot && (!best || slot.line >= best.line)) best = slot;
  return best ? { line: best.line, option: best.option } : { line: 0, option: '' };
}

function contradiction(a: Slot<unknown>, b: Slot<unknown>, hint = 'keep one'): KeisanError {
  const [first, second] = a.line <= b.line ? [a, b] : [b, a];
  const where = first.line === second.line ? '' : ` (line ${first.line})`;
  return lineError(second.line, `${first.option}${where} and ${second.option} contradict each other: ${hint}`);
}

function resolveSlurm(lines: DirectiveLine[], warnings: DirectiveWarning[]): Resolved {
  const s: Slots<SlurmFields> = {};
  for (const directive of lines) parseSlurmArgs(directive, s, warnings);
  const out: Resolved = {};

  if (s.nodes) {
    const { min, max } = s.nodes.value;
    if (min > 1) {
      throw lineError(s.nodes.line, `${s.nodes.option} ${min === max ? min : `${min}-${max}`} asks for ${min} nodes, but a job runs on one node here: use -N 1 (or drop it) and ask for CPUs with -n/-c`);
    }
    if (max > 1) warnings.push({ line: s.nodes.line, message: `${s.nodes.option}: the job runs on one node` });
  }
  let ntasks = s.ntasks?.value;
  if (s.ntasksPerNode) {
    if (ntasks === undefined) ntasks = s.ntasksPerNode.value;
    else if (ntasks > s.ntasksPerNode.value) {
      const nodes = Math.ceil(ntasks / s.ntasksPerNode.value);
      throw lineError(later(s.ntasks, s.ntasksPerNode).line, `${s.ntasks!.option} ${ntasks} with ${s.ntasksPerNode.option} ${s.ntasksPerNode.value} needs ${nodes} nodes, but a job runs on one node here: raise --ntasks-per-node or drop it`);
    }
  }

  // GPUs: --gres, --gpus and --gpus-per-task must agree.
  const gpuSources: { slot: Slot<Gpu>; gpu: Gpu }[] = [];
  if (s.gres) gpuSources.push({ slot: s.gres, gpu: s.gres.value });
  if (s.gpus) gpuSources.push({ slot: s.gpus, gpu: s.gpus.value });
  if (s.gpusPerTask) gpuSources.push({ slot: s.gpusPerTask, gpu: { count: s.gpusPerTask.value.count * (ntasks ?? 1), type: s.gpusPerTask.value.type } });
  let gpus: Gpu | undefined;
  for (const source of gpuSources) {
    const first = gpuSources[0]!;
    if (source.gpu.count !== first.gpu.count || (source.gpu.type ?? first.gpu.type) !== (first.gpu.type ?? source.gpu.type)) {
      throw contradiction(first.slot, source.slot, 'ask for GPUs once');
    }
    gpus = { count: source.gpu.count, type: gpus?.type ?? source.gpu.type };
  }
  if (gpus) {
    const from = later(s.gres, s.gpus, s.gpusPerTask);
    setResolved(out, 'gpus', gpus.count, from);
    setResolved(out, 'gpuType', gpus.type, from);
  }

  if (s.cpusPerTask && s.cpusPerGpu) throw contradiction(s.cpusPerTask, s.cpusPerGpu);
  if (s.cpusPerGpu) {
    if (!gpus || gpus.count === 0) throw lineError(s.cpusPerGpu.line, `${s.cpusPerGpu.option} needs GPUs: add --gpus=N (or ask for CPUs with -c)`);
    const cpus = s.cpusPerGpu.value * gpus.count;
    const from = later(s.cpusPerGpu, s.gres, s.gpus, s.gpusPerTask, s.ntasks);
    setResolved(out, 'cpusPerGpu', s.cpusPerGpu.value, s.cpusPerGpu);
    setResolved(out, 'cpus', cpus, from);
    setResolved(out, 'ntasks', ntasks ?? 1, from);
    setResolved(out, 'cpusPerTask', Math.max(1, Math.floor(cpus / (ntasks ?? 1))), from);
  } else if (ntasks !== undefined || s.cpusPerTask) {
    const cpusPerTask = s.cpusPerTask?.value ?? 1;
    const from = later(s.ntasks, s.ntasksPerNode, s.cpusPerTask);
    const label = s.ntasks && s.cpusPerTask ? { ...from, option: `${s.ntasks.option} × ${s.cpusPerTask.option}` } : from;
    setResolved(out, 'cpus', checkCpus((ntasks ?? 1) * cpusPerTask, label), label);
    setResolved(out, 'ntasks', ntasks ?? 1, label);
    setResolved(out, 'cpusPerTask', cpusPerTask, label);
  }

  // Memory: one of --mem, --mem-per-cpu, --mem-per-gpu.
  const memSlots = [s.mem, s.memPerCpu, s.memPerGpu].filter((x): x is Slot<number | null> => x !== undefined);
  if (memSlots.length > 1) throw contradiction(memSlots[0]!, memSlots[1]!);
  if (s.mem) setResolved(out, 'memBytes', s.mem.value, s.mem);
  if (s.memPerCpu) {
    setResolved(out, 'memPerCpuBytes', s.memPerCpu.value, s.memPerCpu);
    setResolved(out, 'memBytes', s.memPerCpu.value * (out.cpus?.value ?? 1), later(s.memPerCpu, out.cpus));
  }
  if (s.memPerGpu) {
    if (!gpus || gpus.count === 0) throw lineError(s.memPerGpu.line, `${s.memPerGpu.option} needs GPUs: add --gpus=N (or use --mem)`);
    setResolved(out, 'memPerGpuBytes', s.memPerGpu.value, s.memPerGpu);
    setResolved(out, 'memBytes', s.memPerGpu.value * gpus.count, later(s.memPerGpu, s.gres, s.gpus, s.gpusPerTask));
  }

  if (s.partition) setResolved(out, 'queue', s.partition.value, s.partition);
  if (s.time) setResolved(out, 'timeLimitMs', s.time.value, s.time);
  if (s.name) setResolved(out, 'name', s.name.value, s.name);
  if (s.output) setResolved(out, 'output', s.output.value, s.output);
  if (s.error) setResolved(out, 'error', s.error.value, s.error);
  if (s.openMode) {
    setResolved(out, 'outputMode', s.openMode.value, s.openMode);
    setResolved(out, 'errorMode', s.openMode.value, s.openMode);
  }
  if (s.array) setResolved(out, 'array', s.array.value, s.array);
  if (s.dependencies) setResolved(out, 'dependencies', s.dependencies.value, s.dependencies);
  if (s.mail) setResolved(out, 'mail', s.mail.value, s.mail);
  if (s.mailUser) setResolved(out, 'mailUser', s.mailUser.value, s.mailUser);
  if (s.chdir) setResolved(out, 'chdir', s.chdir.value, s.chdir);
  if (s.begin) setResolved(out, 'beginAt', s.begin.value, s.begin);
  if (s.exclusive) setResolved(out, 'exclusive', s.exclusive.value, s.exclusive);
  if (s.hold) setResolved(out, 'hold', s.hold.value, s.hold);
  if (s.export) setResolved(out, 'env', s.export.value, s.export);
  if (s.account) setResolved(out, 'account', s.account.value, s.account);
  return out;
}

function checkCpus(cpus: number, from: { line: number; option: string }): number {
  if (cpus > 1_000_000) throw lineError(from.line, `${from.option} asks for ${cpus} CPUs: no node has that many`);
  return cpus;
}

/** LSF `%J` is the (array) job id and `%I` the index: sbatch's `%A` and `%a`. A path ending in `/` gets LSF's file name. */
function lsfPattern(pattern: string, isArray: boolean, suffix: 'out' | 'err'): string {
  const full = pattern.endsWith('/') ? `${pattern}${isArray ? '%J_%I' : '%J'}.${suffix}` : pattern;
  return full.replace(/%(%|J|I)/g, (whole, letter: string) => (letter === 'J' ? '%A' : letter === 'I' ? '%a' : whole));
}

function resolveLsf(lines: DirectiveLine[], warnings: DirectiveWarning[]): Resolved {
  const s: Slots<LsfFields> = {};
  for (const directive of lines) parseLsfArgs(directive, s, warnings);
  const out: Resolved = {};

  if (s.spanHosts && s.spanHosts.value > 1) {
    throw lineError(s.spanHosts.line, `span[hosts=${s.spanHosts.value}] asks for ${s.spanHosts.value} hosts, but a job runs on one host here: use span[hosts=1]`);
  }
  if (s.slots) {
    if (s.ptile && s.ptile.value > 0 && s.ptile.value < s.slots.value) {
      const hosts = Math.ceil(s.slots.value / s.ptile.value);
      throw lineError(later(s.slots, s.ptile).line, `-n ${s.slots.value} with span[ptile=${s.ptile.value}] needs ${hosts} hosts, but a job runs on one host here: use span[hosts=1]`);
    }
    setResolved(out, 'cpus', s.slots.value, s.slots);
    setResolved(out, 'ntasks', s.slots.value, s.slots);
    setResolved(out, 'cpusPerTask', 1, s.slots);
  }

  if (s.memLimit && s.rusageMem) {
    const [limit, reserve] = [s.memLimit.value, s.rusageMem.value];
    if (limit !== reserve) {
      warnings.push({
        line: later(s.memLimit, s.rusageMem).line,
        message: `-M (${limit / 1024 ** 2} MB) and rusage[mem=${reserve / 1024 ** 2}] differ: the job gets the larger, ${Math.max(limit, reserve) / 1024 ** 2} MB`,
      });
    }
    setResolved(out, 'memBytes', Math.max(limit, reserve), limit >= reserve ? s.memLimit : s.rusageMem);
  } else if (s.memLimit) setResolved(out, 'memBytes', s.memLimit.value, s.memLimit);
  else if (s.rusageMem) setResolved(out, 'memBytes', s.rusageMem.value, s.rusageMem);

  if (s.gpu && s.rusageGpus && s.gpu.value.count !== s.rusageGpus.value) throw contradiction(s.gpu, s.rusageGpus, 'ask for GPUs once, with -gpu');
  if (s.gpu) {
    setResolved(out, 'gpus', s.gpu.value.count, s.gpu);
    setResolved(out, 'gpuType', s.gpu.value.type, s.gpu);
  } else if (s.rusageGpus) {
    setResolved(out, 'gpus', s.rusageGpus.value, s.rusageGpus);
    setResolved(out, 'gpuType', null, s.rusageGpus);
  }

  const isArray = s.array !== undefined;
  if (s.queue) setResolved(out, 'queue', s.queue.value, s.queue);
  if (s.time) setResolved(out, 'timeLimitMs', s.time.value, s.time);
  if (s.name) setResolved(out, 'name', s.name.value, s.name);
  if (s.array) setResolved(out, 'array', s.array.value, s.array);
  if (s.output) setResolved(out, 'output', lsfPattern(s.output.value, isArray, 'out'), s.output);
  if (s.outputMode) setResolved(out, 'outputMode', s.outputMode.value, s.outputMode);
  if (s.error) setResolved(out, 'error', lsfPattern(s.error.value, isArray, 'err'), s.error);
  if (s.errorMode) setResolved(out, 'errorMode', s.errorMode.value, s.errorMode);
  if (s.mailBegin || s.mailEnd) {
    setResolved(out, 'mail', { begin: s.mailBegin !== undefined, end: s.mailEnd !== undefined, fail: false }, later(s.mailBegin, s.mailEnd));
  }
  if (s.mailUser) setResolved(out, 'mailUser', s.mailUser.value, s.mailUser);
  if (s.chdir) setResolved(out, 'chdir', s.chdir.value, s.chdir);
  if (s.dependencies) setResolved(out, 'dependencies', s.dependencies.value, s.dependencies);
  if (s.exclusive) setResolved(out, 'exclusive', true, s.exclusive);
  if (s.begin) setResolved(out, 'beginAt', s.begin.value, s.begin);
  if (s.hold) setResolved(out, 'hold', true, s.hold);
  if (s.env) setResolved(out, 'env', s.env.value, s.env);
  if (s.account) setResolved(out, 'account', s.account.value, s.account);
  return out;
}

/** Fields where #SBATCH and #BSUB must agree; on the others #SBATCH wins with a warning. */
const MUST_AGREE: ReadonlySet<DirectiveField> = new Set<DirectiveField>([
  'cpus', 'memBytes', 'gpus', 'gpuType', 'timeLimitMs', 'array', 'dependencies', 'beginAt', 'exclusive', 'hold',
]);
/** Details that follow the fields above and are not compared on their own. */
const DERIVED: ReadonlySet<DirectiveField> = new Set<DirectiveField>(['ntasks', 'cpusPerTask', 'cpusPerGpu', 'memPerCpuBytes', 'memPerGpuBytes']);

function combineDialects(slurm: Resolved | null, lsf: Resolved | null, warnings: DirectiveWarning[]): Resolved {
  if (!slurm) return lsf ?? {};
  if (!lsf) return slurm;
  const out: Resolved = { ...lsf, ...slurm };
  for (const key of Object.keys(lsf) as DirectiveField[]) {
    const a = slurm[key] as Slot<unknown> | undefined;
    const b = lsf[key] as Slot<unknown> | undefined;
    if (!a || !b || DERIVED.has(key) || sameValue(key, a.value, b.value)) continue;
    if (MUST_AGREE.has(key)) {
      throw lineError(Math.max(a.line, b.line), `#SBATCH ${a.option} (line ${a.line}) and ${b.option} (line ${b.line}) ask for different ${FIELD_WORDS[key]}: make them agree or keep one`);
    }
    warnings.push({ line: b.line, message: `${b.option} differs from #SBATCH ${a.option} (line ${a.line}): the #SBATCH value is used` });
  }
  return out;
}

function sameValue(key: DirectiveField, a: unknown, b: unknown): boolean {
  if (key === 'array') return (a as ArraySpec).text === (b as ArraySpec).text;
  if (key === 'dependencies') {
    const key2 = (list: unknown) => (list as Dependency[]).map((d) => `${d.jobId}:${d.type}`).sort().join(',');
    return key2(a) === key2(b);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

const FIELD_WORDS: Record<DirectiveField, string> = {
  queue: 'queues',
  cpus: 'numbers of CPUs',
  ntasks: 'numbers of tasks',
  cpusPerTask: 'CPUs per task',
  cpusPerGpu: 'CPUs per GPU',
  memBytes: 'amounts of memory',
  memPerCpuBytes: 'memory per CPU',
  memPerGpuBytes: 'memory per GPU',
  gpus: 'numbers of GPUs',
  gpuType: 'GPU models',
  timeLimitMs: 'time limits',
  name: 'job names',
  output: 'output files',
  error: 'error files',
  outputMode: 'output modes',
  errorMode: 'error modes',
  chdir: 'directories',
  array: 'arrays',
  dependencies: 'dependencies',
  mail: 'mail events',
  mailUser: 'mail addresses',
  beginAt: 'begin times',
  exclusive: 'exclusivity',
  hold: 'holds',
  account: 'accounts',
  env: 'environments',
};

// ---------------------------------------------------------------------------------------------
// Command line and merge

/** `keisan submit` options as the CLI (commander) or the HTTP API hands them over: strings, unparsed. */
export interface CommandLineInput {
  queue?: string;
  cpus?: string | number;
  /** Bare number = MB (as sbatch), or a size: 4G, 4000M. */
  mem?: string | number;
  /** `2`, `h200:2`, `h200`; `true` (bare --gpus) = 1. */
  gpus?: string | number | boolean;
  /** SLURM forms (bare number = minutes) or 90m, 2h, 1d12h; `unlimited`. */
  time?: string | number;
  name?: string;
  array?: string;
  /** `JOB`, `JOB:ok`, `JOB:any`, `JOB:notok` (repeatable or comma-separated); a bare JOB means ok. */
  after?: string | number | readonly (string | number)[];
  output?: string;
  error?: string;
  chdir?: string;
  /** `KEY=VALUE` (repeatable); `KEY` copies it from the submitter's environment. */
  env?: string | readonly string[];
  /** true (bare --mail) = END,FAIL; `begin,end,fail`, `all`, `none`; an address = END,FAIL to it. */
  mail?: string | boolean;
  mailUser?: string;
  begin?: string;
  account?: string;
  exclusive?: boolean;
  hold?: boolean;
}

/** Parsed command-line overrides (only what was given). */
export interface SubmitOverrides {
  queue?: string;
  cpus?: number;
  memBytes?: number | null;
  gpus?: number;
  gpuType?: string | null;
  timeLimitMs?: number | null;
  name?: string;
  array?: ArraySpec;
  dependencies?: Dependency[];
  output?: string;
  error?: string;
  chdir?: string;
  env?: { names: string[]; set: Record<string, string> };
  mail?: MailEvents;
  mailUser?: string;
  beginAt?: BeginSpec;
  account?: string;
  exclusive?: boolean;
  hold?: boolean;
}

function option<T>(name: string, value: string, parse: (value: string) => T): T {
  try {
    return parse(value);
  } catch (error) {
    if (error instanceof KeisanError) throw invalidInput(`--${name} ${value}: ${error.message}`, { option: name });
    throw error;
  }
}

/** Parses `keisan submit` options (same forms as the directives); throws INVALID_INPUT naming the option. */
export function parseCommandLineOptions(input: CommandLineInput): { overrides: SubmitOverrides; warnings: DirectiveWarning[] } {
  const o: SubmitOverrides = {};
  const warnings: DirectiveWarning[] = [];
  const warn = (message: string) => warnings.push({ line: 0, message });
  if (input.queue !== undefined) o.queue = option('queue', input.queue, nonEmpty('queue name'));
  if (input.cpus !== undefined) o.cpus = option('cpus', String(input.cpus), (v) => parseCount(v, 'CPUs'));
  if (input.mem !== undefined) o.memBytes = option('mem', String(input.mem), parseSlurmMemory);
  if (input.gpus !== undefined && input.gpus !== false) {
    const request = input.gpus === true ? { gpus: 1, gpuType: null } : option('gpus', String(input.gpus), parseGpuRequest);
    o.gpus = request.gpus;
    o.gpuType = request.gpuType;
  }
  if (input.time !== undefined) o.timeLimitMs = option('time', String(input.time), parseSlurmTime);
  if (input.name !== undefined) o.name = option('name', input.name, nonEmpty('job name'));
  if (input.array !== undefined) o.array = option('array', input.array, (v) => parseArraySpec(v));
  if (input.after !== undefined) {
    const values = typeof input.after === 'string' || typeof input.after === 'number' ? [input.after] : input.after;
    const deps: Dependency[] = [];
    for (const value of values) for (const dep of option('after', String(value), (v) => parseAfterOption(v, warn))) addDependency(deps, dep);
    o.dependencies = deps;
  }
  if (input.output !== undefined) o.output = option('output', input.output, slurmOutput);
  if (input.error !== undefined) o.error = option('error', input.error, slurmOutput);
  if (input.chdir !== undefined) o.chdir = option('chdir', input.chdir, nonEmpty('directory'));
  if (input.env !== undefined) {
    const values = typeof input.env === 'string' ? [input.env] : input.env;
    o.env = option('env', values.join(' '), () => parseEnvOption(values));
  }
  if (input.mail !== undefined) {
    const mail = option('mail', String(input.mail), () => parseMailOption(input.mail!));
    o.mail = mail.mail;
    if (mail.mailUser !== undefined) o.mailUser = mail.mailUser;
  }
  if (input.mailUser !== undefined) o.mailUser = option('mail-user', input.mailUser, nonEmpty('mail address'));
  if (input.begin !== undefined) o.beginAt = option('begin', input.begin, parseBeginTime);
  if (input.account !== undefined) o.account = option('account', input.account, nonEmpty('account'));
  if (input.exclusive !== undefined) o.exclusive = input.exclusive;
  if (input.hold !== undefined) o.hold = input.hold;
  return { overrides: o, warnings };
}

/** A job's submit options after the command line was laid over the script's directives. */
export interface SubmitOptions {
  dialect: Dialect;
  /** Absent: the facility's default queue. */
  queue?: string;
  cpus: number;
  ntasks: number;
  cpusPerTask: number;
  /** Absent: the queue's default; null: the most the queue allows (`--mem=0`). */
  memBytes?: number | null;
  gpus: number;
  gpuType: string | null;
  /** Absent: the queue's default; null: the queue's maximum (UNLIMITED). */
  timeLimitMs?: number | null;
  /** Absent: the script's file name (sbatch's default). */
  name?: string;
  /** Absent: `slurm-%j.out` (see arrays.outputPatterns); error absent: with the output. */
  output?: string;
  error?: string;
  outputMode: OpenMode;
  errorMode: OpenMode;
  chdir?: string;
  array?: ArraySpec;
  dependencies: Dependency[];
  mail: MailEvents;
  mailUser?: string;
  beginAt?: BeginSpec;
  exclusive: boolean;
  hold: boolean;
  account?: string;
  env: EnvExport;
  warnings: DirectiveWarning[];
}

/**
 * Lays command-line options over a script's directives. Precedence, as with sbatch: an option
 * on the command line replaces the directive of the same meaning; otherwise the directive holds;
 * otherwise the default. Details:
 * - `--cpus N` replaces the script's whole CPU request (ntasks × cpus-per-task, cpus-per-gpu):
 *   the job becomes 1 task of N CPUs.
 * - memory per CPU (or per GPU) from the script follows a CPU (GPU) count changed on the
 *   command line; `--mem` replaces it.
 * - `--gpus` replaces count and model; `--after` replaces the script's dependencies (as sbatch's
 *   `-d`); `--mail` replaces the script's mail events; `--env` adds to (and wins over) the
 *   script's `--export` values.
 * - Output defaults to truncating the file (sbatch), unless a directive chose append (LSF `-o`).
 */
export function mergeSubmitOptions(directives: ParsedDirectives, overrides: SubmitOverrides, overrideWarnings: DirectiveWarning[] = []): SubmitOptions {
  const d = directives;
  const o = overrides;
  const warnings = [...d.warnings, ...overrideWarnings];

  const gpusFromCli = o.gpus !== undefined;
  const gpus = o.gpus ?? d.gpus ?? 0;
  const gpuType = gpusFromCli ? (o.gpuType ?? null) : (d.gpuType ?? null);

  let cpus: number;
  let ntasks: number;
  let cpusPerTask: number;
  if (o.cpus !== undefined) {
    [cpus, ntasks, cpusPerTask] = [o.cpus, 1, o.cpus];
  } else if (d.cpusPerGpu !== undefined && gpusFromCli) {
    if (gpus === 0) throw invalidInput(`the script asks for ${d.cpusPerGpu} CPUs per GPU (line ${d.lines.cpusPerGpu}) but --gpus gives none: give --cpus too`);
    cpus = d.cpusPerGpu * gpus;
    ntasks = d.ntasks ?? 1;
    cpusPerTask = Math.max(1, Math.floor(cpus / ntasks));
  } else {
    cpus = d.cpus ?? 1;
    ntasks = d.ntasks ?? 1;
    cpusPerTask = d.cpusPerTask ?? Math.max(1, Math.floor(cpus / ntasks));
  }

  let memBytes: number | null | undefined;
  if (o.memBytes !== undefined) memBytes = o.memBytes;
  else if (d.memPerCpuBytes !== undefined) memBytes = d.memPerCpuBytes * cpus;
  else if (d.memPerGpuBytes !== undefined) {
    if (gpus === 0) throw invalidInput(`the script asks for memory per GPU (line ${d.lines.memPerGpuBytes}) but --gpus gives none: give --mem too`);
    memBytes = d.memPerGpuBytes * gpus;
  } else memBytes = d.memBytes;

  const baseEnv: EnvExport = d.env ?? { inherit: 'all', names: [], set: {} };
  const env: EnvExport = o.env
    ? { inherit: baseEnv.inherit, names: [...new Set([...baseEnv.names, ...o.env.names])], set: { ...baseEnv.set, ...o.env.set } }
    : { inherit: baseEnv.inherit, names: [...baseEnv.names], set: { ...baseEnv.set } };

  const result: SubmitOptions = {
    dialect: d.dialect,
    cpus,
    ntasks,
    cpusPerTask,
    gpus,
    gpuType,
    outputMode: d.outputMode ?? 'truncate',
    errorMode: d.errorMode ?? 'truncate',
    dependencies: o.dependencies ?? d.dependencies ?? [],
    mail: o.mail ?? d.mail ?? { begin: false, end: false, fail: false },
    exclusive: o.exclusive ?? d.exclusive ?? false,
    hold: o.hold ?? d.hold ?? false,
    env,
    warnings,
  };
  const queue = o.queue ?? d.queue;
  if (queue !== undefined) result.queue = queue;
  if (memBytes !== undefined) result.memBytes = memBytes;
  const timeLimitMs = o.timeLimitMs !== undefined ? o.timeLimitMs : d.timeLimitMs;
  if (timeLimitMs !== undefined) result.timeLimitMs = timeLimitMs;
  const name = o.name ?? d.name;
  if (name !== undefined) result.name = name;
  const output = o.output ?? d.output;
  if (output !== undefined) result.output = output;
  const error = o.error ?? d.error;
  if (error !== undefined) result.error = error;
  const chdir = o.chdir ?? d.chdir;
  if (chdir !== undefined) result.chdir = chdir;
  const array = o.array ?? d.array;
  if (array !== undefined) result.array = array;
  const mailUser = o.mailUser ?? d.mailUser;
  if (mailUser !== undefined) result.mailUser = mailUser;
  const beginAt = o.beginAt ?? d.beginAt;
  if (beginAt !== undefined) result.beginAt = beginAt;
  const account = o.account ?? d.account;
  if (account !== undefined) result.account = account;
  return result;
}
