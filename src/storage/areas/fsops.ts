import { spawn } from 'node:child_process';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, opendir, rmdir, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { KeisanError } from '../../lib/errors.ts';
import { formatMode, modeOf, namedUsers, parseGetfacl, setfaclSpec, type DirSpec } from './layout.ts';

/**
 * The areas on disk: directories made and checked through file descriptors, ACLs set and read
 * with setfacl/getfacl (Debian `acl`) on `/proc/self/fd/N`. Users own and write inside these
 * trees while the server acts as root, so no path inside them is ever resolved twice: each
 * directory is opened with O_NOFOLLOW relative to its parent's descriptor, and the tools get
 * the descriptor, not the name. A symbolic link planted where an area or a file should be is
 * never followed.
 */

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
/** Linux O_PATH (not exported by node:fs): a handle that names a file without opening it for I/O. */
const O_PATH = 0o10000000;
const TOOL_TIMEOUT_MS = 60_000;
/** Descriptors handed to one setfacl run. */
const FD_BATCH = 100;
const OUTPUT_LIMIT = 1 << 20;

const fdPath = (fd: number) => `/proc/self/fd/${fd}`;
const at = (dirFd: number, name: string) => `${fdPath(dirFd)}/${name}`;

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Why the areas cannot be provisioned at all (tool missing, no ACLs on this filesystem): stops a sync. */
export class AreasUnavailable extends KeisanError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}

const TOOL_MISSING = (tool: string) =>
  new AreasUnavailable(
    `${tool} is not installed on the server: install the Debian package acl (apt-get install acl; npm run deps does it), ` +
      'or turn user areas off with storage.areas.enabled: false',
  );

/** The filesystem type of `dir` as stat(1) names it (ext2/ext3, xfs, nfs, tmpfs…), or `unknown`. */
export async function filesystemType(dir: string): Promise<string> {
  try {
    return (await runTool('stat', ['-f', '-c', '%T', dir], [], 10_000)).trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Runs setfacl, getfacl or stat with an argument array (no shell), the given descriptors as
 * fds 3, 4, … of the child, a time limit, and errors that say what to do.
 */
export function runTool(tool: 'setfacl' | 'getfacl' | 'stat', args: string[], fds: number[], timeoutMs = TOOL_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe', ...fds], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(errnoOf(error) === 'ENOENT' ? TOOL_MISSING(tool) : error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(stdout);
      if (timedOut) return reject(new Error(`${tool} ${args.join(' ')} took more than ${Math.round(timeoutMs / 1000)} s and was stopped`));
      const message = stderr.trim().split('\n').slice(0, 3).join('; ') || `exit ${code ?? signal}`;
      if (/Operation not supported/i.test(stderr)) return reject(new AclsNotSupported(message));
      reject(new Error(`${tool} failed: ${message}`));
    });
  });
}

/** setfacl's "Operation not supported": the filesystem (or its mount options) has no POSIX ACLs. */
export class AclsNotSupported extends Error {}

export async function aclsUnsupported(root: string, detail: string): Promise<AreasUnavailable> {
  const type = await filesystemType(root);
  return new AreasUnavailable(
    `the filesystem of ${root} (${type}) does not support POSIX ACLs (${detail}): user areas need ext4, XFS, Btrfs, ` +
      'tmpfs, NFSv3 with ACL support, Lustre or CephFS mounted with ACLs on (e.g. mount -o acl); NFSv4 exports only NFSv4 ACLs, ' +
      'which setfacl cannot set. Choose another storage.areas.root or turn user areas off (storage.areas.enabled: false).',
  );
}

