import type { z } from 'zod';
import type { CheckResult, CheckStatus } from '../model.ts';
import type { CommandRunner } from './exec.ts';

/** What one run of a check found: the runner adds check, type, target (unless given), at and durationMs. */
export interface CheckOutcome {
  status: CheckStatus;
  /** One line that says what and where, with the host name in it. */
  summary: string;
  value?: number | null;
  details?: Record<string, unknown>;
  /**
   * Set by checks that cover several things in one run (every mount, every own address): each
   * outcome becomes its own result, `<type>:<target>` (or `<name>:<target>` for a named check).
   */
  target?: string;
}

/** What a check's run sees besides its parameters. */
export interface CheckContext {
  /** This node's name: every summary says it. */
  host: string;
  /** The clock (milliseconds since the epoch): decisions over time (trend, hold) use it, tests inject it. */
  now(): number;
  /** Runs a command with a timeout; a missing tool is reported, not thrown (see exec.ts). */
  exec: CommandRunner;
  /** Kept between runs of this one check (offsets of logs, usage samples, last counters). */
  state: Map<string, unknown>;
  /** Aborted when the run times out or the runner stops. */
  signal: AbortSignal;
  /** The Keisan server (the time-drift check reads its clock). */
  serverUrl: string;
}

/** One pluggable check type: a module in types/, listed in registry.ts. */
export interface CheckType<Schema extends z.ZodType = z.ZodType> {
  type: string;
  description: string;
  /** The parameters, validated where the check is configured (keisan.yaml) and again on the agent. */
  params: Schema;
  /** What the check looks at, from its parameters: `/data`, `sshd`, `login1:22`. */
  target(params: z.output<Schema>): string;
  /** Default interval when neither the check nor the settings give one (ms). */
  defaultInterval?: number;
  run(params: z.output<Schema>, context: CheckContext): Promise<CheckOutcome | CheckOutcome[]>;
}

/** A check type with its parameter type kept, for the registry. */
export function defineCheck<Schema extends z.ZodType>(check: CheckType<Schema>): CheckType<Schema> {
  return check;
}

/** The status of the worst outcome: critical > warning > unknown > ok (unknown is "could not tell"). */
export function worst(statuses: readonly CheckStatus[]): CheckStatus {
  const rank: Record<CheckStatus, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };
  return statuses.reduce<CheckStatus>((a, b) => (rank[b] > rank[a] ? b : a), 'ok');
}

export function unknown(summary: string, details: Record<string, unknown> = {}): CheckOutcome {
  return { status: 'unknown', summary, value: null, details };
}

export type { CheckResult };

/** Milliseconds as a short human duration: 1.2 s, 350 ms, 3.5 h. */
export function humanMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(0)} min`;
  if (ms < 172_800_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

/** An error's message and code in a few words. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const text = code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
    // fetch() says only "fetch failed": the reason is in its cause (ECONNREFUSED, a TLS error…).
    return error.cause !== undefined && error.cause !== null ? `${text} (${errorText(error.cause)})` : text;
  }
  return String(error);
}
