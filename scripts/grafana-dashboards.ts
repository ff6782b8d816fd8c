/**
 * Builds the Grafana dashboards shipped in deploy/grafana/ (nodes, GPUs, jobs, storage tiers)
 * from one description each, so every panel has the same shape, datasource and variables.
 *
 *   node --import tsx scripts/grafana-dashboards.ts           # rewrites deploy/grafana/*.json
 *   node --import tsx scripts/grafana-dashboards.ts --check   # exit 1 when a shipped file differs
 *
 * src/monitor/deploy.test.ts checks that the shipped files equal what this builds, that they are
 * valid dashboards, that every expression parses (promtool) and that every metric they use is
 * one Keisan documents (src/monitor/README.md) or node_exporter / prom-client produce.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const GRAFANA_DIR = fileURLToPath(new URL('../deploy/grafana', import.meta.url));

const DS = { type: 'prometheus', uid: '${DS_PROMETHEUS}' } as const;

interface Target {
  expr: string;
  legend?: string;
  /** 'table' for an instant table query. */
  format?: 'time_series' | 'table';
  instant?: boolean;
}

interface PanelSpec {
  title: string;
  description?: string;
  type?: 'timeseries' | 'stat' | 'bargauge' | 'table' | 'gauge';
  unit?: string;
  min?: number;
  max?: number;
  /** Width in grid columns (24 = the whole row); height 8 unless given. */
  w?: number;
  h?: number;
  stack?: boolean;
  /** Red from this value up (and yellow from `warn`). */
  thresholds?: { warn?: number; red: number };
  targets: Target[];
}

interface RowSpec {
  row: string;
  panels: PanelSpec[];
}

interface VariableSpec {
  name: string;
  label: string;
  /** A label_values(...) query. */
  query?: string;
  /** A free-text variable with this default (a regular expression). */
  text?: string;
  description?: string;
  multi?: boolean;
}

interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableSpec[];
  rows: RowSpec[];
}

function thresholdSteps(spec: PanelSpec): unknown {
  const steps: Array<{ color: string; value: number | null }> = [{ color: 'green', value: null }];
  if (spec.thresholds?.warn !== undefined) steps.push({ color: 'yellow', value: spec.thresholds.warn });
  if (spec.thresholds) steps.push({ color: 'red', value: spec.thresholds.red });
  return { mode: 'absolute', steps };
}

function panel(spec: PanelSpec, id: number, x: number, y: number): Record<string, unknown> {
  const type = spec.type ?? 'timeseries';
  const defaults: Record<string, unknown> = { unit: spec.unit ?? 'short', thresholds: thresholdSteps(spec) };
  if (spec.min !== undefined) defaults.min = spec.min;
  if (spec.max !== undefined) defaults.max = spec.max;
  if (type === 'timeseries') {
    defaults.custom = {
      drawStyle: 'line',
      lineWidth: 1,
      fillOpacity: spec.stack ? 30 : 10,
      showPoints: 'never',
      spanNulls: false,
      stacking: { mode: spec.stack ? 'normal' : 'none', group: 'A' },
      ...(spec.thresholds ? { thresholdsStyle: { mode: 'line' } } : {}),
    };
  }
  defaults.color = { mode: type === 'timeseries' ? 'palette-classic' : 'thresholds' };
  const options: Record<string, unknown> =
    type === 'timeseries'
      ? { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } }
      : type === 'table'
        ? { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], countRows: false } }
        : type === 'bargauge'
          ? { orientation: 'horizontal', displayMode: 'gradient', showUnfilled: true, reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } }
          : { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', justifyMode: 'auto', textMode: 'auto' };
  return {
    id,
    type,
    title: spec.title,
    ...(spec.description ? { description: spec.description } : {}),
    datasource: DS,
    gridPos: { h: spec.h ?? 8, w: spec.w ?? 12, x, y },
    fieldConfig: { defaults, overrides: [] },
    options,
    targets: spec.targets.map((target, i) => ({
      datasource: DS,
      refId: String.fromCharCode(65 + i),
      expr: target.expr,
      legendFormat: target.legend ?? '__auto',
      range: !(target.instant ?? type === 'table'),
      instant: target.instant ?? type === 'table',
      ...(target.format ?? (type === 'table' ? 'table' : undefined) ? { format: target.format ?? 'table' } : {}),
    })),
  };
}

