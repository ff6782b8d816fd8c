import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { z } from 'zod';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import { invalidInput, KeisanError } from '../../lib/errors.ts';
import { formatDuration, parseDuration } from '../../lib/units.ts';
import { authOf } from '../../server/auth.ts';
import type { ServerContext } from '../../server/context.ts';
import { commonErrors, type ZodApp } from '../../server/types.ts';
import type { LabelMatcher } from '../model.ts';
import { downsample, isCounter, nodeSummarySchema, seriesSummarySchema, summarizeNode, summarizeSeries } from './summary.ts';

/** At most this many points per series in one answer. */
export const MAX_POINTS = 500;
/** At most this many series in one answer (the rest are counted in `truncated`). */
export const MAX_SERIES = 2000;
/** Left out when no names are asked for: one series per CPU and mode, rarely wanted whole. */
const NOT_BY_DEFAULT = new Set(['node_cpu_seconds_total']);

const metricsQuery = z
  .object({
    since: z.string().max(50).default('1h').describe('how far back: a duration like 15m, 1h, 6h (at most monitor.history)'),
    names: z.string().max(4000).optional().describe('comma-separated metric names (default: all but node_cpu_seconds_total)'),
  })
  .strict();

const seriesOut = z.object({
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  /** [milliseconds since the epoch, value], oldest first, at most 500. */
  points: z.array(z.tuple([z.number(), z.number()])),
  summary: seriesSummarySchema,
});
const metricsOut = z.object({
  host: z.string(),
  from: z.string(),
  to: z.string(),
  series: z.array(seriesOut),
  /** Series left out beyond the limit of 2000. */
  truncated: z.number().int(),
});

/**
 * Reading the nodes' metrics: any logged-in user may (researchers want "how many GPUs are
 * free"); nothing here is per-user data beyond job ids and user names, which `keisan jobs --all`
 * shows operators anyway and the queue shows everyone.
 */
export function registerMetricsRoutes(app: ZodApp, ctx: ServerContext): void {
  const tags = ['monitor'];

  app.get(
    '/api/monitor/nodes',
    { schema: { tags, summary: 'Every node whose agent reports: up or down, last report, and its key numbers (CPU, load, memory, swap, pressure, GPUs, jobs)', response: { 200: z.array(nodeSummarySchema), ...commonErrors } } },
    async (request) => {
      authOf(request);
      const now = ctx.clock.now().getTime();
      return ctx.monitor.hosts(now).map((state) => summarizeNode(ctx.monitor.reader, state, ctx.settings.monitor.history, now));
    },
  );

  app.get(
    '/api/monitor/nodes/:host/metrics',
    {
      schema: {
        tags,
        summary: "One node's recent series (at most 500 points each) with latest, min, max and average (of the rate for counters)",
        params: z.object({ host: z.string().max(255) }).strict(),
        querystring: metricsQuery,
        response: { 200: metricsOut, ...commonErrors },
      },
    },
    async (request) => {
      authOf(request);
      const { host } = request.params;
      const history = ctx.settings.monitor.history;
      let sinceMs: number;
      try {
        sinceMs = parseDuration(request.query.since);
      } catch {
        throw invalidInput(`since '${request.query.since}' is not a duration: write e.g. 15m, 1h or 6h (the server keeps ${formatDuration(history)})`);
      }
      if (sinceMs <= 0) throw invalidInput(`since '${request.query.since}' must be longer than zero: write e.g. 15m, 1h or 6h`);
      const now = ctx.clock.now().getTime();
      const known = ctx.monitor.hosts(now).map((h) => h.host);
      if (!known.includes(host)) {
        throw new KeisanError('NOT_FOUND', noSuchHost(host, known));
      }
      const from = now - Math.min(sinceMs, history);
      const matchers: LabelMatcher[] = [{ name: 'host', op: '=', value: host }];
      const asked = request.query.names
        ?.split(',')
        .map((n) => n.trim())
        .filter(Boolean);
      const names = asked && asked.length > 0 ? [...new Set(asked)] : ctx.monitor.reader.names().filter((n) => !NOT_BY_DEFAULT.has(n));
      const series: z.infer<typeof seriesOut>[] = [];
      let truncated = 0;
      for (const name of names) {
        for (const s of ctx.monitor.reader.select(name, matchers, from, now)) {
          if (series.length >= MAX_SERIES) {
            truncated++;
            continue;
          }
          const labels = { ...s.labels };
          delete labels.host;
          series.push({
            name,
            labels,
            points: downsample(s.points, MAX_POINTS, isCounter(name)).map((p) => [p.t, p.v] as [number, number]),
            summary: summarizeSeries(name, s.points),
          });
        }
      }
      return { host, from: new Date(from).toISOString(), to: new Date(now).toISOString(), series, truncated };
    },
  );

  // Prometheus scrapes the server too: its own process and a few facility numbers. Public, like
  // node_exporter — numbers, not secrets.
  let registry: Registry | null = null;
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    registry ??= serverRegistry(ctx);
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
}

function noSuchHost(host: string, known: string[]): string {
  return known.length > 0
    ? `no node '${host}' reports to this server: known nodes are ${known.join(', ')} (see keisan nodes)`
    : `no node '${host}' reports to this server: no agent has reported yet (start one with keisan agent, or keisan up)`;
}

/** The server's registry: Node.js process metrics prefixed keisan_server_, jobs by state, nodes up and down. */
function serverRegistry(ctx: ServerContext): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'keisan_server_' });
  new Gauge({
    name: 'keisan_jobs',
    help: 'Jobs waiting or running, by state.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const active = await ctx.batch.listJobs(SYSTEM_ACTOR, { all: true, states: ['pending', 'running'], limit: 1_000_000 });
      this.set({ state: 'pending' }, active.filter((j) => j.state === 'pending').length);
      this.set({ state: 'running' }, active.filter((j) => j.state === 'running').length);
    },
  });
  new Gauge({
    name: 'keisan_nodes',
    help: 'Nodes whose agent reports (up) or stopped reporting (down).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const hosts = ctx.monitor.hosts(ctx.clock.now().getTime());
      this.set({ state: 'up' }, hosts.filter((h) => h.up).length);
      this.set({ state: 'down' }, hosts.filter((h) => !h.up).length);
    },
  });
  return registry;
}
