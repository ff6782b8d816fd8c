import type { Kysely, Selectable } from 'kysely';
import type { Database, SubgroupTable, TicketTable, UserTable, WorkgroupTable } from '../db/schema.ts';
import type { GroupRef, SubgroupRef, UserScope } from './policy.ts';
import { networksFromJson, type WorkgroupNetworks } from './login-networks.ts';
import type { RoleGrant, Subgroup, User, Workgroup } from './model.ts';

/** Database access for accounts. No rules here: the service decides, the store reads and writes. */
export type Tx = Kysely<Database>;
export type WorkgroupRow = Selectable<WorkgroupTable>;
export type SubgroupRow = Selectable<SubgroupTable>;
export type UserRow = Selectable<UserTable>;
export type TicketRow = Selectable<TicketTable>;

export async function findWorkgroup(db: Tx, name: string): Promise<WorkgroupRow | undefined> {
  return db.selectFrom('workgroups').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function findSubgroup(db: Tx, name: string): Promise<(SubgroupRow & { workgroup_name: string }) | undefined> {
  return db
    .selectFrom('subgroups')
    .innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id')
    .selectAll('subgroups')
    .select('workgroups.name as workgroup_name')
    .where('subgroups.name', '=', name)
    .executeTakeFirst();
}

export async function findUser(db: Tx, name: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function findUserById(db: Tx, id: number): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export const workgroupRef = (row: WorkgroupRow): GroupRef => ({ id: row.id, name: row.name });

export async function subgroupRefById(db: Tx, id: number): Promise<SubgroupRef> {
  const row = await db
    .selectFrom('subgroups')
    .innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id')
    .select(['subgroups.id as id', 'subgroups.name as name', 'workgroups.id as wid', 'workgroups.name as wname'])
    .where('subgroups.id', '=', id)
    .executeTakeFirstOrThrow();
  return { id: row.id, name: row.name, workgroup: { id: row.wid, name: row.wname } };
}

export const subgroupRef = (row: SubgroupRow & { workgroup_name: string }): SubgroupRef => ({
  id: row.id,
  name: row.name,
  workgroup: { id: row.workgroup_id, name: row.workgroup_name },
});

export async function userScope(db: Tx, row: UserRow): Promise<UserScope> {
  const extraIds = await db
    .selectFrom('memberships')
    .select('subgroup_id')
    .where('user_id', '=', row.id)
    .execute();
  return {
    id: row.id,
    name: row.name,
    isOperator: row.is_operator === 1,
    primary: await subgroupRefById(db, row.primary_subgroup_id),
    extra: await Promise.all(extraIds.map((m) => subgroupRefById(db, m.subgroup_id))),
  };
}

export async function adminGrants(db: Tx, userId: number): Promise<{ workgroups: GroupRef[]; subgroups: GroupRef[] }> {
  const workgroups = await db
    .selectFrom('workgroup_admins')
    .innerJoin('workgroups', 'workgroups.id', 'workgroup_admins.workgroup_id')
    .select(['workgroups.id as id', 'workgroups.name as name'])
    .where('workgroup_admins.user_id', '=', userId)
    .orderBy('workgroups.name')
    .execute();
  const subgroups = await db
    .selectFrom('subgroup_admins')
    .innerJoin('subgroups', 'subgroups.id', 'subgroup_admins.subgroup_id')
    .select(['subgroups.id as id', 'subgroups.name as name'])
    .where('subgroup_admins.user_id', '=', userId)
    .orderBy('subgroups.name')
    .execute();
  return { workgroups, subgroups };
}

export async function toUser(db: Tx, row: UserRow): Promise<User> {
  const primary = await db
    .selectFrom('subgroups')
    .innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id')
    .select(['subgroups.name as subgroup', 'subgroups.gid as gid', 'workgroups.name as workgroup'])
    .where('subgroups.id', '=', row.primary_subgroup_id)
    .executeTakeFirstOrThrow();
  const extra = await db
    .selectFrom('memberships')
    .innerJoin('subgroups', 'subgroups.id', 'memberships.subgroup_id')
    .select('subgroups.name as name')
    .where('memberships.user_id', '=', row.id)
    .orderBy('subgroups.name')
    .execute();
  const grants = await adminGrants(db, row.id);
  const roles: RoleGrant[] = [
    ...(row.is_operator === 1 ? [{ role: 'operator' as const }] : []),
    ...grants.workgroups.map((w) => ({ role: 'workgroup-admin' as const, workgroup: w.name })),
    ...grants.subgroups.map((s) => ({ role: 'subgroup-admin' as const, subgroup: s.name })),
  ];
  return {
    name: row.name,
    fullName: row.full_name,
    email: row.email,
    uid: row.uid,
    gid: primary.gid,
    primarySubgroup: primary.subgroup,
    workgroup: primary.workgroup,
    subgroups: extra.map((e) => e.name),
    home: row.home,
    shell: row.shell,
    isOperator: row.is_operator === 1,
    locked: row.locked === 1,
    lockReason: row.lock_reason,
    hasPassword: row.password_hash !== null,
    roles,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function toWorkgroup(db: Tx, row: WorkgroupRow): Promise<Workgroup> {
  const subgroups = await db
    .selectFrom('subgroups')
    .select('name')
    .where('workgroup_id', '=', row.id)
    .orderBy('name')
    .execute();
  const admins = await db
    .selectFrom('workgroup_admins')
    .innerJoin('users', 'users.id', 'workgroup_admins.user_id')
    .select('users.name as name')
    .where('workgroup_admins.workgroup_id', '=', row.id)
    .orderBy('users.name')
    .execute();
  return {
    name: row.name,
    description: row.description,
    gid: row.gid,
    subgroups: subgroups.map((s) => s.name),
    admins: admins.map((a) => a.name),
    loginNetworks: networksFromJson(row.login_networks),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The workgroups of a user's primary and extra subgroups, with their login networks and admins. */
export async function loginNetworksOfUser(db: Tx, userId: number): Promise<WorkgroupNetworks[]> {
  const primary = db
    .selectFrom('users')
    .innerJoin('subgroups', 'subgroups.id', 'users.primary_subgroup_id')
    .select('subgroups.workgroup_id as id')
    .where('users.id', '=', userId);
  const extra = db
    .selectFrom('memberships')
    .innerJoin('subgroups', 'subgroups.id', 'memberships.subgroup_id')
    .select('subgroups.workgroup_id as id')
    .where('memberships.user_id', '=', userId);
  const rows = await db.selectFrom('workgroups').select(['id', 'name', 'login_networks']).where('id', 'in', primary.union(extra)).orderBy('name').execute();
  return Promise.all(
    rows.map(async (row) => {
      const admins = await db
        .selectFrom('workgroup_admins')
        .innerJoin('users', 'users.id', 'workgroup_admins.user_id')
        .select('users.name as name')
        .where('workgroup_admins.workgroup_id', '=', row.id)
        .orderBy('users.name')
        .execute();
      return { workgroup: row.name, networks: networksFromJson(row.login_networks), admins: admins.map((a) => a.name) };
    }),
  );
}

export async function toSubgroup(db: Tx, row: SubgroupRow & { workgroup_name: string }): Promise<Subgroup> {
  const admins = await db
    .selectFrom('subgroup_admins')
    .innerJoin('users', 'users.id', 'subgroup_admins.user_id')
    .select('users.name as name')
    .where('subgroup_admins.subgroup_id', '=', row.id)
    .orderBy('users.name')
    .execute();
  const primaryMembers = await db
    .selectFrom('users')
    .select('name')
    .where('primary_subgroup_id', '=', row.id)
    .orderBy('name')
    .execute();
  const extraMembers = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select('users.name as name')
    .where('memberships.subgroup_id', '=', row.id)
    .orderBy('users.name')
    .execute();
  return {
    name: row.name,
    workgroup: row.workgroup_name,
    description: row.description,
    gid: row.gid,
    admins: admins.map((a) => a.name),
    primaryMembers: primaryMembers.map((m) => m.name),
    extraMembers: extraMembers.map((m) => m.name),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The lowest free id at or above `low`, at most `high`; undefined when the range is full. */
export async function nextFreeId(
  db: Tx,
  kind: 'uid' | 'gid',
  [low, high]: readonly [number, number],
): Promise<number | undefined> {
  const taken =
    kind === 'uid'
      ? (await db.selectFrom('users').select('uid as id').where('uid', '>=', low).where('uid', '<=', high).execute())
      : [
          ...(await db.selectFrom('workgroups').select('gid as id').where('gid', '>=', low).where('gid', '<=', high).execute()),
          ...(await db.selectFrom('subgroups').select('gid as id').where('gid', '>=', low).where('gid', '<=', high).execute()),
        ];
  const used = new Set(taken.map((t) => Number(t.id)));
  for (let candidate = low; candidate <= high; candidate++) {
    if (!used.has(candidate)) return candidate;
  }
  return undefined;
}

export async function gidInUse(db: Tx, gid: number): Promise<string | undefined> {
  const workgroup = await db.selectFrom('workgroups').select('name').where('gid', '=', gid).executeTakeFirst();
  if (workgroup) return `workgroup '${workgroup.name}'`;
  const subgroup = await db.selectFrom('subgroups').select('name').where('gid', '=', gid).executeTakeFirst();
  return subgroup ? `subgroup '${subgroup.name}'` : undefined;
}

export async function findTicketByHash(db: Tx, tokenHash: string): Promise<TicketRow | undefined> {
  return db.selectFrom('tickets').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}
