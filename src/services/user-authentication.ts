import type { PasswordHasher } from '../crypto/passwords.js';
import { APP_MANAGE_SCOPE, followsAppManageRule, mayHoldScope, type AppManagePolicy } from '../domain/scopes.js';
import type { Caller, User } from '../domain/types.js';
import { SUPER_TENANT, type Tenant } from '../domain/tenants.js';
import { tooManyRequests, unauthorized } from '../domain/errors.js';
import type { UserRepository } from '../repositories/users.js';
import { CredentialCache } from '../cache/credential-cache.js';
import type { LoginThrottle } from './login-throttle.js';
import type { TenantDirectory } from './tenant-directory.js';
import type { TokenService } from './tokens.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Splits an RFC 7617 Basic credential; undefined for anything malformed or with an empty part. */
export function parseBasicAuthorization(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const match = /^Basic[ ]+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (password === '') return undefined;
  return { username, password };
}

/** The token of an RFC 6750 `Authorization: Bearer` header, if that is what the header holds. */
export function parseBearerAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Authenticates callers against the user store. Every failure is the same 401, and an unknown
 * user costs the same KDF time as a wrong password, so neither the answer nor its timing tells
 * which part was wrong.
 */
export class Authenticator {
  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    private readonly superAdmin: string,
    /** Verifies Bearer tokens (authenticateBearer). */
    private readonly tokens: TokenService,
    private readonly cache: CredentialCache = new CredentialCache(0),
    private readonly throttle?: LoginThrottle,
    /** Re-applied to every Bearer token that needs apim:dcr:app_manage or an internal_dcr_* scope: a policy change takes effect at once. */
    private readonly appManagePolicy: AppManagePolicy = { anyone: true },
    /** Who owns a tenant (its admin). */
    private readonly tenants: Pick<TenantDirectory, 'resolve'> = { resolve: async () => undefined },
  ) {}

  /**
   * The administrator of its tenant (Caller.isSuperAdmin): in the super tenant its bootstrap admin
   * (DCR_ADMIN_USER), in any other tenant its owner (WSO2's tenant admin). Within its tenant it
   * may do what the super admin does in the super tenant; tenants themselves are managed by the
   * super tenant's admin only (mayManageTenants).
   */
  async isSuperAdmin(tenant: Tenant, user: { id: string; username: string }): Promise<boolean> {
    if (tenant.id === SUPER_TENANT.id) return user.username === this.superAdmin;
    return (await this.tenants.resolve(tenant.domain))?.ownerId === user.id;
  }

  /**
   * The user whose password this is, or undefined; same cost whether the user exists or not.
   * Throws 429 when this user name from this address, or this address, has failed too often
   * (src/services/login-throttle.ts), and waits first when the name is under attack from many
   * addresses. A credential verified before passes at once, whatever the counts.
   */
  async verifyPassword(tenant: Tenant, username: string, password: string, address = 'unknown'): Promise<User | undefined> {
    // The throttle and the cache count and remember a name within its tenant.
    const account = tenant.id === SUPER_TENANT.id ? username : `${username}@${tenant.domain}`;
    // A check is counted as a failure when it begins (and undone if it was right), not after:
    // counted after, a burst of concurrent guesses all passed the throttle before the first
    // failure was recorded, and every one of them was verified.
    const guess = async () => {
      const attempt = this.throttle?.begin(account, address);
      if (attempt && attempt.retryAfter > 0) throw tooManyRequests(attempt.retryAfter);
      if (attempt && attempt.delayMs > 0) await sleep(attempt.delayMs);
      return attempt;
    };
    const user = await this.users.findByUsername(tenant.id, username);
    if (!user) {
      await guess();
      await this.hasher.burn(password);
      return undefined;
    }
    const stored = user.passwordHash;
    // Only a check that runs the KDF is a guess: a remembered credential, or one joining an
    // identical check in flight, costs no hash and tries no new password.
    const ok = await this.cache.check(account, password, stored, async () => {
      const attempt = await guess();
      const right = await this.hasher.verify(password, stored);
      if (right) attempt?.succeeded();
      return right;
    });
    return ok ? user : undefined;
  }

  /**
   * HTTP Basic of a user; `signIn` says which tenant and local name the credential's user name
   * stands for (src/services/tenant-directory.ts, `user@domain`), undefined to refuse it.
   */
  async authenticateBasic(
    signIn: (username: string) => Promise<{ tenant: Tenant; username: string } | undefined>,
    header: string | undefined,
    address = 'unknown',
  ): Promise<Caller> {
    const credentials = parseBasicAuthorization(header);
    if (!credentials) {
      // A Basic header that does not parse is a failed login too, counted against the address
      // (it names no user), and refused like any other once the address is over its limit.
      if (header && /^Basic\b/i.test(header) && this.throttle) {
        const wait = this.throttle.addressRetryAfter(address);
        if (wait > 0) throw tooManyRequests(wait);
        this.throttle.recordAddressFailure(address);
      }
      throw unauthorized();
    }
    const target = await signIn(credentials.username);
    if (!target) {
      // A name of another tenant than the path's: refused, at the cost of a wrong password.
      await this.hasher.burn(credentials.password);
      throw unauthorized();
    }
    const { tenant } = target;
    const user = await this.verifyPassword(tenant, target.username, credentials.password, address);
    if (!user) throw unauthorized();
    return { tenant, userId: user.id, username: user.username, isSuperAdmin: await this.isSuperAdmin(tenant, user) };
  }

  /**
   * RFC 6750 Bearer: an active (unexpired, unrevoked, user still present) access token carrying
   * every scope in `requiredScopes`. Costs a signature check or a SHA-256 and one indexed query.
   */
  async authenticateBearer(tenant: Tenant, header: string | undefined, requiredScopes: readonly string[] = [APP_MANAGE_SCOPE]): Promise<Caller> {
    const token = parseBearerAuthorization(header);
    if (!token) throw unauthorized();
    // The tenant's own tokens only: another tenant's is unknown here.
    const active = await this.tokens.resolveAccessToken(tenant, token);
    if (!active || !requiredScopes.every((scope) => active.scopes.includes(scope))) throw unauthorized();
    const caller = {
      tenant,
      userId: active.userId,
      username: active.username,
      isSuperAdmin: await this.isSuperAdmin(tenant, { id: active.userId, username: active.username }),
    };
    // A token carries the scope it was granted; the policy is checked again, so that a token issued
    // before it changed (DCR_APP_TOKENS_MANAGE_APPS, DCR_APP_MANAGE_USERS) cannot outlast it.
    const holder = { ...caller, application: active.grantType === 'client_credentials' };
    // apim:dcr:app_manage and IS's internal_dcr_* scopes share that rule.
    const managing = requiredScopes.find(followsAppManageRule);
    if (managing !== undefined && !mayHoldScope(managing, holder, this.appManagePolicy)) throw unauthorized();
    return caller;
  }
}
