import { formatSize } from '../../lib/units.ts';
import { DEFAULT_CLASS, DEFAULT_CLASS_NAME, type ClassOfService } from './model.ts';

/**
 * The HSM's decisions, as pure functions over state with the clock passed in: what to migrate,
 * what to purge, in which order to stage, whether a family may grow, which volumes to repack.
 * The engine (engine.ts) reads the state from the database, asks these, and carries out the
 * answer; tests and benchmarks call them directly.
 */

export type ClassBook = ReadonlyMap<string, ClassOfService>;

export function classBook(classes: Iterable<ClassOfService>): ClassBook {
  return new Map([...classes].map((c) => [c.name, c]));
}

/** The class a file names, else `default`, else the built-in default. */
export function classOf(classes: ClassBook, name: string | null | undefined): ClassOfService {
  return (name ? classes.get(name) : undefined) ?? classes.get(DEFAULT_CLASS_NAME) ?? DEFAULT_CLASS;
}

// ================================================================ migration

export interface MigrationFile {
  id: number;
  size: number;
  family: string;
  /** Class of service name (unknown or null: `default`). */
  cos: string | null;
  /** The disk copy has bytes not yet in every archive copy. */
  dirty: boolean;
  /** When the bytes last changed. */
  modifiedAt: Date;
  /** Copy numbers already in the archive for the current bytes. */
  copiesPresent: readonly number[];
}

export interface MigrationBatch {
  family: string;
  copy: number;
  fileIds: number[];
  bytes: number;
}

export interface MigrationPlan {
  batches: MigrationBatch[];
  /** Dirty files still inside their migration delay. */
  waiting: number;
  /** When the first waiting file becomes due (for the engine's timer); null when none waits. */
  nextDueAt: Date | null;
}

export interface BatchLimits {
  maxFiles: number;
  maxBytes: number;
}

export const DEFAULT_MIGRATION_LIMITS: BatchLimits = { maxFiles: 1000, maxBytes: 64 * 1024 ** 3 };

/**
 * Dirty files unchanged for at least their class's migration delay are migrated: one batch per
 * (family, missing copy number), files oldest change first, cut at `limits` (a file larger than
 * maxBytes gets a batch of its own). A file that already has copy 1 but not copy 2 is only
 * planned for copy 2. Batches come in family order, copy 1 first.
 */
export function planMigration(files: readonly MigrationFile[], classes: ClassBook, now: Date, limits: BatchLimits = DEFAULT_MIGRATION_LIMITS): MigrationPlan {
  const due = new Map<string, MigrationFile[]>();
  let waiting = 0;
  let nextDue: number | null = null;
  const t = now.getTime();
  for (const file of files) {
    if (!file.dirty) continue;
    const cos = classOf(classes, file.cos);
    const dueAt = file.modifiedAt.getTime() + cos.migrationDelayMs;
    if (dueAt > t) {
      waiting++;
      nextDue = nextDue === null ? dueAt : Math.min(nextDue, dueAt);
      continue;
    }
    const present = new Set(file.copiesPresent);
    for (let copy = 1; copy <= cos.copies; copy++) {
      if (present.has(copy)) continue;
      const key = `${file.family}\u0000${copy}`;
      const list = due.get(key) ?? [];
      list.push(file);
      due.set(key, list);
    }
  }
  const batches: MigrationBatch[] = [];
  const keys = [...due.keys()].sort((a, b) => {
    const [fa, ca] = a.split('\u0000') as [string, string];
    const [fb, cb] = b.split('\u0000') as [string, string];
    return fa < fb ? -1 : fa > fb ? 1 : Number(ca) - Number(cb);
  });
  for (const key of keys) {
    const [family, copyText] = key.split('\u0000') as [string, string];
    const list = due.get(key)!.sort((a, b) => a.modifiedAt.getTime() - b.modifiedAt.getTime() || a.id - b.id);
    let current: MigrationBatch | null = null;
    for (const file of list) {
      if (!current || current.fileIds.length >= limits.maxFiles || (current.fileIds.length > 0 && current.bytes + file.size > limits.maxBytes)) {
        current = { family, copy: Number(copyText), fileIds: [], bytes: 0 };
        batches.push(current);
      }
      current.fileIds.push(file.id);
      current.bytes += file.size;
    }
  }
  return { batches, waiting, nextDueAt: nextDue === null ? null : new Date(nextDue) };
}

