import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { api, call } from '../../api/client.ts';
import { useMe } from '../../auth.tsx';
import { useI18n } from '../../i18n/index.tsx';
import { Badge, Button, Card, ConfirmButton, ErrorBox, Page, QueryView, Table } from '../../ui/kit.tsx';
import { jobStateLabel } from './labels.ts';
import { FINAL_JOB_STATES, type Job } from './types.ts';

type Stream = 'output' | 'error';

/** A job's output file, read on from where the last read ended while the job runs; stops when the job has ended and everything was read. */
function useJobStream(id: number, stream: Stream, jobState: string | undefined) {
  const [text, setText] = useState('');
  const [path, setPath] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [complete, setComplete] = useState(false);
  const offset = useRef(0);
  const ended = jobState !== undefined && FINAL_JOB_STATES.has(jobState);

  useEffect(() => {
    offset.current = 0;
    setText('');
    setComplete(false);
    setError(null);
  }, [id, stream]);

  useEffect(() => {
    if (jobState === undefined || jobState === 'pending' || complete) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const chunk = await call(api.GET('/api/jobs/{id}/output', { params: { path: { id }, query: { stream, offset: offset.current } } }));
        if (cancelled) return;
        setPath(chunk.path);
        setError(null);
        if (chunk.text) setText((before) => before + chunk.text);
        offset.current = chunk.offset;
        if (chunk.done && chunk.offset >= chunk.size) {
          setComplete(true);
          return;
        }
        timer = setTimeout(() => void read(), chunk.offset < chunk.size ? 0 : 1500);
      } catch (cause) {
        if (cancelled) return;
        setError(cause);
        if (!ended) timer = setTimeout(() => void read(), 3000);
      }
    };
    void read();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  }, [id, stream, jobState, ended, complete]);

  return { text, path, error, complete };
}

function OutputView({ job }: { job: Job }) {
  const { t } = useI18n();
  const [stream, setStream] = useState<Stream>('output');
  const output = useJobStream(job.id, stream, job.state);
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const element = pre.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [output.text]);
  const sameFile = job.output === job.error;
  return (
    <Card
      title={t('researcher.job.output')}
      actions={
        sameFile ? null : (
          <div role="group" aria-label={t('researcher.job.stream')} className="button-group">
            <Button aria-pressed={stream === 'output'} onClick={() => setStream('output')}>
              {t('researcher.job.stdout')}
            </Button>
            <Button aria-pressed={stream === 'error'} onClick={() => setStream('error')}>
              {t('researcher.job.stderr')}
            </Button>
          </div>
        )
      }
    >
      {output.path ? <p className="muted small">{output.path}</p> : null}
      {job.state === 'pending' ? <p className="muted">{t('researcher.job.outputPending')}</p> : null}
      {output.error ? <ErrorBox error={output.error} /> : null}
      <pre ref={pre} className="job-output" data-testid={`job-${stream}`} tabIndex={0} aria-label={stream === 'output' ? t('researcher.job.stdout') : t('researcher.job.stderr')}>
        {output.text}
      </pre>
      <p className="muted small" role="status">
        {output.complete ? t('researcher.job.outputComplete') : job.state === 'running' ? t('researcher.job.outputFollowing') : ''}
      </p>
    </Card>
  );
}

function WhyPending({ id }: { id: number }) {
  const { t } = useI18n();
  const why = useQuery({ queryKey: ['jobs', id, 'why'], queryFn: () => call(api.GET('/api/jobs/{id}/why', { params: { path: { id } } })), refetchInterval: 5000 });
  return (
    <Card title={t('researcher.job.whyPending')}>
      <QueryView query={why}>{(answer) => <p data-testid="why-pending">{answer.text}</p>}</QueryView>
    </Card>
  );
}

