import type { SeriesPoint, SeriesReader } from '../model.ts';
import { labelKey } from '../series.ts';
import type { AggregationOp, BinaryOp, Expr, VectorMatching } from './expr.ts';

/**
 * Evaluates a parsed expression at one instant over the recent history, as Prometheus does:
 * an instant selector takes each series' latest point within the lookback (5 minutes), a range
 * selector the points in (t − range, t]; arithmetic, comparisons with `bool` and functions drop
 * the metric name; comparisons without `bool` filter and keep it. Pure: no clock, no I/O.
 */

/** A sample of an instant vector; `labels` carries the metric name as `__name__` while it has one. */
export interface VectorSample {
  labels: Record<string, string>;
  value: number;
}
interface RangeSeries {
  labels: Record<string, string>;
  points: SeriesPoint[];
}

export type Value = { type: 'scalar'; value: number } | { type: 'vector'; samples: VectorSample[] } | { type: 'matrix'; series: RangeSeries[] };

export const DEFAULT_LOOKBACK_MS = 5 * 60_000;

/** A failure while evaluating (e.g. many-to-many matching): the rule's health shows it. */
export class EvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalError';
  }
}

export interface EvalOptions {
  reader: SeriesReader;
  nowMs: number;
  lookbackMs?: number;
}

const NAME = '__name__';

function withoutName(labels: Record<string, string>): Record<string, string> {
  if (!(NAME in labels)) return labels;
  const copy = { ...labels };
  delete copy[NAME];
  return copy;
}

/** Evaluates `expr` at `nowMs`. */
export function evaluate(expr: Expr, options: EvalOptions): Value {
  return new Evaluator(options.reader, options.nowMs, options.lookbackMs ?? DEFAULT_LOOKBACK_MS).eval(expr);
}

/** The result as an instant vector (a scalar becomes one sample without labels). */
export function asVector(value: Value): VectorSample[] {
  if (value.type === 'vector') return value.samples;
  if (value.type === 'scalar') return [{ labels: {}, value: value.value }];
  throw new EvalError('a range vector is not a result');
}

class Evaluator {
  constructor(
    private readonly reader: SeriesReader,
    private readonly now: number,
    private readonly lookback: number,
  ) {}

  eval(expr: Expr): Value {
    switch (expr.kind) {
      case 'number':
        return { type: 'scalar', value: expr.value };
      case 'paren':
        return this.eval(expr.expr);
      case 'selector': {
        if (expr.rangeMs !== null) {
          const series = this.reader.select(expr.name, expr.matchers, this.now - expr.rangeMs + 1, this.now);
          return { type: 'matrix', series: series.map((s) => ({ labels: { ...s.labels, [NAME]: s.name }, points: s.points })) };
        }
        const series = this.reader.select(expr.name, expr.matchers, this.now - this.lookback + 1, this.now);
        return {
          type: 'vector',
          samples: series.filter((s) => s.points.length > 0).map((s) => ({ labels: { ...s.labels, [NAME]: s.name }, value: s.points[s.points.length - 1]!.v })),
        };
      }
      case 'unary': {
        const value = this.eval(expr.expr);
        if (expr.op === '+') return value;
        if (value.type === 'scalar') return { type: 'scalar', value: -value.value };
        return { type: 'vector', samples: this.vector(value).map((s) => ({ labels: withoutName(s.labels), value: -s.value })) };
      }
      case 'aggregate':
        return { type: 'vector', samples: aggregate(expr.op, this.vector(this.eval(expr.expr)), expr.grouping) };
      case 'call':
        return this.call(expr);
      case 'binary': {
        const lhs = this.eval(expr.lhs);
        // `a and b`, `a unless b` with nothing on the left are empty whatever b is: b (often an
        // expensive prediction over hours of points) is not evaluated.
        if ((expr.op === 'and' || expr.op === 'unless') && lhs.type === 'vector' && lhs.samples.length === 0) return lhs;
        return this.binary(expr.op, lhs, this.eval(expr.rhs), expr.bool, expr.matching);
      }
    }
  }

  private vector(value: Value): VectorSample[] {
    if (value.type !== 'vector') throw new EvalError(`expected an instant vector, got a ${value.type}`);
    return value.samples;
  }

  private scalar(value: Value): number {
    if (value.type !== 'scalar') throw new EvalError(`expected a number, got a ${value.type}`);
    return value.value;
  }

