import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../cli/context.ts';
import { formatTime } from '../cli/output.ts';
import { resolveDataDir } from '../lib/config.ts';
import { formatDuration } from '../lib/units.ts';
import { initDataDir } from '../server/facility.ts';
import { parsePort } from '../server/commands.ts';
import type { Daemon } from './daemons.ts';

export function registerOpsCommands(program: Command, admin: Command): void {
  program
    .command('init')
    .description('create a data directory with a facility file (keisan.yaml) holding the defaults')
    .option('--data <dir>', 'data directory (default: $KEISAN_DATA or ~/.local/share/keisan)')
    .addHelpText('after', examples('keisan init', 'keisan init --data /var/lib/keisan'))
    .action((options, command) => {
      const out = outputOf(command);
      const result = initDataDir(resolveDataDir(options.data));
      out.result(result, () => {
        if (result.created.length === 0) out.line(`${result.dataDir} is already initialised; nothing was changed.`);
        else {
          out.line(`Initialised ${result.dataDir}:`);
          for (const file of result.created) out.line(`  created ${file}`);
          out.line(`Edit keisan.yaml, then run: keisan up --data ${result.dataDir}`);
        }
      });
    });

  program
    .command('up')
    .description('run the whole facility on this machine: watchdog, server and agent, supervised')
    .option('--data <dir>', 'data directory (default: $KEISAN_DATA or ~/.local/share/keisan); created if missing')
    .option('--port <port>', 'serve on this port instead of server.port', parsePort)
    .option('-q, --quiet', "don't show the daemons' log lines (they are in DATA/logs/)")
    .addHelpText('after', examples('keisan up', 'keisan up --data /srv/keisan --port 9000'))
    .action(async (options) => {
      const { runUp } = await import('./up.ts');
      await runUp({ dataDir: resolveDataDir(options.data), ...(options.port !== undefined ? { port: options.port } : {}), quiet: options.quiet === true });
    });

  admin
    .command('daemons')
    .description('the agents and watchdogs registered with the server, and whether they are up (operators)')
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Daemon[]>('GET', '/api/daemons');
      const now = Date.now();
      out.result(rows, () =>
        out.table(
          ['HOST', 'DAEMON', 'STATE', 'PID', 'VERSION', 'LAST HEARTBEAT', 'STARTED'],
          rows.map((d) => [
            d.host,
            d.kind,
            d.state === 'up' ? pc.green('up') : d.state === 'stale' ? pc.red('stale') : pc.dim('stopped'),
            d.pid,
            d.version,
            `${formatDuration(now - new Date(d.lastHeartbeatAt).getTime())} ago`,
            formatTime(d.startedAt),
          ]),
          '(no daemon has registered yet)',
        ),
      );
    });
}
