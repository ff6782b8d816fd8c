import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState } from 'react';
import { api, call } from '../../api/client.ts';
import { useMe } from '../../auth.tsx';
import { useI18n, type Translate } from '../../i18n/index.tsx';
import { Badge, Card, Field, Page, QueryView, Table, type Column } from '../../ui/kit.tsx';
import { jobStateLabel } from './labels.ts';
import { JOB_STATES, type Job } from './types.ts';

/** One row of the list: a plain job, or an array with its tasks counted by state. */
export interface JobRow {
  key: string;
  /** The job (or the array's first task, whose id is the array's id). */
  head: Job;
  tasks: Job[];
}

/** Groups the tasks of each array under its id; plain jobs stay as they are; newest first. */
export function groupArrays(jobs: readonly Job[]): JobRow[] {
  const rows = new Map<string, JobRow>();
  for (const job of jobs) {
    const key = job.arrayJobId === null ? `job-${job.id}` : `array-${job.arrayJobId}`;
    const row = rows.get(key);
    if (!row) rows.set(key, { key, head: job, tasks: [job] });
    else {
      row.tasks.push(job);
      if (job.id < row.head.id) row.head = job;
    }
  }
  return [...rows.values()].sort((a, b) => b.head.id - a.head.id);
}

/** "3 running, 5 pending" for an array's tasks. */
function taskSummary(t: Translate, tasks: readonly Job[]): string {
  const counts = new Map<string, number>();
  for (const task of tasks) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${n} ${jobStateLabel(t, state)}`).join(', ');
}

export function JobsPage() {
  const { t, relative, duration } = useI18n();
  const me = useMe();
  const [state, setState] = useState('');
  const [queue, setQueue] = useState('');
  const [everyone, setEveryone] = useState(false);
  const mayListAll = me.isOperator || me.adminOf.workgroups.length > 0 || me.adminOf.subgroups.length > 0;
  const queues = useQuery({ queryKey: ['queues'], queryFn: () => call(api.GET('/api/queues')), staleTime: 60_000 });
  const jobs = useQuery({
    queryKey: ['jobs', { state, queue, everyone }],
    queryFn: () =>
      call(
        api.GET('/api/jobs', {
          params: { query: { ...(state ? { state } : {}), ...(queue ? { queue } : {}), all: everyone ? 'true' : 'false', limit: 1000 } },
        }),
      ),
    refetchInterval: 3000,
  });

  const columns: Column<JobRow>[] = [
    {
      key: 'id',
      header: t('researcher.jobs.id'),
      cell: (row) => (
        <Link to="/jobs/$id" params={{ id: String(row.head.id) }}>
          {row.head.arrayJobId === null ? row.head.id : `${row.head.arrayJobId}[]`}
        </Link>
      ),
    },
    { key: 'name', header: t('researcher.jobs.name'), cell: (row) => row.head.name },
    ...(everyone ? [{ key: 'user', header: t('researcher.jobs.user'), cell: (row: JobRow) => row.head.user }] : []),
    { key: 'queue', header: t('researcher.jobs.queue'), cell: (row) => row.head.queue },
    {
      key: 'state',
      header: t('researcher.jobs.state'),
      cell: (row) =>
        row.head.arrayJobId === null ? (
          <>
            <Badge value={row.head.state} label={jobStateLabel(t, row.head.state)} />
            {row.head.held ? <Badge value="held" label={t('researcher.state.held')} /> : null}
          </>
        ) : (
          <span>
            {t('researcher.jobs.arrayTasks', { n: row.tasks.length })}: {taskSummary(t, row.tasks)}
          </span>
        ),
    },
    { key: 'resources', header: t('researcher.jobs.resources'), cell: (row) => t('researcher.jobs.resourcesValue', { cpus: row.head.cpus, gpus: row.head.gpus }) },
    { key: 'submitted', header: t('researcher.jobs.submitted'), cell: (row) => relative(row.head.submittedAt) },
    {
      key: 'elapsed',
      header: t('researcher.jobs.elapsed'),
      cell: (row) => (row.head.startedAt ? duration(((row.head.endedAt ? Date.parse(row.head.endedAt) : Date.now()) - Date.parse(row.head.startedAt)) / 1000) : '—'),
      className: 'num',
    },
  ];

  return (
    <Page title={t('researcher.jobs.title')} actions={<Link to="/jobs/new" className="button primary">{t('researcher.jobs.submit')}</Link>}>
      <Card>
        <form className="form-row" onSubmit={(e) => e.preventDefault()} aria-label={t('researcher.jobs.filters')}>
          <Field label={t('researcher.jobs.state')}>
            {(id) => (
              <select id={id} value={state} onChange={(e) => setState(e.target.value)}>
                <option value="">{t('researcher.jobs.anyState')}</option>
                <option value="pending,running">{t('researcher.jobs.active')}</option>
                {JOB_STATES.map((s) => (
                  <option key={s} value={s}>
                    {jobStateLabel(t, s)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t('researcher.jobs.queue')}>
            {(id) => (
              <select id={id} value={queue} onChange={(e) => setQueue(e.target.value)}>
                <option value="">{t('researcher.jobs.anyQueue')}</option>
                {(queues.data ?? []).map((q) => (
                  <option key={q.name} value={q.name}>
                    {q.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {mayListAll ? (
            <label className="checkbox">
              <input type="checkbox" checked={everyone} onChange={(e) => setEveryone(e.target.checked)} /> {t('researcher.jobs.everyone')}
            </label>
          ) : null}
        </form>
      </Card>
      <QueryView query={jobs}>{(list) => <Table rows={groupArrays(list)} rowKey={(row) => row.key} columns={columns} caption={t('researcher.jobs.title')} />}</QueryView>
    </Page>
  );
}
