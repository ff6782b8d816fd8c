import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import { CgroupTree } from '../batch/executors/local/cgroups.ts';
import { LocalExecutor } from '../batch/executors/local/executor.ts';
import type { NodeResources } from '../batch/model.ts';
import type { Job } from '../batch/store.ts';
import { openDatabase, type Db } from '../db/connection.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { parseSettings } from '../lib/config.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import type { RecoveryEvent } from './events-model.ts';
import { localJobRecords } from './job-records.ts';
import { RecoveryLoop } from './loop.ts';
import { EventReporter } from './reporter.ts';
import { recoverySettings, resolveRecoverySettings } from './settings.ts';
import { describeOnRealCgroups } from './testing.ts';

/**
 * As an operator would see it: the real server with the local executor on real cgroups (a private
 * capped parent), the watchdog's loop on the same parent reporting to the server over HTTP. A job
 * leaking memory is killed (the fork storm is src/recovery/loop.test.ts'), ends `killed-by-recovery`, is in
 * `keisan recovery events`, its owner notified and the kill audited — and a larger innocent job
 * beside them runs on untouched.
 */
const MiB = 1024 * 1024;
const NOBODY_UID = 65534;
const NODE_BIN = process.execPath;

describeOnRealCgroups('the recovery watchdog with the batch system, end to end', () => {
  const root = `keisan-test-e2e-${process.pid}`;
  const work = mkdtempSync(path.join(tmpdir(), 'keisan-recovery-e2e-'));
  chmodSync(work, 0o777);
  const stateDir = path.join(work, 'state');
  let db: Db;
  let app: KeisanApp;
  let loop: RecoveryLoop;
  let reporter: EventReporter;
  let aliceTicket: string;
  let olgaTicket: string;

  before(async () => {
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test');
    const node: NodeResources = { name: 'node1', cpus: 2, memBytes: 768 * MiB, gpus: [], accepting: true };
    const executor = new LocalExecutor({ stateDir, cgroups: { root, parentMemBytes: 768 * MiB, parentPidsMax: 512 }, pidsMax: 64, pollIntervalMs: 50 });
    app = await buildApp({ settings, db, nodeSecret: 'node-secret', jobs: { executor, node } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { accounts } = app.keisan;
    await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
    await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
    await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: NOBODY_UID, password: 'alice password' });
    await accounts.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'lab-ml', operator: true, password: 'olga password' });
    const login = async (user: string) => ((await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: `${user} password` } })).json() as { ticket: string }).ticket;
    aliceTicket = await login('alice');
    olgaTicket = await login('olga');
    // The watchdog: its own view of the same parent (it never changes the parent's limits).
    const tree = CgroupTree.open({ root, parentMemBytes: null, parentPidsMax: null });
    const recovery = resolveRecoverySettings(recoverySettings.parse({ detectors: { pids: { minPids: 16 } }, evidenceDir: path.join(work, 'evidence') }), work);
    reporter = new EventReporter({ serverUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, nodeSecret: 'node-secret', backoffMs: 50 });
    loop = new RecoveryLoop({ tree, settings: recovery, host: 'node1', reporter, logger: { info: () => {}, warn: () => {}, error: () => {} }, jobInfo: localJobRecords({ jobsDir: path.join(stateDir, 'jobs') }) });
    loop.start();
  });

  after(async () => {
    await loop?.stop();
    reporter?.stop();
    await app?.close();
    await db?.close();
    try {
      assert.deepEqual(CgroupTree.open({ root, parentMemBytes: null, parentPidsMax: null }).destroy(10_000), []);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  const api = async (ticket: string, method: 'GET' | 'POST', url: string, payload?: object) => {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${ticket}` }, ...(payload ? { payload } : {}) });
    return { status: response.statusCode, body: response.json() as unknown };
  };
  const submit = async (name: string, directives: string, command: string): Promise<number> => {
    const script = `#!/bin/sh\n#SBATCH --job-name=${name}\n#SBATCH -t 5\n${directives}\n${command}\n`;
    const r = await api(aliceTicket, 'POST', '/api/jobs', { script, args: [], submitDir: work, environment: { PATH: `${path.dirname(NODE_BIN)}:/usr/bin:/bin` }, options: {} });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return (r.body as { jobs: number[] }).jobs[0]!;
  };
  const job = async (id: number) => (await api(aliceTicket, 'GET', `/api/jobs/${id}`)).body as Job;

  it('kills the leaking job, records why, tells the owner, spares the innocent larger job', async () => {
    // The innocent job holds more memory than the leaker ever will, within its request.
    const innocent = await submit('innocent', '#SBATCH --mem=300M', `exec timeout 60 node -e 'const b=Buffer.alloc(150*1048576,1);setTimeout(()=>b.length,55000)'`);
    const deadline = Date.now() + 20_000;
    while ((await job(innocent)).state !== 'running') {
      if (Date.now() > deadline) throw new Error(`the innocent job is ${(await job(innocent)).state}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const leaker = await submit('leaker', '#SBATCH --mem=64M', `exec timeout 30 node -e 'const a=[];setInterval(()=>{if(a.length<160)a.push(Buffer.alloc(1048576,1));},50)'`);

    for (const id of [leaker]) {
      const end = Date.now() + 30_000;
      for (;;) {
        const current = await job(id);
        // A transient `failed` (SIGKILL) may come first: the watchdog's event then rewrites it.
        if (current.state === 'killed-by-recovery') break;
        if (Date.now() > end) throw new Error(`job ${id} is ${current.state} (${current.reason}); loop events ${JSON.stringify(loop.events.map((e) => [e.jobId, e.rule, e.action, e.outcome]))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const leakerJob = await job(leaker);
    assert.match(leakerJob.reason ?? '', /^killed by the recovery watchdog on node1 \(memory-(limit|thrash)\): job \d+ \((alice|nobody)\)/);
    assert.equal((await job(innocent)).state, 'running', 'the larger innocent job runs on');

    // keisan recovery events: the owner sees both, with the job record's owner.
    const events = (await api(aliceTicket, 'GET', '/api/recovery/events')).body as RecoveryEvent[];
    for (const id of [leaker]) {
      const e = events.find((x) => x.jobId === id && x.action === 'kill');
      assert.ok(e, `an event for job ${id}`);
      assert.equal(e.outcome, 'done');
      assert.equal(e.user, 'alice');
    }
    assert.ok(!events.some((x) => x.jobId === innocent), 'nothing about the innocent job');
    const leakEvent = events.find((x) => x.jobId === leaker && x.action === 'kill')!;
    assert.match(leakEvent.victimExplanation, new RegExp(`job ${leaker}`));
    // The owner was told; the kills are audited as the watchdog of node1.
    const notices = (await api(aliceTicket, 'GET', '/api/notifications')).body as Array<{ kind: string; title: string }>;
    assert.ok(notices.filter((n) => n.kind === 'recovery').length >= 1, JSON.stringify(notices));
    const audit = (await api(olgaTicket, 'GET', '/api/audit?action=recovery.kill')).body as Array<{ actor: string; target: string }>;
    for (const id of [leaker]) assert.ok(audit.some((a) => a.actor === 'watchdog@node1' && a.target === String(id)), JSON.stringify(audit));

    await api(aliceTicket, 'POST', `/api/jobs/${innocent}/cancel`);
  });
});
