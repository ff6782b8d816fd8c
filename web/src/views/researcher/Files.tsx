import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useSearch } from '@tanstack/react-router';
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api, call } from '../../api/client.ts';
import { useMe } from '../../auth.tsx';
import { useI18n } from '../../i18n/index.tsx';
import { Badge, Button, Card, ConfirmButton, ErrorBox, errorMessage, Field, Page, QueryView, Table } from '../../ui/kit.tsx';
import { localityLabel, stageStateLabel } from './labels.ts';
import { breadcrumbs, homeDirectory, joinPath, parentOf } from './paths.ts';
import { downloadFile, uploadFile, type Progress } from './transfer.ts';
import type { FsEntry } from './types.ts';

const LOCALITY_TONE: Record<string, string> = { disk: 'pending', 'disk+archive': 'ok', archive: 'unknown', staging: 'staging', none: 'unknown' };
const STAGE_KEY = 'keisan.stageRequests';

function ProgressBar({ label, progress }: { label: string; progress: Progress }) {
  const { bytes, percent } = useI18n();
  const fraction = progress.total > 0 ? progress.done / progress.total : progress.done > 0 ? 1 : 0;
  return (
    <div className="transfer">
      <label>
        <span>{label}</span> <span className="muted small">{`${bytes(progress.done)} / ${bytes(progress.total)} (${percent(fraction)})`}</span>
        <progress max={Math.max(1, progress.total)} value={progress.done} />
      </label>
    </div>
  );
}

/** A modal <dialog> with a title; closes with Esc or its close button. */
function Dialog({ title, open, onClose, children }: { title: string; open: boolean; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const { t } = useI18n();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog wide" aria-label={title} onClose={onClose}>
      <h2>{title}</h2>
      {children}
      <div className="dialog-actions">
        <Button onClick={onClose}>{t('action.close')}</Button>
      </div>
    </dialog>
  );
}

function MoveForm({ entry, onDone }: { entry: FsEntry; onDone: () => void }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [to, setTo] = useState(entry.path);
  const move = useMutation({
    mutationFn: () => call(api.POST('/api/fs/moves', { body: { from: entry.path, to: to.trim() } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['fs'] });
      onDone();
    },
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        move.mutate();
      }}
    >
      <Field label={t('researcher.files.moveTo')} hint={t('researcher.files.moveHint')}>
        {(id) => <input id={id} name="moveTo" value={to} onChange={(e) => setTo(e.target.value)} autoFocus />}
      </Field>
      {move.error ? <ErrorBox error={move.error} /> : null}
      <Button type="submit" variant="primary" disabled={move.isPending || to.trim() === entry.path}>
        {t('researcher.files.move')}
      </Button>
    </form>
  );
}

function AclEditor({ entry }: { entry: FsEntry }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const acl = useQuery({ queryKey: ['fs', 'acl', entry.path], queryFn: () => call(api.GET('/api/fs/acl', { params: { query: { path: entry.path } } })) });
  const [which, setWhich] = useState<'object' | 'initial-file' | 'initial-dir'>('object');
  const [text, setText] = useState<string | null>(null);
  const current = acl.data ? (which === 'object' ? acl.data.acl : which === 'initial-file' ? acl.data.initialFile : acl.data.initialDir) : null;
  useEffect(() => setText(null), [which, acl.data]);
  const save = useMutation({
    mutationFn: (value: string | null) => call(api.PUT('/api/fs/acl', { body: { path: entry.path, which, acl: value } })),
    onSuccess: (view) => {
      queryClient.setQueryData(['fs', 'acl', entry.path], view);
      void queryClient.invalidateQueries({ queryKey: ['fs', 'children'] });
    },
  });
  const mayChange = entry.permissions.includes('c');
  return (
    <QueryView query={acl}>
      {(view) => (
        <form
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            save.mutate((text ?? current ?? '').trim());
          }}
        >
          <p className="muted small">{t('researcher.files.aclOwner', { owner: view.owner, group: view.group })}</p>
          {view.type === 'directory' ? (
            <Field label={t('researcher.files.aclWhich')}>
              {(id) => (
                <select id={id} value={which} onChange={(e) => setWhich(e.target.value as typeof which)}>
                  <option value="object">{t('researcher.files.aclObject')}</option>
                  <option value="initial-file">{t('researcher.files.aclInitialFile')}</option>
                  <option value="initial-dir">{t('researcher.files.aclInitialDir')}</option>
                </select>
              )}
            </Field>
          ) : null}
          <Field label={t('researcher.files.aclText')} hint={t('researcher.files.aclHint')}>
            {(id) => (
              <textarea
                id={id}
                name="acl"
                className="script"
                rows={6}
                spellCheck={false}
                readOnly={!mayChange}
                value={text ?? (current ?? '').split(',').join('\n')}
                onChange={(e) => setText(e.target.value)}
                placeholder={current === null ? t('researcher.files.aclDefault') : undefined}
              />
            )}
          </Field>
          {save.error ? <ErrorBox error={save.error} /> : null}
          {save.isSuccess ? (
            <p role="status" className="muted small">
              {t('researcher.files.aclSaved')}
            </p>
          ) : null}
          {mayChange ? (
            <div className="button-group">
              <Button type="submit" variant="primary" disabled={save.isPending}>
                {t('action.save')}
              </Button>
              {which !== 'object' && current !== null ? (
                <Button onClick={() => save.mutate(null)} disabled={save.isPending}>
                  {t('researcher.files.aclReset')}
                </Button>
              ) : null}
            </div>
          ) : (
            <p className="muted small">{t('researcher.files.aclReadOnly')}</p>
          )}
        </form>
      )}
    </QueryView>
  );
}

