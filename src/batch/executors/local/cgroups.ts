/**
 * Cgroups for the local executor, v1 (legacy and hybrid) and v2.
 *
 * Layout: one parent cgroup (default `keisan`, a path relative to each hierarchy's mount) capped
 * below the machine's memory, a leaf `shims` for the job shims (so that stopping a daemon's
 * unit does not stop them), and one `job-<id>` per job with its memory, cpu and pids limits.
 *
 * - v2 (one cgroup2 hierarchy with controllers): memory.max, memory.swap.max=0, cpu.max,
 *   cpu.weight, pids.max; kill with cgroup.kill (5.14+), else freeze and signal.
 * - v1: memory (limit_in_bytes, memsw.limit_in_bytes), cpu (cfs_quota_us, shares), cpuacct,
 *   pids, freezer — each hierarchy wherever it is mounted, co-mounted or not. When a cgroup2
 *   hierarchy is mounted beside them (the hybrid layout, e.g. /sys/fs/cgroup/unified), every job
 *   also gets a cgroup there: cgroup.kill, cgroup.events (populated), PSI and cpu.stat work
 *   there even without controllers.
 *
 * Everything here is synchronous: these are small files in a pseudo filesystem, and the start
 * path must stay cheap.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readKeyed, readNumber, readText } from '../../../lib/kernel-files.ts';

export const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'cpuacct', 'freezer', 'devices'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];
const V2_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;

export interface CgroupLayout {
  /** 'v1': v1 controller hierarchies, maybe with a cgroup2 mount beside them (hybrid); 'v2': one cgroup2 hierarchy. */
  kind: 'v1' | 'v2' | 'none';
  /** Mount point of each v1 controller we use (co-mounted controllers share one). */
  v1: Partial<Record<V1Controller, string>>;
  /** The cgroup2 mount point: the whole hierarchy on v2, the side hierarchy on hybrid hosts. */
  unified: string | null;
}

export class CgroupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CgroupError';
  }
}

const GiB = 1024 ** 3;

// ------------------------------------------------------------------------------- detection

function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

interface CgroupMount {
  fstype: 'cgroup' | 'cgroup2';
  mountPoint: string;
  options: string[];
}

function layoutFromMounts(mounts: CgroupMount[]): CgroupLayout {
  const v1: Partial<Record<V1Controller, string>> = {};
  const unifiedMounts: string[] = [];
  for (const m of mounts) {
    if (m.fstype === 'cgroup2') unifiedMounts.push(m.mountPoint);
    else for (const c of V1_CONTROLLERS) if (m.options.includes(c) && v1[c] === undefined) v1[c] = m.mountPoint;
  }
  const unified = unifiedMounts.find((p) => p === '/sys/fs/cgroup') ?? unifiedMounts.find((p) => p === '/sys/fs/cgroup/unified') ?? unifiedMounts[0] ?? null;
  const kind = v1.memory !== undefined ? 'v1' : unified !== null ? 'v2' : 'none';
  return { kind, v1, unified };
}

/** Reads the cgroup hierarchies from /proc/self/mountinfo text. */
export function parseMountinfo(text: string): CgroupLayout {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 6) continue;
    const fstype = fields[sep + 1];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountPoint = unescapeMount(fields[4] ?? '');
    const superOptions = (fields[sep + 3] ?? '').split(',');
    mounts.push({ fstype, mountPoint, options: superOptions });
  }
  return layoutFromMounts(mounts);
}

/** Reads the cgroup hierarchies from /proc/mounts text (the fallback when mountinfo is unreadable). */
export function parseProcMounts(text: string): CgroupLayout {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const [, mountPoint, fstype, options] = line.split(' ');
    if ((fstype !== 'cgroup' && fstype !== 'cgroup2') || mountPoint === undefined) continue;
    mounts.push({ fstype, mountPoint: unescapeMount(mountPoint), options: (options ?? '').split(',') });
  }
  return layoutFromMounts(mounts);
}

