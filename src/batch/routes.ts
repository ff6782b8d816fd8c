import { z } from 'zod';
import { parseTimeFilter } from '../accounts/routes.ts';
import { invalidInput } from '../lib/errors.ts';
import { authOf } from '../server/auth.ts';
import type { ServerContext } from '../server/context.ts';
import { commonErrors, type ZodApp } from '../server/types.ts';
import { explainPending } from './explain.ts';
import { JOB_STATES } from './model.ts';
import { submissionPreviewSchema, submitInput, submitResultSchema } from './submission-input.ts';
import { jobSchema, toSchedJob } from './store.ts';

const jobId = z.object({ id: z.coerce.number().int().min(1).max(2_147_483_647) }).strict();
const notificationSchema = z.object({ id: z.number().int(), at: z.string(), kind: z.string(), title: z.string(), body: z.string(), readAt: z.string().nullable() });

export function registerBatchRoutes(app: ZodApp, ctx: ServerContext): void {
  const { batch } = ctx;

  app.post(
    '/api/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Submit a job script (with #SBATCH/#BSUB directives); arrays make one job per task',
        body: submitInput,
        response: { 201: submitResultSchema, ...commonErrors },
      },
    },
    async (request, reply) => reply.code(201).send(await batch.submit(authOf(request).actor, request.body)),
  );

  app.post(
    '/api/jobs/preview',
    {
      schema: {
        tags: ['jobs'],
        summary: 'What a submission would become — directives and options parsed, queue chosen, limits checked — without submitting it (400: the refusal the submit would give)',
        body: submitInput,
        response: { 200: submissionPreviewSchema, ...commonErrors },
      },
    },
    async (request) => batch.previewSubmission(authOf(request).actor, request.body),
  );

  app.get(
    '/api/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'List jobs: your own, or with all=true every job you may see (admins)',
        querystring: z
          .object({
            user: z.string().max(32).optional(),
            all: z.enum(['true', 'false']).default('false'),
            state: z.string().max(200).optional().describe('comma-separated states, e.g. pending,running'),
            queue: z.string().max(32).optional(),
            limit: z.coerce.number().int().min(1).max(100_000).default(1000),
          })
          .strict(),
        response: { 200: z.array(jobSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { state, all, ...rest } = request.query;
      const states = state ? state.split(',').map((s) => s.trim()) : undefined;
      const known = new Set<string>(JOB_STATES);
      const bad = states?.find((s) => !known.has(s));
      if (bad) throw invalidStateError(bad);
      return batch.listJobs(authOf(request).actor, { ...rest, all: all === 'true', ...(states ? { states: states as (typeof JOB_STATES)[number][] } : {}) });
    },
  );

  app.get(
    '/api/jobs/:id',
    { schema: { tags: ['jobs'], summary: 'One job, in full', params: jobId, response: { 200: jobSchema, ...commonErrors } } },
    async (request) => batch.getJob(authOf(request).actor, request.params.id),
  );

  app.post(
    '/api/jobs/:id/cancel',
    { schema: { tags: ['jobs'], summary: 'Cancel a pending or running job', params: jobId, response: { 200: jobSchema, ...commonErrors } } },
    async (request) => batch.cancel(authOf(request).actor, request.params.id),
  );

  app.post(
    '/api/jobs/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: "Cancel many jobs in one request: ids (an array's id cancels the whole array), arrayId, or every job of a user",
        body: z
          .object({
            ids: z.array(z.number().int().min(1).max(2_147_483_647)).min(1).max(100_000).optional(),
            arrayId: z.number().int().min(1).max(2_147_483_647).optional(),
            user: z.string().min(1).max(32).optional(),
          })
          .strict(),
        response: {
          200: z.object({ cancelled: z.array(z.number().int()), skipped: z.array(z.object({ id: z.number().int(), state: z.string() })) }),
          ...commonErrors,
        },
      },
    },
    async (request) => batch.cancelMany(authOf(request).actor, request.body),
  );

  app.post(
    '/api/jobs/:id/hold',
    { schema: { tags: ['jobs'], summary: 'Hold a pending job: it will not start until released', params: jobId, response: { 200: jobSchema, ...commonErrors } } },
    async (request) => batch.setHeld(authOf(request).actor, request.params.id, true),
  );

  app.post(
    '/api/jobs/:id/release',
    { schema: { tags: ['jobs'], summary: 'Release a held job', params: jobId, response: { 200: jobSchema, ...commonErrors } } },
    async (request) => batch.setHeld(authOf(request).actor, request.params.id, false),
  );

  app.get(
    '/api/jobs/:id/why',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Why a job is pending, in plain words, and roughly when it may start',
        params: jobId,
        response: { 200: z.object({ jobId: z.number().int(), state: z.string(), text: z.string(), explanation: z.unknown() }), ...commonErrors },
      },
    },
    async (request) => {
      const job = await batch.getJob(authOf(request).actor, request.params.id);
      if (job.state !== 'pending') {
        return { jobId: job.id, state: job.state, text: `Job ${job.id} is not pending: it is ${job.state}.`, explanation: null };
      }
      const explanation = batch.explanation(job.id);
      const queue = batch.queueOf(job.queue);
      const text = explanation ? explainPending(explanation, toSchedJob(job), queue ?? null, ctx.clock.now().getTime()) : `Job ${job.id} was just submitted; the scheduler has not looked at it yet.`;
      return { jobId: job.id, state: job.state, text, explanation: explanation ?? null };
    },
  );

  app.get(
    '/api/jobs/:id/output',
    {
      schema: {
        tags: ['jobs'],
        summary: "A job's output (or error) file from an offset, for `keisan out --follow`",
        params: jobId,
        querystring: z.object({ stream: z.enum(['output', 'error']).default('output'), offset: z.coerce.number().int().min(0).default(0) }).strict(),
        response: { 200: z.object({ path: z.string(), offset: z.number().int(), size: z.number().int(), text: z.string(), done: z.boolean() }), ...commonErrors },
      },
    },
    async (request) => batch.output(authOf(request).actor, request.params.id, request.query.stream, request.query.offset),
  );

  // ------------------------------------------------------------------ queues
  const queueName = z.object({ name: z.string().min(1).max(32) }).strict();
  const queueSchema = z.object({
    name: z.string(),
    workgroup: z.string().nullable(),
    description: z.string(),
    priority: z.number(),
    nice: z.number(),
    wallTimeLimitMs: z.number(),
    cpuTimeLimitMs: z.number().nullable(),
    defaultTimeMs: z.number(),
    defaultMemBytes: z.number(),
    maxMemBytes: z.number(),
    maxCpus: z.number(),
    maxGpus: z.number(),
    maxRunningPerUser: z.number().nullable(),
    maxRunningPerSubgroup: z.number().nullable(),
    maxRunningPerHost: z.number().nullable(),
    allowedWorkgroups: z.array(z.string()),
    allowedSubgroups: z.array(z.string()),
    fairShare: z.enum(['subgroup-then-user', 'user']),
    enabled: z.boolean(),
  });
  app.get(
    '/api/queues',
    { schema: { tags: ['queues'], summary: 'The queues, highest priority first', response: { 200: z.array(queueSchema), ...commonErrors } } },
    async () => batch.listQueues(),
  );
  app.post(
    '/api/queues',
    {
      schema: {
        tags: ['queues'],
        summary: 'Add a queue (operators; workgroup admins for their workgroup within operator limits)',
        body: z.record(z.string(), z.unknown()),
        response: { 201: queueSchema, ...commonErrors },
      },
    },
    async (request, reply) => reply.code(201).send(await batch.addQueue(authOf(request).actor, request.body)),
  );
  app.patch(
    '/api/queues/:name',
    { schema: { tags: ['queues'], summary: 'Change a queue', params: queueName, body: z.record(z.string(), z.unknown()), response: { 200: queueSchema, ...commonErrors } } },
    async (request) => batch.changeQueue(authOf(request).actor, request.params.name, request.body),
  );
  app.delete(
    '/api/queues/:name',
    { schema: { tags: ['queues'], summary: 'Remove a queue without pending or running jobs', params: queueName, response: { 200: z.object({ ok: z.literal(true) }), ...commonErrors } } },
    async (request) => {
      await batch.removeQueue(authOf(request).actor, request.params.name);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/usage',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Accounting of ended jobs per user, subgroup or workgroup over a period',
        querystring: z
          .object({
            by: z.enum(['user', 'subgroup', 'workgroup']).default('user'),
            from: z.string().max(64).optional().describe('ISO time or a duration ago (30d); default 30 days ago'),
            to: z.string().max(64).optional().describe('ISO time or a duration ago; default now'),
          })
          .strict(),
        response: {
          200: z.array(z.object({ key: z.string(), jobs: z.number(), failed: z.number(), wallHours: z.number(), coreHours: z.number(), cpuHours: z.number(), gpuHours: z.number() })),
          ...commonErrors,
        },
      },
    },
    async (request) => {
      const now = ctx.clock.now();
      const from = request.query.from ? parseTimeFilter('from', request.query.from, now) : new Date(now.getTime() - 30 * 86_400_000);
      const to = request.query.to ? parseTimeFilter('to', request.query.to, now) : now;
      return batch.accounting(authOf(request).actor, request.query.by, from, to);
    },
  );

  app.get(
    '/api/notifications',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Your notifications, newest first',
        querystring: z.object({ unread: z.enum(['true', 'false']).default('false'), limit: z.coerce.number().int().min(1).max(1000).default(50) }).strict(),
        response: { 200: z.array(notificationSchema), ...commonErrors },
      },
    },
    async (request) => batch.notifications(authOf(request).actor, request.query.unread === 'true', request.query.limit),
  );

  app.post(
    '/api/notifications/read',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Mark notifications read (all, or the given ids)',
        body: z.object({ ids: z.array(z.number().int().min(1)).max(10_000).optional() }).strict(),
        response: { 200: z.object({ marked: z.number().int() }), ...commonErrors },
      },
    },
    async (request) => ({ marked: await batch.markRead(authOf(request).actor, request.body.ids ?? 'all') }),
  );
}

const invalidStateError = (state: string) => invalidInput(`unknown job state '${state}': use ${JOB_STATES.join(', ')}`);
