import type { paths } from '../../api/schema';

/** The JSON body of a route's 200 (or 201) answer, from the generated OpenAPI types. */
type Answer<P extends keyof paths, M extends 'get' | 'post' | 'put'> = paths[P][M] extends { responses: infer R }
  ? R extends { 200: { content: { 'application/json': infer T } } }
    ? T
    : R extends { 201: { content: { 'application/json': infer T } } }
      ? T
      : never
  : never;

export type Job = Answer<'/api/jobs/{id}', 'get'>;
export type JobOutput = Answer<'/api/jobs/{id}/output', 'get'>;
export type SubmissionPreview = Answer<'/api/jobs/preview', 'post'>;
export type Queue = Answer<'/api/queues', 'get'>[number];
export type FsEntry = Answer<'/api/fs/entries', 'get'>;
export type Listing = Answer<'/api/fs/children', 'get'>;
export type AclView = Answer<'/api/fs/acl', 'get'>;
export type Upload = Answer<'/api/fs/uploads', 'post'>;
export type StageRequest = Answer<'/api/fs/stage/{id}', 'get'>;
export type Device = Answer<'/api/devices', 'get'>[number];
export type Notification = Answer<'/api/notifications', 'get'>[number];
export type NodeSummary = Answer<'/api/monitor/nodes', 'get'>[number];

export const FINAL_JOB_STATES = new Set(['completed', 'failed', 'cancelled', 'timeout', 'out-of-memory', 'node-fail', 'preempted', 'killed-by-recovery']);
export const JOB_STATES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'timeout', 'out-of-memory', 'node-fail', 'preempted', 'killed-by-recovery'] as const;
