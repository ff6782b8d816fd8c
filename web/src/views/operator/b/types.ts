import type { paths } from '../../../api/schema';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The JSON a route answers with 200 (or 201), from the generated OpenAPI types. */
export type Answer<P extends keyof paths, M extends Method = 'get'> = paths[P][M] extends { responses: { 200: { content: { 'application/json': infer T } } } }
  ? T
  : paths[P][M] extends { responses: { 201: { content: { 'application/json': infer T } } } }
    ? T
    : never;

export type Incident = Answer<'/api/incidents/{id}'>;
export type IncidentSummary = Answer<'/api/incidents'>[number];
export type Plan = Answer<'/api/ops/maint/plans/{id}'>;
export type PlanSummary = Answer<'/api/ops/maint/plans'>[number];
export type StepRun = Answer<'/api/ops/maint/plans/{id}/runs/{run}'>['run'];
export type TakeDownCheck = Answer<'/api/ops/check-takedown', 'post'>;
