import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { writeAudit } from '../../accounts/audit.ts';
import type { Database } from '../../db/schema.ts';
import type { IncidentService, SourceReport } from '../../incidents/service.ts';
import { hookActor } from '../../incidents/service.ts';
import type { Clock } from '../../lib/clock.ts';
import { formatDuration } from '../../lib/units.ts';
import { decide, INITIAL_POWER_STATE, SHUTDOWN_REASON_TEXT, shutdownDueAt, type PowerAction, type PowerState, type Sample } from './decide.ts';
import type { PowerStatusView } from './model.ts';
import { describePlan, runPlan, shutdownPlan, type PlanInput, type ShutdownPlan, type StepOutcome, type StepRunner } from './plan.ts';
import type { PowerSettings, UpsAddress } from './settings.ts';
import { describeStatus, parseUpsStatus } from './status.ts';

/**
 * The power monitor (in the server: it owns the batch and storage services the plan stops).
 * Every pollInterval it reads the UPS from upsd, feeds the sample to `decide` and carries out the
 * actions: the incident (opened SEV3 investigating when the UPS goes on battery, escalated when
 * the plan starts, noted when power returns), the audit log, and the shutdown plan — once.
 */

export interface UpsReading {
  vars: Map<string, string>;
}

export interface PowerMonitorOptions {
  settings: PowerSettings;
  clock: Clock;
  db: Kysely<Database>;
  incidents: IncidentService;
  /** Reads the UPS's variables (LIST VAR); throws when upsd cannot answer. */
  read: () => Promise<UpsReading>;
  /** What runs now, for the plan. */
  planInput: () => Promise<PlanInput>;
  runStep: StepRunner;
  /** Services the escalated incident marks all-unavailable (keisan.yaml incidents.services). */
  services: readonly string[];
  /** Why the batch scheduler starts nothing now (null: it does). */
  dispatchPaused: () => string | null;
  logger: FastifyBaseLogger;
}

export const upsLabel = (ups: UpsAddress) => `${ups.name}@${ups.host.includes(':') ? `[${ups.host}]` : ups.host}:${ups.port}`;
const iso = (ms: number) => new Date(ms).toISOString();
const number = (text: string | undefined) => (text === undefined || text.trim() === '' || !Number.isFinite(Number(text)) ? null : Number(text));

export class PowerMonitor {
  private state: PowerState = INITIAL_POWER_STATE;
  private vars = new Map<string, string>();
  private polled = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | null = null;
  private stopped = false;
  private incidentId: number | null = null;
  private plan: { startedAt: number; reason: string; outcomes: StepOutcome[]; done: boolean } | null = null;
  /** The plan's run, once started (never twice). */
  private planRun: Promise<void> | null = null;
  readonly ups: string;

  constructor(private readonly o: PowerMonitorOptions) {
    this.ups = upsLabel(o.settings.ups);
  }

  private now(): number {
    return this.o.clock.now().getTime();
  }

