import { readdirSync, readFileSync } from 'node:fs';
import type { Sample } from '../model.ts';

/** /proc/loadavg: "0.10 1.28 2.16 3/90 15359". */
export function parseLoadavg(text: string): Sample[] {
  const [l1, l5, l15] = text.trim().split(/\s+/).map(Number);
  const out: Sample[] = [];
  if (Number.isFinite(l1)) out.push({ name: 'node_load1', labels: {}, value: l1! });
  if (Number.isFinite(l5)) out.push({ name: 'node_load5', labels: {}, value: l5! });
  if (Number.isFinite(l15)) out.push({ name: 'node_load15', labels: {}, value: l15! });
  return out;
}

/** /proc/uptime: "20308.99 18904.13" (seconds up, seconds idle summed over CPUs). */
export function parseUptime(text: string): Sample[] {
  const up = Number(text.trim().split(/\s+/)[0]);
  return Number.isFinite(up) ? [{ name: 'keisan_node_uptime_seconds', labels: {}, value: up }] : [];
}

/** How many processes there are: the numeric directories of /proc. */
export function countProcesses(names: readonly string[]): number {
  let n = 0;
  for (const name of names) if (/^\d+$/.test(name)) n++;
  return n;
}

export function readLoadAndProcesses(proc = '/proc', nowMs = Date.now()): Sample[] {
  const loadavg = readFileSync(`${proc}/loadavg`, 'utf8');
  const uptime = readFileSync(`${proc}/uptime`, 'utf8');
  const names = readdirSync(proc);
  return [
    ...parseLoadavg(loadavg),
    ...parseUptime(uptime),
    { name: 'keisan_node_processes', labels: {}, value: countProcesses(names) },
    { name: 'node_time_seconds', labels: {}, value: nowMs / 1000 },
  ];
}
