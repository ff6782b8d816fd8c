import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type SqliteDatabase from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { auditedRefusal, writeAudit } from '../accounts/audit.ts';
import { SYSTEM_ACTOR, type Actor, type User } from '../accounts/model.ts';
import type { AccountsService } from '../accounts/service.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../db/errors.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { conflict, forbidden, invalidInput, KeisanError, notFound } from '../lib/errors.ts';
import { randomToken } from '../lib/ids.ts';
import { formatSize } from '../lib/units.ts';
import {
  C,
  D,
  DEFAULT_DIR_ACL,
  DEFAULT_FILE_ACL,
  describePerms,
  evaluateAcl,
  formatAcl,
  formatPerms,
  hasAll,
  I,
  makeAcl,
  modifyAcl,
  namedIn,
  parseAcl,
  parseEntries,
  parseEntryKeys,
  R,
  ROOT_ACL,
  storedAcl,
  SUBGROUP_ACL,
  SUBGROUP_INITIAL_DIR_ACL,
  SUBGROUP_INITIAL_FILE_ACL,
  W,
  WORKGROUP_ACL,
  X,
  type Acl,
  type Subject,
} from './acl.ts';
import type {
  AclTarget,
  AclView,
  CommitUploadInput,
  CopyRecord,
  CreateUploadInput,
  DiskPressure,
  DiskState,
  DiskUsage,
  FileRecord,
  FsEntry,
  Listing,
  Locality,
  MkdirInput,
  MoveInput,
  Removed,
  SetAclInput,
  Stager,
  Upload,
  Usage,
  WriteGuard,
} from './model.ts';
import { isWithin, joinParts, normalizePath, splitLast, type NormalPath } from './paths.ts';
import * as store from './store.ts';
import type { ArchiveLocation } from './tiers/archive.ts';
import { DiskFullError, isErrno, UploadOverflow, type DiskTier } from './tiers/disk.ts';

type Tx = Kysely<Database>;

/** The caller as the ACLs see them, plus where their relative paths start. */
export interface Caller extends Subject {
  /** The same subject without the operator bypass: to tell when an operator overrode an ACL. */
  plain: Subject;
  /** The user's primary subgroup: the group of what they create. */
  primaryGroup: string;
  /** `/<workgroup>/<primary subgroup>`: relative paths start here. */
  home: string[];
}

/** A directory as traversal needs it, kept in memory by path. */
interface DirNode {
  id: number;
  owner: string;
  group: string;
  acl: Acl;
  initialFile: string | null;
  initialDir: string | null;
  classOfService: string | null;
  family: string | null;
}

/** A directory creation waiting for its grouped transaction; settles with the new id, or the entry already there. */
interface PendingCreate {
  values: store.NewEntry;
  parentId: number;
  audit: { actor: Actor; overrides: Overrides; path: string };
  settle(result: { id: number } | { exists: store.EntryRow }): void;
  fail(error: unknown): void;
}

/** Operator overrides met while checking one operation (audited when it changes something). */
type Overrides = string[];

/** A file opened for reading: its bytes from `start` to `end` (inclusive) of `size`. */
export interface OpenedFile {
  entry: FsEntry;
  stream: Readable;
  start: number;
  end: number;
  size: number;
  partial: boolean;
}

export type ByteRange = { start: number; end?: number } | { suffix: number };

/** What a purge of a disk copy answers. */
export type PurgeResult = { purged: true; bytes: number } | { purged: false; reason: 'gone' | 'changed' | 'not-on-disk' | 'dirty' | 'pinned' | 'open' | 'staging' };

export interface AreaPolicy {
  (area: { workgroup: string; subgroup?: string }): { classOfService?: string | null; family?: string | null };
}

export interface StorageServiceOptions {
  db: Kysely<Database>;
  /**
   * SQLite: the better-sqlite3 handle (Db.sqlite). Lookups by (parent, name) then run as one
   * prepared statement without Kysely's per-query cost — what makes stat fast. They run on the
   * same connection as everything else, so they may see a change of this process a moment
   * before its transaction commits (never one of another process).
   */
  sqlite?: SqliteDatabase.Database;
  clock: Clock;
  accounts: AccountsService;
  disk: DiskTier;
  /** Owner of the root and of the workgroup and subgroup directories. */
  operatorName: string;
  /** An upload left alone this long is removed. */
  uploadExpiryMs: number;
  logger?: { warn(object: Record<string, unknown>, message: string): void; info(object: Record<string, unknown>, message: string): void };
}

const LEASE_MS = 15 * 60_000;
const LEASE_RENEW_MS = 5 * 60_000;
const DIR_CACHE_MAX = 100_000;
const MAX_LIST = 10_000;
/** A placeholder (a new file whose first upload never committed) older than this with no upload goes. */
const PLACEHOLDER_GRACE_MS = 60 * 60_000;

const iso = (d: Date) => d.toISOString();

/**
 * The storage namespace: directories and files with DCE-style ACLs, the disk tier's bytes,
 * resumable uploads, streamed reads — and the functions the HSM works through (files by state,
 * archive copies, purge of disk copies, pins, staging, the `Stager` and `WriteGuard` hooks).
 *
 * Rules: traversal needs x on every directory passed through; listing r; reading a file r,
 * writing w; creating an entry i on its directory, removing d; changing an ACL c (owners
 * always have it). Operators pass every check, and what they change that the ACL alone would
 * not allow is written to the audit log (`fs.override`), as are all ACL changes.
 *
 * Directories are kept in memory by path (for traversal checks) and dropped whenever a
 * directory is moved, removed or changes its ACL; the last step of every lookup is one indexed
 * query. This assumes one server writes the namespace (as the accounts cache does).
 */
export class StorageService {
  private readonly k: Kysely<Database>;
  private readonly clock: Clock;
  private readonly accounts: AccountsService;
  readonly disk: DiskTier;
  private readonly operatorName: string;
  private readonly uploadExpiryMs: number;
  private readonly logger: StorageServiceOptions['logger'];

  private dirs = new Map<string, DirNode>();
  private dirEpoch = 0;
  private rootRow: store.EntryRow | undefined;
  private readonly callers = new WeakMap<User, { user: Caller; operator: Caller }>();
  private readonly systemCaller: Caller;
  /** Upload hashes in memory: id → SHA-256 state after `offset` bytes. */
  private readonly hashes = new Map<string, { hash: Hash; offset: number }>();
  /** Uploads with a chunk or commit in progress. */
  private readonly busy = new Set<string>();
  private readonly knownAreas = new Set<string>();
  private stager: Stager | null = null;
  private writeGuard: WriteGuard | null = null;
  private areaPolicy: AreaPolicy | null = null;
  private readonly pressureListeners = new Set<(event: DiskPressure) => void>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly openLeases = new Set<number>();
  private readonly childLookup: (parentId: number, name: string) => Promise<store.EntryRow | undefined> | store.EntryRow | undefined;
  /** SQLite: an insert as one prepared statement, for grouped creations (inside their Kysely transaction, on the same connection). */
  private readonly insertNow: ((values: store.NewEntry) => number) | null;
  /** Directory creations waiting for the next grouped transaction (group commit). */
  private pendingCreates: PendingCreate[] = [];
  private creating = false;

  constructor(options: StorageServiceOptions) {
    this.k = options.db;
    this.clock = options.clock;
    this.accounts = options.accounts;
    this.disk = options.disk;
    this.operatorName = options.operatorName;
    this.uploadExpiryMs = options.uploadExpiryMs;
    this.logger = options.logger;
    const plain: Subject = { user: SYSTEM_ACTOR.name, groups: new Set(), operator: false };
    this.systemCaller = { user: plain.user, groups: plain.groups, operator: true, plain, primaryGroup: this.operatorName, home: [] };
    if (options.sqlite) {
      // Rows as arrays, made into objects here: about twice as fast as better-sqlite3's own objects.
      const statement = options.sqlite.prepare(`select ${store.ENTRY_COLUMNS.join(', ')} from fs_entries where parent_id = ? and name = ?`).raw(true);
      this.childLookup = (parentId, name) => {
        const values = statement.get(parentId, name) as unknown[] | undefined;
        return values === undefined ? undefined : store.entryFromValues(values);
      };
      const columns = store.ENTRY_COLUMNS.filter((c) => c !== 'id');
      const insert = options.sqlite.prepare(`insert into fs_entries (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`);
      this.insertNow = (values) => Number(insert.run(...columns.map((c) => values[c] ?? null)).lastInsertRowid);
    } else {
      this.childLookup = store.compiledChild(this.k);
      this.insertNow = null;
    }
  }

  /** The entry `name` of directory `parentId` (outside transactions): one indexed lookup. */
  private child(parentId: number, name: string): Promise<store.EntryRow | undefined> | store.EntryRow | undefined {
    return this.childLookup(parentId, name);
  }

  private now(): Date {
    return this.clock.now();
  }

