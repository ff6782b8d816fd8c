import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { SYSTEM_ACTOR, type Actor } from '../../accounts/model.ts';
import { AccountsService } from '../../accounts/service.ts';
import type { Db } from '../../db/connection.ts';
import { systemClock } from '../../lib/clock.ts';
import { parseSettings, type Settings } from '../../lib/config.ts';
import { openStorage } from '../runtime.ts';
import type { StorageService } from '../service.ts';
import { DirArchive, ZERO_TIMING, type TapeTiming } from '../tiers/archive-dir/index.ts';
import type { HsmLogger } from './context.ts';
import { HsmService } from './service.ts';

/**
 * For HSM tests: a namespace (StorageService) with a small disk tier, an archive-dir library,
 * and the HSM on top, plus users: alice (member of phys/ana), bob (admin of ana).
 */
export interface HsmWorld {
  settings: Settings;
  accounts: AccountsService;
  storage: StorageService;
  archive: DirArchive;
  hsm: HsmService;
  alice: Actor;
  bob: Actor;
  operator: Actor;
  dir: string;
  logs: Array<{ level: string; msg: string; obj: object }>;
  put(actor: Actor, filePath: string, bytes: Buffer): Promise<void>;
  read(actor: Actor, filePath: string): Promise<Buffer>;
  /** Restarts the HSM and the archive on the same state (as after a crash of their process). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function hsmWorld(
  db: Db,
  options: { storage?: Record<string, unknown>; capacity?: number; volumeCapacity?: number; drives?: number; timing?: TapeTiming; stagePinMs?: number } = {},
): Promise<HsmWorld> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keisan-hsm-'));
  const settings = parseSettings(
    {
      accounts: { passwordHash: { cost: 1024 } },
      storage: { disk: { capacity: options.capacity ?? 64 * 1024 * 1024, fsync: false }, ...(options.storage ?? {}) },
    },
    'test',
  );
  const clock = systemClock;
  const accounts = new AccountsService(db.kysely, settings, clock);
  await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'phys' });
  await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'phys', name: 'ana' });
  await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'ana', password: 'alice password' });
  await accounts.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'ana', password: 'bob password' });
  await accounts.setSubgroupAdmin(SYSTEM_ACTOR, 'ana', 'bob', true);
  await accounts.createUser(SYSTEM_ACTOR, { name: 'oper', primarySubgroup: 'ana', password: 'oper password', operator: true });
  const actorOf = async (name: string): Promise<Actor> => {
    const login = await accounts.login(name, `${name} password`, '127.0.0.1');
    return (await accounts.authenticate(login.ticket, null)).actor;
  };
  const logs: HsmWorld['logs'] = [];
  const logger: HsmLogger = {
    info: (obj, msg) => logs.push({ level: 'info', msg, obj }),
    warn: (obj, msg) => logs.push({ level: 'warn', msg, obj }),
    error: (obj, msg) => logs.push({ level: 'error', msg, obj }),
  };
  const storageDir = path.join(dir, 'disk');
  const opened = await openStorage({ settings, dataDir: dir, db: db.kysely, clock, accounts });
  void storageDir;
  const storage = opened.service;
  await storage.start({ sweepOrphans: false });
  const makeArchive = () =>
    new DirArchive({ path: path.join(dir, 'archive'), volumeCapacity: options.volumeCapacity ?? 16 * 1024 * 1024, drives: options.drives ?? 1, timing: options.timing ?? ZERO_TIMING });
  let archive = makeArchive();
  await archive.open();
  const makeHsm = () =>
    new HsmService({ db: db.kysely, clock, settings, accounts, storage, archive, mail: null, logger, checkIntervalMs: 3_600_000, ...(options.stagePinMs !== undefined ? { stagePinMs: options.stagePinMs } : {}) });
  let hsm = makeHsm();
  await hsm.start();

  const world: HsmWorld = {
    settings,
    accounts,
    storage,
    archive,
    hsm,
    alice: await actorOf('alice'),
    bob: await actorOf('bob'),
    operator: await actorOf('oper'),
    dir,
    logs,
    async put(actor, filePath, bytes) {
      const upload = await storage.createUpload(actor, { path: filePath, size: bytes.length, sha256: sha256(bytes) });
      await storage.writeChunk(actor, upload.id, 0, [bytes]);
      await storage.commitUpload(actor, upload.id, {});
    },
    async read(actor, filePath) {
      const opened = await storage.openRead(actor, filePath);
      return collect(opened.stream);
    },
    async restart() {
      await world.hsm.close();
      await world.archive.close();
      archive = makeArchive();
      await archive.open();
      world.archive = archive;
      hsm = makeHsm();
      world.hsm = hsm;
      await hsm.start();
    },
    async close() {
      await world.hsm.close();
      await world.archive.close();
      await opened.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}
