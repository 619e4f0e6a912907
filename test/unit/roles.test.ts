/**
 * The role rules as pure functions, table-driven: the displayName filter, names and permissions,
 * and a PatchOp read into its ordered changes.
 */
import t from 'tap';
import { ApiError } from '../../src/domain/errors.js';
import { checkDisplayName, checkPermission, parseDisplayNameFilter, roleChanges, type PatchOperation } from '../../src/domain/roles.js';

const ROLE_URN = 'urn:ietf:params:scim:schemas:extension:2.0:Role';

function scimTypeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError && err.statusCode === 400) return err.scimType;
    throw err;
  }
  return undefined;
}

t.test('parseDisplayNameFilter: quoted or not, attribute and operator in any case', async (t) => {
  const cases: [string, string][] = [
    ['displayName eq creator', 'creator'],
    ['  displayName   eq   creator  ', 'creator'],
    ['DisplayName EQ Internal/creator', 'Internal/creator'],
    ['displayName eq two words', 'two words'],
    ['displayName eq "quoted \\"name\\""', 'quoted "name"'],
    ['displayName eq ""', ''],
  ];
  for (const [filter, name] of cases) t.equal(parseDisplayNameFilter(filter), name, filter);
  for (const filter of ['', 'displayName eq', 'displayName eq ', 'displayName co x', 'userName eq x', 'displayName eq "a" or x', 'displayName eq "open']) {
    t.equal(scimTypeOf(() => parseDisplayNameFilter(filter)), 'invalidFilter', JSON.stringify(filter));
  }
});

t.test('checkDisplayName and checkPermission', async (t) => {
  for (const name of ['creator', 'Internal/creator', 'two words', 'ünïcode']) t.equal(checkDisplayName(name), name);
  for (const name of [' lead', 'trail ', 'tab\there', 'nul\u0000', 'del\u007f', 'nbsp\u00a0']) {
    t.equal(scimTypeOf(() => checkDisplayName(name)), 'invalidValue', JSON.stringify(name));
  }
  for (const scope of ['apim:api_view', 'a', '!#[]~', 'urn:x:y']) t.equal(checkPermission(scope), scope);
  for (const scope of ['', 'two words', 'quo"te', 'back\\slash', 'ümlaut', 'tab\t']) {
    t.equal(scimTypeOf(() => checkPermission(scope)), 'invalidValue', JSON.stringify(scope));
  }
});

t.test('roleChanges: the operations as ordered changes', async (t) => {
  const cases: [string, PatchOperation[], unknown[]][] = [
    [
      "the connector's replace of the full permission list",
      [{ op: 'replace', value: { permissions: [{ value: 'a' }, { value: 'b' }] } }],
      [{ attribute: 'permissions', action: 'set', values: ['a', 'b'] }],
    ],
    [
      'add and remove with paths, any case',
      [
        { op: 'Add', path: 'Users', value: [{ value: 'alice' }] },
        { op: 'REMOVE', path: 'permissions', value: [{ value: 'a' }] },
        { op: 'remove', path: 'users[value eq "bob"]' },
        { op: 'remove', path: `${ROLE_URN}:permissions[value eq c]` },
      ],
      [
        { attribute: 'users', action: 'add', values: ['alice'] },
        { attribute: 'permissions', action: 'remove', values: ['a'] },
        { attribute: 'users', action: 'remove', values: ['bob'] },
        { attribute: 'permissions', action: 'remove', values: ['c'] },
      ],
    ],
    [
      'remove without a value clears; replace and add rename',
      [
        { op: 'remove', path: 'users' },
        { op: 'replace', path: `${ROLE_URN}:displayName`, value: 'x' },
        { op: 'add', path: 'displayname', value: 'y' },
      ],
      [
        { attribute: 'users', action: 'set', values: [] },
        { attribute: 'displayName', value: 'x' },
        { attribute: 'displayName', value: 'y' },
      ],
    ],
    [
      'a value object without a path: each attribute, unknown ones ignored',
      [{ op: 'add', value: { DisplayName: 'z', users: [{ value: 'u' }], permissions: [], audience: { value: 'x' } } }],
      [
        { attribute: 'displayName', value: 'z' },
        { attribute: 'users', action: 'add', values: ['u'] },
        { attribute: 'permissions', action: 'add', values: [] },
      ],
    ],
    ['an empty value object changes nothing', [{ op: 'replace', value: {} }], []],
  ];
  for (const [name, operations, changes] of cases) t.strictSame(roleChanges(operations), changes, name);
});

t.test('roleChanges: what is refused', async (t) => {
  const cases: [string, PatchOperation, string][] = [
    ['an unknown op', { op: 'move', path: 'users' }, 'invalidValue'],
    ['remove without a path', { op: 'remove', value: { users: [] } }, 'noTarget'],
    ['an unknown path', { op: 'add', path: 'groups', value: [] }, 'invalidPath'],
    ['a sub-attribute path', { op: 'replace', path: 'users.value', value: 'x' }, 'invalidPath'],
    ['a filter with add', { op: 'add', path: 'users[value eq x]', value: [] }, 'invalidPath'],
    ['an empty filter value', { op: 'remove', path: 'users[value eq ]' }, 'invalidPath'],
    ['removing displayName', { op: 'remove', path: 'displayName' }, 'invalidValue'],
    ['displayName not a string', { op: 'replace', path: 'displayName', value: ['x'] }, 'invalidValue'],
    ['displayName with a trailing space', { op: 'replace', value: { displayName: 'x ' } }, 'invalidValue'],
    ['users not an array', { op: 'add', path: 'users', value: 'alice' }, 'invalidValue'],
    ['an item without a value', { op: 'add', path: 'users', value: [{ display: 'x' }] }, 'invalidValue'],
    ['an empty value', { op: 'add', path: 'permissions', value: [{ value: '' }] }, 'invalidValue'],
    ['a permission that is no scope', { op: 'replace', value: { permissions: [{ value: 'a b' }] } }, 'invalidValue'],
    ['add without a value', { op: 'add', path: 'users' }, 'invalidValue'],
    ['a value array without a path', { op: 'replace', value: [{ value: 'x' }] }, 'invalidValue'],
    ['a string value without a path', { op: 'add', value: 'x' }, 'invalidValue'],
  ];
  for (const [name, operation, scimType] of cases) t.equal(scimTypeOf(() => roleChanges([operation])), scimType, name);
});
