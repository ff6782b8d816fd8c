import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { invalidInput, KeisanError } from './errors.ts';
import { parseDuration, parseSize } from './units.ts';
import { duration } from './zod-units.ts';
import { monitorSettings } from '../monitor/settings.ts';
import { recoverySettings } from '../recovery/settings.ts';
import { incidentsSettings } from '../incidents/settings.ts';
import { statusSettings } from '../incidents/status/settings.ts';
import { inventorySettings } from '../ops/inventory/model.ts';
import { powerSettings } from '../ops/power/settings.ts';
import { maintenanceSettings } from '../ops/maint/settings.ts';
import { ldapSettings } from '../accounts/ldap/settings.ts';
import { haSettings } from '../server/ha/settings.ts';

/** The facility file is `keisan.yaml` in the data directory. */
export const FACILITY_FILE = 'keisan.yaml';
export const DEFAULT_PORT = 8470;

const idRange = z
  .tuple([z.number().int().min(1), z.number().int().min(1)])
  .refine(([low, high]) => low <= high, 'the first number of a range must not exceed the second');

/** `user@host` or `Display Name <user@host>`. */
const mailbox = z.string().refine((value) => {
  const match = /^\s*(?:[^<>]*<([^<>\s]+)>|([^<>\s]+))\s*$/.exec(value);
  return match !== null && z.email().safeParse(match[1] ?? match[2]).success;
}, 'not an e-mail address: write keisan@example.org or "Keisan <keisan@example.org>"');

/** Outgoing mail (job notices, operator tests). Absent: notices stay in-app only. */
const mailSettings = z
  .object({
    from: mailbox,
    smtp: z
      .object({
        host: z.string().min(1, 'must not be empty: the SMTP server\'s host name or address'),
        port: z.number().int().min(1, 'a TCP port: 1 to 65535').max(65535, 'a TCP port: 1 to 65535').default(25),
        /** Implicit TLS from the first byte (usually port 465). */
        secure: z.boolean().default(false),
        /** Refuse to send unless the server upgrades the connection with STARTTLS (usually port 587). */
        requireTls: z.boolean().default(false),
        user: z.string().min(1).optional(),
        /** A file holding the password (relative paths: the data directory); never the password itself. */
        passwordFile: z.string().min(1).optional(),
        password: z.never('a password never goes in keisan.yaml: put it in a file only the server can read (mode 0600) and name that file in passwordFile').optional(),
      }, { error: (issue) => (issue.input === undefined ? 'missing: the SMTP server to send through, e.g. smtp: { host: smtp.example.org, port: 587, requireTls: true }' : undefined) })
      .strict()
      .superRefine((smtp, ctx) => {
        if (smtp.secure && smtp.requireTls) {
          ctx.addIssue({ code: 'custom', path: ['requireTls'], message: 'secure (implicit TLS, port 465) and requireTls (STARTTLS, port 587) exclude each other: set one' });
        }
        if (smtp.user && !smtp.passwordFile) ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: `user '${smtp.user}' needs a passwordFile naming the file that holds the password` });
        if (smtp.passwordFile && !smtp.user) ctx.addIssue({ code: 'custom', path: ['user'], message: 'passwordFile is given but no user to log in as' });
      }),
  })
  .strict();

export type MailSettings = z.output<typeof mailSettings>;

/** A size from keisan.yaml (`50G`, `2T`, plain bytes), through lib/units. */
const areaQuota = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseSize(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    return z.NEVER;
  }
});

/** User areas (src/storage/areas): homes, group areas and workgroup libraries as real directories with POSIX ACLs. */
const storageAreasSettings = z
  .object({
    /** Default: on when the server runs as root; off otherwise (then true provisions them owned by the server's own user). */
    enabled: z.boolean().optional(),
    /** Where the areas are (a relative path: in the data directory). Default: DATA/areas. */
    root: z.string().min(1, 'must not be empty: a directory, e.g. /srv/keisan/areas').optional(),
    /** Soft quotas: a notice at warnPercent of them, nothing refused. */
    homeQuota: areaQuota.optional(),
    groupQuota: areaQuota.optional(),
    libraryQuota: areaQuota.optional(),
    warnPercent: z.number().min(1, 'a percentage: 1 to 100').max(100, 'a percentage: 1 to 100').default(90),
    /** How often usage is measured; 0 measures only on demand. */
    usageInterval: duration.default(parseDuration('1h')),
    /** The longest one area's measurement may take; past it the numbers are kept as "at least". */
    usageTimeLimit: duration.default(parseDuration('10m')),
  })
  .strict();

