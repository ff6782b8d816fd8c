import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSettings } from '../../lib/config.ts';
import { canonicalAcl, modeOf, parseGetfacl, percentOf, planAreas, quotaFor, warningDue, type AreasSnapshot } from './layout.ts';
import { areasRuntime } from './service.ts';

const SNAPSHOT: AreasSnapshot = {
  workgroups: [
    { id: 1, name: 'physics', gid: 5000, admins: ['walter'] },
    { id: 2, name: 'chem', gid: 5010, admins: [] },
  ],
  subgroups: [
    { id: 10, name: 'optics', workgroup: 'physics', gid: 5001, admins: [] },
    { id: 11, name: 'organic', workgroup: 'chem', gid: 5011, admins: [] },
  ],
  users: [
    { id: 100, name: 'alice', uid: 20001, gid: 5001, primarySubgroup: 'optics', workgroup: 'physics', subgroups: [], isOperator: false },
    { id: 101, name: 'dave', uid: 20004, gid: 5011, primarySubgroup: 'organic', workgroup: 'chem', subgroups: ['optics'], isOperator: false },
  ],
  writers: [
    { workgroup: 'physics', user: 'dave', uid: 20004 },
    { workgroup: 'physics', user: 'alice', uid: 20001 },
  ],
};

describe('user areas: the plan', () => {
  it('lays out homes, group areas and libraries with owners, modes and ACLs (as root)', () => {
    const plan = planAreas(SNAPSHOT, '/srv/areas', { mode: 'root', uid: 0, gid: 0 });
    const row = (p: string) => {
      const dir = plan.dirs.find((d) => d.path === p);
      assert.ok(dir, `no ${p} in the plan`);
      return [dir.uid, dir.gid, modeOf(dir.access, dir.setgid).toString(8), dir.access.join(','), dir.defaults?.join(',') ?? null];
    };
    assert.deepEqual(plan.dirs.map((d) => d.path), [
      '/srv/areas',
      '/srv/areas/home',
      '/srv/areas/group',
      '/srv/areas/lib',
      '/srv/areas/home/alice',
      '/srv/areas/home/alice/private',
      '/srv/areas/home/alice/public',
      '/srv/areas/home/dave',
      '/srv/areas/home/dave/private',
      '/srv/areas/home/dave/public',
      '/srv/areas/group/chem',
      '/srv/areas/group/chem/organic',
      '/srv/areas/group/physics',
      '/srv/areas/group/physics/optics',
      '/srv/areas/lib/chem',
      '/srv/areas/lib/physics',
    ]);
    assert.deepEqual(row('/srv/areas'), [0, 0, '755', 'user::rwx,group::r-x,other::r-x', null]);
    assert.deepEqual(row('/srv/areas/group/physics'), [0, 5000, '755', 'user::rwx,group::r-x,other::r-x', null]);
    assert.deepEqual(row('/srv/areas/home/alice'), [20001, 5001, '711', 'user::rwx,group::--x,other::--x', null]);
    assert.deepEqual(row('/srv/areas/home/alice/private'), [20001, 5001, '700', 'user::rwx,group::---,other::---', 'user::rwx,group::---,other::---']);
    assert.deepEqual(row('/srv/areas/home/alice/public'), [20001, 5001, '755', 'user::rwx,group::r-x,other::r-x', 'user::rwx,group::r-x,other::r-x']);
    const group = 'user::rwx,group::rwx,group:5001:rwx,mask::rwx,other::---';
    assert.deepEqual(row('/srv/areas/group/physics/optics'), [0, 5001, '2770', group, group]);
    const library = 'user::rwx,user:20001:rwx,user:20004:rwx,group::r-x,mask::rwx,other::r-x';
    assert.deepEqual(row('/srv/areas/lib/physics'), [0, 5000, '775', library, library]);
    assert.deepEqual(row('/srv/areas/lib/chem'), [0, 5010, '755', 'user::rwx,group::r-x,other::r-x', 'user::rwx,group::r-x,other::r-x']);
    assert.deepEqual(plan.areas.map((a) => a.key), ['home/alice', 'home/dave', 'group/chem/organic', 'group/physics/optics', 'lib/chem', 'lib/physics']);
    // Existing homes owned by someone else are reported, not given away; group areas keep their group.
    const home = plan.dirs.find((d) => d.role === 'home')!;
    assert.deepEqual([home.ownerMismatch, home.groupMismatch], ['report', 'fix']);
    const area = plan.dirs.find((d) => d.role === 'group')!;
    assert.deepEqual([area.ownerMismatch, area.groupMismatch], ['fix', 'report']);
  });

  it('single-user mode: everything belongs to the server user, the ACL entries stay the same', () => {
    const plan = planAreas(SNAPSHOT, '/home/me/areas', { mode: 'single-user', uid: 1000, gid: 1000 });
    assert.ok(plan.dirs.every((d) => d.uid === 1000 && d.gid === 1000));
    assert.ok(plan.dirs.find((d) => d.path.endsWith('/group/physics/optics'))!.access.includes('group:5001:rwx'));
  });

  it('parses getfacl output into canonical entries, and computes modes from ACLs', () => {
    const parsed = parseGetfacl(
      'user::rwx\nuser:20004:rwx\t#effective:r-x\nuser:20001:rwx\ngroup::r-x\nmask::rwx\nother::r-x\ndefault:user::rwx\ndefault:group::---\ndefault:other::---\n\n',
    );
    assert.deepEqual(parsed, {
      access: ['user::rwx', 'user:20001:rwx', 'user:20004:rwx', 'group::r-x', 'mask::rwx', 'other::r-x'],
      defaults: ['user::rwx', 'group::---', 'other::---'],
    });
    assert.deepEqual(canonicalAcl(['other::---', 'group:7:rwx', 'mask::rwx', 'group:3:r-x', 'user::rwx', 'group::rwx']), [
      'user::rwx',
      'group::rwx',
      'group:3:r-x',
      'group:7:rwx',
      'mask::rwx',
      'other::---',
    ]);
    assert.equal(modeOf(['user::rwx', 'group::r-x', 'mask::rwx', 'other::---'], true), 0o2770);
    assert.equal(modeOf(['user::rw-', 'group::r--', 'other::r--'], false), 0o644);
  });

  it('warns at warnPercent of the soft quota, at most once in 24 hours while over', () => {
    const now = new Date('2026-03-02T12:00:00Z');
    const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);
    assert.equal(warningDue(899, 1000, 90, null, now), false);
    assert.equal(warningDue(900, 1000, 90, null, now), true);
    assert.equal(warningDue(5000, 1000, 90, hoursAgo(23.9), now), false);
    assert.equal(warningDue(5000, 1000, 90, hoursAgo(24), now), true);
    assert.equal(warningDue(5000, null, 90, null, now), false, 'no quota, no warning');
    assert.equal(percentOf(950, 1000), 95);
    assert.equal(percentOf(1, 3), 33.3);
    assert.equal(percentOf(5, null), null);
    const settings = { homeQuota: 10, groupQuota: 20, warnPercent: 90 };
    assert.deepEqual([quotaFor('home', settings), quotaFor('group', settings), quotaFor('library', settings)], [10, 20, null]);
  });
});

