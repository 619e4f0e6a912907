/**
 * `node --import tsx scripts/bench/seed-tenants.ts N CLIENTS_FILE` (DCR_DATA_DIR, DCR_ADMIN_PASSWORD
 * set by the benchmark's --tenants mode, scripts/bench/servers.ts seedTenants): seeds N tenants
 * (ids 1..N, domains t<i>.bench) into the database the server uses, each with
 * - an admin user DCR_ADMIN_USER (`admin`; password DCR_ADMIN_PASSWORD; one scrypt hash at a cheap cost
 *   (see run()), the same for all: a hash carries its own salt, and no request compares two tenants' hashes);
 * - one JWT app (client_credentials, owned by that admin) with its own client id and secret, the
 *   secret sealed with the server's secret key and bound to its client id, as
 *   src/repositories/applications.ts seals it;
 * - one active RS256 signing key. RSA-2048 key generation costs 0.1-0.2 s, so ONE pair is made and
 *   stored per tenant under a distinct kid (`<thumbprint>-t<i>`), its private half sealed for that
 *   kid as src/services/signing-keys.ts seals it: the server imports, signs and verifies with each
 *   tenant's key on its own, and its cost per request does not depend on the key material.
 * The super tenant gets the same shape: its admin is the bench admin (bootstrapped as the
 * server's first start does), its app and key like the others (kid `<thumbprint>-t-1234`).
 *
 * Set-based statements (generate_series, unnest), as the cluster's superuser (the owner role:
 * row security does not apply to it), synchronous_commit off for this session, then ANALYZE.
 * CLIENTS_FILE receives the tenants' client ids and secrets (JSON: [{ tenant, domain, clientId,
 * clientSecret }], the super tenant first); stdout's last line is the JSON summary.
 */
import fs from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { loadConfig } from '../../src/config/config.js';
import { RSA_MODULUS_BITS } from '../../src/crypto/jws.js';
import { PasswordHasher } from '../../src/crypto/passwords.js';
import { randomWso2Token } from '../../src/crypto/random.js';
import { migrate } from '../../src/db/migrate.js';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { createServices } from '../../src/runtime/composition.js';
import { openForTool } from '../../src/runtime/resources.js';

export const tenantDomain = (id: number) => `t${id}.bench`;

