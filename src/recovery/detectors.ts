/**
 * The watchdog's detectors: pure functions of a bounded history of samples and the time.
 *
 * `detect(history, config, nowMs)` runs every rule of RULE_TABLE over the samples the caller
 * keeps in a ring (oldest first); `detectLogin(ticks, config, nowMs)` does the same for a login
 * host's processes. Rules never act: a Finding says what, who, the numbers and the window; the
 * victim choice (victim.ts) and the action (actions.ts) are the caller's.
 *
 * Rates come from counter deltas between two samples at least `windowMs` apart (PSI `total=`
 * in µs → share of wall time stalled; refaults in pages/s; usage in bytes/s), never from the
 * kernel's avg10/avg60 (they lag by seconds; recovery notes §5). "Sustained" means the condition
 * held in every consecutive window back to `sustainMs` before now.
 */
import { z } from 'zod';
import type { Finding, JobSample, NodeSample, ProcessTick, Rule, Sample } from './model.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export interface DetectorConfig {
  memoryLimit: {
    /** usage / limit at or above this counts as "at the limit". */
    nearLimitRatio: number;
    /** Growth (of usage, or of anonymous memory pushing the page cache out) that counts as a leak, bytes/s. */
    growthBytesPerSec: number;
    /** File refaults per second that count as "high" at the limit, pages/s… */
    refaultPagesPerSec: number;
    /** …while memory PSI some is at least this share (0–1)… */
    memSomeRatio: number;
    /** …or, without PSI, anonymous memory fills at least this share of the limit. */
    anonRatioWithoutPsi: number;
    /**
     * Anonymous memory growing fast enough to reach the limit within this long counts too, from
     * `predictFromRatio` of the limit on: where nothing can be reclaimed (no page cache) the kernel
     * kills the moment the limit is reached, with no stall before it to see.
     */
    predictHorizonMs: number;
    predictFromRatio: number;
    windowMs: number;
  };
  thrash: {
    windowMs: number;
    /** The condition must hold in every window for this long. */
    sustainMs: number;
    /** Usage counts as "at the limit" from limit × (1 − marginRatio) up. */
    marginRatio: number;
    refaultPagesPerSec: number;
    /** Share of wall time with some task stalled on memory (PSI some), 0–1. */
    memSomeRatio: number;
    /** Share of wall time with some task stalled on io (PSI some), 0–1. */
    ioSomeRatio: number;
    /** Without PSI (no v2 cgroup), refaults alone must reach refaultPagesPerSec × this. */
    noPsiRefaultFactor: number;
  };
  nodeMemory: {
    /** MemAvailable floor: max(floorBytes, floorRatio × MemTotal). */
    floorBytes: number;
    floorRatio: number;
    /** Falling fast: MemAvailable would reach the floor within this many ms at the current rate. */
    horizonMs: number;
    /** Node memory PSI some share that counts while MemAvailable is below 2 × the floor. */
    psiSomeRatio: number;
    /**
     * The jobs' parent cgroup (capped below the node's memory, so MemAvailable never gets low when
     * it fills): its floor is max(parentFloorBytes, parentFloorRatio × its limit) of what is still
     * available under the limit (reclaimable cache counted). Below it while jobs grow, or falling
     * to it within horizonMs, counts as the node running out.
     */
    parentFloorBytes: number;
    parentFloorRatio: number;
    windowMs: number;
  };
  pids: {
    nearMaxRatio: number;
    /** New processes per second that count as an explosion once at least minPids are there. */
    growthPerSec: number;
    minPids: number;
    windowMs: number;
  };
  cpuHog: {
    /** CPU usage / CPUs allocated above this is overuse. */
    overuseRatio: number;
    sustainMs: number;
    windowMs: number;
  };
  login: {
    /** Share of one CPU a single process must use, 0–1 (0.8 = 80 %). */
    cpuRatio: number;
    /** Windows of this length are checked back from now. */
    stepMs: number;
    warnAfterMs: number;
    reniceAfterMs: number;
    stopAfterMs: number;
    /** Users never flagged (service accounts on a login host). */
    exemptUsers: string[];
  };
}

