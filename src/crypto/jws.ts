import { KeyObject, constants, sign, type SignKeyObjectInput } from 'node:crypto';
import type { CryptoKey } from 'jose';

/**
 * The JWS algorithms this server signs with (DCR_JWT_ALG). WSO2 API Manager's gateway accepts RSA
 * signatures only (RS256/384/512, newer builds PS256/384/512), so RS256 is the default; ES256 is
 * kept for deployments whose consumers are not the gateway, and so that tokens signed before an
 * upgrade keep verifying.
 */
export const SIGNING_ALGS = ['RS256', 'PS256', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
export const DEFAULT_SIGNING_ALG: SigningAlg = 'RS256';

/** RSA modulus length of a new RS256/PS256 key. */
export const RSA_MODULUS_BITS = 2048;

export interface JwsHeader {
  alg: SigningAlg;
  kid: string;
  typ: string;
}

const base64url = (json: object) => Buffer.from(JSON.stringify(json), 'utf8').toString('base64url');

/** node:crypto's sign options for each algorithm (RFC 7518 §3.3–3.5). */
function signOptions(alg: SigningAlg, key: KeyObject): SignKeyObjectInput & { dsaEncoding?: 'ieee-p1363' } {
  switch (alg) {
    case 'RS256':
      return { key, padding: constants.RSA_PKCS1_PADDING };
    case 'PS256':
      // RFC 7518 §3.5: the salt is as long as the hash (32 bytes for SHA-256).
      return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
    case 'ES256':
      // RFC 7518 §3.4: the signature is R || S, 32 bytes each (ieee-p1363), not DER.
      return { key, dsaEncoding: 'ieee-p1363' };
  }
}

/**
 * The current signing key of this instance: its kid and algorithm, the WebCrypto key jose verifies
 * with, and what every token it signs shares, made once per key rather than per token (the
 * node:crypto handle and sign options of the key, the encoded header of each token type).
 *
 * Signing is node:crypto's, not WebCrypto's (jose's): the same OpenSSL, a fraction of the CPU for
 * ES256 (scripts/bench/es256.ts). An RSA signature costs about ten times an ES256 one, so RS256 and
 * PS256 are signed on libuv's thread pool (crypto.sign with a callback): the event loop goes on
 * parsing requests and talking to PostgreSQL meanwhile, and the signatures of concurrent requests
 * run on both cores. ES256 is cheaper than the hand-off to the pool and is signed in place.
 * docs/performance.md has the figures.
 */
export class SigningKey {
  /** The private key, as node:crypto holds it (jose signs with it too). */
  readonly privateKey: KeyObject;
  private readonly options: SignKeyObjectInput;
  private readonly encodedHeaders = new Map<string, string>();

  constructor(
    readonly kid: string,
    readonly alg: SigningAlg,
    key: CryptoKey | KeyObject,
  ) {
    this.privateKey = key instanceof KeyObject ? key : KeyObject.from(key);
    this.options = signOptions(alg, this.privateKey);
  }

  private header(typ: string): string {
    let header = this.encodedHeaders.get(typ);
    if (header === undefined) {
      header = base64url({ alg: this.alg, kid: this.kid, typ } satisfies JwsHeader);
      this.encodedHeaders.set(typ, header);
    }
    return header;
  }

  /**
   * Pays at load what an RSA key's first signatures would otherwise pay: OpenSSL blinds every RSA
   * private operation, and sets its blinding up per key the first time a thread signs with it
   * (RSA_setup_blinding, a constant-time modular inverse: about 200 µs of a core), once for the
   * first thread and once more for all the others (rsa_get_blinding's `blinding` and
   * `mt_blinding`, shared under a lock). One signature here on the pool, then one on the event
   * loop, make both, so that no token request does: with one key it was only the first tokens'
   * cost, with a key per tenant, each visited a few times a minute, it was about 90 µs of every
   * token (docs/performance.md, "Tenants"). In that order the pool thread that signed first keeps
   * its lock-free blinding, as without this: the other way round, the event loop owned it and every
   * pool thread shared the locked one, 3 % fewer tokens a second with one key. ES256 has no such state.
   */
  async prepare(): Promise<void> {
    if (this.alg === 'ES256') return;
    const data = Buffer.from('prepare', 'ascii');
    await new Promise<void>((resolve, reject) => sign('sha256', data, this.options, (err) => (err ? reject(err) : resolve())));
    sign('sha256', data, this.options);
  }

  /** A compact JWS (RFC 7515 §7.1) of `claims` with header {alg, kid, typ}. */
  sign(typ: string, claims: object): Promise<string> {
    const input = `${this.header(typ)}.${base64url(claims)}`;
    const data = Buffer.from(input, 'ascii');
    if (this.alg === 'ES256') return Promise.resolve(`${input}.${sign('sha256', data, this.options).toString('base64url')}`);
    return new Promise((resolve, reject) => {
      sign('sha256', data, this.options, (err, signature) => (err ? reject(err) : resolve(`${input}.${signature.toString('base64url')}`)));
    });
  }
}
