import type { AnyRoute } from '@tanstack/react-router';
import type { NavItem } from '../../../routes/base.tsx';
import { operatorNavB as nav } from './nav.ts';
import { operatorRoutesB as routes } from './routes.tsx';

/** Operator views part B: incidents, maintenance plans, storage tiers, runbooks, login hosts. */
export const operatorRoutesB: AnyRoute[] = routes;
export const operatorNavB: NavItem[] = nav;
