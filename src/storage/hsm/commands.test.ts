import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, runKeisan } from '../../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../../server/facility.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { initTestDataDir } from '../../server/testing.ts';

/** The real `keisan` executable against a real server: keisan hsm …, keisan fs stage, keisan admin storage …. */
describe('keisan hsm / fs stage / admin storage, end to end', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-hsm-cli-'));
  const data = path.join(scratch, 'data');
  const home = path.join(scratch, 'op');
  let server: RunningServer;

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data, {
      storage: {
        disk: { fsync: false },
        classes: [{ name: 'default', migrationDelay: '1h' }],
        archive: { kind: 'dir', timeScale: 0, drives: 1, volumeCapacity: '64M' },
      },
    });
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    expectCode(await runKeisan(home, ['login', name, '--password-stdin', '--server', server.url], password), 0);
  });
  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('migrate, purge, stage back with --wait and stage-status; status, volumes, drives; classes; a quota refusal', { timeout: 120_000 }, async () => {
    const local = path.join(scratch, 'run1.dat');
    writeFileSync(local, randomBytes(300_000));
    expectCode(await runKeisan(home, ['fs', 'put', local, '/central/staff/run1.dat']), 0);
    assert.equal(expectCode(await runKeisan(home, ['hsm', 'migrate', '--now']), 0).stdout, 'Migrated 1 file(s), 293 KiB (1 archive copy in 1 batch(es)).\n');
    assert.match(expectCode(await runKeisan(home, ['hsm', 'purge', '--now', '--to', '0%']), 0).stdout, /^Purged 1 file\(s\), freed 293 KiB: the disk tier holds 0 B/);
    const waited = expectCode(await runKeisan(home, ['fs', 'stage', '/central/staff/run1.dat', '--wait']), 0);
    assert.match(waited.stdout, /^state\s+COMPLETED$/m);
    assert.match(waited.stdout, /^\/central\/staff\/run1\.dat\s+ON_DISK\s+293 KiB\s+100%\s+VOL000001/m);
    const id = /^request\s+(stg-[0-9a-f]+)$/m.exec(waited.stdout)?.[1];
    assert.ok(id, waited.stdout);
    const status = JSON.parse(expectCode(await runKeisan(home, ['fs', 'stage-status', id, '--json']), 0).stdout) as { state: string; files: Array<{ state: string }> };
    assert.equal(status.state, 'COMPLETED');
    const bad = expectCode(await runKeisan(home, ['fs', 'stage', '/central/staff/nope']), 2);
    assert.match(bad.stderr, /nothing was staged: 1 of 1 path\(s\) cannot be staged — \/central\/staff\/nope/);

    assert.match(expectCode(await runKeisan(home, ['hsm', 'status']), 0).stdout, /^on disk and archived\s+1 file\(s\), 293 KiB$/m);
    assert.match(expectCode(await runKeisan(home, ['hsm', 'volumes']), 0).stdout, /^VOL000001\s+central\.staff\s+1\s+filling/m);
    assert.match(expectCode(await runKeisan(home, ['hsm', 'drives']), 0).stdout, /^drive1\s+/m);
    assert.equal(expectCode(await runKeisan(home, ['hsm', 'repack', '--holes', '50%']), 0).stdout, 'No volume qualifies.\n');
    assert.match(expectCode(await runKeisan(home, ['hsm', 'repack']), 2).stderr, /name a VOLUME or give --holes PERCENT/);

    expectCode(await runKeisan(home, ['admin', 'storage', 'class', 'add', 'fast', '--migration-delay', '5m', '--copies', '2', '--workgroups', 'central']), 0);
    assert.match(expectCode(await runKeisan(home, ['admin', 'storage', 'class', 'list']), 0).stdout, /^fast\s+5m\s+2\s+85% → 70%\s+async\s+central\s*$/m);
    const wrong = expectCode(await runKeisan(home, ['admin', 'storage', 'class', 'set', 'fast', '--purge-low', '90%']), 2);
    assert.match(wrong.stderr, /purgeLow \(90%\) must be below purgeHigh \(85%\)/);

    expectCode(await runKeisan(home, ['admin', 'storage', 'family', 'set', 'central.staff', '--quota-warn', '100K', '--quota-limit', '200K']), 0);
    assert.match(expectCode(await runKeisan(home, ['admin', 'storage', 'family', 'list']), 0).stdout, /^central\.staff\s+\/central\/staff\s+293 KiB\s+1\s+100 KiB\s+200 KiB\s+refuse\s*$/m);
    const refused = expectCode(await runKeisan(home, ['fs', 'put', local, '/central/staff/run2.dat']), 1);
    assert.match(refused.stderr, /file family 'central\.staff' \(\/central\/staff\) has 293 KiB in the archive, at or over its limit of 200 KiB: new writes into \/central\/staff are refused/);
  });
});
