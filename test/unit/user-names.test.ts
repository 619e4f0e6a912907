/**
 * The rule for new user names (src/services/users.ts), which the SCIM schema's userName pattern
 * states too: WSO2's default user-store rule, ASCII only. Table-driven, no HTTP, no database.
 */
import t from 'tap';
import { ApiError } from '../../src/domain/errors.js';
import { USERNAME_PATTERN, checkNewUser, userNameProblem } from '../../src/services/users.js';
import { loadSpec } from '../../src/http/spec.js';

const CHARACTERS = "userName must be 3 to 64 characters of ASCII letters, digits, '.', '_', '-' and '@'";
const SURROUNDING = 'userName must not begin or end with white space';

t.test('names that are accepted', async (t) => {
  for (const name of ['abc', 'admin', 'Alice', 'a.b_c-d', 'user@tenant.com', 'pub.lisher@carbon.super', '007', 'x'.repeat(64), '...']) {
    t.equal(userNameProblem(name), undefined, JSON.stringify(name));
  }
});

t.test('names that are refused, and why', async (t) => {
  const cases: [string, string, string][] = [
    ['a Cyrillic а beside admin', '\u0430dmin', CHARACTERS],
    ['a Greek ο', 'b\u03bfb', CHARACTERS],
    ['an accented letter', 'jos\u00e9', CHARACTERS],
    ['a combining accent', 'jose\u0301', CHARACTERS],
    ['fullwidth letters', '\uff41\uff44\uff4d\uff49\uff4e', CHARACTERS],
    ['a zero-width space', 'ad\u200bmin', CHARACTERS],
    ['a no-break space inside', 'ad\u00a0min', CHARACTERS],
    ['a space inside', 'ad min', CHARACTERS],
    ["':' (it would split a Basic credential)", 'ad:min', CHARACTERS],
    ['NUL', 'ad\u0000min', CHARACTERS],
    ['a slash', 'a/b', CHARACTERS],
    ['two characters', 'ab', CHARACTERS],
    ['empty', '', CHARACTERS],
    ['65 characters', 'x'.repeat(65), CHARACTERS],
    ['a leading space', ' admin', SURROUNDING],
    ['a trailing space', 'admin ', SURROUNDING],
    ['a trailing tab', 'admin\t', SURROUNDING],
    ['a leading newline', '\nadmin', SURROUNDING],
    ['a trailing no-break space', 'admin\u00a0', SURROUNDING],
    ['a leading ideographic space', '\u3000admin', SURROUNDING],
    ['only spaces', '     ', SURROUNDING],
  ];
  for (const [label, name, problem] of cases) {
    t.test(label, async (t) => {
      t.equal(userNameProblem(name), problem);
      let thrown: unknown;
      try {
        checkNewUser(name, 'a-good-Secret-1');
      } catch (err) {
        thrown = err;
      }
      t.ok(thrown instanceof ApiError, 'checkNewUser throws');
      const error = thrown as ApiError;
      t.equal(error.statusCode, 400);
      t.equal(error.description, problem);
      t.same(error.details, [{ code: 'userName', message: 'invalid userName' }]);
      t.equal(error.scimType, 'invalidValue');
    });
  }
});

t.test('the served schema states the same rule', async (t) => {
  const platform = loadSpec('platform-api.yaml') as unknown as {
    components: { schemas: { ScimUserCreate: { properties: { userName: { pattern: string } } } } };
  };
  t.equal(platform.components.schemas.ScimUserCreate.properties.userName.pattern, USERNAME_PATTERN.source);
});
