import type { components } from '../../generated/platform-api.js';
import { effectiveLifetime } from '../domain/is-dcr.js';
import { grantScopes, narrowScopes, parseScopeParameter, roleBoundCandidates, type AppManagePolicy, type ScopeBindings } from '../domain/scopes.js';
import type { Tenant } from '../domain/tenants.js';
import { userTenant, type TenantDirectory } from './tenant-directory.js';
import type { Client } from '../domain/types.js';
import { oauth } from '../domain/errors.js';
import type { ScopeBindingRepository } from '../repositories/scope-bindings.js';
import { isUnknownApplication } from '../repositories/tokens.js';
import type { ClientAuthentication, ClientCredentialsInput } from './client-authentication.js';
import type { TokenResponse, TokenService } from './tokens.js';
import type { Authenticator } from './user-authentication.js';

/** The grants this token endpoint implements. */
export const SUPPORTED_GRANTS = ['password', 'client_credentials', 'refresh_token'] as const;

type TokenForm = components['schemas']['TokenRequest'];

/** The token endpoint (RFC 6749 §3.2): each grant's rules, over an authenticated client. */
export class TokenIssuance {
  constructor(
    private readonly clients: ClientAuthentication,
    private readonly users: Authenticator,
    private readonly tokens: TokenService,
    private readonly appManagePolicy: AppManagePolicy,
    private readonly scopeBindings: ScopeBindingRepository,
    private readonly tenants: Pick<TenantDirectory, 'resolve'>,
  ) {}

  /**
   * What roles say of the requested scopes that are not built in, for subject `subjectId`. A
   * request for built-in scopes only (API Manager's own, or none: the hot path) asks nothing.
   */
  private async bindingsFor(tenant: Tenant, requested: readonly string[], subjectId: string): Promise<ScopeBindings | undefined> {
    const candidates = roleBoundCandidates(requested);
    return candidates.length === 0 ? undefined : this.scopeBindings.bindings(tenant.id, candidates, subjectId);
  }

  /** A token of `tenant` (the path's): for a client of that tenant, signed with its keys, under its issuer. */
  async token(tenant: Tenant, input: ClientCredentialsInput, form: TokenForm): Promise<TokenResponse> {
    const app = await this.clients.authenticate(tenant, input);
    try {
      return await this.grant(tenant, app, form, input.address);
    } catch (err) {
      if (!isUnknownApplication(err)) throw err;
      // The app's row is gone (deleted on IS DCR v1.1, or by hand), so is the client.
      this.clients.forget(tenant, input);
      throw oauth.invalidClient();
    }
  }

