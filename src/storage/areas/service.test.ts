import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { readAudit } from '../../accounts/audit.ts';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import type { AccountChange } from '../../accounts/service.ts';
import { readNotifications } from '../../batch/store.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { ManualClock } from '../../lib/clock.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import type { AreasListing, AreaUsage, SyncReport, WriterChange } from './model.ts';
import { AREAS_SKIP_REASON, getfacl, runAs } from './testing.ts';

/**
 * User areas through the real API on a real filesystem: provisioning on account changes,
 * exact owners, modes and ACLs (getfacl) and what they mean (acting as other uids with
 * setpriv), library writers, reconcile, usage and soft-quota notices. Both databases.
 */

const PASSWORD = 'correct horse battery';
const START = '2026-03-02T08:00:00.000Z';
const DAY = 24 * 3_600_000;
const KiB = 1024;

const UID = { alice: 20001, bob: 20002, carol: 20003, dave: 20004, walter: 20005 } as const;
const GID = { physics: 6000, optics: 6001, lasers: 6002, chem: 6010, organic: 6011 } as const;

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);
const owner = (p: string) => [statSync(p).uid, statSync(p).gid];

function json<T>(response: LightMyRequestResponse, status = 200): T {
  assert.equal(response.statusCode, status, response.body);
  return JSON.parse(response.body) as T;
}

const suite = AREAS_SKIP_REASON && process.env.KEISAN_REQUIRE_SERVICES !== '1' ? { skip: AREAS_SKIP_REASON } : {};
if (AREAS_SKIP_REASON && process.env.KEISAN_REQUIRE_SERVICES === '1') throw new Error(`KEISAN_REQUIRE_SERVICES=1 but the user-area tests cannot run: ${AREAS_SKIP_REASON}`);

