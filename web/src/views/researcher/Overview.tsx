import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { api, call } from '../../api/client.ts';
import { useMe } from '../../auth.tsx';
import { useI18n } from '../../i18n/index.tsx';
import { Badge, Card, Meter, Page, QueryView, Stat, Table } from '../../ui/kit.tsx';
import { homeDirectory } from './paths.ts';
import { jobStateLabel } from './labels.ts';
import type { NodeSummary } from './types.ts';

const LIVE_MS = 3000;

/** What is free now, from the agents' reports: idle CPUs (cores × idle share), GPUs with no process, available memory. */
export function freeResources(nodes: readonly NodeSummary[]) {
  const up = nodes.filter((n) => n.up);
  return {
    nodesUp: up.length,
    nodes: nodes.length,
    cpusFree: Math.round(up.reduce((sum, n) => sum + (n.cpus ?? 0) * (1 - (n.cpuBusy ?? 0)), 0)),
    cpus: up.reduce((sum, n) => sum + (n.cpus ?? 0), 0),
    gpusFree: up.reduce((sum, n) => sum + n.gpusFree, 0),
    gpus: up.reduce((sum, n) => sum + n.gpus, 0),
    memFree: up.reduce((sum, n) => sum + (n.memAvailableBytes ?? 0), 0),
    mem: up.reduce((sum, n) => sum + (n.memTotalBytes ?? 0), 0),
  };
}

