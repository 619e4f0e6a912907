/**
 * /scim2/v2/Roles (spec/platform-api.yaml, reference §3 and §6) through app.inject: exact status,
 * headers and bodies. First the sequence API Manager's WSO2-IS-7 connector runs when a scope lists
 * roles (its requests as it sends them: `Content-Type: application/json` on every call, GET and
 * DELETE with an empty body, unquoted filters, a create of displayName and permissions only, the
 * PATCH `replace` of the full permission list with no schemas and no path), then standard PatchOp,
 * then who may call and the errors.
 */
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ADMIN_AUTH, PUBLIC_URL, basic, buildTestApp, createUser } from '../fixtures/app.js';

const ROLE_URN = 'urn:ietf:params:scim:schemas:extension:2.0:Role';
const LIST_URN = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR_URN = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SEARCH_URN = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const SCIM_TYPE = 'application/scim+json; charset=utf-8';
const ROLES = '/scim2/v2/Roles';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface ScimRole {
  schemas: string[];
  id: string;
  displayName: string;
  users: { value: string; display: string }[];
  permissions: { value: string; display: string }[];
  meta: { resourceType: string; created: string; lastModified: string; location: string };
}

/** A call as the connector makes it: JSON content type always, the body (if any) as JSON. */
function call(app: FastifyInstance, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, auth: string | null = ADMIN_AUTH) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth !== null) headers.authorization = auth;
  return app.inject({ method, url, headers, payload: body === undefined ? '' : JSON.stringify(body) });
}

const search = (app: FastifyInstance, body: unknown, auth?: string | null) => call(app, 'POST', `${ROLES}/.search`, body, auth);

/** The exact role resource, its id and dates read from the answer. */
function expectedRole(actual: ScimRole, displayName: string, users: { value: string; display: string }[], permissions: string[]): ScimRole {
  return {
    schemas: [ROLE_URN],
    id: actual.id,
    displayName,
    users,
    permissions: permissions.map((scope) => ({ value: scope, display: scope })),
    meta: { resourceType: 'Role', created: actual.meta.created, lastModified: actual.meta.lastModified, location: `${PUBLIC_URL}${ROLES}/${actual.id}` },
  };
}

function assertScimAnswer(t: Test, res: LightMyRequestResponse, status: number): void {
  t.equal(res.statusCode, status, res.body);
  t.equal(res.headers['content-type'], SCIM_TYPE);
  t.equal(res.headers['cache-control'], 'no-store');
}

function assertRole(t: Test, res: LightMyRequestResponse, status: number, displayName: string, users: { value: string; display: string }[], permissions: string[]): ScimRole {
  assertScimAnswer(t, res, status);
  const body = res.json() as ScimRole;
  t.match(body.id, UUID);
  t.match(body.meta.created, ISO_DATE);
  t.match(body.meta.lastModified, ISO_DATE);
  t.strictSame(body, expectedRole(body, displayName, users, permissions));
  return body;
}

function assertList(t: Test, res: LightMyRequestResponse, resources: ScimRole[], total = resources.length, startIndex = 1): void {
  assertScimAnswer(t, res, 200);
  t.strictSame(res.json(), { schemas: [LIST_URN], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources });
}

function assertScimError(t: Test, res: LightMyRequestResponse, status: number, scimType?: string, detail?: string | RegExp): void {
  assertScimAnswer(t, res, status);
  const body = res.json() as Record<string, unknown>;
  t.strictSame(Object.keys(body).sort(), scimType ? ['detail', 'schemas', 'scimType', 'status'] : ['detail', 'schemas', 'status']);
  t.strictSame(body.schemas, [ERROR_URN]);
  t.equal(body.status, String(status));
  if (scimType) t.equal(body.scimType, scimType);
  if (detail !== undefined) t.match(body.detail, detail);
}

const { app, db } = await buildTestApp(t);
const aliceId = await createUser(app, 'alice', 'alice-Pa55word');
const bobId = await createUser(app, 'Bob', 'bob-Pa55word');
const CAROL = basic('carol', 'carol-Pa55word');
await createUser(app, 'carol', 'carol-Pa55word');

