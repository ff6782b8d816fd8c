import type { NavItem } from '../../routes/base.tsx';

export const operatorNav: NavItem[] = [];
