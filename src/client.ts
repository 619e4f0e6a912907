/**
 * Typed HTTP clients for this server, generated from the same spec/ documents as the server
 * (openapi-fetch over the `paths` types in generated/): a request or response that does not match
 * the contract is a type error in the caller.
 *
 * ```ts
 * import { basicAuth, createDcrClient } from 'wso2-dcr-server/client';
 * const dcr = createDcrClient({ baseUrl: 'http://127.0.0.1:9763', authorization: basicAuth('admin', pw) });
 * const { data, error, response } = await dcr.POST('/register', { body: { clientName: 'x', owner: 'admin', grantType: 'password' } });
 * ```
 *
 * No Node-only import: it runs wherever `fetch` does.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { paths as DcrPaths } from '../generated/dcr-api.js';
import type { paths as PlatformPaths } from '../generated/platform-api.js';

/**
 * Where the DCR document's paths are mounted: the path of servers[0].url in
 * spec/wso2-dcr-api.yaml (the server mounts it with mountPrefix() from src/http/spec.ts). Hardcoded so
 * that the client does not read the spec files at run time; test/e2e/client.test.ts checks that the
 * two agree.
 */
export const DCR_API_PREFIX = '/client-registration/v0.17';

export interface ClientOptions {
  /** The server's root URL, e.g. `http://127.0.0.1:9763` (no trailing path). */
  baseUrl: string;
  /** The Authorization header sent with every request: basicAuth(...) or bearer(...). A request may override it. */
  authorization?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: (input: Request) => Promise<Response>;
}

export type DcrClient = Client<DcrPaths>;
export type PlatformClient = Client<PlatformPaths>;

function clientOptions(options: ClientOptions, prefix: string) {
  return {
    baseUrl: `${options.baseUrl.replace(/\/+$/, '')}${prefix}`,
    ...(options.authorization !== undefined ? { headers: { Authorization: options.authorization } } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
}

/** WSO2's DCR API (`POST /register`), at `${baseUrl}/client-registration/v0.17`. */
export function createDcrClient(options: ClientOptions): DcrClient {
  return createClient<DcrPaths>(clientOptions(options, DCR_API_PREFIX));
}

/** The platform API at the server root: SCIM users, the OAuth2 endpoints, JWKS, metadata, health. */
export function createPlatformClient(options: ClientOptions): PlatformClient {
  return createClient<PlatformPaths>(clientOptions(options, ''));
}

function base64Utf8(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** An RFC 7617 Basic Authorization header value (UTF-8): a user's password, or an app's clientId/clientSecret. */
export function basicAuth(user: string, password: string): string {
  if (user.includes(':')) throw new TypeError("a Basic user id cannot contain ':'");
  return `Basic ${base64Utf8(`${user}:${password}`)}`;
}

/** An RFC 6750 Bearer Authorization header value. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

function serializeForm(body: unknown): string {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (value !== undefined && value !== null) form.append(key, String(value));
  }
  return form.toString();
}

/**
 * Request options for the `application/x-www-form-urlencoded` operations (`/oauth2/token`,
 * `/oauth2/introspect`, `/oauth2/revoke`), which openapi-fetch would otherwise send as JSON: the
 * Content-Type and a URLSearchParams body serializer (undefined fields are left out), plus
 * `headers` (typically the app's `Authorization: basicAuth(clientId, clientSecret)`).
 *
 * ```ts
 * await platform.POST('/oauth2/token', {
 *   ...formEncoded({ Authorization: basicAuth(clientId, clientSecret) }),
 *   body: { grant_type: 'client_credentials' },
 * });
 * ```
 */
export function formEncoded(headers: Record<string, string> = {}) {
  return {
    headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
    bodySerializer: serializeForm,
  };
}
