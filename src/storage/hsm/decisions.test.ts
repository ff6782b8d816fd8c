import { seededRandom } from '../../lib/random.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classBook,
  defaultFamilyName,
  familyOfPath,
  holesPct,
  orderStageRequests,
  planMigration,
  planPurge,
  purgeKey,
  quotaVerdict,
  selectRepack,
  type DriveModel,
  type MigrationFile,
  type PurgeCandidate,
  type RepackVolume,
  type StagePending,
} from './decisions.ts';
import { DEFAULT_CLASS, type ClassOfService } from './model.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const GIB = 1024 ** 3;
const NOW = new Date('2026-06-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

const rng = seededRandom;

const cls = (name: string, over: Partial<ClassOfService> = {}): ClassOfService => ({ ...DEFAULT_CLASS, name, ...over });

describe('planMigration', () => {
  const classes = classBook([cls('default', { migrationDelayMs: HOUR, copies: 1 }), cls('twice', { migrationDelayMs: 10 * MIN, copies: 2 })]);
  const file = (id: number, over: Partial<MigrationFile> = {}): MigrationFile => ({ id, size: 100, family: 'a.x', cos: 'default', dirty: true, modifiedAt: ago(2 * HOUR), copiesPresent: [], ...over });

  it('migrates dirty files older than their class delay, grouped by family and copy, oldest first', () => {
    const plan = planMigration(
      [
        file(1, { modifiedAt: ago(3 * HOUR) }),
        file(2, { modifiedAt: ago(30 * MIN) }), // inside the 1 h delay
        file(3, { dirty: false }),
        file(4, { family: 'b.y', cos: 'twice', modifiedAt: ago(11 * MIN) }),
        file(5, { family: 'b.y', cos: 'twice', modifiedAt: ago(20 * MIN), copiesPresent: [1] }),
        file(6, { modifiedAt: ago(5 * HOUR) }),
        file(7, { cos: 'unknown-class', modifiedAt: ago(61 * MIN) }), // unknown class → default
      ],
      classes,
      NOW,
    );
    assert.deepEqual(plan.batches, [
      { family: 'a.x', copy: 1, fileIds: [6, 1, 7], bytes: 300 },
      { family: 'b.y', copy: 1, fileIds: [4], bytes: 100 },
      { family: 'b.y', copy: 2, fileIds: [5, 4], bytes: 200 },
    ]);
    assert.equal(plan.waiting, 1);
    assert.deepEqual(plan.nextDueAt, new Date(ago(30 * MIN).getTime() + HOUR));
  });

  it('is exact at the delay boundary and cuts batches at the limits', () => {
    assert.equal(planMigration([file(1, { modifiedAt: ago(HOUR) })], classes, NOW).batches.length, 1);
    assert.equal(planMigration([file(1, { modifiedAt: ago(HOUR - 1) })], classes, NOW).batches.length, 0);
    const many = Array.from({ length: 10 }, (_, i) => file(i + 1, { size: 40, modifiedAt: ago(2 * HOUR + i) }));
    const plan = planMigration(many, classes, NOW, { maxFiles: 4, maxBytes: 100 });
    assert.deepEqual(plan.batches.map((b) => b.fileIds.length), [2, 2, 2, 2, 2]);
    const big = planMigration([file(1, { size: 500 }), file(2, { size: 10, modifiedAt: ago(3 * HOUR) })], classes, NOW, { maxFiles: 10, maxBytes: 100 });
    assert.deepEqual(big.batches.map((b) => b.fileIds), [[2], [1]], 'a file over maxBytes gets its own batch');
  });

  it('property: every due copy is planned exactly once, nothing else, and no batch breaks the limits', () => {
    const random = rng(7);
    for (let round = 0; round < 200; round++) {
      const files: MigrationFile[] = Array.from({ length: Math.floor(random() * 40) }, (_, i) => ({
        id: i + 1,
        size: Math.floor(random() * 1000),
        family: `f${Math.floor(random() * 3)}`,
        cos: random() < 0.5 ? 'default' : 'twice',
        dirty: random() < 0.7,
        modifiedAt: ago(Math.floor(random() * 2 * HOUR)),
        copiesPresent: random() < 0.2 ? [1] : [],
      }));
      const limits = { maxFiles: 1 + Math.floor(random() * 5), maxBytes: 500 + Math.floor(random() * 2000) };
      const plan = planMigration(files, classes, NOW, limits);
      const planned = new Set<string>();
      for (const b of plan.batches) {
        assert.ok(b.fileIds.length <= limits.maxFiles);
        assert.ok(b.fileIds.length === 1 || b.bytes <= limits.maxBytes);
        for (const id of b.fileIds) {
          const key = `${id}/${b.copy}`;
          assert.ok(!planned.has(key), `copy planned twice: ${key}`);
          planned.add(key);
          assert.equal(files[id - 1]!.family, b.family);
        }
      }
      for (const f of files) {
        const c = classes.get(f.cos!)!;
        const due = f.dirty && NOW.getTime() - f.modifiedAt.getTime() >= c.migrationDelayMs;
        for (let copy = 1; copy <= 3; copy++) {
          const expected = due && copy <= c.copies && !f.copiesPresent.includes(copy);
          assert.equal(planned.has(`${f.id}/${copy}`), expected, `file ${f.id} copy ${copy}`);
        }
      }
    }
  });
});

describe('planPurge', () => {
  const classes = classBook([cls('default', { purgeHighPct: 80, purgeLowPct: 60 })]);
  const cand = (id: number, over: Partial<PurgeCandidate> = {}): PurgeCandidate => ({
    id, size: 10, cos: 'default', migrated: true, open: false, pinned: false, staging: false, lastAccessAt: ago(id * HOUR), migratedAt: ago(100 * HOUR), ...over,
  });

  it('does nothing at or below the high water mark', () => {
    const plan = planPurge(80, 100, classes, [cand(1)], NOW);
    assert.equal(plan.triggered, false);
    assert.deepEqual(plan.purge, []);
  });

  it('above the high water mark frees the oldest first down to the low water mark, and no further', () => {
    const plan = planPurge(90, 100, classes, [cand(1), cand(2), cand(3), cand(4), cand(5)], NOW);
    assert.equal(plan.triggered, true);
    assert.deepEqual(plan.purge, [5, 4, 3], 'oldest last access first; 90 → 60');
    assert.equal(plan.usageAfter, 60);
    assert.equal(plan.reachedLow, true);
    assert.equal(plan.ranOut, false);
  });

  it('never purges a file that is not migrated, open, pinned or being staged, and says candidates ran out', () => {
    const plan = planPurge(95, 100, classes, [
      cand(1, { migrated: false }),
      cand(2, { open: true }),
      cand(3, { pinned: true }),
      cand(4, { staging: true }),
      cand(5),
    ], NOW);
    assert.deepEqual(plan.purge, [5]);
    assert.equal(plan.reachedLow, false);
    assert.equal(plan.ranOut, true);
    assert.deepEqual(plan.kept, { notMigrated: 1, open: 1, pinned: 1, staging: 1, tooRecent: 0 });
  });

  it('key: the later of last access and migration time', () => {
    assert.equal(purgeKey({ lastAccessAt: ago(HOUR), migratedAt: ago(2 * HOUR) }), ago(HOUR).getTime());
    assert.equal(purgeKey({ lastAccessAt: ago(5 * HOUR), migratedAt: ago(2 * HOUR) }), ago(2 * HOUR).getTime());
    assert.equal(purgeKey({ lastAccessAt: null, migratedAt: null }), 0);
    // read long ago but migrated just now goes after one migrated long ago and read recently-ish
    const plan = planPurge(90, 100, classes, [
      cand(1, { lastAccessAt: ago(50 * HOUR), migratedAt: ago(MIN) }),
      cand(2, { lastAccessAt: ago(10 * HOUR), migratedAt: ago(60 * HOUR) }),
    ], NOW);
    assert.deepEqual(plan.purge, [2, 1]);
  });

  it('minAgeMs keeps recently used files; force purges below the high mark down to the low', () => {
    const plan = planPurge(90, 100, classes, [cand(1, { lastAccessAt: ago(MIN), migratedAt: ago(MIN) }), cand(2)], NOW, { minAgeMs: 10 * MIN });
    assert.deepEqual(plan.purge, [2]);
    assert.equal(plan.kept.tooRecent, 1);
    const forced = planPurge(70, 100, classes, [cand(1), cand(2)], NOW, { force: true });
    assert.deepEqual(forced.purge, [2]);
    assert.equal(forced.usageAfter, 60);
  });

  it('per class: only classes over their own high mark purge, each to its low mark', () => {
    const two = classBook([cls('default', { purgeHighPct: 80, purgeLowPct: 60 }), cls('tight', { purgeHighPct: 50, purgeLowPct: 40 })]);
    const plan = planPurge(70, 100, two, [cand(1), cand(2, { cos: 'tight' }), cand(3, { cos: 'tight' }), cand(4, { cos: 'tight' })], NOW);
    assert.deepEqual(plan.purge, [4, 3, 2], 'default files stay: 70 is under its 80 %');
    assert.equal(plan.usageAfter, 40);
  });

  it('property: usage ends ≤ low unless candidates ran out; only safe files; strict key order; a prefix of the eligible ones', () => {
    const random = rng(42);
    for (let round = 0; round < 500; round++) {
      const capacity = 1000;
      const high = 50 + Math.floor(random() * 45);
      const low = Math.floor(random() * high);
      const book = classBook([cls('default', { purgeHighPct: high, purgeLowPct: low })]);
      const candidates = Array.from({ length: Math.floor(random() * 60) }, (_, i) =>
        cand(i + 1, {
          size: 1 + Math.floor(random() * 80),
          migrated: random() < 0.7,
          open: random() < 0.1,
          pinned: random() < 0.1,
          staging: random() < 0.05,
          lastAccessAt: random() < 0.2 ? null : ago(Math.floor(random() * 1000) * MIN),
          migratedAt: ago(Math.floor(random() * 1000) * MIN),
        }),
      );
      const usage = Math.floor(random() * capacity);
      const plan = planPurge(usage, capacity, book, candidates, NOW);
      const byId = new Map(candidates.map((c) => [c.id, c]));
      const safe = (c: PurgeCandidate) => c.migrated && !c.open && !c.pinned && !c.staging;
      if (usage <= (capacity * high) / 100) {
        assert.deepEqual(plan.purge, []);
        continue;
      }
      let freed = 0;
      let lastKey = -Infinity;
      for (const id of plan.purge) {
        const c = byId.get(id)!;
        assert.ok(safe(c), `unsafe file ${id} purged`);
        assert.ok(purgeKey(c) >= lastKey, 'purge order follows the key');
        lastKey = purgeKey(c);
        freed += c.size;
      }
      assert.equal(plan.usageAfter, usage - freed);
      const lowBytes = Math.floor((capacity * low) / 100);
      const eligible = candidates.filter(safe).sort((a, b) => purgeKey(a) - purgeKey(b) || a.id - b.id);
      assert.deepEqual(plan.purge, eligible.slice(0, plan.purge.length).map((c) => c.id), 'oldest eligible first, none skipped');
      if (plan.ranOut) assert.equal(plan.purge.length, eligible.length, 'ran out means every eligible file went');
      else assert.ok(plan.usageAfter <= lowBytes);
      // it stops as soon as it is at the low mark: without the last file usage was still above it
      if (plan.purge.length > 0) assert.ok(plan.usageAfter + byId.get(plan.purge.at(-1)!)!.size > lowBytes);
    }
  });

  it('plans a million files: oldest first, down to the low water mark', () => {
    const random = rng(1);
    const candidates = Array.from({ length: 1_000_000 }, (_, i) => cand(i + 1, { size: 1 + Math.floor(random() * 1000), lastAccessAt: ago(Math.floor(random() * 1e9)) }));
    const plan = planPurge(900 * 1_000_000, 1000 * 1_000_000, classes, candidates, NOW);
    assert.ok(plan.purge.length > 0 && !plan.ranOut);
    const byId = new Map(candidates.map((c) => [c.id, c]));
    const keys = plan.purge.map((id) => purgeKey(byId.get(id)!));
    for (let i = 1; i < keys.length; i++) assert.ok(keys[i - 1]! <= keys[i]!, 'oldest first');
    assert.ok(plan.usageAfter <= 600 * 1_000_000, 'down to the low water mark (60 %)');
  });
});

describe('orderStageRequests', () => {
  const drives: DriveModel = { drives: 1, mountMs: 10_000, locateMs: 5_000, unmountMs: 8_000, bytesPerSecond: 100, mounted: [] };
  const req = (requestId: string, fileId: number, locations: Array<[number, string, number]>, over: Partial<StagePending> = {}): StagePending => ({
    requestId, fileId, size: 100, requestedAt: ago(HOUR), locations: locations.map(([copy, volume, position]) => ({ copy, volume, position })), ...over,
  });

  it('merges requests for one file and keeps every request id', () => {
    const order = orderStageRequests([req('r1', 1, [[1, 'V1', 0]]), req('r2', 1, [[1, 'V1', 0]], { requestedAt: ago(2 * HOUR) }), req('r2', 2, [[1, 'V1', 100]])], drives);
    assert.equal(order.visits.length, 1);
    assert.deepEqual(order.visits[0]!.files.map((f) => [f.fileId, f.requestIds]), [[1, ['r1', 'r2']], [2, ['r2']]]);
  });

  it('visits each volume once, reading in position order, oldest request first', () => {
    const order = orderStageRequests([
      req('r1', 1, [[1, 'V2', 500]], { requestedAt: ago(HOUR) }),
      req('r1', 2, [[1, 'V1', 300]], { requestedAt: ago(2 * HOUR) }),
      req('r1', 3, [[1, 'V2', 100]], { requestedAt: ago(HOUR) }),
      req('r1', 4, [[1, 'V1', 0]], { requestedAt: ago(HOUR) }),
      req('r1', 5, [[1, 'V2', 300]], { requestedAt: ago(HOUR) }),
    ], drives);
    assert.deepEqual(order.visits.map((v) => [v.volume, v.files.map((f) => f.position)]), [['V1', [0, 300]], ['V2', [100, 300, 500]]]);
    assert.equal(order.mounts, 2);
    assert.deepEqual(order.visits.flatMap((v) => v.files.map((f) => f.queuePosition)), [1, 2, 3, 4, 5]);
  });

  it('estimates: mount, locate when not contiguous, transfer, unmount; a second drive runs in parallel', () => {
    const order = orderStageRequests([req('r', 1, [[1, 'V1', 0]]), req('r', 2, [[1, 'V1', 100]]), req('r', 3, [[1, 'V1', 300]])], drives);
    // mount 10 s, file 1 at 0 (no locate) 1 s → 11 s; file 2 follows → 12 s; file 3 needs a locate → 18 s
    assert.deepEqual(order.visits[0]!.files.map((f) => f.etaMs), [11_000, 12_000, 18_000]);
    assert.equal(order.visits[0]!.endMs, 26_000);
    const two = orderStageRequests([req('r', 1, [[1, 'V1', 0]]), req('r', 2, [[1, 'V2', 0]]), req('r', 3, [[1, 'V3', 0]])], { ...drives, drives: 2 });
    assert.deepEqual(two.visits.map((v) => [v.volume, v.drive, v.startMs]), [['V1', 0, 0], ['V2', 1, 0], ['V3', 0, 19_000]]);
    const mounted = orderStageRequests([req('r', 1, [[1, 'V9', 0]], { requestedAt: ago(MIN) }), req('r', 2, [[1, 'V1', 0]])], { ...drives, mounted: ['V9'] });
    assert.deepEqual(mounted.visits.map((v) => [v.volume, v.mount]), [['V9', false], ['V1', true]], 'a mounted volume goes first and costs no mount');
    assert.equal(mounted.visits[0]!.files[0]!.etaMs, 1000);
  });

  it('chooses among copies so that as few volumes as possible are mounted', () => {
    const order = orderStageRequests([
      req('r', 1, [[1, 'A', 0], [2, 'X', 0]]),
      req('r', 2, [[1, 'B', 0], [2, 'X', 100]]),
      req('r', 3, [[1, 'C', 0], [2, 'X', 200]]),
      req('r', 4, [[1, 'A', 100]]),
    ], drives);
    assert.equal(order.mounts, 2);
    assert.deepEqual(order.visits.map((v) => [v.volume, v.files.map((f) => f.fileId)]).sort(), [['A', [4]], ['X', [1, 2, 3]]].sort());
  });

  it('reports files no copy can serve', () => {
    const order = orderStageRequests([req('r', 1, []), req('s', 1, [])], drives);
    assert.deepEqual(order.unservable, [{ fileId: 1, requestIds: ['r', 's'] }]);
    assert.equal(order.visits.length, 0);
  });

  it('property: one visit per volume, each file once, positions increasing, ETAs increasing per drive, mounts = volumes not mounted', () => {
    const random = rng(99);
    for (let round = 0; round < 300; round++) {
      const volumes = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, i) => `V${i}`);
      const pending: StagePending[] = [];
      const files = 1 + Math.floor(random() * 40);
      for (let f = 1; f <= files; f++) {
        const copies = 1 + Math.floor(random() * 2);
        const locations = Array.from({ length: copies }, (_, c) => ({ copy: c + 1, volume: volumes[Math.floor(random() * volumes.length)]!, position: Math.floor(random() * 10_000) }));
        const requests = 1 + Math.floor(random() * 3);
        for (let r = 0; r < requests; r++) pending.push({ requestId: `r${Math.floor(random() * 5)}`, fileId: f, size: 1 + Math.floor(random() * 500), requestedAt: ago(Math.floor(random() * HOUR)), locations });
      }
      const model = { ...drives, drives: 1 + Math.floor(random() * 3), mounted: random() < 0.3 ? [volumes[0]!] : [] };
      const order = orderStageRequests(pending, model);
      const seenVolumes = new Set<string>();
      const seenFiles = new Set<number>();
      let expectedQueue = 1;
      for (const visit of order.visits) {
        assert.ok(!seenVolumes.has(visit.volume), 'a volume visited twice in one batch');
        seenVolumes.add(visit.volume);
        let lastPos = -1;
        let lastEta = visit.startMs;
        for (const f of visit.files) {
          assert.ok(!seenFiles.has(f.fileId), 'a file staged twice');
          seenFiles.add(f.fileId);
          assert.ok(f.position >= lastPos);
          assert.ok(f.etaMs >= lastEta);
          lastPos = f.position;
          lastEta = f.etaMs;
          assert.equal(f.queuePosition, expectedQueue++);
          const loc = pending.find((p) => p.fileId === f.fileId)!.locations.find((l) => l.copy === f.copy)!;
          assert.equal(loc.volume, visit.volume);
          const asked = new Set(pending.filter((p) => p.fileId === f.fileId).map((p) => p.requestId));
          assert.deepEqual(new Set(f.requestIds), asked);
        }
      }
      assert.equal(seenFiles.size, files);
      assert.equal(order.mounts, order.visits.filter((v) => !model.mounted.includes(v.volume)).length);
    }
  });
});

