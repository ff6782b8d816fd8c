import type { Actor } from './model.ts';

/**
 * Who may do what to accounts: one pure function, used by the service for every interface
 * (API, CLI, web UI, declarative apply). Tested exhaustively over role × action.
 */
export interface GroupRef {
  id: number;
  name: string;
}

export interface SubgroupRef extends GroupRef {
  workgroup: GroupRef;
}

export interface UserScope {
  id: number;
  name: string;
  isOperator: boolean;
  primary: SubgroupRef;
  /** Extra memberships. */
  extra: SubgroupRef[];
}

export type AccountAction =
  | { kind: 'workgroup.create' }
  | { kind: 'workgroup.update'; workgroup: GroupRef }
  | { kind: 'workgroup.delete'; workgroup: GroupRef }
  | { kind: 'workgroup.grant-admin'; workgroup: GroupRef }
  | { kind: 'workgroup.set-login-networks' }
  | { kind: 'subgroup.create'; workgroup: GroupRef }
  | { kind: 'subgroup.update'; subgroup: SubgroupRef }
  | { kind: 'subgroup.delete'; subgroup: SubgroupRef }
  | { kind: 'subgroup.grant-admin'; subgroup: SubgroupRef }
  | { kind: 'subgroup.read-members'; subgroup: SubgroupRef }
  | { kind: 'member.add'; subgroup: SubgroupRef; user: UserScope }
  | { kind: 'member.remove'; subgroup: SubgroupRef; user: UserScope }
  | { kind: 'user.create'; subgroup: SubgroupRef }
  | { kind: 'user.read'; user: UserScope }
  | { kind: 'user.update-profile'; user: UserScope }
  | { kind: 'user.set-password'; user: UserScope }
  | { kind: 'user.set-login'; user: UserScope }
  | { kind: 'user.lock'; user: UserScope }
  | { kind: 'user.move'; user: UserScope; to: SubgroupRef }
  | { kind: 'user.delete'; user: UserScope }
  | { kind: 'user.set-uid' }
  | { kind: 'user.grant-operator' }
  | { kind: 'audit.read' }
  | { kind: 'facility.apply' }
  | { kind: 'facility.export' }
  | { kind: 'daemons.read' }
  | { kind: 'mail.admin' }
  | { kind: 'areas.admin' }
  | { kind: 'alerts.admin' }
  | { kind: 'recovery.read-all' }
  | { kind: 'library.writers'; workgroup: GroupRef };

export type Decision = { allowed: true } | { allowed: false; reason: string };

const allow: Decision = { allowed: true };
const deny = (reason: string): Decision => ({ allowed: false, reason });

const adminsWorkgroup = (actor: Actor, workgroup: GroupRef) => actor.workgroupAdminOf.includes(workgroup.id);
const adminsSubgroup = (actor: Actor, subgroup: SubgroupRef) =>
  adminsWorkgroup(actor, subgroup.workgroup) || actor.subgroupAdminOf.includes(subgroup.id);
const isSelf = (actor: Actor, user: UserScope) => actor.kind === 'user' && actor.userId === user.id;

/** Anyone who administers the user's primary subgroup (or its workgroup). */
const managesUser = (actor: Actor, user: UserScope) => adminsSubgroup(actor, user.primary);

const operatorOnly = (what: string) => deny(`only an operator may ${what}`);
const notWorkgroupAdmin = (what: string, workgroup: GroupRef) =>
  deny(`you may not ${what}: it needs an operator or an admin of workgroup '${workgroup.name}'`);
const notSubgroupAdmin = (what: string, subgroup: SubgroupRef) =>
  deny(
    `you may not ${what}: it needs an operator, an admin of workgroup '${subgroup.workgroup.name}' ` +
      `or an admin of subgroup '${subgroup.name}'`,
  );
const protectedOperator = (user: UserScope) =>
  deny(`'${user.name}' is an operator account: only an operator may change it`);

