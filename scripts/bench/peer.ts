/**
 * The `peer` target of scripts/bench.ts: panva's oidc-provider (a certified OpenID provider) on
 * its default in-memory adapter, in its own node process, with dynamic registration (`/reg`,
 * guarded by a static initial access token) and the client_credentials grant.
 *
 * Its default adapter keeps everything in process memory, in an LRU of 1,000 entries: nothing is
 * written to disk, and older clients and tokens are evicted. That is the comparison's point: it is
 * what a registration costs without durability.
 *
 * Two clients for client_credentials: `bench-cc` gets oidc-provider's default opaque access tokens
 * (kept in memory), `bench-cc-rs256` gets RS256 JWT access tokens (RSA-2048; a resource server with
 * `accessTokenFormat: 'jwt'`), so that each of the service's two token types is compared with the
 * same kind of token.
 *
 * Introspection (RFC 7662, `/token/introspection`) is enabled; a client sees its own tokens only, as
 * on the service. oidc-provider introspects its opaque tokens only: a JWT access token is answered
 * 400 unsupported_token_type by design (its resource server verifies it itself), so the service's
 * JWT introspection is compared with the peer's opaque one.
 *
 * Environment: PORT (required), PEER_IAT (the initial access token), PEER_CLIENT_SECRET.
 * Prints `ready <port>` on stdout once listening.
 */
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT is required');
const iat = process.env.PEER_IAT ?? 'bench-initial-access-token';
const secret = process.env.PEER_CLIENT_SECRET ?? 'bench-peer-client-secret-0123456789';

const ccClient = {
  client_secret: secret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
};
/** The resource server whose access tokens are JWTs, signed like the service's (RS256). */
const JWT_RESOURCE = 'urn:bench:api';
// The signing key of this run: RSA-2048, as the service's (RS256, also oidc-provider's default for ID tokens).
const rsaJwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    { client_id: 'bench-cc', ...ccClient },
    { client_id: 'bench-cc-rs256', ...ccClient },
  ],
  jwks: { keys: [{ ...rsaJwk, alg: 'RS256', use: 'sig' }] },
  // The same access-token lifetime as the server's default (DCR_ACCESS_TOKEN_TTL=3600).
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true, initialAccessToken: iat },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // The default policy lets any authenticated client see any token (and logs that it should be
      // changed): a client sees its own, as on the service.
      allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId,
    },
    resourceIndicators: {
      enabled: true,
      // bench-cc-rs256's tokens are for the JWT resource server without asking; bench-cc's have none.
      defaultResource: (_ctx: unknown, client: { clientId: string }) => (client.clientId === 'bench-cc-rs256' ? JWT_RESOURCE : undefined),
      getResourceServerInfo: () => ({
        scope: '',
        audience: JWT_RESOURCE,
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
// Errors are answered to the client; the benchmark counts them. Do not log each one.
provider.on('server_error', (_ctx: unknown, err: unknown) => process.stderr.write(`peer server_error: ${String(err)}\n`));

provider.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
