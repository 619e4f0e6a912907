/**
 * POST /client-registration/v0.17/register on the wire: route and transport
 * and authentication of the caller (§2). Rules and body handling are in register-rules and
 * register-body.
 */
import { METHODS } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { ADMIN_AUTH, ADMIN_PASSWORD, basic, buildTestApp, createUser } from '../fixtures/app.js';

const REGISTER = '/client-registration/v0.17/register';
type Db = Awaited<ReturnType<typeof buildTestApp>>['db'];

const VALID = { clientName: 'transport_app', owner: 'admin', grantType: 'client_credentials password refresh_token' };

function errorBody(code: number, message: string, description: string, error: unknown[] = []) {
  return { code, message, description, moreInfo: '', error };
}

const UNAUTHORIZED = errorBody(401, 'Unauthorized', 'The user is not authorized');

/** Status, JSON content type and the exact Error body. */
function assertError(t: Test, res: LightMyRequestResponse, status: number, body: unknown): void {
  t.equal(res.statusCode, status, res.body);
  t.match(res.headers['content-type'], /^application\/json(;|$)/);
  t.strictSame(res.json(), body);
}

async function countApps(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM applications');
  return rows[0]!.n;
}

function post(app: FastifyInstance, payload: unknown, headers: Record<string, string> = { authorization: ADMIN_AUTH }) {
  return app.inject({ method: 'POST', url: REGISTER, headers, payload: payload as string });
}

// One app and database for the file, and one with a small body limit for the 413 test.
const { app, db } = await buildTestApp(t);

