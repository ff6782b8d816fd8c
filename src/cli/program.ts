import { Command, CommanderError } from '@commander-js/extra-typings';
import { KeisanError } from '../lib/errors.ts';
import { KEISAN_VERSION } from '../lib/version.ts';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, exitCodeFor, printError } from './output.ts';

/** The root of the `keisan` command tree with its global options; rooms add their commands. */
export function newProgram(): Command {
  return new Command()
    .name('keisan')
    .description('Keisan (計算): a computing centre in a box')
    .version(KEISAN_VERSION, '-V, --version')
    .option('--server <url>', 'the Keisan server, or URL,URL for the servers of an HA set (default: $KEISAN_SERVER, the last one logged in to, or http://127.0.0.1:8470)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (text, write) => write(text) })
    .exitOverride();
}

/** Every subcommand reports usage errors through the same exit path. */
export function overrideExits(command: Command): void {
  for (const sub of command.commands) {
    sub.exitOverride().showHelpAfterError('(run with --help for usage)');
    overrideExits(sub as unknown as Command);
  }
}

/** Parses and runs `argv`, printing errors; returns the exit code. */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  // `keisan jobs | head`: a reader that stops early is not an error (as with any Unix tool).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
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
