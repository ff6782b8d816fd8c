import { z } from 'zod';
import { defineCheck, unknown } from '../check-type.ts';
import { durationParam, hostParam } from './common.ts';

const params = z
  .object({
    host: hostParam,
    count: z.number().int().min(1).max(20).default(3),
    /** Wait this long for each reply. */
    timeout: durationParam('2s'),
    /** Lost packets at or above this share (percent) are a warning; all lost is critical. */
    lossWarning: z.number().min(0).max(100).default(1),
    /** fping where installed (one process for the count), else ping (iputils). */
    tool: z.enum(['ping', 'fping']).default('ping'),
  })
  .strict();

export interface PingStats {
  sent: number;
  received: number;
  lossPercent: number;
  avgMs: number | null;
}

/** iputils ping: "3 packets transmitted, 3 received, 0% packet loss" + "rtt min/avg/max/mdev = 0.02/0.03/0.04/0.01 ms". */
export function parsePing(output: string): PingStats | undefined {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received(?:, \+\d+ errors)?, ([\d.]+)% packet loss/.exec(output);
  if (!counts) return undefined;
  const rtt = /= [\d.]+\/([\d.]+)\/[\d.]+/.exec(output);
  return { sent: Number(counts[1]), received: Number(counts[2]), lossPercent: Number(counts[3]), avgMs: rtt ? Number(rtt[1]) : null };
}

/** fping -q -C: "127.0.0.1 : xmt/rcv/%loss = 3/3/0%, min/avg/max = 0.02/0.03/0.04". */
export function parseFping(output: string): PingStats | undefined {
  const counts = /xmt\/rcv\/%loss = (\d+)\/(\d+)\/([\d.]+)%(?:, min\/avg\/max = [\d.]+\/([\d.]+)\/)?/.exec(output);
  if (!counts) return undefined;
  return { sent: Number(counts[1]), received: Number(counts[2]), lossPercent: Number(counts[3]), avgMs: counts[4] ? Number(counts[4]) : null };
}

export default defineCheck({
  type: 'ping',
  description: 'a host answers ICMP echo (through ping or fping; no raw sockets in the agent)',
  params,
  target: (p) => p.host,
  async run(p, context) {
    const seconds = Math.max(1, Math.ceil(p.timeout / 1000));
    const budget = (p.count * seconds + 5) * 1000;
    const result =
      p.tool === 'fping'
        ? await context.exec('fping', ['-q', '-c', String(p.count), '-t', String(p.timeout), p.host], { timeoutMs: budget, signal: context.signal })
        : await context.exec('ping', ['-n', '-c', String(p.count), '-i', '0.2', '-W', String(seconds), p.host], { timeoutMs: budget, signal: context.signal });
    const text = `${result.stdout}\n${result.stderr}`;
    const stats = p.tool === 'fping' ? parseFping(text) : parsePing(text);
    if (!stats) {
      if (result.failure) return unknown(`cannot ping ${p.host} from ${context.host}: ${result.failure}`);
      const reason = text.trim().split('\n').find((line) => line.trim()) ?? `${p.tool} exited with ${result.code}`;
      // "Network is unreachable", "Name or service not known": the host cannot be reached at all.
      return { status: 'critical', summary: `${p.host} cannot be pinged from ${context.host}: ${reason.trim()}`, value: null, details: { output: text.slice(0, 500) } };
    }
    const details = { ...stats };
    if (stats.received === 0) return { status: 'critical', summary: `${p.host} does not answer ping from ${context.host} (${stats.sent} sent, none answered)`, value: 100, details };
    if (stats.lossPercent >= p.lossWarning)
      return { status: 'warning', summary: `${p.host} loses ${stats.lossPercent} % of pings from ${context.host} (${stats.received} of ${stats.sent} answered)`, value: stats.lossPercent, details };
    return { status: 'ok', summary: `${p.host} answers ping from ${context.host} (${stats.received}/${stats.sent}, avg ${stats.avgMs ?? '?'} ms)`, value: stats.lossPercent, details };
  },
});
