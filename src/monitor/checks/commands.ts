import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import type { CheckStatus } from '../model.ts';
import type { HostCheckResult } from './routes.ts';
import { t } from '../../lib/i18n/index.ts';

const COLOURS: Record<CheckStatus, (text: string) => string> = { ok: pc.green, warning: pc.yellow, critical: pc.red, unknown: pc.magenta };

/** "12s", "4m", "3h", "2d": how long ago a result was taken. */
export function formatAge(iso: string, nowMs: number): string {
  const seconds = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

export function registerCheckCommands(program: Command): void {
  program
    .command('checks')
    .description(t('checks.checks'))
    .option('--host <host>', t('checks.checks.opt.host'))
    .option('--failing', t('checks.checks.opt.failing'))
    .option('--status <statuses>', t('checks.checks.opt.status'))
    .addHelpText('after', examples('keisan checks', 'keisan checks --failing', 'keisan checks --host node7 --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const status = options.failing ? 'failing' : options.status;
      const rows = await clientOf(command).request<HostCheckResult[]>('GET', '/api/monitor/checks', undefined, { host: options.host, status });
      // The server keeps results per host: show hosts together, the worst first within each.
      const order: Record<CheckStatus, number> = { critical: 0, warning: 1, unknown: 2, ok: 3 };
      const sorted = [...rows].sort((a, b) => a.host.localeCompare(b.host) || order[a.status] - order[b.status] || a.check.localeCompare(b.check));
      const now = Date.now();
      out.result(sorted, () =>
        out.table(
          [t('col.host'), t('col.check'), t('col.status'), t('col.summary'), t('col.age')],
          sorted.map((r) => [r.host, r.check, COLOURS[r.status](r.status), r.summary, formatAge(r.at, now)]),
          options.failing || options.status ? t('checks.empty.checks-in-that-state') : t('checks.empty.check-results-yet'),
        ),
      );
    });
}
