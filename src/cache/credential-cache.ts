import { createHmac, randomBytes } from 'node:crypto';
import { DigestCache } from './digest-cache.js';

/**
 * Remembers recently verified passwords so that Basic authentication does not pay for scrypt on
 * every request (which would cap the service at a few dozen requests a second).
 *
 * Safety: the digest covers the user's *stored password hash*, which the
 * caller reads from the database on every request anyway: a password change (on any instance) or
 * a deleted user makes the old entry unreachable at once, with no cross-instance invalidation
 * needed. Trade-off: within the TTL, a successful login is remembered in this process's memory.
 */
export class CredentialCache extends DigestCache<true> {
  private readonly key = randomBytes(32);
  /** Verifications in flight, by digest (see check). */
  private readonly pending = new Map<string, Promise<boolean>>();

  /**
   * HMAC-SHA256 under a random per-process key: a password can be guessed, so its digest must not
   * be one that could be brute-forced offline from a heap dump.
   */
  protected digest(parts: readonly string[]): string {
    const hmac = createHmac('sha256', this.key);
    // Length-prefixed parts: no two different lists can produce the same input.
    for (const part of parts) {
      const bytes = Buffer.from(part, 'utf8');
      hmac.update(`${bytes.length}:`).update(bytes);
    }
    return hmac.digest('base64url');
  }

  has(username: string, password: string, storedHash: string): boolean {
    return this.get([username, password, storedHash]) === true;
  }

  add(username: string, password: string, storedHash: string): void {
    this.set([username, password, storedHash], true);
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
    const digest = this.digest([username, password, storedHash]);
    if (this.getDigest(digest) === true) return Promise.resolve(true);
    let pending = this.pending.get(digest);
    if (!pending) {
      pending = verify()
        .then((ok) => {
          if (ok) this.setDigest(digest, true);
          return ok;
        })
        .finally(() => this.pending.delete(digest));
      this.pending.set(digest, pending);
    }
    return pending;
  }
}
