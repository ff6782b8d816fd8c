import { z } from 'zod';
import type { HostHealth } from '../inventory/model.ts';

/**
 * Login hosts behind one name (issue 10): the inventory hosts with the `login` role form the
 * pool; `chooseLoginHost` (pure, clock passed in) picks one for a user — never a host that is
 * down, unknown to the monitor, or in maintenance; degraded hosts only when no host is healthy;
 * the user's previous host again while it stays in the pool (sticky); otherwise smooth weighted
 * round robin, each host weighted by its free CPU share 1 / (1 + load per core).
 */

export const LOGIN_ROLE = 'login';

/** A login host as the chooser sees it: health, maintenance and load gathered by the service. */
export interface Candidate {
  host: string;
  /** What a client connects to: the host's first inventory address, else its name. */
  address: string;
  health: HostHealth;
  /** Why it is in maintenance (a running plan, a drain), or null. */
  maintenance: string | null;
  /** 1-minute load average and CPU count from its agent's latest samples; null when not known. */
  load1: number | null;
  cpus: number | null;
}

/** What the server remembers between choices (in memory). */
export interface PoolState {
  /** Smooth weighted round robin: each host's accumulated credit. */
  credit: ReadonlyMap<string, number>;
  /** The host each user was last sent to, and when. */
  sticky: ReadonlyMap<string, { host: string; at: number }>;
}

export const emptyPoolState = (): PoolState => ({ credit: new Map(), sticky: new Map() });

export type CandidateState = 'in-pool' | 'standby' | 'out';

export interface Assessed {
  host: string;
  address: string;
  /** in-pool: may be chosen; standby: degraded, chosen only when no host is healthy; out: never now. */
  state: CandidateState;
  reason: string;
  /** The round-robin weight (0–1] of a host that may be chosen; null for those out. */
  weight: number | null;
}

export type Choice =
  | {
      ok: true;
      host: string;
      address: string;
      why: string;
      hosts: Assessed[];
      /** The state after this choice, for the caller to keep. */
      state: PoolState;
    }
  | { ok: false; message: string; hosts: Assessed[] };

/** The default time a user keeps their host after their last request. */
export const STICKY_FOR_MS = 12 * 3600_000;
/** Load unknown (no samples yet): weighted as one busy core per core, i.e. half a free machine. */
const UNKNOWN_LOAD_WEIGHT = 0.5;

/** 1 / (1 + load per core): an idle host 1, one runnable task per core 0.5, four per core 0.2. */
export function loadWeight(load1: number | null, cpus: number | null): { weight: number; text: string } {
  if (load1 === null || cpus === null || cpus <= 0 || !Number.isFinite(load1)) return { weight: UNKNOWN_LOAD_WEIGHT, text: 'load not known yet (weight 0.5)' };
  const perCore = Math.max(0, load1) / cpus;
  const weight = 1 / (1 + perCore);
  return { weight, text: `load ${load1.toFixed(2)} on ${cpus} CPU${cpus === 1 ? '' : 's'} (weight ${weight.toFixed(2)})` };
}

/** Which hosts may take users now, and why each of the others may not. */
export function assessPool(candidates: readonly Candidate[]): Assessed[] {
  return [...candidates]
    .sort((a, b) => a.host.localeCompare(b.host))
    .map((c): Assessed => {
      const base = { host: c.host, address: c.address };
      if (c.maintenance !== null) return { ...base, state: 'out', reason: `in maintenance: ${c.maintenance}`, weight: null };
      if (c.health.state === 'down') return { ...base, state: 'out', reason: `down: ${c.health.reason}`, weight: null };
      if (c.health.state === 'unknown') return { ...base, state: 'out', reason: `health unknown: ${c.health.reason}`, weight: null };
      const load = loadWeight(c.load1, c.cpus);
      if (c.health.state === 'degraded') return { ...base, state: 'standby', reason: `degraded, used only when no login host is healthy: ${c.health.reason}; ${load.text}`, weight: load.weight };
      return { ...base, state: 'in-pool', reason: `healthy; ${load.text}`, weight: load.weight };
    });
}

/**
 * One login host for `user` (null: an anonymous caller, no stickiness). Among the hosts that may
 * take users (the healthy ones, or the degraded ones when none is healthy): the user's host of
 * the last `stickyForMs` if it is still one of them, else the next host of a smooth weighted
 * round robin (nginx's: each host gains its weight, the richest is chosen and pays the total),
 * which spreads users in proportion to the weights and never twice in a row to one host when
 * another has the same weight.
 */
