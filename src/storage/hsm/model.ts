import { z } from 'zod';

/**
 * The vocabulary of the hierarchical storage manager (HSM): classes of service, file families,
 * and the states of stage requests and repack jobs. Sizes in answers are bytes, durations
 * milliseconds (`…Ms`) unless the field says seconds; requests accept the forms users write
 * (`1h`, `20G`, `85%`) and the service parses them with lib/units.
 */

export const STAGING_MODES = ['async', 'sync', 'none'] as const;
/**
 * How a read of an archive-only file is served: `async` stages and streams bytes to the reader
 * as they reach the disk tier; `sync` stages the whole file first, then serves it; `none`
 * refuses the read and tells the user to prestage (`keisan fs stage`).
 */
export type StagingMode = (typeof STAGING_MODES)[number];

/** A class of service: how the files of a workgroup move between the disk tier and the archive. */
export interface ClassOfService {
  name: string;
  /** A file is migrated once it has not changed for this long. */
  migrationDelayMs: number;
  /** Archive copies of each file (1–3), on disjoint volumes. */
  copies: number;
  /** Purge starts when the disk tier is fuller than this (percent of its capacity)… */
  purgeHighPct: number;
  /** …and stops when it is down to this. */
  purgeLowPct: number;
  staging: StagingMode;
  /** Workgroups that use this class (the `default` class serves every other workgroup). */
  workgroups: string[];
  /** Files smaller than this (bytes) are packed into containers, one archive entry each; 0 = never. */
  aggregateBelowBytes: number;
  /** The largest container (bytes; smaller on small volumes: at most a quarter of a volume). */
  containerSizeBytes: number;
}

/** A file family: a directory tree whose files go to their own archive volumes, with a quota. */
export interface FileFamily {
  name: string;
  /** Path prefix (a directory): files under it belong to the family; the longest prefix wins. */
  tree: string;
  /** Archive usage above which the subgroup admins are told (bytes); null = none. */
  quotaWarnBytes: number | null;
  /** Archive usage above which new writes into the family are refused (bytes); null = none. */
  quotaLimitBytes: number | null;
}

export const DEFAULT_CLASS_NAME = 'default';

/**
 * The `default` class when keisan.yaml names none: migrate files unchanged for 1 hour (long
 * enough that files being written in several steps are not archived half-done), one copy,
 * purge from 85 % down to 70 % (room for a few large writes before the next purge), async
 * staging.
 */
export const DEFAULT_CLASS: ClassOfService = {
  name: DEFAULT_CLASS_NAME,
  migrationDelayMs: 3_600_000,
  copies: 1,
  purgeHighPct: 85,
  purgeLowPct: 70,
  staging: 'async',
  workgroups: [],
  aggregateBelowBytes: 64 * 1024 * 1024,
  containerSizeBytes: 1024 * 1024 * 1024,
};

export const STAGE_FILE_STATES = ['QUEUED', 'MOUNTING', 'POSITIONING', 'TRANSFERRING', 'ON_DISK', 'FAILED'] as const;
export type StageFileState = (typeof STAGE_FILE_STATES)[number];

export const REPACK_STATES = ['queued', 'running', 'paused', 'done', 'failed'] as const;
export type RepackState = (typeof REPACK_STATES)[number];

// ---------------------------------------------------------------- inputs (API and keisan.yaml)

export const HSM_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
const hsmName = (what: string) =>
  z
    .string({ error: `${what} name must be a string` })
    .regex(HSM_NAME_PATTERN, `${what} name is not valid: start with a lower-case letter, then a-z, 0-9, _ . -, at most 64 characters`);

const durationText = (what: string) =>
  z.union([z.string({ error: `${what} must be a duration such as 1h or 30m` }).min(1).max(64), z.number({ error: `${what} must be a duration such as 1h or 30m` })]);
const sizeText = (what: string) =>
  z.union([z.string({ error: `${what} must be a size such as 500G or 2T` }).min(1).max(64), z.number({ error: `${what} must be a size such as 500G or 2T` })]);
const percent = (what: string) =>
  z.union([z.number(), z.string().regex(/^\s*\d+(\.\d+)?\s*%?\s*$/, `${what} must be a percentage such as 85 or 85%`)], { error: `${what} must be a percentage such as 85%` });

