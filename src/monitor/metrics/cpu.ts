import { readFileSync } from 'node:fs';
import type { Sample } from '../model.ts';

/** /proc/stat counts in USER_HZ ticks: 100 per second on every Linux architecture node_exporter supports. */
export const USER_HZ = 100;

/** The modes of a /proc/stat cpu line, in the kernel's order (guest time is inside user already). */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
export type CpuMode = (typeof CPU_MODES)[number];

export interface ProcStat {
  /** Seconds per mode, of the whole machine. */
  total: Record<CpuMode, number>;
  /** Seconds per mode of each CPU, by its number ("0", "1"…). */
  cpus: Map<string, Record<CpuMode, number>>;
  procsRunning: number | null;
  procsBlocked: number | null;
  /** Boot time, seconds since the epoch. */
  bootTime: number | null;
}

function modes(fields: string[]): Record<CpuMode, number> {
  const out = {} as Record<CpuMode, number>;
  CPU_MODES.forEach((mode, i) => (out[mode] = Number(fields[i] ?? 0) / USER_HZ));
  return out;
}

/** Parses /proc/stat text. Lines it does not know are ignored. */
export function parseProcStat(text: string): ProcStat {
  const stat: ProcStat = { total: modes([]), cpus: new Map(), procsRunning: null, procsBlocked: null, bootTime: null };
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const key = fields[0];
    if (key === 'cpu') stat.total = modes(fields.slice(1));
    else if (key !== undefined && /^cpu\d+$/.test(key)) stat.cpus.set(key.slice(3), modes(fields.slice(1)));
    else if (key === 'procs_running') stat.procsRunning = Number(fields[1]);
    else if (key === 'procs_blocked') stat.procsBlocked = Number(fields[1]);
    else if (key === 'btime') stat.bootTime = Number(fields[1]);
  }
  return stat;
}

const busyOf = (m: Record<CpuMode, number>) => {
  const all = CPU_MODES.reduce((sum, mode) => sum + m[mode], 0);
  return { all, idle: m.idle + m.iowait };
};

/** Share of the time between two reads a CPU was busy (not idle, not waiting for I/O); null without progress. */
export function busyRatio(before: Record<CpuMode, number>, after: Record<CpuMode, number>): number | null {
  const a = busyOf(before);
  const b = busyOf(after);
  const elapsed = b.all - a.all;
  if (!(elapsed > 0)) return null;
  const ratio = 1 - (b.idle - a.idle) / elapsed;
  return Math.min(1, Math.max(0, ratio));
}

/** The samples of one /proc/stat read; with the previous read, keisan_node_cpu_busy_ratio too. */
export function procStatSamples(stat: ProcStat, previous: ProcStat | null): Sample[] {
  const samples: Sample[] = [];
  for (const [cpu, m] of stat.cpus) for (const mode of CPU_MODES) samples.push({ name: 'node_cpu_seconds_total', labels: { cpu, mode }, value: m[mode] });
  if (previous) {
    const total = busyRatio(previous.total, stat.total);
    if (total !== null) samples.push({ name: 'keisan_node_cpu_busy_ratio', labels: { cpu: 'all' }, value: total });
    for (const [cpu, m] of stat.cpus) {
      const before = previous.cpus.get(cpu);
      const ratio = before ? busyRatio(before, m) : null;
      if (ratio !== null) samples.push({ name: 'keisan_node_cpu_busy_ratio', labels: { cpu }, value: ratio });
    }
  }
  if (stat.procsRunning !== null) samples.push({ name: 'node_procs_running', labels: {}, value: stat.procsRunning });
  if (stat.procsBlocked !== null) samples.push({ name: 'node_procs_blocked', labels: {}, value: stat.procsBlocked });
  if (stat.bootTime !== null) samples.push({ name: 'node_boot_time_seconds', labels: {}, value: stat.bootTime });
  return samples;
}

/** Small files of a pseudo filesystem: read synchronously (no thread-pool round trips, less garbage). */
export function readProcStat(proc = '/proc'): ProcStat {
  return parseProcStat(readFileSync(`${proc}/stat`, 'utf8'));
}
