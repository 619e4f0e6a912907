/**
 * The registration rules and the wire-level boolean coercion as pure
 * functions: table-driven, no HTTP, no database.
 */
import t from 'tap';
import {
  CLIENT_NAME_PATTERN,
  DEFAULT_ALLOWED_GRANT_TYPES,
  callbackAlternatives,
  DEFAULT_TOKEN_TYPE,
  checkOwnerAllowed,
  forbiddenExisting,
  mayReuseExisting,
  missingBody,
  normaliseCallbackUrl,
  normaliseTokenType,
  requireClientName,
  requireOwner,
  resolveGrantTypes,
  schemeOf,
} from '../../src/domain/registration-rules.js';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import type { Caller } from '../../src/domain/types.js';
import {
  coerceBooleanFields,
  coerceBooleanish,
  readAsProperties,
  readBoolean,
  readString,
  type PropertySchema,
} from '../../src/domain/wire-coercion.js';
import { loadSpec } from '../../src/http/spec.js';
import { dereference, satisfies, type Schema } from '../fixtures/openapi.js';
import { ApiError } from '../../src/domain/errors.js';

const admin: Caller = { tenant: SUPER_TENANT, userId: 'u-admin', username: 'admin', isSuperAdmin: true };
const alice: Caller = { tenant: SUPER_TENANT, userId: 'u-alice', username: 'alice', isSuperAdmin: false };

/** The ApiError `fn` throws; anything else (or no throw) fails the calling test. */
function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}

t.test('requireOwner (rule 1)', async (t) => {
  const rejected: [string, string | undefined][] = [
    ['missing', undefined],
    ['empty', ''],
    ['a space', ' '],
    ['tabs and newlines', '\t\n '],
    ['a no-break space', '\u00a0'],
  ];
  for (const [label, owner] of rejected) {
    t.test(`${label} → 400`, async (t) => {
      const err = apiErrorOf(() => requireOwner(owner));
      t.equal(err.statusCode, 400);
      t.equal(err.title, 'Application owner cannot be empty');
      t.equal(err.description, 'Application owner cannot be empty');
      t.equal(err.message, 'Application owner cannot be empty');
      t.same(err.details, [{ code: 'owner', message: 'Application owner cannot be empty' }]);
      t.equal(err.expose, true);
    });
  }

  const accepted: [string, string][] = [
    ['plain', 'alice'],
    ['surrounding spaces are kept, not trimmed', ' alice '],
    ['a single character', 'a'],
  ];
  for (const [label, owner] of accepted) {
    t.equal(requireOwner(owner), owner, label);
  }
});

t.test('checkOwnerAllowed (rules 2 and 3)', async (t) => {
  t.test('super admin, owner exists: allowed for anyone', async (t) => {
    t.doesNotThrow(() => checkOwnerAllowed(admin, 'alice', true));
    t.doesNotThrow(() => checkOwnerAllowed(admin, 'admin', true));
  });

  t.test('super admin, owner missing → 403', async (t) => {
    const err = apiErrorOf(() => checkOwnerAllowed(admin, 'x', false));
    t.equal(err.statusCode, 403);
    t.equal(err.title, 'User: x does not exist for application registration');
    t.equal(err.description, 'User: x does not exist for application registration');
  });

  const mismatches: [string, Caller, string][] = [
    ['another user', { ...alice, username: 'a' }, 'b'],
    ['differs only in case', alice, 'Alice'],
    ['differs by a trailing space', alice, 'alice '],
    ['the admin name, from a non-admin', alice, 'admin'],
  ];
  for (const [label, caller, owner] of mismatches) {
    t.test(`non-admin, ${label} → 400`, async (t) => {
      // ownerExists does not matter for a non-admin: only the exact name counts.
      for (const ownerExists of [true, false]) {
        const err = apiErrorOf(() => checkOwnerAllowed(caller, owner, ownerExists));
        t.equal(err.statusCode, 400);
        t.equal(err.description, `Logged in user '${caller.username}' and application owner '${owner}' should be same.`);
        t.same(err.details, [{ code: 'owner', message: err.description }]);
      }
    });
  }

  t.test('the exact message of the brief', async (t) => {
    const err = apiErrorOf(() => checkOwnerAllowed({ ...alice, username: 'a' }, 'b', true));
    t.equal(err.description, "Logged in user 'a' and application owner 'b' should be same.");
  });

  t.test('non-admin registering for themselves', async (t) => {
    t.doesNotThrow(() => checkOwnerAllowed(alice, 'alice', true));
  });
});

