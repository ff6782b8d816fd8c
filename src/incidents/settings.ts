import { z } from 'zod';
import { canonicalTimeZone } from '../lib/time-zone.ts';
import { IMPACTS, SERVICE_NAME_PATTERN, SERVICE_NAME_RULE, SEVERITIES } from './model.ts';

/**
 * keisan.yaml `incidents:` (optional). `services` are the services the outage report gives an
 * availability for even in a month without incidents (services named by incidents are added);
 * `recovery` and `alerts` set what the hooks open.
 */
export const DEFAULT_SERVICES = ['login', 'batch', 'storage-home', 'storage-archive', 'authentication', 'web'];

export const incidentsSettings = z
  .object({
    services: z.array(z.string().regex(SERVICE_NAME_PATTERN, SERVICE_NAME_RULE)).max(100).default(DEFAULT_SERVICES),
    /** The outage report's time zone (its clock and its midnights) when a request names none. */
    timeZone: z
      .string()
      .refine((zone) => canonicalTimeZone(zone) !== null, { message: 'timeZone must be an IANA time zone such as Asia/Tokyo, Europe/Berlin or UTC' })
      .default('UTC'),
    recovery: z
      .object({
        /** Open an incident when the recovery watchdog kills a job (or the kernel's OOM killer does). */
        enabled: z.boolean().default(true),
        severity: z.enum(SEVERITIES).default('SEV4'),
        service: z.string().regex(SERVICE_NAME_PATTERN, SERVICE_NAME_RULE).default('batch'),
        impact: z.enum(IMPACTS).default('some-jobs-aborted'),
      })
      .strict()
      .default({ enabled: true, severity: 'SEV4', service: 'batch', impact: 'some-jobs-aborted' }),
    alerts: z
      .object({
        /** Open an incident when an alert of severity critical starts firing. */
        enabled: z.boolean().default(true),
        severity: z.enum(SEVERITIES).default('SEV2'),
      })
      .strict()
      .default({ enabled: true, severity: 'SEV2' }),
  })
  .strict();
export type IncidentsSettings = z.output<typeof incidentsSettings>;
