import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../../api/client.ts';
import { useI18n, type MessageKey } from '../../../i18n/index.tsx';
import { Badge, Button, Card, ErrorBox, Field, Meter, Page, QueryView, Stat, Table } from '../../../ui/kit.tsx';

/**
 * The HSM's status, volumes and drives come as loose records in the OpenAPI (their shapes live in
 * src/storage/hsm/service.ts HsmStatus, src/storage/tiers/archive.ts VolumeInfo and DriveInfo);
 * these are the fields this page reads.
 */
interface HsmStatus {
  disk: { usedBytes: number; reservedBytes: number; capacityBytes: number | null; usedPct: number | null; highWaterPct: number; lowWaterPct: number };
  files: Record<'dirty' | 'migratedOnDisk' | 'archiveOnly' | 'staging', { files: number; bytes: number }> & { total: number };
  stageQueue: Record<string, number>;
  activeStages: number;
  nextMigrationAt: string | null;
  recentRuns: Array<{ id: number; kind: string; state: string; files: number; bytes: number; startedAt: string; endedAt: string | null }>;
  damagedCopies: Array<{ fileId: number; copy: number; volume: string; problem: string; detectedAt: string; repairedAt: string | null }>;
  lanes: Record<string, string>;
}
interface Volume {
  name: string;
  family: string;
  copy: number;
  capacityBytes: number | null;
  usedBytes: number;
  liveBytes: number;
  liveEntries: number;
  holesBytes: number;
  holesPct: number;
  state: string;
  mountedIn: string | null;
  problem?: string;
}
interface Drive {
  name: string;
  state: string;
  volume: string | null;
  activity: string | null;
}

const asStatus = (r: Record<string, unknown>) => r as unknown as HsmStatus;
const asVolumes = (r: Record<string, unknown>[]) => r as unknown as Volume[];
const asDrives = (r: Record<string, unknown>[]) => r as unknown as Drive[];

const FILE_STATES = ['dirty', 'migratedOnDisk', 'archiveOnly', 'staging'] as const;

function StatusCards({ status }: { status: HsmStatus }) {
  const { t, bytes, number, dateTime, percent } = useI18n();
  const { disk } = status;
  return (
    <>
      <Card title={t('opsb.hsm.disk')}>
        {disk.capacityBytes ? (
          <>
            <Meter value={disk.usedBytes} max={disk.capacityBytes} label={t('opsb.hsm.diskUsed')} warnAt={disk.lowWaterPct / 100} badAt={disk.highWaterPct / 100} />
            <p className="small">
              {t('opsb.hsm.diskOf', { used: bytes(disk.usedBytes), capacity: bytes(disk.capacityBytes) })} · {t('opsb.hsm.marks', { high: percent(disk.highWaterPct / 100), low: percent(disk.lowWaterPct / 100) })}
            </p>
          </>
        ) : (
          <p>{t('opsb.hsm.diskNoCapacity', { used: bytes(disk.usedBytes) })}</p>
        )}
        {disk.usedPct !== null && disk.usedPct >= disk.highWaterPct ? <Badge value="warning" label={t('opsb.hsm.overHigh')} /> : null}
      </Card>
      <div className="stats opsb-stats">
        {FILE_STATES.map((s) => (
          <Stat key={s} label={t(`opsb.hsm.files.${s}` as MessageKey)} value={number(status.files[s].files)} detail={bytes(status.files[s].bytes)} />
        ))}
        <Stat label={t('opsb.hsm.activeStages')} value={number(status.activeStages)} />
        <Stat label={t('opsb.hsm.damaged')} value={number(status.damagedCopies.filter((d) => d.repairedAt === null).length)} tone={status.damagedCopies.some((d) => d.repairedAt === null) ? 'bad' : 'ok'} />
      </div>
      <Card title={t('opsb.hsm.lanes')}>
        <dl className="opsb-facts">
          {Object.entries(status.lanes).map(([lane, state]) => (
            <div key={lane} className="opsb-fact">
              <dt>{lane}</dt>
              <dd>
                <Badge value={state === 'idle' ? 'ok' : 'running'} label={state} />
              </dd>
            </div>
          ))}
          <div className="opsb-fact">
            <dt>{t('opsb.hsm.nextMigration')}</dt>
            <dd>{dateTime(status.nextMigrationAt)}</dd>
          </div>
        </dl>
        <Table
          rows={status.recentRuns.slice(0, 8)}
          rowKey={(r) => r.id}
          caption={t('opsb.hsm.recentRuns')}
          columns={[
            { key: 'kind', header: t('opsb.hsm.run'), cell: (r) => r.kind },
            { key: 'state', header: t('opsb.hsm.state'), cell: (r) => <Badge value={r.state} /> },
            { key: 'files', header: t('opsb.hsm.filesCol'), cell: (r) => number(r.files), className: 'num' },
            { key: 'bytes', header: t('opsb.hsm.bytes'), cell: (r) => bytes(r.bytes), className: 'num' },
            { key: 'at', header: t('opsb.hsm.started'), cell: (r) => dateTime(r.startedAt) },
          ]}
        />
      </Card>
    </>
  );
}

