/**
 * What each target measures: the requests its load sends, to which process, and the set-up calls
 * (apps, tokens) that load needs first. Which targets are compared with which, and so measured
 * next to each other, is here too (ROUND_ORDER, ROUND_GROUP).
 */
import type autocannon from 'autocannon';
import type { Load } from './load.js';
import type { Proc } from './processes.js';
import { ADMIN, ADMIN_PASSWORD, PEER_CLIENT_SECRET, PEER_IAT, type AbOptions, type Servers } from './servers.js';

export const REGISTER_PATH = '/client-registration/v0.17/register';

/** Every target, with what it measures (`--help` prints these). */
export const TARGETS = {
  'register-bearer': `POST ${REGISTER_PATH}, Bearer (a JWT from the password grant with apim:dcr:app_manage), a new clientName on every request`,
  'register-basic': 'the same with Basic authentication (the super admin)',
  'register-existing': `the same body every time: WSO2's idempotent "log in" (Bearer)`,
  'token-cc-jwt': 'client_credentials at /oauth2/token (client_secret_basic) on a JWT app',
  'token-cc-opaque': 'the same on an opaque-token app',
  ceiling:
    'scripts/bench/ceiling.ts: a bare Fastify app validating the same body with the same schema and doing one INSERT into the same Postgres: the floor cost of a durable registration',
  'peer-reg': "scripts/bench/peer.ts: oidc-provider's dynamic registration (/reg), on its in-memory store (no disk at all)",
  'peer-token': "the peer's client_credentials token endpoint, opaque tokens",
  'peer-token-jwt': 'the same with ES256 JWT access tokens (token_vs_peer compares like with like: JWT with JWT, opaque with opaque)',
} as const;

export type TargetName = keyof typeof TARGETS;
export const ALL_LOADS = Object.keys(TARGETS) as TargetName[];
/** What --profile can profile: a process of ours, not the peer. */
export const PROFILABLE: readonly TargetName[] = ['register-bearer', 'register-basic', 'register-existing', 'token-cc-jwt', 'token-cc-opaque', 'ceiling'];

/** One server process runs each kind; token-cc serves both token targets. */
export const SERVER_KINDS = ['register-bearer', 'register-basic', 'register-existing', 'token-cc'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/**
 * The order of the measurements in a round: each target next to what it is compared with
 * (register-bearer between the peer's /reg and register-basic, the ceiling one further, each token
 * target next to its peer). The machine's speed drifts within a minute (docs/performance.md, Fourth
 * pass), so targets measured far apart could land in different phases; neighbours share one.
 * Forward then reverse rounds still give each target the same mean position.
 */
export const ROUND_ORDER: readonly TargetName[] = [
  'ceiling',
  'peer-reg',
  'register-bearer',
  'register-basic',
  'register-existing',
  'token-cc-opaque',
  'peer-token',
  'token-cc-jwt',
  'peer-token-jwt',
];

/**
 * Targets compared with each other are measured as one group, their slices alternating (see
 * runRounds): register-bearer with the peer's /reg, the ceiling and register-basic; each token
 * target with its peer. register-existing is compared with nothing.
 */
export const ROUND_GROUP: Record<TargetName, string> = {
  ceiling: 'register',
  'peer-reg': 'register',
  'register-bearer': 'register',
  'register-basic': 'register',
  'register-existing': 'register-existing',
  'token-cc-opaque': 'token-opaque',
  'peer-token': 'token-opaque',
  'token-cc-jwt': 'token-jwt',
  'peer-token-jwt': 'token-jwt',
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

/** A load sending the same POST every time. */
function fixedLoad(name: string, proc: Proc, pathName: string, headers: Record<string, string>, body: string): Load {
  return { name, proc, options: () => ({ url: `${proc.base}${pathName}`, method: 'POST', headers, body }) };
}

function tokenLoad(name: string, proc: Proc, pathName: string, authorization: string): Load {
  return fixedLoad(name, proc, pathName, { authorization, 'content-type': 'application/x-www-form-urlencoded' }, 'grant_type=client_credentials');
}

/** The loads of one server target kind on a running server (`suffix` tells copies apart). */
export async function serverLoads(proc: Proc, kind: ServerKind, suffix = ''): Promise<Load[]> {
  switch (kind) {
    case 'register-bearer':
      return [registerLoad(`register-bearer${suffix}`, proc, `Bearer ${await bearerToken(proc)}`)];
    case 'register-basic':
      return [registerLoad(`register-basic${suffix}`, proc, ADMIN_BASIC)];
    case 'register-existing': {
      const token = await bearerToken(proc);
      const body = JSON.stringify({ ...REGISTER_FIXED, clientName: 'bench_existing_app' });
      await registerApp(proc, { ...REGISTER_FIXED, clientName: 'bench_existing_app' });
      return [fixedLoad(`register-existing${suffix}`, proc, REGISTER_PATH, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body)];
    }
    case 'token-cc': {
      const jwt = await registerApp(proc, { clientName: 'bench_cc_jwt', grantType: 'client_credentials', tokenType: 'JWT' });
      const opaque = await registerApp(proc, { clientName: 'bench_cc_opaque', grantType: 'client_credentials' });
      return [
        tokenLoad(`token-cc-jwt${suffix}`, proc, '/oauth2/token', basic(jwt.clientId, jwt.clientSecret)),
        tokenLoad(`token-cc-opaque${suffix}`, proc, '/oauth2/token', basic(opaque.clientId, opaque.clientSecret)),
      ];
    }
  }
}

/**
 * One server process on a fresh database, running one target kind; with `ab`, the server of
 * another checkout (its folder) or other settings, its loads named `<target>@ab`.
 */
export async function serverTarget(servers: Servers, kind: ServerKind, nodeFlags: string[] = [], ab?: AbOptions): Promise<Load[]> {
  if (!ab) return serverLoads(await servers.server(kind, { nodeFlags }), kind);
  return serverLoads(await servers.server(`${kind}@ab`, { nodeFlags, cwd: ab.cwd, env: ab.env }), kind, '@ab');
}

export async function ceilingTarget(servers: Servers, nodeFlags: string[] = []): Promise<Load[]> {
  return [registerLoad('ceiling', await servers.ceiling(nodeFlags), undefined)];
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
  return [
    { name: 'peer-reg', proc, options: () => ({ url: proc.base, requests: requests() }) },
    tokenLoad('peer-token', proc, '/token', basic('bench-cc', PEER_CLIENT_SECRET)),
    tokenLoad('peer-token-jwt', proc, '/token', basic('bench-cc-jwt', PEER_CLIENT_SECRET)),
  ];
}