export const DEFAULT_DETECTOR_CONFIG: DetectorConfig = {
  memoryLimit: { nearLimitRatio: 0.95, growthBytesPerSec: 4 * MiB, refaultPagesPerSec: 10_000, memSomeRatio: 0.05, anonRatioWithoutPsi: 0.8, predictHorizonMs: 500, predictFromRatio: 0.75, windowMs: 1000 },
  thrash: { windowMs: 500, sustainMs: 1000, marginRatio: 0.1, refaultPagesPerSec: 2000, memSomeRatio: 0.05, ioSomeRatio: 0.3, noPsiRefaultFactor: 4 },
  nodeMemory: { floorBytes: 512 * MiB, floorRatio: 0.05, horizonMs: 2000, psiSomeRatio: 0.2, parentFloorBytes: 64 * MiB, parentFloorRatio: 0.05, windowMs: 1000 },
  pids: { nearMaxRatio: 0.9, growthPerSec: 200, minPids: 128, windowMs: 1000 },
  cpuHog: { overuseRatio: 1.2, sustainMs: 10_000, windowMs: 1000 },
  login: { cpuRatio: 0.8, stepMs: 30_000, warnAfterMs: 5 * 60_000, reniceAfterMs: 10 * 60_000, stopAfterMs: 20 * 60_000, exemptUsers: [] },
};

export type DetectorConfigInput = { [K in keyof DetectorConfig]?: Partial<DetectorConfig[K]> };

const ratio = z.number().min(0).max(1);
const positive = z.number().positive();
const nonNegative = z.number().min(0);
const ms = z.number().int().positive();

/**
 * The settings form of the thresholds (for keisan.yaml's recovery section when it is wired):
 * every field optional, unknown keys refused; `detectorConfig(parsed)` fills in the defaults.
 */
export const detectorConfigSchema = z.strictObject({
  memoryLimit: z.strictObject({ nearLimitRatio: ratio, growthBytesPerSec: positive, refaultPagesPerSec: positive, memSomeRatio: ratio, anonRatioWithoutPsi: ratio, predictHorizonMs: ms, predictFromRatio: ratio, windowMs: ms }).partial().optional(),
  thrash: z
    .strictObject({ windowMs: ms, sustainMs: ms, marginRatio: ratio, refaultPagesPerSec: positive, memSomeRatio: ratio, ioSomeRatio: ratio, noPsiRefaultFactor: z.number().min(1) })
    .partial()
    .optional(),
  nodeMemory: z.strictObject({ floorBytes: nonNegative, floorRatio: ratio, horizonMs: ms, psiSomeRatio: ratio, parentFloorBytes: nonNegative, parentFloorRatio: ratio, windowMs: ms }).partial().optional(),
  pids: z.strictObject({ nearMaxRatio: ratio, growthPerSec: positive, minPids: z.number().int().min(0), windowMs: ms }).partial().optional(),
  cpuHog: z.strictObject({ overuseRatio: positive, sustainMs: ms, windowMs: ms }).partial().optional(),
  login: z
    .strictObject({ cpuRatio: positive, stepMs: ms, warnAfterMs: ms, reniceAfterMs: ms, stopAfterMs: ms, exemptUsers: z.array(z.string().min(1)) })
    .partial()
    .optional(),
});

/** The defaults with the given sections' fields overridden. */
export function detectorConfig(input: DetectorConfigInput = {}): DetectorConfig {
  const d = DEFAULT_DETECTOR_CONFIG;
  return {
    memoryLimit: { ...d.memoryLimit, ...input.memoryLimit },
    thrash: { ...d.thrash, ...input.thrash },
    nodeMemory: { ...d.nodeMemory, ...input.nodeMemory },
    pids: { ...d.pids, ...input.pids },
    cpuHog: { ...d.cpuHog, ...input.cpuHog },
    login: { ...d.login, ...input.login },
  };
}

// ------------------------------------------------------------------------------- formatting

export function formatBytes(bytes: number, unit?: 'GiB' | 'MiB'): string {
  const u = unit ?? (Math.abs(bytes) >= GiB ? 'GiB' : 'MiB');
  return u === 'GiB' ? `${(bytes / GiB).toFixed(2)} GiB` : `${Math.round(bytes / MiB)} MiB`;
}

/** "1.98 of 2.00 GiB", "63 of 64 MiB": both in the unit of the second. */
function formatPair(part: number, whole: number): string {
  const unit = whole >= GiB ? 'GiB' : 'MiB';
  return `${formatBytes(part, unit).replace(/ [GM]iB$/, '')} of ${formatBytes(whole, unit)}`;
}

