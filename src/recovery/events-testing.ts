import type { RecoveryEventInput } from './model.ts';

/** For tests: a watchdog's report that it killed job 42 of alice, with every field set; `over` changes some. */
export const killInput = (over: Partial<RecoveryEventInput> = {}): RecoveryEventInput => ({
  host: 'node1',
  at: '2026-11-23T08:00:00.000Z',
  rule: 'memory-limit',
  severity: 'act',
  jobId: 42,
  pid: null,
  user: 'alice',
  mode: 'automatic',
  action: 'kill',
  outcome: 'done',
  explanation: 'job 42 (alice): memory 1.98 of 2.00 GiB, +180 MiB/s over 1.0 s',
  victimExplanation: 'job 42 exceeds its own request of 1.00 GiB',
  metrics: { memBytes: 2126008811, growthBytesPerS: 188743680, ratio: 0.99 },
  timings: { decisionToWriteMs: 0.4, writeMs: 0.1, writeToEmptyMs: 38.5 },
  evidencePath: '/var/lib/keisan/recovery/evidence/2026-11-23T08-00-00Z-job-42.json',
  error: null,
  ...over,
});
