import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../../api/client.ts';
import { useI18n, type MessageKey } from '../../../i18n/index.tsx';
import { Badge, Button, Card, ErrorBox, Field, Page, QueryView, Table } from '../../../ui/kit.tsx';

export function RunbooksPage() {
  const { t, dateTime, relative } = useI18n();
  const queryClient = useQueryClient();
  const runbooks = useQuery({ queryKey: ['runbooks'], queryFn: () => call(api.GET('/api/ops/runbooks')) });
  const gaps = useQuery({ queryKey: ['runbooks', 'gaps'], queryFn: () => call(api.GET('/api/ops/runbooks/gaps', { params: { query: {} } })) });
  const tested = useMutation({
    mutationFn: (name: string) => call(api.POST('/api/ops/runbooks/{name}/tested', { params: { path: { name } }, body: {} })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['runbooks'] }),
  });
  return (
    <Page title={t('opsb.runbooks.title')}>
      <Card title={t('opsb.runbooks.gaps')}>
        <QueryView query={gaps}>
          {(g) =>
            g.gaps.length === 0 ? (
              <p>
                <Badge value="ok" label={t('opsb.runbooks.noGaps', { days: g.days })} />
              </p>
            ) : (
              <>
                <p className="muted small">{t('opsb.runbooks.gapsExplain', { days: g.days })}</p>
                <Table
                  rows={g.gaps}
                  rowKey={(x) => x.service}
                  caption={t('opsb.runbooks.gaps')}
                  columns={[
                    { key: 'service', header: t('opsb.runbooks.service'), cell: (x) => x.service },
                    { key: 'reason', header: t('opsb.runbooks.reason'), cell: (x) => <Badge value="warning" label={x.reason} /> },
                  ]}
                />
              </>
            )
          }
        </QueryView>
      </Card>
      <Card title={t('opsb.runbooks.list')}>
        {tested.error ? <ErrorBox error={tested.error} /> : null}
        <QueryView query={runbooks}>
          {(rows) => (
            <Table
              rows={rows}
              rowKey={(r) => r.name}
              caption={t('opsb.runbooks.list')}
              columns={[
                { key: 'name', header: t('opsb.runbooks.name'), cell: (r) => r.name },
                { key: 'service', header: t('opsb.runbooks.service'), cell: (r) => r.service },
                { key: 'where', header: t('opsb.runbooks.where'), cell: (r) => r.location ?? (r.body ? t('opsb.runbooks.inline') : '—') },
                { key: 'tested', header: t('opsb.runbooks.lastTested'), cell: (r) => (r.lastTestedAt ? `${dateTime(r.lastTestedAt)} (${relative(r.lastTestedAt)}) · ${r.testedBy ?? ''}` : <Badge value="warning" label={t('opsb.runbooks.never')} />) },
                {
                  key: 'act',
                  header: t('opsb.runbooks.actions'),
                  cell: (r) => (
                    <Button className="small" disabled={tested.isPending} onClick={() => tested.mutate(r.name)}>
                      {t('opsb.runbooks.markTested', { name: r.name })}
                    </Button>
                  ),
                },
              ]}
            />
          )}
        </QueryView>
      </Card>
    </Page>
  );
}

const POOL_TONE = { 'in-pool': 'ok', standby: 'warning', out: 'down' } as const;

function DrainForm({ host }: { host: string }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const drain = useMutation({
    mutationFn: () => call(api.PUT('/api/login-hosts/{host}/drain', { params: { path: { host } }, body: { reason } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['login-hosts'] }),
  });
  return (
    <form
      className="form-row"
      onSubmit={(event) => {
        event.preventDefault();
        drain.mutate();
      }}
    >
      <Field label={t('opsb.login.reason', { host })}>{(id) => <input id={id} required value={reason} onChange={(e) => setReason(e.target.value)} />}</Field>
      <div className="field">
        <button type="submit" className="button small danger" disabled={drain.isPending}>
          {t('opsb.login.drain')}
        </button>
      </div>
      {drain.error ? <ErrorBox error={drain.error} /> : null}
    </form>
  );
}

export function LoginHostsPage() {
  const { t, dateTime, number } = useI18n();
  const queryClient = useQueryClient();
  const pool = useQuery({ queryKey: ['login-hosts'], queryFn: () => call(api.GET('/api/login-hosts')), refetchInterval: 5000 });
  const ldap = useQuery({ queryKey: ['ldap-status'], queryFn: () => call(api.GET('/api/admin/ldap/status')), retry: false });
  const undrain = useMutation({
    mutationFn: (host: string) => call(api.DELETE('/api/login-hosts/{host}/drain', { params: { path: { host } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['login-hosts'] }),
  });
  return (
    <Page title={t('opsb.login.title')}>
      <Card title={t('opsb.login.pool')}>
        {undrain.error ? <ErrorBox error={undrain.error} /> : null}
        <QueryView query={pool}>
          {(p) => (
            <Table
              rows={p.hosts}
              rowKey={(h) => h.host}
              caption={t('opsb.login.pool')}
              columns={[
                { key: 'host', header: t('opsb.login.host'), cell: (h) => <span className="mono">{h.host}</span> },
                { key: 'address', header: t('opsb.login.address'), cell: (h) => h.address },
                { key: 'state', header: t('opsb.login.state'), cell: (h) => <Badge value={POOL_TONE[h.state]} label={t(`opsb.login.state.${h.state}` as MessageKey)} /> },
                { key: 'reason', header: t('opsb.login.why'), cell: (h) => h.reason },
                { key: 'weight', header: t('opsb.login.weight'), cell: (h) => (h.weight === null ? '—' : number(h.weight, 2)), className: 'num' },
                {
                  key: 'drain',
                  header: t('opsb.login.drainCol'),
                  cell: (h) => {
                    const drained = p.drains.find((d) => d.host === h.host);
                    return drained ? (
                      <div>
                        <div className="small">{t('opsb.login.drainedBy', { who: drained.drainedBy, when: dateTime(drained.drainedAt), reason: drained.reason })}</div>
                        <Button className="small" disabled={undrain.isPending} onClick={() => undrain.mutate(h.host)}>
                          {t('opsb.login.undrain')}
                        </Button>
                      </div>
                    ) : (
                      <DrainForm host={h.host} />
                    );
                  },
                },
              ]}
            />
          )}
        </QueryView>
      </Card>
      <Card title={t('opsb.ldap.title')}>
        <QueryView query={ldap}>
          {(status) => (
            <dl className="opsb-facts">
              <dt>{t('opsb.ldap.mode')}</dt>
              <dd>{status.mode}</dd>
              <dt>{t('opsb.ldap.state')}</dt>
              <dd>
                <Badge value={status.state === 'in-sync' || status.state === 'use' ? 'ok' : status.state === 'failing' ? 'failed' : status.state === 'pending' ? 'pending' : 'unknown'} label={status.state} />
              </dd>
              <dt>{t('opsb.ldap.url')}</dt>
              <dd className="mono">{status.url ?? '—'}</dd>
              <dt>{t('opsb.ldap.reachable')}</dt>
              <dd>{status.reachable === null ? '—' : status.reachable ? t('yes') : t('no')}</dd>
              <dt>{t('opsb.ldap.lastSuccess')}</dt>
              <dd>{dateTime(status.lastSuccessAt)}</dd>
              {status.lastError ? (
                <>
                  <dt>{t('opsb.ldap.lastError')}</dt>
                  <dd>{status.lastError}</dd>
                </>
              ) : null}
            </dl>
          )}
        </QueryView>
      </Card>
    </Page>
  );
}
