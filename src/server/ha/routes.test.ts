import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Db } from '../../db/connection.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../app.ts';
import { responseError, responseJson, seedLab } from '../testing.ts';
import type { HaRuntime } from './routes.ts';
import type { HaStatus } from './store.ts';

/** The HA parts of the full app with a stand-in runner: health, the operators' status, the fence. */
describe('HA routes and the fence', () => {
  let db: Db;
  let app: KeisanApp;
  let acting = true;
  const tickets: Record<string, string> = {};
  const status: HaStatus = { self: 'http://a:8470', active: 'http://a:8470', epoch: 3, pollEveryMs: 500, servers: [] };
  const runtime: HaRuntime = {
    acting: () => acting,
    confirm: async () => acting,
    view: () => ({ facility: 'Keisan', self: 'http://a:8470', active: acting ? 'http://a:8470' : 'http://b:8470', servers: ['http://a:8470', 'http://b:8470'] }),
    status: async () => status,
  };

  before(async () => {
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    app = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: 'secret', ha: runtime });
    await seedLab(app.keisan.accounts);
    for (const who of ['olga', 'alice']) {
      tickets[who] = responseJson<{ ticket: string }>(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: who, password: `${who} password` } }), 200).ticket;
    }
  });
  after(async () => {
    await app?.close();
    await db?.close();
  });

  it('says in /api/health that this server is the active one of the set', async () => {
    const health = responseJson<{ status: string; ha: unknown }>(await app.inject({ method: 'GET', url: '/api/health' }), 200);
    assert.deepEqual(health.ha, { role: 'active', self: 'http://a:8470', active: 'http://a:8470', servers: ['http://a:8470', 'http://b:8470'] });
  });

  it('shows the HA status to operators only', async () => {
    assert.deepEqual(responseJson(await app.inject({ method: 'GET', url: '/api/admin/ha', headers: { authorization: `Bearer ${tickets.olga}` } }), 200), status);
    responseError(await app.inject({ method: 'GET', url: '/api/admin/ha', headers: { authorization: `Bearer ${tickets.alice}` } }), 403, /only an operator may read the HA status/);
  });

  it('once fenced answers every API request with 503 STANDBY and the new active server, health still answers', async () => {
    acting = false;
    try {
      const refused = await app.inject({ method: 'GET', url: '/api/jobs', headers: { authorization: `Bearer ${tickets.olga}` } });
      responseError(refused, 503, /is a standby server; the active one is http:\/\/b:8470/);
      assert.equal(refused.headers['x-keisan-role'], 'standby');
      assert.equal(refused.headers['x-keisan-active'], 'http://b:8470');
      assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'STANDBY');
      const health = responseJson<{ ha: { role: string } }>(await app.inject({ method: 'GET', url: '/api/health' }), 200);
      assert.equal(health.ha.role, 'standby');
    } finally {
      acting = true;
    }
  });

  it('without ha: the status route says the server runs alone', async () => {
    const alone = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: 'secret' });
    try {
      responseError(await alone.inject({ method: 'GET', url: '/api/admin/ha', headers: { authorization: `Bearer ${tickets.olga}` } }), 404, /runs alone \(no ha: in keisan\.yaml\)/);
      const health = responseJson<Record<string, unknown>>(await alone.inject({ method: 'GET', url: '/api/health' }), 200);
      assert.equal('ha' in health, false);
    } finally {
      await alone.close();
    }
  });
});
