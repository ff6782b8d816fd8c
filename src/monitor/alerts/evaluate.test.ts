import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import type { Sample } from '../model.ts';
import { SeriesStore } from '../series.ts';
import { asVector, evaluate, EvalError, extrapolatedRate, type Value } from './evaluate.ts';
import { parseExpr } from './expr.ts';

/** Evaluator tests over the server's real in-memory store, the clock moved by hand. */
describe('alert expressions: evaluation', () => {
  let clock: ManualClock;
  let store: SeriesStore;
  const now = () => clock.now().getTime();
  const push = (samples: Sample[], host = 'n1') => store.append(samples, now(), { host });
  const run = (source: string): Value => evaluate(parseExpr(source).ast, { reader: store, nowMs: now() });
  /** The result as sorted `labels => value` lines. */
  const lines = (source: string): string[] =>
    asVector(run(source))
      .map((s) => `${JSON.stringify(Object.fromEntries(Object.entries(s.labels).sort()))} => ${Number.isInteger(s.value) ? s.value : s.value.toFixed(4)}`)
      .sort();

  beforeEach(() => {
    clock = new ManualClock('2026-11-23T08:00:00Z');
    store = new SeriesStore({ retentionMs: 6 * 3_600_000, maxSeries: 10_000 });
  });

  it('an instant selector takes the latest point within 5 minutes, with matchers', () => {
    push([{ name: 'up', labels: { job: 'agent' }, value: 1 }], 'n1');
    push([{ name: 'up', labels: { job: 'agent' }, value: 0 }], 'n2');
    clock.advance(60_000);
    push([{ name: 'up', labels: { job: 'agent' }, value: 1 }], 'n2');
    assert.deepEqual(lines('up'), ['{"__name__":"up","host":"n1","job":"agent"} => 1', '{"__name__":"up","host":"n2","job":"agent"} => 1']);
    assert.deepEqual(lines('up{host="n2"}'), ['{"__name__":"up","host":"n2","job":"agent"} => 1']);
    assert.deepEqual(lines('up{host!="n2"}'), ['{"__name__":"up","host":"n1","job":"agent"} => 1']);
    assert.deepEqual(lines('up{host=~"n.*",job!~"x|y"}').length, 2);
    assert.deepEqual(lines('up{host=~"n"}'), [], 'regular expressions are anchored');
    clock.advance(4 * 60_000 + 1);
    assert.deepEqual(lines('up'), ['{"__name__":"up","host":"n2","job":"agent"} => 1'], 'n1 is past the lookback');
    assert.deepEqual(lines('nothing_here'), []);
  });

  it('comparisons filter and keep the name; bool gives 0/1 and drops it; arithmetic drops it', () => {
    push([{ name: 'keisan_check_status', labels: { check: 'process:sshd' }, value: 2 }, { name: 'keisan_check_status', labels: { check: 'ping:gw' }, value: 0 }]);
    assert.deepEqual(lines('keisan_check_status >= 2'), ['{"__name__":"keisan_check_status","check":"process:sshd","host":"n1"} => 2']);
    assert.deepEqual(lines('2 <= keisan_check_status'), ['{"__name__":"keisan_check_status","check":"process:sshd","host":"n1"} => 2'], 'scalar on the left keeps the vector value');
    assert.deepEqual(lines('keisan_check_status >= bool 2'), ['{"check":"ping:gw","host":"n1"} => 0', '{"check":"process:sshd","host":"n1"} => 1']);
    assert.deepEqual(lines('keisan_check_status * 10 + 1'), ['{"check":"ping:gw","host":"n1"} => 1', '{"check":"process:sshd","host":"n1"} => 21']);
    assert.deepEqual(lines('-keisan_check_status'), ['{"check":"ping:gw","host":"n1"} => 0', '{"check":"process:sshd","host":"n1"} => -2']);
    assert.deepEqual(lines('keisan_check_status % 2 == 0'), ['{"check":"ping:gw","host":"n1"} => 0', '{"check":"process:sshd","host":"n1"} => 0']);
    assert.deepEqual(lines('2 ^ 3 + 1'), ['{} => 9']);
    assert.deepEqual(lines('1 < bool 2'), ['{} => 1']);
    assert.deepEqual(lines('keisan_check_status != 0 == 2'), ['{"__name__":"keisan_check_status","check":"process:sshd","host":"n1"} => 2']);
  });

  it('matches vectors one-to-one on identical label sets, with on() and ignoring()', () => {
    for (const [host, avail] of [['n1', 10], ['n2', 50]] as const) {
      push(
        [
          { name: 'node_filesystem_avail_bytes', labels: { mountpoint: '/data', fstype: 'ext4' }, value: avail },
          { name: 'node_filesystem_size_bytes', labels: { mountpoint: '/data', fstype: 'ext4' }, value: 100 },
          { name: 'node_filesystem_readonly', labels: { mountpoint: '/data', fstype: 'ext4' }, value: 0 },
        ],
        host,
      );
    }
    push([{ name: 'node_uname_info', labels: { nodename: 'node-one' }, value: 1 }], 'n1');
    const used = '100 * (1 - node_filesystem_avail_bytes / node_filesystem_size_bytes)';
    assert.deepEqual(lines(`${used} > 80`), ['{"fstype":"ext4","host":"n1","mountpoint":"/data"} => 90']);
    assert.deepEqual(lines(`${used} > 80 and node_filesystem_readonly == 0`), ['{"fstype":"ext4","host":"n1","mountpoint":"/data"} => 90']);
    assert.deepEqual(lines(`${used} > 80 and node_filesystem_readonly == 1`), []);
    assert.deepEqual(lines(`${used} > 80 unless node_filesystem_readonly == 0`), []);
    assert.deepEqual(lines('node_filesystem_avail_bytes / on(host) node_uname_info'), ['{"host":"n1"} => 10']);
    assert.deepEqual(lines('node_filesystem_avail_bytes / ignoring(mountpoint, fstype) node_uname_info'), [], 'nodename differs');
    assert.deepEqual(lines('node_filesystem_avail_bytes * on(host) group_left(nodename) node_uname_info'), ['{"fstype":"ext4","host":"n1","mountpoint":"/data","nodename":"node-one"} => 10']);
    assert.deepEqual(lines('node_uname_info * on(host) group_right(nodename) node_filesystem_avail_bytes'), ['{"fstype":"ext4","host":"n1","mountpoint":"/data","nodename":"node-one"} => 10']);
    assert.deepEqual(lines('node_filesystem_avail_bytes > bool on(host, mountpoint) node_filesystem_size_bytes'), ['{"host":"n1","mountpoint":"/data"} => 0', '{"host":"n2","mountpoint":"/data"} => 0']);
    assert.deepEqual(lines('node_uname_info or node_filesystem_readonly').length, 3);
    assert.deepEqual(lines('node_uname_info or on(host) node_filesystem_readonly'), [
      '{"__name__":"node_filesystem_readonly","fstype":"ext4","host":"n2","mountpoint":"/data"} => 0',
      '{"__name__":"node_uname_info","host":"n1","nodename":"node-one"} => 1',
    ]);
  });

  it('refuses many-to-many matches at evaluation, saying which series', () => {
    push([{ name: 'a', labels: { x: '1' }, value: 1 }, { name: 'a', labels: { x: '2' }, value: 1 }, { name: 'b', labels: {}, value: 1 }]);
    assert.throws(() => run('b / on(host) a'), (error: unknown) => error instanceof EvalError && /^many-to-many matching is not allowed: a\{host="n1", x="1"\} and a\{host="n1", x="2"\}/.test(error.message));
    assert.throws(() => run('a / on(host) b'), /found duplicate series for one match: a\{host="n1", x="1"\} and a\{host="n1", x="2"\} on the left; use group_left/);
    assert.deepEqual(lines('a / on(host) group_left b'), ['{"host":"n1","x":"1"} => 1', '{"host":"n1","x":"2"} => 1']);
    // With nothing on the left, `and`/`unless` do not evaluate the right side at all.
    assert.deepEqual(lines('nothing and (a / on(host) b)'), []);
    assert.deepEqual(lines('nothing unless (b / on(host) a)'), []);
    assert.throws(() => run('b and (b / on(host) a)'), /many-to-many/);
  });

  it('aggregates with by() and without()', () => {
    for (const [cpu, busy] of [['0', 0.5], ['1', 0.9], ['all', 0.7]] as const) push([{ name: 'keisan_node_cpu_busy_ratio', labels: { cpu }, value: busy }], 'n1');
    push([{ name: 'keisan_node_cpu_busy_ratio', labels: { cpu: '0' }, value: 0.1 }], 'n2');
    const busy = 'keisan_node_cpu_busy_ratio{cpu!="all"}';
    assert.deepEqual(lines(`sum(${busy})`), ['{} => 1.5000']);
    assert.deepEqual(lines(`avg by (host) (${busy})`), ['{"host":"n1"} => 0.7000', '{"host":"n2"} => 0.1000']);
    assert.deepEqual(lines(`max(${busy}) by (host)`), ['{"host":"n1"} => 0.9000', '{"host":"n2"} => 0.1000']);
    assert.deepEqual(lines(`min without(cpu) (${busy})`), ['{"host":"n1"} => 0.5000', '{"host":"n2"} => 0.1000']);
    assert.deepEqual(lines(`count by (host) (${busy})`), ['{"host":"n1"} => 2', '{"host":"n2"} => 1']);
    assert.deepEqual(lines(`count by (nolabel) (${busy})`), ['{} => 3']);
    assert.deepEqual(lines('sum(nothing)'), []);
  });

  it('rate, increase and irate of a counter correct resets and extrapolate as Prometheus does', () => {
    // 10 per 15 s = 0.667/s, with a reset (restart) in the middle.
    const values = [100, 110, 120, 5, 15, 25];
    for (const value of values) {
      push([{ name: 'node_network_receive_errs_total', labels: { device: 'eth0' }, value }]);
      clock.advance(15_000);
    }
    clock.advance(-15_000); // evaluate at the last sample
    // Samples span 75 s of a 90 s window; the change is 25 − 100 + 120 (reset) = 45 over 75 s.
    const [rate] = asVector(run('rate(node_network_receive_errs_total[90s])'));
    assert.ok(rate);
    assert.deepEqual(rate.labels, { device: 'eth0', host: 'n1' }, 'functions drop the name');
    // Extrapolated to the window's start (15 s away: within 1.1 intervals), not past the last sample.
    assert.equal(rate.value.toFixed(6), ((45 * (90 / 75)) / 90).toFixed(6));
    assert.equal(asVector(run('increase(node_network_receive_errs_total[90s])'))[0]!.value.toFixed(4), (45 * (90 / 75)).toFixed(4));
    // A 2-minute window: the series starts 45 s after the window, so only half an interval is added.
    assert.equal(asVector(run('increase(node_network_receive_errs_total[2m])'))[0]!.value.toFixed(4), (45 * (82.5 / 75)).toFixed(4));
    assert.equal(asVector(run('irate(node_network_receive_errs_total[90s])'))[0]!.value.toFixed(4), (10 / 15).toFixed(4));
    assert.equal(asVector(run('delta(node_network_receive_errs_total[90s])'))[0]!.value.toFixed(4), (-75 * (90 / 75)).toFixed(4), 'delta does not correct resets');
    assert.deepEqual(lines('rate(node_network_receive_errs_total[10s])'), [], 'one point in the window: no rate');
    // A counter that starts inside the window is not extrapolated below zero.
    assert.equal(extrapolatedRate([{ t: 60_000, v: 10 }, { t: 120_000, v: 30 }], 120_000, 300_000, true, false)!.toFixed(4), (20 * (90 / 60)).toFixed(4));
    assert.equal(extrapolatedRate([{ t: 60_000, v: 1 }, { t: 120_000, v: 31 }], 120_000, 300_000, true, false)!.toFixed(4), (30 * (62 / 60)).toFixed(4));
  });

  it('deriv and predict_linear fit a line; *_over_time summarise the window', () => {
    // A filesystem losing 1 GB a minute: 10 GB free now.
    for (let i = 10; i >= 0; i--) {
      push([{ name: 'node_filesystem_avail_bytes', labels: { mountpoint: '/scratch' }, value: (10 + i) * 1e9 }]);
      if (i > 0) clock.advance(60_000);
    }
    assert.equal(asVector(run('deriv(node_filesystem_avail_bytes[10m])'))[0]!.value.toFixed(0), (-1e9 / 60).toFixed(0));
    assert.equal(asVector(run('predict_linear(node_filesystem_avail_bytes[10m], 5m)'))[0]!.value.toFixed(0), String(5e9));
    assert.deepEqual(lines('predict_linear(node_filesystem_avail_bytes[30m], 4h) < 0'), ['{"host":"n1","mountpoint":"/scratch"} => -230000000000']);
    assert.deepEqual(lines('predict_linear(node_filesystem_avail_bytes[30m], 600 / 60) > 0').length, 1, 'a computed scalar argument');
    assert.deepEqual(lines('avg_over_time(node_filesystem_avail_bytes[2m])'), ['{"host":"n1","mountpoint":"/scratch"} => 10500000000']);
    assert.deepEqual(lines('min_over_time(node_filesystem_avail_bytes[1h])'), ['{"host":"n1","mountpoint":"/scratch"} => 10000000000']);
    assert.deepEqual(lines('max_over_time(node_filesystem_avail_bytes[1h])'), ['{"host":"n1","mountpoint":"/scratch"} => 20000000000']);
    assert.deepEqual(lines('max_over_time(node_filesystem_avail_bytes[90s])'), ['{"host":"n1","mountpoint":"/scratch"} => 11000000000'], 'the window is (t − 90 s, t]');
  });

  it('abs, clamp_min, clamp_max, time and absent', () => {
    push([{ name: 'node_time_offset', labels: {}, value: -0.3 }]);
    assert.deepEqual(lines('abs(node_time_offset) > 0.05'), ['{"host":"n1"} => 0.3000']);
    assert.deepEqual(lines('clamp_min(node_time_offset, 0)'), ['{"host":"n1"} => 0']);
    assert.deepEqual(lines('clamp_max(node_time_offset, -1)'), ['{"host":"n1"} => -1']);
    assert.deepEqual(run('time()'), { type: 'scalar', value: now() / 1000 });
    assert.deepEqual(lines('time() - 60'), [`{} => ${now() / 1000 - 60}`]);
    assert.deepEqual(lines('absent(up{job="agent",host="n9",x=~"y"})'), ['{"host":"n9","job":"agent"} => 1']);
    assert.deepEqual(lines('absent(node_time_offset)'), []);
    assert.deepEqual(lines('absent(sum(nothing))'), ['{} => 1']);
  });
});
