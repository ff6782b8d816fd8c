import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../cli/context.ts';
import { formatTime } from '../cli/output.ts';
import { resolveDataDir } from '../lib/config.ts';
import { formatDuration } from '../lib/units.ts';
import { initDataDir } from '../server/facility.ts';
import { parsePort } from '../server/commands.ts';
import type { Daemon } from './daemons.ts';
import { t } from '../lib/i18n/index.ts';

export function registerOpsCommands(program: Command, admin: Command): void {
  program
    .command('init')
    .description(t('ops.init'))
    .option('--data <dir>', t('ops.init.opt.data'))
    .addHelpText('after', examples('keisan init', 'keisan init --data /var/lib/keisan'))
    .action((options, command) => {
      const out = outputOf(command);
      const result = initDataDir(resolveDataDir(options.data));
      out.result(result, () => {
        if (result.created.length === 0) out.line(t('ops.msg.is-already-initialised-nothing-was', { dataDir: result.dataDir }));
        else {
          out.line(t('ops.msg.initialised', { dataDir: result.dataDir }));
          for (const file of result.created) out.line(t('ops.msg.created', { file }));
          out.line(t('ops.msg.edit-keisan-yaml-then-run', { dataDir: result.dataDir }));
        }
      });
    });

  program
    .command('up')
    .description(t('ops.up'))
    .option('--data <dir>', t('ops.up.opt.data'))
    .option('--port <port>', t('ops.up.opt.port'), parsePort)
    .option('-q, --quiet', t('ops.up.opt.quiet'))
    .addHelpText('after', examples('keisan up', 'keisan up --data /srv/keisan --port 9000'))
    .action(async (options) => {
      const { runUp } = await import('./up.ts');
      await runUp({ dataDir: resolveDataDir(options.data), ...(options.port !== undefined ? { port: options.port } : {}), quiet: options.quiet === true });
    });

  admin
    .command('daemons')
    .description(t('ops.daemons'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Daemon[]>('GET', '/api/daemons');
      const now = Date.now();
      out.result(rows, () =>
        out.table(
          [t('col.host'), t('col.daemon'), t('col.state'), t('col.pid'), t('col.version'), t('col.last-heartbeat'), t('col.started')],
          rows.map((d) => [
            d.host,
            d.kind,
            d.state === 'up' ? pc.green('up') : d.state === 'stale' ? pc.red('stale') : pc.dim('stopped'),
            d.pid,
            d.version,
            `${formatDuration(now - new Date(d.lastHeartbeatAt).getTime())} ago`,
            formatTime(d.startedAt),
          ]),
          t('ops.empty.daemon-has-registered-yet'),
        ),
      );
    });
}
