import { z } from 'zod';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../../server/types.ts';
import { hostName } from '../inventory/model.ts';
import {
  agentResultInput,
  agentWorkSchema,
  approveInput,
  cancelInput,
  executeInput,
  planInput,
  planPatch,
  planSchema,
  planSummarySchema,
  rejectInput,
  STATES,
  stepRunSchema,
  type PlanState,
} from './model.ts';

const id = z.coerce.number({ error: 'the plan id must be a number' }).int('the plan id must be a whole number').min(1, 'the plan id must be at least 1').max(2_147_483_647);
const byId = z.object({ id }).strict();
const byStep = z.object({ id, step: z.coerce.number({ error: 'the step must be a number' }).int().min(1, 'steps are numbered from 1').max(1000) }).strict();
const byRun = z.object({ id, run: z.coerce.number({ error: 'the run id must be a number' }).int().min(1).max(2_147_483_647) }).strict();
const stepAnswer = z.object({ run: stepRunSchema, plan: planSummarySchema });

/** /api/ops/maint/plans… (operators) and /api/ops/maint/agent-work (agents, with the node secret). */
export function registerMaintenanceRoutes(app: ZodApp, ctx: ServerContext): void {
  const { maintenance } = ctx;
  const tags = ['maintenance'];

  app.get(
    '/api/ops/maint/plans',
    {
      schema: {
        tags,
        summary: 'Maintenance plans, latest window first; state=a,b filters (operators)',
        querystring: z
          .object({
            state: z
              .string()
              .max(200)
              .refine((s) => s.split(',').every((x) => (STATES as readonly string[]).includes(x.trim())), `state must be one or more of ${STATES.join(', ')}, comma-separated`)
              .optional(),
          })
          .strict(),
        response: { 200: z.array(planSummarySchema), ...commonErrors },
      },
    },
    async (request) => {
      const states = request.query.state?.split(',').map((s) => s.trim() as PlanState);
      return maintenance.list(authOf(request).actor, states ? { states } : {});
    },
  );
  app.get(
    '/api/ops/maint/plans/:id',
    { schema: { tags, summary: 'One plan: its steps, approvals (valid or why not), step runs with their output (operators)', params: byId, response: { 200: planSchema, ...commonErrors } } },
    async (request) => maintenance.get(authOf(request).actor, request.params.id),
  );
  app.post(
    '/api/ops/maint/plans',
    {
      schema: {
        tags,
        summary: 'Create a plan (a draft): targets must be inventory hosts, the runbook must exist, and it may not take down a redundancy group below its minimum (operators; audited)',
        body: planInput,
        response: { 201: planSchema, ...commonErrors },
      },
    },
    async (request, reply) => reply.code(201).send(await maintenance.create(authOf(request).actor, request.body)),
  );
  app.patch(
    '/api/ops/maint/plans/:id',
    { schema: { tags, summary: 'Edit a plan: the fields given replace the old ones; approvals are void and the plan is a draft again (operators; audited)', params: byId, body: planPatch, response: { 200: planSchema, ...commonErrors } } },
    async (request) => maintenance.edit(authOf(request).actor, request.params.id, request.body),
  );
  app.post(
    '/api/ops/maint/plans/:id/submit',
    { schema: { tags, summary: 'Submit a draft for approval (checked again against the inventory) (operators; audited)', params: byId, response: { 200: planSchema, ...commonErrors } } },
    async (request) => maintenance.submit(authOf(request).actor, request.params.id),
  );
  app.post(
    '/api/ops/maint/plans/:id/approve',
    {
      schema: {
        tags,
        summary: 'Approve the plan as it is now (its content hash); not by its author or editors; one approval, two distinct for high risk (operators; audited)',
        params: byId,
        body: approveInput.nullish(),
        response: { 200: planSchema, ...commonErrors },
      },
    },
    async (request) => maintenance.approve(authOf(request).actor, request.params.id, request.body ?? {}),
  );
  app.post(
    '/api/ops/maint/plans/:id/reject',
    { schema: { tags, summary: 'Reject the plan with a reason: back to draft, approvals void (operators; audited)', params: byId, body: rejectInput, response: { 200: planSchema, ...commonErrors } } },
    async (request) => maintenance.reject(authOf(request).actor, request.params.id, request.body),
  );
  app.post(
    '/api/ops/maint/plans/:id/cancel',
    { schema: { tags, summary: 'Cancel the plan; command steps not yet picked up are withdrawn (operators; audited)', params: byId, body: cancelInput.nullish(), response: { 200: planSchema, ...commonErrors } } },
    async (request) => maintenance.cancel(authOf(request).actor, request.params.id, request.body ?? {}),
  );
  app.post(
    '/api/ops/maint/plans/:id/start',
    { schema: { tags, summary: 'Start (or, after a halt and re-approval, resume) an approved plan inside its window (operators; audited)', params: byId, response: { 200: planSchema, ...commonErrors } } },
    async (request) => maintenance.start(authOf(request).actor, request.params.id),
  );
  app.post(
    '/api/ops/maint/plans/:id/steps/:step',
    {
      schema: {
        tags,
        summary:
          "Run the next step: confirmHost must be its target host's name; the redundancy guard must allow it. Manual steps take result ok|failed; command steps are queued for the agent on the host — follow the run (operators; audited)",
        params: byStep,
        body: executeInput,
        response: { 200: stepAnswer, ...commonErrors },
      },
    },
    async (request) => maintenance.execute(authOf(request).actor, request.params.id, request.params.step, request.body),
  );
  app.get(
    '/api/ops/maint/plans/:id/runs/:run',
    { schema: { tags, summary: "A step run: queued, running (the agent took it), passed or failed, with the command's output (operators)", params: byRun, response: { 200: stepAnswer, ...commonErrors } } },
    async (request) => maintenance.getRun(authOf(request).actor, request.params.id, request.params.run),
  );

  // ---- the agent on each host (Authorization: Node <secret>)
  app.get(
    '/api/ops/maint/agent-work',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'The command steps queued for this host, handed to its agent (they are then running) (Authorization: Node <secret>)',
        security: [{ node: [] }],
        querystring: z.object({ host: hostName }).strict(),
        response: { 200: z.array(agentWorkSchema), 400: errorResponse, 401: errorResponse },
      },
    },
    async (request) => {
      ctx.daemons.verifyNodeSecret(request.headers.authorization);
      return maintenance.agentWork(request.query.host);
    },
  );
  app.post(
    '/api/ops/maint/agent-work/:run',
    {
      config: { public: true },
      schema: {
        tags,
        summary: "The agent's result of a command step; compared with the step's expected result — a difference halts the plan (Authorization: Node <secret>)",
        security: [{ node: [] }],
        params: z.object({ run: z.coerce.number().int().min(1).max(2_147_483_647) }).strict(),
        body: agentResultInput,
        response: { 200: stepRunSchema, 400: errorResponse, 401: errorResponse, 403: errorResponse, 404: errorResponse, 409: errorResponse },
      },
    },
    async (request) => {
      ctx.daemons.verifyNodeSecret(request.headers.authorization);
      return maintenance.agentResult(request.params.run, request.body);
    },
  );
}
