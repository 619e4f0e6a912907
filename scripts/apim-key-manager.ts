/**
 * `npm run apim:key-manager -- --apim-url URL --dcr-url URL [--name NAME] [--ca FILE | --insecure] [--dry-run]`
 *
 * Adds this server to a WSO2 API Manager (4.5+) as a Key Manager of type `WSO2-IS-7`, through
 * API Manager's Admin REST API v4 (`/api/am/admin/v4/key-managers`), exactly as an administrator
 * would fill the Admin Portal's "Add Key Manager" form (README, "Use it as WSO2 API Manager's Key
 * Manager"). A Key Manager of that name already there is updated in place (PUT), so the script can
 * be run again after a change of URL or password.
 *
 * Every URL comes from this server's own metadata document
 * (`<dcr-url>/oauth2/token/.well-known/openid-configuration`), which is built from its
 * DCR_PUBLIC_URL: the address API Manager reaches it at, which may differ from --dcr-url, the
 * address this script reaches it at (in docker-compose's `apim` profile: `http://dcr:9763`
 * against `http://localhost:9763`).
 *
 * Passwords come from the environment, never from the command line (where `ps` shows them):
 * APIM_ADMIN_USER / APIM_ADMIN_PASSWORD (API Manager's admin, default user `admin`), and
 * DCR_ADMIN_USER / DCR_ADMIN_PASSWORD (a user of this server allowed to manage every app and read
 * every token: what the connector authenticates with; default user `admin`). The script checks the
 * latter against this server before it sends them to API Manager.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';

/** What the script needs to know of this server, read from its metadata document. */
export interface ServerEndpoints {
  issuer: string;
  wellKnown: string;
  jwks: string;
  token: string;
  introspect: string;
  revoke: string;
  registration: string;
  userInfo: string;
  apiResources: string;
  roles: string;
  authorize: string;
  scopes: string;
  grantTypes: string[];
}

interface Metadata {
  issuer?: unknown;
  jwks_uri?: unknown;
  token_endpoint?: unknown;
  introspection_endpoint?: unknown;
  revocation_endpoint?: unknown;
  registration_endpoint?: unknown;
  grant_types_supported?: unknown;
}

/** The well-known URL the Admin Portal's "Import" reads: WSO2 IS's, under the issuer. */
export function wellKnownUrl(dcrUrl: string): string {
  return `${dcrUrl.replace(/\/+$/, '')}/oauth2/token/.well-known/openid-configuration`;
}

/**
 * The Key Manager's URLs from the metadata document. The routes the document does not name
 * (userinfo, api-resources, Roles) are the connector's fixed paths under the same base as the
 * token endpoint; `authorize` and `scopes` are fields the form requires that the WSO2-IS-7
 * connector does not call for what this server supports (no authorization-code flow here).
 */
export function endpointsFrom(metadata: Metadata): ServerEndpoints {
  const text = (name: keyof Metadata): string => {
    const value = metadata[name];
    if (typeof value !== 'string' || value === '') throw new Error(`the metadata document has no ${name}`);
    return value;
  };
  const token = text('token_endpoint');
  const base = token.replace(/\/oauth2\/token$/, '');
  if (base === token) throw new Error(`the token endpoint ${token} does not end in /oauth2/token`);
  const grants = Array.isArray(metadata.grant_types_supported) ? metadata.grant_types_supported.filter((g): g is string => typeof g === 'string') : [];
  return {
    issuer: text('issuer'),
    // Published as the public address, as the rest: the one API Manager reads.
    wellKnown: `${base}/oauth2/token/.well-known/openid-configuration`,
    jwks: text('jwks_uri'),
    token,
    introspect: text('introspection_endpoint'),
    revoke: text('revocation_endpoint'),
    registration: typeof metadata.registration_endpoint === 'string' ? metadata.registration_endpoint : `${base}/api/identity/oauth2/dcr/v1.1/register`,
    userInfo: `${base}/scim2/Me`,
    apiResources: `${base}/api/server/v1/api-resources`,
    roles: `${base}/scim2/v2/Roles`,
    authorize: `${base}/oauth2/authorize`,
    scopes: `${base}/api/identity/oauth2/v1.0/scopes`,
    grantTypes: grants.length > 0 ? grants : ['client_credentials', 'password', 'refresh_token'],
  };
}

/**
 * The body of `POST /api/am/admin/v4/key-managers` (API Manager's KeyManagerDTO) for the
 * `WSO2-IS-7` connector. `additionalProperties` are the connector's own settings: its
 * authentication (Basic with `Username`/`Password`), and the api-resources and Roles endpoints it
 * manages scopes and role bindings through.
 */
