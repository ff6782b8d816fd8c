import type { NavItem } from '../../../routes/base.tsx';

const operator = { show: (me: { isOperator: boolean }) => me.isOperator };

export const operatorNavB: NavItem[] = [
  { to: '/ops/incidents', label: 'opsb.nav.incidents', ...operator },
  { to: '/ops/maint', label: 'opsb.nav.maint', ...operator },
  { to: '/ops/storage', label: 'opsb.nav.storage', ...operator },
  { to: '/ops/runbooks', label: 'opsb.nav.runbooks', ...operator },
  { to: '/ops/login-hosts', label: 'opsb.nav.loginHosts', ...operator },
];