function variable(spec: VariableSpec): Record<string, unknown> {
  if (spec.text !== undefined) {
    return {
      name: spec.name,
      label: spec.label,
      type: 'textbox',
      query: spec.text,
      current: { selected: false, text: spec.text, value: spec.text },
      options: [{ selected: true, text: spec.text, value: spec.text }],
      hide: 0,
      ...(spec.description ? { description: spec.description } : {}),
    };
  }
  return {
    name: spec.name,
    label: spec.label,
    type: 'query',
    datasource: DS,
    definition: spec.query,
    query: { query: spec.query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    sort: 1,
    multi: spec.multi ?? true,
    includeAll: true,
    allValue: '.*',
    current: {},
    options: [],
    regex: '',
    hide: 0,
    ...(spec.description ? { description: spec.description } : {}),
  };
}

export function buildDashboard(spec: DashboardSpec): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    panels.push({ id: id++, type: 'row', title: row.row, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const p of row.panels) {
      const w = p.w ?? 12;
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push(panel(p, id++, x, y));
      x += w;
      rowHeight = Math.max(rowHeight, p.h ?? 8);
    }
    y += rowHeight;
  }
  const panelTypes = [...new Set(panels.map((p) => p.type as string).filter((t) => t !== 'row'))].sort();
  return {
    __inputs: [
      { name: 'DS_PROMETHEUS', label: 'Prometheus', description: 'The Prometheus that scrapes Keisan (deploy/prometheus/prometheus.yml)', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus' },
    ],
    __elements: {},
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: '10.4.0' },
      { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      ...panelTypes.map((t) => ({ type: 'panel', id: t, name: t, version: '' })),
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    description: spec.description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [{ type: 'dashboards', tags: ['keisan'], asDropdown: true, title: 'Keisan', includeVars: true, keepTime: true, icon: 'external link', targetBlank: false, tooltip: '', url: '' }],
    panels,
    refresh: '30s',
    schemaVersion: 39,
    tags: spec.tags,
    templating: { list: spec.variables.map(variable) },
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: '',
    title: spec.title,
    uid: spec.uid,
    version: 1,
    weekStart: '',
  };
}

// ---------------------------------------------------------------------------- the dashboards

const H = 'host=~"$host"';
const FS = `fstype!="", ${H}`;
const RATE = '$__rate_interval';

const nodes: DashboardSpec = {
  uid: 'keisan-nodes',
  title: 'Keisan / Nodes',
  description: 'Every node a Keisan agent (or node_exporter) reports: CPU, load, memory, pressure (PSI), filesystems, network, disks.',
  tags: ['keisan', 'nodes'],
  variables: [{ name: 'host', label: 'Node', query: 'label_values(node_load1, host)' }],
  rows: [
    {
      row: 'Overview',
      panels: [
        { title: 'Nodes up', description: 'Agents Prometheus scraped at its last try (1) and those it could not (0).', type: 'stat', w: 6, h: 4, targets: [{ expr: `sum(up{job="keisan-agent", ${H}})`, legend: 'up' }] },
        { title: 'Nodes down', type: 'stat', w: 6, h: 4, thresholds: { red: 1 }, targets: [{ expr: `count(up{job="keisan-agent", ${H}} == 0) or vector(0)`, legend: 'down' }] },
        { title: 'Failing checks', description: 'Keisan health checks critical or unknown (keisan_check_status >= 2).', type: 'stat', w: 6, h: 4, thresholds: { red: 1 }, targets: [{ expr: `count(keisan_check_status{${H}} >= 2) or vector(0)`, legend: 'critical' }] },
        { title: 'Uptime', type: 'stat', w: 6, h: 4, unit: 's', targets: [{ expr: `min(node_time_seconds{${H}} - node_boot_time_seconds{${H}})`, legend: 'shortest' }] },
      ],
    },
    {
      row: 'CPU and load',
      panels: [
        { title: 'CPU busy', description: 'Share of all cores not idle, per node.', unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `1 - avg by (host) (rate(node_cpu_seconds_total{mode="idle", ${H}}[${RATE}]))`, legend: '{{host}}' }] },
        { title: 'CPU by mode', unit: 'percentunit', min: 0, stack: true, targets: [{ expr: `sum by (host, mode) (rate(node_cpu_seconds_total{mode!="idle", ${H}}[${RATE}])) / on (host) group_left () count by (host) (node_cpu_seconds_total{mode="idle", ${H}})`, legend: '{{host}} {{mode}}' }] },
        { title: 'Load per core', description: '1-minute load average divided by the number of cores: above 1, tasks queue for a CPU.', unit: 'short', min: 0, thresholds: { red: 1 }, targets: [{ expr: `node_load1{${H}} / on (host) count by (host) (node_cpu_seconds_total{mode="idle", ${H}})`, legend: '{{host}}' }] },
        { title: 'Load average', unit: 'short', min: 0, targets: [{ expr: `node_load1{${H}}`, legend: '{{host}} 1m' }, { expr: `node_load5{${H}}`, legend: '{{host}} 5m' }, { expr: `node_load15{${H}}`, legend: '{{host}} 15m' }] },
        { title: 'Processes', unit: 'short', min: 0, targets: [{ expr: `node_procs_running{${H}}`, legend: '{{host}} running' }, { expr: `node_procs_blocked{${H}}`, legend: '{{host}} blocked on I/O' }, { expr: `keisan_node_processes{${H}}`, legend: '{{host}} all' }] },
        { title: 'Clock offset from Prometheus', description: "The node's clock minus the time Prometheus scraped it (includes the scrape delay).", unit: 's', targets: [{ expr: `node_time_seconds{${H}} - timestamp(node_time_seconds{${H}})`, legend: '{{host}}' }] },
      ],
    },
    {
      row: 'Memory and pressure',
      panels: [
        { title: 'Memory used', description: '1 − MemAvailable / MemTotal.', unit: 'percentunit', min: 0, max: 1, thresholds: { warn: 0.8, red: 0.9 }, targets: [{ expr: `1 - node_memory_MemAvailable_bytes{${H}} / node_memory_MemTotal_bytes{${H}}`, legend: '{{host}}' }] },
        { title: 'Memory', unit: 'bytes', min: 0, targets: [{ expr: `node_memory_MemTotal_bytes{${H}} - node_memory_MemAvailable_bytes{${H}}`, legend: '{{host}} used' }, { expr: `node_memory_Cached_bytes{${H}} + node_memory_Buffers_bytes{${H}}`, legend: '{{host}} cache and buffers' }, { expr: `node_memory_SwapTotal_bytes{${H}} - node_memory_SwapFree_bytes{${H}}`, legend: '{{host}} swap used' }] },
        { title: 'Pressure: some task waiting (PSI)', description: 'Share of time at least one task waited for CPU, memory or I/O. Memory above 10 % for 5 minutes raises HighMemoryPressure.', unit: 'percentunit', min: 0, thresholds: { red: 0.1 }, targets: [{ expr: `rate(node_pressure_cpu_waiting_seconds_total{${H}}[${RATE}])`, legend: '{{host}} cpu' }, { expr: `rate(node_pressure_memory_waiting_seconds_total{${H}}[${RATE}])`, legend: '{{host}} memory' }, { expr: `rate(node_pressure_io_waiting_seconds_total{${H}}[${RATE}])`, legend: '{{host}} io' }] },
        { title: 'Pressure: all tasks stalled (PSI)', unit: 'percentunit', min: 0, targets: [{ expr: `rate(node_pressure_memory_stalled_seconds_total{${H}}[${RATE}])`, legend: '{{host}} memory' }, { expr: `rate(node_pressure_io_stalled_seconds_total{${H}}[${RATE}])`, legend: '{{host}} io' }] },
      ],
    },
    {
      row: 'Filesystems',
      panels: [
        { title: 'Filesystem use', description: 'Read-write filesystems; FilesystemAlmostFull fires above 80 %.', type: 'bargauge', unit: 'percent', min: 0, max: 100, thresholds: { warn: 70, red: 80 }, targets: [{ expr: `100 * (1 - node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}}) and on (host, device, mountpoint) node_filesystem_readonly{${FS}} == 0`, legend: '{{host}} {{mountpoint}}', instant: true }] },
        { title: 'Inode use', type: 'bargauge', unit: 'percent', min: 0, max: 100, thresholds: { warn: 80, red: 90 }, targets: [{ expr: `100 * (1 - node_filesystem_files_free{${FS}} / node_filesystem_files{${FS}}) and on (host, device, mountpoint) node_filesystem_readonly{${FS}} == 0`, legend: '{{host}} {{mountpoint}}', instant: true }] },
        { title: 'Space available', unit: 'bytes', min: 0, targets: [{ expr: `node_filesystem_avail_bytes{${FS}}`, legend: '{{host}} {{mountpoint}}' }] },
        { title: 'Hours until full (at the last 6 h rate)', description: 'Filesystems that fill: available space divided by how fast it shrank over 6 hours. FilesystemFillingUp fires when this is under 24 h with less than 40 % left.', unit: 'h', min: 0, targets: [{ expr: `(node_filesystem_avail_bytes{${FS}} / -deriv(node_filesystem_avail_bytes{${FS}}[6h]) / 3600) > 0`, legend: '{{host}} {{mountpoint}}' }] },
      ],
    },
    {
      row: 'Network and disks',
      panels: [
        { title: 'Network received', unit: 'Bps', min: 0, targets: [{ expr: `rate(node_network_receive_bytes_total{device!="lo", ${H}}[${RATE}])`, legend: '{{host}} {{device}}' }] },
        { title: 'Network sent', unit: 'Bps', min: 0, targets: [{ expr: `rate(node_network_transmit_bytes_total{device!="lo", ${H}}[${RATE}])`, legend: '{{host}} {{device}}' }] },
        { title: 'Network errors', unit: 'short', min: 0, targets: [{ expr: `rate(node_network_receive_errs_total{device!="lo", ${H}}[${RATE}])`, legend: '{{host}} {{device}} receive' }, { expr: `rate(node_network_transmit_errs_total{device!="lo", ${H}}[${RATE}])`, legend: '{{host}} {{device}} transmit' }] },
        { title: 'Disk busy', description: 'Share of time the disk had I/O in flight (node_disk_io_time_seconds_total).', unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `rate(node_disk_io_time_seconds_total{${H}}[${RATE}])`, legend: '{{host}} {{device}}' }] },
        { title: 'Disk read', unit: 'Bps', min: 0, targets: [{ expr: `rate(node_disk_read_bytes_total{${H}}[${RATE}])`, legend: '{{host}} {{device}}' }] },
        { title: 'Disk written', unit: 'Bps', min: 0, targets: [{ expr: `rate(node_disk_written_bytes_total{${H}}[${RATE}])`, legend: '{{host}} {{device}}' }] },
      ],
    },
    {
      row: 'Health checks',
      panels: [
        { title: 'Checks not ok', description: 'Keisan health checks in warning (1), critical (2) or unknown (3); `keisan checks NODE` says why.', type: 'table', w: 24, targets: [{ expr: `keisan_check_status{${H}} > 0`, format: 'table', instant: true }] },
      ],
    },
  ],
};

