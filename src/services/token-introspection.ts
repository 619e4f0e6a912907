import type { components } from '../../generated/platform-api.js';
import { mayIntrospectAll, type AppManagePolicy } from '../domain/scopes.js';
import type { Client } from '../domain/types.js';
import { OAuthError, oauth } from '../domain/errors.js';
import type { ClientAuthentication, ClientCredentialsInput } from './client-authentication.js';
import type { TokenService } from './tokens.js';
import { parseBasicAuthorization, type Authenticator } from './user-authentication.js';

type Introspection = components['schemas']['Introspection'];

interface ActiveToken {
  scopes: string[];
  clientId: string;
  username: string;
  expiresAt: Date;
  issuedAt: Date;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** Introspection (RFC 7662) and revocation (RFC 7009) of the tokens this server issued. */
export class TokenIntrospection {
  constructor(
    private readonly clients: ClientAuthentication,
    private readonly users: Authenticator,
    private readonly tokens: TokenService,
    private readonly appManagePolicy: AppManagePolicy,
  ) {}

  /**
   * Who is introspecting: a client authenticating as itself (client_secret_basic or _post), or a
   * user by HTTP Basic (how API Manager's Key Manager connector calls: its admin user). Basic
   * credentials are tried as a client first; only when no client has them are they a user's.
   * Either failure is the same 401 invalid_client.
   */
  private async introspector(input: ClientCredentialsInput): Promise<{ client: Client } | { seesAll: true }> {
    try {
      return { client: await this.clients.authenticate(input) };
    } catch (err) {
      const basic = parseBasicAuthorization(input.authorization);
      if (!(err instanceof OAuthError) || err.error !== 'invalid_client' || !basic || input.clientSecret !== undefined) throw err;
      const user = await this.users.verifyPassword(basic.username, basic.password, input.address);
      if (user && mayIntrospectAll({ username: user.username, isSuperAdmin: this.users.isSuperAdmin(user.username) }, this.appManagePolicy)) {
        return { seesAll: true };
      }
      throw oauth.invalidClient();
    }
  }

  /** RFC 7662 §2.2: what an active token is said to be. */
  private describe(active: ActiveToken, tokenType: string): Introspection {
    return {
      active: true,
      scope: active.scopes.join(' '),
      client_id: active.clientId,
      username: active.username,
      token_type: tokenType,
      exp: seconds(active.expiresAt),
      iat: seconds(active.issuedAt),
      sub: active.username,
      aud: active.clientId,
      iss: this.tokens.settings.issuer,
    };
  }

  /**
   * RFC 7662. A client sees only its own tokens active (§4: another client's token is answered
   * exactly as an unknown one, `{"active":false}`); a user entitled to it (mayIntrospectAll) sees
   * every token.
   */
  async introspect(input: ClientCredentialsInput, token: string | undefined, hint: string | undefined): Promise<Introspection> {
    const caller = await this.introspector(input);
    if (!token) throw oauth.invalidRequest('token is required');
    const asAccess = async () => {
      const active = await this.tokens.resolveAccessToken(token);
      return active && this.describe(active, 'Bearer');
    };
    const asRefresh = async () => {
      const active = await this.tokens.resolveRefreshToken(token);
      return active && this.describe(active, 'refresh_token');
    };
    const [first, second] = hint === 'refresh_token' ? [asRefresh, asAccess] : [asAccess, asRefresh];
    const found = (await first()) ?? (await second());
    const visible = found && ('seesAll' in caller || caller.client.clientId === found.client_id);
    return visible ? found : { active: false };
  }

  async revoke(input: ClientCredentialsInput, token: string | undefined, hint: string | undefined): Promise<void> {
    const app = await this.clients.authenticate(input);
    if (!token) throw oauth.invalidRequest('token is required');
    await this.tokens.revoke(token, app, hint);
  }
}
