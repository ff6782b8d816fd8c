/**
 * The watchdog against a REAL SLURM (a private slurmctld + slurmd with task/cgroup and
 * proctrack/cgroup, startTestSlurm): a job submitted with plain sbatch --mem=64M leaks memory,
 * the watchdog kills it before the kernel's OOM killer does, reports SLURM's job id, and SLURM
 * records the job as ended by the signal (not OUT_OF_MEMORY) while its slurmstepd lived to tell.
 * Only this cluster's job ids are watched (other test clusters share slurm_<host>). Fences: the
 * leak stops at 160 MiB and runs under `timeout 30`; the cgroup caps it at 64 MiB anyway.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { slurmTestSkip, startTestSlurm, type TestSlurm } from '../batch/executors/slurm/testing.ts';
import { RecoveryLoop } from './loop.ts';
import { recoverySettings, resolveRecoverySettings } from './settings.ts';
import { SlurmCgroupTree, slurmJobRecords } from './slurm-jobs.ts';
import { SlurmProcessTree, slurmProcessRecords } from './slurm-processes.ts';
import { waitUntil } from './testing.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const skip = slurmTestSkip() ?? (process.env.KEISAN_SKIP_SLURM === '1' ? 'KEISAN_SKIP_SLURM=1' : undefined);

async function scontrolJob(slurm: TestSlurm, id: number): Promise<Map<string, string>> {
  const { stdout } = await slurm.run('scontrol', ['-o', 'show', 'job', String(id)]);
  return new Map(stdout.trim().split(/\s+/).flatMap((kv) => (kv.includes('=') ? [[kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]] : [])));
}

describe('the watchdog on a real SLURM node (task/cgroup, proctrack/cgroup)', { skip }, () => {
  let slurm: TestSlurm | null = null;
  let loop: RecoveryLoop | null = null;
  let evidenceDir = '';
  let why: string | undefined;

  before(async () => {
    slurm = await startTestSlurm({ accounting: false });
    if (slurm.cgroups !== 'v1') why = `this host's SLURM runs with ${slurm.cgroups === 'none' ? 'proctrack/linuxproc (no job cgroups)' : 'cgroup/v2'}; the real-SLURM test covers cgroup v1`;
    evidenceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-real-'));
  });

  after(async () => {
    await loop?.stop();
    await slurm?.stop();
    if (evidenceDir) fs.rmSync(evidenceDir, { recursive: true, force: true });
  });

  it('kills a job leaking past its --mem before the kernel does; SLURM shows it killed by signal 9, not OUT_OF_MEMORY', async (t) => {
    if (why) return t.skip(why);
    const s = slurm!;
    const first = s.firstJobId;
    const tree = SlurmCgroupTree.open({ only: (id) => id >= first && id < first + 20_000 });
    const settings = resolveRecoverySettings(recoverySettings.parse({ detectors: { pids: { minPids: 16 } }, evidenceDir }), '/nonexistent');
    loop = new RecoveryLoop({ tree, settings, host: 'slurm-node', reporter: null, logger: quiet, jobInfo: slurmJobRecords(tree) });
    loop.start();
    const leak = `timeout 30 ${process.execPath} -e 'const a=[];const t=setInterval(()=>{if(a.length<160)a.push(Buffer.alloc(1048576,1));},50);setTimeout(()=>clearInterval(t),25000)'`;
    const { stdout } = await s.run('sbatch', ['--parsable', `--chdir=${s.work}`, '--output=%j.out', '--mem=64M', '--wrap', leak]);
    const id = Number(stdout.trim().split(';')[0]);
    assert.ok(id >= first, stdout);
    const l = loop;
    await waitUntil('the watchdog to act on the SLURM job', () => l.events.some((e) => e.slurmJobId === id && e.outcome !== 'observed'), 30_000).catch(async (error: Error) => {
      const job = await scontrolJob(s, id).catch(() => new Map<string, string>());
      throw new Error(`${error.message}; job ${id} is ${job.get('JobState') ?? '?'} (${job.get('Reason') ?? ''}); followed ${JSON.stringify(tree.jobIds())}; events ${JSON.stringify(l.events.map((e) => [e.slurmJobId, e.rule, e.outcome, e.explanation, e.error]))}`);
    });
    const e = l.events.find((x) => x.slurmJobId === id && x.outcome !== 'observed')!;
    assert.deepEqual([e.action, e.outcome, e.jobId], ['kill', 'done', null], e.error ?? '');
    assert.ok(['memory-limit', 'memory-thrash'].includes(e.rule), e.rule);
    assert.match(e.explanation, new RegExp(`SLURM job ${id}\\b`));
    assert.equal(e.user, 'root');
    assert.ok(!l.events.some((x) => x.slurmJobId === id && x.rule === 'kernel-oom'), 'the kernel did not get there first');
    let job = await scontrolJob(s, id);
    const deadline = Date.now() + 20_000;
    while (!['FAILED', 'OUT_OF_MEMORY', 'COMPLETED', 'CANCELLED', 'NODE_FAIL'].includes(job.get('JobState') ?? '') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      job = await scontrolJob(s, id);
    }
    console.log(`real SLURM job ${id}: ${e.rule} kill ${e.outcome}, write→empty ${e.timings?.writeToEmptyMs} ms; SLURM: JobState=${job.get('JobState')} Reason=${job.get('Reason')} ExitCode=${job.get('ExitCode')}; ${e.explanation}`);
    assert.equal(job.get('JobState'), 'FAILED', `SLURM's view: ${[...job].map(([k, v]) => `${k}=${v}`).join(' ')}`);
    assert.match(job.get('ExitCode') ?? '', /:9$/, 'ended by SIGKILL');
  });
});

describe('the watchdog on a real SLURM node without job cgroups (proctrack/linuxproc, OverMemoryKill)', { skip }, () => {
  let slurm: TestSlurm | null = null;
  let loop: RecoveryLoop | null = null;
  let evidenceDir = '';

  before(async () => {
    slurm = await startTestSlurm({ accounting: false, cgroups: false });
    evidenceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-real-lp-'));
  });

  after(async () => {
    await loop?.stop();
    await slurm?.stop();
    if (evidenceDir) fs.rmSync(evidenceDir, { recursive: true, force: true });
  });

  it("kills a job's process tree leaking toward its --mem before SLURM's once-a-second OverMemoryKill; slurmstepd lives to end the job", async () => {
    const s = slurm!;
    assert.equal(s.cgroups, 'none');
    const first = s.firstJobId;
    const tree = new SlurmProcessTree({ only: (id) => id >= first && id < first + 20_000 });
    const settings = resolveRecoverySettings(recoverySettings.parse({ detectors: { pids: { minPids: 16 } }, evidenceDir }), '/nonexistent');
    loop = new RecoveryLoop({ tree, settings, host: 'slurm-node', reporter: null, logger: quiet, jobInfo: slurmProcessRecords(tree) });
    loop.start();
    const leak = `timeout 30 ${process.execPath} -e 'const a=[];const t=setInterval(()=>{if(a.length<260)a.push(Buffer.alloc(1048576,1));},50);setTimeout(()=>clearInterval(t),25000)'`;
    const { stdout } = await s.run('sbatch', ['--parsable', `--chdir=${s.work}`, '--output=%j.out', '--mem=160M', '--wrap', leak]);
    const id = Number(stdout.trim().split(';')[0]);
    const l = loop;
    await waitUntil('the watchdog to act on the SLURM job', () => l.events.some((e) => e.slurmJobId === id && e.outcome !== 'observed'), 30_000).catch(async (error: Error) => {
      const job = await scontrolJob(s, id).catch(() => new Map<string, string>());
      throw new Error(`${error.message}; job ${id} is ${job.get('JobState') ?? '?'} (${job.get('Reason') ?? ''}); followed ${JSON.stringify(tree.jobIds())}; events ${JSON.stringify(l.events.map((e) => [e.slurmJobId, e.rule, e.outcome, e.explanation, e.error]))}`);
    });
    const e = l.events.find((x) => x.slurmJobId === id && x.outcome !== 'observed')!;
    assert.deepEqual([e.action, e.outcome, e.jobId, e.user], ['kill', 'done', null, 'root'], e.error ?? '');
    let job = await scontrolJob(s, id);
    const deadline = Date.now() + 20_000;
    while (!['FAILED', 'OUT_OF_MEMORY', 'COMPLETED', 'CANCELLED', 'NODE_FAIL'].includes(job.get('JobState') ?? '') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      job = await scontrolJob(s, id);
    }
    console.log(`real SLURM (linuxproc) job ${id}: ${e.rule} kill ${e.outcome}, write→empty ${e.timings?.writeToEmptyMs} ms; SLURM: JobState=${job.get('JobState')} Reason=${job.get('Reason')} ExitCode=${job.get('ExitCode')}; ${e.explanation}`);
    assert.equal(job.get('JobState'), 'FAILED', `SLURM's view: ${[...job].map(([k, v]) => `${k}=${v}`).join(' ')}`);
    assert.match(job.get('ExitCode') ?? '', /:9$/, 'ended by SIGKILL');
  });
});
