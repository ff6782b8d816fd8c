/** Parser for /proc/mdstat (Linux md software RAID), as the kernel writes it (drivers/md/md.c md_seq_show). */

export interface MdMember {
  name: string;
  index: number;
  /** F failed, S spare, W write-mostly, R replacement, J journal. */
  flags: string[];
}

export interface MdProgress {
  kind: 'recovery' | 'resync' | 'reshape' | 'check' | 'repair';
  /** null for DELAYED / PENDING. */
  percent: number | null;
  finishMinutes: number | null;
  state?: 'delayed' | 'pending';
}

export interface MdArray {
  name: string;
  active: boolean;
  readOnly: boolean;
  /** raid1, raid5, raid10, linear… (null for an inactive array). */
  level: string | null;
  members: MdMember[];
  /** [n/m]: members the array should have, members working; null for levels without redundancy. */
  wanted: number | null;
  working: number | null;
  /** [UU_]: U up, _ missing; null when not shown. */
  map: string | null;
  progress: MdProgress | null;
}

export function parseMdstat(text: string): MdArray[] {
  const arrays: MdArray[] = [];
  let current: MdArray | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const head = /^(md[\w/]+)\s*:\s*(active|inactive)\s*(.*)$/.exec(line);
    if (head) {
      let rest = head[3]!.trim().split(/\s+/).filter(Boolean);
      let readOnly = false;
      while (rest[0]?.startsWith('(')) {
        if (/read-only/.test(rest[0])) readOnly = true;
        rest = rest.slice(1);
      }
      const active = head[2] === 'active';
      const level = active && rest[0] && !/\[\d+\]/.test(rest[0]) ? rest.shift()! : null;
      const members = rest
        .map((token) => /^([^[]+)\[(\d+)\]((?:\([A-Z]\))*)$/.exec(token))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ name: m[1]!, index: Number(m[2]), flags: [...m[3]!.matchAll(/\(([A-Z])\)/g)].map((f) => f[1]!) }));
      current = { name: head[1]!, active, readOnly, level, members, wanted: null, working: null, map: null, progress: null };
      arrays.push(current);
      continue;
    }
    if (!current) continue;
    const counts = /\[(\d+)\/(\d+)\]\s*\[([U_]+)\]/.exec(line);
    if (counts) {
      current.wanted = Number(counts[1]);
      current.working = Number(counts[2]);
      current.map = counts[3]!;
    }
    const progress = /\b(recovery|resync|reshape|check|repair)\s*=\s*([\d.]+)%(?:.*?finish=([\d.]+)min)?/.exec(line);
    if (progress) {
      current.progress = { kind: progress[1] as MdProgress['kind'], percent: Number(progress[2]), finishMinutes: progress[3] ? Number(progress[3]) : null };
    }
    const waiting = /\b(recovery|resync|reshape|check|repair)\s*=\s*(DELAYED|PENDING)/.exec(line);
    if (waiting) current.progress = { kind: waiting[1] as MdProgress['kind'], percent: null, finishMinutes: null, state: waiting[2] === 'DELAYED' ? 'delayed' : 'pending' };
    if (line.startsWith('unused devices')) current = null;
  }
  return arrays;
}

export const failedMembers = (array: MdArray) => array.members.filter((m) => m.flags.includes('F')).map((m) => m.name);
export const spareMembers = (array: MdArray) => array.members.filter((m) => m.flags.includes('S')).map((m) => m.name);
/** Missing slots: wanted but not working. */
export const missingCount = (array: MdArray) => (array.wanted !== null && array.working !== null ? Math.max(0, array.wanted - array.working) : 0);

/** The state of an array in words and the status it gets. */
export function judgeArray(array: MdArray, host: string): { status: 'ok' | 'warning' | 'critical'; summary: string } {
  const label = `${array.name}${array.level ? ` (${array.level})` : ''} on ${host}`;
  if (!array.active) return { status: 'critical', summary: `${label} is inactive (members: ${array.members.map((m) => m.name).join(', ') || 'none'})` };
  const failed = failedMembers(array);
  const missing = missingCount(array);
  const progress = array.progress;
  const progressText = progress
    ? progress.percent !== null
      ? `${progress.kind} ${progress.percent} %${progress.finishMinutes !== null ? `, about ${Math.round(progress.finishMinutes)} min left` : ''}`
      : `${progress.kind} ${progress.state}`
    : '';
  const parts: string[] = [];
  if (missing > 0) parts.push(`degraded: ${array.working} of ${array.wanted} members working [${array.map}]`);
  if (failed.length > 0) parts.push(`failed disk${failed.length > 1 ? 's' : ''} ${failed.join(', ')}`);
  if (missing > 0 || failed.length > 0) {
    if (progress?.kind === 'recovery' || progress?.kind === 'reshape') {
      // Rebuilding onto a replacement: still at risk, but being repaired.
      return { status: failed.length > 0 && missing > 0 ? 'critical' : 'warning', summary: `${label} is ${parts.join(', ')}; ${progressText}` };
    }
    return { status: 'critical', summary: `${label} is ${parts.join(', ')}` };
  }
  if (progress && (progress.kind === 'resync' || progress.kind === 'recovery' || progress.kind === 'reshape'))
    return { status: 'warning', summary: `${label} is in sync again soon: ${progressText} [${array.map ?? ''}]` };
  return { status: 'ok', summary: `${label} is healthy${array.map ? ` [${array.map}]` : ''}${progress ? ` (${progressText})` : ''}` };
}
