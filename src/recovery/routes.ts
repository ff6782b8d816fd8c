import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { KeisanError } from '../lib/errors.ts';
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
  // The one-use decision link of an operator's e-mail or notice: a small HTML page, no login, no
  // JavaScript. GET only shows; the two buttons POST.
  // Its own scope: the form parser must not reach the API's routes (they answer 415 to forms).
  void app.register(async (scope) => {
    const decide = scope.withTypeProvider<ZodTypeProvider>();
  decide.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))));
  const tokenParams = z.object({ token: z.string().max(200) }).strict();
  decide.get('/recovery/decide/:token', { config: { public: true }, schema: { hide: true, params: tokenParams } }, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').type('text/html; charset=utf-8');
    try {
      const { decision: d, event } = await ctx.recovery.linkView(request.params.token);
      const what = d.jobId !== null ? `job ${d.jobId}` : `process ${d.pid ?? '?'}`;
      const rows: Array<[string, string]> = [
        ['Host', d.host],
        ['Frozen', `${what}${d.user ? ` of ${d.user}` : ''} at ${d.frozenAt}`],
        ['Rule', `${event.rule} (${event.severity})`],
        ['Why', event.explanation],
        ['Why this one', event.victimExplanation],
        ['Approve does', d.proposed],
        ['Deny does', 'thaw it and leave it alone'],
        ['Deadline', `${d.deadline} (then the node falls back on its own)`],
        ...Object.entries(event.metrics).map(([k, v]): [string, string] => [k, String(v)]),
      ];
      const action = `/recovery/decide/${encodeURIComponent(request.params.token)}`;
      return page(
        `Recovery: ${what} on ${d.host} waits for a decision`,
        `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
<form method="post" action="${esc(action)}"><input type="hidden" name="verdict" value="approve"><button type="submit">Approve: ${esc(d.proposed)} ${esc(what)}</button></form>
<form method="post" action="${esc(action)}"><input type="hidden" name="verdict" value="deny"><button type="submit">Deny: thaw ${esc(what)}</button></form>
<p>This link works once, until the deadline.</p>`,
      );
    } catch (error) {
      return linkError(reply, error);
    }
  });
  decide.post('/recovery/decide/:token', { config: { public: true }, schema: { hide: true, params: tokenParams } }, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').type('text/html; charset=utf-8');
    const verdict = (request.body as Record<string, string> | undefined)?.verdict;
    if (verdict !== 'approve' && verdict !== 'deny') {
      reply.code(400);
      return page('Nothing decided', '<p>The form did not say approve or deny. Open the link again and press one of the two buttons.</p>');
    }
    try {
      const d = await ctx.recovery.decideByLink(request.params.token, verdict);
      const what = d.jobId !== null ? `job ${d.jobId}` : `process ${d.pid ?? '?'}`;
      return page(
        verdict === 'approve' ? `Approved: ${d.host} will ${d.proposed} ${what}` : `Denied: ${d.host} will thaw ${what}`,
        `<p>Recorded as ${esc(d.decidedBy ?? '?')} at ${esc(d.decidedAt ?? '?')}. The node acts at its next poll (a few seconds).</p>`,
      );
    } catch (error) {
      return linkError(reply, error);
    }
  });
  });
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>\n`;
}

function linkError(reply: { code(n: number): unknown }, error: unknown): string {
  if (!(error instanceof KeisanError)) throw error;
  const status = error.code === 'NOT_FOUND' ? 404 : error.code === 'CONFLICT' ? 409 : 400;
  reply.code(status);
  const text = error.code === 'NOT_FOUND' ? 'This decision link is not known: it may be mistyped. Use keisan recovery pending instead.' : error.message;
  return page('Nothing decided', `<p>${esc(text)}</p>`);
}

