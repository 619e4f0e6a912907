/**
 * /scim2/Users (RFC 7643/7644 subset, spec/platform-api.yaml) and the health probes, through
 * app.inject: exact status, headers and bodies as they leave the server.
 */
import { randomUUID } from 'node:crypto';
import { METHODS } from 'node:http';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Database } from '../../src/db/database.js';
import { ADMIN, ADMIN_AUTH, FAST_HASHER, PUBLIC_URL, basic, buildTestApp, createUser } from '../fixtures/app.js';

const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ERROR_URN = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST_URN = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const SCIM_TYPE = 'application/scim+json; charset=utf-8';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const REGISTER = '/client-registration/v0.17/register';

interface ScimUser {
  schemas: string[];
  id: string;
  userName: string;
  meta: { resourceType: string; created: string; lastModified: string; location: string };
}

interface ListResponse {
  schemas: string[];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: ScimUser[];
}

function createRequest(body: unknown, options: { auth?: string | null; contentType?: string } = {}): InjectOptions {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/scim+json' };
  if (options.auth !== null) headers.authorization = options.auth ?? ADMIN_AUTH;
  return {
    method: 'POST',
    url: '/scim2/Users',
    headers,
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

async function countUsers(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM users');
  return Number(rows[0]!.n);
}

/** A SCIM error body (RFC 7644 §3.12) with the given status, scimType (or none) and some detail. */
function assertScimError(t: Test, res: LightMyRequestResponse, status: number, scimType?: string): void {
  t.equal(res.statusCode, status, res.body);
  t.equal(res.headers['content-type'], SCIM_TYPE);
  t.equal(res.headers['cache-control'], 'no-store', 'SCIM errors are not cached');
  const body = res.json() as Record<string, unknown>;
  t.strictSame(Object.keys(body).sort(), scimType ? ['detail', 'schemas', 'scimType', 'status'] : ['detail', 'schemas', 'status']);
  t.strictSame(body.schemas, [ERROR_URN]);
  t.equal(body.status, String(status));
  if (scimType) t.equal(body.scimType, scimType);
  t.type(body.detail, 'string');
  t.ok((body.detail as string).length > 0, 'detail says what is wrong');
}

/** The exact wire shape of one user resource. */
function assertScimUser(t: Test, body: ScimUser, expected: { id?: string; userName: string }): void {
  t.strictSame(Object.keys(body).sort(), ['id', 'meta', 'schemas', 'userName']);
  t.strictSame(body.schemas, [USER_URN]);
  t.match(body.id, UUID);
  if (expected.id) t.equal(body.id, expected.id);
  t.equal(body.userName, expected.userName);
  t.strictSame(Object.keys(body.meta).sort(), ['created', 'lastModified', 'location', 'resourceType']);
  t.equal(body.meta.resourceType, 'User');
  t.match(body.meta.created, ISO_DATE);
  t.match(body.meta.lastModified, ISO_DATE);
  t.ok(body.meta.location.endsWith(`/scim2/Users/${body.id}`), `location ${body.meta.location}`);
  t.equal(body.meta.location, `${PUBLIC_URL}/scim2/Users/${body.id}`, 'built from the public URL');
}

// One app over one database for the file (CREATE DATABASE costs about a second); the tests use
// distinct user names and count rows relative to their own start. Paging gets its own database.
const { app, db } = await buildTestApp(t);

t.test('POST /scim2/Users creates a user (201)', async (t) => {

  for (const contentType of ['application/scim+json', 'application/json']) {
    t.test(`with ${contentType}`, async (t) => {
      const userName = contentType === 'application/json' ? 'json-user' : 'scim-user';
      const password = `Pw-${userName}-S3cret`;
      const res = await app.inject(createRequest({ schemas: [USER_URN], userName, password }, { contentType }));
      t.equal(res.statusCode, 201, res.body);
      t.equal(res.headers['content-type'], SCIM_TYPE);
      const body = res.json() as ScimUser;
      assertScimUser(t, body, { userName });
      t.equal(body.meta.created, body.meta.lastModified, 'a new user was never modified');
      t.equal(res.headers.location, body.meta.location, 'Location header equals meta.location');
      t.notOk(res.body.includes(password), 'the password is not in the body');
      t.notOk(res.body.includes('password'), 'no password attribute at all');
      t.notOk(JSON.stringify(res.headers).includes(password), 'the password is not in a header');
    });
  }

  t.test('extra SCIM attributes are accepted and ignored', async (t) => {
    const res = await app.inject(
      createRequest({
        schemas: [USER_URN, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
        userName: 'with.extras',
        password: 'extras-Secret-1',
        name: { givenName: 'Ex', familyName: 'Tras' },
        emails: [{ value: 'x@example.com', primary: true }],
      }),
    );
    t.equal(res.statusCode, 201, res.body);
    assertScimUser(t, res.json() as ScimUser, { userName: 'with.extras' });
  });

  t.test('the created user reads back identically', async (t) => {
    const res = await app.inject(createRequest({ schemas: [USER_URN], userName: 'readback', password: 'readback-1' }));
    const created = res.json() as ScimUser;
    const get = await app.inject({ method: 'GET', url: `/scim2/Users/${created.id}`, headers: { authorization: ADMIN_AUTH } });
    t.equal(get.statusCode, 200);
    t.strictSame(get.json(), created);
  });
});

t.test('POST /scim2/Users 409 on a duplicate userName', async (t) => {
  await createUser(app, 'alice', 'alice-Secret-1');
  const before = await countUsers(db);

  for (const userName of ['alice', 'ALICE', 'Alice', ADMIN, ADMIN.toUpperCase()]) {
    const res = await app.inject(createRequest({ schemas: [USER_URN], userName, password: 'other-Secret-2' }));
    t.test(userName, async (t) => {
      assertScimError(t, res, 409, 'uniqueness');
      t.notOk(res.body.includes('other-Secret-2'));
    });
  }
  t.test('no row written by a rejected create', async (t) => {
    t.equal(await countUsers(db), before);
  });
});

t.test('POST /scim2/Users 400 on an invalid body, writing nothing', async (t) => {
  const before = await countUsers(db);
  const valid = { schemas: [USER_URN], userName: 'valid-name', password: 'valid-Secret-1' };

  const cases: [string, unknown, string, string?][] = [
    ['missing userName', { schemas: [USER_URN], password: 'valid-Secret-1' }, 'invalidValue'],
    ['missing password', { schemas: [USER_URN], userName: 'valid-name' }, 'invalidValue'],
    ['missing schemas', { userName: 'valid-name', password: 'valid-Secret-1' }, 'invalidValue'],
    ['empty schemas', { ...valid, schemas: [] }, 'invalidValue'],
    ['schemas without the User URN', { ...valid, schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'] }, 'invalidValue'],
    ['schemas not an array', { ...valid, schemas: USER_URN }, 'invalidValue'],
    ['password too short (4)', { ...valid, password: 'abcd' }, 'invalidValue'],
    ['empty password', { ...valid, password: '' }, 'invalidValue'],
    ['password too long (1025)', { ...valid, password: 'x'.repeat(1025) }, 'invalidValue'],
    ['userName with a space', { ...valid, userName: 'bad name' }, 'invalidValue'],
    ['userName with a tab', { ...valid, userName: 'bad\tname' }, 'invalidValue'],
    ["userName with ':'", { ...valid, userName: 'bad:name' }, 'invalidValue'],
    ['userName of 2 characters', { ...valid, userName: 'ab' }, 'invalidValue'],
    ['empty userName', { ...valid, userName: '' }, 'invalidValue'],
    ['userName of 65 characters', { ...valid, userName: 'a'.repeat(65) }, 'invalidValue'],
    // Names that look like another one: a letter of another script, white space at an end,
    // invisible or compatibility characters (WSO2's default user-store rule is ASCII only).
    ['userName with a Cyrillic а (аdmin)', { ...valid, userName: '\u0430dmin' }, 'invalidValue'],
    ['userName with a Greek ο (bοb)', { ...valid, userName: 'b\u03bfb' }, 'invalidValue'],
    ['userName with a leading space', { ...valid, userName: ' alice2' }, 'invalidValue'],
    ['userName with a trailing space', { ...valid, userName: 'alice2 ' }, 'invalidValue'],
    ['userName with a trailing newline', { ...valid, userName: 'alice2\n' }, 'invalidValue'],
    ['userName with a no-break space', { ...valid, userName: 'alice\u00a02' }, 'invalidValue'],
    ['userName with a zero-width space', { ...valid, userName: 'ali\u200bce' }, 'invalidValue'],
    ['userName in fullwidth letters', { ...valid, userName: '\uff41\uff4c\uff49' }, 'invalidValue'],
    ['userName with an accent', { ...valid, userName: 'jos\u00e9' }, 'invalidValue'],
    ['userName with a combining accent', { ...valid, userName: 'jose\u0301' }, 'invalidValue'],
    ['userName with a slash', { ...valid, userName: 'a/b/c' }, 'invalidValue'],
    ['userName an object', { ...valid, userName: { value: 'x' } }, 'invalidValue'],
    // Read as typed: no SCIM client needs WSO2's leniency (it created a user named "false").
    ['userName false', { ...valid, userName: false }, 'invalidValue'],
    ['userName a number', { ...valid, userName: 12345 }, 'invalidValue'],
    ['userName null', { ...valid, userName: null }, 'invalidValue'],
    ['password a number', { ...valid, password: 123456789 }, 'invalidValue'],
    ['password true', { ...valid, password: true }, 'invalidValue'],
    // RFC 7643 §3: schemas names the resource's schemas; only known URNs.
    ['schemas holding an empty string', { ...valid, schemas: [''] }, 'invalidValue'],
    ['schemas with an empty string beside User', { ...valid, schemas: [USER_URN, ''] }, 'invalidValue'],
    ['schemas with an unknown URN beside User', { ...valid, schemas: [USER_URN, 'urn:example:schemas:Nope'] }, 'invalidValue'],
    ['schemas holding a number beside User', { ...valid, schemas: [USER_URN, 1] }, 'invalidValue'],
    ['a JSON array', [valid], 'invalidValue'],
    ['malformed JSON (scim+json)', '{"schemas": [', 'invalidSyntax'],
    ['malformed JSON (json)', '{"userName": "x",}', 'invalidSyntax', 'application/json'],
  ];
  for (const [name, body, scimType, contentType] of cases) {
    t.test(name, async (t) => {
      const res = await app.inject(createRequest(body, contentType ? { contentType } : {}));
      assertScimError(t, res, 400, scimType);
      t.notOk(res.body.includes('valid-Secret-1'), 'the password is not echoed');
    });
  }

  t.test('the detail names the rule', async (t) => {
    const res = await app.inject(createRequest({ ...valid, userName: '\u0430dmin' }));
    assertScimError(t, res, 400, 'invalidValue');
    t.equal(res.json().detail, "'userName' must match pattern \"^[a-zA-Z0-9._@-]{3,64}$\"");
  });

  t.test('boundaries are accepted: 3-character userName, 5-character password, 64-character userName', async (t) => {
    for (const [userName, password] of [
      ['abc', 'abcde'],
      ['b'.repeat(64), 'fivec'],
    ] as const) {
      const res = await app.inject(createRequest({ schemas: [USER_URN], userName, password }));
      t.equal(res.statusCode, 201, res.body);
    }
  });
  t.test('every character the rule allows: a tenant user name', async (t) => {
    const res = await app.inject(createRequest({ schemas: [USER_URN], userName: 'Pub.lisher_1-x@tenant.example.com', password: 'tenant-Secret-1' }));
    t.equal(res.statusCode, 201, res.body);
    t.equal(res.json().userName, 'Pub.lisher_1-x@tenant.example.com');
  });
  t.test('only the three valid creates wrote rows', async (t) => {
    t.equal(await countUsers(db), before + 3);
  });
});

t.test('authentication and authorisation on every SCIM route', async (t) => {
  const bobId = await createUser(app, 'bob', 'bob-Secret-1');
  const bob = basic('bob', 'bob-Secret-1');
  const validBody = { schemas: [USER_URN], userName: 'carol', password: 'carol-Secret-1' };
  const routes: { name: string; request: (auth: string | null) => InjectOptions }[] = [
    { name: 'POST /scim2/Users', request: (auth) => createRequest(validBody, { auth }) },
    { name: 'GET /scim2/Users', request: (auth) => ({ method: 'GET', url: '/scim2/Users', headers: auth ? { authorization: auth } : {} }) },
    {
      name: 'GET /scim2/Users?filter',
      request: (auth) => ({
        method: 'GET',
        url: `/scim2/Users?filter=${encodeURIComponent('userName eq "bob"')}`,
        headers: auth ? { authorization: auth } : {},
      }),
    },
    { name: 'GET /scim2/Users/{id}', request: (auth) => ({ method: 'GET', url: `/scim2/Users/${bobId}`, headers: auth ? { authorization: auth } : {} }) },
    { name: 'DELETE /scim2/Users/{id}', request: (auth) => ({ method: 'DELETE', url: `/scim2/Users/${bobId}`, headers: auth ? { authorization: auth } : {} }) },
  ];
  const before = await countUsers(db);

  for (const route of routes) {
    t.test(`${route.name}: 403 for a non-admin user`, async (t) => {
      assertScimError(t, await app.inject(route.request(bob)), 403);
    });
    for (const [label, auth] of [
      ['no credentials', null],
      ['a wrong password', basic(ADMIN, 'wrong-password')],
      ['an unknown user', basic('nobody', 'bob-Secret-1')],
      ['a Bearer token', 'Bearer abc.def.ghi'],
      ['a malformed header', 'Basic !!!'],
    ] as const) {
      t.test(`${route.name}: 401 with ${label}`, async (t) => {
        const res = await app.inject(route.request(auth));
        assertScimError(t, res, 401);
        const challenge = [res.headers['www-authenticate'] ?? []].flat();
        t.ok(challenge.some((value) => /^Basic realm="/.test(String(value))), `www-authenticate: ${JSON.stringify(challenge)}`);
      });
    }
  }

  t.test('nothing changed: bob still exists and carol was not created', async (t) => {
    t.equal(await countUsers(db), before);
    const res = await app.inject({ method: 'GET', url: `/scim2/Users/${bobId}`, headers: { authorization: ADMIN_AUTH } });
    t.equal(res.statusCode, 200);
  });
});

t.test('GET /scim2/Users/{id}', async (t) => {
  const id = await createUser(app, 'dave', 'dave-Secret-1');

  t.test('200 with the user', async (t) => {
    const res = await app.inject({ method: 'GET', url: `/scim2/Users/${id}`, headers: { authorization: ADMIN_AUTH } });
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.headers['content-type'], SCIM_TYPE);
    assertScimUser(t, res.json() as ScimUser, { id, userName: 'dave' });
    t.notOk(res.body.includes('dave-Secret-1'));
    t.notOk(res.body.includes('scrypt'), 'no password hash either');
  });

  for (const [name, unknown] of [
    ['an unknown uuid', '0b7c6d7e-1f2a-4b3c-8d9e-0f1a2b3c4d5e'],
    ['an id that is not a uuid', 'not-a-uuid'],
    ['a uuid in upper case of no user', '0B7C6D7E-1F2A-4B3C-8D9E-0F1A2B3C4D5E'],
  ]) {
    t.test(`404 for ${name}`, async (t) => {
      assertScimError(t, await app.inject({ method: 'GET', url: `/scim2/Users/${unknown}`, headers: { authorization: ADMIN_AUTH } }), 404);
    });
  }

  // Ids are UUIDs: a longer one names no user. It was a 400 in the schema's maxLength (65 to 100
  // characters) and Fastify's own 414 body beyond the router's parameter limit (101 and up).
  for (const length of [64, 65, 100, 101, 200, 2000, 12000]) {
    t.test(`404 for an id of ${length} characters, GET and DELETE`, async (t) => {
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await app.inject({ method, url: `/scim2/Users/${'a'.repeat(length)}`, headers: { authorization: ADMIN_AUTH } });
        assertScimError(t, res, 404);
      }
    });
  }
});

t.test('GET /scim2/Users?filter=userName eq "..."', async (t) => {
  const fionaId = await createUser(app, 'fiona', 'fiona-Secret-1');
  await createUser(app, 'fiona2', 'fiona2-Secret-1');
  await createUser(app, 'mfiona', 'mfiona-Secret-1');
  const list = (filter: string, query = '') =>
    app.inject({
      method: 'GET',
      url: `/scim2/Users?filter=${encodeURIComponent(filter)}${query}`,
      headers: { authorization: ADMIN_AUTH },
    });

  t.test('an exact match: one resource', async (t) => {
    const res = await list('userName eq "fiona"');
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.headers['content-type'], SCIM_TYPE);
    const body = res.json() as ListResponse;
    t.strictSame(Object.keys(body).sort(), ['Resources', 'itemsPerPage', 'schemas', 'startIndex', 'totalResults']);
    t.strictSame(body.schemas, [LIST_URN]);
    t.equal(body.totalResults, 1);
    t.equal(body.startIndex, 1);
    t.equal(body.itemsPerPage, 1);
    t.equal(body.Resources.length, 1);
    assertScimUser(t, body.Resources[0]!, { id: fionaId, userName: 'fiona' });
    const get = await app.inject({ method: 'GET', url: `/scim2/Users/${fionaId}`, headers: { authorization: ADMIN_AUTH } });
    t.strictSame(body.Resources[0], get.json(), 'the same representation as GET /scim2/Users/{id}');
  });

  t.test('operator and attribute names are case-insensitive (RFC 7644 §3.4.2.2)', async (t) => {
    for (const filter of ['USERNAME EQ "fiona"', 'username Eq "fiona"', '  userName   eq   "fiona"  ']) {
      const body = (await list(filter)).json() as ListResponse;
      t.equal(body.totalResults, 1, filter);
      t.equal(body.Resources[0]?.userName, 'fiona', filter);
    }
  });

  t.test('userName is not case-exact (RFC 7643 §4.1.1): eq ignores case', async (t) => {
    for (const name of ['FIONA', 'Fiona']) {
      const body = (await list(`userName eq "${name}"`)).json() as ListResponse;
      t.equal(body.totalResults, 1, name);
      t.equal(body.Resources[0]?.userName, 'fiona', name);
    }
  });

  t.test('whole-value match only: no prefix, suffix or substring matches', async (t) => {
    for (const name of ['fion', 'iona', 'fiona2x', '']) {
      const res = await list(`userName eq "${name}"`);
      t.equal(res.statusCode, 200, res.body);
      t.strictSame(res.json(), { schemas: [LIST_URN], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] }, name);
    }
  });

  t.test('an unknown name: totalResults 0', async (t) => {
    const res = await list('userName eq "nobody"');
    t.equal(res.statusCode, 200);
    t.strictSame(res.json(), { schemas: [LIST_URN], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
  });

  t.test('a JSON-escaped value is unescaped', async (t) => {
    const body = (await list('userName eq "\\u0066iona"')).json() as ListResponse;
    t.equal(body.totalResults, 1);
  });

  t.test('a filter match beyond startIndex still counts in totalResults', async (t) => {
    const res = await list('userName eq "fiona"', '&startIndex=2');
    t.equal(res.statusCode, 200);
    t.strictSame(res.json(), { schemas: [LIST_URN], totalResults: 1, startIndex: 2, itemsPerPage: 0, Resources: [] });
  });

  t.test('paging with a filter follows RFC 7644 §3.4.2.4 too, and answers integers only', async (t) => {
    for (const [query, startIndex, items] of [
      ['&startIndex=0', 1, 1],
      ['&startIndex=-5', 1, 1],
      ['&count=-3', 1, 0],
      ['&count=1e30', 1, 1],
      ['&startIndex=2147483647', 2147483647, 0],
    ] as const) {
      const res = await list('userName eq "fiona"', query);
      t.equal(res.statusCode, 200, `${query}: ${res.body}`);
      const body = res.json() as ListResponse;
      t.strictSame([body.totalResults, body.startIndex, body.itemsPerPage], [1, startIndex, items], query);
      t.notMatch(res.body, /:-?\d+(?:\.\d+)?[eE]/, `${query}: no number in exponent notation`);
    }
    // A huge startIndex was answered 200 with "startIndex":1e+30.
    for (const query of ['&startIndex=1e30', '&startIndex=9223372036854775808', '&startIndex=2147483648', '&count=2.5', '&count=1e400']) {
      assertScimError(t, await list('userName eq "fiona"', query), 400, 'invalidValue');
    }
  });

  for (const filter of [
    'emails co "x"',
    'userName co "fio"',
    'userName sw "fio"',
    'userName eq fiona',
    'userName eq "fiona" and userName eq "bob"',
    'userName eq "fiona" or userName eq "bob"',
    'id eq "x"',
    '',
    'userName eq "unterminated',
  ]) {
    t.test(`400 invalidFilter for ${JSON.stringify(filter)}`, async (t) => {
      assertScimError(t, await list(filter), 400, 'invalidFilter');
    });
  }
});

t.test('GET /scim2/Users without a filter pages by startIndex and count', async (t) => {
  // Its own database: the totals below count every user in it.
  const { app } = await buildTestApp(t);
  const names = ['user-1', 'user-2', 'user-3', 'user-4'];
  for (const name of names) await createUser(app, name, `${name}-Secret`);
  const everyone = [ADMIN, ...names]; // in order of creation
  const list = (query: string) => app.inject({ method: 'GET', url: `/scim2/Users${query}`, headers: { authorization: ADMIN_AUTH } });

  t.test('defaults: everyone from index 1', async (t) => {
    const res = await list('');
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.headers['content-type'], SCIM_TYPE);
    const body = res.json() as ListResponse;
    t.strictSame(body.schemas, [LIST_URN]);
    t.equal(body.totalResults, 5);
    t.equal(body.startIndex, 1);
    t.equal(body.itemsPerPage, 5);
    t.strictSame(body.Resources.map((user) => user.userName), everyone);
    for (const user of body.Resources) assertScimUser(t, user, { userName: user.userName });
  });

  for (const [query, startIndex, expected] of [
    ['?startIndex=2&count=2', 2, ['user-1', 'user-2']],
    ['?startIndex=4&count=2', 4, ['user-3', 'user-4']],
    ['?startIndex=5&count=10', 5, ['user-4']],
    ['?count=1', 1, [ADMIN]],
    ['?startIndex=6', 6, []],
    ['?startIndex=100&count=5', 100, []],
    ['?count=0', 1, []],
    ['?startIndex=3&count=0', 3, []],
  ] as const) {
    t.test(query, async (t) => {
      const res = await list(query);
      t.equal(res.statusCode, 200, res.body);
      const body = res.json() as ListResponse;
      t.equal(body.totalResults, 5, 'totalResults counts every user, whatever the page (RFC 7644 §3.4.2.4)');
      t.equal(body.startIndex, startIndex);
      t.equal(body.itemsPerPage, expected.length);
      t.strictSame(body.Resources.map((user) => user.userName), expected);
    });
  }

  // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1, a negative count as 0, and a count above
  // what the server answers at once (1000) as that maximum.
  for (const [query, startIndex, expected] of [
    ['?startIndex=0', 1, everyone],
    ['?startIndex=-1', 1, everyone],
    ['?startIndex=-5&count=2', 1, [ADMIN, 'user-1']],
    ['?startIndex=-9223372036854775809', 1, everyone],
    ['?count=-1', 1, []],
    ['?count=-9223372036854775809', 1, []],
    ['?count=1001', 1, everyone],
    ['?count=9223372036854775808', 1, everyone],
    ['?count=1e30', 1, everyone],
    ['?startIndex=2147483647', 2147483647, []],
  ] as const) {
    t.test(`${query} is served`, async (t) => {
      const res = await list(query);
      t.equal(res.statusCode, 200, res.body);
      const body = res.json() as ListResponse;
      t.equal(body.totalResults, 5);
      t.equal(body.startIndex, startIndex);
      t.equal(body.itemsPerPage, expected.length);
      t.strictSame(body.Resources.map((user) => user.userName), expected);
    });
  }

  // What cannot be served as a 32-bit integer page is a 400, never a 500 (a startIndex of
  // 9223372036854775808 overflowed the database's OFFSET).
  for (const query of [
    '?startIndex=abc',
    '?startIndex=',
    '?startIndex=2.5',
    '?startIndex=2147483648',
    '?startIndex=9223372036854775808',
    '?startIndex=1e30',
    '?startIndex=-1e400',
    '?count=1.5',
    '?count=1e400',
    '?count=abc',
  ]) {
    t.test(`400 for ${query}`, async (t) => {
      assertScimError(t, await list(query), 400, 'invalidValue');
    });
  }
});

t.test('DELETE /scim2/Users/{id}', async (t) => {

  t.test('204, then the user is gone, its credentials stop working', async (t) => {
    const id = await createUser(app, 'erin', 'erin-Secret-1');
    const erin = basic('erin', 'erin-Secret-1');
    const registered = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: erin },
      payload: { clientName: 'erin_app', owner: 'erin', grantType: 'client_credentials' },
    });
    t.equal(registered.statusCode, 200, 'erin could register before the delete');

    const res = await app.inject({ method: 'DELETE', url: `/scim2/Users/${id}`, headers: { authorization: ADMIN_AUTH } });
    t.equal(res.statusCode, 204, res.body);
    t.equal(res.body, '');
    t.equal(res.headers['content-type'], undefined, 'no body, no content type');

    assertScimError(t, await app.inject({ method: 'GET', url: `/scim2/Users/${id}`, headers: { authorization: ADMIN_AUTH } }), 404);
    const filtered = await app.inject({
      method: 'GET',
      url: `/scim2/Users?filter=${encodeURIComponent('userName eq "erin"')}`,
      headers: { authorization: ADMIN_AUTH },
    });
    t.equal((filtered.json() as ListResponse).totalResults, 0);
    assertScimError(t, await app.inject({ method: 'DELETE', url: `/scim2/Users/${id}`, headers: { authorization: ADMIN_AUTH } }), 404);

    const after = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: erin },
      payload: { clientName: 'erin_app', owner: 'erin', grantType: 'client_credentials' },
    });
    t.equal(after.statusCode, 401, after.body);
    t.ok(after.headers['www-authenticate'], 'a challenge on the DCR route too');
    t.equal((after.json() as { code: number }).code, 401, 'the DCR route answers its own Error shape');
  });

  t.test('the name is free again after a delete', async (t) => {
    const id = await createUser(app, 'frank', 'frank-Secret-1');
    t.equal((await app.inject({ method: 'DELETE', url: `/scim2/Users/${id}`, headers: { authorization: ADMIN_AUTH } })).statusCode, 204);
    const again = await app.inject(createRequest({ schemas: [USER_URN], userName: 'FRANK', password: 'frank-Secret-2' }));
    t.equal(again.statusCode, 201, again.body);
    t.not((again.json() as ScimUser).id, id, 'a new id');
  });

  t.test('403 for the super admin, which stays', async (t) => {
    const found = await app.inject({
      method: 'GET',
      url: `/scim2/Users?filter=${encodeURIComponent(`userName eq "${ADMIN}"`)}`,
      headers: { authorization: ADMIN_AUTH },
    });
    const adminId = (found.json() as ListResponse).Resources[0]!.id;
    const before = await countUsers(db);
    assertScimError(t, await app.inject({ method: 'DELETE', url: `/scim2/Users/${adminId}`, headers: { authorization: ADMIN_AUTH } }), 403);
    t.equal(await countUsers(db), before);
    t.equal((await app.inject({ method: 'GET', url: `/scim2/Users/${adminId}`, headers: { authorization: ADMIN_AUTH } })).statusCode, 200);
  });

  for (const [name, id] of [
    ['an unknown uuid', '5f0c2b7e-3a1d-4c9b-9e8f-7a6b5c4d3e2f'],
    ['an id that is not a uuid', 'xyz'],
  ]) {
    t.test(`404 for ${name}`, async (t) => {
      assertScimError(t, await app.inject({ method: 'DELETE', url: `/scim2/Users/${id}`, headers: { authorization: ADMIN_AUTH } }), 404);
    });
  }
});

