import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import { expectCode, runKeisan } from '../cli/testing.ts';
import { openDatabase, type Db } from '../db/connection.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { parseSettings } from '../lib/config.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { killInput } from './events-testing.ts';
import { EventReporter } from './reporter.ts';
import type { RecoveryEvent } from './events-model.ts';
import { seedOperator } from '../server/testing.ts';

/** `keisan recovery events` and `keisan recovery event ID`: the real CLI against a listening server. */
describe('keisan recovery events', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-recovery-cli-'));
  const olga = path.join(scratch, 'olga');
  const bob = path.join(scratch, 'bob');
  let db: Db;
  let app: KeisanApp;
  const ids: number[] = [];
  /** Where each report's id is in ids. */
  const LOGIN = 2;
  const SLURM = 1;

  before(async () => {
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: 'secret' });
    const { accounts } = app.keisan;
    await seedOperator(accounts);
    await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'staff', password: 'alice password' });
    await accounts.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'staff', password: 'bob password' });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    expectCode(await runKeisan(olga, ['login', 'olga', '--password-stdin', '--server', url], 'olga password\n'), 0);
    expectCode(await runKeisan(bob, ['login', 'bob', '--password-stdin', '--server', url], 'bob password\n'), 0);
    const now = Date.now();
    const reports = [
      killInput({ at: new Date(now - 3 * 3600_000).toISOString() }),
      // A SLURM node's report about a job Keisan did not submit (plain sbatch): no Keisan job, SLURM's id.
      killInput({ at: new Date(now - 5 * 3600_000).toISOString(), host: 'node7', jobId: null, slurmJobId: 4711, explanation: 'SLURM job 4711 (alice): memory 63 of 64 MiB', victimExplanation: 'SLURM job 4711 is the only job growing' }),
      killInput({ at: new Date(now - 60_000).toISOString(), host: 'login1', jobId: null, pid: 4242, user: 'bob', rule: 'login-cpu-hog', severity: 'stop', action: 'stop', explanation: 'bob: pid 4242 (python) 1.00 CPU for 31 min on a login host', timings: { decisionToWriteMs: 0.2, writeMs: 0.05, writeToEmptyMs: null }, evidencePath: null }),
    ];
    for (const payload of reports) {
      const response = await app.inject({ method: 'POST', url: '/api/recovery/events', headers: { authorization: 'Node secret' }, payload });
      assert.equal(response.statusCode, 200, response.body);
      ids.push((response.json() as { id: number }).id);
    }
  });
  after(async () => {
    await app?.close();
    await db?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('lists events as a table for operators, newest first, with --since and --host; --json for scripts', async () => {
    const lines = expectCode(await runKeisan(olga, ['recovery', 'events']), 0).stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^ID +TIME +HOST +RULE +JOB\/PID +USER +ACTION +OUTCOME +EXPLANATION *$/);
    assert.match(lines[1] ?? '', new RegExp(`^${ids[LOGIN]} +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +login1 +login-cpu-hog +pid 4242 +bob +stop +done +bob: pid 4242 \\(python\\) 1\\.00 CPU for 31 min on a login host *$`));
    assert.match(lines[2] ?? '', new RegExp(`^${ids[0]} .* node1 +memory-limit +job 42 +alice +kill +done +job 42 \\(alice\\): memory 1\\.98 of 2\\.00 GiB`));
    const recent = expectCode(await runKeisan(olga, ['recovery', 'events', '--since', '1h']), 0).stdout;
    assert.doesNotMatch(recent, /memory-limit/);
    assert.match(recent, /login-cpu-hog/);
    assert.match(expectCode(await runKeisan(olga, ['recovery', 'events', '--host', 'node9']), 0).stdout, /\(no recovery events since 1d\)/);
    const json = JSON.parse(expectCode(await runKeisan(olga, ['recovery', 'events', '--job', '42', '--json']), 0).stdout) as RecoveryEvent[];
    assert.deepEqual(json.map((e) => [e.id, e.jobId, e.user]), [[ids[0], 42, 'alice']]);
  });

  it("names a SLURM node's job by SLURM's id: 'SLURM job 4711' in the table and a SLURM job line in the event", async () => {
    const table = expectCode(await runKeisan(olga, ['recovery', 'events', '--since', '1d']), 0).stdout;
    assert.match(table, new RegExp(`^${ids[SLURM]} .* node7 +memory-limit +SLURM job 4711 +alice +kill +done +SLURM job 4711 \\(alice\\)`, 'm'));
    const shown = expectCode(await runKeisan(olga, ['recovery', 'event', String(ids[SLURM])]), 0).stdout;
    assert.match(shown, /^SLURM job +4711$/m);
    const json = JSON.parse(expectCode(await runKeisan(olga, ['recovery', 'event', String(ids[SLURM]), '--json']), 0).stdout) as RecoveryEvent;
    assert.deepEqual([json.jobId, json.slurmJobId], [null, 4711]);
  });

  it('shows one event with its timings and evidence path; a user sees only their own', async () => {
    const shown = expectCode(await runKeisan(olga, ['recovery', 'event', String(ids[0])]), 0).stdout;
    assert.match(shown, /^action +kill$/m);
    assert.match(shown, /^victim +job 42 exceeds its own request of 1\.00 GiB$/m);
    assert.match(shown, /^decision→write +0\.40 ms$/m);
    assert.match(shown, /^write→empty +39 ms$/m);
    assert.match(shown, /^evidence +\/var\/lib\/keisan\/recovery\/evidence\/2026-11-23T08-00-00Z-job-42\.json \(on node1\)$/m);
    assert.match(shown, /^growthBytesPerS +188743680 *$/m);
    const json = JSON.parse(expectCode(await runKeisan(olga, ['recovery', 'event', String(ids[LOGIN]), '--json']), 0).stdout) as RecoveryEvent;
    assert.deepEqual(json.timings, { decisionToWriteMs: 0.2, writeMs: 0.05, writeToEmptyMs: null });

    const mine = expectCode(await runKeisan(bob, ['recovery', 'events']), 0).stdout;
    assert.match(mine, /login-cpu-hog/);
    assert.doesNotMatch(mine, /memory-limit/, "bob does not see alice's job");
    const hidden = expectCode(await runKeisan(bob, ['recovery', 'event', String(ids[0])]), 1);
    assert.match(hidden.stderr, /recovery event '\d+' does not exist/);
    assert.match(expectCode(await runKeisan(bob, ['recovery', 'event', 'latest']), 2).stderr, /'latest' is not a recovery event id: see keisan recovery events/);
    assert.match(expectCode(await runKeisan(bob, ['recovery', 'events', '--since', 'soon']), 2).stderr, /since: 'soon' is not a duration/);
  });
});

