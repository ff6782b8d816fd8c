import type { Kysely } from 'kysely';
import { auditedChange, auditedRefusal, writeAudit } from '../../accounts/audit.ts';
import type { Actor } from '../../accounts/model.ts';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { conflict, forbidden, invalidInput, notFound } from '../../lib/errors.ts';
import {
  groupInput,
  hostInput,
  inventoryProblems,
  serviceInput,
  type Group,
  type GroupPatch,
  type GroupSpec,
  type Host,
  type HostHealth,
  type HostPatch,
  type HostSpec,
  type InventorySettings,
  type InventorySpec,
  type Service,
  type ServicePatch,
  type ServiceSpec,
  type Source,
  type TakeDownCheck,
} from './model.ts';
import { checkTakeDown, groupStatus, hostHealth, sameHost, type AlertView, type CheckView, type MonitorView } from './redundancy.ts';
import * as store from './store.ts';

type Tx = Kysely<Database>;

/** What the inventory reads of the monitoring room (MonitorHub and AlertsService in the server). */
export interface HealthSource {
  /** Every host the hub has heard of (MonitorHub.hosts). */
  hosts(nowMs: number): (MonitorView & { host: string })[];
  /** The latest result of every check of one host, as the hub names it (MonitorHub.latestChecks). */
  checks(host: string): CheckView[];
  /** Firing alerts, with their `host` label when they have one. */
  firingAlerts(): Promise<(AlertView & { host: string | undefined })[]>;
}

/** No monitoring: every host's health is unknown (tests of other rooms). */
export const noHealthSource: HealthSource = { hosts: () => [], checks: () => [], firingAlerts: async () => [] };

interface Entry<T> {
  spec: T;
  source: Source;
  createdBy: string | null;
  createdAt: string | null;
  updatedAt: string | null;
}
interface Snapshot {
  hosts: Entry<HostSpec>[];
  services: Entry<ServiceSpec>[];
  groups: Entry<GroupSpec>[];
}
type Kind = 'host' | 'service' | 'group';
const SECTION: Record<Kind, 'hosts' | 'services' | 'groups'> = { host: 'hosts', service: 'services', group: 'groups' };
const TABLE = { host: 'inventory_hosts', service: 'inventory_services', group: 'inventory_groups' } as const;

/** Expected MACs of an inventory address, for the duplicate-IP check (GET /api/monitor/agent-checks). */
export interface ExpectedAddress {
  address: string;
  host: string;
  macs: string[];
}

/**
 * The inventory: hosts, services and redundancy groups from keisan.yaml (`source: config`, loaded
 * at start, read-only here) and from operators through the API (`source: api`, in the database).
 * A name defined in keisan.yaml wins over a stored entry of the same name. Reading and changing
 * are for operators; every change is audited with its entry, refusals too.
 */
export class InventoryService {
  private readonly config: Snapshot;
  private readonly configSpec: InventorySpec;

  constructor(
    private readonly o: {
      db: Kysely<Database>;
      clock: Clock;
      config: InventorySettings | undefined;
      health: HealthSource;
    },
  ) {
    const spec: InventorySpec = { hosts: o.config?.hosts ?? [], services: o.config?.services ?? [], groups: o.config?.groups ?? [] };
    this.configSpec = spec;
    const fromConfig = <T>(items: T[]): Entry<T>[] => items.map((item) => ({ spec: item, source: 'config', createdBy: null, createdAt: null, updatedAt: null }));
    this.config = { hosts: fromConfig(spec.hosts), services: fromConfig(spec.services), groups: fromConfig(spec.groups) };
  }

  private now(): Date {
    return this.o.clock.now();
  }

  // ---------------------------------------------------------------- reading

  private async snapshot(db: Tx): Promise<Snapshot> {
    const [hosts, services, groups] = await Promise.all([store.listHosts(db), store.listServices(db), store.listGroups(db)]);
    const merge = <T extends { name: string }>(config: Entry<T>[], stored: store.Stored<T>[]): Entry<T>[] => {
      const taken = new Set(config.map((e) => e.spec.name));
      const api: Entry<T>[] = stored.filter((s) => !taken.has(s.spec.name)).map((s) => ({ ...s, source: 'api' }));
      return [...config, ...api].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
    };
    return { hosts: merge(this.config.hosts, hosts), services: merge(this.config.services, services), groups: merge(this.config.groups, groups) };
  }

  private readCheck(actor: Actor): void {
    if (!actor.isOperator) throw forbidden('only an operator may read the inventory');
  }

