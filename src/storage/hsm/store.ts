import type { Kysely, Selectable } from 'kysely';
import type { Database, HsmRepackJobTable, HsmStageFileTable } from '../../db/schema.ts';
import type { ClassOfService, FileFamily, StageFileState, StagingMode } from './model.ts';

/** Database access for the HSM's own tables (migration 0007-hsm). */

type Tx = Kysely<Database>;

// ---------------------------------------------------------------- classes and families

export async function readClasses(db: Tx): Promise<ClassOfService[]> {
  const rows = await db.selectFrom('hsm_classes').selectAll().orderBy('name').execute();
  return rows.map((r) => ({
    name: r.name,
    migrationDelayMs: r.migration_delay_ms,
    copies: r.copies,
    purgeHighPct: r.purge_high_pct,
    purgeLowPct: r.purge_low_pct,
    staging: r.staging as StagingMode,
    workgroups: JSON.parse(r.workgroups) as string[],
    aggregateBelowBytes: r.aggregate_below,
    containerSizeBytes: r.container_size,
  }));
}

export async function writeClass(db: Tx, c: ClassOfService, now: Date): Promise<void> {
  const values = {
    migration_delay_ms: c.migrationDelayMs,
    copies: c.copies,
    purge_high_pct: c.purgeHighPct,
    purge_low_pct: c.purgeLowPct,
    staging: c.staging,
    workgroups: JSON.stringify(c.workgroups),
    aggregate_below: c.aggregateBelowBytes,
    container_size: c.containerSizeBytes,
    updated_at: now.toISOString(),
  };
  const updated = await db.updateTable('hsm_classes').set(values).where('name', '=', c.name).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await db.insertInto('hsm_classes').values({ name: c.name, ...values, created_at: now.toISOString() }).execute();
}

export async function deleteClass(db: Tx, name: string): Promise<void> {
  await db.deleteFrom('hsm_classes').where('name', '=', name).execute();
}

export async function readFamilies(db: Tx): Promise<FileFamily[]> {
  const rows = await db.selectFrom('hsm_families').selectAll().orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, tree: r.tree, quotaWarnBytes: r.quota_warn_bytes, quotaLimitBytes: r.quota_limit_bytes }));
}

export async function writeFamily(db: Tx, f: FileFamily, now: Date): Promise<void> {
  const values = { tree: f.tree, quota_warn_bytes: f.quotaWarnBytes, quota_limit_bytes: f.quotaLimitBytes, updated_at: now.toISOString() };
  const updated = await db.updateTable('hsm_families').set(values).where('name', '=', f.name).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await db.insertInto('hsm_families').values({ name: f.name, ...values, created_at: now.toISOString() }).execute();
}

export async function deleteFamily(db: Tx, name: string): Promise<void> {
  await db.deleteFrom('hsm_families').where('name', '=', name).execute();
}

// ---------------------------------------------------------------- family usage (incremental)

export interface UsageRow {
  family: string;
  usageBytes: number;
  usageFiles: number;
  quotaState: string;
  warnedAt: string | null;
}

export async function readUsage(db: Tx, family?: string): Promise<UsageRow[]> {
  let q = db.selectFrom('hsm_family_usage').selectAll();
  if (family !== undefined) q = q.where('family', '=', family);
  const rows = await q.orderBy('family').execute();
  return rows.map((r) => ({ family: r.family, usageBytes: r.usage_bytes, usageFiles: r.usage_files, quotaState: r.quota_state, warnedAt: r.warned_at }));
}

/** Adds to a family's usage (negative to take away) in the caller's transaction. */
export async function addUsage(db: Tx, family: string, bytes: number, files: number, now: Date): Promise<UsageRow> {
  const at = now.toISOString();
  const existing = await db.selectFrom('hsm_family_usage').selectAll().where('family', '=', family).executeTakeFirst();
  if (!existing) {
    await db.insertInto('hsm_family_usage').values({ family, usage_bytes: Math.max(0, bytes), usage_files: Math.max(0, files), quota_state: 'ok', warned_at: null, updated_at: at }).execute();
  } else {
    await db
      .updateTable('hsm_family_usage')
      .set({ usage_bytes: Math.max(0, existing.usage_bytes + bytes), usage_files: Math.max(0, existing.usage_files + files), updated_at: at })
      .where('family', '=', family)
      .execute();
  }
  return (await readUsage(db, family))[0]!;
}

export async function setQuotaState(db: Tx, family: string, state: string, warnedAt: string | null, now: Date): Promise<void> {
  const at = now.toISOString();
  const updated = await db.updateTable('hsm_family_usage').set({ quota_state: state, warned_at: warnedAt, updated_at: at }).where('family', '=', family).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) {
    await db.insertInto('hsm_family_usage').values({ family, usage_bytes: 0, usage_files: 0, quota_state: state, warned_at: warnedAt, updated_at: at }).execute();
  }
}

// ---------------------------------------------------------------- stage requests

