import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeisanError } from '../lib/errors.ts';
import {
  ALL,
  C,
  evaluateAcl,
  formatAcl,
  formatPerms,
  makeAcl,
  modifyAcl,
  parseAcl,
  parseEntries,
  parseEntryKeys,
  parsePerms,
  PERMISSION_LETTERS,
  type AclEntry,
  type PermissionLetter,
  type Subject,
} from './acl.ts';

/**
 * An independent reference: asks, one permission at a time, the question POSIX.1e and DCE ask
 * ("may this subject do P?"), walking the entries as lists rather than bit masks.
 */
function referenceMay(entries: { kind: string; name?: string; letters: string }[], subject: { user: string; groups: string[]; operator: boolean }, owner: string, group: string, p: PermissionLetter): boolean {
  if (subject.operator) return true;
  const has = (e: { letters: string } | undefined) => e !== undefined && e.letters.includes(p);
  const mask = entries.find((e) => e.kind === 'mask_obj');
  const maskAllows = mask === undefined || mask.letters.includes(p);
  if (subject.user === owner) return p === 'c' || has(entries.find((e) => e.kind === 'user_obj'));
  const named = entries.find((e) => e.kind === 'user' && e.name === subject.user);
  if (named) return has(named) && maskAllows;
  const matching = entries.filter((e) => (e.kind === 'group_obj' && subject.groups.includes(group)) || (e.kind === 'group' && subject.groups.includes(e.name!)));
  if (matching.length > 0) return matching.some((e) => has(e)) && maskAllows;
  return has(entries.find((e) => e.kind === 'other_obj'));
}

const lettersOf = (perms: number) => formatPerms(perms).replaceAll('-', '');
const BITS = PERMISSION_LETTERS.map((p) => [p, parsePerms(p)] as const);

function check(entries: AclEntry[], subject: Subject, owner: string, group: string): void {
  // Entries are built in canonical order already: no need for makeAcl's sort here.
  const got = evaluateAcl({ entries }, subject, owner, group);
  const ref = entries.map((e) => ({ kind: e.kind, ...(e.name ? { name: e.name } : {}), letters: lettersOf(e.perms) }));
  const refSubject = { user: subject.user, groups: [...subject.groups], operator: subject.operator };
  let expected = 0;
  for (const [p, bit] of BITS) if (referenceMay(ref, refSubject, owner, group, p)) expected |= bit;
  if (got !== expected) {
    assert.fail(`ACL ${formatAcl(makeAcl(entries))}, subject ${JSON.stringify(refSubject)}, owner ${owner}, group ${group}: got ${formatPerms(got)}, reference ${formatPerms(expected)}`);
  }
}

/** Every shape of ACL × every membership of the subject. */
interface Shape {
  ownerIsSubject: boolean;
  named: 'none' | 'self' | 'someone' | 'both';
  inOwningGroup: boolean;
  namedGroups: ('g1' | 'g2')[];
  memberOf: ('g1' | 'g2')[];
  mask: boolean;
  operator: boolean;
}

function* shapes(): Generator<Shape> {
  for (const ownerIsSubject of [false, true])
    for (const named of ['none', 'self', 'someone', 'both'] as const)
      for (const inOwningGroup of [false, true])
        for (const namedGroups of [[], ['g1'], ['g2'], ['g1', 'g2']] as ('g1' | 'g2')[][])
          for (const memberOf of [[], ['g1'], ['g2'], ['g1', 'g2']] as ('g1' | 'g2')[][])
            for (const mask of [false, true])
              for (const operator of [false, true]) yield { ownerIsSubject, named, inOwningGroup, namedGroups, memberOf, mask, operator };
}

/** The entries of a shape, with permissions from `permsFor(slot)`. */
function build(shape: Shape, permsFor: (slot: number) => number): { entries: AclEntry[]; subject: Subject; owner: string; group: string } {
  const entries: AclEntry[] = [{ kind: 'user_obj', perms: permsFor(0) }];
  if (shape.named === 'self' || shape.named === 'both') entries.push({ kind: 'user', name: 'alice', perms: permsFor(1) });
  if (shape.named === 'someone' || shape.named === 'both') entries.push({ kind: 'user', name: 'bob', perms: permsFor(2) });
  entries.push({ kind: 'group_obj', perms: permsFor(3) });
  shape.namedGroups.forEach((g, i) => entries.push({ kind: 'group', name: g, perms: permsFor(4 + i) }));
  if (shape.mask) entries.push({ kind: 'mask_obj', perms: permsFor(6) });
  entries.push({ kind: 'other_obj', perms: permsFor(7) });
  const groups = new Set<string>(shape.memberOf);
  if (shape.inOwningGroup) groups.add('owners');
  groups.add('unrelated');
  return { entries, subject: { user: 'alice', groups, operator: shape.operator }, owner: shape.ownerIsSubject ? 'alice' : 'carol', group: 'owners' };
}

