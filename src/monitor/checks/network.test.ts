import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../lib/net.ts';
import { testContext, runOne } from './testing.ts';
import { parseFping, parsePing } from './types/ping.ts';
import { statusMatches } from './types/http.ts';

const listen = (server: Server | HttpServer): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
const close = (server: Server | HttpServer) => new Promise((resolve) => server.close(resolve));

describe('tcp check', () => {
  it('is ok against a listening loopback port and critical, naming the refusal, against a closed one', async () => {
    const server = createNetServer((socket) => socket.end());
    const port = await listen(server);
    try {
      const up = await runOne('tcp', { host: '127.0.0.1', port });
      assert.equal(up.status, 'ok');
      assert.match(up.summary, new RegExp(`127\\.0\\.0\\.1:${port} accepts connections from testnode`));
      assert.equal(typeof up.value, 'number');
    } finally {
      await close(server);
    }
    const closed = await freePort();
    const down = await runOne('tcp', { host: '127.0.0.1', port: closed });
    assert.equal(down.status, 'critical');
    assert.match(down.summary, new RegExp(`127\\.0\\.0\\.1:${closed} cannot be reached from testnode: connection refused`));
  });

  it('bad params are refused by the type\'s schema', async () => {
    await assert.rejects(runOne('tcp', { host: '127.0.0.1', port: 70000 }), /port|65535/);
  });
});

