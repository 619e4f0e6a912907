/**
 * /api/server/v1/tenants on the wire, as API Manager's tenant sync calls WSO2 IS 7's tenant
 * management API: create a tenant with its owner (201, `Location`, no body), find it by domain
 * (and HEAD for its existence), read its owners, deactivate and activate it; then the listing's
 * pages and filter, and the errors in IS's error shape.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import t from 'tap';
import { ADMIN_AUTH, PUBLIC_URL, basic, buildTestApp, createUser } from '../fixtures/app.js';

const BASE = '/api/server/v1/tenants';
const JSON_TYPE = 'application/json; charset=utf-8';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A call with the admin's credentials unless others are given (null: none). */
function call(app: FastifyInstance, method: InjectOptions['method'], url: string, body?: unknown, authorization: string | null = ADMIN_AUTH) {
  return app.inject({
    method,
    url,
    headers: { ...(authorization === null ? {} : { authorization }), 'content-type': 'application/json' },
    payload: body === undefined ? '' : JSON.stringify(body),
  });
}

function owner(username = 'kim', extra: Record<string, unknown> = {}) {
  return { username, password: 'kim-Pa55word', email: `${username}@abc.com`, firstname: 'Kim', lastname: 'Lee', ...extra };
}

/** Creates a tenant; its id, from `Location`. */
async function createTenant(app: FastifyInstance, domain: string, username = 'kim'): Promise<string> {
  const res = await call(app, 'POST', BASE, { domain, owners: [owner(username)] });
  if (res.statusCode !== 201) throw new Error(`creating ${domain}: ${res.statusCode} ${res.body}`);
  return String(res.headers.location).slice(`${PUBLIC_URL}${BASE}/`.length);
}

t.test("API Manager's tenant sync, in its order", async (t) => {
  const { app, db } = await buildTestApp(t);

  const absent = await call(app, 'GET', `${BASE}/domain/abc.com`);
  t.equal(absent.statusCode, 404);
  t.equal(absent.headers['content-type'], JSON_TYPE);
  t.strictSame(absent.json(), {
    code: 'TM-60015',
    message: 'Tenant not found.',
    description: 'Tenant cannot be found for the provided domain: abc.com.',
    traceId: absent.headers['x-request-id'],
  });
  const headAbsent = await call(app, 'HEAD', `${BASE}/domain/abc.com`);
  t.equal(headAbsent.statusCode, 404, 'HEAD: IS isDomainExist, no tenant');
  t.equal(headAbsent.body, '');

  const created = await call(app, 'POST', BASE, {
    domain: 'ABC.com',
    name: 'ABC Builders',
    owners: [owner('kim', { provisioningMethod: 'inline-password', additionalClaims: [{ claim: 'http://wso2.org/claims/telephone', value: '+94 562 8723' }] })],
    somethingElse: true,
  });
  t.equal(created.statusCode, 201, 'unknown attributes accepted; the domain in any case');
  t.equal(created.body, '', 'no body, as IS answers');
  t.equal(created.headers['content-type'], undefined);
  const location = String(created.headers.location);
  t.match(location, new RegExp(`^${PUBLIC_URL}${BASE}/[0-9a-f-]{36}$`));
  const id = location.slice(`${PUBLIC_URL}${BASE}/`.length);
  t.match(id, UUID);

  const byDomain = await call(app, 'GET', `${BASE}/domain/abc.com`);
  t.equal(byDomain.statusCode, 200);
  t.equal(byDomain.headers['content-type'], JSON_TYPE);
  const tenant = byDomain.json() as { owners: { id: string }[]; createdDate: string };
  t.match(tenant.owners[0]?.id, UUID);
  t.match(tenant.createdDate, ISO);
  const expected = { id, domain: 'abc.com', owners: [{ id: tenant.owners[0]!.id, username: 'kim' }], createdDate: tenant.createdDate, lifecycleStatus: { activated: true } };
  t.strictSame(byDomain.json(), expected, 'stored in lower case, with its one owner');
  t.strictSame((await call(app, 'GET', `${BASE}/domain/ABC.COM`)).json(), expected, 'the domain in any case');
  const head = await call(app, 'HEAD', `${BASE}/domain/abc.com`);
  t.equal(head.statusCode, 200, 'HEAD: the domain exists');
  t.equal(head.body, '');

  const byId = await call(app, 'GET', `${BASE}/${id}`);
  t.equal(byId.statusCode, 200);
  t.strictSame(byId.json(), expected);

  const owners = await call(app, 'GET', `${BASE}/${id}/owners`);
  t.equal(owners.statusCode, 200);
  t.equal(owners.headers['content-type'], JSON_TYPE);
  t.strictSame(owners.json(), expected.owners, 'a bare JSON array');

  const { rows } = await db.query<{ tenant_id: number; username: string }>('SELECT u.tenant_id, u.username FROM users u WHERE u.id = $1', [expected.owners[0]!.id]);
  t.strictSame(rows, [{ tenant_id: 1, username: 'kim' }], 'the owner is a user of the new tenant (WSO2 tenantId 1)');

  const off = await call(app, 'PUT', `${BASE}/${id}/lifecycle-status`, { activated: false });
  t.equal(off.statusCode, 200);
  t.equal(off.body, '', 'no body, as IS answers');
  t.equal(off.headers.location, location);
  t.strictSame((await call(app, 'GET', `${BASE}/${id}`)).json(), { ...expected, lifecycleStatus: { activated: false } });
  t.equal((await call(app, 'PUT', `${BASE}/${id}/lifecycle-status`, { activated: false })).statusCode, 200, 'the same state again: 200');
  const on = await call(app, 'PUT', `${BASE}/${id}/lifecycle-status`, { activated: true, other: 1 });
  t.equal(on.statusCode, 200);
  t.strictSame((await call(app, 'GET', `${BASE}/${id}`)).json(), expected, 'active again');
});

