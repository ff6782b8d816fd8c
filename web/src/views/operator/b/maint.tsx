import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api, call } from '../../../api/client.ts';
import { useMe } from '../../../auth.tsx';
import { useI18n, type MessageKey } from '../../../i18n/index.tsx';
import { Badge, Button, Card, ConfirmButton, ErrorBox, Field, Page, QueryView, Table } from '../../../ui/kit.tsx';
import type { Plan, PlanSummary, StepRun, TakeDownCheck } from './types.ts';

type State = PlanSummary['state'];
type Risk = PlanSummary['risk'];
type Step = Plan['stepList'][number];

const STATE_TONE: Record<State, string> = {
  draft: 'draft',
  'pending-approval': 'pending',
  approved: 'approved',
  running: 'running',
  halted: 'failed',
  completed: 'completed',
  cancelled: 'cancelled',
};
const RUN_TONE: Record<StepRun['state'], string> = { queued: 'pending', running: 'running', passed: 'ok', failed: 'failed', cancelled: 'cancelled' };
const RISKS: readonly Risk[] = ['low', 'medium', 'high'];

export function PlanState({ state }: { state: State }) {
  const { t } = useI18n();
  return <Badge value={STATE_TONE[state]} label={t(`opsb.maint.state.${state}` as MessageKey)} />;
}

function RunState({ state }: { state: StepRun['state'] }) {
  const { t } = useI18n();
  return <Badge value={RUN_TONE[state]} label={t(`opsb.maint.run.${state}` as MessageKey)} />;
}

function RiskBadge({ risk }: { risk: Risk }) {
  const { t } = useI18n();
  return <Badge value={risk === 'high' ? 'failed' : risk === 'medium' ? 'pending' : 'ok'} label={t(`opsb.maint.risk.${risk}` as MessageKey)} />;
}

/** "2026-11-24T08:00" for a datetime-local input, in the browser's zone. */
function localInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

interface StepDraft {
  kind: 'command' | 'manual';
  host: string;
  text: string;
  /** Manual: the observation. Command: an exit code (digits) or a text the output must contain. */
  expect: string;
  /** A command step's exit code and regular expression kept from an edited plan (the form does not show them). */
  exitCode?: number;
  matches?: string;
  rollback: string;
  takesDown: boolean;
}

function toStep(draft: StepDraft): Step {
  if (draft.kind === 'command') {
    const typed = draft.expect.trim();
    const exitCode = /^\d+$/.test(typed) ? Number(typed) : (draft.exitCode ?? 0);
    const contains = /^\d+$/.test(typed) || typed === '' ? undefined : draft.expect;
    const expect = { exitCode, ...(contains ? { contains } : {}), ...(draft.matches ? { matches: draft.matches } : {}) };
    return { kind: 'command', host: draft.host, command: draft.text, expect, rollback: draft.rollback, takesDown: draft.takesDown };
  }
  return { kind: 'manual', host: draft.host, instruction: draft.text, expect: draft.expect, rollback: draft.rollback, takesDown: draft.takesDown };
}

function toDraft(step: Step): StepDraft {
  if (step.kind === 'command') {
    return {
      kind: 'command',
      host: step.host,
      text: step.command,
      expect: step.expect.contains ?? String(step.expect.exitCode),
      exitCode: step.expect.exitCode,
      ...(step.expect.matches ? { matches: step.expect.matches } : {}),
      rollback: step.rollback,
      takesDown: step.takesDown,
    };
  }
  return { kind: 'manual', host: step.host, text: step.instruction, expect: step.expect, rollback: step.rollback, takesDown: step.takesDown };
}

