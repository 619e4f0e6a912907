import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import { wso2Body } from './error-handler.js';

/**
 * What a request that Node's HTTP parser refused is answered with, by Node's error code. Such a
 * request never reaches Fastify: there is no route, and no trustworthy path to pick an error
 * shape by, so the answer is always the spec's `Error` (the document's description says so).
 * Undefined when nobody is left to answer (the client reset the connection).
 */
export function clientErrorAnswer(code: string | undefined): ApiError | undefined {
  switch (code) {
    case 'ECONNRESET':
      return undefined;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(408, 'Request Timeout', 'The request was not received in time');
    case 'HPE_HEADER_OVERFLOW':
      // Node counts the request line in the header limit: an over-long URL lands here too, not as 414.
      return new ApiError(431, 'Request Header Fields Too Large', 'The request line and headers are larger than this server reads');
    case 'HPE_INVALID_METHOD':
      // RFC 9110 §15.6.2: a method the server does not recognise is 501, not 405 (which needs a resource).
      return new ApiError(501, 'Not Implemented', 'The request method is not one this server recognises');
    default:
      return new ApiError(400, 'Bad Request', 'The request is not valid HTTP/1.1');
  }
}

/** The whole HTTP/1.1 answer for `error`, written straight to the socket, connection closed. */
export function rawAnswer(error: ApiError, headers: Readonly<Record<string, string>>): string {
  const body = JSON.stringify(wso2Body(error));
  const lines = [
    `HTTP/1.1 ${error.statusCode} ${error.title}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

interface HttpSocket extends Socket {
  /** The response Node is writing on this socket, if any (node:http's own bookkeeping). */
  _httpMessage?: { headersSent?: boolean } | null;
}

/**
 * Fastify's `clientErrorHandler`: the parser's refusals (malformed request line or headers, a
 * header block or URL over the limit, an unknown method, a request not received in time) in the
 * spec's `Error` shape with the API's security headers, instead of Fastify's own
 * `{"error","message","statusCode"}`. As node:http itself does, nothing is written once an answer
 * has started on the connection: that would corrupt it.
 */
export function clientErrorHandler(headers: Readonly<Record<string, string>>) {
  return function handleClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
    const answer = clientErrorAnswer(err.code);
    const httpSocket = socket as HttpSocket;
    if (answer && socket.writable && !httpSocket._httpMessage?.headersSent) {
      this.log.debug({ statusCode: answer.statusCode, code: err.code }, 'request refused by the HTTP parser');
      socket.end(rawAnswer(answer, headers));
    }
    // After what was written has left: a connection the parser gave up on cannot carry another request.
    httpSocket.destroySoon();
  };
}