t.test('route and transport', async (t) => {
  t.test('success is 200, never 201, both when created and when it already existed', async (t) => {
    const first = await post(app, VALID);
    t.equal(first.statusCode, 200, first.body);
    t.match(first.headers['content-type'], /^application\/json(;|$)/);
    t.equal(first.headers['cache-control'], 'no-store');
    const again = await post(app, VALID);
    t.equal(again.statusCode, 200, again.body);
    t.equal(again.headers['cache-control'], 'no-store');
    t.strictSame(again.json(), first.json());
  });

  t.test('application/json with a charset parameter is JSON', async (t) => {
    const res = await post(app, JSON.stringify({ ...VALID, clientName: 'charset_app' }), {
      authorization: ADMIN_AUTH,
      'content-type': 'application/json; charset=utf-8',
    });
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.json().clientName, 'charset_app');
  });

  t.test('415 for a body in another charset or under a content coding, before it is read, nothing stored', async (t) => {
    const before = await countApps(db);
    const body = JSON.stringify({ ...VALID, clientName: 'charset_utf16_app' });
    // The very bytes a client in UTF-16 sends: they were read as UTF-8, and answered as the rules saw them.
    const utf16 = await post(app, Buffer.from(`\ufeff${body}`, 'utf16le'), { authorization: ADMIN_AUTH, 'content-type': 'application/json; charset=utf-16' });
    assertError(t, utf16, 415, errorBody(415, 'Unsupported Media Type', 'The request body must be UTF-8 (charset=utf-8, or no charset), not charset=utf-16'));
    const latin1 = await post(app, body, { authorization: ADMIN_AUTH, 'content-type': 'application/json; charset=ISO-8859-1' });
    assertError(t, latin1, 415, errorBody(415, 'Unsupported Media Type', 'The request body must be UTF-8 (charset=utf-8, or no charset), not charset=ISO-8859-1'));
    for (const coding of ['gzip', 'br', 'deflate']) {
      const res = await post(app, gzipSync(body), { authorization: ADMIN_AUTH, 'content-type': 'application/json', 'content-encoding': coding });
      assertError(t, res, 415, errorBody(415, 'Unsupported Media Type', `Content-Encoding ${coding} is not supported: send the request body uncompressed`));
      t.equal(res.headers['accept-encoding'], 'identity', 'Accept-Encoding says what is taken (RFC 9110 §15.5.16)');
    }
    // Refused before the body is read, whatever its size; but, like every judgement of the body,
    // only once the caller is known (test/http/auth-order.test.ts): without credentials, 401.
    const big = await post(app, JSON.stringify({ pad: 'x'.repeat(70_000) }), { authorization: ADMIN_AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' });
    t.equal(big.statusCode, 415, big.body);
    const anonymous = await post(app, gzipSync(body), { 'content-type': 'application/json; charset=utf-16', 'content-encoding': 'gzip' });
    t.equal(anonymous.statusCode, 401, anonymous.body);
    const identity = await post(app, JSON.stringify({ ...VALID, clientName: 'identity_app' }), { authorization: ADMIN_AUTH, 'content-type': 'application/json; charset="UTF-8"', 'content-encoding': 'identity' });
    t.equal(identity.statusCode, 200, `identity and a quoted UTF-8 are read: ${identity.body}`);
    t.equal(await countApps(db), before + 1, 'only the identity one stored');
  });

  t.test('415 for bodies that are not JSON, nothing stored', async (t) => {
    const before = await countApps(db);
    const unsupported = errorBody(415, 'Unsupported Media Type', 'The request body must be application/json');
    for (const [contentType, payload] of [
      ['text/plain', JSON.stringify({ ...VALID, clientName: 'text_app' })],
      ['text/plain; charset=utf-8', 'clientName=text_app'],
      ['application/x-www-form-urlencoded', 'clientName=form_app&owner=admin&grantType=password'],
      ['application/xml', '<DCR><clientName>xml_app</clientName></DCR>'],
    ] as const) {
      t.test(contentType, async (t) => {
        const res = await post(app, payload, { authorization: ADMIN_AUTH, 'content-type': contentType });
        assertError(t, res, 415, unsupported);
      });
    }
    await t.test('count', async (t) => t.equal(await countApps(db), before));
  });

  t.test('405 with Allow: POST for the other methods on /register', async (t) => {
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE'] as const) {
      t.test(method, async (t) => {
        const withBody = method === 'PUT' || method === 'PATCH';
        const res = await app.inject({
          method,
          url: REGISTER,
          headers: { authorization: ADMIN_AUTH },
          ...(withBody ? { payload: VALID } : {}),
        });
        assertError(t, res, 405, errorBody(405, 'Method Not Allowed', `Method ${method} is not allowed on this resource`));
        t.equal(res.headers.allow, 'POST');
      });
    }
    t.test('without credentials too', async (t) => {
      const res = await app.inject({ method: 'GET', url: REGISTER });
      assertError(t, res, 405, errorBody(405, 'Method Not Allowed', 'Method GET is not allowed on this resource'));
      t.equal(res.headers.allow, 'POST');
    });
  });

  t.test('405 with Allow: POST for every method Node parses, answered before any body is read', async (t) => {
    // TRACE, PROPFIND and M-SEARCH were 404, QUERY without a Content-Type a 400: only seven
    // methods were routed. A body of a type no route reads, or above the limit, does not turn the
    // 405 into a 415 or a 413 either.
    const bodies: [string, Record<string, string>, string | undefined][] = [
      ['no body', {}, undefined],
      ['an XML body', { 'content-type': 'text/xml' }, '<DCR/>'],
      ['a body above the limit', { 'content-type': 'application/json' }, JSON.stringify({ pad: 'x'.repeat(70_000) })],
    ];
    for (const method of METHODS.filter((method) => method !== 'POST')) {
      t.test(method, async (t) => {
        for (const [label, headers, payload] of bodies) {
          const res = await app.inject({ method: method as 'GET', url: REGISTER, headers: { authorization: ADMIN_AUTH, ...headers }, payload });
          t.equal(res.headers.allow, 'POST', `${label}: Allow`);
          if (method === 'HEAD') t.equal(res.statusCode, 405, `${label}: 405 (no body)`);
          else assertError(t, res, 405, errorBody(405, 'Method Not Allowed', `Method ${method} is not allowed on this resource`));
        }
      });
    }
  });

  t.test('404 for an unknown path is answered before any body is read', async (t) => {
    // QUERY without a Content-Type was a 400, an XML body a 415, a large one a 413.
    for (const [method, headers, payload] of [
      ['QUERY', {}, undefined],
      ['POST', { 'content-type': 'text/xml' }, '<DCR/>'],
      ['PUT', { 'content-type': 'application/json' }, JSON.stringify({ pad: 'x'.repeat(70_000) })],
    ] as const) {
      const url = '/client-registration/v0.17/nope';
      const res = await app.inject({ method, url, headers: { authorization: ADMIN_AUTH, ...headers }, payload });
      t.test(method, async (t) => assertError(t, res, 404, errorBody(404, 'Not Found', `No resource at ${url}`)));
    }
  });

  t.test('404 with the Error body for unknown paths', async (t) => {
    for (const [method, url] of [
      ['GET', '/nope'],
      ['POST', '/client-registration/v0.17/registers'],
      ['POST', '/client-registration/v0.17/register/extra'],
      ['POST', '/client-registration/v0.16/register'],
    ] as const) {
      t.test(`${method} ${url}`, async (t) => {
        const res = await app.inject({ method, url, headers: { authorization: ADMIN_AUTH }, ...(method === 'POST' ? { payload: VALID } : {}) });
        assertError(t, res, 404, errorBody(404, 'Not Found', `No resource at ${url}`));
      });
    }
  });
});

