import type { Kysely } from 'kysely';
import type { Actor } from '../accounts/model.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../lib/clock.ts';
import { describeIssues, type Settings } from '../lib/config.ts';
import { conflict, forbidden, invalidInput, notFound } from '../lib/errors.ts';
import type { Queue, SchedulerPolicy } from './model.ts';
import { defaultQueues, queueChangeInput, queueFromInput, queueInput, type QueueChangeInput, type QueueInput } from './queues.ts';
import * as store from './store.ts';

/**
 * The facility's queues: loaded from the database; on the first start seeded from keisan.yaml's
 * `queues:` (or the default set). Operators manage every queue; a workgroup admin manages the
 * queues of their workgroup, within the limits of the facility's own queues.
 */
export class QueueBook {
  private queues = new Map<string, Queue>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly settings: Settings,
    private readonly clock: Clock,
    private readonly accounts: AccountsService,
  ) {}

  async load(): Promise<void> {
    let queues = await store.readQueues(this.db);
    if (queues.length === 0) {
      queues = this.seed();
      for (const queue of queues) await store.writeQueue(this.db, queue, this.clock.now());
    }
    this.queues = new Map(queues.map((q) => [q.name, q]));
  }

  /** keisan.yaml's queues, or the default set. */
  private seed(): Queue[] {
    const declared = this.settings.queues;
    if (!declared || declared.length === 0) return defaultQueues();
    const defaults = new Map(defaultQueues().map((q) => [q.name, q]));
    return declared.map((raw, index) => {
      const parsed = queueInput.safeParse(raw);
      if (!parsed.success) throw invalidInput(describeIssues(parsed.error, `keisan.yaml queues[${index}]`));
      return queueFromInput(parsed.data, defaults.get(parsed.data.name));
    });
  }

  list(): Queue[] {
    return [...this.queues.values()].sort((a, b) => b.priority - a.priority || a.wallTimeLimitMs - b.wallTimeLimitMs);
  }

  get(name: string): Queue | undefined {
    return this.queues.get(name);
  }

  policy(): SchedulerPolicy {
    const batch = this.settings.batch;
    return {
      queues: this.queues,
      subgroupShares: new Map(Object.entries(batch.subgroupShares)),
      usageWeights: batch.usageWeights,
      decayHalfLifeMs: batch.decayHalfLife,
      backfill: batch.backfill,
    };
  }

  async add(actor: Actor, raw: unknown): Promise<Queue> {
    const input = parseOrThrow(queueInput, raw) as QueueInput;
    if (this.queues.has(input.name)) throw conflict(`queue '${input.name}' already exists: change it with keisan admin queue set`);
    const queue = queueFromInput(input, defaultQueues().find((q) => q.name === input.name));
    await this.authorize(actor, queue, 'add');
    return this.save(actor, queue, 'queue.create');
  }

  async change(actor: Actor, name: string, raw: unknown): Promise<Queue> {
    const existing = this.queues.get(name);
    if (!existing) throw notFound('queue', name);
    const input = parseOrThrow(queueChangeInput, raw) as QueueChangeInput;
    await this.authorize(actor, existing, 'change');
    const queue = queueFromInput({ ...input, name }, existing);
    await this.authorize(actor, queue, 'change');
    return this.save(actor, queue, 'queue.update');
  }

  async remove(actor: Actor, name: string, activeJobs: number): Promise<void> {
    const existing = this.queues.get(name);
    if (!existing) throw notFound('queue', name);
    await this.authorize(actor, existing, 'remove');
    if (activeJobs > 0) throw conflict(`queue '${name}' still has ${activeJobs} pending or running job(s): disable it (--disable) and let them finish, or cancel them`);
    await store.deleteQueue(this.db, name);
    this.queues.delete(name);
    await this.accounts.record({ actor, action: 'queue.delete', targetType: 'queue', target: name, outcome: 'ok' });
  }

  private async save(actor: Actor, queue: Queue, action: string): Promise<Queue> {
    await store.writeQueue(this.db, queue, this.clock.now());
    this.queues.set(queue.name, queue);
    await this.accounts.record({ actor, action, targetType: 'queue', target: queue.name, outcome: 'ok', detail: { ...queue } });
    return queue;
  }

  /**
   * Operators: any queue. A workgroup admin: queues owned by their workgroup, and no looser
   * than the loosest facility-wide queue (priority, time, memory, CPUs, GPUs).
   */
  private async authorize(actor: Actor, queue: Queue, verb: string): Promise<void> {
    if (actor.isOperator) return;
    const deny = async (reason: string) => {
      await this.accounts.record({ actor, action: `queue.${verb}`, targetType: 'queue', target: queue.name, outcome: 'denied', detail: { reason } });
      throw forbidden(reason);
    };
    if (queue.workgroup === null) return deny(`only an operator may ${verb} facility-wide queues such as '${queue.name}'`);
    const workgroups = await this.accounts.listWorkgroups(actor);
    const administered = workgroups.filter((w) => w.admins.includes(actor.name)).map((w) => w.name);
    if (!administered.includes(queue.workgroup)) {
      return deny(`queue '${queue.name}' belongs to workgroup '${queue.workgroup}': it needs an operator or an admin of that workgroup`);
    }
    const facility = [...this.queues.values()].filter((q) => q.workgroup === null);
    if (facility.length === 0) return;
    const limit = <K extends keyof Queue>(key: K) => Math.max(...facility.map((q) => Number(q[key])));
    const over: string[] = [];
    if (queue.priority > limit('priority')) over.push(`priority ${queue.priority} > ${limit('priority')}`);
    if (queue.wallTimeLimitMs > limit('wallTimeLimitMs')) over.push('a longer wall time than any facility queue');
    if (queue.maxMemBytes > limit('maxMemBytes')) over.push('more memory than any facility queue');
    if (queue.maxCpus > limit('maxCpus')) over.push('more CPUs than any facility queue');
    if (queue.maxGpus > limit('maxGpus')) over.push('more GPUs than any facility queue');
    if (over.length) return deny(`a workgroup queue stays within the operators' limits: ${over.join(', ')}`);
  }
}

function parseOrThrow(schema: typeof queueInput | typeof queueChangeInput, raw: unknown) {
  const result = schema.safeParse(raw);
  if (!result.success) throw invalidInput(describeIssues(result.error, 'queue'));
  return result.data;
}
