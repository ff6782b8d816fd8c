import type { Kysely, Selectable } from 'kysely';
import type { Database, DeviceTable } from '../db/schema.ts';
import type { Device } from './model.ts';
import { deviceStatus, type DeviceRules, type EndReason, type Reservation } from './policy.ts';

/** Database access for devices. No rules here: the policy decides, the store reads and writes. */
export type Tx = Kysely<Database>;
export type DeviceRow = Selectable<DeviceTable>;

export async function findDevice(db: Tx, name: string): Promise<DeviceRow | undefined> {
  return db.selectFrom('devices').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function listDevices(db: Tx): Promise<DeviceRow[]> {
  return db.selectFrom('devices').selectAll().orderBy('name').execute();
}

export interface DeviceSettings {
  kind: string;
  description: string;
  idleReleaseMs: number;
  maxHoldMs: number | null;
}

const seconds = (ms: number) => Math.round(ms / 1000);

export async function insertDevice(db: Tx, name: string, settings: DeviceSettings, at: Date): Promise<void> {
  await db
    .insertInto('devices')
    .values({
      name,
      kind: settings.kind,
      description: settings.description,
      idle_release_s: seconds(settings.idleReleaseMs),
      max_hold_s: settings.maxHoldMs === null ? null : seconds(settings.maxHoldMs),
      holder: null,
      reserved_at: null,
      reserved_until: null,
      last_activity_at: null,
      ended_at: null,
      end_reason: null,
      ended_by: null,
      end_note: null,
      version: 0,
      created_at: at.toISOString(),
      updated_at: at.toISOString(),
    })
    .execute();
}

export async function updateSettings(db: Tx, id: number, settings: DeviceSettings, at: Date): Promise<void> {
  await db
    .updateTable('devices')
    .set({
      kind: settings.kind,
      description: settings.description,
      idle_release_s: seconds(settings.idleReleaseMs),
      max_hold_s: settings.maxHoldMs === null ? null : seconds(settings.maxHoldMs),
      updated_at: at.toISOString(),
    })
    .where('id', '=', id)
    .execute();
}

export async function deleteDevice(db: Tx, id: number): Promise<void> {
  await db.deleteFrom('devices').where('id', '=', id).execute();
}

/**
 * Writes a device's reservation if nobody changed it since `version` was read; false when
 * someone did (the caller reads again or reports the race).
 */
export async function writeReservation(db: Tx, row: DeviceRow, reservation: Reservation): Promise<boolean> {
  const iso = (d: Date | null) => (d === null ? null : d.toISOString());
  const result = await db
    .updateTable('devices')
    .set({
      holder: reservation.holder,
      reserved_at: iso(reservation.reservedAt),
      reserved_until: iso(reservation.reservedUntil),
      last_activity_at: iso(reservation.lastActivityAt),
      ended_at: iso(reservation.endedAt),
      end_reason: reservation.endReason,
      ended_by: reservation.endedBy,
      end_note: reservation.endNote,
      version: row.version + 1,
    })
    .where('id', '=', row.id)
    .where('version', '=', row.version)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export function rulesOf(row: DeviceRow): DeviceRules {
  return { idleReleaseMs: row.idle_release_s * 1000, maxHoldMs: row.max_hold_s === null ? null : row.max_hold_s * 1000 };
}

export function settingsOf(row: DeviceRow): DeviceSettings {
  return { kind: row.kind, description: row.description, ...rulesOf(row) };
}

const date = (text: string | null) => (text === null ? null : new Date(text));

/** The row's current or last reservation; null when the device was never reserved. */
export function reservationOf(row: DeviceRow): Reservation | null {
  if (row.holder === null || row.reserved_at === null || row.reserved_until === null) return null;
  return {
    holder: row.holder,
    reservedAt: new Date(row.reserved_at),
    reservedUntil: new Date(row.reserved_until),
    lastActivityAt: date(row.last_activity_at),
    endedAt: date(row.ended_at),
    endReason: row.end_reason === 'released' || row.end_reason === 'broken' ? (row.end_reason satisfies EndReason) : null,
    endedBy: row.ended_by,
    endNote: row.end_note,
  };
}

/** The API's view of a device at `now`: its settings and what its reservation means now. */
export function toDevice(row: DeviceRow, now: Date): Device {
  const rules = rulesOf(row);
  const status = deviceStatus(reservationOf(row), rules, now);
  const base = {
    name: row.name,
    kind: row.kind,
    description: row.description,
    idleReleaseSeconds: row.idle_release_s,
    maxHoldSeconds: row.max_hold_s,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (status.state === 'free') {
    return { ...base, state: 'free', holder: null, reservedAt: null, reservedUntil: null, lastActivityAt: null, freeAt: null, freeAtCause: null, latestFreeAt: null };
  }
  const r = status.reservation;
  return {
    ...base,
    state: status.state,
    holder: r.holder,
    reservedAt: r.reservedAt.toISOString(),
    reservedUntil: r.reservedUntil.toISOString(),
    lastActivityAt: r.lastActivityAt?.toISOString() ?? null,
    freeAt: status.end.at.toISOString(),
    freeAtCause: status.end.cause,
    latestFreeAt: status.end.latest?.toISOString() ?? null,
  };
}