  private matrix(value: Value): RangeSeries[] {
    if (value.type !== 'matrix') throw new EvalError(`expected a range vector, got a ${value.type}`);
    return value.series;
  }

  private call(expr: Extract<Expr, { kind: 'call' }>): Value {
    const { func, args } = expr;
    const per = (fn: (points: SeriesPoint[], rangeMs: number) => number | null): Value => {
      const arg = args[0]!;
      const rangeMs = arg.kind === 'selector' && arg.rangeMs !== null ? arg.rangeMs : 0;
      const samples: VectorSample[] = [];
      for (const series of this.matrix(this.eval(arg))) {
        const value = fn(series.points, rangeMs);
        if (value !== null) samples.push({ labels: withoutName(series.labels), value });
      }
      return { type: 'vector', samples };
    };
    switch (func) {
      case 'time':
        return { type: 'scalar', value: this.now / 1000 };
      case 'rate':
        return per((points, range) => extrapolatedRate(points, this.now, range, true, true));
      case 'increase':
        return per((points, range) => extrapolatedRate(points, this.now, range, true, false));
      case 'delta':
        return per((points, range) => extrapolatedRate(points, this.now, range, false, false));
      case 'irate':
        return per((points) => {
          if (points.length < 2) return null;
          const last = points[points.length - 1]!;
          const previous = points[points.length - 2]!;
          const seconds = (last.t - previous.t) / 1000;
          if (seconds <= 0) return null;
          return (last.v < previous.v ? last.v : last.v - previous.v) / seconds;
        });
      case 'deriv':
        return per((points) => (points.length < 2 ? null : linearRegression(points, this.now).slope));
      case 'predict_linear': {
        const seconds = this.scalar(this.eval(args[1]!));
        return per((points) => {
          if (points.length < 2) return null;
          const { slope, intercept } = linearRegression(points, this.now);
          return intercept + slope * seconds;
        });
      }
      case 'avg_over_time':
        return per((points) => (points.length === 0 ? null : points.reduce((sum, p) => sum + p.v, 0) / points.length));
      case 'min_over_time':
        return per((points) => (points.length === 0 ? null : points.reduce((min, p) => (p.v < min || Number.isNaN(min) ? p.v : min), points[0]!.v)));
      case 'max_over_time':
        return per((points) => (points.length === 0 ? null : points.reduce((max, p) => (p.v > max || Number.isNaN(max) ? p.v : max), points[0]!.v)));
      case 'abs':
        return { type: 'vector', samples: this.vector(this.eval(args[0]!)).map((s) => ({ labels: withoutName(s.labels), value: Math.abs(s.value) })) };
      case 'clamp_min':
      case 'clamp_max': {
        const vector = this.vector(this.eval(args[0]!));
        const bound = this.scalar(this.eval(args[1]!));
        const clamp = func === 'clamp_min' ? (v: number) => Math.max(v, bound) : (v: number) => Math.min(v, bound);
        return { type: 'vector', samples: vector.map((s) => ({ labels: withoutName(s.labels), value: clamp(s.value) })) };
      }
      case 'absent': {
        const vector = this.vector(this.eval(args[0]!));
        if (vector.length > 0) return { type: 'vector', samples: [] };
        // As PromQL: the labels the selector pinned with '=' become the result's labels.
        const arg = args[0]!;
        const labels: Record<string, string> = {};
        if (arg.kind === 'selector') {
          const equal = arg.matchers.filter((m) => m.op === '=');
          for (const matcher of equal) {
            if (equal.filter((m) => m.name === matcher.name).length === 1) labels[matcher.name] = matcher.value;
          }
        }
        return { type: 'vector', samples: [{ labels, value: 1 }] };
      }
    }
  }

  private binary(op: BinaryOp, lhs: Value, rhs: Value, bool: boolean, matching: VectorMatching): Value {
    if (lhs.type === 'scalar' && rhs.type === 'scalar') {
      const result = apply(op, lhs.value, rhs.value);
      return { type: 'scalar', value: isComparison(op) ? (result ? 1 : 0) : (result as number) };
    }
    if (op === 'and' || op === 'or' || op === 'unless') return { type: 'vector', samples: setOperation(op, this.vector(lhs), this.vector(rhs), matching) };
    if (lhs.type === 'vector' && rhs.type === 'scalar') return { type: 'vector', samples: vectorScalar(op, lhs.samples, rhs.value, bool, false) };
    if (lhs.type === 'scalar' && rhs.type === 'vector') return { type: 'vector', samples: vectorScalar(op, rhs.samples, lhs.value, bool, true) };
    return { type: 'vector', samples: vectorVector(op, this.vector(lhs), this.vector(rhs), bool, matching) };
  }
}

