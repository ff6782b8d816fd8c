import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { CheckResult } from '../model.ts';
import { createDuplicateIpLab, describeWithServices, netnsSkipReason, sh, type DuplicateIpLab } from '../testing-lab.ts';
import { OuiTable, csvFields, macWithVendor } from './oui.ts';
import { createCheckRunner } from './runner.ts';
import { runType, testContext } from './testing.ts';
import { parseArpingReplies, parseNeighbours, parseOwnAddresses, parseProcArp } from './types/duplicate-ip.ts';

const SKIP_REASON = netnsSkipReason('the duplicate-IP test creates network namespaces: it needs root');

const ip = (...args: string[]) => sh('ip', args);

/** Needs root, ip and arping: skipped with the reason, failed with KEISAN_REQUIRE_SERVICES=1. */
describeWithServices('duplicate-ip check, for real: two network namespaces with the same IPv4 address', SKIP_REASON, () => {
  // Unique names: parallel runs and leftovers of a killed run do not collide.
  const tag = `${process.pid % 10_000}${randomInt(100, 999)}`;
  const nsA = `keisan-dupa-${tag}`;
  const nsB = `keisan-dupb-${tag}`;
  const vethA = `kda${tag}`;
  const vethB = `kdb${tag}`;
  const subnet = `10.${randomInt(100, 250)}.${randomInt(1, 250)}`;
  const address = `${subnet}.5`;
  // Intel's OUI (00:1B:21 in ieee-data): the other side is named with its vendor.
  const otherMac = '00:1b:21:aa:bb:cc';
  let ourMac = '';
  let lab: DuplicateIpLab | undefined;

  before(() => {
    lab = createDuplicateIpLab({ nsA, nsB, vethA, vethB, address, otherMac });
    ourMac = lab.ourMac();
  });
  after(() => lab?.cleanup());

  const probe = async () => {
    const started = performance.now();
    const outcomes = await runType('duplicate-ip', { netns: nsA, interfaces: [vethA], watchNeighbours: false });
    return { outcomes, seconds: (performance.now() - started) / 1000 };
  };

  it('the other namespace answering for our address is critical, naming its MAC and vendor; ok once the conflict is gone', async (t) => {
    const alone = await probe();
    assert.equal(alone.outcomes.length, 1);
    assert.equal(alone.outcomes[0]!.status, 'ok', alone.outcomes[0]!.summary);
    assert.match(alone.outcomes[0]!.summary, new RegExp(`${address.replace(/\./g, '\\.')} on ${vethA} of testnode is ours alone`));

    lab!.conflict();
    const conflict = await probe();
    const result = conflict.outcomes[0]!;
    assert.equal(result.status, 'critical', result.summary);
    assert.equal(result.target, `${vethA}/${address}`);
    assert.equal(
      result.summary,
      `${address} on ${vethA} of testnode is also answered by ${otherMac} (Intel Corporate), ours is ${macWithVendor(ourMac)}`,
    );
    assert.deepEqual(result.details?.otherMacs, [{ mac: otherMac, vendor: 'Intel Corporate' }]);
    t.diagnostic(`duplicate-IP detection: one check run found the conflict in ${conflict.seconds.toFixed(3)} s (arping -D -c 2 -w 3); a clean run takes ${alone.seconds.toFixed(3)} s`);
    console.log(`duplicate-ip detection (one run, conflict present): ${conflict.seconds.toFixed(3)} s; clean run: ${alone.seconds.toFixed(3)} s`);

    lab!.resolve();
    const fixed = await probe();
    assert.equal(fixed.outcomes[0]!.status, 'ok', fixed.outcomes[0]!.summary);
  });

  it('through the runner: a conflict created while it runs is reported within one interval', async (t) => {
    const results: CheckResult[] = [];
    let conflictAt = 0;
    let detectedAt = 0;
    const runner = createCheckRunner({
      host: 'testnode',
      serverUrl: 'http://127.0.0.1:1',
      nodeSecret: 'x',
      roles: [],
      logger: pino({ level: 'silent' }),
      onResult: (r) => {
        results.push(r);
        if (conflictAt > 0 && detectedAt === 0 && r.status === 'critical') detectedAt = performance.now();
      },
      checks: {
        host: 'testnode',
        roles: [],
        refreshMs: 300_000,
        concurrency: 2,
        checks: [{ id: 'duplicate-ip:ipv4', type: 'duplicate-ip', name: null, intervalMs: 5_000, timeoutMs: 10_000, params: { netns: nsA, interfaces: [vethA] }, source: 'test' }],
      },
    });
    runner.start();
    try {
      for (let i = 0; i < 100 && !results.some((r) => r.check === `duplicate-ip:${vethA}/${address}`); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(results.find((r) => r.check === `duplicate-ip:${vethA}/${address}`)?.status, 'ok');
      lab!.conflict();
      conflictAt = performance.now();
      for (let i = 0; i < 300 && detectedAt === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(detectedAt > 0, 'the conflict was reported within 30 s');
      const seconds = (detectedAt - conflictAt) / 1000;
      assert.ok(seconds <= 5 + 4, `detected in ${seconds} s with a 5 s interval`);
      const critical = results.find((r) => r.status === 'critical')!;
      assert.equal(critical.check, `duplicate-ip:${vethA}/${address}`);
      assert.match(critical.summary, new RegExp(`also answered by ${otherMac}`));
      t.diagnostic(`duplicate-IP detection through the runner (interval 5 s): ${seconds.toFixed(2)} s from the conflict to the critical result`);
      console.log(`duplicate-ip detection through the runner (interval 5 s): ${seconds.toFixed(2)} s`);
    } finally {
      await runner.stop();
      lab!.resolve(true);
    }
  });

  it('neighbour table: an address whose MAC flips between runs is a warning naming both MACs', async () => {
    const context = testContext();
    const neighbour = `${subnet}.9`;
    const params = { netns: nsA, probe: false };
    ip('-n', nsA, 'neigh', 'replace', neighbour, 'lladdr', '00:1b:21:00:00:01', 'dev', vethA, 'nud', 'stale');
    const first = await runType('duplicate-ip', params, context);
    assert.equal(first[0]!.status, 'ok', first[0]!.summary);
    ip('-n', nsA, 'neigh', 'replace', neighbour, 'lladdr', '02:42:ac:11:00:03', 'dev', vethA, 'nud', 'stale');
    const flipped = await runType('duplicate-ip', params, context);
    assert.equal(flipped[0]!.status, 'warning');
    assert.equal(
      flipped[0]!.summary,
      `${neighbour} on ${vethA} seen from testnode changed its MAC from 00:1b:21:00:00:01 (Intel Corporate) to 02:42:ac:11:00:03 (locally administered): two devices may be answering for it (1 change within 30 min)`,
    );
    context.clock.advance(31 * 60_000);
    assert.equal((await runType('duplicate-ip', params, context))[0]!.status, 'ok');
  });
});

describe('duplicate-ip parsers and the OUI table', () => {
  it('parses arping -D replies, own addresses, the neighbour table and /proc/net/arp', () => {
    assert.deepEqual(parseArpingReplies('ARPING 10.0.0.5 from 0.0.0.0 eth0\nUnicast reply from 10.0.0.5 [02:42:AC:11:00:03]  0.567ms\nSent 1 probes\n'), ['02:42:ac:11:00:03']);
    const addrs = parseOwnAddresses(
      JSON.stringify([
        { ifname: 'lo', flags: ['LOOPBACK', 'UP'], link_type: 'loopback', address: '00:00:00:00:00:00', addr_info: [{ family: 'inet', local: '127.0.0.1', scope: 'host' }] },
        { ifname: 'eth0', flags: ['BROADCAST', 'UP'], address: '52:54:00:12:34:56', addr_info: [{ family: 'inet', local: '10.0.0.5', scope: 'global' }, { family: 'inet6', local: 'fe80::1', scope: 'link' }] },
        { ifname: 'eth1', flags: ['BROADCAST'], address: '52:54:00:12:34:57', addr_info: [{ family: 'inet', local: '10.1.0.5', scope: 'global' }] },
        { ifname: 'wg0', flags: ['POINTOPOINT', 'NOARP', 'UP'], addr_info: [{ family: 'inet', local: '10.9.0.1', scope: 'global' }] },
      ]),
      [],
    );
    assert.deepEqual(addrs, [{ iface: 'eth0', address: '10.0.0.5', mac: '52:54:00:12:34:56' }]);
    assert.deepEqual(parseNeighbours('[{"dst":"192.0.2.1","dev":"eth0","lladdr":"02:FC:00:00:00:05","state":["STALE"]},{"dst":"fd00::1","dev":"eth0","state":["FAILED"]}]'), [
      { address: '192.0.2.1', iface: 'eth0', mac: '02:fc:00:00:00:05' },
    ]);
    assert.deepEqual(parseProcArp('IP address       HW type     Flags       HW address            Mask     Device\n10.0.0.1         0x1         0x2         00:1b:21:aa:bb:cc     *        eth0\n10.0.0.2         0x1         0x0         00:00:00:00:00:00     *        eth0\n'), [
      { address: '10.0.0.1', iface: 'eth0', mac: '00:1b:21:aa:bb:cc' },
    ]);
  });

  it('names vendors from ieee-data, loaded once on first use; locally administered MACs are said so', () => {
    const table = new OuiTable();
    assert.equal(table.loaded, false);
    assert.equal(table.vendorOf('00:1B:21:AA:BB:CC'), 'Intel Corporate');
    assert.equal(table.loaded, true);
    assert.equal(table.vendorOf('f4:bd:9e:00:00:01'), 'Cisco Systems, Inc');
    assert.equal(table.vendorOf('02:42:ac:11:00:03'), 'locally administered');
    assert.equal(new OuiTable('/nonexistent/oui.csv').vendorOf('00:1b:21:00:00:00'), null);
    assert.deepEqual(csvFields('MA-L,F4BD9E,"Cisco Systems, Inc",80 West "x"'), ['MA-L', 'F4BD9E', 'Cisco Systems, Inc', '80 West x']);
  });
});
