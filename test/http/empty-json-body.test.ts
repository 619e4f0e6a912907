/**
 * `Content-Type: application/json` with an empty body, on operations that take no body: API
 * Manager's Key Manager connector sends that header on every call, its DELETEs included. Such a
 * request is read as one without a body (src/http/body-reading.ts, emptyWithoutBody), on the wire
 * with `Content-Length: 0` and with an empty chunked body alike; an operation that takes a body
 * still answers 400 to an empty one.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { ADMIN_AUTH, buildTestApp, createUser } from '../fixtures/app.js';

t.test('an empty JSON body is no body where the operation takes none', async (t) => {
  const { app } = await buildTestApp(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;

  function send(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port, method, path, headers: { authorization: ADMIN_AUTH, ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      request.on('error', reject);
      request.end();
    });
  }

  const framings: Record<string, string>[] = [{ 'content-length': '0' }, { 'transfer-encoding': 'chunked' }];
  for (const framing of framings) {
    const label = Object.keys(framing)[0];
    const id = await createUser(app, `user-${label}`, 'user-Pa55word');
    const deleted = await send('DELETE', `/scim2/Users/${id}`, { 'content-type': 'application/json', ...framing });
    t.equal(deleted.status, 204, `DELETE, ${label}`);
    t.equal(deleted.body, '');
    const listed = await send('GET', '/scim2/Users', { 'content-type': 'application/json', ...framing });
    t.equal(listed.status, 200, `GET, ${label}`);
    const register = await send('POST', '/client-registration/v0.17/register', { 'content-type': 'application/json', ...framing });
    t.equal(register.status, 400, `an operation that takes a body: still 400, ${label}`);
    t.match(JSON.parse(register.body), { code: 400, description: 'The request body is empty' });
  }
});
