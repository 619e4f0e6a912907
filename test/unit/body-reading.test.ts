/**
 * Which request bodies the server can read, by their headers alone (src/http/body-reading.ts):
 * UTF-8 only, and no content coding. Table-driven, no HTTP.
 */
import t from 'tap';
import { unreadableBody } from '../../src/http/body-reading.js';

t.test('readable: no charset, charset=utf-8 in any spelling, no coding or identity', async (t) => {
  const cases: [string | undefined, string | undefined][] = [
    [undefined, undefined],
    ['application/json', undefined],
    ['application/json; charset=utf-8', undefined],
    ['application/json;charset=UTF-8', undefined],
    ['application/json; charset="utf-8"', undefined],
    ['application/json ; Charset = Utf-8', undefined],
    ['application/x-www-form-urlencoded; charset=UTF-8', undefined],
    ['multipart/form-data; boundary=x', undefined],
    ['application/scim+json; version=2; charset=utf-8', undefined],
    // Not a registered name, but what Node, Java and Python read as UTF-8, and lax clients send.
    ['application/json; charset=utf8', undefined],
    ['application/json; charset="UTF8"', undefined],
    ['application/json', 'identity'],
    ['application/json', 'IDENTITY'],
    ['application/json', ''],
    [undefined, 'identity'],
  ];
  for (const [contentType, contentEncoding] of cases) {
    t.equal(unreadableBody(contentType, contentEncoding), undefined, `${String(contentType)} / ${String(contentEncoding)}`);
  }
});

t.test('another charset: 415 naming it', async (t) => {
  const cases: [string, string][] = [
    ['application/json; charset=utf-16', 'utf-16'],
    ['application/json; charset=UTF-16LE', 'UTF-16LE'],
    ['application/json; charset="utf-16"', 'utf-16'],
    ['application/json; charset=iso-8859-1', 'iso-8859-1'],
    ['application/x-www-form-urlencoded; charset=windows-1252', 'windows-1252'],
    ['application/json; charset=', ''],
    ['application/json; charset=utf-8; charset=utf-16', 'utf-16'],
  ];
  for (const [contentType, charset] of cases) {
    const error = unreadableBody(contentType, undefined);
    t.equal(error?.statusCode, 415, contentType);
    t.equal(error?.description, `The request body must be UTF-8 (charset=utf-8, or no charset), not charset=${charset}`, contentType);
  }
});

t.test('a content coding: 415 with Accept-Encoding: identity (RFC 9110 §15.5.16)', async (t) => {
  const cases: [string, string][] = [
    ['gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['br', 'br'],
    ['deflate', 'deflate'],
    ['x-gzip', 'x-gzip'],
    ['identity, gzip', 'gzip'],
    ['gzip, identity', 'gzip'],
    ['nonsense', 'nonsense'],
  ];
  for (const [contentEncoding, coding] of cases) {
    const error = unreadableBody('application/json', contentEncoding);
    t.equal(error?.statusCode, 415, contentEncoding);
    t.equal(error?.description, `Content-Encoding ${coding} is not supported: send the request body uncompressed`, contentEncoding);
    t.strictSame(error?.headers, { 'accept-encoding': 'identity' }, contentEncoding);
  }
  t.equal(unreadableBody(undefined, 'gzip')?.statusCode, 415, 'without a Content-Type too');
});
