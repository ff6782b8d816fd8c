import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { Database, FsCopyTable, FsEntryTable, FsUploadTable } from '../db/schema.ts';
import type { ArchiveLocation } from './tiers/archive.ts';
import type { CopyRecord, DiskState, FileRecord } from './model.ts';

/** Database access for the namespace. No rules here: the service decides, the store reads and writes. */
export type Tx = Kysely<Database>;
export type EntryRow = Selectable<FsEntryTable>;
export type UploadRow = Selectable<FsUploadTable>;
export type CopyRow = Selectable<FsCopyTable>;

export const DIRECTORY = 'directory';
export const FILE = 'file';

/** A row is visible unless it is a file never committed (its first upload is in progress). */
export function visible(row: Pick<EntryRow, 'kind' | 'generation'>): boolean {
  return row.kind === DIRECTORY || row.generation > 0;
}

// ---------------------------------------------------------------- lookups

export async function root(db: Tx): Promise<EntryRow | undefined> {
  return db.selectFrom('fs_entries').selectAll().where('parent_id', 'is', null).orderBy('id').executeTakeFirst();
}

/** The entry `name` in directory `parentId`: one query on the (parent_id, name) unique index. */
export async function child(db: Tx, parentId: number, name: string): Promise<EntryRow | undefined> {
  return db.selectFrom('fs_entries').selectAll().where('parent_id', '=', parentId).where('name', '=', name).executeTakeFirst();
}

/** The columns of fs_entries in the order `entryFromValues` reads them. */
export const ENTRY_COLUMNS = [
  'id', 'parent_id', 'name', 'kind', 'owner_name', 'group_name', 'acl', 'initial_file_acl', 'initial_dir_acl', 'class_of_service', 'family',
  'size', 'sha256', 'generation', 'next_generation', 'writer', 'disk_state', 'dirty', 'migrated_at', 'pinned_until',
  'created_at', 'modified_at', 'accessed_at', 'changed_at',
] as const satisfies readonly (keyof EntryRow)[];

/** A row read as an array of ENTRY_COLUMNS values (better-sqlite3's raw mode). */
export function entryFromValues(v: readonly unknown[]): EntryRow {
  return {
    id: v[0] as number,
    parent_id: v[1] as number | null,
    name: v[2] as string,
    kind: v[3] as string,
    owner_name: v[4] as string,
    group_name: v[5] as string,
    acl: v[6] as string,
    initial_file_acl: v[7] as string | null,
    initial_dir_acl: v[8] as string | null,
    class_of_service: v[9] as string | null,
    family: v[10] as string | null,
    size: v[11] as number,
    sha256: v[12] as string | null,
    generation: v[13] as number,
    next_generation: v[14] as number,
    writer: v[15] as string | null,
    disk_state: v[16] as string,
    dirty: v[17] as number,
    migrated_at: v[18] as string | null,
    pinned_until: v[19] as string | null,
    created_at: v[20] as string,
    modified_at: v[21] as string,
    accessed_at: v[22] as string,
    changed_at: v[23] as string,
  };
}

/**
 * `child` compiled once: the same lookup without building and compiling the query each time
 * (a fifth or more of a lookup's cost). For use outside transactions.
 */
export function compiledChild(db: Tx): (parentId: number, name: string) => Promise<EntryRow | undefined> {
  const compiled = db.selectFrom('fs_entries').selectAll().where('parent_id', '=', 0).where('name', '=', '').compile();
  return async (parentId, name) => (await db.executeQuery<EntryRow>({ ...compiled, parameters: [parentId, name] })).rows[0];
}

