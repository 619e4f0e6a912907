/**
 * Throttles password guessing so that an attacker slows down their own attempts without denying
 * the real user (README, "Security model"). Keyed on what the attacker controls:
 *
 * - **one user name from one address**: after `maxFailures` failures within the window, that pair
 *   is refused (429, Retry-After until the oldest failure leaves the window). The same name from
 *   any other address is not affected: ten wrong guesses for `admin` no longer lock the real admin
 *   out everywhere.
 * - **one address, all names** (password spraying): after `maxFailuresPerAddress` failures the
 *   address is refused, except for a user who has logged in from it recently (see `knownFor`).
 * - **one user name, all addresses** (guessing spread over many addresses): never refused, since
 *   that would deny the real user; once the name has `maxFailures` failures in the window, each
 *   further password check for it waits first, twice as long per failure beyond the limit
 *   (`delayBaseMs`, up to `delayMaxMs`), except from an address the user has logged in from
 *   recently. The attacker's guesses slow down; the real user is at most slowed, never refused.
 *
 * A credential that was already verified (remembered by the credential cache) is not a guess and
 * passes whatever the counts say: the Authenticator consults the cache before this throttle.
 *
 * A guess is counted when it begins (see begin), so concurrent guesses cannot all pass the check
 * before the first is counted. In memory, per instance, bounded to `maxKeys` keys, oldest first.
 */
export interface ThrottleSettings {
  windowMs: number;
  /** Failures of one user name from one address within the window; also where the name's delay starts. 0 turns throttling off. */
  maxFailures: number;
  maxFailuresPerAddress: number;
  /** The first delay of a user name with maxFailures failures; doubles with each further failure. */
  delayBaseMs?: number;
  delayMaxMs?: number;
  /** How long a successful login keeps its (user name, address) pair known. */
  knownForMs?: number;
  maxKeys?: number;
}

export const DEFAULT_DELAY_BASE_MS = 250;
export const DEFAULT_DELAY_MAX_MS = 8_000;
export const DEFAULT_KNOWN_FOR_MS = 24 * 3600 * 1000;

/** What begin() decided for one password check. */
export interface Attempt {
  /** Seconds to wait before trying again; when above 0 the check must not run. */
  retryAfter: number;
  /** Milliseconds to wait before running the check. */
  delayMs: number;
  /** The password was right: this attempt was no failure, and the pair becomes known. */
  succeeded(): void;
}

const pairKey = (username: string, address: string) => `pair:${username}\u0000${address}`;
const userKey = (username: string) => `user:${username}`;
const addressKey = (address: string) => `addr:${address}`;

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  /** (user name, address) pairs with a recent successful login: the time of the last one. */
  private readonly known = new Map<string, number>();

  constructor(
    private readonly settings: ThrottleSettings,
    private readonly now: () => number = Date.now,
  ) {}

  private get enabled(): boolean {
    return this.settings.maxFailures > 0;
  }

  /** The failures of `key` still within the window (pruning the older ones). */
  private recent(key: string): number[] {
    const times = this.failures.get(key);
    if (!times) return [];
    const cutoff = this.now() - this.settings.windowMs;
    let first = 0;
    while (first < times.length && times[first]! <= cutoff) first++;
    if (first === times.length) {
      this.failures.delete(key);
      return [];
    }
    if (first > 0) times.splice(0, first);
    return times;
  }

  /** Seconds until `key` has fewer than `limit` failures in the window; 0 if it has already. */
  private wait(key: string, limit: number): number {
    const times = this.recent(key);
    if (times.length < limit) return 0;
    // The failure whose leaving brings the count under the limit.
    const ms = times[times.length - limit]! + this.settings.windowMs - this.now();
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  private isKnown(username: string, address: string): boolean {
    const at = this.known.get(pairKey(username, address));
    if (at === undefined) return false;
    if (at + (this.settings.knownForMs ?? DEFAULT_KNOWN_FOR_MS) > this.now()) return true;
    this.known.delete(pairKey(username, address));
    return false;
  }

  private record(key: string, at: number, keep: number): void {
    const times = this.recent(key);
    times.push(at);
    if (times.length > keep) times.splice(0, times.length - keep);
    // Re-inserted last: the map's order is the order keys were last failed, oldest first out.
    this.failures.delete(key);
    this.failures.set(key, times);
    this.bound(this.failures);
  }

  private bound(map: Map<string, unknown>): void {
    const maxKeys = this.settings.maxKeys ?? 100_000;
    while (map.size > maxKeys) map.delete(map.keys().next().value as string);
  }

  private unrecord(key: string, at: number): void {
    const times = this.failures.get(key);
    const index = times?.lastIndexOf(at) ?? -1;
    if (!times || index < 0) return;
    times.splice(index, 1);
    if (times.length === 0) this.failures.delete(key);
  }

  /** Seconds an address must wait before a check that names no user (a malformed Basic header), or 0. */
  addressRetryAfter(address: string): number {
    return this.enabled ? this.wait(addressKey(address), this.settings.maxFailuresPerAddress) : 0;
  }

  /** A failed login that names no user (a malformed Basic header): it counts against the address only. */
  recordAddressFailure(address: string): void {
    if (this.enabled) this.record(addressKey(address), this.now(), this.settings.maxFailuresPerAddress);
  }

  /**
   * Decides, before a password check of `username` from `address`, whether it may run (retryAfter
   * 0) and after what delay, and counts it as a failure at once (undone by succeeded()).
   */
  begin(username: string, address: string): Attempt {
    if (!this.enabled) return { retryAfter: 0, delayMs: 0, succeeded: () => {} };
    const { maxFailures, maxFailuresPerAddress } = this.settings;
    const known = this.isKnown(username, address);
    const retryAfter = Math.max(
      this.wait(pairKey(username, address), maxFailures),
      known ? 0 : this.wait(addressKey(address), maxFailuresPerAddress),
    );
    if (retryAfter > 0) return { retryAfter, delayMs: 0, succeeded: () => {} };

    const beyond = this.recent(userKey(username)).length - maxFailures;
    const delayMs =
      known || beyond < 0
        ? 0
        : Math.min((this.settings.delayBaseMs ?? DEFAULT_DELAY_BASE_MS) * 2 ** Math.min(beyond, 30), this.settings.delayMaxMs ?? DEFAULT_DELAY_MAX_MS);
    const at = this.now();
    this.record(pairKey(username, address), at, maxFailures);
    this.record(addressKey(address), at, maxFailuresPerAddress);
    // Enough of the name's failures to reach the longest delay, no more.
    this.record(userKey(username), at, maxFailures + 32);
    return {
      retryAfter: 0,
      delayMs,
      succeeded: () => {
        this.failures.delete(pairKey(username, address));
        this.unrecord(addressKey(address), at);
        this.unrecord(userKey(username), at);
        const key = pairKey(username, address);
        this.known.delete(key);
        this.known.set(key, this.now());
        this.bound(this.known);
      },
    };
  }
}
