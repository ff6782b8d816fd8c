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
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import { SlurmExecutor } from '../batch/executors/slurm/executor.ts';
import { slurmTestSkip, startTestSlurm, type TestSlurm } from '../batch/executors/slurm/testing.ts';
import { localNode } from '../batch/node.ts';
import type { Job } from '../batch/store.ts';
import { openDatabase, type Db } from '../db/connection.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { parseSettings } from '../lib/config.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import type { RecoveryEvent } from './events-model.ts';
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

describe('end to end: a Keisan job run through SLURM, killed by the watchdog of its SLURM node', { skip, timeout: 180_000 }, () => {
  const NOBODY = 65534;
  let slurm: TestSlurm | null = null;
  let db: Db | null = null;
  let app: KeisanApp | null = null;
  let loop: RecoveryLoop | null = null;
  let dataDir = '';

  before(async () => {
    slurm = await startTestSlurm({ accounting: false });
    if (slurm.cgroups !== 'v1') return;
    dataDir = fs.mkdtempSync(path.join(slurm.work, 'keisan-'));
    fs.chmodSync(dataDir, 0o777);
    const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } }, batch: { executor: 'slurm', slurm: { ...slurm.settings, pollEvery: '200ms' } } }, 'test');
    db = openDatabase(`sqlite:${path.join(dataDir, 'keisan.sqlite')}`, { dataDir });
    await migrateToLatest(db);
    const executor = new SlurmExecutor({ settings: settings.batch.slurm, instance: `wd${slurm.firstJobId}`, logger: quiet });
    await executor.open();
    app = await buildApp({ settings, db, nodeSecret: 'secret', jobs: { executor, node: localNode(settings, []) } });
    const { accounts } = app.keisan;
    await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
    await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
    await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: NOBODY, password: 'alice password' });
  });

  after(async () => {
    await loop?.stop();
    await app?.close();
    await db?.close();
    await slurm?.stop();
  });

  it("the event names Keisan's job (found by its SLURM id), alice is told, and the job ends killed-by-recovery", async (t) => {
    if (slurm!.cgroups !== 'v1') return t.skip('needs SLURM with task/cgroup on cgroup v1');
    const keisan = app!;
    const ticket = ((await keisan.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'alice', password: 'alice password' } })).json() as { ticket: string }).ticket;
    const as = (method: 'GET' | 'POST', url: string, payload?: object) => keisan.inject({ method, url, headers: { authorization: `Bearer ${ticket}` }, ...(payload ? { payload } : {}) });
    const first = slurm!.firstJobId;
    const tree = SlurmCgroupTree.open({ only: (id) => id >= first && id < first + 20_000 });
    const settings = resolveRecoverySettings(recoverySettings.parse({ detectors: { pids: { minPids: 16 } }, evidenceDir: path.join(dataDir, 'evidence') }), '/nonexistent');
    loop = new RecoveryLoop({ tree, settings, host: 'slurm-node', reporter: null, logger: quiet, jobInfo: slurmJobRecords(tree) });
    loop.start();
    const leak = `timeout 30 ${process.execPath} -e 'const a=[];const t=setInterval(()=>{if(a.length<160)a.push(Buffer.alloc(1048576,1));},50);setTimeout(()=>clearInterval(t),25000)'`;
    const submitted = await as('POST', '/api/jobs', { script: `#!/bin/sh\n#SBATCH --mem=64M\n${leak}\n`, submitDir: dataDir, args: [], environment: { PATH: '/usr/bin:/bin' } });
    assert.equal(submitted.statusCode, 201, submitted.body);
    const id = (submitted.json() as { jobs: number[] }).jobs[0]!;
    const l = loop;
    await waitUntil('the watchdog to kill the job in SLURM', () => l.events.some((e) => e.slurmJobId != null && e.action === 'kill' && e.outcome === 'done'), 60_000);
    const e = l.events.find((x) => x.slurmJobId != null && x.action === 'kill' && x.outcome === 'done')!;
    assert.equal(e.user, 'nobody');
    // What the reporter would POST.
    const { decidedAtPerfMs: _perf, ...body } = e;
    const posted = await keisan.inject({ method: 'POST', url: '/api/recovery/events', headers: { authorization: 'Node secret' }, payload: body });
    assert.equal(posted.statusCode, 200, posted.body);
    const deadline = Date.now() + 30_000;
    let job = (await as('GET', `/api/jobs/${id}`)).json() as Job;
    while (['pending', 'running'].includes(job.state) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = (await as('GET', `/api/jobs/${id}`)).json() as Job;
    }
    assert.equal(job.externalId, String(e.slurmJobId));
    assert.equal(job.state, 'killed-by-recovery', JSON.stringify(job));
    assert.match(job.reason ?? '', /^killed by the recovery watchdog on slurm-node \((memory-limit|memory-thrash)\): SLURM job \d+ \(nobody\)/);
    const event = (await as('GET', `/api/recovery/events/${(posted.json() as { id: number }).id}`)).json() as RecoveryEvent;
    assert.deepEqual([event.jobId, event.slurmJobId, event.user], [id, e.slurmJobId, 'alice']);
    const notices = (await as('GET', '/api/notifications')).json() as Array<{ title: string }>;
    assert.ok(notices.some((n) => n.title === `the recovery watchdog killed your job ${id} (SLURM job ${e.slurmJobId}) on slurm-node`), JSON.stringify(notices));
    console.log(`end to end: Keisan job ${id} = SLURM job ${e.slurmJobId}: ${job.state}; ${job.reason}`);
  });
});