t.test('requireClientName (rule 4)', async (t) => {
  // WSO2's `^[\sa-zA-Z0-9._-]+$` with Java's ASCII-only `\s` spelled out.
  t.equal(CLIENT_NAME_PATTERN.source, '^[ \\t\\n\\x0B\\f\\ra-zA-Z0-9._-]+$');
  for (const unicodeSpace of ['a\u00a0b', 'a\u2003b', 'a\u3000b']) {
    t.throws(() => requireClientName(unicodeSpace), `rejects ${JSON.stringify(unicodeSpace)}: Java's \\s is ASCII only`);
  }

  const accepted = [
    'rest_api_publisher',
    'My App 2',
    'a.b-c_d',
    'A',
    '0',
    'tab\tseparated',
    'inner  spaces are kept',
  ];
  for (const name of accepted) {
    t.equal(requireClientName(name), name, `accepts ${JSON.stringify(name)}`);
  }

  const empty: [string, string | undefined][] = [
    ['missing', undefined],
    ['empty', ''],
  ];
  for (const [label, name] of empty) {
    t.test(`${label} → 400 naming clientName`, async (t) => {
      const err = apiErrorOf(() => requireClientName(name));
      t.equal(err.statusCode, 400);
      t.equal(err.details[0]?.code, 'clientName');
      t.match(err.description, /clientName/);
    });
  }

  const invalid = ['a/b', 'app!', 'café', 'x@y', 'semi;colon', '<script>', 'a+b', 'emoji 🙂', 'comma,name'];
  for (const name of invalid) {
    t.test(`rejects ${JSON.stringify(name)}`, async (t) => {
      const err = apiErrorOf(() => requireClientName(name));
      t.equal(err.statusCode, 400);
      t.equal(err.details[0]?.code, 'clientName');
      t.ok(err.description.includes(`'${name}'`), 'the description quotes the name');
    });
  }

  // Our rule on top of WSO2's pattern: 'app' and 'app ' would look like one application.
  const surrounded = [' app', 'app ', '\tapp', 'app\n', ' app ', '   ', '\u000bapp', 'app\f', '\rapp'];
  for (const name of surrounded) {
    t.test(`rejects ${JSON.stringify(name)}: white space at an end`, async (t) => {
      const err = apiErrorOf(() => requireClientName(name));
      t.equal(err.statusCode, 400);
      const description = `Application name '${name}' is invalid: it must not begin or end with white space`;
      t.equal(err.description, description);
      t.same(err.details, [{ code: 'clientName', message: description }]);
    });
  }
});

