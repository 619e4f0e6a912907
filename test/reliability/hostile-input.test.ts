/**
 * Hostile input to POST /client-registration/v0.17/register, property-based (fast-check), sent
 * with app.inject over a real database:
 * - bodies generated from the DCR request schema, then mutated: wrong types, strings near the
 *   body limit, deep nesting, unicode (NUL bytes, lone surrogates, astral planes), SQL fragments,
 *   `__proto__` / `constructor` / `prototype` keys, numbers where strings belong, arrays, null;
 * - malformed JSON, wrong content types, oversized bodies, hostile Authorization headers.
 * For every request: no 5xx; a rejection's body is exactly WSO2's Error shape (code = status);
 * and no row is written by a rejected request (applications and users counted before and after
 * each request, and each batch).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { ADMIN_AUTH, basic, buildTestApp, createUser } from '../fixtures/app.js';

const REGISTER = '/client-registration/v0.17/register';
const BODY_LIMIT = 65536;
const ALICE_PASSWORD = 'alice-Secret-1';
const ALICE_AUTH = basic('alice', ALICE_PASSWORD);
/** Fixed, so that a failure can be replayed; printed with every batch. */
const SEED = Number(process.env.HOSTILE_SEED ?? 20250601);

const ERROR_KEYS = JSON.stringify(['code', 'description', 'error', 'message', 'moreInfo']);
const RESULT_KEYS = JSON.stringify(
  ['appOwner', 'applicationUUID', 'callBackURL', 'callbackUrl', 'clientId', 'clientName', 'clientSecret', 'isSaasApplication', 'jsonAppAttribute', 'jsonString', 'tokenType'],
);