export function chooseLoginHost(candidates: readonly Candidate[], previous: PoolState, user: string | null, now: Date, stickyForMs = STICKY_FOR_MS): Choice {
  const hosts = assessPool(candidates);
  if (hosts.length === 0) {
    return { ok: false, message: `no host in the inventory has the '${LOGIN_ROLE}' role: add one, e.g. keisan ops hosts add login1 --role ${LOGIN_ROLE} --address 10.0.0.21`, hosts };
  }
  const healthy = hosts.filter((h) => h.state === 'in-pool');
  const usable = healthy.length > 0 ? healthy : hosts.filter((h) => h.state === 'standby');
  if (usable.length === 0) {
    return { ok: false, message: `no login host can take users now: ${hosts.map((h) => `${h.host} is ${h.reason}`).join('; ')}`, hosts };
  }
  const nowMs = now.getTime();
  const credit = new Map([...previous.credit].filter(([host]) => usable.some((u) => u.host === host)));
  const sticky = new Map(previous.sticky);
  const fallback = healthy.length > 0 ? '' : ' (no login host is healthy: a degraded one)';

  const last = user === null ? undefined : sticky.get(user);
  const kept = last !== undefined && nowMs - last.at <= stickyForMs ? usable.find((u) => u.host === last.host) : undefined;
  if (user !== null && kept) {
    sticky.set(user, { host: kept.host, at: nowMs });
    return { ok: true, host: kept.host, address: kept.address, why: `${user} was sent to ${kept.host} before and it is still in the pool${fallback}; ${kept.reason}`, hosts, state: { credit, sticky } };
  }

  const total = usable.reduce((sum, u) => sum + u.weight!, 0);
  let chosen = usable[0]!;
  for (const u of usable) {
    credit.set(u.host, (credit.get(u.host) ?? 0) + u.weight!);
    if (credit.get(u.host)! > credit.get(chosen.host)!) chosen = u;
  }
  credit.set(chosen.host, credit.get(chosen.host)! - total);
  if (user !== null) sticky.set(user, { host: chosen.host, at: nowMs });
  const share = ((chosen.weight! / total) * 100).toFixed(0);
  const why = `round robin weighted by load over ${usable.length} login host${usable.length === 1 ? '' : 's'}${fallback}: ${chosen.host} takes about ${share}% of new users; ${chosen.reason}`;
  return { ok: true, host: chosen.host, address: chosen.address, why, hosts, state: { credit, sticky } };
}

/** Forgets users whose host is older than `stickyForMs`, and the oldest ones beyond `max`. */
export function pruneSticky(sticky: ReadonlyMap<string, { host: string; at: number }>, now: Date, stickyForMs = STICKY_FOR_MS, max = 100_000): Map<string, { host: string; at: number }> {
  const fresh = [...sticky].filter(([, v]) => now.getTime() - v.at <= stickyForMs);
  if (fresh.length > max) fresh.sort((a, b) => b[1].at - a[1].at).splice(max);
  return new Map(fresh);
}

// ---- what the API answers

export const assessedSchema = z.object({
  host: z.string(),
  address: z.string(),
  state: z.enum(['in-pool', 'standby', 'out']).describe('in-pool: may be chosen; standby: degraded, chosen only when none is healthy; out: down, unknown or in maintenance'),
  reason: z.string(),
  weight: z.number().nullable().describe('round-robin weight, 1 / (1 + load per core); null when out'),
});

export const loginHostAnswer = z.object({
  host: z.string(),
  address: z.string().describe('what to connect to: the host\'s first inventory address, else its name'),
  why: z.string().describe('why this host'),
  user: z.string().nullable().describe('the user it was chosen for (sticky), null for an anonymous caller'),
  hosts: z.array(assessedSchema).optional().describe('every login host and why it is in or out (callers with a ticket or the node secret)'),
});
export type LoginHostAnswer = z.infer<typeof loginHostAnswer>;

export const loginHostQuery = z
  .object({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'user must be a Unix user name')
      .optional()
      .describe('keep this user on the same host while it stays in the pool (default: the ticket\'s user)'),
    format: z.enum(['json', 'text']).default('json').describe('text: just the address and a newline (for ssh ProxyCommand, DNS scripts)'),
  })
  .strict();

export const drainInput = z.object({ reason: z.string().trim().min(1, 'say why the host leaves the pool').max(500, 'reason is longer than 500 characters') }).strict();

export const drainSchema = z.object({ host: z.string(), reason: z.string(), drainedBy: z.string(), drainedAt: z.string() });
export type Drain = z.infer<typeof drainSchema>;

export const loginCheckQuery = z
  .object({
    user: z.string().min(1, 'user must not be empty').max(64, 'user is longer than 64 characters'),
    from: z.string().min(1, 'from must not be empty').max(64, 'from is longer than 64 characters').describe('the address the user connects from (PAM_RHOST)'),
    host: z.string().max(253).optional().describe('the login host asking, for the audit log'),
  })
  .strict();

export const loginCheckAnswer = z.object({ allowed: z.boolean(), reason: z.string(), network: z.string().nullable().optional() });
