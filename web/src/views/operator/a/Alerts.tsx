import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, call } from '../../../api/client.ts';
import { useI18n, type MessageKey } from '../../../i18n/index.tsx';
import { Badge, Button, Card, ConfirmButton, ErrorBox, Field, Page, QueryView, Table, type Column } from '../../../ui/kit.tsx';
import { IncidentLink } from './links.tsx';
import { LIVE_MS } from './Nodes.tsx';

const STATES = ['active', 'firing', 'pending', 'resolved', 'all'] as const;
type AlertFilter = (typeof STATES)[number];

type Alert = Awaited<ReturnType<typeof fetchAlerts>>[number];
type Silence = Awaited<ReturnType<typeof fetchSilences>>[number];

function fetchAlerts(state: AlertFilter) {
  return call(api.GET('/api/monitor/alerts', { params: { query: { state, limit: 500 } } }));
}
function fetchSilences(all: boolean) {
  return call(api.GET('/api/monitor/silences', { params: { query: { all: all ? 'true' : 'false' } } }));
}

/** Incidents opened by the alert hook name the alert's fingerprint; the alert links to its incident. */
export function useIncidentsByFingerprint(): Map<string, number> {
  const incidents = useQuery({ queryKey: ['ops', 'incidents', 'recent'], queryFn: () => call(api.GET('/api/incidents', { params: { query: { since: '30d' } } })), refetchInterval: 15_000 });
  const map = new Map<string, number>();
  for (const incident of incidents.data ?? []) if (incident.source === 'alert' && incident.sourceKey) map.set(incident.sourceKey, incident.id);
  return map;
}

export const SEVERITY_LABELS: Record<Alert['severity'], MessageKey> = { critical: 'ops.severity.critical', warning: 'ops.severity.warning', info: 'ops.severity.info' };
export const ALERT_STATE_LABELS: Record<Alert['state'], MessageKey> = { firing: 'ops.alertState.firing', pending: 'ops.alertState.pending', resolved: 'ops.alertState.resolved' };

export function Labels({ labels }: { labels: Record<string, string> }) {
  return (
    <span className="ops-labels">
      {Object.entries(labels).map(([name, value]) => (
        <code key={name} className="ops-label">
          {name}={value}
        </code>
      ))}
    </span>
  );
}

