import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { defineCheck, errorText, unknown } from '../check-type.ts';
import { failedMembers, judgeArray, missingCount, parseMdstat, spareMembers } from './mdstat.ts';

const params = z.object({ mdstat: z.string().default('/proc/mdstat') }).strict();

export default defineCheck({
  type: 'raid',
  description: 'Linux software RAID (/proc/mdstat): degraded arrays [U_], rebuilds, failed disks, inactive arrays',
  params,
  target: () => 'md',
  defaultInterval: 60_000,
  async run(p, context) {
    let text: string;
    try {
      text = await readFile(p.mdstat, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'ok', summary: `no software RAID on ${context.host} (${p.mdstat} does not exist)`, value: 0, target: 'md' };
      return { ...unknown(`cannot read ${p.mdstat} on ${context.host}: ${errorText(error)}`), target: 'md' };
    }
    const arrays = parseMdstat(text);
    if (arrays.length === 0) return { status: 'ok', summary: `no software RAID arrays on ${context.host}`, value: 0, target: 'md' };
    return arrays.map((array) => {
      const judged = judgeArray(array, context.host);
      return {
        target: array.name,
        ...judged,
        value: missingCount(array) + failedMembers(array).length,
        details: { level: array.level, map: array.map, wanted: array.wanted, working: array.working, failed: failedMembers(array), spares: spareMembers(array), progress: array.progress },
      };
    });
  },
});