t.test('413 for a body above the limit', async (t) => {
  const small = await buildTestApp(t, { bodyLimit: 2048 });
  const app = small.app;
  const db = small.db;
  const before = await countApps(db);

  const big = JSON.stringify({ ...VALID, clientName: 'x'.repeat(3000) });
  t.ok(Buffer.byteLength(big) > 2048);
  const res = await post(app, big, { authorization: ADMIN_AUTH, 'content-type': 'application/json' });
  assertError(t, res, 413, errorBody(413, 'Payload Too Large', 'The request body exceeds the size limit of this server'));

  // Unauthenticated: 401, the caller is settled before the body is read (test/http/auth-order.test.ts).
  const anonymous = await post(app, big, { 'content-type': 'application/json' });
  t.equal(anonymous.statusCode, 401);
  t.equal(await countApps(db), before, 'nothing stored');

  // Just under the limit is served: the limit, not the name, was the cause.
  const underLimit = JSON.stringify({ ...VALID, clientName: 'x'.repeat(1500) });
  t.ok(Buffer.byteLength(underLimit) < 2048);
  const ok = await post(app, underLimit, { authorization: ADMIN_AUTH, 'content-type': 'application/json' });
  t.equal(ok.statusCode, 200, ok.body);
  t.equal(ok.json().clientName, 'x'.repeat(1500));
});

