import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { expectCode, runKeisan } from '../../cli/testing.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { OPERATOR_PASSWORD_FILE } from '../../server/facility.ts';
import { initTestDataDir } from '../../server/testing.ts';
import type { AreasListing } from './model.ts';
import { describeOnRealFilesystem } from './testing.ts';

/** The real `keisan` executable against a real server run as root: areas on by default under DATA/areas. */

const keisan = runKeisan;

describeOnRealFilesystem('keisan areas / admin areas, end to end', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-areas-cli-'));
  const data = path.join(scratch, 'data');
  const home = { operator: path.join(scratch, 'op'), alice: path.join(scratch, 'alice') };
  const PASSWORD = 'correct horse battery staple';
  const root = path.join(data, 'areas');
  let server: RunningServer;

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data, { storage: { areas: { homeQuota: '1M' } } });
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    expectCode(await keisan(home.operator, ['login', name, '--password-stdin', '--server', server.url], password), 0);
    expectCode(await keisan(home.operator, ['admin', 'user', 'add', 'alice', '-s', 'staff', '--uid', '30001', '--password-stdin'], PASSWORD), 0);
    expectCode(await keisan(home.alice, ['login', 'alice', '--password-stdin', '--server', server.url], PASSWORD), 0);
    await server.app.keisan.areas.idle();
  });

  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('alice sees her home (private/, public/), her group area and her workgroup library, with who can read what', async () => {
    const shown = expectCode(await keisan(home.alice, ['areas']), 0).stdout;
    assert.match(shown, new RegExp(`^home alice\\n\\s+path\\s+${root}/home/alice\\n\\s+private\\s+${root}/home/alice/private  \\(only alice\\)\\n\\s+public\\s+${root}/home/alice/public  \\(everyone can read\\)$`, 'm'));
    assert.match(shown, /^\s+usage\s+not measured yet \(quota 1\.0 MiB\)$/m);
    assert.match(shown, new RegExp(`^group area central/staff\\n\\s+path\\s+${root}/group/central/staff\\n\\s+access\\s+members of subgroup staff read and write`, 'm'));
    assert.match(shown, /^library central\n.*\n\s+access\s+everyone reads; nobody writes yet \(a workgroup admin designates writers\)\n\s+you may write\s+no$/m);
    const listing = JSON.parse(expectCode(await keisan(home.alice, ['areas', '--json']), 0).stdout) as AreasListing;
    assert.deepEqual(listing.areas.map((a) => [a.kind, a.name, a.exists]), [['home', 'alice', true], ['group', 'central/staff', true], ['library', 'central', true]]);
    assert.equal(statSync(path.join(root, 'home', 'alice')).uid, 30001);
  });

  it('operators designate library writers, sync and measure; others are refused; the private data directory is reported', async () => {
    const added = expectCode(await keisan(home.operator, ['admin', 'areas', 'writer', 'add', 'central', 'alice']), 0);
    assert.equal(added.stdout, `alice may now write ${root}/lib/central.\n`);
    assert.match(expectCode(await keisan(home.operator, ['admin', 'areas', 'writer', 'list']), 0).stdout, /^WORKGROUP\s+WRITER\s+ADDED BY\s+ADDED\s*\ncentral\s+alice\s+admin\s+\d{4}-/m);
    assert.match(expectCode(await keisan(home.alice, ['areas']), 0).stdout, /^library central\n.*\n\s+access\s+everyone reads; alice writes\n\s+you may write\s+yes$/m);

    const refused = expectCode(await keisan(home.alice, ['admin', 'areas', 'sync']), 1);
    assert.match(refused.stderr, /^keisan: only an operator may provision the user areas or measure their usage$/m);
    expectCode(await keisan(home.alice, ['admin', 'areas', 'writer', 'add', 'central', 'alice']), 1);

    const sync = expectCode(await keisan(home.operator, ['admin', 'areas', 'sync']), 0).stdout;
    assert.match(sync, new RegExp(`^Checked \\d+ directories under ${root} in \\d+\\.\\d s\\.$`, 'm'));
    // DATA is 0700 (it holds the database and secrets), so the default root is for trying out only.
    assert.match(sync, new RegExp(`^Problems \\(1\\), left alone:\\n  users cannot reach the areas: ${data} \\(mode 0700\\) does not let others pass through\\. Set storage\\.areas\\.root`, 'm'));

    const usage = expectCode(await keisan(home.operator, ['admin', 'areas', 'usage', '--measure']), 0).stdout;
    assert.match(usage, /^AREA\s+SIZE\s+FILES\s+QUOTA\s+USED\s+MEASURED\s+PATH\s*$/m);
    assert.match(usage, new RegExp(`^home/alice\\s+0 B\\s+0\\s+1\\.0 MiB\\s+0 %\\s+\\S+ \\S+\\s+${root}/home/alice\\s*$`, 'm'));
    assert.match(expectCode(await keisan(home.alice, ['areas']), 0).stdout, /^\s+usage\s+0 B of 1\.0 MiB \(0 %\)$/m);

    assert.equal(expectCode(await keisan(home.operator, ['admin', 'areas', 'writer', 'rm', 'central', 'alice']), 0).stdout, `alice may no longer write ${root}/lib/central.\n`);
    assert.match(expectCode(await keisan(home.operator, ['admin', 'areas', 'writer', 'rm', 'central', 'alice']), 1).stderr, /writer of the library of workgroup 'central' 'alice' does not exist/);
    assert.match(expectCode(await keisan(home.operator, ['admin', 'areas', 'writer', 'add', 'central']), 2).stderr, /missing required argument 'user'/);
  });
});