const alice = { value: aliceId, display: 'alice' };
const bob = { value: bobId, display: 'Bob' };

t.test("the connector's sequence", async (t) => {
  const filter = { schemas: [SEARCH_URN], filter: 'displayName eq creator' };
  assertList(t, await search(app, filter), [], 0);

  const created = await call(app, 'POST', ROLES, { displayName: 'creator', permissions: [{ value: 'apim:api_create' }, { value: 'apim:api_view' }] });
  const role = assertRole(t, created, 201, 'creator', [], ['apim:api_create', 'apim:api_view']);
  t.equal(created.headers.location, role.meta.location, 'Location is meta.location');
  t.equal(role.meta.created, role.meta.lastModified, 'a new role was never modified');

  assertList(t, await search(app, filter), [role]);
  assertList(t, await search(app, { filter: 'displayName eq "creator"' }), [role], 1, 1);
  assertList(t, await search(app, { filter: 'DISPLAYNAME EQ creator' }), [role], 1, 1);

  const read = await call(app, 'GET', `${ROLES}/${role.id}`);
  assertRole(t, read, 200, 'creator', [], ['apim:api_create', 'apim:api_view']);
  t.strictSame(read.json(), role);

  const full = ['apim:api_create', 'apim:api_publish', 'apim:subscribe'];
  const replaced = await call(app, 'PATCH', `${ROLES}/${role.id}`, { Operations: [{ op: 'replace', value: { permissions: full.map((value) => ({ value })) } }] });
  const after = assertRole(t, replaced, 200, 'creator', [], full);
  t.equal(after.meta.created, role.meta.created);
  t.ok(after.meta.lastModified >= role.meta.lastModified, 'lastModified moves on');
  t.strictSame((await call(app, 'GET', `${ROLES}/${role.id}`)).json(), after, 'what PATCH answered is what is stored');

  const other = assertRole(t, await call(app, 'POST', ROLES, { displayName: 'subscriber', permissions: [{ value: 'apim:subscribe' }] }), 201, 'subscriber', [], ['apim:subscribe']);
  // A search without a filter: every role, each with its permissions.
  assertList(t, await search(app, {}), [after, other]);
  assertList(t, await search(app, { schemas: [SEARCH_URN], startIndex: 1, count: 10 }), [after, other]);
  assertList(t, await call(app, 'GET', ROLES), [after, other]);

  const deleted = await call(app, 'DELETE', `${ROLES}/${other.id}`);
  t.equal(deleted.statusCode, 204);
  t.equal(deleted.body, '');
  t.equal(deleted.headers['cache-control'], 'no-store');
  t.equal(deleted.headers['content-type'], undefined);
  assertScimError(t, await call(app, 'GET', `${ROLES}/${other.id}`), 404);
  await call(app, 'DELETE', `${ROLES}/${role.id}`);
});

t.test('GET /scim2/v2/Roles: the filter in the query, spaces as + or %20, quoted or not; paging', async (t) => {
  const roles = [];
  for (const name of ['internal creator', 'p2', 'p3']) {
    roles.push((await call(app, 'POST', ROLES, { displayName: name, permissions: [{ value: `${name.replace(' ', '_')}:scope` }] })).json() as ScimRole);
  }
  for (const query of ['displayName+eq+internal+creator', 'displayName%20eq%20internal%20creator', `displayName+eq+${encodeURIComponent('"internal creator"')}`]) {
    assertList(t, await call(app, 'GET', `${ROLES}?filter=${query}`), [roles[0]!]);
  }
  assertList(t, await call(app, 'GET', `${ROLES}?filter=displayName+eq+nobody`), [], 0);
  assertList(t, await call(app, 'GET', `${ROLES}?startIndex=2&count=1`), [roles[1]!], 3, 2);
  assertList(t, await call(app, 'GET', `${ROLES}?startIndex=0&count=-5`), [], 3, 1);
  assertList(t, await search(app, { startIndex: 3 }), [roles[2]!], 3, 3);
  assertList(t, await search(app, { filter: 'displayName eq p2', startIndex: 2 }), [], 1, 2);
  for (const role of roles) await call(app, 'DELETE', `${ROLES}/${role.id}`);
});

