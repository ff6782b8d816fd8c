import Table from 'cli-table3';
import pc from 'picocolors';
import { KeisanError } from '../lib/errors.ts';
import { formatDateTime, t } from '../lib/i18n/index.ts';

/** Exit codes every command uses: 0 done, 1 failed, 2 bad usage (wrong arguments or input). */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export function exitCodeFor(error: unknown): number {
  return error instanceof KeisanError && error.code === 'INVALID_INPUT' ? EXIT_USAGE : EXIT_FAILED;
}

export interface OutputOptions {
  json: boolean;
}

/** Prints results: JSON for scripts with --json, readable text otherwise. */
export class Output {
  constructor(readonly options: OutputOptions) {}

  get json(): boolean {
    return this.options.json;
  }

  /** With --json prints `data`; otherwise runs `human`. */
  result(data: unknown, human: () => void): void {
    if (this.options.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    else human();
  }

  line(text = ''): void {
    process.stdout.write(`${text}\n`);
  }

  /** A borderless table, like kubectl or squeue. */
  table(head: string[], rows: (string | number | null | undefined)[][], empty = t('cli.table.none')): void {
    if (rows.length === 0) {
      this.line(pc.dim(empty));
      return;
    }
    const table = new Table({
      head: head.map((h) => pc.bold(h)),
      chars: {
        top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
        left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
      },
      style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    });
    for (const row of rows) table.push(row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))));
    this.line(table.toString());
  }

  /** `key  value` lines for one object. */
  fields(pairs: [string, string | number | boolean | null | undefined][]): void {
    const width = Math.max(...pairs.map(([key]) => displayWidth(key)));
    for (const [key, value] of pairs) this.line(`${pc.bold(key + ' '.repeat(width - displayWidth(key)))}  ${value === null || value === undefined || value === '' ? pc.dim('-') : String(value)}`);
  }

  done(text: string): void {
    if (!this.options.json) this.line(text);
  }
}

/** Errors go to stderr as `keisan: message`; with --json as {error:{code,message}}. */
export function printError(error: unknown, json: boolean): void {
  if (error instanceof KeisanError) {
    if (json) process.stderr.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    else process.stderr.write(`${pc.red('keisan:')} ${error.message}\n`);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stderr.write(`${JSON.stringify({ error: { code: 'INTERNAL', message } })}\n`);
  else process.stderr.write(`${pc.red(t('cli.error.unexpected'))} ${message}\n${error instanceof Error && process.env.KEISAN_DEBUG ? error.stack : ''}`);
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return formatDateTime(new Date(iso));
}

/** Terminal columns a text takes: CJK and full-width characters take two. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(char) ? 2 : 1;
  return width;
}
