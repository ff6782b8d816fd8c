import { connect } from 'node:net';
import { z } from 'zod';
import { defineCheck, errorText, humanMs } from '../check-type.ts';
import { durationParam, hostParam, portParam } from './common.ts';

export interface ConnectOutcome {
  ok: boolean;
  ms: number;
  error?: string;
}

/** Opens a TCP connection and closes it again. */
export function tcpConnect(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ConnectOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (outcome: ConnectOutcome) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ ok: false, ms: performance.now() - started, error: `no answer within ${humanMs(timeoutMs)}` }), timeoutMs);
    const onAbort = () => done({ ok: false, ms: performance.now() - started, error: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done({ ok: true, ms: performance.now() - started }));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done({ ok: false, ms: performance.now() - started, error: error.code === 'ECONNREFUSED' ? 'connection refused' : errorText(error) }),
    );
  });
}

const params = z
  .object({
    host: hostParam,
    port: portParam,
    timeout: durationParam('5s'),
    /** A connect slower than this is a warning (default: none). */
    slowAfter: durationParam('0s'),
  })
  .strict();

export default defineCheck({
  type: 'tcp',
  description: 'a TCP port accepts connections',
  params,
  target: (p) => `${p.host}:${p.port}`,
  async run(p, context) {
    const result = await tcpConnect(p.host, p.port, p.timeout, context.signal);
    const where = `${p.host}:${p.port}`;
    if (!result.ok) return { status: 'critical', summary: `${where} cannot be reached from ${context.host}: ${result.error}`, value: null, details: { error: result.error } };
    const ms = Math.round(result.ms * 10) / 10;
    if (p.slowAfter > 0 && result.ms > p.slowAfter)
      return { status: 'warning', summary: `${where} answered ${context.host} slowly (connect ${ms} ms, more than ${humanMs(p.slowAfter)})`, value: ms };
    return { status: 'ok', summary: `${where} accepts connections from ${context.host} (${ms} ms)`, value: ms, details: { connectMs: ms } };
  },
});
