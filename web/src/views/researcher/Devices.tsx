import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client.ts';
import { useMe } from '../../auth.tsx';
import { useI18n } from '../../i18n/index.tsx';
import { Badge, Button, ConfirmButton, ErrorBox, Field, Page, QueryView, Table } from '../../ui/kit.tsx';
import { deviceStateLabel } from './labels.ts';
import type { Device } from './types.ts';

const STATE_TONE: Record<string, string> = { free: 'free', reserved: 'pending', 'in-use': 'running' };

function ReserveForm({ device }: { device: Device }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [duration, setDuration] = useState('');
  const reserve = useMutation({
    mutationFn: () => call(api.POST('/api/devices/{name}/reserve', { params: { path: { name: device.name } }, body: duration.trim() ? { for: duration.trim() } : {} })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['devices'] }),
  });
  return (
    <form
      className="form-row"
      onSubmit={(e) => {
        e.preventDefault();
        reserve.mutate();
      }}
    >
      <Field label={t('researcher.devices.for')} hint={t('researcher.devices.forHint')}>
        {(id) => <input id={id} name={`for-${device.name}`} size={8} value={duration} onChange={(e) => setDuration(e.target.value)} placeholder="2h" />}
      </Field>
      <Button type="submit" variant="primary" disabled={reserve.isPending} aria-label={t('researcher.devices.reserveName', { name: device.name })}>
        {t('researcher.devices.reserve')}
      </Button>
      {reserve.error ? <ErrorBox error={reserve.error} /> : null}
    </form>
  );
}

function BreakForm({ device }: { device: Device }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const breakIt = useMutation({
    mutationFn: () => call(api.POST('/api/devices/{name}/break', { params: { path: { name: device.name } }, body: { reason } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['devices'] }),
  });
  return (
    <form
      className="form-row"
      onSubmit={(e) => {
        e.preventDefault();
        breakIt.mutate();
      }}
    >
      <Field label={t('researcher.devices.breakReason')}>{(id) => <input id={id} name={`reason-${device.name}`} value={reason} onChange={(e) => setReason(e.target.value)} />}</Field>
      <Button type="submit" variant="danger" disabled={breakIt.isPending || !reason.trim()}>
        {t('researcher.devices.break')}
      </Button>
      {breakIt.error ? <ErrorBox error={breakIt.error} /> : null}
    </form>
  );
}

export function DevicesPage() {
  const { t, dateTime, relative, duration } = useI18n();
  const me = useMe();
  const queryClient = useQueryClient();
  const devices = useQuery({ queryKey: ['devices'], queryFn: () => call(api.GET('/api/devices')), refetchInterval: 5000 });
  const release = async (device: Device) => {
    await call(api.POST('/api/devices/{name}/release', { params: { path: { name: device.name } } }));
    await queryClient.invalidateQueries({ queryKey: ['devices'] });
  };
  return (
    <Page title={t('researcher.devices.title')}>
      <p className="muted">{t('researcher.devices.intro')}</p>
      <QueryView query={devices}>
        {(list) => (
          <Table
            rows={list}
            rowKey={(d) => d.name}
            caption={t('researcher.devices.title')}
            columns={[
              { key: 'name', header: t('researcher.devices.name'), cell: (d) => <strong>{d.name}</strong> },
              { key: 'kind', header: t('researcher.devices.kind'), cell: (d) => `${d.kind}${d.description ? ` — ${d.description}` : ''}` },
              { key: 'state', header: t('researcher.jobs.state'), cell: (d) => <Badge value={STATE_TONE[d.state] ?? 'unknown'} label={deviceStateLabel(t, d.state)} /> },
              { key: 'holder', header: t('researcher.devices.holder'), cell: (d) => (d.holder ? `${d.holder} (${relative(d.reservedAt)})` : '—') },
              { key: 'freeAt', header: t('researcher.devices.freeAt'), cell: (d) => (d.freeAt ? `${dateTime(d.freeAt)} (${relative(d.freeAt)})` : '—') },
              { key: 'limits', header: t('researcher.devices.limits'), cell: (d) => t('researcher.devices.limitsValue', { idle: duration(d.idleReleaseSeconds), max: d.maxHoldSeconds === null ? t('researcher.devices.noLimit') : duration(d.maxHoldSeconds) }) },
              {
                key: 'actions',
                header: t('researcher.files.actions'),
                cell: (d) => (
                  <div className="button-group">
                    {d.state === 'free' || d.holder === me.user.name ? <ReserveForm device={d} /> : null}
                    {d.holder === me.user.name ? <ConfirmButton variant="default" label={t('researcher.devices.release')} question={t('researcher.devices.releaseQuestion', { name: d.name })} onConfirm={() => release(d)} /> : null}
                    {me.isOperator && d.holder !== null && d.holder !== me.user.name ? <BreakForm device={d} /> : null}
                  </div>
                ),
              },
            ]}
          />
        )}
      </QueryView>
    </Page>
  );
}
