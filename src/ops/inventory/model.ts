import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * The facility's inventory: hosts (roles, addresses, expected MAC addresses), the services they
 * provide, and redundancy groups with the minimum number of healthy members each needs. Entries
 * come from keisan.yaml `inventory:` (source `config`, read-only through the API) or from
 * operators through the API/CLI (source `api`, stored in the database).
 *
 * This module must not import src/lib/config.ts (config.ts imports `inventorySettings` from here).
 */

/** One DNS label: a-z, 0-9 and -, not starting or ending with -, at most 63 characters (RFC 1123). */
export const LABEL_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const LABEL_RULE = 'a-z, 0-9 and -, not starting or ending with -, at most 63 characters';

/** A host name: one or more labels separated by dots (login1, mgmt1.hpc.example.org), at most 253 characters. */
export const HOST_NAME_PATTERN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Roles are an open set: these are the ones Keisan documents (docs/operator-guide.md); a site
 * may use any other word that is a valid label (gpu, dtn, slurmctld…).
 */
export const KNOWN_ROLES = ['login', 'compute', 'storage', 'management', 'auth', 'server', 'web', 'archive', 'network', 'database'] as const;

/** Service names the issue names; any other label is accepted too. */
export const KNOWN_SERVICES = ['login', 'batch', 'storage-home', 'storage-archive', 'authentication', 'web', 'management'] as const;

const label = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .trim()
    .toLowerCase()
    .regex(LABEL_PATTERN, `${what} is not valid: ${LABEL_RULE}`);

export const hostName = z
  .string({ error: 'host name must be a string' })
  .trim()
  .toLowerCase()
  .regex(HOST_NAME_PATTERN, `host name is not valid: labels of ${LABEL_RULE}, separated by dots, at most 253 characters`);
export const roleName = label('role');
export const serviceName = label('service name');
export const groupName = label('group name');

/** An interface name as Linux allows it (at most 15 characters, no / or spaces). */
export const interfaceName = z
  .string({ error: 'interface name must be a string' })
  .regex(/^[A-Za-z0-9_.@:-]{1,15}$/, 'interface name is not valid: at most 15 characters of A-Z, a-z, 0-9, _ . @ : -');

/** An IPv4 or IPv6 address, without a prefix length; IPv6 is kept lower-case. */
export const ipAddress = z
  .string({ error: 'address must be a string' })
  .trim()
  .refine((value) => isIP(value) !== 0, { error: (issue) => `'${String(issue.input)}' is not an IPv4 or IPv6 address (write it without a /prefix)` })
  .transform((value) => value.toLowerCase());

/** aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff or aabbccddeeff → aa:bb:cc:dd:ee:ff. */
export function normaliseMac(text: string): string | null {
  const value = text.trim().toLowerCase();
  let hex: string | null = null;
  if (/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/.test(value)) hex = value.replace(/[:-]/g, '');
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(value)) hex = value.replace(/\./g, '');
  else if (/^[0-9a-f]{12}$/.test(value)) hex = value;
  if (hex === null) return null;
  return hex.match(/../g)!.join(':');
}

export const macAddress = z
  .string({ error: 'MAC address must be a string' })
  .transform((value, ctx) => {
    const mac = normaliseMac(value);
    if (mac === null) {
      ctx.addIssue({ code: 'custom', message: `'${value}' is not a MAC address: write six hexadecimal pairs, e.g. 52:54:00:12:34:56` });
      return z.NEVER;
    }
    if (mac === '00:00:00:00:00:00' || mac === 'ff:ff:ff:ff:ff:ff') {
      ctx.addIssue({ code: 'custom', message: `${mac} is not a device's MAC address` });
      return z.NEVER;
    }
    return mac;
  });

export const notes = z.string({ error: 'notes must be a string' }).max(2000, 'notes are longer than 2000 characters');

const unique = <T extends z.ZodType<string, unknown>>(item: T, what: string) =>
  z.array(item).superRefine((values, ctx) => {
    const seen = new Set<string>();
    values.forEach((value, index) => {
      if (seen.has(value)) ctx.addIssue({ code: 'custom', path: [index], message: `${what} ${value} is listed twice` });
      seen.add(value);
    });
  });

export const hostFields = {
  roles: unique(roleName, 'role').max(32, 'at most 32 roles'),
  addresses: unique(ipAddress, 'address').max(64, 'at most 64 addresses'),
  macs: z.record(interfaceName, macAddress).refine((macs) => Object.keys(macs).length <= 64, 'at most 64 interfaces'),
  notes,
};
export const serviceFields = {
  critical: z.boolean({ error: 'critical must be true or false' }),
  hosts: unique(hostName, 'host').max(1000, 'at most 1000 hosts'),
  notes,
};
export const groupFields = {
  members: unique(hostName, 'member').min(1, 'a group needs at least one member').max(1000, 'at most 1000 members'),
  minHealthy: z.number({ error: 'minHealthy must be a whole number' }).int('minHealthy must be a whole number').min(1, 'minHealthy must be at least 1'),
  service: serviceName.nullable(),
  notes,
};