t.test('a domain taken, in any case: 409 TM-60009, nothing created', async (t) => {
  const { app, db } = await buildTestApp(t);
  await createTenant(app, 'abc.com');
  for (const domain of ['abc.com', 'ABC.COM', 'Abc.Com']) {
    const res = await call(app, 'POST', BASE, { domain, owners: [owner('other')] });
    t.equal(res.statusCode, 409, domain);
    t.equal(res.headers['content-type'], JSON_TYPE);
    t.strictSame(res.json(), {
      code: 'TM-60009',
      message: 'Unable to add tenant.',
      description: 'A tenant with same domain abc.com already exist. Please use a different domain name.',
      traceId: res.headers['x-request-id'],
    });
  }
  const { rows } = await db.query("SELECT 1 FROM users WHERE username = 'other'");
  t.equal(rows.length, 0, 'no owner of a tenant that was not created');
});

t.test('validation: IS codes for the domain, UE-10000 for the body', async (t) => {
  const { app } = await buildTestApp(t);
  const domainCases: [string, string][] = [
    ['', 'TM-60004'],
    ['carbon.super', 'TM-60003'],
    ['CARBON.SUPER', 'TM-60003'],
    ['abc', 'TM-60005'],
    ['.abc.com', 'TM-60006'],
    ['ab_c.com', 'TM-60007'],
    ['ab c.com', 'TM-60007'],
    ['abc..com', 'TM-60017'],
    ['-abc.com', 'TM-60017'],
  ];
  for (const [domain, code] of domainCases) {
    const res = await call(app, 'POST', BASE, { domain, owners: [owner()] });
    t.equal(res.statusCode, 400, JSON.stringify(domain));
    t.match(res.json(), { code, message: 'Invalid tenant domain.', description: String, traceId: res.headers['x-request-id'] }, JSON.stringify(domain));
  }
  const { password: _password, ...withoutPassword } = owner();
  const { email: _email, ...withoutEmail } = owner();
  const bodyCases: [string, unknown][] = [
    ['no domain', { owners: [owner()] }],
    ['no owners', { domain: 'a.com' }],
    ['no owner', { domain: 'a.com', owners: [] }],
    ['two owners', { domain: 'a.com', owners: [owner('kim'), owner('lee')] }],
    ['no password', { domain: 'a.com', owners: [withoutPassword] }],
    ['no email', { domain: 'a.com', owners: [withoutEmail] }],
    ['invite-via-email', { domain: 'a.com', owners: [owner('kim', { provisioningMethod: 'invite-via-email' })] }],
    ['a short password', { domain: 'a.com', owners: [owner('kim', { password: 'abcd' })] }],
    ['a user name with a space', { domain: 'a.com', owners: [owner('k im')] }],
    ['a short user name', { domain: 'a.com', owners: [owner('ki')] }],
    ['a domain that is a number', { domain: 7, owners: [owner()] }],
  ];
  for (const [label, body] of bodyCases) {
    const res = await call(app, 'POST', BASE, body);
    t.equal(res.statusCode, 400, label);
    t.match(res.json(), { code: 'UE-10000', message: 'Bad Request' }, label);
  }
  const broken = await app.inject({ method: 'POST', url: BASE, headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, payload: '{' });
  t.equal(broken.statusCode, 400);
  t.match(broken.json(), { code: 'UE-10000', description: 'The request body is not valid JSON' });
  const lifecycle = await call(app, 'PUT', `${BASE}/${await createTenant(app, 'ok.com')}/lifecycle-status`, { activated: 'false' });
  t.equal(lifecycle.statusCode, 400, 'activated must be a boolean');
  t.match(lifecycle.json(), { code: 'UE-10000' });
  const listed = await call(app, 'GET', BASE);
  t.strictSame((listed.json() as { tenants: { domain: string }[] }).tenants.map((tenant) => tenant.domain), ['ok.com'], 'no refused request created a tenant');
});

