/**
 * /api/server/v1/api-resources on the wire, as API Manager's WSO2-IS-7 Key Manager connector calls
 * it when an API with scopes is published: it looks its resource up by identifier, creates it
 * with the scopes the first time, later adds scopes with PATCH addedScopes, and updates or deletes
 * one scope. Every call carries `Content-Type: application/json`, GET and DELETE included with an
 * empty body, and the admin's Basic credentials. Then the errors, in IS's error shape.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import t from 'tap';
import { ADMIN_AUTH, PUBLIC_URL, basic, buildTestApp, createUser } from '../fixtures/app.js';

const BASE = '/api/server/v1/api-resources';
const JSON_TYPE = 'application/json; charset=utf-8';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IDENTIFIER = 'User-defined-oauth2-resource';

/** A call as the connector makes it: JSON content type always, an empty body when there is none. */
function call(app: FastifyInstance, method: InjectOptions['method'], url: string, body?: unknown, authorization = ADMIN_AUTH) {
  return app.inject({
    method,
    url,
    headers: { authorization, 'content-type': 'application/json' },
    payload: body === undefined ? '' : JSON.stringify(body),
  });
}

const CREATE = {
  identifier: IDENTIFIER,
  name: IDENTIFIER,
  description: 'The scopes of the APIs API Manager publishes',
  requiresAuthorization: true,
  scopes: [
    { name: 'write:pets', displayName: 'Write pets', description: 'Change the pets' },
    { name: 'read:pets', displayName: 'Read pets', description: 'Read the pets' },
  ],
};

t.test("the connector's calls, in its order", async (t) => {
  const { app } = await buildTestApp(t);

  const none = await call(app, 'GET', `${BASE}?filter=identifier+eq+${IDENTIFIER}`);
  t.equal(none.statusCode, 200, 'GET with Content-Type json and an empty body');
  t.equal(none.headers['content-type'], JSON_TYPE);
  t.strictSame(none.json(), { totalResults: 0, apiResources: [], links: [] }, 'no match: an empty array');

  const created = await call(app, 'POST', BASE, { ...CREATE, authorizationDetailsTypes: [], somethingElse: { a: 1 } });
  t.equal(created.statusCode, 201, 'unknown attributes are accepted and ignored');
  t.equal(created.headers['content-type'], JSON_TYPE);
  const id = (created.json() as { id: string }).id;
  t.match(id, UUID);
  t.equal(created.headers.location, `${PUBLIC_URL}${BASE}/${id}`);
  const resource = {
    id,
    identifier: IDENTIFIER,
    name: IDENTIFIER,
    description: 'The scopes of the APIs API Manager publishes',
    type: 'BUSINESS',
    requiresAuthorization: true,
    scopes: [
      { name: 'read:pets', displayName: 'Read pets', description: 'Read the pets' },
      { name: 'write:pets', displayName: 'Write pets', description: 'Change the pets' },
    ],
  };
  t.strictSame(created.json(), resource, 'the resource, its scopes in the order GET reads them');

  const listItem = { id, identifier: IDENTIFIER, name: IDENTIFIER, type: 'BUSINESS', requiresAuthorization: true, self: `${BASE}/${id}` };
  for (const filter of [`identifier+eq+${IDENTIFIER}`, `identifier%20eq%20${IDENTIFIER}`, `identifier%20eq%20%22${IDENTIFIER}%22`, `IDENTIFIER+EQ++${IDENTIFIER}+`]) {
    const one = await call(app, 'GET', `${BASE}?filter=${filter}`);
    t.equal(one.statusCode, 200, filter);
    t.strictSame(one.json(), { totalResults: 1, apiResources: [listItem], links: [] }, `${filter}: the resource`);
  }
  const other = await call(app, 'GET', `${BASE}?filter=identifier+eq+${IDENTIFIER}x`);
  t.strictSame(other.json(), { totalResults: 0, apiResources: [], links: [] }, 'the identifier is matched exactly');

  const scopes = await call(app, 'GET', `${BASE}/${id}/scopes`);
  t.equal(scopes.statusCode, 200);
  t.equal(scopes.headers['content-type'], JSON_TYPE);
  t.strictSame(scopes.json(), resource.scopes, 'a bare JSON array');

  const patched = await call(app, 'PATCH', `${BASE}/${id}`, { addedScopes: [{ name: 'delete:pets', displayName: 'Delete pets' }, { name: 'admin' }] });
  t.equal(patched.statusCode, 204, 'PATCH addedScopes: 204, as IS answers');
  t.equal(patched.body, '');
  const afterPatch = await call(app, 'GET', `${BASE}/${id}/scopes`);
  t.strictSame(
    afterPatch.json(),
    [...resource.scopes, { name: 'admin', displayName: 'admin' }, { name: 'delete:pets', displayName: 'Delete pets' }],
    'added after the others; no displayName is the name, no description none',
  );

  const scopeChanged = await call(app, 'PATCH', `${BASE}/${id}/scopes/read:pets`, { displayName: 'Read every pet', description: 'All of them' });
  t.equal(scopeChanged.statusCode, 204, 'PATCH one scope: 204');
  t.equal(scopeChanged.body, '');
  const kept = await call(app, 'PATCH', `${BASE}/${id}/scopes/read:pets`, { displayName: '  ', description: null });
  t.equal(kept.statusCode, 204, 'a blank displayName and a null description keep what is stored');

  const deletedScope = await call(app, 'DELETE', `${BASE}/${id}/scopes/write:pets`);
  t.equal(deletedScope.statusCode, 204, 'DELETE one scope with Content-Type json and an empty body');
  t.equal(deletedScope.body, '');
  t.equal(deletedScope.headers['content-type'], undefined, 'no body, no media type');

  const got = await call(app, 'GET', `${BASE}/${id}`);
  t.equal(got.statusCode, 200);
  t.strictSame(got.json(), {
    ...resource,
    scopes: [
      { name: 'read:pets', displayName: 'Read every pet', description: 'All of them' },
      { name: 'admin', displayName: 'admin' },
      { name: 'delete:pets', displayName: 'Delete pets' },
    ],
  });

  const again = await call(app, 'DELETE', `${BASE}/${id}/scopes/write:pets`);
  t.equal(again.statusCode, 204, 'deleting a scope that is gone: 204 (IS)');

  const deleted = await call(app, 'DELETE', `${BASE}/${id}`);
  t.equal(deleted.statusCode, 204, 'DELETE the resource with Content-Type json and an empty body');
  t.equal(deleted.body, '');
  t.equal((await call(app, 'GET', `${BASE}/${id}`)).statusCode, 404, 'gone');
  t.equal((await call(app, 'DELETE', `${BASE}/${id}`)).statusCode, 204, 'deleting it again: 204 (IS)');
  t.equal((await call(app, 'DELETE', `${BASE}/${id}/scopes/read:pets`)).statusCode, 204, 'a scope of a resource that is gone: 204 (IS)');

  const recreated = await call(app, 'POST', BASE, CREATE);
  t.equal(recreated.statusCode, 201, 'its identifier and scope names are free again');
});

