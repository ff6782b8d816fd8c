import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { invalidInput, KeisanError } from '../lib/errors.ts';
import { authOf } from '../server/auth.ts';
import type { ServerContext } from '../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../server/types.ts';
import {
  aclViewSchema,
  commitUploadInput,
  createUploadInput,
  fsEntrySchema,
  listingSchema,
  mkdirInput,
  moveInput,
  removedSchema,
  setAclInput,
  uploadSchema,
  usageSchema,
} from './model.ts';
import type { ByteRange, OpenedFile } from './service.ts';

const pathQuery = z.object({ path: z.string({ error: 'give the path as ?path=/workgroup/subgroup/…' }).min(1, 'path must not be empty').max(8192) }).strict();
const flag = z.enum(['true', 'false', '1', '0'], { error: 'use true or false' }).transform((v) => v === 'true' || v === '1');
const uploadId = z.object({ id: z.string().min(1).max(64) }).strict();
const ok = z.object({ ok: z.literal(true) });
/** A download whose client has taken no bytes for this long is ended. */
const STALLED_READER_MS = 10 * 60_000;
const storageErrors = {
  ...commonErrors,
  507: errorResponse.describe('the disk tier is full: nothing was written'),
} as const;

/**
 * `Range: bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX` (one range); null without the
 * header. Anything else is refused with a message rather than silently ignored.
 */
export function parseRangeHeader(header: string | undefined): ByteRange | null {
  if (header === undefined) return null;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match || (match[1] === '' && match[2] === '')) {
    if (/^\s*bytes\s*=.*,/.test(header)) throw invalidInput('only one byte range per request: ask for the ranges one by one');
    throw invalidInput(`Range '${header.slice(0, 80)}' is not understood: write bytes=START-END, bytes=START- or bytes=-LAST`);
  }
  const [start, end] = [match[1]!, match[2]!];
  if (start === '') return { suffix: Number(end) };
  const range: ByteRange = end === '' ? { start: Number(start) } : { start: Number(start), end: Number(end) };
  if ('end' in range && range.end! < range.start) throw invalidInput(`Range '${header}': the end comes before the start`);
  if (!Number.isSafeInteger(range.start) || ('end' in range && !Number.isSafeInteger(range.end))) throw invalidInput(`Range '${header}' is out of range`);
  return range;
}