// ---- keisan.yaml `inventory:` and API request bodies (strict: unknown fields are named) ----

export const hostInput = z
  .object({
    name: hostName,
    roles: hostFields.roles.default([]),
    addresses: hostFields.addresses.default([]),
    macs: hostFields.macs.default({}).describe('interface → expected MAC address'),
    notes: notes.default(''),
  })
  .strict();
export type HostInput = z.input<typeof hostInput>;
export type HostSpec = z.output<typeof hostInput>;

export const serviceInput = z
  .object({
    name: serviceName,
    critical: serviceFields.critical.default(false),
    hosts: serviceFields.hosts.default([]).describe('the hosts that provide it'),
    notes: notes.default(''),
  })
  .strict();
export type ServiceInput = z.input<typeof serviceInput>;
export type ServiceSpec = z.output<typeof serviceInput>;

export const groupInput = z
  .object({
    name: groupName,
    members: groupFields.members,
    minHealthy: groupFields.minHealthy.describe('how many members must stay healthy (management pair 1, authentication 2 of 3, login 1)'),
    service: groupFields.service.default(null).describe('the service the group backs'),
    notes: notes.default(''),
  })
  .strict();
export type GroupInput = z.input<typeof groupInput>;
export type GroupSpec = z.output<typeof groupInput>;

export const hostPatch = z
  .object({ roles: hostFields.roles.optional(), addresses: hostFields.addresses.optional(), macs: hostFields.macs.optional(), notes: notes.optional() })
  .strict();
export type HostPatch = z.output<typeof hostPatch>;
export const servicePatch = z.object({ critical: serviceFields.critical.optional(), hosts: serviceFields.hosts.optional(), notes: notes.optional() }).strict();
export type ServicePatch = z.output<typeof servicePatch>;
export const groupPatch = z
  .object({ members: groupFields.members.optional(), minHealthy: groupFields.minHealthy.optional(), service: groupFields.service.optional(), notes: notes.optional() })
  .strict();
export type GroupPatch = z.output<typeof groupPatch>;

/**
 * Problems across entries: duplicate names, an address or MAC claimed by two hosts, services and
 * groups naming hosts or services that are not defined, a minimum above the member count.
 * Pure; keisan.yaml and the API both use it. Each problem names the entry and the field.
 */
export interface InventorySpec {
  hosts: HostSpec[];
  services: ServiceSpec[];
  groups: GroupSpec[];
}
export interface InventoryProblem {
  path: (string | number)[];
  message: string;
}

export function inventoryProblems(spec: InventorySpec, where = (kind: string, index: number) => [kind, index] as (string | number)[]): InventoryProblem[] {
  const problems: InventoryProblem[] = [];
  const names = (kind: 'hosts' | 'services' | 'groups', entries: { name: string }[]) => {
    const seen = new Map<string, number>();
    entries.forEach((entry, index) => {
      const first = seen.get(entry.name);
      if (first !== undefined) problems.push({ path: [...where(kind, index), 'name'], message: `${kind.slice(0, -1)} ${entry.name} is defined twice (also entry ${first})` });
      else seen.set(entry.name, index);
    });
    return seen;
  };
  const hosts = names('hosts', spec.hosts);
  const services = names('services', spec.services);
  names('groups', spec.groups);
  const addressOwner = new Map<string, string>();
  const macOwner = new Map<string, string>();
  spec.hosts.forEach((host, index) => {
    host.addresses.forEach((address, i) => {
      const owner = addressOwner.get(address);
      if (owner !== undefined && owner !== host.name) problems.push({ path: [...where('hosts', index), 'addresses', i], message: `host ${host.name}: address ${address} is already host ${owner}'s` });
      else addressOwner.set(address, host.name);
    });
    for (const [iface, mac] of Object.entries(host.macs)) {
      const owner = macOwner.get(mac);
      if (owner !== undefined && owner !== host.name) problems.push({ path: [...where('hosts', index), 'macs', iface], message: `host ${host.name}: MAC ${mac} (${iface}) is already host ${owner}'s` });
      else macOwner.set(mac, host.name);
    }
  });
  spec.services.forEach((service, index) => {
    service.hosts.forEach((host, i) => {
      if (!hosts.has(host)) problems.push({ path: [...where('services', index), 'hosts', i], message: `service ${service.name}: host ${host} is not in the inventory's hosts` });
    });
  });
  spec.groups.forEach((group, index) => {
    group.members.forEach((member, i) => {
      if (!hosts.has(member)) problems.push({ path: [...where('groups', index), 'members', i], message: `group ${group.name}: member ${member} is not in the inventory's hosts` });
    });
    if (group.service !== null && !services.has(group.service)) {
      problems.push({ path: [...where('groups', index), 'service'], message: `group ${group.name}: service ${group.service} is not in the inventory's services` });
    }
    if (group.minHealthy > group.members.length) {
      problems.push({ path: [...where('groups', index), 'minHealthy'], message: `group ${group.name}: minHealthy is ${group.minHealthy} but it has ${group.members.length} member(s)` });
    }
  });
  return problems;
}

