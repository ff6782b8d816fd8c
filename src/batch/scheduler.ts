/**
 * The scheduler: one pure, deterministic pass over the batch state.
 *
 *   schedule(state, nodes, policy, now) → { start, kill, pending }
 *
 * No clock and no I/O: the caller passes `now` and carries the decisions out. Same input, same
 * output (ties are broken by submit time, then job id; nodes are tried in name order).
 *
 * Priority order. Queues of higher `priority` go first (a tier above fair share; queues of one
 * priority but different fair-share modes: subgroup-then-user first). Inside a tier, jobs are
 * taken in hierarchical fair-share order (see fairshare.ts): the subgroup furthest below its
 * share, then its user with the least usage, then that user's oldest job. Every job taken that
 * starts, or waits in line for resources, is charged its expected usage (rate × its time limit,
 * at most one half-life) before the next pick, so priorities are recomputed after every
 * decision for the entity touched only: within one pass a flooding user's jobs interleave with
 * everyone else's instead of taking the free slots back to back.
 *
 * Checks, in this order, give each pending job its first blocking cause: held, begin time,
 * dependencies (ok / any / notok against `state.finished`; one that can never be met also
 * yields a kill decision), queue disabled (or unknown), the queue's running limits per user
 * and per subgroup, the array throttle, then resources (cpus, memory, GPUs of the requested
 * type with device indices given exclusively) together with the queue's limit per host.
 *
 * Backfill (EASY). The first job in order that passes the checks but fits on no node now is
 * the one reserved job: it gets the earliest time T at which some node, releasing running jobs'
 * resources at startedAt + timeLimit, has room for it (the node, and the resources left over
 * at T, are noted). With `policy.backfill`, a later job may still start now if it fits and it
 * runs on another node, or ends (by its time limit) no later than T, or fits in the left-over
 * resources and leaves the reserved GPUs alone — so the reserved job is never delayed. Without
 * backfill nothing after the reserved job starts in this pass. There is one reservation per
 * pass. When running jobs have no time limit the reservation has no time and protects its node
 * entirely.
 *
 * Estimates. After the pass, the first ESTIMATE_DEPTH jobs waiting in line are projected in
 * priority order onto the running jobs' ends (every job assumed to run its full time limit, no
 * backfill), giving each an estimated start and the job whose end lets it start; deeper jobs
 * get none (`noEstimate: 'too-far'`), as do jobs blocked by something other than resources.
 *
 * Cost: one read of every pending job into compact records laid out by user (a counting sort;
 * a user's jobs are sorted only when they came out of age order), then one ordered walk,
 * O(n · (log users + nodes)), that decides every job and gives positions and "jobs ahead" as
 * it goes; when nothing fits any more a job costs a few comparisons and two small heap sifts.
 * The explanation objects are made in one loop at the end. 100 000 pending jobs of 50 users:
 * about 40-50 ms on a 2-core VM (bench/scheduler.ts).
 */
import {
  FairShareLane,
  MinHeap,
  chargeHorizonMs,
  expectedCharge,
  fairShareNumbers,
  usageRate,
  type LaneUser,
} from './fairshare.ts';
import {
  FINAL_STATES,
  type GpuDevice,
  type JobState,
  type KillDecision,
  type NodeResources,
  type PendingExplanation,
  type PendingReason,
  type Queue,
  type ResourceRequest,
  type ScheduleResult,
  type SchedJob,
  type SchedulerPolicy,
  type SchedulerState,
  type StartDecision,
} from './model.ts';

/** How many jobs waiting in line get a projected start; deeper ones get `noEstimate: 'too-far'`. */
export const ESTIMATE_DEPTH = 2000;

const NO_FIT = -1;
const HOST_LIMIT = -2;
const RESERVED = -3;

const HELD: PendingReason = Object.freeze({ kind: 'held' });

type NoEstimate = NonNullable<PendingExplanation['noEstimate']>;

interface NodeState {
  readonly name: string;
  readonly accepting: boolean;
  readonly capCpus: number;
  readonly capMem: number;
  freeCpus: number;
  freeMem: number;
  /** Sorted by index. */
  readonly gpus: GpuDevice[];
  readonly gpuBusy: Uint8Array;
  readonly gpuPosByIndex: Map<number, number>;
  /** Running jobs per queue (for maxRunningPerHost). */
  readonly byQueue: Map<string, number>;
}

interface QueueCtx {
  readonly index: number;
  readonly name: string;
  readonly queue: Queue | null;
  readonly enabled: boolean;
  /** Running jobs of this queue per user and per subgroup. */
  readonly byUser: Map<string, Counter>;
  readonly bySubgroup: Map<string, Counter>;
  position: number;
  readonly lane: FairShareLane;
  readonly disabledReason: PendingReason;
}

/** A running (or just started) job's resources, released at `end`. */
interface EndEvent {
  readonly jobId: number;
  readonly node: number;
  readonly end: number;
  readonly cpus: number;
  readonly mem: number;
  /** Positions into the node's `gpus`. */
  readonly gpuPos: number[];
}

interface Reservation {
  readonly jobId: number;
  readonly node: number;
  /** Infinity: running jobs without a time limit hold what it needs; its node is protected. */
  readonly time: number;
  readonly afterJob: number | null;
  extraCpus: number;
  extraMem: number;
  /** GPU positions on the node the reserved job will take. */
  readonly gpuReserved: Set<number>;
}

const EMPTY_STATE: SchedulerState = { pending: [], running: [], finished: new Map(), usage: { byUser: new Map(), bySubgroup: new Map() } };

/** noEstimate in compact form (index into this table). */
const NO_ESTIMATE: readonly (NoEstimate | null)[] = [null, 'blocked', 'no-time-limit', 'never-fits', 'too-far'];
const NE_NONE = 0;
const NE_BLOCKED = 1;
const NE_NO_LIMIT = 2;
const NE_NEVER = 3;
const NE_TOO_FAR = 4;

