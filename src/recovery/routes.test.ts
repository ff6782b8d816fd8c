import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, it } from 'node:test';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { ManualClock } from '../lib/clock.ts';
import { parseSettings } from '../lib/config.ts';
import { describeWithSmtp, TestSmtpServer } from '../monitor/testing-smtp.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import type { RecoveryEvent } from './events-model.ts';
import { killInput } from './events-testing.ts';

/** Recovery events through the real API: the watchdog's POST, who sees what, and what follows an action. */
describeWithSmtp('recovery events over the API', () => {
  let smtp: TestSmtpServer;
  const work = mkdtempSync(path.join(tmpdir(), 'keisan-recovery-routes-'));
  before(async () => {
    smtp = await TestSmtpServer.start();
  });
  after(async () => {
    await smtp?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  describeEachDatabase('recovery events', (database) => {
    let db: Db & { dispose(): Promise<void> };
    let app: KeisanApp;
    let clock: ManualClock;
    const mailbox = `alice-${database.dialect}-${process.pid}@example.org`;
    beforeEach(async () => {
      db = await database.open();
      clock = new ManualClock('2026-11-23T08:00:05Z');
      const settings = parseSettings(
        { facility: { name: 'Testlab' }, accounts: { passwordHash: { cost: 1024 } }, mail: { from: 'Keisan <keisan@example.org>', smtp: { host: '127.0.0.1', port: smtp.port } } },
        'test',
      );
      app = await buildApp({ settings, db, nodeSecret: 'node-secret', clock });
      const { accounts } = app.keisan;
      await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
      await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
      await accounts.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'lab-ml', operator: true, password: 'olga password' });
      await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', password: 'alice password', email: mailbox });
      await accounts.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'lab-ml', password: 'bob password' });
    });
    afterEach(async () => {
      await app.close();
      await db.dispose();
    });

    const as = async (user: string) => {
      const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: `${user} password` } });
      const ticket = (login.json() as { ticket: string }).ticket;
      return async (method: 'GET' | 'POST', url: string, payload?: object) => {
        const response = await app.inject({ method, url, headers: { authorization: `Bearer ${ticket}` }, ...(payload ? { payload } : {}) });
        return { status: response.statusCode, body: response.json() as Record<string, unknown> & { error?: { code: string; message: string } } };
      };
    };
    const report = async (payload: object, authorization: string | null = 'Node node-secret') => {
      const response = await app.inject({ method: 'POST', url: '/api/recovery/events', ...(authorization ? { headers: { authorization } } : {}), payload });
      return { status: response.statusCode, body: response.json() as { id?: number; error?: { code: string; message: string } } };
    };
    /** A held job of alice's: it never runs, but the jobs table knows its owner. */
    const aliceJob = async () => {
      const alice = await as('alice');
      const submitted = await alice('POST', '/api/jobs', { script: '#!/bin/sh\n#SBATCH --hold\ntrue\n', args: [], submitDir: work, environment: {}, options: {} });
      assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
      return (submitted.body as { jobs: number[] }).jobs[0]!;
    };

    it('needs the node secret, and refuses bad input with a message naming the field', async () => {
      assert.equal((await report(killInput(), null)).status, 401);
      const wrong = await report(killInput(), 'Node not-the-secret');
      assert.equal(wrong.status, 401);
      const alice = await as('alice');
      assert.equal((await alice('POST', '/api/recovery/events', killInput())).status, 401, "a user's ticket is not a node secret");

      const bad = await report({ ...killInput(), action: 'explode', at: 'yesterday' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error?.code, 'INVALID_INPUT');
      assert.match(bad.body.error?.message ?? '', /action/);
      assert.match(bad.body.error?.message ?? '', /at/);
      const extra = await report({ ...killInput(), surprise: 1 });
      assert.equal(extra.status, 400);
      assert.match(extra.body.error?.message ?? '', /surprise/);
      const operator = await as('olga');
      assert.deepEqual((await operator('GET', '/api/recovery/events')).body, [], 'nothing half-written');
    });

    it("stores an acted-on event about alice's job: alice is notified in-app and by mail, the audit log names the watchdog, the hook is called", async () => {
      const hooked: RecoveryEvent[] = [];
      app.keisan.recovery.onAction((event) => void hooked.push(event));
      const job = await aliceJob();
      // The watchdog's idea of the owner is overruled by the job record.
      const stored = await report(killInput({ jobId: job, user: 'bob' }));
      assert.equal(stored.status, 200, JSON.stringify(stored.body));
      const id = stored.body.id!;

      const operator = await as('olga');
      const event = (await operator('GET', `/api/recovery/events/${id}`)).body as unknown as RecoveryEvent;
      assert.equal(event.user, 'alice');
      assert.equal(event.jobId, job);
      assert.deepEqual(event.timings, { decisionToWriteMs: 0.4, writeMs: 0.1, writeToEmptyMs: 38.5 });
      assert.deepEqual(hooked.map((e) => e.id), [id]);

      const alice = await as('alice');
      const notices = (await alice('GET', '/api/notifications')).body as unknown as { title: string; body: string }[];
      assert.equal(notices.length, 1);
      assert.equal(notices[0]!.title, `the recovery watchdog killed your job ${job} on node1`);
      assert.match(notices[0]!.body, /memory 1\.98 of 2\.00 GiB.*keisan recovery event \d+$/);
      const bob = await as('bob');
      assert.deepEqual((await bob('GET', '/api/notifications')).body, []);

      const mail = await smtp.waitFor((m) => m.rcptTo.includes(mailbox) && m.subject.includes(`job ${job} `));
      assert.equal(mail.subject, `[Testlab] the recovery watchdog killed your job ${job} on node1`);
      assert.match(mail.text, /^Rule: +memory-limit \(act\)$/m);
      assert.match(mail.text, /^Why: +job 42 \(alice\): memory 1\.98 of 2\.00 GiB/m);
      assert.match(mail.text, /^Done: +kill — its processes were gone 39 ms later$/m);
      assert.match(mail.text, /^ {2}growthBytesPerS = 188743680$/m);
      assert.match(mail.text, /Evidence: .* on node1 in \/var\/lib\/keisan\/recovery\/evidence\/2026-11-23T08-00-00Z-job-42\.json/);
      assert.match(mail.text, new RegExp(`keisan recovery event ${id} .*keisan recovery events`));

      const audit = await app.keisan.accounts.audit(SYSTEM_ACTOR, { action: 'recovery.kill' });
      assert.equal(audit.length, 1);
      assert.deepEqual([audit[0]!.actor, audit[0]!.targetType, audit[0]!.target, audit[0]!.outcome], ['watchdog@node1', 'job', String(job), 'ok']);
      assert.equal(audit[0]!.detail.event, id);
    });

    it("a SLURM node's event names SLURM's job id: the Keisan job run under it (external id) is the event's job, notified, and passed to the hooks; a job Keisan did not submit stays 'SLURM job N'", async () => {
      const hooked: RecoveryEvent[] = [];
      app.keisan.recovery.onAction((event) => void hooked.push(event));
      const job = await aliceJob();
      await db.kysely.updateTable('jobs').set({ external_id: '4711' }).where('id', '=', job).execute();
      const slurmKill = (slurmJobId: number) => killInput({ jobId: null, slurmJobId, user: null, explanation: `SLURM job ${slurmJobId}: memory 1.98 of 2.00 GiB`, victimExplanation: `SLURM job ${slurmJobId} exceeds its own request` });
      const mapped = await report(slurmKill(4711));
      assert.equal(mapped.status, 200, JSON.stringify(mapped.body));
      const operator = await as('olga');
      const event = (await operator('GET', `/api/recovery/events/${mapped.body.id}`)).body as unknown as RecoveryEvent;
      assert.deepEqual([event.jobId, event.slurmJobId, event.user], [job, 4711, 'alice']);
      // The hooks (the batch room's recordRecoveryKill, the incidents) get the Keisan job.
      assert.deepEqual(hooked.map((e) => [e.id, e.jobId, e.slurmJobId]), [[mapped.body.id, job, 4711]]);
      const alice = await as('alice');
      const notices = (await alice('GET', '/api/notifications')).body as unknown as { title: string }[];
      assert.deepEqual(notices.map((n) => n.title), [`the recovery watchdog killed your job ${job} (SLURM job 4711) on node1`]);
      assert.deepEqual(((await operator('GET', `/api/recovery/events?job=${job}`)).body as unknown as RecoveryEvent[]).map((e) => e.id), [mapped.body.id]);

      const plain = await report(slurmKill(999));
      assert.equal(plain.status, 200, JSON.stringify(plain.body));
      const unknown = (await operator('GET', `/api/recovery/events/${plain.body.id}`)).body as unknown as RecoveryEvent;
      assert.deepEqual([unknown.jobId, unknown.slurmJobId, unknown.user], [null, 999, null]);
      const audit = await app.keisan.accounts.audit(SYSTEM_ACTOR, { action: 'recovery.kill' });
      assert.deepEqual(audit.map((a) => [a.targetType, a.target]).sort(), [['job', String(job)], ['job', 'slurm:999']]);
      assert.equal((await report({ ...slurmKill(1), slurmJobId: 0 })).status, 400, 'a SLURM job id is positive');

      // Ask mode: the pending decision names SLURM's job too (in the list and in the answer to approve).
      const ask = { key: '3a1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f', deadline: '2026-11-23T08:05:00.000Z', proposed: 'kill' as const, decision: null, decidedBy: null, decidedAt: null, reason: null };
      const pending = await report({ ...slurmKill(555), mode: 'ask', outcome: 'pending', timings: null, ask });
      assert.equal(pending.status, 200, JSON.stringify(pending.body));
      const list = (await operator('GET', '/api/recovery/pending')).body as unknown as Array<{ id: number; jobId: number | null; slurmJobId: number | null }>;
      assert.deepEqual(list.map((p) => [p.id, p.jobId, p.slurmJobId]), [[pending.body.id, null, 555]]);
      const approved = (await operator('POST', `/api/recovery/events/${pending.body.id}/approve`)).body as unknown as { state: string; slurmJobId: number | null };
      assert.deepEqual([approved.state, approved.slurmJobId], ['approved', 555]);
    });

    it('observe mode and warnings notify nobody and are not audited; a failed kill is audited as failed', async () => {
      const hooked: number[] = [];
      app.keisan.recovery.onAction((event) => void hooked.push(event.id));
      const job = await aliceJob();
      assert.equal((await report(killInput({ jobId: job, mode: 'observe', outcome: 'observed', timings: null }))).status, 200);
      assert.equal((await report(killInput({ jobId: null, pid: 777, rule: 'login-cpu-hog', severity: 'warn', action: 'warn', outcome: 'done', timings: null }))).status, 200);
      assert.equal((await report(killInput({ jobId: job, outcome: 'failed', error: 'cgroup.kill: EACCES', timings: null }))).status, 200);
      const alice = await as('alice');
      assert.deepEqual((await alice('GET', '/api/notifications')).body, []);
      assert.deepEqual(hooked, []);
      const audit = await app.keisan.accounts.audit(SYSTEM_ACTOR, { action: 'recovery.' });
      assert.deepEqual(audit.map((a) => [a.action, a.outcome, a.detail.error]), [['recovery.kill', 'failed', 'cgroup.kill: EACCES']]);
    });

    it('a user sees only events about their own jobs and processes; operators see all and filter', async () => {
      const job = await aliceJob();
      const mine = (await report(killInput({ jobId: job }))).body.id!;
      clock.advance(60_000);
      const process = (await report(killInput({ jobId: null, pid: 4242, user: 'alice', rule: 'login-cpu-hog', action: 'stop', host: 'login1', at: '2026-11-23T08:01:00Z' }))).body.id!;
      const bobs = (await report(killInput({ jobId: null, pid: 99, user: 'bob', action: 'stop', at: '2026-11-23T08:02:00Z' }))).body.id!;

      const alice = await as('alice');
      const bob = await as('bob');
      const operator = await as('olga');
      const ids = (body: unknown) => (body as RecoveryEvent[]).map((e) => e.id);
      assert.deepEqual(ids((await alice('GET', '/api/recovery/events')).body), [process, mine]);
      assert.deepEqual(ids((await bob('GET', '/api/recovery/events')).body), [bobs]);
      assert.deepEqual(ids((await operator('GET', '/api/recovery/events')).body), [bobs, process, mine]);
      assert.deepEqual(ids((await operator('GET', '/api/recovery/events?host=login1')).body), [process]);
      assert.deepEqual(ids((await operator('GET', `/api/recovery/events?job=${job}`)).body), [mine]);
      assert.deepEqual(ids((await operator('GET', '/api/recovery/events?since=2026-11-23T08:01:30Z')).body), [bobs]);
      assert.deepEqual(ids((await operator('GET', '/api/recovery/events?limit=1')).body), [bobs]);
      // since as a duration back from now (the clock is at 08:01:05): 2 minutes reach all three.
      assert.equal(ids((await operator('GET', '/api/recovery/events?since=2m')).body).length, 3);

      assert.equal((await alice('GET', `/api/recovery/events/${mine}`)).status, 200);
      const hidden = await alice('GET', `/api/recovery/events/${bobs}`);
      assert.equal(hidden.status, 404);
      assert.match(hidden.body.error?.message ?? '', /recovery event '\d+' does not exist/);
      assert.equal((await operator('GET', '/api/recovery/events/9999')).status, 404);
      const badSince = await operator('GET', '/api/recovery/events?since=soon');
      assert.equal(badSince.status, 400);
      assert.match(badSince.body.error?.message ?? '', /since: 'soon' is not a duration/);
    });

    it('ask mode: a pending event tells the operators, approve/deny once before the deadline (403 for users, 409 twice or late), the node polls the decision', async () => {
      const job = await aliceJob();
      const opMail = `oscar-${database.dialect}-${process.pid}@example.org`;
      await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'oscar', primarySubgroup: 'lab-ml', operator: true, password: 'oscar password', email: opMail });
      const key = '6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
      const ask = { key, deadline: '2026-11-23T08:05:00.000Z', proposed: 'kill' as const, decision: null, decidedBy: null, decidedAt: null, reason: null };
      const pending = await report(killInput({ jobId: job, mode: 'ask', outcome: 'pending', timings: null, ask }));
      assert.equal(pending.status, 200, JSON.stringify(pending.body));
      const id = pending.body.id!;
      assert.equal((await report(killInput({ jobId: job, mode: 'ask', outcome: 'pending', timings: null, ask }))).status, 200, 'a re-sent report is accepted');

      const olga = await as('olga');
      const notices = (await olga('GET', '/api/notifications')).body as unknown as { title: string; body: string }[];
      assert.equal(notices.length, 1);
      assert.match(notices[0]!.title, new RegExp(`job ${job} of alice on node1 is frozen — approve or deny by 2026-11-23T08:05:00.000Z`));
      assert.match(notices[0]!.body, new RegExp(`keisan recovery approve ${id} \\| keisan recovery deny ${id}`));
      const mail = await smtp.waitFor((m) => m.rcptTo.includes(opMail) && m.subject.includes(`job ${job} `));
      assert.match(mail.text, new RegExp(`Approve: keisan recovery approve ${id}`));
      assert.match(mail.text, /Proposed: +kill/);
      const link = /Or decide in a browser \(one use, until the deadline; no login\): \S+(\/recovery\/decide\/[A-Za-z0-9_-]{43})\b/.exec(mail.text)?.[1];
      assert.ok(link, mail.text);
      const alice = await as('alice');
      const told = (await alice('GET', '/api/notifications')).body as unknown as { title: string }[];
      assert.deepEqual(told.map((n) => n.title), [`your job ${job} on node1 is held frozen while an operator decides`], 'the owner is told, once');
      await smtp.waitFor((m) => m.rcptTo.includes(mailbox) && m.subject.includes('is held frozen'));

      const list = (await olga('GET', '/api/recovery/pending')).body as unknown as { id: number; jobId: number; user: string; proposed: string; deadline: string; state: string }[];
      assert.deepEqual(list.map((p) => [p.id, p.jobId, p.user, p.proposed, p.deadline, p.state]), [[id, job, 'alice', 'kill', '2026-11-23T08:05:00.000Z', 'pending']]);
      const bob = await as('bob');
      const refused = await bob('GET', '/api/recovery/pending');
      assert.equal(refused.status, 403);
      assert.match(refused.body.error!.message, /only an operator may see the recovery decisions/);
      const bobApprove = await bob('POST', `/api/recovery/events/${id}/approve`);
      assert.equal(bobApprove.status, 403);
      assert.match(bobApprove.body.error!.message, /only an operator may approve what the recovery watchdog proposed/);

      const poll = async () => {
        const r = await app.inject({ method: 'GET', url: `/api/recovery/decisions?host=node1&keys=${key}`, headers: { authorization: 'Node node-secret' } });
        return { status: r.statusCode, body: r.json() as { key: string; decision: string; by: string }[] };
      };
      assert.deepEqual((await poll()).body, [], 'nothing decided yet');
      assert.equal((await app.inject({ method: 'GET', url: `/api/recovery/decisions?host=node1&keys=${key}` })).statusCode, 401);

      // The link's page: GET shows and never decides; no login, no script.
      const shownPage = await app.inject({ method: 'GET', url: link });
      assert.equal(shownPage.statusCode, 200);
      assert.match(shownPage.headers['content-type'] as string, /^text\/html/);
      assert.match(shownPage.body, new RegExp(`job ${job} of alice`));
      assert.match(shownPage.body, /memory-limit \(act\)/);
      assert.match(shownPage.body, /<form method="post"[^>]*><input type="hidden" name="verdict" value="approve">/);
      assert.match(shownPage.body, /value="deny"/);
      assert.doesNotMatch(shownPage.body, /<script/i);
      assert.equal((await app.inject({ method: 'GET', url: link })).statusCode, 200, 'a GET never decides (nor uses the link)');
      assert.equal((await app.inject({ method: 'GET', url: '/recovery/decide/' + 'A'.repeat(43) })).statusCode, 404);
      assert.equal((await app.inject({ method: 'POST', url: link, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'verdict=explode' })).statusCode, 400);
      assert.deepEqual((await poll()).body, [], 'nothing decided by GETs or a bad form');

      clock.advance(60_000);
      const approved = await olga('POST', `/api/recovery/events/${id}/approve`);
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.deepEqual([approved.body.state, approved.body.decidedBy], ['approved', 'olga']);
      const again = await olga('POST', `/api/recovery/events/${id}/deny`, { reason: 'changed my mind' });
      assert.equal(again.status, 409);
      assert.match(again.body.error!.message, new RegExp(`recovery event ${id} was already decided: approved by olga`));
      assert.deepEqual((await poll()).body.map((d) => [d.key, d.decision, d.by]), [[key, 'approved', 'olga']]);
      assert.deepEqual((await olga('GET', '/api/recovery/pending')).body, []);
      const audit = await app.keisan.accounts.audit(SYSTEM_ACTOR, { action: 'recovery.approve' });
      assert.deepEqual(
        audit.map((a) => [a.actor, a.target, a.outcome, a.detail.event]).sort(),
        [['bob', String(id), 'denied', undefined], ['olga', String(job), 'ok', id]],
        "olga's approval and bob's refusal are both in the audit log",
      );

      // The node reports the kill that followed: the event shows the decision.
      const followUp = await report(killInput({ jobId: job, mode: 'ask', ask: { ...ask, decision: 'approved', decidedBy: 'olga', decidedAt: '2026-11-23T08:01:05.000Z' } }));
      const shown = (await olga('GET', `/api/recovery/events/${followUp.body.id!}`)).body as unknown as { ask: { key: string; decision: string; decidedBy: string } };
      assert.deepEqual([shown.ask.key, shown.ask.decision, shown.ask.decidedBy], [key, 'approved', 'olga']);

      // A second pending event: the deadline passes; deny is refused with 409 and the node's timed-out report closes it.
      const key2 = '7f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
      const ask2 = { ...ask, key: key2, deadline: '2026-11-23T08:03:00.000Z' };
      const id2 = (await report(killInput({ jobId: job, mode: 'ask', outcome: 'pending', timings: null, ask: ask2 }))).body.id!;
      clock.advance(2 * 60_000);
      const late = await olga('POST', `/api/recovery/events/${id2}/deny`, { reason: 'too late' });
      assert.equal(late.status, 409);
      assert.match(late.body.error!.message, /timed out at 2026-11-23T08:03:00.000Z: the node fell back on its own/);
      assert.deepEqual((await olga('GET', '/api/recovery/pending')).body, []);
      await report(killInput({ jobId: job, mode: 'ask', ask: { ...ask2, decision: 'timed-out', decidedBy: 'timeout', decidedAt: '2026-11-23T08:03:00.000Z' } }));
      const closed = await olga('POST', `/api/recovery/events/${id2}/approve`);
      assert.equal(closed.status, 409);
      assert.match(closed.body.error!.message, /already decided: timed-out by timeout/);
      assert.equal((await olga('POST', '/api/recovery/events/999999/approve')).status, 404);
      // The first link now answers 409: its event was decided.
      const stale = await app.inject({ method: 'POST', url: link, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'verdict=deny' });
      assert.equal(stale.statusCode, 409);
      assert.match(stale.body, new RegExp(`recovery event ${id} was already decided: approved by olga`));

      // A third pending event decided through oscar's e-mail link: audited with the address; the link is one-use.
      const key3 = '8f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
      const id3 = (await report(killInput({ jobId: job, mode: 'ask', outcome: 'pending', timings: null, ask: { ...ask, key: key3, deadline: '2026-11-23T09:00:00.000Z' } }))).body.id!;
      const mail3 = await smtp.waitFor((m) => m.rcptTo.includes(opMail) && m.text.includes(`keisan recovery approve ${id3}`));
      const link3 = /(\/recovery\/decide\/[A-Za-z0-9_-]{43})\b/.exec(mail3.text)![1]!;
      const denied = await app.inject({ method: 'POST', url: link3, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'verdict=deny' });
      assert.equal(denied.statusCode, 200, denied.body);
      assert.match(denied.body, new RegExp(`Denied: node1 will thaw job ${job}`));
      assert.match(denied.body, /Recorded as operator oscar via e-mail link/);
      const again3 = await app.inject({ method: 'POST', url: link3, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'verdict=approve' });
      assert.equal(again3.statusCode, 409);
      assert.match(again3.body, /this decision link was used at/);
      const polled = await app.inject({ method: 'GET', url: `/api/recovery/decisions?host=node1&keys=${key3}`, headers: { authorization: 'Node node-secret' } });
      assert.deepEqual((polled.json() as { decision: string; by: string }[]).map((d) => [d.decision, d.by]), [['denied', 'operator oscar via e-mail link']]);
      const viaLink = (await app.keisan.accounts.audit(SYSTEM_ACTOR, { action: 'recovery.deny' })).filter((a) => a.detail.event === id3);
      assert.deepEqual(viaLink.map((a) => [a.actor, a.outcome, a.detail.via, a.detail.address]), [['oscar', 'ok', 'e-mail link', opMail]]);
    });

    it('ask mode: the webhooks of recovery.notify get the pending event with the commands and a link (generic JSON and Slack-compatible)', async () => {
      const got: Array<{ url: string; body: Record<string, unknown> }> = [];
      const hooks = http.createServer((req, res) => {
        let text = '';
        req.on('data', (c: Buffer) => (text += c.toString()));
        req.on('end', () => {
          got.push({ url: req.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
          res.writeHead(200).end('ok');
        });
      });
      await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
      const port = (hooks.address() as AddressInfo).port;
      const settings = parseSettings(
        { facility: { name: 'Testlab' }, server: { url: 'https://keisan.example.org' }, accounts: { passwordHash: { cost: 1024 } }, recovery: { notify: { webhooks: [{ url: `http://127.0.0.1:${port}/json` }, { url: `http://127.0.0.1:${port}/slack`, format: 'slack' }] } } },
        'test',
      );
      const db2 = await database.open();
      const app2 = await buildApp({ settings, db: db2, nodeSecret: 'node-secret', clock });
      try {
        const ask = { key: '9f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f', deadline: '2026-11-23T08:05:00.000Z', proposed: 'kill' as const, decision: null, decidedBy: null, decidedAt: null, reason: null };
        const r = await app2.inject({ method: 'POST', url: '/api/recovery/events', headers: { authorization: 'Node node-secret' }, payload: killInput({ mode: 'ask', outcome: 'pending', timings: null, ask }) });
        assert.equal(r.statusCode, 200, r.body);
        const id = (r.json() as { id: number }).id;
        assert.deepEqual(got.map((g) => g.url).sort(), ['/json', '/slack']);
        const json = got.find((g) => g.url === '/json')!.body;
        assert.equal(json.kind, 'recovery.pending');
        assert.equal(json.approve, `keisan recovery approve ${id}`);
        assert.equal(json.deny, `keisan recovery deny ${id}`);
        assert.match(String(json.link), /^https:\/\/keisan\.example\.org\/recovery\/decide\/[A-Za-z0-9_-]{43}$/);
        const slack = got.find((g) => g.url === '/slack')!.body as { text: string; blocks: Array<{ text: { text: string } }> };
        assert.match(slack.text, /job 42 of alice on node1 is frozen/);
        assert.match(slack.blocks[0]!.text.text, new RegExp(`keisan recovery deny ${id}`));
        assert.match(slack.blocks[0]!.text.text, /https:\/\/keisan\.example\.org\/recovery\/decide\//);
        assert.notEqual(/decide\/(\S+)/.exec(slack.blocks[0]!.text.text)![1], String(json.link).split('/').pop(), 'one link per recipient');
      } finally {
        await app2.close();
        await db2.dispose();
        hooks.closeAllConnections();
        await new Promise<void>((resolve) => hooks.close(() => resolve()));
      }
    });
  });
});

