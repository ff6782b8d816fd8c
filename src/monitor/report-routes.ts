import { z } from 'zod';
import type { ServerContext } from '../server/context.ts';
import { errorResponse, type ZodApp } from '../server/types.ts';
import { agentReportSchema } from './model.ts';

/** The agents' side of monitoring: they push samples and check results here with the node secret. */
export function registerReportRoutes(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/api/monitor/report',
    {
      config: { public: true },
      bodyLimit: 32 * 1024 * 1024,
      schema: {
        tags: ['monitor'],
        summary: 'An agent reports metric samples and health-check results (Authorization: Node <secret>)',
        security: [{ node: [] }],
        body: agentReportSchema,
        response: { 200: z.object({ accepted: z.number().int(), intervalSeconds: z.number() }), 400: errorResponse, 401: errorResponse },
      },
    },
    async (request) => {
      ctx.daemons.verifyNodeSecret(request.headers.authorization);
      ctx.monitor.ingest(request.body, ctx.clock.now().getTime());
      return { accepted: request.body.samples.length + request.body.checks.length, intervalSeconds: ctx.settings.monitor.interval / 1000 };
    },
  );
}
