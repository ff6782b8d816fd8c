import type { Readable } from 'node:stream';
import { z } from 'zod';

/**
 * The storage namespace's vocabulary: entries (directories and files), listings, ACLs, upload
 * sessions, and the interfaces the hierarchical storage manager (HSM) plugs in through
 * (`Stager`, `WriteGuard`, `DiskPressure`). Sizes are bytes; times ISO-8601 UTC strings.
 */

export const DISK_STATES = ['none', 'complete', 'staging'] as const;
/** Where a file's bytes are on the disk tier: not there, all there, or arriving from the archive. */
export type DiskState = (typeof DISK_STATES)[number];

export const ENTRY_TYPES = ['directory', 'file'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/**
 * Where a file can be read from, in words users know from WLCG's archiveinfo: `disk` (only on
 * the disk tier: new or changed, not yet in every archive copy), `disk+archive`, `archive`
 * (reading it stages it), `staging` (coming back from the archive now); `none` for directories.
 */
export const LOCALITIES = ['disk', 'disk+archive', 'archive', 'staging', 'none'] as const;
export type Locality = (typeof LOCALITIES)[number];

/** The upload chunk size the CLI uses; any size works. */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

const timestamp = z.string().describe('ISO-8601 UTC time');
const sha256Hex = z
  .string({ error: 'sha256 must be a string' })
  .regex(/^[0-9a-fA-F]{64}$/, 'sha256 must be 64 hexadecimal digits (the SHA-256 of the whole file)')
  .transform((s) => s.toLowerCase());
const pathText = z.string({ error: 'path must be a string' }).min(1, 'path must not be empty').max(8192, 'path is too long');

export const fsEntrySchema = z.object({
  path: z.string(),
  name: z.string(),
  type: z.enum(ENTRY_TYPES),
  owner: z.string(),
  group: z.string(),
  size: z.number().describe('bytes (0 for directories)'),
  sha256: z.string().nullable().describe('SHA-256 of the bytes, computed while they were written'),
  generation: z.number().int().describe('grows with every write of the file; 0 for directories'),
  createdAt: timestamp,
  modifiedAt: timestamp.describe('the bytes (a directory: its entries) last changed'),
  accessedAt: timestamp.describe('last read'),
  changedAt: timestamp.describe('the bytes or the metadata (ACL, name) last changed'),
  classOfService: z.string().nullable(),
  family: z.string().nullable(),
  disk: z.enum(DISK_STATES).describe('none | complete | staging'),
  locality: z.enum(LOCALITIES),
  dirty: z.boolean().describe('true until every archive copy of these bytes exists'),
  migratedAt: timestamp.nullable(),
  pinnedUntil: timestamp.nullable().describe('kept on the disk tier until then'),
  permissions: z.string().describe('what you may do with it: rwxcid, positionally, - where not'),
});
export type FsEntry = z.infer<typeof fsEntrySchema>;

export const listingSchema = z.object({
  path: z.string(),
  entries: z.array(fsEntrySchema),
  next: z.string().nullable().describe('more entries follow: ask again with after=<this name>'),
});
export type Listing = z.infer<typeof listingSchema>;

export const aclViewSchema = z.object({
  path: z.string(),
  type: z.enum(ENTRY_TYPES),
  owner: z.string(),
  group: z.string(),
  acl: z.string().describe('the text form: user::rwxcid,user:bob:r-x---,group::r-x---,other::------'),
  initialFile: z.string().nullable().describe('directories: the ACL new files get (null: the default)'),
  initialDir: z.string().nullable().describe('directories: the ACL new subdirectories get (null: the default)'),
  permissions: z.string(),
});
export type AclView = z.infer<typeof aclViewSchema>;

export const ACL_TARGETS = ['object', 'initial-file', 'initial-dir'] as const;
export type AclTarget = (typeof ACL_TARGETS)[number];

export const setAclInput = z
  .object({
    path: pathText,
    which: z.enum(ACL_TARGETS, { error: 'which must be object, initial-file or initial-dir' }).optional().describe('default: the ACL of the entry itself'),
    acl: z.string().max(65_536, 'acl is longer than 64 KiB').nullable().optional().describe('the whole ACL in text form; null resets an initial ACL to the default'),
    add: z.string().max(65_536).optional().describe('entries to add or replace, e.g. user:bob:r-x---,group:b-ana:rwx-i-'),
    remove: z.string().max(65_536).optional().describe('entries to remove, e.g. user:bob,group:b-ana'),
  })
  .strict();
export type SetAclInput = z.infer<typeof setAclInput>;

export const mkdirInput = z
  .object({ path: pathText, parents: z.boolean({ error: 'parents must be true or false' }).optional().describe('create missing parents; no error if it exists') })
  .strict();
export type MkdirInput = z.infer<typeof mkdirInput>;

export const moveInput = z.object({ from: pathText, to: pathText }).strict();
export type MoveInput = z.infer<typeof moveInput>;

export const removedSchema = z.object({ path: z.string(), files: z.number().int(), directories: z.number().int(), bytes: z.number() });
export type Removed = z.infer<typeof removedSchema>;

export const usageSchema = z.object({
  path: z.string(),
  files: z.number().int(),
  directories: z.number().int(),
  bytes: z.number(),
  onDiskBytes: z.number().describe('bytes whose disk copy is present'),
  unreadable: z.array(z.string()).describe('directories you may not list or traverse: not counted'),
});
export type Usage = z.infer<typeof usageSchema>;

export const createUploadInput = z
  .object({
    path: pathText,
    size: z.number({ error: 'size must be a number of bytes' }).int('size must be a whole number of bytes').min(0, 'size must not be negative').max(2 ** 53 - 1),
    sha256: sha256Hex.optional().describe('if known now; the commit may give it instead'),
    overwrite: z.boolean({ error: 'overwrite must be true or false' }).optional().describe('default true: a new generation of an existing file'),
    tag: z.string().max(200, 'tag is longer than 200 characters').optional().describe('the client\'s own label, to find its session again for resuming'),
  })
  .strict();
export type CreateUploadInput = z.infer<typeof createUploadInput>;

export const commitUploadInput = z.object({ sha256: sha256Hex.optional().describe('the SHA-256 the client computed; the server compares it with its own') }).strict();
export type CommitUploadInput = z.infer<typeof commitUploadInput>;

export const uploadSchema = z.object({
  id: z.string(),
  path: z.string(),
  size: z.number(),
  received: z.number().describe('bytes safely written: the next chunk starts here'),
  tag: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  expiresAt: timestamp.describe('abandoned uploads are removed then'),
});
export type Upload = z.infer<typeof uploadSchema>;

// ---------------------------------------------------------------- for the HSM (in-process)

/** A file as the HSM sees it: a row of the namespace, with its id. */
export interface FileRecord {
  id: number;
  parentId: number;
  name: string;
  owner: string;
  group: string;
  size: number;
  sha256: string | null;
  generation: number;
  diskState: DiskState;
  dirty: boolean;
  classOfService: string | null;
  family: string | null;
  createdAt: Date;
  modifiedAt: Date;
  accessedAt: Date;
  migratedAt: Date | null;
  pinnedUntil: Date | null;
}

/** One archive copy of one generation of a file (table fs_copies). */
export interface CopyRecord {
  id: number;
  fileId: number;
  generation: number;
  copyNo: number;
  backend: string;
  volume: string;
  entry: string;
  position: number;
  length: number;
  sha256: string;
  createdAt: Date;
  verifiedAt: Date | null;
  obsoleteAt: Date | null;
}

/** What a read of a file that is not on the disk tier asks the stager for. */
export interface StageTarget {
  file: FileRecord;
  path: string;
  /** Inclusive byte range wanted; the stream gives exactly these bytes. */
  range: { start: number; end: number };
  /** Who reads (for ordering, fair share and messages). */
  user: string;
}

/**
 * The HSM's side of reading archive-only files. `stage` brings the file back to the disk tier
 * (through `StorageService.beginStaging` … `finishStaging`) and returns a stream of the wanted
 * bytes that may follow the disk copy as it grows (stage-on-open-async). It throws a
 * KeisanError to refuse (e.g. CONFLICT "staging mode none: prestage it with keisan fs stage").
 * Until a stager is set, such reads get 409 "archive-only, staging not configured".
 */
export interface Stager {
  stage(target: StageTarget): Promise<Readable>;
}

/** A write about to become visible (a commit of an upload), for the HSM's family quotas. */
export interface WriteIntent {
  path: string;
  fileId: number;
  size: number;
  /** The size of the generation it replaces (0 for a new file). */
  replacesBytes: number;
  family: string | null;
  classOfService: string | null;
  user: string;
}

/** Refuses a write by throwing a KeisanError (e.g. FORBIDDEN naming the family's quota). */
export type WriteGuard = (intent: WriteIntent) => Promise<void> | void;

/** Told when the disk tier refused bytes, so the HSM can purge. */
export interface DiskPressure {
  reason: 'capacity' | 'enospc';
  /** Bytes the refused write or stage needed. */
  neededBytes: number;
  usedBytes: number;
  reservedBytes: number;
  capacityBytes: number | null;
  path: string;
}

export interface DiskUsage {
  /** Bytes of disk copies (complete and staging). */
  usedBytes: number;
  /** Bytes promised to uploads and stages in progress. */
  reservedBytes: number;
  /** storage.disk.capacity, or null when only the filesystem limits it. */
  capacityBytes: number | null;
  /** Free bytes of the filesystem under the disk tier, when known. */
  filesystemFreeBytes: number | null;
}
