import path from 'node:path';

/**
 * The user areas as they should be on disk: one pure function from the accounts to a list of
 * directories with owner, group, special bits, access ACL and default ACL. The provisioning code
 * (fsops.ts) makes the disk match it; tests compare getfacl's output with it.
 *
 *   ROOT/home/<user>                  the user's, 0711: nobody else lists it, anyone reaches public/
 *   ROOT/home/<user>/private          0700 and a default ACL: the owner only, new files included
 *   ROOT/home/<user>/public           0755 and a default ACL: readable by all, new files included
 *   ROOT/group/<workgroup>/<subgroup> setgid, group = the subgroup, ACL + default ACL rwx for it, nothing for others
 *   ROOT/lib/<workgroup>              readable by all; writable by the designated writers (named-user entries + default ACL)
 */

export type AreaKind = 'home' | 'group' | 'library';

export const AREA_KINDS: readonly AreaKind[] = ['home', 'group', 'library'];

/** What the plan needs of the accounts: names and numeric ids (they need not exist in /etc/passwd). */
export interface AreasSnapshot {
  workgroups: { id: number; name: string; gid: number; admins: string[] }[];
  subgroups: { id: number; name: string; workgroup: string; gid: number; admins: string[] }[];
  users: {
    id: number;
    name: string;
    uid: number;
    /** The primary subgroup's gid. */
    gid: number;
    primarySubgroup: string;
    workgroup: string;
    /** Extra memberships. */
    subgroups: string[];
    isOperator: boolean;
  }[];
  /** Library writers per workgroup (users that still exist). */
  writers: { workgroup: string; user: string; uid: number }[];
}

/**
 * Who owns what. As root: users own their homes, the server (uid 0) owns the rest with the
 * group's gid. In single-user mode (not root, areas turned on) everything belongs to the
 * server's own user and group, since only root may give files away; the ACL entries are the same.
 */
export interface Ownership {
  mode: 'root' | 'single-user';
  uid: number;
  gid: number;
}

export interface AreaRef {
  kind: AreaKind;
  /** `alice`, `physics/optics`, `physics`. */
  name: string;
  /** `home/alice`, `group/physics/optics`, `lib/physics`: unique, the key of usage records. */
  key: string;
  path: string;
}

export type DirRole = 'parent' | 'home' | 'private' | 'public' | 'group' | 'library';

export interface DirSpec {
  path: string;
  role: DirRole;
  /** The area this directory belongs to (none for ROOT, home/, group/, lib/, group/<workgroup>). */
  area: AreaRef | null;
  uid: number;
  gid: number;
  setgid: boolean;
  /** The access ACL in canonical form (`user::rwx`, `user:1234:rwx`, `group::r-x`, `mask::rwx`, `other::---`). */
  access: string[];
  /** The default ACL (same form, without `default:`), or null for none. */
  defaults: string[] | null;
  /**
   * An existing directory owned by another uid is reported, never given away: it may hold
   * someone else's data (a removed user's name taken by a new one). Parents are fixed.
   */
  ownerMismatch: 'fix' | 'report';
  /** Same for the group: a home's group follows the user's primary subgroup, a group area's does not. */
  groupMismatch: 'fix' | 'report';
}

export interface AreaPlan {
  root: string;
  dirs: DirSpec[];
  areas: AreaRef[];
}

const BASE_ORDER: Record<string, number> = { user: 0, group: 2, mask: 4, other: 5 };

/** Sorts ACL entries the way getfacl prints them: user::, user:N…, group::, group:N…, mask::, other::. */
export function canonicalAcl(entries: readonly string[]): string[] {
  const rank = (entry: string): [number, number] => {
    const [tag = '', qualifier = ''] = entry.split(':');
    const base = BASE_ORDER[tag] ?? 9;
    return qualifier === '' ? [base, 0] : [base + 1, Number(qualifier)];
  };
  return [...entries].sort((a, b) => {
    const [ra, qa] = rank(a);
    const [rb, qb] = rank(b);
    return ra - rb || qa - qb;
  });
}

