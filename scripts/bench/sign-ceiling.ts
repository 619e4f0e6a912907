/**
 * The `sign-ceiling` target of scripts/bench.ts: the floor cost of an RS256 access token on this
 * machine. A bare Fastify app in one node process (the server's process model) whose
 * `POST /oauth2/token` parses the form body (@fastify/formbody, as the server) and signs one JWT
 * with jose, `new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
 * .sign(privateKey)`, with an RSA-2048 key made at start (src/crypto/jws.ts's RSA_MODULUS_BITS) and
 * the claims src/services/tokens.ts gives a client_credentials token (a new jti each). The answer
 * is the server's token response with its two cache headers, serialised through a response schema. No authentication, no
 * database, no logging, no metrics: what is left is HTTP, the form, the signature and the reply.
 * jose signs through WebCrypto, whose RSA runs on libuv's thread pool, as the server's
 * crypto.sign with a callback does (scripts/bench/sign-rate.ts measures both).
 *
 * Environment: PORT (required). Prints `ready <port>` on stdout once listening.
 */
import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { RSA_MODULUS_BITS } from '../../src/crypto/jws.js';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT is required');

const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: RSA_MODULUS_BITS });
// The server's kid: the RFC 7638 thumbprint of the public key (src/services/signing-keys.ts).
const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
const issuer = `http://127.0.0.1:${port}/oauth2/token`;
// A client id as long as the server's (src/crypto/random.ts, timeOrderedClientId: 28 characters).
const clientId = 'bench0signceiling0client0000';
const TTL = 3600;

const app = Fastify({ logger: false });
await app.register(formbody);

app.post(
  '/oauth2/token',
  {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: { access_token: { type: 'string' }, scope: { type: 'string' }, token_type: { type: 'string' }, expires_in: { type: 'integer' } },
        },
      },
    },
  },
  async (_request, reply) => {
    const now = Math.floor(Date.now() / 1000);
    const accessToken = await new SignJWT({
      sub: 'admin',
      aut: 'APPLICATION',
      aud: clientId,
      nbf: now,
      azp: clientId,
      scope: 'default',
      iss: issuer,
      exp: now + TTL,
      iat: now,
      jti: randomUUID(),
      client_id: clientId,
    })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
      .sign(privateKey);
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return { access_token: accessToken, scope: 'default', token_type: 'Bearer', expires_in: TTL };
  },
);

const stop = async () => {
  await app.close().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await app.listen({ port, host: '127.0.0.1' });
process.stdout.write(`ready ${port}\n`);