t.test('resolveGrantTypes (rules 5 and 6)', async (t) => {
  const empty: [string, string | undefined][] = [
    ['missing', undefined],
    ['empty', ''],
    ['only white space', '   \t '],
  ];
  for (const [label, grantType] of empty) {
    t.test(`${label} → 400`, async (t) => {
      const err = apiErrorOf(() => resolveGrantTypes(grantType, null, DEFAULT_ALLOWED_GRANT_TYPES));
      t.equal(err.statusCode, 400);
      t.equal(err.details[0]?.code, 'grantType');
    });
  }

  const disallowed: [string, string, string, readonly string[]][] = [
    ['unknown grant', 'password foo_grant', 'foo_grant', DEFAULT_ALLOWED_GRANT_TYPES],
    ['first offender is named', 'bar_grant foo_grant', 'bar_grant', DEFAULT_ALLOWED_GRANT_TYPES],
    ['allowed list is case-sensitive', 'PASSWORD', 'PASSWORD', DEFAULT_ALLOWED_GRANT_TYPES],
    ['with a callback, an odd spelling of a redirect grant is validated', 'password AUTHORIZATION_CODE', 'AUTHORIZATION_CODE', DEFAULT_ALLOWED_GRANT_TYPES],
    ['a grant missing from a narrowed list', 'client_credentials password', 'password', ['client_credentials']],
  ];
  for (const [label, grantType, offender, allowed] of disallowed) {
    t.test(`${label} → 400`, async (t) => {
      const err = apiErrorOf(() => resolveGrantTypes(grantType, 'https://cb', allowed));
      t.equal(err.statusCode, 400);
      t.equal(err.description, `'${offender}' grant type is not allowed.`);
      t.same(err.details, [{ code: 'grantType', message: `'${offender}' grant type is not allowed.` }]);
    });
  }

  t.test('the exact message of WSO2', async (t) => {
    const err = apiErrorOf(() => resolveGrantTypes('foo_grant', null, DEFAULT_ALLOWED_GRANT_TYPES));
    t.equal(err.description, "'foo_grant' grant type is not allowed.");
  });

  // Lists that allow odd spellings, to exercise the case-insensitive drop of rule 6 on its own.
  const mixedCaseAllowed = [...DEFAULT_ALLOWED_GRANT_TYPES, 'AUTHORIZATION_CODE', 'Implicit'];
  const resolved: [string, string, string | null, readonly string[], string[]][] = [
    ['every default grant is allowed', DEFAULT_ALLOWED_GRANT_TYPES.join(' '), 'https://cb', DEFAULT_ALLOWED_GRANT_TYPES, [...DEFAULT_ALLOWED_GRANT_TYPES]],
    ['order kept', 'refresh_token password client_credentials', null, DEFAULT_ALLOWED_GRANT_TYPES, ['refresh_token', 'password', 'client_credentials']],
    ['any white space separates', ' password\tclient_credentials\n refresh_token ', null, DEFAULT_ALLOWED_GRANT_TYPES, ['password', 'client_credentials', 'refresh_token']],
    ['duplicates removed, first position kept', 'password client_credentials password', null, DEFAULT_ALLOWED_GRANT_TYPES, ['password', 'client_credentials']],
    ['no callback: authorization_code dropped', 'authorization_code password', null, DEFAULT_ALLOWED_GRANT_TYPES, ['password']],
    ['no callback: implicit dropped', 'implicit client_credentials', null, DEFAULT_ALLOWED_GRANT_TYPES, ['client_credentials']],
    ['no callback: both dropped, leaving none', 'authorization_code implicit', null, DEFAULT_ALLOWED_GRANT_TYPES, []],
    ['no callback: dropped case-insensitively', 'AUTHORIZATION_CODE Implicit password', null, mixedCaseAllowed, ['password']],
    // WSO2 drops them before its key manager validates the rest: a dropped spelling is never rejected.
    ['no callback: dropped before validation', 'AUTHORIZATION_CODE Implicit password', null, DEFAULT_ALLOWED_GRANT_TYPES, ['password']],
    ['callback: authorization_code and implicit kept', 'authorization_code implicit password', 'https://cb', DEFAULT_ALLOWED_GRANT_TYPES, ['authorization_code', 'implicit', 'password']],
    ['callback: kept as sent, case included', 'AUTHORIZATION_CODE Implicit', 'https://cb', mixedCaseAllowed, ['AUTHORIZATION_CODE', 'Implicit']],
    ['callback: duplicates still removed', 'implicit implicit', 'regexp=(https://a/cb|https://b/cb)', DEFAULT_ALLOWED_GRANT_TYPES, ['implicit']],
    ['urn grants', 'urn:ietf:params:oauth:grant-type:jwt-bearer urn:ietf:params:oauth:grant-type:device_code', null, DEFAULT_ALLOWED_GRANT_TYPES, ['urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:ietf:params:oauth:grant-type:device_code']],
  ];
  for (const [label, grantType, callback, allowed, expected] of resolved) {
    t.same(resolveGrantTypes(grantType, callback, allowed), expected, label);
  }

  t.test('a disallowed grant fails even when rule 6 would drop its neighbours', async (t) => {
    const err = apiErrorOf(() => resolveGrantTypes('authorization_code foo_grant', null, DEFAULT_ALLOWED_GRANT_TYPES));
    t.equal(err.description, "'foo_grant' grant type is not allowed.");
  });
});

