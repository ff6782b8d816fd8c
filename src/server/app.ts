import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import { registerAccountRoutes } from '../accounts/routes.ts';
import { registerLdapRoutes } from '../accounts/ldap/routes.ts';
import { LdapService } from '../accounts/ldap/service.ts';
import type { ClusterExecutor, JobExecutor } from '../batch/executor.ts';
import { LocalExecutor } from '../batch/executors/local/executor.ts';
import type { NodeResources } from '../batch/model.ts';
import { localNode } from '../batch/node.ts';
import { QueueBook } from '../batch/queue-book.ts';
import { registerBatchRoutes } from '../batch/routes.ts';
import { registerSlurmRoutes } from '../batch/executors/slurm/routes.ts';
import { SlurmAdminService } from '../batch/executors/slurm/sync.ts';
import { schedule } from '../batch/scheduler.ts';
import { BatchService } from '../batch/service.ts';
import { AccountsService } from '../accounts/service.ts';
import type { Db } from '../db/connection.ts';
import { registerDeviceRoutes } from '../devices/routes.ts';
import { DevicesService } from '../devices/service.ts';
import { wireIncidentHooks } from '../incidents/hooks.ts';
import { registerIncidentRoutes } from '../incidents/routes.ts';
import { IncidentService } from '../incidents/service.ts';
import { registerStatusRoutes } from '../incidents/status/routes.ts';
import { StatusService } from '../incidents/status/service.ts';
import { statusSignalsOf } from '../incidents/status/signals.ts';
import { maintenanceSource } from '../ops/maint/source.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { serverUrlOf, type Settings } from '../lib/config.ts';
import { KEISAN_VERSION } from '../lib/version.ts';
import { createMailer, type Mailer } from '../monitor/mail.ts';
import { MailOutbox } from '../monitor/outbox.ts';
import { registerAlertRoutes } from '../monitor/alerts/routes.ts';
import { AlertsService } from '../monitor/alerts/service.ts';
import { MonitorHub } from '../monitor/hub.ts';
import { registerMetricsRoutes } from '../monitor/metrics/routes.ts';
import { registerCheckRoutes } from '../monitor/checks/routes.ts';
import { registerReportRoutes } from '../monitor/report-routes.ts';
import { registerMonitorRoutes } from '../monitor/routes.ts';
import { MailService } from '../monitor/service.ts';
import { DaemonsService } from '../ops/daemons.ts';
import { registerDaemonRoutes } from '../ops/routes.ts';
import { registerInventoryRoutes } from '../ops/inventory/routes.ts';
import { registerLoginHostRoutes } from '../ops/login-hosts/routes.ts';
import { LoginHostService } from '../ops/login-hosts/service.ts';
import { summarizeNode } from '../monitor/metrics/summary.ts';
import { sameHost } from '../ops/inventory/redundancy.ts';
import { InventoryService } from '../ops/inventory/service.ts';
import { registerPowerRoutes } from '../ops/power/routes.ts';
import { PowerService } from '../ops/power/service.ts';
import { registerMaintenanceRoutes } from '../ops/maint/routes.ts';
import { MaintenanceService } from '../ops/maint/service.ts';
import { registerRunbookRoutes } from '../ops/runbooks/routes.ts';
import { RunbookService } from '../ops/runbooks/service.ts';
import { registerRecoveryRoutes } from '../recovery/routes.ts';
import { RecoveryService } from '../recovery/service.ts';
import { registerAreaRoutes } from '../storage/areas/routes.ts';
import { areasOff, AreasService, type AreasRuntime } from '../storage/areas/service.ts';
import { registerHsmRoutes } from '../storage/hsm/routes.ts';
import { HsmService } from '../storage/hsm/service.ts';
import { registerStorageRoutes } from '../storage/routes.ts';
import { openStorage } from '../storage/runtime.ts';
import type { ArchiveBackend } from '../storage/tiers/archive.ts';
import { createArchiveBackend } from '../storage/tiers/archive-factory.ts';
import { installAuthentication } from './auth.ts';
import type { ServerContext } from './context.ts';
import { frameworkErrorHandler, installErrorHandling } from './errors.ts';
import { registerWebUi } from './web.ts';
import { healthHa, healthHaSchema, installFence, registerHaRoutes, type HaRuntime } from './ha/routes.ts';

