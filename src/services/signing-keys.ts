import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { SIGNING_ALG, SigningKey } from '../crypto/jws.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { SigningKeyRepository, StoredSigningKey } from '../repositories/signing-keys.js';

interface LoadedKeys {
  current: SigningKey;
  verifying: Map<string, CryptoKey>;
  loadedAt: number;
}

/**
 * The JWT signing keys, shared by every instance through the database (ES256, `kid` = RFC 7638
 * thumbprint). The private halves are sealed with the server's secret key.
 *
 * Each instance caches the signing key for `refreshMs` (so a rotation elsewhere is picked up
 * within that time). Verification looks an unknown `kid` up in the database by itself (one
 * indexed query, as an opaque token costs), so a key rotated on another instance verifies here at
 * once and junk kids cannot starve a real one. /oauth2/jwks is read from the database on each
 * call: whichever instance serves it, it lists every key that any instance may be signing with.
 */
export class KeyStore {
  private loaded: LoadedKeys | undefined;
  private loading: Promise<LoadedKeys> | undefined;

  constructor(
    private readonly repo: SigningKeyRepository,
    private readonly secrets: SecretBox,
    /** A retired key is published until the access tokens it signed have expired. */
    private readonly accessTtlSeconds: number,
    private readonly refreshMs = 60_000,
  ) {}

  private async generate(): Promise<Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    return {
      kid,
      alg: SIGNING_ALG,
      publicJwk: { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' },
      privateJwkEnc: this.secrets.seal(JSON.stringify(privateJwk), `signing-key:${kid}`),
    };
  }

  /** Creates the first key if the database has none (safe when instances start together). */
  async ensureKey(): Promise<void> {
    await this.repo.ensureOne(() => this.generate());
    this.loaded = undefined;
  }

  /** Makes a new key current; the old one keeps verifying until its tokens expire. Returns the new kid. */
  async rotate(): Promise<string> {
    const key = await this.generate();
    await this.repo.activate(key);
    this.loaded = undefined;
    return key.kid;
  }

  private async load(): Promise<LoadedKeys> {
    this.loading ??= (async () => {
      try {
        const stored = await this.repo.listVerifying(this.accessTtlSeconds + 60);
        const verifying = new Map<string, CryptoKey>();
        for (const key of stored) verifying.set(key.kid, (await importJWK(key.publicJwk as JWK, key.alg)) as CryptoKey);
        const current = stored.find((key) => key.retiredAt === null);
        if (!current) throw new Error('No active signing key: the key store was not initialised');
        const privateJwk = JSON.parse(this.secrets.open(current.privateJwkEnc, `signing-key:${current.kid}`)) as JWK;
        this.loaded = {
          current: new SigningKey(current.kid, (await importJWK(privateJwk, current.alg)) as CryptoKey),
          verifying,
          loadedAt: Date.now(),
        };
        return this.loaded;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  private async keys(): Promise<LoadedKeys> {
    const loaded = this.loaded;
    if (loaded && Date.now() - loaded.loadedAt < this.refreshMs) return loaded;
    return this.load();
  }

  async signingKey(): Promise<SigningKey> {
    return (await this.keys()).current;
  }

  async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
    if (!kid) return undefined;
    const loaded = await this.keys();
    const known = loaded.verifying.get(kid);
    if (known) return known;
    const stored = await this.repo.findVerifying(kid, this.accessTtlSeconds + 60);
    if (!stored) return undefined;
    const key = (await importJWK(stored.publicJwk as JWK, stored.alg)) as CryptoKey;
    loaded.verifying.set(kid, key);
    // An active key we did not know: another instance rotated. Sign with it from now on too.
    if (stored.retiredAt === null && stored.kid !== loaded.current.kid) this.loaded = undefined;
    return key;
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    const stored = await this.repo.listVerifying(this.accessTtlSeconds + 60);
    return { keys: stored.map((key) => key.publicJwk as JWK) };
  }
}
