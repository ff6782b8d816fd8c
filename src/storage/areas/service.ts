import { constants } from 'node:fs';
import { lstat, open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { auditedChange, auditedRefusal, writeAudit } from '../../accounts/audit.ts';
import { SYSTEM_ACTOR, type Actor } from '../../accounts/model.ts';
import { authorize, type AccountAction, type GroupRef, type SubgroupRef, type UserScope } from '../../accounts/policy.ts';
import type { AccountChange, AccountsService } from '../../accounts/service.ts';
import { addNotification } from '../../batch/store.ts';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Settings, StorageAreasSettings } from '../../lib/config.ts';
import { conflict, KeisanError, notFound } from '../../lib/errors.ts';
import { formatSize } from '../../lib/units.ts';
import { applyTreeAcl, AreasUnavailable, ensureDir, listSubdirectories, measureTree, openDirectory, probeAcls, readAcl } from './fsops.ts';
import {
  namedUsers,
  percentOf,
  planAreas,
  quotaFor,
  warningDue,
  type AreaRef,
  type AreasSnapshot,
  type DirSpec,
  type Ownership,
} from './layout.ts';
import type { Area, AreasListing, AreaUsage, LibraryWriter, SyncReport, WriterChange, WriterInput } from './model.ts';
import * as store from './store.ts';

/** How the server provisions areas: resolved once at start from keisan.yaml, the data directory and whether it runs as root. */
export interface AreasRuntime {
  enabled: boolean;
  /** Why not, when not enabled. */
  reason: string | null;
  root: string;
  ownership: Ownership;
  settings: StorageAreasSettings;
}

const DEFAULT_AREA_SETTINGS: StorageAreasSettings = { warnPercent: 90, usageInterval: 3_600_000, usageTimeLimit: 600_000 };

/**
 * storage.areas for this server. Default: on when running as root; off otherwise, since only
 * root can give each user their own directories. `enabled: true` without root provisions them
 * owned by the server's own user (single-user mode), with the same ACL entries.
 */
export function areasRuntime(settings: Settings, dataDir: string, ids: { uid: number; gid: number } = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }): AreasRuntime {
  const configured = settings.storage?.areas;
  const areaSettings = configured ?? DEFAULT_AREA_SETTINGS;
  const root = path.resolve(dataDir, configured?.root ?? 'areas');
  const asRoot = ids.uid === 0;
  const ownership: Ownership = asRoot ? { mode: 'root', uid: 0, gid: 0 } : { mode: 'single-user', uid: ids.uid, gid: ids.gid };
  const enabled = configured?.enabled ?? asRoot;
  const reason = enabled
    ? null
    : configured?.enabled === false
      ? 'storage.areas.enabled is false in keisan.yaml'
      : `the server does not run as root (uid ${ids.uid}), so it cannot give each user their own directories: ` +
        "set storage.areas.enabled: true in keisan.yaml to provision them owned by the server's user (single-user mode), or run the server as root";
  return { enabled, reason, root, ownership, settings: areaSettings };
}

/** For servers built without areas (tests of other rooms): nothing is provisioned. */
export function areasOff(reason: string): AreasRuntime {
  return { enabled: false, reason, root: '', ownership: { mode: 'root', uid: 0, gid: 0 }, settings: DEFAULT_AREA_SETTINGS };
}

/** What e-mails a user (monitor's mail service, when the facility sends mail). */
export interface AreaMail {
  toUser(user: string, address: string | null, message: { subject: string; text: string }): Promise<{ queued: boolean; reason?: string }>;
}

export interface AreasServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  accounts: AccountsService;
  runtime: AreasRuntime;
  logger: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
  mail?: AreaMail | null;
}

type Scope = { all: true } | { user: string } | { subgroup: string } | { workgroup: string } | { libraries: string[] | 'all' };

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
const WRITER_APPLY_WAIT_MS = 30_000;

