import { createRoute, createRouter, Link } from '@tanstack/react-router';
import { savedTicket } from './api/client.ts';
import { useI18n } from './i18n/index.tsx';
import { appRoute, loginRoute, rootRoute } from './routes/base.tsx';
import { Page } from './ui/kit.tsx';
import { adminRoutes } from './views/admin/routes.tsx';
import { operatorRoutes } from './views/operator/routes.tsx';
import { researcherRoutes } from './views/researcher/routes.tsx';

function NotFound() {
  const { t } = useI18n();
  return (
    <Page title={t('notFound.title')}>
      <p>{t('notFound.body')}</p>
      <Link to="/">{t('notFound.home')}</Link>
    </Page>
  );
}

const notFoundRoute = createRoute({ getParentRoute: () => appRoute, path: '$', component: NotFound });

const routeTree = rootRoute.addChildren([loginRoute, appRoute.addChildren([...researcherRoutes, ...adminRoutes, ...operatorRoutes, notFoundRoute])]);

export const router = createRouter({ routeTree, context: { loggedIn: () => savedTicket() !== null }, defaultPreload: 'intent' });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
