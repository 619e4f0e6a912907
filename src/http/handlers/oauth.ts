import type { FastifyReply, FastifyRequest } from 'fastify';
import type { components, operations } from '../../../generated/platform-api.js';
import { KNOWN_SCOPES } from '../../domain/scopes.js';
import { SUPER_TENANT, tenantIssuer, type Tenant } from '../../domain/tenants.js';
import { IS_DCR_PATH } from './is-dcr.js';
import { OAuthError, oauth } from '../../domain/errors.js';
import type { Metrics } from '../../observability/metrics.js';
import type { KeyStore } from '../../services/signing-keys.js';
import type { ClientCredentialsInput } from '../../services/client-authentication.js';
import type { TokenIntrospection } from '../../services/token-introspection.js';
import { SUPPORTED_GRANTS, type TokenIssuance } from '../../services/token-issuance.js';
import type { OperationHandlers, OperationRequest } from './operations.js';

type OAuthOperations = Pick<
  operations,
  | 'issueToken'
  | 'introspectToken'
  | 'revokeToken'
  | 'getJwks'
  | 'getAuthorizationServerMetadata'
  | 'getOpenIdConfiguration'
  | 'getIssuerOpenIdConfiguration'
  | 'getIssuerAuthorizationServerMetadata'
>;

type Metadata = components['schemas']['AuthorizationServerMetadata'];

/** Where the metadata document's URLs come from. */
export interface MetadataUrls {
  /** `iss` of the super tenant's JWTs (DCR_ISSUER, or its default). */
  issuer: string;
  /** The base of every endpoint URL (DCR_PUBLIC_URL). */
  publicUrl: string;
}

type Schemas = components['schemas'];

function clientCredentials(request: FastifyRequest, body: { client_id?: string; client_secret?: string }): ClientCredentialsInput {
  return {
    authorization: request.headers.authorization,
    clientId: body.client_id,
    clientSecret: body.client_secret,
    address: request.ip,
    basic: request.clientBasic ?? undefined,
  };
}

/** RFC 6749 §5.1: token responses, and anything carrying token state, are never cached. */
function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/** The key manager: /oauth2/token, /oauth2/introspect, /oauth2/revoke, /oauth2/jwks, RFC 8414 metadata. */
export class OAuthHandlers implements OperationHandlers<OAuthOperations> {
  /**
   * The super tenant's document, the same at every path that serves it; it changes only with the
   * configuration. Another tenant's is built when asked (its issuer and `/t/{domain}` endpoints).
   */
  private readonly metadata: Metadata;

  constructor(
    private readonly issuance: TokenIssuance,
    private readonly introspection: TokenIntrospection,
    private readonly keys: KeyStore,
    private readonly urls: MetadataUrls,
    private readonly metrics: Metrics,
  ) {
    this.metadata = metadataDocument(SUPER_TENANT, urls);
  }

  private metadataOf(request: FastifyRequest): Metadata {
    return request.tenant.id === SUPER_TENANT.id ? this.metadata : metadataDocument(request.tenant, this.urls);
  }

  async issueToken(request: OperationRequest<operations['issueToken']>, reply: FastifyReply): Promise<Schemas['TokenResponse']> {
    noStore(reply);
    const grant = request.body.grant_type;
    try {
      // A deactivated tenant issues nothing: its clients are as unknown.
      if (request.tenantInactive) throw oauth.invalidClient();
      const token = await this.issuance.token(request.tenant, clientCredentials(request, request.body), request.body);
      this.metrics.tokenRequest(grant, 'issued');
      return token;
    } catch (err) {
      this.metrics.tokenRequest(grant, err instanceof OAuthError ? err.error : 'error');
      throw err;
    }
  }

  async introspectToken(
    request: OperationRequest<operations['introspectToken']>,
    reply: FastifyReply,
  ): Promise<Schemas['Introspection']> {
    noStore(reply);
    const { token, token_type_hint: hint } = request.body;
    // No token of a deactivated tenant is active.
    if (request.tenantInactive) return { active: false };
    // Node joins a repeated X-WSO2-Tenant into one string ("a, b"): no tenant has that name.
    const named = request.headers['x-wso2-tenant'];
    return this.introspection.introspect(request.tenant, clientCredentials(request, request.body), token, hint, Array.isArray(named) ? named.join(', ') : named);
  }

  async revokeToken(request: OperationRequest<operations['revokeToken']>, reply: FastifyReply): Promise<undefined> {
    noStore(reply);
    const { token, token_type_hint: hint } = request.body;
    if (request.tenantInactive) throw oauth.invalidClient();
    await this.introspection.revoke(request.tenant, clientCredentials(request, request.body), token, hint);
    return undefined;
  }

  async getJwks(request: FastifyRequest, reply: FastifyReply): Promise<Schemas['Jwks']> {
    // Caches may keep the key set for a minute: a rotated-in key is published as soon as it
    // signs, and retired keys stay published far longer than this.
    reply.header('cache-control', 'public, max-age=60');
    return (await this.keys.jwks(request.tenant.id)) as Schemas['Jwks'];
  }

  async getAuthorizationServerMetadata(request: FastifyRequest): Promise<Metadata> {
    return this.metadataOf(request);
  }

  async getOpenIdConfiguration(request: FastifyRequest): Promise<Metadata> {
    return this.metadataOf(request);
  }

  async getIssuerOpenIdConfiguration(request: FastifyRequest): Promise<Metadata> {
    return this.metadataOf(request);
  }

  async getIssuerAuthorizationServerMetadata(request: FastifyRequest): Promise<Metadata> {
    return this.metadataOf(request);
  }
}

/**
 * RFC 8414 metadata. The endpoints are built from the public URL, not from the issuer: WSO2's
 * issuer is the token endpoint's own URL (`<base>/oauth2/token`).
 */
function metadataDocument(tenant: Tenant, { issuer, publicUrl }: MetadataUrls): Metadata {
  // A tenant's endpoints are under its `/t/{domain}` prefix, as its issuer is (reference §8).
  const base = tenant.id === SUPER_TENANT.id ? publicUrl : `${publicUrl}/t/${tenant.domain}`;
  return {
    issuer: tenantIssuer(tenant, issuer, publicUrl),
    token_endpoint: `${base}/oauth2/token`,
    jwks_uri: `${base}/oauth2/jwks`,
    introspection_endpoint: `${base}/oauth2/introspect`,
    revocation_endpoint: `${base}/oauth2/revoke`,
    // RFC 8414 §2 means an RFC 7591 endpoint by registration_endpoint: IS's DCR v1.1 is one (and
    // API Manager's "Import" reads it), WSO2's v0.17 API is not (an RFC 7591 body gets 400 there).
    registration_endpoint: `${base}${IS_DCR_PATH}`,
    scopes_supported: [...KNOWN_SCOPES],
    response_types_supported: [],
    grant_types_supported: [...SUPPORTED_GRANTS],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
  };
}
