import { createRoute, type AnyRoute } from '@tanstack/react-router';
import { appRoute, type NavItem } from '../../../routes/base.tsx';
import { AlertsPage } from './Alerts.tsx';
import { AuditPage } from './Audit.tsx';
import { DashboardPage } from './Dashboard.tsx';
import { InventoryPage } from './Inventory.tsx';
import { nodeRoute } from './Node.tsx';
import { NodesPage } from './Nodes.tsx';
import { RecoveryPage } from './Recovery.tsx';

/** Operator views part A: the dashboard, nodes, alerts and silences, recovery, inventory, audit log. */
export const operatorRoutesA: AnyRoute[] = [
  createRoute({ getParentRoute: () => appRoute, path: '/ops', component: DashboardPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/nodes', component: NodesPage }),
  nodeRoute,
  createRoute({ getParentRoute: () => appRoute, path: '/ops/alerts', component: AlertsPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/recovery', component: RecoveryPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/inventory', component: InventoryPage }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/audit', component: AuditPage }),
];

const operatorOnly = (me: { isOperator: boolean }) => me.isOperator;

export const operatorNavA: NavItem[] = [
  { to: '/ops', label: 'ops.nav.dashboard', show: operatorOnly, exact: true },
  { to: '/ops/nodes', label: 'ops.nav.nodes', show: operatorOnly },
  { to: '/ops/alerts', label: 'ops.nav.alerts', show: operatorOnly },
  { to: '/ops/recovery', label: 'ops.nav.recovery', show: operatorOnly },
  { to: '/ops/inventory', label: 'ops.nav.inventory', show: operatorOnly },
  { to: '/ops/audit', label: 'ops.nav.audit', show: operatorOnly },
];
