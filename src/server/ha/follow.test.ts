import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { freePort } from '../../lib/net.ts';
import { attemptOrder, decide, ServerFollower, splitServerList } from './follow.ts';

describe('following the active server: the decisions', () => {
  it('moves on after a standby, naming the active one as the next to try', () => {
    assert.deepEqual(decide({ kind: 'answer', status: 503, standby: true, active: 'http://b:1' }, 'POST'), { kind: 'next', hint: 'http://b:1' });
    assert.deepEqual(decide({ kind: 'answer', status: 503, standby: false, active: null }, 'GET'), { kind: 'done' });
    assert.deepEqual(decide({ kind: 'answer', status: 401, standby: false, active: null }, 'POST'), { kind: 'done' });
  });

  it('sends any request elsewhere when the connection was refused, but a broken POST never twice', () => {
    assert.deepEqual(decide({ kind: 'unreachable', code: 'ECONNREFUSED' }, 'POST'), { kind: 'next', hint: null });
    assert.deepEqual(decide({ kind: 'unreachable', code: 'ECONNRESET' }, 'GET'), { kind: 'next', hint: null });
    assert.deepEqual(decide({ kind: 'unreachable', code: 'ECONNRESET' }, 'POST'), { kind: 'fail' });
    assert.deepEqual(decide({ kind: 'unreachable', code: null }, 'DELETE'), { kind: 'fail' });
  });

  it('tries the server that answered last first, then the others in order', () => {
    assert.deepEqual(attemptOrder(['a', 'b', 'c'], 'b'), ['b', 'a', 'c']);
    assert.deepEqual(attemptOrder(['a', 'b'], null), ['a', 'b']);
    assert.deepEqual(attemptOrder(['a', 'b'], 'z'), ['a', 'b']);
  });

  it('splits --server a,b', () => {
    assert.deepEqual(splitServerList(' http://a:1, http://b:2 ,http://a:1,'), ['http://a:1', 'http://b:2']);
  });
});

describe('ServerFollower over real sockets', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));
  const listen = (handler: Parameters<typeof createServer>[1]) =>
    new Promise<string>((resolve) => {
      const server = createServer(handler);
      servers.push(server);
      server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`));
    });

  it('skips a refused server and a standby, follows X-Keisan-Active, and remembers who answered', async () => {
    const active = await listen((_req, res) => res.end('{"ok":true}'));
    const standby = await listen((_req, res) => {
      res.writeHead(503, { 'x-keisan-role': 'standby', 'x-keisan-active': active, 'content-type': 'application/json' });
      res.end('{"error":{"code":"STANDBY","message":"standby"}}');
    });
    // A port nobody listens on (fetch itself refuses some low ports, such as 1, as unsafe).
    const refused = `http://127.0.0.1:${await freePort()}`;
    const answered: string[] = [];
    // The active server is not even listed: the standby names it.
    const follower = new ServerFollower([refused, standby], { onAnswer: (s) => answered.push(s) });
    const response = await follower.fetch('/api/x', { method: 'POST', body: '{}' });
    assert.equal(await response.text(), '{"ok":true}');
    assert.equal(follower.server, active);
    assert.deepEqual(answered, [active]);
    assert.ok(follower.servers.includes(active));
  });

  it('gives the standby\'s answer back once the wait is over and no server is active', async () => {
    const standby = await listen((_req, res) => {
      res.writeHead(503, { 'x-keisan-role': 'standby', 'content-type': 'application/json' });
      res.end('{"error":{"code":"STANDBY","message":"no active server"}}');
    });
    const follower = new ServerFollower([standby, `http://127.0.0.1:${await freePort()}`], { waitMs: 300, pauseMs: 50 });
    const started = Date.now();
    const response = await follower.fetch('/api/x');
    assert.equal(response.status, 503);
    assert.match(await response.text(), /no active server/);
    assert.ok(Date.now() - started >= 300);
  });
});
