import { DEFAULT_PORT } from '../lib/config.ts';
import { isErrorCode, KeisanError } from '../lib/errors.ts';
import { t } from '../lib/i18n/index.ts';
import { ServerFollower, splitServerList } from '../server/ha/follow.ts';
import { readCredentials, rememberActive, ticketFor } from './credentials.ts';

/**
 * The CLI's HTTP client. The CLI never opens the database: everything goes through the API,
 * so the same rules and the same audit log apply whatever the interface.
 */
export function resolveServer(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolveServers(explicit, env)[0]!;
}

/** Every server named by --server / KEISAN_SERVER (`a,b` for the servers of an HA set), else the last one logged in to. */
export function resolveServers(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const chosen = explicit || env.KEISAN_SERVER || readCredentials().defaultServer || `http://127.0.0.1:${DEFAULT_PORT}`;
  const list = splitServerList(chosen).map(checkedOrigin);
  if (list.length === 0) throw new KeisanError('INVALID_INPUT', t('cli.server.none', { chosen, port: DEFAULT_PORT }));
  return list;
}

function checkedOrigin(chosen: string): string {
  let url: URL;
  try {
    url = new URL(chosen);
  } catch {
    throw new KeisanError('INVALID_INPUT', t('cli.server.not-url', { chosen, port: DEFAULT_PORT }));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new KeisanError('INVALID_INPUT', t('cli.server.not-http', { chosen, port: DEFAULT_PORT }));
  }
  return url.origin;
}

export class ApiClient {
  private readonly follower: ServerFollower;

  /**
   * `server` names the facility (the key of its stored ticket); with an HA set `servers` lists
   * every server, and requests follow the active one (src/server/ha/follow.ts).
   */
  constructor(
    readonly server: string,
    private readonly ticket: string | undefined,
    servers: readonly string[] = [server],
    options: { preferred?: string | null; onAnswer?: (server: string) => void } = {},
  ) {
    this.follower = new ServerFollower(servers.length ? servers : [server], options.onAnswer ? { onAnswer: options.onAnswer } : {}, options.preferred ?? null);
  }

  /** A client carrying the stored ticket for `server`, if any. */
  static forServer(server: string): ApiClient {
    return ApiClient.forServers([server]);
  }

  /** A client for the servers named (an HA set's, or one), with the ticket stored for any of them and every server that ticket knows. */
  static forServers(named: readonly string[]): ApiClient {
    const stored = named.map((s) => ticketFor(s)).find((t) => t !== undefined);
    const key = stored?.key ?? named[0]!;
    const servers = [...new Set([...named, ...(stored?.servers ?? [])])];
    return new ApiClient(key, process.env.KEISAN_TICKET || stored?.ticket, servers, {
      preferred: stored?.active ?? null,
      ...(stored ? { onAnswer: (answered: string) => rememberActive(key, answered) } : {}),
    });
  }

  /** Every server this client may send to (one, or an HA set's). */
  get servers(): readonly string[] {
    return this.follower.servers;
  }

  /** The server that answered last. */
  get answeredBy(): string {
    return this.follower.server;
  }

  private get where(): string {
    return this.servers.length > 1 ? t('cli.server.any-of', { servers: this.servers.join(', ') }) : this.server;
  }

  get hasTicket(): boolean {
    return this.ticket !== undefined;
  }

  async request<T>(method: string, route: string, body?: unknown, query?: Record<string, string | number | boolean | undefined>): Promise<T> {
    const url = new URL(route, this.server);
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.ticket) headers.authorization = `Bearer ${this.ticket}`;
    let response: Response;
    try {
      response = await this.follower.fetch(url.pathname + url.search, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(120_000) });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
      if (/certificate|self[- ]signed/i.test(cause)) {
        throw new KeisanError('UNAVAILABLE', t('cli.server.untrusted-tls', { where: this.where, cause }));
      }
      throw new KeisanError('UNAVAILABLE', t('cli.server.unreachable', { where: this.where, cause }));
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new KeisanError('UNAVAILABLE', t('cli.server.not-keisan', { server: this.answeredBy, status: response.status }));
    }
    if (!response.ok) throw this.failure(response.status, parsed);
    return parsed as T;
  }

  /** The error a Keisan error body stands for (with its details, e.g. where an upload stands). */
  private failure(status: number, parsed: unknown): KeisanError {
    const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
    // A standby's STANDBY (after following found no active server) is an outage like any 503.
    const code = isErrorCode(error?.code) ? error.code : status === 503 ? 'UNAVAILABLE' : status >= 500 ? 'INTERNAL' : 'INVALID_INPUT';
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
    if (code === 'NOT_AUTHENTICATED' && !this.ticket) {
      return new KeisanError(code, t('cli.not-logged-in', { server: this.server }));
    }
    const details = typeof error?.details === 'object' && error.details !== null ? (error.details as Record<string, unknown>) : undefined;
    return new KeisanError(code, message, details);
  }

  /**
   * A request whose body or answer is bytes (storage put and get): returns the response when it
   * is a success, for the caller to stream; failures become KeisanErrors like `request`'s. No
   * overall time limit (a download may take hours); `signal` may abort it.
   */
  async raw(method: string, route: string, options: { query?: Record<string, string | number | undefined>; headers?: Record<string, string>; body?: Uint8Array; signal?: AbortSignal } = {}): Promise<Response> {
    const url = new URL(route, this.server);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { ...options.headers };
    if (this.ticket) headers.authorization = `Bearer ${this.ticket}`;
    let response: Response;
    try {
      response = await this.follower.fetch(url.pathname + url.search, { method, headers, ...(options.body !== undefined ? { body: options.body } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
      throw new KeisanError('UNAVAILABLE', t('cli.server.unreachable-short', { where: this.where, cause }));
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    throw this.failure(response.status, parsed);
  }
}