t.test('who may call: the super admin only', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createTenant(app, 'abc.com');
  await createUser(app, 'carol', 'carol-Pa55word');
  const requests: [InjectOptions['method'], string, unknown][] = [
    ['GET', BASE, undefined],
    ['POST', BASE, { domain: 'x.com', owners: [owner()] }],
    ['GET', `${BASE}/${id}`, undefined],
    ['GET', `${BASE}/domain/abc.com`, undefined],
    ['PUT', `${BASE}/${id}/lifecycle-status`, { activated: false }],
    ['GET', `${BASE}/${id}/owners`, undefined],
  ];
  for (const [method, url, body] of requests) {
    const forbidden = await call(app, method, url, body, basic('carol', 'carol-Pa55word'));
    t.equal(forbidden.statusCode, 403, `${method} ${url} as another user`);
    t.strictSame(forbidden.json(), { code: 'UE-10000', message: 'Forbidden', description: 'Only the super admin manages tenants', traceId: forbidden.headers['x-request-id'] });
    for (const [label, authorization] of [['no credentials', null], ['a wrong password', basic('admin', 'wrong-password')]] as const) {
      const res = await call(app, method, url, body, authorization);
      t.equal(res.statusCode, 401, `${method} ${url}: ${label}`);
      t.ok(res.headers['www-authenticate'], 'with a challenge');
      t.strictSame(res.json(), { code: 'UE-10000', message: 'Unauthorized', description: 'The user is not authorized', traceId: res.headers['x-request-id'] });
    }
  }
  t.match((await call(app, 'GET', `${BASE}/${id}`)).json(), { lifecycleStatus: { activated: true } }, 'nothing was changed');
});

t.test('not found: TM-60014 by id, TM-60015 by domain; the super tenant is not on this API', async (t) => {
  const { app, db } = await buildTestApp(t);
  const { rows } = await db.query<{ uuid: string }>('SELECT uuid FROM tenants WHERE id = -1234');
  const superId = rows[0]!.uuid;
  for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', superId]) {
    for (const [method, path, body] of [
      ['GET', '', undefined],
      ['GET', '/owners', undefined],
      ['PUT', '/lifecycle-status', { activated: false }],
    ] as const) {
      const res = await call(app, method, `${BASE}/${id}${path}`, body);
      t.equal(res.statusCode, 404, `${method} ${id}${path}`);
      t.strictSame(res.json(), {
        code: 'TM-60014',
        message: 'Tenant not found.',
        description: `Tenant cannot be found for the provided id: ${id}.`,
        traceId: res.headers['x-request-id'],
      });
    }
  }
  // `domain` alone is an id (no UUID, so no tenant); under it, the paths by domain.
  t.match((await call(app, 'GET', `${BASE}/domain`)).json(), { code: 'TM-60014' });
  const superByDomain = await call(app, 'GET', `${BASE}/domain/carbon.super`);
  t.equal(superByDomain.statusCode, 404);
  t.match(superByDomain.json(), { code: 'TM-60015' });
  t.strictSame((await call(app, 'GET', BASE)).json(), { totalResults: 0, startIndex: 1, count: 0, tenants: [], links: [] }, 'not listed');
  t.match(await db.query('SELECT active FROM tenants WHERE id = -1234'), { rows: [{ active: true }] }, 'still active');
});

