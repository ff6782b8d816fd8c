import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { defineCheck, errorText, unknown, type CheckOutcome } from '../check-type.ts';
import { failedMembers, judgeArray, missingCount, parseMdstat } from './mdstat.ts';

const params = z
  .object({
    mdstat: z.string().default('/proc/mdstat'),
    /** LVM mirrors (segment types raid1, raid10, mirror) through `lvs`: auto = when lvs is installed. */
    lvm: z.enum(['auto', 'off']).default('auto'),
  })
  .strict();

export interface LvmMirror {
  vg: string;
  lv: string;
  segtype: string;
  attr: string;
  health: string;
  copyPercent: number | null;
}

/** `lvs --reportformat json -o vg_name,lv_name,segtype,lv_attr,lv_health_status,copy_percent`. */
export function parseLvs(json: string): LvmMirror[] {
  const data = JSON.parse(json) as { report?: { lv?: Record<string, string>[] }[] };
  return (data.report ?? [])
    .flatMap((report) => report.lv ?? [])
    .filter((lv) => ['raid1', 'raid10', 'mirror'].includes(lv.segtype ?? ''))
    .map((lv) => ({
      vg: lv.vg_name ?? '',
      lv: lv.lv_name ?? '',
      segtype: lv.segtype ?? '',
      attr: lv.lv_attr ?? '',
      health: (lv.lv_health_status ?? '').trim(),
      copyPercent: lv.copy_percent ? Number(lv.copy_percent) : null,
    }));
}

export function judgeLvm(m: LvmMirror, host: string): CheckOutcome {
  const label = `LVM mirror ${m.vg}/${m.lv} (${m.segtype}) on ${host}`;
  // lv_attr character 9 is the volume health: p partial (a device missing), r refresh needed, m mismatches.
  const healthChar = m.attr[8] ?? '-';
  const details = { ...m };
  if (m.health === 'partial' || healthChar === 'p') return { target: `${m.vg}/${m.lv}`, status: 'critical', summary: `${label} is broken: a member device is missing (partial)`, value: 1, details };
  if (m.health === 'refresh needed' || healthChar === 'r')
    return { target: `${m.vg}/${m.lv}`, status: 'critical', summary: `${label} has a failed member: refresh needed (lvchange --refresh, or replace the disk)`, value: 1, details };
  if (m.health === 'mismatches exist' || healthChar === 'm') return { target: `${m.vg}/${m.lv}`, status: 'warning', summary: `${label}: its copies differ (mismatches exist)`, value: 0, details };
  if (m.copyPercent !== null && m.copyPercent < 100) return { target: `${m.vg}/${m.lv}`, status: 'warning', summary: `${label} is syncing: ${m.copyPercent} % copied`, value: 0, details };
  return { target: `${m.vg}/${m.lv}`, status: 'ok', summary: `${label} is healthy`, value: 0, details };
}

/**
 * Broken mirrors: md raid1/raid10 arrays with missing or failed members (from /proc/mdstat), and
 * LVM raid1/raid10/mirror volumes whose health is partial or needs a refresh (from `lvs`, when
 * installed). The raid check covers every md level; this one names the mirrors.
 */
export default defineCheck({
  type: 'mirror',
  description: 'broken mirrors: md raid1/raid10 with missing members, LVM mirrors (lvs) partial or failed',
  params,
  target: () => 'mirrors',
  defaultInterval: 60_000,
  async run(p, context) {
    const outcomes: CheckOutcome[] = [];
    let text = '';
    try {
      text = await readFile(p.mdstat, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') outcomes.push({ ...unknown(`cannot read ${p.mdstat} on ${context.host}: ${errorText(error)}`), target: 'md' });
    }
    for (const array of parseMdstat(text).filter((a) => a.level === 'raid1' || a.level === 'raid10' || (!a.active && a.members.length > 0))) {
      const judged = judgeArray(array, context.host);
      const broken = missingCount(array) > 0 || failedMembers(array).length > 0;
      outcomes.push({
        target: array.name,
        status: judged.status,
        summary: broken ? `mirror ${judged.summary.replace(/ is degraded/, ' is broken')}` : `mirror ${judged.summary}`,
        value: missingCount(array) + failedMembers(array).length,
        details: { level: array.level, map: array.map, failed: failedMembers(array) },
      });
    }
    let lvmNote = 'LVM not checked (lvm: off)';
    if (p.lvm === 'auto') {
      const lvs = await context.exec('lvs', ['--reportformat', 'json', '--units', 'b', '-o', 'vg_name,lv_name,segtype,lv_attr,lv_health_status,copy_percent'], { timeoutMs: 15_000, signal: context.signal });
      if (lvs.failure?.includes('not installed')) lvmNote = 'lvs is not installed: no LVM mirrors checked';
      else if (lvs.failure || lvs.code !== 0) outcomes.push({ ...unknown(`cannot list LVM volumes on ${context.host}: ${lvs.failure ?? lvs.stderr.trim().split('\n')[0]}`), target: 'lvm' });
      else {
        try {
          const mirrors = parseLvs(lvs.stdout);
          outcomes.push(...mirrors.map((m) => judgeLvm(m, context.host)));
          lvmNote = `${mirrors.length} LVM mirror${mirrors.length === 1 ? '' : 's'}`;
        } catch (error) {
          outcomes.push({ ...unknown(`cannot read the output of lvs on ${context.host}: ${errorText(error)}`), target: 'lvm' });
        }
      }
    }
    if (outcomes.length === 0) return { target: 'mirrors', status: 'ok', summary: `no mirrors on ${context.host} (no md raid1/raid10; ${lvmNote})`, value: 0 };
    return outcomes;
  },
});
