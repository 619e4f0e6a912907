import { hash } from 'node:crypto';
import { ExpiringCache } from './expiring-cache.js';

/**
 * Remembers JWTs that jose has fully verified (signature, algorithm, issuer, expiry), so that a
 * client sending the same access token again does not pay for another signature verification
 * (its cost is in docs/performance.md).
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
 * - failures are never remembered, nor a token whose `nbf` is still in the future (jose would
 *   refuse it now and accept it later; once `nbf` has passed, time only moves towards `exp`),
 *   nothing but digests, jtis and times is held, and the cache holds at most `maxEntries`.
 */
export class VerifiedJwtCache {
  private readonly entries: ExpiringCache<string>;

  constructor(
    // A digest, a jti and a time each: 50,000 take a few MB, and hold the tokens of 10,000 busy tenants.
    maxEntries = 50_000,
    private readonly maxAgeMs = 60_000,
    now: () => number = Date.now,
  ) {
    this.entries = new ExpiringCache({ maxEntries, now });
  }

  /** Keyed by the tenant too: a token verifies against its own tenant's keys and issuer only. */
  private static key(tenant: number, token: string): string {
    return `${tenant}:${hash('sha256', token, 'base64url')}`;
  }

  /** The jti of a remembered, unexpired token verified for this tenant; undefined otherwise. */
  get(tenant: number, token: string): string | undefined {
    return this.entries.size === 0 ? undefined : this.entries.get(VerifiedJwtCache.key(tenant, token));
  }

  /**
   * Remembers a token jose has just verified, with its claims. `exp` and `nbf` are in seconds
   * (RFC 7519); a token without `exp`, or whose `nbf` has not passed yet, is not remembered.
   */
  add(tenant: number, token: string, claims: { jti: string; exp?: number; nbf?: number }): void {
    if (typeof claims.exp !== 'number') return;
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf * 1000 > this.entries.now())) return;
    // jose refuses a token once `exp <= now` in whole seconds: die no later than that.
    this.entries.setUntil(VerifiedJwtCache.key(tenant, token), claims.jti, Math.min(claims.exp * 1000, this.entries.now() + this.maxAgeMs));
  }

  get size(): number {
    return this.entries.size;
  }
}
