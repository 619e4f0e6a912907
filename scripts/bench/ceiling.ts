/**
 * The `ceiling` target of scripts/bench.ts: the floor cost of a durable registration on this
 * machine. A bare Fastify app in one node process (the server's process model) that validates the
 * request body against the same DCR schema (read from spec/wso2-dcr-api.yaml, same AJV options as
 * src/app.ts) and does one INSERT into the server's `applications` table (its migrations), through
 * a pg pool of the server's default size (10), on the same embedded PostgreSQL binary (src/embedded/postgres-package.ts).
 * No authentication, no encryption, no logging, no metrics: what is left is parsing, validation,
 * one durable write and the reply.
 *
 * Environment: PORT and CEILING_DATA_DIR (required; a fresh folder), DCR_DB_POOL_SIZE (default 10).
 * Prints `ready <port>` on stdout once listening; SIGTERM stops Fastify, the pool and Postgres.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Database } from '../../src/db/database.js';
import { startEmbeddedPostgres } from '../../src/embedded/cluster.js';
import { migrate } from '../../src/db/migrate.js';
import { loadSpec } from '../../src/http/spec.js';

const port = Number(process.env.PORT);
const dataDir = process.env.CEILING_DATA_DIR;
if (!Number.isInteger(port) || port <= 0 || !dataDir) throw new Error('PORT and CEILING_DATA_DIR are required');
const poolSize = Number(process.env.DCR_DB_POOL_SIZE ?? 10);

const spec = loadSpec('wso2-dcr-api.yaml');
const schemas = (spec.components as { schemas: Record<string, unknown> }).schemas;
/** The DCR schema with its references to the document's components inlined (glue does the same for the server). */
function inline(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(inline);
  if (value === null || typeof value !== 'object') return value;
  const ref = (value as { $ref?: string }).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) return inline(schemas[ref.slice('#/components/schemas/'.length)]);
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, inline(inner)]));
}
const dcrSchema = inline(schemas.DCR);

const embedded = await startEmbeddedPostgres({ dataDir, log: (m) => process.stderr.write(`[ceiling] ${m}\n`) });
const db = new Database({ connectionString: embedded.connectionString, poolSize, timeoutMs: 5_000 });
const pool = db.pool;
// The server's own migrations: the applications table is the server's, columns, constraints and
// indexes included (and migration 003's analyse settings).
await migrate(db);
// Every app references its owner's row (migration 006). The server under test knows its caller's id
// when the caller registers for itself, as the benchmark does; so does this one, for one owner.
const OWNER_ID = randomUUID();
await pool.query("INSERT INTO users (id, username, password_hash) VALUES ($1, 'admin', 'unusable')", [OWNER_ID]);

const app = Fastify({
  logger: false,
  ajv: { customOptions: { coerceTypes: true, removeAdditional: false, useDefaults: true, allErrors: true, keywords: ['example', 'x-read-as'] } },
});

interface Body {
  clientName: string;
  owner: string;
  grantType?: string;
  callbackUrl?: string | null;
  saasApp?: boolean;
  tokenType?: string | null;
}

app.post<{ Body: Body }>('/client-registration/v0.17/register', { schema: { body: dcrSchema as object } }, async (request, reply) => {
  const body = request.body;
  const id = randomUUID();
  const clientId = randomBytes(21).toString('base64url');
  const clientSecret = randomBytes(21).toString('base64url');
  await pool.query(
    `INSERT INTO applications (id, client_id, client_secret_enc, client_name, owner, grant_types, callback_url, saas_app, token_type, owner_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [id, clientId, clientSecret, body.clientName, body.owner, (body.grantType ?? '').split(' '), body.callbackUrl ?? null, body.saasApp ?? false, body.tokenType ?? 'DEFAULT', OWNER_ID],
  );
  reply.header('cache-control', 'no-store');
  return { clientId, clientName: body.clientName, clientSecret, appOwner: body.owner, applicationUUID: id };
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await app.close().catch(() => {});
  await pool.end().catch(() => {});
  await embedded.stop().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await app.listen({ port, host: '127.0.0.1' });
process.stdout.write(`ready ${port}\n`);
