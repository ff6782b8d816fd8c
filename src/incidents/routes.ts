import { z } from 'zod';
import { authOf } from '../server/auth.ts';
import type { ServerContext } from '../server/context.ts';
import { commonErrors, type ZodApp } from '../server/types.ts';
import { checkInput, incidentSchema, incidentSummarySchema, listQuery, openInput, postmortemInput, reportQuery, resolveInput, updateInput } from './model.ts';
import { renderHtml, renderMarkdown, renderPdf } from './render.ts';

const byId = z.object({ id: z.coerce.number({ error: 'the incident id is a number' }).int().positive('the incident id is a positive number') }).strict();
const byItem = z
  .object({
    id: z.coerce.number({ error: 'the incident id is a number' }).int().positive('the incident id is a positive number'),
    item: z.string().min(1).max(32).describe('1 to 7, or policy, isolate, contact, confirm-fix, tell-affected, root-cause, prevent'),
  })
  .strict();

const CONTENT_TYPES = { md: 'text/markdown; charset=utf-8', html: 'text/html; charset=utf-8', pdf: 'application/pdf' } as const;

export function registerIncidentRoutes(app: ZodApp, ctx: ServerContext): void {
  const { incidents } = ctx;
  const tags = ['incidents'];

  app.get(
    '/api/incidents',
    { schema: { tags, summary: 'Incidents, newest first (any logged-in user)', querystring: listQuery, response: { 200: z.array(incidentSummarySchema), ...commonErrors } } },
    async (request) => {
      const { open, since } = request.query;
      return incidents.list(authOf(request).actor, { open: open === 'true' || open === '1', ...(since !== undefined ? { since } : {}) });
    },
  );
  app.get(
    '/api/incidents/report',
    {
      schema: {
        tags,
        summary: 'The outage report for from ≤ t < to: numbered incidents (period, duration, impact), the total service-impact time (overlaps once), availability per service, causes. format=json|md|html|pdf; tz=an IANA zone for the times shown and the dates\' midnights (default incidents.timeZone, UTC)',
        querystring: reportQuery,
        // No response schema: the body is JSON, Markdown, HTML or PDF bytes, as asked.
      },
    },
    async (request, reply) => {
      const report = await incidents.report(authOf(request).actor, request.query.from, request.query.to, request.query.tz);
      const options = { facility: ctx.settings.facility.name };
      const format = request.query.format;
      const name = `outage-report-${report.from.toISOString().slice(0, 10)}-${report.to.toISOString().slice(0, 10)}`;
      if (format === 'json') return reply.type('application/json; charset=utf-8').send(JSON.stringify(report));
      if (format === 'md') return reply.type(CONTENT_TYPES.md).send(renderMarkdown(report, options));
      if (format === 'html') return reply.type(CONTENT_TYPES.html).send(renderHtml(report, options));
      return reply.type(CONTENT_TYPES.pdf).header('content-disposition', `inline; filename="${name}.pdf"`).send(await renderPdf(report, options));
    },
  );
  app.get(
    '/api/incidents/:id',
    { schema: { tags, summary: 'One incident with its checklist, timeline and postmortem (any logged-in user)', params: byId, response: { 200: incidentSchema, ...commonErrors } } },
    async (request) => incidents.get(authOf(request).actor, request.params.id),
  );
  app.post(
    '/api/incidents',
    { schema: { tags, summary: 'Open an incident (operators; audited)', body: openInput, response: { 201: incidentSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await incidents.open(authOf(request).actor, request.body)),
  );
  app.patch(
    '/api/incidents/:id',
    {
      schema: {
        tags,
        summary: 'Update an incident: status (resolved → investigating reopens it), a message for the timeline, title, severity, services, cause, start/detection/end times (operators; audited)',
        params: byId,
        body: updateInput,
        response: { 200: incidentSchema, ...commonErrors },
      },
    },
    async (request) => incidents.update(authOf(request).actor, request.params.id, request.body),
  );
  app.post(
    '/api/incidents/:id/resolve',
    { schema: { tags, summary: 'Resolve an incident: it ended at `at` (default now) (operators; audited)', params: byId, body: resolveInput.nullish(), response: { 200: incidentSchema, ...commonErrors } } },
    async (request) => incidents.resolve(authOf(request).actor, request.params.id, request.body ?? {}),
  );
  app.post(
    '/api/incidents/:id/checklist/:item',
    { schema: { tags, summary: 'Tick (done: true, the default) or untick a response checklist item (operators; audited)', params: byItem, body: checkInput.nullish(), response: { 200: incidentSchema, ...commonErrors } } },
    async (request) => incidents.check(authOf(request).actor, request.params.id, request.params.item, request.body?.done ?? true),
  );
  app.put(
    '/api/incidents/:id/postmortem',
    { schema: { tags, summary: 'Write or replace the postmortem: what happened, causes, prevention, actions with owner and due date (operators; audited)', params: byId, body: postmortemInput, response: { 200: incidentSchema, ...commonErrors } } },
    async (request) => incidents.setPostmortem(authOf(request).actor, request.params.id, request.body),
  );
}
