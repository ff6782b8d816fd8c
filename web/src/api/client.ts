import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

/** What the API says went wrong: its `{ error: { code, message } }`, or UNREACHABLE when no answer came. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TICKET_KEY = 'keisan.ticket';

export function savedTicket(): string | null {
  return localStorage.getItem(TICKET_KEY);
}

export function saveTicket(ticket: string | null): void {
  if (ticket) localStorage.setItem(TICKET_KEY, ticket);
  else localStorage.removeItem(TICKET_KEY);
}

type Listener = () => void;

/** Whether the last request reached the server; the shell shows a banner while it does not. */
export const connection = {
  reachable: true,
  listeners: new Set<Listener>(),
  set(reachable: boolean) {
    if (this.reachable === reachable) return;
    this.reachable = reachable;
    this.listeners.forEach((l) => l());
  },
  subscribe(listener: Listener) {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  },
};

/** Called when a ticket is refused (expired, revoked): the app goes back to the login page. */
export const session = { onExpired: (): void => {} };

const authMiddleware: Middleware = {
  onRequest({ request }) {
    const ticket = savedTicket();
    if (ticket && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${ticket}`);
    return request;
  },
  onResponse({ response, request }) {
    connection.set(true);
    if (response.status === 401 && !new URL(request.url).pathname.endsWith('/api/auth/login')) session.onExpired();
    return response;
  },
};

const client = createClient<paths>({ baseUrl: window.location.origin });
client.use(authMiddleware);

function errorOf(status: number, body: unknown): ApiError {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const error = (body as { error: unknown }).error;
    if (typeof error === 'object' && error !== null && 'message' in error && 'code' in error) {
      return new ApiError(status, String(error.code), String(error.message));
    }
  }
  return new ApiError(status, 'HTTP_' + status, `the server answered ${status}`);
}

/** The typed client: `await call(api.GET('/api/jobs', { params: { query: { all: 'true' } } }))`. */
export const api = client;

/** Unwraps an openapi-fetch result: the data, or an ApiError with the server's message. */
export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch (cause) {
    connection.set(false);
    throw new ApiError(0, 'UNREACHABLE', cause instanceof Error ? cause.message : String(cause));
  }
  if (!result.response.ok) {
    if (result.response.status >= 502 && result.response.status <= 504) connection.set(false);
    throw errorOf(result.response.status, result.error);
  }
  return result.data as T;
}

/** For bodies that are not JSON (job output, file content, PDF reports): a fetch with the ticket. */
export async function fetchWithTicket(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const ticket = savedTicket();
  if (ticket) headers.set('authorization', `Bearer ${ticket}`);
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (cause) {
    connection.set(false);
    throw new ApiError(0, 'UNREACHABLE', cause instanceof Error ? cause.message : String(cause));
  }
  connection.set(true);
  if (response.status === 401) session.onExpired();
  if (!response.ok) {
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      // not JSON
    }
    throw errorOf(response.status, body);
  }
  return response;
}
