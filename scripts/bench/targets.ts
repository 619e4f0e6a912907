/**
 * What each target measures: the requests its load sends, to which process, and the set-up calls
 * (apps, tokens) that load needs first. Which targets are compared with which, and so measured
 * next to each other, is here too (ROUND_ORDER, ROUND_GROUP).
 */
import type autocannon from 'autocannon';
import { decodeProtectedHeader } from 'jose';
import { GSON_DEFAULTS } from '../../test/fixtures/connector-body.js';
import { round1, type Load } from './load.js';
import type { Proc } from './processes.js';
import { ADMIN, ADMIN_PASSWORD, PEER_CLIENT_SECRET, PEER_IAT, SERVER_JWT_ALG, type AbOptions, type Servers } from './servers.js';

export const REGISTER_PATH = '/client-registration/v0.17/register';
/** WSO2 IS's DCR v1.1, as API Manager's WSO2-IS-7 connector calls it. */
export const IS_DCR_PATH = '/api/identity/oauth2/dcr/v1.1/register';
export const INTROSPECT_PATH = '/oauth2/introspect';
/** oidc-provider's introspection endpoint (its default route). */
const PEER_INTROSPECT_PATH = '/token/introspection';

/** Every target, with what it measures (`--help` prints these). */
export const TARGETS = {
  'register-bearer': `POST ${REGISTER_PATH}, Bearer (a JWT from the password grant with apim:dcr:app_manage), a new clientName on every request`,
  'register-basic': 'the same with Basic authentication (the super admin)',
  'register-existing': `the same body every time: WSO2's idempotent "log in" (Bearer)`,
  'register-v11': `POST ${IS_DCR_PATH} (IS DCR v1.1) with Basic (the super admin), the connector's Gson body for a client_credentials app, a new client_name on every request: compared with register-basic`,
  'token-cc-rs256': 'client_credentials at /oauth2/token (client_secret_basic) on a JWT app: an RS256 JWT (RSA-2048; the server runs with DCR_JWT_ALG=RS256)',
  'token-cc-opaque': 'the same on an opaque-token app',
  'introspect-jwt': `POST ${INTROSPECT_PATH} of one RS256 JWT access token (form token=..., client_secret_basic of the token's own client), every answer checked to be active`,
  'introspect-opaque': 'the same for an opaque access token',
  'revoke-jwt':
    'POST /oauth2/revoke (client_secret_basic) of an RS256 JWT access token never revoked before, one per request (issued before each run, not measured): the revocation, and with a notify URL its event, committed',
  'refresh-jwt':
    'the refresh_token grant on a JWT app, each request with the refresh token the last answer gave: the rotation (the old access token revoked, with a notify URL its event) and a new RS256 JWT',
  ceiling:
    'scripts/bench/ceiling.ts: a bare Fastify app validating the same body with the same schema and doing one INSERT into the same Postgres: the floor cost of a durable registration',
  'sign-ceiling':
    "scripts/bench/sign-ceiling.ts: a bare Fastify POST /oauth2/token that parses the form and signs one RS256 JWT with jose (RSA-2048, the server's claims), no database: the floor cost of an RS256 token",
  'peer-reg': "scripts/bench/peer.ts: oidc-provider's dynamic registration (/reg), on its in-memory store (no disk at all)",
  'peer-token': "the peer's client_credentials token endpoint, opaque tokens",
  'peer-token-rs256': 'the same with RS256 JWT access tokens (RSA-2048; token_vs_peer compares like with like: RS256 JWT with RS256 JWT, opaque with opaque)',
  'peer-introspect': `the peer's introspection (${PEER_INTROSPECT_PATH}) of one of its opaque tokens, by its client, every answer checked to be active: oidc-provider refuses to introspect JWT access tokens, so both introspect targets are compared with this one`,
} as const;

