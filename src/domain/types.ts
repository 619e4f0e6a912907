/** The authenticated caller of a protected route. */
export interface Caller {
  userId: string;
  username: string;
  /** The bootstrap admin account (DCR_ADMIN_USER): may register for others and manage users. */
  isSuperAdmin: boolean;
}

export interface User {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A registered OAuth2 client application, with its secret in plaintext (decrypted by the repository). */
export interface Application {
  id: string;
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
  createdAt: Date;
}

export type NewApplication = Omit<Application, 'createdAt'>;

/** An application as its authenticated client is known: everything but the secret it proved it holds. */
export type Client = Omit<Application, 'clientSecret'>;
