import { z } from 'zod';
import { unixName } from '../../accounts/model.ts';

const timestamp = z.string().describe('ISO-8601 UTC time');

export const areaKind = z.enum(['home', 'group', 'library']);

export const areaUsageSchema = z.object({
  area: z.string().describe('home/NAME, group/WORKGROUP/SUBGROUP or lib/WORKGROUP'),
  kind: areaKind,
  name: z.string(),
  path: z.string(),
  bytes: z.number().describe('apparent size of everything but directories'),
  files: z.number().describe('entries other than directories (hard links once)'),
  complete: z.boolean().describe('false: the walk stopped early (time limit, unreadable parts), the numbers are at least these'),
  measuredAt: timestamp,
  durationMs: z.number(),
  quota: z.number().nullable().describe('soft quota in bytes, null for none'),
  percent: z.number().nullable(),
  over: z.boolean().describe('at or above the warning level (warnPercent of the quota)'),
  warnedAt: timestamp.nullable(),
});
export type AreaUsage = z.infer<typeof areaUsageSchema>;

export const areaSchema = z.object({
  kind: areaKind,
  name: z.string().describe('the user, WORKGROUP/SUBGROUP or the workgroup'),
  path: z.string(),
  /** Who can do what there, in words. */
  access: z.string(),
  /** Home: the private/ and public/ directories. */
  private: z.string().optional(),
  public: z.string().optional(),
  /** Library: who may write it. */
  writers: z.array(z.string()).optional(),
  /** Whether the caller may write there (home: yes; group: a member; library: a writer). */
  writable: z.boolean(),
  exists: z.boolean().describe('the directory is there (false: not provisioned yet)'),
  quota: z.number().nullable(),
  usage: areaUsageSchema.nullable(),
});
export type Area = z.infer<typeof areaSchema>;

export const areasListingSchema = z.object({
  enabled: z.boolean(),
  /** Why the server does not provision areas, when it does not. */
  reason: z.string().nullable(),
  root: z.string(),
  mode: z.enum(['root', 'single-user']),
  areas: z.array(areaSchema),
});
export type AreasListing = z.infer<typeof areasListingSchema>;

export const syncReportSchema = z.object({
  root: z.string(),
  checked: z.number().describe('directories compared with the plan'),
  created: z.array(z.string()),
  fixed: z.array(z.object({ path: z.string(), changes: z.array(z.string()) })),
  problems: z.array(z.object({ path: z.string(), problem: z.string() })),
  leftInPlace: z.array(z.object({ path: z.string(), reason: z.string() })).describe('areas of removed accounts: never deleted'),
  libraries: z
    .array(z.object({ path: z.string(), granted: z.array(z.number()), revoked: z.array(z.number()), entries: z.number(), complete: z.boolean() }))
    .describe('writers given or taken rights on everything already in a library'),
  removedWriters: z.array(z.object({ workgroup: z.string(), user: z.string() })).describe('designations of removed users or workgroups, dropped'),
  durationMs: z.number(),
});
export type SyncReport = z.infer<typeof syncReportSchema>;

export const libraryWriterSchema = z.object({
  workgroup: z.string(),
  user: z.string(),
  addedBy: z.string(),
  addedAt: timestamp,
});
export type LibraryWriter = z.infer<typeof libraryWriterSchema>;

export const writerInput = z.object({ workgroup: unixName('workgroup name'), user: unixName('user name') }).strict();
export type WriterInput = z.infer<typeof writerInput>;

export const writerChangeSchema = z.object({
  writer: libraryWriterSchema.nullable(),
  /** Whether the library's ACLs (and those of everything in it) already show the change. */
  applied: z.boolean(),
  message: z.string(),
});
export type WriterChange = z.infer<typeof writerChangeSchema>;
