import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Actor } from '../../accounts/model.ts';
import type { BatchService } from '../../batch/service.ts';
import type { Database } from '../../db/schema.ts';
import type { IncidentService } from '../../incidents/service.ts';
import type { Clock } from '../../lib/clock.ts';
import { conflict, forbidden, invalidInput } from '../../lib/errors.ts';
import type { HsmService } from '../../storage/hsm/service.ts';
import type { StorageService } from '../../storage/service.ts';
import type { DaemonsService } from '../daemons.ts';
import type { PlanView, PowerStatusView } from './model.ts';
import { PowerMonitor, upsLabel } from './monitor.ts';
import { NutClient } from './nut-client.ts';
import { describePlan, type StepRunner } from './plan.ts';
import { serverPlanInput, serverStepRunner } from './server-steps.ts';
import type { PowerSettings } from './settings.ts';

/**
 * The power room in the server: the NUT client and the monitor when keisan.yaml has an enabled
 * `power:` section; what `GET /api/ops/power` and `keisan power status|test` read.
 */

export interface PowerServiceOptions {
  /** keisan.yaml `power:`; undefined: not configured. */
  settings: PowerSettings | undefined;
  clock: Clock;
  db: Kysely<Database>;
  incidents: IncidentService;
  batch: BatchService;
  hsm: HsmService;
  storage: StorageService;
  daemons: DaemonsService;
  /** Services the escalated incident names (keisan.yaml incidents.services). */
  services: readonly string[];
  /** The data directory: relative passwordFile paths, the `keisan up` lock, the shutdown log. */
  dataDir: string | null;
  logger: FastifyBaseLogger;
  /** Tests: carry the steps out differently. Default: the server's own (server-steps.ts). */
  runStep?: StepRunner;
}

/** Reads upsd's password file (relative: the data directory); bad config → INVALID_INPUT naming the file. */
export function readPasswordFile(file: string, dataDir: string | null): string {
  const full = path.resolve(dataDir ?? process.cwd(), file);
  try {
    const text = readFileSync(full, 'utf8').replace(/\r?\n$/, '');
    if (text === '' || text.includes('\n')) throw new Error('it must hold the password on one line');
    return text;
  } catch (error) {
    throw invalidInput(`power.passwordFile: cannot use ${full}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export class PowerService {
  private readonly client: NutClient | null = null;
  readonly monitor: PowerMonitor | null = null;

  constructor(private readonly o: PowerServiceOptions) {
    const settings = o.settings;
    if (!settings?.enabled) return;
    const login = settings.user && settings.passwordFile ? { user: settings.user, password: readPasswordFile(settings.passwordFile, o.dataDir) } : undefined;
    const client = new NutClient({ address: settings.ups, timeoutMs: settings.timeout, ...(login ? { login } : {}) });
    this.client = client;
    const steps = { settings, ups: upsLabel(settings.ups), batch: o.batch, hsm: o.hsm, storage: o.storage, daemons: o.daemons, dataDir: o.dataDir, logger: o.logger };
    this.monitor = new PowerMonitor({
      settings,
      clock: o.clock,
      db: o.db,
      incidents: o.incidents,
      read: async () => ({ vars: await client.listVars() }),
      planInput: serverPlanInput(steps),
      runStep: o.runStep ?? serverStepRunner(steps),
      services: o.services,
      dispatchPaused: () => o.batch.dispatchPaused,
      logger: o.logger.child({ room: 'power' }),
    });
  }

  start(): void {
    this.monitor?.start();
    if (this.monitor) this.o.logger.info({ ups: this.monitor.ups, gracePeriodMs: this.o.settings!.gracePeriod }, 'power: watching the UPS');
  }

  async close(): Promise<void> {
    await this.monitor?.stop();
    await this.client?.close();
  }

  private requireOperator(actor: Actor): void {
    if (!actor.isOperator) throw forbidden('only an operator may read the power status and the shutdown plan');
  }

  status(actor: Actor): PowerStatusView {
    this.requireOperator(actor);
    if (this.monitor) return this.monitor.status();
    const configured = this.o.settings !== undefined;
    return {
      configured,
      enabled: false,
      ups: configured ? upsLabel(this.o.settings!.ups) : null,
      reachable: null,
      flags: [],
      statusText: null,
      battery: { charge: null, runtimeSeconds: null },
      polledAt: null,
      lastError: null,
      phase: 'online',
      onBatterySince: null,
      onBatteryMs: null,
      gracePeriodMs: null,
      pollIntervalMs: null,
      shutdownDueAt: null,
      next: configured ? 'power monitoring is off (power.enabled: false in keisan.yaml): nothing happens on a power loss' : 'no power: section in keisan.yaml: Keisan does not watch a UPS (see the operator guide, "Power events (NUT)")',
      incidentId: null,
      dispatchPaused: this.o.batch.dispatchPaused,
      shutdown: null,
    };
  }

  /** The dry run: what the plan would do now; nothing is done. */
  async plan(actor: Actor): Promise<PlanView> {
    this.requireOperator(actor);
    if (!this.monitor) throw conflict(this.o.settings ? 'power monitoring is off (power.enabled: false): there is no shutdown plan to show; set enabled: true under power: in keisan.yaml and restart the server' : 'no power: section in keisan.yaml: add one (ups: NAME@HOST:PORT) and restart the server to get a shutdown plan');
    const plan = await this.monitor.dryRun();
    return { ups: this.monitor.ups, steps: plan.steps, text: describePlan(plan) };
  }
}
