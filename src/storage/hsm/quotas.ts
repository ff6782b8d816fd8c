import type { Kysely } from 'kysely';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import type { AccountsService } from '../../accounts/service.ts';
import { addNotification } from '../../batch/store.ts';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { KeisanError } from '../../lib/errors.ts';
import type { UserMail } from '../../monitor/service.ts';
import type { WriteIntent } from '../model.ts';
import type { HsmPolicyBook } from './book.ts';
import { quotaVerdict, type QuotaState, type QuotaVerdict } from './decisions.ts';
import * as store from './store.ts';

type Tx = Kysely<Database>;

export interface QuotaLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Family quotas on archive usage. Usage is kept incrementally: a (file, generation) counts from
 * its first archive copy (`archived`) until its last copy is removed (`released`), each in the
 * transaction that records or removes the copy — never a full scan. After each change the
 * family's verdict is recomputed (pure `quotaVerdict`); crossing into `warn` or `refuse` tells
 * the subgroup's admins (in-app notification, and mail when the facility sends mail). Writes
 * into a family at its limit are refused by `guard` (the namespace's WriteGuard) with the
 * verdict's message.
 */
export class QuotaKeeper {
  /** family → bytes, files, state; a copy of the table, refreshed on every change. */
  private usage = new Map<string, { bytes: number; files: number; state: QuotaState }>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly book: HsmPolicyBook,
    private readonly accounts: AccountsService,
    private readonly mail: UserMail | null,
    private readonly logger: QuotaLogger,
  ) {}

  async load(): Promise<void> {
    const rows = await store.readUsage(this.db);
    this.usage = new Map(rows.map((r) => [r.family, { bytes: r.usageBytes, files: r.usageFiles, state: r.quotaState as QuotaState }]));
  }

  usageOf(family: string): { bytes: number; files: number; state: QuotaState } {
    return this.usage.get(family) ?? { bytes: 0, files: 0, state: 'ok' };
  }

  allUsage(): Map<string, { bytes: number; files: number; state: QuotaState }> {
    return new Map(this.usage);
  }

  /** Counts a generation's first archive copy (in the caller's transaction). Returns the family changed, or null. */
  async archived(tx: Tx, fileId: number, generation: number, family: string, size: number, now: Date): Promise<string | null> {
    const existing = await tx.selectFrom('hsm_archived').select('file_id').where('file_id', '=', fileId).where('generation', '=', generation).executeTakeFirst();
    if (existing) return null;
    await tx.insertInto('hsm_archived').values({ file_id: fileId, generation, family, size, created_at: now.toISOString() }).execute();
    await store.addUsage(tx, family, size, 1, now);
    return family;
  }

  /** Uncounts a generation once it has no archive copy left (call after deleting a copy row, in that transaction). */
  async released(tx: Tx, fileId: number, generation: number, now: Date): Promise<string | null> {
    const left = await tx.selectFrom('fs_copies').select('id').where('file_id', '=', fileId).where('generation', '=', generation).executeTakeFirst();
    if (left) return null;
    const row = await tx.selectFrom('hsm_archived').selectAll().where('file_id', '=', fileId).where('generation', '=', generation).executeTakeFirst();
    if (!row) return null;
    await tx.deleteFrom('hsm_archived').where('file_id', '=', fileId).where('generation', '=', generation).execute();
    await store.addUsage(tx, row.family, -row.size, -1, now);
    return row.family;
  }

  /** The verdict for a family from the usage known now and its current quota. */
  async verdict(family: string): Promise<QuotaVerdict & { admins: string[]; subgroup: string | null }> {
    const f = this.book.family(family);
    const u = this.usageOf(family);
    const subgroup = f?.subgroup ?? null;
    let admins: string[] = [];
    if (subgroup && (f?.quotaWarnBytes != null || f?.quotaLimitBytes != null)) {
      admins = await this.accounts
        .getSubgroup(SYSTEM_ACTOR, subgroup)
        .then((s) => s.admins)
        .catch(() => []);
    }
    const v = quotaVerdict(
      { family, tree: f?.tree ?? family, usedBytes: u.bytes },
      { warnBytes: f?.quotaWarnBytes ?? null, limitBytes: f?.quotaLimitBytes ?? null, subgroup, admins },
    );
    return { ...v, admins, subgroup };
  }

  /** Re-reads the families' usage after a committed change and tells admins about new warnings or refusals. */
  async refresh(families: Iterable<string | null>): Promise<void> {
    const names = new Set([...families].filter((f): f is string => f !== null));
    if (names.size === 0) return;
    const now = this.clock.now();
    for (const family of names) {
      const row = (await store.readUsage(this.db, family))[0];
      const before = this.usage.get(family)?.state ?? ((row?.quotaState as QuotaState | undefined) ?? 'ok');
      this.usage.set(family, { bytes: row?.usageBytes ?? 0, files: row?.usageFiles ?? 0, state: before });
      const v = await this.verdict(family);
      if (v.state === before && row) continue;
      const worse = rank(v.state) > rank(before);
      await store.setQuotaState(this.db, family, v.state, worse ? now.toISOString() : (row?.warnedAt ?? null), now);
      this.usage.set(family, { bytes: row?.usageBytes ?? 0, files: row?.usageFiles ?? 0, state: v.state });
      if (worse) await this.tell(family, v, now);
      else if (v.state !== before) this.logger.info({ family, state: v.state }, 'storage: family back under its quota level');
    }
  }

  private refreshing: Promise<void> = Promise.resolve();

  /** Every family with usage, again (after an operator changed quotas); one at a time, so a crossing is told once. */
  refreshAll(): Promise<void> {
    const next = this.refreshing.then(() => this.refreshAllNow());
    this.refreshing = next.catch(() => undefined);
    return next;
  }

  private async refreshAllNow(): Promise<void> {
    const names = new Set([...this.usage.keys(), ...this.book.listFamilies().map((f) => f.name)]);
    for (const name of names) {
      const v = await this.verdict(name);
      const current = this.usageOf(name);
      if (v.state !== current.state) {
        const worse = rank(v.state) > rank(current.state);
        await store.setQuotaState(this.db, name, v.state, worse ? this.clock.now().toISOString() : null, this.clock.now());
        this.usage.set(name, { ...current, state: v.state });
        if (worse) await this.tell(name, v, this.clock.now());
      }
    }
  }

  private async tell(family: string, v: QuotaVerdict & { admins: string[] }, now: Date): Promise<void> {
    const title = v.state === 'refuse' ? `File family ${family} is at its archive quota: writes are refused` : `File family ${family} is above its archive warning level`;
    this.logger.warn({ family, state: v.state, admins: v.admins }, v.message);
    for (const admin of v.admins) {
      await addNotification(this.db, admin, 'storage-quota', title, v.message, now);
      if (this.mail) {
        const sent = await this.mail.toUser(admin, null, { subject: `[keisan] ${title}`, text: v.message }).catch((error: unknown) => ({ queued: false as const, reason: String(error) }));
        if (!sent.queued) this.logger.info({ admin, reason: sent.reason }, 'storage: quota notice not mailed');
      }
    }
  }

  /**
   * The namespace's WriteGuard: a write into a family at or over its limit is refused with the
   * verdict's message (what is full, by how much, whom to ask). Uses the in-memory usage: O(1).
   */
  guard = async (intent: WriteIntent): Promise<void> => {
    const family = intent.family ?? this.book.familyForPath(intent.path).name;
    const f = this.book.family(family);
    if (!f || f.quotaLimitBytes === null) return;
    if (this.usageOf(family).bytes < f.quotaLimitBytes) return;
    const v = await this.verdict(family);
    if (v.state === 'refuse') throw new KeisanError('FORBIDDEN', `${intent.path}: ${v.message}`, { reason: 'family-quota', family, usageBytes: this.usageOf(family).bytes, limitBytes: f.quotaLimitBytes });
  };
}

function rank(state: QuotaState): number {
  return state === 'refuse' ? 2 : state === 'warn' ? 1 : 0;
}
