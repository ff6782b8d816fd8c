import type { Severity } from './model.ts';

/**
 * The rules every facility starts with: node_exporter's node-mixin essentials on Keisan's series
 * (node_exporter's names, so deploy/prometheus ships the same rules for Prometheus), plus one
 * rule per check status. keisan.yaml `monitor.alerts.rules` adds rules, changes these by name, or
 * turns them off (`{ name: GpuHot, disabled: true }`).
 *
 * `for` is short on purpose where the scenarios must alert within about two check
 * intervals (a filesystem past 80 %, a stopped essential process, an IP conflict):
 * - check-based rules fire at once (`0s`): the agent's check already decided on a measured
 *   state, it runs every interval, and reports as soon as it finishes — waiting another
 *   interval would only double the time to alert;
 * - HostDown fires at once too: the hub marks a host down only after 3 intervals without a
 *   report, which is its grace already;
 * - static metric thresholds wait one report interval (15 s), so one odd sample does not page;
 * - predictions and pressure wait longer (node-mixin waits 1 h; 15 m here, history is 6 h);
 *   the predictions fit a line through 6 h of points per filesystem, so they run once a minute.
 */
export interface DefaultRule {
  name: string;
  expr: string;
  for: string;
  /** Evaluated this often instead of every evaluationInterval (costly rules whose `for` is long). */
  interval?: string;
  severity: Severity;
  labels?: Record<string, string>;
  summary: string;
  description: string;
}

/** Filesystems that are not real storage. */
const FS = 'fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|proc|sysfs|cgroup2?|autofs|fuse\\\\..*"';

export const DEFAULT_RULES: readonly DefaultRule[] = [
  {
    name: 'HostDown',
    expr: 'up{job="agent"} == 0',
    for: '0s',
    severity: 'critical',
    summary: '{{ $labels.host }} is down: its agent has stopped reporting',
    description: 'No report from the Keisan agent on {{ $labels.host }} for 3 report intervals: the node is down, unreachable, or its agent stopped. Other alerts of the host are inhibited meanwhile.',
  },
  {
    name: 'FilesystemAlmostFull',
    expr: `100 * (1 - node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}}) > 80 and node_filesystem_readonly == 0`,
    for: '15s',
    severity: 'critical',
    summary: '{{ $labels.mountpoint }} on {{ $labels.host }} is {{ $value | printf "%.1f" }} % full',
    description: 'Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.host }} is more than 80 % full.',
  },
  {
    name: 'FilesystemFillingUp',
    expr:
      `100 * node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}} < 40` +
      ` and predict_linear(node_filesystem_avail_bytes{${FS}}[6h], 24h) < 0 and node_filesystem_readonly == 0`,
    for: '15m',
    interval: '1m',
    severity: 'warning',
    summary: '{{ $labels.mountpoint }} on {{ $labels.host }} will be full within 24 hours ({{ $value | printf "%.1f" }} % free)',
    description: 'At the rate of the last 6 hours, {{ $labels.mountpoint }} on {{ $labels.host }} runs out of space within a day.',
  },
  {
    name: 'FilesystemFillingUpFast',
    expr:
      `100 * node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}} < 20` +
      ` and predict_linear(node_filesystem_avail_bytes{${FS}}[6h], 4h) < 0 and node_filesystem_readonly == 0`,
    for: '15m',
    interval: '1m',
    severity: 'critical',
    summary: '{{ $labels.mountpoint }} on {{ $labels.host }} will be full within 4 hours ({{ $value | printf "%.1f" }} % free)',
    description: 'At the rate of the last 6 hours, {{ $labels.mountpoint }} on {{ $labels.host }} runs out of space within 4 hours.',
  },
  {
    name: 'FilesystemFilesAlmostOut',
    expr: `100 * node_filesystem_files_free{${FS}} / node_filesystem_files{${FS}} < 5 and node_filesystem_readonly == 0`,
    for: '15s',
    severity: 'critical',
    summary: '{{ $labels.mountpoint }} on {{ $labels.host }} has {{ $value | printf "%.1f" }} % of its inodes left',
    description: 'Filesystem {{ $labels.mountpoint }} on {{ $labels.host }} is running out of inodes: new files cannot be created once none is left.',
  },
  {
    name: 'CheckCritical',
    expr: 'keisan_check_status >= 2',
    for: '0s',
    severity: 'critical',
    summary: '{{ $summary }}',
    description: 'Check {{ $labels.check }} on {{ $labels.host }} reports critical (status 2) or could not run (status 3, unknown): see keisan checks --host {{ $labels.host }}.',
  },
  {
    name: 'CheckWarning',
    expr: 'keisan_check_status == 1',
    for: '0s',
    severity: 'warning',
    summary: '{{ $summary }}',
    description: 'Check {{ $labels.check }} on {{ $labels.host }} warns: see keisan checks --host {{ $labels.host }}.',
  },
  {
    name: 'HighMemoryPressure',
    expr: 'rate(node_pressure_memory_stalled_seconds_total[5m]) > 0.1',
    for: '5m',
    severity: 'warning',
    summary: '{{ $labels.host }} stalls on memory {{ $value | humanizePercentage }} of the time',
    description: 'Pressure stall information: every non-idle task on {{ $labels.host }} waited for memory over 10 % of the last 5 minutes; jobs are thrashing or swapping.',
  },
  {
    name: 'MemoryAlmostFull',
    expr: '100 * node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 5',
    for: '2m',
    severity: 'warning',
    summary: '{{ $labels.host }} has {{ $value | printf "%.1f" }} % of its memory available',
    description: 'Less than 5 % of the memory of {{ $labels.host }} is available: the OOM killer is near.',
  },
  {
    name: 'GpuHot',
    expr: 'keisan_gpu_temperature_celsius > 85',
    for: '5m',
    severity: 'warning',
    summary: 'GPU {{ $labels.gpu }} ({{ $labels.name }}) on {{ $labels.host }} is at {{ $value }} °C',
    description: 'GPU {{ $labels.gpu }} on {{ $labels.host }} has been above 85 °C for 5 minutes: check its cooling; it will throttle.',
  },
];

/** Default inhibition: a host that is down mutes its other alerts; a full filesystem mutes its check. */
export const DEFAULT_INHIBIT = [
  { source: ['alertname=HostDown'], target: ['alertname!=HostDown'], equal: ['host'] },
  { source: ['alertname=FilesystemAlmostFull'], target: ['alertname=~Check.*', 'type=filesystem'], equal: ['host'] },
  { source: ['alertname=FilesystemFilesAlmostOut'], target: ['alertname=~Check.*', 'type=inodes'], equal: ['host'] },
];
