import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, runKeisan } from '../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../server/facility.ts';
import { startServer, type RunningServer } from '../server/main.ts';
import { initTestDataDir } from '../server/testing.ts';
import { uploadTag } from './commands.ts';

/** The real `keisan fs` commands against a real server, as users run them. */

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('keisan fs, end to end', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-fs-cli-'));
  const data = path.join(scratch, 'data');
  const home = { operator: path.join(scratch, 'op'), alice: path.join(scratch, 'alice'), bob: path.join(scratch, 'bob') };
  const PASSWORD = 'correct horse battery staple';
  let server: RunningServer;
  const keisan = (who: keyof typeof home, args: string[], stdin = '', env: Record<string, string> = {}) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      return runKeisan(home[who], args, stdin);
    } finally {
      for (const key of Object.keys(env)) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  };

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data, { storage: { disk: { fsync: false } } });
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    expectCode(await keisan('operator', ['login', name, '--password-stdin', '--server', server.url], password), 0);
    expectCode(await keisan('operator', ['admin', 'subgroup', 'add', 'ana', '--workgroup', 'central']), 0);
    for (const user of ['alice', 'bob'] as const) {
      expectCode(await keisan('operator', ['admin', 'user', 'add', user, '-s', 'ana', '--password-stdin'], PASSWORD), 0);
      expectCode(await keisan(user, ['login', user, '--password-stdin', '--server', server.url], PASSWORD), 0);
    }
  });

  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('put, ls, stat, get and cat: streamed, checked, relative to the subgroup directory', async () => {
    const local = path.join(scratch, 'results.bin');
    const bytes = randomBytes(5 * 1024 * 1024 + 123);
    writeFileSync(local, bytes);
    expectCode(await keisan('alice', ['fs', 'mkdir', '-p', 'run1/raw']), 0);
    const put = expectCode(await keisan('alice', ['fs', 'put', local, 'run1/', '--chunk-size', '1M']), 0);
    assert.match(put.stdout, /^Stored \/central\/ana\/run1\/results\.bin \(5\.0 MiB, generation 1, SHA-256 [0-9a-f]{16}…\) in .*\/s\n$/);
    assert.equal(put.stderr, '', 'no progress line without a terminal');

    const ls = expectCode(await keisan('alice', ['fs', 'ls', 'run1']), 0);
    assert.equal(ls.stdout, 'raw/\nresults.bin\n');
    const long = expectCode(await keisan('alice', ['fs', 'ls', '-l', '/central/ana/run1']), 0);
    assert.match(long.stdout, /^PERMS\s+OWNER\s+GROUP\s+SIZE\s+MODIFIED\s+WHERE\s+NAME\s*$/m);
    assert.match(long.stdout, /^-rw-c--\s+alice\s+ana\s+5\.0 MiB\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+disk\s+results\.bin$/m);
    assert.match(long.stdout, /^drwxcid\s+alice\s+ana\s+-\s+.*\s+-\s+raw\/\s*$/m);
    const statJson = JSON.parse(expectCode(await keisan('bob', ['fs', 'stat', '--json', '/central/ana/run1/results.bin']), 0).stdout) as { sha256: string; size: number; permissions: string };
    assert.deepEqual([statJson.sha256, statJson.size, statJson.permissions], [sha(bytes), bytes.length, 'r-----']);

    const copy = path.join(scratch, 'copy.bin');
    const got = expectCode(await keisan('bob', ['fs', 'get', '/central/ana/run1/results.bin', copy]), 0);
    assert.match(got.stdout, /^Wrote .*copy\.bin \(5\.0 MiB\) in .*; SHA-256 checked\n$/);
    assert.equal(sha(readFileSync(copy)), sha(bytes));
    assert.match(expectCode(await keisan('bob', ['fs', 'get', '/central/ana/run1/results.bin', copy]), 2).stderr, /copy\.bin exists: use --force to replace it/);
    const part = path.join(scratch, 'part.bin');
    const ranged = expectCode(await keisan('bob', ['fs', 'get', 'run1/results.bin', part, '--offset', '1K', '--length', '4096', '--json']), 0);
    assert.deepEqual(readFileSync(part), bytes.subarray(1024, 1024 + 4096));
    assert.equal((JSON.parse(ranged.stdout) as { range: string }).range, 'bytes=1024-5119');
    const notes = path.join(scratch, 'notes.txt');
    writeFileSync(notes, 'hello world\n');
    expectCode(await keisan('alice', ['fs', 'put', notes, 'run1/notes.txt']), 0);
    assert.equal(expectCode(await keisan('bob', ['fs', 'cat', 'run1/notes.txt', '--range', '-6']), 0).stdout, 'world\n');
    assert.equal(expectCode(await keisan('bob', ['fs', 'cat', 'run1/notes.txt', 'run1/notes.txt']), 0).stdout, 'hello world\nhello world\n');

    // Bad usage exits 2 with a message; a refusal exits 1.
    assert.match(expectCode(await keisan('alice', ['fs', 'put', path.join(scratch, 'missing'), 'x']), 2).stderr, /missing: no such local file/);
    assert.match(expectCode(await keisan('alice', ['fs', 'stat', '/central/../..']), 2).stderr, /would climb above the root/);
    assert.match(expectCode(await keisan('alice', ['fs', 'get', 'run1/none', '-']), 1).stderr, /^keisan: path '\/central\/ana\/run1\/none' does not exist$/m);
    assert.match(expectCode(await keisan('bob', ['fs', 'put', local, 'run1/raw/']), 1).stderr, /you may not create entries in \/central\/ana\/run1\/raw: that needs insert \(i\)/);
    assert.match(expectCode(await keisan('alice', ['fs', 'get', 'run1/results.bin', '-', '--range', '9-1']), 2).stderr, /the end comes before the start/);
  });

  it('put resumes an interrupted upload of the same file from where the server stands; --json for scripts', async () => {
    const local = path.join(scratch, 'resume.bin');
    const bytes = randomBytes(3 * 1024 * 1024);
    writeFileSync(local, bytes);
    const info = statSync(local);
    // An earlier run sent the first 1.5 MiB and died: its upload is on the server.
    const login = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: PASSWORD }) });
    const ticket = ((await login.json()) as { ticket: string }).ticket;
    const auth = { authorization: `Bearer ${ticket}` };
    const created = await fetch(`${server.url}/api/fs/uploads`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ path: '/central/ana/resume.bin', size: bytes.length, tag: uploadTag(local, bytes.length, info.mtimeMs) }),
    });
    const { id } = (await created.json()) as { id: string };
    const half = 1536 * 1024;
    const sent = await fetch(`${server.url}/api/fs/uploads/${id}?offset=0`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: bytes.subarray(0, half) });
    assert.equal(sent.status, 200);

    const put = expectCode(await keisan('alice', ['fs', 'put', '--json', local, '/central/ana/resume.bin']), 0);
    const result = JSON.parse(put.stdout) as { uploadId: string; resumedFrom: number; entry: { sha256: string; size: number } };
    assert.deepEqual([result.uploadId, result.resumedFrom, result.entry.sha256, result.entry.size], [id, half, sha(bytes), bytes.length]);
    // --new starts over; -n refuses to replace.
    const again = JSON.parse(expectCode(await keisan('alice', ['fs', 'put', '--json', '--new', local, '/central/ana/resume.bin']), 0).stdout) as { resumedFrom: number; entry: { generation: number } };
    assert.equal(again.resumedFrom, 0);
    assert.ok(again.entry.generation > 1);
    assert.match(expectCode(await keisan('alice', ['fs', 'put', '-n', local, '/central/ana/resume.bin']), 1).stderr, /exists already \(generation \d+, 3\.0 MiB\): it was not replaced/);
  });

  it('mkdir, mv, du, rm -r', async () => {
    expectCode(await keisan('alice', ['fs', 'mkdir', '-p', 'tree/a/b']), 0);
    const f = path.join(scratch, 'small.txt');
    writeFileSync(f, 'twelve bytes');
    expectCode(await keisan('alice', ['fs', 'put', f, 'tree/a/b/small.txt']), 0);
    assert.equal(expectCode(await keisan('alice', ['fs', 'mv', 'tree/a/b/small.txt', 'tree']), 0).stdout, 'Moved tree/a/b/small.txt to /central/ana/tree/small.txt\n');
    const du = expectCode(await keisan('alice', ['fs', 'du', 'tree']), 0);
    assert.match(du.stdout, /^12 B\s+1\s+12 B\s+\/central\/ana\/tree$/m);
    assert.match(expectCode(await keisan('alice', ['fs', 'rm', 'tree']), 1).stderr, /is not empty \(2 entries\): remove them first, or use rm -r/);
    assert.equal(expectCode(await keisan('alice', ['fs', 'rm', '-r', 'tree']), 0).stdout, 'Removed /central/ana/tree (1 files, 3 directories, 12 B)\n');
  });

  it('acl get, set (text, --add, --remove, initial ACLs) and edit in $EDITOR with a retry after a mistake', async () => {
    expectCode(await keisan('alice', ['fs', 'mkdir', 'shared']), 0);
    const got = expectCode(await keisan('alice', ['fs', 'acl', 'get', 'shared']), 0);
    assert.match(got.stdout, /^# path: \/central\/ana\/shared\n# owner: alice\n# group: ana\n# your permissions: rwxcid\nuser::rwxcid\ngroup::r-x---\nother::------\n/);
    assert.match(got.stdout, /^# initial ACL of new files \(--initial-file\)$/m);
    const added = expectCode(await keisan('alice', ['fs', 'acl', 'set', 'shared', '--add', 'user:bob:rwx-id']), 0);
    assert.match(added.stdout, /^user:bob:rwx-id$/m);
    expectCode(await keisan('bob', ['fs', 'mkdir', 'shared/bobs']), 0);
    assert.match(expectCode(await keisan('bob', ['fs', 'acl', 'set', 'shared', '--add', 'user:bob:rwxcid']), 1).stderr, /needs control \(c\), which its owner \(alice\) has/);
    assert.match(expectCode(await keisan('alice', ['fs', 'acl', 'set', 'shared', 'user::rwx,group::r-x,other::rq']), 2).stderr, /entry 3 \('other::rq'\): 'q' is not a permission/);
    assert.match(expectCode(await keisan('alice', ['fs', 'acl', 'set', 'shared', '--add', 'user:ghost:r']), 2).stderr, /user 'ghost' does not exist/);
    const initial = expectCode(await keisan('alice', ['fs', 'acl', 'set', 'shared', '--initial-file', 'user::rw-c--,group::rw----,other::------']), 0);
    assert.match(initial.stdout, /^# initial ACL of new files \(--initial-file\)\n# user::rw-c--\n# group::rw----\n# other::------$/m);
    const piped = expectCode(await keisan('alice', ['fs', 'acl', 'set', 'shared', '-'], 'user::rwxcid\n# a comment\ngroup::r-x\nother::---\nuser:bob:r-x\n'), 0);
    assert.match(piped.stdout, /^user:bob:r-x---$/m);
    expectCode(await keisan('alice', ['fs', 'acl', 'set', 'shared', '--remove', 'user:bob']), 0);

    // The editor: first a mistake, then a good ACL (it counts its runs in a file).
    const editor = path.join(scratch, 'editor.sh');
    const count = path.join(scratch, 'editor-runs');
    writeFileSync(count, '0');
    writeFileSync(
      editor,
      `#!/bin/sh\nn=$(cat ${count}); n=$((n+1)); echo $n > ${count}\n` +
        `if [ $n -eq 1 ]; then printf 'user::rwxcid\\ngroup::r-x\\nother::---\\nuser:bob:rz\\n' > "$1"; ` +
        `else grep -q '^# error: ' "$1" || exit 3; printf 'user::rwxcid\\ngroup::r-x\\nother::---\\nuser:bob:r-x\\n' > "$1"; fi\n`,
    );
    chmodSync(editor, 0o755);
    const edited = await keisan('alice', ['fs', 'acl', 'edit', 'shared'], 'y\n', { EDITOR: editor });
    expectCode(edited, 0);
    assert.match(edited.stderr, /^keisan: ACL, line 4, entry 4 \('user:bob:rz'\): 'z' is not a permission/m);
    assert.match(edited.stderr, /Edit again\? \[Y\/n\] y/);
    assert.match(edited.stdout, /^user:bob:r-x---$/m);
    assert.equal(readFileSync(count, 'utf8').trim(), '2');
    // Answering no leaves the ACL as it was.
    writeFileSync(count, '0');
    const refused = await keisan('alice', ['fs', 'acl', 'edit', 'shared'], 'n\n', { EDITOR: editor });
    assert.match(expectCode(refused, 2).stderr, /the ACL was not changed/);
    assert.match(expectCode(await keisan('alice', ['fs', 'acl', 'get', 'shared']), 0).stdout, /^user:bob:r-x---$/m);
  });
});
