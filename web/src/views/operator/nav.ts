import type { NavItem } from '../../routes/base.tsx';
import { operatorNavA } from './a/index.ts';
import { operatorNavB } from './b/index.ts';

export const operatorNav: NavItem[] = [...operatorNavA, ...operatorNavB];
