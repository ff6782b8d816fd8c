import type { Generated } from 'kysely';

/**
 * The database's tables as Kysely sees them. Portable across SQLite and PostgreSQL:
 * timestamps are ISO-8601 UTC text (sortable), booleans are 0/1 integers, JSON is text.
 */
export interface WorkgroupTable {
  id: Generated<number>;
  name: string;
  description: string;
  gid: number;
  /** JSON list of CIDR networks its users may log in from; '[]' = anywhere (migration 0021). */
  login_networks: Generated<string>;
  created_at: string;
  updated_at: string;
}

export interface SubgroupTable {
  id: Generated<number>;
  workgroup_id: number;
  name: string;
  description: string;
  gid: number;
  created_at: string;
  updated_at: string;
}

export interface UserTable {
  id: Generated<number>;
  name: string;
  full_name: string;
  email: string | null;
  uid: number;
  primary_subgroup_id: number;
  home: string;
  shell: string;
  password_hash: string | null;
  is_operator: number;
  locked: number;
  lock_reason: string | null;
  created_at: string;
  updated_at: string;
}

export interface MembershipTable {
  user_id: number;
  subgroup_id: number;
  created_at: string;
}

export interface WorkgroupAdminTable {
  user_id: number;
  workgroup_id: number;
  created_at: string;
}

export interface SubgroupAdminTable {
  user_id: number;
  subgroup_id: number;
  created_at: string;
}

export interface TicketTable {
  id: Generated<number>;
  user_id: number;
  token_hash: string;
  kind: string;
  issued_at: string;
  expires_at: string;
  renew_until: string;
  revoked_at: string | null;
  address: string | null;
  last_used_at: string | null;
}

export interface AuditTable {
  id: Generated<number>;
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target: string;
  outcome: string;
  detail: string;
  address: string | null;
}

export interface DaemonTable {
  id: Generated<number>;
  kind: string;
  host: string;
  pid: number;
  version: string;
  started_at: string;
  registered_at: string;
  last_heartbeat_at: string;
  stopped_at: string | null;
  info: string;
}

export interface Database {
  workgroups: WorkgroupTable;
  subgroups: SubgroupTable;
  users: UserTable;
  memberships: MembershipTable;
  workgroup_admins: WorkgroupAdminTable;
  subgroup_admins: SubgroupAdminTable;
  tickets: TicketTable;
  audit_log: AuditTable;
  daemons: DaemonTable;
  queues: QueueTable;
  jobs: JobTable;
  notifications: NotificationTable;
  devices: DeviceTable;
  fs_entries: FsEntryTable;
  fs_copies: FsCopyTable;
  fs_uploads: FsUploadTable;
  fs_leases: FsLeaseTable;
  storage_library_writers: StorageLibraryWriterTable;
  storage_area_usage: StorageAreaUsageTable;
  mail_outbox: MailOutboxTable;
  hsm_classes: HsmClassTable;
  hsm_families: HsmFamilyTable;
  hsm_family_usage: HsmFamilyUsageTable;
  hsm_archived: HsmArchivedTable;
  hsm_copy_problems: HsmCopyProblemTable;
  hsm_stage_requests: HsmStageRequestTable;
  hsm_stage_files: HsmStageFileTable;
  hsm_repack_jobs: HsmRepackJobTable;
  hsm_runs: HsmRunTable;
  alerts: AlertTable;
  alert_silences: AlertSilenceTable;
  alert_notifications: AlertNotificationTable;
  recovery_events: RecoveryEventTable;
  recovery_decisions: RecoveryDecisionTable;
  recovery_decision_links: RecoveryDecisionLinkTable;
  incidents: IncidentTable;
  incident_updates: IncidentUpdateTable;
  inventory_hosts: InventoryHostTable;
  inventory_services: InventoryServiceTable;
  inventory_groups: InventoryGroupTable;
  maint_plans: MaintPlanTable;
  maint_approvals: MaintApprovalTable;
  maint_step_runs: MaintStepRunTable;
  runbooks: RunbookTable;
  status_transitions: StatusTransitionTable;
  slurm_usage: SlurmUsageTable;
  ldap_passwords: LdapPasswordTable;
  login_host_drains: LoginHostDrainTable;
  ha_servers: HaServerTable;
}

export interface QueueTable {
  id: Generated<number>;
  name: string;
  workgroup: string | null;
  /** The queue's settings as JSON (see batch/model.ts Queue). */
  spec: string;
  created_at: string;
  updated_at: string;
}

