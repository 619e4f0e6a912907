import { randomUUID } from 'node:crypto';
import { METHODS, ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import AjvCompiler from '@fastify/ajv-compiler';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchemaCompiler,
  type FastifyServerOptions,
  type HookHandlerDoneFunction,
  type RouteOptions,
} from 'fastify';
import type { FastifyValidationResult } from 'fastify/types/schema.js';
import openapiGlue from 'fastify-openapi-glue';
import { coerceBooleanFields, readAsProperties, type PropertySchema } from './domain/wire-coercion.js';
import { missingBody } from './domain/registration-rules.js';
import { duplicateAuthorization, methodNotAllowed, notFound, shuttingDown, unsupportedMediaType } from './domain/errors.js';
import './http/caller.js';
import { refuseUnreadableBody, tellingForbiddenKeys } from './http/body-reading.js';
import { DcrService } from './http/handlers/dcr.js';
import { registerDocs } from './http/docs.js';
import { clientErrorHandler } from './http/client-errors.js';
import { DEFAULT_DRAIN, untilListenerQuiet, type DrainOptions } from './http/drain.js';
import { errorHandler, RouteErrorFormats, type ErrorFormat } from './http/error-handler.js';
import formbody from '@fastify/formbody';
import helmet from 'helmet';
import type { Metrics } from './observability/metrics.js';
import { HealthHandlers, type Readiness } from './http/handlers/health.js';
import { OAuthHandlers } from './http/handlers/oauth.js';
import { platformService } from './http/handlers/platform.js';
import { ScimHandlers } from './http/handlers/scim.js';
import { scaffolds } from './http/handlers/scaffold/index.js';
import { withScaffolds } from './http/handlers/scaffolding.js';
import { SecurityHandlers } from './http/security.js';
import type { Authenticator } from './services/user-authentication.js';
import type { ClientAuthentication } from './services/client-authentication.js';
import type { TokenIntrospection } from './services/token-introspection.js';
import type { TokenIssuance } from './services/token-issuance.js';
import type { RegistrationService } from './services/registration.js';
import type { KeyStore } from './services/signing-keys.js';
import type { UserService } from './services/users.js';
import { loadSpec, mountPrefix, type OpenApiDocument } from './http/spec.js';

export interface AppServices {
  auth: Authenticator;
  registration: RegistrationService;
  users: UserService;
  clients: ClientAuthentication;
  tokenIssuance: TokenIssuance;
  introspection: TokenIntrospection;
  keys: KeyStore;
  readiness: Readiness;
  metrics: Metrics;
  /** The issuer (RFC 8414): the base URL of every endpoint in the metadata document. */
  issuer: string;
}

export interface AppOptions {
  bodyLimit: number;
  /** Serve Swagger UI at /docs (default true). */
  docs?: boolean;
  /** The version shown in the documentation. */
  version?: string;
  /** Serve /metrics (default true). */
  metrics?: boolean;
  /** Serve HTTPS with this key pair (PEM). */
  https?: { key: Buffer; cert: Buffer };
  /** Fastify/pino logger options; false for none (tests). */
  logger: FastifyServerOptions['logger'];
  /** When the listener closes in a graceful shutdown (src/http/drain.ts). */
  drain?: DrainOptions;
  /** The base of every absolute URL the server writes (DCR_PUBLIC_URL), never a request's Host. */
  publicUrl: string;
  /** Proxies whose X-Forwarded-For names the client (DCR_TRUST_PROXY); none by default. */
  trustProxy?: readonly string[];
}

/** Swagger UI's page, assets and documents (src/http/docs.ts). */
const DOCS_PATH = /^\/docs(?:[/?]|$)/;

/**
 * Every method Node's HTTP parser accepts: each one is routed, so that a path the spec declares
 * answers 405 with Allow to any method it does not declare (a method no route knew was a 404, and
 * QUERY a 400 from Fastify's body checks). Methods the parser refuses never reach the router
 * (src/http/client-errors.ts answers them 501).
 */
