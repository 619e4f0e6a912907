import type { FastifyBodyParser, FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { ApiError, forbiddenJsonKey, unsupportedCharset, unsupportedContentEncoding } from '../domain/errors.js';

/** `charset` parameters of a Content-Type (RFC 9110 §8.3.1), token or quoted-string. */
const CHARSET_PARAMETER = /;\s*charset\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/gi;

/** The parameters clients send with a body, `; charset=utf-8` in any case, as one test. */
const ONLY_UTF8 = /^;\s*charset\s*=\s*(?:utf-?8|"utf-?8")\s*$/i;

/**
 * Why a request body cannot be read as its headers describe it, or undefined when it can.
 * Every body is read as UTF-8 bytes, as sent: JSON must be UTF-8 (RFC 8259 §8.1), and SCIM and
 * forms are read the same way. A body in another charset (`charset=utf-16`) or under a content
 * coding (gzip, br, ...) was read as plain UTF-8 anyway, and answered as malformed (400) or, worse,
 * as the text it happened to decode to. Both are 415 (RFC 9110 §15.5.16). No charset, `utf-8`
 * (or its common alias `utf8`), and `identity`, are fine.
 */
export function unreadableBody(contentType: string | undefined, contentEncoding: string | undefined): ApiError | undefined {
  if (contentEncoding !== undefined) {
    for (const coding of contentEncoding.split(',')) {
      const name = coding.trim().toLowerCase();
      if (name !== '' && name !== 'identity') return unsupportedContentEncoding(name);
    }
  }
  // Most clients send no parameter (one indexOf), or only charset=utf-8 (one test).
  const parameters = contentType?.indexOf(';') ?? -1;
  if (contentType !== undefined && parameters !== -1 && !ONLY_UTF8.test(contentType.slice(parameters))) {
    for (const [, value = ''] of contentType.matchAll(CHARSET_PARAMETER)) {
      const charset = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
      // `utf8` is no registered name, but Node, Java and Python read it as UTF-8, and lax clients send it.
      const name = charset.toLowerCase();
      if (name !== 'utf-8' && name !== 'utf8') return unsupportedCharset(charset);
    }
  }
  return undefined;
}

/**
 * preParsing hook of every operation that reads a body: refuses one it cannot read (see
 * unreadableBody) before a byte of it is read, but after the caller is authenticated (src/app.ts
 * puts it behind that hook, like every judgement of the body). A hook of those routes only,
 * rather than a check in the content-type parsers or a global hook: it runs before the body is
 * buffered (a parser only runs once the whole body is in memory, and @fastify/formbody's parser
 * is its own), and requests that carry no body (GET, HEAD, the probes) never pay for it. What it
 * costs a request that does is two header lookups.
 */
export function refuseUnreadableBody(
  request: FastifyRequest,
  _reply: FastifyReply,
  payload: RequestPayload,
  done: (err?: Error | null, payload?: RequestPayload) => void,
): void {
  done(unreadableBody(request.headers['content-type'], request.headers['content-encoding']) ?? null, payload);
}

/**
 * Fastify's JSON parser, telling a forbidden key from a syntax error. Its parser (secure-json-parse)
 * refuses `__proto__` and `constructor.prototype` keys, but answers both the same
 * FST_ERR_CTP_INVALID_JSON_BODY, so a client sending valid JSON was told it was not JSON. Only a
 * refused body is looked at again: JSON.parse accepting it means the key was the reason.
 */
export function tellingForbiddenKeys(parse: FastifyBodyParser<string>): FastifyBodyParser<string> {
  return function parseJson(this: FastifyInstance, request, body, done) {
    parse.call(this, request, body, (error, value) => {
      if ((error as { code?: string } | null)?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' && isJson(body)) {
        done(forbiddenJsonKey());
        return;
      }
      done(error, value);
    });
  };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A JSON parser that reads an empty body as no body on an operation that takes none. API
 * Manager's Key Manager connector sends `Content-Type: application/json` on every call, its
 * DELETEs included, with nothing after the headers; Fastify's JSON parser refused that empty body
 * ("Body cannot be empty"), so removing a scope or a key failed with a 400. An operation that
 * does declare a body still gets the empty one as an error (400, the body is required).
 */
export function emptyWithoutBody(parse: FastifyBodyParser<string>): FastifyBodyParser<string> {
  return function parseJson(this: FastifyInstance, request, body, done) {
    if (body.length === 0 && request.routeOptions.schema?.body === undefined) {
      done(null, undefined);
      return;
    }
    parse.call(this, request, body, done);
  };
}
