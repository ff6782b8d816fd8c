import { spawnSync } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from '@commander-js/extra-typings';
import type { ApiClient } from '../cli/client.ts';
import { clientOf, examples, outputOf } from '../cli/context.ts';
import { formatTime, type Output } from '../cli/output.ts';
import { Progress } from '../cli/progress.ts';
import { readStdin } from '../cli/prompt.ts';
import { invalidInput, KeisanError } from '../lib/errors.ts';
import { formatDuration, formatSize, parseSize } from '../lib/units.ts';
import { DEFAULT_DIR_ACL, DEFAULT_FILE_ACL, formatAcl, parseAcl } from './acl.ts';
import { type AclTarget, type AclView, type FsEntry, type Listing, type Removed, type Upload, type Usage } from './model.ts';
import { t } from '../lib/i18n/index.ts';

/**
 * `keisan fs …`: the storage namespace from the command line. Thin: parse, call the API, print.
 * put and get stream (8 MiB chunks up, a stream down), resume, verify SHA-256 and show progress
 * on a terminal.
 */

const q = (p: string) => ({ path: p });

function typeChar(entry: FsEntry): string {
  return entry.type === 'directory' ? 'd' : '-';
}

function showEntry(out: Output, e: FsEntry): void {
  out.fields([
    [t('field.path'), e.path],
    [t('field.type'), e.type],
    [t('field.owner'), e.owner],
    [t('field.group'), e.group],
    [t('field.size'), e.type === 'file' ? `${e.size} (${formatSize(e.size)})` : null],
    [t('field.sha256'), e.sha256],
    [t('field.generation'), e.type === 'file' ? e.generation : null],
    [t('field.where'), e.type === 'file' ? e.locality : null],
    [t('field.class-of-service'), e.classOfService],
    [t('field.family'), e.family],
    [t('field.created'), formatTime(e.createdAt)],
    [t('field.modified'), formatTime(e.modifiedAt)],
    [t('field.accessed'), formatTime(e.accessedAt)],
    [t('field.changed'), formatTime(e.changedAt)],
    [t('field.migrated'), e.migratedAt ? formatTime(e.migratedAt) : null],
    [t('field.pinned-until'), e.pinnedUntil ? formatTime(e.pinnedUntil) : null],
    [t('field.your-permissions'), e.permissions],
  ]);
}

/** Every page of a listing. */
async function listAll(client: ApiClient, target: string): Promise<Listing> {
  const first = await client.request<Listing>('GET', '/api/fs/children', undefined, { ...q(target), limit: 10_000 });
  const entries = [...first.entries];
  let next = first.next;
  for (let page = 0; next !== null && page < 100_000; page++) {
    const more = await client.request<Listing>('GET', '/api/fs/children', undefined, { ...q(target), after: next, limit: 10_000 });
    entries.push(...more.entries);
    next = more.next;
  }
  return { path: first.path, entries, next: null };
}

// ------------------------------------------------------------------ byte ranges

/** `--range 0-1023`, `1000-`, `-500`, or `--offset N [--length L]` → an HTTP Range header. */
export function rangeHeader(options: { range?: string; offset?: string; length?: string }): string | undefined {
  if (options.range !== undefined && (options.offset !== undefined || options.length !== undefined)) {
    throw invalidInput(t('storage.input.give-either-range-or-offset'));
  }
  if (options.range !== undefined) {
    const match = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(options.range);
    if (!match || (match[1] === '' && match[2] === '')) throw invalidInput(t('storage.input.range-is-not-a-byte', { range: options.range }));
    if (match[1] !== '' && match[2] !== '' && Number(match[2]) < Number(match[1])) throw invalidInput(t('storage.input.range-the-end-comes-before', { range: options.range }));
    return `bytes=${match[1]}-${match[2]}`;
  }
  if (options.offset === undefined && options.length === undefined) return undefined;
  const offset = options.offset === undefined ? 0 : parseSize(options.offset);
  if (options.length === undefined) return `bytes=${offset}-`;
  const length = parseSize(options.length);
  if (length < 1) throw invalidInput(t('storage.input.length-must-be-at-least'));
  return `bytes=${offset}-${offset + length - 1}`;
}