/** Which cgroup hierarchies this machine has, from /proc/self/mountinfo (or /proc/mounts). */
export function detectCgroupLayout(files: { mountinfo?: string; mounts?: string } = {}): CgroupLayout {
  try {
    return parseMountinfo(fs.readFileSync(files.mountinfo ?? '/proc/self/mountinfo', 'utf8'));
  } catch {
    try {
      return parseProcMounts(fs.readFileSync(files.mounts ?? '/proc/mounts', 'utf8'));
    } catch {
      return { kind: 'none', v1: {}, unified: null };
    }
  }
}

/** MemTotal from /proc/meminfo, in bytes. */
export function memTotalBytes(): number {
  const text = fs.readFileSync('/proc/meminfo', 'utf8');
  const kb = /^MemTotal:\s+(\d+)\s*kB/m.exec(text)?.[1];
  if (!kb) throw new CgroupError('cannot read MemTotal from /proc/meminfo');
  return Number(kb) * 1024;
}

/** The parent cap: MemTotal less max(1 GiB, 10 %), so the system always keeps headroom. */
export function defaultParentMemBytes(memTotal: number): number {
  return Math.max(GiB / 4, memTotal - Math.max(GiB, Math.floor(memTotal * 0.1)));
}

function pidMax(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim()) || 32768;
  } catch {
    return 32768;
  }
}

// ------------------------------------------------------------------------------- small I/O


function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

function exists(file: string): boolean {
  return fs.existsSync(file);
}

/** Sleeps without returning to the event loop (kill paths are synchronous and short). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function readPids(file: string): number[] {
  const text = readText(file);
  if (!text) return [];
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

// ------------------------------------------------------------------------------- the tree

export interface CgroupTreeOptions {
  /** Path of the parent cgroup relative to each hierarchy's mount. Default 'keisan'. */
  root?: string;
  /** Default: detectCgroupLayout(). */
  layout?: CgroupLayout;
  /** Memory cap of the parent; undefined = MemTotal − max(1 GiB, 10 %); null = leave as is. */
  parentMemBytes?: number | null;
  /** pids.max of the parent; undefined = half of kernel.pid_max; null = leave as is. */
  parentPidsMax?: number | null;
  /** v1 only: also place jobs in the cgroup2 side hierarchy when there is one (default true). */
  useUnified?: boolean;
}

export interface JobLimits {
  memBytes: number;
  cpus: number;
  pidsMax: number;
  /** v1 devices cgroup entries the job may not open, e.g. `c 195:1 rwm` (another job's GPU). */
  deniedDevices?: string[];
}

export type KillMethod = 'cgroup.kill' | 'freeze-and-signal' | 'signal-walk';

/** What a finished job's cgroup says; null where the kernel does not tell. */
export interface CgroupStats {
  cpuSeconds: number | null;
  /** Peak memory of the cgroup (RSS and page cache): v2 memory.peak, v1 memory.max_usage_in_bytes. */
  peakMemBytes: number | null;
  memLimitBytes: number | null;
  /** Processes the OOM killer killed in the job (v2 memory.events, v1 memory.oom_control, kernel ≥ 4.13). */
  oomKills: number | null;
  /** Times the memory limit was hit (v1 memory.failcnt, v2 memory.events `max`). */
  memLimitHits: number | null;
}

export interface CgroupUsage {
  memBytes: number | null;
  cpuSeconds: number | null;
  pids: number;
}

interface Hierarchy {
  version: 1 | 2;
  mount: string;
  /** v1: our controllers on this mount; v2: the controllers enabled for job cgroups. */
  controllers: string[];
}