export async function byId(db: Tx, id: number): Promise<EntryRow | undefined> {
  return db.selectFrom('fs_entries').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The names from the root down to `id` (empty for the root); undefined when it does not exist. */
export async function namesTo(db: Tx, id: number): Promise<string[] | undefined> {
  const rows = await db
    .withRecursive('up(id, parent_id, name, depth)', (q) =>
      q
        .selectFrom('fs_entries')
        .select(['id', 'parent_id', 'name', sql<number>`0`.as('depth')])
        .where('id', '=', id)
        .unionAll((u) =>
          u
            .selectFrom('fs_entries as e')
            .innerJoin('up', 'up.parent_id', 'e.id')
            .select(['e.id', 'e.parent_id', 'e.name', sql<number>`up.depth + 1`.as('depth')]),
        ),
    )
    .selectFrom('up')
    .select(['name', 'parent_id', 'depth'])
    .orderBy('depth', 'desc')
    .execute();
  if (rows.length === 0) return undefined;
  return rows.filter((r) => r.parent_id !== null).map((r) => r.name);
}

/** Visible children of a directory, by name, after `after`, at most `limit`. */
export async function children(db: Tx, parentId: number, after: string | undefined, limit: number): Promise<EntryRow[]> {
  let query = db
    .selectFrom('fs_entries')
    .selectAll()
    .where('parent_id', '=', parentId)
    .where((eb) => eb.or([eb('kind', '=', DIRECTORY), eb('generation', '>', 0)]));
  if (after !== undefined) query = query.where('name', '>', after);
  return query.orderBy('name').limit(limit).execute();
}

export async function hasVisibleChildren(db: Tx, parentId: number): Promise<boolean> {
  const row = await db
    .selectFrom('fs_entries')
    .select('id')
    .where('parent_id', '=', parentId)
    .where((eb) => eb.or([eb('kind', '=', DIRECTORY), eb('generation', '>', 0)]))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Every entry of the tree under `id` (itself included), with what removing it needs to know. */
export async function subtree(db: Tx, id: number): Promise<Pick<EntryRow, 'id' | 'parent_id' | 'name' | 'kind' | 'generation' | 'disk_state' | 'size' | 'acl' | 'owner_name' | 'group_name'>[]> {
  return db
    .withRecursive('tree(id)', (q) =>
      q
        .selectFrom('fs_entries')
        .select('id')
        .where('id', '=', id)
        .unionAll((u) => u.selectFrom('fs_entries as e').innerJoin('tree', 'tree.id', 'e.parent_id').select('e.id')),
    )
    .selectFrom('fs_entries')
    .innerJoin('tree', 'tree.id', 'fs_entries.id')
    .select([
      'fs_entries.id',
      'fs_entries.parent_id',
      'fs_entries.name',
      'fs_entries.kind',
      'fs_entries.generation',
      'fs_entries.disk_state',
      'fs_entries.size',
      'fs_entries.acl',
      'fs_entries.owner_name',
      'fs_entries.group_name',
    ])
    .execute();
}

// ---------------------------------------------------------------- changes

export type NewEntry = Omit<Insertable<FsEntryTable>, 'id'>;

export async function insertEntry(db: Tx, values: NewEntry): Promise<number> {
  const row = await db.insertInto('fs_entries').values(values).returning('id').executeTakeFirstOrThrow();
  return Number(row.id);
}

/** A directory's entries changed: its modification and change times move. */
export async function touchDirectory(db: Tx, id: number, at: Date): Promise<void> {
  const iso = at.toISOString();
  await db.updateTable('fs_entries').set({ modified_at: iso, changed_at: iso }).where('id', '=', id).execute();
}

export async function deleteEntry(db: Tx, id: number): Promise<void> {
  await db.deleteFrom('fs_entries').where('id', '=', id).execute();
}

export async function rename(db: Tx, id: number, parentId: number, name: string, at: Date): Promise<void> {
  await db.updateTable('fs_entries').set({ parent_id: parentId, name, changed_at: at.toISOString() }).where('id', '=', id).execute();
}

export type AclColumn = 'acl' | 'initial_file_acl' | 'initial_dir_acl';

export async function setAcl(db: Tx, id: number, column: AclColumn, text: string | null, at: Date): Promise<void> {
  await db
    .updateTable('fs_entries')
    .set({ [column]: text, changed_at: at.toISOString() })
    .where('id', '=', id)
    .execute();
}

/** Sets the class of service and/or family of an entry, or of a whole tree. */
export async function setPolicy(db: Tx, id: number, policy: { classOfService?: string | null; family?: string | null }, recursive: boolean): Promise<number> {
  const values: { class_of_service?: string | null; family?: string | null } = {};
  if (policy.classOfService !== undefined) values.class_of_service = policy.classOfService;
  if (policy.family !== undefined) values.family = policy.family;
  if (Object.keys(values).length === 0) return 0;
  const ids = recursive ? (await subtree(db, id)).map((r) => r.id) : [id];
  let changed = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const result = await db.updateTable('fs_entries').set(values).where('id', 'in', ids.slice(i, i + 500)).executeTakeFirst();
    changed += Number(result.numUpdatedRows);
  }
  return changed;
}

/** Hands out the next generation number of a file (unique per upload, so disk names never collide). */
export async function allocateGeneration(db: Tx, id: number): Promise<number> {
  const row = await db
    .updateTable('fs_entries')
    .set((eb) => ({ next_generation: eb('next_generation', '+', 1) }))
    .where('id', '=', id)
    .returning('next_generation')
    .executeTakeFirstOrThrow();
  return Number(row.next_generation) - 1;
}

/**
 * Makes generation `generation` the file's current one if its current one is still `base`
 * (the compare-and-set that lets exactly one of two concurrent writers win). False when not.
 */
export async function commitGeneration(
  db: Tx,
  id: number,
  base: number,
  values: { generation: number; size: number; sha256: string; writer: string; at: Date },
): Promise<boolean> {
  const iso = values.at.toISOString();
  const result = await db
    .updateTable('fs_entries')
    .set({
      generation: values.generation,
      size: values.size,
      sha256: values.sha256,
      writer: values.writer,
      disk_state: 'complete',
      dirty: 1,
      migrated_at: null,
      modified_at: iso,
      changed_at: iso,
    })
    .where('id', '=', id)
    .where('generation', '=', base)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function touchAccessed(db: Tx, id: number, at: Date): Promise<void> {
  await db.updateTable('fs_entries').set({ accessed_at: at.toISOString() }).where('id', '=', id).execute();
}

/** Removes never-committed placeholder files that no upload targets any more and that are older than `before`. */
export async function deleteStalePlaceholders(db: Tx, before: Date): Promise<number> {
  const result = await db
    .deleteFrom('fs_entries')
    .where('kind', '=', FILE)
    .where('generation', '=', 0)
    .where('created_at', '<', before.toISOString())
    .where('id', 'not in', db.selectFrom('fs_uploads').select('file_id'))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Bytes of disk copies (complete and staging): the disk tier's usage after a restart. */
export async function diskBytes(db: Tx): Promise<number> {
  const row = await db
    .selectFrom('fs_entries')
    .select((eb) => eb.fn.sum<number | string | null>('size').as('bytes'))
    .where('kind', '=', FILE)
    .where('disk_state', 'in', ['complete', 'staging'])
    .executeTakeFirst();
  return Number(row?.bytes ?? 0);
}

/** The disk generation each file has (for the orphan sweep): id → generation, files with a disk copy only. */
export async function diskGenerations(db: Tx, ids: number[]): Promise<Map<number, number>> {
  const map = new Map<number, number>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom('fs_entries')
      .select(['id', 'generation'])
      .where('id', 'in', ids.slice(i, i + 500))
      .where('disk_state', 'in', ['complete', 'staging'])
      .execute();
    for (const r of rows) map.set(r.id, r.generation);
  }
  return map;
}

// ---------------------------------------------------------------- uploads

export async function insertUpload(db: Tx, values: Insertable<FsUploadTable>): Promise<void> {
  await db.insertInto('fs_uploads').values(values).execute();
}

export async function upload(db: Tx, id: string): Promise<UploadRow | undefined> {
  return db.selectFrom('fs_uploads').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function uploadsOf(db: Tx, owner: string | null, path?: string): Promise<UploadRow[]> {
  let query = db.selectFrom('fs_uploads').selectAll();
  if (owner !== null) query = query.where('owner_name', '=', owner);
  if (path !== undefined) query = query.where('path', '=', path);
  return query.orderBy('created_at').execute();
}

export async function uploadsFor(db: Tx, fileId: number): Promise<UploadRow[]> {
  return db.selectFrom('fs_uploads').selectAll().where('file_id', '=', fileId).execute();
}

export async function setReceived(db: Tx, id: string, received: number, at: Date, expiresAt: Date): Promise<void> {
  await db
    .updateTable('fs_uploads')
    .set({ received, updated_at: at.toISOString(), expires_at: expiresAt.toISOString() })
    .where('id', '=', id)
    .execute();
}

export async function deleteUpload(db: Tx, id: string): Promise<void> {
  await db.deleteFrom('fs_uploads').where('id', '=', id).execute();
}

export async function expiredUploads(db: Tx, now: Date): Promise<UploadRow[]> {
  return db.selectFrom('fs_uploads').selectAll().where('expires_at', '<', now.toISOString()).execute();
}

export async function reservedUploadBytes(db: Tx): Promise<number> {
  const row = await db.selectFrom('fs_uploads').select((eb) => eb.fn.sum<number | string | null>('size').as('bytes')).executeTakeFirst();
  return Number(row?.bytes ?? 0);
}

// ---------------------------------------------------------------- leases (open readers, stagers)

export async function addLease(db: Tx, fileId: number, generation: number, purpose: string, holder: string, at: Date, expiresAt: Date): Promise<number> {
  const row = await db
    .insertInto('fs_leases')
    .values({ file_id: fileId, generation, purpose, holder, created_at: at.toISOString(), expires_at: expiresAt.toISOString() })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function renewLease(db: Tx, id: number, expiresAt: Date): Promise<void> {
  await db.updateTable('fs_leases').set({ expires_at: expiresAt.toISOString() }).where('id', '=', id).execute();
}

export async function dropLease(db: Tx, id: number): Promise<void> {
  await db.deleteFrom('fs_leases').where('id', '=', id).execute();
}

export async function dropExpiredLeases(db: Tx, now: Date): Promise<void> {
  await db.deleteFrom('fs_leases').where('expires_at', '<', now.toISOString()).execute();
}

/** Which of `fileIds` have a live lease (open readers or stagers) at `now`. */
export async function leasedFiles(db: Tx, fileIds: readonly number[], now: Date): Promise<Set<number>> {
  const found = new Set<number>();
  for (let i = 0; i < fileIds.length; i += 500) {
    const rows = await db
      .selectFrom('fs_leases')
      .select('file_id')
      .distinct()
      .where('file_id', 'in', fileIds.slice(i, i + 500))
      .where('expires_at', '>', now.toISOString())
      .execute();
    for (const r of rows) found.add(r.file_id);
  }
  return found;
}

// ---------------------------------------------------------------- HSM: files by state, copies

export interface FileFilter {
  diskState?: DiskState[];
  dirty?: boolean;
  family?: string;
  classOfService?: string | null;
  modifiedBefore?: Date;
  /** Keyset paging: ids greater than this. */
  afterId?: number;
  limit: number;
}

export async function findFiles(db: Tx, filter: FileFilter): Promise<EntryRow[]> {
  let query = db.selectFrom('fs_entries').selectAll().where('kind', '=', FILE).where('generation', '>', 0);
  if (filter.diskState) query = query.where('disk_state', 'in', filter.diskState);
  if (filter.dirty !== undefined) query = query.where('dirty', '=', filter.dirty ? 1 : 0);
  if (filter.family !== undefined) query = query.where('family', '=', filter.family);
  if (filter.classOfService !== undefined) {
    query = filter.classOfService === null ? query.where('class_of_service', 'is', null) : query.where('class_of_service', '=', filter.classOfService);
  }
  if (filter.modifiedBefore) query = query.where('modified_at', '<', filter.modifiedBefore.toISOString());
  if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
  return query.orderBy('id').limit(filter.limit).execute();
}

/** Where a copy lies inside a container entry (hsm/migrate.ts): the member's offset, and the entry's own length and SHA-256. */
export interface ContainerPart {
  offset: number;
  containerLength: number;
  containerSha256: string;
}

/**
 * Records a copy. A whole entry: `location` as the backend returned it. A container member:
 * `location` has the entry's backend/volume/entry/position with the MEMBER's length and SHA-256,
 * and `member` says where it lies in the entry.
 */
export async function insertCopy(db: Tx, fileId: number, generation: number, copyNo: number, location: ArchiveLocation, at: Date, obsolete: boolean, member?: ContainerPart | null): Promise<number> {
  const row = await db
    .insertInto('fs_copies')
    .values({
      file_id: fileId,
      generation,
      copy_no: copyNo,
      backend: location.backend,
      volume: location.volume,
      entry: location.entry,
      position: location.position,
      length: location.length,
      sha256: location.sha256,
      created_at: at.toISOString(),
      verified_at: null,
      obsolete_at: obsolete ? at.toISOString() : null,
      container_offset: member?.offset ?? null,
      container_length: member?.containerLength ?? null,
      container_sha256: member?.containerSha256 ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** Live copies of the given files' current generations. */
export async function currentCopies(db: Tx, fileIds: readonly number[]): Promise<CopyRow[]> {
  const rows: CopyRow[] = [];
  for (let i = 0; i < fileIds.length; i += 500) {
    rows.push(
      ...(await db
        .selectFrom('fs_copies')
        .selectAll()
        .where('file_id', 'in', fileIds.slice(i, i + 500))
        .where('obsolete_at', 'is', null)
        .orderBy('file_id')
        .orderBy('copy_no')
        .execute()),
    );
  }
  return rows;
}

/** A file's generations before `generation` lose their copies (overwritten), or all of them (removed). */
export async function obsoleteCopies(db: Tx, fileIds: readonly number[], at: Date, keepGeneration?: number): Promise<void> {
  for (let i = 0; i < fileIds.length; i += 500) {
    let query = db
      .updateTable('fs_copies')
      .set({ obsolete_at: at.toISOString() })
      .where('file_id', 'in', fileIds.slice(i, i + 500))
      .where('obsolete_at', 'is', null);
    if (keepGeneration !== undefined) query = query.where('generation', '<>', keepGeneration);
    await query.execute();
  }
}

export async function obsoleteCopyRows(db: Tx, limit: number, volume?: string): Promise<CopyRow[]> {
  let query = db.selectFrom('fs_copies').selectAll().where('obsolete_at', 'is not', null);
  if (volume !== undefined) query = query.where('volume', '=', volume);
  return query.orderBy('volume').orderBy('position').limit(limit).execute();
}

export async function copiesOnVolume(db: Tx, volume: string, includeObsolete: boolean): Promise<CopyRow[]> {
  let query = db.selectFrom('fs_copies').selectAll().where('volume', '=', volume);
  if (!includeObsolete) query = query.where('obsolete_at', 'is', null);
  return query.orderBy('position').orderBy('container_offset').orderBy('id').execute();
}

export async function deleteCopy(db: Tx, id: number): Promise<void> {
  await db.deleteFrom('fs_copies').where('id', '=', id).execute();
}

export async function copyById(db: Tx, id: number): Promise<CopyRow | undefined> {
  return db.selectFrom('fs_copies').selectAll().where('id', '=', id).executeTakeFirst();
}

// ---------------------------------------------------------------- conversions

const date = (iso: string | null) => (iso === null ? null : new Date(iso));

export function toFileRecord(row: EntryRow): FileRecord {
  return {
    id: row.id,
    parentId: row.parent_id ?? 0,
    name: row.name,
    owner: row.owner_name,
    group: row.group_name,
    size: row.size,
    sha256: row.sha256,
    generation: row.generation,
    diskState: row.disk_state as DiskState,
    dirty: row.dirty === 1,
    classOfService: row.class_of_service,
    family: row.family,
    createdAt: new Date(row.created_at),
    modifiedAt: new Date(row.modified_at),
    accessedAt: new Date(row.accessed_at),
    migratedAt: date(row.migrated_at),
    pinnedUntil: date(row.pinned_until),
  };
}

export function toCopyRecord(row: CopyRow): CopyRecord {
  return {
    id: row.id,
    fileId: row.file_id,
    generation: row.generation,
    copyNo: row.copy_no,
    backend: row.backend,
    volume: row.volume,
    entry: row.entry,
    position: row.position,
    length: row.length,
    sha256: row.sha256,
    createdAt: new Date(row.created_at),
    verifiedAt: date(row.verified_at),
    obsoleteAt: date(row.obsolete_at),
  };
}

/** The archive entry that holds a copy (for a container member: the whole container entry). */
export function locationOf(row: CopyRow): ArchiveLocation {
  if (row.container_offset !== null && row.container_length !== null && row.container_sha256 !== null) {
    return { backend: row.backend, volume: row.volume, entry: row.entry, position: row.position, length: row.container_length, sha256: row.container_sha256 };
  }
  return { backend: row.backend, volume: row.volume, entry: row.entry, position: row.position, length: row.length, sha256: row.sha256 };
}

/** The byte range of the entry that is this copy: undefined for a whole entry, the member's bytes for a container member. */
export function rangeOf(row: CopyRow): { start: number; end: number } | undefined {
  return row.container_offset === null ? undefined : { start: row.container_offset, end: row.container_offset + row.length };
}

/** The container part of a copy row (null for a whole entry). */
export function containerPartOf(row: CopyRow): ContainerPart | null {
  if (row.container_offset === null || row.container_length === null || row.container_sha256 === null) return null;
  return { offset: row.container_offset, containerLength: row.container_length, containerSha256: row.container_sha256 };
}

/** Other copy rows (live or obsolete) that share a copy's archive entry: a container's entry is removed only with its last row. */
export async function othersInEntry(db: Tx, row: Pick<CopyRow, 'id' | 'volume' | 'entry' | 'backend'>): Promise<number> {
  const found = await db
    .selectFrom('fs_copies')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('volume', '=', row.volume)
    .where('entry', '=', row.entry)
    .where('backend', '=', row.backend)
    .where('id', '<>', row.id)
    .executeTakeFirst();
  return Number(found?.n ?? 0);
}
