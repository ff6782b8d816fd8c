/**
 * What the node page draws, made from GET /api/monitor/nodes/{host}/metrics: pure functions, no
 * uPlot here (the charts themselves load lazily; the text table of latest values does not wait).
 */

export interface MetricSeries {
  name: string;
  labels: Record<string, string>;
  /** [milliseconds since the epoch, value], oldest first (the generated API types say number[]). */
  points: readonly (readonly number[])[];
}

/** The API's points as [time, value] pairs, malformed ones left out. */
function pairs(points: readonly (readonly number[])[]): [number, number][] {
  return points.filter((p) => p.length >= 2).map((p) => [p[0]!, p[1]!]);
}

export type ChartUnit = 'ratio' | 'bytes';
export type ChartKey = 'cpu' | 'memory' | 'psi' | 'gpuUtil' | 'gpuMemory';

export interface ChartLine {
  /** Label key for fixed lines (cpu, memory…), or the GPU's own name as it comes. */
  label: { key: LineKey } | { text: string };
  points: [number, number][];
}
export type LineKey = 'busy' | 'used' | 'total' | 'cpu' | 'memory' | 'io';

export interface Chart {
  key: ChartKey;
  unit: ChartUnit;
  lines: ChartLine[];
}

/** The metric names the node page asks for. */
export const CHART_METRICS = [
  'keisan_node_cpu_busy_ratio',
  'node_memory_MemTotal_bytes',
  'node_memory_MemAvailable_bytes',
  'node_pressure_cpu_waiting_seconds_total',
  'node_pressure_memory_waiting_seconds_total',
  'node_pressure_io_waiting_seconds_total',
  'keisan_gpu_utilization_ratio',
  'keisan_gpu_memory_used_bytes',
] as const;

/** Per-second increase between consecutive points; a counter reset (agent or node restart) leaves a gap. */
export function rateOf(points: readonly [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < points.length; i++) {
    const [ta, va] = points[i - 1]!;
    const [tb, vb] = points[i]!;
    if (tb <= ta || vb < va) continue;
    out.push([tb, (vb - va) / ((tb - ta) / 1000)]);
  }
  return out;
}

/** used = total − available where both have a point at the same time. */
function memoryUsed(total: readonly [number, number][], available: readonly [number, number][]): [number, number][] {
  const totals = new Map(total);
  const out: [number, number][] = [];
  for (const [t, avail] of available) {
    const tot = totals.get(t);
    if (tot !== undefined) out.push([t, tot - avail]);
  }
  return out;
}

function gpuName(labels: Record<string, string>): string {
  return labels.name ? `GPU ${labels.gpu ?? '?'} (${labels.name})` : `GPU ${labels.gpu ?? '?'}`;
}

const byGpu = (a: MetricSeries, b: MetricSeries) => Number(a.labels.gpu ?? 0) - Number(b.labels.gpu ?? 0);

/** The five charts of the node page; GPU charts only where the node has GPUs. */
export function buildCharts(series: readonly MetricSeries[]): Chart[] {
  const find = (name: string, match: (labels: Record<string, string>) => boolean = () => true) => pairs(series.find((s) => s.name === name && match(s.labels))?.points ?? []);
  const total = find('node_memory_MemTotal_bytes');
  const charts: Chart[] = [
    { key: 'cpu', unit: 'ratio', lines: [{ label: { key: 'busy' }, points: find('keisan_node_cpu_busy_ratio', (l) => l.cpu === 'all') }] },
    {
      key: 'memory',
      unit: 'bytes',
      lines: [
        { label: { key: 'used' }, points: memoryUsed(total, find('node_memory_MemAvailable_bytes')) },
        { label: { key: 'total' }, points: [...total] },
      ],
    },
    {
      key: 'psi',
      unit: 'ratio',
      lines: (['cpu', 'memory', 'io'] as const).map((kind) => ({ label: { key: kind }, points: rateOf(find(`node_pressure_${kind}_waiting_seconds_total`)) })),
    },
  ];
  const util = series.filter((s) => s.name === 'keisan_gpu_utilization_ratio').sort(byGpu);
  const memory = series.filter((s) => s.name === 'keisan_gpu_memory_used_bytes').sort(byGpu);
  if (util.length > 0) charts.push({ key: 'gpuUtil', unit: 'ratio', lines: util.map((s) => ({ label: { text: gpuName(s.labels) }, points: pairs(s.points) })) });
  if (memory.length > 0) charts.push({ key: 'gpuMemory', unit: 'bytes', lines: memory.map((s) => ({ label: { text: gpuName(s.labels) }, points: pairs(s.points) })) });
  return charts;
}

export interface LineStats {
  latest: number | null;
  min: number | null;
  max: number | null;
}

export function lineStats(points: readonly [number, number][]): LineStats {
  if (points.length === 0) return { latest: null, min: null, max: null };
  let min = Infinity;
  let max = -Infinity;
  for (const [, v] of points) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { latest: points[points.length - 1]![1], min, max };
}

/**
 * uPlot's columns: the times (seconds) every line has a point at, then each line's value at
 * those times (null where it has none).
 */
export function alignedColumns(lines: readonly ChartLine[]): [number[], ...(number | null)[][]] {
  const times = [...new Set(lines.flatMap((l) => l.points.map(([t]) => t)))].sort((a, b) => a - b);
  const columns = lines.map((line) => {
    const values = new Map(line.points);
    return times.map((t) => values.get(t) ?? null);
  });
  return [times.map((t) => t / 1000), ...columns];
}