/** One scheduling pass: see the file comment. Pure and deterministic. */
export function schedule(state: SchedulerState, nodes: NodeResources[], policy: SchedulerPolicy, now: number): ScheduleResult {
  const pass = new Pass(state, nodes, policy, now);
  const result = pass.run();
  pass.release();
  _keptPass = pass;
  return result;
}

/**
 * The last pass's skeleton (its references to the caller's data and its large arrays dropped),
 * kept only so that its objects' hidden classes stay alive: V8 forgets a hidden class no
 * object uses, and throws away the optimised code that relied on it. Without this, each pass
 * after a full garbage collection ran unoptimised for a while: measured about 1.6 times as
 * slow. It has no effect on results.
 */
let _keptPass: Pass | null = null;

// Pending jobs are read once, in order, into two records of 4 numbers each: the ordered walk
// then touches job objects only for what is rare, and mostly only the hot record (two jobs to
// a cache line), since the walk visits jobs in fair-share order, far apart in memory.
const REC = 4;
const R_AT = 0; // submittedAt
const R_ID = 1;
const R_CHARGE = 2; // expected usage charged when it starts or waits in line
const R_FLAGS = 3; // flags below + 32 × its queue context's index
const C_CPUS = 0; // the cold record: needed only when the job might be placed
const C_MEM = 1;
const C_GPUS = 2;
const C_LIMIT = 3; // time limit, Infinity when none
const F_HELD = 1;
const F_LATER = 2;
const F_DEPS = 4;
const F_ARRAY = 8;
const F_NEVER = 16; // no accepting node is big enough for it
const F_BITS = 31;
const F_SHIFT = 5;

/**
 * Working arrays of a pass. The explanations are decided in compact form during the ordered
 * walk (the k-th pending job in priority order: its position, place in its queue, ...) and made
 * into objects in one tight loop at the end, which costs a fraction of allocating them along
 * the walk.
 */
interface Scratch {
  /**
   * The pending jobs' hot and cold records, REC numbers each, by position: each lane user's
   * jobs together, oldest first, so that the walk reads memory in order. orig[p] is the index
   * in state.pending of the job at position p.
   */
  rec: Float64Array;
  cold: Float64Array;
  orig: Int32Array;
  /** The records by index while the jobs are read, and each job's lane user. */
  tmp: Float64Array;
  userOf: Int32Array;
  /** The decisions by k (the k-th pending job in priority order): OUT whole numbers each, and two times. */
  out: Int32Array;
  times: Float64Array;
}

// A decision's fields: the job's position (see Scratch), its position in its queue, jobs
// ahead (priority reason) or -1, index of its other reason or -1, its lane user, noEstimate
// code; and in `times`, its estimated start and the job it waits for (NaN = none), and its id
// (copied while its record is at hand). Whole numbers are kept as such so that the
// explanation objects get small integers, not boxed doubles.
const OUT = 6;
const O_IDX = 0;
const O_POS = 1;
const O_AHEAD = 2;
const O_SPECIAL = 3;
const O_USER = 4;
const O_NOEST = 5;
const TIMES = 3;
const T_EST = 0;
const T_AFTER = 1;
const T_ID = 2;

/**
 * Scratch space kept between passes: a pass is synchronous and overwrites every entry it
 * reads, so reuse is invisible (and spares large allocations per pass).
 */
let scratch: Scratch | null = null;
function scratchFor(count: number): Scratch {
  if (scratch === null || scratch.rec.length < count * REC) {
    const n = Math.max(count, 2 * ((scratch?.rec.length ?? 0) / REC), 1024);
    scratch = {
      rec: new Float64Array(n * REC),
      cold: new Float64Array(n * REC),
      orig: new Int32Array(n),
      tmp: new Float64Array(n * 2 * REC),
      userOf: new Int32Array(n),
      out: new Int32Array(n * OUT),
      times: new Float64Array(n * TIMES),
    };
  }
  return scratch;
}

class Pass {
  private readonly nodes: NodeState[];
  private readonly horizon: number;
  private readonly ctxByName = new Map<string, QueueCtx>();
  /** One lane per (queue priority, fair-share mode); unknown queues in a lane of their own. */
  private readonly lanes = new Map<string, { lane: FairShareLane; known: boolean; priority: number; modeRank: number }>();
  private readonly arrayRunning = new Map<number, number>();
  /** Usage for ordering: running charges, then every lane's charges as lanes finish. */
  private readonly orderUser = new Map<string, number>();
  private readonly orderSubgroup = new Map<string, number>();
  /** Usage as it really is: running jobs' and this pass's starts' charges. */
  private readonly realUser = new Map<string, number>();
  private readonly realSubgroup = new Map<string, number>();
  /** Users with pending or running jobs, per subgroup. */
  private readonly activeUsers = new Map<string, Set<string>>();
  private readonly allActiveUsers = new Set<string>();
  private events: EndEvent[] = [];
  private anyInfiniteEnd = false;
  private liveIds: ((id: number) => boolean) | null = null;
  private projection: MinHeap<EndEvent> | null = null;

  /** The pending jobs' records (REC numbers each, by position; see Scratch). */
  private readonly rec: Float64Array;
  private readonly cold: Float64Array;
  private readonly orig: Int32Array;
  private readonly space: Scratch;
  /** Each lane user's lane, by ordinal. */
  private readonly laneOfUser: FairShareLane[] = [];
  /** The fewest CPUs any pending job asks for: with fewer free anywhere, nothing can start. */
  private minJobCpus = Infinity;
  private readonly out: Int32Array;
  private readonly times: Float64Array;
  private readonly ctxList: QueueCtx[] = [];
  private readonly laneUsers: LaneUser[] = [];
  /** Reasons other than 'priority', referred to by out.special. */
  private specials: PendingReason[] = [];

  private start: StartDecision[] = [];
  private kill: KillDecision[] = [];
  /** Pending jobs explained so far (k runs 0..explained-1 in priority order). */
  private explained = 0;
  /** The k of the jobs waiting in line, in order, up to ESTIMATE_DEPTH. */
  private line: number[] = [];
  private lineCount = 0;
  private reservation: Reservation | null = null;
  private placing = true;
  // NaN until computed: see LaneGroup in fairshare.ts on why numbers start as doubles.
  private maxFreeCpus = NaN;
  private maxFreeMem = NaN;
  private maxFreeGpus = NaN;

