import type { Kysely, Selectable } from 'kysely';
import type { Database, StorageAreaUsageTable } from '../../db/schema.ts';
import type { AreaKind, AreasSnapshot } from './layout.ts';

/** Database access for user areas: reads of the accounts the plan needs, writers, usage records. */
type Tx = Kysely<Database>;
export type UsageRow = Selectable<StorageAreaUsageTable>;

/** Everything planAreas needs, in a handful of queries (a sync may cover thousands of users). */
export async function snapshot(db: Tx): Promise<AreasSnapshot> {
  const [workgroupRows, subgroupRows, userRows, memberships, workgroupAdmins, subgroupAdmins, writers] = await Promise.all([
    db.selectFrom('workgroups').select(['id', 'name', 'gid']).orderBy('name').execute(),
    db
      .selectFrom('subgroups')
      .innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id')
      .select(['subgroups.id as id', 'subgroups.name as name', 'subgroups.gid as gid', 'workgroups.name as workgroup'])
      .orderBy('subgroups.name')
      .execute(),
    db
      .selectFrom('users')
      .innerJoin('subgroups', 'subgroups.id', 'users.primary_subgroup_id')
      .innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id')
      .select(['users.id as id', 'users.name as name', 'users.uid as uid', 'users.is_operator as is_operator', 'subgroups.gid as gid', 'subgroups.name as subgroup', 'workgroups.name as workgroup'])
      .orderBy('users.name')
      .execute(),
    db.selectFrom('memberships').innerJoin('subgroups', 'subgroups.id', 'memberships.subgroup_id').select(['memberships.user_id as user_id', 'subgroups.name as subgroup']).execute(),
    db.selectFrom('workgroup_admins').innerJoin('users', 'users.id', 'workgroup_admins.user_id').select(['workgroup_admins.workgroup_id as id', 'users.name as user']).execute(),
    db.selectFrom('subgroup_admins').innerJoin('users', 'users.id', 'subgroup_admins.user_id').select(['subgroup_admins.subgroup_id as id', 'users.name as user']).execute(),
    db
      .selectFrom('storage_library_writers')
      .innerJoin('users', 'users.name', 'storage_library_writers.user_name')
      .select(['storage_library_writers.workgroup as workgroup', 'users.name as user', 'users.uid as uid'])
      .orderBy('storage_library_writers.workgroup')
      .orderBy('users.name')
      .execute(),
  ]);
  const adminsOf = (rows: { id: number; user: string }[], id: number) => rows.filter((r) => Number(r.id) === id).map((r) => r.user).sort();
  return {
    workgroups: workgroupRows.map((w) => ({ id: Number(w.id), name: w.name, gid: Number(w.gid), admins: adminsOf(workgroupAdmins, Number(w.id)) })),
    subgroups: subgroupRows.map((s) => ({ id: Number(s.id), name: s.name, workgroup: s.workgroup, gid: Number(s.gid), admins: adminsOf(subgroupAdmins, Number(s.id)) })),
    users: userRows.map((u) => ({
      id: Number(u.id),
      name: u.name,
      uid: Number(u.uid),
      gid: Number(u.gid),
      primarySubgroup: u.subgroup,
      workgroup: u.workgroup,
      subgroups: memberships.filter((m) => Number(m.user_id) === Number(u.id)).map((m) => m.subgroup).sort(),
      isOperator: u.is_operator === 1,
    })),
    writers: writers.map((w) => ({ workgroup: w.workgroup, user: w.user, uid: Number(w.uid) })),
  };
}

export interface WriterRow {
  workgroup: string;
  user: string;
  addedBy: string;
  addedAt: string;
}

export async function listWriters(db: Tx, workgroup?: string): Promise<WriterRow[]> {
  let query = db.selectFrom('storage_library_writers').selectAll();
  if (workgroup !== undefined) query = query.where('workgroup', '=', workgroup);
  const rows = await query.orderBy('workgroup').orderBy('user_name').execute();
  return rows.map((r) => ({ workgroup: r.workgroup, user: r.user_name, addedBy: r.added_by, addedAt: r.added_at }));
}

export async function findWriter(db: Tx, workgroup: string, user: string): Promise<WriterRow | undefined> {
  return (await listWriters(db, workgroup)).find((w) => w.user === user);
}

export async function insertWriter(db: Tx, workgroup: string, user: string, addedBy: string, now: Date): Promise<void> {
  await db.insertInto('storage_library_writers').values({ workgroup, user_name: user, added_by: addedBy, added_at: now.toISOString() }).execute();
}

export async function deleteWriter(db: Tx, workgroup: string, user: string): Promise<number> {
  const result = await db.deleteFrom('storage_library_writers').where('workgroup', '=', workgroup).where('user_name', '=', user).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Writers whose user or workgroup no longer exists (removed accounts): returned and deleted. */
export async function deleteStaleWriters(db: Tx): Promise<WriterRow[]> {
  const users = new Set((await db.selectFrom('users').select('name').execute()).map((u) => u.name));
  const workgroups = new Set((await db.selectFrom('workgroups').select('name').execute()).map((w) => w.name));
  const stale = (await listWriters(db)).filter((w) => !users.has(w.user) || !workgroups.has(w.workgroup));
  for (const writer of stale) await deleteWriter(db, writer.workgroup, writer.user);
  return stale;
}

export interface UsageRecordInput {
  area: string;
  kind: AreaKind;
  name: string;
  path: string;
  bytes: number;
  files: number;
  complete: boolean;
  measuredAt: Date;
  durationMs: number;
}

export async function usageRows(db: Tx): Promise<UsageRow[]> {
  return db.selectFrom('storage_area_usage').selectAll().orderBy('area').execute();
}

export async function findUsage(db: Tx, area: string): Promise<UsageRow | undefined> {
  return db.selectFrom('storage_area_usage').selectAll().where('area', '=', area).executeTakeFirst();
}

/** Records a measurement; warned_at stays as it was. */
export async function writeUsage(db: Tx, input: UsageRecordInput): Promise<void> {
  const values = {
    kind: input.kind,
    name: input.name,
    path: input.path,
    bytes: input.bytes,
    files: input.files,
    complete: input.complete ? 1 : 0,
    measured_at: input.measuredAt.toISOString(),
    duration_ms: Math.round(input.durationMs),
  };
  const updated = await db.updateTable('storage_area_usage').set(values).where('area', '=', input.area).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await db.insertInto('storage_area_usage').values({ ...values, area: input.area, warned_at: null }).execute();
}

export async function markWarned(db: Tx, area: string, now: Date): Promise<void> {
  await db.updateTable('storage_area_usage').set({ warned_at: now.toISOString() }).where('area', '=', area).execute();
}

/** Usage rows of areas that are no longer planned (their account was removed). */
export async function deleteUsageExcept(db: Tx, areas: string[]): Promise<void> {
  const keep = new Set(areas);
  const stale = (await db.selectFrom('storage_area_usage').select('area').execute()).map((r) => r.area).filter((a) => !keep.has(a));
  if (stale.length) await db.deleteFrom('storage_area_usage').where('area', 'in', stale).execute();
}
