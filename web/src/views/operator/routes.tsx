import type { AnyRoute } from '@tanstack/react-router';
import { operatorRoutesA } from './a/index.ts';
import { operatorRoutesB } from './b/index.ts';

export const operatorRoutes: AnyRoute[] = [...operatorRoutesA, ...operatorRoutesB];
