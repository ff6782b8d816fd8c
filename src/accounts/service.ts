import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import type { Settings } from '../lib/config.ts';
import { conflict, forbidden, invalidInput, KeisanError, notFound } from '../lib/errors.ts';
import { randomPassword, randomToken, sha256Hex } from '../lib/ids.ts';
import { formatDuration } from '../lib/units.ts';
import { auditedChange, auditedRefusal, readAudit, writeAudit, type AuditEntry, type AuditFilter, type AuditRecord } from './audit.ts';
import {
  exportDocument,
  parseFacilityDocument,
  planApply,
  summarize,
  unmentioned,
  type ApplyResult,
  type Change,
  type FacilityExport,
  type Snapshot,
} from './declarative.ts';
import { AccountsCache, type CachedUser } from './cache.ts';
import { LoginLimiter } from './login-limiter.ts';
import { loginNetworkDecision, type NetworkDecision } from './login-networks.ts';
import {
  SYSTEM_ACTOR,
  type Actor,
  type CreateSubgroupInput,
  type CreateUserInput,
  type CreateWorkgroupInput,
  type Subgroup,
  type TicketInfo,
  type UpdateSubgroupInput,
  type UpdateUserInput,
  type UpdateWorkgroupInput,
  type User,
  type WhoAmI,
  type Workgroup,
} from './model.ts';
import { ldapPasswordHash } from './ldap/passwords.ts';
import { decoyHashFor, hashPassword, needsRehash, verifyPassword } from './passwords.ts';
import { authorize, type AccountAction, type SubgroupRef } from './policy.ts';
import * as store from './store.ts';
import { issueTimes, renewDecision, ticketState, type TicketPolicy } from './tickets.ts';

type Tx = Kysely<Database>;

export interface LoginResult {
  ticket: string;
  user: User;
  times: TicketInfo;
}

export interface Authenticated {
  actor: Actor;
  ticketId: number;
  /** The SHA-256 of the ticket, by which it is cached. */
  tokenHash: string;
  times: TicketInfo;
}

export interface CreatedUser {
  user: User;
  /** Present when the caller gave no password: shown once, never stored in clear. */
  initialPassword?: string;
}

export interface UserFilter {
  workgroup?: string;
  subgroup?: string;
}

const TICKET_PREFIX = 'kst';

/**
 * Logs users in against a site's directory (accounts.ldap.mode: use; src/accounts/ldap/directory.ts).
 * 'unknown': the directory has no such user, so a local Keisan account (the operator made at
 * init) checks its own password. 'ok' means the user now exists in Keisan as the directory says.
 * Throws UNAVAILABLE when the directory cannot be reached.
 */
export interface DirectoryLogin {
  authenticate(name: string, password: string, address: string): Promise<'ok' | 'bad' | 'unknown'>;
}

/** A committed change of an account, for other rooms that act on it (user areas). */
export interface AccountChange {
  kind: 'user' | 'subgroup' | 'workgroup';
  action: 'created' | 'updated' | 'removed';
  name: string;
}
export type AccountChangeListener = (change: AccountChange) => void;

/** The listeners, shared by a service and its transaction-bound copies; `held` keeps a transaction's changes until it commits. */
class AccountEvents {
  constructor(
    readonly listeners = new Set<AccountChangeListener>(),
    private readonly held?: AccountChange[],
  ) {}

  holding(held: AccountChange[]): AccountEvents {
    return new AccountEvents(this.listeners, held);
  }

  emit(change: AccountChange): void {
    if (this.held) {
      this.held.push(change);
      return;
    }
    for (const listener of this.listeners) listener(change);
  }
}

/** user.create → user created, subgroup.member.add → subgroup updated, workgroup.delete → workgroup removed. */
function accountChangeOf(record: Omit<AuditRecord, 'outcome'>): AccountChange | undefined {
  if (record.targetType !== 'user' && record.targetType !== 'subgroup' && record.targetType !== 'workgroup') return undefined;
  const verb = record.action.split('.')[1];
  const action = verb === 'create' ? 'created' : verb === 'delete' ? 'removed' : 'updated';
  return { kind: record.targetType, action, name: record.target };
}

/**
 * The accounts service: the one place where account rules are enforced, whatever the
 * interface. Every change runs in a transaction with its audit entry; every refusal is audited.
 */
export class AccountsService {
  private readonly limiter: LoginLimiter;
  private readonly ticketPolicy: TicketPolicy;
  private directory: DirectoryLogin | undefined;

  constructor(
    /** The database, or a transaction when this service runs inside a larger change (apply). */
    private readonly k: Kysely<Database>,
    private readonly settings: Settings,
    private readonly clock: Clock,
    limiter?: LoginLimiter,
    private readonly cache: AccountsCache = new AccountsCache(),
    private readonly events: AccountEvents = new AccountEvents(),
  ) {
    const limit = settings.accounts.loginRateLimit;
    this.limiter = limiter ?? new LoginLimiter({ perUser: limit.perUser, perAddress: limit.perAddress, windowMs: limit.window });
    this.ticketPolicy = { lifetimeMs: settings.tickets.lifetime, renewableForMs: settings.tickets.renewableFor };
  }

  /** Runs `work` with a service whose every change joins one transaction: all or nothing. */
  async inOneTransaction<T>(work: (service: AccountsService) => Promise<T>): Promise<T> {
    if (this.k.isTransaction) return work(this);
    const held: AccountChange[] = [];
    try {
      const result = await this.k.transaction().execute((tx) => work(new AccountsService(tx, this.settings, this.clock, this.limiter, this.cache, this.events.holding(held))));
      for (const change of held) this.events.emit(change);
      return result;
    } finally {
      this.cache.invalidate();
    }
  }

  /**
   * Calls `listener` after each committed change of a user, subgroup or workgroup (never for a
   * change that rolled back). It must not throw; slow work belongs in its own queue. Returns the
   * function that removes it.
   */
  onChange(listener: AccountChangeListener): () => void {
    this.events.listeners.add(listener);
    return () => this.events.listeners.delete(listener);
  }