  constructor(
    private state: SchedulerState,
    nodes: NodeResources[],
    private readonly policy: SchedulerPolicy,
    private readonly now: number,
  ) {
    this.horizon = chargeHorizonMs(policy);
    this.nodes = [...nodes]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((n) => {
        const gpus = [...n.gpus].sort((a, b) => a.index - b.index);
        return {
          name: n.name,
          accepting: n.accepting,
          capCpus: n.cpus,
          capMem: n.memBytes,
          freeCpus: n.cpus,
          freeMem: n.memBytes,
          gpus,
          gpuBusy: new Uint8Array(gpus.length),
          gpuPosByIndex: new Map(gpus.map((g, pos) => [g.index, pos])),
          byQueue: new Map(),
        };
      });
    const space = (this.space = scratchFor(state.pending.length));
    this.rec = space.rec;
    this.cold = space.cold;
    this.orig = space.orig;
    this.out = space.out;
    this.times = space.times;
  }

  /** Drops what a finished pass holds of the caller's data and its large arrays (see _keptPass). */
  release(): void {
    this.state = EMPTY_STATE;
    this.events = [];
    this.specials = [];
    this.start = [];
    this.kill = [];
    this.line = [];
    this.liveIds = null;
    this.reservation = null;
    this.projection?.clear();
    for (const { lane } of this.lanes.values()) lane.release();
  }

  run(): ScheduleResult {
    this.takeRunning();
    this.recomputeMaxFree();
    this.bucket();
    // Processing order: higher priority first; at one priority subgroup-then-user before per-user
    // fair share; jobs of unknown queues last.
    const lanes = [...this.lanes.values()]
      .sort((a, b) => Number(b.known) - Number(a.known) || b.priority - a.priority || a.modeRank - b.modeRank)
      .map((l) => l.lane);
    const userUsage = (u: string) => (this.state.usage.byUser.get(u) ?? 0) + (this.orderUser.get(u) ?? 0);
    const subgroupUsage = (s: string) => (this.state.usage.bySubgroup.get(s) ?? 0) + (this.orderSubgroup.get(s) ?? 0);
    const { rec, ctxList } = this;
    for (const lane of lanes) {
      lane.begin(userUsage, subgroupUsage);
      for (let p = lane.peek(); p >= 0; p = lane.peek()) {
        lane.advance(this.decide(p, ctxList[rec[p * REC + R_FLAGS]! >>> F_SHIFT]!, lane.peekUser()));
      }
      lane.charges(
        (u, c) => this.orderUser.set(u, (this.orderUser.get(u) ?? 0) + c),
        (s, c) => this.orderSubgroup.set(s, (this.orderSubgroup.get(s) ?? 0) + c),
      );
    }
    this.project();
    this.fillFairShare();
    this.kill.sort((a, b) => a.jobId - b.jobId);
    return { start: this.start, kill: this.kill, pending: this.materialize() };
  }

  // ------------------------------------------------------------------ set-up

  private ctx(name: string): QueueCtx {
    let ctx = this.ctxByName.get(name);
    if (ctx === undefined) {
      const queue = this.policy.queues.get(name) ?? null;
      const mode = queue?.fairShare ?? 'subgroup-then-user';
      const laneKey = queue === null ? 'unknown' : `${queue.priority}|${mode}`;
      let entry = this.lanes.get(laneKey);
      if (entry === undefined) {
        const lane = new FairShareLane(this.rec, REC, mode, this.policy.subgroupShares);
        entry = { lane, known: queue !== null, priority: queue?.priority ?? 0, modeRank: mode === 'subgroup-then-user' ? 0 : 1 };
        this.lanes.set(laneKey, entry);
      }
      const lane = entry.lane;
      ctx = {
        index: this.ctxList.length,
        name,
        queue,
        enabled: queue !== null && queue.enabled,
        byUser: new Map(),
        bySubgroup: new Map(),
        position: 0,
        lane,
        disabledReason: Object.freeze({ kind: 'queue-disabled', queue: name }),
      };
      this.ctxByName.set(name, ctx);
      this.ctxList.push(ctx);
    }
    return ctx;
  }

  private markActive(user: string, subgroup: string): void {
    let users = this.activeUsers.get(subgroup);
    if (users === undefined) this.activeUsers.set(subgroup, (users = new Set()));
    users.add(user);
    this.allActiveUsers.add(user);
  }

  private takeRunning(): void {
    const { now, horizon } = this;
    const weights = this.policy.usageWeights;
    const nodeIndex = new Map(this.nodes.map((n, i) => [n.name, i]));
    const running = [...this.state.running].sort((a, b) => a.id - b.id);
    for (const job of running) {
      const endsAt = job.timeLimitMs > 0 ? job.startedAt + job.timeLimitMs : Infinity;
      if (Number.isFinite(endsAt) && now >= endsAt) this.kill.push({ jobId: job.id, reason: 'timeout' });
      const charge = expectedCharge(usageRate(job.request, weights), endsAt, now, horizon);
      if (charge > 0) {
        add(this.orderUser, job.user, charge);
        add(this.orderSubgroup, job.subgroup, charge);
        add(this.realUser, job.user, charge);
        add(this.realSubgroup, job.subgroup, charge);
      }
      this.markActive(job.user, job.subgroup);
      const ctx = this.ctx(job.queue);
      counter(ctx.byUser, job.user).count++;
      counter(ctx.bySubgroup, job.subgroup).count++;
      if (job.arrayJobId !== null) add(this.arrayRunning, job.arrayJobId, 1);
      const k = nodeIndex.get(job.node);
      if (k === undefined) continue;
      const node = this.nodes[k]!;
      node.freeCpus -= job.request.cpus;
      node.freeMem -= job.request.memBytes;
      add(node.byQueue, job.queue, 1);
      const gpuPos: number[] = [];
      for (const index of job.gpuIndices) {
        const pos = node.gpuPosByIndex.get(index);
        if (pos !== undefined) {
          node.gpuBusy[pos] = 1;
          gpuPos.push(pos);
        }
      }
      this.addEvent(job.id, job.request, k, Number.isFinite(endsAt) ? Math.max(now, endsAt) : Infinity, gpuPos);
    }
  }

