/**
 * Hierarchical fair share, pure: no clock and no I/O (times come in as arguments).
 *
 * Model (Fair Tree-like, two levels):
 * - Subgroups compete by their configured shares (`policy.subgroupShares`, default 1). Shares
 *   are normalised over the subgroups that compete now (have pending or running jobs), so an
 *   idle subgroup reserves nothing.
 * - Inside a subgroup its users share equally. A queue with `fairShare: 'user'` skips the
 *   subgroup level: all its users share equally.
 * - Usage is in resource-seconds: a job uses `usageRate(request, weights)` per second
 *   (cpus·cpu + GiB·memGiB + gpus·gpu). Past usage decays with a half-life (`decayUsage`).
 * - Effective usage = decayed past usage (the snapshot; accounting keeps it up to date,
 *   including what running jobs have used so far) + the expected usage still to come of every
 *   running job, looking no further than one half-life (`expectedCharge`). A job started during
 *   a scheduling pass is charged the same way at once, so the next decision of the same pass
 *   already sees it: a user flooding the queue does not get the free slots back to back.
 * - The level factor is 2^(−usage/share) with both as fractions (Slurm's classic formula):
 *   1 with no recent usage, 0.5 at exactly the entitled share, towards 0 above it. The job's
 *   factor is the product of its levels' factors, in (0, 1].
 *
 * Dispatch order (`FairShareLane`): the subgroup with the lowest usage/share first, inside it
 * the user with the lowest usage, inside that user the oldest job (submit time, then id).
 * Two small heaps (subgroups; users per subgroup) are re-keyed only for the entity just
 * charged, so ordering n jobs costs O(n log(users)). Ties between entities go to the one whose
 * next job is older, so equal users alternate job by job.
 */
import type { ResourceRequest, SchedulerPolicy, UsageSnapshot } from './model.ts';

const GIB = 1024 ** 3;
/** Decayed usage below this many resource-seconds is dropped, so maps do not grow forever. */
const FORGET_BELOW = 1e-6;

/** The multiplier past usage keeps after `elapsedMs` with the given half-life. */
export function decayMultiplier(elapsedMs: number, halfLifeMs: number): number {
  if (!(elapsedMs > 0)) return 1;
  if (halfLifeMs === Infinity) return 1;
  if (!(halfLifeMs > 0)) return 0;
  return 2 ** (-elapsedMs / halfLifeMs);
}

/** Past usage `elapsedMs` later: every entry multiplied by 2^(−elapsed/halfLife). Pure. */
export function decayUsage(usage: UsageSnapshot, elapsedMs: number, halfLifeMs: number): UsageSnapshot {
  const m = decayMultiplier(elapsedMs, halfLifeMs);
  const scale = (from: Map<string, number>) => {
    const out = new Map<string, number>();
    for (const [key, value] of from) {
      const decayed = value * m;
      if (decayed >= FORGET_BELOW) out.set(key, decayed);
    }
    return out;
  };
  return { byUser: scale(usage.byUser), bySubgroup: scale(usage.bySubgroup) };
}

/** Resource-seconds a job with this request uses per second of wall time. */
export function usageRate(request: ResourceRequest, weights: SchedulerPolicy['usageWeights']): number {
  return request.cpus * weights.cpu + (request.memBytes / GIB) * weights.memGiB + request.gpus * weights.gpu;
}

/** The horizon over which expected usage is charged: one half-life (one day when none is set). */
export function chargeHorizonMs(policy: Pick<SchedulerPolicy, 'decayHalfLifeMs'>): number {
  const h = policy.decayHalfLifeMs;
  return Number.isFinite(h) && h > 0 ? h : 86_400_000;
}

/**
 * The expected usage (resource-seconds) still to come of a job that runs (or starts) now: its
 * rate times the rest of its time limit, but no more than `horizonMs` ahead. A job past its
 * limit is charged 0.
 */
export function expectedCharge(rate: number, endsAt: number, now: number, horizonMs: number): number {
  const remaining = endsAt - now;
  if (!(remaining > 0)) return 0;
  return (rate * Math.min(remaining, horizonMs)) / 1000;
}

