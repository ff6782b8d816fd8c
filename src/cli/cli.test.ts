import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { OPERATOR_PASSWORD_FILE } from '../server/facility.ts';
import { expectCode, runKeisan } from './testing.ts';
import { initTestDataDir } from '../server/testing.ts';
import { startServer, type RunningServer } from '../server/main.ts';

/**
 * The real `keisan` executable against a real server: the server runs in this process on a
 * free port, the CLI as a child process with its own KEISAN_HOME, as a user would run it.
 */

const keisan = runKeisan;

function parseJson<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    assert.fail(`not JSON:\n${text}`);
  }
}

interface UserJson {
  name: string;
  primarySubgroup: string;
  workgroup: string;
  locked: boolean;
  roles: { role: string }[];
}
interface WhoAmIJson {
  server: string;
  user: UserJson;
  ticket: { expiresAt: string; renewUntil: string };
}
interface AuditJson {
  actor: string;
  action: string;
  target: string;
  outcome: string;
}


describe('keisan CLI against a running server', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-cli-test-'));
  const data = path.join(scratch, 'data');
  const operatorHome = path.join(scratch, 'home-operator');
  const aliceHome = path.join(scratch, 'home-alice');
  const bobHome = path.join(scratch, 'home-bob');
  const ALICE_PASSWORD = 'correct horse battery staple';
  let server: RunningServer;
  let url: string;
  let operatorName: string;
  let operatorPassword: string;
  let bobPassword: string;

  /** The operator's stored ticket, to check the server's state directly. */
  const operatorApi = async (route: string): Promise<Response> => {
    const stored = parseJson<{ tickets: Record<string, { ticket: string }> }>(readFileSync(path.join(operatorHome, 'tickets.json'), 'utf8'));
    const ticket = stored.tickets[url]?.ticket;
    assert.ok(ticket, 'the operator holds a ticket');
    return fetch(new URL(route, url), { headers: { authorization: `Bearer ${ticket}` } });
  };

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data);
    server = await startServer({ dataDir: data, port: 0 });
    url = server.url;
    const [name, password] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    assert.ok(name && password, 'the server wrote the first operator password file');
    operatorName = name;
    operatorPassword = password;
  });

  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('logs the operator in with --password-stdin and keeps the ticket in a 0600 file in a 0700 directory', async () => {
    const run = expectCode(await keisan(operatorHome, ['login', operatorName, '--password-stdin', '--server', url], `${operatorPassword}\n`), 0);
    assert.match(run.stdout, new RegExp(`Logged in to ${url} as ${operatorName}\\.`));
    assert.match(run.stdout, /Ticket valid until \d{4}-\d\d-\d\d \d\d:\d\d/);
    assert.equal(run.stderr, '');
    assert.equal(statSync(path.join(operatorHome, 'tickets.json')).mode & 0o777, 0o600);
    assert.equal(statSync(operatorHome).mode & 0o777, 0o700);
    const stored = parseJson<{ defaultServer: string; tickets: Record<string, { user: string; ticket: string }> }>(
      readFileSync(path.join(operatorHome, 'tickets.json'), 'utf8'),
    );
    assert.equal(stored.defaultServer, url);
    assert.equal(stored.tickets[url]?.user, operatorName);
    assert.ok(stored.tickets[url]?.ticket);
  });

  it('refuses a wrong password with exit 1 and stores nothing', async () => {
    const home = path.join(scratch, 'home-wrong');
    const run = expectCode(await keisan(home, ['login', operatorName, '--password-stdin', '--server', url], 'not the password\n'), 1);
    assert.match(run.stderr, /^keisan: wrong user name or password/);
    assert.equal(run.stdout, '');
    assert.throws(() => statSync(path.join(home, 'tickets.json')), /ENOENT/);
  });

  it('whoami shows the operator as text and as JSON (the server remembered from login)', async () => {
    const [textRun, jsonRun] = await Promise.all([keisan(operatorHome, ['whoami']), keisan(operatorHome, ['whoami', '--json'])]);
    const text = expectCode(textRun, 0);
    assert.match(text.stdout, new RegExp(`^user\\s+${operatorName}`, 'm'));
    assert.match(text.stdout, new RegExp(`^server\\s+${url}$`, 'm'));
    assert.match(text.stdout, /^primary subgroup\s+staff \(workgroup central\)$/m);
    assert.match(text.stdout, /^roles\s+operator$/m);
    assert.match(text.stdout, /^ticket expires\s+\d{4}-\d\d-\d\d \d\d:\d\d$/m);

    const json = parseJson<WhoAmIJson>(expectCode(jsonRun, 0).stdout);
    assert.equal(json.server, url);
    assert.equal(json.user.name, operatorName);
    assert.equal(json.user.primarySubgroup, 'staff');
    assert.deepEqual(json.user.roles.map((r) => r.role), ['operator']);
    const expiresIn = new Date(json.ticket.expiresAt).getTime() - Date.now();
    assert.ok(expiresIn > 9.9 * 3_600_000 && expiresIn <= 10 * 3_600_000, `ticket expires in 10 h, not ${expiresIn} ms`);
  });

  it('the operator creates a workgroup, a subgroup and users (a generated password is shown once)', async () => {
    const wg = expectCode(await keisan(operatorHome, ['admin', 'workgroup', 'add', 'belle', '--description', 'Belle II experiment']), 0);
    assert.match(wg.stdout, /^Created workgroup belle \(gid \d+\)\.$/m);
    const sg = expectCode(await keisan(operatorHome, ['admin', 'subgroup', 'add', 'b-ana', '--workgroup', 'belle', '-d', 'Belle analysis']), 0);
    assert.match(sg.stdout, /^Created subgroup b-ana in workgroup belle \(gid \d+\)\.$/m);

    const [aliceRun, bobRun] = await Promise.all([
      keisan(operatorHome, ['admin', 'user', 'add', 'alice', '--subgroup', 'b-ana', '--full-name', 'Alice Smith', '--password-stdin'], `${ALICE_PASSWORD}\n`),
      keisan(operatorHome, ['admin', 'user', 'add', 'bob', '-s', 'b-ana']),
    ]);
    const alice = expectCode(aliceRun, 0);
    assert.match(alice.stdout, /^Created user alice \(uid \d+\) in subgroup b-ana\.$/m);
    assert.doesNotMatch(alice.stdout, /password/i, 'a password given on stdin is not shown');

    const bob = expectCode(bobRun, 0);
    assert.match(bob.stdout, /^Created user bob \(uid \d+\) in subgroup b-ana\.$/m);
    const shown = /^Initial password: (\S+)$/m.exec(bob.stdout);
    assert.ok(shown?.[1], `the generated password is shown:\n${bob.stdout}`);
    assert.match(bob.stdout, /shown only now/);
    bobPassword = shown[1];
  });

  it('done means: the new user logs in from another home and whoami --json shows user, primary subgroup and ticket expiry', async () => {
    const login = expectCode(await keisan(aliceHome, ['login', 'alice', '--password-stdin', '--server', url], ALICE_PASSWORD), 0);
    assert.match(login.stdout, /as alice\./);
    const me = parseJson<WhoAmIJson>(expectCode(await keisan(aliceHome, ['whoami', '--json']), 0).stdout);
    assert.equal(me.user.name, 'alice');
    assert.equal(me.user.primarySubgroup, 'b-ana');
    assert.equal(me.user.workgroup, 'belle');
    assert.deepEqual(me.user.roles, []);
    assert.ok(Date.parse(me.ticket.expiresAt) > Date.now(), 'the ticket expires in the future');
    assert.ok(Date.parse(me.ticket.renewUntil) > Date.parse(me.ticket.expiresAt));
    assert.equal(statSync(path.join(aliceHome, 'tickets.json')).mode & 0o777, 0o600);

    // The generated password works as well.
    expectCode(await keisan(bobHome, ['login', 'bob', '--password-stdin', '--server', url], `${bobPassword}\n`), 0);
  });

  it('a user trying an admin action fails with exit 1 and says only an operator may', async () => {
    const run = expectCode(await keisan(aliceHome, ['admin', 'workgroup', 'add', 'rogue']), 1);
    assert.match(run.stderr, /^keisan: .*only an operator may create workgroups/);
    assert.equal(run.stdout, '');
    const audit = expectCode(await keisan(aliceHome, ['admin', 'audit']), 1);
    assert.match(audit.stderr, /only an operator may read the audit log/);
    const workgroups = parseJson<{ name: string }[]>(await (await operatorApi('/api/workgroups')).text());
    assert.ok(!workgroups.some((w) => w.name === 'rogue'));
  });

  it('bad usage exits 2: a missing required option, an unknown option, an invalid name', async () => {
    const [missing, unknown, badName, badNameJson] = await Promise.all([
      keisan(operatorHome, ['admin', 'subgroup', 'add', 'b-sim']),
      keisan(operatorHome, ['whoami', '--bogus']),
      keisan(operatorHome, ['admin', 'workgroup', 'add', 'Bad Name']),
      keisan(operatorHome, ['admin', 'workgroup', 'add', 'Bad Name', '--json']),
    ]);
    assert.match(expectCode(missing, 2).stderr, /required option '-w, --workgroup <workgroup>' not specified/);
    assert.match(expectCode(unknown, 2).stderr, /unknown option '--bogus'/);
    assert.match(expectCode(badName, 2).stderr, /^keisan: .*workgroup name is not a valid Unix name/);
    assert.equal(badName.stdout, '');
    const error = parseJson<{ error: { code: string; message: string } }>(expectCode(badNameJson, 2).stderr);
    assert.equal(error.error.code, 'INVALID_INPUT');
    assert.match(error.error.message, /not a valid Unix name/);
    const workgroups = parseJson<{ name: string }[]>(await (await operatorApi('/api/workgroups')).text());
    assert.deepEqual(workgroups.map((w) => w.name).sort(), ['belle', 'central']);
  });

  it('help asked for exits 0; a bare command group shows its help on stderr and exits 2', async () => {
    const [bareGroup, helpCommand, helpFlag, version] = await Promise.all([
      keisan(operatorHome, ['admin']),
      keisan(operatorHome, ['help']),
      keisan(operatorHome, ['admin', 'user', '--help']),
      keisan(operatorHome, ['--version']),
    ]);
    assert.match(expectCode(bareGroup, 2).stderr, /^Usage: keisan admin \[options\] \[command\]/);
    assert.equal(bareGroup.stdout, '');
    assert.match(expectCode(helpCommand, 0).stdout, /^Usage: keisan \[options\] \[command\]/);
    assert.match(expectCode(helpFlag, 0).stdout, /^Usage: keisan admin user \[options\] \[command\][\s\S]*\badd \[options\] <name>/);
    assert.match(expectCode(version, 0).stdout, /^\d+\.\d+\.\d+/);
  });

  it('admin user list --json is a JSON array of the users; audit --since 1h --json shows what happened', async () => {
    const [list, auditRun] = await Promise.all([
      keisan(operatorHome, ['admin', 'user', 'list', '--json']),
      keisan(operatorHome, ['admin', 'audit', '--since', '1h', '--json']),
    ]);
    const users = parseJson<UserJson[]>(expectCode(list, 0).stdout);
    assert.ok(Array.isArray(users));
    assert.deepEqual(users.map((u) => u.name).sort(), [operatorName, 'alice', 'bob'].sort());
    assert.equal(users.find((u) => u.name === 'alice')?.primarySubgroup, 'b-ana');

    const audit = parseJson<AuditJson[]>(expectCode(auditRun, 0).stdout);
    assert.ok(Array.isArray(audit));
    const has = (actor: string, action: string, target: string, outcome: string) =>
      audit.some((e) => e.actor === actor && e.action === action && e.target === target && e.outcome === outcome);
    assert.ok(has(operatorName, 'workgroup.create', 'belle', 'ok'), 'the workgroup creation is audited');
    assert.ok(has(operatorName, 'user.create', 'bob', 'ok'), 'the user creation is audited');
    assert.ok(has('alice', 'auth.login', 'alice', 'ok'), "alice's login is audited");
    assert.ok(has('alice', 'workgroup.create', 'rogue', 'denied'), "alice's denied attempt is audited");
    assert.ok(audit.some((e) => e.action === 'auth.login' && e.outcome === 'failed'), 'the wrong password is audited');
  });

  it('apply --dry-run shows and changes nothing; apply makes the changes; a second apply has nothing to change', async () => {
    const file = path.join(scratch, 'facility.yaml');
    writeFileSync(
      file,
      stringify({
        tickets: { lifetime: '10h' },
        workgroups: [{ name: 'belle', description: 'Belle II experiment', subgroups: [{ name: 'b-sim', description: 'Belle simulation' }] }],
        users: [{ name: 'carol', primarySubgroup: 'b-sim', fullName: 'Carol Jones' }],
      }),
    );
    const dry = expectCode(await keisan(operatorHome, ['apply', file, '--dry-run']), 0);
    assert.match(dry.stdout, /^Would make 2 change\(s\):$/m);
    assert.match(dry.stdout, /^ {2}\+ subgroup b-sim in workgroup belle$/m);
    assert.match(dry.stdout, /^ {2}\+ user carol in subgroup b-sim$/m);
    assert.match(dry.stdout, /Dry run: nothing was changed/);
    assert.match(dry.stdout, /Kept, though the file does not mention them: .*workgroup central/);
    assert.match(dry.stdout, /Not applied \(read by the server at start\): tickets/);
    assert.equal((await operatorApi('/api/users/carol')).status, 404, 'a dry run creates nothing');

    const applied = expectCode(await keisan(operatorHome, ['apply', file]), 0);
    assert.match(applied.stdout, /^Made 2 change\(s\):$/m);
    assert.equal((await operatorApi('/api/users/carol')).status, 200);

    const again = expectCode(await keisan(operatorHome, ['apply', file]), 0);
    assert.match(again.stdout, /^Nothing to change: the facility already matches the file\.$/m);
  });

  it('export writes a file that apply accepts with nothing to change', async () => {
    const exported = expectCode(await keisan(operatorHome, ['export']), 0);
    assert.match(exported.stdout, /^# keisan export, /);
    const document = parse(exported.stdout) as { workgroups: { name: string }[]; users: { name: string }[] };
    assert.deepEqual(document.workgroups.map((w) => w.name).sort(), ['belle', 'central']);
    assert.deepEqual(document.users.map((u) => u.name).sort(), [operatorName, 'alice', 'bob', 'carol'].sort());
    assert.doesNotMatch(exported.stdout, /\$scrypt\$/, 'no password hashes unless asked');
    const file = path.join(scratch, 'export.yaml');
    writeFileSync(file, exported.stdout);
    const reapplied = expectCode(await keisan(operatorHome, ['apply', file]), 0);
    assert.match(reapplied.stdout, /^Nothing to change/m);
  });

  it('rm without --yes and without a terminal exits 2 and removes nothing', async () => {
    const run = expectCode(await keisan(operatorHome, ['admin', 'user', 'rm', 'carol']), 2);
    assert.match(run.stderr, /removing user 'carol' needs --yes when not run from a terminal/);
    assert.equal((await operatorApi('/api/users/carol')).status, 200, 'carol is still there');
    const removed = expectCode(await keisan(operatorHome, ['admin', 'user', 'rm', 'carol', '--yes']), 0);
    assert.match(removed.stdout, /^Removed user carol\.$/m);
    assert.equal((await operatorApi('/api/users/carol')).status, 404);
  });

  it('a locked user can no longer use their ticket, and logging in says the account is locked', async () => {
    const lock = expectCode(await keisan(operatorHome, ['admin', 'user', 'set', 'bob', '--lock', '--reason', 'left the lab']), 0);
    assert.match(lock.stdout, /^locked\s+yes \(left the lab\)$/m);
    const whoami = expectCode(await keisan(bobHome, ['whoami']), 1);
    // Locking revoked bob's sessions; the refusal says why: the account is locked.
    assert.match(whoami.stderr, /^keisan: account .bob. is locked \(left the lab\)/);
    const login = expectCode(await keisan(bobHome, ['login', 'bob', '--password-stdin'], bobPassword), 1);
    assert.match(login.stderr, /^keisan: account 'bob' is locked \(left the lab\): ask your group admin or an operator to unlock it/);
  });

  it('renew extends the ticket and updates the stored expiry', async () => {
    const before = parseJson<{ tickets: Record<string, { expiresAt: string }> }>(readFileSync(path.join(aliceHome, 'tickets.json'), 'utf8')).tickets[url];
    assert.ok(before);
    const text = expectCode(await keisan(aliceHome, ['renew']), 0);
    assert.match(text.stdout, /^Ticket renewed: valid until \d{4}-\d\d-\d\d \d\d:\d\d \(renewable until \d{4}-\d\d-\d\d \d\d:\d\d\)\.$/m);
    const json = parseJson<{ expiresAt: string; renewUntil: string }>(expectCode(await keisan(aliceHome, ['renew', '--json']), 0).stdout);
    assert.ok(Date.parse(json.expiresAt) > Date.parse(before.expiresAt), 'the ticket now expires later');
    const after = parseJson<{ tickets: Record<string, { expiresAt: string }> }>(readFileSync(path.join(aliceHome, 'tickets.json'), 'utf8')).tickets[url];
    assert.equal(after?.expiresAt, json.expiresAt);
    assert.equal(statSync(path.join(aliceHome, 'tickets.json')).mode & 0o777, 0o600);
  });

  it('logout forgets the ticket; whoami then says to run keisan login', async () => {
    const logout = expectCode(await keisan(aliceHome, ['logout']), 0);
    assert.match(logout.stdout, new RegExp(`^Logged out of ${url}\\.$`, 'm'));
    const stored = parseJson<{ tickets: Record<string, unknown> }>(readFileSync(path.join(aliceHome, 'tickets.json'), 'utf8'));
    assert.equal(stored.tickets[url], undefined);
    const whoami = expectCode(await keisan(aliceHome, ['whoami']), 1);
    assert.match(whoami.stderr, new RegExp(`^keisan: you are not logged in to ${url}: run \`keisan login\``));
    assert.equal(whoami.stdout, '');
  });

  it('an unreachable server fails with exit 1 and says it cannot reach it', async () => {
    const run = expectCode(await keisan(operatorHome, ['whoami', '--server', 'http://127.0.0.1:1']), 1);
    assert.match(run.stderr, /^keisan: cannot reach the Keisan server at http:\/\/127\.0\.0\.1:1 .*keisan up/);
    assert.equal(run.stdout, '');
  });
});