  private addEvent(jobId: number, req: ResourceRequest, node: number, end: number, gpuPos: number[]): void {
    if (end === Infinity) this.anyInfiniteEnd = true;
    this.events.push({ jobId, node, end, cpus: req.cpus, mem: req.memBytes, gpuPos });
  }

  /**
   * Reads every pending job once, in order, into its records, and lays the records out by lane
   * user (a counting sort: count, then place), each user's jobs oldest first. The
   * (queue, subgroup) → lane user look-ups are cached per user, so a job costs one map look-up
   * at most (none when it has the same owner and queue as the job before).
   */
  private bucket(): void {
    const pending = this.state.pending;
    const n = pending.length;
    const { now, horizon, rec, cold, orig, laneUsers, laneOfUser } = this;
    const { tmp, userOf } = this.space;
    const weights = this.policy.usageWeights;
    const slotsByUser = new Map<string, Slot[]>();
    let last: Slot | null = null;
    let minCpus = Infinity;
    const T = 2 * REC;
    for (let i = 0; i < n; i++) {
      const job = pending[i]!;
      const req = job.request;
      const t = i * T;
      const limit = job.timeLimitMs > 0 ? job.timeLimitMs : Infinity;
      let flags = 0;
      if (job.held) flags |= F_HELD;
      if (job.eligibleAt !== null && job.eligibleAt > now) flags |= F_LATER;
      if (job.dependencies.length > 0) flags |= F_DEPS;
      if (job.arrayJobId !== null && job.arrayMaxRunning !== null) flags |= F_ARRAY;
      if (this.neverFits(req)) flags |= F_NEVER;
      if (req.cpus < minCpus) minCpus = req.cpus;
      let slot: Slot | null = last;
      if (slot === null || slot.user !== job.user || slot.queue !== job.queue || slot.subgroup !== job.subgroup) {
        let slots = slotsByUser.get(job.user);
        if (slots === undefined) slotsByUser.set(job.user, (slots = []));
        slot = null;
        for (const s of slots) {
          if (s.queue === job.queue && s.subgroup === job.subgroup) {
            slot = s;
            break;
          }
        }
        if (slot === null) {
          const ctx = this.ctx(job.queue);
          const laneUser = ctx.lane.userFor(job.user, job.subgroup);
          if (laneUser.ordinal < 0) {
            laneUser.ordinal = laneUsers.length;
            laneUsers.push(laneUser);
            laneOfUser.push(ctx.lane);
          }
          slot = { user: job.user, queue: job.queue, subgroup: job.subgroup, ctx, laneUser };
          slots.push(slot);
          this.markActive(job.user, job.subgroup);
        }
        last = slot;
      }
      tmp[t + R_AT] = job.submittedAt;
      tmp[t + R_ID] = job.id;
      tmp[t + R_CHARGE] = expectedCharge(usageRate(req, weights), now + limit, now, horizon);
      tmp[t + R_FLAGS] = slot.ctx.index * 32 + flags;
      tmp[t + REC + C_CPUS] = req.cpus;
      tmp[t + REC + C_MEM] = req.memBytes;
      tmp[t + REC + C_GPUS] = req.gpus;
      tmp[t + REC + C_LIMIT] = limit;
      userOf[i] = slot.laneUser.ordinal;
      slot.laneUser.count++;
    }
    this.minJobCpus = minCpus;

    let next = 0;
    for (let u = 0; u < laneUsers.length; u++) {
      const user = laneUsers[u]!;
      user.fill = next;
      laneOfUser[u]!.setJobs(user, next, next + user.count);
      next += user.count;
    }
    for (let i = 0; i < n; i++) {
      const u = userOf[i]!;
      const user = laneUsers[u]!;
      const p = user.fill++;
      const t = i * T;
      const r = p * REC;
      rec[r] = tmp[t]!;
      rec[r + 1] = tmp[t + 1]!;
      rec[r + 2] = tmp[t + 2]!;
      rec[r + 3] = tmp[t + 3]!;
      cold[r] = tmp[t + REC]!;
      cold[r + 1] = tmp[t + REC + 1]!;
      cold[r + 2] = tmp[t + REC + 2]!;
      cold[r + 3] = tmp[t + REC + 3]!;
      orig[p] = i;
      if (user.sorted && p > user.start && !before(rec, p - 1, p)) user.sorted = false;
      const lane = laneOfUser[u]!;
      if (lane.mode === 'user') lane.setSubgroup(p, pending[i]!.subgroup);
    }
    for (let u = 0; u < laneUsers.length; u++) {
      const user = laneUsers[u]!;
      if (!user.sorted) this.sortJobs(user, laneOfUser[u]!);
    }
  }

  /** Puts a lane user's jobs in age order (they came out of order): a rare case, done simply. */
  private sortJobs(user: LaneUser, lane: FairShareLane): void {
    const { rec, cold, orig } = this;
    const positions: number[] = [];
    for (let p = user.start; p < user.end; p++) positions.push(p);
    positions.sort((a, b) => rec[a * REC + R_AT]! - rec[b * REC + R_AT]! || rec[a * REC + R_ID]! - rec[b * REC + R_ID]!);
    const hot = positions.map((p) => rec.slice(p * REC, p * REC + REC));
    const cool = positions.map((p) => cold.slice(p * REC, p * REC + REC));
    const from = positions.map((p) => orig[p]!);
    positions.forEach((_, k) => {
      const p = user.start + k;
      rec.set(hot[k]!, p * REC);
      cold.set(cool[k]!, p * REC);
      orig[p] = from[k]!;
      if (lane.mode === 'user') lane.setSubgroup(p, this.state.pending[from[k]!]!.subgroup);
    });
    user.sorted = true;
  }

