/**
 * The watchdog starts the recovery loop on the jobs' cgroup parent from the settings (here a
 * private test parent keisan-test-<pid>, never the real `keisan`), says what it watches, and
 * runs none when recovery is disabled.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import pino from 'pino';
import { CgroupTree } from '../batch/executors/local/cgroups.ts';
import { defaultSettings } from '../lib/config.ts';
import { recoverySettings } from './settings.ts';
import { describeOnRealCgroups, testParent } from './testing.ts';
import { startRecovery } from './watchdog.ts';

const logger = pino({ level: 'silent' });
const connection = { serverUrl: 'http://127.0.0.1:9', nodeSecret: 'x' };

it('runs no loop when recovery is disabled, and says so', () => {
  const settings = defaultSettings();
  settings.recovery = recoverySettings.parse({ enabled: false });
  const r = startRecovery({ ...connection, settings, dataDir: '/tmp' }, logger);
  assert.equal(r.loop, null);
  assert.match(r.summary, /disabled/);
});

describeOnRealCgroups('the watchdog on real cgroups', () => {
  const root = `${testParent()}-wd`;
  after(() => {
    assert.deepEqual(CgroupTree.open({ root, parentMemBytes: null, parentPidsMax: null }).destroy(5000), []);
  });

  it('watches settings.batch.cgroupParent and says in which mode each rule runs', async () => {
    const settings = defaultSettings();
    settings.batch.cgroupParent = root;
    settings.recovery = recoverySettings.parse({ rules: { 'cpu-hog': { mode: 'observe' } } });
    const r = startRecovery({ ...connection, settings, dataDir: '/tmp/keisan-wd-test' }, logger);
    try {
      assert.ok(r.loop, r.summary);
      assert.match(r.summary, new RegExp(`cgroup '${root}'`));
      assert.match(r.summary, /memory-limit automatic \(kill\)/);
      assert.match(r.summary, /cpu-hog observe/);
      assert.doesNotMatch(r.summary, /login-cpu-hog/);
      assert.match(r.summary, /evidence in \/tmp\/keisan-wd-test\/recovery\/evidence/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(r.loop.ticks >= 2, `ticks: ${r.loop.ticks}`);
      assert.equal(r.loop.tickErrors, 0);
    } finally {
      await r.loop?.stop();
      r.reporter?.stop();
    }
  });
});

describeOnRealCgroups("the watchdog on a SLURM node's cgroups", () => {
  it("with batch.executor: slurm it watches SLURM's job cgroups, not Keisan's", async () => {
    const settings = defaultSettings();
    settings.batch.executor = 'slurm';
    settings.batch.slurm.conf = '/nonexistent/slurm.conf';
    // Observe only: other tests' SLURM clusters on this host put their jobs there too.
    settings.recovery = recoverySettings.parse({ mode: 'observe' });
    const r = startRecovery({ ...connection, settings, dataDir: '/tmp/keisan-wd-test' }, logger);
    try {
      assert.ok(r.loop, r.summary);
      assert.match(r.summary, /^recovery watches SLURM's job cgroups '(slurm[^']*|system\.slice\/[^']*slurmstepd\.scope)' \((v1|v2)/);
      assert.match(r.summary, /ProctrackType unread, cgroups assumed/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(r.loop.tickErrors, 0);
    } finally {
      await r.loop?.stop();
      r.reporter?.stop();
    }
  });
});

it('with batch.executor: slurm and ProctrackType=proctrack/linuxproc it watches the process trees under slurmstepd', { skip: process.platform !== 'linux' || process.getuid?.() !== 0 ? 'needs Linux and root' : undefined }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-wd-slurm-'));
  try {
    writeFileSync(path.join(dir, 'slurm.conf'), 'ClusterName=c\nProctrackType=proctrack/linuxproc\n');
    const settings = defaultSettings();
    settings.batch.executor = 'slurm';
    settings.batch.slurm.conf = path.join(dir, 'slurm.conf');
    settings.recovery = recoverySettings.parse({ mode: 'observe' });
    const r = startRecovery({ ...connection, settings, dataDir: dir }, logger);
    try {
      assert.ok(r.loop, r.summary);
      assert.match(r.summary, /^recovery watches SLURM's jobs as process trees under their slurmstepd \(proctrack\/linuxproc/);
    } finally {
      await r.loop?.stop();
      r.reporter?.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
