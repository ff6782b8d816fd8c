import { z } from 'zod';
import { unixName } from '../../accounts/model.ts';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../../server/types.ts';
import { areasListingSchema, areaUsageSchema, libraryWriterSchema, syncReportSchema, writerChangeSchema, writerInput } from './model.ts';

const scope = z
  .object({
    all: z
      .enum(['true', 'false', '1', '0'])
      .optional()
      .describe('also the areas you administer (operators: every area)'),
  })
  .strict();
const isAll = (value: string | undefined) => value === 'true' || value === '1';

export function registerAreaRoutes(app: ZodApp, ctx: ServerContext): void {
  const { areas } = ctx;
  const tags = ['areas'];

  app.get(
    '/api/areas',
    {
      schema: {
        tags,
        summary: 'Your areas — home (private/, public/), your subgroups\' group areas, your workgroups\' libraries — with paths, who can read what, and usage',
        querystring: scope,
        response: { 200: areasListingSchema, 400: errorResponse, 401: errorResponse },
      },
    },
    async (request) => areas.list(authOf(request).actor, isAll(request.query.all)),
  );
  app.get(
    '/api/areas/usage',
    { schema: { tags, summary: 'The last measured usage of your areas (with all: also those you administer)', querystring: scope, response: { 200: z.array(areaUsageSchema), 400: errorResponse, 401: errorResponse } } },
    async (request) => areas.usage(authOf(request).actor, isAll(request.query.all)),
  );

  app.post(
    '/api/admin/areas/sync',
    { schema: { tags, summary: 'Create missing areas and fix modes and ACLs that drifted; never deletes (operators; audited)', response: { 200: syncReportSchema, ...commonErrors, 503: errorResponse } } },
    async (request) => areas.sync(authOf(request).actor),
  );
  app.post(
    '/api/admin/areas/usage',
    { schema: { tags, summary: 'Measure the usage of every area now, and send the soft-quota notices that are due (operators)', response: { 200: z.array(areaUsageSchema), ...commonErrors } } },
    async (request) => areas.measure(authOf(request).actor),
  );

  app.get(
    '/api/admin/areas/library-writers',
    {
      schema: {
        tags,
        summary: 'Who may write which workgroup library',
        querystring: z.object({ workgroup: unixName('workgroup name').optional() }).strict(),
        response: { 200: z.array(libraryWriterSchema), ...commonErrors },
      },
    },
    async (request) => areas.listWriters(authOf(request).actor, request.query.workgroup),
  );
  app.post(
    '/api/admin/areas/library-writers',
    { schema: { tags, summary: "Let a user write a workgroup's library (its workgroup admins, operators; audited)", body: writerInput, response: { 201: writerChangeSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await areas.addWriter(authOf(request).actor, request.body)),
  );
  app.delete(
    '/api/admin/areas/library-writers/:workgroup/:user',
    {
      schema: {
        tags,
        summary: "Take away a user's right to write a workgroup's library, on everything already in it too (its workgroup admins, operators; audited)",
        params: writerInput,
        response: { 200: writerChangeSchema, ...commonErrors },
      },
    },
    async (request) => areas.removeWriter(authOf(request).actor, request.params),
  );
}
