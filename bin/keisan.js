#!/usr/bin/env node
// The `keisan` command. Sources are TypeScript, run through tsx's loader — except the agent,
// and the watchdog, which run from prebuilt bundles (bin/bundle.js) to stay small on every node.
const command = process.argv[2] ?? '';
if (command === 'watchdog') {
  // The recoverer must stay small: a young generation of 1 MiB instead of 16 keeps its RSS ~30 MiB lower
  // (it allocates a little every tick; the GC cost of the smaller space is well under 0.1 % of a core).
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--max-semi-space-size=1');
}
const BUNDLED = { agent: 'src/cli/agent-main.ts', watchdog: 'src/cli/watchdog-main.ts' };
let main;
if (Object.hasOwn(BUNDLED, command) && process.env.KEISAN_NO_BUNDLE !== '1') {
  const { daemonBundle } = await import('./bundle.js');
  const bundle = await daemonBundle(command, BUNDLED[command]);
  if (bundle) ({ main } = await import(bundle));
}
if (!main) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
const code = await main(process.argv.slice(2));
// Daemons (server, agent, watchdog, up) keep the event loop alive and exit on their own signals.
// A command may set its own exit code (submit --wait: the job's; a failed stage or sync: 1) and still return 0.
if (code !== 0 || !['server', 'agent', 'watchdog', 'up'].includes(command)) {
  process.exitCode = code !== 0 ? code : (process.exitCode ?? 0);
}
