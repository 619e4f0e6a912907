/**
 * POST /client-registration/v0.17/register on the wire: the request body,
 * the 200 response (§5) and secrets at rest. Rules are in register-rules, transport and
 * authentication in register-transport.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { ADMIN_AUTH, buildTestApp } from '../fixtures/app.js';

const REGISTER = '/client-registration/v0.17/register';
type Db = Awaited<ReturnType<typeof buildTestApp>>['db'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const WSO2_TOKEN = /^[A-Za-z0-9_]{28}$/;
const RESULT_KEYS = [
  'appOwner',
  'applicationUUID',
  'callBackURL',
  'callbackUrl',
  'clientId',
  'clientName',
  'clientSecret',
  'isSaasApplication',
  'jsonAppAttribute',
  'jsonString',
  'tokenType',
];

interface DcrResult {
  clientId: string;
  clientSecret: string;
  clientName: string;
  applicationUUID: string;
  jsonString: string;
  isSaasApplication: boolean;
  tokenType: string;
  [key: string]: unknown;
}

function errorBody(code: number, message: string, description: string, error: unknown[] = []) {
  return { code, message, description, moreInfo: '', error };
}

function badRequest(description: string, error: unknown[] = []) {
  return errorBody(400, 'Bad Request', description, error);
}

function assertError(t: Test, res: LightMyRequestResponse, status: number, body: unknown): void {
  t.equal(res.statusCode, status, res.body);
  t.match(res.headers['content-type'], /^application\/json(;|$)/);
  t.strictSame(res.json(), body);
}

interface Expected {
  clientName: string;
  owner: string;
  grantTypes: string;
  callback?: string | null;
  saas?: boolean;
  tokenType?: string;
}

/** A 200 carrying exactly the DCRResult of §5 for `expected`; the random values are checked by shape. */
function assertApp(t: Test, res: LightMyRequestResponse, expected: Expected): DcrResult {
  t.equal(res.statusCode, 200, res.body);
  t.match(res.headers['content-type'], /^application\/json(;|$)/);
  t.equal(res.headers['cache-control'], 'no-store');
  const body = res.json() as DcrResult;
  t.strictSame(Object.keys(body).sort(), RESULT_KEYS);
  t.match(body.clientId, WSO2_TOKEN);
  t.match(body.clientSecret, WSO2_TOKEN);
  t.not(body.clientId, body.clientSecret);
  t.match(body.applicationUUID, UUID);
  const callback = expected.callback ?? null;
  t.strictSame(body, {
    clientId: body.clientId,
    clientSecret: body.clientSecret,
    clientName: expected.clientName,
    callBackURL: callback,
    callbackUrl: callback,
    isSaasApplication: expected.saas ?? false,
    appOwner: expected.owner,
    jsonString: body.jsonString,
    jsonAppAttribute: '{}',
    applicationUUID: body.applicationUUID,
    tokenType: expected.tokenType ?? 'DEFAULT',
  });
  t.type(body.jsonString, 'string');
  t.strictSame(JSON.parse(body.jsonString), {
    grant_types: expected.grantTypes,
    redirect_uris: callback,
    client_name: expected.clientName,
  });
  return body;
}

async function countApps(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM applications');
  return rows[0]!.n;
}

function post(app: FastifyInstance, payload: unknown) {
  return app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH }, payload: payload as string });
}

/** A raw body sent as application/json, byte for byte. */
function postRaw(app: FastifyInstance, raw: string) {
  return app.inject({
    method: 'POST',
    url: REGISTER,
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
    payload: raw,
  });
}

let seq = 0;
/** A fresh valid body: each call names a new application. */
function body(extra: Record<string, unknown> = {}): Record<string, unknown> {
  seq += 1;
  return { clientName: `body_app_${seq}`, owner: 'admin', grantType: 'client_credentials', ...extra };
}

// One app and database for the whole file: every test names its own applications.
const { app, db } = await buildTestApp(t);

