import { z } from 'zod';
import { describeIssues } from '../lib/config.ts';
import { invalidInput } from '../lib/errors.ts';
import { loginNetworks } from './login-networks.ts';
import { createUserInput, description, unixId, unixName, type Subgroup, type User, type Workgroup } from './model.ts';

/**
 * `keisan apply keisan.yaml`: workgroups, subgroups and users declared in a document are made
 * to exist as declared. Idempotent (a second apply changes nothing), additive (what the file
 * does not mention is kept, and reported), and all or nothing (one transaction).
 */
const declaredSubgroup = z
  .object({
    name: unixName('subgroup name'),
    description: description.optional(),
    gid: unixId.optional(),
    admins: z.array(unixName('user name')).max(1000).optional(),
  })
  .strict();

const declaredWorkgroup = z
  .object({
    name: unixName('workgroup name'),
    description: description.optional(),
    gid: unixId.optional(),
    loginNetworks: loginNetworks.optional(),
    admins: z.array(unixName('user name')).max(1000).optional(),
    subgroups: z.array(declaredSubgroup).max(10_000).optional(),
  })
  .strict();

const declaredUser = createUserInput
  .omit({ password: true })
  .extend({
    locked: z.boolean().optional(),
    /** A scrypt hash as `keisan export --with-password-hashes` writes it. */
    passwordHash: z.string().regex(/^\$scrypt\$/, 'passwordHash must be a $scrypt$ hash written by keisan export').max(512).optional(),
  })
  .strict();

export const facilityDocument = z
  .object({
    workgroups: z.array(declaredWorkgroup).max(10_000).optional(),
    users: z.array(declaredUser).max(100_000).optional(),
  })
  // Settings sections (server, tickets, …) may stand in the same file; apply ignores them.
  .passthrough();
export type FacilityDocument = z.infer<typeof facilityDocument>;
export type DeclaredUser = z.infer<typeof declaredUser>;

export const applyInput = z
  .object({ document: z.record(z.string(), z.unknown()), dryRun: z.boolean().default(false) })
  .strict();

export type Change =
  | { op: 'create-workgroup'; name: string; description: string; gid?: number; loginNetworks?: string[] }
  | { op: 'update-workgroup'; name: string; description?: string; loginNetworks?: string[] }
  | { op: 'create-subgroup'; workgroup: string; name: string; description: string; gid?: number }
  | { op: 'update-subgroup'; name: string; description: string }
  | { op: 'grant-workgroup-admin'; workgroup: string; user: string }
  | { op: 'grant-subgroup-admin'; subgroup: string; user: string }
  | { op: 'create-user'; user: DeclaredUser }
  | { op: 'update-user'; name: string; set: Partial<Omit<DeclaredUser, 'name' | 'subgroups' | 'uid'>> }
  | { op: 'add-member'; subgroup: string; user: string };

const changeSchema = z.object({ op: z.string(), summary: z.string() });
export const applyResultSchema = z.object({
  dryRun: z.boolean(),
  applied: z.boolean(),
  changes: z.array(changeSchema),
  /** Things that exist but the document does not mention: kept, listed for the operator. */
  unmentioned: z.object({ workgroups: z.array(z.string()), subgroups: z.array(z.string()), users: z.array(z.string()) }),
  ignoredSections: z.array(z.string()),
});
export type ApplyResult = z.infer<typeof applyResultSchema>;

export const exportSchema = z.object({
  workgroups: z.array(declaredWorkgroup),
  users: z.array(declaredUser),
});
export type FacilityExport = z.infer<typeof exportSchema>;

export interface Snapshot {
  workgroups: Workgroup[];
  subgroups: Subgroup[];
  users: (User & { passwordHash?: string | null })[];
}

export function parseFacilityDocument(raw: unknown): FacilityDocument {
  const result = facilityDocument.safeParse(raw);
  if (!result.success) throw invalidInput(describeIssues(result.error, 'facility document'));
  return result.data;
}

export function summarize(change: Change): string {
  switch (change.op) {
    case 'create-workgroup':
      return `+ workgroup ${change.name}${change.gid ? ` (gid ${change.gid})` : ''}`;
    case 'update-workgroup':
      return `~ workgroup ${change.name}: ${[
        ...(change.description !== undefined ? [`description → ${JSON.stringify(change.description)}`] : []),
        ...(change.loginNetworks !== undefined ? [`login networks → ${change.loginNetworks.length > 0 ? change.loginNetworks.join(', ') : 'anywhere'}`] : []),
      ].join('; ')}`;
    case 'create-subgroup':
      return `+ subgroup ${change.name} in workgroup ${change.workgroup}${change.gid ? ` (gid ${change.gid})` : ''}`;
    case 'update-subgroup':
      return `~ subgroup ${change.name}: description → ${JSON.stringify(change.description)}`;
    case 'grant-workgroup-admin':
      return `+ admin ${change.user} of workgroup ${change.workgroup}`;
    case 'grant-subgroup-admin':
      return `+ admin ${change.user} of subgroup ${change.subgroup}`;
    case 'create-user':
      return `+ user ${change.user.name} in subgroup ${change.user.primarySubgroup}${change.user.uid ? ` (uid ${change.user.uid})` : ''}`;
    case 'update-user':
      return `~ user ${change.name}: ${Object.entries(change.set)
        .map(([key, value]) => `${key} → ${key === 'passwordHash' ? '(hash)' : JSON.stringify(value)}`)
        .join(', ')}`;
    case 'add-member':
      return `+ member ${change.user} of subgroup ${change.subgroup}`;
  }
}

