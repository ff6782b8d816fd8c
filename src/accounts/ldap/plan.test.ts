import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSettings } from '../../lib/config.ts';
import { placeUser } from './mapping.ts';
import { checkLdapPasswordHash, ldapPasswordHash } from './passwords.ts';
import { describeOperation, groupEntry, planPublish, userEntry, type DirectoryEntry, type Identity, type LdapOperation } from './plan.ts';

const layout = { baseDn: 'dc=keisan,dc=test', usersOu: 'ou=people', groupsOu: 'ou=groups' };
const alice = { name: 'alice', fullName: 'Alice Liddell', email: 'alice@example.org', uid: 10000, gid: 5001, home: '/home/alice', shell: '/bin/bash', locked: false, ldapPassword: '{SSHA}abc' };
const identity: Identity = {
  users: [alice],
  groups: [
    { name: 'lab', gid: 5000, members: ['alice'], description: '', kind: 'workgroup' },
    { name: 'lab-ml', gid: 5001, members: ['alice'], description: 'machine learning', kind: 'subgroup' },
  ],
};
const ous: DirectoryEntry[] = [
  { dn: 'ou=people,dc=keisan,dc=test', attributes: { objectClass: ['organizationalUnit'], ou: ['people'] } },
  { dn: 'ou=groups,dc=keisan,dc=test', attributes: { objectClass: ['organizationalUnit'], ou: ['groups'] } },
];

/** What the directory holds after the operations: the planner's model of LDAP. */
function applied(directory: DirectoryEntry[], operations: LdapOperation[]): DirectoryEntry[] {
  const byDn = new Map(directory.map((e) => [e.dn.toLowerCase(), structuredClone(e)]));
  for (const op of operations) {
    if (op.op === 'add') byDn.set(op.dn.toLowerCase(), { dn: op.dn, attributes: structuredClone(op.attributes) });
    if (op.op === 'delete') byDn.delete(op.dn.toLowerCase());
    if (op.op === 'modify') {
      const entry = byDn.get(op.dn.toLowerCase())!;
      for (const c of op.changes) {
        for (const key of Object.keys(entry.attributes)) if (key.toLowerCase() === c.attribute.toLowerCase()) delete entry.attributes[key];
        if (c.to.length > 0) entry.attributes[c.attribute] = c.to;
      }
    }
  }
  return [...byDn.values()];
}

describe('ldap publish planner', () => {
  it('an empty directory gets the two OUs, the user and both groups; applying it leaves nothing to do', () => {
    const plan = planPublish(identity, [], layout);
    assert.deepEqual(plan.map((o) => `${o.op} ${o.dn}`), [
      'add ou=people,dc=keisan,dc=test',
      'add ou=groups,dc=keisan,dc=test',
      'add uid=alice,ou=people,dc=keisan,dc=test',
      'add cn=lab,ou=groups,dc=keisan,dc=test',
      'add cn=lab-ml,ou=groups,dc=keisan,dc=test',
    ]);
    const user = plan[2]!;
    assert.ok(user.op === 'add');
    assert.deepEqual(user.attributes.objectClass, ['top', 'inetOrgPerson', 'posixAccount', 'shadowAccount']);
    assert.deepEqual([user.attributes.uidNumber, user.attributes.gidNumber, user.attributes.sn, user.attributes.userPassword], [['10000'], ['5001'], ['Liddell'], ['{SSHA}abc']]);
    assert.deepEqual(planPublish(identity, applied([], plan), layout), []);
  });

  it('changes only what differs, never shows a hash, and removes only strays under Keisan\'s OUs', () => {
    const directory: DirectoryEntry[] = [
      ...ous,
      { ...userEntry(layout, alice), attributes: { ...userEntry(layout, alice).attributes, loginShell: ['/bin/sh'], userPassword: ['{SSHA}old'] } },
      groupEntry(layout, identity.groups[0]!),
      { dn: 'CN=lab-ml, OU=groups,dc=keisan,dc=test', attributes: { objectclass: ['top', 'posixGroup'], cn: ['lab-ml'], gidnumber: ['5001'], memberuid: ['alice', 'bob'], description: ['machine learning'] } },
      { dn: 'uid=mallory,ou=people,dc=keisan,dc=test', attributes: { objectClass: ['account'], uid: ['mallory'] } },
      { dn: 'cn=printers,ou=devices,dc=keisan,dc=test', attributes: { objectClass: ['device'], cn: ['printers'] } },
    ];
    const plan = planPublish(identity, directory, layout);
    assert.deepEqual(plan.map(describeOperation), [
      'remove uid=mallory,ou=people,dc=keisan,dc=test',
      'change uid=alice,ou=people,dc=keisan,dc=test: loginShell /bin/sh → /bin/bash; userPassword (a password hash) → (a password hash)',
      'change CN=lab-ml, OU=groups,dc=keisan,dc=test: memberUid alice bob → alice',
    ]);
    assert.deepEqual(planPublish(identity, applied(directory, plan), layout), []);
  });

  it('a locked user, or one without an LDAP hash, has no userPassword', () => {
    assert.equal(userEntry(layout, { ...alice, locked: true }).attributes.userPassword, undefined);
    assert.equal(userEntry(layout, { ...alice, ldapPassword: null }).attributes.userPassword, undefined);
    const directory = [...ous, userEntry(layout, alice), ...identity.groups.map((g) => groupEntry(layout, g))];
    const plan = planPublish({ ...identity, users: [{ ...alice, locked: true }] }, directory, layout);
    assert.deepEqual(plan.map(describeOperation), ['change uid=alice,ou=people,dc=keisan,dc=test: userPassword (a password hash) → (none)']);
  });

  it('a removed user and group go', () => {
    const directory = [...ous, userEntry(layout, alice), ...identity.groups.map((g) => groupEntry(layout, g))];
    const plan = planPublish({ users: [], groups: [] }, directory, layout);
    assert.deepEqual(plan.map((o) => `${o.op} ${o.dn}`).sort(), ['delete cn=lab,ou=groups,dc=keisan,dc=test', 'delete cn=lab-ml,ou=groups,dc=keisan,dc=test', 'delete uid=alice,ou=people,dc=keisan,dc=test']);
  });

  it('{SSHA} hashes check the password and differ by salt', () => {
    const a = ldapPasswordHash('correct horse battery');
    assert.match(a, /^\{SSHA\}[A-Za-z0-9+/=]+$/);
    assert.notEqual(a, ldapPasswordHash('correct horse battery'));
    assert.ok(checkLdapPasswordHash('correct horse battery', a));
    assert.ok(!checkLdapPasswordHash('wrong', a));
  });
});

