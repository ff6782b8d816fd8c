import { z } from 'zod';
import { checkTypeOf } from './registry.ts';
import { DEFAULT_PROCESSES, DEFAULT_ROLE_CHECKS, type ChecksSettings, type EssentialProcess } from './settings.ts';

/** One check as a node runs it: what the server hands its agent (GET /api/monitor/agent-checks). */
export const resolvedCheckSchema = z
  .object({
    /** Unique on the node: `<type>:<target>` or the configured name. */
    id: z.string(),
    type: z.string(),
    /** Set when the check was named in keisan.yaml: results are called by it. */
    name: z.string().nullable(),
    intervalMs: z.number().int().positive(),
    timeoutMs: z.number().int().positive(),
    params: z.record(z.string(), z.unknown()),
    /** Where it came from: `role:<role>` (automatic) or `extra` (keisan.yaml monitor.checks.extra). */
    source: z.string(),
  })
  .strict();
export type ResolvedCheck = z.infer<typeof resolvedCheckSchema>;

export const agentChecksSchema = z
  .object({
    host: z.string(),
    roles: z.array(z.string()),
    refreshMs: z.number().int().positive(),
    concurrency: z.number().int().positive(),
    checks: z.array(resolvedCheckSchema),
  })
  .strict();
export type AgentChecks = z.infer<typeof agentChecksSchema>;

function hostMatches(pattern: string, host: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
  return regex.test(host);
}

const processParams = (entry: EssentialProcess) => (typeof entry === 'string' ? { name: entry } : { ...entry });

/**
 * The checks one node runs: the automatic ones of its roles (and of `all`), then the extra checks
 * that name one of its roles or its host (or neither). Pure: the server calls it per agent, tests call it directly.
 */
export function resolveChecks(settings: ChecksSettings, host: string, roles: readonly string[]): AgentChecks {
  const roleSet = ['all', ...roles.filter((role) => role !== 'all')];
  const checks: ResolvedCheck[] = [];
  const seen = new Set<string>();
  const add = (check: ResolvedCheck, replace = false) => {
    if (seen.has(check.id)) {
      // An extra check of the same id as an automatic one replaces it (other params, interval).
      if (replace) checks.splice(checks.findIndex((c) => c.id === check.id), 1, check);
      return;
    }
    seen.add(check.id);
    checks.push(check);
  };
  const timing = (type: string, interval?: number, timeout?: number) => {
    const intervalMs = interval ?? (checkTypeOf(type)?.defaultInterval !== undefined ? Math.max(checkTypeOf(type)!.defaultInterval!, settings.interval) : settings.interval);
    return { intervalMs, timeoutMs: Math.min(timeout ?? settings.timeout, Math.max(intervalMs, 1000)) };
  };
  for (const role of roleSet) {
    const types = settings.roles[role] ?? DEFAULT_ROLE_CHECKS[role] ?? [];
    for (const type of types) {
      const check = checkTypeOf(type);
      if (!check) continue;
      if (type === 'process') {
        // One check per essential process of every role the node has.
        for (const processRole of roleSet) {
          for (const entry of settings.processes[processRole] ?? DEFAULT_PROCESSES[processRole] ?? []) {
            const params = { ...(settings.defaults.process ?? {}), ...processParams(entry) };
            add({ id: `process:${params.name}`, type, name: null, ...timing(type), params, source: `role:${processRole}` });
          }
        }
        continue;
      }
      const params = { ...(settings.defaults[type] ?? {}) };
      const parsed = check.params.safeParse(params);
      const target = parsed.success ? check.target(parsed.data) : type;
      add({ id: `${type}:${target}`, type, name: null, ...timing(type), params, source: `role:${role}` });
    }
  }
  for (const entry of settings.extra) {
    const wanted = (entry.roles === undefined && entry.hosts === undefined) || (entry.roles ?? []).some((role) => roleSet.includes(role)) || (entry.hosts ?? []).some((pattern) => hostMatches(pattern, host));
    if (!wanted) continue;
    const check = checkTypeOf(entry.type)!;
    const parsed = check.params.safeParse(entry.params);
    const id = entry.name ?? `${entry.type}:${parsed.success ? check.target(parsed.data) : '?'}`;
    add({ id, type: entry.type, name: entry.name ?? null, ...timing(entry.type, entry.interval, entry.timeout), params: entry.params, source: 'extra' }, true);
  }
  return { host, roles: [...roles], refreshMs: settings.refresh, concurrency: settings.concurrency, checks };
}
