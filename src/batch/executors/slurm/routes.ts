import { z } from 'zod';
import { authOf } from '../../../server/auth.ts';
import { commonErrors, errorResponse, type ZodApp } from '../../../server/types.ts';
import type { SlurmAdminService } from './sync.ts';

/** A change as the API shows it: its kind and fields (see sync-plan.ts SyncEffect), the words and the exact sacctmgr line. */
const changeSchema = z.looseObject({
  kind: z.string(),
  summary: z.string(),
  args: z.array(z.string()).describe("sacctmgr's arguments after -i"),
  command: z.string().describe('the exact command line'),
});

const planSchema = z.object({
  cluster: z.string(),
  rootAccount: z.string(),
  changes: z.array(changeSchema),
  cannotExpress: z.array(z.string()).describe('Keisan rules SLURM has no equivalent for, with what to do by hand'),
});

const syncResultSchema = z.object({
  cluster: z.string(),
  applied: z.array(changeSchema),
  remaining: z.array(changeSchema).describe('what a fresh read of SLURM still differs in: empty when the sync took'),
  cannotExpress: z.array(z.string()),
});

const importResultSchema = z.object({
  cluster: z.string(),
  from: z.string(),
  to: z.string(),
  seen: z.number().int(),
  imported: z.number().int(),
  keisanJobs: z.number().int(),
  notEnded: z.number().int(),
});

const previewQuery = z.object({ conf: z.string().min(1).max(4096).optional().describe("absolute path of a slurm.conf on the server to preview against (default: batch.slurm.conf)") }).strict();
const importBody = z
  .object({
    from: z.string().max(64).optional().describe('a date (midnight UTC) or an ISO time with its zone; default: 7 days before to'),
    to: z.string().max(64).optional().describe('default: now'),
  })
  .strict();

const slurmErrors = { ...commonErrors, 503: errorResponse.describe('SLURM (slurmctld or slurmdbd) could not be reached') } as const;

/** `keisan admin slurm …` over the API: operators only; applying and importing are audited. */
export function registerSlurmRoutes(app: ZodApp, slurm: SlurmAdminService): void {
  const tags = ['slurm'];
  app.get(
    '/api/admin/slurm/sync',
    { schema: { tags, summary: "What keisan admin slurm sync would change in SLURM's accounts, associations and QOS, and what SLURM cannot express (operators; changes nothing)", querystring: previewQuery, response: { 200: planSchema, ...slurmErrors } } },
    async (request) => slurm.preview(authOf(request).actor, request.query.conf !== undefined ? { conf: request.query.conf } : {}),
  );
  app.post(
    '/api/admin/slurm/sync',
    { schema: { tags, summary: "Apply the sync with sacctmgr -i, then read SLURM again; `remaining` lists what still differs (operators; audited; needs batch.executor: slurm)", response: { 200: syncResultSchema, ...slurmErrors } } },
    async (request) => slurm.apply(authOf(request).actor),
  );
  app.post(
    '/api/admin/slurm/import-usage',
    { schema: { tags, summary: 'Import the usage of jobs run on SLURM outside Keisan (sacct) for from ≤ t < to into slurm_usage; re-importing updates (operators; audited)', body: importBody.nullish(), response: { 200: importResultSchema, ...slurmErrors } } },
    async (request) => slurm.importUsage(authOf(request).actor, { ...(request.body?.from !== undefined ? { from: request.body.from } : {}), ...(request.body?.to !== undefined ? { to: request.body.to } : {}) }),
  );
}