async function main(): Promise<void> {
  const n = Number(process.argv[2]);
  const clientsFile = process.argv[3];
  if (!Number.isInteger(n) || n <= 0 || !clientsFile) throw new Error('usage: seed-tenants.ts N CLIENTS_FILE');
  const config = loadConfig(process.env);
  if (config.adminPassword === undefined) throw new Error('DCR_ADMIN_PASSWORD must be set');
  const log = (message: string) => process.stderr.write(`[seed-tenants] ${message}\n`);
  const opened = await openForTool(config, { needSecretKey: true, log, applicationName: 'wso2-dcr-seed-tenants' });
  try {
    await migrate(opened.db);
    const secrets = opened.secrets!;
    await createServices(config, { db: opened.db, secrets }).users.bootstrapAdmin(config.adminPassword, undefined);
    const started = process.hrtime.bigint();

    // One hash, one key pair (see the header). The tenants' admins' hash is a cheap one (scrypt
    // ln=10, ~3 ms against ~100 ms): a server verifies a password with the parameters stored with
    // it, and the rounds never verify one (every admin's credential is remembered after the sweep's
    // first sign-in, DCR_AUTH_CACHE_TTL), so the cost only shortens the sweep of 10,000 first
    // sign-ins from about 15 minutes to seconds. The super tenant's admin keeps the production cost.
    const passwordHash = await new PasswordHasher({ ln: 10, r: 8, p: 1 }).hash(config.adminPassword);
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: RSA_MODULUS_BITS });
    const publicJwk = await exportJWK(publicKey);
    const thumbprint = await calculateJwkThumbprint(publicJwk);
    const privateJson = JSON.stringify(await exportJWK(privateKey));

    // Index 0 is the super tenant, then 1..n.
    const ids = [SUPER_TENANT.id, ...Array.from({ length: n }, (_, i) => i + 1)];
    const clientIds: string[] = [];
    const clientSecrets: string[] = [];
    const sealedSecrets: string[] = [];
    const kids: string[] = [];
    const publicJwks: string[] = [];
    const sealedKeys: string[] = [];
    for (const id of ids) {
      const clientId = randomWso2Token();
      const clientSecret = randomWso2Token();
      clientIds.push(clientId);
      clientSecrets.push(clientSecret);
      sealedSecrets.push(secrets.seal(clientSecret, clientId));
      const kid = `${thumbprint}-t${id}`;
      kids.push(kid);
      publicJwks.push(JSON.stringify({ ...publicJwk, kid, alg: 'RS256', use: 'sig' }));
      sealedKeys.push(secrets.seal(privateJson, `signing-key:${kid}`));
    }
    const prepared = Number(process.hrtime.bigint() - started) / 1e9;

    const client = await opened.db.connect();
    try {
      await client.query('SET synchronous_commit = off');
      await client.query('SET statement_timeout = 0');
      await client.query('BEGIN');
      await client.query(`INSERT INTO tenants (id, domain) SELECT i, 't' || i || '.bench' FROM generate_series(1, $1::int) AS i`, [n]);
      await client.query(`SELECT setval('tenants_id_seq', $1::int)`, [n]);
      await client.query(
        `INSERT INTO users (id, tenant_id, username, password_hash)
         SELECT gen_random_uuid(), i, $3, $2 FROM generate_series(1, $1::int) AS i`,
        [n, passwordHash, config.adminUser],
      );
      await client.query(
        `INSERT INTO applications (id, tenant_id, client_id, client_secret_enc, client_name, owner, owner_id, grant_types,
           callback_url, saas_app, token_type, user_store_domain_in_subject)
         SELECT gen_random_uuid(), c.tenant_id, c.client_id, c.sealed, 'bench_tenant_jwt', u.username, u.id,
                ARRAY['client_credentials'], NULL, true, 'JWT', false
         FROM unnest($1::int[], $2::text[], $3::text[]) AS c(tenant_id, client_id, sealed)
         JOIN users u ON u.tenant_id = c.tenant_id AND u.username = $4`,
        [ids, clientIds, sealedSecrets, config.adminUser],
      );
      await client.query(
        `INSERT INTO signing_keys (kid, tenant_id, alg, public_jwk, private_jwk_enc)
         SELECT k.kid, k.tenant_id, 'RS256', k.jwk::jsonb, k.sealed
         FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) AS k(tenant_id, kid, jwk, sealed)`,
        [ids, kids, publicJwks, sealedKeys],
      );
      await client.query('COMMIT');
      await client.query('ANALYZE tenants, users, applications, signing_keys');
      const { rows } = await client.query<{ db: string; tenants: string; apps: string; keys: string }>(
        `SELECT pg_database_size(current_database()) AS db, (SELECT count(*) FROM tenants) AS tenants,
                (SELECT count(*) FROM applications) AS apps, (SELECT count(*) FROM signing_keys WHERE retired_at IS NULL) AS keys`,
      );
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      await fs.writeFile(
        clientsFile,
        JSON.stringify(ids.map((id, i) => ({ tenant: id, domain: id === SUPER_TENANT.id ? SUPER_TENANT.domain : tenantDomain(id), clientId: clientIds[i], clientSecret: clientSecrets[i] }))),
      );
      const result = {
        tenants: n,
        seconds: Math.round(seconds * 10) / 10,
        preparedSeconds: Math.round(prepared * 10) / 10,
        tenantsTotal: Number(rows[0]!.tenants),
        applicationsTotal: Number(rows[0]!.apps),
        activeKeys: Number(rows[0]!.keys),
        databaseBytes: Number(rows[0]!.db),
      };
      process.stdout.write(`seeded ${n.toLocaleString('en')} tenants in ${result.seconds} s (${result.preparedSeconds} s of it hashing, sealing, key generation)\n`);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  } finally {
    await opened.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`seed-tenants: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
