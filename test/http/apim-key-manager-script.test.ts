/**
 * scripts/apim-key-manager.ts (`npm run apim:key-manager`), run as the operator runs it, against
 * this server listening on a port and a stand-in for API Manager's Admin REST API v4 that records
 * what it is sent. Then every URL the script put in the Key Manager record is called the way the
 * WSO2-IS-7 connector and the gateway call it, so the record an administrator gets works.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { ADMIN, ADMIN_PASSWORD, basic, buildTestApp } from '../fixtures/app.js';
import { PROJECT_ROOT } from '../fixtures/dcr-process.js';
import { freePort } from '../fixtures/free-port.js';

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const issuer = `${base}/oauth2/token`;
const { app } = await buildTestApp(t, { issuer, appOptions: { publicUrl: base } });
await app.listen({ host: '127.0.0.1', port });

const APIM_USER = 'apim-admin';
const APIM_PASSWORD = 'apim-Pa55word';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

/** API Manager's key-managers resource, as far as the script uses it: list, create, update. */
const recorded: Recorded[] = [];
const keyManagers = new Map<string, Record<string, unknown>>();
let nextId = 1;
const apim = createServer((req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    recorded.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.headers.authorization !== basic(APIM_USER, APIM_PASSWORD)) return send(401, { code: 900901, message: 'Invalid Credentials' });
    const collection = '/api/am/admin/v4/key-managers';
    if (req.method === 'GET' && req.url === collection) {
      const list = [...keyManagers.values()].map(({ id, name, type }) => ({ id, name, type }));
      return send(200, { count: list.length, list });
    }
    if (req.method === 'POST' && req.url === collection && body) {
      const id = `km-${nextId++}`;
      keyManagers.set(id, { ...body, id });
      return send(201, { ...body, id });
    }
    const id = req.url?.startsWith(`${collection}/`) ? decodeURIComponent(req.url.slice(collection.length + 1)) : undefined;
    if (req.method === 'PUT' && id && keyManagers.has(id) && body) {
      keyManagers.set(id, { ...body, id });
      return send(200, { ...body, id });
    }
    send(404, { code: 404, message: 'Not Found' });
  });
});
await new Promise<void>((resolve) => apim.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => apim.close(() => resolve())));
const apimUrl = `http://127.0.0.1:${(apim.address() as AddressInfo).port}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runScript(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts/apim-key-manager.ts'), ...args],
      { cwd: PROJECT_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const credentials = { APIM_ADMIN_USER: APIM_USER, APIM_ADMIN_PASSWORD: APIM_PASSWORD, DCR_ADMIN_USER: ADMIN, DCR_ADMIN_PASSWORD: ADMIN_PASSWORD };

/** The Key Manager record, field for field, that API Manager must be sent for this server. */
const expectedPayload = {
  name: 'DCR',
  displayName: 'DCR',
  type: 'WSO2-IS-7',
  description: 'WSO2-compatible DCR server and key manager',
  enabled: true,
  wellKnownEndpoint: `${issuer}/.well-known/openid-configuration`,
  issuer,
  clientRegistrationEndpoint: `${base}/api/identity/oauth2/dcr/v1.1/register`,
  introspectionEndpoint: `${base}/oauth2/introspect`,
  tokenEndpoint: `${base}/oauth2/token`,
  displayTokenEndpoint: `${base}/oauth2/token`,
  revokeEndpoint: `${base}/oauth2/revoke`,
  displayRevokeEndpoint: `${base}/oauth2/revoke`,
  userInfoEndpoint: `${base}/scim2/Me`,
  authorizeEndpoint: `${base}/oauth2/authorize`,
  scopeManagementEndpoint: `${base}/api/identity/oauth2/v1.0/scopes`,
  certificates: { type: 'JWKS', value: `${base}/oauth2/jwks` },
  consumerKeyClaim: 'azp',
  scopesClaim: 'scope',
  availableGrantTypes: ['password', 'client_credentials', 'refresh_token'],
  enableTokenGeneration: true,
  enableMapOAuthConsumerApps: true,
  enableOAuthAppCreation: true,
  enableSelfValidationJWT: true,
  enableTokenEncryption: false,
  enableTokenHashing: false,
  tokenType: 'DIRECT',
  claimMapping: [],
  tokenValidation: [],
  permissions: { permissionType: 'PUBLIC', roles: [] },
  additionalProperties: {
    Authentication: 'BasicAuth',
    Username: ADMIN,
    Password: ADMIN_PASSWORD,
    api_resource_management_endpoint: `${base}/api/server/v1/api-resources`,
    is7_roles_endpoint: `${base}/scim2/v2/Roles`,
    self_validate_jwt: true,
    enable_roles_creation: false,
  },
};

t.test('creates the Key Manager, then updates it in place on a second run', async (t) => {
  recorded.length = 0;
  const first = await runScript(['--apim-url', apimUrl, '--dcr-url', base], credentials);
  t.equal(first.code, 0, first.stderr);
  t.equal(first.stdout, `Key Manager "DCR" created (id km-1) in ${apimUrl}\n`);
  t.notMatch(first.stdout + first.stderr, ADMIN_PASSWORD, 'no password on the output');
  t.strictSame(
    recorded.map((r) => `${r.method} ${r.url}`),
    ['GET /api/am/admin/v4/key-managers', 'POST /api/am/admin/v4/key-managers'],
    'looks for the name, then creates it',
  );
  for (const r of recorded) t.equal(r.authorization, basic(APIM_USER, APIM_PASSWORD), "API Manager's admin, by HTTP Basic");
  t.equal(recorded[1]!.contentType, 'application/json');
  t.strictSame(recorded[1]!.body, expectedPayload, 'the KeyManagerDTO for the WSO2-IS-7 connector, from the metadata document');

  recorded.length = 0;
  const second = await runScript(['--apim-url', apimUrl, '--dcr-url', base], credentials);
  t.equal(second.code, 0, second.stderr);
  t.equal(second.stdout, `Key Manager "DCR" updated (id km-1) in ${apimUrl}\n`);
  t.strictSame(
    recorded.map((r) => `${r.method} ${r.url}`),
    ['GET /api/am/admin/v4/key-managers', 'PUT /api/am/admin/v4/key-managers/km-1'],
  );
  t.strictSame(recorded[1]!.body, { ...expectedPayload, id: 'km-1' });
  t.equal(keyManagers.size, 1, 'still one Key Manager');
});

t.test('--dry-run prints the record with the password masked, and calls nothing in API Manager', async (t) => {
  recorded.length = 0;
  const run = await runScript(['--apim-url', apimUrl, '--dcr-url', base, '--name', 'Local DCR', '--dry-run'], { DCR_ADMIN_PASSWORD: ADMIN_PASSWORD });
  t.equal(run.code, 0, run.stderr);
  t.strictSame(JSON.parse(run.stdout), {
    ...expectedPayload,
    name: 'Local DCR',
    displayName: 'Local DCR',
    additionalProperties: { ...expectedPayload.additionalProperties, Password: '********' },
  });
  t.strictSame(recorded, []);
});

t.test('refuses, before API Manager is called, credentials this server does not accept', async (t) => {
  recorded.length = 0;
  const run = await runScript(['--apim-url', apimUrl, '--dcr-url', base], { ...credentials, DCR_ADMIN_PASSWORD: 'wrong-password' });
  t.equal(run.code, 1);
  t.equal(run.stderr, "apim-key-manager: this server refused admin's credentials; set DCR_ADMIN_USER and DCR_ADMIN_PASSWORD\n");
  t.strictSame(recorded, [], 'nothing sent to API Manager');

  const missing = await runScript(['--apim-url', apimUrl, '--dcr-url', base], { APIM_ADMIN_PASSWORD: APIM_PASSWORD });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /set DCR_ADMIN_PASSWORD/);
});

t.test("says so when API Manager refuses its admin's credentials", async (t) => {
  const run = await runScript(['--apim-url', apimUrl, '--dcr-url', base], { ...credentials, APIM_ADMIN_PASSWORD: 'wrong' });
  t.equal(run.code, 1);
  t.equal(run.stderr, `apim-key-manager: API Manager refused ${APIM_USER} (401); set APIM_ADMIN_USER and APIM_ADMIN_PASSWORD\n`);
});

t.test('a server that does not answer is a clear error', async (t) => {
  const closed = await freePort();
  const run = await runScript(['--apim-url', apimUrl, '--dcr-url', `http://127.0.0.1:${closed}`], credentials);
  t.equal(run.code, 1);
  t.match(run.stderr, new RegExp(`^apim-key-manager: GET http://127\\.0\\.0\\.1:${closed}/oauth2/token/\\.well-known/openid-configuration: .*ECONNREFUSED`));
});

