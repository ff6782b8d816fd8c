import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostHealth } from './model.ts';
import { checkTakeDown, groupStatus, hostHealth, sameHost, type GroupDef, type HealthInputs } from './redundancy.ts';

const NOW = new Date('2026-11-23T12:00:00Z');
const reporting = { up: true, lastReportAt: '2026-11-23T11:59:50.000Z' };

const inputs = (over: Partial<HealthInputs> = {}): HealthInputs => ({ host: 'mgmt1', monitor: reporting, checks: [], alerts: [], ...over });

describe('hostHealth', () => {
  it('healthy while the agent reports and nothing critical fires; warnings do not count', () => {
    const h = hostHealth(inputs({ checks: [{ check: 'filesystem:/', status: 'warning', summary: '/ is 82 % full' }], alerts: [{ alertname: 'LoadHigh', severity: 'warning', summary: 'load', silenced: false }] }), NOW);
    assert.equal(h.state, 'healthy');
    assert.equal(h.reason, 'agent reporting (last report 10s ago); no critical alert or check');
  });

  it('down when the hub marks the agent silent (the HostDown rule), naming how long', () => {
    const h = hostHealth(inputs({ monitor: { up: false, lastReportAt: '2026-11-23T11:55:00.000Z' } }), NOW);
    assert.deepEqual(h, { state: 'down', reason: 'its agent has not reported for 5m (last report 2026-11-23T11:55:00.000Z)' });
  });

  it('down when HostDown fires, even for a host the hub has not heard of since a restart', () => {
    const alert = { alertname: 'HostDown', severity: 'critical', summary: 'mgmt1 is down: its agent has stopped reporting', silenced: false };
    assert.deepEqual(hostHealth(inputs({ monitor: undefined, alerts: [alert] }), NOW), { state: 'down', reason: 'alert HostDown is firing: mgmt1 is down: its agent has stopped reporting' });
    assert.equal(hostHealth(inputs({ alerts: [alert] }), NOW).state, 'down');
  });

  it('unknown when the hub never heard of it', () => {
    const h = hostHealth(inputs({ monitor: undefined }), NOW);
    assert.equal(h.state, 'unknown');
    assert.match(h.reason, /^no report from the Keisan agent on mgmt1 since the server started/);
  });

  it('degraded by a critical alert (silenced ones too, marked) before a critical check', () => {
    const h = hostHealth(
      inputs({
        alerts: [
          { alertname: 'FilesystemAlmostFull', severity: 'critical', summary: '/var on mgmt1 is 93.0 % full', silenced: true },
          { alertname: 'ProcessDown', severity: 'critical', summary: 'slapd is not running', silenced: false },
        ],
        checks: [{ check: 'process:slapd', status: 'critical', summary: 'slapd is not running' }],
      }),
      NOW,
    );
    assert.deepEqual(h, { state: 'degraded', reason: 'critical alert FilesystemAlmostFull (silenced): /var on mgmt1 is 93.0 % full (and 1 more)' });
    const byCheck = hostHealth(inputs({ checks: [{ check: 'process:slapd', status: 'critical', summary: 'slapd is not running on mgmt1' }] }), NOW);
    assert.deepEqual(byCheck, { state: 'degraded', reason: 'check process:slapd is critical: slapd is not running on mgmt1' });
  });
});

describe('sameHost', () => {
  it('matches ignoring case and a missing domain, not two different qualified names', () => {
    assert.ok(sameHost('LOGIN1', 'login1'));
    assert.ok(sameHost('login1', 'login1.hpc.example.org'));
    assert.ok(sameHost('login1.hpc.example.org', 'login1'));
    assert.ok(!sameHost('login1.a.org', 'login1.b.org'));
    assert.ok(!sameHost('login1', 'login10'));
  });
});

const healthy: HostHealth = { state: 'healthy', reason: 'fine' };
const down: HostHealth = { state: 'down', reason: 'its agent has not reported for 5m' };
const degraded: HostHealth = { state: 'degraded', reason: 'check process:slapd is critical' };
const unknown: HostHealth = { state: 'unknown', reason: 'no report' };
const healthOf = (map: Record<string, HostHealth>) => (host: string) => map[host] ?? healthy;

const management: GroupDef = { name: 'management', members: ['mgmt1', 'mgmt2'], minHealthy: 1 };
const auth: GroupDef = { name: 'authentication', members: ['auth1', 'auth2', 'auth3'], minHealthy: 2 };
const login: GroupDef = { name: 'login', members: ['login1', 'login2', 'login3', 'login4'], minHealthy: 1 };
const GROUPS = [management, auth, login];

describe('groupStatus', () => {
  it('OK with a spare, AT-RISK with an unhealthy member or no spare, BROKEN below the minimum', () => {
    assert.deepEqual(groupStatus(management, healthOf({})), { healthy: 2, total: 2, state: 'OK', reason: '2 of 2 healthy (minimum 1)' });
    assert.deepEqual(groupStatus(management, healthOf({ mgmt2: down })), { healthy: 1, total: 2, state: 'AT-RISK', reason: '1 of 2 healthy (minimum 1): mgmt2 is down' });
    assert.deepEqual(groupStatus(management, healthOf({ mgmt1: degraded, mgmt2: unknown })), {
      healthy: 0,
      total: 2,
      state: 'BROKEN',
      reason: '0 of 2 healthy (minimum 1): mgmt1 is degraded, mgmt2 is of unknown health',
    });
    assert.equal(groupStatus(auth, healthOf({ auth3: down })).state, 'AT-RISK');
    assert.equal(groupStatus(auth, healthOf({ auth3: down, auth1: degraded })).state, 'BROKEN');
    assert.deepEqual(groupStatus({ name: 'storage', members: ['s1', 's2'], minHealthy: 2 }, healthOf({})), {
      healthy: 2,
      total: 2,
      state: 'AT-RISK',
      reason: '2 of 2 healthy (minimum 2): no spare, losing any member breaks it',
    });
  });
});