describe('ldap use: groupMap', () => {
  const rules = [
    { group: 'cn=ml,ou=groups,dc=site', workgroup: 'lab', subgroup: 'lab-ml' },
    { group: 'cn=cv,ou=groups,dc=site', workgroup: 'lab', subgroup: 'lab-cv' },
    { group: 'cn=staff,ou=groups,dc=site', workgroup: 'ops', subgroup: 'ops-staff' },
  ];
  it('the rule of the primary group (gidNumber) gives the primary subgroup; the others are extra', () => {
    const placement = placeUser(rules, { gidNumber: 7002, groups: [{ dn: 'CN=ml,ou=groups,dc=site', gidNumber: 7001 }, { dn: 'cn=cv,ou=groups,dc=site', gidNumber: 7002 }] });
    assert.equal(placement?.primary.subgroup, 'lab-cv');
    assert.deepEqual(placement?.extras.map((e) => e.subgroup), ['lab-ml']);
  });
  it('without a mapped primary group the first matching rule wins; no match: undefined', () => {
    assert.equal(placeUser(rules, { gidNumber: 9, groups: [{ dn: 'cn=staff,ou=groups,dc=site', gidNumber: 7003 }, { dn: 'cn=cv,ou=groups,dc=site', gidNumber: 7002 }] })?.primary.subgroup, 'lab-cv');
    assert.equal(placeUser(rules, { gidNumber: 9, groups: [{ dn: 'cn=other,ou=groups,dc=site', gidNumber: 9 }] }), undefined);
  });
});

describe('accounts.ldap in keisan.yaml', () => {
  const parse = (ldap: Record<string, unknown>) => parseSettings({ accounts: { ldap } }, 'keisan.yaml');
  const base = { url: 'ldap://127.0.0.1:389', baseDn: 'dc=lab,dc=example,dc=org' };
  it('publish needs a bind DN with a password file; defaults fill the rest', () => {
    const ok = parse({ ...base, mode: 'publish', bindDn: 'cn=keisan,dc=lab,dc=example,dc=org', bindPasswordFile: 'ldap.secret' }).accounts.ldap;
    assert.deepEqual([ok?.usersOu, ok?.groupsOu, ok?.retryInterval, ok?.timeout], ['ou=people', 'ou=groups', 30_000, 5_000]);
    assert.throws(() => parse({ ...base, mode: 'publish' }), /bindDn.*publish mode writes into the directory/s);
    assert.throws(() => parse({ ...base, mode: 'publish', bindDn: 'cn=keisan,dc=lab,dc=example,dc=org' }), /needs a bindPasswordFile/);
    assert.throws(() => parse({ ...base, mode: 'publish', bindDn: 'cn=k,dc=x', bindPasswordFile: 'f', bindPassword: 'secret' }), /a password never goes in keisan\.yaml/);
  });
  it('use needs a groupMap; bad modes, URLs and DNs say what to write', () => {
    assert.throws(() => parse({ ...base, mode: 'use' }), /use mode needs at least one groupMap rule/);
    assert.equal(parse({ ...base, mode: 'use', groupMap: [{ group: 'cn=ml,ou=groups,dc=lab', workgroup: 'lab', subgroup: 'lab-ml' }] }).accounts.ldap?.bindDn, undefined);
    assert.throws(() => parse({ ...base, mode: 'mirror' }), /'publish' .* or 'use'/);
    assert.throws(() => parse({ ...base, mode: 'use', url: 'http://x', groupMap: [] }), /ldap:\/\/HOST\[:PORT\]/);
    assert.throws(() => parse({ ...base, mode: 'use', baseDn: 'example.org' }), /is not a DN/);
  });
});
