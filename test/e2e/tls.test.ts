/**
 * HTTPS: the real server process with TLS_CERT_FILE/TLS_KEY_FILE (a throw-away self-signed
 * certificate made with the openssl CLI) answers WSO2's documented register call made with curl
 * over https, exactly as WSO2's docs and the README show it; plain HTTP on that port gets
 * nothing; the issuer and the documentation's server URL are https. Plus the TLS settings of
 * loadConfig (9443 by default, both files or neither) and loadTls's errors.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/config-error.js';
import { StartupError } from '../../src/runtime/runtime.js';
import { loadTls } from '../../src/runtime/server-options.js';
import { PROJECT_ROOT, WSO2_DOC_BODY, freePort, freshDataDir, startServer, stopGracefully } from '../fixtures/server-process.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const REGISTER = '/client-registration/v0.17/register';

const has = (command: string) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
const OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
const CURL = has('curl');

/** The README's TLS call, verbatim (WSO2's documented call with WSO2's default admin:admin). */
const README_CALL =
  'curl -k -X POST -H "Authorization: Basic YWRtaW46YWRtaW4=" -H "Content-Type: application/json" -d @payload.json https://localhost:9443/client-registration/v0.17/register';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request that trusts exactly the test's certificate (so the server must present it). */
function httpsRequest(
  url: string,
  ca: Buffer,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: options.method ?? 'GET', headers: options.headers, ca, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

t.test('loadConfig: TLS files set and no PORT → 9443 and an https issuer; one file only → ConfigError naming both', async (t) => {
  const config = loadConfig({ TLS_CERT_FILE: 'tls/cert.pem', TLS_KEY_FILE: '/etc/dcr/key.pem' }, '/srv/dcr');
  t.equal(config.port, 9443, "WSO2's HTTPS port");
  t.strictSame(config.tls, { certFile: '/srv/dcr/tls/cert.pem', keyFile: '/etc/dcr/key.pem' }, 'paths resolve against the cwd');
  t.equal(config.issuer, 'https://127.0.0.1:9443/oauth2/token');
  t.equal(loadConfig({ TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem', PORT: '8443' }).port, 8443, 'an explicit PORT wins');
  t.equal(loadConfig({}).port, 9763, 'without TLS: 9763');
  t.equal(loadConfig({}).tls, undefined);
  t.equal(loadConfig({ TLS_CERT_FILE: '', TLS_KEY_FILE: '' }).tls, undefined, 'empty values count as unset');

  for (const env of [{ TLS_CERT_FILE: 'cert.pem' }, { TLS_KEY_FILE: 'key.pem' }, { TLS_CERT_FILE: 'cert.pem', TLS_KEY_FILE: '' }]) {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    t.type(error, ConfigError, `${JSON.stringify(env)} is refused`);
    t.match((error as Error).message, /TLS_CERT_FILE/);
    t.match((error as Error).message, /TLS_KEY_FILE/);
  }
});

t.test('loadTls: no TLS → undefined; an unreadable file → StartupError naming its variable', async (t) => {
  t.equal(await loadTls({ tls: undefined }), undefined);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-tls-unit-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(path.join(dir, 'cert.pem'), 'CERT');
  await fs.writeFile(path.join(dir, 'key.pem'), 'KEY');
  const pair = await loadTls({ tls: { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') } });
  t.equal(pair?.cert.toString(), 'CERT');
  t.equal(pair?.key.toString(), 'KEY');
  await t.rejects(loadTls({ tls: { certFile: path.join(dir, 'missing.pem'), keyFile: path.join(dir, 'key.pem') } }), StartupError);
  await t.rejects(loadTls({ tls: { certFile: path.join(dir, 'missing.pem'), keyFile: path.join(dir, 'key.pem') } }), /TLS_CERT_FILE: cannot read .*missing\.pem \(ENOENT\)/);
  await t.rejects(loadTls({ tls: { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'nope.pem') } }), /TLS_KEY_FILE: cannot read/);
});

if (!OPENSSL && process.env.CI) {
  t.fail('the openssl CLI is required in CI to test HTTPS (install openssl)');
}

t.test(
  "HTTPS with TLS_CERT_FILE/TLS_KEY_FILE: WSO2's documented curl call over https, no plain HTTP, https issuer",
  { skip: OPENSSL ? false : 'the openssl CLI is not installed: cannot make a certificate (set CI to make this a failure)' },
  async (t) => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-tls-'));
    t.teardown(() => fs.rm(tmp, { recursive: true, force: true }));
    const certFile = path.join(tmp, 'cert.pem');
    const keyFile = path.join(tmp, 'key.pem');
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    const ca = readFileSync(certFile);

    const port = await freePort();
    const server = startServer(t, {
      PORT: String(port),
      HOST: '127.0.0.1',
      DCR_DATA_DIR: await freshDataDir(t),
      // WSO2's default credentials, so that its documented call works verbatim.
      DCR_ADMIN_PASSWORD: 'admin',
      LOG_LEVEL: 'warn',
      TLS_CERT_FILE: certFile,
      TLS_KEY_FILE: keyFile,
    });
    const base = `https://127.0.0.1:${port}`;
    const deadline = Date.now() + 45_000;
    for (;;) {
      if (!server.isRunning()) throw new Error(`the server exited before it was ready:\n${server.stderr()}`);
      const ready = await httpsRequest(`${base}/health/ready`, ca).catch(() => undefined);
      if (ready?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`not ready over https within 45 s:\n${server.stderr()}`);
      await sleep(150);
    }
    t.pass('ready over https, with the generated certificate (verified, not -k)');

    // WSO2's documented call: curl -k -u admin:<pw> -H "Content-Type: application/json" -X POST -d '<body>' https://localhost:<port>/…
    let first: { status: number; body: Record<string, unknown> };
    if (CURL) {
      const { stdout } = await run('curl', [
        '-k', '-s', '-w', '\n%{http_code}', '-u', 'admin:admin', '-H', 'Content-Type: application/json', '-X', 'POST',
        '-d', JSON.stringify(WSO2_DOC_BODY), `https://localhost:${port}${REGISTER}`,
      ]);
      const status = Number(stdout.slice(stdout.lastIndexOf('\n') + 1));
      first = { status, body: JSON.parse(stdout.slice(0, stdout.lastIndexOf('\n'))) as Record<string, unknown> };
    } else {
      t.comment('curl is not installed: the same call with node https (rejectUnauthorized: false)');
      const res = await new Promise<Answer>((resolve, reject) => {
        const req = https.request(
          `https://localhost:${port}${REGISTER}`,
          {
            method: 'POST',
            rejectUnauthorized: false,
            headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`, 'content-type': 'application/json' },
          },
          (r) => {
            let body = '';
            r.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(WSO2_DOC_BODY));
      });
      first = { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
    }
    t.equal(first.status, 200, JSON.stringify(first.body));
    t.match(first.body, {
      clientName: 'rest_api_publisher',
      callBackURL: 'www.google.lk',
      appOwner: 'admin',
      isSaasApplication: true,
      clientId: /^[A-Za-z0-9_-]{22,}$/,
      clientSecret: /^[A-Za-z0-9_-]{22,}$/,
    });

    // The README's command, verbatim but for the port, with the README's payload.json.
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    t.ok(readme.includes(README_CALL), 'the README shows the TLS call verbatim');
    const payload = /cat > payload\.json <<'EOF'\n([\s\S]*?)\n\s*EOF/.exec(readme)?.[1]?.trim();
    t.ok(payload, "the README shows payload.json's content");
    if (CURL && payload) {
      t.strictSame(JSON.parse(payload), WSO2_DOC_BODY, "payload.json is WSO2's documented body");
      await fs.writeFile(path.join(tmp, 'payload.json'), payload);
      const command = `${README_CALL.replace(':9443/', `:${port}/`)} -s -w '\\n%{http_code}'`;
      const { stdout } = await run('sh', ['-c', command], { cwd: tmp });
      const status = Number(stdout.slice(stdout.lastIndexOf('\n') + 1));
      const body = JSON.parse(stdout.slice(0, stdout.lastIndexOf('\n'))) as Record<string, unknown>;
      t.equal(status, 200, `the README's command answers 200: ${JSON.stringify(body)}`);
      t.equal(body.clientId, first.body.clientId, 'the same app again: the same clientId');
      t.equal(body.clientSecret, first.body.clientSecret, 'and the same clientSecret');
    }

    // Plain HTTP on the HTTPS port: no HTTP answer.
    const plain = await fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(5_000) }).then(
      async (res) => ({ status: res.status, body: await res.text() }),
      (err: Error) => err,
    );
    if (plain instanceof Error) t.pass(`plain HTTP fails (${plain.message})`);
    else t.fail(`plain HTTP got an answer: ${plain.status} ${plain.body.slice(0, 100)}`);

    const metadata = await httpsRequest(`${base}/.well-known/oauth-authorization-server`, ca);
    t.equal(metadata.status, 200);
    const doc = JSON.parse(metadata.body) as { issuer: string; token_endpoint: string };
    t.match(doc.issuer, /^https:\/\//, `the issuer is https (${doc.issuer})`);
    t.equal(doc.issuer, `https://127.0.0.1:${port}/oauth2/token`);
    t.equal(doc.token_endpoint, `https://127.0.0.1:${port}/oauth2/token`);

    const live = await httpsRequest(`${base}/health/live`, ca);
    t.match(live.headers['strict-transport-security'], /max-age=\d+/, 'HSTS over https');

    const docs = await httpsRequest(`https://localhost:${port}/docs/json`, ca);
    t.equal(docs.status, 200);
    t.equal((JSON.parse(docs.body) as { servers: { url: string }[] }).servers[0]!.url, base, "the documentation's server is the public URL, https too");

    await stopGracefully(t, server);
  },
);
