import { hash } from 'node:crypto';

/**
 * Remembers JWTs that jose has fully verified (signature, algorithm, issuer, expiry), so that a
 * client sending the same access token again does not pay for another ECDSA verification (through
 * WebCrypto: about 145 µs of CPU per token on the reference machine, scripts/bench/es256.ts;
 * docs/performance.md).
 *
 * Why this is safe:
 * - an entry is keyed by the SHA-256 of the *whole* token string: a hit means these exact bytes
 *   were verified before, and verification of the same bytes is deterministic except for time
 *   (checked on every hit: the entry dies at the token's `exp`) and the key (below);
 * - an entry lives at most `maxAgeMs` (default 60 s, the KeyStore's own refresh period): a signing
 *   key removed from the database stops verifying here no later than it already did through the
 *   KeyStore's cache. A key that is merely retired keeps verifying until its tokens expire anyway;
 * - only the signature check is remembered. The caller still looks the token up in the database on
 *   every request, so a revoked token, a deleted user or app is refused at once, on every instance;
 * - failures are never remembered, tokens with `nbf` are never remembered, nothing but digests,
 *   jtis and times is held, and the cache holds at most `maxEntries` (oldest evicted).
 */
export class VerifiedJwtCache {
  private readonly entries = new Map<string, { jti: string; expiresAtMs: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxAgeMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  private static key(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  /** The jti of a remembered, unexpired token; undefined otherwise. */
  get(token: string): string | undefined {
    if (this.maxEntries <= 0) return undefined;
    const key = VerifiedJwtCache.key(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.jti;
  }

  /**
   * Remembers a token jose has just verified, with its claims. `exp` is in seconds (RFC 7519); a
   * token without `exp`, or with `nbf`, is not remembered.
   */
  add(token: string, claims: { jti: string; exp?: number; nbf?: number }): void {
    if (this.maxEntries <= 0 || typeof claims.exp !== 'number' || claims.nbf !== undefined) return;
    const now = this.now();
    // jose refuses a token once `exp <= now` in whole seconds: die no later than that.
    const expiresAtMs = Math.min(claims.exp * 1000, now + this.maxAgeMs);
    if (expiresAtMs <= now) return;
    const key = VerifiedJwtCache.key(token);
    this.entries.delete(key);
    this.entries.set(key, { jti: claims.jti, expiresAtMs });
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
