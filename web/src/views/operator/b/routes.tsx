import { createRoute, type AnyRoute } from '@tanstack/react-router';
import { appRoute } from '../../../routes/base.tsx';
import { IncidentPage, IncidentsPage } from './incidents.tsx';
import { PlanPage, PlansPage } from './maint.tsx';
import { LoginHostsPage, RunbooksPage } from './runbooks.tsx';
import { StoragePage } from './storage.tsx';

const incidentRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/ops/incidents/$id',
  component: function IncidentRoute() {
    const { id } = incidentRoute.useParams();
    return <IncidentPage key={id} id={Number(id)} />;
  },
});

const planRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/ops/maint/$id',
  component: function PlanRoute() {
    const { id } = planRoute.useParams();
    return <PlanPage key={id} id={Number(id)} />;
  },
});

export const operatorRoutesB: AnyRoute[] = [
  createRoute({ getParentRoute: () => appRoute, path: '/ops/incidents', component: IncidentsPage }),
  incidentRoute,
  createRoute({ getParentRoute: () => appRoute, path: '/ops/maint', component: PlansPage }),
  planRoute,
  createRoute({ getParentRoute: () => appRoute, path: '/ops/storage', component: StoragePage }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/runbooks', component: RunbooksPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/login-hosts', component: LoginHostsPage }),
];
