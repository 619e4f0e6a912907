/**
 * The one cache of this server: values under string keys, each entry expiring at its own time,
 * at most `maxEntries` of them (the least recently read or written goes first: evicting the
 * oldest written instead made a working set one entry over the bound, 10,001 tenants visited in
 * turn, miss on every read). Every in-memory cache
 * (src/cache/*) is this with its own choice of key, explained where it is chosen: what may be
 * remembered, and why an entry cannot go stale in a way that matters.
 *
 * Small on purpose: no background timers (an expired entry is dropped when it is next read), an
 * injectable clock for tests, and nothing but a Map underneath (insertion order is use order).
 */
export interface ExpiringCacheOptions {
  maxEntries: number;
  now?: () => number;
}

export class ExpiringCache<V> {
  private readonly entries = new Map<string, { expiresAt: number; value: V }>();
  private readonly maxEntries: number;
  readonly now: () => number;

  constructor(options: ExpiringCacheOptions) {
    this.maxEntries = options.maxEntries;
    this.now = options.now ?? Date.now;
  }

  /** The value under `key` unless it expired (then it is dropped); a hit counts as the newest. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Remembers `value` until `expiresAt` (ms, the clock's scale); a time already past stores nothing. */
  setUntil(key: string, value: V, expiresAt: number): void {
    if (this.maxEntries <= 0 || expiresAt <= this.now()) return;
    // Re-inserted, so that the entry counts as the newest.
    this.entries.delete(key);
    this.entries.set(key, { expiresAt, value });
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
