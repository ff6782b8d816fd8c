import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AlertsService } from '../../monitor/alerts/service.ts';
import type { MonitorHub } from '../../monitor/hub.ts';
import type { InventoryService } from '../../ops/inventory/service.ts';
import type { StatusSignals } from './service.ts';

/**
 * The status page's view of the other rooms in the server: the inventory's hosts (with the
 * health it derives from the monitor) and groups, the alerts firing now, and the latest check
 * result of every host the monitor hub has heard from. Read as the system (the page is public,
 * what it shows of these is only the resulting states).
 */
export function statusSignalsOf(o: { inventory: () => InventoryService; monitor: MonitorHub; alerts: AlertsService; clock: Clock }): StatusSignals {
  return {
    inventory: async () => {
      const inventory = o.inventory();
      const [hosts, groups] = await Promise.all([inventory.listHosts(SYSTEM_ACTOR), inventory.listGroups(SYSTEM_ACTOR)]);
      return {
        hosts: hosts.map((h) => ({ name: h.name, health: h.health, services: h.services })),
        groups: groups.map((g) => ({ name: g.name, members: g.members, minHealthy: g.minHealthy, service: g.service })),
      };
    },
    firingAlerts: async () =>
      (await o.alerts.list(SYSTEM_ACTOR, 'firing')).map((a) => ({ alertname: a.alertname, severity: a.severity, summary: a.summary, labels: a.labels, silenced: a.silencedBy.length > 0 })),
    checks: () =>
      o.monitor
        .hosts(o.clock.now().getTime())
        .flatMap((h) => o.monitor.latestChecks(h.host).map((c) => ({ host: h.host, check: c.check, type: c.type, status: c.status, summary: c.summary }))),
  };
}
