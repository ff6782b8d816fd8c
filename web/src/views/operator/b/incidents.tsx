import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api, call } from '../../../api/client.ts';
import { useMe } from '../../../auth.tsx';
import { useI18n, type MessageKey } from '../../../i18n/index.tsx';
import { Badge, Button, Card, ConfirmButton, ErrorBox, Field, Page, QueryView, Table } from '../../../ui/kit.tsx';
import { downloadFile } from './download.ts';
import type { Incident, IncidentSummary } from './types.ts';

type Severity = Incident['severity'];
type Status = Incident['status'];
type Impact = Incident['services'][number]['impact'];
type Cause = Incident['cause'];
type ChecklistKey = Incident['checklist'][number]['key'];

export const SEVERITIES: readonly Severity[] = ['SEV1', 'SEV2', 'SEV3', 'SEV4', 'SEV5'];
const STATUSES: readonly Status[] = ['investigating', 'identified', 'monitoring', 'resolved'];
const IMPACTS: readonly Impact[] = ['all-unavailable', 'partial-outage', 'some-jobs-aborted', 'degraded', 'none'];
const CAUSES: readonly Cause[] = ['human-error', 'software-defect', 'hardware', 'capacity', 'network', 'external', 'unknown'];

/** The Badge tone word for an incident status (the text shown is the translated status). */
const STATUS_TONE: Record<Status, string> = { investigating: 'failed', identified: 'pending', monitoring: 'running', resolved: 'resolved' };
const SEVERITY_TONE: Record<Severity, string> = { SEV1: 'failed', SEV2: 'failed', SEV3: 'pending', SEV4: 'pending', SEV5: 'unknown' };

export const statusKey = (s: Status) => `opsb.incident.status.${s}` as MessageKey;
const impactKey = (i: Impact) => `opsb.incident.impact.${i}` as MessageKey;
const causeKey = (c: Cause) => `opsb.incident.cause.${c}` as MessageKey;
const checkKey = (k: ChecklistKey) => `opsb.incident.check.${k}` as MessageKey;

export function IncidentStatus({ status }: { status: Status }) {
  const { t } = useI18n();
  return <Badge value={STATUS_TONE[status]} label={t(statusKey(status))} />;
}

export function SeverityBadge({ severity }: { severity: Severity }) {
  return <Badge value={SEVERITY_TONE[severity]} label={severity} />;
}

const dateOnly = (d: Date) => d.toISOString().slice(0, 10);
const addDays = (d: Date, days: number) => new Date(d.getTime() + days * 86_400_000);

/** The outage report for a period, downloaded as a file (PDF, HTML or Markdown). */
function ReportDownload({ from: initialFrom, to: initialTo }: { from: string; to: string }) {
  const { t } = useI18n();
  const [from, setFrom] = useState(initialFrom);
  const [to, setTo] = useState(initialTo);
  const [format, setFormat] = useState<'pdf' | 'html' | 'md'>('pdf');
  const download = useMutation({
    mutationFn: () => downloadFile(`/api/incidents/report?${new URLSearchParams({ from, to, format }).toString()}`, `outage-report-${from}-${to}.${format}`),
  });
  return (
    <form
      className="form-row"
      onSubmit={(event) => {
        event.preventDefault();
        download.mutate();
      }}
    >
      <Field label={t('opsb.report.from')}>{(id) => <input id={id} type="date" required value={from} onChange={(e) => setFrom(e.target.value)} />}</Field>
      <Field label={t('opsb.report.to')} hint={t('opsb.report.toHint')}>
        {(id) => <input id={id} type="date" required value={to} onChange={(e) => setTo(e.target.value)} />}
      </Field>
      <Field label={t('opsb.report.format')}>
        {(id) => (
          <select id={id} value={format} onChange={(e) => setFormat(e.target.value as 'pdf' | 'html' | 'md')}>
            <option value="pdf">PDF</option>
            <option value="html">HTML</option>
            <option value="md">Markdown</option>
          </select>
        )}
      </Field>
      <div className="field">
        <button type="submit" className="button primary" disabled={download.isPending}>
          {download.isPending ? t('opsb.report.busy') : t('opsb.report.download')}
        </button>
      </div>
      {download.error ? <ErrorBox error={download.error} /> : null}
    </form>
  );
}