const ROUTED_METHODS: readonly string[] = METHODS;

/** The order Allow lists methods in: the usual ones first, as clients expect them. */
const ALLOW_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export function allowHeader(methods: Iterable<string>): string[] {
  const rank = (method: string) => (ALLOW_ORDER.includes(method) ? ALLOW_ORDER.indexOf(method) : ALLOW_ORDER.length);
  return [...new Set(methods)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * The security headers of helmet's defaults (CSP, HSTS, X-Frame-Options, nosniff, ...), computed
 * once at start-up: none depends on the request. @fastify/helmet ran helmet's middleware chain,
 * header values rebuilt, on every request for the same answer (docs/performance.md). These go on
 * the documents a browser renders: Swagger UI under /docs (which sets its own CSP on top).
 */
function documentSecurityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader() {},
  };
  helmet()({} as IncomingMessage, response as unknown as ServerResponse, () => {});
  return headers;
}

/**
 * The security headers of every API answer (JSON, SCIM, forms, metrics), as the OWASP REST
 * Security Cheat Sheet lists them: a CSP that allows nothing and no framing (stricter than the
 * document one, since an API answer is never a page), HSTS, nosniff, X-Frame-Options DENY, plus
 * no referrer and same-origin resource policy. helmet's other defaults (COOP, Origin-Agent-Cluster,
 * X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies, X-XSS-Protection)
 * only act on documents a browser renders; left off, they saved about 5 % of the CPU of a token
 * request (docs/performance.md).
 */
export function apiSecurityHeaders(documentHeaders: Record<string, string>): Record<string, string> {
  return {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'strict-transport-security': documentHeaders['strict-transport-security'] ?? 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
  };
}

/**
 * How many Authorization headers the request carries. Node keeps the first of several and drops
 * the others, while a proxy in front may have judged the request by another: the two would
 * disagree about who is calling. Such a request is refused (duplicateAuthorization).
 */
function authorizationHeaderCount(raw: IncomingMessage): number {
  const headers = raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') count++;
  }
  return count;
}

/** An incoming X-Request-Id is honoured when it is a sane token; otherwise a new one is made. */
function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID();
}

interface BodySchema {
  content?: Record<string, { schema?: { properties?: Record<string, PropertySchema> } }>;
}

/**
 * Error shape per route, read from the spec: an operation's `x-fastify-config.errorFormat`
 * (the OAuth2 endpoints), else SCIM for routes that answer SCIM bodies, else WSO2's `Error`.
 */
function errorFormatOf(route: RouteOptions): ErrorFormat {
  if (route.config?.errorFormat) return route.config.errorFormat;
  const responses = (route.schema?.response ?? {}) as Record<string, { content?: Record<string, unknown> }>;
  const scim = Object.values(responses).some((response) => response.content?.['application/scim+json']);
  return scim ? 'scim' : 'wso2';
}

/**
 * The JSON body properties a route reads leniently, as WSO2 does (`x-read-as` in spec/: the
 * LenientBoolean and LenientString schemas), with their schemas replaced by the type they are read
 * as. The served document lists every spelling a client may send; the route validates the value
 * once it has been read: booleans by coerceBooleanish (the preValidation guard below), strings by
 * AJV's coercion of numbers and booleans. Returns the boolean ones.
 */
function readLeniently(route: RouteOptions): string[] {
  const body = route.schema?.body as BodySchema | undefined;
  const properties = body?.content?.['application/json']?.schema?.properties ?? {};
  return readAsProperties(properties);
}

/**
 * Mounts one spec/ document with fastify-openapi-glue under the prefix its servers[0].url names,
 * and answers 405 (with Allow) for the methods a declared path does not have.
 */