/**
 * Pure: what must change for the facility to match the document. Throws INVALID_INPUT for a
 * document that cannot be applied (names used twice, unknown subgroups, moves between workgroups).
 */
export function planApply(document: FacilityDocument, current: Snapshot): Change[] {
  const problems: string[] = [];
  const changes: Change[] = [];
  const workgroups = new Map(current.workgroups.map((w) => [w.name, w]));
  const subgroups = new Map(current.subgroups.map((s) => [s.name, s]));
  const users = new Map(current.users.map((u) => [u.name, u]));

  const groupNames = new Set<string>();
  const declaredSubgroups = new Map<string, string>();
  for (const workgroup of document.workgroups ?? []) {
    if (groupNames.has(workgroup.name)) problems.push(`group name '${workgroup.name}' is declared twice`);
    groupNames.add(workgroup.name);
    if (subgroups.has(workgroup.name)) problems.push(`'${workgroup.name}' is already a subgroup; workgroup and subgroup names share one namespace`);
    for (const subgroup of workgroup.subgroups ?? []) {
      if (groupNames.has(subgroup.name)) problems.push(`group name '${subgroup.name}' is declared twice`);
      groupNames.add(subgroup.name);
      declaredSubgroups.set(subgroup.name, workgroup.name);
      if (workgroups.has(subgroup.name)) problems.push(`'${subgroup.name}' is already a workgroup; workgroup and subgroup names share one namespace`);
      const existing = subgroups.get(subgroup.name);
      if (existing && existing.workgroup !== workgroup.name) {
        problems.push(`subgroup '${subgroup.name}' belongs to workgroup '${existing.workgroup}', not '${workgroup.name}': subgroups cannot move between workgroups`);
      }
    }
  }
  const declaredUsers = new Set<string>();
  for (const user of document.users ?? []) {
    if (declaredUsers.has(user.name)) problems.push(`user '${user.name}' is declared twice`);
    declaredUsers.add(user.name);
    for (const name of [user.primarySubgroup, ...(user.subgroups ?? [])]) {
      if (!subgroups.has(name) && !declaredSubgroups.has(name)) problems.push(`user '${user.name}': subgroup '${name}' does not exist and is not declared`);
    }
    const existing = users.get(user.name);
    if (existing && user.uid !== undefined && existing.uid !== user.uid) {
      problems.push(`user '${user.name}' has uid ${existing.uid}, the document says ${user.uid}: uids are not changed by apply`);
    }
  }
  const knownUser = (name: string) => users.has(name) || declaredUsers.has(name);
  for (const workgroup of document.workgroups ?? []) {
    for (const admin of workgroup.admins ?? []) if (!knownUser(admin)) problems.push(`workgroup '${workgroup.name}': admin '${admin}' is not a user`);
    for (const subgroup of workgroup.subgroups ?? []) {
      for (const admin of subgroup.admins ?? []) if (!knownUser(admin)) problems.push(`subgroup '${subgroup.name}': admin '${admin}' is not a user`);
    }
  }
  if (problems.length > 0) throw invalidInput(`the document cannot be applied: ${problems.join('; ')}`);

  for (const workgroup of document.workgroups ?? []) {
    const existing = workgroups.get(workgroup.name);
    if (!existing) {
      changes.push({
        op: 'create-workgroup',
        name: workgroup.name,
        description: workgroup.description ?? '',
        ...(workgroup.gid ? { gid: workgroup.gid } : {}),
        ...(workgroup.loginNetworks?.length ? { loginNetworks: workgroup.loginNetworks } : {}),
      });
    } else {
      const description = workgroup.description !== undefined && workgroup.description !== existing.description ? workgroup.description : undefined;
      const networks = workgroup.loginNetworks !== undefined && workgroup.loginNetworks.join(',') !== existing.loginNetworks.join(',') ? workgroup.loginNetworks : undefined;
      if (description !== undefined || networks !== undefined) {
        changes.push({ op: 'update-workgroup', name: workgroup.name, ...(description !== undefined ? { description } : {}), ...(networks !== undefined ? { loginNetworks: networks } : {}) });
      }
    }
    for (const subgroup of workgroup.subgroups ?? []) {
      const existingSubgroup = subgroups.get(subgroup.name);
      if (!existingSubgroup) {
        changes.push({ op: 'create-subgroup', workgroup: workgroup.name, name: subgroup.name, description: subgroup.description ?? '', ...(subgroup.gid ? { gid: subgroup.gid } : {}) });
      } else if (subgroup.description !== undefined && subgroup.description !== existingSubgroup.description) {
        changes.push({ op: 'update-subgroup', name: subgroup.name, description: subgroup.description });
      }
    }
  }

  for (const user of document.users ?? []) {
    const existing = users.get(user.name);
    if (!existing) {
      changes.push({ op: 'create-user', user });
      continue;
    }
    const set: Partial<Omit<DeclaredUser, 'name' | 'subgroups' | 'uid'>> = {};
    if (user.primarySubgroup !== existing.primarySubgroup) set.primarySubgroup = user.primarySubgroup;
    if (user.fullName !== undefined && user.fullName !== existing.fullName) set.fullName = user.fullName;
    if (user.email !== undefined && user.email !== existing.email) set.email = user.email;
    if (user.home !== undefined && user.home !== existing.home) set.home = user.home;
    if (user.shell !== undefined && user.shell !== existing.shell) set.shell = user.shell;
    if (user.operator !== undefined && user.operator !== existing.isOperator) set.operator = user.operator;
    if (user.locked !== undefined && user.locked !== existing.locked) set.locked = user.locked;
    if (user.passwordHash !== undefined && user.passwordHash !== existing.passwordHash) set.passwordHash = user.passwordHash;
    if (Object.keys(set).length > 0) changes.push({ op: 'update-user', name: user.name, set });
    for (const subgroup of user.subgroups ?? []) {
      const already = existing.subgroups.includes(subgroup) || subgroup === (set.primarySubgroup ?? existing.primarySubgroup);
      if (!already) changes.push({ op: 'add-member', subgroup, user: user.name });
    }
  }

  for (const workgroup of document.workgroups ?? []) {
    const existingAdmins = workgroups.get(workgroup.name)?.admins ?? [];
    for (const admin of workgroup.admins ?? []) {
      if (!existingAdmins.includes(admin)) changes.push({ op: 'grant-workgroup-admin', workgroup: workgroup.name, user: admin });
    }
    for (const subgroup of workgroup.subgroups ?? []) {
      const existingSubgroupAdmins = subgroups.get(subgroup.name)?.admins ?? [];
      for (const admin of subgroup.admins ?? []) {
        if (!existingSubgroupAdmins.includes(admin)) changes.push({ op: 'grant-subgroup-admin', subgroup: subgroup.name, user: admin });
      }
    }
  }
  return changes;
}

