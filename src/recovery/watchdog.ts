import { writeFileSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import pino from 'pino';
import { untilSignal } from '../lib/process.ts';
import { DaemonLink } from '../ops/daemon-client.ts';

export interface WatchdogOptions {
  serverUrl: string;
  nodeSecret: string;
}

export interface Protections {
  /** The nice value the watchdog runs at, and whether raising its priority worked. */
  priority: { wanted: number; got: boolean; reason?: string };
  /** Whether the kernel's OOM killer was told to spare the watchdog. */
  oomScoreAdj: { wanted: number; got: boolean; reason?: string };
}

/**
 * Raises the watchdog's own priority and lowers its OOM score where permitted. Both need
 * privileges (CAP_SYS_NICE, CAP_SYS_RESOURCE) that a container's root may lack: the result
 * says what could not be had, so the operator knows how protected the recoverer is.
 */
export function protectSelf(): Protections {
  const protections: Protections = { priority: { wanted: -10, got: false }, oomScoreAdj: { wanted: -1000, got: false } };
  try {
    setPriority(0, constants.priority.PRIORITY_HIGH);
    protections.priority.got = true;
  } catch (error) {
    protections.priority.reason = error instanceof Error ? error.message : String(error);
  }
  try {
    writeFileSync('/proc/self/oom_score_adj', String(protections.oomScoreAdj.wanted));
    protections.oomScoreAdj.got = true;
  } catch (error) {
    protections.oomScoreAdj.reason = `${error instanceof Error ? error.message : String(error)} (lowering it needs CAP_SYS_RESOURCE)`;
  }
  return protections;
}

/**
 * `keisan watchdog`: one per node, a small process of its own, started before the others.
 * For now it protects itself and reports a heartbeat; detection and recovery build on it.
 */
export async function runWatchdogProcess(options: WatchdogOptions): Promise<void> {
  const logger = pino({ name: 'keisan-watchdog', level: process.env.KEISAN_LOG_LEVEL ?? 'info' });
  const protections = protectSelf();
  const missing = [
    ...(protections.priority.got ? [] : [`higher CPU priority (${protections.priority.reason})`]),
    ...(protections.oomScoreAdj.got ? [] : [`OOM-killer protection (${protections.oomScoreAdj.reason})`]),
  ];
  if (missing.length) logger.warn(`keisan watchdog runs without ${missing.join(' and ')}`);
  const link = new DaemonLink({
    kind: 'watchdog',
    serverUrl: options.serverUrl,
    nodeSecret: options.nodeSecret,
    logger,
    info: () => ({ priorityRaised: protections.priority.got, oomProtected: protections.oomScoreAdj.got }),
  });
  link.start();
  logger.info({ pid: process.pid, server: options.serverUrl }, 'keisan watchdog started');
  await untilSignal(logger, () => link.stop());
}
