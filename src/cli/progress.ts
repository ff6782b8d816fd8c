import { t } from '../lib/i18n/index.ts';
import { formatDuration, formatSize } from '../lib/units.ts';

/**
 * A one-line progress display for transfers on stderr: percentage, bytes, throughput and the
 * time left, redrawn at most ten times a second. Off (every call a no-op) when stderr is not a
 * terminal or the command prints JSON, so scripts and logs see only results.
 */
export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private done = 0;
  private shown = false;

  constructor(
    private readonly label: string,
    private readonly total: number | null,
    private readonly enabled: boolean,
    /** Bytes already there before this run (a resumed upload): not counted in the rate. */
    private readonly skipped = 0,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.done = skipped;
  }

  static for(label: string, total: number | null, options: { json: boolean }, skipped = 0): Progress {
    return new Progress(label, total, !options.json && process.stderr.isTTY === true, skipped);
  }

  /** `bytes` more arrived. */
  add(bytes: number): void {
    this.set(this.done + bytes);
  }

  set(done: number): void {
    this.done = done;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && (this.total === null || done < this.total)) return;
    this.lastDraw = now;
    this.draw(now);
  }

  /** The average rate of this run in bytes per second. */
  rate(now = Date.now()): number {
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    return (this.done - this.skipped) / seconds;
  }

  private draw(now: number): void {
    const rate = this.rate(now);
    const parts = [this.label];
    if (this.total !== null && this.total > 0) parts.push(`${Math.floor((this.done / this.total) * 100)}%`.padStart(4));
    parts.push(this.total !== null ? `${formatSize(this.done)} / ${formatSize(this.total)}` : formatSize(this.done));
    parts.push(`${formatSize(rate)}/s`);
    if (this.total !== null && rate > 0 && this.done < this.total) parts.push(t('cli.progress.left', { time: formatDuration(((this.total - this.done) / rate) * 1000) }));
    const line = parts.join('  ');
    const width = this.stream.columns ? this.stream.columns - 1 : 100;
    this.stream.write(`\r${line.slice(0, width).padEnd(Math.min(width, 80))}`);
    this.shown = true;
  }

  /** Clears the line (the command prints its result after). */
  finish(): void {
    if (this.enabled && this.shown) this.stream.write(`\r${' '.repeat(Math.min((this.stream.columns ?? 81) - 1, 100))}\r`);
  }
}
