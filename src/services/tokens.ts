import type { components } from '../../generated/platform-api.js';
import { hash, randomUUID } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { pooledRandomBytes } from '../crypto/random.js';
import type { Client } from '../domain/types.js';
import type { Tenant } from '../domain/tenants.js';
import type { ActiveAccessToken, RefreshTokenRecord, TokenRepository } from '../repositories/tokens.js';
import type { KeyStore } from './signing-keys.js';
import { VerifiedJwtCache } from '../cache/verified-jwt-cache.js';

export interface TokenSettings {
  /** `iss` of a tenant's JWTs (tenantIssuer in src/domain/tenants.ts): each tenant verifies its own only. */
  issuerOf: (tenant: Tenant) => string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
}

/** RFC 6749 §5.1 (the object is built in WSO2's key order). */
export type TokenResponse = components['schemas']['TokenResponse'];

export interface IssueRequest {
  app: Client;
  user: { id: string; username: string };
  scopes: string[];
  grantType: string;
  withRefreshToken: boolean;
  /** A SaaS app's user of another tenant (its `user@domain`, also `user.username`): kept on the rows. */
  subject?: string;
  /** The refresh family to continue (refresh_token grant); a new one otherwise. */
  familyId?: string;
  /** This app's lifetimes (src/services/token-issuance.ts); the server's settings when absent. */
  accessTtlSeconds?: number;
  refreshTtlSeconds?: number;
}

/** Tokens are high-entropy randoms, so a fast hash is enough to store them (no KDF needed). */
export function tokenHash(token: string): Buffer {
  // One-shot hash(): cheaper than a Hash object, on every token issued or presented.
  return hash('sha256', token, 'buffer');
}

/**
 * The row id of an opaque access token: the first 128 bits of its SHA-256, written as a uuid.
 * The row is found by this id alone, so the token is stored only as (part of) its hash, with one
 * key per row: a second random key (the full hash, uniquely indexed) cost every token a second
 * B-tree insert (migration 005, docs/performance.md). Finding a token from its id needs a
 * 128-bit preimage of SHA-256; two tokens sharing an id, a 2^64 birthday bound on 256-bit
 * random tokens, would fail the second token's INSERT, never resolve one token as the other.
 */
