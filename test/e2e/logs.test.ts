/**
 * What the real server process writes, as `npm start` runs it: its whole stdout and stderr over a
 * full flow (SCIM user, registration with Basic, password grant with a refresh token, refresh,
 * introspection, revocation, registration with a Bearer token, failed logins) at debug and at
 * trace level. stdout is JSON lines only; one `request` line per HTTP request, carrying the
 * request id the response echoes (an incoming X-Request-Id is honoured); and no credential
 * (passwords, client secrets, tokens, Authorization values, their base64, the secret key) ever
 * appears anywhere in the output. Also: loggerOptions' redaction and its terminal/pipe choice.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import { loggerOptions } from '../../src/runtime/server-options.js';
import {
  freePort,
  freshDataDir,
  startServer,
  stopGracefully,
  type ServerProcess,
} from '../fixtures/server-process.js';

const REGISTER = '/client-registration/v0.17/register';
const FORM = 'application/x-www-form-urlencoded';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const b64 = (text: string) => Buffer.from(text).toString('base64');
const basic = (user: string, password: string) => `Basic ${b64(`${user}:${password}`)}`;

interface Sent {
  method: string;
  path: string;
  status: number;
  reqId: string;
}

interface LogLine {
  msg?: string;
  reqId?: unknown;
  method?: unknown;
  path?: unknown;
  statusCode?: unknown;
  level?: unknown;
  [key: string]: unknown;
}

/**
 * One server under test, and a record of every HTTP request that reached it (a response came
 * back), so that the log can be checked against it one to one.
 */
class Session {
  readonly sent: Sent[] = [];
  /** Every credential and token that went over the wire: none may appear in the output. */
  readonly secrets = new Map<string, string>();

  constructor(readonly server: ServerProcess) {}

  secret(label: string, value: string | undefined): void {
    if (value === undefined || value === '') throw new Error(`no value for ${label}`);
    this.secrets.set(label, value);
  }

