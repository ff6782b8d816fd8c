/**
 * Following the active server of an HA set, for the CLI and the daemons (agent, watchdog). Kept
 * free of other Keisan modules: the agent's bundle includes it.
 *
 * A request goes to the server that answered last; when that one refuses the connection or
 * answers 503 as a standby, the next is tried (the one a standby names as active first), round
 * after round, until one answers or `waitMs` has passed (a takeover takes a few seconds).
 */

/** Every standby (and a fenced server) sets these on its answers. */
export const ROLE_HEADER = 'x-keisan-role';
export const ACTIVE_HEADER = 'x-keisan-active';

/** How one try at one server went. */
export type Attempt =
  | { kind: 'answer'; status: number; standby: boolean; active: string | null }
  | { kind: 'unreachable'; code: string | null };

export type FollowDecision = { kind: 'done' } | { kind: 'next'; hint: string | null } | { kind: 'fail' };

/** Connection errors that mean the request never reached a server: safe to send elsewhere whatever the method. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNABORTED']);
/** Methods that may be sent again after a connection broke mid-request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What to do after one try (pure). */
export function decide(attempt: Attempt, method: string): FollowDecision {
  if (attempt.kind === 'answer') return attempt.standby ? { kind: 'next', hint: attempt.active } : { kind: 'done' };
  if ((attempt.code && NEVER_SENT.has(attempt.code)) || IDEMPOTENT.has(method.toUpperCase())) return { kind: 'next', hint: null };
  return { kind: 'fail' };
}

/** The servers in the order to try them: the preferred one (last to answer), then the others as listed (pure). */
export function attemptOrder(servers: readonly string[], preferred: string | null): string[] {
  if (!preferred || !servers.includes(preferred)) return [...servers];
  return [preferred, ...servers.filter((s) => s !== preferred)];
}

/** Splits `--server a,b` (or KEISAN_SERVER) into the URLs it names, in order, without repeats (pure). */
export function splitServerList(text: string): string[] {
  return [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))];
}

/** The error code inside a failed fetch (undici puts it on the cause). */
export function networkCode(error: unknown): string | null {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}

export interface FollowerOptions {
  /** Keep trying this long when no server answers (a takeover under way). */
  waitMs?: number;
  /** Between rounds in which no server answered. */
  pauseMs?: number;
  /** Called when a different server than before answered (to remember it). */
  onAnswer?: (server: string) => void;
}

/** A fetch over every server of an HA set (one server: a plain fetch with its errors). */
export class ServerFollower {
  private current: string;
  private readonly known: string[];

  constructor(
    servers: readonly string[],
    private readonly options: FollowerOptions = {},
    preferred: string | null = null,
  ) {
    if (servers.length === 0) throw new Error('ServerFollower needs at least one server');
    this.known = [...servers];
    this.current = attemptOrder(servers, preferred)[0]!;
  }

  /** Every server known: those given, and any a standby named as the active one. */
  get servers(): readonly string[] {
    return this.known;
  }

  /** The server that answered last (or the first to try). */
  get server(): string {
    return this.current;
  }

  async fetch(route: string, init: RequestInit = {}): Promise<Response> {
    const method = (init.method ?? 'GET').toUpperCase();
    const waitMs = this.servers.length > 1 ? (this.options.waitMs ?? 15_000) : 0;
    const deadline = Date.now() + waitMs;
    let lastError: unknown = null;
    let lastStandby: Response | null = null;
    for (;;) {
      const queue = attemptOrder(this.servers, this.current);
      const tried = new Set<string>();
      while (queue.length) {
        const server = queue.shift()!;
        if (tried.has(server)) continue;
        tried.add(server);
        let attempt: Attempt;
        let response: Response | null = null;
        try {
          response = await fetch(new URL(route, server), init);
          const standby = response.status === 503 && response.headers.get(ROLE_HEADER) === 'standby';
          attempt = { kind: 'answer', status: response.status, standby, active: response.headers.get(ACTIVE_HEADER) };
        } catch (error) {
          if (init.signal?.aborted) throw error;
          lastError = error;
          attempt = { kind: 'unreachable', code: networkCode(error) };
        }
        const decision = decide(attempt, method);
        if (decision.kind === 'done') {
          await lastStandby?.body?.cancel().catch(() => undefined);
          if (server !== this.current) {
            this.current = server;
            this.options.onAnswer?.(server);
          }
          return response!;
        }
        if (decision.kind === 'fail') throw lastError;
        if (response) {
          await lastStandby?.body?.cancel().catch(() => undefined);
          lastStandby = response;
        }
        if (decision.hint && !tried.has(decision.hint) && /^https?:\/\//.test(decision.hint)) {
          if (!this.known.includes(decision.hint)) this.known.push(decision.hint);
          queue.unshift(decision.hint);
        }
      }
      if (Date.now() >= deadline) {
        // A standby's answer says more (who is active) than a refused connection.
        if (lastStandby) return lastStandby;
        throw lastError ?? new Error('no server answered');
      }
      await lastStandby?.body?.cancel().catch(() => undefined);
      lastStandby = null;
      lastError = null;
      await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs ?? 250));
    }
  }
}

/**
 * The daemons' (agent, watchdog, `keisan login-check`) followers, one per server set, keyed by
 * the first server's URL — the `serverUrl` their options carry. `useServerSet` is called once
 * at start with every server (src/ops/daemon-options.ts); a URL never registered is a set of one.
 */
const daemonSets = new Map<string, ServerFollower>();

export function useServerSet(servers: readonly string[], options: FollowerOptions = {}): string {
  const key = servers[0]!;
  daemonSets.set(key, new ServerFollower(servers, options));
  return key;
}

export function serverSet(serverUrl: string): ServerFollower {
  let follower = daemonSets.get(serverUrl);
  if (!follower) {
    follower = new ServerFollower([serverUrl]);
    daemonSets.set(serverUrl, follower);
  }
  return follower;
}
