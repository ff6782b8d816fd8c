import type { AnyRoute } from '@tanstack/react-router';

export const operatorRoutes: AnyRoute[] = [];