t.test('PatchOp add and remove of users, by id and by name', async (t) => {
  const role = (await call(app, 'POST', ROLES, { displayName: 'members', users: [{ value: 'ALICE' }] })).json() as ScimRole;
  t.strictSame(role.users, [alice], 'a user name (any case) is read as that user; answered by id');
  const patch = (Operations: unknown[]) =>
    app.inject({
      method: 'PATCH',
      url: `${ROLES}/${role.id}`,
      headers: { authorization: ADMIN_AUTH, 'content-type': 'application/scim+json' },
      payload: { schemas: [PATCH_URN], Operations },
    });
  assertRole(t, await patch([{ op: 'add', path: 'users', value: [{ value: bobId }, { value: 'alice' }] }]), 200, 'members', [alice, bob], []);
  assertRole(t, await patch([{ op: 'remove', path: 'users[value eq "Bob"]' }]), 200, 'members', [alice], []);
  assertRole(t, await patch([{ op: 'Add', path: 'Users', value: [{ value: 'bob' }] }]), 200, 'members', [alice, bob], []);
  assertRole(t, await patch([{ op: 'remove', path: 'users', value: [{ value: aliceId }] }]), 200, 'members', [bob], []);
  assertRole(
    t,
    await patch([
      { op: 'add', path: 'permissions', value: [{ value: 'a:b' }, { value: 'c' }] },
      { op: 'remove', path: `${ROLE_URN}:permissions[value eq c]` },
      { op: 'add', value: { users: [{ value: aliceId }], permissions: [{ value: 'd' }] } },
      { op: 'replace', path: 'displayName', value: 'renamed' },
    ]),
    200,
    'renamed',
    [alice, bob],
    ['a:b', 'd'],
  );
  assertRole(t, await patch([{ op: 'replace', value: { displayName: 'members', users: [{ value: 'bob' }] } }]), 200, 'members', [bob], ['a:b', 'd']);
  assertRole(t, await patch([{ op: 'remove', path: 'users' }, { op: 'remove', path: 'permissions' }]), 200, 'members', [], []);
  await call(app, 'DELETE', `${ROLES}/${role.id}`);
});

t.test("deleting a user removes the user's memberships", async (t) => {
  const daveId = await createUser(app, 'dave', 'dave-Pa55word');
  const role = (await call(app, 'POST', ROLES, { displayName: 'with-dave', users: [{ value: daveId }, { value: aliceId }] })).json() as ScimRole;
  t.equal((await app.inject({ method: 'DELETE', url: `/scim2/Users/${daveId}`, headers: { authorization: ADMIN_AUTH } })).statusCode, 204);
  assertRole(t, await call(app, 'GET', `${ROLES}/${role.id}`), 200, 'with-dave', [alice], []);
  await call(app, 'DELETE', `${ROLES}/${role.id}`);
});

