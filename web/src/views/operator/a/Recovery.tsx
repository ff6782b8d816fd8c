import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { api, call } from '../../../api/client.ts';
import { useI18n } from '../../../i18n/index.tsx';
import { Badge, Button, Card, ConfirmButton, ErrorBox, Field, Page, QueryView, Table, type Column } from '../../../ui/kit.tsx';

type RecoveryEvent = Awaited<ReturnType<typeof fetchEvents>>[number];
type PendingDecision = Awaited<ReturnType<typeof fetchPending>>[number];

interface EventFilter {
  host: string;
  since: string;
}

function fetchEvents(filter: EventFilter) {
  return call(api.GET('/api/recovery/events', { params: { query: { ...(filter.host ? { host: filter.host } : {}), ...(filter.since ? { since: filter.since } : {}), limit: 200 } } }));
}
function fetchPending() {
  return call(api.GET('/api/recovery/pending'));
}

/** "job 12", "job 12 (SLURM job 4711)", "SLURM job 4711" or "process 99", in the reader's language. */
function useVictimName() {
  const { t } = useI18n();
  return (v: { jobId: number | null; slurmJobId?: number | null; pid: number | null }) => {
    const slurm = v.slurmJobId ?? null;
    if (v.jobId !== null) return slurm !== null ? t('ops.recovery.victimJobSlurm', { job: v.jobId, slurm }) : t('ops.recovery.victimJob', { job: v.jobId });
    if (slurm !== null) return t('ops.recovery.victimSlurm', { slurm });
    return t('ops.recovery.victimProcess', { pid: v.pid ?? '?' });
  };
}

const OUTCOME_TONES: Record<RecoveryEvent['outcome'], string> = { observed: 'unknown', done: 'ok', failed: 'failed', pending: 'pending' };

export function RecoveryPage() {
  const { t, relative, dateTime } = useI18n();
  const victim = useVictimName();
  const [filter, setFilter] = useState<EventFilter>({ host: '', since: '7d' });
  const [draft, setDraft] = useState<EventFilter>(filter);
  const events = useQuery({ queryKey: ['ops', 'recovery-events', filter], queryFn: () => fetchEvents(filter), refetchInterval: 10_000 });
  const pending = useQuery({ queryKey: ['ops', 'recovery-pending'], queryFn: fetchPending, refetchInterval: 3_000 });

  const columns: Column<RecoveryEvent>[] = [
    { key: 'at', header: t('ops.recovery.at'), cell: (e) => <time dateTime={e.at} title={dateTime(e.at)}>{relative(e.at)}</time> },
    { key: 'host', header: t('ops.recovery.host'), cell: (e) => e.host },
    { key: 'victim', header: t('ops.recovery.victim'), cell: (e) => victim(e) },
    { key: 'user', header: t('ops.recovery.user'), cell: (e) => e.user ?? '—' },
    { key: 'rule', header: t('ops.recovery.rule'), cell: (e) => <code>{e.rule}</code> },
    { key: 'action', header: t('ops.recovery.action'), cell: (e) => t('ops.recovery.actionInMode', { action: e.action, mode: e.mode }) },
    { key: 'outcome', header: t('ops.recovery.outcome'), cell: (e) => <Badge value={OUTCOME_TONES[e.outcome]} label={t(`ops.recovery.outcome.${e.outcome}`)} /> },
    {
      key: 'why',
      header: t('ops.recovery.why'),
      cell: (e) => (
        <div className="ops-why">
          <div>{e.explanation}</div>
          {e.victimExplanation ? <div className="muted small">{e.victimExplanation}</div> : null}
          {e.ask?.decision ? <div className="small">{t('ops.recovery.decided', { decision: e.ask.decision, by: e.ask.decidedBy ?? '—' })}</div> : null}
          {e.error ? <div className="small ops-error-text">{e.error}</div> : null}
        </div>
      ),
    },
  ];

  function applyFilter(event: FormEvent) {
    event.preventDefault();
    setFilter({ host: draft.host.trim(), since: draft.since.trim() });
  }

  return (
    <Page title={t('ops.recovery.title')}>
      <Card title={t('ops.recovery.pendingTitle')}>
        <p className="muted small">{t('ops.recovery.pendingHint')}</p>
        <QueryView query={pending}>
          {(list) => (list.length === 0 ? <p className="muted">{t('ops.recovery.noPending')}</p> : <PendingList list={list} />)}
        </QueryView>
      </Card>
      <Card title={t('ops.recovery.eventsTitle')}>
        <form className="form-row" onSubmit={applyFilter} aria-label={t('ops.recovery.filter')}>
          <Field label={t('ops.recovery.host')}>{(id) => <input id={id} value={draft.host} onChange={(e) => setDraft({ ...draft, host: e.target.value })} size={16} />}</Field>
          <Field label={t('ops.recovery.since')} hint={t('ops.recovery.sinceHint')}>
            {(id) => <input id={id} value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.target.value })} size={10} />}
          </Field>
          <div className="field">
            <Button type="submit">{t('action.apply')}</Button>
          </div>
        </form>
        <QueryView query={events}>
          {(list) => (list.length === 0 ? <p className="muted">{t('ops.recovery.noEvents')}</p> : <Table rows={list} columns={columns} rowKey={(e) => e.id} caption={t('ops.recovery.eventsTitle')} />)}
        </QueryView>
      </Card>
    </Page>
  );
}