  /** A request over a real socket; Authorization values are recorded as secrets. */
  async call(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; json?: unknown; form?: Record<string, string>; scim?: unknown } = {},
  ): Promise<{ status: number; headers: Headers; body: any }> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.scim !== undefined) {
      headers['content-type'] = 'application/scim+json';
      body = JSON.stringify(options.scim);
    } else if (options.form !== undefined) {
      headers['content-type'] = FORM;
      body = new URLSearchParams(options.form).toString();
    }
    if (headers.authorization) {
      this.secret(`Authorization: ${headers.authorization.slice(0, 12)}…`, headers.authorization);
      this.secret('the credential part of an Authorization header', headers.authorization.replace(/^\S+\s+/, ''));
    }
    const res = await fetch(`${this.server.baseUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    const reqId = res.headers.get('x-request-id') ?? '';
    this.sent.push({ method, path: path.split('?')[0]!, status: res.status, reqId });
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (a 200 from /oauth2/revoke has no body)
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  /** Polls /health/ready until 200; only polls that got an answer count as requests made. */
  async waitReady(timeoutMs = 45_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.server.isRunning()) throw new Error(`the server exited before it was ready:\n${this.server.stderr()}`);
      try {
        const res = await this.call('GET', '/health/ready');
        if (res.status === 200) return;
      } catch {
        // not listening yet: no request reached the server
      }
      await sleep(100);
    }
    throw new Error(`not ready within ${timeoutMs} ms:\n${this.server.stderr()}`);
  }
}

/** One data folder for both runs: the second start skips initdb (the slow part). */
const dataDir = freshDataDir(t);

async function start(t: Test, env: Record<string, string>): Promise<Session> {
  const server = startServer(t, {
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    DCR_DATA_DIR: await dataDir,
    ...env,
  });
  const session = new Session(server);
  await session.waitReady();
  return session;
}

/** Parses stdout: JSON lines only. */
function parseStdout(t: Test, stdout: string): LogLine[] {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  const notJson = lines.filter((line) => !line.startsWith('{'));
  t.strictSame(notJson, [], 'every stdout line is a JSON object (no banner, no pretty output on a pipe)');
  const parsed: LogLine[] = [];
  for (const line of lines.filter((l) => l.startsWith('{'))) {
    try {
      parsed.push(JSON.parse(line) as LogLine);
    } catch {
      t.fail(`a stdout line is not JSON: ${line}`);
    }
  }
  t.ok(parsed.length > 0, `${parsed.length} JSON log lines`);
  return parsed;
}

function checkLines(t: Test, session: Session, lines: LogLine[]): void {
  // Lines that belong to no request: start-up (up to the listening line, e.g. glue's debug
  // notices) and the shutdown line. Every line in between is logged while serving a request and
  // carries its id.
  const listening = lines.findIndex((line) => /^Server listening at /.test(String(line.msg)));
  t.ok(listening >= 0, 'the listening line is there');
  const serving = lines.slice(listening + 1);
  const withoutId = serving.filter((line) => typeof line.reqId !== 'string' || line.reqId === '');
  t.strictSame(
    withoutId.map((line) => line.msg),
    ['shutting down'],
    'after start-up, every line but the shutdown line has a reqId',
  );

  const requestLines = lines.filter((line) => line.msg === 'request');
  t.equal(requestLines.length, session.sent.length, `one "request" line per HTTP request (${session.sent.length})`);
  for (const line of requestLines) {
    t.match(line, { method: String, path: String, statusCode: Number, reqId: String }, 'method, path, statusCode and reqId');
  }
  const logged = requestLines
    .map((line) => ({ method: line.method, path: line.path, status: line.statusCode, reqId: line.reqId }))
    .sort((a, b) => String(a.reqId).localeCompare(String(b.reqId)));
  const expected = [...session.sent].sort((a, b) => a.reqId.localeCompare(b.reqId));
  t.strictSame(logged, expected, 'the request lines are exactly the requests made: method, path, status, the id the response echoed');
  t.equal(new Set(session.sent.map((s) => s.reqId)).size, session.sent.length, 'request ids are unique');

  // Lines logged for a request (e.g. "request rejected" at debug) carry an id of a request made.
  const ids = new Set(session.sent.map((s) => s.reqId));
  const strays = lines.filter((line) => typeof line.reqId === 'string' && !ids.has(line.reqId));
  t.strictSame(strays, [], 'no line names a request id that was not answered');
}

async function checkNoSecrets(t: Test, session: Session, output: string): Promise<void> {
  const pgPassword = (await fs.readFile(path.join(session.server.dataDir, 'pg-password'), 'utf8')).trim();
  session.secret('the embedded database password', pgPassword);
  t.ok(session.secrets.size > 10, `${session.secrets.size} secrets to look for`);
  for (const [label, value] of session.secrets) {
    t.notOk(output.includes(value), `the output does not contain ${label}`);
  }
}

const SECRET_KEY = randomBytes(32);

t.test('loggerOptions: JSON on a pipe, pino-pretty on a terminal, credential-bearing fields redacted', async (t) => {
  const piped = loggerOptions({ logLevel: 'debug' }, false) as Record<string, unknown>;
  t.equal(piped.level, 'debug');
  t.equal(piped.transport, undefined, 'not a terminal: plain JSON lines');
  const tty = loggerOptions({ logLevel: 'info' }, true) as { transport?: { target?: string } };
  t.equal(tty.transport?.target, 'pino-pretty', 'a terminal: pino-pretty');

  let output = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  const app = Fastify({ logger: { ...piped, stream } as never });
  t.teardown(() => app.close());
  const secrets = Array.from({ length: 10 }, (_, i) => `SECRET-${i}-${randomBytes(4).toString('hex')}`);
  app.log.info({ req: { headers: { authorization: `Basic ${secrets[0]}`, cookie: secrets[1], host: 'example.org' } } }, 'a request');
  app.log.info({ headers: { authorization: `Bearer ${secrets[2]}` } }, 'headers');
  app.log.info(
    { body: { password: secrets[3], clientSecret: secrets[4], client_secret: secrets[5], access_token: secrets[6], refresh_token: secrets[7] } },
    'a body',
  );
  app.log.info({ password: secrets[8], clientSecret: secrets[9], userName: 'kept' }, 'top level');
  for (const [i, secret] of secrets.entries()) t.notOk(output.includes(secret), `secret ${i} is redacted`);
  t.match(output, /\[REDACTED\]/);
  t.match(output, /"userName":"kept"/, 'other fields are kept');
});

/** The full flow; every credential it uses or receives is recorded as a secret. */
async function fullFlow(t: Test, session: Session, adminPassword: string, userName: string): Promise<void> {
  const admin = basic('admin', adminPassword);
  session.secret('the admin password', adminPassword);
  session.secret('the admin Basic credentials (base64)', b64(`admin:${adminPassword}`));
  session.secret('DCR_SECRET_KEY (base64)', SECRET_KEY.toString('base64'));
  session.secret('DCR_SECRET_KEY (hex)', SECRET_KEY.toString('hex'));
  session.secret('DCR_SECRET_KEY (base64url)', SECRET_KEY.toString('base64url'));

  const P1 = `${userName}-P1-${randomBytes(6).toString('hex')}`;
  session.secret('P1', P1);
  const user = await session.call('POST', '/scim2/Users', {
    headers: { authorization: admin },
    scim: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, password: P1 },
  });
  t.equal(user.status, 201, JSON.stringify(user.body));
  const userAuth = basic(userName, P1);
  session.secret("the user's Basic credentials (base64)", b64(`${userName}:${P1}`));

  const app = await session.call('POST', REGISTER, {
    headers: { authorization: userAuth },
    json: { clientName: `${userName}_app`, owner: userName, grantType: 'password refresh_token', callbackUrl: 'www.google.lk' },
  });
  t.equal(app.status, 200, JSON.stringify(app.body));
  const { clientId, clientSecret } = app.body as { clientId: string; clientSecret: string };
  session.secret('the clientSecret', clientSecret);
  const client = basic(clientId, clientSecret);
  session.secret('the client Basic credentials (base64)', b64(`${clientId}:${clientSecret}`));

  const issued = await session.call('POST', '/oauth2/token', {
    headers: { authorization: client },
    form: { grant_type: 'password', username: userName, password: P1, scope: 'apim:dcr:app_manage' },
  });
  t.equal(issued.status, 200, JSON.stringify(issued.body));
  t.ok(issued.body.refresh_token, 'a refresh token');
  session.secret('access token 1', issued.body.access_token);
  session.secret('access token 1 signature', String(issued.body.access_token).split('.').pop());
  session.secret('refresh token 1', issued.body.refresh_token);

  const refreshed = await session.call('POST', '/oauth2/token', {
    headers: { authorization: client },
    form: { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token },
  });
  t.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  session.secret('access token 2', refreshed.body.access_token);
  session.secret('access token 2 signature', String(refreshed.body.access_token).split('.').pop());
  session.secret('refresh token 2', refreshed.body.refresh_token);

  const introspected = await session.call('POST', '/oauth2/introspect', {
    headers: { authorization: client },
    form: { token: refreshed.body.access_token },
  });
  t.equal(introspected.status, 200);
  t.equal(introspected.body.active, true, JSON.stringify(introspected.body));

  const revoked = await session.call('POST', '/oauth2/revoke', {
    headers: { authorization: client },
    form: { token: refreshed.body.refresh_token, token_type_hint: 'refresh_token' },
  });
  t.equal(revoked.status, 200);

  const fresh = await session.call('POST', '/oauth2/token', {
    headers: { authorization: client },
    form: { grant_type: 'password', username: userName, password: P1, scope: 'apim:dcr:app_manage' },
  });
  t.equal(fresh.status, 200, JSON.stringify(fresh.body));
  session.secret('access token 3', fresh.body.access_token);
  session.secret('access token 3 signature', String(fresh.body.access_token).split('.').pop());
  session.secret('refresh token 3', fresh.body.refresh_token);

  const viaBearer = await session.call('POST', REGISTER, {
    headers: { authorization: `Bearer ${fresh.body.access_token}` },
    json: { clientName: `${userName}_bearer_app`, owner: userName, grantType: 'client_credentials' },
  });
  t.equal(viaBearer.status, 200, JSON.stringify(viaBearer.body));
  session.secret('the second clientSecret', viaBearer.body.clientSecret);

  // Failed logins, each with a credential that must not be logged either.
  const wrong = `wrong-Guess-${randomBytes(6).toString('hex')}`;
  session.secret('a wrong password', wrong);
  session.secret('a wrong Basic credential (base64)', b64(`admin:${wrong}`));
  const badAdmin = await session.call('POST', REGISTER, {
    headers: { authorization: basic('admin', wrong) },
    json: { clientName: 'nope', owner: 'admin', grantType: 'password' },
  });
  t.equal(badAdmin.status, 401);
  const badUser = await session.call('POST', '/oauth2/token', {
    headers: { authorization: client },
    form: { grant_type: 'password', username: userName, password: wrong },
  });
  t.equal(badUser.status, 400);
  t.equal(badUser.body.error, 'invalid_grant');
  const wrongSecret = `${clientSecret.slice(0, -4)}XXXX`;
  session.secret('a wrong client secret', wrongSecret);
  const badClient = await session.call('POST', '/oauth2/token', {
    headers: { authorization: basic(clientId, wrongSecret) },
    form: { grant_type: 'password', username: userName, password: P1 },
  });
  t.equal(badClient.status, 401);
  t.equal(badClient.body.error, 'invalid_client');
  const revokedBearer = await session.call('POST', REGISTER, {
    headers: { authorization: `Bearer ${refreshed.body.access_token}` },
    json: { clientName: 'nope2', owner: userName, grantType: 'password' },
  });
  t.equal(revokedBearer.status, 401, 'a revoked access token is refused');
  const clientAsPost = await session.call('POST', '/oauth2/token', {
    form: { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token, client_id: clientId, client_secret: clientSecret },
  });
  t.equal(clientAsPost.status, 400, 'a used refresh token (client_secret_post) is refused');
}

t.test('LOG_LEVEL=debug: JSON lines, one per request with its id, and no credential anywhere', async (t) => {
  const adminPassword = `Logs-Admin-${randomBytes(6).toString('hex')}`;
  const session = await start(t, {
    DCR_ADMIN_PASSWORD: adminPassword,
    LOG_LEVEL: 'debug',
    DCR_SECRET_KEY: SECRET_KEY.toString('base64'),
  });

  await fullFlow(t, session, adminPassword, 'alice');

  // X-Request-Id: a sane incoming id is echoed and logged; anything else is replaced.
  const traced = await session.call('GET', '/health/live', { headers: { 'x-request-id': 'test-abc-123' } });
  t.equal(traced.status, 200);
  t.equal(traced.headers.get('x-request-id'), 'test-abc-123', 'the incoming X-Request-Id is echoed');
  const tracedRegister = await session.call('POST', REGISTER, {
    headers: { 'x-request-id': 'test-abc-456', authorization: basic('admin', adminPassword) },
    json: { clientName: 'traced_app', owner: 'admin', grantType: 'client_credentials' },
  });
  t.equal(tracedRegister.status, 200);
  t.equal(tracedRegister.headers.get('x-request-id'), 'test-abc-456');
  session.secret('the traced clientSecret', tracedRegister.body.clientSecret);
  const insane = await session.call('GET', '/health/live', { headers: { 'x-request-id': 'has spaces and {braces}' } });
  t.match(insane.headers.get('x-request-id'), /^[0-9a-f-]{36}$/, 'an id that is not a sane token is replaced by a UUID');

  await stopGracefully(t, session.server);

  const stdout = session.server.stdout();
  const stderr = session.server.stderr();
  const lines = parseStdout(t, stdout);
  checkLines(t, session, lines);
  const line = lines.find((l) => l.msg === 'request' && l.reqId === 'test-abc-123');
  t.match(line, { method: 'GET', path: '/health/live', statusCode: 200 }, 'the X-Request-Id is the reqId of its log line');
  t.ok(lines.some((l) => l.msg === 'request' && l.reqId === 'test-abc-456' && l.statusCode === 200));
  t.ok(
    lines.some((l) => l.msg === 'request rejected' && typeof l.reqId === 'string'),
    'debug level: rejections are logged, with their request id',
  );
  await checkNoSecrets(t, session, stdout + stderr);
  t.notMatch(stdout + stderr, /"(authorization|cookie)"\s*:\s*"(?!\[REDACTED\])/i, 'no header value is logged');
});

t.test('LOG_LEVEL=trace: still JSON lines with request ids, still no credential', async (t) => {
  const adminPassword = `Trace-Admin-${randomBytes(6).toString('hex')}`;
  const session = await start(t, {
    DCR_ADMIN_PASSWORD: adminPassword,
    LOG_LEVEL: 'trace',
    DCR_SECRET_KEY: SECRET_KEY.toString('base64'),
  });
  await fullFlow(t, session, adminPassword, 'bob');
  await stopGracefully(t, session.server);

  const stdout = session.server.stdout();
  const lines = parseStdout(t, stdout);
  checkLines(t, session, lines);
  await checkNoSecrets(t, session, stdout + session.server.stderr());
});