/** One level's factor: 2^(−usage/share) for fractions in [0, 1]; 1 without usage; in (0, 1]. */
export function fairShareFactor(usageFraction: number, shareFraction: number): number {
  if (!(usageFraction > 0)) return 1;
  if (!(shareFraction > 0)) return Number.MIN_VALUE;
  return Math.max(2 ** (-usageFraction / shareFraction), Number.MIN_VALUE);
}

/** What a pending job's priority rests on, as `keisan why` shows it. */
export interface FairShareNumbers {
  /** The subgroup's normalised share (per-user mode: the user's, 1/users). */
  subgroupShare: number;
  /** The subgroup's fraction of all recent usage (per-user mode: the user's). */
  subgroupUsage: number;
  /** The user's fraction of its subgroup's recent usage (per-user mode: of all users'). */
  userUsage: number;
  factor: number;
  /** The subgroup's configured shares and the total over the subgroups competing now. */
  shares: number;
  totalShares: number;
  /** Users sharing the subgroup (per-user mode: the queue's competing users). */
  users: number;
}

/**
 * The fair-share numbers of one user in one subgroup. Usage arguments are effective usages in
 * resource-seconds; `totalUsage` is the sum over all subgroups (per-user mode: all users).
 */
export function fairShareNumbers(args: {
  mode: 'subgroup-then-user' | 'user';
  shares: number;
  totalShares: number;
  users: number;
  subgroupUsage: number;
  userUsage: number;
  totalUsage: number;
  totalUserUsage: number;
}): FairShareNumbers {
  const users = Math.max(1, args.users);
  if (args.mode === 'user') {
    const usage = args.totalUserUsage > 0 ? Math.min(1, args.userUsage / args.totalUserUsage) : 0;
    const share = 1 / users;
    return { subgroupShare: share, subgroupUsage: usage, userUsage: usage, factor: fairShareFactor(usage, share), shares: 1, totalShares: users, users };
  }
  const subgroupShare = args.totalShares > 0 ? args.shares / args.totalShares : 0;
  const subgroupUsage = args.totalUsage > 0 ? Math.min(1, args.subgroupUsage / args.totalUsage) : 0;
  const userUsage = args.subgroupUsage > 0 ? Math.min(1, args.userUsage / args.subgroupUsage) : 0;
  const factor = Math.max(fairShareFactor(subgroupUsage, subgroupShare) * fairShareFactor(userUsage, 1 / users), Number.MIN_VALUE);
  return { subgroupShare, subgroupUsage, userUsage, factor, shares: args.shares, totalShares: args.totalShares, users };
}

// ---------------------------------------------------------------------------- heap

/** A binary min-heap under `less`; `updateTop` re-sifts the top after its key grew. */
export class MinHeap<T> {
  private readonly items: T[];
  constructor(
    private readonly less: (a: T, b: T) => boolean,
    items: T[] = [],
  ) {
    this.items = items;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!this.less(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }
  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.siftDown(0);
    }
    return top;
  }
  clear(): void {
    this.items.length = 0;
  }
  updateTop(): void {
    if (this.items.length > 1) this.siftDown(0);
  }
  private siftDown(start: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[start]!;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.less(items[right]!, items[child]!)) child = right;
      const c = items[child]!;
      if (!this.less(c, item)) break;
      items[i] = c;
      i = child;
    }
    items[i] = item;
  }
}

// ---------------------------------------------------------------------------- dispatch order

/**
 * A user's pending jobs in one lane: positions start … end−1 of the lane's keys, oldest first
 * (whoever fills the keys lays each user's jobs out together, in age order).
 */
export interface LaneUser {
  readonly name: string;
  /** The subgroup it competes in ('' in per-user mode). */
  readonly subgroup: string;
  /** Effective usage at `begin`, and now (grows with every charge). */
  base: number;
  usage: number;
  start: number;
  end: number;
  /** The next job's position, and its submit time and id (the tie-breakers, kept at hand). */
  head: number;
  headAt: number;
  headId: number;
  /** Layout scratch for whoever fills the keys: jobs counted, next free position, in order so far. */
  count: number;
  fill: number;
  sorted: boolean;
  /** The fair-share numbers shown for this user's jobs, and its number in the scheduler's list. */
  numbers: FairShareNumbers | null;
  ordinal: number;
  /** The scheduler's running-job counters for this user in one queue (a cache; null = none yet). */
  counterQueue: string | null;
  userRunning: { count: number } | null;
  subgroupRunning: { count: number } | null;
}