t.test('requests without Content-Type, and bodies sent where none is taken', async (t) => {
  const { app } = await buildTestApp(t);
  const created = await call(app, 'POST', BASE, { identifier: 'r', name: 'r', scopes: [{ name: 's' }] });
  const id = (created.json() as { id: string }).id;
  const plain = await app.inject({ method: 'GET', url: `${BASE}/${id}`, headers: { authorization: ADMIN_AUTH } });
  t.equal(plain.statusCode, 200, 'GET without Content-Type');
  const withBody = await app.inject({
    method: 'DELETE',
    url: `${BASE}/${id}/scopes/s`,
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
    payload: '{"ignored":true}',
  });
  t.equal(withBody.statusCode, 204, 'a JSON body on DELETE is read and ignored');
  const broken = await app.inject({
    method: 'DELETE',
    url: `${BASE}/${id}`,
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
    payload: '{',
  });
  t.equal(broken.statusCode, 400, 'one that does not parse is still 400');
  t.match(broken.json(), { code: 'UE-10000', message: 'Bad Request', description: 'The request body is not valid JSON' });
  const emptyPatch = await call(app, 'PATCH', `${BASE}/${id}`);
  t.equal(emptyPatch.statusCode, 400, 'an empty body where one is required is 400');
  t.match(emptyPatch.json(), { code: 'UE-10000' });
  const emptyPost = await call(app, 'POST', BASE);
  t.equal(emptyPost.statusCode, 400);
});

