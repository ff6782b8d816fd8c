import type { NavItem } from '../../routes/base.tsx';

export const researcherNav: NavItem[] = [
  { to: '/', label: 'researcher.nav.overview' },
  { to: '/jobs', label: 'researcher.nav.jobs' },
  { to: '/jobs/new', label: 'researcher.nav.submit' },
  { to: '/files', label: 'researcher.nav.files' },
  { to: '/devices', label: 'researcher.nav.devices' },
  { to: '/notifications', label: 'researcher.nav.notifications' },
  { to: '/account', label: 'researcher.nav.account' },
];
