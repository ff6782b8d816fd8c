import type { Command } from '@commander-js/extra-typings';
import { daemonConnection } from '../ops/daemon-options.ts';

export function registerRecoveryCommands(program: Command): void {
  program
    .command('watchdog')
    .description('run the recovery watchdog; one per node, started first; `keisan up` runs it for you')
    .option('--data <dir>', 'data directory holding keisan.yaml and node-secret')
    .option('--server <url>', 'the Keisan server (default: from keisan.yaml)')
    .action(async (options) => {
      const { runWatchdogProcess } = await import('./watchdog.ts');
      await runWatchdogProcess(daemonConnection(options));
    });
}
