import { z } from 'zod';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../../server/types.ts';
import { hostName } from '../inventory/model.ts';
import { assessedSchema, drainInput, drainSchema, loginCheckAnswer, loginCheckQuery, loginHostAnswer, loginHostQuery } from './model.ts';
import { ANONYMOUS_PER_MINUTE, type LoginHostService } from './service.ts';

const BEARER = /^Bearer\s+(\S+)$/i;
const NODE = /^Node\s+/i;

/**
 * GET /api/login-host (a ticket, the node secret, or anonymous with a rate limit), the pool and
 * drains (operators), and GET /api/auth/login-check for login hosts' pam_exec (the node secret).
 */
export function registerLoginHostRoutes(app: ZodApp, ctx: ServerContext, loginHosts: LoginHostService): void {
  const tags = ['login hosts'];

  app.get(
    '/api/login-host',
    {
      config: { public: true },
      schema: {
        tags,
        summary:
          'One healthy login host for a user: sticky while it stays healthy, else round robin weighted by load; never one down or in maintenance. ' +
          'With a ticket or "Authorization: Node <secret>" the answer lists every login host and why it is in or out; without either it is anonymous, ' +
          `limited to ${ANONYMOUS_PER_MINUTE} requests a minute per address. format=text answers just the address (ssh ProxyCommand, DNS scripts). 503 when none can take users.`,
        security: [{ ticket: [] }, { node: [] }, {}],
        querystring: loginHostQuery,
        response: { 200: z.union([loginHostAnswer, z.string().describe('format=text: the address and a newline, text/plain')]), 400: errorResponse, 401: errorResponse, 429: errorResponse, 503: errorResponse },
      },
    },
    async (request, reply) => {
      const header = request.headers.authorization;
      let detailed = true;
      let user = request.query.user ?? null;
      const bearer = header ? BEARER.exec(header) : null;
      if (bearer) {
        const auth = await ctx.accounts.authenticate(bearer[1]!, request.ip);
        user ??= auth.actor.name;
      } else if (header && NODE.test(header)) {
        ctx.daemons.verifyNodeSecret(header);
      } else {
        loginHosts.anonymous.take(request.ip, ctx.clock.now());
        detailed = false;
      }
      const answer = await loginHosts.choose(user, detailed);
      if (request.query.format === 'text') {
        return reply
          .type('text/plain; charset=utf-8')
          .serializer((payload: unknown) => String(payload))
          .send(`${answer.address}\n`);
      }
      return answer;
    },
  );

  app.get(
    '/api/login-hosts',
    {
      schema: {
        tags,
        summary: 'Every login host (inventory role login): in the pool, standby (degraded) or out, and why; hosts drained by hand (operators)',
        response: { 200: z.object({ hosts: z.array(assessedSchema), drains: z.array(drainSchema) }), ...commonErrors },
      },
    },
    async (request) => loginHosts.pool(authOf(request).actor),
  );

  const byHost = z.object({ host: hostName }).strict();
  app.put(
    '/api/login-hosts/:host/drain',
    {
      schema: {
        tags,
        summary: 'Take a login host out of the pool by hand: no new users are sent to it until undrained; those on it stay (operators; audited)',
        params: byHost,
        body: drainInput,
        response: { 200: drainSchema, ...commonErrors },
      },
    },
    async (request) => loginHosts.drain(authOf(request).actor, request.params.host, request.body.reason),
  );
  app.delete(
    '/api/login-hosts/:host/drain',
    {
      schema: { tags, summary: 'Put a drained login host back into the pool (operators; audited)', params: byHost, response: { 200: z.object({ ok: z.literal(true) }), ...commonErrors } },
    },
    async (request) => {
      await loginHosts.undrain(authOf(request).actor, request.params.host);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/auth/login-check',
    {
      config: { public: true },
      schema: {
        tags,
        summary:
          "May this user open a session from this address (the workgroups' login networks)? For login hosts' pam_exec through `keisan login-check`; a refusal is audited (auth.login-check, denied). Users Keisan does not know are allowed (Authorization: Node <secret>)",
        security: [{ node: [] }],
        querystring: loginCheckQuery,
        response: { 200: loginCheckAnswer, 400: errorResponse, 401: errorResponse },
      },
    },
    async (request) => {
      ctx.daemons.verifyNodeSecret(request.headers.authorization);
      return ctx.accounts.checkLoginFrom(request.query.user, request.query.from, request.query.host ?? null);
    },
  );
}