t.test('who may manage roles', async (t) => {
  for (const [name, auth] of [
    ['no credentials', null],
    ['a wrong password', basic('admin', 'wrong')],
    ['a Bearer token', 'Bearer 0123456789abcdef0123456789abcdef'],
  ] as const) {
    for (const [method, url, body] of [
      ['GET', ROLES, undefined],
      ['POST', ROLES, { displayName: 'x' }],
      ['POST', `${ROLES}/.search`, {}],
      ['GET', `${ROLES}/${randomUUID()}`, undefined],
      ['PATCH', `${ROLES}/${randomUUID()}`, { Operations: [{ op: 'remove', path: 'users' }] }],
      ['DELETE', `${ROLES}/${randomUUID()}`, undefined],
    ] as const) {
      const res = await call(app, method, url, body, auth);
      assertScimError(t, res, 401, undefined, 'The user is not authorized');
      t.ok(res.headers['www-authenticate'], `${name}, ${method} ${url}: a challenge`);
    }
  }
  // A user of this server, not the super admin: not a role manager by default.
  const role = (await call(app, 'POST', ROLES, { displayName: 'guarded' })).json() as ScimRole;
  for (const [method, url, body] of [
    ['GET', ROLES, undefined],
    ['POST', ROLES, { displayName: 'by-carol' }],
    ['POST', `${ROLES}/.search`, { filter: 'not a filter' }],
    ['GET', `${ROLES}/${role.id}`, undefined],
    ['PATCH', `${ROLES}/${role.id}`, { Operations: [{ op: 'replace', path: 'displayName', value: 'carols' }] }],
    ['DELETE', `${ROLES}/${role.id}`, undefined],
  ] as const) {
    assertScimError(t, await call(app, method, url, body, CAROL), 403, undefined, 'Only the super admin, and the users DCR_APP_MANAGE_USERS lists, manage roles');
  }
  assertRole(t, await call(app, 'GET', `${ROLES}/${role.id}`), 200, 'guarded', [], []);
  await call(app, 'DELETE', `${ROLES}/${role.id}`);

  t.test('the users an explicit DCR_APP_MANAGE_USERS lists may', async (t) => {
    const { app: listed } = await buildTestApp(t, { appManageUsers: ['carol'] });
    await createUser(listed, 'carol', 'carol-Pa55word');
    await createUser(listed, 'erin', 'erin-Pa55word');
    assertRole(t, await call(listed, 'POST', ROLES, { displayName: 'by-carol' }, CAROL), 201, 'by-carol', [], []);
    assertScimError(t, await call(listed, 'GET', ROLES, undefined, basic('erin', 'erin-Pa55word')), 403);
  });
});

t.test('404: an id that names no role', async (t) => {
  for (const id of [randomUUID(), 'not-a-uuid', '.searchx', 'x'.repeat(300)]) {
    assertScimError(t, await call(app, 'GET', `${ROLES}/${id}`), 404, undefined, `Role ${id} not found`);
    assertScimError(t, await call(app, 'PATCH', `${ROLES}/${id}`, { Operations: [{ op: 'remove', path: 'users' }] }), 404);
    assertScimError(t, await call(app, 'DELETE', `${ROLES}/${id}`), 404);
  }
  const wrongMethod = await call(app, 'GET', `${ROLES}/.search`);
  assertScimError(t, wrongMethod, 405);
  t.equal(wrongMethod.headers.allow, 'POST', '.search is its own path, not an id');
});

t.test('409: a displayName another role has', async (t) => {
  const first = (await call(app, 'POST', ROLES, { displayName: 'taken' })).json() as ScimRole;
  const second = (await call(app, 'POST', ROLES, { displayName: 'free' })).json() as ScimRole;
  assertScimError(t, await call(app, 'POST', ROLES, { displayName: 'taken', permissions: [{ value: 'x' }] }), 409, 'uniqueness', "A role named 'taken' already exists");
  assertScimError(t, await call(app, 'PATCH', `${ROLES}/${second.id}`, { Operations: [{ op: 'replace', path: 'displayName', value: 'taken' }] }), 409, 'uniqueness');
  assertRole(t, await call(app, 'POST', ROLES, { displayName: 'Taken' }), 201, 'Taken', [], []);
  t.match((await call(app, 'GET', `${ROLES}/${second.id}`)).json(), { displayName: 'free' });
  for (const role of [first, second]) await call(app, 'DELETE', `${ROLES}/${role.id}`);
  await db.query(`DELETE FROM roles WHERE display_name = 'Taken'`);
});