export type TargetName = keyof typeof TARGETS;
export const ALL_LOADS = Object.keys(TARGETS) as TargetName[];
/** The peer's targets: one process serves them all. */
export const PEER_LOADS: readonly TargetName[] = ['peer-reg', 'peer-token', 'peer-token-rs256', 'peer-introspect'];
/** What --profile can profile: a process of ours, not the peer. */
export const PROFILABLE: readonly TargetName[] = [
  'register-bearer',
  'register-basic',
  'register-v11',
  'register-existing',
  'token-cc-rs256',
  'token-cc-opaque',
  'introspect-jwt',
  'introspect-opaque',
  'revoke-jwt',
  'refresh-jwt',
  'ceiling',
  'sign-ceiling',
];

/**
 * One server process runs each kind; token-cc serves both token targets, introspect both
 * introspection targets (its own process: introspection is measured on a server that is not also
 * issuing tokens between its slices).
 */
export const SERVER_KINDS = ['register-bearer', 'register-basic', 'register-v11', 'register-existing', 'token-cc', 'introspect', 'revoke'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/** The targets of a server kind. */
export const KIND_TARGETS: Record<ServerKind, readonly TargetName[]> = {
  'register-bearer': ['register-bearer'],
  'register-basic': ['register-basic'],
  'register-v11': ['register-v11'],
  'register-existing': ['register-existing'],
  'token-cc': ['token-cc-rs256', 'token-cc-opaque'],
  introspect: ['introspect-jwt', 'introspect-opaque'],
  revoke: ['revoke-jwt', 'refresh-jwt'],
};

/** The server kind that runs a target, or undefined for the ceilings and the peer. */
export function kindOf(target: TargetName): ServerKind | undefined {
  return SERVER_KINDS.find((kind) => KIND_TARGETS[kind].includes(target));
}

/**
 * The order of the measurements in a round: each target next to what it is compared with
 * (register-bearer between the peer's /reg and register-basic, the ceiling one further, each token
 * target next to its peer, the RS256 one between its peer and the sign ceiling, both introspection
 * targets around the peer's). The machine's speed drifts within a minute (docs/performance.md,
 * Fourth pass), so targets measured far apart could land in different phases; neighbours share one.
 * Forward then reverse rounds still give each target the same mean position.
 */
export const ROUND_ORDER: readonly TargetName[] = [
  'ceiling',
  'peer-reg',
  'register-bearer',
  'register-basic',
  'register-v11',
  'register-existing',
  'token-cc-opaque',
  'peer-token',
  'sign-ceiling',
  'token-cc-rs256',
  'peer-token-rs256',
  'introspect-jwt',
  'peer-introspect',
  'introspect-opaque',
  'revoke-jwt',
  'refresh-jwt',
];

/**
 * Targets compared with each other are measured as one group, their slices alternating (see
 * runRounds): register-bearer with the peer's /reg, the ceiling and register-basic; opaque tokens
 * with the peer's; RS256 tokens with the peer's and the sign ceiling; both introspection targets
 * with the peer's. register-existing is compared with nothing.
 */
export const ROUND_GROUP: Record<TargetName, string> = {
  ceiling: 'register',
  'peer-reg': 'register',
  'register-bearer': 'register',
  'register-basic': 'register',
  'register-v11': 'register',
  'register-existing': 'register-existing',
  'token-cc-opaque': 'token-opaque',
  'peer-token': 'token-opaque',
  'sign-ceiling': 'token-rs256',
  'token-cc-rs256': 'token-rs256',
  'peer-token-rs256': 'token-rs256',
  'introspect-jwt': 'introspect',
  'peer-introspect': 'introspect',
  'introspect-opaque': 'introspect',
  // Compared with their @ab twins only (--ab-env DCR_APIM_NOTIFY_URL=receiver), each in its own group.
  'revoke-jwt': 'revoke',
  'refresh-jwt': 'refresh',
};

// ---------------------------------------------------------------------------------------------
// Set-up calls

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN_BASIC = basic(ADMIN, ADMIN_PASSWORD);

async function call(url: string, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}

interface RegisteredApp {
  clientId: string;
  clientSecret: string;
}

async function registerApp(proc: Proc, body: Record<string, unknown>): Promise<RegisteredApp> {
  const res = await call(`${proc.base}${REGISTER_PATH}`, {
    method: 'POST',
    headers: { authorization: ADMIN_BASIC, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: ADMIN, saasApp: true, ...body }),
  });
  if (res.status !== 200) throw new Error(`${proc.label}: registering ${String(body.clientName)}: ${res.status} ${JSON.stringify(res.body)}`);
  return { clientId: String(res.body.clientId), clientSecret: String(res.body.clientSecret) };
}