export type StorageAreasSettings = z.output<typeof storageAreasSettings>;

/** The disk tier of the hierarchical store (src/storage/tiers/disk.ts). */
const storageDiskSettings = z
  .object({
    /** Where file bytes are kept (a relative path: in the data directory). Default: DATA/storage/disk. */
    path: z.string().min(1, 'must not be empty: a directory, e.g. /srv/keisan/disk').optional(),
    /** The most the disk tier holds (50G, 2T); writes past it get 507. Default: only the filesystem limits it. */
    capacity: areaQuota.optional(),
    /** fsync bytes before a write counts as done (off only for throwaway test setups). */
    fsync: z.boolean().default(true),
  })
  .strict();

export type StorageDiskSettings = z.output<typeof storageDiskSettings>;

/** A size in bytes from keisan.yaml (`18G`, `2T`, plain bytes), through lib/units. */
const archiveBytes = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseSize(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    return z.NEVER;
  }
});

/** The archive tier as a directory of tape-like volumes (src/storage/tiers/archive-dir). Delays are real LTO-9 times; timeScale multiplies them. */
const storageArchiveDirSettings = z
  .object({
    kind: z.literal('dir'),
    /** Where the volumes are (a relative path: in the data directory). Default: DATA/storage/archive. */
    path: z.string().min(1, 'must not be empty: a directory, e.g. /srv/keisan/archive').optional(),
    /** Fixed capacity of each volume. Default 18G (an LTO-9 cartridge / 1000). */
    volumeCapacity: archiveBytes.default(parseSize('18G')),
    drives: z.number().int().min(1, 'at least 1 drive').max(64, 'at most 64 drives').default(2),
    /** Multiplies every delay: 1 = real time, 0.01 = a 160 ms mount, 0 = none. */
    timeScale: z.number().min(0, 'timeScale must be 0 or more').max(100).default(0.01),
    delays: z
      .object({
        mount: duration.default(parseDuration('16s')),
        unmount: duration.default(parseDuration('56s')),
        /** The AVERAGE locate; each one takes time in proportion to the distance. */
        locate: duration.default(parseDuration('65s')),
        /** The AVERAGE rewind; in proportion to the head's position. */
        rewind: duration.default(parseDuration('62s')),
        calibration: duration.default(parseDuration('40m')),
      })
      .strict()
      .default({ mount: 16_000, unmount: 56_000, locate: 65_000, rewind: 62_000, calibration: 2_400_000 }),
    /** A new volume's first mount takes the calibration delay (LTO-9: 20 min to 2 h). */
    calibrateFirstMount: z.boolean().default(false),
    /** Per-drive transfer limit in MB/s (not scaled by timeScale); 0 = unlimited. */
    rateMBps: z.number().min(0, 'rateMBps must be 0 (unlimited) or more').default(400),
  })
  .strict();

/** The archive tier on an S3-compatible object store (src/storage/tiers/archive-s3). */
const storageArchiveS3Settings = z
  .object({
    kind: z.literal('s3'),
    endpoint: z.url({ error: (issue) => (issue.input === undefined ? 'missing: the store\'s URL, e.g. https://s3.example.org' : 'an http(s) URL, e.g. https://s3.example.org or http://127.0.0.1:8080') }),
    /** Must match the store's region (Swift s3api: its `location`). */
    region: z.string().min(1).default('us-east-1'),
    bucket: z.string({ error: (issue) => (issue.input === undefined ? 'missing: the bucket Keisan keeps its archive in (created if missing)' : undefined) }).regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3 to 63 lower-case letters, digits, \'.\' and \'-\''),
    accessKeyId: z.string({ error: (issue) => (issue.input === undefined ? 'missing: the access key id (Swift tempauth: account:user)' : undefined) }).min(1, 'must not be empty: the access key id (Swift tempauth: account:user)'),
    /** A file holding the secret access key (relative paths: the data directory); never the secret itself. */
    secretKeyFile: z.string({ error: (issue) => (issue.input === undefined ? 'missing: a file (mode 0600) holding the secret access key' : undefined) }).min(1, 'must not be empty: a file (mode 0600) holding the secret access key'),
    secretAccessKey: z.never('a secret never goes in keisan.yaml: put it in a file only the server can read (mode 0600) and name that file in secretKeyFile').optional(),
    /** Key prefix for everything Keisan writes in the bucket, ending in '/'. */
    prefix: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/, 'names separated by \'/\', ending in \'/\', e.g. keisan/').optional(),
    /** Transfers at once (shown as drives). */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** When the client adds request checksums: when_required suits non-AWS stores (Swift, R2, B2). */
    checksums: z.enum(['when_required', 'when_supported']).default('when_required'),
  })
  .strict();