interface ServiceRow {
  service: string;
  impact: Impact;
}

/** The services an incident touches, one row each with its impact, in the open and the edit forms. */
function ServiceRows({ services, onChange, placeholder }: { services: ServiceRow[]; onChange: (rows: ServiceRow[]) => void; placeholder?: string }) {
  const { t } = useI18n();
  const change = (index: number, patch: Partial<ServiceRow>) => onChange(services.map((s, i) => (i === index ? { ...s, ...patch } : s)));
  return (
    <>
      {services.map((row, index) => (
        <div className="form-row" key={index}>
          <Field label={t('opsb.incident.service', { n: index + 1 })}>
            {(id) => <input id={id} value={row.service} placeholder={placeholder} onChange={(e) => change(index, { service: e.target.value })} />}
          </Field>
          <Field label={t('opsb.incident.impact', { n: index + 1 })}>
            {(id) => (
              <select id={id} value={row.impact} onChange={(e) => change(index, { impact: e.target.value as Impact })}>
                {IMPACTS.map((i) => (
                  <option key={i} value={i}>
                    {t(impactKey(i))}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
      ))}
    </>
  );
}

/** The two choices an incident is classified by, in the open and the edit forms. */
function SeverityAndCause({ severity, onSeverity, cause, onCause }: { severity: Severity; onSeverity: (s: Severity) => void; cause: Cause; onCause: (c: Cause) => void }) {
  const { t } = useI18n();
  return (
    <>
      <Field label={t('opsb.incident.severity')}>
        {(id) => (
          <select id={id} value={severity} onChange={(e) => onSeverity(e.target.value as Severity)}>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t('opsb.incident.cause')}>
        {(id) => (
          <select id={id} value={cause} onChange={(e) => onCause(e.target.value as Cause)}>
            {CAUSES.map((c) => (
              <option key={c} value={c}>
                {t(causeKey(c))}
              </option>
            ))}
          </select>
        )}
      </Field>
    </>
  );
}

function OpenIncidentForm({ onDone }: { onDone: (id: number) => void }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [title, setTitle] = useState('');
  const [severity, setSeverity] = useState<Severity>('SEV3');
  const [cause, setCause] = useState<Cause>('unknown');
  const [services, setServices] = useState<ServiceRow[]>([{ service: '', impact: 'degraded' }]);
  const [startedAt, setStartedAt] = useState('');
  const [message, setMessage] = useState('');
  const open = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/incidents', {
          body: {
            title,
            severity,
            cause,
            services: services.filter((s) => s.service.trim() !== '').map((s) => ({ service: s.service.trim(), impact: s.impact })),
            ...(startedAt ? { startedAt: new Date(startedAt).toISOString() } : {}),
            ...(message.trim() ? { message } : {}),
          },
        }),
      ),
    onSuccess: async (incident) => {
      await queryClient.invalidateQueries({ queryKey: ['incidents'] });
      onDone(incident.id);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    open.mutate();
  };
  return (
    <form onSubmit={submit}>
      <Field label={t('opsb.incident.title')}>{(id) => <input id={id} required value={title} onChange={(e) => setTitle(e.target.value)} />}</Field>
      <div className="form-row">
        <SeverityAndCause severity={severity} onSeverity={setSeverity} cause={cause} onCause={setCause} />
        <Field label={t('opsb.incident.startedAt')} hint={t('opsb.incident.startedAtHint')}>
          {(id) => <input id={id} type="datetime-local" value={startedAt} onChange={(e) => setStartedAt(e.target.value)} />}
        </Field>
      </div>
      <fieldset className="opsb-fieldset">
        <legend>{t('opsb.incident.services')}</legend>
        <ServiceRows services={services} onChange={setServices} placeholder="batch" />
        <Button className="small" onClick={() => setServices([...services, { service: '', impact: 'degraded' }])}>
          {t('opsb.incident.addService')}
        </Button>
      </fieldset>
      <Field label={t('opsb.incident.firstMessage')}>{(id) => <textarea id={id} className="opsb-short" value={message} onChange={(e) => setMessage(e.target.value)} />}</Field>
      {open.error ? <ErrorBox error={open.error} /> : null}
      <button type="submit" className="button primary" disabled={open.isPending}>
        {t('opsb.incident.open')}
      </button>
    </form>
  );
}

export function IncidentsPage() {
  const { t, dateTime, duration } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const [openOnly, setOpenOnly] = useState(false);
  const [creating, setCreating] = useState(false);
  const incidents = useQuery({
    queryKey: ['incidents', { openOnly }],
    queryFn: () => call(api.GET('/api/incidents', { params: { query: openOnly ? { open: 'true' } : {} } })),
    refetchInterval: 5000,
  });
  const now = new Date();
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const open = (row: IncidentSummary) => void navigate({ to: '/ops/incidents/$id', params: { id: String(row.id) } });
  return (
    <Page
      title={t('opsb.incidents.title')}
      actions={me.isOperator ? <Button variant="primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>{t('opsb.incident.new')}</Button> : null}
    >
      {creating ? (
        <Card title={t('opsb.incident.new')}>
          <OpenIncidentForm onDone={(id) => void navigate({ to: '/ops/incidents/$id', params: { id: String(id) } })} />
        </Card>
      ) : null}
      <Card
        title={t('opsb.incidents.list')}
        actions={
          <label className="opsb-inline">
            <input type="checkbox" checked={openOnly} onChange={(e) => setOpenOnly(e.target.checked)} /> {t('opsb.incidents.openOnly')}
          </label>
        }
      >
        <QueryView query={incidents}>
          {(rows) => (
            <Table
              rows={rows}
              rowKey={(r) => r.id}
              caption={t('opsb.incidents.list')}
              onRowClick={open}
              columns={[
                { key: 'id', header: '#', cell: (r) => <Link to="/ops/incidents/$id" params={{ id: String(r.id) }}>#{r.id}</Link> },
                { key: 'title', header: t('opsb.incident.title'), cell: (r) => r.title },
                { key: 'severity', header: t('opsb.incident.severity'), cell: (r) => <SeverityBadge severity={r.severity} /> },
                { key: 'status', header: t('opsb.incident.status'), cell: (r) => <IncidentStatus status={r.status} /> },
                { key: 'services', header: t('opsb.incident.services'), cell: (r) => r.services.map((s) => s.service).join(', ') || '—' },
                { key: 'started', header: t('opsb.incident.startedAt'), cell: (r) => dateTime(r.startedAt) },
                {
                  key: 'duration',
                  header: t('opsb.incident.duration'),
                  cell: (r) => duration(((r.endedAt ? Date.parse(r.endedAt) : Date.now()) - Date.parse(r.startedAt)) / 1000),
                },
              ]}
            />
          )}
        </QueryView>
      </Card>
      <Card title={t('opsb.report.title')}>
        <p className="muted small">{t('opsb.report.explain')}</p>
        <ReportDownload from={dateOnly(monthStart)} to={dateOnly(addDays(now, 1))} />
      </Card>
    </Page>
  );
}

function Checklist({ incident, canEdit }: { incident: Incident; canEdit: boolean }) {
  const { t, dateTime } = useI18n();
  const queryClient = useQueryClient();
  // What the operator just ticked shows at once; the server's answer (or a refusal) then settles it.
  const [ticking, setTicking] = useState<Record<number, boolean>>({});
  const settle = (item: number) =>
    setTicking((current) => {
      const { [item]: _settled, ...rest } = current;
      return rest;
    });
  const tick = useMutation({
    mutationFn: ({ item, done }: { item: number; done: boolean }) => call(api.POST('/api/incidents/{id}/checklist/{item}', { params: { path: { id: incident.id, item: String(item) } }, body: { done } })),
    onSuccess: (updated) => queryClient.setQueryData(['incident', incident.id], updated),
    onSettled: (_data, _error, { item }) => settle(item),
  });
  return (
    <>
      <ul className="opsb-checklist">
        {incident.checklist.map((entry) => (
          <li key={entry.key}>
            <label>
              <input
                type="checkbox"
                checked={ticking[entry.item] ?? entry.done}
                disabled={!canEdit || entry.item in ticking}
                onChange={(e) => {
                  setTicking((current) => ({ ...current, [entry.item]: e.target.checked }));
                  tick.mutate({ item: entry.item, done: e.target.checked });
                }}
              />{' '}
              {entry.item}. {t(checkKey(entry.key))}
            </label>
            {entry.by ? <span className="muted small"> — {t('opsb.incident.checkedBy', { who: entry.by, when: dateTime(entry.at) })}</span> : null}
          </li>
        ))}
      </ul>
      {tick.error ? <ErrorBox error={tick.error} /> : null}
    </>
  );
}

interface ActionRow {
  action: string;
  owner: string;
  due: string;
  done: boolean;
}

function PostmortemEditor({ incident, canEdit }: { incident: Incident; canEdit: boolean }) {
  const { t, dateTime } = useI18n();
  const queryClient = useQueryClient();
  const pm = incident.postmortem;
  const [whatHappened, setWhatHappened] = useState(pm?.whatHappened ?? '');
  const [causes, setCauses] = useState(pm?.causes ?? '');
  const [prevention, setPrevention] = useState(pm?.prevention ?? '');
  const [actions, setActions] = useState<ActionRow[]>(pm?.actions ?? []);
  const save = useMutation({
    mutationFn: () => call(api.PUT('/api/incidents/{id}/postmortem', { params: { path: { id: incident.id } }, body: { whatHappened, causes, prevention, actions } })),
    onSuccess: (updated) => queryClient.setQueryData(['incident', incident.id], updated),
  });
  const setAction = (index: number, change: Partial<ActionRow>) => setActions(actions.map((a, i) => (i === index ? { ...a, ...change } : a)));
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      {pm ? <p className="muted small">{t('opsb.pm.updated', { who: pm.updatedBy, when: dateTime(pm.updatedAt) })}</p> : null}
      <Field label={t('opsb.pm.whatHappened')}>{(id) => <textarea id={id} className="opsb-short" readOnly={!canEdit} value={whatHappened} onChange={(e) => setWhatHappened(e.target.value)} />}</Field>
      <Field label={t('opsb.pm.causes')}>{(id) => <textarea id={id} className="opsb-short" readOnly={!canEdit} value={causes} onChange={(e) => setCauses(e.target.value)} />}</Field>
      <Field label={t('opsb.pm.prevention')}>{(id) => <textarea id={id} className="opsb-short" readOnly={!canEdit} value={prevention} onChange={(e) => setPrevention(e.target.value)} />}</Field>
      <fieldset className="opsb-fieldset">
        <legend>{t('opsb.pm.actions')}</legend>
        {actions.length === 0 ? <p className="muted small">{t('opsb.pm.noActions')}</p> : null}
        {actions.map((a, index) => (
          <div className="form-row" key={index}>
            <Field label={t('opsb.pm.action', { n: index + 1 })}>{(id) => <input id={id} required readOnly={!canEdit} value={a.action} onChange={(e) => setAction(index, { action: e.target.value })} />}</Field>
            <Field label={t('opsb.pm.owner', { n: index + 1 })}>{(id) => <input id={id} required readOnly={!canEdit} value={a.owner} onChange={(e) => setAction(index, { owner: e.target.value })} />}</Field>
            <Field label={t('opsb.pm.due', { n: index + 1 })}>{(id) => <input id={id} type="date" required readOnly={!canEdit} value={a.due} onChange={(e) => setAction(index, { due: e.target.value })} />}</Field>
            <label className="opsb-inline">
              <input type="checkbox" disabled={!canEdit} checked={a.done} onChange={(e) => setAction(index, { done: e.target.checked })} /> {t('opsb.pm.done')}
            </label>
            {canEdit ? (
              <Button className="small" onClick={() => setActions(actions.filter((_, i) => i !== index))}>
                {t('opsb.pm.removeAction', { n: index + 1 })}
              </Button>
            ) : null}
          </div>
        ))}
        {canEdit ? (
          <Button className="small" onClick={() => setActions([...actions, { action: '', owner: '', due: dateOnly(addDays(new Date(), 14)), done: false }])}>
            {t('opsb.pm.addAction')}
          </Button>
        ) : null}
      </fieldset>
      {save.error ? <ErrorBox error={save.error} /> : null}
      {save.isSuccess ? (
        <p role="status" className="muted">
          {t('opsb.pm.saved')}
        </p>
      ) : null}
      {canEdit ? (
        <button type="submit" className="button primary" disabled={save.isPending}>
          {t('opsb.pm.save')}
        </button>
      ) : null}
    </form>
  );
}

function UpdateForm({ incident }: { incident: Incident }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<Status | ''>('');
  const [message, setMessage] = useState('');
  const update = useMutation({
    mutationFn: () => call(api.PATCH('/api/incidents/{id}', { params: { path: { id: incident.id } }, body: { ...(status ? { status } : {}), ...(message.trim() ? { message } : {}) } })),
    onSuccess: async (updated) => {
      queryClient.setQueryData(['incident', incident.id], updated);
      setMessage('');
      setStatus('');
      await queryClient.invalidateQueries({ queryKey: ['incidents'] });
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        update.mutate();
      }}
    >
      <Field label={t('opsb.incident.newStatus')}>
        {(id) => (
          <select id={id} value={status} onChange={(e) => setStatus(e.target.value as Status | '')}>
            <option value="">{t('opsb.incident.keepStatus')}</option>
            {STATUSES.filter((s) => s !== incident.status && s !== 'resolved').map((s) => (
              <option key={s} value={s}>
                {t(statusKey(s))}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t('opsb.incident.message')}>{(id) => <textarea id={id} className="opsb-short" value={message} onChange={(e) => setMessage(e.target.value)} />}</Field>
      {update.error ? <ErrorBox error={update.error} /> : null}
      <button type="submit" className="button" disabled={update.isPending || (!status && !message.trim())}>
        {t('opsb.incident.postUpdate')}
      </button>
    </form>
  );
}

/** Title, severity, cause and services' impact as they are now known (PATCH; services not named keep theirs). */
function EditIncidentForm({ incident }: { incident: Incident }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [title, setTitle] = useState(incident.title);
  const [severity, setSeverity] = useState<Severity>(incident.severity);
  const [cause, setCause] = useState<Cause>(incident.cause);
  const [services, setServices] = useState<ServiceRow[]>([...incident.services, { service: '', impact: 'degraded' }]);
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PATCH('/api/incidents/{id}', {
          params: { path: { id: incident.id } },
          body: { title, severity, cause, services: services.filter((s) => s.service.trim() !== '').map((s) => ({ service: s.service.trim(), impact: s.impact })) },
        }),
      ),
    onSuccess: async (updated) => {
      queryClient.setQueryData(['incident', incident.id], updated);
      await queryClient.invalidateQueries({ queryKey: ['incidents'] });
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <Field label={t('opsb.incident.title')}>{(id) => <input id={id} required className="opsb-wide" value={title} onChange={(e) => setTitle(e.target.value)} />}</Field>
      <div className="form-row">
        <SeverityAndCause severity={severity} onSeverity={setSeverity} cause={cause} onCause={setCause} />
      </div>
      <fieldset className="opsb-fieldset">
        <legend>{t('opsb.incident.services')}</legend>
        <p className="muted small">{t('opsb.incident.servicesKeep')}</p>
        <ServiceRows services={services} onChange={setServices} />
      </fieldset>
      {save.error ? <ErrorBox error={save.error} /> : null}
      <button type="submit" className="button" disabled={save.isPending}>
        {t('opsb.incident.saveChanges')}
      </button>
    </form>
  );
}

export function IncidentPage({ id }: { id: number }) {
  const { t, dateTime, duration } = useI18n();
  const me = useMe();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const incident = useQuery({ queryKey: ['incident', id], queryFn: () => call(api.GET('/api/incidents/{id}', { params: { path: { id } } })), refetchInterval: 5000 });
  const resolve = async () => {
    const updated = await call(api.POST('/api/incidents/{id}/resolve', { params: { path: { id } }, body: {} }));
    queryClient.setQueryData(['incident', id], updated);
    await queryClient.invalidateQueries({ queryKey: ['incidents'] });
  };
  return (
    <Page
      title={incident.data ? `#${incident.data.id} ${incident.data.title}` : t('opsb.incident.heading', { id })}
      actions={
        <Link to="/ops/incidents" className="button">
          {t('opsb.incidents.back')}
        </Link>
      }
    >
      <QueryView query={incident}>
        {(inc) => (
          <>
            <div className="stats opsb-stats">
              <div className="stat">
                <div className="stat-value">
                  <SeverityBadge severity={inc.severity} />
                </div>
                <div className="stat-label">{t('opsb.incident.severity')}</div>
              </div>
              <div className="stat">
                <div className="stat-value">
                  <IncidentStatus status={inc.status} />
                </div>
                <div className="stat-label">{t('opsb.incident.status')}</div>
              </div>
              <div className="stat">
                <div className="stat-value opsb-stat-text">{duration(((inc.endedAt ? Date.parse(inc.endedAt) : Date.now()) - Date.parse(inc.startedAt)) / 1000)}</div>
                <div className="stat-label">{t('opsb.incident.duration')}</div>
              </div>
            </div>
            <Card title={t('opsb.incident.facts')}>
              <dl className="opsb-facts">
                <dt>{t('opsb.incident.startedAt')}</dt>
                <dd>{dateTime(inc.startedAt)}</dd>
                <dt>{t('opsb.incident.detectedAt')}</dt>
                <dd>{dateTime(inc.detectedAt)}</dd>
                <dt>{t('opsb.incident.endedAt')}</dt>
                <dd>{inc.endedAt ? dateTime(inc.endedAt) : t('opsb.incident.stillOpen')}</dd>
                <dt>{t('opsb.incident.cause')}</dt>
                <dd>{t(causeKey(inc.cause))}</dd>
                <dt>{t('opsb.incident.services')}</dt>
                <dd>{inc.services.length === 0 ? '—' : inc.services.map((s) => `${s.service}: ${t(impactKey(s.impact))}`).join(' · ')}</dd>
                <dt>{t('opsb.incident.openedBy')}</dt>
                <dd>
                  {inc.openedBy} ({t(`opsb.incident.source.${inc.source}` as MessageKey)}
                  {inc.sourceKey ? `: ${inc.sourceKey}` : ''})
                </dd>
              </dl>
              <div className="opsb-actions">
                {me.isOperator && inc.status !== 'resolved' ? (
                  <ConfirmButton label={t('opsb.incident.resolve')} question={t('opsb.incident.resolveQuestion')} variant="primary" onConfirm={resolve} />
                ) : null}
                {me.isOperator ? (
                  <Button aria-expanded={editing} onClick={() => setEditing(!editing)}>
                    {t('opsb.incident.edit')}
                  </Button>
                ) : null}
              </div>
              {editing ? (
                <Card title={t('opsb.incident.edit')} className="opsb-inner">
                  <EditIncidentForm key={inc.updatedAt} incident={inc} />
                </Card>
              ) : null}
            </Card>
            <div className="grid opsb-two">
              <Card title={t('opsb.incident.checklist')}>
                <Checklist incident={inc} canEdit={me.isOperator} />
              </Card>
              <Card title={t('opsb.incident.timeline')}>
                <ol className="opsb-timeline">
                  {inc.timeline.map((entry, index) => (
                    <li key={index}>
                      <div className="muted small">
                        {dateTime(entry.at)} · {entry.by} · {t(`opsb.incident.kind.${entry.kind}` as MessageKey)}
                        {entry.status ? <> · <IncidentStatus status={entry.status} /></> : null}
                      </div>
                      {entry.text ? <div>{entry.text}</div> : null}
                    </li>
                  ))}
                </ol>
                {me.isOperator ? <UpdateForm incident={inc} /> : null}
              </Card>
            </div>
            <Card title={t('opsb.pm.title')}>
              <PostmortemEditor key={inc.postmortem?.updatedAt ?? 'none'} incident={inc} canEdit={me.isOperator} />
            </Card>
            <Card title={t('opsb.report.title')}>
              <p className="muted small">{t('opsb.report.forIncident')}</p>
              <ReportDownload from={inc.startedAt.slice(0, 10)} to={dateOnly(addDays(inc.endedAt ? new Date(inc.endedAt) : new Date(), 1))} />
            </Card>
          </>
        )}
      </QueryView>
    </Page>
  );
}

/** /ops/incidents/$id (loaded on first visit). */
export function IncidentRoutePage() {
  const { id } = useParams({ strict: false });
  return <IncidentPage key={id} id={Number(id)} />;
}
