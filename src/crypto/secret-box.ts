import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

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
  readonly currentKid: string;

  constructor(currentKey: Buffer, previousKeys: readonly Buffer[] = []) {
    if (currentKey.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    this.currentKid = SecretBox.keyId(currentKey);
    this.keys.set(this.currentKid, currentKey);
    for (const key of previousKeys) this.keys.set(SecretBox.keyId(key), key);
  }

  /** A short, non-secret fingerprint of a key (not reversible to it). */
  static keyId(key: Buffer): string {
    return createHash('sha256').update('dcr-secret-box-kid:').update(key).digest('base64url').slice(0, 8);
  }

  seal(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKid)!, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `v1.${this.currentKid}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  open(envelope: string, aad: string): string {
    const [version, kid, ivText, bodyText] = envelope.split('.');
    if (version !== 'v1' || !kid || !ivText || !bodyText) throw new Error('Malformed secret envelope');
    const key = this.keys.get(kid);
    if (!key) throw new Error(`No key with id ${kid} in the keyring: was DCR_SECRET_KEY changed?`);
    const body = Buffer.from(bodyText, 'base64url');
    if (body.length < 16) throw new Error('Malformed secret envelope');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
  }
}