async function mountSpec(
  app: FastifyInstance,
  specification: OpenApiDocument,
  serviceHandlers: object,
  securityHandlers: SecurityHandlers,
  routeFormats: RouteErrorFormats,
): Promise<void> {
  const methodsByUrl = new Map<string, { methods: Set<string>; errorFormat: ErrorFormat }>();
  app.addHook('onRoute', (route) => {
    // The 405 routes below state their path's format; they have no response schema to read it from.
    const errorFormat = route.config?.errorFormat ?? errorFormatOf(route);
    route.config = { ...route.config, errorFormat };
    routeFormats.add(route.url, errorFormat);
    // The caller is known before anything of the body is read: glue installs the spec's security
    // as a preHandler, which Fastify runs after parsing and validating the body, so an
    // unauthenticated request was told what was wrong with its body (a 400 naming an unknown
    // property, a 415, a 413) instead of 401. Moved to preParsing, it runs first; the body of an
    // unauthenticated request is never parsed. (Every preHandler of these routes is glue's.) A
    // request with several Authorization headers is refused first (authorizationHeaderCount).
    if (route.preHandler) {
      const authenticate = [route.preHandler].flat() as Array<(request: FastifyRequest, reply: FastifyReply) => Promise<void>>;
      route.preHandler = undefined;
      const beforeBody = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
        if (request.headers.authorization !== undefined && authorizationHeaderCount(request.raw) > 1) throw duplicateAuthorization();
        for (const check of authenticate) await check(request, reply);
        return payload;
      };
      route.preParsing = [beforeBody, ...[route.preParsing ?? []].flat()] as typeof route.preParsing;
    }
    // A body in another charset or under a content coding: 415 before it is read, but after the
    // caller is known (the hook above), like every other judgement of the body (body-reading.ts).
    if ([route.method].flat().some((method) => method !== 'GET' && method !== 'HEAD')) {
      route.preParsing = [...[route.preParsing ?? []].flat(), refuseUnreadableBody] as typeof route.preParsing;
    }
    if (route.schema?.body) {
      const booleans = readLeniently(route);
      const mediaTypes = Object.keys((route.schema.body as BodySchema).content ?? {});
      // Callback-style, as the hooks in buildApp: no promise and microtask per request.
      const guard = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
        // Fastify does not enforce requestBody.required: a POST with no body would pass.
        if (request.body === undefined) return done(missingBody());
        // A body parsed by a parser another route needs (e.g. a form sent to a JSON route) is
        // not validated by Fastify at all: only the media types the spec declares are accepted.
        const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!mediaTypes.includes(mediaType)) return done(unsupportedMediaType(mediaTypes));
        coerceBooleanFields(request.body, booleans);
        done();
      };
      route.preValidation = [guard, ...[route.preValidation ?? []].flat()];
    }
    const entry = methodsByUrl.get(route.url) ?? { methods: new Set<string>(), errorFormat };
    for (const method of [route.method].flat()) entry.methods.add(method);
    methodsByUrl.set(route.url, entry);
  });

  await app.register(openapiGlue, {
    specification,
    serviceHandlers,
    securityHandlers,
    prefix: mountPrefix(specification),
  });

  await app.register(async (scope) => {
    for (const [url, { methods, errorFormat }] of methodsByUrl) {
      if (methods.has('GET')) methods.add('HEAD');
      const allow = allowHeader(methods);
      // Answered in onRequest, before any body is read: the method alone decides, so a body of
      // the wrong type, too large, or missing (QUERY) does not turn the 405 into a 415/413/400.
      const refuse = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) =>
        done(methodNotAllowed(request.method, allow));
      scope.route({
        method: ROUTED_METHODS.filter((method) => !methods.has(method)),
        url,
        config: { errorFormat },
        onRequest: refuse,
        handler: async (request) => {
          throw methodNotAllowed(request.method, allow);
        },
      });
    }
  });
}

/**
 * Node hands CONNECT requests to the server's 'connect' listeners rather than to its request
 * handler, and without one it drops the connection unanswered. This server is no proxy: CONNECT
 * goes through the router like any other method (405 with Allow on a declared path, 404
 * elsewhere), and the connection closes after the answer.
 */
