import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { KEISAN_VERSION } from '../../lib/version.ts';
import { ACTIVE_HEADER, ROLE_HEADER } from './follow.ts';


/** What a standby says about the HA set. */
export interface StandbyView {
  facility: string;
  self: string;
  /** The active server's URL, when one is known. */
  active: string | null;
  servers: readonly string[];
}

/** The body of every refused API request on a standby: the one error type's shape, code STANDBY. */
export function standbyError(view: StandbyView): { error: { code: 'STANDBY'; message: string; details: { active: string | null; servers: readonly string[] } } } {
  return {
    error: {
      code: 'STANDBY',
      message: view.active
        ? `${view.self} is a standby server; the active one is ${view.active}: send requests there (the CLI and agents follow it by themselves)`
        : `${view.self} is a standby server and no active server is known right now (a takeover may be under way): try again in a few seconds`,
      details: { active: view.active, servers: view.servers },
    },
  };
}

/** GET /api/health of a standby: up, but not serving the facility. */
export function standbyHealth(view: StandbyView, now: Date): Record<string, unknown> {
  return {
    status: 'standby',
    version: KEISAN_VERSION,
    facility: view.facility,
    database: 'postgres',
    time: now.toISOString(),
    ha: { role: 'standby', self: view.self, active: view.active, servers: view.servers },
  };
}

/**
 * The small listener a standby runs on its port instead of the facility: /api/health answers
 * (role standby, the active's address), every other request gets 503 STANDBY with the active
 * server's URL in the body and in X-Keisan-Active. No database access per request.
 */
export async function startStandbyListener(options: { host: string; port: number; https?: { cert: Buffer; key: Buffer }; view: () => StandbyView; now: () => Date }): Promise<{ close(): Promise<void> }> {
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const view = options.view();
    const path = (request.url ?? '/').split('?')[0];
    if (view.active) response.setHeader(ACTIVE_HEADER, view.active);
    response.setHeader(ROLE_HEADER, 'standby');
    response.setHeader('content-type', 'application/json; charset=utf-8');
    response.setHeader('cache-control', 'no-store');
    // No keep-alive: after a takeover a client must reconnect and land on the full server.
    response.setHeader('connection', 'close');
    if (request.method === 'GET' && path === '/api/health') {
      response.statusCode = 200;
      response.end(JSON.stringify(standbyHealth(view, options.now())));
    } else {
      response.statusCode = 503;
      response.setHeader('retry-after', '1');
      response.end(JSON.stringify(standbyError(view)));
    }
    // The request body (if any) is not read: drop it.
    request.resume();
  };
  const server: Server = options.https ? createHttpsServer(options.https, handle) : createHttpServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