export interface ParsedAcl {
  access: string[];
  defaults: string[];
}

/**
 * Parses `getfacl --numeric --omit-header --no-effective` output into canonical entries. Long
 * forms stay long (`user:1234:rwx`); comments and blank lines are skipped.
 */
export function parseGetfacl(text: string): ParsedAcl {
  const access: string[] = [];
  const defaults: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s*#.*$/, '').trim();
    if (line === '') continue;
    if (line.startsWith('default:')) defaults.push(line.slice('default:'.length));
    else access.push(line);
  }
  return { access: canonicalAcl(access), defaults: canonicalAcl(defaults) };
}

const permBits = (perms: string): number => (perms[0] === 'r' ? 4 : 0) | (perms[1] === 'w' ? 2 : 0) | (perms[2] === 'x' ? 1 : 0);

function entryPerms(entries: readonly string[], prefix: string): string | undefined {
  const found = entries.find((e) => e.startsWith(prefix));
  return found?.slice(prefix.length);
}

/** The mode bits an ACL implies (the group bits are the mask when there is one), plus setgid. */
export function modeOf(access: readonly string[], setgid: boolean): number {
  const user = entryPerms(access, 'user::') ?? '---';
  const group = entryPerms(access, 'mask::') ?? entryPerms(access, 'group::') ?? '---';
  const other = entryPerms(access, 'other::') ?? '---';
  return (setgid ? 0o2000 : 0) | (permBits(user) << 6) | (permBits(group) << 3) | permBits(other);
}

/** `setfacl --set` text for an access ACL and an optional default ACL. */
export function setfaclSpec(access: readonly string[], defaults: readonly string[] | null): string {
  return [...access, ...(defaults ?? []).map((e) => `default:${e}`)].join(',');
}

/** The uids of the named-user entries (`user:1234:…`). */
export function namedUsers(entries: readonly string[]): number[] {
  return entries.flatMap((e) => {
    const match = /^user:(\d+):/.exec(e);
    return match ? [Number(match[1])] : [];
  });
}

export const formatMode = (mode: number): string => mode.toString(8).padStart(4, '0');

const PARENT = ['user::rwx', 'group::r-x', 'other::r-x'];
const HOME = ['user::rwx', 'group::--x', 'other::--x'];
const PRIVATE = ['user::rwx', 'group::---', 'other::---'];
const PUBLIC = ['user::rwx', 'group::r-x', 'other::r-x'];

function groupAreaAcl(gid: number): string[] {
  return ['user::rwx', 'group::rwx', `group:${gid}:rwx`, 'mask::rwx', 'other::---'];
}

function libraryAcl(writerUids: number[]): string[] {
  const named = [...new Set(writerUids)].sort((a, b) => a - b).map((uid) => `user:${uid}:rwx`);
  return canonicalAcl(['user::rwx', ...named, 'group::r-x', ...(named.length ? ['mask::rwx'] : []), 'other::r-x']);
}

export function homePath(root: string, user: string): string {
  return path.join(root, 'home', user);
}