export function authorize(actor: Actor, action: AccountAction): Decision {
  // No-one locks or deletes their own account, operators included: a sole operator who did
  // would leave the facility without one (ensureOperator only acts when none exists at all).
  if (action.kind === 'user.lock' && isSelf(actor, action.user)) return deny('you may not lock or unlock your own account');
  if (action.kind === 'user.delete' && isSelf(actor, action.user)) return deny('you may not delete your own account');
  if (actor.isOperator) return allow;

  switch (action.kind) {
    case 'workgroup.create':
      return operatorOnly('create workgroups');
    case 'workgroup.delete':
      return operatorOnly('delete workgroups');
    case 'workgroup.grant-admin':
      return operatorOnly('appoint or remove workgroup admins');
    case 'workgroup.set-login-networks':
      return operatorOnly("choose the networks a workgroup's users may log in from");
    case 'user.set-uid':
      return operatorOnly('choose uids and gids (they must stay unique on every host)');
    case 'user.grant-operator':
      return operatorOnly('grant or revoke the operator role');
    case 'audit.read':
      return operatorOnly('read the audit log');
    case 'facility.apply':
      return operatorOnly('apply a facility file');
    case 'facility.export':
      return operatorOnly('export the facility');
    case 'daemons.read':
      return operatorOnly('list the facility daemons');
    case 'mail.admin':
      return operatorOnly('send test mail or read the mail outbox');
    case 'areas.admin':
      return operatorOnly('provision the user areas or measure their usage');
    case 'alerts.admin':
      return operatorOnly('add or remove alert silences or read the notification log');
    case 'recovery.read-all':
      return operatorOnly("see recovery events about other users' jobs and processes");
    case 'library.writers':
      return adminsWorkgroup(actor, action.workgroup)
        ? allow
        : notWorkgroupAdmin(`choose who writes the library of workgroup '${action.workgroup.name}'`, action.workgroup);

    case 'workgroup.update':
      return adminsWorkgroup(actor, action.workgroup)
        ? allow
        : notWorkgroupAdmin(`change workgroup '${action.workgroup.name}'`, action.workgroup);
    case 'subgroup.create':
      return adminsWorkgroup(actor, action.workgroup)
        ? allow
        : notWorkgroupAdmin(`create subgroups in workgroup '${action.workgroup.name}'`, action.workgroup);
    case 'subgroup.update':
    case 'subgroup.delete':
    case 'subgroup.grant-admin': {
      const verb = {
        'subgroup.update': 'change',
        'subgroup.delete': 'delete',
        'subgroup.grant-admin': 'appoint admins of',
      }[action.kind];
      return adminsWorkgroup(actor, action.subgroup.workgroup)
        ? allow
        : notWorkgroupAdmin(`${verb} subgroup '${action.subgroup.name}'`, action.subgroup.workgroup);
    }
    case 'subgroup.read-members':
      return adminsSubgroup(actor, action.subgroup)
        ? allow
        : notSubgroupAdmin(`list the members of subgroup '${action.subgroup.name}'`, action.subgroup);
    case 'member.add':
    case 'member.remove': {
      const verb = action.kind === 'member.add' ? 'add members to' : 'remove members from';
      return adminsSubgroup(actor, action.subgroup)
        ? allow
        : notSubgroupAdmin(`${verb} subgroup '${action.subgroup.name}'`, action.subgroup);
    }
    case 'user.create':
      return adminsSubgroup(actor, action.subgroup)
        ? allow
        : notSubgroupAdmin(`create users in subgroup '${action.subgroup.name}'`, action.subgroup);

    case 'user.read': {
      const { user } = action;
      if (isSelf(actor, user) || managesUser(actor, user)) return allow;
      if (user.extra.some((s) => adminsSubgroup(actor, s))) return allow;
      return deny(`you may not see user '${user.name}': you administer none of their subgroups`);
    }
    case 'user.update-profile':
    case 'user.set-password': {
      const { user } = action;
      if (isSelf(actor, user)) return allow;
      if (user.isOperator) return protectedOperator(user);
      const what = action.kind === 'user.set-password' ? 'set the password of' : 'change';
      return managesUser(actor, user) ? allow : notSubgroupAdmin(`${what} user '${user.name}'`, user.primary);
    }
    case 'user.lock': {
      const { user } = action;
      if (user.isOperator) return protectedOperator(user);
      return managesUser(actor, user) ? allow : notSubgroupAdmin(`lock or unlock user '${user.name}'`, user.primary);
    }
    case 'user.set-login': {
      const { user } = action;
      if (user.isOperator) return protectedOperator(user);
      return adminsWorkgroup(actor, user.primary.workgroup)
        ? allow
        : notWorkgroupAdmin(`change the home or shell of '${user.name}'`, user.primary.workgroup);
    }
    case 'user.move': {
      const { user, to } = action;
      if (user.isOperator) return protectedOperator(user);
      if (!managesUser(actor, user)) {
        return notSubgroupAdmin(`move user '${user.name}' out of subgroup '${user.primary.name}'`, user.primary);
      }
      return adminsSubgroup(actor, to) ? allow : notSubgroupAdmin(`move users into subgroup '${to.name}'`, to);
    }
    case 'user.delete': {
      const { user } = action;
      if (user.isOperator) return protectedOperator(user);
      return adminsWorkgroup(actor, user.primary.workgroup)
        ? allow
        : notWorkgroupAdmin(`delete user '${user.name}'`, user.primary.workgroup);
    }
  }
}