function routeConnect(app: FastifyInstance): void {
  app.server.on('connect', (request: IncomingMessage, socket: Socket) => {
    const response = new ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket);
    response.on('finish', () => {
      response.detachSocket(socket);
      socket.end();
    });
    app.routing(request, response);
  });
}

/**
 * AJV's options for request validation, chosen on purpose: numbers and
 * booleans become strings where the spec says string (Jackson does the same for WSO2's DCR body;
 * query and path parameters are text anyway), but arrays and objects never do; unknown keys are
 * kept so that additionalProperties: false rejects them.
 */
const AJV_OPTIONS: AjvCompiler.Options = {
  coerceTypes: true,
  removeAdditional: false,
  useDefaults: true,
  allErrors: true,
  // Annotations of spec/: examples, and the type a lenient value is read as (readLeniently).
  keywords: ['example', 'x-read-as'],
};

/**
 * The validators of spec/platform-api.yaml's routes. No client of SCIM or of the OAuth2 forms needs
 * WSO2's leniency, so a body is read as typed (a boolean userName is a 400, not a user named
 * "false"); query and path parameters, which are text on the wire, are still read as the type
 * their schema names. The same compiler Fastify uses, with two option sets.
 */
function platformValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const build = AjvCompiler();
  const bodies = build({}, { customOptions: { ...AJV_OPTIONS, coerceTypes: false } });
  const parameters = build({}, { customOptions: AJV_OPTIONS });
  return (route) => (route.httpPart === 'body' ? bodies : parameters)(route as AjvCompiler.RouteDefinition) as FastifyValidationResult;
}

/** The log levels at which the one line per request is written (info and below). */
const LOGS_REQUESTS = new Set(['info', 'debug', 'trace']);

/**
 * The router's limit on one path segment. Fastify's default (100) answered a longer user id with
 * its own 414 body; no route here has a regular-expression parameter (what the limit protects), so
 * it is set to what Node's header limit lets through anyway, and a long id reaches its operation
 * (404: no user has that id).
 */
const MAX_PARAM_LENGTH = 16 * 1024;

