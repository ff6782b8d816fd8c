import { UNIX_NAME_PATTERN } from '../accounts/model.ts';
import { invalidInput } from '../lib/errors.ts';

/**
 * DCE-style access control lists, pure.
 *
 * Permissions: r read (a file's bytes, a directory's listing), w write (a file's bytes),
 * x execute (a file) / traverse (a directory), c control (change the ACL), i insert (create an
 * entry in a directory), d delete (remove an entry from a directory). A set is a bit mask.
 *
 * Entries: `user_obj` (the owner), `user` (a named user), `group_obj` (the owning group),
 * `group` (a named group: a subgroup or workgroup), `mask_obj` (optional: the most any named
 * user, the owning group or a named group gets, as in POSIX), `other_obj` (everyone else).
 *
 * Text form — entries separated by commas or new lines, `#` starts a comment:
 *
 *     user::rwxcid,user:bob:r-x---,group::r-x---,group:b-ana:rwx-i-,mask::rwxcid,other::r-----
 *
 * `user`/`u`, `group`/`g`, `mask`/`m`, `other`/`o`; the middle field is empty for the owner,
 * the owning group, mask and other (`other:r` without it is accepted too). Permissions are
 * letters from `rwxcid` in any order, `-` ignored: `r-x---`, `rx` and `xr` are the same set;
 * `-` or nothing is the empty set. Written back positionally (`r-x---`). An ACL needs
 * `user::`, `group::` and `other::` exactly once; named entries at most once per name.
 */
export const PERMISSION_LETTERS = ['r', 'w', 'x', 'c', 'i', 'd'] as const;
export type PermissionLetter = (typeof PERMISSION_LETTERS)[number];

export const R = 1;
export const W = 2;
export const X = 4;
export const C = 8;
export const I = 16;
export const D = 32;
export const ALL = 63;
export const NONE = 0;
const BIT: Record<PermissionLetter, number> = { r: R, w: W, x: X, c: C, i: I, d: D };
export const PERMISSION_NAMES: Record<PermissionLetter, string> = {
  r: 'read',
  w: 'write',
  x: 'execute/traverse',
  c: 'control (change the ACL)',
  i: 'insert (create entries in a directory)',
  d: 'delete (remove entries from a directory)',
};

export type PermSet = number;
export type EntryKind = 'user_obj' | 'user' | 'group_obj' | 'group' | 'mask_obj' | 'other_obj';

export interface AclEntry {
  kind: EntryKind;
  /** The user or group of a named entry; absent otherwise. */
  name?: string;
  perms: PermSet;
}

/** An ACL in canonical order: owner, named users, owning group, named groups, mask, other. */
export interface Acl {
  readonly entries: readonly AclEntry[];
}

/** Who asks: a user name, every group they belong to, and whether they are an operator. */
export interface Subject {
  user: string;
  groups: ReadonlySet<string>;
  operator: boolean;
}

// ------------------------------------------------------------------ evaluation

/**
 * The permissions `subject` has on an object owned by `owner` and `group` under `acl`.
 * Operators have all of them (as root does; the service audits what they change that the ACL
 * alone would not allow). Then, as in DCE and POSIX, the first class that matches decides:
 * the owner gets `user::` plus control (owners may always change the ACL); a named user gets
 * their entry; a member of the owning group or of named groups gets the union of all matching
 * group entries; everyone else gets `other::`. The mask, when there is one, limits named
 * users and all group entries.
 */
export function evaluateAcl(acl: Acl, subject: Subject, owner: string, group: string): PermSet {
  if (subject.operator) return ALL;
  const entries = acl.entries;
  if (subject.user === owner) {
    let perms = C;
    for (const e of entries) if (e.kind === 'user_obj') perms |= e.perms;
    return perms;
  }
  let mask = ALL;
  let other = NONE;
  let named: number | null = null;
  let groups: number | null = null;
  for (const e of entries) {
    switch (e.kind) {
      case 'mask_obj':
        mask = e.perms;
        break;
      case 'other_obj':
        other = e.perms;
        break;
      case 'user':
        if (e.name === subject.user) named = e.perms;
        break;
      case 'group_obj':
        if (subject.groups.has(group)) groups = (groups ?? NONE) | e.perms;
        break;
      case 'group':
        if (e.name !== undefined && subject.groups.has(e.name)) groups = (groups ?? NONE) | e.perms;
        break;
      default:
        break;
    }
  }
  if (named !== null) return named & mask;
  if (groups !== null) return groups & mask;
  return other;
}

export function hasAll(perms: PermSet, wanted: PermSet): boolean {
  return (perms & wanted) === wanted;
}

// ------------------------------------------------------------------ text form

const PERMS_TEXT: readonly string[] = Array.from({ length: 64 }, (_, perms) => PERMISSION_LETTERS.map((letter) => (perms & BIT[letter] ? letter : '-')).join(''));