t.test('list: pages, links and the filter', async (t) => {
  const { app } = await buildTestApp(t);
  const domains = ['a1.com', 'a2.com', 'b1.org', 'b2.org', 'c1.net'];
  const ids: string[] = [];
  for (const [i, domain] of domains.entries()) ids.push(await createTenant(app, domain, `owner${i}`));
  const list = async (query: string) => {
    const res = await call(app, 'GET', `${BASE}${query}`);
    t.equal(res.statusCode, 200, query);
    t.equal(res.headers['content-type'], JSON_TYPE);
    return res.json() as { totalResults: number; startIndex: number; count: number; tenants: { id: string; domain: string; owners: { username: string }[] }[]; links: { href: string; rel: string }[] };
  };

  const all = await list('');
  t.match(all, { totalResults: 5, startIndex: 1, count: 5, links: [] });
  t.strictSame(all.tenants.map((tenant) => tenant.domain), domains, 'oldest first');
  t.strictSame(all.tenants.map((tenant) => tenant.id), ids);
  t.strictSame(all.tenants.map((tenant) => tenant.owners.map((o) => o.username)), [['owner0'], ['owner1'], ['owner2'], ['owner3'], ['owner4']], 'each with its owner');

  const first = await list('?limit=2');
  t.match(first, { totalResults: 5, startIndex: 1, count: 2 });
  t.strictSame(first.tenants.map((tenant) => tenant.domain), ['a1.com', 'a2.com']);
  t.strictSame(first.links, [{ href: `${PUBLIC_URL}${BASE}?offset=2&limit=2`, rel: 'next' }]);
  const second = await list('?offset=2&limit=2');
  t.match(second, { totalResults: 5, startIndex: 3, count: 2 });
  t.strictSame(second.tenants.map((tenant) => tenant.domain), ['b1.org', 'b2.org']);
  t.strictSame(second.links, [
    { href: `${PUBLIC_URL}${BASE}?offset=4&limit=2`, rel: 'next' },
    { href: `${PUBLIC_URL}${BASE}?offset=0&limit=2`, rel: 'previous' },
  ]);
  const last = await list('?offset=4&limit=2');
  t.match(last, { totalResults: 5, startIndex: 5, count: 1 });
  t.strictSame(last.links, [{ href: `${PUBLIC_URL}${BASE}?offset=2&limit=2`, rel: 'previous' }]);
  const past = await list('?offset=50&limit=2');
  t.match(past, { totalResults: 5, startIndex: 51, count: 0, tenants: [] });
  t.strictSame(past.links, [{ href: `${PUBLIC_URL}${BASE}?offset=3&limit=2`, rel: 'previous' }], 'past the end: back to the last page');
  t.strictSame(await list('?limit=0'), { totalResults: 5, startIndex: 1, count: 0, tenants: [], links: [] }, 'limit 0: the count only');
  t.equal((await list('?limit=5000')).count, 5, 'above 1000 is read as 1000');

  const filtered = await list('?filter=domain+sw+b&limit=1');
  t.match(filtered, { totalResults: 2, count: 1 });
  t.strictSame(filtered.tenants.map((tenant) => tenant.domain), ['b1.org']);
  t.strictSame(filtered.links, [{ href: `${PUBLIC_URL}${BASE}?offset=1&limit=1&filter=domain+sw+b`, rel: 'next' }], 'the filter kept in the links');
  t.strictSame((await list('?filter=domain%20eq%20%22C1.NET%22')).tenants.map((tenant) => tenant.domain), ['c1.net']);
  t.strictSame((await list('?filter=domainName+ew+.org')).tenants.map((tenant) => tenant.domain), ['b1.org', 'b2.org']);
  t.strictSame((await list('?filter=domain+co+2')).tenants.map((tenant) => tenant.domain), ['a2.com', 'b2.org']);

  for (const [query, code] of [
    ['?filter=name+eq+x', 'TM-65006'],
    ['?filter=domain+gt+a', 'TM-65006'],
    ['?limit=-1', 'UE-10000'],
    ['?limit=abc', 'UE-10000'],
    ['?offset=-1', 'UE-10000'],
    ['?offset=1.5', 'UE-10000'],
  ] as const) {
    const res = await call(app, 'GET', `${BASE}${query}`);
    t.equal(res.statusCode, 400, query);
    t.match(res.json(), { code, traceId: res.headers['x-request-id'] }, query);
  }
});

t.test("the tenant's owner is its admin, not the super tenant's, and cannot manage tenants", async (t) => {
  const { app } = await buildTestApp(t);
  await createTenant(app, 'abc.com', 'kim');
  const asOwner = basic('kim@abc.com', 'kim-Pa55word');
  const signedIn = await call(app, 'GET', '/scim2/Me', undefined, asOwner);
  t.equal(signedIn.statusCode, 200, `the owner signs in as kim@abc.com: ${signedIn.body}`);
  t.match(signedIn.json(), { userName: 'kim' });
  const refused = await call(app, 'GET', BASE, undefined, asOwner);
  t.equal(refused.statusCode, 403, 'a tenant admin manages no tenants');
  t.match(refused.json(), { code: 'UE-10000', message: 'Forbidden' });
  const underItsPath = await call(app, 'POST', `/t/abc.com${BASE}`, { domain: 'x.com', owners: [owner()] }, basic('kim', 'kim-Pa55word'));
  t.equal(underItsPath.statusCode, 403, 'nor under /t/abc.com/');
  t.equal((await call(app, 'GET', BASE, undefined, basic('kim', 'kim-Pa55word'))).statusCode, 401, 'kim is no user of the super tenant');

  const superPath = await call(app, 'GET', `/t/carbon.super${BASE}`);
  t.equal(superPath.statusCode, 200, "the super admin under /t/carbon.super/, IS's own form of these URLs");
  t.match(superPath.json(), { totalResults: 1, tenants: [{ domain: 'abc.com' }] });
});
