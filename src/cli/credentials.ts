import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Tickets the CLI holds, per server, in ~/.keisan/tickets.json (mode 0600, directory 0700),
 * like a Kerberos credential cache. KEISAN_HOME moves the directory.
 */
export interface StoredTicket {
  user: string;
  ticket: string;
  expiresAt: string;
  renewUntil: string;
}

interface CredentialFile {
  /** The server last logged in to: the default for later commands. */
  defaultServer?: string;
  tickets: Record<string, StoredTicket>;
}

export function keisanHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.KEISAN_HOME ? path.resolve(env.KEISAN_HOME) : path.join(homedir(), '.keisan');
}

const fileOf = (home: string) => path.join(home, 'tickets.json');

export function readCredentials(home = keisanHome()): CredentialFile {
  const file = fileOf(home);
  if (!existsSync(file)) return { tickets: {} };
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<CredentialFile>;
    return { ...(parsed.defaultServer ? { defaultServer: parsed.defaultServer } : {}), tickets: parsed.tickets ?? {} };
  } catch {
    // A damaged cache is as good as none: the user logs in again.
    return { tickets: {} };
  }
}

function writeCredentials(credentials: CredentialFile, home = keisanHome()): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  chmodSync(home, 0o700);
  const file = fileOf(home);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

export function saveTicket(server: string, ticket: StoredTicket, home = keisanHome()): void {
  const credentials = readCredentials(home);
  credentials.tickets[server] = ticket;
  credentials.defaultServer = server;
  writeCredentials(credentials, home);
}

export function updateTicketExpiry(server: string, expiresAt: string, home = keisanHome()): void {
  const credentials = readCredentials(home);
  const existing = credentials.tickets[server];
  if (!existing) return;
  credentials.tickets[server] = { ...existing, expiresAt };
  writeCredentials(credentials, home);
}

export function forgetTicket(server: string, home = keisanHome()): void {
  const credentials = readCredentials(home);
  delete credentials.tickets[server];
  writeCredentials(credentials, home);
}

export function ticketFor(server: string, home = keisanHome()): StoredTicket | undefined {
  return readCredentials(home).tickets[server];
}