/** A JWT access token with apim:dcr:app_manage for the super admin (password grant). */
async function bearerToken(proc: Proc): Promise<string> {
  const app = await registerApp(proc, { clientName: 'bench_bearer_client', grantType: 'password client_credentials', tokenType: 'JWT' });
  const res = await call(`${proc.base}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic(app.clientId, app.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: ADMIN, password: ADMIN_PASSWORD, scope: 'apim:dcr:app_manage' }).toString(),
  });
  const token = res.body.access_token;
  if (res.status !== 200 || typeof token !== 'string' || !String(res.body.scope).includes('apim:dcr:app_manage')) {
    throw new Error(`${proc.label}: password grant: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return token;
}

/** The access token of a client_credentials request at `url` (the server's or the peer's token endpoint). */
async function clientCredentialsToken(label: string, url: string, authorization: string): Promise<string> {
  const res = await call(url, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const token = res.body.access_token;
  if (res.status !== 200 || typeof token !== 'string') throw new Error(`${label}: client_credentials at ${url}: ${res.status} ${JSON.stringify(res.body)}`);
  return token;
}

/** The `alg` of a JWT's header; throws if it is not `expected` (undefined: any). */
function jwtAlg(label: string, token: string, expected: string | undefined): string {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new Error(`${label}: the access token is not a JWT: ${token.slice(0, 40)}...`);
  }
  if (expected !== undefined && alg !== expected) throw new Error(`${label}: the access token is signed ${alg}, not ${expected}`);
  return alg ?? 'none';
}

/** Every introspection answer of a load must say this: an inactive token would be a cheaper answer, not the one measured. */
const isActive = (body: string) => body.includes('"active":true');

/** Introspects `token` once at `url` and throws unless it is active (a set-up check). */
async function checkIntrospection(label: string, url: string, authorization: string, token: string): Promise<void> {
  const res = await call(url, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  if (res.status !== 200 || res.body.active !== true) throw new Error(`${label}: introspection at ${url}: ${res.status} ${JSON.stringify(res.body)}`);
}

// ---------------------------------------------------------------------------------------------
// Loads

/**
 * Request definitions whose JSON body gets a clientName (or client_name) never sent before, one
 * set per call: every run (warm-up, lead-in, slice) of a load registers names of its own.
 */
function uniqueNames(tag: string, field: string, fixed: Record<string, unknown>, headers: Record<string, string>, pathName: string): () => autocannon.Request[] {
  let runs = 0;
  return () => {
    // Client names allow only [ a-zA-Z0-9._-].
    const run = `${tag.replace(/[^a-zA-Z0-9._-]/g, '_')}_${Date.now().toString(36)}_${runs++}_`;
    let i = 0;
    return [
      {
        method: 'POST',
        path: pathName,
        headers: { ...headers, 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ ...fixed, [field]: `${run}${i++}` }) }),
      },
    ];
  };
}

/** The registration body of the server targets and the ceiling (README's call, client_credentials only, like the peer's client). */
const REGISTER_FIXED = { owner: ADMIN, grantType: 'client_credentials', saasApp: true };

