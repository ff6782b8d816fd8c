import type { UseQueryResult } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type ButtonHTMLAttributes, type ReactNode } from 'react';
import { ApiError } from '../api/client.ts';
import { useI18n } from '../i18n/index.tsx';

/** A page: its title is the document title too, and the heading screen readers land on. */
export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  const { t } = useI18n();
  useEffect(() => {
    document.title = `${title} · ${t('app.name')}`;
  }, [title, t]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title" tabIndex={-1}>
          {title}
        </h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Card({ title, children, className, actions }: { title?: string; children: ReactNode; className?: string; actions?: ReactNode }) {
  const id = useId();
  return (
    <section className={`card ${className ?? ''}`} aria-labelledby={title ? id : undefined}>
      {title || actions ? (
        <header className="card-header">
          {title ? <h2 id={id}>{title}</h2> : <span />}
          {actions}
        </header>
      ) : null}
      {children}
    </section>
  );
}

/** A big number with its label, e.g. "12 GPUs free". */
export function Stat({ label, value, detail, tone }: { label: string; value: ReactNode; detail?: ReactNode; tone?: 'ok' | 'warn' | 'bad' }) {
  return (
    <div className={`stat ${tone ? `tone-${tone}` : ''}`}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
      {detail ? <div className="stat-detail">{detail}</div> : null}
    </div>
  );
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError || error instanceof Error) return error.message;
  return String(error);
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  return (
    <div className="error-box" role="alert">
      <span>{t('state.error', { message: errorMessage(error) })}</span>
      {onRetry ? (
        <button type="button" className="button small" onClick={onRetry}>
          {t('action.retry')}
        </button>
      ) : null}
    </div>
  );
}

/** Loading, error or the content of one query; keeps showing the last data while a refetch fails. */
export function QueryView<T>({ query, children, empty }: { query: UseQueryResult<T>; children: (data: T) => ReactNode; empty?: (data: T) => boolean }) {
  const { t } = useI18n();
  if (query.data !== undefined) {
    if (empty?.(query.data)) return <p className="muted">{t('state.empty')}</p>;
    return <>{children(query.data)}</>;
  }
  if (query.error) return <ErrorBox error={query.error} onRetry={() => void query.refetch()} />;
  return (
    <p className="muted" role="status">
      {t('state.loading')}
    </p>
  );
}

export interface Column<T> {
  key: string;
  header: ReactNode;
  cell: (row: T) => ReactNode;
  className?: string;
}

/** A plain accessible table; on a phone each row becomes a card (see styles.css). */
export function Table<T>({ rows, columns, rowKey, caption, onRowClick }: { rows: T[]; columns: Column<T>[]; rowKey: (row: T) => string | number; caption?: string; onRowClick?: (row: T) => void }) {
  const { t } = useI18n();
  if (rows.length === 0) return <p className="muted">{t('state.empty')}</p>;
  return (
    <div className="table-wrap">
      <table className="table">
        {caption ? <caption className="sr-only">{caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.key} scope="col" className={c.className}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} className={onRowClick ? 'clickable' : undefined} onClick={onRowClick ? () => onRowClick(row) : undefined}>
              {columns.map((c) => (
                <td key={c.key} className={c.className} data-label={typeof c.header === 'string' ? c.header : undefined}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const TONES: Record<string, 'ok' | 'warn' | 'bad' | 'info' | 'muted'> = {
  running: 'info', completed: 'ok', ok: 'ok', up: 'ok', resolved: 'ok', approved: 'ok', done: 'ok', free: 'ok', operational: 'ok',
  pending: 'warn', held: 'warn', warning: 'warn', degraded: 'warn', maintenance: 'warn', draft: 'muted', submitted: 'warn', staging: 'warn',
  failed: 'bad', timeout: 'bad', 'out-of-memory': 'bad', down: 'bad', critical: 'bad', firing: 'bad', 'node-fail': 'bad', 'killed-by-recovery': 'bad', rejected: 'bad', outage: 'bad',
  cancelled: 'muted', unknown: 'muted',
};

/** A state shown as a coloured word; the word itself carries the meaning (not only the colour). */
export function Badge({ value, label }: { value: string; label?: string }) {
  return <span className={`badge tone-${TONES[value] ?? 'muted'}`}>{label ?? value}</span>;
}

export function Button({ variant = 'default', className, ...props }: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: 'default' | 'primary' | 'danger' }) {
  return <button type="button" className={`button ${variant} ${className ?? ''}`} {...props} />;
}

/** A button that asks "are you sure" in a dialog before doing something that cannot be undone. */
export function ConfirmButton({ label, question, onConfirm, variant = 'danger', disabled }: { label: string; question: string; onConfirm: () => Promise<unknown> | void; variant?: 'default' | 'primary' | 'danger'; disabled?: boolean }) {
  const { t } = useI18n();
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <>
      <Button variant={variant} disabled={disabled} onClick={() => dialog.current?.showModal()}>
        {label}
      </Button>
      <dialog ref={dialog} className="dialog" aria-label={label}>
        <p>{question}</p>
        {error ? <ErrorBox error={error} /> : null}
        <div className="dialog-actions">
          <Button onClick={() => dialog.current?.close()}>{t('action.cancel')}</Button>
          <Button
            variant={variant}
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              setError(null);
              try {
                await onConfirm();
                dialog.current?.close();
              } catch (cause) {
                setError(cause);
              } finally {
                setBusy(false);
              }
            }}
          >
            {label}
          </Button>
        </div>
      </dialog>
    </>
  );
}

/** A labelled form field; the label is tied to the control for screen readers. */
export function Field({ label, hint, children }: { label: string; hint?: string; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {hint ? <small className="muted">{hint}</small> : null}
    </div>
  );
}

/** A bar with its percentage, for quotas, disks and water marks. */
export function Meter({ value, max, label, warnAt = 0.8, badAt = 0.95 }: { value: number; max: number; label: string; warnAt?: number; badAt?: number }) {
  const { percent } = useI18n();
  const fraction = max > 0 ? Math.min(1, value / max) : 0;
  const tone = fraction >= badAt ? 'bad' : fraction >= warnAt ? 'warn' : 'ok';
  return (
    <div className="meter" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={max} aria-valuenow={value}>
      <div className={`meter-fill tone-${tone}`} style={{ width: `${fraction * 100}%` }} />
      <span className="meter-text">{percent(fraction)}</span>
    </div>
  );
}
