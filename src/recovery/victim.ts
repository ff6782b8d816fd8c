/**
 * The victim policy of the recovery watchdog: given a finding and the candidates (job cgroups
 * and, for login-host or stray-process rules, processes), which one to act on, and why, in one
 * line with the numbers. Pure: the clock is passed in (`nowMs`), nothing is read from /proc.
 *
 * Order (node-level findings; a job-scoped finding names its job, a process finding its pid):
 * 1. never a protected process or daemon (comm/cmdline globs, uids, PID 1, kernel threads, root's
 *    shells), never the watchdog itself, never a job cgroup that holds one of those;
 * 2. a job is preferred over a stray process when a job is the cause (over its request, or growing);
 * 3. the job furthest above its own request (usage / request, largest above 1);
 * 4. then the one growing fastest; 5. then the largest; 6. then the youngest (highest job id, least
 *    work lost; processes: highest pid) — deterministic.
 * Cooldown (earlyoom #309: a 24 GiB process killed, then an innocent one 1 s later while memory was
 * still being freed): no second victim for the same finding until the first is confirmed empty
 * and its memory freed, or `cooldownTimeoutMs` has passed.
 */
import { formatSize } from '../lib/units.ts';
import type { Finding, JobSample, Rule, Sample } from './model.ts';

export type Resource = 'memory' | 'pids' | 'cpu';

export interface JobCandidate {
  kind: 'job';
  jobId: number;
  user: string | null;
  uid: number | null;
  memBytes: number | null;
  memLimitBytes: number | null;
  requestedMemBytes: number | null;
  /** Over the window, bytes per second (negative: shrinking). */
  memGrowthBytesPerSec: number;
  pidsCurrent: number | null;
  pidsMax: number | null;
  pidsGrowthPerSec: number;
  /** CPUs used on average over the window. */
  cpusUsed: number | null;
  /** Requested CPUs (or the allocation when the request is unknown). */
  requestedCpus: number | null;
  /** The processes in the job's cgroup, when the caller read them: a job holding a protected one is never chosen. */
  pids?: number[];
}

export interface ProcessCandidate {
  kind: 'process';
  pid: number;
  uid: number;
  user: string | null;
  comm: string;
  /** NULs replaced by spaces; '' for kernel threads. */
  cmdline: string;
  rssBytes: number;
  rssGrowthBytesPerSec: number;
  cpusUsed: number | null;
  /** The job whose cgroup holds it, if any (such a process is acted on through its job). */
  jobId: number | null;
}

export type Candidate = JobCandidate | ProcessCandidate;

export interface ProtectionConfig {
  /** Globs (`*`, `?`) matched against the whole comm. */
  comm: string[];
  /** Globs matched against the whole command line (arguments joined by spaces). */
  cmdline: string[];
  uids: number[];
  pids: number[];
  /** Shells (bash, sh, dash, zsh…) of uid 0 are protected. */
  rootShells: boolean;
}

export interface VictimConfig {
  protect: ProtectionConfig;
  /** The watchdog's own pid (never a victim). */
  selfPid: number;
  /** Growth below this (bytes/s for memory, processes/s for pids) counts as not growing. */
  minMemGrowthBytesPerSec: number;
  minPidsGrowthPerSec: number;
  /** pids: the share of pids.max that counts as "at its limit". */
  pidsNearMaxRatio: number;
  /** No second victim for the same finding until the first is confirmed gone, or this long after. */
  cooldownTimeoutMs: number;
}

export const SHELLS = ['bash', 'sh', 'dash', 'zsh', 'fish', 'ksh', 'mksh', 'tcsh', 'csh'];

const KEISAN_DAEMONS = ['server', 'agent', 'watchdog', 'up'];

export const DEFAULT_PROTECTION: ProtectionConfig = {
  comm: ['init', 'systemd*', 'sshd', 'slurm*', 'munged', 'postgres', 'postmaster', 'keisan*', 'dbus-daemon', 'journald', 'rsyslogd', 'containerd', 'dockerd'],
  cmdline: KEISAN_DAEMONS.flatMap((d) => [`*keisan* ${d}`, `*keisan* ${d} *`, `*keisan.js ${d}`, `*keisan.js ${d} *`]),
  uids: [],
  pids: [1],
  rootShells: true,
};

