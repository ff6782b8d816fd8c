import type { Kysely } from 'kysely';
import { auditedChange, auditedRefusal } from '../../accounts/audit.ts';
import type { Actor } from '../../accounts/model.ts';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { describeIssues, type Settings } from '../../lib/config.ts';
import { conflict, invalidInput, KeisanError, notFound } from '../../lib/errors.ts';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../lib/units.ts';
import { classBook, defaultFamilyName, familyOfPath, type ClassBook } from './decisions.ts';
import {
  classChangeInput,
  classInput,
  DEFAULT_CLASS,
  DEFAULT_CLASS_NAME,
  familyChangeInput,
  familyInput,
  type ClassOfService,
  type FileFamily,
} from './model.ts';
import * as store from './store.ts';

/** Where a path's files go in the archive: its family, and the subgroup whose admins answer for it. */
export interface FamilyOfPath {
  name: string;
  tree: string;
  declared: boolean;
  quotaWarnBytes: number | null;
  quotaLimitBytes: number | null;
  /** `/<wg>/<sg>/…` trees: the subgroup `<sg>`; null otherwise. */
  subgroup: string | null;
}

function pct(field: string, value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(value.replace('%', '').trim());
  if (!Number.isFinite(n) || n < 0 || n > 100) throw invalidInput(`${field} must be a percentage from 0 to 100, not ${value}`);
  return n;
}

function size(field: string, value: string | number | null | undefined, fallback: number | null): number | null {
  if (value === undefined) return fallback;
  if (value === null) return null;
  try {
    return parseSize(value);
  } catch (error) {
    throw invalidInput(`${field}: ${(error as Error).message}`);
  }
}

function duration(field: string, value: string | number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  try {
    return parseDuration(value);
  } catch (error) {
    throw invalidInput(`${field}: ${(error as Error).message}`);
  }
}

/** A normalised tree: absolute, no `..`, no trailing slash (except `/`). */
function normalTree(tree: string): string {
  const parts = tree.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw invalidInput(`tree '${tree}' must not contain '..'`);
  return parts.length ? `/${parts.join('/')}` : '/';
}

/** A class from an input over an existing one (or the defaults). */
export function classFromInput(name: string, input: Record<string, unknown>, base: ClassOfService = { ...DEFAULT_CLASS, name }): ClassOfService {
  const parsed = classChangeInput.safeParse(input);
  if (!parsed.success) throw invalidInput(describeIssues(parsed.error, `class '${name}'`));
  const i = parsed.data;
  const c: ClassOfService = {
    name,
    migrationDelayMs: duration('migrationDelay', i.migrationDelay, base.migrationDelayMs),
    copies: i.copies ?? base.copies,
    purgeHighPct: pct('purgeHigh', i.purgeHigh, base.purgeHighPct),
    purgeLowPct: pct('purgeLow', i.purgeLow, base.purgeLowPct),
    staging: i.staging ?? base.staging,
    workgroups: i.workgroups ? [...new Set(i.workgroups)].sort() : base.workgroups,
    aggregateBelowBytes: size('aggregateBelow', i.aggregateBelow, base.aggregateBelowBytes) ?? 0,
    containerSizeBytes: size('containerSize', i.containerSize, base.containerSizeBytes) ?? DEFAULT_CLASS.containerSizeBytes,
  };
  if (c.containerSizeBytes < 1024 * 1024) throw invalidInput(`class '${name}': containerSize must be at least 1M, not ${c.containerSizeBytes} bytes`);
  if (c.purgeLowPct >= c.purgeHighPct) {
    throw invalidInput(`class '${name}': purgeLow (${c.purgeLowPct}%) must be below purgeHigh (${c.purgeHighPct}%): purge runs from the high water mark down to the low one`);
  }
  return c;
}

