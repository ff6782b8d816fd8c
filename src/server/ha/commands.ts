import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { formatTime } from '../../cli/output.ts';
import type { HaStatus } from './store.ts';
import { t } from '../../lib/i18n/index.ts';

/** `keisan admin ha status`: every server of the HA set, its role, epoch and heartbeat (operators). */
export function registerHaCommands(admin: Command): void {
  const ha = admin.command('ha').description(t('ha.ha'));
  ha.command('status')
    .description(t('ha.ha.status'))
    .addHelpText('after', examples('keisan admin ha status', 'keisan admin ha status --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const status = await client.request<HaStatus>('GET', '/api/admin/ha');
      out.result({ ...status, answeredBy: client.answeredBy }, () => {
        out.fields([
          [t('field.active'), status.active ?? '(none: a takeover may be under way)'],
          [t('field.epoch'), status.epoch],
          [t('field.answered-by'), client.answeredBy],
        ]);
        out.line();
        out.table(
          [t('col.server'), t('col.role'), t('col.epoch'), t('col.host2'), t('col.pid2'), t('col.active-since'), t('col.last-heartbeat2')],
          status.servers.map((s) => [s.url, s.role, s.epoch, s.host, s.pid, s.activeSince ? formatTime(s.activeSince) : '', formatTime(s.heartbeatAt)]),
        );
      });
    });
}