  /** accounts.ldap.mode use: `keisan login` checks passwords by a directory bind first. */
  useDirectory(directory: DirectoryLogin): void {
    this.directory = directory;
  }

  /** While publishing to LDAP, a password set also gets its LDAP-usable hash (never the password). */
  private ldapHashOf(plain: string): string | undefined {
    return this.settings.accounts.ldap?.mode === 'publish' ? ldapPasswordHash(plain) : undefined;
  }

  private async keepLdapHash(tx: Tx, userId: number, hash: string | undefined): Promise<void> {
    if (hash === undefined) return;
    await tx.deleteFrom('ldap_passwords').where('user_id', '=', userId).execute();
    await tx.insertInto('ldap_passwords').values({ user_id: userId, hash, updated_at: this.now().toISOString() }).execute();
  }

  /** A transaction of its own, or the enclosing one. */
  private transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.k.isTransaction ? work(this.k) : this.k.transaction().execute(work);
  }

  private now(): Date {
    return this.clock.now();
  }

  private get passwordCost(): number {
    return this.settings.accounts.passwordHash.cost;
  }

  // ---------------------------------------------------------------- authorization + audit

  /** Checks the policy; a refusal is written to the audit log and thrown as FORBIDDEN. */
  private async require(actor: Actor, action: AccountAction, target: { type: string; name: string }): Promise<void> {
    const decision = authorize(actor, action);
    if (decision.allowed) return;
    throw await auditedRefusal(this.k, { actor, action: action.kind, targetType: target.type, target: target.name }, decision.reason, this.now());
  }

  /** Runs a change and its audit entry in one transaction; unique-key races become CONFLICT. */
  private async change<T>(record: Omit<AuditRecord, 'outcome'>, work: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      const result = await auditedChange(this.k, record, () => this.now(), work, `${record.targetType} '${record.target}' changed at the same time by someone else; try again`);
      const changed = accountChangeOf(record);
      if (changed) this.events.emit(changed);
      return result;
    } finally {
      this.cache.invalidate();
    }
  }

  // ---------------------------------------------------------------- lookups that throw NOT_FOUND

  private async workgroupRow(db: Tx, name: string) {
    const row = await store.findWorkgroup(db, name);
    if (!row) throw notFound('workgroup', name);
    return row;
  }

  private async subgroupRow(db: Tx, name: string) {
    const row = await store.findSubgroup(db, name);
    if (!row) throw notFound('subgroup', name);
    return row;
  }

  private async userRow(db: Tx, name: string) {
    const row = await store.findUser(db, name);
    if (!row) throw notFound('user', name);
    return row;
  }

  // ---------------------------------------------------------------- actors and tickets

  /** The actor for a user id (for the system acting on a user's behalf, and for tests). */
  async actorFor(userId: number, address: string | null): Promise<Actor> {
    const row = await store.findUserById(this.k, userId);
    if (!row) throw new KeisanError('NOT_AUTHENTICATED', 'your account no longer exists');
    return this.actorFromRow(row, address);
  }

  private async actorFromRow(row: store.UserRow, address: string | null, db: Tx = this.k): Promise<Actor> {
    const grants = await store.adminGrants(db, row.id);
    return {
      kind: 'user',
      userId: row.id,
      name: row.name,
      isOperator: row.is_operator === 1,
      workgroupAdminOf: grants.workgroups.map((w) => w.id),
      subgroupAdminOf: grants.subgroups.map((s) => s.id),
      address,
    };
  }

  async login(name: string, password: string, address: string): Promise<LoginResult> {
    const now = this.now();
    const limit = this.limiter.check(name, address, now);
    if (!limit.allowed) {
      const wait = formatDuration(Math.max(limit.retryAfterMs, 1000));
      throw new KeisanError(
        'RATE_LIMITED',
        limit.scope === 'user'
          ? `too many failed logins for '${name}': try again in ${wait}`
          : `too many failed logins from your address: try again in ${wait}`,
        { retryAfterSeconds: Math.ceil(limit.retryAfterMs / 1000) },
      );
    }
    let row = await store.findUser(this.k, name);
    const byDirectory = this.directory ? await this.directory.authenticate(name, password, address).catch((error: unknown) => {
      // A directory that does not answer must not lock out local accounts (the operator of keisan init).
      if (error instanceof KeisanError && error.code === 'UNAVAILABLE' && row?.password_hash) return 'unknown' as const;
      throw error;
    }) : 'unknown';
    if (byDirectory === 'ok') row = await store.findUser(this.k, name);
    const local = byDirectory === 'unknown';
    const stored = row?.password_hash ?? (await decoyHashFor(this.passwordCost));
    const matches = local ? await verifyPassword(password, stored) : byDirectory === 'ok';
    const loginActor: Actor = { ...SYSTEM_ACTOR, kind: 'user', isOperator: false, name: row?.name ?? name, address };
    if (!row || (local && !row.password_hash) || !matches) {
      this.limiter.recordFailure(name, address, now);
      await writeAudit(this.k, { actor: loginActor, action: 'auth.login', targetType: 'user', target: name, outcome: 'failed', detail: { reason: 'bad credentials' } }, now);
      throw new KeisanError('BAD_CREDENTIALS', 'wrong user name or password');
    }
    if (row.locked === 1) {
      await writeAudit(this.k, { actor: loginActor, action: 'auth.login', targetType: 'user', target: name, outcome: 'denied', detail: { reason: 'locked' } }, now);
      throw lockedError(row.name, row.lock_reason);
    }
    // Checked after the password, so a refusal tells nothing to someone who does not know it.
    const where = loginNetworkDecision(row.name, address, await store.loginNetworksOfUser(this.k, row.id), { operator: row.is_operator === 1 });
    if (!where.allowed) {
      await writeAudit(this.k, { actor: loginActor, action: 'auth.login', targetType: 'user', target: row.name, outcome: 'denied', detail: { reason: where.reason, address } }, now);
      throw forbidden(where.reason);
    }
    this.limiter.recordSuccess(name);
    const token = randomToken(TICKET_PREFIX);
    const times = issueTimes(now, this.ticketPolicy);
    const rehash = local && row.password_hash && needsRehash(row.password_hash, this.passwordCost) ? await hashPassword(password, this.passwordCost) : undefined;
    await this.transaction(async (tx) => {
      await tx
        .insertInto('tickets')
        .values({
          user_id: row.id,
          token_hash: sha256Hex(token),
          kind: 'login',
          issued_at: times.issuedAt.toISOString(),
          expires_at: times.expiresAt.toISOString(),
          renew_until: times.renewUntil.toISOString(),
          revoked_at: null,
          address,
          last_used_at: null,
        })
        .execute();
      if (rehash) await tx.updateTable('users').set({ password_hash: rehash }).where('id', '=', row.id).execute();
      await writeAudit(tx, { actor: { ...loginActor, userId: row.id }, action: 'auth.login', targetType: 'user', target: row.name, outcome: 'ok' }, now);
    });
    // Old tickets that ended more than a renewal period ago are of no further use.
    await this.k.deleteFrom('tickets').where('renew_until', '<', new Date(now.getTime() - this.ticketPolicy.renewableForMs).toISOString()).execute();
    return { ticket: token, user: await store.toUser(this.k, row), times: ticketInfo(times) };
  }

  /**
   * May `name` open a shell from `address` (a login host's pam_exec asks through
   * `keisan login-check`)? Names Keisan does not know are not its to restrict (local system
   * accounts): allowed, saying so. A refusal is audited as `auth.login-check` denied.
   */
  async checkLoginFrom(name: string, address: string, host: string | null): Promise<NetworkDecision> {
    const row = await store.findUser(this.k, name);
    if (!row) return { allowed: true, reason: `${name} is not a Keisan user: Keisan does not restrict where it logs in from`, network: null };
    const decision = loginNetworkDecision(row.name, address, await store.loginNetworksOfUser(this.k, row.id), { operator: row.is_operator === 1 });
    if (!decision.allowed) {
      const actor: Actor = { ...SYSTEM_ACTOR, kind: 'user', isOperator: false, userId: row.id, name: row.name, address };
      await writeAudit(this.k, { actor, action: 'auth.login-check', targetType: 'user', target: row.name, outcome: 'denied', detail: { reason: decision.reason, address, host } }, this.now());
    }
    return decision;
  }

  /** Resolves a ticket to the acting user; every way it can fail says what to do. */
  async authenticate(token: string, address: string | null): Promise<Authenticated> {
    const tokenHash = sha256Hex(token);
    let entry = this.cache.ticket(tokenHash);
    if (!entry) {
      const generation = this.cache.generation;
      const row = await store.findTicketByHash(this.k, tokenHash);
      if (!row) throw new KeisanError('NOT_AUTHENTICATED', 'your ticket is not known to this server: run `keisan login`');
      const user = await store.findUserById(this.k, row.user_id);
      if (!user) throw new KeisanError('NOT_AUTHENTICATED', 'your account no longer exists');
      entry = { ticketId: row.id, times: ticketTimes(row), user, actor: await this.actorFromRow(user, null) };
      this.cache.keepTicket(tokenHash, entry, generation);
    }
    const { user, times } = entry;
    // A locked account says so first: locking also revoked the ticket, and "locked" is the news.
    if (user.locked === 1) throw lockedError(user.name, user.lock_reason);
    const state = ticketState(times, this.now());
    if (state === 'revoked') {
      throw new KeisanError('NOT_AUTHENTICATED', 'your ticket was revoked (you logged out, or your password was set anew): run `keisan login`');
    }
    if (state === 'expired') {
      throw new KeisanError('TICKET_EXPIRED', `your ticket expired at ${times.expiresAt.toISOString()}: run \`keisan login\``);
    }
    return { actor: { ...entry.actor, address }, ticketId: entry.ticketId, tokenHash, times: ticketInfo(times) };
  }

  async renew(auth: Authenticated): Promise<TicketInfo> {
    const now = this.now();
    const row = await this.k.selectFrom('tickets').selectAll().where('id', '=', auth.ticketId).executeTakeFirstOrThrow();
    const times = ticketTimes(row);
    const decision = renewDecision(times, now, this.ticketPolicy);
    if (!decision.ok) {
      const reason =
        decision.reason === 'past-renew-limit'
          ? `your ticket reached its renewal limit (${row.renew_until}): run \`keisan login\` again`
          : `your ticket is ${decision.reason}: run \`keisan login\``;
      throw new KeisanError(decision.reason === 'revoked' ? 'NOT_AUTHENTICATED' : 'TICKET_EXPIRED', reason);
    }
    await this.k.updateTable('tickets').set({ expires_at: decision.expiresAt.toISOString(), last_used_at: now.toISOString() }).where('id', '=', row.id).execute();
    this.cache.forgetTicket(auth.tokenHash);
    return ticketInfo({ ...times, expiresAt: decision.expiresAt });
  }

  async logout(auth: Authenticated): Promise<void> {
    const now = this.now();
    await this.transaction(async (tx) => {
      await tx.updateTable('tickets').set({ revoked_at: now.toISOString() }).where('id', '=', auth.ticketId).execute();
      await writeAudit(tx, { actor: auth.actor, action: 'auth.logout', targetType: 'user', target: auth.actor.name, outcome: 'ok' }, now);
    });
    this.cache.forgetTicket(auth.tokenHash);
  }

  async whoami(auth: Authenticated): Promise<WhoAmI> {
    const cached = await this.cachedUser(auth.actor.name).catch((error: unknown) => {
      if (error instanceof KeisanError && error.code === 'NOT_FOUND') throw new KeisanError('NOT_AUTHENTICATED', 'your account no longer exists');
      throw error;
    });
    return { user: cached.user, ticket: auth.times };
  }

  /** A user's row, scope and public record, from the cache when nothing changed since. */
  private async cachedUser(name: string): Promise<CachedUser> {
    const hit = this.cache.user(name);
    if (hit) return hit;
    const generation = this.cache.generation;
    const row = await this.userRow(this.k, name);
    const entry: CachedUser = { row, scope: await store.userScope(this.k, row), user: await store.toUser(this.k, row) };
    this.cache.keepUser(name, entry, generation);
    return entry;
  }

  async changeOwnPassword(actor: Actor, current: string, next: string): Promise<void> {
    const row = await this.userRow(this.k, actor.name);
    if (!row.password_hash && this.directory) {
      throw new KeisanError('FORBIDDEN', 'your password is kept in the site\'s LDAP directory (accounts.ldap.mode: use): change it there, the way your site tells you');
    }
    if (!row.password_hash || !(await verifyPassword(current, row.password_hash))) {
      throw new KeisanError('BAD_CREDENTIALS', 'the current password is wrong');
    }
    const hash = await hashPassword(next, this.passwordCost);
    const ldapHash = this.ldapHashOf(next);
    await this.change({ actor, action: 'user.password', targetType: 'user', target: row.name }, async (tx) => {
      await tx.updateTable('users').set({ password_hash: hash, updated_at: this.now().toISOString() }).where('id', '=', row.id).execute();
      await this.keepLdapHash(tx, row.id, ldapHash);
    });
  }

  // ---------------------------------------------------------------- workgroups

  async listWorkgroups(_actor: Actor): Promise<Workgroup[]> {
    const rows = await this.k.selectFrom('workgroups').selectAll().orderBy('name').execute();
    return Promise.all(rows.map((row) => store.toWorkgroup(this.k, row)));
  }

  async getWorkgroup(_actor: Actor, name: string): Promise<Workgroup> {
    return store.toWorkgroup(this.k, await this.workgroupRow(this.k, name));
  }

  async createWorkgroup(actor: Actor, input: CreateWorkgroupInput): Promise<Workgroup> {
    const target = { type: 'workgroup', name: input.name };
    await this.require(actor, { kind: 'workgroup.create' }, target);
    if (input.gid !== undefined) await this.require(actor, { kind: 'user.set-uid' }, target);
    if (input.loginNetworks !== undefined) await this.require(actor, { kind: 'workgroup.set-login-networks' }, target);
    return this.change({ actor, action: 'workgroup.create', targetType: 'workgroup', target: input.name, detail: { ...input } }, async (tx) => {
      await this.assertGroupNameFree(tx, input.name);
      const gid = await this.allocateGid(tx, input.gid);
      const at = this.now().toISOString();
      await tx
        .insertInto('workgroups')
        .values({ name: input.name, description: input.description ?? '', gid, login_networks: JSON.stringify(input.loginNetworks ?? []), created_at: at, updated_at: at })
        .execute();
      return store.toWorkgroup(tx, await this.workgroupRow(tx, input.name));
    });
  }

  async updateWorkgroup(actor: Actor, name: string, input: UpdateWorkgroupInput): Promise<Workgroup> {
    const row = await this.workgroupRow(this.k, name);
    await this.require(actor, { kind: 'workgroup.update', workgroup: store.workgroupRef(row) }, { type: 'workgroup', name });
    if (input.loginNetworks !== undefined) await this.require(actor, { kind: 'workgroup.set-login-networks' }, { type: 'workgroup', name });
    return this.change({ actor, action: 'workgroup.update', targetType: 'workgroup', target: name, detail: { ...input } }, async (tx) => {
      if (input.description !== undefined) {
        await tx.updateTable('workgroups').set({ description: input.description, updated_at: this.now().toISOString() }).where('id', '=', row.id).execute();
      }
      if (input.loginNetworks !== undefined) {
        await tx.updateTable('workgroups').set({ login_networks: JSON.stringify(input.loginNetworks), updated_at: this.now().toISOString() }).where('id', '=', row.id).execute();
      }
      return store.toWorkgroup(tx, await this.workgroupRow(tx, name));
    });
  }

  async deleteWorkgroup(actor: Actor, name: string): Promise<void> {
    const row = await this.workgroupRow(this.k, name);
    await this.require(actor, { kind: 'workgroup.delete', workgroup: store.workgroupRef(row) }, { type: 'workgroup', name });
    await this.change({ actor, action: 'workgroup.delete', targetType: 'workgroup', target: name }, async (tx) => {
      const subgroups = await tx.selectFrom('subgroups').select('name').where('workgroup_id', '=', row.id).execute();
      if (subgroups.length > 0) {
        throw conflict(
          `workgroup '${name}' still has subgroup${subgroups.length > 1 ? 's' : ''} ${subgroups.map((s) => `'${s.name}'`).join(', ')}: remove them first`,
        );
      }
      await tx.deleteFrom('workgroups').where('id', '=', row.id).execute();
    });
  }

  async setWorkgroupAdmin(actor: Actor, workgroup: string, userName: string, grant: boolean): Promise<Workgroup> {
    const row = await this.workgroupRow(this.k, workgroup);
    await this.require(actor, { kind: 'workgroup.grant-admin', workgroup: store.workgroupRef(row) }, { type: 'workgroup', name: workgroup });
    const user = await this.userRow(this.k, userName);
    const action = grant ? 'workgroup.admin.grant' : 'workgroup.admin.revoke';
    return this.change({ actor, action, targetType: 'workgroup', target: workgroup, detail: { user: userName } }, async (tx) => {
      const existing = await tx.selectFrom('workgroup_admins').select('user_id').where('user_id', '=', user.id).where('workgroup_id', '=', row.id).executeTakeFirst();
      if (grant && !existing) {
        await tx.insertInto('workgroup_admins').values({ user_id: user.id, workgroup_id: row.id, created_at: this.now().toISOString() }).execute();
      } else if (!grant) {
        if (!existing) throw notFound(`admin of workgroup '${workgroup}'`, userName);
        await tx.deleteFrom('workgroup_admins').where('user_id', '=', user.id).where('workgroup_id', '=', row.id).execute();
      }
      return store.toWorkgroup(tx, row);
    });
  }

  // ---------------------------------------------------------------- subgroups

  async listSubgroups(actor: Actor, workgroup?: string): Promise<Subgroup[]> {
    let query = this.k
      .selectFrom('subgroups')
      .innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id')
      .selectAll('subgroups')
      .select('workgroups.name as workgroup_name');
    if (workgroup) {
      await this.workgroupRow(this.k, workgroup);
      query = query.where('workgroups.name', '=', workgroup);
    }
    const rows = await query.orderBy('subgroups.name').execute();
    return Promise.all(rows.map((row) => this.visibleSubgroup(actor, row)));
  }

  async getSubgroup(actor: Actor, name: string): Promise<Subgroup> {
    return this.visibleSubgroup(actor, await this.subgroupRow(this.k, name));
  }

  /** Member lists are shown to the subgroup's admins (and operators) only. */
  private async visibleSubgroup(actor: Actor, row: store.SubgroupRow & { workgroup_name: string }): Promise<Subgroup> {
    const subgroup = await store.toSubgroup(this.k, row);
    if (authorize(actor, { kind: 'subgroup.read-members', subgroup: store.subgroupRef(row) }).allowed) return subgroup;
    const self = (names: string[]) => names.filter((n) => n === actor.name);
    return { ...subgroup, primaryMembers: self(subgroup.primaryMembers), extraMembers: self(subgroup.extraMembers) };
  }

  async createSubgroup(actor: Actor, input: CreateSubgroupInput): Promise<Subgroup> {
    const workgroup = await this.workgroupRow(this.k, input.workgroup);
    const target = { type: 'subgroup', name: input.name };
    await this.require(actor, { kind: 'subgroup.create', workgroup: store.workgroupRef(workgroup) }, target);
    if (input.gid !== undefined) await this.require(actor, { kind: 'user.set-uid' }, target);
    return this.change({ actor, action: 'subgroup.create', targetType: 'subgroup', target: input.name, detail: { ...input } }, async (tx) => {
      await this.assertGroupNameFree(tx, input.name);
      const gid = await this.allocateGid(tx, input.gid);
      const at = this.now().toISOString();
      await tx
        .insertInto('subgroups')
        .values({ workgroup_id: workgroup.id, name: input.name, description: input.description ?? '', gid, created_at: at, updated_at: at })
        .execute();
      return store.toSubgroup(tx, await this.subgroupRow(tx, input.name));
    });
  }

  async updateSubgroup(actor: Actor, name: string, input: UpdateSubgroupInput): Promise<Subgroup> {
    const row = await this.subgroupRow(this.k, name);
    await this.require(actor, { kind: 'subgroup.update', subgroup: store.subgroupRef(row) }, { type: 'subgroup', name });
    return this.change({ actor, action: 'subgroup.update', targetType: 'subgroup', target: name, detail: { ...input } }, async (tx) => {
      if (input.description !== undefined) {
        await tx.updateTable('subgroups').set({ description: input.description, updated_at: this.now().toISOString() }).where('id', '=', row.id).execute();
      }
      return store.toSubgroup(tx, await this.subgroupRow(tx, name));
    });
  }

  async deleteSubgroup(actor: Actor, name: string): Promise<void> {
    const row = await this.subgroupRow(this.k, name);
    await this.require(actor, { kind: 'subgroup.delete', subgroup: store.subgroupRef(row) }, { type: 'subgroup', name });
    await this.change({ actor, action: 'subgroup.delete', targetType: 'subgroup', target: name }, async (tx) => {
      const users = await tx.selectFrom('users').select('name').where('primary_subgroup_id', '=', row.id).orderBy('name').limit(6).execute();
      if (users.length > 0) {
        const shown = users.slice(0, 5).map((u) => `'${u.name}'`).join(', ') + (users.length > 5 ? ', …' : '');
        throw conflict(`subgroup '${name}' is the primary subgroup of ${shown}: move or remove those users first`);
      }
      await tx.deleteFrom('memberships').where('subgroup_id', '=', row.id).execute();
      await tx.deleteFrom('subgroup_admins').where('subgroup_id', '=', row.id).execute();
      await tx.deleteFrom('subgroups').where('id', '=', row.id).execute();
    });
  }

  async setSubgroupAdmin(actor: Actor, subgroup: string, userName: string, grant: boolean): Promise<Subgroup> {
    const row = await this.subgroupRow(this.k, subgroup);
    await this.require(actor, { kind: 'subgroup.grant-admin', subgroup: store.subgroupRef(row) }, { type: 'subgroup', name: subgroup });
    const user = await this.userRow(this.k, userName);
    const action = grant ? 'subgroup.admin.grant' : 'subgroup.admin.revoke';
    return this.change({ actor, action, targetType: 'subgroup', target: subgroup, detail: { user: userName } }, async (tx) => {
      const existing = await tx.selectFrom('subgroup_admins').select('user_id').where('user_id', '=', user.id).where('subgroup_id', '=', row.id).executeTakeFirst();
      if (grant && !existing) {
        await tx.insertInto('subgroup_admins').values({ user_id: user.id, subgroup_id: row.id, created_at: this.now().toISOString() }).execute();
      } else if (!grant) {
        if (!existing) throw notFound(`admin of subgroup '${subgroup}'`, userName);
        await tx.deleteFrom('subgroup_admins').where('user_id', '=', user.id).where('subgroup_id', '=', row.id).execute();
      }
      return store.toSubgroup(tx, row);
    });
  }

  async setMembership(actor: Actor, subgroup: string, userName: string, member: boolean): Promise<Subgroup> {
    const row = await this.subgroupRow(this.k, subgroup);
    const user = await this.userRow(this.k, userName);
    const scope = await store.userScope(this.k, user);
    await this.require(actor, { kind: member ? 'member.add' : 'member.remove', subgroup: store.subgroupRef(row), user: scope }, { type: 'subgroup', name: subgroup });
    const action = member ? 'subgroup.member.add' : 'subgroup.member.remove';
    return this.change({ actor, action, targetType: 'subgroup', target: subgroup, detail: { user: userName } }, async (tx) => {
      if (user.primary_subgroup_id === row.id) {
        if (member) return store.toSubgroup(tx, row);
        throw conflict(`'${subgroup}' is the primary subgroup of '${userName}': give them another primary subgroup first`);
      }
      const existing = await tx.selectFrom('memberships').select('user_id').where('user_id', '=', user.id).where('subgroup_id', '=', row.id).executeTakeFirst();
      if (member && !existing) {
        await tx.insertInto('memberships').values({ user_id: user.id, subgroup_id: row.id, created_at: this.now().toISOString() }).execute();
      } else if (!member) {
        if (!existing) throw notFound(`member of subgroup '${subgroup}'`, userName);
        await tx.deleteFrom('memberships').where('user_id', '=', user.id).where('subgroup_id', '=', row.id).execute();
      }
      return store.toSubgroup(tx, row);
    });
  }

  // ---------------------------------------------------------------- users

  async listUsers(actor: Actor, filter: UserFilter = {}): Promise<User[]> {
    let query = this.k
      .selectFrom('users')
      .innerJoin('subgroups', 'subgroups.id', 'users.primary_subgroup_id')
      .innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id')
      .selectAll('users');
    if (filter.workgroup) {
      await this.workgroupRow(this.k, filter.workgroup);
      query = query.where('workgroups.name', '=', filter.workgroup);
    }
    if (filter.subgroup) {
      const subgroup = await this.subgroupRow(this.k, filter.subgroup);
      const extra = this.k.selectFrom('memberships').select('user_id').where('subgroup_id', '=', subgroup.id);
      query = query.where((eb) => eb.or([eb('users.primary_subgroup_id', '=', subgroup.id), eb('users.id', 'in', extra)]));
    }
    const rows = await query.orderBy('users.name').execute();
    const visible: User[] = [];
    for (const row of rows) {
      if (actor.isOperator || authorize(actor, { kind: 'user.read', user: await store.userScope(this.k, row) }).allowed) {
        visible.push(await store.toUser(this.k, row));
      }
    }
    return visible;
  }

  async getUser(actor: Actor, name: string): Promise<User> {
    const { scope, user } = await this.cachedUser(name);
    await this.require(actor, { kind: 'user.read', user: scope }, { type: 'user', name });
    return user;
  }

  /**
   * Creates a user. Without a password one is generated and returned once, unless
   * `options.passwordHash` is given (an imported hash, or null for no password yet).
   */
  async createUser(actor: Actor, input: CreateUserInput, options: { passwordHash?: string | null } = {}): Promise<CreatedUser> {
    const primary = await this.subgroupRow(this.k, input.primarySubgroup);
    const target = { type: 'user', name: input.name };
    await this.require(actor, { kind: 'user.create', subgroup: store.subgroupRef(primary) }, target);
    if (input.uid !== undefined) await this.require(actor, { kind: 'user.set-uid' }, target);
    if (input.operator) await this.require(actor, { kind: 'user.grant-operator' }, target);
    const extras: SubgroupRef[] = [];
    for (const name of new Set(input.subgroups ?? [])) {
      if (name === input.primarySubgroup) continue;
      const row = await this.subgroupRow(this.k, name);
      extras.push(store.subgroupRef(row));
    }
    const imported = options.passwordHash !== undefined && input.password === undefined;
    const initialPassword = input.password === undefined && !imported ? randomPassword() : undefined;
    const hash = imported ? (options.passwordHash ?? null) : await hashPassword(input.password ?? initialPassword!, this.passwordCost);
    const ldapHash = imported ? undefined : this.ldapHashOf(input.password ?? initialPassword!);
    const { password: _omit, ...detail } = input;
    const user = await this.change({ actor, action: 'user.create', targetType: 'user', target: input.name, detail }, async (tx) => {
      if (await store.findUser(tx, input.name)) throw conflict(`user '${input.name}' already exists`);
      for (const extra of extras) {
        // Joining extra subgroups needs the same right as adding members to them.
        const scope = { id: -1, name: input.name, isOperator: false, primary: store.subgroupRef(primary), extra: [] };
        const decision = authorize(actor, { kind: 'member.add', subgroup: extra, user: scope });
        if (!decision.allowed) throw forbidden(decision.reason);
      }
      const uid = await this.allocateUid(tx, input.uid);
      const at = this.now().toISOString();
      const inserted = await tx
        .insertInto('users')
        .values({
          name: input.name,
          full_name: input.fullName ?? '',
          email: input.email ?? null,
          uid,
          primary_subgroup_id: primary.id,
          home: input.home ?? `${this.settings.accounts.homeBase}/${input.name}`,
          shell: input.shell ?? this.settings.accounts.defaultShell,
          password_hash: hash,
          is_operator: input.operator ? 1 : 0,
          locked: 0,
          lock_reason: null,
          created_at: at,
          updated_at: at,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const extra of extras) {
        await tx.insertInto('memberships').values({ user_id: inserted.id, subgroup_id: extra.id, created_at: at }).execute();
      }
      await this.keepLdapHash(tx, inserted.id, ldapHash);
      return store.toUser(tx, await this.userRow(tx, input.name));
    });
    return initialPassword ? { user, initialPassword } : { user };
  }

  async updateUser(actor: Actor, name: string, input: UpdateUserInput): Promise<User> {
    const row = await this.userRow(this.k, name);
    const scope = await store.userScope(this.k, row);
    const target = { type: 'user', name };
    if (input.fullName !== undefined || input.email !== undefined) await this.require(actor, { kind: 'user.update-profile', user: scope }, target);
    if (input.password !== undefined) await this.require(actor, { kind: 'user.set-password', user: scope }, target);
    if (input.home !== undefined || input.shell !== undefined) await this.require(actor, { kind: 'user.set-login', user: scope }, target);
    if (input.locked !== undefined || input.lockReason !== undefined) await this.require(actor, { kind: 'user.lock', user: scope }, target);
    if (input.operator !== undefined) await this.require(actor, { kind: 'user.grant-operator' }, target);
    let destination: store.SubgroupRow | undefined;
    if (input.primarySubgroup !== undefined && input.primarySubgroup !== scope.primary.name) {
      const to = await this.subgroupRow(this.k, input.primarySubgroup);
      destination = to;
      await this.require(actor, { kind: 'user.move', user: scope, to: store.subgroupRef(to) }, target);
    }
    if (input.operator === false && actor.kind === 'user' && actor.userId === row.id) {
      throw forbidden('you may not take the operator role from yourself: ask another operator');
    }
    if (input.lockReason !== undefined && input.locked === undefined && row.locked === 0) {
      throw invalidInput('a lock reason goes with locking: add locked: true (keisan admin user set NAME --lock --reason …)');
    }
    const hash = input.password !== undefined ? await hashPassword(input.password, this.passwordCost) : undefined;
    const ldapHash = input.password !== undefined ? this.ldapHashOf(input.password) : undefined;
    const { password: _omit, ...detail } = input;
    return this.change({ actor, action: 'user.update', targetType: 'user', target: name, detail: { ...detail, ...(hash ? { password: 'changed' } : {}) } }, async (tx) => {
      const at = this.now().toISOString();
      await tx
        .updateTable('users')
        .set({
          ...(input.fullName !== undefined ? { full_name: input.fullName } : {}),
          ...(input.email !== undefined ? { email: input.email } : {}),
          ...(input.home !== undefined ? { home: input.home } : {}),
          ...(input.shell !== undefined ? { shell: input.shell } : {}),
          ...(hash ? { password_hash: hash } : {}),
          ...(input.locked !== undefined ? { locked: input.locked ? 1 : 0, lock_reason: input.locked ? (input.lockReason ?? null) : null } : {}),
          ...(input.locked === undefined && input.lockReason !== undefined ? { lock_reason: input.lockReason } : {}),
          ...(input.operator !== undefined ? { is_operator: input.operator ? 1 : 0 } : {}),
          ...(destination ? { primary_subgroup_id: destination.id } : {}),
          updated_at: at,
        })
        .where('id', '=', row.id)
        .execute();
      await this.keepLdapHash(tx, row.id, ldapHash);
      if (destination) {
        // The new primary subgroup is no longer an extra membership.
        await tx.deleteFrom('memberships').where('user_id', '=', row.id).where('subgroup_id', '=', destination.id).execute();
      }
      if (input.locked === true || hash) {
        // Locking, or a password set by someone, ends the sessions that exist.
        await tx.updateTable('tickets').set({ revoked_at: at }).where('user_id', '=', row.id).where('revoked_at', 'is', null).execute();
      }
      return store.toUser(tx, await this.userRow(tx, name));
    });
  }

  async deleteUser(actor: Actor, name: string): Promise<void> {
    const row = await this.userRow(this.k, name);
    await this.require(actor, { kind: 'user.delete', user: await store.userScope(this.k, row) }, { type: 'user', name });
    await this.change({ actor, action: 'user.delete', targetType: 'user', target: name, detail: { uid: row.uid } }, async (tx) => {
      if (row.is_operator === 1) {
        const operators = await tx.selectFrom('users').select('id').where('is_operator', '=', 1).where('locked', '=', 0).execute();
        if (operators.length <= 1 && row.locked === 0) {
          throw conflict(`'${name}' is the last unlocked operator: make another operator first`);
        }
      }
      await tx.deleteFrom('tickets').where('user_id', '=', row.id).execute();
      await tx.deleteFrom('memberships').where('user_id', '=', row.id).execute();
      await tx.deleteFrom('workgroup_admins').where('user_id', '=', row.id).execute();
      await tx.deleteFrom('subgroup_admins').where('user_id', '=', row.id).execute();
      await tx.deleteFrom('ldap_passwords').where('user_id', '=', row.id).execute();
      await tx.deleteFrom('users').where('id', '=', row.id).execute();
    });
  }

  // ---------------------------------------------------------------- audit

  async audit(actor: Actor, filter: AuditFilter): Promise<AuditEntry[]> {
    await this.require(actor, { kind: 'audit.read' }, { type: 'audit', name: 'audit_log' });
    return readAudit(this.k, filter);
  }

  /** For other rooms: records an administrative action outside an accounts transaction. */
  async record(entry: AuditRecord): Promise<void> {
    await writeAudit(this.k, entry, this.now());
  }

  // ---------------------------------------------------------------- declarative apply / export

  private async snapshot(db: Tx, withHashes: boolean): Promise<Snapshot> {
    const workgroups = await Promise.all((await db.selectFrom('workgroups').selectAll().orderBy('name').execute()).map((r) => store.toWorkgroup(db, r)));
    const subgroupRows = await db
      .selectFrom('subgroups')
      .innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id')
      .selectAll('subgroups')
      .select('workgroups.name as workgroup_name')
      .orderBy('subgroups.name')
      .execute();
    const subgroups = await Promise.all(subgroupRows.map((r) => store.toSubgroup(db, r)));
    const userRows = await db.selectFrom('users').selectAll().orderBy('name').execute();
    const users = await Promise.all(
      userRows.map(async (r) => ({ ...(await store.toUser(db, r)), ...(withHashes ? { passwordHash: r.password_hash } : {}) })),
    );
    return { workgroups, subgroups, users };
  }

  /**
   * Applies a facility document: plans the changes, then (unless dry-run) carries them out
   * through the same rules as every other interface, in one transaction.
   */
  async apply(actor: Actor, raw: Record<string, unknown>, dryRun: boolean): Promise<ApplyResult> {
    await this.require(actor, { kind: 'facility.apply' }, { type: 'facility', name: 'accounts' });
    const document = parseFacilityDocument(raw);
    const ignoredSections = Object.keys(raw).filter((key) => key !== 'workgroups' && key !== 'users');
    const run = async (service: AccountsService, db: Tx): Promise<ApplyResult> => {
      const current = await service.snapshot(db, true);
      const changes = planApply(document, current);
      const result = { dryRun, applied: false, changes: changes.map((c) => ({ op: c.op, summary: summarize(c) })), unmentioned: unmentioned(document, current), ignoredSections };
      if (dryRun || changes.length === 0) return result;
      for (const change of changes) await service.applyChange(actor, change);
      return { ...result, applied: true };
    };
    if (dryRun) return run(this, this.k);
    return this.inOneTransaction((service) => run(service, service.k));
  }

  private async applyChange(actor: Actor, change: Change): Promise<void> {
    switch (change.op) {
      case 'create-workgroup':
        await this.createWorkgroup(actor, { name: change.name, description: change.description, ...(change.gid ? { gid: change.gid } : {}), ...(change.loginNetworks ? { loginNetworks: change.loginNetworks } : {}) });
        return;
      case 'update-workgroup':
        await this.updateWorkgroup(actor, change.name, { description: change.description, loginNetworks: change.loginNetworks });
        return;
      case 'create-subgroup':
        await this.createSubgroup(actor, { workgroup: change.workgroup, name: change.name, description: change.description, ...(change.gid ? { gid: change.gid } : {}) });
        return;
      case 'update-subgroup':
        await this.updateSubgroup(actor, change.name, { description: change.description });
        return;
      case 'grant-workgroup-admin':
        await this.setWorkgroupAdmin(actor, change.workgroup, change.user, true);
        return;
      case 'grant-subgroup-admin':
        await this.setSubgroupAdmin(actor, change.subgroup, change.user, true);
        return;
      case 'add-member':
        await this.setMembership(actor, change.subgroup, change.user, true);
        return;
      case 'create-user': {
        const { passwordHash, locked, ...input } = change.user;
        await this.createUser(actor, input, { passwordHash: passwordHash ?? null });
        if (locked) await this.updateUser(actor, input.name, { locked: true });
        return;
      }
      case 'update-user': {
        const { passwordHash, ...input } = change.set;
        if (Object.keys(input).length > 0) await this.updateUser(actor, change.name, input);
        if (passwordHash) {
          await this.change({ actor, action: 'user.update', targetType: 'user', target: change.name, detail: { password: 'hash imported' } }, async (tx) => {
            await tx.updateTable('users').set({ password_hash: passwordHash, updated_at: this.now().toISOString() }).where('name', '=', change.name).execute();
            // An imported scrypt hash cannot give an LDAP one: the old LDAP hash would let the old password bind.
            const user = await this.userRow(tx, change.name);
            await tx.deleteFrom('ldap_passwords').where('user_id', '=', user.id).execute();
          });
        }
        return;
      }
    }
  }

  async exportFacility(actor: Actor, withPasswordHashes = false): Promise<FacilityExport> {
    await this.require(actor, { kind: 'facility.export' }, { type: 'facility', name: 'accounts' });
    return exportDocument(await this.snapshot(this.k, withPasswordHashes), withPasswordHashes);
  }

  // ---------------------------------------------------------------- bootstrap

  /**
   * Creates the first operator when the facility has none. Returns the generated password
   * (the caller stores it in a 0600 file) or undefined when an operator already exists.
   */
  async ensureOperator(name: string, primarySubgroup: string): Promise<{ name: string; password: string } | undefined> {
    const existing = await this.k.selectFrom('users').select('name').where('is_operator', '=', 1).executeTakeFirst();
    if (existing) return undefined;
    const password = randomPassword();
    if (await store.findUser(this.k, name)) {
      await this.updateUser(SYSTEM_ACTOR, name, { operator: true, password, locked: false });
    } else {
      await this.createUser(SYSTEM_ACTOR, { name, primarySubgroup, fullName: 'Keisan operator', password, operator: true });
    }
    return { name, password };
  }

  // ---------------------------------------------------------------- helpers

  private async assertGroupNameFree(tx: Tx, name: string): Promise<void> {
    if (await store.findWorkgroup(tx, name)) throw conflict(`workgroup '${name}' already exists (workgroup and subgroup names share one Unix group namespace)`);
    if (await store.findSubgroup(tx, name)) throw conflict(`subgroup '${name}' already exists (workgroup and subgroup names share one Unix group namespace)`);
  }

  private async allocateGid(tx: Tx, requested: number | undefined): Promise<number> {
    if (requested !== undefined) {
      const owner = await store.gidInUse(tx, requested);
      if (owner) throw conflict(`gid ${requested} already belongs to ${owner}`);
      return requested;
    }
    const gid = await store.nextFreeId(tx, 'gid', this.settings.accounts.gidRange);
    if (gid === undefined) {
      throw conflict(`no free gid left in accounts.gidRange ${this.settings.accounts.gidRange.join('-')}: widen it in keisan.yaml`);
    }
    return gid;
  }

  private async allocateUid(tx: Tx, requested: number | undefined): Promise<number> {
    if (requested !== undefined) {
      const owner = await tx.selectFrom('users').select('name').where('uid', '=', requested).executeTakeFirst();
      if (owner) throw conflict(`uid ${requested} already belongs to user '${owner.name}'`);
      return requested;
    }
    const uid = await store.nextFreeId(tx, 'uid', this.settings.accounts.uidRange);
    if (uid === undefined) {
      throw conflict(`no free uid left in accounts.uidRange ${this.settings.accounts.uidRange.join('-')}: widen it in keisan.yaml`);
    }
    return uid;
  }
}

function lockedError(name: string, reason: string | null): KeisanError {
  return new KeisanError(
    'ACCOUNT_LOCKED',
    `account '${name}' is locked${reason ? ` (${reason})` : ''}: ask your group admin or an operator to unlock it`,
  );
}

function ticketTimes(row: store.TicketRow) {
  return {
    issuedAt: new Date(row.issued_at),
    expiresAt: new Date(row.expires_at),
    renewUntil: new Date(row.renew_until),
    revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
  };
}

function ticketInfo(times: { issuedAt: Date; expiresAt: Date; renewUntil: Date }): TicketInfo {
  return { issuedAt: times.issuedAt.toISOString(), expiresAt: times.expiresAt.toISOString(), renewUntil: times.renewUntil.toISOString() };
}
