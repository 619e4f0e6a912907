/**
 * Answers that Fastify or Node give on their own, before any operation runs, on the wire of a
 * real listening server: a path that does not decode, an over-long id, a request the HTTP parser
 * refuses (malformed, too large a header block, an unknown method, not received in time) and
 * CONNECT. Each is in the spec's error shapes, with the API's security headers, as the documents'
 * "Answers to any request" section says.
 */
import net from 'node:net';
import t, { type Test } from 'tap';
import { clientErrorAnswer } from '../../src/http/client-errors.js';
import { classify } from '../../src/http/error-handler.js';
import { ADMIN_AUTH, buildTestApp } from '../fixtures/app.js';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parse(raw: string): Answer {
  const split = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = raw.slice(0, split < 0 ? raw.length : split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = split < 0 ? '' : raw.slice(split + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let decoded = '';
    for (let rest = body; rest.length > 0; ) {
      const end = rest.indexOf('\r\n');
      const size = Number.parseInt(rest.slice(0, end), 16);
      if (!size) break;
      decoded += rest.slice(end + 2, end + 2 + size);
      rest = rest.slice(end + 2 + size + 2);
    }
    body = decoded;
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body };
}

function errorBody(code: number, message: string, description: string) {
  return { code, message, description, moreInfo: '', error: [] };
}

/** The spec's Error with the API's security headers, exactly. */
function assertError(t: Test, res: Answer, status: number, message: string, description: string): void {
  t.equal(res.status, status, res.body);
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  t.strictSame(JSON.parse(res.body), errorBody(status, message, description));
  t.equal(res.headers['x-content-type-options'], 'nosniff', 'security headers');
  t.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
}

t.test('on the wire', async (t) => {
  const { app } = await buildTestApp(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as net.AddressInfo;

  /** Writes `text` on a new connection; the answer once the server closes the connection. */
  const exchange = (text: string, onConnected?: () => void) =>
    new Promise<Answer>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', onConnected);
      const chunks: Buffer[] = [];
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
      socket.on('close', () => resolve(parse(Buffer.concat(chunks).toString('utf8'))));
      if (text) socket.write(text);
    });
  const get = (path: string, extra = '') =>
    exchange(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${ADMIN_AUTH}\r\nConnection: close\r\n${extra}\r\n`);

  t.test('a path that is not valid percent-encoding: 400 in the path’s shape, not Fastify’s body', async (t) => {
    assertError(t, await get('/health/%zz'), 400, 'Bad Request', 'The request target is not a valid URL path');
    assertError(t, await get('/client-registration/v0.17/register%'), 400, 'Bad Request', 'The request target is not a valid URL path');
    // No operation has this path (it does not decode): the Error shape, on /oauth2 too.
    assertError(t, await get('/oauth2/token%zz'), 400, 'Bad Request', 'The request target is not a valid URL path');
    const scim = await get('/scim2/Users/%zz');
    t.equal(scim.status, 400);
    t.equal(scim.headers['content-type'], 'application/scim+json; charset=utf-8');
    t.strictSame(JSON.parse(scim.body), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '400',
      scimType: 'invalidSyntax',
      detail: 'The request target is not a valid URL path',
    });
  });

  t.test('a docs asset path with dot or empty segments: 404 like any path naming nothing, not 403 "Bad Request"', async (t) => {
    // @fastify/static refused them with its own 403, which the error handler called "Bad Request".
    for (const path of ['/docs/static/../../x', '/docs/static/%2e%2e/%2e%2e/x', '/docs/static/./index.html', '/docs/static//index.html']) {
      const res = await get(path);
      t.equal(res.status, 404, `${path}: ${res.body}`);
      t.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      t.strictSame(JSON.parse(res.body), errorBody(404, 'Not Found', `No resource at ${path}`));
      // Under /docs: the document security headers (helmet's set, Swagger UI's CSP).
      t.equal(res.headers['x-content-type-options'], 'nosniff', `${path}: security headers`);
      t.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
      t.match(res.headers['content-security-policy'], /default-src 'self'/);
    }
    t.equal((await get('/docs/static/swagger-ui.css')).status, 200, 'a canonical asset path is served');
  });

  t.test('an id longer than the router’s old limit: 404, not a 414 with Fastify’s body', async (t) => {
    const res = await get(`/scim2/Users/${'a'.repeat(200)}`);
    t.equal(res.status, 404, res.body);
    t.equal(res.headers['content-type'], 'application/scim+json; charset=utf-8');
    t.match(JSON.parse(res.body), { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404' });
  });

  t.test('a request line and headers above 16 KiB: 431 (an over-long URL too, never 414)', async (t) => {
    const description = 'The request line and headers are larger than this server reads';
    assertError(t, await get('/health/live', `X-Pad: ${'p'.repeat(20_000)}\r\n`), 431, 'Request Header Fields Too Large', description);
    assertError(t, await get(`/client-registration/v0.17/register?pad=${'p'.repeat(60 * 1024)}`), 431, 'Request Header Fields Too Large', description);
    const longUrl = await get(`/scim2/Users/${'a'.repeat(20_000)}`);
    assertError(t, longUrl, 431, 'Request Header Fields Too Large', description);
    t.equal(longUrl.headers.connection, 'close');
  });

  t.test('a request that is not HTTP/1.1: 400', async (t) => {
    for (const text of ['GET /health/live HTTP/1.1 extra\r\n\r\n', 'GET /health/live HTTP/1.1\r\nno colon here\r\n\r\n', 'GET /health/live HTTP/9.9\r\n\r\n']) {
      assertError(t, await exchange(text), 400, 'Bad Request', 'The request is not valid HTTP/1.1');
    }
  });

  t.test('a garbage request line: 400, not 501 (the parser fails on its first word as on a method)', async (t) => {
    for (const text of ['\u0001\u0002garbage\r\n\r\n', 'hello world\r\n\r\n', '{"clientName":"x"}\r\n\r\n', 'GET\r\n\r\n', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003']) {
      assertError(t, await exchange(text), 400, 'Bad Request', 'The request is not valid HTTP/1.1');
    }
  });

  const AMBIGUOUS =
    'The request length is ambiguous: Content-Length with Transfer-Encoding, a repeated or malformed Content-Length, or a Transfer-Encoding other than chunked';
  const CHUNKED = "The request body's chunked transfer coding is malformed";

  t.test('Content-Length with Transfer-Encoding, or another ambiguous length: 400 (RFC 9112 §6), on /oauth2 too', async (t) => {
    // The head is refused before it is complete: no route is known, so the Error shape on every path.
    for (const path of ['/client-registration/v0.17/register', '/oauth2/token', '/scim2/Users']) {
      const both = await exchange(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
      assertError(t, both, 400, 'Bad Request', AMBIGUOUS);
      t.equal(both.headers.connection, 'close');
    }
    const twice = await exchange(`POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef`);
    assertError(t, twice, 400, 'Bad Request', AMBIGUOUS);
    // A Transfer-Encoding that does not end in chunked passes the head and is refused when the
    // body begins: the route is known by then, so its shape (RFC 6749's here).
    const notChunked = await exchange(`POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: gzip\r\n\r\nabc`);
    t.equal(notChunked.status, 400, notChunked.body);
    t.strictSame(JSON.parse(notChunked.body), { error: 'invalid_request', error_description: AMBIGUOUS });
    t.equal(notChunked.headers['x-content-type-options'], 'nosniff', 'security headers');
    const malformed = await exchange(`POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5x\r\n\r\nabcde`);
    assertError(t, malformed, 400, 'Bad Request', AMBIGUOUS);
  });

  const chunked = (path: string, contentType: string, auth = true) =>
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth ? `Authorization: ${ADMIN_AUTH}\r\n` : ''}Content-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\nzz\r\nabc\r\n0\r\n\r\n`;

  t.test('a malformed chunked body: 400 in the shape of the route its head was routed to', async (t) => {
    assertError(t, await exchange(chunked('/client-registration/v0.17/register', 'application/json')), 400, 'Bad Request', CHUNKED);

    // An OAuth2 endpoint: RFC 6749's shape, not cached, with the security headers.
    const token = await exchange(chunked('/oauth2/token', 'application/x-www-form-urlencoded', false));
    t.equal(token.status, 400, token.body);
    t.equal(token.headers['content-type'], 'application/json; charset=utf-8');
    t.strictSame(JSON.parse(token.body), { error: 'invalid_request', error_description: CHUNKED });
    t.equal(token.headers['cache-control'], 'no-store');
    t.equal(token.headers.pragma, 'no-cache');
    t.equal(token.headers['x-content-type-options'], 'nosniff', 'security headers');
    t.equal(token.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
    for (const path of ['/oauth2/introspect', '/oauth2/revoke', '/oauth2/token?x=1']) {
      const res = await exchange(chunked(path, 'application/x-www-form-urlencoded', false));
      t.strictSame(JSON.parse(res.body), { error: 'invalid_request', error_description: CHUNKED }, path);
    }

    const scim = await exchange(chunked('/scim2/Users', 'application/scim+json'));
    t.equal(scim.status, 400, scim.body);
    t.equal(scim.headers['content-type'], 'application/scim+json; charset=utf-8');
    t.strictSame(JSON.parse(scim.body), { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', detail: CHUNKED });
    t.equal(scim.headers['cache-control'], 'no-store');
    t.equal(scim.headers['x-content-type-options'], 'nosniff', 'security headers');

  });

  t.test('a 60 KB URL or a 16 KB header on an OAuth2 endpoint: 431 in the Error shape (no route is known yet)', async (t) => {
    const description = 'The request line and headers are larger than this server reads';
    const url = await exchange(`POST /oauth2/token?pad=${'p'.repeat(60 * 1024)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    assertError(t, url, 431, 'Request Header Fields Too Large', description);
    const header = await exchange(`POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'p'.repeat(16 * 1024)}\r\n\r\n`);
    assertError(t, header, 431, 'Request Header Fields Too Large', description);
    t.notOk(JSON.parse(header.body).statusCode, 'not Fastify\'s {"error","message","statusCode"}');
  });

  t.test('a method the parser does not know: 501 (RFC 9110 §15.6.2)', async (t) => {
    for (const method of ['FOO', 'get', 'BREW']) {
      const res = await exchange(`${method} /client-registration/v0.17/register HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      assertError(t, res, 501, 'Not Implemented', 'The request method is not one this server recognises');
    }
  });

  t.test('a request not received in time: 408', async (t) => {
    // Node emits this when a request's headers or body take longer than its timeouts (minutes by
    // default); the test emits the same error for a connection whose request is half sent.
    const connected = new Promise<net.Socket>((resolve) => app.server.once('connection', resolve));
    const answer = exchange(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    const serverSide = await connected;
    await new Promise((resolve) => setTimeout(resolve, 50));
    app.server.emit('clientError', Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), serverSide);
    assertError(t, await answer, 408, 'Request Timeout', 'The request was not received in time');
  });

  t.test('a body not received in time: 408 in its route\'s shape (RFC 6749 on the token endpoint)', async (t) => {
    const connected = new Promise<net.Socket>((resolve) => app.server.once('connection', resolve));
    const answer = exchange(`POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=`);
    const serverSide = await connected;
    await new Promise((resolve) => setTimeout(resolve, 100));
    app.server.emit('clientError', Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), serverSide);
    const res = await answer;
    t.equal(res.status, 408, res.body);
    t.strictSame(JSON.parse(res.body), { error: 'invalid_request', error_description: 'The request was not received in time' });
    t.equal(res.headers['cache-control'], 'no-store');
    t.equal(res.headers['x-content-type-options'], 'nosniff', 'security headers');
  });

  t.test('CONNECT is routed like any other method: 405 on a declared path, 400 for a target that is no path', async (t) => {
    // Node gave it to 'connect' listeners and, with none, closed the connection unanswered.
    const declared = await exchange(`CONNECT /client-registration/v0.17/register HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    assertError(t, declared, 405, 'Method Not Allowed', 'Method CONNECT is not allowed on this resource');
    t.equal(declared.headers.allow, 'POST');
    const scim = await exchange(`CONNECT /scim2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    t.equal(scim.status, 405);
    t.equal(scim.headers.allow, 'GET, HEAD, POST');
    const authority = await exchange(`CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`);
    assertError(t, authority, 400, 'Bad Request', 'The request target is not a valid URL path');
    assertError(t, await exchange(`CONNECT /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`), 404, 'Not Found', 'No resource at /nope');
  });
});

t.test('other 4xx errors of Fastify and its plugins keep their status and its name', async (t) => {
  // Every such error was called "Bad Request", whatever its status.
  for (const [status, title] of [[400, 'Bad Request'], [403, 'Forbidden'], [414, 'URI Too Long'], [429, 'Too Many Requests']] as const) {
    const error = classify(Object.assign(new Error('from a plugin'), { code: 'FST_SOMETHING_ELSE', statusCode: status }));
    t.equal(error.statusCode, status);
    t.equal(error.title, title);
  }
});

t.test('clientErrorAnswer: Node error codes to answers', async (t) => {
  const cases: [string | undefined, number | undefined][] = [
    ['ECONNRESET', undefined],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408],
    ['HPE_HEADER_OVERFLOW', 431],
    ['HPE_INVALID_METHOD', 501],
    ['HPE_INVALID_CONSTANT', 400],
    ['HPE_INVALID_HEADER_TOKEN', 400],
    ['HPE_UNEXPECTED_CONTENT_LENGTH', 400],
    ['HPE_INVALID_TRANSFER_ENCODING', 400],
    [undefined, 400],
  ];
  for (const [code, status] of cases) t.equal(clientErrorAnswer(code)?.statusCode, status, String(code));
  // An unknown method on a well-formed request line is 501; on anything else, 400.
  t.equal(clientErrorAnswer('HPE_INVALID_METHOD', { requestLine: 'BREW /pot HTTP/1.1' })?.statusCode, 501);
  t.equal(clientErrorAnswer('HPE_INVALID_METHOD', { requestLine: 'hello world' })?.statusCode, 400);
  // Past the head, a parser error is the chunked body's; a timeout is still 408.
  t.equal(clientErrorAnswer('HPE_INVALID_CHUNK_SIZE', { inBody: true })?.description, "The request body's chunked transfer coding is malformed");
  t.equal(clientErrorAnswer('ERR_HTTP_REQUEST_TIMEOUT', { inBody: true })?.statusCode, 408);
});