/** Why a body is not exactly WSO2's Error object for `status`, or undefined when it is. */
function errorShapeProblem(res: LightMyRequestResponse): string | undefined {
  if (!/^application\/json(;|$)/.test(String(res.headers['content-type']))) return `content-type ${res.headers['content-type']}`;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    return 'not JSON';
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'not an object';
  if (JSON.stringify(Object.keys(body).sort()) !== ERROR_KEYS) return `keys ${Object.keys(body).join(',')}`;
  if (body.code !== res.statusCode) return `code ${String(body.code)} ≠ status ${res.statusCode}`;
  if (typeof body.message !== 'string' || body.message === '') return 'message';
  if (typeof body.description !== 'string' || body.description === '') return 'description';
  if (body.moreInfo !== '') return 'moreInfo';
  if (!Array.isArray(body.error)) return 'error is not an array';
  for (const item of body.error as unknown[]) {
    const entry = item as Record<string, unknown>;
    if (!entry || typeof entry !== 'object' || typeof entry.code !== 'string' || typeof entry.message !== 'string') {
      return `error item ${JSON.stringify(item)}`;
    }
    if (Object.keys(entry).some((key) => !['code', 'message', 'description'].includes(key))) return `error item keys ${Object.keys(entry).join(',')}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Generators. A body is built as JSON text, so that keys such as __proto__ and raw fragments
// (deep nesting, duplicate keys) reach the server exactly as written.

/** A JSON value as text. */
type Raw = { raw: string };
const raw = (text: string): Raw => ({ raw: text });
const toJson = (value: unknown): string => (value && typeof value === 'object' && 'raw' in value ? (value as Raw).raw : JSON.stringify(value) ?? 'null');

const SCHEMA_KEYS = [
  'callbackUrl',
  'clientName',
  'owner',
  'grantType',
  'saasApp',
  'tokenType',
  'userStoreDomainInSubject',
  'userstoreDomainInSubject',
  'tokenScope',
  'applicationType',
  'logoUri',
  'subjectType',
  'sectorIdentifierUri',
  'tokenEndpointAuthMethod',
  'jwksUri',
  'audience',
  'redirectUris',
  'contacts',
  'requestUris',
];
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' clientName', 'clientname', 'CLIENTNAME', 'owner\u0000', '\ud800', 'a'.repeat(300)];

const SQL = [
  "' OR '1'='1",
  "admin' --",
  "'; DROP TABLE applications; --",
  "x'); DELETE FROM users; --",
  "1; SELECT pg_sleep(5)",
  '$1',
  "E'\\x00'",
  '\\',
  '%00',
  "' UNION SELECT client_secret_enc FROM applications --",
];
const UNICODE = ['\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\udc00y', '\ud83d\ude00', '\u202e', '\ufeff', '\u00a0', 'é', 'ｆｕｌｌ', '\u0085', '\r\n', '\t'];

const asciiName = fc.stringMatching(/^[a-zA-Z0-9._ -]{1,30}$/);
const grantTypes = fc.constantFrom(
  'client_credentials',
  'password refresh_token',
  'client_credentials password refresh_token',
  'authorization_code implicit',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'not_a_grant',
  '',
  '   ',
);
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(...SQL, ...UNICODE, ...HOSTILE_KEYS),
  fc.tuple(asciiName, fc.constantFrom(...UNICODE), asciiName).map(([a, u, b]) => `${a}${u}${b}`),
);
/** Strings whose JSON is close to the body limit (some over it). */
const hugeString = fc.tuple(fc.integer({ min: 30_000, max: BODY_LIMIT + 2_000 }), fc.constantFrom('a', 'é', '\u0000', ' ', '\ud83d\ude00')).map(
  ([length, unit]) => unit.repeat(Math.ceil(length / JSON.stringify(unit).length)),
);
/** Arrays or objects nested `depth` deep, as text. */
const deep = fc.tuple(fc.integer({ min: 2, max: 20_000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]) =>
  raw(open === '[' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
);
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(raw('1e400'), raw('-0'), raw('123456789012345678901234567890'), raw('0.1e-999'), raw('[]'), raw('{}'), raw('[null]'), raw('{"__proto__":{"admin":true}}'), raw('{"constructor":{"prototype":{"x":1}}}')),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);
const anyValue = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 3, arbitrary: wrongType },
  { weight: 2, arbitrary: asciiName },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deep },
);

/** A valid request for `owner`, then up to five mutations (set a key to a value, or drop a key). */
const schemaBody = fc
  .record({
    base: fc.record(
      {
        clientName: asciiName,
        owner: fc.constantFrom('admin', 'alice'),
        grantType: grantTypes,
        callbackUrl: fc.oneof(fc.constant(null), fc.constant(''), fc.webUrl()),
        saasApp: fc.oneof(fc.boolean(), fc.constantFrom('TRUE', 'false', 1, 0, null, '')),
        tokenType: fc.constantFrom('JWT', 'DEFAULT', '', null),
        userStoreDomainInSubject: fc.boolean(),
      },
      { requiredKeys: ['clientName', 'owner', 'grantType'] },
    ),
    mutations: fc.array(
      fc.oneof(
        fc.tuple(fc.constant('set' as const), fc.constantFrom(...SCHEMA_KEYS, ...HOSTILE_KEYS), anyValue),
        fc.tuple(fc.constant('drop' as const), fc.constantFrom(...SCHEMA_KEYS), fc.constant(undefined)),
        fc.tuple(fc.constant('dup' as const), fc.constantFrom(...SCHEMA_KEYS), anyValue),
      ),
      { maxLength: 5 },
    ),
    auth: fc.constantFrom(ADMIN_AUTH, ALICE_AUTH),
  })
  .map(({ base, mutations, auth }) => {
    const entries: [string, unknown][] = Object.entries(base);
    for (const [op, key, value] of mutations) {
      const index = entries.findIndex(([k]) => k === key);
      if (op === 'drop') {
        if (index >= 0) entries.splice(index, 1);
      } else if (op === 'set' && index >= 0) {
        entries[index] = [key, value];
      } else {
        entries.push([key, value]); // a new key, or a duplicate one (JSON.parse keeps the last)
      }
    }
    const text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
    return { payload: text, contentType: 'application/json', auth };
  });

/** Bodies that are not a JSON object, or not JSON at all. */
const malformedBody = fc
  .oneof(
    fc.constantFrom(
      '',
      ' ',
      'null',
      'true',
      '0',
      '"clientName"',
      '[]',
      '[{"clientName":"a","owner":"admin","grantType":"password"}]',
      '{',
      '}',
      '{"clientName":',
      '{"clientName":"a",}',
      "{'clientName':'a'}",
      '{clientName:"a"}',
      '{"clientName":"a" "owner":"admin"}',
      '{"clientName":NaN}',
      '{"clientName":Infinity}',
      '{"clientName":undefined}',
      '{"a":1}/* comment */',
      '// comment\n{}',
      '\ufeff{"clientName":"bom","owner":"admin","grantType":"password"}',
      '{"clientName":"\\ud800","owner":"admin","grantType":"password"}',
      '{"clientName":"\\u0000","owner":"admin","grantType":"password"}',
      '{"clientName":"x","owner":"\\u0000","grantType":"password"}',
      '{"__proto__":{"isSuperAdmin":true},"clientName":"p","owner":"admin","grantType":"password"}',
      '{"constructor":{"prototype":{"isSuperAdmin":true}},"clientName":"c","owner":"admin","grantType":"password"}',
      '{"clientName":"a\\x41"}',
      '{"clientName":"\\u12"}',
      '\u0000',
      '{"clientName":"a"}\u0000',
      '{"clientName":"a"}{"owner":"b"}',
    ),
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.json().map((json) => json.slice(0, Math.max(0, json.length - 1))),
    deep.map((value) => value.raw),
    deep.map((value) => `{"tokenScope":${value.raw},"clientName":"d","owner":"admin","grantType":"password"}`),
  )
  .map((payload) => ({ payload, contentType: 'application/json', auth: ADMIN_AUTH }));

/** A valid body under the wrong media type (or an odd spelling of the right one). */
const wrongContentType = fc
  .tuple(
    fc.constantFrom(
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/scim+json',
      'application/xml',
      'application/jsonp',
      'application/json-patch+json',
      'application/octet-stream',
      '*/*',
      'application/*',
      'application',
      ';',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
      'application/json ; charset=UTF-8',
      'application/json\u0000',
      'application/json, text/plain',
      '',
    ),
    asciiName,
  )
  .map(([contentType, name]) => ({
    payload: JSON.stringify({ clientName: `ct ${name}`, owner: 'admin', grantType: 'client_credentials' }),
    contentType,
    auth: ADMIN_AUTH,
  }));

/** Hostile Authorization headers with a valid body. */
const hostileAuth = fc
  .oneof(
    fc.tuple(fc.oneof(hostileString, fc.constantFrom('admin\u0000', '\u0000', 'ad\u0000min', 'a'.repeat(70_000 / 2))), fc.oneof(hostileString, fc.constant('admin-Pa55word'))).map(
      ([user, password]) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    ),
    fc.constantFrom('Basic', 'Basic ', 'Basic ====', 'Basic %%%', 'Bearer', 'Bearer ', 'Bearer eyJ.eyJ.sig', 'Bearer \u0000', 'Digest x', 'basic YWRtaW46YWRtaW4tUGE1NXdvcmQ='),
    fc.string({ maxLength: 50 }).map((token) => `Bearer ${token}`),
    fc.string({ unit: 'binary', maxLength: 40 }).map((text) => `Basic ${Buffer.from(text).toString('base64')}`),
  )
  .map((auth) => ({
    payload: JSON.stringify({ clientName: 'auth probe', owner: 'admin', grantType: 'client_credentials' }),
    contentType: 'application/json',
    auth,
  }));

/** SCIM user creation with hostile userName / password values (users are written by the 201s only). */
const scimBody = fc
  .record({
    userName: fc.oneof(
      asciiName.map((name) => `u${name.replace(/[\s]/g, '_')}`),
      fc.constantFrom('ab\u0000cd', '\u0000\u0000\u0000', 'x\ud800yz', 'robert\'); DROP TABLE users;--', '__proto__', 'constructor'),
      hostileString,
      wrongType,
      hugeString,
    ),
    password: fc.oneof(fc.constant('a-Secret-pw'), hostileString, wrongType),
    schemas: fc.oneof(fc.constant(['urn:ietf:params:scim:schemas:core:2.0:User']), wrongType),
    extra: fc.option(fc.tuple(fc.constantFrom(...HOSTILE_KEYS, 'emails', 'id'), anyValue), { nil: undefined }),
  })
  .map(({ userName, password, schemas, extra }) => {
    const entries: [string, unknown][] = [
      ['schemas', schemas],
      ['userName', userName],
      ['password', password],
    ];
    if (extra) entries.push(extra);
    return {
      payload: `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`,
      contentType: 'application/scim+json',
      auth: ADMIN_AUTH,
      url: '/scim2/Users',
    };
  });

/** Why a body is not exactly RFC 7644's error object for `status`, or undefined when it is. */
function scimErrorShapeProblem(res: LightMyRequestResponse): string | undefined {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    return 'not JSON';
  }
  const keys = Object.keys(body).sort();
  if (!['["detail","schemas","status"]', '["detail","schemas","scimType","status"]'].includes(JSON.stringify(keys))) return `keys ${keys.join(',')}`;
  if (body.status !== String(res.statusCode)) return `status ${String(body.status)} ≠ ${res.statusCode}`;
  if (JSON.stringify(body.schemas) !== '["urn:ietf:params:scim:api:messages:2.0:Error"]') return 'schemas';
  return typeof body.detail === 'string' ? undefined : 'detail';
}

// ---------------------------------------------------------------------------------------------

interface Sent {
  /** Default: the DCR register route. */
  url?: string;
  payload: string | Buffer;
  contentType: string | undefined;
  auth: string;
  headers?: Record<string, string>;
}

type Db = Awaited<ReturnType<typeof buildTestApp>>['db'];

interface Counts {
  apps: number;
  users: number;
}

/**
 * The counts after the previous request (requests are sent one at a time and nothing else writes
 * to this database), so that each request costs one count query, not two.
 */
let last: Counts | undefined;

async function counts(db: Db): Promise<Counts> {
  const { rows } = await db.query<{ apps: string; users: string }>(
    'SELECT (SELECT count(*) FROM applications) AS apps, (SELECT count(*) FROM users) AS users',
  );
  return { apps: Number(rows[0]!.apps), users: Number(rows[0]!.users) };
}

interface Tally {
  requests: number;
  statuses: Map<number, number>;
  failures: string[];
}

/** Sends one request and checks it; a problem is recorded (not thrown), so a batch reports all of them. */
async function probe(app: FastifyInstance, db: Db, sent: Sent, tally: Tally): Promise<boolean> {
  const before = last ?? (await counts(db));
  last = undefined;
  let res: LightMyRequestResponse;
  try {
    res = await app.inject({
      method: 'POST',
      url: sent.url ?? REGISTER,
      headers: {
        ...(sent.contentType === undefined ? {} : { 'content-type': sent.contentType }),
        authorization: sent.auth,
        ...sent.headers,
      },
      payload: sent.payload,
    });
  } catch (err) {
    tally.failures.push(`inject threw ${String(err)} for ${describe(sent)}`);
    return false;
  }
  const after = await counts(db);
  last = after;
  tally.requests += 1;
  tally.statuses.set(res.statusCode, (tally.statuses.get(res.statusCode) ?? 0) + 1);
  const problems: string[] = [];
  if (res.statusCode >= 500) problems.push(`status ${res.statusCode}: ${res.body.slice(0, 300)}`);
  if (sent.url === '/scim2/Users') {
    if (after.apps !== before.apps) problems.push('SCIM wrote an app');
    if (res.statusCode === 201) {
      if (after.users - before.users !== 1) problems.push(`a 201 wrote ${after.users - before.users} users`);
    } else {
      const shape = scimErrorShapeProblem(res);
      if (shape) problems.push(`SCIM error body (${res.statusCode}): ${shape}: ${res.body.slice(0, 300)}`);
      if (after.users !== before.users) problems.push(`a ${res.statusCode} wrote ${after.users - before.users} users`);
    }
  } else if (res.statusCode === 200) {
    const body = res.json() as Record<string, unknown>;
    if (JSON.stringify(Object.keys(body).sort()) !== RESULT_KEYS) problems.push(`200 body keys ${Object.keys(body).join(',')}`);
    if (after.apps - before.apps > 1) problems.push(`one registration wrote ${after.apps - before.apps} apps`);
  } else {
    const shape = errorShapeProblem(res);
    if (shape) problems.push(`error body (${res.statusCode}): ${shape}: ${res.body.slice(0, 300)}`);
    if (after.apps !== before.apps) problems.push(`a ${res.statusCode} wrote ${after.apps - before.apps} apps`);
  }
  if (sent.url !== '/scim2/Users' && after.users !== before.users) problems.push(`users changed by ${after.users - before.users}`);
  if (problems.length > 0) {
    tally.failures.push(`${problems.join('; ')} ← ${describe(sent)}`);
    return false;
  }
  return true;
}

function describe(sent: Sent): string {
  const payload = typeof sent.payload === 'string' ? sent.payload : `<${sent.payload.length} bytes>`;
  const shown = payload.length > 300 ? `${payload.slice(0, 200)}…(${payload.length} chars)` : payload;
  return JSON.stringify({ contentType: sent.contentType, auth: sent.auth.slice(0, 80), payload: shown, headers: sent.headers });
}

t.test('hostile input to /register: no 5xx, the Error shape, and no row from a rejected request', async (t) => {
  const started = Date.now();
  const { app, db } = await buildTestApp(t, { bodyLimit: BODY_LIMIT });
  await createUser(app, 'alice', ALICE_PASSWORD);
  const figures: Record<string, unknown> = {};
  let total = 0;

  async function batch(t: Test, label: string, arbitrary: fc.Arbitrary<Sent>, numRuns: number) {
    const tally: Tally = { requests: 0, statuses: new Map(), failures: [] };
    const before = await counts(db);
    const batchStarted = Date.now();
    // Every generated request is sent and checked; a failing one is recorded, then shrunk by
    // fast-check to a minimal counterexample, which the assertion below shows.
    let counterexample: string | undefined;
    try {
      await fc.assert(
        fc.asyncProperty(arbitrary, async (sent) => probe(app, db, sent, tally)),
        { numRuns, seed: SEED, endOnFailure: false, verbose: 0 },
      );
    } catch (err) {
      counterexample = String((err as Error).message).split('\n').slice(0, 6).join('\n');
    }
    const after = await counts(db);
    total += tally.requests;
    const statuses = Object.fromEntries([...tally.statuses].sort(([a], [b]) => a - b));
    figures[label] = { requests: tally.requests, statuses, ms: Date.now() - batchStarted };
    t.same([...new Set(tally.failures)].slice(0, 10), [], `${label}: ${tally.requests} requests, statuses ${JSON.stringify(statuses)} (seed ${SEED})`);
    t.equal(counterexample, undefined, `${label}: no counterexample`);
    t.ok(Object.keys(statuses).every((status) => Number(status) < 500), `${label}: no 5xx`);
    const created = tally.statuses.get(201) ?? 0;
    t.equal(after.users - before.users, created, `${label}: users written (${after.users - before.users}) = 201s (${created})`);
    t.ok(after.apps - before.apps <= (tally.statuses.get(200) ?? 0), `${label}: apps written (${after.apps - before.apps}) ≤ 200s (${tally.statuses.get(200) ?? 0})`);
  }

  await t.test('schema-derived bodies with mutations', (t) => batch(t, 'schema', schemaBody, 1500));
  await t.test('malformed JSON and non-object bodies', (t) => batch(t, 'malformed', malformedBody, 300));
  await t.test('wrong content types', (t) => batch(t, 'content-type', wrongContentType, 150));
  await t.test('hostile Authorization headers', (t) => batch(t, 'authorization', hostileAuth, 200));
  await t.test('SCIM user creation (RFC 7644 errors)', (t) => batch(t, 'scim', scimBody, 150));

  await t.test('oversized and lying bodies', async (t) => {
    const tally: Tally = { requests: 0, statuses: new Map(), failures: [] };
    const valid = (clientName: string, extra = '') =>
      `{"clientName":${JSON.stringify(clientName)},"owner":"admin","grantType":"client_credentials"${extra}}`;
    const cases: Sent[] = [];
    for (const size of [BODY_LIMIT - 1, BODY_LIMIT, BODY_LIMIT + 1, BODY_LIMIT * 2, BODY_LIMIT * 16]) {
      const filler = 'x'.repeat(Math.max(0, size - valid('big').length - ',"logoUri":""'.length));
      cases.push({ payload: valid(`big ${size}`, `,"logoUri":"${filler}"`), contentType: 'application/json', auth: ADMIN_AUTH });
    }
    // Random letters: a repeated one would compress below PostgreSQL's index entry limit.
    const letters = (n: number) => Array.from(randomBytes(n), (byte) => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'[byte % 52]).join('');
    for (const length of [BODY_LIMIT - 100, 10_000, 2_705, 2_001, 2_000, 255]) {
      cases.push({ payload: valid(letters(length)), contentType: 'application/json', auth: ADMIN_AUTH });
    }
    cases.push({ payload: Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]), contentType: 'application/json', auth: ADMIN_AUTH });
    cases.push({ payload: Buffer.concat([Buffer.from('{"clientName":"'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('","owner":"admin","grantType":"password"}')]), contentType: 'application/json', auth: ADMIN_AUTH });
    cases.push({ payload: valid('lying length'), contentType: 'application/json', auth: ADMIN_AUTH, headers: { 'content-length': '5' } });
    cases.push({ payload: valid('gzip'), contentType: 'application/json', auth: ADMIN_AUTH, headers: { 'content-encoding': 'gzip' } });
    cases.push({ payload: valid('no type'), contentType: undefined, auth: ADMIN_AUTH });
    for (const sent of cases) await probe(app, db, sent, tally);
    total += tally.requests;
    figures.oversized = { requests: tally.requests, statuses: Object.fromEntries(tally.statuses) };
    t.same(tally.failures, [], `${tally.requests} requests: ${JSON.stringify(Object.fromEntries(tally.statuses))}`);
  });

  t.ok(total >= 2000, `${total} requests in all`);
  const ms = Date.now() - started;
  t.comment(`hostile input: ${JSON.stringify({ total, ms, ...figures })}`);
});
