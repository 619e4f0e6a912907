/**
 * The error handler's answer cannot fail. With a real logger (tests elsewhere run with none), a
 * 5xx is logged with its error; a log call that throws, or an error that cannot even be
 * classified, still leaves as the route's spec error body, never Fastify's own
 * `{"statusCode":500,"code":"FST_ERR_FAILED_ERROR_SERIALIZATION",...}`.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import { DatabaseUnavailable } from '../../src/db/errors.js';
import { ADMIN_AUTH, buildTestApp } from '../fixtures/app.js';

const REGISTER = '/client-registration/v0.17/register';
const BODY = { clientName: 'last_resort_app', owner: 'admin', grantType: 'client_credentials' };

/** A Fastify logger (pino) writing JSON lines into `lines`. */
function capturingLogger(lines: string[]) {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { level: 'info', stream } as never;
}

t.test('an outage while authenticating a Basic caller is a 503 with the Error body, and is logged', async (t) => {
  const lines: string[] = [];
  const { app, services } = await buildTestApp(t, { appOptions: { logger: capturingLogger(lines) } });
  // Glue fails OAuth2Security (not a Bearer header) first, then BasicAuth meets the outage: the
  // SecurityError it answers holds both failures, and the 503 is logged with them. The Bearer
  // failure was one frozen error shared by every request; logging it threw.
  services.auth.authenticateBasic = async () => {
    throw new DatabaseUnavailable(new Error('connection refused'));
  };
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
      payload: BODY,
    });
    t.equal(res.statusCode, 503, `request ${i + 1}: 503`);
    t.strictSame(res.json(), {
      code: 503,
      message: 'Service Unavailable',
      description: 'The service cannot reach its database; retry later',
      moreInfo: '',
      error: [],
    });
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    t.equal(res.headers['retry-after'], '1');
  }
  const failures = lines.map((line) => JSON.parse(line) as { level: number; msg: string; err?: { type: string; aggregateErrors?: { type: string }[] } }).filter((line) => line.level === 50);
  t.equal(failures.length, 2, 'each 503 is logged once, as an error');
  t.equal(failures[0]?.msg, 'request failed');
  t.equal(failures[0]?.err?.type, 'SecurityError', "with glue's SecurityError");
  t.strictSame(
    failures[0]?.err?.aggregateErrors?.map((cause) => cause.type),
    ['ApiError', 'DatabaseUnavailable'],
    'and both its causes',
  );
});

/** An error whose every property access throws: nothing about it can be read. */
function unreadableError(): unknown {
  return new Proxy(
    {},
    {
      get() {
        throw new Error('unreadable');
      },
      getPrototypeOf() {
        throw new Error('unreadable');
      },
      has() {
        throw new Error('unreadable');
      },
      ownKeys() {
        throw new Error('unreadable');
      },
    },
  );
}

t.test('an error that cannot be classified or logged still answers the spec 500 body', async (t) => {
  const lines: string[] = [];
  const { app, services } = await buildTestApp(t, { appOptions: { logger: capturingLogger(lines) } });
  services.registration.register = async () => {
    throw unreadableError();
  };
  const res = await app.inject({
    method: 'POST',
    url: REGISTER,
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
    payload: BODY,
  });
  t.equal(res.statusCode, 500);
  t.strictSame(res.json(), {
    code: 500,
    message: 'Internal Server Error',
    description: 'The server could not complete the request',
    moreInfo: '',
    error: [],
  });
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8');

  // The same on a SCIM route and an OAuth2 route: each in its own format.
  services.users.list = async () => {
    throw unreadableError();
  };
  const scim = await app.inject({ method: 'GET', url: '/scim2/Users', headers: { authorization: ADMIN_AUTH } });
  t.equal(scim.statusCode, 500);
  t.strictSame(scim.json(), {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
    status: '500',
    detail: 'The server could not complete the request',
  });
  t.equal(scim.headers['content-type'], 'application/scim+json; charset=utf-8');

  services.tokenIssuance.token = async () => {
    throw unreadableError();
  };
  const token = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=client_credentials&client_id=a&client_secret=b',
  });
  t.equal(token.statusCode, 500);
  t.strictSame(token.json(), { error: 'server_error', error_description: 'The server could not complete the request' });
  t.equal(token.headers['cache-control'], 'no-store');
  t.notMatch(lines.join('\n'), /FST_ERR/, 'no Fastify fallback anywhere');
});
