import { z } from 'zod';
import { noNul } from '../../accounts/model.ts';
import { LABEL_PATTERN, serviceName } from '../inventory/model.ts';

/**
 * Runbooks (issue 7): the recovery procedure of a service — its text, or where it lives (a path
 * or URL) — with the date it was last tested and by whom. Maintenance plans name the runbook they
 * rely on; `gaps` lists the critical services without a runbook tested recently.
 */

export const runbookName = z
  .string({ error: 'runbook name must be a string' })
  .trim()
  .toLowerCase()
  .regex(LABEL_PATTERN, 'runbook name is not valid: a-z, 0-9 and -, not starting or ending with -, at most 63 characters (e.g. management-recovery)');

const timestamp = z.string().describe('ISO-8601 UTC time');

export const runbookSchema = z.object({
  name: z.string(),
  service: z.string(),
  body: z.string(),
  location: z.string().nullable(),
  lastTestedAt: timestamp.nullable(),
  testedBy: z.string().nullable(),
  createdBy: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type Runbook = z.infer<typeof runbookSchema>;

const location = noNul('location')
  .max(2000, 'location is longer than 2000 characters')
  .refine((s) => s.startsWith('/') || /^https?:\/\/\S+$/.test(s), 'location must be an absolute path (/srv/runbooks/mgmt.md) or an http(s) URL');
const testedAt = z.iso.datetime({ offset: true, error: 'testedAt must be an ISO-8601 time such as 2026-11-01T10:00:00Z' });

export const runbookInput = z
  .object({
    name: runbookName,
    service: serviceName,
    body: noNul('body').max(200_000, 'body is longer than 200000 characters').default(''),
    location: location.optional(),
    testedAt: testedAt.optional().describe('when it was last tested (a test done before it was recorded here)'),
  })
  .strict()
  .refine((r) => r.body.trim() !== '' || r.location !== undefined, 'a runbook needs its procedure: body (the text) or location (a path or URL)');
export type RunbookInput = z.input<typeof runbookInput>;

export const testedInput = z.object({ at: testedAt.optional().describe('default: now'), note: noNul('note').max(2000).optional() }).strict();

export const gapSchema = z.object({
  service: z.string(),
  reason: z.string(),
  runbooks: z.array(z.object({ name: z.string(), lastTestedAt: timestamp.nullable() })),
});
export type RunbookGap = z.infer<typeof gapSchema>;

/**
 * Critical services without a runbook tested within `days` of now: a service with no runbook, or
 * whose runbooks were never tested or last tested too long ago.
 */
export function runbookGaps(critical: readonly string[], runbooks: readonly Pick<Runbook, 'name' | 'service' | 'lastTestedAt'>[], days: number, now: Date): RunbookGap[] {
  const since = now.getTime() - days * 86_400_000;
  const gaps: RunbookGap[] = [];
  for (const service of [...critical].sort()) {
    const mine = runbooks.filter((r) => r.service === service);
    const fresh = mine.filter((r) => r.lastTestedAt !== null && new Date(r.lastTestedAt).getTime() >= since);
    if (fresh.length > 0) continue;
    const tested = mine.filter((r) => r.lastTestedAt !== null).sort((a, b) => (a.lastTestedAt! < b.lastTestedAt! ? 1 : -1));
    const reason =
      mine.length === 0
        ? 'no runbook'
        : tested.length === 0
          ? `runbook ${mine.map((r) => r.name).join(', ')} never tested`
          : `runbook last tested ${tested[0]!.lastTestedAt!.slice(0, 10)} (${tested[0]!.name}), more than ${days} days ago`;
    gaps.push({ service, reason, runbooks: mine.map((r) => ({ name: r.name, lastTestedAt: r.lastTestedAt })) });
  }
  return gaps;
}