export function familyFromInput(name: string, input: Record<string, unknown>, base?: FileFamily): FileFamily {
  const parsed = familyChangeInput.safeParse(input);
  if (!parsed.success) throw invalidInput(describeIssues(parsed.error, `family '${name}'`));
  const i = parsed.data;
  const tree = i.tree !== undefined ? normalTree(i.tree) : base?.tree;
  if (tree === undefined) throw invalidInput(`family '${name}' needs a tree: the directory whose files go to its volumes, e.g. --tree /phys/ana`);
  const f: FileFamily = {
    name,
    tree,
    quotaWarnBytes: size('quotaWarn', i.quotaWarn, base?.quotaWarnBytes ?? null),
    quotaLimitBytes: size('quotaLimit', i.quotaLimit, base?.quotaLimitBytes ?? null),
  };
  if (f.quotaWarnBytes !== null && f.quotaLimitBytes !== null && f.quotaWarnBytes > f.quotaLimitBytes) {
    throw invalidInput(`family '${name}': the warning level must not be above the limit`);
  }
  return f;
}

/**
 * Classes of service and file families: loaded from the database; on the first start seeded
 * from keisan.yaml's `storage.classes` / `storage.families` (or just the `default` class).
 * Operators manage them; every change is audited. The `default` class always exists: it serves
 * every workgroup no other class names.
 */
