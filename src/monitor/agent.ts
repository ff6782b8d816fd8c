import { cpus, loadavg, totalmem } from 'node:os';
import pino from 'pino';
import { untilSignal } from '../lib/process.ts';
import { DaemonLink } from '../ops/daemon-client.ts';

export interface AgentOptions {
  serverUrl: string;
  nodeSecret: string;
}

/**
 * `keisan agent`: one per node. For now it registers the node with the server and reports a
 * heartbeat carrying the node's size; metrics, health checks and job execution build on it.
 */
export async function runAgentProcess(options: AgentOptions): Promise<void> {
  const logger = pino({ name: 'keisan-agent', level: process.env.KEISAN_LOG_LEVEL ?? 'info' });
  const link = new DaemonLink({
    kind: 'agent',
    serverUrl: options.serverUrl,
    nodeSecret: options.nodeSecret,
    logger,
    info: () => ({
      cpus: cpus().length,
      memoryBytes: totalmem(),
      load1: Math.round(loadavg()[0]! * 100) / 100,
    }),
  });
  link.start();
  logger.info({ pid: process.pid, server: options.serverUrl }, 'keisan agent started');
  await untilSignal(logger, () => link.stop());
}
