import { METHODS, type IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify';
import openapiGlue from 'fastify-openapi-glue';
import { missingBody } from '../domain/registration-rules.js';
import { duplicateAuthorization, methodNotAllowed, unsupportedMediaType } from '../domain/errors.js';
import { coerceBooleanFields, readAsProperties, type PropertySchema } from '../domain/wire-coercion.js';
import { refuseUnreadableBody } from './body-reading.js';
import type { ErrorFormat, RouteErrorFormats } from './error-handler.js';
import type { SecurityHandlers } from './security.js';
import { mountPrefix, type OpenApiDocument } from './spec.js';

/**
 * Every method Node's HTTP parser accepts: each one is routed, so that a path the spec declares
 * answers 405 with Allow to any method it does not declare (a method no route knew was a 404, and
 * QUERY a 400 from Fastify's body checks). Methods the parser refuses never reach the router
 * (src/http/client-errors.ts answers them 501).
 */
export const ROUTED_METHODS: readonly string[] = METHODS;

/** The order Allow lists methods in: the usual ones first, as clients expect them. */
const ALLOW_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export function allowHeader(methods: Iterable<string>): string[] {
  const rank = (method: string) => (ALLOW_ORDER.includes(method) ? ALLOW_ORDER.indexOf(method) : ALLOW_ORDER.length);
  return [...new Set(methods)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
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
export async function mountSpec(
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
