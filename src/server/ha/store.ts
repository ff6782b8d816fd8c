import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import { writeAudit } from '../../accounts/audit.ts';
import type { DialectName } from '../../db/connection.ts';
import type { Database } from '../../db/schema.ts';

export const haRole = z.enum(['active', 'standby', 'stopped']);
export type HaRole = z.infer<typeof haRole>;

export const haServerSchema = z.object({
  url: z.string(),
  role: haRole,
  epoch: z.number().int(),
  host: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
  heartbeatAt: z.string(),
  activeSince: z.string().nullable(),
});
export type HaServer = z.infer<typeof haServerSchema>;

/** What `GET /api/admin/ha` and `keisan admin ha status` show. */
export const haStatusSchema = z.object({
  self: z.string(),
  active: z.string().nullable(),
  epoch: z.number().int(),
  pollEveryMs: z.number().int(),
  servers: z.array(haServerSchema),
});
export type HaStatus = z.infer<typeof haStatusSchema>;

/** The `ha_servers` rows: who runs, in which role, since when (the election itself is the advisory lock). */
export class HaStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
  ) {}

  /** This server starts (or comes back) as a standby; its row keeps its last epoch. */
  async register(self: { url: string; host: string; pid: number }, now: Date): Promise<void> {
    const at = now.toISOString();
    await this.db
      .insertInto('ha_servers')
      .values({ url: self.url, role: 'standby', epoch: 0, host: self.host, pid: self.pid, started_at: at, heartbeat_at: at, active_since: null })
      .onConflict((oc) => oc.column('url').doUpdateSet({ role: 'standby', host: self.host, pid: self.pid, started_at: at, heartbeat_at: at, active_since: null }))
      .execute();
  }

  /**
   * This server has just won the lock: its epoch is one more than any before, every other row
   * that still says active is marked stopped (that server lost the lock, so it no longer is), and
   * the takeover goes to the audit log — all in one transaction. Returns the new epoch.
   */
  async takeOver(url: string, now: Date): Promise<{ epoch: number; previous: string | null }> {
    const at = now.toISOString();
    return this.db.transaction().execute(async (tx) => {
      // Serializes takeovers on the table (only the lock holder gets here, but a stale holder's late write must not interleave).
      // (SQLite runs one writing transaction at a time anyway; HA itself needs PostgreSQL.)
      if (this.dialect === 'postgres') await sql`lock table ha_servers in share row exclusive mode`.execute(tx);
      const top = await tx.selectFrom('ha_servers').select((eb) => eb.fn.max('epoch').as('epoch')).executeTakeFirst();
      const epoch = Number(top?.epoch ?? 0) + 1;
      const previous = await tx.selectFrom('ha_servers').select('url').where('role', '=', 'active').where('url', '!=', url).executeTakeFirst();
      await tx.updateTable('ha_servers').set({ role: 'stopped', active_since: null }).where('role', '=', 'active').where('url', '!=', url).execute();
      await tx.updateTable('ha_servers').set({ role: 'active', epoch, heartbeat_at: at, active_since: at }).where('url', '=', url).execute();
      await writeAudit(tx, { actor: SYSTEM_ACTOR, action: 'ha.takeover', targetType: 'server', target: url, outcome: 'ok', detail: { epoch, previous: previous?.url ?? null } }, now);
      return { epoch, previous: previous?.url ?? null };
    });
  }

  async heartbeat(url: string, now: Date): Promise<void> {
    await this.db.updateTable('ha_servers').set({ heartbeat_at: now.toISOString() }).where('url', '=', url).execute();
  }

  /** This server gave up being active (lost its lock, or stops): it says so if it still can. */
  async stepDown(url: string, role: 'standby' | 'stopped'): Promise<void> {
    await this.db.updateTable('ha_servers').set({ role, active_since: null }).where('url', '=', url).execute();
  }

  async list(): Promise<HaServer[]> {
    const rows = await this.db.selectFrom('ha_servers').selectAll().orderBy('url').execute();
    return rows.map((r) => ({
      url: r.url,
      role: haRole.catch('stopped').parse(r.role),
      epoch: r.epoch,
      host: r.host,
      pid: r.pid,
      startedAt: r.started_at,
      heartbeatAt: r.heartbeat_at,
      activeSince: r.active_since,
    }));
  }
}
