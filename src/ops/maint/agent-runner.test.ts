import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import { openDatabase, type Db } from '../../db/connection.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import { MaintenanceRunner } from './agent-runner.ts';
import type { PlanInput } from './model.ts';

/**
 * The agent's maintenance runner against a real server over HTTP on loopback: it takes the steps
 * queued for its host, runs them for real with sh -c (a harmless echo, a command past its
 * timeout, one with a flood of output), and the server's verdict follows from what it posts.
 */
describe('the maintenance runner against a real server', () => {
  let db: Db;
  let app: KeisanApp;
  let url = '';
  const quiet = pino({ level: 'silent' });
  const actor = { ...SYSTEM_ACTOR, name: 'olga' };
  const approver = { ...SYSTEM_ACTOR, name: 'vera' };

  const runner = (host = 'login1') => new MaintenanceRunner({ serverUrl: url, nodeSecret: 'node-secret', host, logger: quiet });

  /** An approved, started plan of one command step on login1; the step is queued for the agent. */
  const queued = async (command: string, expect: Record<string, unknown> = {}) => {
    const now = Date.now();
    const input: PlanInput = {
      title: `run ${command.slice(0, 40)}`,
      risk: 'low',
      window: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
      targets: ['login1'],
      runbook: 'login-recovery',
      steps: [{ kind: 'command', host: 'login1', command, expect: { exitCode: 0, ...expect } }],
    };
    const m = app.keisan.maintenance;
    const plan = await m.create(actor, input);
    await m.submit(actor, plan.id);
    await m.approve(approver, plan.id);
    await m.start(actor, plan.id);
    app.keisan.monitor.ingest({ host: 'login1', at: new Date().toISOString(), samples: [], checks: [] }, Date.now());
    await m.execute(actor, plan.id, 1, { confirmHost: 'login1' });
    return plan.id;
  };

  before(async () => {
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    const settings = parseSettings(
      {
        accounts: { passwordHash: { cost: 1024 } },
        inventory: { hosts: [{ name: 'login1' }], services: [{ name: 'login', hosts: ['login1'] }] },
        maintenance: { commandTimeout: 0.5, outputLimitBytes: 1024 },
      },
      'test',
    );
    app = await buildApp({ settings, db, nodeSecret: 'node-secret' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    assert.ok(address && typeof address === 'object');
    url = `http://127.0.0.1:${address.port}`;
    await app.keisan.runbooks.add(actor, { name: 'login-recovery', service: 'login', body: 'reinstall from the image' });
  });

  after(async () => {
    await app?.close();
    await db?.close();
  });

  it('runs a real harmless command and the plan completes with its output', async () => {
    const id = await queued('echo maintenance-ok', { contains: 'maintenance-ok' });
    assert.equal(await runner('mgmt9').pollOnce(), 0, 'another host gets nothing');
    const r = runner('LOGIN1');
    assert.equal(await r.pollOnce(), 1);
    const plan = await app.keisan.maintenance.get(actor, id);
    assert.equal(plan.state, 'completed');
    assert.equal(plan.runs[0]!.output, 'maintenance-ok\n');
    assert.equal(plan.runs[0]!.exitCode, 0);
    assert.equal(await r.pollOnce(), 0, 'nothing left');
  });

  it('a command whose output lacks the expected text halts the plan; stderr is captured', async () => {
    const id = await queued('echo partial; echo "disk not found" >&2; exit 0', { contains: 'maintenance-ok' });
    assert.equal(await runner().pollOnce(), 1);
    const plan = await app.keisan.maintenance.get(actor, id);
    assert.equal(plan.state, 'halted');
    assert.equal(plan.runs[0]!.output, 'partial\n[stderr]\ndisk not found\n');
    assert.match(plan.haltReason ?? '', /does not contain "maintenance-ok"/);
  });

  it('a command past the agent timeout is killed and halts the plan', async () => {
    const id = await queued('sleep 5; echo late');
    const started = Date.now();
    assert.equal(await runner().pollOnce(), 1);
    assert.ok(Date.now() - started < 4_000, 'killed at the timeout, not after the sleep');
    const plan = await app.keisan.maintenance.get(actor, id);
    assert.equal(plan.state, 'halted');
    assert.equal(plan.runs[0]!.timedOut, true);
    assert.match(plan.runs[0]!.verdict ?? '', /did not finish in time/);
  });

  it('output is bounded by maintenance.outputLimitBytes', async () => {
    const id = await queued("head -c 200000 /dev/zero | tr '\\0' x");
    assert.equal(await runner().pollOnce(), 1);
    const plan = await app.keisan.maintenance.get(actor, id);
    assert.equal(plan.state, 'completed');
    assert.ok(plan.runs[0]!.output.length < 1200, `kept ${plan.runs[0]!.output.length} characters`);
    assert.match(plan.runs[0]!.output, /\[output cut at 1024 bytes\]$/);
  });

  it('a wrong node secret gets no work and the runner keeps the reason', async () => {
    const bad = new MaintenanceRunner({ serverUrl: url, nodeSecret: 'wrong', host: 'login1', logger: quiet });
    assert.equal(await bad.pollOnce(), 0);
    assert.match(bad.lastError ?? '', /HTTP 401/);
  });
});
