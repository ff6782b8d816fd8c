import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { api, call } from '../../api/client.ts';
import type { paths } from '../../api/schema';
import { useMe, type Me } from '../../auth.tsx';
import { useI18n } from '../../i18n/index.tsx';
import { Badge, Button, Card, ErrorBox, Field, Meter, Page, QueryView, Table } from '../../ui/kit.tsx';

type Subgroup = paths['/api/subgroups']['get']['responses'][200]['content']['application/json'][number];
type Queue = paths['/api/queues']['get']['responses'][200]['content']['application/json'][number];

/** The workgroups this user looks after: every one for operators, else those they (or one of their subgroups) administer. */
function myWorkgroups(me: Me, workgroups: { name: string; subgroups: string[] }[]): string[] {
  if (me.isOperator) return workgroups.map((w) => w.name);
  return workgroups.filter((w) => me.adminOf.workgroups.includes(w.name) || w.subgroups.some((s) => me.adminOf.subgroups.includes(s))).map((w) => w.name);
}

export function GroupsPage() {
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const workgroups = useQuery({ queryKey: ['workgroups'], queryFn: () => call(api.GET('/api/workgroups')) });
  return (
    <Page title={t('admin.groups.title')}>
      <Card title={t('admin.groups.list')}>
        <QueryView query={workgroups}>
          {(all) => {
            const mine = new Set(myWorkgroups(me, all));
            const rows = all.filter((w) => mine.has(w.name));
            return (
              <Table
                rows={rows}
                rowKey={(w) => w.name}
                caption={t('admin.groups.list')}
                onRowClick={(w) => void navigate({ to: '/groups/$name', params: { name: w.name } })}
                columns={[
                  { key: 'name', header: t('admin.groups.workgroup'), cell: (w) => <Link to="/groups/$name" params={{ name: w.name }}>{w.name}</Link> },
                  { key: 'description', header: t('admin.groups.description'), cell: (w) => w.description || '—' },
                  { key: 'subgroups', header: t('admin.groups.subgroups'), cell: (w) => w.subgroups.join(', ') || '—' },
                  { key: 'admins', header: t('admin.groups.admins'), cell: (w) => w.admins.join(', ') || '—' },
                  { key: 'role', header: t('admin.groups.yourRole'), cell: (w) => <Badge value="ok" label={me.adminOf.workgroups.includes(w.name) ? t('admin.role.workgroupAdmin') : me.isOperator ? t('admin.role.operator') : t('admin.role.subgroupAdmin')} /> },
                ]}
              />
            );
          }}
        </QueryView>
      </Card>
    </Page>
  );
}