function openChild(parentFd: number, name: string): Promise<FileHandle> {
  return open(`/proc/self/fd/${parentFd}/${name}`, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/**
 * The first directory above the areas that others may not pass through (the data directory is
 * 0700, so the default root DATA/areas is reachable by root only): users could not reach their areas.
 */
async function closedAncestor(root: string): Promise<{ path: string; problem: string } | undefined> {
  for (let dir = path.dirname(root); ; dir = path.dirname(dir)) {
    const stats = await stat(dir).catch(() => undefined);
    if (stats && (stats.mode & 0o001) === 0) {
      return {
        path: dir,
        problem:
          `users cannot reach the areas: ${dir} (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')}) does not let others pass through. ` +
          `Set storage.areas.root in keisan.yaml to a directory they can reach (e.g. /srv/keisan/areas) and restart, or chmod o+x ${dir} if nothing in it is private`,
      };
    }
    if (dir === path.dirname(dir)) return undefined;
  }
}

/**
 * User areas: provisioning (sync) from the accounts, hooks on account changes, library
 * writers, usage measurement and soft-quota warnings. Disk work runs one piece at a time in a
 * queue, so hooks, the timer and operators never work on the same directory at once.
 */
export class AreasService {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private measuring = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private aclsChecked = false;
  private closing = false;
  /** The walkers' clock: past every deadline once the server is closing, so a long walk stops at its next entry. */
  private readonly walkClock = () => (this.closing ? Number.POSITIVE_INFINITY : Date.now());

  constructor(private readonly o: AreasServiceOptions) {}

  get runtime(): AreasRuntime {
    return this.o.runtime;
  }

  private now(): Date {
    return this.o.clock.now();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Hooks on account changes, the reconcile at start, and the usage timer. */
  start(): void {
    const { runtime, logger } = this.o;
    if (!runtime.enabled) {
      if (runtime.root) logger.info({ root: runtime.root }, `user areas: not provisioned: ${runtime.reason}`);
      return;
    }
    logger.info({ root: runtime.root, mode: runtime.ownership.mode }, `user areas: provisioned under ${runtime.root}${runtime.ownership.mode === 'single-user' ? ` owned by uid ${runtime.ownership.uid} (single-user mode)` : ''}`);
    this.unsubscribe = this.o.accounts.onChange((change) => this.onAccountChange(change));
    void this.enqueue(() => this.reconcile({ all: true })).then(
      (report) => this.logReport('at start', report),
      (error: unknown) => logger.error({ err: error }, `user areas: the sync at start failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    const interval = runtime.settings.usageInterval;
    if (interval > 0) {
      void this.measureQueued();
      this.timer = setInterval(() => void this.measureQueued(), interval);
      this.timer.unref();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }

  /** Resolves when no disk work is queued or running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.tail.catch(() => undefined);
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined).finally(() => this.pending--);
    return run;
  }

  private logReport(when: string, report: SyncReport): void {
    const summary = {
      checked: report.checked,
      created: report.created.length,
      fixed: report.fixed.length,
      problems: report.problems,
      leftInPlace: report.leftInPlace.length,
      ms: Math.round(report.durationMs),
    };
    const first = report.problems[0];
    if (first) this.o.logger.warn(summary, `user areas: sync ${when}: ${report.problems.length} problem${report.problems.length > 1 ? 's' : ''}, the first: ${first.problem}`);
    else this.o.logger.info(summary, `user areas: sync ${when} done`);
  }

  private onAccountChange(change: AccountChange): void {
    const { logger, runtime } = this.o;
    if (change.action === 'removed') {
      const where =
        change.kind === 'user'
          ? path.join(runtime.root, 'home', change.name)
          : change.kind === 'workgroup'
            ? `${path.join(runtime.root, 'lib', change.name)} and ${path.join(runtime.root, 'group', change.name)}`
            : `${path.join(runtime.root, 'group')}/<workgroup>/${change.name}`;
      logger.info({ [change.kind]: change.name }, `user areas: ${change.kind} '${change.name}' was removed; its area (${where}) is left in place with its data`);
      if (change.kind === 'subgroup') return;
      void this.enqueue(() => this.reconcile({ libraries: 'all' })).catch((error: unknown) => this.logFailure(change, error));
      return;
    }
    const scope: Scope = change.kind === 'user' ? { user: change.name } : change.kind === 'subgroup' ? { subgroup: change.name } : { workgroup: change.name };
    void this.enqueue(() => this.reconcile(scope)).then(
      (report) => {
        if (report.problems.length) this.logReport(`after ${change.kind} '${change.name}' ${change.action}`, report);
      },
      (error: unknown) => this.logFailure(change, error),
    );
  }

  private logFailure(change: AccountChange, error: unknown): void {
    this.o.logger.error({ err: error }, `user areas: provisioning after ${change.kind} '${change.name}' ${change.action} failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  // ---------------------------------------------------------------- authorisation

  private async require(actor: Actor, action: AccountAction, target: { type: string; name: string }, audited: string): Promise<void> {
    const decision = authorize(actor, action);
    if (decision.allowed) return;
    throw await auditedRefusal(this.o.db, { actor, action: audited, targetType: target.type, target: target.name }, decision.reason, this.now());
  }

  private requireEnabled(): void {
    if (!this.o.runtime.enabled) throw conflict(`user areas are not provisioned on this server: ${this.o.runtime.reason}`);
  }

  // ---------------------------------------------------------------- sync

  /** Operators: creates what is missing and fixes what drifted, everywhere; never deletes. Audited. */
  async sync(actor: Actor): Promise<SyncReport> {
    await this.require(actor, { kind: 'areas.admin' }, { type: 'areas', name: this.o.runtime.root || 'areas' }, 'areas.sync');
    this.requireEnabled();
    try {
      const report = await this.enqueue(() => this.reconcile({ all: true }));
      await writeAudit(
        this.o.db,
        {
          actor,
          action: 'areas.sync',
          targetType: 'areas',
          target: this.o.runtime.root,
          outcome: 'ok',
          detail: { created: report.created.length, fixed: report.fixed.length, problems: report.problems.length, leftInPlace: report.leftInPlace.length },
        },
        this.now(),
      );
      this.logReport(`by ${actor.name}`, report);
      return report;
    } catch (error) {
      await writeAudit(this.o.db, { actor, action: 'areas.sync', targetType: 'areas', target: this.o.runtime.root, outcome: 'failed', detail: { reason: error instanceof Error ? error.message : String(error) } }, this.now());
      throw error;
    }
  }

  /** Makes the disk match the plan for `scope`. Runs inside the queue only. */
  private async reconcile(scope: Scope): Promise<SyncReport> {
    const started = performance.now();
    const { runtime } = this.o;
    const removedWriters = 'all' in scope || 'libraries' in scope ? await this.dropStaleWriters() : [];
    const snap = await store.snapshot(this.o.db);
    const plan = planAreas(snap, runtime.root, runtime.ownership);
    const report: SyncReport = { root: runtime.root, checked: 0, created: [], fixed: [], problems: [], leftInPlace: [], libraries: [], removedWriters, durationMs: 0 };

    const inScope = (dir: DirSpec): boolean => {
      if ('all' in scope) return true;
      const rel = path.relative(runtime.root, dir.path).split(path.sep);
      if (dir.role === 'parent') {
        if (rel.length <= 1) return true; // ROOT, home/, group/, lib/
        const workgroup = rel[1];
        if ('workgroup' in scope) return workgroup === scope.workgroup;
        if ('subgroup' in scope) return snap.subgroups.some((s) => s.name === scope.subgroup && s.workgroup === workgroup);
        return false;
      }
      const area = dir.area!;
      if ('user' in scope) return area.kind === 'home' && area.name === scope.user;
      if ('subgroup' in scope) return area.kind === 'group' && area.name.split('/')[1] === scope.subgroup;
      if ('workgroup' in scope) return area.kind === 'library' && area.name === scope.workgroup;
      return area.kind === 'library' && (scope.libraries === 'all' || scope.libraries.includes(area.name));
    };
    const dirs = plan.dirs.filter(inScope);
    const needed = new Set(dirs.map((d) => path.dirname(d.path)));
    const handles = new Map<string, FileHandle>();
    const leftAlone = new Set<string>();
    try {
      for (const dir of dirs) {
        report.checked++;
        const parentPath = path.dirname(dir.path);
        const isRoot = dir.path === runtime.root;
        const parent = isRoot ? null : handles.get(parentPath);
        if (leftAlone.has(parentPath)) {
          leftAlone.add(dir.path); // reported with its parent
          continue;
        }
        if (!isRoot && !parent) {
          report.problems.push({ path: dir.path, problem: `not provisioned: its parent ${parentPath} could not be` });
          continue;
        }
        if (dir.role === 'library' && parent) await this.applyLibraryTree(parent.fd, dir, report);
        const outcome = await ensureDir(parent?.fd ?? null, dir);
        if (outcome.problem) {
          report.problems.push({ path: dir.path, problem: `${dir.path} ${outcome.problem}` });
          leftAlone.add(dir.path);
          continue;
        }
        if (outcome.created) report.created.push(dir.path);
        if (outcome.fixed.length) report.fixed.push({ path: dir.path, changes: outcome.fixed });
        if (isRoot && !this.aclsChecked) {
          await probeAcls(runtime.root);
          this.aclsChecked = true;
        }
        if (needed.has(dir.path)) handles.set(dir.path, isRoot ? await openDirectory(dir.path) : await openChild(parent!.fd, path.basename(dir.path)));
      }
    } catch (error) {
      // Missing tools and filesystems without ACLs are news for the operator, not a stack trace.
      if (error instanceof AreasUnavailable) this.aclsChecked = false;
      throw error;
    } finally {
      await Promise.all([...handles.values()].map((h) => h.close().catch(() => undefined)));
    }
    if ('all' in scope) {
      report.leftInPlace = await this.orphans(snap);
      const closed = runtime.ownership.mode === 'root' ? await closedAncestor(runtime.root) : undefined;
      if (closed) report.problems.unshift(closed);
    }
    report.durationMs = performance.now() - started;
    return report;
  }

  /**
   * Before a library's own ACL is set: whoever became or stopped being a writer gets or loses
   * their entries on everything already in it (walked safely, see fsops). Done first, so a crash
   * midway leaves the top directory unchanged and the next sync does it again.
   */
  private async applyLibraryTree(parentFd: number, dir: DirSpec, report: SyncReport): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await openChild(parentFd, path.basename(dir.path));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return; // new: nothing in it yet
      return; // a symlink or a file where the library should be: ensureDir reports it
    }
    try {
      const stats = await handle.stat();
      if (stats.uid !== dir.uid && dir.ownerMismatch === 'report') return;
      const before = new Set(namedUsers((await readAcl(handle.fd)).access));
      const after = new Set(namedUsers(dir.access));
      const grant = [...after].filter((uid) => !before.has(uid));
      const revoke = [...before].filter((uid) => !after.has(uid));
      if (grant.length === 0 && revoke.length === 0) return;
      const walked = await applyTreeAcl(handle.fd, { grant, revoke }, { deadline: Date.now() + this.o.runtime.settings.usageTimeLimit, now: this.walkClock });
      report.libraries.push({ path: dir.path, granted: grant, revoked: revoke, entries: walked.changed, complete: walked.complete });
      if (!walked.complete) {
        this.o.logger.warn({ library: dir.path, incomplete: walked.incomplete }, `user areas: writers' rights below ${dir.path} were only partly updated (${walked.incomplete.join(', ')}): run keisan admin areas sync again`);
      }
    } finally {
      await handle.close();
    }
  }

  /** Areas on disk whose account is gone: listed, never touched. */
  private async orphans(snap: AreasSnapshot): Promise<{ path: string; reason: string }[]> {
    const { root } = this.o.runtime;
    const users = new Set(snap.users.map((u) => u.name));
    const workgroups = new Set(snap.workgroups.map((w) => w.name));
    const found: { path: string; reason: string }[] = [];
    for (const name of await listSubdirectories(path.join(root, 'home'))) {
      if (!users.has(name)) found.push({ path: path.join(root, 'home', name), reason: `no user '${name}' (removed?): left in place with its data; move or remove it by hand when it is no longer needed` });
    }
    for (const workgroup of await listSubdirectories(path.join(root, 'group'))) {
      if (!workgroups.has(workgroup)) {
        found.push({ path: path.join(root, 'group', workgroup), reason: `no workgroup '${workgroup}' (removed?): left in place with its data` });
        continue;
      }
      const subgroups = new Set(snap.subgroups.filter((s) => s.workgroup === workgroup).map((s) => s.name));
      for (const name of await listSubdirectories(path.join(root, 'group', workgroup))) {
        if (!subgroups.has(name)) found.push({ path: path.join(root, 'group', workgroup, name), reason: `no subgroup '${name}' in workgroup '${workgroup}' (removed?): left in place with its data` });
      }
    }
    for (const name of await listSubdirectories(path.join(root, 'lib'))) {
      if (!workgroups.has(name)) found.push({ path: path.join(root, 'lib', name), reason: `no workgroup '${name}' (removed?): left in place with its data` });
    }
    return found;
  }

  /** Designations of users or workgroups that no longer exist are dropped (a uid may be given out again). */
  private async dropStaleWriters(): Promise<{ workgroup: string; user: string }[]> {
    const stale = await store.deleteStaleWriters(this.o.db);
    for (const writer of stale) {
      await writeAudit(
        this.o.db,
        { actor: SYSTEM_ACTOR, action: 'library.writer.remove', targetType: 'library', target: writer.workgroup, outcome: 'ok', detail: { user: writer.user, reason: 'the user or workgroup was removed' } },
        this.now(),
      );
    }
    return stale.map((w) => ({ workgroup: w.workgroup, user: w.user }));
  }

  // ---------------------------------------------------------------- what users see

  /** Who may see which areas: their own (home, their subgroups' group areas, their workgroups' libraries); with `all`, those they administer too. */
  private visibility(actor: Actor, snap: AreasSnapshot, all: boolean) {
    const workgroupRef = (name: string): GroupRef => {
      const w = snap.workgroups.find((x) => x.name === name);
      return { id: w?.id ?? -1, name };
    };
    const subgroupRef = (name: string): SubgroupRef => {
      const s = snap.subgroups.find((x) => x.name === name);
      return { id: s?.id ?? -1, name, workgroup: workgroupRef(s?.workgroup ?? '') };
    };
    const me = snap.users.find((u) => u.name === actor.name);
    const mySubgroups = new Set(me ? [me.primarySubgroup, ...me.subgroups] : []);
    const myWorkgroups = new Set([...mySubgroups].map((s) => snap.subgroups.find((x) => x.name === s)?.workgroup).filter((w): w is string => w !== undefined));
    const allowed = (action: AccountAction) => all && authorize(actor, action).allowed;
    return {
      mySubgroups,
      sees(area: AreaRef): boolean {
        if (area.kind === 'home') {
          if (area.name === actor.name) return true;
          const user = snap.users.find((u) => u.name === area.name);
          if (!user) return false;
          const scope: UserScope = { id: user.id, name: user.name, isOperator: user.isOperator, primary: subgroupRef(user.primarySubgroup), extra: user.subgroups.map(subgroupRef) };
          return allowed({ kind: 'user.read', user: scope });
        }
        if (area.kind === 'group') {
          const subgroup = area.name.split('/')[1]!;
          return mySubgroups.has(subgroup) || allowed({ kind: 'subgroup.read-members', subgroup: subgroupRef(subgroup) });
        }
        const writer = snap.writers.some((w) => w.workgroup === area.name && w.user === actor.name);
        return myWorkgroups.has(area.name) || writer || allowed({ kind: 'library.writers', workgroup: workgroupRef(area.name) });
      },
    };
  }

  private usageOf(row: store.UsageRow | undefined, kind: AreaRef['kind']): AreaUsage | null {
    if (!row) return null;
    const quota = quotaFor(kind, this.o.runtime.settings);
    return {
      area: row.area,
      kind,
      name: row.name,
      path: row.path,
      bytes: Number(row.bytes),
      files: Number(row.files),
      complete: row.complete === 1,
      measuredAt: row.measured_at,
      durationMs: Number(row.duration_ms),
      quota,
      percent: percentOf(Number(row.bytes), quota),
      over: quota !== null && Number(row.bytes) >= (quota * this.o.runtime.settings.warnPercent) / 100,
      warnedAt: row.warned_at,
    };
  }

  /** The caller's areas (with `all`: also those they administer; operators: every area). */
  async list(actor: Actor, all = false): Promise<AreasListing> {
    const { runtime } = this.o;
    const base = { enabled: runtime.enabled, reason: runtime.reason, root: runtime.root, mode: runtime.ownership.mode };
    if (!runtime.enabled) return { ...base, areas: [] };
    const snap = await store.snapshot(this.o.db);
    const plan = planAreas(snap, runtime.root, runtime.ownership);
    const usage = new Map((await store.usageRows(this.o.db)).map((r) => [r.area, r]));
    const view = this.visibility(actor, snap, all);
    const areas: Area[] = [];
    for (const area of plan.areas.filter((a) => view.sees(a))) {
      const exists = await lstat(area.path).then((s) => s.isDirectory(), () => false);
      const quota = quotaFor(area.kind, runtime.settings);
      const common = { kind: area.kind, name: area.name, path: area.path, exists, quota, usage: this.usageOf(usage.get(area.key), area.kind) };
      if (area.kind === 'home') {
        areas.push({
          ...common,
          access: `private/: only ${area.name}; public/: everyone can read; the home itself: only ${area.name} can list it (others may pass through to public/)`,
          private: path.join(area.path, 'private'),
          public: path.join(area.path, 'public'),
          writable: area.name === actor.name,
        });
      } else if (area.kind === 'group') {
        const subgroup = area.name.split('/')[1]!;
        areas.push({ ...common, access: `members of subgroup ${subgroup} read and write (new files stay the group's); nobody else`, writable: view.mySubgroups.has(subgroup) });
      } else {
        const writers = snap.writers.filter((w) => w.workgroup === area.name).map((w) => w.user);
        areas.push({
          ...common,
          access: writers.length ? `everyone reads; ${writers.join(', ')} write${writers.length === 1 ? 's' : ''}` : 'everyone reads; nobody writes yet (a workgroup admin designates writers)',
          writers,
          writable: writers.includes(actor.name),
        });
      }
    }
    return { ...base, areas };
  }

  /** Measured usage of the areas the caller sees (see list). */
  async usage(actor: Actor, all = false): Promise<AreaUsage[]> {
    const listing = await this.list(actor, all);
    return listing.areas.flatMap((a) => (a.usage ? [a.usage] : []));
  }

  // ---------------------------------------------------------------- usage

  /** Operators: measures every area now (one at a time, each within usageTimeLimit) and warns. */
  async measure(actor: Actor): Promise<AreaUsage[]> {
    await this.require(actor, { kind: 'areas.admin' }, { type: 'areas', name: this.o.runtime.root || 'areas' }, 'areas.measure');
    this.requireEnabled();
    return this.enqueue(() => this.measureAll());
  }

  private async measureQueued(): Promise<void> {
    if (this.measuring) return;
    this.measuring = true;
    try {
      const records = await this.enqueue(() => this.measureAll());
      this.o.logger.info({ areas: records.length, over: records.filter((r) => r.over).map((r) => r.area) }, 'user areas: usage measured');
    } catch (error) {
      this.o.logger.error({ err: error }, `user areas: measuring usage failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.measuring = false;
    }
  }

  private async measureAll(): Promise<AreaUsage[]> {
    const { runtime, db } = this.o;
    const snap = await store.snapshot(db);
    const plan = planAreas(snap, runtime.root, runtime.ownership);
    await store.deleteUsageExcept(db, plan.areas.map((a) => a.key));
    const records: AreaUsage[] = [];
    for (const area of plan.areas) {
      if (this.closing) break;
      const started = performance.now();
      let measured;
      try {
        measured = await measureTree(area.path, { deadline: Date.now() + runtime.settings.usageTimeLimit, now: this.walkClock });
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') continue; // not provisioned (yet)
        this.o.logger.warn({ area: area.path, err: error }, `user areas: cannot measure ${area.path}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      const now = this.now();
      await store.writeUsage(db, { area: area.key, kind: area.kind, name: area.name, path: area.path, bytes: measured.bytes, files: measured.files, complete: measured.complete, measuredAt: now, durationMs: performance.now() - started });
      const row = await store.findUsage(db, area.key);
      const quota = quotaFor(area.kind, runtime.settings);
      if (row && warningDue(measured.bytes, quota, runtime.settings.warnPercent, row.warned_at ? new Date(row.warned_at) : null, now)) {
        await this.warn(area, snap, measured.bytes, measured.files, quota!, now);
        await store.markWarned(db, area.key, now);
      }
      const record = this.usageOf(await store.findUsage(db, area.key), area.kind);
      if (record) records.push(record);
    }
    return records;
  }

  /** Who hears of an area over its soft quota: the owner; the subgroup's or workgroup's admins; operators when nobody else. */
  private recipients(area: AreaRef, snap: AreasSnapshot): string[] {
    const operators = () => snap.users.filter((u) => u.isOperator).map((u) => u.name);
    if (area.kind === 'home') return [area.name];
    if (area.kind === 'group') {
      const [workgroup, subgroup] = area.name.split('/');
      const admins = [...(snap.subgroups.find((s) => s.name === subgroup)?.admins ?? []), ...(snap.workgroups.find((w) => w.name === workgroup)?.admins ?? [])];
      return admins.length ? [...new Set(admins)].sort() : operators();
    }
    const admins = snap.workgroups.find((w) => w.name === area.name)?.admins ?? [];
    return admins.length ? admins : operators();
  }

  private async warn(area: AreaRef, snap: AreasSnapshot, bytes: number, files: number, quota: number, now: Date): Promise<void> {
    const percent = percentOf(bytes, quota);
    const what = area.kind === 'home' ? `The home area of ${area.name}` : area.kind === 'group' ? `The group area ${area.name}` : `The library of workgroup ${area.name}`;
    const title = `${what} is at ${percent} % of its soft quota`;
    const body =
      `${area.path} holds ${formatSize(bytes)} in ${files} file${files === 1 ? '' : 's'}, ${percent} % of its ${formatSize(quota)} soft quota ` +
      `(warning from ${this.o.runtime.settings.warnPercent} %). Nothing is refused yet: please remove or archive what is no longer needed. ` +
      `See keisan areas. (At most one notice a day while it stays over.)`;
    for (const user of this.recipients(area, snap)) {
      await addNotification(this.o.db, user, 'area-quota', title, body, now);
      if (this.o.mail) {
        try {
          const sent = await this.o.mail.toUser(user, null, { subject: title, text: body });
          if (!sent.queued) this.o.logger.info({ user, area: area.key }, `user areas: no e-mail for the quota notice: ${sent.reason ?? 'not queued'}`);
        } catch (error) {
          this.o.logger.error({ err: error, user, area: area.key }, 'user areas: the quota notice e-mail could not be queued');
        }
      }
    }
  }

  // ---------------------------------------------------------------- library writers

  async listWriters(_actor: Actor, workgroup?: string): Promise<LibraryWriter[]> {
    if (workgroup !== undefined) await this.o.accounts.getWorkgroup(SYSTEM_ACTOR, workgroup);
    return store.listWriters(this.o.db, workgroup);
  }

  private async workgroupRef(name: string): Promise<GroupRef> {
    const row = await this.o.db.selectFrom('workgroups').select(['id', 'name']).where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound('workgroup', name);
    return { id: Number(row.id), name: row.name };
  }

  /** Workgroup admins for their workgroup, operators for all: designates a writer of the library. Audited. */
  async addWriter(actor: Actor, input: WriterInput): Promise<WriterChange> {
    const workgroup = await this.workgroupRef(input.workgroup);
    await this.require(actor, { kind: 'library.writers', workgroup }, { type: 'library', name: input.workgroup }, 'library.writer.add');
    await this.o.accounts.getUser(SYSTEM_ACTOR, input.user);
    await auditedChange(this.o.db, { actor, action: 'library.writer.add', targetType: 'library', target: input.workgroup, detail: { user: input.user } }, () => this.now(), async (tx) => {
      if (await store.findWriter(tx, input.workgroup, input.user)) throw conflict(`${input.user} already writes the library of workgroup '${input.workgroup}'`);
      await store.insertWriter(tx, input.workgroup, input.user, actor.name, this.now());
    }, `the writers of library '${input.workgroup}' changed at the same time; try again`);
    const writer = (await store.findWriter(this.o.db, input.workgroup, input.user)) ?? null;
    return { writer, ...(await this.applyWriters(input.workgroup, `${input.user} may now write ${this.libraryPath(input.workgroup)}`)) };
  }

  async removeWriter(actor: Actor, input: WriterInput): Promise<WriterChange> {
    const workgroup = await this.workgroupRef(input.workgroup);
    await this.require(actor, { kind: 'library.writers', workgroup }, { type: 'library', name: input.workgroup }, 'library.writer.remove');
    await auditedChange(this.o.db, { actor, action: 'library.writer.remove', targetType: 'library', target: input.workgroup, detail: { user: input.user } }, () => this.now(), async (tx) => {
      if ((await store.deleteWriter(tx, input.workgroup, input.user)) === 0) throw notFound(`writer of the library of workgroup '${input.workgroup}'`, input.user);
    }, `the writers of library '${input.workgroup}' changed at the same time; try again`);
    return { writer: null, ...(await this.applyWriters(input.workgroup, `${input.user} may no longer write ${this.libraryPath(input.workgroup)}`)) };
  }

  private libraryPath(workgroup: string): string {
    return this.o.runtime.enabled ? path.join(this.o.runtime.root, 'lib', workgroup) : `the library of '${workgroup}'`;
  }

  /** Brings the library's ACLs in line; waits up to 30 s, then lets it finish in the background. */
  private async applyWriters(workgroup: string, done: string): Promise<{ applied: boolean; message: string }> {
    if (!this.o.runtime.enabled) return { applied: false, message: `recorded; user areas are not provisioned on this server (${this.o.runtime.reason})` };
    const work = this.enqueue(() => this.reconcile({ libraries: [workgroup] }));
    const outcome = await Promise.race([
      work.then(
        (report) => ({ report }),
        (error: unknown) => ({ error }),
      ),
      sleep(WRITER_APPLY_WAIT_MS, 'waiting' as const, { ref: false }),
    ]);
    if (outcome === 'waiting') {
      void work.catch((error: unknown) => this.o.logger.error({ err: error }, `user areas: updating the library of '${workgroup}' failed`));
      return { applied: false, message: `${done} once the ACLs of everything already in the library are updated (still running; see the server log)` };
    }
    if ('error' in outcome) {
      const reason = outcome.error instanceof KeisanError || outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      return { applied: false, message: `recorded, but the library's ACLs could not be updated: ${reason}` };
    }
    const problem = outcome.report.problems[0];
    if (problem) return { applied: false, message: `recorded, but ${problem.problem}` };
    return { applied: true, message: done };
  }
}