export interface JobTable {
  id: Generated<number>;
  array_job_id: number | null;
  array_task_id: number | null;
  array_max_running: number | null;
  user_name: string;
  uid: number;
  gid: number;
  subgroup: string;
  workgroup: string;
  queue: string;
  name: string;
  state: string;
  held: number;
  script: string;
  args: string;
  cpus: number;
  mem_bytes: number;
  gpus: number;
  gpu_type: string | null;
  time_limit_ms: number;
  eligible_at: string | null;
  dependencies: string;
  submit_dir: string;
  chdir: string;
  output: string;
  error: string;
  env: string;
  mail: string;
  mail_user: string | null;
  submitted_at: string;
  started_at: string | null;
  ended_at: string | null;
  node: string | null;
  gpu_indices: string | null;
  exit_code: number | null;
  exit_signal: string | null;
  reason: string | null;
  cpu_seconds: number | null;
  max_rss_bytes: number | null;
  gpu_seconds: number | null;
  /** JSON list of the state changes, each with its time. */
  transitions: string;
  /** SLURM's job id of a job run through SLURM (batch.executor: slurm); null for local jobs. */
  external_id: Generated<string | null>;
}

export interface NotificationTable {
  id: Generated<number>;
  user_name: string;
  at: string;
  kind: string;
  title: string;
  body: string;
  read_at: string | null;
}

