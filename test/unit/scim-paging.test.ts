/**
 * RFC 7644 §3.4.2.4 paging (src/domain/scim-paging.ts), table-driven: what a startIndex and a
 * count are read as, and which values cannot be served at all.
 */
import t from 'tap';
import { SCIM_MAX_COUNT, SCIM_MAX_START_INDEX, scimPage } from '../../src/domain/scim-paging.js';
import { ApiError } from '../../src/domain/errors.js';

t.test('defaults: from the first result, 100 at most', async (t) => {
  t.strictSame(scimPage(undefined, undefined), { startIndex: 1, count: 100 });
});

t.test('what each value is read as', async (t) => {
  const cases: [number, number, number, number][] = [
    // startIndex, count → startIndex, count
    [1, 10, 1, 10],
    [7, 0, 7, 0],
    [0, 10, 1, 10],
    [-5, 10, 1, 10],
    [-0, 10, 1, 10],
    [-9223372036854775808, 10, 1, 10],
    [SCIM_MAX_START_INDEX, 10, SCIM_MAX_START_INDEX, 10],
    [1, -1, 1, 0],
    [1, -1e30, 1, 0],
    [1, SCIM_MAX_COUNT, 1, SCIM_MAX_COUNT],
    [1, SCIM_MAX_COUNT + 1, 1, SCIM_MAX_COUNT],
    [1, 9223372036854775808, 1, SCIM_MAX_COUNT],
    [1, 1e30, 1, SCIM_MAX_COUNT],
  ];
  for (const [startIndex, count, readIndex, readCount] of cases) {
    const page = scimPage(startIndex, count);
    t.strictSame(page, { startIndex: readIndex, count: readCount }, `startIndex ${startIndex}, count ${count}`);
    t.ok(Number.isSafeInteger(page.startIndex) && Number.isSafeInteger(page.count), 'integers a client can hold');
    t.ok(Object.is(page.startIndex, Math.abs(page.startIndex)), 'never -0');
  }
});

t.test('what cannot be served: 400 invalidValue naming the parameter', async (t) => {
  const cases: [string, number | undefined, number | undefined, string][] = [
    ['startIndex above 32 bits', SCIM_MAX_START_INDEX + 1, 10, 'startIndex'],
    ['startIndex 1e30', 1e30, 10, 'startIndex'],
    ['startIndex 9223372036854775808', 9223372036854775808, 10, 'startIndex'],
    ['startIndex Infinity', Infinity, 10, 'startIndex'],
    ['startIndex -Infinity', -Infinity, 10, 'startIndex'],
    ['startIndex NaN', NaN, 10, 'startIndex'],
    ['startIndex 2.5', 2.5, 10, 'startIndex'],
    ['count Infinity', 1, Infinity, 'count'],
    ['count -Infinity', 1, -Infinity, 'count'],
    ['count NaN', 1, NaN, 'count'],
    ['count 0.5', 1, 0.5, 'count'],
  ];
  for (const [label, startIndex, count, field] of cases) {
    t.test(label, async (t) => {
      let error: unknown;
      try {
        scimPage(startIndex, count);
      } catch (err) {
        error = err;
      }
      t.ok(error instanceof ApiError, 'an ApiError');
      const apiError = error as ApiError;
      t.equal(apiError.statusCode, 400);
      t.equal(apiError.scimType, 'invalidValue');
      t.equal(apiError.details[0]?.code, field);
    });
  }
});
