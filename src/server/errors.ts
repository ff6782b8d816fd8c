import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { HTTP_STATUS_BY_CODE, KeisanError, type ErrorCode } from '../lib/errors.ts';

/** The body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** Answers an unknown page address (a browser's deep link into the web UI), or returns undefined for the JSON 404. */
export type PageFallback = (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;

/**
 * The one place where errors become HTTP responses: KeisanError by its code, Fastify's own
 * client errors (bad JSON, wrong content type, body too large, failed validation) as 4xx with
 * a readable message, and anything unexpected as a 500 whose stack goes to the log, never
 * to the client.
 */
export function installErrorHandling(app: FastifyInstance, options: { pageFallback?: PageFallback } = {}): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = toErrorBody(error, request);
    const status = HTTP_STATUS_BY_CODE[body.error.code];
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.error.code, message: body.error.message }, 'request refused');
    if (body.error.code === 'RATE_LIMITED' && typeof body.error.details?.retryAfterSeconds === 'number') {
      void reply.header('retry-after', String(body.error.details.retryAfterSeconds));
    }
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="keisan"');
    return sendError(reply, status, body);
  });

  app.setNotFoundHandler((request, reply) =>
    options.pageFallback?.(request, reply) ??
    sendError(reply, 404, {
      error: {
        code: 'NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}: see /api/openapi.json for the API`,
      },
    }),
  );
}

/**
 * Errors Fastify meets before routing, which never reach the error handler: a URL with a broken
 * %-escape (FST_ERR_BAD_URL) or a path segment over maxParamLength. Without this they get
 * Fastify's own body instead of `{ error: { code, message } }`. Pass as `frameworkErrors`.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0] ?? '';
  const shown = path.length > 120 ? `${path.slice(0, 120)}…` : path;
  const body: ErrorBody =
    error.code === 'FST_ERR_BAD_URL'
      ? { error: { code: 'INVALID_INPUT', message: `the URL ${shown} has an invalid %-escape: encode names with encodeURIComponent` } }
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? { error: { code: 'INVALID_INPUT', message: `a part of the URL ${shown} is too long: names have at most 32 characters` } }
        : { error: { code: 'INTERNAL', message: `the server failed on ${request.method} ${shown}; the cause is in the server log (request ${request.id})` } };
  const status = HTTP_STATUS_BY_CODE[body.error.code];
  if (status >= 500) request.log.error({ err: error }, 'request failed before routing');
  else request.log.info({ code: body.error.code, message: body.error.message }, 'request refused');
  return sendError(reply, status, body);
}

function sendError(reply: FastifyReply, status: number, body: ErrorBody) {
  return reply.status(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

function toErrorBody(error: FastifyError, request: FastifyRequest): ErrorBody {
  if (error instanceof KeisanError) {
    return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'request';
    const problems = error.validation.map((issue) => {
      const field = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
      return field ? `${field}: ${issue.message}` : issue.message;
    });
    return { error: { code: 'INVALID_INPUT', message: `invalid ${where}: ${problems.join('; ')}` } };
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { error: { code: 'INVALID_INPUT', message: `the request body is not valid JSON: ${error.message}` } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the request body as application/json' } };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { error: { code: 'INVALID_INPUT', message: 'the request body does not match its Content-Length header' } };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { error: { code: 'PAYLOAD_TOO_LARGE', message: 'the request body is larger than the server accepts (server.bodyLimit)' } };
  }
  if (error instanceof SyntaxError || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)) {
    return { error: { code: 'INVALID_INPUT', message: error.message } };
  }
  return {
    error: {
      code: 'INTERNAL',
      message: `the server failed on ${request.method} ${request.url.split('?')[0]}; the cause is in the server log (request ${request.id})`,
    },
  };
}