describe('ssh check', () => {
  const sockets = new Set<Socket>();
  let banner: Server;
  let silent: Server;
  let http: Server;
  before(async () => {
    banner = createNetServer((socket) => {
      sockets.add(socket);
      socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
    });
    // Accepts and then says nothing: "service active" but nobody can log in.
    silent = createNetServer((socket) => sockets.add(socket));
    http = createNetServer((socket) => {
      sockets.add(socket);
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await Promise.all([listen(banner), listen(silent), listen(http)]);
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all([close(banner), close(silent), close(http)]);
  });

  it('reads the SSH-2.0 banner: ok, with the banner in the summary', async () => {
    const port = (banner.address() as AddressInfo).port;
    const result = await runOne('ssh', { host: '127.0.0.1', port });
    assert.equal(result.status, 'ok');
    assert.match(result.summary, /SSH on 127\.0\.0\.1:\d+ answers testnode: SSH-2\.0-OpenSSH_9\.2p1 Debian-2\+deb12u3/);
    assert.equal(result.details?.banner, 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3');
  });

  it('a port that accepts but never sends a banner is critical and says so', async () => {
    const port = (silent.address() as AddressInfo).port;
    const started = Date.now();
    const result = await runOne('ssh', { host: '127.0.0.1', port, timeout: '600ms' });
    assert.equal(result.status, 'critical');
    assert.match(result.summary, /accepted the connection but sent no SSH banner within 600 ms/);
    assert.equal(result.details?.connected, true);
    assert.ok(Date.now() - started < 3000);
  });

  it('something else on the port is critical (not SSH); a closed port is critical (refused)', async () => {
    const other = await runOne('ssh', { host: '127.0.0.1', port: (http.address() as AddressInfo).port });
    assert.equal(other.status, 'critical');
    assert.match(other.summary, /without an SSH banner.*HTTP\/1\.1 400/);
    const closed = await runOne('ssh', { host: '127.0.0.1', port: await freePort() });
    assert.equal(closed.status, 'critical');
    assert.match(closed.summary, /connection refused/);
  });
});

describe('http check', () => {
  let server: HttpServer;
  let port: number;
  before(async () => {
    server = createHttpServer((req, res) => {
      if (req.url === '/health') res.end('status: all good');
      else if (req.url === '/slow') setTimeout(() => res.end('late'), 1500);
      else {
        res.statusCode = 503;
        res.end('maintenance');
      }
    });
    port = await listen(server);
  });
  after(async () => {
    server.closeAllConnections();
    await close(server);
  });

  it('status range and keyword: ok, a missing keyword and a 503 are critical, a slow answer times out', async () => {
    const ok = await runOne('http', { url: `http://127.0.0.1:${port}/health`, keyword: 'all good' });
    assert.equal(ok.status, 'ok');
    assert.match(ok.summary, /answered testnode with HTTP 200/);
    const noKeyword = await runOne('http', { url: `http://127.0.0.1:${port}/health`, keyword: 'database up' });
    assert.equal(noKeyword.status, 'critical');
    assert.match(noKeyword.summary, /lacks the keyword "database up"/);
    const down = await runOne('http', { url: `http://127.0.0.1:${port}/other` });
    assert.equal(down.status, 'critical');
    assert.match(down.summary, /with HTTP 503, expected 200-399/);
    assert.equal((await runOne('http', { url: `http://127.0.0.1:${port}/other`, expectStatus: '500-599' })).status, 'ok');
    const slow = await runOne('http', { url: `http://127.0.0.1:${port}/slow`, timeout: '300ms' });
    assert.equal(slow.status, 'critical');
    assert.match(slow.summary, /no answer within 300 ms/);
    const refused = await runOne('http', { url: `http://127.0.0.1:${await freePort()}/` });
    assert.match(refused.summary, /connection refused/);
  });

  it('names TLS errors: a self-signed certificate is critical unless insecure is set', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keisan-http-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '30', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      const tls = createHttpsServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) }, (_req, res) => res.end('secure hello'));
      const tlsPort = await listen(tls);
      try {
        const strict = await runOne('http', { url: `https://localhost:${tlsPort}/` });
        assert.equal(strict.status, 'critical');
        assert.match(strict.summary, /the TLS certificate is self-signed \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
        const insecure = await runOne('http', { url: `https://localhost:${tlsPort}/`, insecure: true, keyword: 'hello' });
        assert.equal(insecure.status, 'ok');
      } finally {
        tls.closeAllConnections();
        await close(tls);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('status specs: ranges and lists', () => {
    assert.ok(statusMatches('200-299,301', 301));
    assert.ok(!statusMatches('200-299,301', 302));
    assert.ok(statusMatches('404', 404));
  });
});

describe('ping check', () => {
  it('127.0.0.1 answers (ok); a TEST-NET address that nothing answers is critical', async () => {
    const ok = await runOne('ping', { host: '127.0.0.1', count: 2, timeout: '1s' });
    assert.equal(ok.status, 'ok', ok.summary);
    assert.match(ok.summary, /127\.0\.0\.1 answers ping from testnode \(2\/2/);
    const fping = await runOne('ping', { host: '127.0.0.1', count: 2, timeout: '1s', tool: 'fping' });
    assert.ok(fping.status === 'ok' || fping.status === 'unknown', fping.summary);
    const lost = await runOne('ping', { host: '203.0.113.1', count: 2, timeout: '1s' });
    assert.equal(lost.status, 'critical', lost.summary);
    assert.match(lost.summary, /203\.0\.113\.1 (does not answer ping from testnode|cannot be pinged from testnode)/);
  });

  it('a missing tool is unknown with the reason, not a crash', async () => {
    const context = testContext({ exec: async () => ({ code: null, stdout: '', stderr: '', failure: 'ping is not installed (not found on PATH)', timedOut: false }) });
    const result = await runOne('ping', { host: '127.0.0.1' }, context);
    assert.equal(result.status, 'unknown');
    assert.match(result.summary, /cannot ping 127\.0\.0\.1 from testnode: ping is not installed/);
  });

  it('parses ping and fping output, partial loss included', () => {
    assert.deepEqual(parsePing('3 packets transmitted, 2 received, 33.3333% packet loss, time 402ms\nrtt min/avg/max/mdev = 0.030/0.045/0.060/0.015 ms'), { sent: 3, received: 2, lossPercent: 33.3333, avgMs: 0.045 });
    assert.deepEqual(parsePing('2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 200ms'), { sent: 2, received: 0, lossPercent: 100, avgMs: null });
    assert.deepEqual(parseFping('10.0.0.9 : xmt/rcv/%loss = 3/0/100%'), { sent: 3, received: 0, lossPercent: 100, avgMs: null });
  });
});

describe('certificate check', () => {
  let dir: string;
  const makeCert = (name: string, days: number) => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/${name}.key`, '-out', `${dir}/${name}.pem`, '-days', String(days), '-subj', `/CN=${name}.example.org`], { stdio: 'ignore' });
    return `${dir}/${name}.pem`;
  };
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'keisan-cert-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a PEM file: days left decide ok (> 21), warning (< 21), critical (< 7) and expired', async () => {
    const long = makeCert('long', 90);
    const soon = makeCert('soon', 10);
    const verySoon = makeCert('verysoon', 3);
    const now = Date.now();
    const context = () => testContext({ now: () => now });
    const ok = await runOne('certificate', { file: long }, context());
    assert.equal(ok.status, 'ok');
    assert.match(ok.summary, /the certificate of .*long\.pem \(CN=long\.example\.org\) expires in (89\.\d|90) days/);
    assert.equal((await runOne('certificate', { file: soon }, context())).status, 'warning');
    const critical = await runOne('certificate', { file: verySoon }, context());
    assert.equal(critical.status, 'critical');
    assert.ok((critical.value as number) <= 3 && (critical.value as number) >= 2.8, String(critical.value));
    const expired = await runOne('certificate', { file: long }, testContext({ now: () => now + 100 * 86_400_000 }));
    assert.equal(expired.status, 'critical');
    assert.match(expired.summary, /expired on/);
  });

  it('a TLS server: the certificate it sends, with the trust error named; a missing file is unknown', async () => {
    const pem = makeCert('server', 5);
    const server = createHttpsServer({ key: readFileSync(`${dir}/server.key`), cert: readFileSync(pem) }, (_req, res) => res.end('x'));
    const port = await listen(server);
    try {
      // The certificate was just made: judge it by the real clock, not the test context's fixed one.
      const result = await runOne('certificate', { host: '127.0.0.1', port }, testContext({ now: () => Date.now() }));
      assert.equal(result.status, 'critical');
      assert.match(result.summary, new RegExp(`the certificate of 127\\.0\\.0\\.1:${port} \\(CN=server\\.example\\.org\\) expires in 4\\.\\d days`));
      assert.equal(result.details?.trustError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    } finally {
      await close(server);
    }
    const missing = await runOne('certificate', { file: `${dir}/nope.pem` });
    assert.equal(missing.status, 'unknown');
    assert.match(missing.summary, /cannot read the certificate .*nope\.pem on testnode/);
    await assert.rejects(runOne('certificate', { file: pem, host: 'x' }), /either host/);
  });
});