t.test('a created user registers an application for itself over Basic', async (t) => {
  await createUser(app, 'grace', 'grace-Secret-1');
  const res = await app.inject({
    method: 'POST',
    url: REGISTER,
    headers: { authorization: basic('grace', 'grace-Secret-1') },
    payload: { callbackUrl: 'www.google.lk', clientName: 'grace_app', owner: 'grace', grantType: 'client_credentials password refresh_token', saasApp: true },
  });
  t.equal(res.statusCode, 200, res.body);
  const body = res.json() as Record<string, unknown>;
  t.equal(body.clientName, 'grace_app');
  t.equal(body.appOwner, 'grace');
  t.equal(body.callBackURL, 'www.google.lk');
  t.equal(body.isSaasApplication, true);

  t.test('but not for another user (400), and a wrong password is 401', async (t) => {
    const other = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: basic('grace', 'grace-Secret-1') },
      payload: { clientName: 'grace_other', owner: ADMIN, grantType: 'client_credentials' },
    });
    t.equal(other.statusCode, 400, other.body);
    const wrong = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: basic('grace', 'grace-Secret-2') },
      payload: { clientName: 'grace_app', owner: 'grace', grantType: 'client_credentials' },
    });
    t.equal(wrong.statusCode, 401, wrong.body);
  });
});