t.test('400: bodies and values outside the rules, and nothing is written', async (t) => {
  const countRoles = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM roles')).rows[0]!.n);
  const before = await countRoles();
  const creates: [unknown, string, string | RegExp][] = [
    [{ displayName: 'x', users: [{ value: 'nobody' }, { value: aliceId }, { value: 'nobody' }] }, 'invalidValue', "No user has the id or name 'nobody'"],
    [{ displayName: 'x', users: [{ value: randomUUID() }] }, 'invalidValue', /^No user has the id or name/],
    [{ displayName: 'x', permissions: [{ value: 'two words' }] }, 'invalidValue', /permission 'two words' is not a scope name/],
    [{ displayName: 'x', permissions: [{ value: 'quote"d' }] }, 'invalidValue', /not a scope name/],
    [{ displayName: 'x ' }, 'invalidValue', 'displayName must not begin or end with white space'],
    [{ displayName: 'tab\tinside' }, 'invalidValue', 'displayName must not hold control characters'],
    [{ displayName: '' }, 'invalidValue', /displayName/],
    [{ permissions: [{ value: 'a' }] }, 'invalidValue', "'displayName' is required"],
    [{ displayName: 42 }, 'invalidValue', /displayName/],
    [{ displayName: 'x', users: ['alice'] }, 'invalidValue', /users/],
    [{ displayName: 'x', permissions: [{ display: 'no value' }] }, 'invalidValue', /value/],
  ];
  for (const [body, scimType, detail] of creates) {
    assertScimError(t, await call(app, 'POST', ROLES, body), 400, scimType, detail);
  }
  assertScimError(t, await call(app, 'POST', ROLES), 400, undefined, 'The request body is empty');
  assertScimError(t, await app.inject({ method: 'POST', url: ROLES, headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, payload: '{"displayName":' }), 400, 'invalidSyntax');

  const role = (await call(app, 'POST', ROLES, { displayName: 'target', permissions: [{ value: 'keep' }] })).json() as ScimRole;
  const patches: [unknown[], string, string | RegExp][] = [
    [[{ op: 'add', path: 'users', value: [{ value: 'nobody' }] }], 'invalidValue', "No user has the id or name 'nobody'"],
    [[{ op: 'replace', value: { permissions: [] } }, { op: 'remove', path: 'users[value eq "nobody"]' }], 'invalidValue', /nobody/],
    [[{ op: 'add', path: 'groups', value: [{ value: 'g' }] }], 'invalidPath', /Unsupported path 'groups'/],
    [[{ op: 'replace', path: 'permissions[value eq keep]', value: [{ value: 'x' }] }], 'invalidPath', /remove only/],
    [[{ op: 'remove' }], 'noTarget', /remove needs a path/],
    [[{ op: 'remove', path: 'displayName' }], 'invalidValue', /cannot be removed/],
    [[{ op: 'replace', path: 'displayName', value: [{ value: 'x' }] }], 'invalidValue', /displayName takes a non-empty string/],
    [[{ op: 'add', path: 'users', value: 'alice' }], 'invalidValue', /users takes an array/],
    [[{ op: 'replace', value: [{ value: 'x' }] }], 'invalidValue', /takes an object of attributes/],
    [[{ op: 'add', path: 'permissions' }], 'invalidValue', /needs a value/],
    [[{ op: 'replace', path: 'permissions', value: [{ value: 'sp ace' }] }], 'invalidValue', /not a scope name/],
    [[{ op: 'move', path: 'users' }], 'invalidValue', /op/],
    [[], 'invalidValue', /Operations/],
  ];
  for (const [Operations, scimType, detail] of patches) {
    assertScimError(t, await call(app, 'PATCH', `${ROLES}/${role.id}`, { Operations }), 400, scimType, detail);
  }
  assertScimError(t, await call(app, 'PATCH', `${ROLES}/${role.id}`, { operations: [] }), 400, 'invalidValue', "'Operations' is required");
  assertRole(t, await call(app, 'GET', `${ROLES}/${role.id}`), 200, 'target', [], ['keep']);

  for (const filter of ['userName eq "alice"', 'displayName co x', 'displayName eq', 'displayName eq "unterminated', 'displayName eq "a" or x']) {
    assertScimError(t, await search(app, { filter }), 400, 'invalidFilter', 'Only the filter displayName eq <name> is supported');
    assertScimError(t, await call(app, 'GET', `${ROLES}?filter=${encodeURIComponent(filter)}`), 400, 'invalidFilter');
  }
  assertList(t, await search(app, { filter: 'displayName eq ""' }), [], 0);
  assertScimError(t, await search(app, { startIndex: 2147483648 }), 400, 'invalidValue');
  assertScimError(t, await search(app, { count: '10' }), 400, 'invalidValue');
  assertScimError(t, await call(app, 'GET', `${ROLES}?count=ten`), 400, 'invalidValue');
  t.equal(await countRoles(), before + 1, 'only the target role was created');
  await call(app, 'DELETE', `${ROLES}/${role.id}`);
});