t.test('normaliseCallbackUrl', async (t) => {
  const cases: [unknown, string | null][] = [
    [undefined, null],
    [null, null],
    ['', null],
    ['https://example.com/cb', 'https://example.com/cb'],
    ['www.example.com', 'www.example.com'],
    ['regexp=(https://a/cb|https://b/cb)', 'regexp=(https://a/cb|https://b/cb)'],
    // Verbatim: not trimmed, and not required to be a URL (WSO2's own example is www.google.lk).
    [' ', ' '],
    ['not a url', 'not a url'],
    ['http://localhost:8080/cb', 'http://localhost:8080/cb'],
    ['com.example.app:/oauth2redirect', 'com.example.app:/oauth2redirect'],
    ['/relative/cb', '/relative/cb'],
    ['javascript', 'javascript'],
    ['https://example.com/?next=javascript:alert(1)', 'https://example.com/?next=javascript:alert(1)'],
    ['regexp=(https://a/cb|https://b/cb)', 'regexp=(https://a/cb|https://b/cb)'],
    ['regexp=https://a/(x|y)/cb', 'regexp=https://a/(x|y)/cb'],
    ['regexp=(?i)https://a/cb', 'regexp=(?i)https://a/cb'],
    ['regexp=https://a/.*', 'regexp=https://a/.*'],
  ];
  for (const [input, expected] of cases) {
    t.equal(normaliseCallbackUrl(input as string | null | undefined), expected, JSON.stringify(input) ?? 'undefined');
  }

  // Schemes that run script or carry a document, however a browser would still read them.
  const forbidden: [string, string][] = [
    ['javascript:alert(1)', 'javascript'],
    ['JavaScript:alert(1)', 'javascript'],
    ['JAVASCRIPT:alert(1)', 'javascript'],
    ['  javascript:alert(1)', 'javascript'],
    ['\u0001\u001f javascript:alert(1)', 'javascript'],
    ['\tjavascript:alert(1)', 'javascript'],
    ['java\tscript:alert(1)', 'javascript'],
    ['java\nscr\ript:alert(1)', 'javascript'],
    ['data:text/html,<script>alert(1)</script>', 'data'],
    ['DATA:text/html;base64,PHNjcmlwdD4=', 'data'],
    ['vbscript:msgbox(1)', 'vbscript'],
    ['VBScript:msgbox(1)', 'vbscript'],
    ['regexp=(https://a/cb|javascript:alert(1))', 'javascript'],
    ['regexp=(javascript:alert(1)|https://a/cb)', 'javascript'],
    ['regexp=javascript:.*', 'javascript'],
    ['regexp=(https://a/cb|data:text/html,x)', 'data'],
    ['regexp=(https://a/cb| JavaScript:x)', 'javascript'],
    ['regexp=(https://a/(x|y)|vbscript:x)', 'vbscript'],
    ['regexp=(?:javascript:x)', 'javascript'],
    ['regexp=(?i)javascript:x', 'javascript'],
    ['regexp=^javascript:x', 'javascript'],
    ['regexp=(^javascript\\:x)', 'javascript'],
  ];
  for (const [input, scheme] of forbidden) {
    t.test(`${JSON.stringify(input)} → 400 naming callbackUrl`, async (t) => {
      const err = apiErrorOf(() => normaliseCallbackUrl(input));
      t.equal(err.statusCode, 400);
      const description = `Callback URL (callbackUrl) must not use the '${scheme}:' scheme`;
      t.equal(err.description, description);
      t.same(err.details, [{ code: 'callbackUrl', message: description }]);
    });
  }
});

t.test('schemeOf: the scheme a browser reads', async (t) => {
  const cases: [string, string | undefined][] = [
    ['https://a/cb', 'https'],
    ['HTTP://a', 'http'],
    ['com.example.app:/cb', 'com.example.app'],
    ['urn:ietf:wg:oauth:2.0:oob', 'urn'],
    [' \u0000javascript:x', 'javascript'],
    ['ja\nva\tscript:x', 'javascript'],
    ['www.google.lk', undefined],
    ['/path:with:colons', undefined],
    ['1http://a', undefined],
    ['java script:x', undefined],
    // DEL is no C0 control: a browser does not drop it, so this has no scheme.
    ['\u007fjavascript:x', undefined],
    ['', undefined],
  ];
  for (const [url, scheme] of cases) t.equal(schemeOf(url), scheme, JSON.stringify(url));
});

