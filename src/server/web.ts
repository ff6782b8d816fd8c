import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PageFallback } from './errors.ts';

/** Where `npm run build:web` (run by `npm ci`) writes the web UI. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** A browser asks for a page (Accept: text/html); API clients and tools get the JSON 404. */
function wantsPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const pathname = request.url.split('?')[0]!;
  if (pathname === '/api' || pathname.startsWith('/api/') || pathname.startsWith('/assets/')) return false;
  return String(request.headers.accept ?? '').includes('text/html');
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Keisan</title>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto;padding:0 1rem">
<h1>Keisan's web UI is not built</h1>
<p>This copy of Keisan has no <code>web/dist</code>. Build it with <code>npm run build:web</code> (<code>npm ci</code> does it too) and reload.</p>
<p>The API is at <a href="/api/openapi.json">/api/openapi.json</a> and the public status page at <a href="/status">/status</a>.</p></body></html>`;

/**
 * Serves the React dashboard: its hashed assets cached for a year, and index.html (never cached,
 * so a new build is picked up at once) for every page address a browser asks for, / included. Returns the
 * fallback the error handler uses for unknown page addresses.
 */
export async function registerWebUi(app: FastifyInstance, dist: string = WEB_DIST): Promise<PageFallback> {
  const indexFile = path.join(dist, 'index.html');
  if (!existsSync(indexFile)) {
    app.log.warn(`the web UI is not built (${indexFile} is missing): run npm run build:web`);
    return (request, reply) => (wantsPage(request) ? reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT) : undefined);
  }
  const index = readFileSync(indexFile);
  await app.register(async (scope) => {
    // The UI's code is public like the login page; what it shows comes from the API, behind tickets.
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object | undefined), public: true };
    });
    await scope.register(fastifyStatic, {
      root: path.join(dist, 'assets'),
      prefix: '/assets/',
      wildcard: false,
      index: false,
      immutable: true,
      maxAge: '365d',
      // scripts/compress-web.js wrote .br and .gz copies at build time.
      preCompressed: true,
      schemaHide: true,
    });
  });
  const page = (reply: FastifyReply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(index);
  return (request, reply) => (wantsPage(request) ? page(reply.code(200)) : undefined);
}