t.test('request body', async (t) => {
  t.test('an unknown key is 400 naming it', async (t) => {
    const before = await countApps(db);
    assertError(t, await post(app, body({ foo: 'bar' })), 400, badRequest("Unrecognized property 'foo'", [
      { code: 'foo', message: "Unrecognized property 'foo'" },
    ]));
    // Checked before the rules: an otherwise empty body names the key, not the missing owner.
    assertError(t, await post(app, { foo: 1 }), 400, badRequest("Unrecognized property 'foo'", [
      { code: 'foo', message: "Unrecognized property 'foo'" },
    ]));
    // Keys are case-sensitive: a near miss of a real key is unknown too.
    assertError(t, await post(app, body({ ClientName: 'x' })), 400, badRequest("Unrecognized property 'ClientName'", [
      { code: 'ClientName', message: "Unrecognized property 'ClientName'" },
    ]));
    t.equal(await countApps(db), before, 'nothing stored');
  });

  t.test('bodies that are not a JSON object are 400', async (t) => {
    const before = await countApps(db);
    const notJson = badRequest('The request body is not valid JSON');
    const notObject = badRequest('The request body must be a JSON object', [
      { code: 'body', message: 'The request body must be a JSON object' },
    ]);
    const cases: [string, string, unknown][] = [
      ['malformed JSON', '{"clientName": "x", "owner": ', notJson],
      ['trailing garbage', '{"clientName": "x"} x', notJson],
      ['single quotes', "{'clientName': 'x'}", notJson],
      ['a top-level array', JSON.stringify([body()]), notObject],
      ['an empty array', '[]', notObject],
      ['null', 'null', notObject],
      ['a JSON string', JSON.stringify('{"clientName":"x"}'), notObject],
      ['a JSON number', '42', notObject],
      ['a JSON boolean', 'true', notObject],
    ];
    for (const [name, raw, expected] of cases) {
      t.test(name, async (t) => assertError(t, await postRaw(app, raw), 400, expected));
    }
    t.test('nothing stored', async (t) => t.equal(await countApps(db), before));
  });

  t.test('an array or object where a string belongs is 400 naming the field', async (t) => {
    const before = await countApps(db);
    for (const field of ['clientName', 'owner', 'grantType', 'callbackUrl', 'tokenType']) {
      for (const value of [['x'], { a: 'x' }]) {
        const res = await post(app, body({ [field]: value }));
        assertError(t, res, 400, badRequest(`'${field}' must be string`, [{ code: field, message: `'${field}' must be string` }]));
      }
    }
    t.equal(await countApps(db), before, 'nothing stored');
  });

  t.test('a number where a string belongs is read as its decimal string', async (t) => {
    const res = await post(app, { clientName: 123, owner: 'admin', grantType: 'password' });
    assertApp(t, res, { clientName: '123', owner: 'admin', grantTypes: 'password' });
    const again = await post(app, { clientName: '123', owner: 'admin', grantType: 'password' });
    t.equal(again.statusCode, 200);
    t.equal(again.json().clientId, res.json().clientId, 'stored under the name "123"');
    const { rows } = await db.query<{ client_name: string }>('SELECT client_name FROM applications WHERE client_name = $1', ['123']);
    t.strictSame(rows, [{ client_name: '123' }]);
  });

  t.test('an empty body is 400', async (t) => {
    const before = await countApps(db);
    assertError(t, await postRaw(app, ''), 400, badRequest('The request body is empty'));
    // No body and no content type at all.
    const bare = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH } });
    assertError(t, bare, 400, badRequest('The request body is required and must be a JSON object'));
    t.equal(await countApps(db), before, 'nothing stored');
  });

  t.test('{} is 400 "Application owner cannot be empty"', async (t) => {
    const before = await countApps(db);
    assertError(t, await post(app, {}), 400, errorBody(400, 'Application owner cannot be empty', 'Application owner cannot be empty', [
      { code: 'owner', message: 'Application owner cannot be empty' },
    ]));
    t.equal(await countApps(db), before, 'nothing stored');
  });

  t.test('saasApp coercions', async (t) => {
    const cases: [string, Record<string, unknown>, boolean][] = [
      ['true', { saasApp: true }, true],
      ['"true"', { saasApp: 'true' }, true],
      ['"TRUE"', { saasApp: 'TRUE' }, true],
      ['"True"', { saasApp: 'True' }, true],
      ['1', { saasApp: 1 }, true],
      ['absent', {}, false],
      ['null', { saasApp: null }, false],
      ['false', { saasApp: false }, false],
      ['"false"', { saasApp: 'false' }, false],
      ['"FALSE"', { saasApp: 'FALSE' }, false],
      ['0', { saasApp: 0 }, false],
      ['""', { saasApp: '' }, false],
    ];
    for (const [name, extra, expected] of cases) {
      t.test(name, async (t) => {
        const request = body(extra);
        const res = await post(app, request);
        assertApp(t, res, { clientName: request.clientName as string, owner: 'admin', grantTypes: 'client_credentials', saas: expected });
        const { rows } = await db.query<{ saas_app: boolean }>('SELECT saas_app FROM applications WHERE client_name = $1', [request.clientName]);
        t.strictSame(rows, [{ saas_app: expected }]);
      });
    }
    for (const value of ['yes', 'no', 2, 'on', ['true'], { v: true }]) {
      t.test(`${JSON.stringify(value)} is 400`, async (t) => {
        const before = await countApps(db);
        const res = await post(app, body({ saasApp: value }));
        assertError(t, res, 400, badRequest("'saasApp' must be boolean", [{ code: 'saasApp', message: "'saasApp' must be boolean" }]));
        t.equal(await countApps(db), before, 'nothing stored');
      });
    }
  });

  t.test('tokenType: absent, empty or null means DEFAULT; a value is kept', async (t) => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['absent', {}, 'DEFAULT'],
      ['empty', { tokenType: '' }, 'DEFAULT'],
      ['null', { tokenType: null }, 'DEFAULT'],
      ['DEFAULT', { tokenType: 'DEFAULT' }, 'DEFAULT'],
      ['JWT', { tokenType: 'JWT' }, 'JWT'],
    ];
    for (const [name, extra, expected] of cases) {
      t.test(name, async (t) => {
        const request = body(extra);
        assertApp(t, await post(app, request), { clientName: request.clientName as string, owner: 'admin', grantTypes: 'client_credentials', tokenType: expected });
        const { rows } = await db.query<{ token_type: string }>('SELECT token_type FROM applications WHERE client_name = $1', [request.clientName]);
        t.strictSame(rows, [{ token_type: expected }]);
      });
    }
  });

  t.test('userStoreDomainInSubject in both spellings', async (t) => {
    const cases: [string, Record<string, unknown>, boolean][] = [
      ['absent', {}, false],
      ['userStoreDomainInSubject: true', { userStoreDomainInSubject: true }, true],
      ['userstoreDomainInSubject: true', { userstoreDomainInSubject: true }, true],
      ['userStoreDomainInSubject: "TRUE"', { userStoreDomainInSubject: 'TRUE' }, true],
      ['userstoreDomainInSubject: false', { userstoreDomainInSubject: false }, false],
      ['userStoreDomainInSubject: 0', { userStoreDomainInSubject: 0 }, false],
    ];
    for (const [name, extra, expected] of cases) {
      t.test(name, async (t) => {
        const request = body(extra);
        assertApp(t, await post(app, request), { clientName: request.clientName as string, owner: 'admin', grantTypes: 'client_credentials' });
        const { rows } = await db.query<{ v: boolean }>(
          'SELECT user_store_domain_in_subject AS v FROM applications WHERE client_name = $1',
          [request.clientName],
        );
        t.strictSame(rows, [{ v: expected }]);
      });
    }
    t.test('"yes" is 400 in either spelling', async (t) => {
      for (const key of ['userStoreDomainInSubject', 'userstoreDomainInSubject']) {
        assertError(t, await post(app, body({ [key]: 'yes' })), 400, badRequest(`'${key}' must be boolean`, [
          { code: key, message: `'${key}' must be boolean` },
        ]));
      }
    });
  });

  t.test('legacy keys are accepted and ignored', async (t) => {
    const legacy: Record<string, unknown> = {
      tokenScope: 'Production',
      applicationType: 'web',
      logoUri: 'https://example.com/logo.png',
      subjectType: 'public',
      sectorIdentifierUri: 'https://example.com/sector.json',
      tokenEndpointAuthMethod: 'client_secret_basic',
      jwksUri: 'https://example.com/jwks',
      audience: ['https://api.example.com'],
      redirectUris: ['https://example.com/cb'],
      contacts: ['ops@example.com'],
      requestUris: ['https://example.com/req'],
    };
    for (const [key, value] of Object.entries(legacy)) {
      t.test(key, async (t) => {
        const request = body({ [key]: value });
        assertApp(t, await post(app, request), { clientName: request.clientName as string, owner: 'admin', grantTypes: 'client_credentials' });
      });
    }
    t.test('all of them at once, with other value types', async (t) => {
      const request = body({
        ...legacy,
        tokenScope: ['a', 'b'],
        audience: 'https://api.example.com',
        contacts: null,
        requestUris: { x: 1 },
        grantType: 'authorization_code password',
      });
      // redirectUris is not a callback: authorization_code is still dropped, callBackURL stays null.
      assertApp(t, await post(app, request), { clientName: request.clientName as string, owner: 'admin', grantTypes: 'password' });
    });
  });

  t.test('prototype-pollution keys are 400 and pollute nothing', async (t) => {
    const before = await countApps(db);
    const valid = '"clientName":"proto_app","owner":"admin","grantType":"password"';
    const cases: [string, string][] = [
      ['__proto__', `{"__proto__":{"polluted":true},${valid}}`],
      ['__proto__ holding a rule-breaking owner', `{${valid},"__proto__":{"owner":"alice"}}`],
      ['constructor.prototype', `{"constructor":{"prototype":{"polluted":true}},${valid}}`],
      ['nested __proto__', `{${valid},"tokenScope":{"__proto__":{"polluted":true}}}`],
      ['nested constructor.prototype', `{${valid},"audience":{"constructor":{"prototype":{"polluted":true}}}}`],
      ['an escaped __proto__', `{${valid},"\\u005f_proto__":{"polluted":true}}`],
    ];
    for (const [name, raw] of cases) {
      t.test(name, async (t) => {
        const res = await postRaw(app, raw);
        // Valid JSON: the key is the reason, and the answer says so (it was "not valid JSON").
        assertError(t, res, 400, badRequest('The request body holds a key this server refuses: __proto__, or constructor holding prototype (prototype pollution)'));
        t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
      });
    }
    t.test('nothing stored', async (t) => t.equal(await countApps(db), before));
  });
});