/** Builds the Fastify instance (plugins, routes, error handling) from its collaborators; server.ts listens. */
export async function buildApp(services: AppServices, options: AppOptions): Promise<FastifyInstance> {
  // Security headers on every answer: the API set, or the document set under /docs (where
  // Swagger UI's own CSP then applies to its page and assets).
  const documentHeaders = documentSecurityHeaders();
  const apiHeaders = apiSecurityHeaders(documentHeaders);
  // Each route's error shape, for the parser refusals answered outside Fastify (client-errors.ts).
  const routeFormats = new RouteErrorFormats();
  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    logger: options.logger,
    // One log line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    requestIdHeader: false,
    genReqId: (req) => requestId(req.headers['x-request-id']),
    // Fastify already refuses __proto__ and constructor.prototype keys (secure-json-parse);
    // say so explicitly, it is part of this service's contract.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Fastify's own 503 for requests that arrive while closing has its own body
    // ({"error","message","statusCode"}); the onRequest hook below answers them in the route's
    // error shape instead (WSO2's Error, SCIM's, RFC 6749's).
    return503OnClosing: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // request.ip, by which failed logins are counted, is the peer's address unless it is a listed
    // proxy: then the client X-Forwarded-For names (Fastify's proxy-addr rules).
    ...(options.trustProxy && options.trustProxy.length > 0 ? { trustProxy: [...options.trustProxy] } : {}),
    // Requests the router cannot match (a path that is not valid percent-encoding): the spec's
    // error shapes, not Fastify's {"error","code","message","statusCode"}.
    frameworkErrors: (error, request, reply) => {
      reply.headers(apiHeaders);
      errorHandler(error, request, reply);
    },
    // Requests Node's parser refuses (malformed, too large a header block, unknown method, timeout).
    clientErrorHandler: clientErrorHandler(apiHeaders, routeFormats),
    ajv: { customOptions: AJV_OPTIONS },
  });
  for (const method of ROUTED_METHODS) {
    if (!app.supportedMethods.includes(method)) app.addHttpMethod(method);
  }
  routeConnect(app);
  app.decorateRequest('caller', null);
  app.decorateRequest('clientBasic', null);
  // Only JSON bodies are read: anything else (text/plain included) is 415, not a string body.
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser, saying so when valid JSON is refused for a __proto__ key.
  const json = tellingForbiddenKeys(app.getDefaultJsonParser('error', 'error'));
  app.addContentTypeParser('application/json', { parseAs: 'string' }, json);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => errorHandler(notFound(`No resource at ${request.url}`), request, reply));
  // Graceful shutdown (server.ts calls app.close()). From its start, every answer closes its
  // connection (a connection busy with a request stays open after its answer otherwise, and Node
  // does not close it: it would hold close() up until keepAliveTimeout, 72 s, far past the
  // shutdown bound), and a request that arrives gets 503 in the route's error shape. Requests
  // already in flight complete normally. The listener closes once connections stop arriving
  // (drain.ts), then idle connections are closed and in-flight requests are waited for.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    await untilListenerQuiet(app.server, options.drain ?? DEFAULT_DRAIN);
  });
  // The hooks that run on every request are callback-style rather than async: an async hook
  // costs Fastify a promise and a microtask per request, for work that never waits.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    services.metrics.httpRequests.inc(labels);
    services.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    if (reply.statusCode === 401) services.metrics.authFailures.inc({ route });
    // Path only: query strings may carry filters with user names, never needed to trace a request.
    if (LOGS_REQUESTS.has(request.log.level)) {
      request.log.info(
        { method: request.method, path: request.url.split('?')[0], route, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
        'request',
      );
    }
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(DOCS_PATH.test(request.url) ? documentHeaders : apiHeaders);
    // After the security headers, so that the 503s of a drain carry them too. An unknown path is
    // answered here, before any body is read: its 404 does not become a 415, 413 or 400.
    done(closing ? shuttingDown() : request.is404 ? notFound(`No resource at ${request.url}`) : undefined);
  });

  if (options.docs !== false) await registerDocs(app, options.version ?? 'dev', options.publicUrl);

  const security = new SecurityHandlers(services.auth, services.clients);
  await app.register(async (scope) => {
    // Each service with the handlers in src/http/handlers/scaffold/ (npm run generate) of its document.
    const service = withScaffolds(scaffolds, 'wso2-dcr-api.yaml', new DcrService(services.registration, services.metrics), services);
    await mountSpec(scope, loadSpec('wso2-dcr-api.yaml'), service, security, routeFormats);
  });
  await app.register(async (scope) => {
    scope.setValidatorCompiler(platformValidatorCompiler());
    // RFC 7644 §3.1: SCIM clients send application/scim+json; OAuth2 endpoints take forms.
    scope.addContentTypeParser('application/scim+json', { parseAs: 'string' }, json);
    await scope.register(formbody);
    // /metrics answers text/plain, and glue warns when no parser exists for a media type the
    // document names. Reading text/plain bodies is harmless here: the media-type guard in
    // mountSpec still answers 415 to any body type an operation does not declare.
    scope.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    const service = platformService(
      new ScimHandlers(services.users, options.publicUrl),
      new OAuthHandlers(services.tokenIssuance, services.introspection, services.keys, services.issuer, services.metrics),
      new HealthHandlers(services.readiness, options.metrics === false ? undefined : services.metrics),
    );
    await mountSpec(scope, loadSpec('platform-api.yaml'), withScaffolds(scaffolds, 'platform-api.yaml', service, services), security, routeFormats);
  });
  return app;
}
