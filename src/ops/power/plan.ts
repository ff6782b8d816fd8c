import { formatDuration } from '../../lib/units.ts';
import { policyForQueue, type PowerLossPolicy, type PowerSettings } from './settings.ts';

/**
 * The ordered shutdown plan (issue 7, "Power events"). `shutdownPlan` is pure: from what runs now
 * it lists the steps, in order, in words an operator reads (`keisan power test` prints them).
 * `runPlan` carries them out through a `StepRunner`: every step runs, in order, even when one
 * before it failed (a failure is recorded and the plan goes on: stopping what can be stopped
 * matters more than stopping at the first problem).
 */

export const STEP_KEYS = ['stop-dispatch', 'stop-jobs', 'close-storage', 'stop-daemons', 'shutdown-host'] as const;
export type StepKey = (typeof STEP_KEYS)[number];

export interface JobPlan {
  id: number;
  name: string;
  user: string;
  queue: string;
  policy: PowerLossPolicy;
}

/** Who stops the daemons: `keisan up`'s supervisor, or (no supervisor) the server itself. */
export type DaemonStop =
  | { by: 'supervisor'; pid: number }
  | { by: 'server'; agents: number[]; watchdogs: number[] };

export interface PlanInput {
  settings: Pick<PowerSettings, 'jobs' | 'shutdownHost' | 'shutdownCommand'>;
  running: Array<{ id: number; name: string; user: string; queue: string }>;
  daemons: DaemonStop;
}

export interface PlanStep {
  step: number;
  key: StepKey;
  title: string;
  /** What exactly will be done, in words. */
  detail: string;
  skip: boolean;
}

export interface ShutdownPlan {
  steps: PlanStep[];
  jobs: JobPlan[];
  daemons: DaemonStop;
}

/** Pure: the plan for what runs now. */
export function shutdownPlan(input: PlanInput): ShutdownPlan {
  const { settings } = input;
  const jobs: JobPlan[] = [...input.running].sort((a, b) => a.id - b.id).map((j) => ({ ...j, policy: policyForQueue(settings.jobs, j.queue) }));
  const jobWords = (j: JobPlan) => {
    if (j.policy === 'checkpoint') return `job ${j.id} (${j.name}, ${j.user}, queue ${j.queue}): ${settings.jobs.checkpointSignal}, up to ${formatDuration(settings.jobs.checkpointWait)} to checkpoint and end, then requeued`;
    if (j.policy === 'requeue') return `job ${j.id} (${j.name}, ${j.user}, queue ${j.queue}): killed and requeued (runs again under the same id)`;
    return `job ${j.id} (${j.name}, ${j.user}, queue ${j.queue}): cancelled`;
  };
  const daemons = input.daemons;
  const daemonWords =
    daemons.by === 'supervisor'
      ? `keisan up (pid ${daemons.pid}) is asked to stop (SIGTERM): it stops the agent, then the server, then the watchdog`
      : `no keisan up supervises this server: agents on this host (${daemons.agents.length ? `pid ${daemons.agents.join(', ')}` : 'none registered'}) get SIGTERM, then the server's own services stop (batch, storage), then watchdogs (${daemons.watchdogs.length ? `pid ${daemons.watchdogs.join(', ')}` : 'none registered'}) last`;
  const hostWords = !settings.shutdownHost
    ? 'skipped (power.shutdownHost is false): the host stays up with Keisan stopped'
    : daemons.by === 'supervisor'
      ? `\`${settings.shutdownCommand}\` (sh -c), run by a detached waiter once keisan up has stopped every daemon`
      : `\`${settings.shutdownCommand}\` (sh -c)`;
  const steps: Array<Omit<PlanStep, 'step'>> = [
    { key: 'stop-dispatch', title: 'stop starting jobs', detail: 'the batch scheduler stops dispatching; running jobs go on until the next step', skip: false },
    {
      key: 'stop-jobs',
      title: 'requeue, checkpoint or cancel running jobs per queue policy',
      detail: jobs.length ? jobs.map(jobWords).join('; ') : 'no job is running',
      skip: false,
    },
    {
      key: 'close-storage',
      title: 'flush and close storage writes',
      detail: 'the HSM stops migrating, purging and staging (transfers in flight finish, up to 30 s), new writes to the namespace are refused, the batch service\'s queued database writes are committed',
      skip: false,
    },
    { key: 'stop-daemons', title: 'stop the Keisan daemons in order', detail: daemonWords, skip: false },
    { key: 'shutdown-host', title: 'shut the host down', detail: hostWords, skip: !settings.shutdownHost },
  ];
  return { steps: steps.map((s, i) => ({ step: i + 1, ...s })), jobs, daemons };
}

export interface StepOutcome {
  step: PlanStep;
  ok: boolean;
  /** What was done, or what went wrong. */
  message: string;
  startedAt: number;
  endedAt: number;
}

/** Carries out one step; returns what was done (thrown errors are the step's failure). */
export type StepRunner = (step: PlanStep, plan: ShutdownPlan) => Promise<string>;

/** Runs every step in order; a failing step is recorded and the plan goes on. `record` is told each outcome (its own failure is only logged by it). */
export async function runPlan(plan: ShutdownPlan, run: StepRunner, record: (outcome: StepOutcome) => Promise<void>, now: () => number): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const step of plan.steps) {
    const startedAt = now();
    let outcome: StepOutcome;
    if (step.skip) {
      outcome = { step, ok: true, message: `skipped: ${step.detail}`, startedAt, endedAt: startedAt };
    } else {
      try {
        outcome = { step, ok: true, message: await run(step, plan), startedAt, endedAt: now() };
      } catch (error) {
        outcome = { step, ok: false, message: error instanceof Error ? error.message : String(error), startedAt, endedAt: now() };
      }
    }
    outcomes.push(outcome);
    try {
      await record(outcome);
    } catch {
      // Recording is best effort: the database may already be going away.
    }
  }
  return outcomes;
}

/** The plan as text: one numbered line per step. */
export function describePlan(plan: ShutdownPlan): string {
  return plan.steps.map((s) => `${s.step}. ${s.title}${s.skip ? ' (skipped)' : ''}: ${s.detail}`).join('\n');
}
