import { createRoute, lazyRouteComponent, type AnyRoute } from '@tanstack/react-router';
import { appRoute } from '../../routes/base.tsx';

// Loaded on first visit: researchers never download the group-admin pages.
export const adminRoutes: AnyRoute[] = [
  createRoute({ getParentRoute: () => appRoute, path: '/groups', component: lazyRouteComponent(() => import('./groups.tsx'), 'GroupsPage') }),
  createRoute({ getParentRoute: () => appRoute, path: '/groups/$name', component: lazyRouteComponent(() => import('./groups.tsx'), 'GroupRoutePage') }),
];
