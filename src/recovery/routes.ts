import { z } from 'zod';
import { authOf } from '../server/auth.ts';
import type { ServerContext } from '../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../server/types.ts';
import { denyBodySchema, eventQuerySchema, pendingDecisionSchema, recoveryEventSchema } from './events-model.ts';
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
  // ---------------------------------------------------------------------------- ask mode
  app.get(
    '/api/recovery/pending',
    {
      schema: {
        tags,
        summary: 'Victims a watchdog froze while an operator decides, oldest first (operators only)',
        response: { 200: z.array(pendingDecisionSchema), ...commonErrors },
      },
    },
    async (request) => ctx.recovery.pending(authOf(request).actor),
  );
  const idParams = z.object({ id: z.coerce.number().int().positive() }).strict();
  app.post(
    '/api/recovery/events/:id/approve',
    {
      schema: {
        tags,
        summary: 'Approve the proposed action of a pending event (operators only; once, before the deadline: else 409)',
        params: idParams,
        response: { 200: pendingDecisionSchema, ...commonErrors },
      },
    },
    async (request) => ctx.recovery.decide(authOf(request).actor, request.params.id, 'approve', null),
  );
  app.post(
    '/api/recovery/events/:id/deny',
    {
      schema: {
        tags,
        summary: 'Deny a pending event: the node thaws the victim and leaves it alone (operators only; once, before the deadline)',
        params: idParams,
        body: denyBodySchema.optional(),
        response: { 200: pendingDecisionSchema, ...commonErrors },
      },
    },
    async (request) => ctx.recovery.decide(authOf(request).actor, request.params.id, 'deny', request.body?.reason ?? null),
  );
  app.get(
    '/api/recovery/decisions',
    {
      config: { public: true },
      onRequest: async (request) => ctx.daemons.verifyNodeSecret(request.headers.authorization),
      schema: {
        tags,
        summary: "A node's watchdog asks for the operators' decisions on its pending keys (Authorization: Node <secret>)",
        security: [{ node: [] }],
        querystring: z.object({ host: z.string().min(1).max(255), keys: z.string().max(20_000) }).strict(),
        response: {
          200: z.array(z.object({ key: z.string(), decision: z.enum(['approved', 'denied']), by: z.string(), at: z.string(), reason: z.string().nullable() })),
          400: errorResponse,
          401: errorResponse,
        },
      },
    },
    async (request) => ctx.recovery.decisionsFor(request.query.host, request.query.keys.split(',').filter(Boolean).slice(0, 500)),
  );
}
