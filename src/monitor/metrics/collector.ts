import type pino from 'pino';
import type { Sample } from '../model.ts';
import { procStatSamples, readProcStat, type ProcStat } from './cpu.ts';
import { readDiskstats } from './disks.ts';
import { FilesystemCollector } from './filesystems.ts';
import { GpuCollector, type GpuCollectorOptions } from './gpus.ts';
import { JobCollector, type JobCollectorOptions } from './jobs.ts';
import { readLoadAndProcesses } from './load.ts';
import { readMeminfo } from './memory.ts';
import { readNetDev } from './network.ts';
import { readPressure } from './pressure.ts';

export interface NodeCollectorOptions {
  /** Where procfs is (tests point it elsewhere). */
  proc?: string;
  mountinfo?: string;
  /** Job cgroups under batch.cgroupParent; false: none. */
  jobs?: JobCollectorOptions | false;
  /** GPUs through nvidia-smi; false: none. */
  gpus?: GpuCollectorOptions | false;
  logger?: pino.Logger;
  now?: () => number;
}

/**
 * Everything the agent samples, in one call: every source is read on its own (one that fails
 * gives no series and a warning, the others go on). Concurrent callers share one collection, and
 * `latest(maxAgeMs)` reuses a recent one, so a Prometheus scrape right after a report costs nothing.
 */
export class NodeCollector {
  private previousStat: ProcStat | null = null;
  private readonly filesystems: FilesystemCollector;
  private readonly jobs: JobCollector | null;
  private readonly gpus: GpuCollector | null;
  private inFlight: Promise<Sample[]> | null = null;
  private last: { atMs: number; samples: Sample[] } | null = null;
  private readonly failing = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly options: NodeCollectorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.filesystems = new FilesystemCollector(options.mountinfo ? { mountinfo: options.mountinfo } : {});
    this.jobs = options.jobs === false || options.jobs === undefined ? null : new JobCollector(options.jobs);
    this.gpus = options.gpus === false ? null : new GpuCollector(options.gpus ?? {});
  }

  /**
   * A fresh collection (or the one in flight). `advance` (the report loop): the CPU busy ratios
   * of the next collections are taken from this one on; a scrape's collection does not move that
   * base, so the reported ratio covers the whole interval however often Prometheus scrapes.
   */
  collect(advance = true): Promise<Sample[]> {
    if (!this.inFlight) {
      this.inFlight = this.collectNow(advance).finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  /** The last collection if it is at most `maxAgeMs` old, else a fresh one. */
  async latest(maxAgeMs: number): Promise<Sample[]> {
    if (this.last && this.now() - this.last.atMs <= maxAgeMs) return this.last.samples;
    return this.collect(false);
  }

  private async collectNow(advance: boolean): Promise<Sample[]> {
    const proc = this.options.proc ?? '/proc';
    const nowMs = this.now();
    // /proc files are read synchronously (tiny, never blocking); statfs, cgroups and nvidia-smi asynchronously.
    const sources: Array<[string, () => Sample[] | Promise<Sample[]>]> = [
      [
        'stat',
        () => {
          const stat = readProcStat(proc);
          const samples = procStatSamples(stat, this.previousStat);
          if (advance || !this.previousStat) this.previousStat = stat;
          return samples;
        },
      ],
      ['loadavg', () => readLoadAndProcesses(proc, nowMs)],
      ['meminfo', () => readMeminfo(proc)],
      ['pressure', () => readPressure(proc)],
      ['filesystems', () => this.filesystems.collect(nowMs)],
      ['diskstats', () => readDiskstats(proc)],
      ['net/dev', () => readNetDev(proc)],
    ];
    if (this.jobs) sources.push(['jobs', () => this.jobs!.collect(nowMs)]);
    if (this.gpus) sources.push(['gpus', () => this.gpus!.collect(nowMs)]);
    const parts = await Promise.all(
      sources.map(async ([name, read]) => {
        try {
          const samples = await read();
          this.failing.delete(name);
          return samples;
        } catch (error) {
          // Say it once per outage of a source, not every interval.
          if (!this.failing.has(name)) this.options.logger?.warn({ source: name, reason: error instanceof Error ? error.message : String(error) }, 'cannot read metrics source; its series are left out');
          this.failing.add(name);
          return [];
        }
      }),
    );
    const samples = parts.flat();
    this.last = { atMs: nowMs, samples };
    return samples;
  }
}
