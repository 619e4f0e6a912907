import type { components } from '../../generated/platform-api.js';
import { mayIntrospectAll, type AppManagePolicy } from '../domain/scopes.js';
import type { Client } from '../domain/types.js';
import type { Tenant } from '../domain/tenants.js';
import { signInTarget, type TenantDirectory } from './tenant-directory.js';
import { OAuthError, oauth } from '../domain/errors.js';
import type { ClientAuthentication, ClientCredentialsInput } from './client-authentication.js';
import { authorizedUserType, type TokenService } from './tokens.js';
import { parseBasicAuthorization, type Authenticator } from './user-authentication.js';

type Introspection = components['schemas']['Introspection'];

interface ActiveToken {
  id: string;
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
    private readonly tenants: Pick<TenantDirectory, 'resolve'>,
  ) {}

  /**
   * Who is introspecting: a client authenticating as itself (client_secret_basic or _post), or a
   * user by HTTP Basic (how API Manager's Key Manager connector calls: its admin user). Basic
   * credentials are tried as a client first; only when no client has them are they a user's.
   * Either failure is the same 401 invalid_client.
   */
  private async introspector(tenant: Tenant, input: ClientCredentialsInput): Promise<{ client: Client } | { seesAll: true }> {
    try {
      return { client: await this.clients.authenticate(tenant, input) };
    } catch (err) {
      const basic = parseBasicAuthorization(input.authorization);
      if (!(err instanceof OAuthError) || err.error !== 'invalid_client' || !basic || input.clientSecret !== undefined) throw err;
      // `admin` or `admin@<this tenant>`: a user of the tenant whose tokens are asked about.
      const target = await signInTarget(this.tenants, { tenant, pathTenant: true }, basic.username);
      const user = target && (await this.users.verifyPassword(tenant, target.username, basic.password, input.address));
      if (user && mayIntrospectAll({ tenant, username: user.username, isSuperAdmin: await this.users.isSuperAdmin(tenant, user) }, this.appManagePolicy)) {
        return { seesAll: true };
      }
      throw oauth.invalidClient();
    }
  }

  /**
   * RFC 7662 §2.2, with the fields WSO2 IS answers and API Manager's Key Manager connector reads:
   * `aut` tells an application's token from a user's, `nbf` and `iat` give the validity period.
   * A JWT's own claims `jti`, `sub` and `iss` are repeated for JWTs only, as IS does.
   */
  private describe(tenant: Tenant, active: ActiveToken, kind: { tokenType: 'Bearer' | 'Refresh'; grantType: string; jwt: boolean }): Introspection {
    const issuedAt = seconds(active.issuedAt);
    return {
      active: true,
      scope: active.scopes.join(' '),
      client_id: active.clientId,
      username: active.username,
      token_type: kind.tokenType,
      exp: seconds(active.expiresAt),
      iat: issuedAt,
      nbf: issuedAt,
      aut: authorizedUserType(kind.grantType),
      aud: active.clientId,
      ...(kind.jwt ? { jti: active.id, sub: active.username, iss: this.tokens.settings.issuerOf(tenant) } : {}),
    };
  }

  /**
   * RFC 7662. A client sees only its own tokens active (§4: another client's token is answered
   * exactly as an unknown one, `{"active":false}`); a user entitled to it (mayIntrospectAll) sees
   * every token.
   */
  async introspect(
    tenant: Tenant,
    input: ClientCredentialsInput,
    token: string | undefined,
    hint: string | undefined,
    tenantDomain?: string,
  ): Promise<Introspection> {
    const caller = await this.introspector(tenant, input);
    if (!token) throw oauth.invalidRequest('token is required');
    // API Manager names the tenant it asks for (X-WSO2-Tenant). The path's tenant decides whose
    // tokens are looked at; a header naming another tenant finds none active (spec/CHANGES.md, "Tenants").
    if (tenantDomain !== undefined && tenantDomain.toLowerCase() !== tenant.domain) return { active: false };
    const asAccess = async () => {
      const active = await this.tokens.resolveAccessToken(tenant, token);
      return active && this.describe(tenant, active, { tokenType: 'Bearer', grantType: active.grantType, jwt: active.format === 'jwt' });
    };
    // IS calls a refresh token's type `Refresh`, which API Manager refuses as an access token.
    // A refresh token is always a user's: only the password and refresh grants issue one.
    const asRefresh = async () => {
      const active = await this.tokens.resolveRefreshToken(tenant, token);
      return active && this.describe(tenant, active, { tokenType: 'Refresh', grantType: 'refresh_token', jwt: false });
    };
    const [first, second] = hint === 'refresh_token' ? [asRefresh, asAccess] : [asAccess, asRefresh];
    const found = (await first()) ?? (await second());
    const visible = found && ('seesAll' in caller || caller.client.clientId === found.client_id);
    return visible ? found : { active: false };
  }

  async revoke(tenant: Tenant, input: ClientCredentialsInput, token: string | undefined, hint: string | undefined): Promise<void> {
    const app = await this.clients.authenticate(tenant, input);
    if (!token) throw oauth.invalidRequest('token is required');
    await this.tokens.revoke(tenant, token, app, hint);
  }
}
