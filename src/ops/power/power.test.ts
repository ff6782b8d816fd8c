import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, it } from 'node:test';
import { readAudit } from '../../accounts/audit.ts';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import { LocalExecutor } from '../../batch/executors/local/executor.ts';
import type { NodeResources } from '../../batch/model.ts';
import type { Job } from '../../batch/store.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import type { Incident } from '../../incidents/model.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import type { PlanView, PowerStatusView } from './model.ts';
import { describeWithNut, startTestNut, type TestNut } from './testing.ts';

/**
 * The NUT flow for real: a private upsd with dummy-ups, the real server with the local executor
 * running real jobs, the UPS switched OL → OB → OL (restored, nothing stopped) and then OL → OB
 * for longer than the grace period (the ordered plan: jobs stop starting, running jobs requeued,
 * checkpointed or cancelled per queue, the incident and its timeline, the marker instead of a
 * power-off) — and nothing runs twice.
 */

const GIB = 1024 ** 3;
const NODE: NodeResources = { name: 'node1', cpus: 4, memBytes: 8 * GIB, gpus: [], accepting: true };
const NOBODY_UID = 65534;
const GRACE_MS = 3000;

const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-power-test-'));
chmodSync(scratch, 0o777);
after(() => rmSync(scratch, { recursive: true, force: true }));

