import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, it } from 'node:test';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { parseSettings } from '../../lib/config.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import { DirArchive, ZERO_TIMING } from '../tiers/archive-dir/index.ts';

/** The HSM through its HTTP API: operators' commands, classes and families, users' stage requests, quota refusals. */
const MIB = 1024 * 1024;

describeEachDatabase('HSM API', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let dir: string;
  const tickets: Record<string, string> = {};

  beforeEach(async () => {
    db = await database.open();
    dir = await mkdtemp(path.join(tmpdir(), 'keisan-hsm-api-'));
    const settings = parseSettings(
      {
        accounts: { passwordHash: { cost: 1024 } },
        storage: { disk: { capacity: '64M', fsync: false }, classes: [{ name: 'default', migrationDelay: 0, purgeHigh: 90, purgeLow: 50 }] },
      },
      'test',
    );
    const archive = new DirArchive({ path: path.join(dir, 'archive'), volumeCapacity: 32 * MIB, drives: 1, timing: ZERO_TIMING });
    app = await buildApp({ settings, db, nodeSecret: 'secret', dataDir: dir, archive });
    const { accounts } = app.keisan;
    await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'phys' });
    await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'phys', name: 'ana' });
    await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'phys', name: 'cms' });
    await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'ana', password: 'alice password' });
    await accounts.createUser(SYSTEM_ACTOR, { name: 'carol', primarySubgroup: 'cms', password: 'carol password' });
    await accounts.createUser(SYSTEM_ACTOR, { name: 'oper', primarySubgroup: 'ana', password: 'oper password', operator: true });
    await accounts.setSubgroupAdmin(SYSTEM_ACTOR, 'ana', 'alice', true);
    for (const name of ['alice', 'carol', 'oper']) {
      const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: name, password: `${name} password` } });
      tickets[name] = (login.json() as { ticket: string }).ticket;
    }
  });
  afterEach(async () => {
    await app.close();
    await db.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const api = async (who: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${tickets[who]}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> & { error?: { code: string; message: string } }, raw: response };
  };
  const put = async (who: string, p: string, bytes: Buffer) => {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const created = await api(who, 'POST', '/api/fs/uploads', { path: p, size: bytes.length, sha256 });
    if (created.status !== 201) return created;
    const id = created.body.id as string;
    await app.inject({ method: 'PUT', url: `/api/fs/uploads/${id}?offset=0`, headers: { authorization: `Bearer ${tickets[who]}`, 'content-type': 'application/octet-stream' }, payload: bytes });
    return api(who, 'POST', `/api/fs/uploads/${id}/commit`, {});
  };

  it('operators migrate and purge; users stage by request and follow it; status shows it all', async () => {
    const bytes = randomBytes(2 * MIB);
    assert.equal((await put('alice', '/phys/ana/a.dat', bytes)).status, 200);
    assert.equal((await api('alice', 'POST', '/api/hsm/migrate', {})).status, 403, 'users may not run HSM operations');
    const migrated = await api('oper', 'POST', '/api/hsm/migrate', {});
    assert.equal(migrated.status, 200, JSON.stringify(migrated.body));
    assert.equal(migrated.body.files, 1);
    const purged = await api('oper', 'POST', '/api/hsm/purge', { to: 0 });
    assert.equal(purged.body.purgedFiles, 1);
    const volumes = await api('oper', 'GET', '/api/hsm/volumes');
    assert.equal((volumes.body as unknown as Array<{ family: string }>)[0]?.family, 'phys.ana');

    const staged = await api('alice', 'POST', '/api/fs/stage', { paths: ['/phys/ana/a.dat'] });
    assert.equal(staged.status, 201, JSON.stringify(staged.body));
    assert.equal(staged.raw.headers.location, `/api/fs/stage/${staged.body.id}`);
    let state = '';
    for (let i = 0; i < 200 && state !== 'COMPLETED'; i++) {
      state = (await api('alice', 'GET', `/api/fs/stage/${staged.body.id}`)).body.state as string;
      if (state !== 'COMPLETED') await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(state, 'COMPLETED');
    const files = (await api('alice', 'GET', `/api/fs/stage/${staged.body.id}`)).body.files as Array<{ state: string; bytesDone: number }>;
    assert.deepEqual(files.map((f) => [f.state, f.bytesDone]), [['ON_DISK', bytes.length]]);
    assert.equal((await api('carol', 'GET', `/api/fs/stage/${staged.body.id}`)).status, 404, 'someone else\'s request');
    assert.equal((await api('carol', 'POST', '/api/fs/stage', { paths: ['/phys/ana/a.dat'] })).status, 400, 'a file carol may not read');

    const status = await api('oper', 'GET', '/api/hsm/status');
    assert.equal(status.status, 200);
    assert.equal((status.body.files as { migratedOnDisk: { files: number } }).migratedOnDisk.files, 1);
    assert.equal((await api('oper', 'GET', '/api/hsm/drives')).status, 200);
  });

  it('classes and families over the API; a family quota refuses writes with a message naming whom to ask', async () => {
    assert.equal((await api('alice', 'POST', '/api/hsm/classes', { name: 'fast' })).status, 403);
    const added = await api('oper', 'POST', '/api/hsm/classes', { name: 'fast', migrationDelay: '5m', copies: 2, purgeHigh: '95%', purgeLow: '80%', workgroups: ['phys'] });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.deepEqual(added.body, { name: 'fast', migrationDelaySeconds: 300, copies: 2, purgeHighPct: 95, purgeLowPct: 80, staging: 'async', workgroups: ['phys'], aggregateBelowBytes: 64 * 1024 * 1024, containerSizeBytes: 1024 * 1024 * 1024 });
    const bad = await api('oper', 'PATCH', '/api/hsm/classes/fast', { purgeLow: 99 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error!.message, /purgeLow \(99%\) must be below purgeHigh \(95%\)/);
    assert.equal((await api('oper', 'DELETE', '/api/hsm/classes/fast')).status, 200);

    const fam = await api('oper', 'PATCH', '/api/hsm/families/phys.ana', { quotaLimit: '1M' });
    assert.equal(fam.status, 200, JSON.stringify(fam.body));
    assert.equal(fam.body.quotaLimitBytes, MIB);
    await put('alice', '/phys/ana/big', randomBytes(MIB + 10));
    await api('oper', 'POST', '/api/hsm/migrate', {});
    const families = (await api('alice', 'GET', '/api/hsm/families')).body as unknown as Array<{ name: string; quotaState: string }>;
    assert.equal(families.find((f) => f.name === 'phys.ana')?.quotaState, 'refuse');
    const refused = await put('alice', '/phys/ana/more', randomBytes(10));
    assert.equal(refused.status, 403);
    assert.match(refused.body.error!.message, /file family 'phys\.ana' \(\/phys\/ana\) has 1\.0 MiB in the archive, at or over its limit of 1\.0 MiB: new writes into \/phys\/ana are refused.*ask the admins of subgroup ana \(alice\)/);
    // another family is not affected
    const other = await put('carol', '/phys/cms/ok', randomBytes(10));
    assert.equal(other.status, 200, JSON.stringify(other.body));
  });
});
