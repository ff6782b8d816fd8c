import type { NavItem } from '../../routes/base.tsx';

export const adminNav: NavItem[] = [{ to: '/groups', label: 'admin.nav.groups' }];
