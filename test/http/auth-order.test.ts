/**
 * Who is calling is settled before anything else about the request: an unauthenticated request is
 * 401 whatever its body (unknown keys, wrong media type, malformed, missing, too large), and a
 * request with more than one Authorization header is 400, on every route family, so that a proxy
 * and this server can never act for different callers.
 */
import net from 'node:net';
import t from 'tap';
import { ADMIN_AUTH, basic, buildTestApp } from '../fixtures/app.js';

const REGISTER = '/client-registration/v0.17/register';
const UNAUTHORIZED = { code: 401, message: 'Unauthorized', description: 'The user is not authorized', moreInfo: '', error: [] };
const SCIM_UNAUTHORIZED = { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401', detail: 'The user is not authorized' };

const { app } = await buildTestApp(t, { bodyLimit: 2048 });

t.test('an unauthenticated request is 401 whatever it carries', async (t) => {
  const cases: Array<{ name: string; headers?: Record<string, string>; payload?: string }> = [
    { name: 'an unknown property', headers: { 'content-type': 'application/json' }, payload: '{"foo":1}' },
    { name: 'malformed JSON', headers: { 'content-type': 'application/json' }, payload: '{"clientName":' },
    { name: 'a text/plain body', headers: { 'content-type': 'text/plain' }, payload: 'hello' },
    { name: 'a form body', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' },
    { name: 'no body at all' },
    { name: 'a JSON content type and an empty body', headers: { 'content-type': 'application/json' }, payload: '' },
    { name: 'a body over the limit', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ clientName: 'x'.repeat(4096) }) },
    { name: 'a wrong password and an unknown property', headers: { 'content-type': 'application/json', authorization: basic('admin', 'wrong') }, payload: '{"foo":1}' },
  ];
  for (const { name, headers, payload } of cases) {
    const res = await app.inject({ method: 'POST', url: REGISTER, headers, payload });
    t.equal(res.statusCode, 401, `${name}: 401`);
    t.strictSame(res.json(), UNAUTHORIZED, `${name}: the one 401 body`);
    t.ok(res.headers['www-authenticate'], `${name}: with a challenge`);
  }
});

t.test('SCIM: an unauthenticated DELETE with a content type and no body is 401, not 400', async (t) => {
  const res = await app.inject({
    method: 'DELETE',
    url: '/scim2/Users/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(res.statusCode, 401);
  t.strictSame(res.json(), SCIM_UNAUTHORIZED);
  const create = await app.inject({
    method: 'POST',
    url: '/scim2/Users',
    headers: { 'content-type': 'application/scim+json' },
    payload: '{"userName":false}',
  });
  t.equal(create.statusCode, 401, 'an invalid SCIM body without credentials: 401');
});

t.test('with credentials, the body is judged as before', async (t) => {
  const res = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, payload: '{"foo":1}' });
  t.equal(res.statusCode, 400);
  t.match(res.json(), { code: 400, description: "Unrecognized property 'foo'" });
});

t.test('two Authorization headers: 400 in each route family, before anything is decided', async (t) => {
  const twice = [ADMIN_AUTH, basic('nobody', 'nothing')] as unknown as string;
  const register = await app.inject({
    method: 'POST',
    url: REGISTER,
    headers: { authorization: twice, 'content-type': 'application/json' },
    payload: { clientName: 'twice_app', owner: 'admin', grantType: 'client_credentials' },
  });
  t.equal(register.statusCode, 400);
  t.strictSame(register.json(), {
    code: 400,
    message: 'Bad Request',
    description: 'The request carries more than one Authorization header; send exactly one',
    moreInfo: '',
    error: [{ code: 'authorization', message: 'more than one Authorization header' }],
  });
  const scim = await app.inject({ method: 'GET', url: '/scim2/Users', headers: { authorization: twice } });
  t.equal(scim.statusCode, 400);
  t.match(scim.json(), { status: '400', detail: 'The request carries more than one Authorization header; send exactly one' });
  const token = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { authorization: twice, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=client_credentials',
  });
  t.equal(token.statusCode, 400);
  t.strictSame(token.json(), { error: 'invalid_request', error_description: 'The request carries more than one Authorization header; send exactly one' });
  t.equal(token.headers['cache-control'], 'no-store');
});

t.test('two Authorization headers over a real socket (what Node itself does with them)', async (t) => {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as net.AddressInfo;
  const body = JSON.stringify({ clientName: 'twice_socket_app', owner: 'admin', grantType: 'client_credentials' });
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  // Node would act on the first (the admin's); a proxy might have read the second.
  socket.write(
    `POST ${REGISTER} HTTP/1.1\r\nHost: x\r\nAuthorization: ${ADMIN_AUTH}\r\nAuthorization: Basic bm9ib2R5Om5vdGhpbmc=\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  await new Promise((resolve) => socket.once('close', resolve));
  t.match(received, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.match(received, /more than one Authorization header/);
});
