/**
 * What the `dcr` commands do (src/cli.ts declares them). Loaded only when a command runs, so that
 * `dcr --help` stays quick.
 */
import { loadConfig, type Config } from '../config/config.js';
import type { AppServices } from '../app.js';
import { SecretBox } from '../crypto/secret-box.js';
import type { Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { SUPER_TENANT, type TenantView } from '../domain/tenants.js';
import type { Application, Caller } from '../domain/types.js';
import { createServices, createTokenPurger } from '../runtime/composition.js';
import { openForTool } from '../runtime/resources.js';
import { CliError } from './errors.js';
import { readSecret } from './input.js';

const out = (text: string) => process.stdout.write(`${text}\n`);
const note = (text: string) => process.stderr.write(`[dcr] ${text}\n`);
const json = (value: unknown) => out(JSON.stringify(value, null, 2));

/** Plain columns, left-aligned, for terminals. */
function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A user's new password (src/cli/input.ts: stdin or a no-echo prompt asked twice, never an argument). */
function readPassword(fromStdin: boolean | undefined, userName: string): Promise<string> {
  return readSecret({ fromStdin, prompt: `Password for '${userName}'`, confirm: true });
}

// ---------------------------------------------------------------------------------------------
// The database, opened for one command (src/runtime/resources.ts: DATABASE_URL, the running server's
// cluster, or the embedded cluster started for the command), and the services over it
// (src/runtime/composition.ts, as the server builds them).

interface ToolContext {
  config: Config;
  db: Database;
  /** Only when the command asked for the secret key: the current key, and the previous ones to open older envelopes. */
  secrets: SecretBox | undefined;
  /** DCR_DATA_DIR/secret.key when the key comes from that file (the embedded default without DCR_SECRET_KEY). */
  keyFile: string | undefined;
  /** The server's services over this database; only for a command that asked for the secret key. */
  services: AppServices | undefined;
}

async function withDatabase<T>(
  options: { needSecretKey: boolean; migrate?: boolean },
  work: (context: ToolContext) => Promise<T>,
): Promise<T> {
  const config = loadConfig(process.env);
  const opened = await openForTool(config, { needSecretKey: options.needSecretKey, log: note, applicationName: 'dcr-cli' });
  // An interrupted command still stops the cluster it started (and releases the data folder).
  const interrupted = () => {
    void opened.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    if (options.migrate !== false) {
      // As the server does at start-up: a fresh data folder works without `dcr migrate` first.
      const ran = await migrate(opened.db);
      if (ran.length > 0) note(`applied migrations: ${ran.join(', ')}`);
    }
    const { db, secrets, keyFile } = opened;
    return await work({ config, db, secrets, keyFile, services: secrets && createServices(config, { db, secrets }) });
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    await opened.close();
  }
}

const userService = ({ services }: ToolContext) => services!.users;

const applications = ({ services }: ToolContext) => services!.registration;

/** Every row of a paged listing. */
async function all<T>(page: (offset: number, limit: number) => Promise<T[]>): Promise<T[]> {
  const rows: T[] = [];
  for (let offset = 0; ; ) {
    const next = await page(offset, 500);
    rows.push(...next);
    if (next.length < 500) return rows;
    offset += next.length;
  }
}

/** An application as shown: never its secret unless asked. */
function describeApp(app: Application, showSecret: boolean) {
  return {
    clientName: app.clientName,
    clientId: app.clientId,
    ...(showSecret ? { clientSecret: app.clientSecret } : {}),
    owner: app.owner,
    grantTypes: app.grantTypes,
    callbackUrl: app.callbackUrl,
    saasApp: app.saasApp,
    tokenType: app.tokenType,
    userStoreDomainInSubject: app.userStoreDomainInSubject,
    applicationUUID: app.id,
    created: app.createdAt.toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// The commands.

export async function migrateCommand(): Promise<void> {
  await withDatabase({ needSecretKey: false, migrate: false }, async ({ db }) => {
    const ran = await migrate(db, (message) => {
      const applying = /^### MIGRATION (\S+) \(UP\) ###$/.exec(message);
      if (applying) out(`applying ${applying[1]}`);
      else if (/^> - /.test(message)) out(`pending  ${message.slice(4)}`);
      else if (!/^(> Migrating files:|No migrations to run!)$/.test(message)) note(message);
    });
    out(ran.length > 0 ? `applied ${ran.length} migration${ran.length === 1 ? '' : 's'}` : 'the database is up to date');
  });
}

export async function userAdd(name: string, options: { passwordStdin?: boolean }): Promise<void> {
  const password = await readPassword(options.passwordStdin, name);
  await withDatabase({ needSecretKey: true }, async (context) => {
    const created = await userService(context).create(SUPER_TENANT, name, password);
    out(`created user '${created.username}' (id ${created.id})`);
  });
}

export async function userList(options: { json?: boolean }): Promise<void> {
  await withDatabase({ needSecretKey: true }, async (context) => {
    const users = userService(context);
    const rows = await all(async (offset, limit) => (await users.list(SUPER_TENANT, offset, limit)).users);
    const shown = rows.map((u) => ({
      userName: u.username,
      id: u.id,
      superAdmin: u.username === users.superAdmin,
      created: u.createdAt.toISOString(),
      lastModified: u.updatedAt.toISOString(),
    }));
    if (options.json) return json(shown);
    out(table(['NAME', 'ID', 'CREATED', ''], shown.map((u) => [u.userName, u.id, u.created, u.superAdmin ? 'super admin' : ''])));
  });
}

export async function userRemove(name: string): Promise<void> {
  await withDatabase({ needSecretKey: true }, async (context) => {
    const users = userService(context);
    const found = await users.findByUserName(SUPER_TENANT, name);
    if (!found) throw new CliError(`No user named '${name}'`);
    await users.delete(SUPER_TENANT, found.id);
    out(`removed user '${name}'`);
  });
}

export async function userPasswd(name: string, options: { passwordStdin?: boolean }): Promise<void> {
  const password = await readPassword(options.passwordStdin, name);
  await withDatabase({ needSecretKey: true }, async (context) => {
    const users = userService(context);
    await users.changePassword(SUPER_TENANT, name, password);
    out(`changed the password of '${name}'`);
    if (name === users.superAdmin && context.config.adminPassword !== undefined) {
      note('DCR_ADMIN_PASSWORD is set: the server resets this password to it at its next start');
    }
  });
}

export async function appList(options: { json?: boolean }): Promise<void> {
  await withDatabase({ needSecretKey: true }, async (context) => {
    const repo = applications(context);
    const apps = await all(async (offset, limit) => (await repo.list(SUPER_TENANT, offset, limit)).applications);
    if (options.json) return json(apps.map((a) => describeApp(a, false)));
    out(
      table(
        ['NAME', 'CLIENT ID', 'OWNER', 'GRANTS', 'TOKEN TYPE', 'CREATED'],
        apps.map((a) => [a.clientName, a.clientId, a.owner, a.grantTypes.join(' '), a.tokenType, a.createdAt.toISOString()]),
      ),
    );
  });
}

export async function appShow(clientName: string, options: { json?: boolean; showSecret?: boolean }): Promise<void> {
  await withDatabase({ needSecretKey: true }, async (context) => {
    const found = await applications(context).findByName(SUPER_TENANT, clientName);
    if (!found) throw new CliError(`No application named '${clientName}'`);
    const shown = describeApp(found, options.showSecret === true);
    if (options.json) return json(shown);
    const lines = Object.entries(shown).map(([key, value]) => [
      key,
      Array.isArray(value) ? value.join(' ') : value === null ? '' : String(value),
    ]);
    if (!options.showSecret) lines.splice(2, 0, ['clientSecret', '(hidden; --show-secret prints it)']);
    const width = Math.max(...lines.map(([key]) => key!.length));
    out(lines.map(([key, value]) => `${key!.padEnd(width)}  ${value}`.trimEnd()).join('\n'));
  });
}

// ---------------------------------------------------------------------------------------------
// Tenants (src/services/tenants.ts, as /api/server/v1/tenants manages them).

/**
 * Who runs a tenant command: the operator, who holds the database itself, with the super admin's
 * rights over tenants (the HTTP API asks DCR_ADMIN_USER's credentials for the same).
 */
const OPERATOR: Caller = { tenant: SUPER_TENANT, userId: '', username: 'dcr-cli', isSuperAdmin: true };

const tenantService = ({ services }: ToolContext) => services!.tenantRegistry;

function describeTenant(tenant: TenantView) {
  return {
    domain: tenant.domain,
    id: tenant.uuid,
    tenantId: tenant.id,
    active: tenant.active,
    owners: tenant.owners.map((owner) => owner.username),
    created: tenant.createdAt.toISOString(),
  };
}

export async function tenantAdd(domain: string, options: { owner: string; passwordStdin?: boolean }): Promise<void> {
  const password = await readPassword(options.passwordStdin, options.owner);
  await withDatabase({ needSecretKey: true }, async (context) => {
    const tenant = await tenantService(context).create(OPERATOR, { domain, owner: { username: options.owner, password } });
    out(`created tenant '${tenant.domain}' (tenantId ${tenant.id}, id ${tenant.uuid}); its admin signs in as '${options.owner}@${tenant.domain}'`);
  });
}

export async function tenantList(options: { json?: boolean }): Promise<void> {
  await withDatabase({ needSecretKey: true }, async (context) => {
    const service = tenantService(context);
    const tenants = await all(async (offset, limit) => (await service.list(OPERATOR, { offset, limit })).tenants);
    const shown = tenants.map(describeTenant);
    if (options.json) return json(shown);
    out(
      table(
        ['DOMAIN', 'TENANT ID', 'ID', 'STATUS', 'OWNER', 'CREATED'],
        shown.map((t) => [t.domain, String(t.tenantId), t.id, t.active ? 'active' : 'inactive', t.owners.join(' '), t.created]),
      ),
    );
  });
}

export async function tenantShow(domain: string, options: { json?: boolean }): Promise<void> {
  await withDatabase({ needSecretKey: true }, async (context) => {
    const shown = describeTenant(await tenantService(context).getByDomain(OPERATOR, domain));
    if (options.json) return json(shown);
    const lines = Object.entries(shown).map(([key, value]) => [key, Array.isArray(value) ? value.join(' ') : String(value)]);
    const width = Math.max(...lines.map(([key]) => key!.length));
    out(lines.map(([key, value]) => `${key!.padEnd(width)}  ${value}`.trimEnd()).join('\n'));
  });
}

/** `dcr tenant activate` and `deactivate`: the lifecycle status, as PUT .../lifecycle-status sets it. */
export async function tenantSetActive(domain: string, active: boolean): Promise<void> {
  await withDatabase({ needSecretKey: true }, async (context) => {
    const service = tenantService(context);
    const tenant = await service.getByDomain(OPERATOR, domain);
    await service.setLifecycle(OPERATOR, tenant.uuid, active);
    out(`${active ? 'activated' : 'deactivated'} tenant '${tenant.domain}'`);
    note('running servers see it within seconds (their tenant cache)');
  });
}

export async function keysRotate(options: { tenant?: string } = {}): Promise<void> {
  await withDatabase({ needSecretKey: true }, async ({ services }) => {
    const tenant = options.tenant === undefined ? SUPER_TENANT : await services!.tenants.resolve(options.tenant);
    if (!tenant) throw new CliError(`No tenant '${options.tenant}'`);
    out(await services!.keys.rotate(tenant.id));
    note('running servers sign with the new key within a minute (their key cache refresh)');
  });
}

/** What a server's timer does every DCR_TOKEN_PURGE_INTERVAL, now and to the end of the backlog (for a cron job when it is 0). */
export async function tokensPurge(): Promise<void> {
  await withDatabase({ needSecretKey: false }, async ({ db }) => {
    let failure: unknown;
    const purger = createTokenPurger(db, {
      intervalMs: 0,
      maxBatches: Number.POSITIVE_INFINITY,
      onError: (err) => (failure = err),
    });
    const purged = await purger.runOnce();
    const deleted = `${purged.access} expired access token${purged.access === 1 ? '' : 's'} and ${purged.refresh} refresh token${purged.refresh === 1 ? '' : 's'}`;
    // What was deleted before a failure stays deleted: say so, then fail.
    if (failure !== undefined) {
      note(`deleted ${deleted} before the failure`);
      throw failure;
    }
    out(`deleted ${deleted}`);
  });
}

// ---------------------------------------------------------------------------------------------
// The secret key: re-encryption under the current key, and rotation of the embedded default's key.

function batchSizeOf(text: string | undefined): number {
  if (text === undefined) return 200;
  const size = Number(text);
  if (!Number.isInteger(size) || size < 1 || size > 10_000) throw new CliError('--batch-size must be an integer from 1 to 10000');
  return size;
}

async function reencryptWith(db: Database, box: SecretBox, batchSize: number): Promise<void> {
  const [{ PgSealedSecretRepository }, { reencryptAll }] = await Promise.all([
    import('../repositories/sealed-secrets.js'),
    import('../services/secret-rotation.js'),
  ]);
  let last = '';
  const result = await reencryptAll(new PgSealedSecretRepository(db), box, {
    batchSize,
    progress: ({ column, done, total }) => {
      const line = `${column}: ${done}/${total} re-encrypted`;
      if (line !== last) note(line);
      last = line;
    },
  });
  const summary =
    `re-encrypted ${result.resealed.applications} client secret${result.resealed.applications === 1 ? '' : 's'} and ` +
    `${result.resealed.signing_keys} signing key${result.resealed.signing_keys === 1 ? '' : 's'} under key ${result.kid}`;
  const unopenable = Object.entries(result.unopenable);
  if (unopenable.length > 0) {
    note(summary);
    throw new CliError(
      `${unopenable.reduce((sum, [, n]) => sum + n, 0)} secrets are sealed with keys not in the keyring ` +
        `(${unopenable.map(([kid, n]) => `${kid}: ${n}`).join(', ')}): add those keys to DCR_SECRET_KEY_PREVIOUS and run it again`,
    );
  }
  out(summary);
}

/**
 * `dcr secrets reencrypt`: every stored secret under the current key (DCR_SECRET_KEY, or the data
 * folder's secret.key), opened with the current or a previous key. Safe while servers run.
 */
export async function secretsReencrypt(options: { batchSize?: string }): Promise<void> {
  const batchSize = batchSizeOf(options.batchSize);
  await withDatabase({ needSecretKey: true }, async ({ db, secrets }) => reencryptWith(db, secrets!, batchSize));
}

/**
 * `dcr secrets rotate-key` (embedded default only): a new key into DCR_DATA_DIR/secret.key, the
 * replaced one kept in secret.key.previous (servers load both at start-up, and a running server
 * re-reads them when it meets the new key), then every secret re-encrypted under the new key.
 */
export async function secretsRotateKey(options: { batchSize?: string }): Promise<void> {
  const batchSize = batchSizeOf(options.batchSize);
  const config = loadConfig(process.env);
  if (config.databaseUrl !== undefined || config.secretKey !== undefined) {
    throw new CliError(
      'rotate-key rotates the generated DCR_DATA_DIR/secret.key of the embedded default; with DCR_SECRET_KEY, set the new ' +
        'key in DCR_SECRET_KEY and the old one in DCR_SECRET_KEY_PREVIOUS, then run: dcr secrets reencrypt',
    );
  }
  const { rotateKeyFile } = await import('../crypto/key-file.js');
  await withDatabase({ needSecretKey: true }, async ({ db, keyFile }) => {
    const ring = await rotateKeyFile(keyFile!);
    const box = new SecretBox(ring.current, [...ring.previous, ...config.previousSecretKeys]);
    note(`new secret key ${box.currentKid} in ${keyFile}; the replaced ones are kept in ${keyFile}.previous`);
    await reencryptWith(db, box, batchSize);
  });
}