const G = `${H}, gpu=~"$gpu"`;
const gpus: DashboardSpec = {
  uid: 'keisan-gpus',
  title: 'Keisan / GPUs',
  description: 'Every GPU the Keisan agents see through nvidia-smi: utilization, memory, temperature, power, processes.',
  tags: ['keisan', 'gpus'],
  variables: [
    { name: 'host', label: 'Node', query: 'label_values(keisan_gpu_utilization_ratio, host)' },
    { name: 'gpu', label: 'GPU', query: 'label_values(keisan_gpu_utilization_ratio{host=~"$host"}, gpu)' },
  ],
  rows: [
    {
      row: 'Overview',
      panels: [
        { title: 'GPUs', type: 'stat', w: 6, h: 4, targets: [{ expr: `count(keisan_gpu_utilization_ratio{${G}})`, legend: 'GPUs' }] },
        { title: 'Average utilization', type: 'stat', w: 6, h: 4, unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `avg(keisan_gpu_utilization_ratio{${G}})`, legend: 'average' }] },
        { title: 'Hottest GPU', type: 'stat', w: 6, h: 4, unit: 'celsius', thresholds: { warn: 80, red: 85 }, targets: [{ expr: `max(keisan_gpu_temperature_celsius{${G}})`, legend: 'max' }] },
        { title: 'Power drawn', type: 'stat', w: 6, h: 4, unit: 'watt', targets: [{ expr: `sum(keisan_gpu_power_watts{${G}})`, legend: 'sum' }] },
      ],
    },
    {
      row: 'Per GPU',
      panels: [
        { title: 'Utilization', unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `keisan_gpu_utilization_ratio{${G}}`, legend: '{{host}} GPU {{gpu}}' }] },
        { title: 'Memory used', unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `keisan_gpu_memory_used_bytes{${G}} / keisan_gpu_memory_total_bytes{${G}}`, legend: '{{host}} GPU {{gpu}}' }] },
        { title: 'Memory', unit: 'bytes', min: 0, targets: [{ expr: `keisan_gpu_memory_used_bytes{${G}}`, legend: '{{host}} GPU {{gpu}} used' }, { expr: `keisan_gpu_memory_total_bytes{${G}}`, legend: '{{host}} GPU {{gpu}} total' }] },
        { title: 'Temperature', description: 'GpuHot fires above 85 °C for 5 minutes.', unit: 'celsius', thresholds: { warn: 80, red: 85 }, targets: [{ expr: `keisan_gpu_temperature_celsius{${G}}`, legend: '{{host}} GPU {{gpu}}' }] },
        { title: 'Power', unit: 'watt', min: 0, targets: [{ expr: `keisan_gpu_power_watts{${G}}`, legend: '{{host}} GPU {{gpu}}' }, { expr: `keisan_gpu_power_limit_watts{${G}}`, legend: '{{host}} GPU {{gpu}} limit' }] },
        { title: 'Compute processes', unit: 'short', min: 0, targets: [{ expr: `keisan_gpu_processes{${G}}`, legend: '{{host}} GPU {{gpu}}' }] },
        { title: 'GPU memory per process', type: 'table', w: 24, unit: 'bytes', targets: [{ expr: `keisan_gpu_process_memory_bytes{${G}}`, format: 'table', instant: true }] },
      ],
    },
  ],
};

