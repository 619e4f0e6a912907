import { hash, timingSafeEqual } from 'node:crypto';
import { ClientCache } from '../cache/client-cache.js';
import type { Client } from '../domain/types.js';
import type { Tenant } from '../domain/tenants.js';
import { oauth } from '../domain/errors.js';
import type { ApplicationRepository } from '../repositories/applications.js';
import { parseBasicAuthorization } from './user-authentication.js';

/** How a request presents its client: the Authorization header and the form's client_id/client_secret. */
export interface ClientCredentialsInput {
  authorization: string | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
  /** The caller's address, for failed-login throttling of the password grant. */
  address?: string;
  /**
   * The header's client_secret_basic credential, decoded, and its verification started by the
   * ClientBasic security handler before the body was read (startBasic); absent, it is done when needed.
   */
  basic?: BasicClient | undefined;
}

export interface BasicClient {
  clientId: string;
  clientSecret: string;
  verified: Promise<Client>;
}

interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  /** From the Authorization header (client_secret_basic), not the body. */
  fromHeader: boolean;
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

/** The client_secret_basic credential of an Authorization header, decoded; undefined when there is none. */
function basicCredentials(authorization: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const basic = parseBasicAuthorization(authorization);
  return basic && { clientId: formDecode(basic.username), clientSecret: formDecode(basic.password) };
}

/**
 * Client authentication (RFC 6749 §2.3) for the token, introspection and revocation endpoints:
 * client_secret_basic or client_secret_post, never both. Every failure is the same 401
 * invalid_client, and an unknown client costs the same comparison as a wrong secret.
 */
export class ClientAuthentication {
  constructor(
    private readonly apps: ApplicationRepository,
    /** Clients whose secret was verified (see ClientCache for why that is safe). */
    private readonly verified = new ClientCache(0),
  ) {}

  /**
   * The ClientBasic security handler's part: the verification of a Basic credential, begun as soon
   * as the request arrives (while its body is read). Its outcome is only taken once the body's
   * credentials are known (authenticate), so that the RFC 6749 §2.3 rules are judged first.
   */
  startBasic(tenant: Tenant, authorization: string | undefined): BasicClient | undefined {
    const basic = basicCredentials(authorization);
    if (!basic) return undefined;
    const verified = this.verify(tenant, basic);
    // Taken by authenticate, or never (a request refused before its operation): no unhandled rejection.
    verified.catch(() => {});
    return { clientId: basic.clientId, clientSecret: basic.clientSecret, verified };
  }

  /** The client's id and secret, by exactly one method (RFC 6749 §2.3). */
  private credentials(input: ClientCredentialsInput): ClientCredentials {
    const basic = input.basic ?? basicCredentials(input.authorization);
    if (input.authorization && !basic && /^Basic /i.test(input.authorization)) throw oauth.invalidClient();
    if (basic && input.clientSecret !== undefined) {
      throw oauth.invalidRequest('Use one client authentication method: the Authorization header or client_secret in the body');
    }
    if (basic && input.clientId !== undefined && input.clientId !== basic.clientId) {
      throw oauth.invalidRequest('client_id in the body does not match the Authorization header');
    }
    if (basic) return { clientId: basic.clientId, clientSecret: basic.clientSecret, fromHeader: true };
    if (!input.clientId || !input.clientSecret) throw oauth.invalidClient();
    return { clientId: input.clientId, clientSecret: input.clientSecret, fromHeader: false };
  }

  /** The client of `tenant` with this id and secret: a client of another tenant is unknown here. */
  private async verify(tenant: Tenant, { clientId, clientSecret }: { clientId: string; clientSecret: string }): Promise<Client> {
    // A hit needs the very secret verified before, in this tenant: the key is a digest of all three.
    const remembered = this.verified.get([String(tenant.id), clientId, clientSecret]);
    if (remembered) return remembered;
    const app = await this.apps.findByClientId(tenant.id, clientId);
    // Compare against something even for an unknown client, so timing does not tell them apart.
    const matches = secretsEqual(clientSecret, app?.clientSecret ?? clientId);
    if (!app || !matches) throw oauth.invalidClient();
    // The plaintext secret is not kept: nothing downstream needs it.
    const { clientSecret: _verified, ...client } = app;
    this.verified.set([String(tenant.id), clientId, clientSecret], client);
    return client;
  }

  /** The authenticated client, or 401 invalid_client (400 invalid_request for two methods at once). */
  authenticate(tenant: Tenant, input: ClientCredentialsInput): Promise<Client> {
    const credentials = this.credentials(input);
    return credentials.fromHeader && input.basic ? input.basic.verified : this.verify(tenant, credentials);
  }

  /**
   * Forgets the verified client of an application this instance just changed or deleted (IS DCR
   * v1.1): its next token request reads the row again.
   */
  forgetApplication(tenant: number, clientId: string, clientSecret: string): void {
    this.verified.delete([String(tenant), clientId, clientSecret]);
  }

  /** Forgets a verified client whose application turned out to be gone (deleted meanwhile). */
  forget(tenant: Tenant, input: ClientCredentialsInput): void {
    const basic = input.basic ?? basicCredentials(input.authorization);
    const credentials = basic ?? { clientId: input.clientId ?? '', clientSecret: input.clientSecret ?? '' };
    this.verified.delete([String(tenant.id), credentials.clientId, credentials.clientSecret]);
  }
}
