/**
 * The tenant rules as pure functions, table-driven: domain rules with IS's codes, `user@domain`
 * splitting, who administers a tenant and who manages tenants, the list's filter; and that the
 * registry makes the request path's directory forget a tenant it changes.
 */
import t from 'tap';
import { PasswordHasher } from '../../src/crypto/passwords.js';
import { IsApiError } from '../../src/domain/errors.js';
import {
  checkDomain,
  domainProblem,
  isTenantAdmin,
  mayManageTenants,
  parseTenantFilter,
  splitTenantUser,
  SUPER_TENANT,
  type TenantRecord,
} from '../../src/domain/tenants.js';
import type { TenantRepository } from '../../src/repositories/tenants.js';
import { TenantService } from '../../src/services/tenants.js';

t.test('domainProblem: WSO2 codes for each broken rule', async (t) => {
  const cases: [string, string | undefined][] = [
    ['example.com', undefined],
    ['a.b', undefined],
    ['abc-builders.example.co.uk', undefined],
    ['x1.y2', undefined],
    [`${'a'.repeat(63)}.com`, undefined],
    ['', 'TM-60004'],
    ['carbon.super', 'TM-60003'],
    ['example', 'TM-60005'],
    ['localhost', 'TM-60005'],
    ['.example.com', 'TM-60006'],
    ['exa_mple.com', 'TM-60007'],
    ['exa mple.com', 'TM-60007'],
    ['example.com ', 'TM-60007'],
    ['Example.com', 'TM-60007'],
    ['bücher.de', 'TM-60007'],
    ['a@b.com', 'TM-60007'],
    ['a/b.com', 'TM-60007'],
    ['example..com', 'TM-60017'],
    ['example.com.', 'TM-60017'],
    ['-example.com', 'TM-60017'],
    ['example-.com', 'TM-60017'],
    ['example.-com', 'TM-60017'],
    [`${'a'.repeat(64)}.com`, 'TM-60017'],
    [`${'abcdefghi.'.repeat(25)}com`, undefined],
    [`${'abcdefghi.'.repeat(25)}comx`, 'TM-60017'],
  ];
  for (const [domain, code] of cases) t.equal(domainProblem(domain)?.code, code, JSON.stringify(domain));
});

t.test('checkDomain: lower-cases, then refuses with a 400 IsApiError', async (t) => {
  t.equal(checkDomain('Example.COM'), 'example.com');
  t.equal(checkDomain('abc.com'), 'abc.com');
  for (const [domain, code] of [['CARBON.SUPER', 'TM-60003'], ['Example', 'TM-60005'], ['', 'TM-60004']] as const) {
    try {
      checkDomain(domain);
      t.fail(`${domain} accepted`);
    } catch (err) {
      t.ok(err instanceof IsApiError, domain);
      t.match(err, { statusCode: 400, code }, domain);
    }
  }
});

t.test('splitTenantUser: the suffix is a tenant only when one has that domain', async (t) => {
  const known = new Set(['a.com', 'b.org']);
  const isKnown = (domain: string) => known.has(domain);
  const cases: [string, { username: string; domain: string | undefined }][] = [
    ['alice@a.com', { username: 'alice', domain: 'a.com' }],
    ['alice@A.COM', { username: 'alice', domain: 'a.com' }],
    ['bob@gmail.com', { username: 'bob@gmail.com', domain: undefined }],
    ['x@carbon.super', { username: 'x', domain: 'carbon.super' }],
    ['x@Carbon.Super', { username: 'x', domain: 'carbon.super' }],
    ['kim@mail.com@b.org', { username: 'kim@mail.com', domain: 'b.org' }],
    ['kim@b.org@gmail.com', { username: 'kim@b.org@gmail.com', domain: undefined }],
    ['admin', { username: 'admin', domain: undefined }],
    ['@a.com', { username: '@a.com', domain: undefined }],
    ['alice@', { username: 'alice@', domain: undefined }],
  ];
  for (const [name, expected] of cases) t.strictSame(splitTenantUser(name, isKnown), expected, name);
  const asked: string[] = [];
  splitTenantUser('carol@Some.Org', (domain) => (asked.push(domain), false));
  t.strictSame(asked, ['some.org'], 'the lower-cased domain is asked');
});

