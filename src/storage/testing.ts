import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SYSTEM_ACTOR, type Actor } from '../accounts/model.ts';
import { AccountsService } from '../accounts/service.ts';
import type { Db } from '../db/connection.ts';
import { ManualClock } from '../lib/clock.ts';
import { parseSettings } from '../lib/config.ts';
import { StorageService } from './service.ts';
import { DiskTier } from './tiers/disk.ts';

/**
 * For tests: accounts — workgroup `lab` with subgroups `lab-ml` (alice, bob) and `lab-cv`
 * (carol), workgroup `phys` with `phys-ana` (dave), and the operator `olga` (`ops`/`staff`) —
 * and a storage service on a temporary disk tier with a manual clock.
 */
export interface StorageFixture {
  storage: StorageService;
  accounts: AccountsService;
  clock: ManualClock;
  disk: DiskTier;
  dir: string;
  actors: Record<'alice' | 'bob' | 'carol' | 'dave' | 'olga', Actor>;
  dispose(): Promise<void>;
}

export async function storageFixture(db: Db, options: { capacityBytes?: number | null; uploadExpiryMs?: number } = {}): Promise<StorageFixture> {
  const clock = new ManualClock('2026-03-02T08:00:00.000Z');
  const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test');
  const accounts = new AccountsService(db.kysely, settings, clock);
  await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'ops' });
  await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'ops', name: 'staff' });
  await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
  await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
  await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-cv' });
  await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'phys' });
  await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'phys', name: 'phys-ana' });
  const users: [string, string, boolean][] = [
    ['alice', 'lab-ml', false],
    ['bob', 'lab-ml', false],
    ['carol', 'lab-cv', false],
    ['dave', 'phys-ana', false],
    ['olga', 'staff', true],
  ];
  const actors = {} as StorageFixture['actors'];
  for (const [name, subgroup, operator] of users) {
    await accounts.createUser(SYSTEM_ACTOR, { name, primarySubgroup: subgroup, password: 'a long enough password', ...(operator ? { operator: true } : {}) });
    const row = await db.kysely.selectFrom('users').select('id').where('name', '=', name).executeTakeFirstOrThrow();
    actors[name as keyof StorageFixture['actors']] = await accounts.actorFor(row.id, '127.0.0.1');
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'keisan-storage-test-'));
  const disk = new DiskTier({ root: dir, capacityBytes: options.capacityBytes ?? null, fsync: false });
  const storage = new StorageService({ db: db.kysely, ...(db.sqlite ? { sqlite: db.sqlite } : {}), clock, accounts, disk, operatorName: 'admin', uploadExpiryMs: options.uploadExpiryMs ?? 24 * 3_600_000 });
  await storage.start({ sweepOrphans: false });
  return {
    storage,
    accounts,
    clock,
    disk,
    dir,
    actors,
    async dispose() {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Uploads `bytes` to `path` in chunks of `chunk` bytes through the service, and commits. */
export async function putBytes(storage: StorageService, actor: Actor, filePath: string, bytes: Buffer, options: { chunk?: number; overwrite?: boolean } = {}) {
  const upload = await storage.createUpload(actor, { path: filePath, size: bytes.length, ...(options.overwrite !== undefined ? { overwrite: options.overwrite } : {}) });
  const chunk = options.chunk ?? 64 * 1024;
  for (let offset = 0; offset < bytes.length; offset += chunk) {
    await storage.writeChunk(actor, upload.id, offset, [bytes.subarray(offset, offset + chunk)]);
  }
  return storage.commitUpload(actor, upload.id);
}

/** Reads a whole stream into a buffer (small test files only). */
export async function readAll(stream: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(typeof part === 'string' ? Buffer.from(part) : part);
  return Buffer.concat(parts);
}
