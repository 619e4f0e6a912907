/**
 * API resources and their scopes, as WSO2 Identity Server 7 keeps them (identity-api-server's
 * api-resource API, carbon-identity-framework's api-resource-mgt): the rules of their names,
 * the one search filter, pagination cursors, and IS's error codes. Pure: no I/O.
 */
import { IsApiError } from './errors.js';
import { KNOWN_SCOPES, OPENID_SCOPE } from './scopes.js';

export interface ApiScope {
  name: string;
  displayName: string;
  description: string | null;
}

export interface ApiResourceSummary {
  id: string;
  identifier: string;
  name: string;
  description: string | null;
  requiresAuthorization: boolean;
  type: string | null;
}

export interface ApiResource extends ApiResourceSummary {
  scopes: ApiScope[];
}

/** What a request asks to define: `displayName` may be missing until IS's default applies. */
export interface ScopeInput {
  name: string;
  displayName?: string | null;
  description?: string | null;
}

/** IS sets every resource created through its API to this type; other types are IS's system APIs. */
export const BUSINESS_TYPE = 'BUSINESS';

/** The only tenant there is yet, named in IS's conflict descriptions. */
const TENANT = 'carbon.super';

/** IS's default page size (APIResourceMgtEndpointConstants.DEFAULT_LIMIT), and this server's largest page. */
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 1000;

/** RFC 6749 §3.3 scope-token: tokens carry scopes space-separated (the spec's ApiScopeName). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,255}$/;
/** The spec's ApiResourceIdentifier: no control characters (and so no NUL, which text cannot hold). */
const IDENTIFIER = /^[^\x00-\x1F\x7F]{1,255}$/u;

/** Whether a stored scope could have this name: any other text names none, and is never looked up. */
export function isScopeName(name: string): boolean {
  return SCOPE_TOKEN.test(name);
}

// IS's error codes: identity-api-server's APIResourceMgtEndpointConstants (API-RESOURCE-600xx of
// the endpoint), and the framework's APIResourceManagementConstants, which the endpoint answers
// under the same prefix (60001 filter, 60003/60004 conflicts).
export const apiResourceErrors = {
  notFound: (id: string) =>
    new IsApiError(404, 'API-RESOURCE-60002', 'Unable to find the API resource.', `Unable to find the API resource with the id: ${id} in the tenant domain.`),
  scopeNotFound: (id: string, name: string) =>
    new IsApiError(404, 'API-RESOURCE-60005', 'Invalid scope name provided.', `The API resource ${id} has no scope named ${name}.`),
  blankName: () => new IsApiError(400, 'API-RESOURCE-60003', 'Invalid API resource name provided.', 'API resource name is required.'),
  blankIdentifier: () =>
    new IsApiError(400, 'API-RESOURCE-60004', 'Invalid API resource identifier provided.', 'API resource identifier is required.'),
  repeatedScope: (name: string) =>
    new IsApiError(400, 'API-RESOURCE-60005', 'Invalid scope name provided.', `The scope ${name} is given more than once.`),
  restrictedScope: (name: string) =>
    new IsApiError(400, 'API-RESOURCE-60008', 'Restricted scope name provided.', `Scope name is restricted: ${name} is this server's own scope.`),
  oidcScope: () =>
    new IsApiError(400, 'API-RESOURCE-60009', 'Existing OIDC scope name provided.', 'Provided scopes name is already exists in the system as an OIDC scope.'),
  identifierTaken: () =>
    new IsApiError(409, 'API-RESOURCE-60003', 'Unable to add API resource.', `API resource already exists for the tenant: ${TENANT}.`),
  scopeTaken: (names: readonly string[]) =>
    new IsApiError(
      409,
      'API-RESOURCE-60004',
      'Unable to add scope.',
      names.length > 0 ? `Scope already exists for the tenant: ${TENANT}: ${names.join(', ')}.` : `Scope already exists for the tenant: ${TENANT}.`,
    ),
  invalidFilter: () => new IsApiError(400, 'API-RESOURCE-60001', 'Unable to retrieve API resources.', 'Invalid format used for filtering.'),
  invalidCursor: () => new IsApiError(400, 'API-RESOURCE-60002', 'Unable to retrieve API resources.', 'Invalid cursor used for pagination.'),
  invalidLimit: () => new IsApiError(400, 'API-RESOURCE-60010', 'Invalid limit provided.', 'Limit should be a positive integer.'),
  beforeAndAfter: () =>
    new IsApiError(400, 'API-RESOURCE-60011', 'Invalid before/after provided.', 'Both before and after parameters cannot be provided at the same time.'),
};

const isBlank = (text: string) => text.trim() === '';

