import { hash, timingSafeEqual } from 'node:crypto';
import { grantScopes, mayIntrospectAll, narrowScopes, parseScopeParameter, type AppManagePolicy } from '../domain/scopes.js';
import type { Client } from '../domain/types.js';
import { OAuthError, oauth } from '../domain/errors.js';
import type { ApplicationRepository } from '../repositories/applications.js';
import { isUnknownApplication } from '../repositories/tokens.js';
import type { Authenticator } from './user-authentication.js';
import { parseBasicAuthorization } from './user-authentication.js';
import { ClientCache } from '../cache/client-cache.js';
import type { TokenResponse, TokenService } from './tokens.js';

/** The grants this token endpoint implements. */
export const SUPPORTED_GRANTS = ['password', 'client_credentials', 'refresh_token'] as const;

export interface TokenForm {
  grant_type?: string;
  username?: string;
  password?: string;
  scope?: string;
  refresh_token?: string;
  client_id?: string;
  client_secret?: string;
}

export interface ClientCredentialsInput {
  authorization: string | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
  /** The caller's address, for failed-login throttling of the password grant. */
  address?: string;
}

/** RFC 7662 §2.2. */
export interface Introspection {
  active: boolean;
  scope?: string;
  client_id?: string;
  username?: string;
  token_type?: string;
  exp?: number;
  iat?: number;
  sub?: string;
  aud?: string;
  iss?: string;
}

