/**
 * WSO2 Identity Server's DCR v1.1 (RFC 7591/7592 names) over the application store v0.17 uses, as
 * pure functions: what a request means for the shared row (name, grants, callback, token type,
 * lifetimes), what is kept as IS metadata, and the answer built back from a stored app. No I/O:
 * src/services/is-dcr.ts feeds in what it looked up. The rules come from
 * ../shared/reference/wso2-key-manager.md §3 (what API Manager's connector sends) and §4.
 */
import { ApiError, DcrError } from './errors.js';
import { callbackAlternatives, requireClientName, schemeOf, FORBIDDEN_CALLBACK_SCHEMES, DEFAULT_TOKEN_TYPE } from './registration-rules.js';
import type { IsApplication, IsMetadata, TokenLifetimes } from './types.js';

/**
 * A create or update body after validation against spec/platform-api.yaml (`IsDcrRequest`):
 * every IS field typed, null where the sender wrote null. Keys outside IS's fields are not read.
 */
export interface IsDcrRequest {
  client_name?: string | null;
  client_id?: string | null;
  client_secret?: string | null;
  grant_types?: string[] | null;
  redirect_uris?: string[] | null;
  ext_param_client_id?: string | null;
  ext_param_client_secret?: string | null;
  ext_param_client_secret_expires_at?: number | null;
  ext_application_owner?: string | null;
  token_type_extension?: string | null;
  ext_token_type?: string | null;
  ext_application_token_lifetime?: number | null;
  ext_user_token_lifetime?: number | null;
  ext_refresh_token_lifetime?: number | null;
  [field: string]: unknown;
}

export const dcrErrors = {
  invalidClientMetadata: (description: string) => new DcrError(400, 'invalid_client_metadata', description),
  invalidRedirectUri: (description: string) => new DcrError(400, 'invalid_redirect_uri', description),
  /** IS's own sentence for a taken name (a 400, although IS's yaml says 409). */
  nameTaken: (clientName: string) =>
    new DcrError(400, 'invalid_client_metadata', `Application with the name ${clientName} already exist in the system`),
  clientIdTaken: (clientId: string) =>
    new DcrError(400, 'invalid_client_metadata', `Application with the client id ${clientId} already exist in the system`),
  /** 404, not IS's 401: the connector reads only 404 as "no such app" (spec/CHANGES.md). */
  notFound: () => new DcrError(404, 'not_found', 'No application with that client id or name'),
  notOwner: () => new DcrError(403, 'access_denied', 'The application belongs to another user'),
};

/**
 * The IS fields the server stores without acting on them, kept in the app's IS metadata under
 * their request names. The fields the shared row holds (name, grants, redirect URIs, owner, token
 * type, the three token lifetimes) and the request-only ones (ids, secrets, presets) are not here.
 */
export const METADATA_FIELDS: readonly string[] = [
  'jwks_uri',
  'url',
  'contacts',
  'post_logout_redirect_uris',
  'request_uris',
  'ext_param_sp_template',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'frontchannel_logout_uri',
  'ext_application_display_name',
  'ext_application_version',
  'ext_id_token_lifetime',
  'ext_pkce_mandatory',
  'ext_pkce_support_plain',
  'ext_public_client',
  'token_endpoint_auth_method',
  'token_endpoint_auth_signing_alg',
  'tls_client_auth_subject_dn',
  'tls_client_certificate_bound_access_tokens',
  'sector_identifier_uri',
  'id_token_signed_response_alg',
  'id_token_encrypted_response_alg',
  'id_token_encrypted_response_enc',
  'subject_type',
  'request_object_signing_alg',
  'require_signed_request_object',
  'require_pushed_authorization_requests',
  'request_object_encryption_alg',
  'request_object_encryption_enc',
  'software_statement',
  'ext_allowed_audience',
];

/** IS answers four fields under other names than it reads them (an IS quirk clients rely on). */
export const RESPONSE_NAMES: Readonly<Record<string, string>> = {
  require_pushed_authorization_requests: 'require_push_authorization_request',
  tls_client_certificate_bound_access_tokens: 'tls_client_certificate_bound_access_token',
  request_object_encryption_alg: 'request_object_encryption_algorithm',
  request_object_encryption_enc: 'request_object_encryption_method',
};

