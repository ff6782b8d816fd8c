import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, type ZodApp } from '../../server/types.ts';
import { planSchema, powerStatusSchema } from './model.ts';

/** /api/ops/power (the UPS, the outage, what happens when) and /api/ops/power/plan (the dry run), for operators. */
export function registerPowerRoutes(app: ZodApp, ctx: ServerContext): void {
  const tags = ['power'];
  app.get(
    '/api/ops/power',
    { schema: { tags, summary: 'The UPS as upsd reports it, how long it has been on battery, and what the power monitor will do when (operators)', response: { 200: powerStatusSchema, ...commonErrors } } },
    async (request) => ctx.power.status(authOf(request).actor),
  );
  app.get(
    '/api/ops/power/plan',
    { schema: { tags, summary: 'The ordered shutdown plan for what runs now, as a dry run: nothing is done (operators; 409 without power monitoring)', response: { 200: planSchema, ...commonErrors } } },
    async (request) => ctx.power.plan(authOf(request).actor),
  );
}
