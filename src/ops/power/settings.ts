import { z } from 'zod';
import { parseDuration } from '../../lib/units.ts';
import { duration } from '../../lib/zod-units.ts';

/**
 * keisan.yaml `power:` (optional; absent = no power monitoring). This module must not import
 * src/lib/config.ts (config.ts imports `powerSettings` from here).
 */

export const DEFAULT_NUT_PORT = 3493;
export const POWER_LOSS_POLICIES = ['requeue', 'checkpoint', 'kill'] as const;
export type PowerLossPolicy = (typeof POWER_LOSS_POLICIES)[number];

export interface UpsAddress {
  /** The UPS's name in upsd's ups.conf, e.g. `dummy`. */
  name: string;
  host: string;
  port: number;
}

const UPS_RULE = 'write the UPS as NAME@HOST[:PORT] as upsc takes it, e.g. myups@localhost or dummy@127.0.0.1:13493 (port default 3493)';

/** Pure: `dummy@127.0.0.1:13493` → name, host, port; `[::1]:3493` for IPv6; throws a message naming the problem. */
export function parseUpsAddress(text: string): UpsAddress {
  const match = /^([A-Za-z0-9_.-]{1,64})@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]{1,253})(?::(\d{1,5}))?$/.exec(text.trim());
  if (!match) throw new Error(`'${text}' is not a UPS address: ${UPS_RULE}`);
  const port = match[3] === undefined ? DEFAULT_NUT_PORT : Number(match[3]);
  if (port < 1 || port > 65535) throw new Error(`'${text}': the port must be 1 to 65535`);
  const host = match[2]!.startsWith('[') ? match[2]!.slice(1, -1) : match[2]!;
  return { name: match[1]!, host, port };
}

const signalName = z
  .string()
  .regex(/^SIG[A-Z0-9]+$/, 'a signal name such as SIGUSR1, SIGTERM or SIGINT')
  .refine((s) => s !== 'SIGKILL' && s !== 'SIGSTOP', 'SIGKILL and SIGSTOP cannot be caught, so a job cannot checkpoint on them: use SIGUSR1, SIGUSR2 or SIGTERM');

export const powerSettings = z
  .object({
    /** Off: the section is kept but nothing is polled. */
    enabled: z.boolean().default(true),
    ups: z
      .string({ error: (issue) => (issue.input === undefined ? `missing: the UPS to watch: ${UPS_RULE}` : `must be a string: ${UPS_RULE}`) })
      .transform((value, ctx) => {
        try {
          return parseUpsAddress(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
          return z.NEVER;
        }
      }),
    /** upsd.users login (optional: reading variables needs none). */
    user: z.string().min(1).max(64).regex(/^[^\s]+$/, 'a user name without spaces').optional(),
    /** A file holding the password (relative paths: the data directory); never the password itself. */
    passwordFile: z.string().min(1).optional(),
    password: z.never('a password never goes in keisan.yaml: put it in a file only the server can read (mode 0600) and name that file in passwordFile').optional(),
    /** How long on battery before the shutdown plan runs (low battery or FSD: at once). */
    gracePeriod: duration.default(parseDuration('3m')),
    /** How often upsd is asked. */
    pollInterval: duration.default(parseDuration('5s')),
    /** One request to upsd may take this long before the UPS counts as unreachable. */
    timeout: duration.default(parseDuration('3s')),
    /** Power the host off at the end of the plan (false: stop Keisan only). */
    shutdownHost: z.boolean().default(true),
    /** Run with /bin/sh -c as the plan's last step. */
    shutdownCommand: z.string().min(1, 'must not be empty: e.g. systemctl poweroff').default('systemctl poweroff'),
    /** What happens to running jobs: per queue, else `default`. */
    jobs: z
      .object({
        default: z.enum(POWER_LOSS_POLICIES, { error: `must be one of ${POWER_LOSS_POLICIES.join(', ')}` }).default('requeue'),
        queues: z.record(z.string().min(1), z.enum(POWER_LOSS_POLICIES, { error: `must be one of ${POWER_LOSS_POLICIES.join(', ')}` })).default({}),
        /** Sent to a job of a `checkpoint` queue; the job is requeued when it ends or after checkpointWait. */
        checkpointSignal: signalName.default('SIGUSR1'),
        checkpointWait: duration.default(parseDuration('30s')),
      })
      .strict()
      .default({ default: 'requeue', queues: {}, checkpointSignal: 'SIGUSR1', checkpointWait: 30_000 }),
  })
  .strict()
  .superRefine((power, ctx) => {
    if (power.user && !power.passwordFile) ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: `user '${power.user}' needs a passwordFile naming the file that holds upsd's password` });
    if (power.passwordFile && !power.user) ctx.addIssue({ code: 'custom', path: ['user'], message: 'passwordFile is given but no user to log in to upsd as' });
    if (power.pollInterval < 500) ctx.addIssue({ code: 'custom', path: ['pollInterval'], message: 'at least 500ms: upsd and the UPS driver update about once a second' });
    if (power.timeout < 100) ctx.addIssue({ code: 'custom', path: ['timeout'], message: 'at least 100ms' });
    if (power.gracePeriod < power.pollInterval) ctx.addIssue({ code: 'custom', path: ['gracePeriod'], message: `must be at least pollInterval (${power.pollInterval} ms): the monitor cannot see a shorter outage` });
  });
export type PowerSettings = z.output<typeof powerSettings>;
export type PowerSettingsInput = z.input<typeof powerSettings>;

/** The policy for a job of `queue`. */
export function policyForQueue(jobs: PowerSettings['jobs'], queue: string): PowerLossPolicy {
  return jobs.queues[queue] ?? jobs.default;
}
