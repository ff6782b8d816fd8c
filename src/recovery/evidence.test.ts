import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CgroupTree, type JobCgroup } from '../batch/executors/local/cgroups.ts';
import { killJob, openJobHandles, closeJobHandles } from './actions.ts';
import { captureEvidence, parsePsi, parseStat, writeEvidence } from './evidence.ts';
import type { Finding, Sample } from './model.ts';
import { describeOnRealCgroups, killQuietly, startInJob, startStray, waitUntil } from './testing.ts';

const MiB = 1024 ** 2;
const finding: Finding = {
  rule: 'memory-limit',
  severity: 'act',
  jobId: 7,
  pid: null,
  user: 'alice',
  explanation: 'job 7 (alice): memory 60 of 64 MiB',
  window: { fromMs: 1000, toMs: 2000 },
  metrics: { memBytes: 60 * MiB },
};
const window: Sample[] = [
  { atMs: 1000, node: { memTotalBytes: 1, memAvailableBytes: 1, psiMemory: null, psiIo: null, psiCpu: null, runningThreads: 1, totalThreads: 1 }, jobs: [] },
];

describe('evidence parsing and writing', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-evidence-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('parses /proc/<pid>/stat with an odd comm and PSI files', () => {
    const stat = '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 3 0 123456 1000000 250 18446744073709551615';
    assert.deepEqual(parseStat(stat), { comm: 'my (odd) name', state: 'S', ppid: 1, threads: 3, startTicks: 123456, rssPages: 250 });
    assert.deepEqual(parsePsi('some avg10=1.50 avg60=0.20 avg300=0.00 total=131899\nfull avg10=0.50 avg60=0.10 avg300=0.00 total=90000\n'), {
      someUs: 131899,
      fullUs: 90000,
      someAvg10: 1.5,
      fullAvg10: 0.5,
    });
    assert.equal(parsePsi('some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n')?.fullUs, null);
    assert.equal(parsePsi(null), null);
  });

  it('captures a process tree with ppid links, RSS, state, command line and start time, bounded', async () => {
    const root = startStray('sh', ['-c', 'sleep 30 & sleep 30 & wait']);
    try {
      // Both children forked AND exec'ed sleep (right after the fork a child is still 'sh').
      await waitUntil('two sleeping children', () => {
        try {
          const children = fs.readFileSync(`/proc/${root}/task/${root}/children`, 'utf8').trim().split(' ');
          return children.length === 2 && children.every((pid) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep');
        } catch {
          return false;
        }
      });
      const record = captureEvidence(null, { kind: 'process', pid: root }, { nowMs: Date.parse('2026-11-23T08:00:00Z'), finding: null, window });
      assert.equal(record.processes.length, 3);
      assert.equal(record.processes[0]!.pid, root, 'the root first');
      assert.equal(record.processes[0]!.cmdline, 'sh -c sleep 30 & sleep 30 & wait');
      for (const child of record.processes.slice(1)) {
        assert.equal(child.ppid, root);
        assert.equal(child.comm, 'sleep');
        assert.equal(child.cmdline, 'sleep 30');
        assert.ok(child.rssBytes > 0);
        assert.equal(child.uid, process.getuid?.());
        assert.match(child.state, /^[SR]$/);
        assert.ok(Math.abs(Date.parse(child.startedAt!) - Date.now()) < 60_000, `start time ${child.startedAt} is about now`);
      }
      assert.equal(record.truncated, false);
      assert.equal(record.capturedAt, '2026-11-23T08:00:00.000Z');
      assert.ok(record.node.memAvailableBytes! > 0);
      assert.ok(record.captureMs >= 0, 'the capture says how long it took');
      const bounded = captureEvidence(null, { kind: 'process', pid: root }, { nowMs: 0, maxProcesses: 2 });
      assert.equal(bounded.processes.length, 2);
      assert.equal(bounded.truncated, true);
      assert.equal(bounded.processesTotal, 3);
    } finally {
      for (const p of fs.readFileSync(`/proc/${root}/task/${root}/children`, 'utf8').trim().split(' ')) killQuietly(Number(p));
      killQuietly(root);
    }
  });

  it('writes the record atomically and never overwrites one', () => {
    const record = captureEvidence(null, { kind: 'process', pid: process.pid }, { nowMs: Date.parse('2026-11-23T08:00:00Z'), finding, window, explanation: 'why' });
    const file = writeEvidence(dir, record);
    assert.equal(path.basename(file), '2026-11-23T080000000Z-pid-' + process.pid + '-memory-limit.json');
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), JSON.parse(JSON.stringify(record)));
    const second = writeEvidence(dir, record);
    assert.notEqual(second, file);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp file left',
    );
  });
});

describeOnRealCgroups('evidence of a job on real cgroups', () => {
  let tree: CgroupTree;
  let job: JobCgroup;
  let dir: string;

  before(() => {
    tree = CgroupTree.open({ root: `keisan-test-${process.pid}-evidence`, parentMemBytes: 256 * MiB, parentPidsMax: 64 });
    job = tree.createJob(7, { memBytes: 64 * MiB, cpus: 0.5, pidsMax: 16 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-evidence-'));
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (tree) assert.deepEqual(tree.destroy(10_000), []);
  });

  it('snapshots the job before the kill and writes the record after it', async () => {
    startInJob(job, 'sleep 30 & sleep 30 & sleep 30 & wait');
    await waitUntil('the job to start', () => job.pids().length === 4);
    const record = captureEvidence(tree, { kind: 'job', jobId: 7, user: 'alice' }, { nowMs: Date.now(), finding, window, explanation: 'job 7 of alice: …' });
    assert.equal(record.processes.length, 4);
    assert.equal(record.processes[0]!.comm, 'sh');
    assert.deepEqual(
      record.processes.slice(1).map((p) => p.ppid),
      [record.processes[0]!.pid, record.processes[0]!.pid, record.processes[0]!.pid],
    );
    const cg = record.cgroup!;
    assert.equal(cg.memory.limitBytes, 64 * MiB);
    assert.ok(cg.memory.usageBytes! > 0);
    assert.ok(Object.keys(cg.memory.stat).length > 5, 'a memory.stat excerpt');
    assert.equal(cg.pids.current, 4);
    assert.equal(cg.pids.max, 16);
    assert.ok(cg.cpu.quotaCpus !== null && Math.abs(cg.cpu.quotaCpus - 0.5) < 1e-9);
    if (tree.layout.unified) assert.ok(cg.psi.memory !== null && cg.psi.io !== null, 'PSI of the v2 side');
    assert.equal(cg.frozen, false);
    assert.ok(record.captureMs >= 0, `capture took ${record.captureMs.toFixed(1)} ms`);

    const h = openJobHandles(tree, 7);
    const result = await killJob(h);
    closeJobHandles(h);
    assert.equal(result.empty, true);
    record.action = { kind: 'kill', ...result };
    const file = writeEvidence(dir, record);
    const back = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof record;
    assert.equal(back.action!.path, result.path);
    assert.equal(back.finding!.rule, 'memory-limit');
    assert.equal(back.window.length, 1);
    console.log(`# evidence of 4 processes captured in ${record.captureMs.toFixed(2)} ms`);
  });
});