t.test('isTenantAdmin: the owner, in its own tenant', async (t) => {
  const tenant = { id: 7, ownerId: 'u-1' };
  t.equal(isTenantAdmin(tenant, { id: 'u-1', tenantId: 7 }), true);
  t.equal(isTenantAdmin(tenant, { id: 'u-2', tenantId: 7 }), false, 'another user of the tenant');
  t.equal(isTenantAdmin(tenant, { id: 'u-1', tenantId: 8 }), false, 'the same id in another tenant');
  t.equal(isTenantAdmin({ id: SUPER_TENANT.id, ownerId: null }, { id: 'u-1', tenantId: SUPER_TENANT.id }), false, 'no owner recorded');
});

t.test('mayManageTenants: the super tenant’s super admin only', async (t) => {
  t.equal(mayManageTenants({ isSuperAdmin: true, tenant: SUPER_TENANT }), true);
  t.equal(mayManageTenants({ isSuperAdmin: true, tenant: { id: 3, domain: 'a.com' } }), false, 'in another tenant');
  t.equal(mayManageTenants({ isSuperAdmin: false, tenant: SUPER_TENANT }), false);
});

t.test('parseTenantFilter: domain <eq|sw|ew|co> <value>', async (t) => {
  const cases: [string, { operator: string; value: string }][] = [
    ['domain eq abc.com', { operator: 'eq', value: 'abc.com' }],
    ['domain sw abc', { operator: 'sw', value: 'abc' }],
    ['DOMAIN EW .COM', { operator: 'ew', value: '.com' }],
    ['domainName co "b"', { operator: 'co', value: 'b' }],
    ['  domain   eq   x.y  ', { operator: 'eq', value: 'x.y' }],
    ['domain sw "50%_off"', { operator: 'sw', value: '50%_off' }],
  ];
  for (const [filter, expected] of cases) t.strictSame(parseTenantFilter(filter), expected, filter);
  for (const filter of ['', 'domain', 'domain eq', 'domain gt a', 'name eq a', 'domain eq a and domain eq b', 'domain eq a b']) {
    t.throws(() => parseTenantFilter(filter), { statusCode: 400, code: 'TM-65006' }, JSON.stringify(filter));
  }
});

t.test('TenantService: what it changes, the request path forgets at once', async (t) => {
  const record = (active: boolean): TenantRecord => ({
    id: 1,
    domain: 'a.com',
    active,
    uuid: '00000000-0000-4000-8000-000000000000',
    ownerId: 'u-1',
    createdAt: new Date(0),
    updatedAt: new Date(0),
  });
  const repository = {
    create: async () => record(true),
    setActive: async (_uuid: string, active: boolean) => record(active),
    owners: async () => new Map([[1, [{ id: 'u-1', username: 'kim' }]]]),
  } as unknown as TenantRepository;
  const forgotten: string[] = [];
  const service = new TenantService(repository, new PasswordHasher({ ln: 4, r: 8, p: 1 }), { forget: (domain) => forgotten.push(domain) });
  const admin = { tenant: SUPER_TENANT, userId: 'admin-id', username: 'admin', isSuperAdmin: true };
  await service.create(admin, { domain: 'A.com', owner: { username: 'kim', password: 'kim-Pa55word' } });
  t.strictSame(forgotten, ['a.com'], 'a new tenant: a remembered "unknown" goes');
  await service.setLifecycle(admin, '00000000-0000-4000-8000-000000000000', false);
  t.strictSame(forgotten, ['a.com', 'a.com'], 'a deactivation');
  await t.rejects(service.setLifecycle({ ...admin, isSuperAdmin: false }, 'x', true), { name: 'ApiError', statusCode: 403 });
  t.equal(forgotten.length, 2, 'a refused change forgets nothing');
});