  private grant(tenant: Tenant, app: Client, form: TokenForm, address: string | undefined): Promise<TokenResponse> {
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
        return this.passwordGrant(tenant, app, form, address);
      case 'client_credentials':
        return this.clientCredentialsGrant(tenant, app, form);
      default:
        return this.refreshGrant(tenant, app, form);
    }
  }

  /**
   * The app's own lifetimes (IS DCR v1.1's ext_*_token_lifetime), capped at the server's
   * DCR_ACCESS_TOKEN_TTL and DCR_REFRESH_TOKEN_TTL, which are also the defaults. From the cached
   * client: nothing is read on the token path for them. An application token (client_credentials)
   * takes the app's application lifetime, one acting for a user (password, refresh_token) its user
   * lifetime, as IS does.
   */
  private lifetimes(app: Client, grantType: string): { accessTtlSeconds: number; refreshTtlSeconds: number } {
    const { accessTtlSeconds, refreshTtlSeconds } = this.tokens.settings;
    const own = grantType === 'client_credentials' ? app.lifetimes.applicationToken : app.lifetimes.userToken;
    return {
      accessTtlSeconds: effectiveLifetime(own, accessTtlSeconds),
      refreshTtlSeconds: effectiveLifetime(app.lifetimes.refreshToken, refreshTtlSeconds),
    };
  }

  private withRefresh(app: Client): boolean {
    // WSO2 issues refresh tokens only to apps registered for the refresh_token grant.
    return app.grantTypes.includes('refresh_token');
  }

  private async passwordGrant(tenant: Tenant, app: Client, form: TokenForm, address: string | undefined): Promise<TokenResponse> {
    if (!form.username || !form.password) throw oauth.invalidRequest('username and password are required');
    // `bob` or `bob@<the app's tenant>`: a user of the app's tenant. `bob@b.com` of another tenant:
    // only for a SaaS app (WSO2's cross-tenant switch), signed in in b.com; the token is the app's
    // tenant's, acting for `bob@b.com`, with no admin rights (the super admin's are the super
    // tenant's), and roles count only as the app's tenant binds them (none of b.com's).
    const home = await userTenant(this.tenants, tenant, form.username);
    if (!home) throw oauth.invalidGrant('Invalid resource owner credentials');
    const crossTenant = home.tenant.id !== tenant.id;
    if (crossTenant && !app.saasApp) throw oauth.invalidGrant('The application is not a SaaS application: users of other tenants cannot sign in to it');
    const user = await this.users.verifyPassword(home.tenant, home.username, form.password, address);
    if (!user) throw oauth.invalidGrant('Invalid resource owner credentials');
    const subject = crossTenant ? `${user.username}@${home.tenant.domain}` : user.username;
    const requested = parseScopeParameter(form.scope);
    const scopes = grantScopes(
      requested,
      { tenant: home.tenant, username: user.username, isSuperAdmin: !crossTenant && (await this.users.isSuperAdmin(tenant, user)) },
      this.appManagePolicy,
      await this.bindingsFor(tenant, requested, user.id),
    );
    return this.tokens.issue(tenant, {
      app,
      user: { id: user.id, username: subject },
      ...(crossTenant ? { subject } : {}),
      scopes,
      grantType: 'password',
      withRefreshToken: this.withRefresh(app),
      ...this.lifetimes(app, 'password'),
    });
  }

  private async clientCredentialsGrant(tenant: Tenant, app: Client, form: TokenForm): Promise<TokenResponse> {
    // The token acts for the app's owner; an app is deleted with its owner (migration 006).
    // The scopes depend on the owner's name and roles alone, so the owner is looked up by the
    // token's INSERT (one round trip fewer than a lookup first; same answers), and roles, when a
    // scope needs them, by the owner's id. RFC 6749 §4.4.3: no refresh token.
    const requested = parseScopeParameter(form.scope);
    const scopes = grantScopes(
      requested,
      { tenant, username: app.owner, isSuperAdmin: await this.users.isSuperAdmin(tenant, { id: app.ownerId, username: app.owner }), application: true },
      this.appManagePolicy,
      await this.bindingsFor(tenant, requested, app.ownerId),
    );
    const { accessTtlSeconds } = this.lifetimes(app, 'client_credentials');
    const token = await this.tokens.issueForUsername(tenant, { app, username: app.owner, scopes, grantType: 'client_credentials', accessTtlSeconds });
    if (!token) throw oauth.invalidGrant(`The application's owner '${app.owner}' no longer exists`);
    return token;
  }

  private async refreshGrant(tenant: Tenant, app: Client, form: TokenForm): Promise<TokenResponse> {
    if (!form.refresh_token) throw oauth.invalidRequest('refresh_token is required');
    const current = await this.tokens.resolveRefreshToken(tenant, form.refresh_token);
    if (current && current.appId === app.id) {
      const scopes = narrowScopes(current.scopes, parseScopeParameter(form.scope));
      if (!scopes) throw oauth.invalidScope('The requested scope exceeds the scope granted by the refresh token');
      const consumed = await this.tokens.consumeRefreshToken(form.refresh_token, app);
      if (consumed.outcome === 'consumed') {
        return this.tokens.issue(tenant, {
          app,
          user: { id: consumed.token.userId, username: consumed.token.username },
          ...(consumed.token.subject === null ? {} : { subject: consumed.token.subject }),
          scopes,
          grantType: 'refresh_token',
          withRefreshToken: true,
          familyId: consumed.token.familyId,
          ...this.lifetimes(app, 'refresh_token'),
        });
      }
    } else if (!current) {
      // Not active: a replay of a used token revokes its whole family (RFC 6819 §5.2.2.3).
      await this.tokens.consumeRefreshToken(form.refresh_token, app);
    }
    throw oauth.invalidGrant('Invalid, expired, revoked or already used refresh token');
  }
}
