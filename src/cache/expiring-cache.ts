/**
 * The one cache of this server: values under string keys, each entry expiring at its own time,
 * at most `maxEntries` of them. The least recently used goes first, to within half the bound (see
 * get): an entry read at least once every maxEntries/2 writes is never evicted, where evicting the
 * oldest written, read or not, dropped a busy working set as new entries came. Every in-memory
 * cache (src/cache/*) is this with its own choice of key, explained where it is chosen: what may
 * be remembered, and why an entry cannot go stale in a way that matters.
 *
 * Small on purpose: no background timers (an expired entry is dropped when it is next read), an
 * injectable clock for tests, and nothing but a Map underneath (its insertion order is the order
 * of use, as far as get keeps it).
 */
export interface ExpiringCacheOptions {
  maxEntries: number;
  now?: () => number;
}

interface Entry<V> {
  expiresAt: number;
  value: V;
  /** `written` when the entry was last put at the newest end. */
  at: number;
}

export class ExpiringCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly maxEntries: number;
  /** How many entries were put at the newest end so far: an entry's distance from it is at most `written - at`. */
  private written = 0;
  readonly now: () => number;

  constructor(options: ExpiringCacheOptions) {
    this.maxEntries = options.maxEntries;
    this.now = options.now ?? Date.now;
  }

  /**
   * The value under `key` unless it expired (then it is dropped). A hit in the older half counts as
   * the newest; one in the newer half is already safe from eviction for maxEntries/2 more writes,
   * and stays where it is: moving every hit (a delete and a set in a Map of 50,000) was the cache's
   * main cost with many tenants, and its churn the garbage collector's (docs/performance.md).
   */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    if (this.written - entry.at > this.maxEntries / 2) {
      this.entries.delete(key);
      entry.at = ++this.written;
      this.entries.set(key, entry);
    }
    return entry.value;
  }

  /** The value under `key`, expired or not, without counting as a use. */
  peek(key: string): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Remembers `value` until `expiresAt` (ms, the clock's scale); a time already past stores nothing. */
  setUntil(key: string, value: V, expiresAt: number): void {
    if (this.maxEntries <= 0 || expiresAt <= this.now()) return;
    // Re-inserted, so that the entry counts as the newest.
    this.entries.delete(key);
    this.entries.set(key, { expiresAt, value, at: ++this.written });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs > 0) this.setUntil(key, value, this.now() + ttlMs);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** The keys held, expired or not (what a heap dump would show). */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  get size(): number {
    return this.entries.size;
  }
}
