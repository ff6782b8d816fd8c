import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseComputeAppsCsv, parseGpuSamplesCsv, SAMPLE_FIELDS } from '../../batch/gpus.ts';
import type { Sample } from '../model.ts';
import { busyRatio, parseProcStat, procStatSamples } from './cpu.ts';
import { parseDiskstats } from './disks.ts';
import { filesystemSamples, parseMountinfoFilesystems } from './filesystems.ts';
import { gpuSamples, GpuCollector } from './gpus.ts';
import { jobSamples, parsePasswd } from './jobs.ts';
import { countProcesses, parseLoadavg, parseUptime } from './load.ts';
import { parseMeminfo } from './memory.ts';
import { parseNetDev } from './network.ts';
import { parsePressure } from './pressure.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const shared = (name: string) => readFileSync(new URL(`../../batch/fixtures/gpu-h200x2/${name}`, import.meta.url), 'utf8');

/** The value of the one sample with this name and these labels (fails when there is not exactly one). */
function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(found.length, 1, `one ${name}${JSON.stringify(labels)} in ${JSON.stringify(samples.filter((s) => s.name === name))}`);
  return found[0]!.value;
}
const names = (samples: readonly Sample[]) => [...new Set(samples.map((s) => s.name))].sort();

describe('/proc/stat', () => {
  const first = parseProcStat(fixture('stat-1.txt'));
  const second = parseProcStat(fixture('stat-2.txt'));

  it('reads per-core and total seconds by mode (USER_HZ 100), procs and boot time', () => {
    assert.equal(first.total.user, 17209.95);
    assert.equal(first.cpus.get('1')!.iowait, 189.7);
    assert.deepEqual([...first.cpus.keys()], ['0', '1']);
    const samples = procStatSamples(first, null);
    assert.equal(value(samples, 'node_cpu_seconds_total', { cpu: '0', mode: 'idle' }), 9928.08);
    assert.equal(value(samples, 'node_cpu_seconds_total', { cpu: '1', mode: 'steal' }), 5.14);
    assert.equal(samples.filter((s) => s.name === 'node_cpu_seconds_total').length, 2 * 8);
    assert.equal(value(samples, 'node_procs_running'), 3);
    assert.equal(value(samples, 'node_procs_blocked'), 1);
    assert.equal(value(samples, 'node_boot_time_seconds'), 1795396968);
    assert.ok(!samples.some((s) => s.name === 'keisan_node_cpu_busy_ratio'), 'no busy ratio from a single read');
  });

  it('derives the busy ratio per core and of the machine from two reads', () => {
    const samples = procStatSamples(second, first);
    assert.equal(value(samples, 'keisan_node_cpu_busy_ratio', { cpu: '0' }), 0.75);
    assert.equal(value(samples, 'keisan_node_cpu_busy_ratio', { cpu: '1' }), 0);
    assert.equal(value(samples, 'keisan_node_cpu_busy_ratio', { cpu: 'all' }), 0.375);
    // No time passed (same read twice): no ratio rather than 0/0.
    assert.equal(busyRatio(first.total, first.total), null);
    // iowait counts as idle.
    const waiting = { ...first.total, iowait: first.total.iowait + 10 };
    assert.equal(busyRatio(first.total, waiting), 0);
  });
});

describe('loadavg, uptime, processes, meminfo, pressure', () => {
  it('reads the load averages and uptime', () => {
    const samples = [...parseLoadavg(fixture('loadavg.txt')), ...parseUptime(fixture('uptime.txt'))];
    assert.equal(value(samples, 'node_load1'), 0.1);
    assert.equal(value(samples, 'node_load5'), 1.28);
    assert.equal(value(samples, 'node_load15'), 2.16);
    assert.equal(value(samples, 'keisan_node_uptime_seconds'), 20308.99);
    assert.deepEqual(parseLoadavg('garbage'), []);
  });

  it('counts only the numeric directories of /proc', () => {
    assert.equal(countProcesses(['1', '2', '315', 'self', 'net', 'sys', '12a']), 3);
  });

  it('reads the seven meminfo fields in bytes and no others', () => {
    const samples = parseMeminfo(fixture('meminfo.txt'));
    assert.deepEqual(names(samples), [
      'node_memory_Buffers_bytes',
      'node_memory_Cached_bytes',
      'node_memory_MemAvailable_bytes',
      'node_memory_MemFree_bytes',
      'node_memory_MemTotal_bytes',
      'node_memory_SwapFree_bytes',
      'node_memory_SwapTotal_bytes',
    ]);
    assert.equal(value(samples, 'node_memory_MemTotal_bytes'), 24684084 * 1024);
    assert.equal(value(samples, 'node_memory_SwapFree_bytes'), 1048572 * 1024);
  });

  it('turns PSI totals (µs) into waiting/stalled seconds; cpu has no stalled series', () => {
    const cpu = parsePressure('cpu', fixture('pressure-cpu.txt'));
    assert.deepEqual(cpu, [{ name: 'node_pressure_cpu_waiting_seconds_total', labels: {}, value: 5711.150402 }]);
    const memory = parsePressure('memory', fixture('pressure-memory.txt'));
    assert.equal(value(memory, 'node_pressure_memory_waiting_seconds_total'), 0.380829);
    assert.equal(value(memory, 'node_pressure_memory_stalled_seconds_total'), 0.173517);
    const io = parsePressure('io', fixture('pressure-io.txt'));
    assert.equal(value(io, 'node_pressure_io_stalled_seconds_total'), 162.94427);
  });
});