function Actions() {
  const { t, number, bytes } = useI18n();
  const queryClient = useQueryClient();
  const [to, setTo] = useState('');
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['hsm'] });
  const migrate = useMutation({ mutationFn: () => call(api.POST('/api/hsm/migrate', { body: {} })), onSuccess: refresh });
  const purge = useMutation({ mutationFn: () => call(api.POST('/api/hsm/purge', { body: to.trim() === '' ? {} : { to: Number(to) } })), onSuccess: refresh });
  const summary = (r: Record<string, unknown>) => {
    const files = typeof r.files === 'number' ? r.files : null;
    const size = typeof r.bytes === 'number' ? r.bytes : null;
    return files !== null ? t('opsb.hsm.ranSummary', { files: number(files), bytes: bytes(size) }) : t('opsb.hsm.ran');
  };
  return (
    <Card title={t('opsb.hsm.now')}>
      <div className="form-row">
        <div className="field">
          <Button variant="primary" disabled={migrate.isPending} onClick={() => migrate.mutate()}>
            {migrate.isPending ? t('opsb.hsm.migrating') : t('opsb.hsm.migrateNow')}
          </Button>
        </div>
        <Field label={t('opsb.hsm.purgeTo')} hint={t('opsb.hsm.purgeToHint')}>
          {(id) => <input id={id} type="number" min={0} max={100} value={to} onChange={(e) => setTo(e.target.value)} />}
        </Field>
        <div className="field">
          <Button variant="danger" disabled={purge.isPending} onClick={() => purge.mutate()}>
            {t('opsb.hsm.purgeNow')}
          </Button>
        </div>
      </div>
      {migrate.data ? <p role="status">{summary(migrate.data)}</p> : null}
      {purge.data ? <p role="status">{summary(purge.data)}</p> : null}
      {migrate.error ? <ErrorBox error={migrate.error} /> : null}
      {purge.error ? <ErrorBox error={purge.error} /> : null}
    </Card>
  );
}