export function defaultVictimConfig(overrides: Partial<VictimConfig> = {}): VictimConfig {
  return {
    protect: DEFAULT_PROTECTION,
    selfPid: process.pid,
    minMemGrowthBytesPerSec: 1024 * 1024,
    minPidsGrowthPerSec: 1,
    pidsNearMaxRatio: 0.9,
    cooldownTimeoutMs: 10_000,
    ...overrides,
  };
}

export function resourceOf(rule: Rule): Resource {
  if (rule === 'pids-explosion') return 'pids';
  if (rule === 'cpu-hog' || rule === 'login-cpu-hog') return 'cpu';
  return 'memory';
}

// ------------------------------------------------------------------------------ protection

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

const globCache = new Map<string, RegExp>();
function matches(globs: string[], text: string): string | null {
  for (const g of globs) {
    let re = globCache.get(g);
    if (!re) {
      re = globToRegExp(g);
      globCache.set(g, re);
    }
    if (re.test(text)) return g;
  }
  return null;
}

/** Why a process may never be a victim (null: it may). */
export function processProtection(p: Pick<ProcessCandidate, 'pid' | 'uid' | 'comm' | 'cmdline'>, config: VictimConfig): string | null {
  if (p.pid === config.selfPid) return 'it is the watchdog itself';
  if (p.pid <= 2 || config.protect.pids.includes(p.pid)) return `pid ${p.pid} is protected`;
  if (p.cmdline === '') return 'a kernel thread';
  const comm = matches(config.protect.comm, p.comm);
  if (comm) return `comm '${p.comm}' matches the protected pattern '${comm}'`;
  const cmd = matches(config.protect.cmdline, p.cmdline);
  if (cmd) return `its command line matches the protected pattern '${cmd}'`;
  if (config.protect.uids.includes(p.uid)) return `uid ${p.uid} is protected`;
  if (config.protect.rootShells && p.uid === 0 && SHELLS.includes(p.comm.replace(/^-/, ''))) return `a shell of root (${p.comm})`;
  return null;
}

function jobProtection(j: JobCandidate, config: VictimConfig): string | null {
  for (const pid of j.pids ?? []) {
    if (pid === config.selfPid) return 'its cgroup holds the watchdog itself';
    if (pid === 1 || config.protect.pids.includes(pid)) return `its cgroup holds the protected pid ${pid}`;
  }
  return null;
}

function protection(c: Candidate, config: VictimConfig): string | null {
  return c.kind === 'job' ? jobProtection(c, config) : processProtection(c, config);
}

// ------------------------------------------------------------------------------ measures

interface Measure {
  usage: number;
  /** What the candidate is entitled to (job request, or pids.max); null for processes. */
  request: number | null;
  ratio: number | null;
  growth: number;
}

function measure(c: Candidate, resource: Resource): Measure {
  let usage: number;
  let request: number | null;
  let growth: number;
  if (c.kind === 'process') {
    usage = resource === 'cpu' ? (c.cpusUsed ?? 0) : resource === 'memory' ? c.rssBytes : 0;
    request = null;
    growth = resource === 'memory' ? c.rssGrowthBytesPerSec : 0;
  } else if (resource === 'memory') {
    usage = c.memBytes ?? 0;
    request = c.requestedMemBytes ?? c.memLimitBytes;
    growth = c.memGrowthBytesPerSec;
  } else if (resource === 'pids') {
    usage = c.pidsCurrent ?? 0;
    request = c.pidsMax;
    growth = c.pidsGrowthPerSec;
  } else {
    usage = c.cpusUsed ?? 0;
    request = c.requestedCpus;
    growth = 0;
  }
  const ratio = request !== null && request > 0 ? usage / request : null;
  return { usage, request, ratio, growth };
}

function overThreshold(resource: Resource, config: VictimConfig): number {
  return resource === 'pids' ? config.pidsNearMaxRatio : 1;
}

function growing(m: Measure, resource: Resource, config: VictimConfig): boolean {
  if (resource === 'cpu') return false;
  return m.growth >= (resource === 'pids' ? config.minPidsGrowthPerSec : config.minMemGrowthBytesPerSec);
}

function isOver(m: Measure, resource: Resource, config: VictimConfig): boolean {
  return m.ratio !== null && (resource === 'pids' ? m.ratio >= config.pidsNearMaxRatio : m.ratio > overThreshold(resource, config));
}