describe('filesystems', () => {
  it('keeps real mounts only: no pseudo filesystems, no system mount points, no bind mounts of a part of a listed filesystem', () => {
    const mounts = parseMountinfoFilesystems(fixture('mountinfo.txt'));
    assert.deepEqual(
      mounts.map((m) => m.mountpoint),
      ['/', '/data', '/home', '/mnt/scratch space', '/run', '/opt/bound'],
    );
    const byPoint = new Map(mounts.map((m) => [m.mountpoint, m]));
    assert.deepEqual(byPoint.get('/data'), { device: '/dev/nvme0n1p1', fstype: 'xfs', mountpoint: '/data', readonly: false });
    assert.equal(byPoint.get('/home')!.device, 'fs1:/export/home');
    assert.equal(byPoint.get('/mnt/scratch space')!.readonly, true, 'ro in the mount options');
  });

  it('turns statfs into size, free, available, files and readonly', () => {
    const samples = filesystemSamples({ device: '/dev/vda', fstype: 'ext4', mountpoint: '/', readonly: true }, { bsize: 4096, blocks: 1000, bfree: 300, bavail: 250, files: 64, ffree: 60 });
    const labels = { device: '/dev/vda', fstype: 'ext4', mountpoint: '/' };
    assert.equal(value(samples, 'node_filesystem_size_bytes', labels), 4096_000);
    assert.equal(value(samples, 'node_filesystem_free_bytes', labels), 300 * 4096);
    assert.equal(value(samples, 'node_filesystem_avail_bytes', labels), 250 * 4096);
    assert.equal(value(samples, 'node_filesystem_files', labels), 64);
    assert.equal(value(samples, 'node_filesystem_files_free', labels), 60);
    assert.equal(value(samples, 'node_filesystem_readonly', labels), 1);
  });
});

describe('diskstats and net/dev', () => {
  it('reads whole disks (not loop, ram or partitions): bytes from 512-byte sectors, io time in seconds', () => {
    const samples = parseDiskstats(fixture('diskstats.txt'));
    assert.deepEqual([...new Set(samples.map((s) => s.labels.device))], ['vda', 'nvme0n1', 'dm-0']);
    assert.equal(value(samples, 'node_disk_read_bytes_total', { device: 'vda' }), 40995418 * 512);
    assert.equal(value(samples, 'node_disk_written_bytes_total', { device: 'vda' }), 540798888 * 512);
    assert.equal(value(samples, 'node_disk_io_time_seconds_total', { device: 'vda' }), 450.968);
  });

  it('reads bytes and errors of every interface, with or without a space after the colon', () => {
    const samples = parseNetDev(fixture('net-dev.txt'));
    assert.deepEqual([...new Set(samples.map((s) => s.labels.device))], ['lo', 'eth0', 'ib0']);
    assert.equal(value(samples, 'node_network_receive_bytes_total', { device: 'eth0' }), 1281642046);
    assert.equal(value(samples, 'node_network_receive_errs_total', { device: 'eth0' }), 3);
    assert.equal(value(samples, 'node_network_transmit_bytes_total', { device: 'eth0' }), 7110162);
    assert.equal(value(samples, 'node_network_transmit_errs_total', { device: 'eth0' }), 5);
    assert.equal(value(samples, 'node_network_transmit_bytes_total', { device: 'ib0' }), 67890);
  });
});

