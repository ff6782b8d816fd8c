import { Link, Outlet, useRouterState } from '@tanstack/react-router';
import { useEffect, useState, useSyncExternalStore } from 'react';
import { connection } from '../api/client.ts';
import { useAuth, type Me } from '../auth.tsx';
import { useI18n, type MessageKey } from '../i18n/index.tsx';
import type { NavItem } from '../routes/base.tsx';
import { Button } from '../ui/kit.tsx';
import { adminNav } from './admin/nav.ts';
import { operatorNav } from './operator/nav.ts';
import { researcherNav } from './researcher/nav.ts';
import { LanguageSwitch } from './LanguageSwitch.tsx';

const SECTIONS: { title: MessageKey; items: NavItem[]; show: (me: Me) => boolean }[] = [
  { title: 'nav.researcher', items: researcherNav, show: () => true },
  { title: 'nav.admin', items: adminNav, show: (me) => me.isOperator || me.adminOf.workgroups.length > 0 || me.adminOf.subgroups.length > 0 },
  { title: 'nav.operator', items: operatorNav, show: (me) => me.isOperator },
];

/** The one navigation entry for this address: the most specific that matches (/jobs/new is "Submit", not also "Jobs"). */
export function activeNavTarget(pathname: string, items: readonly NavItem[]): string | null {
  let best: string | null = null;
  for (const item of items) {
    const exact = item.exact ?? item.to === '/';
    const hit = pathname === item.to || (!exact && pathname.startsWith(`${item.to}/`));
    if (hit && (best === null || item.to.length > best.length)) best = item.to;
  }
  return best;
}

function ConnectionBanner() {
  const { t } = useI18n();
  const reachable = useSyncExternalStore(
    (listener) => connection.subscribe(listener),
    () => connection.reachable,
  );
  if (reachable) return null;
  return (
    <div className="banner tone-warn" role="status" aria-live="polite">
      {t('conn.lost')}
    </div>
  );
}

export function Shell() {
  const { t } = useI18n();
  const auth = useAuth();
  const pathname = useRouterState({ select: (s) => s.location.pathname });
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [pathname]);

  if (!auth.me) {
    return (
      <main className="boot" role="status">
        <ConnectionBanner />
        {t('state.loading')}
      </main>
    );
  }
  const me = auth.me;
  const sections = SECTIONS.filter((section) => section.show(me)).map((section) => ({ ...section, items: section.items.filter((item) => !item.show || item.show(me)) }));
  const active = activeNavTarget(pathname, sections.flatMap((section) => section.items));
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t('nav.skip')}
      </a>
      <header className="topbar">
        <button type="button" className="menu-button" aria-expanded={menuOpen} aria-controls="sidenav" onClick={() => setMenuOpen((open) => !open)}>
          {t('nav.openMenu')}
        </button>
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            計
          </span>
          <span>{t('app.name')}</span>
        </Link>
        <div className="topbar-right">
          <LanguageSwitch />
          <span className="who" data-testid="who">
            {me.user.name}
            {me.isOperator ? <small> · {t('session.operator')}</small> : null}
          </span>
          <Button onClick={() => void auth.logout()}>{t('session.logout')}</Button>
        </div>
      </header>
      <nav id="sidenav" className={`sidenav ${menuOpen ? 'open' : ''}`} aria-label={t('nav.main')}>
        {sections.map((section) => (
          <div key={section.title} className="nav-section">
            <h2>{t(section.title)}</h2>
            <ul>
              {section.items.map((item) => (
                <li key={item.to}>
                  <Link to={item.to} activeOptions={{ exact: true }} className={item.to === active ? 'active' : undefined} aria-current={item.to === active ? 'page' : undefined}>
                    {t(item.label)}
                  </Link>
                </li>
              ))}
            </ul>
          </div>
        ))}
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        <ConnectionBanner />
        <Outlet />
      </main>
    </div>
  );
}