  private get key(): string {
    return `power:${this.ups}`;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      this.timer = undefined;
      void this.poll().finally(() => {
        if (!this.stopped) {
          this.timer = setTimeout(tick, this.o.settings.pollInterval);
          this.timer.unref();
        }
      });
    };
    tick();
  }

  /** Stops polling; a plan already running goes on to its end (the caller may await `settled`). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Resolves when the plan (if started) has run every step. */
  async settled(): Promise<void> {
    await this.inFlight;
    await this.planRun;
  }

  /** One poll: read, decide, act. Polls never overlap. */
  poll(): Promise<void> {
    this.inFlight ??= this.pollOnce().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private async pollOnce(): Promise<void> {
    let sample: Sample;
    try {
      const reading = await this.o.read();
      const status = reading.vars.get('ups.status');
      if (status === undefined) throw new Error('the UPS reports no ups.status');
      this.vars = reading.vars;
      sample = { ok: true, status: parseUpsStatus(status) };
    } catch (error) {
      sample = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    this.polled = true;
    const now = this.now();
    const { state, actions } = decide(this.state, sample, now, { gracePeriodMs: this.o.settings.gracePeriod });
    this.state = state;
    for (const action of actions) {
      try {
        await this.act(action);
      } catch (error) {
        this.o.logger.error({ err: error, action: action.kind }, 'power: recording a power event failed');
      }
    }
  }

  private async audit(action: string, detail: Record<string, unknown>, outcome: 'ok' | 'failed' = 'ok'): Promise<void> {
    await writeAudit(this.o.db, { actor: hookActor('power'), action, targetType: 'ups', target: this.ups, outcome, detail }, this.o.clock.now());
  }

  private report(title: string, message: string, at: number): SourceReport {
    return { source: 'power', key: this.key, title, severity: 'SEV3', services: [], message, at: new Date(at) };
  }

  private async note(message: string, at: number): Promise<void> {
    const incident = await this.o.incidents.noteFromSource('power', this.key, message, new Date(at));
    if (incident) this.incidentId = incident.id;
  }

  private async act(action: PowerAction): Promise<void> {
    const log = this.o.logger;
    const grace = formatDuration(this.o.settings.gracePeriod);
    switch (action.kind) {
      case 'power-lost': {
        const due = iso(action.at + this.o.settings.gracePeriod);
        const message = `UPS ${this.ups} is on battery (${action.status.flags.join(' ')}: ${describeStatus(action.status)}${this.batteryWords()}); the shutdown plan starts at ${due} (grace period ${grace}) unless power returns first`;
        log.warn({ ups: this.ups, flags: action.status.flags, shutdownDueAt: due }, 'power: on battery');
        const { incident } = await this.o.incidents.openFromSource(this.report(`Power lost: UPS ${this.o.settings.ups.name} on battery`, message, action.at));
        this.incidentId = incident.id;
        await this.audit('power.on-battery', { flags: action.status.flags, shutdownDueAt: due, incident: incident.id });
        return;
      }
      case 'power-restored': {
        const message = `power restored: UPS ${this.ups} back on line after ${formatDuration(action.onBatteryMs)} on battery; the shutdown plan was not started`;
        log.info({ ups: this.ups, onBatteryMs: action.onBatteryMs }, 'power: restored');
        await this.note(message, action.at);
        await this.audit('power.restored', { onBatteryMs: action.onBatteryMs, incident: this.incidentId });
        return;
      }
      case 'restored-during-shutdown': {
        log.warn({ ups: this.ups }, 'power: restored while the shutdown plan runs; the plan goes on');
        await this.note(`power restored while the shutdown plan runs: the plan goes on to its end (daemons may already be stopping); start Keisan again when the power is stable`, action.at);
        return;
      }
      case 'ups-unreachable': {
        log.warn({ ups: this.ups, error: action.error }, 'power: the UPS cannot be read');
        await this.audit('power.ups-unreachable', { error: action.error }, 'failed');
        if (this.state.phase === 'on-battery') await this.note(`the UPS cannot be read (${action.error}); still counting as on battery since ${iso(this.state.onBatterySince ?? action.at)}`, action.at);
        return;
      }
      case 'ups-reachable': {
        log.info({ ups: this.ups }, 'power: the UPS answers again');
        await this.audit('power.ups-reachable', {});
        return;
      }
      case 'start-shutdown':
        this.startPlan(action.at, action.reason === 'grace-period' ? `${SHUTDOWN_REASON_TEXT[action.reason]} (${formatDuration(action.onBatteryMs)} ≥ ${grace})` : SHUTDOWN_REASON_TEXT[action.reason]);
        return;
    }
  }

  private startPlan(at: number, reason: string): void {
    if (this.planRun) return;
    this.plan = { startedAt: at, reason, outcomes: [], done: false };
    this.planRun = this.executePlan(at, reason).catch((error: unknown) => {
      this.o.logger.error({ err: error }, 'power: the shutdown plan failed to run');
    });
  }

  private async executePlan(at: number, reason: string): Promise<void> {
    const log = this.o.logger;
    const plan = shutdownPlan(await this.o.planInput());
    log.error({ ups: this.ups, reason, plan: describePlan(plan) }, 'power: starting the ordered shutdown plan');
    try {
      const message = `shutdown plan started: ${reason}. Steps:\n${describePlan(plan)}`;
      const { incident } = await this.o.incidents.openFromSource({ ...this.report(`Power lost: UPS ${this.o.settings.ups.name} on battery`, message, at), title: `Power loss: UPS ${this.o.settings.ups.name}, shutdown plan started` });
      this.incidentId = incident.id;
      if (incident.severity !== 'SEV1' || incident.status !== 'identified') {
        await this.o.incidents.update(hookActor('power'), incident.id, {
          severity: 'SEV1',
          cause: 'external',
          ...(incident.status !== 'identified' && incident.status !== 'resolved' ? { status: 'identified' as const } : {}),
          services: this.o.services.map((service) => ({ service, impact: 'all-unavailable' as const })),
          message: 'escalated: the facility is being shut down in order',
        });
      }
      await this.audit('power.shutdown-start', { reason, incident: incident.id, steps: plan.steps.map((s) => s.key) });
    } catch (error) {
      log.error({ err: error }, 'power: the incident of the shutdown could not be recorded; the plan goes on');
    }
    await runPlan(plan, this.o.runStep, (outcome) => this.recordStep(plan, outcome), () => this.now());
    this.plan!.done = true;
    log.error({ ups: this.ups, failed: this.plan!.outcomes.filter((o) => !o.ok).map((o) => o.step.key) }, 'power: the shutdown plan has run');
  }

  private async recordStep(plan: ShutdownPlan, outcome: StepOutcome): Promise<void> {
    this.plan!.outcomes.push(outcome);
    const { step } = outcome;
    const text = `step ${step.step}/${plan.steps.length} ${step.title}: ${outcome.ok ? 'done' : 'FAILED'} — ${outcome.message}`;
    if (outcome.ok) this.o.logger.warn({ step: step.key }, `power: ${text}`);
    else this.o.logger.error({ step: step.key }, `power: ${text}`);
    await this.audit('power.step', { step: step.step, key: step.key, message: outcome.message }, outcome.ok ? 'ok' : 'failed');
    await this.note(text, outcome.endedAt);
  }

  private batteryWords(): string {
    const charge = number(this.vars.get('battery.charge'));
    const runtime = number(this.vars.get('battery.runtime'));
    const parts = [charge !== null ? `battery ${charge} %` : null, runtime !== null ? `about ${formatDuration(runtime * 1000)} of runtime` : null].filter(Boolean);
    return parts.length ? `; ${parts.join(', ')}` : '';
  }

  /** The dry run: the plan for what runs now, without doing it. */
  async dryRun(): Promise<ShutdownPlan> {
    return shutdownPlan(await this.o.planInput());
  }

  status(): PowerStatusView {
    const now = this.now();
    const s = this.state;
    const settings = this.o.settings;
    const due = shutdownDueAt(s, { gracePeriodMs: settings.gracePeriod });
    const status = s.last?.status ?? null;
    let next: string;
    if (this.plan) next = this.plan.done ? `the shutdown plan has run (${this.plan.reason})` : `the shutdown plan is running (${this.plan.reason})`;
    else if (!this.polled) next = 'waiting for the first reading of the UPS';
    else if (s.phase === 'on-battery' && due !== null) next = `on battery for ${formatDuration(now - s.onBatterySince!)}: the shutdown plan starts at ${iso(due)} (in ${formatDuration(Math.max(0, due - now))}) unless power returns; at once on low battery or FSD`;
    else if (s.unreachable) next = `the UPS cannot be read (${s.lastError?.message ?? 'unknown error'}): nothing happens while it was last seen on line; retried every ${formatDuration(settings.pollInterval)}`;
    else next = `on line: nothing to do. On battery for ${formatDuration(settings.gracePeriod)}, or on low battery or FSD at once, the shutdown plan runs`;
    return {
      configured: true,
      enabled: true,
      ups: this.ups,
      reachable: this.polled ? !s.unreachable : null,
      flags: status?.flags ?? [],
      statusText: status ? describeStatus(status) : null,
      battery: { charge: number(this.vars.get('battery.charge')), runtimeSeconds: number(this.vars.get('battery.runtime')) },
      polledAt: s.last ? iso(s.last.at) : null,
      lastError: s.lastError ? { at: iso(s.lastError.at), message: s.lastError.message } : null,
      phase: s.phase,
      onBatterySince: s.onBatterySince !== null ? iso(s.onBatterySince) : null,
      onBatteryMs: s.onBatterySince !== null ? now - s.onBatterySince : null,
      gracePeriodMs: settings.gracePeriod,
      pollIntervalMs: settings.pollInterval,
      shutdownDueAt: due !== null ? iso(due) : null,
      next,
      incidentId: this.incidentId,
      dispatchPaused: this.o.dispatchPaused(),
      shutdown: this.plan
        ? {
            startedAt: iso(this.plan.startedAt),
            reason: this.plan.reason,
            done: this.plan.done,
            steps: this.plan.outcomes.map((o) => ({ step: o.step.step, key: o.step.key, title: o.step.title, ok: o.ok, message: o.message, startedAt: iso(o.startedAt), endedAt: iso(o.endedAt) })),
          }
        : null,
    };
  }
}
