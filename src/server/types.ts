import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** The Fastify instance route modules register on: zod schemas give typed requests. */
export type ZodApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression<RawServerDefault>,
  RawReplyDefaultExpression<RawServerDefault>,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export const errorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
});

/** Error responses every authenticated route may give, for the OpenAPI document. */
export const commonErrors = {
  400: errorResponse.describe('bad input: the message says which field and why'),
  401: errorResponse.describe('no ticket, or an expired or revoked one'),
  403: errorResponse.describe('not allowed for your role'),
  404: errorResponse.describe('no such object'),
  409: errorResponse.describe('conflicts with what exists'),
} as const;
