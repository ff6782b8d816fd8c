/** The node page's chart data (pure functions, no browser): what each chart draws from the API's series. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alignedColumns, buildCharts, lineStats, rateOf, type MetricSeries } from '../src/views/operator/a/chart-data.ts';

const GiB = 2 ** 30;
const series = (name: string, points: [number, number][], labels: Record<string, string> = {}): MetricSeries => ({ name, labels, points });

describe('operator node charts: chart data', () => {
  it('turns a counter into its per-second rate and leaves a gap at a reset', () => {
    assert.deepEqual(
      rateOf([
        [0, 10],
        [2000, 11],
        [4000, 13],
        [6000, 1], // the node rebooted
        [8000, 2],
      ]),
      [
        [2000, 0.5],
        [4000, 1],
        [8000, 0.5],
      ],
    );
    assert.deepEqual(rateOf([[0, 1]]), []);
  });

  it('builds CPU, memory (used = total − available at the same sample) and PSI charts; GPU charts only with GPUs', () => {
    const charts = buildCharts([
      series('keisan_node_cpu_busy_ratio', [[1000, 0.9]], { cpu: '0' }),
      series('keisan_node_cpu_busy_ratio', [[1000, 0.5], [3000, 0.25]], { cpu: 'all' }),
      series('node_memory_MemTotal_bytes', [[1000, 16 * GiB], [3000, 16 * GiB]]),
      series('node_memory_MemAvailable_bytes', [[1000, 12 * GiB], [3000, 10 * GiB], [5000, 9 * GiB]]),
      series('node_pressure_io_waiting_seconds_total', [[1000, 5], [3000, 6]]),
    ]);
    assert.deepEqual(
      charts.map((c) => c.key),
      ['cpu', 'memory', 'psi'],
    );
    assert.deepEqual(charts[0]!.lines[0]!.points, [[1000, 0.5], [3000, 0.25]], 'cpu="all", not one CPU');
    assert.deepEqual(charts[1]!.lines.map((l) => l.points), [
      [
        [1000, 4 * GiB],
        [3000, 6 * GiB],
      ],
      [
        [1000, 16 * GiB],
        [3000, 16 * GiB],
      ],
    ]);
    assert.deepEqual(charts[2]!.lines.map((l) => [l.label, l.points]), [
      [{ key: 'cpu' }, []],
      [{ key: 'memory' }, []],
      [{ key: 'io' }, [[3000, 0.5]]],
    ]);
  });

  it('draws one line per GPU, in GPU order, named by index and model', () => {
    const gpu = (index: string) => ({ gpu: index, uuid: `GPU-${index}`, name: 'NVIDIA H100' });
    const charts = buildCharts([
      series('keisan_gpu_utilization_ratio', [[1000, 0.1]], gpu('1')),
      series('keisan_gpu_utilization_ratio', [[1000, 0.9]], gpu('0')),
      series('keisan_gpu_memory_used_bytes', [[1000, 40 * GiB]], gpu('0')),
    ]);
    const util = charts.find((c) => c.key === 'gpuUtil')!;
    assert.deepEqual(util.lines.map((l) => l.label), [{ text: 'GPU 0 (NVIDIA H100)' }, { text: 'GPU 1 (NVIDIA H100)' }]);
    assert.equal(util.unit, 'ratio');
    assert.equal(charts.find((c) => c.key === 'gpuMemory')!.unit, 'bytes');
  });

  it('aligns lines on the union of their times (seconds), null where a line has no point', () => {
    assert.deepEqual(
      alignedColumns([
        { label: { key: 'used' }, points: [[1000, 1], [3000, 3]] },
        { label: { key: 'total' }, points: [[2000, 2], [3000, 4]] },
      ]),
      [
        [1, 2, 3],
        [1, null, 3],
        [null, 2, 4],
      ],
    );
  });

  it('gives the latest, lowest and highest value of a line for the text table', () => {
    assert.deepEqual(lineStats([[1, 5], [2, 1], [3, 3]]), { latest: 3, min: 1, max: 5 });
    assert.deepEqual(lineStats([]), { latest: null, min: null, max: null });
  });
});
