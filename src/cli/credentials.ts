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
  /** HA: every server of the set this ticket is for (the key is the first); a ticket works on each. */
  servers?: string[];
  /** HA: the server that answered last, tried first next time. */
  active?: string;
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

/** The key of the ticket for `server`: itself, or the HA set's first server when `server` is one of its servers. */
function keyOf(credentials: CredentialFile, server: string): string | undefined {
  if (credentials.tickets[server]) return server;
  return Object.entries(credentials.tickets).find(([, t]) => t.servers?.includes(server))?.[0];
}

export function saveTicket(server: string, ticket: StoredTicket, home = keisanHome()): void {
  const credentials = readCredentials(home);
  // A ticket for an HA set replaces tickets stored under its other servers' names.
  for (const other of ticket.servers ?? []) if (other !== server) delete credentials.tickets[other];
  credentials.tickets[server] = ticket;
  credentials.defaultServer = server;
  writeCredentials(credentials, home);
}

export function updateTicketExpiry(server: string, expiresAt: string, home = keisanHome()): void {
  const credentials = readCredentials(home);
  const key = keyOf(credentials, server);
  if (!key) return;
  credentials.tickets[key] = { ...credentials.tickets[key]!, expiresAt };
  writeCredentials(credentials, home);
}

/** HA: remembers which server of the set answered, so that the next command goes there first. */
export function rememberActive(server: string, active: string, home = keisanHome()): void {
  const credentials = readCredentials(home);
  const key = keyOf(credentials, server);
  if (!key || credentials.tickets[key]!.active === active) return;
  credentials.tickets[key] = { ...credentials.tickets[key]!, active };
  writeCredentials(credentials, home);
}

export function forgetTicket(server: string, home = keisanHome()): void {
  const credentials = readCredentials(home);
  const key = keyOf(credentials, server);
  if (key) delete credentials.tickets[key];
  writeCredentials(credentials, home);
}

/** The ticket for `server`, also when `server` is any server of an HA set the ticket is for. */
export function ticketFor(server: string, home = keisanHome()): (StoredTicket & { key: string }) | undefined {
  const credentials = readCredentials(home);
  const key = keyOf(credentials, server);
  return key ? { ...credentials.tickets[key]!, key } : undefined;
}
