import { z } from 'zod';
import { invalidInput } from '../../lib/errors.ts';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../../server/types.ts';
import { CHECK_STATUSES, checkResultSchema, type CheckResult, type CheckStatus } from '../model.ts';
import { agentChecksSchema, resolveChecks } from './resolve.ts';

/** A check result with the host it is about (the hub keeps results per host). */
export const hostCheckResultSchema = checkResultSchema.extend({ host: z.string() });
export type HostCheckResult = z.infer<typeof hostCheckResultSchema>;

const hostName = z.string().min(1).max(255).regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'host must be a host name');

/** `--failing` is warning, critical and unknown. */
export function parseStatuses(raw: string | undefined): CheckStatus[] | undefined {
  const text = raw?.trim();
  if (!text || text === 'all') return undefined;
  const words = text === 'failing' ? ['warning', 'critical', 'unknown'] : text.split(',').map((s) => s.trim());
  const bad = words.find((word) => !(CHECK_STATUSES as readonly string[]).includes(word));
  if (bad !== undefined) throw invalidInput(`'${bad}' is not a check status: write ${CHECK_STATUSES.join(', ')} (comma-separated), failing or all`);
  return words as CheckStatus[];
}

export function registerCheckRoutes(app: ZodApp, ctx: ServerContext): void {
  app.get(
    '/api/monitor/agent-checks',
    {
      config: { public: true },
      schema: {
        tags: ['monitor'],
        summary: 'The health checks a node runs, resolved from keisan.yaml monitor.checks for its host and roles (Authorization: Node <secret>)',
        security: [{ node: [] }],
        querystring: z
          .object({
            host: hostName,
            roles: z.string().max(1000).default('').describe('comma-separated roles of the node (login, compute, storage, slurm…)'),
          })
          .strict(),
        response: { 200: agentChecksSchema, 400: errorResponse, 401: errorResponse },
      },
    },
    async (request) => {
      ctx.daemons.verifyNodeSecret(request.headers.authorization);
      const roles = request.query.roles
        .split(',')
        .map((role) => role.trim())
        .filter(Boolean);
      const bad = roles.find((role) => !/^[a-z][a-z0-9-]*$/.test(role));
      if (bad !== undefined) throw invalidInput(`'${bad}' is not a role name: lower-case letters, digits and -`);
      const resolved = resolveChecks(ctx.settings.monitor.checks, request.query.host, roles);
      // The inventory's expected MACs per address feed the duplicate-IP check (unless keisan.yaml gives its own list).
      const expected = await ctx.inventory.expectedAddresses();
      if (expected.length === 0) return resolved;
      return { ...resolved, checks: resolved.checks.map((check) => (check.type === 'duplicate-ip' && check.params.expected === undefined ? { ...check, params: { ...check.params, expected } } : check)) };
    },
  );

  app.get(
    '/api/monitor/checks',
    {
      schema: {
        tags: ['monitor'],
        summary: 'The latest result of every health check (any user; details for operators only)',
        querystring: z
          .object({
            host: hostName.optional(),
            status: z.string().max(100).optional().describe(`comma-separated: ${CHECK_STATUSES.join(', ')}; failing (= warning,critical,unknown) or all`),
          })
          .strict(),
        response: { 200: z.array(hostCheckResultSchema), ...commonErrors },
      },
    },
    async (request) => {
      const actor = authOf(request).actor;
      const statuses = parseStatuses(request.query.status);
      const hosts = request.query.host !== undefined ? [request.query.host] : ctx.monitor.hosts(ctx.clock.now().getTime()).map((state) => state.host);
      const results: HostCheckResult[] = hosts.flatMap((host) =>
        ctx.monitor
          .latestChecks(host)
          .filter((result: CheckResult) => !statuses || statuses.includes(result.status))
          .map((result) => ({ ...result, host })),
      );
      // Details can hold command lines, MAC addresses and log lines: operators see them, others the summary.
      return actor.isOperator ? results : results.map((result) => ({ ...result, details: {} }));
    },
  );
}
