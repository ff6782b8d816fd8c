import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { DEFAULT_INHIBIT } from './default-rules.ts';
import {
  alertLabels,
  compileInhibit,
  fingerprint,
  inhibitedBy,
  parseMatcher,
  planNotifications,
  silencedBy,
  silenceState,
  stepRule,
  type Alert,
  type Group,
  type NotifiableAlert,
  type RuleResult,
} from './state.ts';

const rule = { name: 'FilesystemAlmostFull', forMs: 30_000, severity: 'critical' as const, labels: {} };
const result = (host: string, value = 91): RuleResult => ({ labels: alertLabels(rule, { __name__: 'x', host, mountpoint: '/data' }), value, summary: `/data on ${host} is ${value} % full`, description: '' });

describe('alert state machine', () => {
  it('inactive → pending → firing → resolved, with `for`, and a new alert when it comes back', () => {
    const clock = new ManualClock();
    const t = () => clock.now().getTime();
    let step = stepRule(rule, [], [result('n1')], t());
    assert.deepEqual(step.transitions.map((x) => [x.from, x.to]), [['inactive', 'pending']]);
    const [pending] = step.alerts;
    assert.equal(pending?.state, 'pending');
    assert.deepEqual(pending?.labels, { host: 'n1', mountpoint: '/data', alertname: 'FilesystemAlmostFull', severity: 'critical' });
    assert.equal(pending?.fingerprint, fingerprint('FilesystemAlmostFull', pending!.labels));

    clock.advance(29_999);
    step = stepRule(rule, step.alerts, [result('n1', 92)], t());
    assert.deepEqual(step.transitions, [], 'for has not elapsed');
    assert.equal(step.alerts[0]?.value, 92);
    assert.equal(step.alerts[0]?.summary, '/data on n1 is 92 % full', 'the summary follows the value');

    clock.advance(1);
    step = stepRule(rule, step.alerts, [result('n1', 93)], t());
    assert.deepEqual(step.transitions.map((x) => [x.from, x.to]), [['pending', 'firing']]);
    assert.equal(step.alerts[0]?.firedAt, t());
    assert.equal(step.alerts[0]?.startedAt, t() - 30_000);

    clock.advance(5_000);
    step = stepRule(rule, step.alerts, [], t());
    assert.deepEqual(step.transitions.map((x) => [x.from, x.to]), [['firing', 'resolved']]);
    assert.equal(step.alerts[0]?.resolvedAt, t());
    const resolvedFingerprint = step.alerts[0]?.fingerprint;

    clock.advance(5_000);
    step = stepRule(rule, step.alerts, [], t());
    assert.deepEqual([step.alerts.map((a) => a.state), step.transitions], [['resolved'], []], 'kept, unchanged, until its resolution is notified');
    step = stepRule(rule, step.alerts, [result('n1')], t());
    assert.deepEqual(step.transitions.map((x) => [x.from, x.to]), [['inactive', 'pending']], 'a resolved alert is history: the condition again starts a new one');
    assert.equal(step.alerts[0]?.fingerprint, resolvedFingerprint, 'with the same fingerprint');
  });

  it('a pending alert whose condition goes away becomes inactive (never fired, nothing to resolve)', () => {
    const first = stepRule(rule, [], [result('n1')], 0);
    const gone = stepRule(rule, first.alerts, [], 10_000);
    assert.deepEqual(gone.alerts, []);
    assert.deepEqual(gone.transitions.map((x) => [x.from, x.to]), [['pending', 'inactive']]);
  });

  it('for: 0s fires at once; the same labels twice make one alert; different labels make two', () => {
    const now = stepRule({ ...rule, forMs: 0 }, [], [result('n1'), result('n1', 99), result('n2')], 0);
    assert.deepEqual(now.alerts.map((a) => [a.labels.host, a.state, a.value]), [['n1', 'firing', 91], ['n2', 'firing', 91]]);
    assert.deepEqual(now.transitions.map((x) => x.to), ['firing', 'firing']);
  });

  it('holds restored alerts whose series are not back yet until the grace ends', () => {
    const fired = stepRule({ ...rule, forMs: 0 }, [], [result('n1')], 0).alerts;
    const held = stepRule(rule, fired, [], 1_000, { holdUntilMs: 60_000 });
    assert.deepEqual(held.transitions, []);
    assert.equal(held.alerts[0]?.state, 'firing');
    const after = stepRule(rule, held.alerts, [], 60_000, { holdUntilMs: 60_000 });
    assert.equal(after.alerts[0]?.state, 'resolved');
    const kept = stepRule(rule, fired, [], 120_000, { hold: (a) => a.labels.host === 'n1' });
    assert.deepEqual([kept.alerts[0]?.state, kept.transitions], ['firing', []], 'a hold predicate keeps it too');
  });
});

