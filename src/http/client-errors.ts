import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../domain/errors.js';
import { FORMAT_HEADERS, render, type ErrorFormat, type RouteErrorFormats } from './error-handler.js';

/** What is known of the request when Node's parser gave up on it. */
export interface RefusedRequest {
  /**
   * The request's head (request line and headers) was read and routed, and its body was still
   * arriving: the failure is in the body (or it was not received in time).
   */
  inBody?: boolean;
  /** The first line of what the client sent, when Node kept it (err.rawPacket). */
  requestLine?: string;
}

/** `method SP request-target SP HTTP-version` (RFC 9112 §3), the method any token. */
const REQUEST_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^\s]+ HTTP\/\d\.\d$/;

/**
 * What a request that Node's HTTP parser refused is answered with, by Node's error code.
 * Undefined when nobody is left to answer (the client reset the connection).
 */
export function clientErrorAnswer(code: string | undefined, refused: RefusedRequest = {}): ApiError | undefined {
  switch (code) {
    case 'ECONNRESET':
      return undefined;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(408, 'Request Timeout', 'The request was not received in time');
    default:
      break;
  }
  switch (code) {
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      // Request smuggling's raw material (RFC 9112 §6.1, §6.3): refused, never guessed at. A
      // Transfer-Encoding that does not end in chunked is only refused once the body begins.
      return new ApiError(
        400,
        'Bad Request',
        'The request length is ambiguous: Content-Length with Transfer-Encoding, a repeated or malformed Content-Length, or a Transfer-Encoding other than chunked',
      );
    default:
      break;
  }
  // Past the head only the body is parsed, and only a chunked body can be malformed.
  if (refused.inBody) return new ApiError(400, 'Bad Request', "The request body's chunked transfer coding is malformed");
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      // Node counts the request line in the header limit: an over-long URL lands here too, not as 414.
      return new ApiError(431, 'Request Header Fields Too Large', 'The request line and headers are larger than this server reads');
    case 'HPE_INVALID_METHOD':
      // RFC 9110 §15.6.2: a method the server does not recognise is 501, not 405 (which needs a
      // resource); but a line that is no request line at all (binary, `hello world`) is a 400
      // (RFC 9112 §3), though the parser fails on its first word too.
      if (refused.requestLine === undefined || REQUEST_LINE.test(refused.requestLine)) {
        return new ApiError(501, 'Not Implemented', 'The request method is not one this server recognises');
      }
      break;
    default:
      break;
  }
  return new ApiError(400, 'Bad Request', 'The request is not valid HTTP/1.1');
}

/** The whole HTTP/1.1 answer for `error` in `format`, written straight to the socket, connection closed. */
export function rawAnswer(error: ApiError, headers: Readonly<Record<string, string>>, format: ErrorFormat = 'wso2'): string {
  const { type, body } = render(error, format);
  const lines = [
    `HTTP/1.1 ${error.statusCode} ${error.title}`,
    ...Object.entries({ ...headers, ...FORMAT_HEADERS[format] }).map(([name, value]) => `${name}: ${value}`),
    `content-type: ${type}`,
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

interface HttpSocket extends Socket {
  /** The response Node is writing on this socket, if any (node:http's own bookkeeping). */
  _httpMessage?: { headersSent?: boolean; req?: IncomingMessage } | null;
}

/** The first line of the bytes the parser failed on (Node attaches them as `rawPacket`). */
function firstLine(err: NodeJS.ErrnoException & { rawPacket?: unknown }): string | undefined {
  if (!Buffer.isBuffer(err.rawPacket)) return undefined;
  const text = err.rawPacket.subarray(0, 8192).toString('latin1');
  const end = text.search(/\r?\n/);
  return end < 0 ? text : text.slice(0, end);
}

/**
 * Fastify's `clientErrorHandler`: the parser's refusals (malformed request line, headers or
 * chunked body, an ambiguous length, a header block or URL over the limit, an unknown method, a
 * request not received in time) with the API's security headers, instead of Fastify's own
 * `{"error","message","statusCode"}`. The shape is the spec's `Error` while the request's head was
 * not read: no route is known then, nor a trustworthy path. Once it was read and routed (a body
 * that breaks off or arrives too slowly), the shape is its route's: RFC 6749's on the OAuth2
 * endpoints, SCIM's under /scim2. As node:http itself does, nothing is written once an answer has
 * started on the connection: that would corrupt it.
 */
export function clientErrorHandler(headers: Readonly<Record<string, string>>, formats: RouteErrorFormats) {
  return function handleClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
    const httpSocket = socket as HttpSocket;
    const request = httpSocket._httpMessage?.req;
    const inBody = request !== undefined && !request.complete;
    const answer = clientErrorAnswer(err.code, { inBody, requestLine: firstLine(err) });
    if (answer && socket.writable && !httpSocket._httpMessage?.headersSent) {
      const format = inBody ? formats.of(request.url ?? '/') : 'wso2';
      this.log.debug({ statusCode: answer.statusCode, code: err.code }, 'request refused by the HTTP parser');
      socket.end(rawAnswer(answer, headers, format));
    }
    // After what was written has left: a connection the parser gave up on cannot carry another request.
    httpSocket.destroySoon();
  };
}