/** `storage.archive`: `kind: dir` (default) or `kind: s3`. */
const storageArchiveSettings = z.preprocess(
  (value) => (value !== null && typeof value === 'object' && !Array.isArray(value) && !('kind' in value) ? { kind: 'dir', ...value } : value),
  z.discriminatedUnion('kind', [storageArchiveDirSettings, storageArchiveS3Settings], { error: (issue) => (issue.code === 'invalid_union' ? 'must be dir (volumes in a directory) or s3 (an S3 object store)' : undefined) }),
);

export type StorageArchiveDirSettings = z.output<typeof storageArchiveDirSettings>;
export type StorageArchiveS3Settings = z.output<typeof storageArchiveS3Settings>;
export type StorageArchiveSettings = z.output<typeof storageArchiveSettings>;

/** The archive tier's settings when keisan.yaml has no storage.archive. */
export function defaultArchiveSettings(): StorageArchiveDirSettings {
  return storageArchiveDirSettings.parse({ kind: 'dir' });
}

/** executor: slurm — where SLURM's commands and configuration are, and how Keisan follows its jobs. */
const slurmSettings = z
  .object({
    /** slurm.conf of the cluster (SLURM_CONF for every command); default: the commands' own default (/etc/slurm/slurm.conf). */
    conf: z.string().min(1).optional(),
    /** Directory of sbatch, squeue, sacct, sacctmgr, scontrol, scancel, sinfo; default: found on PATH. */
    binDir: z.string().min(1).optional(),
    /** How often squeue is asked about Keisan's jobs (SLURM's own clients poll at 1–2 s). */
    pollEvery: duration.default(parseDuration('1s')),
    /** Keisan queue → SLURM partition where the names differ (default: the same name). */
    partitions: z.record(z.string(), z.string().min(1)).default({}),
    /** The account that parents every workgroup's account in SLURM's association tree (keisan admin slurm sync). */
    rootAccount: z.string().regex(/^[a-z0-9_-]+$/, 'a SLURM account name: lower-case letters, digits, _ -').default('keisan'),
    /** sbatch processes in flight when many jobs are submitted at once (an array). */
    submitConcurrency: z.number().int().min(1).max(64).default(8),
  })
  .strict();
export type SlurmSettings = z.output<typeof slurmSettings>;

