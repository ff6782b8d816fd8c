/**
 * What `keisan admin slurm sync` reads from SLURM, parsed: pure functions over the text of
 * `sacctmgr -n -P show …` (fields split by '|', no header), `scontrol show partition -o` and
 * `scontrol show config`, plus SLURM's duration and TRES notations both ways. The commands that
 * produce the text are in SLURM_QUERIES, so the format lists and the parsers stay together.
 */

/** An association as `sacctmgr show assoc` lists it: an account's own (user '') or a user's in an account. */
export interface SlurmAssociation {
  account: string;
  /** '' for the account's own association. */
  user: string;
  /** The parent account of an account's association; '' for a user's (its account is its parent) and for root. */
  parent: string;
  /** A number, or 'parent' (the account's children compete as if under its parent). */
  fairshare: number | 'parent';
  /** The QOS its jobs may use, sorted. */
  qos: string[];
}

export interface SlurmUser {
  name: string;
  defaultAccount: string;
}

/** A QOS's limits as Keisan manages them; null = no limit. Memory in MiB, wall time and TRES minutes in minutes. */
export interface SlurmQos {
  name: string;
  description: string;
  priority: number;
  maxWallMinutes: number | null;
  maxTresPerJob: Record<string, number>;
  maxTresMinsPerJob: Record<string, number>;
  maxJobsPerUser: number | null;
  maxJobsPerAccount: number | null;
  flags: string[];
}

export interface SlurmPartition {
  name: string;
  /** UP, DOWN, DRAIN or INACTIVE. */
  state: string;
  maxTimeMinutes: number | null;
  defaultTimeMinutes: number | null;
  priorityTier: number;
  /** 'ALL' or the partition's list of QOS allowed. */
  allowQos: string;
}

/** The `sacctmgr` and `scontrol` arguments whose output the parsers below read. */
export const SLURM_QUERIES = {
  config: ['show', 'config'],
  associations: (cluster: string) => ['-n', '-P', 'show', 'assoc', `cluster=${cluster}`, 'format=Account,User,ParentName,Fairshare,QOS'],
  users: ['-n', '-P', 'show', 'user', 'format=User,DefaultAccount'],
  qos: ['-n', '-P', 'show', 'qos', 'format=Name,Description,Priority,MaxWall,MaxTRESPerJob,MaxTRESMinsPerJob,MaxJobsPerUser,MaxJobsPerAccount,Flags'],
  tres: ['-n', '-P', 'show', 'tres', 'format=Type,Name'],
  partitions: ['show', 'partition', '-o'],
} as const;

/** A malformed line: SLURM printed something the parser does not know (another version, another format). */
export class SlurmOutputError extends Error {
  constructor(what: string, line: string) {
    super(`could not read ${what} from SLURM's output: '${line.slice(0, 200)}'`);
    this.name = 'SlurmOutputError';
  }
}

function rows(text: string, fields: number, what: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const parts = line.split('|');
      if (parts.length < fields) throw new SlurmOutputError(what, line);
      return parts.map((p) => p.trim());
    });
}

const optionalInt = (text: string, what: string, line: string): number | null => {
  if (text === '' || /^(UNLIMITED|INFINITE|NONE)$/i.test(text)) return null;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new SlurmOutputError(what, line);
  return value;
};

export function parseAssociations(text: string): SlurmAssociation[] {
  return rows(text, 5, 'associations').map((parts) => {
    const [account, user, parent, share, qos] = parts as [string, string, string, string, string];
    const fairshare = share.toLowerCase() === 'parent' ? 'parent' : Number(share === '' ? 1 : share);
    if (fairshare !== 'parent' && !Number.isFinite(fairshare)) throw new SlurmOutputError('an association', parts.join('|'));
    return { account, user, parent, fairshare, qos: qos === '' ? [] : qos.split(',').filter(Boolean).sort() };
  });
}

export function parseUsers(text: string): SlurmUser[] {
  return rows(text, 2, 'users').map(([name, defaultAccount]) => ({ name: name!, defaultAccount: defaultAccount! }));
}

export function parseQos(text: string): SlurmQos[] {
  return rows(text, 9, 'QOS').map((parts) => {
    const line = parts.join('|');
    const [name, description, priority, maxWall, maxTres, maxTresMins, perUser, perAccount, flags] = parts as [string, string, string, string, string, string, string, string, string];
    return {
      name,
      description,
      priority: optionalInt(priority, 'a QOS priority', line) ?? 0,
      maxWallMinutes: parseSlurmMinutes(maxWall),
      maxTresPerJob: parseTres(maxTres),
      maxTresMinsPerJob: parseTres(maxTresMins),
      maxJobsPerUser: optionalInt(perUser, 'MaxJobsPerUser', line),
      maxJobsPerAccount: optionalInt(perAccount, 'MaxJobsPerAccount', line),
      flags: flags === '' ? [] : flags.split(',').filter(Boolean).sort(),
    };
  });
}