t.test('callbackAlternatives: where a WSO2 regexp callback can send a client', async (t) => {
  t.strictSame(callbackAlternatives('https://a/cb'), ['https://a/cb']);
  t.strictSame(callbackAlternatives('www.google.lk'), ['www.google.lk']);
  t.strictSame(callbackAlternatives('regexp=(https://a/cb|https://b/cb)'), ['', 'https://a/cb', 'https://b/cb)']);
  t.strictSame(callbackAlternatives('regexp=(?i)^https://a\\.b/cb'), ['', 'https://a.b/cb']);
  // The prefix is WSO2's, case-sensitive: anything else is one literal callback.
  t.strictSame(callbackAlternatives('REGEXP=(a|b)'), ['REGEXP=(a|b)']);
});

t.test('normaliseTokenType', async (t) => {
  t.equal(DEFAULT_TOKEN_TYPE, 'DEFAULT');
  const cases: [unknown, string][] = [
    [undefined, 'DEFAULT'],
    [null, 'DEFAULT'],
    ['', 'DEFAULT'],
    ['   ', 'DEFAULT'],
    ['JWT', 'JWT'],
    ['DEFAULT', 'DEFAULT'],
    ['jwt', 'jwt'],
  ];
  for (const [input, expected] of cases) {
    t.equal(normaliseTokenType(input as string | null | undefined), expected, JSON.stringify(input) ?? 'undefined');
  }
});

t.test('mayReuseExisting (rule 7)', async (t) => {
  const bob: Caller = { tenant: SUPER_TENANT, userId: 'u-bob', username: 'bob', isSuperAdmin: false };
  const cases: [string, Caller, string, string, boolean][] = [
    // label, caller, requested owner, stored owner, expected
    ['owner registers again', alice, 'alice', 'alice', true],
    ['owner registers again, whatever owner they send', alice, 'bob', 'alice', true],
    ['another user', bob, 'bob', 'alice', false],
    ['another user naming the stored owner', bob, 'alice', 'alice', false],
    ['owner differs only in case', { ...alice, username: 'Alice' }, 'Alice', 'alice', false],
    ['super admin on behalf of the stored owner', admin, 'alice', 'alice', true],
    ['super admin on behalf of someone else', admin, 'bob', 'alice', false],
    ['super admin, owner differs in case', admin, 'Alice', 'alice', false],
    ['super admin owns it', admin, 'admin', 'admin', true],
  ];
  for (const [label, caller, requestedOwner, storedOwner, expected] of cases) {
    t.equal(mayReuseExisting(caller, requestedOwner, { owner: storedOwner }), expected, label);
  }
});

t.test('forbiddenExisting and missingBody', async (t) => {
  const forbidden = forbiddenExisting();
  t.equal(forbidden.statusCode, 403);
  t.equal(forbidden.title, 'Forbidden');
  t.equal(forbidden.description, 'Access is forbidden to the application');
  const missing = missingBody();
  t.equal(missing.statusCode, 400);
  t.equal(missing.expose, true);
});

t.test('coerceBooleanish', async (t) => {
  const cases: [unknown, unknown][] = [
    [null, false],
    ['', false],
    ['true', true],
    ['TRUE', true],
    ['True', true],
    ['false', false],
    ['FALSE', false],
    ['fAlSe', false],
    [true, true],
    [false, false],
    [1, true],
    [0, false],
    // Left for validation to reject.
    [2, 2],
    [-1, -1],
    [0.5, 0.5],
    ['yes', 'yes'],
    ['1', '1'],
    [' true', ' true'],
    [undefined, undefined],
  ];
  for (const [input, expected] of cases) {
    t.equal(coerceBooleanish(input), expected, `${JSON.stringify(input) ?? 'undefined'} → ${JSON.stringify(expected)}`);
  }
  const object = { a: 1 };
  t.equal(coerceBooleanish(object), object, 'objects pass through untouched');
});