t.test('every SCIM answer, success or error, carries Cache-Control: no-store (it is user data)', async (t) => {
  const created = await app.inject(createRequest({ schemas: [USER_URN], userName: 'cached-not', password: 'cached-Secret-1' }));
  const id = (created.json() as ScimUser).id;
  const admin = { authorization: ADMIN_AUTH };
  const answers: [string, LightMyRequestResponse, number][] = [
    ['201 create', created, 201],
    ['200 list', await app.inject({ method: 'GET', url: '/scim2/Users', headers: admin }), 200],
    ['200 filter', await app.inject({ method: 'GET', url: `/scim2/Users?filter=${encodeURIComponent('userName eq "cached-not"')}`, headers: admin }), 200],
    ['200 get', await app.inject({ method: 'GET', url: `/scim2/Users/${id}`, headers: admin }), 200],
    ['204 delete', await app.inject({ method: 'DELETE', url: `/scim2/Users/${id}`, headers: admin }), 204],
    ['400', await app.inject(createRequest({ schemas: [USER_URN], userName: 'x', password: 'cached-Secret-1' })), 400],
    ['401', await app.inject({ method: 'GET', url: '/scim2/Users' }), 401],
    ['404 user', await app.inject({ method: 'GET', url: `/scim2/Users/${id}`, headers: admin }), 404],
    ['404 path', await app.inject({ method: 'GET', url: '/scim2/Groups', headers: admin }), 404],
    ['405', await app.inject({ method: 'PUT', url: '/scim2/Users', headers: admin }), 405],
    ['409', await app.inject(createRequest({ schemas: [USER_URN], userName: ADMIN, password: 'cached-Secret-1' })), 409],
    ['415', await app.inject(createRequest('userName=x', { contentType: 'text/plain' })), 415],
  ];
  for (const [label, res, status] of answers) {
    t.equal(res.statusCode, status, `${label}: ${res.body}`);
    t.equal(res.headers['cache-control'], 'no-store', `${label}: no-store`);
  }
});

