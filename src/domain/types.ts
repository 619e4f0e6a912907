import type { Tenant } from './tenants.js';

/** The authenticated caller of a protected route. */
export interface Caller {
  /** The tenant the caller's account is in: everything it does happens there. */
  tenant: Tenant;
  userId: string;
  username: string;
  /** The bootstrap admin account (DCR_ADMIN_USER): may register for others and manage users. */
  isSuperAdmin: boolean;
}

export interface User {
  id: string;
  tenantId: number;
  username: string;
  passwordHash: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A registered OAuth2 client application, with its secret in plaintext (decrypted by the repository). */
export interface Application {
  id: string;
  /** The tenant the app is registered in (its owner's). */
  tenantId: number;
  clientId: string;
  clientSecret: string;
  clientName: string;
  /** The owner's user name, as WSO2 shows it (`appOwner`). */
  owner: string;
  /** The owner's account: the app is deleted with it (migration 006). */
  ownerId: string;
  grantTypes: string[];
  callbackUrl: string | null;
  saasApp: boolean;
  tokenType: string;
  userStoreDomainInSubject: boolean;
  /** Per-app token lifetimes (IS DCR v1.1, migration 010); read with the app on every token request. */
  lifetimes: TokenLifetimes;
  createdAt: Date;
}

/**
 * An app's own token lifetimes in seconds, each null for the server's default (DCR_ACCESS_TOKEN_TTL,
 * DCR_REFRESH_TOKEN_TTL), which is also the most any of them is allowed (src/services/tokens.ts).
 */
export interface TokenLifetimes {
  /** Access tokens of the client_credentials grant (IS's ext_application_token_lifetime). */
  applicationToken: number | null;
  /** Access tokens acting for a user: password and refresh_token (ext_user_token_lifetime). */
  userToken: number | null;
  /** Refresh tokens (ext_refresh_token_lifetime). */
  refreshToken: number | null;
}

export const DEFAULT_LIFETIMES: Readonly<TokenLifetimes> = Object.freeze({ applicationToken: null, userToken: null, refreshToken: null });

/** A v0.17 registration: no per-app lifetimes (the server defaults apply). */
export type NewApplication = Omit<Application, 'createdAt' | 'lifetimes'>;

/**
 * The IS client metadata (DCR v1.1) an app keeps beyond the columns v0.17 shares: the fields the
 * server stores and returns without acting on them, under their request names.
 */
export type IsMetadata = Readonly<Record<string, unknown>>;

/** An app as IS DCR v1.1 reads and writes it: the shared row, its lifetimes and its IS metadata. */
export interface IsApplication extends Application {
  metadata: IsMetadata;
}

export type NewIsApplication = Omit<IsApplication, 'createdAt'>;

/** An application as its authenticated client is known: everything but the secret it proved it holds. */
export type Client = Omit<Application, 'clientSecret'>;
