import type { NavItem } from '../../../routes/base.tsx';

export const operatorNavB: NavItem[] = [];