describe('job cgroups', () => {
  it('v1: memory usage and limit, cpuacct nanoseconds, pids; an unlimited limit is left out', () => {
    const samples = jobSamples('42', 'alice', { memoryUsage: '1048576\n', memoryLimit: '2147483648\n', cpuacctUsage: '2500000000\n', pidsCurrent: '3\n' });
    const labels = { job: '42', user: 'alice' };
    assert.equal(value(samples, 'keisan_job_memory_bytes', labels), 1048576);
    assert.equal(value(samples, 'keisan_job_memory_limit_bytes', labels), 2147483648);
    assert.equal(value(samples, 'keisan_job_cpu_seconds_total', labels), 2.5);
    assert.equal(value(samples, 'keisan_job_pids', labels), 3);
    const unlimited = jobSamples('42', 'alice', { memoryLimit: '9223372036854771712\n' });
    assert.deepEqual(unlimited, []);
  });

  it('v2: memory.current, memory.max ("max" = none), cpu.stat usage_usec', () => {
    const samples = jobSamples('7', 'bob', { memoryUsage: '4096', memoryLimit: 'max\n', cpuStat: 'usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n', pidsCurrent: '1' });
    assert.equal(value(samples, 'keisan_job_cpu_seconds_total', { job: '7' }), 1.5);
    assert.ok(!samples.some((s) => s.name === 'keisan_job_memory_limit_bytes'));
  });

  it('maps uids to names from /etc/passwd', () => {
    const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/bash\n# comment\n\n');
    assert.equal(users.get(0), 'root');
    assert.equal(users.get(1001), 'alice');
  });
});

describe('GPUs (recorded nvidia-smi output of a 2 × H200 machine)', () => {
  it('busy: utilisation, memory, temperature, power, processes per GPU and memory per process', () => {
    const gpus = parseGpuSamplesCsv(shared('query-gpu-busy.csv'), { fields: SAMPLE_FIELDS });
    const apps = parseComputeAppsCsv(shared('query-apps-busy.csv'));
    const samples = gpuSamples(gpus, apps);
    const gpu0 = { gpu: '0', uuid: 'GPU-2726df95-f728-6e35-6d57-28e17260e697', name: 'NVIDIA H200' };
    const gpu1 = { gpu: '1', uuid: 'GPU-be83af57-c8d0-faf1-85fa-5c5d4ec99683', name: 'NVIDIA H200' };
    assert.equal(value(samples, 'keisan_gpu_utilization_ratio', gpu0), 1);
    assert.equal(value(samples, 'keisan_gpu_utilization_ratio', gpu1), 0);
    assert.equal(value(samples, 'keisan_gpu_memory_used_bytes', gpu0), 21711 * 1024 * 1024);
    assert.equal(value(samples, 'keisan_gpu_memory_total_bytes', gpu1), 143771 * 1024 * 1024);
    assert.equal(value(samples, 'keisan_gpu_temperature_celsius', gpu0), 59);
    assert.equal(value(samples, 'keisan_gpu_power_watts', gpu0), 687.69);
    assert.equal(value(samples, 'keisan_gpu_power_limit_watts', gpu0), 700);
    assert.equal(value(samples, 'keisan_gpu_processes', gpu0), 1);
    assert.equal(value(samples, 'keisan_gpu_processes', gpu1), 0);
    assert.equal(value(samples, 'keisan_gpu_process_memory_bytes', { gpu: '0', pid: '568' }), 21702 * 1024 * 1024);
  });

  it('noheader,nounits output gives the same numbers', () => {
    const text = shared('query-gpu-idle.csv')
      .split('\n')
      .slice(1)
      .map((line) => line.replace(/ (MiB|%|W|MHz)(?=,|$)/g, ''))
      .join('\n');
    const samples = gpuSamples(parseGpuSamplesCsv(text, { fields: SAMPLE_FIELDS }), []);
    assert.equal(value(samples, 'keisan_gpu_power_watts', { gpu: '1' }), 80.6);
    assert.equal(value(samples, 'keisan_gpu_memory_total_bytes', { gpu: '0' }), 143771 * 1024 * 1024);
  });

  it('a machine without nvidia-smi gives no GPU series and is not asked again every interval', async () => {
    let runs = 0;
    const collector = new GpuCollector({
      run: async () => {
        runs++;
        throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' });
      },
      recheckMs: 60_000,
    });
    assert.deepEqual(await collector.collect(1000), []);
    assert.match(collector.reason ?? '', /not installed/);
    assert.deepEqual(await collector.collect(2000), []);
    assert.equal(runs, 1);
    await collector.collect(62_000);
    assert.equal(runs, 2);
  });

  it('runs --query-gpu and --query-compute-apps through the runner', async () => {
    const asked: string[][] = [];
    const collector = new GpuCollector({
      run: async (_file, args) => {
        asked.push([...args]);
        const text = args[0]!.startsWith('--query-gpu') ? shared('query-gpu-busy.csv') : shared('query-apps-busy.csv');
        return { code: 0, stdout: text, stderr: '' };
      },
    });
    const samples = await collector.collect();
    assert.equal(asked.length, 2);
    assert.match(asked[1]![0]!, /^--query-compute-apps=/);
    assert.equal(samples.filter((s) => s.name === 'keisan_gpu_utilization_ratio').length, 2);
  });
});