export function keyManagerPayload(name: string, endpoints: ServerEndpoints, dcrUser: string, dcrPassword: string): Record<string, unknown> {
  return {
    name,
    displayName: name,
    type: 'WSO2-IS-7',
    description: 'WSO2-compatible DCR server and key manager',
    enabled: true,
    wellKnownEndpoint: endpoints.wellKnown,
    issuer: endpoints.issuer,
    clientRegistrationEndpoint: endpoints.registration,
    introspectionEndpoint: endpoints.introspect,
    tokenEndpoint: endpoints.token,
    displayTokenEndpoint: endpoints.token,
    revokeEndpoint: endpoints.revoke,
    displayRevokeEndpoint: endpoints.revoke,
    userInfoEndpoint: endpoints.userInfo,
    authorizeEndpoint: endpoints.authorize,
    scopeManagementEndpoint: endpoints.scopes,
    certificates: { type: 'JWKS', value: endpoints.jwks },
    // What the gateway reads of this server's JWTs: the consumer key from azp, scopes from scope.
    consumerKeyClaim: 'azp',
    scopesClaim: 'scope',
    availableGrantTypes: endpoints.grantTypes,
    enableTokenGeneration: true,
    enableMapOAuthConsumerApps: true,
    enableOAuthAppCreation: true,
    // The gateway validates the JWTs itself against the JWKS; no introspection per call.
    enableSelfValidationJWT: true,
    enableTokenEncryption: false,
    enableTokenHashing: false,
    tokenType: 'DIRECT',
    claimMapping: [],
    tokenValidation: [],
    permissions: { permissionType: 'PUBLIC', roles: [] },
    additionalProperties: {
      Authentication: 'BasicAuth',
      Username: dcrUser,
      Password: dcrPassword,
      api_resource_management_endpoint: endpoints.apiResources,
      is7_roles_endpoint: endpoints.roles,
      self_validate_jwt: true,
      // API Manager's own roles are not mirrored as roles here: roles are the operator's.
      enable_roles_creation: false,
    },
  };
}

export interface TlsOptions {
  /** A PEM bundle to trust (API Manager's own certificate, self-signed out of the box). */
  ca?: Buffer;
  /** Accept any certificate (a local trial only). */
  insecure?: boolean;
}