  // ------------------------------------------------------------------ one job

  /** Decides the job at position p; returns the usage to charge its user and subgroup for the order. */
  private decide(p: number, ctx: QueueCtx, user: LaneUser): number {
    // Positions count the jobs that stay pending (a job started now leaves the line).
    const position = ctx.position + 1;
    const flags = this.rec[p * REC + R_FLAGS]! & F_BITS;
    let reason: PendingReason | null = null; // null: 'priority'
    let charge = 0;
    let inLine = false;
    let estimatedStart = NaN;
    let afterJob = NaN;
    let noEstimate = NE_BLOCKED;

    if ((flags & (F_HELD | F_LATER | F_DEPS)) !== 0) {
      const job = this.state.pending[this.orig[p]!]!;
      if (flags & F_HELD) reason = HELD;
      else if (flags & F_LATER) reason = { kind: 'begin-time', eligibleAt: job.eligibleAt! };
      else reason = this.checkDependencies(job);
    }
    if (reason !== null) {
      // blocked before anything else
    } else if (!ctx.enabled) reason = ctx.disabledReason;
    else if ((reason = this.checkLimits(p, ctx, user, flags)) !== null) {
      // a running limit
    } else {
      charge = this.rec[p * REC + R_CHARGE]!;
      const where = this.placing && this.maxFreeCpus >= this.minJobCpus ? this.findNode(p, ctx) : NO_FIT;
      if (where >= 0) {
        this.startJob(p, ctx, where, charge);
        return charge;
      }
      if (where === HOST_LIMIT) {
        const max = ctx.queue!.maxRunningPerHost!;
        reason = { kind: 'limit', limit: 'host', max, running: max };
        charge = 0;
      } else if (where === RESERVED && this.reservation !== null && this.reservation.time !== Infinity) {
        reason = { kind: 'reserved', forJob: this.reservation.jobId, until: this.reservation.time };
        inLine = true;
      } else if (flags & F_NEVER) {
        reason = { kind: 'resources', needs: this.state.pending[this.orig[p]!]!.request, freeBest: this.freeBest(p) };
        noEstimate = NE_NEVER;
        charge = 0;
      } else if (this.reservation === null) {
        const r = this.reserve(p);
        reason = { kind: 'resources', needs: this.state.pending[this.orig[p]!]!.request, freeBest: this.freeBest(p) };
        inLine = true;
        if (!this.policy.backfill) this.placing = false;
        if (r.time !== Infinity) {
          estimatedStart = r.time;
          afterJob = r.afterJob ?? NaN;
        }
      } else {
        inLine = true; // reason 'priority'
      }
    }

    ctx.position = position;
    const out = this.out;
    const k = this.explained++;
    const o = k * OUT;
    out[o + O_IDX] = p;
    out[o + O_POS] = position;
    out[o + O_USER] = user.ordinal;
    if (reason === null) {
      out[o + O_AHEAD] = this.lineCount;
      out[o + O_SPECIAL] = -1;
    } else {
      out[o + O_AHEAD] = -1;
      out[o + O_SPECIAL] = this.specials.length;
      this.specials.push(reason);
    }
    const times = this.times;
    times[k * TIMES + T_EST] = estimatedStart;
    times[k * TIMES + T_AFTER] = afterJob;
    times[k * TIMES + T_ID] = this.rec[p * REC + R_ID]!;
    if (inLine) {
      if (this.lineCount < ESTIMATE_DEPTH) this.line.push(k);
      else noEstimate = NE_TOO_FAR;
      this.lineCount++;
    }
    out[o + O_NOEST] = noEstimate;
    return charge;
  }

  /** The explanation objects, in priority order, from the compact decisions. */
  private materialize(): PendingExplanation[] {
    const { out, times, specials } = this;
    const m = this.explained;
    const numbers = this.laneUsers.map((u) => u.numbers!);
    const result = new Array<PendingExplanation>(m);
    for (let k = 0; k < m; k++) {
      const o = k * OUT;
      const position = out[o + O_POS]!;
      const special = out[o + O_SPECIAL]!;
      const est = times[k * TIMES + T_EST]!;
      const after = times[k * TIMES + T_AFTER]!;
      const id = times[k * TIMES + T_ID]!;
      result[k] = {
        jobId: (id | 0) === id ? id | 0 : id,
        reason: special < 0 ? { kind: 'priority', position, ahead: out[o + O_AHEAD]! } : specials[special]!,
        position,
        fairShare: numbers[out[o + O_USER]!]!,
        estimatedStart: est === est ? est : null,
        afterJob: after !== after ? null : (after | 0) === after ? after | 0 : after,
        noEstimate: NO_ESTIMATE[out[o + O_NOEST]!]!,
      };
    }
    return result;
  }

  private checkDependencies(job: SchedJob): PendingReason | null {
    let waiting: number[] | null = null;
    for (const dep of job.dependencies) {
      const finished = this.state.finished.get(dep.jobId);
      if (finished === undefined || !FINAL_STATES.has(finished)) {
        if (finished !== undefined || this.isLive(dep.jobId)) {
          (waiting ??= []).push(dep.jobId);
          continue;
        }
        return this.never(job, dep.jobId, 'unknown');
      }
      const met = dep.type === 'any' || (dep.type === 'ok' ? finished === 'completed' : finished !== 'completed');
      if (!met) return this.never(job, dep.jobId, finished);
    }
    return waiting === null ? null : { kind: 'dependency', waitingFor: waiting };
  }

  private never(job: SchedJob, on: number, state: JobState | 'unknown'): PendingReason {
    this.kill.push({ jobId: job.id, reason: 'dependency-never-satisfied' });
    return { kind: 'dependency-never-satisfied', jobId: on, state };
  }

