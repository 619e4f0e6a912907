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
    const longUrl = await get(`/scim2/Users/${'a'.repeat(20_000)}`);
    assertError(t, longUrl, 431, 'Request Header Fields Too Large', description);
    t.equal(longUrl.headers.connection, 'close');
  });

  t.test('a request that is not HTTP/1.1: 400', async (t) => {
    for (const text of ['GET /health/live HTTP/1.1 extra\r\n\r\n', 'GET /health/live HTTP/1.1\r\nno colon here\r\n\r\n', 'GET /health/live HTTP/9.9\r\n\r\n']) {
      assertError(t, await exchange(text), 400, 'Bad Request', 'The request is not valid HTTP/1.1');
    }
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
    [undefined, 400],
  ];
  for (const [code, status] of cases) t.equal(clientErrorAnswer(code)?.statusCode, status, String(code));
});
