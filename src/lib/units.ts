import { invalidInput } from './errors.ts';

/**
 * Sizes and durations are parsed here and only here, accepting the forms users already write:
 * sizes `16G`, `16GB`, `16GiB`, `16384M`, `512k`, plain bytes; durations `2-00:00:00`,
 * `48:00:00`, `90:00` (mm:ss as in SLURM), `90m`, `10h`, `4w`, `1d12h`, plain seconds.
 */
const SIZE_FACTORS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
  p: 1024 ** 5, pb: 1024 ** 5, pib: 1024 ** 5,
};

/** Parses a size into bytes. Units are binary (as SLURM and LSF treat them). */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw invalidInput(`size ${text} must be a non-negative number of bytes`);
    return Math.round(text);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const factor = match ? SIZE_FACTORS[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw invalidInput(`'${text}' is not a size: write a number with an optional unit, e.g. 512M, 16G, 16GB, 2T`);
  }
  return Math.round(Number(match[1]) * factor);
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

/** Parses a duration into milliseconds. A bare number is seconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw invalidInput(`duration ${text} must be a non-negative number of seconds`);
    return Math.round(text * 1000);
  }
  const trimmed = text.trim();
  const bad = () =>
    invalidInput(`'${text}' is not a duration: write e.g. 90m, 10h, 4w, 1d12h, 48:00:00 or 2-00:00:00`);
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);

  // SLURM forms: days-hours[:minutes[:seconds]], hours:minutes:seconds, minutes:seconds
  const clock = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(trimmed);
  if (clock && (clock[1] !== undefined || clock[3] !== undefined)) {
    const days = Number(clock[1] ?? 0);
    const parts = [clock[2], clock[3], clock[4]].filter((p): p is string => p !== undefined).map(Number);
    let h = 0, m = 0, s = 0;
    if (clock[1] !== undefined) [h = 0, m = 0, s = 0] = parts;
    else if (parts.length === 3) [h = 0, m = 0, s = 0] = parts;
    else [m = 0, s = 0] = parts;
    // The leading field may be large (SLURM takes 90:30 as 90 minutes 30 seconds).
    const leadingIsMinutes = clock[1] === undefined && parts.length < 3;
    if ((!leadingIsMinutes && m >= 60) || s >= 60) throw bad();
    return (((days * 24 + h) * 60 + m) * 60 + s) * 1000;
  }

  const unitPattern = /(\d+(?:\.\d+)?)\s*([a-zA-Z]+)/g;
  let total = 0;
  let consumed = '';
  for (const part of trimmed.matchAll(unitPattern)) {
    const factor = DURATION_UNITS_MS[part[2]!.toLowerCase()];
    if (factor === undefined) throw bad();
    total += Number(part[1]) * factor;
    consumed += part[0];
  }
  if (consumed.replace(/\s+/g, '') !== trimmed.replace(/\s+/g, '') || consumed === '') throw bad();
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  const negative = ms < 0;
  let seconds = Math.round(Math.abs(ms) / 1000);
  const days = Math.floor(seconds / 86_400);
  seconds -= days * 86_400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const parts: string[] = [];
  if (days) parts.push(`${days}d`);
  if (hours) parts.push(`${hours}h`);
  if (minutes) parts.push(`${minutes}m`);
  if (seconds || parts.length === 0) parts.push(`${seconds}s`);
  return (negative ? '-' : '') + parts.join('');
}
