import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseUnavailable } from '../db/errors.js';
import {
  ApiError,
  DcrError,
  IsApiError,
  OAuthError,
  badRequest,
  internalError,
  notFound,
  serviceUnavailable,
  ShuttingDown,
  unauthorized,
  unsupportedMediaType,
  type ErrorDetail,
} from '../domain/errors.js';

/**
 * Which body shape a route's errors take: the spec's `Error`, RFC 7644's on SCIM routes, RFC 6749's
 * on OAuth2 routes, WSO2 Identity Server's on its server APIs (`is`, under /api/server/), RFC
 * 7591's on IS's DCR v1.1 (`dcr`, under /api/identity/).
 */
export type ErrorFormat = 'wso2' | 'scim' | 'oauth' | 'is' | 'dcr';

declare module 'fastify' {
  interface FastifyContextConfig {
    errorFormat?: ErrorFormat;
  }
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function fieldName(instancePath: string, fallback: string): string {
  return instancePath === '' ? fallback : instancePath.slice(1).replace(/\//g, '.');
}

/** One ErrorListItem per offending field (our choice: WSO2 leaves the list empty). */
export function validationDetails(errors: readonly AjvError[], context: string): ErrorDetail[] {
  return errors.map((error) => {
    if (error.keyword === 'additionalProperties') {
      const key = String(error.params.additionalProperty);
      return { code: key, message: `Unrecognized property '${key}'` };
    }
    if (error.keyword === 'required') {
      const key = String(error.params.missingProperty);
      return { code: key, message: `'${key}' is required` };
    }
    if (error.keyword === 'type' && error.instancePath === '' && context === 'body') {
      return { code: 'body', message: 'The request body must be a JSON object' };
    }
    const field = fieldName(error.instancePath, context);
    return { code: field, message: `'${field}' ${error.message ?? 'is invalid'}` };
  });
}

/** What `classify` may know of the request an error belongs to. */
export type ErrorContext = Pick<FastifyRequest, 'url' | 'routeOptions'>;

/** The media types the request's operation reads its body as (none for an operation without a body). */
function bodyMediaTypes(request: ErrorContext | undefined): string[] {
  const body = request?.routeOptions.schema?.body as { content?: Record<string, unknown> } | undefined;
  return request ? Object.keys(body?.content ?? {}) : ['application/json'];
}

/** Fastify's own 4xx errors (body parsing and limits), by their stable error codes. */
function fromFastifyError(error: FastifyError, request: ErrorContext | undefined): ApiError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // No parser for the body's media type, or no Content-Type on a body: name what the
      // operation reads (a form on the OAuth2 endpoints), not JSON for all.
      return unsupportedMediaType(bodyMediaTypes(request));
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'Payload Too Large', 'The request body exceeds the size limit of this server');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return badRequest('The request body is empty');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return badRequest('The Content-Length header does not match the body');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return badRequest('The request body is not valid JSON', [], 'invalidSyntax');
    // Answered before routing (Fastify's frameworkErrors): the path could not be matched at all.
    case 'FST_ERR_BAD_URL':
      return badRequest('The request target is not a valid URL path', [], 'invalidSyntax');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      // A path segment longer than the router reads (src/app.ts sets that above what Node's
      // header limit lets through): no resource has such a name.
      return notFound('No resource at this path');
    case 'FST_STATIC_FORBIDDEN_PATH':
      // @fastify/static (Swagger UI's assets under /docs/static) refuses a path with `.`, `..`
      // or empty segments with its own 403. Paths are matched as sent everywhere else (the
      // router does not resolve dot segments either): such a path names no resource, 404.
      return notFound(`No resource at ${request?.url ?? 'this path'}`);
    default:
      break;
  }
  // The client went away while its body was being read (node:http's 'aborted', ECONNRESET; Fastify
  // marks it 400): no one is left to answer, and it is no failure of this server. It was a logged
  // 500 ("request failed"), e.g. for every upload cut by a shutdown's drain bound.
  if (error.code === 'ECONNRESET' && error.statusCode === 400) {
    return badRequest('The request body was not received in full: the client closed the connection');
  }
  // A parser's own SyntaxError, marked 400 by Fastify. Fastify's JSON parser reports its
  // refusals as FST_ERR_CTP_INVALID_JSON_BODY instead, and a refused key is told apart before
  // it gets here (src/http/body-reading.ts).
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return badRequest('The request body is not valid JSON', [], 'invalidSyntax');
  }
  // Another 4xx of Fastify or one of its plugins: its status, with that status's own name (it
  // was "Bad Request" whatever the status).
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 && error.code?.startsWith('FST_')) {
    return new ApiError(error.statusCode, STATUS_CODES[error.statusCode] ?? 'Client Error', 'The request could not be read');
  }
  return undefined;
}

