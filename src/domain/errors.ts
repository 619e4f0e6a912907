/**
 * The errors the service answers with. One class, rendered by one error handler
 * (src/http/error-handler.ts) into the spec's `Error` object, or the SCIM error shape on SCIM routes.
 * `expose` is false for 5xx: their details are logged, never sent.
 */
export interface ErrorDetail {
  /** The offending field, or a short machine-readable code. */
  code: string;
  message: string;
  description?: string;
}

export class ApiError extends Error {
  override name = 'ApiError';
  readonly expose: boolean;

  constructor(
    readonly statusCode: number,
    /** The `message` of the Error body: short. */
    readonly title: string,
    /** The `description` of the Error body: a human sentence. */
    readonly description: string,
    readonly details: readonly ErrorDetail[] = [],
    readonly headers: Readonly<Record<string, string | string[]>> = {},
    /** RFC 7644 §3.12 `scimType`, used when the error is rendered on a SCIM route. */
    readonly scimType?: string,
  ) {
    super(description);
    this.expose = statusCode < 500;
  }
}

/** A rule broken by one field: 400 with that field named in `error`. */
export function fieldError(field: string, description: string, title = 'Bad Request'): ApiError {
  return new ApiError(400, title, description, [{ code: field, message: description }], {}, 'invalidValue');
}

export function badRequest(description: string, details: readonly ErrorDetail[] = [], scimType?: string): ApiError {
  return new ApiError(400, 'Bad Request', description, details, {}, scimType);
}

/**
 * One 401 for every authentication failure, whatever went wrong (as WSO2 answers: do not reveal
 * which part was wrong). The challenge names both schemes the DCR route accepts.
 */
export const WWW_AUTHENTICATE = ['Basic realm="wso2-dcr", charset="UTF-8"', 'Bearer realm="wso2-dcr"'];

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'The user is not authorized', [], {
    'www-authenticate': WWW_AUTHENTICATE,
  });
}

/** More than one Authorization header: the server and a proxy in front could each read another caller. */
export function duplicateAuthorization(): ApiError {
  return new ApiError(400, 'Bad Request', 'The request carries more than one Authorization header; send exactly one', [
    { code: 'authorization', message: 'more than one Authorization header' },
  ]);
}

export function forbidden(description: string, title = 'Forbidden'): ApiError {
  return new ApiError(403, title, description);
}

export function notFound(description: string): ApiError {
  return new ApiError(404, 'Not Found', description);
}

export function conflict(description: string, scimType?: string): ApiError {
  return new ApiError(409, 'Conflict', description, [], {}, scimType);
}

export function methodNotAllowed(method: string, allow: readonly string[]): ApiError {
  return new ApiError(405, 'Method Not Allowed', `Method ${method} is not allowed on this resource`, [], {
    allow: allow.join(', '),
  });
}

export function unsupportedMediaType(accepted: readonly string[]): ApiError {
  if (accepted.length === 0) {
    return new ApiError(
      415,
      'Unsupported Media Type',
      'This operation takes no request body, and the one sent is of a media type this server does not read',
    );
  }
  return new ApiError(415, 'Unsupported Media Type', `The request body must be ${accepted.join(' or ')}`);
}

/** A body in a charset other than UTF-8 (src/http/body-reading.ts). */
export function unsupportedCharset(charset: string): ApiError {
  return new ApiError(
    415,
    'Unsupported Media Type',
    `The request body must be UTF-8 (charset=utf-8, or no charset), not charset=${charset}`,
  );
}

/** RFC 9110 §15.5.16: a content coding this server does not decode; Accept-Encoding says what it takes. */
export function unsupportedContentEncoding(coding: string): ApiError {
  return new ApiError(
    415,
    'Unsupported Media Type',
    `Content-Encoding ${coding} is not supported: send the request body uncompressed`,
    [],
    { 'accept-encoding': 'identity' },
  );
}