/** A transform that counts bytes for the progress line and optionally hashes them. */
function meter(progress: Progress, hash: Hash | null): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      progress.add(chunk.length);
      hash?.update(chunk);
      callback(null, chunk);
    },
  });
}

// ------------------------------------------------------------------ put

/** Identifies a local file's version: a later `put` of the same unchanged file resumes its upload. */
export function uploadTag(absolute: string, size: number, mtimeMs: number): string {
  return `v1:${createHash('sha256').update(`${hostname()}\0${absolute}\0${size}\0${Math.round(mtimeMs)}`).digest('hex')}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface PutResult {
  entry: FsEntry;
  uploadId: string;
  resumedFrom: number;
  seconds: number;
  bytesPerSecond: number;
}

/**
 * Uploads a local file: finds this file's unfinished upload (same host, path, size and mtime)
 * and resumes it unless `fresh`; sends chunks from the server's offset; after a failed chunk
 * asks the server where it stands and goes on from there (up to 6 tries in a row, backing
 * off); commits with the SHA-256 computed while reading.
 */
async function putFile(client: ApiClient, local: string, remote: string, options: { chunk: number; fresh: boolean; overwrite: boolean; json: boolean }): Promise<PutResult> {
  const absolute = path.resolve(local);
  const info = await stat(absolute).catch(() => null);
  if (!info) throw invalidInput(t('storage.msg.no-local-file', { local }));
  if (!info.isFile()) throw invalidInput(t('storage.input.is-not-a-regular-file', { local }));
  const size = info.size;
  const tag = uploadTag(absolute, size, info.mtimeMs);
  const started = Date.now();

  let upload: Upload | undefined;
  const mine = (await client.request<Upload[]>('GET', '/api/fs/uploads', undefined, q(remote))).filter((u) => u.tag === tag && u.size === size);
  if (options.fresh) {
    for (const old of mine) await client.request('DELETE', `/api/fs/uploads/${encodeURIComponent(old.id)}`);
  } else {
    upload = mine.sort((a, b) => b.received - a.received)[0];
  }
  upload ??= await client.request<Upload>('POST', '/api/fs/uploads', { path: remote, size, tag, overwrite: options.overwrite });
  const id = upload.id;
  const resumedFrom = upload.received;

  const file = await open(absolute, 'r');
  // Two chunk buffers: the next chunk is read while the current one is on its way.
  const chunkBytes = Math.min(options.chunk, Math.max(size, 1));
  const buffers = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)];
  const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, 1024 * 1024));
  const hash = createHash('sha256');
  let hashed = 0;
  /** The local hash over [0, to): continued when possible, else recomputed. */
  const hashTo = async (to: number, chunk?: { offset: number; bytes: Buffer }) => {
    if (chunk && to >= chunk.offset && to <= chunk.offset + chunk.bytes.length && hashed === chunk.offset) {
      hash.update(chunk.bytes.subarray(0, to - chunk.offset));
      hashed = to;
      return;
    }
    if (to < hashed) throw new KeisanError('CONFLICT', `the server's copy of upload ${id} went back to byte ${to}: start again with --new`);
    for (let at = hashed; at < to; ) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, to - at), at);
      if (bytesRead === 0) throw invalidInput(t('storage.input.changed-while-it-was-sent', { local, size }));
      hash.update(buffer.subarray(0, bytesRead));
      at += bytesRead;
      hashed = at;
    }
  };
  const progress = Progress.for(`put ${path.basename(local)}`, size, { json: options.json }, resumedFrom);
  try {
    await hashTo(resumedFrom);
    let offset = resumedFrom;
    let failures = 0;
    const readChunk = async (into: Buffer, at: number): Promise<Buffer> => {
      const want = Math.min(into.length, size - at);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await file.read(into, got, want - got, at + got);
        if (bytesRead === 0) throw invalidInput(t('storage.input.changed-while-it-was-sent', { local, size }));
        got += bytesRead;
      }
      return into.subarray(0, want);
    };
    let which = 0;
    let current: Promise<Buffer> | null = offset < size ? readChunk(buffers[0]!, offset) : null;
    while (offset < size) {
      const bytes = await current!;
      const nextAt = offset + bytes.length;
      const next = nextAt < size ? readChunk(buffers[1 - which]!, nextAt) : null;
      // An unhandled rejection must not escape while the current chunk is sent.
      next?.catch(() => undefined);
      try {
        const after = await client.raw('PUT', `/api/fs/uploads/${encodeURIComponent(id)}`, {
          query: { offset },
          headers: { 'content-type': 'application/octet-stream' },
          body: bytes,
          signal: AbortSignal.timeout(10 * 60_000),
        });
        const state = (await after.json()) as Upload;
        await hashTo(state.received, { offset, bytes });
        offset = state.received;
        failures = 0;
      } catch (error) {
        // A full disk, a refusal, a vanished upload: no point in retrying.
        if (error instanceof KeisanError && !['UNAVAILABLE', 'INTERNAL', 'CONFLICT'].includes(error.code)) throw error;
        if (++failures > 6) throw error;
        if (error instanceof KeisanError && error.code !== 'CONFLICT') await sleep(Math.min(16_000, 500 * 2 ** failures));
        const state = await client.request<Upload>('GET', `/api/fs/uploads/${encodeURIComponent(id)}`).catch(() => null);
        if (!state) {
          // Try the same chunk again (once the read-ahead is done with the other buffer).
          await next?.catch(() => undefined);
          continue;
        }
        await hashTo(state.received, { offset, bytes });
        offset = state.received;
      }
      progress.set(offset);
      if (offset === nextAt) {
        current = next;
        which = 1 - which;
      } else {
        // A chunk only partly taken (or a retry): read again from where the server stands.
        await next?.catch(() => undefined);
        current = offset < size ? readChunk(buffers[which]!, offset) : null;
      }
    }
    await hashTo(size);
    const entry = await client.request<FsEntry>('POST', `/api/fs/uploads/${encodeURIComponent(id)}/commit`, { sha256: hash.digest('hex') });
    const seconds = (Date.now() - started) / 1000;
    return { entry, uploadId: id, resumedFrom, seconds, bytesPerSecond: (size - resumedFrom) / Math.max(seconds, 0.001) };
  } finally {
    progress.finish();
    await file.close();
  }
}

