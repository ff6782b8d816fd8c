import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { CheckResult } from '../model.ts';
import { LocalCheckRunner, toResults } from './runner.ts';
import type { AgentChecks, ResolvedCheck } from './resolve.ts';

const logger = pino({ level: 'silent' });
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what: string, ms: number, test: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await wait(20);
  }
}

const check = (id: string, type: string, params: Record<string, unknown>, intervalMs = 200, timeoutMs = 1000): ResolvedCheck => ({ id, type, name: null, intervalMs, timeoutMs, params, source: 'test' });
const list = (checks: ResolvedCheck[], concurrency = 4): AgentChecks => ({ host: 'testnode', roles: [], refreshMs: 60_000, concurrency, checks });

function runner(checks: AgentChecks, extra: Partial<ConstructorParameters<typeof LocalCheckRunner>[0]> = {}) {
  const results: CheckResult[] = [];
  const r = new LocalCheckRunner({ host: 'testnode', serverUrl: 'http://127.0.0.1:1', nodeSecret: 's', roles: [], logger, onResult: (x) => results.push(x), checks, ...extra });
  return { r, results };
}

describe('check runner', () => {
  it('runs each check on its interval and hands every result to onResult, named <type>:<target>', async () => {
    const { r, results } = runner(list([check('raid:md', 'raid', { mdstat: '/nonexistent' }, 150)]));
    r.start();
    try {
      await until('three results', 3000, () => results.length >= 3);
    } finally {
      await r.stop();
    }
    assert.equal(results[0]!.check, 'raid:md');
    assert.equal(results[0]!.type, 'raid');
    assert.equal(results[0]!.status, 'ok');
    assert.ok(Date.parse(results[2]!.at) - Date.parse(results[0]!.at) >= 250);
  });

  it('a check past its timeout is unknown, and the next run waits until the hung one ends (no overlap)', async () => {
    // A process check on a "procRoot" whose read never ends would need a FUSE mount; a command that sleeps does: ping to
    // a TEST-NET address with a long wait, through an exec that counts the runs at once.
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const exec = async () => {
      calls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      await wait(700);
      running--;
      return { code: 1, stdout: '', stderr: 'x', timedOut: false };
    };
    // mirror runs lvs through exec and has no timeout of its own: the runner's 200 ms applies.
    const { r, results } = runner(list([check('mirror:mirrors', 'mirror', { mdstat: '/nonexistent' }, 100, 200)]), { exec });
    r.start();
    try {
      await until('two results', 4000, () => results.length >= 2);
    } finally {
      await r.stop();
    }
    assert.equal(results[0]!.status, 'unknown');
    assert.match(results[0]!.summary, /check mirror:mirrors on testnode did not finish within 200 ms/);
    assert.equal(maxRunning, 1, 'never two runs of one check at once');
    assert.ok(calls >= 2);
  });

  it('a check\'s own timeout speaks first: a silent SSH port is critical ("no banner"), not unknown', async () => {
    const { createServer } = await import('node:net');
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const { r, results } = runner(list([check(`ssh:127.0.0.1:${port}`, 'ssh', { port, timeout: '400ms' }, 5000, 100)]));
    r.start();
    try {
      await until('a result', 4000, () => results.length >= 1);
    } finally {
      await r.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
    assert.equal(results[0]!.status, 'critical');
    assert.match(results[0]!.summary, /sent no SSH banner within 400 ms/);
  });

  it('bounded concurrency: with concurrency 2, at most two checks run at once', async () => {
    let running = 0;
    let maxRunning = 0;
    const exec = async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await wait(150);
      running--;
      return { code: 0, stdout: '1 packets transmitted, 1 received, 0% packet loss', stderr: '', timedOut: false };
    };
    const checks = [1, 2, 3, 4, 5].map((i) => check(`ping:10.0.0.${i}`, 'ping', { host: `10.0.0.${i}` }, 5000));
    const { r, results } = runner(list(checks, 2), { exec });
    r.start();
    try {
      await until('five results', 5000, () => results.length >= 5);
    } finally {
      await r.stop();
    }
    assert.equal(maxRunning, 2);
    assert.ok(results.every((x) => x.status === 'ok'));
  });

  it('an unknown type, bad params and a crashing check are unknown with the reason, never a crash', async () => {
    const exec = async () => {
      throw new Error('boom from the tool');
    };
    const { r, results } = runner(
      list([check('gpu-magic:x', 'gpu-magic', {}, 5000), check('tcp:x', 'tcp', { host: 'x' }, 5000), check('ping:10.0.0.1', 'ping', { host: '10.0.0.1' }, 5000)]),
      { exec },
    );
    r.start();
    try {
      await until('three results', 3000, () => results.length >= 3);
    } finally {
      await r.stop();
    }
    const by = Object.fromEntries(results.map((x) => [x.check, x]));
    assert.match(by['gpu-magic:x']!.summary, /this agent does not know the check type 'gpu-magic'/);
    assert.match(by['tcp:x']!.summary, /check tcp:x on testnode has bad params: port:/);
    assert.match(by['ping:10.0.0.1']!.summary, /check ping:10\.0\.0\.1 on testnode failed to run: boom from the tool/);
    assert.ok(results.every((x) => x.status === 'unknown'));
  });

  it('fetches its list from the server, keeps running the last one while the server is down', async () => {
    const { createServer } = await import('node:http');
    let up = true;
    let fetches = 0;
    let auth = '';
    const server = createServer((req, res) => {
      fetches++;
      auth = req.headers.authorization ?? '';
      if (!up) {
        res.statusCode = 503;
        res.end('down');
        return;
      }
      assert.match(req.url ?? '', /^\/api\/monitor\/agent-checks\?host=testnode&roles=login%2Cgpu$/);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ...list([check('raid:md', 'raid', { mdstat: '/nonexistent' }, 100)]), refreshMs: 100 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const results: CheckResult[] = [];
    const r = new LocalCheckRunner({ host: 'testnode', serverUrl: url, nodeSecret: 'sekrit', roles: ['login', 'gpu'], logger, onResult: (x) => results.push(x), retryMs: 50 });
    r.start();
    try {
      await until('a result', 3000, () => results.length >= 1);
      assert.equal(auth, 'Node sekrit');
      up = false;
      const before = fetches;
      await until('a failed refresh', 3000, () => fetches > before);
      const count = results.length;
      await until('more results while the server is down', 3000, () => results.length >= count + 2);
      assert.deepEqual(r.ids(), ['raid:md']);
      assert.match(r.lastFetchError ?? '', /503/);
    } finally {
      await r.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('results of a multi-target check are called <name or type>:<target>', () => {
    const named = toResults({ ...check('disks', 'filesystem', {}), name: 'disks' }, undefined, {}, [{ status: 'ok', summary: 's', target: '/data' }], new Date(0), 1);
    assert.equal(named[0]!.check, 'disks:/data');
    const plain = toResults(check('filesystem:all', 'filesystem', {}), undefined, {}, [{ status: 'warning', summary: 's', target: '/scratch', value: 81.5 }], new Date(0), 1);
    assert.deepEqual([plain[0]!.check, plain[0]!.target, plain[0]!.value], ['filesystem:/scratch', '/scratch', 81.5]);
  });
});
