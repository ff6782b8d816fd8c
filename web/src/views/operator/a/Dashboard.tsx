import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { api, ApiError, call } from '../../../api/client.ts';
import { useI18n, type MessageKey } from '../../../i18n/index.tsx';
import { Badge, Card, ErrorBox, Meter, Page } from '../../../ui/kit.tsx';
import { SEVERITY_LABELS } from './Alerts.tsx';
import { GroupBadge, HealthBadge } from './Inventory.tsx';
import { IncidentLink, MaintenancePlanLink } from './links.tsx';
import { fetchNodes, LIVE_MS } from './Nodes.tsx';

const SEVERITY_RANK = { critical: 2, warning: 1, info: 0 } as const;
/** At most this many items per card; the card links on to the rest. */
const SHOWN = 5;

/** The disk tier's numbers from /api/hsm/status (a loosely typed report): null where absent. */
export function hsmDisk(status: Record<string, unknown>): { usedPct: number | null; highWaterPct: number | null; usedBytes: number | null; capacityBytes: number | null } {
  const disk = typeof status.disk === 'object' && status.disk !== null ? (status.disk as Record<string, unknown>) : {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return { usedPct: num(disk.usedPct), highWaterPct: num(disk.highWaterPct), usedBytes: num(disk.usedBytes), capacityBytes: num(disk.capacityBytes) };
}

/** One card of the dashboard: a count in its title, what is wrong (or that nothing is), a link on. */
function Section({ title, count, loading, error, okText, more, children }: { title: string; count: number | null; loading: boolean; error: unknown; okText: string; more: ReactNode; children: ReactNode }) {
  const { t, number } = useI18n();
  return (
    <Card
      title={title}
      className={`ops-section ${count ? 'ops-section-bad' : ''}`}
      actions={count === null ? null : count > 0 ? <Badge value="critical" label={t('ops.dash.count', { n: number(count) })} /> : <Badge value="ok" label={t('ops.dash.ok')} />}
    >
      {error ? <ErrorBox error={error} /> : loading ? <p className="muted">{t('state.loading')}</p> : count === 0 ? <p className="muted">{okText}</p> : <ul className="ops-list">{children}</ul>}
      <p className="ops-more">{more}</p>
    </Card>
  );
}

export function DashboardPage() {
  const { t, relative, bytes, number } = useI18n();
  const alerts = useQuery({ queryKey: ['ops', 'alerts', 'firing'], queryFn: () => call(api.GET('/api/monitor/alerts', { params: { query: { state: 'firing', limit: 500 } } })), refetchInterval: LIVE_MS });
  const nodes = useQuery({ queryKey: ['ops', 'nodes'], queryFn: fetchNodes, refetchInterval: LIVE_MS });
  const hosts = useQuery({ queryKey: ['ops', 'inventory', 'hosts'], queryFn: () => call(api.GET('/api/ops/hosts')), refetchInterval: 10_000 });
  const groups = useQuery({ queryKey: ['ops', 'inventory', 'groups'], queryFn: () => call(api.GET('/api/ops/groups')), refetchInterval: 10_000 });
  const logins = useQuery({ queryKey: ['ops', 'login-hosts'], queryFn: () => call(api.GET('/api/login-hosts')), refetchInterval: 10_000 });
  const incidents = useQuery({ queryKey: ['ops', 'incidents', 'open'], queryFn: () => call(api.GET('/api/incidents', { params: { query: { open: 'true' } } })), refetchInterval: 10_000 });
  const pending = useQuery({ queryKey: ['ops', 'recovery-pending'], queryFn: () => call(api.GET('/api/recovery/pending')), refetchInterval: 3_000 });
  const plans = useQuery({ queryKey: ['ops', 'maint', 'awaiting'], queryFn: () => call(api.GET('/api/ops/maint/plans', { params: { query: { state: 'pending-approval' } } })), refetchInterval: 15_000 });
  const hsm = useQuery({
    queryKey: ['ops', 'hsm-status'],
    queryFn: () => call(api.GET('/api/hsm/status')),
    refetchInterval: 30_000,
    retry: (count, error) => !(error instanceof ApiError && error.status === 503) && count < 3,
  });
  const areas = useQuery({ queryKey: ['ops', 'areas-usage'], queryFn: () => call(api.GET('/api/areas/usage', { params: { query: { all: 'true' } } })), refetchInterval: 60_000 });

  const firing = [...(alerts.data ?? [])].filter((a) => a.silencedBy.length === 0 && a.inhibitedBy.length === 0).sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]);
  const muted = (alerts.data?.length ?? 0) - firing.length;
  const downNodes = (nodes.data ?? []).filter((n) => !n.up);
  const badHosts = (hosts.data ?? []).filter((h) => h.health.state === 'down' || h.health.state === 'degraded');
  const drains = logins.data?.drains ?? [];
  const badGroups = (groups.data ?? []).filter((g) => g.state !== 'OK');
  const noHsm = hsm.error instanceof ApiError && hsm.error.status === 503;
  const disk = hsm.data ? hsmDisk(hsm.data) : null;
  const diskOver = disk !== null && disk.usedPct !== null && disk.highWaterPct !== null && disk.usedPct >= disk.highWaterPct;
  const areasOver = (areas.data ?? []).filter((a) => a.over);

  const countOf = (ready: boolean, n: number) => (ready ? n : null);
  const nodesReady = nodes.data !== undefined && hosts.data !== undefined && logins.data !== undefined;
  const storageReady = (hsm.data !== undefined || noHsm) && areas.data !== undefined;
  const counts = [
    countOf(alerts.data !== undefined, firing.length),
    countOf(nodesReady, downNodes.length + badHosts.length + drains.length),
    countOf(incidents.data !== undefined, incidents.data?.length ?? 0),
    countOf(pending.data !== undefined, pending.data?.length ?? 0),
    countOf(plans.data !== undefined, plans.data?.length ?? 0),
    countOf(storageReady, (diskOver ? 1 : 0) + areasOver.length),
    countOf(groups.data !== undefined, badGroups.length),
  ];
  const known = counts.filter((c): c is number => c !== null);
  const problems = known.reduce((sum, n) => sum + n, 0);
  const allKnown = known.length === counts.length;

  const more = (to: string, label: MessageKey) => <Link to={to}>{t(label)}</Link>;

  return (
    <Page title={t('ops.dash.title')}>
      <p className={`banner ${problems > 0 ? 'tone-bad' : allKnown ? 'ops-banner-ok' : ''}`} role="status" aria-live="polite">
        {problems > 0 ? t('ops.dash.problems', { n: number(problems) }) : allKnown ? t('ops.dash.allWell') : t('state.loading')}
      </p>
      <div className="ops-dashboard">
        <Section title={t('ops.dash.alerts')} count={counts[0]!} loading={!alerts.data} error={alerts.error} okText={t('ops.dash.alertsOk')} more={more('/ops/alerts', 'ops.dash.toAlerts')}>
          {firing.slice(0, SHOWN).map((a) => (
            <li key={a.fingerprint}>
              <Badge value={a.severity} label={t(SEVERITY_LABELS[a.severity])} /> <strong>{a.alertname}</strong> {a.labels.host ? <span className="mono">{a.labels.host}</span> : null} <span className="muted small">{relative(a.firedAt ?? a.startedAt)}</span>
              {a.summary ? <div className="small">{a.summary}</div> : null}
            </li>
          ))}
          {firing.length > SHOWN ? <li className="muted">{t('ops.dash.andMore', { n: number(firing.length - SHOWN) })}</li> : null}
          {muted > 0 ? <li className="muted small">{t('ops.dash.mutedAlerts', { n: number(muted) })}</li> : null}
        </Section>

        <Section title={t('ops.dash.nodes')} count={counts[1]!} loading={!nodesReady} error={nodes.error ?? hosts.error ?? logins.error} okText={t('ops.dash.nodesOk')} more={more('/ops/nodes', 'ops.dash.toNodes')}>
          {downNodes.slice(0, SHOWN).map((n) => (
            <li key={`node:${n.host}`}>
              <Badge value="down" label={t('ops.node.down')} />{' '}
              <Link to="/ops/nodes/$host" params={{ host: n.host }}>
                {n.host}
              </Link>{' '}
              <span className="muted small">{t('ops.dash.lastReport', { when: relative(n.lastReportAt) })}</span>
            </li>
          ))}
          {badHosts.slice(0, SHOWN).map((h) => (
            <li key={`host:${h.name}`}>
              <HealthBadge state={h.health.state} /> <span className="mono">{h.name}</span> <span className="small">{h.health.reason}</span>
            </li>
          ))}
          {drains.slice(0, SHOWN).map((d) => (
            <li key={`drain:${d.host}`}>
              <Badge value="maintenance" label={t('ops.dash.drained')} /> <span className="mono">{d.host}</span> <span className="small">{t('ops.dash.drainedBy', { by: d.drainedBy, why: d.reason })}</span>
            </li>
          ))}
        </Section>

        <Section title={t('ops.dash.incidents')} count={counts[2]!} loading={!incidents.data} error={incidents.error} okText={t('ops.dash.incidentsOk')} more={more('/ops/incidents', 'ops.dash.toIncidents')}>
          {(incidents.data ?? []).slice(0, SHOWN).map((i) => (
            <li key={i.id}>
              <Badge value={i.severity === 'SEV1' || i.severity === 'SEV2' ? 'critical' : 'warning'} label={i.severity} />{' '}
              <IncidentLink id={i.id}>
                #{i.id} {i.title}
              </IncidentLink>{' '}
              <span className="muted small">
                {t(`ops.incidentStatus.${i.status}`)} · {relative(i.startedAt)}
              </span>
            </li>
          ))}
        </Section>

        <Section title={t('ops.dash.recovery')} count={counts[3]!} loading={!pending.data} error={pending.error} okText={t('ops.dash.recoveryOk')} more={more('/ops/recovery', 'ops.dash.toRecovery')}>
          {(pending.data ?? []).slice(0, SHOWN).map((p) => (
            <li key={p.id}>
              <Badge value="pending" label={t('ops.dash.waiting')} /> {t('ops.dash.pendingItem', { action: p.proposed, host: p.host, user: p.user ?? '—' })} <span className="muted small">{t('ops.dash.deadline', { when: relative(p.deadline) })}</span>
            </li>
          ))}
        </Section>

        <Section title={t('ops.dash.plans')} count={counts[4]!} loading={!plans.data} error={plans.error} okText={t('ops.dash.plansOk')} more={more('/ops/maint', 'ops.dash.toPlans')}>
          {(plans.data ?? []).slice(0, SHOWN).map((p) => (
            <li key={p.id}>
              <MaintenancePlanLink id={p.id}>
                #{p.id} {p.title}
              </MaintenancePlanLink>{' '}
              <span className="muted small">{t('ops.dash.approvals', { have: number(p.approvals), need: number(p.approvalsNeeded), by: p.author })}</span>
            </li>
          ))}
        </Section>

        <Section title={t('ops.dash.storage')} count={counts[5]!} loading={!storageReady && !hsm.error} error={noHsm ? null : (hsm.error ?? areas.error)} okText={noHsm ? t('ops.dash.storageOkNoHsm') : t('ops.dash.storageOk')} more={more('/ops/storage', 'ops.dash.toStorage')}>
          {diskOver && disk ? (
            <li>
              {t('ops.dash.diskOver', { used: number(disk.usedPct ?? 0, 1), high: number(disk.highWaterPct ?? 0) })}
              {disk.usedBytes !== null && disk.capacityBytes !== null ? <Meter value={disk.usedBytes} max={disk.capacityBytes} label={t('ops.dash.diskMeter')} warnAt={(disk.highWaterPct ?? 80) / 100 - 0.05} badAt={(disk.highWaterPct ?? 90) / 100} /> : null}
            </li>
          ) : null}
          {areasOver.slice(0, SHOWN).map((a) => (
            <li key={a.area}>
              <span className="mono">{a.area}</span> {t('ops.dash.areaOver', { used: bytes(a.bytes), quota: bytes(a.quota), percent: a.percent === null ? '—' : number(a.percent) })}
            </li>
          ))}
        </Section>

        <Section title={t('ops.dash.groups')} count={counts[6]!} loading={!groups.data} error={groups.error} okText={t('ops.dash.groupsOk')} more={more('/ops/inventory', 'ops.dash.toInventory')}>
          {badGroups.slice(0, SHOWN).map((g) => (
            <li key={g.name}>
              <GroupBadge state={g.state} /> <strong>{g.name}</strong> <span className="small">{g.reason}</span>
            </li>
          ))}
        </Section>
      </div>
    </Page>
  );
}