  /** Whether a job of this id is pending or running (an index is built on first need). */
  private isLive(id: number): boolean {
    if (this.liveIds === null) {
      const n = this.state.pending.length;
      const rec = this.rec;
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = rec[i * REC + R_ID]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const running = new Set(this.state.running.map((j) => j.id));
      if (n > 0 && Number.isInteger(min) && Number.isInteger(max) && max - min < 4 * n + 1024) {
        // Ids are dense: a bitmap over their range.
        const bits = new Uint8Array(max - min + 1);
        for (let i = 0; i < n; i++) bits[rec[i * REC + R_ID]! - min] = 1;
        this.liveIds = (x) => running.has(x) || (x >= min && x <= max && bits[x - min] === 1);
      } else {
        const set = new Set<number>();
        for (let i = 0; i < n; i++) set.add(rec[i * REC + R_ID]!);
        this.liveIds = (x) => running.has(x) || set.has(x);
      }
    }
    return this.liveIds(id);
  }

  private checkLimits(i: number, ctx: QueueCtx, user: LaneUser, flags: number): PendingReason | null {
    const queue = ctx.queue!;
    if (user.counterQueue !== ctx.name) {
      // Counters are cached on the lane user for its current queue: no map look-ups per job.
      user.counterQueue = ctx.name;
      user.userRunning = counter(ctx.byUser, user.name);
      user.subgroupRunning = user.subgroup === '' ? null : counter(ctx.bySubgroup, user.subgroup);
    }
    if (queue.maxRunningPerUser !== null) {
      const running = user.userRunning!.count;
      if (running >= queue.maxRunningPerUser) return { kind: 'limit', limit: 'user', max: queue.maxRunningPerUser, running };
    }
    if (queue.maxRunningPerSubgroup !== null) {
      const running = (user.subgroupRunning ?? counter(ctx.bySubgroup, this.state.pending[this.orig[i]!]!.subgroup)).count;
      if (running >= queue.maxRunningPerSubgroup) return { kind: 'limit', limit: 'subgroup', max: queue.maxRunningPerSubgroup, running };
    }
    if (flags & F_ARRAY) {
      const job = this.state.pending[this.orig[i]!]!;
      const running = this.arrayRunning.get(job.arrayJobId!) ?? 0;
      if (running >= job.arrayMaxRunning!) return { kind: 'limit', limit: 'array', max: job.arrayMaxRunning!, running };
    }
    return null;
  }

  // ------------------------------------------------------------------ resources

  private freeGpus(node: NodeState, type: string | null, exclude: Set<number> | null): number {
    let count = 0;
    const gpus = node.gpus;
    for (let pos = 0; pos < gpus.length; pos++) {
      if (node.gpuBusy[pos] === 0 && (type === null || gpus[pos]!.type === type) && (exclude === null || !exclude.has(pos))) count++;
    }
    return count;
  }

  private recomputeMaxFree(): void {
    let cpus = 0;
    let mem = 0;
    let gpus = 0;
    for (const node of this.nodes) {
      if (!node.accepting) continue;
      cpus = Math.max(cpus, node.freeCpus);
      mem = Math.max(mem, node.freeMem);
      gpus = Math.max(gpus, this.freeGpus(node, null, null));
    }
    this.maxFreeCpus = cpus;
    this.maxFreeMem = mem;
    this.maxFreeGpus = gpus;
  }

  /** A node index where the job at position i may start now, or NO_FIT / HOST_LIMIT / RESERVED. */
  private findNode(i: number, ctx: QueueCtx): number {
    const r0 = i * REC;
    const cpus = this.cold[r0 + C_CPUS]!;
    const mem = this.cold[r0 + C_MEM]!;
    const gpus = this.cold[r0 + C_GPUS]!;
    if (cpus > this.maxFreeCpus || mem > this.maxFreeMem || gpus > this.maxFreeGpus) return NO_FIT;
    const gpuType = gpus > 0 ? this.state.pending[this.orig[i]!]!.request.gpuType : null;
    const hostMax = ctx.queue!.maxRunningPerHost;
    const r = this.reservation;
    const endsBefore = r !== null && r.time !== Infinity && this.now + this.cold[r0 + C_LIMIT]! <= r.time;
    let code = NO_FIT;
    for (let k = 0; k < this.nodes.length; k++) {
      const node = this.nodes[k]!;
      if (!node.accepting || cpus > node.freeCpus || mem > node.freeMem) continue;
      if (gpus > 0 && this.freeGpus(node, gpuType, null) < gpus) continue;
      if (hostMax !== null && (node.byQueue.get(ctx.name) ?? 0) >= hostMax) {
        code = HOST_LIMIT;
        continue;
      }
      if (r !== null && r.node === k && !endsBefore) {
        if (cpus > r.extraCpus || mem > r.extraMem || (gpus > 0 && this.freeGpus(node, gpuType, r.gpuReserved) < gpus)) {
          if (code !== HOST_LIMIT) code = RESERVED;
          continue;
        }
      }
      return k;
    }
    return code;
  }

  private startJob(i: number, ctx: QueueCtx, k: number, charge: number): void {
    const job = this.state.pending[this.orig[i]!]!;
    const node = this.nodes[k]!;
    const req = job.request;
    const limit = this.cold[i * REC + C_LIMIT]!;
    const r = this.reservation;
    const inExtra = r !== null && r.node === k && !(r.time !== Infinity && this.now + limit <= r.time);
    const gpuPos: number[] = [];
    for (let pos = 0; pos < node.gpus.length && gpuPos.length < req.gpus; pos++) {
      if (node.gpuBusy[pos] !== 0) continue;
      if (req.gpuType !== null && node.gpus[pos]!.type !== req.gpuType) continue;
      if (inExtra && r.gpuReserved.has(pos)) continue;
      gpuPos.push(pos);
    }
    for (const pos of gpuPos) node.gpuBusy[pos] = 1;
    node.freeCpus -= req.cpus;
    node.freeMem -= req.memBytes;
    if (inExtra) {
      r.extraCpus -= req.cpus;
      r.extraMem -= req.memBytes;
    }
    add(node.byQueue, ctx.name, 1);
    counter(ctx.byUser, job.user).count++;
    counter(ctx.bySubgroup, job.subgroup).count++;
    if (job.arrayJobId !== null) add(this.arrayRunning, job.arrayJobId, 1);
    if (charge > 0) {
      add(this.realUser, job.user, charge);
      add(this.realSubgroup, job.subgroup, charge);
    }
    this.addEvent(job.id, req, k, limit === Infinity ? Infinity : this.now + limit, gpuPos);
    this.recomputeMaxFree();
    this.start.push({ jobId: job.id, node: node.name, gpuIndices: gpuPos.map((pos) => node.gpus[pos]!.index) });
  }

