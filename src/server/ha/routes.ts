import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { KeisanError } from '../../lib/errors.ts';
import { authOf } from '../auth.ts';
import { commonErrors, type ZodApp } from '../types.ts';
import { ACTIVE_HEADER, ROLE_HEADER } from './follow.ts';
import { standbyError, type StandbyView } from './standby.ts';
import { haStatusSchema, type HaStatus } from './store.ts';

/** What the full server (buildApp) needs from the HA runner while it is the active server. */
export interface HaRuntime {
  /** False from the moment this server lost its lock: it must not act any more (fenced). */
  acting(): boolean;
  /** Acting, and PostgreSQL confirms the lock is still held now (one query on the lock connection). */
  confirm(): Promise<boolean>;
  /** The HA set as this server sees it (self, active, every server). */
  view(): StandbyView;
  /** Every server's row, for operators. */
  status(): Promise<HaStatus>;
}

/** The `ha` part of GET /api/health (absent when the server runs alone). */
export const healthHaSchema = z.object({ role: z.enum(['active', 'standby']), self: z.string(), active: z.string().nullable(), servers: z.array(z.string()) });

export function healthHa(ha: HaRuntime): z.infer<typeof healthHaSchema> {
  const view = ha.view();
  return { role: ha.acting() ? 'active' : 'standby', self: view.self, active: view.active, servers: [...view.servers] };
}

/**
 * A fenced server (it lost the lock, and is closing down to stand by) answers every API request
 * except /api/health like a standby: 503 STANDBY, never a write after another took over.
 */
export function installFence(app: FastifyInstance, ha: HaRuntime): void {
  app.addHook('onRequest', async (request, reply) => {
    if (ha.acting() || request.url === '/api/health' || request.url.startsWith('/api/health?')) return;
    const view = ha.view();
    if (view.active && view.active !== view.self) void reply.header(ACTIVE_HEADER, view.active);
    void reply.header(ROLE_HEADER, 'standby');
    return reply.status(503).type('application/json; charset=utf-8').header('retry-after', '1').send(JSON.stringify(standbyError({ ...view, active: view.active === view.self ? null : view.active })));
  });
}

/** GET /api/admin/ha: every server of the HA set, its role, epoch and heartbeat (operators). */
export function registerHaRoutes(app: ZodApp, ha: HaRuntime | undefined): void {
  app.get(
    '/api/admin/ha',
    {
      schema: {
        tags: ['server'],
        summary: 'The HA set: every keisan server sharing this database, its role (active, standby, stopped), the epoch it took over in, its last heartbeat and since when it is active (operators)',
        response: { 200: haStatusSchema, ...commonErrors },
      },
    },
    async (request) => {
      if (!authOf(request).actor.isOperator) throw new KeisanError('FORBIDDEN', 'only an operator may read the HA status');
      if (!ha) throw new KeisanError('NOT_FOUND', 'this server runs alone (no ha: in keisan.yaml): there is no HA set to show');
      return ha.status();
    },
  );
}