/** Negative when a should be chosen before b. */
function compare(a: Candidate, b: Candidate, resource: Resource, config: VictimConfig): number {
  const ma = measure(a, resource);
  const mb = measure(b, resource);
  const oa = isOver(ma, resource, config);
  const ob = isOver(mb, resource, config);
  if (oa !== ob) return oa ? -1 : 1;
  if (oa && ob && ma.ratio !== mb.ratio) return mb.ratio! - ma.ratio!;
  const ga = growing(ma, resource, config);
  const gb = growing(mb, resource, config);
  if (ga !== gb) return ga ? -1 : 1;
  if (ga && gb && ma.growth !== mb.growth) return mb.growth - ma.growth;
  if (ma.usage !== mb.usage) return mb.usage - ma.usage;
  if (a.kind !== b.kind) return a.kind === 'job' ? -1 : 1;
  return idOf(b) - idOf(a);
}

function idOf(c: Candidate): number {
  return c.kind === 'job' ? c.jobId : c.pid;
}

// ------------------------------------------------------------------------------ explanation

function size(bytes: number): string {
  return formatSize(Math.round(bytes)).replace(/\.0 /, ' ');
}

function amount(value: number, resource: Resource): string {
  if (resource === 'memory') return size(value);
  if (resource === 'pids') return `${Math.round(value)} processes`;
  const cpus = Number(value.toFixed(1));
  return `${cpus} CPU${cpus === 1 ? '' : 's'}`;
}

/** "a 2 GiB request" / "its 8 GiB request", "a request of 1 CPU", "its pids.max of 128". */
function entitlement(request: number, resource: Resource, article: 'a' | 'its'): string {
  if (resource === 'memory') return `${article} ${amount(request, resource)} request`;
  if (resource === 'pids') return `its pids.max of ${Math.round(request)}`;
  return `${article} request of ${amount(request, resource)}`;
}

function rate(value: number, resource: Resource): string {
  const sign = value < 0 ? '−' : '+';
  if (resource === 'memory') return `${sign}${size(Math.abs(value))}/s`;
  return `${sign}${Math.round(Math.abs(value))} processes/s`;
}

/** "job 42 of alice" / "process 1234 (python3) of bob". */
export function describeCandidate(c: Candidate): string {
  if (c.kind === 'job') return `job ${c.jobId}${c.user ? ` of ${c.user}` : ''}`;
  return `process ${c.pid} (${c.comm}) of ${c.user ?? `uid ${c.uid}`}${c.jobId !== null ? ` in job ${c.jobId}` : ''}`;
}

function facts(c: Candidate, m: Measure, resource: Resource): string {
  const parts: string[] = [];
  if (m.request !== null && m.ratio !== null) {
    parts.push(`${amount(m.usage, resource)} against ${entitlement(m.request, resource, 'a')} (${Math.round(m.ratio * 100)} %)`);
  } else {
    parts.push(`${amount(m.usage, resource)}${c.kind === 'process' && resource === 'memory' ? ' RSS' : ''}${c.kind === 'process' && c.jobId === null ? ', in no job' : ''}`);
  }
  if (resource !== 'cpu') parts.push(rate(m.growth, resource));
  return parts.join(', ');
}

function contrast(victim: Candidate, others: Candidate[], resource: Resource, config: VictimConfig): string | null {
  if (others.length === 0) return null;
  const vm = measure(victim, resource);
  // The largest other one, when it is larger than the victim: say why it was spared.
  const largest = [...others].sort((a, b) => measure(b, resource).usage - measure(a, resource).usage || idOf(a) - idOf(b))[0]!;
  const lm = measure(largest, resource);
  if (lm.usage > vm.usage) {
    let why: string;
    if (lm.request !== null && !isOver(lm, resource, config)) why = `is within ${entitlement(lm.request, resource, 'its')}`;
    else if (isOver(lm, resource, config)) why = `is less far over ${entitlement(lm.request!, resource, 'its')} (${Math.round(lm.ratio! * 100)} %)`;
    else why = `grows slower (${resource === 'cpu' ? 'n/a' : rate(lm.growth, resource)})`;
    return `the larger ${describeCandidate(largest)} (${amount(lm.usage, resource)}) ${why}`;
  }
  const next = others[0]!;
  return `next was ${describeCandidate(next)}: ${facts(next, measure(next, resource), resource)}`;
}