function registerLoad(name: string, proc: Proc, authorization: string | undefined): Load {
  const requests = uniqueNames(name, 'clientName', REGISTER_FIXED, authorization ? { authorization } : {}, REGISTER_PATH);
  return { name, proc, options: () => ({ url: proc.base, requests: requests() }) };
}

/**
 * The same app on IS DCR v1.1: the body API Manager's connector sends for it (Gson writes every
 * zero lifetime and false flag; reference section 3), the same owner (the caller) and grant.
 */
const IS_DCR_FIXED = {
  grant_types: ['client_credentials'],
  redirect_uris: [],
  token_type_extension: 'DEFAULT',
  ...GSON_DEFAULTS,
};

function isDcrLoad(name: string, proc: Proc): Load {
  const requests = uniqueNames(name, 'client_name', IS_DCR_FIXED, { authorization: ADMIN_BASIC }, IS_DCR_PATH);
  return { name, proc, options: () => ({ url: proc.base, requests: requests() }) };
}

/** A load sending the same POST every time. */
function fixedLoad(name: string, proc: Proc, pathName: string, headers: Record<string, string>, body: string): Load {
  return { name, proc, options: () => ({ url: `${proc.base}${pathName}`, method: 'POST', headers, body }) };
}

function tokenLoad(name: string, proc: Proc, pathName: string, authorization: string): Load {
  return fixedLoad(name, proc, pathName, { authorization, 'content-type': 'application/x-www-form-urlencoded' }, 'grant_type=client_credentials');
}

/**
 * Introspection of the token `token()` gives (asked before each run: a token that can be evicted
 * gets a fresh one), the form `token=...` alone; an answer that is not active counts as an error.
 */
function introspectLoad(name: string, proc: Proc, pathName: string, authorization: string, token: () => string | Promise<string>): Load {
  return {
    name,
    proc,
    options: async () => ({
      url: `${proc.base}${pathName}`,
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: await token() }).toString(),
      verifyBody: isActive,
    }),
  };
}

/** Runs `work` on `items` with at most `limit` at once; the results in order. */
async function pooled<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i]!);
    }),
  );
  return results;
}

/**
 * Revocation of a token never revoked before on every request: before each run, as many JWTs as
 * the run should take (its seconds at 1.3 times the rate the last run reached; 800/s at first)
 * are issued (not measured), and the run stops when they are used up (`amount`). Revoking a
 * revoked token again would measure a cheaper path: no row changes, no event.
 */
function revokeLoad(name: string, proc: Proc, client: RegisteredApp): Load {
  const authorization = basic(client.clientId, client.clientSecret);
  let rate = 800;
  let lastRun: { count: number; first: number; last: number } | undefined;
  return {
    name,
    proc,
    options: async (seconds) => {
      if (lastRun && lastRun.count > 100 && lastRun.last > lastRun.first) rate = (lastRun.count / (lastRun.last - lastRun.first)) * 1000;
      const amount = Math.max(100, Math.ceil(seconds * rate * 1.3));
      const tokens = await pooled(Array.from({ length: amount }, (_, i) => i), 50, () =>
        clientCredentialsToken(proc.label, `${proc.base}/oauth2/token`, authorization),
      );
      const run = { count: 0, first: 0, last: 0 };
      lastRun = run;
      let i = 0;
      return {
        url: `${proc.base}/oauth2/revoke`,
        amount,
        requests: [
          {
            method: 'POST',
            headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
            setupRequest: (request) => {
              const now = Date.now();
              if (run.count++ === 0) run.first = now;
              run.last = now;
              return { ...request, body: `token=${tokens[i++ % tokens.length]}` };
            },
          },
        ],
      };
    },
  };
}

/**
 * The refresh_token grant, each request with a refresh token not used yet: a shared supply that
 * every answer refills with the refresh token it carries (the run's first requests take fresh ones
 * from the password grant, asked before the run). A refresh token is never presented twice (a
 * replay would revoke its family and answer 400).
 */
