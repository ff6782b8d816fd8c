import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SYSTEM_ACTOR, type Actor } from './model.ts';
import { authorize, type AccountAction, type Decision, type GroupRef, type SubgroupRef, type UserScope } from './policy.ts';

// ---------------------------------------------------------------- the facility the matrix runs over

const W: GroupRef = { id: 1, name: 'physics' }; // the target's workgroup
const X: GroupRef = { id: 2, name: 'chemistry' }; // another workgroup
const S: SubgroupRef = { id: 10, name: 'optics', workgroup: W }; // the target's primary subgroup
const T: SubgroupRef = { id: 11, name: 'lasers', workgroup: W }; // another subgroup of W
const Y: SubgroupRef = { id: 12, name: 'organic', workgroup: X }; // a subgroup of another workgroup

const TARGET_ID = 100;
/** The plain user every user.* action is aimed at. */
const target: UserScope = { id: TARGET_ID, name: 'tina', isOperator: false, primary: S, extra: [] };

const actor = (userId: number, name: string, extra: Partial<Actor> = {}): Actor => ({
  kind: 'user',
  userId,
  name,
  isOperator: false,
  workgroupAdminOf: [],
  subgroupAdminOf: [],
  address: '192.0.2.1',
  ...extra,
});

const ROLES = ['operator', 'wgAdmin', 'otherWgAdmin', 'sgAdmin', 'otherSgAdmin', 'self', 'otherUser'] as const;
type RoleName = (typeof ROLES)[number];

const ACTORS: Record<RoleName, Actor> = {
  operator: actor(1, 'olga', { isOperator: true }),
  wgAdmin: actor(2, 'walter', { workgroupAdminOf: [W.id] }),
  otherWgAdmin: actor(3, 'xavier', { workgroupAdminOf: [X.id] }),
  sgAdmin: actor(4, 'sam', { subgroupAdminOf: [S.id] }),
  otherSgAdmin: actor(5, 'tom', { subgroupAdminOf: [T.id] }),
  self: actor(TARGET_ID, 'tina'),
  otherUser: actor(6, 'ulla'),
};

type Kind = AccountAction['kind'];

/** One action of every kind, aimed at W, S or tina as fits the kind. */
const ACTIONS: { [K in Kind]: Extract<AccountAction, { kind: K }> } = {
  'workgroup.create': { kind: 'workgroup.create' },
  'workgroup.update': { kind: 'workgroup.update', workgroup: W },
  'workgroup.delete': { kind: 'workgroup.delete', workgroup: W },
  'workgroup.grant-admin': { kind: 'workgroup.grant-admin', workgroup: W },
  'workgroup.set-login-networks': { kind: 'workgroup.set-login-networks' },
  'subgroup.create': { kind: 'subgroup.create', workgroup: W },
  'subgroup.update': { kind: 'subgroup.update', subgroup: S },
  'subgroup.delete': { kind: 'subgroup.delete', subgroup: S },
  'subgroup.grant-admin': { kind: 'subgroup.grant-admin', subgroup: S },
  'subgroup.read-members': { kind: 'subgroup.read-members', subgroup: S },
  'member.add': { kind: 'member.add', subgroup: S, user: { ...target, primary: T } },
  'member.remove': { kind: 'member.remove', subgroup: S, user: { ...target, primary: T, extra: [S] } },
  'user.create': { kind: 'user.create', subgroup: S },
  'user.read': { kind: 'user.read', user: target },
  'user.update-profile': { kind: 'user.update-profile', user: target },
  'user.set-password': { kind: 'user.set-password', user: target },
  'user.set-login': { kind: 'user.set-login', user: target },
  'user.lock': { kind: 'user.lock', user: target },
  'user.move': { kind: 'user.move', user: target, to: T },
  'user.delete': { kind: 'user.delete', user: target },
  'user.set-uid': { kind: 'user.set-uid' },
  'user.grant-operator': { kind: 'user.grant-operator' },
  'audit.read': { kind: 'audit.read' },
  'facility.apply': { kind: 'facility.apply' },
  'facility.export': { kind: 'facility.export' },
  'daemons.read': { kind: 'daemons.read' },
  'mail.admin': { kind: 'mail.admin' },
  'areas.admin': { kind: 'areas.admin' },
  'alerts.admin': { kind: 'alerts.admin' },
  'recovery.read-all': { kind: 'recovery.read-all' },
  'library.writers': { kind: 'library.writers', workgroup: W },
};

