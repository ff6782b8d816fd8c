import type { UpsStatus } from './status.ts';

/**
 * The power monitor's decisions, as pure functions of the state so far, one sample of the UPS
 * and the time. The monitor polls, calls `decide`, stores the new state and carries out the
 * actions; nothing here does I/O.
 *
 * - On battery (OB) seen first: `power-lost` (the monitor opens the incident).
 * - On battery for gracePeriod or longer, or low battery (LB), or forced shutdown (FSD) at any
 *   time: `start-shutdown`, exactly once per monitor life (phase `shutting-down` never goes back).
 * - Back on line before that: `power-restored`; the grace clock starts again at the next OB.
 * - The UPS unreachable (upsd down, DATA-STALE, unknown UPS): while on battery the clock keeps
 *   running on the last known state (so a UPS that dies mid-outage still leads to the shutdown);
 *   while on line: `ups-unreachable` once, `ups-reachable` when it answers again.
 */

export type PowerPhase = 'online' | 'on-battery' | 'shutting-down';

export interface PowerState {
  phase: PowerPhase;
  /** When OB was first seen in the current outage (epoch ms); null on line. */
  onBatterySince: number | null;
  /** When the plan started; null before. */
  shutdownStartedAt: number | null;
  /** Why the plan started. */
  shutdownReason: ShutdownReason | null;
  /** The UPS did not answer the last poll. */
  unreachable: boolean;
  /** The last status upsd gave, with its time. */
  last: { at: number; status: UpsStatus } | null;
  /** The last problem reaching the UPS, with its time. */
  lastError: { at: number; message: string } | null;
}

export type ShutdownReason = 'grace-period' | 'low-battery' | 'forced-shutdown';

export type Sample = { ok: true; status: UpsStatus } | { ok: false; error: string };

export type PowerAction =
  | { kind: 'power-lost'; at: number; status: UpsStatus }
  | { kind: 'power-restored'; at: number; onBatteryMs: number }
  | { kind: 'start-shutdown'; at: number; reason: ShutdownReason; onBatteryMs: number }
  | { kind: 'restored-during-shutdown'; at: number }
  | { kind: 'ups-unreachable'; at: number; error: string }
  | { kind: 'ups-reachable'; at: number };

export const INITIAL_POWER_STATE: PowerState = {
  phase: 'online',
  onBatterySince: null,
  shutdownStartedAt: null,
  shutdownReason: null,
  unreachable: false,
  last: null,
  lastError: null,
};

export interface DecideOptions {
  gracePeriodMs: number;
}

/** Pure: the state after `sample` at `now`, and what to do. */
export function decide(state: PowerState, sample: Sample, now: number, options: DecideOptions): { state: PowerState; actions: PowerAction[] } {
  const actions: PowerAction[] = [];
  let next: PowerState = { ...state };

  if (!sample.ok) {
    next.lastError = { at: now, message: sample.error };
    if (!state.unreachable) {
      next.unreachable = true;
      actions.push({ kind: 'ups-unreachable', at: now, error: sample.error });
    }
    // On battery the outage goes on as far as we know: the grace clock still runs.
    if (state.phase === 'on-battery' && state.onBatterySince !== null && now - state.onBatterySince >= options.gracePeriodMs) {
      next = startShutdown(next, now, 'grace-period', actions);
    }
    return { state: next, actions };
  }

  const status = sample.status;
  next.last = { at: now, status };
  if (state.unreachable) {
    next.unreachable = false;
    actions.push({ kind: 'ups-reachable', at: now });
  }

  if (state.phase === 'shutting-down') {
    // The plan runs once and to the end: Keisan's daemons may already be stopping.
    if (!status.onBattery && status.onLine && state.last?.status.onBattery) actions.push({ kind: 'restored-during-shutdown', at: now });
    return { state: next, actions };
  }

  const critical: ShutdownReason | null = status.forcedShutdown ? 'forced-shutdown' : status.onBattery && status.lowBattery ? 'low-battery' : null;

  if (state.phase === 'online') {
    if (status.onBattery) {
      next.phase = 'on-battery';
      next.onBatterySince = now;
      actions.push({ kind: 'power-lost', at: now, status });
    }
    // FSD from the UPS (or a primary upsmon) means the power is going away, on battery or not.
    if (critical) next = startShutdown(next, now, critical, actions);
    return { state: next, actions };
  }

  // on battery
  const since = state.onBatterySince ?? now;
  if (critical) return { state: startShutdown(next, now, critical, actions), actions };
  if (!status.onBattery) {
    next.phase = 'online';
    next.onBatterySince = null;
    actions.push({ kind: 'power-restored', at: now, onBatteryMs: now - since });
    return { state: next, actions };
  }
  if (now - since >= options.gracePeriodMs) next = startShutdown(next, now, 'grace-period', actions);
  return { state: next, actions };
}

function startShutdown(state: PowerState, now: number, reason: ShutdownReason, actions: PowerAction[]): PowerState {
  actions.push({ kind: 'start-shutdown', at: now, reason, onBatteryMs: state.onBatterySince === null ? 0 : now - state.onBatterySince });
  return { ...state, phase: 'shutting-down', shutdownStartedAt: now, shutdownReason: reason };
}

/** Pure: when the plan will start if nothing changes (epoch ms), or null (on line, unknown, or already started). */
export function shutdownDueAt(state: PowerState, options: DecideOptions): number | null {
  if (state.phase !== 'on-battery' || state.onBatterySince === null) return null;
  return state.onBatterySince + options.gracePeriodMs;
}

export const SHUTDOWN_REASON_TEXT: Record<ShutdownReason, string> = {
  'grace-period': 'on battery past the grace period',
  'low-battery': 'the UPS reports low battery (LB)',
  'forced-shutdown': 'the UPS reports a forced shutdown (FSD)',
};
