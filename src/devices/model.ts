import { z } from 'zod';
import { description, noNul, unixName } from '../accounts/model.ts';

/**
 * Shared devices used interactively — tape drives, instruments, a GPU kept for interactive
 * work — and their reservations. A device has at most one reservation at a time. Times in the
 * API are ISO-8601 UTC strings; durations are whole seconds in answers and duration strings
 * (20m, 2h, 1d, or a number of seconds) in requests.
 */

/**
 * Device names appear in URLs and on the command line: short, lower case, no spaces, and
 * starting with a letter, so `keisan release 42` (a job) and `keisan release tape0` (a device)
 * never mean the same thing.
 */
export const DEVICE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
export const DEVICE_NAME_RULE = 'start with a lower-case letter, then use only a-z, 0-9, _ and -, at most 32 characters';

export const deviceName = z
  .string({ error: 'device name must be a string' })
  .min(1, 'device name must not be empty')
  .max(32, 'device name is longer than 32 characters')
  .regex(DEVICE_NAME_PATTERN, `device name is not valid: ${DEVICE_NAME_RULE}`);

export const deviceKind = z
  .string({ error: 'kind must be a string' })
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'kind is one lower-case word such as tape-drive, gpu or instrument (a-z, 0-9 and -, at most 32 characters)');

/** A duration as users write it (20m, 2h, 1d12h, 90:00) or a number of seconds; parsed by the service. */
export const durationInput = (what: string) =>
  z.union([z.string({ error: `${what} must be a duration such as 20m or 2h` }).min(1, `${what} must not be empty`).max(64, `${what} is too long`), z.number({ error: `${what} must be a duration such as 20m or 2h` })]);

/** How long a device stays reserved after its holder's last activity, unless configured otherwise. */
export const DEFAULT_IDLE_RELEASE_MS = 20 * 60_000;
export const MIN_DURATION_MS = 60_000;
export const MAX_IDLE_RELEASE_MS = 7 * 86_400_000;
export const MAX_HOLD_LIMIT_MS = 365 * 86_400_000;
/** The longest `reserve --for` of a device without a maximum hold time. */
export const MAX_RESERVE_FOR_MS = 30 * 86_400_000;

export const DEVICE_STATES = ['free', 'reserved', 'in-use'] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

/** Why a reservation ends when it does, if nothing changes. */
export const FREE_AT_CAUSES = ['requested', 'idle', 'max-hold'] as const;
export type FreeAtCause = (typeof FREE_AT_CAUSES)[number];

const timestamp = z.string().describe('ISO-8601 UTC time');

export const deviceSchema = z.object({
  name: z.string(),
  kind: z.string(),
  description: z.string(),
  idleReleaseSeconds: z.number().int().describe('a reservation ends this long after the holder\'s last activity'),
  maxHoldSeconds: z.number().int().nullable().describe('a reservation ends at the latest this long after it began; null = no limit'),
  state: z.enum(DEVICE_STATES),
  holder: z.string().nullable(),
  reservedAt: timestamp.nullable().describe('when the current reservation (its use) began'),
  reservedUntil: timestamp.nullable().describe('the time the holder asked for'),
  lastActivityAt: timestamp.nullable().describe('the last activity reported for the current reservation'),
  freeAt: timestamp.nullable().describe('when others may reserve it, unless the holder stays active, renews or releases it first'),
  freeAtCause: z.enum(FREE_AT_CAUSES).nullable(),
  latestFreeAt: timestamp.nullable().describe('the maximum hold time reached: the reservation ends then whatever happens'),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type Device = z.infer<typeof deviceSchema>;

// ---- request bodies: strict, so unknown fields are refused with their names ----

export const createDeviceInput = z
  .object({
    name: deviceName,
    kind: deviceKind.optional(),
    description: description.optional(),
    idleRelease: durationInput('idleRelease').optional().describe('default 20m'),
    maxHold: durationInput('maxHold').nullable().optional().describe('null or absent: no maximum'),
  })
  .strict();
export type CreateDeviceInput = z.infer<typeof createDeviceInput>;

export const updateDeviceInput = z
  .object({
    kind: deviceKind.optional(),
    description: description.optional(),
    idleRelease: durationInput('idleRelease').optional(),
    maxHold: durationInput('maxHold').nullable().optional().describe('null removes the maximum'),
  })
  .strict();
export type UpdateDeviceInput = z.infer<typeof updateDeviceInput>;

export const reserveInput = z
  .object({ for: durationInput('for').optional().describe('how long to keep it (default: the idle release time); the holder may renew within the maximum') })
  .strict();
export type ReserveInput = z.infer<typeof reserveInput>;

export const breakInput = z
  .object({
    reason: noNul('reason')
      .max(500, 'reason is longer than 500 characters')
      .refine((s) => s.trim() !== '', 'give a reason: it goes to the audit log and is shown to the holder'),
  })
  .strict();
export type BreakInput = z.infer<typeof breakInput>;

export const activityInput = z
  .object({ user: unixName('user name').optional().describe('for agents: whose activity this is (a user reporting may name only themselves)') })
  .strict();
export type ActivityInput = z.infer<typeof activityInput>;
