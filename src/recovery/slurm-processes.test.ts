/**
 * SLURM jobs without cgroups (proctrack/linuxproc): the parsers, and the loop on a REAL process
 * tree under a stand-in slurmstepd (a copy of sh named slurmstepd, its argv[0]
 * `slurmstepd: [4713.batch]` as SLURM sets it) whose child leaks with SLURM_MEM_PER_NODE=128 in its
 * environment. Only job 4713 is watched (other tests' SLURM clusters may run linuxproc jobs on
 * this host). Fences: the leak stops at 220 MiB and runs under `timeout 30`; the stand-in
 * slurmstepd sleeps at most 60 s; `after` kills both.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { RecoveryLoop } from './loop.ts';
import { recoverySettings, resolveRecoverySettings } from './settings.ts';
import { proctrackOf } from './slurm-jobs.ts';
import { SlurmProcessTree, slurmEnvironOf, slurmProcessRecords } from './slurm-processes.ts';
import { alive, killQuietly, waitUntil } from './testing.ts';

const MiB = 1024 ** 2;
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

describe('SLURM without job cgroups (pure)', () => {
  it("reads what a job asked for from its environment, and slurm.conf's ProctrackType", () => {
    const env = ['PATH=/bin', 'SLURM_JOB_ID=4713', 'SLURM_MEM_PER_NODE=128', 'SLURM_CPUS_ON_NODE=2', 'SLURM_JOB_UID=1000', 'SLURM_JOB_USER=alice', ''].join('\0');
    assert.deepEqual(slurmEnvironOf(env), { memBytes: 128 * MiB, cpus: 2, uid: 1000, user: 'alice' });
    assert.deepEqual(slurmEnvironOf('SLURM_MEM_PER_CPU=512\0SLURM_CPUS_ON_NODE=4\0'), { memBytes: 2048 * MiB, cpus: 4, uid: null, user: null });
    assert.deepEqual(slurmEnvironOf('SLURM_MEM_PER_NODE=0\0HOME=/root'), { memBytes: null, cpus: null, uid: null, user: null }, '0: no memory asked for');
    assert.equal(proctrackOf('ClusterName=x\n# ProctrackType=proctrack/cgroup\nProctrackType=proctrack/linuxproc # no cgroups\n'), 'proctrack/linuxproc');
    assert.equal(proctrackOf('proctracktype = proctrack/cgroup'), 'proctrack/cgroup');
    assert.equal(proctrackOf('ClusterName=x\n'), null);
  });
});

const skip = process.platform !== 'linux' ? 'needs Linux /proc' : undefined;

describe('SLURM job as a process tree (proctrack/linuxproc), real processes', { skip }, () => {
  const jobId = 4713;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-linuxproc-'));
  const started: number[] = [];
  let loop: RecoveryLoop | null = null;

  after(async () => {
    await loop?.stop();
    for (const pid of started) killQuietly(pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The stand-in slurmstepd: sh renamed, argv[0] as SLURM sets it; it starts `work` with the job's environment, waits, then sleeps on. */
  function startStepd(work: string): number {
    const bin = path.join(dir, 'slurmstepd');
    if (!fs.existsSync(bin)) fs.copyFileSync('/bin/sh', bin);
    fs.chmodSync(bin, 0o755);
    const child = spawn(bin, ['-c', `${work} & wait; exec sleep 60`], {
      argv0: `slurmstepd: [${jobId}.batch]`,
      detached: true,
      stdio: 'ignore',
      env: { PATH: '/usr/bin:/bin', SLURM_JOB_ID: String(jobId), SLURM_MEM_PER_NODE: '128', SLURM_CPUS_ON_NODE: '1', SLURM_JOB_UID: '0', SLURM_JOB_USER: 'root' },
    });
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new Error('could not start the stand-in slurmstepd');
    started.push(child.pid);
    return child.pid;
  }

  it('finds the job under its slurmstepd, reads its request from the environment, kills the leaking tree at its --mem and spares slurmstepd', async () => {
    const tree = new SlurmProcessTree({ only: (id) => id === jobId });
    const evidenceDir = path.join(dir, 'evidence');
    const leak = `timeout 30 ${process.execPath} -e 'const a=[];const t=setInterval(()=>{if(a.length<220)a.push(Buffer.alloc(1048576,1));},50);setTimeout(()=>clearInterval(t),25000)'`;
    const stepd = startStepd(leak);
    await waitUntil('the job under its slurmstepd', () => tree.jobIds().includes(jobId) && tree.job(jobId).pids().length >= 1);
    const leaker = tree.job(jobId).pids();
    assert.ok(!leaker.includes(stepd), 'slurmstepd is not one of the job processes');
    assert.deepEqual(slurmProcessRecords(tree)(jobId), { user: 'root', uid: 0, requestedMemBytes: 128 * MiB, requestedCpus: 1 });

    const settings = resolveRecoverySettings(recoverySettings.parse({ detectors: { pids: { minPids: 16 } }, evidenceDir }), '/nonexistent');
    loop = new RecoveryLoop({ tree, settings, host: 'slurm-node', reporter: null, logger: quiet, jobInfo: slurmProcessRecords(tree) });
    loop.start();
    const l = loop;
    await waitUntil('the loop to act on the SLURM job', () => l.events.some((e) => e.slurmJobId === jobId && e.outcome !== 'observed'), 20_000).catch((error: Error) => {
      throw new Error(`${error.message}; ticks ${l.ticks}, tick errors ${l.tickErrors}; last sample ${JSON.stringify(l.recentSamples().at(-1)?.jobs)}; events ${JSON.stringify(l.events.map((e) => [e.slurmJobId, e.rule, e.outcome, e.explanation, e.error]))}`);
    });
    const e = l.events.find((x) => x.slurmJobId === jobId && x.outcome !== 'observed')!;
    console.log(`linuxproc leak at --mem 128M: ${e.rule} ${e.action} ${e.outcome}; write→empty ${e.timings?.writeToEmptyMs} ms; ${e.explanation}`);
    assert.deepEqual([e.action, e.outcome, e.jobId, e.user], ['kill', 'done', null, 'root'], e.error ?? '');
    assert.match(e.explanation, new RegExp(`SLURM job ${jobId}\\b`));
    await waitUntil('the leaking tree to be gone', () => leaker.every((pid) => !alive(pid)), 5000);
    assert.ok(alive(stepd), 'slurmstepd was not signalled');
    assert.deepEqual(tree.job(jobId).pids().filter(alive).length <= 1, true, 'at most the stand-in stepd’s own sleep is left');
  });
});