/** What exists that the document does not mention (kept by apply). */
export function unmentioned(document: FacilityDocument, current: Snapshot): ApplyResult['unmentioned'] {
  const workgroups = new Set((document.workgroups ?? []).map((w) => w.name));
  const subgroups = new Set((document.workgroups ?? []).flatMap((w) => (w.subgroups ?? []).map((s) => s.name)));
  const users = new Set((document.users ?? []).map((u) => u.name));
  return {
    workgroups: document.workgroups ? current.workgroups.map((w) => w.name).filter((n) => !workgroups.has(n)) : [],
    subgroups: document.workgroups ? current.subgroups.map((s) => s.name).filter((n) => !subgroups.has(n)) : [],
    users: document.users ? current.users.map((u) => u.name).filter((n) => !users.has(n)) : [],
  };
}

/** The facility as a document that `planApply` turns into no changes. */
export function exportDocument(current: Snapshot, withPasswordHashes: boolean): FacilityExport {
  return {
    workgroups: current.workgroups.map((workgroup) => ({
      name: workgroup.name,
      description: workgroup.description,
      gid: workgroup.gid,
      loginNetworks: workgroup.loginNetworks,
      admins: workgroup.admins,
      subgroups: current.subgroups
        .filter((s) => s.workgroup === workgroup.name)
        .map((s) => ({ name: s.name, description: s.description, gid: s.gid, admins: s.admins })),
    })),
    users: current.users.map((user) => ({
      name: user.name,
      primarySubgroup: user.primarySubgroup,
      fullName: user.fullName,
      ...(user.email ? { email: user.email } : {}),
      uid: user.uid,
      home: user.home,
      shell: user.shell,
      subgroups: user.subgroups,
      operator: user.isOperator,
      locked: user.locked,
      ...(withPasswordHashes && user.passwordHash ? { passwordHash: user.passwordHash } : {}),
    })),
  };
}
