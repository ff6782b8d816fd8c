/**
 * Login rate limiting, per user name and per client address: after `perUser` failures for
 * a name (or `perAddress` from one address) within `windowMs`, further attempts are refused
 * until the oldest failure leaves the window. A success clears the name's failures.
 * Kept in memory: a restart forgives, which is acceptable for a throttle.
 */
export interface LoginLimitPolicy {
  perUser: number;
  perAddress: number;
  windowMs: number;
}

export type LimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number; scope: 'user' | 'address' };

const MAX_TRACKED_KEYS = 50_000;

export class LoginLimiter {
  private readonly failuresByUser = new Map<string, number[]>();
  private readonly failuresByAddress = new Map<string, number[]>();

  constructor(private readonly policy: LoginLimitPolicy) {}

  check(user: string, address: string, now: Date): LimitDecision {
    const at = now.getTime();
    const byUser = this.recent(this.failuresByUser, user, at);
    if (byUser.length >= this.policy.perUser) {
      return { allowed: false, scope: 'user', retryAfterMs: byUser[0]! + this.policy.windowMs - at };
    }
    const byAddress = this.recent(this.failuresByAddress, address, at);
    if (byAddress.length >= this.policy.perAddress) {
      return { allowed: false, scope: 'address', retryAfterMs: byAddress[0]! + this.policy.windowMs - at };
    }
    return { allowed: true };
  }

  recordFailure(user: string, address: string, now: Date): void {
    const at = now.getTime();
    if (this.failuresByUser.size + this.failuresByAddress.size > MAX_TRACKED_KEYS) this.sweep(at);
    this.failuresByUser.set(user, [...this.recent(this.failuresByUser, user, at), at]);
    this.failuresByAddress.set(address, [...this.recent(this.failuresByAddress, address, at), at]);
  }

  recordSuccess(user: string): void {
    this.failuresByUser.delete(user);
  }

  /** Forgets every key whose failures all left the window (bounds memory under a spray of names). */
  private sweep(at: number): void {
    for (const map of [this.failuresByUser, this.failuresByAddress]) {
      for (const key of [...map.keys()]) this.recent(map, key, at);
    }
  }

  private recent(map: Map<string, number[]>, key: string, at: number): number[] {
    const kept = (map.get(key) ?? []).filter((t) => t > at - this.policy.windowMs);
    if (kept.length === 0) map.delete(key);
    else map.set(key, kept);
    return kept;
  }
}