function isComparison(op: BinaryOp): boolean {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

/** Arithmetic gives a number; a comparison gives true/false. */
function apply(op: BinaryOp, a: number, b: number): number | boolean {
  switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return a / b;
    case '%': return a % b;
    case '^': return a ** b;
    case '==': return a === b;
    case '!=': return a !== b;
    case '>': return a > b;
    case '<': return a < b;
    case '>=': return a >= b;
    case '<=': return a <= b;
    default: throw new EvalError(`'${op}' is not an arithmetic operator or a comparison`);
  }
}

function vectorScalar(op: BinaryOp, samples: VectorSample[], scalar: number, bool: boolean, scalarOnLeft: boolean): VectorSample[] {
  const result: VectorSample[] = [];
  for (const sample of samples) {
    const [a, b] = scalarOnLeft ? [scalar, sample.value] : [sample.value, scalar];
    const outcome = apply(op, a, b);
    if (isComparison(op)) {
      if (bool) result.push({ labels: withoutName(sample.labels), value: outcome ? 1 : 0 });
      // A filter keeps the vector's own value (and name), whichever side it is on.
      else if (outcome) result.push({ labels: sample.labels, value: sample.value });
    } else {
      result.push({ labels: withoutName(sample.labels), value: outcome as number });
    }
  }
  return result;
}

/** The labels two samples are matched on: `on(…)` keeps only those, `ignoring(…)` drops those; never the name. */
function signature(labels: Record<string, string>, matching: VectorMatching): string {
  const picked: Record<string, string> = {};
  if (matching.on) {
    for (const name of matching.labels) if (labels[name] !== undefined && labels[name] !== '') picked[name] = labels[name];
  } else {
    for (const [name, value] of Object.entries(labels)) if (name !== NAME && !matching.labels.includes(name)) picked[name] = value;
  }
  return labelKey(picked);
}

function describeLabels(labels: Record<string, string>): string {
  const shown = Object.keys(labels).sort().filter((k) => k !== NAME).map((k) => `${k}="${labels[k]}"`);
  return `${labels[NAME] ?? ''}{${shown.join(', ')}}`;
}

function vectorVector(op: BinaryOp, lhs: VectorSample[], rhs: VectorSample[], bool: boolean, matching: VectorMatching): VectorSample[] {
  const group = matching.group;
  // The "one" side: every signature must be unique there.
  const [many, one, manyIsLeft] = group?.side === 'right' ? [rhs, lhs, false] : [lhs, rhs, true];
  const oneBySignature = new Map<string, VectorSample>();
  for (const sample of one) {
    const key = signature(sample.labels, matching);
    const existing = oneBySignature.get(key);
    if (existing) {
      throw new EvalError(
        `many-to-many matching is not allowed: ${describeLabels(existing.labels)} and ${describeLabels(sample.labels)} match the same series on the ${manyIsLeft ? 'right' : 'left'}; ` +
          'narrow them with on(…)/ignoring(…) or aggregate first',
      );
    }
    oneBySignature.set(key, sample);
  }
  const result: VectorSample[] = [];
  const seen = new Map<string, VectorSample>();
  for (const sample of many) {
    const key = signature(sample.labels, matching);
    const other = oneBySignature.get(key);
    if (!other) continue;
    if (!group) {
      const earlier = seen.get(key);
      if (earlier) {
        throw new EvalError(
          `found duplicate series for one match: ${describeLabels(earlier.labels)} and ${describeLabels(sample.labels)} on the left; ` +
            'use group_left(…) for many-to-one matching, or on(…)/ignoring(…) to tell them apart',
        );
      }
      seen.set(key, sample);
    }
    const [left, right] = manyIsLeft ? [sample, other] : [other, sample];
    const outcome = apply(op, left.value, right.value);
    if (isComparison(op) && !bool && !outcome) continue;
    let labels: Record<string, string> = isComparison(op) && !bool ? { ...sample.labels } : withoutName(sample.labels);
    if (!group) {
      if (matching.on) {
        const kept: Record<string, string> = {};
        for (const name of matching.labels) if (labels[name] !== undefined) kept[name] = labels[name];
        labels = kept;
      } else {
        for (const name of matching.labels) delete labels[name];
      }
    } else {
      labels = { ...labels };
      for (const name of group.include) {
        if (other.labels[name] !== undefined && other.labels[name] !== '') labels[name] = other.labels[name];
        else delete labels[name];
      }
    }
    const value = isComparison(op) ? (bool ? (outcome ? 1 : 0) : left.value) : (outcome as number);
    result.push({ labels, value });
  }
  return result;
}

