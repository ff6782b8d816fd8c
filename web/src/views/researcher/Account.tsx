import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, call } from '../../api/client.ts';
import { useMe } from '../../auth.tsx';
import { useI18n } from '../../i18n/index.tsx';
import { Button, Card, ErrorBox, Field, Page } from '../../ui/kit.tsx';

export function AccountPage() {
  const { t, dateTime } = useI18n();
  const me = useMe();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const change = useMutation({
    mutationFn: () => call(api.POST('/api/auth/password', { body: { current, new: next } })),
    onSuccess: () => {
      setCurrent('');
      setNext('');
      setAgain('');
    },
  });
  const mismatch = again !== '' && again !== next;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!mismatch) change.mutate();
  };
  const u = me.user;
  const fields: [string, string][] = [
    [t('researcher.account.name'), u.name],
    [t('researcher.account.fullName'), u.fullName],
    [t('researcher.account.email'), u.email ?? '—'],
    [t('researcher.account.group'), `${u.workgroup} / ${u.primarySubgroup}${u.subgroups.length ? ` (+ ${u.subgroups.join(', ')})` : ''}`],
    [t('researcher.account.uid'), `${u.uid} / ${u.gid}`],
    [t('researcher.account.home'), u.home],
    [t('researcher.account.ticketExpires'), dateTime(me.ticket.expiresAt)],
  ];
  return (
    <Page title={t('researcher.account.title')}>
      <Card title={t('researcher.account.me')}>
        <dl className="fields">
          {fields.map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      </Card>
      <Card title={t('researcher.account.changePassword')}>
        <form onSubmit={submit} className="narrow-form">
          <input type="text" name="username" autoComplete="username" value={u.name} readOnly hidden />
          <Field label={t('researcher.account.current')}>{(id) => <input id={id} type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />}</Field>
          <Field label={t('researcher.account.new')}>{(id) => <input id={id} type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />}</Field>
          <Field label={t('researcher.account.again')}>{(id) => <input id={id} type="password" autoComplete="new-password" required value={again} onChange={(e) => setAgain(e.target.value)} aria-invalid={mismatch} />}</Field>
          {mismatch ? (
            <p className="error-box" role="alert">
              {t('researcher.account.mismatch')}
            </p>
          ) : null}
          {change.error ? <ErrorBox error={change.error} /> : null}
          {change.isSuccess ? (
            <p className="notice" role="status">
              {t('researcher.account.changed')}
            </p>
          ) : null}
          <Button type="submit" variant="primary" disabled={change.isPending || mismatch}>
            {t('researcher.account.submit')}
          </Button>
        </form>
      </Card>
    </Page>
  );
}
