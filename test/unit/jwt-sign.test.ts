/**
 * SigningKey (src/crypto/jws.ts), node:crypto's signer of access tokens, against jose: for each
 * algorithm the same header and payload bytes as jose's SignJWT, and a signature jose verifies with
 * the public key alone (as resource servers and WSO2's gateway do through /oauth2/jwks).
 */
import t from 'tap';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { RSA_MODULUS_BITS, SIGNING_ALGS, SigningKey } from '../../src/crypto/jws.js';

const claims = {
  sub: 'admin',
  aut: 'APPLICATION',
  aud: 'gMCPlyJiJVR6CIgV2JHytsbecRzl',
  nbf: 1_700_000_000,
  azp: 'gMCPlyJiJVR6CIgV2JHytsbecRzl',
  scope: 'apim:dcr:app_manage openid',
  iss: 'http://dcr.test:9763/oauth2/token',
  exp: 4_000_000_000,
  iat: 1_700_000_000,
  jti: '085ae232-0e52-4b9a-8f11-f73e62f3c4b9',
  client_id: 'gMCPlyJiJVR6CIgV2JHytsbecRzl',
};
const SIGNATURE_CHARS = { RS256: 342, PS256: 342, ES256: 86 } as const;

for (const alg of SIGNING_ALGS) {
  t.test(`${alg}: same header and payload bytes as SignJWT, verified by jose with the public JWK`, async (t) => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: RSA_MODULUS_BITS });
    // As the KeyStore does: the private half from a stored JWK, the public half published as one.
    const imported = (await importJWK(await exportJWK(privateKey), alg)) as CryptoKey;
    const published = await importJWK(await exportJWK(publicKey), alg);
    const key = new SigningKey('kid-1', alg, imported);
    // As the KeyStore does at load: the key's first signatures made before any token's.
    await key.prepare();
    const header = { alg, kid: 'kid-1', typ: 'at+jwt' };
    const mine = await key.sign('at+jwt', claims);
    const theirs = await new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
    t.equal(mine.split('.').slice(0, 2).join('.'), theirs.split('.').slice(0, 2).join('.'), 'header.payload identical');
    t.equal(mine.split('.')[2]!.length, SIGNATURE_CHARS[alg], 'signature length of the algorithm');
    const { payload, protectedHeader } = await jwtVerify(mine, published, { issuer: claims.iss, algorithms: [alg] });
    t.same(payload, claims);
    t.same(protectedHeader, header);
    t.same(decodeProtectedHeader(mine), header);
    t.same(decodeJwt(mine), claims);
    const other = await generateKeyPair(alg, { modulusLength: RSA_MODULUS_BITS });
    await t.rejects(jwtVerify(mine, other.publicKey, { algorithms: [alg] }), 'another key does not verify');
    for (const wrong of SIGNING_ALGS.filter((a) => a !== alg)) {
      await t.rejects(jwtVerify(mine, published, { algorithms: [wrong] }), `not accepted as ${wrong}`);
    }
  });
}

t.test('RS256 signs deterministically, PS256 and ES256 with fresh randomness', async (t) => {
  for (const alg of SIGNING_ALGS) {
    const { privateKey } = await generateKeyPair(alg, { modulusLength: RSA_MODULUS_BITS });
    const key = new SigningKey('k', alg, privateKey);
    const [a, b] = await Promise.all([key.sign('at+jwt', claims), key.sign('at+jwt', claims)]);
    if (alg === 'RS256') t.equal(a, b, 'RS256 (PKCS#1 v1.5)');
    else t.not(a, b, alg);
  }
});
