import { z } from 'zod';
import { email } from '../accounts/model.ts';
import { invalidInput } from '../lib/errors.ts';
import { authOf } from '../server/auth.ts';
import type { ServerContext } from '../server/context.ts';
import { commonErrors, errorResponse, type ZodApp } from '../server/types.ts';
import { OUTBOX_STATES, outboxEntrySchema, type OutboxState } from './store.ts';

const mailTestResult = z.object({ to: z.string(), from: z.string(), server: z.string(), messageId: z.string(), response: z.string() });

export function registerMonitorRoutes(app: ZodApp, ctx: ServerContext): void {
  const { mail } = ctx;

  app.post(
    '/api/admin/mail/test',
    {
      schema: {
        tags: ['mail'],
        summary: 'Send a test message now, past the outbox, and return the SMTP server\'s answer (operators)',
        body: z.object({ to: email }).strict(),
        response: { 200: mailTestResult, ...commonErrors, 503: errorResponse.describe('the SMTP server could not be reached or refused the message: the message says why') },
      },
    },
    async (request) => mail.test(authOf(request).actor, request.body.to),
  );

  app.get(
    '/api/admin/mail/outbox',
    {
      schema: {
        tags: ['mail'],
        summary: 'Mail in the outbox, newest first: queued and failed by default (operators)',
        querystring: z
          .object({
            state: z.string().max(100).optional().describe(`comma-separated: ${OUTBOX_STATES.join(', ')}, or all (default queued,failed)`),
            limit: z.coerce.number().int().min(1).max(10_000).default(200),
          })
          .strict(),
        response: { 200: z.array(outboxEntrySchema), ...commonErrors },
      },
    },
    async (request) => {
      const raw = request.query.state?.trim() || 'queued,failed';
      const words = raw === 'all' ? [...OUTBOX_STATES] : raw.split(',').map((s) => s.trim());
      const bad = words.find((word) => !(OUTBOX_STATES as readonly string[]).includes(word));
      if (bad !== undefined) throw invalidInput(`'${bad}' is not an outbox state: write ${OUTBOX_STATES.join(', ')} (comma-separated) or all`);
      return mail.outbox(authOf(request).actor, words as OutboxState[], request.query.limit);
    },
  );
}