// ------------------------------------------------------------------ get

async function download(client: ApiClient, remote: string, range: string | undefined): Promise<Response> {
  return client.raw('GET', '/api/fs/content', { query: q(remote), ...(range ? { headers: { range } } : {}) });
}

function bodyOf(response: Response): Readable {
  if (!response.body) return Readable.from([]);
  return Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
}

// ------------------------------------------------------------------ ACL editing

/** Lines the user answers: one readline per question on a terminal, else piped stdin read once. */
class Answers {
  private piped: string[] | null = null;
  async ask(question: string): Promise<string> {
    if (process.stdin.isTTY) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    }
    process.stderr.write(question);
    this.piped ??= (await readStdin()).split(/\r?\n/);
    const answer = this.piped.shift();
    if (answer === undefined) throw invalidInput(t('storage.input.no-answer-on-standard-input'));
    process.stderr.write(`${answer}\n`);
    return answer;
  }
}

function whichOf(options: { initialFile?: boolean; initialDir?: boolean }): AclTarget {
  if (options.initialFile && options.initialDir) throw invalidInput(t('storage.input.give-initial-file-or-initial'));
  return options.initialFile ? 'initial-file' : options.initialDir ? 'initial-dir' : 'object';
}

function aclOf(view: AclView, which: AclTarget): string | null {
  return which === 'object' ? view.acl : which === 'initial-file' ? view.initialFile : view.initialDir;
}

const DEFAULT_INITIAL: Record<Exclude<AclTarget, 'object'>, string> = { 'initial-file': DEFAULT_FILE_ACL, 'initial-dir': DEFAULT_DIR_ACL };

function showAcl(out: Output, view: AclView): void {
  out.line(`# path: ${view.path}`);
  out.line(`# owner: ${view.owner}`);
  out.line(`# group: ${view.group}`);
  out.line(`# your permissions: ${view.permissions}`);
  out.line(formatAcl(parseAcl(view.acl), '\n'));
  if (view.type === 'directory') {
    out.line(`# initial ACL of new files (--initial-file)${view.initialFile === null ? ': the default' : ''}`);
    if (view.initialFile !== null) out.line(formatAcl(parseAcl(view.initialFile), '\n').replace(/^/gm, '# '));
    out.line(`# initial ACL of new directories (--initial-dir)${view.initialDir === null ? ': the default' : ''}`);
    if (view.initialDir !== null) out.line(formatAcl(parseAcl(view.initialDir), '\n').replace(/^/gm, '# '));
  }
}

