import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { Application } from '../domain/types.js';
import type { ActiveAccessToken, RefreshTokenRecord, TokenRepository } from '../repositories/tokens.js';
import { SIGNING_ALG, type KeyStore } from './signing-keys.js';

export interface TokenSettings {
  issuer: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
}

/** RFC 6749 §5.1, in WSO2's key order. */
export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  scope: string;
  token_type: 'Bearer';
  expires_in: number;
}

export interface IssueRequest {
  app: Application;
  user: { id: string; username: string };
  scopes: string[];
  grantType: string;
  withRefreshToken: boolean;
  /** The refresh family to continue (refresh_token grant); a new one otherwise. */
  familyId?: string;
}

/** Tokens are high-entropy randoms, so a fast hash is enough to store them (no KDF needed). */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Issues and resolves access and refresh tokens. JWT apps (`tokenType` JWT) get ES256 JWTs whose
 * jti is their database row; other apps get opaque 256-bit tokens stored only as SHA-256 hashes.
 * Every token is checked against the database, so a revocation or a deleted user takes effect on
 * every instance at once.
 */
export class TokenService {
  constructor(
    private readonly repo: TokenRepository,
    private readonly keys: KeyStore,
    readonly settings: TokenSettings,
  ) {}

  async issue(request: IssueRequest): Promise<TokenResponse> {
    const { app, user, scopes, grantType } = request;
    const now = Math.floor(Date.now() / 1000);
    // One clock reading for iat, exp and the stored rows, so introspection agrees with the JWT.
    const issuedAt = new Date(now * 1000);
    const accessExpires = new Date((now + this.settings.accessTtlSeconds) * 1000);
    const accessId = randomUUID();
    const familyId = request.withRefreshToken ? (request.familyId ?? randomUUID()) : null;

    let accessToken: string;
    let accessHash: Buffer | null = null;
    if (app.tokenType.toUpperCase() === 'JWT') {
      const { kid, key } = await this.keys.signingKey();
      accessToken = await new SignJWT({ client_id: app.clientId, scope: scopes.join(' ') })
        .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'at+jwt' })
        .setIssuer(this.settings.issuer)
        .setSubject(user.username)
        .setAudience(app.clientId)
        .setIssuedAt(now)
        .setExpirationTime(now + this.settings.accessTtlSeconds)
        .setJti(accessId)
        .sign(key);
    } else {
      accessToken = randomBytes(32).toString('base64url');
      accessHash = tokenHash(accessToken);
    }
    await this.repo.insertAccess({
      id: accessId,
      tokenHash: accessHash,
      appId: app.id,
      userId: user.id,
      scopes,
      grantType,
      familyId,
      issuedAt,
      expiresAt: accessExpires,
    });

    let refreshToken: string | undefined;
    if (familyId) {
      refreshToken = randomBytes(32).toString('base64url');
      await this.repo.insertRefresh({
        id: randomUUID(),
        tokenHash: tokenHash(refreshToken),
        familyId,
        appId: app.id,
        userId: user.id,
        scopes,
        issuedAt,
        expiresAt: new Date((now + this.settings.refreshTtlSeconds) * 1000),
      });
    }
    return {
      access_token: accessToken,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      scope: scopes.join(' '),
      token_type: 'Bearer',
      expires_in: this.settings.accessTtlSeconds,
    };
  }

  /** The jti of a JWT signed by one of our keys, issued by us and unexpired; undefined otherwise. */
  private async verifyJwt(token: string): Promise<string | undefined> {
    try {
      const { kid } = decodeProtectedHeader(token);
      const key = await this.keys.verificationKey(kid);
      if (!key) return undefined;
      const { payload } = await jwtVerify(token, key, { issuer: this.settings.issuer, algorithms: [SIGNING_ALG] });
      return typeof payload.jti === 'string' ? payload.jti : undefined;
    } catch {
      return undefined;
    }
  }

  /** The active access token this string is, or undefined (unknown, expired, revoked, forged). */
  async resolveAccessToken(token: string): Promise<ActiveAccessToken | undefined> {
    if (JWT_SHAPE.test(token)) {
      const jti = await this.verifyJwt(token);
      return jti ? this.repo.findActiveAccessById(jti) : undefined;
    }
    return this.repo.findActiveAccessByHash(tokenHash(token));
  }

  resolveRefreshToken(token: string): Promise<RefreshTokenRecord | undefined> {
    return this.repo.findActiveRefreshByHash(tokenHash(token));
  }

  consumeRefreshToken(token: string, app: Application) {
    return this.repo.consumeRefresh(tokenHash(token), app.id);
  }

  /** RFC 7009: revokes the token if it is one of this app's; unknown tokens are not an error. */
  async revoke(token: string, app: Application, hint: string | undefined): Promise<void> {
    const asRefresh = () => this.repo.revokeRefresh(tokenHash(token), app.id);
    const asAccess = async () => {
      if (JWT_SHAPE.test(token)) {
        const jti = await this.verifyJwt(token);
        return jti ? this.repo.revokeAccess(jti, app.id) : false;
      }
      const active = await this.repo.findActiveAccessByHash(tokenHash(token));
      return active ? this.repo.revokeAccess(active.id, app.id) : false;
    };
    // The hint only orders the lookups (RFC 7009 §2.1).
    if (hint === 'refresh_token') {
      if (!(await asRefresh())) await asAccess();
    } else if (!(await asAccess())) {
      await asRefresh();
    }
  }
}
