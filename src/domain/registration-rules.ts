/**
 * WSO2's registration rules as pure functions, in the order
 * RegistrationServiceImpl applies them. No I/O here: the service feeds in what it looked up.
 */
import { ApiError, badRequest, fieldError, forbidden } from './errors.js';
import type { Application, Caller } from './types.js';

export const DEFAULT_ALLOWED_GRANT_TYPES: readonly string[] = [
  'authorization_code',
  'implicit',
  'password',
  'client_credentials',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:saml2-bearer',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
];

/**
 * WSO2's application name pattern, `^[\sa-zA-Z0-9._-]+$`. Java's `\s` is ASCII white space only,
 * so it is spelled out: JavaScript's `\s` would also let Unicode spaces (NBSP, ...) through.
 */
export const CLIENT_NAME_PATTERN = /^[ \t\n\x0B\f\ra-zA-Z0-9._-]+$/;

/** The grants that need a redirect URI; dropped when the app has none (rule 6). */
const REDIRECT_GRANTS = new Set(['authorization_code', 'implicit']);

export const DEFAULT_TOKEN_TYPE = 'DEFAULT';

/** Rule 1: the owner must be present and not blank. Returns it as sent (not trimmed). */
export function requireOwner(owner: string | undefined): string {
  if (owner === undefined || owner.trim() === '') {
    throw new ApiError(400, 'Application owner cannot be empty', 'Application owner cannot be empty', [
      { code: 'owner', message: 'Application owner cannot be empty' },
    ]);
  }
  return owner;
}

/**
 * Rules 2 and 3: who may register for whom. The super admin may register for any existing user;
 * anyone else only for themselves (exact, case-sensitive match).
 */
/** Rule 2's 403: the owner names no user (also when the owner's account is deleted during the registration). */
export function ownerDoesNotExist(owner: string) {
  const text = `User: ${owner} does not exist for application registration`;
  return forbidden(text, text);
}

export function checkOwnerAllowed(caller: Caller, owner: string, ownerExists: boolean): void {
  if (caller.isSuperAdmin) {
    if (!ownerExists) throw ownerDoesNotExist(owner);
    return;
  }
  if (owner !== caller.username) {
    throw fieldError(
      'owner',
      `Logged in user '${caller.username}' and application owner '${owner}' should be same.`,
    );
  }
}

/**
 * The longest application name. The name is the key of a unique btree index, whose entries
 * PostgreSQL limits to 2704 bytes: a longer name failed the insert with a 500 instead of a 400.
 * Names are ASCII (the pattern), so characters are bytes; the rest of the entry fits in the margin.
 */
export const CLIENT_NAME_MAX = 2000;

/**
 * A value that is stored must not contain NUL (U+0000): PostgreSQL text cannot hold it, and the
 * insert would fail with a 500 instead of a 400 naming the field.
 */
export function rejectNul(field: string, value: string | null): void {
  if (value !== null && value.includes('\u0000')) {
    throw fieldError(field, `'${field}' must not contain NUL characters`);
  }
}

/** White space (Java's ASCII `\s`, as in CLIENT_NAME_PATTERN) at either end. */
const SURROUNDING_SPACE = /^[ \t\n\x0B\f\r]|[ \t\n\x0B\f\r]$/;

/** Rule 4 (our choice: 400 where WSO2 answers 500). */
export function requireClientName(clientName: string | undefined): string {
  if (clientName === undefined || clientName === '') {
    throw fieldError('clientName', 'Application name (clientName) cannot be empty');
  }
  if (clientName.length > CLIENT_NAME_MAX) {
    throw fieldError('clientName', `Application name (clientName) must not be longer than ${CLIENT_NAME_MAX} characters`);
  }
  if (!CLIENT_NAME_PATTERN.test(clientName)) {
    throw fieldError(
      'clientName',
      `Application name '${clientName}' is invalid: it may contain only letters, digits, white space, '.', '_' and '-'`,
    );
  }
  // Our rule on top of WSO2's pattern: 'app' and 'app ' would be two applications that look the
  // same in every listing, and the lookup by name (rule 7) is exact. Inner spaces stay allowed.
  if (SURROUNDING_SPACE.test(clientName)) {
    throw fieldError('clientName', `Application name '${clientName}' is invalid: it must not begin or end with white space`);
  }
  return clientName;
}

/**
 * Rules 5 and 6: the grant list, stripped of the redirect-based grants (matched case-insensitively)
 * when there is no callback, then validated against the allowed grants. WSO2 drops them in
 * RegistrationServiceImpl before its key manager validates the rest, so a dropped
 * `AUTHORIZATION_CODE` is never rejected. Duplicates are removed, order kept.
 */