  private fitsCapacity(node: NodeState, cpus: number, mem: number, gpus: number, gpuType: string | null): boolean {
    if (!node.accepting || cpus > node.capCpus || mem > node.capMem) return false;
    if (gpus === 0) return true;
    let count = 0;
    for (const gpu of node.gpus) if (gpuType === null || gpu.type === gpuType) count++;
    return count >= gpus;
  }

  /** Whether no accepting node could hold this request even when empty. */
  private neverFits(req: ResourceRequest): boolean {
    for (const node of this.nodes) if (this.fitsCapacity(node, req.cpus, req.memBytes, req.gpus, req.gpuType)) return false;
    return true;
  }

  /** The accepting node with the most free CPUs (then memory), for the 'resources' reason. */
  private freeBest(i: number): { node: string; cpus: number; memBytes: number; gpus: number } | null {
    let best: NodeState | null = null;
    for (const node of this.nodes) {
      if (!node.accepting) continue;
      if (best === null || node.freeCpus > best.freeCpus || (node.freeCpus === best.freeCpus && node.freeMem > best.freeMem)) best = node;
    }
    if (best === null) return null;
    const gpuType = this.state.pending[this.orig[i]!]!.request.gpuType;
    return { node: best.name, cpus: Math.max(0, best.freeCpus), memBytes: Math.max(0, best.freeMem), gpus: this.freeGpus(best, gpuType, null) };
  }

  /**
   * The reservation for the first job that fits nowhere now: the earliest end of running jobs
   * after which some node has room for it (ties: node order), and what is left over there.
   */
  private reserve(i: number): Reservation {
    const job = this.state.pending[this.orig[i]!]!;
    const req = job.request;
    const byNode = new Map<number, EndEvent[]>();
    for (const ev of this.events) {
      let list = byNode.get(ev.node);
      if (list === undefined) byNode.set(ev.node, (list = []));
      list.push(ev);
    }
    let best: { k: number; time: number; after: number | null; cpus: number; mem: number; busy: Uint8Array } | null = null;
    for (let k = 0; k < this.nodes.length; k++) {
      const node = this.nodes[k]!;
      if (!this.fitsCapacity(node, req.cpus, req.memBytes, req.gpus, req.gpuType)) continue;
      let cpus = node.freeCpus;
      let mem = node.freeMem;
      const busy = node.gpuBusy.slice();
      const fits = () => {
        if (req.cpus > cpus || req.memBytes > mem) return false;
        let free = 0;
        for (let pos = 0; pos < busy.length; pos++) if (busy[pos] === 0 && (req.gpuType === null || node.gpus[pos]!.type === req.gpuType)) free++;
        return free >= req.gpus;
      };
      let time: number | null = fits() ? this.now : null;
      let after: number | null = null;
      const list = (byNode.get(k) ?? []).sort((a, b) => a.end - b.end || a.jobId - b.jobId);
      for (const ev of list) {
        if (time !== null || ev.end === Infinity || (best !== null && ev.end >= best.time)) break;
        cpus += ev.cpus;
        mem += ev.mem;
        for (const pos of ev.gpuPos) busy[pos] = 0;
        if (fits()) {
          time = ev.end;
          after = ev.jobId;
        }
      }
      if (time !== null && (best === null || time < best.time)) best = { k, time, after, cpus, mem, busy };
    }
    let reservation: Reservation;
    if (best !== null) {
      const node = this.nodes[best.k]!;
      const gpuReserved = new Set<number>();
      for (let pos = 0; pos < node.gpus.length && gpuReserved.size < req.gpus; pos++) {
        if (best.busy[pos] === 0 && (req.gpuType === null || node.gpus[pos]!.type === req.gpuType)) gpuReserved.add(pos);
      }
      reservation = {
        jobId: job.id,
        node: best.k,
        time: best.time,
        afterJob: best.after,
        extraCpus: best.cpus - req.cpus,
        extraMem: best.mem - req.memBytes,
        gpuReserved,
      };
    } else {
      // Only jobs without a time limit stand in the way: protect the first node it fits on.
      const k = this.nodes.findIndex((n) => this.fitsCapacity(n, req.cpus, req.memBytes, req.gpus, req.gpuType));
      const node = this.nodes[k]!;
      reservation = {
        jobId: job.id,
        node: k,
        time: Infinity,
        afterJob: null,
        extraCpus: 0,
        extraMem: 0,
        gpuReserved: new Set(node.gpus.map((_, pos) => pos)),
      };
    }
    this.reservation = reservation;
    return reservation;
  }

  // ------------------------------------------------------------------ estimates

