import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { api, call } from '../../../api/client.ts';
import { useI18n } from '../../../i18n/index.tsx';
import { Badge, Meter, Page, QueryView, Stat, Table, type Column } from '../../../ui/kit.tsx';

export type NodeSummary = Awaited<ReturnType<typeof fetchNodes>>[number];

export function fetchNodes() {
  return call(api.GET('/api/monitor/nodes'));
}

/** How often the live operator views ask again. */
export const LIVE_MS = 5_000;

export function NodeState({ up }: { up: boolean }) {
  const { t } = useI18n();
  return <Badge value={up ? 'up' : 'down'} label={up ? t('ops.node.up') : t('ops.node.down')} />;
}

export function NodesPage() {
  const { t, percent, bytes, number, relative } = useI18n();
  const nodes = useQuery({ queryKey: ['ops', 'nodes'], queryFn: fetchNodes, refetchInterval: LIVE_MS });
  const fraction = (v: number | null) => (v === null ? '—' : percent(v));

  const columns: Column<NodeSummary>[] = [
    { key: 'host', header: t('ops.nodes.host'), cell: (n) => <Link to="/ops/nodes/$host" params={{ host: n.host }}>{n.host}</Link> },
    { key: 'state', header: t('ops.nodes.state'), cell: (n) => <NodeState up={n.up} /> },
    {
      key: 'cpu',
      header: t('ops.nodes.cpu'),
      cell: (n) => (n.cpuBusy === null ? '—' : <Meter value={n.cpuBusy} max={1} label={t('ops.nodes.cpuOf', { host: n.host })} />),
    },
    { key: 'cpus', header: t('ops.nodes.cpus'), className: 'num', cell: (n) => (n.cpus === null ? '—' : number(n.cpus)) },
    { key: 'load', header: t('ops.nodes.load'), className: 'num', cell: (n) => (n.load1 === null ? '—' : number(n.load1, 2)) },
    {
      key: 'memory',
      header: t('ops.nodes.memory'),
      cell: (n) =>
        n.memUsedBytes === null || n.memTotalBytes === null ? (
          '—'
        ) : (
          <span title={t('ops.nodes.memoryOf', { used: bytes(n.memUsedBytes), total: bytes(n.memTotalBytes) })}>
            <Meter value={n.memUsedBytes} max={n.memTotalBytes} label={t('ops.nodes.memoryMeter', { host: n.host })} />
            <small className="muted">{t('ops.nodes.memoryOf', { used: bytes(n.memUsedBytes), total: bytes(n.memTotalBytes) })}</small>
          </span>
        ),
    },
    {
      key: 'psi',
      header: t('ops.nodes.psi'),
      cell: (n) => (
        <span className="ops-psi">
          {t('ops.nodes.psiValues', { cpu: fraction(n.pressure.cpu), memory: fraction(n.pressure.memory), io: fraction(n.pressure.io) })}
        </span>
      ),
    },
    {
      key: 'gpus',
      header: t('ops.nodes.gpus'),
      cell: (n) => (n.gpus === 0 ? t('ops.nodes.noGpus') : t('ops.nodes.gpusFree', { free: number(n.gpusFree), total: number(n.gpus), util: n.gpuUtilization === null ? '—' : percent(n.gpuUtilization) })),
    },
    { key: 'jobs', header: t('ops.nodes.jobs'), className: 'num', cell: (n) => number(n.jobs) },
    { key: 'report', header: t('ops.nodes.lastReport'), cell: (n) => <time dateTime={n.lastReportAt}>{relative(n.lastReportAt)}</time> },
  ];

  return (
    <Page title={t('ops.nodes.title')}>
      <QueryView query={nodes}>
        {(list) => (
          <>
            <div className="stats ops-stats">
              <Stat label={t('ops.nodes.statUp')} value={number(list.filter((n) => n.up).length)} tone="ok" />
              <Stat label={t('ops.nodes.statDown')} value={number(list.filter((n) => !n.up).length)} tone={list.some((n) => !n.up) ? 'bad' : undefined} />
              <Stat label={t('ops.nodes.statGpus')} value={t('ops.nodes.gpusOfTotal', { free: number(list.reduce((s, n) => s + n.gpusFree, 0)), total: number(list.reduce((s, n) => s + n.gpus, 0)) })} />
              <Stat label={t('ops.nodes.statJobs')} value={number(list.reduce((s, n) => s + n.jobs, 0))} />
            </div>
            {list.length === 0 ? <p className="muted">{t('ops.nodes.none')}</p> : <Table rows={list} columns={columns} rowKey={(n) => n.host} caption={t('ops.nodes.title')} />}
          </>
        )}
      </QueryView>
    </Page>
  );
}
