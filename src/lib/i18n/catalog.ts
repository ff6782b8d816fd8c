import type { Language } from './language.ts';
import { accounts } from './messages/accounts.ts';
import { alerts } from './messages/alerts.ts';
import { areas } from './messages/areas.ts';
import { batch } from './messages/batch.ts';
import { checks } from './messages/checks.ts';
import { cli } from './messages/cli.ts';
import { columns } from './messages/columns.ts';
import { devices } from './messages/devices.ts';
import { fields } from './messages/fields.ts';
import { ha } from './messages/ha.ts';
import { hsm } from './messages/hsm.ts';
import { incidents } from './messages/incidents.ts';
import { inventory } from './messages/inventory.ts';
import { ldap } from './messages/ldap.ts';
import { loginHosts } from './messages/login-hosts.ts';
import { maint } from './messages/maint.ts';
import { metrics } from './messages/metrics.ts';
import { monitor } from './messages/monitor.ts';
import { ops } from './messages/ops.ts';
import { power } from './messages/power.ts';
import { recovery } from './messages/recovery.ts';
import { runbooks } from './messages/runbooks.ts';
import { server } from './messages/server.ts';
import { slurm } from './messages/slurm.ts';
import { status } from './messages/status.ts';
import { storage } from './messages/storage.ts';

/** Every area's texts; each key is prefixed by its area, so that no two areas share one (checked by catalog.test.ts). */
export const AREAS = {
  cli, columns, fields,
  accounts, ldap, batch, slurm, devices, incidents, status, monitor, alerts, checks, metrics,
  ops, inventory, loginHosts, maint, power, runbooks, recovery, server, ha, storage, areas, hsm,
} as const;

type Area = (typeof AREAS)[keyof typeof AREAS];
export type MessageKey = { [A in keyof typeof AREAS]: keyof (typeof AREAS)[A]['en'] }[keyof typeof AREAS] & string;

function merge(lang: Language): Record<MessageKey, string> {
  return Object.assign({}, ...Object.values(AREAS).map((area: Area) => area[lang])) as Record<MessageKey, string>;
}

export const CATALOG: Record<Language, Record<MessageKey, string>> = { en: merge('en'), ja: merge('ja') };
