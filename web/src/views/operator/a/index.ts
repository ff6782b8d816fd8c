import { createRoute, type AnyRoute } from '@tanstack/react-router';
import { appRoute, type NavItem } from '../../../routes/base.tsx';
import { AlertsPage } from './Alerts.tsx';
import { AuditPage } from './Audit.tsx';
import { DashboardPage } from './Dashboard.tsx';
import { InventoryPage } from './Inventory.tsx';
import { nodeRoute } from './Node.tsx';
import { operatorOnly } from './OperatorOnly.tsx';
import { NodesPage } from './Nodes.tsx';
import { RecoveryPage } from './Recovery.tsx';

/** Operator views part A: the dashboard, nodes, alerts and silences, recovery, inventory, audit log. */
export const operatorRoutesA: AnyRoute[] = [
  createRoute({ getParentRoute: () => appRoute, path: '/ops', component: operatorOnly(DashboardPage) }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/nodes', component: operatorOnly(NodesPage) }),
  nodeRoute,
  createRoute({ getParentRoute: () => appRoute, path: '/ops/alerts', component: operatorOnly(AlertsPage) }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/recovery', component: operatorOnly(RecoveryPage) }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/inventory', component: operatorOnly(InventoryPage) }),
  createRoute({ getParentRoute: () => appRoute, path: '/ops/audit', component: operatorOnly(AuditPage) }),
];

const isOperator = (me: { isOperator: boolean }) => me.isOperator;

export const operatorNavA: NavItem[] = [
  { to: '/ops', label: 'ops.nav.dashboard', show: isOperator, exact: true },
  { to: '/ops/nodes', label: 'ops.nav.nodes', show: isOperator },
  { to: '/ops/alerts', label: 'ops.nav.alerts', show: isOperator },
  { to: '/ops/recovery', label: 'ops.nav.recovery', show: isOperator },
  { to: '/ops/inventory', label: 'ops.nav.inventory', show: isOperator },
  { to: '/ops/audit', label: 'ops.nav.audit', show: isOperator },
];