describe('quotaVerdict', () => {
  const usage = (usedBytes: number) => ({ family: 'phys.ana', tree: '/phys/ana', usedBytes });
  const quota = { warnBytes: 800 * GIB, limitBytes: 1024 * GIB, subgroup: 'ana', admins: ['alice', 'bob'] };

  it('ok below the warning level (and at it)', () => {
    assert.deepEqual(quotaVerdict(usage(800 * GIB), quota), { state: 'ok', message: '' });
  });

  it('warns above the warning level, naming the family, usage, levels and the subgroup admins', () => {
    const v = quotaVerdict(usage(900 * GIB), quota);
    assert.equal(v.state, 'warn');
    for (const part of ['phys.ana', '/phys/ana', '900 GiB', '800 GiB', '1.0 TiB', 'subgroup ana', 'alice, bob']) assert.ok(v.message.includes(part), `${part} in: ${v.message}`);
  });

  it('refuses at or over the limit, saying why and whom to ask', () => {
    for (const used of [1024 * GIB, 2048 * GIB]) {
      const v = quotaVerdict(usage(used), quota);
      assert.equal(v.state, 'refuse');
      for (const part of ['phys.ana', 'limit of 1.0 TiB', 'refused', 'admins of subgroup ana (alice, bob)']) assert.ok(v.message.includes(part), `${part} in: ${v.message}`);
    }
  });

  it('no quota: always ok; no admins: ask an operator', () => {
    assert.equal(quotaVerdict(usage(10 * 1024 * GIB), { warnBytes: null, limitBytes: null, subgroup: null, admins: [] }).state, 'ok');
    assert.match(quotaVerdict(usage(5), { warnBytes: null, limitBytes: 5, subgroup: null, admins: [] }).message, /ask an operator/);
  });
});

