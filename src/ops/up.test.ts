import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { processExists } from '../lib/process.ts';
import { OPERATOR_PASSWORD_FILE } from '../server/facility.ts';
import { initTestDataDir } from '../server/testing.ts';
import { freePort } from '../lib/net.ts';

/**
 * `keisan up` as a user runs it: the real executable, supervising real watchdog, server and
 * agent processes. Every process seen is killed in `after`, whatever happened.
 */
const BIN = fileURLToPath(new URL('../../bin/keisan.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function childEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, KEISAN_HOME: home, NO_COLOR: '1' };
  for (const key of ['KEISAN_SERVER', 'KEISAN_TICKET', 'KEISAN_DATA', 'KEISAN_DATABASE_URL', 'KEISAN_PORT', 'KEISAN_NODE_SECRET', 'KEISAN_LOG_LEVEL', 'FORCE_COLOR', 'NODE_TEST_CONTEXT']) {
    delete env[key];
  }
  return env;
}



const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(250);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

/** A `keisan` child process whose output is collected, and every pid it reports remembered. */
class Keisan {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: (() => void)[] = [];

  constructor(args: string[], home: string, readonly pids: Set<number>) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.child.pid) pids.add(this.child.pid);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      for (const match of chunk.matchAll(/\[up\] \w+ started \(pid (\d+)\)/g)) pids.add(Number(match[1]));
      this.wake();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.wake();
    });
    // 'close': the process ended and all its output has been read.
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => {
      resolve({ code, signal });
      this.wake();
    }));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Waits until stdout, from `from` on, matches `pattern`; fails after `timeoutMs` or when the process exits. */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout.slice(from));
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null || this.child.signalCode !== null) {
        assert.fail(`no ${pattern} in keisan's output (exit ${this.child.exitCode ?? this.child.signalCode})\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The exit of the process, failing if it takes longer than `timeoutMs`. */
  async exit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`keisan did not exit within ${timeoutMs} ms\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Kills every process a test started (each daemon runs in a process group of its own). */
function killAll(pids: Set<number>): void {
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

const alive = (pids: Iterable<number>) => [...pids].filter((pid) => processExists(pid));

describe('keisan up', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-up-test-'));
  const data = path.join(scratch, 'data');
  const pids = new Set<number>();
  let up: Keisan;
  let url: string;
  let ticket: string;

  const api = async (route: string): Promise<Response> =>
    fetch(`${url}${route}`, { headers: { authorization: `Bearer ${ticket}` }, signal: AbortSignal.timeout(5000) });

  before(async () => {
    initTestDataDir(data);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    up = new Keisan(['up', '--data', data, '--port', String(port)], scratch, pids);
  });

  after(async () => {
    killAll(pids);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('starts the watchdog, the server and the agent, and says it is up', async () => {
    await up.waitFor(/Ctrl-C stops everything/, 60_000);
    assert.match(up.stdout, new RegExp(`Keisan is up at ${url}$`, 'm'));
    const processes = await up.waitFor(/processes\s+watchdog pid (\d+), server pid (\d+), agent pid (\d+)/, 5000);
    const [watchdogPid, serverPid, agentPid] = processes.slice(1).map(Number);
    for (const pid of [watchdogPid, serverPid, agentPid]) assert.ok(pid && processExists(pid), `pid ${pid} is running`);
    // The watchdog starts first, then the server, then the agent.
    const order = [...up.stdout.matchAll(/\[up\] (\w+) started/g)].map((m) => m[1]);
    assert.deepEqual(order, ['watchdog', 'server', 'agent']);
    assert.match(up.stdout, new RegExp(`keisan login --server ${url} admin`));
    assert.equal(readFileSync(path.join(data, 'keisan-up.pid'), 'utf8').trim(), String(up.child.pid));

    const [name, password] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    const login = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: name, password }),
    });
    assert.equal(login.status, 200, await login.clone().text());
    ticket = ((await login.json()) as { ticket: string }).ticket;

    // The watchdog retried while the server was starting: both daemons register within seconds.
    const daemons = await eventually('an agent and a watchdog up in GET /api/daemons', 30_000, async () => {
      const response = await api('/api/daemons');
      assert.equal(response.status, 200);
      const rows = (await response.json()) as { kind: string; state: string; pid: number }[];
      const running = rows.filter((d) => d.state === 'up');
      return running.some((d) => d.kind === 'agent') && running.some((d) => d.kind === 'watchdog') ? rows : undefined;
    });
    assert.equal(daemons.find((d) => d.kind === 'agent')?.pid, agentPid);
    assert.equal(daemons.find((d) => d.kind === 'watchdog')?.pid, watchdogPid);
  });

  it('refuses a second keisan up on the same data directory with exit 1', async () => {
    const second = new Keisan(['up', '--data', data, '--port', String(await freePort())], scratch, pids);
    const { code } = await second.exit(30_000);
    assert.equal(code, 1, `second up: exit ${code}\n${second.stdout}\n${second.stderr}`);
    assert.match(second.stderr, new RegExp(`keisan up is already running for ${data} \\(pid ${up.child.pid}\\): stop it first`));
    assert.doesNotMatch(second.stdout, /\[up\]/, 'the refused up starts nothing');
    assert.equal(readFileSync(path.join(data, 'keisan-up.pid'), 'utf8').trim(), String(up.child.pid), 'the lock still names the first up');
    assert.equal((await fetch(`${url}/api/health`)).status, 200, 'the first one still serves');
  });

  it('restarts a server killed with SIGKILL', async () => {
    const serverPid = Number((await up.waitFor(/server pid (\d+)/, 1000))[1]);
    const from = up.stdout.length;
    process.kill(serverPid, 'SIGKILL');
    await up.waitFor(/\[up\] server exited \(signal SIGKILL\); restarting in 1 s/, 15_000, from);
    const restarted = Number((await up.waitFor(/\[up\] server started \(pid (\d+)\)/, 15_000, from))[1]);
    assert.notEqual(restarted, serverPid);
    assert.ok(!processExists(serverPid));
    await eventually('the restarted server to answer /api/health', 30_000, async () => ((await fetch(`${url}/api/health`)).ok ? true : undefined));
    // The database outlived the crash: the operator's ticket still works.
    assert.equal((await api('/api/auth/whoami')).status, 200);
  });

  it('stops everything on SIGTERM and exits 0, leaving no process behind', async () => {
    const children = [...pids].filter((pid) => pid !== up.child.pid);
    assert.ok(children.length >= 4, `watchdog, agent and two servers were started: ${children.join(', ')}`);
    up.child.kill('SIGTERM');
    const { code, signal } = await up.exit(15_000);
    assert.equal(signal, null);
    assert.equal(code, 0, up.stdout);
    assert.match(up.stdout, /\[up\] SIGTERM: stopping agent, server, watchdog/);
    // Stopped in reverse order: agent, server, watchdog.
    const stopped = [...up.stdout.matchAll(/\[up\] (\w+) stopped \(exit code 0\)/g)].map((m) => m[1]);
    assert.deepEqual(stopped, ['agent', 'server', 'watchdog']);
    assert.match(up.stdout, /Keisan stopped\.\n$/);
    assert.deepEqual(alive(children), [], 'no child process is left');
    assert.ok(!existsSync(path.join(data, 'keisan-up.pid')), 'the lock file is removed');
  });
});