/**
 * The expected table: for each action, exactly the roles that are allowed. Written out by hand
 * so that a change to the policy shows up here as a deliberate edit.
 * (For member.add/remove the user is a plain user whose primary subgroup is T.)
 */
const ALLOWED: Record<Kind, readonly RoleName[]> = {
  'workgroup.create': ['operator'],
  'workgroup.update': ['operator', 'wgAdmin'],
  'workgroup.delete': ['operator'],
  'workgroup.grant-admin': ['operator'],
  'workgroup.set-login-networks': ['operator'],
  'subgroup.create': ['operator', 'wgAdmin'],
  'subgroup.update': ['operator', 'wgAdmin'],
  'subgroup.delete': ['operator', 'wgAdmin'],
  'subgroup.grant-admin': ['operator', 'wgAdmin'],
  'subgroup.read-members': ['operator', 'wgAdmin', 'sgAdmin'],
  'member.add': ['operator', 'wgAdmin', 'sgAdmin'],
  'member.remove': ['operator', 'wgAdmin', 'sgAdmin'],
  'user.create': ['operator', 'wgAdmin', 'sgAdmin'],
  'user.read': ['operator', 'wgAdmin', 'sgAdmin', 'self'],
  'user.update-profile': ['operator', 'wgAdmin', 'sgAdmin', 'self'],
  'user.set-password': ['operator', 'wgAdmin', 'sgAdmin', 'self'],
  'user.set-login': ['operator', 'wgAdmin'],
  'user.lock': ['operator', 'wgAdmin', 'sgAdmin'],
  // Moving tina from S to T needs rights over both: S's admin lacks T, T's admin lacks S.
  'user.move': ['operator', 'wgAdmin'],
  'user.delete': ['operator', 'wgAdmin'],
  'user.set-uid': ['operator'],
  'user.grant-operator': ['operator'],
  'audit.read': ['operator'],
  'facility.apply': ['operator'],
  'facility.export': ['operator'],
  'daemons.read': ['operator'],
  'mail.admin': ['operator'],
  'areas.admin': ['operator'],
  'alerts.admin': ['operator'],
  'recovery.read-all': ['operator'],
  'library.writers': ['operator', 'wgAdmin'],
};

