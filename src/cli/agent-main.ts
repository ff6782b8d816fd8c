import { Command } from '@commander-js/extra-typings';
import { registerMonitorCommands } from '../monitor/commands.ts';
import { overrideExits, newProgram, runProgram } from './program.ts';

/**
 * `keisan agent` on its own: the same command as in the full tree, without loading the rest of
 * Keisan (server, storage, batch…). bin/keisan.js runs it from a prebuilt bundle (bin/bundle.js)
 * so the agent needs neither tsx nor the other rooms' modules in memory on every node.
 */
export async function main(argv: string[]): Promise<number> {
  const program = newProgram();
  registerMonitorCommands(program, new Command('admin'));
  overrideExits(program);
  return runProgram(program, argv);
}
