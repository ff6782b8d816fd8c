import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FACILITY_FILE } from '../lib/config.ts';
import { randomToken } from '../lib/ids.ts';

/** Files in the data directory. */
export const NODE_SECRET_FILE = 'node-secret';
export const OPERATOR_PASSWORD_FILE = 'operator-password';
export const LOGS_DIR = 'logs';

/**
 * The facility file `keisan init` writes: defaults following a production centre
 * (KEKCC-like): the workgroup `central` with the subgroup `staff` for the centre's own people.
 */
export const DEFAULT_FACILITY_FILE = `# Keisan facility file. Settings are read when the server starts;
# workgroups and users below are applied on first start and by \`keisan apply keisan.yaml\`.
facility:
  name: Keisan

server:
  host: 127.0.0.1        # 0.0.0.0 to serve other machines (then give it tls:)
  port: 8470
  # tls:
  #   cert: /etc/keisan/tls/cert.pem
  #   key: /etc/keisan/tls/key.pem

database: {}             # url: postgres://keisan@dbhost/keisan  (default: SQLite file keisan.db here)
# ha:                     # two servers on one PostgreSQL, one active (operator guide, "Two servers")
#   servers: [https://keisan1.example.org:8470, https://keisan2.example.org:8470]

tickets:
  lifetime: 10h          # a login ticket is valid this long…
  renewableFor: 4w       # …and \`keisan renew\` extends it until this long after login

accounts:
  uidRange: [10000, 59999]
  gidRange: [5000, 9999]
  homeBase: /home
  defaultShell: /bin/bash
  operatorName: admin    # the operator account created on first start
  # ldap:                  # one identity on every host (operator guide, "One identity: LDAP")
  #   mode: publish        # publish: Keisan writes its users and groups; use: log in against the site's directory
  #   url: ldap://ldap.example.org
  #   baseDn: dc=example,dc=org
  #   bindDn: cn=keisan,dc=example,dc=org
  #   bindPasswordFile: ldap.secret   # mode 0600, in this directory

daemons:
  heartbeatInterval: 15s

workgroups:
  - name: central
    description: The computing centre
    # loginNetworks: [10.0.0.0/8, "2001:db8::/32"]   # where its users may log in from (default: anywhere)
    subgroups:
      - name: staff
        description: Centre staff and operators

users: []

# queues: without this section the first start creates the default set
# (express 10m, short 1h, middle 6h, large 24h, huge 7d); see \`keisan queues\`.
# queues:
#   - { name: gpu, wallTime: 2d, maxGpus: 8, priority: 50 }

batch:
  backfill: true
  decayHalfLife: 7d      # past usage counts half after this long (fair share)
  subgroupShares: {}     # e.g. { b-ana: 2 }; every subgroup has 1 otherwise
  # memoryReserve: 4G    # kept back from jobs (default 10 % of memory, at least 1 GiB)
  # cpus: 64             # CPUs handed out (default: all cores; more lets jobs share cores)

# storage.archive: where archive copies go. Default: volumes in storage/archive here that
# behave like a tape library (2 drives, LTO-9 delays × timeScale). Or an S3 store:
# storage:
#   disk:                    # the disk tier of keisan fs (file bytes under ids, never user names)
#     path: storage/disk     # default, here; a shared filesystem when the server moves
#     capacity: 20T          # writes past it get 507 (default: only the filesystem limits it)
#   uploads: { expireAfter: 24h }   # unfinished keisan fs put uploads are removed after this
#   archive:
#     kind: dir              # or s3
#     volumeCapacity: 18G
#     drives: 2
#     timeScale: 0.01        # a 16 s mount takes 160 ms; 0 = no delays
#     rateMBps: 400          # per drive; 0 = unlimited
#   # archive: { kind: s3, endpoint: https://s3.example.org, bucket: keisan-archive,
#   #            accessKeyId: keisan, secretKeyFile: s3-secret }   # secret in a 0600 file here
#   areas:                   # users' homes, group areas and libraries (keisan areas); on as root
#     root: /srv/keisan/areas  # a shared filesystem with POSIX ACLs; the default (areas here) is private
#     homeQuota: 50G         # soft quotas: a notice at warnPercent, nothing refused
#     groupQuota: 2T
#     libraryQuota: 500G
#     warnPercent: 90
#     usageInterval: 1h      # how often usage is measured (0: on demand only)
#   classes:                 # HSM classes of service (first start only; then keisan admin storage class)
#     - { name: default, migrationDelay: 1h, copies: 1, purgeHigh: 85%, purgeLow: 70%, staging: async }
#     - { name: physics, migrationDelay: 10m, copies: 2, workgroups: [phys] }
#     # aggregateBelow: 64M (files smaller are packed into containers on the volumes; 0 = never)
#     # containerSize: 1G (the largest container; at most a quarter of a volume)
#   families:                # trees with their own archive volumes and quotas (default: one per subgroup)
#     - { name: ana-raw, tree: /phys/ana/raw, quotaWarn: 800G, quotaLimit: 1T }

# monitor: node metrics, health checks and alerts (keisan nodes, keisan metrics NODE).
# monitor:
#   interval: 15s          # agents sample and report this often
#   history: 6h            # recent history the server keeps in memory
#   metrics:               # each agent's Prometheus endpoint (like node_exporter's :9100)
#     listen: 0.0.0.0
#     port: 9810           # false: no /metrics on the agents (they still report to the server)
#     gpus: true           # sample GPUs with nvidia-smi where it is installed
#   checks:                # health checks (keisan checks); every node gets filesystem, inodes, process,
#                          # raid, hardware, duplicate-ip and time-drift checks for its roles
#     interval: 15s
#     timeout: 10s
#     roles:               # replaces a role's automatic list (all: every node)
#       gpu: [hardware, mirror]
#     processes:           # essential processes per role (all, login: sshd, slurm: slurmd munged)
#       storage: [nfsd, { name: hsm mover, pattern: "keisan.* mover" }]
#     defaults:            # parameters of the automatic checks
#       filesystem: { warning: 80, critical: 90, fullWithin: 24h }
#     extra:               # more checks: ping tcp ssh http certificate storage-log mirror…
#       - { type: http, name: portal, roles: [login], params: { url: "https://portal.example.org/", keyword: Welcome } }
#       - { type: certificate, hosts: ["login*"], params: { host: portal.example.org, port: 443 } }
#       - { type: storage-log, roles: [storage], params: { path: /var/log/hsm/tier.log } }
#   alerts:                # alert rules, silences, notifications (keisan alerts, keisan silence)
#     evaluationInterval: 5s
#     rules:               # add rules, change the defaults by name (keisan alerts rules), or turn them off
#       - { name: HostDown, for: 1m }
#       - { name: GpuHot, disabled: true }
#       - name: SlurmdDown
#         expr: keisan_check_status{check="process:slurmd"} >= 2
#         severity: critical         # critical, warning or info
#         summary: "slurmd is down on {{ $labels.host }}"
#     group: { by: [alertname, host], wait: 10s, interval: 1m, repeat: 4h }
#     inhibit:             # default: HostDown mutes the other alerts of its host
#       - { source: [alertname=HostDown], target: [alertname!=HostDown], equal: [host] }
#     notify:
#       email: [ops@example.org]     # through the mail outbox (needs mail: below); operators get them too
#       minSeverity: warning
#       webhooks:
#         - { url: "https://hooks.slack.com/services/…", format: slack, minSeverity: critical }
#         - { url: "https://incident.example.org/hook", format: json }   # Alertmanager's webhook JSON
#     alertmanagerToken: a-long-random-token   # Alertmanager POSTs to /api/monitor/alertmanager with it

# recovery: the watchdog (keisan watchdog) samples the job cgroups and acts on runaway jobs
# before the kernel or the node falls over (keisan recovery events).
# recovery:
#   enabled: true
#   mode: automatic          # observe: only log and report what it would do; ask: freeze and ask an operator
#   ask: { timeout: 5m, fallback: kill }   # ask mode: time to decide, then this (an action or thaw)
#   notify: { webhooks: [{ url: https://hooks.example.org/keisan, format: json }] }   # or format: slack
#   loginHost: false         # true on login nodes: watch users' long CPU-heavy processes
#   sampleHz: 10
#   cooldown: 10s            # no second victim until the first is gone, or this long
#   evidenceDir: recovery/evidence   # relative to this directory
#   rules:                   # memory-limit, memory-thrash, node-memory, pids-explosion, cpu-hog, login-cpu-hog
#     cpu-hog: { mode: observe }
#     memory-thrash: { action: freeze }    # kill, freeze, throttle, stop, renice, warn, none
#     login-cpu-hog: { mode: automatic }   # warn, then renice, then stop (observe by default)
#   detectors:               # thresholds, any field (src/recovery/detectors.ts)
#     pids: { minPids: 128 }
#     login: { warnAfterMs: 300000, exemptUsers: [backup] }
#   protect:                 # never acted on, besides sshd, systemd*, slurm*, postgres, keisan daemons, root's shells
#     comm: [my-daemon]

# incidents: the outage report and the hooks (keisan incident …). services: those the report
# gives an availability for even in a quiet month. A recovery kill (or kernel OOM kill) of a job
# opens an incident "Recovery killed job N on HOST" (one per job while open); a critical alert
# that starts firing opens one per alert; its resolution is noted, an operator resolves.
# incidents:
#   services: [login, batch, storage-home, storage-archive, authentication, web]
#   recovery: { enabled: true, severity: SEV4, service: batch, impact: some-jobs-aborted }
#   alerts: { enabled: true, severity: SEV2 }

# status: the public status page (/status, /status.json, /status/feed.atom|rss, keisan status).
# Components login, batch, storage-home, storage-archive, authentication, web are there by
# default; add your own (or replace one by its name, or hide one). A component's state comes from
# open incidents on its services, the groups and hosts providing them, alerts labelled
# service=NAME, its checks, and maintenance in progress (keisan status --explain says why).
# status:
#   title: "HPC Centre status"
#   hide: [web]
#   components:
#     - { name: gpu, displayName: GPU nodes, services: [gpu], hosts: [gpu1, gpu2], checks: [nvidia] }
#   recentDays: 7            # resolved incidents stay listed this long

# inventory: hosts, services and redundancy groups (keisan ops hosts|services|groups). Loaded at
# start and read-only through the API; operators add more with keisan ops … add. A group's
# minHealthy members must stay healthy: keisan ops check-takedown HOST refuses what would break it.
# Expected MACs feed the duplicate-ip check. Roles: login, compute, storage, management, auth,
# server, web, … (any lower-case label).
# inventory:
#   hosts:
#     - { name: mgmt1, roles: [management], addresses: [10.0.0.11], macs: { eno1: "52:54:00:0a:00:0b" } }
#     - { name: mgmt2, roles: [management], addresses: [10.0.0.12], macs: { eno1: "52:54:00:0a:00:0c" } }
#     - { name: auth1, roles: [auth], addresses: [10.0.0.21, "fd00::21"], notes: rack B4 }
#     - { name: auth2, roles: [auth], addresses: [10.0.0.22] }
#     - { name: auth3, roles: [auth], addresses: [10.0.0.23] }
#   services:
#     - { name: management, critical: true, hosts: [mgmt1, mgmt2] }
#     - { name: authentication, critical: true, hosts: [auth1, auth2, auth3] }
#   groups:
#     - { name: management, members: [mgmt1, mgmt2], minHealthy: 1, service: management }
#     - { name: authentication, members: [auth1, auth2, auth3], minHealthy: 2, service: authentication }

# maintenance: plans approved by another operator and run step by step (keisan maint), recovery
# runbooks (keisan ops runbooks --gaps). Command steps run on the target host's keisan agent.
# maintenance:
#   approvalExpiryDays: 7        # approvals expire (and never after the plan's window)
#   commandTimeout: 10m          # the agent kills a command step after this
#   pickupTimeout: 5m            # a command step no agent picked up by then fails and halts the plan
#   outputLimitBytes: 65536      # stdout and stderr kept per step, each
#   agentPollInterval: 10s       # how often agents ask for work
#   runbookTestedWithinDays: 365 # a critical service's runbook must have been tested this recently

# power: watch a UPS through Network UPS Tools' upsd (keisan power status|test). On battery for
# gracePeriod, or low battery / FSD at once, the ordered shutdown plan runs once: no new jobs,
# running jobs requeued/checkpointed/cancelled per queue, storage writes closed, daemons stopped,
# then shutdownCommand. It opens an incident (SEV3 on battery, SEV1 when the plan starts).
# power:
#   ups: myups@localhost     # NAME@HOST[:PORT] as upsc takes it (port 3493)
#   gracePeriod: 3m
#   pollInterval: 5s
#   shutdownHost: true       # false: stop Keisan, leave the host up
#   shutdownCommand: systemctl poweroff
#   jobs: { default: requeue, queues: { huge: checkpoint }, checkpointSignal: SIGUSR1, checkpointWait: 30s }

# mail: e-mail for job notices (keisan submit --mail). Without it notices stay in-app
# (keisan notifications). Test it with \`keisan admin mail test you@example.org\`.
# mail:
#   from: "Keisan <keisan@example.org>"
#   smtp:
#     host: smtp.example.org
#     port: 587
#     requireTls: true     # STARTTLS; or secure: true for implicit TLS (port 465)
#     user: keisan
#     passwordFile: smtp-password   # a file (mode 0600) in this directory holding the password
`;

