import type { Kysely, Selectable } from 'kysely';
import { auditedChange, auditedRefusal } from '../../accounts/audit.ts';
import type { Actor } from '../../accounts/model.ts';
import type { Database, RunbookTable } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { describeIssues } from '../../lib/config.ts';
import { conflict, invalidInput, notFound } from '../../lib/errors.ts';
import type { InventoryService } from '../inventory/service.ts';
import { runbookGaps, runbookInput, testedInput, type Runbook, type RunbookGap } from './model.ts';

type Row = Selectable<RunbookTable>;

function toRunbook(row: Row): Runbook {
  return {
    name: row.name,
    service: row.service,
    body: row.body,
    location: row.location,
    lastTestedAt: row.last_tested_at,
    testedBy: row.tested_by,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface RunbookServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  inventory: InventoryService;
  /** keisan.yaml maintenance.runbookTestedWithinDays: the default age limit of `gaps`. */
  testedWithinDays: number;
}

/** Runbooks: operators add them, record their tests and read them; every change is audited. */
export class RunbookService {
  constructor(private readonly o: RunbookServiceOptions) {}

  private now(): Date {
    return this.o.clock.now();
  }

  private async requireOperator(actor: Actor, action: string, target: string): Promise<void> {
    if (actor.isOperator) return;
    throw await auditedRefusal(this.o.db, { actor, action, targetType: 'runbook', target }, 'only an operator may read or change runbooks', this.now());
  }

  async list(actor: Actor): Promise<Runbook[]> {
    await this.requireOperator(actor, 'runbook.list', '*');
    return (await this.o.db.selectFrom('runbooks').selectAll().orderBy('name').execute()).map(toRunbook);
  }

  /** The runbook, or undefined (the maintenance planner checks that a plan's runbook exists). */
  async find(name: string): Promise<Runbook | undefined> {
    const row = await this.o.db.selectFrom('runbooks').selectAll().where('name', '=', name.trim().toLowerCase()).executeTakeFirst();
    return row ? toRunbook(row) : undefined;
  }

  async get(actor: Actor, name: string): Promise<Runbook> {
    await this.requireOperator(actor, 'runbook.show', name);
    const runbook = await this.find(name);
    if (!runbook) throw notFound('runbook', name);
    return runbook;
  }

  async add(actor: Actor, raw: unknown): Promise<Runbook> {
    const parsed = runbookInput.safeParse(raw);
    if (!parsed.success) throw invalidInput(`runbook: ${describeIssues(parsed.error)}`);
    const input = parsed.data;
    await this.requireOperator(actor, 'runbook.add', input.name);
    const services = await this.o.inventory.listServices(actor);
    if (!services.some((s) => s.name === input.service)) {
      throw invalidInput(`service ${input.service} is not in the inventory (known: ${services.map((s) => s.name).join(', ') || 'none'}): add it with keisan ops services add, or name another`);
    }
    const now = this.now();
    if (input.testedAt !== undefined && new Date(input.testedAt).getTime() > now.getTime() + 60_000) throw invalidInput(`testedAt (${input.testedAt}) is in the future`);
    if (await this.find(input.name)) throw conflict(`runbook ${input.name} already exists: record a test with keisan ops runbook tested ${input.name}`);
    await auditedChange(
      this.o.db,
      { actor, action: 'runbook.add', targetType: 'runbook', target: input.name, detail: { service: input.service, location: input.location ?? null, testedAt: input.testedAt ?? null } },
      () => this.now(),
      async (tx) => {
        await tx
          .insertInto('runbooks')
          .values({
            name: input.name,
            service: input.service,
            body: input.body,
            location: input.location ?? null,
            last_tested_at: input.testedAt !== undefined ? new Date(input.testedAt).toISOString() : null,
            tested_by: input.testedAt !== undefined ? actor.name : null,
            created_by: actor.name,
            created_at: now.toISOString(),
            updated_at: now.toISOString(),
          })
          .execute();
      },
      `runbook ${input.name} was added at the same time by someone else`,
    );
    return this.get(actor, input.name);
  }

  /** Records that the runbook was tested (at `at`, default now) by the actor. */
  async tested(actor: Actor, name: string, raw: unknown = {}): Promise<Runbook> {
    const parsed = testedInput.safeParse(raw ?? {});
    if (!parsed.success) throw invalidInput(describeIssues(parsed.error));
    await this.requireOperator(actor, 'runbook.tested', name);
    const runbook = await this.get(actor, name);
    const now = this.now();
    const at = parsed.data.at !== undefined ? new Date(parsed.data.at) : now;
    if (at.getTime() > now.getTime() + 60_000) throw invalidInput(`at (${at.toISOString()}) is in the future: record a test once it is done`);
    await auditedChange(
      this.o.db,
      { actor, action: 'runbook.tested', targetType: 'runbook', target: runbook.name, detail: { at: at.toISOString(), note: parsed.data.note ?? '' } },
      () => this.now(),
      async (tx) => {
        await tx.updateTable('runbooks').set({ last_tested_at: at.toISOString(), tested_by: actor.name, updated_at: now.toISOString() }).where('name', '=', runbook.name).execute();
      },
      `runbook ${runbook.name} was changed at the same time`,
    );
    return this.get(actor, runbook.name);
  }

  /** Critical inventory services without a runbook tested within `days` (default: the setting). */
  async gaps(actor: Actor, days?: number): Promise<{ days: number; gaps: RunbookGap[] }> {
    await this.requireOperator(actor, 'runbook.gaps', '*');
    const within = days ?? this.o.testedWithinDays;
    const services = await this.o.inventory.listServices(actor);
    const runbooks = await this.list(actor);
    return { days: within, gaps: runbookGaps(services.filter((s) => s.critical).map((s) => s.name), runbooks, within, this.now()) };
  }
}
