/**
 * Every metric the agent exposes: name, type, labels and help, as listed in src/monitor/README.md.
 * node_exporter's names where one exists, so its rules and dashboards apply unchanged.
 */
export interface MetricDef {
  type: 'gauge' | 'counter';
  labels: readonly string[];
  help: string;
}

const fs = ['device', 'fstype', 'mountpoint'] as const;
const gpu = ['gpu', 'uuid', 'name'] as const;
const job = ['job', 'user'] as const;

export const METRICS: Record<string, MetricDef> = {
  node_cpu_seconds_total: { type: 'counter', labels: ['cpu', 'mode'], help: 'Seconds the CPUs spent in each mode (/proc/stat).' },
  keisan_node_cpu_busy_ratio: { type: 'gauge', labels: ['cpu'], help: 'Share of the last interval a CPU was busy (not idle or iowait); cpu="all" for the machine.' },
  node_procs_running: { type: 'gauge', labels: [], help: 'Processes in runnable state (/proc/stat).' },
  node_procs_blocked: { type: 'gauge', labels: [], help: 'Processes blocked waiting for I/O (/proc/stat).' },
  node_boot_time_seconds: { type: 'gauge', labels: [], help: 'Boot time, seconds since the epoch (/proc/stat btime).' },
  node_time_seconds: { type: 'gauge', labels: [], help: "The node's clock, seconds since the epoch." },
  node_load1: { type: 'gauge', labels: [], help: '1-minute load average.' },
  node_load5: { type: 'gauge', labels: [], help: '5-minute load average.' },
  node_load15: { type: 'gauge', labels: [], help: '15-minute load average.' },
  node_memory_MemTotal_bytes: { type: 'gauge', labels: [], help: 'Memory information field MemTotal (/proc/meminfo).' },
  node_memory_MemAvailable_bytes: { type: 'gauge', labels: [], help: 'Memory information field MemAvailable (/proc/meminfo).' },
  node_memory_MemFree_bytes: { type: 'gauge', labels: [], help: 'Memory information field MemFree (/proc/meminfo).' },
  node_memory_Buffers_bytes: { type: 'gauge', labels: [], help: 'Memory information field Buffers (/proc/meminfo).' },
  node_memory_Cached_bytes: { type: 'gauge', labels: [], help: 'Memory information field Cached (/proc/meminfo).' },
  node_memory_SwapTotal_bytes: { type: 'gauge', labels: [], help: 'Memory information field SwapTotal (/proc/meminfo).' },
  node_memory_SwapFree_bytes: { type: 'gauge', labels: [], help: 'Memory information field SwapFree (/proc/meminfo).' },
  node_pressure_cpu_waiting_seconds_total: { type: 'counter', labels: [], help: 'Seconds some runnable task waited for a CPU (PSI).' },
  node_pressure_memory_waiting_seconds_total: { type: 'counter', labels: [], help: 'Seconds some task waited for memory (PSI).' },
  node_pressure_memory_stalled_seconds_total: { type: 'counter', labels: [], help: 'Seconds all non-idle tasks stalled on memory (PSI).' },
  node_pressure_io_waiting_seconds_total: { type: 'counter', labels: [], help: 'Seconds some task waited for I/O (PSI).' },
  node_pressure_io_stalled_seconds_total: { type: 'counter', labels: [], help: 'Seconds all non-idle tasks stalled on I/O (PSI).' },
  node_filesystem_size_bytes: { type: 'gauge', labels: fs, help: 'Filesystem size in bytes.' },
  node_filesystem_avail_bytes: { type: 'gauge', labels: fs, help: 'Filesystem space available to non-root users in bytes.' },
  node_filesystem_free_bytes: { type: 'gauge', labels: fs, help: 'Filesystem free space in bytes.' },
  node_filesystem_files: { type: 'gauge', labels: fs, help: 'Filesystem total file nodes.' },
  node_filesystem_files_free: { type: 'gauge', labels: fs, help: 'Filesystem total free file nodes.' },
  node_filesystem_readonly: { type: 'gauge', labels: fs, help: 'Filesystem mounted read-only (1) or not (0).' },
  node_disk_read_bytes_total: { type: 'counter', labels: ['device'], help: 'Bytes read from the disk (/proc/diskstats).' },
  node_disk_written_bytes_total: { type: 'counter', labels: ['device'], help: 'Bytes written to the disk (/proc/diskstats).' },
  node_disk_io_time_seconds_total: { type: 'counter', labels: ['device'], help: 'Seconds the disk spent doing I/O (/proc/diskstats).' },
  node_network_receive_bytes_total: { type: 'counter', labels: ['device'], help: 'Bytes received (/proc/net/dev).' },
  node_network_transmit_bytes_total: { type: 'counter', labels: ['device'], help: 'Bytes transmitted (/proc/net/dev).' },
  node_network_receive_errs_total: { type: 'counter', labels: ['device'], help: 'Receive errors (/proc/net/dev).' },
  node_network_transmit_errs_total: { type: 'counter', labels: ['device'], help: 'Transmit errors (/proc/net/dev).' },
  keisan_node_processes: { type: 'gauge', labels: [], help: 'Processes on the node (/proc).' },
  keisan_node_uptime_seconds: { type: 'gauge', labels: [], help: 'Seconds since the node booted (/proc/uptime).' },
  keisan_job_cpu_seconds_total: { type: 'counter', labels: job, help: "CPU seconds a running job's cgroup used." },
  keisan_job_memory_bytes: { type: 'gauge', labels: job, help: "Memory a running job's cgroup uses now (RSS and page cache)." },
  keisan_job_memory_limit_bytes: { type: 'gauge', labels: job, help: "Memory limit of a running job's cgroup." },
  keisan_job_pids: { type: 'gauge', labels: job, help: "Processes and threads in a running job's cgroup." },
  keisan_gpu_utilization_ratio: { type: 'gauge', labels: gpu, help: 'Share of the last sample period a kernel ran on the GPU (nvidia-smi utilization.gpu / 100).' },
  keisan_gpu_memory_used_bytes: { type: 'gauge', labels: gpu, help: 'GPU memory in use.' },
  keisan_gpu_memory_total_bytes: { type: 'gauge', labels: gpu, help: 'GPU memory in all.' },
  keisan_gpu_temperature_celsius: { type: 'gauge', labels: gpu, help: 'GPU core temperature.' },
  keisan_gpu_power_watts: { type: 'gauge', labels: gpu, help: 'GPU power draw.' },
  keisan_gpu_power_limit_watts: { type: 'gauge', labels: gpu, help: 'GPU power limit.' },
  keisan_gpu_processes: { type: 'gauge', labels: gpu, help: 'Compute processes on the GPU.' },
  keisan_check_status: { type: 'gauge', labels: ['check', 'type', 'target'], help: "The latest result of each of the node's health checks: 0 ok, 1 warning, 2 critical, 3 unknown." },
  keisan_check_value: { type: 'gauge', labels: ['check', 'type', 'target'], help: 'The number a health check decided on (percent full, seconds of drift, days left…), where it has one.' },
  keisan_gpu_process_memory_bytes: { type: 'gauge', labels: ['gpu', 'pid'], help: 'GPU memory a compute process uses.' },
};
