import { createHmac, randomBytes } from 'node:crypto';

/**
 * Remembers recently verified passwords so that Basic authentication does not pay for scrypt on
 * every request (which would cap the service at a few dozen requests a second).
 *
 * Safety:
 * - entries are HMAC-SHA256 digests under a random per-process key: neither passwords nor
 *   anything that can be brute-forced offline sit in memory or could leak from a heap dump;
 * - the digest covers the user's *stored password hash*, which the caller reads from the
 *   database on every request anyway: a password change (on any instance) or a deleted user
 *   makes the old entry unreachable at once, with no cross-instance invalidation needed;
 * - entries expire after `ttlMs`, and the cache holds at most `maxEntries` (oldest evicted).
 * Trade-off: within the TTL, a successful login is remembered in this process's memory.
 */
export class CredentialCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, number>();
  /** Verifications in flight, by digest (see check). */
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  private digest(username: string, password: string, storedHash: string): string {
    const hmac = createHmac('sha256', this.key);
    // Length-prefixed parts: no two different triples can produce the same input.
    for (const part of [username, password, storedHash]) {
      const bytes = Buffer.from(part, 'utf8');
      hmac.update(`${bytes.length}:`).update(bytes);
    }
    return hmac.digest('base64url');
  }

  has(username: string, password: string, storedHash: string): boolean {
    return this.hasDigest(this.digest(username, password, storedHash));
  }

  add(username: string, password: string, storedHash: string): void {
    this.addDigest(this.digest(username, password, storedHash));
  }

  /**
   * Whether the password is right: true at once when remembered, else `verify()` (the KDF), whose
   * success is then remembered. Concurrent checks of the same (user, password, stored hash) share
   * one `verify()` call instead of each paying for the KDF: a client that opens a hundred
   * connections with one uncached credential costs one hash, not a hundred (the thundering herd
   * that made such a burst time out). Different credentials, wrong passwords included, never
   * share a result: the key is the same HMAC digest as the cache's. Only in-flight checks are
   * shared, so with a TTL of 0 nothing is remembered once they settle.
   */
  check(username: string, password: string, storedHash: string, verify: () => Promise<boolean>): Promise<boolean> {
    const digest = this.digest(username, password, storedHash);
    if (this.hasDigest(digest)) return Promise.resolve(true);
    let pending = this.pending.get(digest);
    if (!pending) {
      pending = verify()
        .then((ok) => {
          if (ok) this.addDigest(digest);
          return ok;
        })
        .finally(() => this.pending.delete(digest));
      this.pending.set(digest, pending);
    }
    return pending;
  }

  private hasDigest(digest: string): boolean {
    if (this.ttlMs <= 0) return false;
    const expires = this.entries.get(digest);
    if (expires === undefined) return false;
    if (expires <= this.now()) {
      this.entries.delete(digest);
      return false;
    }
    return true;
  }

  private addDigest(digest: string): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(digest);
    this.entries.set(digest, this.now() + this.ttlMs);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
