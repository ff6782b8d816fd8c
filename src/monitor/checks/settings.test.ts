import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSettings } from '../../lib/config.ts';
import { resolveChecks } from './resolve.ts';
import { checksSettings } from './settings.ts';
import { CHECK_TYPES } from './registry.ts';

const checksOf = (checks: unknown) => parseSettings({ monitor: { checks } }, 'keisan.yaml').monitor.checks;

describe('monitor.checks settings', () => {
  it('defaults: 15 s, every type registered once, one module per type', () => {
    const settings = checksSettings.parse({});
    assert.equal(settings.interval, 15_000);
    assert.deepEqual([...CHECK_TYPES.keys()].sort(), ['certificate', 'duplicate-ip', 'filesystem', 'hardware', 'http', 'inodes', 'mirror', 'ping', 'process', 'raid', 'ssh', 'storage-log', 'tcp', 'time-drift']);
  });

  it('bad params of an extra check are a config error naming the check and the field', () => {
    assert.throws(() => checksOf({ extra: [{ type: 'http', name: 'portal', params: { url: 'ftp://x' } }] }), /check portal: params\.url: an http:\/\/ or https:\/\/ URL/);
    assert.throws(() => checksOf({ extra: [{ type: 'tcp', params: { host: 'db1' } }] }), /check #1 \(tcp\): params\.port/);
    assert.throws(() => checksOf({ extra: [{ type: 'tcp', params: { host: 'db1', port: 5432, colour: 'red' } }] }), /check #1 \(tcp\): params: Unrecognized key: "colour"/);
    assert.throws(() => checksOf({ extra: [{ type: 'nosuch', params: {} }] }), /not a check type: one of ping, tcp/);
    assert.throws(() => checksOf({ defaults: { filesystem: { warning: 95, critical: 90 } } }), /defaults for filesystem checks: critical: critical must be at least warning/);
    assert.throws(() => checksOf({ extra: [{ type: 'storage-log', params: { path: '/var/log/t.log', critical: ['(unclosed'] } }] }), /params\.critical\.0: not a valid regular expression/);
    assert.throws(
      () => checksOf({ extra: [{ type: 'tcp', params: { host: 'db1', port: 5432 } }, { type: 'tcp', params: { host: 'db1', port: 5432 } }] }),
      /another check is also called 'tcp:db1:5432'/,
    );
    assert.throws(() => checksOf({ interval: 'soon' }), /interval/);
  });

  it('resolves per node: automatic checks of its roles, essential processes per role, extras by role and host', () => {
    const settings = checksOf({
      interval: '20s',
      defaults: { filesystem: { warning: 85 } },
      processes: { storage: ['nfsd', { name: 'hsm mover', pattern: 'keisan.*mover' }] },
      extra: [
        { type: 'http', name: 'portal', roles: ['login'], interval: '1m', params: { url: 'https://portal.example.org/' } },
        { type: 'certificate', hosts: ['node*'], params: { file: '/etc/ssl/certs/site.pem' } },
        { type: 'ping', params: { host: '10.0.0.1' } },
      ],
    });
    const login = resolveChecks(settings, 'login1', ['login']);
    const ids = login.checks.map((c) => c.id);
    assert.deepEqual(ids, [
      'filesystem:all',
      'inodes:all',
      'process:keisan agent',
      'process:keisan watchdog',
      'process:sshd',
      'raid:md',
      'hardware:hardware',
      'duplicate-ip:ipv4',
      'time-drift:clock',
      'portal',
      'ping:10.0.0.1',
    ]);
    assert.deepEqual(login.checks.find((c) => c.id === 'filesystem:all')!.params, { warning: 85 });
    assert.equal(login.checks.find((c) => c.id === 'filesystem:all')!.intervalMs, 20_000);
    assert.equal(login.checks.find((c) => c.id === 'portal')!.intervalMs, 60_000);
    assert.equal(login.checks.find((c) => c.id === 'raid:md')!.intervalMs, 60_000, 'a type\'s own longer default');
    const compute = resolveChecks(settings, 'node7', ['compute', 'slurm']);
    const computeIds = compute.checks.map((c) => c.id);
    assert.ok(computeIds.includes('process:slurmd') && computeIds.includes('process:munged'));
    assert.ok(!computeIds.includes('process:sshd') && !computeIds.includes('portal'));
    assert.ok(computeIds.includes('certificate:/etc/ssl/certs/site.pem'));
    const storage = resolveChecks(settings, 'store1', ['storage']);
    assert.deepEqual(storage.checks.filter((c) => c.type === 'process').map((c) => c.params), [
      { name: 'keisan agent', pattern: String.raw`keisan(\.js)?\s+agent(\s|$)` },
      { name: 'keisan watchdog', pattern: String.raw`keisan(\.js)?\s+watchdog(\s|$)` },
      { name: 'nfsd' },
      { name: 'hsm mover', pattern: 'keisan.*mover' },
    ]);
  });

  it('a role\'s list replaces its default; an extra check of an automatic check\'s id replaces it', () => {
    const settings = checksOf({
      roles: { all: ['filesystem', 'process'], gpu: ['hardware'] },
      processes: { all: ['keisan'] },
      extra: [{ type: 'filesystem', interval: '5s', params: {} }],
    });
    const resolved = resolveChecks(settings, 'gpu1', ['gpu']);
    assert.deepEqual(resolved.checks.map((c) => [c.id, c.intervalMs, c.source]), [
      ['filesystem:all', 5_000, 'extra'],
      ['process:keisan', 15_000, 'role:all'],
      ['hardware:hardware', 30_000, 'role:gpu'],
    ]);
  });
});