t.test('errors, in IS\'s shape', async (t) => {
  const { app } = await buildTestApp(t);
  await createUser(app, 'carol', 'carol-Pa55word');
  const created = await call(app, 'POST', BASE, CREATE);
  const id = (created.json() as { id: string }).id;

  t.test('401 without or with wrong credentials', async (t) => {
    for (const authorization of [undefined, basic('admin', 'wrong-password'), 'Bearer abc']) {
      const res = await app.inject({ method: 'GET', url: BASE, headers: authorization ? { authorization } : {} });
      t.equal(res.statusCode, 401, String(authorization));
      t.ok(res.headers['www-authenticate']);
      t.equal(res.headers['content-type'], JSON_TYPE);
      t.strictSame(res.json(), { code: 'UE-10000', message: 'Unauthorized', description: 'The user is not authorized', traceId: res.headers['x-request-id'] });
    }
    const body = await call(app, 'POST', BASE, { not: 'valid' }, basic('admin', 'nope'));
    t.equal(body.statusCode, 401, 'before the body is judged');
  });

  t.test('403 for a user who is not the Key Manager admin', async (t) => {
    const carol = basic('carol', 'carol-Pa55word');
    for (const [method, url, body] of [
      ['GET', BASE],
      ['POST', BASE, { identifier: 'x', name: 'x' }],
      ['GET', `${BASE}/${id}`],
      ['PATCH', `${BASE}/${id}`, { addedScopes: [] }],
      ['DELETE', `${BASE}/${id}`],
      ['GET', `${BASE}/${id}/scopes`],
      ['PATCH', `${BASE}/${id}/scopes/read:pets`, {}],
      ['DELETE', `${BASE}/${id}/scopes/read:pets`],
    ] as const) {
      const res = await call(app, method, url, body, carol);
      t.equal(res.statusCode, 403, `${method} ${url}`);
      t.match(res.json(), { code: 'UE-10000', message: 'Forbidden' });
    }
    t.equal((await call(app, 'GET', `${BASE}/${id}`)).statusCode, 200, 'nothing was deleted');
  });

  t.test('404 for an unknown resource or scope', async (t) => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const target of [unknown, 'not-a-uuid', `${id}x`]) {
      const res = await call(app, 'GET', `${BASE}/${target}`);
      t.equal(res.statusCode, 404, target);
      t.strictSame(res.json(), {
        code: 'API-RESOURCE-60002',
        message: 'Unable to find the API resource.',
        description: `Unable to find the API resource with the id: ${target} in the tenant domain.`,
        traceId: res.headers['x-request-id'],
      });
    }
    t.equal((await call(app, 'GET', `${BASE}/${unknown}/scopes`)).statusCode, 404);
    t.equal((await call(app, 'PATCH', `${BASE}/${unknown}`, { addedScopes: [{ name: 'x' }] })).statusCode, 404);
    t.equal((await call(app, 'PATCH', `${BASE}/${unknown}/scopes/read:pets`, {})).statusCode, 404);
    for (const scope of ['nope', 'read pets', '%00']) {
      const res = await call(app, 'PATCH', `${BASE}/${id}/scopes/${scope}`, { displayName: 'x' });
      t.equal(res.statusCode, 404, `scope ${scope}`);
      t.match(res.json(), { code: 'API-RESOURCE-60005' });
    }
    t.equal((await call(app, 'DELETE', `${BASE}/${id}/scopes/%00`)).statusCode, 204, 'no scope can have that name');
  });

  t.test('409: a taken identifier or scope name, and nothing changes', async (t) => {
    const taken = await call(app, 'POST', BASE, { identifier: IDENTIFIER, name: 'another', scopes: [{ name: 'fresh' }] });
    t.equal(taken.statusCode, 409);
    t.strictSame(taken.json(), {
      code: 'API-RESOURCE-60003',
      message: 'Unable to add API resource.',
      description: 'API resource already exists for the tenant: carbon.super.',
      traceId: taken.headers['x-request-id'],
    });
    const scopeTaken = await call(app, 'POST', BASE, { identifier: 'other', name: 'other', scopes: [{ name: 'fresh' }, { name: 'read:pets' }] });
    t.equal(scopeTaken.statusCode, 409, 'a scope name another resource defines');
    t.strictSame(scopeTaken.json(), {
      code: 'API-RESOURCE-60004',
      message: 'Unable to add scope.',
      description: 'Scope already exists for the tenant: carbon.super: read:pets.',
      traceId: scopeTaken.headers['x-request-id'],
    });
    const none = await call(app, 'GET', `${BASE}?filter=identifier+eq+other`);
    t.equal((none.json() as { totalResults: number }).totalResults, 0, 'the resource was not created either');
    const patch = await call(app, 'PATCH', `${BASE}/${id}`, { name: 'renamed', addedScopes: [{ name: 'fresh' }, { name: 'write:pets' }] });
    t.equal(patch.statusCode, 409, 'PATCH adding a name the resource already has');
    t.match(patch.json(), { code: 'API-RESOURCE-60004', description: 'Scope already exists for the tenant: carbon.super: write:pets.' });
    const unchanged = await call(app, 'GET', `${BASE}/${id}`);
    t.match(unchanged.json(), { name: IDENTIFIER, scopes: [{ name: 'read:pets' }, { name: 'write:pets' }] }, 'no rename, no scope added');
    t.equal((unchanged.json() as { scopes: unknown[] }).scopes.length, 2);
    const swapped = await call(app, 'PATCH', `${BASE}/${id}`, { removedScopes: ['write:pets', 'never-there'], addedScopes: [{ name: 'write:pets', displayName: 'Write' }] });
    t.equal(swapped.statusCode, 204, 'removed first, so a scope can be replaced in one request');
    t.match((await call(app, 'GET', `${BASE}/${id}/scopes`)).json(), [{ name: 'read:pets' }, { name: 'write:pets', displayName: 'Write' }]);
  });

  t.test('400 for a bad body or filter', async (t) => {
    const cases: Array<[string, unknown, string]> = [
      ['no name', { identifier: 'x' }, 'UE-10000'],
      ['a blank name', { identifier: 'x', name: '  ' }, 'API-RESOURCE-60003'],
      ['a blank identifier', { identifier: ' ', name: 'x' }, 'API-RESOURCE-60004'],
      ['an identifier with a control character', { identifier: 'a\u0000b', name: 'x' }, 'UE-10000'],
      ['a scope name with a space', { identifier: 'x', name: 'x', scopes: [{ name: 'read pets' }] }, 'UE-10000'],
      ['a scope given twice', { identifier: 'x', name: 'x', scopes: [{ name: 'a' }, { name: 'a' }] }, 'API-RESOURCE-60005'],
      ['openid', { identifier: 'x', name: 'x', scopes: [{ name: 'openid' }] }, 'API-RESOURCE-60009'],
      ['apim:dcr:app_manage', { identifier: 'x', name: 'x', scopes: [{ name: 'apim:dcr:app_manage' }] }, 'API-RESOURCE-60008'],
      ['scopes not an array', { identifier: 'x', name: 'x', scopes: 'a b' }, 'UE-10000'],
      ['requiresAuthorization not a boolean', { identifier: 'x', name: 'x', requiresAuthorization: 'true' }, 'UE-10000'],
      ['too many scopes', { identifier: 'x', name: 'x', scopes: Array.from({ length: 501 }, (_, i) => ({ name: `s${i}` })) }, 'UE-10000'],
      ['a long identifier', { identifier: 'i'.repeat(256), name: 'x' }, 'UE-10000'],
    ];
    for (const [label, body, code] of cases) {
      const res = await call(app, 'POST', BASE, body);
      t.equal(res.statusCode, 400, label);
      t.equal(res.headers['content-type'], JSON_TYPE);
      t.match(res.json(), { code, message: String, description: String, traceId: String }, label);
    }
    t.equal((await call(app, 'PATCH', `${BASE}/${id}`, { name: ' ' })).statusCode, 400, 'a blank new name');
    for (const filter of ['name+eq+x', 'identifier+sw+x', 'identifier+eq+', 'identifier+eq+%22unclosed', 'identifier']) {
      const res = await call(app, 'GET', `${BASE}?filter=${filter}`);
      t.equal(res.statusCode, 400, filter);
      t.strictSame(res.json(), {
        code: 'API-RESOURCE-60001',
        message: 'Unable to retrieve API resources.',
        description: 'Invalid format used for filtering.',
        traceId: res.headers['x-request-id'],
      });
    }
    const control = await call(app, 'GET', `${BASE}?filter=identifier+eq+a%00b`);
    t.strictSame(control.json(), { totalResults: 0, apiResources: [], links: [] }, 'an identifier no resource can have: no match');
    for (const query of ['limit=0', 'limit=x', 'limit=1e400', 'limit=2147483648', 'after=abc&before=abc', 'after=bm90LWEtdXVpZA==']) {
      t.equal((await call(app, 'GET', `${BASE}?${query}`)).statusCode, 400, query);
    }
  });

  t.test('a method the path does not declare: 405 in IS\'s shape', async (t) => {
    const res = await call(app, 'PUT', `${BASE}/${id}`, {});
    t.equal(res.statusCode, 405);
    t.equal(res.headers.allow, 'GET, HEAD, PATCH, DELETE');
    t.match(res.json(), { code: 'UE-10000', message: 'Method Not Allowed' });
    const unknown = await call(app, 'GET', `${BASE}/${id}/nothing`);
    t.equal(unknown.statusCode, 404, 'an unknown path under /api/server/');
    t.match(unknown.json(), { code: 'UE-10000', message: 'Not Found' });
  });
});

