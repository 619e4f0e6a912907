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
 * One 401 for every authentication failure, whatever went wrong (wso2-behavior.md §2: do not reveal
 * which part was wrong). The challenge names both schemes the DCR route accepts.
 */
export const WWW_AUTHENTICATE = ['Basic realm="wso2-dcr", charset="UTF-8"', 'Bearer realm="wso2-dcr"'];

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'The user is not authorized', [], {
    'www-authenticate': WWW_AUTHENTICATE,
  });
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

export function serviceUnavailable(description = 'The service cannot reach its database; retry later'): ApiError {
  return new ApiError(503, 'Service Unavailable', description, [], { 'retry-after': '1' });
}

export function internalError(): ApiError {
  return new ApiError(500, 'Internal Server Error', 'The server could not complete the request');
}
