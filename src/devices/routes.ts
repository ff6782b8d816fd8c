import { z } from 'zod';
import { KeisanError } from '../lib/errors.ts';
import { authOf } from '../server/auth.ts';
import type { ServerContext } from '../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../server/types.ts';
import { activityInput, breakInput, createDeviceInput, deviceName, deviceSchema, reserveInput, updateDeviceInput } from './model.ts';

const named = z.object({ name: deviceName }).strict();
const ok = z.object({ ok: z.literal(true) });
const BEARER = /^Bearer\s+(\S+)$/i;

export function registerDeviceRoutes(app: ZodApp, ctx: ServerContext): void {
  const { devices } = ctx;
  const tags = ['devices'];

  app.get(
    '/api/devices',
    { schema: { tags, summary: 'The shared devices and who holds them: free, reserved by X until T, or in use', response: { 200: z.array(deviceSchema), 401: errorResponse } } },
    async (request) => devices.list(authOf(request).actor),
  );
  app.get(
    '/api/devices/:name',
    { schema: { tags, summary: 'One device and its reservation', params: named, response: { 200: deviceSchema, ...commonErrors } } },
    async (request) => devices.get(authOf(request).actor, request.params.name),
  );
  app.post(
    '/api/devices',
    { schema: { tags, summary: 'Add a shared device (operators)', body: createDeviceInput, response: { 201: deviceSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await devices.create(authOf(request).actor, request.body)),
  );
  app.patch(
    '/api/devices/:name',
    { schema: { tags, summary: "Change a device's kind, description, idle release or maximum hold time (operators)", params: named, body: updateDeviceInput, response: { 200: deviceSchema, ...commonErrors } } },
    async (request) => devices.update(authOf(request).actor, request.params.name, request.body),
  );
  app.delete(
    '/api/devices/:name',
    { schema: { tags, summary: 'Remove a device that nobody holds (operators)', params: named, response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await devices.remove(authOf(request).actor, request.params.name);
      return { ok: true as const };
    },
  );

  app.post(
    '/api/devices/:name/reserve',
    {
      schema: {
        tags,
        summary: 'Reserve a free device, or renew your own reservation (within its maximum hold time); 409 names the holder and when it frees up',
        params: named,
        // No body at all is fine: Fastify passes null.
        body: reserveInput.nullish(),
        response: { 200: deviceSchema, ...commonErrors },
      },
    },
    async (request) => devices.reserve(authOf(request).actor, request.params.name, request.body ?? {}),
  );
  app.post(
    '/api/devices/:name/release',
    { schema: { tags, summary: 'Give back a device you hold', params: named, response: { 200: deviceSchema, ...commonErrors } } },
    async (request) => devices.release(authOf(request).actor, request.params.name),
  );
  app.post(
    '/api/devices/:name/break',
    { schema: { tags, summary: "End someone's reservation, with a reason (operators; audited)", params: named, body: breakInput, response: { 200: deviceSchema, ...commonErrors } } },
    async (request) => devices.breakReservation(authOf(request).actor, request.params.name, request.body.reason),
  );

  app.post(
    '/api/devices/:name/activity',
    {
      // Users' tools send their ticket, agents the node secret: this route checks either itself,
      // before the body is looked at.
      config: { public: true },
      onRequest: async (request) => {
        const header = request.headers.authorization;
        if (header && /^Node\s/i.test(header)) {
          ctx.daemons.verifyNodeSecret(header);
          return;
        }
        const bearer = header ? BEARER.exec(header) : null;
        if (!bearer) {
          throw new KeisanError('NOT_AUTHENTICATED', 'this needs a ticket (run `keisan login`), or for agents "Authorization: Node <secret>"');
        }
        request.auth = await ctx.accounts.authenticate(bearer[1]!, request.ip);
      },
      schema: {
        tags,
        summary: "Report activity on a device, which keeps its holder's reservation alive (the holder's ticket, or an agent's node secret)",
        security: [{ ticket: [] }, { node: [] }],
        params: named,
        body: activityInput.nullish(),
        response: { 200: deviceSchema, ...commonErrors },
      },
    },
    async (request) => {
      const source = request.auth ? { kind: 'user' as const, actor: request.auth.actor } : { kind: 'agent' as const };
      return devices.reportActivity(source, request.params.name, request.body ?? {});
    },
  );
}