  /**
   * Projects the jobs waiting in line, in order and without backfill, onto the running jobs'
   * ends (each job assumed to run its full time limit). GPUs are counted by type here.
   */
  private project(): void {
    if (this.line.length === 0) return;
    const { nodes, out, times, rec } = this;
    const pending = this.state.pending;
    const cpus = nodes.map((n) => n.freeCpus);
    const mem = nodes.map((n) => n.freeMem);
    const busy = nodes.map((n) => n.gpuBusy.slice());
    const heap = (this.projection = new MinHeap<EndEvent>(endsEarlier));
    for (const ev of this.events) if (ev.end !== Infinity) heap.push(ev);
    let anyInfinite = this.anyInfiniteEnd;
    let t = this.now;
    let after = NaN;
    let failed = NE_NONE;
    const r = this.reservation;
    for (const k of this.line) {
      if (failed !== NE_NONE) {
        times[k * TIMES + T_EST] = NaN;
        times[k * TIMES + T_AFTER] = NaN;
        out[k * OUT + O_NOEST] = failed;
        continue;
      }
      const o = k * OUT;
      const i = out[o + O_IDX]!;
      const req = pending[this.orig[i]!]!.request;
      let n = this.placeProjected(req, cpus, mem, busy);
      while (n < 0) {
        const ev = heap.pop();
        if (ev === undefined) break;
        if (ev.end > t) t = ev.end;
        after = ev.jobId;
        cpus[ev.node]! += ev.cpus;
        mem[ev.node]! += ev.mem;
        for (const pos of ev.gpuPos) busy[ev.node]![pos] = 0;
        n = this.placeProjected(req, cpus, mem, busy);
      }
      if (n < 0) {
        // Strictly in order: nothing after a job that cannot be projected can be either.
        failed = anyInfinite ? NE_NO_LIMIT : NE_NEVER;
        times[k * TIMES + T_EST] = NaN;
        times[k * TIMES + T_AFTER] = NaN;
        out[k * OUT + O_NOEST] = failed;
        continue;
      }
      cpus[n]! -= req.cpus;
      mem[n]! -= req.memBytes;
      const gpuPos: number[] = [];
      const b = busy[n]!;
      for (let pos = 0; pos < b.length && gpuPos.length < req.gpus; pos++) {
        if (b[pos] === 0 && (req.gpuType === null || nodes[n]!.gpus[pos]!.type === req.gpuType)) {
          b[pos] = 1;
          gpuPos.push(pos);
        }
      }
      const limit = this.cold[i * REC + C_LIMIT]!;
      if (limit !== Infinity) heap.push({ jobId: rec[i * REC + R_ID]!, node: n, end: t + limit, cpus: req.cpus, mem: req.memBytes, gpuPos });
      else anyInfinite = true;
      if (r !== null && r.jobId === rec[i * REC + R_ID]) {
        // The reserved job's time is the reservation's own (the projection agrees when backfill kept it).
        times[k * TIMES + T_EST] = r.time === Infinity ? NaN : r.time;
        times[k * TIMES + T_AFTER] = r.time === Infinity || r.afterJob === null ? NaN : r.afterJob;
        out[o + O_NOEST] = r.time === Infinity ? NE_NO_LIMIT : NE_NONE;
      } else {
        times[k * TIMES + T_EST] = t;
        times[k * TIMES + T_AFTER] = t > this.now ? after : NaN;
        out[o + O_NOEST] = NE_NONE;
      }
    }
  }

  /** The first node with room for the request in the projection's free resources, or -1. */
  private placeProjected(req: ResourceRequest, cpus: number[], mem: number[], busy: Uint8Array[]): number {
    const nodes = this.nodes;
    for (let n = 0; n < nodes.length; n++) {
      const node = nodes[n]!;
      if (!node.accepting || req.cpus > cpus[n]! || req.memBytes > mem[n]!) continue;
      if (req.gpus === 0) return n;
      let free = 0;
      const b = busy[n]!;
      for (let pos = 0; pos < b.length; pos++) if (b[pos] === 0 && (req.gpuType === null || node.gpus[pos]!.type === req.gpuType)) free++;
      if (free >= req.gpus) return n;
    }
    return -1;
  }

  // ------------------------------------------------------------------ fair-share numbers

  private fillFairShare(): void {
    const usage = this.state.usage;
    let totalUsage = 0;
    for (const v of usage.bySubgroup.values()) totalUsage += v;
    for (const v of this.realSubgroup.values()) totalUsage += v;
    let totalUserUsage = 0;
    for (const v of usage.byUser.values()) totalUserUsage += v;
    for (const v of this.realUser.values()) totalUserUsage += v;
    let totalShares = 0;
    for (const subgroup of this.activeUsers.keys()) totalShares += this.policy.subgroupShares.get(subgroup) ?? 1;
    const userUsage = (u: string) => (usage.byUser.get(u) ?? 0) + (this.realUser.get(u) ?? 0);
    const subgroupUsage = (s: string) => (usage.bySubgroup.get(s) ?? 0) + (this.realSubgroup.get(s) ?? 0);
    for (const user of this.laneUsers) {
      const mode = this.laneOfUser[user.ordinal]!.mode;
      const subgroup = this.state.pending[this.orig[user.start]!]!.subgroup;
      user.numbers = fairShareNumbers({
        mode,
        shares: this.policy.subgroupShares.get(subgroup) ?? 1,
        totalShares,
        users: mode === 'user' ? this.allActiveUsers.size : (this.activeUsers.get(subgroup)?.size ?? 1),
        subgroupUsage: subgroupUsage(subgroup),
        userUsage: userUsage(user.name),
        totalUsage,
        totalUserUsage,
      });
    }
  }
}

/** A pending job's owner in one queue, as `bucket` caches it. */
interface Slot {
  readonly user: string;
  readonly queue: string;
  readonly subgroup: string;
  readonly ctx: QueueCtx;
  readonly laneUser: LaneUser;
}

/** Whether the job at position a is older than the one at b (submit time, then id). */
function before(rec: Float64Array, a: number, b: number): boolean {
  const ta = rec[a * REC + R_AT]!;
  const tb = rec[b * REC + R_AT]!;
  return ta < tb || (ta === tb && rec[a * REC + R_ID]! < rec[b * REC + R_ID]!);
}

function endsEarlier(a: EndEvent, b: EndEvent): boolean {
  return a.end < b.end || (a.end === b.end && a.jobId < b.jobId);
}

interface Counter {
  count: number;
}

function counter(map: Map<string, Counter>, key: string): Counter {
  let c = map.get(key);
  if (c === undefined) map.set(key, (c = { count: 0 }));
  return c;
}

function add<K>(map: Map<K, number>, key: K, amount: number): void {
  map.set(key, (map.get(key) ?? 0) + amount);
}

