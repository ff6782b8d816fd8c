import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CgroupTree, defaultParentMemBytes, detectCgroupLayout, parseMountinfo, parseProcMounts } from './cgroups.ts';
import { parseTimes } from './state.ts';
import { cgroupSkipReason, testCgroupRoot } from './testing.ts';

const HYBRID = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

const PURE_V2 = `25 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
26 18 0:23 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:5 - pstore pstore rw
`;

const COMOUNTED = `30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:12 - cgroup2 cgroup2 rw,nsdelegate
`;

describe('cgroup layout detection', () => {
  it('reads the hybrid layout: v1 controllers with a cgroup2 side hierarchy', () => {
    const layout = parseMountinfo(HYBRID);
    assert.equal(layout.kind, 'v1');
    assert.deepEqual(layout.v1, {
      cpu: '/sys/fs/cgroup/cpu',
      cpuacct: '/sys/fs/cgroup/cpuacct',
      memory: '/sys/fs/cgroup/memory',
      freezer: '/sys/fs/cgroup/freezer',
      pids: '/sys/fs/cgroup/pids',
    });
    assert.equal(layout.unified, '/sys/fs/cgroup/unified');
  });

  it('reads a pure v2 host', () => {
    assert.deepEqual(parseMountinfo(PURE_V2), { kind: 'v2', v1: {}, unified: '/sys/fs/cgroup' });
  });

  it('maps co-mounted controllers to one mount point', () => {
    const layout = parseMountinfo(COMOUNTED);
    assert.equal(layout.v1.cpu, '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(layout.v1.cpuacct, '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(layout.kind, 'v1');
  });

  it('says none when no cgroup is mounted, and unescapes mount points', () => {
    assert.equal(parseMountinfo('22 1 0:21 / /sys rw - sysfs sysfs rw\n').kind, 'none');
    const layout = parseMountinfo('41 31 0:38 / /mnt/my\\040cgroups rw,relatime - cgroup2 cgroup2 rw\n');
    assert.equal(layout.unified, '/mnt/my cgroups');
  });

  it('reads /proc/mounts as a fallback', () => {
    const layout = parseProcMounts('cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n');
    assert.equal(layout.kind, 'v1');
    assert.equal(layout.v1.memory, '/sys/fs/cgroup/memory');
    assert.equal(layout.unified, '/sys/fs/cgroup/unified');
  });

  it('detects this machine', () => {
    const layout = detectCgroupLayout();
    assert.ok(['v1', 'v2', 'none'].includes(layout.kind));
  });

  it('keeps max(1 GiB, 10 %) of memory out of the parent cap', () => {
    const GiB = 1024 ** 3;
    assert.equal(defaultParentMemBytes(24 * GiB), 24 * GiB - Math.floor(2.4 * GiB));
    assert.equal(defaultParentMemBytes(4 * GiB), 3 * GiB);
  });

  it("parses dash's times output (the children's line)", () => {
    assert.equal(parseTimes(['rc=0', '0m0.010000s 0m0.000000s', '1m2.500000s 0m0.250000s', 'end']), 62.75);
    assert.equal(parseTimes(['rc=0', 'end']), null);
  });
});

const skip = cgroupSkipReason();

describe('cgroup tree on this machine', { skip }, () => {
  const root = testCgroupRoot();
  let tree: CgroupTree;

  before(() => {
    tree = CgroupTree.open({ root, parentMemBytes: 512 * 1024 * 1024, parentPidsMax: 256 });
  });

  after(() => {
    assert.deepEqual(tree.destroy(), []);
    for (const dir of tree.parentDirs()) assert.equal(fs.existsSync(dir), false, `${dir} removed`);
  });

  it('caps the parent cgroup and makes the shims leaf', () => {
    for (const dir of tree.parentDirs()) assert.ok(fs.existsSync(path.join(dir, 'shims')));
    assert.equal(tree.parentMemBytes, 512 * 1024 * 1024);
    assert.equal(tree.parentPidsMax, 256);
    if (tree.mode === 'v1') {
      const mem = path.join(tree.layout.v1.memory!, root);
      assert.equal(fs.readFileSync(path.join(mem, 'memory.limit_in_bytes'), 'utf8').trim(), String(512 * 1024 * 1024));
      assert.equal(fs.readFileSync(path.join(tree.layout.v1.pids!, root, 'pids.max'), 'utf8').trim(), '256');
    } else {
      assert.equal(fs.readFileSync(path.join(tree.layout.unified!, root, 'memory.max'), 'utf8').trim(), String(512 * 1024 * 1024));
    }
  });

  it('writes a job cgroup with its limits, lists it and removes it', () => {
    const job = tree.createJob(7, { memBytes: 96 * 1024 * 1024, cpus: 0.5, pidsMax: 32 });
    assert.deepEqual(tree.jobIds(), [7]);
    assert.ok(job.exists());
    assert.equal(job.populated(), false);
    const stats = job.stats();
    assert.equal(stats.memLimitBytes, 96 * 1024 * 1024);
    if (tree.mode === 'v1') {
      const cpu = path.join(tree.layout.v1.cpu!, root, 'job-7');
      const period = Number(fs.readFileSync(path.join(cpu, 'cpu.cfs_period_us'), 'utf8'));
      assert.equal(Number(fs.readFileSync(path.join(cpu, 'cpu.cfs_quota_us'), 'utf8')), period / 2);
      assert.equal(fs.readFileSync(path.join(tree.layout.v1.pids!, root, 'job-7', 'pids.max'), 'utf8').trim(), '32');
      const memsw = path.join(tree.layout.v1.memory!, root, 'job-7', 'memory.memsw.limit_in_bytes');
      if (fs.existsSync(memsw)) assert.equal(fs.readFileSync(memsw, 'utf8').trim(), String(96 * 1024 * 1024));
    }
    assert.equal(job.remove(), true);
    assert.equal(job.exists(), false);
    assert.deepEqual(tree.jobIds(), []);
  });

  it('refuses a cgroup root that is not a plain relative path', () => {
    assert.throws(() => CgroupTree.open({ root: '../escape' }), /plain names/);
    assert.throws(() => CgroupTree.open({ root: '/abs' }), /plain names/);
  });
});