// ------------------------------------------------------------------------------ cooldown

export interface ActionRecord {
  findingKey: string;
  resource: Resource;
  /** 'job:42' or 'pid:1234'. */
  victimKey: string;
  victim: string;
  actedAtMs: number;
  /** When the victim's cgroup was empty (or the process gone) and its memory freed; null until then. */
  recoveredAtMs: number | null;
}

/** What the caller keeps between decisions: the recent actions. Plain data; update it with noteAction/noteRecovered. */
export interface VictimHistory {
  actions: ActionRecord[];
}

export function newHistory(): VictimHistory {
  return { actions: [] };
}

/** The same finding: the same rule on the same target (a job, a process, or the node). */
export function findingKey(finding: Pick<Finding, 'rule' | 'jobId' | 'pid'>): string {
  return `${finding.rule}:${finding.jobId !== null ? `job:${finding.jobId}` : finding.pid !== null ? `pid:${finding.pid}` : 'node'}`;
}

export function victimKey(c: Candidate): string {
  return c.kind === 'job' ? `job:${c.jobId}` : `pid:${c.pid}`;
}

export function noteAction(history: VictimHistory, finding: Finding, victim: Candidate, nowMs: number): void {
  history.actions.push({
    findingKey: findingKey(finding),
    resource: resourceOf(finding.rule),
    victimKey: victimKey(victim),
    victim: describeCandidate(victim),
    actedAtMs: nowMs,
    recoveredAtMs: null,
  });
}

/** The victim's cgroup is empty (or the process gone) and its memory freed. */
export function noteRecovered(history: VictimHistory, key: string, nowMs: number): void {
  for (const a of history.actions) if (a.victimKey === key && a.recoveredAtMs === null) a.recoveredAtMs = nowMs;
}

/** A failed action frees nothing: it must not hold back the next try (the caller retries). */
export function forgetAction(history: VictimHistory, key: string): void {
  history.actions = history.actions.filter((a) => a.victimKey !== key || a.recoveredAtMs !== null);
}

/** Drops actions that no longer block anything. */
export function pruneHistory(history: VictimHistory, config: VictimConfig, nowMs: number): void {
  history.actions = history.actions.filter((a) => a.recoveredAtMs === null && nowMs - a.actedAtMs < config.cooldownTimeoutMs);
}

/**
 * The action that blocks a new victim for this finding, if any: one for the same finding, or —
 * for a node-level finding — any action on the same resource, since the node recovers when that
 * victim's memory is freed.
 */
function blockingAction(history: VictimHistory | undefined, finding: Finding, config: VictimConfig, nowMs: number): ActionRecord | null {
  if (!history) return null;
  const key = findingKey(finding);
  const nodeLevel = finding.jobId === null && finding.pid === null;
  const resource = resourceOf(finding.rule);
  for (const a of history.actions) {
    if (a.recoveredAtMs !== null || nowMs - a.actedAtMs >= config.cooldownTimeoutMs) continue;
    if (a.findingKey === key || (nodeLevel && a.resource === resource)) return a;
  }
  return null;
}

// ------------------------------------------------------------------------------ the choice

export type VictimChoice = { victim: Candidate; explanation: string } | { victim: null; reason: string };

