import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { expectCode, runKeisan } from '../../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../../server/facility.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { initTestDataDir } from '../../server/testing.ts';
import { ldapPasswordHash } from './passwords.ts';
import type { LdapSyncResult } from './service.ts';
import { slapdSkip, startTestSlapd, type TestSlapd } from './testing.ts';

/** `keisan admin ldap …` and `keisan login` as an operator and a user run them, against a real keisan server and slapd. */
const SKIP = slapdSkip();
const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

if (SKIP && process.env.KEISAN_REQUIRE_SERVICES === '1') {
  describe('keisan admin ldap', () => {
    it('has what it needs', () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${SKIP}`);
    });
  });
}

describe('keisan admin ldap (CLI, real server, real slapd)', { skip: SKIP, timeout: 300_000 }, () => {
  let slapd: TestSlapd;
  let tmp: string;
  before(async () => {
    slapd = await startTestSlapd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-ldap-cli-'));
  });
  after(async () => {
    await slapd?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const ldap = (args: string[], input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(args[0]!, [...args.slice(1), '-x', '-H', slapd.url, '-D', slapd.adminDn, '-w', slapd.adminPassword], (error, stdout) => (error ? reject(error) : resolve(stdout)));
      child.stdin!.end(input ?? '');
    });

  it('publish: status, sync preview, --apply, and the directory down', async () => {
    const data = path.join(tmp, 'publish');
    const home = path.join(tmp, 'publish-home');
    fs.mkdirSync(data);
    fs.copyFileSync(slapd.adminPasswordFile, path.join(data, 'ldap.secret'));
    initTestDataDir(data, { accounts: { passwordHash: { cost: 1024 }, ldap: { mode: 'publish', url: slapd.url, baseDn: slapd.baseDn, bindDn: slapd.adminDn, bindPasswordFile: 'ldap.secret', retryInterval: '300ms', timeout: '2s' } } });
    const server: RunningServer = await startServer({ dataDir: data, port: 0 });
    try {
      const [name = '', password = ''] = fs.readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
      expectCode(await runKeisan(home, ['login', name, '--password-stdin', '--server', server.url], password), 0);
      // The operator made at init is in the directory, and binds with the password of operator.txt.
      const operatorDn = `uid=${name},ou=people,${slapd.baseDn}`;
      for (let i = 0; i < 100 && !(await run('ldapsearch', ['-x', '-LLL', '-H', slapd.url, '-b', `ou=people,${slapd.baseDn}`, `(uid=${name})`]).then((r) => r.stdout)).includes('uidNumber'); i++) await sleep(100);
      assert.equal((await run('ldapwhoami', ['-x', '-H', slapd.url, '-D', operatorDn, '-w', password])).stdout.trim(), `dn:${operatorDn}`);

      const status = expectCode(await runKeisan(home, ['admin', 'ldap', 'status']), 0).stdout;
      assert.match(status, /Mode: +publish \(ldap:\/\/127\.0\.0\.1:\d+, base dc=keisan,dc=test\)/);
      assert.match(status, /Directory: +answers/);
      assert.match(status, /Published: +in-sync/);
      assert.match(expectCode(await runKeisan(home, ['admin', 'ldap', 'sync']), 0).stdout, /The directory matches Keisan: nothing to change\./);

      await ldap(['ldapmodify'], `dn: ${operatorDn}\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/false\n`);
      const preview = expectCode(await runKeisan(home, ['admin', 'ldap', 'sync']), 0).stdout;
      assert.match(preview, /1 change to make in the directory — nothing changed; run with --apply to make it:/);
      assert.match(preview, new RegExp(`1\\. change ${operatorDn}: loginShell /bin/false → /bin/bash`));
      const json = JSON.parse(expectCode(await runKeisan(home, ['admin', 'ldap', 'sync', '--json']), 0).stdout) as LdapSyncResult;
      assert.deepEqual(json.changes.map((c) => c.op), ['modify']);
      const applied = expectCode(await runKeisan(home, ['admin', 'ldap', 'sync', '--apply']), 0).stdout;
      assert.match(applied, /Made 1 change in the directory:/);
      assert.match(applied, /Read again: nothing is left to change\./);

      await slapd.halt();
      try {
        const down = expectCode(await runKeisan(home, ['admin', 'ldap', 'status']), 0).stdout;
        assert.match(down, /Directory: +DOES NOT ANSWER/);
        const failed = expectCode(await runKeisan(home, ['admin', 'ldap', 'sync']), 1);
        assert.match(failed.stderr, /the LDAP directory at ldap:\/\/127\.0\.0\.1:\d+ cannot be used now/);
      } finally {
        await slapd.start();
      }
    } finally {
      await server.close();
    }
  });

  it('use: keisan login as a directory user; a wrong password is refused', async () => {
    await ldap(
      ['ldapadd'],
      [
        `dn: ou=staff,${slapd.baseDn}\nobjectClass: organizationalUnit\nou: staff\n`,
        `dn: ou=teams,${slapd.baseDn}\nobjectClass: organizationalUnit\nou: teams\n`,
        `dn: uid=gina,ou=staff,${slapd.baseDn}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: gina\ncn: Gina Example\nsn: Example\nuidNumber: 30001\ngidNumber: 8001\nhomeDirectory: /home/gina\nloginShell: /bin/bash\nuserPassword: ${ldapPasswordHash('gina directory password')}\n`,
        `dn: cn=physics,ou=teams,${slapd.baseDn}\nobjectClass: posixGroup\ncn: physics\ngidNumber: 8001\nmemberUid: gina\n`,
      ].join('\n'),
    );
    const data = path.join(tmp, 'use');
    const home = path.join(tmp, 'use-home');
    fs.mkdirSync(data);
    initTestDataDir(data, { accounts: { passwordHash: { cost: 1024 }, ldap: { mode: 'use', url: slapd.url, baseDn: slapd.baseDn, usersOu: 'ou=staff', groupsOu: 'ou=teams', groupMap: [{ group: `cn=physics,ou=teams,${slapd.baseDn}`, workgroup: 'phys', subgroup: 'phys-all' }] } } });
    const server: RunningServer = await startServer({ dataDir: data, port: 0 });
    try {
      const wrong = expectCode(await runKeisan(home, ['login', 'gina', '--password-stdin', '--server', server.url], 'not it'), 1);
      assert.match(wrong.stderr, /wrong user name or password/);
      const ok = expectCode(await runKeisan(home, ['login', 'gina', '--password-stdin', '--server', server.url], 'gina directory password'), 0);
      assert.match(ok.stdout, /Logged in to .* as gina\./);
      const me = expectCode(await runKeisan(home, ['whoami', '--json']), 0).stdout;
      const user = (JSON.parse(me) as { user: { uid: number; gid: number; primarySubgroup: string; workgroup: string } }).user;
      assert.deepEqual([user.uid, user.gid, user.primarySubgroup, user.workgroup], [30001, 8001, 'phys-all', 'phys']);
    } finally {
      await server.close();
    }
  });
});
