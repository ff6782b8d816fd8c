import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, runKeisan } from '../../cli/testing.ts';
import { parseSettings, parseYaml } from '../../lib/config.ts';
import { DEFAULT_FACILITY_FILE, OPERATOR_PASSWORD_FILE } from '../../server/facility.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { initTestDataDir } from '../../server/testing.ts';
import type { Group, TakeDownCheck } from './model.ts';

/** The real `keisan ops …` against a real server whose keisan.yaml has an inventory. */

/** The commented `inventory:` example of the facility file template, uncommented. */
function templateInventory(): unknown {
  const start = DEFAULT_FACILITY_FILE.indexOf('# inventory:\n');
  assert.ok(start >= 0, 'the template shows an inventory: section');
  const block = DEFAULT_FACILITY_FILE.slice(start).split('\n\n')[0]!;
  const text = block
    .split('\n')
    .map((line) => line.replace(/^# /, ''))
    .join('\n');
  return (parseYaml(text, 'keisan.yaml') as { inventory: unknown }).inventory;
}

describe('keisan ops hosts|services|groups|check-takedown, end to end', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-inventory-cli-'));
  const data = path.join(scratch, 'data');
  const home = path.join(scratch, 'op');
  let server: RunningServer;
  const keisan = (args: string[]) => runKeisan(home, args);
  const report = (host: string) => server.app.keisan.monitor.ingest({ host, at: new Date().toISOString(), samples: [], checks: [] }, Date.now());

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data, { inventory: templateInventory() });
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    expectCode(await runKeisan(home, ['login', name, '--password-stdin', '--server', server.url], password), 0);
  });

  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("the template's commented inventory is valid keisan.yaml", () => {
    const settings = parseSettings({ inventory: templateInventory() }, 'keisan.yaml');
    assert.deepEqual(settings.inventory?.groups.map((g) => [g.name, g.minHealthy, g.members.length]), [
      ['management', 1, 2],
      ['authentication', 2, 3],
    ]);
  });

  it('lists the keisan.yaml inventory; groups show healthy/total against the minimum and their state', async () => {
    for (const host of ['mgmt1', 'mgmt2', 'auth1', 'auth2']) report(host);
    const [hosts, groups, services, json] = await Promise.all([keisan(['ops', 'hosts']), keisan(['ops', 'groups']), keisan(['ops', 'services']), keisan(['ops', 'groups', '--json'])]);
    assert.match(expectCode(hosts, 0).stdout, /^HOST\s+ROLES\s+ADDRESSES\s+HEALTH\s+WHY\s+SOURCE\s*$/m);
    assert.match(hosts.stdout, /^auth1\s+auth\s+10\.0\.0\.21,fd00::21\s+healthy\s+agent reporting .*\s+config$/m);
    assert.match(hosts.stdout, /^auth3\s+auth\s+10\.0\.0\.23\s+unknown\s+no report from the Keisan agent on auth3 since the server started/m);
    assert.match(expectCode(groups, 0).stdout, /^authentication\s+2\/3\s+2\s+AT-RISK\s+authentication\s+auth1,auth2,auth3\s+2 of 3 healthy \(minimum 2\): auth3 is of unknown health$/m);
    assert.match(groups.stdout, /^management\s+2\/2\s+1\s+OK\s+management\s+mgmt1,mgmt2\s+2 of 2 healthy \(minimum 1\)\s*$/m);
    assert.match(expectCode(services, 0).stdout, /^authentication\s+yes\s+auth1,auth2,auth3\s+authentication\s+config$/m);
    const parsed = JSON.parse(expectCode(json, 0).stdout) as Group[];
    assert.deepEqual(parsed.map((g) => [g.name, g.healthy, g.total, g.state]), [
      ['authentication', 2, 3, 'AT-RISK'],
      ['management', 2, 2, 'OK'],
    ]);
    const show = expectCode(await keisan(['ops', 'groups', 'show', 'authentication']), 0);
    assert.match(show.stdout, /^auth3\s+unknown\s+no report/m);
  });

  it('check-takedown: one management server may go (exit 0); both are refused (exit 1) with the reason', async () => {
    const one = expectCode(await keisan(['ops', 'check-takedown', 'mgmt1']), 0);
    assert.match(one.stdout, /^group management: 2 of 2 healthy now, 1 after taking down mgmt1 \(minimum 1\)$/m);
    assert.match(one.stdout, /^allowed: taking down mgmt1 leaves every redundancy group at or above its minimum$/m);
    const both = expectCode(await keisan(['ops', 'check-takedown', 'mgmt1', 'mgmt2']), 1);
    assert.match(both.stdout, /^refused: taking down mgmt1 and mgmt2 would leave group management with 0 of 2 healthy \(minimum 1\): mgmt1 and mgmt2 are all targets$/m);
    assert.match(both.stderr, /^keisan: refused: taking down mgmt1, mgmt2 is not safe \(1 reason above\)$/m);
    const auth = expectCode(await keisan(['ops', 'check-takedown', 'auth1', '--json']), 1);
    const result = JSON.parse(auth.stdout) as TakeDownCheck;
    assert.equal(result.allowed, false);
    assert.match(result.refusals[0]!.reason, /^taking down auth1 would leave group authentication with 1 of 3 healthy \(minimum 2\): auth3's health is unknown/);
  });

  it('operators add, change and remove entries; keisan.yaml ones are read-only; usage errors exit 2', async () => {
    const added = expectCode(await keisan(['ops', 'hosts', 'add', 'login1', '--role', 'login', '-a', '10.0.1.1', '--mac', 'eth0=52:54:00:00:01:01']), 0);
    assert.equal(added.stdout, 'Added host login1 (login; 10.0.1.1).\n');
    expectCode(await keisan(['ops', 'hosts', 'add', 'login2', '--role', 'login']), 0);
    assert.equal(expectCode(await keisan(['ops', 'services', 'add', 'login', '--critical', '-H', 'login1,login2']), 0).stdout, 'Added service login (critical) on login1,login2.\n');
    const group = expectCode(await keisan(['ops', 'groups', 'add', 'login', '-M', 'login1', '-M', 'login2', '--min', '1', '--service', 'login']), 0);
    assert.equal(group.stdout, 'Added group login: login1,login2, at least 1 healthy (now 0, BROKEN).\n');
    const set = expectCode(await keisan(['ops', 'hosts', 'set', 'login2', '--mac', 'eth0=5254.0000.0102', '--notes', 'rack C1']), 0);
    assert.match(set.stdout, /^MACs\s+eth0=52:54:00:00:01:02$/m);
    assert.match(set.stdout, /^source\s+api \(admin, /m);

    const readOnly = expectCode(await keisan(['ops', 'groups', 'set', 'management', '--min', '2']), 1);
    assert.match(readOnly.stderr, /^keisan: group management is defined in keisan\.yaml \(inventory\.groups\): entries from keisan\.yaml are read-only through the API/m);
    const [badMac, badMin, noChange, inUse, noYes] = await Promise.all([
      keisan(['ops', 'hosts', 'add', 'x1', '--mac', 'eth0=zz']),
      keisan(['ops', 'groups', 'add', 'g', '-M', 'login1', '--min', 'two']),
      keisan(['ops', 'hosts', 'set', 'login1']),
      keisan(['ops', 'hosts', 'rm', 'login1', '--yes']),
      keisan(['ops', 'hosts', 'rm', 'login1']),
    ]);
    assert.match(expectCode(badMac, 2).stderr, /'zz' is not a MAC address/);
    assert.match(expectCode(badMin, 2).stderr, /--min two: give a whole number/);
    assert.match(expectCode(noChange, 2).stderr, /nothing to change/);
    assert.match(expectCode(inUse, 1).stderr, /^keisan: host login1 is still named by service login, group login: change or remove those first$/m);
    assert.match(expectCode(noYes, 2).stderr, /needs --yes when not run from a terminal/);

    for (const args of [['groups', 'rm', 'login'], ['services', 'rm', 'login'], ['hosts', 'rm', 'login1'], ['hosts', 'rm', 'login2']]) expectCode(await keisan(['ops', ...args, '--yes']), 0);
    const audit = JSON.parse(expectCode(await keisan(['admin', 'audit', '--action', 'inventory.', '--json']), 0).stdout) as { action: string; target: string; outcome: string }[];
    assert.deepEqual(
      audit.map((e) => `${e.action} ${e.target} ${e.outcome}`).reverse(),
      [
        'inventory.host.add login1 ok',
        'inventory.host.add login2 ok',
        'inventory.service.add login ok',
        'inventory.group.add login ok',
        'inventory.host.set login2 ok',
        'inventory.group.set management denied',
        'inventory.group.rm login ok',
        'inventory.service.rm login ok',
        'inventory.host.rm login1 ok',
        'inventory.host.rm login2 ok',
      ],
    );
  });
});