export const classInputFields = {
  migrationDelay: durationText('migrationDelay').optional().describe('default 1h'),
  copies: z.number({ error: 'copies must be 1, 2 or 3' }).int('copies must be 1, 2 or 3').min(1, 'copies must be 1, 2 or 3').max(3, 'copies must be 1, 2 or 3').optional(),
  purgeHigh: percent('purgeHigh').optional().describe('percent of the disk tier; default 85'),
  purgeLow: percent('purgeLow').optional().describe('percent of the disk tier; default 70'),
  staging: z.enum(STAGING_MODES, { error: 'staging must be async, sync or none' }).optional(),
  workgroups: z.array(z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a workgroup name')).max(1000).optional(),
  aggregateBelow: sizeText('aggregateBelow').optional().describe('files smaller than this are packed into containers on the volumes; 0 = never; default 64M'),
  containerSize: sizeText('containerSize').optional().describe('the largest container; default 1G'),
};

export const classInput = z.object({ name: hsmName('class'), ...classInputFields }).strict();
export type ClassInput = z.infer<typeof classInput>;
export const classChangeInput = z.object(classInputFields).strict();
export type ClassChangeInput = z.infer<typeof classChangeInput>;

export const familyInputFields = {
  tree: z.string({ error: 'tree must be a path such as /phys/ana' }).startsWith('/', 'tree must be an absolute path such as /phys/ana').max(4096).optional(),
  quotaWarn: sizeText('quotaWarn').nullable().optional().describe('archive usage that warns the subgroup admins; null = none'),
  quotaLimit: sizeText('quotaLimit').nullable().optional().describe('archive usage above which new writes are refused; null = none'),
};
export const familyInput = z.object({ name: hsmName('family'), ...familyInputFields }).strict();
export type FamilyInput = z.infer<typeof familyInput>;
export const familyChangeInput = z.object(familyInputFields).strict();
export type FamilyChangeInput = z.infer<typeof familyChangeInput>;

// ---------------------------------------------------------------- answers

const timestamp = z.string().describe('ISO-8601 UTC time');

export const classSchema = z.object({
  name: z.string(),
  migrationDelaySeconds: z.number(),
  copies: z.number().int(),
  purgeHighPct: z.number(),
  purgeLowPct: z.number(),
  staging: z.enum(STAGING_MODES),
  workgroups: z.array(z.string()),
  aggregateBelowBytes: z.number().describe('files smaller than this are packed into containers; 0 = never'),
  containerSizeBytes: z.number(),
});
export type ClassView = z.infer<typeof classSchema>;

export const familySchema = z.object({
  name: z.string(),
  tree: z.string(),
  quotaWarnBytes: z.number().nullable(),
  quotaLimitBytes: z.number().nullable(),
  usageBytes: z.number().describe('archive usage: the size of each of the family\'s files that has an archive copy, counted once'),
  usageFiles: z.number(),
  quotaState: z.enum(['ok', 'warn', 'refuse']),
});
export type FamilyView = z.infer<typeof familySchema>;

export const stageFileSchema = z.object({
  path: z.string(),
  fileId: z.number().int().nullable(),
  state: z.enum(STAGE_FILE_STATES),
  size: z.number(),
  bytesDone: z.number(),
  volume: z.string().nullable(),
  queuePosition: z.number().int().nullable().describe('1 = next to be staged'),
  estimatedSeconds: z.number().nullable().describe('predicted seconds until the file is on disk'),
  error: z.string().nullable(),
});
export const stageRequestSchema = z.object({
  id: z.string(),
  owner: z.string(),
  createdAt: timestamp,
  completedAt: timestamp.nullable(),
  state: z.enum(['QUEUED', 'STARTED', 'COMPLETED', 'FAILED']),
  summary: z.record(z.string(), z.number()),
  files: z.array(stageFileSchema),
});
export type StageRequestView = z.infer<typeof stageRequestSchema>;

export const repackJobSchema = z.object({
  id: z.number().int(),
  volume: z.string(),
  state: z.enum(REPACK_STATES),
  filesTotal: z.number().int(),
  filesDone: z.number().int(),
  bytesTotal: z.number(),
  bytesDone: z.number(),
  error: z.string().nullable(),
  createdBy: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type RepackJobView = z.infer<typeof repackJobSchema>;
