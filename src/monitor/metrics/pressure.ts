import { readFileSync } from 'node:fs';
import type { Sample } from '../model.ts';

export const PSI_RESOURCES = ['cpu', 'memory', 'io'] as const;
export type PsiResource = (typeof PSI_RESOURCES)[number];

/**
 * /proc/pressure/<resource>: "some avg10=… total=<µs>" and "full …". `some` becomes
 * node_pressure_<resource>_waiting_seconds_total, `full` node_pressure_<resource>_stalled_seconds_total
 * (not for cpu: node_exporter has no cpu stalled series, and the kernel's cpu `full` is 0 at the system level).
 */
export function parsePressure(resource: PsiResource, text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^(some|full)\s.*\btotal=(\d+)/.exec(line.trim());
    if (!match) continue;
    if (match[1] === 'full' && resource === 'cpu') continue;
    const kind = match[1] === 'some' ? 'waiting' : 'stalled';
    out.push({ name: `node_pressure_${resource}_${kind}_seconds_total`, labels: {}, value: Number(match[2]) / 1e6 });
  }
  return out;
}

/** Every PSI file there is; a kernel without PSI (or with psi=0) gives none. */
export function readPressure(proc = '/proc'): Sample[] {
  return PSI_RESOURCES.flatMap((resource) => {
    try {
      return parsePressure(resource, readFileSync(`${proc}/pressure/${resource}`, 'utf8'));
    } catch {
      return [];
    }
  });
}
