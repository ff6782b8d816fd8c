import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type pino from 'pino';
import { detectCgroupLayout } from '../../batch/executors/local/cgroups.ts';
import { NodeCollector } from './collector.ts';
import { samplesRegistry } from './exposition.ts';
import { SlurmCgroupTree, slurmJobRecords } from '../../recovery/slurm-jobs.ts';
import { JobCollector } from './jobs.ts';
import { METRICS } from './names.ts';
import type { Sample } from '../model.ts';

const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-metrics-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function write(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
}

describe('NodeCollector on this machine', () => {
  it('collects every node source; the second collection adds busy ratios; names are all documented', async () => {
    let now = 1_000_000;
    const collector = new NodeCollector({ jobs: { parent: `keisan-test-none-${process.pid}` }, gpus: false, now: () => now });
    const first = await collector.collect();
    assert.ok(!first.some((s) => s.name === 'keisan_node_cpu_busy_ratio'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    now += 15_000;
    const samples = await collector.collect();
    const names = new Set(samples.map((s) => s.name));
    for (const name of [
      'node_cpu_seconds_total',
      'keisan_node_cpu_busy_ratio',
      'node_procs_running',
      'node_boot_time_seconds',
      'node_load1',
      'node_memory_MemAvailable_bytes',
      'node_memory_SwapTotal_bytes',
      'node_filesystem_avail_bytes',
      'node_filesystem_readonly',
      'node_disk_read_bytes_total',
      'node_network_receive_bytes_total',
      'keisan_node_processes',
      'keisan_node_uptime_seconds',
      'node_time_seconds',
    ]) {
      assert.ok(names.has(name), `${name} collected`);
    }
    for (const name of names) assert.ok(METRICS[name], `${name} is in names.ts`);
    const root = samples.find((s) => s.name === 'node_filesystem_size_bytes' && s.labels.mountpoint === '/');
    assert.ok(root && root.value > 0, 'the root filesystem has a size');
    assert.equal(samples.find((s) => s.name === 'node_time_seconds')!.value, now / 1000);
    const busy = samples.find((s) => s.name === 'keisan_node_cpu_busy_ratio' && s.labels.cpu === 'all')!;
    assert.ok(busy.value >= 0 && busy.value <= 1);
    // A pseudo filesystem is never listed.
    assert.ok(!samples.some((s) => s.name === 'node_filesystem_size_bytes' && ['proc', 'sysfs', 'cgroup', 'cgroup2'].includes(s.labels.fstype!)));
  });

  it('latest() reuses a recent collection and shares one in flight', async () => {
    let now = 0;
    const collector = new NodeCollector({ gpus: false, now: () => now });
    const [a, b] = await Promise.all([collector.collect(), collector.collect()]);
    assert.equal(a, b, 'one collection for two concurrent callers');
    now = 4_000;
    assert.equal(await collector.latest(5_000), a);
    now = 6_000;
    assert.notEqual(await collector.latest(5_000), a);
  });

  it('busy ratios: a scrape in between does not shorten the window of the next report', async () => {
    const proc = path.join(scratch, 'proc-ratio');
    const stat = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
    write(proc, { stat: stat('stat-1.txt') });
    let now = 0;
    const collector = new NodeCollector({ proc, gpus: false, now: () => now });
    await collector.collect(); // a report: the base
    write(proc, { stat: stat('stat-2.txt') });
    now = 10_000;
    const scrape = await collector.latest(5_000); // a scrape: fresh, but does not move the base
    const busy = (samples: Sample[]) => samples.find((s) => s.name === 'keisan_node_cpu_busy_ratio' && s.labels.cpu === 'all')?.value;
    assert.equal(busy(scrape), 0.375);
    now = 15_000;
    assert.equal(busy(await collector.collect()), 0.375, 'the report still compares with the previous report');
    now = 30_000;
    assert.equal(busy(await collector.collect()), undefined, 'no time passed in /proc/stat since that report: no ratio');
  });

  it('a missing source is left out, the rest still collected', async () => {
    const proc = path.join(scratch, 'proc-partial');
    write(proc, { loadavg: '1.00 0.50 0.25 1/100 99\n', uptime: '100.5 90.1\n', meminfo: 'MemTotal: 1000 kB\n' });
    write(path.join(proc, '123'), {});
    const warnings: string[] = [];
    const logger = { warn: (o: { source: string }) => warnings.push(o.source) } as unknown as pino.Logger;
    const samples = await new NodeCollector({ proc, gpus: false, logger }).collect();
    assert.equal(samples.find((s) => s.name === 'node_load1')!.value, 1);
    assert.equal(samples.find((s) => s.name === 'keisan_node_processes')!.value, 1);
    assert.equal(samples.find((s) => s.name === 'node_memory_MemTotal_bytes')!.value, 1024_000);
    assert.deepEqual(warnings.sort(), ['diskstats', 'net/dev', 'stat']);
  });
});

describe('job cgroups', () => {
  const me = userInfo().username;

  it('v1 (memory, cpuacct, pids hierarchies): one set of series per job-<id>, user from the processes', async () => {
    const root = path.join(scratch, 'v1');
    write(path.join(root, 'memory/keisan/job-12'), { 'memory.usage_in_bytes': '5242880\n', 'memory.limit_in_bytes': '1073741824\n', 'cgroup.procs': `${process.pid}\n` });
    write(path.join(root, 'cpuacct/keisan/job-12'), { 'cpuacct.usage': '3000000000\n' });
    write(path.join(root, 'pids/keisan/job-12'), { 'pids.current': '4\n' });
    write(path.join(root, 'memory/keisan/shims'), {});
    write(path.join(root, 'memory/keisan/job-13'), { 'memory.usage_in_bytes': '0\n', 'cgroup.procs': '' });
    const collector = new JobCollector({ parent: 'keisan', layout: { kind: 'v1', v1: { memory: `${root}/memory`, cpuacct: `${root}/cpuacct`, pids: `${root}/pids` }, unified: null } });
    const samples = await collector.collect();
    const job12 = samples.filter((s) => s.labels.job === '12');
    assert.deepEqual(
      job12.map((s) => [s.name, s.value, s.labels.user]).sort(),
      [
        ['keisan_job_cpu_seconds_total', 3, me],
        ['keisan_job_memory_bytes', 5242880, me],
        ['keisan_job_memory_limit_bytes', 1073741824, me],
        ['keisan_job_pids', 4, me],
      ],
    );
    assert.deepEqual(samples.filter((s) => s.labels.job === '13').map((s) => [s.name, s.labels.user]), [['keisan_job_memory_bytes', '']]);
    assert.ok(!samples.some((s) => s.labels.job === 'shims'));
  });

  it("a SLURM node: SLURM's job cgroups (slurm_<host>/uid_<uid>/job_<id>), labelled slurm-<id>, the owner from uid_<uid>", async () => {
    const root = path.join(scratch, 'slurm-v1');
    const job = 'slurm_n1/uid_1000/job_4711';
    write(path.join(root, 'memory', job), { 'memory.usage_in_bytes': '5242880\n', 'memory.limit_in_bytes': '67108864\n' });
    write(path.join(root, 'memory', job, 'step_batch/task_0'), { 'cgroup.procs': '' });
    write(path.join(root, 'cpuacct', job), { 'cpuacct.usage': '2000000000\n' });
    const layout = { kind: 'v1' as const, v1: { memory: `${root}/memory`, cpuacct: `${root}/cpuacct` }, unified: null };
    const open = () => {
      const tree = SlurmCgroupTree.open({ layout, root: 'slurm_n1', cpusetMount: null });
      return { tree, jobInfo: slurmJobRecords(tree, { readPasswd: () => 'alice:x:1000:1000::/home/alice:/bin/sh\n' }) };
    };
    const samples = await new JobCollector({ parent: 'keisan', layout, slurm: { open } }).collect();
    assert.deepEqual(
      samples.map((s) => [s.name, s.value, s.labels.job, s.labels.user]).sort(),
      [
        ['keisan_job_cpu_seconds_total', 2, 'slurm-4711', 'alice'],
        ['keisan_job_memory_bytes', 5242880, 'slurm-4711', 'alice'],
        ['keisan_job_memory_limit_bytes', 67108864, 'slurm-4711', 'alice'],
      ],
    );
  });

  it('v2 (one hierarchy): memory.current, memory.max, cpu.stat, pids.current', async () => {
    const root = path.join(scratch, 'v2');
    write(path.join(root, 'batchparent/job-5'), { 'memory.current': '8192\n', 'memory.max': 'max\n', 'cpu.stat': 'usage_usec 250000\n', 'pids.current': '2\n', 'cgroup.procs': `${process.pid}\n` });
    const samples = await new JobCollector({ parent: 'batchparent', layout: { kind: 'v2', v1: {}, unified: root } }).collect();
    assert.deepEqual(
      samples.map((s) => [s.name, s.value]).sort(),
      [
        ['keisan_job_cpu_seconds_total', 0.25],
        ['keisan_job_memory_bytes', 8192],
        ['keisan_job_pids', 2],
      ],
    );
  });

  it("this machine's real layout: a parent that does not exist gives no series, not an error", async () => {
    const layout = detectCgroupLayout();
    const samples = await new JobCollector({ parent: `keisan-absent-${process.pid}`, layout }).collect();
    assert.deepEqual(samples, []);
  });
});

describe('Prometheus exposition', () => {
  it("this machine's metrics pass `promtool check metrics` (only node_exporter's own camelCase memory names are linted)", { skip: !existsSync('/usr/bin/promtool') && 'promtool is not installed (npm run deps)' }, async () => {
    const collector = new NodeCollector({ jobs: { parent: 'keisan' } });
    await collector.collect();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const text = await samplesRegistry(() => collector.collect()).metrics();
    const run = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    const problems = `${run.stdout}${run.stderr}`.split('\n').filter((line) => line.trim() !== '' && !/^node_memory_\w+_bytes metric names should be written in 'snake_case' not 'camelCase'$/.test(line));
    assert.deepEqual(problems, []);
    assert.ok(run.status === 0 || run.status === 3, `promtool exit ${run.status}`);
  });

  it('prints HELP, TYPE and the samples of known names; counters typed counter; families without samples have no values', async () => {
    const registry = samplesRegistry(async (): Promise<Sample[]> => [
      { name: 'node_load1', labels: {}, value: 0.5 },
      { name: 'node_cpu_seconds_total', labels: { cpu: '0', mode: 'idle' }, value: 12.5 },
      { name: 'node_filesystem_avail_bytes', labels: { device: '/dev/x', fstype: 'ext4', mountpoint: '/a "b"' }, value: 10 },
      { name: 'not_documented', labels: {}, value: 1 },
    ]);
    const text = await registry.metrics();
    assert.match(text, /^# TYPE node_load1 gauge\nnode_load1 0\.5$/m);
    assert.match(text, /^# TYPE node_cpu_seconds_total counter\nnode_cpu_seconds_total\{cpu="0",mode="idle"\} 12\.5$/m);
    assert.match(text, /^node_filesystem_avail_bytes\{device="\/dev\/x",fstype="ext4",mountpoint="\/a \\"b\\""\} 10$/m);
    assert.doesNotMatch(text, /not_documented/);
    assert.match(text, /^# TYPE keisan_gpu_utilization_ratio gauge$/m);
    assert.doesNotMatch(text, /^keisan_gpu_utilization_ratio/m);
    assert.doesNotMatch(text, /^node_pressure_cpu_waiting_seconds_total /m, 'no made-up zero');
  });
});