/** `keisan recovery pending|approve|deny`: the real CLI against a listening server. */
describe('keisan recovery pending, approve, deny', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-recovery-ask-cli-'));
  const olga = path.join(scratch, 'olga');
  const bob = path.join(scratch, 'bob');
  let db: Db;
  let app: KeisanApp;
  let url = '';
  const ids: number[] = [];

  before(async () => {
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: 'secret' });
    const { accounts } = app.keisan;
    await seedOperator(accounts);
    await accounts.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'staff', password: 'bob password' });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    expectCode(await runKeisan(olga, ['login', 'olga', '--password-stdin', '--server', url], 'olga password\n'), 0);
    expectCode(await runKeisan(bob, ['login', 'bob', '--password-stdin', '--server', url], 'bob password\n'), 0);
    const now = Date.now();
    for (const [i, key] of ['1a1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f', '2a1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f'].entries()) {
      const payload = killInput({ at: new Date(now - 90_000).toISOString(), jobId: 42 + i, mode: 'ask', outcome: 'pending', timings: null, ask: { key, deadline: new Date(now + 5 * 60_000).toISOString(), proposed: 'kill', decision: null, decidedBy: null, decidedAt: null, reason: null } });
      const response = await app.inject({ method: 'POST', url: '/api/recovery/events', headers: { authorization: 'Node secret' }, payload });
      assert.equal(response.statusCode, 200, response.body);
      ids.push((response.json() as { id: number }).id);
    }
  });
  after(async () => {
    await app?.close();
    await db?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('lists what waits, approves and denies once; users are refused; --json for scripts', async () => {
    const lines = expectCode(await runKeisan(olga, ['recovery', 'pending']), 0).stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^ID +HOST +JOB\/PID +USER +RULE +FROZEN FOR +DEADLINE +PROPOSED *$/);
    assert.match(lines[1] ?? '', new RegExp(`^${ids[0]} +node1 +job 42 +alice +memory-limit +9\\d s +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +kill *$`));
    assert.equal(lines.length, 3);
    assert.match(expectCode(await runKeisan(bob, ['recovery', 'pending']), 1).stderr, /only an operator may see the recovery decisions/);
    assert.match(expectCode(await runKeisan(bob, ['recovery', 'approve', String(ids[0])]), 1).stderr, /only an operator may approve/);

    assert.match(expectCode(await runKeisan(olga, ['recovery', 'approve', String(ids[0])]), 0).stdout, /^approved: node1 will kill job 42 at its next poll/);
    assert.match(expectCode(await runKeisan(olga, ['recovery', 'deny', String(ids[0])]), 1).stderr, new RegExp(`recovery event ${ids[0]} was already decided: approved by olga`));
    assert.match(expectCode(await runKeisan(olga, ['recovery', 'deny', String(ids[1]), '--reason', 'expected peak']), 0).stdout, /^denied: node1 will thaw job 43 and leave it alone/);
    assert.deepEqual(JSON.parse(expectCode(await runKeisan(olga, ['recovery', 'pending', '--json']), 0).stdout), []);
    assert.match(expectCode(await runKeisan(olga, ['recovery', 'pending']), 0).stdout, /\(nothing waits for a decision\)/);
    // What the node's reporter reads back (GET /api/recovery/decisions with the node secret).
    const reporter = new EventReporter({ serverUrl: url, nodeSecret: 'secret' });
    const seen = await reporter.decisions('node1', ['1a1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f', '2a1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f']);
    assert.deepEqual(seen.map((d) => [d.decision, d.by, d.reason]).sort(), [['approved', 'olga', null], ['denied', 'olga', 'expected peak']]);
    assert.deepEqual(await reporter.decisions('node2', ['1a1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f']), [], 'another host sees nothing');
    await assert.rejects(new EventReporter({ serverUrl: url, nodeSecret: 'wrong' }).decisions('node1', ['x']), /answered 401/);
    const shown = expectCode(await runKeisan(olga, ['recovery', 'event', String(ids[1])]), 0).stdout;
    assert.match(shown, /^outcome +pending$/m);
    assert.match(shown, /^decision +denied by olga at \d{4}-/m);
    assert.match(shown, /^reason +expected peak$/m);
    assert.match(expectCode(await runKeisan(olga, ['recovery', 'approve', 'x']), 2).stderr, /'x' is not a recovery event id/);
  });
});