function formatRate(bytesPerSec: number): string {
  const sign = bytesPerSec >= 0 ? '+' : '−';
  return `${sign}${formatBytes(Math.abs(bytesPerSec), Math.abs(bytesPerSec) >= GiB ? 'GiB' : 'MiB')}/s`;
}

function formatCount(n: number): string {
  return n >= 10_000 ? `${Math.round(n / 1000)} k` : n >= 1000 ? `${(n / 1000).toFixed(1)} k` : `${Math.round(n)}`;
}

function pct(ratio: number): string {
  return `${Math.round(ratio * 100)} %`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function who(job: JobSample): string {
  return job.user ? `job ${job.jobId} (${job.user})` : `job ${job.jobId}`;
}

// ------------------------------------------------------------------------------- series and windows

export interface Point {
  atMs: number;
  job: JobSample;
}

/** Per job, its samples in time order (the history may start or end partway through a job's life). */
export function seriesByJob(history: readonly Sample[], nowMs: number, only?: ReadonlySet<number>): Map<number, Point[]> {
  const out = new Map<number, Point[]>();
  for (const sample of history) {
    if (sample.atMs > nowMs) continue;
    for (const job of sample.jobs) {
      if (only && !only.has(job.jobId)) continue;
      let s = out.get(job.jobId);
      if (!s) out.set(job.jobId, (s = []));
      s.push({ atMs: sample.atMs, job });
    }
  }
  return out;
}

/**
 * The window ending at the last point at or before `endMs`, starting at the latest point at least
 * `windowMs` earlier; null when the series does not reach back that far.
 */
export function windowOf<T extends { atMs: number }>(series: readonly T[], endMs: number, windowMs: number): { from: T; to: T } | null {
  let i = series.length - 1;
  while (i >= 0 && series[i]!.atMs > endMs) i--;
  if (i < 0) return null;
  const to = series[i]!;
  for (let j = i - 1; j >= 0; j--) {
    if (to.atMs - series[j]!.atMs >= windowMs) return { from: series[j]!, to };
  }
  return null;
}

/** (b − a) per second; null when either is missing, time did not advance, or a counter went backwards. */
function counterRate(a: number | null | undefined, b: number | null | undefined, dtMs: number, allowNegative = false): number | null {
  if (a === null || a === undefined || b === null || b === undefined || dtMs <= 0) return null;
  const d = b - a;
  if (d < 0 && !allowNegative) return null;
  return (d * 1000) / dtMs;
}

/** Share of wall time stalled between two PSI totals (µs): 0–1. */
function stallShare(aUs: number | null | undefined, bUs: number | null | undefined, dtMs: number): number | null {
  const r = counterRate(aUs, bUs, dtMs);
  return r === null ? null : r / 1_000_000;
}

export interface JobRates {
  fromMs: number;
  toMs: number;
  memGrowth: number | null;
  anonGrowth: number | null;
  refaults: number | null;
  memSome: number | null;
  memFull: number | null;
  ioSome: number | null;
  cpuSome: number | null;
  /** CPUs used (µs of CPU per µs of wall time). */
  cpus: number | null;
  pidGrowth: number | null;
  pidsEventsMaxDelta: number | null;
}

export function jobRates(from: Point, to: Point): JobRates {
  const dt = to.atMs - from.atMs;
  const a = from.job;
  const b = to.job;
  const cpuUsec = counterRate(a.cpuUsageUsec, b.cpuUsageUsec, dt);
  return {
    fromMs: from.atMs,
    toMs: to.atMs,
    memGrowth: counterRate(a.memBytes, b.memBytes, dt, true),
    anonGrowth: counterRate(a.anonBytes, b.anonBytes, dt, true),
    refaults: counterRate(a.refaultFile, b.refaultFile, dt),
    memSome: stallShare(a.psiMemory?.someUs, b.psiMemory?.someUs, dt),
    memFull: stallShare(a.psiMemory?.fullUs, b.psiMemory?.fullUs, dt),
    ioSome: stallShare(a.psiIo?.someUs, b.psiIo?.someUs, dt),
    cpuSome: stallShare(a.psiCpu?.someUs, b.psiCpu?.someUs, dt),
    cpus: cpuUsec === null ? null : cpuUsec / 1_000_000,
    pidGrowth: counterRate(a.pidsCurrent, b.pidsCurrent, dt, true),
    pidsEventsMaxDelta: a.pidsEventsMax !== null && b.pidsEventsMax !== null ? b.pidsEventsMax - a.pidsEventsMax : null,
  };
}

/**
 * Whether `holds` is true in every consecutive window of `windowMs` from `nowMs − sustainMs` to
 * `nowMs`, plus one (windows end at now, now − windowMs, …). Rates are averages over a window,
 * so the oldest window may catch the onset partway: the condition held for more than
 * sustainMs − windowMs, and is seen within sustainMs + windowMs of its start. Returns the rates of each window (newest
 * first) when it does, null otherwise — including when the series is too short.
 */
export function sustained(series: readonly Point[], nowMs: number, sustainMs: number, windowMs: number, holds: (r: JobRates, to: Point) => boolean): JobRates[] | null {
  const steps = Math.max(1, Math.ceil(sustainMs / windowMs)) + 1;
  const out: JobRates[] = [];
  let endMs = nowMs;
  for (let k = 0; k < steps; k++) {
    const w = windowOf(series, endMs, windowMs);
    if (!w) return null;
    const r = jobRates(w.from, w.to);
    if (!holds(r, w.to)) return null;
    out.push(r);
    endMs = w.from.atMs;
  }
  return out;
}

function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

function defined(n: number | null): n is number {
  return n !== null;
}

// ------------------------------------------------------------------------------- job rules

export interface RuleContext {
  config: DetectorConfig;
  nowMs: number;
  history: readonly Sample[];
  jobs: Map<number, Point[]>;
}

type RuleFn = (ctx: RuleContext) => Finding[];

function jobFinding(rule: Rule, job: JobSample, fromMs: number, toMs: number, explanation: string, metrics: Record<string, number | null>): Finding {
  const clean: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (v !== null && Number.isFinite(v)) clean[k] = v;
  return { rule, severity: 'act', jobId: job.jobId, pid: null, user: job.user, explanation, window: { fromMs, toMs }, metrics: clean };
}

/**
 * Anonymous growth from the first point after `fromMs` that has an anon figure (the sampler skips
 * memory.stat far below the limit) to `to`; null unless that span is at least 200 ms.
 */
function anonGrowthWithin(series: readonly Point[], fromMs: number, to: Point): number | null {
  if (to.job.anonBytes === null) return null;
  const first = series.find((p) => p.atMs > fromMs && p.atMs < to.atMs && p.job.anonBytes !== null);
  if (!first || to.atMs - first.atMs < 200) return null;
  return counterRate(first.job.anonBytes, to.job.anonBytes, to.atMs - first.atMs, true);
}

/** A job at (≥ 95 % of) its memory limit and growing — or refaulting its files hard there. */
export const memoryLimitRule: RuleFn = ({ config, nowMs, jobs }) => {
  const c = config.memoryLimit;
  const out: Finding[] = [];
  for (const series of jobs.values()) {
    const w = windowOf(series, nowMs, c.windowMs);
    if (!w) continue;
    const job = w.to.job;
    if (job.memBytes === null || job.memLimitBytes === null || job.memLimitBytes <= 0) continue;
    const ratio = job.memBytes / job.memLimitBytes;
    if (ratio < Math.min(c.nearLimitRatio, c.predictFromRatio)) continue;
    const r = jobRates(w.from, w.to);
    if (ratio < c.nearLimitRatio) {
      // Below the limit: only anonymous memory that will fill it within the horizon (a page cache
      // filling up is not a leak, so usage growth does not count here).
      const anonGrowth = r.anonGrowth ?? anonGrowthWithin(series, w.from.atMs, w.to);
      if (anonGrowth === null || anonGrowth < c.growthBytesPerSec) continue;
      const msToLimit = ((job.memLimitBytes - job.memBytes) / anonGrowth) * 1000;
      if (msToLimit > c.predictHorizonMs) continue;
      out.push(
        jobFinding(
          'memory-limit',
          job,
          w.from.atMs,
          w.to.atMs,
          `${who(job)}: memory ${formatPair(job.memBytes, job.memLimitBytes)} (${pct(ratio)}), anonymous memory ${formatRate(anonGrowth)} over ${secs(w.to.atMs - w.from.atMs)}: at the limit in ${secs(msToLimit)}`,
          { memBytes: job.memBytes, memLimitBytes: job.memLimitBytes, usageRatio: ratio, anonGrowthBytesPerSec: anonGrowth, msToLimit },
        ),
      );
      continue;
    }
    // A leak is anonymous memory growing (at the limit it pushes the page cache out, and usage
    // stays flat); a job filling its page cache grows usage only. Usage growth counts where
    // memory.stat gave no anon figure.
    const growth = r.anonGrowth ?? anonGrowthWithin(series, w.from.atMs, w.to) ?? (job.anonBytes === null ? r.memGrowth : null) ?? -Infinity;
    const growing = growth >= c.growthBytesPerSec;
    // Refaulting at the limit counts with memory stalls (PSI), or without PSI once anonymous memory
    // fills most of the limit: a streaming job at its limit refaults long-evicted pages without stalling.
    const stalled = r.memSome !== null ? r.memSome >= c.memSomeRatio : job.anonBytes !== null && job.anonBytes >= c.anonRatioWithoutPsi * job.memLimitBytes;
    const refaulting = r.refaults !== null && r.refaults >= c.refaultPagesPerSec && stalled;
    if (!growing && !refaulting) continue;
    const dt = w.to.atMs - w.from.atMs;
    const parts = [
      `${who(job)}: memory ${formatPair(job.memBytes, job.memLimitBytes)} (${pct(ratio)})`,
      `${Number.isFinite(growth) ? formatRate(growth) : 'growth unknown'} over ${secs(dt)}`,
      ...(r.refaults !== null ? [`refaults ${formatCount(r.refaults)} pages/s`] : []),
      ...(r.memSome !== null ? [`memory stalled ${pct(r.memSome)}`] : []),
    ];
    out.push(
      jobFinding('memory-limit', job, w.from.atMs, w.to.atMs, parts.join(', '), {
        memBytes: job.memBytes,
        memLimitBytes: job.memLimitBytes,
        usageRatio: ratio,
        growthBytesPerSec: Number.isFinite(growth) ? growth : null,
        memGrowthBytesPerSec: r.memGrowth,
        anonGrowthBytesPerSec: r.anonGrowth,
        refaultPagesPerSec: r.refaults,
        memSomeRatio: r.memSome,
      }),
    );
  }
  return out;
};

/**
 * Steady thrash inside a job's limit, which the kernel tolerates for ever: usage within the
 * margin of the limit, file refaults high and memory or io stalls high, in every window for
 * sustainMs. A streaming job (io stalls, but pages read once: few refaults) does not qualify.
 */
export const thrashRule: RuleFn = ({ config, nowMs, jobs }) => {
  const c = config.thrash;
  const out: Finding[] = [];
  for (const series of jobs.values()) {
    const windows = sustained(series, nowMs, c.sustainMs, c.windowMs, (r, to) => {
      const job = to.job;
      if (job.memBytes === null || job.memLimitBytes === null) return false;
      if (job.memBytes < job.memLimitBytes * (1 - c.marginRatio)) return false;
      if (r.refaults === null) return false;
      if (r.memSome === null && r.ioSome === null) return r.refaults >= c.refaultPagesPerSec * c.noPsiRefaultFactor;
      if (r.refaults < c.refaultPagesPerSec) return false;
      return (r.memSome ?? 0) >= c.memSomeRatio || (r.ioSome ?? 0) >= c.ioSomeRatio;
    });
    if (!windows) continue;
    const job = series[series.length - 1]!.job;
    const fromMs = windows[windows.length - 1]!.fromMs;
    const toMs = windows[0]!.toMs;
    const refaults = mean(windows.map((w) => w.refaults).filter(defined));
    const memSomes = windows.map((w) => w.memSome).filter(defined);
    const ioSomes = windows.map((w) => w.ioSome).filter(defined);
    const memSome = memSomes.length ? mean(memSomes) : null;
    const ioSome = ioSomes.length ? mean(ioSomes) : null;
    const explanation = [
      `${who(job)}: thrashing at its limit for ${secs(toMs - fromMs)}, memory ${formatPair(job.memBytes!, job.memLimitBytes!)}`,
      `refaults ${formatCount(refaults)} pages/s`,
      ...(memSome !== null ? [`memory stalled ${pct(memSome)}`] : []),
      ...(ioSome !== null ? [`io stalled ${pct(ioSome)}`] : []),
    ].join(', ');
    out.push(
      jobFinding('memory-thrash', job, fromMs, toMs, explanation, {
        memBytes: job.memBytes,
        memLimitBytes: job.memLimitBytes,
        refaultPagesPerSec: refaults,
        memSomeRatio: memSome,
        ioSomeRatio: ioSome,
        sustainedMs: toMs - fromMs,
      }),
    );
  }
  return out;
};

/** The floors of the node-memory rule: MemAvailable's, and the jobs' parent's (null without a parent limit). */
export function nodeFloors(node: NodeSample, c: DetectorConfig['nodeMemory']): { node: number; parent: number | null } {
  const limit = node.parent?.memLimitBytes ?? null;
  return { node: Math.max(c.floorBytes, c.floorRatio * node.memTotalBytes), parent: limit === null ? null : Math.max(c.parentFloorBytes, c.parentFloorRatio * limit) };
}

/** Near enough to a floor that the sampler reads every job every tick (the rule compares all jobs' growth). */
export function underNodePressure(node: NodeSample, config: DetectorConfig): boolean {
  const floors = nodeFloors(node, config.nodeMemory);
  const parentAvail = node.parent?.availableBytes ?? null;
  return node.memAvailableBytes < 2 * floors.node || (floors.parent !== null && parentAvail !== null && parentAvail < 2 * floors.parent);
}

/**
 * The node running out: MemAvailable under the floor, or falling to it within the horizon, or
 * memory stalls near it; or the same for what is left under the jobs' parent cgroup's limit, where
 * the kernel's OOM killer would otherwise pick the largest job in the parent, innocent or not.
 */
export const nodeMemoryRule: RuleFn = ({ config, nowMs, history, jobs }) => {
  const c = config.nodeMemory;
  const w = windowOf(history, nowMs, c.windowMs);
  if (!w) return [];
  const node = w.to.node;
  const dt = w.to.atMs - w.from.atMs;
  const floors = nodeFloors(node, c);
  const floor = floors.node;
  const avail = node.memAvailableBytes;
  const fall = -(counterRate(w.from.node.memAvailableBytes, avail, dt, true) ?? 0);
  const psi = stallShare(w.from.node.psiMemory?.someUs, node.psiMemory?.someUs, dt);
  const below = avail < floor;
  const fallingFast = fall > 0 && avail > floor && ((avail - floor) / fall) * 1000 <= c.horizonMs;
  const stalling = psi !== null && psi >= c.psiSomeRatio && avail < 2 * floor;
  // The parent: what is left under its limit (reclaimable cache counted, so a streaming job's cache is not a fall).
  const parent = node.parent ?? null;
  const parentAvail = parent?.availableBytes ?? null;
  const parentFloor = floors.parent;
  const parentFall = -(counterRate(w.from.node.parent?.availableBytes, parentAvail, dt, true) ?? 0);
  const parentBelow = parentAvail !== null && parentFloor !== null && parentAvail < parentFloor && (parentFall > 0 || (psi !== null && psi >= c.psiSomeRatio));
  // Only near the floor (within 2 floors, where every job is read every tick): a job filling its
  // memory fast at start-up and stopping short of the parent's limit is no exhaustion.
  const parentFalling = parentAvail !== null && parentFloor !== null && parentFall > 0 && parentAvail >= parentFloor && parentAvail <= 2 * parentFloor && ((parentAvail - parentFloor) / parentFall) * 1000 <= c.horizonMs;
  const nodeShort = below || fallingFast || stalling;
  if (!nodeShort && !parentBelow && !parentFalling) return [];
  // Candidates: the jobs whose usage grew over the window, fastest first.
  const growth: { jobId: number; rate: number }[] = [];
  for (const [jobId, series] of jobs) {
    const jw = windowOf(series, w.to.atMs, c.windowMs);
    if (!jw) continue;
    const rate = jobRates(jw.from, jw.to).memGrowth;
    if (rate !== null && rate > 0) growth.push({ jobId, rate });
  }
  growth.sort((a, b) => b.rate - a.rate);
  const top = growth[0];
  const tail = top ? `fastest-growing job ${top.jobId} ${formatRate(top.rate)}` : 'no job growing';
  const metrics: Record<string, number> = { memAvailableBytes: avail, memTotalBytes: node.memTotalBytes, floorBytes: floor, fallBytesPerSec: fall };
  if (psi !== null) metrics.memSomeRatio = psi;
  if (top) metrics.topGrowthBytesPerSec = top.rate;
  let explanation: string;
  if (nodeShort) {
    const why = below ? `below the floor of ${formatBytes(floor)}` : fallingFast ? `falling ${formatBytes(fall)}/s toward the floor of ${formatBytes(floor)}` : `memory stalled ${pct(psi!)} near the floor of ${formatBytes(floor)}`;
    explanation = [`node: MemAvailable ${formatBytes(avail)} of ${formatBytes(node.memTotalBytes, 'GiB')} ${why} over ${secs(dt)}`, ...(psi !== null ? [`memory stalled ${pct(psi)}`] : []), tail].join(', ');
  } else {
    const why = parentBelow ? `below the floor of ${formatBytes(parentFloor!)}` : `falling ${formatBytes(parentFall)}/s toward the floor of ${formatBytes(parentFloor!)}`;
    explanation = [`jobs' cgroup: ${formatBytes(parentAvail!)} left of its ${formatBytes(parent!.memLimitBytes!)} limit (${formatPair(parent!.memBytes ?? 0, parent!.memLimitBytes!)} used), ${why} over ${secs(dt)}`, tail].join(', ');
  }
  if (parentAvail !== null && parentFloor !== null) {
    metrics.parentAvailableBytes = parentAvail;
    metrics.parentFloorBytes = parentFloor;
    metrics.parentFallBytesPerSec = parentFall;
    if (parent?.memLimitBytes != null) metrics.parentLimitBytes = parent.memLimitBytes;
  }
  return [{ rule: 'node-memory', severity: 'act', jobId: null, pid: null, user: null, explanation, window: { fromMs: w.from.atMs, toMs: w.to.atMs }, metrics, candidates: growth.map((g) => g.jobId) }];
};

/** Process explosion: pids near pids.max, forks refused at pids.max, or a fast climb. */
export const pidsRule: RuleFn = ({ config, nowMs, jobs }) => {
  const c = config.pids;
  const out: Finding[] = [];
  for (const series of jobs.values()) {
    const last = series[series.length - 1];
    if (!last || last.atMs > nowMs || last.job.pidsCurrent === null) continue;
    const job = last.job;
    const current = job.pidsCurrent!;
    const w = windowOf(series, nowMs, c.windowMs);
    const r = w ? jobRates(w.from, w.to) : null;
    const nearMax = job.pidsMax !== null && job.pidsMax > 0 && current >= c.nearMaxRatio * job.pidsMax;
    const refused = r !== null && r.pidsEventsMaxDelta !== null && r.pidsEventsMaxDelta > 0;
    const climbing = r !== null && r.pidGrowth !== null && r.pidGrowth >= c.growthPerSec && current >= c.minPids;
    if (!nearMax && !refused && !climbing) continue;
    const fromMs = w?.from.atMs ?? last.atMs;
    const explanation = [
      `${who(job)}: ${current} processes${job.pidsMax !== null ? ` of pids.max ${job.pidsMax} (${pct(current / job.pidsMax)})` : ''}`,
      ...(r?.pidGrowth != null ? [`${r.pidGrowth >= 0 ? '+' : ''}${Math.round(r.pidGrowth)}/s over ${secs(last.atMs - fromMs)}`] : []),
      ...(refused ? [`${r!.pidsEventsMaxDelta} forks refused at the limit`] : []),
    ].join(', ');
    out.push(
      jobFinding('pids-explosion', job, fromMs, last.atMs, explanation, {
        pidsCurrent: current,
        pidsMax: job.pidsMax,
        pidGrowthPerSec: r?.pidGrowth ?? null,
        forksRefused: r?.pidsEventsMaxDelta ?? null,
      }),
    );
  }
  return out;
};

/** A job using more CPU than allocated for sustainMs (only possible where no cpu quota applies). */
export const cpuHogRule: RuleFn = ({ config, nowMs, jobs }) => {
  const c = config.cpuHog;
  const out: Finding[] = [];
  for (const series of jobs.values()) {
    const windows = sustained(series, nowMs, c.sustainMs, c.windowMs, (r, to) => {
      const alloc = to.job.cpusAllocated;
      return r.cpus !== null && alloc !== null && alloc > 0 && r.cpus / alloc > c.overuseRatio;
    });
    if (!windows) continue;
    const job = series[series.length - 1]!.job;
    const fromMs = windows[windows.length - 1]!.fromMs;
    const toMs = windows[0]!.toMs;
    const cpus = mean(windows.map((w) => w.cpus).filter(defined));
    const alloc = job.cpusAllocated!;
    out.push(
      jobFinding('cpu-hog', job, fromMs, toMs, `${who(job)}: using ${cpus.toFixed(2)} CPUs of ${alloc} allocated (${pct(cpus / alloc)}) for ${secs(toMs - fromMs)}`, {
        cpusUsed: cpus,
        cpusAllocated: alloc,
        overuseRatio: cpus / alloc,
        sustainedMs: toMs - fromMs,
      }),
    );
  }
  return out;
};

/** The job rules, in order; each is a small pure function. */
export const RULE_TABLE: readonly { rule: Rule; run: RuleFn }[] = [
  { rule: 'memory-limit', run: memoryLimitRule },
  { rule: 'memory-thrash', run: thrashRule },
  { rule: 'node-memory', run: nodeMemoryRule },
  { rule: 'pids-explosion', run: pidsRule },
  { rule: 'cpu-hog', run: cpuHogRule },
];

/** Every finding the history shows at `nowMs` (samples after nowMs are ignored). */
export function detect(history: readonly Sample[], config: DetectorConfig, nowMs: number, only?: readonly Rule[]): Finding[] {
  const visible = history.length && history[history.length - 1]!.atMs > nowMs ? history.filter((s) => s.atMs <= nowMs) : history;
  // Only the jobs in the newest sample: a job that ended is nobody's business any more, and with
  // tiered sampling one not read this tick has no new point (its findings were made when it was).
  const present = new Set((visible.at(-1)?.jobs ?? []).map((j) => j.jobId));
  const jobs = seriesByJob(visible, nowMs, present);
  const ctx: RuleContext = { config, nowMs, history: visible, jobs };
  const out: Finding[] = [];
  for (const entry of RULE_TABLE) if (!only || only.includes(entry.rule)) out.push(...entry.run(ctx));
  return out;
}

// ------------------------------------------------------------------------------- login host

/**
 * A user's single process using more than cpuRatio of a CPU for longer than warnAfterMs →
 * 'warn'; longer than reniceAfterMs → 'renice'; longer than stopAfterMs → 'stop'. Duration is
 * counted in consecutive windows of stepMs back from now in which the process (same pid and
 * start time) stayed above the ratio.
 */
export function detectLogin(ticks: readonly ProcessTick[], config: DetectorConfig, nowMs: number): Finding[] {
  const c = config.login;
  const visible = ticks.filter((t) => t.atMs <= nowMs);
  if (visible.length < 2) return [];
  const last = visible[visible.length - 1]!;
  const key = (p: { pid: number; startTicks: number }) => `${p.pid}:${p.startTicks}`;
  const out: Finding[] = [];
  for (const proc of last.processes) {
    if (proc.user !== null && c.exemptUsers.includes(proc.user)) continue;
    let endIndex = visible.length - 1;
    let endTicks = proc.cpuTicks;
    let heldMs = 0;
    const shares: number[] = [];
    while (heldMs <= c.stopAfterMs) {
      const endAt = visible[endIndex]!.atMs;
      // the latest tick at least stepMs before the window's end
      let fromIndex = endIndex - 1;
      while (fromIndex >= 0 && endAt - visible[fromIndex]!.atMs < c.stepMs) fromIndex--;
      if (fromIndex < 0) break;
      const from = visible[fromIndex]!;
      const before = from.processes.find((p) => key(p) === key(proc));
      if (!before) break;
      const dtMs = endAt - from.atMs;
      const share = ((endTicks - before.cpuTicks) / last.cpuTicksPerSecond) * (1000 / dtMs);
      if (share <= c.cpuRatio) break;
      shares.push(share);
      heldMs += dtMs;
      endIndex = fromIndex;
      endTicks = before.cpuTicks;
    }
    const severity = heldMs >= c.stopAfterMs ? 'stop' : heldMs >= c.reniceAfterMs ? 'renice' : heldMs >= c.warnAfterMs ? 'warn' : null;
    if (!severity) continue;
    const share = mean(shares);
    const name = proc.user ?? `uid ${proc.uid}`;
    out.push({
      rule: 'login-cpu-hog',
      severity,
      jobId: null,
      pid: proc.pid,
      user: proc.user,
      explanation: `login host: ${name}'s process ${proc.pid} (${proc.comm}) used ${pct(share)} of a CPU for ${Math.round(heldMs / 60_000)} min (limit ${pct(c.cpuRatio)} for ${Math.round(c.warnAfterMs / 60_000)} min): ${severity}`,
      window: { fromMs: visible[endIndex]!.atMs, toMs: last.atMs },
      metrics: { cpuShare: share, heldMs, rssBytes: proc.rssBytes, uid: proc.uid },
    });
  }
  return out;
}
