import { z } from 'zod';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, type ZodApp } from '../../server/types.ts';
import {
  groupInput,
  groupName,
  groupPatch,
  groupSchema,
  hostInput,
  hostName,
  hostPatch,
  hostSchema,
  serviceInput,
  serviceName,
  servicePatch,
  serviceSchema,
  takeDownInput,
  takeDownSchema,
} from './model.ts';

const ok = z.object({ ok: z.literal(true) });

/** /api/ops/hosts, /api/ops/services, /api/ops/groups and /api/ops/check-takedown (operators). */
export function registerInventoryRoutes(app: ZodApp, ctx: ServerContext): void {
  const { inventory } = ctx;
  const tags = ['inventory'];
  const readOnly = ' Entries from keisan.yaml (source config) are read-only here: 409.';

  // ---- hosts
  const host = z.object({ name: hostName }).strict();
  app.get(
    '/api/ops/hosts',
    { schema: { tags, summary: 'The inventory hosts: roles, addresses, expected MACs, services, groups and health now (operators)', response: { 200: z.array(hostSchema), ...commonErrors } } },
    async (request) => inventory.listHosts(authOf(request).actor),
  );
  app.get(
    '/api/ops/hosts/:name',
    { schema: { tags, summary: 'One inventory host and its health (operators)', params: host, response: { 200: hostSchema, ...commonErrors } } },
    async (request) => inventory.getHost(authOf(request).actor, request.params.name),
  );
  app.post(
    '/api/ops/hosts',
    { schema: { tags, summary: 'Add a host to the inventory (operators; audited)', body: hostInput, response: { 201: hostSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await inventory.addHost(authOf(request).actor, request.body)),
  );
  app.patch(
    '/api/ops/hosts/:name',
    { schema: { tags, summary: `Change a host's roles, addresses, MACs or notes; lists are replaced whole (operators; audited).${readOnly}`, params: host, body: hostPatch, response: { 200: hostSchema, ...commonErrors } } },
    async (request) => inventory.setHost(authOf(request).actor, request.params.name, request.body),
  );
  app.delete(
    '/api/ops/hosts/:name',
    { schema: { tags, summary: `Remove a host no service or group names (operators; audited).${readOnly}`, params: host, response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await inventory.removeHost(authOf(request).actor, request.params.name);
      return { ok: true as const };
    },
  );

  // ---- services
  const service = z.object({ name: serviceName }).strict();
  app.get(
    '/api/ops/services',
    { schema: { tags, summary: 'The inventory services and the hosts that provide them (operators)', response: { 200: z.array(serviceSchema), ...commonErrors } } },
    async (request) => inventory.listServices(authOf(request).actor),
  );
  app.get(
    '/api/ops/services/:name',
    { schema: { tags, summary: 'One inventory service (operators)', params: service, response: { 200: serviceSchema, ...commonErrors } } },
    async (request) => inventory.getService(authOf(request).actor, request.params.name),
  );
  app.post(
    '/api/ops/services',
    { schema: { tags, summary: 'Add a service (operators; audited)', body: serviceInput, response: { 201: serviceSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await inventory.addService(authOf(request).actor, request.body)),
  );
  app.patch(
    '/api/ops/services/:name',
    { schema: { tags, summary: `Change a service (operators; audited).${readOnly}`, params: service, body: servicePatch, response: { 200: serviceSchema, ...commonErrors } } },
    async (request) => inventory.setService(authOf(request).actor, request.params.name, request.body),
  );
  app.delete(
    '/api/ops/services/:name',
    { schema: { tags, summary: `Remove a service no group backs (operators; audited).${readOnly}`, params: service, response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await inventory.removeService(authOf(request).actor, request.params.name);
      return { ok: true as const };
    },
  );

  // ---- redundancy groups
  const group = z.object({ name: groupName }).strict();
  app.get(
    '/api/ops/groups',
    { schema: { tags, summary: 'Redundancy groups: healthy members now against the minimum, OK / AT-RISK / BROKEN (operators)', response: { 200: z.array(groupSchema), ...commonErrors } } },
    async (request) => inventory.listGroups(authOf(request).actor),
  );
  app.get(
    '/api/ops/groups/:name',
    { schema: { tags, summary: 'One redundancy group and its members\' health (operators)', params: group, response: { 200: groupSchema, ...commonErrors } } },
    async (request) => inventory.getGroup(authOf(request).actor, request.params.name),
  );
  app.post(
    '/api/ops/groups',
    { schema: { tags, summary: 'Add a redundancy group (operators; audited)', body: groupInput, response: { 201: groupSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await inventory.addGroup(authOf(request).actor, request.body)),
  );
  app.patch(
    '/api/ops/groups/:name',
    { schema: { tags, summary: `Change a group's members, minimum, service or notes (operators; audited).${readOnly}`, params: group, body: groupPatch, response: { 200: groupSchema, ...commonErrors } } },
    async (request) => inventory.setGroup(authOf(request).actor, request.params.name, request.body),
  );
  app.delete(
    '/api/ops/groups/:name',
    { schema: { tags, summary: `Remove a redundancy group (operators; audited).${readOnly}`, params: group, response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await inventory.removeGroup(authOf(request).actor, request.params.name);
      return { ok: true as const };
    },
  );

  app.post(
    '/api/ops/check-takedown',
    {
      schema: {
        tags,
        summary:
          'Ask before acting: would taking these hosts down leave a redundancy group below its minimum (members already unhealthy do not count), or act on a host while its partner is unhealthy? Changes nothing (operators)',
        body: takeDownInput,
        response: { 200: takeDownSchema, ...commonErrors },
      },
    },
    async (request) => inventory.checkTakeDown(authOf(request).actor, request.body.hosts),
  );
}
