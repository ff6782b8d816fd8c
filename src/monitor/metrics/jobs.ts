import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { detectCgroupLayout, type CgroupLayout } from '../../batch/executors/local/cgroups.ts';
import { openSlurmJobs, type SlurmNodeJobs } from '../../recovery/slurm-node.ts';
import { SlurmProcessTree } from '../../recovery/slurm-processes.ts';
import type { Sample } from '../model.ts';

/**
 * Per-job usage from the local executor's cgroups (src/batch/executors/local/cgroups.ts): one
 * `job-<id>` per running job under `batch.cgroupParent` (default `keisan`) in each hierarchy.
 * - v1: memory.usage_in_bytes, memory.limit_in_bytes, cpuacct.usage (ns), pids.current — each in
 *   its controller's mount; cpu.stat usage_usec of the cgroup2 side hierarchy when cpuacct is missing.
 * - v2: memory.current, memory.max, cpu.stat usage_usec, pids.current.
 * The job's user is the owner of the job's processes (the executor runs them as the user).
 * On a SLURM node (`slurm`), SLURM's job cgroups or process trees instead (src/recovery/slurm-node.ts).
 */

/** The texts of a job cgroup's files; undefined where the file is missing. */
export interface JobCgroupFiles {
  memoryUsage?: string;
  memoryLimit?: string;
  /** v1 cpuacct.usage, nanoseconds. */
  cpuacctUsage?: string;
  /** v2 cpu.stat (usage_usec). */
  cpuStat?: string;
  pidsCurrent?: string;
}

/** Limits at or above this are "no limit" (v1 writes 2^63 rounded down to a page). */
const NO_LIMIT = 2 ** 62;

function num(text: string | undefined): number | null {
  const t = text?.trim();
  if (t === undefined || t === '' || t === 'max') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

export function jobSamples(job: string, user: string, files: JobCgroupFiles): Sample[] {
  const labels = { job, user };
  const out: Sample[] = [];
  const mem = num(files.memoryUsage);
  if (mem !== null) out.push({ name: 'keisan_job_memory_bytes', labels, value: mem });
  const limit = num(files.memoryLimit);
  if (limit !== null && limit < NO_LIMIT) out.push({ name: 'keisan_job_memory_limit_bytes', labels, value: limit });
  let cpu = num(files.cpuacctUsage);
  if (cpu !== null) cpu /= 1e9;
  else {
    const usec = /^usage_usec\s+(\d+)/m.exec(files.cpuStat ?? '')?.[1];
    if (usec !== undefined) cpu = Number(usec) / 1e6;
  }
  if (cpu !== null) out.push({ name: 'keisan_job_cpu_seconds_total', labels, value: cpu });
  const pids = num(files.pidsCurrent);
  if (pids !== null) out.push({ name: 'keisan_job_pids', labels, value: pids });
  return out;
}

/** uid → name from /etc/passwd text. */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && uid !== undefined && /^\d+$/.test(uid) && !users.has(Number(uid))) users.set(Number(uid), name);
  }
  return users;
}

const readText = (file: string) => readFile(file, 'utf8').catch(() => undefined);

export interface JobCollectorOptions {
  /** batch.cgroupParent. */
  parent: string;
  /**
   * A SLURM node (batch.executor: slurm): SLURM's jobs instead (its job cgroups, or its process
   * trees with proctrack/linuxproc), labelled `job="slurm-<SLURM id>"`. `conf`: batch.slurm.conf;
   * `open`: tests give their own tree.
   */
  slurm?: { conf?: string; open?: () => Pick<SlurmNodeJobs, 'tree' | 'jobInfo'> };
  layout?: CgroupLayout;
  passwd?: string;
  proc?: string;
}

export class JobCollector {
  private readonly layout: CgroupLayout;
  private users: { map: Map<number, string>; atMs: number } | null = null;
  private slurmJobs: Pick<SlurmNodeJobs, 'tree' | 'jobInfo'> | null = null;

  constructor(private readonly options: JobCollectorOptions) {
    this.layout = options.layout ?? detectCgroupLayout();
  }

  /** Where the job cgroups of each kind of file live (null: not on this machine). */
  dirs(): { memory: string | null; cpuacct: string | null; pids: string | null; unified: string | null } {
    const under = (mount: string | null | undefined) => (mount ? path.join(mount, this.options.parent) : null);
    if (this.layout.kind === 'v2') {
      const dir = under(this.layout.unified);
      return { memory: dir, cpuacct: null, pids: dir, unified: dir };
    }
    return { memory: under(this.layout.v1.memory), cpuacct: under(this.layout.v1.cpuacct), pids: under(this.layout.v1.pids), unified: under(this.layout.unified) };
  }

