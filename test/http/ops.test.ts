/**
 * The operational surface, through app.inject: health probes (readiness follows the database),
 * Prometheus /metrics (counters moved by real requests; off with `metrics: false`), security
 * headers on API answers and on Swagger UI, the documentation documents pointing at the server
 * the caller reached, and the body size limit.
 */
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { parse } from 'yaml';
import { buildApp } from '../../src/app.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { Database } from '../../src/db/database.js';
import { createServices, databaseReadiness } from '../../src/runtime/composition.js';
import { ADMIN, ADMIN_AUTH, FAST_HASHER, testKeyPairs, ISSUER, TEST_SERVICE_CONFIG, basic, buildTestApp, createUser } from '../fixtures/app.js';
import { testDatabase } from '../fixtures/db.js';
import { freePort } from '../fixtures/server-process.js';

const REGISTER = '/client-registration/v0.17/register';
const FORM = 'application/x-www-form-urlencoded';
const PROMETHEUS = 'text/plain; version=0.0.4; charset=utf-8';

function errorShape(code: number) {
  return { code, message: String, description: String, moreInfo: '', error: Array };
}

async function metricsText(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  if (res.statusCode !== 200) throw new Error(`/metrics: ${res.statusCode} ${res.body}`);
  return res.body;
}

