import type { Kysely } from 'kysely';
import { auditedChange, auditedRefusal, writeAudit, type AuditRecord } from '../accounts/audit.ts';
import type { Actor } from '../accounts/model.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { conflict, forbidden, invalidInput, KeisanError, notFound } from '../lib/errors.ts';
import { formatDuration, parseDuration } from '../lib/units.ts';
import {
  DEFAULT_IDLE_RELEASE_MS,
  MAX_HOLD_LIMIT_MS,
  MAX_IDLE_RELEASE_MS,
  MAX_RESERVE_FOR_MS,
  MIN_DURATION_MS,
  type ActivityInput,
  type CreateDeviceInput,
  type Device,
  type ReserveInput,
  type UpdateDeviceInput,
} from './model.ts';
import {
  authorizeDevice,
  decideActivity,
  decideBreak,
  decideRelease,
  decideReserve,
  deviceStatus,
  formatUtc,
  type DeviceAction,
  type Outcome,
  type Reservation,
} from './policy.ts';
import * as store from './store.ts';

type Tx = Kysely<Database>;

/** Who reports activity on a device: a user with a ticket, or an agent with the node secret. */
export type ActivitySource = { kind: 'user'; actor: Actor } | { kind: 'agent' };

/** A duration from a request, in bounds, or INVALID_INPUT naming the field. */
function durationOf(field: string, value: string | number, min: number, max: number): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    throw invalidInput(`${field}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (ms < min) throw invalidInput(`${field} must be at least ${formatDuration(min)}, not ${formatDuration(ms)}`);
  if (ms > max) throw invalidInput(`${field} must be at most ${formatDuration(max)}, not ${formatDuration(ms)}`);
  return ms;
}

/**
 * Shared devices and their reservations: the one place the reservation rules (policy.ts) are
 * applied, whatever the interface. Every change is written with its audit entry in one
 * transaction; operators' refusals are audited too.
 */
export class DevicesService {
  constructor(
    private readonly k: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  private now(): Date {
    return this.clock.now();
  }

  private transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.k.isTransaction ? work(this.k) : this.k.transaction().execute(work);
  }

  /** Checks who may; a refusal is written to the audit log and thrown as FORBIDDEN. */
  private async require(actor: Actor, action: DeviceAction, device: string): Promise<void> {
    const decision = authorizeDevice(actor, action);
    if (decision.allowed) return;
    throw await auditedRefusal(this.k, { actor, action, targetType: 'device', target: device }, decision.reason, this.now());
  }

  /** A change and its audit entry in one transaction; unique-key races become CONFLICT. */
  private change<T>(record: Omit<AuditRecord, 'outcome'>, work: (tx: Tx) => Promise<T>): Promise<T> {
    return auditedChange(this.k, record, () => this.now(), work, `device '${record.target}' was changed at the same time by someone else; try again`);
  }

  private async row(db: Tx, name: string): Promise<store.DeviceRow> {
    const row = await store.findDevice(db, name);
    if (!row) throw notFound('device', name);
    return row;
  }

  // ---------------------------------------------------------------- reading

  async list(_actor: Actor): Promise<Device[]> {
    const now = this.now();
    return (await store.listDevices(this.k)).map((row) => store.toDevice(row, now));
  }

  async get(_actor: Actor, name: string): Promise<Device> {
    return store.toDevice(await this.row(this.k, name), this.now());
  }

  // ---------------------------------------------------------------- administration (operators)

  async create(actor: Actor, input: CreateDeviceInput): Promise<Device> {
    await this.require(actor, 'device.create', input.name);
    const settings: store.DeviceSettings = {
      kind: input.kind ?? 'device',
      description: input.description ?? '',
      idleReleaseMs: input.idleRelease === undefined ? DEFAULT_IDLE_RELEASE_MS : durationOf('idleRelease', input.idleRelease, MIN_DURATION_MS, MAX_IDLE_RELEASE_MS),
      maxHoldMs: input.maxHold === undefined || input.maxHold === null ? null : durationOf('maxHold', input.maxHold, MIN_DURATION_MS, MAX_HOLD_LIMIT_MS),
    };
    return this.change({ actor, action: 'device.create', targetType: 'device', target: input.name, detail: { ...settings } }, async (tx) => {
      if (await store.findDevice(tx, input.name)) throw conflict(`device '${input.name}' already exists`);
      await store.insertDevice(tx, input.name, settings, this.now());
      return store.toDevice(await this.row(tx, input.name), this.now());
    });
  }

  async update(actor: Actor, name: string, input: UpdateDeviceInput): Promise<Device> {
    await this.require(actor, 'device.update', name);
    const row = await this.row(this.k, name);
    const current = store.settingsOf(row);
    const settings: store.DeviceSettings = {
      kind: input.kind ?? current.kind,
      description: input.description ?? current.description,
      idleReleaseMs: input.idleRelease === undefined ? current.idleReleaseMs : durationOf('idleRelease', input.idleRelease, MIN_DURATION_MS, MAX_IDLE_RELEASE_MS),
      maxHoldMs:
        input.maxHold === undefined ? current.maxHoldMs : input.maxHold === null ? null : durationOf('maxHold', input.maxHold, MIN_DURATION_MS, MAX_HOLD_LIMIT_MS),
    };
    return this.change({ actor, action: 'device.update', targetType: 'device', target: name, detail: { ...input } }, async (tx) => {
      await store.updateSettings(tx, row.id, settings, this.now());
      return store.toDevice(await this.row(tx, name), this.now());
    });
  }

  async remove(actor: Actor, name: string): Promise<void> {
    await this.require(actor, 'device.delete', name);
    await this.change({ actor, action: 'device.delete', targetType: 'device', target: name }, async (tx) => {
      const row = await this.row(tx, name);
      const status = deviceStatus(store.reservationOf(row), store.rulesOf(row), this.now());
      if (status.state !== 'free') {
        throw conflict(
          `device '${name}' is reserved by ${status.reservation.holder} until ${formatUtc(status.end.at)}: ` +
            `break the reservation first (keisan admin device break ${name} --reason …)`,
        );
      }
      await store.deleteDevice(tx, row.id);
    });
  }

  // ---------------------------------------------------------------- reservations

  /**
   * Reads the device, asks the policy, writes the reservation it returns only if nobody changed
   * the device meanwhile (a lost race is reported, never silently overwritten), with the audit
   * entry in the same transaction.
   */
  private async reservationChange<T extends { reservation: Reservation | null }>(
    name: string,
    decide: (current: Reservation | null, row: store.DeviceRow, now: Date) => Outcome<T>,
    audit: ((outcome: T, row: store.DeviceRow) => Omit<AuditRecord, 'outcome'>) | null,
  ): Promise<{ device: Device; outcome: T }> {
    return this.transaction(async (tx) => {
      const now = this.now();
      const row = await this.row(tx, name);
      const current = store.reservationOf(row);
      const outcome = decide(current, row, now);
      if (!outcome.ok) throw new KeisanError(outcome.code, outcome.message, outcome.details);
      if (outcome.reservation !== null && outcome.reservation !== current) {
        if (!(await store.writeReservation(tx, row, outcome.reservation))) {
          throw conflict(`device '${name}' was changed at the same time by someone else; try again`);
        }
      }
      if (audit) await writeAudit(tx, { ...audit(outcome, row), outcome: 'ok' }, now);
      return { device: store.toDevice(await this.row(tx, name), now), outcome };
    });
  }

  /** Reserves a free device, or renews the caller's own reservation. */
  async reserve(actor: Actor, name: string, input: ReserveInput = {}): Promise<Device> {
    const forMs = input.for === undefined ? null : durationOf('for', input.for, MIN_DURATION_MS, MAX_RESERVE_FOR_MS);
    const { device } = await this.reservationChange(
      name,
      (current, row, now) => decideReserve(name, current, store.rulesOf(row), actor.name, forMs, now),
      (outcome) => ({
        actor,
        action: outcome.kind === 'new' ? 'device.reserve' : 'device.renew',
        targetType: 'device',
        target: name,
        detail: { until: outcome.reservation.reservedUntil.toISOString(), ...(forMs !== null ? { for: formatDuration(forMs) } : {}) },
      }),
    );
    return device;
  }

  /** The holder gives the device back. */
  async release(actor: Actor, name: string): Promise<Device> {
    const { device } = await this.reservationChange(
      name,
      (current, row, now) => decideRelease(name, current, store.rulesOf(row), actor.name, now),
      (outcome) => ({ actor, action: 'device.release', targetType: 'device', target: name, detail: { since: outcome.reservation.reservedAt.toISOString() } }),
    );
    return device;
  }

  /**
   * Activity keeps a reservation alive: the holder's tools report it with their ticket, agents
   * with the node secret (naming the user when they know). Not audited: it is frequent.
   */
  async reportActivity(source: ActivitySource, name: string, input: ActivityInput = {}): Promise<Device> {
    if (source.kind === 'user' && input.user !== undefined && input.user !== source.actor.name) {
      throw forbidden(`you may report only your own activity, not ${input.user}'s`);
    }
    const reporter = source.kind === 'user' ? { kind: 'user' as const, user: source.actor.name } : { kind: 'agent' as const, user: input.user ?? null };
    const { device } = await this.reservationChange(name, (current, row, now) => decideActivity(name, current, store.rulesOf(row), reporter, now), null);
    return device;
  }

  /** An operator ends someone's reservation, with a reason for the audit log and the holder. */
  async breakReservation(actor: Actor, name: string, reason: string): Promise<Device> {
    await this.require(actor, 'device.break', name);
    const { device } = await this.reservationChange(
      name,
      (current, row, now) => decideBreak(name, current, store.rulesOf(row), actor.name, reason, now),
      (outcome) => ({
        actor,
        action: 'device.break',
        targetType: 'device',
        target: name,
        detail: { holder: outcome.reservation.holder, since: outcome.reservation.reservedAt.toISOString(), reason: reason.trim() },
      }),
    );
    return device;
  }
}
