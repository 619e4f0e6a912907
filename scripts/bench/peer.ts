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
 * (kept in memory), `bench-cc-jwt` gets ES256 JWT access tokens (a resource server with
 * `accessTokenFormat: 'jwt'`), so that each of the service's two token types is compared with the
 * same kind of token.
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
/** The resource server whose access tokens are JWTs, signed like the service's (ES256). */
const JWT_RESOURCE = 'urn:bench:api';
// Signing keys of this run: RS256 (oidc-provider's default for ID tokens) and ES256.
const jwk = (type: 'rsa' | 'ec') =>
  (type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  ).privateKey.export({ format: 'jwk' });

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    { client_id: 'bench-cc', ...ccClient },
    { client_id: 'bench-cc-jwt', ...ccClient },
  ],
  jwks: { keys: [jwk('rsa'), { ...jwk('ec'), alg: 'ES256', use: 'sig' }] },
  // The same access-token lifetime as the server's default (DCR_ACCESS_TOKEN_TTL=3600).
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true, initialAccessToken: iat },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // bench-cc-jwt's tokens are for the JWT resource server without asking; bench-cc's have none.
      defaultResource: (_ctx: unknown, client: { clientId: string }) => (client.clientId === 'bench-cc-jwt' ? JWT_RESOURCE : undefined),
      getResourceServerInfo: () => ({
        scope: '',
        audience: JWT_RESOURCE,
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
// Errors are answered to the client; the benchmark counts them. Do not log each one.
provider.on('server_error', (_ctx: unknown, err: unknown) => process.stderr.write(`peer server_error: ${String(err)}\n`));

provider.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
