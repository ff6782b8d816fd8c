import { z } from 'zod';
import { parseDuration } from '../../lib/units.ts';
import { duration } from '../../lib/zod-units.ts';
import { CHECK_TYPE_NAMES, checkTypeOf } from './registry.ts';

/** An essential process: a name (the process name, /proc/PID/comm) or a name with a command-line pattern. */
const essentialProcess = z.union([
  z.string().min(1).max(15),
  z.object({ name: z.string().min(1).max(100), comm: z.string().min(1).max(15).optional(), pattern: z.string().min(1).max(1000).optional() }).strict(),
]);
export type EssentialProcess = z.output<typeof essentialProcess>;

const checkTypeName = z.string().refine((type) => CHECK_TYPE_NAMES.includes(type), { message: `not a check type: one of ${CHECK_TYPE_NAMES.join(', ')}` });

/** A role name as nodes have them ("login", "compute", "storage", "server"); `all` is every node. */
const roleName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'a role: lower-case letters, digits and -');

const extraCheck = z
  .object({
    type: checkTypeName,
    /** Unique per node; results are `<name>` (or `<name>:<target>`). Default: `<type>:<target>`. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$/, 'a check name: letters, digits and _ . : / @ -').max(200).optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    /** Only on nodes with one of these roles… */
    roles: z.array(roleName).optional(),
    /** …or these hosts (`*` matches any run of characters). Neither: every node. */
    hosts: z.array(z.string().min(1).max(255)).optional(),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type ExtraCheck = z.output<typeof extraCheck>;

export const DEFAULT_ROLE_CHECKS: Record<string, string[]> = {
  all: ['filesystem', 'inodes', 'process', 'raid', 'hardware', 'duplicate-ip', 'time-drift'],
};

export const DEFAULT_PROCESSES: Record<string, EssentialProcess[]> = {
  all: [
    { name: 'keisan agent', pattern: String.raw`keisan(\.js)?\s+agent(\s|$)` },
    { name: 'keisan watchdog', pattern: String.raw`keisan(\.js)?\s+watchdog(\s|$)` },
  ],
  login: ['sshd'],
  // Nodes whose jobs run through SLURM (executor slurm) carry the role `slurm`.
  slurm: ['slurmd', 'munged'],
};

/** keisan.yaml `monitor.checks`: owned by src/monitor/checks/. */
export const checksSettings = z
  .object({
    /** Every check runs this often unless its type or its entry says otherwise. */
    interval: duration.default(parseDuration('15s')),
    /** A run that takes longer is reported as unknown ("timed out"). */
    timeout: duration.default(parseDuration('10s')),
    /** At most this many checks run at once on a node. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Agents fetch their check list from the server this often (and keep the last one while it is down). */
    refresh: duration.default(parseDuration('5m')),
    /** Which check types each role gets automatically (`all`: every node). A role given here replaces its default list. */
    roles: z.record(roleName, z.array(checkTypeName)).default({}),
    /** Essential processes per role (`all`: every node) for the automatic process checks; replaces that role's default list. */
    processes: z.record(roleName, z.array(essentialProcess)).default({}),
    /** Parameters for the automatic checks, per type (e.g. filesystem: warning 85). */
    defaults: z.record(checkTypeName, z.record(z.string(), z.unknown())).default({}),
    /** Checks beyond the automatic ones: HTTP endpoints, certificates, storage logs, pings… */
    extra: z.array(extraCheck).default([]),
  })
  .strict()
  .superRefine((settings, ctx) => {
    // Every check's params are validated by its type now, so a typo fails at startup, naming the check and the field.
    for (const [type, params] of Object.entries(settings.defaults)) {
      const check = checkTypeOf(type)!;
      if (type === 'process') continue;
      const parsed = check.params.safeParse(params);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({ code: 'custom', path: ['defaults', type, ...issue.path.map(String)], message: `defaults for ${type} checks: ${issue.path.join('.') || 'params'}: ${issue.message}` });
        }
      }
    }
    const names = new Set<string>();
    settings.extra.forEach((entry, index) => {
      const label = entry.name ?? `#${index + 1} (${entry.type})`;
      const check = checkTypeOf(entry.type);
      if (!check) return;
      const parsed = check.params.safeParse(entry.params);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({ code: 'custom', path: ['extra', index, 'params', ...issue.path.map(String)], message: `check ${label}: params${issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}: ${issue.message}` });
        }
        return;
      }
      const id = entry.name ?? `${entry.type}:${check.target(parsed.data)}`;
      if (names.has(id)) ctx.addIssue({ code: 'custom', path: ['extra', index, 'name'], message: `check ${label}: another check is also called '${id}': give one a name` });
      names.add(id);
    });
  });
export type ChecksSettings = z.output<typeof checksSettings>;