function ArrayTasks({ job }: { job: Job }) {
  const { t } = useI18n();
  const tasks = useQuery({
    queryKey: ['jobs', 'array', job.arrayJobId, job.user],
    // Without all=true: a researcher may list only their own jobs that way, and an admin sees the user's jobs they may manage.
    queryFn: () => call(api.GET('/api/jobs', { params: { query: { user: job.user, limit: 100_000 } } })),
    select: (list) => list.filter((j) => j.arrayJobId === job.arrayJobId).sort((a, b) => (a.arrayTaskId ?? 0) - (b.arrayTaskId ?? 0)),
    refetchInterval: 3000,
  });
  return (
    <Card title={t('researcher.job.arrayTasks', { id: job.arrayJobId ?? '' })}>
      <QueryView query={tasks}>
        {(list) => (
          <Table
            rows={list}
            rowKey={(task) => task.id}
            caption={t('researcher.job.arrayTasks', { id: job.arrayJobId ?? '' })}
            columns={[
              { key: 'task', header: t('researcher.job.task'), cell: (task) => <Link to="/jobs/$id" params={{ id: String(task.id) }}>{`${task.arrayJobId}_${task.arrayTaskId}`}</Link> },
              { key: 'id', header: t('researcher.jobs.id'), cell: (task) => task.id },
              { key: 'state', header: t('researcher.jobs.state'), cell: (task) => <Badge value={task.state} label={jobStateLabel(t, task.state)} /> },
              { key: 'node', header: t('researcher.job.node'), cell: (task) => task.node ?? '—' },
              { key: 'exit', header: t('researcher.job.exitCode'), cell: (task) => task.exitCode ?? '—', className: 'num' },
            ]}
          />
        )}
      </QueryView>
    </Card>
  );
}