export interface StageFileRow {
  id: number;
  requestId: string;
  seq: number;
  path: string;
  fileId: number | null;
  state: StageFileState;
  size: number;
  bytesDone: number;
  volume: string | null;
  copyNo: number | null;
  queuePosition: number | null;
  etaAt: string | null;
  pinUntil: string | null;
  error: string | null;
  updatedAt: string;
}

type StageFileDbRow = Selectable<HsmStageFileTable>;

function toStageFile(r: StageFileDbRow): StageFileRow {
  return {
    id: r.id,
    requestId: r.request_id,
    seq: r.seq,
    path: r.path,
    fileId: r.file_id,
    state: r.state as StageFileState,
    size: r.size,
    bytesDone: r.bytes_done,
    volume: r.volume,
    copyNo: r.copy_no,
    queuePosition: r.queue_position,
    etaAt: r.eta_at,
    pinUntil: r.pin_until,
    error: r.error,
    updatedAt: r.updated_at,
  };
}

export interface StageRequestRow {
  id: string;
  owner: string;
  state: string;
  filesTotal: number;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export async function insertStageRequest(
  db: Tx,
  request: { id: string; owner: string; files: Array<{ path: string; fileId: number | null; size: number; state: StageFileState; error: string | null }> },
  now: Date,
): Promise<void> {
  const at = now.toISOString();
  await db.insertInto('hsm_stage_requests').values({ id: request.id, owner: request.owner, state: 'QUEUED', files_total: request.files.length, created_at: at, started_at: null, completed_at: null }).execute();
  const rows = request.files.map((f, seq) => ({
    request_id: request.id,
    seq,
    path: f.path,
    file_id: f.fileId,
    state: f.state,
    size: f.size,
    bytes_done: f.state === 'ON_DISK' ? f.size : 0,
    volume: null,
    copy_no: null,
    queue_position: null,
    eta_at: null,
    pin_until: null,
    error: f.error,
    updated_at: at,
  }));
  for (let i = 0; i < rows.length; i += 500) await db.insertInto('hsm_stage_files').values(rows.slice(i, i + 500)).execute();
}

export async function readStageRequest(db: Tx, id: string): Promise<StageRequestRow | undefined> {
  const r = await db.selectFrom('hsm_stage_requests').selectAll().where('id', '=', id).executeTakeFirst();
  return r && { id: r.id, owner: r.owner, state: r.state, filesTotal: r.files_total, createdAt: r.created_at, startedAt: r.started_at, completedAt: r.completed_at };
}

export async function readStageFiles(db: Tx, requestId: string): Promise<StageFileRow[]> {
  const rows = await db.selectFrom('hsm_stage_files').selectAll().where('request_id', '=', requestId).orderBy('seq').execute();
  return rows.map(toStageFile);
}

/** Files of every request still waiting or in progress. */
export async function readOpenStageFiles(db: Tx): Promise<StageFileRow[]> {
  const rows = await db
    .selectFrom('hsm_stage_files')
    .selectAll()
    .where('state', 'in', ['QUEUED', 'MOUNTING', 'POSITIONING', 'TRANSFERRING'])
    .orderBy('id')
    .execute();
  return rows.map(toStageFile);
}

/** Sets the state (and more) of every open row for one file, whatever request it belongs to. */
export async function updateStageFile(
  db: Tx,
  fileId: number,
  change: Partial<{ state: StageFileState; bytesDone: number; volume: string | null; copyNo: number | null; queuePosition: number | null; etaAt: string | null; pinUntil: string | null; error: string | null }>,
  now: Date,
): Promise<void> {
  const set: Record<string, unknown> = { updated_at: now.toISOString() };
  if (change.state !== undefined) set.state = change.state;
  if (change.bytesDone !== undefined) set.bytes_done = change.bytesDone;
  if (change.volume !== undefined) set.volume = change.volume;
  if (change.copyNo !== undefined) set.copy_no = change.copyNo;
  if (change.queuePosition !== undefined) set.queue_position = change.queuePosition;
  if (change.etaAt !== undefined) set.eta_at = change.etaAt;
  if (change.pinUntil !== undefined) set.pin_until = change.pinUntil;
  if (change.error !== undefined) set.error = change.error;
  await db
    .updateTable('hsm_stage_files')
    .set(set)
    .where('file_id', '=', fileId)
    .where('state', 'in', ['QUEUED', 'MOUNTING', 'POSITIONING', 'TRANSFERRING'])
    .execute();
}

/** After a restart nothing is mounting or transferring: in-flight files go back to QUEUED. */
export async function requeueInFlight(db: Tx, now: Date): Promise<number> {
  const r = await db
    .updateTable('hsm_stage_files')
    .set({ state: 'QUEUED', bytes_done: 0, updated_at: now.toISOString() })
    .where('state', 'in', ['MOUNTING', 'POSITIONING', 'TRANSFERRING'])
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Files pinned on disk by a stage request until a time after `now`. */
export async function pinnedFileIds(db: Tx, now: Date): Promise<Set<number>> {
  const rows = await db.selectFrom('hsm_stage_files').select('file_id').where('state', '=', 'ON_DISK').where('pin_until', '>', now.toISOString()).execute();
  return new Set(rows.map((r) => r.file_id).filter((id): id is number => id !== null));
}

/** Requests whose files all ended get their final state. */
export async function settleStageRequests(db: Tx, now: Date): Promise<string[]> {
  const open = await db.selectFrom('hsm_stage_requests').select(['id', 'state']).where('state', 'in', ['QUEUED', 'STARTED']).execute();
  const settled: string[] = [];
  for (const r of open) {
    const files = await db.selectFrom('hsm_stage_files').select(['state']).where('request_id', '=', r.id).execute();
    const pending = files.filter((f) => f.state !== 'ON_DISK' && f.state !== 'FAILED').length;
    const started = files.some((f) => f.state !== 'QUEUED');
    if (pending === 0) {
      const failed = files.some((f) => f.state === 'FAILED');
      await db.updateTable('hsm_stage_requests').set({ state: failed ? 'FAILED' : 'COMPLETED', completed_at: now.toISOString() }).where('id', '=', r.id).execute();
      settled.push(r.id);
    } else if (started && r.state === 'QUEUED') {
      await db.updateTable('hsm_stage_requests').set({ state: 'STARTED', started_at: now.toISOString() }).where('id', '=', r.id).execute();
    }
  }
  return settled;
}

// ---------------------------------------------------------------- repack jobs

export interface RepackRow {
  id: number;
  volume: string;
  state: string;
  filesTotal: number;
  filesDone: number;
  bytesTotal: number;
  bytesDone: number;
  error: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

type RepackDbRow = Selectable<HsmRepackJobTable>;
const toRepack = (r: RepackDbRow): RepackRow => ({
  id: r.id,
  volume: r.volume,
  state: r.state,
  filesTotal: r.files_total,
  filesDone: r.files_done,
  bytesTotal: r.bytes_total,
  bytesDone: r.bytes_done,
  error: r.error,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export async function insertRepack(db: Tx, volume: string, createdBy: string, totals: { files: number; bytes: number }, now: Date): Promise<RepackRow> {
  const at = now.toISOString();
  const row = await db
    .insertInto('hsm_repack_jobs')
    .values({ volume, state: 'queued', files_total: totals.files, files_done: 0, bytes_total: totals.bytes, bytes_done: 0, error: null, created_by: createdBy, created_at: at, updated_at: at })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRepack(row);
}

export async function readRepacks(db: Tx, filter: { openOnly?: boolean; id?: number } = {}): Promise<RepackRow[]> {
  let q = db.selectFrom('hsm_repack_jobs').selectAll();
  if (filter.openOnly) q = q.where('state', 'in', ['queued', 'running', 'paused']);
  if (filter.id !== undefined) q = q.where('id', '=', filter.id);
  return (await q.orderBy('id').execute()).map(toRepack);
}

export async function updateRepack(db: Tx, id: number, change: Partial<Pick<RepackRow, 'state' | 'filesDone' | 'bytesDone' | 'error' | 'filesTotal' | 'bytesTotal'>>, now: Date): Promise<void> {
  const set: Record<string, unknown> = { updated_at: now.toISOString() };
  if (change.state !== undefined) set.state = change.state;
  if (change.filesDone !== undefined) set.files_done = change.filesDone;
  if (change.bytesDone !== undefined) set.bytes_done = change.bytesDone;
  if (change.filesTotal !== undefined) set.files_total = change.filesTotal;
  if (change.bytesTotal !== undefined) set.bytes_total = change.bytesTotal;
  if (change.error !== undefined) set.error = change.error;
  await db.updateTable('hsm_repack_jobs').set(set).where('id', '=', id).execute();
}

// ---------------------------------------------------------------- runs

export interface RunRow {
  id: number;
  kind: string;
  state: string;
  files: number;
  bytes: number;
  detail: Record<string, unknown>;
  startedAt: string;
  endedAt: string | null;
}

export async function startRun(db: Tx, kind: string, now: Date): Promise<number> {
  const row = await db
    .insertInto('hsm_runs')
    .values({ kind, state: 'running', files: 0, bytes: 0, detail: '{}', started_at: now.toISOString(), ended_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function endRun(db: Tx, id: number, state: 'done' | 'failed', files: number, bytes: number, detail: Record<string, unknown>, now: Date): Promise<void> {
  await db.updateTable('hsm_runs').set({ state, files, bytes, detail: JSON.stringify(detail), ended_at: now.toISOString() }).where('id', '=', id).execute();
}

/** Runs a crash cut short: marked `interrupted` at start. */
export async function interruptRuns(db: Tx, now: Date): Promise<number> {
  const r = await db.updateTable('hsm_runs').set({ state: 'interrupted', ended_at: now.toISOString() }).where('state', '=', 'running').executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function recentRuns(db: Tx, limit: number): Promise<RunRow[]> {
  const rows = await db.selectFrom('hsm_runs').selectAll().orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({ id: r.id, kind: r.kind, state: r.state, files: r.files, bytes: r.bytes, detail: JSON.parse(r.detail) as Record<string, unknown>, startedAt: r.started_at, endedAt: r.ended_at }));
}