// ================================================================ purge

export interface PurgeCandidate {
  id: number;
  /** Bytes the disk copy takes. */
  size: number;
  cos: string | null;
  /** Every archive copy the class asks for exists for the current bytes (not dirty). */
  migrated: boolean;
  /** A reader or writer has it open. */
  open: boolean;
  /** A user or a stage request pinned it on disk. */
  pinned: boolean;
  /** Being staged right now. */
  staging: boolean;
  lastAccessAt: Date | null;
  migratedAt: Date | null;
}

export interface PurgePlan {
  /** Usage was above a class's high water mark. */
  triggered: boolean;
  usageBefore: number;
  usageAfter: number;
  /** Bytes: the lowest high water mark among the classes, and the target low water mark. */
  highBytes: number;
  lowBytes: number;
  /** Files whose disk copy goes, in purge order. */
  purge: number[];
  freedBytes: number;
  /** Usage reached the low water mark (or was never above the high one). */
  reachedLow: boolean;
  /** Eligible candidates ran out before the low water mark: the reasons the others were kept. */
  ranOut: boolean;
  kept: { notMigrated: number; open: number; pinned: number; staging: number; tooRecent: number };
}

/**
 * The purge key: the later of the last access and the time the file became migrated. A file
 * read yesterday stays longer than one last read a month ago; a file migrated a minute ago is
 * not purged before files that have been purgeable for days. Older key = purged first; ties by
 * file id (older file first).
 */
export function purgeKey(candidate: Pick<PurgeCandidate, 'lastAccessAt' | 'migratedAt'>): number {
  return Math.max(candidate.lastAccessAt?.getTime() ?? 0, candidate.migratedAt?.getTime() ?? 0);
}

/** Why a candidate may not be purged, or null when it may. Checked again inside the purge's transaction. */
export function purgeRefusal(c: Pick<PurgeCandidate, 'migrated' | 'open' | 'pinned' | 'staging'>): 'notMigrated' | 'open' | 'pinned' | 'staging' | null {
  if (!c.migrated) return 'notMigrated';
  if (c.open) return 'open';
  if (c.pinned) return 'pinned';
  if (c.staging) return 'staging';
  return null;
}

/**
 * Water-mark purge. It starts when the disk tier is fuller than the high water mark of some
 * class (the *triggered* classes) and frees, oldest `purgeKey` first, disk copies of files of
 * triggered classes that are migrated AND not open AND not pinned AND not being staged, each
 * while usage is still above that file's class's low water mark; it stops at the low water mark
 * or when the candidates run out (`ranOut`, with why the rest were kept). With one class (the
 * usual case) that is exactly "from high down to low". `minAgeMs` keeps files used within that
 * long (0 by default).
 */