t.test('the 200 response', async (t) => {
  t.test('without a callback', async (t) => {
    const res = await post(app, {
      clientName: 'rest_api_publisher',
      owner: 'admin',
      grantType: 'client_credentials password refresh_token',
      saasApp: true,
    });
    assertApp(t, res, {
      clientName: 'rest_api_publisher',
      owner: 'admin',
      grantTypes: 'client_credentials password refresh_token',
      saas: true,
    });
    t.equal(res.json().callBackURL, null);
    t.equal(res.json().callbackUrl, null);
    t.equal(res.headers.pragma, 'no-cache');
  });

  t.test('with a callback and JWT tokens', async (t) => {
    const res = await post(app, {
      clientName: 'my web app',
      owner: 'admin',
      grantType: 'authorization_code refresh_token',
      callbackUrl: 'https://example.com/callback',
      tokenType: 'JWT',
    });
    const result = assertApp(t, res, {
      clientName: 'my web app',
      owner: 'admin',
      grantTypes: 'authorization_code refresh_token',
      callback: 'https://example.com/callback',
      tokenType: 'JWT',
    });
    t.equal(result.callBackURL, result.callbackUrl);
  });

  t.test('every registration gets its own id, secret and UUID', async (t) => {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const result = assertApp(t, await post(app, { clientName: `unique_${i}`, owner: 'admin', grantType: 'password' }), {
        clientName: `unique_${i}`,
        owner: 'admin',
        grantTypes: 'password',
      });
      for (const value of [result.clientId, result.clientSecret, result.applicationUUID]) {
        t.notOk(seen.has(value), 'not seen before');
        seen.add(value);
      }
    }
  });

  t.test('the same name again answers the same body', async (t) => {
    const request = { clientName: 'repeat_me', owner: 'admin', grantType: 'password', callbackUrl: 'https://a/cb' };
    const first = assertApp(t, await post(app, request), { clientName: 'repeat_me', owner: 'admin', grantTypes: 'password', callback: 'https://a/cb' });
    const second = assertApp(t, await post(app, request), { clientName: 'repeat_me', owner: 'admin', grantTypes: 'password', callback: 'https://a/cb' });
    t.strictSame(second, first);
  });
});