interface Answer {
  status: number;
  body: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

/**
 * One HTTP(S) request. node:https rather than fetch: fetch cannot be told to trust a given CA or
 * a self-signed certificate without undici's dispatcher, which is not a dependency here.
 */
export function request(url: string, init: { method: string; headers?: Record<string, string>; body?: string }, tls: TlsOptions = {}): Promise<Answer> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new Error(`${url}: only http and https URLs`));
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method: init.method,
        headers: { accept: 'application/json', ...init.headers, ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) },
        timeout: REQUEST_TIMEOUT_MS,
        ...(target.protocol === 'https:' ? { ca: tls.ca, rejectUnauthorized: tls.insecure !== true } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${init.method} ${url}: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on('error', (error) => reject(new Error(`${init.method} ${url}: ${error.message}`)));
    req.end(init.body);
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function json(answer: Answer, what: string): unknown {
  try {
    return JSON.parse(answer.body) as unknown;
  } catch {
    throw new Error(`${what}: the answer is not JSON (${answer.status})`);
  }
}

export interface AddOptions {
  apimUrl: string;
  apimUser: string;
  apimPassword: string;
  dcrUrl: string;
  dcrUser: string;
  dcrPassword: string;
  name: string;
  tls: TlsOptions;
  dryRun?: boolean;
}

export interface AddOutcome {
  action: 'created' | 'updated' | 'dry-run';
  id?: string;
  payload: Record<string, unknown>;
}

/** Reads this server's metadata, checks the connector's credentials, then creates or updates the Key Manager. */
export async function addKeyManager(options: AddOptions): Promise<AddOutcome> {
  const wellKnown = wellKnownUrl(options.dcrUrl);
  const metadata = await request(wellKnown, { method: 'GET' });
  if (metadata.status !== 200) throw new Error(`GET ${wellKnown}: ${metadata.status}; is the server running at ${options.dcrUrl}?`);
  const endpoints = endpointsFrom(json(metadata, wellKnown) as Metadata);

  // The credentials API Manager will send on every connector call: refuse to store wrong ones, or
  // a user who may not manage scopes (the api-resources rule: the super admin, or one
  // DCR_APP_MANAGE_USERS lists by name).
  const probe = `${options.dcrUrl.replace(/\/+$/, '')}/api/server/v1/api-resources?limit=1`;
  const check = await request(probe, { method: 'GET', headers: { authorization: basic(options.dcrUser, options.dcrPassword) } });
  if (check.status === 401) throw new Error(`this server refused ${options.dcrUser}'s credentials; set DCR_ADMIN_USER and DCR_ADMIN_PASSWORD`);
  if (check.status === 403) throw new Error(`${options.dcrUser} may not manage scopes here: use the super admin, or list the user in DCR_APP_MANAGE_USERS`);
  if (check.status !== 200) throw new Error(`GET ${probe}: ${check.status}`);

  const payload = keyManagerPayload(options.name, endpoints, options.dcrUser, options.dcrPassword);
  if (options.dryRun) return { action: 'dry-run', payload };

  const admin = `${options.apimUrl.replace(/\/+$/, '')}/api/am/admin/v4/key-managers`;
  const auth = { authorization: basic(options.apimUser, options.apimPassword) };
  const list = await request(admin, { method: 'GET', headers: auth }, options.tls);
  if (list.status === 401 || list.status === 403) throw new Error(`API Manager refused ${options.apimUser} (${list.status}); set APIM_ADMIN_USER and APIM_ADMIN_PASSWORD`);
  if (list.status !== 200) throw new Error(`GET ${admin}: ${list.status} ${list.body.slice(0, 500)}`);
  const existing = ((json(list, admin) as { list?: { id?: string; name?: string }[] }).list ?? []).find((km) => km.name === options.name);

  const body = JSON.stringify(existing ? { ...payload, id: existing.id } : payload);
  const headers = { ...auth, 'content-type': 'application/json' };
  const answer = existing
    ? await request(`${admin}/${encodeURIComponent(existing.id ?? '')}`, { method: 'PUT', headers, body }, options.tls)
    : await request(admin, { method: 'POST', headers, body }, options.tls);
  if (answer.status !== (existing ? 200 : 201)) {
    throw new Error(`${existing ? 'PUT' : 'POST'} ${admin}: ${answer.status} ${answer.body.slice(0, 500)}`);
  }
  const id = (json(answer, admin) as { id?: string }).id ?? existing?.id;
  return { action: existing ? 'updated' : 'created', ...(id ? { id } : {}), payload };
}

/** The payload as printed by --dry-run: the connector's password masked. */
export function printable(payload: Record<string, unknown>): string {
  const additional = payload.additionalProperties as Record<string, unknown>;
  return JSON.stringify({ ...payload, additionalProperties: { ...additional, Password: '********' } }, null, 2);
}

function program(): Command {
  return new Command('apim-key-manager')
    .description("Adds this server to WSO2 API Manager as a WSO2-IS-7 Key Manager (Admin REST API v4). Passwords come from APIM_ADMIN_PASSWORD and DCR_ADMIN_PASSWORD.")
    .requiredOption('--apim-url <url>', "API Manager's base URL, e.g. https://localhost:9443")
    .option('--dcr-url <url>', 'where this script reaches this server', 'http://localhost:9763')
    .option('--name <name>', "the Key Manager's name in API Manager", 'DCR')
    .option('--ca <file>', "a PEM file to trust for API Manager's certificate")
    .addOption(new Option('--insecure', "accept any certificate from API Manager (its default one is self-signed); a local trial only").conflicts('ca'))
    .option('--dry-run', 'check this server and print the payload, without calling API Manager');
}

async function main(argv: string[]): Promise<void> {
  const cli = program().parse(argv, { from: 'user' });
  const opts = cli.opts<{ apimUrl: string; dcrUrl: string; name: string; ca?: string; insecure?: boolean; dryRun?: boolean }>();
  const env = process.env;
  const dcrPassword = env.DCR_ADMIN_PASSWORD;
  if (!dcrPassword) throw new Error("set DCR_ADMIN_PASSWORD: the password of this server's user that API Manager's connector signs in as");
  const apimPassword = env.APIM_ADMIN_PASSWORD;
  if (!apimPassword && !opts.dryRun) throw new Error("set APIM_ADMIN_PASSWORD: API Manager's admin password");
  const outcome = await addKeyManager({
    apimUrl: opts.apimUrl,
    apimUser: env.APIM_ADMIN_USER || 'admin',
    apimPassword: apimPassword ?? '',
    dcrUrl: opts.dcrUrl,
    dcrUser: env.DCR_ADMIN_USER || 'admin',
    dcrPassword,
    name: opts.name,
    tls: { ...(opts.ca ? { ca: readFileSync(opts.ca) } : {}), insecure: opts.insecure === true },
    dryRun: opts.dryRun === true,
  });
  if (outcome.action === 'dry-run') process.stdout.write(`${printable(outcome.payload)}\n`);
  else process.stdout.write(`Key Manager "${opts.name}" ${outcome.action}${outcome.id ? ` (id ${outcome.id})` : ''} in ${opts.apimUrl}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`apim-key-manager: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
