import { createRoute, type AnyRoute } from '@tanstack/react-router';
import { appRoute } from '../../routes/base.tsx';
import { AccountPage } from './Account.tsx';
import { DevicesPage } from './Devices.tsx';
import { FilesPage } from './Files.tsx';
import { JobDetailPage } from './JobDetail.tsx';
import { JobsPage } from './Jobs.tsx';
import { NotificationsPage } from './Notifications.tsx';
import { OverviewPage } from './Overview.tsx';
import { SubmitJobPage } from './SubmitJob.tsx';

export const researcherRoutes: AnyRoute[] = [
  createRoute({ getParentRoute: () => appRoute, path: '/', component: OverviewPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/jobs', component: JobsPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/jobs/new', component: SubmitJobPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/jobs/$id', component: JobDetailPage }),
  createRoute({
    getParentRoute: () => appRoute,
    path: '/files',
    validateSearch: (search: Record<string, unknown>): { path?: string } => (typeof search.path === 'string' && search.path.startsWith('/') ? { path: search.path } : {}),
    component: FilesPage,
  }),
  createRoute({ getParentRoute: () => appRoute, path: '/devices', component: DevicesPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/notifications', component: NotificationsPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/account', component: AccountPage }),
];
