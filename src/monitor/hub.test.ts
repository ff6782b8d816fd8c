import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MonitorHub } from './hub.ts';
import { SeriesStore } from './series.ts';
import type { AgentReport } from './model.ts';

const T0 = Date.parse('2026-11-23T00:00:00Z');

function report(host: string, at: number, extra: Partial<AgentReport> = {}): AgentReport {
  return { host, at: new Date(at).toISOString(), samples: [], checks: [], ...extra };
}

describe('MonitorHub', () => {
  it('keeps samples per host, stamped with the server clock, and selects by label matchers and time', () => {
    const hub = new MonitorHub({ retentionMs: 60_000, maxSeries: 1000, staleAfterMs: 45_000 });
    hub.ingest(report('n1', T0 - 999_999, { samples: [{ name: 'node_load1', labels: {}, value: 1.5 }] }), T0);
    hub.ingest(report('n2', T0, { samples: [{ name: 'node_load1', labels: {}, value: 3 }] }), T0 + 1000);
    hub.ingest(report('n1', T0, { samples: [{ name: 'node_load1', labels: {}, value: 2 }] }), T0 + 15_000);
    const n1 = hub.reader.select('node_load1', [{ name: 'host', op: '=', value: 'n1' }], T0, T0 + 20_000);
    assert.deepEqual(n1, [{ name: 'node_load1', labels: { host: 'n1' }, points: [{ t: T0, v: 1.5 }, { t: T0 + 15_000, v: 2 }] }]);
    assert.equal(hub.reader.select('node_load1', [{ name: 'host', op: '=~', value: 'n.' }], T0, T0 + 20_000).length, 2);
    assert.equal(hub.reader.select('node_load1', [{ name: 'host', op: '!~', value: 'n1|n2' }], T0, T0 + 20_000).length, 0);
    assert.equal(hub.reader.select('node_load1', [], T0 + 2000, T0 + 10_000).length, 0);
  });

  it('turns check results into keisan_check_status and keisan_check_value, and keeps the latest per check', () => {
    const hub = new MonitorHub({ retentionMs: 60_000, maxSeries: 1000, staleAfterMs: 45_000 });
    const check = { check: 'filesystem:/data', type: 'filesystem', target: '/data', summary: '/data is 91 % full', value: 91, details: {}, at: new Date(T0).toISOString(), durationMs: 1 };
    hub.ingest(report('n1', T0, { checks: [{ ...check, status: 'ok', value: 10 }] }), T0);
    hub.ingest(report('n1', T0, { checks: [{ ...check, status: 'critical' }] }), T0 + 5000);
    const status = hub.reader.select('keisan_check_status', [{ name: 'type', op: '=', value: 'filesystem' }], T0, T0 + 5000);
    assert.deepEqual(status[0]?.points.map((p) => p.v), [0, 2]);
    assert.deepEqual(status[0]?.labels, { host: 'n1', check: 'filesystem:/data', type: 'filesystem', target: '/data' });
    assert.deepEqual(hub.reader.select('keisan_check_value', [], T0, T0 + 5000)[0]?.points.map((p) => p.v), [10, 91]);
    assert.equal(hub.check('n1', 'filesystem:/data')?.status, 'critical');
    assert.equal(hub.latestChecks().length, 1);
  });

  it('marks a host down once its reports stop, and trims history past the retention', () => {
    const hub = new MonitorHub({ retentionMs: 60_000, maxSeries: 1000, staleAfterMs: 45_000 });
    hub.ingest(report('n1', T0, { samples: [{ name: 'node_load1', labels: {}, value: 1 }] }), T0);
    hub.tick(T0 + 30_000);
    assert.equal(hub.hosts(T0 + 30_000)[0]?.up, true);
    hub.tick(T0 + 50_000);
    assert.equal(hub.hosts(T0 + 50_000)[0]?.up, false);
    assert.deepEqual(hub.reader.select('up', [], T0, T0 + 50_000)[0]?.points.map((p) => p.v), [1, 0]);
    hub.tick(T0 + 100_000);
    assert.equal(hub.reader.select('node_load1', [], 0, T0 + 100_000).length, 0, 'a point older than the retention is gone');
  });

  it('refuses new series beyond the limit instead of growing without bound', () => {
    const hub = new MonitorHub({ retentionMs: 60_000, maxSeries: 3, staleAfterMs: 45_000 });
    hub.ingest(report('n1', T0, { samples: Array.from({ length: 10 }, (_, i) => ({ name: 'x', labels: { i: String(i) }, value: i })) }), T0);
    assert.equal(hub.series.size, 3);
    assert.ok(hub.series.refusedSeries >= 7);
  });

  it('keeps exactly the points inside the retention through many appends, trims, compactions and growth', () => {
    const store = new SeriesStore({ retentionMs: 100_000, maxSeries: 10 });
    for (let step = 0; step < 2000; step++) {
      const now = T0 + step * 1000;
      store.append([{ name: 'x', labels: {}, value: step }], now, { host: 'n1' });
      if (step % 7 === 0) store.trim(now);
      const [series] = store.select('x', [], 0, now);
      const firstKept = step % 7 === 0 ? Math.max(0, step - 100) : undefined;
      if (firstKept !== undefined) assert.equal(series!.points[0]!.v, firstKept, `after the trim at step ${step}`);
      assert.equal(series!.points.at(-1)!.v, step);
      for (let i = 1; i < series!.points.length; i++) assert.equal(series!.points[i]!.v, series!.points[i - 1]!.v + 1, 'no point lost or repeated');
    }
    const window = store.select('x', [], T0 + 1950_000, T0 + 1960_000)[0]!.points.map((p) => p.v);
    assert.deepEqual(window, Array.from({ length: 11 }, (_, i) => 1950 + i));
  });
});