describe('user areas: settings', () => {
  it('on by default as root under DATA/areas; off with the reason otherwise; enabled: true means single-user mode', () => {
    const defaults = parseSettings({}, 'test');
    const asRoot = areasRuntime(defaults, '/var/lib/keisan', { uid: 0, gid: 0 });
    assert.deepEqual([asRoot.enabled, asRoot.root, asRoot.ownership.mode, asRoot.reason], [true, '/var/lib/keisan/areas', 'root', null]);
    const notRoot = areasRuntime(defaults, '/home/me/keisan', { uid: 1000, gid: 1000 });
    assert.equal(notRoot.enabled, false);
    assert.match(notRoot.reason ?? '', /does not run as root \(uid 1000\).*storage\.areas\.enabled: true/);
    const single = areasRuntime(parseSettings({ storage: { areas: { enabled: true, root: 'my-areas', homeQuota: '50G' } } }, 'test'), '/home/me/keisan', { uid: 1000, gid: 1000 });
    assert.deepEqual([single.enabled, single.root, single.ownership, single.settings.homeQuota, single.settings.warnPercent], [true, '/home/me/keisan/my-areas', { mode: 'single-user', uid: 1000, gid: 1000 }, 50 * 1024 ** 3, 90]);
    const off = areasRuntime(parseSettings({ storage: { areas: { enabled: false } } }, 'test'), '/var/lib/keisan', { uid: 0, gid: 0 });
    assert.deepEqual([off.enabled, off.reason], [false, 'storage.areas.enabled is false in keisan.yaml']);
    assert.throws(() => parseSettings({ storage: { areas: { homeQuota: 'lots' } } }, 'keisan.yaml'), /storage\.areas\.homeQuota: 'lots' is not a size/);
    assert.throws(() => parseSettings({ storage: { areas: { quota: '1G' } } }, 'keisan.yaml'), /storage\.areas: unknown field 'quota'/);
  });

  it("the facility file template's storage.areas example is valid once uncommented", async () => {
    const { DEFAULT_FACILITY_FILE } = await import('../../server/facility.ts');
    const { parseYaml } = await import('../../lib/config.ts');
    const block = DEFAULT_FACILITY_FILE.slice(DEFAULT_FACILITY_FILE.indexOf('# storage:\n')).split('\n\n')[0]!;
    const text = block.split('\n').map((line) => line.replace(/^# /, '')).join('\n');
    const areas = parseSettings(parseYaml(text, 'keisan.yaml'), 'keisan.yaml').storage?.areas;
    assert.deepEqual(areas, { root: '/srv/keisan/areas', homeQuota: 50 * 1024 ** 3, groupQuota: 2 * 1024 ** 4, libraryQuota: 500 * 1024 ** 3, warnPercent: 90, usageInterval: 3_600_000, usageTimeLimit: 600_000 });
  });
});
