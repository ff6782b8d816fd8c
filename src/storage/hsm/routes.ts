import { z } from 'zod';
import { invalidInput, KeisanError } from '../../lib/errors.ts';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, type ZodApp } from '../../server/types.ts';
import { classChangeInput, classInput, classSchema, familyChangeInput, familyInput, familySchema, repackJobSchema, stageRequestSchema } from './model.ts';

const ok = z.object({ ok: z.literal(true) });
const named = z.object({ name: z.string().min(1).max(64) }).strict();
/** Reports whose shape is documented in src/storage/hsm (status, volumes, drives, runs). */
const report = z.record(z.string(), z.unknown());

function hsmOf(ctx: ServerContext) {
  if (!ctx.hsm) throw new KeisanError('UNAVAILABLE', 'the HSM is not running on this server (no archive tier): ask an operator');
  return ctx.hsm;
}

/** /api/hsm/… for operators (status, volumes, drives, migrate, purge, repack, classes, families) and /api/fs/stage… for users. */
export function registerHsmRoutes(app: ZodApp, ctx: ServerContext): void {
  const tags = ['hsm'];
  app.get(
    '/api/hsm/status',
    { schema: { tags, summary: 'Disk tier usage against the water marks, files by state, stage queue, repack jobs, last runs, damaged copies (operators)', response: { 200: report, ...commonErrors } } },
    async (request) => (await hsmOf(ctx).status(authOf(request).actor)) as unknown as Record<string, unknown>,
  );
  app.get(
    '/api/hsm/volumes',
    { schema: { tags, summary: 'Archive volumes: family, copy, capacity, live bytes, holes, state (operators)', response: { 200: z.array(report), ...commonErrors } } },
    async (request) => (await hsmOf(ctx).volumes(authOf(request).actor)) as unknown as Record<string, unknown>[],
  );
  app.get(
    '/api/hsm/drives',
    { schema: { tags, summary: 'Archive drives: state, mounted volume, activity (operators)', response: { 200: z.array(report), ...commonErrors } } },
    async (request) => (await hsmOf(ctx).drives(authOf(request).actor)) as unknown as Record<string, unknown>[],
  );
  app.post(
    '/api/hsm/migrate',
    { schema: { tags, summary: 'Migrate every dirty file now, whatever its delay; answers when the run ended (operators)', body: z.object({}).strict().nullish(), response: { 200: report, ...commonErrors } } },
    async (request) => (await hsmOf(ctx).migrateNow(authOf(request).actor)) as unknown as Record<string, unknown>,
  );
  app.post(
    '/api/hsm/purge',
    {
      schema: {
        tags,
        summary: 'Purge now, even below the high water mark: down to each class\'s low water mark, or to `to` percent (0 = every purgeable file). Never a dirty, open, pinned or staging file (operators)',
        body: z.object({ to: z.number().min(0).max(100).optional() }).strict().nullish(),
        response: { 200: report, ...commonErrors },
      },
    },
    async (request) => (await hsmOf(ctx).purgeNow(authOf(request).actor, request.body?.to !== undefined ? { toPct: request.body.to } : {})) as unknown as Record<string, unknown>,
  );
  app.post(
    '/api/hsm/repack',
    {
      schema: {
        tags,
        summary: 'Repack one volume, or every full volume with at least `holes` percent holes: live files go to fresh volumes, verified, then the volume is retired (operators; runs in the background)',
        body: z.object({ volume: z.string().min(1).max(128).optional(), holes: z.number().min(0).max(100).optional() }).strict(),
        response: { 201: z.array(repackJobSchema), ...commonErrors },
      },
    },
    async (request, reply) => {
      const { volume, holes } = request.body;
      if ((volume === undefined) === (holes === undefined)) throw invalidInput('give either volume or holes (a percentage), not both and not neither');
      const jobs = await hsmOf(ctx).repack(authOf(request).actor, volume !== undefined ? { volume } : { holesPct: holes! });
      return reply.code(201).send(jobs);
    },
  );
  app.get(
    '/api/hsm/repack',
    { schema: { tags, summary: 'Repack jobs and their progress (operators)', querystring: z.object({ all: z.enum(['true', 'false']).optional() }).strict(), response: { 200: z.array(repackJobSchema), ...commonErrors } } },
    async (request) => hsmOf(ctx).repackStatus(authOf(request).actor, request.query.all === 'true'),
  );
  for (const verb of ['pause', 'resume'] as const) {
    app.post(
      `/api/hsm/repack/${verb}`,
      { schema: { tags, summary: `${verb === 'pause' ? 'Pause' : 'Resume'} one repack job (id) or all of them (operators)`, body: z.object({ id: z.number().int().optional() }).strict().nullish(), response: { 200: z.array(repackJobSchema), ...commonErrors } } },
      async (request) => {
        const hsm = hsmOf(ctx);
        const actor = authOf(request).actor;
        return verb === 'pause' ? hsm.repackPause(actor, request.body?.id) : hsm.repackResume(actor, request.body?.id);
      },
    );
  }

  // ---------------------------------------------------------------- classes and families
  app.get(
    '/api/hsm/classes',
    { schema: { tags, summary: 'Classes of service: migration delay, copies, purge water marks, staging mode, workgroups', response: { 200: z.array(classSchema), ...commonErrors } } },
    async () => hsmOf(ctx).listClasses(),
  );
  app.post(
    '/api/hsm/classes',
    { schema: { tags, summary: 'Add a class of service (operators; audited)', body: classInput, response: { 201: classSchema, ...commonErrors } } },
    async (request, reply) => {
      const hsm = hsmOf(ctx);
      const c = await hsm.book.addClass(authOf(request).actor, request.body);
      return reply.code(201).send(hsm.listClasses().find((x) => x.name === c.name)!);
    },
  );
  app.patch(
    '/api/hsm/classes/:name',
    { schema: { tags, summary: 'Change a class of service (operators; audited)', params: named, body: classChangeInput, response: { 200: classSchema, ...commonErrors } } },
    async (request) => {
      const hsm = hsmOf(ctx);
      const c = await hsm.book.changeClass(authOf(request).actor, request.params.name, request.body);
      return hsm.listClasses().find((x) => x.name === c.name)!;
    },
  );
  app.delete(
    '/api/hsm/classes/:name',
    { schema: { tags, summary: 'Remove a class of service; its workgroups fall back to the default class (operators; audited)', params: named, response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await hsmOf(ctx).book.removeClass(authOf(request).actor, request.params.name);
      return { ok: true as const };
    },
  );
  app.get(
    '/api/hsm/families',
    { schema: { tags, summary: 'File families: tree, quota, archive usage and quota state (declared ones and every family with archive usage)', response: { 200: z.array(familySchema), ...commonErrors } } },
    async () => hsmOf(ctx).listFamilies(),
  );
  app.post(
    '/api/hsm/families',
    { schema: { tags, summary: 'Map a tree to its own file family, with an optional quota (operators; audited)', body: familyInput, response: { 201: familySchema, ...commonErrors } } },
    async (request, reply) => {
      const hsm = hsmOf(ctx);
      const f = await hsm.book.addFamily(authOf(request).actor, request.body);
      await hsm.quotas.refreshAll();
      return reply.code(201).send((await hsm.listFamilies()).find((x) => x.name === f.name)!);
    },
  );
  app.patch(
    '/api/hsm/families/:name',
    { schema: { tags, summary: 'Change a family\'s tree or quota; naming a subgroup\'s implicit family (wg.sg) declares it (operators; audited)', params: named, body: familyChangeInput, response: { 200: familySchema, ...commonErrors } } },
    async (request) => {
      const hsm = hsmOf(ctx);
      const f = await hsm.book.changeFamily(authOf(request).actor, request.params.name, request.body);
      await hsm.quotas.refreshAll();
      return (await hsm.listFamilies()).find((x) => x.name === f.name)!;
    },
  );
  app.delete(
    '/api/hsm/families/:name',
    { schema: { tags, summary: 'Remove a declared family; its tree falls back to the subgroup family (operators; audited)', params: named, response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await hsmOf(ctx).book.removeFamily(authOf(request).actor, request.params.name);
      await hsmOf(ctx).quotas.refreshAll();
      return { ok: true as const };
    },
  );

  // ---------------------------------------------------------------- users: bulk stage requests
  app.post(
    '/api/fs/stage',
    {
      schema: {
        tags: ['storage'],
        summary: 'Prestage files from the archive to the disk tier: answers 201 with a request id at once; files are merged with other requests and staged volume by volume in position order, then pinned on disk for a while',
        body: z.object({ paths: z.array(z.string().min(1).max(8192)).min(1, 'name at least one file').max(100_000) }).strict(),
        response: { 201: stageRequestSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const created = await hsmOf(ctx).createStageRequest(authOf(request).actor, request.body.paths);
      return reply.code(201).header('location', `/api/fs/stage/${created.id}`).send(created);
    },
  );
  app.post(
    '/api/fs/stage/:id/release',
    { schema: { tags: ['storage'], summary: 'Release a stage request: its files are no longer pinned on disk (they may be purged), and files still waiting are not staged', params: z.object({ id: z.string().min(1).max(40) }).strict(), body: z.object({}).strict().nullish(), response: { 200: stageRequestSchema, ...commonErrors } } },
    async (request) => hsmOf(ctx).releaseStageRequest(authOf(request).actor, request.params.id),
  );
  app.get(
    '/api/fs/stage/:id',
    { schema: { tags: ['storage'], summary: 'A stage request: per-file state (QUEUED, MOUNTING, POSITIONING, TRANSFERRING, ON_DISK, FAILED), queue position, estimate', params: z.object({ id: z.string().min(1).max(40) }).strict(), response: { 200: stageRequestSchema, ...commonErrors } } },
    async (request) => hsmOf(ctx).stageStatus(authOf(request).actor, request.params.id),
  );
}
