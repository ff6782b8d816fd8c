import { z } from 'zod';
import { formatSize } from '../../../lib/units.ts';
import { defineCheck, errorText, humanMs, unknown, worst, type CheckContext, type CheckOutcome } from '../check-type.ts';
import { durationParam, percent, thresholds } from './common.ts';
import { mountsToCheck, PSEUDO_FSTYPES, usageOf, type Usage } from './mounts.ts';

export const filesystemParams = z
  .object({
    /** Mount points to check; empty: every writable mount that is not a pseudo filesystem. */
    mounts: z.array(z.string().startsWith('/', 'a mount point starts with /')).default([]),
    ...thresholds(80, 90),
    excludeFsTypes: z.array(z.string()).default(PSEUDO_FSTYPES),
    /** Predictive rule: warn when the recent trend fills the filesystem within this long (0 turns it off). */
    fullWithin: durationParam('24h'),
    /** …with this status. */
    predictStatus: z.enum(['warning', 'critical']).default('warning'),
    /** The trend is a linear regression over the samples of this long… */
    trendWindow: durationParam('6h'),
    /** …once there are at least this many samples spanning at least trendMinSpan. */
    trendMinSamples: z.number().int().min(3).max(10_000).default(8),
    trendMinSpan: durationParam('20m'),
    /** statfs of a hung network filesystem never answers: give up after this long. */
    statTimeout: durationParam('5s'),
    mountinfo: z.string().optional(),
  })
  .strict()
  .refine((p) => p.critical >= p.warning, { message: 'critical must be at least warning', path: ['critical'] });
export type FilesystemParams = z.output<typeof filesystemParams>;

export interface TrendSample {
  t: number;
  used: number;
}

/** Least-squares slope of used bytes over time, in bytes per millisecond (null when it cannot be told). */
export function usageSlope(samples: readonly TrendSample[]): number | null {
  const n = samples.length;
  if (n < 2) return null;
  const t0 = samples[0]!.t;
  let sx = 0;
  let sy = 0;
  for (const s of samples) {
    sx += s.t - t0;
    sy += s.used;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    const dx = s.t - t0 - mx;
    num += dx * (s.used - my);
    den += dx * dx;
  }
  return den === 0 ? null : num / den;
}

export interface Prediction {
  /** Milliseconds until full at the current trend; null when not filling or not enough samples. */
  fullInMs: number | null;
  bytesPerHour: number | null;
  samples: number;
}

/** Keeps the sample in `samples` (trimmed to the window) and predicts when the filesystem is full. */
export function predictFull(samples: TrendSample[], now: number, usage: Pick<Usage, 'usedBytes' | 'availBytes'>, p: Pick<FilesystemParams, 'trendWindow' | 'trendMinSamples' | 'trendMinSpan'>): Prediction {
  samples.push({ t: now, used: usage.usedBytes });
  while (samples.length > 0 && samples[0]!.t < now - p.trendWindow) samples.shift();
  while (samples.length > 5000) samples.shift();
  const span = samples.length > 0 ? now - samples[0]!.t : 0;
  if (samples.length < p.trendMinSamples || span < p.trendMinSpan) return { fullInMs: null, bytesPerHour: null, samples: samples.length };
  const slope = usageSlope(samples);
  if (slope === null) return { fullInMs: null, bytesPerHour: null, samples: samples.length };
  const bytesPerHour = slope * 3_600_000;
  if (slope <= 0) return { fullInMs: null, bytesPerHour, samples: samples.length };
  return { fullInMs: usage.availBytes / slope, bytesPerHour, samples: samples.length };
}

export function statWithTimeout(mountpoint: string, ms: number): Promise<Usage> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    usageOf(mountpoint),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`statfs did not answer within ${humanMs(ms)} (a hung network filesystem?)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function judgeFilesystem(mountpoint: string, usage: Usage, p: FilesystemParams, context: CheckContext): CheckOutcome {
  let samples = context.state.get(mountpoint) as TrendSample[] | undefined;
  if (!samples) {
    samples = [];
    context.state.set(mountpoint, samples);
  }
  const prediction = predictFull(samples, context.now(), usage, p);
  const used = `${percent(usage.usedPercent)} full (${formatSize(usage.usedBytes)} of ${formatSize(usage.usedBytes + usage.availBytes)})`;
  const level = usage.usedPercent >= p.critical ? 'critical' : usage.usedPercent >= p.warning ? 'warning' : 'ok';
  const filling = p.fullWithin > 0 && prediction.fullInMs !== null && prediction.fullInMs <= p.fullWithin;
  const status = worst([level, filling ? p.predictStatus : 'ok']);
  const details = {
    usedPercent: Math.round(usage.usedPercent * 100) / 100,
    sizeBytes: usage.sizeBytes,
    usedBytes: usage.usedBytes,
    availBytes: usage.availBytes,
    fullInHours: prediction.fullInMs === null ? null : Math.round((prediction.fullInMs / 3_600_000) * 100) / 100,
    growthBytesPerHour: prediction.bytesPerHour === null ? null : Math.round(prediction.bytesPerHour),
    trendSamples: prediction.samples,
  };
  let summary = `${mountpoint} on ${context.host} is ${used}`;
  if (level !== 'ok') summary += `, above the ${level} threshold of ${level === 'critical' ? p.critical : p.warning} %`;
  if (filling) summary += `; at the recent rate (${formatSize(prediction.bytesPerHour!)}/h) it is full within ${humanMs(prediction.fullInMs!)}`;
  return { target: mountpoint, status, summary, value: Math.round(usage.usedPercent * 100) / 100, details };
}

export default defineCheck({
  type: 'filesystem',
  description: 'disk usage per mount above thresholds, and a predictive "full within N hours" rule from the recent trend',
  params: filesystemParams,
  target: (p) => (p.mounts.length > 0 ? p.mounts.join(',') : 'all'),
  async run(p, context) {
    let mounts;
    try {
      mounts = await mountsToCheck(p.mounts, p.excludeFsTypes, p.mountinfo);
    } catch (error) {
      return unknown(`cannot list the mounts of ${context.host}: ${errorText(error)}`);
    }
    return Promise.all(
      mounts.map(async (mount) => {
        try {
          return judgeFilesystem(mount.mountpoint, await statWithTimeout(mount.mountpoint, p.statTimeout), p, context);
        } catch (error) {
          return { ...unknown(`cannot read the usage of ${mount.mountpoint} on ${context.host}: ${errorText(error)}`), target: mount.mountpoint };
        }
      }),
    );
  },
});
