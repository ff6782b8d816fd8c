/**
 * The watchdog's detection-and-action loop: samples the job cgroups at sampleHz, keeps a ~10 s
 * ring, runs the detectors every tick (the login rule at ~1 Hz on a login host), reports each
 * new finding once, chooses a victim and — in automatic mode — acts:
 *   memory and pids rules → kill the job (evidence captured before the kill, written after);
 *   cpu-hog → throttle the job to its allocation; login rule → warn / renice / stop.
 * Observe mode only logs and reports what it would have done. It never acts on anything outside
 * the jobs' cgroup parent except the login rule's processes, and never on a protected process.
 * Ask mode freezes the victim (job: freezer; process: SIGSTOP), reports a `pending` event with a
 * key and a deadline, polls the server for the operator's decision while something is pending,
 * and ends it (ask.ts resolvePending): approve → the rule's action, deny → thaw and leave it
 * alone, deadline on this node's clock → the fallback, job gone → the pending event is closed.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { JobTree } from './job-tree.ts';
import { randomUUID } from 'node:crypto';
import { JobHandleBook, continueProcess, killJob, freezeJob, processState, reniceProcess, stopProcess, thawJob, throttleJob } from './actions.ts';
import { QuietBook, askDeadline, resolvePending, type AskResolution, type PendingAsk, type ServerDecision } from './ask.ts';
import { detect, detectLogin, underNodePressure } from './detectors.ts';
import { captureEvidence, writeEvidence, type EvidenceTarget } from './evidence.ts';
import type { Finding, ProcessTick, RecoveryEventInput, RecoveryTimings, Sample } from './model.ts';
import type { EventReporter } from './reporter.ts';
import { DEFAULT_TIERING, Sampler, parsePasswd, readProcesses, type JobInfo } from './sampler.ts';
import type { ResolvedRecovery, RuleAction } from './settings.ts';
import { chooseVictim, findingKey, forgetAction, jobCandidatesFromWindow, newHistory, noteAction, noteRecovered, pruneHistory, victimKey, type Candidate, type ProcessCandidate } from './victim.ts';

/** Samples kept: at least this long, and long enough for the longest sustained rule (ringMsFor). */
const MIN_RING_MS = 10_000;

export function ringMsFor(d: ResolvedRecovery['detectors'], spacingMs: number): number {
  // A sustained rule looks back over ceil(S/W)+1 windows of at least W each; a job read only every
  // `spacingMs` (an idle one, under tiered sampling) can stretch each window to W + spacingMs. A
  // ring a little too short for that made cpu-hog miss a hog whose reads slipped by a tick.
  const span = (r: { sustainMs: number; windowMs: number }) => (Math.ceil(r.sustainMs / r.windowMs) + 1) * (r.windowMs + spacingMs);
  return Math.max(MIN_RING_MS, span(d.cpuHog), span(d.thrash), 2 * (d.memoryLimit.windowMs + spacingMs), 2 * (d.nodeMemory.windowMs + spacingMs), 2 * (d.pids.windowMs + spacingMs));
}
/** A finding not seen for this long is forgotten: when it comes back it is reported again. */
const FORGET_MS = 5_000;

/** The jobs the sampler follows (a view, not a copy: the loop asks it every tick). */
type Followed = Pick<ReadonlySet<number>, 'has'>;

/** What "already reported" means: the finding's key; for a node-level finding, with the victim chosen (or none). */
function dedupeKey(finding: Finding, victim: Candidate | null): string {
  const key = findingKey(finding);
  return finding.jobId === null && finding.pid === null ? `${key}>${victim ? victimKey(victim) : 'none'}` : key;
}
/** Actions tried again when they fail, and how many tries a victim gets. */
const RETRIED: ReadonlySet<RuleAction> = new Set(['kill', 'freeze', 'stop']);
const MAX_ATTEMPTS = 3;
/**
 * How often every job's kernel OOM-kill counter is read (one small file per job). Jobs near their
 * memory limit are read every tick: the executor may remove a killed job's cgroup within a second.
 */
const OOM_CHECK_MS = 1_000;

