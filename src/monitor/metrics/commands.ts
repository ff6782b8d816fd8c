import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { formatTime } from '../../cli/output.ts';
import { formatSize } from '../../lib/units.ts';
import type { NodeSummary, SeriesSummary } from './summary.ts';
import { t } from '../../lib/i18n/index.ts';

interface MetricsAnswer {
  host: string;
  from: string;
  to: string;
  series: Array<{ name: string; labels: Record<string, string>; points: Array<[number, number]>; summary: SeriesSummary }>;
  truncated: number;
}

const percent = (ratio: number | null) => (ratio === null ? '-' : `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`);
const size = (bytes: number | null) => (bytes === null ? '-' : formatSize(bytes));

/** "41%" of "3.1 GiB / 24 GiB"-like cells. */
function memoryCell(node: NodeSummary): string {
  if (node.memUsedBytes === null || node.memTotalBytes === null) return '-';
  return `${size(node.memUsedBytes)} / ${size(node.memTotalBytes)}`;
}

function gpuCell(node: NodeSummary): string {
  if (node.gpus === 0) return '-';
  return `${node.gpusFree}/${node.gpus} free, ${percent(node.gpuUtilization)}`;
}

/** A number as the summary table shows it: bytes for *_bytes, % for ratios, otherwise 4 significant digits. */
export function formatValue(name: string, kind: 'gauge' | 'rate', value: number | null): string {
  if (value === null) return '-';
  if (name.endsWith('_bytes') || name.endsWith('_bytes_total')) return kind === 'rate' ? `${formatSize(Math.round(value))}/s` : formatSize(value);
  if (name.endsWith('_ratio')) return percent(value);
  if (name.endsWith('_seconds_total') && kind === 'rate') return `${(value * 100).toFixed(1)}%`; // seconds per second: a share of time
  const text = Math.abs(value) >= 1e6 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(3) : String(Number(value.toPrecision(4)));
  return kind === 'rate' ? `${text}/s` : text;
}

const labelText = (labels: Record<string, string>) => {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${labels[k]}"`).join(',')}}`;
};

export function registerMetricsCommands(program: Command): void {
  program
    .command('nodes')
    .description(t('metrics.nodes'))
    .addHelpText('after', examples('keisan nodes', 'keisan nodes --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const nodes = await clientOf(command).request<NodeSummary[]>('GET', '/api/monitor/nodes');
      out.result(nodes, () =>
        out.table(
          [t('col.node'), t('col.state'), t('col.last-report'), t('col.cpus'), t('col.cpu-busy'), t('col.load1'), t('col.memory-used'), t('col.swap-used'), t('col.pressure-cpu-mem-io'), t('col.gpus'), t('col.jobs')],
          nodes.map((n) => [
            n.host,
            n.up ? pc.green('up') : pc.red('down'),
            formatTime(n.lastReportAt),
            n.cpus,
            percent(n.cpuBusy),
            n.load1 === null ? '-' : n.load1.toFixed(2),
            memoryCell(n),
            n.swapTotalBytes ? `${size(n.swapUsedBytes)} / ${size(n.swapTotalBytes)}` : 'no swap',
            `${percent(n.pressure.cpu)} ${percent(n.pressure.memory)} ${percent(n.pressure.io)}`,
            gpuCell(n),
            n.jobs,
          ]),
          t('metrics.empty.agent-has-reported-yet'),
        ),
      );
    });

  program
    .command('metrics')
    .description(t('metrics.metrics'))
    .argument('<node>', t('metrics.metrics.arg.node'))
    .option('--since <duration>', t('metrics.metrics.opt.since'), '1h')
    .option('--metric <names...>', t('metrics.metrics.opt.metric'))
    .addHelpText('after', examples('keisan metrics node7', 'keisan metrics node7 --since 6h --metric node_load1 keisan_gpu_utilization_ratio', 'keisan metrics node7 --metric node_memory_MemAvailable_bytes --json'))
    .action(async (node, options, command) => {
      const out = outputOf(command);
      const answer = await clientOf(command).request<MetricsAnswer>('GET', `/api/monitor/nodes/${encodeURIComponent(node)}/metrics`, undefined, {
        since: options.since,
        names: options.metric?.join(','),
      });
      out.result(answer, () => {
        out.line(`${answer.host}: ${answer.series.length} series from ${formatTime(answer.from)} to ${formatTime(answer.to)}${answer.truncated ? pc.yellow(` (${answer.truncated} more left out: ask for fewer with --metric)`) : ''}`);
        out.table(
          [t('col.series'), t('col.of'), t('col.latest'), t('col.min'), t('col.max'), t('col.avg'), t('col.points')],
          answer.series.map((s) => {
            const f = (v: number | null) => formatValue(s.name, s.summary.kind, v);
            return [`${s.name}${labelText(s.labels)}`, s.summary.kind === 'rate' ? 'rate' : 'value', f(s.summary.latest), f(s.summary.min), f(s.summary.max), f(s.summary.avg), s.summary.points];
          }),
          t('metrics.empty.such-series-in-that'),
        );
      });
    });
}