t.test('a user stored before the name rule keeps logging in; only new names are checked', async (t) => {
  // As an older version stored it: white space and a Cyrillic letter, which no longer pass.
  const legacy = 'l\u0435gacy user';
  await db.query('INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3)', [
    randomUUID(),
    legacy,
    await FAST_HASHER.hash('legacy-Secret-1'),
  ]);
  const res = await app.inject({
    method: 'POST',
    url: REGISTER,
    headers: { authorization: basic(legacy, 'legacy-Secret-1') },
    payload: { clientName: 'legacy_app', owner: legacy, grantType: 'client_credentials' },
  });
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.json().appOwner, legacy);
});

t.test('415 for a body that is not JSON, in the SCIM error shape', async (t) => {
  const before = await countUsers(db);
  for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
    const res = await app.inject(createRequest('userName=x&password=y', { contentType }));
    assertScimError(t, res, 415);
    t.equal(res.json().detail, 'The request body must be application/scim+json or application/json');
  }
  // No Content-Type, or one no parser reads: the same, naming what the operation reads.
  const untyped = await app.inject({ method: 'POST', url: '/scim2/Users', headers: { authorization: ADMIN_AUTH }, payload: 'userName=x' });
  assertScimError(t, untyped, 415);
  t.equal(untyped.json().detail, 'The request body must be application/scim+json or application/json');
  const xml = await app.inject(createRequest('<User/>', { contentType: 'application/xml' }));
  t.equal(xml.json().detail, 'The request body must be application/scim+json or application/json');
  // DELETE takes no body: one no parser reads is refused without naming a type it would take.
  const id = await createUser(app, 'deleted-with-xml', 'xml-Secret-1');
  const deleteXml = await app.inject({ method: 'DELETE', url: `/scim2/Users/${id}`, headers: { authorization: ADMIN_AUTH, 'content-type': 'application/xml' }, payload: '<x/>' });
  assertScimError(t, deleteXml, 415);
  t.equal(deleteXml.json().detail, 'This operation takes no request body, and the one sent is of a media type this server does not read');
  // Another charset or a content coding (RFC 9110 §15.5.16).
  const body = JSON.stringify({ schemas: [USER_URN], userName: 'utf16-user', password: 'utf16-Secret-1' });
  const utf16 = await app.inject({ ...createRequest('', { contentType: 'application/scim+json; charset=utf-16' }), payload: Buffer.from(body, 'utf16le') });
  assertScimError(t, utf16, 415);
  t.equal(utf16.json().detail, 'The request body must be UTF-8 (charset=utf-8, or no charset), not charset=utf-16');
  const gzip = await app.inject({
    ...createRequest(''),
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/scim+json', 'content-encoding': 'gzip' },
    payload: gzipSync(body),
  });
  assertScimError(t, gzip, 415);
  t.equal(gzip.headers['accept-encoding'], 'identity');
  t.equal(await countUsers(db), before + 1, 'only the user made to be deleted');
});

