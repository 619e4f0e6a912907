/**
 * The key manager's scope rules as pure functions, table-driven:
 * parseScopeParameter, mayHoldScope, grantScopes, narrowScopes, and WSO2 IS 7's role-based rule
 * (roleScopeGranted, roleBoundCandidates).
 */
import t from 'tap';
import {
  APP_MANAGE_RULE_SCOPES,
  APP_MANAGE_SCOPE,
  DCR_SCOPES,
  DEFAULT_SCOPE,
  KNOWN_SCOPES,
  OPENID_SCOPE,
  followsAppManageRule,
  grantScopes,
  isBuiltInScope,
  mayHoldScope,
  narrowScopes,
  parseScopeParameter,
  roleBoundCandidates,
  roleScopeGranted,
  type AppManagePolicy,
  type ScopeBindings,
  type ScopeHolder,
} from '../../src/domain/scopes.js';
import { SUPER_TENANT } from '../../src/domain/tenants.js';

const ANYONE: AppManagePolicy = { anyone: true };
const ONLY_ALICE: AppManagePolicy = { anyone: false, users: new Set(['alice']) };
const NOBODY: AppManagePolicy = { anyone: false, users: new Set() };

const admin = { tenant: SUPER_TENANT, username: 'admin', isSuperAdmin: true };
const alice = { tenant: SUPER_TENANT, username: 'alice', isSuperAdmin: false };
const bob = { tenant: SUPER_TENANT, username: 'bob', isSuperAdmin: false };

t.test('constants', async (t) => {
  t.equal(APP_MANAGE_SCOPE, 'apim:dcr:app_manage');
  t.equal(OPENID_SCOPE, 'openid');
  t.equal(DEFAULT_SCOPE, 'default');
  t.same(DCR_SCOPES, { create: 'internal_dcr_create', view: 'internal_dcr_view', update: 'internal_dcr_update', delete: 'internal_dcr_delete' });
  t.same(APP_MANAGE_RULE_SCOPES, ['apim:dcr:app_manage', 'internal_dcr_create', 'internal_dcr_view', 'internal_dcr_update', 'internal_dcr_delete']);
  t.same(KNOWN_SCOPES, ['apim:dcr:app_manage', 'internal_dcr_create', 'internal_dcr_view', 'internal_dcr_update', 'internal_dcr_delete', 'openid']);
});

t.test("IS DCR's internal_dcr_* scopes: built in, granted by apim:dcr:app_manage's rule, never by roles", async (t) => {
  for (const scope of Object.values(DCR_SCOPES)) {
    t.ok(isBuiltInScope(scope), `${scope} is built in`);
    t.ok(followsAppManageRule(scope), `${scope} follows the app-manage rule`);
    for (const [user, policy] of [[bob, ANYONE], [alice, ONLY_ALICE], [bob, ONLY_ALICE], [admin, NOBODY], [alice, NOBODY]] as const) {
      t.equal(mayHoldScope(scope, user, policy), mayHoldScope(APP_MANAGE_SCOPE, user, policy), `${scope}: ${user.username} as for apim:dcr:app_manage`);
    }
    t.equal(mayHoldScope(scope, { ...bob, application: true }, { anyone: true, applicationTokens: false }), false, `${scope}: DCR_APP_TOKENS_MANAGE_APPS=false applies`);
    const asRole: ScopeBindings = new Map([[scope, { boundToRoles: false, heldBySubject: false }]]);
    t.same(grantScopes([scope], bob, ONLY_ALICE, asRole), ['default'], `${scope}: an API resource defining it does not widen its rule`);
  }
  t.same(roleBoundCandidates([...Object.values(DCR_SCOPES), APP_MANAGE_SCOPE]), [], 'no role query for them');
  t.notOk(followsAppManageRule(OPENID_SCOPE));
  t.notOk(isBuiltInScope('internal_dcr_other'));
});

t.test('parseScopeParameter', async (t) => {
  const cases: [string | undefined, string[]][] = [
    [undefined, []],
    ['', []],
    [' ', []],
    ['openid', ['openid']],
    ['apim:dcr:app_manage openid', ['apim:dcr:app_manage', 'openid']],
    ['  openid   apim:dcr:app_manage  ', ['openid', 'apim:dcr:app_manage']],
    ['openid openid', ['openid', 'openid']],
    ['foo bar', ['foo', 'bar']],
    // Case matters: scope tokens are case-sensitive (RFC 6749 §3.3).
    ['OpenID', ['OpenID']],
  ];
  for (const [input, expected] of cases) {
    t.same(parseScopeParameter(input), expected, JSON.stringify(input));
  }
});

