import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { AndFilter, EqualityFilter, OrFilter, type Client, type Filter } from 'ldapts';
import { z } from 'zod';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { invalidInput, KeisanError } from '../../lib/errors.ts';
import { auditedRefusal } from '../audit.ts';
import { email as emailSchema, fullName as fullNameSchema, home as homeSchema, shell as shellSchema, SYSTEM_ACTOR, type Actor } from '../model.ts';
import type { AccountsService, DirectoryLogin } from '../service.ts';
import * as accountsStore from '../store.ts';
import { applyOperation, bindAs, directoryUnavailable, readSubtree, withServiceClient } from './directory.ts';
import { mappedSubgroups, placeUser, type DirectoryGroup, type DirectoryUser } from './mapping.ts';
import { describeOperation, groupsDn, planPublish, usersDn, type DirectoryLayout, type LdapOperation } from './plan.ts';
import type { LdapSettings } from './settings.ts';
import { readIdentity } from './store.ts';

type Logger = Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;

export const ldapChangeSchema = z.object({
  op: z.enum(['add', 'modify', 'delete', 'create-user', 'update-user']),
  dn: z.string().describe('the directory entry (publish) or the user (use)'),
  summary: z.string(),
});
export type LdapChange = z.infer<typeof ldapChangeSchema>;

export const ldapStatusSchema = z.object({
  mode: z.enum(['off', 'publish', 'use']),
  url: z.string().nullable(),
  baseDn: z.string().nullable(),
  state: z.enum(['off', 'in-sync', 'pending', 'failing', 'use']).describe('publish: whether every Keisan change reached the directory'),
  pending: z.boolean().describe('publish: changes wait to be written (the directory was down or a sync runs)'),
  lastAttemptAt: z.string().nullable(),
  lastSuccessAt: z.string().nullable(),
  lastError: z.string().nullable(),
  nextRetryAt: z.string().nullable(),
  usersWithoutLdapPassword: z.array(z.string()).describe('publish: users who cannot bind to the directory until their password is set again'),
  reachable: z.boolean().nullable().describe('whether a bind to the directory works now (null when off)'),
});
export type LdapStatus = z.infer<typeof ldapStatusSchema>;

export const ldapSyncResultSchema = z.object({
  mode: z.enum(['publish', 'use']),
  applied: z.boolean(),
  changes: z.array(ldapChangeSchema),
  remaining: z.array(ldapChangeSchema).describe('after --apply: what a fresh read still differs in (empty when the sync took)'),
});
export type LdapSyncResult = z.infer<typeof ldapSyncResultSchema>;

const layoutOf = (s: LdapSettings): DirectoryLayout => ({ baseDn: s.baseDn, usersOu: s.usersOu, groupsOu: s.groupsOu });
const toChange = (operation: LdapOperation): LdapChange => ({ op: operation.op, dn: operation.dn, summary: describeOperation(operation) });

// ------------------------------------------------------------------ publish

/**
 * Keeps the directory equal to Keisan: every committed account change schedules a sync (the
 * planner over a fresh read of both sides, so nothing is lost when changes pile up). A failed
 * sync is logged, kept as pending and tried again every retryInterval; the Keisan change itself
 * never fails because of the directory.
 */