describe('silences and inhibition', () => {
  it('a silence mutes alerts matching all its matchers while active, then expires', () => {
    const labels = { alertname: 'CheckCritical', host: 'node1', check: 'process:sshd', severity: 'critical' };
    const silence = { id: 7, matchers: [parseMatcher('host=node1')!, parseMatcher('alertname=~"Check.*"')!], startsAt: 1_000, endsAt: 2 * 3_600_000 };
    assert.deepEqual(silencedBy(labels, [silence], 0), [], 'not started yet');
    assert.equal(silenceState(silence, 0), 'pending');
    assert.deepEqual(silencedBy(labels, [silence], 1_000), [7]);
    assert.deepEqual(silencedBy({ ...labels, host: 'node2' }, [silence], 1_000), []);
    assert.deepEqual(silencedBy(labels, [silence, { ...silence, id: 8, matchers: [parseMatcher('check!=process:sshd')!] }], 1_000), [7]);
    assert.deepEqual(silencedBy(labels, [silence], 2 * 3_600_000), [], 'expired');
    assert.equal(silenceState(silence, 2 * 3_600_000), 'expired');
    assert.equal(parseMatcher('not a matcher'), null);
    assert.deepEqual(parseMatcher(' severity != "info" '), { name: 'severity', op: '!=', value: 'info' });
  });

  it('a host down inhibits every other alert of that host, not of others, not itself', () => {
    const rules = compileInhibit(DEFAULT_INHIBIT);
    const alert = (name: string, host: string, extra: Record<string, string> = {}, state: Alert['state'] = 'firing') => {
      const labels = { alertname: name, host, severity: 'critical', ...extra };
      return { fingerprint: fingerprint(name, labels), labels, state };
    };
    const down = alert('HostDown', 'node1');
    const check = alert('CheckCritical', 'node1', { check: 'process:sshd', type: 'process' });
    const elsewhere = alert('CheckCritical', 'node2', { check: 'process:sshd', type: 'process' });
    const all = [down, check, elsewhere];
    assert.deepEqual(inhibitedBy(check, all, rules), [down.fingerprint]);
    assert.deepEqual(inhibitedBy(elsewhere, all, rules), []);
    assert.deepEqual(inhibitedBy(down, all, rules), []);
    assert.deepEqual(inhibitedBy(check, [{ ...down, state: 'pending' }, check], rules), [], 'only a firing alert inhibits');
    const full = alert('FilesystemAlmostFull', 'node1', { mountpoint: '/data' });
    const fsCheck = alert('CheckCritical', 'node1', { check: 'filesystem:/data', type: 'filesystem' });
    assert.deepEqual(inhibitedBy(fsCheck, [full, fsCheck], rules), [full.fingerprint], 'the metric rule mutes the duplicate check alert');
    assert.deepEqual(inhibitedBy(check, [full, check], rules), [], 'but not other checks');
  });
});