t.test('authentication', async (t) => {
  await createUser(app, 'alice', 'alice-Pa55word');
  const aliceBody = { clientName: 'alice_auth_app', owner: 'alice', grantType: 'password' };
  const before = await countApps(db);

  const failures: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['wrong password', { authorization: basic('alice', 'wrong-password') }],
    ['the admin with a wrong password', { authorization: basic('admin', 'alice-Pa55word') }],
    ['unknown user', { authorization: basic('nobody', 'alice-Pa55word') }],
    ['user name in another case', { authorization: basic('Alice', 'alice-Pa55word') }],
    ['empty user', { authorization: basic('', 'alice-Pa55word') }],
    ['empty password', { authorization: basic('alice', '') }],
    ['empty user and password', { authorization: basic('', '') }],
    ['Basic without credentials', { authorization: 'Basic' }],
    ['Basic with a non-base64 credential', { authorization: 'Basic !!!not-base64!!!' }],
    ['Basic credential without a colon', { authorization: `Basic ${Buffer.from('alice').toString('base64')}` }],
    ['an unknown scheme', { authorization: `Digest ${Buffer.from('alice:alice-Pa55word').toString('base64')}` }],
    ['a Bearer token this server never issued', { authorization: 'Bearer 0123456789abcdef0123456789abcdef' }],
    ['a Bearer JWT this server never signed', { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.' }],
    ['a Bearer scheme without a token', { authorization: 'Bearer' }],
    ['a Bearer holding Basic credentials', { authorization: `Bearer ${Buffer.from('alice:alice-Pa55word').toString('base64')}` }],
  ];

  for (const [name, headers] of failures) {
    t.test(name, async (t) => {
      const res = await post(app, aliceBody, headers);
      assertError(t, res, 401, UNAUTHORIZED);
      const challenge = [res.headers['www-authenticate'] ?? []].flat().join(', ');
      t.match(challenge, /(^|,\s*)Basic\b/, 'a Basic challenge');
      t.match(challenge, /(^|,\s*)Bearer\b/, 'a Bearer challenge');
    });
  }

  t.test('every failure answers the very same body and challenge', async (t) => {
    const answers = await Promise.all(failures.map(([, headers]) => post(app, aliceBody, headers)));
    const first = answers[0]!;
    for (const res of answers) {
      t.equal(res.statusCode, 401);
      t.equal(res.body, first.body);
      t.strictSame(res.headers['www-authenticate'], first.headers['www-authenticate']);
    }
  });

  t.test('the registration rules are not evaluated for an unauthenticated caller', async (t) => {
    // {} breaks rule 1, an unknown owner rule 2: without valid credentials both are just 401.
    assertError(t, await post(app, {}, {}), 401, UNAUTHORIZED);
    assertError(t, await post(app, { ...aliceBody, owner: 'ghost' }, { authorization: basic('alice', 'nope-nope') }), 401, UNAUTHORIZED);
  });

  t.test('nothing is stored by a rejected caller', async (t) => {
    t.equal(await countApps(db), before);
  });

  t.test('Bearer tokens from /oauth2/token: with apim:dcr:app_manage they pass, without it 401', async (t) => {
    const client = await post(app, { clientName: 'alice_token_client', owner: 'alice', grantType: 'password refresh_token' }, {
      authorization: basic('alice', 'alice-Pa55word'),
    });
    t.equal(client.statusCode, 200, client.body);
    const { clientId, clientSecret } = client.json() as { clientId: string; clientSecret: string };
    const token = async (scope: string) => {
      const res = await app.inject({
        method: 'POST',
        url: '/oauth2/token',
        headers: { authorization: basic(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'alice-Pa55word', scope }).toString(),
      });
      t.equal(res.statusCode, 200, res.body);
      return (res.json() as { access_token: string }).access_token;
    };
    const withScope = await token('apim:dcr:app_manage');
    const withoutScope = await token('openid');
    const counted = await countApps(db);

    const refused = await post(app, { ...aliceBody, clientName: 'alice_bearer_app' }, { authorization: `Bearer ${withoutScope}` });
    assertError(t, refused, 401, UNAUTHORIZED);
    const challenge = [refused.headers['www-authenticate'] ?? []].flat().join(', ');
    t.match(challenge, /Basic/);
    t.match(challenge, /Bearer/);
    t.equal(await countApps(db), counted, 'nothing stored');

    const res = await post(app, { ...aliceBody, clientName: 'alice_bearer_app' }, { authorization: `Bearer ${withScope}` });
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.json().appOwner, 'alice');
    // The token acts for alice: the same rules as her password.
    const other = await post(app, { ...aliceBody, clientName: 'alice_bearer_app2', owner: 'bob' }, { authorization: `Bearer ${withScope}` });
    assertError(t, other, 400, errorBody(400, 'Bad Request', "Logged in user 'alice' and application owner 'bob' should be same.", [
      { code: 'owner', message: "Logged in user 'alice' and application owner 'bob' should be same." },
    ]));
    t.equal(await countApps(db), counted + 1);
  });

  t.test('the right credentials pass', async (t) => {
    const res = await post(app, aliceBody, { authorization: basic('alice', 'alice-Pa55word') });
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.json().appOwner, 'alice');
    const admin = await post(app, { ...VALID, clientName: 'admin_auth_app' }, { authorization: basic('admin', ADMIN_PASSWORD) });
    t.equal(admin.statusCode, 200, admin.body);
    t.equal(await countApps(db), before + 4, 'two here, two in the Bearer test');
  });
});
