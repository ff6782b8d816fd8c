import { normalizeDn } from './plan.ts';
import type { GroupMapRule } from './settings.ts';

/** use mode: which Keisan subgroups a directory user belongs to, by keisan.yaml's groupMap. Pure. */

export interface DirectoryGroup {
  dn: string;
  gidNumber: number | null;
}

export interface DirectoryUser {
  dn: string;
  name: string;
  uidNumber: number | null;
  gidNumber: number | null;
  fullName: string;
  email: string | null;
  home: string | null;
  shell: string | null;
  groups: DirectoryGroup[];
}

export interface Placement {
  /** The rule that gives the primary subgroup. */
  primary: GroupMapRule & { gidNumber: number | null };
  /** The other subgroups (rules) the user's groups map to, one per subgroup. */
  extras: (GroupMapRule & { gidNumber: number | null })[];
}

/**
 * The first rule that matches the user's primary group (its gidNumber) gives the primary
 * subgroup; without one, the first matching rule in keisan.yaml's order does. Undefined when
 * none of the user's groups is mapped: such a user may not log in.
 */
export function placeUser(rules: readonly GroupMapRule[], user: Pick<DirectoryUser, 'gidNumber' | 'groups'>): Placement | undefined {
  const groups = new Map(user.groups.map((g) => [normalizeDn(g.dn), g]));
  const matching = rules.flatMap((rule) => {
    const group = groups.get(normalizeDn(rule.group));
    return group ? [{ ...rule, gidNumber: group.gidNumber }] : [];
  });
  if (matching.length === 0) return undefined;
  const primary = matching.find((m) => user.gidNumber !== null && m.gidNumber === user.gidNumber) ?? matching[0]!;
  const seen = new Set([primary.subgroup]);
  const extras = matching.filter((m) => (seen.has(m.subgroup) ? false : (seen.add(m.subgroup), true)));
  return { primary, extras };
}

/** Subgroups the groupMap governs: memberships of other subgroups are Keisan's own and left alone. */
export const mappedSubgroups = (rules: readonly GroupMapRule[]) => new Set(rules.map((r) => r.subgroup));
