import type { AccountsService } from '../accounts/service.ts';
import type { BatchService } from '../batch/service.ts';
import type { Db } from '../db/connection.ts';
import type { DevicesService } from '../devices/service.ts';
import type { IncidentService } from '../incidents/service.ts';
import type { StatusService } from '../incidents/status/service.ts';
import type { Clock } from '../lib/clock.ts';
import type { Settings } from '../lib/config.ts';
import type { AlertsService } from '../monitor/alerts/service.ts';
import type { MonitorHub } from '../monitor/hub.ts';
import type { MailService } from '../monitor/service.ts';
import type { DaemonsService } from '../ops/daemons.ts';
import type { InventoryService } from '../ops/inventory/service.ts';
import type { PowerService } from '../ops/power/service.ts';
import type { MaintenanceService } from '../ops/maint/service.ts';
import type { RunbookService } from '../ops/runbooks/service.ts';
import type { RecoveryService } from '../recovery/service.ts';
import type { AreasService } from '../storage/areas/service.ts';
import type { HsmService } from '../storage/hsm/service.ts';
import type { StorageService } from '../storage/service.ts';

/** What route modules get: the services, never the raw database. */
export interface ServerContext {
  settings: Settings;
  clock: Clock;
  version: string;
  database: Pick<Db, 'dialect' | 'location'>;
  accounts: AccountsService;
  daemons: DaemonsService;
  batch: BatchService;
  devices: DevicesService;
  /** Incidents, their timelines, checklists and postmortems, and the outage report. */
  incidents: IncidentService;
  /** The public status page: component states (recorded as they change), incidents, maintenance, 90-day uptime. */
  status: StatusService;
  areas: AreasService;
  storage: StorageService;
  /** The hierarchical storage manager (migration, purge, staging, repack, quotas) over the archive tier. */
  hsm: HsmService;
  mail: MailService;
  /** Recent metrics and the latest health checks of every node (pushed by the agents). */
  monitor: MonitorHub;
  /** Alert rules over the hub, silences, notifications, the Alertmanager receiver and the incident hook. */
  alerts: AlertsService;
  /** Recovery events reported by the nodes' watchdogs, the owners' notices and the incident hook. */
  recovery: RecoveryService;
  /** Hosts, services and redundancy groups (keisan.yaml and the API), health per host, the redundancy guard. */
  inventory: InventoryService;
  /** The UPS watched through NUT and the ordered shutdown plan (keisan.yaml power:). */
  power: PowerService;
  /** Maintenance plans: approvals bound to their content, step-by-step runs behind the redundancy guard, agent-executed commands. */
  maintenance: MaintenanceService;
  /** Recovery runbooks per service and when they were last tested. */
  runbooks: RunbookService;
}