  async collect(nowMs = Date.now()): Promise<Sample[]> {
    if (this.options.slurm) return this.collectSlurm(this.options.slurm);
    if (this.layout.kind === 'none') return [];
    const dirs = this.dirs();
    const listing = dirs.memory ?? dirs.unified;
    if (!listing) return [];
    const names = (await readdir(listing).catch(() => [] as string[])).filter((n) => /^job-\d+$/.test(n)).sort();
    if (names.length === 0) return [];
    const v2 = this.layout.kind === 'v2';
    const parts = await Promise.all(
      names.map(async (name) => {
        const at = (dir: string | null, file: string) => (dir ? readText(path.join(dir, name, file)) : Promise.resolve(undefined));
        const [memoryUsage, memoryLimit, cpuacctUsage, cpuStat, pidsCurrent, procs] = await Promise.all([
          at(dirs.memory, v2 ? 'memory.current' : 'memory.usage_in_bytes'),
          at(dirs.memory, v2 ? 'memory.max' : 'memory.limit_in_bytes'),
          v2 ? undefined : at(dirs.cpuacct, 'cpuacct.usage'),
          at(dirs.unified, 'cpu.stat'),
          at(dirs.pids, 'pids.current'),
          at(dirs.memory ?? dirs.unified, 'cgroup.procs'),
        ]);
        const user = await this.userOf(procs, nowMs);
        const files: JobCgroupFiles = {};
        if (memoryUsage !== undefined) files.memoryUsage = memoryUsage;
        if (memoryLimit !== undefined) files.memoryLimit = memoryLimit;
        if (cpuacctUsage !== undefined) files.cpuacctUsage = cpuacctUsage;
        if (cpuStat !== undefined) files.cpuStat = cpuStat;
        if (pidsCurrent !== undefined) files.pidsCurrent = pidsCurrent;
        return jobSamples(name.slice('job-'.length), user, files);
      }),
    );
    return parts.flat();
  }

  /** SLURM's jobs on this node: the same series from SLURM's job cgroups (or its jobs' process trees). */
  private async collectSlurm(options: NonNullable<JobCollectorOptions['slurm']>): Promise<Sample[]> {
    this.slurmJobs ??= (options.open ?? (() => openSlurmJobs({ ...(options.conf ? { conf: options.conf } : {}), layout: this.layout })))();
    const { tree, jobInfo } = this.slurmJobs;
    const out: Sample[] = [];
    for (const id of tree.jobIds()) {
      const info = jobInfo(id);
      const user = info?.user ?? (info?.uid != null ? String(info.uid) : '');
      const files: JobCgroupFiles = {};
      if (tree instanceof SlurmProcessTree) {
        const u = tree.processUsage(id);
        if (!u) continue;
        files.memoryUsage = String(u.memBytes);
        if (u.memLimitBytes !== null) files.memoryLimit = String(u.memLimitBytes);
        files.cpuStat = `usage_usec ${Math.round(u.cpuUsageUsec)}`;
        files.pidsCurrent = String(u.pids);
      } else {
        const d = tree.jobDirs(id);
        const at = (h: typeof d.memory, file: string) => (h ? readText(path.join(d.dir(h), file)) : Promise.resolve(undefined));
        const v2 = d.memory?.version === 2;
        const [memoryUsage, memoryLimit, cpuacctUsage, cpuStat, pidsCurrent] = await Promise.all([
          at(d.memory, v2 ? 'memory.current' : 'memory.usage_in_bytes'),
          at(d.memory, v2 ? 'memory.max' : 'memory.limit_in_bytes'),
          at(d.cpuacct, 'cpuacct.usage'),
          at(d.v2, 'cpu.stat'),
          at(d.pids, 'pids.current'),
        ]);
        if (memoryUsage !== undefined) files.memoryUsage = memoryUsage;
        if (memoryLimit !== undefined) files.memoryLimit = memoryLimit;
        if (cpuacctUsage !== undefined) files.cpuacctUsage = cpuacctUsage;
        if (cpuStat !== undefined) files.cpuStat = cpuStat;
        if (pidsCurrent !== undefined) files.pidsCurrent = pidsCurrent;
      }
      out.push(...jobSamples(`slurm-${id}`, user, files));
    }
    return out;
  }

  private async userOf(procs: string | undefined, nowMs: number): Promise<string> {
    const pid = procs?.split('\n').find((line) => /^\d+$/.test(line.trim()));
    if (!pid) return '';
    const uid = await stat(path.join(this.options.proc ?? '/proc', pid.trim()))
      .then((s) => s.uid)
      .catch(() => null);
    if (uid === null) return '';
    if (!this.users || nowMs - this.users.atMs > 300_000) {
      this.users = { map: parsePasswd((await readText(this.options.passwd ?? '/etc/passwd')) ?? ''), atMs: nowMs };
    }
    return this.users.map.get(uid) ?? String(uid);
  }
}
