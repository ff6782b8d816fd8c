import { cpus, hostname, totalmem } from 'node:os';
import type { Settings } from '../lib/config.ts';
import { parseSize } from '../lib/units.ts';
import type { GpuDevice, NodeResources } from './model.ts';

const GIB = 1024 ** 3;

/** Memory kept back from jobs: batch.memoryReserve, else 10 % of the machine, at least 1 GiB. */
export function memoryReserve(settings: Settings, total = totalmem()): number {
  const configured = settings.batch.memoryReserve;
  return configured !== undefined ? parseSize(configured) : Math.max(GIB, Math.round(total * 0.1));
}

/** This machine as the scheduler hands it out. */
export function localNode(settings: Settings, gpus: GpuDevice[]): NodeResources {
  const total = totalmem();
  return {
    name: hostname().split('.')[0] || 'localhost',
    cpus: settings.batch.cpus ?? cpus().length,
    memBytes: Math.max(0, total - memoryReserve(settings, total)),
    gpus,
    accepting: true,
  };
}
