import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useState, type FormEvent } from 'react';
import { api, call } from '../../api/client.ts';
import { useMe } from '../../auth.tsx';
import { useI18n } from '../../i18n/index.tsx';
import { Button, Card, ErrorBox, errorMessage, Field, Page } from '../../ui/kit.tsx';
import type { SubmissionPreview } from './types.ts';

export const SCRIPT_TEMPLATE = `#!/bin/bash
#SBATCH -J my-job
#SBATCH -n 1
#SBATCH --mem=1G
#SBATCH -t 00:10:00
#SBATCH -o %x-%j.out

echo "running on $(hostname)"
`;

/** The web UI has no shell environment of its own to export: the job gets a plain PATH (plus what Keisan sets). */
const WEB_ENVIRONMENT = { PATH: '/usr/local/bin:/usr/bin:/bin' };

/** Waits until `value` has stopped changing for `ms`. */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

function PreviewView({ preview }: { preview: SubmissionPreview }) {
  const { t, bytes, duration, dateTime, number } = useI18n();
  const rows: [string, string][] = [
    [t('researcher.jobs.name'), preview.name],
    [t('researcher.jobs.queue'), preview.queue],
    [t('researcher.job.account'), `${preview.workgroup} / ${preview.subgroup}`],
    [t('researcher.job.cpus'), t('researcher.submit.cpusValue', { cpus: number(preview.cpus), ntasks: number(preview.ntasks), perTask: number(preview.cpusPerTask) })],
    [t('researcher.job.memory'), bytes(preview.memBytes)],
    [t('researcher.job.gpus'), preview.gpus > 0 ? `${preview.gpus}${preview.gpuType ? ` × ${preview.gpuType}` : ''}` : '0'],
    [t('researcher.job.timeLimit'), duration(preview.timeLimitMs / 1000)],
    [t('researcher.submit.array'), preview.arrayTasks > 0 ? t('researcher.submit.arrayValue', { n: number(preview.arrayTasks), indices: preview.arrayIndices ?? '', max: preview.arrayMaxRunning ?? '—' }) : t('researcher.submit.noArray')],
    [t('researcher.job.workdir'), preview.chdir],
    [t('researcher.job.stdout'), preview.output],
    [t('researcher.job.stderr'), preview.error],
    [t('researcher.job.eligible'), preview.eligibleAt ? dateTime(preview.eligibleAt) : t('researcher.submit.now')],
    [t('researcher.submit.held'), preview.held ? t('yes') : t('no')],
    [t('researcher.job.dependencies'), preview.dependencies.length ? preview.dependencies.map((d) => `after${d.type}:${d.jobId}`).join(', ') : '—'],
    [t('researcher.job.mail'), [preview.mail.begin ? 'BEGIN' : '', preview.mail.end ? 'END' : '', preview.mail.fail ? 'FAIL' : ''].filter(Boolean).join(', ') || '—'],
  ];
  return (
    <>
      <dl className="fields" data-testid="submit-preview">
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {preview.warnings.length > 0 ? (
        <div className="notice" role="status">
          <strong>{t('researcher.submit.warnings')}</strong>
          <ul>
            {preview.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </div>
      ) : null}
    </>
  );
}

export function SubmitJobPage() {
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [script, setScript] = useState(SCRIPT_TEMPLATE);
  const [queue, setQueue] = useState('');
  const [chdir, setChdir] = useState(me.user.home);
  const queues = useQuery({ queryKey: ['queues'], queryFn: () => call(api.GET('/api/queues')), staleTime: 60_000 });

  const body = { script, submitDir: chdir.trim() || '/', environment: WEB_ENVIRONMENT, options: queue ? { queue } : {} };
  const settled = useSettled(body, 400);
  const preview = useQuery({
    queryKey: ['jobs', 'preview', settled],
    queryFn: () => call(api.POST('/api/jobs/preview', { body: settled })),
    retry: false,
    staleTime: Infinity,
  });
  const submit = useMutation({
    mutationFn: () => call(api.POST('/api/jobs', { body })),
    onSuccess: async (result) => {
      await queryClient.invalidateQueries({ queryKey: ['jobs'] });
      await navigate({ to: '/jobs/$id', params: { id: String(result.jobs[0]) } });
    },
  });

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    submit.mutate();
  };
  const stale = settled !== body && JSON.stringify(settled) !== JSON.stringify(body);

  return (
    <Page title={t('researcher.submit.title')}>
      <form onSubmit={onSubmit} className="submit-layout">
        <Card title={t('researcher.submit.script')}>
          <Field label={t('researcher.submit.scriptLabel')} hint={t('researcher.submit.scriptHint')}>
            {(id) => <textarea id={id} name="script" className="script" rows={16} spellCheck={false} value={script} onChange={(e) => setScript(e.target.value)} />}
          </Field>
          <div className="form-row">
            <Field label={t('researcher.jobs.queue')} hint={t('researcher.submit.queueHint')}>
              {(id) => (
                <select id={id} name="queue" value={queue} onChange={(e) => setQueue(e.target.value)}>
                  <option value="">{t('researcher.submit.autoQueue')}</option>
                  {(queues.data ?? [])
                    .filter((q) => q.enabled)
                    .map((q) => (
                      <option key={q.name} value={q.name}>
                        {q.description ? `${q.name} — ${q.description}` : q.name}
                      </option>
                    ))}
                </select>
              )}
            </Field>
            <Field label={t('researcher.submit.submitDir')} hint={t('researcher.submit.submitDirHint')}>
              {(id) => <input id={id} name="submitDir" value={chdir} onChange={(e) => setChdir(e.target.value)} />}
            </Field>
          </div>
          <p className="muted small">{t('researcher.submit.environmentNote')}</p>
          {submit.error ? <ErrorBox error={submit.error} /> : null}
          <Button type="submit" variant="primary" disabled={submit.isPending}>
            {submit.isPending ? t('researcher.submit.submitting') : t('researcher.submit.submit')}
          </Button>
        </Card>
        <Card title={t('researcher.submit.parsed')}>
          <p className="muted small" role="status">
            {stale || preview.isFetching ? t('researcher.submit.checking') : preview.error ? t('researcher.submit.refused') : t('researcher.submit.accepted')}
          </p>
          {preview.error ? (
            <div className="error-box" role="alert" data-testid="preview-refusal">
              {errorMessage(preview.error)}
            </div>
          ) : preview.data ? <PreviewView preview={preview.data} /> : null}
        </Card>
      </form>
    </Page>
  );
}
