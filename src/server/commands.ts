import type { Command } from '@commander-js/extra-typings';
import { examples } from '../cli/context.ts';
import { resolveDataDir } from '../lib/config.ts';
import { invalidInput } from '../lib/errors.ts';
import { t } from '../lib/i18n/index.ts';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw invalidInput(t('server.input.port-must-be-a-port', { value }));
  return port;
}

export function registerServerCommands(program: Command): void {
  program
    .command('server')
    .description(t('server.server'))
    .option('--data <dir>', t('server.server.opt.data'))
    .option('--port <port>', t('server.server.opt.port'), parsePort)
    .option('--host <address>', t('server.server.opt.host'))
    .addHelpText('after', examples('keisan server --data /var/lib/keisan', 'KEISAN_DATABASE_URL=postgres://keisan@db/keisan keisan server'))
    .action(async (options) => {
      const { runServerProcess } = await import('./main.ts');
      const envPort = process.env.KEISAN_PORT ? parsePort(process.env.KEISAN_PORT) : undefined;
      const port = options.port ?? envPort;
      await runServerProcess({
        dataDir: resolveDataDir(options.data),
        ...(port !== undefined ? { port } : {}),
        ...(options.host ? { host: options.host } : {}),
      });
    });
}