interface LaneGroup {
  readonly name: string;
  readonly share: number;
  base: number;
  usage: number;
  key: number;
  readonly members: LaneUser[];
  readonly byName: Map<string, LaneUser>;
  /** A min-heap of its users with jobs left. */
  heap: LaneUser[];
}

// Two monomorphic heaps (users of a subgroup by usage; subgroups by usage per share), each
// with the head job's age as tie-breaker. Written out twice on purpose: this is the inner
// loop of a pass, and a generic comparator costs a third of it.

function siftUsers(heap: LaneUser[], start: number): void {
  const n = heap.length;
  const item = heap[start]!;
  const usage = item.usage;
  const at = item.headAt;
  const id = item.headId;
  let i = start;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    let c = heap[child]!;
    const right = child + 1;
    if (right < n) {
      const r = heap[right]!;
      if (r.usage < c.usage || (r.usage === c.usage && (r.headAt < c.headAt || (r.headAt === c.headAt && r.headId < c.headId)))) {
        child = right;
        c = r;
      }
    }
    if (!(c.usage < usage || (c.usage === usage && (c.headAt < at || (c.headAt === at && c.headId < id))))) break;
    heap[i] = c;
    i = child;
  }
  heap[i] = item;
}

function groupBefore(a: LaneGroup, b: LaneGroup): boolean {
  if (a.key !== b.key) return a.key < b.key;
  const ua = a.heap[0]!;
  const ub = b.heap[0]!;
  return ua.headAt < ub.headAt || (ua.headAt === ub.headAt && ua.headId < ub.headId);
}

function siftGroups(heap: LaneGroup[], start: number): void {
  const n = heap.length;
  const item = heap[start]!;
  let i = start;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    let c = heap[child]!;
    const right = child + 1;
    if (right < n && groupBefore(heap[right]!, c)) {
      child = right;
      c = heap[right]!;
    }
    if (!groupBefore(c, item)) break;
    heap[i] = c;
    i = child;
  }
  heap[i] = item;
}

/**
 * The fair-share dispatch order of one lane (the queues of one priority tier and one fair-share
 * mode): `peek()` gives the next job's position, `advance(charge)` consumes it and charges its
 * user and subgroup, so the order adapts to every start (or projected start) at once.
 * Entities keep their own usage copies, so charging one never breaks another heap's order.
 * Jobs are positions in `keys`, which holds each job's submit time and id (the age order) at
 * keys[p·stride] and keys[p·stride + 1]; each user's jobs are a range of positions, oldest first.
 */
export class FairShareLane {
  private readonly groups = new Map<string, LaneGroup>();
  private heap: LaneGroup[] = [];
  /** Per-user mode: the jobs' own subgroups (by position), and the charges made to them. */
  private readonly subgroupOfJob: string[] | null;
  private readonly subgroupCharges = new Map<string, number>();

  constructor(
    private readonly keys: ArrayLike<number>,
    private readonly stride: number,
    readonly mode: 'subgroup-then-user' | 'user',
    /** Configured shares per subgroup (1 for any not listed). */
    private readonly shares: ReadonlyMap<string, number>,
  ) {
    this.subgroupOfJob = mode === 'user' ? [] : null;
  }

  /** The lane user for this user and subgroup, created on first use. */
  userFor(userName: string, subgroup: string): LaneUser {
    const groupName = this.mode === 'user' ? '' : subgroup;
    let group = this.groups.get(groupName);
    if (group === undefined) {
      // Numbers that will hold fractions start as NaN (a double), never 0 (a small integer): an
      // object whose field changes representation gets a new hidden class.
      group = { name: groupName, share: this.mode === 'user' ? 1 : (this.shares.get(groupName) ?? 1), base: NaN, usage: NaN, key: NaN, members: [], byName: new Map(), heap: [] };
      this.groups.set(groupName, group);
    }
    let user = group.byName.get(userName);
    if (user === undefined) {
      user = {
        name: userName, subgroup: groupName, base: NaN, usage: NaN, start: 0, end: 0, head: 0, headAt: NaN, headId: NaN,
        count: 0, fill: 0, sorted: true, numbers: null, ordinal: -1, counterQueue: null, userRunning: null, subgroupRunning: null,
      };
      group.members.push(user);
      group.byName.set(userName, user);
    }
    return user;
  }