/** `cpu`, `mem`, `gres/gpu`, … : the TRES this cluster tracks (only those can carry limits). */
export function parseTresList(text: string): string[] {
  return rows(text, 2, 'TRES').map(([type, name]) => (name ? `${type}/${name}` : type!));
}

/** `scontrol show partition -o`: one partition per line, KEY=VALUE pairs. */
export function parsePartitions(text: string): SlurmPartition[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('PartitionName='))
    .map((line) => {
      const fields = keyValues(line);
      const tier = Number(fields.get('PriorityTier') ?? 1);
      return {
        name: fields.get('PartitionName')!,
        state: (fields.get('State') ?? 'UP').toUpperCase(),
        maxTimeMinutes: parseSlurmMinutes(fields.get('MaxTime') ?? ''),
        defaultTimeMinutes: parseSlurmMinutes(fields.get('DefaultTime') ?? ''),
        priorityTier: Number.isFinite(tier) ? tier : 1,
        allowQos: fields.get('AllowQos') ?? 'ALL',
      };
    });
}

/** `scontrol show config`: `Name = value` lines. */
export function parseConfig(text: string): Map<string, string> {
  const config = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)\s+=\s?(.*)$/.exec(line.trim());
    if (match) config.set(match[1]!, match[2]!.trim());
  }
  return config;
}

function keyValues(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const match of line.matchAll(/(\w+)=(\S*)/g)) fields.set(match[1]!, match[2]!);
  return fields;
}

/**
 * A SLURM duration (`[D-]HH:MM:SS`, `MM:SS`, `MM`, `UNLIMITED`, `NONE`, '') in whole minutes,
 * null for none. Seconds round up, as SLURM records limits in minutes.
 */
export function parseSlurmMinutes(text: string): number | null {
  const t = text.trim();
  if (t === '' || /^(UNLIMITED|INFINITE|NONE|N\/A|Partition_Limit)$/i.test(t)) return null;
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t);
  if (!match) throw new SlurmOutputError('a duration', t);
  const days = Number(match[1] ?? 0);
  const parts = [match[2], match[3], match[4]].filter((p) => p !== undefined).map(Number);
  let seconds: number;
  if (match[1] !== undefined) {
    // D-HH, D-HH:MM, D-HH:MM:SS
    const [h = 0, m = 0, s = 0] = parts;
    seconds = ((days * 24 + h) * 60 + m) * 60 + s;
  } else if (parts.length === 3) seconds = (parts[0]! * 60 + parts[1]!) * 60 + parts[2]!;
  else if (parts.length === 2) seconds = parts[0]! * 60 + parts[1]!;
  else seconds = parts[0]! * 60;
  return Math.ceil(seconds / 60);
}

/** Minutes as SLURM writes a limit: `D-HH:MM:00` from a day on, else `HH:MM:00`. */
export function formatSlurmMinutes(minutes: number): string {
  const days = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  const hhmm = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00`;
  return days > 0 ? `${days}-${hhmm}` : hhmm;
}

const MEM_UNITS: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 ** 2, P: 1024 ** 3 };

/** `cpu=4,gres/gpu=1,mem=16G` → { cpu: 4, 'gres/gpu': 1, mem: 16384 } (memory in MiB). */
export function parseTres(text: string): Record<string, number> {
  const tres: Record<string, number> = {};
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const match = /^([\w/:.-]+)=(\d+(?:\.\d+)?)([KMGTP]?)$/i.exec(item.trim());
    if (!match) throw new SlurmOutputError('a TRES list', text);
    const unit = match[3]!.toUpperCase();
    const value = Number(match[2]);
    // Memory without a unit is in MiB, as SLURM counts it.
    tres[match[1]!] = unit ? Math.round(value * MEM_UNITS[unit]!) : value;
  }
  return tres;
}

/** The inverse of parseTres, keys sorted, memory written in MiB (`mem=16384M`). */
export function formatTres(tres: Record<string, number>): string {
  return Object.keys(tres)
    .sort()
    .map((key) => `${key}=${tres[key]}${key === 'mem' && tres[key]! >= 0 ? 'M' : ''}`)
    .join(',');
}

/** An argument as a shell would need it written, for showing the exact command line. */
export function shellWord(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  const eq = arg.indexOf('=');
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  if (eq > 0 && /^[\w]+$/.test(arg.slice(0, eq))) return `${arg.slice(0, eq + 1)}${quote(arg.slice(eq + 1))}`;
  return quote(arg);
}