function sha256(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/** Compares secrets in constant time, whatever their lengths (both sides hashed first). */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

/** RFC 6749 §2.3.1: Basic credentials of a client are form-urlencoded before base64. */
function formDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** The key manager's endpoints: token (RFC 6749), introspection (RFC 7662), revocation (RFC 7009). */
export class OAuthService {
  constructor(
    private readonly apps: ApplicationRepository,
    private readonly auth: Authenticator,
    private readonly tokens: TokenService,
    private readonly appManagePolicy: AppManagePolicy,
    /** Clients whose secret was verified (see ClientCache for why that is safe). */
    private readonly clients = new ClientCache(0),
  ) {}

  /** The client's id and secret, by `client_secret_basic` or `client_secret_post`, never both (RFC 6749 §2.3). */
  private clientCredentials(input: ClientCredentialsInput): { clientId: string; clientSecret: string } {
    const basic = input.authorization ? parseBasicAuthorization(input.authorization) : undefined;
    if (input.authorization && !basic && /^Basic /i.test(input.authorization)) throw oauth.invalidClient();
    if (basic && input.clientSecret !== undefined) {
      throw oauth.invalidRequest('Use one client authentication method: the Authorization header or client_secret in the body');
    }
    const clientId = basic ? formDecode(basic.username) : input.clientId;
    const clientSecret = basic ? formDecode(basic.password) : input.clientSecret;
    if (!clientId || !clientSecret) throw oauth.invalidClient();
    if (basic && input.clientId !== undefined && input.clientId !== clientId) {
      throw oauth.invalidRequest('client_id in the body does not match the Authorization header');
    }
    return { clientId, clientSecret };
  }

  private async verifyClient({ clientId, clientSecret }: { clientId: string; clientSecret: string }): Promise<Client> {
    // A hit needs the very secret verified before: the key is a digest of both parts.
    const remembered = this.clients.get([clientId, clientSecret]);
    if (remembered) return remembered;
    const app = await this.apps.findByClientId(clientId);
    // Compare against something even for an unknown client, so timing does not tell them apart.
    const matches = secretsEqual(clientSecret, app?.clientSecret ?? clientId);
    if (!app || !matches) throw oauth.invalidClient();
    // The plaintext secret is not kept: nothing downstream needs it.
    const { clientSecret: _verified, ...client } = app;
    this.clients.set([clientId, clientSecret], client);
    return client;
  }

  /** Client authentication (RFC 6749 §2.3). Every failure is the same 401 invalid_client. */
  authenticateClient(input: ClientCredentialsInput): Promise<Client> {
    return this.verifyClient(this.clientCredentials(input));
  }

  async token(input: ClientCredentialsInput, form: TokenForm): Promise<TokenResponse> {
    const credentials = this.clientCredentials(input);
    const app = await this.verifyClient(credentials);
    try {
      return await this.grant(app, form, input.address);
    } catch (err) {
      if (!isUnknownApplication(err)) throw err;
      // The app's row is gone (deleted by hand: the API deletes no app), so is the client.
      this.clients.delete([credentials.clientId, credentials.clientSecret]);
      throw oauth.invalidClient();
    }
  }

  private grant(app: Client, form: TokenForm, address: string | undefined): Promise<TokenResponse> {
    const grant = form.grant_type;
    if (!grant) throw oauth.invalidRequest('grant_type is required');
    if (!(SUPPORTED_GRANTS as readonly string[]).includes(grant)) {
      throw oauth.unsupportedGrantType(`Unsupported grant_type value '${grant}'`);
    }
    if (!app.grantTypes.includes(grant)) {
      throw oauth.unauthorizedClient(`The application is not allowed to use the ${grant} grant`);
    }
    switch (grant) {
      case 'password':
        return this.passwordGrant(app, form, address);
      case 'client_credentials':
        return this.clientCredentialsGrant(app, form);
      default:
        return this.refreshGrant(app, form);
    }
  }

  private withRefresh(app: Client): boolean {
    // WSO2 issues refresh tokens only to apps registered for the refresh_token grant.
    return app.grantTypes.includes('refresh_token');
  }

  private async passwordGrant(app: Client, form: TokenForm, address: string | undefined): Promise<TokenResponse> {
    if (!form.username || !form.password) throw oauth.invalidRequest('username and password are required');
    const user = await this.auth.verifyPassword(form.username, form.password, address);
    if (!user) throw oauth.invalidGrant('Invalid resource owner credentials');
    const scopes = grantScopes(
      parseScopeParameter(form.scope),
      { username: user.username, isSuperAdmin: this.auth.isSuperAdmin(user.username) },
      this.appManagePolicy,
    );
    return this.tokens.issue({ app, user, scopes, grantType: 'password', withRefreshToken: this.withRefresh(app) });
  }

  private async clientCredentialsGrant(app: Client, form: TokenForm): Promise<TokenResponse> {
    // The token acts for the app's owner (wso2-behavior.md §6); an app is deleted with its owner (migration 006).
    // The scopes depend on the owner's name alone, so the owner is looked up by the token's INSERT
    // (one round trip fewer than a lookup first; same answers). RFC 6749 §4.4.3: no refresh token.
    const scopes = grantScopes(
      parseScopeParameter(form.scope),
      { username: app.owner, isSuperAdmin: this.auth.isSuperAdmin(app.owner), application: true },
      this.appManagePolicy,
    );
    const token = await this.tokens.issueForUsername({ app, username: app.owner, scopes, grantType: 'client_credentials' });
    if (!token) throw oauth.invalidGrant(`The application's owner '${app.owner}' no longer exists`);
    return token;
  }

  private async refreshGrant(app: Client, form: TokenForm): Promise<TokenResponse> {
    if (!form.refresh_token) throw oauth.invalidRequest('refresh_token is required');
    const current = await this.tokens.resolveRefreshToken(form.refresh_token);
    if (current && current.appId === app.id) {
      const scopes = narrowScopes(current.scopes, parseScopeParameter(form.scope));
      if (!scopes) throw oauth.invalidScope('The requested scope exceeds the scope granted by the refresh token');
      const consumed = await this.tokens.consumeRefreshToken(form.refresh_token, app);
      if (consumed.outcome === 'consumed') {
        return this.tokens.issue({
          app,
          user: { id: consumed.token.userId, username: consumed.token.username },
          scopes,
          grantType: 'refresh_token',
          withRefreshToken: true,
          familyId: consumed.token.familyId,
        });
      }
    } else if (!current) {
      // Not active: a replay of a used token revokes its whole family (RFC 6819 §5.2.2.3).
      await this.tokens.consumeRefreshToken(form.refresh_token, app);
    }
    throw oauth.invalidGrant('Invalid, expired, revoked or already used refresh token');
  }

  /**
   * Who is introspecting: a client authenticating as itself (client_secret_basic or _post), or a
   * user by HTTP Basic (how API Manager's Key Manager connector calls: its admin user). Basic
   * credentials are tried as a client first; only when no client has them are they a user's.
   * Either failure is the same 401 invalid_client.
   */
  private async introspector(input: ClientCredentialsInput): Promise<{ client: Client } | { seesAll: true }> {
    try {
      return { client: await this.authenticateClient(input) };
    } catch (err) {
      const basic = input.authorization ? parseBasicAuthorization(input.authorization) : undefined;
      if (!(err instanceof OAuthError) || err.error !== 'invalid_client' || !basic || input.clientSecret !== undefined) throw err;
      const user = await this.auth.verifyPassword(basic.username, basic.password, input.address);
      if (user && mayIntrospectAll({ username: user.username, isSuperAdmin: this.auth.isSuperAdmin(user.username) }, this.appManagePolicy)) {
        return { seesAll: true };
      }
      throw oauth.invalidClient();
    }
  }

  /**
   * RFC 7662. A client sees only its own tokens active (§4: another client's token is answered
   * exactly as an unknown one, `{"active":false}`); a user entitled to it (mayIntrospectAll) sees
   * every token.
   */
  async introspect(input: ClientCredentialsInput, token: string | undefined, hint: string | undefined): Promise<Introspection> {
    const caller = await this.introspector(input);
    if (!token) throw oauth.invalidRequest('token is required');
    const visible = (clientId: string) => 'seesAll' in caller || caller.client.clientId === clientId;
    const asAccess = async (): Promise<Introspection | undefined> => {
      const active = await this.tokens.resolveAccessToken(token);
      return (
        active && {
          active: true,
          scope: active.scopes.join(' '),
          client_id: active.clientId,
          username: active.username,
          token_type: 'Bearer',
          exp: seconds(active.expiresAt),
          iat: seconds(active.issuedAt),
          sub: active.username,
          aud: active.clientId,
          iss: this.tokens.settings.issuer,
        }
      );
    };
    const asRefresh = async (): Promise<Introspection | undefined> => {
      const active = await this.tokens.resolveRefreshToken(token);
      return (
        active && {
          active: true,
          scope: active.scopes.join(' '),
          client_id: active.clientId,
          username: active.username,
          token_type: 'refresh_token',
          exp: seconds(active.expiresAt),
          iat: seconds(active.issuedAt),
          sub: active.username,
          aud: active.clientId,
          iss: this.tokens.settings.issuer,
        }
      );
    };
    const [first, second] = hint === 'refresh_token' ? [asRefresh, asAccess] : [asAccess, asRefresh];
    const found = (await first()) ?? (await second());
    return found && visible(found.client_id!) ? found : { active: false };
  }

  async revoke(input: ClientCredentialsInput, token: string | undefined, hint: string | undefined): Promise<void> {
    const app = await this.authenticateClient(input);
    if (!token) throw oauth.invalidRequest('token is required');
    await this.tokens.revoke(token, app, hint);
  }
}