export interface RecoveryLoopOptions {
  tree: JobTree;
  settings: ResolvedRecovery;
  host: string;
  reporter: EventReporter | null;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  jobInfo?: (jobId: number) => JobInfo | undefined;
  /** Wall clock, ms since the epoch (default Date.now). */
  now?: () => number;
  /** Ask mode: where decisions come from (default: the reporter's GET /api/recovery/decisions). */
  decisions?: (keys: string[]) => Promise<ServerDecision[]>;
}

interface PendingEntry extends PendingAsk {
  victimKey: string;
  finding: Finding;
  victim: Candidate;
  event: Omit<LoopEvent, 'action' | 'outcome' | 'timings' | 'evidencePath' | 'error'>;
}

export interface LoopEvent extends RecoveryEventInput {
  /** Monotonic ms of the action's decision (diagnostics for tests and benches). */
  decidedAtPerfMs: number;
}

interface Seen {
  severity: string;
  lastMs: number;
}

export class RecoveryLoop {
  private readonly sampler: Sampler;
  private readonly book: JobHandleBook;
  private readonly ring: Sample[] = [];
  private readonly ringMs: number;
  private readonly loginTicks: ProcessTick[] = [];
  private readonly seen = new Map<string, Seen>();
  private readonly inFlight = new Set<string>();
  private readonly history = newHistory();
  /** Victims acted on and not yet confirmed recovered: key → memory at the decision. */
  private readonly watching = new Map<string, { jobId: number; memBytes: number | null }>();
  private timer: NodeJS.Timeout | null = null;
  /** Ask mode: victims frozen while an operator decides, by key; decisions fetched; victims spared. */
  private readonly pending = new Map<string, PendingEntry>();
  private readonly decided = new Map<string, ServerDecision>();
  private readonly quiet = new QuietBook();
  private polling = false;
  private lastPollMs = -Infinity;
  private lastLoginMs = -Infinity;
  /** When each job's kernel OOM-kill counter was last read. */
  private readonly oomCheckedAt = new Map<number, number>();
  /** Each job's kernel OOM-kill counter when last read (the first reading is the baseline, not news). */
  private readonly oomKillsSeen = new Map<number, number>();
  /** Failed kills, freezes and stops per victim ('job:42'), for the retries. */
  private readonly failedAttempts = new Map<string, number>();
  /** When each job last used ≥ 80 % of its memory limit. */
  private readonly nearLimitAt = new Map<number, number>();
  private users: Map<number, string> | null = null;
  private readonly now: () => number;
  /** Every event produced (bounded, newest last): for tests and `status`. */
  readonly events: LoopEvent[] = [];
  ticks = 0;
  tickErrors = 0;

  /** The samples of the last ~10 s, oldest first (for diagnostics and status). */
  recentSamples(): readonly Sample[] {
    return this.ring;
  }