/** What this tree can do, found out when it was opened. */
export interface CgroupFeatures {
  memory: boolean;
  swapLimit: boolean;
  cpu: boolean;
  cpuAccounting: boolean;
  pids: boolean;
  /** v1 devices controller: device nodes can be denied per job (v2 would need an eBPF program). */
  devices: boolean;
  kill: KillMethod;
  oomKillCounter: boolean;
  peakMemory: boolean;
  /** The v2 dir of each job (pure v2, or the hybrid side hierarchy): populated, PSI. */
  unifiedJobs: boolean;
}

const ROOT_PATTERN = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

export class CgroupTree {
  readonly mode: 'v1' | 'v2';
  readonly root: string;
  readonly layout: CgroupLayout;
  readonly features: CgroupFeatures;
  readonly parentMemBytes: number | null;
  readonly parentPidsMax: number | null;
  /** Problems that did not stop the tree from working (a parent limit that could not be set…). */
  readonly warnings: string[] = [];
  private readonly hierarchies: Hierarchy[];
  private readonly dirOf: Partial<Record<V1Controller | 'v2', Hierarchy>>;

  private constructor(options: CgroupTreeOptions) {
    this.layout = options.layout ?? detectCgroupLayout();
    this.root = options.root ?? 'keisan';
    if (!ROOT_PATTERN.test(this.root) || this.root.split('/').some((s) => s === '.' || s === '..')) {
      throw new CgroupError(`cgroup root '${this.root}' is not a relative path of plain names (letters, digits, . _ -)`);
    }
    if (this.layout.kind === 'none') throw new CgroupError('no cgroup hierarchy is mounted (neither v1 memory nor cgroup2)');
    this.mode = this.layout.kind;
    this.hierarchies = [];
    this.dirOf = {};
    if (this.mode === 'v2') {
      const mount = this.layout.unified!;
      const h: Hierarchy = { version: 2, mount, controllers: [] };
      this.hierarchies.push(h);
      this.dirOf.v2 = h;
    } else {
      const byMount = new Map<string, Hierarchy>();
      for (const c of V1_CONTROLLERS) {
        const mount = this.layout.v1[c];
        if (!mount) continue;
        let h = byMount.get(mount);
        if (!h) {
          h = { version: 1, mount, controllers: [] };
          byMount.set(mount, h);
          this.hierarchies.push(h);
        }
        h.controllers.push(c);
        this.dirOf[c] = h;
      }
      if (options.useUnified !== false && this.layout.unified && !byMount.has(this.layout.unified)) {
        const h: Hierarchy = { version: 2, mount: this.layout.unified, controllers: [] };
        this.hierarchies.push(h);
        this.dirOf.v2 = h;
      }
    }
    for (const s of [this.root, `${this.root}/shims`]) if (s.includes(':')) throw new CgroupError(`cgroup path ${s} may not contain ':'`);
    for (const h of this.hierarchies) if (h.mount.includes(':')) throw new CgroupError(`cgroup mount ${h.mount} contains ':', which the job shim cannot pass`);

    this.createParent();
    this.parentMemBytes = this.capParentMemory(options.parentMemBytes === undefined ? defaultParentMemBytes(memTotalBytes()) : options.parentMemBytes);
    this.parentPidsMax = this.capParentPids(options.parentPidsMax === undefined ? Math.floor(pidMax() / 2) : options.parentPidsMax);
    this.features = this.probe();
  }

  /** Opens (creating when needed) the parent cgroup; throws CgroupError when it cannot be used. */
  static open(options: CgroupTreeOptions = {}): CgroupTree {
    return new CgroupTree(options);
  }

  private parentDir(h: Hierarchy): string {
    return path.join(h.mount, this.root);
  }

