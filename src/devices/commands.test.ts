import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OPERATOR_PASSWORD_FILE } from '../server/facility.ts';
import { expectCode, runKeisan } from '../cli/testing.ts';
import { startServer, type RunningServer } from '../server/main.ts';
import { initTestDataDir } from '../server/testing.ts';

/** The real `keisan` executable against a real server, as users run the device commands. */

const keisan = runKeisan;

describe('keisan devices / reserve / release / admin device, end to end', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-devices-cli-'));
  const data = path.join(scratch, 'data');
  const home = { operator: path.join(scratch, 'op'), alice: path.join(scratch, 'alice'), bob: path.join(scratch, 'bob') };
  const PASSWORD = 'correct horse battery staple';
  let server: RunningServer;
  let operator = '';

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data);
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    operator = name;
    expectCode(await keisan(home.operator, ['login', name, '--password-stdin', '--server', server.url], password), 0);
    await Promise.all(
      ['alice', 'bob'].map(async (user) => expectCode(await keisan(home.operator, ['admin', 'user', 'add', user, '-s', 'staff', '--password-stdin'], PASSWORD), 0)),
    );
    await Promise.all(
      (['alice', 'bob'] as const).map(async (user) => expectCode(await keisan(home[user], ['login', user, '--password-stdin', '--server', server.url], PASSWORD), 0)),
    );
  });

  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('the operator adds a device; alice reserves it; bob is refused naming alice; everyone sees the state', async () => {
    const added = expectCode(await keisan(home.operator, ['admin', 'device', 'add', 'tape0', '--kind', 'tape-drive', '-d', 'LTO-9 in rack B4', '--max-hold', '8h']), 0);
    assert.equal(added.stdout, 'Added device tape0 (tape-drive; idle release 20m, maximum hold 8h).\n');

    const reserved = expectCode(await keisan(home.alice, ['reserve', 'tape0', '--for', '2h']), 0);
    assert.match(reserved.stdout, /^tape0 is yours until \d{4}-\d\d-\d\d \d\d:\d\d\. Activity keeps it longer \(it frees 20m after your last activity, \d{4}-\d\d-\d\d \d\d:\d\d at the latest\); `keisan release tape0` gives it back\.$/m);

    const [refused, list, json] = await Promise.all([
      keisan(home.bob, ['reserve', 'tape0']),
      keisan(home.bob, ['devices']),
      keisan(home.bob, ['devices', '--json']),
    ]);
    assert.equal(refused.stdout, '');
    assert.match(expectCode(refused, 1).stderr, /^keisan: device 'tape0' is reserved by alice until \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC \(the time they asked for; .*\): others may reserve it from then on, or earlier if alice releases it$/m);
    assert.match(expectCode(list, 0).stdout, /^DEVICE\s+KIND\s+STATE\s+DESCRIPTION\s*$/m);
    assert.match(list.stdout, /^tape0\s+tape-drive\s+reserved by alice until \d{4}-\d\d-\d\d \d\d:\d\d\s+LTO-9 in rack B4$/m);
    const devices = JSON.parse(expectCode(json, 0).stdout) as { name: string; state: string; holder: string | null }[];
    assert.deepEqual(devices.map((d) => [d.name, d.state, d.holder]), [['tape0', 'reserved', 'alice']]);
  });

  it('the operator breaks the reservation with a reason; alice is told; bob reserves and releases; usage errors exit 2', async () => {
    const broken = expectCode(await keisan(home.operator, ['admin', 'device', 'break', 'tape0', '--reason', 'drive needed for the restore']), 0);
    assert.equal(broken.stdout, "Broke alice's reservation of tape0; it is free.\n");
    const released = expectCode(await keisan(home.alice, ['release', 'tape0']), 1);
    assert.match(released.stderr, new RegExp(`^keisan: your reservation of 'tape0' was broken by ${operator} at .*: drive needed for the restore$`, 'm'));

    expectCode(await keisan(home.bob, ['reserve', 'tape0']), 0);
    assert.equal(expectCode(await keisan(home.bob, ['release', 'tape0']), 0).stdout, 'Released tape0; it is free.\n');

    const [noDevice, badFor, noReason, user] = await Promise.all([
      keisan(home.bob, ['reserve']),
      keisan(home.bob, ['reserve', 'tape0', '--for', 'soon']),
      keisan(home.operator, ['admin', 'device', 'break', 'tape0']),
      keisan(home.bob, ['admin', 'device', 'add', 'mine']),
    ]);
    assert.match(expectCode(noDevice, 2).stderr, /missing required argument 'device'/);
    assert.match(expectCode(badFor, 2).stderr, /^keisan: for: 'soon' is not a duration/m);
    assert.match(expectCode(noReason, 2).stderr, /required option '-r, --reason <text>' not specified/);
    assert.match(expectCode(user, 1).stderr, /^keisan: only an operator may add devices$/m);
  });

  it('admin device list, set and rm; the audit log has the break with its reason', async () => {
    const set = expectCode(await keisan(home.operator, ['admin', 'device', 'set', 'tape0', '--max-hold', 'none', '--idle-release', '45m']), 0);
    assert.match(set.stdout, /^idle release\s+45m$/m);
    assert.match(set.stdout, /^maximum hold\s+none$/m);
    const list = expectCode(await keisan(home.operator, ['admin', 'device', 'list']), 0);
    assert.match(list.stdout, /^tape0\s+tape-drive\s+45m\s+none\s+free\s+LTO-9 in rack B4$/m);
    const audit = expectCode(await keisan(home.operator, ['admin', 'audit', '--action', 'device.break', '--json']), 0);
    const entries = JSON.parse(audit.stdout) as { actor: string; target: string; detail: Record<string, unknown> }[];
    assert.deepEqual(entries.map((e) => [e.actor, e.target, e.detail.holder, e.detail.reason]), [[operator, 'tape0', 'alice', 'drive needed for the restore']]);
    assert.equal(expectCode(await keisan(home.operator, ['admin', 'device', 'rm', 'tape0', '--yes']), 0).stdout, 'Removed device tape0.\n');
    assert.match(expectCode(await keisan(home.alice, ['devices']), 0).stdout, /no devices/);
  });
});