export function JobDetailPage() {
  const { t, dateTime, bytes, duration, number } = useI18n();
  const me = useMe();
  const { id: idText } = useParams({ strict: false }) as { id: string };
  const id = Number(idText);
  const queryClient = useQueryClient();
  const job = useQuery({
    queryKey: ['jobs', id],
    queryFn: () => call(api.GET('/api/jobs/{id}', { params: { path: { id } } })),
    refetchInterval: (query) => (query.state.data && FINAL_JOB_STATES.has(query.state.data.state) ? false : 2000),
  });
  const action = useMutation({
    mutationFn: async (what: 'hold' | 'release') =>
      what === 'hold' ? call(api.POST('/api/jobs/{id}/hold', { params: { path: { id } } })) : call(api.POST('/api/jobs/{id}/release', { params: { path: { id } } })),
    onSuccess: (updated) => {
      queryClient.setQueryData(['jobs', id], updated);
      void queryClient.invalidateQueries({ queryKey: ['jobs'] });
    },
  });
  const cancel = async () => {
    const updated = await call(api.POST('/api/jobs/{id}/cancel', { params: { path: { id } } }));
    queryClient.setQueryData(['jobs', id], updated);
    void queryClient.invalidateQueries({ queryKey: ['jobs'] });
  };

  return (
    <Page title={t('researcher.job.title', { id: idText })} actions={<Link to="/jobs">{t('researcher.job.backToList')}</Link>}>
      <QueryView query={job}>
        {(j) => {
          const active = !FINAL_JOB_STATES.has(j.state);
          const mine = j.user === me.user.name;
          const mayAct = active && (mine || me.isOperator || me.adminOf.workgroups.includes(j.workgroup) || me.adminOf.subgroups.includes(j.subgroup));
          const elapsed = j.startedAt ? ((j.endedAt ? Date.parse(j.endedAt) : Date.now()) - Date.parse(j.startedAt)) / 1000 : null;
          const fields: [string, ReactNode][] = [
            [t('researcher.jobs.name'), j.name],
            [t('researcher.jobs.user'), j.user],
            [t('researcher.job.account'), `${j.workgroup} / ${j.subgroup}`],
            [t('researcher.jobs.queue'), j.queue],
            [t('researcher.job.cpus'), number(j.cpus)],
            [t('researcher.job.memory'), bytes(j.memBytes)],
            [t('researcher.job.gpus'), j.gpus > 0 ? `${j.gpus}${j.gpuType ? ` × ${j.gpuType}` : ''}${j.gpuIndices.length ? ` (${j.gpuIndices.join(', ')})` : ''}` : '0'],
            [t('researcher.job.timeLimit'), duration(j.timeLimitMs / 1000)],
            [t('researcher.job.node'), j.node ?? '—'],
            [t('researcher.jobs.submitted'), dateTime(j.submittedAt)],
            [t('researcher.job.eligible'), j.eligibleAt ? dateTime(j.eligibleAt) : '—'],
            [t('researcher.job.started'), j.startedAt ? dateTime(j.startedAt) : '—'],
            [t('researcher.job.ended'), j.endedAt ? dateTime(j.endedAt) : '—'],
            [t('researcher.jobs.elapsed'), duration(elapsed)],
            [t('researcher.job.exitCode'), j.exitCode === null ? (j.exitSignal ?? '—') : `${j.exitCode}${j.exitSignal ? ` (${j.exitSignal})` : ''}`],
            [t('researcher.job.reason'), j.reason ?? '—'],
            [t('researcher.job.cpuTime'), duration(j.cpuSeconds)],
            [t('researcher.job.maxRss'), bytes(j.maxRssBytes)],
            [t('researcher.job.gpuTime'), duration(j.gpuSeconds)],
            [t('researcher.job.dependencies'), j.dependencies.length ? j.dependencies.map((d) => `after${d.type}:${d.jobId}`).join(', ') : '—'],
            [t('researcher.job.workdir'), j.chdir],
            [t('researcher.job.stdout'), j.output],
            [t('researcher.job.stderr'), j.error],
            [t('researcher.job.args'), j.args.length ? j.args.join(' ') : '—'],
            [t('researcher.job.mail'), [j.mail.begin ? 'BEGIN' : '', j.mail.end ? 'END' : '', j.mail.fail ? 'FAIL' : ''].filter(Boolean).join(', ') || '—'],
            ...(j.externalId ? ([[t('researcher.job.externalId'), j.externalId]] as [string, ReactNode][]) : []),
          ];
          return (
            <>
              <Card
                title={t('researcher.job.summary')}
                actions={
                  mayAct ? (
                    <div className="button-group">
                      {j.state === 'pending' && !j.held ? (
                        <Button onClick={() => action.mutate('hold')} disabled={action.isPending}>
                          {t('researcher.job.hold')}
                        </Button>
                      ) : null}
                      {j.state === 'pending' && j.held ? (
                        <Button onClick={() => action.mutate('release')} disabled={action.isPending}>
                          {t('researcher.job.release')}
                        </Button>
                      ) : null}
                      <ConfirmButton label={t('researcher.job.cancel')} question={t('researcher.job.cancelQuestion', { id: j.id, name: j.name })} onConfirm={cancel} />
                    </div>
                  ) : null
                }
              >
                <p className="job-state">
                  <Badge value={j.state} label={jobStateLabel(t, j.state)} />
                  {j.held ? <Badge value="held" label={t('researcher.state.held')} /> : null}
                  {j.arrayJobId !== null ? <span className="muted"> {t('researcher.job.taskOf', { task: j.arrayTaskId ?? '', array: j.arrayJobId })}</span> : null}
                </p>
                {action.error ? <ErrorBox error={action.error} /> : null}
                <dl className="fields">
                  {fields.map(([label, value]) => (
                    <div key={label}>
                      <dt>{label}</dt>
                      <dd>{value}</dd>
                    </div>
                  ))}
                </dl>
              </Card>
              {j.state === 'pending' ? <WhyPending id={j.id} /> : null}
              <OutputView job={j} />
              {j.arrayJobId !== null ? <ArrayTasks job={j} /> : null}
              <Card title={t('researcher.job.history')}>
                <ol className="plain-list">
                  {j.transitions.map((transition, index) => (
                    <li key={index}>
                      {dateTime(transition.at)} — {transition.state === 'held' ? t('researcher.state.held') : jobStateLabel(t, transition.state)}
                    </li>
                  ))}
                </ol>
              </Card>
            </>
          );
        }}
      </QueryView>
    </Page>
  );
}
