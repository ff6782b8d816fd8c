/**
 * Wall-clock times in an IANA time zone (Asia/Tokyo, Europe/Berlin, UTC) with the zone data the
 * runtime ships (Intl): for reports whose days — and so their midnights — are a site's own.
 */

const formats = new Map<string, Intl.DateTimeFormat>();

function formatOf(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formats.set(timeZone, format);
  }
  return format;
}

/** The zone's canonical name ('asia/tokyo' → 'Asia/Tokyo'), or null when the runtime does not know it. */
export function canonicalTimeZone(name: string): string | null {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(name)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function wallTime(date: Date, timeZone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatOf(timeZone).formatToParts(date)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** "2026-11-03 22:40" on the zone's clock. */
export function formatWallTime(date: Date, timeZone: string): string {
  const w = wallTime(date, timeZone);
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}`;
}

/** "2026-11-03": the zone's date at that instant. */
export function dateIn(ms: number, timeZone: string): string {
  const w = wallTime(new Date(ms), timeZone);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}`;
}

/** Wall clock minus UTC at that instant, in ms (Asia/Tokyo: +9 h). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const w = wallTime(new Date(ms), timeZone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant the zone's clock shows this date and time. As Temporal's 'compatible': a wall time
 * shown twice (summer time ending) is the earlier instant; one skipped (summer time starting) is
 * moved forward by the gap.
 */
export function instantOf(wall: Omit<WallTime, 'second'> & { second?: number }, timeZone: string): Date {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second ?? 0);
  const day = 86_400_000;
  // The offsets a day either side cover any change near this time.
  const candidates = [...new Set([asUtc - zoneOffsetMs(asUtc - day, timeZone), asUtc - zoneOffsetMs(asUtc + day, timeZone)])];
  const exact = candidates.filter((at) => zoneOffsetMs(at, timeZone) === asUtc - at);
  return new Date(exact.length > 0 ? Math.min(...exact) : Math.max(...candidates));
}
