import { z } from 'zod';
import type { HostState } from '../hub.ts';
import type { Series, SeriesPoint, SeriesReader } from '../model.ts';

/**
 * What `keisan nodes` and `GET /api/monitor/nodes` show of each host, and the downsampling and
 * per-series summaries of `keisan metrics` — pure functions over the hub's recent history.
 */

export const nodeSummarySchema = z.object({
  host: z.string(),
  up: z.boolean(),
  lastReportAt: z.string(),
  /** When the last samples arrived (server clock), ISO; null when only check results came. */
  sampledAt: z.string().nullable(),
  cpus: z.number().nullable(),
  /** Share of the last interval the CPUs were busy, 0–1. */
  cpuBusy: z.number().nullable(),
  load1: z.number().nullable(),
  memTotalBytes: z.number().nullable(),
  memAvailableBytes: z.number().nullable(),
  memUsedBytes: z.number().nullable(),
  swapTotalBytes: z.number().nullable(),
  swapUsedBytes: z.number().nullable(),
  /** PSI: share of the last interval some task waited for CPU / memory / I/O, 0–1. */
  pressure: z.object({ cpu: z.number().nullable(), memory: z.number().nullable(), io: z.number().nullable() }),
  gpus: z.number(),
  /** GPUs with no compute process on them. */
  gpusFree: z.number(),
  /** Mean utilisation of the GPUs, 0–1; null without GPUs. */
  gpuUtilization: z.number().nullable(),
  /** Jobs with a cgroup on the node now. */
  jobs: z.number(),
});
export type NodeSummary = z.infer<typeof nodeSummarySchema>;

const last = (points: readonly SeriesPoint[]) => points[points.length - 1];

/** The value of each series of `name` for the host, taken in the sample set of `atMs`. */
function current(reader: SeriesReader, name: string, host: string, atMs: number, extra: Array<{ name: string; value: string }> = []): Series[] {
  return reader
    .select(name, [{ name: 'host', op: '=', value: host }, ...extra.map((m) => ({ ...m, op: '=' as const }))], atMs, atMs)
    .filter((s) => s.points.length > 0);
}

function one(reader: SeriesReader, name: string, host: string, atMs: number, extra: Array<{ name: string; value: string }> = []): number | null {
  const series = current(reader, name, host, atMs, extra)[0];
  return series ? last(series.points)!.v : null;
}

/** Per-second increase of a counter between its last two points up to `atMs`, or null. */
function lastRate(reader: SeriesReader, name: string, host: string, fromMs: number, atMs: number): number | null {
  const series = reader.select(name, [{ name: 'host', op: '=', value: host }], fromMs, atMs)[0];
  if (!series || series.points.length < 2) return null;
  const b = series.points[series.points.length - 1]!;
  const a = series.points[series.points.length - 2]!;
  if (b.t !== atMs || b.t <= a.t || b.v < a.v) return null;
  return (b.v - a.v) / ((b.t - a.t) / 1000);
}

/**
 * One host's key numbers from the latest samples it sent: `node_time_seconds` is in every
 * sample set, so its last point says when that was, and only series with a point at that very
 * time count (a finished job's or a removed GPU's old series do not).
 */
