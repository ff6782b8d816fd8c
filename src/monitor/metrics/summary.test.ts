import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MonitorHub } from '../hub.ts';
import type { Sample, SeriesPoint } from '../model.ts';
import { downsample, summarizeNode, summarizeSeries } from './summary.ts';

const GiB = 1024 ** 3;

function report(host: string, samples: Sample[]) {
  return { host, at: '2026-11-23T07:00:00.000Z', samples, checks: [] };
}

function nodeSamples(t: number, extra: Sample[] = []): Sample[] {
  return [
    { name: 'node_time_seconds', labels: {}, value: t / 1000 },
    { name: 'keisan_node_cpu_busy_ratio', labels: { cpu: 'all' }, value: 0.25 },
    { name: 'keisan_node_cpu_busy_ratio', labels: { cpu: '0' }, value: 0.5 },
    { name: 'node_cpu_seconds_total', labels: { cpu: '0', mode: 'idle' }, value: 100 },
    { name: 'node_cpu_seconds_total', labels: { cpu: '1', mode: 'idle' }, value: 100 },
    { name: 'node_load1', labels: {}, value: 1.5 },
    { name: 'node_memory_MemTotal_bytes', labels: {}, value: 16 * GiB },
    { name: 'node_memory_MemAvailable_bytes', labels: {}, value: 12 * GiB },
    { name: 'node_memory_SwapTotal_bytes', labels: {}, value: 0 },
    { name: 'node_memory_SwapFree_bytes', labels: {}, value: 0 },
    { name: 'node_pressure_cpu_waiting_seconds_total', labels: {}, value: t / 1000 / 10 },
    ...extra,
  ];
}

describe('summarizeNode', () => {
  it("gives the host's latest numbers; PSI as the share of the last interval; only GPUs and jobs of the latest sample set count", () => {
    const hub = new MonitorHub({ retentionMs: 3_600_000, maxSeries: 10_000, staleAfterMs: 45_000 });
    const gpu = (index: string, util: number, procs: number): Sample[] => [
      { name: 'keisan_gpu_utilization_ratio', labels: { gpu: index, uuid: `GPU-${index}`, name: 'NVIDIA H200' }, value: util },
      { name: 'keisan_gpu_processes', labels: { gpu: index, uuid: `GPU-${index}`, name: 'NVIDIA H200' }, value: procs },
    ];
    const job = (id: string): Sample[] => [
      { name: 'keisan_job_memory_bytes', labels: { job: id, user: 'alice' }, value: GiB },
      { name: 'keisan_job_cpu_seconds_total', labels: { job: id, user: 'alice' }, value: 10 },
    ];
    hub.ingest(report('node1', nodeSamples(1_000_000, [...gpu('0', 1, 1), ...gpu('1', 0, 0), ...job('41'), ...job('42')])), 1_000_000);
    hub.ingest(report('node1', nodeSamples(1_015_000, [...gpu('0', 0.5, 1), ...gpu('1', 0, 0), ...job('42')])), 1_015_000);
    hub.ingest(report('node2', []), 1_015_000);
    const [node1, node2] = hub.hosts(1_020_000).map((state) => summarizeNode(hub.reader, state, 3_600_000, 1_020_000));
    assert.deepEqual(node1, {
      host: 'node1',
      up: true,
      lastReportAt: new Date(1_015_000).toISOString(),
      sampledAt: new Date(1_015_000).toISOString(),
      cpus: 2,
      cpuBusy: 0.25,
      load1: 1.5,
      memTotalBytes: 16 * GiB,
      memAvailableBytes: 12 * GiB,
      memUsedBytes: 4 * GiB,
      swapTotalBytes: 0,
      swapUsedBytes: 0,
      pressure: { cpu: 0.1, memory: null, io: null },
      gpus: 2,
      gpusFree: 1,
      gpuUtilization: 0.25,
      jobs: 1,
    });
    assert.equal(node2!.sampledAt, null, 'a host that sent only check results has no numbers');
    assert.equal(node2!.cpuBusy, null);
    const later = hub.hosts(1_100_000).map((state) => summarizeNode(hub.reader, state, 3_600_000, 1_100_000));
    assert.equal(later[0]!.up, false, 'down after 3 intervals without a report');
  });
});

describe('downsample', () => {
  const points: SeriesPoint[] = Array.from({ length: 1000 }, (_, i) => ({ t: i * 1000, v: i }));

  it('keeps short series as they are', () => {
    assert.deepEqual(downsample(points.slice(0, 10), 500, false), points.slice(0, 10));
  });

  it('gauges: at most max points, each the mean of its bucket at the bucket’s last time', () => {
    const out = downsample(points, 500, false);
    assert.equal(out.length, 500);
    assert.deepEqual(out[0], { t: 1000, v: 0.5 });
    assert.deepEqual(out.at(-1), { t: 999_000, v: 998.5 });
  });

  it('counters: the last value of each bucket, so the result stays monotonic', () => {
    const out = downsample(points, 100, true);
    assert.equal(out.length, 100);
    assert.deepEqual(out[0], { t: 9000, v: 9 });
    assert.deepEqual(out.at(-1), { t: 999_000, v: 999 });
    assert.ok(out.every((p, i) => i === 0 || p.v > out[i - 1]!.v));
  });
});

describe('summarizeSeries', () => {
  it('gauges: latest, min, max, mean', () => {
    assert.deepEqual(summarizeSeries('node_load1', [{ t: 0, v: 2 }, { t: 1, v: 1 }, { t: 2, v: 3 }]), { kind: 'gauge', latest: 3, min: 1, max: 3, avg: 2, points: 3 });
    assert.deepEqual(summarizeSeries('node_load1', []), { kind: 'gauge', latest: null, min: null, max: null, avg: null, points: 0 });
  });

  it('counters: of the per-second rate, skipping a reset', () => {
    const summary = summarizeSeries('node_network_receive_bytes_total', [
      { t: 0, v: 100 },
      { t: 10_000, v: 200 }, // 10/s
      { t: 20_000, v: 600 }, // 40/s
      { t: 30_000, v: 50 }, // reset: skipped
      { t: 40_000, v: 250 }, // 20/s
    ]);
    assert.deepEqual(summary, { kind: 'rate', latest: 20, min: 10, max: 40, avg: 700 / 30, points: 5 });
    assert.equal(summarizeSeries('x_total', [{ t: 0, v: 1 }]).latest, null);
  });
});
