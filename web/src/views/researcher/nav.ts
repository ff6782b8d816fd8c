import type { NavItem } from '../../routes/base.tsx';

export const researcherNav: NavItem[] = [];