  private createParent(): void {
    for (const h of this.hierarchies) {
      const parent = this.parentDir(h);
      try {
        fs.mkdirSync(parent, { recursive: true });
      } catch (error) {
        // The side hierarchy of a hybrid host is a bonus: lose it rather than fail.
        if (h.version === 2 && this.mode === 'v1') {
          this.warnings.push(`cannot use the cgroup2 side hierarchy ${h.mount} (${errnoCode(error) ?? String(error)}): kill walks the v1 cgroups instead`);
          this.hierarchies.splice(this.hierarchies.indexOf(h), 1);
          delete this.dirOf.v2;
          return this.createParent();
        }
        throw new CgroupError(`cannot create the cgroup ${parent}: ${errnoCode(error) ?? String(error)} (the executor needs root, or a delegated writable cgroup root)`);
      }
      if (h.version === 2 && this.mode === 'v2') h.controllers = this.enableV2Controllers(h);
      if (h.version === 1 && h.controllers.includes('memory')) {
        const useHierarchy = path.join(parent, 'memory.use_hierarchy');
        if (readNumber(useHierarchy) === 0) {
          try {
            write(useHierarchy, '1');
          } catch {
            this.warnings.push(`${useHierarchy} is 0: the parent memory cap does not cover the jobs`);
          }
        }
      }
      const shims = path.join(parent, 'shims');
      try {
        fs.mkdirSync(shims, { recursive: true });
      } catch (error) {
        throw new CgroupError(`cannot create the cgroup ${shims}: ${errnoCode(error) ?? String(error)}`);
      }
    }
  }

  /** Enables memory, pids and cpu for the children of every cgroup from the mount down to the parent. */
  private enableV2Controllers(h: Hierarchy): string[] {
    const available = (readText(path.join(h.mount, 'cgroup.controllers')) ?? '').trim().split(/\s+/);
    const wanted = V2_CONTROLLERS.filter((c) => available.includes(c));
    const chain = [h.mount];
    let dir = h.mount;
    for (const part of this.root.split('/')) {
      dir = path.join(dir, part);
      chain.push(dir);
    }
    const enabled: string[] = [];
    for (const c of wanted) {
      let ok = true;
      for (const d of chain) {
        const file = path.join(d, 'cgroup.subtree_control');
        const current = (readText(file) ?? '').trim().split(/\s+/);
        if (current.includes(c)) continue;
        try {
          write(file, `+${c}`);
        } catch (error) {
          ok = false;
          this.warnings.push(`cannot enable the ${c} controller in ${d} (${errnoCode(error) ?? String(error)}): a cgroup with processes of its own cannot delegate controllers; move those processes to a leaf`);
          break;
        }
      }
      if (ok) enabled.push(c);
    }
    return enabled;
  }

  private memoryHierarchy(): Hierarchy | undefined {
    if (this.mode === 'v1') return this.dirOf.memory;
    return this.dirOf.v2?.controllers.includes('memory') ? this.dirOf.v2 : undefined;
  }

  private pidsHierarchy(): Hierarchy | undefined {
    if (this.mode === 'v1') return this.dirOf.pids;
    return this.dirOf.v2?.controllers.includes('pids') ? this.dirOf.v2 : undefined;
  }

  private cpuHierarchy(): Hierarchy | undefined {
    if (this.mode === 'v1') return this.dirOf.cpu;
    return this.dirOf.v2?.controllers.includes('cpu') ? this.dirOf.v2 : undefined;
  }

  private capParentMemory(bytes: number | null): number | null {
    const h = this.memoryHierarchy();
    if (!h || bytes === null) return null;
    const dir = this.parentDir(h);
    try {
      if (h.version === 2) write(path.join(dir, 'memory.max'), String(bytes));
      else setV1MemoryLimit(dir, bytes);
      return bytes;
    } catch (error) {
      this.warnings.push(`cannot cap the parent cgroup's memory at ${bytes} bytes (${errnoCode(error) ?? String(error)}): its jobs may already use more`);
      return null;
    }
  }

  private capParentPids(max: number | null): number | null {
    const h = this.pidsHierarchy();
    if (!h || max === null) return null;
    try {
      write(path.join(this.parentDir(h), 'pids.max'), String(max));
      return max;
    } catch (error) {
      this.warnings.push(`cannot set pids.max of the parent cgroup (${errnoCode(error) ?? String(error)})`);
      return null;
    }
  }

