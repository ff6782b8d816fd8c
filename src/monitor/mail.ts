import { readFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { MailSettings } from '../lib/config.ts';
import { invalidInput } from '../lib/errors.ts';

/** One plain-text e-mail. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface SentMail {
  messageId: string;
  /** The SMTP server's last answer, e.g. `250 2.0.0 OK queued as 4F2A1`. */
  response: string;
}

/** What sends mail. The SMTP implementation is the only one: tests use a real SMTP server. */
export interface Mailer {
  send(message: MailMessage): Promise<SentMail>;
  /** `smtp.example.org:587 (STARTTLS)`, for logs and messages. */
  readonly server: string;
  close(): void;
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A mailer for `settings.mail`; a relative passwordFile is read from `baseDir` (the data
 * directory), once, so a missing or unreadable file stops the server at start with the reason.
 */
export function createMailer(settings: MailSettings, baseDir: string): Mailer {
  const { smtp } = settings;
  let auth: { user: string; pass: string } | undefined;
  if (smtp.user && smtp.passwordFile) {
    const file = path.resolve(baseDir, smtp.passwordFile);
    let pass: string;
    try {
      pass = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : error instanceof Error ? error.message : String(error);
      throw invalidInput(`mail.smtp.passwordFile: cannot read ${file} (${reason}): create it with the SMTP password for '${smtp.user}', mode 0600`);
    }
    if (pass === '') throw invalidInput(`mail.smtp.passwordFile: ${file} is empty: it should hold the SMTP password for '${smtp.user}'`);
    auth = { user: smtp.user, pass };
  }
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTls,
    ...(auth ? { auth } : {}),
    connectionTimeout: CONNECT_TIMEOUT_MS,
    greetingTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: 30_000,
  });
  const server = `${smtp.host}:${smtp.port}${smtp.secure ? ' (TLS)' : smtp.requireTls ? ' (STARTTLS)' : ''}`;
  return {
    server,
    async send(message) {
      try {
        const info = await transport.sendMail({ from: settings.from, to: message.to, subject: message.subject, text: message.text });
        return { messageId: info.messageId, response: info.response };
      } catch (error) {
        throw new MailError(describeMailError(error, settings), error);
      }
    },
    close() {
      transport.close();
    },
  };
}

/** A failed delivery, worded for an operator; `permanent` when trying again cannot help. */
export class MailError extends Error {
  readonly permanent: boolean;
  constructor(problem: { message: string; permanent: boolean }, cause: unknown) {
    super(problem.message, { cause });
    this.name = 'MailError';
    this.permanent = problem.permanent;
  }
}

interface SmtpFailure {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/** Turns nodemailer's error into what went wrong and where to look. */
export function describeMailError(error: unknown, settings: MailSettings): { message: string; permanent: boolean } {
  const { smtp } = settings;
  const where = `${smtp.host}:${smtp.port}`;
  const failure: SmtpFailure = typeof error === 'object' && error !== null ? (error as SmtpFailure) : { message: String(error) };
  const low = failure.originalCode ?? failure.code;
  const answer = failure.response?.trim();
  const check = 'check mail.smtp in keisan.yaml';
  switch (low) {
    case 'ECONNREFUSED':
      return { message: `could not connect to ${where}: connection refused — ${check}`, permanent: false };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { message: `could not connect to ${where}: no such host '${smtp.host}' — ${check}`, permanent: false };
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { message: `could not talk to ${where}: ${low === 'ETIMEDOUT' ? `no answer within ${CONNECT_TIMEOUT_MS / 1000} s` : low} — ${check} and the network between`, permanent: false };
  }
  switch (failure.code) {
    case 'EDNS':
      return { message: `could not connect to ${where}: no such host '${smtp.host}' — ${check}`, permanent: false };
    case 'EAUTH':
      return { message: `${where} refused the login of '${smtp.user ?? ''}': ${answer ?? failure.message ?? 'no reason given'} — check mail.smtp.user and the password file`, permanent: false };
    case 'ETLS':
      return { message: `${where} could not set up TLS: ${answer ?? failure.message ?? ''} — ${check} (requireTls needs a server offering STARTTLS)`, permanent: false };
    case 'ENOAUTH':
      return { message: `${where} wants a login: set mail.smtp.user and mail.smtp.passwordFile in keisan.yaml`, permanent: false };
    case 'EENVELOPE':
    case 'EMESSAGE': {
      const permanent = failure.responseCode !== undefined && failure.responseCode >= 500;
      return { message: `${where} refused the message: ${answer ?? failure.message ?? 'no reason given'}`, permanent };
    }
  }
  if (failure.code === 'ESOCKET' && /SSL|TLS|certificate|wrong version/i.test(failure.message ?? '')) {
    return { message: `TLS with ${where} failed: ${failure.message?.split('\n')[0] ?? ''} — ${check} (secure: true is for implicit TLS, usually port 465)`, permanent: false };
  }
  return { message: `sending through ${where} failed: ${failure.message ?? 'unknown error'}${answer ? ` (${answer})` : ''}`, permanent: false };
}
