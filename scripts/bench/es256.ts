/**
 * `node --import tsx scripts/bench/es256.ts`: CPU per ES256 JWT signature and verification, through
 * jose (WebCrypto, asynchronous) and through node:crypto synchronously as src/services/tokens.ts
 * signs. Why the service signs with node:crypto and remembers verified tokens (docs/performance.md).
 */
import { generateKeyPair, SignJWT, jwtVerify } from 'jose';
import { SigningKey } from '../../src/crypto/jws.js';
const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
const claims = { client_id: 'x', scope: 'a b', iss: 'https://i', sub: 'admin', aud: 'x', iat: 1, exp: 4102444800, jti: 'j' };
async function measure(name: string, n: number, fn: () => Promise<unknown> | unknown) {
  for (let i = 0; i < 200; i++) await fn();
  const c = process.cpuUsage(); const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  const cpu = process.cpuUsage(c); const wall = Number(process.hrtime.bigint() - t) / 1e3 / n;
  console.log(`${name.padEnd(28)} cpu ${(((cpu.user + cpu.system) / n)).toFixed(0)} µs/op  wall ${wall.toFixed(0)} µs/op`);
}
const token = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }).sign(privateKey);
await measure('jose SignJWT (WebCrypto)', 3000, () => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }).sign(privateKey));
const signer = new SigningKey('k', 'ES256', privateKey);
await measure('node:crypto sign (sync)', 3000, () => signer.sign('at+jwt', claims));
await measure('jose jwtVerify (WebCrypto)', 3000, () => jwtVerify(token, publicKey));