export function AlertsPage() {
  const { t, relative, dateTime, number } = useI18n();
  const queryClient = useQueryClient();
  const [filter, setFilter] = useState<AlertFilter>('active');
  const [showExpired, setShowExpired] = useState(false);
  const [matchers, setMatchers] = useState('');
  const alerts = useQuery({ queryKey: ['ops', 'alerts', filter], queryFn: () => fetchAlerts(filter), refetchInterval: LIVE_MS });
  const silences = useQuery({ queryKey: ['ops', 'silences', showExpired], queryFn: () => fetchSilences(showExpired), refetchInterval: LIVE_MS });
  const incidentOf = useIncidentsByFingerprint();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['ops'] });

  const expire = useMutation({
    mutationFn: (id: number) => call(api.DELETE('/api/monitor/silences/{id}', { params: { path: { id } } })),
    onSuccess: refresh,
  });

  const alertColumns: Column<Alert>[] = [
    { key: 'state', header: t('ops.alerts.state'), cell: (a) => <Badge value={a.state} label={t(ALERT_STATE_LABELS[a.state])} /> },
    { key: 'severity', header: t('ops.alerts.severity'), cell: (a) => <Badge value={a.severity} label={t(SEVERITY_LABELS[a.severity])} /> },
    {
      key: 'alert',
      header: t('ops.alerts.alert'),
      cell: (a) => (
        <div>
          <strong>{a.alertname}</strong>
          {a.summary ? <div>{a.summary}</div> : null}
        </div>
      ),
    },
    { key: 'labels', header: t('ops.alerts.labels'), cell: (a) => <Labels labels={a.labels} /> },
    {
      key: 'since',
      header: t('ops.alerts.since'),
      cell: (a) => {
        const at = a.state === 'resolved' ? a.resolvedAt : (a.firedAt ?? a.startedAt);
        return <time dateTime={at ?? undefined} title={dateTime(at)}>{relative(at)}</time>;
      },
    },
    {
      key: 'muted',
      header: t('ops.alerts.muted'),
      cell: (a) =>
        a.silencedBy.length > 0 ? (
          <Badge value="muted" label={t('ops.alerts.silencedBy', { ids: a.silencedBy.map((id) => `#${id}`).join(', ') })} />
        ) : a.inhibitedBy.length > 0 ? (
          <Badge value="muted" label={t('ops.alerts.inhibitedBy', { by: a.inhibitedBy.join(', ') })} />
        ) : (
          '—'
        ),
    },
    {
      key: 'incident',
      header: t('ops.alerts.incident'),
      cell: (a) => {
        const id = incidentOf.get(a.fingerprint);
        return id === undefined ? '—' : <IncidentLink id={id}>{t('ops.alerts.incidentLink', { id })}</IncidentLink>;
      },
    },
    {
      key: 'actions',
      header: t('ops.alerts.actions'),
      cell: (a) =>
        a.state === 'resolved' ? null : (
          <Button
            className="small"
            onClick={() => {
              setMatchers([`alertname=${a.alertname}`, ...(a.labels.host ? [`host=${a.labels.host}`] : [])].join('\n'));
              document.getElementById('silence-form')?.scrollIntoView({ block: 'start' });
              document.getElementById('silence-matchers')?.focus();
            }}
          >
            {t('ops.alerts.silenceThis')}
          </Button>
        ),
    },
  ];

  const silenceColumns: Column<Silence>[] = [
    { key: 'id', header: t('ops.silences.id'), className: 'num', cell: (s) => `#${s.id}` },
    { key: 'state', header: t('ops.silences.state'), cell: (s) => <Badge value={s.state === 'active' ? 'ok' : s.state === 'pending' ? 'pending' : 'cancelled'} label={t(`ops.silenceState.${s.state}`)} /> },
    {
      key: 'matchers',
      header: t('ops.silences.matchers'),
      cell: (s) => (
        <span className="ops-labels">
          {s.matchers.map((m) => (
            <code key={`${m.name}${m.op}${m.value}`} className="ops-label">
              {m.name}
              {m.op}
              {m.value}
            </code>
          ))}
        </span>
      ),
    },
    { key: 'starts', header: t('ops.silences.starts'), cell: (s) => dateTime(s.startsAt) },
    { key: 'ends', header: t('ops.silences.ends'), cell: (s) => <time dateTime={s.endsAt} title={dateTime(s.endsAt)}>{s.state === 'expired' ? dateTime(s.endsAt) : relative(s.endsAt)}</time> },
    { key: 'by', header: t('ops.silences.by'), cell: (s) => s.createdBy },
    { key: 'comment', header: t('ops.silences.comment'), cell: (s) => s.comment },
    {
      key: 'actions',
      header: t('ops.alerts.actions'),
      cell: (s) =>
        s.state === 'expired' ? (
          s.removedBy ? <small className="muted">{t('ops.silences.endedBy', { user: s.removedBy })}</small> : null
        ) : (
          <ConfirmButton label={t('ops.silences.expire')} question={t('ops.silences.expireQuestion', { id: s.id })} onConfirm={() => expire.mutateAsync(s.id)} />
        ),
    },
  ];

  return (
    <Page title={t('ops.alerts.title')}>
      <Card
        title={t('ops.alerts.listTitle')}
        actions={
          <Field label={t('ops.alerts.show')}>
            {(id) => (
              <select id={id} value={filter} onChange={(e) => setFilter(e.target.value as AlertFilter)}>
                {STATES.map((s) => (
                  <option key={s} value={s}>
                    {t(`ops.alerts.filter.${s}`)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        }
      >
        <QueryView query={alerts}>
          {(list) =>
            list.length === 0 ? (
              <p className="muted">{filter === 'active' ? t('ops.alerts.noneActive') : t('state.empty')}</p>
            ) : (
              <>
                <p className="muted small">{t('ops.alerts.count', { n: number(list.length) })}</p>
                <Table rows={list} columns={alertColumns} rowKey={(a) => a.fingerprint} caption={t('ops.alerts.listTitle')} />
              </>
            )
          }
        </QueryView>
      </Card>

      <Card
        title={t('ops.silences.title')}
        actions={
          <label className="ops-check">
            <input type="checkbox" checked={showExpired} onChange={(e) => setShowExpired(e.target.checked)} /> {t('ops.silences.showExpired')}
          </label>
        }
      >
        {expire.error ? <ErrorBox error={expire.error} /> : null}
        <QueryView query={silences}>
          {(list) => (list.length === 0 ? <p className="muted">{t('ops.silences.none')}</p> : <Table rows={list} columns={silenceColumns} rowKey={(s) => s.id} caption={t('ops.silences.title')} />)}
        </QueryView>
      </Card>

      <SilenceForm matchers={matchers} setMatchers={setMatchers} onCreated={refresh} />
    </Page>
  );
}

/** One matcher per line or comma: label=value, label!=value, label=~regex, label!~regex. */
export function parseMatchers(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((m) => m.trim())
    .filter(Boolean);
}

function SilenceForm({ matchers, setMatchers, onCreated }: { matchers: string; setMatchers: (text: string) => void; onCreated: () => void }) {
  const { t } = useI18n();
  const [duration, setDuration] = useState('2h');
  const [comment, setComment] = useState('');
  const [created, setCreated] = useState<number | null>(null);
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/monitor/silences', { body: { matchers: parseMatchers(matchers), for: duration.trim(), comment } })),
    onSuccess: (silence) => {
      setCreated(silence.id);
      setMatchers('');
      setComment('');
      onCreated();
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    setCreated(null);
    create.mutate();
  }
  return (
    <Card title={t('ops.silences.create')}>
      <form id="silence-form" onSubmit={submit} className="ops-form">
        <div className="field">
          <label htmlFor="silence-matchers">{t('ops.silences.matchersLabel')}</label>
          <textarea id="silence-matchers" className="ops-short-textarea" required value={matchers} onChange={(e) => setMatchers(e.target.value)} placeholder={'alertname=HostDown\nhost=node1'} aria-describedby="silence-matchers-hint" />
          <small id="silence-matchers-hint" className="muted">
            {t('ops.silences.matchersHint')}
          </small>
        </div>
        <div className="form-row">
          <Field label={t('ops.silences.duration')} hint={t('ops.silences.durationHint')}>
            {(id) => <input id={id} required value={duration} onChange={(e) => setDuration(e.target.value)} size={8} />}
          </Field>
          <Field label={t('ops.silences.commentLabel')} hint={t('ops.silences.commentHint')}>
            {(id) => <input id={id} className="ops-wide" required value={comment} onChange={(e) => setComment(e.target.value)} />}
          </Field>
        </div>
        {create.error ? <ErrorBox error={create.error} /> : null}
        {created !== null ? (
          <p className="notice" role="status">
            {t('ops.silences.created', { id: created })}
          </p>
        ) : null}
        <Button type="submit" variant="primary" disabled={create.isPending}>
          {t('ops.silences.submit')}
        </Button>
      </form>
    </Card>
  );
}