/** `rwxcid` positionally, `-` where a permission is absent. */
export function formatPerms(perms: PermSet): string {
  return PERMS_TEXT[perms & ALL]!;
}

/** Names of the permissions in `perms`, in words ("read and write"). */
export function describePerms(perms: PermSet): string {
  const words = PERMISSION_LETTERS.filter((l) => perms & BIT[l]).map((l) => `${PERMISSION_NAMES[l].split(' ')[0]} (${l})`);
  if (words.length === 0) return 'no permission';
  return words.length === 1 ? words[0]! : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

function permsError(where: string, message: string): never {
  throw invalidInput(`${where}: ${message}`);
}

/** Parses a permission field (`r-x---`, `rx`, `-`, ``). */
export function parsePerms(text: string, where = 'permissions'): PermSet {
  let perms = NONE;
  for (const ch of text) {
    if (ch === '-') continue;
    const bit = BIT[ch as PermissionLetter];
    if (bit === undefined) permsError(where, `'${ch}' is not a permission: use the letters r w x c i d (or - for none)`);
    if (perms & bit) permsError(where, `'${ch}' appears twice`);
    perms |= bit;
  }
  return perms;
}

const KIND_WORDS: Record<string, 'user' | 'group' | 'mask' | 'other'> = {
  user: 'user',
  u: 'user',
  group: 'group',
  g: 'group',
  mask: 'mask',
  m: 'mask',
  other: 'other',
  o: 'other',
};

/** Identifies an entry (for `--remove`): its kind and, for named entries, the name. */
export interface EntryKey {
  kind: EntryKind;
  name?: string;
}

function entryKey(kindWord: string, qualifier: string, where: string): EntryKey {
  const kind = KIND_WORDS[kindWord.toLowerCase()];
  if (!kind) permsError(where, `'${kindWord}' is not an entry type: use user, group, mask or other (or u, g, m, o)`);
  if (kind === 'mask' || kind === 'other') {
    if (qualifier !== '') permsError(where, `${kind} entries name nobody: write '${kind}::PERMS'`);
    return { kind: kind === 'mask' ? 'mask_obj' : 'other_obj' };
  }
  if (qualifier === '') return { kind: kind === 'user' ? 'user_obj' : 'group_obj' };
  if (!UNIX_NAME_PATTERN.test(qualifier)) {
    permsError(where, `'${qualifier}' is not a valid ${kind} name (lower-case letters, digits, _ and -, at most 32 characters)`);
  }
  return { kind, name: qualifier };
}

/** The entries of a text, each with its position for messages; comments and blank items dropped. */
function items(text: string): { item: string; where: string }[] {
  const out: { item: string; where: string }[] = [];
  const lines = text.split(/\r?\n/);
  const multiline = lines.length > 1;
  let n = 0;
  lines.forEach((line, lineIndex) => {
    const code = line.replace(/#.*$/, '');
    for (const raw of code.split(',')) {
      const item = raw.trim();
      if (item === '') continue;
      n++;
      out.push({ item, where: `${multiline ? `line ${lineIndex + 1}, ` : ''}entry ${n} ('${item.length > 80 ? `${item.slice(0, 80)}…` : item}')` });
    }
  });
  return out;
}

function parseEntry(item: string, where: string): AclEntry {
  const fields = item.split(':');
  let kindWord: string;
  let qualifier: string;
  let perms: string;
  if (fields.length === 3) [kindWord, qualifier, perms] = fields as [string, string, string];
  else if (fields.length === 2 && /^(o|other|m|mask)$/i.test(fields[0]!.trim())) [kindWord, qualifier, perms] = [fields[0]!, '', fields[1]!];
  else permsError(where, 'write TYPE:NAME:PERMS, e.g. user:bob:r-x--- or group::rwx--- (the name is empty for the owner, owning group, mask and other)');
  const key = entryKey(kindWord.trim(), qualifier.trim(), where);
  return { ...key, perms: parsePerms(perms.trim(), where) };
}

const ORDER: Record<EntryKind, number> = { user_obj: 0, user: 1, group_obj: 2, group: 3, mask_obj: 4, other_obj: 5 };

function sameKey(a: EntryKey, b: EntryKey): boolean {
  return a.kind === b.kind && (a.name ?? '') === (b.name ?? '');
}

function keyText(key: EntryKey): string {
  switch (key.kind) {
    case 'user_obj':
      return 'user::';
    case 'user':
      return `user:${key.name}:`;
    case 'group_obj':
      return 'group::';
    case 'group':
      return `group:${key.name}:`;
    case 'mask_obj':
      return 'mask::';
    case 'other_obj':
      return 'other::';
  }
}

/** Sorts entries canonically and checks them: required entries once, no duplicates. */
export function makeAcl(entries: readonly AclEntry[], where = 'ACL'): Acl {
  const sorted = [...entries].sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || (a.name ?? '').localeCompare(b.name ?? ''));
  for (let i = 1; i < sorted.length; i++) {
    if (sameKey(sorted[i - 1]!, sorted[i]!)) throw invalidInput(`${where}: '${keyText(sorted[i]!)}' appears twice: each entry may appear once`);
  }
  const missing = (['user_obj', 'group_obj', 'other_obj'] as const).filter((kind) => !sorted.some((e) => e.kind === kind)).map((kind) => `'${keyText({ kind })}'`);
  if (missing.length) {
    throw invalidInput(`${where}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing: every ACL has user::, group:: and other:: entries`);
  }
  return { entries: sorted.map((e) => ({ ...e })) };
}

/** Parses the text form; errors name the line and entry and say how to write it. */
export function parseAcl(text: string, what = 'ACL'): Acl {
  const parsed = items(text).map(({ item, where }) => parseEntry(item, `${what}, ${where}`));
  if (parsed.length === 0) throw invalidInput(`${what} is empty: write entries such as user::rwxcid,group::r-x---,other::------`);
  return makeAcl(parsed, what);
}

/** Parses entries to add (`user:bob:r-x`), without requiring a complete ACL. */
export function parseEntries(text: string, what = 'entries'): AclEntry[] {
  return items(text).map(({ item, where }) => parseEntry(item, `${what}, ${where}`));
}

/** Parses entry keys to remove (`user:bob`, `group:b-ana:`, `mask::`); permissions, if given, are ignored. */
export function parseEntryKeys(text: string, what = 'entries to remove'): EntryKey[] {
  return items(text).map(({ item, where }) => {
    const fields = item.split(':');
    if (fields.length < 1 || fields.length > 3) permsError(`${what}, ${where}`, 'write TYPE:NAME, e.g. user:bob or group:b-ana');
    return entryKey(fields[0]!.trim(), (fields[1] ?? '').trim(), `${what}, ${where}`);
  });
}

export function formatEntry(entry: AclEntry): string {
  return `${keyText(entry)}${formatPerms(entry.perms)}`;
}

/** The text form: one line per entry with `separator: '\n'`, else comma-separated. */
export function formatAcl(acl: Acl, separator: ',' | '\n' = ','): string {
  return acl.entries.map(formatEntry).join(separator);
}

/** Adds or replaces entries, then removes the named ones; the result must still be complete. */
export function modifyAcl(acl: Acl, add: readonly AclEntry[], remove: readonly EntryKey[], where = 'ACL'): Acl {
  for (const key of remove) {
    if (key.kind === 'user_obj' || key.kind === 'group_obj' || key.kind === 'other_obj') {
      throw invalidInput(`${where}: '${keyText(key)}' cannot be removed (every ACL has one); set its permissions instead, e.g. --add ${keyText(key)}---`);
    }
  }
  const kept = acl.entries.filter((e) => !add.some((a) => sameKey(a, e)) && !remove.some((r) => sameKey(r, e)));
  return makeAcl([...kept, ...add], where);
}

/** Named users and groups an ACL mentions (the service checks that they exist). */
export function namedIn(acl: Acl): { users: string[]; groups: string[] } {
  return {
    users: acl.entries.filter((e) => e.kind === 'user').map((e) => e.name!),
    groups: acl.entries.filter((e) => e.kind === 'group').map((e) => e.name!),
  };
}

const parsedCache = new Map<string, Acl>();

/** Parses an ACL stored by the service (always valid), memoised: stored texts repeat a lot. */
export function storedAcl(text: string): Acl {
  let acl = parsedCache.get(text);
  if (!acl) {
    acl = parseAcl(text);
    if (parsedCache.size > 10_000) parsedCache.clear();
    parsedCache.set(text, acl);
  }
  return acl;
}

// ------------------------------------------------------------------ defaults

/** The root: operators own it; everyone may list and traverse it. */
export const ROOT_ACL = 'user::rwxcid,group::r-x---,other::r-x---';
/** `/<workgroup>`: its members list and traverse it; only operators create in it. */
export const WORKGROUP_ACL = 'user::rwxcid,group::r-x---,other::------';
/** `/<workgroup>/<subgroup>`: the subgroup's members create, read and delete there. */
export const SUBGROUP_ACL = 'user::rwxcid,group::rwx-id,other::------';
/** What a new file gets when its directory names no initial file ACL. */
export const DEFAULT_FILE_ACL = 'user::rw-c--,group::r-----,other::------';
/** What a new directory gets when its parent names no initial directory ACL. */
export const DEFAULT_DIR_ACL = 'user::rwxcid,group::r-x---,other::------';
/** Initial ACLs in a subgroup directory: members read each other's files and directories. */
export const SUBGROUP_INITIAL_FILE_ACL = 'user::rw-c--,group::r-----,other::------';
export const SUBGROUP_INITIAL_DIR_ACL = 'user::rwxcid,group::r-x---,other::------';
