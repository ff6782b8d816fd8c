import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { ComponentState, FailureState } from './model.ts';
import type { NewTransition } from './state.ts';

/** Database access for the status page's recorded state changes (status_transitions) and its incident reads. No rules here. */
export type Tx = Kysely<Database>;

export interface Transition {
  id: number;
  component: string;
  at: Date;
  state: ComponentState;
  checksState: FailureState;
  reason: string;
}

type Row = { id: number; component: string; at: string; state: string; checks_state: string; reason: string };
const toTransition = (row: Row): Transition => ({
  id: Number(row.id),
  component: row.component,
  at: new Date(row.at),
  state: row.state as ComponentState,
  checksState: row.checks_state as FailureState,
  reason: row.reason,
});

export async function insertTransitions(db: Tx, rows: readonly NewTransition[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('status_transitions')
    .values(rows.map((r) => ({ component: r.component, at: r.at.toISOString(), state: r.state, checks_state: r.checksState, reason: r.reason })))
    .execute();
}

/** The latest row of each component. */
export async function latestPerComponent(db: Tx): Promise<Map<string, Transition>> {
  const rows = await db
    .selectFrom('status_transitions as t')
    .selectAll('t')
    .where('t.id', 'in', (eb) => eb.selectFrom('status_transitions').select((e) => e.fn.max('id').as('id')).groupBy('component'))
    .execute();
  return new Map(rows.map((r) => [r.component, toTransition(r)]));
}

/**
 * The rows from `from` on, with the last row before `from` of each component (the state it was
 * in when the window opened), oldest first.
 */
export async function transitionsSince(db: Tx, from: Date): Promise<Transition[]> {
  const since = from.toISOString();
  const rows = await db
    .selectFrom('status_transitions')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('at', '>=', since),
        eb('id', 'in', eb.selectFrom('status_transitions').select((e) => e.fn.max('id').as('id')).where('at', '<', since).groupBy('component')),
      ]),
    )
    .orderBy('at')
    .orderBy('id')
    .execute();
  return rows.map(toTransition);
}

/** When each component's history starts: its first row. */
export async function firstRecords(db: Tx): Promise<Map<string, Date>> {
  const rows = await db.selectFrom('status_transitions').select(['component', (e) => e.fn.min('at').as('first')]).groupBy('component').execute();
  return new Map(rows.map((r) => [r.component, new Date(String(r.first))]));
}

/**
 * Removes rows older than `before`, keeping the last one of each component before it (the state
 * at the window's start) — the component's history then starts there. Returns how many went.
 */
export async function pruneBefore(db: Tx, before: Date): Promise<number> {
  const cutoff = before.toISOString();
  const result = await db
    .deleteFrom('status_transitions')
    .where('at', '<', cutoff)
    .where('id', 'not in', (eb) => eb.selectFrom('status_transitions').select((e) => e.fn.max('id').as('id')).where('at', '<', cutoff).groupBy('component'))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Public timeline entries of some incidents, oldest first. */
export async function updatesOf(db: Tx, incidentIds: readonly number[]): Promise<Map<number, { at: string; kind: string; status: string | null; text: string; author: string }[]>> {
  const result = new Map<number, { at: string; kind: string; status: string | null; text: string; author: string }[]>();
  if (incidentIds.length === 0) return result;
  for (let i = 0; i < incidentIds.length; i += 500) {
    const rows = await db
      .selectFrom('incident_updates')
      .select(['incident_id', 'at', 'kind', 'status', 'text', 'author'])
      .where('incident_id', 'in', incidentIds.slice(i, i + 500))
      .orderBy('id')
      .execute();
    for (const row of rows) {
      const id = Number(row.incident_id);
      const list = result.get(id) ?? [];
      list.push({ at: row.at, kind: row.kind, status: row.status, text: row.text, author: row.author });
      result.set(id, list);
    }
  }
  return result;
}
