/**
 * The `peer` target of scripts/bench.ts: panva's oidc-provider (a certified OpenID provider) on
 * its default in-memory adapter, in its own node process, with dynamic registration (`/reg`,
 * guarded by a static initial access token) and the client_credentials grant.
 *
 * Its default adapter keeps everything in process memory, in an LRU of 1,000 entries: nothing is
 * written to disk, and older clients and tokens are evicted. That is the comparison's point: it is
 * what a registration costs without durability.
 *
 * Environment: PORT (required), PEER_IAT (the initial access token), PEER_CLIENT_SECRET.
 * Prints `ready <port>` on stdout once listening.
 */
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT is required');
const iat = process.env.PEER_IAT ?? 'bench-initial-access-token';
const secret = process.env.PEER_CLIENT_SECRET ?? 'bench-peer-client-secret-0123456789';

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: 'bench-cc',
      client_secret: secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // The same access-token lifetime as the server's default (DCR_ACCESS_TOKEN_TTL=3600).
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true, initialAccessToken: iat },
    clientCredentials: { enabled: true },
  },
});
// Errors are answered to the client; the benchmark counts them. Do not log each one.
provider.on('server_error', (_ctx: unknown, err: unknown) => process.stderr.write(`peer server_error: ${String(err)}\n`));

provider.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
