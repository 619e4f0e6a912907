/**
 * The `dcr` commands that talk to a running server over HTTP (`app register`, `status`, `token`).
 * They go through the typed client of src/client.ts, as any user of the package would, so the
 * CLI, the server and spec/ are held to the same generated types.
 *
 * Exit codes (src/cli/errors.ts): 0 done; 1 a local failure (arguments, no password); 2 the server
 * refused the request (4xx, its Error body printed); 3 the server is unavailable (unreachable, no
 * answer in time, 5xx, or not this API). `status` answers 0 when ready and 1 otherwise.
 */
import { readFile } from 'node:fs/promises';
import type { components as DcrComponents } from '../../generated/dcr-api.js';
import { basicAuth, bearer, createDcrClient, createPlatformClient, formEncoded } from '../client.js';
import { CliError, EXIT } from './errors.js';
import { readSecret } from './input.js';

type RegisterRequest = DcrComponents['schemas']['DCR'];
type RegisterResult = DcrComponents['schemas']['DCRResult'];

/** WSO2's port for plain HTTP: where `npm start` listens unless PORT says otherwise. */
export const DEFAULT_URL = 'http://127.0.0.1:9763';

/** WSO2's documented registration asks for these grants (README, "Register an application"). */
export const DEFAULT_GRANT_TYPES = 'client_credentials password refresh_token';

/** A bound on each request, so that a server that accepts connections but never answers fails the command. */
const REQUEST_TIMEOUT_MS = 30_000;

const out = (text: string) => process.stdout.write(`${text}\n`);

/** `key  value` lines, keys padded to one column (as `dcr app show` prints). */
function fields(lines: readonly (readonly [string, string])[]): string {
  const width = Math.max(...lines.map(([key]) => key.length));
  return lines.map(([key, value]) => `${key.padEnd(width)}  ${value}`.trimEnd()).join('\n');
}

// ---------------------------------------------------------------------------------------------
// The server's address, and what can go wrong on the way to it.

/** The root URL of the server: http(s), no query or fragment; a path is kept (a proxy's mount point). */
export function parseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`--url must be an http:// or https:// URL, not '${text}'`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new CliError(`--url must be the server's root URL (http:// or https://, no credentials, query or fragment), not '${text}'`);
  }
  return url.href.replace(/\/+$/, '');
}

/** Why fetch failed, in one line: the system error under undici's "fetch failed", or the timeout. */
function transportFailure(baseUrl: string, err: unknown): CliError {
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new CliError(`no answer from ${baseUrl} within ${REQUEST_TIMEOUT_MS / 1000} s`, EXIT.unavailable);
  }
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const reason = cause instanceof Error ? cause.message : String(cause);
  const hint =
    code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)
      ? ' (a self-signed certificate? trust it with NODE_EXTRA_CA_CERTS=cert.pem)'
      : '';
  return new CliError(`cannot reach ${baseUrl}: ${reason}${hint}`, EXIT.unavailable);
}

