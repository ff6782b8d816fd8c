import { z } from 'zod';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, type ZodApp } from '../../server/types.ts';
import { gapSchema, runbookInput, runbookName, runbookSchema, testedInput } from './model.ts';

/** /api/ops/runbooks (operators). */
export function registerRunbookRoutes(app: ZodApp, ctx: ServerContext): void {
  const { runbooks } = ctx;
  const tags = ['runbooks'];
  const byName = z.object({ name: runbookName }).strict();
  app.get(
    '/api/ops/runbooks',
    { schema: { tags, summary: 'Every recovery runbook with its service and when it was last tested (operators)', response: { 200: z.array(runbookSchema), ...commonErrors } } },
    async (request) => runbooks.list(authOf(request).actor),
  );
  app.get(
    '/api/ops/runbooks/gaps',
    {
      schema: {
        tags,
        summary: 'Critical inventory services without a runbook tested within `days` (default keisan.yaml maintenance.runbookTestedWithinDays, 365) (operators)',
        querystring: z.object({ days: z.coerce.number({ error: 'days must be a whole number' }).int('days must be a whole number').min(1, 'days must be at least 1').max(3650).optional() }).strict(),
        response: { 200: z.object({ days: z.number().int(), gaps: z.array(gapSchema) }), ...commonErrors },
      },
    },
    async (request) => runbooks.gaps(authOf(request).actor, request.query.days),
  );
  app.get(
    '/api/ops/runbooks/:name',
    { schema: { tags, summary: 'One runbook with its procedure (operators)', params: byName, response: { 200: runbookSchema, ...commonErrors } } },
    async (request) => runbooks.get(authOf(request).actor, request.params.name),
  );
  app.post(
    '/api/ops/runbooks',
    { schema: { tags, summary: 'Add a runbook for an inventory service: its text (body) or where it lives (location) (operators; audited)', body: runbookInput, response: { 201: runbookSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await runbooks.add(authOf(request).actor, request.body)),
  );
  app.post(
    '/api/ops/runbooks/:name/tested',
    { schema: { tags, summary: 'Record that the runbook was tested, at `at` (default now), by the caller (operators; audited)', params: byName, body: testedInput.nullish(), response: { 200: runbookSchema, ...commonErrors } } },
    async (request) => runbooks.tested(authOf(request).actor, request.params.name, request.body ?? {}),
  );
}