t.test('client secrets are not stored in plaintext', async (t) => {
  const secrets: string[] = [];
  for (const name of ['secret_a', 'secret_b', 'secret_c']) {
    const res = await post(app, { clientName: name, owner: 'admin', grantType: 'client_credentials', callbackUrl: 'https://x/cb' });
    t.equal(res.statusCode, 200, res.body);
    secrets.push((res.json() as DcrResult).clientSecret);
  }
  // Returned again on the "same name" path: still the plaintext only on the wire.
  const again = await post(app, { clientName: 'secret_a', owner: 'admin', grantType: 'client_credentials' });
  t.equal(again.json().clientSecret, secrets[0]);

  const { rows } = await db.query<{ client_name: string }>('SELECT * FROM applications');
  t.equal(rows.filter((row) => row.client_name.startsWith('secret_')).length, 3);
  const dump = JSON.stringify(rows);
  for (const secret of secrets) {
    t.notOk(dump.includes(secret), 'the plaintext secret is nowhere in the rows');
    t.notOk(dump.includes(Buffer.from(secret).toString('base64')), 'nor its base64');
    t.notOk(dump.includes(Buffer.from(secret).toString('hex')), 'nor its hex');
  }
  // And every row is readable with the service's key: the stored form is the encrypted secret.
  const { rows: envelopes } = await db.query<{ client_secret_enc: string }>(
    "SELECT client_secret_enc FROM applications WHERE client_name LIKE 'secret\\_%'",
  );
  t.equal(envelopes.length, 3);
  for (const { client_secret_enc } of envelopes) t.ok(client_secret_enc.length > 28, 'an envelope, not a bare secret');
});

t.test('both keys of a new app are time-ordered: UUIDv7 and a client id prefixed by its second', async (t) => {
  const made: DcrResult[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await post(app, body());
    t.equal(res.statusCode, 200, res.body);
    made.push(res.json() as DcrResult);
    // Apart by more than a second, so that the client ids' prefixes differ too.
    if (i < 2) await new Promise((resolve) => setTimeout(resolve, 1_100));
  }
  const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  for (const { applicationUUID } of made) t.match(applicationUUID, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'RFC 9562 version 7');
  const ids = made.map((result) => result.applicationUUID);
  t.same([...ids].sort(), ids, 'later apps sort after earlier ones');
  const clientIds = made.map((result) => result.clientId);
  t.same([...clientIds].sort(byteOrder), clientIds, 'so do their client ids, byte by byte');
  t.equal(new Set(clientIds.map((id) => id.slice(0, 6))).size, 3, 'one time prefix per second');
  const { rows } = await db.query<{ id: string }>('SELECT id FROM applications WHERE client_id = ANY($1)', [clientIds]);
  t.same(rows.map((row) => row.id).sort(), [...ids].sort(), 'applicationUUID is the row id');
});