describeEachDatabase('user areas', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let clock: ManualClock;
  let scratch = '';
  let root = '';
  const tickets: Record<string, string> = {};
  const events: AccountChange[] = [];
  const p = (...parts: string[]) => path.join(root, ...parts);

  const send = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, who: string, payload?: unknown) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${tickets[who]}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  const login = async (name: string) => {
    tickets[name] = json<{ ticket: string }>(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: name, password: PASSWORD } })).ticket;
  };
  const idle = () => app.keisan.areas.idle();
  /** Acts as a user (their uid and primary gid, plus extra groups) and says whether the command succeeded. */
  const as = (user: keyof typeof UID, gid: number, command: string, args: string[], groups: number[] = []) => runAs(UID[user], gid, groups, command, args) === 0;

  before(async () => {
    if (AREAS_SKIP_REASON) return;
    db = await database.open();
    clock = new ManualClock(START);
    scratch = mkdtempSync(path.join(tmpdir(), 'keisan-areas-'));
    chmodSync(scratch, 0o755); // others must pass through to reach the areas
    root = path.join(scratch, 'areas');
    app = await buildApp({
      settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'),
      db,
      nodeSecret: 'areas-test-secret',
      clock,
      areas: {
        enabled: true,
        reason: null,
        root,
        ownership: { mode: 'root', uid: 0, gid: 0 },
        settings: { homeQuota: 1024 * KiB, groupQuota: 2048 * KiB, warnPercent: 90, usageInterval: 0, usageTimeLimit: 60_000 },
      },
    });
    app.keisan.accounts.onChange((change) => events.push(change));
    const s = app.keisan.accounts;
    await s.createWorkgroup(SYSTEM_ACTOR, { name: 'admin', gid: 5900 });
    await s.createSubgroup(SYSTEM_ACTOR, { workgroup: 'admin', name: 'staff', gid: 5901 });
    await s.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'staff', password: PASSWORD, operator: true, uid: 19999 });
    await login('olga');
  });

  after(async () => {
    await app?.close();
    await db?.dispose();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('provisions a home, group area and library as users, subgroups and workgroups are added through the API: exact owners, modes, ACLs', suite, async () => {
    json(await send('POST', '/api/workgroups', 'olga', { name: 'physics', gid: GID.physics }), 201);
    json(await send('POST', '/api/subgroups', 'olga', { workgroup: 'physics', name: 'optics', gid: GID.optics }), 201);
    json(await send('POST', '/api/subgroups', 'olga', { workgroup: 'physics', name: 'lasers', gid: GID.lasers }), 201);
    json(await send('POST', '/api/workgroups', 'olga', { name: 'chem', gid: GID.chem }), 201);
    json(await send('POST', '/api/subgroups', 'olga', { workgroup: 'chem', name: 'organic', gid: GID.organic }), 201);
    for (const [name, primarySubgroup] of [['alice', 'optics'], ['bob', 'optics'], ['carol', 'lasers'], ['dave', 'organic'], ['walter', 'optics']] as const) {
      json(await send('POST', '/api/users', 'olga', { name, primarySubgroup, uid: UID[name], password: PASSWORD }), 201);
    }
    json(await send('PUT', '/api/workgroups/physics/admins/walter', 'olga'));
    for (const name of ['alice', 'bob', 'dave', 'walter']) await login(name);
    await idle();
    assert.ok(events.some((e) => e.kind === 'user' && e.action === 'created' && e.name === 'alice'), 'the hook fired');

    // Parents: the server's, readable by all.
    for (const dir of [root, p('home'), p('group'), p('lib')]) {
      assert.deepEqual([mode(dir), ...owner(dir)], ['755', 0, 0], dir);
      assert.deepEqual(getfacl(dir), ['user::rwx', 'group::r-x', 'other::r-x'], dir);
    }
    assert.deepEqual([mode(p('group', 'physics')), ...owner(p('group', 'physics'))], ['755', 0, GID.physics]);

    // alice's home: hers, 0711; private/ hers alone, new files included; public/ everyone's to read.
    assert.deepEqual([mode(p('home', 'alice')), ...owner(p('home', 'alice'))], ['711', UID.alice, GID.optics]);
    assert.deepEqual(getfacl(p('home', 'alice')), ['user::rwx', 'group::--x', 'other::--x']);
    assert.deepEqual([mode(p('home', 'alice', 'private')), ...owner(p('home', 'alice', 'private'))], ['700', UID.alice, GID.optics]);
    assert.deepEqual(getfacl(p('home', 'alice', 'private')), ['user::rwx', 'group::---', 'other::---', 'default:user::rwx', 'default:group::---', 'default:other::---']);
    assert.deepEqual([mode(p('home', 'alice', 'public')), ...owner(p('home', 'alice', 'public'))], ['755', UID.alice, GID.optics]);
    assert.deepEqual(getfacl(p('home', 'alice', 'public')), ['user::rwx', 'group::r-x', 'other::r-x', 'default:user::rwx', 'default:group::r-x', 'default:other::r-x']);
    assert.deepEqual(owner(p('home', 'dave')), [UID.dave, GID.organic]);

    // The group area: setgid, the subgroup's, rwx for it (ACL and default ACL), nothing for others.
    const optics = p('group', 'physics', 'optics');
    assert.deepEqual([mode(optics), ...owner(optics)], ['2770', 0, GID.optics]);
    const groupAcl = ['user::rwx', 'group::rwx', `group:${GID.optics}:rwx`, 'mask::rwx', 'other::---'];
    assert.deepEqual(getfacl(optics), [...groupAcl, ...groupAcl.map((e) => `default:${e}`)]);

    // The library: readable by all; nobody designated yet.
    assert.deepEqual([mode(p('lib', 'physics')), ...owner(p('lib', 'physics'))], ['755', 0, GID.physics]);
    assert.deepEqual(getfacl(p('lib', 'physics')), ['user::rwx', 'group::r-x', 'other::r-x', 'default:user::rwx', 'default:group::r-x', 'default:other::r-x']);

    const mine = json<AreasListing>(await send('GET', '/api/areas', 'alice'));
    assert.deepEqual([mine.enabled, mine.root, mine.mode], [true, root, 'root']);
    assert.deepEqual(mine.areas.map((a) => [a.kind, a.name, a.path, a.exists, a.writable]), [
      ['home', 'alice', p('home', 'alice'), true, true],
      ['group', 'physics/optics', optics, true, true],
      ['library', 'physics', p('lib', 'physics'), true, false],
    ]);
    assert.equal(mine.areas[0]!.private, p('home', 'alice', 'private'));
    assert.match(mine.areas[0]!.access, /^private\/: only alice; public\/: everyone can read/);
  });

  it('by behaviour (setpriv as other uids): private/ only its owner, public/ everyone, the group area its members only', suite, () => {
    const home = p('home', 'alice');
    assert.ok(as('alice', GID.optics, 'touch', [path.join(home, 'private', 'secret')]));
    assert.ok(as('alice', GID.optics, 'touch', [path.join(home, 'public', 'notes')]));
    assert.ok(as('alice', GID.optics, 'mkdir', [path.join(home, 'public', 'talks')]));
    // Default ACLs, not the umask, decide: new private files are the owner's, new public ones readable.
    assert.equal(mode(path.join(home, 'private', 'secret')), '600');
    assert.equal(mode(path.join(home, 'public', 'notes')), '644');
    assert.equal(mode(path.join(home, 'public', 'talks')), '755');
    assert.ok(as('alice', GID.optics, 'cat', [path.join(home, 'private', 'secret')]));

    for (const [who, gid] of [['bob', GID.optics], ['dave', GID.organic]] as const) {
      assert.equal(as(who, gid, 'ls', [path.join(home, 'private')]), false, `${who} lists alice's private/`);
      assert.equal(as(who, gid, 'cat', [path.join(home, 'private', 'secret')]), false, `${who} reads alice's private file`);
      assert.equal(as(who, gid, 'ls', [home]), false, `${who} lists alice's home`);
      assert.equal(as(who, gid, 'touch', [path.join(home, 'public', 'mine')]), false, `${who} writes alice's public/`);
      assert.ok(as(who, gid, 'ls', [path.join(home, 'public')]), `${who} cannot list alice's public/`);
      assert.ok(as(who, gid, 'cat', [path.join(home, 'public', 'notes')]), `${who} cannot read alice's public file`);
      assert.ok(as(who, gid, 'ls', [path.join(home, 'public', 'talks')]), `${who} cannot list alice's public subdirectory`);
    }

    const optics = p('group', 'physics', 'optics');
    assert.ok(as('bob', GID.optics, 'touch', [path.join(optics, 'data')]), 'a member cannot write the group area');
    assert.deepEqual([...owner(path.join(optics, 'data')), mode(path.join(optics, 'data'))], [UID.bob, GID.optics, '660'], 'new files belong to the group (setgid) and are group-writable');
    assert.ok(as('alice', GID.optics, 'touch', [path.join(optics, 'data')]), "a member cannot change another member's file");
    assert.equal(as('carol', GID.lasers, 'ls', [optics]), false, 'another subgroup lists it');
    assert.equal(as('carol', GID.lasers, 'touch', [path.join(optics, 'carol')]), false, 'another subgroup writes it');
    assert.equal(as('dave', GID.organic, 'cat', [path.join(optics, 'data')]), false, 'another workgroup reads it');
    // Group membership is what counts: carol with optics among her groups may write.
    assert.ok(as('carol', GID.lasers, 'touch', [path.join(optics, 'carol')], [GID.optics]));
  });

  it('library: readable by all, writable only by designated writers; designating and removing reaches what is already there; admins only, audited', suite, async () => {
    const lib = p('lib', 'physics');
    const add = (who: string, workgroup: string, user: string) => send('POST', '/api/admin/areas/library-writers', who, { workgroup, user });
    const remove = (who: string, workgroup: string, user: string) => send('DELETE', `/api/admin/areas/library-writers/${workgroup}/${user}`, who);

    // Who may designate: physics' workgroup admin and operators; not users, not other workgroups.
    const refused = json<{ error: { message: string } }>(await add('bob', 'physics', 'bob'), 403);
    assert.match(refused.error.message, /needs an operator or an admin of workgroup 'physics'/);
    json(await add('walter', 'chem', 'walter'), 403);
    json(await add('walter', 'physics', 'nobody'), 404);
    json(await add('walter', 'nowhere', 'alice'), 404);
    json(await send('POST', '/api/admin/areas/library-writers', 'walter', { workgroup: 'physics', user: 'alice', extra: 1 }), 400);

    assert.equal(as('alice', GID.optics, 'touch', [path.join(lib, 'a')]), false, 'written before being designated');
    const added = json<WriterChange>(await add('walter', 'physics', 'alice'), 201);
    assert.deepEqual([added.applied, added.writer?.user, added.writer?.addedBy], [true, 'alice', 'walter']);
    json(await add('walter', 'physics', 'alice'), 409);
    assert.ok(as('alice', GID.optics, 'touch', [path.join(lib, 'a')]), 'a writer cannot write');
    assert.equal(as('bob', GID.optics, 'touch', [path.join(lib, 'b')]), false, 'a non-writer wrote');
    assert.ok(as('dave', GID.organic, 'cat', [path.join(lib, 'a')]), 'another workgroup cannot read the library');
    assert.ok(as('dave', GID.organic, 'ls', [lib]));
    assert.equal(mode(path.join(lib, 'a')), '664');

    // alice makes a subdirectory; bob, designated later, may write into it too (rights applied to what is there).
    assert.ok(as('alice', GID.optics, 'mkdir', [path.join(lib, 'alices')]));
    assert.ok(as('alice', GID.optics, 'touch', [path.join(lib, 'alices', 'f')]));
    assert.equal(as('bob', GID.optics, 'touch', [path.join(lib, 'alices', 'g')]), false);
    json(await add('olga', 'physics', 'bob'), 201);
    assert.ok(as('bob', GID.optics, 'touch', [path.join(lib, 'alices', 'g')]), 'bob cannot write a directory that existed before he was designated');
    assert.ok(as('bob', GID.optics, 'mkdir', [path.join(lib, 'bobs')]));
    assert.ok(as('alice', GID.optics, 'touch', [path.join(lib, 'bobs', 'x')]), "alice cannot write bob's new directory");

    const list = json<{ workgroup: string; user: string }[]>(await send('GET', '/api/admin/areas/library-writers?workgroup=physics', 'dave'));
    assert.deepEqual(list.map((w) => w.user), ['alice', 'bob']);

    // Removing alice takes her entries off everything in the library (what she owns stays hers).
    const removed = json<WriterChange>(await remove('walter', 'physics', 'alice'));
    assert.deepEqual([removed.applied, removed.writer], [true, null]);
    json(await remove('walter', 'physics', 'alice'), 404);
    assert.equal(as('alice', GID.optics, 'touch', [path.join(lib, 'c')]), false, 'a removed writer still writes the library');
    assert.equal(as('alice', GID.optics, 'touch', [path.join(lib, 'bobs', 'y')]), false, "a removed writer still writes bob's directory");
    assert.ok(!getfacl(path.join(lib, 'bobs')).some((e) => e.includes(`:${UID.alice}:`)), 'entries for alice are left below the library');
    assert.ok(as('alice', GID.optics, 'cat', [path.join(lib, 'a')]), 'a removed writer can no longer read');
    assert.deepEqual(getfacl(lib), [
      'user::rwx',
      `user:${UID.bob}:rwx`,
      'group::r-x',
      'mask::rwx',
      'other::r-x',
      'default:user::rwx',
      `default:user:${UID.bob}:rwx`,
      'default:group::r-x',
      'default:mask::rwx',
      'default:other::r-x',
    ]);

    const audit = await readAudit(db.kysely, { action: 'library.', limit: 100 });
    assert.deepEqual(audit.map((e) => [e.actor, e.action, e.target, e.outcome, e.detail.user ?? null]).reverse(), [
      ['bob', 'library.writer.add', 'physics', 'denied', null],
      ['walter', 'library.writer.add', 'chem', 'denied', null],
      ['walter', 'library.writer.add', 'physics', 'ok', 'alice'],
      ['olga', 'library.writer.add', 'physics', 'ok', 'bob'],
      ['walter', 'library.writer.remove', 'physics', 'ok', 'alice'],
    ]);
  });

  it('sync: creates what is missing, fixes drifted modes and ACLs, never deletes, reports what it leaves alone; idempotent', suite, async () => {
    // A removed user's home stays (the hook reconciles the libraries, so this comes before the drift).
    json(await send('DELETE', '/api/users/carol', 'olga'));
    await idle();
    assert.ok(existsSync(p('home', 'carol', 'private')));
    // Drift, the way it happens: a chmod, an ACL wiped, an entry added by hand, a parent opened up.
    chmodSync(p('home', 'alice', 'private'), 0o777);
    execFileSync('setfacl', ['-b', '-k', p('group', 'physics', 'optics')]);
    execFileSync('setfacl', ['-m', 'u:777:rwx', p('lib', 'physics')]);
    chmodSync(p('home'), 0o777);
    rmSync(p('home', 'dave', 'private'), { recursive: true }); // missing: created again
    // Left alone: a home now owned by someone else, a symlink where public/ should be, areas nobody owns.
    chownSync(p('home', 'walter'), UID.carol, GID.lasers);
    renameSync(p('home', 'bob', 'public'), p('home', 'bob', 'public.old'));
    const elsewhere = path.join(scratch, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, p('home', 'bob', 'public'));
    mkdirSync(p('home', 'ghost'));
    writeFileSync(p('home', 'ghost', 'thesis.tex'), 'data');

    json(await send('POST', '/api/admin/areas/sync', 'alice'), 403);
    const report = json<SyncReport>(await send('POST', '/api/admin/areas/sync', 'olga'));
    assert.deepEqual(report.created, [p('home', 'dave', 'private')]);
    const fixed = Object.fromEntries(report.fixed.map((f) => [path.relative(root, f.path), f.changes.join('; ')]));
    assert.deepEqual(Object.keys(fixed).sort(), ['group/physics/optics', 'home', 'home/alice/private', 'lib/physics']);
    assert.match(fixed.home!, /^mode 0777 → 0755$/);
    assert.equal(fixed['home/alice/private'], 'mode 0777 → 0700'); // without named entries the mode is the whole access ACL
    assert.match(fixed['group/physics/optics']!, /ACL user::rwx,group::rwx,other::--- → user::rwx,group::rwx,group:6001:rwx,mask::rwx,other::---,default:/);
    assert.deepEqual(report.libraries, [{ path: p('lib', 'physics'), granted: [], revoked: [777], entries: report.libraries[0]?.entries ?? -1, complete: true }]);
    assert.deepEqual(report.problems.map((x) => [path.relative(root, x.path), x.problem.replace(root, 'ROOT')]), [
      ['home/bob/public', 'ROOT/home/bob/public is a symbolic link, not a directory: left alone (move it away, then run keisan admin areas sync)'],
      ['home/walter', `ROOT/home/walter is owned by uid ${UID.carol}, not ${UID.walter}: left alone, since it may hold someone else's files (an operator decides: chown it, or move it away)`],
    ]);
    assert.deepEqual(report.leftInPlace.map((o) => path.relative(root, o.path)), ['home/carol', 'home/ghost']);
    assert.match(report.leftInPlace[0]!.reason, /no user 'carol' \(removed\?\): left in place with its data/);

    // Fixed for real, and nothing deleted or followed.
    assert.equal(mode(p('home', 'alice', 'private')), '700');
    assert.deepEqual(getfacl(p('group', 'physics', 'optics')).length, 10);
    assert.ok(!getfacl(p('lib', 'physics')).some((e) => e.includes(':777:')));
    assert.deepEqual([mode(p('home', 'dave', 'private')), ...owner(p('home', 'dave', 'private'))], ['700', UID.dave, GID.organic]);
    assert.deepEqual([mode(elsewhere), getfacl(elsewhere)], ['700', ['user::rwx', 'group::---', 'other::---']], 'the symlink was followed');
    assert.ok(lstatSync(p('home', 'bob', 'public')).isSymbolicLink());
    assert.deepEqual(owner(p('home', 'walter')), [UID.carol, GID.lasers]);
    for (const file of [['home', 'ghost', 'thesis.tex'], ['home', 'alice', 'private', 'secret'], ['group', 'physics', 'optics', 'data'], ['lib', 'physics', 'a'], ['lib', 'physics', 'alices', 'f']]) {
      assert.ok(existsSync(p(...file)), `${file.join('/')} was deleted`);
    }
    assert.ok(existsSync(p('home', 'carol', 'private')), "a removed user's home was deleted");
    assert.ok(existsSync(p('home', 'bob', 'public.old')));

    // Again: nothing to do but the same reports.
    const again = json<SyncReport>(await send('POST', '/api/admin/areas/sync', 'olga'));
    assert.deepEqual([again.created, again.fixed, again.libraries, again.problems.length, again.leftInPlace.length], [[], [], [], 2, 2]);
    const audit = await readAudit(db.kysely, { action: 'areas.sync', limit: 10 });
    assert.deepEqual(audit.map((e) => [e.actor, e.outcome]).reverse(), [['alice', 'denied'], ['olga', 'ok'], ['olga', 'ok']]);

    // Put things back for what follows.
    rmSync(p('home', 'bob', 'public'));
    renameSync(p('home', 'bob', 'public.old'), p('home', 'bob', 'public'));
    chownSync(p('home', 'walter'), UID.walter, GID.optics);
  });

  it('usage: measured with lstat, stored, shown to whom it concerns; over the soft quota a notice at most once a day', suite, async () => {
    json(await send('PUT', '/api/subgroups/optics/admins/bob', 'olga'));
    await idle();
    const big = path.join(root, 'home', 'alice', 'private', 'big');
    writeFileSync(big, Buffer.alloc(950 * KiB));
    symlinkSync('/usr', path.join(root, 'home', 'alice', 'public', 'usr-link')); // counted as a link, never followed
    writeFileSync(p('group', 'physics', 'optics', 'run.dat'), Buffer.alloc(1900 * KiB));
    writeFileSync(p('lib', 'physics', 'book.pdf'), Buffer.alloc(10 * KiB));

    json(await send('POST', '/api/admin/areas/usage', 'alice'), 403);
    const measured = json<AreaUsage[]>(await send('POST', '/api/admin/areas/usage', 'olga'));
    const byArea = new Map(measured.map((u) => [u.area, u]));
    const alice = byArea.get('home/alice')!;
    assert.ok(alice.bytes >= 950 * KiB && alice.bytes < 951 * KiB, String(alice.bytes));
    assert.deepEqual([alice.files, alice.complete, alice.quota, alice.percent, alice.over, alice.warnedAt], [4, true, 1024 * KiB, 92.8, true, START]);
    const optics = byArea.get('group/physics/optics')!;
    assert.deepEqual([optics.bytes, optics.over, optics.percent], [1900 * KiB, true, 92.8]);
    const library = byArea.get('lib/physics')!;
    assert.deepEqual([library.bytes, library.quota, library.over], [10 * KiB, null, false]);
    assert.equal(byArea.get('home/bob')?.over, false);

    const notices = async (user: string) => (await readNotifications(db.kysely, user, false, 100)).filter((n) => n.kind === 'area-quota');
    const aliceNotices = await notices('alice');
    assert.equal(aliceNotices.length, 1);
    assert.equal(aliceNotices[0]!.title, 'The home area of alice is at 92.8 % of its soft quota');
    assert.match(aliceNotices[0]!.body, /holds 950 KiB in 4 files, 92\.8 % of its 1\.0 MiB soft quota \(warning from 90 %\)/);
    // The group area: its subgroup admin and the workgroup admin.
    assert.deepEqual([(await notices('bob')).length, (await notices('walter')).length, (await notices('olga')).length], [1, 1, 0]);
    assert.match((await notices('bob'))[0]!.title, /^The group area physics\/optics is at 92\.8 % of its soft quota$/);

    clock.advance(DAY - 60_000);
    await login('olga');
    json<AreaUsage[]>(await send('POST', '/api/admin/areas/usage', 'olga'));
    assert.equal((await notices('alice')).length, 1, 'warned twice within a day');
    clock.advance(60_000);
    for (const name of ['olga', 'alice', 'walter']) await login(name); // tickets last 10 hours
    json<AreaUsage[]>(await send('POST', '/api/admin/areas/usage', 'olga'));
    assert.equal((await notices('alice')).length, 2, 'not warned again after a day while still over');

    // Who sees which usage: alice her own areas; walter (admin of physics) with all=true the workgroup's.
    const mine = json<AreaUsage[]>(await send('GET', '/api/areas/usage', 'alice'));
    assert.deepEqual(mine.map((u) => u.area), ['home/alice', 'group/physics/optics', 'lib/physics']);
    assert.deepEqual(json<AreaUsage[]>(await send('GET', '/api/areas/usage?all=true', 'alice')).map((u) => u.area), mine.map((u) => u.area));
    const walters = json<AreaUsage[]>(await send('GET', '/api/areas/usage?all=true', 'walter')).map((u) => u.area);
    assert.deepEqual(walters, ['home/alice', 'home/bob', 'home/walter', 'group/physics/lasers', 'group/physics/optics', 'lib/physics']);
    const everything = json<AreasListing>(await send('GET', '/api/areas?all=1', 'olga'));
    assert.ok(everything.areas.some((a) => a.name === 'dave') && everything.areas.some((a) => a.name === 'chem/organic'));
    assert.ok(!everything.areas.some((a) => a.name === 'carol'), 'a removed user still has an area');
  });

  it('account listeners hear of committed changes only, and of an apply only once it commits', suite, async () => {
    const heard: AccountChange[] = [];
    const stop = app.keisan.accounts.onChange((change) => heard.push(change));
    const s = app.keisan.accounts;
    await assert.rejects(s.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'optics' }), /already exists/);
    await assert.rejects(
      s.apply(SYSTEM_ACTOR, { workgroups: [{ name: 'bio', gid: 6100, subgroups: [{ name: 'cells', gid: 6101 }] }], users: [{ name: 'erin', primarySubgroup: 'cells', uid: UID.alice }] }, false),
      /uid 20001 already belongs/,
    );
    assert.deepEqual(heard, [], 'heard of a change that failed or rolled back');
    await s.apply(SYSTEM_ACTOR, { workgroups: [{ name: 'bio', gid: 6100, subgroups: [{ name: 'cells', gid: 6101 }] }], users: [{ name: 'erin', primarySubgroup: 'cells', uid: 20009 }] }, false);
    assert.deepEqual(heard, [
      { kind: 'workgroup', action: 'created', name: 'bio' },
      { kind: 'subgroup', action: 'created', name: 'cells' },
      { kind: 'user', action: 'created', name: 'erin' },
    ]);
    stop();
    await idle();
    assert.deepEqual([mode(p('home', 'erin')), ...owner(p('home', 'erin'))], ['711', 20009, 6101]);
    assert.deepEqual(owner(p('group', 'bio', 'cells')), [0, 6101]);
    assert.ok(existsSync(p('lib', 'bio')));
  });
});
