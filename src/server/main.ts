import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import { openDatabase, type Db } from '../db/connection.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { systemClock } from '../lib/clock.ts';
import { loadFacilityFile, serverUrlOf, type Settings } from '../lib/config.ts';
import { KeisanError } from '../lib/errors.ts';
import { detectCgroupLayout } from '../batch/executors/local/cgroups.ts';
import { LocalExecutor } from '../batch/executors/local/executor.ts';
import { SlurmExecutor } from '../batch/executors/slurm/executor.ts';
import { createMailer } from '../monitor/mail.ts';
import { discoverGpus, gpuMinorNumbers } from '../batch/gpus.ts';
import { localNode } from '../batch/node.ts';
import { areasRuntime } from '../storage/areas/service.ts';
import { buildApp, type JobRunner, type KeisanApp } from './app.ts';
import { initDataDir, readNodeSecret, writeOperatorPassword } from './facility.ts';
import type { HaRuntime } from './ha/routes.ts';
import { HaRunner } from './ha/runner.ts';

export interface ServerOptions {
  dataDir: string;
  /** Overrides server.port (0 picks a free port). */
  port?: number;
  host?: string;
  /** Set by the HA runner (src/server/ha/) when this server has just won the election. */
  ha?: HaRuntime;
}

export interface RunningServer {
  app: KeisanApp;
  db: Db;
  url: string;
  close(): Promise<void>;
}

/** The database named by KEISAN_DATABASE_URL, then keisan.yaml, then the SQLite file in the data directory. */
export function databaseUrl(settings: Settings): string {
  return process.env.KEISAN_DATABASE_URL || settings.database.url || 'sqlite:';
}

/** Starts `keisan server`: migrate, bootstrap the first start, listen. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  initDataDir(options.dataDir);
  const facility = loadFacilityFile(options.dataDir);
  const settings: Settings = {
    ...facility.settings,
    server: {
      ...facility.settings.server,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
    },
  };
  const logger = pino({ name: 'keisan-server', level: process.env.KEISAN_LOG_LEVEL ?? 'info' });
  const db = openDatabase(databaseUrl(settings), { dataDir: options.dataDir });
  // A start that fails half way leaves nothing running (an HA takeover tries again in this process).
  let jobs: JobRunner | undefined;
  let app: KeisanApp | undefined;
  try {
    const migration = await migrateToLatest(db);
    logger.info({ database: db.dialect, location: db.location, applied: migration.applied, schema: migration.current }, 'database ready');

    const https = settings.server.tls
      ? {
          cert: readFileSync(path.resolve(options.dataDir, settings.server.tls.cert)),
          key: readFileSync(path.resolve(options.dataDir, settings.server.tls.key)),
        }
      : undefined;
    jobs = settings.batch.executor === 'slurm' ? await slurmJobRunner(settings, options.dataDir, logger) : await localJobRunner(settings, options.dataDir, logger);
    const mailer = settings.mail ? createMailer(settings.mail, options.dataDir) : null;
    if (mailer) logger.info({ smtp: mailer.server, from: settings.mail?.from }, 'mail: job notices and tests go out through SMTP');
    else logger.info('mail: not configured (no mail: in keisan.yaml); job notices stay in-app');
    app = await buildApp({
      settings,
      db,
      nodeSecret: readNodeSecret(options.dataDir),
      clock: systemClock,
      logger: { name: 'keisan-server', level: process.env.KEISAN_LOG_LEVEL ?? 'info' },
      jobs,
      mailer,
      areas: areasRuntime(settings, options.dataDir),
      dataDir: options.dataDir,
      ...(https ? { https } : {}),
      ...(options.ha ? { ha: options.ha } : {}),
    });
    await bootstrap(app, facility.raw, options.dataDir, logger);

    const address = await app.listen({ host: settings.server.host, port: settings.server.port });
    const port = Number(new URL(address).port);
    const url = serverUrlOf({ ...settings, server: { ...settings.server, port } });
    logger.info({ url, facility: settings.facility.name }, 'keisan server listening');
    const started = app;
    return {
      app: started,
      db,
      url,
      async close() {
        await started.close();
        await db.close();
      },
    };
  } catch (error) {
    if (app) await app.close().catch(() => undefined);
    else await jobs?.executor.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw error;
  }
}

/**
 * On first start (no workgroups yet) the facility file's workgroups and users are applied;
 * whenever no operator exists, one is created and its password written to a 0600 file.
 */
