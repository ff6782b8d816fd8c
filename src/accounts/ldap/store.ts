import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { Identity, IdentityGroup, IdentityUser } from './plan.ts';

/** Keisan's users and groups as the directory should show them (read only). */
export async function readIdentity(db: Kysely<Database>): Promise<Identity> {
  const workgroups = await db.selectFrom('workgroups').select(['id', 'name', 'gid', 'description']).execute();
  const subgroups = await db.selectFrom('subgroups').select(['id', 'name', 'gid', 'description', 'workgroup_id']).execute();
  const users = await db
    .selectFrom('users')
    .leftJoin('ldap_passwords', 'ldap_passwords.user_id', 'users.id')
    .select(['users.id as id', 'users.name as name', 'users.full_name as full_name', 'users.email as email', 'users.uid as uid', 'users.home as home', 'users.shell as shell', 'users.locked as locked', 'users.primary_subgroup_id as primary_subgroup_id', 'ldap_passwords.hash as ldap_hash'])
    .execute();
  const memberships = await db.selectFrom('memberships').select(['user_id', 'subgroup_id']).execute();
  const subgroupById = new Map(subgroups.map((s) => [s.id, s]));
  const userById = new Map(users.map((u) => [u.id, u]));
  const membersOf = new Map<number, Set<string>>(subgroups.map((s) => [s.id, new Set<string>()]));
  for (const user of users) membersOf.get(user.primary_subgroup_id)?.add(user.name);
  for (const m of memberships) {
    const user = userById.get(m.user_id);
    if (user) membersOf.get(m.subgroup_id)?.add(user.name);
  }
  const identityUsers: IdentityUser[] = users.map((u) => ({
    name: u.name,
    fullName: u.full_name,
    email: u.email,
    uid: Number(u.uid),
    gid: Number(subgroupById.get(u.primary_subgroup_id)?.gid ?? 0),
    home: u.home,
    shell: u.shell,
    locked: Number(u.locked) === 1,
    ldapPassword: u.ldap_hash ?? null,
  }));
  const groups: IdentityGroup[] = [
    ...subgroups.map((s) => ({ name: s.name, gid: Number(s.gid), members: [...(membersOf.get(s.id) ?? [])], description: s.description, kind: 'subgroup' as const })),
    ...workgroups.map((w) => ({
      name: w.name,
      gid: Number(w.gid),
      members: [...new Set(subgroups.filter((s) => s.workgroup_id === w.id).flatMap((s) => [...(membersOf.get(s.id) ?? [])]))],
      description: w.description,
      kind: 'workgroup' as const,
    })),
  ];
  return { users: identityUsers, groups };
}
