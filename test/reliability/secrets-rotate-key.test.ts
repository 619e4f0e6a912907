/**
 * `dcr secrets rotate-key` on the embedded default, while the server runs on the data folder:
 * a new DCR_DATA_DIR/secret.key, the old one kept in secret.key.previous (owner-only), every
 * secret re-encrypted under the new key; the running server keeps authenticating every client
 * (it re-reads the key files when it meets the new key, and seals new apps with it), a restart
 * loads both files, and once everything is re-encrypted the old key is no longer needed.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { attachRunningCluster } from '../../src/embedded/attach.js';
import { runCli } from '../fixtures/dcr-process.js';
import { E2E_ADMIN, basicAuth, freshDataDir, startReady, waitExit, type ServerProcess } from '../fixtures/server-process.js';

interface Client {
  clientId: string;
  clientSecret: string;
}

async function token(server: ServerProcess, client: Client) {
  const res = await fetch(`${server.baseUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.clientId, client.clientSecret) },
    body: 'grant_type=client_credentials',
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function register(server: ServerProcess, clientName: string, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${server.baseUrl}/client-registration/v0.17/register`, {
    method: 'POST',
    headers: { authorization: E2E_ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ clientName, owner: 'admin', grantType: 'client_credentials', ...extra }),
  });
  return { status: res.status, body: (await res.json()) as Client & Record<string, unknown> };
}

const keyOf = (file: string) => Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');

t.test('dcr secrets rotate-key while the embedded server runs', async (t) => {
  const dataDir = await freshDataDir(t);
  const keyFile = path.join(dataDir, 'secret.key');
  let server = await startReady(t, dataDir);
  const oldKey = keyOf(keyFile);

  const apps: Record<string, Client> = {};
  for (const [name, extra] of [
    ['emb_a', {}],
    ['emb_b', {}],
    ['emb_jwt', { tokenType: 'JWT' }],
  ] as const) {
    const res = await register(server, name, extra);
    t.equal(res.status, 200, `${name} registered`);
    apps[name] = res.body;
  }

  const rotated = await runCli(['secrets', 'rotate-key'], { DCR_DATA_DIR: dataDir });
  t.equal(rotated.code, 0, `rotate-key: exit 0\n${rotated.stderr}`);
  const newKey = keyOf(keyFile);
  const newKid = SecretBox.keyId(newKey);
  t.not(newKid, SecretBox.keyId(oldKey), 'secret.key holds a new key');
  t.equal(rotated.stdout, `re-encrypted 3 client secrets and 1 signing key under key ${newKid}\n`, rotated.stdout);
  t.match(rotated.stderr, /using the database of the server running on/, 'it used the running server’s cluster');
  const previous = await fs.readFile(`${keyFile}.previous`, 'utf8');
  t.equal(previous, `${oldKey.toString('base64')}\n`, 'secret.key.previous holds the old key');
  for (const file of [keyFile, `${keyFile}.previous`]) {
    t.equal((await fs.stat(file)).mode & 0o777, 0o600, `${path.basename(file)} is owner-only`);
  }
  t.same((await fs.readdir(dataDir)).filter((name) => name.endsWith('.tmp')), [], 'no temporary file left');

  // The running server, which loaded only the old key, keeps authenticating every client.
  for (const [name, client] of Object.entries(apps)) {
    t.equal((await token(server, client)).status, 200, `${name}: client authentication on the running server`);
  }
  const fresh = await register(server, 'emb_after');
  t.equal(fresh.status, 200);
  apps.emb_after = fresh.body;

  // Every envelope now names the new key, the app registered after the rotation included.
  const holder = Number((await fs.readFile(path.join(dataDir, 'dcr.pid'), 'utf8')).trim());
  const client = new pg.Client({ connectionString: await attachRunningCluster(dataDir, holder) });
  await client.connect();
  const { rows } = await client.query<{ kid: string; n: string }>(
    `SELECT split_part(client_secret_enc, '.', 2) AS kid, count(*)::text AS n FROM applications GROUP BY 1
     UNION ALL SELECT split_part(private_jwk_enc, '.', 2), count(*)::text FROM signing_keys GROUP BY 1`,
  );
  await client.end();
  t.same([...new Set(rows.map((row) => row.kid))], [newKid], `every envelope names the new key (${JSON.stringify(rows)})`);

  // A restart loads secret.key and secret.key.previous; without .previous it needs only the new key.
  const restart = async () => {
    server.child.kill('SIGTERM');
    t.equal((await waitExit(server, 20_000)).code, 0, 'stopped');
    server = await startReady(t, dataDir);
  };
  await restart();
  await fs.rm(`${keyFile}.previous`);
  await restart();
  for (const [name, client] of Object.entries(apps)) {
    const res = await token(server, client);
    t.equal(res.status, 200, `${name}: authenticates after a restart with only the new key`);
  }
  const again = await register(server, 'emb_a');
  t.equal(again.body.clientSecret, apps.emb_a!.clientSecret, 'a repeated registration answers the same secret');
});