  /** Gives a user its jobs: positions start … end−1, oldest first. */
  setJobs(user: LaneUser, start: number, end: number): void {
    user.start = start;
    user.end = end;
    user.head = start;
  }

  /** Per-user mode: the subgroup of the job at this position (its charges go there). */
  setSubgroup(position: number, subgroup: string): void {
    if (this.subgroupOfJob !== null) this.subgroupOfJob[position] = subgroup;
  }

  /**
   * Fixes the starting usages (effective usage at this moment) and builds the heaps. Call once,
   * after the users got their jobs and before `peek`.
   */
  begin(userUsage: (user: string) => number, subgroupUsage: (subgroup: string) => number): void {
    const groups: LaneGroup[] = [];
    for (const group of this.groups.values()) {
      const heap: LaneUser[] = [];
      for (const user of group.members) {
        user.base = user.usage = userUsage(user.name);
        user.head = user.start;
        if (user.end > user.start) {
          this.setHead(user);
          heap.push(user);
        }
      }
      group.base = group.usage = this.mode === 'user' ? 0 : subgroupUsage(group.name);
      group.key = this.groupKey(group);
      for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftUsers(heap, i);
      group.heap = heap;
      if (heap.length > 0) groups.push(group);
    }
    for (let i = (groups.length >> 1) - 1; i >= 0; i--) siftGroups(groups, i);
    this.heap = groups;
  }

  /** Position of the next job in fair-share order, or -1 when the lane is exhausted. */
  peek(): number {
    const group = this.heap[0];
    if (group === undefined) return -1;
    return group.heap[0]!.head;
  }

  /** The lane user owning the job `peek` returned. */
  peekUser(): LaneUser {
    return this.heap[0]!.heap[0]!;
  }

  /** Drops the job lists (the lane keeps its users, without jobs). */
  release(): void {
    for (const group of this.groups.values()) {
      for (const user of group.members) user.numbers = null;
      group.heap = [];
    }
    this.heap = [];
    if (this.subgroupOfJob !== null) this.subgroupOfJob.length = 0;
  }

  /** What this lane charged, per user and per subgroup (per-user mode: by the jobs' own subgroups). */
  charges(onUser: (user: string, charged: number) => void, onSubgroup: (subgroup: string, charged: number) => void): void {
    for (const group of this.groups.values()) {
      for (const user of group.members) if (user.usage !== user.base) onUser(user.name, user.usage - user.base);
      if (this.mode !== 'user' && group.usage !== group.base) onSubgroup(group.name, group.usage - group.base);
    }
    for (const [subgroup, charged] of this.subgroupCharges) onSubgroup(subgroup, charged);
  }

  /** Consumes the job `peek` returned and charges `charge` resource-seconds to its user and subgroup. */
  advance(charge: number): void {
    const heap = this.heap;
    const group = heap[0]!;
    const users = group.heap;
    const user = users[0]!;
    if (charge > 0) {
      user.usage += charge;
      if (this.subgroupOfJob !== null) {
        const subgroup = this.subgroupOfJob[user.head]!;
        this.subgroupCharges.set(subgroup, (this.subgroupCharges.get(subgroup) ?? 0) + charge);
      } else {
        group.usage += charge;
        group.key = this.groupKey(group);
      }
    }
    user.head++;
    if (user.head >= user.end) {
      const last = users.pop()!;
      if (users.length > 0) {
        users[0] = last;
        siftUsers(users, 0);
      }
    } else {
      this.setHead(user);
      if (users.length > 1) siftUsers(users, 0);
    }
    if (users.length === 0) {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        siftGroups(heap, 0);
      }
    } else if (heap.length > 1) siftGroups(heap, 0);
  }

  private setHead(user: LaneUser): void {
    const at = user.head * this.stride;
    user.headAt = this.keys[at]!;
    user.headId = this.keys[at + 1]!;
  }

  private groupKey(group: LaneGroup): number {
    if (this.mode === 'user') return 0;
    if (group.share > 0) return group.usage / group.share;
    return group.usage > 0 ? Infinity : Number.MAX_VALUE;
  }
}

