/**
 * Sends recovery events to the server (POST /api/recovery/events, Authorization: Node <secret>)
 * without ever blocking the loop: `report()` queues and returns; one flush at a time drains the
 * queue in order. Unreachable server, 5xx, 404 (an older server), 408 and 429 are retried with a
 * backoff (1 s doubling to 30 s); any other 4xx drops that event with a log line (it will not get
 * better). The queue is bounded: beyond `maxQueued` the oldest events are dropped and counted.
 */
import type { Logger } from 'pino';
import type { ServerDecision } from './ask.ts';
import type { RecoveryEventInput } from './model.ts';
import { serverSet } from '../server/ha/follow.ts';

export interface ReporterOptions {
  serverUrl: string;
  nodeSecret: string;
  logger?: Pick<Logger, 'warn' | 'info'>;
  maxQueued?: number;
  /** Per request, ms (default 3000). */
  timeoutMs?: number;
  /** First retry delay, ms (default 1000); doubles to maxBackoffMs (default 30000). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export class EventReporter {
  private readonly queue: RecoveryEventInput[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  private backoff: number;
  private stopped = false;
  /** Events dropped because the queue was full, or refused by the server (4xx). */
  dropped = 0;
  refused = 0;
  sent = 0;

  constructor(private readonly options: ReporterOptions) {
    this.backoff = options.backoffMs ?? 1000;
  }

  get pending(): number {
    return this.queue.length;
  }

  report(event: RecoveryEventInput): void {
    if (this.stopped) return;
    this.queue.push(event);
    const max = this.options.maxQueued ?? 1000;
    while (this.queue.length > max) {
      this.queue.shift();
      this.dropped++;
    }
    if (!this.timer) void this.flush();
  }

  /** Sends what is queued, in order; on a retryable failure schedules the next try. */
  async flush(): Promise<void> {
    if (this.flushing || this.stopped) return;
    this.flushing = true;
    try {
      while (this.queue.length && !this.stopped) {
        const event = this.queue[0]!;
        const verdict = await this.send(event);
        if (verdict === 'retry') {
          this.schedule();
          return;
        }
        this.queue.shift();
        this.backoff = this.options.backoffMs ?? 1000;
      }
    } finally {
      this.flushing = false;
    }
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.options.maxBackoffMs ?? 30_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, wait);
    this.timer.unref();
  }

  private async send(event: RecoveryEventInput): Promise<'sent' | 'refused' | 'retry'> {
    try {
      const response = await serverSet(this.options.serverUrl).fetch('/api/recovery/events', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Node ${this.options.nodeSecret}` },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 3000),
      });
      const text = await response.text().catch(() => '');
      if (response.ok) {
        this.sent++;
        return 'sent';
      }
      if (response.status >= 500 || response.status === 404 || response.status === 408 || response.status === 429) return 'retry';
      this.refused++;
      this.options.logger?.warn({ status: response.status, body: text.slice(0, 500), rule: event.rule, jobId: event.jobId }, 'the server refused a recovery event; dropped');
      return 'refused';
    } catch {
      return 'retry';
    }
  }

  /**
   * Ask mode: the operators' decisions on these pending keys (GET /api/recovery/decisions). Throws
   * when the server cannot be reached; the loop then keeps waiting until its own deadline.
   */
  async decisions(host: string, keys: string[]): Promise<ServerDecision[]> {
    if (!keys.length) return [];
    const query = new URLSearchParams({ host, keys: keys.join(',') });
    const response = await serverSet(this.options.serverUrl).fetch(`/api/recovery/decisions?${query.toString()}`, {
      headers: { authorization: `Node ${this.options.nodeSecret}` },
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 3000),
    });
    if (!response.ok) throw new Error(`the server answered ${response.status} to GET /api/recovery/decisions`);
    return (await response.json()) as ServerDecision[];
  }

  /** Stops retrying; what is still queued is lost (logged by the caller from `pending`). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