export class LdapPublisher {
  private pending = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private lastAttemptAt: Date | null = null;
  private lastSuccessAt: Date | null = null;
  private lastError: string | null = null;
  private nextRetryAt: Date | null = null;
  private serial: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: { db: Kysely<Database>; settings: LdapSettings; clock: Clock; logger: Logger }) {}

  start(accounts: AccountsService): void {
    this.unsubscribe = accounts.onChange(() => this.request(0));
    this.request(0);
  }

  /** Schedules a sync after `delayMs` (sooner requests win). */
  request(delayMs: number): void {
    if (this.closed) return;
    this.pending = true;
    if (this.running) return; // the running sync schedules another when it ends
    if (this.timer) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        if (this.pending && !this.closed && !this.timer) this.request(this.lastError ? this.o.settings.retryInterval : 0);
      });
    }, delayMs);
    this.timer.unref?.();
  }

  private async runOnce(): Promise<void> {
    this.pending = false;
    this.lastAttemptAt = this.o.clock.now();
    try {
      const operations = await this.syncNow();
      if (operations.length > 0) this.o.logger.info({ operations: operations.length }, `ldap: published ${operations.length} change${operations.length === 1 ? '' : 's'} to ${this.o.settings.url}`);
      if (this.lastError) this.o.logger.info(`ldap: the directory at ${this.o.settings.url} is back; Keisan's accounts are published again`);
      this.lastError = null;
      this.nextRetryAt = null;
      this.lastSuccessAt = this.o.clock.now();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const first = this.lastError === null;
      this.lastError = message;
      this.pending = true;
      this.nextRetryAt = new Date(this.o.clock.now().getTime() + this.o.settings.retryInterval);
      const line = `ldap: publishing to ${this.o.settings.url} failed (${message}); Keisan's changes are kept and tried again every ${Math.round(this.o.settings.retryInterval / 1000)} s (keisan admin ldap status)`;
      if (first) this.o.logger.warn(line);
      else this.o.logger.info(line);
    }
  }

  /** The plan now: Keisan's state against a fresh read of the directory. */
  async plan(client: Client): Promise<LdapOperation[]> {
    const layout = layoutOf(this.o.settings);
    const directory = [...(await readSubtree(client, usersDn(layout))), ...(await readSubtree(client, groupsDn(layout)))];
    return planPublish(await readIdentity(this.o.db), directory, layout);
  }

  /** Plans and applies, one sync at a time (the background one and `--apply` never race); throws when the directory is unreachable or refuses an operation. */
  syncNow(): Promise<LdapOperation[]> {
    const run = this.serial.then(() => this.syncUnserialized());
    this.serial = run.catch(() => undefined);
    return run;
  }

  private async syncUnserialized(): Promise<LdapOperation[]> {
    return withServiceClient(this.o.settings, async (client) => {
      const operations = await this.plan(client);
      for (const operation of operations) {
        try {
          await applyOperation(client, operation);
        } catch (error) {
          throw new KeisanError('UNAVAILABLE', `the directory refused "${describeOperation(operation)}": ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return operations;
    });
  }

  /** Waits until no sync is running or due now (tests; `--apply`). */
  async settled(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      if (this.running) await this.running;
      else if (this.timer && !this.lastError) await new Promise((resolve) => setTimeout(resolve, 5));
      else return;
    }
  }

  async status(): Promise<Omit<LdapStatus, 'reachable'>> {
    const identity = await readIdentity(this.o.db);
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return {
      mode: 'publish',
      url: this.o.settings.url,
      baseDn: this.o.settings.baseDn,
      state: this.lastError ? 'failing' : this.pending || this.running ? 'pending' : 'in-sync',
      pending: this.pending || this.running !== undefined,
      lastAttemptAt: iso(this.lastAttemptAt),
      lastSuccessAt: iso(this.lastSuccessAt),
      lastError: this.lastError,
      nextRetryAt: iso(this.nextRetryAt),
      usersWithoutLdapPassword: identity.users.filter((u) => !u.ldapPassword).map((u) => u.name).sort(),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

// ------------------------------------------------------------------ use

const first = (entry: { attributes: Record<string, string[]> }, name: string): string | null => {
  const key = Object.keys(entry.attributes).find((k) => k.toLowerCase() === name.toLowerCase());
  return key ? (entry.attributes[key]?.[0] ?? null) : null;
};
const numberOrNull = (value: string | null) => (value !== null && /^\d+$/.test(value) ? Number(value) : null);

/**
 * accounts.ldap.mode use: users log in by a bind as their own DN (found by uid under usersOu);
 * their entry and groups are read from the directory and Keisan's user is created or brought up
 * to date from them (groupMap decides the subgroups). Keisan never writes to the directory.
 */
export class DirectoryAccounts implements DirectoryLogin {
  constructor(private readonly o: { db: Kysely<Database>; settings: LdapSettings; accounts: AccountsService; logger: Logger }) {}

  private get usersBase(): string {
    return usersDn(layoutOf(this.o.settings));
  }

  private get groupsBase(): string {
    return groupsDn(layoutOf(this.o.settings));
  }

  private async groupsOf(client: Client, user: { dn: string; name: string; gidNumber: number | null }): Promise<DirectoryGroup[]> {
    const filters: Filter[] = [
      new EqualityFilter({ attribute: 'memberUid', value: user.name }),
      new EqualityFilter({ attribute: 'member', value: user.dn }),
      new EqualityFilter({ attribute: 'uniqueMember', value: user.dn }),
    ];
    if (user.gidNumber !== null) filters.push(new EqualityFilter({ attribute: 'gidNumber', value: String(user.gidNumber) }));
    const { searchEntries } = await client.search(this.groupsBase, { scope: 'sub', filter: new OrFilter({ filters }), attributes: ['cn', 'gidNumber'] }).catch((error: unknown) => {
      if (error instanceof Error && error.name === 'NoSuchObjectError') return { searchEntries: [] };
      throw error;
    });
    return searchEntries.map((e) => ({ dn: e.dn, gidNumber: numberOrNull(typeof e.gidNumber === 'string' ? e.gidNumber : null) }));
  }

  private async readUsers(client: Client, name?: string): Promise<DirectoryUser[]> {
    const filter = new AndFilter({
      filters: [new EqualityFilter({ attribute: 'objectClass', value: 'posixAccount' }), ...(name !== undefined ? [new EqualityFilter({ attribute: 'uid', value: name })] : [])],
    });
    const entries = await readSubtree(client, this.usersBase, filter.toString(), ['uid', 'uidNumber', 'gidNumber', 'cn', 'mail', 'homeDirectory', 'loginShell']);
    const users: DirectoryUser[] = [];
    for (const entry of entries) {
      const uid = first(entry, 'uid');
      if (!uid) continue;
      const base = { dn: entry.dn, name: uid, gidNumber: numberOrNull(first(entry, 'gidNumber')) };
      users.push({
        ...base,
        uidNumber: numberOrNull(first(entry, 'uidNumber')),
        fullName: first(entry, 'cn') ?? '',
        email: first(entry, 'mail'),
        home: first(entry, 'homeDirectory'),
        shell: first(entry, 'loginShell'),
        groups: await this.groupsOf(client, base),
      });
    }
    return users;
  }

  async authenticate(name: string, password: string): Promise<'ok' | 'bad' | 'unknown'> {
    const found = await withServiceClient(this.o.settings, (client) => this.readUsers(client, name));
    const user = found.find((u) => u.name === name);
    if (!user) return 'unknown';
    if (!(await bindAs(this.o.settings, user.dn, password))) return 'bad';
    await this.provision(user);
    return 'ok';
  }

  /** The Keisan changes that would bring a directory user in (pure over what was read). */
  private async changesFor(user: DirectoryUser): Promise<LdapChange | undefined> {
    const placement = placeUser(this.o.settings.groupMap, user);
    if (!placement) return undefined;
    const existing = await accountsStore.findUser(this.o.db, user.name);
    if (!existing) return { op: 'create-user', dn: user.name, summary: `create user ${user.name} (uid ${user.uidNumber ?? 'new'}) in subgroup ${placement.primary.subgroup}${placement.extras.length ? ` and ${placement.extras.map((e) => e.subgroup).join(', ')}` : ''}` };
    const keisan = await accountsStore.toUser(this.o.db, existing);
    const profile = this.profileOf(user);
    const differs: string[] = [];
    if (keisan.primarySubgroup !== placement.primary.subgroup) differs.push(`primary subgroup ${keisan.primarySubgroup} → ${placement.primary.subgroup}`);
    if (profile.fullName !== undefined && profile.fullName !== keisan.fullName) differs.push(`full name → ${profile.fullName}`);
    if (profile.email !== undefined && profile.email !== keisan.email) differs.push(`e-mail → ${profile.email}`);
    if (profile.home !== undefined && profile.home !== keisan.home) differs.push(`home → ${profile.home}`);
    if (profile.shell !== undefined && profile.shell !== keisan.shell) differs.push(`shell → ${profile.shell}`);
    const managed = mappedSubgroups(this.o.settings.groupMap);
    const want = new Set(placement.extras.map((e) => e.subgroup));
    for (const s of want) if (!keisan.subgroups.includes(s)) differs.push(`joins ${s}`);
    for (const s of keisan.subgroups) if (managed.has(s) && !want.has(s)) differs.push(`leaves ${s}`);
    return differs.length > 0 ? { op: 'update-user', dn: user.name, summary: `update user ${user.name}: ${differs.join('; ')}` } : undefined;
  }

  /** Directory values Keisan accepts; one it would refuse (a shell with spaces…) is left as Keisan has it. */
  private profileOf(user: DirectoryUser): { fullName?: string; email?: string; home?: string; shell?: string } {
    const ok = <T>(schema: z.ZodType<T>, value: string | null) => (value !== null && schema.safeParse(value).success ? value : undefined);
    const profile: { fullName?: string; email?: string; home?: string; shell?: string } = {};
    const fullName = ok(fullNameSchema, user.fullName);
    const email = ok(emailSchema, user.email);
    const home = ok(homeSchema, user.home);
    const shell = ok(shellSchema, user.shell);
    if (fullName !== undefined) profile.fullName = fullName;
    if (email !== undefined) profile.email = email;
    if (home !== undefined) profile.home = home;
    if (shell !== undefined) profile.shell = shell;
    return profile;
  }

  /** Creates or updates the Keisan user (and the mapped workgroups and subgroups) from the directory. */
  async provision(user: DirectoryUser): Promise<void> {
    const placement = placeUser(this.o.settings.groupMap, user);
    if (!placement) {
      throw new KeisanError('FORBIDDEN', `none of your directory groups is mapped to a Keisan subgroup: ask an operator to add a rule to accounts.ldap.groupMap in keisan.yaml`);
    }
    // Read before the transaction: on SQLite a read outside it would wait for it.
    const missingWorkgroups = new Set<string>();
    const missingSubgroups: { workgroup: string; name: string; group: string; gid?: number }[] = [];
    for (const rule of [placement.primary, ...placement.extras]) {
      if (!(await accountsStore.findWorkgroup(this.o.db, rule.workgroup))) missingWorkgroups.add(rule.workgroup);
      if (!(await accountsStore.findSubgroup(this.o.db, rule.subgroup))) {
        const gid = rule.gidNumber !== null && rule.gidNumber >= 1000 && !(await accountsStore.gidInUse(this.o.db, rule.gidNumber)) ? rule.gidNumber : undefined;
        missingSubgroups.push({ workgroup: rule.workgroup, name: rule.subgroup, group: rule.group, ...(gid !== undefined ? { gid } : {}) });
      }
    }
    await this.o.accounts.inOneTransaction(async (service) => {
      for (const workgroup of missingWorkgroups) {
        await service.createWorkgroup(SYSTEM_ACTOR, { name: workgroup, description: 'from the LDAP directory (accounts.ldap.groupMap)' });
      }
      for (const subgroup of missingSubgroups) {
        await service.createSubgroup(SYSTEM_ACTOR, { workgroup: subgroup.workgroup, name: subgroup.name, description: `from ${subgroup.group}`.slice(0, 500), ...(subgroup.gid !== undefined ? { gid: subgroup.gid } : {}) });
      }
      const profile = this.profileOf(user);
      const existing = await service.getUser(SYSTEM_ACTOR, user.name).catch((error: unknown) => {
        if (error instanceof KeisanError && error.code === 'NOT_FOUND') return undefined;
        throw error;
      });
      const extras = placement.extras.map((e) => e.subgroup);
      if (!existing) {
        const uid = user.uidNumber !== null && user.uidNumber >= 1000 ? user.uidNumber : undefined;
        await service.createUser(SYSTEM_ACTOR, { name: user.name, primarySubgroup: placement.primary.subgroup, ...profile, ...(uid !== undefined ? { uid } : {}), ...(extras.length ? { subgroups: extras } : {}) }, { passwordHash: null });
        return;
      }
      const update = {
        ...(profile.fullName !== undefined && profile.fullName !== existing.fullName ? { fullName: profile.fullName } : {}),
        ...(profile.email !== undefined && profile.email !== existing.email ? { email: profile.email } : {}),
        ...(profile.home !== undefined && profile.home !== existing.home ? { home: profile.home } : {}),
        ...(profile.shell !== undefined && profile.shell !== existing.shell ? { shell: profile.shell } : {}),
        ...(existing.primarySubgroup !== placement.primary.subgroup ? { primarySubgroup: placement.primary.subgroup } : {}),
      };
      if (Object.keys(update).length > 0) await service.updateUser(SYSTEM_ACTOR, user.name, update);
      const managed = mappedSubgroups(this.o.settings.groupMap);
      for (const s of extras) if (!existing.subgroups.includes(s)) await service.setMembership(SYSTEM_ACTOR, s, user.name, true);
      for (const s of existing.subgroups) if (managed.has(s) && !extras.includes(s)) await service.setMembership(SYSTEM_ACTOR, s, user.name, false);
    });
  }

  /** What an import would change: every directory user one of whose groups is mapped. */
  async plan(): Promise<LdapChange[]> {
    const users = await withServiceClient(this.o.settings, (client) => this.readUsers(client));
    const changes: LdapChange[] = [];
    for (const user of users.sort((a, b) => a.name.localeCompare(b.name))) {
      const change = await this.changesFor(user);
      if (change) changes.push(change);
    }
    return changes;
  }

  async importAll(): Promise<LdapChange[]> {
    const users = await withServiceClient(this.o.settings, (client) => this.readUsers(client));
    const changes: LdapChange[] = [];
    for (const user of users.sort((a, b) => a.name.localeCompare(b.name))) {
      const change = await this.changesFor(user);
      if (!change) continue;
      await this.provision(user);
      changes.push(change);
    }
    return changes;
  }
}

// ------------------------------------------------------------------ the room's service

/** `keisan admin ldap status|sync` behind /api/admin/ldap: operators only; applying is audited. */
export class LdapService {
  readonly publisher: LdapPublisher | undefined;
  readonly directory: DirectoryAccounts | undefined;

  private readonly settings: LdapSettings | undefined;

  /** `dataDir`: where a relative bindPasswordFile is (like mail's passwordFile); default the working directory. */
  constructor(private readonly o: { db: Kysely<Database>; settings: LdapSettings | undefined; clock: Clock; accounts: AccountsService; logger: Logger; dataDir?: string }) {
    const ldap = o.settings?.bindPasswordFile ? { ...o.settings, bindPasswordFile: path.resolve(o.dataDir ?? process.cwd(), o.settings.bindPasswordFile) } : o.settings;
    this.settings = ldap;
    if (ldap?.mode === 'publish') this.publisher = new LdapPublisher({ db: o.db, settings: ldap, clock: o.clock, logger: o.logger });
    if (ldap?.mode === 'use') this.directory = new DirectoryAccounts({ db: o.db, settings: ldap, accounts: o.accounts, logger: o.logger });
  }

  /** Subscribes the publisher to account changes (and syncs once), or puts the directory in front of `keisan login`. */
  start(): void {
    this.publisher?.start(this.o.accounts);
    if (this.directory) this.o.accounts.useDirectory(this.directory);
  }

  async close(): Promise<void> {
    await this.publisher?.close();
  }

  private async requireOperator(actor: Actor, action: 'ldap.status' | 'ldap.sync', what: string): Promise<void> {
    if (actor.isOperator) return;
    throw await auditedRefusal(this.o.db, { actor, action, targetType: 'ldap', target: this.settings?.url ?? 'ldap' }, `only an operator may ${what}`, this.o.clock.now());
  }

  private requireConfigured(): LdapSettings {
    if (!this.settings) throw invalidInput('accounts.ldap is not set in keisan.yaml: add mode (publish or use), url, baseDn and bindDn/bindPasswordFile first (operator guide, "One identity: LDAP")');
    return this.settings;
  }

  async status(actor: Actor): Promise<LdapStatus> {
    await this.requireOperator(actor, 'ldap.status', 'see the LDAP status');
    const ldap = this.settings;
    if (!ldap) return { mode: 'off', url: null, baseDn: null, state: 'off', pending: false, lastAttemptAt: null, lastSuccessAt: null, lastError: null, nextRetryAt: null, usersWithoutLdapPassword: [], reachable: null };
    // ldapts connects lazily: without a bind DN only a real operation shows whether the directory answers.
    const reachable = await withServiceClient(ldap, async (client) => {
      await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['namingContexts'] });
      return true;
    }).catch(() => false);
    if (this.publisher) return { ...(await this.publisher.status()), reachable };
    return { mode: 'use', url: ldap.url, baseDn: ldap.baseDn, state: 'use', pending: false, lastAttemptAt: null, lastSuccessAt: null, lastError: null, nextRetryAt: null, usersWithoutLdapPassword: [], reachable };
  }

  async sync(actor: Actor, apply: boolean): Promise<LdapSyncResult> {
    await this.requireOperator(actor, 'ldap.sync', apply ? 'apply the LDAP sync' : 'see the LDAP sync plan');
    const ldap = this.requireConfigured();
    try {
      if (this.publisher) {
        const publisher = this.publisher;
        if (!apply) return { mode: 'publish', applied: false, changes: (await withServiceClient(ldap, (c) => publisher.plan(c))).map(toChange), remaining: [] };
        await publisher.settled();
        const applied = (await publisher.syncNow()).map(toChange);
        const remaining = (await withServiceClient(ldap, (c) => publisher.plan(c))).map(toChange);
        await this.o.accounts.record({ actor, action: 'ldap.sync', targetType: 'ldap', target: ldap.url, outcome: 'ok', detail: { mode: 'publish', applied: applied.length, remaining: remaining.length } });
        return { mode: 'publish', applied: true, changes: applied, remaining };
      }
      const directory = this.directory!;
      if (!apply) return { mode: 'use', applied: false, changes: await directory.plan(), remaining: [] };
      const applied = await directory.importAll();
      const remaining = await directory.plan();
      await this.o.accounts.record({ actor, action: 'ldap.sync', targetType: 'ldap', target: ldap.url, outcome: 'ok', detail: { mode: 'use', applied: applied.length, remaining: remaining.length } });
      return { mode: 'use', applied: true, changes: applied, remaining };
    } catch (error) {
      if (error instanceof KeisanError) {
        if (apply) await this.o.accounts.record({ actor, action: 'ldap.sync', targetType: 'ldap', target: ldap.url, outcome: 'failed', detail: { error: error.message } });
        throw error;
      }
      throw directoryUnavailable(ldap, error);
    }
  }
}
