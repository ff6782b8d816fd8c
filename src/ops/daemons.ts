import { timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { KeisanError } from '../lib/errors.ts';
import { sha256Hex } from '../lib/ids.ts';

/**
 * The facility's daemons (agents and watchdogs, one of each per node) register with the server
 * and send heartbeats; the inventory shows which are up, stale (heartbeats stopped) or stopped.
 * They authenticate with the node secret, not with a user's ticket.
 */
export const DAEMON_KINDS = ['agent', 'watchdog'] as const;
export type DaemonKind = (typeof DAEMON_KINDS)[number];

export const registerDaemonInput = z
  .object({
    kind: z.enum(DAEMON_KINDS),
    host: z.string().min(1).max(255).regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'host must be a host name'),
    pid: z.number().int().min(1),
    version: z.string().min(1).max(64),
    startedAt: z.iso.datetime(),
    info: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  })
  .strict();
export type RegisterDaemonInput = z.infer<typeof registerDaemonInput>;

export const heartbeatInput = z
  .object({
    pid: z.number().int().min(1),
    info: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  })
  .strict();

export const daemonStateSchema = z.enum(['up', 'stale', 'stopped']);
export type DaemonState = z.infer<typeof daemonStateSchema>;

export const daemonSchema = z.object({
  id: z.number().int(),
  kind: z.enum(DAEMON_KINDS),
  host: z.string(),
  pid: z.number().int(),
  version: z.string(),
  state: daemonStateSchema,
  startedAt: z.string(),
  registeredAt: z.string(),
  lastHeartbeatAt: z.string(),
  stoppedAt: z.string().nullable(),
  info: z.record(z.string(), z.unknown()),
});
export type Daemon = z.infer<typeof daemonSchema>;

/** Pure: a daemon is stale once it has missed `missed` heartbeats in a row. */
export function daemonState(
  daemon: { lastHeartbeatAt: string; stoppedAt: string | null },
  now: Date,
  heartbeatIntervalMs: number,
  missed: number,
): DaemonState {
  if (daemon.stoppedAt) return 'stopped';
  const silentFor = now.getTime() - new Date(daemon.lastHeartbeatAt).getTime();
  return silentFor > heartbeatIntervalMs * missed ? 'stale' : 'up';
}

export class DaemonsService {
  private readonly secretHash: Buffer;

  constructor(
    private readonly db: Kysely<Database>,
    nodeSecret: string,
    private readonly clock: Clock,
    private readonly heartbeatIntervalMs: number,
    private readonly staleAfterMissed: number,
  ) {
    this.secretHash = Buffer.from(sha256Hex(nodeSecret), 'hex');
  }

  /** Checks `Authorization: Node <secret>`. */
  verifyNodeSecret(header: string | undefined): void {
    const match = header ? /^Node\s+(\S+)$/i.exec(header) : null;
    const given = match ? Buffer.from(sha256Hex(match[1]!), 'hex') : undefined;
    if (!given || !timingSafeEqual(given, this.secretHash)) {
      throw new KeisanError(
        'NOT_AUTHENTICATED',
        'daemons authenticate with the node secret: send "Authorization: Node <secret>" (the secret is in the data directory, file node-secret)',
      );
    }
  }

  get heartbeatIntervalSeconds(): number {
    return Math.round(this.heartbeatIntervalMs / 1000);
  }

  async register(input: RegisterDaemonInput): Promise<Daemon> {
    const at = this.clock.now().toISOString();
    const values = {
      pid: input.pid,
      version: input.version,
      started_at: input.startedAt,
      registered_at: at,
      last_heartbeat_at: at,
      stopped_at: null,
      info: JSON.stringify(input.info ?? {}),
    };
    await this.db
      .insertInto('daemons')
      .values({ kind: input.kind, host: input.host, ...values })
      .onConflict((oc) => oc.columns(['kind', 'host']).doUpdateSet(values))
      .execute();
    const row = await this.db.selectFrom('daemons').selectAll().where('kind', '=', input.kind).where('host', '=', input.host).executeTakeFirstOrThrow();
    return this.toDaemon(row);
  }

  async heartbeat(id: number, pid: number, info: Record<string, unknown> | undefined): Promise<Daemon> {
    const row = await this.db.selectFrom('daemons').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.pid !== pid) {
      throw new KeisanError('NOT_FOUND', `daemon ${id} with pid ${pid} is not registered: register again`);
    }
    await this.db
      .updateTable('daemons')
      .set({ last_heartbeat_at: this.clock.now().toISOString(), stopped_at: null, ...(info ? { info: JSON.stringify(info) } : {}) })
      .where('id', '=', id)
      .execute();
    return this.toDaemon((await this.db.selectFrom('daemons').selectAll().where('id', '=', id).executeTakeFirst())!);
  }

  async stopped(id: number, pid: number): Promise<void> {
    await this.db.updateTable('daemons').set({ stopped_at: this.clock.now().toISOString() }).where('id', '=', id).where('pid', '=', pid).execute();
  }

  async list(): Promise<Daemon[]> {
    const rows = await this.db.selectFrom('daemons').selectAll().orderBy('host').orderBy('kind').execute();
    return rows.map((row) => this.toDaemon(row));
  }

  private toDaemon(row: {
    id: number; kind: string; host: string; pid: number; version: string; started_at: string;
    registered_at: string; last_heartbeat_at: string; stopped_at: string | null; info: string;
  }): Daemon {
    const base = {
      id: Number(row.id),
      kind: row.kind as DaemonKind,
      host: row.host,
      pid: row.pid,
      version: row.version,
      startedAt: row.started_at,
      registeredAt: row.registered_at,
      lastHeartbeatAt: row.last_heartbeat_at,
      stoppedAt: row.stopped_at,
      info: JSON.parse(row.info) as Record<string, unknown>,
    };
    return { ...base, state: daemonState(base, this.clock.now(), this.heartbeatIntervalMs, this.staleAfterMissed) };
  }
}
