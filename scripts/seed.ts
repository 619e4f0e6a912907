/**
 * `npm run bench:seed -- [N] [--count N] [--batch B] [--owner USER] [--prefix P] [--json]`
 *
 * Seeds N applications (default 1,000,000) into the database the server uses (DATABASE_URL, else
 * the embedded cluster in DCR_DATA_DIR, attached if a server runs there), for scale benchmarks.
 *
 * Rows are real: each has its own client id and secret, the secret sealed with the
 * server's secret key (DCR_SECRET_KEY or DCR_DATA_DIR/secret.key) and bound to its client id
 * exactly as src/repositories/applications.ts does, so the server reads, authenticates and
 * returns them like any registered app. Half are JWT apps, half opaque ones; all allow
 * client_credentials and are owned by USER (default: the super admin, DCR_ADMIN_USER).
 * Their ids and client ids are wholly random (randomWso2Token, gen_random_uuid), as apps registered
 * before the server made them time-ordered were: the harder case for the index pages that new
 * registrations touch.
 *
 * Bulk path: batches of B (default 10,000) rows in one `INSERT ... SELECT ... FROM unnest(...)
 * WITH ORDINALITY` each; Node only makes the random parts and encrypts the secrets (pipelined with
 * the previous batch's insert), Postgres makes ids, names and the rest. synchronous_commit is off
 * for this session only (each batch is durable at the next WAL flush, a fraction of a second
 * later; a crash mid-seed loses at most the last batches, never corrupts). Progress on stderr.
 * The last stdout line with --json: {"count","seconds","rowsPerSecond","databaseBytes","applicationsBytes"}.
 */
import { loadConfig } from '../src/config/config.js';
import { SecretBox } from '../src/crypto/secret-box.js';
import { randomPassword, randomWso2Token } from '../src/crypto/random.js';
import { migrate } from '../src/db/migrate.js';
import { createServices } from '../src/runtime/composition.js';
import { openForTool } from '../src/runtime/resources.js';

interface SeedArgs {
  count: number;
  batch: number;
  owner: string | undefined;
  prefix: string;
  json: boolean;
}

function parseArgs(argv: string[]): SeedArgs {
  const args: SeedArgs = { count: 1_000_000, batch: 10_000, owner: undefined, prefix: `seed-${Date.now().toString(36)}-`, json: false };
  const positiveInt = (name: string, text: string | undefined) => {
    const value = Number((text ?? '').replace(/_/g, ''));
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') args.json = true;
    else if (arg === '--count') args.count = positiveInt('--count', argv[++i]);
    else if (arg === '--batch') args.batch = positiveInt('--batch', argv[++i]);
    else if (arg === '--owner') args.owner = argv[++i];
    else if (arg === '--prefix') args.prefix = argv[++i] ?? args.prefix;
    else if (/^\d[\d_]*$/.test(arg)) args.count = positiveInt('N', arg);
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!/^[a-zA-Z0-9._-]*$/.test(args.prefix)) throw new Error('--prefix may hold only letters, digits, ".", "_" and "-"');
  return args;
}

interface Batch {
  clientIds: string[];
  sealed: string[];
}

function makeBatch(size: number, secrets: SecretBox): Batch {
  const clientIds: string[] = new Array(size);
  const sealed: string[] = new Array(size);
  for (let i = 0; i < size; i++) {
    const clientId = randomWso2Token();
    clientIds[i] = clientId;
    // The client id is the additional authenticated data, as in PgApplicationRepository.
    sealed[i] = secrets.seal(randomWso2Token(), clientId);
  }
  return { clientIds, sealed };
}