export function planPurge(
  diskUsage: number,
  capacity: number,
  classes: ClassBook,
  candidates: readonly PurgeCandidate[],
  now: Date,
  options: { force?: boolean; minAgeMs?: number } = {},
): PurgePlan {
  const classList = [...classes.values()];
  if (!classes.has(DEFAULT_CLASS_NAME)) classList.push(DEFAULT_CLASS);
  const bytesAt = (pct: number) => Math.floor((capacity * pct) / 100);
  const highBytes = Math.min(...classList.map((c) => bytesAt(c.purgeHighPct)));
  const triggered = new Set(classList.filter((c) => options.force || diskUsage > bytesAt(c.purgeHighPct)).map((c) => c.name));
  // Files naming no (or an unknown) class follow the default class.
  const classNameOf = (cos: string | null) => classOf(classes, cos).name;
  const lowOf = (cos: string | null) => bytesAt(classOf(classes, cos).purgeLowPct);
  const lowBytes = triggered.size ? Math.min(...classList.filter((c) => triggered.has(c.name)).map((c) => bytesAt(c.purgeLowPct))) : bytesAt(Math.min(...classList.map((c) => c.purgeLowPct)));
  const kept = { notMigrated: 0, open: 0, pinned: 0, staging: 0, tooRecent: 0 };
  const plan: PurgePlan = { triggered: triggered.size > 0, usageBefore: diskUsage, usageAfter: diskUsage, highBytes, lowBytes, purge: [], freedBytes: 0, reachedLow: true, ranOut: false, kept };
  if (triggered.size === 0) return plan;

  const minAge = options.minAgeMs ?? 0;
  const eligible: PurgeCandidate[] = [];
  for (const c of candidates) {
    if (!triggered.has(classNameOf(c.cos))) continue;
    const refusal = purgeRefusal(c);
    if (refusal) {
      kept[refusal]++;
      continue;
    }
    if (minAge > 0 && now.getTime() - purgeKey(c) < minAge) {
      kept.tooRecent++;
      continue;
    }
    eligible.push(c);
  }
  eligible.sort((a, b) => purgeKey(a) - purgeKey(b) || a.id - b.id);
  let usage = diskUsage;
  for (const c of eligible) {
    if (usage <= lowBytes) break;
    if (usage <= lowOf(c.cos)) continue;
    plan.purge.push(c.id);
    usage -= c.size;
    plan.freedBytes += c.size;
  }
  plan.usageAfter = usage;
  plan.reachedLow = usage <= lowBytes;
  plan.ranOut = !plan.reachedLow;
  return plan;
}

// ================================================================ staging order

export interface StageLocation {
  copy: number;
  volume: string;
  position: number;
}

export interface StagePending {
  requestId: string;
  fileId: number;
  size: number;
  requestedAt: Date;
  /** The archive copies that may serve it (known-bad ones already left out). */
  locations: readonly StageLocation[];
}

/** The drives as the estimates see them. */
export interface DriveModel {
  drives: number;
  mountMs: number;
  /** Positioning to a file that does not follow the previous one on the volume. */
  locateMs: number;
  unmountMs: number;
  bytesPerSecond: number;
  /** Volumes mounted now: no mount cost, and served first. */
  mounted: readonly string[];
}

export interface OrderedStageFile {
  fileId: number;
  requestIds: string[];
  size: number;
  copy: number;
  position: number;
  /** 1-based place in the whole queue. */
  queuePosition: number;
  /** Milliseconds from now until the file is expected on disk. */
  etaMs: number;
}

export interface VolumeVisit {
  volume: string;
  /** The drive (0-based index) the estimate puts it on. */
  drive: number;
  mount: boolean;
  startMs: number;
  endMs: number;
  files: OrderedStageFile[];
}

export interface StageOrder {
  visits: VolumeVisit[];
  /** Files no copy can serve. */
  unservable: Array<{ fileId: number; requestIds: string[] }>;
  mounts: number;
}

/**
 * Orders pending stages: requests for one file are merged (every request id kept, the earliest
 * request time counts); a file with several copies is read from the volume that serves the most
 * pending files (greedy set cover, so a batch mounts as few volumes as it can); each volume is
 * visited once, reading its files in position order; mounted volumes come first, then volumes by
 * their oldest request (first come, first served), then by name. Estimates put visits on the
 * drive that frees first: mount (unless mounted) + locate for each file that does not follow the
 * previous one + size / rate, then unmount.
 */