/** IS's validateAPIResource: neither the name nor the identifier may be blank. */
export function checkNewResource(input: { identifier: string; name: string }): void {
  if (isBlank(input.name)) throw apiResourceErrors.blankName();
  if (isBlank(input.identifier)) throw apiResourceErrors.blankIdentifier();
}

/** A new name for a resource (PATCH): not blank either. */
export function checkResourceName(name: string | undefined): void {
  if (name !== undefined && isBlank(name)) throw apiResourceErrors.blankName();
}

/**
 * The scopes a request defines, with IS's default display name (the scope's name, also for a
 * blank one). `openid` is an OIDC scope (IS refuses those, 60009) and `apim:dcr:app_manage` this
 * server's own (its rule stays DCR_APP_MANAGE_USERS'); a name twice in one request is refused
 * rather than stored once, since the two could disagree on the display name.
 */
export function scopesToDefine(inputs: readonly ScopeInput[]): ApiScope[] {
  const seen = new Set<string>();
  return inputs.map((input) => {
    if (input.name === OPENID_SCOPE) throw apiResourceErrors.oidcScope();
    if (KNOWN_SCOPES.includes(input.name)) throw apiResourceErrors.restrictedScope(input.name);
    if (seen.has(input.name)) throw apiResourceErrors.repeatedScope(input.name);
    seen.add(input.name);
    const displayName = input.displayName == null || isBlank(input.displayName) ? input.name : input.displayName;
    return { name: input.name, displayName, description: input.description ?? null };
  });
}

/**
 * The identifier of the one filter supported, `identifier eq <value>` (IS's own filter syntax:
 * attribute and operator in any letter case, the value unquoted, as API Manager's connector
 * sends it, or a JSON string in double quotes). Anything else is 400. The value is the rest of
 * the filter after the operator's white space, spaces inside it included.
 */
export function parseIdentifierFilter(filter: string): string {
  const match = /^\s*identifier\s+eq\s+(.*?)\s*$/is.exec(filter);
  const value = match?.[1];
  if (value === undefined || value === '') throw apiResourceErrors.invalidFilter();
  if (!value.startsWith('"')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'string') return parsed;
  } catch {
    // fall through: a quote that does not close a JSON string
  }
  throw apiResourceErrors.invalidFilter();
}

/** Whether a stored resource could have this identifier: any other names none, and is never looked up. */
export function isIdentifier(identifier: string): boolean {
  return IDENTIFIER.test(identifier);
}

/** A page request as the repository reads it: at most `limit` rows after (or before) a resource. */
export interface PageQuery {
  identifier?: string;
  limit: number;
  after?: string;
  before?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A cursor: the resource's id, base64 (as IS encodes its cursor keys). Opaque to clients. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64').toString('utf8');
  if (!UUID.test(id) || encodeCursor(id.toLowerCase()) !== cursor) throw apiResourceErrors.invalidCursor();
  return id.toLowerCase();
}

/**
 * The page asked for: `limit` defaulted and capped, cursors decoded, not both directions. A limit
 * of `1e400` passes the schema's integer check as Infinity: it is refused here.
 */
export function pageQuery(query: { identifier?: string; limit?: number; after?: string; before?: string }): PageQuery {
  if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 1)) throw apiResourceErrors.invalidLimit();
  if (query.after !== undefined && query.before !== undefined) throw apiResourceErrors.beforeAndAfter();
  return {
    ...(query.identifier === undefined ? {} : { identifier: query.identifier }),
    limit: Math.min(query.limit ?? DEFAULT_LIMIT, MAX_LIMIT),
    ...(query.after === undefined ? {} : { after: decodeCursor(query.after) }),
    ...(query.before === undefined ? {} : { before: decodeCursor(query.before) }),
  };
}

export interface PageLinks {
  next?: string;
  previous?: string;
}

/**
 * Which neighbouring pages exist, by IS's rule (ServerAPIResourceManagementService.getAPIResources):
 * `rows` were read with one more than the limit, in the direction asked (`before` reads
 * backwards), so the extra row says whether there is more that way. Returns the page in creation
 * order and the cursors of its links.
 */
export function pageOf<T extends { id: string }>(rows: readonly T[], query: PageQuery): { items: T[]; links: PageLinks } {
  const hasMore = rows.length > query.limit;
  const items = rows.slice(0, query.limit);
  if (query.before !== undefined) items.reverse();
  if (items.length === 0) return { items, links: {} };
  const isFirstPage = (query.before === undefined && query.after === undefined) || (query.before !== undefined && !hasMore);
  const isLastPage = !hasMore && (query.after !== undefined || query.before === undefined);
  return {
    items,
    links: {
      ...(isLastPage ? {} : { next: encodeCursor(items[items.length - 1]!.id) }),
      ...(isFirstPage ? {} : { previous: encodeCursor(items[0]!.id) }),
    },
  };
}
