import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../lib/net.ts';
import { errorOfLine, NutClient, NutError, parseVarLine, quote, unquote } from './nut-client.ts';
import { parseUpsAddress } from './settings.ts';
import { describeWithNut, startTestNut, type TestNut } from './testing.ts';

const rejectsWith = async (promise: Promise<unknown>, code: string, message?: RegExp) => {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof NutError, `expected a NutError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
};

describe('NUT protocol lines', () => {
  it('parses VAR lines, quoting and ERR lines', () => {
    assert.deepEqual(parseVarLine('VAR dummy ups.status "OB LB"', 'dummy'), ['ups.status', 'OB LB']);
    assert.deepEqual(parseVarLine('VAR dummy ups.mfr "ACME \\"Big\\" UPS"', 'dummy'), ['ups.mfr', 'ACME "Big" UPS']);
    assert.equal(parseVarLine('VAR other ups.status "OL"', 'dummy'), null);
    assert.equal(unquote('plain'), 'plain');
    assert.equal(quote('monpass'), 'monpass');
    assert.equal(quote('pass word "x"'), '"pass word \\"x\\""');
    const stale = errorOfLine('ERR DATA-STALE');
    assert.equal(stale?.code, 'DATA-STALE');
    assert.match(stale!.message, /no fresh data from the UPS driver/);
    assert.equal(errorOfLine('OK'), null);
  });
});

describe('NUT client against a server that misbehaves', () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();
  before(async () => {
    port = await freePort();
    // Answers GET VAR with a half line and then nothing; closes on LIST.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk) => {
        if (chunk.toString().startsWith('LIST')) socket.destroy();
        else socket.write('VAR dummy ups.sta');
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a silent server times out; a closed connection is reported; nothing listening is reported', async () => {
    const client = new NutClient({ address: parseUpsAddress(`dummy@127.0.0.1:${port}`), timeoutMs: 300 });
    await rejectsWith(client.getVar('ups.status'), 'CONNECTION', /did not answer 'GET VAR …' within 300 ms/);
    await rejectsWith(client.listVars(), 'CONNECTION', /closed the connection/);
    await client.close();
    const nobody = new NutClient({ address: parseUpsAddress(`dummy@127.0.0.1:${await freePort()}`), timeoutMs: 500 });
    await rejectsWith(nobody.getVar('ups.status'), 'CONNECTION', /cannot connect to upsd at 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    await nobody.close();
  });
});

describeWithNut('NUT client against a real upsd with dummy-ups', () => {
  let nut: TestNut;
  before(async () => {
    nut = await startTestNut('OL');
  });
  after(async () => {
    await nut?.stop();
  });

  it('reads ups.status and every variable, logged in or not, over one connection', async () => {
    const client = new NutClient({ address: parseUpsAddress(nut.address), timeoutMs: 2000, login: nut.monitor });
    assert.equal(await client.getVar('ups.status'), 'OL');
    const vars = await client.listVars();
    assert.equal(vars.get('ups.status'), 'OL');
    assert.equal(vars.get('battery.charge'), '100');
    await nut.setStatus('OB DISCHRG');
    assert.equal(await client.getVar('ups.status'), 'OB DISCHRG');
    await client.close();
    const anonymous = new NutClient({ address: parseUpsAddress(nut.address), timeoutMs: 2000 });
    assert.equal(await anonymous.getVar('ups.status'), 'OB DISCHRG');
    await anonymous.close();
    await nut.setStatus('OL');
  });

  it('ERR answers: unknown UPS, unsupported variable, wrong password', async () => {
    const unknown = new NutClient({ address: parseUpsAddress(`nosuch@127.0.0.1:${nut.port}`), timeoutMs: 2000 });
    await rejectsWith(unknown.getVar('ups.status'), 'UNKNOWN-UPS', /does not know this UPS/);
    await rejectsWith(unknown.listVars(), 'UNKNOWN-UPS');
    await unknown.close();
    const client = new NutClient({ address: parseUpsAddress(nut.address), timeoutMs: 2000 });
    await rejectsWith(client.getVar('ups.no.such.thing'), 'VAR-NOT-SUPPORTED');
    // The connection is still good after an ERR.
    assert.equal(await client.getVar('ups.status'), 'OL');
    await client.close();
    const wrong = new NutClient({ address: parseUpsAddress(nut.address), timeoutMs: 2000, login: { user: 'monuser', password: 'wrong' } });
    // upsd 2.8 answers OK to any PASSWORD and checks it only for LOGIN, SET, FSD… (which Keisan never
    // sends): reading works whatever the password.
    assert.equal(await wrong.getVar('ups.status'), 'OL');
    await wrong.close();
  });

  it('a dead driver gives DATA-STALE (or DRIVER-NOT-CONNECTED); upsd gone gives CONNECTION', async () => {
    const client = new NutClient({ address: parseUpsAddress(nut.address), timeoutMs: 2000 });
    assert.equal(await client.getVar('ups.status'), 'OL');
    await nut.stopDriver();
    let code = '';
    for (let i = 0; i < 100 && code === ''; i++) {
      code = await client.getVar('ups.status').then(
        () => '',
        (error: unknown) => (error instanceof NutError ? error.code : 'other'),
      );
      if (code === '') await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(['DATA-STALE', 'DRIVER-NOT-CONNECTED'].includes(code), code);
    await nut.stop();
    await rejectsWith(client.getVar('ups.status'), 'CONNECTION');
    await client.close();
    nut = await startTestNut('OB');
  });
});
