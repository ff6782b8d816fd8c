import { hostname } from 'node:os';
import type pino from 'pino';
import { KEISAN_VERSION } from '../lib/version.ts';
import type { DaemonKind } from './daemons.ts';
import { serverSet } from '../server/ha/follow.ts';

export interface DaemonLinkOptions {
  kind: DaemonKind;
  serverUrl: string;
  nodeSecret: string;
  logger: pino.Logger;
  /** What the daemon wants the server to show about it (capabilities, limits it could not get…). */
  info?: () => Record<string, string | number | boolean | null>;
  host?: string;
}

/**
 * Keeps a daemon registered with the server: registers (retrying with backoff while the server
 * is down), sends heartbeats at the interval the server asks for, re-registers when the server
 * forgot it, and says goodbye on stop. Never throws: a daemon outlives its server.
 */
export class DaemonLink {
  private id: number | undefined;
  private intervalMs = 15_000;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  private readonly startedAt = new Date().toISOString();
  private readonly host: string;

  constructor(private readonly options: DaemonLinkOptions) {
    this.host = options.host ?? hostname();
  }

  start(): void {
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.id !== undefined) {
      await this.post(`/api/daemons/${this.id}/stopped`, { pid: process.pid }).catch(() => undefined);
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.id === undefined) await this.register();
      else await this.heartbeat();
      this.failures = 0;
    } catch (error) {
      this.failures++;
      const message = error instanceof Error ? error.message : String(error);
      // Log the first failure and then every tenth, so a long server outage does not flood the log.
      if (this.failures === 1 || this.failures % 10 === 0) {
        this.options.logger.warn({ server: this.options.serverUrl, failures: this.failures, reason: message }, 'cannot reach the keisan server; will retry');
      }
    }
    if (this.stopped) return;
    const delay = this.failures === 0 ? this.intervalMs : Math.min(1000 * 2 ** Math.min(this.failures - 1, 5), this.intervalMs);
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref?.();
  }

  private async register(): Promise<void> {
    const reply = await this.post('/api/daemons/register', {
      kind: this.options.kind,
      host: this.host,
      pid: process.pid,
      version: KEISAN_VERSION,
      startedAt: this.startedAt,
      info: this.options.info?.() ?? {},
    });
    this.id = reply.id;
    this.intervalMs = reply.heartbeatIntervalSeconds * 1000;
    this.options.logger.info({ id: this.id, host: this.host, server: this.options.serverUrl, heartbeatSeconds: reply.heartbeatIntervalSeconds }, 'registered with the keisan server');
  }

  private async heartbeat(): Promise<void> {
    try {
      const reply = await this.post(`/api/daemons/${this.id}/heartbeat`, { pid: process.pid, info: this.options.info?.() ?? {} });
      this.intervalMs = reply.heartbeatIntervalSeconds * 1000;
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) {
        this.id = undefined;
        await this.register();
        return;
      }
      throw error;
    }
  }

  private async post(route: string, body: unknown): Promise<{ id: number; heartbeatIntervalSeconds: number }> {
    const response = await serverSet(this.options.serverUrl).fetch(route, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Node ${this.options.nodeSecret}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new HttpError(response.status, text.slice(0, 300));
    return JSON.parse(text) as { id: number; heartbeatIntervalSeconds: number };
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`HTTP ${status}: ${body}`);
  }
}
