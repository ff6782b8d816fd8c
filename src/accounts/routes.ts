import { z } from 'zod';
import { invalidInput } from '../lib/errors.ts';
import { parseDuration } from '../lib/units.ts';
import { authOf } from '../server/auth.ts';
import type { ServerContext } from '../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../server/types.ts';
import {
  changePasswordInput,
  createSubgroupInput,
  createUserInput,
  createWorkgroupInput,
  loginInput,
  noNul,
  subgroupSchema,
  ticketInfoSchema,
  unixName,
  updateSubgroupInput,
  updateUserInput,
  updateWorkgroupInput,
  userSchema,
  whoAmISchema,
  workgroupSchema,
} from './model.ts';
import { applyInput, applyResultSchema, exportSchema } from './declarative.ts';

const auditEntrySchema = z.object({
  id: z.number().int(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  targetType: z.string(),
  target: z.string(),
  outcome: z.enum(['ok', 'denied', 'failed']),
  detail: z.record(z.string(), z.unknown()),
  address: z.string().nullable(),
});

const timeFilter = z
  .string()
  .max(64)
  .optional()
  .describe('an ISO-8601 time, or a duration ago such as 24h or 7d');

const named = (what: string) => z.object({ name: unixName(`${what} name`) }).strict();
const namedMember = (what: string) => z.object({ name: unixName(`${what} name`), user: unixName('user name') }).strict();
const ok = z.object({ ok: z.literal(true) });

export function registerAccountRoutes(app: ZodApp, ctx: ServerContext): void {
  const { accounts } = ctx;

  // ------------------------------------------------------------------ tickets
  app.post(
    '/api/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Log in: exchange a user name and password for a ticket',
        security: [],
        body: loginInput,
        response: { 200: z.object({ ticket: z.string(), user: userSchema, ticketInfo: ticketInfoSchema }), 401: errorResponse, 403: errorResponse, 429: errorResponse },
      },
    },
    async (request) => {
      const result = await accounts.login(request.body.user, request.body.password, request.ip);
      return { ticket: result.ticket, user: result.user, ticketInfo: result.times };
    },
  );

  app.post(
    '/api/auth/renew',
    { schema: { tags: ['auth'], summary: 'Renew the ticket: another lifetime, up to its renewal limit', response: { 200: ticketInfoSchema, 401: errorResponse } } },
    async (request) => accounts.renew(authOf(request)),
  );

  app.post(
    '/api/auth/logout',
    { schema: { tags: ['auth'], summary: 'Log out: revoke the ticket', response: { 200: ok, 401: errorResponse } } },
    async (request) => {
      await accounts.logout(authOf(request));
      return { ok: true as const };
    },
  );

  app.get(
    '/api/auth/whoami',
    { schema: { tags: ['auth'], summary: 'Who the ticket belongs to, and when it expires', response: { 200: whoAmISchema, 401: errorResponse } } },
    async (request) => accounts.whoami(authOf(request)),
  );

  app.post(
    '/api/auth/password',
    { schema: { tags: ['auth'], summary: 'Change your own password', body: changePasswordInput, response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await accounts.changeOwnPassword(authOf(request).actor, request.body.current, request.body.new);
      return { ok: true as const };
    },
  );

  // ------------------------------------------------------------------ workgroups
  app.get(
    '/api/workgroups',
    { schema: { tags: ['workgroups'], summary: 'List workgroups', response: { 200: z.array(workgroupSchema), 401: errorResponse } } },
    async (request) => accounts.listWorkgroups(authOf(request).actor),
  );
  app.post(
    '/api/workgroups',
    { schema: { tags: ['workgroups'], summary: 'Create a workgroup (operators)', body: createWorkgroupInput, response: { 201: workgroupSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await accounts.createWorkgroup(authOf(request).actor, request.body)),
  );
  app.get(
    '/api/workgroups/:name',
    { schema: { tags: ['workgroups'], summary: 'Show a workgroup', params: named('workgroup'), response: { 200: workgroupSchema, ...commonErrors } } },
    async (request) => accounts.getWorkgroup(authOf(request).actor, request.params.name),
  );
  app.patch(
    '/api/workgroups/:name',
    { schema: { tags: ['workgroups'], summary: 'Change a workgroup', params: named('workgroup'), body: updateWorkgroupInput, response: { 200: workgroupSchema, ...commonErrors } } },
    async (request) => accounts.updateWorkgroup(authOf(request).actor, request.params.name, request.body),
  );
  app.delete(
    '/api/workgroups/:name',
    { schema: { tags: ['workgroups'], summary: 'Delete an empty workgroup (operators)', params: named('workgroup'), response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await accounts.deleteWorkgroup(authOf(request).actor, request.params.name);
      return { ok: true as const };
    },
  );
  app.put(
    '/api/workgroups/:name/admins/:user',
    { schema: { tags: ['workgroups'], summary: 'Appoint a workgroup admin (operators)', params: namedMember('workgroup'), response: { 200: workgroupSchema, ...commonErrors } } },
    async (request) => accounts.setWorkgroupAdmin(authOf(request).actor, request.params.name, request.params.user, true),
  );
  app.delete(
    '/api/workgroups/:name/admins/:user',
    { schema: { tags: ['workgroups'], summary: 'Remove a workgroup admin (operators)', params: namedMember('workgroup'), response: { 200: workgroupSchema, ...commonErrors } } },
    async (request) => accounts.setWorkgroupAdmin(authOf(request).actor, request.params.name, request.params.user, false),
  );

  // ------------------------------------------------------------------ subgroups
  app.get(
    '/api/subgroups',
    {
      schema: {
        tags: ['subgroups'],
        summary: 'List subgroups',
        querystring: z.object({ workgroup: unixName('workgroup name').optional() }).strict(),
        response: { 200: z.array(subgroupSchema), ...commonErrors },
      },
    },
    async (request) => accounts.listSubgroups(authOf(request).actor, request.query.workgroup),
  );
  app.post(
    '/api/subgroups',
    { schema: { tags: ['subgroups'], summary: 'Create a subgroup in a workgroup', body: createSubgroupInput, response: { 201: subgroupSchema, ...commonErrors } } },
    async (request, reply) => reply.code(201).send(await accounts.createSubgroup(authOf(request).actor, request.body)),
  );
  app.get(
    '/api/subgroups/:name',
    { schema: { tags: ['subgroups'], summary: 'Show a subgroup', params: named('subgroup'), response: { 200: subgroupSchema, ...commonErrors } } },
    async (request) => accounts.getSubgroup(authOf(request).actor, request.params.name),
  );
  app.patch(
    '/api/subgroups/:name',
    { schema: { tags: ['subgroups'], summary: 'Change a subgroup', params: named('subgroup'), body: updateSubgroupInput, response: { 200: subgroupSchema, ...commonErrors } } },
    async (request) => accounts.updateSubgroup(authOf(request).actor, request.params.name, request.body),
  );
  app.delete(
    '/api/subgroups/:name',
    { schema: { tags: ['subgroups'], summary: 'Delete a subgroup nobody has as primary', params: named('subgroup'), response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await accounts.deleteSubgroup(authOf(request).actor, request.params.name);
      return { ok: true as const };
    },
  );
  for (const [path, what, set] of [
    ['members', 'member', accounts.setMembership.bind(accounts)],
    ['admins', 'admin', accounts.setSubgroupAdmin.bind(accounts)],
  ] as const) {
    app.put(
      `/api/subgroups/:name/${path}/:user`,
      { schema: { tags: ['subgroups'], summary: `Add a ${what} to a subgroup`, params: namedMember('subgroup'), response: { 200: subgroupSchema, ...commonErrors } } },
      async (request) => set(authOf(request).actor, request.params.name, request.params.user, true),
    );
    app.delete(
      `/api/subgroups/:name/${path}/:user`,
      { schema: { tags: ['subgroups'], summary: `Remove a ${what} from a subgroup`, params: namedMember('subgroup'), response: { 200: subgroupSchema, ...commonErrors } } },
      async (request) => set(authOf(request).actor, request.params.name, request.params.user, false),
    );
  }

  // ------------------------------------------------------------------ users
  app.get(
    '/api/users',
    {
      schema: {
        tags: ['users'],
        summary: 'List the users you may see',
        querystring: z.object({ workgroup: unixName('workgroup name').optional(), subgroup: unixName('subgroup name').optional() }).strict(),
        response: { 200: z.array(userSchema), ...commonErrors },
      },
    },
    async (request) => accounts.listUsers(authOf(request).actor, request.query),
  );
  app.post(
    '/api/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Create a user; without a password, one is generated and returned once',
        body: createUserInput,
        response: { 201: z.object({ user: userSchema, initialPassword: z.string().optional() }), ...commonErrors },
      },
    },
    async (request, reply) => reply.code(201).send(await accounts.createUser(authOf(request).actor, request.body)),
  );
  app.get(
    '/api/users/:name',
    { schema: { tags: ['users'], summary: 'Show a user', params: named('user'), response: { 200: userSchema, ...commonErrors } } },
    async (request) => accounts.getUser(authOf(request).actor, request.params.name),
  );
  app.patch(
    '/api/users/:name',
    { schema: { tags: ['users'], summary: 'Change a user (profile, password, lock, primary subgroup, login, operator role)', params: named('user'), body: updateUserInput, response: { 200: userSchema, ...commonErrors } } },
    async (request) => accounts.updateUser(authOf(request).actor, request.params.name, request.body),
  );
  app.delete(
    '/api/users/:name',
    { schema: { tags: ['users'], summary: 'Delete a user', params: named('user'), response: { 200: ok, ...commonErrors } } },
    async (request) => {
      await accounts.deleteUser(authOf(request).actor, request.params.name);
      return { ok: true as const };
    },
  );

  // ------------------------------------------------------------------ audit
  app.get(
    '/api/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'Read the audit log, newest first (operators)',
        querystring: z
          .object({
            actor: noNul('actor').max(64).optional(),
            target: noNul('target').max(255).optional(),
            action: noNul('action').max(64).optional().describe('an action, or a prefix ending in "." such as user.'),
            outcome: z.enum(['ok', 'denied', 'failed']).optional(),
            since: timeFilter,
            until: timeFilter,
            limit: z.coerce.number().int().min(1).max(10_000).default(100),
            // Audit ids are 32-bit integers in PostgreSQL: a larger number is no id at all.
            before: z.coerce.number().int().min(1).max(2_147_483_647).optional(),
          })
          .strict(),
        response: { 200: z.array(auditEntrySchema), ...commonErrors },
      },
    },
    async (request) => {
      const { since, until, ...rest } = request.query;
      const now = ctx.clock.now();
      return accounts.audit(authOf(request).actor, {
        ...rest,
        ...(since ? { since: parseTimeFilter('since', since, now) } : {}),
        ...(until ? { until: parseTimeFilter('until', until, now) } : {}),
      });
    },
  );

  // ------------------------------------------------------------------ declarative
  app.post(
    '/api/facility/apply',
    {
      schema: {
        tags: ['facility'],
        summary: 'Apply workgroups, subgroups and users declaratively (operators); dryRun shows the plan only',
        body: applyInput,
        response: { 200: applyResultSchema, ...commonErrors },
      },
    },
    async (request) => accounts.apply(authOf(request).actor, request.body.document, request.body.dryRun),
  );
  app.get(
    '/api/facility/export',
    {
      schema: {
        tags: ['facility'],
        summary: 'The facility\'s workgroups, subgroups and users as a document apply accepts (operators)',
        querystring: z.object({ passwordHashes: z.enum(['true', 'false']).default('false') }).strict(),
        response: { 200: exportSchema, ...commonErrors },
      },
    },
    async (request) => accounts.exportFacility(authOf(request).actor, request.query.passwordHashes === 'true'),
  );
}

/** `since=24h` means 24 hours ago; `since=2026-11-01T00:00:00Z` a point in time. */
export function parseTimeFilter(field: string, text: string, now: Date): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const at = new Date(text);
    if (Number.isNaN(at.getTime())) throw invalidInput(`${field}: '${text}' is not a valid time; write e.g. 2026-11-01T09:00:00Z`);
    return at;
  }
  let ago: number;
  try {
    ago = parseDuration(text);
  } catch {
    throw invalidInput(`${field}: '${text}' is neither a time (2026-11-01T09:00:00Z) nor a duration ago (24h, 7d)`);
  }
  const at = new Date(now.getTime() - ago);
  if (Number.isNaN(at.getTime())) throw invalidInput(`${field}: '${text}' reaches back before any possible time; give a shorter duration`);
  return at;
}