  /** Every inventory host's health now, from the monitor's view, its firing alerts and its checks. */
  private async healthOf(hosts: readonly string[]): Promise<Map<string, HostHealth>> {
    const now = this.now();
    const seen = this.o.health.hosts(now.getTime());
    const alerts = await this.o.health.firingAlerts();
    const result = new Map<string, HostHealth>();
    for (const host of hosts) {
      const monitored = seen.find((s) => s.host.toLowerCase() === host) ?? seen.find((s) => sameHost(s.host, host));
      result.set(
        host,
        hostHealth(
          {
            host,
            monitor: monitored,
            checks: monitored ? this.o.health.checks(monitored.host) : [],
            alerts: alerts.filter((a) => a.host !== undefined && sameHost(a.host, host)),
          },
          now,
        ),
      );
    }
    return result;
  }

  private static unknownHealth(host: string): HostHealth {
    return { state: 'unknown', reason: `${host} is not in the inventory` };
  }

  private async views(db: Tx): Promise<{ snap: Snapshot; health: Map<string, HostHealth> }> {
    const snap = await this.snapshot(db);
    return { snap, health: await this.healthOf(snap.hosts.map((h) => h.spec.name)) };
  }

  private hostView(e: Entry<HostSpec>, snap: Snapshot, health: Map<string, HostHealth>): Host {
    const { spec, ...rest } = e;
    return {
      ...spec,
      ...rest,
      health: health.get(spec.name) ?? InventoryService.unknownHealth(spec.name),
      services: snap.services.filter((s) => s.spec.hosts.includes(spec.name)).map((s) => s.spec.name),
      groups: snap.groups.filter((g) => g.spec.members.includes(spec.name)).map((g) => g.spec.name),
    };
  }

  private serviceView(e: Entry<ServiceSpec>, snap: Snapshot): Service {
    const { spec, ...rest } = e;
    return { ...spec, ...rest, groups: snap.groups.filter((g) => g.spec.service === spec.name).map((g) => g.spec.name) };
  }

  private groupView(e: Entry<GroupSpec>, health: Map<string, HostHealth>): Group {
    const { spec, ...rest } = e;
    const of = (host: string) => health.get(host) ?? InventoryService.unknownHealth(host);
    const status = groupStatus(spec, of);
    return { ...spec, ...rest, ...status, memberHealth: spec.members.map((host) => ({ host, ...of(host) })) };
  }

  async listHosts(actor: Actor): Promise<Host[]> {
    this.readCheck(actor);
    const { snap, health } = await this.views(this.o.db);
    return snap.hosts.map((e) => this.hostView(e, snap, health));
  }

  async getHost(actor: Actor, name: string): Promise<Host> {
    this.readCheck(actor);
    const { snap, health } = await this.views(this.o.db);
    return this.hostView(this.find(snap.hosts, 'host', name), snap, health);
  }

  async listServices(actor: Actor): Promise<Service[]> {
    this.readCheck(actor);
    const snap = await this.snapshot(this.o.db);
    return snap.services.map((e) => this.serviceView(e, snap));
  }

  async getService(actor: Actor, name: string): Promise<Service> {
    this.readCheck(actor);
    const snap = await this.snapshot(this.o.db);
    return this.serviceView(this.find(snap.services, 'service', name), snap);
  }

  async listGroups(actor: Actor): Promise<Group[]> {
    this.readCheck(actor);
    const { snap, health } = await this.views(this.o.db);
    return snap.groups.map((e) => this.groupView(e, health));
  }

  async getGroup(actor: Actor, name: string): Promise<Group> {
    this.readCheck(actor);
    const { snap, health } = await this.views(this.o.db);
    return this.groupView(this.find(snap.groups, 'group', name), health);
  }

  /**
   * The redundancy guard on the inventory as it is now: would taking `targets` down leave a group
   * below its minimum, or act on a host while its partner is unhealthy? Asking changes nothing
   * and is not audited (the maintenance planner audits what it does with the answer).
   */
  async checkTakeDown(actor: Actor, targets: readonly string[]): Promise<TakeDownCheck> {
    this.readCheck(actor);
    const { snap, health } = await this.views(this.o.db);
    const names = new Set(snap.hosts.map((h) => h.spec.name));
    return checkTakeDown(
      snap.groups.map((g) => g.spec),
      (host) => health.get(host) ?? InventoryService.unknownHealth(host),
      targets,
      (host) => names.has(host),
    );
  }