export const settingsSchema = z
  .object({
    facility: z
      .object({
        name: z.string().min(1).max(100).default('Keisan'),
        site: z.string().max(200).optional(),
      })
      .strict()
      .default({ name: 'Keisan' }),
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(DEFAULT_PORT),
        /** Public URL agents and users reach the server at, when it differs from host:port. */
        url: z.url().optional(),
        tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
        /** Largest request body accepted, in bytes. */
        bodyLimit: z.number().int().min(1024).default(1_048_576),
        /** Trust X-Forwarded-For from a reverse proxy in front of the server. */
        trustProxy: z.boolean().default(false),
      })
      .strict()
      .default({ host: '127.0.0.1', port: DEFAULT_PORT, bodyLimit: 1_048_576, trustProxy: false }),
    database: z
      .object({
        /** `sqlite:` (a file in the data directory), `sqlite:/path/file.db` or `postgres://…`. */
        url: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    tickets: z
      .object({
        lifetime: duration.default(parseDuration('10h')),
        renewableFor: duration.default(parseDuration('4w')),
      })
      .strict()
      .default({ lifetime: parseDuration('10h'), renewableFor: parseDuration('4w') }),
    accounts: z
      .object({
        uidRange: idRange.default([10000, 59999]),
        gidRange: idRange.default([5000, 9999]),
        defaultShell: z.string().startsWith('/').default('/bin/bash'),
        homeBase: z.string().startsWith('/').default('/home'),
        operatorName: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/).default('admin'),
        passwordHash: z
          .object({ cost: z.number().int().min(1024).max(1_048_576).default(131072) })
          .strict()
          .default({ cost: 131072 }),
        loginRateLimit: z
          .object({
            perUser: z.number().int().min(1).default(5),
            perAddress: z.number().int().min(1).default(30),
            window: duration.default(parseDuration('15m')),
          })
          .strict()
          .default({ perUser: 5, perAddress: 30, window: parseDuration('15m') }),
        /** One identity: publish to an LDAP directory, or use the site's (src/accounts/ldap). Absent: neither. */
        ldap: ldapSettings.optional(),
      })
      .strict()
      .default({
        uidRange: [10000, 59999],
        gidRange: [5000, 9999],
        defaultShell: '/bin/bash',
        homeBase: '/home',
        operatorName: 'admin',
        passwordHash: { cost: 131072 },
        loginRateLimit: { perUser: 5, perAddress: 30, window: parseDuration('15m') },
      }),
    daemons: z
      .object({
        heartbeatInterval: duration.default(parseDuration('15s')),
        /** A daemon is reported stale after this many missed heartbeats. */
        staleAfterMissed: z.number().int().min(1).default(3),
      })
      .strict()
      .default({ heartbeatInterval: parseDuration('15s'), staleAfterMissed: 3 }),
    batch: z
      .object({
        /** Lower-priority jobs may start in gaps before the next reserved start. */
        backfill: z.boolean().default(true),
        /** Past usage counts half after this long (SLURM PriorityDecayHalfLife). */
        decayHalfLife: duration.default(parseDuration('7d')),
        /** Usage per second of a running job: cpus·cpu + GiB·memGiB + gpus·gpu. */
        usageWeights: z
          .object({ cpu: z.number().min(0).default(1), memGiB: z.number().min(0).default(0.25), gpu: z.number().min(0).default(8) })
          .strict()
          .default({ cpu: 1, memGiB: 0.25, gpu: 8 }),
        /** Fair-share shares per subgroup (default 1 each). */
        subgroupShares: z.record(z.string(), z.number().positive('a share must be more than 0')).default({}),
        /** Memory kept back from jobs for the system and the daemons (default: 10 %, at least 1 GiB). */
        memoryReserve: z.union([z.string(), z.number()]).optional(),
        /** CPUs handed out on this machine (SLURM's node CPUs=); default all cores. More than the cores lets jobs share them. */
        cpus: z.number().int().min(1, 'batch.cpus must be at least 1').max(1_000_000).optional(),
        /** The parent cgroup of every job. */
        cgroupParent: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a cgroup name: letters, digits, _ . -').default('keisan'),
        /** What runs jobs: this machine (local, the default) or a SLURM cluster (slurm: Keisan submits, follows and accounts through it). */
        executor: z.enum(['local', 'slurm'], { message: "batch.executor is 'local' (jobs run on this machine) or 'slurm' (jobs run through a SLURM cluster)" }).default('local'),
        /** The SLURM cluster behind executor: slurm (src/batch/executors/slurm/). */
        slurm: slurmSettings.default(() => slurmSettings.parse({})),
      })
      .strict()
      .default(() => ({
        backfill: true,
        decayHalfLife: parseDuration('7d'),
        usageWeights: { cpu: 1, memGiB: 0.25, gpu: 8 },
        subgroupShares: {},
        cgroupParent: 'keisan',
        executor: 'local' as const,
        slurm: slurmSettings.parse({}),
      })),
    mail: mailSettings.optional(),
    /** Agents' metrics and health checks, the server's history, alert rules and notifications. */
    monitor: monitorSettings.default(() => monitorSettings.parse({})),
    /** The recovery watchdog's detection-and-action loop (src/recovery/settings.ts). */
    recovery: recoverySettings.default(() => recoverySettings.parse({})),
    /** Incidents and the outage report (src/incidents/settings.ts): the services reported on, what the recovery and alert hooks open. */
    incidents: incidentsSettings.default(() => incidentsSettings.parse({})),
    /** The public status page (src/incidents/status/settings.ts): title, components, how long resolved incidents stay listed. */
    status: statusSettings.default(() => statusSettings.parse({})),
    /** Hosts, services and redundancy groups (src/ops/inventory/): read-only through the API; operators add more with keisan ops. */
    inventory: inventorySettings.optional(),
    /** A UPS watched through Network UPS Tools and the ordered shutdown plan on a power loss (src/ops/power/). */
    power: powerSettings.optional(),
    /** Two or more servers on one PostgreSQL, one active, the others standing by (src/server/ha/). */
    ha: haSettings.optional(),
    /** Maintenance plans and runbooks (src/ops/maint/settings.ts): approval expiry, agent command limits, runbook test age. */
    maintenance: maintenanceSettings.default(() => maintenanceSettings.parse({})),
    storage: z
      .object({
        areas: storageAreasSettings.optional(),
        disk: storageDiskSettings.optional(),
        /** Resumable uploads (keisan fs put): an upload left alone this long is removed (default 24h). */
        uploads: z.object({ expireAfter: duration.default(parseDuration('24h')) }).strict().optional(),
        /** The archive tier: volumes in a directory (default) or an S3 store. */
        archive: storageArchiveSettings.optional(),
        /** HSM classes of service and file families, validated by src/storage/hsm (like queues); seed the database on the first start. */
        classes: z.array(z.unknown()).optional(),
        families: z.array(z.unknown()).optional(),
      })
      .strict()
      .optional(),
    // Declarative sections, validated by the rooms that own them (accounts: workgroups, users; batch: queues).
    workgroups: z.array(z.unknown()).optional(),
    users: z.array(z.unknown()).optional(),
    queues: z.array(z.unknown()).optional(),
  })
  .strict();