/** The value of one sample (`name{labels} value`), or undefined when the series does not exist. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}


t.test('health probes', async (t) => {
  const { app, appDb } = await buildTestApp(t);

  const live = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(live.statusCode, 200);
  t.strictSame(live.json(), { status: 'UP' });

  const ready = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(ready.statusCode, 200);
  t.match(ready.json(), { status: 'UP' });
  t.equal(ready.headers['cache-control'], 'no-store');

  // The pool closes under the running app (its requests' pool, dcr_app): readiness turns 503
  // promptly, liveness stays 200.
  await appDb.close();
  const started = Date.now();
  const down = await app.inject({ method: 'GET', url: '/health/ready' });
  const ms = Date.now() - started;
  t.equal(down.statusCode, 503, down.body);
  t.ok(ms < 2_000, `answered within 2 s (${ms} ms)`);
  t.match(down.headers['content-type'], /^application\/json/);
  t.equal(down.headers['retry-after'], '1');
  t.strictSame(down.json(), {
    code: 503,
    message: 'Service Unavailable',
    description: 'Not ready: database DOWN',
    moreInfo: '',
    error: [{ code: 'database', message: 'DOWN' }],
  });
  const stillLive = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(stillLive.statusCode, 200, 'liveness does not depend on the database');
});

t.test('readiness over an unreachable database, and before migrations ran: 503 with the failing checks', async (t) => {
  const unreachable = new Database({
    connectionString: `postgres://dcr:dcr@127.0.0.1:${await freePort()}/dcr`,
    poolSize: 2,
    timeoutMs: 1000,
  });
  t.teardown(() => unreachable.close().catch(() => {}));
  // The services run over a real database; only readiness looks at the unreachable one.
  const { db, appDb } = await testDatabase(t);
  const services = createServices(TEST_SERVICE_CONFIG, {
    db: appDb,
    maintenance: db,
    secrets: new SecretBox(Buffer.alloc(32, 7)),
    hasher: FAST_HASHER,
    newKeyPair: testKeyPairs(),
    readiness: databaseReadiness(unreachable, () => false),
  });
  const app = await buildApp(services, { bodyLimit: 65536, logger: false, publicUrl: ISSUER });
  t.teardown(() => app.close());

  const started = Date.now();
  const res = await app.inject({ method: 'GET', url: '/health/ready' });
  const ms = Date.now() - started;
  t.equal(res.statusCode, 503, res.body);
  t.ok(ms < 3_000, `answered within 3 s (${ms} ms)`);
  t.strictSame(res.json(), {
    code: 503,
    message: 'Service Unavailable',
    description: 'Not ready: migrations PENDING, database DOWN',
    moreInfo: '',
    error: [
      { code: 'migrations', message: 'PENDING' },
      { code: 'database', message: 'DOWN' },
    ],
  });
});

t.test('/metrics: Prometheus text, moved by registrations, token requests and failed logins', async (t) => {
  const { app } = await buildTestApp(t);

  const first = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(first.statusCode, 200);
  t.equal(first.headers['content-type'], PROMETHEUS);
  t.equal(first.headers['cache-control'], 'no-store');
  t.match(first.body, /^# HELP /m);
  t.match(first.body, /^# TYPE dcr_registrations_total counter$/m);
  t.equal(sample(first.body, 'dcr_registrations_total', { outcome: 'created' }), undefined, 'no registration yet');
  t.ok(sample(first.body, 'dcr_db_pool_connections') !== undefined, 'dcr_db_pool_connections is present');
  t.ok(sample(first.body, 'dcr_db_pool_idle_connections') !== undefined, 'dcr_db_pool_idle_connections is present');
  t.ok(sample(first.body, 'process_cpu_user_seconds_total') !== undefined, 'process metrics are present');

  const body = { clientName: 'metrics_app', owner: ADMIN, grantType: 'client_credentials password' };
  const created = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH }, payload: body });
  t.equal(created.statusCode, 200, created.body);
  let text = await metricsText(app);
  t.equal(sample(text, 'dcr_registrations_total', { outcome: 'created' }), 1, 'dcr_registrations_total{outcome="created"} 1');
  t.equal(sample(text, 'dcr_registrations_total', { outcome: 'existing' }), undefined);

  const again = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH }, payload: body });
  t.equal(again.statusCode, 200);
  text = await metricsText(app);
  t.equal(sample(text, 'dcr_registrations_total', { outcome: 'created' }), 1);
  t.equal(sample(text, 'dcr_registrations_total', { outcome: 'existing' }), 1, 'dcr_registrations_total{outcome="existing"} 1');

  const { clientId, clientSecret } = created.json() as { clientId: string; clientSecret: string };
  await createUser(app, 'metrics_user', 'metrics-Pa55word');
  const token = (authorization: string, form: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/oauth2/token', headers: { authorization, 'content-type': FORM }, payload: new URLSearchParams(form).toString() });
  t.equal((await token(basic(clientId, clientSecret), { grant_type: 'client_credentials' })).statusCode, 200);
  t.equal((await token(basic(clientId, clientSecret), { grant_type: 'client_credentials' })).statusCode, 200);
  t.equal((await token(basic(clientId, clientSecret), { grant_type: 'password', username: ADMIN, password: 'admin-Pa55word' })).statusCode, 200);
  t.equal((await token(basic(clientId, 'not-the-secret'), { grant_type: 'client_credentials' })).statusCode, 401);
  t.equal(
    (await token(basic(clientId, clientSecret), { grant_type: 'password', username: 'metrics_user', password: 'wrong-Pa55word' })).statusCode,
    400,
  );
  t.equal((await token(basic(clientId, clientSecret), { grant_type: 'urn:made:up' })).statusCode, 400);
  text = await metricsText(app);
  t.equal(sample(text, 'dcr_token_requests_total', { grant_type: 'client_credentials', outcome: 'issued' }), 2);
  t.equal(sample(text, 'dcr_token_requests_total', { grant_type: 'password', outcome: 'issued' }), 1);
  t.equal(sample(text, 'dcr_token_requests_total', { grant_type: 'client_credentials', outcome: 'invalid_client' }), 1);
  t.equal(sample(text, 'dcr_token_requests_total', { grant_type: 'password', outcome: 'invalid_grant' }), 1);
  t.equal(
    sample(text, 'dcr_token_requests_total', { grant_type: 'other', outcome: 'unsupported_grant_type' }),
    1,
    'an unknown grant string is labelled "other": no new series per value sent',
  );
  t.notMatch(text, /urn:made:up/);

  const before = sample(text, 'dcr_authentication_failures_total', { route: REGISTER }) ?? 0;
  const denied = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: basic(ADMIN, 'wrong-password') }, payload: body });
  t.equal(denied.statusCode, 401);
  text = await metricsText(app);
  t.equal(sample(text, 'dcr_authentication_failures_total', { route: REGISTER }), before + 1, 'a 401 counts as an authentication failure');
  t.equal(sample(text, 'dcr_authentication_failures_total', { route: '/oauth2/token' }), 1, 'the invalid_client 401 too');

  t.ok(
    sample(text, 'http_request_duration_seconds_bucket', { method: 'POST', route: REGISTER, status_code: '200', le: '+Inf' })! >= 2,
    'http_request_duration_seconds_bucket for the register route',
  );
  t.match(text, /^http_request_duration_seconds_bucket\{[^}]*route="\/client-registration\/v0\.17\/register"[^}]*\} \d+$/m);
  t.equal(sample(text, 'http_requests_total', { method: 'POST', route: REGISTER, status_code: '401' }), 1);

  // Route templates, never raw URLs: identifiers in paths do not become label values.
  const id = await createUser(app, 'metrics_user2', 'metrics-Pa55word');
  await app.inject({ method: 'GET', url: `/scim2/Users/${id}`, headers: { authorization: ADMIN_AUTH } });
  await app.inject({ method: 'GET', url: '/no/such/thing/8f1a2b' });
  text = await metricsText(app);
  t.ok(sample(text, 'http_requests_total', { method: 'GET', route: '/scim2/Users/:id', status_code: '200' }), 'the route template is the label');
  t.ok(sample(text, 'http_requests_total', { method: 'GET', route: 'unmatched', status_code: '404' }), 'unmatched paths share one label');
  for (const secret of [id, clientId, clientSecret, '8f1a2b', 'metrics_user', 'metrics-Pa55word']) {
    t.notOk(text.includes(secret), `no identifier or secret in the metrics (${secret.slice(0, 8)}…)`);
  }
});

t.test('/metrics turned off (metrics: false): 404 with the Error body', async (t) => {
  const { app } = await buildTestApp(t, { appOptions: { metrics: false } });
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 404);
  t.match(res.headers['content-type'], /^application\/json/);
  t.match(res.json(), errorShape(404));
  t.match(res.json(), { description: /DCR_METRICS=false/ });
  const live = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(live.statusCode, 200, 'the probes stay');
});

t.test('security headers on API answers, errors included, and a CSP on Swagger UI that lets it load', async (t) => {
  const { app } = await buildTestApp(t);
  const answers = {
    register: await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: ADMIN_AUTH },
      payload: { clientName: 'headers_app', owner: ADMIN, grantType: 'client_credentials' },
    }),
    'a 401': await app.inject({ method: 'POST', url: REGISTER, payload: { clientName: 'x', owner: ADMIN } }),
    'a 404': await app.inject({ method: 'GET', url: '/nowhere' }),
    'the token endpoint': await app.inject({ method: 'POST', url: '/oauth2/token', headers: { 'content-type': FORM }, payload: 'grant_type=password' }),
    'the health probe': await app.inject({ method: 'GET', url: '/health/live' }),
    // Answers Fastify makes before any operation runs: body refusals of its parsers and ours.
    'a 415 for a charset': await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json; charset=utf-16' }, payload: '{}' }),
    'a 415 for a content coding': await app.inject({ method: 'POST', url: '/oauth2/token', headers: { 'content-type': FORM, 'content-encoding': 'gzip' }, payload: 'x' }),
    'a 415 without Content-Type': await app.inject({ method: 'POST', url: '/oauth2/token', payload: 'grant_type=password' }),
    'a 400 for a forbidden key': await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, payload: '{"__proto__":{}}' }),
    'a 400 for a path that does not decode': await app.inject({ method: 'GET', url: '/health/%zz' }),
  };
  // The OWASP REST Security Cheat Sheet's set, exactly: an API answer is never a page, so the
  // document-only headers of helmet's defaults are not sent.
  const API_HEADERS = {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
  };
  const DOCUMENT_ONLY = [
    'cross-origin-opener-policy',
    'origin-agent-cluster',
    'x-dns-prefetch-control',
    'x-download-options',
    'x-permitted-cross-domain-policies',
    'x-xss-protection',
  ];
  for (const [name, res] of Object.entries(answers)) {
    const status = /^an? (\d{3})\b/.exec(name)?.[1];
    if (status) t.equal(res.statusCode, Number(status), `${name}: ${res.body}`);
    for (const [header, value] of Object.entries(API_HEADERS)) t.equal(res.headers[header], value, `${name}: ${header}`);
    for (const header of DOCUMENT_ONLY) t.notOk(res.headers[header], `${name}: no ${header}`);
    t.notOk(res.headers['x-powered-by'], `${name}: no x-powered-by`);
  }

  const docs = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(docs.statusCode, 200);
  t.match(docs.headers['content-type'], /^text\/html/);
  const csp = String(docs.headers['content-security-policy']);
  t.match(csp, /script-src 'self'/, "Swagger UI's scripts load from this server");
  t.match(csp, /style-src 'self'/, 'and its styles');
  t.notMatch(csp, /upgrade-insecure-requests/, '"Try it out" over plain http on localhost is not upgraded to https');
  t.notMatch(csp, /script-src[^;]*'unsafe-eval'/, 'no eval');
  t.equal(docs.headers['x-content-type-options'], 'nosniff');
  t.equal(docs.headers['x-frame-options'], 'SAMEORIGIN');
  // A page gets helmet's whole set.
  for (const header of DOCUMENT_ONLY) t.ok(docs.headers[header], `the page: ${header}`);
  t.match(docs.headers['strict-transport-security'], /max-age=\d+/);
  // Each script the page references is served, under the same CSP.
  const scripts = [...docs.body.matchAll(/<script[^>]+src="([^"]+)"/g)].map((m) => m[1]!);
  t.ok(scripts.length > 0, `the page loads ${scripts.join(', ')}`);
  for (const src of scripts) {
    const url = new URL(src, 'http://localhost/docs/').pathname;
    const asset = await app.inject({ method: 'GET', url });
    t.equal(asset.statusCode, 200, `${url} is served`);
  }
  t.notMatch(docs.body, /<script>(?!\s*<\/script>)/, 'no inline script the CSP would block');
});

t.test('/docs/json and /docs/yaml: the combined document, pointed at the configured public URL, never at Host', async (t) => {
  const { app } = await buildTestApp(t, { appOptions: { publicUrl: 'https://dcr.example.org:8443' } });
  const json = await app.inject({ method: 'GET', url: '/docs/json', headers: { host: 'evil.example"><script>alert(1)</script>' } });
  t.equal(json.statusCode, 200);
  t.match(json.headers['content-type'], /^application\/json/);
  t.notMatch(json.body, /evil\.example|<script>/, 'nothing of the Host header comes back');
  const doc = json.json() as {
    servers: { url: string }[];
    paths: Record<string, unknown>;
    components: { securitySchemes: { OAuth2Security?: { flows: { password: { tokenUrl: string } } } } };
  };
  t.strictSame(
    doc.servers.map((server) => server.url),
    ['https://dcr.example.org:8443', 'https://dcr.example.org:8443/t/{tenantDomain}'],
    'servers: the public URL (DCR_PUBLIC_URL), then the same under a tenant',
  );
  t.match(doc.servers[1], { variables: { tenantDomain: { default: 'carbon.super' } } }, "the tenant's default: the super tenant");
  t.ok(doc.paths['/client-registration/v0.17/register'], 'the register path, under its mount prefix');
  t.ok(doc.paths['/oauth2/token'], 'the token endpoint');
  t.ok(doc.paths['/scim2/Users'] && doc.paths['/health/ready'] && doc.paths['/metrics'], 'the platform paths');
  const tokenUrl = doc.components.securitySchemes.OAuth2Security?.flows.password.tokenUrl;
  t.equal(tokenUrl, 'https://dcr.example.org:8443/oauth2/token', 'the OAuth2 token URL too');

  const yaml = await app.inject({ method: 'GET', url: '/docs/yaml', headers: { host: 'other.example:1' } });
  t.equal(yaml.statusCode, 200);
  t.match(yaml.headers['content-type'], /yaml/);
  t.notMatch(yaml.body.trimStart(), /^\{/, 'YAML, not JSON');
  const parsed = parse(yaml.body) as { openapi: string; servers: { url: string }[]; paths: Record<string, unknown> };
  t.match(parsed.openapi, /^3\./);
  t.equal(parsed.servers[0]!.url, 'https://dcr.example.org:8443');
  t.ok(parsed.paths['/client-registration/v0.17/register']);
  t.ok(parsed.paths['/oauth2/token']);
});

t.test('a body over the limit (DCR_BODY_LIMIT): 413 in the route\'s error shape', async (t) => {
  const { app } = await buildTestApp(t, { bodyLimit: 2048 });
  const big = { clientName: 'big_app', owner: ADMIN, grantType: 'client_credentials', callbackUrl: `https://example.org/${'a'.repeat(3000)}` };
  const res = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH }, payload: big });
  t.equal(res.statusCode, 413);
  t.strictSame(res.json(), {
    code: 413,
    message: 'Payload Too Large',
    description: 'The request body exceeds the size limit of this server',
    moreInfo: '',
    error: [],
  });
  const unauthenticated = await app.inject({ method: 'POST', url: REGISTER, payload: big });
  // Who is calling is settled first (test/http/auth-order.test.ts): the body is never read.
  t.equal(unauthenticated.statusCode, 401, 'without credentials: 401, the body unread');

  const scim = await app.inject({
    method: 'POST',
    url: '/scim2/Users',
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/scim+json' },
    payload: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'big', password: 'x'.repeat(3000) }),
  });
  t.equal(scim.statusCode, 413);
  t.match(scim.json(), { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '413' });

  const form = await app.inject({ method: 'POST', url: '/oauth2/token', headers: { 'content-type': FORM }, payload: `grant_type=password&password=${'x'.repeat(3000)}` });
  t.equal(form.statusCode, 413);
  t.match(form.json(), { error: String });

  const small = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH }, payload: { ...big, callbackUrl: 'https://example.org/cb' } });
  t.equal(small.statusCode, 200, 'a body under the limit is served');
});
