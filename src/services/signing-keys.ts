import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { ExpiringCache } from '../cache/expiring-cache.js';
import { RSA_MODULUS_BITS, SigningKey, type SigningAlg } from '../crypto/jws.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { SigningKeyRepository, StoredSigningKey } from '../repositories/signing-keys.js';

/** A public key that verifies tokens, with the one algorithm it verifies (never the token's say-so). */
export interface VerificationKey {
  key: CryptoKey;
  alg: string;
}

/** An extractable key pair for `alg`. */
export type KeyPairGenerator = (alg: SigningAlg) => Promise<{ publicKey: CryptoKey; privateKey: CryptoKey }>;

interface LoadedKeys {
  current: SigningKey;
  verifying: Map<string, VerificationKey>;
}

/**
 * The tenants whose keys an instance keeps loaded at once (the least recently loaded go first).
 * A tenant's loaded RSA-2048 keys take about 13 KB (OpenSSL's key with its CRT parameters, and the
 * public key): 20,000 tenants at most, about 260 MB, past the 10,000 the benchmark keeps busy
 * (docs/performance.md, "Tenants"); beyond it, a tenant's next token reloads its keys.
 */
export const KEY_CACHE_TENANTS = 20_000;

/** How far back each change poll looks beyond the previous one's clock. */
const KEY_POLL_OVERLAP_MS = 30_000;

const verificationKey = async (stored: StoredSigningKey): Promise<VerificationKey> => ({
  key: (await importJWK(stored.publicJwk as JWK, stored.alg)) as CryptoKey,
  alg: stored.alg,
});

/**
 * The JWT signing keys, shared by every instance through the database (`kid` = RFC 7638
 * thumbprint of the public key, so the same on every instance and across restarts). New keys are of
 * the configured algorithm (DCR_JWT_ALG: RS256 with RSA-2048 by default); a key of another
 * algorithm, an ES256 one from before an upgrade say, is retired by the first start with the new
 * setting and keeps verifying, like any retired key, until the tokens it signed have expired.
 * The private halves are sealed with the server's secret key.
 *
 * Every tenant has keys of its own (reference §8), the super tenant's made at the first start and
 * any other tenant's at its first token (ensureActive's lock: one key however many instances sign
 * that first token together). Each instance keeps the keys of up to `cacheTenants` tenants loaded,
 * and asks every `refreshMs` which tenants' keys changed since it last asked (one query whatever
 * the number of tenants), dropping those that sign with another key now: a rotation elsewhere is
 * picked up within that time, as a lifetime per entry would, without reloading every tenant's
 * keys every period (an RSA import each). Verification looks an unknown `kid` up in the database by itself (one
 * indexed query, as an opaque token costs), so a key rotated on another instance verifies here at
 * once and junk kids cannot starve a real one. /oauth2/jwks is read from the database on each
 * call: whichever instance serves it, it lists every key that any instance may be signing with.
 */
export class KeyStore {
  private readonly loaded: ExpiringCache<LoadedKeys>;
  private readonly loading = new Map<number, Promise<LoadedKeys>>();
  /** The last change poll's database clock, less an overlap (see TenantDirectory). */
  private since: Date | undefined;
  private lastPoll = Number.NEGATIVE_INFINITY;
  private polling = false;

  constructor(
    private readonly repo: SigningKeyRepository,
    private readonly secrets: SecretBox,
    private readonly alg: SigningAlg,
    /** A retired key is published until the access tokens it signed have expired. */
    private readonly accessTtlSeconds: number,
    /** Makes the key pair of a new key (jose's generateKeyPair; tests pass one that reuses keys). */
    private readonly newKeyPair: KeyPairGenerator = (alg) => generateKeyPair(alg, { extractable: true, modulusLength: RSA_MODULUS_BITS }),
    private readonly refreshMs = 60_000,
    cacheTenants = KEY_CACHE_TENANTS,
  ) {
    this.loaded = new ExpiringCache({ maxEntries: cacheTenants });
  }

  private async generate(): Promise<Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>> {
    const alg = this.alg;
    const { publicKey, privateKey } = await this.newKeyPair(alg);
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    return {
      kid,
      alg,
      publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
      privateJwkEnc: this.secrets.seal(JSON.stringify(privateJwk), `signing-key:${kid}`),
    };
  }

