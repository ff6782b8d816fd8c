import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import { SYSTEM_ACTOR, type Actor } from '../../accounts/model.ts';
import { readAudit } from '../../accounts/audit.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { ManualClock } from '../../lib/clock.ts';
import { defaultSettings, type Settings } from '../../lib/config.ts';
import { KeisanError } from '../../lib/errors.ts';
import { HsmPolicyBook } from './book.ts';

const GIB = 1024 ** 3;
const user: Actor = { ...SYSTEM_ACTOR, kind: 'user', userId: 7, name: 'alice', isOperator: false };

function settingsWith(storage: Settings['storage']): Settings {
  return { ...defaultSettings(), storage };
}

describeEachDatabase('HSM classes and families', (database) => {
  let db: Db & { dispose(): Promise<void> };
  const clock = new ManualClock();
  beforeEach(async () => {
    db = await database.open();
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('without keisan.yaml: just the default class (1 h, 1 copy, 85 → 70 %, async), implicit subgroup families', async () => {
    const book = new HsmPolicyBook(db.kysely, defaultSettings(), clock);
    await book.load();
    assert.deepEqual(book.listClasses().map((c) => [c.name, c.migrationDelayMs, c.copies, c.purgeHighPct, c.purgeLowPct, c.staging]), [['default', 3_600_000, 1, 85, 70, 'async']]);
    assert.equal(book.classForWorkgroup('phys').name, 'default');
    assert.deepEqual(book.familyForPath('/phys/ana/run1/x.dat'), { name: 'phys.ana', tree: '/phys/ana', declared: false, quotaWarnBytes: null, quotaLimitBytes: null, subgroup: 'ana' });
    assert.equal(book.familyForPath('/phys/readme').name, 'phys');
    assert.equal(book.familyForPath('/x').name, 'facility');
  });

  it('seeds from keisan.yaml once, then the database is the truth', async () => {
    const settings = settingsWith({
      classes: [{ name: 'physics', migrationDelay: '10m', copies: 2, purgeHigh: '90%', purgeLow: 50, staging: 'sync', workgroups: ['phys'] }],
      families: [{ name: 'ana-raw', tree: '/phys/ana/raw/', quotaWarn: '800G', quotaLimit: '1T' }],
    });
    const book = new HsmPolicyBook(db.kysely, settings, clock);
    await book.load();
    assert.deepEqual(book.listClasses().map((c) => c.name), ['default', 'physics']);
    assert.equal(book.classForPath('/phys/ana/x').copies, 2);
    assert.equal(book.classForPath('/chem/x').name, 'default');
    const f = book.familyForPath('/phys/ana/raw/run7');
    assert.deepEqual([f.name, f.tree, f.declared, f.quotaWarnBytes, f.quotaLimitBytes, f.subgroup], ['ana-raw', '/phys/ana/raw', true, 800 * GIB, 1024 * GIB, 'ana']);
    assert.equal(book.familyForPath('/phys/ana/other').name, 'phys.ana');

    await book.changeClass(SYSTEM_ACTOR, 'physics', { copies: 3 });
    const again = new HsmPolicyBook(db.kysely, settingsWith({ classes: [{ name: 'other' }] }), clock);
    await again.load();
    assert.deepEqual(again.listClasses().map((c) => [c.name, c.copies]), [['default', 1], ['physics', 3]], 'keisan.yaml seeds only the first start');
  });

  it('refuses bad settings with messages naming the field', async () => {
    const bad = async (storage: Settings['storage'], pattern: RegExp) => {
      const book = new HsmPolicyBook(db.kysely, settingsWith(storage), clock);
      await assert.rejects(book.load(), (e: unknown) => e instanceof KeisanError && e.code === 'INVALID_INPUT' && pattern.test(e.message));
    };
    await bad({ classes: [{ name: 'x', purgeHigh: 50, purgeLow: 60 }] }, /purgeLow \(60%\) must be below purgeHigh \(50%\)/);
    await bad({ classes: [{ name: 'x', copies: 4 }] }, /storage\.classes\[0\].*copies must be 1, 2 or 3/);
    await bad({ classes: [{ name: 'x', migrationDelay: 'soon' }] }, /migrationDelay: 'soon' is not a duration/);
    await bad({ classes: [{ name: 'x', colour: 'red' }] }, /unknown field 'colour'/);
    await bad({ families: [{ name: 'f' }] }, /needs a tree/);
    await bad({ families: [{ name: 'f', tree: '/a', quotaLimit: 'lots' }] }, /quotaLimit: 'lots' is not a size/);
  });

  it('operators add, change and remove classes and families, audited; others are refused, audited', async () => {
    const book = new HsmPolicyBook(db.kysely, defaultSettings(), clock);
    await book.load();
    let changes = 0;
    book.onChange(() => changes++);
    await book.addClass(SYSTEM_ACTOR, { name: 'fast', migrationDelay: '5m', workgroups: ['chem'] });
    assert.equal(book.classForWorkgroup('chem').name, 'fast');
    await assert.rejects(book.addClass(SYSTEM_ACTOR, { name: 'fast' }), /already exists/);
    await assert.rejects(book.addClass(SYSTEM_ACTOR, { name: 'slow', workgroups: ['chem'] }), /workgroup 'chem' is in two classes/);
    await assert.rejects(book.removeClass(SYSTEM_ACTOR, 'default'), /default class cannot be removed/);
    await assert.rejects(book.addClass(user, { name: 'mine' }), (e: unknown) => e instanceof KeisanError && e.code === 'FORBIDDEN');

    await book.changeFamily(SYSTEM_ACTOR, 'phys.ana', { quotaLimit: '2G' });
    assert.deepEqual(book.listFamilies(), [{ name: 'phys.ana', tree: '/phys/ana', quotaWarnBytes: null, quotaLimitBytes: 2 * GIB }], 'a quota on an implicit family declares it');
    await assert.rejects(book.addFamily(SYSTEM_ACTOR, { name: 'dup', tree: '/phys/ana' }), /both map tree \/phys\/ana/);
    await book.removeFamily(SYSTEM_ACTOR, 'phys.ana');
    await book.removeClass(SYSTEM_ACTOR, 'fast');
    assert.equal(changes, 4);

    const reloaded = new HsmPolicyBook(db.kysely, defaultSettings(), clock);
    await reloaded.load();
    assert.deepEqual(reloaded.listClasses().map((c) => c.name), ['default']);
    assert.deepEqual(reloaded.listFamilies(), []);
    const audit = await readAudit(db.kysely, { action: 'storage.' });
    assert.deepEqual(audit.map((a) => `${a.action}:${a.outcome}`).sort(), [
      'storage.class.create:denied', 'storage.class.create:ok', 'storage.class.delete:ok', 'storage.family.delete:ok', 'storage.family.update:ok',
    ]);
  });
});