/** Every directory of the areas, parents first, and the areas themselves. */
export function planAreas(snapshot: AreasSnapshot, root: string, owner: Ownership): AreaPlan {
  const asRoot = owner.mode === 'root';
  const dirs: DirSpec[] = [];
  const areas: AreaRef[] = [];
  const parent = (dir: string, gid = owner.gid): DirSpec => ({
    path: dir,
    role: 'parent',
    area: null,
    uid: owner.uid,
    gid: asRoot ? gid : owner.gid,
    setgid: false,
    access: PARENT,
    defaults: null,
    ownerMismatch: 'fix',
    groupMismatch: 'fix',
  });
  dirs.push(parent(root), parent(path.join(root, 'home')), parent(path.join(root, 'group')), parent(path.join(root, 'lib')));

  for (const user of [...snapshot.users].sort((a, b) => a.name.localeCompare(b.name))) {
    const home = homePath(root, user.name);
    const area: AreaRef = { kind: 'home', name: user.name, key: `home/${user.name}`, path: home };
    areas.push(area);
    const uid = asRoot ? user.uid : owner.uid;
    const gid = asRoot ? user.gid : owner.gid;
    const own = { area, uid, gid, setgid: false, ownerMismatch: 'report' as const, groupMismatch: 'fix' as const };
    dirs.push(
      { ...own, path: home, role: 'home', access: HOME, defaults: null },
      { ...own, path: path.join(home, 'private'), role: 'private', access: PRIVATE, defaults: PRIVATE },
      { ...own, path: path.join(home, 'public'), role: 'public', access: PUBLIC, defaults: PUBLIC },
    );
  }

  const workgroups = [...snapshot.workgroups].sort((a, b) => a.name.localeCompare(b.name));
  for (const workgroup of workgroups) {
    dirs.push(parent(path.join(root, 'group', workgroup.name), workgroup.gid));
    for (const subgroup of snapshot.subgroups.filter((s) => s.workgroup === workgroup.name).sort((a, b) => a.name.localeCompare(b.name))) {
      const dir = path.join(root, 'group', workgroup.name, subgroup.name);
      const area: AreaRef = { kind: 'group', name: `${workgroup.name}/${subgroup.name}`, key: `group/${workgroup.name}/${subgroup.name}`, path: dir };
      areas.push(area);
      const acl = groupAreaAcl(subgroup.gid);
      dirs.push({
        path: dir,
        role: 'group',
        area,
        uid: owner.uid,
        gid: asRoot ? subgroup.gid : owner.gid,
        setgid: true,
        access: acl,
        defaults: acl,
        ownerMismatch: 'fix',
        groupMismatch: 'report',
      });
    }
  }
  for (const workgroup of workgroups) {
    const dir = path.join(root, 'lib', workgroup.name);
    const area: AreaRef = { kind: 'library', name: workgroup.name, key: `lib/${workgroup.name}`, path: dir };
    areas.push(area);
    const acl = libraryAcl(snapshot.writers.filter((w) => w.workgroup === workgroup.name).map((w) => w.uid));
    dirs.push({
      path: dir,
      role: 'library',
      area,
      uid: owner.uid,
      gid: asRoot ? workgroup.gid : owner.gid,
      setgid: false,
      access: acl,
      defaults: acl,
      ownerMismatch: 'fix',
      groupMismatch: 'fix',
    });
  }
  return { root, dirs, areas };
}

// ---------------------------------------------------------------- soft quotas

export interface QuotaSettings {
  homeQuota?: number | undefined;
  groupQuota?: number | undefined;
  libraryQuota?: number | undefined;
  warnPercent: number;
}

export function quotaFor(kind: AreaKind, settings: QuotaSettings): number | null {
  const quota = kind === 'home' ? settings.homeQuota : kind === 'group' ? settings.groupQuota : settings.libraryQuota;
  return quota === undefined ? null : quota;
}

/** Per cent of the quota used (one decimal), or null without a quota. */
export function percentOf(bytes: number, quota: number | null): number | null {
  if (quota === null) return null;
  if (quota === 0) return bytes > 0 ? 100 : 0;
  return Math.round((bytes / quota) * 1000) / 10;
}

export const WARNING_INTERVAL_MS = 24 * 3_600_000;

/**
 * Whether an area's owners get a warning now: usage at or over warnPercent of the quota, and no
 * warning for this area in the last 24 hours (at most one a day while it stays over).
 */
export function warningDue(bytes: number, quota: number | null, warnPercent: number, lastWarnedAt: Date | null, now: Date): boolean {
  if (quota === null) return false;
  if (bytes < (quota * warnPercent) / 100) return false;
  return lastWarnedAt === null || now.getTime() - lastWarnedAt.getTime() >= WARNING_INTERVAL_MS;
}