export function registerStorageRoutes(app: ZodApp, ctx: ServerContext): void {
  const { storage } = ctx;
  const tags = ['storage'];

  // In their own scope: upload chunks arrive as application/octet-stream and are streamed to the
  // disk tier, never buffered (server.bodyLimit does not apply to them).
  void app.register(async (scope) => {
    const fs = scope.withTypeProvider<ZodTypeProvider>();
    fs.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

    // ------------------------------------------------------------ namespace
    fs.get(
      '/api/fs/entries',
      { schema: { tags, summary: 'Stat a path: type, owner, group, size, SHA-256, times, where its bytes are, your permissions', querystring: pathQuery, response: { 200: fsEntrySchema, ...commonErrors } } },
      async (request) => storage.stat(authOf(request).actor, request.query.path),
    );
    fs.get(
      '/api/fs/children',
      {
        schema: {
          tags,
          summary: 'List a directory (needs r), by name, in pages',
          querystring: z
            .object({
              path: pathQuery.shape.path,
              after: z.string().max(1024).optional().describe('the last name of the previous page'),
              limit: z.coerce.number({ error: 'limit must be a number' }).int().min(1, 'limit must be at least 1').max(10_000, 'limit is at most 10000').optional(),
            })
            .strict(),
          response: { 200: listingSchema, ...commonErrors },
        },
      },
      async (request) => storage.list(authOf(request).actor, request.query.path, { ...(request.query.after !== undefined ? { after: request.query.after } : {}), ...(request.query.limit !== undefined ? { limit: request.query.limit } : {}) }),
    );
    fs.post(
      '/api/fs/directories',
      { schema: { tags, summary: 'Create a directory (needs i on its parent); parents: true creates missing parents', body: mkdirInput, response: { 201: fsEntrySchema, ...commonErrors } } },
      async (request, reply) => reply.code(201).send(await storage.mkdir(authOf(request).actor, request.body)),
    );
    fs.delete(
      '/api/fs/entries',
      {
        schema: {
          tags,
          summary: 'Remove a file or an empty directory (needs d on its parent); recursive=true removes a whole tree',
          querystring: z.object({ path: pathQuery.shape.path, recursive: flag.optional() }).strict(),
          response: { 200: removedSchema, ...commonErrors },
        },
      },
      async (request) => storage.remove(authOf(request).actor, request.query.path, { recursive: request.query.recursive ?? false }),
    );
    fs.post(
      '/api/fs/moves',
      { schema: { tags, summary: 'Move or rename (d on the old directory, i on the new one); onto a directory moves into it; never replaces', body: moveInput, response: { 200: fsEntrySchema, ...commonErrors } } },
      async (request) => storage.move(authOf(request).actor, request.body),
    );
    fs.get(
      '/api/fs/usage',
      { schema: { tags, summary: 'Files and bytes under a path (du); directories you may not list are named, not counted', querystring: pathQuery, response: { 200: usageSchema, ...commonErrors } } },
      async (request) => storage.usage(authOf(request).actor, request.query.path),
    );

    // ------------------------------------------------------------ ACLs
    fs.get(
      '/api/fs/acl',
      { schema: { tags, summary: 'The ACL of a path (and a directory\'s initial ACLs for new files and subdirectories)', querystring: pathQuery, response: { 200: aclViewSchema, ...commonErrors } } },
      async (request) => storage.getAcl(authOf(request).actor, request.query.path),
    );
    fs.put(
      '/api/fs/acl',
      {
        schema: {
          tags,
          summary: 'Change an ACL (needs c; owners always have it): the whole text, or entries to add and remove; which = object, initial-file or initial-dir',
          body: setAclInput,
          response: { 200: aclViewSchema, ...commonErrors },
        },
      },
      async (request) => storage.setAcl(authOf(request).actor, request.body),
    );

    // ------------------------------------------------------------ uploads
    fs.post(
      '/api/fs/uploads',
      {
        schema: {
          tags,
          summary: 'Start a resumable upload of SIZE bytes to a path; then PUT chunks, then commit',
          body: createUploadInput,
          response: { 201: uploadSchema, ...storageErrors },
        },
      },
      async (request, reply) => reply.code(201).send(await storage.createUpload(authOf(request).actor, request.body)),
    );
    fs.get(
      '/api/fs/uploads',
      {
        schema: {
          tags,
          summary: 'Your uploads in progress (to one path with ?path=): resume them from `received`',
          querystring: z.object({ path: pathQuery.shape.path.optional(), all: flag.optional().describe('operators: everyone\'s') }).strict(),
          response: { 200: z.array(uploadSchema), ...commonErrors },
        },
      },
      async (request) => storage.listUploads(authOf(request).actor, request.query.path, request.query.all ?? false),
    );
    fs.get(
      '/api/fs/uploads/:id',
      { schema: { tags, summary: 'Where an upload stands', params: uploadId, response: { 200: uploadSchema, ...commonErrors } } },
      async (request) => storage.getUpload(authOf(request).actor, request.params.id),
    );
    fs.put(
      '/api/fs/uploads/:id',
      {
        schema: {
          tags,
          summary: 'Send a chunk (application/octet-stream) at ?offset= (must equal `received`); streamed to the disk tier; a broken connection keeps what arrived',
          params: uploadId,
          querystring: z.object({ offset: z.coerce.number({ error: 'offset must be a number of bytes' }).int().min(0) }).strict(),
          response: { 200: uploadSchema, ...storageErrors },
        },
      },
      async (request) => {
        const body = (request.body ?? []) as Readable | never[];
        if (!Array.isArray(body) && typeof (body as Readable)[Symbol.asyncIterator] !== 'function') {
          throw new KeisanError('UNSUPPORTED_MEDIA_TYPE', 'send upload chunks as application/octet-stream');
        }
        return storage.writeChunk(authOf(request).actor, request.params.id, request.query.offset, body as AsyncIterable<Buffer>);
      },
    );
    fs.post(
      '/api/fs/uploads/:id/commit',
      {
        schema: {
          tags,
          summary: 'Finish an upload: checks size and SHA-256, then makes it the new generation atomically; 409 if someone else wrote the file first',
          params: uploadId,
          body: commitUploadInput.nullish(),
          response: { 200: fsEntrySchema, ...storageErrors },
        },
      },
      async (request) => storage.commitUpload(authOf(request).actor, request.params.id, request.body ?? {}),
    );
    fs.delete(
      '/api/fs/uploads/:id',
      { schema: { tags, summary: 'Cancel an upload: its bytes go', params: uploadId, response: { 200: ok, ...commonErrors } } },
      async (request) => {
        await storage.cancelUpload(authOf(request).actor, request.params.id);
        return { ok: true as const };
      },
    );

    // ------------------------------------------------------------ reading
    const contentHeaders = (reply: FastifyReply, read: Omit<OpenedFile, 'stream'>) => {
      const { entry, start, end, size, partial } = read;
      void reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(Math.max(0, end - start + 1)))
        .header('accept-ranges', 'bytes')
        .header('etag', `"${entry.sha256 ?? 'none'}.${entry.generation}"`)
        .header('x-keisan-size', String(size))
        .header('x-keisan-generation', String(entry.generation))
        .header('x-keisan-sha256', entry.sha256 ?? '');
      if (partial) void reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
    };
    const rangeRefused = (reply: FastifyReply, error: unknown) => {
      if (error instanceof KeisanError && error.code === 'RANGE_NOT_SATISFIABLE') void reply.header('content-range', `bytes */${String(error.details?.size ?? '*')}`);
      return error;
    };
    // HEAD: the headers a GET would give, without opening the file.
    fs.head(
      '/api/fs/content',
      { schema: { hide: true, querystring: pathQuery } },
      async (request, reply) => {
        const range = parseRangeHeader(typeof request.headers.range === 'string' ? request.headers.range : undefined);
        try {
          contentHeaders(reply, await storage.describeRead(authOf(request).actor, request.query.path, range));
        } catch (error) {
          throw rangeRefused(reply, error);
        }
        return reply.send();
      },
    );
    fs.get(
      '/api/fs/content',
      {
        exposeHeadRoute: false,
        schema: {
          tags,
          summary: "A file's bytes (needs r), streamed; Range: bytes=START-END gives 206 with Content-Range. Archive-only files are staged, or 409 when staging is not configured",
          querystring: pathQuery,
          response: {
            200: z.unknown().describe('the bytes (application/octet-stream)'),
            206: z.unknown().describe('the bytes of the range asked for (Content-Range says which)'),
            416: errorResponse.describe('the range starts past the end of the file'),
            ...commonErrors,
          },
        },
      },
      async (request, reply) => {
        const range = parseRangeHeader(typeof request.headers.range === 'string' ? request.headers.range : undefined);
        let opened: OpenedFile;
        try {
          opened = await storage.openRead(authOf(request).actor, request.query.path, range);
        } catch (error) {
          throw rangeRefused(reply, error);
        }
        contentHeaders(reply, opened);
        // A reader that takes nothing for this long is cut off: its lease would keep the file on disk.
        reply.raw.setTimeout(STALLED_READER_MS, () => reply.raw.destroy());
        return reply.send(opened.stream);
      },
    );
  });
}
