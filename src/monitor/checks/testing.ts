import type { z } from 'zod';
import { ManualClock } from '../../lib/clock.ts';
import type { CheckContext, CheckOutcome, CheckType } from './check-type.ts';
import { runCommand } from './exec.ts';
import { checkTypeOf } from './registry.ts';

/** A check's context for tests: host "testnode", a manual clock, real commands unless replaced. */
export function testContext(overrides: Partial<CheckContext> & { clock?: ManualClock } = {}): CheckContext & { clock: ManualClock } {
  const clock = overrides.clock ?? new ManualClock('2026-11-23T08:00:00Z');
  return {
    host: 'testnode',
    now: () => clock.now().getTime(),
    exec: runCommand,
    state: new Map(),
    signal: new AbortController().signal,
    serverUrl: 'http://127.0.0.1:1',
    ...overrides,
    clock,
  };
}

/** Runs one check type with raw params (validated as the agent does) and returns its outcomes as a list. */
export async function runType(type: string, params: Record<string, unknown>, context: CheckContext = testContext()): Promise<CheckOutcome[]> {
  const check = checkTypeOf(type) as CheckType<z.ZodType> | undefined;
  if (!check) throw new Error(`no check type ${type}`);
  const outcome = await check.run(check.params.parse(params), context);
  return Array.isArray(outcome) ? outcome : [outcome];
}

export async function runOne(type: string, params: Record<string, unknown>, context?: CheckContext): Promise<CheckOutcome> {
  const outcomes = await runType(type, params, context);
  if (outcomes.length !== 1) throw new Error(`expected one outcome from ${type}, got ${outcomes.length}: ${JSON.stringify(outcomes)}`);
  return outcomes[0]!;
}
