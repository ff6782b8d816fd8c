/**
 * What the status page reads of maintenance (issue 7): scheduled windows (the published
 * operations schedule), plans under way (their components are "under maintenance"), and the plans
 * that ran in a period (for uptime). MaintenanceService implements it; `maintenanceSource` hands
 * out just this view.
 */
export interface MaintenanceWindowView {
  id: number;
  title: string;
  state: string;
  risk: string;
  windowStart: string;
  windowEnd: string;
  /** The inventory services provided by the plan's target hosts. */
  services: string[];
  hosts: string[];
  startedAt: string | null;
  finishedAt: string | null;
}

export interface MaintenanceSource {
  scheduled(now: Date): Promise<MaintenanceWindowView[]>; // approved/pending plans whose window ends after now (not yet started)
  active(now: Date): Promise<MaintenanceWindowView[]>; // plans in state running or halted (and approved again after a halt, not yet running on)
  history(from: Date, to: Date): Promise<MaintenanceWindowView[]>; // for uptime: plans that ran in the period
}

/** The status page's view of a MaintenanceService (or any other source). */
export function maintenanceSource(source: MaintenanceSource): MaintenanceSource {
  return {
    scheduled: (now) => source.scheduled(now),
    active: (now) => source.active(now),
    history: (from, to) => source.history(from, to),
  };
}

/** No maintenance planning (tests of other rooms). */
export const noMaintenance: MaintenanceSource = { scheduled: async () => [], active: async () => [], history: async () => [] };