  constructor(private readonly o: RecoveryLoopOptions) {
    const d = o.settings.detectors;
    const tickMs = 1000 / o.settings.sampleHz;
    this.ringMs = ringMsFor(d, Math.max(tickMs, o.settings.idleEveryMs) + tickMs);
    this.sampler = new Sampler({
      tree: o.tree,
      jobInfo: o.jobInfo,
      rescanMs: 250,
      // Hot from wherever a memory rule starts looking (memory.stat is read from there too), and from the pids rule's floor.
      tiering: o.settings.idleEveryMs > tickMs ? { ...DEFAULT_TIERING, idleEveryMs: o.settings.idleEveryMs, hotFromRatio: Math.min(0.5, d.memoryLimit.predictFromRatio, d.pids.nearMaxRatio / 2) } : undefined,
      pressured: (node) => underNodePressure(node, d),
    });
    this.book = new JobHandleBook(o.tree);
    this.now = o.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), Math.max(20, Math.round(1000 / this.o.settings.sampleHz)));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const deadline = performance.now() + 10_000;
    while (this.inFlight.size && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.sampler.close();
    this.book.closeAll();
  }

  /** One tick: sample, detect, act. Never throws (errors are logged and counted). */
  tick(): void {
    try {
      this.tickInner();
    } catch (error) {
      this.tickErrors++;
      if (this.tickErrors <= 5 || this.tickErrors % 100 === 0) this.o.logger.error({ err: error }, `recovery tick failed (${this.tickErrors} so far)`);
    }
  }

  private tickInner(): void {
    const nowMs = this.now();
    const sample = this.sampler.tick(nowMs);
    this.ticks++;
    this.ring.push(sample);
    while (this.ring.length && nowMs - this.ring[0]!.atMs > this.ringMs) this.ring.shift();
    const findings = detect(this.ring, this.o.settings.detectors, nowMs);
    if (this.o.settings.loginHost && nowMs - this.lastLoginMs >= 1000) {
      this.lastLoginMs = nowMs;
      findings.push(...this.loginFindings(nowMs));
    }
    const followed = this.sampler.followed;
    this.checkRecovered(sample, followed, nowMs);
    this.reportKernelOomKills(sample, followed, nowMs);
    this.checkPending(followed, nowMs);
    pruneHistory(this.history, this.o.settings.victim, nowMs);
    for (const finding of findings) this.handle(finding, nowMs);
    for (const [key, s] of this.seen) if (nowMs - s.lastMs > FORGET_MS) this.seen.delete(key);
  }

  private loginFindings(nowMs: number): Finding[] {
    if (!this.users) {
      try {
        this.users = parsePasswd(fs.readFileSync('/etc/passwd', 'utf8'));
      } catch {
        this.users = new Map();
      }
    }
    const tick: ProcessTick = { atMs: nowMs, cpuTicksPerSecond: 100, processes: readProcesses({ users: this.users }) };
    this.loginTicks.push(tick);
    // Keep enough history for the stop threshold, thinned to one tick per stepMs/6 beyond the last minute.
    const c = this.o.settings.detectors.login;
    const keepMs = c.stopAfterMs + 2 * c.stepMs;
    while (this.loginTicks.length && nowMs - this.loginTicks[0]!.atMs > keepMs) this.loginTicks.shift();
    const spacing = c.stepMs / 6;
    for (let i = this.loginTicks.length - 2; i > 0; i--) {
      const t = this.loginTicks[i]!;
      if (nowMs - t.atMs > 60_000 && t.atMs - this.loginTicks[i - 1]!.atMs < spacing) this.loginTicks.splice(i, 1);
    }
    return detectLogin(this.loginTicks, this.o.settings.detectors, nowMs);
  }

  /** A finding already reported (same key and severity, seen within FORGET_MS) is not reported again. */
  private isNew(key: string, finding: Finding, nowMs: number): boolean {
    const known = this.seen.get(key);
    this.seen.set(key, { severity: finding.severity, lastMs: nowMs });
    return !known || known.severity !== finding.severity;
  }

  /** Writes the evidence captured before an action (after it, so it never delays it); null when it could not. */
  private saveEvidence(evidence: NonNullable<ReturnType<typeof captureEvidence>>, victim: Candidate): string | null {
    try {
      return writeEvidence(this.o.settings.evidenceDir, evidence);
    } catch (e) {
      this.o.logger.warn(`recovery: could not write the evidence of ${this.describe(victim)}: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  }

  private candidatesFor(finding: Finding): Candidate[] {
    if (finding.rule === 'login-cpu-hog') {
      const p = this.loginTicks.at(-1)?.processes.find((x) => x.pid === finding.pid);
      if (!p) return [];
      let cmdline = '';
      try {
        cmdline = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
      } catch {
        return [];
      }
      const candidate: ProcessCandidate = { kind: 'process', pid: p.pid, uid: p.uid, user: p.user, comm: p.comm, cmdline, rssBytes: p.rssBytes, rssGrowthBytesPerSec: 0, cpusUsed: finding.metrics.cpuShare ?? null, jobId: null };
      return [candidate];
    }
    const jobs = jobCandidatesFromWindow(this.ring, finding.window.fromMs, finding.window.toMs, new Set(this.sampler.jobIds()));
    // The processes in each job: a job holding a protected process is never chosen.
    for (const j of jobs) {
      if (finding.jobId !== null && j.jobId !== finding.jobId) continue;
      try {
        j.pids = this.o.tree.job(j.jobId).pids();
      } catch {
        j.pids = [];
      }
    }
    return jobs;
  }

  private handle(finding: Finding, nowMs: number): void {
    // A finding about a job or a process names its victim: it is judged once while it holds. A
    // node-level one is judged again on every tick it holds, since whom to act on can change (a job
    // that just started filling, a victim that recovered while the node is still short); it is
    // reported once per victim chosen, or once while nothing may be chosen.
    const nodeLevel = finding.jobId === null && finding.pid === null;
    if (!nodeLevel && !this.isNew(findingKey(finding), finding, nowMs)) return;
    const decidedAt = performance.now();
    const mode = this.o.settings.modeOf(finding.rule);
    const action = this.o.settings.actionFor(finding.rule, finding.severity);
    const choice = chooseVictim(finding, this.candidatesFor(finding), this.o.settings.victim, nowMs, this.history);
    const base = {
      host: this.o.host,
      at: new Date(nowMs).toISOString(),
      rule: finding.rule,
      severity: finding.severity,
      mode,
      explanation: finding.explanation,
      metrics: finiteMetrics(finding.metrics),
    };
    if (!choice.victim) {
      if (nodeLevel && !this.isNew(dedupeKey(finding, null), finding, nowMs)) return;
      // Nothing may be chosen (protected, gone, cooling down): report the finding once, act on nothing.
      this.o.logger.warn(`recovery ${finding.rule}: ${finding.explanation}; no action: ${choice.reason}`);
      this.emit({ ...base, jobId: finding.jobId, pid: finding.pid, user: finding.user, action: 'none', outcome: 'observed', victimExplanation: choice.reason, timings: null, evidencePath: null, error: null, decidedAtPerfMs: decidedAt });
      return;
    }
    const victim = choice.victim;
    if (nodeLevel && !this.isNew(dedupeKey(finding, victim), finding, nowMs)) return;
    const target = victim.kind === 'job' ? { jobId: victim.jobId, pid: null } : { jobId: null, pid: victim.pid };
    const event = { ...base, ...target, user: victim.user ?? finding.user, victimExplanation: choice.explanation, decidedAtPerfMs: decidedAt };
    if (mode === 'observe' || action === 'none') {
      this.o.logger.info(`recovery ${finding.rule} (observe): would ${action} ${this.describe(victim)}: ${finding.explanation}; ${choice.explanation}`);
      this.emit({ ...event, action, outcome: 'observed', timings: null, evidencePath: null, error: null });
      return;
    }
    const key = victimKey(victim);
    if (this.inFlight.has(key)) return;
    if (mode === 'ask' && action !== 'warn') {
      // Spared by an operator, or already waiting for one: leave it be.
      if (this.quiet.isQuiet(key, nowMs) || [...this.pending.values()].some((p) => p.victimKey === key)) return;
      this.inFlight.add(key);
      noteAction(this.history, finding, victim, nowMs);
      void this.ask(finding, victim, action, event, decidedAt, nowMs).finally(() => this.inFlight.delete(key));
      return;
    }
    this.inFlight.add(key);
    // The cooldown is about freeing resources: only kills and freezes start one (the login rule's warn → renice → stop escalates freely).
    if (action === 'kill' || action === 'freeze') noteAction(this.history, finding, victim, nowMs);
    void this.act(finding, victim, action, event, decidedAt, nowMs).finally(() => this.inFlight.delete(key));
  }

  private async act(finding: Finding, victim: Candidate, action: RuleAction, event: Omit<LoopEvent, 'action' | 'outcome' | 'timings' | 'evidencePath' | 'error'>, decidedAt: number, nowMs: number): Promise<void> {
    let timings: RecoveryTimings | null = null;
    let evidencePath: string | null = null;
    let error: string | null = null;
    let done = false;
    let detail = '';
    const target: EvidenceTarget = victim.kind === 'job' ? { kind: 'job', jobId: victim.jobId, user: victim.user } : { kind: 'process', pid: victim.pid, user: victim.user };
    let evidence: ReturnType<typeof captureEvidence> | null = null;
    const window = this.ring.filter((s) => s.atMs >= finding.window.fromMs);
    try {
      if (action === 'kill' || action === 'freeze' || action === 'stop') {
        evidence = captureEvidence(victim.kind === 'job' ? this.o.tree : null, target, { nowMs, window, finding, explanation: event.victimExplanation });
      }
      if (victim.kind === 'job') {
        const h = this.book.ensure(victim.jobId);
        if (action === 'kill') {
          const actions = this.o.tree.actions;
          const r = actions ? await actions.kill(victim.jobId, { decidedAtMs: decidedAt, timeoutMs: 5000 }) : await killJob(h, { decidedAtMs: decidedAt, timeoutMs: 5000 });
          timings = { decisionToWriteMs: round(r.decisionToWriteMs), writeMs: r.writeMs === null ? null : round(r.writeMs), writeToEmptyMs: r.writeToEmptyMs === null ? null : round(r.writeToEmptyMs) };
          done = r.empty;
          detail = `via ${r.path}${r.empty ? `, empty ${timings.writeToEmptyMs} ms after the write` : ', NOT empty within 5 s'}`;
          if (evidence) evidence.action = { ...r };
          if (r.empty) this.watching.set(`job:${victim.jobId}`, { jobId: victim.jobId, memBytes: victim.memBytes });
        } else if (action === 'freeze') {
          const writeAt = performance.now();
          const r = await this.freezeVictim(victim.jobId);
          timings = { decisionToWriteMs: round(writeAt - decidedAt), writeMs: null, writeToEmptyMs: null };
          done = r.done;
          detail = r.done ? `frozen ${round(r.writeToDoneMs ?? 0)} ms after the write` : 'not frozen within 2 s';
          if (evidence) evidence.action = { ...r };
        } else if (action === 'throttle') {
          const cpus = victim.requestedCpus;
          if (cpus === null) throw new Error(`job ${victim.jobId} has no known CPU allocation to throttle it to`);
          const writeAt = performance.now();
          const r = throttleJob(h, cpus);
          timings = { decisionToWriteMs: round(writeAt - decidedAt), writeMs: round(performance.now() - writeAt), writeToEmptyMs: null };
          done = true;
          detail = `capped at ${cpus} CPUs (${r.file}: ${r.previous} → ${r.written})`;
        } else if (action === 'warn') {
          done = true;
          detail = 'warned (reported)';
        } else {
          throw new Error(`action ${action} does not apply to a job`);
        }
      } else {
        if (action === 'stop') {
          const writeAt = performance.now();
          const r = await stopProcess(victim.pid);
          timings = { decisionToWriteMs: round(writeAt - decidedAt), writeMs: null, writeToEmptyMs: null };
          done = r.done;
          detail = r.done ? 'stopped (SIGSTOP; SIGCONT resumes it)' : `not stopped (state ${r.state ?? 'gone'})`;
          if (evidence) evidence.action = { ...r };
        } else if (action === 'renice') {
          const r = reniceProcess(victim.pid, 19);
          done = true;
          detail = `reniced ${r.previous} → ${r.nice} (${r.threads} threads)`;
        } else if (action === 'warn') {
          done = true;
          detail = 'warned (reported)';
        } else {
          throw new Error(`action ${action} does not apply to a process outside the jobs (only warn, renice, stop)`);
        }
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (evidence) evidencePath = this.saveEvidence(evidence, victim);
    const outcome = error === null && done ? 'done' : 'failed';
    let retry = '';
    const victimId = victimKey(victim);
    if (outcome === 'failed' && RETRIED.has(action)) {
      // A failed kill, freeze or stop is tried again on the next tick the finding holds (the finding is forgotten and its cooldown lifted), up to MAX_ATTEMPTS.
      const attempts = (this.failedAttempts.get(victimId) ?? 0) + 1;
      if (this.failedAttempts.size >= 1000) this.failedAttempts.clear();
      this.failedAttempts.set(victimId, attempts);
      if (attempts < MAX_ATTEMPTS) {
        this.seen.delete(dedupeKey(finding, victim));
        forgetAction(this.history, victimId);
        retry = ` (attempt ${attempts} of ${MAX_ATTEMPTS}: trying again while the finding holds)`;
      } else {
        retry = ` (attempt ${attempts} of ${MAX_ATTEMPTS}: giving up — an operator must look)`;
      }
    } else if (outcome === 'done') {
      this.failedAttempts.delete(victimId);
    }
    const line = `recovery ${finding.rule}: ${action} ${this.describe(victim)} ${outcome === 'done' ? detail : `FAILED: ${error ?? detail}${retry}`}; ${finding.explanation}; ${event.victimExplanation}`;
    if (outcome === 'done') this.o.logger.warn(line);
    else this.o.logger.error(line);
    this.emit({ ...event, action, outcome, timings, evidencePath, error: outcome === 'done' ? null : `${error ?? detail}${retry}` });
  }

  /** Ask mode: freeze the victim, keep evidence, report `pending`, wait for a decision. */
  private async ask(finding: Finding, victim: Candidate, action: RuleAction, event: Omit<LoopEvent, 'action' | 'outcome' | 'timings' | 'evidencePath' | 'error'>, decidedAt: number, nowMs: number): Promise<void> {
    const s = this.o.settings.ask;
    const key = randomUUID();
    const deadlineMs = askDeadline(nowMs, s.timeoutMs);
    const target: EvidenceTarget = victim.kind === 'job' ? { kind: 'job', jobId: victim.jobId, user: victim.user } : { kind: 'process', pid: victim.pid, user: victim.user };
    let evidencePath: string | null = null;
    let error: string | null = null;
    let done = false;
    let timings: RecoveryTimings | null = null;
    let evidence: ReturnType<typeof captureEvidence> | null = null;
    const window = this.ring.filter((x) => x.atMs >= finding.window.fromMs);
    try {
      evidence = captureEvidence(victim.kind === 'job' ? this.o.tree : null, target, { nowMs, window, finding, explanation: event.victimExplanation });
      const writeAt = performance.now();
      if (victim.kind === 'job') {
        const r = await this.freezeVictim(victim.jobId);
        done = r.done;
        if (evidence) evidence.action = { ...r };
        if (!r.done) error = 'not frozen within 2 s';
      } else {
        const r = await stopProcess(victim.pid);
        done = r.done;
        if (evidence) evidence.action = { ...r };
        if (!r.done) error = `not stopped (state ${r.state ?? 'gone'})`;
      }
      timings = { decisionToWriteMs: round(writeAt - decidedAt), writeMs: null, writeToEmptyMs: null };
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (evidence) evidencePath = this.saveEvidence(evidence, victim);
    const fallback = s.fallback ?? action;
    const ask = { key, deadline: new Date(deadlineMs).toISOString(), proposed: action, decision: null, decidedBy: null, decidedAt: null, reason: null };
    if (!done) {
      this.o.logger.error(`recovery ${finding.rule} (ask): could not hold ${this.describe(victim)}: ${error ?? 'unknown'}; ${finding.explanation}`);
      this.emit({ ...event, action: 'freeze', outcome: 'failed', timings, evidencePath, error, ask });
      return;
    }
    this.o.logger.warn(`recovery ${finding.rule} (ask): froze ${this.describe(victim)} until an operator decides (${action} proposed; ${fallback} at ${ask.deadline}); ${finding.explanation}`);
    this.pending.set(key, { key, victimKey: victimKey(victim), target: victim.kind === 'job' ? { kind: 'job', jobId: victim.jobId } : { kind: 'process', pid: victim.pid }, proposed: action, fallback, startedMs: nowMs, deadlineMs, finding, victim, event });
    this.emit({ ...event, action, outcome: 'pending', timings, evidencePath, error: null, ask });
  }

  /** Ask mode, every tick while something is pending: fetch decisions (every pollMs), end what is decided. */
  private checkPending(followed: Followed, nowMs: number): void {
    // A spared job that is gone frees its entry (a later job never has the same id).
    for (const key of this.quiet.keys()) {
      const m = /^job:(\d+)$/.exec(key);
      if (m && !followed.has(Number(m[1]))) this.quiet.forget(key);
    }
    if (!this.pending.size) return;
    const fetch = this.o.decisions ?? (this.o.reporter ? (keys: string[]) => this.o.reporter!.decisions(this.o.host, keys) : null);
    if (fetch && !this.polling && nowMs - this.lastPollMs >= this.o.settings.ask.pollMs) {
      this.polling = true;
      this.lastPollMs = nowMs;
      fetch([...this.pending.keys()])
        .then((list) => {
          for (const d of list) if (this.pending.has(d.key)) this.decided.set(d.key, d);
        })
        .catch(() => undefined) // no server: keep waiting until the node's deadline
        .finally(() => {
          this.polling = false;
        });
    }
    for (const p of [...this.pending.values()]) {
      if (this.inFlight.has(p.victimKey)) continue;
      const alive = p.target.kind === 'job' ? this.jobAlive(followed, p.target.jobId) : processState(p.target.pid) !== null;
      const r = resolvePending(p, { nowMs, victimAlive: alive, decision: this.decided.get(p.key) ?? null });
      if (r.kind === 'wait') continue;
      this.pending.delete(p.key);
      this.decided.delete(p.key);
      this.inFlight.add(p.victimKey);
      void this.conclude(p, r, nowMs).finally(() => this.inFlight.delete(p.victimKey));
    }
  }

  /** What follows a decision: the action (approve/timeout), thaw (deny or fallback thaw), or only the report (job ended). */
  private async conclude(p: PendingEntry, r: Extract<AskResolution, { kind: 'resolve' }>, nowMs: number): Promise<void> {
    const ask = { key: p.key, deadline: new Date(p.deadlineMs).toISOString(), proposed: p.proposed, decision: r.decision, decidedBy: r.by, decidedAt: new Date(r.atMs).toISOString(), reason: r.reason };
    const event = { ...p.event, at: new Date(nowMs).toISOString(), ask };
    if (r.decision === 'ended') {
      this.o.logger.info(`recovery ${p.finding.rule} (ask): ${this.describe(p.victim)} ended while an operator was asked`);
      this.emit({ ...event, action: 'none', outcome: 'done', timings: null, evidencePath: null, error: null });
      return;
    }
    if (r.decision === 'denied' || r.action === 'thaw') this.quiet.spare(p.victimKey, nowMs, this.o.settings.ask.quietMs);
    const hold = r.action === 'kill' || r.action === 'freeze' || r.action === 'stop';
    if (!hold) {
      let error: string | null = null;
      try {
        await this.resume(p.victim);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      if (r.action === 'thaw' || r.action === 'none') {
        this.o.logger.warn(`recovery ${p.finding.rule} (ask): ${r.decision} by ${r.by}: ${this.describe(p.victim)} goes on${error ? ` — thaw FAILED: ${error}` : ''}`);
        this.emit({ ...event, action: 'thaw', outcome: error ? 'failed' : 'done', timings: null, evidencePath: null, error });
        return;
      }
    }
    await this.act(p.finding, p.victim, r.action as RuleAction, event, performance.now(), nowMs);
  }

  /** The victim as the log names it ("SLURM job 4711 (alice)" on a SLURM node). */
  private describe(c: Candidate): string {
    return `${c.kind === 'job' && this.o.tree.jobIdKind === 'slurm' ? 'SLURM ' : ''}${describe(c)}`;
  }

  /** Freezes a job through the tree's own actions where it has them (SLURM: never slurmstepd), else its whole cgroup. */
  private freezeVictim(jobId: number) {
    const actions = this.o.tree.actions;
    return actions ? actions.freeze(jobId, { timeoutMs: 2000 }) : freezeJob(this.book.ensure(jobId), { timeoutMs: 2000 });
  }

  /** A job still there with processes in it (a frozen one counts). */
  private jobAlive(followed: Followed, jobId: number): boolean {
    if (!followed.has(jobId)) return false;
    try {
      return this.o.tree.job(jobId).populated();
    } catch {
      return false;
    }
  }

  private async resume(victim: Candidate): Promise<void> {
    if (victim.kind === 'job') {
      if (this.o.tree.actions) this.o.tree.actions.thaw(victim.jobId);
      else thawJob(this.book.ensure(victim.jobId));
    }
    else {
      const r = await continueProcess(victim.pid);
      if (!r.done) throw new Error(`process ${victim.pid} still stopped (state ${r.state ?? 'gone'})`);
    }
  }

  /** Ask mode: the keys waiting for a decision (tests, status). */
  pendingKeys(): string[] {
    return [...this.pending.keys()];
  }

  /** A killed job whose cgroup is empty and whose memory went down has recovered: the cooldown ends. */
  private checkRecovered(sample: Sample, followed: Followed, nowMs: number): void {
    for (const [key, w] of this.watching) {
      const job = sample.jobs.find((j) => j.jobId === w.jobId);
      // Followed but not read this tick (tiered sampling): look again when it is.
      if (!job && followed.has(w.jobId)) continue;
      let empty = !job;
      if (job) {
        const h = this.book.get(w.jobId);
        try {
          empty = h ? !this.o.tree.job(w.jobId).populated() : true;
        } catch {
          empty = true;
        }
      }
      const memDown = !job || job.memBytes === null || w.memBytes === null || job.memBytes < w.memBytes;
      if (empty && memDown) {
        noteRecovered(this.history, key, nowMs);
        this.watching.delete(key);
      }
    }
  }

  /**
   * The kernel's OOM killer got to a job first (memory.events oom_kill went up): reported as a
   * `kernel-oom` event, so the record shows every memory kill, ours or the kernel's.
   */
  private reportKernelOomKills(sample: Sample, followed: Followed, nowMs: number): void {
    for (const job of sample.jobs) {
      // Near the limit now or within the last 2 s (the tick after a kill shows the memory already freed).
      if (job.memLimitBytes !== null && job.memBytes !== null && job.memBytes >= 0.8 * job.memLimitBytes) this.nearLimitAt.set(job.jobId, nowMs);
      const nearLimit = nowMs - (this.nearLimitAt.get(job.jobId) ?? -Infinity) < 2000;
      const due = nowMs - (this.oomCheckedAt.get(job.jobId) ?? -Infinity) >= OOM_CHECK_MS;
      if (!due && !nearLimit && this.oomKillsSeen.has(job.jobId)) continue;
      this.oomCheckedAt.set(job.jobId, nowMs);
      let count = job.oomKills ?? null;
      if (job.oomKills === undefined || this.o.tree.oomKillsNested) {
        try {
          count = this.o.tree.job(job.jobId).oomKills();
        } catch {
          count = null;
        }
      }
      if (count === null) continue;
      const before = this.oomKillsSeen.get(job.jobId);
      this.oomKillsSeen.set(job.jobId, count);
      if (before === undefined || count <= before) continue;
      const killed = count - before;
      const limit = job.memLimitBytes !== null ? ` at its ${Math.round(job.memLimitBytes / 1048576)} MiB limit` : '';
      const explanation = `the kernel's OOM killer killed ${killed} process${killed === 1 ? '' : 'es'} of job ${job.jobId}${job.user ? ` (${job.user})` : ''}${limit}; the watchdog had not acted first`;
      this.o.logger.warn(`recovery kernel-oom: ${explanation}`);
      const metrics = finiteMetrics({ oomKills: killed, memBytes: job.memBytes, memLimitBytes: job.memLimitBytes, anonBytes: job.anonBytes });
      this.emit({ host: this.o.host, at: new Date(nowMs).toISOString(), rule: 'kernel-oom', severity: 'act', mode: this.o.settings.modeOf('kernel-oom'), jobId: job.jobId, pid: null, user: job.user, action: 'none', outcome: 'observed', explanation, victimExplanation: 'chosen by the kernel (by its badness score), not by the watchdog', metrics, timings: null, evidencePath: null, error: null, decidedAtPerfMs: performance.now() });
    }
    for (const map of [this.oomKillsSeen, this.nearLimitAt, this.oomCheckedAt]) for (const jobId of map.keys()) if (!followed.has(jobId)) map.delete(jobId);
  }

  private emit(raw: LoopEvent): void {
    const event = this.o.tree.jobIdKind === 'slurm' ? asSlurmEvent(raw) : raw;
    this.events.push(event);
    if (this.events.length > 1000) this.events.shift();
    const { decidedAtPerfMs: _omit, ...body } = event;
    this.o.reporter?.report(body);
  }
}

/**
 * On a SLURM node the job ids are SLURM's: the event carries it as slurmJobId (the server finds
 * the Keisan job whose external id it is) and its texts say "SLURM job N".
 */
export function asSlurmEvent(event: LoopEvent): LoopEvent {
  if (event.jobId === null) return event;
  const id = event.jobId;
  const name = new RegExp(`(?<!SLURM )\\bjob ${id}\\b`, 'g');
  const say = (text: string) => text.replace(name, `SLURM job ${id}`);
  return { ...event, jobId: null, slurmJobId: id, explanation: say(event.explanation), victimExplanation: say(event.victimExplanation), ...(event.error ? { error: say(event.error) } : {}) };
}

function describe(c: Candidate): string {
  return c.kind === 'job' ? `job ${c.jobId}${c.user ? ` (${c.user})` : ''}` : `process ${c.pid} (${c.comm}) of ${c.user ?? `uid ${c.uid}`}`;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The finding's metrics that are finite numbers (some are null where the kernel gave nothing). */
export function finiteMetrics(metrics: Record<string, number | null>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}
