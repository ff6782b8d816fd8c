import { z } from 'zod';
import { parseDuration } from '../../lib/units.ts';
import { duration } from '../../lib/zod-units.ts';
import { hostName } from '../../ops/inventory/model.ts';
import { SERVICE_NAME_PATTERN, SERVICE_NAME_RULE, SOURCES } from '../model.ts';
import type { ComponentDef } from './model.ts';

/**
 * keisan.yaml `status:` (optional): the page's title, its components (the six standard ones,
 * replaced or hidden by name, plus the site's own), how long resolved incidents stay listed,
 * how often the server evaluates the states, and which incidents the public page shows.
 */

/** The standard components, in the order shown (issue 7). */
export const STANDARD_COMPONENTS: readonly ComponentDef[] = [
  { name: 'login', displayName: 'Login nodes', description: 'ssh access to the login nodes', services: ['login'], hosts: [], checks: [] },
  { name: 'batch', displayName: 'Batch jobs', description: 'submitting and running batch jobs', services: ['batch'], hosts: [], checks: [] },
  { name: 'storage-home', displayName: 'Storage: home', description: 'home directories', services: ['storage-home'], hosts: [], checks: [] },
  { name: 'storage-archive', displayName: 'Storage: archive', description: 'the archive (tape) store and staging', services: ['storage-archive'], hosts: [], checks: [] },
  { name: 'authentication', displayName: 'Authentication', description: 'logging in and tickets', services: ['authentication'], hosts: [], checks: [] },
  { name: 'web', displayName: 'Web', description: 'the web portal and the API', services: ['web'], hosts: [], checks: [] },
];

const componentName = z
  .string({ error: 'name must be a string' })
  .regex(SERVICE_NAME_PATTERN, `component name is not valid: ${SERVICE_NAME_RULE}`);
const serviceName = z.string({ error: 'service must be a string' }).regex(SERVICE_NAME_PATTERN, `service name is not valid: ${SERVICE_NAME_RULE}`);
const checkName = z
  .string({ error: 'check must be a string' })
  .regex(/^[A-Za-z0-9_.:/@-]{1,300}$/, 'check is not valid: a check name such as process:sshd or filesystem:/home, or a check type such as filesystem');
const noControl = (what: string, max: number) =>
  z
    .string({ error: `${what} must be a string` })
    .max(max, `${what} is longer than ${max} characters`)
    // eslint-disable-next-line no-control-regex
    .refine((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s), `${what} must not contain control characters`);

export const componentInput = z
  .object({
    name: componentName,
    displayName: noControl('displayName', 80).refine((s) => s.trim() !== '', 'displayName must not be empty: it is what users read'),
    description: noControl('description', 300).default(''),
    services: z.array(serviceName).max(50, 'at most 50 services').optional().describe('default: [name]'),
    hosts: z.array(hostName).max(1000, 'at most 1000 hosts').default([]),
    checks: z.array(checkName).max(100, 'at most 100 checks').default([]),
  })
  .strict();

export const statusSettings = z
  .object({
    /** The page's heading; default "<facility> status". */
    title: noControl('title', 120).optional(),
    /** Show the six standard components (login, batch, storage-home, storage-archive, authentication, web). */
    standardComponents: z.boolean().default(true),
    /** Standard components to leave out, by name. */
    hide: z.array(componentName).max(20).default([]),
    /** The site's components; one with a standard component's name replaces it. */
    components: z.array(componentInput).max(100, 'at most 100 components').default([]),
    /** Resolved incidents stay listed this many days. */
    recentDays: z.number().int().min(0).max(90).default(7),
    /** How often the server evaluates the states (and records changes) besides on each request. */
    evaluateEvery: duration.default(parseDuration('60s')).refine((ms) => ms >= 5_000, 'status.evaluateEvery must be at least 5s'),
    /** Incidents of these sources show on the public page and drive its states (default: all, so a new source shows). */
    incidentSources: z.array(z.enum(SOURCES, { error: `incidentSources: each one of ${SOURCES.join(', ')}` })).default([...SOURCES]),
    /** The page's public address, for the feeds' links; default the server's URL. */
    publicUrl: z.url({ error: 'publicUrl must be a URL such as https://status.example.org' }).optional(),
  })
  .strict()
  .superRefine((settings, ctx) => {
    const seen = new Set<string>();
    settings.components.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: ['components', i, 'name'], message: `component ${c.name} is defined twice` });
      seen.add(c.name);
    });
    settings.hide.forEach((name, i) => {
      if (!STANDARD_COMPONENTS.some((c) => c.name === name)) {
        ctx.addIssue({ code: 'custom', path: ['hide', i], message: `${name} is not a standard component: hide one of ${STANDARD_COMPONENTS.map((c) => c.name).join(', ')}` });
      }
    });
  });
export type StatusSettings = z.output<typeof statusSettings>;

export const DEFAULT_STATUS_SETTINGS: StatusSettings = statusSettings.parse({});

/** The components shown, in order: the standard ones (replaced by a site's of the same name, or hidden), then the site's. */
export function componentsOf(settings: StatusSettings): ComponentDef[] {
  const own = settings.components.map((c): ComponentDef => ({ name: c.name, displayName: c.displayName.trim(), description: c.description, services: c.services ?? [c.name], hosts: c.hosts, checks: c.checks }));
  const standard = settings.standardComponents ? STANDARD_COMPONENTS.filter((c) => !settings.hide.includes(c.name)).map((c) => own.find((o) => o.name === c.name) ?? { ...c }) : [];
  return [...standard, ...own.filter((o) => !standard.some((s) => s.name === o.name))];
}