export function resolveGrantTypes(
  grantType: string | undefined,
  callbackUrl: string | null,
  allowed: readonly string[],
): string[] {
  const requested = (grantType ?? '').split(/\s+/).filter(Boolean);
  if (requested.length === 0) {
    throw fieldError('grantType', 'Grant type (grantType) cannot be empty');
  }
  const kept =
    callbackUrl !== null ? requested : requested.filter((grant) => !REDIRECT_GRANTS.has(grant.toLowerCase()));
  const allowedSet = new Set(allowed);
  for (const grant of kept) {
    if (!allowedSet.has(grant)) {
      throw fieldError('grantType', `'${grant}' grant type is not allowed.`);
    }
  }
  return [...new Set(kept)];
}

/**
 * Schemes whose URL runs script or carries a whole document instead of naming a place to go back
 * to. A callback is shown as a link (developer portals, this server's clients) and followed by
 * redirects; one of these would run in the origin of whatever page shows or follows it.
 */
export const FORBIDDEN_CALLBACK_SCHEMES: ReadonlySet<string> = new Set(['javascript', 'data', 'vbscript']);

/**
 * The scheme a browser reads in `url`, lower case, or undefined when it has none (`www.google.lk`,
 * a relative path). As the WHATWG URL parser does: leading C0 controls and spaces are dropped, and
 * tabs and newlines anywhere are removed, so `\u0001 java\tscript:` is `javascript`.
 */
export function schemeOf(url: string): string | undefined {
  const read = url.replace(/^[\u0000-\u0020]+/, '').replace(/[\t\n\r]/g, '');
  return /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(read)?.[1]?.toLowerCase();
}

/** WSO2's prefix for a callback that is a Java regular expression the redirect URI must match. */
const REGEXP_PREFIX = 'regexp=';

/**
 * The texts a callback can send a client to: the callback itself, or, for WSO2's
 * `regexp=(https://a/cb|https://b/cb)`, the text at every place an alternative can begin (the
 * pattern's start, after each `(` and `|`; nested groups only add candidates), with group syntax
 * (`?:`, `?i)`), a `^` anchor and backslash escapes (`\:`) removed, so that what is left is what
 * the alternative matches literally. A pattern that merely could match a forbidden scheme (`.*`)
 * is not caught: which redirect URIs it admits is for the authorization server to decide.
 */
export function callbackAlternatives(callbackUrl: string): string[] {
  if (!callbackUrl.startsWith(REGEXP_PREFIX)) return [callbackUrl];
  return callbackUrl
    .slice(REGEXP_PREFIX.length)
    .split(/[(|]/)
    .map((piece) => piece.replace(/^\?(?:[a-zA-Z-]*[:)]|<[^>]*>|[=!])/, '').replace(/^\^/, '').replace(/\\(.)/g, '$1'));
}

/** Our rule (WSO2 stores any text): 400 naming callbackUrl when it uses a forbidden scheme. */
export function checkCallbackScheme(callbackUrl: string): void {
  for (const alternative of callbackAlternatives(callbackUrl)) {
    const scheme = schemeOf(alternative);
    if (scheme !== undefined && FORBIDDEN_CALLBACK_SCHEMES.has(scheme)) {
      throw fieldError('callbackUrl', `Callback URL (callbackUrl) must not use the '${scheme}:' scheme`);
    }
  }
}

/**
 * An empty or null callback means none. Anything else is stored verbatim and not required to be
 * a URL (WSO2 takes `www.google.lk`), unless it holds NUL or uses a forbidden scheme.
 */
export function normaliseCallbackUrl(callbackUrl: string | null | undefined): string | null {
  const normalised = callbackUrl === undefined || callbackUrl === null || callbackUrl === '' ? null : callbackUrl;
  rejectNul('callbackUrl', normalised);
  if (normalised !== null) checkCallbackScheme(normalised);
  return normalised;
}

export function normaliseTokenType(tokenType: string | null | undefined): string {
  const normalised = tokenType === undefined || tokenType === null || tokenType.trim() === '' ? DEFAULT_TOKEN_TYPE : tokenType;
  rejectNul('tokenType', normalised);
  return normalised;
}

/**
 * Rule 7: may this caller get the stored app back under its name? The owner may, and so may the
 * super admin when registering on behalf of that same owner.
 */
export function mayReuseExisting(caller: Caller, requestedOwner: string, app: Pick<Application, 'owner'>): boolean {
  return app.owner === caller.username || (caller.isSuperAdmin && requestedOwner === app.owner);
}

export function forbiddenExisting(): ApiError {
  return forbidden('Access is forbidden to the application');
}

/** Body-level failure that no single rule owns (e.g. no body at all). */
export function missingBody(): ApiError {
  return badRequest('The request body is required and must be a JSON object');
}
