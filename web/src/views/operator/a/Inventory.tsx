import { useQuery } from '@tanstack/react-query';
import { api, call } from '../../../api/client.ts';
import { useI18n, type MessageKey } from '../../../i18n/index.tsx';
import { Badge, Card, Page, QueryView, Stat, Table, type Column } from '../../../ui/kit.tsx';

type Host = Awaited<ReturnType<typeof fetchHosts>>[number];
type Service = Awaited<ReturnType<typeof fetchServices>>[number];
type Group = Awaited<ReturnType<typeof fetchGroups>>[number];

const fetchHosts = () => call(api.GET('/api/ops/hosts'));
const fetchServices = () => call(api.GET('/api/ops/services'));
const fetchGroups = () => call(api.GET('/api/ops/groups'));
const fetchPower = () => call(api.GET('/api/ops/power'));

const HEALTH_TONES: Record<Host['health']['state'], string> = { healthy: 'ok', degraded: 'degraded', down: 'down', unknown: 'unknown' };
export const HEALTH_LABELS: Record<Host['health']['state'], MessageKey> = { healthy: 'ops.health.healthy', degraded: 'ops.health.degraded', down: 'ops.health.down', unknown: 'ops.health.unknown' };
const GROUP_TONES: Record<Group['state'], string> = { OK: 'ok', 'AT-RISK': 'warning', BROKEN: 'critical' };
export const GROUP_LABELS: Record<Group['state'], MessageKey> = { OK: 'ops.group.ok', 'AT-RISK': 'ops.group.atRisk', BROKEN: 'ops.group.broken' };
const PHASE_TONES = { online: 'ok', 'on-battery': 'warning', 'shutting-down': 'critical' } as const;

export function HealthBadge({ state }: { state: Host['health']['state'] }) {
  const { t } = useI18n();
  return <Badge value={HEALTH_TONES[state]} label={t(HEALTH_LABELS[state])} />;
}

export function GroupBadge({ state }: { state: Group['state'] }) {
  const { t } = useI18n();
  return <Badge value={GROUP_TONES[state]} label={t(GROUP_LABELS[state])} />;
}

const list = (items: string[]) => (items.length === 0 ? '—' : items.join(', '));