/**
 * Turns anything thrown while serving a request into the ApiError to answer with. `request`
 * lets Fastify's errors name what the operation accepts.
 */
export function classify(error: unknown, request?: ErrorContext): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof DatabaseUnavailable) return serviceUnavailable();
  const fastifyError = error as FastifyError & { errors?: unknown[] };
  // fastify-openapi-glue wraps the security handlers' failures into one SecurityError (401).
  // An outage inside a handler must stay a 503, and a bug a 500, not turn into a 401.
  if (fastifyError?.name === 'Unauthorized' && Array.isArray(fastifyError.errors)) {
    const causes = fastifyError.errors.map((cause) => classify(cause, request));
    return (
      causes.find((cause) => cause.statusCode >= 500) ?? causes.find((cause) => cause.statusCode === 429) ?? unauthorized()
    );
  }
  if (fastifyError?.validation) {
    const details = validationDetails(fastifyError.validation as AjvError[], fastifyError.validationContext ?? 'body');
    const description = details.map((detail) => detail.message).join('; ');
    return badRequest(description, details, 'invalidValue');
  }
  return fromFastifyError(fastifyError, request) ?? internalError();
}

function scimBody(error: ApiError) {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
    status: String(error.statusCode),
    // RFC 7644 §3.12 defines scimType for 400 (and 409 uniqueness) only.
    ...(error.scimType && (error.statusCode === 400 || error.statusCode === 409) ? { scimType: error.scimType } : {}),
    detail: error.description,
  };
}

/** RFC 6749 §5.2. Errors that are not OAuth errors map by status (400 → invalid_request). */
function oauthBody(error: ApiError) {
  const code =
    error instanceof OAuthError
      ? error.error
      : error.statusCode === 400
        ? 'invalid_request'
        : error.statusCode === 401
          ? 'invalid_client'
          : error.statusCode === 429
            ? 'slow_down'
          : error.statusCode >= 500
            ? error.statusCode === 503
              ? 'temporarily_unavailable'
              : 'server_error'
            : 'invalid_request';
  return { error: code, error_description: error.description };
}

export function wso2Body(error: ApiError) {
  return {
    code: error.statusCode,
    message: error.title,
    description: error.description,
    moreInfo: '',
    error: error.details.map((detail) => ({ ...detail })),
  };
}

/**
 * IS's generic codes, for an error that has no code of its own: `UE-10000` is what IS answers to
 * a request its framework refuses (a body or parameter outside the API's schema), `SE-50000` to an
 * unexpected server failure.
 */
const IS_CLIENT_ERROR_CODE = 'UE-10000';
const IS_SERVER_ERROR_CODE = 'SE-50000';

/**
 * WSO2 Identity Server's error of its server APIs (identity-api-server's ErrorDTO): `traceId` is
 * the request's id (X-Request-Id), which IS fills with its correlation id.
 */
function isBody(error: ApiError, traceId: string | undefined) {
  const code = error instanceof IsApiError ? error.code : error.statusCode >= 500 ? IS_SERVER_ERROR_CODE : IS_CLIENT_ERROR_CODE;
  return { code, message: error.title, description: error.description, ...(traceId === undefined ? {} : { traceId }) };
}

/**
 * RFC 7591 §3.2.2's `error` for an error of IS's DCR v1.1 that has no code of its own. IS answers
 * its 401, 403, 404 and 500 with no body at all; these names are this server's (spec/CHANGES.md).
 * A 400 that judged the body against the schema is `invalid_client_metadata`; one that could not
 * read it (malformed JSON, two Authorization headers) `invalid_request`.
 */
function dcrCode(error: ApiError): string {
  if (error instanceof DcrError) return error.error;
  switch (error.statusCode) {
    case 400:
      return error.scimType === 'invalidValue' ? 'invalid_client_metadata' : 'invalid_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'access_denied';
    case 404:
      return 'not_found';
    case 429:
      return 'slow_down';
    case 503:
      return 'temporarily_unavailable';
    default:
      return error.statusCode >= 500 ? 'server_error' : 'invalid_request';
  }
}

/** IS's DCR error (its ErrorDTO): `{"error","error_description"}`. */
function dcrBody(error: ApiError) {
  return { error: dcrCode(error), error_description: error.description };
}

/**
 * The error shape of an answer no route gives (an unknown path, a path that does not decode): SCIM
 * clients read RFC 7644's under /scim2, IS clients IS's under /api/server/ and RFC 7591's under
 * /api/identity/ (IS's DCR), everyone else the
 * spec's `Error`. RFC 6749's shape is only for the OAuth2 operations that declare it.
 */
