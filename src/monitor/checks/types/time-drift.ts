import { z } from 'zod';
import { defineCheck, errorText, unknown, worst, type CheckOutcome } from '../check-type.ts';
import { durationParam } from './common.ts';

const params = z
  .object({
    /** Offset against the Keisan server's clock (seconds) at or above which the check warns… */
    warning: z.number().positive().default(0.05),
    /** …and is critical (Kerberos, Munge and make break at a few minutes; job accounting much sooner). */
    critical: z.number().positive().default(1),
    /** The server whose clock is the reference (default: the agent's server). */
    serverUrl: z.url().optional(),
    /** Also ask chrony or systemd-timesyncd (through timedatectl) whether the clock is synchronised. */
    syncState: z.boolean().default(true),
    timeout: durationParam('5s'),
  })
  .strict()
  .refine((p) => p.critical >= p.warning, { message: 'critical must be at least warning', path: ['critical'] });

export interface Offset {
  /** Seconds the local clock is behind (positive) or ahead (negative) of the server. */
  offsetSeconds: number;
  roundTripSeconds: number;
}

/** NTP's one-exchange estimate: the server's time was read halfway through the round trip. */
export function estimateOffset(sentMs: number, serverMs: number, receivedMs: number): Offset {
  return { offsetSeconds: (serverMs - (sentMs + receivedMs) / 2) / 1000, roundTripSeconds: (receivedMs - sentMs) / 1000 };
}

export interface ChronyTracking {
  reference: string;
  /** chrony's estimate of the system clock's offset from true time (seconds, positive: fast). */
  offsetSeconds: number;
  leap: string;
}

/** `chronyc -c tracking`: ref id, name, stratum, ref time, system time offset, …, leap status (last field). */
export function parseChronyTracking(text: string): ChronyTracking | undefined {
  const fields = text.trim().split('\n')[0]?.split(',') ?? [];
  if (fields.length < 14) return undefined;
  const offset = Number(fields[4]);
  return { reference: fields[1] || fields[0]!, offsetSeconds: Number.isFinite(offset) ? offset : NaN, leap: fields[fields.length - 1]!.trim() };
}

async function serverOffset(url: string, timeoutMs: number, signal: AbortSignal): Promise<Offset> {
  const sent = Date.now();
  const response = await fetch(new URL('/api/health', url), { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
  const received = Date.now();
  if (!response.ok) throw new Error(`/api/health answered HTTP ${response.status}`);
  const body = (await response.json()) as { time?: string };
  const serverMs = body.time ? Date.parse(body.time) : NaN;
  if (!Number.isFinite(serverMs)) throw new Error('/api/health did not say the server\'s time');
  return estimateOffset(sent, serverMs, received);
}

export default defineCheck({
  type: 'time-drift',
  description: 'the clock against the Keisan server\'s (its /api/health time, round trip allowed for) and the NTP sync state',
  params,
  target: () => 'clock',
  defaultInterval: 60_000,
  async run(p, context) {
    const outcomes: CheckOutcome[] = [];
    const server = p.serverUrl ?? context.serverUrl;
    let offset: Offset | undefined;
    try {
      offset = await serverOffset(server, p.timeout, context.signal);
    } catch (error) {
      outcomes.push(unknown(`cannot compare the clock of ${context.host} with the server ${server}: ${errorText(error)}`));
    }
    const details: Record<string, unknown> = {};
    if (offset) {
      const abs = Math.abs(offset.offsetSeconds);
      const uncertainty = offset.roundTripSeconds / 2;
      Object.assign(details, { offsetSeconds: offset.offsetSeconds, roundTripSeconds: offset.roundTripSeconds });
      // Only drift beyond what the round trip could explain counts.
      const drift = Math.max(0, abs - uncertainty);
      const status = drift >= p.critical ? 'critical' : drift >= p.warning ? 'warning' : 'ok';
      const direction = offset.offsetSeconds > 0 ? 'behind' : 'ahead of';
      outcomes.push({
        status,
        summary: `the clock of ${context.host} is ${abs.toFixed(3)} s ${direction} the server's (±${uncertainty.toFixed(3)} s round trip)${status === 'ok' ? '' : `, more than the ${status} threshold of ${status === 'critical' ? p.critical : p.warning} s`}`,
        value: offset.offsetSeconds,
      });
    }
    if (p.syncState) {
      // chrony where it runs (it says its own offset from its sources), else systemd's view (timedatectl).
      const chrony = await context.exec('chronyc', ['-c', 'tracking'], { timeoutMs: p.timeout, signal: context.signal });
      const tracking = !chrony.failure && chrony.code === 0 ? parseChronyTracking(chrony.stdout) : undefined;
      if (tracking) {
        Object.assign(details, { chronyReference: tracking.reference, chronyOffsetSeconds: tracking.offsetSeconds, chronyLeap: tracking.leap });
        if (tracking.leap === 'Not synchronised')
          outcomes.push({ status: 'warning', summary: `the clock of ${context.host} is not synchronised: chrony has no usable time source (chronyc tracking: ${tracking.leap})`, value: offset?.offsetSeconds ?? null });
      } else {
        const result = await context.exec('timedatectl', ['show', '-p', 'NTPSynchronized', '-p', 'NTP', '--value'], { timeoutMs: p.timeout, signal: context.signal });
        if (!result.failure && result.code === 0) {
          const [synchronized, ntp] = result.stdout.trim().split('\n');
          details.ntpSynchronized = synchronized === 'yes';
          details.ntpService = ntp === 'yes';
          if (synchronized === 'no') outcomes.push({ status: 'warning', summary: `the clock of ${context.host} is not synchronised by NTP (timedatectl: NTPSynchronized=no${ntp === 'no' ? ', NTP service off' : ''})`, value: offset?.offsetSeconds ?? null });
        } else {
          details.syncState = result.failure ?? result.stderr.trim().split('\n')[0];
        }
      }
    }
    const status = worst(outcomes.map((o) => o.status));
    const chosen = outcomes.find((o) => o.status === status) ?? outcomes[0]!;
    return { ...chosen, details: { ...details, ...(outcomes.length > 1 ? { also: outcomes.filter((o) => o !== chosen).map((o) => o.summary) } : {}) } };
  },
});
