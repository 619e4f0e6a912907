import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { pooledRandomBytes } from './random.js';

/** The keys a SecretBox holds. */
export interface Keyring {
  /** Seals new envelopes (and opens its own). */
  current: Buffer;
  /** Only open envelopes sealed before a key rotation (DCR_SECRET_KEY_PREVIOUS, secret.key.previous). */
  previous: readonly Buffer[];
}

/**
 * Authenticated encryption of secrets at rest (AES-256-GCM). The key lives outside the database
 * (DCR_SECRET_KEY or the data folder's secret.key), so a database dump alone reveals no secret.
 *
 * Envelope: `v1.<kid>.<iv>.<ciphertext+tag>` (base64url parts). `kid` names the key, so that a
 * keyring holding old keys can still open what they sealed after a key rotation. The caller's
 * `aad` (e.g. the client id) is bound into the tag: an envelope copied onto another row fails.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private current: string;
  private reloadedAt = 0;

  /**
   * `reload`, when given, is asked for the keyring again when an envelope names a key this box
   * does not hold (at most once a second): the embedded default's key files, which
   * `dcr secrets rotate-key` rewrites while the server runs. Keys once loaded are never dropped.
   */
  constructor(
    currentKey: Buffer,
    previousKeys: readonly Buffer[] = [],
    private readonly reload?: () => Keyring | undefined,
  ) {
    if (currentKey.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    this.current = this.install({ current: currentKey, previous: previousKeys });
  }

  /** The id of the key new envelopes are sealed with. */
  get currentKid(): string {
    return this.current;
  }

  /** The ids of every key this box can open envelopes of. */
  get kids(): string[] {
    return [...this.keys.keys()];
  }

  private install(ring: Keyring): string {
    for (const key of [ring.current, ...ring.previous]) {
      if (key.length !== 32) throw new Error('SecretBox needs 32-byte keys');
      this.keys.set(SecretBox.keyId(key), key);
    }
    return SecretBox.keyId(ring.current);
  }

  /** The kid of an envelope (its second part), or undefined if it is not one. */
  static kidOf(envelope: string): string | undefined {
    const [version, kid] = envelope.split('.');
    return version === 'v1' && kid ? kid : undefined;
  }

  /** A short, non-secret fingerprint of a key (not reversible to it). */
  static keyId(key: Buffer): string {
    return createHash('sha256').update('dcr-secret-box-kid:').update(key).digest('base64url').slice(0, 8);
  }

  seal(plaintext: string, aad: string): string {
    // 96 random bits per envelope (NIST SP 800-38D §8.2.2), CSPRNG bytes each used once.
    const iv = pooledRandomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.current)!, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `v1.${this.current}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  open(envelope: string, aad: string): string {
    const [version, kid, ivText, bodyText] = envelope.split('.');
    if (version !== 'v1' || !kid || !ivText || !bodyText) throw new Error('Malformed secret envelope');
    let key = this.keys.get(kid);
    if (!key && this.reload && Date.now() - this.reloadedAt > 1000) {
      this.reloadedAt = Date.now();
      const ring = this.reload();
      if (ring) this.current = this.install(ring);
      key = this.keys.get(kid);
    }
    if (!key) throw new Error(`No key with id ${kid} in the keyring: was DCR_SECRET_KEY changed?`);
    const body = Buffer.from(bodyText, 'base64url');
    if (body.length < 16) throw new Error('Malformed secret envelope');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
  }
}
