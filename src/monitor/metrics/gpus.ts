import { queryComputeApps, sampleGpus, spawnRunner, type CommandRunner, type GpuComputeApp, type GpuSample } from '../../batch/gpus.ts';
import type { Sample } from '../model.ts';

/**
 * GPU series from nvidia-smi (src/batch/gpus.ts runs and parses it: `--query-gpu` and
 * `--query-compute-apps`). A machine without nvidia-smi has no GPU series, not an error.
 */
export function gpuSamples(gpus: readonly GpuSample[], apps: readonly GpuComputeApp[]): Sample[] {
  const out: Sample[] = [];
  const indexOfUuid = new Map(gpus.map((g) => [g.uuid, String(g.index)]));
  for (const g of gpus) {
    const labels = { gpu: String(g.index), uuid: g.uuid, name: g.name };
    const put = (name: string, value: number | null) => {
      if (value !== null) out.push({ name, labels, value });
    };
    put('keisan_gpu_utilization_ratio', g.utilizationGpuPercent === null ? null : g.utilizationGpuPercent / 100);
    put('keisan_gpu_memory_used_bytes', g.memUsedBytes);
    put('keisan_gpu_memory_total_bytes', g.memTotalBytes);
    put('keisan_gpu_temperature_celsius', g.temperatureC);
    put('keisan_gpu_power_watts', g.powerDrawW);
    put('keisan_gpu_power_limit_watts', g.powerLimitW);
    put('keisan_gpu_processes', apps.filter((a) => a.gpuUuid === g.uuid).length);
  }
  for (const a of apps) {
    const gpu = indexOfUuid.get(a.gpuUuid);
    if (gpu !== undefined && a.usedMemoryBytes !== null) out.push({ name: 'keisan_gpu_process_memory_bytes', labels: { gpu, pid: String(a.pid) }, value: a.usedMemoryBytes });
  }
  return out;
}

export interface GpuCollectorOptions {
  run?: CommandRunner;
  nvidiaSmi?: string;
  /** After nvidia-smi was found missing, look again only after this long (default 10 minutes). */
  recheckMs?: number;
}

export class GpuCollector {
  private missingUntil = 0;
  /** Why the last collection gave no GPUs; null when it gave some. */
  reason: string | null = null;

  constructor(private readonly options: GpuCollectorOptions = {}) {}

  async collect(nowMs = Date.now()): Promise<Sample[]> {
    if (nowMs < this.missingUntil) return [];
    const tool = { run: this.options.run ?? spawnRunner(10_000), ...(this.options.nvidiaSmi ? { nvidiaSmi: this.options.nvidiaSmi } : {}) };
    const gpus = await sampleGpus(tool);
    if (gpus.samples.length === 0) {
      this.reason = gpus.reason;
      // Not installed: do not fork a missing program every interval.
      if (gpus.reason?.includes('not installed')) this.missingUntil = nowMs + (this.options.recheckMs ?? 600_000);
      return [];
    }
    this.reason = null;
    const apps = await queryComputeApps(tool);
    return gpuSamples(gpus.samples, apps.apps);
  }
}
