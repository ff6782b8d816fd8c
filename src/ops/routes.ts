import { z } from 'zod';
import { forbidden } from '../lib/errors.ts';
import { authOf } from '../server/auth.ts';
import type { ServerContext } from '../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../server/types.ts';
import { authorize } from '../accounts/policy.ts';
import { daemonSchema, heartbeatInput, registerDaemonInput } from './daemons.ts';

// Daemon ids are 32-bit integers in PostgreSQL: a larger number is no id at all.
const daemonId = z.object({ id: z.coerce.number().int().min(1).max(2_147_483_647) }).strict();
const heartbeatReply = z.object({ id: z.number().int(), heartbeatIntervalSeconds: z.number().int() });

export function registerDaemonRoutes(app: ZodApp, ctx: ServerContext): void {
  const { daemons } = ctx;
  const nodeSecurity = [{ node: [] }];

  app.post(
    '/api/daemons/register',
    {
      config: { public: true },
      schema: {
        tags: ['daemons'],
        summary: 'An agent or watchdog registers (Authorization: Node <secret>)',
        security: nodeSecurity,
        body: registerDaemonInput,
        response: { 200: heartbeatReply, 400: errorResponse, 401: errorResponse },
      },
    },
    async (request) => {
      daemons.verifyNodeSecret(request.headers.authorization);
      const daemon = await daemons.register(request.body);
      request.log.info({ daemon: daemon.id, kind: daemon.kind, host: daemon.host, pid: daemon.pid }, 'daemon registered');
      return { id: daemon.id, heartbeatIntervalSeconds: daemons.heartbeatIntervalSeconds };
    },
  );

  app.post(
    '/api/daemons/:id/heartbeat',
    {
      config: { public: true },
      schema: {
        tags: ['daemons'],
        summary: 'A registered daemon reports it is alive',
        security: nodeSecurity,
        params: daemonId,
        body: heartbeatInput,
        response: { 200: heartbeatReply, 400: errorResponse, 401: errorResponse, 404: errorResponse },
      },
    },
    async (request) => {
      daemons.verifyNodeSecret(request.headers.authorization);
      const daemon = await daemons.heartbeat(request.params.id, request.body.pid, request.body.info);
      return { id: daemon.id, heartbeatIntervalSeconds: daemons.heartbeatIntervalSeconds };
    },
  );

  app.post(
    '/api/daemons/:id/stopped',
    {
      config: { public: true },
      schema: {
        tags: ['daemons'],
        summary: 'A daemon says it is stopping cleanly',
        security: nodeSecurity,
        params: daemonId,
        body: heartbeatInput,
        response: { 200: z.object({ ok: z.literal(true) }), 400: errorResponse, 401: errorResponse },
      },
    },
    async (request) => {
      daemons.verifyNodeSecret(request.headers.authorization);
      await daemons.stopped(request.params.id, request.body.pid);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/daemons',
    { schema: { tags: ['daemons'], summary: 'The facility daemons and whether they are up (operators)', response: { 200: z.array(daemonSchema), ...commonErrors } } },
    async (request) => {
      const decision = authorize(authOf(request).actor, { kind: 'daemons.read' });
      if (!decision.allowed) throw forbidden(decision.reason);
      return daemons.list();
    },
  );
}