function refreshLoad(name: string, proc: Proc, client: RegisteredApp): Load {
  const authorization = basic(client.clientId, client.clientSecret);
  const passwordGrant = async () => {
    const res = await call(`${proc.base}/oauth2/token`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: ADMIN, password: ADMIN_PASSWORD }).toString(),
    });
    if (res.status !== 200 || typeof res.body.refresh_token !== 'string') throw new Error(`${proc.label}: password grant: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.refresh_token;
  };
  return {
    name,
    proc,
    options: async () => {
      // Twice the connections: a spare for a connection whose answer never came (cut at the run's end).
      const supply = await pooled(Array.from({ length: 100 }, (_, i) => i), 10, passwordGrant);
      return {
        url: `${proc.base}/oauth2/token`,
        requests: [
          {
            method: 'POST',
            headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
            setupRequest: (request) => ({ ...request, body: `grant_type=refresh_token&refresh_token=${supply.shift() ?? 'exhausted'}` }),
            onResponse: (status: number, body: string) => {
              if (status !== 200) return;
              const next = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
              if (next) supply.push(next);
            },
          },
        ],
      };
    },
  };
}

/**
 * The loads of one server target kind on a running server (`suffix` tells copies apart). Its JWTs
 * must be RS256 (SERVER_JWT_ALG), except on an @ab server, whose checkout or settings may sign
 * otherwise (`--ab-env DCR_JWT_ALG=ES256`): that one's algorithm is logged.
 */
export async function serverLoads(proc: Proc, kind: ServerKind, suffix = '', log?: (message: string) => void): Promise<Load[]> {
  const ab = suffix.includes('@ab');
  /** A JWT from the app, its algorithm checked. */
  const jwtFrom = async (app: RegisteredApp) => {
    const token = await clientCredentialsToken(proc.label, `${proc.base}/oauth2/token`, basic(app.clientId, app.clientSecret));
    const alg = jwtAlg(proc.label, token, ab ? undefined : SERVER_JWT_ALG);
    if (ab) log?.(`${proc.label}: JWT access tokens signed ${alg}`);
    return token;
  };
  switch (kind) {
    case 'register-bearer':
      return [registerLoad(`register-bearer${suffix}`, proc, `Bearer ${await bearerToken(proc)}`)];
    case 'register-basic':
      return [registerLoad(`register-basic${suffix}`, proc, ADMIN_BASIC)];
    case 'register-v11': {
      // Sanity: the body is accepted (201) before it is measured.
      const check = await call(`${proc.base}${IS_DCR_PATH}`, {
        method: 'POST',
        headers: { authorization: ADMIN_BASIC, 'content-type': 'application/json' },
        body: JSON.stringify({ ...IS_DCR_FIXED, client_name: 'bench_v11_check' }),
      });
      if (check.status !== 201) throw new Error(`${proc.label}: ${IS_DCR_PATH}: ${check.status} ${JSON.stringify(check.body)}`);
      return [isDcrLoad(`register-v11${suffix}`, proc)];
    }
    case 'register-existing': {
      const token = await bearerToken(proc);
      const body = JSON.stringify({ ...REGISTER_FIXED, clientName: 'bench_existing_app' });
      await registerApp(proc, { ...REGISTER_FIXED, clientName: 'bench_existing_app' });
      return [fixedLoad(`register-existing${suffix}`, proc, REGISTER_PATH, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body)];
    }
    case 'token-cc': {
      const jwt = await registerApp(proc, { clientName: 'bench_cc_jwt', grantType: 'client_credentials', tokenType: 'JWT' });
      const opaque = await registerApp(proc, { clientName: 'bench_cc_opaque', grantType: 'client_credentials' });
      await jwtFrom(jwt);
      return [
        tokenLoad(`token-cc-rs256${suffix}`, proc, '/oauth2/token', basic(jwt.clientId, jwt.clientSecret)),
        tokenLoad(`token-cc-opaque${suffix}`, proc, '/oauth2/token', basic(opaque.clientId, opaque.clientSecret)),
      ];
    }
    case 'introspect': {
      const jwtApp = await registerApp(proc, { clientName: 'bench_introspect_jwt', grantType: 'client_credentials', tokenType: 'JWT' });
      const opaqueApp = await registerApp(proc, { clientName: 'bench_introspect_opaque', grantType: 'client_credentials' });
      const jwtAuth = basic(jwtApp.clientId, jwtApp.clientSecret);
      const opaqueAuth = basic(opaqueApp.clientId, opaqueApp.clientSecret);
      // One token each, valid for the server's hour (DCR_ACCESS_TOKEN_TTL), introspected by its own client.
      const jwt = await jwtFrom(jwtApp);
      const opaque = await clientCredentialsToken(proc.label, `${proc.base}/oauth2/token`, opaqueAuth);
      await checkIntrospection(proc.label, `${proc.base}${INTROSPECT_PATH}`, jwtAuth, jwt);
      await checkIntrospection(proc.label, `${proc.base}${INTROSPECT_PATH}`, opaqueAuth, opaque);
      return [
        introspectLoad(`introspect-jwt${suffix}`, proc, INTROSPECT_PATH, jwtAuth, () => jwt),
        introspectLoad(`introspect-opaque${suffix}`, proc, INTROSPECT_PATH, opaqueAuth, () => opaque),
      ];
    }
    case 'revoke': {
      const revokeApp = await registerApp(proc, { clientName: 'bench_revoke_jwt', grantType: 'client_credentials', tokenType: 'JWT' });
      const refreshApp = await registerApp(proc, { clientName: 'bench_refresh_jwt', grantType: 'password refresh_token', tokenType: 'JWT' });
      await jwtFrom(revokeApp);
      return [revokeLoad(`revoke-jwt${suffix}`, proc, revokeApp), refreshLoad(`refresh-jwt${suffix}`, proc, refreshApp)];
    }
  }
}

/**
 * One server process on a fresh database, running one target kind; with `ab`, the server of
 * another checkout (its folder) or other settings, its loads named `<target>@ab`.
 */
export async function serverTarget(servers: Servers, kind: ServerKind, nodeFlags: string[] = [], ab?: AbOptions, log?: (message: string) => void): Promise<Load[]> {
  if (!ab) return serverLoads(await servers.server(kind, { nodeFlags }), kind);
  return serverLoads(await servers.server(`${kind}@ab`, { nodeFlags, cwd: ab.cwd, env: ab.env }), kind, '@ab', log);
}

export async function ceilingTarget(servers: Servers, nodeFlags: string[] = []): Promise<Load[]> {
  return [registerLoad('ceiling', await servers.ceiling(nodeFlags), undefined)];
}

/** The sign ceiling, sent the server's token request (its Authorization header is not read). */
export async function signCeilingTarget(servers: Servers, nodeFlags: string[] = []): Promise<Load[]> {
  const proc = await servers.signCeiling(nodeFlags);
  const authorization = basic('bench0signceiling0client0000', PEER_CLIENT_SECRET);
  jwtAlg(proc.label, await clientCredentialsToken(proc.label, `${proc.base}/oauth2/token`, authorization), 'RS256');
  return [tokenLoad('sign-ceiling', proc, '/oauth2/token', authorization)];
}

export async function peerTarget(servers: Servers): Promise<Load[]> {
  const proc = await servers.peer();
  const peerClient = {
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  // Sanity: /reg takes the initial access token before it is measured.
  const reg = await call(`${proc.base}/reg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PEER_IAT}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...peerClient, client_name: 'check' }),
  });
  if (reg.status !== 201) throw new Error(`peer /reg: ${reg.status} ${JSON.stringify(reg.body)}`);
  const requests = uniqueNames('peer', 'client_name', peerClient, { authorization: `Bearer ${PEER_IAT}` }, '/reg');
  const opaqueAuth = basic('bench-cc', PEER_CLIENT_SECRET);
  const rs256Auth = basic('bench-cc-rs256', PEER_CLIENT_SECRET);
  jwtAlg('peer', await clientCredentialsToken('peer', `${proc.base}/token`, rs256Auth), 'RS256');
  // The peer keeps its tokens in an LRU of 1,000 entries, which peer-token's load churns: each run
  // of peer-introspect introspects a token issued just before it (no other load runs meanwhile).
  const freshOpaque = () => clientCredentialsToken('peer', `${proc.base}/token`, opaqueAuth);
  await checkIntrospection('peer', `${proc.base}${PEER_INTROSPECT_PATH}`, opaqueAuth, await freshOpaque());
  return [
    { name: 'peer-reg', proc, options: () => ({ url: proc.base, requests: requests() }) },
    tokenLoad('peer-token', proc, '/token', opaqueAuth),
    tokenLoad('peer-token-rs256', proc, '/token', rs256Auth),
    introspectLoad('peer-introspect', proc, PEER_INTROSPECT_PATH, opaqueAuth, freshOpaque),
  ];
}

