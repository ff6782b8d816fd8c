import type { Kysely, Selectable } from 'kysely';
import type { Database, InventoryGroupTable, InventoryHostTable, InventoryServiceTable } from '../../db/schema.ts';
import type { GroupSpec, HostSpec, ServiceSpec } from './model.ts';

/** Database access for the inventory entries made through the API. No rules here: the service decides. */
export type Tx = Kysely<Database>;
type HostRow = Selectable<InventoryHostTable>;
type ServiceRow = Selectable<InventoryServiceTable>;
type GroupRow = Selectable<InventoryGroupTable>;

/** An entry with who made it and when. */
export interface Stored<T> {
  spec: T;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

const list = (text: string): string[] => {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value.map(String) : [];
};
const map = (text: string): Record<string, string> => {
  const value: unknown = JSON.parse(text);
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)])) : {};
};
const stamps = (row: { created_by: string; created_at: string; updated_at: string }) => ({ createdBy: row.created_by, createdAt: row.created_at, updatedAt: row.updated_at });

const hostOf = (row: HostRow): Stored<HostSpec> => ({ spec: { name: row.name, roles: list(row.roles), addresses: list(row.addresses), macs: map(row.macs), notes: row.notes }, ...stamps(row) });
const serviceOf = (row: ServiceRow): Stored<ServiceSpec> => ({ spec: { name: row.name, critical: row.critical === 1, hosts: list(row.hosts), notes: row.notes }, ...stamps(row) });
const groupOf = (row: GroupRow): Stored<GroupSpec> => ({
  spec: { name: row.name, members: list(row.members), minHealthy: row.min_healthy, service: row.service, notes: row.notes },
  ...stamps(row),
});

export async function listHosts(db: Tx): Promise<Stored<HostSpec>[]> {
  return (await db.selectFrom('inventory_hosts').selectAll().orderBy('name').execute()).map(hostOf);
}
export async function listServices(db: Tx): Promise<Stored<ServiceSpec>[]> {
  return (await db.selectFrom('inventory_services').selectAll().orderBy('name').execute()).map(serviceOf);
}
export async function listGroups(db: Tx): Promise<Stored<GroupSpec>[]> {
  return (await db.selectFrom('inventory_groups').selectAll().orderBy('name').execute()).map(groupOf);
}

const hostValues = (spec: HostSpec) => ({ roles: JSON.stringify(spec.roles), addresses: JSON.stringify(spec.addresses), macs: JSON.stringify(spec.macs), notes: spec.notes });
const serviceValues = (spec: ServiceSpec) => ({ critical: spec.critical ? 1 : 0, hosts: JSON.stringify(spec.hosts), notes: spec.notes });
const groupValues = (spec: GroupSpec) => ({ members: JSON.stringify(spec.members), min_healthy: spec.minHealthy, service: spec.service, notes: spec.notes });

export async function insertHost(db: Tx, spec: HostSpec, by: string, at: Date): Promise<void> {
  await db.insertInto('inventory_hosts').values({ name: spec.name, ...hostValues(spec), created_by: by, created_at: at.toISOString(), updated_at: at.toISOString() }).execute();
}
export async function insertService(db: Tx, spec: ServiceSpec, by: string, at: Date): Promise<void> {
  await db.insertInto('inventory_services').values({ name: spec.name, ...serviceValues(spec), created_by: by, created_at: at.toISOString(), updated_at: at.toISOString() }).execute();
}
export async function insertGroup(db: Tx, spec: GroupSpec, by: string, at: Date): Promise<void> {
  await db.insertInto('inventory_groups').values({ name: spec.name, ...groupValues(spec), created_by: by, created_at: at.toISOString(), updated_at: at.toISOString() }).execute();
}

export async function updateHost(db: Tx, spec: HostSpec, at: Date): Promise<void> {
  await db.updateTable('inventory_hosts').set({ ...hostValues(spec), updated_at: at.toISOString() }).where('name', '=', spec.name).execute();
}
export async function updateService(db: Tx, spec: ServiceSpec, at: Date): Promise<void> {
  await db.updateTable('inventory_services').set({ ...serviceValues(spec), updated_at: at.toISOString() }).where('name', '=', spec.name).execute();
}
export async function updateGroup(db: Tx, spec: GroupSpec, at: Date): Promise<void> {
  await db.updateTable('inventory_groups').set({ ...groupValues(spec), updated_at: at.toISOString() }).where('name', '=', spec.name).execute();
}

export async function deleteEntry(db: Tx, table: 'inventory_hosts' | 'inventory_services' | 'inventory_groups', name: string): Promise<void> {
  await db.deleteFrom(table).where('name', '=', name).execute();
}