function PendingList({ list }: { list: PendingDecision[] }) {
  const { t, relative, dateTime } = useI18n();
  const victim = useVictimName();
  const queryClient = useQueryClient();
  const done = () => queryClient.invalidateQueries({ queryKey: ['ops'] });
  const approve = useMutation({ mutationFn: (id: number) => call(api.POST('/api/recovery/events/{id}/approve', { params: { path: { id } } })), onSuccess: done });
  const columns: Column<PendingDecision>[] = [
    { key: 'host', header: t('ops.recovery.host'), cell: (p) => p.host },
    { key: 'victim', header: t('ops.recovery.victim'), cell: (p) => victim(p) },
    { key: 'user', header: t('ops.recovery.user'), cell: (p) => p.user ?? '—' },
    { key: 'rule', header: t('ops.recovery.rule'), cell: (p) => <code>{p.rule}</code> },
    { key: 'proposed', header: t('ops.recovery.proposed'), cell: (p) => <strong>{p.proposed}</strong> },
    { key: 'frozen', header: t('ops.recovery.frozen'), cell: (p) => <time dateTime={p.frozenAt} title={dateTime(p.frozenAt)}>{relative(p.frozenAt)}</time> },
    { key: 'deadline', header: t('ops.recovery.deadline'), cell: (p) => <time dateTime={p.deadline} title={dateTime(p.deadline)}>{relative(p.deadline)}</time> },
    { key: 'why', header: t('ops.recovery.why'), cell: (p) => p.explanation },
    {
      key: 'decide',
      header: t('ops.recovery.decide'),
      cell: (p) => (
        <div className="ops-buttons">
          <ConfirmButton variant="primary" label={t('ops.recovery.approve')} question={t('ops.recovery.approveQuestion', { action: p.proposed, victim: victim(p), host: p.host })} onConfirm={() => approve.mutateAsync(p.id)} />
          <DenyButton decision={p} onDone={done} />
        </div>
      ),
    },
  ];
  return <Table rows={list} columns={columns} rowKey={(p) => p.id} caption={t('ops.recovery.pendingTitle')} />;
}

/** Deny with an optional reason (it goes to the audit log and the node's report). */
function DenyButton({ decision, onDone }: { decision: PendingDecision; onDone: () => void }) {
  const { t } = useI18n();
  const victim = useVictimName();
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const deny = useMutation({
    mutationFn: () => call(api.POST('/api/recovery/events/{id}/deny', { params: { path: { id: decision.id } }, body: reason.trim() ? { reason: reason.trim() } : {} })),
    onSuccess: () => {
      dialog.current?.close();
      onDone();
    },
  });
  return (
    <>
      <Button variant="danger" onClick={() => dialog.current?.showModal()}>
        {t('ops.recovery.deny')}
      </Button>
      <dialog ref={dialog} className="dialog" aria-label={t('ops.recovery.deny')}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            deny.mutate();
          }}
        >
          <p>{t('ops.recovery.denyQuestion', { victim: victim(decision), host: decision.host })}</p>
          <Field label={t('ops.recovery.reason')}>{(id) => <input id={id} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={1000} />}</Field>
          {deny.error ? <ErrorBox error={deny.error} /> : null}
          <div className="dialog-actions">
            <Button onClick={() => dialog.current?.close()}>{t('action.cancel')}</Button>
            <Button type="submit" variant="danger" disabled={deny.isPending}>
              {t('ops.recovery.deny')}
            </Button>
          </div>
        </form>
      </dialog>
    </>
  );
}