function SubgroupMembers({ subgroup, canManage, canGrant, fullNames }: { subgroup: Subgroup; canManage: boolean; canGrant: boolean; fullNames: Map<string, string> }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [user, setUser] = useState('');
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['group'] });
  const add = useMutation({
    mutationFn: () => call(api.PUT('/api/subgroups/{name}/members/{user}', { params: { path: { name: subgroup.name, user: user.trim() } } })),
    onSuccess: async () => {
      setUser('');
      await refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (name: string) => call(api.DELETE('/api/subgroups/{name}/members/{user}', { params: { path: { name: subgroup.name, user: name } } })),
    onSuccess: refresh,
  });
  const grant = useMutation({
    mutationFn: ({ user: name, admin }: { user: string; admin: boolean }) =>
      admin
        ? call(api.PUT('/api/subgroups/{name}/admins/{user}', { params: { path: { name: subgroup.name, user: name } } }))
        : call(api.DELETE('/api/subgroups/{name}/admins/{user}', { params: { path: { name: subgroup.name, user: name } } })),
    onSuccess: refresh,
  });
  const rows = [...subgroup.primaryMembers.map((name) => ({ name, primary: true })), ...subgroup.extraMembers.map((name) => ({ name, primary: false }))];
  return (
    <Card title={t('admin.subgroup.title', { name: subgroup.name })}>
      <p className="muted small">
        {subgroup.description ? `${subgroup.description} · ` : ''}
        {t('admin.subgroup.admins', { names: subgroup.admins.join(', ') || '—' })}
      </p>
      <Table
        rows={rows}
        rowKey={(r) => r.name}
        caption={t('admin.subgroup.members', { name: subgroup.name })}
        columns={[
          { key: 'name', header: t('admin.member.user'), cell: (r) => r.name },
          { key: 'fullName', header: t('admin.member.fullName'), cell: (r) => fullNames.get(r.name) ?? '' },
          { key: 'kind', header: t('admin.member.kind'), cell: (r) => (r.primary ? t('admin.member.primary') : t('admin.member.extra')) },
          {
            key: 'admin',
            header: t('admin.member.admin'),
            cell: (r) => {
              const isAdmin = subgroup.admins.includes(r.name);
              return (
                <>
                  {isAdmin ? <Badge value="ok" label={t('admin.member.isAdmin')} /> : null}{' '}
                  {canGrant ? (
                    <Button className="small" disabled={grant.isPending} onClick={() => grant.mutate({ user: r.name, admin: !isAdmin })}>
                      {isAdmin ? t('admin.member.revokeAdmin', { user: r.name }) : t('admin.member.grantAdmin', { user: r.name })}
                    </Button>
                  ) : null}
                </>
              );
            },
          },
          {
            key: 'act',
            header: t('admin.member.actions'),
            cell: (r) =>
              canManage && !r.primary ? (
                <Button className="small" disabled={remove.isPending} onClick={() => remove.mutate(r.name)}>
                  {t('admin.member.remove', { user: r.name, subgroup: subgroup.name })}
                </Button>
              ) : (
                ''
              ),
          },
        ]}
      />
      {remove.error ? <ErrorBox error={remove.error} /> : null}
      {grant.error ? <ErrorBox error={grant.error} /> : null}
      {canManage ? (
        <form
          className="form-row"
          onSubmit={(event) => {
            event.preventDefault();
            add.mutate();
          }}
        >
          <Field label={t('admin.member.addLabel', { subgroup: subgroup.name })} hint={t('admin.member.addHint')}>
            {(id) => <input id={id} required value={user} onChange={(e) => setUser(e.target.value)} />}
          </Field>
          <div className="field">
            <button type="submit" className="button" disabled={add.isPending}>
              {t('admin.member.add', { subgroup: subgroup.name })}
            </button>
          </div>
        </form>
      ) : null}
      {add.error ? <ErrorBox error={add.error} /> : null}
    </Card>
  );
}

const PERIODS = [7, 30, 90, 365] as const;

function JobUsage({ workgroup, subgroups }: { workgroup: string; subgroups: string[] }) {
  const { t, number } = useI18n();
  const [days, setDays] = useState<(typeof PERIODS)[number]>(30);
  const bySubgroup = useQuery({ queryKey: ['group', 'usage', 'subgroup', days], queryFn: () => call(api.GET('/api/usage', { params: { query: { by: 'subgroup', from: `${days}d` } } })) });
  const byUser = useQuery({ queryKey: ['group', 'usage', 'user', days], queryFn: () => call(api.GET('/api/usage', { params: { query: { by: 'user', from: `${days}d` } } })) });
  const members = useQuery({ queryKey: ['group', 'users', workgroup], queryFn: () => call(api.GET('/api/users', { params: { query: { workgroup } } })) });
  const memberNames = new Set((members.data ?? []).map((u) => u.name));
  type Row = NonNullable<typeof bySubgroup.data>[number];
  const columns = (first: string) => [
    { key: 'key', header: first, cell: (r: Row) => r.key },
    { key: 'jobs', header: t('admin.usage.jobs'), cell: (r: Row) => number(r.jobs), className: 'num' },
    { key: 'failed', header: t('admin.usage.failed'), cell: (r: Row) => number(r.failed), className: 'num' },
    { key: 'core', header: t('admin.usage.coreHours'), cell: (r: Row) => number(r.coreHours, 1), className: 'num' },
    { key: 'gpu', header: t('admin.usage.gpuHours'), cell: (r: Row) => number(r.gpuHours, 1), className: 'num' },
    { key: 'wall', header: t('admin.usage.wallHours'), cell: (r: Row) => number(r.wallHours, 1), className: 'num' },
  ];
  return (
    <Card
      title={t('admin.usage.title')}
      actions={
        <Field label={t('admin.usage.period')}>
          {(id) => (
            <select id={id} value={days} onChange={(e) => setDays(Number(e.target.value) as (typeof PERIODS)[number])}>
              {PERIODS.map((d) => (
                <option key={d} value={d}>
                  {t('admin.usage.lastDays', { days: d })}
                </option>
              ))}
            </select>
          )}
        </Field>
      }
    >
      <QueryView query={bySubgroup}>{(rows) => <Table rows={rows.filter((r) => subgroups.includes(r.key))} rowKey={(r) => r.key} caption={t('admin.usage.bySubgroup')} columns={columns(t('admin.usage.subgroup'))} />}</QueryView>
      <h3 className="opsb-h3">{t('admin.usage.byUser')}</h3>
      <QueryView query={byUser}>{(rows) => <Table rows={rows.filter((r) => memberNames.has(r.key))} rowKey={(r) => r.key} caption={t('admin.usage.byUser')} columns={columns(t('admin.usage.user'))} />}</QueryView>
    </Card>
  );
}