/** A new plan (POST, then its page), or an edit of `plan` (PATCH: its approvals are void, it is a draft again). */
function PlanForm({ plan, onSaved }: { plan?: Plan; onSaved?: () => void }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const hosts = useQuery({ queryKey: ['ops-hosts'], queryFn: () => call(api.GET('/api/ops/hosts')) });
  const runbooks = useQuery({ queryKey: ['runbooks'], queryFn: () => call(api.GET('/api/ops/runbooks')) });
  const now = new Date();
  const [title, setTitle] = useState(plan?.title ?? '');
  const [risk, setRisk] = useState<Risk>(plan?.risk ?? 'low');
  const [start, setStart] = useState(localInput(plan ? new Date(plan.window.start) : now));
  const [end, setEnd] = useState(localInput(plan ? new Date(plan.window.end) : new Date(now.getTime() + 3 * 3600_000)));
  const [targets, setTargets] = useState<string[]>(plan?.targets ?? []);
  const [runbook, setRunbook] = useState(plan?.runbook ?? '');
  const [steps, setSteps] = useState<StepDraft[]>(plan ? plan.stepList.map(toDraft) : [{ kind: 'manual', host: '', text: '', expect: '', rollback: '', takesDown: true }]);
  const create = useMutation({
    mutationFn: () => {
      const body = { title, risk, window: { start: new Date(start).toISOString(), end: new Date(end).toISOString() }, targets, runbook, steps: steps.map(toStep) };
      return plan ? call(api.PATCH('/api/ops/maint/plans/{id}', { params: { path: { id: plan.id } }, body })) : call(api.POST('/api/ops/maint/plans', { body }));
    },
    onSuccess: async (saved) => {
      await queryClient.invalidateQueries({ queryKey: ['plans'] });
      if (plan) {
        queryClient.setQueryData(['plan', plan.id], saved);
        onSaved?.();
      } else void navigate({ to: '/ops/maint/$id', params: { id: String(saved.id) } });
    },
  });
  const setStep = (index: number, change: Partial<StepDraft>) => setSteps(steps.map((s, i) => (i === index ? { ...s, ...change } : s)));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <form onSubmit={submit}>
      <Field label={t('opsb.maint.title')}>{(id) => <input id={id} required value={title} onChange={(e) => setTitle(e.target.value)} />}</Field>
      <div className="form-row">
        <Field label={t('opsb.maint.risk')}>
          {(id) => (
            <select id={id} value={risk} onChange={(e) => setRisk(e.target.value as Risk)}>
              {RISKS.map((r) => (
                <option key={r} value={r}>
                  {t(`opsb.maint.risk.${r}` as MessageKey)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('opsb.maint.windowStart')}>{(id) => <input id={id} type="datetime-local" required value={start} onChange={(e) => setStart(e.target.value)} />}</Field>
        <Field label={t('opsb.maint.windowEnd')}>{(id) => <input id={id} type="datetime-local" required value={end} onChange={(e) => setEnd(e.target.value)} />}</Field>
        <Field label={t('opsb.maint.runbook')} hint={t('opsb.maint.runbookHint')}>
          {(id) => (
            <select id={id} required value={runbook} onChange={(e) => setRunbook(e.target.value)}>
              <option value="">{t('opsb.maint.choose')}</option>
              {(runbooks.data ?? []).map((r) => (
                <option key={r.name} value={r.name}>
                  {r.name} ({r.service})
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <fieldset className="opsb-fieldset">
        <legend>{t('opsb.maint.targets')}</legend>
        {hosts.error ? <ErrorBox error={hosts.error} /> : null}
        {(hosts.data ?? []).length === 0 && hosts.data ? <p className="muted small">{t('opsb.maint.noHosts')}</p> : null}
        <div className="opsb-checks">
          {(hosts.data ?? []).map((h) => (
            <label key={h.name} className="opsb-inline">
              <input type="checkbox" checked={targets.includes(h.name)} onChange={(e) => setTargets(e.target.checked ? [...targets, h.name] : targets.filter((x) => x !== h.name))} /> {h.name}
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset className="opsb-fieldset">
        <legend>{t('opsb.maint.steps')}</legend>
        {steps.map((step, index) => (
          <div key={index} className="opsb-step-edit">
            <div className="form-row">
              <Field label={t('opsb.maint.stepKind', { n: index + 1 })}>
                {(id) => (
                  <select id={id} value={step.kind} onChange={(e) => setStep(index, { kind: e.target.value as StepDraft['kind'] })}>
                    <option value="manual">{t('opsb.maint.kind.manual')}</option>
                    <option value="command">{t('opsb.maint.kind.command')}</option>
                  </select>
                )}
              </Field>
              <Field label={t('opsb.maint.stepHost', { n: index + 1 })}>
                {(id) => (
                  <select id={id} required value={step.host} onChange={(e) => setStep(index, { host: e.target.value })}>
                    <option value="">{t('opsb.maint.choose')}</option>
                    {targets.map((h) => (
                      <option key={h} value={h}>
                        {h}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              <label className="opsb-inline">
                <input type="checkbox" checked={step.takesDown} onChange={(e) => setStep(index, { takesDown: e.target.checked })} /> {t('opsb.maint.takesDown')}
              </label>
              {steps.length > 1 ? (
                <Button className="small" onClick={() => setSteps(steps.filter((_, i) => i !== index))}>
                  {t('opsb.maint.removeStep', { n: index + 1 })}
                </Button>
              ) : null}
            </div>
            <Field label={step.kind === 'command' ? t('opsb.maint.command', { n: index + 1 }) : t('opsb.maint.instruction', { n: index + 1 })}>
              {(id) => <input id={id} required className="opsb-wide" value={step.text} onChange={(e) => setStep(index, { text: e.target.value })} />}
            </Field>
            <Field label={t('opsb.maint.expect', { n: index + 1 })} hint={step.kind === 'command' ? t('opsb.maint.expectCommandHint') : t('opsb.maint.expectManualHint')}>
              {(id) => <input id={id} required={step.kind === 'manual'} className="opsb-wide" value={step.expect} onChange={(e) => setStep(index, { expect: e.target.value })} />}
            </Field>
            <Field label={t('opsb.maint.rollback', { n: index + 1 })}>{(id) => <input id={id} className="opsb-wide" value={step.rollback} onChange={(e) => setStep(index, { rollback: e.target.value })} />}</Field>
          </div>
        ))}
        <Button className="small" onClick={() => setSteps([...steps, { kind: 'manual', host: targets[0] ?? '', text: '', expect: '', rollback: '', takesDown: true }])}>
          {t('opsb.maint.addStep')}
        </Button>
      </fieldset>
      {create.error ? <ErrorBox error={create.error} /> : null}
      <button type="submit" className="button primary" disabled={create.isPending}>
        {plan ? t('opsb.maint.saveEdit') : t('opsb.maint.create')}
      </button>
    </form>
  );
}

export function PlansPage() {
  const { t, dateTime } = useI18n();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const plans = useQuery({ queryKey: ['plans'], queryFn: () => call(api.GET('/api/ops/maint/plans', { params: { query: {} } })), refetchInterval: 5000 });
  return (
    <Page
      title={t('opsb.maint.pageTitle')}
      actions={
        <Button variant="primary" aria-expanded={creating} onClick={() => setCreating(!creating)}>
          {t('opsb.maint.new')}
        </Button>
      }
    >
      {creating ? (
        <Card title={t('opsb.maint.new')}>
          <PlanForm />
        </Card>
      ) : null}
      <Card title={t('opsb.maint.list')}>
        <QueryView query={plans}>
          {(rows) => (
            <Table
              rows={rows}
              rowKey={(p) => p.id}
              caption={t('opsb.maint.list')}
              onRowClick={(p) => void navigate({ to: '/ops/maint/$id', params: { id: String(p.id) } })}
              columns={[
                { key: 'id', header: '#', cell: (p) => <Link to="/ops/maint/$id" params={{ id: String(p.id) }}>#{p.id}</Link> },
                { key: 'title', header: t('opsb.maint.title'), cell: (p) => p.title },
                { key: 'state', header: t('opsb.maint.state'), cell: (p) => <PlanState state={p.state} /> },
                { key: 'risk', header: t('opsb.maint.risk'), cell: (p) => <RiskBadge risk={p.risk} /> },
                { key: 'window', header: t('opsb.maint.window'), cell: (p) => `${dateTime(p.window.start)} – ${dateTime(p.window.end)}` },
                { key: 'targets', header: t('opsb.maint.targets'), cell: (p) => p.targets.join(', ') },
                { key: 'approvals', header: t('opsb.maint.approvals'), cell: (p) => `${p.approvals} / ${p.approvalsNeeded}` },
                { key: 'progress', header: t('opsb.maint.progress'), cell: (p) => t('opsb.maint.stepsDone', { done: Math.min(p.nextStep - 1, p.steps), total: p.steps }) },
                { key: 'author', header: t('opsb.maint.author'), cell: (p) => p.author },
              ]}
            />
          )}
        </QueryView>
      </Card>
    </Page>
  );
}

/** What the redundancy guard says about taking `hosts` down now. */
function RedundancyCheck({ hosts }: { hosts: string[] }) {
  const { t } = useI18n();
  const check = useQuery({
    queryKey: ['check-takedown', hosts],
    queryFn: () => call(api.POST('/api/ops/check-takedown', { body: { hosts } })),
    enabled: hosts.length > 0,
    refetchInterval: 10_000,
  });
  if (hosts.length === 0) return <p className="muted small">{t('opsb.guard.nothing')}</p>;
  return (
    <QueryView query={check}>
      {(result: TakeDownCheck) => (
        <div data-testid="redundancy-check">
          <p>
            <Badge value={result.allowed ? 'ok' : 'failed'} label={result.allowed ? t('opsb.guard.allowed') : t('opsb.guard.refused')} />{' '}
            <span className="muted small">{t('opsb.guard.about', { hosts: hosts.join(', ') })}</span>
          </p>
          {result.refusals.length > 0 ? (
            <ul>
              {result.refusals.map((r, i) => (
                <li key={i}>{r.reason}</li>
              ))}
            </ul>
          ) : null}
          {result.groups.length > 0 ? (
            <Table
              rows={result.groups}
              rowKey={(g) => g.group}
              caption={t('opsb.guard.groups')}
              columns={[
                { key: 'group', header: t('opsb.guard.group'), cell: (g) => g.group },
                { key: 'now', header: t('opsb.guard.healthyNow'), cell: (g) => `${g.healthyNow} / ${g.total}`, className: 'num' },
                { key: 'after', header: t('opsb.guard.healthyAfter'), cell: (g) => g.healthyAfter, className: 'num' },
                { key: 'min', header: t('opsb.guard.minimum'), cell: (g) => g.minHealthy, className: 'num' },
              ]}
            />
          ) : (
            <p className="muted small">{t('opsb.guard.noGroups')}</p>
          )}
        </div>
      )}
    </QueryView>
  );
}

function stepText(step: Step): string {
  return step.kind === 'command' ? step.command : step.instruction;
}

function stepExpect(step: Step, t: (key: MessageKey, values?: Record<string, string | number>) => string): string {
  if (step.kind === 'manual') return step.expect;
  const parts = [t('opsb.maint.exitCode', { code: step.expect.exitCode })];
  if (step.expect.contains) parts.push(t('opsb.maint.contains', { text: step.expect.contains }));
  if (step.expect.matches) parts.push(t('opsb.maint.matches', { text: step.expect.matches }));
  return parts.join(', ');
}

/** The next step of a running plan: the guard's verdict, the typed host name, then run (or confirm) it. */
function StepRunner({ plan }: { plan: Plan }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const number = plan.nextStep;
  const step = plan.stepList[number - 1];
  const [typed, setTyped] = useState('');
  const [result, setResult] = useState<'ok' | 'failed'>('ok');
  const [note, setNote] = useState('');
  const openRun = plan.runs.find((r) => r.state === 'queued' || r.state === 'running');
  const run = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/ops/maint/plans/{id}/steps/{step}', {
          params: { path: { id: plan.id, step: number } },
          body: { confirmHost: typed, ...(step?.kind === 'manual' ? { result, ...(note.trim() ? { note } : {}) } : {}) },
        }),
      ),
    onSuccess: async () => {
      setTyped('');
      setNote('');
      await queryClient.invalidateQueries({ queryKey: ['plan', plan.id] });
    },
  });
  if (!step) return null;
  if (openRun) {
    return (
      <div role="status" aria-live="polite">
        <p>
          {t('opsb.maint.withAgent', { n: openRun.step, host: openRun.host })} <RunState state={openRun.state} />
        </p>
        {openRun.output ? <pre>{openRun.output}</pre> : null}
      </div>
    );
  }
  // The server compares the same way (hostConfirmed): exact name, ignoring case and surrounding spaces.
  const matches = typed.trim().toLowerCase() === step.host.toLowerCase();
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        run.mutate();
      }}
    >
      <h3 className="opsb-h3">{t('opsb.maint.nextStep', { n: number, total: plan.steps })}</h3>
      <dl className="opsb-facts">
        <dt>{t('opsb.maint.host')}</dt>
        <dd>
          <strong className="mono">{step.host}</strong> {step.takesDown ? <Badge value="warning" label={t('opsb.maint.takesDownShort')} /> : null}
        </dd>
        <dt>{step.kind === 'command' ? t('opsb.maint.commandShort') : t('opsb.maint.instructionShort')}</dt>
        <dd className={step.kind === 'command' ? 'mono' : undefined}>{stepText(step)}</dd>
        <dt>{t('opsb.maint.expected')}</dt>
        <dd>{stepExpect(step, t)}</dd>
        {step.rollback ? (
          <>
            <dt>{t('opsb.maint.rollbackShort')}</dt>
            <dd>{step.rollback}</dd>
          </>
        ) : null}
      </dl>
      <Card title={t('opsb.guard.title')} className="opsb-inner">
        <RedundancyCheck hosts={[step.host]} />
      </Card>
      <Field label={t('opsb.maint.typeHost', { host: step.host })} hint={t('opsb.maint.typeHostHint')}>
        {(id) => <input id={id} autoComplete="off" spellCheck={false} value={typed} onChange={(e) => setTyped(e.target.value)} />}
      </Field>
      {step.kind === 'manual' ? (
        <>
          <fieldset className="opsb-fieldset">
            <legend>{t('opsb.maint.observed', { expect: step.expect })}</legend>
            <label className="opsb-inline">
              <input type="radio" name="result" value="ok" checked={result === 'ok'} onChange={() => setResult('ok')} /> {t('opsb.maint.observedOk')}
            </label>
            <label className="opsb-inline">
              <input type="radio" name="result" value="failed" checked={result === 'failed'} onChange={() => setResult('failed')} /> {t('opsb.maint.observedFailed')}
            </label>
          </fieldset>
          <Field label={t('opsb.maint.note')}>{(id) => <input id={id} className="opsb-wide" value={note} onChange={(e) => setNote(e.target.value)} />}</Field>
        </>
      ) : null}
      {run.error ? <ErrorBox error={run.error} /> : null}
      <button type="submit" className="button primary" disabled={!matches || run.isPending}>
        {step.kind === 'command' ? t('opsb.maint.runStep', { n: number }) : t('opsb.maint.confirmStep', { n: number })}
      </button>
    </form>
  );
}

function ApproveForm({ plan }: { plan: Plan }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [comment, setComment] = useState('');
  const approve = useMutation({
    mutationFn: () => call(api.POST('/api/ops/maint/plans/{id}/approve', { params: { path: { id: plan.id } }, body: { comment } })),
    onSuccess: (updated) => {
      queryClient.setQueryData(['plan', plan.id], updated);
      void queryClient.invalidateQueries({ queryKey: ['plans'] });
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        approve.mutate();
      }}
    >
      <Field label={t('opsb.maint.approveComment')}>{(id) => <input id={id} className="opsb-wide" value={comment} onChange={(e) => setComment(e.target.value)} />}</Field>
      {approve.error ? <ErrorBox error={approve.error} /> : null}
      <button type="submit" className="button primary" disabled={approve.isPending}>
        {t('opsb.maint.approve')}
      </button>
    </form>
  );
}

function RejectForm({ plan }: { plan: Plan }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const reject = useMutation({
    mutationFn: () => call(api.POST('/api/ops/maint/plans/{id}/reject', { params: { path: { id: plan.id } }, body: { reason } })),
    onSuccess: (updated) => {
      queryClient.setQueryData(['plan', plan.id], updated);
      void queryClient.invalidateQueries({ queryKey: ['plans'] });
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        reject.mutate();
      }}
    >
      <Field label={t('opsb.maint.rejectReason')}>{(id) => <input id={id} required className="opsb-wide" value={reason} onChange={(e) => setReason(e.target.value)} />}</Field>
      {reject.error ? <ErrorBox error={reject.error} /> : null}
      <button type="submit" className="button danger" disabled={reject.isPending || !reason.trim()}>
        {t('opsb.maint.reject')}
      </button>
    </form>
  );
}

function PlanActions({ plan }: { plan: Plan }) {
  const { t } = useI18n();
  const me = useMe();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);
  const act = async (request: Promise<Plan>) => {
    setError(null);
    try {
      queryClient.setQueryData(['plan', plan.id], await request);
      await queryClient.invalidateQueries({ queryKey: ['plans'] });
    } catch (cause) {
      setError(cause);
    }
  };
  const mine = plan.author === me.user.name || plan.editors.includes(me.user.name);
  const alreadyApproved = plan.approvalList.some((a) => a.valid && a.approver === me.user.name);
  const finished = plan.state === 'completed' || plan.state === 'cancelled';
  const editable = !finished && plan.state !== 'running';
  return (
    <>
      <div className="opsb-actions">
        {plan.state === 'draft' ? (
          <Button variant="primary" onClick={() => void act(call(api.POST('/api/ops/maint/plans/{id}/submit', { params: { path: { id: plan.id } } })))}>
            {t('opsb.maint.submit')}
          </Button>
        ) : null}
        {plan.state === 'approved' ? (
          <Button variant="primary" onClick={() => void act(call(api.POST('/api/ops/maint/plans/{id}/start', { params: { path: { id: plan.id } } })))}>
            {t('opsb.maint.start')}
          </Button>
        ) : null}
        {(plan.state === 'pending-approval' || plan.state === 'halted' || plan.state === 'approved') && !alreadyApproved ? (
          mine ? (
            <p className="notice">{t('opsb.maint.notYours')}</p>
          ) : (
            <Card title={t('opsb.maint.approveTitle')} className="opsb-inner">
              <p className="muted small">{t('opsb.maint.approveExplain', { hash: plan.hash.slice(0, 12) })}</p>
              <ApproveForm plan={plan} />
            </Card>
          )
        ) : null}
        {plan.state === 'pending-approval' || plan.state === 'approved' || plan.state === 'halted' ? (
          <Card title={t('opsb.maint.rejectTitle')} className="opsb-inner">
            <RejectForm plan={plan} />
          </Card>
        ) : null}
        {!finished ? (
          <ConfirmButton
            label={t('opsb.maint.cancel')}
            question={t('opsb.maint.cancelQuestion', { id: plan.id })}
            onConfirm={async () => {
              queryClient.setQueryData(['plan', plan.id], await call(api.POST('/api/ops/maint/plans/{id}/cancel', { params: { path: { id: plan.id } }, body: {} })));
              await queryClient.invalidateQueries({ queryKey: ['plans'] });
            }}
          />
        ) : null}
        {editable ? (
          <Button aria-expanded={editing} onClick={() => setEditing(!editing)}>
            {t('opsb.maint.edit')}
          </Button>
        ) : null}
        {error ? <ErrorBox error={error} /> : null}
      </div>
      {editing && editable ? (
        <Card title={t('opsb.maint.edit')} className="opsb-inner">
          <p className="notice">{t('opsb.maint.editVoids')}</p>
          <PlanForm key={plan.revision} plan={plan} onSaved={() => setEditing(false)} />
        </Card>
      ) : null}
    </>
  );
}

export function PlanPage({ id }: { id: number }) {
  const { t, dateTime } = useI18n();
  const plan = useQuery({
    queryKey: ['plan', id],
    queryFn: () => call(api.GET('/api/ops/maint/plans/{id}', { params: { path: { id } } })),
    refetchInterval: (query) => (query.state.data?.state === 'running' ? 2000 : 5000),
  });
  return (
    <Page
      title={plan.data ? `#${plan.data.id} ${plan.data.title}` : t('opsb.maint.heading', { id })}
      actions={
        <Link to="/ops/maint" className="button">
          {t('opsb.maint.back')}
        </Link>
      }
    >
      <QueryView query={plan}>
        {(p) => {
          const lastRun = (n: number) => [...p.runs].reverse().find((r) => r.step === n);
          const takenDown = [...new Set(p.stepList.filter((s) => s.takesDown).map((s) => s.host))];
          return (
            <>
              <div className="stats opsb-stats">
                <div className="stat">
                  <div className="stat-value">
                    <PlanState state={p.state} />
                  </div>
                  <div className="stat-label">{t('opsb.maint.state')}</div>
                </div>
                <div className="stat">
                  <div className="stat-value">
                    <RiskBadge risk={p.risk} />
                  </div>
                  <div className="stat-label">{t('opsb.maint.risk')}</div>
                </div>
                <div className="stat">
                  <div className="stat-value opsb-stat-text">
                    {p.approvals} / {p.approvalsNeeded}
                  </div>
                  <div className="stat-label">{t('opsb.maint.approvals')}</div>
                </div>
                <div className="stat">
                  <div className="stat-value opsb-stat-text">{t('opsb.maint.stepsDone', { done: Math.min(p.nextStep - 1, p.steps), total: p.steps })}</div>
                  <div className="stat-label">{t('opsb.maint.progress')}</div>
                </div>
              </div>
              {p.haltReason ? (
                <div className="banner tone-bad" role="alert">
                  {t('opsb.maint.halted', { reason: p.haltReason })}
                </div>
              ) : null}
              <Card title={t('opsb.maint.facts')}>
                <dl className="opsb-facts">
                  <dt>{t('opsb.maint.window')}</dt>
                  <dd>
                    {dateTime(p.window.start)} – {dateTime(p.window.end)}
                  </dd>
                  <dt>{t('opsb.maint.targets')}</dt>
                  <dd>{p.targets.join(', ')}</dd>
                  <dt>{t('opsb.maint.runbook')}</dt>
                  <dd>{p.runbook}</dd>
                  <dt>{t('opsb.maint.author')}</dt>
                  <dd>
                    {p.author}
                    {p.editors.filter((e) => e !== p.author).length > 0 ? ` (${t('opsb.maint.editors', { names: p.editors.filter((e) => e !== p.author).join(', ') })})` : ''}
                  </dd>
                  <dt>{t('opsb.maint.hash')}</dt>
                  <dd className="mono">
                    {p.hash.slice(0, 16)}… (r{p.revision})
                  </dd>
                </dl>
                <PlanActions plan={p} />
              </Card>
              {p.state === 'running' ? (
                <Card title={t('opsb.maint.runTitle')}>
                  <StepRunner plan={p} />
                </Card>
              ) : null}
              <Card title={t('opsb.maint.steps')}>
                <Table
                  rows={p.stepList.map((step, index) => ({ step, n: index + 1 }))}
                  rowKey={(r) => r.n}
                  caption={t('opsb.maint.steps')}
                  columns={[
                    { key: 'n', header: '#', cell: (r) => r.n, className: 'num' },
                    { key: 'host', header: t('opsb.maint.host'), cell: (r) => <span className="mono">{r.step.host}</span> },
                    { key: 'kind', header: t('opsb.maint.kind'), cell: (r) => t(`opsb.maint.kind.${r.step.kind}` as MessageKey) },
                    { key: 'what', header: t('opsb.maint.what'), cell: (r) => <span className={r.step.kind === 'command' ? 'mono' : undefined}>{stepText(r.step)}</span> },
                    { key: 'expect', header: t('opsb.maint.expected'), cell: (r) => stepExpect(r.step, t) },
                    {
                      key: 'state',
                      header: t('opsb.maint.result'),
                      cell: (r) => {
                        const run = lastRun(r.n);
                        if (!run) return r.n === p.nextStep && p.state === 'running' ? <Badge value="pending" label={t('opsb.maint.next')} /> : '—';
                        return (
                          <div>
                            <RunState state={run.state} /> <span className="muted small">{run.operator}</span>
                            {run.verdict ? <div className="small">{run.verdict}</div> : null}
                            {run.output ? (
                              <details>
                                <summary>{t('opsb.maint.output')}</summary>
                                <pre>{run.output}</pre>
                              </details>
                            ) : null}
                          </div>
                        );
                      },
                    },
                  ]}
                />
              </Card>
              <div className="grid opsb-two">
                <Card title={t('opsb.maint.approvalList')}>
                  {p.approvalList.length === 0 ? (
                    <p className="muted">{t('opsb.maint.noApprovals')}</p>
                  ) : (
                    <ul>
                      {p.approvalList.map((a, i) => (
                        <li key={i}>
                          <strong>{a.approver}</strong> · {dateTime(a.approvedAt)} <Badge value={a.valid ? 'approved' : 'cancelled'} label={a.valid ? t('opsb.maint.valid') : t('opsb.maint.void')} />
                          {a.comment ? <div>{a.comment}</div> : null}
                          {a.voidReason ? <div className="muted small">{a.voidReason}</div> : null}
                        </li>
                      ))}
                    </ul>
                  )}
                </Card>
                <Card title={t('opsb.guard.planTitle')}>
                  <RedundancyCheck hosts={takenDown} />
                </Card>
              </div>
            </>
          );
        }}
      </QueryView>
    </Page>
  );
}

/** /ops/maint/$id (loaded on first visit). */
export function PlanRoutePage() {
  const { id } = useParams({ strict: false });
  return <PlanPage key={id} id={Number(id)} />;
}
