import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { runOne, runType, testContext } from './testing.ts';
import { predictFull, usageSlope, type TrendSample } from './types/filesystem.ts';
import { parseKmsg } from './types/hardware.ts';
import { judgeArray, parseMdstat } from './types/mdstat.ts';
import { parseLvs } from './types/mirror.ts';
import { parseMountinfo } from './types/mounts.ts';
import { estimateOffset, parseChronyTracking } from './types/time-drift.ts';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
const required = process.env.KEISAN_REQUIRE_SERVICES === '1';

describe('process check', () => {
  it('finds a process the test starts by command-line pattern and by name; critical once it is gone', async () => {
    const marker = `keisan-essential-${process.pid}-${Date.now()}`;
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    // argv[0] set to the marker: the command line is "<marker> 600", the process name stays "sleep".
    const tagged = spawn('sleep', ['600'], { stdio: 'ignore', argv0: marker });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const byPattern = await runOne('process', { name: 'test daemon', pattern: `^${marker}\\b` });
      assert.equal(byPattern.status, 'ok', byPattern.summary);
      assert.match(byPattern.summary, new RegExp(`test daemon is running on testnode \\(pid ${tagged.pid}\\)`));
      const byName = await runOne('process', { name: 'sleep' });
      assert.equal(byName.status, 'ok');
      assert.ok((byName.details?.pids as number[]).includes(child.pid!));
      const tooFew = await runOne('process', { name: 'test daemon', pattern: `^${marker}\\b`, min: 2 });
      assert.equal(tooFew.status, 'critical');
      assert.match(tooFew.summary, /only 1 of at least 2 test daemon processes are running on testnode/);
    } finally {
      tagged.kill('SIGKILL');
      child.kill('SIGKILL');
    }
    await new Promise((resolve) => tagged.once('exit', resolve));
    const gone = await runOne('process', { name: 'test daemon', pattern: `^${marker}\\b` });
    assert.equal(gone.status, 'critical');
    assert.match(gone.summary, new RegExp(`test daemon is not running on testnode \\(no process command line matching /\\^${marker}`));
    const absent = await runOne('process', { name: 'no-such-daemon' });
    assert.match(absent.summary, /no-such-daemon is not running on testnode \(no process named no-such-daemon\)/);
  });

  it('an unreadable /proc is unknown, not a crash', async () => {
    const result = await runOne('process', { name: 'sshd', procRoot: '/nonexistent-proc' });
    assert.equal(result.status, 'unknown');
    assert.match(result.summary, /cannot list processes on testnode/);
  });
});