t.test('mayHoldScope', async (t) => {
  const cases: [string, ScopeHolder, AppManagePolicy, boolean][] = [
    ['openid', bob, ANYONE, true],
    ['openid', bob, NOBODY, true],
    ['openid', admin, NOBODY, true],
    [APP_MANAGE_SCOPE, bob, ANYONE, true],
    [APP_MANAGE_SCOPE, alice, ANYONE, true],
    [APP_MANAGE_SCOPE, admin, ANYONE, true],
    [APP_MANAGE_SCOPE, alice, ONLY_ALICE, true],
    [APP_MANAGE_SCOPE, bob, ONLY_ALICE, false],
    [APP_MANAGE_SCOPE, admin, ONLY_ALICE, true],
    [APP_MANAGE_SCOPE, admin, NOBODY, true],
    [APP_MANAGE_SCOPE, alice, NOBODY, false],
    // A user who happens to be named like the admin is not the super admin.
    [APP_MANAGE_SCOPE, { tenant: SUPER_TENANT, username: 'admin', isSuperAdmin: false }, NOBODY, false],
    // The list is exact and case-sensitive.
    [APP_MANAGE_SCOPE, { tenant: SUPER_TENANT, username: 'Alice', isSuperAdmin: false }, ONLY_ALICE, false],
    // The list names super tenant users; a tenant's user is listed as name@domain.
    [APP_MANAGE_SCOPE, { tenant: { id: 1, domain: 'a.com' }, username: 'alice', isSuperAdmin: false }, ONLY_ALICE, false],
    [APP_MANAGE_SCOPE, { tenant: { id: 1, domain: 'a.com' }, username: 'alice', isSuperAdmin: false }, { anyone: false, users: new Set(['alice@a.com']) }, true],
    [APP_MANAGE_SCOPE, alice, { anyone: false, users: new Set(['alice@a.com']) }, false],
    ['foo', admin, ANYONE, false],
    ['default', admin, ANYONE, false],
    ['', admin, ANYONE, false],
    ['APIM:DCR:APP_MANAGE', admin, ANYONE, false],
    ['OPENID', admin, ANYONE, false],
  ];
  for (const [scope, user, policy, expected] of cases) {
    t.equal(
      mayHoldScope(scope, user, policy),
      expected,
      `${scope} / ${user.username}${user.isSuperAdmin ? ' (super admin)' : ''} / ${policy.anyone ? 'anyone' : [...policy.users].join(',') || 'nobody'}`,
    );
  }
});

t.test('grantScopes', async (t) => {
  const cases: [string, string[], ScopeHolder, AppManagePolicy, string[]][] = [
    ['nothing requested', [], bob, ANYONE, ['default']],
    ['only unknown', ['foo'], bob, ANYONE, ['default']],
    ['default asked explicitly', ['default'], bob, ANYONE, ['default']],
    ['known and unknown, sorted', [OPENID_SCOPE, 'foo', APP_MANAGE_SCOPE], bob, ANYONE, [APP_MANAGE_SCOPE, OPENID_SCOPE]],
    ['already sorted', [APP_MANAGE_SCOPE, OPENID_SCOPE, 'foo'], alice, ANYONE, [APP_MANAGE_SCOPE, OPENID_SCOPE]],
    ['duplicates collapse', [OPENID_SCOPE, OPENID_SCOPE, APP_MANAGE_SCOPE, APP_MANAGE_SCOPE], bob, ANYONE, [APP_MANAGE_SCOPE, OPENID_SCOPE]],
    ['app_manage alone', [APP_MANAGE_SCOPE], bob, ANYONE, [APP_MANAGE_SCOPE]],
    ['not listed: app_manage dropped', [APP_MANAGE_SCOPE], bob, ONLY_ALICE, ['default']],
    ['not listed: openid kept', [APP_MANAGE_SCOPE, OPENID_SCOPE], bob, ONLY_ALICE, [OPENID_SCOPE]],
    ['listed user', [APP_MANAGE_SCOPE], alice, ONLY_ALICE, [APP_MANAGE_SCOPE]],
    ['super admin always', [APP_MANAGE_SCOPE, 'foo'], admin, NOBODY, [APP_MANAGE_SCOPE]],
    ['case-sensitive tokens', ['OpenID', 'Apim:dcr:app_manage'], admin, ANYONE, ['default']],
  ];
  for (const [label, requested, user, policy, expected] of cases) {
    const before = [...requested];
    t.same(grantScopes(requested, user, policy), expected, label);
    t.same(requested, before, `${label}: the input is not mutated`);
  }
});

t.test('roleScopeGranted: WSO2 IS 7\'s role-based scope issuer', async (t) => {
  t.equal(roleScopeGranted(undefined), false, 'defined by no API resource: dropped');
  t.equal(roleScopeGranted({ boundToRoles: false, heldBySubject: false }), true, 'defined, bound to no role: granted');
  t.equal(roleScopeGranted({ boundToRoles: true, heldBySubject: true }), true, "bound to one of the subject's roles: granted");
  t.equal(roleScopeGranted({ boundToRoles: true, heldBySubject: false }), false, 'bound only to roles the subject lacks: dropped');
});