describe('notification grouping', () => {
  const settings = { by: ['alertname', 'host'], waitMs: 10_000, intervalMs: 60_000, repeatMs: 4 * 3_600_000 };
  const make = (host: string, over: Partial<NotifiableAlert> = {}): NotifiableAlert => {
    const labels = { alertname: 'CheckCritical', host, check: 'process:sshd', severity: 'critical' };
    return { id: 1, fingerprint: fingerprint('CheckCritical', labels), source: 'rule', rule: 'CheckCritical', labels, severity: 'critical', state: 'firing', value: 2, summary: `sshd is not running on ${host}`, description: '', startedAt: 0, firedAt: 0, resolvedAt: null, lastEvalAt: 0, notified: null, notifiedAt: null, muted: false, ...over };
  };
  /** Marks what a notification said on the alerts, as the service does. */
  const delivered = (alerts: NotifiableAlert[], sent: ReturnType<typeof planNotifications>['notifications'], at: number) =>
    alerts.map((a) => {
      for (const n of sent) {
        if (n.firing.some((f) => f.fingerprint === a.fingerprint)) return { ...a, notified: 'firing' as const, notifiedAt: at };
        if (n.resolved.some((f) => f.fingerprint === a.fingerprint)) return { ...a, notified: 'resolved' as const, notifiedAt: at };
      }
      return a;
    });

  it('waits group_wait, then sends; changes wait group_interval; repeats after repeat_interval; sends resolved', () => {
    let groups: Map<string, Group> = new Map();
    let alerts = [make('n1')];
    let plan = planNotifications(groups, alerts, 0, settings);
    assert.deepEqual(plan.notifications, [], 'group_wait');
    groups = plan.groups;
    plan = planNotifications(groups, alerts, 9_999, settings);
    assert.deepEqual(plan.notifications, []);
    plan = planNotifications(plan.groups, alerts, 10_000, settings);
    assert.equal(plan.notifications.length, 1);
    assert.deepEqual(plan.notifications[0]?.groupLabels, { alertname: 'CheckCritical', host: 'n1' });
    alerts = delivered(alerts, plan.notifications, 10_000);
    groups = plan.groups;

    // A second alert in the same group (same alertname and host) waits for group_interval.
    const second = make('n1', { labels: { alertname: 'CheckCritical', host: 'n1', check: 'duplicate-ip:eth0', severity: 'critical' }, fingerprint: 'second' });
    alerts = [...alerts, second];
    plan = planNotifications(groups, alerts, 30_000, settings);
    assert.deepEqual(plan.notifications, []);
    plan = planNotifications(plan.groups, alerts, 70_000, settings);
    assert.deepEqual(plan.notifications.map((n) => [n.firing.map((a) => a.fingerprint).length, n.repeat]), [[2, false]], 'both, as one message');
    alerts = delivered(alerts, plan.notifications, 70_000);
    groups = plan.groups;

    // Nothing new: nothing until repeat_interval.
    plan = planNotifications(groups, alerts, 70_000 + 3_600_000, settings);
    assert.deepEqual(plan.notifications, []);
    plan = planNotifications(plan.groups, alerts, 70_000 + 4 * 3_600_000, settings);
    assert.deepEqual(plan.notifications.map((n) => n.repeat), [true]);
    alerts = delivered(alerts, plan.notifications, 70_000 + 4 * 3_600_000);
    groups = plan.groups;

    // One resolves: a resolved notification at the next interval; then the group ends when all are resolved and sent.
    const t = 70_000 + 4 * 3_600_000 + 60_000;
    alerts = alerts.map((a) => (a.fingerprint === 'second' ? { ...a, state: 'resolved' as const, resolvedAt: t } : a));
    plan = planNotifications(groups, alerts, t, settings);
    assert.deepEqual(plan.notifications.map((n) => [n.firing.length, n.resolved.length]), [[1, 1]]);
    alerts = delivered(alerts, plan.notifications, t).filter((a) => !(a.state === 'resolved' && a.notified === 'resolved'));
    alerts = alerts.map((a) => ({ ...a, state: 'resolved' as const, resolvedAt: t + 1 }));
    plan = planNotifications(plan.groups, alerts, t + 60_000, settings);
    assert.deepEqual(plan.notifications.map((n) => [n.firing.length, n.resolved.length]), [[0, 1]]);
    alerts = delivered(alerts, plan.notifications, t + 60_000).filter((a) => !(a.state === 'resolved' && a.notified === 'resolved'));
    plan = planNotifications(plan.groups, alerts, t + 120_000, settings);
    assert.equal(plan.groups.size, 0, 'the group is gone');
  });

  it('separate hosts are separate groups; muted alerts send nothing; unnotified resolved alerts send nothing; restored notified alerts are not sent again', () => {
    let plan = planNotifications(new Map(), [make('n1'), make('n2', { fingerprint: 'b' })], 0, { ...settings, waitMs: 0 });
    assert.equal(plan.notifications.length, 2);
    plan = planNotifications(new Map(), [make('n1', { muted: true })], 0, { ...settings, waitMs: 0 });
    assert.deepEqual(plan.notifications, []);
    assert.equal(plan.groups.size, 0, 'no group is opened for muted alerts alone');
    plan = planNotifications(new Map(), [make('n1', { state: 'resolved' })], 0, { ...settings, waitMs: 0 });
    assert.deepEqual(plan.notifications, []);
    // After a restart: the alert was notified an hour ago — no new message until the repeat interval.
    plan = planNotifications(new Map(), [make('n1', { notified: 'firing', notifiedAt: 0 })], 3_600_000, settings);
    plan = planNotifications(plan.groups, [make('n1', { notified: 'firing', notifiedAt: 0 })], 3_600_000 + 10_000, settings);
    assert.deepEqual(plan.notifications, []);
  });
});
