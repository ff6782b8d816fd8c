/**
 * The local executor's records on disk, one directory per job: `<stateDir>/jobs/<id>/`.
 *
 *   spec.json     what was launched (written by the executor before the shim starts)
 *   script        the job script, owned by the job's user
 *   launch        the shim's stderr: 'exec' once the command is exec'd, else why the launch
 *                 failed (setpriv's complaint and the like)
 *   started       written by the shim before any user code runs: shim pid and its start time
 *   kill          why the executor stopped the job (first writer wins), written before killing
 *   exit          written by the shim when the job ends: exit status, cpu times
 *   outcome.json  the accounted end, written by the executor once; the job is done
 *
 * The shim's records end with a line `end`: one without it is still being written (or its
 * writer died mid-write). Times of shim records are their files' mtimes.
 */
import fs from 'node:fs';
import path from 'node:path';

export type KillReason = 'cancelled' | 'timeout' | 'node-fail';

export interface StartedRecord {
  pid: number;
  /** /proc/PID/stat field 22 of the shim: tells a live shim from a reused pid. */
  starttime: string;
  at: number;
}

export interface ExitRecord {
  /** Exit status of the job's first process (128+N: signal N); null: the job never ran. */
  rc: number | null;
  /** User+system cpu of the processes the shim waited for (from `times`). */
  childCpuSeconds: number | null;
  at: number;
}

export interface KillRecord {
  reason: KillReason;
  detail: string | null;
  at: number;
}

export interface SpecRecord {
  jobId: number;
  uid: number;
  gid: number;
  cpus: number;
  memBytes: number;
  timeLimitMs: number | null;
  cpuTimeLimitMs?: number | null;
  gpuIndices?: number[];
  createdAt: number;
  cgroups: string[];
}

function readComplete(file: string): { fields: Map<string, string>; lines: string[]; at: number } | null {
  let text: string;
  let at: number;
  try {
    text = fs.readFileSync(file, 'utf8');
    at = fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
  const lines = text.split('\n');
  if (!lines.includes('end')) return null;
  const fields = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return { fields, lines, at };
}

export function readStarted(dir: string): StartedRecord | null {
  const r = readComplete(path.join(dir, 'started'));
  const pid = Number(r?.fields.get('pid'));
  const starttime = r?.fields.get('starttime');
  if (!r || !Number.isInteger(pid) || pid <= 0 || !starttime) return null;
  return { pid, starttime, at: r.at };
}

/** dash's `times`: "0m0.010000s 0m0.000000s" (shell) then the same for its children. */
export function parseTimes(lines: string[]): number | null {
  const times = lines.filter((l) => /^\d+m[\d.]+s \d+m[\d.]+s$/.test(l));
  const children = times[1];
  if (!children) return null;
  let total = 0;
  for (const m of children.matchAll(/(\d+)m([\d.]+)s/g)) total += Number(m[1]) * 60 + Number(m[2]);
  return total;
}

export function readExit(dir: string): ExitRecord | null {
  const r = readComplete(path.join(dir, 'exit'));
  if (!r) return null;
  const rcText = r.fields.get('rc') ?? '';
  const rc = rcText === '' ? null : Number(rcText);
  return { rc: rc === null || Number.isInteger(rc) ? rc : null, childCpuSeconds: parseTimes(r.lines), at: r.at };
}

export function readLaunch(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, 'launch'), 'utf8').trim();
  } catch {
    return '';
  }
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export function readKill(dir: string): KillRecord | null {
  return readJson<KillRecord>(path.join(dir, 'kill'));
}

export function readSpec(dir: string): SpecRecord | null {
  return readJson<SpecRecord>(path.join(dir, 'spec.json'));
}

/** Writes a file whole or not at all (temp file, then rename). */
export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value)}\n`);
}

/** Records why the job is being stopped; false when a reason was already recorded (the first one stands). */
export function writeKill(dir: string, record: KillRecord): boolean {
  const file = path.join(dir, 'kill');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(record)}\n`);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function statStartTime(text: string): string | null {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field 22 is rest[19]. A zombie has ended: not alive.
  if (rest[0] === 'Z' || rest[0] === 'X') return null;
  return rest[19] ?? null;
}

/** Field 22 (start time in clock ticks after boot) of /proc/PID/stat; null when there is no such process. */
export function processStartTime(pid: number): string | null {
  try {
    return statStartTime(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Whether `pid` is still the process that recorded `starttime` (not a reused pid, not a zombie).
 * When /proc cannot be read for another reason than the process being gone (EMFILE…), says
 * yes: a job is never declared lost on a failed look.
 */
export function processIsAlive(pid: number, starttime: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== 'ENOENT' && code !== 'ESRCH';
  }
  return statStartTime(text) === starttime;
}

/** Processes of session `sid` (the shim is a session leader): the job's processes when there are no cgroups. */
export function sessionMembers(sid: number): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // rest[3] is field 6 (session).
    if (rest[0] !== 'Z' && Number(rest[3]) === sid) out.push(Number(name));
  }
  return out;
}