export interface AppOptions {
  settings: Settings;
  db: Db;
  /** The secret agents and watchdogs authenticate with. */
  nodeSecret: string;
  clock?: Clock;
  /** Fastify logger options (pino); false for silence in tests. */
  logger?: FastifyServerOptions['logger'];
  https?: { cert: Buffer; key: Buffer };
  /** Where jobs run; default: the local executor without cgroups, in a temporary directory. */
  jobs?: JobRunner;
  /** What sends mail; default: SMTP per settings.mail (a relative passwordFile from the working directory), none without it. */
  mailer?: Mailer | null;
  /** User areas (storage/areas/service.ts areasRuntime); default: not provisioned. */
  areas?: AreasRuntime;
  /** The data directory (the storage disk tier lives in it); default: a temporary directory, removed on close. */
  dataDir?: string;
  /** The archive tier for the HSM; default: storage.archive of the settings (archive-dir in the data directory, or in a temporary one). */
  archive?: ArchiveBackend;
  /** The HA runner's view while this is the active server of several (src/server/ha/); absent when it runs alone. */
  ha?: HaRuntime;
}

export type KeisanApp = FastifyInstance & { keisan: ServerContext };

/** Where jobs run and what this machine offers them. */
export interface JobRunner {
  /** This machine's executor, or a cluster's (SLURM) that schedules itself. */
  executor: JobExecutor | ClusterExecutor;
  /** This machine's resources for Keisan's scheduler (unused with a cluster executor). */
  node: NodeResources;
}

/**
 * Without an explicit runner (tests of other rooms): the local executor without cgroups, its
 * records in a private temporary directory, and no GPUs. `keisan server` passes the real one.
 */
async function defaultJobRunner(settings: Settings): Promise<JobRunner> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'keisan-jobs-'));
  return { executor: new LocalExecutor({ stateDir, cgroups: false }), node: localNode(settings, []) };
}

/** One debug line per request instead of two at info: daemons' heartbeats would flood the log. */
class QuietRequestLog extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(error: Error | null, request: FastifyRequest, reply: FastifyReply): void {
    if (error) return;
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  }
}

