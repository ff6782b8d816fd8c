import type { LabelMatcher, Sample, Series, SeriesPoint, SeriesReader } from './model.ts';

export interface SeriesStoreLimits {
  /** Points older than this (milliseconds) are dropped. */
  retentionMs: number;
  /** At most this many series; new series beyond it are refused (and counted) rather than evicting. */
  maxSeries: number;
}

interface StoredSeries {
  name: string;
  labels: Record<string, string>;
  points: SeriesPoint[];
  /** Index of the oldest kept point: trimming moves it forward and compacts now and then. */
  start: number;
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
        series = { name: sample.name, labels, points: [], start: 0 };
        family.set(key, series);
        this.seriesCount++;
      }
      const last = series.points[series.points.length - 1];
      if (last && last.t > atMs) continue; // out of order: an agent's clock went back; keep history monotonic
      if (last && last.t === atMs) last.v = sample.value;
      else series.points.push({ t: atMs, v: sample.value });
    }
  }

  /** Drops points older than the retention and series left empty. */
  trim(nowMs: number): void {
    const oldest = nowMs - this.limits.retentionMs;
    for (const [name, family] of this.byName) {
      for (const [key, series] of family) {
        while (series.start < series.points.length && series.points[series.start]!.t < oldest) series.start++;
        if (series.start >= series.points.length) {
          family.delete(key);
          this.seriesCount--;
        } else if (series.start > 64 && series.start * 2 > series.points.length) {
          series.points = series.points.slice(series.start);
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
      for (let i = lowerBound(series.points, series.start, fromMs); i < series.points.length; i++) {
        const point = series.points[i]!;
        if (point.t > toMs) break;
        points.push({ t: point.t, v: point.v });
      }
      if (points.length > 0) result.push({ name, labels: { ...series.labels }, points });
    }
    return result;
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}

function lowerBound(points: readonly SeriesPoint[], start: number, t: number): number {
  let low = start;
  let high = points.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (points[mid]!.t < t) low = mid + 1;
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