/** Where the v1.1 metadata keeps what the row cannot: the redirect URIs as registered, and the secret's expiry. */
const REDIRECT_URIS_KEY = 'redirect_uris';
const SECRET_EXPIRES_KEY = 'client_secret_expires_at';

/** Values PostgreSQL text and jsonb cannot hold (U+0000): a 400 naming the field, not a 500. */
function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  return false;
}

/** The IS metadata of a request: the METADATA_FIELDS it sends, null ones left out (IS drops nulls). */
export function metadataOf(request: IsDcrRequest): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  for (const field of METADATA_FIELDS) {
    const value = request[field];
    if (value === undefined || value === null) continue;
    if (containsNul(value)) throw dcrErrors.invalidClientMetadata(`'${field}' must not contain NUL characters`);
    metadata[field] = value;
  }
  return metadata;
}

/** A v0.17 rule broken (a name outside WSO2's pattern, ...), told in RFC 7591's terms. */
function asClientMetadataError(rule: () => string): string {
  try {
    return rule();
  } catch (err) {
    if (err instanceof ApiError && err.statusCode === 400) throw dcrErrors.invalidClientMetadata(err.description);
    throw err;
  }
}

/** The name, by the same rules as v0.17's clientName (one store, one set of names). */
export function requireIsClientName(clientName: string | null | undefined): string {
  if (clientName === undefined || clientName === null || clientName === '') {
    throw dcrErrors.invalidClientMetadata('client_name is required');
  }
  return asClientMetadataError(() => requireClientName(clientName));
}

/**
 * A client id the caller brings (ext_param_client_id): it is a path segment and half of an HTTP
 * Basic credential, so URL-unreserved characters only (no `:`, `/`, `%`), 8 to 255 of them.
 * IS checks a configurable pattern (`^[a-zA-Z0-9_]{15,30}$` by default); keys API Manager holds
 * from another key manager are not always of that shape.
 */
export const PRESET_CLIENT_ID = /^[A-Za-z0-9._~-]{8,255}$/;

/**
 * A secret the caller brings (ext_param_client_secret): printable ASCII without space, 16 to 255
 * characters. Generated secrets carry 167 bits; a short preset would be guessable, and the client
 * cache keys on an unsalted digest of the secret (src/cache/client-cache.ts).
 */
export const PRESET_CLIENT_SECRET = /^[\x21-\x7E]{16,255}$/;

export function checkPresets(request: IsDcrRequest, nowSeconds: number): void {
  const id = request.ext_param_client_id;
  if (id !== undefined && id !== null && !PRESET_CLIENT_ID.test(id)) {
    throw dcrErrors.invalidClientMetadata(
      "ext_param_client_id must be 8 to 255 characters of letters, digits, '.', '_', '~' and '-'",
    );
  }
  const secret = request.ext_param_client_secret;
  if (secret !== undefined && secret !== null && !PRESET_CLIENT_SECRET.test(secret)) {
    throw dcrErrors.invalidClientMetadata('ext_param_client_secret must be 16 to 255 printable ASCII characters without spaces');
  }
  const expires = request.ext_param_client_secret_expires_at;
  // IS refuses an expiry in the past; 0 is "never", as in the answer's client_secret_expires_at.
  if (expires !== undefined && expires !== null && expires !== 0 && expires <= nowSeconds) {
    throw dcrErrors.invalidClientMetadata('ext_param_client_secret_expires_at is in the past');
  }
}

/** IS's grants that send the user agent back to a redirect URI: they need one. */
const REDIRECT_GRANTS = new Set(['authorization_code', 'implicit']);

/**
 * RFC 7591 §2 grant_types against the allowed ones (the same list as v0.17, DCR_ALLOWED_GRANT_TYPES),
 * duplicates removed, order kept. Unlike v0.17, which drops them silently, authorization_code and
 * implicit without a redirect URI are refused, as IS does.
 */