t.test('a forbidden key in valid JSON is named as such, not as invalid JSON', async (t) => {
  const before = await countUsers(db);
  const detail = 'The request body holds a key this server refuses: __proto__, or constructor holding prototype (prototype pollution)';
  for (const raw of [
    `{"schemas":["${USER_URN}"],"userName":"proto-user","password":"proto-Secret-1","__proto__":{"x":1}}`,
    `{"schemas":["${USER_URN}"],"userName":"proto-user","password":"proto-Secret-1","name":{"constructor":{"prototype":{"x":1}}}}`,
  ]) {
    for (const contentType of ['application/scim+json', 'application/json']) {
      const res = await app.inject(createRequest(raw, { contentType }));
      assertScimError(t, res, 400, 'invalidSyntax');
      t.equal(res.json().detail, detail);
    }
  }
  const broken = await app.inject(createRequest('{"__proto__":', {}));
  t.equal(broken.json().detail, 'The request body is not valid JSON', 'broken JSON is still called that');
  t.equal(await countUsers(db), before);
});

t.test('405 with Allow on SCIM paths, in the SCIM error shape', async (t) => {
  const collection = await app.inject({ method: 'PUT', url: '/scim2/Users', headers: { authorization: ADMIN_AUTH } });
  assertScimError(t, collection, 405);
  t.equal(collection.headers.allow, 'GET, HEAD, POST');
  const item = await app.inject({ method: 'PATCH', url: '/scim2/Users/0b7c6d7e-1f2a-4b3c-8d9e-0f1a2b3c4d5e', headers: { authorization: ADMIN_AUTH } });
  assertScimError(t, item, 405);
  t.equal(item.headers.allow, 'GET, HEAD, DELETE');

  // Every method Node parses (TRACE and PROPFIND were 404, QUERY a 400), with any body.
  for (const method of METHODS.filter((method) => !['GET', 'HEAD', 'POST', 'DELETE'].includes(method))) {
    const url = method === 'PUT' ? '/scim2/Users/0b7c6d7e-1f2a-4b3c-8d9e-0f1a2b3c4d5e' : '/scim2/Users';
    const res = await app.inject({ method: method as 'GET', url, headers: { authorization: ADMIN_AUTH, 'content-type': 'text/xml' }, payload: '<x/>' });
    t.test(`${method} ${url}`, async (t) => {
      assertScimError(t, res, 405);
      t.equal(res.headers.allow, url === '/scim2/Users' ? 'GET, HEAD, POST' : 'GET, HEAD, DELETE');
    });
  }
});