describe('checkTakeDown (the redundancy guard)', () => {
  it('allows one of a healthy pair, and says what is left', () => {
    const result = checkTakeDown(GROUPS, healthOf({}), ['mgmt1']);
    assert.equal(result.allowed, true);
    assert.deepEqual(result.refusals, []);
    assert.deepEqual(result.groups, [{ group: 'management', targets: ['mgmt1'], total: 2, minHealthy: 1, healthyNow: 2, healthyAfter: 1 }]);
  });

  it('refuses both halves of the management pair at once', () => {
    const result = checkTakeDown(GROUPS, healthOf({}), ['mgmt1', 'mgmt2']);
    assert.equal(result.allowed, false);
    assert.deepEqual(result.refusals, [
      {
        group: 'management',
        kind: 'below-minimum',
        hosts: ['mgmt1', 'mgmt2'],
        reason: 'taking down mgmt1 and mgmt2 would leave group management with 0 of 2 healthy (minimum 1): mgmt1 and mgmt2 are all targets',
      },
    ]);
  });

  it('refuses one half while the partner is already down: counted, and the partner rule', () => {
    const result = checkTakeDown(GROUPS, healthOf({ mgmt2: down }), ['mgmt1']);
    assert.equal(result.allowed, false);
    assert.deepEqual(
      result.refusals.map((r) => [r.kind, r.reason]),
      [
        ['below-minimum', 'taking down mgmt1 would leave group management with 0 of 2 healthy (minimum 1): mgmt2 is already down (its agent has not reported for 5m)'],
        ['partner-unhealthy', "mgmt1's partner in group management, mgmt2, is down (its agent has not reported for 5m): act on mgmt1 only once mgmt2 is healthy again"],
      ],
    );
  });

  it('a degraded or unknown partner is not relied on either', () => {
    for (const h of [degraded, unknown]) {
      const result = checkTakeDown(GROUPS, healthOf({ mgmt2: h }), ['mgmt1']);
      assert.equal(result.allowed, false);
      assert.deepEqual(result.refusals.map((r) => r.kind), ['below-minimum', 'partner-unhealthy']);
    }
  });

  it('authentication 2 of 3: one may go while all are healthy, not while another is unhealthy', () => {
    assert.equal(checkTakeDown(GROUPS, healthOf({}), ['auth1']).allowed, true);
    const refused = checkTakeDown(GROUPS, healthOf({ auth3: degraded }), ['auth1']);
    assert.deepEqual(refused.refusals, [
      {
        group: 'authentication',
        kind: 'below-minimum',
        hosts: ['auth1'],
        reason: 'taking down auth1 would leave group authentication with 1 of 3 healthy (minimum 2): auth3 is degraded (check process:slapd is critical)',
      },
    ]);
    assert.equal(checkTakeDown(GROUPS, healthOf({}), ['auth1', 'auth2']).allowed, false);
  });

  it('login 1 of N: all but one may go; the last healthy one may not', () => {
    assert.equal(checkTakeDown(GROUPS, healthOf({}), ['login1', 'login2', 'login3']).allowed, true);
    const last = checkTakeDown(GROUPS, healthOf({ login4: down }), ['login1', 'login2', 'login3']);
    assert.equal(last.allowed, false);
    assert.match(last.refusals[0]!.reason, /^taking down login1, login2 and login3 would leave group login with 0 of 4 healthy \(minimum 1\): login1, login2 and login3 are all targets; login4 is already down/);
  });

  it('taking down a host that is already down costs nothing', () => {
    const result = checkTakeDown(GROUPS, healthOf({ auth1: down }), ['auth1']);
    assert.equal(result.allowed, true);
    assert.deepEqual(result.groups[0], { group: 'authentication', targets: ['auth1'], total: 3, minHealthy: 2, healthyNow: 2, healthyAfter: 2 });
  });

  it('takes the health as a map too; a member missing from it is of unknown health', () => {
    const result = checkTakeDown(GROUPS, new Map([['mgmt1', healthy]]), ['mgmt1']);
    assert.equal(result.allowed, false);
    assert.equal(result.refusals[0]!.reason, 'taking down mgmt1 would leave group management with 0 of 2 healthy (minimum 1): mgmt2\'s health is unknown (no health is known for mgmt2)');
    assert.equal(groupStatus(management, new Map([['mgmt1', healthy], ['mgmt2', healthy]])).state, 'OK');
  });

  it('targets in no group are allowed; names are compared lower-case; unknown ones are listed', () => {
    const result = checkTakeDown(GROUPS, healthOf({}), ['NODE7', 'node7', 'mgmt1'], (host) => host !== 'node7');
    assert.equal(result.allowed, true);
    assert.deepEqual(result.targets, ['node7', 'mgmt1']);
    assert.deepEqual(result.unknownTargets, ['node7']);
  });

  it('refuses in every group a target would break, one refusal per group', () => {
    const groups = [...GROUPS, { name: 'web', members: ['mgmt1', 'web1'], minHealthy: 2 }];
    const result = checkTakeDown(groups, healthOf({}), ['mgmt1', 'mgmt2']);
    assert.deepEqual(result.refusals.map((r) => [r.group, r.kind]), [
      ['management', 'below-minimum'],
      ['web', 'below-minimum'],
    ]);
  });
});