t.test('the served LenientBoolean and LenientString accept exactly what the register route reads', async (t) => {
  // The document declares every spelling WSO2 takes; the route reads them (coerceBooleanish for
  // booleans, AJV's number/boolean-to-string coercion for strings) and validates the result.
  const schemas = dereference(loadSpec('wso2-dcr-api.yaml')).components as { schemas: Record<string, Schema> };
  const lenientBoolean = schemas.schemas.LenientBoolean!;
  const lenientString = schemas.schemas.LenientString!;
  const nullableString = schemas.schemas.NullableLenientString!;
  t.equal(lenientBoolean['x-read-as'], 'boolean');
  t.equal(lenientString['x-read-as'], 'string');
  t.equal(nullableString['x-read-as'], 'string');
  const candidates: unknown[] = [true, false, null, '', 'true', 'TRUE', 'tRuE', 'false', 'FALSE', 1, 0, 2, -1, 0.5, 1e30, 'yes', 'no', '1', '0', ' true', 'true ', 'on', [], [true], {}, { v: true }];
  for (const value of candidates) {
    const readsAsBoolean = typeof coerceBooleanish(value) === 'boolean';
    t.equal(satisfies(lenientBoolean, value), readsAsBoolean, `LenientBoolean ${JSON.stringify(value)}: ${readsAsBoolean ? 'accepted' : 'refused'}`);
    const readsAsString = ['string', 'number', 'boolean'].includes(typeof value);
    t.equal(satisfies(lenientString, value), readsAsString, `LenientString ${JSON.stringify(value)}`);
    t.equal(satisfies(nullableString, value), readsAsString || value === null, `NullableLenientString ${JSON.stringify(value)}`);
  }
  for (const [value, read] of [[1, true], ['False', false], [null, false], ['', false], [undefined, undefined]] as const) {
    t.equal(readBoolean(value), read, `readBoolean(${JSON.stringify(value)})`);
  }
  t.throws(() => readBoolean('yes'), TypeError, 'a value validation refuses is a bug if it gets this far');
  t.strictSame([readString(123), readString(true), readString('x'), readString(null), readString(undefined)], ['123', 'true', 'x', null, undefined]);
});

t.test('readAsProperties: the route validates a lenient property as the type it is read as', async (t) => {
  const properties: Record<string, PropertySchema> = {
    saasApp: { 'x-read-as': 'boolean', anyOf: [{ type: 'boolean', nullable: true }, { type: 'string' }] },
    clientName: { 'x-read-as': 'string', anyOf: [{ type: 'string' }, { type: 'number' }] },
    callbackUrl: { 'x-read-as': 'string', anyOf: [{ type: 'string', nullable: true }, { type: 'number' }] },
    tokenScope: { description: 'untouched' },
  };
  t.strictSame(readAsProperties(properties), ['saasApp']);
  t.strictSame(properties, {
    saasApp: { type: 'boolean' },
    clientName: { type: 'string' },
    callbackUrl: { type: 'string', nullable: true },
    tokenScope: { description: 'untouched' },
  });
});

t.test('coerceBooleanFields', async (t) => {
  t.test('coerces only the named keys that are present, in place', async (t) => {
    const body: Record<string, unknown> = { saasApp: 'TRUE', userStoreDomainInSubject: '', clientName: 'true', other: null };
    coerceBooleanFields(body, ['saasApp', 'userStoreDomainInSubject', 'userstoreDomainInSubject']);
    t.same(body, { saasApp: true, userStoreDomainInSubject: false, clientName: 'true', other: null });
    t.notOk(Object.prototype.hasOwnProperty.call(body, 'userstoreDomainInSubject'), 'absent keys are not added');
  });

  t.test('null becomes false, unrecognised strings stay', async (t) => {
    const body: Record<string, unknown> = { saasApp: null, userstoreDomainInSubject: 'yes' };
    coerceBooleanFields(body, ['saasApp', 'userstoreDomainInSubject']);
    t.same(body, { saasApp: false, userstoreDomainInSubject: 'yes' });
  });

  t.test('inherited keys are not touched', async (t) => {
    const body = Object.create({ saasApp: 'true' }) as Record<string, unknown>;
    coerceBooleanFields(body, ['saasApp']);
    t.notOk(Object.prototype.hasOwnProperty.call(body, 'saasApp'));
  });

  const notObjects: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['a string', 'saasApp'],
    ['a number', 1],
    ['an array', ['true']],
  ];
  for (const [label, body] of notObjects) {
    t.test(`${label} is left alone`, async (t) => {
      const before = JSON.stringify(body);
      t.doesNotThrow(() => coerceBooleanFields(body, ['saasApp', '0']));
      t.equal(JSON.stringify(body), before);
    });
  }
});