async function bootstrap(app: KeisanApp, raw: Record<string, unknown>, dataDir: string, logger: pino.Logger): Promise<void> {
  const { accounts, settings } = app.keisan;
  const existing = await accounts.listWorkgroups(SYSTEM_ACTOR);
  if (existing.length === 0) {
    const result = await accounts.apply(SYSTEM_ACTOR, { workgroups: raw.workgroups ?? [], users: raw.users ?? [] }, false);
    logger.info({ changes: result.changes.map((c) => c.summary) }, 'facility file applied on first start');
  }
  const operatorName = settings.accounts.operatorName;
  const subgroups = await accounts.listSubgroups(SYSTEM_ACTOR);
  const home = subgroups.find((s) => s.name === 'staff') ?? subgroups[0];
  if (!home) {
    throw new KeisanError('INVALID_INPUT', 'the facility file declares no subgroup, so the first operator has nowhere to belong: add one under workgroups:');
  }
  const created = await accounts.ensureOperator(operatorName, home.name);
  if (created) {
    const file = writeOperatorPassword(dataDir, created.name, created.password);
    logger.info({ operator: created.name, passwordFile: file }, 'created the first operator account; its password is in the password file');
  }
}

/**
 * The local executor for this machine: job records in DATA/jobs, jobs in cgroups under
 * batch.cgroupParent when we may create them, GPUs from nvidia-smi. Says at start what it
 * enforces and what not (single-user mode when not root).
 */
async function localJobRunner(settings: Settings, dataDir: string, logger: pino.Logger): Promise<JobRunner> {
  const usable = process.getuid?.() === 0 && detectCgroupLayout().kind !== 'none';
  const discovery = await discoverGpus();
  const minors = discovery.gpus.length > 0 ? await gpuMinorNumbers() : new Map<string, number>();
  const executor = new LocalExecutor({
    stateDir: path.join(dataDir, 'jobs'),
    cgroups: usable ? { root: settings.batch.cgroupParent } : false,
    gpuDevices: discovery.gpus.map((g) => ({ index: g.index, minor: minors.get(g.uuid) ?? null })),
  });
  const node = localNode(settings, discovery.gpus);
  const capabilities = executor.capabilities();
  logger.info(
    { cpus: node.cpus, memoryForJobs: node.memBytes, gpus: discovery.gpus.map((g) => `${g.index}:${g.type}`), cgroups: capabilities.cgroups, enforced: capabilities.enforced },
    discovery.gpus.length ? `batch: ${discovery.gpus.length} GPU(s) found` : `batch: no GPUs (${discovery.reason ?? 'none listed'})`,
  );
  if (capabilities.notEnforced.length) logger.warn({ notEnforced: capabilities.notEnforced }, 'batch: some limits are not enforced on this machine');
  return { executor, node };
}

/**
 * executor: slurm — jobs go to the SLURM cluster of batch.slurm.conf. Its controller must answer
 * at start (so that a wrong path or a stopped cluster is said at once, not found job by job).
 */
async function slurmJobRunner(settings: Settings, dataDir: string, logger: pino.Logger): Promise<JobRunner> {
  // This Keisan's jobs carry the comment keisan:<instance>:<id>; the instance follows the data directory.
  const instance = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 10);
  const executor = new SlurmExecutor({ settings: settings.batch.slurm, instance, logger: logger.child({ executor: 'slurm' }) });
  let config;
  try {
    config = await executor.open();
  } catch (error) {
    throw new KeisanError('UNAVAILABLE', `batch.executor is slurm, but SLURM's controller could not be asked (${error instanceof Error ? error.message : String(error)}): start slurmctld, or check batch.slurm.conf (${settings.batch.slurm.conf ?? 'default /etc/slurm/slurm.conf'})`);
  }
  const capabilities = executor.capabilities();
  logger.info({ cluster: config.clusterName, version: config.version, accounting: config.accounting, enforced: capabilities.enforced }, `batch: jobs run through SLURM cluster ${config.clusterName}`);
  if (capabilities.notEnforced.length) logger.warn({ notEnforced: capabilities.notEnforced }, 'batch: some limits are not enforced by this SLURM cluster');
  return { executor, node: localNode(settings, []) };
}

/** `keisan server`: runs until SIGINT/SIGTERM, then closes connections and the database. */
export async function runServerProcess(options: ServerOptions): Promise<void> {
  initDataDir(options.dataDir);
  const facility = loadFacilityFile(options.dataDir);
  const ha = facility.settings.ha;
  if (ha) return runHaServerProcess(options, { ...facility.settings, ha });
  const server = await startServer(options);
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    server.app.log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

/**
 * `keisan server` with ha: in keisan.yaml: stands by until it wins the election, then runs the
 * facility (src/server/ha/runner.ts). SIGINT/SIGTERM close it and release the lock.
 */
async function runHaServerProcess(options: ServerOptions, settings: Settings & { ha: NonNullable<Settings['ha']> }): Promise<void> {
  const logger = pino({ name: 'keisan-server', level: process.env.KEISAN_LOG_LEVEL ?? 'info' });
  const port = options.port ?? settings.server.port;
  const host = options.host ?? settings.server.host;
  if (port === 0) throw new KeisanError('INVALID_INPUT', 'ha: a server of an HA set needs a fixed port (its URL is in ha.servers), not --port 0');
  const runner = new HaRunner({
    settings,
    databaseUrl: databaseUrl(settings),
    dataDir: options.dataDir,
    host,
    port,
    logger,
    startFacility: (runtime) => startServer({ ...options, port, host, ha: runtime }),
  });
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await runner.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  await runner.start();
}
