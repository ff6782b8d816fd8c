import { useQuery } from '@tanstack/react-query';
import { createRoute, Link } from '@tanstack/react-router';
import { lazy, Suspense, useCallback, useId, useMemo, useState } from 'react';
import { api, call } from '../../../api/client.ts';
import { appRoute } from '../../../routes/base.tsx';
import { useI18n, type MessageKey } from '../../../i18n/index.tsx';
import { Card, Field, Page, QueryView, Stat } from '../../../ui/kit.tsx';
import { buildCharts, CHART_METRICS, lineStats, type Chart, type ChartLine } from './chart-data.ts';
import type { TimeDetail } from './NodeCharts.tsx';
import { fetchNodes, LIVE_MS, NodeState } from './Nodes.tsx';
import { operatorOnly } from './OperatorOnly.tsx';

// uPlot comes with the charts only, in their own chunk.
const LineChart = lazy(() => import('./NodeCharts.tsx'));

const CHART_TITLES: Record<Chart['key'], MessageKey> = {
  cpu: 'ops.node.chart.cpu',
  memory: 'ops.node.chart.memory',
  psi: 'ops.node.chart.psi',
  gpuUtil: 'ops.node.chart.gpuUtil',
  gpuMemory: 'ops.node.chart.gpuMemory',
};
const LINE_LABELS: Record<'busy' | 'used' | 'total' | 'cpu' | 'memory' | 'io', MessageKey> = {
  busy: 'ops.node.line.busy',
  used: 'ops.node.line.used',
  total: 'ops.node.line.total',
  cpu: 'ops.node.line.cpu',
  memory: 'ops.node.line.memory',
  io: 'ops.node.line.io',
};
const WINDOWS = ['15m', '1h', '6h'] as const;

export const nodeRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/ops/nodes/$host',
  component: operatorOnly(function NodeRoute() {
    const { host } = nodeRoute.useParams();
    return <NodePage key={host} host={host} />;
  }),
});

