import { createRoute, lazyRouteComponent, type AnyRoute } from '@tanstack/react-router';
import { appRoute } from '../../../routes/base.tsx';

// Each page is its own chunk, loaded on first visit (operators' pages stay out of the login page's bundle).
const route = (path: string, component: AnyRoute['options']['component']) => createRoute({ getParentRoute: () => appRoute, path, component });

export const operatorRoutesB: AnyRoute[] = [
  route('/ops/incidents', lazyRouteComponent(() => import('./incidents.tsx'), 'IncidentsPage')),
  route('/ops/incidents/$id', lazyRouteComponent(() => import('./incidents.tsx'), 'IncidentRoutePage')),
  route('/ops/maint', lazyRouteComponent(() => import('./maint.tsx'), 'PlansPage')),
  route('/ops/maint/$id', lazyRouteComponent(() => import('./maint.tsx'), 'PlanRoutePage')),
  route('/ops/storage', lazyRouteComponent(() => import('./storage.tsx'), 'StoragePage')),
  route('/ops/runbooks', lazyRouteComponent(() => import('./runbooks.tsx'), 'RunbooksPage')),
  route('/ops/login-hosts', lazyRouteComponent(() => import('./runbooks.tsx'), 'LoginHostsPage')),
];
