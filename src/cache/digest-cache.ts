import { ExpiringCache } from './expiring-cache.js';

/**
 * Values remembered under a credential that was verified, looked up by a digest of the
 * credential's parts (see each subclass for which digest, and why it is safe to hold in memory):
 * only a caller who presents the same credential again finds the value. Entries expire after
 * `ttlMs` (0: nothing is remembered), and the cache holds at most `maxEntries` (least recently used evicted).
 */
export abstract class DigestCache<V> {
  private readonly entries: ExpiringCache<V>;

  constructor(
    private readonly ttlMs: number,
    // Above the clients (or users) of 10,000 busy tenants (docs/performance.md, "Tenants"); an
    // entry is a digest and a small object, a few hundred bytes.
    maxEntries = 50_000,
    now: () => number = Date.now,
  ) {
    this.entries = new ExpiringCache({ maxEntries, now });
  }

  /** Distinct lists of parts must give distinct digests. */
  protected abstract digest(parts: readonly string[]): string;

  /** The value remembered for exactly these parts, if it has not expired. */
  get(parts: readonly string[]): V | undefined {
    return this.getDigest(this.digest(parts));
  }

  set(parts: readonly string[], value: V): void {
    this.setDigest(this.digest(parts), value);
  }

  delete(parts: readonly string[]): void {
    this.entries.delete(this.digest(parts));
  }

  protected getDigest(digest: string): V | undefined {
    return this.ttlMs > 0 ? this.entries.get(digest) : undefined;
  }

  protected setDigest(digest: string, value: V): void {
    this.entries.set(digest, value, this.ttlMs);
  }

  get size(): number {
    return this.entries.size;
  }
}