describe('evaluateAcl against an independent reference', () => {
  it('every shape × membership × every assignment of each single permission to the entries (exhaustive per permission)', () => {
    let cases = 0;
    for (const shape of shapes()) {
      // The slots this shape has (absent entries take no permission), each given the permission or not.
      const slots: number[] = [];
      build(shape, (slot) => (slots.push(slot), 0));
      for (const letter of PERMISSION_LETTERS) {
        const bit = parsePerms(letter);
        for (let assignment = 0; assignment < 1 << slots.length; assignment++) {
          const built = build(shape, (slot) => (assignment & (1 << slots.indexOf(slot)) ? bit : 0));
          check(built.entries, built.subject, built.owner, built.group);
          cases++;
        }
      }
    }
    assert.ok(cases > 200_000, `${cases} cases`);
  });

  it('every shape × membership × all 64 permission sets on each entry in turn, the others random (seeded)', () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (const shape of shapes()) {
      const slots: number[] = [];
      build(shape, (slot) => (slots.push(slot), 0));
      for (const slot of slots) {
        for (let perms = 0; perms < 64; perms++) {
          const built = build(shape, (s) => (s === slot ? perms : random() & 63));
          check(built.entries, built.subject, built.owner, built.group);
        }
      }
    }
  });

  it('operators get everything; owners always have control; the mask never limits the owner or other', () => {
    const acl = parseAcl('user::r-----,group::rwxcid,mask::r-----,other::rw----');
    const subject = (user: string, groups: string[], operator = false): Subject => ({ user, groups: new Set(groups), operator });
    assert.equal(formatPerms(evaluateAcl(acl, subject('root', [], true), 'alice', 'g')), 'rwxcid');
    assert.equal(formatPerms(evaluateAcl(acl, subject('alice', []), 'alice', 'g')), 'r--c--');
    assert.equal(formatPerms(evaluateAcl(acl, subject('bob', ['g']), 'alice', 'g')), 'r-----');
    assert.equal(formatPerms(evaluateAcl(acl, subject('carol', ['h']), 'alice', 'g')), 'rw----');
    assert.equal(evaluateAcl(acl, subject('x', [], true), 'a', 'b'), ALL);
    assert.equal(evaluateAcl(parseAcl('user::------,group::------,other::------'), subject('alice', []), 'alice', 'g'), C);
  });
});

function parseError(text: string): string {
  try {
    parseAcl(text);
  } catch (error) {
    assert.ok(error instanceof KeisanError && error.code === 'INVALID_INPUT', String(error));
    return error.message;
  }
  assert.fail(`'${text}' parsed`);
}

describe('ACL text form', () => {
  it('parses the documented form and writes it back canonically (sorted, positional permissions)', () => {
    const text = 'other::r-----,group:b-ana:rwx-i-,user::rwxcid,group::r-x---,user:bob:r-x---';
    const acl = parseAcl(text);
    assert.equal(formatAcl(acl), 'user::rwxcid,user:bob:r-x---,group::r-x---,group:b-ana:rwx-i-,other::r-----');
    assert.equal(formatAcl(parseAcl(formatAcl(acl))), formatAcl(acl));
  });

  it('accepts short forms, letters in any order, new lines and comments', () => {
    const acl = parseAcl('# the owner\nu::rwx\ng::xr  # group\n  m::rwxid\no:-\nuser:bob:dir\n');
    assert.equal(formatAcl(acl, '\n'), 'user::rwx---\nuser:bob:r---id\ngroup::r-x---\nmask::rwx-id\nother::------');
    assert.equal(formatPerms(parsePerms('')), '------');
  });

  it('says which entry is wrong and how to write it', () => {
    assert.match(parseError('user::rwx,group::r-x,other::rq'), /^ACL, entry 3 \('other::rq'\): 'q' is not a permission: use the letters r w x c i d/);
    assert.match(parseError('user::rwx,group::r-x'), /'other::' is missing: every ACL has user::, group:: and other:: entries/);
    assert.match(parseError('user::rwx,user::r,group::r,other::'), /'user::' appears twice/);
    assert.match(parseError('user::rwx,group::r,other::,user:Bob:r'), /entry 4 \('user:Bob:r'\): 'Bob' is not a valid user name/);
    assert.match(parseError('user::rwx,group::r,other::,world::r'), /'world' is not an entry type: use user, group, mask or other/);
    assert.match(parseError('user::rwx\ngroup::r\nother::\nuser:bob'), /^ACL, line 4, entry 4 \('user:bob'\): write TYPE:NAME:PERMS/);
    assert.match(parseError('user::rwx,group::r,other:x:r'), /other entries name nobody/);
    assert.match(parseError('user::rrx,group::r,other::'), /'r' appears twice/);
    assert.match(parseError(' # nothing\n'), /ACL is empty/);
  });

  it('adds, replaces and removes entries; the three required ones cannot be removed', () => {
    const acl = parseAcl('user::rwxcid,group::r-x---,other::------');
    const changed = modifyAcl(acl, parseEntries('user:bob:r-x,group:b-ana:rwx-i-,other::r'), []);
    assert.equal(formatAcl(changed), 'user::rwxcid,user:bob:r-x---,group::r-x---,group:b-ana:rwx-i-,other::r-----');
    const removed = modifyAcl(changed, [], parseEntryKeys('user:bob,group:b-ana:'));
    assert.equal(formatAcl(removed), 'user::rwxcid,group::r-x---,other::r-----');
    assert.throws(() => modifyAcl(acl, [], parseEntryKeys('group::')), /'group::' cannot be removed/);
  });
});
