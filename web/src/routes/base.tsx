import { createRootRouteWithContext, createRoute, Outlet, redirect } from '@tanstack/react-router';
import type { MessageKey } from '../i18n/index.tsx';
import type { Me } from '../auth.tsx';
import { LoginPage } from '../views/Login.tsx';
import { Shell } from '../views/Shell.tsx';

export interface RouterContext {
  /** Whether a ticket is saved; the authenticated layout sends others to /login. */
  loggedIn: () => boolean;
}

export const rootRoute = createRootRouteWithContext<RouterContext>()({ component: Outlet });

export const loginRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/login',
  validateSearch: (search: Record<string, unknown>): { next?: string } => (typeof search.next === 'string' && search.next.startsWith('/') ? { next: search.next } : {}),
  component: LoginPage,
});

/** Every page behind the login: the shell with its navigation. */
export const appRoute = createRoute({
  getParentRoute: () => rootRoute,
  id: 'app',
  beforeLoad: ({ context, location }) => {
    if (!context.loggedIn()) throw redirect({ to: '/login', search: location.href === '/' ? {} : { next: location.href } });
  },
  component: Shell,
});

/** One entry of the side navigation; `show` hides it from those it is not for. */
export interface NavItem {
  to: string;
  label: MessageKey;
  show?: (me: Me) => boolean;
  /** Highlighted only on exactly this path, not on the pages under it (e.g. /ops, the operators' overview). */
  exact?: boolean;
}
