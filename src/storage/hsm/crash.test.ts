import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initTestDataDir } from '../../server/testing.ts';
import { freePort } from '../../lib/net.ts';

/**
 * kill -9 of a real `keisan server` while it migrates, while it stages and while it repacks: after a restart the
 * work resumes and completes, every file reads back with its checksum, and the archive-dir
 * volumes drop what was half-written (never reported as a location).
 */
const BIN = fileURLToPath(new URL('../../../bin/keisan.js', import.meta.url));
const MIB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');


describe('HSM: kill -9 of the server during migration and during staging', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-hsm-crash-'));
  const data = path.join(scratch, 'data');
  let server: ChildProcess | null = null;
  let log = '';
  after(() => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  });

  it('resumes both, loses nothing, trusts no half-written entry', { timeout: 240_000 }, async () => {
    initTestDataDir(data, {
      storage: {
        disk: { capacity: '256M' },
        // Two copies, migrated at once; purge only when asked.
        classes: [{ name: 'default', migrationDelay: 0, copies: 2, purgeHigh: 99, purgeLow: 98 }],
        // 4 MB/s per drive: a 6 MiB file takes ~1.6 s to write or read; a volume holds two of them.
        archive: { kind: 'dir', drives: 2, timeScale: 0, rateMBps: 4, volumeCapacity: '13M' },
      },
    });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const start = () => {
      server = spawn(process.execPath, [BIN, 'server', '--data', data, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KEISAN_LOG_LEVEL: 'info' } });
      server.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
      server.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    };
    const healthy = async () => {
      try {
        return (await fetch(`${url}/api/health`)).ok;
      } catch {
        return false;
      }
    };
    const waitUntil = async (what: string, check: () => Promise<boolean> | boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms\n${log.slice(-4000)}`);
        await sleep(50);
      }
    };
    const kill9 = async () => {
      const s = server!;
      s.kill('SIGKILL');
      if (s.exitCode === null && s.signalCode === null) await new Promise((resolve) => s.once('exit', resolve));
    };

    start();
    await waitUntil('the server to serve', healthy, 60_000);
    const password = readFileSync(path.join(data, 'operator-password'), 'utf8').trim().split('\n')[1]!;
    const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password }) });
    const { ticket } = (await login.json()) as { ticket: string };
    const auth = { authorization: `Bearer ${ticket}` };
    const api = async <T>(route: string, method = 'GET', body?: unknown): Promise<T> => {
      const response = await fetch(`${url}${route}`, { method, headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      assert.ok(response.ok, `${method} ${route}: ${response.status} ${await response.clone().text()}`);
      return (await response.json()) as T;
    };
    const content = async (p: string) => Buffer.from(await (await fetch(`${url}/api/fs/content?path=${encodeURIComponent(p)}`, { headers: auth })).arrayBuffer());
    type Status = { files: { dirty: { files: number }; archiveOnly: { files: number } } };

    // ---------------------------------------------------------------- kill -9 during migration
    const files = new Map<string, Buffer>();
    for (let i = 1; i <= 3; i++) {
      const p = `/central/staff/run${i}.dat`;
      const bytes = randomBytes(6 * MIB + i);
      files.set(p, bytes);
      const upload = await api<{ id: string }>('/api/fs/uploads', 'POST', { path: p, size: bytes.length, sha256: sha256(bytes) });
      const put = await fetch(`${url}/api/fs/uploads/${upload.id}?offset=0`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: bytes });
      assert.ok(put.ok, await put.text());
      await api(`/api/fs/uploads/${upload.id}/commit`, 'POST', {});
    }
    // Migration starts by itself (delay 0); kill the server in the middle of writing.
    await waitUntil('a drive writing', async () => (await api<Array<{ state: string }>>('/api/hsm/drives')).some((d) => d.state === 'writing'), 30_000);
    await sleep(2500);
    const before = await api<Status>('/api/hsm/status');
    assert.ok(before.files.dirty.files > 0, 'the kill comes while files are still being migrated');
    await kill9();

    start();
    await waitUntil('the server back', healthy, 60_000);
    await waitUntil('migration to finish after the restart', async () => (await api<Status>('/api/hsm/status')).files.dirty.files === 0, 90_000);
    const volumes = await api<Array<{ name: string; liveEntries: number; copy: number }>>('/api/hsm/volumes');
    assert.deepEqual([...new Set(volumes.map((v) => v.copy))].sort(), [1, 2], 'both copies written');
    // Each copy of each file reads back with its checksum: purge, then stage from the archive.
    await api('/api/hsm/purge', 'POST', { to: 0 });
    assert.equal((await api<Status>('/api/hsm/status')).files.archiveOnly.files, 3);
    for (const [p, bytes] of files) assert.equal(sha256(await content(p)), sha256(bytes), `${p} after the migration crash`);

    // ---------------------------------------------------------------- kill -9 during staging
    await api('/api/hsm/purge', 'POST', { to: 0 });
    const request = await api<{ id: string }>('/api/fs/stage', 'POST', { paths: [...files.keys()] });
    await waitUntil(
      'a file transferring',
      async () => (await api<{ files: Array<{ state: string }> }>(`/api/fs/stage/${request.id}`)).files.some((f) => f.state === 'TRANSFERRING'),
      30_000,
    );
    await sleep(1000);
    const mid = await api<{ state: string; files: Array<{ state: string }> }>(`/api/fs/stage/${request.id}`);
    assert.notEqual(mid.state, 'COMPLETED', 'the kill comes while files are still being staged');
    await kill9();

    start();
    await waitUntil('the server back', healthy, 60_000);
    let final: { state: string; files: Array<{ path: string; state: string; error: string | null }> } | null = null;
    await waitUntil(
      'the stage request to complete after the restart',
      async () => {
        final = await api(`/api/fs/stage/${request.id}`);
        return final!.state === 'COMPLETED' || final!.state === 'FAILED';
      },
      90_000,
    );
    assert.equal(final!.state, 'COMPLETED', JSON.stringify(final));
    const status = await api<Status>('/api/hsm/status');
    assert.equal(status.files.archiveOnly.files, 0, 'every file is back on disk');
    for (const [p, bytes] of files) assert.equal(sha256(await content(p)), sha256(bytes), `${p} after the staging crash`);
    assert.match(log, /resuming work a restart interrupted/);
    // The request's files stay pinned on disk until it is released.
    assert.equal(((await api<{ purgedFiles: number }>('/api/hsm/purge', 'POST', { to: 0 })).purgedFiles), 0);
    await api(`/api/fs/stage/${request.id}/release`, 'POST', {});

    // ---------------------------------------------------------------- kill -9 during repack
    // run1 goes: its copies leave holes on the first full volume of each copy number.
    const [gone, ...kept] = [...files.keys()];
    const rm = await fetch(`${url}/api/fs/entries?path=${encodeURIComponent(gone!)}`, { method: 'DELETE', headers: auth });
    assert.ok(rm.ok, await rm.text());
    type Volume = { name: string; state: string; holesPct: number; liveEntries: number };
    await api('/api/hsm/migrate', 'POST', {}); // runs the cleanup of obsolete copies now
    await waitUntil('the removed copies to become holes', async () => (await api<Volume[]>('/api/hsm/volumes')).filter((v) => v.holesPct >= 40).length >= 2, 60_000);
    const jobs = await api<Array<{ id: number; volume: string }>>('/api/hsm/repack', 'POST', { holes: 40 });
    assert.ok(jobs.length >= 1, 'a full volume with holes to repack');
    await waitUntil('repack moving a file', async () => (await api<Array<{ state: string }>>('/api/hsm/drives')).some((d) => d.state === 'reading' || d.state === 'writing'), 30_000);
    await sleep(1000);
    await kill9();
    start();
    await waitUntil('the server back', healthy, 60_000);
    await waitUntil(
      'repack to finish after the restart',
      async () => (await api<Array<{ state: string }>>('/api/hsm/repack?all=true')).every((j) => j.state === 'done' || j.state === 'failed'),
      120_000,
    );
    assert.match(log, /"resumedRepacks":[1-9]/, 'the repack was cut short and resumed');
    const repacked = await api<Array<{ volume: string; state: string; error: string | null; filesDone: number; filesTotal: number }>>('/api/hsm/repack?all=true');
    for (const j of repacked) assert.equal(j.state, 'done', JSON.stringify(j));
    const afterRepack = await api<Volume[]>('/api/hsm/volumes');
    for (const j of repacked) assert.equal(afterRepack.find((v) => v.name === j.volume)?.state, 'retired', `${j.volume} retired`);
    assert.equal((await api<{ purgedFiles: number }>('/api/hsm/purge', 'POST', { to: 0 })).purgedFiles, 2, 'read back from the archive, not from disk');
    for (const p of kept) assert.equal(sha256(await content(p)), sha256(files.get(p)!), `${p} after the repack crash`);
    if (process.env.KEISAN_HSM_CRASH_LOG) writeFileSync(process.env.KEISAN_HSM_CRASH_LOG, log);

    server!.kill('SIGTERM');
    await new Promise((resolve) => server!.once('exit', resolve));
  });
});