// ---------------------------------------------------------------------------------------------
// --tenants: the same three calls spread over every tenant of a database

/** The --tenants mode's targets (each also run on a single-tenant database, as `<target>@single`). */
export const TENANT_TARGETS = {
  'tenants-register': `POST /t/<domain>${REGISTER_PATH} with Basic admin@<domain>, a new clientName on every request`,
  'tenants-token': 'client_credentials at /t/<domain>/oauth2/token (client_secret_basic) on the tenant\'s JWT app: an RS256 JWT signed with the tenant\'s key',
  'tenants-introspect': `POST /t/<domain>${INTROSPECT_PATH} of the tenant's RS256 JWT by its own client, every answer checked to be active`,
} as const;

/** What the all-tenant sweep before the loads found and cost (see tenantLoads). */
export interface TenantSweep {
  tenants: number;
  /** One client_credentials token per tenant: each tenant's first, which loads its keys. */
  tokenSeconds: number;
  /** One Basic registration per tenant admin: each admin's first, which costs a scrypt. */
  registerSeconds: number;
}

/**
 * The --tenants loads on a server of a database seeded by seed-tenants.ts (`clients`: its tenants'
 * apps, the super tenant's left out), every request to the next tenant in turn (a counter per load
 * that carries on from run to run, so every tenant gets as many requests as every other and each
 * cache holds the whole working set). Before them, a sweep over every tenant, not measured: a
 * registration each by its admin (each admin's first Basic sign-in costs a scrypt, about 0.1 s of
 * a core), then a token each (each tenant's first token, which loads and imports its keys: the
 * tokens are the ones the introspection load introspects), last, so that the rounds begin with
 * every tenant's keys loaded (the KeyStore reloads a tenant's keys 60 s after it loaded them).
 */
