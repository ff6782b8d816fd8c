import { z } from 'zod';
import { invalidInput } from '../../lib/errors.ts';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../../server/types.ts';
import { alertmanagerPayload, alertSchema, notificationSchema, ruleSchema, silenceInput, silenceSchema } from './model.ts';

const STATES = ['active', 'firing', 'pending', 'resolved', 'all'] as const;

export function registerAlertRoutes(app: ZodApp, ctx: ServerContext): void {
  const { alerts } = ctx;
  const tags = ['alerts'];

  app.get(
    '/api/monitor/alerts',
    {
      schema: {
        tags,
        summary: 'Alerts: active (pending and firing) by default; firing, pending, resolved or all — with the silences and alerts that mute each',
        querystring: z
          .object({
            state: z.string().optional().describe(STATES.join(', ')),
            host: z.string().max(255).optional().describe('only alerts of this host'),
            limit: z.coerce.number().int().min(1).max(10_000).default(200),
          })
          .strict(),
        response: { 200: z.array(alertSchema), ...commonErrors },
      },
    },
    async (request) => {
      const state = request.query.state ?? 'active';
      if (!(STATES as readonly string[]).includes(state)) throw invalidInput(`'${state}' is not an alert state: write ${STATES.join(', ')}`);
      const listed = await alerts.list(authOf(request).actor, state as (typeof STATES)[number], request.query.limit);
      const { host } = request.query;
      return host === undefined ? listed : listed.filter((a) => a.labels.host === host || a.labels.instance?.replace(/:\d+$/, '') === host);
    },
  );
  app.get(
    '/api/monitor/rules',
    { schema: { tags, summary: 'The alert rules in effect (defaults and keisan.yaml), with their health', response: { 200: z.array(ruleSchema), ...commonErrors } } },
    async (request) => alerts.listRules(authOf(request).actor),
  );
  app.post(
    '/api/monitor/alerts/validate',
    {
      schema: {
        tags,
        summary: 'Check an alert expression: 200 with its type, or 400 with the position of the error (details: position, line, column, pointer); evaluate: true also evaluates it now (operators)',
        body: z.object({ expr: z.string().max(10_000), evaluate: z.boolean().default(false), limit: z.number().int().min(1).max(10_000).default(100) }).strict(),
        response: {
          200: z.object({
            ok: z.literal(true),
            type: z.string(),
            expr: z.string(),
            result: z.array(z.object({ labels: z.record(z.string(), z.string()), value: z.number().nullable() })).optional(),
            total: z.number().int().optional().describe('samples in the result (result holds at most limit)'),
          }),
          ...commonErrors,
        },
      },
    },
    async (request) => {
      const { actor } = authOf(request);
      return request.body.evaluate ? alerts.evaluateExpr(actor, request.body.expr, request.body.limit) : alerts.validate(request.body.expr);
    },
  );
  app.get(
    '/api/monitor/alerts/notifications',
    {
      schema: {
        tags,
        summary: 'The notification log, newest first: every e-mail, webhook and in-app notice sent for alerts, and whether it was delivered (operators)',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(100) }).strict(),
        response: { 200: z.array(notificationSchema), ...commonErrors },
      },
    },
    async (request) => alerts.notifications(authOf(request).actor, request.query.limit),
  );

  app.get(
    '/api/monitor/silences',
    {
      schema: {
        tags,
        summary: 'Silences in force or scheduled (all=true: expired ones too)',
        querystring: z.object({ all: z.enum(['true', 'false']).optional() }).strict(),
        response: { 200: z.array(silenceSchema), ...commonErrors },
      },
    },
    async (request) => alerts.listSilences(authOf(request).actor, request.query.all === 'true'),
  );
  app.post(
    '/api/monitor/silences',
    { schema: { tags, summary: 'Silence alerts matching every matcher, for a while, with a comment (operators; audited)', body: silenceInput, response: { 201: silenceSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await alerts.addSilence(authOf(request).actor, request.body)),
  );
  app.delete(
    '/api/monitor/silences/:id',
    {
      schema: {
        tags,
        summary: 'End a silence now (operators; audited); it stays listed with --all',
        params: z.object({ id: z.coerce.number().int().min(1) }).strict(),
        response: { 200: silenceSchema, ...commonErrors },
      },
    },
    async (request) => alerts.removeSilence(authOf(request).actor, request.params.id),
  );

  app.post(
    '/api/monitor/alertmanager',
    {
      config: { public: true },
      // Authenticated before the body is looked at.
      onRequest: async (request) => alerts.authenticateAlertmanager(request.headers.authorization),
      bodyLimit: 16 * 1024 * 1024,
      schema: {
        tags,
        summary: "Alertmanager's webhook (payload version 4): its alerts are recorded beside Keisan's and critical ones open incidents. Authorization: Bearer <monitor.alerts.alertmanagerToken or the node secret>",
        security: [{ ticket: [] }, { node: [] }],
        body: alertmanagerPayload,
        response: { 200: z.object({ firing: z.number().int(), resolved: z.number().int() }), 400: errorResponse, 401: errorResponse },
      },
    },
    async (request) => alerts.receiveAlertmanager(request.body),
  );
}