describe('filesystem and inodes checks', { skip: !isRoot && !required ? 'mounting a tmpfs needs root' : false }, () => {
  let dir: string;
  let mountpoint: string;
  before(() => {
    if (!isRoot) throw new Error('KEISAN_REQUIRE_SERVICES=1 but the filesystem test needs root to mount a tmpfs');
    dir = mkdtempSync(path.join(tmpdir(), 'keisan-fs-check-'));
    mountpoint = path.join(dir, 'mnt');
    mkdirSync(mountpoint);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,nr_inodes=200', 'keisan-test', mountpoint]);
    if (mounted.status !== 0) throw new Error(`mount -t tmpfs failed: ${mounted.stderr}`);
  });
  after(() => {
    if (mountpoint) spawnSync('umount', ['-l', mountpoint]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a 4 MiB tmpfs filled past 80 % is a warning, past 90 % critical, and ok again when cleared', async () => {
    const context = testContext();
    const run = async () => {
      const outcomes = await runType('filesystem', { mounts: [mountpoint], fullWithin: 0 }, context);
      assert.equal(outcomes.length, 1);
      assert.equal(outcomes[0]!.target, mountpoint);
      return outcomes[0]!;
    };
    assert.equal((await run()).status, 'ok');
    writeFileSync(path.join(mountpoint, 'a'), Buffer.alloc(3.4 * 1024 * 1024));
    const warning = await run();
    assert.equal(warning.status, 'warning', warning.summary);
    assert.match(warning.summary, new RegExp(`${mountpoint} on testnode is 8\\d\\.\\d % full \\(3\\.\\d MiB of 4(\\.0)? MiB\\), above the warning threshold of 80 %`));
    writeFileSync(path.join(mountpoint, 'b'), Buffer.alloc(0.4 * 1024 * 1024));
    const critical = await run();
    assert.equal(critical.status, 'critical', critical.summary);
    assert.match(critical.summary, /above the critical threshold of 90 %/);
    assert.ok((critical.value as number) >= 90);
    rmSync(path.join(mountpoint, 'a'));
    rmSync(path.join(mountpoint, 'b'));
    assert.equal((await run()).status, 'ok');
  });

  it('thresholds are configurable; "all mounts" includes the tmpfs and leaves out proc and sysfs', async () => {
    writeFileSync(path.join(mountpoint, 'c'), Buffer.alloc(2.2 * 1024 * 1024));
    try {
      const strict = await runType('filesystem', { mounts: [mountpoint], warning: 50, critical: 95, fullWithin: 0 });
      assert.equal(strict[0]!.status, 'warning');
      const all = await runType('filesystem', { fullWithin: 0 });
      const targets = all.map((o) => o.target);
      assert.ok(targets.includes(mountpoint), `${mountpoint} in ${targets.join(' ')}`);
      assert.ok(!targets.includes('/proc') && !targets.includes('/sys'));
    } finally {
      rmSync(path.join(mountpoint, 'c'));
    }
  });

  it('inodes: a tmpfs with 200 inodes filled with files is critical, then ok when cleared', async () => {
    const run = async () => (await runType('inodes', { mounts: [mountpoint] }))[0]!;
    assert.equal((await run()).status, 'ok');
    const files = path.join(mountpoint, 'many');
    mkdirSync(files);
    for (let i = 0; i < 185; i++) writeFileSync(path.join(files, String(i)), '');
    const full = await run();
    assert.equal(full.status, 'critical', full.summary);
    assert.match(full.summary, new RegExp(`${mountpoint} on testnode uses 9\\d\\.\\d % of its inodes`));
    rmSync(files, { recursive: true });
    assert.equal((await run()).status, 'ok');
  });

  it('predictive rule: a mount filling at a steady rate is reported "full within" before any threshold', async () => {
    const clock = new ManualClock('2026-11-23T08:00:00Z');
    const context = testContext({ clock });
    const run = async () => (await runType('filesystem', { mounts: [mountpoint], fullWithin: '24h', trendMinSamples: 5, trendMinSpan: '20m' }, context))[0]!;
    // 100 KiB more every 10 minutes on the manual clock: ~0.6 MiB/h, the 4 MiB mount is full within a few hours.
    let last;
    for (let i = 0; i < 6; i++) {
      writeFileSync(path.join(mountpoint, `grow-${i}`), Buffer.alloc(100 * 1024));
      last = await run();
      if (i < 4) assert.equal(last.status, 'ok', `sample ${i}: ${last.summary}`);
      clock.advance(10 * 60_000);
    }
    assert.equal(last!.status, 'warning', last!.summary);
    assert.match(last!.summary, /on testnode is \d+\.\d % full .*; at the recent rate \(\d+(\.\d)? KiB\/h\) it is full within [\d.]+ h/);
    assert.ok((last!.details?.fullInHours as number) > 2 && (last!.details?.fullInHours as number) < 12, String(last!.details?.fullInHours));
    for (let i = 0; i < 6; i++) rmSync(path.join(mountpoint, `grow-${i}`));
  });
});

describe('filesystem trend (pure)', () => {
  it('the slope of a linear series is exact; a shrinking or flat one predicts nothing', () => {
    const samples: TrendSample[] = Array.from({ length: 10 }, (_, i) => ({ t: i * 60_000, used: 1000 + i * 600 }));
    assert.equal(usageSlope(samples), 0.01);
    const params = { trendWindow: 6 * 3_600_000, trendMinSamples: 5, trendMinSpan: 5 * 60_000 };
    const growing: TrendSample[] = [];
    let prediction;
    for (let i = 0; i <= 10; i++) prediction = predictFull(growing, i * 60_000, { usedBytes: 1000 + i * 600, availBytes: 36_000 }, params);
    // 600 bytes a minute, 36 000 left: an hour.
    assert.equal(Math.round(prediction!.fullInMs! / 60_000), 60);
    const flat: TrendSample[] = [];
    for (let i = 0; i <= 10; i++) prediction = predictFull(flat, i * 60_000, { usedBytes: 5000, availBytes: 100 }, params);
    assert.equal(prediction!.fullInMs, null);
    // Too few samples or too short a span: no prediction yet.
    const young: TrendSample[] = [];
    for (let i = 0; i < 3; i++) prediction = predictFull(young, i * 60_000, { usedBytes: 1000 + i * 9000, availBytes: 10 }, params);
    assert.equal(prediction!.fullInMs, null);
    // Samples older than the window are dropped.
    const old: TrendSample[] = [{ t: 0, used: 1 }];
    predictFull(old, 7 * 3_600_000, { usedBytes: 2, availBytes: 1 }, params);
    assert.equal(old.length, 1);
  });

  it('parses mountinfo with escaped spaces and read-only flags', () => {
    const mounts = parseMountinfo(
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n' +
        '40 22 0:35 / /mnt/my\\040disk ro,nosuid shared:20 - vfat /dev/sdb1 ro\n' +
        '23 22 0:21 / /proc rw,nosuid - proc proc rw\n',
    );
    assert.deepEqual(mounts.map((m) => [m.mountpoint, m.fstype, m.readOnly, m.devno]), [['/', 'ext4', false, '254:0'], ['/mnt/my disk', 'vfat', true, '0:35'], ['/proc', 'proc', false, '0:21']]);
  });
});

describe('raid check (mdstat fixtures)', () => {
  it('healthy arrays of several levels are ok', async () => {
    const outcomes = await runType('raid', { mdstat: fixture('mdstat-healthy.txt') });
    assert.deepEqual(outcomes.map((o) => [o.target, o.status]), [['md0', 'ok'], ['md2', 'ok'], ['md3', 'ok']]);
    assert.match(outcomes[0]!.summary, /md0 \(raid1\) on testnode is healthy \[UU\]/);
  });

  it('[U_] with a failed disk is critical and names the disk; a missing member alone is critical', async () => {
    const outcomes = await runType('raid', { mdstat: fixture('mdstat-degraded.txt') });
    const byTarget = Object.fromEntries(outcomes.map((o) => [o.target, o]));
    assert.equal(byTarget.md1!.status, 'critical');
    assert.equal(byTarget.md1!.summary, 'md1 (raid1) on testnode is degraded: 1 of 2 members working [U_], failed disk sdb2');
    assert.equal(byTarget.md0!.status, 'critical');
    assert.match(byTarget.md0!.summary, /md0 \(raid1\) on testnode is degraded: 1 of 2 members working \[U_\]$/);
    assert.equal(byTarget.md4!.status, 'ok');
  });

  it('a recovering array is a warning with its progress; a check in progress is ok; an inactive array is critical', async () => {
    const outcomes = await runType('raid', { mdstat: fixture('mdstat-recovering.txt') });
    const byTarget = Object.fromEntries(outcomes.map((o) => [o.target, o]));
    assert.equal(byTarget.md2!.status, 'warning');
    assert.match(byTarget.md2!.summary, /md2 \(raid5\) on testnode is degraded: 3 of 4 members working \[UUU_\]; recovery 8\.5 %, about 175 min left/);
    assert.equal(byTarget.md0!.status, 'warning', byTarget.md0!.summary);
    assert.match(byTarget.md0!.summary, /resync pending/);
    assert.equal(byTarget.md5!.status, 'ok');
    assert.match(byTarget.md5!.summary, /check 52\.1 %/);
    assert.deepEqual(byTarget.md5!.details?.spares, ['sdi1']);
    assert.equal(byTarget.md127!.status, 'critical');
    assert.match(byTarget.md127!.summary, /md127 on testnode is inactive \(members: sdj\)/);
  });

  it('no /proc/mdstat is ok (no software RAID here)', async () => {
    const result = await runOne('raid', { mdstat: '/nonexistent/mdstat' });
    assert.equal(result.status, 'ok');
    assert.match(result.summary, /no software RAID on testnode/);
  });

  it('parser: members, flags, read-only, counts', () => {
    const [md1] = parseMdstat(readFileSync(fixture('mdstat-degraded.txt'), 'utf8'));
    assert.deepEqual(md1!.members, [{ name: 'sdb2', index: 2, flags: ['F'] }, { name: 'sda2', index: 0, flags: [] }]);
    assert.equal(judgeArray(parseMdstat(readFileSync(fixture('mdstat-recovering.txt'), 'utf8'))[1]!, 'h').status, 'warning');
    assert.equal(parseMdstat(readFileSync(fixture('mdstat-recovering.txt'), 'utf8'))[1]!.readOnly, true);
  });
});

describe('mirror check', () => {
  const noLvs = testContext({ exec: async (command) => ({ code: null, stdout: '', stderr: '', failure: `${command} is not installed (not found on PATH)`, timedOut: false }) });
  it('md raid1/raid10 mirrors: a broken one is critical and named; other levels are left to the raid check', async () => {
    const outcomes = await runType('mirror', { mdstat: fixture('mdstat-degraded.txt') }, noLvs);
    assert.deepEqual(outcomes.map((o) => [o.target, o.status]), [['md1', 'critical'], ['md0', 'critical'], ['md4', 'ok']]);
    assert.equal(outcomes[0]!.summary, 'mirror md1 (raid1) on testnode is broken: 1 of 2 members working [U_], failed disk sdb2');
    const healthy = await runType('mirror', { mdstat: fixture('mdstat-healthy.txt') }, noLvs);
    assert.deepEqual(healthy.map((o) => o.target), ['md0']);
  });

  it('LVM mirrors through lvs: partial and refresh-needed are critical, syncing a warning', async () => {
    const lvsJson = readFileSync(fixture('lvs-mirrors.json'), 'utf8');
    const context = testContext({ exec: async (command) => (command === 'lvs' ? { code: 0, stdout: lvsJson, stderr: '', timedOut: false } : { code: 1, stdout: '', stderr: '', timedOut: false }) });
    const outcomes = await runType('mirror', { mdstat: '/nonexistent' }, context);
    assert.deepEqual(outcomes.map((o) => [o.target, o.status]), [['vg0/home', 'ok'], ['vg0/data', 'critical'], ['vg1/scratch', 'warning'], ['vg1/old', 'critical']]);
    assert.match(outcomes[1]!.summary, /LVM mirror vg0\/data \(raid1\) on testnode is broken: a member device is missing/);
    assert.equal(parseLvs(lvsJson).length, 4);
    const none = await runOne('mirror', { mdstat: '/nonexistent' }, noLvs);
    assert.equal(none.status, 'ok');
    assert.match(none.summary, /no mirrors on testnode \(no md raid1\/raid10; lvs is not installed/);
  });
});

describe('hardware check (fake sysfs and kmsg)', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'keisan-hw-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('EDAC counters: steady is ok, ce rising a warning, ue rising critical (held for holdFor), no EDAC is ok', async () => {
    const mc = path.join(root, 'sys/devices/system/edac/mc/mc0');
    mkdirSync(mc, { recursive: true });
    const set = (ce: number, ue: number) => {
      writeFileSync(path.join(mc, 'ce_count'), `${ce}\n`);
      writeFileSync(path.join(mc, 'ue_count'), `${ue}\n`);
    };
    set(3, 0);
    const clock = new ManualClock();
    const context = testContext({ clock });
    const params = { sysfsRoot: path.join(root, 'sys'), kernelLog: 'off', holdFor: '1h' };
    const edac = async () => (await runType('hardware', params, context))[0]!;
    assert.equal((await edac()).status, 'ok');
    set(5, 0);
    const ce = await edac();
    assert.equal(ce.status, 'warning');
    assert.match(ce.summary, /memory errors on testnode: mc0: 2 new corrected memory errors \(ce_count 5\)/);
    set(5, 1);
    const ue = await edac();
    assert.equal(ue.status, 'critical');
    assert.match(ue.summary, /1 new uncorrected memory errors/);
    clock.advance(30 * 60_000);
    assert.equal((await edac()).status, 'critical', 'held within holdFor');
    clock.advance(31 * 60_000);
    assert.equal((await edac()).status, 'ok', 'cleared after holdFor without new errors');
    const none = (await runType('hardware', { sysfsRoot: path.join(root, 'nosys'), kernelLog: 'off' }))[0]!;
    assert.match(none.summary, /no EDAC memory controllers on testnode/);
  });

  it('kernel log: only records after the first read count; MCE, I/O errors and Xid are named', async () => {
    const kmsg = path.join(root, 'kmsg');
    writeFileSync(kmsg, '6,100,1000,-;Linux version 6.1.0\n3,101,2000,-;blk_update_request: I/O error, dev sdz, sector 0\n');
    const clock = new ManualClock();
    const context = testContext({ clock });
    const params = { sysfsRoot: path.join(root, 'nosys'), kmsgPath: kmsg, kernelLog: 'kmsg' };
    const log = async () => (await runType('hardware', params, context)).find((o) => o.target === 'kernel-log')!;
    const first = await log();
    assert.equal(first.status, 'ok', 'old lines from before the agent started are counted, not alerted');
    assert.match(first.summary, /1 matching lines from before the agent started/);
    appendFileSync(kmsg, '6,102,3000,-;usb 1-1: new device\n');
    assert.equal((await log()).status, 'ok');
    appendFileSync(kmsg, '2,103,4000,-;mce: [Hardware Error]: CPU 3: Machine Check: 0 Bank 5: be00000000800400\n SUBSYSTEM=cpu\n');
    const mce = await log();
    assert.equal(mce.status, 'critical');
    assert.match(mce.summary, /hardware errors in the kernel log of testnode: 1 within 60 min, latest: mce: \[Hardware Error\]: CPU 3: Machine Check/);
    appendFileSync(kmsg, '4,104,5000,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.\n');
    const xid = await log();
    assert.match(xid.summary, /2 within 60 min, latest: NVRM: Xid/);
    clock.advance(2 * 3_600_000);
    assert.equal((await log()).status, 'ok');
    assert.deepEqual(parseKmsg('6,1,2,-;a\n SUB=x\n4,2,3,c;b'), [{ seq: 1, message: 'a' }, { seq: 2, message: 'b' }]);
  });

  it('journalctl -k where kmsg cannot be read: the first read is a baseline, then only entries after the cursor', async () => {
    const calls: string[][] = [];
    const answers = [
      'blk_update_request: I/O error, dev sdz\n-- cursor: s=abc;i=1\n',
      '',
      'EDAC MC0: 1 UE memory read error on CPU_SrcID#0\n-- cursor: s=abc;i=3\n',
    ];
    const context = testContext({
      exec: async (command, args) => {
        calls.push([command, ...args]);
        return { code: 0, stdout: answers[calls.length - 1] ?? '', stderr: '', timedOut: false };
      },
    });
    const params = { sysfsRoot: path.join(root, 'nosys'), kernelLog: 'journalctl' };
    const log = async () => (await runType('hardware', params, context)).find((o) => o.target === 'kernel-log')!;
    assert.equal((await log()).status, 'ok');
    assert.ok(calls[0]!.includes('-b'));
    assert.equal((await log()).status, 'ok');
    assert.ok(calls[1]!.includes('--after-cursor=s=abc;i=1'));
    const ue = await log();
    assert.equal(ue.status, 'critical', ue.summary);
    assert.match(ue.summary, /latest: EDAC MC0: 1 UE memory read error/);
    assert.equal(ue.details?.source, 'journalctl -k');
  });

  it('an unreadable kernel log is unknown with the reason', async () => {
    const outcomes = await runType('hardware', { sysfsRoot: path.join(root, 'nosys'), kmsgPath: path.join(root, 'missing-kmsg'), kernelLog: 'kmsg' });
    const log = outcomes.find((o) => o.target === 'kernel-log')!;
    assert.equal(log.status, 'unknown');
    assert.match(log.summary, /cannot read .*missing-kmsg.* on testnode/);
  });
});