function StorageUsage({ workgroup }: { workgroup: string }) {
  const { t, bytes, dateTime, number } = useI18n();
  const usage = useQuery({ queryKey: ['group', 'areas', workgroup], queryFn: () => call(api.GET('/api/areas/usage', { params: { query: { all: 'true' } } })) });
  return (
    <Card title={t('admin.storage.title')}>
      <QueryView query={usage}>
        {(rows) => {
          const mine = rows.filter((a) => a.area.startsWith(`group/${workgroup}/`) || a.area === `lib/${workgroup}`);
          return mine.length === 0 ? (
            <p className="muted">{t('admin.storage.none')}</p>
          ) : (
            <Table
              rows={mine}
              rowKey={(a) => a.area}
              caption={t('admin.storage.title')}
              columns={[
                { key: 'area', header: t('admin.storage.area'), cell: (a) => <span className="mono">{a.path}</span> },
                { key: 'bytes', header: t('admin.storage.used'), cell: (a) => `${bytes(a.bytes)} (${number(a.files)})`, className: 'num' },
                { key: 'quota', header: t('admin.storage.quota'), cell: (a) => (a.quota ? <Meter value={a.bytes} max={a.quota} label={t('admin.storage.quotaOf', { area: a.path })} /> : t('admin.storage.noQuota')) },
                { key: 'state', header: t('admin.storage.state'), cell: (a) => <Badge value={a.over ? 'warning' : 'ok'} label={a.over ? t('admin.storage.over') : t('admin.storage.ok')} /> },
                { key: 'measured', header: t('admin.storage.measured'), cell: (a) => dateTime(a.measuredAt) },
              ]}
            />
          );
        }}
      </QueryView>
    </Card>
  );
}

function queueServes(queue: Queue, workgroup: string, subgroups: string[]): boolean {
  if (queue.workgroup === workgroup) return true;
  if (queue.allowedWorkgroups.includes(workgroup) || queue.allowedSubgroups.some((s) => subgroups.includes(s))) return true;
  return queue.workgroup === null && queue.allowedWorkgroups.length === 0 && queue.allowedSubgroups.length === 0;
}

