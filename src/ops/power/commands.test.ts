import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, runKeisan } from '../../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../../server/facility.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { initTestDataDir } from '../../server/testing.ts';
import type { PowerStatusView } from './model.ts';
import { describeWithNut, startTestNut, type TestNut } from './testing.ts';

/** The real `keisan power status|test` against a real server: without a power: section, and watching a dummy UPS. */

async function serverWith(power: Record<string, unknown> | null, scratch: string): Promise<{ server: RunningServer; op: (...args: string[]) => ReturnType<typeof runKeisan>; alice: (...args: string[]) => ReturnType<typeof runKeisan> }> {
  const data = path.join(scratch, 'data');
  const home = { operator: path.join(scratch, 'op'), alice: path.join(scratch, 'alice') };
  delete process.env.KEISAN_DATABASE_URL;
  process.env.KEISAN_LOG_LEVEL = 'warn';
  initTestDataDir(data, { storage: { areas: { enabled: false } }, ...(power ? { power } : {}) });
  const server = await startServer({ dataDir: data, port: 0 });
  const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
  expectCode(await runKeisan(home.operator, ['login', name, '--password-stdin', '--server', server.url], password), 0);
  expectCode(await runKeisan(home.operator, ['admin', 'user', 'add', 'alice', '-s', 'staff', '--password-stdin'], 'alice password'), 0);
  expectCode(await runKeisan(home.alice, ['login', 'alice', '--password-stdin', '--server', server.url], 'alice password'), 0);
  return { server, op: (...args) => runKeisan(home.operator, args), alice: (...args) => runKeisan(home.alice, args) };
}

describe('keisan power without a power: section', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-power-cli-'));
  let s: Awaited<ReturnType<typeof serverWith>>;
  before(async () => {
    s = await serverWith(null, scratch);
  });
  after(async () => {
    await s?.server.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('status says nothing is watched; the dry run is refused with what to do; users are refused', async () => {
    const status = expectCode(await s.op('power', 'status'), 0);
    assert.match(status.stdout, /^ups\s+not configured$/m);
    assert.match(status.stdout, /^next\s+no power: section in keisan\.yaml: Keisan does not watch a UPS/m);
    const json = JSON.parse(expectCode(await s.op('power', 'status', '--json'), 0).stdout) as PowerStatusView;
    assert.equal(json.configured, false);
    const test = expectCode(await s.op('power', 'test'), 1);
    assert.match(test.stderr, /no power: section in keisan\.yaml: add one \(ups: NAME@HOST:PORT\) and restart the server/);
    const refused = expectCode(await s.alice('power', 'status'), 1);
    assert.match(refused.stderr, /only an operator may read the power status/);
    expectCode(await s.op('power'), 2);
  });
});

describeWithNut('keisan power watching a dummy UPS', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-power-cli-'));
  let s: Awaited<ReturnType<typeof serverWith>>;
  let nut: TestNut;
  before(async () => {
    nut = await startTestNut('OL');
    s = await serverWith({ ups: nut.address, gracePeriod: '10m', pollInterval: '500ms', shutdownCommand: 'false', jobs: { queues: { huge: 'checkpoint' } } }, scratch);
  });
  after(async () => {
    try {
      await s?.server.close();
    } finally {
      await nut?.stop();
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('status shows the UPS on line, then on battery with when the plan starts; test prints the plan and does nothing', async () => {
    const deadline = Date.now() + 10_000;
    let status = '';
    while (Date.now() < deadline && !/^ups\.status\s+OL/m.test(status)) status = expectCode(await s.op('power', 'status'), 0).stdout;
    assert.match(status, new RegExp(`^ups\\s+${nut.address.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(status, /^ups\.status\s+OL \(on line \(mains power\)\)$/m);
    assert.match(status, /^battery\s+100 %, 30m runtime$/m);
    assert.match(status, /^state\s+on line$/m);

    await nut.setStatus('OB DISCHRG');
    const until = Date.now() + 10_000;
    while (Date.now() < until && !/ON BATTERY/.test(status)) status = expectCode(await s.op('power', 'status'), 0).stdout;
    assert.match(status, /^state\s+ON BATTERY$/m);
    assert.match(status, /^grace period\s+10m$/m);
    assert.match(status, /^shutdown at\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/m);
    assert.match(status, /^incident\s+#\d+ \(keisan incident show \d+\)$/m);
    assert.match(status, /^next\s+on battery for .*: the shutdown plan starts at .* unless power returns; at once on low battery or FSD$/m);

    const test = expectCode(await s.op('power', 'test'), 0);
    assert.match(test.stdout, /^Dry run — on a power loss of UPS dummy@127\.0\.0\.1:\d+ Keisan would, in this order:$/m);
    assert.match(test.stdout, /^ {2}1\. stop starting jobs$/m);
    assert.match(test.stdout, /^ {2}5\. shut the host down\n {5}`false` \(sh -c\)$/m);
    assert.match(test.stdout, /^Nothing was done\.$/m);
    const after = JSON.parse(expectCode(await s.op('power', 'status', '--json'), 0).stdout) as PowerStatusView;
    assert.equal(after.shutdown, null);
    assert.equal(after.dispatchPaused, null);
    await nut.setStatus('OL');
  });
});