t.test('paths under /scim2 that no operation has: SCIM errors too', async (t) => {
  assertScimError(t, await app.inject({ method: 'GET', url: '/scim2/Groups', headers: { authorization: ADMIN_AUTH } }), 404);
  assertScimError(t, await app.inject({ method: 'POST', url: '/scim2/Users/x/y', headers: { authorization: ADMIN_AUTH, 'content-type': 'text/xml' }, payload: '<x/>' }), 404);
  // A path that does not decode was Fastify's {"error","code":"FST_ERR_BAD_URL",...}.
  assertScimError(t, await app.inject({ method: 'GET', url: '/scim2/Users/%zz', headers: { authorization: ADMIN_AUTH } }), 400, 'invalidSyntax');
});

t.test('health probes', async (t) => {

  t.test('/health/live: 200 {status: UP}, no credentials needed', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/health/live' });
    t.equal(res.statusCode, 200);
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    t.strictSame(res.json(), { status: 'UP' });
  });

  t.test('/health/ready: 200 with a live database', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    t.equal(res.headers['cache-control'], 'no-store');
    t.strictSame(res.json(), { status: 'UP', checks: { database: 'UP', migrations: 'UP' } });
  });
});

t.test('meta.location and Location are built from the public URL, never from the Host header', async (t) => {
  const { app } = await buildTestApp(t);
  const evil = 'evil.example"><script>alert(1)</script>';
  const res = await app.inject({
    method: 'POST',
    url: '/scim2/Users',
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/scim+json', host: evil },
    payload: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'hosted', password: 'hosted-Pa55' },
  });
  t.equal(res.statusCode, 201);
  const body = res.json() as { id: string; meta: { location: string } };
  t.equal(body.meta.location, `${PUBLIC_URL}/scim2/Users/${body.id}`);
  t.equal(res.headers.location, body.meta.location);
  const list = await app.inject({ method: 'GET', url: '/scim2/Users', headers: { authorization: ADMIN_AUTH, host: evil } });
  t.notMatch(list.body, /evil\.example|<script>/, 'nothing of the Host header in a listing either');
});
