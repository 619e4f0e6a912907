import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { SecretBox } from '../crypto/secret-box.js';
import type { SigningKeyRepository, StoredSigningKey } from '../repositories/signing-keys.js';

export const SIGNING_ALG = 'ES256';

interface LoadedKeys {
  current: { kid: string; key: CryptoKey };
  verifying: Map<string, CryptoKey>;
  jwks: JWK[];
  loadedAt: number;
}

/**
 * The JWT signing keys, shared by every instance through the database (ES256, `kid` = RFC 7638
 * thumbprint). The private halves are sealed with the server's secret key. Each instance caches
 * the keys for `refreshMs`; an unknown `kid` triggers an early reload (at most once a second), so
 * a key rotated on another instance verifies here at once.
 */
export class KeyStore {
  private loaded: LoadedKeys | undefined;
  private loading: Promise<LoadedKeys> | undefined;
  private lastMissReload = 0;

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
          current: { kid: current.kid, key: (await importJWK(privateJwk, current.alg)) as CryptoKey },
          verifying,
          jwks: stored.map((key) => key.publicJwk as JWK),
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

  async signingKey(): Promise<{ kid: string; key: CryptoKey }> {
    return (await this.keys()).current;
  }

  async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
    if (!kid) return undefined;
    const known = (await this.keys()).verifying.get(kid);
    if (known) return known;
    if (Date.now() - this.lastMissReload < 1_000) return undefined;
    this.lastMissReload = Date.now();
    return (await this.load()).verifying.get(kid);
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    return { keys: (await this.keys()).jwks };
  }
}
