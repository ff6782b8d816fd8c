import { statfs } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import type { Sample } from '../model.ts';

/** Pseudo and virtual filesystems: no disk space to watch (node_exporter's default exclusions, and cgroup/tmpfs-like kernels' own). */
export const PSEUDO_FSTYPES = new Set([
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs', 'efivarfs', 'fusectl',
  'hugetlbfs', 'iso9660', 'mqueue', 'nsfs', 'overlay', 'proc', 'procfs', 'pstore', 'ramfs', 'rpc_pipefs', 'securityfs',
  'selinuxfs', 'squashfs', 'sysfs', 'tracefs', 'fuse.lxcfs', 'fuse.gvfsd-fuse', 'fuse.portal', 'nfsd',
]);
/** Mount points under these are the system's own (node_exporter's default exclusion). */
export const IGNORED_MOUNTPOINTS = /^\/(dev|proc|sys|run\/credentials\/.+|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;

export interface Mount {
  device: string;
  fstype: string;
  mountpoint: string;
  readonly: boolean;
}

const unescape = (text: string) => text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/**
 * The real filesystems in /proc/self/mountinfo text: pseudo filesystems and system mount points
 * left out, one entry per mount point (the last mount over it wins), and bind mounts of a part of
 * a filesystem already listed left out (they would count its space twice).
 */
export function parseMountinfoFilesystems(text: string): Mount[] {
  const byMountpoint = new Map<string, Mount & { majorMinor: string; root: string }>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 6 || f.length < sep + 3) continue;
    const fstype = f[sep + 1]!;
    const mountpoint = unescape(f[4]!);
    if (PSEUDO_FSTYPES.has(fstype) || IGNORED_MOUNTPOINTS.test(mountpoint)) continue;
    const mountOptions = f[5]!.split(',');
    const superOptions = (f[sep + 3] ?? '').split(',');
    byMountpoint.set(mountpoint, {
      device: unescape(f[sep + 2]!),
      fstype,
      mountpoint,
      readonly: mountOptions.includes('ro') || superOptions.includes('ro'),
      majorMinor: f[2]!,
      root: unescape(f[3]!),
    });
  }
  const wholeMounted = new Set([...byMountpoint.values()].filter((m) => m.root === '/').map((m) => m.majorMinor));
  return [...byMountpoint.values()]
    .filter((m) => m.root === '/' || !wholeMounted.has(m.majorMinor))
    .map(({ device, fstype, mountpoint, readonly }) => ({ device, fstype, mountpoint, readonly }));
}

export interface FsStats {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

export function filesystemSamples(mount: Mount, stats: FsStats): Sample[] {
  const labels = { device: mount.device, fstype: mount.fstype, mountpoint: mount.mountpoint };
  return [
    { name: 'node_filesystem_size_bytes', labels, value: stats.blocks * stats.bsize },
    { name: 'node_filesystem_free_bytes', labels, value: stats.bfree * stats.bsize },
    { name: 'node_filesystem_avail_bytes', labels, value: stats.bavail * stats.bsize },
    { name: 'node_filesystem_files', labels, value: stats.files },
    { name: 'node_filesystem_files_free', labels, value: stats.ffree },
    { name: 'node_filesystem_readonly', labels, value: mount.readonly ? 1 : 0 },
  ];
}

/**
 * statfs of every real mount, each bounded by a timeout: a hung NFS server must not stall the
 * agent. A mount that timed out is skipped for the next `backoffMs` (its statfs may still hang in
 * a libuv thread; asking again would tie up another).
 */
export class FilesystemCollector {
  private readonly hung = new Map<string, number>();

  constructor(
    private readonly options: { mountinfo?: string; timeoutMs?: number; backoffMs?: number } = {},
  ) {}

  async collect(nowMs = Date.now()): Promise<Sample[]> {
    const mounts = parseMountinfoFilesystems(await readFile(this.options.mountinfo ?? '/proc/self/mountinfo', 'utf8'));
    const timeoutMs = this.options.timeoutMs ?? 2000;
    const parts = await Promise.all(
      mounts.map(async (mount) => {
        const until = this.hung.get(mount.mountpoint);
        if (until !== undefined && until > nowMs) return [];
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
          timer.unref();
        });
        try {
          const result = await Promise.race([statfs(mount.mountpoint), timeout]);
          if (result === 'timeout') {
            this.hung.set(mount.mountpoint, nowMs + (this.options.backoffMs ?? 300_000));
            return [];
          }
          this.hung.delete(mount.mountpoint);
          return filesystemSamples(mount, result);
        } catch {
          return []; // gone or not ours to read (EACCES): no series, as node_exporter does
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return parts.flat();
  }
}