t.test('roleBoundCandidates: the database is asked only of scopes that are not built in', async (t) => {
  t.same(roleBoundCandidates([]), []);
  t.same(roleBoundCandidates([APP_MANAGE_SCOPE, OPENID_SCOPE]), [], 'built-in scopes only: no query');
  t.same(roleBoundCandidates(['orders:read', APP_MANAGE_SCOPE, 'orders:read', 'orders:write']), ['orders:read', 'orders:write'], 'once each');
});

t.test('grantScopes with role bindings', async (t) => {
  const bindings: ScopeBindings = new Map([
    ['open', { boundToRoles: false, heldBySubject: false }],
    ['mine', { boundToRoles: true, heldBySubject: true }],
    ['theirs', { boundToRoles: true, heldBySubject: false }],
  ]);
  t.same(grantScopes(['theirs', 'mine', 'undefined-scope', 'open'], bob, ANYONE, bindings), ['mine', 'open'], 'each by the rule, sorted');
  t.same(grantScopes(['theirs', 'undefined-scope'], bob, ANYONE, bindings), ['default'], 'nothing left: default');
  t.same(grantScopes(['open', APP_MANAGE_SCOPE], bob, ONLY_ALICE, bindings), ['open'], 'apim:dcr:app_manage keeps its own rule');
  t.same(grantScopes([APP_MANAGE_SCOPE, 'mine'], alice, ONLY_ALICE, bindings), [APP_MANAGE_SCOPE, 'mine']);
  const asRole: ScopeBindings = new Map([[APP_MANAGE_SCOPE, { boundToRoles: false, heldBySubject: false }]]);
  t.same(grantScopes([APP_MANAGE_SCOPE], bob, ONLY_ALICE, asRole), ['default'], 'an API resource defining a built-in scope does not widen its rule');
  t.same(grantScopes(['open'], bob, ANYONE), ['default'], 'without bindings, a non-built-in scope is dropped as before');
});

t.test('narrowScopes', async (t) => {
  const cases: [string, string[], string[], string[] | undefined][] = [
    ['no scope keeps the grant', [APP_MANAGE_SCOPE, OPENID_SCOPE], [], [APP_MANAGE_SCOPE, OPENID_SCOPE]],
    ['same scope', [APP_MANAGE_SCOPE, OPENID_SCOPE], [OPENID_SCOPE, APP_MANAGE_SCOPE], [APP_MANAGE_SCOPE, OPENID_SCOPE]],
    ['narrower', [APP_MANAGE_SCOPE, OPENID_SCOPE], [OPENID_SCOPE], [OPENID_SCOPE]],
    ['narrower, duplicated', [APP_MANAGE_SCOPE, OPENID_SCOPE], [OPENID_SCOPE, OPENID_SCOPE], [OPENID_SCOPE]],
    ['wider', [OPENID_SCOPE], [OPENID_SCOPE, APP_MANAGE_SCOPE], undefined],
    ['disjoint', [OPENID_SCOPE], [APP_MANAGE_SCOPE], undefined],
    ['unknown scope', [APP_MANAGE_SCOPE], ['foo'], undefined],
    ['default grant, default asked', ['default'], ['default'], ['default']],
    ['default grant, more asked', ['default'], [APP_MANAGE_SCOPE], undefined],
    ['default grant, nothing asked', ['default'], [], ['default']],
  ];
  for (const [label, original, requested, expected] of cases) {
    const originalBefore = [...original];
    const result = narrowScopes(original, requested);
    t.same(result, expected, label);
    t.same(original, originalBefore, `${label}: the grant is not mutated`);
    if (result) t.not(result, original, `${label}: a copy, not the grant itself`);
  }
});

t.test('mayHoldScope: an application acting for its owner, per DCR_APP_TOKENS_MANAGE_APPS', async (t) => {
  const admin = { tenant: SUPER_TENANT, username: 'admin', isSuperAdmin: true };
  const rows: Array<[AppManagePolicy, boolean, boolean]> = [
    // policy, application token?, may hold apim:dcr:app_manage
    [ANYONE, false, true],
    [ANYONE, true, true],
    [{ anyone: true, applicationTokens: true }, true, true],
    [{ anyone: true, applicationTokens: false }, true, false],
    [{ anyone: true, applicationTokens: false }, false, true],
    [{ ...ONLY_ALICE, applicationTokens: false }, true, false],
    [{ ...ONLY_ALICE, applicationTokens: false }, false, true],
  ];
  for (const [policy, application, expected] of rows) {
    t.equal(mayHoldScope('apim:dcr:app_manage', { ...admin, application }, policy), expected, JSON.stringify({ policy: { ...policy, users: undefined }, application }));
  }
  t.equal(mayHoldScope('openid', { ...admin, application: true }, { anyone: true, applicationTokens: false }), true, 'other scopes are not affected');
});
