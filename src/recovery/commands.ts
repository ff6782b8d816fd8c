import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { FACILITY_FILE, loadFacilityFile, resolveDataDir } from '../lib/config.ts';
import { daemonConnection } from '../ops/daemon-options.ts';

export function registerRecoveryCommands(program: Command): void {
  program
    .command('watchdog')
    .description('run the recovery watchdog; one per node, started first; `keisan up` runs it for you')
    .option('--data <dir>', 'data directory holding keisan.yaml and node-secret')
    .option('--server <url>', 'the Keisan server (default: from keisan.yaml)')
    .action(async (options) => {
      const { runWatchdogProcess } = await import('./watchdog.ts');
      // keisan.yaml's recovery and batch.cgroupParent settings where the data directory has one (else the defaults).
      const dataDir = resolveDataDir(options.data);
      const settings = existsSync(path.join(dataDir, FACILITY_FILE)) ? loadFacilityFile(dataDir).settings : undefined;
      await runWatchdogProcess({ ...daemonConnection(options), settings, dataDir });
    });
}