export function opaqueTokenId(token: string): string {
  const hex = hash('sha256', token, 'hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * WSO2's authorized user type (`aut`): `APPLICATION` for a token an application obtained for itself
 * (client_credentials), `APPLICATION_USER` for one acting for a user who signed in (password, and
 * refresh_token, which continues a user's grant). API Manager's gateway and its Key Manager connector
 * tell application tokens from user tokens by it.
 */
export type AuthorizedUserType = 'APPLICATION' | 'APPLICATION_USER';
export const authorizedUserType = (grantType: string): AuthorizedUserType =>
  grantType === 'client_credentials' ? 'APPLICATION' : 'APPLICATION_USER';

/** An active access token, and whether it is a JWT (whose claims introspection then repeats). */
export type ResolvedAccessToken = ActiveAccessToken & { format: 'jwt' | 'opaque' };

/**
 * Issues and resolves access and refresh tokens. JWT apps (`tokenType` JWT) get JWTs signed with the
 * current key (RS256 by default, see KeyStore) whose jti is their database row; other apps get opaque 256-bit tokens stored only as SHA-256 hashes
 * (an access token's row id is its hash's first half, see opaqueTokenId).
 * Every token is checked against the database, so a revocation or a deleted user takes effect on
 * every instance at once.
 */
export class TokenService {
  constructor(
    private readonly repo: TokenRepository,
    private readonly keys: KeyStore,
    readonly settings: TokenSettings,
    /** Signature checks already done (see VerifiedJwtCache); the database is asked every time regardless. */
    private readonly verified = new VerifiedJwtCache(),
  ) {}

  /**
   * A new access token for `username`: for JWT apps a JWT whose jti is a new random uuid, else an
   * opaque 256-bit random string whose row id is derived from its SHA-256 (opaqueTokenId).
   */
  private async makeAccessToken(
    tenant: Tenant,
    app: Client,
    username: string,
    scopes: string[],
    grantType: string,
    now: number,
    ttlSeconds: number,
  ): Promise<{ token: string; id: string }> {
    if (app.tokenType.toUpperCase() !== 'JWT') {
      const token = pooledRandomBytes(32).toString('base64url');
      return { token, id: opaqueTokenId(token) };
    }
    const id = randomUUID();
    const key = await this.keys.signingKey(tenant.id);
    // The claims of WSO2 IS 7's access tokens, in its order: the gateway takes the consumer key
    // from `azp`, the scopes from `scope` (a space-separated string), application or user from
    // `aut`, and keys its revocation map by `jti`; `aud` stays a plain string (an array holding the
    // consumer key broke Choreo Connect). `client_id` is what RFC 9068 names the same value.
    const token = await key.sign('at+jwt', {
      sub: username,
      aut: authorizedUserType(grantType),
      aud: app.clientId,
      nbf: now,
      azp: app.clientId,
      scope: scopes.join(' '),
      iss: this.settings.issuerOf(tenant),
      exp: now + ttlSeconds,
      iat: now,
      jti: id,
      client_id: app.clientId,
    });
    return { token, id };
  }

  private response(accessToken: string, scopes: string[], expiresIn: number, refreshToken?: string): TokenResponse {
    return {
      access_token: accessToken,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      scope: scopes.join(' '),
      token_type: 'Bearer',
      expires_in: expiresIn,
    };
  }

  /**
   * An access token acting for the user named `username` (no refresh token): the client_credentials
   * grant, where the app's owner is known by name only. The user is looked up by the token's
   * INSERT itself; undefined when no user has that name (nothing is stored, and the token made
   * for the attempt, never stored, is worthless: every token is checked against the database).
   */
  async issueForUsername(tenant: Tenant, request: {
    app: Client;
    username: string;
    scopes: string[];
    grantType: string;
    accessTtlSeconds?: number;
  }): Promise<TokenResponse | undefined> {
    const { app, username, scopes, grantType } = request;
    const ttl = request.accessTtlSeconds ?? this.settings.accessTtlSeconds;
    const now = Math.floor(Date.now() / 1000);
    const { token, id } = await this.makeAccessToken(tenant, app, username, scopes, grantType, now, ttl);
    const stored = await this.repo.insertAccessForUsername({
      id,
      tenantId: tenant.id,
      appId: app.id,
      username,
      scopes,
      grantType,
      issuedAt: new Date(now * 1000),
      expiresAt: new Date((now + ttl) * 1000),
    });
    return stored ? this.response(token, scopes, ttl) : undefined;
  }

  async issue(tenant: Tenant, request: IssueRequest): Promise<TokenResponse> {
    const { app, user, scopes, grantType } = request;
    const accessTtl = request.accessTtlSeconds ?? this.settings.accessTtlSeconds;
    const now = Math.floor(Date.now() / 1000);
    // One clock reading for iat, exp and the stored rows, so introspection agrees with the JWT.
    const issuedAt = new Date(now * 1000);
    const accessExpires = new Date((now + accessTtl) * 1000);
    const familyId = request.withRefreshToken ? (request.familyId ?? randomUUID()) : null;

    const { token: accessToken, id: accessId } = await this.makeAccessToken(tenant, app, user.username, scopes, grantType, now, accessTtl);
    const subject = request.subject === undefined ? {} : { subject: request.subject };
    const access = { ...subject, id: accessId, tenantId: tenant.id, appId: app.id, userId: user.id, scopes, grantType, issuedAt, expiresAt: accessExpires };
    if (!familyId) {
      await this.repo.insertAccess({ ...access, familyId: null });
      return this.response(accessToken, scopes, accessTtl);
    }
    const refreshToken = pooledRandomBytes(32).toString('base64url');
    await this.repo.insertGrant(
      { ...access, familyId },
      {
        ...subject,
        id: randomUUID(),
        tenantId: tenant.id,
        tokenHash: tokenHash(refreshToken),
        familyId,
        appId: app.id,
        userId: user.id,
        scopes,
        issuedAt,
        expiresAt: new Date((now + (request.refreshTtlSeconds ?? this.settings.refreshTtlSeconds)) * 1000),
      },
    );
    return this.response(accessToken, scopes, accessTtl, refreshToken);
  }

  /**
   * The jti of a JWT signed by one of our keys, issued by us and unexpired; undefined otherwise.
   * Each key verifies with its own algorithm only, whatever the token's header claims.
   */
  private async verifyJwt(tenant: Tenant, token: string): Promise<string | undefined> {
    // Remembered per tenant: a token verified for its own tenant proves nothing at another's.
    const remembered = this.verified.get(tenant.id, token);
    if (remembered !== undefined) return remembered;
    try {
      const { kid } = decodeProtectedHeader(token);
      const key = await this.keys.verificationKey(tenant.id, kid);
      if (!key) return undefined;
      const { payload } = await jwtVerify(token, key.key, { issuer: this.settings.issuerOf(tenant), algorithms: [key.alg] });
      if (typeof payload.jti !== 'string') return undefined;
      this.verified.add(tenant.id, token, { jti: payload.jti, exp: payload.exp, nbf: payload.nbf });
      return payload.jti;
    } catch {
      return undefined;
    }
  }

  /** The active access token this string is, or undefined (unknown, expired, revoked, forged). */
  /** The active access token of `tenant` this string is, or undefined (unknown here, expired, revoked, forged). */
  async resolveAccessToken(tenant: Tenant, token: string): Promise<ResolvedAccessToken | undefined> {
    if (JWT_SHAPE.test(token)) {
      const jti = await this.verifyJwt(tenant, token);
      const active = jti ? await this.repo.findActiveAccessById(tenant.id, jti) : undefined;
      return active && { ...active, format: 'jwt' };
    }
    const active = await this.repo.findActiveAccessById(tenant.id, opaqueTokenId(token));
    return active && { ...active, format: 'opaque' };
  }

  resolveRefreshToken(tenant: Tenant, token: string): Promise<RefreshTokenRecord | undefined> {
    return this.repo.findActiveRefreshByHash(tenant.id, tokenHash(token));
  }

  consumeRefreshToken(token: string, app: Client) {
    return this.repo.consumeRefresh(app.tenantId, tokenHash(token), app.id);
  }

  /** RFC 7009: revokes the token if it is one of this app's; unknown tokens are not an error. */
  async revoke(tenant: Tenant, token: string, app: Client, hint: string | undefined): Promise<void> {
    const asRefresh = () => this.repo.revokeRefresh(tenant.id, tokenHash(token), app.id);
    const asAccess = async () => {
      if (JWT_SHAPE.test(token)) {
        const jti = await this.verifyJwt(tenant, token);
        return jti ? this.repo.revokeAccess(tenant.id, jti, app.id, true) : false;
      }
      return this.repo.revokeAccess(tenant.id, opaqueTokenId(token), app.id, false);
    };
    // The hint only orders the lookups (RFC 7009 §2.1).
    if (hint === 'refresh_token') {
      if (!(await asRefresh())) await asAccess();
    } else if (!(await asAccess())) {
      await asRefresh();
    }
  }
}