/** Valid JSON holding a key that could alter every object's prototype (secure-json-parse refuses it). */
export function forbiddenJsonKey(): ApiError {
  return badRequest(
    'The request body holds a key this server refuses: __proto__, or constructor holding prototype (prototype pollution)',
    [],
    'invalidSyntax',
  );
}

/** Too many failed logins for a user name or from an address: retry after the window moves on. */
export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(
    429,
    'Too Many Requests',
    `Too many failed login attempts; retry after ${retryAfterSeconds} seconds`,
    [],
    { 'retry-after': String(retryAfterSeconds) },
  );
}

export function serviceUnavailable(description = 'The service cannot reach its database; retry later'): ApiError {
  return new ApiError(503, 'Service Unavailable', description, [], { 'retry-after': '1' });
}

/**
 * A request that arrives while the server drains for a graceful shutdown (another instance may
 * take it): 503, but no failure of this server, so it is not logged as one.
 */
export class ShuttingDown extends ApiError {
  override name = 'ShuttingDown';
  constructor() {
    super(503, 'Service Unavailable', 'The server is shutting down; retry later', [], { 'retry-after': '1' });
  }
}

export function shuttingDown(): ApiError {
  return new ShuttingDown();
}

export function internalError(): ApiError {
  return new ApiError(500, 'Internal Server Error', 'The server could not complete the request');
}

/**
 * RFC 6749 §5.2 errors of the token, introspection and revocation endpoints, rendered as
 * `{"error", "error_description"}` on those routes.
 */
export class OAuthError extends ApiError {
  override name = 'OAuthError';
  constructor(
    statusCode: number,
    readonly error: string,
    description: string,
    headers: Readonly<Record<string, string | string[]>> = {},
  ) {
    super(statusCode, error, description, [], headers);
  }
}

export const oauth = {
  invalidRequest: (description: string) => new OAuthError(400, 'invalid_request', description),
  /** 401 with a Basic challenge: RFC 6749 §5.2 for a client that tried to authenticate. */
  invalidClient: () =>
    new OAuthError(401, 'invalid_client', 'Client authentication failed', {
      'www-authenticate': 'Basic realm="wso2-dcr", charset="UTF-8"',
    }),
  invalidGrant: (description: string) => new OAuthError(400, 'invalid_grant', description),
  unauthorizedClient: (description: string) => new OAuthError(400, 'unauthorized_client', description),
  unsupportedGrantType: (description: string) => new OAuthError(400, 'unsupported_grant_type', description),
  invalidScope: (description: string) => new OAuthError(400, 'invalid_scope', description),
  unsupportedTokenType: (description: string) => new OAuthError(400, 'unsupported_token_type', description),
};

/**
 * An error of WSO2 Identity Server's server APIs (`/api/server/v1/...`) with IS's own error code
 * (`API-RESOURCE-60002`, ...), rendered as IS's `{"code","message","description","traceId"}` on
 * the routes whose errorFormat is `is`. Errors without a code of their own get IS's generic ones
 * there (src/http/error-handler.ts).
 */
export class IsApiError extends ApiError {
  override name = 'IsApiError';
  constructor(
    statusCode: number,
    readonly code: string,
    title: string,
    description: string,
  ) {
    super(statusCode, title, description);
  }
}

/**
 * An error of WSO2 IS's DCR v1.1 (`/api/identity/oauth2/dcr/v1.1/register`) with its RFC 7591
 * §3.2.2 code (`invalid_client_metadata`, `invalid_redirect_uri`), rendered as
 * `{"error","error_description"}` on the routes whose errorFormat is `dcr`. Errors without a code
 * of their own get one by status there (src/http/error-handler.ts).
 */
export class DcrError extends ApiError {
  override name = 'DcrError';
  constructor(
    statusCode: number,
    readonly error: string,
    description: string,
  ) {
    super(statusCode, error, description);
  }
}
