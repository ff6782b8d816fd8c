import { readFile, statfs } from 'node:fs/promises';

export interface Mount {
  mountpoint: string;
  /** major:minor of the filesystem: bind mounts of one filesystem share it. */
  devno?: string;
  fstype: string;
  device: string;
  readOnly: boolean;
}

/** Pseudo and read-only-by-nature filesystems, as node_exporter leaves them out (tmpfs is kept: it fills memory). */
export const PSEUDO_FSTYPES = [
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs', 'efivarfs', 'fusectl',
  'hugetlbfs', 'iso9660', 'mqueue', 'nsfs', 'overlay', 'proc', 'procfs', 'pstore', 'rpc_pipefs', 'securityfs', 'selinuxfs',
  'squashfs', 'sysfs', 'tracefs', 'ramfs', 'fuse.lxcfs', 'fuse.gvfsd-fuse', 'nfsd',
];

const unescape = (field: string) => field.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** /proc/self/mountinfo: "36 35 98:0 / /mnt rw,noatime master:1 - ext3 /dev/root rw,errors=continue". */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fstype, device] = right.split(' ');
    if (fields.length < 6 || !fstype) continue;
    mounts.push({ mountpoint: unescape(fields[4]!), devno: fields[2]!, fstype, device: unescape(device ?? ''), readOnly: fields[5]!.split(',').includes('ro') });
  }
  // A path mounted twice: the later mount hides the earlier one.
  const byPoint = new Map(mounts.map((m) => [m.mountpoint, m]));
  return [...byPoint.values()];
}

export async function listMounts(mountinfo = '/proc/self/mountinfo'): Promise<Mount[]> {
  return parseMountinfo(await readFile(mountinfo, 'utf8'));
}

export interface Usage {
  sizeBytes: number;
  usedBytes: number;
  availBytes: number;
  /** As df shows it: used / (used + available to users). */
  usedPercent: number;
  files: number;
  filesFree: number;
  filesUsedPercent: number;
}

export async function usageOf(mountpoint: string): Promise<Usage> {
  const s = await statfs(mountpoint);
  const used = (s.blocks - s.bfree) * s.bsize;
  const avail = s.bavail * s.bsize;
  const filesUsed = s.files - s.ffree;
  return {
    sizeBytes: s.blocks * s.bsize,
    usedBytes: used,
    availBytes: avail,
    usedPercent: used + avail > 0 ? (100 * used) / (used + avail) : 0,
    files: s.files,
    filesFree: s.ffree,
    filesUsedPercent: s.files > 0 ? (100 * filesUsed) / s.files : 0,
  };
}

/** Mounts a usage check looks at: the given ones, or every writable real filesystem. */
export async function mountsToCheck(given: readonly string[], excludeFsTypes: readonly string[], mountinfo?: string): Promise<Mount[]> {
  const mounts = await listMounts(mountinfo);
  if (given.length > 0) {
    return given.map((point) => mounts.find((m) => m.mountpoint === point) ?? { mountpoint: point, fstype: '?', device: '?', readOnly: false });
  }
  const seen = new Set<string>();
  return mounts.filter((m) => {
    if (m.readOnly || excludeFsTypes.includes(m.fstype) || m.mountpoint.startsWith('/proc/') || m.mountpoint.startsWith('/sys/')) return false;
    // A filesystem mounted again elsewhere (bind mounts, /run/netns): checked once, at its first mount point.
    if (m.devno !== undefined && m.devno !== '0:0') {
      if (seen.has(m.devno)) return false;
      seen.add(m.devno);
    }
    return true;
  });
}