export class HsmPolicyBook {
  private classMap = new Map<string, ClassOfService>();
  private familyList: FileFamily[] = [];
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly settings: Settings,
    private readonly clock: Clock,
  ) {}

  /** Called after every change (the engine re-plans). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async load(): Promise<void> {
    let classes = await store.readClasses(this.db);
    let families = await store.readFamilies(this.db);
    if (classes.length === 0) {
      classes = this.seedClasses();
      families = this.seedFamilies();
      await this.db.transaction().execute(async (tx) => {
        for (const c of classes) await store.writeClass(tx, c, this.clock.now());
        for (const f of families) await store.writeFamily(tx, f, this.clock.now());
      });
    }
    this.classMap = new Map(classes.map((c) => [c.name, c]));
    this.familyList = families;
  }

  private seedClasses(): ClassOfService[] {
    const declared = this.settings.storage?.classes ?? [];
    const classes = declared.map((raw, index) => {
      const parsed = classInput.safeParse(raw);
      if (!parsed.success) throw invalidInput(describeIssues(parsed.error, `keisan.yaml storage.classes[${index}]`));
      const { name, ...rest } = parsed.data;
      return classFromInput(name, rest);
    });
    if (!classes.some((c) => c.name === DEFAULT_CLASS_NAME)) classes.unshift({ ...DEFAULT_CLASS });
    checkClassSet(classes);
    return classes;
  }

  private seedFamilies(): FileFamily[] {
    const declared = this.settings.storage?.families ?? [];
    const families = declared.map((raw, index) => {
      const parsed = familyInput.safeParse(raw);
      if (!parsed.success) throw invalidInput(describeIssues(parsed.error, `keisan.yaml storage.families[${index}]`));
      const { name, ...rest } = parsed.data;
      return familyFromInput(name, rest);
    });
    checkFamilySet(families);
    return families;
  }

  // ---------------------------------------------------------------- reading

  classes(): ClassBook {
    return classBook(this.classMap.values());
  }

  listClasses(): ClassOfService[] {
    return [...this.classMap.values()].sort((a, b) => (a.name === DEFAULT_CLASS_NAME ? -1 : b.name === DEFAULT_CLASS_NAME ? 1 : a.name < b.name ? -1 : 1));
  }

  listFamilies(): FileFamily[] {
    return [...this.familyList];
  }

  /** The class of a workgroup's files: the class naming it, else `default`. */
  classForWorkgroup(workgroup: string | null): ClassOfService {
    if (workgroup) for (const c of this.classMap.values()) if (c.workgroups.includes(workgroup)) return c;
    return this.classMap.get(DEFAULT_CLASS_NAME) ?? DEFAULT_CLASS;
  }

  /** The class of a path: its workgroup is the first part. */
  classForPath(filePath: string): ClassOfService {
    return this.classForWorkgroup(filePath.split('/').filter(Boolean)[0] ?? null);
  }

  /**
   * The family of a path: the declared family with the longest tree containing it; else the
   * subgroup's default family `/<wg>/<sg>/…` → `<wg>.<sg>`; a file directly in `/<wg>` → `<wg>`;
   * at the top → `facility`.
   */
  familyForPath(filePath: string): FamilyOfPath {
    const parts = filePath.split('/').filter(Boolean);
    const subgroupOf = (tree: string) => tree.split('/').filter(Boolean)[1] ?? null;
    const declared = familyOfPath(this.familyList, filePath);
    if (declared) return { ...declared, declared: true, subgroup: subgroupOf(declared.tree) };
    if (parts.length >= 3) {
      const tree = `/${parts[0]}/${parts[1]}`;
      return { name: defaultFamilyName(parts[0]!, parts[1]!), tree, declared: false, quotaWarnBytes: null, quotaLimitBytes: null, subgroup: parts[1]! };
    }
    if (parts.length === 2) return { name: parts[0]!, tree: `/${parts[0]}`, declared: false, quotaWarnBytes: null, quotaLimitBytes: null, subgroup: null };
    return { name: 'facility', tree: '/', declared: false, quotaWarnBytes: null, quotaLimitBytes: null, subgroup: null };
  }

  /** A family by name: declared, or the implicit `<wg>.<sg>` one. */
  family(name: string): FamilyOfPath | null {
    const declared = this.familyList.find((f) => f.name === name);
    if (declared) return { ...declared, declared: true, subgroup: declared.tree.split('/').filter(Boolean)[1] ?? null };
    const m = /^([a-z_][a-z0-9_-]*)\.([a-z_][a-z0-9_-]*)$/.exec(name);
    if (m) return { name, tree: `/${m[1]}/${m[2]}`, declared: false, quotaWarnBytes: null, quotaLimitBytes: null, subgroup: m[2]! };
    return null;
  }

  // ---------------------------------------------------------------- changes (operators)

  private async require(actor: Actor, action: string, target: string): Promise<void> {
    if (actor.isOperator) return;
    throw await auditedRefusal(this.db, { actor, action, targetType: action.split('.')[1]!, target }, `only an operator may change storage ${action.split('.')[1]}es`.replace('familyes', 'families'), this.clock.now());
  }

  private async saveClasses(actor: Actor, action: string, target: string, next: ClassOfService[], detail: Record<string, unknown>): Promise<void> {
    checkClassSet(next);
    await auditedChange(this.db, { actor, action, targetType: 'storage-class', target, detail }, () => this.clock.now(), async (tx) => {
      const before = new Set((await store.readClasses(tx)).map((c) => c.name));
      for (const c of next) await store.writeClass(tx, c, this.clock.now());
      for (const name of before) if (!next.some((c) => c.name === name)) await store.deleteClass(tx, name);
    }, `storage class '${target}' was changed at the same time by someone else; try again`);
    this.classMap = new Map(next.map((c) => [c.name, c]));
    for (const l of this.listeners) l();
  }

  async addClass(actor: Actor, raw: unknown): Promise<ClassOfService> {
    await this.require(actor, 'storage.class.create', String((raw as { name?: unknown })?.name ?? ''));
    const parsed = classInput.safeParse(raw);
    if (!parsed.success) throw invalidInput(describeIssues(parsed.error, 'class'));
    const { name, ...rest } = parsed.data;
    if (this.classMap.has(name)) throw conflict(`class '${name}' already exists: change it with keisan admin storage class set ${name}`);
    const c = classFromInput(name, rest);
    await this.saveClasses(actor, 'storage.class.create', name, [...this.classMap.values(), c], { ...c });
    return c;
  }

  async changeClass(actor: Actor, name: string, raw: unknown): Promise<ClassOfService> {
    await this.require(actor, 'storage.class.update', name);
    const existing = this.classMap.get(name);
    if (!existing) throw notFound('storage class', name);
    const c = classFromInput(name, (raw ?? {}) as Record<string, unknown>, existing);
    await this.saveClasses(actor, 'storage.class.update', name, [...this.classMap.values()].map((x) => (x.name === name ? c : x)), { ...c });
    return c;
  }

  async removeClass(actor: Actor, name: string): Promise<void> {
    await this.require(actor, 'storage.class.delete', name);
    if (!this.classMap.has(name)) throw notFound('storage class', name);
    if (name === DEFAULT_CLASS_NAME) throw conflict(`the default class cannot be removed: it serves every workgroup no other class names (change it with keisan admin storage class set default)`);
    await this.saveClasses(actor, 'storage.class.delete', name, [...this.classMap.values()].filter((c) => c.name !== name), {});
  }

  private async saveFamilies(actor: Actor, action: string, target: string, next: FileFamily[], detail: Record<string, unknown>): Promise<void> {
    checkFamilySet(next);
    await auditedChange(this.db, { actor, action, targetType: 'storage-family', target, detail }, () => this.clock.now(), async (tx) => {
      const removed = this.familyList.filter((f) => !next.some((n) => n.name === f.name));
      for (const f of removed) await store.deleteFamily(tx, f.name);
      // Trees are unique: free the old trees first when two families swap.
      for (const f of next) await store.writeFamily(tx, f, this.clock.now());
    }, `file family '${target}' was changed at the same time by someone else; try again`);
    this.familyList = next;
    for (const l of this.listeners) l();
  }

  async addFamily(actor: Actor, raw: unknown): Promise<FileFamily> {
    await this.require(actor, 'storage.family.create', String((raw as { name?: unknown })?.name ?? ''));
    const parsed = familyInput.safeParse(raw);
    if (!parsed.success) throw invalidInput(describeIssues(parsed.error, 'family'));
    const { name, ...rest } = parsed.data;
    if (this.familyList.some((f) => f.name === name)) throw conflict(`family '${name}' already exists: change it with keisan admin storage family set ${name}`);
    const f = familyFromInput(name, rest);
    await this.saveFamilies(actor, 'storage.family.create', name, [...this.familyList, f], { ...f });
    return f;
  }

  async changeFamily(actor: Actor, name: string, raw: unknown): Promise<FileFamily> {
    await this.require(actor, 'storage.family.update', name);
    const existing = this.familyList.find((f) => f.name === name);
    const implicit = existing ? null : this.family(name);
    if (!existing && !implicit) throw notFound('file family', name);
    // Setting a quota on an implicit subgroup family declares it.
    const base: FileFamily = existing ?? { name, tree: implicit!.tree, quotaWarnBytes: null, quotaLimitBytes: null };
    const f = familyFromInput(name, (raw ?? {}) as Record<string, unknown>, base);
    const next = existing ? this.familyList.map((x) => (x.name === name ? f : x)) : [...this.familyList, f];
    await this.saveFamilies(actor, 'storage.family.update', name, next, { ...f });
    return f;
  }

  async removeFamily(actor: Actor, name: string): Promise<void> {
    await this.require(actor, 'storage.family.delete', name);
    if (!this.familyList.some((f) => f.name === name)) throw notFound('file family', name);
    await this.saveFamilies(actor, 'storage.family.delete', name, this.familyList.filter((f) => f.name !== name), {});
  }
}