export interface InitResult {
  dataDir: string;
  created: string[];
  existed: boolean;
}

/** Creates the data directory and its files if missing; never overwrites what exists. */
export function initDataDir(dataDir: string): InitResult {
  const created: string[] = [];
  const existed = existsSync(path.join(dataDir, FACILITY_FILE));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(path.join(dataDir, LOGS_DIR), { recursive: true, mode: 0o700 });
  const facility = path.join(dataDir, FACILITY_FILE);
  if (!existsSync(facility)) {
    writeFileSync(facility, DEFAULT_FACILITY_FILE, { mode: 0o644, flag: 'wx' });
    created.push(facility);
  }
  const secret = path.join(dataDir, NODE_SECRET_FILE);
  if (!existsSync(secret)) {
    writeFileSync(secret, `${randomToken('ksn')}\n`, { mode: 0o600, flag: 'wx' });
    created.push(secret);
  }
  chmodSync(secret, 0o600);
  return { dataDir, created, existed };
}

export function readNodeSecret(dataDir: string): string {
  const file = path.join(dataDir, NODE_SECRET_FILE);
  return readFileSync(file, 'utf8').trim();
}

/** The first operator's generated password goes to a 0600 file, never to a log. */
export function writeOperatorPassword(dataDir: string, name: string, password: string): string {
  const file = path.join(dataDir, OPERATOR_PASSWORD_FILE);
  writeFileSync(file, `${name}\n${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}
