/**
 * The publish planner: Keisan's users and groups, and what the directory holds under Keisan's
 * two OUs, in; the LDAP operations that make the directory match, out. Pure — no clock, no I/O —
 * so that `keisan admin ldap sync` shows exactly what `--apply` will do.
 */

export interface DirectoryEntry {
  dn: string;
  /** Attribute names as the directory returned them (compared without case). */
  attributes: Record<string, string[]>;
}

export interface IdentityUser {
  name: string;
  fullName: string;
  email: string | null;
  uid: number;
  /** The gid of the primary subgroup. */
  gid: number;
  home: string;
  shell: string;
  locked: boolean;
  /** The LDAP-usable hash ({SSHA}…), or null when no password was set since publishing began. */
  ldapPassword: string | null;
}

export interface IdentityGroup {
  name: string;
  gid: number;
  /** User names: primary and extra members (of a workgroup: of any of its subgroups). */
  members: string[];
  description: string;
  kind: 'workgroup' | 'subgroup';
}

export interface Identity {
  users: IdentityUser[];
  groups: IdentityGroup[];
}

export interface DirectoryLayout {
  baseDn: string;
  usersOu: string;
  groupsOu: string;
}

export interface AttributeChange {
  attribute: string;
  from: string[];
  to: string[];
}

export type LdapOperation =
  | { op: 'add'; dn: string; attributes: Record<string, string[]> }
  | { op: 'modify'; dn: string; changes: AttributeChange[] }
  | { op: 'delete'; dn: string };

/** Lower case, no blanks around the separators: how DNs are compared. */
export function normalizeDn(dn: string): string {
  return dn
    .split(',')
    .map((part) => {
      const [type, ...value] = part.split('=');
      return `${(type ?? '').trim().toLowerCase()}=${value.join('=').trim().toLowerCase()}`;
    })
    .join(',');
}

export const usersDn = (layout: DirectoryLayout) => `${layout.usersOu},${layout.baseDn}`;
export const groupsDn = (layout: DirectoryLayout) => `${layout.groupsOu},${layout.baseDn}`;
export const userDn = (layout: DirectoryLayout, name: string) => `uid=${name},${usersDn(layout)}`;
export const groupDn = (layout: DirectoryLayout, name: string) => `cn=${name},${groupsDn(layout)}`;

/** inetOrgPerson wants a surname: the last word of the full name, else the user name. */
function surnameOf(user: IdentityUser): string {
  const words = user.fullName.trim().split(/\s+/).filter(Boolean);
  return words.at(-1) ?? user.name;
}

const USER_ATTRIBUTES = ['objectClass', 'uid', 'cn', 'sn', 'mail', 'uidNumber', 'gidNumber', 'homeDirectory', 'loginShell', 'userPassword'];
const GROUP_ATTRIBUTES = ['objectClass', 'cn', 'gidNumber', 'memberUid', 'description'];

/** A user's entry as Keisan wants it; a locked user or one without an LDAP hash has no userPassword (no bind succeeds). */
export function userEntry(layout: DirectoryLayout, user: IdentityUser): DirectoryEntry {
  const attributes: Record<string, string[]> = {
    objectClass: ['top', 'inetOrgPerson', 'posixAccount', 'shadowAccount'],
    uid: [user.name],
    cn: [user.fullName.trim() || user.name],
    sn: [surnameOf(user)],
    uidNumber: [String(user.uid)],
    gidNumber: [String(user.gid)],
    homeDirectory: [user.home],
    loginShell: [user.shell],
  };
  if (user.email) attributes.mail = [user.email];
  if (user.ldapPassword && !user.locked) attributes.userPassword = [user.ldapPassword];
  return { dn: userDn(layout, user.name), attributes };
}

export function groupEntry(layout: DirectoryLayout, group: IdentityGroup): DirectoryEntry {
  const attributes: Record<string, string[]> = {
    objectClass: ['top', 'posixGroup'],
    cn: [group.name],
    gidNumber: [String(group.gid)],
  };
  const members = [...new Set(group.members)].sort();
  if (members.length > 0) attributes.memberUid = members;
  if (group.description.trim()) attributes.description = [group.description];
  return { dn: groupDn(layout, group.name), attributes };
}

function ouEntry(dn: string): DirectoryEntry {
  const ou = /^ou=([^,]+)/i.exec(dn)?.[1] ?? dn;
  return { dn, attributes: { objectClass: ['top', 'organizationalUnit'], ou: [ou] } };
}