export function orderStageRequests(pending: readonly StagePending[], drives: DriveModel): StageOrder {
  type Merged = { fileId: number; requestIds: string[]; size: number; requestedAt: number; locations: readonly StageLocation[] };
  const merged = new Map<number, Merged>();
  for (const p of pending) {
    const m = merged.get(p.fileId);
    if (m) {
      if (!m.requestIds.includes(p.requestId)) m.requestIds.push(p.requestId);
      m.requestedAt = Math.min(m.requestedAt, p.requestedAt.getTime());
      if (m.locations.length === 0) m.locations = p.locations;
    } else {
      merged.set(p.fileId, { fileId: p.fileId, requestIds: [p.requestId], size: p.size, requestedAt: p.requestedAt.getTime(), locations: p.locations });
    }
  }
  const unservable: StageOrder['unservable'] = [];
  const open = new Map<number, Merged>();
  for (const m of merged.values()) {
    if (m.locations.length === 0) unservable.push({ fileId: m.fileId, requestIds: m.requestIds.sort() });
    else open.set(m.fileId, m);
  }
  const mounted = new Set(drives.mounted);

  // Greedy set cover: the volume serving the most unassigned files wins.
  const assigned = new Map<string, Array<{ m: Merged; loc: StageLocation }>>();
  while (open.size > 0) {
    const count = new Map<string, { n: number; oldest: number }>();
    for (const m of open.values()) {
      const seen = new Set<string>();
      for (const loc of m.locations) {
        if (seen.has(loc.volume)) continue;
        seen.add(loc.volume);
        const c = count.get(loc.volume) ?? { n: 0, oldest: Infinity };
        c.n++;
        c.oldest = Math.min(c.oldest, m.requestedAt);
        count.set(loc.volume, c);
      }
    }
    let best: string | null = null;
    for (const [volume, c] of count) {
      if (best === null) {
        best = volume;
        continue;
      }
      const b = count.get(best)!;
      const better =
        c.n !== b.n ? c.n > b.n : mounted.has(volume) !== mounted.has(best) ? mounted.has(volume) : c.oldest !== b.oldest ? c.oldest < b.oldest : volume < best;
      if (better) best = volume;
    }
    const list: Array<{ m: Merged; loc: StageLocation }> = [];
    for (const m of [...open.values()]) {
      const loc = m.locations.filter((l) => l.volume === best).sort((a, b) => a.copy - b.copy)[0];
      if (!loc) continue;
      list.push({ m, loc });
      open.delete(m.fileId);
    }
    assigned.set(best!, list);
  }

  const volumes = [...assigned.entries()].map(([volume, list]) => ({
    volume,
    list: list.sort((a, b) => a.loc.position - b.loc.position || a.m.fileId - b.m.fileId),
    oldest: Math.min(...list.map((x) => x.m.requestedAt)),
  }));
  volumes.sort((a, b) => Number(mounted.has(b.volume)) - Number(mounted.has(a.volume)) || a.oldest - b.oldest || (a.volume < b.volume ? -1 : a.volume > b.volume ? 1 : 0));

  const driveCount = Math.max(1, drives.drives);
  const freeAt = new Array<number>(driveCount).fill(0);
  const rate = Math.max(1, drives.bytesPerSecond);
  let queuePosition = 0;
  let mounts = 0;
  const visits: VolumeVisit[] = volumes.map(({ volume, list }) => {
    let drive = 0;
    for (let d = 1; d < driveCount; d++) if (freeAt[d]! < freeAt[drive]!) drive = d;
    const mount = !mounted.has(volume);
    if (mount) mounts++;
    const startMs = freeAt[drive]!;
    let t = startMs + (mount ? drives.mountMs : 0);
    let head = 0;
    const files = list.map(({ m, loc }) => {
      if (loc.position !== head) t += drives.locateMs;
      t += (m.size / rate) * 1000;
      head = loc.position + m.size;
      return { fileId: m.fileId, requestIds: m.requestIds.sort(), size: m.size, copy: loc.copy, position: loc.position, queuePosition: ++queuePosition, etaMs: Math.round(t) };
    });
    const endMs = Math.round(t + drives.unmountMs);
    freeAt[drive] = endMs;
    return { volume, drive, mount, startMs: Math.round(startMs), endMs, files };
  });
  return { visits, unservable, mounts };
}

// ================================================================ quotas

export type QuotaState = 'ok' | 'warn' | 'refuse';

export interface QuotaVerdict {
  state: QuotaState;
  /** Words for the user (refuse) or the subgroup admins (warn); empty when ok. */
  message: string;
}