function QueueShares({ workgroup, subgroups }: { workgroup: string; subgroups: string[] }) {
  const { t, duration } = useI18n();
  const queues = useQuery({ queryKey: ['queues'], queryFn: () => call(api.GET('/api/queues')) });
  const limit = (n: number | null) => (n === null ? t('admin.queues.unlimited') : String(n));
  return (
    <Card title={t('admin.queues.title')}>
      <p className="muted small">{t('admin.queues.explain')}</p>
      <QueryView query={queues}>
        {(rows) => (
          <Table
            rows={rows.filter((q) => queueServes(q, workgroup, subgroups))}
            rowKey={(q) => q.name}
            caption={t('admin.queues.title')}
            columns={[
              { key: 'name', header: t('admin.queues.queue'), cell: (q) => <>{q.name} {q.enabled ? null : <Badge value="held" label={t('admin.queues.disabled')} />}</> },
              { key: 'who', header: t('admin.queues.for'), cell: (q) => (q.workgroup ? t('admin.queues.own', { wg: q.workgroup }) : [...q.allowedWorkgroups, ...q.allowedSubgroups].join(', ') || t('admin.queues.everyone')) },
              { key: 'fair', header: t('admin.queues.fairShare'), cell: (q) => (q.fairShare === 'subgroup-then-user' ? t('admin.queues.fairSubgroup') : t('admin.queues.fairUser')) },
              { key: 'prio', header: t('admin.queues.priority'), cell: (q) => q.priority, className: 'num' },
              { key: 'perSub', header: t('admin.queues.perSubgroup'), cell: (q) => limit(q.maxRunningPerSubgroup), className: 'num' },
              { key: 'perUser', header: t('admin.queues.perUser'), cell: (q) => limit(q.maxRunningPerUser), className: 'num' },
              { key: 'size', header: t('admin.queues.maxSize'), cell: (q) => `${t('unit.cpus', { n: q.maxCpus })} · ${t('unit.gpus', { n: q.maxGpus })}` },
              { key: 'wall', header: t('admin.queues.wall'), cell: (q) => duration(q.wallTimeLimitMs / 1000) },
            ]}
          />
        )}
      </QueryView>
    </Card>
  );
}

export function GroupPage({ name }: { name: string }) {
  const { t } = useI18n();
  const me = useMe();
  const workgroup = useQuery({ queryKey: ['group', 'workgroup', name], queryFn: () => call(api.GET('/api/workgroups/{name}', { params: { path: { name } } })) });
  const subgroups = useQuery({ queryKey: ['group', 'subgroups', name], queryFn: () => call(api.GET('/api/subgroups', { params: { query: { workgroup: name } } })) });
  const users = useQuery({ queryKey: ['group', 'users', name], queryFn: () => call(api.GET('/api/users', { params: { query: { workgroup: name } } })) });
  const fullNames = new Map((users.data ?? []).map((u) => [u.name, u.fullName]));
  const isWorkgroupAdmin = me.isOperator || me.adminOf.workgroups.includes(name);
  return (
    <Page
      title={t('admin.group.title', { name })}
      actions={
        <Link to="/groups" className="button">
          {t('admin.group.back')}
        </Link>
      }
    >
      <QueryView query={workgroup}>
        {(w) => (
          <p className="muted">
            {w.description ? `${w.description} · ` : ''}
            {t('admin.group.admins', { names: w.admins.join(', ') || '—' })}
            {w.loginNetworks.length > 0 ? ` · ${t('admin.group.networks', { nets: w.loginNetworks.join(', ') })}` : ''}
          </p>
        )}
      </QueryView>
      <QueryView query={subgroups}>
        {(list) => (
          <>
            <h2 className="opsb-h2">{t('admin.group.members')}</h2>
            {list.map((s) => (
              <SubgroupMembers key={s.name} subgroup={s} canManage={isWorkgroupAdmin || me.adminOf.subgroups.includes(s.name)} canGrant={isWorkgroupAdmin} fullNames={fullNames} />
            ))}
            <StorageUsage workgroup={name} />
            <JobUsage workgroup={name} subgroups={list.map((s) => s.name)} />
            <QueueShares workgroup={name} subgroups={list.map((s) => s.name)} />
          </>
        )}
      </QueryView>
    </Page>
  );
}

/** /groups/$name (loaded on first visit). */
export function GroupRoutePage() {
  const { name } = useParams({ strict: false });
  return <GroupPage key={name} name={name ?? ''} />;
}