t.test('users DCR_APP_MANAGE_USERS lists manage API resources', async (t) => {
  const { app } = await buildTestApp(t, { appManageUsers: ['carol'] });
  await createUser(app, 'carol', 'carol-Pa55word');
  await createUser(app, 'erin', 'erin-Pa55word');
  const res = await call(app, 'POST', BASE, { identifier: 'x', name: 'x' }, basic('carol', 'carol-Pa55word'));
  t.equal(res.statusCode, 201, 'carol is listed');
  t.equal((await call(app, 'GET', BASE, undefined, basic('erin', 'erin-Pa55word'))).statusCode, 403, 'erin is not');
  t.equal((await call(app, 'GET', BASE)).statusCode, 200, 'the super admin always');
});

t.test('pages: IS\'s limit, cursors and links', async (t) => {
  const { app } = await buildTestApp(t);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await call(app, 'POST', BASE, { identifier: `r${i}`, name: `r${i}` });
    ids.push((res.json() as { id: string }).id);
  }
  const cursor = (id: string) => Buffer.from(id).toString('base64');
  const idsOf = (body: { apiResources: { id: string }[] }) => body.apiResources.map((item) => item.id);
  const link = (rel: string, query: string) => ({ href: `${PUBLIC_URL}${BASE}?${query}`, rel });

  const all = (await call(app, 'GET', BASE)).json() as { totalResults: number; apiResources: { id: string }[]; links: unknown[] };
  t.strictSame(idsOf(all), ids, 'in creation order');
  t.equal(all.totalResults, 5);
  t.strictSame(all.links, [], 'one page: no links');

  const first = (await call(app, 'GET', `${BASE}?limit=2`)).json() as typeof all;
  t.strictSame(idsOf(first), ids.slice(0, 2));
  t.equal(first.totalResults, 5, 'totalResults counts every match');
  t.strictSame(first.links, [link('next', `limit=2&after=${encodeURIComponent(cursor(ids[1]!))}`)]);

  const second = (await call(app, 'GET', `${BASE}?limit=2&after=${encodeURIComponent(cursor(ids[1]!))}`)).json() as typeof all;
  t.strictSame(idsOf(second), ids.slice(2, 4));
  t.strictSame(second.links, [
    link('next', `limit=2&after=${encodeURIComponent(cursor(ids[3]!))}`),
    link('previous', `limit=2&before=${encodeURIComponent(cursor(ids[2]!))}`),
  ]);

  const last = (await call(app, 'GET', `${BASE}?limit=2&after=${encodeURIComponent(cursor(ids[3]!))}`)).json() as typeof all;
  t.strictSame(idsOf(last), ids.slice(4));
  t.strictSame(last.links, [link('previous', `limit=2&before=${encodeURIComponent(cursor(ids[4]!))}`)]);

  const back = (await call(app, 'GET', `${BASE}?limit=2&before=${encodeURIComponent(cursor(ids[2]!))}`)).json() as typeof all;
  t.strictSame(idsOf(back), ids.slice(0, 2), 'before: the page ending next to it, in creation order');
  t.strictSame(back.links, [link('next', `limit=2&after=${encodeURIComponent(cursor(ids[1]!))}`)], 'the first page again: only next');

  const filtered = (await call(app, 'GET', `${BASE}?filter=identifier+eq+r3&limit=1`)).json() as typeof all;
  t.strictSame(idsOf(filtered), [ids[3]]);
  t.strictSame(filtered.links, []);
});