export interface FamilyUsage {
  family: string;
  tree: string;
  usedBytes: number;
}

export interface FamilyQuota {
  warnBytes: number | null;
  limitBytes: number | null;
  /** The subgroup whose admins decide (the family's subgroup), and those admins. */
  subgroup: string | null;
  admins: readonly string[];
}

function whomToAsk(quota: FamilyQuota): string {
  const names = quota.admins.length ? ` (${quota.admins.join(', ')})` : '';
  if (quota.subgroup) return `the admins of subgroup ${quota.subgroup}${names}`;
  return quota.admins.length ? `the family's admins${names}` : 'an operator';
}

/**
 * Archive usage against a family's quota: `refuse` once usage reaches the limit (new writes into
 * the family are refused), `warn` once it is above the warning level, else `ok`. The message names
 * the family, its tree, the usage, the level crossed, and whom to ask.
 */
export function quotaVerdict(usage: FamilyUsage, quota: FamilyQuota): QuotaVerdict {
  const used = formatSize(usage.usedBytes);
  if (quota.limitBytes !== null && usage.usedBytes >= quota.limitBytes) {
    return {
      state: 'refuse',
      message:
        `file family '${usage.family}' (${usage.tree}) has ${used} in the archive, at or over its limit of ${formatSize(quota.limitBytes)}: ` +
        `new writes into ${usage.tree} are refused. Delete files there that you no longer need, or ask ${whomToAsk(quota)} to have the quota raised.`,
    };
  }
  if (quota.warnBytes !== null && usage.usedBytes > quota.warnBytes) {
    const limit = quota.limitBytes !== null ? `; writes will be refused at ${formatSize(quota.limitBytes)}` : '';
    return {
      state: 'warn',
      message:
        `file family '${usage.family}' (${usage.tree}) has ${used} in the archive, above its warning level of ${formatSize(quota.warnBytes)}${limit}. ` +
        `Delete what is no longer needed, or ask ${whomToAsk(quota)} to have the quota raised.`,
    };
  }
  return { state: 'ok', message: '' };
}

// ================================================================ repack

export interface RepackVolume {
  name: string;
  state: 'empty' | 'filling' | 'full' | 'readonly' | 'retired';
  usedBytes: number;
  holesBytes: number;
  liveBytes: number;
}

/** Percentage of a volume's written bytes that are holes. */
export function holesPct(v: Pick<RepackVolume, 'usedBytes' | 'holesBytes'>): number {
  return v.usedBytes > 0 ? (v.holesBytes / v.usedBytes) * 100 : 0;
}

/**
 * Volumes worth repacking: full or read-only (a volume still being filled is left alone), with
 * holes making up at least `minHolesPct` of what was written, not already being repacked; the
 * most holes first.
 */
export function selectRepack(volumes: readonly RepackVolume[], minHolesPct: number, busy: ReadonlySet<string> = new Set()): RepackVolume[] {
  return volumes
    .filter((v) => (v.state === 'full' || v.state === 'readonly') && !busy.has(v.name) && v.holesBytes > 0 && holesPct(v) >= minHolesPct)
    .sort((a, b) => holesPct(b) - holesPct(a) || (a.name < b.name ? -1 : 1));
}

// ================================================================ families

/** The family of a path: the family with the longest tree that contains it; null when none. */
export function familyOfPath<F extends { name: string; tree: string }>(families: readonly F[], filePath: string): F | null {
  let best: F | null = null;
  for (const f of families) {
    const tree = f.tree === '/' ? '/' : f.tree.replace(/\/+$/, '');
    const inside = tree === '/' || filePath === tree || filePath.startsWith(`${tree}/`);
    if (inside && (!best || tree.length > best.tree.replace(/\/+$/, '').length)) best = f;
  }
  return best;
}

/** The default family of a subgroup tree `/<wg>/<sg>`: `<wg>.<sg>`. */
export function defaultFamilyName(workgroup: string, subgroup: string): string {
  return `${workgroup}.${subgroup}`;
}