  private probe(): CgroupFeatures {
    const mem = this.memoryHierarchy();
    const v2 = this.dirOf.v2;
    const v2Parent = v2 ? this.parentDir(v2) : null;
    const memParent = mem ? this.parentDir(mem) : null;
    let kill: KillMethod = 'signal-walk';
    if (v2Parent && exists(path.join(v2Parent, 'cgroup.kill'))) kill = 'cgroup.kill';
    else if ((v2Parent && exists(path.join(v2Parent, 'cgroup.freeze'))) || this.dirOf.freezer) kill = 'freeze-and-signal';
    return {
      memory: mem !== undefined,
      swapLimit: memParent !== null && (mem!.version === 2 ? exists(path.join(memParent, 'memory.swap.max')) : exists(path.join(memParent, 'memory.memsw.limit_in_bytes'))),
      cpu: this.cpuHierarchy() !== undefined,
      cpuAccounting: this.dirOf.cpuacct !== undefined || (v2Parent !== null && exists(path.join(v2Parent, 'cpu.stat'))),
      pids: this.pidsHierarchy() !== undefined,
      devices: this.mode === 'v1' && this.dirOf.devices !== undefined,
      kill,
      oomKillCounter:
        memParent !== null &&
        (mem!.version === 2 ? readKeyed(path.join(memParent, 'memory.events')).has('oom_kill') : readKeyed(path.join(memParent, 'memory.oom_control')).has('oom_kill')),
      peakMemory: memParent !== null && (mem!.version === 2 ? exists(path.join(memParent, 'memory.peak')) : exists(path.join(memParent, 'memory.max_usage_in_bytes'))),
      unifiedJobs: v2 !== undefined,
    };
  }

  /**
   * Starts, in the background, what a job's first cgroup move would otherwise wait for: the
   * first cgroup.procs write after an idle moment waits for an RCU grace period (the kernel's
   * cgroup_threadgroup_rwsem; ~5–12 ms at HZ=250), the writes during the next few ms do not. Called
   * when a job's start begins, it lets that wait pass while the job's records are written and its
   * shim is spawned. The write moves this process into the cgroup it already is in (a no-op
   * move, in one hierarchy the tree uses), from libuv's thread pool; failures are ignored.
   * Nothing to gain where the hierarchies are mounted with `favordynmods`.
   */
  primeMigration(): void {
    const file = this.ownProcsFile();
    if (file) fs.writeFile(file, String(process.pid), () => {});
  }

  /** The cgroup.procs file of this process's own cgroup in the first hierarchy of the tree (null: unknown). */
  private ownProcsFile(): string | null {
    const h = this.hierarchies[0];
    const text = h ? readText('/proc/self/cgroup') : null;
    if (!h || !text) return null;
    for (const line of text.split('\n')) {
      const [, controllers, where] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
      if (where === undefined || !where.startsWith('/')) continue;
      const match = h.version === 2 ? controllers === '' : (controllers ?? '').split(',').some((c) => h.controllers.includes(c));
      if (match) return path.join(h.mount, where, 'cgroup.procs');
    }
    return null;
  }

  /** cgroup.procs files of the shims' leaf, one per hierarchy. */
  shimProcsFiles(): string[] {
    return this.hierarchies.map((h) => path.join(this.parentDir(h), 'shims', 'cgroup.procs'));
  }

  /** Every directory of the parent cgroup (one per hierarchy). */
  parentDirs(): string[] {
    return this.hierarchies.map((h) => this.parentDir(h));
  }

  job(jobId: number): JobCgroup {
    return new JobCgroup(this, jobId);
  }

  /** Creates the job's cgroups and writes its limits; throws CgroupError (after removing what it made). */
  createJob(jobId: number, limits: JobLimits): JobCgroup {
    const job = this.job(jobId);
    job.create(limits);
    return job;
  }