  /** IPv4 addresses of the inventory's hosts that have expected MACs (the duplicate-IP check's `expected`). */
  async expectedAddresses(): Promise<ExpectedAddress[]> {
    const snap = await this.snapshot(this.o.db);
    return snap.hosts
      .filter((h) => Object.keys(h.spec.macs).length > 0)
      .flatMap((h) =>
        h.spec.addresses.filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a)).map((address) => ({ address, host: h.spec.name, macs: [...new Set(Object.values(h.spec.macs))].sort() })),
      );
  }

  // ---------------------------------------------------------------- changes (operators)

  private find<T extends { name: string }>(entries: Entry<T>[], kind: Kind, name: string): Entry<T> {
    const entry = entries.find((e) => e.spec.name === name.toLowerCase());
    if (!entry) throw notFound(kind, name);
    return entry;
  }

  private async requireOperator(actor: Actor, action: string, kind: Kind, name: string): Promise<void> {
    if (actor.isOperator) return;
    throw await auditedRefusal(this.o.db, { actor, action, targetType: kind, target: name }, `only an operator may change the inventory`, this.now());
  }

  /**
   * A keisan.yaml entry is read-only here: the refusal is audited and answered 409. Checked before
   * the change's transaction (keisan.yaml entries do not change while the server runs).
   */
  private async refuseConfig(actor: Actor, action: string, kind: Kind, name: string): Promise<void> {
    const entry = (this.config[SECTION[kind]] as Entry<{ name: string }>[]).find((e) => e.spec.name === name.toLowerCase());
    if (!entry) return;
    const reason =
      `${kind} ${entry.spec.name} is defined in keisan.yaml (inventory.${SECTION[kind]}): entries from keisan.yaml are read-only through the API — ` +
      `change it in keisan.yaml and restart the server`;
    await writeAudit(this.o.db, { actor, action, targetType: kind, target: entry.spec.name, outcome: 'denied', detail: { reason } }, this.now());
    throw conflict(reason);
  }

  /**
   * Problems a change would bring into the inventory; the first few become one INVALID_INPUT.
   * Problems already there before it (an API group naming a host that keisan.yaml no longer
   * defines) do not block unrelated changes: `keisan ops groups set` fixes them.
   */
  private validate(before: Snapshot, after: Snapshot): void {
    const messages = (snap: Snapshot) => {
      const spec: InventorySpec = { hosts: snap.hosts.map((e) => e.spec), services: snap.services.map((e) => e.spec), groups: snap.groups.map((e) => e.spec) };
      return inventoryProblems(spec).map((p) => p.message);
    };
    const old = new Set(messages(before));
    const problems = messages(after).filter((m) => !old.has(m));
    if (problems.length > 0) throw invalidInput(problems.slice(0, 5).join('; '), { problems });
  }

  /**
   * A change and its audit entry in one transaction. Changes run one at a time in this server
   * (there is one server process): the references checked across entries (a group's members, a
   * service's hosts) cannot be broken by a concurrent change between the check and the write,
   * whatever the database's isolation level.
   */
  private change<T>(actor: Actor, action: string, kind: Kind, name: string, detail: Record<string, unknown>, work: (tx: Tx) => Promise<T>): Promise<T> {
    const run = () => auditedChange(this.o.db, { actor, action, targetType: kind, target: name, detail }, () => this.now(), work, `${kind} ${name} was changed at the same time by someone else; try again`);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }
  private queue: Promise<unknown> = Promise.resolve();

  private replace<T extends { name: string }>(entries: Entry<T>[], spec: T): Entry<T>[] {
    const at = this.now().toISOString();
    const others = entries.filter((e) => e.spec.name !== spec.name);
    const before = entries.find((e) => e.spec.name === spec.name);
    return [...others, { spec, source: 'api', createdBy: before?.createdBy ?? null, createdAt: before?.createdAt ?? at, updatedAt: at }];
  }

  /** Refuses removing an entry others refer to, naming them. */
  private static referrers(snap: Snapshot, kind: Kind, name: string): string[] {
    if (kind === 'host') {
      return [
        ...snap.services.filter((s) => s.spec.hosts.includes(name)).map((s) => `service ${s.spec.name}`),
        ...snap.groups.filter((g) => g.spec.members.includes(name)).map((g) => `group ${g.spec.name}`),
      ];
    }
    if (kind === 'service') return snap.groups.filter((g) => g.spec.service === name).map((g) => `group ${g.spec.name}`);
    return [];
  }

  private async add<K extends Kind, T extends { name: string }>(actor: Actor, kind: K, spec: T, insert: (tx: Tx, spec: T, by: string, at: Date) => Promise<void>): Promise<void> {
    const action = `inventory.${kind}.add`;
    await this.requireOperator(actor, action, kind, spec.name);
    await this.change(actor, action, kind, spec.name, { ...spec }, async (tx) => {
      const snap = await this.snapshot(tx);
      const section = snap[SECTION[kind]] as unknown as Entry<T>[];
      const existing = section.find((e) => e.spec.name === spec.name);
      if (existing) throw conflict(`${kind} ${spec.name} already exists${existing.source === 'config' ? ' (defined in keisan.yaml)' : ''}: change it with set, or choose another name`);
      this.validate(snap, { ...snap, [SECTION[kind]]: this.replace(section, spec) });
      await insert(tx, spec, actor.name, this.now());
    });
  }

  private async set<K extends Kind, T extends { name: string }>(actor: Actor, kind: K, name: string, patch: Partial<T>, update: (tx: Tx, spec: T, at: Date) => Promise<void>): Promise<void> {
    const action = `inventory.${kind}.set`;
    await this.requireOperator(actor, action, kind, name);
    await this.refuseConfig(actor, action, kind, name);
    await this.change(actor, action, kind, name, { ...patch }, async (tx) => {
      const snap = await this.snapshot(tx);
      const entry = this.find(snap[SECTION[kind]] as unknown as Entry<T>[], kind, name);
      const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
      const spec: T = { ...entry.spec, ...defined };
      const section = snap[SECTION[kind]] as unknown as Entry<T>[];
      this.validate(snap, { ...snap, [SECTION[kind]]: this.replace(section, spec) });
      await update(tx, spec, this.now());
    });
  }

  private async remove(actor: Actor, kind: Kind, name: string): Promise<void> {
    const action = `inventory.${kind}.rm`;
    await this.requireOperator(actor, action, kind, name);
    await this.refuseConfig(actor, action, kind, name);
    await this.change(actor, action, kind, name, {}, async (tx) => {
      const snap = await this.snapshot(tx);
      const entry = this.find(snap[SECTION[kind]] as Entry<{ name: string }>[], kind, name);
      const users = InventoryService.referrers(snap, kind, entry.spec.name);
      if (users.length > 0) throw conflict(`${kind} ${entry.spec.name} is still named by ${users.join(', ')}: change or remove those first`);
      await store.deleteEntry(tx, TABLE[kind], entry.spec.name);
    });
  }

  async addHost(actor: Actor, input: unknown): Promise<Host> {
    const spec = parseEntry(hostInput, input, 'host');
    await this.add(actor, 'host', spec, store.insertHost);
    return this.getHost(actor, spec.name);
  }
  async setHost(actor: Actor, name: string, patch: HostPatch): Promise<Host> {
    await this.set<'host', HostSpec>(actor, 'host', name, patch, store.updateHost);
    return this.getHost(actor, name);
  }
  async removeHost(actor: Actor, name: string): Promise<void> {
    await this.remove(actor, 'host', name);
  }

  async addService(actor: Actor, input: unknown): Promise<Service> {
    const spec = parseEntry(serviceInput, input, 'service');
    await this.add(actor, 'service', spec, store.insertService);
    return this.getService(actor, spec.name);
  }
  async setService(actor: Actor, name: string, patch: ServicePatch): Promise<Service> {
    await this.set<'service', ServiceSpec>(actor, 'service', name, patch, store.updateService);
    return this.getService(actor, name);
  }
  async removeService(actor: Actor, name: string): Promise<void> {
    await this.remove(actor, 'service', name);
  }

  async addGroup(actor: Actor, input: unknown): Promise<Group> {
    const spec = parseEntry(groupInput, input, 'group');
    await this.add(actor, 'group', spec, store.insertGroup);
    return this.getGroup(actor, spec.name);
  }
  async setGroup(actor: Actor, name: string, patch: GroupPatch): Promise<Group> {
    await this.set<'group', GroupSpec>(actor, 'group', name, patch, store.updateGroup);
    return this.getGroup(actor, name);
  }
  async removeGroup(actor: Actor, name: string): Promise<void> {
    await this.remove(actor, 'group', name);
  }

  /** The keisan.yaml part, as loaded (tests, `keisan ops` help). */
  get fromConfig(): InventorySpec {
    return this.configSpec;
  }
}

/** Bodies arrive validated by the routes; this parses again for direct callers (and applies defaults). */
function parseEntry<S extends typeof hostInput | typeof serviceInput | typeof groupInput>(schema: S, input: unknown, what: string): ReturnType<S['parse']> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw invalidInput(`${what}: ${parsed.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ')}`);
  }
  return parsed.data as ReturnType<S['parse']>;
}