/** A shared device and its current or last reservation (see devices/policy.ts). */
export interface DeviceTable {
  id: Generated<number>;
  name: string;
  kind: string;
  description: string;
  idle_release_s: number;
  max_hold_s: number | null;
  holder: string | null;
  reserved_at: string | null;
  reserved_until: string | null;
  last_activity_at: string | null;
  ended_at: string | null;
  end_reason: string | null;
  ended_by: string | null;
  end_note: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

/** A directory or file of the storage namespace (storage/store.ts). kind: directory or file. */
export interface FsEntryTable {
  id: Generated<number>;
  /** Null only for the root. */
  parent_id: number | null;
  name: string;
  kind: string;
  owner_name: string;
  group_name: string;
  /** The ACL in its canonical text form (storage/acl.ts). */
  acl: string;
  /** Directories: the ACLs new files and new subdirectories start with (null = the defaults). */
  initial_file_acl: string | null;
  initial_dir_acl: string | null;
  class_of_service: string | null;
  family: string | null;
  size: number;
  sha256: string | null;
  /** The committed generation of a file; 0 = not yet committed (invisible). */
  generation: number;
  /** The generation the next upload of this file gets. */
  next_generation: number;
  /** Who committed the current generation. */
  writer: string | null;
  /** none, complete or staging. */
  disk_state: string;
  /** 1 until every archive copy of the current generation exists. */
  dirty: number;
  migrated_at: string | null;
  pinned_until: string | null;
  created_at: string;
  modified_at: string;
  accessed_at: string;
  changed_at: string;
}

/** One archive copy of one generation of a file; obsolete_at is set once the file changed or went. */
export interface FsCopyTable {
  id: Generated<number>;
  file_id: number;
  generation: number;
  copy_no: number;
  backend: string;
  volume: string;
  entry: string;
  position: number;
  length: number;
  sha256: string;
  created_at: string;
  verified_at: string | null;
  obsolete_at: string | null;
  /** A member of a container (0009): its offset inside the entry; null = the copy is the whole entry. length and sha256 are then the member's own. */
  container_offset: number | null;
  /** The container entry's own length and SHA-256 (they address the entry); null for whole entries. */
  container_length: number | null;
  container_sha256: string | null;
}

/** A resumable upload: received bytes are in a temporary file named after the id. */
export interface FsUploadTable {
  id: string;
  file_id: number;
  path: string;
  owner_name: string;
  size: number;
  received: number;
  generation: number;
  base_generation: number;
  sha256: string | null;
  tag: string | null;
  created_at: string;
  updated_at: string;
  expires_at: string;
}

/** An open reader or stager of a file: its disk copy is not purged while the lease lives. */
export interface FsLeaseTable {
  id: Generated<number>;
  file_id: number;
  generation: number;
  purpose: string;
  holder: string;
  created_at: string;
  expires_at: string;
}

/** An e-mail waiting for, or past, delivery (monitor/outbox.ts). */
export interface MailOutboxTable {
  id: Generated<number>;
  created_at: string;
  to_address: string;
  subject: string;
  body: string;
  attempts: number;
  /** When the sender tries next; null once sent or given up. */
  next_attempt_at: string | null;
  sent_at: string | null;
  last_error: string | null;
  /** The Message-ID header of the sent message. */
  message_id: string | null;
}

/** A class of service (storage/hsm). workgroups: JSON list of the workgroups using it. */
export interface HsmClassTable {
  name: string;
  migration_delay_ms: number;
  copies: number;
  purge_high_pct: number;
  purge_low_pct: number;
  staging: string;
  workgroups: string;
  created_at: string;
  updated_at: string;
  /** Files smaller than this (bytes) are aggregated into containers; 0 = never (0009). */
  aggregate_below: number;
  /** The largest container (bytes). */
  container_size: number;
}

/** A declared file family: a tree with its own volumes and quota (bytes; null = none). */
export interface HsmFamilyTable {
  name: string;
  tree: string;
  quota_warn_bytes: number | null;
  quota_limit_bytes: number | null;
  created_at: string;
  updated_at: string;
}

/** Archive usage of a family, kept incrementally; quota_state is ok, warn or refuse. */
export interface HsmFamilyUsageTable {
  family: string;
  usage_bytes: number;
  usage_files: number;
  quota_state: string;
  warned_at: string | null;
  updated_at: string;
}

/** A generation of a file counted in its family's archive usage (from its first copy to its last). */
export interface HsmArchivedTable {
  file_id: number;
  generation: number;
  family: string;
  size: number;
  created_at: string;
}

/** An archive copy found damaged; repaired_at is set once a good copy replaced it. */
export interface HsmCopyProblemTable {
  id: Generated<number>;
  file_id: number;
  generation: number;
  copy_no: number;
  volume: string;
  entry: string;
  problem: string;
  detected_at: string;
  repaired_at: string | null;
}

/** A bulk stage request: QUEUED, STARTED, COMPLETED or FAILED. */
export interface HsmStageRequestTable {
  id: string;
  owner: string;
  state: string;
  files_total: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

/** One file of a stage request and its progress (QUEUED … ON_DISK or FAILED). */
export interface HsmStageFileTable {
  id: Generated<number>;
  request_id: string;
  seq: number;
  path: string;
  file_id: number | null;
  state: string;
  size: number;
  bytes_done: number;
  volume: string | null;
  copy_no: number | null;
  queue_position: number | null;
  eta_at: string | null;
  /** The staged copy stays on disk (not purged) until then. */
  pin_until: string | null;
  error: string | null;
  updated_at: string;
}

/** A repack of one volume: queued, running, paused, done or failed. */
export interface HsmRepackJobTable {
  id: Generated<number>;
  volume: string;
  state: string;
  files_total: number;
  files_done: number;
  bytes_total: number;
  bytes_done: number;
  error: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** One HSM run (migrate, purge, stage, repack) for keisan hsm status; detail is JSON. */
export interface HsmRunTable {
  id: Generated<number>;
  kind: string;
  state: string;
  files: number;
  bytes: number;
  detail: string;
  started_at: string;
  ended_at: string | null;
}

/** A user designated to write a workgroup's library (storage/areas): a named-user ACL entry on it. */
export interface StorageLibraryWriterTable {
  id: Generated<number>;
  workgroup: string;
  user_name: string;
  added_by: string;
  added_at: string;
}

/** The last measured usage of one user area (storage/areas); key: home/NAME, group/W/S or lib/W. */
export interface StorageAreaUsageTable {
  id: Generated<number>;
  area: string;
  kind: string;
  /** The user, W/S or workgroup the area belongs to. */
  name: string;
  path: string;
  bytes: number;
  files: number;
  /** 1 when the walk saw everything; 0 when it stopped (time limit, unreadable parts): the numbers are then at least these. */
  complete: number;
  measured_at: string;
  duration_ms: number;
  /** When the area's owners were last warned about its soft quota (at most once a day). */
  warned_at: string | null;
}

/** Monitor alerts: one row per episode (pending/firing until resolved), see migration 0010. */
export interface AlertTable {
  id: Generated<number>;
  fingerprint: string;
  /** rule or alertmanager */
  source: string;
  rule: string;
  /** JSON object of labels */
  labels: string;
  severity: string;
  /** pending, firing or resolved */
  state: string;
  value: number | null;
  summary: string;
  description: string;
  started_at: string;
  fired_at: string | null;
  resolved_at: string | null;
  last_eval_at: string;
  /** what the last notification said: firing or resolved */
  notified: string | null;
  notified_at: string | null;
}

export interface AlertSilenceTable {
  id: Generated<number>;
  /** JSON array of matchers (name, op, value) */
  matchers: string;
  starts_at: string;
  ends_at: string;
  created_by: string;
  comment: string;
  created_at: string;
  removed_by: string | null;
}

export interface AlertNotificationTable {
  id: Generated<number>;
  at: string;
  /** email, webhook or in-app */
  channel: string;
  target: string;
  /** queued, sent or failed */
  status: string;
  attempts: number;
  error: string | null;
  group_key: string;
  subject: string;
  firing: number;
  resolved: number;
  /** JSON array of the alerts' fingerprints */
  fingerprints: string;
  delivered_at: string | null;
}

/** One thing a node's watchdog saw or did (src/recovery/); written once, never changed. */
export interface RecoveryEventTable {
  id: Generated<number>;
  host: string;
  /** When the watchdog decided, ISO */
  at: string;
  rule: string;
  severity: string;
  job_id: number | null;
  pid: number | null;
  /** The job's owner from the jobs table when the job is known, else what the watchdog said */
  user_name: string | null;
  /** observe or automatic */
  mode: string;
  /** kill, freeze, throttle, stop, renice, warn or none */
  action: string;
  /** observed, done or failed */
  outcome: string;
  explanation: string;
  victim_explanation: string;
  /** JSON object of numbers */
  metrics: string;
  /** JSON: decisionToWriteMs, writeMs, writeToEmptyMs; null when nothing was written */
  timings: string | null;
  evidence_path: string | null;
  error: string | null;
  received_at: string;
  /** Ask mode only, JSON: key, deadline, proposed, decision, decidedBy, decidedAt, reason */
  ask: string | null;
}

/** Ask mode: a victim a node froze while an operator decides (src/recovery/); closed once. */
export interface RecoveryDecisionTable {
  id: Generated<number>;
  /** The node-made uuid shared by the pending event and its follow-up */
  key: string;
  /** The pending event */
  event_id: number;
  host: string;
  job_id: number | null;
  pid: number | null;
  user_name: string | null;
  rule: string;
  /** The action approve performs */
  proposed: string;
  frozen_at: string;
  /** ISO; after it the node falls back on its own */
  deadline: string;
  /** pending, approved, denied, timed-out or ended */
  state: string;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
}

/** A one-use link that decides a pending recovery event without a login (sent to one operator). */
export interface RecoveryDecisionLinkTable {
  id: Generated<number>;
  decision_id: number;
  /** SHA-256 hex of the random token in the link */
  token_hash: string;
  /** The operator the decision is recorded for */
  operator: string;
  /** Where the link was sent: an e-mail address, a webhook, or the in-app notice */
  address: string;
  expires_at: string;
  used_at: string | null;
}

/** An incident (src/incidents/): what went wrong, its services and times, checklist and postmortem. */
export interface IncidentTable {
  id: Generated<number>;
  title: string;
  /** SEV1 to SEV5 */
  severity: string;
  /** investigating, identified, monitoring or resolved */
  status: string;
  /** human-error, software-defect, hardware, capacity, network, external or unknown */
  cause: string;
  /** JSON array of service and impact pairs */
  services: string;
  started_at: string;
  detected_at: string;
  /** Set on resolve */
  ended_at: string | null;
  /** manual, recovery or alert */
  source: string;
  /** recovery:HOST:JOB or an alert fingerprint */
  source_key: string | null;
  /** source_key while the incident is open, null otherwise (unique: one open incident per key) */
  open_key: string | null;
  opened_by: string;
  /** JSON array of the 7 checklist entries: done, by, at */
  checklist: string;
  /** JSON: whatHappened, causes, prevention, actions, updatedBy, updatedAt */
  postmortem: string | null;
  created_at: string;
  updated_at: string;
}

/** One entry of an incident's timeline. */
export interface IncidentUpdateTable {
  id: Generated<number>;
  incident_id: number;
  at: string;
  author: string;
  /** opened, update, status, resolved, reopened, edited, checklist, postmortem or source */
  kind: string;
  /** The status this update set, if it changed */
  status: string | null;
  text: string;
}

/** A host of the inventory made through the API (src/ops/inventory/; keisan.yaml ones are not stored). */
export interface InventoryHostTable {
  id: Generated<number>;
  name: string;
  /** JSON array of role names */
  roles: string;
  /** JSON array of IPv4 and IPv6 addresses */
  addresses: string;
  /** JSON object: interface name to expected MAC address (lower-case, colons) */
  macs: string;
  notes: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** A service of the inventory and the hosts that provide it. */
export interface InventoryServiceTable {
  id: Generated<number>;
  name: string;
  /** 0 or 1 */
  critical: number;
  /** JSON array of host names */
  hosts: string;
  notes: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** A redundancy group: its members and how many of them must stay healthy. */
export interface InventoryGroupTable {
  id: Generated<number>;
  name: string;
  /** JSON array of host names */
  members: string;
  min_healthy: number;
  service: string | null;
  notes: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** A maintenance plan (src/ops/maint/): what is done to which hosts, when, and where it stands. */
export interface MaintPlanTable {
  id: Generated<number>;
  title: string;
  /** low, medium or high */
  risk: string;
  window_start: string;
  window_end: string;
  /** JSON array of inventory host names */
  targets: string;
  /** JSON array of steps (kind, host, command or instruction, expect, rollback, takesDown) */
  steps: string;
  /** The recovery runbook the plan relies on (runbooks.name) */
  runbook: string;
  author: string;
  /** JSON array: the author and everyone who edited the plan (none of them may approve it) */
  editors: string;
  /** draft, pending-approval, approved, running, halted, completed or cancelled */
  state: string;
  /** sha256 of the canonical JSON of targets, steps, window and risk */
  content_hash: string;
  revision: number;
  /** Index of the next step to run (0-based); equals the number of steps when all are done */
  next_step: number;
  halt_reason: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/** An approval of a plan, bound to the content hash it approved. */
export interface MaintApprovalTable {
  id: Generated<number>;
  plan_id: number;
  approver: string;
  content_hash: string;
  comment: string;
  approved_at: string;
  expires_at: string;
  /** Set when an edit, a rejection or a halt voids it */
  voided_at: string | null;
  void_reason: string | null;
}

/** One attempt at a step: a manual confirmation or a command for the agent on the target host. */
export interface MaintStepRunTable {
  id: Generated<number>;
  plan_id: number;
  step_index: number;
  host: string;
  /** manual or command */
  kind: string;
  command: string | null;
  /** queued, running, passed, failed or cancelled */
  state: string;
  operator: string;
  queued_at: string;
  claimed_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  /** 0 or 1 */
  timed_out: number;
  /** Captured stdout and stderr (bounded) */
  output: string;
  /** Why it passed or failed */
  verdict: string | null;
}

/** A recovery procedure for a service, and when it was last tested. */
export interface RunbookTable {
  id: Generated<number>;
  name: string;
  service: string;
  body: string;
  /** A path or URL where the procedure lives */
  location: string | null;
  last_tested_at: string | null;
  tested_by: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** A change of a status page component's state (src/incidents/status/). */
export interface StatusTransitionTable {
  id: Generated<number>;
  component: string;
  at: string;
  /** operational, degraded, partial-outage, major-outage or under-maintenance: what the page showed from then */
  state: string;
  /** the state from checks, hosts, groups and alerts alone (incidents not counted): uptime reads it */
  checks_state: string;
  /** why, for operators (names hosts; never served publicly) */
  reason: string;
}

/** An LDAP-usable hash ({SSHA}) of a user's password, kept beside the scrypt one while accounts.ldap.mode is publish. */
export interface LdapPasswordTable {
  user_id: number;
  hash: string;
  updated_at: string;
}

/** A job run on the SLURM cluster outside Keisan, imported from sacct (keisan admin slurm import-usage). */
export interface SlurmUsageTable {
  id: Generated<number>;
  cluster: string;
  /** SLURM's JobIDRaw. */
  job_id: string;
  user_name: string;
  account: string;
  /** The Keisan subgroup / workgroup the account maps back to; null outside Keisan's tree. */
  subgroup: string | null;
  workgroup: string | null;
  partition: string;
  qos: string;
  /** Keisan's word for how it ended (completed, failed, cancelled, timeout, out-of-memory, node-fail, preempted). */
  state: string;
  slurm_state: string;
  exit_code: number | null;
  submitted_at: string | null;
  started_at: string | null;
  ended_at: string;
  cpus: number;
  gpus: number;
  cpu_seconds: number;
  gpu_seconds: number;
  max_rss_bytes: number | null;
  node_list: string;
  imported_at: string;
}

/** A login host an operator took out of the login pool by hand (migration 0021). */
export interface LoginHostDrainTable {
  host: string;
  reason: string;
  drained_by: string;
  drained_at: string;
}

/** A `keisan server` of an HA set (migration 0022): role, the epoch it took over in, its heartbeat. */
export interface HaServerTable {
  url: string;
  role: string;
  epoch: number;
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
  active_since: string | null;
}
