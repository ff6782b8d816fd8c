import { connect } from 'node:net';
import { z } from 'zod';
import { defineCheck, errorText, humanMs } from '../check-type.ts';
import { durationParam, hostParam, portParam } from './common.ts';

interface BannerOutcome {
  connected: boolean;
  banner?: string;
  error?: string;
  ms: number;
}

/** Connects and reads the first line the server sends (RFC 4253 §4.2: the identification string). */
export function readBanner(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<BannerOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let connected = false;
    let received = '';
    const socket = connect({ host, port });
    const done = (outcome: Omit<BannerOutcome, 'connected' | 'ms'>) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ connected, ms: performance.now() - started, ...outcome });
    };
    const timer = setTimeout(
      () => done({ error: connected ? `accepted the connection but sent no SSH banner within ${humanMs(timeoutMs)}` : `no answer within ${humanMs(timeoutMs)}` }),
      timeoutMs,
    );
    const onAbort = () => done({ error: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => (connected = true));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      // Servers may send other lines before the identification string; it is the first starting with SSH-.
      const lines = received.split('\n');
      for (const line of lines.slice(0, -1)) {
        if (line.startsWith('SSH-')) return done({ banner: line.replace(/\r$/, '') });
      }
      if (received.length > 8192) done({ banner: lines[0]!.slice(0, 200) });
    });
    socket.once('end', () => done({ error: connected ? `closed the connection without an SSH banner${received ? ` (sent ${JSON.stringify(received.slice(0, 80))})` : ''}` : 'closed' }));
    socket.once('error', (error: NodeJS.ErrnoException) => done({ error: error.code === 'ECONNREFUSED' ? 'connection refused' : errorText(error) }));
  });
}

const params = z.object({ host: hostParam.default('127.0.0.1'), port: portParam.default(22), timeout: durationParam('5s') }).strict();

export default defineCheck({
  type: 'ssh',
  description: 'an SSH server answers with its banner (SSH-2.0-…), not just "service active"',
  params,
  target: (p) => `${p.host}:${p.port}`,
  async run(p, context) {
    const where = `SSH on ${p.host}:${p.port}`;
    const result = await readBanner(p.host, p.port, p.timeout, context.signal);
    const ms = Math.round(result.ms * 10) / 10;
    if (!result.banner) {
      return { status: 'critical', summary: `${where} (checked from ${context.host}): ${result.error}`, value: null, details: { connected: result.connected, error: result.error } };
    }
    if (!/^SSH-(2\.0|1\.99)-/.test(result.banner)) {
      return { status: 'critical', summary: `${where} (checked from ${context.host}) did not answer as an SSH-2 server: ${JSON.stringify(result.banner.slice(0, 80))}`, value: null, details: { banner: result.banner } };
    }
    return { status: 'ok', summary: `${where} answers ${context.host}: ${result.banner} (${ms} ms)`, value: ms, details: { banner: result.banner } };
  },
});
