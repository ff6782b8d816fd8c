#!/usr/bin/env node
// The `keisan` command. Sources are TypeScript, run through tsx's loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Daemons (server, agent, watchdog, up) keep the event loop alive and exit on their own signals.
if (code !== 0 || !['server', 'agent', 'watchdog', 'up'].includes(process.argv[2] ?? '')) {
  process.exitCode = code;
}