/** Builds the HTTP application without listening, so tests drive it with `inject()`. */
export async function buildApp(options: AppOptions): Promise<KeisanApp> {
  const clock = options.clock ?? systemClock;
  const { settings, db } = options;
  const fastifyOptions: FastifyServerOptions & { https?: { cert: Buffer; key: Buffer } } = {
    logger: options.logger ?? false,
    bodyLimit: settings.server.bodyLimit,
    trustProxy: settings.server.trustProxy,
    // Keep a slow client from holding a connection forever.
    requestTimeout: 60_000,
    // Requests are identified in logs and in 500 messages.
    genReqId: () => Math.random().toString(36).slice(2, 10),
    // Malformed URLs are refused with the API's error body too.
    frameworkErrors: frameworkErrorHandler,
    logController: new QuietRequestLog(),
    ...(options.https ? { https: options.https } : {}),
  };
  const app = Fastify(fastifyOptions).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const accounts = new AccountsService(db.kysely, settings, clock);
  // accounts.ldap: publish Keisan's users and groups to a directory (kept in sync on every change), or log in against the site's.
  const ldap = new LdapService({ db: db.kysely, settings: settings.accounts.ldap, clock, accounts, logger: app.log, ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}) });
  ldap.start();
  const mailer = options.mailer !== undefined ? options.mailer : settings.mail ? createMailer(settings.mail, process.cwd()) : null;
  const mail = new MailService({
    settings,
    clock,
    accounts,
    mailer,
    outbox: mailer ? new MailOutbox({ db: db.kysely, clock, mailer, logger: app.log }) : null,
  });
  const jobs = options.jobs ?? (await defaultJobRunner(settings));
  const batch = new BatchService({
    db: db.kysely,
    clock,
    accounts,
    executor: jobs.executor,
    node: () => jobs.node,
    queues: new QueueBook(db.kysely, settings, clock, accounts),
    schedule,
    logger: app.log,
    mail: mail.configured ? mail : null,
    // HA: a server that lost its lock starts no job, even in a pass already under way.
    ...(options.ha ? { mayStart: options.ha.acting, confirmStart: options.ha.confirm } : {}),
  });
  const areas = new AreasService({
    db: db.kysely,
    clock,
    accounts,
    runtime: options.areas ?? areasOff('this server was started without user areas'),
    logger: app.log,
    mail: mail.configured ? mail : null,
  });
  const storage = await openStorage({ settings, ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}), db: db.kysely, ...(db.sqlite ? { sqlite: db.sqlite } : {}), clock, accounts, logger: app.log });
  const archiveTemp = options.archive || options.dataDir !== undefined ? null : await mkdtemp(path.join(tmpdir(), 'keisan-archive-'));
  const archive = options.archive ?? createArchiveBackend(settings.storage?.archive, options.dataDir ?? archiveTemp!);
  const hsm = new HsmService({ db: db.kysely, clock, settings, accounts, storage: storage.service, archive, mail: mail.configured ? mail : null, logger: app.log });
  const monitor = new MonitorHub({
    retentionMs: settings.monitor.history,
    maxSeries: settings.monitor.maxSeries,
    staleAfterMs: 3 * settings.monitor.interval,
  });
  const daemons = new DaemonsService(db.kysely, options.nodeSecret, clock, settings.daemons.heartbeatInterval, settings.daemons.staleAfterMissed);
  const alerts = new AlertsService({
    db: db.kysely,
    clock,
    settings: settings.monitor.alerts,
    facility: settings.facility.name,
    monitor,
    mail,
    logger: app.log,
    verifyNodeSecret: (header) => daemons.verifyNodeSecret(header),
  });
  const inventory = new InventoryService({
    db: db.kysely,
    clock,
    config: settings.inventory,
    // Health per host from the monitoring room: the hub's up/down (what fires HostDown), checks, firing alerts.
    health: {
      hosts: (nowMs) => monitor.hosts(nowMs),
      checks: (host) => monitor.latestChecks(host),
      firingAlerts: async () =>
        (await alerts.list(SYSTEM_ACTOR, 'firing')).map((a) => ({ host: a.labels.host, alertname: a.alertname, severity: a.severity, summary: a.summary, silenced: a.silencedBy.length > 0 })),
    },
  });
  const incidents = new IncidentService({ db: db.kysely, clock, services: settings.incidents.services, timeZone: settings.incidents.timeZone, logger: app.log });
  const runbooks = new RunbookService({ db: db.kysely, clock, inventory, testedWithinDays: settings.maintenance.runbookTestedWithinDays });
  const context: ServerContext = {
    settings,
    clock,
    version: KEISAN_VERSION,
    database: { dialect: db.dialect, location: db.location },
    accounts,
    daemons,
    devices: new DevicesService(db.kysely, clock),
    incidents,
    // The public status page reads the inventory (below), the monitor's checks and the firing alerts.
    status: new StatusService({ db: db.kysely, clock, settings: settings.status, facility: settings.facility.name, logger: app.log, signals: statusSignalsOf({ inventory: () => context.inventory, monitor, alerts, clock }) }),
    areas,
    storage: storage.service,
    hsm,
    batch,
    mail,
    monitor,
    alerts,
    recovery: new RecoveryService({ db: db.kysely, clock, accounts, mail: mail.configured ? mail : null, logger: app.log, facility: settings.facility.name }),
    inventory,
    runbooks,
    maintenance: new MaintenanceService({ db: db.kysely, clock, inventory, runbooks, settings: settings.maintenance, logger: app.log }),
    // Watches the UPS (keisan.yaml power:) and runs the ordered shutdown plan on a power loss.
    power: new PowerService({ settings: settings.power, clock, db: db.kysely, incidents, batch, hsm, storage: storage.service, daemons, services: settings.incidents.services, dataDir: options.dataDir ?? null, logger: app.log }),
  };
  // Scheduled plans show on the status page; running or halted ones put their components under maintenance.
  context.status.useMaintenance(maintenanceSource(context.maintenance));
  // Ask mode's operator links and webhooks.
  context.recovery.configureAsk({ publicUrl: serverUrlOf(settings), webhooks: settings.recovery.notify.webhooks });
  // A job the watchdog killed ends as killed-by-recovery, whichever report (the watchdog's or the executor's) comes first.
  context.recovery.onAction(async (event) => {
    if (event.action !== 'kill' || event.jobId === null) return;
    await batch.recordRecoveryKill(event.jobId, `killed by the recovery watchdog on ${event.host} (${event.rule}): ${event.explanation} — keisan recovery event ${event.id}`);
  });
  // Recovery kills and critical alerts open incidents (or add to the open one of the same key).
  wireIncidentHooks({ incidents: context.incidents, recovery: context.recovery, alerts, settings: settings.incidents, logger: app.log });
  app.decorate('keisan', context);
  // The login pool: inventory hosts with the login role, their health, plans in progress and the agents' load.
  const loginHosts = new LoginHostService({
    db: db.kysely,
    clock,
    sources: {
      hosts: () => context.inventory.listHosts(SYSTEM_ACTOR),
      maintenance: async (now) => (await context.maintenance.active(now)).map((p) => ({ hosts: p.hosts, text: `maintenance plan ${p.id} '${p.title}' is ${p.state}` })),
      load: (host, nowMs) => {
        const state = monitor.hosts(nowMs).find((h) => sameHost(h.host, host));
        const summary = state ? summarizeNode(monitor.reader, state, settings.monitor.history, nowMs) : null;
        return { load1: summary?.load1 ?? null, cpus: summary?.cpus ?? null };
      },
    },
  });
  const monitorTicker = setInterval(() => monitor.tick(clock.now().getTime()), 5_000);
  monitorTicker.unref();
  app.addHook('onClose', async () => {
    clearInterval(monitorTicker);
    await ldap.close();
    await context.power.close();
    await context.status.stop();
    await alerts.close();
    await hsm.close();
    await archive.close();
    if (archiveTemp) await rm(archiveTemp, { recursive: true, force: true });
    await storage.close();
    await areas.close();
    await batch.close();
    await jobs.executor.close();
    await mail.close();
  });

  installErrorHandling(app, { pageFallback: await registerWebUi(app) });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Keisan API',
        version: KEISAN_VERSION,
        description: 'The API of a Keisan facility. Send the ticket from `POST /api/auth/login` as `Authorization: Bearer <ticket>`.',
      },
      components: {
        securitySchemes: {
          ticket: { type: 'http', scheme: 'bearer', description: 'a login ticket from POST /api/auth/login' },
          node: { type: 'apiKey', in: 'header', name: 'authorization', description: 'Node <secret>, for agents and watchdogs' },
        },
      },
      security: [{ ticket: [] }],
    },
    transform: jsonSchemaTransform,
  });
  if (options.ha) installFence(app, options.ha);
  installAuthentication(app, context.accounts);

  app.get(
    '/api/health',
    {
      config: { public: true },
      schema: {
        tags: ['server'],
        summary: 'Is the server up, and which database does it use',
        security: [],
        response: {
          200: z.object({
            status: z.literal('ok'),
            version: z.string(),
            facility: z.string(),
            database: z.enum(['sqlite', 'postgres']),
            time: z.string(),
            ha: healthHaSchema.optional(),
          }),
        },
      },
    },
    async () => ({
      status: 'ok' as const,
      version: KEISAN_VERSION,
      facility: settings.facility.name,
      database: db.dialect,
      time: clock.now().toISOString(),
      ...(options.ha ? { ha: healthHa(options.ha) } : {}),
    }),
  );

  await app.register(async (scoped) => {
    registerAccountRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerDaemonRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerDeviceRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerIncidentRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerStatusRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerAreaRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerStorageRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerHsmRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerBatchRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    // keisan admin slurm sync / import-usage: the SLURM cluster's accounts, QOS and foreign usage.
    registerSlurmRoutes(scoped.withTypeProvider<ZodTypeProvider>(), new SlurmAdminService({ db: db.kysely, settings, clock, queues: () => batch.listQueues() }));
    registerLdapRoutes(scoped.withTypeProvider<ZodTypeProvider>(), ldap);
    registerMonitorRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerReportRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerAlertRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerCheckRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerMetricsRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerRecoveryRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerInventoryRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerPowerRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerMaintenanceRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerRunbookRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context);
    registerLoginHostRoutes(scoped.withTypeProvider<ZodTypeProvider>(), context, loginHosts);
    registerHaRoutes(scoped.withTypeProvider<ZodTypeProvider>(), options.ha);
  });

  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  await app.ready();
  try {
    await batch.start();
    await storage.service.start();
    await archive.open();
    await hsm.start();
    areas.start();
    mail.start();
    await alerts.start();
    context.status.start();
    context.power.start();
  } catch (error) {
    // Half started (e.g. the archive is locked by another process): stop what runs, so that no
    // loop is left behind when the caller gives up or tries again (an HA takeover does).
    await app.close().catch(() => undefined);
    throw error;
  }
  return app as unknown as KeisanApp;
}