// The owner must be a user (its id is the app's owner_id, migration 006): the super admin by default.
const INSERT = `INSERT INTO applications (id, client_id, client_secret_enc, client_name, owner, grant_types, callback_url,
    saas_app, token_type, user_store_domain_in_subject, owner_id)
  SELECT gen_random_uuid(), c.client_id, c.sealed, $3 || ($4::bigint + c.ord), $5,
         ARRAY['client_credentials', 'password', 'refresh_token'], NULL, false,
         CASE WHEN ($4::bigint + c.ord) % 2 = 0 THEN 'JWT' ELSE 'DEFAULT' END, false,
         (SELECT id FROM users WHERE username = $5)
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c(client_id, sealed, ord)`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const config = loadConfig(process.env);
  const owner = args.owner ?? config.adminUser;
  const log = (message: string) => process.stderr.write(`[seed] ${message}\n`);
  const opened = await openForTool(config, { needSecretKey: true, log, applicationName: 'wso2-dcr-seed' });
  try {
    await migrate(opened.db);
    const secrets = opened.secrets!;
    // A fresh data folder has no users yet, and every app needs its owner's row: the super admin is
    // made as the server's first start makes it (DCR_ADMIN_PASSWORD, else a generated password,
    // not shown: set DCR_ADMIN_PASSWORD, or change it with `dcr users passwd`).
    if (owner === config.adminUser) {
      await createServices(config, { db: opened.db, secrets }).users.bootstrapAdmin(config.adminPassword, randomPassword);
    }
    const client = await opened.db.connect();
    const tty = process.stderr.isTTY === true;
    const started = process.hrtime.bigint();
    let done = 0;
    let lastShown = 0;
    const progress = (final = false) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const percent = Math.floor((done / args.count) * 100);
      const line = `seeded ${done.toLocaleString('en')} / ${args.count.toLocaleString('en')} apps (${percent}%), ${Math.round(done / Math.max(seconds, 1e-3)).toLocaleString('en')} rows/s`;
      if (tty) process.stderr.write(`\r[seed] ${line}${final ? '\n' : ''}`);
      else if ((final && lastShown < 100) || percent >= lastShown + 10) {
        lastShown = percent - (percent % 10);
        log(line);
      }
    };
    try {
      // This session only: batches need not wait for their WAL flush (see the header comment).
      await client.query('SET synchronous_commit = off');
      // Statements of a large batch may outlast the server's per-statement bound.
      await client.query('SET statement_timeout = 0');
      let next = makeBatch(Math.min(args.batch, args.count), secrets);
      while (done < args.count) {
        const current = next;
        const size = current.clientIds.length;
        const insert = client.query(INSERT, [current.clientIds, current.sealed, args.prefix, done, owner]);
        // Make the next batch while Postgres inserts this one.
        const remaining = args.count - done - size;
        next = remaining > 0 ? makeBatch(Math.min(args.batch, remaining), secrets) : { clientIds: [], sealed: [] };
        await insert;
        done += size;
        progress();
      }
      progress(true);
      // A database this size has been vacuumed by autovacuum long since: visibility map set, hint
      // bits written. Left to autovacuum, that vacuum may run (or restart) while the benchmark
      // measures. Half a second when autovacuum got through most of it during the seeding.
      await client.query('VACUUM (ANALYZE) applications');
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const { rows } = await client.query<{ db: string; apps: string; total: string }>(
        `SELECT pg_database_size(current_database()) AS db, pg_total_relation_size('applications') AS apps,
                (SELECT count(*) FROM applications) AS total`,
      );
      const result = {
        count: args.count,
        prefix: args.prefix,
        owner,
        seconds: Math.round(seconds * 10) / 10,
        rowsPerSecond: Math.round(args.count / seconds),
        applicationsTotal: Number(rows[0]!.total),
        databaseBytes: Number(rows[0]!.db),
        applicationsBytes: Number(rows[0]!.apps),
      };
      const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
      process.stdout.write(
        `seeded ${result.count.toLocaleString('en')} apps in ${result.seconds} s (${result.rowsPerSecond.toLocaleString('en')} rows/s); ` +
          `applications now ${result.applicationsTotal.toLocaleString('en')} rows, ${mb(result.applicationsBytes)} with indexes; database ${mb(result.databaseBytes)}\n`,
      );
      if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    } finally {
      client.release();
    }
  } finally {
    await opened.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`seed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
