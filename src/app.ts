import { randomUUID } from 'node:crypto';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import formbody from '@fastify/formbody';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { notFound, shuttingDown } from './domain/errors.js';
import type { Tenant } from './domain/tenants.js';
import './http/caller.js';
import { emptyWithoutBody, tellingForbiddenKeys } from './http/body-reading.js';
import { clientErrorHandler } from './http/client-errors.js';
import { registerDocs } from './http/docs.js';
import { DEFAULT_DRAIN, untilListenerQuiet, type DrainOptions } from './http/drain.js';
import { errorHandler, RouteErrorFormats } from './http/error-handler.js';
import { ApiResourceHandlers } from './http/handlers/api-resources.js';
import { DcrService } from './http/handlers/dcr.js';
import { HealthHandlers, type Readiness } from './http/handlers/health.js';
import { IsDcrHandlers } from './http/handlers/is-dcr.js';
import { OAuthHandlers } from './http/handlers/oauth.js';
import { platformService } from './http/handlers/platform.js';
import { RoleHandlers } from './http/handlers/roles.js';
import { scaffolds } from './http/handlers/scaffold/index.js';
import { withScaffolds } from './http/handlers/scaffolding.js';
import { ScimHandlers } from './http/handlers/scim.js';
import { TenantHandlers } from './http/handlers/tenants.js';
import { mountSpec, ROUTED_METHODS } from './http/mount-spec.js';
import { SecurityHandlers } from './http/security.js';
import { resolveRequestTenants, rewriteTenantUrl } from './http/tenancy.js';
import { apiSecurityHeaders, documentSecurityHeaders } from './http/security-headers.js';
import { loadSpec } from './http/spec.js';
import { AJV_OPTIONS, platformValidatorCompiler } from './http/validation.js';
import type { Metrics } from './observability/metrics.js';
import type { ApiResourceService } from './services/api-resources.js';
import type { ClientAuthentication } from './services/client-authentication.js';
import type { IsDcrService } from './services/is-dcr.js';
import type { RegistrationService } from './services/registration.js';
import type { RevocationDispatcher } from './services/revocation-dispatcher.js';
import type { RoleService } from './services/roles.js';
import type { TenantDirectory } from './services/tenant-directory.js';
import type { KeyStore } from './services/signing-keys.js';
import type { TenantService } from './services/tenants.js';
import type { TokenIntrospection } from './services/token-introspection.js';
import type { TokenIssuance } from './services/token-issuance.js';
import type { Authenticator } from './services/user-authentication.js';
import type { UserService } from './services/users.js';

export interface AppServices {
  auth: Authenticator;
  registration: RegistrationService;
  users: UserService;
  roles: RoleService;
  clients: ClientAuthentication;
  tokenIssuance: TokenIssuance;
  introspection: TokenIntrospection;
  keys: KeyStore;
  readiness: Readiness;
  metrics: Metrics;
  /** The delivery of revocation events to API Manager; only with DCR_APIM_NOTIFY_URL. */
  revocationEvents?: RevocationDispatcher | undefined;
  apiResources: ApiResourceService;
  /** The tenants a `/t/{domain}/` path or a `user@domain` name stands for. */
  tenants: TenantDirectory;
  /** WSO2 IS DCR v1.1, over the same applications as `registration`. */
  isDcr: IsDcrService;
  /** The tenant registry behind /api/server/v1/tenants and `dcr tenant`. */
  tenantRegistry: TenantService;
  /** `iss` of the JWTs and RFC 8414's issuer (by default `<publicUrl>/oauth2/token`). */
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

/** An incoming X-Request-Id is honoured when it is a sane token; otherwise a new one is made. */
function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID();
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
    // `/t/{domain}/…` is served by the same routes, in that tenant (src/http/tenancy.ts).
    rewriteUrl: rewriteTenantUrl,
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
  app.decorateRequest('tenant', null as unknown as Tenant);
  resolveRequestTenants(app, services.tenants);
  // Only JSON bodies are read: anything else (text/plain included) is 415, not a string body.
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser, saying so when valid JSON is refused for a __proto__ key, and
  // reading an empty body as none where the operation takes none (body-reading.ts).
  const json = emptyWithoutBody(tellingForbiddenKeys(app.getDefaultJsonParser('error', 'error')));
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

  const security = new SecurityHandlers(services.auth, services.clients, services.tenants);
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
      new OAuthHandlers(services.tokenIssuance, services.introspection, services.keys, { issuer: services.issuer, publicUrl: options.publicUrl }, services.metrics),
      new HealthHandlers(services.readiness, options.metrics === false ? undefined : services.metrics),
      new RoleHandlers(services.roles, options.publicUrl),
      new ApiResourceHandlers(services.apiResources, options.publicUrl),
      new IsDcrHandlers(services.isDcr),
      new TenantHandlers(services.tenantRegistry, options.publicUrl),
    );
    await mountSpec(scope, loadSpec('platform-api.yaml'), withScaffolds(scaffolds, 'platform-api.yaml', service, services), security, routeFormats);
  });
  return app;
}