function StageRequestView({ id, onForget }: { id: string; onForget: () => void }) {
  const { t, bytes, duration } = useI18n();
  const request = useQuery({
    queryKey: ['fs', 'stage', id],
    queryFn: () => call(api.GET('/api/fs/stage/{id}', { params: { path: { id } } })),
    refetchInterval: (query) => (query.state.data && (query.state.data.state === 'COMPLETED' || query.state.data.state === 'FAILED') ? false : 2000),
  });
  return (
    <Card title={t('researcher.stage.request', { id })} actions={<Button onClick={onForget}>{t('researcher.stage.forget')}</Button>}>
      <QueryView query={request}>
        {(r) => (
          <>
            <p>
              <Badge value={r.state === 'COMPLETED' ? 'done' : r.state === 'FAILED' ? 'failed' : 'staging'} label={stageStateLabel(t, r.state)} />
            </p>
            <Table
              rows={r.files}
              rowKey={(f) => f.path}
              caption={t('researcher.stage.request', { id })}
              columns={[
                { key: 'path', header: t('researcher.files.path'), cell: (f) => f.path },
                { key: 'state', header: t('researcher.jobs.state'), cell: (f) => <Badge value={f.state === 'ON_DISK' ? 'done' : f.state === 'FAILED' ? 'failed' : 'staging'} label={stageStateLabel(t, f.state)} /> },
                { key: 'progress', header: t('researcher.stage.progress'), cell: (f) => <ProgressBar label={f.path.slice(f.path.lastIndexOf('/') + 1)} progress={{ done: f.bytesDone, total: f.size }} /> },
                { key: 'eta', header: t('researcher.stage.eta'), cell: (f) => (f.estimatedSeconds === null ? '—' : duration(f.estimatedSeconds)) },
                { key: 'size', header: t('researcher.files.size'), cell: (f) => bytes(f.size), className: 'num' },
                { key: 'error', header: t('researcher.stage.error'), cell: (f) => f.error ?? '' },
              ]}
            />
          </>
        )}
      </QueryView>
    </Card>
  );
}

