import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { defineCheck, errorText, humanMs } from '../check-type.ts';
import { durationParam } from './common.ts';

/** "200-299", "200,301,302" or "200-399,401". */
const statusList = z
  .string()
  .regex(/^\s*\d{3}(\s*-\s*\d{3})?(\s*,\s*\d{3}(\s*-\s*\d{3})?)*\s*$/, 'status codes and ranges like "200-299" or "200,301-302"')
  .default('200-399');

export function statusMatches(spec: string, status: number): boolean {
  return spec.split(',').some((part) => {
    const [low, high] = part.split('-').map((s) => Number(s.trim()));
    return high === undefined ? status === low : status >= low! && status <= high;
  });
}

const TLS_CODES: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the TLS certificate has expired',
  CERT_NOT_YET_VALID: 'the TLS certificate is not yet valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the TLS certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'a self-signed certificate is in the TLS chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the TLS certificate cannot be verified (unknown issuer)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the TLS certificate\'s issuer is not trusted here',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the TLS certificate is not for this host name',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS on this port',
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'the host name does not resolve',
  ECONNRESET: 'the connection was reset',
};

const params = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }),
    method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
    expectStatus: statusList,
    /** The body must contain this text (case-sensitive). */
    keyword: z.string().min(1).max(1000).optional(),
    /** The body must NOT contain this text. */
    keywordAbsent: z.string().min(1).max(1000).optional(),
    timeout: durationParam('10s'),
    /** Accept any TLS certificate (self-signed test servers); errors are still named in details. */
    insecure: z.boolean().default(false),
    headers: z.record(z.string(), z.string()).default({}),
    /** A response slower than this is a warning (default: none). */
    slowAfter: durationParam('0s'),
  })
  .strict();

interface Response {
  status: number;
  body: string;
  ms: number;
}

function request(p: z.output<typeof params>, signal: AbortSignal): Promise<Response> {
  const started = performance.now();
  const url = new URL(p.url);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      url,
      { method: p.method, headers: { 'user-agent': 'keisan-check', ...p.headers }, timeout: p.timeout, signal, ...(url.protocol === 'https:' ? { rejectUnauthorized: !p.insecure } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 1024 * 1024) body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${humanMs(p.timeout)}`), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end();
  });
}

export default defineCheck({
  type: 'http',
  description: 'an HTTP(S) URL answers with an expected status (and keyword)',
  params,
  target: (p) => p.url,
  defaultInterval: 30_000,
  async run(p, context) {
    let response: Response;
    try {
      response = await request(p, context.signal);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      const named = TLS_CODES[code];
      const reason = named ? `${named} (${code})` : errorText(error);
      return { status: 'critical', summary: `${p.url} failed from ${context.host}: ${reason}`, value: null, details: { error: errorText(error), code } };
    }
    const ms = Math.round(response.ms);
    const details = { httpStatus: response.status, responseMs: ms };
    if (!statusMatches(p.expectStatus, response.status))
      return { status: 'critical', summary: `${p.url} answered ${context.host} with HTTP ${response.status}, expected ${p.expectStatus}`, value: ms, details };
    if (p.keyword !== undefined && !response.body.includes(p.keyword))
      return { status: 'critical', summary: `${p.url} (HTTP ${response.status}) lacks the keyword ${JSON.stringify(p.keyword)} (checked from ${context.host})`, value: ms, details };
    if (p.keywordAbsent !== undefined && response.body.includes(p.keywordAbsent))
      return { status: 'critical', summary: `${p.url} (HTTP ${response.status}) contains ${JSON.stringify(p.keywordAbsent)} (checked from ${context.host})`, value: ms, details };
    if (p.slowAfter > 0 && response.ms > p.slowAfter)
      return { status: 'warning', summary: `${p.url} answered ${context.host} slowly: ${ms} ms (more than ${humanMs(p.slowAfter)})`, value: ms, details };
    return { status: 'ok', summary: `${p.url} answered ${context.host} with HTTP ${response.status} in ${ms} ms`, value: ms, details };
  },
});