t.test("every URL of the record answers as the connector and the gateway call it", async (t) => {
  const admin = basic(ADMIN, ADMIN_PASSWORD);
  const json = 'application/json';

  const metadata = await fetch(expectedPayload.wellKnownEndpoint);
  t.equal(metadata.status, 200, 'well-known URL');
  const document = (await metadata.json()) as Record<string, unknown>;
  t.equal(document.issuer, expectedPayload.issuer, 'its issuer is the record’s, character for character');
  t.equal(document.registration_endpoint, expectedPayload.clientRegistrationEndpoint, 'and it advertises the IS DCR v1.1 endpoint');

  const jwks = (await (await fetch(expectedPayload.certificates.value)).json()) as { keys: { kty: string; kid: string; alg: string }[] };
  t.ok(jwks.keys.some((key) => key.kty === 'RSA' && key.alg === 'RS256' && key.kid), 'the JWKS has an RS256 key with a kid');

  // Generate Keys: the connector's create body on the registration endpoint, as the record's user.
  const created = await fetch(expectedPayload.clientRegistrationEndpoint, {
    method: 'POST',
    headers: { authorization: admin, 'content-type': json },
    body: JSON.stringify({ client_name: 'admin_script-check_PRODUCTION', grant_types: ['client_credentials'], redirect_uris: [], token_type_extension: 'JWT', ext_allowed_audience: 'organization' }),
  });
  t.equal(created.status, 201, 'IS DCR v1.1 create');
  const client = (await created.json()) as { client_id: string; client_secret: string };

  const token = await fetch(expectedPayload.tokenEndpoint, {
    method: 'POST',
    headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=default',
  });
  t.equal(token.status, 200, 'token endpoint');
  const { access_token: accessToken } = (await token.json()) as { access_token: string };

  const introspected = await fetch(expectedPayload.introspectionEndpoint, {
    method: 'POST',
    headers: { authorization: admin, 'x-wso2-tenant': 'carbon.super', 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${accessToken}`,
  });
  t.match(await introspected.json(), { active: true, client_id: client.client_id }, "introspection with the record's user");

  const me = await fetch(expectedPayload.userInfoEndpoint, { headers: { authorization: `Bearer ${accessToken}`, 'content-type': json } });
  t.equal(me.status, 200, 'userinfo (/scim2/Me) with a bearer token');

  const resources = await fetch(`${expectedPayload.additionalProperties.api_resource_management_endpoint}?filter=identifier+eq+User-defined-oauth2-resource`, {
    headers: { authorization: admin, 'content-type': json },
  });
  t.equal(resources.status, 200, 'api-resources, filtered as the connector filters');

  const roles = await fetch(`${expectedPayload.additionalProperties.is7_roles_endpoint}/.search`, {
    method: 'POST',
    headers: { authorization: admin, 'content-type': json },
    body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'displayName eq nobody' }),
  });
  t.equal(roles.status, 200, 'Roles .search');

  const revoked = await fetch(expectedPayload.revokeEndpoint, {
    method: 'POST',
    headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${accessToken}`,
  });
  t.equal(revoked.status, 200, 'revoke endpoint');

  const removed = await fetch(`${expectedPayload.clientRegistrationEndpoint}/${client.client_id}`, { method: 'DELETE', headers: { authorization: admin, 'content-type': json } });
  t.equal(removed.status, 204, 'IS DCR v1.1 delete, JSON content type and an empty body as the connector sends it');
});