describe('selectRepack', () => {
  const vol = (name: string, state: RepackVolume['state'], used: number, holes: number): RepackVolume => ({ name, state, usedBytes: used, holesBytes: holes, liveBytes: used - holes });

  it('picks full or read-only volumes with enough holes, most holes first, skipping busy and filling ones', () => {
    const volumes = [vol('A', 'full', 100, 40), vol('B', 'full', 100, 70), vol('C', 'filling', 100, 90), vol('D', 'readonly', 100, 50), vol('E', 'full', 100, 0), vol('F', 'retired', 100, 100), vol('G', 'full', 100, 60)];
    assert.deepEqual(selectRepack(volumes, 50, new Set(['G'])).map((v) => v.name), ['B', 'D']);
    assert.deepEqual(selectRepack(volumes, 0).map((v) => v.name), ['B', 'G', 'D', 'A']);
    assert.equal(holesPct(vol('Z', 'empty', 0, 0)), 0);
  });
});

describe('families', () => {
  const families = [{ name: 'phys', tree: '/phys' }, { name: 'phys.ana', tree: '/phys/ana/' }, { name: 'root', tree: '/' }];
  it('the longest tree containing the path wins; siblings with a common prefix do not match', () => {
    assert.equal(familyOfPath(families, '/phys/ana/run1/x.dat')?.name, 'phys.ana');
    assert.equal(familyOfPath(families, '/phys/ana')?.name, 'phys.ana');
    assert.equal(familyOfPath(families, '/phys/analysis/x')?.name, 'phys');
    assert.equal(familyOfPath(families, '/chem/x')?.name, 'root');
    assert.equal(familyOfPath(families.slice(0, 2), '/chem/x'), null);
    assert.equal(defaultFamilyName('phys', 'ana'), 'phys.ana');
  });
});