function valuesOf(entry: DirectoryEntry, attribute: string): string[] {
  const key = Object.keys(entry.attributes).find((k) => k.toLowerCase() === attribute.toLowerCase());
  return key ? (entry.attributes[key] ?? []) : [];
}

const sameValues = (attribute: string, a: string[], b: string[]) => {
  const fold = attribute.toLowerCase() === 'objectclass' ? (s: string) => s.toLowerCase() : (s: string) => s;
  const left = a.map(fold).sort();
  const right = b.map(fold).sort();
  return left.length === right.length && left.every((value, i) => value === right[i]);
};

function changesBetween(want: DirectoryEntry, have: DirectoryEntry, managed: readonly string[]): AttributeChange[] {
  const changes: AttributeChange[] = [];
  for (const attribute of managed) {
    const to = valuesOf(want, attribute);
    const from = valuesOf(have, attribute);
    // Structural classes cannot be replaced in place; an objectClass difference is repaired by adding what is missing.
    if (attribute === 'objectClass') {
      const missing = to.filter((c) => !from.some((f) => f.toLowerCase() === c.toLowerCase()));
      if (missing.length > 0) changes.push({ attribute, from, to: [...from, ...missing] });
      continue;
    }
    if (!sameValues(attribute, to, from)) changes.push({ attribute, from, to });
  }
  return changes;
}

/** The operations that make the directory's entries under Keisan's OUs equal to Keisan's users and groups. */
export function planPublish(identity: Identity, directory: readonly DirectoryEntry[], layout: DirectoryLayout): LdapOperation[] {
  const have = new Map(directory.map((entry) => [normalizeDn(entry.dn), entry]));
  const operations: LdapOperation[] = [];
  const ous = [usersDn(layout), groupsDn(layout)];
  for (const ou of ous) {
    if (!have.has(normalizeDn(ou))) operations.push({ op: 'add', ...ouEntry(ou) });
  }
  const wanted = new Set<string>(ous.map(normalizeDn));
  const deletes: LdapOperation[] = [];
  const reconcile = (want: DirectoryEntry, managed: readonly string[]) => {
    const key = normalizeDn(want.dn);
    wanted.add(key);
    const existing = have.get(key);
    if (!existing) {
      operations.push({ op: 'add', ...want });
      return;
    }
    const changes = changesBetween(want, existing, managed);
    if (changes.length > 0) operations.push({ op: 'modify', dn: existing.dn, changes });
  };
  for (const user of [...identity.users].sort((a, b) => a.name.localeCompare(b.name))) reconcile(userEntry(layout, user), USER_ATTRIBUTES);
  for (const group of [...identity.groups].sort((a, b) => a.name.localeCompare(b.name))) reconcile(groupEntry(layout, group), GROUP_ATTRIBUTES);
  const scopes = ous.map((ou) => `,${normalizeDn(ou)}`);
  for (const [key, entry] of have) {
    if (wanted.has(key) || !scopes.some((scope) => key.endsWith(scope))) continue;
    deletes.push({ op: 'delete', dn: entry.dn });
  }
  // Deeper entries first, so that a stray subtree goes leaf by leaf.
  deletes.sort((a, b) => b.dn.split(',').length - a.dn.split(',').length || a.dn.localeCompare(b.dn));
  return [...deletes, ...operations];
}

/** One line per operation for people; password hashes are never shown. */
export function describeOperation(operation: LdapOperation): string {
  const show = (attribute: string, values: string[]) =>
    attribute.toLowerCase() === 'userpassword' ? (values.length > 0 ? '(a password hash)' : '(none)') : values.length > 0 ? values.join(' ') : '(none)';
  switch (operation.op) {
    case 'add': {
      const fields = Object.entries(operation.attributes)
        .filter(([attribute]) => attribute !== 'objectClass')
        .map(([attribute, values]) => `${attribute}=${show(attribute, values)}`);
      return `add ${operation.dn} (${fields.join(', ')})`;
    }
    case 'modify':
      return `change ${operation.dn}: ${operation.changes.map((c) => `${c.attribute} ${show(c.attribute, c.from)} → ${show(c.attribute, c.to)}`).join('; ')}`;
    case 'delete':
      return `remove ${operation.dn}`;
  }
}
