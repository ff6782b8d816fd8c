import fs from 'node:fs';

/** Small reads of kernel files (/proc, cgroup files): null where the file is gone or unreadable. */
export function readText(file: string, encoding: BufferEncoding = 'utf8'): string | null {
  try {
    return fs.readFileSync(file, encoding);
  } catch {
    return null;
  }
}

/** A one-number file; `max` (no limit) and anything unreadable are null. */
export function readNumber(file: string): number | null {
  const text = readText(file)?.trim();
  if (text === undefined || text === '' || text === 'max') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** `key value` lines (memory.events, cpu.stat, memory.oom_control, cgroup.events, memory.stat). */
export function readKeyed(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (readText(file) ?? '').split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value !== undefined && /^-?\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}