  /** Job ids that have a cgroup under the parent. */
  jobIds(): number[] {
    const h = this.memoryHierarchy() ?? this.hierarchies[0];
    if (!h) return [];
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.parentDir(h));
    } catch {
      return [];
    }
    return names.flatMap((n) => {
      const m = /^job-(\d+)$/.exec(n);
      return m ? [Number(m[1])] : [];
    });
  }

  /** @internal the parent's own directories for memory and pids: the watchdog reads all jobs' total there in two reads. */
  parentControllerDirs(): { memory?: { dir: string; version: 1 | 2 }; pids?: string } {
    const mem = this.memoryHierarchy();
    const pids = this.pidsHierarchy();
    return {
      ...(mem ? { memory: { dir: this.parentDir(mem), version: mem.version } } : {}),
      ...(pids ? { pids: this.parentDir(pids) } : {}),
    };
  }

  /** @internal the per-hierarchy directories of a job, and where each kind of file lives. */
  jobDirs(jobId: number): {
    all: string[];
    memory?: Hierarchy;
    pids?: Hierarchy;
    cpu?: Hierarchy;
    cpuacct?: Hierarchy;
    freezer?: Hierarchy;
    devices?: Hierarchy;
    v2?: Hierarchy;
    dir: (h: Hierarchy) => string;
  } {
    const name = `job-${jobId}`;
    const dir = (h: Hierarchy) => path.join(this.parentDir(h), name);
    return {
      all: this.hierarchies.map(dir),
      memory: this.memoryHierarchy(),
      pids: this.pidsHierarchy(),
      cpu: this.cpuHierarchy(),
      cpuacct: this.mode === 'v1' ? this.dirOf.cpuacct : undefined,
      freezer: this.mode === 'v1' ? this.dirOf.freezer : undefined,
      devices: this.mode === 'v1' ? this.dirOf.devices : undefined,
      v2: this.dirOf.v2,
      dir,
    };
  }

  /**
   * Removes the whole tree: kills every job cgroup's processes, removes the job cgroups, the
   * shims' leaf (once its shims have gone) and the parent. For tests and `keisan` uninstall;
   * returns what could not be removed.
   */
  destroy(timeoutMs = 5000): string[] {
    for (const id of this.jobIds()) {
      const job = this.job(id);
      job.kill();
    }
    const deadline = Date.now() + timeoutMs;
    const left: string[] = [];
    for (const id of this.jobIds()) {
      const job = this.job(id);
      while (!job.remove() && Date.now() < deadline) sleepSync(10);
      if (job.exists()) left.push(`job-${id}`);
    }
    for (const h of this.hierarchies) {
      const shims = path.join(this.parentDir(h), 'shims');
      for (const dir of [shims, this.parentDir(h)]) {
        for (;;) {
          try {
            fs.rmdirSync(dir);
            break;
          } catch (error) {
            if (errnoCode(error) === 'ENOENT') break;
            if (Date.now() >= deadline) {
              left.push(dir);
              break;
            }
            sleepSync(10);
          }
        }
      }
    }
    return left;
  }
}

/** v1: memory.limit_in_bytes and memory.memsw.limit_in_bytes, in the order the kernel accepts. */
function setV1MemoryLimit(dir: string, bytes: number): void {
  const limit = path.join(dir, 'memory.limit_in_bytes');
  const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
  const hasMemsw = exists(memsw);
  const current = readNumber(limit) ?? Number.MAX_SAFE_INTEGER;
  // memsw must stay ≥ the memory limit: raise memsw first, lower the limit first.
  if (hasMemsw && bytes > current) write(memsw, String(bytes));
  write(limit, String(bytes));
  if (hasMemsw && bytes <= current) write(memsw, String(bytes));
}

export class JobCgroup {
  private readonly d: ReturnType<CgroupTree['jobDirs']>;

