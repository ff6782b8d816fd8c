import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticated } from '../accounts/service.ts';
import type { AccountsService } from '../accounts/service.ts';
import { KeisanError } from '../lib/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, resolved from the ticket; null on public routes. */
    auth: Authenticated | null;
  }
  interface FastifyContextConfig {
    /** No ticket needed (health, login, OpenAPI, node daemons with their own secret). */
    public?: boolean;
  }
}

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * Every /api route needs a valid ticket unless it is marked `config: { public: true }`:
 * secure by default, so a new route cannot be left open by forgetting a check.
 */
export function installAuthentication(app: FastifyInstance, accounts: AccountsService): void {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.public || !request.routeOptions.url) return;
    const header = request.headers.authorization;
    const match = header ? BEARER.exec(header) : null;
    if (!match) {
      throw new KeisanError('NOT_AUTHENTICATED', 'this needs a ticket: run `keisan login` (send it as "Authorization: Bearer <ticket>")');
    }
    request.auth = await accounts.authenticate(match[1]!, request.ip);
  });
}

/** The authenticated caller of a route that is not public. */
export function authOf(request: FastifyRequest): Authenticated {
  if (!request.auth) throw new KeisanError('NOT_AUTHENTICATED', 'this needs a ticket: run `keisan login`');
  return request.auth;
}