export function NodePage({ host }: { host: string }) {
  const { t, percent, bytes, number, relative, locale } = useI18n();
  const [since, setSince] = useState<(typeof WINDOWS)[number]>('1h');
  const windowId = useId();
  const nodes = useQuery({ queryKey: ['ops', 'nodes'], queryFn: fetchNodes, refetchInterval: LIVE_MS });
  const metrics = useQuery({
    queryKey: ['ops', 'node-metrics', host, since],
    queryFn: () => call(api.GET('/api/monitor/nodes/{host}/metrics', { params: { path: { host }, query: { since, names: CHART_METRICS.join(',') } } })),
    refetchInterval: LIVE_MS,
    placeholderData: (previous) => previous,
  });
  const node = nodes.data?.find((n) => n.host === host);
  const lineLabel = (line: ChartLine) => ('key' in line.label ? t(LINE_LABELS[line.label.key]) : line.label.text);
  const timeFormats = useMemo(() => {
    const tag = locale === 'ja' ? 'ja-JP' : 'en-GB';
    return {
      days: new Intl.DateTimeFormat(tag, { month: 'short', day: 'numeric' }),
      minutes: new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit' }),
      seconds: new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
    };
  }, [locale]);
  const formatTime = useCallback((ms: number, detail: TimeDetail) => timeFormats[detail].format(ms), [timeFormats]);
  const format = (chart: Chart) => (v: number) => (chart.unit === 'ratio' ? percent(v) : bytes(v));

  return (
    <Page
      title={t('ops.node.title', { host })}
      actions={
        <Link to="/ops/nodes" className="button">
          {t('ops.node.back')}
        </Link>
      }
    >
      {node ? (
        <div className="stats ops-stats">
          <Stat label={t('ops.nodes.state')} value={<NodeState up={node.up} />} detail={t('ops.node.lastReport', { when: relative(node.lastReportAt) })} />
          <Stat label={t('ops.nodes.cpu')} value={node.cpuBusy === null ? '—' : percent(node.cpuBusy)} detail={node.cpus === null ? undefined : t('unit.cpus', { n: number(node.cpus) })} />
          <Stat label={t('ops.nodes.memory')} value={node.memUsedBytes === null ? '—' : bytes(node.memUsedBytes)} detail={node.memTotalBytes === null ? undefined : t('ops.node.ofTotal', { total: bytes(node.memTotalBytes) })} />
          <Stat label={t('ops.nodes.gpus')} value={node.gpus === 0 ? t('ops.nodes.noGpus') : t('ops.nodes.gpusOfTotal', { free: number(node.gpusFree), total: number(node.gpus) })} detail={node.gpus > 0 ? t('ops.node.gpusFreeDetail') : undefined} />
          <Stat label={t('ops.nodes.jobs')} value={number(node.jobs)} />
        </div>
      ) : null}
      <div className="form-row ops-toolbar">
        <Field label={t('ops.node.window')}>
          {(id) => (
            <select id={id} aria-describedby={windowId} value={since} onChange={(e) => setSince(e.target.value as (typeof WINDOWS)[number])}>
              {WINDOWS.map((w) => (
                <option key={w} value={w}>
                  {t(`ops.node.window.${w}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <p id={windowId} className="muted small">
          {t('ops.node.refreshes', { seconds: number(LIVE_MS / 1000) })}
        </p>
      </div>
      <QueryView query={metrics}>
        {(data) => {
          const charts = buildCharts(data.series);
          return (
            <>
              <div className="ops-charts">
                {charts.map((chart) => (
                  <Card key={chart.key} title={t(CHART_TITLES[chart.key])} className="ops-chart">
                    <figure className="ops-figure" aria-label={t('ops.node.chartAlt', { chart: t(CHART_TITLES[chart.key]) })}>
                      <Suspense fallback={<p className="muted">{t('state.loading')}</p>}>
                        <LineChart chart={chart} labels={chart.lines.map(lineLabel)} format={format(chart)} timeLabel={t('ops.node.time')} formatTime={formatTime} />
                      </Suspense>
                    </figure>
                  </Card>
                ))}
                {charts.every((c) => c.key !== 'gpuUtil') ? <p className="muted">{t('ops.node.noGpuCharts')}</p> : null}
              </div>
              <Card title={t('ops.node.latest')}>
                <div className="table-wrap">
                  <table className="table" data-testid="latest-values">
                    <caption className="sr-only">{t('ops.node.latestCaption', { host })}</caption>
                    <thead>
                      <tr>
                        <th scope="col">{t('ops.node.col.chart')}</th>
                        <th scope="col">{t('ops.node.col.line')}</th>
                        <th scope="col" className="num">
                          {t('ops.node.col.latest')}
                        </th>
                        <th scope="col" className="num">
                          {t('ops.node.col.min')}
                        </th>
                        <th scope="col" className="num">
                          {t('ops.node.col.max')}
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {charts.flatMap((chart) =>
                        chart.lines.map((line) => {
                          const stats = lineStats(line.points);
                          const fmt = (v: number | null) => (v === null ? '—' : format(chart)(v));
                          return (
                            <tr key={`${chart.key}:${lineLabel(line)}`}>
                              <td data-label={t('ops.node.col.chart')}>{t(CHART_TITLES[chart.key])}</td>
                              <td data-label={t('ops.node.col.line')}>{lineLabel(line)}</td>
                              <td data-label={t('ops.node.col.latest')} className="num">
                                {fmt(stats.latest)}
                              </td>
                              <td data-label={t('ops.node.col.min')} className="num">
                                {fmt(stats.min)}
                              </td>
                              <td data-label={t('ops.node.col.max')} className="num">
                                {fmt(stats.max)}
                              </td>
                            </tr>
                          );
                        }),
                      )}
                    </tbody>
                  </table>
                </div>
                <p className="muted small">{t('ops.node.range', { from: relative(data.from), points: number(Math.max(0, ...charts.flatMap((c) => c.lines.map((l) => l.points.length)))) })}</p>
              </Card>
            </>
          );
        }}
      </QueryView>
    </Page>
  );
}
