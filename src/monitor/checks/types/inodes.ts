import { z } from 'zod';
import { defineCheck, errorText, unknown } from '../check-type.ts';
import { durationParam, percent, thresholds } from './common.ts';
import { statWithTimeout } from './filesystem.ts';
import { mountsToCheck, PSEUDO_FSTYPES } from './mounts.ts';

const params = z
  .object({
    mounts: z.array(z.string().startsWith('/', 'a mount point starts with /')).default([]),
    ...thresholds(80, 90),
    excludeFsTypes: z.array(z.string()).default(PSEUDO_FSTYPES),
    statTimeout: durationParam('5s'),
    mountinfo: z.string().optional(),
  })
  .strict()
  .refine((p) => p.critical >= p.warning, { message: 'critical must be at least warning', path: ['critical'] });

export default defineCheck({
  type: 'inodes',
  description: 'inode usage per mount above thresholds (filesystems without a fixed inode count are skipped)',
  params,
  target: (p) => (p.mounts.length > 0 ? p.mounts.join(',') : 'all'),
  async run(p, context) {
    let mounts;
    try {
      mounts = await mountsToCheck(p.mounts, p.excludeFsTypes, p.mountinfo);
    } catch (error) {
      return unknown(`cannot list the mounts of ${context.host}: ${errorText(error)}`);
    }
    const outcomes = await Promise.all(
      mounts.map(async (mount) => {
        try {
          const usage = await statWithTimeout(mount.mountpoint, p.statTimeout);
          // btrfs, xfs with dynamic inodes, some FUSE: no fixed count, nothing to run out of.
          if (usage.files === 0) return null;
          const used = usage.files - usage.filesFree;
          const level = usage.filesUsedPercent >= p.critical ? 'critical' : usage.filesUsedPercent >= p.warning ? 'warning' : 'ok';
          let summary = `${mount.mountpoint} on ${context.host} uses ${percent(usage.filesUsedPercent)} of its inodes (${used} of ${usage.files})`;
          if (level !== 'ok') summary += `, above the ${level} threshold of ${level === 'critical' ? p.critical : p.warning} %`;
          return { target: mount.mountpoint, status: level, summary, value: Math.round(usage.filesUsedPercent * 100) / 100, details: { files: usage.files, filesFree: usage.filesFree } } as const;
        } catch (error) {
          return { ...unknown(`cannot read the inodes of ${mount.mountpoint} on ${context.host}: ${errorText(error)}`), target: mount.mountpoint };
        }
      }),
    );
    return outcomes.filter((o) => o !== null);
  },
});
