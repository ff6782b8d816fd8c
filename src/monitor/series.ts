import type { LabelMatcher, Sample, Series, SeriesPoint, SeriesReader } from './model.ts';

export interface SeriesStoreLimits {
  /** Points older than this (milliseconds) are dropped. */
  retentionMs: number;
  /** At most this many series; new series beyond it are refused (and counted) rather than evicting. */
  maxSeries: number;
}

/**
 * Points are kept in two typed arrays (16 bytes a point instead of a ~60-byte object), the live
 * part between `start` and `end`: trimming moves `start`, appending compacts or doubles.
 */
interface StoredSeries {
  name: string;
  labels: Record<string, string>;
  times: Float64Array;
  values: Float64Array;
  start: number;
  end: number;
}

const INITIAL_CAPACITY = 16;

function pushPoint(series: StoredSeries, t: number, v: number): void {
  if (series.end === series.times.length) {
    const live = series.end - series.start;
    if (series.start > 0 && live * 2 <= series.times.length) {
      series.times.copyWithin(0, series.start, series.end);
      series.values.copyWithin(0, series.start, series.end);
    } else {
      const times = new Float64Array(series.times.length * 2);
      const values = new Float64Array(series.times.length * 2);
      times.set(series.times.subarray(series.start, series.end));
      values.set(series.values.subarray(series.start, series.end));
      series.times = times;
      series.values = values;
    }
    series.start = 0;
    series.end = live;
  }
  series.times[series.end] = t;
  series.values[series.end] = v;
  series.end++;
}

/**
 * The server's bounded recent history, in memory: a few hours of every agent's samples for the
 * CLI, the web UI and alert rules. Long-term history is Prometheus's job (deploy/prometheus).
 */
export class SeriesStore implements SeriesReader {
  private readonly byName = new Map<string, Map<string, StoredSeries>>();
  private seriesCount = 0;
  refusedSeries = 0;

  constructor(private readonly limits: SeriesStoreLimits) {}

  get size(): number {
    return this.seriesCount;
  }

  /** Adds samples taken at `atMs`, each with `extraLabels` (e.g. host) added. */
  append(samples: readonly Sample[], atMs: number, extraLabels: Record<string, string> = {}): void {
    for (const sample of samples) {
      const labels = { ...sample.labels, ...extraLabels };
      const key = labelKey(labels);
      let family = this.byName.get(sample.name);
      if (!family) {
        family = new Map();
        this.byName.set(sample.name, family);
      }
      let series = family.get(key);
      if (!series) {
        if (this.seriesCount >= this.limits.maxSeries) {
          this.refusedSeries++;
          continue;
        }
        series = { name: sample.name, labels, times: new Float64Array(INITIAL_CAPACITY), values: new Float64Array(INITIAL_CAPACITY), start: 0, end: 0 };
        family.set(key, series);
        this.seriesCount++;
      }
      const lastTime = series.end > series.start ? series.times[series.end - 1]! : -Infinity;
      if (lastTime > atMs) continue; // out of order: keep history monotonic
      if (lastTime === atMs) series.values[series.end - 1] = sample.value;
      else pushPoint(series, atMs, sample.value);
    }
  }

  /** Drops points older than the retention and series left empty. */
  trim(nowMs: number): void {
    const oldest = nowMs - this.limits.retentionMs;
    for (const [name, family] of this.byName) {
      for (const [key, series] of family) {
        series.start = lowerBound(series.times, series.start, series.end, oldest);
        if (series.start >= series.end) {
          family.delete(key);
          this.seriesCount--;
        } else if (series.times.length > 4 * INITIAL_CAPACITY && (series.end - series.start) * 4 < series.times.length) {
          // Shrink a series that once held far more than it does now (a retention was shortened, a burst passed).
          const capacity = Math.max(INITIAL_CAPACITY, (series.end - series.start) * 2);
          series.times = series.times.slice(series.start, series.start + capacity);
          series.values = series.values.slice(series.start, series.start + capacity);
          series.end -= series.start;
          series.start = 0;
        }
      }
      if (family.size === 0) this.byName.delete(name);
    }
  }

  /** Removes every series of a host (a node taken out of the inventory). */
  forgetHost(host: string): void {
    for (const [name, family] of this.byName) {
      for (const [key, series] of family) {
        if (series.labels.host === host) {
          family.delete(key);
          this.seriesCount--;
        }
      }
      if (family.size === 0) this.byName.delete(name);
    }
  }

  select(name: string, matchers: readonly LabelMatcher[], fromMs: number, toMs: number): Series[] {
    const family = this.byName.get(name);
    if (!family) return [];
    const tests = matchers.map(compileMatcher);
    const result: Series[] = [];
    for (const series of family.values()) {
      if (!tests.every((test) => test(series.labels))) continue;
      const points: SeriesPoint[] = [];
      for (let i = lowerBound(series.times, series.start, series.end, fromMs); i < series.end; i++) {
        const t = series.times[i]!;
        if (t > toMs) break;
        points.push({ t, v: series.values[i]! });
      }
      if (points.length > 0) result.push({ name, labels: { ...series.labels }, points });
    }
    return result;
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}

function lowerBound(times: Float64Array, start: number, end: number, t: number): number {
  let low = start;
  let high = end;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (times[mid]! < t) low = mid + 1;
    else high = mid;
  }
  return low;
}

export function labelKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`)
    .join(',');
}

/** A label matcher as a predicate; regular expressions are anchored, as in PromQL. */
export function compileMatcher(matcher: LabelMatcher): (labels: Record<string, string>) => boolean {
  const { name, op, value } = matcher;
  if (op === '=') return (labels) => (labels[name] ?? '') === value;
  if (op === '!=') return (labels) => (labels[name] ?? '') !== value;
  const pattern = new RegExp(`^(?:${value})$`);
  if (op === '=~') return (labels) => pattern.test(labels[name] ?? '');
  return (labels) => !pattern.test(labels[name] ?? '');
}