function Repack() {
  const { t, bytes, dateTime } = useI18n();
  const queryClient = useQueryClient();
  const jobs = useQuery({ queryKey: ['hsm', 'repack'], queryFn: () => call(api.GET('/api/hsm/repack', { params: { query: { all: 'true' } } })), refetchInterval: 3000 });
  const [holes, setHoles] = useState('30');
  const [error, setError] = useState<unknown>(null);
  const act = async (request: Promise<unknown>) => {
    setError(null);
    try {
      await request;
      await queryClient.invalidateQueries({ queryKey: ['hsm'] });
    } catch (cause) {
      setError(cause);
    }
  };
  return (
    <Card
      title={t('opsb.hsm.repack')}
      actions={
        <div className="opsb-actions">
          <Button className="small" onClick={() => void act(call(api.POST('/api/hsm/repack/pause', { body: {} })))}>
            {t('opsb.hsm.pauseAll')}
          </Button>
          <Button className="small" onClick={() => void act(call(api.POST('/api/hsm/repack/resume', { body: {} })))}>
            {t('opsb.hsm.resumeAll')}
          </Button>
        </div>
      }
    >
      <form
        className="form-row"
        onSubmit={(event) => {
          event.preventDefault();
          void act(call(api.POST('/api/hsm/repack', { body: { holes: Number(holes) } })));
        }}
      >
        <Field label={t('opsb.hsm.holesAtLeast')}>{(id) => <input id={id} type="number" min={0} max={100} required value={holes} onChange={(e) => setHoles(e.target.value)} />}</Field>
        <div className="field">
          <button type="submit" className="button">
            {t('opsb.hsm.repackFull')}
          </button>
        </div>
      </form>
      {error ? <ErrorBox error={error} /> : null}
      <QueryView query={jobs}>
        {(rows) => (
          <Table
            rows={rows}
            rowKey={(j) => j.id}
            caption={t('opsb.hsm.repack')}
            columns={[
              { key: 'volume', header: t('opsb.hsm.volume'), cell: (j) => <span className="mono">{j.volume}</span> },
              { key: 'state', header: t('opsb.hsm.state'), cell: (j) => <Badge value={j.state === 'paused' ? 'held' : j.state === 'done' ? 'done' : j.state} label={t(`opsb.hsm.repackState.${j.state}` as MessageKey)} /> },
              {
                key: 'progress',
                header: t('opsb.hsm.progress'),
                cell: (j) => (
                  <div>
                    <Meter value={j.bytesDone} max={Math.max(1, j.bytesTotal)} label={t('opsb.hsm.repackOf', { volume: j.volume })} warnAt={2} badAt={2} />
                    <span className="small muted">
                      {bytes(j.bytesDone)} / {bytes(j.bytesTotal)} · {j.filesDone}/{j.filesTotal}
                    </span>
                  </div>
                ),
              },
              { key: 'updated', header: t('opsb.hsm.updated'), cell: (j) => dateTime(j.updatedAt) },
              {
                key: 'act',
                header: t('opsb.hsm.actions'),
                cell: (j) =>
                  j.state === 'running' || j.state === 'queued' ? (
                    <Button className="small" onClick={() => void act(call(api.POST('/api/hsm/repack/pause', { body: { id: j.id } })))}>
                      {t('opsb.hsm.pause')}
                    </Button>
                  ) : j.state === 'paused' ? (
                    <Button className="small" onClick={() => void act(call(api.POST('/api/hsm/repack/resume', { body: { id: j.id } })))}>
                      {t('opsb.hsm.resume')}
                    </Button>
                  ) : (
                    (j.error ?? '')
                  ),
              },
            ]}
          />
        )}
      </QueryView>
    </Card>
  );
}

