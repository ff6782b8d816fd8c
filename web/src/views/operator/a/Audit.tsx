import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, call } from '../../../api/client.ts';
import { useI18n } from '../../../i18n/index.tsx';
import { Badge, Button, Field, Page, QueryView, Table, type Column } from '../../../ui/kit.tsx';

const PAGE_SIZE = 50;
const OUTCOMES = ['ok', 'denied', 'failed'] as const;

interface AuditFilter {
  actor: string;
  action: string;
  target: string;
  outcome: '' | (typeof OUTCOMES)[number];
  since: string;
}
const NO_FILTER: AuditFilter = { actor: '', action: '', target: '', outcome: '', since: '' };

type AuditEntry = Awaited<ReturnType<typeof fetchAudit>>[number];

function fetchAudit(filter: AuditFilter, before: number | undefined) {
  const query = {
    limit: PAGE_SIZE + 1,
    ...(filter.actor ? { actor: filter.actor } : {}),
    ...(filter.action ? { action: filter.action } : {}),
    ...(filter.target ? { target: filter.target } : {}),
    ...(filter.outcome ? { outcome: filter.outcome } : {}),
    ...(filter.since ? { since: filter.since } : {}),
    ...(before !== undefined ? { before } : {}),
  };
  return call(api.GET('/api/audit', { params: { query } }));
}

/** A detail object in one line: key=value pairs, objects as JSON. */
function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join('  ');
}

export function AuditPage() {
  const { t, dateTime } = useI18n();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<AuditFilter>(NO_FILTER);
  const [filter, setFilter] = useState<AuditFilter>(NO_FILTER);
  // The ids each page starts before: [undefined] is the newest page.
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const before = cursors[cursors.length - 1];
  const audit = useQuery({ queryKey: ['ops', 'audit', filter, before], queryFn: () => fetchAudit(filter, before), placeholderData: (previous) => previous });

  function apply(event: FormEvent) {
    event.preventDefault();
    setFilter({ actor: draft.actor.trim(), action: draft.action.trim(), target: draft.target.trim(), outcome: draft.outcome, since: draft.since.trim() });
    setCursors([undefined]);
    // "Show" again with the same filter asks the server again (new entries may have come).
    void queryClient.invalidateQueries({ queryKey: ['ops', 'audit'] });
  }

  const columns: Column<AuditEntry>[] = [
    { key: 'at', header: t('ops.audit.at'), className: 'ops-when', cell: (e) => <time dateTime={e.at}>{dateTime(e.at)}</time> },
    { key: 'actor', header: t('ops.audit.actor'), cell: (e) => e.actor },
    { key: 'action', header: t('ops.audit.action'), cell: (e) => <code>{e.action}</code> },
    { key: 'target', header: t('ops.audit.target'), className: 'ops-target', cell: (e) => (e.target ? `${e.targetType} ${e.target}` : e.targetType) },
    { key: 'outcome', header: t('ops.audit.outcome'), cell: (e) => <Badge value={e.outcome === 'ok' ? 'ok' : e.outcome === 'denied' ? 'warning' : 'failed'} label={t(`ops.audit.outcome.${e.outcome}`)} /> },
    { key: 'detail', header: t('ops.audit.detail'), cell: (e) => <span className="mono small ops-detail">{detailText(e.detail)}</span> },
    { key: 'address', header: t('ops.audit.address'), cell: (e) => e.address ?? '—' },
  ];

  return (
    <Page title={t('ops.audit.title')}>
      <form className="form-row card" onSubmit={apply} aria-label={t('ops.audit.filter')}>
        <Field label={t('ops.audit.actor')}>{(id) => <input id={id} name="actor" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} size={12} />}</Field>
        <Field label={t('ops.audit.action')} hint={t('ops.audit.actionHint')}>
          {(id) => <input id={id} name="action" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })} size={16} />}
        </Field>
        <Field label={t('ops.audit.target')}>{(id) => <input id={id} name="target" value={draft.target} onChange={(e) => setDraft({ ...draft, target: e.target.value })} size={14} />}</Field>
        <Field label={t('ops.audit.outcome')}>
          {(id) => (
            <select id={id} name="outcome" value={draft.outcome} onChange={(e) => setDraft({ ...draft, outcome: e.target.value as AuditFilter['outcome'] })}>
              <option value="">{t('ops.audit.anyOutcome')}</option>
              {OUTCOMES.map((o) => (
                <option key={o} value={o}>
                  {t(`ops.audit.outcome.${o}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('ops.audit.since')} hint={t('ops.audit.sinceHint')}>
          {(id) => <input id={id} name="since" value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.target.value })} size={12} />}
        </Field>
        <div className="field">
          <Button type="submit" variant="primary">
            {t('ops.audit.apply')}
          </Button>
        </div>
      </form>
      <QueryView query={audit}>
        {(rows) => {
          const shown = rows.slice(0, PAGE_SIZE);
          const hasOlder = rows.length > PAGE_SIZE;
          return (
            <div aria-busy={audit.isPlaceholderData} className={audit.isPlaceholderData ? 'ops-stale' : undefined}>
              <Table rows={shown} columns={columns} rowKey={(e) => e.id} caption={t('ops.audit.title')} />
              <nav className="ops-pager" aria-label={t('ops.audit.pages')}>
                <Button disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
                  {t('ops.audit.newer')}
                </Button>
                <span className="muted small">{t('ops.audit.page', { n: cursors.length })}</span>
                <Button disabled={!hasOlder} onClick={() => setCursors([...cursors, shown[shown.length - 1]!.id])}>
                  {t('ops.audit.older')}
                </Button>
              </nav>
            </div>
          );
        }}
      </QueryView>
    </Page>
  );
}
