import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import { openDatabase, type Db } from '../../db/connection.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { parseSettings } from '../../lib/config.ts';
import type { CommandRunner } from '../../monitor/checks/exec.ts';
import { macWithVendor } from '../../monitor/checks/oui.ts';
import type { AgentChecks } from '../../monitor/checks/resolve.ts';
import { runType, testContext } from '../../monitor/checks/testing.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';

/**
 * The inventory's expected MACs feed the monitoring room's duplicate-IP check: the server puts
 * them in the check's params (GET /api/monitor/agent-checks) and the check names a MAC that
 * answers for an inventory address and is not the expected one. Commands are faked here; the
 * real ARP test is src/monitor/checks/duplicate-ip.test.ts (root, network namespaces).
 */

const OUR_MAC = '52:54:00:00:00:11';
const OTHER_NIC = '52:54:00:00:00:21';
const INTRUDER = '00:1b:21:aa:bb:cc';

/** `ip -j addr show` with one address on eth0, arping replies as given, a neighbour table as given. */
function fakeExec(replies: string[], neighbours: { dst: string; dev: string; lladdr: string }[] = []): CommandRunner {
  return async (command, args) => {
    const ok = (stdout: string) => ({ code: 0, stdout, stderr: '', timedOut: false });
    if (command === 'ip' && args.includes('addr')) {
      return ok(JSON.stringify([{ ifname: 'eth0', flags: ['BROADCAST', 'UP'], address: OUR_MAC, addr_info: [{ family: 'inet', local: '10.0.0.11', scope: 'global' }] }]));
    }
    if (command === 'arping') {
      return { ...ok(replies.map((mac) => `Unicast reply from 10.0.0.11 [${mac.toUpperCase()}]  0.5ms`).join('\n')), code: replies.length > 0 ? 1 : 0 };
    }
    if (command === 'ip' && args.includes('neigh')) return ok(JSON.stringify(neighbours));
    return { code: null, stdout: '', stderr: '', failure: `${command} is not faked`, timedOut: false };
  };
}

const EXPECTED = [
  { address: '10.0.0.11', host: 'mgmt1', macs: [OUR_MAC, OTHER_NIC] },
  { address: '10.0.0.12', host: 'mgmt2', macs: ['52:54:00:00:00:12'] },
];

describe('duplicate-ip check with the inventory\'s expected MACs', () => {
  it('a MAC answering for our address that the inventory does not expect is named as such', async () => {
    const [probe] = await runType('duplicate-ip', { watchNeighbours: false, expected: EXPECTED }, testContext({ exec: fakeExec([INTRUDER]) }));
    assert.equal(probe!.status, 'critical');
    assert.equal(probe!.summary, `10.0.0.11 on eth0 of testnode is also answered by ${INTRUDER} (Intel Corporate), not mgmt1's expected MAC, ours is ${macWithVendor(OUR_MAC)}`);
    assert.deepEqual([probe!.details?.inventoryHost, probe!.details?.expectedMacs, probe!.details?.ourMacExpected], ['mgmt1', [OUR_MAC, OTHER_NIC], true]);
  });

  it("replies from the host's own other interface (ARP flux) are not a conflict when the inventory lists that MAC", async () => {
    const [withInventory] = await runType('duplicate-ip', { watchNeighbours: false, expected: EXPECTED }, testContext({ exec: fakeExec([OTHER_NIC]) }));
    assert.equal(withInventory!.status, 'ok', withInventory!.summary);
    assert.equal(withInventory!.summary, `10.0.0.11 on eth0 of testnode is ours alone (only mgmt1's own expected MAC ${OTHER_NIC} answered too)`);
    // Without the inventory the same reply is a conflict, as before.
    const [without] = await runType('duplicate-ip', { watchNeighbours: false }, testContext({ exec: fakeExec([OTHER_NIC]) }));
    assert.equal(without!.status, 'critical');
  });

  it('the neighbour table: an inventory address answered by an unexpected MAC is critical, naming the host and the expected MAC', async () => {
    const exec = fakeExec([], [
      { dst: '10.0.0.12', dev: 'eth0', lladdr: INTRUDER },
      { dst: '10.0.0.99', dev: 'eth0', lladdr: '02:00:00:00:00:99' },
    ]);
    const outcomes = await runType('duplicate-ip', { probe: false, expected: EXPECTED }, testContext({ exec }));
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.status, 'critical');
    assert.equal(
      outcomes[0]!.summary,
      `10.0.0.12 (mgmt2 in the inventory) on eth0 seen from testnode is answered by ${INTRUDER} (Intel Corporate), not mgmt2's expected MAC 52:54:00:00:00:12: another device may be using its address`,
    );
    const fine = await runType('duplicate-ip', { probe: false, expected: EXPECTED }, testContext({ exec: fakeExec([], [{ dst: '10.0.0.12', dev: 'eth0', lladdr: '52:54:00:00:00:12' }]) }));
    assert.equal(fine[0]!.status, 'ok', fine[0]!.summary);
  });

  it('refuses a malformed expected list (the agent validates what the server sends)', async () => {
    await assert.rejects(runType('duplicate-ip', { expected: [{ address: '10.0.0.11', host: 'mgmt1', macs: ['52-54-00-00-00-11'] }] }), /a MAC address, lower-case with colons/);
  });
});

describe('GET /api/monitor/agent-checks carries the inventory\'s expected MACs to the duplicate-ip check', () => {
  let db: Db;
  let app: KeisanApp;
  before(async () => {
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    const inventory = {
      hosts: [
        { name: 'mgmt1', addresses: ['10.0.0.11', 'fd00::11'], macs: { eno1: OUR_MAC, eno2: OTHER_NIC } },
        { name: 'mgmt2', addresses: ['10.0.0.12'], macs: { eno1: '52:54:00:00:00:12' } },
        { name: 'auth1', addresses: ['10.0.0.21'] },
      ],
    };
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } }, inventory }, 'test'), db, nodeSecret: 'node-secret' });
  });
  after(async () => {
    await app?.close();
    await db?.close();
  });

  it('IPv4 addresses of hosts with MACs, with all of the host\'s MACs; API-made hosts too', async () => {
    const get = async () => {
      const response = await app.inject({ method: 'GET', url: '/api/monitor/agent-checks?host=node7&roles=compute', headers: { authorization: 'Node node-secret' } });
      assert.equal(response.statusCode, 200, response.body);
      return (JSON.parse(response.body) as AgentChecks).checks.find((c) => c.type === 'duplicate-ip')!;
    };
    assert.deepEqual((await get()).params.expected, [
      { address: '10.0.0.11', host: 'mgmt1', macs: [OUR_MAC, OTHER_NIC] },
      { address: '10.0.0.12', host: 'mgmt2', macs: ['52:54:00:00:00:12'] },
    ]);
    await app.keisan.inventory.addHost(SYSTEM_ACTOR, { name: 'login1', addresses: ['10.0.1.1'], macs: { eth0: '52:54:00:00:01:01' } });
    assert.deepEqual(((await get()).params.expected as { host: string }[]).find((e) => e.host === 'login1'), { address: '10.0.1.1', host: 'login1', macs: ['52:54:00:00:01:01'] });
  });
});