const EDIT_HELP = `# One entry per line: TYPE:NAME:PERMISSIONS. TYPE is user, group, mask or other; NAME is empty
# for the owner (user::), the owning group (group::), mask:: and other::. Permissions are letters
# of rwxcid (read, write, execute/traverse, control, insert, delete), '-' for none.
# Lines starting with # are ignored. Save and quit to apply; an empty file changes nothing.`;

function runEditor(file: string): void {
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  const result = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'keisan-editor', file], { stdio: 'inherit' });
  if (result.error) throw new KeisanError('INVALID_INPUT', `cannot run the editor '${editor}' (${result.error.message}): set EDITOR`);
  if (result.status !== 0) throw new KeisanError('INVALID_INPUT', `the editor '${editor}' exited with ${result.status ?? result.signal}: the ACL was not changed`);
}

async function editAcl(client: ApiClient, out: Output, target: string, which: AclTarget): Promise<AclView | null> {
  const view = await client.request<AclView>('GET', '/api/fs/acl', undefined, q(target));
  if (which !== 'object' && view.type !== 'directory') throw invalidInput(t('storage.input.is-a-file-only-directories', { path: view.path }));
  const current = aclOf(view, which) ?? DEFAULT_INITIAL[which as Exclude<AclTarget, 'object'>];
  const label = which === 'object' ? 'ACL' : which === 'initial-file' ? 'initial ACL of new files' : 'initial ACL of new directories';
  const dir = await mkdtemp(path.join(tmpdir(), 'keisan-acl-'));
  const file = path.join(dir, 'acl.txt');
  const answers = new Answers();
  let text = `# ${label} of ${view.path} (owner ${view.owner}, group ${view.group})\n${EDIT_HELP}\n${formatAcl(parseAcl(current), '\n')}\n`;
  try {
    for (let round = 0; round < 100; round++) {
      await writeFile(file, text, { mode: 0o600 });
      runEditor(file);
      const edited = await readFile(file, 'utf8');
      const body = edited.replace(/#.*$/gm, '').trim();
      if (body === '') {
        out.done(t('storage.msg.the-file-was-empty-the'));
        return null;
      }
      try {
        const parsed = parseAcl(edited, label);
        if (formatAcl(parsed) === formatAcl(parseAcl(current))) {
          out.done(t('storage.msg.no-change'));
          return null;
        }
        return await client.request<AclView>('PUT', '/api/fs/acl', { path: view.path, which, acl: formatAcl(parsed) });
      } catch (error) {
        if (!(error instanceof KeisanError) || (error.code !== 'INVALID_INPUT' && error.code !== 'FORBIDDEN')) throw error;
        if (error.code === 'FORBIDDEN') throw error;
        process.stderr.write(`keisan: ${error.message}\n`);
        const answer = (await answers.ask('Edit again? [Y/n] ')).trim().toLowerCase();
        if (answer === 'n' || answer === 'no') throw invalidInput(t('storage.input.the-acl-was-not-changed'));
        text = `# error: ${error.message.replace(/\n/g, ' ')}\n${edited.replace(/^# error: .*\n/, '')}`;
      }
    }
    throw invalidInput(t('storage.input.too-many-attempts-the-acl'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ the commands

export function registerStorageCommands(program: Command): void {
  const fs = program
    .command('fs')
    .description(t('storage.fs'));

  fs.command('ls')
    .description(t('storage.fs.ls'))
    .argument('[paths...]', t('storage.fs.ls.arg.paths'))
    .option('-l, --long', t('storage.fs.ls.opt.long'))
    .option('-d, --directory', t('storage.fs.ls.opt.directory'))
    .addHelpText('after', examples('keisan fs ls', 'keisan fs ls -l /lab/lab-ml/run1', 'keisan fs ls --json /'))
    .action(async (paths, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const targets = paths.length ? paths : ['.'];
      const listings: Listing[] = [];
      for (const target of targets) {
        if (options.directory) {
          const entry = await client.request<FsEntry>('GET', '/api/fs/entries', undefined, q(target));
          listings.push({ path: entry.path, entries: [entry], next: null });
        } else listings.push(await listAll(client, target));
      }
      out.result(listings.length === 1 ? listings[0] : listings, () => {
        listings.forEach((listing, i) => {
          if (targets.length > 1) out.line(`${i ? '\n' : ''}${listing.path}:`);
          const named = (e: FsEntry) => (options.directory ? e.path : e.name) + (e.type === 'directory' && !options.directory ? '/' : '');
          if (!options.long) {
            for (const e of listing.entries) out.line(named(e));
            return;
          }
          out.table(
            [t('col.perms'), t('col.owner'), t('col.group'), t('col.size'), t('col.modified'), t('col.where'), t('col.name')],
            listing.entries.map((e) => [`${typeChar(e)}${e.permissions}`, e.owner, e.group, e.type === 'file' ? formatSize(e.size) : '-', formatTime(e.modifiedAt), e.type === 'file' ? e.locality : '-', named(e)]),
            '(empty)',
          );
        });
      });
    });

  fs.command('stat')
    .description(t('storage.fs.stat'))
    .argument('<path>', t('storage.fs.stat.arg.path'))
    .action(async (target, _options, command) => {
      const out = outputOf(command);
      const entry = await clientOf(command).request<FsEntry>('GET', '/api/fs/entries', undefined, q(target));
      out.result(entry, () => showEntry(out, entry));
    });

  fs.command('mkdir')
    .description(t('storage.fs.mkdir'))
    .argument('<paths...>', t('storage.fs.mkdir.arg.paths'))
    .option('-p, --parents', t('storage.fs.mkdir.opt.parents'))
    .action(async (paths, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const created: FsEntry[] = [];
      for (const target of paths) created.push(await client.request<FsEntry>('POST', '/api/fs/directories', { path: target, parents: options.parents === true }));
      out.result(created, () => created.forEach((e) => out.line(t('storage.msg.created', { path: e.path }))));
    });

  fs.command('rm')
    .description(t('storage.fs.rm'))
    .argument('<paths...>', t('storage.fs.rm.arg.paths'))
    .option('-r, --recursive', t('storage.fs.rm.opt.recursive'))
    .action(async (paths, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const removed: Removed[] = [];
      for (const target of paths) removed.push(await client.request<Removed>('DELETE', '/api/fs/entries', undefined, { ...q(target), recursive: options.recursive === true }));
      out.result(removed, () =>
        removed.forEach((r) => out.line(r.directories > 0 ? t('storage.msg.removed-tree', { path: r.path, files: r.files, directories: r.directories, size: formatSize(r.bytes) }) : t('storage.msg.removed', { path: r.path, size: formatSize(r.bytes) }))),
      );
    });

  fs.command('mv')
    .description(t('storage.fs.mv'))
    .argument('<from>', t('storage.fs.mv.arg.from'))
    .argument('<to>', t('storage.fs.mv.arg.to'))
    .action(async (from, to, _options, command) => {
      const out = outputOf(command);
      const moved = await clientOf(command).request<FsEntry>('POST', '/api/fs/moves', { from, to });
      out.result(moved, () => out.line(t('storage.msg.moved-to', { from, path: moved.path })));
    });

  fs.command('put')
    .description(t('storage.fs.put'))
    .argument('<local>', t('storage.fs.put.arg.local'))
    .argument('[remote]', t('storage.fs.put.arg.remote'))
    .option('-n, --no-clobber', t('storage.fs.put.opt.no-clobber'))
    .option('--new', t('storage.fs.put.opt.new'))
    .option('--chunk-size <size>', t('storage.fs.put.opt.chunk-size'), '8M')
    .addHelpText('after', examples('keisan fs put results.h5', 'keisan fs put results.h5 /lab/lab-ml/run1/', 'keisan fs put --json big.tar run1/big.tar'))
    .action(async (local, remote, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const chunk = parseSize(options.chunkSize);
      if (chunk < 64 * 1024 || chunk > 1024 * 1024 * 1024) throw invalidInput(t('storage.input.chunk-size-must-be-between'));
      let target = remote ?? path.basename(local);
      const into = target.endsWith('/') || (await client.request<FsEntry>('GET', '/api/fs/entries', undefined, q(target)).then((e) => e.type === 'directory', () => false));
      if (into) target = `${target.replace(/\/+$/, '')}/${path.basename(local)}`;
      const result = await putFile(client, local, target, { chunk, fresh: options.new === true, overwrite: options.clobber !== false, json: out.json });
      out.result(result, () => {
        const resumed = result.resumedFrom > 0 ? t('storage.msg.resumed-from', { size: formatSize(result.resumedFrom) }) : '';
        out.line(
          t('storage.msg.stored', {
            path: result.entry.path,
            size: formatSize(result.entry.size),
            generation: result.entry.generation,
            sha256: result.entry.sha256?.slice(0, 16),
            time: formatDuration(result.seconds * 1000),
            rate: formatSize(result.bytesPerSecond),
            resumed,
          }),
        );
      });
    });

  fs.command('get')
    .description(t('storage.fs.get'))
    .argument('<remote>', t('storage.fs.get.arg.remote'))
    .argument('[local]', t('storage.fs.get.arg.local'))
    .option('-f, --force', t('storage.fs.get.opt.force'))
    .option('--range <a-b>', t('storage.fs.get.opt.range'))
    .option('--offset <bytes>', t('storage.fs.get.opt.offset'))
    .option('--length <bytes>', t('storage.fs.get.opt.length'))
    .addHelpText('after', examples('keisan fs get /lab/lab-ml/run1/results.h5', 'keisan fs get run1/big.tar /scratch/big.tar --force', 'keisan fs get run1/log --range 0-1023 -'))
    .action(async (remote, localArg, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const range = rangeHeader(options);
      const local = localArg ?? path.basename(remote);
      if (local !== '-' && !options.force && (await stat(local).then(() => true, () => false))) throw invalidInput(t('storage.msg.local-exists', { local }));
      const started = Date.now();
      const response = await download(client, remote, range);
      const total = Number(response.headers.get('content-length') ?? NaN);
      const expected = response.headers.get('x-keisan-sha256');
      const whole = response.status === 200;
      const hash = whole && expected ? createHash('sha256') : null;
      const progress = Progress.for(`get ${path.basename(remote)}`, Number.isFinite(total) ? total : null, { json: out.json || local === '-' });
      let bytes = 0;
      const counted = new Transform({
        transform(chunk: Buffer, _e, callback) {
          bytes += chunk.length;
          callback(null, chunk);
        },
      });
      if (local === '-') {
        await pipeline(bodyOf(response), counted, meter(progress, hash), process.stdout, { end: false });
        return;
      }
      // Into a temporary name beside the target, renamed only when complete (and checked).
      const partial = `${local}.keisan-part-${process.pid}`;
      try {
        await pipeline(bodyOf(response), counted, meter(progress, hash), createWriteStream(partial, { mode: 0o644 }));
        if (hash && hash.digest('hex') !== expected) throw new KeisanError('CONFLICT', `the bytes received for ${remote} do not have the SHA-256 the server recorded (${expected}): nothing was written; try again`);
        await rename(partial, local);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      } finally {
        progress.finish();
      }
      const seconds = (Date.now() - started) / 1000;
      const result = { remote, local, bytes, range: range ?? null, sha256Verified: hash !== null, seconds, bytesPerSecond: bytes / Math.max(seconds, 0.001) };
      out.result(result, () =>
        out.line(
          t('storage.msg.wrote', {
            local,
            size: `${formatSize(bytes)}${range ? `, ${response.headers.get('content-range') ?? range}` : ''}`,
            time: formatDuration(seconds * 1000),
            rate: formatSize(result.bytesPerSecond),
            checked: hash ? t('storage.msg.sha256-checked') : '',
          }),
        ),
      );
    });

  fs.command('cat')
    .description(t('storage.fs.cat'))
    .argument('<paths...>', t('storage.fs.cat.arg.paths'))
    .option('--range <a-b>', t('storage.fs.cat.opt.range'))
    .option('--offset <bytes>', t('storage.fs.cat.opt.offset'))
    .option('--length <bytes>', t('storage.fs.cat.opt.length'))
    .action(async (paths, options, command) => {
      const client = clientOf(command);
      const range = rangeHeader(options);
      for (const target of paths) {
        const response = await download(client, target, range);
        await pipeline(bodyOf(response), process.stdout, { end: false });
      }
    });

  fs.command('du')
    .description(t('storage.fs.du'))
    .argument('[paths...]', t('storage.fs.du.arg.paths'))
    .action(async (paths, _options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const usages: Usage[] = [];
      for (const target of paths.length ? paths : ['.']) usages.push(await client.request<Usage>('GET', '/api/fs/usage', undefined, q(target)));
      out.result(usages.length === 1 ? usages[0] : usages, () => {
        out.table(
          [t('col.size'), t('col.files'), t('col.on-disk'), t('col.path')],
          usages.map((u) => [formatSize(u.bytes), u.files, formatSize(u.onDiskBytes), u.path]),
        );
        for (const u of usages) for (const skipped of u.unreadable) process.stderr.write(`keisan: skipped ${skipped}: you may not list it\n`);
      });
    });

  // ---------------------------------------------------------------- acl
  const acl = fs.command('acl').description(t('storage.fs.acl'));
  acl
    .command('get')
    .description(t('storage.acl.get'))
    .argument('<path>', t('storage.acl.get.arg.path'))
    .action(async (target, _options, command) => {
      const out = outputOf(command);
      const view = await clientOf(command).request<AclView>('GET', '/api/fs/acl', undefined, q(target));
      out.result(view, () => showAcl(out, view));
    });
  acl
    .command('set')
    .description(t('storage.acl.set'))
    .argument('<path>', t('storage.acl.set.arg.path'))
    .argument('[acl]', t('storage.acl.set.arg.acl'))
    .option('--add <entries>', t('storage.acl.set.opt.add'))
    .option('--remove <entries>', t('storage.acl.set.opt.remove'))
    .option('--initial-file', t('storage.acl.set.opt.initial-file'))
    .option('--initial-dir', t('storage.acl.set.opt.initial-dir'))
    .option('--default', t('storage.acl.set.opt.default'))
    .addHelpText(
      'after',
      examples(
        'keisan fs acl set run1 --add user:bob:r-x---',
        'keisan fs acl set run1 user::rwxcid,group::rwx-id,other::------',
        'keisan fs acl set run1 --initial-file --add group:lab-cv:r',
        'keisan fs acl get run1 | keisan fs acl set run2 -',
      ),
    )
    .action(async (target, text, options, command) => {
      const out = outputOf(command);
      const which = whichOf(options);
      if (options.default && which === 'object') throw invalidInput(t('storage.input.default-goes-with-initial-file'));
      const given = [text !== undefined || options.default, options.add !== undefined || options.remove !== undefined].filter(Boolean).length;
      if (given === 0) throw invalidInput(t('storage.input.give-the-acl-text-for'));
      if (given > 1) throw invalidInput(t('storage.input.give-either-the-whole-acl'));
      const body: Record<string, unknown> = { path: target, which };
      if (options.default) body.acl = null;
      else if (text !== undefined) {
        const raw = text === '-' ? await readStdin() : text;
        body.acl = formatAcl(parseAcl(raw));
      } else {
        if (options.add !== undefined) body.add = options.add;
        if (options.remove !== undefined) body.remove = options.remove;
      }
      const view = await clientOf(command).request<AclView>('PUT', '/api/fs/acl', body);
      out.result(view, () => showAcl(out, view));
    });
  acl
    .command('edit')
    .description(t('storage.acl.edit'))
    .argument('<path>', t('storage.acl.edit.arg.path'))
    .option('--initial-file', t('storage.acl.edit.opt.initial-file'))
    .option('--initial-dir', t('storage.acl.edit.opt.initial-dir'))
    .action(async (target, options, command) => {
      const out = outputOf(command);
      const view = await editAcl(clientOf(command), out, target, whichOf(options));
      if (view) out.result(view, () => showAcl(out, view));
    });
}

