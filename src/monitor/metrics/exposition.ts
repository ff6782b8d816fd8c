import { Registry, type Metric } from 'prom-client';
import type { Sample } from '../model.ts';
import { METRICS } from './names.ts';

interface MetricValues {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  values: Array<{ labels: Record<string, string>; value: number }>;
  aggregator: 'sum';
}

/**
 * A prom-client registry over samples: one metric family per known name (names.ts), its values
 * taken from `source()` at each scrape, formatted by prom-client. A family without samples (no
 * GPUs, no PSI) prints only its HELP and TYPE — no made-up zero. Samples of names not in
 * names.ts are left out (the report to the server carries them all).
 */
export function samplesRegistry(source: () => Promise<Sample[]>): Registry {
  const registry = new Registry();
  let current: Promise<Map<string, Sample[]>> | null = null;
  // Every family's get() runs in the same scrape: they share one call of source().
  const byName = () => {
    if (!current) {
      const pending = source().then((samples) => {
        const map = new Map<string, Sample[]>();
        for (const s of samples) {
          const list = map.get(s.name);
          if (list) list.push(s);
          else map.set(s.name, [s]);
        }
        return map;
      });
      current = pending;
      pending.then(
        () => setImmediate(() => (current = null)),
        () => (current = null),
      );
    }
    return current;
  };
  for (const [name, def] of Object.entries(METRICS)) {
    const family = {
      name,
      help: def.help,
      type: def.type,
      aggregator: 'sum' as const,
      labelNames: def.labels,
      reset() {},
      async get(): Promise<MetricValues> {
        const samples = (await byName()).get(name) ?? [];
        return { name, help: def.help, type: def.type, aggregator: 'sum', values: samples.map((s) => ({ labels: s.labels, value: s.value })) };
      },
    };
    // prom-client formats any object with name/help/type and get(); the typings want its own classes.
    registry.registerMetric(family as unknown as Metric);
  }
  return registry;
}
