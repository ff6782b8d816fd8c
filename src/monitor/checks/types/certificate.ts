import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { z } from 'zod';
import { defineCheck, errorText, humanMs, unknown } from '../check-type.ts';
import { durationParam, hostParam, portParam } from './common.ts';

const params = z
  .object({
    /** A TLS server (host and port)… */
    host: hostParam.optional(),
    port: portParam.default(443),
    /** The name sent in SNI (default: host). */
    servername: z.string().optional(),
    /** …or a PEM file (the first certificate in it). */
    file: z.string().startsWith('/', 'an absolute path').optional(),
    warningDays: z.number().min(0).default(21),
    criticalDays: z.number().min(0).default(7),
    timeout: durationParam('10s'),
  })
  .strict()
  .refine((p) => (p.host === undefined) !== (p.file === undefined), { message: 'give either host (and port) or file, not both', path: ['host'] })
  .refine((p) => p.warningDays >= p.criticalDays, { message: 'warningDays must be at least criticalDays', path: ['warningDays'] });

interface Cert {
  subject: string;
  issuer: string;
  validFrom: number;
  validTo: number;
  /** Why a client would not trust it (self-signed, unknown issuer…), when it would not. */
  trustError?: string;
}

function fromServer(host: string, port: number, servername: string | undefined, timeoutMs: number, signal: AbortSignal): Promise<Cert> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, servername: servername ?? (/^[\d.:]+$/.test(host) ? undefined : host), rejectUnauthorized: false });
    const onAbort = () => socket.destroy(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => signal.removeEventListener('abort', onAbort));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${humanMs(timeoutMs)}`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = socket.getPeerX509Certificate();
      const trustError = socket.authorizationError ? String(socket.authorizationError) : undefined;
      socket.end();
      if (!peer) return reject(new Error('the server sent no certificate'));
      resolve({ subject: peer.subject, issuer: peer.issuer, validFrom: Date.parse(peer.validFrom), validTo: Date.parse(peer.validTo), ...(trustError ? { trustError } : {}) });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function fromFile(file: string): Promise<Cert> {
  const pem = await readFile(file, 'utf8');
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!first) throw new Error('no PEM certificate in it');
  const cert = new X509Certificate(first[0]);
  return { subject: cert.subject, issuer: cert.issuer, validFrom: Date.parse(cert.validFrom), validTo: Date.parse(cert.validTo) };
}

export default defineCheck({
  type: 'certificate',
  description: 'TLS certificate expiry of a server (host:port) or a PEM file: days left',
  params,
  target: (p) => p.file ?? `${p.host}:${p.port}`,
  defaultInterval: 3_600_000,
  async run(p, context) {
    const what = p.file ?? `${p.host}:${p.port}`;
    let cert: Cert;
    try {
      cert = p.file ? await fromFile(p.file) : await fromServer(p.host!, p.port, p.servername, p.timeout, context.signal);
    } catch (error) {
      if (p.file) return unknown(`cannot read the certificate ${p.file} on ${context.host}: ${errorText(error)}`);
      return { status: 'critical', summary: `cannot get the TLS certificate of ${what} from ${context.host}: ${errorText(error)}`, value: null };
    }
    const daysLeft = (cert.validTo - context.now()) / 86_400_000;
    const rounded = Math.floor(daysLeft * 10) / 10;
    const subject = cert.subject.replace(/\n/g, ', ');
    const expires = new Date(cert.validTo).toISOString().slice(0, 10);
    const details = { subject, issuer: cert.issuer.replace(/\n/g, ', '), validFrom: new Date(cert.validFrom).toISOString(), validTo: new Date(cert.validTo).toISOString(), daysLeft: rounded, ...(cert.trustError ? { trustError: cert.trustError } : {}) };
    if (daysLeft <= 0) return { status: 'critical', summary: `the certificate of ${what} (${subject}) expired on ${expires} (checked on ${context.host})`, value: rounded, details };
    if (cert.validFrom > context.now()) return { status: 'critical', summary: `the certificate of ${what} (${subject}) is not valid before ${new Date(cert.validFrom).toISOString()} (checked on ${context.host})`, value: rounded, details };
    const status = daysLeft < p.criticalDays ? 'critical' : daysLeft < p.warningDays ? 'warning' : 'ok';
    return { status, summary: `the certificate of ${what} (${subject}) expires in ${rounded} days, on ${expires} (checked on ${context.host})`, value: rounded, details };
  },
});
