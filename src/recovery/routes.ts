import { z } from 'zod';
import { authOf } from '../server/auth.ts';
import type { ServerContext } from '../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../server/types.ts';
import { eventQuerySchema, recoveryEventSchema } from './events-model.ts';
import { recoveryEventInputSchema } from './model.ts';

/** Recovery events: the watchdogs report with the node secret; users and operators read. */
export function registerRecoveryRoutes(app: ZodApp, ctx: ServerContext): void {
  const tags = ['recovery'];
  app.post(
    '/api/recovery/events',
    {
      // The node secret is checked before the body is looked at.
      config: { public: true },
      onRequest: async (request) => ctx.daemons.verifyNodeSecret(request.headers.authorization),
      schema: {
        tags,
        summary: "A node's watchdog reports what it saw or did (Authorization: Node <secret>)",
        security: [{ node: [] }],
        body: recoveryEventInputSchema,
        response: { 200: z.object({ id: z.number().int() }), 400: errorResponse, 401: errorResponse },
      },
    },
    async (request) => ({ id: (await ctx.recovery.record(request.body)).id }),
  );
  app.get(
    '/api/recovery/events',
    {
      schema: {
        tags,
        summary: "Recovery events, newest first: operators see all, a user those about their own jobs and processes",
        querystring: eventQuerySchema,
        response: { 200: z.array(recoveryEventSchema), ...commonErrors },
      },
    },
    async (request) => ctx.recovery.list(authOf(request).actor, request.query),
  );
  app.get(
    '/api/recovery/events/:id',
    {
      schema: {
        tags,
        summary: 'One recovery event with its numbers, timings and evidence path (404 for one about someone else)',
        params: z.object({ id: z.coerce.number().int().positive() }).strict(),
        response: { 200: recoveryEventSchema, ...commonErrors },
      },
    },
    async (request) => ctx.recovery.get(authOf(request).actor, request.params.id),
  );
}