const J = `${H}, user=~"$user", job=~"$job"`;
const jobs: DashboardSpec = {
  uid: 'keisan-jobs',
  title: 'Keisan / Jobs',
  description: "Running batch jobs, from each job's cgroup: CPU, memory against its limit, processes. The label `job` is the batch job id (the agent's labels are kept: honor_labels in deploy/prometheus/prometheus.yml).",
  tags: ['keisan', 'jobs'],
  variables: [
    { name: 'host', label: 'Node', query: 'label_values(keisan_job_pids, host)' },
    { name: 'user', label: 'User', query: 'label_values(keisan_job_pids{host=~"$host"}, user)' },
    { name: 'job', label: 'Job', query: 'label_values(keisan_job_pids{host=~"$host", user=~"$user"}, job)' },
  ],
  rows: [
    {
      row: 'Overview',
      panels: [
        { title: 'Running jobs', type: 'stat', w: 8, h: 4, targets: [{ expr: `count(keisan_job_pids{${J}}) or vector(0)`, legend: 'jobs' }] },
        { title: 'Cores in use by jobs', type: 'stat', w: 8, h: 4, unit: 'short', targets: [{ expr: `sum(rate(keisan_job_cpu_seconds_total{${J}}[${RATE}]))`, legend: 'cores' }] },
        { title: 'Memory in use by jobs', type: 'stat', w: 8, h: 4, unit: 'bytes', targets: [{ expr: `sum(keisan_job_memory_bytes{${J}})`, legend: 'memory' }] },
      ],
    },
    {
      row: 'Per job',
      panels: [
        { title: 'CPU (cores)', unit: 'short', min: 0, targets: [{ expr: `rate(keisan_job_cpu_seconds_total{${J}}[${RATE}])`, legend: '{{job}} ({{user}}, {{host}})' }] },
        { title: 'Memory against limit', description: "The cgroup's memory use divided by its limit: near 1, the kernel reclaims and then kills the job (OOM).", unit: 'percentunit', min: 0, max: 1, thresholds: { warn: 0.8, red: 0.95 }, targets: [{ expr: `keisan_job_memory_bytes{${J}} / (keisan_job_memory_limit_bytes{${J}} > 0)`, legend: '{{job}} ({{user}}, {{host}})' }] },
        { title: 'Memory', unit: 'bytes', min: 0, targets: [{ expr: `keisan_job_memory_bytes{${J}}`, legend: '{{job}} used' }, { expr: `keisan_job_memory_limit_bytes{${J}} > 0`, legend: '{{job}} limit' }] },
        { title: 'Processes and threads', unit: 'short', min: 0, targets: [{ expr: `keisan_job_pids{${J}}`, legend: '{{job}} ({{user}}, {{host}})' }] },
        { title: 'CPU by user (cores)', unit: 'short', min: 0, stack: true, targets: [{ expr: `sum by (user) (rate(keisan_job_cpu_seconds_total{${J}}[${RATE}]))`, legend: '{{user}}' }] },
        { title: 'Largest jobs by memory', type: 'table', unit: 'bytes', targets: [{ expr: `topk(20, keisan_job_memory_bytes{${J}})`, format: 'table', instant: true }] },
      ],
    },
  ],
};