export async function tenantLoads(
  proc: Proc,
  clients: readonly { tenant: number; domain: string; clientId: string; clientSecret: string }[],
  suffix: string,
  log: (message: string) => void,
): Promise<{ loads: Load[]; sweep: TenantSweep }> {
  const tenants = clients.filter((client) => client.tenant > 0);
  const n = tenants.length;
  const clientAuth = tenants.map((client) => basic(client.clientId, client.clientSecret));
  const adminAuth = tenants.map((client) => basic(`${ADMIN}@${client.domain}`, ADMIN_PASSWORD));
  const prefix = tenants.map((client) => `/t/${encodeURIComponent(client.domain)}`);
  const step = Math.max(1, Math.round(n / 10));
  const progress = (what: string, done: number, started: number) => {
    if (n >= 1000 && done % step === 0) log(`${proc.label}: ${what} ${done.toLocaleString('en')} / ${n.toLocaleString('en')} tenants (${round1((Date.now() - started) / 1000)} s)`);
  };

  let started = Date.now();
  let done = 0;
  // The server runs two key derivations at a time (src/crypto/passwords.ts KDF_CONCURRENCY).
  await pooled([...tenants.keys()], 8, async (i) => {
    const res = await call(`${proc.base}${prefix[i]}${REGISTER_PATH}`, {
      method: 'POST',
      headers: { authorization: adminAuth[i]!, 'content-type': 'application/json' },
      body: JSON.stringify({ ...REGISTER_FIXED, clientName: 'bench_tenant_sweep' }),
    });
    if (res.status !== 200) throw new Error(`${proc.label}: registering at ${prefix[i]}${REGISTER_PATH}: ${res.status} ${JSON.stringify(res.body)}`);
    progress('first sign-in of the admin of', ++done, started);
  });
  const registerSeconds = round1((Date.now() - started) / 1000);

  started = Date.now();
  done = 0;
  const tokens = await pooled([...tenants.keys()], 50, async (i) => {
    const token = await clientCredentialsToken(proc.label, `${proc.base}${prefix[i]}/oauth2/token`, clientAuth[i]!);
    jwtAlg(proc.label, token, SERVER_JWT_ALG);
    const { kid } = decodeProtectedHeader(token);
    if (!kid?.endsWith(`-t${tenants[i]!.tenant}`)) throw new Error(`${proc.label}: ${tenants[i]!.domain}'s token is signed with kid ${kid}, not its own`);
    progress('first token of', ++done, started);
    return token;
  });
  const tokenSeconds = round1((Date.now() - started) / 1000);
  await checkIntrospection(proc.label, `${proc.base}${prefix[0]}${INTROSPECT_PATH}`, clientAuth[0]!, tokens[0]!);

  /** The next tenant's index; a random first one, then in turn. */
  const turn = () => {
    let next = Math.floor(Math.random() * n);
    return () => {
      const i = next;
      next = (next + 1) % n;
      return i;
    };
  };
  const form = 'application/x-www-form-urlencoded';
  const registerTurn = turn();
  let runs = 0;
  const register: Load = {
    name: `tenants-register${suffix}`,
    proc,
    options: () => {
      const run = `bench_${Date.now().toString(36)}_${runs++}_`;
      let k = 0;
      return {
        url: proc.base,
        requests: [
          {
            method: 'POST',
            setupRequest: (request) => {
              const i = registerTurn();
              return {
                ...request,
                path: `${prefix[i]}${REGISTER_PATH}`,
                headers: { authorization: adminAuth[i]!, 'content-type': 'application/json' },
                body: JSON.stringify({ ...REGISTER_FIXED, clientName: `${run}${k++}` }),
              };
            },
          },
        ],
      };
    },
  };
  const tokenTurn = turn();
  const token: Load = {
    name: `tenants-token${suffix}`,
    proc,
    options: () => ({
      url: proc.base,
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => {
            const i = tokenTurn();
            return { ...request, path: `${prefix[i]}/oauth2/token`, headers: { authorization: clientAuth[i]!, 'content-type': form }, body: 'grant_type=client_credentials' };
          },
        },
      ],
    }),
  };
  const introspectTurn = turn();
  const introspectBodies = tokens.map((t) => new URLSearchParams({ token: t }).toString());
  const introspect: Load = {
    name: `tenants-introspect${suffix}`,
    proc,
    options: () => ({
      url: proc.base,
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => {
            const i = introspectTurn();
            return { ...request, path: `${prefix[i]}${INTROSPECT_PATH}`, headers: { authorization: clientAuth[i]!, 'content-type': form }, body: introspectBodies[i]! };
          },
        },
      ],
      verifyBody: isActive,
    }),
  };
  return { loads: [register, token, introspect], sweep: { tenants: n, tokenSeconds, registerSeconds } };
}