function checkClassSet(classes: readonly ClassOfService[]): void {
  const owner = new Map<string, string>();
  for (const c of classes) {
    for (const wg of c.workgroups) {
      const other = owner.get(wg);
      if (other && other !== c.name) throw new KeisanError('CONFLICT', `workgroup '${wg}' is in two classes ('${other}' and '${c.name}'): a workgroup has one class of service`);
      owner.set(wg, c.name);
    }
  }
}

function checkFamilySet(families: readonly FileFamily[]): void {
  const names = new Set<string>();
  const trees = new Map<string, string>();
  for (const f of families) {
    if (names.has(f.name)) throw conflict(`family '${f.name}' is declared twice`);
    names.add(f.name);
    const other = trees.get(f.tree);
    if (other) throw conflict(`families '${other}' and '${f.name}' both map tree ${f.tree}: a tree belongs to one family`);
    trees.set(f.tree, f.name);
  }
}

/** For messages: a class in words. */
export function describeClass(c: ClassOfService): string {
  return `migrate after ${formatDuration(c.migrationDelayMs)}, ${c.copies} cop${c.copies === 1 ? 'y' : 'ies'}, purge ${c.purgeHighPct}% → ${c.purgeLowPct}%, staging ${c.staging}${c.aggregateBelowBytes > 0 ? `, files < ${formatSize(c.aggregateBelowBytes)} in containers ≤ ${formatSize(c.containerSizeBytes)}` : ''}`;
}