const T = `${H}, mountpoint=~"$mount"`;
const storage: DashboardSpec = {
  uid: 'keisan-storage',
  title: 'Keisan / Storage tiers',
  description:
    "The disk tier's filesystems (set the mount point pattern to your tier paths), the storage nodes' disks, storage health checks, and the Keisan server process that runs migration, staging and purge.",
  tags: ['keisan', 'storage'],
  variables: [
    { name: 'host', label: 'Node', query: 'label_values(node_filesystem_size_bytes, host)' },
    { name: 'mount', label: 'Tier mount points', text: '/var/lib/keisan.*|/data.*|/scratch.*|/home.*', description: "A regular expression over mount points: the disk tier's path and the user areas (storage: in keisan.yaml)." },
  ],
  rows: [
    {
      row: 'Disk tier',
      panels: [
        { title: 'Tier use', type: 'bargauge', unit: 'percent', min: 0, max: 100, thresholds: { warn: 70, red: 80 }, targets: [{ expr: `100 * (1 - node_filesystem_avail_bytes{${T}} / node_filesystem_size_bytes{${T}})`, legend: '{{host}} {{mountpoint}}', instant: true }] },
        { title: 'Tier inode use', type: 'bargauge', unit: 'percent', min: 0, max: 100, thresholds: { warn: 80, red: 90 }, targets: [{ expr: `100 * (1 - node_filesystem_files_free{${T}} / node_filesystem_files{${T}})`, legend: '{{host}} {{mountpoint}}', instant: true }] },
        { title: 'Tier space used', unit: 'bytes', min: 0, targets: [{ expr: `node_filesystem_size_bytes{${T}} - node_filesystem_avail_bytes{${T}}`, legend: '{{host}} {{mountpoint}} used' }, { expr: `node_filesystem_size_bytes{${T}}`, legend: '{{host}} {{mountpoint}} size' }] },
        { title: 'Tier growth', description: 'Bytes a second the tier grew (positive) or was freed (purge, negative), over the last hour.', unit: 'Bps', targets: [{ expr: `-deriv(node_filesystem_avail_bytes{${T}}[1h])`, legend: '{{host}} {{mountpoint}}' }] },
      ],
    },
    {
      row: 'Storage nodes',
      panels: [
        { title: 'Disk read', unit: 'Bps', min: 0, targets: [{ expr: `rate(node_disk_read_bytes_total{${H}}[${RATE}])`, legend: '{{host}} {{device}}' }] },
        { title: 'Disk written', unit: 'Bps', min: 0, targets: [{ expr: `rate(node_disk_written_bytes_total{${H}}[${RATE}])`, legend: '{{host}} {{device}}' }] },
        { title: 'Disk busy', unit: 'percentunit', min: 0, max: 1, targets: [{ expr: `rate(node_disk_io_time_seconds_total{${H}}[${RATE}])`, legend: '{{host}} {{device}}' }] },
        { title: 'I/O pressure (PSI)', unit: 'percentunit', min: 0, targets: [{ expr: `rate(node_pressure_io_waiting_seconds_total{${H}}[${RATE}])`, legend: '{{host}} some waiting' }, { expr: `rate(node_pressure_io_stalled_seconds_total{${H}}[${RATE}])`, legend: '{{host}} all stalled' }] },
      ],
    },
    {
      row: 'Storage health',
      panels: [
        { title: 'Storage checks not ok', description: 'Filesystem, inode, RAID, mirror and storage tier log checks in warning or worse.', type: 'table', w: 24, targets: [{ expr: `keisan_check_status{${H}, type=~"filesystem.*|inode.*|raid.*|mirror.*|storage.*|tier.*"} > 0`, format: 'table', instant: true }] },
      ],
    },
    {
      row: 'Keisan server',
      panels: [
        { title: 'Server up', type: 'stat', w: 4, h: 4, targets: [{ expr: 'up{job="keisan-server"}', legend: '{{instance}}' }] },
        { title: 'Nodes reporting', description: 'Agents that report to the server (up) and those that stopped (down).', type: 'stat', w: 4, h: 4, targets: [{ expr: 'keisan_nodes{job="keisan-server"}', legend: '{{state}}' }] },
        { title: 'Jobs', type: 'stat', w: 4, h: 4, targets: [{ expr: 'keisan_jobs{job="keisan-server"}', legend: '{{state}}' }] },
        { title: 'Server memory (RSS)', type: 'stat', w: 4, h: 4, unit: 'bytes', targets: [{ expr: 'keisan_server_process_resident_memory_bytes{job="keisan-server"}', legend: '{{instance}}' }] },
        { title: 'Server CPU', type: 'stat', w: 4, h: 4, unit: 'percentunit', targets: [{ expr: `rate(keisan_server_process_cpu_seconds_total{job="keisan-server"}[${RATE}])`, legend: '{{instance}}' }] },
        { title: 'Server event loop lag (p99)', description: 'Long lags delay API answers, staging and migration.', type: 'stat', w: 4, h: 4, unit: 's', thresholds: { warn: 0.1, red: 0.5 }, targets: [{ expr: 'keisan_server_nodejs_eventloop_lag_p99_seconds{job="keisan-server"}', legend: '{{instance}}' }] },
      ],
    },
  ],
};

export const DASHBOARDS: Record<string, DashboardSpec> = {
  'keisan-nodes.json': nodes,
  'keisan-gpus.json': gpus,
  'keisan-jobs.json': jobs,
  'keisan-storage.json': storage,
};

/** Every dashboard as the text shipped in deploy/grafana/. */
export function renderDashboards(): Record<string, string> {
  return Object.fromEntries(Object.entries(DASHBOARDS).map(([file, spec]) => [file, JSON.stringify(buildDashboard(spec), null, 2) + '\n']));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let differ = 0;
  for (const [file, text] of Object.entries(renderDashboards())) {
    const target = path.join(GRAFANA_DIR, file);
    if (check) {
      let current = '';
      try {
        current = readFileSync(target, 'utf8');
      } catch {
        // missing counts as different
      }
      if (current !== text) {
        console.error(`${target} differs from what scripts/grafana-dashboards.ts builds`);
        differ++;
      }
    } else {
      writeFileSync(target, text);
      console.log(`wrote ${target}`);
    }
  }
  process.exit(differ > 0 ? 1 : 0);
}
