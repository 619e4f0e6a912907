/**
 * `node --import tsx scripts/bench/sign-rate.ts [RS256] [PS256] [ES256] [--json]` (RS256 and PS256
 * when none is named): the CPU one JWT signature costs on this machine, and so how many one core
 * makes per second, for each way this project can sign:
 *
 * - `node:crypto sync`: crypto.sign without a callback, on the calling thread;
 * - `node:crypto async`: src/crypto/jws.ts's SigningKey, as the server signs (crypto.sign with a
 *   callback for RSA: on libuv's thread pool), one signature in flight and then 8 (the pool's 4
 *   threads busy, as under load);
 * - `jose (WebCrypto)`: `new SignJWT(...).sign(privateKey)`, as oidc-provider and
 *   scripts/bench/sign-ceiling.ts sign (WebCrypto's RSA runs on the thread pool too), 1 and 8 in flight;
 * - `jose jwtVerify`: one verification (what introspection of a new JWT costs).
 *
 * Figures per mode: CPU µs per signature (user + system of the whole process, every thread:
 * process.cpuUsage), signatures/s per core (10^6 ÷ that), the event loop's busy µs per signature
 * (performance.eventLoopUtilization: the main thread's share), and the wall rate of the process.
 * Keys are RSA-2048 (src/crypto/jws.ts's RSA_MODULUS_BITS) and P-256; the claims are the server's.
 */
import { randomUUID, sign as cryptoSign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { generateKeyPair, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { RSA_MODULUS_BITS, SigningKey, type SigningAlg } from '../../src/crypto/jws.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const algs = args.filter((arg) => arg !== '--json') as SigningAlg[];
for (const alg of algs) if (!['RS256', 'PS256', 'ES256'].includes(alg)) throw new Error(`unknown algorithm ${alg} (RS256, PS256, ES256)`);
if (algs.length === 0) algs.push('RS256', 'PS256');

/** Claims shaped as src/services/tokens.ts makes them (client_credentials). */
function claims(): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const clientId = 'Xk3lm0Q2aVtVbq5Jz1m7cPdlxRsa';
  return { sub: 'admin', aut: 'APPLICATION', aud: clientId, nbf: now, azp: clientId, scope: 'default', iss: 'https://127.0.0.1:9763/oauth2/token', exp: now + 3600, iat: now, jti: randomUUID(), client_id: clientId };
}

interface Row {
  alg: string;
  mode: string;
  inFlight: number;
  cpuUsPerOp: number;
  perCorePerSecond: number;
  loopUsPerOp: number;
  wallPerSecond: number;
}

/** `n` calls of `fn`, `inFlight` at a time, after a warm-up of a tenth of them. */
async function measure(alg: string, mode: string, inFlight: number, n: number, fn: () => unknown): Promise<Row> {
  const run = async (count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next++ < count) await fn();
      }),
    );
  };
  await run(Math.ceil(n / 10));
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const start = process.hrtime.bigint();
  await run(n);
  const wallS = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  const loop = performance.eventLoopUtilization(elu);
  const cpuUs = (used.user + used.system) / n;
  return {
    alg,
    mode,
    inFlight,
    cpuUsPerOp: Math.round(cpuUs),
    perCorePerSecond: Math.round(1e6 / cpuUs),
    // The event loop's busy time: what a signature takes from the thread serving the requests.
    loopUsPerOp: Math.round((loop.active * 1000) / n),
    wallPerSecond: Math.round(n / wallS),
  };
}

const rows: Row[] = [];
for (const alg of algs) {
  const rsa = alg !== 'ES256';
  const { privateKey, publicKey } = (await generateKeyPair(alg, { extractable: true, modulusLength: RSA_MODULUS_BITS })) as { privateKey: CryptoKey; publicKey: CryptoKey };
  const signer = new SigningKey('bench-kid', alg, privateKey);
  const n = rsa ? 2000 : 6000;
  const header = { alg, kid: 'bench-kid', typ: 'at+jwt' };
  // The sign options SigningKey uses, called without a callback.
  const options = (signer as unknown as { options: Parameters<typeof cryptoSign>[2] }).options;
  const encodedHeader = Buffer.from(JSON.stringify(header)).toString('base64url');
  rows.push(
    await measure(alg, 'node:crypto sync', 1, n, () => {
      const input = `${encodedHeader}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`;
      return `${input}.${cryptoSign('sha256', Buffer.from(input), options).toString('base64url')}`;
    }),
  );
  for (const inFlight of [1, 8]) rows.push(await measure(alg, `node:crypto ${rsa ? 'async (pool)' : 'SigningKey'}`, inFlight, n, () => signer.sign('at+jwt', claims())));
  for (const inFlight of [1, 8]) rows.push(await measure(alg, 'jose SignJWT (WebCrypto)', inFlight, n, () => new SignJWT(claims()).setProtectedHeader(header).sign(privateKey)));
  const token = await signer.sign('at+jwt', claims());
  rows.push(await measure(alg, 'jose jwtVerify (WebCrypto)', 8, n, () => jwtVerify(token, publicKey, { algorithms: [alg] })));
}

const cores = (await import('node:os')).cpus();
process.stdout.write(
  `${cores.length} × ${cores[0]?.model ?? '?'}, Node ${process.version}, OpenSSL ${process.versions.openssl}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}\n` +
    `${'alg'.padEnd(6)}${'mode'.padEnd(28)}${'in flight'.padStart(10)}${'CPU µs/sig'.padStart(12)}${'sig/s/core'.padStart(12)}${'loop µs/sig'.padStart(13)}${'sig/s (wall)'.padStart(14)}\n` +
    rows
      .map((r) => `${r.alg.padEnd(6)}${r.mode.padEnd(28)}${String(r.inFlight).padStart(10)}${String(r.cpuUsPerOp).padStart(12)}${String(r.perCorePerSecond).padStart(12)}${String(r.loopUsPerOp).padStart(13)}${String(r.wallPerSecond).padStart(14)}`)
      .join('\n') +
    '\n',
);
if (json) process.stdout.write(`${JSON.stringify({ node: process.version, openssl: process.versions.openssl, cpus: cores.length, rows })}\n`);
