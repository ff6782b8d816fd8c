import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { parseSettings } from '../../lib/config.ts';
import { SeriesStore } from '../series.ts';
import { DEFAULT_RULES } from './default-rules.ts';
import { asVector, evaluate } from './evaluate.ts';
import { parseExpr } from './expr.ts';
import { effectiveRules } from './rules.ts';
import { renderTemplate, templateProblem } from './template.ts';

const load = (alerts: Record<string, unknown>) => parseSettings({ monitor: { alerts } }, 'keisan.yaml');
const refusal = (alerts: Record<string, unknown>) => {
  try {
    load(alerts);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  assert.fail('expected the settings to be refused');
};

describe('alert rules in keisan.yaml', () => {
  it('the defaults parse, have unique names, and render their templates', () => {
    const names = DEFAULT_RULES.map((r) => r.name);
    assert.equal(new Set(names).size, names.length);
    for (const rule of DEFAULT_RULES) {
      assert.doesNotThrow(() => parseExpr(rule.expr), rule.name);
      assert.equal(templateProblem(rule.summary), null, rule.name);
      assert.equal(templateProblem(rule.description), null, rule.name);
    }
    const rules = effectiveRules(load({}).monitor.alerts.rules);
    assert.deepEqual(rules.map((r) => r.name), names);
    assert.deepEqual(rules.filter((r) => r.intervalMs !== null).map((r) => [r.name, r.intervalMs]), [['FilesystemFillingUp', 60_000], ['FilesystemFillingUpFast', 60_000]], 'the costly predictions run once a minute');
    assert.ok(rules.every((r) => r.origin === 'default'));
  });

  it('adds rules, changes defaults by name (only the fields given) and turns them off', () => {
    const settings = load({
      rules: [
        { name: 'HostDown', for: '1m', labels: { team: 'hpc' } },
        { name: 'GpuHot', disabled: true },
        { name: 'SlurmdDown', expr: 'keisan_check_status{check="process:slurmd"} >= 2', severity: 'critical', summary: 'slurmd down on {{ $labels.host }}' },
        { name: 'LoadHigh', expr: 'node_load15 > 64', for: '10m', interval: '30s', severity: 'info' },
      ],
    });
    const rules = effectiveRules(settings.monitor.alerts.rules);
    const hostDown = rules.find((r) => r.name === 'HostDown')!;
    assert.deepEqual([hostDown.forMs, hostDown.labels, hostDown.expr, hostDown.severity, hostDown.origin], [60_000, { team: 'hpc' }, 'up{job="agent"} == 0', 'critical', 'default, changed in settings']);
    assert.equal(rules.some((r) => r.name === 'GpuHot'), false);
    const added = rules.slice(-2);
    assert.deepEqual(added.map((r) => [r.name, r.forMs, r.intervalMs, r.severity, r.origin]), [['SlurmdDown', 0, null, 'critical', 'settings'], ['LoadHigh', 600_000, 30_000, 'info', 'settings']]);
    assert.equal(added[1]?.summary, 'LoadHigh on {{ $labels.host }}', 'a default summary');
  });

  it('a broken expression is a config error naming the rule and the position', () => {
    assert.equal(
      refusal({ rules: [{ name: 'DiskBusy', expr: 'rate(node_disk_io_time_seconds_total[5m]) > )', severity: 'warning' }] }),
      "keisan.yaml: monitor.alerts.rules.0.expr: rule 'DiskBusy': unexpected ')' at column 45: expected a number, a metric name or '('",
    );
    assert.equal(
      refusal({ rules: [{ name: 'HostDown', expr: 'rate(up)' }] }),
      "keisan.yaml: monitor.alerts.rules.0.expr: rule 'HostDown': argument 1 of rate() must be a range vector at column 6: not an instant vector; add a range, e.g. up[5m]",
    );
    assert.match(refusal({ rules: [{ name: 'New' }] }), /rules\.0\.expr: rule 'New' is not a default rule, so it needs an expr; monitor\.alerts\.rules\.0\.severity: rule 'New' needs a severity/);
    assert.match(refusal({ rules: [{ name: 'X', expr: 'up', severity: 'warning', for: 'soon' }] }), /rules\.0\.for: rule 'X': 'soon' is not a duration/);
    assert.match(refusal({ rules: [{ name: 'X', expr: 'up', severity: 'warning', interval: 'often' }] }), /rules\.0\.interval: rule 'X': 'often' is not a duration/);
    assert.match(refusal({ rules: [{ name: 'X', expr: 'up', severity: 'warning', summary: '{{ $labels }}' }] }), /rules\.0\.summary: rule 'X': '\{\{ \$labels \}\}' at column 1: write \{\{ \$value \}\}/);
    assert.match(refusal({ rules: [{ name: 'X', expr: 'up', severity: 'page' }] }), /rules\.0\.severity/);
    assert.match(refusal({ rules: [{ name: 'HostDown', for: '1m' }, { name: 'HostDown', for: '2m' }] }), /rule 'HostDown' is given twice/);
    assert.match(refusal({ rules: [{ name: 'bad name', expr: 'up', severity: 'info' }] }), /a rule name/);
    assert.match(refusal({ inhibit: [{ source: ['alertname'] }] }), /inhibit\.0\.source\.0: 'alertname' is not a matcher/);
    assert.match(refusal({ notify: { webhooks: [{ url: 'ftp://x' }] } }), /webhooks\.0\.url/);
    assert.match(refusal({ notify: { email: ['not-an-address'] } }), /notify\.email\.0: not a valid e-mail address/);
    assert.match(refusal({ group: { wait: 'forever' } }), /group\.wait/);
    assert.match(refusal({ alertmanagerToken: 'short' }), /alertmanagerToken: at least 16 characters/);
  });

  it('settings have sensible defaults', () => {
    const alerts = load({}).monitor.alerts;
    assert.deepEqual(
      [alerts.evaluationInterval, alerts.lookback, alerts.group, alerts.notify.minSeverity, alerts.notify.operators, alerts.inhibit.length],
      [5_000, 300_000, { by: ['alertname', 'host'], wait: 10_000, interval: 60_000, repeat: 14_400_000 }, 'warning', true, 3],
    );
  });
});

describe('alert templates', () => {
  const data = { labels: { host: 'node7', mountpoint: '/data' }, value: 91.23456, summary: '/data is 91.2 % full on node7' };
  it('renders labels, the value, the check summary and pipes', () => {
    assert.equal(renderTemplate('{{ $labels.mountpoint }} on {{$labels.host}} is {{ $value | printf "%.1f" }} % full', data), '/data on node7 is 91.2 % full');
    assert.equal(renderTemplate('{{ $summary }} ({{ $value }})', data), '/data is 91.2 % full on node7 (91.2346)');
    assert.equal(renderTemplate('{{ $labels.nothing }}|', data), '|');
    assert.equal(renderTemplate('{{ $value | humanize }}', { ...data, value: 1_234_567 }), '1.23M');
    assert.equal(renderTemplate('{{ $value | humanize1024 }}', { ...data, value: 3 * 1024 ** 3 }), '3.0 GiB');
    assert.equal(renderTemplate('{{ $value | humanizePercentage }}', { ...data, value: 0.256 }), '25.6%');
    assert.equal(renderTemplate('{{ $value | humanizeDuration }}', { ...data, value: 3_700 }), '1h1m40s');
  });
  it('names what is wrong in a template', () => {
    assert.equal(templateProblem('{{ $value | shout }}'), `'{{ $value | shout }}': unknown '| shout': use humanize, humanize1024, humanizePercentage, humanizeDuration or printf "%.1f"`);
    assert.equal(templateProblem('{{ .Labels.host }}'), "'{{ .Labels.host }}' at column 1: write {{ $value }}, {{ $summary }} or {{ $labels.NAME }}");
    assert.equal(templateProblem('{{ $value'), "unbalanced '{{' or '}}'");
  });
});

describe('default rules on realistic series', () => {
  let clock: ManualClock;
  let store: SeriesStore;
  beforeEach(() => {
    clock = new ManualClock('2026-11-23T08:00:00Z');
    store = new SeriesStore({ retentionMs: 6 * 3_600_000, maxSeries: 10_000 });
  });
  const fired = (name: string) => {
    const rule = effectiveRules([]).find((r) => r.name === name)!;
    return asVector(evaluate(rule.ast, { reader: store, nowMs: clock.now().getTime() })).map((s) => Object.fromEntries(Object.entries(s.labels).filter(([k]) => k !== '__name__')));
  };
  it('FilesystemAlmostFull ignores tmpfs, read-only and healthy filesystems; FilesFillingUp / FilesAlmostOut work on inodes', () => {
    const fs = (mountpoint: string, fstype: string, avail: number, readonly = 0, filesFree = 1000) => [
      { name: 'node_filesystem_avail_bytes', labels: { device: 'd', fstype, mountpoint }, value: avail },
      { name: 'node_filesystem_size_bytes', labels: { device: 'd', fstype, mountpoint }, value: 100 },
      { name: 'node_filesystem_readonly', labels: { device: 'd', fstype, mountpoint }, value: readonly },
      { name: 'node_filesystem_files_free', labels: { device: 'd', fstype, mountpoint }, value: filesFree },
      { name: 'node_filesystem_files', labels: { device: 'd', fstype, mountpoint }, value: 1000 },
    ];
    store.append([...fs('/data', 'ext4', 10), ...fs('/run', 'tmpfs', 1), ...fs('/iso', 'iso9660', 0, 1), ...fs('/home', 'xfs', 50, 0, 10), ...fs('/fuse', 'fuse.sshfs', 1)], clock.now().getTime(), { host: 'node1' });
    assert.deepEqual(fired('FilesystemAlmostFull'), [{ device: 'd', fstype: 'ext4', host: 'node1', mountpoint: '/data' }]);
    assert.deepEqual(fired('FilesystemFilesAlmostOut'), [{ device: 'd', fstype: 'xfs', host: 'node1', mountpoint: '/home' }]);
  });
  it('HostDown, CheckCritical and CheckWarning read the hub series', () => {
    store.append([{ name: 'up', labels: { job: 'agent' }, value: 0 }], clock.now().getTime(), { host: 'node2' });
    store.append([{ name: 'up', labels: { job: 'agent' }, value: 1 }], clock.now().getTime(), { host: 'node1' });
    store.append(
      [
        { name: 'keisan_check_status', labels: { check: 'raid:md0', type: 'raid', target: 'md0' }, value: 2 },
        { name: 'keisan_check_status', labels: { check: 'time-drift', type: 'time-drift', target: '' }, value: 1 },
        { name: 'keisan_check_status', labels: { check: 'ssh:22', type: 'ssh', target: '22' }, value: 3 },
      ],
      clock.now().getTime(),
      { host: 'node1' },
    );
    assert.deepEqual(fired('HostDown'), [{ host: 'node2', job: 'agent' }]);
    assert.deepEqual(fired('CheckCritical').map((l) => l.check).sort(), ['raid:md0', 'ssh:22']);
    assert.deepEqual(fired('CheckWarning').map((l) => l.check), ['time-drift']);
  });
});

describe('the facility file template', () => {
  it('its monitor.alerts example is valid once uncommented', async () => {
    const { DEFAULT_FACILITY_FILE } = await import('../../server/facility.ts');
    const { parseYaml } = await import('../../lib/config.ts');
    const block = DEFAULT_FACILITY_FILE.slice(DEFAULT_FACILITY_FILE.indexOf('# monitor:\n')).split('\n\n')[0]!;
    const text = block.split('\n').map((line) => line.replace(/^# /, '')).join('\n');
    const alerts = parseSettings(parseYaml(text, 'keisan.yaml'), 'keisan.yaml').monitor.alerts;
    assert.deepEqual(effectiveRules(alerts.rules).map((r) => r.name).slice(-1), ['SlurmdDown']);
    assert.deepEqual(alerts.notify.webhooks.map((w) => w.format), ['slack', 'json']);
    assert.equal(alerts.alertmanagerToken, 'a-long-random-token');
  });
});
