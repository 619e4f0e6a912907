/**
 * While the app drains for a graceful shutdown (app.close(), src/server.ts), a request that still
 * arrives on an open connection is answered 503 in its route's error shape (WSO2's Error, SCIM's,
 * RFC 6749's) with Connection: close; a request in flight completes and closes its connection.
 * test/reliability/graceful-stop.test.ts checks the same on the real process; this covers every
 * error shape, in-process, over a real socket (inject cannot reach a closing server).
 */
import net from 'node:net';
import t from 'tap';
import { classify } from '../../src/http/error-handler.js';
import { ADMIN_AUTH, buildTestApp } from '../fixtures/app.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function connection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  let closed = false;
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  return { socket, received: () => received, closed: () => closed };
}

function parse(raw: string) {
  const split = raw.indexOf('\r\n\r\n');
  return { status: raw.slice(0, raw.indexOf('\r\n')), head: raw.slice(0, split), body: JSON.parse(raw.slice(split + 4)) as unknown };
}

t.test('requests arriving while the app drains: 503 in the route error shape, Connection: close', async (t) => {
  const { app } = await buildTestApp(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as net.AddressInfo;

  const register = JSON.stringify({ clientName: 'drain_app', owner: 'admin', grantType: 'client_credentials' });
  const requests = {
    wso2: { line: 'POST /client-registration/v0.17/register HTTP/1.1', type: 'application/json', body: register },
    oauth: { line: 'POST /oauth2/token HTTP/1.1', type: 'application/x-www-form-urlencoded', body: 'grant_type=client_credentials' },
    scim: { line: 'GET /scim2/Users HTTP/1.1', type: undefined, body: '' },
  };
  // In flight before close(): a registration whose body is not complete yet.
  const inFlight = await connection(port);
  inFlight.socket.write(
    `POST /client-registration/v0.17/register HTTP/1.1\r\nHost: x\r\nAuthorization: ${ADMIN_AUTH}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(register)}\r\n\r\n${register.slice(0, 10)}`,
  );
  // Arriving during the drain: only their request lines are in before close() (so the connections are not idle).
  const late = Object.fromEntries(
    await Promise.all(
      Object.entries(requests).map(async ([name, request]) => {
        const conn = await connection(port);
        conn.socket.write(`${request.line}\r\n`);
        return [name, conn] as const;
      }),
    ),
  );
  await sleep(100);
  const closing = app.close();
  await sleep(100);
  for (const [name, request] of Object.entries(requests)) {
    late[name]!.socket.write(
      `Host: x\r\nAuthorization: ${ADMIN_AUTH}\r\n${request.type ? `Content-Type: ${request.type}\r\n` : ''}` +
        `Content-Length: ${Buffer.byteLength(request.body)}\r\n\r\n${request.body}`,
    );
  }
  inFlight.socket.write(register.slice(10));
  await closing;
  // The server closed every connection; let this side read what it sent.
  for (const conn of [inFlight, ...Object.values(late)]) {
    for (let i = 0; i < 100 && !conn.closed(); i++) await sleep(20);
  }

  const answered = parse(inFlight.received());
  t.equal(answered.status, 'HTTP/1.1 200 OK', 'the request in flight completes');
  t.match(answered.body, { clientName: 'drain_app' });
  t.match(answered.head, /\r\nconnection: close/i, 'and closes its connection');

  const wso2 = parse(late.wso2!.received());
  t.equal(wso2.status, 'HTTP/1.1 503 Service Unavailable', 'DCR route: 503');
  t.strictSame(wso2.body, { code: 503, message: 'Service Unavailable', description: 'The server is shutting down; retry later', moreInfo: '', error: [] }, "with WSO2's Error body");
  const oauth = parse(late.oauth!.received());
  t.equal(oauth.status, 'HTTP/1.1 503 Service Unavailable', 'token endpoint: 503');
  t.strictSame(oauth.body, { error: 'temporarily_unavailable', error_description: 'The server is shutting down; retry later' }, 'with an RFC 6749 error body');
  t.match(oauth.head, /\r\ncache-control: no-store/i, 'not cached');
  const scim = parse(late.scim!.received());
  t.equal(scim.status, 'HTTP/1.1 503 Service Unavailable', 'SCIM route: 503');
  t.strictSame(scim.body, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '503', detail: 'The server is shutting down; retry later' }, 'with a SCIM error body');
  for (const [name, conn] of Object.entries(late)) {
    t.match(conn.received(), /\r\nconnection: close\r\n/i, `${name}: Connection: close`);
    t.match(conn.received(), /\r\nretry-after: 1\r\n/i, `${name}: Retry-After`);
    t.match(conn.received(), /\r\nx-content-type-options: nosniff\r\n/i, `${name}: the security headers`);
  }
  for (const conn of [inFlight, ...Object.values(late)]) conn.socket.destroy();
});

t.test('a client that goes away while sending its body is a 400, not a logged 500', async (t) => {
  const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 });
  const error = classify(aborted);
  t.equal(error.statusCode, 400);
  t.match(error.description, /not received in full/);
  t.equal(classify(Object.assign(new Error('boom'), { code: 'ECONNRESET' })).statusCode, 500, 'other resets are still 500s');
});