  private transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.k.isTransaction ? work(this.k) : this.k.transaction().execute(work);
  }

  // ================================================================ start and stop

  /**
   * Opens the disk tier, creates the root if missing, recounts the disk tier's bytes, forgets
   * what a crash left half-done (stages that were in flight, leases of readers that are gone,
   * upload files without a session and sessions without a file), and starts the sweep of
   * abandoned uploads. Generation files no row points at are removed in the background.
   */
  async start(options: { sweepOrphans?: boolean } = {}): Promise<void> {
    await this.disk.open();
    await this.ensureRoot();
    const now = this.now();
    await store.dropExpiredLeases(this.k, new Date(now.getTime() + LEASE_MS + 1));
    // Stages in flight died with the previous process: their partial bytes go, the HSM stages again.
    const staging = await store.findFiles(this.k, { diskState: ['staging'], limit: 1_000_000 });
    for (const row of staging) {
      await this.k.updateTable('fs_entries').set({ disk_state: 'none' }).where('id', '=', row.id).where('disk_state', '=', 'staging').execute();
      await this.disk.remove(row.id, row.generation);
    }
    const sessions = await store.uploadsOf(this.k, null);
    const onDisk = new Set(await this.disk.uploadIds());
    for (const id of onDisk) if (!sessions.some((s) => s.id === id)) await this.disk.removeUpload(id);
    for (const session of sessions) if (!onDisk.has(session.id)) await store.deleteUpload(this.k, session.id);
    this.disk.usedBytes = await store.diskBytes(this.k);
    this.disk.reservedBytes = await store.reservedUploadBytes(this.k);
    await this.sweep();
    const every = Math.max(1000, Math.min(this.uploadExpiryMs / 4, 10 * 60_000));
    this.sweepTimer = setInterval(() => void this.sweep().catch((error: unknown) => this.logger?.warn({ err: error }, 'storage: sweep failed')), every);
    this.sweepTimer.unref();
    if (options.sweepOrphans !== false) void this.sweepOrphans().catch((error: unknown) => this.logger?.warn({ err: error }, 'storage: orphan sweep failed'));
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Removes expired uploads and placeholders nobody uploads to any more. */
  async sweep(): Promise<void> {
    const now = this.now();
    for (const row of await store.expiredUploads(this.k, now)) {
      if (this.busy.has(row.id)) continue;
      await this.discardUpload(row);
    }
    await store.deleteStalePlaceholders(this.k, new Date(now.getTime() - PLACEHOLDER_GRACE_MS));
    await store.dropExpiredLeases(this.k, now);
  }

  /** Removes generation files of the disk tier that no file's current disk copy is (left by a crash). */
  async sweepOrphans(): Promise<number> {
    let removed = 0;
    let batch: [number, number][] = [];
    const flush = async () => {
      const current = await store.diskGenerations(this.k, [...new Set(batch.map(([id]) => id))]);
      for (const [id, generation] of batch) {
        if (current.get(id) === generation) continue;
        // An upload being committed renames first and commits after: leave very fresh files alone.
        const row = await store.byId(this.k, id);
        if (row && row.next_generation > generation && generation > row.generation && (await store.uploadsFor(this.k, id)).some((u) => u.generation === generation)) continue;
        await this.disk.remove(id, generation);
        removed++;
      }
      batch = [];
    };
    for await (const entry of this.disk.generations()) {
      batch.push(entry);
      if (batch.length >= 500) await flush();
    }
    if (batch.length) await flush();
    if (removed) this.logger?.info({ removed }, 'storage: removed disk files no namespace entry points at');
    return removed;
  }

  private async ensureRoot(): Promise<store.EntryRow> {
    let row = await store.root(this.k);
    if (!row) {
      const values = this.newRow(0, '', store.DIRECTORY, this.operatorName, this.operatorName, ROOT_ACL, null, null, null, null, this.now());
      await store.insertEntry(this.k, { ...values, parent_id: null });
      row = (await store.root(this.k))!;
    }
    this.rootRow = row;
    return row;
  }

  // ================================================================ callers

  /**
   * The ACL subject of an actor: user, every subgroup and workgroup they belong to, operator
   * flag. The accounts service keeps users in memory and hands out a new object after any
   * account change, so what is derived from one stays right exactly as long as it is reused.
   */
  async callerOf(actor: Actor): Promise<Caller> {
    if (actor.kind === 'system') return this.systemCaller;
    const user = await this.accounts.getUser(SYSTEM_ACTOR, actor.name);
    let pair = this.callers.get(user);
    if (!pair) {
      const groups = new Set<string>([user.primarySubgroup, user.workgroup, ...user.subgroups]);
      for (const extra of user.subgroups) {
        const subgroup = await this.accounts.getSubgroup(SYSTEM_ACTOR, extra).catch(() => null);
        if (subgroup) groups.add(subgroup.workgroup);
      }
      const plain: Subject = { user: user.name, groups, operator: false };
      const base = { user: user.name, groups, plain, primaryGroup: user.primarySubgroup, home: [user.workgroup, user.primarySubgroup] };
      pair = { user: { ...base, operator: false }, operator: { ...base, operator: true } };
      this.callers.set(user, pair);
    }
    return actor.isOperator ? pair.operator : pair.user;
  }

  /** A path from a request: absolute, or relative to the caller's subgroup directory. */
  private pathOf(caller: Caller, text: unknown): NormalPath {
    return normalizePath(text, caller.home);
  }

  // ================================================================ permission checks

  /**
   * The caller's permissions on an object, and a check that `need` is among them. Operators
   * pass; when the ACL alone would not have let them, the override is noted for the audit log.
   */
  private require(caller: Caller, overrides: Overrides, node: { acl: Acl; owner: string; group: string }, need: number, doing: string, path: string): number {
    const perms = evaluateAcl(node.acl, caller, node.owner, node.group);
    if (caller.operator) {
      const natural = evaluateAcl(node.acl, caller.plain, node.owner, node.group);
      if (!hasAll(natural, need)) overrides.push(`${formatPerms(need & ~natural).replaceAll('-', '')} on ${path}`);
      return perms;
    }
    if (!hasAll(perms, need)) {
      throw forbidden(`you may not ${doing} ${path}: that needs ${describePerms(need & ~perms)} permission, and its ACL gives you ${formatPerms(perms)} (see keisan fs acl get ${path})`);
    }
    return perms;
  }

  private nodeOf(row: store.EntryRow): DirNode {
    return {
      id: row.id,
      owner: row.owner_name,
      group: row.group_name,
      acl: storedAcl(row.acl),
      initialFile: row.initial_file_acl,
      initialDir: row.initial_dir_acl,
      classOfService: row.class_of_service,
      family: row.family,
    };
  }

  /** Forgets every directory kept in memory (after a directory moved, went or changed its ACL). */
  private forgetDirectories(): void {
    this.dirEpoch++;
    this.dirs.clear();
  }

  private async rootNode(): Promise<DirNode> {
    const cached = this.dirs.get('/');
    if (cached) return cached;
    const epoch = this.dirEpoch;
    const row = (await store.root(this.k)) ?? (await this.ensureRoot());
    const node = this.nodeOf(row);
    if (epoch === this.dirEpoch) this.dirs.set('/', node);
    return node;
  }

  /**
   * Walks from the root to the directory `parts`, checking traverse (x) on every directory
   * passed through, the last one included (the caller goes on into it). `/<workgroup>` and
   * `/<workgroup>/<subgroup>` are created when first needed.
   */
  private async walk(caller: Caller, overrides: Overrides, parts: readonly string[], depth = parts.length): Promise<DirNode> {
    let node = this.dirs.get('/') ?? (await this.rootNode());
    let key = '';
    this.require(caller, overrides, node, X, 'traverse', '/');
    for (let i = 0; i < depth; i++) {
      key = `${key}/${parts[i]}`;
      let next = this.dirs.get(key);
      if (!next) {
        const epoch = this.dirEpoch;
        let row = await this.child(node.id, parts[i]!);
        if (!row && i < 2) row = await this.autoArea(parts.slice(0, i + 1), node);
        if (!row || !store.visible(row)) throw notFound('path', key);
        if (row.kind !== store.DIRECTORY) throw invalidInput(`${key} is a file, not a directory`);
        next = this.nodeOf(row);
        if (epoch === this.dirEpoch) {
          if (this.dirs.size >= DIR_CACHE_MAX) this.dirs.clear();
          this.dirs.set(key, next);
        }
      }
      node = next;
      this.require(caller, overrides, node, X, 'traverse', key);
    }
    return node;
  }

  /** `walk` when every directory on the way is in memory, without waiting for anything; undefined otherwise. */
  private walkCached(caller: Caller, overrides: Overrides, parts: readonly string[], depth: number): DirNode | undefined {
    const nodes: DirNode[] = [];
    let node = this.dirs.get('/');
    if (!node) return undefined;
    nodes.push(node);
    let key = '';
    for (let i = 0; i < depth; i++) {
      key = `${key}/${parts[i]}`;
      node = this.dirs.get(key);
      if (!node) return undefined;
      nodes.push(node);
    }
    key = '';
    for (let i = 0; i < nodes.length; i++) {
      if (i > 0) key = `${key}/${parts[i - 1]}`;
      this.require(caller, overrides, nodes[i]!, X, 'traverse', i === 0 ? '/' : key);
    }
    return node;
  }

  /** The entry at `path` with its directory (traversed); the root has none. */
  private async locate(caller: Caller, overrides: Overrides, path: NormalPath): Promise<{ parent: DirNode | null; row: store.EntryRow | undefined; name: string }> {
    const depth = path.parts.length;
    if (depth === 0) return { parent: null, row: (await store.root(this.k)) ?? (await this.ensureRoot()), name: '' };
    const name = path.parts[depth - 1]!;
    const parent = this.walkCached(caller, overrides, path.parts, depth - 1) ?? (await this.walk(caller, overrides, path.parts, depth - 1));
    const found = this.child(parent.id, name);
    let row = found instanceof Promise ? await found : found;
    if (!row && depth <= 2) row = await this.autoArea(path.parts, parent);
    return { parent, row: row && store.visible(row) ? row : undefined, name };
  }

  private async existing(caller: Caller, overrides: Overrides, path: NormalPath): Promise<{ parent: DirNode | null; row: store.EntryRow }> {
    const found = await this.locate(caller, overrides, path);
    if (!found.row) throw notFound('path', path.text);
    return { parent: found.parent, row: found.row };
  }

  private permsOn(caller: Caller, row: store.EntryRow): number {
    return evaluateAcl(storedAcl(row.acl), caller, row.owner_name, row.group_name);
  }

  private async auditOverrides(tx: Tx, actor: Actor, overrides: Overrides, operation: string, path: string): Promise<void> {
    if (overrides.length === 0) return;
    await writeAudit(tx, { actor, action: 'fs.override', targetType: 'path', target: path, outcome: 'ok', detail: { operation, overrode: overrides } }, this.now());
  }

  // ================================================================ workgroup and subgroup directories

  /**
   * Creates `/<workgroup>` or `/<workgroup>/<subgroup>` when the workgroup or subgroup exists and
   * its directory does not yet (on first use: nothing to do when accounts change). Owned by the
   * operator account, group = the workgroup or subgroup; the workgroup's members may list and
   * traverse its directory; a subgroup's members create, read and delete in theirs.
   */
  private async autoArea(parts: readonly string[], parent: DirNode): Promise<store.EntryRow | undefined> {
    const [workgroup, subgroup] = parts;
    if (!workgroup || parts.length > 2) return undefined;
    if (subgroup === undefined) {
      const exists = await this.accounts.getWorkgroup(SYSTEM_ACTOR, workgroup).catch(() => null);
      if (!exists) return undefined;
      const policy = this.areaPolicy?.({ workgroup }) ?? {};
      return this.createArea(parent, workgroup, workgroup, WORKGROUP_ACL, null, null, policy.classOfService ?? null, policy.family ?? null);
    }
    const found = await this.accounts.getSubgroup(SYSTEM_ACTOR, subgroup).catch(() => null);
    if (!found || found.workgroup !== workgroup) return undefined;
    const policy = this.areaPolicy?.({ workgroup, subgroup }) ?? {};
    return this.createArea(
      parent,
      subgroup,
      subgroup,
      SUBGROUP_ACL,
      SUBGROUP_INITIAL_FILE_ACL,
      SUBGROUP_INITIAL_DIR_ACL,
      policy.classOfService !== undefined ? policy.classOfService : parent.classOfService,
      policy.family !== undefined ? policy.family : `${workgroup}.${subgroup}`,
    );
  }

  private async createArea(parent: DirNode, name: string, group: string, acl: string, initialFile: string | null, initialDir: string | null, cos: string | null, family: string | null): Promise<store.EntryRow | undefined> {
    const now = this.now();
    try {
      await this.transaction(async (tx) => {
        await store.insertEntry(tx, this.newRow(parent.id, name, store.DIRECTORY, this.operatorName, group, acl, initialFile, initialDir, cos, family, now));
        await store.touchDirectory(tx, parent.id, now);
        await writeAudit(tx, { actor: SYSTEM_ACTOR, action: 'fs.area.create', targetType: 'path', target: name, outcome: 'ok', detail: { group, acl } }, now);
      });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    return store.child(this.k, parent.id, name);
  }

  /** Creates the directories of every workgroup and subgroup that has none yet (listing `/` or a workgroup). */
  async ensureAreas(): Promise<void> {
    const root = await this.rootNode();
    const subgroups = await this.accounts.listSubgroups(SYSTEM_ACTOR);
    const workgroups = new Set((await this.accounts.listWorkgroups(SYSTEM_ACTOR)).map((w) => w.name));
    for (const workgroup of workgroups) {
      if (this.knownAreas.has(workgroup)) continue;
      if (!(await store.child(this.k, root.id, workgroup))) await this.autoArea([workgroup], root);
      this.knownAreas.add(workgroup);
    }
    for (const subgroup of subgroups) {
      const key = `${subgroup.workgroup}/${subgroup.name}`;
      if (this.knownAreas.has(key)) continue;
      const wg = await store.child(this.k, root.id, subgroup.workgroup);
      if (!wg || wg.kind !== store.DIRECTORY) continue;
      if (!(await store.child(this.k, wg.id, subgroup.name))) await this.autoArea([subgroup.workgroup, subgroup.name], this.nodeOf(wg));
      this.knownAreas.add(key);
    }
  }

  private newRow(
    parentId: number,
    name: string,
    kind: string,
    owner: string,
    group: string,
    acl: string,
    initialFile: string | null,
    initialDir: string | null,
    cos: string | null,
    family: string | null,
    now: Date,
  ): store.NewEntry {
    const at = iso(now);
    return {
      parent_id: parentId,
      name,
      kind,
      owner_name: owner,
      group_name: group,
      acl,
      initial_file_acl: initialFile,
      initial_dir_acl: initialDir,
      class_of_service: cos,
      family,
      size: 0,
      sha256: null,
      generation: 0,
      next_generation: 1,
      writer: null,
      disk_state: 'none',
      dirty: 0,
      migrated_at: null,
      pinned_until: null,
      created_at: at,
      modified_at: at,
      accessed_at: at,
      changed_at: at,
    };
  }

  // ================================================================ answers

  private entryOf(row: store.EntryRow, path: string, perms: number): FsEntry {
    const directory = row.kind === store.DIRECTORY;
    const disk = row.disk_state as DiskState;
    const locality: Locality = directory ? 'none' : disk === 'complete' ? (row.dirty ? 'disk' : 'disk+archive') : disk === 'staging' ? 'staging' : 'archive';
    return {
      path,
      name: row.parent_id === null ? '/' : row.name,
      type: directory ? 'directory' : 'file',
      owner: row.owner_name,
      group: row.group_name,
      size: row.size,
      sha256: row.sha256,
      generation: directory ? 0 : row.generation,
      createdAt: row.created_at,
      modifiedAt: row.modified_at,
      accessedAt: row.accessed_at,
      changedAt: row.changed_at,
      classOfService: row.class_of_service,
      family: row.family,
      disk,
      locality,
      dirty: row.dirty === 1,
      migratedAt: row.migrated_at,
      pinnedUntil: row.pinned_until,
      permissions: formatPerms(perms),
    };
  }

  // ================================================================ namespace: reading

  async stat(actor: Actor, pathText: unknown): Promise<FsEntry> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, pathText);
    const { row } = await this.existing(caller, [], path);
    return this.entryOf(row, path.text, this.permsOn(caller, row));
  }

  async list(actor: Actor, pathText: unknown, options: { after?: string; limit?: number } = {}): Promise<Listing> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, pathText);
    if (path.parts.length <= 1) await this.ensureAreas();
    const { row } = await this.existing(caller, [], path);
    if (row.kind !== store.DIRECTORY) return { path: path.text, entries: [this.entryOf(row, path.text, this.permsOn(caller, row))], next: null };
    this.require(caller, [], { acl: storedAcl(row.acl), owner: row.owner_name, group: row.group_name }, R, 'list', path.text);
    const limit = Math.min(Math.max(options.limit ?? 1000, 1), MAX_LIST);
    const rows = await store.children(this.k, row.id, options.after, limit + 1);
    const more = rows.length > limit;
    const shown = more ? rows.slice(0, limit) : rows;
    const prefix = path.text === '/' ? '' : path.text;
    return {
      path: path.text,
      entries: shown.map((r) => this.entryOf(r, `${prefix}/${r.name}`, this.permsOn(caller, r))),
      next: more ? shown.at(-1)!.name : null,
    };
  }

  /** Files, directories and bytes under a path; directories the caller may not list (r) or traverse (x) are skipped and named. */
  async usage(actor: Actor, pathText: unknown): Promise<Usage> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, pathText);
    const { row } = await this.existing(caller, [], path);
    const result: Usage = { path: path.text, files: 0, directories: 0, bytes: 0, onDiskBytes: 0, unreadable: [] };
    if (row.kind !== store.DIRECTORY) {
      return { ...result, files: 1, bytes: row.size, onDiskBytes: row.disk_state === 'complete' ? row.size : 0 };
    }
    const tree = await store.subtree(this.k, row.id);
    const kids = new Map<number, typeof tree>();
    for (const entry of tree) {
      if (entry.parent_id === null || entry.id === row.id) continue;
      let list = kids.get(entry.parent_id);
      if (!list) kids.set(entry.parent_id, (list = []));
      list.push(entry);
    }
    const stack: { id: number; path: string; entry: (typeof tree)[number] }[] = [{ id: row.id, path: path.text, entry: tree.find((t) => t.id === row.id)! }];
    while (stack.length) {
      const { id, path: at, entry } = stack.pop()!;
      result.directories++;
      const perms = evaluateAcl(storedAcl(entry.acl), caller, entry.owner_name, entry.group_name);
      if (!hasAll(perms, R | X)) {
        result.unreadable.push(at);
        continue;
      }
      for (const child of kids.get(id) ?? []) {
        const childPath = `${at === '/' ? '' : at}/${child.name}`;
        if (child.kind === store.DIRECTORY) stack.push({ id: child.id, path: childPath, entry: child });
        else if (child.generation > 0) {
          result.files++;
          result.bytes += child.size;
          if (child.disk_state === 'complete') result.onDiskBytes += child.size;
        }
      }
    }
    result.unreadable.sort();
    return result;
  }

  // ================================================================ namespace: changes

  async mkdir(actor: Actor, input: MkdirInput): Promise<FsEntry> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, input.path);
    const split = splitLast(path);
    if (!split) {
      if (input.parents) return this.stat(actor, '/');
      throw conflict('/ exists: it is the root');
    }
    const overrides: Overrides = [];
    if (input.parents) {
      // Every missing directory on the way is created; existing ones are passed through.
      let parent = await this.rootNode();
      this.require(caller, overrides, parent, X, 'traverse', '/');
      for (let i = 0; i < path.parts.length; i++) {
        const sub: NormalPath = { parts: path.parts.slice(0, i + 1), text: joinParts(path.parts.slice(0, i + 1)) };
        let row = await this.child(parent.id, path.parts[i]!);
        if (!row && i < 2) row = await this.autoArea(sub.parts, parent);
        if (row && store.visible(row)) {
          if (row.kind !== store.DIRECTORY) throw conflict(`${sub.text} exists and is a file, not a directory`);
        } else {
          row = await this.createDirectory(actor, caller, overrides, parent, sub, path.parts[i]!, true);
        }
        if (i === path.parts.length - 1) return this.entryOf(row, path.text, this.permsOn(caller, row));
        parent = this.nodeOf(row);
        this.require(caller, overrides, parent, X, 'traverse', sub.text);
      }
    }
    const parent = await this.walk(caller, overrides, split.parent.parts);
    const row = await this.createDirectory(actor, caller, overrides, parent, path, split.name, false);
    return this.entryOf(row, path.text, this.permsOn(caller, row));
  }

  /**
   * Creates one directory in `parent` (insert permission there). Creations that arrive while
   * another is being written are grouped into one transaction (one commit, one fsync for all).
   */
  private async createDirectory(actor: Actor, caller: Caller, overrides: Overrides, parent: DirNode, path: NormalPath, name: string, acceptExisting: boolean): Promise<store.EntryRow> {
    const parentText = joinParts(path.parts.slice(0, -1));
    this.require(caller, overrides, parent, I, 'create entries in', parentText);
    const values = this.newRow(parent.id, name, store.DIRECTORY, caller.user, caller.primaryGroup, parent.initialDir ?? DEFAULT_DIR_ACL, parent.initialFile, parent.initialDir, parent.classOfService, parent.family, this.now());
    const result = await new Promise<{ id: number } | { exists: store.EntryRow }>((settle, fail) => {
      this.pendingCreates.push({ values, parentId: parent.id, audit: { actor, overrides, path: path.text }, settle, fail });
      if (!this.creating) void this.writeCreates();
    });
    if ('id' in result) return { ...values, id: result.id } as store.EntryRow;
    const existing = result.exists;
    if (acceptExisting && existing.kind === store.DIRECTORY) return existing;
    if (!store.visible(existing)) throw conflict(`${path.text} is being uploaded (a new file): choose another name or wait for the upload`);
    throw conflict(`${path.text} exists already (a ${existing.kind})${existing.kind === store.DIRECTORY ? '; use mkdir -p to accept an existing directory' : ''}`);
  }

  /** Writes waiting creations, as many as have gathered, in one transaction per round. */
  private async writeCreates(): Promise<void> {
    this.creating = true;
    try {
      while (this.pendingCreates.length > 0) {
        // Let the callers whose creations just finished ask for their next ones: they join this round.
        await new Promise((resolve) => setImmediate(resolve));
        const batch = this.pendingCreates.splice(0, 1000);
        if (batch.length === 1) {
          await this.createOne(batch[0]!);
          continue;
        }
        const now = this.now();
        let results: ({ id: number } | { exists: store.EntryRow })[];
        try {
          results = await this.transaction(async (tx) => {
            const out: ({ id: number } | { exists: store.EntryRow })[] = [];
            const parents = new Set<number>();
            for (const op of batch) {
              // Looked at first: a failed insert would end the whole transaction on PostgreSQL.
              // On SQLite the prepared statements run on the transaction's own connection.
              const existing = this.insertNow ? this.childLookup(op.parentId, op.values.name) as store.EntryRow | undefined : await store.child(tx, op.parentId, op.values.name);
              if (existing) {
                out.push({ exists: existing });
                continue;
              }
              out.push({ id: this.insertNow ? this.insertNow(op.values) : await store.insertEntry(tx, op.values) });
              parents.add(op.parentId);
              await this.auditOverrides(tx, op.audit.actor, op.audit.overrides, 'mkdir', op.audit.path);
            }
            for (const parentId of parents) await store.touchDirectory(tx, parentId, now);
            return out;
          });
        } catch {
          // A race with another server on the same database, a parent removed meanwhile…: each alone.
          for (const op of batch) await this.createOne(op);
          continue;
        }
        batch.forEach((op, i) => op.settle(results[i]!));
      }
    } finally {
      this.creating = false;
    }
  }

  private async createOne(op: PendingCreate): Promise<void> {
    const now = this.now();
    try {
      const id = await this.transaction(async (tx) => {
        const id = await store.insertEntry(tx, op.values);
        await store.touchDirectory(tx, op.parentId, now);
        await this.auditOverrides(tx, op.audit.actor, op.audit.overrides, 'mkdir', op.audit.path);
        return id;
      });
      op.settle({ id });
    } catch (error) {
      const existing = isUniqueViolation(error) ? await store.child(this.k, op.parentId, op.values.name).catch(() => undefined) : undefined;
      if (existing) op.settle({ exists: existing });
      else if (isForeignKeyViolation(error)) op.fail(conflict(`the directory of ${op.audit.path} was removed meanwhile`));
      else op.fail(error);
    }
  }

  async remove(actor: Actor, pathText: unknown, options: { recursive?: boolean } = {}): Promise<Removed> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, pathText);
    if (path.parts.length === 0) throw invalidInput('the root / cannot be removed');
    const overrides: Overrides = [];
    const { parent, row } = await this.existing(caller, overrides, path);
    const parentText = joinParts(path.parts.slice(0, -1));
    this.require(caller, overrides, parent!, D, 'remove entries from', parentText);
    let tree: Awaited<ReturnType<typeof store.subtree>> = [{ ...row }];
    if (row.kind === store.DIRECTORY) {
      tree = await store.subtree(this.k, row.id);
      const inside = tree.filter((t) => t.parent_id === row.id && store.visible(t));
      if (inside.length > 0 && !options.recursive) throw conflict(`${path.text} is not empty (${inside.length} ${inside.length === 1 ? 'entry' : 'entries'}): remove them first, or use rm -r`);
      // Emptying a directory needs list (r), traverse (x) and delete (d) on it, all the way down.
      const names = new Map(tree.map((t) => [t.id, t]));
      const pathOfTree = (id: number): string => {
        const parts: string[] = [];
        for (let t = names.get(id); t && t.id !== row.id; t = t.parent_id === null ? undefined : names.get(t.parent_id)) parts.unshift(t.name);
        return [path.text, ...parts].join('/');
      };
      for (const dir of tree) {
        if (dir.kind !== store.DIRECTORY || (dir.id !== row.id && !store.visible(dir))) continue;
        const hasChildren = tree.some((t) => t.parent_id === dir.id && store.visible(t));
        if (!hasChildren) continue;
        this.require(caller, overrides, { acl: storedAcl(dir.acl), owner: dir.owner_name, group: dir.group_name }, R | X | D, 'empty', pathOfTree(dir.id));
      }
    }
    const files = tree.filter((t) => t.kind === store.FILE);
    const fileIds = files.map((f) => f.id);
    const now = this.now();
    await this.transaction(async (tx) => {
      await store.obsoleteCopies(tx, fileIds, now);
      await store.deleteEntry(tx, row.id);
      await store.touchDirectory(tx, parent!.id, now);
      await this.auditOverrides(tx, actor, overrides, options.recursive ? 'rm -r' : 'rm', path.text);
    });
    if (row.kind === store.DIRECTORY) this.forgetDirectories();
    for (const file of files) {
      if (file.disk_state === 'complete' || file.disk_state === 'staging') {
        await this.disk.remove(file.id, file.generation);
        this.disk.usedBytes = Math.max(0, this.disk.usedBytes - file.size);
      }
      for (const upload of await store.uploadsFor(this.k, file.id)) if (!this.busy.has(upload.id)) await this.discardUpload(upload);
    }
    const visibleFiles = files.filter((f) => f.generation > 0);
    return {
      path: path.text,
      files: visibleFiles.length,
      directories: tree.filter((t) => t.kind === store.DIRECTORY).length,
      bytes: visibleFiles.reduce((sum, f) => sum + f.size, 0),
    };
  }

  /** Renames or moves an entry (like mv: onto an existing directory, into it). Never replaces an existing entry. */
  async move(actor: Actor, input: MoveInput): Promise<FsEntry> {
    const caller = await this.callerOf(actor);
    const from = this.pathOf(caller, input.from);
    let to = this.pathOf(caller, input.to);
    if (from.parts.length === 0) throw invalidInput('the root / cannot be moved');
    const overrides: Overrides = [];
    const source = await this.existing(caller, overrides, from);
    this.require(caller, overrides, source.parent!, D, 'remove entries from', joinParts(from.parts.slice(0, -1)));
    const target = to.parts.length === 0 ? { row: await store.root(this.k) } : await this.locate(caller, overrides, to);
    if (target.row && target.row.kind === store.DIRECTORY && target.row.id !== source.row.id) {
      to = { parts: [...to.parts, from.parts.at(-1)!], text: joinParts([...to.parts, from.parts.at(-1)!]) };
    } else if (target.row) {
      throw conflict(`${to.text} exists already: remove it first (mv never replaces)`);
    }
    if (source.row.kind === store.DIRECTORY && isWithin(to, from)) throw invalidInput(`cannot move ${from.text} into itself (${to.text})`);
    const split = splitLast(to)!;
    const destination = await this.walk(caller, overrides, split.parent.parts);
    const clash = await store.child(this.k, destination.id, split.name);
    if (clash) throw conflict(`${to.text} exists already${store.visible(clash) ? '' : ' (a new file being uploaded)'}: remove it first (mv never replaces)`);
    this.require(caller, overrides, destination, I, 'create entries in', split.parent.text);
    const now = this.now();
    try {
      await this.transaction(async (tx) => {
        await store.rename(tx, source.row.id, destination.id, split.name, now);
        await store.touchDirectory(tx, source.parent!.id, now);
        if (destination.id !== source.parent!.id) await store.touchDirectory(tx, destination.id, now);
        await this.auditOverrides(tx, actor, overrides, 'mv', `${from.text} -> ${to.text}`);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`${to.text} was created at the same time by someone else`);
      throw error;
    } finally {
      if (source.row.kind === store.DIRECTORY) this.forgetDirectories();
    }
    const moved = (await store.byId(this.k, source.row.id))!;
    return this.entryOf(moved, to.text, this.permsOn(caller, moved));
  }

  // ================================================================ ACLs

  private aclViewOf(caller: Caller, row: store.EntryRow, path: string): AclView {
    return {
      path,
      type: row.kind === store.DIRECTORY ? 'directory' : 'file',
      owner: row.owner_name,
      group: row.group_name,
      acl: row.acl,
      initialFile: row.initial_file_acl,
      initialDir: row.initial_dir_acl,
      permissions: formatPerms(this.permsOn(caller, row)),
    };
  }

  async getAcl(actor: Actor, pathText: unknown): Promise<AclView> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, pathText);
    const { row } = await this.existing(caller, [], path);
    return this.aclViewOf(caller, row, path.text);
  }

  /**
   * Sets an entry's ACL, or a directory's initial ACL for new files or new subdirectories: the
   * whole text (`acl`), or entries to add and remove. Needs control (c); owners always have it.
   * Named users and groups must exist. Audited with the ACL before and after.
   */
  async setAcl(actor: Actor, input: SetAclInput): Promise<AclView> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, input.path);
    const which: AclTarget = input.which ?? 'object';
    if (input.acl !== undefined && (input.add !== undefined || input.remove !== undefined)) {
      throw invalidInput('give either the whole ACL (acl) or entries to add and remove, not both');
    }
    if (input.acl === undefined && input.add === undefined && input.remove === undefined) throw invalidInput('nothing to change: give acl, add or remove');
    const what = which === 'object' ? 'ACL' : which === 'initial-file' ? 'initial file ACL' : 'initial directory ACL';
    // The text is checked first: a typo is reported whatever the path.
    const whole = typeof input.acl === 'string' ? parseAcl(input.acl, what) : null;
    const add = input.add !== undefined ? parseEntries(input.add, 'entries to add') : [];
    const remove = input.remove !== undefined ? parseEntryKeys(input.remove) : [];
    const overrides: Overrides = [];
    const { row } = await this.existing(caller, overrides, path);
    if (which !== 'object' && row.kind !== store.DIRECTORY) throw invalidInput(`${path.text} is a file: only directories have initial ACLs (--initial-file, --initial-dir)`);
    const perms = this.permsOn(caller, row);
    if (!caller.operator && !(perms & C)) {
      throw await auditedRefusal(
        this.k,
        { actor, action: 'fs.acl.set', targetType: 'path', target: path.text },
        `you may not change the ACL of ${path.text}: that needs control (c), which its owner (${row.owner_name}) has, and its ACL gives you ${formatPerms(perms)}`,
        this.now(),
      );
    }
    const override = caller.operator && !(evaluateAcl(storedAcl(row.acl), caller.plain, row.owner_name, row.group_name) & C);
    const column: store.AclColumn = which === 'object' ? 'acl' : which === 'initial-file' ? 'initial_file_acl' : 'initial_dir_acl';
    const before = row[column];
    let after: string | null;
    if (input.acl === null) {
      if (which === 'object') throw invalidInput('an entry always has an ACL: give its text, e.g. user::rwxcid,group::r-x---,other::------');
      after = null;
    } else if (whole) {
      after = formatAcl(whole);
    } else {
      const current = storedAcl(before ?? (which === 'initial-file' ? DEFAULT_FILE_ACL : which === 'initial-dir' ? DEFAULT_DIR_ACL : row.acl));
      after = formatAcl(modifyAcl(current, add, remove, what));
    }
    if (after !== null) await this.checkNamed(makeAcl(storedAcl(after).entries), what);
    const now = this.now();
    await this.transaction(async (tx) => {
      await store.setAcl(tx, row.id, column, after, now);
      await writeAudit(
        tx,
        { actor, action: 'fs.acl.set', targetType: 'path', target: path.text, outcome: 'ok', detail: { which, before, after, ...(override ? { override: true } : {}) } },
        now,
      );
      await this.auditOverrides(tx, actor, overrides, `acl set ${which}`, path.text);
    });
    if (row.kind === store.DIRECTORY) this.forgetDirectories();
    const changed = (await store.byId(this.k, row.id))!;
    return this.aclViewOf(caller, changed, path.text);
  }

  private async checkNamed(acl: Acl, what: string): Promise<void> {
    const { users, groups } = namedIn(acl);
    for (const name of users) {
      const user = await this.accounts.getUser(SYSTEM_ACTOR, name).catch(() => null);
      if (!user) throw invalidInput(`${what}: user '${name}' does not exist (entry user:${name}:…)`);
    }
    for (const name of groups) {
      const subgroup = await this.accounts.getSubgroup(SYSTEM_ACTOR, name).catch(() => null);
      const workgroup = subgroup ? subgroup : await this.accounts.getWorkgroup(SYSTEM_ACTOR, name).catch(() => null);
      if (!workgroup) throw invalidInput(`${what}: group '${name}' is neither a subgroup nor a workgroup (entry group:${name}:…)`);
    }
  }

  /** Sets the class of service and/or file family of an entry (or a whole tree); new entries below inherit them. Operators only; audited. */
  async setTreePolicy(actor: Actor, pathText: unknown, policy: { classOfService?: string | null; family?: string | null }, recursive = false): Promise<number> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, pathText);
    if (!caller.operator) {
      throw await auditedRefusal(this.k, { actor, action: 'fs.policy.set', targetType: 'path', target: path.text }, 'only an operator may set the class of service or file family of a tree', this.now());
    }
    const { row } = await this.existing(caller, [], path);
    const changed = await this.transaction(async (tx) => {
      const n = await store.setPolicy(tx, row.id, policy, recursive);
      await writeAudit(tx, { actor, action: 'fs.policy.set', targetType: 'path', target: path.text, outcome: 'ok', detail: { ...policy, recursive, entries: n } }, this.now());
      return n;
    });
    this.forgetDirectories();
    return changed;
  }

  // ================================================================ uploads (put)

  private uploadView(row: store.UploadRow): Upload {
    return { id: row.id, path: row.path, size: row.size, received: row.received, tag: row.tag, createdAt: row.created_at, updatedAt: row.updated_at, expiresAt: row.expires_at };
  }

  private pressure(reason: DiskPressure['reason'], neededBytes: number, path: string): KeisanError {
    const event: DiskPressure = {
      reason,
      neededBytes,
      usedBytes: this.disk.usedBytes,
      reservedBytes: this.disk.reservedBytes,
      capacityBytes: this.disk.capacityBytes,
      path,
    };
    for (const listener of this.pressureListeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger?.warn({ err: error }, 'storage: a disk pressure listener failed');
      }
    }
    const free = this.disk.capacityBytes === null ? null : Math.max(0, this.disk.capacityBytes - this.disk.usedBytes - this.disk.reservedBytes);
    const message =
      reason === 'capacity'
        ? `the disk tier is full: ${path} needs ${formatSize(neededBytes)} and ${formatSize(free ?? 0)} of its ${formatSize(this.disk.capacityBytes ?? 0)} are free (uploads in progress hold ${formatSize(this.disk.reservedBytes)}). Nothing was written; try again after the HSM has purged migrated files, or ask an operator`
        : `the disk tier is full: its filesystem has no space left (ENOSPC) while writing ${path}. The partial upload was removed; try again after the HSM has purged migrated files, or ask an operator`;
    return new KeisanError('INSUFFICIENT_STORAGE', message, { neededBytes, freeBytes: free });
  }

  /**
   * Starts an upload of `size` bytes to `path`: a new file (insert on its directory) or a new
   * generation of an existing one (write on it). The bytes are promised at once: when they do
   * not fit the disk tier's capacity the answer is 507 before anything is sent.
   */
  async createUpload(actor: Actor, input: CreateUploadInput): Promise<Upload> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, input.path);
    const split = splitLast(path);
    if (!split) throw invalidInput('/ is the root directory: put a file into a directory, e.g. /workgroup/subgroup/name');
    const overrides: Overrides = [];
    const parent = await this.walk(caller, overrides, split.parent.parts);
    let row = await store.child(this.k, parent.id, split.name);
    if (row && row.kind === store.DIRECTORY) throw conflict(`${path.text} is a directory: put the file into it with a name, e.g. ${path.text}/NAME`);
    if (row && store.visible(row)) {
      if (input.overwrite === false) throw conflict(`${path.text} exists already (generation ${row.generation}, ${formatSize(row.size)}): it was not replaced (without --no-clobber, put writes a new generation)`);
      this.require(caller, overrides, { acl: storedAcl(row.acl), owner: row.owner_name, group: row.group_name }, W, 'write', path.text);
    } else {
      this.require(caller, overrides, parent, I, 'create entries in', split.parent.text);
    }
    await this.guardWrite({ path: path.text, fileId: row?.id ?? 0, size: input.size, replacesBytes: row && store.visible(row) ? row.size : 0, family: row?.family ?? parent.family, classOfService: row?.class_of_service ?? parent.classOfService, user: caller.user });
    if (!this.disk.fits(input.size)) throw this.pressure('capacity', input.size, path.text);
    this.disk.reservedBytes += input.size;
    const now = this.now();
    const id = randomToken('up', 18);
    try {
      if (!row) {
        // The new file's invisible entry, in a statement of its own: when another upload to the
        // same new name wins the insert, this one shares its entry (and the commit decides).
        const values = this.newRow(parent.id, split.name, store.FILE, caller.user, caller.primaryGroup, parent.initialFile ?? DEFAULT_FILE_ACL, null, null, parent.classOfService, parent.family, now);
        try {
          await store.insertEntry(this.k, values);
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
        row = await store.child(this.k, parent.id, split.name);
        if (!row || row.kind !== store.FILE) throw conflict(`${path.text} was created at the same time by someone else; try again`);
      }
      const target = row;
      await this.transaction(async (tx) => {
        const generation = await store.allocateGeneration(tx, target.id);
        await store.insertUpload(tx, {
          id,
          file_id: target.id,
          path: path.text,
          owner_name: caller.user,
          size: input.size,
          received: 0,
          generation,
          base_generation: target.generation,
          sha256: input.sha256 ?? null,
          tag: input.tag ?? null,
          created_at: iso(now),
          updated_at: iso(now),
          expires_at: iso(new Date(now.getTime() + this.uploadExpiryMs)),
        });
        await this.auditOverrides(tx, actor, overrides, 'put', path.text);
      });
      await this.disk.createUpload(id);
    } catch (error) {
      this.disk.reservedBytes -= input.size;
      await store.deleteUpload(this.k, id).catch(() => undefined);
      throw error;
    }
    this.hashes.set(id, { hash: createHash('sha256'), offset: 0 });
    return this.uploadView((await store.upload(this.k, id))!);
  }

  private async guardWrite(intent: Parameters<WriteGuard>[0]): Promise<void> {
    if (this.writeGuard) await this.writeGuard(intent);
  }

  private async ownUpload(caller: Caller, id: string, allowOperator: boolean): Promise<store.UploadRow> {
    const row = typeof id === 'string' && id.length <= 64 ? await store.upload(this.k, id) : undefined;
    if (!row) throw notFound('upload', id);
    if (row.owner_name !== caller.user && !(allowOperator && caller.operator)) throw forbidden(`upload ${id} belongs to ${row.owner_name}: only they may continue it`);
    return row;
  }

  async getUpload(actor: Actor, id: string): Promise<Upload> {
    return this.uploadView(await this.ownUpload(await this.callerOf(actor), id, true));
  }

  /** The caller's uploads (all of them with `all` for operators), optionally those to one path. */
  async listUploads(actor: Actor, pathText?: string, all = false): Promise<Upload[]> {
    const caller = await this.callerOf(actor);
    const path = pathText === undefined ? undefined : this.pathOf(caller, pathText).text;
    return (await store.uploadsOf(this.k, all && caller.operator ? null : caller.user, path)).map((r) => this.uploadView(r));
  }

  private lock(id: string): () => void {
    if (this.busy.has(id)) throw conflict(`upload ${id} is busy with another chunk or its commit: wait for it to finish, then ask where it stands (GET /api/fs/uploads/${id})`);
    this.busy.add(id);
    return () => this.busy.delete(id);
  }

  /** The SHA-256 state after `received` bytes: from memory, or recomputed from the upload's file. */
  private async hashAt(row: store.UploadRow): Promise<{ hash: Hash; offset: number }> {
    const state = this.hashes.get(row.id);
    if (state && state.offset === row.received) return state;
    await this.disk.truncateUpload(row.id, row.received);
    const fresh = { hash: await this.disk.hashUpload(row.id, row.received), offset: row.received };
    this.hashes.set(row.id, fresh);
    return fresh;
  }

  /**
   * Writes a chunk at `offset` (which must be where the upload stands). The bytes stream to the
   * upload's file; what arrived before a broken connection is kept, so the client resumes from
   * `received`. A full disk ends the upload (its file removed) with 507.
   */
  async writeChunk(actor: Actor, id: string, offset: number, body: AsyncIterable<Buffer | string> | Iterable<Buffer | string>): Promise<Upload> {
    const caller = await this.callerOf(actor);
    const row = await this.ownUpload(caller, id, false);
    const unlock = this.lock(id);
    try {
      if (!Number.isSafeInteger(offset) || offset !== row.received) {
        throw new KeisanError('CONFLICT', `upload ${id} stands at byte ${row.received} of ${row.size}, not ${offset}: send the next chunk from byte ${row.received}`, { received: row.received, size: row.size });
      }
      const state = await this.hashAt(row);
      const result = await this.disk.writeUpload(id, offset, body, row.size, state.hash);
      state.offset += result.written;
      const now = this.now();
      if (result.written > 0) await store.setReceived(this.k, id, state.offset, now, new Date(now.getTime() + this.uploadExpiryMs));
      if (result.error instanceof DiskFullError) {
        await this.discardUpload({ ...row, received: state.offset });
        throw this.pressure('enospc', row.size - offset, row.path);
      }
      if (result.error instanceof UploadOverflow) {
        throw invalidInput(`upload ${id} is of ${row.size} bytes and this chunk goes past the end: bytes up to ${state.offset} were kept; send only the rest`);
      }
      if (result.error) throw result.error;
      return this.uploadView({ ...row, received: state.offset, updated_at: iso(now) });
    } finally {
      unlock();
    }
  }

  /** Cancels an upload: its bytes and session go (the owner, or an operator). */
  async cancelUpload(actor: Actor, id: string): Promise<void> {
    const row = await this.ownUpload(await this.callerOf(actor), id, true);
    const unlock = this.lock(id);
    try {
      await this.discardUpload(row);
    } finally {
      unlock();
    }
  }

  private async discardUpload(row: store.UploadRow): Promise<void> {
    await store.deleteUpload(this.k, row.id);
    await this.disk.removeUpload(row.id);
    this.hashes.delete(row.id);
    this.disk.reservedBytes = Math.max(0, this.disk.reservedBytes - row.size);
    // A new file whose only upload this was: its invisible row goes too.
    const file = await store.byId(this.k, row.file_id);
    if (file && file.kind === store.FILE && file.generation === 0 && (await store.uploadsFor(this.k, file.id)).length === 0) {
      await this.k.deleteFrom('fs_entries').where('id', '=', file.id).where('generation', '=', 0).execute();
    }
  }

  /**
   * Makes the upload the file's new generation: checks that every byte arrived and the SHA-256
   * (if the client gives one), fsyncs and renames the bytes into place, then — only if nobody
   * committed another generation since this upload began — makes it visible in one transaction.
   * The loser of a race gets 409 and its bytes are dropped; nothing half-written is ever seen.
   */
  async commitUpload(actor: Actor, id: string, input: CommitUploadInput = {}): Promise<FsEntry> {
    const caller = await this.callerOf(actor);
    const row = await this.ownUpload(caller, id, false);
    const unlock = this.lock(id);
    try {
      if (row.received < row.size) {
        throw new KeisanError('CONFLICT', `upload ${id} is incomplete: ${row.received} of ${row.size} bytes arrived; send the rest from byte ${row.received}, then commit`, {
          received: row.received,
          size: row.size,
        });
      }
      const digest = (await this.hashAt(row)).hash.copy().digest('hex');
      const expected = input.sha256 ?? row.sha256;
      if (expected && expected !== digest) {
        await this.discardUpload(row);
        throw conflict(`the bytes received for ${row.path} have SHA-256 ${digest}, not ${expected} as the client computed: they were corrupted on the way. The upload was dropped; put the file again`);
      }
      const before = await store.byId(this.k, row.file_id);
      if (!before || before.kind !== store.FILE) {
        await this.discardUpload(row);
        throw conflict(`${row.path} was removed while you uploaded it; nothing was written`);
      }
      const path = joinParts((await store.namesTo(this.k, row.file_id)) ?? []);
      if (before.generation !== row.base_generation) {
        await this.discardUpload(row);
        throw this.lostRace(path, before);
      }
      await this.guardWrite({ path, fileId: before.id, size: row.size, replacesBytes: before.generation > 0 ? before.size : 0, family: before.family, classOfService: before.class_of_service, user: caller.user });
      try {
        await this.disk.truncateUpload(id, row.size);
        await this.disk.promoteUpload(id, row.file_id, row.generation);
      } catch (error) {
        if (isErrno(error, 'ENOSPC') || isErrno(error, 'EDQUOT')) {
          await this.discardUpload(row);
          throw this.pressure('enospc', row.size, path);
        }
        throw error;
      }
      const now = this.now();
      const won = await this.transaction(async (tx) => {
        const ok = await store.commitGeneration(tx, row.file_id, row.base_generation, { generation: row.generation, size: row.size, sha256: digest, writer: caller.user, at: now });
        if (!ok) return false;
        await store.obsoleteCopies(tx, [row.file_id], now, row.generation);
        await store.deleteUpload(tx, id);
        if (row.base_generation === 0 && before.parent_id !== null) await store.touchDirectory(tx, before.parent_id, now);
        return true;
      });
      if (!won) {
        await this.disk.remove(row.file_id, row.generation);
        await this.discardUpload(row);
        throw this.lostRace(path, (await store.byId(this.k, row.file_id)) ?? before);
      }
      this.hashes.delete(id);
      this.disk.reservedBytes = Math.max(0, this.disk.reservedBytes - row.size);
      this.disk.usedBytes += row.size;
      if (before.generation > 0 && (before.disk_state === 'complete' || before.disk_state === 'staging')) {
        await this.disk.remove(before.id, before.generation);
        this.disk.usedBytes = Math.max(0, this.disk.usedBytes - before.size);
      }
      const after = (await store.byId(this.k, row.file_id))!;
      return this.entryOf(after, path, this.permsOn(caller, after));
    } finally {
      unlock();
    }
  }

  private lostRace(path: string, current: store.EntryRow): KeisanError {
    return new KeisanError(
      'CONFLICT',
      current.generation > 0
        ? `someone else wrote ${path} first (generation ${current.generation} by ${current.writer ?? 'unknown'} at ${current.modified_at}): your upload was not applied. Look at the new version, then put again if yours should replace it`
        : `${path} changed while you uploaded it: your upload was not applied; put again`,
      { generation: current.generation, writer: current.writer },
    );
  }

  // ================================================================ reading (get, cat)

  /**
   * Opens a file for reading, whole or a byte range. Bytes on the disk tier stream from there
   * (the disk copy is leased, so purge leaves it alone while it is read); archive-only bytes come
   * through the stager, or 409 when none is set.
   */
  /** What a read of `path` (and `range`) would give, checked like a read, without opening anything (HEAD). */
  async describeRead(actor: Actor, pathText: unknown, range: ByteRange | null = null): Promise<Omit<OpenedFile, 'stream'>> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, pathText);
    const { row } = await this.existing(caller, [], path);
    const { perms, start, end } = this.readable(caller, row, path, range);
    return { entry: this.entryOf(row, path.text, perms), start, end, size: row.size, partial: range !== null };
  }

  /** Read permission and the byte range of a read; 416 for a range past the end. */
  private readable(caller: Caller, row: store.EntryRow, path: NormalPath, range: ByteRange | null): { perms: number; start: number; end: number } {
    if (row.kind === store.DIRECTORY) throw invalidInput(`${path.text} is a directory: list it with keisan fs ls`);
    const perms = this.require(caller, [], { acl: storedAcl(row.acl), owner: row.owner_name, group: row.group_name }, R, 'read', path.text);
    const size = row.size;
    let start = 0;
    let end = size - 1;
    if (range) {
      if ('suffix' in range) start = Math.max(0, size - range.suffix);
      else {
        start = range.start;
        end = range.end === undefined ? size - 1 : Math.min(range.end, size - 1);
      }
      if (start >= size || end < start) {
        throw new KeisanError('RANGE_NOT_SATISFIABLE', `${path.text} has ${size} bytes: the range asked for starts past its end`, { size });
      }
    }
    return { perms, start, end };
  }

  async openRead(actor: Actor, pathText: unknown, range: ByteRange | null = null): Promise<OpenedFile> {
    const caller = await this.callerOf(actor);
    const path = this.pathOf(caller, pathText);
    for (let attempt = 0; ; attempt++) {
      const { row } = await this.existing(caller, [], path);
      const { perms, start, end } = this.readable(caller, row, path, range);
      const size = row.size;
      const now = this.now();
      const entry = this.entryOf({ ...row, accessed_at: iso(now) }, path.text, perms);
      if (row.disk_state === 'complete') {
        // The lease and the access time in one commit: a durable commit (an fsync) is most of
        // the time to the first byte of a file on disk.
        const lease = await this.transaction(async (tx) => {
          const id = await store.addLease(tx, row.id, row.generation, 'read', caller.user, now, new Date(now.getTime() + LEASE_MS));
          await store.touchAccessed(tx, row.id, now);
          return id;
        });
        let stream: Readable;
        try {
          stream = await this.disk.openRead(row.id, row.generation, start, end);
        } catch (error) {
          await store.dropLease(this.k, lease);
          // Overwritten or purged between the lookup and the open: look again.
          if (isErrno(error, 'ENOENT') && attempt < 3) continue;
          throw error;
        }
        this.holdLease(lease, stream);
        return { entry, stream, start, end, size, partial: range !== null };
      }
      if (!this.stager) {
        throw conflict(
          `${path.text} is archive-only: its bytes are in the archive, not on the disk tier, and staging is not configured on this server (no stager): ask an operator`,
        );
      }
      const stream = await this.stager.stage({ file: store.toFileRecord(row), path: path.text, range: { start, end }, user: caller.user });
      await store.touchAccessed(this.k, row.id, now);
      return { entry, stream, start, end, size, partial: range !== null };
    }
  }

  /** Keeps a read lease alive while `stream` is open, and drops it when the stream closes. */
  private holdLease(lease: number, stream: Readable): void {
    this.openLeases.add(lease);
    const renew = setInterval(() => {
      const now = this.now();
      void store.renewLease(this.k, lease, new Date(now.getTime() + LEASE_MS)).catch(() => undefined);
    }, LEASE_RENEW_MS);
    renew.unref();
    stream.once('close', () => {
      clearInterval(renew);
      this.openLeases.delete(lease);
      void store.dropLease(this.k, lease).catch(() => undefined);
    });
  }

  // ================================================================ the HSM's interface

  /** The stager serving reads of archive-only files (null: such reads get 409). */
  setStager(stager: Stager | null): void {
    this.stager = stager;
  }

  /** A check every upload passes at its start and at its commit (family quotas). */
  setWriteGuard(guard: WriteGuard | null): void {
    this.writeGuard = guard;
  }

  /** Class of service and family for workgroup and subgroup directories created from now on. */
  setAreaPolicy(policy: AreaPolicy | null): void {
    this.areaPolicy = policy;
    this.knownAreas.clear();
  }

  /** Called whenever the disk tier refuses bytes (capacity or ENOSPC); returns the unsubscribe function. */
  onDiskPressure(listener: (event: DiskPressure) => void): () => void {
    this.pressureListeners.add(listener);
    return () => this.pressureListeners.delete(listener);
  }

  async diskUsage(): Promise<DiskUsage> {
    return {
      usedBytes: this.disk.usedBytes,
      reservedBytes: this.disk.reservedBytes,
      capacityBytes: this.disk.capacityBytes,
      filesystemFreeBytes: await this.disk.filesystemFree(),
    };
  }

  /** Committed files by state, in id order (keyset paging with `afterId`). */
  async findFiles(filter: store.FileFilter): Promise<FileRecord[]> {
    return (await store.findFiles(this.k, filter)).map(store.toFileRecord);
  }

  async fileById(id: number): Promise<FileRecord | undefined> {
    const row = await store.byId(this.k, id);
    return row && row.kind === store.FILE && row.generation > 0 ? store.toFileRecord(row) : undefined;
  }

  /** The path of an entry by id; undefined when it is gone. */
  async pathById(id: number): Promise<string | undefined> {
    const names = await store.namesTo(this.k, id);
    return names === undefined ? undefined : joinParts(names);
  }

  /** The file at a path (for the HSM's own requests by path; no ACL check: the caller decides). */
  async fileAt(pathText: string): Promise<FileRecord | undefined> {
    const path = normalizePath(pathText);
    let parentId = (await this.rootNode()).id;
    let row: store.EntryRow | undefined;
    for (const part of path.parts) {
      row = await store.child(this.k, parentId, part);
      if (!row) return undefined;
      parentId = row.id;
    }
    return row && row.kind === store.FILE && row.generation > 0 ? store.toFileRecord(row) : undefined;
  }

  /** Which of these files are open (a live read or stage lease) now. */
  async openFiles(fileIds: readonly number[]): Promise<Set<number>> {
    return store.leasedFiles(this.k, fileIds, this.now());
  }

  /** The live archive copies of these files' current generations. */
  async copiesOf(fileIds: readonly number[]): Promise<CopyRecord[]> {
    return (await store.currentCopies(this.k, fileIds)).map(store.toCopyRecord);
  }

  async copiesOnVolume(volume: string, includeObsolete = false): Promise<CopyRecord[]> {
    return (await store.copiesOnVolume(this.k, volume, includeObsolete)).map(store.toCopyRecord);
  }

  /**
   * Records an archive copy of generation `generation` of a file. If the file changed or went
   * meanwhile the copy is recorded as obsolete (so the HSM removes it from its volume) and
   * `current` is false.
   */
  async recordCopy(fileId: number, generation: number, copyNo: number, location: ArchiveLocation): Promise<{ copyId: number; current: boolean }> {
    return this.transaction(async (tx) => {
      const row = await store.byId(tx, fileId);
      const current = row !== undefined && row.generation === generation;
      const copyId = await store.insertCopy(tx, fileId, generation, copyNo, location, this.now(), !current);
      return { copyId, current };
    });
  }

  /** Every copy of generation `generation` exists: the file is no longer dirty. False if the file changed meanwhile. */
  async markMigrated(fileId: number, generation: number): Promise<boolean> {
    const result = await this.k
      .updateTable('fs_entries')
      .set({ dirty: 0, migrated_at: iso(this.now()) })
      .where('id', '=', fileId)
      .where('generation', '=', generation)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** A copy was lost or found bad: the file needs migrating again. */
  async markDirty(fileId: number, generation: number): Promise<boolean> {
    const result = await this.k.updateTable('fs_entries').set({ dirty: 1 }).where('id', '=', fileId).where('generation', '=', generation).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Copies to remove from their volumes (files overwritten or removed), by volume and position. */
  async obsoleteCopies(limit = 1000, volume?: string): Promise<CopyRecord[]> {
    return (await store.obsoleteCopyRows(this.k, limit, volume)).map(store.toCopyRecord);
  }

  /** Forgets a copy (after the backend removed it, or repack rewrote it). */
  async forgetCopy(copyId: number): Promise<void> {
    await store.deleteCopy(this.k, copyId);
  }

  async markCopyVerified(copyId: number, at: Date = this.now()): Promise<void> {
    await this.k.updateTable('fs_copies').set({ verified_at: iso(at) }).where('id', '=', copyId).execute();
  }

  /** Repack: points a copy at its new place, atomically. */
  async relocateCopy(copyId: number, location: ArchiveLocation): Promise<void> {
    await this.k
      .updateTable('fs_copies')
      .set({ backend: location.backend, volume: location.volume, entry: location.entry, position: location.position, length: location.length, sha256: location.sha256 })
      .where('id', '=', copyId)
      .execute();
  }

  /** Opens a file's disk copy for the HSM (migration, verification), leased like a read. */
  async openDiskCopy(fileId: number, generation: number): Promise<Readable> {
    const row = await store.byId(this.k, fileId);
    if (!row || row.generation !== generation || row.disk_state !== 'complete') throw conflict(`file ${fileId} generation ${generation} has no complete disk copy`);
    const now = this.now();
    const lease = await store.addLease(this.k, fileId, generation, 'hsm', 'hsm', now, new Date(now.getTime() + LEASE_MS));
    try {
      const stream = await this.disk.openRead(fileId, generation, 0, row.size - 1);
      this.holdLease(lease, stream);
      return stream;
    } catch (error) {
      await store.dropLease(this.k, lease);
      throw error;
    }
  }

  /**
   * Purge: drops the disk copy of a file if — checked in one transaction — it is still that
   * generation, complete on disk, not dirty, not pinned, not open and not being staged.
   */
  async purgeDiskCopy(fileId: number, generation: number): Promise<PurgeResult> {
    const now = this.now();
    const outcome = await this.transaction(async (tx): Promise<PurgeResult> => {
      const row = await store.byId(tx, fileId);
      if (!row) return { purged: false, reason: 'gone' };
      if (row.generation !== generation) return { purged: false, reason: 'changed' };
      if (row.disk_state === 'staging') return { purged: false, reason: 'staging' };
      if (row.disk_state !== 'complete') return { purged: false, reason: 'not-on-disk' };
      if (row.dirty) return { purged: false, reason: 'dirty' };
      if (row.pinned_until !== null && row.pinned_until > iso(now)) return { purged: false, reason: 'pinned' };
      if ((await store.leasedFiles(tx, [fileId], now)).size > 0) return { purged: false, reason: 'open' };
      const result = await tx
        .updateTable('fs_entries')
        .set({ disk_state: 'none' })
        .where('id', '=', fileId)
        .where('generation', '=', generation)
        .where('disk_state', '=', 'complete')
        .where('dirty', '=', 0)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1 ? { purged: true, bytes: row.size } : { purged: false, reason: 'changed' };
    });
    if (outcome.purged) {
      await this.disk.remove(fileId, generation);
      this.disk.usedBytes = Math.max(0, this.disk.usedBytes - outcome.bytes);
    }
    return outcome;
  }

  /** Keeps a file's disk copy until `until` (extends, never shortens, an existing pin). */
  async pin(fileId: number, until: Date): Promise<void> {
    const row = await store.byId(this.k, fileId);
    if (!row) throw notFound('file', fileId);
    if (row.pinned_until !== null && row.pinned_until >= iso(until)) return;
    await this.k.updateTable('fs_entries').set({ pinned_until: iso(until) }).where('id', '=', fileId).execute();
  }

  async unpin(fileId: number): Promise<void> {
    await this.k.updateTable('fs_entries').set({ pinned_until: null }).where('id', '=', fileId).execute();
  }

  /**
   * Starts bringing an archive-only generation back to the disk tier: marks it `staging`,
   * promises its bytes (507 when they do not fit), and opens its disk file for writing. Readers
   * may follow the file as it grows (the stager tells them how far it is).
   */
  async beginStaging(fileId: number, generation: number): Promise<{ path: string; handle: FileHandle }> {
    const row = await store.byId(this.k, fileId);
    if (!row || row.generation !== generation) throw conflict(`file ${fileId} is not at generation ${generation} any more`);
    if (row.disk_state !== 'none') throw conflict(`file ${fileId} is ${row.disk_state === 'complete' ? 'on disk already' : 'being staged already'}`);
    if (!this.disk.fits(row.size)) throw this.pressure('capacity', row.size, (await this.pathById(fileId)) ?? `file ${fileId}`);
    const result = await this.k
      .updateTable('fs_entries')
      .set({ disk_state: 'staging' })
      .where('id', '=', fileId)
      .where('generation', '=', generation)
      .where('disk_state', '=', 'none')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw conflict(`file ${fileId} changed while its stage began`);
    this.disk.reservedBytes += row.size;
    try {
      return await this.disk.openStaging(fileId, generation);
    } catch (error) {
      await this.abortStaging(fileId, generation);
      throw error;
    }
  }

  /** The stage wrote every byte and `sha256` matches the file's: the disk copy is complete. */
  async finishStaging(fileId: number, generation: number, sha256: string): Promise<void> {
    const row = await store.byId(this.k, fileId);
    if (!row || row.generation !== generation || row.disk_state !== 'staging') {
      await this.disk.remove(fileId, generation);
      if (row?.disk_state === 'staging') this.disk.reservedBytes = Math.max(0, this.disk.reservedBytes - row.size);
      throw conflict(`file ${fileId} changed or went while it was staged; the staged bytes were dropped`);
    }
    if (row.sha256 !== null && row.sha256 !== sha256) {
      await this.abortStaging(fileId, generation);
      throw conflict(`the staged bytes of file ${fileId} have SHA-256 ${sha256}, not ${row.sha256}: the archive copy is bad`);
    }
    await this.disk.syncGeneration(fileId, generation);
    const result = await this.k
      .updateTable('fs_entries')
      .set({ disk_state: 'complete' })
      .where('id', '=', fileId)
      .where('generation', '=', generation)
      .where('disk_state', '=', 'staging')
      .executeTakeFirst();
    this.disk.reservedBytes = Math.max(0, this.disk.reservedBytes - row.size);
    if (Number(result.numUpdatedRows) === 1) this.disk.usedBytes += row.size;
    else await this.disk.remove(fileId, generation);
  }

  /** A stage failed: its partial bytes go, the file is archive-only again. */
  async abortStaging(fileId: number, generation: number): Promise<void> {
    const row = await store.byId(this.k, fileId);
    const result = await this.k
      .updateTable('fs_entries')
      .set({ disk_state: 'none' })
      .where('id', '=', fileId)
      .where('generation', '=', generation)
      .where('disk_state', '=', 'staging')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1 && row) this.disk.reservedBytes = Math.max(0, this.disk.reservedBytes - row.size);
    await this.disk.remove(fileId, generation);
  }
}