describeWithNut('power events through NUT (dummy-ups)', () => {
  describeEachDatabase('the ordered shutdown plan', (database) => {
    let nut: TestNut;
    let db: Db & { dispose(): Promise<void> };
    let app: KeisanApp | undefined;
    let work: string;
    let tickets: Record<string, string>;
    const executors = new Map<string, LocalExecutor>();
    const standIns: ChildProcess[] = [];

    beforeEach(async () => {
      nut = await startTestNut('OL');
      db = await database.open();
      work = mkdtempSync(path.join(scratch, 'work-'));
      chmodSync(work, 0o777);
      const settings = parseSettings(
        {
          accounts: { passwordHash: { cost: 1024 } },
          incidents: { services: ['batch', 'storage-home'] },
          power: {
            ups: nut.address,
            user: nut.monitor.user,
            passwordFile: path.join(work, 'ups.pass'),
            gracePeriod: `${GRACE_MS}ms`,
            pollInterval: '500ms',
            timeout: '2s',
            shutdownCommand: `echo powered-off >> ${path.join(work, 'powered-off')}`,
            jobs: { default: 'requeue', queues: { huge: 'checkpoint', express: 'kill' }, checkpointWait: '10s' },
          },
        },
        'test',
      );
      writeFileSync(path.join(work, 'ups.pass'), `${nut.monitor.password}\n`, { mode: 0o600 });
      const executor = new LocalExecutor({ stateDir: path.join(work, 'state'), cgroups: false });
      executors.set(work, executor);
      app = await buildApp({ settings, db, nodeSecret: 'secret', jobs: { executor, node: NODE }, dataDir: path.join(work, 'data') });
      const { accounts } = app.keisan;
      await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
      await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
      await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: NOBODY_UID, password: 'alice password' });
      await accounts.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'lab-ml', operator: true, password: 'olga password' });
      tickets = {};
      for (const user of ['alice', 'olga']) {
        const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: `${user} password` } });
        tickets[user] = (login.json() as { ticket: string }).ticket;
      }
    });
    afterEach(async () => {
      try {
        // Jobs run detached from the server: a failed test must not leave them behind.
        const executor = executors.get(work);
        for (const id of executor?.runningJobs() ?? []) await executor!.kill(id, 'cancelled');
        for (const child of standIns.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await app?.close();
        await db.dispose();
      } finally {
        await nut.stop();
      }
    });

    const api = async (user: string, method: 'GET' | 'POST', url: string, payload?: unknown) => {
      const response = await app!.inject({ method, url, headers: { authorization: `Bearer ${tickets[user]}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
      return { status: response.statusCode, body: response.json() as unknown };
    };
    const submit = async (script: string, queue: string) => {
      const response = await api('alice', 'POST', '/api/jobs', { script, args: [], submitDir: work, environment: { PATH: '/usr/bin:/bin' }, options: { queue } });
      assert.equal(response.status, 201, JSON.stringify(response.body));
      return (response.body as { jobs: number[] }).jobs[0]!;
    };
    const job = async (id: number) => (await api('alice', 'GET', `/api/jobs/${id}`)).body as Job;
    const power = async () => (await api('olga', 'GET', '/api/ops/power')).body as PowerStatusView;
    async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms = 20_000): Promise<T> {
      const deadline = Date.now() + ms;
      for (;;) {
        const value = await read();
        if (ok(value)) return value;
        if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 600)} after ${ms} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const incident = async (id: number) => (await api('olga', 'GET', `/api/incidents/${id}`)).body as Incident;
    /** A process standing in for a daemon: resolves with the time it ended. */
    const standIn = (): { child: ChildProcess; ended: Promise<number> } => {
      const child = spawn('sleep', ['300'], { stdio: 'ignore' });
      standIns.push(child);
      return { child, ended: new Promise((resolve) => child.once('exit', () => resolve(Date.now()))) };
    };
    const powerAudit = async () => (await readAudit(db.kysely, { action: 'power.', limit: 200 })).reverse().map((e) => `${e.action} ${e.outcome}`);

    it('OL → OB → OL before the grace ends: an incident opened and noted restored, nothing stopped; OB past the grace: the ordered plan, once', async () => {
      const sleeper = await submit('#!/bin/sh\n#SBATCH --mem=100M\nsleep 300\n', 'short');
      const checkpointer = await submit(`#!/bin/sh\n#SBATCH --mem=100M\ntrap 'echo checkpoint > ${work}/ckpt-$SLURM_JOB_ID; exit 0' USR1\nwhile :; do sleep 0.2; done\n`, 'huge');
      const quick = await submit('#!/bin/sh\n#SBATCH --mem=100M\nsleep 300\n', 'express');
      for (const id of [sleeper, checkpointer, quick]) await until(`job ${id} running`, () => job(id), (j) => j.state === 'running');

      const first = await until('the first reading', power, (p) => p.reachable === true);
      assert.equal(first.phase, 'online');
      assert.deepEqual(first.flags, ['OL']);
      assert.equal(first.battery.charge, 100);
      assert.match(first.next, /on line: nothing to do/);
      assert.equal((await api('alice', 'GET', '/api/ops/power')).status, 403);
      const dry = (await api('olga', 'GET', '/api/ops/power/plan')).body as PlanView;
      assert.deepEqual(dry.steps.map((s) => s.key), ['stop-dispatch', 'stop-jobs', 'close-storage', 'stop-daemons', 'shutdown-host']);
      assert.match(dry.text, new RegExp(`job ${checkpointer} .*SIGUSR1`));

      // A short outage: back on line within the grace period.
      await nut.setStatus('OB DISCHRG');
      const onBattery = await until('on battery', power, (p) => p.phase === 'on-battery');
      assert.ok(onBattery.shutdownDueAt !== null && onBattery.incidentId !== null);
      assert.match(onBattery.next, /the shutdown plan starts at .* unless power returns/);
      await nut.setStatus('OL');
      const restored = await until('back on line', power, (p) => p.phase === 'online');
      assert.equal(restored.shutdown, null);
      assert.equal(restored.dispatchPaused, null);
      const opened = await incident(onBattery.incidentId!);
      assert.equal(opened.severity, 'SEV3');
      assert.equal(opened.status, 'investigating');
      assert.equal(opened.source, 'power');
      assert.match(opened.timeline.at(-1)!.text, /power restored: UPS dummy@127\.0\.0\.1:\d+ back on line after .* on battery; the shutdown plan was not started/);
      // Longer than the grace period after the outage began: nothing happens on line.
      await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 500));
      for (const id of [sleeper, checkpointer, quick]) assert.equal((await job(id)).state, 'running');
      assert.equal(existsSync(path.join(work, 'powered-off')), false);

      // The real outage, with an agent and a watchdog of this host registered (no keisan up).
      const agent = standIn();
      const watchdog = standIn();
      for (const [kind, daemon] of [['agent', agent], ['watchdog', watchdog]] as const) {
        await app!.keisan.daemons.register({ kind, host: hostname(), pid: daemon.child.pid!, version: 'test', startedAt: new Date().toISOString() });
      }
      await nut.setStatus('OB DISCHRG');
      const done = await until('the plan has run', power, (p) => p.shutdown?.done === true, 60_000);
      assert.ok(done.shutdown!.steps.every((s) => s.ok), JSON.stringify(done.shutdown!.steps, null, 2));
      assert.deepEqual(done.shutdown!.steps.map((s) => s.key), ['stop-dispatch', 'stop-jobs', 'close-storage', 'stop-daemons', 'shutdown-host']);
      assert.match(done.shutdown!.reason, /on battery past the grace period/);
      assert.equal(done.phase, 'shutting-down');
      assert.match(done.dispatchPaused ?? '', /power loss/);

      // Running jobs: requeued (same id, back to pending), checkpointed then requeued, cancelled.
      const requeued = await job(sleeper);
      assert.equal(requeued.state, 'pending');
      assert.deepEqual(requeued.transitions.map((t) => t.state), ['pending', 'running', 'pending']);
      assert.match(requeued.reason ?? '', /requeued: power loss/);
      const checkpointed = await job(checkpointer);
      assert.equal(checkpointed.state, 'pending');
      assert.equal(readFileSync(path.join(work, `ckpt-${checkpointer}`), 'utf8'), 'checkpoint\n');
      assert.equal((await job(quick)).state, 'cancelled');
      // The daemons: the agent stopped before the watchdog.
      const [agentEnded, watchdogEnded] = await Promise.all([agent.ended, watchdog.ended]);
      assert.ok(agentEnded <= watchdogEnded);
      assert.match(done.shutdown!.steps[3]!.message, new RegExp(`agents \\(pid ${agent.child.pid}\\) stopped, the server's batch service closed, watchdogs \\(pid ${watchdog.child.pid}\\) stopped`));
      // Jobs stop starting: a new one stays pending.
      const late = await submit('#!/bin/sh\n#SBATCH --mem=100M\ntrue\n', 'short');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal((await job(late)).state, 'pending');
      // The marker instead of a power-off.
      assert.equal(readFileSync(path.join(work, 'powered-off'), 'utf8'), 'powered-off\n');

      // The incident: escalated, with the plan's steps in its timeline.
      assert.equal(done.incidentId, onBattery.incidentId);
      const escalated = await incident(done.incidentId!);
      assert.equal(escalated.severity, 'SEV1');
      assert.equal(escalated.status, 'identified');
      assert.equal(escalated.cause, 'external');
      assert.deepEqual(escalated.services, [{ service: 'batch', impact: 'all-unavailable' }, { service: 'storage-home', impact: 'all-unavailable' }]);
      const texts = escalated.timeline.map((e) => e.text);
      assert.ok(texts.some((t) => /^shutdown plan started: on battery past the grace period/.test(t)), texts.join('\n'));
      for (const [n, title] of [[1, 'stop starting jobs'], [2, 'requeue, checkpoint or cancel'], [3, 'flush and close storage writes'], [4, 'stop the Keisan daemons in order'], [5, 'shut the host down']] as const) {
        assert.ok(texts.some((t) => t.startsWith(`step ${n}/5 ${title}`) && t.includes(': done — ')), `step ${n} in the timeline:\n${texts.join('\n')}`);
      }

      // Nothing runs twice: power flaps again, the plan does not start again.
      await nut.setStatus('OL');
      await nut.setStatus('OB LB');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(readFileSync(path.join(work, 'powered-off'), 'utf8'), 'powered-off\n');
      const audit = await powerAudit();
      assert.equal(audit.filter((a) => a === 'power.shutdown-start ok').length, 1, audit.join('\n'));
      assert.equal(audit.filter((a) => a.startsWith('power.step ')).length, 5, audit.join('\n'));
      assert.equal(audit.filter((a) => a === 'power.on-battery ok').length, 2, audit.join('\n'));
      assert.equal(audit.filter((a) => a === 'power.restored ok').length, 1, audit.join('\n'));
      assert.equal((await job(sleeper)).state, 'pending');
    });

    it('the UPS unreachable while on line does nothing; low battery starts the plan at once; under keisan up a finisher stops it, then runs the command', async () => {
      await until('the first reading', power, (p) => p.reachable === true);
      await nut.stopDriver();
      const unreachable = await until('unreachable', power, (p) => p.reachable === false);
      assert.match(unreachable.lastError?.message ?? '', /DATA-STALE|DRIVER-NOT-CONNECTED/);
      assert.match(unreachable.next, /the UPS cannot be read/);
      await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 500));
      assert.equal((await power()).shutdown, null);
      assert.equal((await power()).phase, 'online');
      await nut.startDriver();
      await until('reachable again', power, (p) => p.reachable === true && p.flags.includes('OL'));

      // keisan up for this data directory (a stand-in holding its lock file).
      const supervisor = standIn();
      writeFileSync(path.join(work, 'data', 'keisan-up.pid'), `${supervisor.child.pid}\n`);
      await nut.setStatus('OB LB');
      const seen = Date.now();
      const done = await until('the plan has run', power, (p) => p.shutdown?.done === true, 30_000);
      assert.ok(Date.parse(done.shutdown!.startedAt) - seen < GRACE_MS, 'at once, not after the grace period');
      assert.equal(done.shutdown!.reason, 'the UPS reports low battery (LB)');
      assert.ok(done.shutdown!.steps.every((s) => s.ok), JSON.stringify(done.shutdown!.steps, null, 2));
      assert.match(done.shutdown!.steps[1]!.message, /no job was running/);
      assert.match(done.shutdown!.steps[3]!.message, new RegExp(`handed over to a detached finisher .*keisan up \\(pid ${supervisor.child.pid}\\) stops the agent, then the server, then the watchdog`));
      const supervisorEnded = await supervisor.ended;
      await until('the marker', async () => existsSync(path.join(work, 'powered-off')), (there) => there, 10_000);
      assert.equal(readFileSync(path.join(work, 'powered-off'), 'utf8'), 'powered-off\n');
      assert.ok(supervisorEnded <= Date.now());
      assert.match(readFileSync(path.join(work, 'data', 'logs', 'power-shutdown.log'), 'utf8'), /asking keisan up \(pid \d+\) to stop[\s\S]*keisan up has stopped: running the shutdown command/);
      const audit = await powerAudit();
      assert.deepEqual(audit.filter((a) => a.startsWith('power.ups-')), ['power.ups-unreachable failed', 'power.ups-reachable ok']);
    });
  });
});