export function InventoryPage() {
  const { t, number } = useI18n();
  const hosts = useQuery({ queryKey: ['ops', 'inventory', 'hosts'], queryFn: fetchHosts, refetchInterval: 10_000 });
  const services = useQuery({ queryKey: ['ops', 'inventory', 'services'], queryFn: fetchServices, refetchInterval: 30_000 });
  const groups = useQuery({ queryKey: ['ops', 'inventory', 'groups'], queryFn: fetchGroups, refetchInterval: 10_000 });

  const hostColumns: Column<Host>[] = [
    { key: 'name', header: t('ops.inventory.host'), cell: (h) => <strong>{h.name}</strong> },
    {
      key: 'health',
      header: t('ops.inventory.health'),
      cell: (h) => (
        <div>
          <HealthBadge state={h.health.state} />
          {h.health.reason ? <div className="muted small">{h.health.reason}</div> : null}
        </div>
      ),
    },
    { key: 'roles', header: t('ops.inventory.roles'), cell: (h) => list(h.roles) },
    { key: 'addresses', header: t('ops.inventory.addresses'), cell: (h) => <span className="mono">{list(h.addresses)}</span> },
    { key: 'services', header: t('ops.inventory.services'), cell: (h) => list(h.services) },
    { key: 'groups', header: t('ops.inventory.groups'), cell: (h) => list(h.groups) },
    { key: 'source', header: t('ops.inventory.source'), cell: (h) => (h.source === 'config' ? t('ops.inventory.fromConfig') : t('ops.inventory.fromApi')) },
  ];
  const serviceColumns: Column<Service>[] = [
    { key: 'name', header: t('ops.inventory.service'), cell: (s) => <strong>{s.name}</strong> },
    { key: 'critical', header: t('ops.inventory.critical'), cell: (s) => (s.critical ? <Badge value="warning" label={t('ops.inventory.isCritical')} /> : t('no')) },
    { key: 'hosts', header: t('ops.inventory.hosts'), cell: (s) => list(s.hosts) },
    { key: 'groups', header: t('ops.inventory.groups'), cell: (s) => list(s.groups) },
    { key: 'notes', header: t('ops.inventory.notes'), cell: (s) => s.notes || '—' },
  ];
  const groupColumns: Column<Group>[] = [
    { key: 'name', header: t('ops.inventory.group'), cell: (g) => <strong>{g.name}</strong> },
    {
      key: 'state',
      header: t('ops.inventory.groupState'),
      cell: (g) => (
        <div>
          <GroupBadge state={g.state} />
          {g.reason ? <div className="muted small">{g.reason}</div> : null}
        </div>
      ),
    },
    { key: 'service', header: t('ops.inventory.service'), cell: (g) => g.service ?? '—' },
    { key: 'healthy', header: t('ops.inventory.healthy'), cell: (g) => t('ops.inventory.healthyOf', { healthy: number(g.healthy), total: number(g.total), min: number(g.minHealthy) }) },
    {
      key: 'mayBeDown',
      header: t('ops.inventory.mayBeDown'),
      cell: (g) => t('ops.inventory.mayBeDownValue', { design: number(Math.max(0, g.total - g.minHealthy)), now: number(Math.max(0, g.healthy - g.minHealthy)) }),
    },
    {
      key: 'members',
      header: t('ops.inventory.members'),
      cell: (g) => (
        <ul className="ops-members">
          {g.memberHealth.map((m) => (
            <li key={m.host}>
              {m.host} <HealthBadge state={m.state} />
            </li>
          ))}
        </ul>
      ),
    },
  ];

  return (
    <Page title={t('ops.inventory.title')}>
      <PowerCard />
      <Card title={t('ops.inventory.groupsTitle')}>
        <p className="muted small">{t('ops.inventory.groupsHint')}</p>
        <QueryView query={groups}>{(rows) => (rows.length === 0 ? <p className="muted">{t('ops.inventory.noGroups')}</p> : <Table rows={rows} columns={groupColumns} rowKey={(g) => g.name} caption={t('ops.inventory.groupsTitle')} />)}</QueryView>
      </Card>
      <Card title={t('ops.inventory.hostsTitle')}>
        <QueryView query={hosts}>{(rows) => (rows.length === 0 ? <p className="muted">{t('ops.inventory.noHosts')}</p> : <Table rows={rows} columns={hostColumns} rowKey={(h) => h.name} caption={t('ops.inventory.hostsTitle')} />)}</QueryView>
      </Card>
      <Card title={t('ops.inventory.servicesTitle')}>
        <QueryView query={services}>{(rows) => (rows.length === 0 ? <p className="muted">{t('ops.inventory.noServices')}</p> : <Table rows={rows} columns={serviceColumns} rowKey={(s) => s.name} caption={t('ops.inventory.servicesTitle')} />)}</QueryView>
      </Card>
    </Page>
  );
}

function PowerCard() {
  const { t, percent, duration, dateTime, relative } = useI18n();
  const power = useQuery({ queryKey: ['ops', 'power'], queryFn: fetchPower, refetchInterval: 5_000 });
  return (
    <Card title={t('ops.power.title')}>
      <QueryView query={power}>
        {(p) =>
          !p.configured ? (
            <p className="muted">{t('ops.power.notConfigured')}</p>
          ) : (
            <>
              <div className="stats">
                <Stat label={t('ops.power.phase')} value={<Badge value={PHASE_TONES[p.phase]} label={t(`ops.power.phase.${p.phase}`)} />} detail={p.ups ?? undefined} />
                <Stat label={t('ops.power.charge')} value={p.battery.charge === null ? '—' : percent(p.battery.charge / 100)} />
                <Stat label={t('ops.power.runtime')} value={duration(p.battery.runtimeSeconds)} />
                <Stat
                  label={t('ops.power.reachable')}
                  value={p.reachable === null ? '—' : p.reachable ? t('yes') : t('no')}
                  tone={p.reachable === false ? 'bad' : undefined}
                  detail={p.polledAt ? t('ops.power.polled', { when: relative(p.polledAt) }) : undefined}
                />
              </div>
              <p>
                <strong>{t('ops.power.next')}</strong> {p.next}
              </p>
              {p.onBatterySince ? <p>{t('ops.power.onBatterySince', { when: dateTime(p.onBatterySince) })}</p> : null}
              {p.dispatchPaused ? <p className="notice">{t('ops.power.dispatchPaused', { why: p.dispatchPaused })}</p> : null}
              {p.lastError ? <p className="ops-error-text">{t('ops.power.lastError', { when: relative(p.lastError.at), message: p.lastError.message })}</p> : null}
            </>
          )
        }
      </QueryView>
    </Card>
  );
}
