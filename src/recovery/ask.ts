/**
 * Ask mode's decisions (pure, clock passed in): a victim frozen while an operator decides ends
 * approved (the proposed action), denied (thaw, then left alone), timed out (the fallback, judged
 * on the NODE's clock so it works with the server down) or ended (the job ended on its own).
 */
import type { Decision } from './model.ts';
import type { RuleAction } from './settings.ts';

export type AskTarget = { kind: 'job'; jobId: number } | { kind: 'process'; pid: number };

export interface PendingAsk {
  key: string;
  target: AskTarget;
  /** What approve does (the rule's configured action). */
  proposed: RuleAction;
  /** What the timeout does ('thaw' lets the job go on). */
  fallback: RuleAction | 'thaw';
  startedMs: number;
  deadlineMs: number;
}

/** What the server says an operator decided (GET /api/recovery/decisions). */
export interface ServerDecision {
  key: string;
  decision: 'approved' | 'denied';
  by: string;
  at: string;
  reason: string | null;
}

export type AskResolution =
  | { kind: 'wait' }
  | { kind: 'resolve'; decision: Decision; action: RuleAction | 'thaw' | 'none'; by: string; atMs: number; reason: string | null };

/**
 * One pending ask at `nowMs`: the job ended → close it; an operator's decision → approve acts,
 * deny thaws; past the deadline → the fallback; else keep waiting (the victim stays frozen).
 * A decision the server recorded before the deadline wins even when it arrives after it.
 */
export function resolvePending(p: PendingAsk, input: { nowMs: number; victimAlive: boolean; decision: ServerDecision | null }): AskResolution {
  if (!input.victimAlive) return { kind: 'resolve', decision: 'ended', action: 'none', by: 'job ended', atMs: input.nowMs, reason: null };
  const d = input.decision;
  if (d && d.key === p.key) {
    const at = Date.parse(d.at);
    if (Number.isFinite(at) && at <= p.deadlineMs) {
      return d.decision === 'approved'
        ? { kind: 'resolve', decision: 'approved', action: p.proposed, by: d.by, atMs: at, reason: d.reason }
        : { kind: 'resolve', decision: 'denied', action: 'thaw', by: d.by, atMs: at, reason: d.reason };
    }
  }
  if (input.nowMs >= p.deadlineMs) return { kind: 'resolve', decision: 'timed-out', action: p.fallback, by: 'timeout', atMs: input.nowMs, reason: null };
  return { kind: 'wait' };
}

/** Victims an operator spared: not frozen again until `untilMs` (Infinity: for the rest of the job's life). */
export class QuietBook {
  private readonly until = new Map<string, number>();

  spare(victimKey: string, nowMs: number, quietMs: number | null): void {
    this.until.set(victimKey, quietMs === null ? Infinity : nowMs + quietMs);
  }

  isQuiet(victimKey: string, nowMs: number): boolean {
    const u = this.until.get(victimKey);
    if (u === undefined) return false;
    if (nowMs >= u) {
      this.until.delete(victimKey);
      return false;
    }
    return true;
  }

  /** A job that is gone frees its entry. */
  forget(victimKey: string): void {
    this.until.delete(victimKey);
  }

  keys(): string[] {
    return [...this.until.keys()];
  }
}

/** The deadline of a new ask. */
export function askDeadline(nowMs: number, timeoutMs: number): number {
  return nowMs + timeoutMs;
}