export function resolveIsGrantTypes(grantTypes: readonly string[] | null | undefined, redirectUris: readonly string[], allowed: readonly string[]): string[] {
  const requested = [...new Set(grantTypes ?? [])];
  const allowedSet = new Set(allowed);
  for (const grant of requested) {
    if (!allowedSet.has(grant)) throw dcrErrors.invalidClientMetadata(`'${grant}' grant type is not allowed`);
  }
  const needing = requested.filter((grant) => REDIRECT_GRANTS.has(grant));
  if (needing.length > 0 && redirectUris.length === 0) {
    throw dcrErrors.invalidRedirectUri(`Redirect URIs are required for the ${needing.join(' and ')} grant`);
  }
  return requested;
}

/** Characters no URI (RFC 3986) holds unencoded, white space and controls included: Java's URI parser refuses them too. */
const NOT_IN_A_URI = /[\u0000-\u0020\u007F<>"{}\\^`]/;

/**
 * Each redirect URI must be present and parse as a URI (IS checks nothing stricter), and, as on
 * v0.17, must not use a scheme that runs script (javascript:, data:, vbscript:). A single entry
 * may be a WSO2 pattern (`regexp=(a|b)`, as API Manager users type their callback): its
 * alternatives are checked for those schemes instead.
 */
export function checkRedirectUris(redirectUris: readonly string[]): void {
  for (const uri of redirectUris) {
    const pattern = uri.startsWith('regexp=') && redirectUris.length === 1;
    if (uri.trim() === '' || (!pattern && NOT_IN_A_URI.test(uri)) || uri.includes('\u0000')) {
      throw dcrErrors.invalidRedirectUri(`The redirect URI ${JSON.stringify(uri)} is not a valid URI`);
    }
    for (const alternative of callbackAlternatives(uri)) {
      const scheme = schemeOf(alternative);
      if (scheme !== undefined && FORBIDDEN_CALLBACK_SCHEMES.has(scheme)) {
        throw dcrErrors.invalidRedirectUri(`A redirect URI must not use the '${scheme}:' scheme`);
      }
    }
  }
}

/** A regular expression's special characters that a URI can hold, escaped for one alternative of IS's pattern. */
function escapeAlternative(uri: string): string {
  return uri.replace(/[?|()]/g, (character) => `\\${character}`);
}

/**
 * The shared row's callbackUrl for a list of redirect URIs: none, the one URI as it is, or IS's
 * pattern `regexp=(a|b)` (IS escapes `?`; `|`, `(` and `)` are escaped too, so a URI holding one
 * stays one alternative), which v0.17 shows as it is.
 */
export function encodeRedirectUris(redirectUris: readonly string[]): string | null {
  if (redirectUris.length === 0) return null;
  if (redirectUris.length === 1) return redirectUris[0]!;
  return `regexp=(${redirectUris.map(escapeAlternative).join('|')})`;
}

/**
 * The redirect URIs to answer: the list as registered on v1.1 while the row's callback is still
 * what it was made from, else the stored callback as one URI (an app registered on v0.17; IS
 * itself answers the pattern undecoded unless told otherwise).
 */
export function decodeRedirectUris(callbackUrl: string | null, metadata: IsMetadata): string[] {
  const registered = metadata[REDIRECT_URIS_KEY];
  if (Array.isArray(registered) && registered.every((uri) => typeof uri === 'string') && encodeRedirectUris(registered) === callbackUrl) {
    return [...registered];
  }
  return callbackUrl === null ? [] : [callbackUrl];
}

/**
 * The token type: ext_token_type wins over the deprecated token_type_extension (IS's rule); absent
 * or blank is v0.17's DEFAULT. Kept as sent otherwise: `JWT` (any case) gets JWTs, anything else
 * opaque tokens, as on v0.17 (the connector's default constant is believed to be `DEFAULT`).
 */
export function resolveTokenType(request: Pick<IsDcrRequest, 'ext_token_type' | 'token_type_extension'>): string {
  const sent = [request.ext_token_type, request.token_type_extension].find((value) => typeof value === 'string' && value.trim() !== '');
  if (sent === undefined || sent === null) return DEFAULT_TOKEN_TYPE;
  if (sent.includes('\u0000')) throw dcrErrors.invalidClientMetadata("'ext_token_type' must not contain NUL characters");
  return sent;
}

/** A lifetime as sent: 0 (what Gson writes for "unset"), null or absent is the server default (null). */
export function lifetimeOf(seconds: number | null | undefined): number | null {
  return seconds === undefined || seconds === null || seconds <= 0 ? null : seconds;
}

export function lifetimesOf(request: IsDcrRequest): TokenLifetimes {
  return {
    applicationToken: lifetimeOf(request.ext_application_token_lifetime),
    userToken: lifetimeOf(request.ext_user_token_lifetime),
    refreshToken: lifetimeOf(request.ext_refresh_token_lifetime),
  };
}

/** The server's lifetimes: each app lifetime's default and its most (DCR_ACCESS_TOKEN_TTL, DCR_REFRESH_TOKEN_TTL). */
export interface LifetimeLimits {
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
}

/**
 * The lifetime that applies: the app's own, capped at the server's, or the server's when the app
 * has none. The cap is the configured TTL because the signing keys are kept published for that
 * long after they retire (src/services/signing-keys.ts): a longer-lived JWT would outlive its key.
 */
export function effectiveLifetime(own: number | null, limit: number): number {
  return own === null ? limit : Math.min(own, limit);
}

/** What the v1.1 request keeps in the IS metadata: its METADATA_FIELDS, the redirect URIs as sent, the secret's expiry. */
export function storedMetadata(request: IsDcrRequest, redirectUris: readonly string[], secretExpiresAt: number): Record<string, unknown> {
  return {
    ...metadataOf(request),
    ...(redirectUris.length > 1 ? { [REDIRECT_URIS_KEY]: [...redirectUris] } : {}),
    ...(secretExpiresAt > 0 ? { [SECRET_EXPIRES_KEY]: secretExpiresAt } : {}),
  };
}

/** The secret's expiry an app keeps (epoch seconds, 0 for never). */
export function secretExpiresAtOf(metadata: IsMetadata): number {
  const value = metadata[SECRET_EXPIRES_KEY];
  return typeof value === 'number' ? value : 0;
}

/**
 * The answer for an app, created on either surface (RFC 7591 §3.2.1 with IS's extensions): the
 * shared row's fields under IS's names, the lifetimes that apply, then the stored IS metadata
 * under its response names (IS's four renames). The plaintext secret is part of it (the
 * connector compares it when keys are mapped); the caller sends it with Cache-Control: no-store.
 */
export function isDcrResponse(app: IsApplication, limits: LifetimeLimits): Record<string, unknown> {
  const answer: Record<string, unknown> = {
    client_id: app.clientId,
    client_secret: app.clientSecret,
    client_secret_expires_at: secretExpiresAtOf(app.metadata),
    client_name: app.clientName,
    redirect_uris: decodeRedirectUris(app.callbackUrl, app.metadata),
    grant_types: [...app.grantTypes],
    ext_application_owner: app.owner,
    ext_token_type: app.tokenType,
    token_type_extension: app.tokenType,
    ext_application_token_lifetime: effectiveLifetime(app.lifetimes.applicationToken, limits.accessTtlSeconds),
    ext_user_token_lifetime: effectiveLifetime(app.lifetimes.userToken, limits.accessTtlSeconds),
    ext_refresh_token_lifetime: effectiveLifetime(app.lifetimes.refreshToken, limits.refreshTtlSeconds),
  };
  for (const field of METADATA_FIELDS) {
    const value = app.metadata[field];
    if (value !== undefined && value !== null) answer[RESPONSE_NAMES[field] ?? field] = value;
  }
  return answer;
}

/**
 * PUT's client_id, when the body has one: it must be the path's (IS ignores it; a body naming
 * another app is more likely a client's mistake than an intent, and is refused).
 */
export function checkUpdateClientId(pathClientId: string, bodyClientId: string | null | undefined): void {
  if (bodyClientId !== undefined && bodyClientId !== null && bodyClientId !== pathClientId) {
    throw dcrErrors.invalidClientMetadata('client_id in the body is not the client id of the path');
  }
}

/** ext_application_owner: absent, null or blank is "not said" (the caller on create, the current owner on update). */
export function requestedOwner(owner: string | null | undefined): string | undefined {
  return owner === undefined || owner === null || owner.trim() === '' ? undefined : owner;
}

/** Who may read, change or delete an app on v1.1: its owner and the super admin (who may register for anyone). */
export function mayManage(caller: { username: string; isSuperAdmin: boolean }, app: { owner: string }): boolean {
  return caller.isSuperAdmin || caller.username === app.owner;
}