/** Runs one request; a transport failure becomes a one-line CliError (exit 3). */
async function call<T>(baseUrl: string, request: (signal: AbortSignal) => Promise<T>): Promise<T> {
  try {
    return await request(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
  } catch (err) {
    // A 2xx whose body is not JSON: something else answers at that address.
    if (err instanceof SyntaxError) throw new CliError(`${baseUrl} did not answer as a DCR server: ${err.message}`, EXIT.unavailable);
    throw transportFailure(baseUrl, err);
  }
}

/**
 * An error answer in one line: the spec's Error body (`code`, `message`, `description`, and the
 * `error` items the description does not already say), RFC 6749's `{error, error_description}`,
 * or the status line and the start of whatever else came back.
 */
export function describeErrorAnswer(response: Response, body: unknown): string {
  const statusLine = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  // The body is whatever came back: the contract's shapes are checked at run time, not assumed.
  const answer = typeof body === 'object' && body !== null ? new Map(Object.entries(body)) : new Map<string, unknown>();
  const text = (key: string, from = answer) => {
    const value = from.get(key);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const message = text('message');
  if (message !== undefined) {
    const code = answer.get('code');
    const description = text('description');
    const items = answer.get('error');
    const details = (Array.isArray(items) ? items : [])
      .map((item: unknown) => (typeof item === 'object' && item !== null ? new Map(Object.entries(item)) : new Map<string, unknown>()))
      .filter((item) => text('message', item) !== undefined && text('message', item) !== description)
      .map((item) => [text('code', item), text('message', item)].filter(Boolean).join(': '));
    return (
      `${typeof code === 'number' ? code : response.status} ${message}` +
      (description !== undefined ? `: ${description}` : '') +
      (details.length > 0 ? ` (${details.join('; ')})` : '')
    );
  }
  const oauthError = text('error');
  if (oauthError !== undefined) {
    const description = text('error_description');
    return `${statusLine}: ${oauthError}${description !== undefined ? `: ${description}` : ''}`;
  }
  const raw = typeof body === 'string' ? body.replace(/\s+/g, ' ').trim().slice(0, 200) : '';
  return raw === '' ? statusLine : `${statusLine}: ${raw}`;
}

/** The CliError for an error answer: exit 2 for 4xx (refused), 3 for anything else (unavailable). */
function refusal(response: Response, body: unknown): CliError {
  const exitCode = response.status >= 400 && response.status < 500 ? EXIT.refused : EXIT.unavailable;
  return new CliError(describeErrorAnswer(response, body), exitCode);
}

// ---------------------------------------------------------------------------------------------
// Credentials: a user's password (Basic), or a Bearer token (a file, or DCR_TOKEN).

export interface CredentialOptions {
  /** Basic authentication as this user; the password from stdin or a prompt. */
  user?: string;
  passwordStdin?: boolean;
  /** A file holding a Bearer access token (`-`: standard input). */
  bearerFile?: string;
  /** The Bearer access token from the environment (DCR_TOKEN), used when neither of the above is given. */
  envToken?: string | undefined;
}

async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = file === '-' ? await readSecret({ fromStdin: true, prompt: 'Token', what: 'token' }) : await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read the token file: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (token === '' || /\s/.test(token)) throw new CliError(`${file === '-' ? 'standard input' : file} must hold one access token`);
  return token;
}

/** The Authorization header value, and the user it names (Basic only). */
async function authorization(options: CredentialOptions): Promise<{ header: string; user?: string }> {
  if (options.user !== undefined && options.bearerFile !== undefined) throw new CliError('give --user or --bearer-file, not both');
  if (options.user !== undefined) {
    if (options.user === '' || options.user.includes(':')) throw new CliError("--user must be a user name (no ':')");
    const password = await readSecret({ fromStdin: options.passwordStdin, prompt: `Password for '${options.user}'` });
    return { header: basicAuth(options.user, password), user: options.user };
  }
  if (options.bearerFile !== undefined) return { header: bearer(await readTokenFile(options.bearerFile)) };
  const token = options.envToken?.trim();
  if (token) return { header: bearer(token) };
  throw new CliError('give --user <name> (the password from stdin or a prompt), --bearer-file <file>, or set DCR_TOKEN');
}

// ---------------------------------------------------------------------------------------------
// dcr app register

export interface RegisterOptions extends CredentialOptions {
  url: string;
  owner?: string;
  grantTypes?: string;
  callbackUrl?: string;
  tokenType?: string;
  saas?: boolean;
  userStoreDomainInSubject?: boolean;
  showSecret?: boolean;
  json?: boolean;
}

/** The register request body of spec/wso2-dcr-api.yaml (`DCR`), from the command line. */
export function registerRequest(clientName: string, owner: string, options: RegisterOptions): RegisterRequest {
  // Space or comma separated on the command line; space separated on the wire (WSO2's format).
  const grantType = (options.grantTypes ?? DEFAULT_GRANT_TYPES).split(/[\s,]+/).filter(Boolean).join(' ');
  return {
    clientName,
    owner,
    grantType,
    ...(options.callbackUrl !== undefined ? { callbackUrl: options.callbackUrl } : {}),
    ...(options.tokenType !== undefined ? { tokenType: options.tokenType } : {}),
    ...(options.saas ? { saasApp: true } : {}),
    ...(options.userStoreDomainInSubject ? { userStoreDomainInSubject: true } : {}),
  };
}

/** The answer as shown: the whole DCRResult with --json, else name and id; the secret only with --show-secret. */
export function formatRegistered(app: RegisterResult, options: { json?: boolean; showSecret?: boolean }): string {
  if (options.json) {
    // The answer as the server sent it (its key order too), less the secret unless asked for.
    const shown = Object.entries(app).filter(([key]) => options.showSecret || key !== 'clientSecret');
    return JSON.stringify(Object.fromEntries(shown), null, 2);
  }
  return fields([
    ['clientName', app.clientName],
    ['clientId', app.clientId],
    ['clientSecret', options.showSecret ? app.clientSecret : '(hidden; --show-secret prints it)'],
  ]);
}

/**
 * `dcr app register <clientName>`: POST /client-registration/v0.17/register as the given user (or
 * token). WSO2's semantics hold: registering a name the caller already owns answers the same
 * application, so the command is idempotent and doubles as "fetch my app's credentials".
 */
export async function appRegister(clientName: string, options: RegisterOptions): Promise<void> {
  const baseUrl = parseBaseUrl(options.url);
  const auth = await authorization(options);
  const owner = options.owner ?? auth.user;
  if (owner === undefined) throw new CliError('--owner is required with a Bearer token (the user the application belongs to)');
  const dcr = createDcrClient({ baseUrl, authorization: auth.header });
  const body = registerRequest(clientName, owner, options);
  const { data, error, response } = await call(baseUrl, (signal) => dcr.POST('/register', { body, signal }));
  if (data === undefined) throw refusal(response, error);
  out(formatRegistered(data, options));
}

// ---------------------------------------------------------------------------------------------
// dcr status

/**
 * `dcr status`: /health/live, /health/ready and the RFC 8414 metadata's issuer, in one line on
 * stdout. Exit 0 when ready, 1 otherwise (not ready, or not reachable).
 */
export async function status(options: { url: string }): Promise<void> {
  const baseUrl = parseBaseUrl(options.url);
  const platform = createPlatformClient({ baseUrl });
  const attempt = <T>(request: (signal: AbortSignal) => Promise<T>) =>
    call(baseUrl, request).then(
      (value) => ({ ok: true as const, value }),
      (err: unknown) => ({ ok: false as const, err: err instanceof Error ? err : new Error(String(err)) }),
    );
  const [live, ready, metadata] = await Promise.all([
    attempt((signal) => platform.GET('/health/live', { signal })),
    attempt((signal) => platform.GET('/health/ready', { signal })),
    attempt((signal) => platform.GET('/.well-known/oauth-authorization-server', { signal })),
  ]);

  if (!live.ok) {
    out(`down: ${live.err.message}`);
    process.exitCode = 1;
    return;
  }
  const issuer = metadata.ok && metadata.value.data ? `; issuer ${metadata.value.data.issuer}` : '';
  const liveText = live.value.data?.status === 'UP' ? 'live' : `not live (${describeErrorAnswer(live.value.response, live.value.error)})`;
  if (ready.ok && ready.value.data?.status === 'UP') {
    const checks = Object.entries(ready.value.data.checks ?? {}).map(([name, state]) => `${name} ${state}`);
    out(`ready: ${baseUrl} (${liveText}, ready${checks.length > 0 ? `: ${checks.join(', ')}` : ''}${issuer})`);
    return;
  }
  const why = ready.ok ? describeErrorAnswer(ready.value.response, ready.value.error) : ready.err.message;
  out(`not ready: ${baseUrl} (${liveText}; ${why})`);
  process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------
// dcr token

export interface TokenOptions {
  url: string;
  clientId: string;
  scope?: string;
  secretStdin?: boolean;
  json?: boolean;
}

/**
 * `dcr token --client-id <id>`: an app token by the client_credentials grant (RFC 6749 §4.4), the
 * client secret from stdin or a prompt (client_secret_basic). Prints the access token alone, so
 * that `DCR_TOKEN=$(dcr token …)` works, or the whole answer with --json.
 */
export async function token(options: TokenOptions): Promise<void> {
  const baseUrl = parseBaseUrl(options.url);
  if (options.clientId === '' || options.clientId.includes(':')) throw new CliError("--client-id must be a client id (no ':')");
  const secret = await readSecret({ fromStdin: options.secretStdin, prompt: `Client secret of '${options.clientId}'`, what: 'client secret' });
  const platform = createPlatformClient({ baseUrl });
  const { data, error, response } = await call(baseUrl, (signal) =>
    platform.POST('/oauth2/token', {
      ...formEncoded({ Authorization: basicAuth(options.clientId, secret) }),
      body: { grant_type: 'client_credentials', ...(options.scope !== undefined ? { scope: options.scope } : {}) },
      signal,
    }),
  );
  if (data === undefined) throw refusal(response, error);
  out(options.json ? JSON.stringify(data, null, 2) : data.access_token);
}
