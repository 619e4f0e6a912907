/**
 * The pure rules of API resources (src/domain/api-resources.ts): the one filter, the scopes a
 * request may define, cursors and IS's page links. Table-driven, no HTTP or database.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { decodeCursor, encodeCursor, isScopeName, pageOf, pageQuery, parseIdentifierFilter, scopesToDefine } from '../../src/domain/api-resources.js';

t.test('parseIdentifierFilter: identifier eq <value>, unquoted or a JSON string', async (t) => {
  const cases: [string, string][] = [
    ['identifier eq User-defined-oauth2-resource', 'User-defined-oauth2-resource'],
    ['  Identifier   EQ   x  ', 'x'],
    ['identifier eq https://api.example.com/v1', 'https://api.example.com/v1'],
    ['identifier eq two words', 'two words'],
    ['identifier eq "quoted \\"one\\""', 'quoted "one"'],
  ];
  for (const [filter, identifier] of cases) t.equal(parseIdentifierFilter(filter), identifier, filter);
  for (const filter of ['', 'identifier', 'identifier eq', 'identifier eq ', 'name eq x', 'identifier co x', 'identifier eq "open', 'identifier eq ""x', 'identifiereq x']) {
    t.throws(() => parseIdentifierFilter(filter), { statusCode: 400, code: 'API-RESOURCE-60001' }, JSON.stringify(filter));
  }
});

t.test('scopesToDefine: IS\'s default display name; reserved and repeated names refused', async (t) => {
  t.strictSame(scopesToDefine([{ name: 'a' }, { name: 'b', displayName: ' ', description: 'd' }, { name: 'c', displayName: 'C', description: null }]), [
    { name: 'a', displayName: 'a', description: null },
    { name: 'b', displayName: 'b', description: 'd' },
    { name: 'c', displayName: 'C', description: null },
  ]);
  t.throws(() => scopesToDefine([{ name: 'openid' }]), { statusCode: 400, code: 'API-RESOURCE-60009' });
  t.throws(() => scopesToDefine([{ name: 'apim:dcr:app_manage' }]), { statusCode: 400, code: 'API-RESOURCE-60008' });
  t.throws(() => scopesToDefine([{ name: 'x' }, { name: 'y' }, { name: 'x' }]), { statusCode: 400, code: 'API-RESOURCE-60005' });
});

t.test('isScopeName: an RFC 6749 scope-token of at most 255 characters', async (t) => {
  for (const name of ['read:pets', 'a', '!', '~', 'x'.repeat(255), 'apim:api_view']) t.ok(isScopeName(name), name);
  for (const name of ['', 'a b', 'a"b', 'a\\b', 'é', 'a\u0000', 'x'.repeat(256), '\t']) t.notOk(isScopeName(name), JSON.stringify(name));
});

t.test('cursors: a resource id, base64; anything else is 400', async (t) => {
  const id = randomUUID();
  t.equal(decodeCursor(encodeCursor(id)), id);
  for (const cursor of ['', 'abc', encodeCursor('not-a-uuid'), encodeCursor(id.toUpperCase()), `${encodeCursor(id)}x`]) {
    t.throws(() => decodeCursor(cursor), { statusCode: 400, code: 'API-RESOURCE-60002' }, cursor);
  }
  t.throws(() => pageQuery({ after: encodeCursor(id), before: encodeCursor(id) }), { code: 'API-RESOURCE-60011' });
  t.strictSame(pageQuery({}), { limit: 10 }, "IS's default limit");
  for (const limit of [Infinity, 0, -1, 2.5, NaN]) t.throws(() => pageQuery({ limit }), { code: 'API-RESOURCE-60010' }, String(limit));
  t.strictSame(pageQuery({ limit: 5000 }), { limit: 1000 }, 'capped');
});

t.test("pageOf: IS's first/last page rule", async (t) => {
  const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `00000000-0000-4000-8000-00000000000${i}` }));
  const c = (i: number) => encodeCursor(`00000000-0000-4000-8000-00000000000${i}`);
  const after = c(9);
  const before = c(9);
  t.strictSame(pageOf(rows(2), { limit: 2 }).links, {}, 'first and only page');
  t.strictSame(pageOf(rows(3), { limit: 2 }).links, { next: c(1) }, 'first page of more');
  t.strictSame(pageOf(rows(3), { limit: 2, after }).links, { next: c(1), previous: c(0) }, 'a middle page');
  t.strictSame(pageOf(rows(2), { limit: 2, after }).links, { previous: c(0) }, 'the last page');
  const back = pageOf(rows(3), { limit: 2, before });
  t.strictSame(back.items.map((row) => row.id), [rows(2)[1]!.id, rows(2)[0]!.id], 'read backwards, answered forwards');
  t.strictSame(back.links, { next: c(0), previous: c(1) });
  t.strictSame(pageOf(rows(1), { limit: 2, before }).links, { next: c(0) }, 'backwards to the first page');
  t.strictSame(pageOf([], { limit: 2, after }), { items: [], links: {} });
});
