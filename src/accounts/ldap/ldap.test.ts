import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { readAudit } from '../audit.ts';
import { SYSTEM_ACTOR } from '../model.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase, TEST_DATABASES } from '../../db/testing.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import { responseError, responseJson, seedLab } from '../../server/testing.ts';
import { ldapPasswordHash } from './passwords.ts';
import type { LdapStatus, LdapSyncResult } from './service.ts';
import { nslcdSkip, runWithNslcd, slapdSkip, startTestSlapd, type TestSlapd } from './testing.ts';

/**
 * Publish and use against a real slapd (a throwaway one on a loopback port), checked with
 * OpenLDAP's own ldapsearch and ldapwhoami. Skipped without slapd/ldap-utils unless
 * KEISAN_REQUIRE_SERVICES=1, which makes it fail instead.
 */
const SKIP = slapdSkip();
const NSLCD_SKIP = SKIP ?? nslcdSkip();
const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

if (NSLCD_SKIP && process.env.KEISAN_REQUIRE_SERVICES === '1') {
  describe('LDAP against a real slapd', () => {
    it('has what it needs', () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${NSLCD_SKIP}`);
    });
  });
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('LDAP against a real slapd', { skip: SKIP, timeout: 300_000 }, () => {
  let slapd: TestSlapd;
  before(async () => {
    slapd = await startTestSlapd();
  });
  after(async () => {
    await slapd?.stop();
  });

  const ldapsearch = async (base: string, filter = '(objectClass=*)', attrs: string[] = []) =>
    (await run('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', slapd.url, '-D', slapd.adminDn, '-w', slapd.adminPassword, '-b', base, filter, ...attrs])).stdout;
  const whoami = async (dn: string, password: string): Promise<string> => {
    try {
      return (await run('ldapwhoami', ['-x', '-H', slapd.url, '-D', dn, '-w', password])).stdout.trim();
    } catch (error) {
      return `failed: ${(error as { stderr?: string }).stderr ?? String(error)}`;
    }
  };
  const ldapmodify = async (ldif: string, add = false) => {
    const child = execFile(add ? 'ldapadd' : 'ldapmodify', ['-x', '-H', slapd.url, '-D', slapd.adminDn, '-w', slapd.adminPassword]);
    const done = new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ldapmodify exited ${code}`)))));
    child.stdin!.end(ldif);
    await done;
  };
  const people = () => `ou=people,${slapd.baseDn}`;
  const groups = () => `ou=groups,${slapd.baseDn}`;

  describeEachDatabase('publish', (database) => {
    let db: Db & { dispose(): Promise<void> };
    let app: KeisanApp;
    beforeEach(async () => {
      db = await database.open();
      const settings = parseSettings(
        { accounts: { passwordHash: { cost: 1024 }, ldap: { mode: 'publish', url: slapd.url, baseDn: slapd.baseDn, bindDn: slapd.adminDn, bindPasswordFile: slapd.adminPasswordFile, retryInterval: '200ms', timeout: '2s' } } },
        'test',
      );
      app = await buildApp({ settings, db, nodeSecret: 'node-secret' });
      await seedLab(app.keisan.accounts);
    });
    afterEach(async () => {
      await app.close();
      await db.dispose();
    });
    const as = async (user: string) => {
      const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: `${user} password` } });
      const ticket = (login.json() as { ticket: string }).ticket;
      return (method: 'GET' | 'POST', url: string, payload?: object) => app.inject({ method, url, headers: { authorization: `Bearer ${ticket}` }, ...(payload ? { payload } : {}) });
    };
    const status = async () => responseJson<LdapStatus>(await (await as('olga'))('GET', '/api/admin/ldap/status'), 200);
    /** Keisan's seed is in the directory and nothing waits to be written (the sync at start ran before the seed). */
    const published = () =>
      eventually('the seed published', async () => ((await status()).state === 'in-sync' && (await ldapsearch(people(), '(uid=alice)')).includes('uidNumber') ? true : undefined));

    it('publishes users and groups on every change; a password set in Keisan binds in LDAP', async () => {
      const alice = await eventually('alice in the directory', async () => {
        const out = await ldapsearch(people(), '(uid=alice)');
        return out.includes('uidNumber:') ? out : undefined;
      });
      const user = await app.keisan.accounts.getUser(SYSTEM_ACTOR, 'alice');
      for (const line of ['objectClass: posixAccount', 'objectClass: inetOrgPerson', 'objectClass: shadowAccount', `uidNumber: ${user.uid}`, `gidNumber: ${user.gid}`, 'homeDirectory: /home/alice', 'loginShell: /bin/bash', 'userPassword:: ']) {
        assert.ok(alice.includes(line), `no '${line}' in\n${alice}`);
      }
      assert.ok(!alice.includes('alice password'), 'the password itself must never be in the directory');
      const labMl = await eventually('lab-ml with both members', async () => {
        const out = await ldapsearch(groups(), '(cn=lab-ml)');
        return out.includes('memberUid: olga') ? out : undefined;
      });
      assert.match(labMl, /objectClass: posixGroup/);
      assert.match(labMl, /memberUid: alice/);
      assert.match(await ldapsearch(groups(), '(cn=lab)'), /memberUid: alice/);

      const aliceDn = `uid=alice,${people()}`;
      assert.equal(await whoami(aliceDn, 'alice password'), `dn:${aliceDn}`);
      assert.match(await whoami(aliceDn, 'not her password'), /^failed: .*Invalid credentials/s);

      // passwd (own change), reset by an operator, lock, move, membership, delete: each reaches the directory.
      const aliceApi = await as('alice');
      const changed = await aliceApi('POST', '/api/auth/password', { current: 'alice password', new: 'a new secret 123' });
      assert.ok(changed.statusCode < 300, changed.body);
      await eventually('the new password binds', async () => ((await whoami(aliceDn, 'a new secret 123')) === `dn:${aliceDn}` ? true : undefined));
      assert.match(await whoami(aliceDn, 'alice password'), /^failed/);

      await app.keisan.accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-cv' });
      await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'lab-cv', password: 'bob password 1', shell: '/bin/zsh' });
      await app.keisan.accounts.setMembership(SYSTEM_ACTOR, 'lab-ml', 'bob', true);
      await eventually('bob and his groups', async () => {
        const out = await ldapsearch(groups(), '(cn=lab-ml)');
        return out.includes('memberUid: bob') ? true : undefined;
      });
      assert.match(await ldapsearch(people(), '(uid=bob)'), /loginShell: \/bin\/zsh/);
      assert.equal(await whoami(`uid=bob,${people()}`, 'bob password 1'), `dn:uid=bob,${people()}`);

      await app.keisan.accounts.updateUser(SYSTEM_ACTOR, 'bob', { locked: true, lockReason: 'left' });
      await eventually('a locked user cannot bind', async () => ((await whoami(`uid=bob,${people()}`, 'bob password 1')).startsWith('failed') ? true : undefined));
      await app.keisan.accounts.deleteUser(SYSTEM_ACTOR, 'bob');
      await eventually('bob removed', async () => ((await ldapsearch(people(), '(uid=bob)')).trim() === '' ? true : undefined));
      await eventually('bob out of lab-ml', async () => (!(await ldapsearch(groups(), '(cn=lab-ml)')).includes('bob') ? true : undefined));

      const current = await status();
      assert.equal(current.mode, 'publish');
      assert.equal(current.reachable, true);
      assert.equal(current.lastError, null);
    });

    it('sync shows the differences and --apply repairs them; operators only, audited', async () => {
      await published();
      // Someone edits the directory behind Keisan's back, under and outside Keisan's OUs.
      await ldapmodify(`dn: uid=alice,${people()}\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/sh\n`);
      await ldapmodify(`dn: uid=mallory,${people()}\nobjectClass: account\nuid: mallory\n\ndn: ou=devices,${slapd.baseDn}\nobjectClass: organizationalUnit\nou: devices\n`, true);
      const olga = await as('olga');
      const alice = await as('alice');
      responseError(await alice('GET', '/api/admin/ldap/sync'), 403, /only an operator may see the LDAP sync plan/);
      responseError(await alice('POST', '/api/admin/ldap/sync', { apply: true }), 403, /only an operator may apply the LDAP sync/);
      const plan = responseJson<LdapSyncResult>(await olga('GET', '/api/admin/ldap/sync'), 200);
      assert.deepEqual(plan.changes.map((c) => c.summary), [`remove uid=mallory,${people()}`, `change uid=alice,${people()}: loginShell /bin/sh → /bin/bash`]);
      assert.match(await ldapsearch(people(), '(uid=alice)', ['loginShell']), /loginShell: \/bin\/sh/, 'the preview changed nothing');
      const result = responseJson<LdapSyncResult>(await olga('POST', '/api/admin/ldap/sync', { apply: true }), 200);
      assert.equal(result.applied, true);
      assert.deepEqual(result.remaining, []);
      assert.match(await ldapsearch(people(), '(uid=alice)', ['loginShell']), /loginShell: \/bin\/bash/);
      assert.equal((await ldapsearch(people(), '(uid=mallory)')).trim(), '');
      assert.match(await ldapsearch(`ou=devices,${slapd.baseDn}`, '(objectClass=*)'), /ou: devices/, 'outside Keisan\'s OUs nothing is touched');
      await ldapmodify(`dn: ou=devices,${slapd.baseDn}\nchangetype: delete\n`);
      const audit = await readAudit(db.kysely, { action: 'ldap.sync' });
      assert.ok(audit.some((e) => e.actor === 'olga' && e.outcome === 'ok'), JSON.stringify(audit));
      assert.ok(audit.some((e) => e.actor === 'alice' && e.outcome === 'denied'));
    });

    it('with the directory down Keisan changes still succeed, are kept, reported, and published when it is back', async () => {
      await published();
      await slapd.halt();
      try {
        const created = await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'carol', primarySubgroup: 'lab-ml', password: 'carol password' });
        assert.equal(created.user.name, 'carol');
        const down = await eventually('the failure in the status', async () => {
          const s = await status();
          return s.state === 'failing' ? s : undefined;
        });
        assert.equal(down.reachable, false);
        assert.equal(down.pending, true);
        assert.match(down.lastError ?? '', /cannot be used now/);
        responseError(await (await as('olga'))('GET', '/api/admin/ldap/sync'), 503, /the LDAP directory at ldap:\/\/127\.0\.0\.1:\d+ cannot be used now .*check that it runs/);
      } finally {
        await slapd.start();
      }
      await eventually('carol published after the retry', async () => ((await ldapsearch(people(), '(uid=carol)')).includes('uidNumber') ? true : undefined));
      assert.equal(await whoami(`uid=carol,${people()}`, 'carol password'), `dn:uid=carol,${people()}`);
      const back = await eventually('in sync again', async () => {
        const s = await status();
        return s.state === 'in-sync' ? s : undefined;
      });
      assert.equal(back.lastError, null);
      // Leave the directory without Keisan's users of this database for the next run.
      await app.keisan.accounts.deleteUser(SYSTEM_ACTOR, 'carol');
    });
  });

  describeEachDatabase('use', (database) => {
    let db: Db & { dispose(): Promise<void> };
    let app: KeisanApp;
    const site = { people: () => `ou=site-people,${slapd.baseDn}`, groups: () => `ou=site-groups,${slapd.baseDn}` };
    before(async () => {
      const person = (uid: string, uidNumber: number, gidNumber: number, password: string) =>
        `dn: uid=${uid},${site.people()}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: ${uid}\ncn: ${uid[0]!.toUpperCase()}${uid.slice(1)} Example\nsn: Example\nmail: ${uid}@site.example\nuidNumber: ${uidNumber}\ngidNumber: ${gidNumber}\nhomeDirectory: /home/${uid}\nloginShell: /bin/bash\nuserPassword: ${ldapPasswordHash(password)}\n`;
      const group = (cn: string, gid: number, members: string[]) => `dn: cn=${cn},${site.groups()}\nobjectClass: posixGroup\ncn: ${cn}\ngidNumber: ${gid}\n${members.map((m) => `memberUid: ${m}\n`).join('')}`;
      await ldapmodify(
        [
          `dn: ${site.people()}\nobjectClass: organizationalUnit\nou: site-people\n`,
          `dn: ${site.groups()}\nobjectClass: organizationalUnit\nou: site-groups\n`,
          person('dana', 20001, 7002, 'dana site password'),
          person('erin', 20002, 7001, 'erin site password'),
          person('fred', 20003, 7009, 'fred site password'),
          group('ml', 7001, ['dana', 'erin']),
          group('cv', 7002, []),
          group('other', 7009, ['fred']),
        ].join('\n'),
        true,
      ).catch((error: unknown) => {
        // The second database's run finds them there already.
        if (!/exited 68/.test(String(error))) throw error;
      });
    });
    beforeEach(async () => {
      db = await database.open();
      const settings = parseSettings(
        {
          accounts: {
            passwordHash: { cost: 1024 },
            ldap: {
              mode: 'use',
              url: slapd.url,
              baseDn: slapd.baseDn,
              usersOu: 'ou=site-people',
              groupsOu: 'ou=site-groups',
              timeout: '2s',
              groupMap: [
                { group: `cn=ml,${site.groups()}`, workgroup: 'lab', subgroup: 'lab-ml' },
                { group: `cn=cv,${site.groups()}`, workgroup: 'lab', subgroup: 'lab-cv' },
              ],
            },
          },
        },
        'test',
      );
      app = await buildApp({ settings, db, nodeSecret: 'node-secret' });
      await seedLab(app.keisan.accounts);
    });
    afterEach(async () => {
      await app.close();
      await db.dispose();
    });
    const login = (user: string, password: string) => app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password } });

    it('keisan login binds as the directory user, creates them in Keisan with the mapped subgroups; wrong password 401', async () => {
      const ok = responseJson<{ user: { name: string; uid: number; primarySubgroup: string; subgroups: string[]; fullName: string; email: string; gid: number } }>(await login('dana', 'dana site password'), 200);
      assert.deepEqual([ok.user.name, ok.user.uid, ok.user.primarySubgroup, ok.user.subgroups, ok.user.fullName, ok.user.email], ['dana', 20001, 'lab-cv', ['lab-ml'], 'Dana Example', 'dana@site.example']);
      assert.equal(ok.user.gid, 7002, 'a subgroup made from a directory group takes its gidNumber');
      const wrong = responseError(await login('dana', 'not the password'), 401, /wrong user name or password/);
      const unknown = responseError(await login('nobody-here', 'whatever password'), 401, /wrong user name or password/);
      assert.equal(wrong, unknown, 'a wrong password looks like today\'s 401');
      // Her password lives in the directory: keisan passwd says where to change it.
      const danaTicket = responseJson<{ ticket: string }>(await login('dana', 'dana site password'), 200).ticket;
      const passwd = await app.inject({ method: 'POST', url: '/api/auth/password', headers: { authorization: `Bearer ${danaTicket}` }, payload: { current: 'dana site password', new: 'another password 1' } });
      responseError(passwd, 403, /your password is kept in the site's LDAP directory .*change it there/);
      // A local account the directory does not know (the operator of keisan init) keeps its own password.
      assert.equal((await login('olga', 'olga password')).statusCode, 200);
      // Groups with no rule: refused with what to do.
      responseError(await login('fred', 'fred site password'), 403, /none of your directory groups is mapped .*accounts\.ldap\.groupMap/);
    });

    it('sync shows the users to import and --apply imports them; directory down → 503', async () => {
      const olgaTicket = (responseJson<{ ticket: string }>(await login('olga', 'olga password'), 200)).ticket;
      const olga = (method: 'GET' | 'POST', url: string, payload?: object) => app.inject({ method, url, headers: { authorization: `Bearer ${olgaTicket}` }, ...(payload ? { payload } : {}) });
      const plan = responseJson<LdapSyncResult>(await olga('GET', '/api/admin/ldap/sync'), 200);
      assert.equal(plan.mode, 'use');
      assert.deepEqual(plan.changes.map((c) => c.summary), ['create user dana (uid 20001) in subgroup lab-cv and lab-ml', 'create user erin (uid 20002) in subgroup lab-ml']);
      const applied = responseJson<LdapSyncResult>(await olga('POST', '/api/admin/ldap/sync', { apply: true }), 200);
      assert.equal(applied.changes.length, 2);
      assert.deepEqual(applied.remaining, []);
      assert.equal((await app.keisan.accounts.getUser(SYSTEM_ACTOR, 'erin')).uid, 20002);
      const status = responseJson<LdapStatus>(await olga('GET', '/api/admin/ldap/status'), 200);
      assert.deepEqual([status.mode, status.reachable], ['use', true]);

      await slapd.halt();
      try {
        responseError(await login('dana', 'dana site password'), 503, /the LDAP directory at .* cannot be used now .*try again/);
        assert.equal((await login('olga', 'olga password')).statusCode, 200, 'a local account still logs in while the directory is down');
        responseError(await olga('GET', '/api/admin/ldap/sync'), 503, /cannot be used now/);
        assert.equal(responseJson<LdapStatus>(await olga('GET', '/api/admin/ldap/status'), 200).reachable, false);
      } finally {
        await slapd.start();
      }
      assert.equal((await login('dana', 'dana site password')).statusCode, 200);
    });
  });
  describe('a Keisan user on the machine through nslcd', { skip: NSLCD_SKIP }, () => {
    let db: Db & { dispose(): Promise<void> };
    let app: KeisanApp;
    before(async () => {
      db = await TEST_DATABASES[0]!.open();
      const settings = parseSettings(
        { accounts: { passwordHash: { cost: 1024 }, ldap: { mode: 'publish', url: slapd.url, baseDn: slapd.baseDn, bindDn: slapd.adminDn, bindPasswordFile: slapd.adminPasswordFile, retryInterval: '200ms' } } },
        'test',
      );
      app = await buildApp({ settings, db, nodeSecret: 'node-secret' });
      await seedLab(app.keisan.accounts);
      await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'nina', primarySubgroup: 'lab-ml', fullName: 'Nina Nslcd', uid: 43210, password: 'nina password', shell: '/bin/sh', home: '/tmp' });
    });
    after(async () => {
      await app?.close();
      await db?.dispose();
    });

    it('getent passwd and group resolve her, and a job runs as her uid with her groups', async () => {
      await eventually('nina published', async () => ((await ldapsearch(`ou=people,${slapd.baseDn}`, '(uid=nina)')).includes('uidNumber: 43210') ? true : undefined));
      await eventually('lab-ml lists nina', async () => ((await ldapsearch(`ou=groups,${slapd.baseDn}`, '(cn=lab-ml)')).includes('memberUid: nina') ? true : undefined));
      const gid = (await app.keisan.accounts.getUser(SYSTEM_ACTOR, 'nina')).gid;
      // nina is not in this machine's /etc/passwd: every answer below came from the directory through nslcd.
      assert.equal((await run('getent', ['passwd', 'nina']).catch(() => ({ stdout: '' }))).stdout, '', 'nina must not resolve outside the namespace');
      const result = await runWithNslcd(
        slapd,
        [
          'getent passwd nina',
          'getent group lab-ml',
          'id nina',
          "runuser -u nina -- sh -c 'echo job: $(id -un) $(id -u) $(id -gn) $(id -Gn) in $PWD'",
          // A login shell (runuser -l: her shell and home from the directory, PAM session as for a login).
          "runuser -l nina -c 'echo login: $(id -un) shell $SHELL home $HOME in $PWD'",
        ].join('\n'),
      );
      assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      const lines = result.stdout.trim().split('\n');
      assert.equal(lines[0], `nina:*:43210:${gid}:Nina Nslcd:/tmp:/bin/sh`);
      const [groupName, , groupGid, members = ''] = lines[1]!.split(':');
      assert.deepEqual([groupName, Number(groupGid), members.split(',').sort()], ['lab-ml', gid, ['alice', 'nina', 'olga']]);
      assert.match(lines[2]!, new RegExp(`^uid=43210\\(nina\\) gid=${gid}\\(lab-ml\\) groups=.*${gid}\\(lab-ml\\).*\\(lab\\)`));
      assert.match(lines[3]!, /^job: nina 43210 lab-ml .*lab-ml.* in /);
      assert.equal(lines[4], 'login: nina shell /bin/sh home /tmp in /tmp');
      assert.equal((await run('getent', ['passwd', 'nina']).catch(() => ({ stdout: '' }))).stdout, '', 'the machine outside the namespace is as it was');
    });
  });
});