export function summarizeNode(reader: SeriesReader, state: HostState, historyMs: number, nowMs: number): NodeSummary {
  const host = state.host;
  const clockSeries = reader.select('node_time_seconds', [{ name: 'host', op: '=', value: host }], nowMs - historyMs, nowMs)[0];
  const atMs = clockSeries ? last(clockSeries.points)!.t : null;
  const base: NodeSummary = {
    host,
    up: state.up,
    lastReportAt: state.lastReportAt,
    sampledAt: atMs === null ? null : new Date(atMs).toISOString(),
    cpus: null,
    cpuBusy: null,
    load1: null,
    memTotalBytes: null,
    memAvailableBytes: null,
    memUsedBytes: null,
    swapTotalBytes: null,
    swapUsedBytes: null,
    pressure: { cpu: null, memory: null, io: null },
    gpus: 0,
    gpusFree: 0,
    gpuUtilization: null,
    jobs: 0,
  };
  if (atMs === null) return base;
  const busy = current(reader, 'keisan_node_cpu_busy_ratio', host, atMs);
  const cpuCount = new Set(current(reader, 'node_cpu_seconds_total', host, atMs, [{ name: 'mode', value: 'idle' }]).map((s) => s.labels.cpu)).size;
  const memTotal = one(reader, 'node_memory_MemTotal_bytes', host, atMs);
  const memAvailable = one(reader, 'node_memory_MemAvailable_bytes', host, atMs);
  const swapTotal = one(reader, 'node_memory_SwapTotal_bytes', host, atMs);
  const swapFree = one(reader, 'node_memory_SwapFree_bytes', host, atMs);
  const gpuUtil = current(reader, 'keisan_gpu_utilization_ratio', host, atMs);
  const gpuProcs = current(reader, 'keisan_gpu_processes', host, atMs);
  const jobs = new Set(current(reader, 'keisan_job_memory_bytes', host, atMs).map((s) => s.labels.job));
  for (const s of current(reader, 'keisan_job_cpu_seconds_total', host, atMs)) jobs.add(s.labels.job);
  const rateFrom = atMs - historyMs;
  return {
    ...base,
    cpus: cpuCount > 0 ? cpuCount : null,
    cpuBusy: busy.find((s) => s.labels.cpu === 'all')?.points.at(-1)?.v ?? null,
    load1: one(reader, 'node_load1', host, atMs),
    memTotalBytes: memTotal,
    memAvailableBytes: memAvailable,
    memUsedBytes: memTotal !== null && memAvailable !== null ? memTotal - memAvailable : null,
    swapTotalBytes: swapTotal,
    swapUsedBytes: swapTotal !== null && swapFree !== null ? swapTotal - swapFree : null,
    pressure: {
      cpu: lastRate(reader, 'node_pressure_cpu_waiting_seconds_total', host, rateFrom, atMs),
      memory: lastRate(reader, 'node_pressure_memory_waiting_seconds_total', host, rateFrom, atMs),
      io: lastRate(reader, 'node_pressure_io_waiting_seconds_total', host, rateFrom, atMs),
    },
    gpus: gpuUtil.length,
    gpusFree: gpuProcs.filter((s) => last(s.points)!.v === 0).length,
    gpuUtilization: gpuUtil.length > 0 ? gpuUtil.reduce((sum, s) => sum + last(s.points)!.v, 0) / gpuUtil.length : null,
    jobs: jobs.size,
  };
}

/** Whether a series is a counter (its summary is of its per-second rate). */
export const isCounter = (name: string) => name.endsWith('_total');

/**
 * At most `max` points: the points fall into `max` equal time buckets, each giving one point at
 * its last time — the bucket's last value for counters (they stay monotonic), the mean for gauges.
 */
export function downsample(points: readonly SeriesPoint[], max: number, counter: boolean): SeriesPoint[] {
  if (points.length <= max) return points.map((p) => ({ t: p.t, v: p.v }));
  const first = points[0]!.t;
  const span = points[points.length - 1]!.t - first + 1;
  const out: SeriesPoint[] = [];
  let bucket = -1;
  let sum = 0;
  let n = 0;
  let lastPoint: SeriesPoint | null = null;
  const flush = () => {
    if (lastPoint && n > 0) out.push({ t: lastPoint.t, v: counter ? lastPoint.v : sum / n });
  };
  for (const p of points) {
    const b = Math.min(max - 1, Math.floor(((p.t - first) * max) / span));
    if (b !== bucket) {
      flush();
      bucket = b;
      sum = 0;
      n = 0;
    }
    sum += p.v;
    n++;
    lastPoint = p;
  }
  flush();
  return out;
}

export const seriesSummarySchema = z.object({
  /** 'gauge': of the values; 'rate': of the per-second increase between points (counters). */
  kind: z.enum(['gauge', 'rate']),
  latest: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  avg: z.number().nullable(),
  points: z.number().int(),
});
export type SeriesSummary = z.infer<typeof seriesSummarySchema>;

/** latest, min, max and average of a series — of its values, or for a counter of its rate (resets skipped). */
export function summarizeSeries(name: string, points: readonly SeriesPoint[]): SeriesSummary {
  if (!isCounter(name)) {
    if (points.length === 0) return { kind: 'gauge', latest: null, min: null, max: null, avg: null, points: 0 };
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const p of points) {
      min = Math.min(min, p.v);
      max = Math.max(max, p.v);
      sum += p.v;
    }
    return { kind: 'gauge', latest: last(points)!.v, min, max, avg: sum / points.length, points: points.length };
  }
  const rates: number[] = [];
  let increase = 0;
  let seconds = 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0 || b.v < a.v) continue; // a counter reset (agent or node restarted)
    rates.push((b.v - a.v) / dt);
    increase += b.v - a.v;
    seconds += dt;
  }
  if (rates.length === 0) return { kind: 'rate', latest: null, min: null, max: null, avg: null, points: points.length };
  return { kind: 'rate', latest: rates[rates.length - 1]!, min: Math.min(...rates), max: Math.max(...rates), avg: increase / seconds, points: points.length };
}
