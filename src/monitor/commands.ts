import type { Command } from '@commander-js/extra-typings';
import { daemonConnection } from '../ops/daemon-options.ts';

export function registerMonitorCommands(program: Command): void {
  program
    .command('agent')
    .description('run the node agent (metrics, health checks, jobs); one per node; `keisan up` runs it for you')
    .option('--data <dir>', 'data directory holding keisan.yaml and node-secret')
    .option('--server <url>', 'the Keisan server (default: from keisan.yaml)')
    .action(async (options) => {
      const { runAgentProcess } = await import('./agent.ts');
      await runAgentProcess(daemonConnection(options));
    });
}
