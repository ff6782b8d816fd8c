import { hostname, networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type pino from 'pino';
import { openDatabase, type Db } from '../../db/connection.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { systemClock } from '../../lib/clock.ts';
import type { Settings } from '../../lib/config.ts';
import type { HaRuntime } from './routes.ts';
import { LeaderLock } from './election.ts';
import { advertisedUrl, requireHaDatabase, type HaSettings } from './settings.ts';
import { startStandbyListener, type StandbyView } from './standby.ts';
import { HaStore, type HaStatus } from './store.ts';

/** What the runner needs of `startServer` (main.ts), passed in to keep the import one-way. */
export type StartFacility = (ha: HaRuntime) => Promise<{ close(): Promise<void> }>;

export interface HaRunnerOptions {
  settings: Settings & { ha: HaSettings };
  databaseUrl: string;
  dataDir: string;
  host: string;
  port: number;
  logger: pino.Logger;
  startFacility: StartFacility;
}

type Phase = 'standby' | 'starting' | 'active' | 'fencing' | 'stopping';

/** How long a fenced server may take to close its facility before the process exits instead. */
const FENCE_CLOSE_LIMIT_MS = 10_000;
const START_RETRY_WINDOW_MS = FENCE_CLOSE_LIMIT_MS + 5_000;
/** A server that lost its lock does not compete for this many polls, so that a standby takes over. */
const YIELD_POLLS = 4;
/**
 * A facility that fails to start after a takeover is tried again, this far apart, for this long
 * before the lock is given back: longer than a fenced server may take to close (its directory
 * locks are released when it has closed, or when it exits after FENCE_CLOSE_LIMIT_MS).
 */
const START_RETRY_MS = 500;
/** Heartbeats of the ha_servers rows, at most this often. */
const HEARTBEAT_MS = 2_000;

/** Every name and address this host answers to, for finding itself in ha.servers. */
function hostNames(settings: Settings): string[] {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
  return [hostname(), 'localhost', settings.server.host, ...addresses];
}

/**
 * `keisan server` with `ha:` in keisan.yaml. It stands by (a small listener on its port, no
 * facility work) and tries the election lock every ha.pollEvery; on winning it records the
 * takeover (new epoch, audit log) and starts the full facility on the same port exactly as a
 * restarted server does. If it loses the lock while active it stops acting at once (every API
 * request answers 503 STANDBY, no scheduler pass starts a job), closes the facility and stands by.
 */
export class HaRunner {
  private phase: Phase = 'standby';
  private readonly self: string;
  private readonly ha: HaSettings;
  private db: Db | null = null;
  private store: HaStore | null = null;
  private lock: LeaderLock;
  private standby: { close(): Promise<void> } | null = null;
  private facility: { close(): Promise<void> } | null = null;
  private knownActive: string | null = null;
  private epoch = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastHeartbeat = 0;
  /** After losing the lock this server lets the others try first (its own database link is suspect). */
  private yieldUntil = 0;
  /** Failed election tries in a row (the database unreachable): logged on the first and every 20th. */
  private electionFailures = 0;
  private readonly https: { cert: Buffer; key: Buffer } | undefined;

  constructor(private readonly o: HaRunnerOptions) {
    requireHaDatabase(o.databaseUrl);
    this.ha = o.settings.ha;
    this.self = advertisedUrl(this.ha, { port: o.port, hostNames: hostNames(o.settings) });
    this.lock = this.newLock();
    const tls = o.settings.server.tls;
    this.https = tls ? { cert: readFileSync(path.resolve(o.dataDir, tls.cert)), key: readFileSync(path.resolve(o.dataDir, tls.key)) } : undefined;
  }

  get url(): string {
    return this.self;
  }

  private newLock(): LeaderLock {
    return new LeaderLock({
      databaseUrl: this.o.databaseUrl,
      key: this.ha.lockKey,
      queryTimeoutMs: Math.max(1_000, 2 * this.ha.pollEvery),
      onLost: (reason) => void this.fence(reason),
    });
  }

  /** The view of the facility while active (buildApp's `ha` option). */
  readonly runtime: HaRuntime = {
    acting: () => (this.phase === 'active' || this.phase === 'starting') && this.lock.holding,
    confirm: async () => this.runtime.acting() && (await this.lock.verify()),
    view: () => this.view(),
    status: () => this.status(),
  };

  private view(): StandbyView {
    const active = this.phase === 'active' || this.phase === 'starting' ? this.self : this.knownActive;
    return { facility: this.o.settings.facility.name, self: this.self, active, servers: this.ha.servers };
  }

  private async status(): Promise<HaStatus> {
    const servers = this.store ? await this.store.list() : [];
    const active = servers.find((s) => s.role === 'active');
    return { self: this.self, active: active?.url ?? null, epoch: active?.epoch ?? this.epoch, pollEveryMs: this.ha.pollEvery, servers };
  }

  async start(): Promise<void> {
    const db = openDatabase(this.o.databaseUrl, { dataDir: this.o.dataDir });
    this.db = db;
    // Every server may migrate (kysely's migrator takes a lock); the standby needs ha_servers.
    await migrateToLatest(db);
    this.store = new HaStore(db.kysely, db.dialect);
    await this.store.register({ url: this.self, host: hostname(), pid: process.pid }, systemClock.now());
    await this.refreshActive();
    await this.listenAsStandby();
    this.o.logger.info({ url: this.self, servers: this.ha.servers, active: this.knownActive, pollEveryMs: this.ha.pollEvery }, 'keisan server standing by (ha): it takes over when it wins the election');
    await this.poll();
  }

  private async listenAsStandby(): Promise<void> {
    this.standby = await startStandbyListener({ host: this.o.host, port: this.o.port, ...(this.https ? { https: this.https } : {}), view: () => this.view(), now: () => systemClock.now() });
  }

  private schedule(): void {
    if (this.phase === 'stopping') return;
    this.timer = setTimeout(() => void this.poll(), this.ha.pollEvery);
  }

  private async poll(): Promise<void> {
    try {
      if (this.phase === 'standby') {
        let won = false;
        try {
          if (performance.now() >= this.yieldUntil) won = await this.lock.tryAcquire();
          this.electionFailures = 0;
        } catch (error) {
          if (this.electionFailures++ % 20 === 0) this.o.logger.warn({ failures: this.electionFailures, reason: error instanceof Error ? error.message : String(error) }, 'ha: cannot reach PostgreSQL for the election; will retry');
        }
        if (won) await this.becomeActive();
        else await this.refreshActive();
      } else if (this.phase === 'active') {
        await this.lock.verify();
      }
      await this.heartbeat();
    } catch (error) {
      this.o.logger.error({ err: error }, 'ha: a poll failed');
    } finally {
      this.schedule();
    }
  }

  private async heartbeat(): Promise<void> {
    const now = systemClock.now();
    if (!this.store || now.getTime() - this.lastHeartbeat < HEARTBEAT_MS || (this.phase !== 'active' && this.phase !== 'standby')) return;
    this.lastHeartbeat = now.getTime();
    await this.store.heartbeat(this.self, now).catch((error: unknown) => this.o.logger.warn({ reason: error instanceof Error ? error.message : String(error) }, 'ha: heartbeat not written'));
  }

  private async refreshActive(): Promise<void> {
    if (!this.store) return;
    const rows = await this.store.list().catch(() => null);
    if (rows) this.knownActive = rows.find((r) => r.role === 'active' && r.url !== this.self)?.url ?? null;
  }

  /** The phase now (after an await it may have changed: fence() and stop() run meanwhile). */
  private now(): Phase {
    return this.phase;
  }

  private async becomeActive(): Promise<void> {
    this.phase = 'starting';
    const startedAt = performance.now();
    try {
      const takeover = await this.store!.takeOver(this.self, systemClock.now());
      this.epoch = takeover.epoch;
      this.o.logger.warn({ url: this.self, epoch: takeover.epoch, previous: takeover.previous }, 'ha: won the election; taking over as the active server');
      await this.standby?.close();
      this.standby = null;
      const facility = await this.startFacilityWhileHolding();
      if (this.now() !== 'starting') {
        // Fenced or stopped while starting: what just started closes again (fence() left it to us).
        if (this.now() === 'stopping') await facility.close().catch(() => undefined);
        else {
          this.facility = facility;
          await this.standDown('standby');
        }
        return;
      }
      this.facility = facility;
      this.phase = 'active';
      this.knownActive = this.self;
      this.o.logger.warn({ url: this.self, epoch: takeover.epoch, ms: Math.round(performance.now() - startedAt) }, 'ha: active: the facility runs here');
    } catch (error) {
      if (this.now() === 'stopping') return;
      this.o.logger.error({ err: error }, 'ha: could not start the facility after winning the election; giving the lock back');
      await this.standDown('standby');
    }
  }

  /**
   * Starts the facility; a start that fails (the previous active server, fenced, is still closing
   * and holds a directory lock; or a killed one is not reaped yet) is tried again while this
   * server holds the lock.
   */
  private async startFacilityWhileHolding(): Promise<{ close(): Promise<void> }> {
    const giveUpAt = performance.now() + START_RETRY_WINDOW_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.o.startFacility(this.runtime);
      } catch (error) {
        if (performance.now() >= giveUpAt || this.phase !== 'starting' || !(await this.lock.verify())) throw error;
        this.o.logger.warn({ attempt, reason: error instanceof Error ? error.message : String(error) }, 'ha: the facility did not start; trying again');
        await new Promise((resolve) => setTimeout(resolve, START_RETRY_MS));
      }
    }
  }

  /** Lost the lock while active (or starting): stop acting now, then close and stand by. */
  private async fence(reason: string): Promise<void> {
    if (this.phase !== 'active' && this.phase !== 'starting') return;
    const starting = this.phase === 'starting';
    this.phase = 'fencing';
    this.o.logger.error({ url: this.self, epoch: this.epoch, reason }, 'ha: lost the election lock: no longer active; closing the facility and standing by');
    // A facility still starting is closed by becomeActive once its start returns (it holds the port until then).
    if (!starting) await this.standDown('standby');
  }

  private async standDown(role: 'standby' | 'stopped'): Promise<void> {
    if (role === 'standby') this.phase = 'fencing';
    const facility = this.facility;
    this.facility = null;
    if (facility) {
      const limit = setTimeout(() => {
        this.o.logger.fatal('ha: the facility did not close in time after losing the lock; exiting');
        process.exit(1);
      }, FENCE_CLOSE_LIMIT_MS);
      await facility.close().catch((error: unknown) => this.o.logger.error({ err: error }, 'ha: closing the facility failed'));
      clearTimeout(limit);
    }
    await this.lock.close();
    await this.store?.stepDown(this.self, role).catch(() => undefined);
    if (role === 'stopped') return;
    this.yieldUntil = performance.now() + YIELD_POLLS * this.ha.pollEvery;
    this.lock = this.newLock();
    this.knownActive = null;
    try {
      if (!this.standby) await this.listenAsStandby();
    } catch (error) {
      this.o.logger.fatal({ err: error }, 'ha: cannot listen as a standby again; exiting');
      process.exit(1);
    }
    this.phase = 'standby';
  }

  /** SIGTERM: the facility closes, the lock is released (a standby takes over at once), the row says stopped. */
  async stop(): Promise<void> {
    const wasActive = this.phase === 'active' || this.phase === 'starting';
    this.phase = 'stopping';
    if (this.timer) clearTimeout(this.timer);
    if (wasActive) this.o.logger.warn({ url: this.self }, 'ha: stopping the active server; a standby takes over');
    await this.standDown('stopped');
    await this.standby?.close();
    await this.db?.close();
  }
}
