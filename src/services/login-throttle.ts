/**
 * Throttles password guessing: after `maxFailures` failed logins within `windowMs` for one user
 * name, or `maxFailuresPerAddress` from one client address, further attempts for that key are
 * refused (429 with Retry-After) until the oldest failure leaves the window. Nothing is locked
 * for longer than the window: the real user gets in again once the guessing stops.
 *
 * In-memory and per instance (several instances each apply the limit; the database is not
 * consulted on the hot path). Memory is bounded: at most `maxKeys` keys are tracked, oldest first out.
 */
export interface ThrottleSettings {
  windowMs: number;
  maxFailures: number;
  maxFailuresPerAddress: number;
  maxKeys?: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly settings: ThrottleSettings,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(key: string): number[] {
    const cutoff = this.now() - this.settings.windowMs;
    const times = (this.failures.get(key) ?? []).filter((time) => time > cutoff);
    if (times.length === 0) this.failures.delete(key);
    else this.failures.set(key, times);
    return times;
  }

  /** Seconds to wait before trying again, or 0 when the attempt may proceed. */
  retryAfter(username: string | undefined, address: string): number {
    if (this.settings.maxFailures <= 0) return 0;
    let wait = 0;
    const check = (key: string, limit: number) => {
      const times = this.recent(key);
      if (times.length >= limit) wait = Math.max(wait, times[0]! + this.settings.windowMs - this.now());
    };
    if (username !== undefined) check(`user:${username}`, this.settings.maxFailures);
    check(`addr:${address}`, this.settings.maxFailuresPerAddress);
    return wait > 0 ? Math.ceil(wait / 1000) : 0;
  }

  recordFailure(username: string | undefined, address: string): void {
    if (this.settings.maxFailures <= 0) return;
    const keys = [`addr:${address}`];
    if (username !== undefined) keys.push(`user:${username}`);
    for (const key of keys) {
      const times = this.recent(key);
      times.push(this.now());
      this.failures.delete(key);
      this.failures.set(key, times.slice(-Math.max(this.settings.maxFailures, this.settings.maxFailuresPerAddress)));
    }
    const maxKeys = this.settings.maxKeys ?? 100_000;
    while (this.failures.size > maxKeys) this.failures.delete(this.failures.keys().next().value as string);
  }

  /** A successful login clears its user name's failures (the address keeps its count). */
  recordSuccess(username: string): void {
    this.failures.delete(`user:${username}`);
  }

  /**
   * Checks and, when the attempt may proceed, counts it as a failure at once, in one synchronous
   * step. Checking first and counting after the (slow) password check let a burst of concurrent
   * guesses all pass the check before the first failure was counted: every guess got verified.
   * `succeeded()` undoes the count of an attempt that turned out right.
   */
  begin(username: string, address: string): { retryAfter: number; succeeded(): void } {
    const retryAfter = this.retryAfter(username, address);
    if (retryAfter > 0 || this.settings.maxFailures <= 0) return { retryAfter, succeeded: () => this.recordSuccess(username) };
    const at = this.now();
    this.recordFailure(username, address);
    return {
      retryAfter: 0,
      succeeded: () => {
        this.recordSuccess(username);
        const key = `addr:${address}`;
        const times = this.failures.get(key);
        const index = times?.lastIndexOf(at) ?? -1;
        if (times && index >= 0) {
          times.splice(index, 1);
          if (times.length === 0) this.failures.delete(key);
        }
      },
    };
  }
}
