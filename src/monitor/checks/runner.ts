import type pino from 'pino';
import type { CheckResult } from '../model.ts';

export interface CheckRunnerOptions {
  host: string;
  serverUrl: string;
  nodeSecret: string;
  /** The node's roles (login, compute, storage, server…): they pick the essential processes and default checks. */
  roles: readonly string[];
  logger: pino.Logger;
  /** Called with every finished check; the agent pushes changed results to the server at once. */
  onResult: (result: CheckResult) => void;
}

export interface CheckRunner {
  start(): void;
  stop(): Promise<void>;
}

/** Placeholder until src/monitor/checks lands: runs no checks. */
export function createCheckRunner(options: CheckRunnerOptions): CheckRunner {
  void options;
  return { start() {}, async stop() {} };
}