/** Opens a directory by absolute path (the configured root: trusted) without following a final symlink. */
export function openDirectory(dir: string): Promise<FileHandle> {
  return open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

/** Opens `name` inside the directory `dirFd`, never following a symlink there. */
function openDirectoryAt(dirFd: number, name: string): Promise<FileHandle> {
  return open(at(dirFd, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

export async function readAcl(fd: number): Promise<{ access: string[]; defaults: string[] }> {
  return parseGetfacl(await runTool('getfacl', ['--numeric', '--omit-header', '--no-effective', '--absolute-names', fdPath(3)], [fd]));
}

/**
 * Checks that the filesystem under `root` (an existing directory) takes named ACL entries: a
 * scratch directory gets one and is removed. Throws AreasUnavailable saying which filesystem
 * and what to do.
 */
export async function probeAcls(root: string): Promise<void> {
  const probe = path.join(root, `.keisan-acl-probe-${process.pid}`);
  await rmdir(probe).catch(() => undefined);
  await mkdir(probe, { mode: 0o700 });
  try {
    await runTool('setfacl', ['--modify', 'user:65534:r-x,default:user:65534:r-x', probe], []);
  } catch (error) {
    if (error instanceof AclsNotSupported) throw await aclsUnsupported(root, error.message);
    throw error;
  } finally {
    await rmdir(probe).catch(() => undefined);
  }
}

export interface DirOutcome {
  path: string;
  created: boolean;
  /** What was corrected: `mode 0755 → 0711`, `ACL …`, `owner 1001 → 1002`. Empty when it was right. */
  fixed: string[];
  /** Why it was left alone (then nothing of it was changed). */
  problem?: string;
  /** Named users of the ACL before and after (libraries: whose rights changed below it). */
  namedBefore: number[];
  namedAfter: number[];
}

const aclText = (access: readonly string[], defaults: readonly string[] | null) =>
  [...access, ...(defaults ?? []).map((e) => `default:${e}`)].join(',');

/**
 * Makes one directory match its spec: creates it (inside its parent, opened by descriptor),
 * then owner, group, mode and ACLs, each compared first and verified after. Never removes
 * anything; an existing directory owned by someone unexpected is reported and left alone.
 */
export async function ensureDir(parentFd: number | null, spec: DirSpec): Promise<DirOutcome> {
  const name = path.basename(spec.path);
  const outcome: DirOutcome = { path: spec.path, created: false, fixed: [], namedBefore: [], namedAfter: [] };
  const target = parentFd === null ? spec.path : at(parentFd, name);
  const wantMode = modeOf(spec.access, spec.setgid);
  try {
    // The root may need its parents (e.g. /srv/keisan); inside it, one level at a time.
    if (parentFd === null) outcome.created = (await mkdir(target, { mode: 0o755, recursive: true })) !== undefined;
    else await mkdir(target, { mode: 0o700 });
    if (parentFd !== null) outcome.created = true;
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw error;
  }
  let handle: FileHandle;
  try {
    handle = parentFd === null ? await openDirectory(spec.path) : await openDirectoryAt(parentFd, name);
  } catch (error) {
    const code = errnoOf(error);
    if (code !== 'ELOOP' && code !== 'ENOTDIR') throw error;
    const isLink = await lstat(target).then((s) => s.isSymbolicLink(), () => false);
    return { ...outcome, problem: `is a ${isLink ? 'symbolic link' : 'file'}, not a directory: left alone (move it away, then run keisan admin areas sync)` };
  }
  try {
    let stats = await handle.stat();
    if (stats.uid !== spec.uid) {
      if (!outcome.created && spec.ownerMismatch === 'report') {
        return { ...outcome, problem: `is owned by uid ${stats.uid}, not ${spec.uid}: left alone, since it may hold someone else's files (an operator decides: chown it, or move it away)` };
      }
    }
    if (stats.gid !== spec.gid && !outcome.created && spec.groupMismatch === 'report') {
      return { ...outcome, problem: `belongs to gid ${stats.gid}, not ${spec.gid}: left alone, since it may hold another group's files (an operator decides: chgrp it, or move it away)` };
    }
    if (stats.uid !== spec.uid || stats.gid !== spec.gid) {
      await handle.chown(spec.uid, spec.gid);
      if (stats.uid !== spec.uid) outcome.fixed.push(`owner ${stats.uid} → ${spec.uid}`);
      if (stats.gid !== spec.gid) outcome.fixed.push(`group ${stats.gid} → ${spec.gid}`);
      stats = await handle.stat();
    }
    if ((stats.mode & 0o7777) !== wantMode) {
      await handle.chmod(wantMode);
      outcome.fixed.push(`mode ${formatMode(stats.mode & 0o7777)} → ${formatMode(wantMode)}`);
    }
    // A directory just made gets its ACL set without reading it first (one process less).
    const before = outcome.created ? { access: [], defaults: ['(unknown)'] } : await readAcl(handle.fd);
    outcome.namedBefore = namedUsers(before.access);
    const wantDefaults = spec.defaults ?? [];
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((e, i) => e === b[i]);
    if (!same(before.access, spec.access) || !same(before.defaults, wantDefaults)) {
      const args = [...(spec.defaults === null && before.defaults.length > 0 ? ['--remove-default'] : []), `--set=${setfaclSpec(spec.access, spec.defaults)}`, fdPath(3)];
      try {
        await runTool('setfacl', args, [handle.fd]);
      } catch (error) {
        if (error instanceof AclsNotSupported) throw await aclsUnsupported(spec.path, error.message);
        throw error;
      }
      outcome.fixed.push(`ACL ${aclText(before.access, before.defaults) || '(none)'} → ${aclText(spec.access, spec.defaults)}`);
    }
    // Verified, not assumed: a filesystem that silently drops entries or bits shows up here.
    // (When nothing was changed, what was just read is what there is.)
    const after = outcome.fixed.length === 0 ? before : await readAcl(handle.fd);
    const finalStats = await handle.stat();
    outcome.namedAfter = namedUsers(after.access);
    if (!same(after.access, spec.access) || !same(after.defaults, wantDefaults) || (finalStats.mode & 0o7777) !== wantMode || finalStats.uid !== spec.uid || finalStats.gid !== spec.gid) {
      return {
        ...outcome,
        problem:
          `did not take its settings: mode ${formatMode(finalStats.mode & 0o7777)} (wanted ${formatMode(wantMode)}), ` +
          `owner ${finalStats.uid}:${finalStats.gid} (wanted ${spec.uid}:${spec.gid}), ACL ${aclText(after.access, after.defaults)} (wanted ${aclText(spec.access, spec.defaults)})`,
      };
    }
    if (outcome.created) outcome.fixed = [];
    return outcome;
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------- walking a tree safely

export interface WalkOptions {
  /** Stop (and say so) at this time, in ms since the epoch. */
  deadline: number;
  /** Give the event loop a turn after this many entries. */
  yieldEvery?: number;
  /** Directories deeper than this are not entered (and the walk counts as incomplete). */
  maxDepth?: number;
  now?: () => number;
}

export interface WalkResult {
  complete: boolean;
  /** Why not complete: `time limit`, `too deep`, `unreadable entries`. */
  incomplete: string[];
  entries: number;
}

export interface WalkEntry {
  /** The directory holding it, open; valid during the visit only. */
  dirFd: number;
  name: string;
  stats: Stats;
}

/**
 * Visits every entry below the directory `rootFd`, depth first, without following symlinks and
 * without leaving its filesystem: each directory is entered through its parent's descriptor,
 * so renaming or replacing directories during the walk cannot lead it elsewhere.
 */
export async function walkTree(rootFd: number, visit: (entry: WalkEntry) => Promise<void> | void, options: WalkOptions): Promise<WalkResult> {
  const now = options.now ?? Date.now;
  const yieldEvery = options.yieldEvery ?? 256;
  const maxDepth = options.maxDepth ?? 256;
  const rootDev = (await stat(fdPath(rootFd))).dev;
  const result: WalkResult = { complete: true, incomplete: [], entries: 0 };
  const note = (why: string) => {
    result.complete = false;
    if (!result.incomplete.includes(why)) result.incomplete.push(why);
  };
  let stopped = false;

  const walkDir = async (dirFd: number, depth: number): Promise<void> => {
    const dir = await opendir(fdPath(dirFd), { bufferSize: 128 });
    try {
      for await (const dirent of dir) {
        if (++result.entries % yieldEvery === 0) await yieldToEventLoop();
        if (now() > options.deadline) {
          note('time limit');
          stopped = true;
          return;
        }
        let stats: Stats;
        try {
          stats = await lstat(at(dirFd, dirent.name));
        } catch (error) {
          if (errnoOf(error) !== 'ENOENT') note('unreadable entries');
          continue;
        }
        await visit({ dirFd, name: dirent.name, stats });
        if (!stats.isDirectory() || stats.dev !== rootDev) continue;
        if (depth >= maxDepth) {
          note('too deep');
          continue;
        }
        let child: FileHandle;
        try {
          child = await openDirectoryAt(dirFd, dirent.name);
        } catch (error) {
          if (errnoOf(error) !== 'ENOENT') note('unreadable entries');
          continue;
        }
        try {
          const opened = await child.stat();
          // Replaced between lstat and open: not the directory we looked at, so not entered.
          if (opened.ino !== stats.ino || opened.dev !== stats.dev) continue;
          await walkDir(child.fd, depth + 1);
        } finally {
          await child.close();
        }
        if (stopped) return;
      }
    } catch (error) {
      if (errnoOf(error) === 'EACCES' || errnoOf(error) === 'ENOENT') {
        note('unreadable entries');
        return;
      }
      throw error;
    } finally {
      await dir.close().catch(() => undefined);
    }
  };
  await walkDir(rootFd, 1);
  return result;
}

export interface TreeAclChange {
  /** uids to give rwx on directories (and default entries) and rwX on files. */
  grant: number[];
  /** uids whose named entries (and default entries) are removed everywhere. */
  revoke: number[];
}

/**
 * Applies named-user grants and revocations to everything below a library (its top directory
 * is done by ensureDir): directories and regular files only, each opened O_PATH|O_NOFOLLOW and
 * handed to setfacl by descriptor in batches. Returns how many entries were changed.
 */
export async function applyTreeAcl(topFd: number, change: TreeAclChange, options: WalkOptions): Promise<WalkResult & { changed: number }> {
  if (change.grant.length === 0 && change.revoke.length === 0) return { complete: true, incomplete: [], entries: 0, changed: 0 };
  const dirArgs: string[] = [];
  const fileArgs: string[] = [];
  if (change.revoke.length) {
    dirArgs.push(`--remove=${change.revoke.flatMap((uid) => [`user:${uid}`, `default:user:${uid}`]).join(',')}`);
    fileArgs.push(`--remove=${change.revoke.map((uid) => `user:${uid}`).join(',')}`);
  }
  if (change.grant.length) {
    dirArgs.push(`--modify=${change.grant.flatMap((uid) => [`user:${uid}:rwx`, `default:user:${uid}:rwx`]).join(',')}`);
    fileArgs.push(`--modify=${change.grant.map((uid) => `user:${uid}:rwX`).join(',')}`);
  }
  const batches: Record<'dir' | 'file', FileHandle[]> = { dir: [], file: [] };
  let changed = 0;
  const flush = async (kind: 'dir' | 'file') => {
    const handles = batches[kind];
    if (handles.length === 0) return;
    batches[kind] = [];
    try {
      const args = [...(kind === 'dir' ? dirArgs : fileArgs), ...handles.map((_, i) => fdPath(3 + i))];
      await runTool('setfacl', args, handles.map((h) => h.fd), TOOL_TIMEOUT_MS);
      changed += handles.length;
    } finally {
      await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
    }
  };
  try {
    const walked = await walkTree(
      topFd,
      async ({ dirFd, name, stats }) => {
        const kind = stats.isDirectory() ? 'dir' : stats.isFile() ? 'file' : null;
        if (!kind) return;
        let handle: FileHandle;
        try {
          handle = await open(at(dirFd, name), O_PATH | O_NOFOLLOW);
        } catch {
          return;
        }
        const opened = await handle.stat().catch(() => undefined);
        if (!opened || opened.ino !== stats.ino || opened.dev !== stats.dev) {
          await handle.close();
          return;
        }
        batches[kind].push(handle);
        if (batches[kind].length >= FD_BATCH) await flush(kind);
      },
      options,
    );
    await flush('dir');
    await flush('file');
    return { ...walked, changed };
  } finally {
    await Promise.all([...batches.dir, ...batches.file].map((h) => h.close().catch(() => undefined)));
  }
}

// ---------------------------------------------------------------- usage

export interface MeasuredUsage {
  bytes: number;
  files: number;
  complete: boolean;
  incomplete: string[];
}

/**
 * Sums the apparent sizes (as `ls -l` shows them) of everything below `dir` except directories,
 * with lstat: symlinks count as themselves, hard links once, other filesystems not at all.
 */
export async function measureTree(dir: string, options: WalkOptions): Promise<MeasuredUsage> {
  const handle = await openDirectory(dir);
  try {
    let bytes = 0;
    let files = 0;
    const seen = new Set<string>();
    const walked = await walkTree(
      handle.fd,
      ({ stats }) => {
        if (stats.isDirectory()) return;
        if (stats.nlink > 1) {
          const key = `${stats.dev}:${stats.ino}`;
          if (seen.has(key)) return;
          if (seen.size < 1_000_000) seen.add(key);
        }
        files++;
        bytes += stats.size;
      },
      options,
    );
    return { bytes, files, complete: walked.complete, incomplete: walked.incomplete };
  } finally {
    await handle.close();
  }
}

/** Names of the subdirectories of `dir` (not hidden ones), for finding areas nobody owns any more. */
export async function listSubdirectories(dir: string): Promise<string[]> {
  let handle: FileHandle;
  try {
    handle = await openDirectory(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR' || errnoOf(error) === 'ELOOP') return [];
    throw error;
  }
  try {
    const names: string[] = [];
    const listing = await opendir(fdPath(handle.fd));
    for await (const dirent of listing) {
      if (!dirent.name.startsWith('.') && dirent.isDirectory()) names.push(dirent.name);
      if (names.length >= 100_000) break;
    }
    return names.sort();
  } finally {
    await handle.close();
  }
}

