import { serverUrlOf } from '../../lib/config.ts';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, type ZodApp } from '../../server/types.ts';
import { z } from 'zod';
import { explainSchema, historyQuery, historySchema, publicIncidentSchema, statusPageSchema } from './model.ts';
import { renderAtom, renderIncidentHtml, renderRss, renderStatusHtml } from './render.ts';

/**
 * The public status page: no ticket needed (config.public), nothing private in it (model.ts).
 * /status (HTML, no script), /status.json and /api/status (the same JSON), /status/feed.atom and
 * /status/feed.rss; /api/status/explain is for operators (why each state, naming hosts).
 */
export function registerStatusRoutes(app: ZodApp, ctx: ServerContext): void {
  const { status } = ctx;
  const tags = ['status'];
  const publicRoute = { config: { public: true } } as const;
  const links = { atom: '/status/feed.atom', rss: '/status/feed.rss', json: '/status.json' };
  const feed = () => ({ baseUrl: (ctx.settings.status.publicUrl ?? serverUrlOf(ctx.settings)).replace(/\/+$/, ''), facility: ctx.settings.facility.name });
  // Shared caches may keep it briefly; the states are evaluated on each request anyway.
  const CACHE = 'public, max-age=15';
  // The pages need nothing but their own inline style: anything injected could not run or load.
  const CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  const json = {
    ...publicRoute,
    schema: { tags, summary: 'The status page as JSON: components and states, current and recent incidents with their public updates, maintenance, 90-day uptime (public)', security: [], response: { 200: statusPageSchema, ...commonErrors } },
  };
  app.get('/api/status', json, async (_request, reply) => reply.header('cache-control', CACHE).send((await status.view()).page));
  // The pages and feeds outside /api are left out of the OpenAPI document (their /api twins are in it).
  app.get('/status.json', { ...json, schema: { ...json.schema, hide: true } }, async (_request, reply) => reply.header('cache-control', CACHE).send((await status.view()).page));

  app.get('/status', { ...publicRoute, schema: { hide: true, tags, summary: 'The status page (HTML, no JavaScript; public)', security: [] } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', CACHE).header('content-security-policy', CSP).send(renderStatusHtml((await status.view()).page, links)),
  );
  const byId = z.object({ id: z.coerce.number({ error: 'the incident id is a number' }).int().positive('the incident id is a positive number') }).strict();
  app.get(
    '/api/status/incidents/:id',
    { ...publicRoute, schema: { tags, summary: 'One incident as the status page shows it: title, status, impact, period, public updates (public; 404 for one not on the page)', security: [], params: byId, response: { 200: publicIncidentSchema, ...commonErrors } } },
    async (request, reply) => reply.header('cache-control', CACHE).send(await status.incident(request.params.id)),
  );
  app.get('/status/incidents/:id', { ...publicRoute, schema: { hide: true, tags, summary: 'One incident\'s page (HTML; public; the feeds link here)', security: [], params: byId } }, async (request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', CACHE)
      .header('content-security-policy', CSP)
      .send(renderIncidentHtml(await status.incident(request.params.id), status.title, { ...links, json: `/api/status/incidents/${request.params.id}` })),
  );
  app.get('/status/', { ...publicRoute, schema: { hide: true } }, async (_request, reply) => reply.redirect('/status', 301));
  app.get('/status/feed.atom', { ...publicRoute, schema: { hide: true, tags, summary: 'Incidents and maintenance as an Atom 1.0 feed (public)', security: [] } }, async (_request, reply) =>
    reply.type('application/atom+xml; charset=utf-8').header('cache-control', CACHE).send(renderAtom(await status.view(), feed())),
  );
  app.get('/status/feed.rss', { ...publicRoute, schema: { hide: true, tags, summary: 'Incidents and maintenance as an RSS 2.0 feed (public)', security: [] } }, async (_request, reply) =>
    reply.type('application/rss+xml; charset=utf-8').header('cache-control', CACHE).send(renderRss(await status.view(), feed())),
  );

  app.get(
    '/api/status/explain',
    { schema: { tags, summary: 'Why each component is in its state: the incidents, groups, hosts, alerts, checks and maintenance behind it (operators)', response: { 200: explainSchema, ...commonErrors } } },
    async (request) => status.explain(authOf(request).actor),
  );
  app.get(
    '/api/status/history',
    { schema: { tags, summary: 'The recorded state changes of the components, newest first: since (7d or an ISO time), component (operators)', querystring: historyQuery, response: { 200: historySchema, ...commonErrors } } },
    async (request) => status.history(authOf(request).actor, request.query),
  );
}
