import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, runKeisan } from '../../cli/testing.ts';
import { openDatabase, type Db } from '../../db/connection.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import { seedOperator } from '../../server/testing.ts';

/** `keisan alerts …` and `keisan silence …`: the real CLI against a listening server. */
describe('keisan alerts and keisan silence', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'keisan-alerts-cli-'));
  let db: Db;
  let app: KeisanApp;

  before(async () => {
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } }, monitor: { alerts: { evaluationInterval: '1h' } } }, 'test');
    app = await buildApp({ settings, db, nodeSecret: 'secret' });
    await seedOperator(app.keisan.accounts);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    expectCode(await runKeisan(home, ['login', 'olga', '--password-stdin', '--server', url], 'olga password\n'), 0);
  });
  after(async () => {
    await app?.close();
    await db?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('lists alerts, silences one, shows who silenced it, removes the silence', async () => {
    assert.match(expectCode(await runKeisan(home, ['alerts']), 0).stdout, /no alerts: everything is fine/);
    const now = Date.now();
    app.keisan.monitor.ingest(
      {
        host: 'node1',
        at: new Date(now).toISOString(),
        samples: [],
        checks: [{ check: 'duplicate-ip:eth0', type: 'duplicate-ip', target: 'eth0', status: 'critical', summary: '10.0.0.5 on node1 eth0 is also answered by 52:54:00:aa:bb:cc (QEMU)', value: null, details: {}, at: new Date(now).toISOString(), durationMs: 1 }],
      },
      now,
    );
    await app.keisan.alerts.evaluateNow();
    const listed = expectCode(await runKeisan(home, ['alerts']), 0).stdout.trim().split('\n');
    assert.match(listed[0] ?? '', /^STATE +SEVERITY +ALERT +HOST +SUMMARY +SINCE +SILENCED-BY$/);
    assert.match(listed[1] ?? '', /^firing +critical +CheckCritical +node1 +10\.0\.0\.5 on node1 eth0 is also answered by 52:54:00:aa:bb:cc \(QEMU\) +\d{4}-\d\d-\d\d \d\d:\d\d +- *$/);

    const added = expectCode(await runKeisan(home, ['silence', 'add', '--match', 'host=node1', '--match', 'alertname=CheckCritical', '--for', '2h', '--comment', 'moving the VM']), 0);
    assert.match(added.stdout, /^Silence 1 until \d{4}-\d\d-\d\d \d\d:\d\d: host=node1, alertname=CheckCritical$/m);
    assert.match(expectCode(await runKeisan(home, ['alerts']), 0).stdout, /firing \(muted\) +critical +CheckCritical .* silence 1 *$/m);
    assert.match(expectCode(await runKeisan(home, ['alerts', '--host', 'node2']), 0).stdout, /no alerts: everything is fine/);
    const json = JSON.parse(expectCode(await runKeisan(home, ['alerts', '--host', 'node1', '--json']), 0).stdout) as { silencedBy: number[] }[];
    assert.deepEqual(json.map((a) => a.silencedBy), [[1]]);
    assert.match(expectCode(await runKeisan(home, ['silence', 'list']), 0).stdout, /^1 +active +host=node1, alertname=CheckCritical .* olga +moving the VM *$/m);
    assert.match(expectCode(await runKeisan(home, ['silence', 'rm', '1']), 0).stdout, /^Silence 1 ended\.$/m);
    assert.match(expectCode(await runKeisan(home, ['silence', 'list']), 0).stdout, /no silences/);
    assert.match(expectCode(await runKeisan(home, ['silence', 'list', '--all']), 0).stdout, /^1 +expired/m);
    const evaluated = expectCode(await runKeisan(home, ['alerts', 'check-rule', '--eval', 'keisan_check_status >= 2']), 0).stdout.split('\n').map((line) => line.trimEnd());
    assert.deepEqual(evaluated.slice(0, 2), ['ok: an instant vector — a valid alert expression', 'Now it returns 1 series: a rule with it would alert on each.']);
    assert.match(evaluated[3] ?? '', /^keisan_check_status\{check="duplicate-ip:eth0", host="node1", target="eth0", type="duplicate-ip"\} +2$/);
    assert.match(expectCode(await runKeisan(home, ['alerts', 'check-rule', '--eval', 'keisan_check_status > 5']), 0).stdout, /Now it returns nothing: a rule with it would not alert\./);
    const missing = expectCode(await runKeisan(home, ['silence', 'add', '--match', 'host', '--comment', 'x']), 2);
    assert.match(missing.stderr, /--match 'host' is not a matcher/);
  });

  it('checks expressions with a pointer to the error, and lists the rules', async () => {
    assert.match(expectCode(await runKeisan(home, ['alerts', 'check-rule', 'up{job="agent"} == 0']), 0).stdout, /^ok: an instant vector/);
    const bad = expectCode(await runKeisan(home, ['alerts', 'check-rule', 'sum(rate(x[5m])) > )']), 2);
    assert.equal(bad.stderr, "keisan: unexpected ')' at column 20: expected a number, a metric name or '('\n  sum(rate(x[5m])) > )\n                     ^\n");
    const rules = expectCode(await runKeisan(home, ['alerts', 'rules']), 0).stdout;
    assert.match(rules, /^HostDown +critical +0s +0 +default +up\{job="agent"\} == 0 +- *$/m);
    assert.match(rules, /^CheckCritical +critical +0s +1 +default +keisan_check_status >= 2/m);
  });
});
