import type { MessageKey, Translate } from '../../i18n/index.tsx';

const JOB_STATE_KEYS: Record<string, MessageKey> = {
  pending: 'researcher.state.pending',
  running: 'researcher.state.running',
  completed: 'researcher.state.completed',
  failed: 'researcher.state.failed',
  cancelled: 'researcher.state.cancelled',
  timeout: 'researcher.state.timeout',
  'out-of-memory': 'researcher.state.out-of-memory',
  'node-fail': 'researcher.state.node-fail',
  preempted: 'researcher.state.preempted',
  'killed-by-recovery': 'researcher.state.killed-by-recovery',
};

/** A job state in the reader's language; an unknown one as it comes. */
export function jobStateLabel(t: Translate, state: string): string {
  const key = JOB_STATE_KEYS[state];
  return key ? t(key) : state;
}

const LOCALITY_KEYS: Record<string, MessageKey> = {
  disk: 'researcher.files.locality.disk',
  'disk+archive': 'researcher.files.locality.disk+archive',
  archive: 'researcher.files.locality.archive',
  staging: 'researcher.files.locality.staging',
  none: 'researcher.files.locality.none',
};

export function localityLabel(t: Translate, locality: string): string {
  const key = LOCALITY_KEYS[locality];
  return key ? t(key) : locality;
}

const STAGE_KEYS: Record<string, MessageKey> = {
  QUEUED: 'researcher.stage.QUEUED',
  MOUNTING: 'researcher.stage.MOUNTING',
  POSITIONING: 'researcher.stage.POSITIONING',
  TRANSFERRING: 'researcher.stage.TRANSFERRING',
  ON_DISK: 'researcher.stage.ON_DISK',
  FAILED: 'researcher.stage.FAILED',
  STARTED: 'researcher.stage.STARTED',
  COMPLETED: 'researcher.stage.COMPLETED',
};

export function stageStateLabel(t: Translate, state: string): string {
  const key = STAGE_KEYS[state];
  return key ? t(key) : state;
}

const DEVICE_KEYS: Record<string, MessageKey> = {
  free: 'researcher.devices.state.free',
  reserved: 'researcher.devices.state.reserved',
  'in-use': 'researcher.devices.state.in-use',
};

export function deviceStateLabel(t: Translate, state: string): string {
  const key = DEVICE_KEYS[state];
  return key ? t(key) : state;
}