export type Settings = z.output<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;

export function defaultSettings(): Settings {
  return settingsSchema.parse({});
}

/** Turns zod issues into one message naming each bad field: `server.port: …; tickets.lifetime: …`. */
export function describeIssues(error: z.ZodError, source?: string): string {
  const lines = error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    if (issue.code === 'unrecognized_keys') {
      return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    }
    return `${where}: ${issue.message}`;
  });
  return (source ? `${source}: ` : '') + lines.join('; ');
}

/** Parses YAML text, reporting the line of a syntax error. */
export function parseYaml(text: string, source: string): unknown {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const first = document.errors[0]!;
    throw invalidInput(`${source}: ${first.message.split('\n')[0]}`);
  }
  return document.toJS() ?? {};
}

export function parseSettings(raw: unknown, source: string): Settings {
  const result = settingsSchema.safeParse(raw);
  if (!result.success) throw invalidInput(describeIssues(result.error, source));
  return result.data;
}

export interface FacilityFile {
  path: string;
  raw: Record<string, unknown>;
  settings: Settings;
}

export function loadFacilityFile(dataDir: string): FacilityFile {
  const file = path.join(dataDir, FACILITY_FILE);
  if (!existsSync(file)) {
    throw new KeisanError(
      'NOT_FOUND',
      `no facility file at ${file}: run 'keisan init --data ${dataDir}' first (or 'keisan up', which does it)`,
    );
  }
  const raw = parseYaml(readFileSync(file, 'utf8'), file);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalidInput(`${file}: the facility file must be a YAML mapping (key: value), not a list or a scalar`);
  }
  return { path: file, raw: raw as Record<string, unknown>, settings: parseSettings(raw, file) };
}

/** Where Keisan keeps its state: --data, then KEISAN_DATA, then $XDG_DATA_HOME/keisan. */
export function resolveDataDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return path.resolve(explicit);
  if (env.KEISAN_DATA) return path.resolve(env.KEISAN_DATA);
  const xdg = env.XDG_DATA_HOME || path.join(homedir(), '.local', 'share');
  return path.join(xdg, 'keisan');
}

export function serverUrlOf(settings: Settings): string {
  if (settings.server.url) return settings.server.url.replace(/\/$/, '');
  const scheme = settings.server.tls ? 'https' : 'http';
  const host = settings.server.host === '0.0.0.0' || settings.server.host === '::' ? hostname() : settings.server.host;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${shownHost}:${settings.server.port}`;
}
