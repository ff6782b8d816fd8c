import { DEFAULT_PORT } from '../lib/config.ts';
import { isErrorCode, KeisanError } from '../lib/errors.ts';
import { readCredentials, ticketFor } from './credentials.ts';

/**
 * The CLI's HTTP client. The CLI never opens the database: everything goes through the API,
 * so the same rules and the same audit log apply whatever the interface.
 */
export function resolveServer(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = explicit || env.KEISAN_SERVER || readCredentials().defaultServer || `http://127.0.0.1:${DEFAULT_PORT}`;
  let url: URL;
  try {
    url = new URL(chosen);
  } catch {
    throw new KeisanError('INVALID_INPUT', `'${chosen}' is not a server URL: write it like http://127.0.0.1:${DEFAULT_PORT}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new KeisanError('INVALID_INPUT', `'${chosen}' is not an http(s) URL: write it like https://keisan.example.org:${DEFAULT_PORT}`);
  }
  return url.origin;
}

export class ApiClient {
  constructor(
    readonly server: string,
    private readonly ticket: string | undefined,
  ) {}

  /** A client carrying the stored ticket for `server`, if any. */
  static forServer(server: string): ApiClient {
    return new ApiClient(server, process.env.KEISAN_TICKET || ticketFor(server)?.ticket);
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
      response = await fetch(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(120_000) });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
      if (/certificate|self[- ]signed/i.test(cause)) {
        throw new KeisanError(
          'UNAVAILABLE',
          `cannot reach the Keisan server at ${this.server}: its TLS certificate is not trusted (${cause}). ` +
            'Set NODE_EXTRA_CA_CERTS to the file of the CA that signed it.',
        );
      }
      throw new KeisanError(
        'UNAVAILABLE',
        `cannot reach the Keisan server at ${this.server} (${cause}): is it running (keisan up)? Use --server URL or KEISAN_SERVER to name another`,
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new KeisanError('UNAVAILABLE', `${this.server} answered ${response.status} with something that is not Keisan's JSON: is it a Keisan server?`);
    }
    if (!response.ok) throw this.failure(response.status, parsed);
    return parsed as T;
  }

  /** The error a Keisan error body stands for (with its details, e.g. where an upload stands). */
  private failure(status: number, parsed: unknown): KeisanError {
    const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
    const code = isErrorCode(error?.code) ? error.code : status >= 500 ? 'INTERNAL' : 'INVALID_INPUT';
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
    if (code === 'NOT_AUTHENTICATED' && !this.ticket) {
      return new KeisanError(code, `you are not logged in to ${this.server}: run \`keisan login\``);
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
      response = await fetch(url, { method, headers, ...(options.body !== undefined ? { body: options.body } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
      throw new KeisanError('UNAVAILABLE', `cannot reach the Keisan server at ${this.server} (${cause})`);
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
