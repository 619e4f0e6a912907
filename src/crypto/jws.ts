import { KeyObject, sign } from 'node:crypto';
import type { CryptoKey } from 'jose';

export const SIGNING_ALG = 'ES256';

export interface JwsHeader {
  alg: typeof SIGNING_ALG;
  kid: string;
  typ: string;
}

const base64url = (json: object) => Buffer.from(JSON.stringify(json), 'utf8').toString('base64url');

function signEncoded(encodedHeader: string, claims: object, key: KeyObject): string {
  const input = `${encodedHeader}.${base64url(claims)}`;
  // RFC 7518 §3.4: the signature is R || S, 32 bytes each (ieee-p1363).
  const signature = sign('sha256', Buffer.from(input, 'ascii'), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * An ES256 JWS in compact form (RFC 7515 §7.1): what jose's SignJWT makes, byte for byte but for
 * the signature's randomness, signed synchronously by node:crypto with the same OpenSSL.
 * WebCrypto's asynchronous sign costs several times the CPU (scripts/bench/es256.ts measures both;
 * docs/performance.md has the figures).
 */
export function signEs256Jwt(header: JwsHeader, claims: object, key: CryptoKey | KeyObject): string {
  return signEncoded(base64url(header), claims, key instanceof KeyObject ? key : KeyObject.from(key));
}

/**
 * The current signing key of this instance: its kid, the WebCrypto key jose verifies with, and
 * what every token it signs shares, made once per key rather than per token (the node:crypto
 * handle of the key, and the encoded header of each token type).
 */
export class SigningKey {
  readonly alg = SIGNING_ALG;
  private readonly keyObject: KeyObject;
  private readonly encodedHeaders = new Map<string, string>();

  constructor(
    readonly kid: string,
    readonly key: CryptoKey,
  ) {
    this.keyObject = KeyObject.from(key);
  }

  /** A compact JWS of `claims` with header {alg, kid, typ}. */
  sign(typ: string, claims: object): string {
    let header = this.encodedHeaders.get(typ);
    if (header === undefined) {
      header = base64url({ alg: this.alg, kid: this.kid, typ } satisfies JwsHeader);
      this.encodedHeaders.set(typ, header);
    }
    return signEncoded(header, claims, this.keyObject);
  }
}
