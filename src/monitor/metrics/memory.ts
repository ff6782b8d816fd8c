import { readFileSync } from 'node:fs';
import type { Sample } from '../model.ts';

export const MEMINFO_FIELDS = ['MemTotal', 'MemAvailable', 'MemFree', 'Buffers', 'Cached', 'SwapTotal', 'SwapFree'] as const;

/** /proc/meminfo: the fields node_memory_<Field>_bytes is kept for, in bytes ("kB" is KiB). */
export function parseMeminfo(text: string): Sample[] {
  const wanted = new Set<string>(MEMINFO_FIELDS);
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (!match || !wanted.has(match[1]!)) continue;
    const factor = line.trimEnd().endsWith('kB') ? 1024 : 1;
    out.push({ name: `node_memory_${match[1]}_bytes`, labels: {}, value: Number(match[2]) * factor });
  }
  return out;
}

export function readMeminfo(proc = '/proc'): Sample[] {
  return parseMeminfo(readFileSync(`${proc}/meminfo`, 'utf8'));
}