export function errorFormatForPath(url: string): ErrorFormat {
  if (/^\/scim2(?:[/?#]|$)/.test(url)) return 'scim';
  if (url.startsWith('/api/identity/')) return 'dcr';
  return url.startsWith('/api/server/') ? 'is' : 'wso2';
}

/** The route's declared error shape, or the path's when no route matched. */
export function errorFormatOf(request: FastifyRequest): ErrorFormat {
  return request.routeOptions.config?.errorFormat ?? errorFormatForPath(request.url);
}

/**
 * The error format of each route, by its path, for answers made outside Fastify's request cycle
 * (src/http/client-errors.ts: a request Node's parser gave up on after its head was routed).
 * Filled as routes are added; a path with parameters falls back to errorFormatForPath, which
 * gives its format for every such route here (`/scim2/Users/:id`).
 */
export class RouteErrorFormats {
  private readonly byPath = new Map<string, ErrorFormat>();

  add(url: string, format: ErrorFormat): void {
    if (!url.includes(':') && !url.includes('*')) this.byPath.set(url, format);
  }

  of(url: string): ErrorFormat {
    const path = url.split('?')[0]!;
    return this.byPath.get(path) ?? this.byPath.get(safeDecode(path)) ?? errorFormatForPath(url);
  }
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * The body and media type of `error` in one route format, serialised here (see errorHandler).
 * `traceId` (the request's id) is written by the formats that carry one (IS's).
 */
export function render(error: ApiError, format: ErrorFormat | undefined, traceId?: string): { type: string; body: string } {
  if (format === 'is') return { type: 'application/json; charset=utf-8', body: JSON.stringify(isBody(error, traceId)) };
  if (format === 'dcr') return { type: 'application/json; charset=utf-8', body: JSON.stringify(dcrBody(error)) };
  if (format === 'scim') return { type: 'application/scim+json; charset=utf-8', body: JSON.stringify(scimBody(error)) };
  if (format === 'oauth') return { type: 'application/json; charset=utf-8', body: JSON.stringify(oauthBody(error)) };
  return { type: 'application/json; charset=utf-8', body: JSON.stringify(wso2Body(error)) };
}

/**
 * Headers every error in a format carries. RFC 6749 §5.1: error responses of the token endpoint
 * are not cached either. SCIM answers carry user data (which names exist), errors included.
 */
export const FORMAT_HEADERS: Readonly<Record<ErrorFormat, Readonly<Record<string, string>>>> = {
  wso2: {},
  scim: { 'cache-control': 'no-store' },
  oauth: { 'cache-control': 'no-store', pragma: 'no-cache' },
  is: {},
  dcr: {},
};

/**
 * The answer when building the real one failed: a 500 per format, computed once at start-up from
 * constants, so that sending it involves nothing that can throw.
 */
const LAST_RESORT: Readonly<Record<ErrorFormat, { type: string; body: string }>> = {
  wso2: render(internalError(), 'wso2'),
  scim: render(internalError(), 'scim'),
  oauth: render(internalError(), 'oauth'),
  is: render(internalError(), 'is'),
  dcr: render(internalError(), 'dcr'),
};

/**
 * Logging must not change the answer. A log call can throw: pino's error serializer writes a tag
 * onto every error it visits, and fails on one that is frozen or otherwise not extensible. Then
 * a line without the error object is written instead, with what can be said of it as text.
 */
function logRejection(request: FastifyRequest, apiError: ApiError, error: unknown): void {
  try {
    if (apiError.statusCode >= 500 && !(apiError instanceof ShuttingDown)) {
      request.log.error({ err: error }, 'request failed');
    } else {
      // The onResponse line already records the status; the reason only matters when debugging.
      request.log.debug({ statusCode: apiError.statusCode, reason: apiError.description }, 'request rejected');
    }
  } catch (logFailure) {
    try {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : typeof error;
      request.log.error(`request failed (${what}); its error could not be logged: ${String(logFailure)}`);
    } catch {
      // Nothing more can be done about a logger that throws on a plain string.
    }
  }
}

/**
 * The one error handler: every error leaves in the route's declared error shape. The body is
 * serialised here and sent as a string, so Fastify's per-status response serializer (which fails
 * on a body that lacks a required field) is not involved; whatever goes wrong
 * while answering, the caller gets the spec's 500 body, never Fastify's own
 * FST_ERR_FAILED_ERROR_SERIALIZATION.
 */
export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const format = errorFormatOf(request);
  let answer: { status: number; headers: Readonly<Record<string, string | string[]>>; type: string; body: string };
  try {
    const apiError = classify(error, request);
    logRejection(request, apiError, error);
    answer = { status: apiError.statusCode, headers: apiError.headers, ...render(apiError, format, request.id) };
  } catch {
    answer = { status: 500, headers: {}, ...LAST_RESORT[format] };
  }
  reply.code(answer.status);
  for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value);
  for (const [name, value] of Object.entries(FORMAT_HEADERS[format])) reply.header(name, value);
  return reply.type(answer.type).send(answer.body);
}
