import { z } from 'zod';
import { KeisanError } from '../../lib/errors.ts';
import { parseDuration } from '../../lib/units.ts';
import { duration } from '../../lib/zod-units.ts';

/**
 * keisan.yaml `ha:` (optional; absent = one server, nothing elected). Two or more `keisan server`
 * processes on one PostgreSQL database: one is active, the others stand by (src/server/ha/).
 * This module must not import src/lib/config.ts (config.ts imports `haSettings` from here).
 */

/** A server's public URL reduced to its origin (`http://host:port`), the form servers are compared in. */
export function serverOrigin(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new KeisanError('INVALID_INPUT', `'${text}' is not a server URL: write it like http://keisan1.example.org:8470`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new KeisanError('INVALID_INPUT', `'${text}' is not an http(s) URL: write it like https://keisan1.example.org:8470`);
  }
  return url.origin;
}

const serverUrl = z.string().transform((value, ctx) => {
  try {
    return serverOrigin(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    return z.NEVER;
  }
});

export const haSettings = z
  .object({
    /** Every server's public URL (this one's included), as clients and agents reach them. */
    servers: z.array(serverUrl).min(2, 'ha.servers lists every server of the pair (or more): at least two URLs, this one included'),
    /** This server's own URL, one of ha.servers (default: the one whose port is server.port on this host's name). */
    advertise: serverUrl.optional(),
    /** How often a standby tries to take over, and the active one checks that it still holds the lock. */
    pollEvery: duration.default(parseDuration('500ms')),
    /** The PostgreSQL advisory lock key the servers elect with (change only to run two facilities on one database). */
    lockKey: z.number().int().default(0x6b65_6973),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (new Set(value.servers).size !== value.servers.length) ctx.addIssue({ code: 'custom', path: ['servers'], message: 'ha.servers lists a URL twice' });
    if (value.advertise !== undefined && !value.servers.includes(value.advertise)) {
      ctx.addIssue({ code: 'custom', path: ['advertise'], message: `ha.advertise ${value.advertise} is not one of ha.servers (${value.servers.join(', ')}): list this server there too` });
    }
    if (value.pollEvery < 100 || value.pollEvery > 10_000) ctx.addIssue({ code: 'custom', path: ['pollEvery'], message: 'ha.pollEvery is between 100ms and 10s' });
  });

export type HaSettings = z.output<typeof haSettings>;

/**
 * Which URL of ha.servers is this server: ha.advertise, else the only one whose port is this
 * server's port and whose host is this machine's name or address (the pair's usual setup:
 * the same keisan.yaml on both hosts, each finding itself). Pure: the caller passes what it knows.
 */
export function advertisedUrl(ha: HaSettings, self: { port: number; hostNames: readonly string[] }): string {
  if (ha.advertise) return ha.advertise;
  const names = new Set(self.hostNames.map((n) => n.toLowerCase()));
  const matches = ha.servers.filter((s) => {
    const url = new URL(s);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return port === self.port && names.has(url.hostname.toLowerCase().replace(/^\[|\]$/g, ''));
  });
  if (matches.length === 1) return matches[0]!;
  throw new KeisanError(
    'INVALID_INPUT',
    matches.length === 0
      ? `ha: none of ha.servers (${ha.servers.join(', ')}) is this host (${[...names].join(', ')}) on port ${self.port}: set ha.advertise to this server's URL`
      : `ha: several of ha.servers (${matches.join(', ')}) could be this host: set ha.advertise to this server's URL`,
  );
}

/** HA needs PostgreSQL: the lock lives in its sessions, and the servers must share one database. */
export function requireHaDatabase(databaseUrl: string): void {
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new KeisanError(
      'INVALID_INPUT',
      'ha: is set in keisan.yaml, but the database is SQLite: two servers can only share a PostgreSQL database (database.url: postgres://…); remove ha: to run one server on SQLite',
    );
  }
}