/** keisan.yaml `inventory:` — loaded at start; these entries are read-only through the API. */
export const inventorySettings = z
  .object({
    hosts: z.array(hostInput).max(10_000).default([]),
    services: z.array(serviceInput).max(1000).default([]),
    groups: z.array(groupInput).max(1000).default([]),
  })
  .strict()
  .superRefine((spec, ctx) => {
    // Names in messages: "inventory.groups.0.members.1: group management: member mgmt3 is not in the inventory's hosts".
    for (const problem of inventoryProblems(spec)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  });
export type InventorySettings = z.output<typeof inventorySettings>;

// ---- what the API answers ----

export const SOURCES = ['config', 'api'] as const;
export type Source = (typeof SOURCES)[number];
const timestamp = z.string().describe('ISO-8601 UTC time');

export const HEALTH_STATES = ['healthy', 'degraded', 'down', 'unknown'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];
export const healthSchema = z.object({
  state: z.enum(HEALTH_STATES),
  reason: z.string().describe('why, in one line: the monitor\'s view, a firing critical alert or a critical check'),
});
export type HostHealth = z.infer<typeof healthSchema>;

const provenance = {
  source: z.enum(SOURCES).describe('config: keisan.yaml (read-only here); api: made through the API'),
  createdBy: z.string().nullable(),
  createdAt: timestamp.nullable(),
  updatedAt: timestamp.nullable(),
};

export const hostSchema = z.object({
  name: z.string(),
  roles: z.array(z.string()),
  addresses: z.array(z.string()),
  macs: z.record(z.string(), z.string()),
  notes: z.string(),
  ...provenance,
  health: healthSchema,
  services: z.array(z.string()).describe('services this host provides'),
  groups: z.array(z.string()).describe('redundancy groups it is a member of'),
});
export type Host = z.infer<typeof hostSchema>;

export const serviceSchema = z.object({
  name: z.string(),
  critical: z.boolean(),
  hosts: z.array(z.string()),
  notes: z.string(),
  ...provenance,
  groups: z.array(z.string()).describe('redundancy groups that back it'),
});
export type Service = z.infer<typeof serviceSchema>;

export const GROUP_STATES = ['OK', 'AT-RISK', 'BROKEN'] as const;
export type GroupState = (typeof GROUP_STATES)[number];

export const groupSchema = z.object({
  name: z.string(),
  members: z.array(z.string()),
  minHealthy: z.number().int(),
  service: z.string().nullable(),
  notes: z.string(),
  ...provenance,
  healthy: z.number().int().describe('members healthy now'),
  total: z.number().int(),
  state: z.enum(GROUP_STATES).describe('BROKEN: fewer healthy than the minimum; AT-RISK: a member is unhealthy or there is no spare; OK otherwise'),
  reason: z.string(),
  memberHealth: z.array(z.object({ host: z.string(), state: z.enum(HEALTH_STATES), reason: z.string() })),
});
export type Group = z.infer<typeof groupSchema>;

export const REFUSAL_KINDS = ['below-minimum', 'partner-unhealthy'] as const;
export const takeDownSchema = z.object({
  allowed: z.boolean(),
  targets: z.array(z.string()),
  unknownTargets: z.array(z.string()).describe('targets not in the inventory: no group is known to need them'),
  refusals: z.array(z.object({ group: z.string(), kind: z.enum(REFUSAL_KINDS), hosts: z.array(z.string()), reason: z.string() })),
  groups: z.array(
    z.object({
      group: z.string(),
      targets: z.array(z.string()),
      total: z.number().int(),
      minHealthy: z.number().int(),
      healthyNow: z.number().int(),
      healthyAfter: z.number().int(),
    }),
  ),
});
export type TakeDownCheck = z.infer<typeof takeDownSchema>;

export const takeDownInput = z
  .object({ hosts: z.array(hostName).min(1, 'name at least one host').max(1000, 'at most 1000 hosts') })
  .strict();
