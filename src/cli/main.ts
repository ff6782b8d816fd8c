import { Command } from '@commander-js/extra-typings';
import { registerAccountCommands } from '../accounts/commands.ts';
import { registerLdapCommands } from '../accounts/ldap/commands.ts';
import { registerBatchCommands, registerQueueCommands } from '../batch/commands.ts';
import { registerSlurmCommands } from '../batch/executors/slurm/commands.ts';
import { registerDeviceCommands } from '../devices/commands.ts';
import { registerIncidentCommands } from '../incidents/commands.ts';
import { registerStatusCommands } from '../incidents/status/commands.ts';
import { registerCheckCommands } from '../monitor/checks/commands.ts';
import { registerAlertCommands } from '../monitor/alerts/commands.ts';
import { registerMonitorCommands } from '../monitor/commands.ts';
import { registerMetricsCommands } from '../monitor/metrics/commands.ts';
import { registerOpsCommands } from '../ops/commands.ts';
import { registerInventoryCommands } from '../ops/inventory/commands.ts';
import { registerLoginHostCommands } from '../ops/login-hosts/commands.ts';
import { registerMaintenanceCommands } from '../ops/maint/commands.ts';
import { registerRunbookCommands } from '../ops/runbooks/commands.ts';
import { registerPowerCommands } from '../ops/power/commands.ts';
import { registerRecoveryCommands } from '../recovery/commands.ts';
import { registerServerCommands } from '../server/commands.ts';
import { registerHaCommands } from '../server/ha/commands.ts';
import { registerStorageCommands } from '../storage/commands.ts';
import { registerAreaCommands } from '../storage/areas/commands.ts';
import { registerHsmCommands } from '../storage/hsm/commands.ts';
import { t } from '../lib/i18n/index.ts';
import { newProgram, overrideExits, runProgram, useLanguageForRun } from './program.ts';

/** The `keisan` command tree: thin — parse, call the API client, print. */
export function buildProgram(): Command {
  const program = newProgram();
  const admin = new Command('admin').description(t('cli.admin'));
  registerOpsCommands(program, admin);
  registerServerCommands(program);
  registerMonitorCommands(program, admin);
  registerAlertCommands(program);
  registerCheckCommands(program);
  registerMetricsCommands(program);
  registerRecoveryCommands(program);
  registerInventoryCommands(program);
  registerLoginHostCommands(program);
  registerRunbookCommands(program);
  registerMaintenanceCommands(program);
  registerPowerCommands(program);
  registerAccountCommands(program, admin);
  registerBatchCommands(program);
  registerQueueCommands(program, admin);
  registerSlurmCommands(admin);
  registerLdapCommands(admin);
  registerHaCommands(admin);
  registerDeviceCommands(program, admin);
  registerIncidentCommands(program);
  registerStatusCommands(program);
  registerStorageCommands(program);
  registerAreaCommands(program, admin);
  // After the storage commands: adds `fs stage`, `fs stage-status` to their `fs`.
  registerHsmCommands(program, admin);
  program.addCommand(admin);
  overrideExits(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  useLanguageForRun(argv);
  return runProgram(buildProgram(), argv);
}