export function StoragePage() {
  const { t, bytes, number } = useI18n();
  const status = useQuery({ queryKey: ['hsm', 'status'], queryFn: () => call(api.GET('/api/hsm/status')), refetchInterval: 5000 });
  const volumes = useQuery({ queryKey: ['hsm', 'volumes'], queryFn: () => call(api.GET('/api/hsm/volumes')), refetchInterval: 10_000 });
  const drives = useQuery({ queryKey: ['hsm', 'drives'], queryFn: () => call(api.GET('/api/hsm/drives')), refetchInterval: 3000 });
  const classes = useQuery({ queryKey: ['hsm', 'classes'], queryFn: () => call(api.GET('/api/hsm/classes')) });
  const families = useQuery({ queryKey: ['hsm', 'families'], queryFn: () => call(api.GET('/api/hsm/families')), refetchInterval: 30_000 });
  return (
    <Page title={t('opsb.hsm.title')}>
      <QueryView query={status}>{(s) => <StatusCards status={asStatus(s)} />}</QueryView>
      <Actions />
      <Repack />
      <Card title={t('opsb.hsm.volumes')}>
        <QueryView query={volumes}>
          {(rows) => (
            <Table
              rows={asVolumes(rows)}
              rowKey={(v) => v.name}
              caption={t('opsb.hsm.volumes')}
              columns={[
                { key: 'name', header: t('opsb.hsm.volume'), cell: (v) => <span className="mono">{v.name}</span> },
                { key: 'family', header: t('opsb.hsm.family'), cell: (v) => `${v.family} · ${t('opsb.hsm.copyN', { n: v.copy })}` },
                { key: 'state', header: t('opsb.hsm.state'), cell: (v) => <Badge value={v.problem ? 'degraded' : v.state === 'retired' ? 'cancelled' : 'ok'} label={v.state} /> },
                {
                  key: 'used',
                  header: t('opsb.hsm.used'),
                  cell: (v) => (v.capacityBytes ? <Meter value={v.usedBytes} max={v.capacityBytes} label={t('opsb.hsm.volumeUsed', { volume: v.name })} /> : bytes(v.usedBytes)),
                },
                { key: 'live', header: t('opsb.hsm.live'), cell: (v) => `${bytes(v.liveBytes)} (${number(v.liveEntries)})`, className: 'num' },
                { key: 'holes', header: t('opsb.hsm.holes'), cell: (v) => `${bytes(v.holesBytes)} (${number(v.holesPct, 1)} %)`, className: 'num' },
                { key: 'mounted', header: t('opsb.hsm.mountedIn'), cell: (v) => v.mountedIn ?? '—' },
                { key: 'problem', header: t('opsb.hsm.problem'), cell: (v) => v.problem ?? '' },
              ]}
            />
          )}
        </QueryView>
      </Card>
      <Card title={t('opsb.hsm.drives')}>
        <QueryView query={drives}>
          {(rows) => (
            <Table
              rows={asDrives(rows)}
              rowKey={(d) => d.name}
              caption={t('opsb.hsm.drives')}
              columns={[
                { key: 'name', header: t('opsb.hsm.drive'), cell: (d) => <span className="mono">{d.name}</span> },
                { key: 'state', header: t('opsb.hsm.state'), cell: (d) => <Badge value={d.state === 'empty' || d.state === 'idle' ? 'ok' : 'running'} label={d.state} /> },
                { key: 'volume', header: t('opsb.hsm.volume'), cell: (d) => d.volume ?? '—' },
                { key: 'activity', header: t('opsb.hsm.activity'), cell: (d) => d.activity ?? '—' },
              ]}
            />
          )}
        </QueryView>
      </Card>
      <div className="grid opsb-two">
        <Card title={t('opsb.hsm.classes')}>
          <QueryView query={classes}>
            {(rows) => (
              <Table
                rows={rows}
                rowKey={(c) => c.name}
                caption={t('opsb.hsm.classes')}
                columns={[
                  { key: 'name', header: t('opsb.hsm.class'), cell: (c) => c.name },
                  { key: 'copies', header: t('opsb.hsm.copies'), cell: (c) => c.copies, className: 'num' },
                  { key: 'delay', header: t('opsb.hsm.delay'), cell: (c) => String(c.migrationDelaySeconds) + ' s', className: 'num' },
                  { key: 'marks', header: t('opsb.hsm.waterMarks'), cell: (c) => `${c.purgeLowPct} % – ${c.purgeHighPct} %` },
                  { key: 'staging', header: t('opsb.hsm.staging'), cell: (c) => c.staging },
                  { key: 'wg', header: t('opsb.hsm.workgroups'), cell: (c) => c.workgroups.join(', ') || '—' },
                ]}
              />
            )}
          </QueryView>
        </Card>
        <Card title={t('opsb.hsm.families')}>
          <QueryView query={families}>
            {(rows) => (
              <Table
                rows={rows}
                rowKey={(f) => f.name}
                caption={t('opsb.hsm.families')}
                columns={[
                  { key: 'name', header: t('opsb.hsm.family'), cell: (f) => f.name },
                  { key: 'tree', header: t('opsb.hsm.tree'), cell: (f) => <span className="mono">{f.tree}</span> },
                  { key: 'usage', header: t('opsb.hsm.archiveUsage'), cell: (f) => `${bytes(f.usageBytes)} (${number(f.usageFiles)})`, className: 'num' },
                  {
                    key: 'quota',
                    header: t('opsb.hsm.quota'),
                    cell: (f) => (f.quotaLimitBytes ? <Meter value={f.usageBytes} max={f.quotaLimitBytes} label={t('opsb.hsm.familyQuota', { family: f.name })} /> : '—'),
                  },
                  { key: 'state', header: t('opsb.hsm.state'), cell: (f) => <Badge value={f.quotaState === 'ok' ? 'ok' : f.quotaState === 'warn' ? 'warning' : 'failed'} label={t(`opsb.hsm.quotaState.${f.quotaState}` as MessageKey)} /> },
                ]}
              />
            )}
          </QueryView>
        </Card>
      </div>
    </Page>
  );
}