function useStageRequests() {
  const [ids, setIds] = useState<string[]>(() => {
    try {
      const saved: unknown = JSON.parse(localStorage.getItem(STAGE_KEY) ?? '[]');
      return Array.isArray(saved) ? saved.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  });
  const save = (next: string[]) => {
    localStorage.setItem(STAGE_KEY, JSON.stringify(next));
    setIds(next);
  };
  return { ids, add: (id: string) => save([id, ...ids.filter((x) => x !== id)].slice(0, 10)), forget: (id: string) => save(ids.filter((x) => x !== id)) };
}

/** All pages of a directory (at most 20 pages of 1000: a larger directory says so). */
async function listAll(path: string) {
  const first = await call(api.GET('/api/fs/children', { params: { query: { path, limit: 1000 } } }));
  const entries = [...first.entries];
  let next = first.next;
  for (let page = 1; next !== null && page < 20; page++) {
    const more = await call(api.GET('/api/fs/children', { params: { query: { path, after: next, limit: 1000 } } }));
    entries.push(...more.entries);
    next = more.next;
  }
  return { path: first.path, entries, truncated: next !== null };
}

export function FilesPage() {
  const { t, bytes, dateTime } = useI18n();
  const me = useMe();
  const search = useSearch({ strict: false }) as { path?: string };
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const path = search.path ?? homeDirectory(me.user);
  const listing = useQuery({ queryKey: ['fs', 'children', path], queryFn: () => listAll(path), refetchInterval: 10_000 });
  const [newDir, setNewDir] = useState('');
  const [moving, setMoving] = useState<FsEntry | null>(null);
  const [aclOf, setAclOf] = useState<FsEntry | null>(null);
  const [transfers, setTransfers] = useState<{ key: string; label: string; progress: Progress; error?: string; done?: boolean }[]>([]);
  const fileInput = useRef<HTMLInputElement>(null);
  const stage = useStageRequests();

  const setTransfer = (key: string, change: Partial<(typeof transfers)[number]> & { label: string }) =>
    setTransfers((list) => {
      const found = list.find((x) => x.key === key);
      return found ? list.map((x) => (x.key === key ? { ...x, ...change } : x)) : [...list, { key, progress: { done: 0, total: 0 }, ...change }];
    });

  const mkdir = useMutation({
    mutationFn: (name: string) => call(api.POST('/api/fs/directories', { body: { path: joinPath(path, name) } })),
    onSuccess: async () => {
      setNewDir('');
      await queryClient.invalidateQueries({ queryKey: ['fs'] });
    },
  });
  const stageFiles = useMutation({
    mutationFn: (paths: string[]) => call(api.POST('/api/fs/stage', { body: { paths } })),
    onSuccess: (created) => stage.add(created.id),
  });

  const upload = async (files: FileList | null) => {
    if (!files) return;
    for (const file of Array.from(files)) {
      const target = joinPath(path, file.name);
      const key = `up:${target}:${Date.now()}`;
      const label = t('researcher.files.uploading', { name: file.name });
      setTransfer(key, { label, progress: { done: 0, total: file.size } });
      try {
        await uploadFile(file, target, (progress) => setTransfer(key, { label, progress }));
        setTransfer(key, { label: t('researcher.files.uploaded', { name: file.name }), done: true });
      } catch (error) {
        setTransfer(key, { label, error: errorMessage(error) });
      }
    }
    if (fileInput.current) fileInput.current.value = '';
    await queryClient.invalidateQueries({ queryKey: ['fs'] });
  };
  const download = async (entry: FsEntry) => {
    const key = `down:${entry.path}:${Date.now()}`;
    const label = t('researcher.files.downloading', { name: entry.name });
    setTransfer(key, { label, progress: { done: 0, total: entry.size } });
    try {
      await downloadFile(entry.path, (progress) => setTransfer(key, { label, progress }));
      setTransfer(key, { label: t('researcher.files.downloaded', { name: entry.name }), done: true });
    } catch (error) {
      setTransfer(key, { label, error: errorMessage(error) });
    }
  };
  const remove = async (entry: FsEntry) => {
    await call(api.DELETE('/api/fs/entries', { params: { query: { path: entry.path, ...(entry.type === 'directory' ? { recursive: 'true' as const } : {}) } } }));
    await queryClient.invalidateQueries({ queryKey: ['fs'] });
  };

  const crumbs = breadcrumbs(path);
  return (
    <Page title={t('researcher.files.title')}>
      <nav aria-label={t('researcher.files.breadcrumbs')} className="breadcrumbs">
        <ol>
          {crumbs.map((crumb, index) => (
            <li key={crumb.path}>
              {index === crumbs.length - 1 ? (
                <span aria-current="page">{crumb.name}</span>
              ) : (
                <Link to="/files" search={{ path: crumb.path }}>
                  {crumb.name}
                </Link>
              )}
            </li>
          ))}
        </ol>
      </nav>

      <Card className="files-tools">
        <div className="form-row">
          <form
            className="form-row"
            onSubmit={(e) => {
              e.preventDefault();
              if (newDir.trim()) mkdir.mutate(newDir.trim());
            }}
          >
            <Field label={t('researcher.files.newDirectory')}>{(id) => <input id={id} name="newDirectory" value={newDir} onChange={(e) => setNewDir(e.target.value)} />}</Field>
            <Button type="submit" disabled={!newDir.trim() || mkdir.isPending}>
              {t('researcher.files.create')}
            </Button>
          </form>
          <Field label={t('researcher.files.upload')}>{(id) => <input id={id} ref={fileInput} type="file" multiple onChange={(e) => void upload(e.target.files)} />}</Field>
          {path !== '/' ? (
            <Link to="/files" search={{ path: parentOf(path) }} className="button">
              {t('researcher.files.up')}
            </Link>
          ) : null}
        </div>
        {mkdir.error ? <ErrorBox error={mkdir.error} /> : null}
        {transfers.length > 0 ? (
          <div className="transfers" aria-live="polite">
            {transfers.map((x) => (
              <div key={x.key}>
                <ProgressBar label={x.label} progress={x.progress} />
                {x.error ? <p className="error-box" role="alert">{x.error}</p> : null}
              </div>
            ))}
            <Button onClick={() => setTransfers((list) => list.filter((x) => !x.done && !x.error))}>{t('researcher.files.clearTransfers')}</Button>
          </div>
        ) : null}
      </Card>

      <QueryView query={listing}>
        {(list) => {
          const archiveOnly = list.entries.filter((e) => e.type === 'file' && e.locality === 'archive');
          return (
            <>
              {archiveOnly.length > 0 ? (
                <p>
                  <Button onClick={() => stageFiles.mutate(archiveOnly.map((e) => e.path))} disabled={stageFiles.isPending}>
                    {t('researcher.files.stageAll', { n: archiveOnly.length })}
                  </Button>
                </p>
              ) : null}
              {stageFiles.error ? <ErrorBox error={stageFiles.error} /> : null}
              {list.truncated ? <p className="notice">{t('researcher.files.truncated', { n: list.entries.length })}</p> : null}
              <Table
                rows={list.entries}
                rowKey={(e) => e.path}
                caption={t('researcher.files.listing', { path })}
                columns={[
                  {
                    key: 'name',
                    header: t('researcher.files.name'),
                    cell: (e) =>
                      e.type === 'directory' ? (
                        <Link to="/files" search={{ path: e.path }}>
                          {e.name}/
                        </Link>
                      ) : (
                        <span>{e.name}</span>
                      ),
                  },
                  { key: 'size', header: t('researcher.files.size'), cell: (e) => (e.type === 'directory' ? '—' : bytes(e.size)), className: 'num' },
                  { key: 'modified', header: t('researcher.files.modified'), cell: (e) => dateTime(e.modifiedAt) },
                  { key: 'owner', header: t('researcher.files.owner'), cell: (e) => `${e.owner}:${e.group}` },
                  { key: 'tier', header: t('researcher.files.tier'), cell: (e) => (e.type === 'directory' ? '' : <Badge value={LOCALITY_TONE[e.locality] ?? 'unknown'} label={localityLabel(t, e.locality)} />) },
                  { key: 'perms', header: t('researcher.files.permissions'), cell: (e) => <code title={t('researcher.files.permissionsHint')}>{e.permissions}</code> },
                  {
                    key: 'actions',
                    header: t('researcher.files.actions'),
                    cell: (e) => (
                      <div className="button-group">
                        {e.type === 'file' ? (
                          <Button className="small" onClick={() => void download(e)} aria-label={t('researcher.files.downloadName', { name: e.name })}>
                            {t('researcher.files.download')}
                          </Button>
                        ) : null}
                        {e.type === 'file' && e.locality === 'archive' ? (
                          <Button className="small" onClick={() => stageFiles.mutate([e.path])} aria-label={t('researcher.files.stageName', { name: e.name })}>
                            {t('researcher.files.stage')}
                          </Button>
                        ) : null}
                        <Button className="small" onClick={() => setMoving(e)} aria-label={t('researcher.files.moveName', { name: e.name })}>
                          {t('researcher.files.rename')}
                        </Button>
                        <Button className="small" onClick={() => setAclOf(e)} aria-label={t('researcher.files.aclName', { name: e.name })}>
                          {t('researcher.files.acl')}
                        </Button>
                        <ConfirmButton
                          label={t('action.delete')}
                          question={e.type === 'directory' ? t('researcher.files.deleteDirQuestion', { path: e.path }) : t('researcher.files.deleteQuestion', { path: e.path })}
                          onConfirm={() => remove(e)}
                        />
                      </div>
                    ),
                  },
                ]}
              />
            </>
          );
        }}
      </QueryView>

      {stage.ids.map((id) => (
        <StageRequestView key={id} id={id} onForget={() => stage.forget(id)} />
      ))}

      <Dialog title={moving ? t('researcher.files.moveTitle', { name: moving.name }) : ''} open={moving !== null} onClose={() => setMoving(null)}>
        {moving ? <MoveForm key={moving.path} entry={moving} onDone={() => setMoving(null)} /> : null}
      </Dialog>
      <Dialog title={aclOf ? t('researcher.files.aclTitle', { path: aclOf.path }) : ''} open={aclOf !== null} onClose={() => setAclOf(null)}>
        {aclOf ? <AclEditor key={aclOf.path} entry={aclOf} /> : null}
      </Dialog>
      {listing.error && path !== homeDirectory(me.user) ? (
        <p>
          <Button onClick={() => void navigate({ to: '/files', search: { path: homeDirectory(me.user) } })}>{t('researcher.files.goHome')}</Button>
        </p>
      ) : null}
    </Page>
  );
}