describe('storage-log check', () => {
  it('new critical and major lines after the first run raise critical and warning; rotation is followed; old lines are not alerted', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keisan-storage-log-'));
    try {
      const file = path.join(dir, 'tier.log');
      writeFileSync(file, '2026-11-23 07:00 CRITICAL old problem before the agent\n');
      const clock = new ManualClock();
      const context = testContext({ clock });
      const run = () => runOne('storage-log', { path: file, holdFor: '30m' }, context);
      assert.equal((await run()).status, 'ok');
      appendFileSync(file, '2026-11-23 08:00 INFO migrated 12 files\n2026-11-23 08:01 ERROR tape T0042 read retry\n');
      const major = await run();
      assert.equal(major.status, 'warning');
      assert.match(major.summary, new RegExp(`${file} on testnode: 0 critical and 1 major lines within 30 min, latest: .*ERROR tape T0042`));
      appendFileSync(file, '2026-11-23 08:02 severity=critical library robot stuck\npartial line without newline');
      const critical = await run();
      assert.equal(critical.status, 'critical');
      assert.match(critical.summary, /1 critical and 1 major lines.*library robot stuck/);
      renameSync(file, `${file}.1`);
      writeFileSync(file, 'FATAL after rotation\n');
      const rotated = await run();
      assert.match(rotated.summary, /2 critical and 1 major lines.*FATAL after rotation/);
      clock.advance(31 * 60_000);
      assert.equal((await run()).status, 'ok');
      const missing = await runOne('storage-log', { path: path.join(dir, 'nope.log') });
      assert.equal(missing.status, 'unknown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('time-drift check', () => {
  let server: Server;
  let skewMs = 0;
  let url: string;
  before(async () => {
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'ok', time: new Date(Date.now() + skewMs).toISOString() }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it('against a fake server clock: in step is ok, 0.3 s off a warning, 5 s off critical, with the direction', async () => {
    const context = testContext({ serverUrl: url });
    skewMs = 0;
    assert.equal((await runOne('time-drift', { syncState: false }, context)).status, 'ok');
    skewMs = 300;
    const warning = await runOne('time-drift', { syncState: false }, context);
    assert.equal(warning.status, 'warning', warning.summary);
    assert.match(warning.summary, /the clock of testnode is 0\.\d{3} s behind the server's .*more than the warning threshold of 0\.05 s/);
    skewMs = -5000;
    const critical = await runOne('time-drift', { syncState: false }, context);
    assert.equal(critical.status, 'critical');
    assert.match(critical.summary, /is [45]\.\d{3} s ahead of the server's/);
    assert.ok((critical.value as number) < -4.9);
  });

  it('an unreachable server is unknown; NTPSynchronized=no is a warning; the offset estimate allows for the round trip', async () => {
    const down = await runOne('time-drift', { syncState: false }, testContext({ serverUrl: 'http://127.0.0.1:1' }));
    assert.equal(down.status, 'unknown');
    assert.match(down.summary, /cannot compare the clock of testnode with the server/);
    skewMs = 0;
    const noChrony = { code: null, stdout: '', stderr: '', failure: 'chronyc is not installed (not found on PATH)', timedOut: false };
    const unsynced = await runOne(
      'time-drift',
      {},
      testContext({ serverUrl: url, exec: async (command) => (command === 'chronyc' ? noChrony : { code: 0, stdout: 'no\nyes\n', stderr: '', timedOut: false }) }),
    );
    assert.equal(unsynced.status, 'warning');
    assert.match(unsynced.summary, /the clock of testnode is not synchronised by NTP/);
    assert.deepEqual(estimateOffset(1000, 1600, 1200), { offsetSeconds: 0.5, roundTripSeconds: 0.2 });
    const chronyLine = 'A9FEA97B,169.254.169.123,4,1763884800.123456789,-0.000012345,0.000001,0.00002,-3.2,0.001,0.02,0.0003,0.0004,64.2,Not synchronised\n';
    assert.deepEqual(parseChronyTracking(chronyLine), { reference: '169.254.169.123', offsetSeconds: -0.000012345, leap: 'Not synchronised' });
    const chrony = await runOne('time-drift', {}, testContext({ serverUrl: url, exec: async () => ({ code: 0, stdout: chronyLine, stderr: '', timedOut: false }) }));
    assert.equal(chrony.status, 'warning');
    assert.match(chrony.summary, /the clock of testnode is not synchronised: chrony has no usable time source/);
    assert.equal(chrony.details?.chronyReference, '169.254.169.123');
  });
});