  constructor(
    private readonly tree: CgroupTree,
    readonly jobId: number,
  ) {
    this.d = tree.jobDirs(jobId);
  }

  /** The job's directory in every hierarchy. */
  dirs(): string[] {
    return this.d.all;
  }

  procsFiles(): string[] {
    return this.d.all.map((d) => path.join(d, 'cgroup.procs'));
  }

  private at(h: Hierarchy | undefined, file: string): string | null {
    return h ? path.join(this.d.dir(h), file) : null;
  }

  create(limits: JobLimits): void {
    const made: string[] = [];
    try {
      for (const dir of this.d.all) {
        fs.mkdirSync(dir);
        made.push(dir);
      }
      const mem = this.d.memory;
      if (mem) {
        const dir = this.d.dir(mem);
        if (mem.version === 2) {
          write(path.join(dir, 'memory.max'), String(limits.memBytes));
          if (this.tree.features.swapLimit) write(path.join(dir, 'memory.swap.max'), '0');
        } else {
          setV1MemoryLimit(dir, limits.memBytes);
        }
      }
      const cpu = this.d.cpu;
      if (cpu) {
        const dir = this.d.dir(cpu);
        if (cpu.version === 2) {
          write(path.join(dir, 'cpu.max'), `${Math.max(1000, Math.round(limits.cpus * 100_000))} 100000`);
          write(path.join(dir, 'cpu.weight'), String(Math.min(10_000, Math.max(1, Math.round(limits.cpus * 100)))));
        } else {
          const period = readNumber(path.join(dir, 'cpu.cfs_period_us')) ?? 100_000;
          write(path.join(dir, 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round(limits.cpus * period))));
          write(path.join(dir, 'cpu.shares'), String(Math.max(2, Math.round(limits.cpus * 1024))));
        }
      }
      const pids = this.d.pids;
      if (pids) write(path.join(this.d.dir(pids), 'pids.max'), String(limits.pidsMax));
      const devices = this.d.devices;
      if (devices) for (const entry of limits.deniedDevices ?? []) write(path.join(this.d.dir(devices), 'devices.deny'), entry);
    } catch (error) {
      for (const dir of made.reverse()) {
        try {
          fs.rmdirSync(dir);
        } catch {
          // left for the caller's clean-up
        }
      }
      throw new CgroupError(`cannot set up the cgroups of job ${this.jobId}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  exists(): boolean {
    return this.d.all.some((dir) => exists(dir));
  }

  /** Processes (thread-group ids) in the job's cgroup. */
  pids(): number[] {
    const h = this.d.v2 ?? this.d.memory ?? this.d.freezer ?? this.d.pids;
    const file = this.at(h, 'cgroup.procs');
    return file ? readPids(file) : [];
  }

  /** Whether any process is still in the job's cgroup (v2: cgroup.events `populated`, which ignores zombies). */
  populated(): boolean {
    const events = this.at(this.d.v2, 'cgroup.events');
    if (events) {
      const populated = readKeyed(events).get('populated');
      if (populated !== undefined) return populated !== 0;
    }
    return this.pids().length > 0;
  }

  /** Kills every process of the job, the way this machine does it best. */
  kill(): KillMethod {
    const v2 = this.d.v2 ? this.d.dir(this.d.v2) : null;
    if (v2 && this.tree.features.kill === 'cgroup.kill') {
      try {
        write(path.join(v2, 'cgroup.kill'), '1');
        return 'cgroup.kill';
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return 'cgroup.kill';
      }
    }
    if (v2 && exists(path.join(v2, 'cgroup.freeze'))) {
      return this.freezeAndSignal(path.join(v2, 'cgroup.freeze'), '1', '0', () => readKeyed(path.join(v2, 'cgroup.events')).get('frozen') === 1, path.join(v2, 'cgroup.procs'));
    }
    const freezer = this.d.freezer ? this.d.dir(this.d.freezer) : null;
    if (freezer && exists(freezer)) {
      const state = path.join(freezer, 'freezer.state');
      return this.freezeAndSignal(state, 'FROZEN', 'THAWED', () => readText(state)?.trim() === 'FROZEN', path.join(freezer, 'cgroup.procs'));
    }
    for (let round = 0; round < 200; round++) {
      const pids = this.pids();
      if (pids.length === 0) break;
      killPids(pids);
      sleepSync(1);
    }
    return 'signal-walk';
  }

  private freezeAndSignal(file: string, freeze: string, thaw: string, frozen: () => boolean, procs: string): KillMethod {
    try {
      write(file, freeze);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return 'freeze-and-signal';
      throw error;
    }
    const deadline = Date.now() + 500;
    while (!frozen() && Date.now() < deadline) sleepSync(1);
    // Frozen tasks cannot fork; SIGKILL takes effect as soon as they thaw.
    killPids(readPids(procs));
    try {
      write(file, thaw);
    } catch {
      // the cgroup went away
    }
    for (let round = 0; round < 50 && readPids(procs).length > 0; round++) {
      killPids(readPids(procs));
      sleepSync(1);
    }
    return 'freeze-and-signal';
  }

  /** Live usage, for status pages and the watchdog. */
  usage(): CgroupUsage {
    const mem = this.d.memory;
    const memFile = this.at(mem, mem?.version === 2 ? 'memory.current' : 'memory.usage_in_bytes');
    return { memBytes: memFile ? readNumber(memFile) : null, cpuSeconds: this.cpuSeconds(), pids: this.pids().length };
  }

  private cpuSeconds(): number | null {
    const acct = this.at(this.d.cpuacct, 'cpuacct.usage');
    if (acct) {
      const ns = readNumber(acct);
      if (ns !== null) return ns / 1e9;
    }
    const stat = this.at(this.d.v2, 'cpu.stat');
    if (stat) {
      const usec = readKeyed(stat).get('usage_usec');
      if (usec !== undefined) return usec / 1e6;
    }
    return null;
  }

  /** How many processes of the job the kernel's OOM killer killed (one file read); null without a counter. */
  oomKills(): number | null {
    const mem = this.d.memory;
    if (!mem) return null;
    const dir = this.d.dir(mem);
    return (mem.version === 2 ? readKeyed(path.join(dir, 'memory.events')) : readKeyed(path.join(dir, 'memory.oom_control'))).get('oom_kill') ?? null;
  }

  /** Accounting and memory-limit facts; read them before remove(). */
  stats(): CgroupStats {
    const mem = this.d.memory;
    let peak: number | null = null;
    let limit: number | null = null;
    let oomKills: number | null = null;
    let hits: number | null = null;
    if (mem) {
      const dir = this.d.dir(mem);
      if (mem.version === 2) {
        peak = readNumber(path.join(dir, 'memory.peak'));
        limit = readNumber(path.join(dir, 'memory.max'));
        const events = readKeyed(path.join(dir, 'memory.events'));
        oomKills = events.get('oom_kill') ?? null;
        hits = events.get('max') ?? null;
      } else {
        peak = readNumber(path.join(dir, 'memory.max_usage_in_bytes'));
        limit = readNumber(path.join(dir, 'memory.limit_in_bytes'));
        oomKills = readKeyed(path.join(dir, 'memory.oom_control')).get('oom_kill') ?? null;
        hits = readNumber(path.join(dir, 'memory.failcnt'));
      }
    }
    return { cpuSeconds: this.cpuSeconds(), peakMemBytes: peak, memLimitBytes: limit, oomKills, memLimitHits: hits };
  }

  /** Removes the job's cgroups; false while some still hold processes (try again later). */
  remove(): boolean {
    let all = true;
    for (const dir of this.d.all) {
      try {
        fs.rmdirSync(dir);
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') all = false;
      }
    }
    return all;
  }
}
