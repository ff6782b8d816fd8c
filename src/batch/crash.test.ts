import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initTestDataDir } from '../server/testing.ts';
import { CgroupTree, detectCgroupLayout } from './executors/local/cgroups.ts';
import type { Job } from './store.ts';
import { freePort } from '../lib/net.ts';

/**
 * Jobs survive a crash of the daemons: under `keisan up`, `kill -9` the server and the agent
 * while 200 jobs run; the supervisor starts them again, and every job is found — still running
 * or ended meanwhile with its real exit code — and none runs twice.
 */
const BIN = fileURLToPath(new URL('../../bin/keisan.js', import.meta.url));
const JOBS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


describe('batch: a kill -9 of the server and the agent loses no job', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-crash-test-'));
  chmodSync(scratch, 0o777);
  const data = path.join(scratch, 'data');
  const work = path.join(scratch, 'work');
  let up: ChildProcess | null = null;
  const cgroupParent = `keisan-test-${randomBytes(4).toString('hex')}`;
  after(() => {
    if (up && up.exitCode === null) up.kill('SIGKILL');
    // The server made the jobs' parent cgroup (when it could): leave nothing behind.
    if (process.getuid?.() === 0 && detectCgroupLayout().kind !== 'none') {
      CgroupTree.open({ root: cgroupParent, parentMemBytes: null, parentPidsMax: null }).destroy();
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  it(`finds ${JOBS} running jobs again and accounts those that ended while the daemons were down`, { timeout: 240_000 }, async () => {
    // Enough CPUs handed out that all jobs (which only sleep) run at once, as on a big node.
    initTestDataDir(data, { batch: { cgroupParent, cpus: 256 } });
    mkdirSync(work, { mode: 0o777 });
    chmodSync(work, 0o777);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    up = spawn(process.execPath, [BIN, 'up', '--data', data, '--port', String(port), '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    up.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    up.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const pidsOf = (name: string): number[] => [...log.matchAll(new RegExp(`${name} started \\(pid (\\d+)\\)`, 'g'))].map((m) => Number(m[1]));
    const waitUntil = async (what: string, check: () => Promise<boolean> | boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!(await check())) {
        if (Date.now() > deadline || up!.exitCode !== null) throw new Error(`${what}: not within ${ms} ms\n${log}`);
        await sleep(100);
      }
    };
    const healthy = async () => {
      try {
        return (await fetch(`${url}/api/health`)).ok;
      } catch {
        return false;
      }
    };
    await waitUntil('keisan up to serve', async () => pidsOf('agent').length > 0 && (await healthy()), 60_000);

    const password = readFileSync(path.join(data, 'operator-password'), 'utf8').trim().split('\n')[1]!;
    const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password }) });
    const { ticket } = (await login.json()) as { ticket: string };
    const api = async <T>(route: string, method = 'GET', body?: unknown): Promise<T> => {
      const response = await fetch(`${url}${route}`, {
        method,
        headers: { authorization: `Bearer ${ticket}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      assert.ok(response.ok, `${method} ${route}: ${response.status} ${await response.clone().text()}`);
      return (await response.json()) as T;
    };

    // Each job appends one line to a ledger (so a second run would show), waits for the signal
    // file `go`, then exits with its own code: at once (half of them) or 8 s later (the others).
    const go = path.join(work, 'go');
    const ledger = path.join(work, 'ledger');
    writeFileSync(ledger, '');
    chmodSync(ledger, 0o666);
    const ids: number[] = [];
    for (let i = 0; i < JOBS; i++) {
      const script = `#!/bin/sh\n#SBATCH -t 5 --mem=16M\necho "$SLURM_JOB_ID" >> ${ledger}\nwhile [ ! -e ${go} ]; do sleep 1; done\n${i % 2 ? 'sleep 8\n' : ''}exit ${i % 5}\n`;
      const result = await api<{ jobs: number[] }>('/api/jobs', 'POST', { script, args: [], submitDir: work, options: { queue: 'short', cpus: '1' } });
      ids.push(result.jobs[0]!);
    }
    const running = async () => (await api<Job[]>('/api/jobs?state=running&limit=1000')).length;
    await waitUntil(`all ${JOBS} jobs running`, async () => (await running()) === JOBS, 60_000);

    // No warning: the server and the agent die while every job runs.
    const [server] = pidsOf('server');
    const [agent] = pidsOf('agent');
    process.kill(server!, 'SIGKILL');
    process.kill(agent!, 'SIGKILL');
    writeFileSync(go, '');
    // The supervisor brings both back (after 1 s at least); jobs go on without them meanwhile.
    await waitUntil('a new server and agent', async () => pidsOf('server').length === 2 && pidsOf('agent').length === 2 && (await healthy()), 60_000);
    const backAt = Date.now();

    let jobs: Job[] = [];
    await waitUntil(
      'every job to end',
      async () => {
        jobs = await api<Job[]>('/api/jobs?limit=1000');
        return jobs.length === JOBS && jobs.every((j) => ['completed', 'failed'].includes(j.state));
      },
      120_000,
    );
    for (const [i, id] of ids.entries()) {
      const job = jobs.find((j) => j.id === id)!;
      assert.equal(job.exitCode, i % 5, `job ${id} keeps its real exit code`);
      assert.equal(job.state, i % 5 === 0 ? 'completed' : 'failed');
      assert.ok(job.cpuSeconds !== null && job.endedAt !== null, `job ${id} is accounted`);
      const endedWhileDown = Date.parse(job.endedAt) < backAt;
      assert.equal(endedWhileDown, i % 2 === 0, `job ${id} ended ${endedWhileDown ? 'while the server was down' : 'after the restart'}`);
    }
    const lines = readFileSync(ledger, 'utf8').trim().split('\n').map(Number).sort((a, b) => a - b);
    assert.deepEqual(lines, [...ids].sort((a, b) => a - b), 'every job ran exactly once');

    up.kill('SIGTERM');
    await new Promise((resolve) => up!.once('exit', resolve));
  });
});
