import { useNavigate, useSearch } from '@tanstack/react-router';
import { useEffect, useState, type FormEvent } from 'react';
import { useAuth } from '../auth.tsx';
import { useI18n } from '../i18n/index.tsx';
import { Button, ErrorBox, Field } from '../ui/kit.tsx';
import { LanguageSwitch } from './LanguageSwitch.tsx';

export function LoginPage() {
  const { t } = useI18n();
  const auth = useAuth();
  const navigate = useNavigate();
  const search = useSearch({ from: '/login' });
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    document.title = `${t('login.title')}`;
  }, [t]);
  useEffect(() => {
    if (auth.ticket) void navigate({ to: search.next ?? '/' });
  }, [auth.ticket, navigate, search.next]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await auth.login(user.trim(), password);
    } catch (cause) {
      setError(cause);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="login-top">
          <span className="brand-mark" aria-hidden="true">
            計
          </span>
          <LanguageSwitch />
        </div>
        <h1 id="login-title">{t('login.title')}</h1>
        {auth.expired ? (
          <p className="notice" role="status">
            {t('session.expired')}
          </p>
        ) : null}
        <Field label={t('login.user')}>{(id) => <input id={id} name="user" autoComplete="username" required autoFocus value={user} onChange={(e) => setUser(e.target.value)} />}</Field>
        <Field label={t('login.password')}>{(id) => <input id={id} name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
        {error ? <ErrorBox error={error} /> : null}
        <Button type="submit" variant="primary" disabled={busy}>
          {busy ? t('login.busy') : t('login.submit')}
        </Button>
        <p className="muted small">{t('login.hint')}</p>
        <p>
          <a href="/status">{t('login.status')}</a>
        </p>
      </form>
    </main>
  );
}
