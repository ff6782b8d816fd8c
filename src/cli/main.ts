import { Command, CommanderError } from '@commander-js/extra-typings';
import { registerAccountCommands } from '../accounts/commands.ts';
import { registerBatchCommands, registerQueueCommands } from '../batch/commands.ts';
import { registerDeviceCommands } from '../devices/commands.ts';
import { KeisanError } from '../lib/errors.ts';
import { KEISAN_VERSION } from '../lib/version.ts';
import { registerCheckCommands } from '../monitor/checks/commands.ts';
import { registerAlertCommands } from '../monitor/alerts/commands.ts';
import { registerMonitorCommands } from '../monitor/commands.ts';
import { registerMetricsCommands } from '../monitor/metrics/commands.ts';
import { registerOpsCommands } from '../ops/commands.ts';
import { registerRecoveryCommands } from '../recovery/commands.ts';
import { registerServerCommands } from '../server/commands.ts';
import { registerStorageCommands } from '../storage/commands.ts';
import { registerAreaCommands } from '../storage/areas/commands.ts';
import { registerHsmCommands } from '../storage/hsm/commands.ts';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, exitCodeFor, printError } from './output.ts';

/** The `keisan` command tree: thin — parse, call the API client, print. */
export function buildProgram(): Command {
  const program = new Command()
    .name('keisan')
    .description('Keisan (計算): a computing centre in a box')
    .version(KEISAN_VERSION, '-V, --version')
    .option('--server <url>', 'the Keisan server (default: $KEISAN_SERVER, the last one logged in to, or http://127.0.0.1:8470)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (text, write) => write(text) })
    .exitOverride();
  const admin = new Command('admin').description('administration: workgroups, subgroups, users, daemons, audit log, mail');
  registerOpsCommands(program, admin);
  registerServerCommands(program);
  registerMonitorCommands(program, admin);
  registerAlertCommands(program);
  registerCheckCommands(program);
  registerMetricsCommands(program);
  registerRecoveryCommands(program);
  registerAccountCommands(program, admin);
  registerBatchCommands(program);
  registerQueueCommands(program, admin);
  registerDeviceCommands(program, admin);
  registerStorageCommands(program);
  registerAreaCommands(program, admin);
  // After the storage commands: adds `fs stage`, `fs stage-status` to their `fs`.
  registerHsmCommands(program, admin);
  program.addCommand(admin);
  // Every subcommand reports usage errors through the same exit path.
  const override = (command: Command) => {
    for (const sub of command.commands) {
      sub.exitOverride().showHelpAfterError('(run with --help for usage)');
      override(sub as unknown as Command);
    }
  };
  override(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // `keisan jobs | head`: a reader that stops early is not an error (as with any Unix tool).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
      // A bare group such as `keisan admin` shows its help (exit code 1 from commander) and counts
      // as bad usage; `keisan help` asked for it.
      if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      return EXIT_USAGE;
    }
    printError(error, json);
    return error instanceof KeisanError ? exitCodeFor(error) : EXIT_FAILED;
  }
}