function setOperation(op: 'and' | 'or' | 'unless', lhs: VectorSample[], rhs: VectorSample[], matching: VectorMatching): VectorSample[] {
  const rightKeys = new Set(rhs.map((s) => signature(s.labels, matching)));
  if (op === 'and') return lhs.filter((s) => rightKeys.has(signature(s.labels, matching)));
  if (op === 'unless') return lhs.filter((s) => !rightKeys.has(signature(s.labels, matching)));
  const leftKeys = new Set(lhs.map((s) => signature(s.labels, matching)));
  return [...lhs, ...rhs.filter((s) => !leftKeys.has(signature(s.labels, matching)))];
}

function aggregate(op: AggregationOp, samples: VectorSample[], grouping: { without: boolean; labels: string[] } | null): VectorSample[] {
  const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
  for (const sample of samples) {
    const labels: Record<string, string> = {};
    if (grouping && !grouping.without) {
      for (const name of grouping.labels) if (sample.labels[name] !== undefined && sample.labels[name] !== '') labels[name] = sample.labels[name];
    } else if (grouping?.without) {
      for (const [name, value] of Object.entries(sample.labels)) if (name !== NAME && !grouping.labels.includes(name)) labels[name] = value;
    }
    const key = labelKey(labels);
    let group = groups.get(key);
    if (!group) {
      group = { labels, values: [] };
      groups.set(key, group);
    }
    group.values.push(sample.value);
  }
  return [...groups.values()].map(({ labels, values }) => {
    let value: number;
    switch (op) {
      case 'sum': value = values.reduce((a, b) => a + b, 0); break;
      case 'avg': value = values.reduce((a, b) => a + b, 0) / values.length; break;
      case 'count': value = values.length; break;
      case 'min': value = values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a)); break;
      case 'max': value = values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a)); break;
    }
    return { labels, value };
  });
}

/**
 * rate(), increase() and delta() as Prometheus computes them: the change over the samples in the
 * window (counter resets corrected for counters), extrapolated to the window's edges unless
 * the series starts or stops inside it, and not below zero for a counter.
 */
export function extrapolatedRate(points: SeriesPoint[], nowMs: number, rangeMs: number, isCounter: boolean, isRate: boolean): number | null {
  if (points.length < 2) return null;
  const first = points[0]!;
  const last = points[points.length - 1]!;
  let result = last.v - first.v;
  if (isCounter) {
    for (let i = 1; i < points.length; i++) if (points[i]!.v < points[i - 1]!.v) result += points[i - 1]!.v;
  }
  const rangeStart = nowMs - rangeMs;
  let durationToStart = (first.t - rangeStart) / 1000;
  const durationToEnd = (nowMs - last.t) / 1000;
  const sampled = (last.t - first.t) / 1000;
  if (sampled <= 0) return null;
  const averageInterval = sampled / (points.length - 1);
  if (isCounter && result > 0 && first.v >= 0) {
    const durationToZero = sampled * (first.v / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  const threshold = averageInterval * 1.1;
  let extrapolated = sampled;
  extrapolated += durationToStart < threshold ? durationToStart : averageInterval / 2;
  extrapolated += durationToEnd < threshold ? durationToEnd : averageInterval / 2;
  let value = result * (extrapolated / sampled);
  if (isRate) value /= rangeMs / 1000;
  return value;
}

/** Least-squares line through the points, time in seconds relative to `interceptMs`. */
export function linearRegression(points: SeriesPoint[], interceptMs: number): { slope: number; intercept: number } {
  let n = 0, sumX = 0, sumY = 0, sumXY = 0, sumX2 = 0;
  for (const point of points) {
    const x = (point.t - interceptMs) / 1000;
    n++;
    sumX += x;
    sumY += point.v;
    sumXY += x * point.v;
    sumX2 += x * x;
  }
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  if (varX === 0) return { slope: 0, intercept: sumY / n };
  const slope = covXY / varX;
  return { slope, intercept: sumY / n - (slope * sumX) / n };
}
