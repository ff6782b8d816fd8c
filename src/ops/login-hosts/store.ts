import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { Drain } from './model.ts';

/** Login hosts an operator took out of the pool by hand. No rules here: the service decides. */
type Tx = Kysely<Database>;

export async function listDrains(db: Tx): Promise<Drain[]> {
  const rows = await db.selectFrom('login_host_drains').selectAll().orderBy('host').execute();
  return rows.map((r) => ({ host: r.host, reason: r.reason, drainedBy: r.drained_by, drainedAt: r.drained_at }));
}

export async function findDrain(db: Tx, host: string): Promise<Drain | undefined> {
  return (await listDrains(db)).find((d) => d.host === host);
}

export async function insertDrain(db: Tx, drain: Drain): Promise<void> {
  await db.insertInto('login_host_drains').values({ host: drain.host, reason: drain.reason, drained_by: drain.drainedBy, drained_at: drain.drainedAt }).execute();
}

export async function deleteDrain(db: Tx, host: string): Promise<void> {
  await db.deleteFrom('login_host_drains').where('host', '=', host).execute();
}
