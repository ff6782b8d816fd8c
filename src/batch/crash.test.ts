import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { initTestDataDir } from '../server/testing.ts';
import { CgroupTree, detectCgroupLayout } from './executors/local/cgroups.ts';
import type { Job } from './store.ts';

/**
 * Jobs survive a crash of the server: `kill -9` it while jobs run, start it again, and every
 * job is found — still running or ended meanwhile with its real exit code — and none runs twice.
 */
const BIN = fileURLToPath(new URL('../../bin/keisan.js', import.meta.url));
const JOBS = 24;

describe('batch: a kill -9 of the server loses no job', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-crash-test-'));
  chmodSync(scratch, 0o777);
  const data = path.join(scratch, 'data');
  const work = path.join(scratch, 'work');
  const children: ChildProcess[] = [];
  const cgroupParent = `keisan-test-${randomBytes(4).toString('hex')}`;
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    // The server made the jobs' parent cgroup (when it could): leave nothing behind.
    if (process.getuid?.() === 0 && detectCgroupLayout().kind !== 'none') {
      CgroupTree.open({ root: cgroupParent, parentMemBytes: null, parentPidsMax: null }).destroy();
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  async function startServer(): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, [BIN, 'server', '--data', data, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let log = '';
    child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const line = log.split('\n').find((l) => l.includes('keisan server listening'));
      if (line) return { child, url: (JSON.parse(line) as { url: string }).url };
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`keisan server did not start:\n${log}`);
  }

  it('finds running jobs again and accounts those that ended while it was down', async () => {
    initTestDataDir(data, { batch: { cgroupParent } });
    mkdirSync(work, { mode: 0o777 });
    chmodSync(work, 0o777);
    let server = await startServer();
    const password = readFileSync(path.join(data, 'operator-password'), 'utf8').trim().split('\n')[1]!;
    const login = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password }) });
    const { ticket } = (await login.json()) as { ticket: string };
    const api = async <T>(url: string, method = 'GET', body?: unknown): Promise<T> => {
      const response = await fetch(`${server.url}${url}`, {
        method,
        headers: { authorization: `Bearer ${ticket}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      assert.ok(response.ok, `${method} ${url}: ${response.status} ${await response.clone().text()}`);
      return (await response.json()) as T;
    };

    // Each job appends one line to a ledger (so a second run would show), sleeps, exits with its own code.
    const ledger = path.join(work, 'ledger');
    writeFileSync(ledger, '');
    chmodSync(ledger, 0o666);
    const ids: number[] = [];
    for (let i = 0; i < JOBS; i++) {
      const script = `#!/bin/sh\n#SBATCH -t 5 --mem=32M\necho "$SLURM_JOB_ID" >> ${ledger}\nsleep ${(i % 4) * 0.5 + 0.5}\nexit ${i % 5}\n`;
      const result = await api<{ jobs: number[] }>('/api/jobs', 'POST', { script, args: [], submitDir: work, options: { queue: 'short', cpus: '1' } });
      ids.push(result.jobs[0]!);
    }
    // Wait until some run, then kill the server without warning.
    const deadline = Date.now() + 20_000;
    while ((await api<Job[]>('/api/jobs?state=running')).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const runningAtCrash = (await api<Job[]>('/api/jobs?state=running')).map((j) => j.id);
    assert.ok(runningAtCrash.length > 0, 'some jobs were running when the server died');
    server.child.kill('SIGKILL');
    await new Promise((resolve) => server.child.once('exit', resolve));
    // Jobs go on without it.
    await new Promise((resolve) => setTimeout(resolve, 2500));

    server = await startServer();
    const endBy = Date.now() + 60_000;
    let jobs: Job[] = [];
    for (;;) {
      jobs = await api<Job[]>('/api/jobs?limit=1000');
      if (jobs.every((j) => ['completed', 'failed'].includes(j.state))) break;
      if (Date.now() > endBy) throw new Error(`not all jobs ended: ${jobs.map((j) => `${j.id}:${j.state}`).join(' ')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    for (const [i, id] of ids.entries()) {
      const job = jobs.find((j) => j.id === id)!;
      assert.equal(job.exitCode, i % 5, `job ${id} keeps its real exit code`);
      assert.equal(job.state, i % 5 === 0 ? 'completed' : 'failed');
    }
    const lines = readFileSync(ledger, 'utf8').trim().split('\n').map(Number).sort((a, b) => a - b);
    assert.deepEqual(lines, [...ids].sort((a, b) => a - b), 'every job ran exactly once');
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
  });
});