  /**
   * Creates a key of the configured algorithm unless one is active (the first start, or the first
   * after DCR_JWT_ALG changed); safe when instances start together.
   */
  async ensureKey(tenant: number): Promise<void> {
    await this.repo.ensureActive(tenant, this.alg, () => this.generate());
    this.loaded.delete(String(tenant));
  }

  /** Makes a new key current; the old one keeps verifying until its tokens expire. Returns the new kid. */
  async rotate(tenant: number): Promise<string> {
    const key = await this.generate();
    await this.repo.activate(tenant, key);
    this.loaded.delete(String(tenant));
    return key.kid;
  }

  private load(tenant: number): Promise<LoadedKeys> {
    let loading = this.loading.get(tenant);
    if (loading) return loading;
    loading = (async () => {
      try {
        const graceSeconds = this.accessTtlSeconds + 60;
        let stored = await this.repo.listVerifying(tenant, graceSeconds);
        if (!stored.some((key) => key.retiredAt === null)) {
          // A tenant's first token: its first key, made now.
          await this.repo.ensureActive(tenant, this.alg, () => this.generate());
          stored = await this.repo.listVerifying(tenant, graceSeconds);
        }
        const verifying = new Map<string, VerificationKey>();
        for (const key of stored) verifying.set(key.kid, await verificationKey(key));
        const current = stored.find((key) => key.retiredAt === null);
        if (!current) throw new Error(`No active signing key for tenant ${tenant}`);
        const privateJwk = JSON.parse(this.secrets.open(current.privateJwkEnc, `signing-key:${current.kid}`)) as JWK;
        const signing = new SigningKey(current.kid, current.alg as SigningAlg, (await importJWK(privateJwk, current.alg)) as CryptoKey);
        await signing.prepare();
        const loaded = { current: signing, verifying };
        // Kept until evicted or changed (poll), not for a lifetime.
        this.loaded.setUntil(String(tenant), loaded, Number.MAX_SAFE_INTEGER);
        return loaded;
      } finally {
        this.loading.delete(tenant);
      }
    })();
    this.loading.set(tenant, loading);
    return loading;
  }

  private async keys(tenant: number): Promise<LoadedKeys> {
    this.refresh();
    return this.loaded.get(String(tenant)) ?? this.load(tenant);
  }

  /** Drops the tenants whose keys changed since the last poll, at most every `refreshMs`, without holding up a request. */
  private refresh(): void {
    const now = Date.now();
    if (this.polling || now - this.lastPoll < this.refreshMs) return;
    this.polling = true;
    this.lastPoll = now;
    void this.repo
      .tenantsChangedSince(this.since)
      .then(({ at, tenants }) => {
        // A tenant still signing with the key loaded here keeps it: the poll's overlap names each
        // change more than once (a tenant made just before this instance started, its keys loaded
        // since, would otherwise reload at the next poll, 10,000 at once after a bulk import).
        // A retired key it verifies with stays loaded too: it verifies until its tokens expire.
        for (const { tenant, activeKid } of tenants) {
          const key = String(tenant);
          if (this.loaded.peek(key)?.current.kid !== activeKid || activeKid === null) this.loaded.delete(key);
        }
        // A key created by a transaction that committed after this poll but started before it.
        this.since = new Date(at.getTime() - KEY_POLL_OVERLAP_MS);
      })
      .catch(() => {
        // The database is unreachable: signing goes on with the keys loaded; the next period asks again.
      })
      .finally(() => {
        this.polling = false;
      });
  }

  async signingKey(tenant: number): Promise<SigningKey> {
    return (await this.keys(tenant)).current;
  }

  /** The tenant's key `kid` names: another tenant's kid verifies nothing here. */
  async verificationKey(tenant: number, kid: string | undefined): Promise<VerificationKey | undefined> {
    if (!kid) return undefined;
    const loaded = await this.keys(tenant);
    const known = loaded.verifying.get(kid);
    if (known) return known;
    const stored = await this.repo.findVerifying(tenant, kid, this.accessTtlSeconds + 60);
    if (!stored) return undefined;
    const key = await verificationKey(stored);
    loaded.verifying.set(kid, key);
    // An active key we did not know: another instance rotated. Sign with it from now on too.
    if (stored.retiredAt === null && stored.kid !== loaded.current.kid) this.loaded.delete(String(tenant));
    return key;
  }

  async jwks(tenant: number): Promise<{ keys: JWK[] }> {
    const stored = await this.repo.listVerifying(tenant, this.accessTtlSeconds + 60);
    return { keys: stored.map((key) => key.publicJwk as JWK) };
  }
}