/** A deny reason is one plain sentence a person can read: no placeholders, no object dumps. */
function assertPlainReason(decision: Decision, context: string): string {
  assert.equal(decision.allowed, false, `${context}: expected a refusal`);
  if (decision.allowed) throw new Error('unreachable');
  const { reason } = decision;
  assert.equal(typeof reason, 'string', context);
  assert.ok(reason.length >= 15, `${context}: reason too short: ${JSON.stringify(reason)}`);
  assert.equal(reason, reason.trim(), `${context}: reason has stray whitespace`);
  assert.ok(!/[\n\r\t]/.test(reason), `${context}: reason spans lines`);
  assert.ok(!/undefined|null|NaN|\[object /.test(reason), `${context}: reason has a placeholder: ${reason}`);
  assert.match(reason, /^[a-z']/, `${context}: reason should read as a sentence: ${reason}`);
  assert.match(reason, / (may|is) /, `${context}: reason should say what is not allowed: ${reason}`);
  return reason;
}

const allowed = (who: Actor, action: AccountAction) => authorize(who, action).allowed;

describe('authorize: role × action matrix', () => {
  it('covers every action kind and every role', () => {
    assert.deepEqual(Object.keys(ALLOWED).sort(), Object.keys(ACTIONS).sort());
    for (const roles of Object.values(ALLOWED)) for (const role of roles) assert.ok(ROLES.includes(role));
  });

  for (const kind of Object.keys(ACTIONS) as Kind[]) {
    it(`${kind}: allowed for exactly ${ALLOWED[kind].join(', ')}`, () => {
      const action = ACTIONS[kind];
      const actual = ROLES.filter((role) => allowed(ACTORS[role], action));
      assert.deepEqual(actual, [...ALLOWED[kind]], `${kind}: allowed roles`);
      for (const role of ROLES) {
        const decision = authorize(ACTORS[role], action);
        if (!decision.allowed) assertPlainReason(decision, `${kind} by ${role}`);
        else assert.deepEqual(decision, { allowed: true });
      }
    });
  }

  it('names the object of a scoped refusal, so the user knows what was refused', () => {
    for (const kind of Object.keys(ACTIONS) as Kind[]) {
      // Operator-only refusals say so instead (checked below).
      if (ALLOWED[kind].length === 1) continue;
      const action = ACTIONS[kind];
      const objectName =
        'workgroup' in action ? action.workgroup.name : 'subgroup' in action ? action.subgroup.name : 'user' in action ? action.user.name : undefined;
      if (!objectName) continue;
      for (const role of ['otherWgAdmin', 'otherUser'] as const) {
        const decision = authorize(ACTORS[role], action);
        const reason = assertPlainReason(decision, `${kind} by ${role}`);
        assert.ok(reason.includes(`'${objectName}'`), `${kind} by ${role}: reason should name '${objectName}': ${reason}`);
      }
    }
  });

  it('operator-only actions say that an operator is needed', () => {
    for (const kind of Object.keys(ALLOWED) as Kind[]) {
      if (ALLOWED[kind].length !== 1) continue;
      assert.match(assertPlainReason(authorize(ACTORS.wgAdmin, ACTIONS[kind]), kind), /^only an operator may /, kind);
    }
  });

  it('the system actor (bootstrap, facility file) may do everything', () => {
    for (const action of Object.values(ACTIONS)) assert.equal(allowed(SYSTEM_ACTOR, action), true, action.kind);
  });
});

describe('authorize: special cases', () => {
  const operatorTarget: UserScope = { id: 200, name: 'oscar', isOperator: true, primary: S, extra: [] };
  const changes = (user: UserScope): AccountAction[] => [
    { kind: 'user.update-profile', user },
    { kind: 'user.set-password', user },
    { kind: 'user.set-login', user },
    { kind: 'user.lock', user },
    { kind: 'user.move', user, to: T },
    { kind: 'user.delete', user },
  ];

  it('nobody but an operator may change an operator account, not even its workgroup or subgroup admin', () => {
    for (const role of ['wgAdmin', 'otherWgAdmin', 'sgAdmin', 'otherSgAdmin', 'otherUser'] as const) {
      for (const action of changes(operatorTarget)) {
        const reason = assertPlainReason(authorize(ACTORS[role], action), `${action.kind} on operator by ${role}`);
        if (role === 'wgAdmin' || role === 'sgAdmin') {
          // The admins who would manage a plain user here are refused because of the operator role.
          assert.match(reason, /'oscar' is an operator account/, `${action.kind} by ${role}`);
        }
      }
    }
    // An admin of everything is still not enough.
    const superAdmin = actor(7, 'vera', { workgroupAdminOf: [W.id, X.id], subgroupAdminOf: [S.id, T.id, Y.id] });
    for (const action of changes(operatorTarget)) assert.equal(allowed(superAdmin, action), false, action.kind);
    // Another operator may.
    for (const action of changes(operatorTarget)) assert.equal(allowed(ACTORS.operator, action), true, action.kind);
  });

  it('an operator may change their own profile and password', () => {
    const olga: UserScope = { id: ACTORS.operator.userId, name: 'olga', isOperator: true, primary: S, extra: [] };
    assert.equal(allowed(ACTORS.operator, { kind: 'user.update-profile', user: olga }), true);
    assert.equal(allowed(ACTORS.operator, { kind: 'user.set-password', user: olga }), true);
    assert.equal(allowed(ACTORS.operator, { kind: 'user.read', user: olga }), true);
  });

  it('no-one locks or deletes their own account, whatever their role', () => {
    const selves: Actor[] = [
      ACTORS.operator,
      ACTORS.wgAdmin,
      ACTORS.sgAdmin,
      ACTORS.self,
      actor(8, 'wanda', { isOperator: true, workgroupAdminOf: [W.id], subgroupAdminOf: [S.id] }),
    ];
    for (const who of selves) {
      const me: UserScope = { id: who.userId, name: who.name, isOperator: who.isOperator, primary: S, extra: [] };
      const lock = assertPlainReason(authorize(who, { kind: 'user.lock', user: me }), `${who.name} locks self`);
      assert.match(lock, /your own account/);
      const remove = assertPlainReason(authorize(who, { kind: 'user.delete', user: me }), `${who.name} deletes self`);
      assert.match(remove, /your own account/);
      // ...while their own profile and password stay theirs to change.
      assert.equal(allowed(who, { kind: 'user.update-profile', user: me }), true, who.name);
      assert.equal(allowed(who, { kind: 'user.set-password', user: me }), true, who.name);
    }
  });

  it('the system actor is nobody: it may lock and delete any account', () => {
    const anyone: UserScope = { id: 0, name: 'keisan', isOperator: true, primary: S, extra: [] };
    assert.equal(allowed(SYSTEM_ACTOR, { kind: 'user.lock', user: anyone }), true);
    assert.equal(allowed(SYSTEM_ACTOR, { kind: 'user.delete', user: anyone }), true);
  });

  it('user.move needs admin rights on both the source and the destination', () => {
    const move = (to: SubgroupRef, user: UserScope = target): AccountAction => ({ kind: 'user.move', user, to });
    const cases: { who: Actor; to: SubgroupRef; ok: boolean; because: string }[] = [
      { who: actor(20, 'a1', { subgroupAdminOf: [S.id, T.id] }), to: T, ok: true, because: 'admin of both subgroups' },
      { who: actor(21, 'a2', { subgroupAdminOf: [S.id] }), to: T, ok: false, because: 'source only' },
      { who: actor(22, 'a3', { subgroupAdminOf: [T.id] }), to: T, ok: false, because: 'destination only' },
      { who: ACTORS.wgAdmin, to: T, ok: true, because: 'workgroup admin, move inside the workgroup' },
      { who: ACTORS.wgAdmin, to: Y, ok: false, because: 'workgroup admin of the source only' },
      { who: ACTORS.otherWgAdmin, to: Y, ok: false, because: 'workgroup admin of the destination only' },
      { who: actor(23, 'a4', { workgroupAdminOf: [W.id, X.id] }), to: Y, ok: true, because: 'admin of both workgroups' },
      { who: actor(24, 'a5', { subgroupAdminOf: [S.id], workgroupAdminOf: [X.id] }), to: Y, ok: true, because: 'subgroup admin of source, workgroup admin of destination' },
      { who: ACTORS.self, to: T, ok: false, because: 'a user does not move themselves' },
      { who: ACTORS.operator, to: Y, ok: true, because: 'operator' },
    ];
    for (const { who, to, ok, because } of cases) {
      const decision = authorize(who, move(to));
      assert.equal(decision.allowed, ok, because);
      if (!decision.allowed) {
        const reason = assertPlainReason(decision, because);
        // The refusal names the side the actor lacks.
        if (because === 'source only' || because === 'workgroup admin of the source only') assert.match(reason, new RegExp(`'${to.name}'`), because);
        if (because === 'destination only') assert.match(reason, /out of subgroup 'optics'/, because);
      }
    }
  });

  it('admins of one of the user\'s extra subgroups may see the user, but not change them', () => {
    const member: UserScope = { ...target, extra: [Y] };
    const yAdmin = actor(30, 'yvonne', { subgroupAdminOf: [Y.id] });
    assert.equal(allowed(yAdmin, { kind: 'user.read', user: member }), true);
    assert.equal(allowed(ACTORS.otherWgAdmin, { kind: 'user.read', user: member }), true);
    assert.equal(allowed(yAdmin, { kind: 'user.update-profile', user: member }), false);
    assert.equal(allowed(yAdmin, { kind: 'user.lock', user: member }), false);
    assert.equal(allowed(yAdmin, { kind: 'user.read', user: target }), false);
  });

  it('a subgroup admin may add members to their subgroup but not to a sibling subgroup', () => {
    const user: UserScope = { ...target, primary: Y };
    assert.equal(allowed(ACTORS.sgAdmin, { kind: 'member.add', subgroup: S, user }), true);
    assert.equal(allowed(ACTORS.sgAdmin, { kind: 'member.add', subgroup: T, user }), false);
    assert.equal(allowed(ACTORS.wgAdmin, { kind: 'member.add', subgroup: Y, user }), false);
  });
});
