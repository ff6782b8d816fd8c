import { registerRecoveryCommands } from '../recovery/commands.ts';
import { overrideExits, newProgram, runProgram } from './program.ts';

/**
 * `keisan watchdog` on its own, like agent-main.ts: bin/keisan.js runs it from a prebuilt
 * bundle so the recoverer needs neither tsx nor the server's modules in memory (the watchdog
 * must stay small: it is the process that has to keep working when memory runs out).
 */
export async function main(argv: string[]): Promise<number> {
  const program = newProgram();
  registerRecoveryCommands(program);
  overrideExits(program);
  return runProgram(program, argv);
}