export function OverviewPage() {
  const { t, bytes, number, dateTime, relative } = useI18n();
  const me = useMe();
  const nodes = useQuery({ queryKey: ['monitor', 'nodes'], queryFn: () => call(api.GET('/api/monitor/nodes')), refetchInterval: LIVE_MS });
  const jobs = useQuery({
    queryKey: ['jobs', 'mine', 'active'],
    queryFn: () => call(api.GET('/api/jobs', { params: { query: { state: 'pending,running', limit: 200 } } })),
    refetchInterval: LIVE_MS,
  });
  const areas = useQuery({ queryKey: ['areas', 'usage'], queryFn: () => call(api.GET('/api/areas/usage', { params: { query: {} } })), refetchInterval: 30_000 });
  const home = homeDirectory(me.user);
  const fsUsage = useQuery({ queryKey: ['fs', 'usage', home], queryFn: () => call(api.GET('/api/fs/usage', { params: { query: { path: home } } })), refetchInterval: 30_000, retry: false });
  const usage = useQuery({ queryKey: ['usage', 'me'], queryFn: () => call(api.GET('/api/usage', { params: { query: { by: 'user' } } })), refetchInterval: 60_000 });
  const status = useQuery({ queryKey: ['status'], queryFn: () => call(api.GET('/api/status')), refetchInterval: 15_000 });
  const unread = useQuery({ queryKey: ['notifications', 'unread'], queryFn: () => call(api.GET('/api/notifications', { params: { query: { unread: 'true', limit: 1000 } } })), refetchInterval: 5000 });

  return (
    <Page title={t('researcher.overview.title')} actions={<Link to="/jobs/new" className="button primary">{t('researcher.jobs.submit')}</Link>}>
      <Card title={t('researcher.overview.freeNow')}>
        <QueryView query={nodes}>
          {(list) => {
            const free = freeResources(list);
            if (list.length === 0) return <p className="muted">{t('researcher.overview.noNodes')}</p>;
            return (
              <div className="stats" data-testid="free-now">
                <Stat label={t('researcher.overview.gpusFree')} value={number(free.gpusFree)} detail={t('researcher.overview.ofTotal', { total: number(free.gpus) })} tone={free.gpus > 0 && free.gpusFree === 0 ? 'warn' : undefined} />
                <Stat label={t('researcher.overview.cpusFree')} value={number(free.cpusFree)} detail={t('researcher.overview.ofTotal', { total: number(free.cpus) })} />
                <Stat label={t('researcher.overview.memFree')} value={bytes(free.memFree)} detail={t('researcher.overview.ofTotal', { total: bytes(free.mem) })} />
                <Stat label={t('researcher.overview.nodesUp')} value={number(free.nodesUp)} detail={t('researcher.overview.ofTotal', { total: number(free.nodes) })} tone={free.nodesUp < free.nodes ? 'warn' : 'ok'} />
              </div>
            );
          }}
        </QueryView>
        <p className="muted small">{t('researcher.overview.freeSource')}</p>
      </Card>

      <div className="grid">
        <Card title={t('researcher.overview.myJobs')} actions={<Link to="/jobs">{t('researcher.overview.allJobs')}</Link>}>
          <QueryView query={jobs}>
            {(list) => {
              const running = list.filter((j) => j.state === 'running');
              const pending = list.filter((j) => j.state === 'pending');
              return (
                <>
                  <div className="stats">
                    <Stat label={t('researcher.overview.running')} value={<span data-testid="running-count">{number(running.length)}</span>} />
                    <Stat label={t('researcher.overview.pending')} value={<span data-testid="pending-count">{number(pending.length)}</span>} />
                  </div>
                  {list.length > 0 ? (
                    <ul className="plain-list">
                      {list.slice(0, 10).map((job) => (
                        <li key={job.id}>
                          <Link to="/jobs/$id" params={{ id: String(job.id) }}>
                            {job.id} {job.name}
                          </Link>{' '}
                          <Badge value={job.held ? 'held' : job.state} label={job.held ? t('researcher.state.held') : jobStateLabel(t, job.state)} /> <span className="muted small">{relative(job.startedAt ?? job.submittedAt)}</span>
                        </li>
                      ))}
                    </ul>
                  ) : (
                    <p className="muted">{t('researcher.overview.noActiveJobs')}</p>
                  )}
                </>
              );
            }}
          </QueryView>
        </Card>

        <Card title={t('researcher.overview.notifications')} actions={<Link to="/notifications">{t('researcher.overview.openNotifications')}</Link>}>
          <QueryView query={unread}>
            {(list) => <Stat label={t('researcher.overview.unread')} value={<span data-testid="unread-count">{number(list.length)}</span>} tone={list.length > 0 ? 'warn' : undefined} />}
          </QueryView>
        </Card>
      </div>

      <div className="grid">
        <Card title={t('researcher.overview.storage')} actions={<Link to="/files">{t('researcher.overview.openFiles')}</Link>}>
          <QueryView query={areas}>
            {(list) =>
              list.length === 0 ? (
                <p className="muted">{t('researcher.overview.noAreas')}</p>
              ) : (
                <Table
                  rows={list}
                  rowKey={(a) => a.area}
                  caption={t('researcher.overview.storage')}
                  columns={[
                    { key: 'area', header: t('researcher.overview.area'), cell: (a) => a.area },
                    { key: 'used', header: t('researcher.overview.used'), cell: (a) => bytes(a.bytes), className: 'num' },
                    { key: 'quota', header: t('researcher.overview.quota'), cell: (a) => (a.quota ? <Meter value={a.bytes} max={a.quota} label={t('researcher.overview.quotaOf', { area: a.area })} /> : t('researcher.overview.noQuota')) },
                    { key: 'measured', header: t('researcher.overview.measured'), cell: (a) => relative(a.measuredAt) },
                  ]}
                />
              )
            }
          </QueryView>
          {fsUsage.data ? (
            <p data-testid="archive-usage">
              {t('researcher.overview.archiveUsage', { path: fsUsage.data.path, bytes: bytes(fsUsage.data.bytes), files: number(fsUsage.data.files), onDisk: bytes(fsUsage.data.onDiskBytes) })}
            </p>
          ) : null}
        </Card>

        <Card title={t('researcher.overview.usage30d')}>
          <QueryView query={usage}>
            {(rows) => {
              const mine = rows.find((r) => r.key === me.user.name);
              if (!mine) return <p className="muted">{t('researcher.overview.noUsage')}</p>;
              return (
                <div className="stats">
                  <Stat label={t('researcher.overview.jobsEnded')} value={number(mine.jobs)} detail={t('researcher.overview.failedN', { n: number(mine.failed) })} />
                  <Stat label={t('researcher.overview.coreHours')} value={number(mine.coreHours, 1)} />
                  <Stat label={t('researcher.overview.gpuHours')} value={number(mine.gpuHours, 1)} />
                </div>
              );
            }}
          </QueryView>
        </Card>
      </div>

      <Card title={t('researcher.overview.facility')}>
        <QueryView query={status}>
          {(page) => (
            <>
              <p>
                <Badge value={page.overall.state} /> {page.overall.text}
              </p>
              <h3>{t('researcher.overview.incidents')}</h3>
              {page.incidents.current.length === 0 ? (
                <p className="muted">{t('researcher.overview.noIncidents')}</p>
              ) : (
                <ul className="plain-list">
                  {page.incidents.current.map((incident) => (
                    <li key={incident.id}>
                      <Badge value={incident.impact} /> <a href={`/status/incidents/${incident.id}`}>{incident.title}</a> <span className="muted small">{t('researcher.overview.since', { when: dateTime(incident.startedAt) })}</span>
                    </li>
                  ))}
                </ul>
              )}
              <h3>{t('researcher.overview.maintenance')}</h3>
              {page.maintenance.inProgress.length + page.maintenance.scheduled.length === 0 ? (
                <p className="muted">{t('researcher.overview.noMaintenance')}</p>
              ) : (
                <ul className="plain-list">
                  {[...page.maintenance.inProgress, ...page.maintenance.scheduled].map((m) => (
                    <li key={m.id}>
                      <Badge value={m.inProgress ? 'maintenance' : 'pending'} label={m.inProgress ? t('researcher.overview.inProgress') : t('researcher.overview.scheduled')} /> {m.title}{' '}
                      <span className="muted small">
                        {dateTime(m.windowStart)} – {dateTime(m.windowEnd)}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </>
          )}
        </QueryView>
      </Card>
    </Page>
  );
}
