import { readFileSync } from 'node:fs';
import type { Sample } from '../model.ts';

/** Devices node_exporter leaves out too: loop and RAM disks, floppies, and partitions of whole disks. */
export const IGNORED_DISKS = /^(ram|loop|fd|(h|s|v|xv)d[a-z]+\d+|nvme\d+n\d+p\d+|mmcblk\d+p\d+)\d*$/;

/**
 * /proc/diskstats: "major minor name reads merged sectorsRead msRead writes merged sectorsWritten
 * msWritten inFlight msIo weightedMsIo …". Sectors are 512 bytes whatever the device's own size.
 */
export function parseDiskstats(text: string, ignore: RegExp = IGNORED_DISKS): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const device = f[2]!;
    if (ignore.test(device)) continue;
    out.push(
      { name: 'node_disk_read_bytes_total', labels: { device }, value: Number(f[5]) * 512 },
      { name: 'node_disk_written_bytes_total', labels: { device }, value: Number(f[9]) * 512 },
      { name: 'node_disk_io_time_seconds_total', labels: { device }, value: Number(f[12]) / 1000 },
    );
  }
  return out;
}

export function readDiskstats(proc = '/proc'): Sample[] {
  return parseDiskstats(readFileSync(`${proc}/diskstats`, 'utf8'));
}
