import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { formatTime } from '../../cli/output.ts';
import type { HaStatus } from './store.ts';

/** `keisan admin ha status`: every server of the HA set, its role, epoch and heartbeat (operators). */
export function registerHaCommands(admin: Command): void {
  const ha = admin.command('ha').description('the servers of an HA set (ha: in keisan.yaml): which one is active, which stand by');
  ha.command('status')
    .description('every keisan server sharing the database: role (active, standby, stopped), the epoch it took over in, last heartbeat, active since (operators)')
    .addHelpText('after', examples('keisan admin ha status', 'keisan admin ha status --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const status = await client.request<HaStatus>('GET', '/api/admin/ha');
      out.result({ ...status, answeredBy: client.answeredBy }, () => {
        out.fields([
          ['active', status.active ?? '(none: a takeover may be under way)'],
          ['epoch', status.epoch],
          ['answered by', client.answeredBy],
        ]);
        out.line();
        out.table(
          ['server', 'role', 'epoch', 'host', 'pid', 'active since', 'last heartbeat'],
          status.servers.map((s) => [s.url, s.role, s.epoch, s.host, s.pid, s.activeSince ? formatTime(s.activeSince) : '', formatTime(s.heartbeatAt)]),
        );
      });
    });
}
