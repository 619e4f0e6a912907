/**
 * signEs256Jwt (src/crypto/jws.ts), the synchronous node:crypto signer of access tokens,
 * against jose: the same header and payload bytes as jose's SignJWT, and a signature jose verifies
 * with the public key (as resource servers do through /oauth2/jwks).
 */
import t from 'tap';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { signEs256Jwt } from '../../src/crypto/jws.js';

const claims = {
  client_id: 'gMCPlyJiJVR6CIgV2JHytsbecRzl',
  scope: 'apim:dcr:app_manage openid',
  iss: 'http://dcr.test:9763',
  sub: 'admin',
  aud: 'gMCPlyJiJVR6CIgV2JHytsbecRzl',
  iat: 1_700_000_000,
  exp: 4_000_000_000,
  jti: '085ae232-0e52-4b9a-8f11-f73e62f3c4b9',
};
const header = { alg: 'ES256' as const, kid: 'kid-1', typ: 'at+jwt' };

t.test('same header and payload bytes as SignJWT, verified by jose', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const mine = signEs256Jwt(header, claims, privateKey);
  const theirs = await new SignJWT({ client_id: claims.client_id, scope: claims.scope })
    .setProtectedHeader(header)
    .setIssuer(claims.iss)
    .setSubject(claims.sub)
    .setAudience(claims.aud)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .setJti(claims.jti)
    .sign(privateKey);
  t.equal(mine.split('.').slice(0, 2).join('.'), theirs.split('.').slice(0, 2).join('.'), 'header.payload identical');
  t.match(mine, /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/, '64-byte R||S signature');
  const { payload, protectedHeader } = await jwtVerify(mine, publicKey, { issuer: claims.iss, algorithms: ['ES256'] });
  t.same(payload, claims);
  t.same(protectedHeader, header);
  t.same(decodeProtectedHeader(mine), header);
  t.same(decodeJwt(mine), claims);
});

t.test('a key imported from a stored JWK (as the KeyStore does) signs too; another key does not verify', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const imported = (await importJWK(await exportJWK(privateKey), 'ES256')) as CryptoKey;
  const token = signEs256Jwt(header, claims, imported);
  await t.resolves(jwtVerify(token, publicKey, { algorithms: ['ES256'] }));
  const other = await generateKeyPair('ES256');
  await t.rejects(jwtVerify(token, other.publicKey, { algorithms: ['ES256'] }));
  t.not(signEs256Jwt(header, claims, imported), token, 'ECDSA signatures are randomised');
});
