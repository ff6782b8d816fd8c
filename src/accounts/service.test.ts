import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { ManualClock } from '../lib/clock.ts';
import { parseSettings, type Settings } from '../lib/config.ts';
import { KeisanError, type ErrorCode } from '../lib/errors.ts';
import type { AuditEntry } from './audit.ts';
import { SYSTEM_ACTOR, type Actor, type User } from './model.ts';
import { AccountsService, type Authenticated } from './service.ts';

const HOUR = 3_600_000;
const PASSWORD = 'correct horse battery';
const ADDRESS = '192.0.2.10';
const START = '2026-03-02T08:00:00.000Z';

const testSettings = (accounts: Record<string, unknown> = {}): Settings =>
  parseSettings({ accounts: { passwordHash: { cost: 1024 }, ...accounts } }, 'test');

/** Asserts that `promise` rejects with a KeisanError of `code` (and a message matching `message`). */
async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<KeisanError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof KeisanError, `expected a KeisanError ${code}, got ${caught === undefined ? 'success' : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

interface Fixture {
  db: Db & { dispose(): Promise<void> };
  clock: ManualClock;
  settings: Settings;
  service: AccountsService;
  actor(name: string): Promise<Actor>;
  count(table: 'workgroups' | 'subgroups' | 'users' | 'memberships' | 'tickets' | 'audit_log' | 'workgroup_admins' | 'subgroup_admins'): Promise<number>;
  audit(filter?: { action?: string; target?: string }): Promise<AuditEntry[]>;
}

/**
 * The facility most tests start from:
 *   workgroup admin/staff: olga (operator)
 *   workgroup physics: optics (walter: workgroup admin; sam: admin of optics; alice), lasers
 *   workgroup chem: organic (bob)
 */
async function seed(service: AccountsService): Promise<void> {
  await service.createWorkgroup(SYSTEM_ACTOR, { name: 'admin' });
  await service.createSubgroup(SYSTEM_ACTOR, { workgroup: 'admin', name: 'staff' });
  await service.createWorkgroup(SYSTEM_ACTOR, { name: 'physics', description: 'Physics department' });
  await service.createSubgroup(SYSTEM_ACTOR, { workgroup: 'physics', name: 'optics' });
  await service.createSubgroup(SYSTEM_ACTOR, { workgroup: 'physics', name: 'lasers' });
  await service.createWorkgroup(SYSTEM_ACTOR, { name: 'chem' });
  await service.createSubgroup(SYSTEM_ACTOR, { workgroup: 'chem', name: 'organic' });
  await service.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'staff', password: PASSWORD, operator: true });
  for (const [name, primarySubgroup] of [['walter', 'optics'], ['sam', 'optics'], ['alice', 'optics'], ['bob', 'organic']] as const) {
    await service.createUser(SYSTEM_ACTOR, { name, primarySubgroup, password: PASSWORD });
  }
  await service.setWorkgroupAdmin(SYSTEM_ACTOR, 'physics', 'walter', true);
  await service.setSubgroupAdmin(SYSTEM_ACTOR, 'optics', 'sam', true);
}

describeEachDatabase('AccountsService', (database) => {
  let f: Fixture;

  async function open(settings: Settings = testSettings()): Promise<Fixture> {
    const db = await database.open();
    const clock = new ManualClock(START);
    const service = new AccountsService(db.kysely, settings, clock);
    return {
      db,
      clock,
      settings,
      service,
      async actor(name) {
        const row = await db.kysely.selectFrom('users').select('id').where('name', '=', name).executeTakeFirstOrThrow();
        return service.actorFor(row.id, ADDRESS);
      },
      async count(table) {
        const row = await db.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
        return Number(row.n);
      },
      async audit(filter = {}) {
        return service.audit(SYSTEM_ACTOR, { ...filter, limit: 1000 });
      },
    };
  }

  beforeEach(async () => {
    f = await open();
    await seed(f.service);
  });
  afterEach(async () => {
    await f.db.dispose();
  });

  // ------------------------------------------------------------------ groups and users

  it('creates workgroups, subgroups and users with ids from the configured ranges', async () => {
    const op = await f.actor('olga');
    const workgroup = await f.service.createWorkgroup(op, { name: 'bio', description: 'Biology' });
    assert.equal(workgroup.name, 'bio');
    assert.equal(workgroup.description, 'Biology');
    assert.deepEqual(workgroup.subgroups, []);
    assert.equal(workgroup.createdAt, START);
    // seed made 7 groups from 5000 upwards
    assert.equal(workgroup.gid, 5007);
    const subgroup = await f.service.createSubgroup(op, { workgroup: 'bio', name: 'genomics' });
    assert.equal(subgroup.workgroup, 'bio');
    assert.equal(subgroup.gid, 5008);
    const created = await f.service.createUser(op, { name: 'gina', primarySubgroup: 'genomics', fullName: 'Gina G', email: 'gina@example.org' });
    assert.equal(created.user.uid, 10005);
    assert.equal(created.user.gid, 5008);
    assert.equal(created.user.workgroup, 'bio');
    assert.equal(created.user.home, '/home/gina');
    assert.equal(created.user.shell, '/bin/bash');
    assert.equal(created.user.hasPassword, true);
    // No password given: one is generated, returned once, and it works.
    assert.ok(created.initialPassword && created.initialPassword.length >= 16);
    const login = await f.service.login('gina', created.initialPassword, ADDRESS);
    assert.equal(login.user.name, 'gina');
    // Given a password: none is returned.
    const withPassword = await f.service.createUser(op, { name: 'hank', primarySubgroup: 'genomics', password: PASSWORD });
    assert.equal(withPassword.initialPassword, undefined);
    assert.equal((await f.service.getWorkgroup(op, 'bio')).subgroups.join(), 'genomics');
    assert.deepEqual((await f.service.getSubgroup(op, 'genomics')).primaryMembers, ['gina', 'hank']);
  });

  it('allocates the lowest free id in range, skips explicit ones, and says when a range is full', async () => {
    await f.db.dispose();
    f = await open(testSettings({ uidRange: [20000, 20001], gidRange: [7000, 7002] }));
    const s = f.service;
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'w1' }); // 7000
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'w1', name: 's1', gid: 7002 }); // explicit, in range
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'w1', name: 's2', gid: 4321 }); // explicit, outside range
    const s3 = await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'w1', name: 's3' });
    assert.equal(s3.gid, 7001);
    await rejectsWith(s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'w1', name: 's4' }), 'CONFLICT', /no free gid left in accounts\.gidRange 7000-7002/);
    assert.equal(await f.count('subgroups'), 3);

    const u1 = await s.createUser(SYSTEM_ACTOR, { name: 'u1', primarySubgroup: 's1', password: PASSWORD });
    assert.equal(u1.user.uid, 20000);
    const u2 = await s.createUser(SYSTEM_ACTOR, { name: 'u2', primarySubgroup: 's1', password: PASSWORD, uid: 1500 });
    assert.equal(u2.user.uid, 1500);
    const u3 = await s.createUser(SYSTEM_ACTOR, { name: 'u3', primarySubgroup: 's1', password: PASSWORD });
    assert.equal(u3.user.uid, 20001);
    await rejectsWith(s.createUser(SYSTEM_ACTOR, { name: 'u4', primarySubgroup: 's1', password: PASSWORD }), 'CONFLICT', /no free uid left in accounts\.uidRange 20000-20001/);
    assert.equal(await f.count('users'), 3);
    // A deleted user's uid is free again.
    await s.deleteUser(SYSTEM_ACTOR, 'u1');
    assert.equal((await s.createUser(SYSTEM_ACTOR, { name: 'u5', primarySubgroup: 's1', password: PASSWORD })).user.uid, 20000);
  });

  it('explicit uids and gids are for operators only, and must be free', async () => {
    const walter = await f.actor('walter');
    const op = await f.actor('olga');
    await rejectsWith(f.service.createSubgroup(walter, { workgroup: 'physics', name: 'nuclear', gid: 6000 }), 'FORBIDDEN', /only an operator may choose uids and gids/);
    await rejectsWith(f.service.createUser(walter, { name: 'nina', primarySubgroup: 'optics', uid: 30000 }), 'FORBIDDEN', /only an operator may choose uids/);
    // Without explicit ids, the same admin may.
    assert.equal((await f.service.createSubgroup(walter, { workgroup: 'physics', name: 'nuclear' })).workgroup, 'physics');
    assert.equal((await f.service.createUser(walter, { name: 'nina', primarySubgroup: 'optics' })).user.primarySubgroup, 'optics');

    const optics = await f.service.getSubgroup(op, 'optics');
    await rejectsWith(f.service.createWorkgroup(op, { name: 'geo', gid: optics.gid }), 'CONFLICT', new RegExp(`gid ${optics.gid} already belongs to subgroup 'optics'`));
    const physics = await f.service.getWorkgroup(op, 'physics');
    await rejectsWith(f.service.createSubgroup(op, { workgroup: 'chem', name: 'inorganic', gid: physics.gid }), 'CONFLICT', /already belongs to workgroup 'physics'/);
    const alice = await f.service.getUser(op, 'alice');
    await rejectsWith(f.service.createUser(op, { name: 'zed', primarySubgroup: 'optics', uid: alice.uid }), 'CONFLICT', new RegExp(`uid ${alice.uid} already belongs to user 'alice'`));
    assert.equal((await f.service.createUser(op, { name: 'zed', primarySubgroup: 'optics', uid: 31337 })).user.uid, 31337);
    assert.equal(await f.service.createWorkgroup(op, { name: 'geo', gid: 6543 }).then((w) => w.gid), 6543);
  });

  it('refuses a duplicate user, and changes nothing', async () => {
    const op = await f.actor('olga');
    const before = await f.count('users');
    await rejectsWith(f.service.createUser(op, { name: 'alice', primarySubgroup: 'organic' }), 'CONFLICT', /user 'alice' already exists/);
    assert.equal(await f.count('users'), before);
    assert.equal((await f.service.getUser(op, 'alice')).primarySubgroup, 'optics');
  });

  it('workgroup and subgroup names share one namespace', async () => {
    const op = await f.actor('olga');
    await rejectsWith(f.service.createWorkgroup(op, { name: 'optics' }), 'CONFLICT', /subgroup 'optics' already exists .*share one Unix group namespace/);
    await rejectsWith(f.service.createSubgroup(op, { workgroup: 'chem', name: 'physics' }), 'CONFLICT', /workgroup 'physics' already exists/);
    await rejectsWith(f.service.createSubgroup(op, { workgroup: 'chem', name: 'lasers' }), 'CONFLICT', /subgroup 'lasers' already exists/);
    await rejectsWith(f.service.createWorkgroup(op, { name: 'chem' }), 'CONFLICT', /workgroup 'chem' already exists/);
    assert.equal(await f.count('workgroups'), 3);
    assert.equal(await f.count('subgroups'), 4);
  });

  it('refuses to delete a workgroup that has subgroups, and leaves it whole', async () => {
    const op = await f.actor('olga');
    const auditBefore = await f.count('audit_log');
    await rejectsWith(f.service.deleteWorkgroup(op, 'physics'), 'CONFLICT', /workgroup 'physics' still has subgroups ('lasers', 'optics'|'optics', 'lasers'): remove them first/);
    const physics = await f.service.getWorkgroup(op, 'physics');
    assert.deepEqual(physics.subgroups, ['lasers', 'optics']);
    assert.deepEqual(physics.admins, ['walter']);
    assert.equal(await f.count('subgroups'), 4);
    assert.equal(await f.count('workgroup_admins'), 1);
    // The refused change left no "ok" entry behind.
    assert.equal(await f.count('audit_log'), auditBefore);
    // Emptied, it goes, with its admin grants.
    await f.service.deleteSubgroup(op, 'lasers');
    await f.service.updateUser(op, 'walter', { primarySubgroup: 'organic' });
    await f.service.updateUser(op, 'sam', { primarySubgroup: 'organic' });
    await f.service.updateUser(op, 'alice', { primarySubgroup: 'organic' });
    await f.service.deleteSubgroup(op, 'optics');
    await f.service.deleteWorkgroup(op, 'physics');
    await rejectsWith(f.service.getWorkgroup(op, 'physics'), 'NOT_FOUND');
    assert.equal(await f.count('workgroup_admins'), 0);
    assert.equal(await f.count('subgroup_admins'), 0);
  });

  it('refuses to delete a subgroup that is someone\'s primary; one with only extra members goes', async () => {
    const op = await f.actor('olga');
    await rejectsWith(f.service.deleteSubgroup(op, 'optics'), 'CONFLICT', /subgroup 'optics' is the primary subgroup of 'alice', 'sam', 'walter'/);
    assert.equal((await f.service.getSubgroup(op, 'optics')).admins.join(), 'sam');
    await f.service.setMembership(op, 'lasers', 'bob', true);
    await f.service.setSubgroupAdmin(op, 'lasers', 'alice', true);
    await f.service.deleteSubgroup(op, 'lasers');
    assert.deepEqual((await f.service.getUser(op, 'bob')).subgroups, []);
    assert.deepEqual((await f.service.getUser(op, 'alice')).roles, []);
    assert.equal(await f.count('memberships'), 0);
  });

  it('a subgroup admin manages members of their subgroup only; a primary subgroup cannot be left', async () => {
    const sam = await f.actor('sam');
    const added = await f.service.setMembership(sam, 'optics', 'bob', true);
    assert.deepEqual(added.extraMembers, ['bob']);
    await rejectsWith(f.service.setMembership(sam, 'lasers', 'bob', true), 'FORBIDDEN');
    await rejectsWith(f.service.setMembership(sam, 'optics', 'alice', false), 'CONFLICT', /primary subgroup of 'alice'/);
    await rejectsWith(f.service.setMembership(sam, 'optics', 'olga', false), 'NOT_FOUND');
    assert.deepEqual((await f.service.setMembership(sam, 'optics', 'bob', false)).extraMembers, []);
    // Non-admins see the subgroup but not who is in it (except themselves).
    const seenByBob = await f.service.getSubgroup(await f.actor('bob'), 'optics');
    assert.deepEqual(seenByBob.primaryMembers, []);
    const seenByAlice = await f.service.getSubgroup(await f.actor('alice'), 'optics');
    assert.deepEqual(seenByAlice.primaryMembers, ['alice']);
    assert.deepEqual((await f.service.getSubgroup(sam, 'optics')).primaryMembers, ['alice', 'sam', 'walter']);
  });

  it('moves need admin rights on both subgroups; a move into an extra subgroup drops that membership', async () => {
    const sam = await f.actor('sam');
    const walter = await f.actor('walter');
    await rejectsWith(f.service.updateUser(sam, 'alice', { primarySubgroup: 'lasers' }), 'FORBIDDEN', /move users into subgroup 'lasers'/);
    await rejectsWith(f.service.updateUser(walter, 'alice', { primarySubgroup: 'organic' }), 'FORBIDDEN');
    await f.service.setMembership(walter, 'lasers', 'alice', true);
    const moved = await f.service.updateUser(walter, 'alice', { primarySubgroup: 'lasers' });
    assert.equal(moved.primarySubgroup, 'lasers');
    assert.deepEqual(moved.subgroups, []);
  });

  it('users see themselves and those they administer; operator accounts are out of admins\' reach', async () => {
    const names = (users: User[]) => users.map((u) => u.name);
    assert.deepEqual(names(await f.service.listUsers(await f.actor('alice'))), ['alice']);
    assert.deepEqual(names(await f.service.listUsers(await f.actor('sam'))), ['alice', 'sam', 'walter']);
    assert.deepEqual(names(await f.service.listUsers(await f.actor('olga'))), ['alice', 'bob', 'olga', 'sam', 'walter']);
    assert.deepEqual(names(await f.service.listUsers(await f.actor('olga'), { workgroup: 'chem' })), ['bob']);
    await rejectsWith(f.service.getUser(await f.actor('alice'), 'bob'), 'FORBIDDEN', /you may not see user 'bob'/);
    // Put an operator into optics: optics' admins may no longer change them.
    await f.service.updateUser(SYSTEM_ACTOR, 'alice', { operator: true });
    await rejectsWith(f.service.updateUser(await f.actor('sam'), 'alice', { fullName: 'A' }), 'FORBIDDEN', /'alice' is an operator account/);
    await rejectsWith(f.service.updateUser(await f.actor('walter'), 'alice', { locked: true }), 'FORBIDDEN', /operator account/);
    await rejectsWith(f.service.deleteUser(await f.actor('walter'), 'alice'), 'FORBIDDEN', /operator account/);
  });

  it('nobody locks or deletes themselves, and the last operator stays', async () => {
    const op = await f.actor('olga');
    await rejectsWith(f.service.updateUser(op, 'olga', { locked: true }), 'FORBIDDEN', /your own account/);
    await rejectsWith(f.service.deleteUser(op, 'olga'), 'FORBIDDEN', /your own account/);
    await rejectsWith(f.service.updateUser(op, 'olga', { operator: false }), 'FORBIDDEN', /operator role from yourself/);
    await rejectsWith(f.service.deleteUser(SYSTEM_ACTOR, 'olga'), 'CONFLICT', /last unlocked operator/);
    assert.equal((await f.service.getUser(op, 'olga')).locked, false);
  });

  // ------------------------------------------------------------------ tickets

  it('login → authenticate → whoami', async () => {
    const login = await f.service.login('alice', PASSWORD, ADDRESS);
    assert.match(login.ticket, /^kst_[A-Za-z0-9_-]{40,}$/);
    assert.equal(login.user.name, 'alice');
    assert.deepEqual(login.times, { issuedAt: START, expiresAt: '2026-03-02T18:00:00.000Z', renewUntil: '2026-03-30T08:00:00.000Z' });
    // Only the hash of the ticket is stored.
    const stored = await f.db.kysely.selectFrom('tickets').select(['token_hash', 'address']).execute();
    assert.equal(stored.length, 1);
    assert.notEqual(stored[0]!.token_hash, login.ticket);
    assert.equal(stored[0]!.address, ADDRESS);

    const auth = await f.service.authenticate(login.ticket, '192.0.2.99');
    assert.equal(auth.actor.name, 'alice');
    assert.equal(auth.actor.isOperator, false);
    assert.equal(auth.actor.address, '192.0.2.99');
    const me = await f.service.whoami(auth);
    assert.equal(me.user.name, 'alice');
    assert.equal(me.user.primarySubgroup, 'optics');
    assert.deepEqual(me.ticket, login.times);

    const walter = await f.service.authenticate((await f.service.login('walter', PASSWORD, ADDRESS)).ticket, null);
    assert.equal(walter.actor.workgroupAdminOf.length, 1);
    assert.deepEqual((await f.service.whoami(walter)).user.roles, [{ role: 'workgroup-admin', workgroup: 'physics' }]);
    await rejectsWith(f.service.authenticate('kst_not-a-ticket', null), 'NOT_AUTHENTICATED', /not known/);
  });

  it('a ticket expires after 10 hours', async () => {
    const { ticket } = await f.service.login('alice', PASSWORD, ADDRESS);
    f.clock.advance(10 * HOUR - 1);
    assert.equal((await f.service.authenticate(ticket, null)).actor.name, 'alice');
    f.clock.advance(1);
    await rejectsWith(f.service.authenticate(ticket, null), 'TICKET_EXPIRED', /expired at 2026-03-02T18:00:00.000Z.*keisan login/);
    // ...and cannot be renewed any more: a new login is needed.
    const again = await f.service.login('alice', PASSWORD, ADDRESS);
    assert.equal((await f.service.authenticate(again.ticket, null)).actor.name, 'alice');
  });

  it('renewal extends a ticket up to 4 weeks, then it is refused', async () => {
    const { ticket, times } = await f.service.login('alice', PASSWORD, ADDRESS);
    let expiresAt = times.expiresAt;
    let renewals = 0;
    for (;;) {
      f.clock.advance(9 * HOUR);
      let auth: Authenticated;
      try {
        auth = await f.service.authenticate(ticket, null);
      } catch (error) {
        assert.ok(error instanceof KeisanError, String(error));
        assert.equal(error.code, 'TICKET_EXPIRED');
        break;
      }
      const renewed = await f.service.renew(auth);
      assert.ok(renewed.expiresAt > expiresAt || renewed.expiresAt === times.renewUntil, `renewal ${renewals} did not extend`);
      assert.ok(renewed.expiresAt <= times.renewUntil, `renewal ${renewals} passed the limit: ${renewed.expiresAt}`);
      assert.equal(renewed.renewUntil, times.renewUntil);
      expiresAt = renewed.expiresAt;
      renewals++;
      assert.ok(renewals < 100);
    }
    assert.equal(renewals, 74);
    assert.equal(expiresAt, '2026-03-30T08:00:00.000Z');
    assert.equal(f.clock.now().toISOString(), '2026-03-30T11:00:00.000Z');
  });

  it('a renewal that arrives just after the ticket ended is refused as expired', async () => {
    const { ticket } = await f.service.login('alice', PASSWORD, ADDRESS);
    const auth = await f.service.authenticate(ticket, null);
    f.clock.advance(10 * HOUR);
    await rejectsWith(f.service.renew(auth), 'TICKET_EXPIRED', /keisan login/);
  });

  it('logout revokes the ticket', async () => {
    const { ticket } = await f.service.login('alice', PASSWORD, ADDRESS);
    const other = await f.service.login('alice', PASSWORD, ADDRESS);
    const auth = await f.service.authenticate(ticket, ADDRESS);
    await f.service.logout(auth);
    await rejectsWith(f.service.authenticate(ticket, null), 'NOT_AUTHENTICATED', /revoked/);
    await rejectsWith(f.service.renew(auth), 'NOT_AUTHENTICATED', /revoked/);
    // Other sessions are not affected.
    assert.equal((await f.service.authenticate(other.ticket, null)).actor.name, 'alice');
    const [entry] = await f.audit({ action: 'auth.logout' });
    assert.equal(entry?.actor, 'alice');
    assert.equal(entry?.outcome, 'ok');
  });

  it('what authentication and reads keep in memory never outlives a change', async () => {
    const { ticket } = await f.service.login('alice', PASSWORD, ADDRESS);
    const sam = await f.actor('sam');
    // Used once: from now on the ticket and alice's record come from memory.
    const first = await f.service.authenticate(ticket, ADDRESS);
    assert.equal(first.actor.name, 'alice');
    assert.equal((await f.service.whoami(first)).user.email, null);
    await f.service.updateUser(sam, 'alice', { email: 'alice@example.org', fullName: 'Alice A.' });
    const again = await f.service.authenticate(ticket, ADDRESS);
    assert.equal((await f.service.whoami(again)).user.email, 'alice@example.org');
    assert.equal((await f.service.getUser(sam, 'alice')).fullName, 'Alice A.');
    // An admin role granted after the ticket was cached counts at once.
    await f.service.setWorkgroupAdmin(SYSTEM_ACTOR, 'physics', 'alice', true);
    assert.equal((await f.service.authenticate(ticket, ADDRESS)).actor.workgroupAdminOf.length, 1);
    // Expiry is judged on every request, not remembered.
    f.clock.advance(10 * 3_600_000);
    await rejectsWith(f.service.authenticate(ticket, ADDRESS), 'TICKET_EXPIRED');
    // A lock ends a cached session immediately.
    const fresh = await f.service.login('alice', PASSWORD, ADDRESS);
    await f.service.authenticate(fresh.ticket, ADDRESS);
    await f.service.updateUser(sam, 'alice', { locked: true });
    await rejectsWith(f.service.authenticate(fresh.ticket, ADDRESS), 'ACCOUNT_LOCKED');
  });

  it('a locked user cannot log in, and locking ends their sessions', async () => {
    const { ticket } = await f.service.login('alice', PASSWORD, ADDRESS);
    const sam = await f.actor('sam');
    const locked = await f.service.updateUser(sam, 'alice', { locked: true, lockReason: 'left the lab' });
    assert.equal(locked.locked, true);
    assert.equal(locked.lockReason, 'left the lab');
    await rejectsWith(f.service.authenticate(ticket, null), 'ACCOUNT_LOCKED', /account 'alice' is locked \(left the lab\)/);
    await rejectsWith(f.service.login('alice', PASSWORD, ADDRESS), 'ACCOUNT_LOCKED', /account 'alice' is locked \(left the lab\)/);
    // A wrong password for a locked account says nothing about the lock.
    await rejectsWith(f.service.login('alice', 'wrong password!', ADDRESS), 'BAD_CREDENTIALS');
    // A ticket that somehow survived the lock is refused too.
    const bob = await f.service.login('bob', PASSWORD, ADDRESS);
    await f.db.kysely.updateTable('users').set({ locked: 1 }).where('name', '=', 'bob').execute();
    await rejectsWith(f.service.authenticate(bob.ticket, null), 'ACCOUNT_LOCKED', /locked/);
    // Unlocked, alice logs in again; her lock reason is gone.
    const unlocked = await f.service.updateUser(sam, 'alice', { locked: false });
    assert.equal(unlocked.lockReason, null);
    // The session the lock ended stays ended.
    await rejectsWith(f.service.authenticate(ticket, null), 'NOT_AUTHENTICATED', /revoked/);
    assert.equal((await f.service.login('alice', PASSWORD, ADDRESS)).user.locked, false);
  });

  it('a wrong password or unknown user is BAD_CREDENTIALS; 5 failures rate-limit the name for 15 minutes', async () => {
    const unknown = await rejectsWith(f.service.login('nobody', PASSWORD, ADDRESS), 'BAD_CREDENTIALS');
    const wrong = await rejectsWith(f.service.login('alice', 'not the password', ADDRESS), 'BAD_CREDENTIALS');
    assert.equal(unknown.message, wrong.message, 'an unknown name must look like a wrong password');
    for (let i = 0; i < 4; i++) {
      f.clock.advance(1000);
      await rejectsWith(f.service.login('alice', `wrong ${i}`, ADDRESS), 'BAD_CREDENTIALS');
    }
    // Five failures: even the right password is refused now.
    const limited = await rejectsWith(f.service.login('alice', PASSWORD, ADDRESS), 'RATE_LIMITED', /too many failed logins for 'alice': try again in 14m56s/);
    assert.deepEqual(limited.details, { retryAfterSeconds: 896 });
    // Other users are not affected.
    assert.equal((await f.service.login('bob', PASSWORD, ADDRESS)).user.name, 'bob');
    f.clock.advance(896_000 - 1);
    await rejectsWith(f.service.login('alice', PASSWORD, ADDRESS), 'RATE_LIMITED');
    f.clock.advance(1);
    assert.equal((await f.service.login('alice', PASSWORD, ADDRESS)).user.name, 'alice');
    const failures = await f.audit({ action: 'auth.login', target: 'alice' });
    assert.equal(failures.filter((e) => e.outcome === 'failed').length, 5);
    assert.equal(failures.filter((e) => e.outcome === 'ok').length, 1);
  });

  it('changing one\'s own password needs the current one', async () => {
    const alice = await f.actor('alice');
    await rejectsWith(f.service.changeOwnPassword(alice, 'not it', 'a brand new password'), 'BAD_CREDENTIALS', /current password is wrong/);
    await f.service.changeOwnPassword(alice, PASSWORD, 'a brand new password');
    await rejectsWith(f.service.login('alice', PASSWORD, ADDRESS), 'BAD_CREDENTIALS');
    assert.equal((await f.service.login('alice', 'a brand new password', ADDRESS)).user.name, 'alice');
  });

  it('a password set by an admin ends the user\'s sessions', async () => {
    const { ticket } = await f.service.login('alice', PASSWORD, ADDRESS);
    await f.service.updateUser(await f.actor('sam'), 'alice', { password: 'set by the admin' });
    await rejectsWith(f.service.authenticate(ticket, null), 'NOT_AUTHENTICATED', /revoked/);
    assert.equal((await f.service.login('alice', 'set by the admin', ADDRESS)).user.name, 'alice');
  });

  // ------------------------------------------------------------------ audit

  it('writes an audit entry for every change and every refusal', async () => {
    const op = await f.actor('olga');
    const alice = await f.actor('alice');
    f.clock.set('2026-03-02T09:00:00.000Z');
    await f.service.createWorkgroup(op, { name: 'bio', description: 'Biology' });
    await rejectsWith(f.service.createWorkgroup(alice, { name: 'mine' }), 'FORBIDDEN');
    await rejectsWith(f.service.deleteUser(await f.actor('walter'), 'bob'), 'FORBIDDEN');
    await f.service.updateUser(op, 'bob', { fullName: 'Bob B', password: 'a new password!' });

    const entries = await f.audit();
    const created = entries.find((e) => e.action === 'workgroup.create' && e.target === 'bio');
    assert.ok(created);
    assert.equal(created.actor, 'olga');
    assert.equal(created.targetType, 'workgroup');
    assert.equal(created.outcome, 'ok');
    assert.equal(created.at, '2026-03-02T09:00:00.000Z');
    assert.equal(created.address, ADDRESS);
    assert.deepEqual(created.detail, { name: 'bio', description: 'Biology' });

    const denied = entries.find((e) => e.actor === 'alice' && e.action === 'workgroup.create');
    assert.ok(denied);
    assert.equal(denied.outcome, 'denied');
    assert.equal(denied.target, 'mine');
    assert.match(String(denied.detail.reason), /only an operator may create workgroups/);
    const deniedDelete = entries.find((e) => e.actor === 'walter' && e.action === 'user.delete');
    assert.equal(deniedDelete?.outcome, 'denied');
    assert.equal(deniedDelete?.target, 'bob');

    const updated = entries.find((e) => e.action === 'user.update' && e.target === 'bob');
    assert.ok(updated);
    // Never the password itself.
    assert.deepEqual(updated.detail, { fullName: 'Bob B', password: 'changed' });
    assert.ok(!JSON.stringify(entries).includes('a new password!'));
    assert.ok(!JSON.stringify(entries).includes(PASSWORD));

    // Newest first; filters by action prefix and outcome.
    assert.ok(entries[0]!.id > entries.at(-1)!.id);
    const userActions = await f.service.audit(op, { action: 'user.', limit: 1000 });
    assert.ok(userActions.length > 0 && userActions.every((e) => e.action.startsWith('user.')));
    const refusals = await f.service.audit(op, { outcome: 'denied' });
    assert.deepEqual(refusals.map((e) => e.actor).sort(), ['alice', 'walter']);
    // Reading the log is for operators, and a refused read is itself recorded.
    await rejectsWith(f.service.audit(alice, {}), 'FORBIDDEN', /only an operator may read the audit log/);
    assert.equal((await f.service.audit(op, { outcome: 'denied' })).length, 3);
  });

  // ------------------------------------------------------------------ declarative apply / export

  const DOCUMENT = {
    workgroups: [
      {
        name: 'bio',
        description: 'Biology',
        admins: ['gina'],
        subgroups: [{ name: 'genomics', description: 'Genomics lab', admins: ['hank'] }, { name: 'ecology' }],
      },
    ],
    users: [
      { name: 'gina', primarySubgroup: 'genomics', fullName: 'Gina G', email: 'gina@example.org', subgroups: ['ecology'] },
      { name: 'hank', primarySubgroup: 'genomics', uid: 42000, shell: '/bin/zsh' },
      { name: 'ivan', primarySubgroup: 'ecology', locked: true },
      { name: 'alice', primarySubgroup: 'optics', fullName: 'Alice A', subgroups: ['ecology'] },
    ],
    server: { port: 9999 },
  };

  it('apply makes the document true, once: a second apply changes nothing', async () => {
    const op = await f.actor('olga');
    const first = await f.service.apply(op, DOCUMENT, false);
    assert.equal(first.applied, true);
    assert.deepEqual(first.ignoredSections, ['server']);
    assert.deepEqual(first.changes.map((c) => c.op), [
      'create-workgroup',
      'create-subgroup',
      'create-subgroup',
      'create-user',
      'create-user',
      'create-user',
      'update-user',
      'add-member',
      'grant-workgroup-admin',
      'grant-subgroup-admin',
    ]);
    assert.deepEqual(first.unmentioned, { workgroups: ['admin', 'chem', 'physics'], subgroups: ['lasers', 'optics', 'organic', 'staff'], users: ['bob', 'olga', 'sam', 'walter'] });

    const gina = await f.service.getUser(op, 'gina');
    assert.equal(gina.fullName, 'Gina G');
    assert.deepEqual(gina.subgroups, ['ecology']);
    assert.deepEqual(gina.roles, [{ role: 'workgroup-admin', workgroup: 'bio' }]);
    assert.equal(gina.hasPassword, false, 'apply creates users without a password');
    const hank = await f.service.getUser(op, 'hank');
    assert.equal(hank.uid, 42000);
    assert.equal(hank.shell, '/bin/zsh');
    assert.deepEqual(hank.roles, [{ role: 'subgroup-admin', subgroup: 'genomics' }]);
    assert.equal((await f.service.getUser(op, 'ivan')).locked, true);
    const alice = await f.service.getUser(op, 'alice');
    assert.equal(alice.fullName, 'Alice A');
    assert.deepEqual(alice.subgroups, ['ecology']);
    assert.equal((await f.service.getSubgroup(op, 'genomics')).description, 'Genomics lab');

    const counts = async () => Promise.all((['workgroups', 'subgroups', 'users', 'memberships', 'workgroup_admins', 'subgroup_admins', 'audit_log'] as const).map((t) => f.count(t)));
    const after = await counts();
    const second = await f.service.apply(op, DOCUMENT, false);
    assert.deepEqual(second.changes, []);
    assert.equal(second.applied, false);
    assert.deepEqual(await counts(), after);
    // A changed description is the only change a third time.
    const third = await f.service.apply(op, { workgroups: [{ ...DOCUMENT.workgroups[0]!, description: 'Life sciences' }] }, false);
    assert.deepEqual(third.changes.map((c) => c.summary), ['~ workgroup bio: description → "Life sciences"']);
  });

  it('a dry run plans but writes nothing', async () => {
    const op = await f.actor('olga');
    const tables = ['workgroups', 'subgroups', 'users', 'memberships', 'workgroup_admins', 'subgroup_admins', 'tickets', 'audit_log'] as const;
    const before = await Promise.all(tables.map((t) => f.count(t)));
    const plan = await f.service.apply(op, DOCUMENT, true);
    assert.equal(plan.dryRun, true);
    assert.equal(plan.applied, false);
    assert.equal(plan.changes.length, 10);
    assert.ok(plan.changes.some((c) => c.summary === '+ user hank in subgroup genomics (uid 42000)'));
    assert.deepEqual(await Promise.all(tables.map((t) => f.count(t))), before);
    await rejectsWith(f.service.getWorkgroup(op, 'bio'), 'NOT_FOUND');
  });

  it('a document that cannot be applied writes nothing, whether refused by the plan or half-way through', async () => {
    const op = await f.actor('olga');
    const tables = ['workgroups', 'subgroups', 'users', 'memberships', 'workgroup_admins', 'subgroup_admins', 'audit_log'] as const;
    const before = await Promise.all(tables.map((t) => f.count(t)));

    const unknownSubgroup = { ...DOCUMENT, users: [...DOCUMENT.users, { name: 'zoe', primarySubgroup: 'nowhere' }] };
    await rejectsWith(f.service.apply(op, unknownSubgroup, false), 'INVALID_INPUT', /user 'zoe': subgroup 'nowhere' does not exist and is not declared/);
    await rejectsWith(f.service.apply(op, { workgroups: [{ name: 'Bad Name' }] }, false), 'INVALID_INPUT', /not a valid Unix name/);
    await rejectsWith(f.service.apply(op, { users: [{ name: 'x', primarySubgroup: 'optics', colour: 'red' }] }, false), 'INVALID_INPUT', /unknown field 'colour'/);
    await rejectsWith(f.service.apply(op, { users: [{ name: 'alice', primarySubgroup: 'optics', uid: 1234 }] }, false), 'INVALID_INPUT', /uids are not changed by apply/);
    assert.deepEqual(await Promise.all(tables.map((t) => f.count(t))), before);

    // The plan is fine, but the last user's uid belongs to alice: the whole apply is undone.
    const aliceUid = (await f.service.getUser(op, 'alice')).uid;
    const clash = { ...DOCUMENT, users: [...DOCUMENT.users, { name: 'zoe', primarySubgroup: 'ecology', uid: aliceUid }] };
    await rejectsWith(f.service.apply(op, clash, false), 'CONFLICT', new RegExp(`uid ${aliceUid} already belongs to user 'alice'`));
    assert.deepEqual(await Promise.all(tables.map((t) => f.count(t))), before);
    await rejectsWith(f.service.getWorkgroup(op, 'bio'), 'NOT_FOUND');
    assert.equal((await f.service.getUser(op, 'alice')).fullName, '');

    // And only operators apply.
    await rejectsWith(f.service.apply(await f.actor('walter'), DOCUMENT, true), 'FORBIDDEN', /only an operator may apply/);
  });

  it('export → apply on a fresh database reproduces the facility', async () => {
    const op = await f.actor('olga');
    await f.service.apply(op, DOCUMENT, false);
    await f.service.setMembership(op, 'lasers', 'bob', true);
    await f.service.updateUser(op, 'bob', { email: 'bob@example.org', home: '/data/bob' });
    const exported = await f.service.exportFacility(op, true);
    await rejectsWith(f.service.exportFacility(await f.actor('walter')), 'FORBIDDEN');

    const fresh = await database.open();
    try {
      const copy = new AccountsService(fresh.kysely, f.settings, new ManualClock('2026-04-01T00:00:00Z'));
      const result = await copy.apply(SYSTEM_ACTOR, { ...exported }, false);
      assert.equal(result.applied, true);
      const stable = (users: User[]) => users.map(({ createdAt: _c, updatedAt: _u, ...rest }) => rest);
      assert.deepEqual(stable(await copy.listUsers(SYSTEM_ACTOR)), stable(await f.service.listUsers(SYSTEM_ACTOR)));
      const groups = async (s: AccountsService) =>
        (await s.listSubgroups(SYSTEM_ACTOR)).map(({ createdAt: _c, updatedAt: _u, ...rest }) => rest);
      assert.deepEqual(await groups(copy), await groups(f.service));
      const workgroups = async (s: AccountsService) =>
        (await s.listWorkgroups(SYSTEM_ACTOR)).map(({ createdAt: _c, updatedAt: _u, ...rest }) => rest);
      assert.deepEqual(await workgroups(copy), await workgroups(f.service));
      assert.deepEqual(await copy.exportFacility(SYSTEM_ACTOR, true), exported);
      // Password hashes came along: the operator logs in on the copy with the same password.
      assert.equal((await copy.login('olga', PASSWORD, ADDRESS)).user.isOperator, true);
      // Applying the export to the original is a no-op.
      assert.deepEqual((await f.service.apply(op, { ...exported }, false)).changes, []);
    } finally {
      await fresh.dispose();
    }
  });

  it('export without password hashes leaves them out', async () => {
    const exported = await f.service.exportFacility(await f.actor('olga'));
    assert.equal(exported.users.length, 5);
    assert.ok(exported.users.every((u) => u.passwordHash === undefined));
    assert.ok(!JSON.stringify(exported).includes('$scrypt$'));
    const withHashes = await f.service.exportFacility(await f.actor('olga'), true);
    assert.ok(withHashes.users.every((u) => u.passwordHash?.startsWith('$scrypt$')));
  });

  // ------------------------------------------------------------------ bootstrap

  it('ensureOperator creates the first operator once', async () => {
    await f.db.dispose();
    f = await open();
    await f.service.createWorkgroup(SYSTEM_ACTOR, { name: 'admin' });
    await f.service.createSubgroup(SYSTEM_ACTOR, { workgroup: 'admin', name: 'staff' });
    const created = await f.service.ensureOperator('root', 'staff');
    assert.ok(created);
    assert.equal(created.name, 'root');
    assert.ok(created.password.length >= 16);
    const login = await f.service.login('root', created.password, ADDRESS);
    assert.equal(login.user.isOperator, true);
    assert.equal(login.user.primarySubgroup, 'staff');
    assert.equal(await f.service.ensureOperator('root', 'staff'), undefined);
    assert.equal(await f.service.ensureOperator('other', 'staff'), undefined);
    assert.equal(await f.count('users'), 1);
    assert.equal((await f.service.login('root', created.password, ADDRESS)).user.name, 'root');
  });

  it('ensureOperator promotes an existing user of that name, with a fresh password', async () => {
    await f.db.dispose();
    f = await open();
    await f.service.createWorkgroup(SYSTEM_ACTOR, { name: 'admin' });
    await f.service.createSubgroup(SYSTEM_ACTOR, { workgroup: 'admin', name: 'staff' });
    await f.service.createUser(SYSTEM_ACTOR, { name: 'root', primarySubgroup: 'staff', password: PASSWORD });
    await f.service.updateUser(SYSTEM_ACTOR, 'root', { locked: true });
    const created = await f.service.ensureOperator('root', 'staff');
    assert.ok(created);
    await rejectsWith(f.service.login('root', PASSWORD, ADDRESS), 'BAD_CREDENTIALS');
    const login = await f.service.login('root', created.password, ADDRESS);
    assert.equal(login.user.isOperator, true);
    assert.equal(login.user.locked, false);
    assert.equal(await f.count('users'), 1);
  });
});