describe('keisan up when the port is taken', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-up-taken-test-'));
  const data = path.join(scratch, 'data');
  const pids = new Set<number>();
  const sockets = new Set<Socket>();
  // Holds the port; takes connections (up's health checks) and never answers them.
  const blocker: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  after(() => {
    killAll(pids);
    for (const socket of sockets) socket.destroy();
    blocker.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('exits 1 and prints the server\'s last lines, oldest first', async () => {
    initTestDataDir(data);
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    assert.ok(address && typeof address === 'object');
    const up = new Keisan(['up', '--data', data, '--port', String(address.port)], scratch, pids);
    const { code } = await up.exit(60_000);
    assert.equal(code, 1, `${up.stdout}\n${up.stderr}`);
    assert.doesNotMatch(up.stdout, /Keisan is up/);
    const [, tail = ''] = up.stdout.split(/The server did not start \(exit code 1\)\. Its last lines:\n/);
    assert.ok(tail, `the failure is explained:\n${up.stdout}`);
    const shown = tail.split('\n').filter((line) => line.startsWith('  '));
    assert.ok(shown.length >= 2, tail);
    assert.ok(shown.some((line) => /server +keisan: unexpected error: listen EADDRINUSE/.test(line)), `the reason is among them:\n${tail}`);
    // In the order the server wrote them (its stdout lines; stderr may interleave anywhere).
    const at = (pattern: RegExp) => shown.findIndex((line) => pattern.test(line));
    const sequence = [at(/database ready/), at(/facility file applied on first start/), at(/created the first operator account/)];
    assert.ok(sequence.every((i) => i >= 0), tail);
    assert.deepEqual([...sequence].sort((a, b) => a - b), sequence, `oldest first:\n${tail}`);
    const children = [...pids].filter((pid) => pid !== up.child.pid);
    assert.ok(children.length >= 2, 'a watchdog and a server were started');
    await eventually('the children to be gone', 5000, async () => (alive(children).length === 0 ? true : undefined));
    assert.ok(!existsSync(path.join(data, 'keisan-up.pid')), 'the lock file is removed');
  });
});