export function chooseVictim(finding: Finding, candidates: Candidate[], config: VictimConfig, nowMs: number, history?: VictimHistory): VictimChoice {
  const blocking = blockingAction(history, finding, config, nowMs);
  if (blocking) {
    const left = config.cooldownTimeoutMs - (nowMs - blocking.actedAtMs);
    return {
      victim: null,
      reason: `cooling down: ${blocking.victim} was acted on ${((nowMs - blocking.actedAtMs) / 1000).toFixed(1)} s ago and is not yet confirmed empty with its memory freed (a new victim in at most ${(left / 1000).toFixed(1)} s)`,
    };
  }
  const resource = resourceOf(finding.rule);
  let pool: Candidate[];
  if (finding.jobId !== null) pool = candidates.filter((c) => c.kind === 'job' && c.jobId === finding.jobId);
  else if (finding.pid !== null) pool = candidates.filter((c) => c.kind === 'process' && c.pid === finding.pid);
  else pool = candidates;
  if (pool.length === 0) {
    return { victim: null, reason: finding.jobId !== null ? `job ${finding.jobId} is not among the candidates (already gone?)` : finding.pid !== null ? `process ${finding.pid} is gone` : 'no candidates' };
  }
  const refused: string[] = [];
  let allowed = pool.filter((c) => {
    const why = protection(c, config);
    if (why) refused.push(`${describeCandidate(c)}: ${why}`);
    return why === null;
  });
  if (allowed.length === 0) return { victim: null, reason: `nothing may be chosen: ${refused.join('; ')}` };
  // A job is preferred over a stray process when a job is the cause.
  if (finding.jobId === null && finding.pid === null) {
    const causes = allowed.filter((c) => c.kind === 'job' && (isOver(measure(c, resource), resource, config) || growing(measure(c, resource), resource, config)));
    if (causes.length > 0) allowed = allowed.filter((c) => c.kind === 'job');
    // a process inside a job is acted on through its job
    allowed = allowed.filter((c) => c.kind === 'job' || c.jobId === null || !allowed.some((j) => j.kind === 'job' && j.jobId === c.jobId));
  }
  const ranked = [...allowed].sort((a, b) => compare(a, b, resource, config));
  const victim = ranked[0]!;
  const others = ranked.slice(1);
  const lead = `${describeCandidate(victim)}: ${facts(victim, measure(victim, resource), resource)}`;
  const why = contrast(victim, others, resource, config);
  return { victim, explanation: why ? `${lead}; ${why}` : lead };
}

// ------------------------------------------------------------------------------ from samples

/**
 * Job candidates for a finding over [fromMs, toMs] of the sample history. With tiered sampling a
 * sample holds only the jobs read at that tick, so each job's values are its newest up to toMs, and
 * its growth is measured from its newest sample at or before fromMs — or, for a job first seen
 * inside the window while the history reaches back past fromMs, from nothing at fromMs: it started
 * inside the window, and all it holds is growth (a job filling fast at start-up must not look still
 * beside an older job that is finishing its own fill). `followed`: the jobs still there (default:
 * those seen in the window).
 */
export function jobCandidatesFromWindow(history: readonly Sample[], fromMs: number, toMs: number, followed?: ReadonlySet<number>): JobCandidate[] {
  type Seen = { atMs: number; job: JobSample };
  const atStart = new Map<number, Seen>();
  const firstInside = new Map<number, Seen>();
  const newest = new Map<number, Seen>();
  for (const s of history) {
    if (s.atMs > toMs) break;
    for (const job of s.jobs) {
      const seen = { atMs: s.atMs, job };
      if (s.atMs <= fromMs) atStart.set(job.jobId, seen);
      else if (!firstInside.has(job.jobId)) firstInside.set(job.jobId, seen);
      newest.set(job.jobId, seen);
    }
  }
  const reachesBack = history.length > 0 && history[0]!.atMs <= fromMs;
  const ids = followed ? [...followed].filter((id) => newest.has(id)) : [...newest.keys()].filter((id) => newest.get(id)!.atMs >= fromMs);
  return ids.map((jobId) => {
    const { atMs, job: j } = newest.get(jobId)!;
    const known = atStart.get(jobId);
    const startedInside = !known && reachesBack;
    const start = known ?? firstInside.get(jobId) ?? newest.get(jobId)!;
    const startMs = startedInside ? fromMs : start.atMs;
    const seconds = (atMs - startMs) / 1000;
    const per = (a: number | null | undefined, b: number | null | undefined) => (seconds > 0 && a != null && b != null ? (b - a) / seconds : 0);
    const cpusUsed = !startedInside && seconds > 0 && start.job.cpuUsageUsec !== null && j.cpuUsageUsec !== null ? (j.cpuUsageUsec - start.job.cpuUsageUsec) / 1e6 / seconds : null;
    return {
      kind: 'job' as const,
      jobId,
      user: j.user,
      uid: j.uid,
      memBytes: j.memBytes,
      memLimitBytes: j.memLimitBytes,
      requestedMemBytes: j.requestedMemBytes,
      memGrowthBytesPerSec: per(startedInside ? 0 : start.job.memBytes, j.memBytes),
      pidsGrowthPerSec: per(startedInside ? 0 : start.job.pidsCurrent, j.pidsCurrent),
      pidsCurrent: j.pidsCurrent,
      pidsMax: j.pidsMax,
      cpusUsed,
      requestedCpus: j.requestedCpus ?? j.cpusAllocated,
    };
  });
}
